//! The payment flows behind the handlers: each function takes parsed input, does its
//! database work, and says what the user (or gateway) should see.

use crate::clients::pay::{alipay, wechat};
use crate::db::log::{self, LogStatus, NewLog};
use crate::db::order::{self, NewOrder, Order};
use crate::db::tenant::{self, Tenant};
use crate::domain::ids::{OrderNo, OrderStatus, UserId};
use crate::domain::money::{Money, PayMethod};
use crate::domain::tenant::TenantId;
use crate::error::AppError;
use crate::services::app::App;
use crate::services::{pay_keys, pay_query};

/// An unpaid order younger than this is shown again instead of making a new one.
pub const ORDER_REUSE_SECS: i64 = 30 * 60;
/// A reused order, or one sent to a gateway again, must leave the member this long to pay
/// before its deadline.
pub const MIN_PAY_WINDOW_SECS: i64 = 10 * 60;
/// `plan` is `varchar(20)`.
const PLAN_COLUMN_CHARS: usize = 20;
/// `amount` is `decimal(10,2)`.
const MAX_PRICE_YUAN: i64 = 99_999_999;

/// What the renew page shows.
pub struct Renewal {
    pub tenant: Tenant,
    pub plan: String,
    pub price: i64,
    /// `None` when the tenant has no positive price: nothing can be paid online
    /// (COMPAT.md#renew-reuses-pending-order).
    pub order: Option<Order>,
}

/// `renew?id=`: the member's own tenant and a pending order for its plan and price (a recent
/// unpaid one is reused). `None` when the tenant is not theirs.
pub async fn open_renewal(
    app: &App,
    user_id: UserId,
    tenant_id: TenantId,
) -> Result<Option<Renewal>, AppError> {
    let t = &app.db.t;
    let mut conn = app.db.conn().await?;
    let Some(tenant) = tenant::find_owned(&mut conn, t, tenant_id, user_id).await? else {
        return Ok(None);
    };
    // Both encodings of `config` are read, so a register-made tenant renews at its real
    // price instead of 0.00 (the original's bug 2).
    let config = tenant.config();
    let plan = config.plan().unwrap_or_else(|| "basic".into());
    let price = config.price();
    if !(1..=MAX_PRICE_YUAN).contains(&price) {
        return Ok(Some(Renewal {
            tenant,
            plan,
            price,
            order: None,
        }));
    }
    let amount = Money::from_yuan(price);
    let plan_col: String = plan.chars().take(PLAN_COLUMN_CHARS).collect();
    let now = app.clock.epoch();
    if let Some(existing) = order::find_reusable(
        &mut conn,
        t,
        &order::Reuse {
            tenant_id: tenant.id,
            user_id,
            plan: &plan_col,
            amount,
            since: now - ORDER_REUSE_SECS,
            payable_until: now + MIN_PAY_WINDOW_SECS,
        },
    )
    .await?
    {
        return Ok(Some(Renewal {
            tenant,
            plan,
            price,
            order: Some(existing),
        }));
    }
    // COMPAT.md#random-order-numbers: the original's `CH` + YmdHis + 3 digits could be
    // guessed; 16 random digits more make the number useless to anyone not shown it.
    let stamp = app.clock.now().format("%Y%m%d%H%M%S").to_string();
    for _ in 0..10 {
        let order_no = OrderNo::generate(&stamp);
        let inserted = order::insert(
            &mut conn,
            t,
            &NewOrder {
                order_no: &order_no,
                tenant_id: tenant.id,
                user_id,
                plan: &plan_col,
                amount,
                createtime: now,
            },
        )
        .await?;
        if inserted {
            let order = order::find_by_no(&mut conn, t, &order_no)
                .await?
                .ok_or_else(|| AppError::internal("order vanished after insert"))?;
            return Ok(Some(Renewal {
                tenant,
                plan,
                price,
                order: Some(order),
            }));
        }
    }
    Err(AppError::internal("no free order number in this second"))
}

/// Why a payment cannot start; each is a plain-text answer, as the original's `exit()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayRefusal {
    UnknownOrder,
    AlipayDisabled,
    AlipayUnconfigured,
    AlipayKeyInvalid,
    WechatDisabled,
    WechatUnconfigured,
    WechatCertificateInvalid,
    AlreadyPaid,
    Closed,
    ZeroAmount,
}

