//! The gateways' side of refunds and daily bills, over the stand-ins' [`Trades`]: Alipay's
//! `alipay.trade.refund` / `alipay.trade.fastpay.refund.query` /
//! `alipay.data.dataservice.bill.downloadurl.query` (and the zip it points to), WeChat Pay's
//! `POST /v3/refund/domestic/refunds`, the refund query, `REFUND.*` notifications (resource
//! encrypted under the APIv3 key) and `GET /v3/bill/tradebill` with its unsigned download.
//! Bill files are written in each gateway's layout (Alipay: GBK CSVs in a deflated zip;
//! WeChat Pay: UTF-8 CSV, a back-quote before every value, SHA-1 in the signed answer).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chathub::clients::pay;

use super::wechat::{WechatNotification, signed_body};
use super::{GatewayKeys, TradeStatus, Trades};

/// One refund the gateway took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRec {
    pub out_trade_no: String,
    pub request_no: String,
    pub refund_cents: i64,
    pub total_cents: i64,
    pub trade_no: String,
    /// WeChat Pay's `PROCESSING` until [`Refunds::complete`]; Alipay's are done at once.
    pub status: String,
    pub refund_id: String,
}

/// The gateway's memory of refunds and of the bill files it serves.
#[derive(Clone, Default)]
pub struct Refunds {
    map: Arc<Mutex<BTreeMap<String, RefundRec>>>,
    /// Each request number whose refund moved money, once per refund.
    moved: Arc<Mutex<Vec<String>>>,
    bills: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    /// The next refund call is carried out, then never answered (a timeout after the fact).
    pub hang_after_refund: Arc<AtomicBool>,
    /// The race both gateways document: the buyer pays this trade (amount, transaction number)
    /// just as the merchant closes it, so the close is refused as already paid.
    pays_at_close: Arc<Mutex<BTreeMap<String, (i64, String)>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Refunds {
    /// Take a refund request: a known request number answers its refund again (and moves no
    /// money); a new one must be of a paid trade, within what is left of it.
    pub fn request(
        &self,
        trades: &Trades,
        out_trade_no: &str,
        request_no: &str,
        refund_cents: i64,
        status: &str,
    ) -> Result<(RefundRec, bool), &'static str> {
        let trade = trades
            .get(out_trade_no)
            .filter(|t| t.status == TradeStatus::Paid)
            .ok_or("TRADE_NOT_EXIST")?;
        let mut map = lock(&self.map);
        if let Some(r) = map.get(request_no) {
            return if r.out_trade_no == out_trade_no && r.refund_cents == refund_cents {
                Ok((r.clone(), false))
            } else {
                Err("REQUEST_NO_REUSED")
            };
        }
        let done: i64 = map
            .values()
            .filter(|r| r.out_trade_no == out_trade_no)
            .map(|r| r.refund_cents)
            .sum();
        if refund_cents <= 0 || refund_cents > trade.total_cents - done {
            return Err("NOT_ENOUGH");
        }
        let rec = RefundRec {
            out_trade_no: out_trade_no.into(),
            request_no: request_no.into(),
            refund_cents,
            total_cents: trade.total_cents,
            trade_no: trade.trade_no.clone(),
            status: status.into(),
            refund_id: format!("5030{}", map.len() + 1),
        };
        map.insert(request_no.into(), rec.clone());
        lock(&self.moved).push(request_no.into());
        Ok((rec, true))
    }

    pub fn get(&self, request_no: &str) -> Option<RefundRec> {
        lock(&self.map).get(request_no).cloned()
    }

    /// The refund's final state (`SUCCESS`, `CLOSED`, `ABNORMAL`), as WeChat Pay reaches it.
    pub fn complete(&self, request_no: &str, status: &str) -> Option<RefundRec> {
        let mut map = lock(&self.map);
        let r = map.get_mut(request_no)?;
        r.status = status.into();
        Some(r.clone())
    }

    /// Request numbers whose refund moved money, in order; each appears once.
    pub fn moved(&self) -> Vec<String> {
        lock(&self.moved).clone()
    }

    /// The bill file served for `bill_date`.
    pub fn set_bill(&self, bill_date: &str, file: Vec<u8>) {
        lock(&self.bills).insert(bill_date.into(), file);
    }

