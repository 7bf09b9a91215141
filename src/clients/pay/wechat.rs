//! WeChat Pay API v3: Native orders (QR code payments) and payment notifications.
//!
//! Requests are signed `WECHATPAY2-SHA256-RSA2048` with the merchant key; notifications are
//! signed by the platform key and carry the transaction AEAD_AES_256_GCM-encrypted with the
//! APIv3 key.

use std::time::Duration;

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use base64::Engine as _;
use serde::Deserialize;

use super::{CloseOutcome, KeyError, QueryError, TradeState};
use crate::domain::money::Money;

pub const NATIVE_PATH: &str = "/v3/pay/transactions/native";
/// Notifications older (or newer) than this are refused: a captured one cannot be replayed later.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;
pub const ORDER_TIMEOUT: Duration = Duration::from_secs(15);

/// The merchant certificate's serial number as WeChat Pay prints it (upper-case hex).
pub fn cert_serial(pem_text: &str) -> Result<String, KeyError> {
    use x509_cert::der::Decode as _;
    let (_, body) = super::pem_body(pem_text);
    if body.is_empty() {
        return Err(KeyError::Empty);
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|_| KeyError::Base64)?;
    let cert = x509_cert::Certificate::from_der(&der).map_err(|_| KeyError::Format)?;
    let mut bytes = cert.tbs_certificate().serial_number().as_bytes();
    // DER keeps a leading zero byte on positive integers whose top bit is set.
    while bytes.len() > 1 && bytes[0] == 0 {
        bytes = &bytes[1..];
    }
    Ok(hex::encode_upper(bytes))
}

/// The string WeChat Pay signs and verifies for a request:
/// `METHOD\nURL_PATH\nTIMESTAMP\nNONCE\nBODY\n`.
pub fn request_message(
    method: &str,
    url_path: &str,
    timestamp: i64,
    nonce: &str,
    body: &str,
) -> String {
    format!("{method}\n{url_path}\n{timestamp}\n{nonce}\n{body}\n")
}

/// The `Authorization` header value for one request.
pub fn authorization(
    mch_id: &str,
    serial_no: &str,
    key: &rsa::PrivateKey,
    message_parts: (&str, &str, i64, &str, &str),
) -> String {
    let (method, url_path, timestamp, nonce, body) = message_parts;
    let signature = super::rsa_sha256_sign(
        key,
        request_message(method, url_path, timestamp, nonce, body).as_bytes(),
    );
    format!(
        "WECHATPAY2-SHA256-RSA2048 mchid=\"{mch_id}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{serial_no}\""
    )
}

/// [`authorization`] on a blocking thread: RSA signing is CPU work, kept off the async workers.
pub async fn authorization_off_thread(
    mch_id: &str,
    serial_no: &str,
    key: &rsa::PrivateKey,
    message_parts: (&str, &str, i64, &str, &str),
) -> Result<String, String> {
    let (method, path, timestamp, nonce, body) = message_parts;
    let owned = (
        mch_id.to_string(),
        serial_no.to_string(),
        key.clone(),
        [method, path, nonce, body].map(str::to_string),
    );
    tokio::task::spawn_blocking(move || {
        let (mch, serial, key, [method, path, nonce, body]) = owned;
        authorization(
            &mch,
            &serial,
            &key,
            (&method, &path, timestamp, &nonce, &body),
        )
    })
    .await
    .map_err(|e| format!("signing task: {e}"))
}

/// Everything a Native order needs.
pub struct NativeOrder<'a> {
    pub api_base: &'a str,
    pub app_id: &'a str,
    pub mch_id: &'a str,
    pub merchant_key: &'a rsa::PrivateKey,
    pub serial_no: &'a str,
    pub notify_url: &'a str,
    pub order_no: &'a str,
    pub amount: Money,
    pub timestamp: i64,
    pub nonce: &'a str,
    /// The absolute deadline, RFC 3339 (`2026-06-01T12:00:00+08:00`), after which WeChat Pay
    /// refuses the payment.
    pub time_expire: Option<&'a str>,
}

