//! FastAdmin's `fa_user`: the site's member accounts, shared with FastAdmin itself.

use mysql_async::Row;
use mysql_async::prelude::*;

use crate::db::{Tables, col_int, col_text};
use crate::domain::ids::UserId;
use crate::error::AppError;

#[derive(Clone)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub nickname: String,
    pub password: String,
    pub salt: String,
    pub email: String,
    pub status: String,
    pub logintime: Option<i64>,
    pub successions: i64,
    pub loginfailure: i64,
    /// FastAdmin's `updatetime`; also the time of the last failed sign-in (as FastAdmin's
    /// admin accounts use it for their lockout).
    pub updatetime: Option<i64>,
}

/// The password hash and salt never reach logs.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("nickname", &self.nickname)
            .field("password", &"<redacted>")
            .field("salt", &"<redacted>")
            .field("email", &self.email)
            .field("status", &self.status)
            .field("logintime", &self.logintime)
            .field("successions", &self.successions)
            .field("loginfailure", &self.loginfailure)
            .field("updatetime", &self.updatetime)
            .finish()
    }
}

const COLUMNS: &str = "id, username, nickname, password, salt, email, status, logintime, successions, loginfailure, updatetime";

impl User {
    fn from_row(row: &Row) -> User {
        User {
            id: UserId(col_int(row, "id").unwrap_or_default() as u32),
            username: col_text(row, "username").unwrap_or_default(),
            nickname: col_text(row, "nickname").unwrap_or_default(),
            password: col_text(row, "password").unwrap_or_default(),
            salt: col_text(row, "salt").unwrap_or_default(),
            email: col_text(row, "email").unwrap_or_default(),
            status: col_text(row, "status").unwrap_or_default(),
            logintime: col_int(row, "logintime"),
            successions: col_int(row, "successions").unwrap_or_default(),
            loginfailure: col_int(row, "loginfailure").unwrap_or_default(),
            updatetime: col_int(row, "updatetime"),
        }
    }

    /// What the member center calls the user: nickname, else username, else email.
    pub fn display_name(&self) -> &str {
        [&self.nickname, &self.username, &self.email]
            .into_iter()
            .find(|s| !s.is_empty())
            .map(String::as_str)
            .unwrap_or("")
    }
}

pub async fn find_by_id<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: UserId,
) -> Result<Option<User>, AppError> {
    let row: Option<Row> = conn
        .exec_first(
            format!("SELECT {COLUMNS} FROM `{}` WHERE id = ?", t.user),
            (id.0,),
        )
        .await?;
    Ok(row.as_ref().map(User::from_row))
}

/// A session's revocation and its account, as [`find_for_session`] reads them.
pub struct SessionAccount {
    pub revoked: bool,
    /// `None`: the account row is gone.
    pub user: Option<User>,
}

/// Whether the session (by its id's digest) was logged out, and the account it names, in
/// one round trip: always one row, the account's columns NULL when it is gone.
pub async fn find_for_session<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: UserId,
    sid_digest: &str,
) -> Result<SessionAccount, AppError> {
    // Every member page runs this: the qualified column list is built once.
    static COLUMNS_OF_U: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        COLUMNS
            .split(", ")
            .map(|c| format!("u.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    });
    let columns = COLUMNS_OF_U.as_str();
    let row: Option<Row> = conn
        .exec_first(
            format!(
                "SELECT r.revoked, {columns} FROM \
                 (SELECT EXISTS(SELECT 1 FROM `{}` WHERE id = ?) AS revoked) r \
                 LEFT JOIN `{}` u ON u.id = ?",
                own_table(t, "chathub_session_revoked"),
                t.user
            ),
            (sid_digest, id.0),
        )
        .await?;
    let row = row.ok_or_else(|| AppError::internal("the session lookup returned no row"))?;
    Ok(SessionAccount {
        revoked: col_int(&row, "revoked").unwrap_or_default() != 0,
        user: col_int(&row, "id").is_some().then(|| User::from_row(&row)),
    })
}

pub async fn find_by_email<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    email: &str,
) -> Result<Option<User>, AppError> {
    let row: Option<Row> = conn
        .exec_first(
            format!(
                "SELECT {COLUMNS} FROM `{}` WHERE email = ? ORDER BY id LIMIT 1",
                t.user
            ),
            (email,),
        )
        .await?;
    Ok(row.as_ref().map(User::from_row))
}

/// Successful sign-in bookkeeping, as the original `doLogin` wrote it (`prevtime` = the
/// previous `logintime`, or now for a first sign-in; `successions` + 1), plus FastAdmin's
/// reset of the failure counter.
pub async fn record_login<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: UserId,
    now: i64,
    ip: &str,
) -> Result<(), AppError> {
    // MySQL applies single-table SET clauses left to right: `prevtime` must read the old
    // `logintime` before it is overwritten.
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET prevtime = IF(logintime IS NULL OR logintime = 0, ?, logintime), \
             logintime = ?, loginip = ?, successions = successions + 1, loginfailure = 0 WHERE id = ?",
            t.user
        ),
        (now, now, ip, id.0),
    )
    .await?;
    Ok(())
}