impl PayRefusal {
    pub fn message(self) -> &'static str {
        match self {
            PayRefusal::UnknownOrder => "订单不存在",
            PayRefusal::AlipayDisabled => "支付宝未启用",
            PayRefusal::AlipayUnconfigured => {
                "支付宝未配置完成，请在后台「插件管理 → ChatHub → 配置」填写 APPID 和私钥"
            }
            PayRefusal::AlipayKeyInvalid => {
                "支付宝私钥格式无效，请在后台「插件管理 → ChatHub → 配置」检查私钥"
            }
            PayRefusal::WechatDisabled => "微信支付未启用",
            PayRefusal::WechatUnconfigured => {
                "微信支付未配置完成，请在后台填写 APPID/商户号/APIv3密钥"
            }
            PayRefusal::WechatCertificateInvalid => {
                "微信支付商户证书或私钥无法读取，请在后台检查证书路径和私钥路径"
            }
            PayRefusal::AlreadyPaid => "订单已支付，无需重复支付",
            PayRefusal::Closed => "订单已关闭，请重新发起续费",
            PayRefusal::ZeroAmount => "订单金额无效，请联系客服手动续费",
        }
    }
}

/// An order that may be sent to a gateway: exists, still pending, positive amount
/// (COMPAT.md#pay-only-pending-orders).
fn payable(order: Order) -> Result<Order, PayRefusal> {
    match order.status {
        OrderStatus::Pending if order.amount.is_positive() => Ok(order),
        OrderStatus::Pending => Err(PayRefusal::ZeroAmount),
        OrderStatus::Paid => Err(PayRefusal::AlreadyPaid),
        OrderStatus::Failed | OrderStatus::Refunded => Err(PayRefusal::Closed),
    }
}

/// The deadline a gateway gets for the order: the one it already has elsewhere, else
/// `pay_order_expire_secs` from now. `Err(Closed)` when too little of it is left to pay.
async fn deadline_for(app: &App, order: &Order) -> Result<Result<i64, PayRefusal>, AppError> {
    let now = app.clock.epoch();
    let mut conn = app.db.conn().await?;
    let deadline = crate::db::pay_query::deadline(&mut conn, &app.db.t, order.id)
        .await?
        .unwrap_or(now + app.config.pay.order_expire_secs);
    if deadline - now < MIN_PAY_WINDOW_SECS.min(app.config.pay.order_expire_secs / 2) {
        return Ok(Err(PayRefusal::Closed));
    }
    Ok(Ok(deadline))
}

/// Note that the order went to `method` with `deadline`, so the sweep asks about it.
async fn record_sent(
    app: &App,
    order: &Order,
    method: PayMethod,
    deadline: i64,
) -> Result<(), AppError> {
    let now = app.clock.epoch();
    let mut conn = app.db.conn().await?;
    crate::db::pay_query::record_sent(
        &mut conn,
        &app.db.t,
        &crate::db::pay_query::Scheduled {
            order_id: order.id,
            method,
            deadline,
            queries: 0,
            createtime: now,
            last_asked: now,
        },
        now + app.config.pay.query_first_secs,
    )
    .await
}

/// The order a request or a gateway names; a number that cannot be one is no order.
async fn load_order(app: &App, raw_order_no: &str) -> Result<Option<Order>, AppError> {
    let Some(order_no) = OrderNo::parse(raw_order_no) else {
        return Ok(None);
    };
    let mut conn = app.db.conn().await?;
    order::find_by_no(&mut conn, &app.db.t, &order_no).await
}

