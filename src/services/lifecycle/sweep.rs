//! The worker's part of the subscription lifecycle, one pass at a time from the worker's loop
//! in every instance:
//! * suspend, through the provision server's `/suspend` exactly as the admin's 暂停 does (same
//!   call, status `suspended`, `suspend` log row), active tenants past `expire_at` plus
//!   `expiry_suspend_after_days`, recording the reason;
//! * bring back, through `/activate` as the admin's 恢复 does, tenants suspended for expiry
//!   whose renewal has been paid (`expiry_unsuspend_on_payment`); an admin's suspension never.
//!
//! Each tenant's call is made under a lease in its `chathub_lifecycle` row, so two instances
//! never call twice; the outcome is written in one transaction only if the server accepted.
//! A refused or unanswered call changes nothing but the row's back-off, and the pass stops at
//! the first unanswered one (the server is down: later).

use secrecy::ExposeSecret as _;

use crate::clients::provision::CallError;
use crate::db::log::{self, LogStatus, NewLog};
use crate::db::tenant::{self, lifecycle as rows, lifecycle::Move};
use crate::domain::tenant::{TenantId, TenantStatus};
use crate::error::AppError;
use crate::services::admin::{ProvisionVerdict, judge_provision_answer};
use crate::services::app::App;

/// Tenants each kind of call takes per pass.
const BATCH: u32 = 10;
/// Back-off after a failed call: doubling from a minute up to an hour.
const FIRST_RETRY_SECS: i64 = 60;
const MAX_RETRY_SECS: i64 = 3600;
/// The log rows' `operator` (an admin's username otherwise).
const OPERATOR_EXPIRY: &str = "expiry";
const OPERATOR_PAYMENT: &str = "payment";

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub suspended: usize,
    pub activated: usize,
    pub failed: usize,
}

/// One pass, logging its own problems (the worker carries on either way).
pub async fn run(app: &App) {
    let policy = app.addon().expiry.clone();
    if !policy.manages_suspension() {
        return;
    }
    match run_once(app).await {
        Ok(p) if p != Pass::default() => tracing::info!(
            suspended = p.suspended,
            activated = p.activated,
            failed = p.failed,
            "subscription lifecycle pass"
        ),
        Ok(_) => {}
        Err(e) => app
            .db
            .health
            .report_background(&e, "subscription lifecycle pass"),
    }
}

/// Forget stale reasons, bring back the paid, suspend the overdue.
pub async fn run_once(app: &App) -> Result<Pass, AppError> {
    let policy = app.addon().expiry.clone();
    let now = app.clock.epoch();
    let (reactivate, suspend) = crate::db::within(app.config.request_timeout, "lifecycle", async {
        let (mut conn, t) = (app.db.conn().await?, &app.db.t);
        rows::clear_stale(&mut conn, t, now).await?;
        let reactivate = match policy.unsuspend_on_payment {
            true => rows::due(&mut conn, t, Move::Activated, "", now, BATCH).await?,
            false => Vec::new(),
        };
        let suspend = match policy.suspend_after_days {
            Some(days) => {
                let cutoff = cutoff(app, days);
                rows::due(&mut conn, t, Move::Suspended, &cutoff, now, BATCH).await?
            }
            None => Vec::new(),
        };
        Ok::<_, AppError>((reactivate, suspend))
    })
    .await?;
    let mut pass = Pass::default();
    let work = reactivate
        .into_iter()
        .map(|id| (id, Move::Activated))
        .chain(suspend.into_iter().map(|id| (id, Move::Suspended)));
    for (id, which) in work {
        let bound = app.config.request_timeout * 2 + app.config.provision_call_timeout;
        match crate::db::within(bound, "lifecycle call", attempt(app, id, which)).await? {
            Done::Moved(Move::Suspended) => pass.suspended += 1,
            Done::Moved(Move::Activated) => pass.activated += 1,
            Done::Failed { unanswered } => {
                pass.failed += 1;
                if unanswered {
                    break;
                }
            }
            Done::Skipped => {}
        }
    }
    Ok(pass)
}

/// `expire_at` at or before this (site-local) is past its grace period.
fn cutoff(app: &App, days: u32) -> String {
    let at = app.clock.epoch() - i64::from(days) * 86_400;
    app.clock.format_epoch(at, "%Y-%m-%d %H:%M:%S")
}

enum Done {
    Moved(Move),
    Failed {
        unanswered: bool,
    },
    /// Someone else holds it, or there is nothing to do any more.
    Skipped,
}

