//! The provisioning worker: finishes every tenant a payment (or a failed registration) left
//! without resources, so no paid tenant is ever stuck.
//!
//! The original provisioned synchronously inside the payment webhook and never retried; a
//! provision server outage lost the provisioning for good. Here the webhook only records the
//! payment (tenant → `provisioning`) and this loop, running in every server instance, does
//! the rest:
//! * candidates are read with `FOR UPDATE SKIP LOCKED`, so a payment still being committed is
//!   skipped rather than waited for;
//! * each tenant is then claimed with a MariaDB named lock, held by one connection for the
//!   duration of the attempt: two instances never provision the same tenant at once, and a
//!   killed instance's claim disappears with its connection;
//! * the back-off schedule is derived from the `reprovision` rows in `fa_chathub_log` (which
//!   `reprovision_once` writes anyway), so a restart resumes it and loses nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::app::App;
use crate::db::tenant::{self, TenantId, TenantStatus};
use crate::error::AppError;
use crate::provisioning::{REPROVISION_TIMEOUT, reprovision_once};

/// How often each instance looks for work.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Tenants looked at per poll.
const BATCH: u32 = 20;
/// First retry delay after a failed attempt; doubles per consecutive failure up to the cap.
const BACKOFF_BASE_SECS: i64 = 2;
const BACKOFF_CAP_SECS: i64 = 300;
/// Failures older than this no longer lengthen the back-off.
const FAILURE_MEMORY_SECS: i64 = 86_400;

/// Start the worker unless the configuration turns it off. It stops when `stop` flips, after
/// finishing the attempt in progress.
pub fn spawn(app: Arc<App>, stop: watch::Receiver<bool>) -> Option<tokio::task::JoinHandle<()>> {
    if !app.config.provision_worker {
        return None;
    }
    Some(tokio::spawn(run(app, stop)))
}

async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(e) = run_once(&app, &stop).await {
            tracing::warn!(error = %e, "provisioning worker pass failed");
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

/// Delay before the next attempt after `failures` consecutive failed ones.
pub fn backoff_secs(failures: u32) -> i64 {
    if failures == 0 {
        return 0;
    }
    let exp = (failures - 1).min(20);
    (BACKOFF_BASE_SECS << exp).min(BACKOFF_CAP_SECS)
}

/// What one attempt on one tenant came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The tenant now has its resources.
    Provisioned,
    /// The provision server failed; a `reprovision` failed row was written.
    Failed,
    /// Back-off not over yet.
    NotDue,
    /// Another instance (or task) is working on it right now.
    Busy,
    /// Nothing to do any more (provisioned meanwhile, deleted, status changed).
    NotNeeded,
}

/// One pass over the waiting tenants. Returns how many attempts were made.
pub async fn run_once(app: &App, stop: &watch::Receiver<bool>) -> Result<usize, AppError> {
    let candidates = {
        let mut conn = app.db.conn().await?;
        tenant::provisioning_candidates(&mut conn, &app.db.t, BATCH).await?
    };
    let mut attempts = 0;
    for t in candidates {
        if *stop.borrow() {
            break;
        }
        match attempt(app, t.id).await? {
            Attempt::Provisioned | Attempt::Failed => attempts += 1,
            Attempt::NotDue | Attempt::Busy | Attempt::NotNeeded => {}
        }
    }
    Ok(attempts)
}

fn needs_provisioning(t: &tenant::Tenant) -> bool {
    match t.status {
        TenantStatus::Provisioning => true,
        TenantStatus::Pending => !t.has_embed() && t.config().0.contains_key("provision_retry"),
        _ => false,
    }
}

/// Claim the tenant, re-check it under the claim, honour the back-off, provision once.
pub async fn attempt(app: &App, id: TenantId) -> Result<Attempt, AppError> {
    let t = &app.db.t;
    let mut claim = app.db.conn().await?;
    if !tenant::try_lock_provisioning(&mut claim, t, id).await? {
        return Ok(Attempt::Busy);
    }
    let result = attempt_claimed(app, &mut claim, id).await;
    // Dropping the connection would release the lock too; releasing keeps the pool's
    // connection reusable.
    let _ = tenant::unlock_provisioning(&mut claim, t, id).await;
    result
}

async fn attempt_claimed(
    app: &App,
    conn: &mut mysql_async::Conn,
    id: TenantId,
) -> Result<Attempt, AppError> {
    let t = &app.db.t;
    let Some(current) = tenant::find(conn, t, id).await? else {
        return Ok(Attempt::NotNeeded);
    };
    if !needs_provisioning(&current) {
        return Ok(Attempt::NotNeeded);
    }
    let now = app.clock.epoch();
    let (failures, last) =
        tenant::reprovision_failures(conn, t, id, now - FAILURE_MEMORY_SECS).await?;
    if let Some(last) = last
        && now < last + backoff_secs(failures)
    {
        return Ok(Attempt::NotDue);
    }
    if reprovision_once(app, id, REPROVISION_TIMEOUT).await? {
        tracing::info!(tenant_id = id.0, "tenant provisioned by the worker");
        Ok(Attempt::Provisioned)
    } else {
        tracing::warn!(
            tenant_id = id.0,
            failures = failures + 1,
            "provisioning attempt failed; will retry"
        );
        Ok(Attempt::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