impl NativeOrder<'_> {
    pub fn body(&self) -> String {
        let mut body = serde_json::json!({
            "appid": self.app_id,
            "mchid": self.mch_id,
            "description": "ChatHub 续费",
            "out_trade_no": self.order_no,
            "notify_url": self.notify_url,
            "amount": {"total": self.amount.cents(), "currency": "CNY"},
        });
        if let Some(deadline) = self.time_expire {
            body["time_expire"] = deadline.into();
        }
        body.to_string()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("WeChat Pay unreachable: {0}")]
    Transport(String),
    #[error("WeChat Pay answered HTTP {status}: {code}")]
    Rejected { status: u16, code: String },
    #[error("WeChat Pay answered without a code_url")]
    NoCodeUrl,
}

/// `POST /v3/pay/transactions/native`: the `code_url` to show as a QR code.
pub async fn create_native_order(
    http: &reqwest::Client,
    order: &NativeOrder<'_>,
) -> Result<String, OrderError> {
    let body = order.body();
    let auth = authorization_off_thread(
        order.mch_id,
        order.serial_no,
        order.merchant_key,
        ("POST", NATIVE_PATH, order.timestamp, order.nonce, &body),
    )
    .await
    .map_err(OrderError::Transport)?;
    let url = format!("{}{NATIVE_PATH}", order.api_base.trim_end_matches('/'));
    let resp = http
        .post(url)
        .timeout(ORDER_TIMEOUT)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .header("User-Agent", "chathub")
        .header("Authorization", auth)
        .body(body)
        .send()
        .await
        .map_err(|e| OrderError::Transport(e.without_url().to_string()))?;
    let status = resp.status().as_u16();
    let text = resp
        .text()
        .await
        .map_err(|e| OrderError::Transport(e.without_url().to_string()))?;
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if status != 200 {
        let code = json
            .get("code")
            .and_then(|c| c.as_str())
            .unwrap_or("")
            .to_string();
        return Err(OrderError::Rejected { status, code });
    }
    json.get("code_url")
        .and_then(|c| c.as_str())
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .ok_or(OrderError::NoCodeUrl)
}

/// The `Wechatpay-*` headers of a notification (or of an API answer).
pub struct NotifyHeaders<'a> {
    pub timestamp: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
    /// `Wechatpay-Serial`: which platform key signed (a certificate's serial, or the
    /// `PUB_KEY_ID_…` of the merchant's WeChat Pay public key).
    pub serial: Option<&'a str>,
}

/// The platform keys a merchant verifies WeChat Pay with, chosen by `Wechatpay-Serial` as the
/// official SDKs choose (wechatpay-go's `SHA256WithRSACombinedVerifier`, wechatpay-java's
/// `RSACombinedNotificationConfig`): the WeChat Pay public key when the serial is its
/// `PUB_KEY_ID_…`, otherwise the platform certificate of that serial. A key configured
/// without any serial (how sites were set up before) answers for every serial.
#[derive(Clone, Default)]
pub struct KeySet {
    by_serial: Vec<(String, rsa::PublicKey)>,
    any_serial: Option<rsa::PublicKey>,
}

impl KeySet {
    /// A key for one serial (public-key id or certificate serial); a later one for the same
    /// serial replaces it.
    pub fn insert(&mut self, serial: &str, key: rsa::PublicKey) {
        let serial = serial.trim().to_string();
        self.by_serial.retain(|(s, _)| *s != serial);
        self.by_serial.push((serial, key));
    }

    /// The key of a site configured before serials were read: used for any serial that no
    /// other key names.
    pub fn set_any_serial(&mut self, key: rsa::PublicKey) {
        self.any_serial = Some(key);
    }

    pub fn is_empty(&self) -> bool {
        self.by_serial.is_empty() && self.any_serial.is_none()
    }

    /// Whether a key names this serial itself (not through the any-serial key).
    pub fn names(&self, serial: &str) -> bool {
        self.by_serial.iter().any(|(s, _)| s == serial.trim())
    }

    /// The serials known by name.
    pub fn serials(&self) -> impl Iterator<Item = &str> {
        self.by_serial.iter().map(|(s, _)| s.as_str())
    }

    /// The same keys without the any-serial one.
    pub fn named_only(&self) -> KeySet {
        KeySet {
            by_serial: self.by_serial.clone(),
            any_serial: None,
        }
    }

