//! Tenant and log queries behind the FastAdmin admin actions.

use std::borrow::Cow;

use mysql_async::consts::ColumnType;
use mysql_async::prelude::*;
use mysql_async::{Row, TxOpts, Value};

use crate::db::log::{self, NewLog};
use crate::db::tenant::{COLUMNS, lifecycle};
use crate::db::{Db, Tables};
use crate::domain::log::LogRow;
use crate::domain::tenant::{TenantId, TenantStatus};
use crate::error::AppError;

/// The admin list's filter (the original's `filter` JSON: status, channel_type, search).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantFilter {
    pub status: Option<String>,
    pub channel_type: Option<String>,
    /// Matched with `LIKE %search%` against tenant_name or domain (wildcards kept, as the
    /// original built the pattern the same way).
    pub search: Option<String>,
    /// chathub's own `lifecycle` key (README#subscription-lifecycle), with its bounds.
    pub lifecycle: Option<LifecycleFilter>,
}

/// The subscription lifecycle's views of the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LifecycleFilter {
    /// Active, `expire_at` after `now` and at or before `until` (site-local DATETIMEs).
    Expiring { now: String, until: String },
    /// Active and past `expire_at` (in grace, or not suspended at all).
    Expired { now: String },
    /// Suspended by the worker for non-payment.
    SuspendedForExpiry,
    /// Suspended although a renewal was paid since: an admin's suspension, and with
    /// `include_expiry` one for expiry that no payment brings back.
    PaidWhileSuspended { include_expiry: bool },
}

impl LifecycleFilter {
    fn push(&self, t: &str, parts: &mut Vec<String>, params: &mut Vec<Value>) {
        match self {
            LifecycleFilter::Expiring { now, until } => {
                parts.push("status = 'active' AND expire_at > ? AND expire_at <= ?".into());
                params.extend([now.clone().into(), until.clone().into()]);
            }
            LifecycleFilter::Expired { now } => {
                parts.push("status = 'active' AND expire_at <= ?".into());
                params.push(now.clone().into());
            }
            LifecycleFilter::SuspendedForExpiry => {
                parts.push(format!(
                    "status = 'suspended' AND id IN (SELECT tenant_id FROM `{t}` WHERE suspended_for = ?)"
                ));
                params.push(lifecycle::FOR_EXPIRY.into());
            }
            LifecycleFilter::PaidWhileSuspended { include_expiry } => {
                parts.push(format!(
                    "status = 'suspended' AND id IN (SELECT tenant_id FROM `{t}` WHERE paid_at > 0 \
                     AND (suspended_for IS NULL OR ?))"
                ));
                params.push(i64::from(*include_expiry).into());
            }
        }
    }
}

impl TenantFilter {
    fn where_clause(&self, t: &Tables) -> (String, Vec<Value>) {
        let mut parts: Vec<String> = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        if let Some(s) = &self.status {
            parts.push("status = ?".into());
            params.push(s.clone().into());
        }
        if let Some(c) = &self.channel_type {
            parts.push("channel_type = ?".into());
            params.push(c.clone().into());
        }
        if let Some(q) = &self.search {
            parts.push("(tenant_name LIKE ? OR domain LIKE ?)".into());
            let pat = format!("%{q}%");
            params.push(pat.clone().into());
            params.push(pat.into());
        }
        if let Some(l) = &self.lifecycle {
            l.push(&lifecycle::table(t), &mut parts, &mut params);
        }
        if parts.is_empty() {
            (String::new(), params)
        } else {
            (format!(" WHERE {}", parts.join(" AND ")), params)
        }
    }
}

/// One page of tenants, newest first, as raw rows, and the total matching.
pub async fn page<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    filter: &TenantFilter,
    page: u64,
    per_page: u64,
) -> Result<(u64, Vec<Row>), AppError> {
    let (clause, params) = filter.where_clause(t);
    let total: Option<u64> = conn
        .exec_first(
            format!("SELECT COUNT(*) FROM `{}`{clause}", t.tenant),
            mysql_async::Params::Positional(params.clone()),
        )
        .await?;
    let offset = page.saturating_sub(1).saturating_mul(per_page);
    let rows: Vec<Row> = conn
        .exec(
            format!(
                "SELECT {COLUMNS} FROM `{}`{clause} ORDER BY id DESC LIMIT {per_page} OFFSET {offset}",
                t.tenant
            ),
            mysql_async::Params::Positional(params),
        )
        .await?;
    Ok((total.unwrap_or(0), rows))
}

