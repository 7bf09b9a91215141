//! `chathub_pay_query` (chathub's own): every order sent to a payment gateway, with the
//! deadline the gateway was given, when the sweep asks about it next, and the lease of whoever
//! is asking right now, so two instances never query (or close) one order at once.

use mysql_async::Row;
use mysql_async::prelude::*;

use crate::db::{Tables, col_int, col_text};
use crate::domain::ids::OrderId;
use crate::domain::money::PayMethod;
use crate::error::AppError;

/// One order at one gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheduled {
    pub order_id: OrderId,
    pub method: PayMethod,
    pub deadline: i64,
    pub queries: u32,
    pub createtime: i64,
    /// When it was last asked about (`updatetime`; 0: never).
    pub last_asked: i64,
}

impl Scheduled {
    fn from_row(row: &Row) -> Option<Scheduled> {
        Some(Scheduled {
            order_id: OrderId(col_int(row, "order_id")? as u32),
            method: PayMethod::parse(&col_text(row, "pay_method")?)?,
            deadline: col_int(row, "deadline")?,
            queries: col_int(row, "queries").unwrap_or_default() as u32,
            createtime: col_int(row, "createtime").unwrap_or_default(),
            last_asked: col_int(row, "updatetime").unwrap_or_default(),
        })
    }
}

const COLUMNS: &str = "order_id, pay_method, deadline, queries, createtime, updatetime";

/// The order's deadline, once any gateway was given one.
pub async fn deadline<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    order_id: OrderId,
) -> Result<Option<i64>, AppError> {
    let d: Option<Option<i64>> = conn
        .exec_first(
            format!(
                "SELECT MIN(deadline) FROM `{}` WHERE order_id = ?",
                t.pay_query
            ),
            (order_id.0,),
        )
        .await?;
    Ok(d.flatten())
}

/// Note that the order goes to `method` with `deadline` (the order's existing deadline, if
/// another gateway already has it, is the caller's to pass), first query at `first_query_at`.
/// Sending it again keeps the schedule.
pub async fn record_sent<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    s: &Scheduled,
    first_query_at: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "INSERT IGNORE INTO `{}` (order_id, pay_method, deadline, queries, next_query_at, createtime) \
             VALUES (?, ?, ?, 0, ?, ?)",
            t.pay_query
        ),
        (
            s.order_id.0,
            s.method.as_str(),
            s.deadline,
            first_query_at,
            s.createtime,
        ),
    )
    .await?;
    Ok(())
}

/// Every gateway the order went to.
pub async fn for_order<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    order_id: OrderId,
) -> Result<Vec<Scheduled>, AppError> {
    let rows: Vec<Row> = conn
        .exec(
            format!(
                "SELECT {COLUMNS} FROM `{}` WHERE order_id = ? ORDER BY pay_method",
                t.pay_query
            ),
            (order_id.0,),
        )
        .await?;
    Ok(rows.iter().filter_map(Scheduled::from_row).collect())
}

/// Orders whose next query has come and that nobody is asking about, longest-due first.
pub async fn due<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    now: i64,
    limit: u32,
) -> Result<Vec<Scheduled>, AppError> {
    let rows: Vec<Row> = conn
        .exec(
            format!(
                "SELECT {COLUMNS} FROM `{}` WHERE next_query_at <= ? AND claim_until <= ? \
                 ORDER BY next_query_at, order_id LIMIT {limit}",
                t.pay_query
            ),
            (now, now),
        )
        .await?;
    Ok(rows.iter().filter_map(Scheduled::from_row).collect())
}

/// Claim the order's queries at every gateway for `owner` until `until`: `true` when `owner`
/// now holds them. The rows are locked while their leases are read, so of two instances
/// claiming at once one wins; a lease whose holder died runs out by itself.
pub async fn claim(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    order_id: OrderId,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<bool, AppError> {
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let leases: Vec<(Option<String>, i64)> = tx
        .exec(
            format!(
                "SELECT claim_owner, claim_until FROM `{}` WHERE order_id = ? FOR UPDATE",
                t.pay_query
            ),
            (order_id.0,),
        )
        .await?;
    let held = leases
        .iter()
        .any(|(o, until)| *until > now && o.as_deref() != Some(owner));
    if leases.is_empty() || held {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.exec_drop(
        format!(
            "UPDATE `{}` SET claim_owner = ?, claim_until = ? WHERE order_id = ?",
            t.pay_query
        ),
        (owner, until, order_id.0),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Give the lease back and set when `method` is asked next.
pub async fn reschedule<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    order_id: OrderId,
    method: PayMethod,
    owner: &str,
    next_query_at: i64,
    now: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET queries = queries + 1, next_query_at = ?, claim_owner = NULL, \
             claim_until = 0, updatetime = ? WHERE order_id = ? AND pay_method = ? AND claim_owner = ?",
            t.pay_query
        ),
        (next_query_at, now, order_id.0, method.as_str(), owner),
    )
    .await?;
    Ok(())
}

/// Give the lease back, the schedule unchanged, noting that the order was asked about `now`.
pub async fn release<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    order_id: OrderId,
    owner: &str,
    now: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET claim_owner = NULL, claim_until = 0, updatetime = ? WHERE order_id = ? AND claim_owner = ?",
            t.pay_query
        ),
        (now, order_id.0, owner),
    )
    .await?;
    Ok(())
}

/// Nothing more to ask: the order is paid, closed everywhere, or past asking.
pub async fn finish<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    order_id: OrderId,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!("DELETE FROM `{}` WHERE order_id = ?", t.pay_query),
        (order_id.0,),
    )
    .await?;
    Ok(())
}

/// Orders still pending at a gateway past their deadline by more than `grace` seconds: what
/// `check --live` warns about (the sweep closes them within minutes when it can).
pub async fn overdue<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    now: i64,
    grace: i64,
) -> Result<i64, AppError> {
    let n: Option<i64> = conn
        .exec_first(
            format!(
                "SELECT COUNT(DISTINCT q.order_id) FROM `{}` q JOIN `{}` o ON o.id = q.order_id \
                 WHERE o.status = 'pending' AND q.deadline < ?",
                t.pay_query, t.order
            ),
            (now - grace,),
        )
        .await?;
    Ok(n.unwrap_or(0))
}
