//! Daily reconciliation (README#reconciliation): one day's trade bill from each configured
//! gateway, compared row by row with the orders and refunds.
//!
//! - paid there, pending or closed here, same amount: credited now through the exactly-once
//!   `db::order::mark_paid` (a notification and a query that were lost both end here);
//! - paid there at another amount: flagged, never credited;
//! - paid there for an order we do not have: flagged;
//! - paid here that day, absent from the bill: flagged;
//! - refunds there that we do not know, at another amount, or not final here: flagged.
//!
//! The outcome is one `chathub_reconcile` row per date and gateway (the admin's 对账 page and
//! `check --live` read it) and a `reconcile_<method>` row in the operation log. An instance
//! holds the row's lease while it works, so the daily job runs once across instances.

use std::time::Duration;

use crate::clients::pay::bill::{self, BillKind, BillRow};
use crate::clients::pay::{QueryError, alipay_refund, wechat_refund};
use crate::db::log::{self, LogStatus, NewLog};
use crate::db::order::{self, MarkPaid};
use crate::db::reconcile as store;
use crate::db::refund::{self, RefundStatus};
use crate::domain::ids::{OrderNo, OrderStatus};
use crate::domain::money::PayMethod;
use crate::error::AppError;
use crate::services::app::App;
use crate::services::pay_query::{alipay_call, alipay_creds, settle, wechat_call, wechat_creds};

/// Bound on each bill call and download.
pub const BILL_TIMEOUT: Duration = Duration::from_secs(30);
/// The whole download stays under this (the calls, the file, its parsing).
const LEASE_SECS: i64 = 600;
/// WeChat Pay makes yesterday's bill after 09:00 and advises fetching it after 10:00: the
/// daily job starts at 10:30, site time.
const DAILY_AFTER: (u32, u32) = (10, 30);
/// A failed daily run is tried again after this long.
const DAILY_RETRY_SECS: i64 = 3600;

/// One difference between a bill and our tables.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// `credited`, `amount_mismatch`, `unknown_order`, `not_in_bill`, `refund_unknown`,
    /// `refund_amount_mismatch`, `refund_not_final`.
    pub kind: String,
    pub order_no: String,
    /// What our tables say (amount, state), when we have it.
    pub ours: String,
    /// What the bill says.
    pub theirs: String,
}

impl Finding {
    /// The admin's words for the kind.
    pub fn label(&self) -> &'static str {
        match self.kind.as_str() {
            "credited" => "漏掉的支付，已补记入账",
            "amount_mismatch" => "金额不一致（未入账）",
            "unknown_order" => "账单中有、本站无此订单",
            "not_in_bill" => "本站已支付、账单中没有",
            "refund_unknown" => "账单中的退款本站没有记录",
            "refund_amount_mismatch" => "退款金额不一致",
            "refund_not_final" => "账单已有退款、本站尚未确认",
            _ => "其他差异",
        }
    }
}

/// One gateway's reconciliation of one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub bill_date: String,
    pub method: PayMethod,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Done {
        matched: u32,
        findings: Vec<Finding>,
    },
    /// The bill could not be had or read; nothing was changed.
    Failed(String),
    /// Another instance is reconciling this date and gateway now.
    Busy,
}

/// `Y-m-d`, a real date.
pub fn parse_date(raw: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()
}

/// The gateways this site has credentials for.
fn configured(app: &App) -> Vec<PayMethod> {
    let cfg = app.addon();
    let mut out = Vec::new();
    if !cfg.alipay_app_id.is_empty() {
        out.push(PayMethod::Alipay);
    }
    if !cfg.wechat_mch_id.is_empty() {
        out.push(PayMethod::Wechat);
    }
    out
}

/// Reconcile `date` at every configured gateway.
pub async fn run(app: &App, date: chrono::NaiveDate) -> Result<Vec<Report>, AppError> {
    let mut out = Vec::new();
    for method in configured(app) {
        out.push(run_one(app, date, method).await?);
    }
    Ok(out)
}

fn owner() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

