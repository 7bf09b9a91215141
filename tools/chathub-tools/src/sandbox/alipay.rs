//! Alipay's side of `alipay.trade.page.pay`: the signed redirect checked as the gateway
//! checks it, and the `TRADE_SUCCESS` notification signed as Alipay signs it.

use chathub::clients::pay;

use super::GatewayKeys;

/// What a verified page-pay redirect asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct PagePayRequest {
    pub app_id: String,
    pub out_trade_no: String,
    pub total_amount: String,
    pub subject: String,
    pub notify_url: String,
    pub return_url: String,
}

/// Check a redirect's query as the gateway does: RSA2 over the sorted parameters (all but
/// `sign`) with the merchant's public key, our app id, `alipay.trade.page.pay`.
pub fn verify_page_pay(keys: &GatewayKeys, query: &str) -> Result<PagePayRequest, String> {
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|_| "参数格式错误".to_string())?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let key = pay::parse_public_key(&keys.merchant_public).map_err(|e| e.to_string())?;
    let content = pay::alipay::sign_content(&params);
    if get("sign_type") != "RSA2" || !pay::rsa_sha256_verify(&key, content.as_bytes(), &get("sign"))
    {
        return Err("验签出错 (invalid-signature)".into());
    }
    if get("app_id") != keys.alipay_app_id || get("method") != "alipay.trade.page.pay" {
        return Err("应用不存在或接口名称错误 (invalid-app-id)".into());
    }
    let biz: serde_json::Value =
        serde_json::from_str(&get("biz_content")).map_err(|_| "biz_content 格式错误")?;
    let text = |name: &str| biz[name].as_str().unwrap_or_default().to_string();
    Ok(PagePayRequest {
        app_id: get("app_id"),
        out_trade_no: text("out_trade_no"),
        total_amount: text("total_amount"),
        subject: text("subject"),
        notify_url: get("notify_url"),
        return_url: get("return_url"),
    })
}

/// Alipay's asynchronous notification form for an order, signed with the gateway key the way
/// Alipay signs (sorted, without `sign`/`sign_type`, values raw).
pub fn notification(
    keys: &GatewayKeys,
    order_no: &str,
    amount: &str,
    trade_status: &str,
    app_id: &str,
) -> String {
    let mut params: Vec<(String, String)> = [
        ("gmt_create", "2026-06-01 10:00:00"),
        ("charset", "utf-8"),
        ("seller_email", "merchant@example.com"),
        ("subject", &format!("ChatHub 续费 - 订单 {order_no}")),
        ("buyer_id", "2088102177846880"),
        ("invoice_amount", amount),
        ("notify_id", "2026060100222100000000000001"),
        ("notify_type", "trade_status_sync"),
        ("trade_status", trade_status),
        ("receipt_amount", amount),
        ("app_id", app_id),
        ("seller_id", "2088102177000000"),
        ("version", "1.0"),
        ("out_trade_no", order_no),
        ("total_amount", amount),
        ("trade_no", &format!("T-{order_no}")),
        ("buyer_logon_id", "buy***@example.com"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let key = pay::parse_private_key(&keys.platform_private).expect("sandbox platform key");
    let sign = pay::rsa_sha256_sign(&key, pay::alipay::sign_content(&params).as_bytes());
    params.push(("sign_type".into(), "RSA2".into()));
    params.push(("sign".into(), sign));
    serde_urlencoded::to_string(&params).expect("form encoding")
}
