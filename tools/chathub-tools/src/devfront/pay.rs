//! The gateways' pages in dev: Alipay's 收银台 behind the signed page-pay redirect, the
//! WeChat Pay Native API, and the phone's "scan and pay" that a `code_url` opens. Paying
//! sends the merchant the notification the real gateway would (`crate::sandbox`), through
//! the front like any caller from outside.

use maud::html;

use super::pages::{error_page, html_page, layout};
use super::{ALIPAY_GATEWAY_PATH, Front, WECHAT_SCAN_PATH};
use crate::http_serve::{Req, Resp, redirect, reply};
use crate::sandbox::{alipay, wechat};

/// `GET` the 收银台 for a signed redirect; `POST` 付款 or 取消 (the signed query travels in
/// the form and is checked again, so nothing in the form is trusted).
pub async fn alipay(front: &Front, req: &Req) -> Resp {
    let posted = req.method == http::Method::POST;
    let fields = req.form();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    // The server's own calls (query, close) post a signed openapi form, not the cashier's.
    if posted && !field("method").is_empty() && field("q").is_empty() {
        let answer = alipay::answer_openapi(&front.setup.keys, &front.alipay_trades, &fields);
        return reply(200, "text/html;charset=utf-8", answer);
    }
    let query = if posted {
        field("q")
    } else {
        req.query.clone()
    };
    let order = match alipay::verify_page_pay(&front.setup.keys, &query) {
        Ok(o) => o,
        Err(e) => return error_page(400, "支付宝 - 错误", &e),
    };
    let cents = chathub::domain::money::Money::parse(&order.total_amount)
        .map(|m| m.cents())
        .unwrap_or_default();
    if !posted {
        front.alipay_trades.open(&order.out_trade_no, cents);
        return alipay_cashier(&query, &order);
    }
    if field("action") != "pay" {
        return redirect(&order.return_url);
    }
    // The gateway has the money from here on, whether or not the notification gets through.
    let trade_no = format!("T-{}", order.out_trade_no);
    if front
        .alipay_trades
        .pay(&order.out_trade_no, cents, &trade_no)
        .is_none()
    {
        return error_page(400, "支付宝 - 错误", "交易已关闭，请返回商户重新下单");
    }
    let form = alipay::notification(
        &front.setup.keys,
        &order.out_trade_no,
        &order.total_amount,
        "TRADE_SUCCESS",
        &order.app_id,
    );
    let answer = front
        .http
        .post(&order.notify_url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => match r.text().await {
            Ok(body) if body.trim() == "success" => redirect(&order.return_url),
            Ok(body) => notify_refused("支付宝", &body),
            Err(e) => notify_refused("支付宝", &e.to_string()),
        },
        Ok(r) => notify_refused("支付宝", &format!("HTTP {}", r.status())),
        Err(e) => notify_refused("支付宝", &e.to_string()),
    }
}

fn notify_refused(gateway: &str, answer: &str) -> Resp {
    error_page(
        502,
        &format!("{gateway} - 通知失败"),
        &format!("商户的 payNotify 没有接受这笔付款通知：{answer}"),
    )
}

fn alipay_cashier(query: &str, order: &alipay::PagePayRequest) -> Resp {
    let page = layout(
        "支付宝 - 收银台",
        html! {
            h1 { "支付宝 收银台" }
            p class="sub" { "沙箱（cargo dev）：不会产生真实扣款" }
            div class="amount" { "¥" (order.total_amount) }
            div class="row" { span { "商品" } span { (order.subject) } }
            div class="row" { span { "订单号" } span { (order.out_trade_no) } }
            form method="post" action=(ALIPAY_GATEWAY_PATH) {
                input type="hidden" name="q" value=(query);
                button type="submit" name="action" value="pay" class="btn alipay" id="alipay-pay" { "付款" }
                button type="submit" name="action" value="cancel" class="btn grey" id="alipay-cancel" { "取消" }
            }
        },
    );
    html_page(200, page)
}