/// Long enough for the call and the writes around it; a dead holder's lease runs out.
fn lease_secs(app: &App) -> i64 {
    let steps = app.config.provision_call_timeout + 3 * app.config.request_timeout;
    i64::try_from(steps.as_secs()).unwrap_or(i64::MAX / 2) + 30
}

/// Claim the tenant, re-check it under the claim, call once, write the outcome.
async fn attempt(app: &App, id: TenantId, which: Move) -> Result<Done, AppError> {
    let owner = hex::encode(rand::random::<[u8; 16]>());
    let (t, now) = (&app.db.t, app.clock.epoch());
    let mut conn = app.db.conn().await?;
    if !rows::claim(&mut conn, t, id, &owner, now, now + lease_secs(app)).await? {
        return Ok(Done::Skipped);
    }
    let current = tenant::find(&mut conn, t, id).await?;
    let still_due = current.as_ref().filter(|c| match which {
        Move::Suspended => {
            let days = app.addon().expiry.suspend_after_days.unwrap_or(u32::MAX);
            c.status == TenantStatus::Active
                && c.expire_at
                    .as_deref()
                    .is_some_and(|e| e <= cutoff(app, days).as_str())
        }
        Move::Activated => c.status == TenantStatus::Suspended,
    });
    let Some(tenant) = still_due.cloned() else {
        rows::release(&mut conn, t, id, &owner).await?;
        return Ok(Done::Skipped);
    };
    // No connection is held while the provision server answers.
    drop(conn);
    let (status, body) = match call(app, &tenant, which).await {
        Ok(answer) => answer,
        Err(CallError::Http { status, body }) => (status, body),
        Err(CallError::Transport(msg)) => {
            return failed(app, id, &owner, which, &msg, true).await;
        }
    };
    if let ProvisionVerdict::Rejected(msg) = judge_provision_answer(status, &body) {
        return failed(app, id, &owner, which, &msg, false).await;
    }
    let entry = log_entry(app, id, which, &body, LogStatus::Success);
    if rows::finish(&app.db, id, &owner, which, &app.clock.datetime(), &entry).await? {
        tracing::info!(
            tenant_id = id.0,
            action = entry.action,
            "subscription lifecycle"
        );
        return Ok(Done::Moved(which));
    }
    let mut conn = app.db.conn().await?;
    rows::release(&mut conn, t, id, &owner).await?;
    Ok(Done::Skipped)
}

async fn call(app: &App, tenant: &tenant::Tenant, which: Move) -> Result<(u16, String), CallError> {
    let addon = app.addon();
    let (url, key) = (
        &addon.provision_server_url,
        addon.provision_api_key.expose_secret(),
    );
    let timeout = app.config.provision_call_timeout;
    match which {
        Move::Suspended => {
            let (name, domain) = (&tenant.tenant_name, &tenant.domain);
            app.provision
                .suspend(url, key, tenant.inbox_id, name, domain, timeout)
                .await
        }
        Move::Activated => {
            app.provision
                .activate(url, key, tenant.inbox_id, timeout)
                .await
        }
    }
}

fn log_entry<'a>(
    app: &App,
    id: TenantId,
    which: Move,
    detail: &'a str,
    status: LogStatus,
) -> NewLog<'a> {
    let (action, operator) = match which {
        Move::Suspended => ("suspend", OPERATOR_EXPIRY),
        Move::Activated => ("activate", OPERATOR_PAYMENT),
    };
    NewLog {
        tenant_id: id.0,
        action,
        detail,
        status,
        operator,
        createtime: app.clock.epoch(),
    }
}

/// A call that did not go through: a `failed` log row and the back-off, the status untouched.
async fn failed(
    app: &App,
    id: TenantId,
    owner: &str,
    which: Move,
    why: &str,
    unanswered: bool,
) -> Result<Done, AppError> {
    let (t, now) = (&app.db.t, app.clock.epoch());
    let mut conn = app.db.conn().await?;
    let failures = rows::failures(&mut conn, t, id).await?;
    let wait = FIRST_RETRY_SECS
        .saturating_mul(1_i64 << failures.min(10))
        .min(MAX_RETRY_SECS);
    let mut tx = conn.start_transaction(Default::default()).await?;
    rows::failed(&mut tx, t, id, owner, now, now + wait).await?;
    log::insert(
        &mut tx,
        t,
        &log_entry(app, id, which, why, LogStatus::Failed),
    )
    .await?;
    tx.commit().await?;
    tracing::warn!(tenant_id = id.0, error = %why, retry_in_secs = wait, "subscription lifecycle call failed; will retry");
    Ok(Done::Failed { unanswered })
}
