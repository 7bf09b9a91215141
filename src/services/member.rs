//! The member area's domain: who is signed in, signing in and out, the member center's
//! figures, and password changes.
//!
//! The original kept `chathub_user_id/email/nick` in PHP's session and trusted them until the
//! session died. We keep the same facts in our own cookie (`services::sessions`) and check them
//! against `fa_user` on every member request: a deleted, locked or re-passworded account
//! loses its sessions.

use chrono::Datelike as _;
use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;
use sha2::Digest as _;

use crate::clock::Clock;
use crate::db::tenant;
use crate::db::user::{self, AttemptCount, AttemptLimits, PasswordUpdate, User};
use crate::domain::ids::UserId;
use crate::domain::password;
use crate::domain::php::php_urlencode;
use crate::domain::tenant::{TenantId, TenantStatus};
use crate::error::AppError;
use crate::services::app::App;
use crate::services::lifecycle::{self, Standing};
use crate::services::sessions::{SessionData, password_fingerprint};

pub const LOGIN_URL: &str = "/addons/chathub/index/login";
pub const MY_URL: &str = "/addons/chathub/index/my";
pub const LANDING_URL: &str = "/addons/chathub/index/landing";

/// `login?error=<msg>` as the original built it (PHP `urlencode`).
pub fn login_error_url(msg: &str) -> String {
    format!("{LOGIN_URL}?error={}", php_urlencode(msg))
}

/// A signed-in member whose session was checked against the database on this request.
#[derive(Clone, Debug)]
pub struct Member {
    pub user: User,
    pub session: SessionData,
}

impl Member {
    /// `fa_user.id`: scope every query of a member page with it.
    pub fn id(&self) -> UserId {
        self.user.id
    }

    /// The session's CSRF token, for forms (`csrf_token`) and state-changing links
    /// (`&token=`).
    pub fn csrf(&self) -> &str {
        &self.session.csrf
    }

    /// Constant-time check of a submitted CSRF token.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        self.session.csrf_matches(submitted)
    }

    /// nickname, else username, else email (the member center's greeting).
    pub fn display_name(&self) -> &str {
        self.user.display_name()
    }
}

/// FastAdmin's notion of an account that may sign in.
pub fn is_active(user: &User) -> bool {
    user.status == "normal"
}

/// Whether a signed-in session still stands: it was issued less than
/// `session_max_lifetime_secs` ago and was not logged out (the revocation lives in the
/// database, so it holds across restarts and instances). The account itself is checked by
/// [`signed_in_member`].
pub async fn session_stands(app: &App, session: &SessionData) -> Result<bool, AppError> {
    if !session_may_stand(app, session) {
        return Ok(false);
    }
    let mut conn = app.db.conn().await?;
    Ok(!user::session_revoked(&mut conn, &app.db.t, &session.sid_digest()).await?)
}

/// What the cookie alone says: a signed-in session, not past its lifetime.
fn session_may_stand(app: &App, session: &SessionData) -> bool {
    session.uid.is_some()
        && !session.sid.is_empty()
        && app.clock.epoch() - session.iat < app.config.session_max_lifetime_secs
}

/// What the account behind a standing session says.
pub enum MemberCheck {
    Member(Box<Member>),
    /// The account row is gone.
    Gone,
    /// The account is locked, or its password changed since sign-in.
    Refused,
}

/// The member behind a session cookie: `None` when the session does not stand (see
/// [`session_stands`]), else what its account says. The revocation and the account are
/// read in one statement: every member page pays this before its own queries.
pub async fn signed_in_member(
    app: &App,
    session: SessionData,
) -> Result<Option<MemberCheck>, AppError> {
    if !session_may_stand(app, &session) {
        return Ok(None);
    }
    let uid = session.uid.unwrap_or_default();
    let mut conn = app.db.conn().await?;
    let found = user::find_for_session(&mut conn, &app.db.t, uid, &session.sid_digest()).await?;
    if found.revoked {
        return Ok(None);
    }
    Ok(Some(match found.user {
        None => MemberCheck::Gone,
        Some(u) if !is_active(&u) || session.pwfp != password_fingerprint(&u.password) => {
            MemberCheck::Refused
        }
        Some(user) => MemberCheck::Member(Box::new(Member { user, session })),
    }))
}

