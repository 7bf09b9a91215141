//! Alipay's side of `alipay.trade.page.pay`: the signed redirect checked as the gateway
//! checks it, and the `TRADE_SUCCESS` notification signed as Alipay signs it.

use chathub::clients::pay;

use super::{Closing, GatewayKeys, Switch, Trade, TradeStatus, Trades};

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
    if let Some(sn) = &keys.alipay_cert_sn {
        params.push(("alipay_cert_sn".into(), sn.clone()));
    }
    let key = pay::parse_private_key(&keys.platform_private).expect("sandbox platform key");
    let sign = pay::rsa_sha256_sign(&key, pay::alipay::sign_content(&params).as_bytes());
    params.push(("sign_type".into(), "RSA2".into()));
    params.push(("sign".into(), sign));
    serde_urlencoded::to_string(&params).expect("form encoding")
}

/// An openapi answer as Alipay writes it: `{"<method>_response":NODE,"sign":"…"}`, the sign
/// over `node_text` exactly as given (so a test can put escapes such as `\/` in it); in
/// certificate mode `alipay_cert_sn` names the certificate that signed.
pub fn signed_answer(keys: &GatewayKeys, method: &str, node_text: &str) -> String {
    let key = pay::parse_private_key(&keys.platform_private).expect("sandbox platform key");
    let sign = pay::rsa_sha256_sign(&key, node_text.as_bytes());
    let sn = keys
        .alipay_cert_sn
        .as_ref()
        .map(|sn| {
            format!(
                ",\"alipay_cert_sn\":{}",
                serde_json::Value::from(sn.as_str())
            )
        })
        .unwrap_or_default();
    format!(
        "{{\"{}\":{node_text}{sn},\"sign\":{}}}",
        pay::alipay::response_node(method),
        serde_json::Value::from(sign)
    )
}

/// Alipay's side of a merchant in public-key-certificate mode: the SNs its requests must
/// carry, the Alipay certificates (PEM chains, by SN) `alipay.open.app.alipaycert.download`
/// hands out, and the key and SN answers are signed with now.
#[derive(Clone, Debug, Default)]
pub struct CertSide {
    pub app_cert_sn: String,
    pub root_cert_sn: String,
    pub chains: std::collections::BTreeMap<String, String>,
    pub signer_private: String,
    pub signer_sn: String,
}

/// The `alipay_trade_query_response` node for a trade (or for none: `ACQ.TRADE_NOT_EXIST`).
pub fn query_node(order_no: &str, trade: Option<&Trade>) -> serde_json::Value {
    let Some(t) = trade else {
        return serde_json::json!({"code": "40004", "msg": "Business Failed",
            "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在",
            "out_trade_no": order_no, "buyer_pay_amount": "0.00"});
    };
    let status = match t.status {
        TradeStatus::Waiting => "WAIT_BUYER_PAY",
        TradeStatus::Paid => "TRADE_SUCCESS",
        TradeStatus::Closed => "TRADE_CLOSED",
    };
    serde_json::json!({"code": "10000", "msg": "Success", "trade_no": t.trade_no,
        "out_trade_no": t.out_trade_no, "buyer_logon_id": "buy***@example.com",
        "trade_status": status, "total_amount": money(t.total_cents),
        "buyer_pay_amount": if t.status == TradeStatus::Paid { money(t.total_cents) } else { "0.00".into() },
        "send_pay_date": "2026-06-01 10:00:00", "buyer_user_id": "2088102177846880"})
}

fn money(cents: i64) -> String {
    chathub::domain::money::Money::from_cents(cents).decimal()
}

/// Answer `alipay.trade.query` / `alipay.trade.close` as the gateway does: the merchant's
/// RSA2 signature and app id checked, then the trade looked up (or closed) in `trades`.
pub fn answer_openapi(keys: &GatewayKeys, trades: &Trades, form: &[(String, String)]) -> String {
    answer_openapi_in(keys, trades, form, None)
}