/// `payAlipay?order=`: the signed gateway URL to redirect to.
pub async fn start_alipay(
    app: &App,
    order_no: &str,
) -> Result<Result<String, PayRefusal>, AppError> {
    let Some(order) = load_order(app, order_no).await? else {
        return Ok(Err(PayRefusal::UnknownOrder));
    };
    let cfg = app.addon();
    if !cfg.alipay_enabled {
        return Ok(Err(PayRefusal::AlipayDisabled));
    }
    let private_key = secrecy::ExposeSecret::expose_secret(&cfg.alipay_merchant_private_key);
    if cfg.alipay_app_id.is_empty() || private_key.is_empty() {
        return Ok(Err(PayRefusal::AlipayUnconfigured));
    }
    let order = match payable(order) {
        Ok(o) => o,
        Err(r) => return Ok(Err(r)),
    };
    let deadline = match deadline_for(app, &order).await? {
        Ok(d) => d,
        Err(r) => return Ok(Err(r)),
    };
    let gateway = pay_keys::alipay_gateway(app, &cfg);
    // Certificate mode: the redirect is signed with the SNs of the certificate files.
    let sns = if cfg.alipay_cert_mode() {
        match pay_keys::alipay_keys(app).await {
            Ok(keys) => keys.sns,
            Err(e) => {
                tracing::error!(error = %e, "alipay certificates unusable");
                return Ok(Err(PayRefusal::AlipayKeyInvalid));
            }
        }
    } else {
        None
    };
    // RSA signing is CPU work: off the async workers.
    let (app_id, private_key, base, timestamp) = (
        cfg.alipay_app_id.clone(),
        private_key.to_string(),
        app.config.public_base_url.clone(),
        app.clock.datetime(),
    );
    let time_expire = app.clock.format_epoch(deadline, "%Y-%m-%d %H:%M:%S");
    let order_no = order.order_no.clone();
    let signed = tokio::task::spawn_blocking(move || {
        alipay::page_pay_url(&alipay::PagePay {
            gateway: &gateway,
            app_id: &app_id,
            private_key: &private_key,
            public_base_url: &base,
            order_no: order_no.as_str(),
            amount: order.amount,
            timestamp: &timestamp,
            time_expire: Some(&time_expire),
            cert_sns: sns.as_ref(),
        })
    })
    .await
    .map_err(|e| AppError::internal(format!("alipay signing task: {e}")))?;
    match signed {
        // The order row is not written: the browser is only sent to Alipay, and the
        // notification records the method that paid (COMPAT.md#random-order-numbers). Our own
        // table notes it for the sweep (COMPAT.md#payment-query-and-expiry).
        Ok(url) => {
            record_sent(app, &order, PayMethod::Alipay, deadline).await?;
            Ok(Ok(url))
        }
        Err(e) => {
            tracing::error!(error = %e, "alipay_merchant_private_key unusable");
            Ok(Err(PayRefusal::AlipayKeyInvalid))
        }
    }
}

/// A WeChat Native order placed: what the QR page shows.
pub struct WechatQr {
    pub order_no: OrderNo,
    pub code_url: String,
    pub amount: Money,
}

pub enum WechatStart {
    Qr(WechatQr),
    Refused(PayRefusal),
    /// WeChat Pay did not give a code; the order stays pending.
    GatewayFailed,
}

/// `payWechat?order=`: a real v3 Native order (the original crashed here: bug 6).
pub async fn start_wechat(app: &App, order_no: &str) -> Result<WechatStart, AppError> {
    let Some(order) = load_order(app, order_no).await? else {
        return Ok(WechatStart::Refused(PayRefusal::UnknownOrder));
    };
    let cfg = app.addon();
    if !cfg.wechat_enabled {
        return Ok(WechatStart::Refused(PayRefusal::WechatDisabled));
    }
    let v3_key = secrecy::ExposeSecret::expose_secret(&cfg.wechat_api_v3_key);
    if cfg.wechat_app_id.is_empty() || cfg.wechat_mch_id.is_empty() || v3_key.is_empty() {
        return Ok(WechatStart::Refused(PayRefusal::WechatUnconfigured));
    }
    let order = match payable(order) {
        Ok(o) => o,
        Err(r) => return Ok(WechatStart::Refused(r)),
    };
    let deadline = match deadline_for(app, &order).await? {
        Ok(d) => d,
        Err(r) => return Ok(WechatStart::Refused(r)),
    };
    let (key, serial) = match pay_keys::wechat_merchant(app).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "WeChat Pay merchant credentials unusable");
            return Ok(WechatStart::Refused(PayRefusal::WechatCertificateInvalid));
        }
    };
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let notify = crate::clients::pay::notify_url(&app.config.public_base_url, PayMethod::Wechat);
    let request = wechat::NativeOrder {
        api_base: &app.config.wechat_api_base,
        app_id: &cfg.wechat_app_id,
        mch_id: &cfg.wechat_mch_id,
        merchant_key: &key,
        serial_no: &serial,
        notify_url: &notify,
        order_no: order.order_no.as_str(),
        amount: order.amount,
        timestamp: app.clock.epoch(),
        nonce: &nonce,
        time_expire: Some(&app.clock.format_epoch(deadline, "%Y-%m-%dT%H:%M:%S%:z")),
    };
    match wechat::create_native_order(&app.http, &request).await {
        Ok(code_url) => {
            // Written only once WeChat Pay took the order (COMPAT.md#random-order-numbers).
            let mut conn = app.db.conn().await?;
            order::start_payment(
                &mut conn,
                &app.db.t,
                order.id,
                PayMethod::Wechat,
                app.clock.epoch(),
            )
            .await?;
            drop(conn);
            record_sent(app, &order, PayMethod::Wechat, deadline).await?;
            Ok(WechatStart::Qr(WechatQr {
                order_no: order.order_no,
                code_url,
                amount: order.amount,
            }))
        }
        Err(e) => {
            tracing::error!(order_no = %order.order_no, error = %e, "WeChat Pay native order failed");
            Ok(WechatStart::GatewayFailed)
        }
    }
}