    pub fn bill(&self, bill_date: &str) -> Option<Vec<u8>> {
        lock(&self.bills).get(bill_date).cloned()
    }

    /// The buyer pays `out_trade_no` at the moment the merchant's close arrives.
    pub fn buyer_pays_at_close(&self, out_trade_no: &str, total_cents: i64, trade_no: &str) {
        lock(&self.pays_at_close).insert(out_trade_no.into(), (total_cents, trade_no.into()));
    }

    /// A close of `out_trade_no` arrives: the racing payment, if one was set, lands first.
    pub(crate) fn closing(&self, trades: &Trades, out_trade_no: &str) {
        if let Some((cents, trade_no)) = lock(&self.pays_at_close).remove(out_trade_no) {
            trades.pay(out_trade_no, cents, &trade_no);
        }
    }

    /// Whether this refund call is to be left unanswered (once).
    pub(crate) fn take_hang(&self) -> bool {
        self.hang_after_refund.swap(false, Ordering::SeqCst)
    }
}

fn money(cents: i64) -> String {
    chathub::domain::money::Money::from_cents(cents).decimal()
}

fn cents(text: &str) -> i64 {
    chathub::domain::money::Money::parse(text).map_or(-1, |m| m.cents())
}

/// Alipay's answer to a refund, refund query or bill call (`None` for other methods): the
/// merchant's signature and app id checked as `alipay::answer_openapi` checks them. A repeat
/// of a refund answers `fund_change = N`, as Alipay does.
pub fn answer_alipay(
    keys: &GatewayKeys,
    trades: &Trades,
    refunds: &Refunds,
    form: &[(String, String)],
    base_url: &str,
) -> Option<String> {
    let get = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let method = get("method");
    let known = [
        pay::alipay_refund::REFUND_METHOD,
        pay::alipay_refund::REFUND_QUERY_METHOD,
        pay::alipay_refund::BILL_METHOD,
    ];
    if !known.contains(&method.as_str()) {
        return None;
    }
    let key = pay::parse_public_key(&keys.merchant_public).expect("sandbox merchant key");
    if get("sign_type") != "RSA2"
        || !pay::rsa_sha256_verify(
            &key,
            pay::alipay::sign_content(form).as_bytes(),
            &get("sign"),
        )
        || get("app_id") != keys.alipay_app_id
    {
        let node = serde_json::json!({"code": "40002", "msg": "Invalid Arguments",
            "sub_code": "isv.invalid-signature", "sub_msg": "验签出错"});
        return Some(format!(
            "{{\"{}\":{node}}}",
            pay::alipay::response_node(&method)
        ));
    }
    let biz: serde_json::Value = serde_json::from_str(&get("biz_content")).unwrap_or_default();
    let text = |k: &str| biz[k].as_str().unwrap_or_default().to_string();
    let failed = |sub: &str| serde_json::json!({"code": "40004", "msg": "Business Failed", "sub_code": sub, "sub_msg": sub});
    let node = match method.as_str() {
        pay::alipay_refund::REFUND_METHOD => {
            let order_no = text("out_trade_no");
            match refunds.request(
                trades,
                &order_no,
                &text("out_request_no"),
                cents(&text("refund_amount")),
                "SUCCESS",
            ) {
                Ok((r, new)) => serde_json::json!({"code": "10000", "msg": "Success",
                    "trade_no": r.trade_no, "out_trade_no": order_no,
                    "buyer_logon_id": "buy***@example.com",
                    "fund_change": if new { "Y" } else { "N" },
                    "refund_fee": money(r.refund_cents), "gmt_refund_pay": "2026-06-02 10:00:00"}),
                Err("TRADE_NOT_EXIST") => failed("ACQ.TRADE_NOT_EXIST"),
                Err("NOT_ENOUGH") => failed("ACQ.REASON_TRADE_REFUND_FEE_ERR"),
                Err(_) => failed("ACQ.PARAM_ERROR"),
            }
        }
        pay::alipay_refund::REFUND_QUERY_METHOD => match refunds.get(&text("out_request_no")) {
            Some(r) if r.out_trade_no == text("out_trade_no") => {
                serde_json::json!({"code": "10000", "msg": "Success", "trade_no": r.trade_no,
                "out_trade_no": r.out_trade_no, "out_request_no": r.request_no,
                "total_amount": money(r.total_cents), "refund_amount": money(r.refund_cents),
                "refund_status": "REFUND_SUCCESS"})
            }
            // Alipay answers success with no refund in it for a request it never got.
            _ => serde_json::json!({"code": "10000", "msg": "Success"}),
        },
        _ => {
            let date = text("bill_date");
            if text("bill_type") == "trade" && refunds.bill(&date).is_some() {
                serde_json::json!({"code": "10000", "msg": "Success",
                    "bill_download_url": format!("{base_url}/bill/{date}.csv.zip")})
            } else {
                failed("isp.bill_not_exist")
            }
        }
    };
    Some(super::alipay::signed_answer(
        keys,
        &method,
        &node.to_string(),
    ))
}

