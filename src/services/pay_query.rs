//! Asking the gateways about orders they were sent, and closing them past their deadline.
//!
//! A notification alone can be lost (a deploy, nginx down, a wrong `public_base_url`; WeChat
//! Pay stops retrying after about a day), so an order sent to a gateway is also *queried*:
//! by `payReturn` (bounded, so the member usually lands on `just_paid`), by the admin's
//! 查询支付状态, and by the worker's sweep on a back-off. A query that finds the order paid
//! credits it through the same exactly-once `db::order::mark_paid` as a notification.
//! Past its deadline an unpaid order is closed at the gateway first, then locally; a payment
//! that lands anyway is still credited (`mark_paid` takes closed orders) and logged.
//!
//! Every query and close is a `fa_chathub_log` row (`pay_query_<method>` /
//! `pay_close_<method>`, detail `<order_no> <outcome>[: why]`), which `/metrics` and
//! `check --live` count. Who asks holds a lease on the order's `chathub_pay_query` rows, so
//! the instances never ask about one order at once.

use std::time::Duration;

use crate::clients::pay::{self, CloseOutcome, QueryError, TradeState, alipay, wechat};
use crate::db::log::{self, LogStatus, NewLog};
use crate::db::order::{self, MarkPaid, Order, Payment};
use crate::db::pay_query::{self, Scheduled};
use crate::domain::ids::OrderStatus;
use crate::domain::money::PayMethod;
use crate::error::AppError;
use crate::services::app::App;
use crate::services::pay_keys;

/// One sweep query or close; the member is not waiting on it.
pub const SWEEP_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The admin's query, per gateway (two at most, inside the page's request bound).
pub const ADMIN_CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// `payReturn` is polled every 3 s by the WeChat QR page: it asks at most this often.
const RETURN_QUERY_SPACING_SECS: i64 = 10;
/// The sweep stops asking this long after an order went to a gateway.
pub const GIVE_UP_AFTER_SECS: i64 = 48 * 3600;
/// A lease outlasts the call it covers by this much.
const LEASE_MARGIN_SECS: i64 = 30;

/// Who asked, for the log row's `operator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asker<'a> {
    Sweep,
    Return,
    Admin(&'a str),
}

impl Asker<'_> {
    fn operator(&self) -> &str {
        match self {
            Asker::Sweep => "system",
            Asker::Return => "member",
            Asker::Admin(name) => name,
        }
    }
}

/// What asking about an order came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Checked {
    /// A gateway says it is paid; `credited` when this query credited it (else a
    /// notification or another query had).
    Paid { credited: bool },
    /// Asked, not paid (or closed at the gateway).
    NotPaid,
    /// Someone else is asking right now, or it was asked a moment ago.
    Busy,
    /// Never sent to a gateway, or no longer pending: nothing to ask.
    NotSent,
    /// No gateway gave an answer we may act on.
    Failed(String),
}

/// The delay before query number `done + 1`: the first, then 5×, 15×, 60× it (1 min, 5 min,
/// 15 min, then hourly with the default).
pub fn backoff(first_secs: i64, done: u32) -> i64 {
    first_secs * [1, 5, 15, 60][(done as usize).min(3)]
}

fn owner() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Ask every gateway the order went to, crediting it when one says paid. Nothing is
/// closed here (the sweep does that past the deadline).
pub async fn check_order(
    app: &App,
    order: &Order,
    asker: Asker<'_>,
    timeout: Duration,
) -> Result<Checked, AppError> {
    if order.status != OrderStatus::Pending {
        return Ok(Checked::NotSent);
    }
    let t = &app.db.t;
    let now = app.clock.epoch();
    let me = owner();
    let mut conn = app.db.conn().await?;
    let rows = pay_query::for_order(&mut conn, t, order.id).await?;
    if rows.is_empty() {
        return Ok(Checked::NotSent);
    }
    if asker == Asker::Return
        && rows
            .iter()
            .any(|r| now - r.last_asked < RETURN_QUERY_SPACING_SECS)
    {
        return Ok(Checked::Busy);
    }
    let until = now + timeout.as_secs() as i64 * rows.len() as i64 + LEASE_MARGIN_SECS;
    if !pay_query::claim(&mut conn, t, order.id, &me, now, until).await? {
        return Ok(Checked::Busy);
    }
    drop(conn);
    let result = ask_all(app, order, &rows, asker, timeout)
        .await
        .map(|(checked, _)| checked);
    let mut conn = app.db.conn().await?;
    match &result {
        Ok(Checked::Paid { .. }) => pay_query::finish(&mut conn, t, order.id).await?,
        _ => pay_query::release(&mut conn, t, order.id, &me, app.clock.epoch()).await?,
    }
    result
}

