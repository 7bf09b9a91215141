//! Public sign-up (the original `register`): a FastAdmin member account when the email is
//! new, a tenant, then up to three provision attempts inside the request's time budget.
//!
//! # What a tenant looks like when register could not finish it
//!
//! The recordings leave a failed sign-up `pending` (not `provisioning`), so we do too. The
//! contract with the background worker (`src/worker.rs`) and the member's `reprovision`
//! (COMPAT.md#register-bounded-time):
//!
//! * `pending` with `config.register_lease_until`: register is working on it (no database
//!   connection or lock is held meanwhile); the worker does not pick it;
//! * `provisioning`: register was interrupted (crash, restart) between writing the row and
//!   recording the outcome, and the lease ran out ([`release_abandoned`]);
//! * `pending`, no `embed_code`, `config.provision_retry` present: every attempt failed or the
//!   time budget ran out; `config.last_error` holds the last curl-style error;
//! * `pending` without `provision_retry`: the provision server answered 200 with a body that
//!   is not a provision result. It may have created resources, so nothing retries it blindly;
//!   the member's `reprovision` (or support) finishes it, as in the original.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::clients::provision::{ProvisionPayload, ProvisionResult};
use crate::db::log::{self, LogStatus, NewLog};
use crate::db::tenant::{self, NewSignupTenant};
use crate::db::user::{self, InsertMemberError, NewMember};
use crate::domain::email::{Email, EmailError};
use crate::domain::ids::UserId;
use crate::domain::php::{Params, php_json_encode};
use crate::domain::plan::{ExtraSeats, Plan, PlanError, Pricing, SeatsError};
use crate::domain::signup_fields::{CompanyName, FieldError, Notes, SiteDomain, php_filled};
use crate::domain::tenant::Provisioned;
use crate::domain::tenant::{TenantId, TenantStatus};
use crate::error::AppError;
use crate::services::app::App;
use crate::services::signup_gate::Refused;

/// The original tried `/provision` three times, sleeping 1 s and 2 s in between.
pub const MAX_ATTEMPTS: u32 = 3;
/// The original's `CURLOPT_TIMEOUT` per attempt; the request budget usually cuts it shorter.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Never start an attempt with less time than this.
pub const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a sign-up waits for another sign-up of the same email to write its rows (held
/// only for that short transaction).
const EMAIL_LOCK_WAIT_SECS: u32 = 5;
/// A new tenant's trial.
const TRIAL_DAYS: i64 = 30;

impl From<Refused> for SignupError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::Busy => SignupError::Busy,
            Refused::TooManyAttempts => SignupError::TooManyAttempts,
        }
    }
}

/// A validated sign-up request.
#[derive(Clone, Debug, PartialEq)]
pub struct SignupForm {
    pub company_name: CompanyName,
    pub email: Email,
    pub domain: SiteDomain,
    pub plan: Plan,
    pub extra_seats: ExtraSeats,
    pub notes: Notes,
}