/// `POST /v3/pay/transactions/native`: a checked order is kept until it is "scanned";
/// the query and close APIs answer from the trades, signed as the platform signs.
pub fn wechat_api(front: &Front, req: &Req) -> Resp {
    let auth = req.header("authorization");
    let keys = &front.setup.keys;
    if let Some(answer) = wechat::answer_order_api(
        keys,
        &front.wechat_trades,
        &req.method,
        &req.path,
        &req.query,
        &auth,
        &req.body_text(),
    ) {
        return wechat::signed_reply(keys, answer, front.setup.clock.epoch());
    }
    match wechat::accept_native(keys, &req.path, &auth, &req.body_text()) {
        Ok(order) => {
            front
                .wechat_trades
                .open(&order.out_trade_no, order.total_cents);
            let code_url = format!("{}{WECHAT_SCAN_PATH}/{}", front.base, order.out_trade_no);
            front
                .wechat_orders
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(order.out_trade_no.clone(), order);
            reply(200, "application/json", wechat::code_url_answer(&code_url))
        }
        Err((status, body)) => reply(status, "application/json", body),
    }
}

/// `/dev/wechat`: the open orders; `/dev/wechat/<order>`: what the phone shows after the
/// scan, and its 确认支付.
pub async fn wechat_scan(front: &Front, req: &Req) -> Resp {
    let order_no = req
        .path
        .strip_prefix(WECHAT_SCAN_PATH)
        .unwrap_or_default()
        .trim_matches('/')
        .to_string();
    if order_no.is_empty() {
        return wechat_open_orders(front);
    }
    let order = front
        .wechat_orders
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&order_no)
        .cloned();
    let Some(order) = order else {
        return error_page(
            404,
            "微信支付",
            "二维码已失效（订单已支付，或 cargo dev 重启过）",
        );
    };
    if req.method != http::Method::POST {
        return wechat_confirm(&order);
    }
    let keys = &front.setup.keys;
    let tx = wechat::transaction(keys, &order.out_trade_no, order.total_cents);
    let paid = front.wechat_trades.pay(
        &order.out_trade_no,
        order.total_cents,
        tx["transaction_id"].as_str().unwrap_or_default(),
    );
    if paid.is_none() {
        return error_page(400, "微信支付", "订单已关闭，请返回商户重新下单");
    }
    let n = wechat::notification(keys, &tx, front.setup.clock.epoch());
    match wechat::send(&front.http, &order.notify_url, &n).await {
        Ok(r) if r.status().is_success() => {
            front
                .wechat_orders
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&order_no);
            wechat_paid(&order)
        }
        Ok(r) => {
            let status = r.status();
            notify_refused(
                "微信支付",
                &format!("HTTP {status} {}", r.text().await.unwrap_or_default()),
            )
        }
        Err(e) => notify_refused("微信支付", &e.to_string()),
    }
}

fn yuan(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn wechat_confirm(order: &wechat::NativeOrder) -> Resp {
    let page = layout(
        "微信支付",
        html! {
            h1 { "微信支付" }
            p class="sub" { "沙箱（cargo dev）：这一页代替手机扫码" }
            div class="amount" { "¥" (yuan(order.total_cents)) }
            div class="row" { span { "商品" } span { (order.description) } }
            div class="row" { span { "订单号" } span { (order.out_trade_no) } }
            form method="post" {
                button type="submit" class="btn wechat" id="wechat-pay" { "确认支付" }
            }
        },
    );
    html_page(200, page)
}

fn wechat_paid(order: &wechat::NativeOrder) -> Resp {
    let back = format!(
        "/addons/chathub/index/payReturn/order/{}",
        chathub::domain::php::php_urlencode(&order.out_trade_no)
    );
    let page = layout(
        "微信支付 - 支付成功",
        html! {
            h1 { "支付成功" }
            div class="amount" { "¥" (yuan(order.total_cents)) }
            p class="sub" { "已通知商户。二维码页面会自动跳转；也可以直接返回：" }
            a class="btn" id="wechat-back" href=(back) { "返回商户" }
        },
    );
    html_page(200, page)
}

fn wechat_open_orders(front: &Front) -> Resp {
    let orders: Vec<wechat::NativeOrder> = front
        .wechat_orders
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .cloned()
        .collect();
    let page = layout(
        "微信支付 - 待扫码订单",
        html! {
            h1 { "待扫码的微信订单" }
            p class="sub" { "在续费页选择微信支付后，订单出现在这里（代替手机扫码）" }
            @if orders.is_empty() { p class="note" { "暂无" } }
            @for o in &orders {
                a class="btn wechat" href={ (WECHAT_SCAN_PATH) "/" (o.out_trade_no) } {
                    "扫码 " (o.out_trade_no) " ¥" (yuan(o.total_cents))
                }
            }
        },
    );
    html_page(200, page)
}
