//! Refunds from the admin console (README#refunds, COMPAT.md#refunds).
//!
//! A refund is a `chathub_refund` row before it is a gateway call: its request number
//! (Alipay `out_request_no`, WeChat Pay `out_refund_no`) comes from the admin's form (drawn
//! when the page was rendered), so a double click or a resubmission after a timeout names the
//! same refund, and every retry sends the same number, which both gateways refund only once.
//! Whoever calls the gateway holds the row's lease; the order row is locked while a refund is
//! opened, so no two refunds exceed what is left. Success is applied once (`db::refund::succeed`:
//! order state, the tenant's days, the log row), whether the call's answer, the refund query,
//! or WeChat Pay's notification reports it first.
//!
//! Each call is a `fa_chathub_log` row (`refund_<method>`, detail `<order_no> <request_no>
//! ¥<amount> <outcome>[: why]`). The worker's pass ([`sweep_once`]) sends pending refunds again
//! and asks about processing ones.

use std::time::Duration;

use crate::clients::pay::refund::{RefundExpect, RefundState};
use crate::clients::pay::{QueryError, alipay_refund, wechat, wechat_refund};
use crate::db::log::{self, LogStatus, NewLog};
use crate::db::order::{self, Order};
use crate::db::refund::{self, NewRefund, OpenNote, Opened, Settled};
pub use crate::db::refund::{Refund, RefundStatus};
use crate::domain::ids::{OrderNo, OrderStatus};
use crate::domain::money::{Money, PayMethod};
use crate::error::AppError;
use crate::services::app::App;
use crate::services::pay_query::{alipay_call, alipay_creds, wechat_call, wechat_creds};

/// The admin's call, per gateway step (a refund and at most one confirming query).
pub const ADMIN_CALL_TIMEOUT: Duration = Duration::from_secs(4);
/// The sweep's call.
pub const SWEEP_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// A lease outlasts the calls it covers by this much.
const LEASE_MARGIN_SECS: i64 = 30;
/// Longest reason sent (Alipay's `refund_reason` takes 256 bytes, WeChat Pay's `reason` 80
/// characters).
pub const MAX_REASON_CHARS: usize = 80;

/// The URL WeChat Pay sends refund notifications to (our own action, beside `payNotify`).
pub fn refund_notify_url(public_base_url: &str) -> String {
    format!("{public_base_url}/addons/chathub/index/refundNotify/pay_method/wechat")
}

/// A fresh request number for the refund form: `RF`, the time, 12 random hex digits (both
/// gateways take up to 64 of `[0-9A-Za-z]`).
pub fn new_request_no(app: &App) -> String {
    format!(
        "RF{}{}",
        app.clock.format_epoch(app.clock.epoch(), "%Y%m%d%H%M%S"),
        hex::encode(rand::random::<[u8; 6]>())
    )
}

fn valid_request_no(raw: &str) -> bool {
    raw.len() >= 10
        && raw.len() <= 64
        && raw.starts_with("RF")
        && raw.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The refund form as posted by the orders page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RefundForm {
    #[serde(default)]
    pub order: String,
    #[serde(default)]
    pub amount: String,
    #[serde(default)]
    pub reason: String,
    /// Days to take back with a partial refund (empty: none).
    #[serde(default)]
    pub days: String,
    #[serde(default)]
    pub request_no: String,
}

/// What a refund request came to, in the admin's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refunded {
    /// The money went back and the order and tenant show it.
    Done,
    /// Accepted by the gateway; the result follows (notification or the worker's query).
    Processing,
    /// The gateway's answer did not come or could not be trusted: the worker sends the same
    /// request again.
    Pending,
    /// The gateway refused or failed it: nothing was refunded.
    Failed(String),
    /// Someone is calling the gateway for this refund right now.
    Busy,
}

impl Refunded {
    pub fn message(&self) -> String {
        match self {
            Refunded::Done => "退款成功".into(),
            Refunded::Processing => "退款已受理，结果将自动更新".into(),
            Refunded::Pending => {
                "退款结果未确定：系统将以同一退款请求号自动重试，请稍后在订单列表查看".into()
            }
            Refunded::Failed(why) => format!("退款失败：{why}"),
            Refunded::Busy => "该退款正在处理中，请稍后查看".into(),
        }
    }
}