/// `payReturn`: the member-center URL the browser goes back to, with the order's state. A
/// still-pending order that went to a gateway is asked about first, within
/// `pay_return_query_ms` (COMPAT.md#payment-query-and-expiry).
pub async fn return_location(app: &App, order_no: &str) -> Result<String, AppError> {
    let mut location = format!(
        "/addons/chathub/index/my?order={}",
        crate::domain::php::php_urlencode(order_no)
    );
    let Some(mut order) = load_order(app, order_no).await? else {
        return Ok(location);
    };
    let bound = app.config.pay.return_query;
    if order.status == OrderStatus::Pending && !bound.is_zero() {
        use pay_query::{Asker, Checked, check_order};
        // The gateway's share of the bound; whatever it does, the member gets an answer.
        let asked = tokio::time::timeout(bound, check_order(app, &order, Asker::Return, bound));
        if let Ok(Ok(Checked::Paid { .. })) = asked.await
            && let Some(now) = load_order(app, order_no).await?
        {
            order = now;
        }
    }
    let mut conn = app.db.conn().await?;
    let tenant = tenant::find(&mut conn, &app.db.t, order.tenant_id).await?;
    location.push_str(if order.status != OrderStatus::Paid {
        "&pending=1"
    } else if tenant.is_some_and(|t| !t.has_embed()) {
        "&provisioning=1"
    } else {
        "&just_paid=1"
    });
    Ok(location)
}

/// `fa_chathub_log.detail` is TEXT (65,535 bytes); `action` is varchar(50).
fn log_detail(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut end = text.len().min(65_535);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Every notification is kept as the original kept it (tenant 0, `pay_notify_<method>`, the
/// raw body, operator `system`), but its status says whether it was authentic
/// (COMPAT.md#notify-log-status).
pub async fn log_notification(
    app: &App,
    method: &str,
    raw: &[u8],
    authentic: bool,
) -> Result<(), AppError> {
    let action: String = format!("pay_notify_{method}").chars().take(50).collect();
    let detail = log_detail(raw);
    let mut conn = app.db.conn().await?;
    log::insert(
        &mut conn,
        &app.db.t,
        &NewLog {
            tenant_id: 0,
            action: &action,
            detail: &detail,
            status: if authentic {
                LogStatus::Success
            } else {
                LogStatus::Failed
            },
            operator: "system",
            createtime: app.clock.epoch(),
        },
    )
    .await
}

/// The answer to a notification, before it is put in the gateway's wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// Handled (paid now, already paid, or a non-final state acknowledged).
    Accepted,
    /// Not authentic: bad or missing signature, stale, undecryptable.
    Unauthentic,
    /// Authentic but not ours or not matching: wrong app/merchant, unknown order, wrong amount.
    Mismatch,
    /// Our side failed (no verification key configured).
    NotConfigured,
}

/// Why a notification was refused, as the webhook metrics count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// We cannot verify: no (usable) gateway public key configured.
    NotConfigured,
    /// Not authentic or not a notification: bad or missing signature, stale, malformed body.
    Unauthentic,
    /// Authentic but not ours or not matching.
    Mismatch,
    /// A `payNotify` method we do not know.
    UnknownMethod,
    /// Signed under a serial (WeChat Pay) or certificate (Alipay) that no key we have or
    /// could download names.
    UnknownKey,
}