/// Ask each gateway in turn until one says paid; also which ones said they closed it.
async fn ask_all(
    app: &App,
    order: &Order,
    rows: &[Scheduled],
    asker: Asker<'_>,
    timeout: Duration,
) -> Result<(Checked, Vec<PayMethod>), AppError> {
    let mut failure = None;
    let mut closed = Vec::new();
    for row in rows {
        match query_and_credit(app, order, row.method, asker, timeout).await? {
            Ok(Asked::Paid(credited)) => return Ok((Checked::Paid { credited }, closed)),
            Ok(Asked::NotPaid) => {}
            Ok(Asked::Closed) => closed.push(row.method),
            Err(e) => failure = Some(e.to_string()),
        }
    }
    Ok((failure.map_or(Checked::NotPaid, Checked::Failed), closed))
}

/// One gateway's verified answer, once a paid one is credited.
enum Asked {
    /// `true` when this query credited it.
    Paid(bool),
    NotPaid,
    Closed,
}

/// One query at one gateway, logged; a paid answer is credited.
async fn query_and_credit(
    app: &App,
    order: &Order,
    method: PayMethod,
    asker: Asker<'_>,
    timeout: Duration,
) -> Result<Result<Asked, QueryError>, AppError> {
    let answer = query(app, order, method, timeout).await;
    let (outcome, asked) = match &answer {
        Ok(TradeState::Paid { trade_no }) => {
            let credited = matches!(
                settle(app, order, method, trade_no).await?,
                MarkPaid::Paid { .. }
            );
            let outcome = if credited { "credited" } else { "paid" };
            (outcome, Asked::Paid(credited))
        }
        Ok(TradeState::NotPaid) => ("not_paid", Asked::NotPaid),
        Ok(TradeState::Closed) => ("closed", Asked::Closed),
        Err(e) => (e.label(), Asked::NotPaid),
    };
    let why = answer.as_ref().err().map(ToString::to_string);
    record(
        app,
        order,
        "pay_query",
        method,
        outcome,
        why.as_deref(),
        asker,
    )
    .await?;
    Ok(answer.map(|_| asked))
}

/// The log row of one query or close, and its count in this process's metrics.
async fn record(
    app: &App,
    order: &Order,
    kind: &str,
    method: PayMethod,
    outcome: &'static str,
    why: Option<&str>,
    asker: Asker<'_>,
) -> Result<(), AppError> {
    let action = format!("{kind}_{}", method.as_str());
    let mut detail = format!("{} {outcome}", order.order_no);
    if let Some(why) = why {
        detail.push_str(": ");
        detail.push_str(why);
    }
    let verified = !matches!(
        outcome,
        "unreachable" | "unauthentic" | "mismatch" | "rejected" | "unconfigured"
    );
    if !verified {
        tracing::warn!(order_no = %order.order_no, action, outcome, why, "payment gateway call told us nothing");
    }
    let mut conn = app.db.conn().await?;
    log::insert(
        &mut conn,
        &app.db.t,
        &NewLog {
            tenant_id: order.tenant_id.0,
            action: &action,
            detail: &detail,
            status: if verified {
                LogStatus::Success
            } else {
                LogStatus::Failed
            },
            operator: asker.operator(),
            createtime: app.clock.epoch(),
        },
    )
    .await
}

/// The merchant's Alipay credentials, parsed.
pub(crate) struct AlipayCreds {
    pub(crate) gateway: String,
    pub(crate) app_id: String,
    private_key: rsa::PrivateKey,
    keys: pay_keys::AlipayKeys,
}

