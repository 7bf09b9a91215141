//! `fa_chathub_tenant`: one row per AI-support subscription.

use mysql_async::Row;
use mysql_async::prelude::*;
use serde_json::{Map, Value};

use crate::db::{Tables, col_int, col_text};
use crate::domain::ids::UserId;
use crate::domain::php::php_intval;
use crate::domain::tenant::{Provisioned, TenantId, TenantStatus};
use crate::error::AppError;

/// Every column of the table, in schema order.
pub const COLUMNS: &str = "id, user_id, tenant_name, domain, email, inbox_id, inbox_token, team_id, agent_id, \
agent_cw_id, agent_cw_password, agent_name, max_agents, channel_type, status, config, embed_code, api_credentials, \
provisioned_at, expire_at, last_active_at, createtime, updatetime";

#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: TenantId,
    pub user_id: Option<UserId>,
    pub tenant_name: String,
    pub domain: String,
    pub email: String,
    pub inbox_id: Option<i64>,
    pub inbox_token: Option<String>,
    pub team_id: Option<i64>,
    pub agent_id: Option<String>,
    pub agent_cw_id: Option<i64>,
    pub agent_cw_password: Option<String>,
    pub agent_name: Option<String>,
    pub max_agents: i64,
    pub channel_type: String,
    pub status: TenantStatus,
    /// Raw `config` column: JSON, or (tenants made by the original `register`) a JSON string
    /// holding JSON. Read it with [`Tenant::config`].
    pub config_raw: Option<String>,
    pub embed_code: Option<String>,
    pub api_credentials: Option<String>,
    pub provisioned_at: Option<String>,
    pub expire_at: Option<String>,
    pub last_active_at: Option<String>,
    pub createtime: Option<i64>,
    pub updatetime: Option<i64>,
}

impl Tenant {
    pub fn from_row(row: &Row) -> Result<Tenant, AppError> {
        let status_s = col_text(row, "status").unwrap_or_default();
        let status = TenantStatus::parse(&status_s)
            .ok_or_else(|| AppError::internal(format!("tenant has unknown status {status_s:?}")))?;
        Ok(Tenant {
            id: TenantId(col_int(row, "id").unwrap_or_default() as u32),
            user_id: col_int(row, "user_id").map(|v| UserId(v as u32)),
            tenant_name: col_text(row, "tenant_name").unwrap_or_default(),
            domain: col_text(row, "domain").unwrap_or_default(),
            email: col_text(row, "email").unwrap_or_default(),
            inbox_id: col_int(row, "inbox_id"),
            inbox_token: col_text(row, "inbox_token"),
            team_id: col_int(row, "team_id"),
            agent_id: col_text(row, "agent_id"),
            agent_cw_id: col_int(row, "agent_cw_id"),
            agent_cw_password: col_text(row, "agent_cw_password"),
            agent_name: col_text(row, "agent_name"),
            max_agents: col_int(row, "max_agents").unwrap_or_default(),
            channel_type: col_text(row, "channel_type").unwrap_or_default(),
            status,
            config_raw: col_text(row, "config"),
            embed_code: col_text(row, "embed_code"),
            api_credentials: col_text(row, "api_credentials"),
            provisioned_at: col_text(row, "provisioned_at"),
            expire_at: col_text(row, "expire_at"),
            last_active_at: col_text(row, "last_active_at"),
            createtime: col_int(row, "createtime"),
            updatetime: col_int(row, "updatetime"),
        })
    }

    pub fn config(&self) -> TenantConfig {
        TenantConfig::parse(self.config_raw.as_deref())
    }

    pub fn has_embed(&self) -> bool {
        self.embed_code.as_deref().is_some_and(|e| !e.is_empty())
    }
}

/// The tenant's `config` JSON (plan, price, notes, registered_at, retry info).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TenantConfig(pub Map<String, Value>);