/// Why a sign-up was refused or failed. Every variant but `Internal` is shown to the user
/// as is (JSON `msg`, or the failure page); nothing has been written for any of them.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error("请填写必填字段")]
    MissingFields,
    /// A body that cannot be read (bad UTF-8, unsupported format).
    #[error("{0}")]
    Input(&'static str),
    #[error("{0}")]
    Field(#[from] FieldError),
    #[error("{0}")]
    Email(#[from] EmailError),
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Seats(#[from] SeatsError),
    /// Someone else's account (COMPAT.md#register-existing-email-requires-login).
    #[error("该邮箱已注册，请先登录后再开通")]
    EmailTaken,
    #[error("公司名称过长：新账号的昵称最多 50 个字符")]
    NicknameTooLong,
    /// `fa_user` not migrated (COMPAT.md#fa-user-column-widths).
    #[error("暂时无法创建新账号，请联系网站管理员")]
    AccountsUnavailable,
    #[error("系统繁忙，请稍后重试")]
    Busy,
    /// This address made `register_attempts_per_address` attempts in the current window.
    #[error("注册过于频繁，请稍后再试")]
    TooManyAttempts,
    #[error(transparent)]
    Internal(#[from] AppError),
}

impl From<mysql_async::Error> for SignupError {
    fn from(e: mysql_async::Error) -> Self {
        SignupError::Internal(e.into())
    }
}

impl SignupForm {
    /// Read the fields the original read (`company_name`, `email`, `domain`, `plan`, `seats`,
    /// `notes`). The three required ones are checked first, with the original's message.
    pub fn parse(p: &Params) -> Result<SignupForm, SignupError> {
        let (Some(company), Some(email), Some(domain)) = (
            php_filled(p.get("company_name")),
            php_filled(p.get("email")),
            php_filled(p.get("domain")),
        ) else {
            return Err(SignupError::MissingFields);
        };
        Ok(SignupForm {
            company_name: CompanyName::parse(company)?,
            email: Email::parse(email)?,
            domain: SiteDomain::parse(domain)?,
            plan: Plan::from_field(p.get("plan"))?,
            extra_seats: ExtraSeats::from_field(p.get("seats"))?,
            notes: Notes::parse(p.get("notes"))?,
        })
    }
}

/// The member signed in on this browser, as far as sign-up cares.
#[derive(Clone, Debug)]
pub struct SignedInMember {
    pub uid: UserId,
    /// Fingerprint of the password hash at sign-in (a changed password ends the session).
    pub pwfp: String,
}

/// How provisioning ended, with the message the original showed for it.
#[derive(Clone, Debug, PartialEq)]
pub enum ProvisionOutcome {
    Provisioned {
        embed_code: String,
    },
    /// Every attempt failed, or the time budget ran out.
    Failed,
    /// 200 with a body that is not a provision result.
    InvalidResponse,
}

impl ProvisionOutcome {
    pub fn message(&self) -> &'static str {
        match self {
            ProvisionOutcome::Provisioned { .. } => {
                "注册成功！AI 客服已开通，请查收邮件获取嵌入代码。"
            }
            ProvisionOutcome::Failed => "注册成功！正在为您开通，请稍候...",
            ProvisionOutcome::InvalidResponse => {
                "注册成功！正在为您开通，请稍候联系客服获取嵌入代码。"
            }
        }
    }

    pub fn embed_code(&self) -> &str {
        match self {
            ProvisionOutcome::Provisioned { embed_code } => embed_code,
            _ => "",
        }
    }
}

/// A completed sign-up: what the result page and JSON show.
#[derive(Clone, Debug)]
pub struct Registration {
    pub tenant_id: TenantId,
    pub form: SignupForm,
    pub pricing: Pricing,
    /// `Y-m-d H:i:s`, site-local.
    pub expire_at: String,
    /// Shown once to a new member; never stored (COMPAT.md#initial-password-not-stored).
    pub initial_password: Option<String>,
    pub outcome: ProvisionOutcome,
}

impl Registration {
    /// `Y-m-d` of the expiry, as the JSON answer carries it.
    pub fn expire_date(&self) -> &str {
        self.expire_at.get(..10).unwrap_or(&self.expire_at)
    }
}

/// Run the whole sign-up. `Err` means nothing was written (apart from `Internal` failures
/// after the tenant row exists, which leave it for the worker).
///
/// No database connection or lock is held while the provision server is called: the rows
/// are written in one short transaction, the connection goes back to the pool, the attempts
/// run, and the outcome is recorded in a second short transaction. A sign-up in progress is
/// kept from the worker by its state instead of a lock (see [`REGISTER_LEASE_KEY`]).
pub async fn register(
    app: &App,
    form: SignupForm,
    member: Option<SignedInMember>,
    client_ip: IpAddr,
    started: Instant,
) -> Result<Registration, SignupError> {
    let deadline = started + app.config.register_timeout;
    let _admitted = app.signup_gate.admit(client_ip, deadline).await?;
    let pricing = form.plan.pricing(form.extra_seats);
    let created = create_rows(app, &form, pricing, member.as_ref(), client_ip, deadline).await?;
    let tried = provision(app, &form, pricing, created.tenant_id, deadline).await;
    let outcome = record_outcome(app, &form, pricing, &created, tried).await?;
    Ok(Registration {
        tenant_id: created.tenant_id,
        form,
        pricing,
        expire_at: created.expire_at,
        initial_password: created.initial_password,
        outcome,
    })
}

/// `config` key marking a tenant register is still working on, with the epoch (app clock)
/// after which it counts as abandoned. Such a tenant is `pending` without
/// `provision_retry`, which the worker never picks; when register records the outcome the
/// key goes. If the process died first, [`release_abandoned`] hands the tenant to the worker
/// (`provisioning`) once the lease is over.
pub const REGISTER_LEASE_KEY: &str = "register_lease_until";
/// How long after the request's deadline a lease still holds: the last attempt may run up to
/// `MIN_ATTEMPT_TIMEOUT` past the deadline, and recording the outcome takes a checkout.
const LEASE_MARGIN_SECS: i64 = 60;

/// How often each instance looks for sign-ups abandoned mid-way.
const ABANDONED_SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// Hand abandoned sign-ups to the worker, every [`ABANDONED_SWEEP_INTERVAL`] until `stop`.
pub fn spawn_abandoned_sweeper(
    app: std::sync::Arc<App>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        loop {
            // Leases outlive a restart by a minute anyway: nothing is due right at start.
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(ABANDONED_SWEEP_INTERVAL) => {}
            }
            if let Err(e) = release_abandoned(&app).await {
                // A database outage is reported by the requests that meet it.
                tracing::debug!(error = %e, "abandoned sign-up sweep failed");
            }
        }
    });
}

