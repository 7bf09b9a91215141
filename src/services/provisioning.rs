//! Re-provisioning an existing tenant (the original's `_provisionAsync`): used by the
//! member's `reprovision` and by the background worker that finishes tenants left in
//! `provisioning`.
//!
//! Every attempt keeps the tenant's schedule in `chathub_provision_state` (MIGRATIONS.md
//! provision-state): consecutive failures, when the next attempt is due, and the
//! `Idempotency-Key` to send. The key is the original's deterministic `reprov-<id>-md5(...)`
//! until the provision server answers a failure; `provision_server.py` caches that answer per
//! key for 300 s, so the next attempt gets a fresh key. After an attempt without an answer
//! (timeout, refused, cut) the key stays: the server may have done the work, and the same key
//! returns it instead of creating a second inbox.

use tokio::sync::watch;

use crate::clients::provision::{ProvisionPayload, ProvisionResult};
use crate::clock::Clock;
use crate::db::Db;
use crate::db::log::{self, LogStatus, NewLog};
use crate::db::tenant::{self, ProvisionState, Tenant};
use crate::domain::ids::UserId;
use crate::domain::tenant::{TenantId, TenantStatus};
use crate::error::AppError;
use crate::services::app::App;

/// `reprov-<id>-md5(domain|channel_type)`: deterministic, so a repeat within the provision
/// server's cache window returns the same resources instead of creating new ones.
pub fn reprovision_key(id: TenantId, domain: &str, channel_type: &str) -> String {
    format!(
        "reprov-{}-{:x}",
        id.0,
        md5::compute(format!("{domain}|{channel_type}").as_bytes())
    )
}

/// A key never sent before, same shape as the original's.
fn fresh_key(id: TenantId) -> String {
    let bytes: [u8; 16] = rand::random();
    format!("reprov-{}-{}", id.0, hex::encode(bytes))
}

/// Why a tenant may not be (re)provisioned: resources are for tenants that are paid up and
/// not stopped by an admin. Only an admin's `activate` or a renewal brings these back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ineligible {
    Suspended,
    Disabled,
    Expired,
}

impl Ineligible {
    /// What the member is told (member center notice).
    pub fn message(self) -> &'static str {
        match self {
            Ineligible::Suspended => "该租户已被暂停，无法重新开通，请联系客服",
            Ineligible::Disabled => "该租户已停用，无法重新开通，请联系客服",
            Ineligible::Expired => "该租户已过期，请先续费",
        }
    }
}

/// The one rule for the member's `reprovision` and the worker.
pub fn eligibility(t: &Tenant, clock: &Clock) -> Result<(), Ineligible> {
    match t.status {
        TenantStatus::Suspended => return Err(Ineligible::Suspended),
        TenantStatus::Disabled => return Err(Ineligible::Disabled),
        TenantStatus::Pending | TenantStatus::Provisioning | TenantStatus::Active => {}
    }
    let expired = t
        .expire_at
        .as_deref()
        .and_then(|e| clock.parse_local(e))
        .is_some_and(|at| at.timestamp() <= clock.epoch());
    if expired {
        return Err(Ineligible::Expired);
    }
    Ok(())
}