impl TenantConfig {
    /// Reads both forms: a JSON object, and the original register's double-encoded JSON
    /// string holding an object (COMPAT.md#tenant-config-encoding).
    pub fn parse(raw: Option<&str>) -> TenantConfig {
        let Some(raw) = raw.filter(|r| !r.is_empty()) else {
            return TenantConfig::default();
        };
        match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(m)) => TenantConfig(m),
            Ok(Value::String(inner)) => match serde_json::from_str::<Value>(&inner) {
                Ok(Value::Object(m)) => TenantConfig(m),
                _ => TenantConfig::default(),
            },
            _ => TenantConfig::default(),
        }
    }

    pub fn plan(&self) -> Option<String> {
        plan_of(self.0.get("plan"))
    }

    /// `(int)$config['price']` as PHP casts it.
    pub fn price(&self) -> i64 {
        price_of(self.0.get("price"))
    }

    /// Serialised once, as a JSON object.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }
}

fn plan_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn price_of(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .unwrap_or(0),
        Some(Value::String(s)) => php_intval(s),
        Some(Value::Bool(true)) => 1,
        _ => 0,
    }
}

/// The two keys of a tenant's config the member centre shows. Read without building the
/// whole map (`my` does this for every tenant on every request); the same values as
/// [`TenantConfig::parse`] gives, which it falls back to for anything unusual.
#[derive(Debug, Default, PartialEq, serde::Deserialize)]
pub struct PlanAndPrice {
    #[serde(default)]
    plan: Option<Value>,
    #[serde(default)]
    price: Option<Value>,
}

impl PlanAndPrice {
    pub fn parse(raw: Option<&str>) -> PlanAndPrice {
        let Some(raw) = raw.map(str::trim_start).filter(|r| !r.is_empty()) else {
            return PlanAndPrice::default();
        };
        let inner;
        let object = if raw.starts_with('"') {
            match serde_json::from_str::<String>(raw) {
                Ok(s) => {
                    inner = s;
                    inner.trim_start()
                }
                Err(_) => return PlanAndPrice::default(),
            }
        } else {
            raw
        };
        // Only an object is a config (serde would also take `[plan, price]`); a duplicate key
        // is an error here but "last one wins" in the full parse.
        let quick = object
            .starts_with('{')
            .then(|| serde_json::from_str::<PlanAndPrice>(object).ok())
            .flatten();
        quick.unwrap_or_else(|| {
            let full = TenantConfig::parse(Some(raw));
            PlanAndPrice {
                plan: full.0.get("plan").cloned(),
                price: full.0.get("price").cloned(),
            }
        })
    }

    pub fn plan(&self) -> Option<String> {
        plan_of(self.plan.as_ref())
    }

    pub fn price(&self) -> i64 {
        price_of(self.price.as_ref())
    }

    /// The stored price as it stands (`None` when absent or null).
    pub fn price_value(&self) -> Option<&Value> {
        self.price.as_ref().filter(|v| !v.is_null())
    }
}

pub async fn find<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
) -> Result<Option<Tenant>, AppError> {
    first(conn, t, "id = ?", (id.0,)).await
}

/// The first tenant matching `condition` (a constant SQL fragment with `?` placeholders).
async fn first<Q: Queryable, P: Into<mysql_async::Params> + Send>(
    conn: &mut Q,
    t: &Tables,
    condition: &str,
    params: P,
) -> Result<Option<Tenant>, AppError> {
    let row: Option<Row> = conn
        .exec_first(
            format!("SELECT {COLUMNS} FROM `{}` WHERE {condition}", t.tenant),
            params,
        )
        .await?;
    row.as_ref().map(Tenant::from_row).transpose()
}

/// A tenant only if it belongs to `user_id`.
pub async fn find_owned<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    user_id: UserId,
) -> Result<Option<Tenant>, AppError> {
    first(conn, t, "id = ? AND user_id = ?", (id.0, user_id)).await
}

/// The member's tenants, newest first (the member center's order).
pub async fn list_for_user<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    user_id: UserId,
) -> Result<Vec<Listed>, AppError> {
    let rows: Vec<Row> = conn
        .exec(
            format!(
                "SELECT {LISTED_COLUMNS} FROM `{}` WHERE user_id = ? ORDER BY id DESC",
                t.tenant
            ),
            (user_id,),
        )
        .await?;
    rows.iter().map(Listed::from_row).collect()
}

