//! WeChat Pay's side of API v3 Native payments: the merchant's signed order call checked as
//! the platform checks it, and the encrypted, platform-signed payment notification.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use chathub::clients::pay;

use super::{Closing, GatewayKeys, Switch, Trade, TradeStatus, Trades};

/// A v3 notification: the JSON body and the platform signature headers.
pub struct WechatNotification {
    pub body: String,
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
    /// `Wechatpay-Serial`: the key it is signed with.
    pub serial: String,
}

/// The decrypted transaction of a successful payment.
pub fn transaction(keys: &GatewayKeys, order_no: &str, total_cents: i64) -> serde_json::Value {
    serde_json::json!({
        "mchid": keys.wechat_mch_id, "appid": keys.wechat_app_id, "out_trade_no": order_no,
        "transaction_id": format!("4200{order_no}"), "trade_type": "NATIVE",
        "trade_state": "SUCCESS", "trade_state_desc": "支付成功",
        "amount": {"total": total_cents, "payer_total": total_cents, "currency": "CNY", "payer_currency": "CNY"}
    })
}

/// `TRADE.SUCCESS` with `transaction` AEAD_AES_256_GCM-encrypted under the APIv3 key.
pub fn notification(
    keys: &GatewayKeys,
    transaction: &serde_json::Value,
    timestamp: i64,
) -> WechatNotification {
    let nonce_r = "r4nd0mn0nce1";
    let ciphertext = pay::wechat::encrypt_resource(
        &transaction.to_string(),
        &keys.wechat_v3_key,
        nonce_r,
        "transaction",
    )
    .expect("a 32-byte APIv3 key");
    let body = serde_json::json!({
        "id": "EV-2026", "create_time": "2026-06-01T10:00:00+08:00",
        "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext, "associated_data": "transaction", "nonce": nonce_r}
    })
    .to_string();
    signed_body(keys, body, timestamp)
}

/// Any body with a valid platform signature over `TIMESTAMP\nNONCE\nBODY\n`.
pub fn signed_body(keys: &GatewayKeys, body: String, timestamp: i64) -> WechatNotification {
    let timestamp = timestamp.to_string();
    let nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".to_string();
    let key = pay::parse_private_key(&keys.platform_private).expect("sandbox platform key");
    let signature =
        pay::rsa_sha256_sign(&key, format!("{timestamp}\n{nonce}\n{body}\n").as_bytes());
    WechatNotification {
        body,
        timestamp,
        nonce,
        signature,
        serial: keys.platform_serial.clone(),
    }
}

/// POST a notification to the merchant's `notify_url`, headers as WeChat Pay sends them.
pub async fn send(
    client: &reqwest::Client,
    notify_url: &str,
    n: &WechatNotification,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(notify_url)
        .header("Content-Type", "application/json")
        .header("Wechatpay-Timestamp", &n.timestamp)
        .header("Wechatpay-Nonce", &n.nonce)
        .header("Wechatpay-Signature", &n.signature)
        .header("Wechatpay-Serial", &n.serial)
        .body(n.body.clone())
        .send()
        .await
}

/// A Native order the merchant placed, signature checked.
#[derive(Clone, Debug, PartialEq)]
pub struct NativeOrder {
    pub out_trade_no: String,
    pub description: String,
    pub notify_url: String,
    pub total_cents: i64,
}

fn auth_field<'a>(auth: &'a str, name: &str) -> Option<&'a str> {
    let rest = auth.strip_prefix("WECHATPAY2-SHA256-RSA2048 ")?;
    rest.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"'))
    })
}

/// An error answer as WeChat Pay gives it: status and `{"code","message"}`.
pub type Refusal = (u16, String);

pub(crate) fn refusal(status: u16, code: &str, message: &str) -> Refusal {
    (
        status,
        serde_json::json!({"code": code, "message": message}).to_string(),
    )
}

/// `POST /v3/pay/transactions/native` as the platform checks it: the `Authorization`
/// signature (merchant key, certificate serial, mchid) and the body's appid and currency.
pub fn accept_native(
    keys: &GatewayKeys,
    path: &str,
    auth: &str,
    body: &str,
) -> Result<NativeOrder, Refusal> {
    if path != pay::wechat::NATIVE_PATH {
        return Err(refusal(404, "NOT_FOUND", "no such API"));
    }
    check_authorization(keys, "POST", path, auth, body)?;
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    if json["appid"] != keys.wechat_app_id.as_str() || json["amount"]["currency"] != "CNY" {
        return Err(refusal(400, "PARAM_ERROR", "bad body"));
    }
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    Ok(NativeOrder {
        out_trade_no: text(&json["out_trade_no"]),
        description: text(&json["description"]),
        notify_url: text(&json["notify_url"]),
        total_cents: json["amount"]["total"].as_i64().unwrap_or_default(),
    })
}