pub(crate) async fn alipay_creds(app: &App) -> Result<AlipayCreds, QueryError> {
    let cfg = app.addon();
    let private =
        secrecy::ExposeSecret::expose_secret(&cfg.alipay_merchant_private_key).to_string();
    if cfg.alipay_app_id.is_empty()
        || private.is_empty()
        || (!cfg.alipay_cert_mode() && cfg.alipay_public_key.trim().is_empty())
    {
        return Err(QueryError::Rejected("alipay not configured".into()));
    }
    let keys = pay_keys::alipay_keys(app)
        .await
        .map_err(|e| QueryError::Rejected(format!("alipay keys: {e}")))?;
    let private_key = tokio::task::spawn_blocking(move || pay::parse_private_key(&private))
        .await
        .map_err(|e| QueryError::Rejected(format!("key parsing task: {e}")))?
        .map_err(|e| QueryError::Rejected(format!("alipay keys: {e}")))?;
    Ok(AlipayCreds {
        gateway: pay_keys::alipay_gateway(app, &cfg),
        app_id: cfg.alipay_app_id.clone(),
        private_key,
        keys,
    })
}

/// The merchant's WeChat Pay credentials, parsed.
pub(crate) struct WechatCreds {
    pub(crate) merchant_key: rsa::PrivateKey,
    pub(crate) serial: String,
}

pub(crate) async fn wechat_creds(app: &App) -> Result<WechatCreds, QueryError> {
    let (merchant_key, serial) = pay_keys::wechat_merchant(app)
        .await
        .map_err(QueryError::Rejected)?;
    Ok(WechatCreds {
        merchant_key,
        serial,
    })
}

/// `alipay.trade.query` / `GET …/out-trade-no/{no}`, answer verified and checked against
/// the order.
pub async fn query(
    app: &App,
    order: &Order,
    method: PayMethod,
    timeout: Duration,
) -> Result<TradeState, QueryError> {
    let call = async {
        match method {
            PayMethod::Alipay => {
                let c = alipay_creds(app).await?;
                let biz = serde_json::json!({ "out_trade_no": order.order_no.as_str() });
                let node = alipay_call(app, &c, alipay::QUERY_METHOD, &biz, timeout).await?;
                alipay::read_query(
                    &node,
                    &alipay::Expect {
                        app_id: &c.app_id,
                        order_no: order.order_no.as_str(),
                        amount: order.amount,
                        seller_id: Some(app.addon().alipay_seller_id.as_str())
                            .filter(|s| !s.is_empty()),
                    },
                )
            }
            PayMethod::Wechat => {
                let c = wechat_creds(app).await?;
                let cfg = app.addon();
                let path = wechat::query_path(order.order_no.as_str(), &cfg.wechat_mch_id);
                let answer = wechat_call(app, &c, reqwest::Method::GET, &path, "", timeout).await?;
                wechat::read_query(
                    &answer,
                    &wechat::Expect {
                        app_id: &cfg.wechat_app_id,
                        mch_id: &cfg.wechat_mch_id,
                        order_no: order.order_no.as_str(),
                        amount: order.amount,
                    },
                )
            }
        }
    };
    // Key parsing and signing count against the bound too: the whole ask is bounded.
    tokio::time::timeout(timeout + Duration::from_millis(500), call)
        .await
        .unwrap_or_else(|_| Err(QueryError::Transport("no answer within the bound".into())))
}

/// `alipay.trade.close` / `POST …/out-trade-no/{no}/close`.
pub async fn close(
    app: &App,
    order: &Order,
    method: PayMethod,
    timeout: Duration,
) -> Result<CloseOutcome, QueryError> {
    let call = async {
        match method {
            PayMethod::Alipay => {
                let c = alipay_creds(app).await?;
                let biz = serde_json::json!({ "out_trade_no": order.order_no.as_str() });
                let node = alipay_call(app, &c, alipay::CLOSE_METHOD, &biz, timeout).await?;
                alipay::read_close(&node)
            }
            PayMethod::Wechat => {
                let c = wechat_creds(app).await?;
                let cfg = app.addon();
                let body = serde_json::json!({ "mchid": cfg.wechat_mch_id }).to_string();
                let path = wechat::close_path(order.order_no.as_str());
                let answer =
                    wechat_call(app, &c, reqwest::Method::POST, &path, &body, timeout).await?;
                wechat::read_close(&answer)
            }
        }
    };
    tokio::time::timeout(timeout + Duration::from_millis(500), call)
        .await
        .unwrap_or_else(|_| Err(QueryError::Transport("no answer within the bound".into())))
}

