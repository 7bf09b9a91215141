//! WeChat Pay v3 refunds (`POST /v3/refund/domestic/refunds`, the refund query, the
//! `REFUND.*` notification) and the trade bill (`GET /v3/bill/tradebill`, then its
//! `download_url`). Calls go through `wechat::signed_call`, so every answer's platform
//! signature is checked, except the bill file itself, which WeChat Pay does not sign: its
//! SHA-1 from the signed `tradebill` answer is checked instead.

use std::time::Duration;

use serde::Deserialize;

use super::QueryError;
use super::refund::{RefundExpect, RefundState};
use super::wechat::{Answer, NotifyError, Resource};
use crate::domain::money::Money;

pub const REFUNDS_PATH: &str = "/v3/refund/domestic/refunds";

/// The refund's body. `amount.total` is the order's total in fen, as WeChat Pay checks it.
pub fn refund_body(e: &RefundExpect<'_>, total: Money, reason: &str, notify_url: &str) -> String {
    let mut body = serde_json::json!({
        "out_trade_no": e.order_no,
        "out_refund_no": e.request_no,
        "notify_url": notify_url,
        "amount": {"refund": e.amount.cents(), "total": total.cents(), "currency": "CNY"},
    });
    if !reason.is_empty() {
        body["reason"] = reason.into();
    }
    body.to_string()
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}`.
pub fn refund_query_path(request_no: &str) -> String {
    format!(
        "{REFUNDS_PATH}/{}",
        crate::domain::php::php_rawurlencode(request_no)
    )
}

#[derive(Debug, Deserialize)]
struct RefundAmount {
    refund: Option<i64>,
}

/// A refund as the API answers it (`status`) or the notification carries it (`refund_status`).
#[derive(Debug, Deserialize)]
struct RefundBody {
    #[serde(default)]
    out_trade_no: String,
    #[serde(default)]
    out_refund_no: String,
    #[serde(default)]
    refund_id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    refund_status: String,
    #[serde(default)]
    mchid: String,
    amount: Option<RefundAmount>,
}

fn error_code(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|j| j.get("code").and_then(|c| c.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// Codes after which the refund may or may not exist: sent again later, same number.
fn outcome_unknown(code: &str) -> bool {
    matches!(code, "SYSTEM_ERROR" | "FREQUENCY_LIMITED" | "")
}

fn state_of(r: &RefundBody, state: &str, e: &RefundExpect<'_>) -> Result<RefundState, QueryError> {
    if r.out_refund_no != e.request_no || r.out_trade_no != e.order_no {
        return Err(QueryError::Mismatch("answer for another refund"));
    }
    match state {
        "SUCCESS" if r.amount.as_ref().and_then(|a| a.refund) == Some(e.amount.cents()) => {
            Ok(RefundState::Succeeded {
                refund_no: Some(r.refund_id.clone()).filter(|s| !s.is_empty()),
            })
        }
        "SUCCESS" => Err(QueryError::Mismatch("refund amount differs")),
        "CLOSED" | "ABNORMAL" => Ok(RefundState::Failed(state.to_string())),
        _ => Ok(RefundState::Processing),
    }
}

/// Read the verified answer to the refund call. WeChat Pay's 200 means accepted, whatever
/// `status` it shows: the final word comes from the notification or the query.
pub fn read_refund(answer: &Answer, e: &RefundExpect<'_>) -> Result<RefundState, QueryError> {
    if answer.status != 200 {
        let code = error_code(&answer.body);
        if outcome_unknown(&code) {
            return Err(QueryError::Transport(format!(
                "HTTP {} {code}",
                answer.status
            )));
        }
        return Ok(RefundState::Failed(format!(
            "HTTP {} {code}",
            answer.status
        )));
    }
    let r: RefundBody = serde_json::from_str(&answer.body)
        .map_err(|_| QueryError::Transport("answer is not a refund".into()))?;
    match state_of(&r, &r.status, e)? {
        RefundState::Failed(s) => Ok(RefundState::Failed(s)),
        _ => Ok(RefundState::Processing),
    }
}

/// Read the verified answer to the refund query.
pub fn read_refund_query(answer: &Answer, e: &RefundExpect<'_>) -> Result<RefundState, QueryError> {
    if answer.status != 200 {
        return match error_code(&answer.body).as_str() {
            "RESOURCE_NOT_EXISTS" | "ORDER_NOT_EXIST" => Ok(RefundState::NotFound),
            code => Err(QueryError::Rejected(format!(
                "HTTP {} {code}",
                answer.status
            ))),
        };
    }
    let r: RefundBody = serde_json::from_str(&answer.body)
        .map_err(|_| QueryError::Transport("answer is not a refund".into()))?;
    state_of(&r, &r.status, e)
}

/// A decrypted `REFUND.*` notification: which refund, and what the event says of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundNotice {
    pub event_type: String,
    pub mchid: String,
    pub out_trade_no: String,
    pub out_refund_no: String,
    pub refund_status: String,
    pub refund_fen: Option<i64>,
    pub refund_id: String,
}

impl RefundNotice {
    /// What the notice says about the refund it names, checked against it.
    pub fn state(&self, e: &RefundExpect<'_>) -> Result<RefundState, QueryError> {
        let body = RefundBody {
            out_trade_no: self.out_trade_no.clone(),
            out_refund_no: self.out_refund_no.clone(),
            refund_id: self.refund_id.clone(),
            status: String::new(),
            refund_status: String::new(),
            mchid: String::new(),
            amount: Some(RefundAmount {
                refund: self.refund_fen,
            }),
        };
        state_of(&body, &self.refund_status, e)
    }
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    event_type: String,
    resource: Resource,
}

/// Decrypt a refund notification's `resource` (AEAD_AES_256_GCM under the APIv3 key, as the
/// payment notification's; associated data `refund`). The signature is checked before, with
/// `wechat::verify_notify_signature`.
pub fn decrypt_refund_notification(
    body: &[u8],
    api_v3_key: &str,
) -> Result<RefundNotice, NotifyError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|_| NotifyError::Malformed)?;
    let plain = super::wechat::decrypt_resource(&env.resource, api_v3_key)?;
    let b: RefundBody = serde_json::from_slice(&plain).map_err(|_| NotifyError::Malformed)?;
    if !env.event_type.starts_with("REFUND.") {
        return Err(NotifyError::Malformed);
    }
    Ok(RefundNotice {
        event_type: env.event_type,
        mchid: b.mchid,
        out_trade_no: b.out_trade_no,
        out_refund_no: b.out_refund_no,
        refund_status: b.refund_status,
        refund_fen: b.amount.and_then(|a| a.refund),
        refund_id: b.refund_id,
    })
}

/// `GET /v3/bill/tradebill?bill_date=…&bill_type=ALL` (not compressed), as signed.
pub fn tradebill_path(bill_date: &str) -> String {
    format!(
        "/v3/bill/tradebill?bill_date={}&bill_type=ALL",
        crate::domain::php::php_rawurlencode(bill_date)
    )
}

/// Where the day's bill is, and the SHA-1 it must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillLink {
    pub download_url: String,
    pub sha1_hex: String,
}

/// Read the verified `tradebill` answer.
pub fn read_tradebill(answer: &Answer) -> Result<BillLink, QueryError> {
    if answer.status != 200 {
        return Err(QueryError::Rejected(format!(
            "HTTP {} {}",
            answer.status,
            error_code(&answer.body)
        )));
    }
    let j: serde_json::Value = serde_json::from_str(&answer.body)
        .map_err(|_| QueryError::Transport("answer is not JSON".into()))?;
    let text = |k: &str| {
        j.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let url = text("download_url");
    if !(url.starts_with("https://") || url.starts_with("http://")) || text("hash_type") != "SHA1" {
        return Err(QueryError::Transport(
            "answer has no download_url / SHA1".into(),
        ));
    }
    Ok(BillLink {
        download_url: url,
        sha1_hex: text("hash_value").to_ascii_lowercase(),
    })
}

/// Download the bill file: the request signed over the URL's path and query like any v3 call;
/// the answer is unsigned (WeChat Pay's documentation), so its SHA-1 must match `link`.
/// The file itself is not signed (the SDKs check only its hash), so only the merchant's
/// signing key is needed, never the platform keys.
pub async fn download_bill(
    http: &reqwest::Client,
    (mch_id, serial_no, merchant_key): (&str, &str, &rsa::PrivateKey),
    link: &BillLink,
    now: i64,
    timeout: Duration,
) -> Result<Vec<u8>, QueryError> {
    use sha1::Digest as _;
    let url = reqwest::Url::parse(&link.download_url)
        .map_err(|_| QueryError::Transport("download_url is not a URL".into()))?;
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let auth = super::wechat::authorization_off_thread(
        mch_id,
        serial_no,
        merchant_key,
        ("GET", &path, now, &nonce, ""),
    )
    .await
    .map_err(QueryError::Transport)?;
    let resp = http
        .get(url)
        .timeout(timeout)
        .header("User-Agent", "chathub")
        .header("Authorization", auth)
        .send()
        .await
        .map_err(|e| QueryError::Transport(e.without_url().to_string()))?;
    if !resp.status().is_success() {
        return Err(QueryError::Transport(format!("HTTP {}", resp.status())));
    }
    let bytes = super::bill::read_bounded(resp, super::bill::MAX_BILL_BYTES).await?;
    if hex::encode(sha1::Sha1::digest(&bytes)) != link.sha1_hex {
        return Err(QueryError::Unauthentic("bill file SHA-1 differs"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e() -> RefundExpect<'static> {
        RefundExpect {
            order_no: "CH1",
            request_no: "RF1",
            amount: Money::from_cents(6000),
        }
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: body.into(),
        }
    }

    #[test]
    fn the_refund_answer_only_accepts_the_query_decides() {
        let ok = r#"{"refund_id":"50","out_refund_no":"RF1","out_trade_no":"CH1","status":"SUCCESS","amount":{"refund":6000,"total":6000}}"#;
        assert_eq!(
            read_refund(&answer(200, ok), &e()),
            Ok(RefundState::Processing)
        );
        assert_eq!(
            read_refund_query(&answer(200, ok), &e()),
            Ok(RefundState::Succeeded {
                refund_no: Some("50".into())
            })
        );
        let closed = ok.replace("SUCCESS", "CLOSED");
        assert_eq!(
            read_refund_query(&answer(200, &closed), &e()),
            Ok(RefundState::Failed("CLOSED".into()))
        );
        let cheap = ok.replace("\"refund\":6000", "\"refund\":600");
        assert!(read_refund_query(&answer(200, &cheap), &e()).is_err());
        assert_eq!(
            read_refund_query(&answer(404, r#"{"code":"RESOURCE_NOT_EXISTS"}"#), &e()),
            Ok(RefundState::NotFound)
        );
        assert!(matches!(
            read_refund(&answer(429, r#"{"code":"FREQUENCY_LIMITED"}"#), &e()),
            Err(QueryError::Transport(_))
        ));
        assert!(matches!(
            read_refund(&answer(403, r#"{"code":"NOT_ENOUGH"}"#), &e()),
            Ok(RefundState::Failed(_))
        ));
    }

    #[test]
    fn refund_notifications_decrypt_and_name_their_refund() {
        const KEY: &str = "0123456789abcdef0123456789abcdef";
        let plain = r#"{"mchid":"19","out_trade_no":"CH1","transaction_id":"42","out_refund_no":"RF1","refund_id":"50","refund_status":"SUCCESS","amount":{"total":6000,"refund":6000,"payer_total":6000,"payer_refund":6000}}"#;
        let ct =
            super::super::wechat::encrypt_resource(plain, KEY, "abcdefghijkl", "refund").unwrap();
        let body = serde_json::json!({"id":"EV","event_type":"REFUND.SUCCESS","resource":{"algorithm":"AEAD_AES_256_GCM","original_type":"refund","ciphertext":ct,"associated_data":"refund","nonce":"abcdefghijkl"}}).to_string();
        let n = decrypt_refund_notification(body.as_bytes(), KEY).unwrap();
        assert_eq!(n.out_refund_no, "RF1");
        assert_eq!(
            n.state(&e()),
            Ok(RefundState::Succeeded {
                refund_no: Some("50".into())
            })
        );
        let payment = body.replace("REFUND.SUCCESS", "TRANSACTION.SUCCESS");
        assert_eq!(
            decrypt_refund_notification(payment.as_bytes(), KEY),
            Err(NotifyError::Malformed)
        );
        let tampered = body.replace("\"refund\",\"nonce\"", "\"x\",\"nonce\"");
        assert_eq!(
            decrypt_refund_notification(tampered.as_bytes(), KEY),
            Err(NotifyError::Decrypt)
        );
    }
}