/// The answer to an accepted order.
pub fn code_url_answer(code_url: &str) -> String {
    serde_json::json!({ "code_url": code_url }).to_string()
}

/// The headers WeChat Pay signs an answer with: `Wechatpay-Timestamp`, `-Nonce`,
/// `-Signature` (platform key over `TIMESTAMP\nNONCE\nBODY\n`) and `-Serial`.
pub fn answer_headers(keys: &GatewayKeys, body: &str, timestamp: i64) -> Vec<(String, String)> {
    let n = signed_body(keys, body.to_string(), timestamp);
    vec![
        ("Wechatpay-Timestamp".into(), n.timestamp),
        ("Wechatpay-Nonce".into(), n.nonce),
        ("Wechatpay-Signature".into(), n.signature),
        ("Wechatpay-Serial".into(), n.serial),
    ]
}

/// An answer as WeChat Pay sends it: the body with its platform-signature headers.
pub fn signed_reply(keys: &GatewayKeys, answer: Refusal, now: i64) -> crate::http_serve::Resp {
    let (status, body) = answer;
    let mut r = crate::http_serve::reply(status, "application/json", body.clone());
    for (k, v) in answer_headers(keys, &body, now) {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(&v),
        ) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

/// `GET /v3/certificates`'s answer for these certificates (PEM): each encrypted under the
/// APIv3 key with associated data `certificate`, as WeChat Pay sends them.
pub fn certificate_list(v3_key: &str, certs: &[String]) -> String {
    let data: Vec<serde_json::Value> = certs
        .iter()
        .enumerate()
        .map(|(i, pem)| {
            let nonce = format!("c3rtn0nce{i:03}");
            let ciphertext = pay::wechat::encrypt_resource(pem, v3_key, &nonce, "certificate")
                .expect("a 32-byte APIv3 key");
            serde_json::json!({
                "serial_no": super::certs::serial_of(pem),
                "effective_time": "2026-01-01T00:00:00+08:00",
                "expire_time": "2031-01-01T00:00:00+08:00",
                "encrypt_certificate": {"algorithm": "AEAD_AES_256_GCM", "nonce": nonce,
                    "associated_data": "certificate", "ciphertext": ciphertext}
            })
        })
        .collect();
    serde_json::json!({ "data": data }).to_string()
}

/// What the platform side of a fake signs with and lists: the key and serial answers are
/// signed under, and the platform certificates `GET /v3/certificates` lists (`None`: a
/// merchant of the public-key kind, answered 404 无可用的平台证书).
#[derive(Clone, Default)]
pub struct Platform {
    pub signer: Option<(String, String)>,
    pub certificates: Option<Vec<String>>,
}

/// The serial the stand-in's platform key goes by.
pub const PLATFORM_SERIAL: &str = "PUB_KEY_ID_0000000000000000000000000001";

/// A transaction as the query API returns it (plain JSON: only notifications are encrypted).
pub fn query_transaction(keys: &GatewayKeys, t: &Trade) -> serde_json::Value {
    let state = match t.status {
        TradeStatus::Waiting => "NOTPAY",
        TradeStatus::Paid => "SUCCESS",
        TradeStatus::Closed => "CLOSED",
    };
    let mut tx = transaction(keys, &t.out_trade_no, t.total_cents);
    tx["trade_state"] = state.into();
    tx["transaction_id"] = t.trade_no.clone().into();
    tx
}

/// Check a merchant's `Authorization` over `METHOD\nPATH?QUERY\nTS\nNONCE\nBODY\n`.
pub(crate) fn check_authorization(
    keys: &GatewayKeys,
    method: &str,
    path_and_query: &str,
    auth: &str,
    body: &str,
) -> Result<(), Refusal> {
    let field = |name| auth_field(auth, name);
    let (Some(mchid), Some(nonce), Some(sig), Some(ts), Some(serial)) = (
        field("mchid"),
        field("nonce_str"),
        field("signature"),
        field("timestamp"),
        field("serial_no"),
    ) else {
        return Err(refusal(401, "SIGN_ERROR", "Authorization malformed"));
    };
    let message = format!("{method}\n{path_and_query}\n{ts}\n{nonce}\n{body}\n");
    let key = pay::parse_public_key(&keys.merchant_public)
        .map_err(|_| refusal(500, "SYSTEM_ERROR", "merchant key"))?;
    if mchid != keys.wechat_mch_id
        || serial != keys.merchant_cert_serial
        || !pay::rsa_sha256_verify(&key, message.as_bytes(), sig)
    {
        return Err(refusal(401, "SIGN_ERROR", "signature invalid"));
    }
    Ok(())
}

/// The query and close APIs over `trades`: `GET …/out-trade-no/{no}?mchid=` and
/// `POST …/out-trade-no/{no}/close`. `None` for any other path.
pub fn answer_order_api(
    keys: &GatewayKeys,
    trades: &Trades,
    method: &http::Method,
    path: &str,
    query: &str,
    auth: &str,
    body: &str,
) -> Option<Refusal> {
    let rest = path.strip_prefix("/v3/pay/transactions/out-trade-no/")?;
    let signed_path = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    if let Err(r) = check_authorization(keys, method.as_str(), &signed_path, auth, body) {
        return Some(r);
    }
    let not_found = || refusal(404, "ORDER_NOT_EXIST", "订单不存在");
    if let Some(order_no) = rest.strip_suffix("/close") {
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        if *method != http::Method::POST || json["mchid"] != keys.wechat_mch_id.as_str() {
            return Some(refusal(400, "PARAM_ERROR", "bad close request"));
        }
        return Some(match trades.close(order_no) {
            Closing::Closed => (204, String::new()),
            Closing::Unknown => not_found(),
            Closing::AlreadyPaid => refusal(400, "ORDER_PAID", "订单已支付"),
        });
    }
    if *method != http::Method::GET || query != format!("mchid={}", keys.wechat_mch_id) {
        return Some(refusal(400, "PARAM_ERROR", "bad query request"));
    }
    Some(match trades.get(rest) {
        Some(t) => (200, query_transaction(keys, &t).to_string()),
        None => not_found(),
    })
}

/// A WeChat Pay API on its own port for the tests: Native orders (a `weixin://` code), query
/// and close over its `trades`, every answer platform-signed; records each request
/// (`Authorization`, body) and misbehaves as `behaviour` says.
pub struct FakeWechatPay {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<(String, String)>>>,
    pub trades: Trades,
    /// Its refunds and the bill files it serves (`sandbox::refunds`).
    pub refunds: super::refunds::Refunds,
    pub behaviour: Switch,
    /// Who signs and which certificates are listed (default: the keys' platform key, no list).
    pub platform: Arc<Mutex<Platform>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeWechatPay {
    pub async fn start(keys: GatewayKeys) -> FakeWechatPay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let requests: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let (trades, behaviour) = (Trades::default(), Switch::default());
        let refunds = super::refunds::Refunds::default();
        let platform: Arc<Mutex<Platform>> = Arc::default();
        let (log, t, b, p) = (
            requests.clone(),
            trades.clone(),
            behaviour.clone(),
            platform.clone(),
        );
        let (rf, base) = (refunds.clone(), format!("http://{addr}"));
        let keys = Arc::new(keys);
        let task = crate::http_serve::spawn(listener, move |req| {
            let (log, keys, t, b, p) = (log.clone(), keys.clone(), t.clone(), b.clone(), p.clone());
            let (rf, base) = (rf.clone(), base.clone());
            async move {
                let auth = req.header("authorization");
                log.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((auth.clone(), req.body_text()));
                if let Some(r) = super::misbehave(&b).await {
                    return r;
                }
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or_default();
                let platform = p.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let signer = match &platform.signer {
                    Some((private, serial)) => keys.signed_by(private, serial),
                    None => (*keys).clone(),
                };
                if let Some(r) =
                    super::refunds::serve_wechat(&signer, &t, &rf, &req, &auth, &base, now).await
                {
                    return r;
                }
                let answer = if req.path == pay::wechat::CERTIFICATES_PATH {
                    certificates_answer(&keys, &platform, &req, &auth)
                } else {
                    api_answer(&keys, &t, &req, &auth)
                };
                signed_reply(&signer, answer, now)
            }
        });
        FakeWechatPay {
            addr,
            requests,
            trades,
            refunds,
            behaviour,
            platform,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FakeWechatPay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `GET /v3/certificates`: the merchant's signature checked, then the list (or 404).
pub fn certificates_answer(
    keys: &GatewayKeys,
    platform: &Platform,
    req: &crate::http_serve::Req,
    auth: &str,
) -> Refusal {
    if let Err(r) = check_authorization(keys, req.method.as_str(), &req.path, auth, "") {
        return r;
    }
    match &platform.certificates {
        Some(certs) => (200, certificate_list(&keys.wechat_v3_key, certs)),
        None => refusal(404, "NOT_FOUND", "无可用的平台证书"),
    }
}

/// The API's answer to one request (Native order, query, close), the trade noted in `trades`.
pub fn api_answer(
    keys: &GatewayKeys,
    trades: &Trades,
    req: &crate::http_serve::Req,
    auth: &str,
) -> Refusal {
    let body = req.body_text();
    if let Some(answer) = answer_order_api(
        keys,
        trades,
        &req.method,
        &req.path,
        &req.query,
        auth,
        &body,
    ) {
        return answer;
    }
    match accept_native(keys, &req.path, auth, &body) {
        Ok(order) => {
            trades.open(&order.out_trade_no, order.total_cents);
            (
                200,
                code_url_answer(&format!(
                    "weixin://wxpay/bizpayurl?pr={}",
                    hex::encode(order.out_trade_no)
                )),
            )
        }
        Err(r) => r,
    }
}