impl Refusal {
    pub fn label(self) -> &'static str {
        match self {
            Refusal::NotConfigured => "not_configured",
            Refusal::Unauthentic => "unauthentic",
            Refusal::Mismatch => "mismatch",
            Refusal::UnknownMethod => "unknown_method",
            Refusal::UnknownKey => "unknown_key",
        }
    }
}

/// Count a refused notification and warn about it at most once a minute per method and
/// reason: anyone can send these, so neither the logs nor the error figures may grow with
/// them.
pub fn refuse(app: &App, method: &str, refusal: Refusal, detail: &dyn std::fmt::Display) {
    let method = crate::metrics::webhook_method_label(method);
    app.metrics.record_webhook_refusal(method, refusal.label());
    if app
        .metrics
        .may_warn_webhook_refusal(method, refusal.label(), app.clock.epoch())
    {
        tracing::warn!(
            method,
            reason = refusal.label(),
            detail = %detail,
            "payment notification refused (further ones like it are counted in /metrics, not logged, for a minute)"
        );
    }
}

/// `payNotify/pay_method/alipay`.
pub async fn alipay_notify(
    app: &App,
    params: Vec<(String, String)>,
    raw: &[u8],
) -> Result<NotifyOutcome, AppError> {
    let cfg = app.addon();
    // Certificate mode: the notification may name the Alipay certificate that signed it.
    let key = match pay_keys::alipay_keys(app).await {
        Ok(keys) => pay_keys::alipay_key(app, &keys, alipay::notify_cert_sn(&params).as_deref())
            .await
            .map_err(Unverified::UnknownKey),
        Err(e) => Err(Unverified::NotConfigured(e)),
    };
    // Sorting, joining and RSA verification are CPU work on attacker-sized input (bounded by
    // `MAX_INPUT_VARS`): off the async workers.
    let verified = match key {
        Ok(key) => tokio::task::spawn_blocking(move || alipay::verify_notify_with(&params, &key))
            .await
            .map_err(|e| AppError::internal(format!("alipay verification task: {e}")))?
            .map_err(Unverified::Bad),
        Err(e) => Err(e),
    };
    log_notification(app, "alipay", raw, verified.is_ok()).await?;
    let n = match verified {
        Ok(n) => n,
        Err(Unverified::NotConfigured(e)) => {
            refuse(app, "alipay", Refusal::NotConfigured, &e);
            return Ok(NotifyOutcome::NotConfigured);
        }
        Err(Unverified::UnknownKey(e)) => {
            refuse(app, "alipay", Refusal::UnknownKey, &e);
            return Ok(NotifyOutcome::Unauthentic);
        }
        Err(Unverified::Bad(e)) => {
            refuse(app, "alipay", Refusal::Unauthentic, &e);
            return Ok(NotifyOutcome::Unauthentic);
        }
    };
    if cfg.alipay_app_id.is_empty() || n.app_id != cfg.alipay_app_id {
        refuse(
            app,
            "alipay",
            Refusal::Mismatch,
            &"notification for another app_id",
        );
        return Ok(NotifyOutcome::Mismatch);
    }
    if !cfg.alipay_seller_id.is_empty() && n.seller_id != cfg.alipay_seller_id {
        refuse(
            app,
            "alipay",
            Refusal::Mismatch,
            &"notification for another seller_id",
        );
        return Ok(NotifyOutcome::Mismatch);
    }
    let Some(order) = load_order(app, &n.out_trade_no).await? else {
        refuse(
            app,
            "alipay",
            Refusal::Mismatch,
            &"notification for an unknown order",
        );
        return Ok(NotifyOutcome::Mismatch);
    };
    if n.total_amount != Some(order.amount) {
        // Authentic yet wrong: worth an error each time (no one else can cause it).
        tracing::error!(order_no = %order.order_no, "alipay notification amount differs from the order");
        app.metrics
            .record_webhook_refusal("alipay", Refusal::Mismatch.label());
        return Ok(NotifyOutcome::Mismatch);
    }
    if !n.is_paid() {
        return Ok(NotifyOutcome::Accepted);
    }
    pay_query::settle(app, &order, PayMethod::Alipay, &n.trade_no).await?;
    Ok(NotifyOutcome::Accepted)
}

/// Why an Alipay notification did not verify.
enum Unverified {
    NotConfigured(alipay::NotifyError),
    UnknownKey(crate::clients::pay::QueryError),
    Bad(alipay::NotifyError),
}

