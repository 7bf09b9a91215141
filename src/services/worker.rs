//! The provisioning worker: finishes every tenant a payment (or a failed registration) left
//! without resources, so no paid tenant is ever stuck.
//!
//! The original provisioned synchronously inside the payment webhook and never retried; a
//! provision server outage lost the provisioning for good. Here the webhook only records the
//! payment (tenant → `provisioning`) and this loop, running in every server instance, does
//! the rest:
//! * each pass reads the tenants that are *due* (`chathub_provision_state`), never-tried ones
//!   first, then by next-attempt time, so tenants in back-off never crowd out the others;
//! * each tenant is claimed with a lease in its schedule row (`provisioning::claim`): two
//!   instances never provision the same tenant at once, no connection is held while the
//!   provision server is called, and a killed instance's lease runs out by itself;
//! * the schedule lives in the database, so a restart or another instance resumes it;
//! * when the provision server answers again (a success, or `/health` after unanswered
//!   calls) every waiting tenant becomes due at once instead of sitting out its back-off;
//! * on shutdown the call in flight is abandoned: nothing is written, the lease is given back
//!   (or runs out), and the tenant is tried again (same idempotency key) after the restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::db::tenant;
use crate::domain::tenant::{TenantId, TenantStatus};
use crate::error::AppError;
use crate::services::app::App;
use crate::services::provisioning::{self, Outcome, eligibility, reprovision_once};

/// How often each instance looks for work.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Tenants read per pass.
const BATCH: u32 = 20;
/// Attempts one instance runs at once (none holds a connection while it calls).
const CONCURRENCY: usize = 4;
/// While calls fail, `/health` is asked at most this often.
const HEALTH_PROBE_INTERVAL: Duration = Duration::from_secs(2);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Start the worker unless the configuration turns it off. It stops when `stop` flips,
/// abandoning the call in flight (see the module doc).
pub fn spawn(app: Arc<App>, stop: watch::Receiver<bool>) -> Option<tokio::task::JoinHandle<()>> {
    if !app.config.provision_worker && !app.config.pay.sweep {
        return None;
    }
    Some(tokio::spawn(run(app, stop)))
}