/// The columns the member centre shows of each tenant. `my` reads them on every request;
/// the credentials, agent and bookkeeping columns stay in the database.
const LISTED_COLUMNS: &str =
    "id, tenant_name, domain, max_agents, status, config, embed_code, expire_at";

/// A tenant as the member centre lists it ([`LISTED_COLUMNS`]).
#[derive(Clone, Debug)]
pub struct Listed {
    pub id: TenantId,
    pub tenant_name: String,
    pub domain: String,
    pub max_agents: i64,
    pub status: TenantStatus,
    /// Raw `config` column, as [`Tenant::config_raw`].
    pub config_raw: Option<String>,
    pub embed_code: Option<String>,
    pub expire_at: Option<String>,
}

impl Listed {
    fn from_row(row: &Row) -> Result<Listed, AppError> {
        let status_s = col_text(row, "status").unwrap_or_default();
        let status = TenantStatus::parse(&status_s)
            .ok_or_else(|| AppError::internal(format!("tenant has unknown status {status_s:?}")))?;
        Ok(Listed {
            id: TenantId(col_int(row, "id").unwrap_or_default() as u32),
            tenant_name: col_text(row, "tenant_name").unwrap_or_default(),
            domain: col_text(row, "domain").unwrap_or_default(),
            max_agents: col_int(row, "max_agents").unwrap_or_default(),
            status,
            config_raw: col_text(row, "config"),
            embed_code: col_text(row, "embed_code"),
            expire_at: col_text(row, "expire_at"),
        })
    }
}

/// The member's newest tenant (channel pages work on it).
pub async fn newest_for_user<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    user_id: UserId,
) -> Result<Option<Tenant>, AppError> {
    first(conn, t, "user_id = ? ORDER BY id DESC LIMIT 1", (user_id,)).await
}

/// Write what the provision server created and mark the tenant active (the original's
/// success branch of register, a model `save()` that also stamps `updatetime`).
pub async fn apply_provisioned<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    p: &Provisioned,
    provisioned_at: &str,
    updatetime: i64,
) -> Result<(), AppError> {
    write_provisioned(conn, t, id, p, provisioned_at, Some(updatetime)).await
}

/// As [`apply_provisioned`] but leaving `updatetime` alone (the original's `_provisionAsync`
/// used a plain `Db::name()->update()`). Callers check under a row lock that the tenant may
/// still be provisioned.
pub async fn apply_provisioned_no_touch<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    p: &Provisioned,
    provisioned_at: &str,
) -> Result<(), AppError> {
    write_provisioned(conn, t, id, p, provisioned_at, None).await
}

/// Set the status only (no `updatetime`: the original's `Db::name()->update()` calls did not
/// touch it).
pub async fn set_status<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    status: TenantStatus,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!("UPDATE `{}` SET status = ? WHERE id = ?", t.tenant),
        (status.as_str(), id.0),
    )
    .await?;
    Ok(())
}

async fn write_provisioned<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    p: &Provisioned,
    provisioned_at: &str,
    updatetime: Option<i64>,
) -> Result<(), AppError> {
    let touch = if updatetime.is_some() {
        ", updatetime = ?"
    } else {
        ""
    };
    let mut params: Vec<mysql_async::Value> = vec![
        provisioned_at.into(),
        p.inbox_id.into(),
        p.inbox_token.clone().into(),
        p.embed_code.clone().into(),
        p.inbox_name.clone().into(),
        p.team_id.into(),
        p.agent_cw_id.into(),
        p.agent_cw_password.clone().into(),
    ];
    if let Some(u) = updatetime {
        params.push(u.into());
    }
    params.push(id.0.into());
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET status = 'active', provisioned_at = ?, inbox_id = ?, inbox_token = ?, embed_code = ?, \
             agent_name = ?, team_id = ?, agent_cw_id = ?, agent_cw_password = ?{touch} WHERE id = ?",
            t.tenant
        ),
        mysql_async::Params::Positional(params),
    )
    .await?;
    Ok(())
}

