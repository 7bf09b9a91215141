//! Alipay refunds (`alipay.trade.refund`, `alipay.trade.fastpay.refund.query`) and the trade
//! bill's download URL (`alipay.data.dataservice.bill.downloadurl.query`). The calls are
//! `alipay::api_form` + `alipay::call` + `alipay::verify_response`, as for query and close;
//! here are their bodies and how their verified answers read.

use super::QueryError;
use super::refund::{RefundExpect, RefundState};
use crate::domain::money::Money;

pub const REFUND_METHOD: &str = "alipay.trade.refund";
pub const REFUND_QUERY_METHOD: &str = "alipay.trade.fastpay.refund.query";
pub const BILL_METHOD: &str = "alipay.data.dataservice.bill.downloadurl.query";

fn text<'a>(node: &'a serde_json::Map<String, serde_json::Value>, name: &str) -> &'a str {
    node.get(name).and_then(|v| v.as_str()).unwrap_or_default()
}

/// `biz_content` of a refund: the same `out_request_no` on every retry makes Alipay refund
/// once (a repeat answers success without moving money again).
pub fn refund_biz(e: &RefundExpect<'_>, reason: &str) -> serde_json::Value {
    let mut biz = serde_json::json!({
        "out_trade_no": e.order_no,
        "refund_amount": e.amount.decimal(),
        "out_request_no": e.request_no,
    });
    if !reason.is_empty() {
        biz["refund_reason"] = reason.into();
    }
    biz
}

/// Sub-codes after which the outcome is unknown: the refund may or may not have been made, so
/// it is sent again later with the same number rather than marked failed.
fn outcome_unknown(sub_code: &str) -> bool {
    matches!(
        sub_code,
        "ACQ.SYSTEM_ERROR" | "aop.ACQ.SYSTEM_ERROR" | "isp.unknow-error" | "ACQ.REFUND_FEE_ERROR"
    ) || sub_code.starts_with("isp.")
}

/// Read a verified `alipay_trade_refund_response`. `fund_change = Y` is success; `N` (a repeat
/// of a refund already made, or one still in progress) must be confirmed with the refund query.
pub fn read_refund(
    node: &serde_json::Map<String, serde_json::Value>,
    e: &RefundExpect<'_>,
) -> Result<RefundState, QueryError> {
    let code = text(node, "code");
    if code != "10000" {
        let sub = text(node, "sub_code");
        if outcome_unknown(sub) {
            return Err(QueryError::Transport(format!("{code} {sub}")));
        }
        return Ok(RefundState::Failed(format!("{code} {sub}")));
    }
    if text(node, "out_trade_no") != e.order_no {
        return Err(QueryError::Mismatch("answer for another order"));
    }
    if text(node, "fund_change") == "Y" {
        Ok(RefundState::Succeeded {
            refund_no: Some(text(node, "trade_no").to_string()).filter(|s| !s.is_empty()),
        })
    } else {
        Ok(RefundState::Processing)
    }
}

/// `biz_content` of the refund query for one request number.
pub fn refund_query_biz(e: &RefundExpect<'_>) -> serde_json::Value {
    serde_json::json!({
        "out_trade_no": e.order_no,
        "out_request_no": e.request_no,
        "query_options": ["gmt_refund_pay"],
    })
}

