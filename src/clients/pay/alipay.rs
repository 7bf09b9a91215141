//! Alipay open platform: `alipay.trade.page.pay` redirects and asynchronous notifications,
//! signed RSA2 (SHA256withRSA) over the sorted `k=v&…` string.

use super::{KeyError, notify_url, return_url};
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
}

/// The gateway URL the browser is sent to, parameters in the original's order and signed.
pub fn page_pay_url(p: &PagePay<'_>) -> Result<String, KeyError> {
    let key = super::parse_private_key(p.private_key)?;
    // PHP's json_encode: `\uXXXX` escapes and `\/`, exactly what the original signed.
    let biz_content = php_json_encode(&serde_json::json!({
        "out_trade_no": p.order_no,
        "total_amount": p.amount.decimal(),
        "subject": format!("ChatHub 续费 - 订单 {}", p.order_no),
        "product_code": "FAST_INSTANT_TRADE_PAY",
    }));
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
    let mut ok = super::rsa_sha256_verify(&key, without_empty.as_bytes(), &sign);
    if !ok && unique.iter().any(|(_, v)| v.is_empty()) {
        let mut sorted = unique.clone();
        sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let with_empty = sorted
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        ok = super::rsa_sha256_verify(&key, with_empty.as_bytes(), &sign);
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
    })
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