/// The tenant row locked for the rest of the transaction.
pub async fn find_for_update<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
) -> Result<Option<Tenant>, AppError> {
    first(conn, t, "id = ? FOR UPDATE", (id.0,)).await
}

/// A payment's effect on the tenant (the original's `_markOrderPaid` update: status and
/// expiry only, `updatetime` untouched).
pub async fn set_status_and_expiry<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    status: TenantStatus,
    expire_at: &str,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET status = ?, expire_at = ? WHERE id = ?",
            t.tenant
        ),
        (status.as_str(), expire_at, id.0),
    )
    .await?;
    Ok(())
}

/// Tenants the provisioning worker should finish and may try now: every `provisioning`
/// tenant, and `pending` tenants whose registration left a `provision_retry` note and no embed
/// code; never one that has expired. Due ones only (no schedule row, or its next attempt has
/// come, and nobody holds its lease), the longest-due first: never-tried tenants, then by
/// next-attempt time, so tenants in back-off cannot crowd out the ones waiting behind them.
pub async fn provisioning_due<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    now: i64,
    now_datetime: &str,
    limit: u32,
) -> Result<Vec<Tenant>, AppError> {
    let columns = COLUMNS
        .split(", ")
        .map(|c| format!("tn.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let rows: Vec<Row> = conn
        .exec(
            format!(
                "SELECT {columns} FROM `{}` tn LEFT JOIN `{}` ps ON ps.tenant_id = tn.id \
                 WHERE (tn.status = 'provisioning' \
                     OR (tn.status = 'pending' AND (tn.embed_code IS NULL OR tn.embed_code = '') \
                         AND tn.config LIKE '%provision\\_retry%')) \
                   AND (tn.expire_at IS NULL OR tn.expire_at > ?) \
                   AND COALESCE(ps.next_attempt_at, 0) <= ? \
                   AND COALESCE(ps.lease_until, 0) <= ? \
                 ORDER BY COALESCE(ps.next_attempt_at, 0), tn.id LIMIT {limit}",
                t.tenant, t.provision_state
            ),
            (now_datetime, now, now),
        )
        .await?;
    let mut out = Vec::new();
    for row in &rows {
        match Tenant::from_row(row) {
            Ok(tenant) => out.push(tenant),
            Err(e) => tracing::warn!(error = %e, "skipping unreadable tenant row"),
        }
    }
    Ok(out)
}

/// The provisioning schedule of one tenant (`chathub_provision_state`): consecutive failed
/// attempts, when the next may start, and the `Idempotency-Key` it must send. No row: never
/// failed (or provisioned since), due now, with the original's deterministic key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProvisionState {
    pub failures: u32,
    pub next_attempt_at: i64,
    pub idempotency_key: Option<String>,
}

pub async fn provision_state<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
) -> Result<ProvisionState, AppError> {
    let row: Option<(u32, i64, Option<String>)> = conn
        .exec_first(
            format!(
                "SELECT failures, next_attempt_at, idempotency_key FROM `{}` WHERE tenant_id = ?",
                t.provision_state
            ),
            (id.0,),
        )
        .await?;
    Ok(row
        .map(
            |(failures, next_attempt_at, idempotency_key)| ProvisionState {
                failures,
                next_attempt_at,
                idempotency_key,
            },
        )
        .unwrap_or_default())
}

/// Store the schedule after a failed attempt.
pub async fn save_provision_state<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    s: &ProvisionState,
    now: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "INSERT INTO `{}` (tenant_id, failures, next_attempt_at, idempotency_key, updatetime) \
             VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE failures = VALUES(failures), \
             next_attempt_at = VALUES(next_attempt_at), idempotency_key = VALUES(idempotency_key), \
             updatetime = VALUES(updatetime)",
            t.provision_state
        ),
        (
            id.0,
            s.failures,
            s.next_attempt_at.max(0),
            s.idempotency_key.as_deref(),
            now,
        ),
    )
    .await?;
    Ok(())
}