/// WeChat Pay's answer to the refund, refund query, `tradebill` and bill download calls
/// (`None` for other paths): status, body, and whether the answer is platform-signed (the bill
/// file is not).
pub fn answer_wechat(
    keys: &GatewayKeys,
    trades: &Trades,
    refunds: &Refunds,
    req: &crate::http_serve::Req,
    auth: &str,
    base_url: &str,
) -> Option<(u16, Vec<u8>, bool)> {
    use super::wechat::{check_authorization, refusal};
    let path = req.path.as_str();
    let body = req.body_text();
    let known = path == pay::wechat_refund::REFUNDS_PATH
        || path.starts_with("/v3/refund/domestic/refunds/")
        || path == "/v3/bill/tradebill"
        || path == "/v3/billdownload/file";
    if !known {
        return None;
    }
    if let Err((status, b)) = check_authorization(
        keys,
        req.method.as_str(),
        &req.path_and_query(),
        auth,
        &body,
    ) {
        return Some((status, b.into_bytes(), true));
    }
    let json = |status: u16, v: serde_json::Value| Some((status, v.to_string().into_bytes(), true));
    let refused = |status: u16, code: &str| {
        let (s, b) = refusal(status, code, code);
        Some((s, b.into_bytes(), true))
    };
    let refund_json = |r: &RefundRec| {
        serde_json::json!({"refund_id": r.refund_id, "out_refund_no": r.request_no,
            "transaction_id": r.trade_no, "out_trade_no": r.out_trade_no, "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱", "create_time": "2026-06-02T10:00:00+08:00",
            "status": r.status,
            "amount": {"total": r.total_cents, "refund": r.refund_cents,
                "payer_total": r.total_cents, "payer_refund": r.refund_cents, "currency": "CNY"}})
    };
    if path == pay::wechat_refund::REFUNDS_PATH && req.method == http::Method::POST {
        let b: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let order_no = b["out_trade_no"].as_str().unwrap_or_default();
        let total = b["amount"]["total"].as_i64().unwrap_or_default();
        if trades.get(order_no).map(|t| t.total_cents) != Some(total)
            || b["amount"]["currency"] != "CNY"
        {
            return refused(400, "INVALID_REQUEST");
        }
        return match refunds.request(
            trades,
            order_no,
            b["out_refund_no"].as_str().unwrap_or_default(),
            b["amount"]["refund"].as_i64().unwrap_or_default(),
            "PROCESSING",
        ) {
            Ok((r, _)) => json(200, refund_json(&r)),
            Err("TRADE_NOT_EXIST") => refused(404, "RESOURCE_NOT_EXISTS"),
            Err("NOT_ENOUGH") => refused(403, "NOT_ENOUGH"),
            Err(_) => refused(400, "INVALID_REQUEST"),
        };
    }
    if let Some(no) = path.strip_prefix("/v3/refund/domestic/refunds/") {
        return match refunds.get(no) {
            Some(r) => json(200, refund_json(&r)),
            None => refused(404, "RESOURCE_NOT_EXISTS"),
        };
    }
    let param = |name: &str| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&req.query)
            .unwrap_or_default()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_default()
    };
    if path == "/v3/bill/tradebill" {
        let date = param("bill_date");
        return match refunds.bill(&date) {
            Some(file) => {
                use sha1::Digest as _;
                json(
                    200,
                    serde_json::json!({"hash_type": "SHA1",
                    "hash_value": hex::encode(sha1::Sha1::digest(&file)),
                    "download_url": format!("{base_url}/v3/billdownload/file?token={date}")}),
                )
            }
            None => refused(400, "NO_STATEMENT_EXIST"),
        };
    }
    match refunds.bill(&param("token")) {
        Some(file) => Some((200, file, false)),
        None => refused(400, "NO_STATEMENT_EXIST"),
    }
}