/// 退款: check the form, open the refund (or find the one this form already opened), call the
/// gateway. `Err` is the refusal shown to the admin; nothing was sent then.
pub async fn refund(
    app: &App,
    operator: &str,
    form: &RefundForm,
) -> Result<Result<Refunded, String>, AppError> {
    let Some(order_no) = OrderNo::parse(form.order.trim()) else {
        return Ok(Err("订单不存在".into()));
    };
    let order = {
        let mut conn = app.db.conn().await?;
        order::find_by_no(&mut conn, &app.db.t, &order_no).await?
    };
    let Some(order) = order else {
        return Ok(Err("订单不存在".into()));
    };
    let method = order.pay_method.as_deref().and_then(PayMethod::parse);
    let (Some(method), OrderStatus::Paid | OrderStatus::Refunded) = (method, order.status) else {
        return Ok(Err("只能退款已支付的订单".into()));
    };
    let Some(amount) = Money::parse(&form.amount).filter(|m| m.cents() > 0) else {
        return Ok(Err("退款金额格式错误（例如 60 或 12.50）".into()));
    };
    let reason = form.reason.trim();
    if reason.chars().count() > MAX_REASON_CHARS {
        return Ok(Err(format!("退款原因最多 {MAX_REASON_CHARS} 个字")));
    }
    let take_days = match form.days.trim() {
        "" => None,
        d => match d.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => return Ok(Err("收回天数必须是整数".into())),
        },
    };
    let request_no = form.request_no.trim();
    if !valid_request_no(request_no) {
        return Ok(Err("退款请求号无效，请刷新订单页后重试".into()));
    }
    let me = owner();
    let now = app.clock.epoch();
    let opened = {
        let mut conn = app.db.conn().await?;
        refund::open(
            &mut conn,
            &app.db.t,
            &NewRefund {
                order_id: order.id,
                request_no,
                method,
                amount,
                reason,
                take_days,
                operator,
                owner: &me,
                until: lease_until(now, ADMIN_CALL_TIMEOUT),
                now,
            },
        )
        .await?
    };
    let r = match opened {
        Opened::Created(r) => r,
        Opened::Existing(r) => match r.status {
            RefundStatus::Success => return Ok(Ok(Refunded::Done)),
            RefundStatus::Failed => return Ok(Ok(Refunded::Failed(r.note))),
            _ => {
                let mut conn = app.db.conn().await?;
                let until = lease_until(now, ADMIN_CALL_TIMEOUT);
                if !refund::claim(&mut conn, &app.db.t, r.id, &me, now, until).await? {
                    return Ok(Ok(Refunded::Busy));
                }
                r
            }
        },
        Opened::OtherOrder => return Ok(Err("退款请求号已用于其他订单".into())),
        Opened::Unresolved(r) => {
            return Ok(Err(format!(
                "该订单的退款 {} 尚未有结果，请等它完成后再退款",
                r.request_no
            )));
        }
        Opened::TooMuch { left } => {
            return Ok(Err(format!("退款金额超过可退金额 ¥{}", left.decimal())));
        }
        Opened::NotPaid => return Ok(Err("只能退款已支付的订单".into())),
    };
    let done = step(app, &order, &r, &me, operator, ADMIN_CALL_TIMEOUT).await?;
    Ok(Ok(done))
}

fn owner() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn lease_until(now: i64, timeout: Duration) -> i64 {
    now + 2 * (timeout.as_secs() as i64 + 1) + LEASE_MARGIN_SECS
}

/// The delay before the next look at an open refund: 1 min, 5 min, 15 min, then hourly.
fn backoff(attempts: u32) -> i64 {
    60 * [1, 5, 15, 60][(attempts as usize).min(3)]
}