async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut probe = HealthProbe::default();
    // The payment sweep runs beside the provisioning passes, so a slow gateway never holds
    // up provisioning (nor the other way round).
    let sweep = app
        .config
        .pay
        .sweep
        .then(|| tokio::spawn(sweep_payments(app.clone(), stop.clone())));
    let _abort_sweep = AbortOnDrop(sweep);
    // Refunds and the daily bill on their own loop: a bill download (minutes at worst) or a
    // hanging refund call never holds up the order sweep.
    let refunds = app
        .config
        .pay
        .sweep
        .then(|| tokio::spawn(sweep_refunds(app.clone(), stop.clone())));
    let _abort_refunds = AbortOnDrop(refunds);
    if !app.config.provision_worker {
        let _ = stop.changed().await;
        return;
    }
    loop {
        if *stop.borrow() {
            return;
        }
        match run_once(&app, &stop).await {
            Ok(pass) => {
                // Any failed attempt, answered (a 500 while Chatwoot is down) or not: ask
                // `/health` until it has been seen failing and answering again.
                if pass.attempts > pass.provisioned {
                    probe.server_silent = true;
                }
                if pass.provisioned > 0 {
                    probe.server_silent = false;
                    probe.health_failed = false;
                }
            }
            // An outage (or a frozen database) fails every pass the same way: counted by
            // `DbHealth`, which logs it once and its end when a checkout works again.
            Err(e) => app
                .db
                .health
                .report_background(&e, "provisioning worker pass"),
        }
        crate::services::lifecycle::sweep::run(&app).await;
        probe.maybe_probe(&app).await;
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

/// Aborts the task it holds when the worker ends, so the sweep stops with it.
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// How often the sweep looks whether the gateways' certificates are due for their daily
/// refresh (`services::pay_keys::refresh_due`; the refresh itself is once a day).
const KEYS_LOOK_EVERY: Duration = Duration::from_secs(60);

/// The payment sweep (`services::pay_query::sweep_once`), once every [`POLL_INTERVAL`].
async fn sweep_payments(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut keys_looked_at: Option<std::time::Instant> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(e) = crate::services::pay_query::sweep_once(&app).await {
            app.db.health.report_background(&e, "payment sweep pass");
        }
        if keys_looked_at.is_none_or(|t| t.elapsed() >= KEYS_LOOK_EVERY) {
            keys_looked_at = Some(std::time::Instant::now());
            if let Err(e) = crate::services::pay_keys::refresh_due(&app).await {
                app.db
                    .health
                    .report_background(&e, "payment certificate refresh");
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

/// The refund sweep (`services::refund::sweep_once`) once every [`POLL_INTERVAL`], and the
/// daily reconciliation (`services::reconcile::daily`) beside it.
async fn sweep_refunds(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    // The daily job's "is yesterday done?" is asked once a minute, not every pass.
    let mut daily_asked: Option<std::time::Instant> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(e) = crate::services::refund::sweep_once(&app).await {
            app.db.health.report_background(&e, "refund sweep pass");
        }
        if daily_asked.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(60)) {
            daily_asked = Some(std::time::Instant::now());
            if let Err(e) = crate::services::reconcile::daily(&app).await {
                app.db.health.report_background(&e, "daily reconciliation");
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}

/// After calls failed, asks `/health`; when it answers after having failed, the outage is
/// over and the waiting tenants become due. (A server whose `/health` answers while its
/// `/provision` hangs or fails wakes nobody: back-off applies.) In memory only: it merely shortens
/// waits, the schedule itself is in the database.
#[derive(Default)]
struct HealthProbe {
    server_silent: bool,
    health_failed: bool,
    last: Option<Instant>,
}

impl HealthProbe {
    async fn maybe_probe(&mut self, app: &App) {
        if !self.server_silent
            || self
                .last
                .is_some_and(|l| l.elapsed() < HEALTH_PROBE_INTERVAL)
        {
            return;
        }
        self.last = Some(Instant::now());
        let url = app.addon().provision_server_url.clone();
        if !matches!(
            app.provision.health(&url, HEALTH_TIMEOUT).await,
            Ok((200, _))
        ) {
            self.health_failed = true;
            return;
        }
        self.server_silent = false;
        if !std::mem::take(&mut self.health_failed) {
            return;
        }
        let woke = crate::db::within(app.config.request_timeout, "rescheduling", async {
            let mut conn = app.db.conn().await?;
            tenant::make_waiting_due(&mut conn, &app.db.t, app.clock.epoch()).await
        });
        match woke.await {
            Ok(n) => tracing::info!(
                waiting = n,
                "provision server healthy again; waiting tenants are due now"
            ),
            Err(e) => tracing::warn!(error = %e, "could not reschedule waiting tenants"),
        }
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Attempts that reached a result (provisioned or failed).
    pub attempts: usize,
    pub provisioned: usize,
    /// Failed attempts the provision server did not answer at all.
    pub unanswered: usize,
}

/// One pass over the due tenants, up to [`CONCURRENCY`] at once.
///
/// Every step is bounded, so a database that freezes (or a lock held elsewhere) costs the
/// worker a bound, never the rest of its life: reading the due tenants gets
/// `request_timeout_ms`, each attempt that plus its one provision call. An attempt cut
/// there is dropped as a request would be (its connection, named lock and any open
/// transaction go with it: see `db::within`), and the tenant is tried again when due.
pub async fn run_once(app: &Arc<App>, stop: &watch::Receiver<bool>) -> Result<Pass, AppError> {
    let candidates = crate::db::within(app.config.request_timeout, "due tenants", async {
        let mut conn = app.db.conn().await?;
        tenant::provisioning_due(
            &mut conn,
            &app.db.t,
            app.clock.epoch(),
            &app.clock.datetime(),
            BATCH,
        )
        .await
    })
    .await?;
    let attempt_bound = app.config.request_timeout + app.config.provision_call_timeout;
    let mut pass = Pass::default();
    let mut queue = candidates.into_iter().map(|t| t.id);
    let mut running = JoinSet::new();
    loop {
        while running.len() < CONCURRENCY && !*stop.borrow() {
            let Some(id) = queue.next() else { break };
            let (app, stop) = (app.clone(), stop.clone());
            running.spawn(async move {
                crate::db::within(attempt_bound, "provisioning attempt", async {
                    attempt(&app, id, Some(stop)).await
                })
                .await
            });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        match done {
            Ok(Ok(Attempt::Done(Outcome::Provisioned))) => {
                pass.attempts += 1;
                pass.provisioned += 1;
            }
            Ok(Ok(Attempt::Done(Outcome::Failed { unanswered }))) => {
                pass.attempts += 1;
                pass.unanswered += usize::from(unanswered);
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => app.db.health.report_background(&e, "provisioning attempt"),
            Err(e) => tracing::warn!(error = %e, "provisioning attempt panicked"),
        }
    }
    Ok(pass)
}

/// What [`attempt`] came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// A call was made (or refused, or interrupted); see the outcome.
    Done(Outcome),
    /// Back-off not over yet.
    NotDue,
    /// Another instance (or the member's request) is working on it right now.
    Busy,
    /// Nothing to do any more (provisioned meanwhile, deleted, status changed).
    NotNeeded,
}

fn needs_provisioning(t: &tenant::Tenant) -> bool {
    match t.status {
        TenantStatus::Provisioning => true,
        TenantStatus::Pending => !t.has_embed() && t.config().0.contains_key("provision_retry"),
        _ => false,
    }
}

/// Claim the tenant, re-check it under the claim, honour its schedule, provision once.
pub async fn attempt(
    app: &App,
    id: TenantId,
    stop: Option<watch::Receiver<bool>>,
) -> Result<Attempt, AppError> {
    let Some(claim) = provisioning::claim(app, id).await? else {
        return Ok(Attempt::Busy);
    };
    let checked = async {
        let t = &app.db.t;
        let mut conn = app.db.conn().await?;
        let Some(current) = tenant::find(&mut conn, t, id).await? else {
            return Ok(Err(Attempt::NotNeeded));
        };
        if !needs_provisioning(&current) || eligibility(&current, &app.clock).is_err() {
            return Ok(Err(Attempt::NotNeeded));
        }
        let state = tenant::provision_state(&mut conn, t, id).await?;
        if app.clock.epoch() < state.next_attempt_at {
            return Ok(Err(Attempt::NotDue));
        }
        Ok::<_, AppError>(Ok(state))
    };
    // Returning early drops the claim, which gives it back.
    let state = match checked.await? {
        Ok(state) => state,
        Err(skip) => return Ok(skip),
    };
    let outcome = reprovision_once(app, claim, stop).await?;
    match outcome {
        Outcome::Provisioned => {
            tracing::info!(tenant_id = id.0, "tenant provisioned by the worker")
        }
        Outcome::Failed { .. } => tracing::warn!(
            tenant_id = id.0,
            failures = state.failures + 1,
            "provisioning attempt failed; will retry"
        ),
        Outcome::Interrupted => {
            tracing::info!(
                tenant_id = id.0,
                "provisioning attempt abandoned for shutdown"
            )
        }
        Outcome::Ineligible(_) | Outcome::Gone => {}
    }
    Ok(Attempt::Done(outcome))
}