/// Logout: the session is revoked in the database, so a copy of its cookie signs no one in,
/// on any instance, after any restart.
pub async fn revoke_session(app: &App, session: &SessionData) -> Result<(), AppError> {
    let (Some(uid), false) = (session.uid, session.sid.is_empty()) else {
        return Ok(());
    };
    let mut conn = app.db.conn().await?;
    user::revoke_session(
        &mut conn,
        &app.db.t,
        &session.sid_digest(),
        uid,
        app.clock.epoch(),
        session.iat + app.config.session_max_lifetime_secs,
    )
    .await
}

// ---------------------------------------------------------------------------------------
// Signing in

/// What `doLogin` received. The password never appears in `Debug` output.
pub struct Credentials {
    pub email: String,
    password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// PHP's truthiness of a request string: empty and "0" are false.
fn php_truthy(s: &str) -> bool {
    !s.is_empty() && s != "0"
}

/// PHP's `trim()` default character set.
fn php_trim(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | '\0' | '\x0B'))
}

/// The `doLogin` form's fields; a missing one reads as empty, as PHP's `input()` default.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
}

impl Credentials {
    /// The original: `trim(email)`, password as sent; either missing → 请填写邮箱和密码.
    pub fn parse(form: LoginForm) -> Option<Credentials> {
        let email = php_trim(&form.email).to_string();
        let password = form.password;
        (php_truthy(&email) && php_truthy(&password)).then_some(Credentials { email, password })
    }
}

/// How `doLogin` ended. Every refusal shows the same message, so a visitor cannot tell an
/// unknown email from a wrong password, a locked account or a throttled attempt.
pub enum SignIn {
    Accepted(User),
    Refused,
}

/// The sign-in limits. Per address (IPv6 per /64): 30 failures in 15 minutes. Per account
/// (by email, known or not): 5 failures freely, then a delay doubling from a minute up to
/// 15 minutes, so a guesser gets about a hundred tries a day and the owner waits at most
/// 15 minutes after the last one; a day without failures forgets them.
pub const LIMITS: AttemptLimits = AttemptLimits {
    address_max: 30,
    address_window: 900,
    account_free: 5,
    account_base_delay: 60,
    account_max_delay: 900,
    account_forget_after: 86_400,
};

/// bcrypt is deliberately slow: keep it off the async workers.
async fn verify_password(plain: &str, hash: &str, salt: &str) -> bool {
    let (plain, hash, salt) = (plain.to_string(), hash.to_string(), salt.to_string());
    tokio::task::spawn_blocking(move || password::verify(&plain, &hash, &salt))
        .await
        .unwrap_or(false)
}