pub(crate) async fn alipay_call(
    app: &App,
    c: &AlipayCreds,
    method: &'static str,
    biz: &serde_json::Value,
    timeout: Duration,
) -> Result<serde_json::Map<String, serde_json::Value>, QueryError> {
    let (app_id, key, biz, ts, sns) = (
        c.app_id.clone(),
        c.private_key.clone(),
        biz.clone(),
        app.clock.datetime(),
        c.keys.sns.clone(),
    );
    // RSA signing and verifying are CPU work: off the async workers.
    let form = tokio::task::spawn_blocking(move || {
        alipay::api_form(&app_id, &key, method, &biz, &ts, sns.as_ref())
    })
    .await
    .map_err(|e| QueryError::Transport(format!("signing task: {e}")))?;
    let body = alipay::call(&app.http, &c.gateway, &form, timeout).await?;
    // Certificate mode: the answer names the Alipay certificate that signed it.
    let public =
        pay_keys::alipay_key(app, &c.keys, alipay::response_cert_sn(&body).as_deref()).await?;
    tokio::task::spawn_blocking(move || alipay::verify_response(&body, method, &public))
        .await
        .map_err(|e| QueryError::Transport(format!("verification task: {e}")))?
}

pub(crate) async fn wechat_call(
    app: &App,
    c: &WechatCreds,
    method: reqwest::Method,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Result<wechat::Answer, QueryError> {
    pay_keys::wechat_call(app, &c.merchant_key, &c.serial, method, path, body, timeout).await
}

/// Orders read per sweep pass.
const SWEEP_BATCH: u32 = 20;
/// Orders one instance asks about at once (none holds a connection while it asks).
const SWEEP_CONCURRENCY: usize = 4;

/// One pass over the orders whose next query has come: each is claimed, asked about,
/// credited, closed past its deadline, or rescheduled. Returns how many were handled here.
pub async fn sweep_once(app: &std::sync::Arc<App>) -> Result<usize, AppError> {
    let due = crate::db::within(app.config.request_timeout, "due gateway orders", async {
        let mut conn = app.db.conn().await?;
        pay_query::due(&mut conn, &app.db.t, app.clock.epoch(), SWEEP_BATCH).await
    })
    .await?;
    let mut ids: Vec<_> = due.iter().map(|s| s.order_id).collect();
    ids.dedup();
    // Its queries and closes (two gateways at most), its database steps, and a margin.
    let bound = app.config.request_timeout + SWEEP_CALL_TIMEOUT * 4;
    let mut handled = 0;
    let mut queue = ids.into_iter();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < SWEEP_CONCURRENCY {
            let Some(id) = queue.next() else { break };
            let app = app.clone();
            running.spawn(async move {
                crate::db::within(bound, "sweeping an order", sweep_order(&app, id)).await
            });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        match done {
            Ok(Ok(true)) => handled += 1,
            Ok(Ok(false)) => {}
            Ok(Err(e)) => app.db.health.report_background(&e, "payment sweep"),
            Err(e) => tracing::warn!(error = %e, "payment sweep task panicked"),
        }
    }
    Ok(handled)
}

/// Claim, ask, then close or reschedule one order. `false` when another instance has it.
async fn sweep_order(app: &App, id: crate::domain::ids::OrderId) -> Result<bool, AppError> {
    let t = &app.db.t;
    let now = app.clock.epoch();
    let me = owner();
    let mut conn = app.db.conn().await?;
    let until = now + (SWEEP_CALL_TIMEOUT * 4).as_secs() as i64 + LEASE_MARGIN_SECS;
    if !pay_query::claim(&mut conn, t, id, &me, now, until).await? {
        return Ok(false);
    }
    let rows = pay_query::for_order(&mut conn, t, id).await?;
    let order = match order::find_by_id(&mut conn, t, id).await? {
        Some(o) if o.status == OrderStatus::Pending => o,
        // Paid by a notification, closed, refunded or deleted meanwhile.
        _ => {
            pay_query::finish(&mut conn, t, id).await?;
            return Ok(true);
        }
    };
    drop(conn);
    let (checked, closed_there) =
        ask_all(app, &order, &rows, Asker::Sweep, SWEEP_CALL_TIMEOUT).await?;
    let now = app.clock.epoch();
    let deadline = rows.iter().map(|r| r.deadline).min().unwrap_or(now);
    let first = rows.iter().map(|r| r.createtime).min().unwrap_or(now);
    let mut conn = app.db.conn().await?;
    if matches!(checked, Checked::Paid { .. }) {
        pay_query::finish(&mut conn, t, id).await?;
        return Ok(true);
    }
    if now >= deadline && matches!(checked, Checked::NotPaid) {
        drop(conn);
        // A gateway that says it closed the order itself (at `time_expire`) needs no close.
        let open: Vec<Scheduled> = rows
            .iter()
            .filter(|r| !closed_there.contains(&r.method))
            .cloned()
            .collect();
        return close_everywhere(app, &order, &rows, &open, &me)
            .await
            .map(|()| true);
    }
    if now > (first + GIVE_UP_AFTER_SECS).max(deadline + 3600) {
        tracing::warn!(order_no = %order.order_no, "payment sweep gives up on an order the gateways never answered for");
        pay_query::finish(&mut conn, t, id).await?;
        return Ok(true);
    }
    for r in &rows {
        let mut next = now + backoff(app.config.pay.query_first_secs, r.queries);
        if deadline > now {
            // Asked again at the deadline at the latest, so it is closed on time.
            next = next.min(deadline);
        }
        pay_query::reschedule(&mut conn, t, id, r.method, &me, next, now).await?;
    }
    Ok(true)
}

/// Past the deadline and unpaid: close at every gateway, and only when all have closed it,
/// locally. A gateway that says it is paid after all gets asked again at once.
async fn close_everywhere(
    app: &App,
    order: &Order,
    rows: &[Scheduled],
    open: &[Scheduled],
    me: &str,
) -> Result<(), AppError> {
    let t = &app.db.t;
    let mut all_closed = true;
    let mut retry_now = false;
    for r in open {
        let closed = close(app, order, r.method, SWEEP_CALL_TIMEOUT).await;
        let (outcome, why) = match &closed {
            Ok(CloseOutcome::Closed) => ("closed", None),
            Ok(CloseOutcome::AlreadyPaid) => ("already_paid", None),
            Err(e) => (e.label(), Some(e.to_string())),
        };
        record(
            app,
            order,
            "pay_close",
            r.method,
            outcome,
            why.as_deref(),
            Asker::Sweep,
        )
        .await?;
        match closed {
            Ok(CloseOutcome::Closed) => {}
            Ok(CloseOutcome::AlreadyPaid) => {
                all_closed = false;
                retry_now = true;
            }
            Err(_) => all_closed = false,
        }
    }
    let now = app.clock.epoch();
    let mut conn = app.db.conn().await?;
    if all_closed {
        if order::close(&mut conn, t, order.id, now).await? {
            tracing::info!(order_no = %order.order_no, "unpaid order closed past its deadline");
        }
        return pay_query::finish(&mut conn, t, order.id).await;
    }
    for r in rows {
        // Paid after all: asked again a pass later, not in a loop.
        let next = if retry_now {
            now + app.config.pay.query_first_secs
        } else {
            now + backoff(app.config.pay.query_first_secs, r.queries)
        };
        pay_query::reschedule(&mut conn, t, order.id, r.method, me, next, now).await?;
    }
    Ok(())
}

/// Credit a verified payment (from a notification or a query) exactly once.
pub(crate) async fn settle(
    app: &App,
    order: &Order,
    method: PayMethod,
    trade_no: &str,
) -> Result<MarkPaid, AppError> {
    let mut conn = app.db.conn().await?;
    let result = order::mark_paid(
        &mut conn,
        &app.db.t,
        &app.clock,
        &Payment {
            order_id: order.id,
            order_no: &order.order_no,
            amount_text: &order.amount_text,
            method,
            trade_no,
            manages_suspension: app.addon().expiry.manages_suspension(),
        },
    )
    .await?;
    match &result {
        MarkPaid::Paid {
            tenant,
            needs_provisioning,
            after_close,
        } => {
            if *after_close {
                tracing::warn!(order_no = %order.order_no, "payment arrived for a closed order; credited");
            }
            tracing::info!(
                order_no = %order.order_no,
                tenant_id = tenant.map(|t| t.0),
                needs_provisioning,
                "order paid"
            );
            // Nothing left to ask the gateways.
            crate::db::pay_query::finish(&mut conn, &app.db.t, order.id).await?;
        }
        MarkPaid::AlreadyPaid => {
            tracing::info!(order_no = %order.order_no, "payment already credited")
        }
    }
    Ok(result)
}