/// One more failed password on this account (FastAdmin's `loginfailure`, reset by a
/// successful sign-in). Only a count for the admin to see: the delay between attempts lives
/// in `chathub_login_throttle`. TINYINT UNSIGNED: stops at 255.
pub async fn count_login_failure<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: UserId,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET loginfailure = LEAST(loginfailure + 1, 255) WHERE id = ?",
            t.user
        ),
        (id.0,),
    )
    .await?;
    Ok(())
}

/// What became of a password change.
#[derive(Debug, PartialEq, Eq)]
pub enum PasswordUpdate {
    Changed,
    /// The stored hash is no longer the one the old password was checked against (a
    /// concurrent change won).
    Stale,
    /// The stock `fa_user.password` is VARCHAR(32) and cannot hold a bcrypt hash until the
    /// schema migration widens it.
    ColumnTooNarrow,
}

/// Store a new hash (salt cleared, as the original), only if the row still holds
/// `old_hash`.
pub async fn update_password<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    id: UserId,
    old_hash: &str,
    new_hash: &str,
    now: i64,
) -> Result<PasswordUpdate, AppError> {
    let result = conn
        .exec_iter(
            format!(
                "UPDATE `{}` SET password = ?, salt = '', updatetime = ? WHERE id = ? AND password = ?",
                t.user
            ),
            (new_hash, now, id.0, old_hash),
        )
        .await;
    match result {
        Ok(r) => {
            let changed = r.affected_rows() == 1;
            r.drop_result().await?;
            Ok(if changed {
                PasswordUpdate::Changed
            } else {
                PasswordUpdate::Stale
            })
        }
        // ER_DATA_TOO_LONG: strict mode refuses to truncate the hash.
        Err(mysql_async::Error::Server(e)) if e.code == 1406 => Ok(PasswordUpdate::ColumnTooNarrow),
        Err(e) => Err(e.into()),
    }
}

/// A member account created by the public sign-up (the original `register`'s `fa_user`
/// insert): every other column keeps FastAdmin's default.
pub struct NewMember<'a> {
    pub email: &'a str,
    pub nickname: &'a str,
    pub password_hash: &'a str,
    pub joinip: &'a str,
    pub now: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum InsertMemberError {
    /// The stock FastAdmin schema (`password`/`username` varchar(32)) cannot hold the row in
    /// strict mode; `chathub migrate` widens it (COMPAT.md#fa-user-column-widths).
    #[error("fa_user column too narrow for the new member (run `chathub migrate`)")]
    ColumnTooNarrow,
    #[error(transparent)]
    Db(#[from] AppError),
}

/// MySQL/MariaDB `ER_DATA_TOO_LONG`.
const ER_DATA_TOO_LONG: u16 = 1406;

pub async fn insert_new_member<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    m: &NewMember<'_>,
) -> Result<UserId, InsertMemberError> {
    let result = conn
        .exec_drop(
            format!(
                "INSERT INTO `{}` (username, nickname, email, password, salt, status, jointime, joinip, createtime, updatetime) \
                 VALUES (?, ?, ?, ?, '', 'normal', ?, ?, ?, ?)",
                t.user
            ),
            (m.email, m.nickname, m.email, m.password_hash, m.now, m.joinip, m.now, m.now),
        )
        .await;
    match result {
        Ok(()) => {}
        Err(mysql_async::Error::Server(e)) if e.code == ER_DATA_TOO_LONG => {
            return Err(InsertMemberError::ColumnTooNarrow);
        }
        Err(e) => return Err(InsertMemberError::Db(e.into())),
    }
    let id: Option<u64> = conn
        .query_first("SELECT LAST_INSERT_ID()")
        .await
        .map_err(AppError::from)?;
    id.and_then(|i| u32::try_from(i).ok())
        .map(UserId)
        .ok_or_else(|| InsertMemberError::Db(AppError::internal("no id for the new member")))
}