/// The right to make one provision attempt for a tenant: a lease in
/// `chathub_provision_state` (see [`tenant::claim_provisioning`]). Nothing is held while the
/// provision server is called; the lease outlasts the longest attempt. A claim dropped before
/// its outcome was written (an error, a request or worker step cut at its bound, shutdown)
/// gives the lease back in the background, and one whose holder died runs out by itself.
pub struct Claim {
    pub id: TenantId,
    owner: String,
    db: Db,
    /// When the lease runs out (a monotonic instant; the database keeps the wall-clock one).
    until: std::time::Instant,
    /// The outcome was written with the lease given back in its transaction.
    settled: bool,
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim").field("id", &self.id).finish()
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let (db, id, owner) = (self.db.clone(), self.id, std::mem::take(&mut self.owner));
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let until = self.until;
        // Retried until it is given back or has run out: a database that is away right now
        // (the reason the claim was dropped, often) must not keep the tenant waiting.
        runtime.spawn(async move {
            loop {
                let release = async {
                    let mut conn = db.conn().await?;
                    tenant::release_provisioning(&mut conn, &db.t, id, &owner).await
                };
                let bounded = tokio::time::timeout(std::time::Duration::from_secs(5), release);
                if matches!(bounded.await, Ok(Ok(()))) {
                    return;
                }
                if std::time::Instant::now() >= until {
                    tracing::warn!(
                        tenant_id = id.0,
                        "could not give a provisioning claim back; it has run out"
                    );
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
    }
}

/// How long a claim holds: the call's bound, the database steps around it, and a margin.
fn lease_secs(app: &App) -> i64 {
    let steps = app.config.provision_call_timeout + 3 * app.config.request_timeout;
    i64::try_from(steps.as_secs()).unwrap_or(i64::MAX / 2) + 30
}

/// Claim the tenant's provisioning; `None` when someone else holds it right now.
pub async fn claim(app: &App, id: TenantId) -> Result<Option<Claim>, AppError> {
    let owner = hex::encode(rand::random::<[u8; 16]>());
    let now = app.clock.epoch();
    let mut conn = app.db.conn().await?;
    let claimed = tenant::claim_provisioning(
        &mut conn,
        &app.db.t,
        id,
        &owner,
        now,
        now.saturating_add(lease_secs(app)),
    )
    .await?;
    let lease = std::time::Duration::from_secs(lease_secs(app).unsigned_abs());
    Ok(claimed.then(|| Claim {
        id,
        owner,
        db: app.db.clone(),
        until: std::time::Instant::now() + lease,
        settled: false,
    }))
}

/// The member's own tenant `id` if it may be reprovisioned; `Err(message)` for the member
/// otherwise (not theirs, or stopped: COMPAT.md#reprovision-eligible).
pub async fn reprovisionable(
    app: &App,
    id: TenantId,
    user_id: UserId,
) -> Result<Result<Tenant, &'static str>, AppError> {
    let mut conn = app.db.conn().await?;
    let Some(tenant) = tenant::find_owned(&mut conn, &app.db.t, id, user_id).await? else {
        return Ok(Err("租户不存在或无权操作"));
    };
    Ok(match eligibility(&tenant, &app.clock) {
        Ok(()) => Ok(tenant),
        Err(why) => Err(why.message()),
    })
}

/// The member's `reprovision`: claim, mark the tenant `provisioning` (the original did, before
/// calling) if it may still be provisioned, one attempt. `None`: an attempt is already running.
pub async fn reprovision_now(app: &App, id: TenantId) -> Result<Option<Outcome>, AppError> {
    let Some(claim) = claim(app, id).await? else {
        return Ok(None);
    };
    let marked = async {
        let mut conn = app.db.conn().await?;
        let mut tx = conn
            .start_transaction(mysql_async::TxOpts::default())
            .await?;
        let Some(current) = tenant::find_for_update(&mut tx, &app.db.t, id).await? else {
            return Ok(Err(Outcome::Gone));
        };
        if let Err(why) = eligibility(&current, &app.clock) {
            return Ok(Err(Outcome::Ineligible(why)));
        }
        tenant::set_status(&mut tx, &app.db.t, id, TenantStatus::Provisioning).await?;
        tx.commit().await?;
        Ok::<_, AppError>(Ok(()))
    };
    // Dropping the claim gives it back.
    match marked.await? {
        Ok(()) => reprovision_once(app, claim, None).await.map(Some),
        Err(outcome) => Ok(Some(outcome)),
    }
}

/// What one attempt came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The tenant now has its resources.
    Provisioned,
    /// A failed `reprovision` row was written and the next attempt scheduled. `unanswered`:
    /// the provision server did not answer at all (it may be down).
    Failed { unanswered: bool },
    /// Refused before any call, or the tenant was stopped while the call ran.
    Ineligible(Ineligible),
    /// The tenant no longer exists; nothing written.
    Gone,
    /// Shutdown cut the call short, or the claim ran out while the call ran (someone else
    /// may be trying now); nothing written, the key kept for the retry.
    Interrupted,
}

/// Delay before the next attempt after `failures` consecutive failed ones: 2 s doubling to
/// 5 min.
pub fn backoff_secs(failures: u32) -> i64 {
    const BASE: i64 = 2;
    const CAP: i64 = 300;
    if failures == 0 {
        return 0;
    }
    let exp = (failures - 1).min(20);
    (BASE << exp).min(CAP)
}

/// Resolves once `stop` is (or becomes) true; never without a stop signal.
async fn stopped(stop: Option<watch::Receiver<bool>>) {
    match stop {
        Some(mut rx) => {
            let _ = rx.wait_for(|s| *s).await;
        }
        None => std::future::pending().await,
    }
}

/// One provision attempt for an existing tenant, with the original's log rows
/// (`reprovision`, operator `system`), bounded by `provision_call_timeout`, under `claim`,
/// which it uses up. `stop` (the worker's shutdown signal) abandons the call: nothing is
/// written and the tenant stays as it was, to be tried again.
pub async fn reprovision_once(
    app: &App,
    claim: Claim,
    stop: Option<watch::Receiver<bool>>,
) -> Result<Outcome, AppError> {
    let mut claim = claim;
    let result = attempt_under(app, &claim, stop).await;
    // These two gave the lease back with their outcome; after anything else, dropping the
    // claim gives it back.
    claim.settled = matches!(result, Ok(Outcome::Provisioned | Outcome::Failed { .. }));
    result
}

async fn attempt_under(
    app: &App,
    claim: &Claim,
    stop: Option<watch::Receiver<bool>>,
) -> Result<Outcome, AppError> {
    let (t, id) = (&app.db.t, claim.id);
    let (tenant, state) = {
        let mut conn = app.db.conn().await?;
        let Some(tenant) = tenant::find(&mut conn, t, id).await? else {
            return Ok(Outcome::Gone);
        };
        if let Err(why) = eligibility(&tenant, &app.clock) {
            return Ok(Outcome::Ineligible(why));
        }
        (tenant, tenant::provision_state(&mut conn, t, id).await?)
    };
    let addon = app.addon();
    let payload = ProvisionPayload {
        name: tenant.tenant_name.clone(),
        domain: tenant.domain.clone(),
        email: tenant.email.clone(),
        kind: tenant.channel_type.clone(),
        max_agents: tenant.max_agents,
    };
    let key = state
        .idempotency_key
        .clone()
        .unwrap_or_else(|| reprovision_key(id, &tenant.domain, &tenant.channel_type));
    let call = app.provision.provision(
        &addon.provision_server_url,
        addon.provision_api_key(),
        &key,
        &payload,
        app.config.provision_call_timeout,
    );
    let result = tokio::select! {
        r = call => r,
        _ = stopped(stop) => return Ok(Outcome::Interrupted),
    };
    record_outcome(app, claim, &state, key, &result).await
}

/// The attempt's outcome, its log row (`reprovision`, operator `system`) and the next
/// schedule, in one transaction, only while `claim` still holds the lease.
async fn record_outcome(
    app: &App,
    claim: &Claim,
    state: &ProvisionState,
    key: String,
    result: &ProvisionResult,
) -> Result<Outcome, AppError> {
    let (t, id) = (&app.db.t, claim.id);
    let mut conn = app.db.conn().await?;
    let now = app.clock.epoch();
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    if !tenant::holds_provisioning(&mut tx, t, id, &claim.owner).await? {
        // The lease ran out while the call ran; whoever holds it now writes the outcome (the
        // key is unchanged, so its call gets the same answer).
        return Ok(Outcome::Interrupted);
    }
    // Re-read under a row lock: an admin may have suspended it while the call ran.
    let Some(current) = tenant::find_for_update(&mut tx, t, id).await? else {
        return Ok(Outcome::Gone);
    };
    let stopped_meanwhile = eligibility(&current, &app.clock).err();
    let (outcome, status, detail) = judge(result, stopped_meanwhile);
    if let (Outcome::Provisioned, ProvisionResult::Provisioned(p)) = (outcome, result) {
        tenant::apply_provisioned_no_touch(&mut tx, t, id, p, &app.clock.datetime()).await?;
    }
    let row = NewLog {
        tenant_id: id.0,
        action: "reprovision",
        detail: &detail,
        status,
        operator: "system",
        createtime: now,
    };
    log::insert(&mut tx, t, &row).await?;
    match outcome {
        Outcome::Provisioned => tenant::clear_provision_state(&mut tx, t, id).await?,
        _ => {
            let failures = state.failures.saturating_add(1);
            let next = ProvisionState {
                failures,
                next_attempt_at: now + backoff_secs(failures),
                idempotency_key: Some(if result.is_answered_failure() {
                    fresh_key(id)
                } else {
                    key
                }),
            };
            tenant::save_provision_state(&mut tx, t, id, &next, now).await?;
            tenant::release_provisioning(&mut tx, t, id, &claim.owner).await?;
        }
    }
    tx.commit().await?;
    if outcome == Outcome::Provisioned {
        // The provision server works: whoever waits out a back-off is due again.
        let n = tenant::make_waiting_due(&mut conn, t, now).await?;
        if n > 0 {
            tracing::info!(
                waiting = n,
                "provision server answered again; waiting tenants are due now"
            );
        }
    }
    Ok(outcome)
}

/// What an answer comes to, and the original's log text for it.
fn judge(
    result: &ProvisionResult,
    stopped_meanwhile: Option<Ineligible>,
) -> (Outcome, LogStatus, String) {
    match result {
        ProvisionResult::Provisioned(p) => {
            let inbox = p
                .inbox_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "?".into());
            match stopped_meanwhile {
                None => (
                    Outcome::Provisioned,
                    LogStatus::Success,
                    format!("补建资源成功 (inbox_id={inbox})"),
                ),
                // Resources exist now, but the tenant stays as the admin left it; the row
                // tells support which inbox to remove or hand over.
                Some(why) => (
                    Outcome::Ineligible(why),
                    LogStatus::Failed,
                    format!(
                        "补建资源已创建但未启用，租户状态已变更 (inbox_id={inbox}): {}",
                        why.message()
                    ),
                ),
            }
        }
        ProvisionResult::Failed(e) => (
            Outcome::Failed {
                unanswered: result.is_unanswered(),
            },
            LogStatus::Failed,
            format!("重试 provision 失败: {}", e.log_text()),
        ),
        ProvisionResult::InvalidBody(body) => (
            Outcome::Failed { unanswered: false },
            LogStatus::Failed,
            format!("响应无效: {}", php_substr(body, 200)),
        ),
    }
}

/// PHP's `substr($s, 0, $n)` counts bytes; never split a UTF-8 character.
fn php_substr(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprovision_key_is_the_originals() {
        // md5("alice-pending|web_widget")
        let k = reprovision_key(TenantId(13), "alice-pending", "web_widget");
        assert_eq!(
            k,
            format!("reprov-13-{:x}", md5::compute(b"alice-pending|web_widget"))
        );
        let fresh = fresh_key(TenantId(13));
        assert_eq!(fresh.len(), k.len());
        assert_ne!(fresh, fresh_key(TenantId(13)));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff_secs(0), 0);
        assert_eq!(backoff_secs(1), 2);
        assert_eq!(backoff_secs(2), 4);
        assert_eq!(backoff_secs(5), 32);
        assert_eq!(backoff_secs(9), 300);
        assert_eq!(backoff_secs(1000), 300);
    }
}
