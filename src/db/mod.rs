//! MySQL access. The configurable table prefix is applied here and only here; every query
//! is parameterised.

pub mod admin;
pub mod channel_account;
pub mod log;
pub mod order;
pub mod pay_cert;
pub mod pay_query;
pub mod reconcile;
pub mod refund;
pub mod schema;
pub mod stats;
pub mod tenant;
pub mod tenant_admin;
pub mod user;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable as _;
use mysql_async::{Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts, Row, Value};
use secrecy::ExposeSecret as _;

use crate::config::Config;
use crate::error::AppError;

/// Table names with the site's prefix (`fa_` on a stock FastAdmin install).
#[derive(Clone, Debug)]
pub struct Tables {
    pub tenant: String,
    pub log: String,
    pub order: String,
    pub channel_account: String,
    pub gateway_log: String,
    /// chathub's own: the provisioning worker's schedule and idempotency keys.
    pub provision_state: String,
    /// chathub's own: orders sent to a gateway, their deadline and query schedule.
    pub pay_query: String,
    /// chathub's own: gateway certificates fetched at run time, and their download schedule.
    pub pay_cert: String,
    /// chathub's own: refunds and their request numbers.
    pub refund: String,
    /// chathub's own: the daily bill reconciliation per date and gateway.
    pub reconcile: String,
    pub user: String,
    pub admin: String,
    pub auth_group: String,
    pub auth_group_access: String,
    pub auth_rule: String,
}

impl Tables {
    pub fn new(prefix: &str) -> Tables {
        let t = |n: &str| format!("{prefix}{n}");
        Tables {
            tenant: t("chathub_tenant"),
            log: t("chathub_log"),
            order: t("chathub_order"),
            channel_account: t("chathub_channel_account"),
            gateway_log: t("chathub_gateway_log"),
            provision_state: t("chathub_provision_state"),
            pay_query: t("chathub_pay_query"),
            pay_cert: t("chathub_pay_cert"),
            refund: t("chathub_refund"),
            reconcile: t("chathub_reconcile"),
            user: t("user"),
            admin: t("admin"),
            auth_group: t("auth_group"),
            auth_group_access: t("auth_group_access"),
            auth_rule: t("auth_rule"),
        }
    }
}

#[derive(Clone)]
pub struct Db {
    pub pool: Pool,
    pub t: Tables,
    checkout_timeout: Duration,
    /// Outage bookkeeping shared by every clone: one log line when the database goes away,
    /// counts at intervals, one when it is back.
    pub health: Arc<DbHealth>,
}

impl Db {
    /// A lazy pool: nothing connects until the first query, so start-up never waits on MySQL.
    pub fn new(config: &Config) -> Result<Db, AppError> {
        let opts = Opts::from_url(config.database_url.expose_secret())?;
        let constraints = PoolConstraints::new(1, config.db_pool_max).unwrap_or_default();
        // Idle connections stay pooled for a minute (the default drops every connection above
        // `min` the moment it is returned, so each request paid a fresh connect), and the TCP
        // address configured is used as is (mysql_async otherwise reconnects to the server's
        // unix socket after every connect).
        // No reset when a connection is given back: a COM_RESET_CONNECTION, the setup
        // statement again and a fresh PREPARE of every statement cost three round trips per
        // checkout, more than a page's own queries (bench/RESULTS.md). What a reset would
        // clear cannot be left behind: an open transaction is rolled back by the pool on
        // return, and the one session-scoped state we create, a named lock, marks its
        // connection for a reset ([`user::lock_email`]).
        let pool_opts = PoolOpts::default()
            .with_constraints(constraints)
            .with_inactive_connection_ttl(std::time::Duration::from_secs(60))
            .with_ttl_check_interval(std::time::Duration::from_secs(30))
            .with_reset_connection(false);
        let builder = OptsBuilder::from_opts(opts)
            .prefer_socket(false)
            .pool_opts(pool_opts)
            // `setup`, not `init`: a connection that was reset (a named-lock holder) gets
            // its session variables back from the server's globals, and only `setup`
            // statements run again after a reset.
            .setup(vec![session_setup(config)]);
        Ok(Db {
            pool: Pool::new(builder),
            t: Tables::new(&config.table_prefix),
            checkout_timeout: config.db_checkout_timeout,
            health: Arc::new(DbHealth::default()),
        })
    }