/// Serialise sign-ups of one email address across requests and processes (FastAdmin has no
/// unique key on `fa_user.email`): a MySQL named lock, scoped to this database. `Ok(false)`
/// when the lock was not obtained within `timeout_secs`. Connection-scoped: release it on
/// the same connection with [`unlock_email`]. The pool does not reset connections given back
/// to it, so this one is marked for a reset: if the request ends between lock and unlock
/// (an error, its bound, a dropped future), the lock still dies when the connection returns.
pub async fn lock_email(
    conn: &mut mysql_async::Conn,
    email: &str,
    timeout_secs: u32,
) -> Result<bool, AppError> {
    conn.reset_connection(true);
    let got: Option<Option<i64>> = conn
        .exec_first(
            "SELECT GET_LOCK(CONCAT('chathub_signup_', MD5(CONCAT(DATABASE(), '|', LOWER(?)))), ?)",
            (email, timeout_secs),
        )
        .await?;
    Ok(got.flatten() == Some(1))
}

pub async fn unlock_email(conn: &mut mysql_async::Conn, email: &str) -> Result<(), AppError> {
    conn.exec_drop(
        "SELECT RELEASE_LOCK(CONCAT('chathub_signup_', MD5(CONCAT(DATABASE(), '|', LOWER(?)))))",
        (email,),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// chathub's own member tables (install.sql, "chathub's own tables")

/// `<prefix><name>`: our tables share the site's prefix with `fa_user`.
fn own_table(t: &Tables, name: &str) -> String {
    let prefix = t.user.strip_suffix("user").unwrap_or("");
    format!("{prefix}{name}")
}

/// Revoke one session (logout) until `expiretime`, when its cookie dies anyway.
pub async fn revoke_session<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    sid_digest: &str,
    user_id: UserId,
    now: i64,
    expiretime: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "INSERT IGNORE INTO `{}` (id, user_id, revoketime, expiretime) VALUES (?, ?, ?, ?)",
            own_table(t, "chathub_session_revoked")
        ),
        (sid_digest, user_id, now.max(0), expiretime.max(0)),
    )
    .await?;
    // Rows whose cookies are past their absolute lifetime are dead weight.
    conn.exec_drop(
        format!(
            "DELETE FROM `{}` WHERE expiretime < ? LIMIT 200",
            own_table(t, "chathub_session_revoked")
        ),
        (now,),
    )
    .await?;
    Ok(())
}

pub async fn session_revoked<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    sid_digest: &str,
) -> Result<bool, AppError> {
    let found: Option<u8> = conn
        .exec_first(
            format!(
                "SELECT 1 FROM `{}` WHERE id = ?",
                own_table(t, "chathub_session_revoked")
            ),
            (sid_digest,),
        )
        .await?;
    Ok(found.is_some())
}

/// The limits on sign-in attempts (see `member::sign_in`).
#[derive(Clone, Copy, Debug)]
pub struct AttemptLimits {
    /// Per address: failures allowed within `address_window` seconds.
    pub address_max: i64,
    pub address_window: i64,
    /// Per account: failures without any delay...
    pub account_free: i64,
    /// ...then `account_base_delay * 2^(n - free)` seconds before the next attempt, at most
    /// `account_max_delay`.
    pub account_base_delay: i64,
    pub account_max_delay: i64,
    /// An account's count starts again after this long without a failure.
    pub account_forget_after: i64,
}