/// The unit an address limit applies to: an IPv4 address, or the /64 an IPv6 client gets
/// from its provider (it can switch among its 2^64 addresses at will).
pub fn address_bucket(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The `chathub_login_throttle` row of an `account` (lower-cased email) or an `address` bucket.
pub fn throttle_key(kind: &str, value: &str) -> String {
    hex::encode(sha2::Sha256::digest(format!("{kind}|{value}").as_bytes()))
}

/// Check the credentials and, when they are right, write the original's sign-in
/// bookkeeping.
///
/// Before any password is checked, one attempt is taken from the client address's window
/// and one from the account's allowance, each by a single conditional UPDATE; an attempt
/// that cannot be taken is refused without looking at the password, so no burst, however
/// concurrent, gets more tries than the limits (`LIMITS`). A success gives the attempts
/// back. Every path pays exactly one bcrypt (`password::verify_for_sign_in`).
pub async fn sign_in(app: &App, creds: &Credentials, ip: IpAddr) -> Result<SignIn, AppError> {
    let now = app.clock.epoch();
    let t = &app.db.t;
    let address_key = throttle_key("address", &address_bucket(ip));
    let account_key = throttle_key("account", &creds.email.to_lowercase());
    let candidate = {
        let mut conn = app.db.conn().await?;
        user::prune_attempts(&mut conn, t, now - LIMITS.account_forget_after).await?;
        if !user::reserve_attempt(
            &mut conn,
            t,
            AttemptCount::Address,
            &address_key,
            now,
            &LIMITS,
        )
        .await?
        {
            tracing::warn!(%ip, "sign-in refused: too many failures from this address");
            None
        } else if !user::reserve_attempt(
            &mut conn,
            t,
            AttemptCount::Account,
            &account_key,
            now,
            &LIMITS,
        )
        .await?
        {
            tracing::warn!("sign-in refused: account is waiting out its failure delay");
            None
        } else {
            user::find_by_email(&mut conn, t, &creds.email).await?
        }
        // The connection goes back to the pool before the slow hash.
    };
    let plain = creds.password.clone();
    let stored = candidate
        .as_ref()
        .map(|u| (u.password.clone(), u.salt.clone()));
    let matches = tokio::task::spawn_blocking(move || {
        password::verify_for_sign_in(
            &plain,
            stored.as_ref().map(|(h, s)| (h.as_str(), s.as_str())),
        )
    })
    .await
    .map_err(AppError::internal)?;
    let Some(found) = candidate else {
        return Ok(SignIn::Refused);
    };
    let mut conn = app.db.conn().await?;
    if !matches {
        user::count_login_failure(&mut conn, t, found.id).await?;
        return Ok(SignIn::Refused);
    }
    if !is_active(&found) {
        tracing::info!(user_id = %found.id, status = %found.status, "sign-in refused: account not active");
        return Ok(SignIn::Refused);
    }
    user::release_attempts(&mut conn, t, &address_key, &account_key).await?;
    user::record_login(&mut conn, t, found.id, now, &ip.to_string()).await?;
    Ok(SignIn::Accepted(found))
}

/// A brand-new session for `user` (new id and CSRF token: nothing from a previous session
/// survives sign-in).
pub fn new_session(user: &User, now: i64) -> SessionData {
    let nick = if user.nickname.is_empty() {
        &user.username
    } else {
        &user.nickname
    };
    SessionData::signed_in(user.id, &user.email, nick, &user.password, now)
}

// ---------------------------------------------------------------------------------------
// The member center (`my`)

/// The notice at the top of the member center, in the original's order of precedence.
#[derive(Clone, Debug, PartialEq)]
pub enum Flash {
    JustPaid,
    Provisioning { order: String },
    Pending { order: String },
    Error(String),
}

impl Flash {
    /// From the request's parameters as `param()` reads them (path, then body, then
    /// query), as the original did; a missing one is empty.
    pub fn from_params(param: impl Fn(&str) -> String) -> Option<Flash> {
        let order = param("order");
        if php_truthy(&param("just_paid")) {
            Some(Flash::JustPaid)
        } else if php_truthy(&param("provisioning")) {
            Some(Flash::Provisioning { order })
        } else if php_truthy(&param("pending")) {
            Some(Flash::Pending { order })
        } else {
            let err = param("error");
            php_truthy(&err).then_some(Flash::Error(err))
        }
    }
}

/// One row of the member center's tenant table.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantSummary {
    pub id: TenantId,
    pub name: String,
    pub domain: String,
    pub status: TenantStatus,
    /// 基础版/专业版/企业版, else the stored plan as is (shown escaped), else "-".
    pub plan_label: String,
    /// The stored price as PHP echoed it.
    pub price_label: String,
    /// `(int)` of the stored price, for the monthly total.
    pub price: i64,
    pub seats: i64,
    /// `Y-m-d`, or "-" without an expiry.
    pub expire_label: String,
    pub days_left: i64,
    /// `None`: no embed code yet ("重新开通" is offered).
    pub embed_code: Option<String>,
    /// The subscription lifecycle's notice (`Current`: none, always so with it off).
    pub standing: Standing,
}