/// Forget the schedule once the tenant has its resources.
pub async fn clear_provision_state<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!("DELETE FROM `{}` WHERE tenant_id = ?", t.provision_state),
        (id.0,),
    )
    .await?;
    Ok(())
}

/// Every tenant waiting out a back-off becomes due now (the provision server answers again).
/// Failure counts stay, so a tenant that keeps failing on its own goes straight back to its
/// long back-off. Returns how many were waiting.
pub async fn make_waiting_due(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    now: i64,
) -> Result<u64, AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET next_attempt_at = ? WHERE next_attempt_at > ?",
            t.provision_state
        ),
        (now, now),
    )
    .await?;
    Ok(conn.affected_rows())
}

/// Whether any tenant is waiting out a back-off (cheap: the worker asks once per pass).
pub async fn any_waiting<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    now: i64,
) -> Result<bool, AppError> {
    let n: Option<i64> = conn
        .exec_first(
            format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM `{}` WHERE next_attempt_at > ? LIMIT 1) w",
                t.provision_state
            ),
            (now,),
        )
        .await?;
    Ok(n.unwrap_or(0) > 0)
}

/// Claim the tenant's provisioning for `owner` until `until` (Unix seconds): a lease in
/// `chathub_provision_state`, taken in one conditional UPDATE, so two instances (or the worker
/// and a member's `reprovision`) never provision one tenant at once, and nothing (no
/// connection, no named lock) is held while the provision server is called. A killed
/// instance's lease simply runs out. `true` when `owner` now holds it.
pub async fn claim_provisioning(
    conn: &mut mysql_async::Conn,
    t: &Tables,
    id: TenantId,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<bool, AppError> {
    take_lease(conn, &t.provision_state, id, owner, now, until, "").await
}

/// The lease of chathub's per-tenant schedule tables (`chathub_provision_state`,
/// `chathub_lifecycle`): the row is made if missing, then taken in one conditional UPDATE
/// when nobody holds it (and `also` holds: SQL on the row, bound to `now` per `?`).
pub(crate) async fn take_lease(
    conn: &mut mysql_async::Conn,
    table: &str,
    id: TenantId,
    owner: &str,
    now: i64,
    until: i64,
    also: &str,
) -> Result<bool, AppError> {
    conn.exec_drop(
        format!("INSERT IGNORE INTO `{table}` (tenant_id, updatetime) VALUES (?, ?)"),
        (id.0, now),
    )
    .await?;
    let mut params: Vec<mysql_async::Value> = vec![
        owner.into(),
        until.max(0).into(),
        id.0.into(),
        now.max(0).into(),
    ];
    params.extend(std::iter::repeat_n(
        now.max(0).into(),
        also.matches('?').count(),
    ));
    conn.exec_drop(
        format!(
            "UPDATE `{table}` SET lease_owner = ?, lease_until = ? WHERE tenant_id = ? AND lease_until <= ?{also}"
        ),
        mysql_async::Params::Positional(params),
    )
    .await?;
    Ok(conn.affected_rows() == 1)
}

/// Give a [`take_lease`] lease back (no-op when `owner` no longer holds it).
pub(crate) async fn give_back_lease<Q: Queryable>(
    conn: &mut Q,
    table: &str,
    id: TenantId,
    owner: &str,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{table}` SET lease_owner = NULL, lease_until = 0 WHERE tenant_id = ? AND lease_owner = ?"
        ),
        (id.0, owner),
    )
    .await?;
    Ok(())
}

/// `true` while `owner` still holds the lease; locks the schedule row, so within a
/// transaction nobody can take the lease over before the outcome is written.
pub async fn holds_provisioning<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    owner: &str,
) -> Result<bool, AppError> {
    let held: Option<Option<String>> = conn
        .exec_first(
            format!(
                "SELECT lease_owner FROM `{}` WHERE tenant_id = ? FOR UPDATE",
                t.provision_state
            ),
            (id.0,),
        )
        .await?;
    Ok(held.flatten().as_deref() == Some(owner))
}

/// Give the lease back (no-op when `owner` no longer holds it).
pub async fn release_provisioning<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    owner: &str,
) -> Result<(), AppError> {
    give_back_lease(conn, &t.provision_state, id, owner).await
}

/// A tenant as the public sign-up first writes it: `provisioning`, before the provision call.
pub struct NewSignupTenant<'a> {
    pub user_id: UserId,
    pub tenant_name: &'a str,
    pub domain: &'a str,
    pub email: &'a str,
    pub max_agents: i64,
    pub expire_at: &'a str,
    /// Serialised once (COMPAT.md#tenant-config-encoding).
    pub config: &'a str,
    pub now: i64,
}

pub async fn insert_provisioning<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    n: &NewSignupTenant<'_>,
) -> Result<TenantId, AppError> {
    conn.exec_drop(
        format!(
            "INSERT INTO `{}` (user_id, tenant_name, domain, email, channel_type, max_agents, status, config, expire_at, createtime, updatetime) \
             VALUES (?, ?, ?, ?, 'web_widget', ?, 'provisioning', ?, ?, ?, ?)",
            t.tenant
        ),
        mysql_async::Params::Positional(vec![
            n.user_id.into(),
            n.tenant_name.into(),
            n.domain.into(),
            n.email.into(),
            n.max_agents.into(),
            n.config.into(),
            n.expire_at.into(),
            n.now.into(),
            n.now.into(),
        ]),
    )
    .await?;
    let id: Option<u64> = conn.query_first("SELECT LAST_INSERT_ID()").await?;
    id.and_then(|i| u32::try_from(i).ok())
        .map(TenantId)
        .ok_or_else(|| AppError::internal("no id for the new tenant"))
}

/// Replace `config` (already serialised) and touch `updatetime`, as the original's model
/// `save()` did.
pub async fn update_config<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    config: &str,
    updatetime: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET config = ?, updatetime = ? WHERE id = ?",
            t.tenant
        ),
        (config, updatetime, id.0),
    )
    .await?;
    Ok(())
}

/// Set the status and touch `updatetime` (the original's model `save()`).
pub async fn set_status_touch<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: TenantId,
    status: TenantStatus,
    updatetime: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET status = ?, updatetime = ? WHERE id = ?",
            t.tenant
        ),
        (status.as_str(), updatetime, id.0),
    )
    .await?;
    Ok(())
}

/// The subscription lifecycle's own table (chathub's; the PHP addon never reads it).
pub mod lifecycle;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_single_and_double_encoded_json() {
        let single = TenantConfig::parse(Some(r#"{"plan":"pro","price":60}"#));
        let double = TenantConfig::parse(Some(r#""{\"plan\":\"pro\",\"price\":60}""#));
        assert_eq!(single, double);
        assert_eq!(single.plan().as_deref(), Some("pro"));
        assert_eq!(single.price(), 60);
        assert_eq!(TenantConfig::parse(Some("garbage")).price(), 0);
        assert_eq!(TenantConfig::parse(None).plan(), None);
    }

    #[test]
    fn plan_and_price_read_as_the_full_config_does() {
        for raw in [
            r#"{"plan":"pro","price":60,"notes":"x"}"#,
            r#""{\"plan\":\"pro\",\"price\":\"60.5\"}""#,
            r#"{"plan":null,"price":true}"#,
            r#"{"plan":["a"],"price":{"a":1}}"#,
            r#"{"plan":"a","plan":"b","price":1,"price":2}"#,
            r#"["pro", 60]"#,
            r#""[\"pro\", 60]""#,
            "garbage",
            "  {\"price\": 1e3}",
            "",
        ] {
            let full = TenantConfig::parse(Some(raw));
            let quick = PlanAndPrice::parse(Some(raw));
            assert_eq!(quick.plan(), full.plan(), "{raw}");
            assert_eq!(quick.price(), full.price(), "{raw}");
            assert_eq!(
                quick.price_value(),
                full.0.get("price").filter(|v| !v.is_null()),
                "{raw}"
            );
        }
        assert_eq!(PlanAndPrice::parse(None), PlanAndPrice::default());
    }
}