/// Tenants whose sign-up lease ran out without an outcome (the process died, or stalled
/// past the lease) become `provisioning`, the state the worker finishes. The update is
/// conditional on the row being unchanged, so instances sweeping at once, or a sign-up
/// recording its outcome at that moment, never both win. Returns how many were released.
pub async fn release_abandoned(app: &App) -> Result<usize, AppError> {
    let t = &app.db.t;
    let mut conn = app.db.conn().await?;
    let rows: Vec<(u32, String)> = mysql_async::prelude::Queryable::exec(
        &mut conn,
        format!(
            "SELECT id, config FROM `{}` WHERE status = 'pending' AND config LIKE '%register\\_lease\\_until%'",
            t.tenant
        ),
        (),
    )
    .await?;
    let now = app.clock.epoch();
    let mut released = 0;
    for (id, raw) in rows {
        let mut config = tenant::TenantConfig::parse(Some(&raw)).0;
        let Some(until) = config.get(REGISTER_LEASE_KEY).and_then(Value::as_i64) else {
            continue;
        };
        if until > now {
            continue;
        }
        config.remove(REGISTER_LEASE_KEY);
        mysql_async::prelude::Queryable::exec_drop(
            &mut conn,
            format!(
                "UPDATE `{}` SET status = 'provisioning', config = ? WHERE id = ? AND status = 'pending' AND config = ?",
                t.tenant
            ),
            (php_json_encode(&Value::Object(config)), id, &raw),
        )
        .await?;
        if conn.affected_rows() == 1 {
            tracing::warn!(
                tenant_id = id,
                "sign-up abandoned before its outcome was recorded; handed to the worker"
            );
            released += 1;
        }
    }
    Ok(released)
}

struct CreatedRows {
    tenant_id: TenantId,
    expire_at: String,
    /// The `config` as written with the lease: recording the outcome only proceeds while the
    /// row still carries exactly this (nobody took the tenant over).
    leased_config: String,
    /// The original's config (no lease), to which the outcome's keys are added.
    config: Map<String, Value>,
    initial_password: Option<String>,
}

/// Account (when new) and tenant in one short transaction, under a per-email lock so
/// concurrent duplicate submissions cannot create two accounts for one address. The
/// connection and the lock are released before any provision attempt.
async fn create_rows(
    app: &App,
    form: &SignupForm,
    pricing: Pricing,
    member: Option<&SignedInMember>,
    client_ip: IpAddr,
    deadline: Instant,
) -> Result<CreatedRows, SignupError> {
    // bcrypt before any connection is taken (it is slow on purpose). Done for every
    // sign-up, so an existing email costs the same time as a new one.
    let password = crate::domain::password::generate_initial();
    let hash = hash_password(password.clone()).await?;
    let mut conn = app.db.conn().await?;
    let email = form.email.as_str();
    if !user::lock_email(&mut conn, email, EMAIL_LOCK_WAIT_SECS).await? {
        return Err(SignupError::Busy);
    }
    let result = create_rows_locked(
        app,
        &mut conn,
        form,
        pricing,
        member,
        client_ip,
        (password, hash),
        deadline,
    )
    .await;
    if let Err(e) = user::unlock_email(&mut conn, email).await {
        // The lock dies with the connection anyway; the pool resets it on return.
        tracing::warn!(error = %e, "could not release the sign-up lock");
    }
    result
}