/// One step for a leased refund: pending ones are sent (again, same number), processing ones
/// asked about. The outcome is stored, logged, and the lease given back.
async fn step(
    app: &App,
    order: &Order,
    r: &Refund,
    me: &str,
    operator: &str,
    timeout: Duration,
) -> Result<Refunded, AppError> {
    let e = RefundExpect {
        order_no: order.order_no.as_str(),
        request_no: &r.request_no,
        amount: r.amount,
    };
    let (kind, mut answer) = if r.status == RefundStatus::Pending {
        ("send", send(app, order, r, &e, timeout).await)
    } else {
        ("query", query(app, r.method, &e, timeout).await)
    };
    // Alipay's `fund_change = N` (a repeat, or still in progress) is confirmed by the query.
    if kind == "send" && r.method == PayMethod::Alipay && answer == Ok(RefundState::Processing) {
        answer = match query(app, r.method, &e, timeout).await {
            Ok(RefundState::NotFound) => Ok(RefundState::Processing),
            other => other,
        };
    }
    let outcome = match &answer {
        Ok(RefundState::Succeeded { .. }) => "success",
        Ok(RefundState::Processing) => "processing",
        Ok(RefundState::NotFound) => "not_found",
        Ok(RefundState::Failed(_)) => "failed",
        Err(e) => e.label(),
    };
    let why = match &answer {
        Ok(RefundState::Failed(why)) => Some(why.clone()),
        Err(e) => Some(e.to_string()),
        _ => None,
    };
    record(app, order, r, kind, outcome, why.as_deref(), operator).await?;
    let now = app.clock.epoch();
    let next = now + backoff(r.attempts);
    let t = &app.db.t;
    let mut conn = app.db.conn().await?;
    Ok(match answer {
        Ok(RefundState::Succeeded { refund_no }) => {
            settle(app, &mut conn, r, refund_no.as_deref()).await?;
            Refunded::Done
        }
        Ok(RefundState::Processing) => {
            let n = OpenNote {
                status: RefundStatus::Processing,
                note: "网关已受理",
                next_check_at: next,
            };
            refund::note_open(&mut conn, t, r.id, me, &n, now).await?;
            Refunded::Processing
        }
        // Asked about a refund the gateway never got: send it again (same number) next time.
        Ok(RefundState::NotFound) => {
            let status = if r.status == RefundStatus::Processing && r.method == PayMethod::Wechat {
                // WeChat Pay accepted it, so it exists; a "not found" is the gateway's lag.
                RefundStatus::Processing
            } else {
                RefundStatus::Pending
            };
            let n = OpenNote {
                status,
                note: "网关查无此退款",
                next_check_at: now + 60,
            };
            refund::note_open(&mut conn, t, r.id, me, &n, now).await?;
            if status == RefundStatus::Pending {
                Refunded::Pending
            } else {
                Refunded::Processing
            }
        }
        Ok(RefundState::Failed(why)) => {
            refund::fail(&mut conn, t, r.id, &why, now).await?;
            tracing::warn!(order_no = %order.order_no, request_no = %r.request_no, why, "refund failed at the gateway");
            Refunded::Failed(why)
        }
        Err(e) => {
            let note = e.to_string();
            let n = OpenNote {
                status: r.status,
                note: &note,
                next_check_at: next,
            };
            refund::note_open(&mut conn, t, r.id, me, &n, now).await?;
            if r.status == RefundStatus::Processing {
                Refunded::Processing
            } else {
                Refunded::Pending
            }
        }
    })
}

async fn settle(
    app: &App,
    conn: &mut mysql_async::Conn,
    r: &Refund,
    refund_no: Option<&str>,
) -> Result<(), AppError> {
    match refund::succeed(conn, &app.db.t, &app.clock, r.id, refund_no).await? {
        Settled::Applied {
            tenant,
            full,
            expiry,
        } => tracing::info!(
            request_no = %r.request_no,
            tenant_id = tenant.map(|t| t.0),
            full,
            expiry = ?expiry,
            "refund succeeded"
        ),
        Settled::AlreadyDone => {
            tracing::info!(request_no = %r.request_no, "refund success already applied")
        }
    }
    Ok(())
}

