//! Alipay open platform: `alipay.trade.page.pay` redirects and asynchronous notifications,
//! signed RSA2 (SHA256withRSA) over the sorted `k=v&…` string.

use super::{CloseOutcome, KeyError, QueryError, TradeState, notify_url, return_url};
use crate::domain::money::{Money, PayMethod};
use crate::domain::php::{php_json_encode, php_urlencode};

pub const SANDBOX_GATEWAY: &str = "https://openapi.alipaydev.com/gateway.do";
pub const PRODUCTION_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";

/// Alipay's string to sign: parameters sorted by name, `sign` and empty values left out,
/// `k=v` joined by `&`, values raw (not URL-encoded, not quoted).
pub fn sign_content(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params
        .iter()
        .filter(|(k, v)| k != "sign" && !v.is_empty())
        .collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// PHP's `http_build_query()` (RFC 1738: `+` for spaces), in the given order.
pub fn build_query(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", php_urlencode(k), php_urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The two serial numbers every request of a merchant in public-key-certificate mode carries
/// (`app_cert_sn`, `alipay_root_cert_sn`), computed from its certificate files
/// (`super::cert::alipay_cert_sn`, `alipay_root_cert_sn`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertSns {
    pub app_cert_sn: String,
    pub root_cert_sn: String,
}

impl CertSns {
    fn push_into(&self, params: &mut Vec<(String, String)>) {
        params.push(("app_cert_sn".into(), self.app_cert_sn.clone()));
        params.push(("alipay_root_cert_sn".into(), self.root_cert_sn.clone()));
    }
}

/// What a page-pay redirect needs to know.
pub struct PagePay<'a> {
    pub gateway: &'a str,
    pub app_id: &'a str,
    pub private_key: &'a str,
    pub public_base_url: &'a str,
    pub order_no: &'a str,
    pub amount: Money,
    /// `Y-m-d H:i:s`, site-local.
    pub timestamp: &'a str,
    /// The absolute deadline (`Y-m-d H:i:s`, site-local) after which Alipay refuses to take
    /// the payment; `None` leaves it out (the original sent none).
    pub time_expire: Option<&'a str>,
    /// Certificate mode: the SNs the request is signed with; `None` in public-key mode.
    pub cert_sns: Option<&'a CertSns>,
}

/// The gateway URL the browser is sent to, parameters in the original's order and signed.
pub fn page_pay_url(p: &PagePay<'_>) -> Result<String, KeyError> {
    let key = super::parse_private_key(p.private_key)?;
    // PHP's json_encode: `\uXXXX` escapes and `\/`, exactly what the original signed.
    let mut biz = serde_json::json!({
        "out_trade_no": p.order_no,
        "total_amount": p.amount.decimal(),
        "subject": format!("ChatHub 续费 - 订单 {}", p.order_no),
        "product_code": "FAST_INSTANT_TRADE_PAY",
    });
    if let Some(deadline) = p.time_expire {
        biz["time_expire"] = deadline.into();
    }
    let biz_content = php_json_encode(&biz);
    let mut params: Vec<(String, String)> = [
        ("app_id", p.app_id.to_string()),
        ("method", "alipay.trade.page.pay".into()),
        ("charset", "utf-8".into()),
        ("sign_type", "RSA2".into()),
        ("timestamp", p.timestamp.to_string()),
        ("version", "1.0".into()),
        (
            "notify_url",
            notify_url(p.public_base_url, PayMethod::Alipay),
        ),
        ("return_url", return_url(p.public_base_url, p.order_no)),
        ("biz_content", biz_content),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(sns) = p.cert_sns {
        sns.push_into(&mut params);
    }
    let sign = super::rsa_sha256_sign(&key, sign_content(&params).as_bytes());
    params.push(("sign".into(), sign));
    Ok(format!("{}?{}", p.gateway, build_query(&params)))
}

/// The facts of a notification whose signature checked out.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedNotify {
    pub app_id: String,
    pub out_trade_no: String,
    pub trade_no: String,
    pub trade_status: String,
    pub total_amount: Option<Money>,
    /// The merchant's Alipay account (`2088…`) the money went to.
    pub seller_id: String,
}