fn throttle_table(t: &Tables) -> String {
    own_table(t, "chathub_login_throttle")
}

async fn ensure_throttle_row<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    key: &str,
    now: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "INSERT IGNORE INTO `{}` (id, failures, window_start, next_at, updatetime) VALUES (?, 0, ?, 0, ?)",
            throttle_table(t)
        ),
        (key, now, now),
    )
    .await?;
    Ok(())
}

async fn affected<Q: Queryable>(
    conn: &mut Q,
    sql: String,
    params: mysql_async::Params,
) -> Result<u64, AppError> {
    let r = conn.exec_iter(sql, params).await?;
    let n = r.affected_rows();
    r.drop_result().await?;
    Ok(n)
}

/// Which count a sign-in attempt is taken from (the limits are in [`AttemptLimits`]).
#[derive(Clone, Copy, Debug)]
pub enum AttemptCount {
    /// The address's window: counted as a failure until a success gives it back.
    Address,
    /// The account: allowed while it has free failures left or its delay has passed; taking
    /// it counts a failure and sets the next delay before the password is even checked, so
    /// a burst gets no more than the free attempts.
    Account,
}

/// Take one attempt from `count` for `key`. One conditional UPDATE: concurrent requests
/// cannot overshoot the limit. Single-table SET clauses apply left to right, which both
/// statements rely on (each IF reads the columns as already set to its left).
pub async fn reserve_attempt<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    count: AttemptCount,
    key: &str,
    now: i64,
    limits: &AttemptLimits,
) -> Result<bool, AppError> {
    ensure_throttle_row(conn, t, key, now).await?;
    let table = throttle_table(t);
    let (sql, params): (String, mysql_async::Params) = match count {
        AttemptCount::Address => {
            let expired = now - limits.address_window;
            (
                format!(
                    "UPDATE `{table}` SET failures = IF(window_start <= ?, 1, failures + 1), \
                     window_start = IF(window_start <= ?, ?, window_start), updatetime = ? \
                     WHERE id = ? AND (window_start <= ? OR failures < ?)"
                ),
                (expired, expired, now, now, key, expired, limits.address_max).into(),
            )
        }
        AttemptCount::Account => {
            let forgotten = now - limits.account_forget_after;
            let free = limits.account_free;
            let (max, base) = (limits.account_max_delay, limits.account_base_delay);
            (
                format!(
                    "UPDATE `{table}` SET failures = IF(updatetime <= ?, 1, failures + 1), \
                     next_at = IF(failures < ?, 0, ? + LEAST(?, ? * POW(2, LEAST(failures - ?, 30)))), \
                     updatetime = ? \
                     WHERE id = ? AND (updatetime <= ? OR failures < ? OR next_at <= ?)"
                ),
                (
                    forgotten, free, now, max, base, free, now, key, forgotten, free, now,
                )
                    .into(),
            )
        }
    };
    Ok(affected(conn, sql, params).await? == 1)
}

/// A successful sign-in: the address gets its attempt back, the account starts afresh.
pub async fn release_attempts<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    address_key: &str,
    account_key: &str,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET failures = GREATEST(failures - 1, 0) WHERE id = ?",
            throttle_table(t)
        ),
        (address_key,),
    )
    .await?;
    conn.exec_drop(
        format!("DELETE FROM `{}` WHERE id = ?", throttle_table(t)),
        (account_key,),
    )
    .await?;
    Ok(())
}

/// Forget rows nobody has failed on for `older_than` seconds (bounded work per call).
pub async fn prune_attempts<Q: Queryable>(
    conn: &mut Q,
    t: &Tables,
    before: i64,
) -> Result<(), AppError> {
    conn.exec_drop(
        format!(
            "DELETE FROM `{}` WHERE updatetime < ? LIMIT 100",
            throttle_table(t)
        ),
        (before,),
    )
    .await?;
    Ok(())
}