/// The refund call, answer verified.
async fn send(
    app: &App,
    order: &Order,
    r: &Refund,
    e: &RefundExpect<'_>,
    timeout: Duration,
) -> Result<RefundState, QueryError> {
    let call = async {
        match r.method {
            PayMethod::Alipay => {
                let c = alipay_creds(app).await?;
                let biz = alipay_refund::refund_biz(e, &r.reason);
                let node =
                    alipay_call(app, &c, alipay_refund::REFUND_METHOD, &biz, timeout).await?;
                alipay_refund::read_refund(&node, e)
            }
            PayMethod::Wechat => {
                let c = wechat_creds(app).await?;
                let body = wechat_refund::refund_body(
                    e,
                    order.amount,
                    &r.reason,
                    &refund_notify_url(&app.config.public_base_url),
                );
                let answer = wechat_call(
                    app,
                    &c,
                    reqwest::Method::POST,
                    wechat_refund::REFUNDS_PATH,
                    &body,
                    timeout,
                )
                .await?;
                wechat_refund::read_refund(&answer, e)
            }
        }
    };
    bounded(timeout, call).await
}

/// The refund query, answer verified.
async fn query(
    app: &App,
    method: PayMethod,
    e: &RefundExpect<'_>,
    timeout: Duration,
) -> Result<RefundState, QueryError> {
    let call = async {
        match method {
            PayMethod::Alipay => {
                let c = alipay_creds(app).await?;
                let biz = alipay_refund::refund_query_biz(e);
                let node =
                    alipay_call(app, &c, alipay_refund::REFUND_QUERY_METHOD, &biz, timeout).await?;
                alipay_refund::read_refund_query(&node, e)
            }
            PayMethod::Wechat => {
                let c = wechat_creds(app).await?;
                let path = wechat_refund::refund_query_path(e.request_no);
                let answer = wechat_call(app, &c, reqwest::Method::GET, &path, "", timeout).await?;
                wechat_refund::read_refund_query(&answer, e)
            }
        }
    };
    bounded(timeout, call).await
}

async fn bounded(
    timeout: Duration,
    call: impl std::future::Future<Output = Result<RefundState, QueryError>>,
) -> Result<RefundState, QueryError> {
    // Key parsing and signing count against the bound too.
    tokio::time::timeout(timeout + Duration::from_millis(500), call)
        .await
        .unwrap_or_else(|_| Err(QueryError::Transport("no answer within the bound".into())))
}

async fn record(
    app: &App,
    order: &Order,
    r: &Refund,
    kind: &str,
    outcome: &str,
    why: Option<&str>,
    operator: &str,
) -> Result<(), AppError> {
    let action = format!("refund_{}", r.method.as_str());
    let mut detail = format!(
        "{} {} ¥{} {kind} {outcome}",
        order.order_no,
        r.request_no,
        r.amount.decimal()
    );
    if let Some(why) = why {
        detail.push_str(": ");
        detail.push_str(why);
    }
    let verified = matches!(outcome, "success" | "processing" | "not_found" | "failed");
    if !verified {
        tracing::warn!(order_no = %order.order_no, request_no = %r.request_no, outcome, why, "refund call told us nothing");
    }
    let mut conn = app.db.conn().await?;
    log::insert(
        &mut conn,
        &app.db.t,
        &NewLog {
            tenant_id: order.tenant_id.0,
            action: &action,
            detail: &detail,
            status: if outcome == "success" || outcome == "processing" {
                LogStatus::Success
            } else {
                LogStatus::Failed
            },
            operator,
            createtime: app.clock.epoch(),
        },
    )
    .await
}

/// Refunds looked at per pass.
const SWEEP_BATCH: u32 = 20;

/// The worker's pass: every open refund whose next look has come is claimed, then sent again
/// (pending) or asked about (processing). Returns how many were handled here.
pub async fn sweep_once(app: &App) -> Result<usize, AppError> {
    let t = &app.db.t;
    let due = {
        let mut conn = app.db.conn().await?;
        refund::due(&mut conn, t, app.clock.epoch(), SWEEP_BATCH).await?
    };
    let mut handled = 0;
    for r in due {
        let me = owner();
        let now = app.clock.epoch();
        let order = {
            let mut conn = app.db.conn().await?;
            if !refund::claim(
                &mut conn,
                t,
                r.id,
                &me,
                now,
                lease_until(now, SWEEP_CALL_TIMEOUT),
            )
            .await?
            {
                continue;
            }
            order::find_by_id(&mut conn, t, r.order_id).await?
        };
        let Some(order) = order else {
            let mut conn = app.db.conn().await?;
            refund::fail(&mut conn, t, r.id, "order deleted", now).await?;
            continue;
        };
        // Its calls (a refund and a confirming query), its database steps, and a margin.
        let bound = app.config.request_timeout + SWEEP_CALL_TIMEOUT * 3;
        crate::db::within(
            bound,
            "sweeping a refund",
            step(app, &order, &r, &me, "system", SWEEP_CALL_TIMEOUT),
        )
        .await?;
        handled += 1;
    }
    Ok(handled)
}