impl TenantSummary {
    pub fn from_tenant(t: &tenant::Listed, clock: &Clock) -> TenantSummary {
        let config = tenant::PlanAndPrice::parse(t.config_raw.as_deref());
        let plan_label = match config.plan() {
            None => "-".to_string(),
            Some(p) => plan_name(&p).map(str::to_string).unwrap_or(p),
        };
        let price_label = match config.price_value() {
            None => "0".to_string(),
            Some(v) => php_echo(v),
        };
        let expiry = t.expire_at.as_deref().and_then(|e| clock.parse_local(e));
        let (expire_label, days_left) = match expiry {
            Some(at) => {
                let secs = at.timestamp() - clock.epoch();
                // Written out rather than through strftime: this runs for every row of `my`.
                let label = format!("{:04}-{:02}-{:02}", at.year(), at.month(), at.day());
                (label, secs.max(0) / 86_400)
            }
            None => ("-".to_string(), 0),
        };
        TenantSummary {
            id: t.id,
            name: t.tenant_name.clone(),
            domain: t.domain.clone(),
            status: t.status,
            plan_label,
            price_label,
            price: config.price(),
            seats: t.max_agents,
            expire_label,
            days_left,
            embed_code: t.embed_code.clone().filter(|e| !e.is_empty()),
            standing: Standing::Current,
        }
    }

    /// "续费" is offered under a week before expiry (and without an expiry, as the
    /// original: 0 days left).
    pub fn renewable(&self) -> bool {
        self.days_left < 7
    }
}

pub fn plan_name(plan: &str) -> Option<&'static str> {
    match plan {
        "basic" => Some("基础版"),
        "pro" => Some("专业版"),
        "enterprise" => Some("企业版"),
        _ => None,
    }
}

/// A JSON scalar as PHP's `echo` prints the decoded value.
fn php_echo(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(true) => "1".into(),
        serde_json::Value::Bool(false) | serde_json::Value::Null => String::new(),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        serde_json::Value::Array(_) => "Array".into(),
        serde_json::Value::Object(_) => "Array".into(),
    }
}

/// The four figures above the table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    pub tenants: usize,
    pub active: usize,
    pub seats: i64,
    pub monthly: i64,
}

/// Everything the member center shows.
pub struct Overview {
    pub totals: Totals,
    pub tenants: Vec<TenantSummary>,
}

/// The member's tenants, newest first, with the totals.
pub async fn overview(app: &App, member: &Member) -> Result<Overview, AppError> {
    let mut conn = app.db.conn().await?;
    let tenants = tenant::list_for_user(&mut conn, &app.db.t, member.id()).await?;
    let policy = app.addon().expiry.clone();
    let markers = if lifecycle::is_on(&policy) {
        let ids: Vec<_> = tenants.iter().map(|t| t.id).collect();
        tenant::lifecycle::markers(&mut conn, &app.db.t, &ids).await?
    } else {
        Default::default()
    };
    let rows = tenants
        .iter()
        .map(|t| TenantSummary {
            standing: lifecycle::standing(
                &policy,
                &app.clock,
                t.status,
                t.expire_at.as_deref(),
                markers.get(&t.id),
            ),
            ..TenantSummary::from_tenant(t, &app.clock)
        })
        .collect::<Vec<_>>();
    // From the summaries, so each tenant's config JSON is parsed once.
    let totals = Totals {
        tenants: rows.len(),
        active: rows
            .iter()
            .filter(|t| t.status == TenantStatus::Active)
            .count(),
        seats: rows.iter().map(|t| t.seats).sum(),
        monthly: rows.iter().map(|t| t.price).sum(),
    };
    Ok(Overview {
        totals,
        tenants: rows,
    })
}

// ---------------------------------------------------------------------------------------
// Changing the password

