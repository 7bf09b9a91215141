//! The PHP site's sessions, read as its ThinkPHP wrote them, and the member carry-over.
//!
//! One reader serves admin recognition (`admin_auth`) and members: PHP's `files` handler
//! (`sess_<id>` in `php_session_dir`) or ThinkPHP's `redis` driver (`GET <session_name><id>`,
//! the same `php`-serialised text). Both hold what ThinkPHP's `session()` stored under its
//! `prefix` (`think`), e.g. `think|a:{s:15:"chathub_user_id";i:7;…}`.
//!
//! The switch signs nobody out: a member the PHP addon signed in (`chathub_user_id`) who
//! comes without a chathub session gets one, once per PHP session, by the checks of our
//! sign-in (the account exists and is active). We only read: the PHP session is never
//! written, renewed or deleted.

use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use redis::aio::MultiplexedConnection;
use secrecy::ExposeSecret as _;
use sha2::Digest as _;

use crate::config::RedisSessions;
use crate::db::user;
use crate::domain::ids::UserId;
use crate::domain::php_serialize::{self, PhpValue};
use crate::error::AppError;
use crate::services::app::App;
use crate::services::member;
use crate::services::sessions::SessionData;

/// Largest session we read (PHP sessions are a few hundred bytes).
const MAX_SESSION_BYTES: u64 = 256 * 1024;

/// At most one warning per this many seconds while the session store does not answer.
const WARN_EVERY_SECS: i64 = 60;

/// PHP's session ids (`session.sid_bits_per_character` 4–6) use `[0-9a-v]`, `[0-9a-zA-Z,-]`;
/// anything else is refused so a cookie can never name a path or another Redis key.
pub fn is_safe_session_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b',' || b == b'-')
}

/// The PHP session `sid` names, as PHP serialised it; `None` when no store is configured,
/// the id is unsafe, the session does not exist, or the store does not answer in time (then
/// a rate-limited warning: a visitor is simply not signed in).
pub async fn read(app: &App, sid: &str) -> Option<Vec<u8>> {
    if !is_safe_session_id(sid) {
        tracing::debug!("PHPSESSID is not a valid session id");
        return None;
    }
    if let Some(redis) = &app.config.php_session_redis {
        return read_redis(redis, sid, app.clock.epoch()).await;
    }
    read_file(app.config.php_session_dir.as_deref()?, sid).await
}

/// Whether any PHP session store is configured.
pub fn configured(app: &App) -> bool {
    app.config.php_session_redis.is_some() || app.config.php_session_dir.is_some()
}

/// One blocking task for open, stat and read: `tokio::fs` hands each of those (and every
/// chunk read) to the blocking pool separately, four thread hand-offs for a file of a few
/// hundred bytes on every admin request.
async fn read_file(dir: &Path, sid: &str) -> Option<Vec<u8>> {
    let path = dir.join(format!("sess_{sid}"));
    tokio::task::spawn_blocking(move || read_file_blocking(&path))
        .await
        .ok()?
}

fn read_file_blocking(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_SESSION_BYTES {
        return None;
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_SESSION_BYTES).read_to_end(&mut buf).ok()?;
    Some(buf)
}

async fn read_redis(store: &RedisSessions, sid: &str, now: i64) -> Option<Vec<u8>> {
    let key = format!("{}{sid}", store.key_prefix);
    match tokio::time::timeout(store.timeout, redis_get(store, &key)).await {
        Ok(Ok(value)) => value.filter(|v| v.len() as u64 <= MAX_SESSION_BYTES),
        Ok(Err(e)) => {
            store_down(now, &e.to_string());
            None
        }
        Err(_) => {
            store_down(now, "no answer in time");
            None
        }
    }
}

/// One connection per read: sessions are read on admin pages and on a member's first
/// request after the switch only, and a fresh connection survives Redis restarts.
async fn redis_conn(store: &RedisSessions) -> redis::RedisResult<MultiplexedConnection> {
    let client = redis::Client::open(store.url.expose_secret())?;
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(store.timeout))
        .set_response_timeout(Some(store.timeout));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

async fn redis_get(store: &RedisSessions, key: &str) -> redis::RedisResult<Option<Vec<u8>>> {
    let mut conn = redis_conn(store).await?;
    redis::cmd("GET").arg(key).query_async(&mut conn).await
}

/// For `check`: where the Redis is (never its password) and whether it answers `PING`.
pub async fn redis_answers(store: &RedisSessions) -> (String, Result<(), String>) {
    let info = redis::IntoConnectionInfo::into_connection_info(store.url.expose_secret());
    let place = match &info {
        Ok(i) => format!("{} db {}", i.addr(), i.redis_settings().db()),
        Err(_) => "(unparsable URL)".into(),
    };
    let ping = async {
        let mut conn = redis_conn(store).await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    let outcome = match tokio::time::timeout(store.timeout, ping).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", store.timeout.as_millis())),
    };
    (place, outcome)
}

static LAST_WARNED: AtomicI64 = AtomicI64::new(i64::MIN);
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);