    /// The key for `serial`, if any.
    pub fn pick(&self, serial: Option<&str>) -> Option<&rsa::PublicKey> {
        let serial = serial.map(str::trim).unwrap_or_default();
        self.by_serial
            .iter()
            .find(|(s, _)| s == serial)
            .map(|(_, k)| k)
            .or(self.any_serial.as_ref())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotifyError {
    #[error("no WeChat Pay platform key is configured or usable")]
    NoPlatformKey,
    #[error("signed under a serial no platform key names")]
    UnknownSerial,
    #[error("Wechatpay signature headers missing")]
    MissingHeaders,
    #[error("notification timestamp outside the allowed window")]
    Stale,
    #[error("signature does not verify")]
    BadSignature,
    #[error("body is not a notification")]
    Malformed,
    #[error("resource does not decrypt")]
    Decrypt,
}

impl NotifyError {
    /// HTTP status per WeChat Pay's guidance (any 4xx/5xx with `{"code":"FAIL",…}` refuses a
    /// notification, and it retries later). A site that cannot verify (no platform key) refuses
    /// with a 4xx too: the request cannot be served, and a 5xx would let anyone fill the
    /// server-error figures (COMPAT.md#wechat-notify-verification).
    pub fn status(&self) -> u16 {
        match self {
            NotifyError::NoPlatformKey => 403,
            NotifyError::MissingHeaders
            | NotifyError::Stale
            | NotifyError::BadSignature
            | NotifyError::UnknownSerial => 401,
            NotifyError::Malformed | NotifyError::Decrypt => 400,
        }
    }
}

/// Check the platform signature over `TIMESTAMP\nNONCE\nBODY\n`, made with the key that
/// `Wechatpay-Serial` names, and the timestamp window.
pub fn verify_notify_signature(
    headers: &NotifyHeaders<'_>,
    body: &[u8],
    keys: &KeySet,
    now: i64,
) -> Result<(), NotifyError> {
    if keys.is_empty() {
        return Err(NotifyError::NoPlatformKey);
    }
    let (Some(ts), Some(nonce), Some(sig)) = (headers.timestamp, headers.nonce, headers.signature)
    else {
        return Err(NotifyError::MissingHeaders);
    };
    let key = keys
        .pick(headers.serial)
        .ok_or(NotifyError::UnknownSerial)?;
    let ts_num: i64 = ts.trim().parse().map_err(|_| NotifyError::MissingHeaders)?;
    if (now - ts_num).abs() > MAX_CLOCK_SKEW_SECS {
        return Err(NotifyError::Stale);
    }
    let body = std::str::from_utf8(body).map_err(|_| NotifyError::Malformed)?;
    let message = format!("{ts}\n{nonce}\n{body}\n");
    if super::rsa_sha256_verify(key, message.as_bytes(), sig) {
        Ok(())
    } else {
        Err(NotifyError::BadSignature)
    }
}

#[derive(Debug, Deserialize)]
struct Envelope {
    resource: Resource,
}

#[derive(Debug, Deserialize)]
pub struct Resource {
    #[serde(default)]
    pub algorithm: String,
    pub ciphertext: String,
    #[serde(default)]
    pub associated_data: String,
    pub nonce: String,
}

/// The decrypted transaction (fields we use).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Transaction {
    #[serde(default)]
    pub mchid: String,
    #[serde(default)]
    pub appid: String,
    #[serde(default)]
    pub out_trade_no: String,
    #[serde(default)]
    pub transaction_id: String,
    #[serde(default)]
    pub trade_state: String,
    pub amount: Option<TransactionAmount>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct TransactionAmount {
    pub total: Option<i64>,
}

impl Transaction {
    pub fn total(&self) -> Option<Money> {
        self.amount.as_ref()?.total.map(Money::from_cents)
    }
}

/// Decrypt the notification's `resource` with the APIv3 key.
pub fn decrypt_notification(body: &[u8], api_v3_key: &str) -> Result<Transaction, NotifyError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|_| NotifyError::Malformed)?;
    let plain = decrypt_resource(&env.resource, api_v3_key)?;
    serde_json::from_slice(&plain).map_err(|_| NotifyError::Malformed)
}