async fn run_one(
    app: &App,
    date: chrono::NaiveDate,
    method: PayMethod,
) -> Result<Report, AppError> {
    let t = &app.db.t;
    let bill_date = date.format("%Y-%m-%d").to_string();
    let me = owner();
    let now = app.clock.epoch();
    {
        let mut conn = app.db.conn().await?;
        if !store::claim(&mut conn, t, &bill_date, method, &me, now, now + LEASE_SECS).await? {
            return Ok(Report {
                bill_date,
                method,
                outcome: Outcome::Busy,
            });
        }
    }
    // What is stored and logged: status, matched rows, the differences as JSON, the log text.
    let (outcome, status, matched, findings, detail) = match fetch(app, method, &bill_date).await {
        Ok(rows) => {
            let (matched, findings) = compare(app, method, date, &rows).await?;
            let detail = format!(
                "{bill_date} 对账完成：一致 {matched} 笔，差异 {} 笔",
                findings.len()
            );
            let json = serde_json::to_string(&findings).unwrap_or_default();
            (
                Outcome::Done { matched, findings },
                "done",
                matched,
                json,
                detail,
            )
        }
        Err(e) => {
            let why = e.to_string();
            let json =
                serde_json::json!([{"kind": "error", "order_no": "", "ours": "", "theirs": why}])
                    .to_string();
            let detail = format!("{bill_date} 对账失败：{why}");
            (Outcome::Failed(why), "failed", 0, json, detail)
        }
    };
    let mut conn = app.db.conn().await?;
    let now = app.clock.epoch();
    store::finish(
        &mut conn, t, &bill_date, method, &me, status, matched, &findings, now,
    )
    .await?;
    let action = format!("reconcile_{}", method.as_str());
    let clean = matches!(&outcome, Outcome::Done { findings, .. } if findings.is_empty());
    log::insert(
        &mut conn,
        t,
        &NewLog {
            tenant_id: 0,
            action: &action,
            detail: &detail,
            status: if clean {
                LogStatus::Success
            } else {
                LogStatus::Failed
            },
            operator: "system",
            createtime: now,
        },
    )
    .await?;
    if !clean {
        tracing::warn!(
            bill_date,
            method = method.as_str(),
            detail,
            "reconciliation found differences"
        );
    }
    Ok(Report {
        bill_date,
        method,
        outcome,
    })
}