    /// A pooled connection that has just answered a ping, within `db_checkout_timeout_ms`
    /// (waiting for a free connection, opening one, and the ping all count). The driver has
    /// no connect or statement timeouts of its own, and a pooled connection to a frozen
    /// server looks healthy until a statement hangs on it: the ping turns that into a
    /// bounded failure before the request starts its work.
    ///
    /// The ping is skipped while another checkout's ping answered within [`PING_FRESH`]:
    /// under load that is nearly every checkout, and the ping would be a round trip as
    /// costly as the page's own query. A server that froze in that window still costs a
    /// request no more than its request bound (`db::within`); the first checkout after the
    /// window pings again and sees the outage within this bound.
    pub async fn conn(&self) -> Result<mysql_async::Conn, AppError> {
        self.checkout(self.checkout_timeout, !self.health.answered_recently())
            .await
    }

    /// As [`Db::conn`] with a bound of its own and always a ping (readiness answers within
    /// a second, and must see an outage even while no traffic arrives).
    pub async fn conn_within(&self, bound: Duration) -> Result<mysql_async::Conn, AppError> {
        self.checkout(bound, true).await
    }

    async fn checkout(&self, bound: Duration, ping: bool) -> Result<mysql_async::Conn, AppError> {
        let checkout = async {
            let mut conn = self.pool.get_conn().await?;
            if ping {
                conn.ping().await?;
                self.health.answered();
            }
            Ok::<_, mysql_async::Error>(conn)
        };
        match tokio::time::timeout(bound, checkout).await {
            Ok(Ok(conn)) => {
                self.health.reachable();
                Ok(conn)
            }
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(AppError::DatabaseUnavailable(format!(
                "no working database connection within {} ms",
                bound.as_millis()
            ))),
        }
    }
}

/// How long a ping's answer vouches for the server to the checkouts after it.
const PING_FRESH: Duration = Duration::from_millis(250);

/// A process-wide start instant, so a time fits an atomic (`Instant` does not).
#[derive(Debug)]
struct OnceInstant(Instant);

impl Default for OnceInstant {
    fn default() -> Self {
        OnceInstant(Instant::now())
    }
}