/// AEAD_AES_256_GCM under the APIv3 key: a notification's `resource`, a downloaded
/// certificate's `encrypt_certificate`.
pub fn decrypt_resource(r: &Resource, api_v3_key: &str) -> Result<Vec<u8>, NotifyError> {
    if !r.algorithm.is_empty() && r.algorithm != "AEAD_AES_256_GCM" {
        return Err(NotifyError::Malformed);
    }
    let key = api_v3_key.as_bytes();
    if key.len() != 32 || r.nonce.len() != 12 {
        return Err(NotifyError::Decrypt);
    }
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(key).map_err(|_| NotifyError::Decrypt)?;
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(r.ciphertext.trim())
        .map_err(|_| NotifyError::Decrypt)?;
    let plain = cipher
        .decrypt(
            aes_gcm::Nonce::from_slice(r.nonce.as_bytes()),
            Payload {
                msg: &ciphertext,
                aad: r.associated_data.as_bytes(),
            },
        )
        .map_err(|_| NotifyError::Decrypt)?;
    Ok(plain)
}

/// Encrypt a resource as WeChat Pay does (base64 ciphertext+tag). Used by test fakes.
pub fn encrypt_resource(
    plain: &str,
    api_v3_key: &str,
    nonce: &str,
    associated_data: &str,
) -> Option<String> {
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(api_v3_key.as_bytes()).ok()?;
    if nonce.len() != 12 {
        return None;
    }
    let ct = cipher
        .encrypt(
            aes_gcm::Nonce::from_slice(nonce.as_bytes()),
            Payload {
                msg: plain.as_bytes(),
                aad: associated_data.as_bytes(),
            },
        )
        .ok()?;
    Some(base64::engine::general_purpose::STANDARD.encode(ct))
}

/// `GET /v3/pay/transactions/out-trade-no/{no}?mchid=`, as signed (path and query).
pub fn query_path(order_no: &str, mch_id: &str) -> String {
    format!(
        "/v3/pay/transactions/out-trade-no/{}?mchid={}",
        crate::domain::php::php_rawurlencode(order_no),
        crate::domain::php::php_rawurlencode(mch_id)
    )
}

/// `POST /v3/pay/transactions/out-trade-no/{no}/close`.
pub fn close_path(order_no: &str) -> String {
    format!(
        "/v3/pay/transactions/out-trade-no/{}/close",
        crate::domain::php::php_rawurlencode(order_no)
    )
}

/// The merchant side of one signed API call.
pub struct Merchant<'a> {
    pub api_base: &'a str,
    pub app_id: &'a str,
    pub mch_id: &'a str,
    pub merchant_key: &'a rsa::PrivateKey,
    pub serial_no: &'a str,
    /// What answers are verified with, by their `Wechatpay-Serial`.
    pub platform_keys: &'a KeySet,
}

/// A verified answer: status and body.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// An answer as received, before its signature is checked.
pub struct RawAnswer {
    pub status: u16,
    pub body: String,
    timestamp: Option<String>,
    nonce: Option<String>,
    signature: Option<String>,
    serial: Option<String>,
}

impl RawAnswer {
    /// `Wechatpay-Serial`: the platform key it says it is signed with.
    pub fn serial(&self) -> Option<&str> {
        self.serial.as_deref().map(str::trim)
    }

    fn headers(&self) -> NotifyHeaders<'_> {
        NotifyHeaders {
            timestamp: self.timestamp.as_deref(),
            nonce: self.nonce.as_deref(),
            signature: self.signature.as_deref(),
            serial: self.serial.as_deref(),
        }
    }

    /// The answer, once its platform signature (key named by `Wechatpay-Serial`, timestamp
    /// within [`MAX_CLOCK_SKEW_SECS`] of `now`) checks out.
    pub fn verify(self, keys: &KeySet, now: i64) -> Result<Answer, QueryError> {
        verify_notify_signature(&self.headers(), self.body.as_bytes(), keys, now).map_err(|e| {
            match e {
                NotifyError::Stale => QueryError::Unauthentic("answer timestamp out of window"),
                NotifyError::MissingHeaders => {
                    QueryError::Unauthentic("answer carries no signature")
                }
                NotifyError::UnknownSerial | NotifyError::NoPlatformKey => {
                    QueryError::Unauthentic("answer signed under an unknown serial")
                }
                _ => QueryError::Unauthentic("answer signature does not verify"),
            }
        })?;
        Ok(Answer {
            status: self.status,
            body: self.body,
        })
    }
}