impl VerifiedNotify {
    /// `TRADE_SUCCESS` and `TRADE_FINISHED` are the two states in which money was received.
    pub fn is_paid(&self) -> bool {
        matches!(
            self.trade_status.as_str(),
            "TRADE_SUCCESS" | "TRADE_FINISHED"
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotifyError {
    #[error("alipay_public_key is not configured")]
    NoPublicKey,
    #[error("alipay_public_key unusable: {0}")]
    BadPublicKey(KeyError),
    /// Certificate mode: a certificate file that cannot be read or parsed.
    #[error("alipay certificate unusable: {0}")]
    BadCertificate(String),
    #[error("notification carries no sign")]
    MissingSign,
    #[error("signature does not verify")]
    BadSignature,
}

/// Verify an asynchronous notification the way Alipay signs it: every parameter except
/// `sign` and `sign_type`, sorted, `k=v` joined by `&` (COMPAT.md#alipay-notify-verification).
pub fn verify_notify(
    params: &[(String, String)],
    alipay_public_key: &str,
) -> Result<VerifiedNotify, NotifyError> {
    if alipay_public_key.trim().is_empty() {
        return Err(NotifyError::NoPublicKey);
    }
    let key = super::parse_public_key(alipay_public_key).map_err(NotifyError::BadPublicKey)?;
    verify_notify_with(params, &key)
}

/// The `alipay_cert_sn` a notification or answer names, in certificate mode.
pub fn notify_cert_sn(params: &[(String, String)]) -> Option<String> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == "alipay_cert_sn")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// [`verify_notify`] with the key already chosen (certificate mode: by `alipay_cert_sn`).
pub fn verify_notify_with(
    params: &[(String, String)],
    key: &rsa::PublicKey,
) -> Result<VerifiedNotify, NotifyError> {
    let get = |name: &str| {
        params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let sign = get("sign")
        .filter(|s| !s.is_empty())
        .ok_or(NotifyError::MissingSign)?;
    // Last value wins for repeated names, as PHP's $_POST reads them. One pass: the caller
    // bounds `params` to PHP's `max_input_vars`, and this runs before the signature is known
    // to be good.
    let mut last: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, (k, _)) in params.iter().enumerate() {
        last.insert(k.as_str(), i);
    }
    let unique: Vec<(String, String)> = params
        .iter()
        .enumerate()
        .filter(|(i, (k, _))| k != "sign" && k != "sign_type" && last.get(k.as_str()) == Some(i))
        .map(|(_, kv)| kv.clone())
        .collect();
    // Alipay's SDKs differ on empty values (PHP skips them, Java keeps `k=`); the signature
    // is over one canonical string either way, so accept whichever form verifies.
    let without_empty = sign_content(&unique);
    let mut ok = super::rsa_sha256_verify(key, without_empty.as_bytes(), &sign);
    if !ok && unique.iter().any(|(_, v)| v.is_empty()) {
        let mut sorted = unique.clone();
        sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let with_empty = sorted
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        ok = super::rsa_sha256_verify(key, with_empty.as_bytes(), &sign);
    }
    if !ok {
        return Err(NotifyError::BadSignature);
    }
    Ok(VerifiedNotify {
        app_id: get("app_id").unwrap_or_default(),
        out_trade_no: get("out_trade_no").unwrap_or_default(),
        trade_no: get("trade_no").unwrap_or_default(),
        trade_status: get("trade_status").unwrap_or_default(),
        total_amount: get("total_amount").as_deref().and_then(Money::parse),
        seller_id: get("seller_id").unwrap_or_default(),
    })
}

pub const QUERY_METHOD: &str = "alipay.trade.query";
pub const CLOSE_METHOD: &str = "alipay.trade.close";
/// Certificate mode: fetch the Alipay certificate an answer's `alipay_cert_sn` names.
pub const CERT_DOWNLOAD_METHOD: &str = "alipay.open.app.alipaycert.download";

/// The signed form of one openapi call (`alipay.trade.query`, `alipay.trade.close`): the
/// common parameters as the SDKs send them, `biz_content` as JSON, RSA2 over the sorted string.
pub fn api_form(
    app_id: &str,
    key: &rsa::PrivateKey,
    method: &str,
    biz_content: &serde_json::Value,
    timestamp: &str,
    cert_sns: Option<&CertSns>,
) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = [
        ("app_id", app_id.to_string()),
        ("method", method.to_string()),
        ("format", "JSON".into()),
        ("charset", "utf-8".into()),
        ("sign_type", "RSA2".into()),
        ("timestamp", timestamp.to_string()),
        ("version", "1.0".into()),
        ("biz_content", php_json_encode(biz_content)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(sns) = cert_sns {
        sns.push_into(&mut params);
    }
    let sign = super::rsa_sha256_sign(key, sign_content(&params).as_bytes());
    params.push(("sign".into(), sign));
    params
}

/// The answer node's name for a method: `alipay.trade.query` → `alipay_trade_query_response`.
pub fn response_node(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

/// Check an openapi answer: the signature is over the node's text exactly as it stands in
/// the body (escapes such as `\/` included), as the official SDKs verify it (they cut the
/// node out of the raw text; re-encoding it would change the bytes). Returns the node.
pub fn verify_response(
    body: &str,
    method: &str,
    public_key: &rsa::PublicKey,
) -> Result<serde_json::Map<String, serde_json::Value>, QueryError> {
    use serde_json::value::RawValue;
    let top: std::collections::HashMap<String, &RawValue> = serde_json::from_str(body)
        .map_err(|_| QueryError::Transport("answer is not an openapi JSON object".into()))?;
    let node = top
        .get(&response_node(method))
        .ok_or(QueryError::Transport("answer has no response node".into()))?;
    let sign: Option<String> = top
        .get("sign")
        .and_then(|s| serde_json::from_str(s.get()).ok());
    let sign = sign
        .filter(|s| !s.is_empty())
        .ok_or(QueryError::Unauthentic("answer carries no sign"))?;
    if !super::rsa_sha256_verify(public_key, node.get().as_bytes(), &sign) {
        return Err(QueryError::Unauthentic("answer signature does not verify"));
    }
    serde_json::from_str(node.get())
        .map_err(|_| QueryError::Transport("response node is not an object".into()))
}

/// The `alipay_cert_sn` beside the response node: which Alipay certificate signed it
/// (certificate mode only).
pub fn response_cert_sn(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Top {
        alipay_cert_sn: Option<String>,
    }
    serde_json::from_str::<Top>(body)
        .ok()?
        .alipay_cert_sn
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The certificate chain (PEM) in a verified-by-chain `alipay_open_app_alipaycert_download`
/// node: `alipay_cert_content` is the base64 of the PEM file. The answer is trusted by the
/// chain, not by its signature: the official PHP SDK (`AopCertClient::checkResponseSign`)
/// takes it unsigned and checks the certificate against the root bundle (`isTrusted`), which
/// the caller must do.
pub fn read_cert_download(
    node: &serde_json::Map<String, serde_json::Value>,
) -> Result<String, QueryError> {
    use base64::Engine as _;
    let code = text(node, "code");
    if code != "10000" {
        return Err(QueryError::Rejected(format!(
            "{code} {}",
            text(node, "sub_code")
        )));
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text(node, "alipay_cert_content").trim())
        .map_err(|_| QueryError::Transport("alipay_cert_content is not base64".into()))?;
    String::from_utf8(raw).map_err(|_| QueryError::Transport("certificate is not text".into()))
}

/// The node of an answer that is trusted by other means (the certificate download).
pub fn response_node_unverified(
    body: &str,
    method: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, QueryError> {
    let mut top: serde_json::Map<String, serde_json::Value> = serde_json::from_str(body)
        .map_err(|_| QueryError::Transport("answer is not an openapi JSON object".into()))?;
    match top.remove(&response_node(method)) {
        Some(serde_json::Value::Object(node)) => Ok(node),
        _ => Err(QueryError::Transport("answer has no response node".into())),
    }
}

/// What a verified answer must be about.
pub struct Expect<'a> {
    pub app_id: &'a str,
    pub order_no: &'a str,
    pub amount: Money,
    /// `alipay_seller_id` when configured: an answer naming another seller is not ours.
    pub seller_id: Option<&'a str>,
}

fn text<'a>(node: &'a serde_json::Map<String, serde_json::Value>, name: &str) -> &'a str {
    node.get(name).and_then(|v| v.as_str()).unwrap_or_default()
}

/// Read a verified `alipay_trade_query_response`. Paid only for `TRADE_SUCCESS` /
/// `TRADE_FINISHED` of our order, at its amount; the query answer names no app of its own
/// (the signature answers our signed call), so an `app_id`/`auth_app_id` it does carry must
/// be ours.
pub fn read_query(
    node: &serde_json::Map<String, serde_json::Value>,
    expect: &Expect<'_>,
) -> Result<TradeState, QueryError> {
    let code = text(node, "code");
    if code != "10000" {
        return match text(node, "sub_code") {
            "ACQ.TRADE_NOT_EXIST" => Ok(TradeState::NotPaid),
            sub => Err(QueryError::Rejected(format!("{code} {sub}"))),
        };
    }
    for name in ["app_id", "auth_app_id"] {
        if node.contains_key(name) && text(node, name) != expect.app_id {
            return Err(QueryError::Mismatch("answer for another app_id"));
        }
    }
    // Like the app id: the answer to our signed call need not name the seller, but one it
    // names must be the configured one.
    if let Some(seller) = expect.seller_id
        && node.contains_key("seller_id")
        && text(node, "seller_id") != seller
    {
        return Err(QueryError::Mismatch("answer for another seller_id"));
    }
    if text(node, "out_trade_no") != expect.order_no {
        return Err(QueryError::Mismatch("answer for another order"));
    }
    match text(node, "trade_status") {
        "TRADE_SUCCESS" | "TRADE_FINISHED" => {
            if Money::parse(text(node, "total_amount")) != Some(expect.amount) {
                return Err(QueryError::Mismatch("amount differs from the order"));
            }
            Ok(TradeState::Paid {
                trade_no: text(node, "trade_no").to_string(),
            })
        }
        "TRADE_CLOSED" => Ok(TradeState::Closed),
        _ => Ok(TradeState::NotPaid),
    }
}

/// Read a verified `alipay_trade_close_response`.
pub fn read_close(
    node: &serde_json::Map<String, serde_json::Value>,
) -> Result<CloseOutcome, QueryError> {
    match (text(node, "code"), text(node, "sub_code")) {
        ("10000", _) => Ok(CloseOutcome::Closed),
        // Nobody opened the cashier, so Alipay never made a trade; past `time_expire` it
        // will not take one either.
        (_, "ACQ.TRADE_NOT_EXIST") => Ok(CloseOutcome::Closed),
        // Paid or finished: only a trade waiting for the buyer can be closed.
        (_, "ACQ.TRADE_STATUS_ERROR") => Ok(CloseOutcome::AlreadyPaid),
        (code, sub) => Err(QueryError::Rejected(format!("{code} {sub}"))),
    }
}

/// POST a signed form to the gateway and return the answer's text, bounded by `timeout`.
pub async fn call(
    http: &reqwest::Client,
    gateway: &str,
    form: &[(String, String)],
    timeout: std::time::Duration,
) -> Result<String, QueryError> {
    let resp = http
        .post(format!("{gateway}?charset=utf-8"))
        .timeout(timeout)
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded;charset=utf-8",
        )
        .body(build_query(form))
        .send()
        .await
        .map_err(|e| QueryError::Transport(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(QueryError::Transport(format!("HTTP {}", resp.status())));
    }
    super::read_answer(resp).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sign_content_sorts_and_skips_sign_and_empty_values() {
        let params = p(&[("b", "2"), ("sign", "x"), ("a", "1 2"), ("c", "")]);
        assert_eq!(sign_content(&params), "a=1 2&b=2");
    }

    #[test]
    fn query_is_built_like_php() {
        let params = p(&[("timestamp", "2026-11-25 07:07:04"), ("u", "https://a/b")]);
        assert_eq!(
            build_query(&params),
            "timestamp=2026-11-25+07%3A07%3A04&u=https%3A%2F%2Fa%2Fb"
        );
    }

    #[test]
    fn empty_public_key_is_an_error_not_a_panic() {
        let params = p(&[("out_trade_no", "X"), ("sign", "AAAA")]);
        assert_eq!(verify_notify(&params, "  "), Err(NotifyError::NoPublicKey));
        assert!(matches!(
            verify_notify(&params, "not a key"),
            Err(NotifyError::BadPublicKey(_))
        ));
    }
}

#[cfg(test)]
mod answer_tests {
    use super::*;

    fn node(text: &str) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn close_answers_read_as_the_gateway_means_them() {
        assert_eq!(
            read_close(&node(r#"{"code":"10000","msg":"Success"}"#)),
            Ok(CloseOutcome::Closed)
        );
        assert_eq!(
            read_close(&node(
                r#"{"code":"40004","sub_code":"ACQ.TRADE_NOT_EXIST"}"#
            )),
            Ok(CloseOutcome::Closed)
        );
        assert_eq!(
            read_close(&node(
                r#"{"code":"40004","sub_code":"ACQ.TRADE_STATUS_ERROR"}"#
            )),
            Ok(CloseOutcome::AlreadyPaid)
        );
        assert!(matches!(
            read_close(&node(r#"{"code":"40002","sub_code":"isv.invalid-app-id"}"#)),
            Err(QueryError::Rejected(_))
        ));
    }

    #[test]
    fn only_success_of_our_order_at_its_amount_is_paid() {
        let expect = Expect {
            app_id: "9021000100000001",
            order_no: "CH1",
            amount: Money::from_cents(6000),
            seller_id: Some("2088102177000000"),
        };
        let paid = r#"{"code":"10000","out_trade_no":"CH1","trade_no":"T","trade_status":"TRADE_FINISHED","total_amount":"60.00"}"#;
        assert_eq!(
            read_query(&node(paid), &expect),
            Ok(TradeState::Paid {
                trade_no: "T".into()
            })
        );
        let waiting = paid.replace("TRADE_FINISHED", "WAIT_BUYER_PAY");
        assert_eq!(
            read_query(&node(&waiting), &expect),
            Ok(TradeState::NotPaid)
        );
        let closed = paid.replace("TRADE_FINISHED", "TRADE_CLOSED");
        assert_eq!(read_query(&node(&closed), &expect), Ok(TradeState::Closed));
        let missing = r#"{"code":"40004","sub_code":"ACQ.TRADE_NOT_EXIST"}"#;
        assert_eq!(read_query(&node(missing), &expect), Ok(TradeState::NotPaid));
        let other_seller = paid.replace("{", r#"{"seller_id":"2088000000000009","#);
        assert!(matches!(
            read_query(&node(&other_seller), &expect),
            Err(QueryError::Mismatch(_))
        ));
        let our_seller = paid.replace("{", r#"{"seller_id":"2088102177000000","#);
        assert!(matches!(
            read_query(&node(&our_seller), &expect),
            Ok(TradeState::Paid { .. })
        ));
        let cheap = paid.replace("60.00", "6.00");
        assert!(matches!(
            read_query(&node(&cheap), &expect),
            Err(QueryError::Mismatch(_))
        ));
    }

    #[test]
    fn answers_that_are_not_openapi_json_are_transport_errors_not_panics() {
        let key = crate::clients::pay::parse_public_key(include_str!(
            "../../../tests/fixtures/keys/alipay_platform_public.pem"
        ))
        .unwrap();
        for body in [
            "",
            "[]",
            "{\"x\":1}",
            "<html>",
            "{\"alipay_trade_query_response\":",
        ] {
            assert!(
                matches!(
                    verify_response(body, QUERY_METHOD, &key),
                    Err(QueryError::Transport(_))
                ),
                "{body}"
            );
        }
        let unsigned = r#"{"alipay_trade_query_response":{"code":"10000"}}"#;
        assert!(matches!(
            verify_response(unsigned, QUERY_METHOD, &key),
            Err(QueryError::Unauthentic(_))
        ));
    }
}