/// One value of a list row, as `db::row_to_json` reads it: integer columns as numbers,
/// everything else as text, NULL as null.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Text(Cow<'a, str>),
}

impl Cell<'_> {
    /// The value as `text` in PHP's string context: "" for null.
    pub fn to_text(&self) -> Cow<'_, str> {
        match self {
            Cell::Null => Cow::Borrowed(""),
            Cell::Int(i) => Cow::Owned(i.to_string()),
            Cell::Text(t) => Cow::Borrowed(t),
        }
    }
}

impl serde::Serialize for Cell<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Null => s.serialize_unit(),
            Cell::Int(i) => s.serialize_i64(*i),
            Cell::Text(t) => s.serialize_str(t),
        }
    }
}

/// A row's columns with their values, borrowed from the row: the same names and values as
/// `db::row_to_json`, without an owned map of owned strings per row (most of the admin
/// list's cost, bench/RESULTS.md).
pub fn cells(row: &Row) -> impl Iterator<Item = (Cow<'_, str>, Cell<'_>)> {
    row.columns_ref().iter().enumerate().map(|(i, c)| {
        let v = row.as_ref(i).unwrap_or(&Value::NULL);
        let is_int = matches!(
            c.column_type(),
            ColumnType::MYSQL_TYPE_LONG
                | ColumnType::MYSQL_TYPE_LONGLONG
                | ColumnType::MYSQL_TYPE_SHORT
                | ColumnType::MYSQL_TYPE_TINY
                | ColumnType::MYSQL_TYPE_INT24
        );
        let cell = match v {
            Value::NULL => Cell::Null,
            _ if is_int => crate::db::int(v).map_or(Cell::Null, Cell::Int),
            Value::Bytes(b) => Cell::Text(utf8(b)),
            _ => crate::db::text(v).map_or(Cell::Null, |t| Cell::Text(Cow::Owned(t))),
        };
        (utf8(c.name_ref()), cell)
    })
}

/// `String::from_utf8_lossy`, with the valid case (every utf8mb4 value) on the fast path.
fn utf8(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// Tenant counts for the dashboard: all, active, pending.
pub async fn counts<Q: Queryable>(conn: &mut Q, t: &Tables) -> Result<(u64, u64, u64), AppError> {
    let row: Option<(Option<u64>, Option<u64>, Option<u64>)> = conn
        .query_first(format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(status = 'active'), 0) AS UNSIGNED), \
             CAST(COALESCE(SUM(status = 'pending'), 0) AS UNSIGNED) FROM `{}`",
            t.tenant
        ))
        .await?;
    let (a, b, c) = row.unwrap_or_default();
    Ok((a.unwrap_or(0), b.unwrap_or(0), c.unwrap_or(0)))
}

/// A tenant the admin adds by hand (the add form's columns only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTenant {
    pub tenant_name: Option<String>,
    pub domain: Option<String>,
    pub email: Option<String>,
    pub channel_type: Option<String>,
    pub max_agents: Option<i64>,
    pub agent_name: Option<String>,
    pub status: Option<TenantStatus>,
}

/// Insert with `createtime`/`updatetime` (the model's autoWriteTimestamp); columns not sent
/// keep their defaults, as the original's `allowField(true)->save()`.
pub async fn insert(db: &Db, row: &NewTenant, now: i64) -> Result<TenantId, AppError> {
    let mut cols: Vec<&str> = Vec::new();
    let mut vals: Vec<Value> = Vec::new();
    let mut push = |c: &'static str, v: Option<Value>| {
        if let Some(v) = v {
            cols.push(c);
            vals.push(v);
        }
    };
    push("tenant_name", row.tenant_name.clone().map(Into::into));
    push("domain", row.domain.clone().map(Into::into));
    push("email", row.email.clone().map(Into::into));
    push("channel_type", row.channel_type.clone().map(Into::into));
    push("max_agents", row.max_agents.map(Into::into));
    push("agent_name", row.agent_name.clone().map(Into::into));
    push("status", row.status.map(|s| s.as_str().into()));
    push("createtime", Some(now.into()));
    push("updatetime", Some(now.into()));
    let placeholders = vec!["?"; cols.len()].join(", ");
    let mut conn = db.conn().await?;
    conn.exec_drop(
        format!(
            "INSERT INTO `{}` ({}) VALUES ({placeholders})",
            db.t.tenant,
            cols.join(", ")
        ),
        mysql_async::Params::Positional(vals),
    )
    .await?;
    let id = conn.last_insert_id().unwrap_or_default();
    Ok(TenantId(id as u32))
}