/// What a refund notification came to, for its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeOutcome {
    Accepted,
    Unauthentic(u16),
    Mismatch,
}

/// `refundNotify/pay_method/wechat`: WeChat Pay's `REFUND.SUCCESS` / `REFUND.ABNORMAL` /
/// `REFUND.CLOSED`, verified (platform signature, timestamp window) and decrypted like a
/// payment notification, then applied to the refund it names. A replay finds it applied.
pub async fn wechat_notice(
    app: &App,
    headers: &wechat::NotifyHeaders<'_>,
    raw: &[u8],
) -> Result<NoticeOutcome, AppError> {
    use crate::services::payments::{self, Refusal};
    let cfg = app.addon();
    let checked = payments::open_wechat_notification(
        app,
        headers,
        raw,
        wechat_refund::decrypt_refund_notification,
    )
    .await?;
    payments::log_notification(app, "wechat_refund", raw, checked.is_ok()).await?;
    let notice = match checked {
        Ok(n) => n,
        Err(e) => {
            payments::refuse(app, "wechat", Refusal::Unauthentic, &e);
            return Ok(NoticeOutcome::Unauthentic(e.status()));
        }
    };
    let t = &app.db.t;
    let mut conn = app.db.conn().await?;
    let found = match refund::find_by_request_no(&mut conn, t, &notice.out_refund_no).await? {
        Some(r) if r.method == PayMethod::Wechat && notice.mchid == cfg.wechat_mch_id => {
            order::find_by_id(&mut conn, t, r.order_id)
                .await?
                .map(|o| (r, o))
        }
        _ => None,
    };
    let Some((r, order)) = found else {
        payments::refuse(
            app,
            "wechat",
            Refusal::Mismatch,
            &"refund notification for an unknown refund",
        );
        return Ok(NoticeOutcome::Mismatch);
    };
    let e = RefundExpect {
        order_no: order.order_no.as_str(),
        request_no: &r.request_no,
        amount: r.amount,
    };
    let state = match notice.state(&e) {
        Ok(s) => s,
        Err(_) => {
            tracing::error!(request_no = %r.request_no, "refund notification does not match the refund");
            return Ok(NoticeOutcome::Mismatch);
        }
    };
    let outcome = match &state {
        RefundState::Succeeded { .. } => "success",
        RefundState::Failed(_) => "failed",
        _ => "processing",
    };
    record(app, &order, &r, "notify", outcome, None, "system").await?;
    match state {
        RefundState::Succeeded { refund_no } => {
            settle(app, &mut conn, &r, refund_no.as_deref()).await?
        }
        RefundState::Failed(why) => {
            if refund::fail(&mut conn, t, r.id, &why, app.clock.epoch()).await? {
                tracing::warn!(request_no = %r.request_no, why, "refund failed at the gateway");
            }
        }
        RefundState::Processing | RefundState::NotFound => {}
    }
    Ok(NoticeOutcome::Accepted)
}

/// Each listed order's refunds, for the orders page.
pub async fn for_orders(
    app: &App,
    orders: &[crate::domain::ids::OrderId],
) -> Result<Vec<Refund>, AppError> {
    let mut conn = app.db.conn().await?;
    refund::for_orders(&mut conn, &app.db.t, orders).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers_are_checked() {
        assert!(valid_request_no("RF20260601100000abcdef012345"));
        for bad in [
            "",
            "RF",
            "XX20260601100000",
            "RF2026-06-01",
            &"RF1".repeat(30),
        ] {
            assert!(!valid_request_no(bad), "{bad}");
        }
    }
}
