//! Renewal and payments: renew, payAlipay, payWechat, payNotify, payReturn.

use http::StatusCode;

use crate::clients::pay::wechat;
use crate::domain::php::php_intval;
use crate::domain::php::php_urlencode;
use crate::domain::tenant::TenantId;
use crate::error::AppError;
use crate::services::app::App;
use crate::services::payments::{self, NotifyOutcome, WechatStart};
use crate::web::http::{Request, Response, html, html_status, php_exit, redirect};
use crate::web::pages;

pub async fn renew(app: &App, req: &Request) -> Result<Response, AppError> {
    let member = match crate::web::guards::require_member(app, req).await {
        Ok(m) => m.user,
        Err(resp) => return Ok(resp),
    };
    // `(int)$this->request->get('id', 0)`.
    let id = req.query().get("id").map(php_intval).unwrap_or(0);
    let renewal = match u32::try_from(id) {
        Ok(id) if id > 0 => payments::open_renewal(app, member.id, TenantId(id)).await?,
        _ => None,
    };
    let Some(r) = renewal else {
        return Ok(redirect(&format!(
            "/addons/chathub/index/my?error={}",
            php_urlencode("租户不存在")
        )));
    };
    let cfg = app.addon();
    let expire = r
        .tenant
        .expire_at
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(|e| e.chars().take(10).collect::<String>())
        .unwrap_or_else(|| "-".into());
    Ok(html(pages::renew::render(&pages::renew::RenewView {
        site_name: &cfg.site_name,
        order_no: r.order.as_ref().map(|o| o.order_no.as_str()),
        tenant_name: &r.tenant.tenant_name,
        plan: &r.plan,
        seats: r.tenant.max_agents,
        expire: &expire,
        price: r.price,
        alipay_enabled: cfg.alipay_enabled,
        wechat_enabled: cfg.wechat_enabled,
    })))
}

/// `$this->request->get('order')`.
fn order_query(req: &Request) -> String {
    req.query().get("order").unwrap_or("").to_string()
}

pub async fn pay_alipay(app: &App, req: &Request) -> Result<Response, AppError> {
    Ok(
        match payments::start_alipay(app, &order_query(req)).await? {
            Ok(url) => redirect(&url),
            Err(refusal) => php_exit(refusal.message()),
        },
    )
}

pub async fn pay_wechat(app: &App, req: &Request) -> Result<Response, AppError> {
    Ok(
        match payments::start_wechat(app, &order_query(req)).await? {
            WechatStart::Qr(qr) => {
                let cfg = app.addon();
                html(pages::pay_wechat::render(
                    &pages::pay_wechat::WechatPayView {
                        site_name: &cfg.site_name,
                        order_no: qr.order_no.as_str(),
                        code_url: &qr.code_url,
                        amount: &qr.amount.number_format(),
                    },
                ))
            }
            WechatStart::Refused(refusal) => php_exit(refusal.message()),
            WechatStart::GatewayFailed => html_status(
                StatusCode::BAD_GATEWAY,
                pages::fastadmin::error_page(
                    "微信支付下单失败",
                    "微信支付暂时无法创建订单，订单仍未支付。请稍后重试，或返回选择其他支付方式。",
                ),
            ),
        },
    )
}

pub async fn pay_notify(app: &App, req: &Request) -> Result<Response, AppError> {
    // A body that is not valid UTF-8 cannot carry a method; it still gets logged below.
    let method = req.param("pay_method").ok().flatten().unwrap_or_default();
    match method.as_str() {
        "alipay" => {
            // A body that does not parse is a notification without a signature.
            let params = req.post().map(|p| p.0).unwrap_or_default();
            let outcome = payments::alipay_notify(app, params, &req.body).await?;
            // Alipay reads the literal text `success`; anything else makes it retry.
            Ok(php_exit(if outcome == NotifyOutcome::Accepted {
                "success"
            } else {
                "fail"
            }))
        }
        "wechat" => {
            let headers = wechat::NotifyHeaders {
                timestamp: req.header("wechatpay-timestamp"),
                nonce: req.header("wechatpay-nonce"),
                signature: req.header("wechatpay-signature"),
                serial: req.header("wechatpay-serial"),
            };
            let (outcome, error) = payments::wechat_notify(app, &headers, &req.body).await?;
            Ok(wechat_answer(outcome, error))
        }
        other => {
            payments::log_notification(app, other, &req.body, false).await?;
            payments::refuse(
                app,
                other,
                payments::Refusal::UnknownMethod,
                &"unknown pay_method",
            );
            Ok(php_exit("fail"))
        }
    }
}

