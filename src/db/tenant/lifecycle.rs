//! `chathub_lifecycle`, chathub's own table beside `fa_chathub_tenant`: why the worker
//! suspended a tenant (`suspended_for = 'expiry'`), a renewal paid while it was suspended
//! (`paid_at`), and the lease and back-off of the worker's `/suspend` or `/activate` call for
//! it. A table, not a column, so the tenant rows (and the admin list's JSON built from every
//! column) stay exactly the original's; the PHP addon never reads it.
//!
//! Every outcome is written in one transaction with the tenant's status and its log row, so a
//! status never changes without its reason, and a call whose answer is lost changes nothing.

use std::collections::HashMap;

use mysql_async::prelude::*;
use mysql_async::{Row, TxOpts};

use crate::db::log::{self, NewLog};
use crate::db::{Db, Tables, col_int, col_text};
use crate::domain::tenant::{TenantId, TenantStatus};
use crate::error::AppError;

/// The reason a suspension by the worker records.
pub const FOR_EXPIRY: &str = "expiry";

/// The table's name: the tenant table's prefix (kept out of `Tables`, whose fields are the
/// addon's and the provisioning worker's).
pub fn table(t: &Tables) -> String {
    let prefix = t.tenant.strip_suffix("chathub_tenant").unwrap_or("");
    format!("{prefix}chathub_lifecycle")
}

/// What the table says about one tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Marker {
    pub suspended_for_expiry: bool,
    /// A renewal was paid while the tenant was suspended (Unix seconds; 0: none).
    pub paid_at: i64,
}

/// The markers of these tenants (those without a row are left out).
pub async fn markers<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    ids: &[TenantId],
) -> Result<HashMap<TenantId, Marker>, AppError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders = vec!["?"; ids.len()].join(",");
    let rows: Vec<Row> = conn
        .exec(
            format!(
                "SELECT tenant_id, suspended_for, paid_at FROM `{}` WHERE tenant_id IN ({placeholders})",
                table(t)
            ),
            ids.iter().map(|i| i.0).collect::<Vec<_>>(),
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let id = TenantId(col_int(r, "tenant_id").unwrap_or_default() as u32);
            let marker = Marker {
                suspended_for_expiry: col_text(r, "suspended_for").as_deref() == Some(FOR_EXPIRY),
                paid_at: col_int(r, "paid_at").unwrap_or_default(),
            };
            (id, marker)
        })
        .collect())
}

/// Tenants whose next call may be made now (back-off over, nobody holding the lease), the
/// longest waiting first: for [`Move::Suspended`] active ones whose `expire_at` is at or
/// before `cutoff` (site-local DATETIME), for [`Move::Activated`] ones the worker suspended
/// for expiry that have paid since.
pub async fn due<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    which: Move,
    cutoff: &str,
    now: i64,
    limit: u32,
) -> Result<Vec<TenantId>, AppError> {
    let (filter, first, order) = match which {
        Move::Suspended => (
            "tn.status = 'active' AND tn.expire_at IS NOT NULL AND tn.expire_at <= ?",
            cutoff,
            "tn.expire_at",
        ),
        Move::Activated => (
            "tn.status = 'suspended' AND lc.suspended_for = ? AND lc.paid_at > 0",
            FOR_EXPIRY,
            "lc.paid_at",
        ),
    };
    let ids: Vec<u32> = conn
        .exec(
            format!(
                "SELECT tn.id FROM `{}` tn LEFT JOIN `{}` lc ON lc.tenant_id = tn.id WHERE {filter} \
                 AND (lc.tenant_id IS NULL OR (lc.next_attempt_at <= ? AND lc.lease_until <= ?)) \
                 ORDER BY {order}, tn.id LIMIT {limit}",
                t.tenant,
                table(t)
            ),
            (first, now, now),
        )
        .await?;
    Ok(ids.into_iter().map(TenantId).collect())
}