impl OnceInstant {
    fn elapsed_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

/// The session settings of every pooled connection, in one statement (it runs on every
/// connect and after every reset). Only variables MySQL 5.7/8 and MariaDB both have:
/// * strict mode, as a stock MariaDB runs: a value that does not fit is an error, never a
///   silent truncation;
/// * `innodb_lock_wait_timeout` (whole seconds, default 50) at most the request bound: a
///   statement waiting on a row lock held elsewhere gives up server-side by the time the
///   request has given up on it (ER_LOCK_WAIT_TIMEOUT, a 503), instead of holding its own
///   locks and a server thread for 50 s after the client left.
fn session_setup(config: &Config) -> String {
    let lock_wait_secs = config.request_timeout.as_secs().max(1);
    format!(
        "SET NAMES utf8mb4, SESSION sql_mode = CONCAT(@@sql_mode, ',STRICT_TRANS_TABLES'), \
         SESSION innodb_lock_wait_timeout = {lock_wait_secs}"
    )
}

/// `work` (database work: checkouts and statements) within `bound`, else
/// [`AppError::DatabaseTimeout`] naming `what`. The driver has no statement timeout, and a
/// server frozen after the checkout (or a row lock held elsewhere) would hold `work` for as
/// long as it lasts.
///
/// Past the bound `work` is dropped where it stands, which is safe with mysql_async 0.37:
/// * a statement in flight marks its connection broken for that time (`Conn::routine` sets
///   `disconnected`), so the pool closes it rather than reusing it, and the server rolls
///   back that connection's open transaction when it sees it closed;
/// * a `Transaction` dropped between statements marks its connection `RequiresRollback`
///   (`impl Drop for Transaction`), and the pool sends `ROLLBACK` (`cleanup_for_pool`) and
///   resets the connection before anyone else gets it.
///
/// Either way an unfinished transaction is never committed: nothing is left half-written
/// by work that keeps its writes in one transaction.
pub async fn within<T>(
    bound: Duration,
    what: &str,
    work: impl std::future::Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    match tokio::time::timeout(bound, work).await {
        Ok(result) => result,
        Err(_) => Err(AppError::DatabaseTimeout(format!(
            "{what} not finished within {} ms",
            bound.as_millis()
        ))),
    }
}

/// How often a continuing outage is summarised in the log.
const OUTAGE_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Database outage state. While the database is down every request fails the same way;
/// logging each one buried the log (one ERROR per request, 187,805 lines in 10 s), so the
/// outage is logged when it starts, summarised every [`OUTAGE_REPORT_INTERVAL`], and its end
/// is logged with the total.
#[derive(Debug, Default)]
pub struct DbHealth {
    /// Fast path for every successful checkout: one atomic load while all is well.
    down: AtomicBool,
    /// When a ping last answered, in milliseconds since `epoch` (0: never).
    last_ping_ms: AtomicU64,
    epoch: OnceInstant,
    outage: Mutex<Option<Outage>>,
    /// Work past its bound while the database otherwise answers (a row lock held elsewhere,
    /// a server frozen mid-statement before any checkout failed).
    slow: Mutex<Slow>,
}

#[derive(Debug, Default)]
struct Slow {
    total: u64,
    since_report: u64,
    last_report: Option<Instant>,
}

#[derive(Debug)]
struct Outage {
    since: Instant,
    failed: u64,
    failed_since_report: u64,
    last_report: Instant,
}

impl Outage {
    /// One more failure while the database is away; summarised every interval.
    fn count(&mut self, cause: &dyn std::fmt::Display, now: Instant) {
        self.failed += 1;
        self.failed_since_report += 1;
        if now.duration_since(self.last_report) >= OUTAGE_REPORT_INTERVAL {
            tracing::warn!(
                error = %cause,
                down_secs = now.duration_since(self.since).as_secs(),
                failed_requests = self.failed_since_report,
                failed_total = self.failed,
                "database still unreachable"
            );
            self.failed_since_report = 0;
            self.last_report = now;
        }
    }
}

impl DbHealth {
    /// How background work (the provisioning worker) reports a failed step: an outage or a
    /// database step past its bound is counted here like a request's, anything else is a
    /// warning that `what` failed.
    pub fn report_background(&self, e: &AppError, what: &str) {
        match e {
            AppError::DatabaseUnavailable(_) => self.failed(e),
            AppError::DatabaseTimeout(_) => self.timed_out(e),
            e => tracing::warn!(error = %e, "{what} failed"),
        }
    }
}

impl DbHealth {
    /// A request failed because the database is unreachable (or too slow to answer).
    pub fn failed(&self, cause: &dyn std::fmt::Display) {
        let mut outage = self.outage.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match outage.as_mut() {
            None => {
                tracing::error!(
                    error = %cause,
                    "database unreachable: requests get the 503 page; further failures are counted every {} s until it is back",
                    OUTAGE_REPORT_INTERVAL.as_secs()
                );
                *outage = Some(Outage {
                    since: now,
                    failed: 1,
                    failed_since_report: 0,
                    last_report: now,
                });
                self.down.store(true, Ordering::Release);
            }
            Some(o) => o.count(cause, now),
        }
    }

    /// Work (a request's, or a worker step's) did not finish within its bound. During an
    /// outage it is one more failure of the outage; otherwise it is counted, and logged as
    /// a warning when the first one comes and then at most every [`OUTAGE_REPORT_INTERVAL`]
    /// with the count (never one line per request).
    pub fn timed_out(&self, cause: &dyn std::fmt::Display) {
        let now = Instant::now();
        {
            let mut outage = self.outage.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(o) = outage.as_mut() {
                o.count(cause, now);
                return;
            }
        }
        let mut slow = self.slow.lock().unwrap_or_else(|p| p.into_inner());
        slow.total += 1;
        slow.since_report += 1;
        if slow
            .last_report
            .is_none_or(|at| now.duration_since(at) >= OUTAGE_REPORT_INTERVAL)
        {
            tracing::warn!(
                error = %cause,
                past_bound = slow.since_report,
                past_bound_total = slow.total,
                "database work past its bound (a row lock held elsewhere, or a frozen server): \
                 requests get the 503 page; further ones are counted every {} s",
                OUTAGE_REPORT_INTERVAL.as_secs()
            );
            slow.since_report = 0;
            slow.last_report = Some(now);
        }
    }