/// A WeChat Pay notification (payment or refund) verified and its resource decrypted with
/// `open`. The key is the one `Wechatpay-Serial` names; in certificate mode an unknown one gets
/// the list downloaded first (spaced out: a made-up serial costs one download a minute at
/// most). RSA verification and decrypting up to a whole body run off the async workers.
pub(crate) async fn open_wechat_notification<T: Send + 'static>(
    app: &App,
    headers: &wechat::NotifyHeaders<'_>,
    raw: &[u8],
    open: fn(&[u8], &str) -> Result<T, wechat::NotifyError>,
) -> Result<Result<T, wechat::NotifyError>, AppError> {
    let keys = pay_keys::wechat_keys(app, headers.serial).await?;
    let v3_key = secrecy::ExposeSecret::expose_secret(&app.addon().wechat_api_v3_key).to_string();
    let (ts, nonce, sig, serial) = (
        headers.timestamp.map(str::to_string),
        headers.nonce.map(str::to_string),
        headers.signature.map(str::to_string),
        headers.serial.map(str::to_string),
    );
    let body = bytes::Bytes::copy_from_slice(raw);
    let now = app.clock.epoch();
    tokio::task::spawn_blocking(move || {
        let headers = wechat::NotifyHeaders {
            timestamp: ts.as_deref(),
            nonce: nonce.as_deref(),
            signature: sig.as_deref(),
            serial: serial.as_deref(),
        };
        wechat::verify_notify_signature(&headers, &body, &keys, now)
            .and_then(|()| open(&body, &v3_key))
    })
    .await
    .map_err(|e| AppError::internal(format!("wechat verification task: {e}")))
}

/// `payNotify/pay_method/wechat`.
pub async fn wechat_notify(
    app: &App,
    headers: &wechat::NotifyHeaders<'_>,
    raw: &[u8],
) -> Result<(NotifyOutcome, Option<wechat::NotifyError>), AppError> {
    let cfg = app.addon();
    let checked = open_wechat_notification(app, headers, raw, wechat::decrypt_notification).await?;
    log_notification(app, "wechat", raw, checked.is_ok()).await?;
    // Certificate mode before any certificate could be downloaded: the serial is unknown, the
    // configuration is not missing.
    let checked = match checked {
        Err(wechat::NotifyError::NoPlatformKey) if app.config.pay.wechat_platform_certificates => {
            Err(wechat::NotifyError::UnknownSerial)
        }
        other => other,
    };
    let tx = match checked {
        Ok(tx) => tx,
        Err(e @ wechat::NotifyError::NoPlatformKey) => {
            refuse(app, "wechat", Refusal::NotConfigured, &e);
            return Ok((NotifyOutcome::NotConfigured, Some(e)));
        }
        Err(e @ wechat::NotifyError::UnknownSerial) => {
            refuse(app, "wechat", Refusal::UnknownKey, &e);
            return Ok((NotifyOutcome::Unauthentic, Some(e)));
        }
        Err(e) => {
            refuse(app, "wechat", Refusal::Unauthentic, &e);
            return Ok((NotifyOutcome::Unauthentic, Some(e)));
        }
    };
    if tx.mchid != cfg.wechat_mch_id || tx.appid != cfg.wechat_app_id {
        refuse(
            app,
            "wechat",
            Refusal::Mismatch,
            &"notification for another merchant",
        );
        return Ok((NotifyOutcome::Mismatch, None));
    }
    let Some(order) = load_order(app, &tx.out_trade_no).await? else {
        refuse(
            app,
            "wechat",
            Refusal::Mismatch,
            &"notification for an unknown order",
        );
        return Ok((NotifyOutcome::Mismatch, None));
    };
    if tx.total() != Some(order.amount) {
        // Authentic yet wrong: worth an error each time (no one else can cause it).
        tracing::error!(order_no = %order.order_no, "wechat notification amount differs from the order");
        app.metrics
            .record_webhook_refusal("wechat", Refusal::Mismatch.label());
        return Ok((NotifyOutcome::Mismatch, None));
    }
    if tx.trade_state != "SUCCESS" {
        return Ok((NotifyOutcome::Accepted, None));
    }
    pay_query::settle(app, &order, PayMethod::Wechat, &tx.transaction_id).await?;
    Ok((NotifyOutcome::Accepted, None))
}