/// What the change-password form shows after a POST.
#[derive(Clone, Debug, PartialEq)]
pub enum PasswordChange {
    /// A message in the original's wording (or ours for the two new refusals).
    Refused(&'static str),
    /// Stored; the current session must be re-issued with the new fingerprint.
    Changed(SessionData),
}

pub const MSG_FIELDS_MISSING: &str = "请填写所有字段";
pub const MSG_MISMATCH: &str = "两次输入的新密码不一致";
pub const MSG_TOO_SHORT: &str = "新密码至少 6 位";
pub const MSG_WRONG_OLD: &str = "原密码错误";
pub const MSG_CHANGED: &str = "密码修改成功";
/// Ours: the form's token did not match the session (forged cross-site POST or a page
/// left open across sign-ins).
pub const MSG_STALE_FORM: &str = "页面已过期，请刷新后重试";
/// Ours: the stock schema cannot store the new hash (the original answered a 500).
pub const MSG_SCHEMA_TOO_OLD: &str =
    "暂时无法修改密码：会员表的密码字段过短，请联系网站管理员升级数据库后再试";

/// The change-password form's fields (missing ones read as empty).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    csrf_token: String,
    old_password: String,
    new_password: String,
    confirm_password: String,
}

/// The original's checks, in its order, then a conditional update so two concurrent
/// changes cannot both succeed against the same old password.
pub async fn change_password(
    app: &App,
    member: &Member,
    form: &PasswordForm,
) -> Result<PasswordChange, AppError> {
    if !member.csrf_matches(&form.csrf_token) {
        return Ok(PasswordChange::Refused(MSG_STALE_FORM));
    }
    let (old, new, confirm) = (
        form.old_password.as_str(),
        form.new_password.as_str(),
        form.confirm_password.as_str(),
    );
    if !php_truthy(old) || !php_truthy(new) || !php_truthy(confirm) {
        return Ok(PasswordChange::Refused(MSG_FIELDS_MISSING));
    }
    if new != confirm {
        return Ok(PasswordChange::Refused(MSG_MISMATCH));
    }
    // PHP's strlen counts bytes.
    if new.len() < 6 {
        return Ok(PasswordChange::Refused(MSG_TOO_SHORT));
    }
    let current = &member.user;
    if !verify_password(old, &current.password, &current.salt).await {
        return Ok(PasswordChange::Refused(MSG_WRONG_OLD));
    }
    let plain = new.to_string();
    let new_hash = tokio::task::spawn_blocking(move || password::hash(&plain))
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::internal)?;
    let now = app.clock.epoch();
    let mut conn = app.db.conn().await?;
    match user::update_password(
        &mut conn,
        &app.db.t,
        current.id,
        &current.password,
        &new_hash,
        now,
    )
    .await?
    {
        PasswordUpdate::Changed => {
            let mut session = member.session.clone();
            session.pwfp = password_fingerprint(&new_hash);
            session.seen = now;
            Ok(PasswordChange::Changed(session))
        }
        PasswordUpdate::Stale => Ok(PasswordChange::Refused(MSG_WRONG_OLD)),
        PasswordUpdate::ColumnTooNarrow => {
            tracing::warn!(
                user_id = %current.id,
                "password change refused: fa_user.password is too narrow for bcrypt; run the schema migration"
            );
            Ok(PasswordChange::Refused(MSG_SCHEMA_TOO_OLD))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::php::Params;
    use chrono::{DateTime, FixedOffset, Utc};

    fn login(pairs: &[(&str, &str)]) -> LoginForm {
        Params::from_pairs(pairs).form().unwrap()
    }

    #[test]
    fn credentials_follow_phps_trim_and_truthiness() {
        let c = Credentials::parse(login(&[("email", "  a@b.c \t"), ("password", " p ")])).unwrap();
        assert_eq!(c.email, "a@b.c");
        assert_eq!(c.password, " p ");
        assert!(Credentials::parse(login(&[("email", "a@b.c"), ("password", "")])).is_none());
        assert!(Credentials::parse(login(&[("email", "   "), ("password", "x")])).is_none());
        assert!(Credentials::parse(login(&[("email", "a@b.c"), ("password", "0")])).is_none());
        assert!(Credentials::parse(login(&[])).is_none());
        // A repeated field keeps its last value, as in PHP's `$_POST`.
        let twice = [
            ("email", "first@b.c"),
            ("password", "p"),
            ("email", "last@b.c"),
        ];
        assert_eq!(Credentials::parse(login(&twice)).unwrap().email, "last@b.c");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains(" p "), "{dbg}");
    }

    #[test]
    fn ipv6_clients_are_limited_per_64_and_ipv4_per_address() {
        let b = |s: &str| address_bucket(s.parse().unwrap());
        assert_eq!(b("2001:db8:1:2:aaaa::1"), b("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(b("2001:db8:1:2::1"), b("2001:db8:1:3::1"));
        assert_eq!(b("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(b("203.0.113.5"), "203.0.113.5");
        assert_ne!(b("203.0.113.5"), b("203.0.113.6"));
        // An IPv4 client seen through a dual-stack socket is still that IPv4 address.
        assert_eq!(b("::ffff:203.0.113.5"), "203.0.113.5");
    }

    #[test]
    fn user_debug_output_carries_no_password_hash_or_salt() {
        let u = User {
            id: UserId(2),
            username: "a@b.c".into(),
            nickname: "A".into(),
            password: "8a2552332d39695709a007fbcef16e49".into(),
            salt: "legacy1".into(),
            email: "a@b.c".into(),
            status: "normal".into(),
            logintime: None,
            successions: 0,
            loginfailure: 0,
            updatetime: None,
        };
        let session = new_session(&u, 1000);
        let dbg = format!("{:?}", Member { user: u, session });
        assert!(
            !dbg.contains("8a2552332d39") && !dbg.contains("legacy1"),
            "{dbg}"
        );
        assert!(dbg.contains("a@b.c"), "{dbg}");
    }

    fn tenant(config: &str, expire: Option<&str>, embed: Option<&str>) -> tenant::Listed {
        tenant::Listed {
            id: TenantId(5),
            tenant_name: "T".into(),
            domain: "d".into(),
            max_agents: 3,
            status: TenantStatus::Active,
            config_raw: Some(config.into()),
            embed_code: embed.map(str::to_string),
            expire_at: expire.map(str::to_string),
        }
    }

    fn clock_at(local: &str) -> Clock {
        let tz = FixedOffset::east_opt(8 * 3600).unwrap();
        let t = DateTime::parse_from_rfc3339(local).unwrap();
        Clock::fake(tz, t.with_timezone(&Utc))
    }

    #[test]
    fn tenant_rows_read_like_the_original() {
        let clock = clock_at("2026-11-25T07:06:38+08:00");
        let s = TenantSummary::from_tenant(
            &tenant(
                r#"{"plan":"pro","price":60}"#,
                Some("2026-12-15 12:00:00"),
                Some("<s>"),
            ),
            &clock,
        );
        assert_eq!(
            (
                s.plan_label.as_str(),
                s.price_label.as_str(),
                s.expire_label.as_str(),
                s.days_left
            ),
            ("专业版", "60", "2026-12-15", 20)
        );
        assert!(!s.renewable());
        // Double-encoded config, unknown plan kept as is, expired → 0 days.
        let s = TenantSummary::from_tenant(
            &tenant(
                r#""{\"plan\":\"<i>gold</i>\",\"price\":\"90\"}""#,
                Some("2026-11-23 12:00:00"),
                Some(""),
            ),
            &clock,
        );
        assert_eq!(
            (s.plan_label.as_str(), s.price_label.as_str(), s.days_left),
            ("<i>gold</i>", "90", 0)
        );
        assert!(s.renewable() && s.embed_code.is_none());
        // No config, no expiry.
        let s = TenantSummary::from_tenant(&tenant("", None, None), &clock);
        assert_eq!(
            (
                s.plan_label.as_str(),
                s.price_label.as_str(),
                s.expire_label.as_str()
            ),
            ("-", "0", "-")
        );
        assert!(s.renewable());
        assert_eq!(php_echo(&serde_json::json!(60.0)), "60");
        assert_eq!(php_echo(&serde_json::json!(59.5)), "59.5");
    }
}