    /// Work past its bound since start (outside outages), for tests and operators.
    pub fn timed_out_total(&self) -> u64 {
        self.slow.lock().unwrap_or_else(|p| p.into_inner()).total
    }

    /// A connection answered: ends an outage, if there was one.
    fn answered(&self) {
        let ms = self.epoch.elapsed_ms().max(1);
        self.last_ping_ms.store(ms, Ordering::Relaxed);
    }

    fn answered_recently(&self) -> bool {
        let last = self.last_ping_ms.load(Ordering::Relaxed);
        last != 0
            && !self.down.load(Ordering::Acquire)
            && self.epoch.elapsed_ms().saturating_sub(last) < PING_FRESH.as_millis() as u64
    }

    pub fn reachable(&self) {
        if !self.down.load(Ordering::Acquire) {
            return;
        }
        let mut outage = self.outage.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = outage.take() {
            tracing::warn!(
                down_secs = o.since.elapsed().as_secs(),
                failed_total = o.failed,
                "database reachable again"
            );
        }
        self.down.store(false, Ordering::Release);
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }
}

/// Text of a column whatever the protocol delivered (DATETIME arrives as a date value over
/// the binary protocol, as bytes over the text protocol; DECIMAL always as bytes).
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        // Valid UTF-8 is the rule (utf8mb4 tables); `from_utf8` checks it faster than the
        // lossy path, which stays for whatever else a column holds.
        Value::Bytes(b) => Some(match std::str::from_utf8(b) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(b).into_owned(),
        }),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        Value::Date(y, mo, d, h, mi, s, _) => {
            Some(format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"))
        }
        Value::Time(neg, d, h, m, s, _) => Some(format!(
            "{}{:02}:{m:02}:{s:02}",
            if *neg { "-" } else { "" },
            u32::from(*h) + d * 24
        )),
    }
}

/// Integer value of a column (ints, or digits delivered as text).
pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::UInt(u) => i64::try_from(*u).ok(),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// Column `name` of `row` as text (None for NULL or a missing column).
pub fn col_text(row: &Row, name: &str) -> Option<String> {
    row.as_ref(col_index(row, name)?).and_then(text)
}

pub fn col_int(row: &Row, name: &str) -> Option<i64> {
    row.as_ref(col_index(row, name)?).and_then(int)
}

/// A column's position by name. Compared as bytes: `ColumnMeta::name_str` makes a lossy
/// UTF-8 copy of the name, and a lookup per column per row made that the largest single
/// cost of a member page (bench/RESULTS.md).
fn col_index(row: &Row, name: &str) -> Option<usize> {
    row.columns_ref()
        .iter()
        .position(|c| c.name_ref() == name.as_bytes())
}

/// A row as a JSON object with the column names as keys, as PHP's `find()` returns it:
/// integers as numbers, everything else as strings, NULL as null.
pub fn row_to_json(row: &Row) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (i, c) in row.columns_ref().iter().enumerate() {
        let v = row.as_ref(i).unwrap_or(&Value::NULL);
        let is_int = matches!(
            c.column_type(),
            mysql_async::consts::ColumnType::MYSQL_TYPE_LONG
                | mysql_async::consts::ColumnType::MYSQL_TYPE_LONGLONG
                | mysql_async::consts::ColumnType::MYSQL_TYPE_SHORT
                | mysql_async::consts::ColumnType::MYSQL_TYPE_TINY
                | mysql_async::consts::ColumnType::MYSQL_TYPE_INT24
        );
        let j = match v {
            Value::NULL => serde_json::Value::Null,
            _ if is_int => int(v)
                .map(serde_json::Value::from)
                .unwrap_or(serde_json::Value::Null),
            _ => text(v)
                .map(serde_json::Value::String)
                .unwrap_or(serde_json::Value::Null),
        };
        out.insert(c.name_str().into_owned(), j);
    }
    out
}

/// Member ids are stored as the column's integer.
impl From<crate::domain::ids::UserId> for mysql_async::Value {
    fn from(id: crate::domain::ids::UserId) -> Self {
        mysql_async::Value::from(id.0)
    }
}