/// A `REFUND.<status>` notification for `r`, platform-signed, resource encrypted under the
/// APIv3 key with associated data `refund`.
pub fn refund_notification(
    keys: &GatewayKeys,
    r: &RefundRec,
    status: &str,
    timestamp: i64,
) -> WechatNotification {
    let plain = serde_json::json!({"mchid": keys.wechat_mch_id, "out_trade_no": r.out_trade_no,
        "transaction_id": r.trade_no, "out_refund_no": r.request_no, "refund_id": r.refund_id,
        "refund_status": status, "success_time": "2026-06-02T10:00:05+08:00",
        "user_received_account": "支付用户零钱",
        "amount": {"total": r.total_cents, "refund": r.refund_cents,
            "payer_total": r.total_cents, "payer_refund": r.refund_cents}});
    let nonce = "rfn0nce00001";
    let ciphertext =
        pay::wechat::encrypt_resource(&plain.to_string(), &keys.wechat_v3_key, nonce, "refund")
            .expect("a 32-byte APIv3 key");
    let body = serde_json::json!({
        "id": format!("EV-RF-{}", r.request_no), "create_time": "2026-06-02T10:00:05+08:00",
        "resource_type": "encrypt-resource", "event_type": format!("REFUND.{status}"),
        "summary": "退款成功",
        "resource": {"original_type": "refund", "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext, "associated_data": "refund", "nonce": nonce}
    })
    .to_string();
    signed_body(keys, body, timestamp)
}

/// One line of a generated bill: a payment, or (with `refund_request_no`) a refund of it.
#[derive(Clone, Debug)]
pub struct BillLine {
    pub out_trade_no: String,
    pub trade_no: String,
    pub amount_cents: i64,
    pub refund_request_no: Option<String>,
}

impl BillLine {
    pub fn payment(out_trade_no: &str, trade_no: &str, amount_cents: i64) -> BillLine {
        BillLine {
            out_trade_no: out_trade_no.into(),
            trade_no: trade_no.into(),
            amount_cents,
            refund_request_no: None,
        }
    }

    pub fn refund(out_trade_no: &str, trade_no: &str, cents: i64, request_no: &str) -> BillLine {
        BillLine {
            refund_request_no: Some(request_no.into()),
            ..BillLine::payment(out_trade_no, trade_no, cents)
        }
    }
}

// Alipay's bill texts in GBK, as its files carry them.
const GBK_HEADER: &[u8] = b"\xd6\xa7\xb8\xb6\xb1\xa6\xbd\xbb\xd2\xd7\xba\xc5,\xc9\xcc\xbb\xa7\xb6\xa9\xb5\xa5\xba\xc5,\xd2\xb5\xce\xf1\xc0\xe0\xd0\xcd,\xc9\xcc\xc6\xb7\xc3\xfb\xb3\xc6,\xb4\xb4\xbd\xa8\xca\xb1\xbc\xe4,\xcd\xea\xb3\xc9\xca\xb1\xbc\xe4,\xc3\xc5\xb5\xea\xb1\xe0\xba\xc5,\xc3\xc5\xb5\xea\xc3\xfb\xb3\xc6,\xb2\xd9\xd7\xf7\xd4\xb1,\xd6\xd5\xb6\xcb\xba\xc5,\xb6\xd4\xb7\xbd\xd5\xcb\xbb\xa7,\xb6\xa9\xb5\xa5\xbd\xf0\xb6\xee\xa3\xa8\xd4\xaa\xa3\xa9,\xc9\xcc\xbc\xd2\xca\xb5\xca\xd5\xa3\xa8\xd4\xaa\xa3\xa9,\xd6\xa7\xb8\xb6\xb1\xa6\xba\xec\xb0\xfc\xa3\xa8\xd4\xaa\xa3\xa9,\xbc\xaf\xb7\xd6\xb1\xa6\xa3\xa8\xd4\xaa\xa3\xa9,\xd6\xa7\xb8\xb6\xb1\xa6\xd3\xc5\xbb\xdd\xa3\xa8\xd4\xaa\xa3\xa9,\xc9\xcc\xbc\xd2\xd3\xc5\xbb\xdd\xa3\xa8\xd4\xaa\xa3\xa9,\xc8\xaf\xba\xcb\xcf\xfa\xbd\xf0\xb6\xee\xa3\xa8\xd4\xaa\xa3\xa9,\xc8\xaf\xc3\xfb\xb3\xc6,\xc9\xcc\xbc\xd2\xba\xec\xb0\xfc\xcf\xfb\xb7\xd1\xbd\xf0\xb6\xee\xa3\xa8\xd4\xaa\xa3\xa9,\xbf\xa8\xcf\xfb\xb7\xd1\xbd\xf0\xb6\xee\xa3\xa8\xd4\xaa\xa3\xa9,\xcd\xcb\xbf\xee\xc5\xfa\xb4\xce\xba\xc5/\xc7\xeb\xc7\xf3\xba\xc5,\xb7\xfe\xce\xf1\xb7\xd1\xa3\xa8\xd4\xaa\xa3\xa9,\xb7\xd6\xc8\xf3\xa3\xa8\xd4\xaa\xa3\xa9,\xb1\xb8\xd7\xa2";
const GBK_TITLE: &[u8] =
    b"#\xd6\xa7\xb8\xb6\xb1\xa6\xd2\xb5\xce\xf1\xc3\xf7\xcf\xb8\xb2\xe9\xd1\xaf";
const GBK_LIST_START: &[u8] = b"#-----------------------------------------\xd2\xb5\xce\xf1\xc3\xf7\xcf\xb8\xc1\xd0\xb1\xed----------------------------------------";
const GBK_LIST_END: &[u8] = b"#-----------------------------------------\xd2\xb5\xce\xf1\xc3\xf7\xcf\xb8\xc1\xd0\xb1\xed\xbd\xe1\xca\xf8------------------------------------";
const GBK_TRADE: &[u8] = b"\xbd\xbb\xd2\xd7";
const GBK_REFUND: &[u8] = b"\xcd\xcb\xbf\xee";
const GBK_SUBJECT: &[u8] = b"ChatHub \xd0\xf8\xb7\xd1";
const GBK_DETAIL: &[u8] = b"\xd2\xb5\xce\xf1\xc3\xf7\xcf\xb8";
const GBK_SUMMARY: &[u8] = b"\xd2\xb5\xce\xf1\xc3\xf7\xcf\xb8(\xbb\xe3\xd7\xdc)";
const GBK_TOTAL: &[u8] = b"#\xbd\xbb\xd2\xd7\xba\xcf\xbc\xc6\xa3\xba";
const GBK_SUMMARY_HEADER: &[u8] = b"\xc3\xc5\xb5\xea\xb1\xe0\xba\xc5,\xc3\xc5\xb5\xea\xc3\xfb\xb3\xc6,\xbd\xbb\xd2\xd7\xb6\xa9\xb5\xa5\xd7\xdc\xb1\xca\xca\xfd,\xcd\xcb\xbf\xee\xb6\xa9\xb5\xa5\xd7\xdc\xb1\xca\xca\xfd,\xb6\xa9\xb5\xa5\xbd\xf0\xb6\xee\xa3\xa8\xd4\xaa\xa3\xa9,\xc9\xcc\xbc\xd2\xca\xb5\xca\xd5\xa3\xa8\xd4\xaa\xa3\xa9";

const ALIPAY_PID: &str = "2088102177000000";

/// Alipay's `<pid>_<yyyymmdd>_业务明细.csv` (GBK): title lines, the header, one row per line
/// (values padded with tabs as Alipay pads them; refunds negative), the totals.
pub fn alipay_detail_csv(lines: &[BillLine], bill_date: &str) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    let mut push = |parts: &[&[u8]]| {
        for p in parts {
            out.extend_from_slice(p);
        }
        out.extend_from_slice(b"\r\n");
    };
    push(&[GBK_TITLE]);
    push(&[format!("#[{ALIPAY_PID}0156]").as_bytes()]);
    push(&[format!("#[{bill_date} 00:00:00]").as_bytes()]);
    push(&[GBK_LIST_START]);
    push(&[GBK_HEADER]);
    for l in lines {
        let (kind, sign, request_no) = match &l.refund_request_no {
            Some(no) => (GBK_REFUND, "-", no.as_str()),
            None => (GBK_TRADE, "", ""),
        };
        let amount = format!("{sign}{}", money(l.amount_cents));
        let cells: Vec<Vec<u8>> = vec![
            format!("{}\t", l.trade_no).into_bytes(),
            format!("{}\t", l.out_trade_no).into_bytes(),
            kind.to_vec(),
            GBK_SUBJECT.to_vec(),
            format!("{bill_date} 10:00:00").into_bytes(),
            format!("{bill_date} 10:00:05").into_bytes(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            b"buy***@example.com".to_vec(),
            amount.clone().into_bytes(),
            amount.into_bytes(),
            b"0.00".to_vec(),
            b"0.00".to_vec(),
            b"0.00".to_vec(),
            b"0.00".to_vec(),
            b"0.00".to_vec(),
            Vec::new(),
            b"0.00".to_vec(),
            b"0.00".to_vec(),
            format!("{request_no}\t").into_bytes(),
            b"0.00".to_vec(),
            b"0.00".to_vec(),
            Vec::new(),
        ];
        let joined: Vec<u8> = cells.join(&b","[..]);
        push(&[&joined]);
    }
    push(&[GBK_LIST_END]);
    push(&[GBK_TOTAL, format!("{}", lines.len()).as_bytes()]);
    out
}

/// The `(汇总)` companion file (GBK), which the reader must leave aside.
fn alipay_summary_csv(lines: &[BillLine]) -> Vec<u8> {
    let mut out = GBK_SUMMARY_HEADER.to_vec();
    out.extend_from_slice(format!("\r\n,,{},0,0.00,0.00\r\n", lines.len()).as_bytes());
    out
}

/// Alipay's bill archive: the detail and summary CSVs, deflated, named in GBK.
pub fn alipay_bill_zip(lines: &[BillLine], bill_date: &str) -> Vec<u8> {
    let day = bill_date.replace('-', "");
    let name = |suffix: &[u8]| {
        let mut n = format!("{ALIPAY_PID}0156_{day}_").into_bytes();
        n.extend_from_slice(suffix);
        n.extend_from_slice(b".csv");
        n
    };
    write_zip(&[
        (name(GBK_DETAIL), alipay_detail_csv(lines, bill_date)),
        (name(GBK_SUMMARY), alipay_summary_csv(lines)),
    ])
}

/// A zip archive of deflated entries (local headers, central directory, end record).
pub fn write_zip(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).expect("deflate in memory");
        let packed = enc.finish().expect("deflate in memory");
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let offset = out.len() as u32;
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0u16.to_le_bytes()); // flags: names not UTF-8 (GBK)
            v.extend_from_slice(&8u16.to_le_bytes()); // deflate
            v.extend_from_slice(&0u32.to_le_bytes()); // time, date
            v.extend_from_slice(&crc.sum().to_le_bytes());
            v.extend_from_slice(&(packed.len() as u32).to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        out.extend_from_slice(&[0x50, 0x4b, 0x03, 0x04]);
        common(&mut out);
        out.extend_from_slice(name);
        out.extend_from_slice(&packed);
        central.extend_from_slice(&[0x50, 0x4b, 0x01, 0x02]);
        central.extend_from_slice(&20u16.to_le_bytes()); // made by
        common(&mut central);
        central.extend_from_slice(&[0u8; 6]); // comment len, disk, internal attrs
        central.extend_from_slice(&0u32.to_le_bytes()); // external attrs
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&[0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// WeChat Pay's trade bill (`bill_type=ALL`): its header, one back-quoted row per line, the
/// summary header and row.
pub fn wechat_bill_csv(keys: &GatewayKeys, lines: &[BillLine], bill_date: &str) -> Vec<u8> {
    let mut out = String::from(
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n",
    );
    let (mut paid, mut refunded) = (0, 0);
    for l in lines {
        let a = money(l.amount_cents);
        let z = "0.00".to_string();
        let cells: Vec<String> = match &l.refund_request_no {
            None => {
                paid += l.amount_cents;
                vec![
                    format!("{bill_date} 10:00:00"),
                    keys.wechat_app_id.clone(),
                    keys.wechat_mch_id.clone(),
                    "0".into(),
                    String::new(),
                    l.trade_no.clone(),
                    l.out_trade_no.clone(),
                    "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into(),
                    "NATIVE".into(),
                    "SUCCESS".into(),
                    "OTHERS".into(),
                    "CNY".into(),
                    a.clone(),
                    z.clone(),
                    "0".into(),
                    "0".into(),
                    z.clone(),
                    z.clone(),
                    String::new(),
                    String::new(),
                    "ChatHub 续费".into(),
                    String::new(),
                    "0.00000".into(),
                    "0.60%".into(),
                    a,
                    z,
                    String::new(),
                ]
            }
            Some(no) => {
                refunded += l.amount_cents;
                vec![
                    format!("{bill_date} 11:00:00"),
                    keys.wechat_app_id.clone(),
                    keys.wechat_mch_id.clone(),
                    "0".into(),
                    String::new(),
                    l.trade_no.clone(),
                    l.out_trade_no.clone(),
                    "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into(),
                    "NATIVE".into(),
                    "REFUND".into(),
                    "OTHERS".into(),
                    "CNY".into(),
                    z.clone(),
                    z.clone(),
                    "50300000001".into(),
                    no.clone(),
                    a.clone(),
                    z.clone(),
                    "ORIGINAL".into(),
                    "SUCCESS".into(),
                    "ChatHub 续费".into(),
                    String::new(),
                    "0.00000".into(),
                    "0.60%".into(),
                    z,
                    a,
                    String::new(),
                ]
            }
        };
        let row: Vec<String> = cells.into_iter().map(|c| format!("`{c}")).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out.push_str("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n");
    out.push_str(&format!(
        "`{},`{},`{},`0.00,`0.00000,`{},`{}\r\n",
        lines.len(),
        money(paid),
        money(refunded),
        money(paid),
        money(refunded)
    ));
    out.into_bytes()
}

/// The test fake's HTTP answer for Alipay's refund, refund query and bill calls and for the
/// bill file (`GET /bill/<date>.csv.zip`); `None` for everything else. A refund call while
/// [`Refunds::hang_after_refund`] is set is carried out and never answered.
pub(crate) async fn serve_alipay(
    keys: &GatewayKeys,
    trades: &Trades,
    refunds: &Refunds,
    req: &crate::http_serve::Req,
    form: &[(String, String)],
    base_url: &str,
) -> Option<crate::http_serve::Resp> {
    if let Some(date) = req
        .path
        .strip_prefix("/bill/")
        .and_then(|p| p.strip_suffix(".csv.zip"))
    {
        return Some(match refunds.bill(date) {
            Some(file) => crate::http_serve::reply(200, "application/zip", file),
            None => crate::http_serve::reply(404, "text/plain", "no such bill"),
        });
    }
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("method") == Some(pay::alipay::CLOSE_METHOD) {
        let biz: serde_json::Value =
            serde_json::from_str(field("biz_content").unwrap_or_default()).unwrap_or_default();
        refunds.closing(trades, biz["out_trade_no"].as_str().unwrap_or_default());
    }
    let answer = answer_alipay(keys, trades, refunds, form, base_url)?;
    let is_refund = form
        .iter()
        .any(|(k, v)| k == "method" && v == pay::alipay_refund::REFUND_METHOD);
    if is_refund && refunds.take_hang() {
        std::future::pending::<()>().await;
    }
    Some(crate::http_serve::reply(
        200,
        "text/html;charset=utf-8",
        answer,
    ))
}

/// The test fake's HTTP answer for WeChat Pay's refund, refund query, `tradebill` and bill
/// download; `None` for everything else.
pub(crate) async fn serve_wechat(
    keys: &GatewayKeys,
    trades: &Trades,
    refunds: &Refunds,
    req: &crate::http_serve::Req,
    auth: &str,
    base_url: &str,
    now: i64,
) -> Option<crate::http_serve::Resp> {
    if let Some(no) = req
        .path
        .strip_prefix("/v3/pay/transactions/out-trade-no/")
        .and_then(|p| p.strip_suffix("/close"))
    {
        refunds.closing(trades, no);
        return None;
    }
    let (status, body, signed) = answer_wechat(keys, trades, refunds, req, auth, base_url)?;
    if req.path == pay::wechat_refund::REFUNDS_PATH && refunds.take_hang() {
        std::future::pending::<()>().await;
    }
    Some(if signed {
        super::wechat::signed_reply(
            keys,
            (status, String::from_utf8_lossy(&body).into_owned()),
            now,
        )
    } else {
        crate::http_serve::reply(status, "text/plain", body)
    })
}