/// One signed call, its answer not yet verified (the caller may first need the platform key
/// its `Wechatpay-Serial` names), bounded by `timeout`.
pub async fn send_signed(
    http: &reqwest::Client,
    m: &Merchant<'_>,
    method: reqwest::Method,
    path: &str,
    body: &str,
    now: i64,
    timeout: Duration,
) -> Result<RawAnswer, QueryError> {
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let auth = authorization_off_thread(
        m.mch_id,
        m.serial_no,
        m.merchant_key,
        (method.as_str(), path, now, &nonce, body),
    )
    .await
    .map_err(QueryError::Transport)?;
    let mut req = http
        .request(
            method,
            format!("{}{path}", m.api_base.trim_end_matches('/')),
        )
        .timeout(timeout)
        .header("Accept", "application/json")
        .header("User-Agent", "chathub")
        .header("Authorization", auth);
    if !body.is_empty() {
        req = req
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| QueryError::Transport(e.without_url().to_string()))?;
    let status = resp.status().as_u16();
    if status >= 500 {
        return Err(QueryError::Transport(format!("HTTP {status}")));
    }
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (timestamp, nonce, signature, serial) = (
        header("Wechatpay-Timestamp"),
        header("Wechatpay-Nonce"),
        header("Wechatpay-Signature"),
        header("Wechatpay-Serial"),
    );
    let body = super::read_answer(resp).await?;
    Ok(RawAnswer {
        status,
        body,
        timestamp,
        nonce,
        signature,
        serial,
    })
}

/// One signed call whose answer must carry a valid platform signature
/// (`Wechatpay-Signature` over `TIMESTAMP\nNONCE\nBODY\n`, key named by `Wechatpay-Serial`,
/// timestamp within [`MAX_CLOCK_SKEW_SECS`] of `now`), bounded by `timeout`.
pub async fn signed_call(
    http: &reqwest::Client,
    m: &Merchant<'_>,
    method: reqwest::Method,
    path: &str,
    body: &str,
    now: i64,
    timeout: Duration,
) -> Result<Answer, QueryError> {
    send_signed(http, m, method, path, body, now, timeout)
        .await?
        .verify(m.platform_keys, now)
}

/// `GET /v3/certificates`: the platform certificates in force.
pub const CERTIFICATES_PATH: &str = "/v3/certificates";

/// One platform certificate from the list, decrypted and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformCert {
    pub serial: String,
    pub pem: String,
    pub not_after: i64,
}

/// Why a certificate list is not taken. Nothing of it is kept.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertListError {
    /// `404 无可用的平台证书` and the like: a merchant of the public-key kind.
    #[error("WeChat Pay refused the certificate list: HTTP {0} {1}")]
    Rejected(u16, String),
    #[error("certificate list is not the API's JSON")]
    Malformed,
    #[error("a certificate does not decrypt with the APIv3 key")]
    Decrypt,
    #[error("a decrypted certificate does not parse or does not carry its serial")]
    BadCertificate,
    #[error("the list is not signed by one of its certificates or a known key: {0}")]
    Unauthentic(&'static str),
}

#[derive(Deserialize)]
struct CertList {
    data: Vec<CertEntry>,
}

#[derive(Deserialize)]
struct CertEntry {
    serial_no: String,
    encrypt_certificate: Resource,
}

/// Read a `GET /v3/certificates` answer: every `encrypt_certificate` decrypted with the
/// APIv3 key (under the associated data it names, `certificate`, as wechatpay-go does),
/// parsed, its serial the one the entry names; then the answer's own signature checked with
/// the certificate (of this list, or already known in `known`) that its `Wechatpay-Serial`
/// names. wechatpay-go trusts its very first
/// download without a signature check; taking only a list signed by itself or a known key is
/// stricter and costs nothing. Expired certificates are left out.
pub fn read_certificates(
    raw: RawAnswer,
    api_v3_key: &str,
    known: &KeySet,
    now: i64,
) -> Result<Vec<PlatformCert>, CertListError> {
    if raw.status != 200 {
        return Err(CertListError::Rejected(raw.status, error_code(&raw.body)));
    }
    let list: CertList = serde_json::from_str(&raw.body).map_err(|_| CertListError::Malformed)?;
    let mut keys = known.clone();
    let mut out = Vec::new();
    for entry in list.data {
        let plain = decrypt_resource(&entry.encrypt_certificate, api_v3_key)
            .map_err(|_| CertListError::Decrypt)?;
        let pem = String::from_utf8(plain).map_err(|_| CertListError::BadCertificate)?;
        let cert = super::cert::parse_pem_chain(&pem)
            .ok()
            .and_then(|mut c| (c.len() == 1).then(|| c.remove(0)))
            .ok_or(CertListError::BadCertificate)?;
        let serial = entry.serial_no.trim().to_ascii_uppercase();
        if cert.serial_hex != serial {
            return Err(CertListError::BadCertificate);
        }
        let key = cert
            .public_key
            .clone()
            .ok_or(CertListError::BadCertificate)?;
        keys.insert(&serial, key);
        if cert.not_after > now {
            out.push(PlatformCert {
                serial,
                pem: cert.pem(),
                not_after: cert.not_after,
            });
        }
    }
    if !raw.serial().is_some_and(|s| keys.names(s)) {
        return Err(CertListError::Unauthentic("unknown Wechatpay-Serial"));
    }
    // Only the named keys: the any-serial key of an old configuration vouches for nothing here.
    raw.verify(&keys.named_only(), now)
        .map_err(|_| CertListError::Unauthentic("signature does not verify"))?;
    Ok(out)
}