/// WeChat Pay's expected answers: 200 to acknowledge, 4xx with `{"code":"FAIL","message":…}`
/// to refuse (it retries later). Never a 5xx: every refusal is about the request.
fn wechat_answer(outcome: NotifyOutcome, error: Option<wechat::NotifyError>) -> Response {
    let (status, message) = match outcome {
        NotifyOutcome::Accepted => (StatusCode::OK, "成功"),
        NotifyOutcome::Unauthentic => (
            error
                .and_then(|e| StatusCode::from_u16(e.status()).ok())
                .unwrap_or(StatusCode::UNAUTHORIZED),
            "签名验证失败",
        ),
        NotifyOutcome::Mismatch => (StatusCode::BAD_REQUEST, "订单信息不匹配"),
        // A refusal like the others (COMPAT.md#wechat-notify-verification): a site without
        // WeChat Pay answers a 4xx, never a server error anyone could provoke.
        NotifyOutcome::NotConfigured => (
            error
                .and_then(|e| StatusCode::from_u16(e.status()).ok())
                .unwrap_or(StatusCode::FORBIDDEN),
            "验签配置缺失",
        ),
    };
    let code = if status == StatusCode::OK {
        "SUCCESS"
    } else {
        "FAIL"
    };
    let body =
        crate::domain::php::php_json_encode(&serde_json::json!({"code": code, "message": message}));
    // The original echoed this JSON and exited, so it went out with PHP's default content
    // type; WeChat Pay reads only status and body, and keeping the header avoids a needless
    // difference.
    let mut resp = php_exit(body);
    *resp.status_mut() = status;
    resp
}

pub async fn pay_return(app: &App, req: &Request) -> Result<Response, AppError> {
    let order_no = req.param("order")?.unwrap_or_default();
    Ok(redirect(&payments::return_location(app, &order_no).await?))
}

/// `refundNotify/pay_method/wechat` (chathub's own, COMPAT.md#refunds): WeChat Pay's refund
/// notifications, answered as payment notifications are (200 to acknowledge, 4xx with
/// `{"code":"FAIL"}` to refuse). Only WeChat Pay notifies refunds.
pub async fn refund_notify(app: &App, req: &Request) -> Result<Response, AppError> {
    use crate::services::refund::{self, NoticeOutcome};
    let method = req.param("pay_method")?.unwrap_or_default();
    let outcome = if method == "wechat" && req.is_post() {
        let headers = wechat::NotifyHeaders {
            timestamp: req.header("wechatpay-timestamp"),
            nonce: req.header("wechatpay-nonce"),
            signature: req.header("wechatpay-signature"),
            serial: req.header("wechatpay-serial"),
        };
        refund::wechat_notice(app, &headers, &req.body).await?
    } else {
        NoticeOutcome::Mismatch
    };
    let (status, code, message) = match outcome {
        NoticeOutcome::Accepted => (StatusCode::OK, "SUCCESS", "成功"),
        NoticeOutcome::Unauthentic(s) => (
            StatusCode::from_u16(s).unwrap_or(StatusCode::UNAUTHORIZED),
            "FAIL",
            "签名验证失败",
        ),
        NoticeOutcome::Mismatch => (StatusCode::BAD_REQUEST, "FAIL", "退款信息不匹配"),
    };
    let body =
        crate::domain::php::php_json_encode(&serde_json::json!({"code": code, "message": message}));
    let mut resp = php_exit(body);
    *resp.status_mut() = status;
    Ok(resp)
}
