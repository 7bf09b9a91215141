//! `chathub_reconcile` (chathub's own): one row per bill date and gateway, the outcome of
//! comparing that day's bill with the orders, and the lease of the instance comparing it now.

use mysql_async::prelude::*;

use crate::db::Tables;
use crate::domain::money::{Money, PayMethod};
use crate::error::AppError;

/// One stored reconciliation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub bill_date: String,
    pub method: String,
    pub status: String,
    pub matched: u32,
    /// The differences as the service wrote them (JSON).
    pub findings: String,
    pub updatetime: i64,
}

/// Claim `(bill_date, method)` for `owner` until `until`: `false` when another instance is
/// on it. Running a date again replaces its row.
pub async fn claim(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    bill_date: &str,
    method: PayMethod,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<bool, AppError> {
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let held: Option<(Option<String>, i64)> = tx
        .exec_first(
            format!(
                "SELECT claim_owner, claim_until FROM `{}` WHERE bill_date = ? AND pay_method = ? FOR UPDATE",
                t.reconcile
            ),
            (bill_date, method.as_str()),
        )
        .await?;
    if let Some((Some(o), until)) = &held
        && *until > now
        && o != owner
    {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.exec_drop(
        format!(
            "INSERT INTO `{}` (bill_date, pay_method, status, matched, findings, claim_owner, claim_until, updatetime) \
             VALUES (?, ?, 'running', 0, NULL, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE status = 'running', claim_owner = VALUES(claim_owner), \
             claim_until = VALUES(claim_until), updatetime = VALUES(updatetime)",
            t.reconcile
        ),
        (bill_date, method.as_str(), owner, until, now),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Store the outcome and give the lease back.
#[allow(clippy::too_many_arguments)]
pub async fn finish<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    bill_date: &str,
    method: PayMethod,
    owner: &str,
    status: &str,
    matched: u32,
    findings: &str,
    now: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET status = ?, matched = ?, findings = ?, claim_owner = NULL, claim_until = 0, \
             updatetime = ? WHERE bill_date = ? AND pay_method = ? AND claim_owner = ?",
            t.reconcile
        ),
        (status, matched, findings, now, bill_date, method.as_str(), owner),
    )
    .await?;
    Ok(())
}

/// The newest reconciliations, newest bill date first.
pub async fn latest<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    limit: u32,
) -> Result<Vec<Stored>, AppError> {
    type Columns = (String, String, String, u32, Option<String>, Option<i64>);
    let rows: Vec<Columns> = conn
        .exec(
            format!(
                "SELECT bill_date, pay_method, status, matched, findings, updatetime FROM `{}` \
                 ORDER BY bill_date DESC, pay_method LIMIT {limit}",
                t.reconcile
            ),
            (),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(bill_date, method, status, matched, findings, updatetime)| Stored {
                bill_date,
                method,
                status,
                matched,
                findings: findings.unwrap_or_default(),
                updatetime: updatetime.unwrap_or_default(),
            },
        )
        .collect())
}

/// `(status, updatetime)` of one date's reconciliation at one gateway.
pub async fn state<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    bill_date: &str,
    method: PayMethod,
) -> Result<Option<(String, i64)>, AppError> {
    let row: Option<(String, Option<i64>)> = conn
        .exec_first(
            format!(
                "SELECT status, updatetime FROM `{}` WHERE bill_date = ? AND pay_method = ?",
                t.reconcile
            ),
            (bill_date, method.as_str()),
        )
        .await?;
    Ok(row.map(|(s, u)| (s, u.unwrap_or_default())))
}

/// Orders paid through `method` between `from` and `until` (site-local `Y-m-d H:i:s`,
/// `until` excluded): order number and amount.
pub async fn paid_between<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    method: PayMethod,
    from: &str,
    until: &str,
) -> Result<Vec<(String, Money)>, AppError> {
    let rows: Vec<(String, String)> = conn
        .exec(
            format!(
                "SELECT order_no, CAST(amount AS CHAR) FROM `{}` WHERE pay_method = ? \
                 AND status IN ('paid', 'refunded') AND paid_at >= ? AND paid_at < ? ORDER BY id",
                t.order
            ),
            (method.as_str(), from, until),
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(no, a)| Money::parse(&a).map(|m| (no, m)))
        .collect())
}