/// Delete the listed tenants in one statement; returns how many went.
pub async fn delete(db: &Db, ids: &[TenantId]) -> Result<u64, AppError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let placeholders = vec!["?"; ids.len()].join(",");
    let mut conn = db.conn().await?;
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    tx.exec_drop(
        format!("DELETE FROM `{}` WHERE id IN ({placeholders})", db.t.tenant),
        ids.iter().map(|i| i.0).collect::<Vec<_>>(),
    )
    .await?;
    let n = tx.affected_rows();
    tx.commit().await?;
    Ok(n)
}

/// Move a tenant `from` → `to` and log it, only if it is still in `from` (two admins clicking
/// at once change and log it once). Returns whether this call made the change.
pub async fn transition_logged(
    db: &Db,
    id: TenantId,
    from: TenantStatus,
    to: TenantStatus,
    log_entry: &NewLog<'_>,
) -> Result<bool, AppError> {
    let mut conn = db.conn().await?;
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    tx.exec_drop(
        format!(
            "UPDATE `{}` SET status = ?, updatetime = ? WHERE id = ? AND status = ?",
            db.t.tenant
        ),
        (to.as_str(), log_entry.createtime, id.0, from.as_str()),
    )
    .await?;
    if tx.affected_rows() != 1 {
        tx.rollback().await?;
        return Ok(false);
    }
    log::insert(&mut tx, &db.t, log_entry).await?;
    tx.commit().await?;
    Ok(true)
}

/// Set `expire_at` (with `updatetime`, as the model's save did) and log it. Returns false
/// when the tenant no longer exists.
pub async fn set_expire_logged(
    db: &Db,
    id: TenantId,
    expire_at: &str,
    log_entry: &NewLog<'_>,
) -> Result<bool, AppError> {
    let mut conn = db.conn().await?;
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    let exists: Option<u32> = tx
        .exec_first(
            format!("SELECT id FROM `{}` WHERE id = ? FOR UPDATE", db.t.tenant),
            (id.0,),
        )
        .await?;
    if exists.is_none() {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.exec_drop(
        format!(
            "UPDATE `{}` SET expire_at = ?, updatetime = ? WHERE id = ?",
            db.t.tenant
        ),
        (expire_at, log_entry.createtime, id.0),
    )
    .await?;
    log::insert(&mut tx, &db.t, log_entry).await?;
    tx.commit().await?;
    Ok(true)
}

/// Newest first. Rows written in the same second come in id order, as the original's
/// MariaDB returned them in the recordings.
pub async fn logs<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    page: u64,
    per_page: u64,
) -> Result<Vec<LogRow>, AppError> {
    let offset = page.saturating_sub(1).saturating_mul(per_page);
    let mut rows: Vec<Row> = conn
        .query(format!(
            "SELECT tenant_id, action, status, operator, createtime FROM `{}` \
             ORDER BY createtime DESC, id ASC LIMIT {per_page} OFFSET {offset}",
            t.log
        ))
        .await?;
    // By position, in the SELECT's order, texts taken out of the row: a lookup by name per
    // column per row and a copy of every text cost more than reading the values.
    let int = |r: &Row, i: usize| r.as_ref(i).and_then(crate::db::int).unwrap_or_default();
    let text = |r: &mut Row, i: usize| match r.take::<Value, _>(i) {
        Some(Value::Bytes(b)) => String::from_utf8(b)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Some(v) => crate::db::text(&v).unwrap_or_default(),
        None => String::new(),
    };
    Ok(rows
        .iter_mut()
        .map(|r| LogRow {
            tenant_id: int(r, 0),
            action: text(r, 1),
            status: text(r, 2),
            operator: text(r, 3),
            createtime: int(r, 4),
        })
        .collect())
}