/// Read a verified `alipay_trade_fastpay_refund_query_response`. Alipay's current
/// documentation: only `refund_status = REFUND_SUCCESS` is a refund made; without it the
/// request was not received or failed, so the same request may be sent again. (Older pages
/// took any answer naming the refund as success; the field's description, which the SDKs'
/// models carry, says otherwise, and a refund taken for made when it failed would cost the
/// tenant its days for nothing, while one taken for not made is only asked about again.)
pub fn read_refund_query(
    node: &serde_json::Map<String, serde_json::Value>,
    e: &RefundExpect<'_>,
) -> Result<RefundState, QueryError> {
    let code = text(node, "code");
    if code != "10000" {
        let sub = text(node, "sub_code");
        return match sub {
            "ACQ.TRADE_NOT_EXIST" => Ok(RefundState::NotFound),
            _ => Err(QueryError::Rejected(format!("{code} {sub}"))),
        };
    }
    if text(node, "refund_status") != "REFUND_SUCCESS" {
        return Ok(RefundState::NotFound);
    }
    if text(node, "out_trade_no") != e.order_no || text(node, "out_request_no") != e.request_no {
        return Err(QueryError::Mismatch("answer for another refund"));
    }
    if Money::parse(text(node, "refund_amount")) != Some(e.amount) {
        return Err(QueryError::Mismatch("refund amount differs"));
    }
    Ok(RefundState::Succeeded { refund_no: None })
}

/// `biz_content` of the bill download URL for one day's trades.
pub fn bill_biz(bill_date: &str) -> serde_json::Value {
    serde_json::json!({ "bill_type": "trade", "bill_date": bill_date })
}

/// Read a verified `alipay_data_dataservice_bill_downloadurl_query_response`: the URL of the
/// zip (valid 30 s).
pub fn read_bill_url(
    node: &serde_json::Map<String, serde_json::Value>,
) -> Result<String, QueryError> {
    match (text(node, "code"), text(node, "bill_download_url")) {
        ("10000", url) if url.starts_with("http://") || url.starts_with("https://") => {
            Ok(url.to_string())
        }
        ("10000", _) => Err(QueryError::Transport(
            "answer has no bill_download_url".into(),
        )),
        (code, _) => Err(QueryError::Rejected(format!(
            "{code} {}",
            text(node, "sub_code")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(text: &str) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(text).unwrap()
    }

    fn e() -> RefundExpect<'static> {
        RefundExpect {
            order_no: "CH1",
            request_no: "RF1",
            amount: Money::from_cents(6000),
        }
    }

    #[test]
    fn fund_change_y_is_success_n_needs_the_query() {
        let ok = r#"{"code":"10000","out_trade_no":"CH1","trade_no":"T1","fund_change":"Y","refund_fee":"60.00"}"#;
        assert_eq!(
            read_refund(&node(ok), &e()),
            Ok(RefundState::Succeeded {
                refund_no: Some("T1".into())
            })
        );
        let repeat = ok.replace("\"Y\"", "\"N\"");
        assert_eq!(
            read_refund(&node(&repeat), &e()),
            Ok(RefundState::Processing)
        );
        let other = ok.replace("CH1", "CH2");
        assert!(matches!(
            read_refund(&node(&other), &e()),
            Err(QueryError::Mismatch(_))
        ));
        let unknown = r#"{"code":"20000","sub_code":"ACQ.SYSTEM_ERROR"}"#;
        assert!(matches!(
            read_refund(&node(unknown), &e()),
            Err(QueryError::Transport(_))
        ));
        let refused = r#"{"code":"40004","sub_code":"ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"}"#;
        assert!(matches!(
            read_refund(&node(refused), &e()),
            Ok(RefundState::Failed(_))
        ));
    }

    #[test]
    fn only_refund_success_of_this_request_at_its_amount_is_a_refund() {
        let ok = r#"{"code":"10000","out_trade_no":"CH1","out_request_no":"RF1","refund_amount":"60.00","refund_status":"REFUND_SUCCESS"}"#;
        assert_eq!(
            read_refund_query(&node(ok), &e()),
            Ok(RefundState::Succeeded { refund_no: None })
        );
        let none = r#"{"code":"10000","out_trade_no":"CH1"}"#;
        assert_eq!(
            read_refund_query(&node(none), &e()),
            Ok(RefundState::NotFound)
        );
        let cheap = ok.replace("60.00", "6.00");
        assert!(read_refund_query(&node(&cheap), &e()).is_err());
        let other = ok.replace("RF1", "RF2");
        assert!(read_refund_query(&node(&other), &e()).is_err());
    }
}