/// Forget the reason and payment of tenants that are no longer suspended (an admin resumed
/// them by hand) or are gone, so a later suspension by an admin is never taken for one of
/// ours. The back-off of tenants still waiting for a call is kept.
pub async fn clear_stale(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    now: i64,
) -> Result<u64, AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` lc LEFT JOIN `{}` tn ON tn.id = lc.tenant_id \
             SET lc.suspended_for = NULL, lc.suspended_at = 0, lc.paid_at = 0, lc.updatetime = ? \
             WHERE (lc.suspended_for IS NOT NULL OR lc.paid_at > 0) \
             AND (tn.id IS NULL OR tn.status <> 'suspended') AND lc.lease_until <= ?",
            table(t),
            t.tenant
        ),
        (now, now),
    )
    .await?;
    Ok(conn.affected_rows())
}

/// Take the lease on the tenant's next call for `owner` until `until`, once its back-off is
/// over: two instances never call for one tenant at once, and a dead instance's lease runs
/// out by itself. `true` when `owner` now holds it.
pub async fn claim(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    id: TenantId,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<bool, AppError> {
    let due = " AND next_attempt_at <= ?";
    super::take_lease(conn, &table(t), id, owner, now, until, due).await
}

/// Give the lease back after a call that failed, and wait until `next_attempt_at` before the
/// next one.
pub async fn failed<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    owner: &str,
    now: i64,
    next_attempt_at: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET failures = failures + 1, next_attempt_at = ?, lease_owner = NULL, \
             lease_until = 0, updatetime = ? WHERE tenant_id = ? AND lease_owner = ?",
            table(t)
        ),
        (next_attempt_at.max(0), now, id.0, owner),
    )
    .await?;
    Ok(())
}

/// Consecutive failed calls for the tenant.
pub async fn failures<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
) -> Result<u32, AppError> {
    let n: Option<u32> = conn
        .exec_first(
            format!("SELECT failures FROM `{}` WHERE tenant_id = ?", table(t)),
            (id.0,),
        )
        .await?;
    Ok(n.unwrap_or(0))
}

/// Give the lease back without a call (nothing to do any more).
pub async fn release<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    owner: &str,
) -> Result<(), AppError> {
    super::give_back_lease(conn, &table(t), id, owner).await
}

/// Which way a finished call moved the tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    /// `/suspend` answered: active → suspended, reason `expiry`.
    Suspended,
    /// `/activate` answered: suspended → active, reason and payment forgotten.
    Activated,
}

/// Write an accepted call's outcome: the status, its reason and the log row, in one
/// transaction, only while `owner` still holds the lease and the tenant is still in the state
/// the call was made for. `false`: nothing was written (the tenant changed meanwhile).
pub async fn finish(
    db: &Db,
    id: TenantId,
    owner: &str,
    which: Move,
    now_local: &str,
    log_entry: &NewLog<'_>,
) -> Result<bool, AppError> {
    let (t, table) = (&db.t, table(&db.t));
    let now = log_entry.createtime;
    let mut conn = db.conn().await?;
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    let held: Option<Option<String>> = tx
        .exec_first(
            format!("SELECT lease_owner FROM `{table}` WHERE tenant_id = ? FOR UPDATE"),
            (id.0,),
        )
        .await?;
    let current: Option<(String, Option<String>)> = tx
        .exec_first(
            format!(
                "SELECT status, CAST(expire_at AS CHAR) FROM `{}` WHERE id = ? FOR UPDATE",
                t.tenant
            ),
            (id.0,),
        )
        .await?;
    let (from, to) = match which {
        Move::Suspended => (TenantStatus::Active, TenantStatus::Suspended),
        Move::Activated => (TenantStatus::Suspended, TenantStatus::Active),
    };
    let Some((_, expire_at)) = current.filter(|(s, _)| s == from.as_str()) else {
        tx.rollback().await?;
        return Ok(false);
    };
    if held.flatten().as_deref() != Some(owner) {
        tx.rollback().await?;
        return Ok(false);
    }
    super::set_status_touch(&mut tx, t, id, to, now).await?;
    log::insert(&mut tx, t, log_entry).await?;
    match which {
        Move::Suspended => {
            // Renewed while `/suspend` was under way: the inbox is suspended all the same, so
            // the tenant is too, and the payment brings it back at once.
            let renewed = expire_at.is_some_and(|e| e.as_str() > now_local);
            let paid_at = if renewed { now } else { 0 };
            tx.exec_drop(
                format!(
                    "UPDATE `{table}` SET suspended_for = ?, suspended_at = ?, paid_at = ?, failures = 0, \
                     next_attempt_at = 0, lease_owner = NULL, lease_until = 0, updatetime = ? WHERE tenant_id = ?"
                ),
                (FOR_EXPIRY, now, paid_at, now, id.0),
            )
            .await?;
        }
        Move::Activated => {
            tx.exec_drop(
                format!(
                    "UPDATE `{table}` SET suspended_for = NULL, suspended_at = 0, paid_at = 0, failures = 0, \
                     next_attempt_at = 0, lease_owner = NULL, lease_until = 0, updatetime = ? WHERE tenant_id = ?"
                ),
                (now, id.0),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// A renewal credited inside `mark_paid`'s transaction: when the lifecycle decides when a
/// suspended tenant comes back (`manages_suspension`), it stays suspended and the payment is
/// noted for the worker (or, for an admin's suspension, for the admin to see). Otherwise the
/// status the original wrote.
pub async fn status_after_renewal<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    current: TenantStatus,
    original: TenantStatus,
    manages_suspension: bool,
    now: i64,
) -> Result<TenantStatus, AppError> {
    if !manages_suspension || current != TenantStatus::Suspended {
        return Ok(original);
    }
    conn.exec_drop(
        format!(
            "INSERT INTO `{}` (tenant_id, paid_at, updatetime) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE paid_at = VALUES(paid_at), updatetime = VALUES(updatetime)",
            table(t)
        ),
        (id.0, now, now),
    )
    .await?;
    Ok(TenantStatus::Suspended)
}