/// What a verified query answer must be about.
pub struct Expect<'a> {
    pub app_id: &'a str,
    pub mch_id: &'a str,
    pub order_no: &'a str,
    pub amount: Money,
}

fn error_code(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|j| j.get("code").and_then(|c| c.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// Read a verified query answer: `SUCCESS` of our order, for our `mchid`/`appid`, at the
/// order's amount in fen, is paid; `ORDER_NOT_EXIST` is not paid yet.
pub fn read_query(answer: &Answer, expect: &Expect<'_>) -> Result<TradeState, QueryError> {
    if answer.status != 200 {
        return match error_code(&answer.body).as_str() {
            "ORDER_NOT_EXIST" => Ok(TradeState::NotPaid),
            code => Err(QueryError::Rejected(format!(
                "HTTP {} {code}",
                answer.status
            ))),
        };
    }
    let tx: Transaction = serde_json::from_str(&answer.body)
        .map_err(|_| QueryError::Transport("answer is not a transaction".into()))?;
    if tx.mchid != expect.mch_id || tx.appid != expect.app_id {
        return Err(QueryError::Mismatch("answer for another merchant"));
    }
    if tx.out_trade_no != expect.order_no {
        return Err(QueryError::Mismatch("answer for another order"));
    }
    match tx.trade_state.as_str() {
        "SUCCESS" if tx.total() == Some(expect.amount) => Ok(TradeState::Paid {
            trade_no: tx.transaction_id,
        }),
        "SUCCESS" => Err(QueryError::Mismatch("amount differs from the order")),
        "CLOSED" | "REVOKED" => Ok(TradeState::Closed),
        _ => Ok(TradeState::NotPaid),
    }
}

/// Read a verified close answer (204 on success).
pub fn read_close(answer: &Answer) -> Result<CloseOutcome, QueryError> {
    match (answer.status, error_code(&answer.body).as_str()) {
        (200 | 204, _) => Ok(CloseOutcome::Closed),
        (_, "ORDER_NOT_EXIST") => Ok(CloseOutcome::Closed),
        (_, "ORDER_PAID") => Ok(CloseOutcome::AlreadyPaid),
        (status, code) => Err(QueryError::Rejected(format!("HTTP {status} {code}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn resource_round_trips_and_tampering_fails() {
        let plain = r#"{"mchid":"1900000001","appid":"wx0000000000000001","out_trade_no":"CH1","transaction_id":"42","trade_state":"SUCCESS","amount":{"total":6000,"currency":"CNY"}}"#;
        let ct = encrypt_resource(plain, KEY, "abcdefghijkl", "transaction").unwrap();
        let body = serde_json::json!({"id":"EV","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":ct,"associated_data":"transaction","nonce":"abcdefghijkl"}}).to_string();
        let tx = decrypt_notification(body.as_bytes(), KEY).unwrap();
        assert_eq!(tx.out_trade_no, "CH1");
        assert_eq!(tx.total(), Some(Money::from_cents(6000)));
        let tampered = body.replace("\"transaction\"", "\"other\"");
        assert_eq!(
            decrypt_notification(tampered.as_bytes(), KEY),
            Err(NotifyError::Decrypt)
        );
        assert_eq!(
            decrypt_notification(b"{\"out_trade_no\":\"CH1\"}", KEY),
            Err(NotifyError::Malformed)
        );
    }
}

#[cfg(test)]
mod answer_tests {
    use super::*;

    fn signed(key: &rsa::PrivateKey, serial: &str) -> (String, String, String, String) {
        let (ts, nonce, body) = ("1795561549", "n0nce", r#"{"id":"EV"}"#);
        let sig = crate::clients::pay::rsa_sha256_sign(
            key,
            format!("{ts}\n{nonce}\n{body}\n").as_bytes(),
        );
        (ts.into(), nonce.into(), sig, serial.into())
    }

    #[test]
    fn the_serial_picks_the_key_as_the_combined_verifiers_do() {
        use crate::clients::pay::{parse_private_key, parse_public_key};
        let public_key = parse_private_key(include_str!(
            "../../../tests/fixtures/keys/alipay_platform_private.pem"
        ))
        .unwrap();
        let certificate = parse_private_key(include_str!(
            "../../../tests/fixtures/keys/merchant_private.pem"
        ))
        .unwrap();
        let mut keys = KeySet::default();
        keys.insert(
            "PUB_KEY_ID_01",
            parse_public_key(include_str!(
                "../../../tests/fixtures/keys/alipay_platform_public.pem"
            ))
            .unwrap(),
        );
        keys.insert("5157F09E", certificate.to_public_key());
        let check = |keys: &KeySet, (ts, nonce, sig, serial): (String, String, String, String)| {
            let headers = NotifyHeaders {
                timestamp: Some(&ts),
                nonce: Some(&nonce),
                signature: Some(&sig),
                serial: Some(&serial),
            };
            verify_notify_signature(&headers, br#"{"id":"EV"}"#, keys, 1_795_561_549)
        };
        assert_eq!(check(&keys, signed(&public_key, "PUB_KEY_ID_01")), Ok(()));
        assert_eq!(check(&keys, signed(&certificate, "5157F09E")), Ok(()));
        // The right key under the other one's serial, and a serial nobody names.
        assert_eq!(
            check(&keys, signed(&public_key, "5157F09E")),
            Err(NotifyError::BadSignature)
        );
        assert_eq!(
            check(&keys, signed(&public_key, "PUB_KEY_ID_02")),
            Err(NotifyError::UnknownSerial)
        );
        // An old configuration's key answers for any serial no other key names.
        keys.set_any_serial(public_key.to_public_key());
        assert_eq!(check(&keys, signed(&public_key, "PUB_KEY_ID_02")), Ok(()));
        assert_eq!(
            check(&KeySet::default(), signed(&public_key, "PUB_KEY_ID_01")),
            Err(NotifyError::NoPlatformKey)
        );
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: body.into(),
        }
    }

    #[test]
    fn close_and_query_answers_read_as_the_gateway_means_them() {
        assert_eq!(read_close(&answer(204, "")), Ok(CloseOutcome::Closed));
        assert_eq!(
            read_close(&answer(400, r#"{"code":"ORDER_PAID"}"#)),
            Ok(CloseOutcome::AlreadyPaid)
        );
        assert!(matches!(
            read_close(&answer(403, r#"{"code":"NO_AUTH"}"#)),
            Err(QueryError::Rejected(_))
        ));
        let expect = Expect {
            app_id: "wx1",
            mch_id: "19",
            order_no: "CH1",
            amount: Money::from_cents(6000),
        };
        assert_eq!(
            read_query(&answer(404, r#"{"code":"ORDER_NOT_EXIST"}"#), &expect),
            Ok(TradeState::NotPaid)
        );
        let tx = r#"{"appid":"wx1","mchid":"19","out_trade_no":"CH1","transaction_id":"42","trade_state":"SUCCESS","amount":{"total":6000}}"#;
        assert_eq!(
            read_query(&answer(200, tx), &expect),
            Ok(TradeState::Paid {
                trade_no: "42".into()
            })
        );
        let notpay = tx.replace("SUCCESS", "NOTPAY");
        assert_eq!(
            read_query(&answer(200, &notpay), &expect),
            Ok(TradeState::NotPaid)
        );
        assert!(matches!(
            read_query(&answer(200, "not json"), &expect),
            Err(QueryError::Transport(_))
        ));
    }

    #[test]
    fn query_paths_are_what_gets_signed() {
        assert_eq!(
            query_path("CH1", "1900000001"),
            "/v3/pay/transactions/out-trade-no/CH1?mchid=1900000001"
        );
        assert_eq!(
            close_path("CH1"),
            "/v3/pay/transactions/out-trade-no/CH1/close"
        );
    }
}