/// The store failing is logged once a minute with the number of failures in between; the
/// detail never holds the URL (its password).
fn store_down(now: i64, detail: &str) {
    let last = LAST_WARNED.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= WARN_EVERY_SECS
        && LAST_WARNED
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let since = SUPPRESSED.swap(0, Ordering::Relaxed);
        tracing::warn!(
            error = %detail,
            failures_since_last_warning = since,
            "PHP session store (Redis) unreachable: PHP sign-ins are not recognised meanwhile"
        );
    } else {
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
    }
}

/// The session's variables under ThinkPHP's `think` prefix, else at the top level (a site
/// that configured an empty prefix).
pub fn scoped<'a>(vars: &'a [(String, PhpValue)], name: &str) -> Option<&'a PhpValue> {
    let find = |n: &str| vars.iter().rev().find(|(k, _)| k == n).map(|(_, v)| v);
    find("think")
        .and_then(|think| think.get(name))
        .or_else(|| find(name))
}

/// The member the PHP addon signed in (`session('chathub_user_id', $user['id'])`); its
/// logout stored `null`, which signs nobody in.
pub fn session_member(session: &[u8]) -> Option<UserId> {
    let vars = php_serialize::parse_session(session).ok()?;
    let id = scoped(&vars, "chathub_user_id")?.as_int()?;
    u32::try_from(id).ok().filter(|i| *i > 0).map(UserId)
}

/// What records that a PHP session was carried over (in `chathub_session_revoked`, keyed
/// apart from our own sessions' ids): a logout here is not undone by the PHP session, which
/// we cannot end.
fn used_digest(sid: &str) -> String {
    hex::encode(sha2::Sha256::digest(
        format!("php-session:{sid}").as_bytes(),
    ))
}

/// The member a PHP session holds, and the mark that carries it over once, if a store is
/// configured and the session holds a member.
async fn php_member(app: &App, php_sid: Option<&str>) -> Option<(UserId, String)> {
    let sid = php_sid.filter(|_| configured(app))?;
    let uid = session_member(&read(app, sid).await?)?;
    Some((uid, used_digest(sid)))
}

/// Our session for the member the request's PHP session signed in, if it did, the account
/// may sign in, and this PHP session was neither carried over nor logged out here before.
pub async fn carry_over(app: &App, php_sid: Option<&str>) -> Result<Option<SessionData>, AppError> {
    let Some((uid, digest)) = php_member(app, php_sid).await else {
        return Ok(None);
    };
    let now = app.clock.epoch();
    let mut conn = app.db.conn().await?;
    if user::session_revoked(&mut conn, &app.db.t, &digest).await? {
        return Ok(None);
    }
    let Some(found) = user::find_by_id(&mut conn, &app.db.t, uid).await? else {
        return Ok(None);
    };
    if !member::is_active(&found) {
        tracing::info!(user_id = %uid, "PHP session not carried over: account not active");
        return Ok(None);
    }
    let expires = now + app.config.session_max_lifetime_secs;
    user::revoke_session(&mut conn, &app.db.t, &digest, uid, now, expires).await?;
    tracing::info!(user_id = %uid, "member signed in from the PHP addon's session");
    Ok(Some(member::new_session(&found, now)))
}

/// Logout here: the PHP session, which still holds the member, is marked used.
pub async fn retire(app: &App, php_sid: Option<&str>) -> Result<(), AppError> {
    let Some((uid, digest)) = php_member(app, php_sid).await else {
        return Ok(());
    };
    let now = app.clock.epoch();
    let expires = now + app.config.session_max_lifetime_secs;
    let mut conn = app.db.conn().await?;
    user::revoke_session(&mut conn, &app.db.t, &digest, uid, now, expires).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_that_could_name_a_path_are_refused() {
        assert!(is_safe_session_id("ce7jl30isfkjk61mrckpn13vln"));
        assert!(is_safe_session_id("a,b-C9"));
        for bad in [
            "",
            "../etc/passwd",
            "a/b",
            "a.b",
            "a\0b",
            "a b",
            "a*",
            &"x".repeat(129),
        ] {
            assert!(!is_safe_session_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_php_addons_member_is_read_under_think_or_at_the_top() {
        let under_think = br#"think|a:3:{s:15:"chathub_user_id";i:7;s:18:"chathub_user_email";s:5:"a@b.c";s:17:"chathub_user_nick";s:1:"A";}"#;
        assert_eq!(session_member(under_think), Some(UserId(7)));
        let top = br#"chathub_user_id|s:2:"12";"#;
        assert_eq!(session_member(top), Some(UserId(12)));
        for none in [
            &br#"think|a:1:{s:15:"chathub_user_id";N;}"#[..],
            br#"think|a:1:{s:15:"chathub_user_id";i:0;}"#,
            br#"think|a:1:{s:15:"chathub_user_id";i:-3;}"#,
            br#"think|a:1:{s:5:"admin";a:1:{s:2:"id";i:1;}}"#,
            b"garbage",
            b"",
        ] {
            assert_eq!(
                session_member(none),
                None,
                "{}",
                String::from_utf8_lossy(none)
            );
        }
    }

    #[test]
    fn used_marks_never_collide_with_our_own_session_ids() {
        let ours = SessionData::signed_in(UserId(7), "a@b.c", "A", "hash", 1);
        assert_ne!(used_digest(&ours.sid), ours.sid_digest());
        assert_eq!(used_digest("abc").len(), 64);
    }
}