#[allow(clippy::too_many_arguments)]
// Long on purpose: the member and tenant rows are written in one transaction under the
// email's lock; its steps read in order.
async fn create_rows_locked(
    app: &App,
    conn: &mut mysql_async::Conn,
    form: &SignupForm,
    pricing: Pricing,
    member: Option<&SignedInMember>,
    client_ip: IpAddr,
    (password, hash): (String, String),
    deadline: Instant,
) -> Result<CreatedRows, SignupError> {
    let t = &app.db.t;
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let written = async {
        let now = app.clock.epoch();
        let existing = user::find_by_email(&mut tx, t, form.email.as_str()).await?;
        let owner = existing.as_ref().filter(|existing| {
            member.is_some_and(|m| {
                m.uid == existing.id
                    && m.pwfp == crate::services::sessions::password_fingerprint(&existing.password)
            })
        });
        // Everything a new account needs is checked before telling anyone (but the owner)
        // that the address is taken: the answer to a stranger depends on whether the email
        // exists only once the whole form would have worked for a new one.
        if owner.is_none() && !form.company_name.fits_nickname() {
            return Err(SignupError::NicknameTooLong);
        }
        let (user_id, initial_password) = match (owner, &existing) {
            (Some(owner), _) => (owner.id, None),
            (None, Some(_)) => return Err(SignupError::EmailTaken),
            (None, None) => {
                let joinip = client_ip.to_string();
                let id = user::insert_new_member(
                    &mut tx,
                    t,
                    &NewMember {
                        email: form.email.as_str(),
                        nickname: form.company_name.as_str(),
                        password_hash: &hash,
                        joinip: &joinip,
                        now,
                    },
                )
                .await
                .map_err(|e| match e {
                    InsertMemberError::ColumnTooNarrow => {
                        tracing::warn!(
                            "fa_user.password/username too narrow for new members; run `chathub migrate` (COMPAT.md#fa-user-column-widths)"
                        );
                        SignupError::AccountsUnavailable
                    }
                    InsertMemberError::Db(e) => SignupError::Internal(e),
                })?;
                (id, Some(password))
            }
        };
        let expire_at = app
            .clock
            .format_epoch(now + TRIAL_DAYS * 86_400, "%Y-%m-%d %H:%M:%S");
        let config =
            initial_config(form, pricing, &app.clock.format_epoch(now, "%Y-%m-%d %H:%M:%S"));
        let budget = deadline.saturating_duration_since(Instant::now()).as_secs() as i64;
        let mut leased = config.clone();
        leased.insert(
            REGISTER_LEASE_KEY.into(),
            Value::from(now + budget + LEASE_MARGIN_SECS),
        );
        let leased_config = php_json_encode(&Value::Object(leased));
        let tenant_id = tenant::insert_provisioning(
            &mut tx,
            t,
            &NewSignupTenant {
                user_id,
                tenant_name: form.company_name.as_str(),
                domain: form.domain.as_str(),
                email: form.email.as_str(),
                max_agents: pricing.seats,
                expire_at: &expire_at,
                config: &leased_config,
                now,
            },
        )
        .await?;
        // `pending` without `provision_retry` until the outcome is recorded: the worker
        // leaves it alone (committed together with the insert, so no one sees it otherwise).
        tenant::set_status(&mut tx, t, tenant_id, TenantStatus::Pending).await?;
        Ok(CreatedRows {
            tenant_id,
            expire_at,
            leased_config,
            config,
            initial_password,
        })
    }
    .await;
    match written {
        Ok(rows) => {
            tx.commit().await?;
            Ok(rows)
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

/// bcrypt is deliberately slow: keep it off the async workers.
async fn hash_password(password: String) -> Result<String, SignupError> {
    tokio::task::spawn_blocking(move || crate::domain::password::hash(&password))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| SignupError::Internal(AppError::internal(e)))
}

/// The tenant's `config` as the original built it, minus the clear-text password
/// (COMPAT.md#initial-password-not-stored).
fn initial_config(form: &SignupForm, pricing: Pricing, registered_at: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("plan".into(), Value::String(form.plan.as_str().into()));
    m.insert("price".into(), Value::from(pricing.monthly_price));
    m.insert("notes".into(), Value::String(form.notes.as_str().into()));
    m.insert("registered_at".into(), Value::String(registered_at.into()));
    m.insert("initial_password".into(), Value::Null);
    m
}

/// `reg-` + 16 random hex, one per sign-up and reused for every retry so the provision
/// server's idempotency cache turns a retried success into the same resources.
fn idempotency_key() -> String {
    let bytes: [u8; 8] = rand::random();
    format!("reg-{}", hex::encode(bytes))
}

/// Up to three attempts with 1 s and 2 s back-off, all inside `deadline`, holding nothing
/// of the database.
async fn provision(
    app: &App,
    form: &SignupForm,
    pricing: Pricing,
    tenant_id: TenantId,
    deadline: Instant,
) -> Attempts {
    let addon = app.addon();
    let payload = ProvisionPayload {
        name: form.company_name.as_str().into(),
        domain: form.domain.as_str().into(),
        email: form.email.as_str().into(),
        kind: "web_widget".into(),
        max_agents: pricing.seats,
    };
    let key = idempotency_key();
    let mut attempts: u32 = 0;
    let mut last_error = None;
    loop {
        attempts += 1;
        let timeout = deadline
            .saturating_duration_since(Instant::now())
            .clamp(MIN_ATTEMPT_TIMEOUT, ATTEMPT_TIMEOUT);
        let result = app
            .provision
            .provision(
                &addon.provision_server_url,
                addon.provision_api_key(),
                &key,
                &payload,
                timeout,
            )
            .await;
        let ProvisionResult::Failed(error) = &result else {
            return Attempts {
                count: attempts,
                result,
                last_error,
            };
        };
        last_error = Some(error.log_text());
        if attempts >= MAX_ATTEMPTS {
            return Attempts {
                count: attempts,
                result,
                last_error,
            };
        }
        let wait = Duration::from_secs(1 << (attempts - 1));
        if deadline.saturating_duration_since(Instant::now()) < wait + MIN_ATTEMPT_TIMEOUT {
            // Budget spent: answer now; the worker or `reprovision` finishes the tenant.
            tracing::info!(tenant = tenant_id.0, attempts, "register time budget spent");
            return Attempts {
                count: attempts,
                result,
                last_error,
            };
        }
        tokio::time::sleep(wait).await;
    }
}

/// What the provision attempts of one sign-up came to.
struct Attempts {
    count: u32,
    result: ProvisionResult,
    /// The curl-style text of the latest failed attempt, if any failed.
    last_error: Option<String>,
}

/// The outcome, the config the original would have left (its `provision_retry` and
/// `last_error` after a failed last attempt) and the log row, in one short transaction,
/// only while the tenant is still this sign-up's.
// Long on purpose: the outcome, config and log row are one transaction, taken only while the
// tenant is still this sign-up's; its steps read in order.
async fn record_outcome(
    app: &App,
    form: &SignupForm,
    pricing: Pricing,
    created: &CreatedRows,
    tried: Attempts,
) -> Result<ProvisionOutcome, SignupError> {
    let t = &app.db.t;
    let id = created.tenant_id;
    let Attempts {
        count: attempts,
        result,
        last_error,
    } = tried;
    let mut config = created.config.clone();
    if let Some(error) = last_error {
        // The original merged these into `config` after every failed attempt; the last
        // failed attempt's values are what it left.
        let failed = if matches!(result, ProvisionResult::Failed(_)) {
            attempts
        } else {
            attempts - 1
        };
        config.insert("provision_retry".into(), Value::from(failed));
        config.insert("last_error".into(), Value::String(error));
    }
    let mut conn = app.db.conn().await?;
    let now = app.clock.epoch();
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await?;
    let still_ours = tenant::find_for_update(&mut tx, t, id)
        .await?
        .is_some_and(|row| {
            row.status == TenantStatus::Pending
                && row.config_raw.as_deref() == Some(created.leased_config.as_str())
        });
    if !still_ours {
        // The lease ran out (this request was stalled for a minute past its deadline) and the
        // worker owns the tenant now; it records its own attempts.
        tx.rollback().await?;
        tracing::warn!(
            tenant_id = id.0,
            "sign-up outcome not recorded: the tenant was handed to the worker"
        );
        return Ok(ProvisionOutcome::Failed);
    }
    tenant::update_config(
        &mut tx,
        t,
        id,
        &php_json_encode(&Value::Object(config)),
        now,
    )
    .await?;
    let (outcome, detail, status) = match result {
        ProvisionResult::Provisioned(p) => {
            tenant::apply_provisioned(&mut tx, t, id, &p, &app.clock.datetime(), now).await?;
            let retried = if attempts > 1 {
                format!(" (重试{attempts}次后成功)")
            } else {
                String::new()
            };
            let detail = format!(
                "注册开通: {}, 方案: {}, 席位: {}, 价格: ¥{}/月{retried}",
                form.company_name.as_str(),
                form.plan.as_str(),
                pricing.seats,
                pricing.monthly_price
            );
            (embed_outcome(&p), detail, LogStatus::Success)
        }
        ProvisionResult::InvalidBody(_) => {
            tenant::set_status_touch(&mut tx, t, id, TenantStatus::Pending, now).await?;
            (
                ProvisionOutcome::InvalidResponse,
                format!("注册响应无效（{attempts}次重试）"),
                LogStatus::Failed,
            )
        }
        ProvisionResult::Failed(e) => {
            tenant::set_status_touch(&mut tx, t, id, TenantStatus::Pending, now).await?;
            (
                ProvisionOutcome::Failed,
                format!("注册失败（{attempts}次重试）: {}", e.log_text()),
                LogStatus::Failed,
            )
        }
    };
    log::insert(
        &mut tx,
        t,
        &NewLog {
            tenant_id: id.0,
            action: "register",
            detail: &detail,
            status,
            operator: "website",
            createtime: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

fn embed_outcome(p: &Provisioned) -> ProvisionOutcome {
    ProvisionOutcome::Provisioned {
        embed_code: p.embed_code.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs)
    }

    #[test]
    fn required_fields_come_first() {
        for p in [
            params(&[]),
            params(&[("company_name", "Acme")]),
            params(&[("company_name", "Acme"), ("email", "x@example.com")]),
            params(&[
                ("company_name", " "),
                ("email", "x@example.com"),
                ("domain", "d"),
            ]),
            // Even with other bad fields, missing ones are reported first.
            params(&[("plan", "pro"), ("seats", "-5")]),
        ] {
            assert!(
                matches!(SignupForm::parse(&p), Err(SignupError::MissingFields)),
                "{p:?}"
            );
        }
    }

    #[test]
    fn a_full_form_parses_into_domain_values() {
        let f = SignupForm::parse(&params(&[
            ("plan", "enterprise"),
            ("seats", "2"),
            ("company_name", " Bob Enterprise "),
            ("email", "bob@example.com"),
            ("domain", "bob-ent"),
        ]))
        .unwrap();
        assert_eq!(f.company_name.as_str(), "Bob Enterprise");
        assert_eq!(f.plan, Plan::Enterprise);
        assert_eq!(f.plan.pricing(f.extra_seats).monthly_price, 90);
        assert_eq!(f.notes.as_str(), "");
    }

    #[test]
    fn bad_values_have_clear_messages() {
        let base = [
            ("company_name", "Acme"),
            ("email", "x@example.com"),
            ("domain", "acme"),
        ];
        let with = |k: &'static str, v: &'static str| {
            let mut p: Vec<(&str, &str)> = base.to_vec();
            p.push((k, v));
            SignupForm::parse(&params(&p)).unwrap_err().to_string()
        };
        assert_eq!(with("email", "not-an-email"), "邮箱格式不正确");
        assert_eq!(with("seats", "101"), "额外席位数必须在 0 到 100 之间");
        assert_eq!(with("domain", "a b"), "网站域名包含无效字符");
    }

    #[test]
    fn config_keeps_the_originals_keys_without_the_password() {
        let f = SignupForm::parse(&params(&[
            ("plan", "pro"),
            ("company_name", "Alice Second Shop"),
            ("email", "alice@example.com"),
            ("domain", "alice2"),
            ("notes", "备注 <b>x</b>"),
        ]))
        .unwrap();
        let c = initial_config(&f, f.plan.pricing(f.extra_seats), "2026-11-25 07:06:08");
        assert_eq!(
            php_json_encode(&Value::Object(c)),
            r#"{"plan":"pro","price":60,"notes":"\u5907\u6ce8 <b>x<\/b>","registered_at":"2026-11-25 07:06:08","initial_password":null}"#
        );
    }

    #[test]
    fn idempotency_keys_have_the_recorded_shape() {
        let k = idempotency_key();
        assert_eq!(k.len(), 20);
        assert!(k.starts_with("reg-") && k[4..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(k, idempotency_key());
    }
}