/// The day's bill rows from one gateway.
async fn fetch(app: &App, method: PayMethod, bill_date: &str) -> Result<Vec<BillRow>, QueryError> {
    let work = async {
        match method {
            PayMethod::Alipay => {
                let c = alipay_creds(app).await?;
                let node = alipay_call(
                    app,
                    &c,
                    alipay_refund::BILL_METHOD,
                    &alipay_refund::bill_biz(bill_date),
                    BILL_TIMEOUT,
                )
                .await?;
                let url = alipay_refund::read_bill_url(&node)?;
                let zip =
                    bill::download(&app.http, &url, bill::MAX_BILL_BYTES, BILL_TIMEOUT).await?;
                tokio::task::spawn_blocking(move || {
                    bill::parse_alipay_zip(&zip, bill::MAX_BILL_BYTES)
                })
                .await
                .map_err(|e| QueryError::Transport(format!("parsing task: {e}")))?
                .map_err(|e| QueryError::Transport(e.to_string()))
            }
            PayMethod::Wechat => {
                let c = wechat_creds(app).await?;
                let path = wechat_refund::tradebill_path(bill_date);
                let answer =
                    wechat_call(app, &c, reqwest::Method::GET, &path, "", BILL_TIMEOUT).await?;
                let link = wechat_refund::read_tradebill(&answer)?;
                let cfg = app.addon();
                let csv = wechat_refund::download_bill(
                    &app.http,
                    (&cfg.wechat_mch_id, &c.serial, &c.merchant_key),
                    &link,
                    app.clock.epoch(),
                    BILL_TIMEOUT,
                )
                .await?;
                bill::parse_wechat_csv(&csv).map_err(|e| QueryError::Transport(e.to_string()))
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(LEASE_SECS as u64 - 60), work)
        .await
        .unwrap_or_else(|_| {
            Err(QueryError::Transport(
                "bill not had within the bound".into(),
            ))
        })
}

fn finding(kind: &str, order_no: &str, ours: String, theirs: String) -> Finding {
    Finding {
        kind: kind.into(),
        order_no: order_no.into(),
        ours,
        theirs,
    }
}

/// Compare the bill with our orders and refunds; credit what was paid and missed.
async fn compare(
    app: &App,
    method: PayMethod,
    date: chrono::NaiveDate,
    rows: &[BillRow],
) -> Result<(u32, Vec<Finding>), AppError> {
    let t = &app.db.t;
    let mut matched = 0;
    let mut findings = Vec::new();
    let mut billed = std::collections::BTreeSet::new();
    for row in rows {
        let theirs = format!("¥{}", row.amount.decimal());
        let mut conn = app.db.conn().await?;
        match &row.kind {
            BillKind::Payment => {
                billed.insert(row.out_trade_no.clone());
                let order = match OrderNo::parse(&row.out_trade_no) {
                    Some(no) => order::find_by_no(&mut conn, t, &no).await?,
                    None => None,
                };
                drop(conn);
                let Some(order) = order else {
                    findings.push(finding(
                        "unknown_order",
                        &row.out_trade_no,
                        String::new(),
                        theirs,
                    ));
                    continue;
                };
                let ours = format!("¥{} {}", order.amount.decimal(), order.status.as_str());
                if order.amount != row.amount {
                    findings.push(finding("amount_mismatch", &row.out_trade_no, ours, theirs));
                    continue;
                }
                if matches!(order.status, OrderStatus::Pending | OrderStatus::Failed)
                    && let MarkPaid::Paid { .. } =
                        settle(app, &order, method, &row.trade_no).await?
                {
                    findings.push(finding("credited", &row.out_trade_no, ours, theirs));
                    continue;
                }
                matched += 1;
            }
            BillKind::Refund { request_no } => {
                let ours = refund::find_by_request_no(&mut conn, t, request_no).await?;
                let label = format!("{} {request_no}", row.out_trade_no);
                match ours {
                    None => findings.push(finding("refund_unknown", &label, String::new(), theirs)),
                    Some(r) if r.amount != row.amount => findings.push(finding(
                        "refund_amount_mismatch",
                        &label,
                        format!("¥{}", r.amount.decimal()),
                        theirs,
                    )),
                    Some(r) if r.status != RefundStatus::Success => findings.push(finding(
                        "refund_not_final",
                        &label,
                        format!("¥{} {}", r.amount.decimal(), r.status.as_str()),
                        theirs,
                    )),
                    Some(_) => matched += 1,
                }
            }
        }
    }
    let from = format!("{} 00:00:00", date.format("%Y-%m-%d"));
    let until = format!(
        "{} 00:00:00",
        date.succ_opt().unwrap_or(date).format("%Y-%m-%d")
    );
    let paid = {
        let mut conn = app.db.conn().await?;
        store::paid_between(&mut conn, t, method, &from, &until).await?
    };
    for (order_no, amount) in paid {
        if !billed.contains(&order_no) {
            findings.push(finding(
                "not_in_bill",
                &order_no,
                format!("¥{}", amount.decimal()),
                String::new(),
            ));
        }
    }
    Ok((matched, findings))
}

/// The worker's daily job: after 10:30 site time, yesterday at every configured gateway not
/// yet reconciled (a failed run again after an hour). Off unless `pay_reconcile_daily`.
pub async fn daily(app: &App) -> Result<(), AppError> {
    use chrono::Timelike as _;
    if !app.config.pay.reconcile_daily {
        return Ok(());
    }
    let now = app.clock.now();
    if (now.hour(), now.minute()) < DAILY_AFTER {
        return Ok(());
    }
    let Some(yesterday) = now.date_naive().pred_opt() else {
        return Ok(());
    };
    let bill_date = yesterday.format("%Y-%m-%d").to_string();
    for method in configured(app) {
        let state = {
            let mut conn = app.db.conn().await?;
            store::state(&mut conn, &app.db.t, &bill_date, method).await?
        };
        let due = match state {
            None => true,
            Some((status, at)) => status == "failed" && app.clock.epoch() - at >= DAILY_RETRY_SECS,
        };
        if due {
            run_one(app, yesterday, method).await?;
        }
    }
    Ok(())
}

/// The stored reconciliations, newest first, findings decoded.
pub struct Shown {
    pub bill_date: String,
    pub method: String,
    pub status: String,
    pub matched: u32,
    pub findings: Vec<Finding>,
    pub updatetime: i64,
}

pub async fn latest(app: &App, limit: u32) -> Result<Vec<Shown>, AppError> {
    let mut conn = app.db.conn().await?;
    let rows = store::latest(&mut conn, &app.db.t, limit).await?;
    Ok(rows
        .into_iter()
        .map(|s| Shown {
            findings: serde_json::from_str(&s.findings).unwrap_or_default(),
            bill_date: s.bill_date,
            method: s.method,
            status: s.status,
            matched: s.matched,
            updatetime: s.updatetime,
        })
        .collect())
}