/// [`answer_openapi`] for a merchant in certificate mode when `cert` is given: the request's
/// SNs checked, answers signed by the current Alipay certificate, and certificates handed out.
pub fn answer_openapi_in(
    keys: &GatewayKeys,
    trades: &Trades,
    form: &[(String, String)],
    cert: Option<&CertSide>,
) -> String {
    let signer = match cert {
        Some(c) => {
            let mut k = keys.signed_by(&c.signer_private, "");
            k.alipay_cert_sn = Some(c.signer_sn.clone());
            k
        }
        None => keys.clone(),
    };
    let keys = &signer;
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let method = get("method");
    let node_method = if method.is_empty() {
        "error"
    } else {
        method.as_str()
    };
    let key = pay::parse_public_key(&keys.merchant_public).expect("sandbox merchant key");
    let content = pay::alipay::sign_content(form);
    if get("sign_type") != "RSA2" || !pay::rsa_sha256_verify(&key, content.as_bytes(), &get("sign"))
    {
        // Alipay does not sign this refusal.
        let node = serde_json::json!({"code": "40002", "msg": "Invalid Arguments",
            "sub_code": "isv.invalid-signature", "sub_msg": "验签出错"});
        return format!("{{\"{}\":{node}}}", pay::alipay::response_node(node_method));
    }
    let biz: serde_json::Value = serde_json::from_str(&get("biz_content")).unwrap_or_default();
    let order_no = biz["out_trade_no"].as_str().unwrap_or_default().to_string();
    let node = match method.as_str() {
        _ if get("app_id") != keys.alipay_app_id => serde_json::json!({"code": "40002",
            "msg": "Invalid Arguments", "sub_code": "isv.invalid-app-id", "sub_msg": "无效的AppID参数"}),
        _ if cert.is_some_and(|c| {
            get("app_cert_sn") != c.app_cert_sn || get("alipay_root_cert_sn") != c.root_cert_sn
        }) =>
        {
            serde_json::json!({"code": "40002", "msg": "Invalid Arguments",
                "sub_code": "isv.app-cert-sn-error", "sub_msg": "应用公钥证书序列号不匹配"})
        }
        pay::alipay::CERT_DOWNLOAD_METHOD => {
            let wanted = biz["alipay_cert_sn"].as_str().unwrap_or_default();
            match cert.and_then(|c| c.chains.get(wanted)) {
                Some(chain) => {
                    use base64::Engine as _;
                    serde_json::json!({"code": "10000", "msg": "Success",
                        "alipay_cert_content": base64::engine::general_purpose::STANDARD.encode(chain)})
                }
                None => serde_json::json!({"code": "40004", "msg": "Business Failed",
                    "sub_code": "isv.cert-not-exist", "sub_msg": "证书不存在"}),
            }
        }
        pay::alipay::QUERY_METHOD => query_node(&order_no, trades.get(&order_no).as_ref()),
        pay::alipay::CLOSE_METHOD => match trades.close(&order_no) {
            Closing::Closed => serde_json::json!({"code": "10000", "msg": "Success",
                "trade_no": trades.get(&order_no).map(|t| t.trade_no).unwrap_or_default(),
                "out_trade_no": order_no}),
            Closing::Unknown => serde_json::json!({"code": "40004", "msg": "Business Failed",
                "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}),
            Closing::AlreadyPaid => serde_json::json!({"code": "40004", "msg": "Business Failed",
                "sub_code": "ACQ.TRADE_STATUS_ERROR", "sub_msg": "交易状态不合法"}),
        },
        _ => serde_json::json!({"code": "40004", "msg": "Business Failed",
            "sub_code": "isv.invalid-method", "sub_msg": "不存在的方法名"}),
    };
    signed_answer(keys, node_method, &node.to_string())
}

/// The forms of the calls a fake received, in order.
pub type CallLog = std::sync::Arc<std::sync::Mutex<Vec<Vec<(String, String)>>>>;

/// An Alipay openapi gateway on its own port for the tests: answers query and close from
/// its `trades`, records each call's form, and misbehaves as `behaviour` says.
pub struct FakeAlipay {
    pub addr: std::net::SocketAddr,
    pub trades: Trades,
    /// Its refunds and the bill files it serves (`sandbox::refunds`).
    pub refunds: super::refunds::Refunds,
    pub behaviour: Switch,
    pub calls: CallLog,
    /// Certificate mode (`None`: public-key mode).
    pub cert_side: std::sync::Arc<std::sync::Mutex<Option<CertSide>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeAlipay {
    pub async fn start(keys: GatewayKeys) -> FakeAlipay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let (trades, behaviour) = (Trades::default(), Switch::default());
        let refunds = super::refunds::Refunds::default();
        let calls: CallLog = Default::default();
        let cert_side: std::sync::Arc<std::sync::Mutex<Option<CertSide>>> = Default::default();
        let (t, b, c, keys, cs) = (
            trades.clone(),
            behaviour.clone(),
            calls.clone(),
            std::sync::Arc::new(keys),
            cert_side.clone(),
        );
        let (rf, base) = (refunds.clone(), format!("http://{addr}"));
        let task = crate::http_serve::spawn(listener, move |req| {
            let (t, b, c, keys, cs) = (t.clone(), b.clone(), c.clone(), keys.clone(), cs.clone());
            let (rf, base) = (rf.clone(), base.clone());
            async move {
                let form = req.form();
                c.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(form.clone());
                if let Some(r) = super::misbehave(&b).await {
                    return r;
                }
                if let Some(r) =
                    super::refunds::serve_alipay(&keys, &t, &rf, &req, &form, &base).await
                {
                    return r;
                }
                let side = cs.lock().unwrap_or_else(|p| p.into_inner()).clone();
                crate::http_serve::reply(
                    200,
                    "text/html;charset=utf-8",
                    answer_openapi_in(&keys, &t, &form, side.as_ref()),
                )
            }
        });
        FakeAlipay {
            addr,
            trades,
            refunds,
            behaviour,
            calls,
            cert_side,
            task,
        }
    }

    /// The server's `alipay_gateway_url`.
    pub fn gateway_url(&self) -> String {
        format!("http://{}/gateway.do", self.addr)
    }

    /// The `method`s called so far.
    pub fn methods(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|f| {
                f.iter()
                    .find(|(k, _)| k == "method")
                    .map(|(_, v)| v.clone())
            })
            .collect()
    }
}

impl Drop for FakeAlipay {
    fn drop(&mut self) {
        self.task.abort();
    }
}
