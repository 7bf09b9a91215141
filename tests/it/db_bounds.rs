//! Bounds on the database work after the checkout: a row lock held elsewhere, or a database
//! that freezes while a request holds its connection, costs the request `request_timeout_ms`
//! (plus the budget of its route's calls to other servers), then the 503 page; nothing is
//! left half-written and the same request succeeds once the lock or the freeze is over. A
//! request waiting on the provision server within its call budget is not cut.

use crate::support::log::CapturedLog;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::support::{TestApp, TestDb, spawn_app_on};
use chathub::clock::Clock;
use chathub::config::{Config, ConfigSources};
use chathub::services::sessions::SessionData;
use chathub::startup::Application;
use chathub_tools::devstack::{PrivateMariaDb, prepare_database};
use chathub_tools::provision_stub::{ProvisionStub, StubMode};
use mysql_async::prelude::*;

const BASE: &str = "/addons/chathub/index";
const KEY: &str = "chathub-default-key-change-me";
/// Slack for a loaded test machine on top of a bound.
const MARGIN: Duration = Duration::from_millis(1500);

const ALICE_SQL: &str = "INSERT INTO fa_user (id, username, nickname, password, salt, email, status, jointime, createtime, updatetime) VALUES \
(2, 'alice@example.com', 'Alice Trading Co', 'a6f5e1b0c8d4a3b2c1d0e9f8a7b6c5d4', 'legacy1', 'alice@example.com', 'normal', 1779000000, 1779000000, 1779000000)";
const ALICE_PASSWORD_HASH: &str = "a6f5e1b0c8d4a3b2c1d0e9f8a7b6c5d4";
/// Alice's tenants: 11 renews at ¥60, 13 is pending (may be provisioned again).
const TENANTS_SQL: &str = "INSERT INTO fa_chathub_tenant (id, user_id, tenant_name, domain, email, max_agents, channel_type, status, config, embed_code, expire_at, createtime, updatetime) VALUES \
(11, 2, 'Alice Shop', 'alice-shop', 'alice@example.com', 2, 'web_widget', 'active', '{\"plan\":\"pro\",\"price\":60}', '<script>old</script>', '2031-12-15 12:00:00', 1779000000, 1779000000), \
(13, 2, 'Alice Pending', 'alice-pending', 'alice@example.com', 1, 'web_widget', 'pending', '{\"plan\":\"basic\",\"price\":50}', NULL, '2031-12-20 12:00:00', 1779000000, 1779000000)";
/// What `chathub migrate` does to `fa_user`: room for the bcrypt hash of a new member.
const WIDEN_SQL: &str = "ALTER TABLE fa_user MODIFY `password` varchar(255) DEFAULT '' COMMENT '密码', \
MODIFY `username` varchar(100) DEFAULT '' COMMENT '用户名'";

struct Site {
    app: TestApp,
    stub: ProvisionStub,
}

async fn site(env: &[(&str, &str)]) -> Site {
    let stub = ProvisionStub::start("127.0.0.1:0".parse().unwrap(), KEY)
        .await
        .unwrap();
    let db = TestDb::with_schema().await;
    db.run_sql(ALICE_SQL).await;
    db.run_sql(TENANTS_SQL).await;
    db.run_sql(WIDEN_SQL).await;
    let url = stub.url();
    let mut all: Vec<(&str, &str)> = vec![("CHATHUB_ADDON_PROVISION_SERVER_URL", url.as_str())];
    all.extend_from_slice(env);
    let app = spawn_app_on(db, &all, None).await;
    Site { app, stub }
}

/// Alice's session cookie (as a browser sends it back) and her CSRF token.
fn alice(app: &TestApp) -> (String, String) {
    let data = SessionData::signed_in(
        chathub::domain::ids::UserId(2),
        "alice@example.com",
        "Alice",
        ALICE_PASSWORD_HASH,
        app.app.clock.epoch(),
    );
    let header = app.app.sessions.set_cookie(&data, false);
    let cookie = header.to_str().unwrap().split(';').next().unwrap();
    let (name, value) = cookie.split_once('=').unwrap();
    let value = value
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    (format!("{name}={value}"), data.csrf)
}

/// An answer, its time, and whether it carried `Retry-After`.
struct Answer {
    status: u16,
    body: String,
    location: String,
    retry_after: bool,
    took: Duration,
}

async fn send(req: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    // Far beyond every bound here: without them the request waits on the lock (50 s) or
    // the frozen server (for ever).
    let r = req
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("the server answers within its bound");
    let status = r.status().as_u16();
    let retry_after = r.headers().contains_key("retry-after");
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = r.text().await.unwrap_or_default();
    Answer {
        status,
        body,
        location,
        retry_after,
        took: started.elapsed(),
    }
}

/// The 503 page of an unavailable database, within `bound` (+ margin).
fn assert_503_within(a: &Answer, bound: Duration) {
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(a.retry_after, "a 503 says when to retry");
    assert!(a.body.contains("服务暂时不可用"), "{}", a.body);
    assert!(a.body.contains("系统繁忙，请稍后重试"), "{}", a.body);
    assert!(
        !a.body.contains("Lock wait") && !a.body.contains("127.0.0.1"),
        "no cause leaks: {}",
        a.body
    );
    assert!(
        a.took < bound + MARGIN,
        "answered after {:?} (bound {bound:?})",
        a.took
    );
}

/// Another client's transaction holding every row and gap of `table` (`FOR UPDATE`): no
/// one else can insert into it or lock its rows until [`Holder::release`].
struct Holder {
    conn: mysql_async::Conn,
}

impl Holder {
    async fn lock_all(url: &str, table: &str) -> Holder {
        let mut conn = mysql_async::Conn::from_url(url).await.unwrap();
        conn.query_drop("START TRANSACTION").await.unwrap();
        let _: Vec<u64> = conn
            .query(format!("SELECT id FROM `{table}` FOR UPDATE"))
            .await
            .unwrap();
        Holder { conn }
    }

    async fn release(mut self) {
        self.conn.query_drop("ROLLBACK").await.unwrap();
        let _ = self.conn.disconnect().await;
    }
}

async fn count(db: &TestDb, sql: &str) -> u64 {
    let mut c = db.conn().await;
    c.query_first(sql).await.unwrap().unwrap()
}

fn renew_request(app: &TestApp, cookie: &str) -> reqwest::RequestBuilder {
    app.client
        .get(app.url(&format!("{BASE}/renew?id=11")))
        .header("cookie", cookie)
}

/// (a) `renew` inserts its order while another client holds the order table: the member
/// gets the 503 page when the request bound is up (the statement is dropped where it
/// waits), no order is written, and once the lock is gone the same request works.
#[tokio::test]
async fn a_row_lock_held_elsewhere_costs_a_request_its_bound_then_the_same_request_works() {
    let s = site(&[
        ("CHATHUB_REQUEST_TIMEOUT_MS", "2000"),
        ("CHATHUB_DB_CHECKOUT_TIMEOUT_MS", "1000"),
    ])
    .await;
    let (cookie, _) = alice(&s.app);
    let holder = Holder::lock_all(&s.app.db.url, "fa_chathub_order").await;

    let a = send(renew_request(&s.app, &cookie)).await;
    assert_503_within(&a, Duration::from_secs(2));
    assert!(a.took >= Duration::from_millis(1900), "{:?}", a.took);
    assert_eq!(
        count(&s.app.db, "SELECT COUNT(*) FROM fa_chathub_order").await,
        0,
        "nothing written"
    );
    assert_eq!(
        s.app.app.db.health.timed_out_total(),
        1,
        "counted once, as past its bound"
    );
    assert!(!s.app.app.db.health.is_down(), "a lock is not an outage");

    holder.release().await;
    let a = send(renew_request(&s.app, &cookie)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("Alice Shop"), "{}", a.body);
    assert_eq!(
        count(&s.app.db, "SELECT COUNT(*) FROM fa_chathub_order").await,
        1
    );
}

fn register_request(app: &TestApp, email: &str) -> reqwest::RequestBuilder {
    app.client
        .post(app.url(&format!("{BASE}/register")))
        .header("X-Requested-With", "XMLHttpRequest")
        .form(&[
            ("plan", "pro"),
            ("company_name", "Lockco"),
            ("email", email),
            ("domain", "lockco"),
        ])
}

/// (a) A sign-up writes the member and then the tenant in one transaction; with the tenant
/// table held elsewhere the tenant insert gives up after `innodb_lock_wait_timeout` (the
/// request bound's seconds, not 50 s): the 503 page, and the member row written before it
/// in the same transaction is gone too. Then the same sign-up works.
#[tokio::test]
async fn a_sign_up_held_up_by_a_lock_writes_nothing_then_works() {
    let s = site(&[
        ("CHATHUB_REQUEST_TIMEOUT_MS", "2000"),
        ("CHATHUB_DB_CHECKOUT_TIMEOUT_MS", "1000"),
        ("CHATHUB_REGISTER_TIMEOUT_SECS", "1"),
    ])
    .await;
    let holder = Holder::lock_all(&s.app.db.url, "fa_chathub_tenant").await;

    let a = send(register_request(&s.app, "lockco@example.com")).await;
    // Its bound: 2 s of its own, the 1 s sign-up budget and the 1 s a last attempt may
    // overrun it.
    assert_503_within(&a, Duration::from_secs(4));
    let members = "SELECT COUNT(*) FROM fa_user WHERE email = 'lockco@example.com'";
    assert_eq!(
        count(&s.app.db, members).await,
        0,
        "no half-written sign-up"
    );
    assert_eq!(
        count(&s.app.db, "SELECT COUNT(*) FROM fa_chathub_tenant").await,
        2
    );
    assert!(s.stub.calls().is_empty());

    holder.release().await;
    let a = send(register_request(&s.app, "lockco@example.com")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["code"], 1, "{v}");
    assert_eq!(count(&s.app.db, members).await, 1);
    assert_eq!(
        count(&s.app.db, "SELECT COUNT(*) FROM fa_chathub_tenant").await,
        3
    );
}

/// (c) The request bound is 1 s, yet `reprovision` waiting 3 s on a hanging provision
/// server (its `provision_call_timeout_secs`) and a sign-up waiting 2 s on it (its
/// `register_timeout_secs`) get their normal answers, while a request waiting on a lock is
/// cut at 1 s.
#[tokio::test]
async fn calls_to_the_provision_server_get_their_budget_on_top_of_the_request_bound() {
    let s = site(&[
        ("CHATHUB_REQUEST_TIMEOUT_MS", "1000"),
        ("CHATHUB_DB_CHECKOUT_TIMEOUT_MS", "500"),
        ("CHATHUB_PROVISION_CALL_TIMEOUT_SECS", "3"),
        ("CHATHUB_REGISTER_TIMEOUT_SECS", "2"),
    ])
    .await;
    let (cookie, csrf) = alice(&s.app);
    s.stub.set_hang_for(Duration::from_secs(30));
    s.stub.set_mode(StubMode::Hang).await;

    let a = send(
        s.app
            .client
            .post(s.app.url(&format!("{BASE}/reprovision")))
            .header("cookie", &cookie)
            .form(&[("ids", "13"), ("__token__", csrf.as_str())]),
    )
    .await;
    assert_eq!(a.status, 302, "{}", a.body);
    assert_eq!(a.location, "/addons/chathub/index/my?provisioning=1");
    assert!(a.took >= Duration::from_millis(2500), "{:?}", a.took);

    let a = send(register_request(&s.app, "hangco@example.com")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["msg"], "注册成功！正在为您开通，请稍候...", "{v}");
    assert!(a.took >= Duration::from_millis(1500), "{:?}", a.took);
    assert_eq!(
        s.stub.calls().len(),
        2,
        "both waited on the provision server"
    );

    let holder = Holder::lock_all(&s.app.db.url, "fa_chathub_order").await;
    let a = send(renew_request(&s.app, &cookie)).await;
    assert_503_within(&a, Duration::from_secs(1));
    holder.release().await;
}

// ---------------------------------------------------------------------------------------
// A frozen database (SIGSTOP of a private mariadbd)

/// A private mariadbd that is always let go on the way out (continued, then stopped), so
/// a failing test never leaves a frozen server behind.
struct Frozen {
    db: Option<PrivateMariaDb>,
    pid: i32,
}

impl Frozen {
    fn new(db: PrivateMariaDb) -> Frozen {
        let pid = std::fs::read_to_string(db.dir.join("mysqld.pid"))
            .expect("mariadbd writes its pid file")
            .trim()
            .parse()
            .unwrap();
        Frozen { db: Some(db), pid }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the mariadbd this test started.
        assert_eq!(unsafe { libc::kill(self.pid, sig) }, 0);
    }

    fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }

    async fn stop(mut self) {
        self.thaw();
        if let Some(db) = self.db.take() {
            db.stop().await;
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if self.db.is_some() {
            // SAFETY: as above; the test failed with the server possibly frozen.
            unsafe {
                libc::kill(self.pid, libc::SIGCONT);
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
    }
}

/// A server on a private mariadbd (schema and demo member in `db_name`), with `env` on
/// top of the test settings. `None` where no mariadbd is installed (outside CI).
struct PrivateSite {
    server: Frozen,
    url: String,
    admin: mysql_async::Conn,
    base: String,
    app: std::sync::Arc<chathub::services::app::App>,
    stub: ProvisionStub,
    stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn private_site(db_name: &str, env: &[(&str, &str)]) -> Option<PrivateSite> {
    let dir = tempfile::tempdir().unwrap();
    let server = match PrivateMariaDb::start(dir.path()).await {
        Ok(db) => Frozen::new(db),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: no mariadbd here ({e})");
            return None;
        }
        Err(e) => panic!("{e}"),
    };
    let port = server.db.as_ref().unwrap().port;
    let root = format!("mysql://root@127.0.0.1:{port}");
    let url = format!("{root}/{db_name}");
    let mut admin = mysql_async::Conn::from_url(root.as_str()).await.unwrap();
    chathub_tools::demo::create_database(&mut admin, db_name)
        .await
        .unwrap();
    admin.query_drop(format!("USE `{db_name}`")).await.unwrap();
    let stub = ProvisionStub::start("127.0.0.1:0".parse().unwrap(), KEY)
        .await
        .unwrap();
    let mut vars = BTreeMap::new();
    for (k, v) in [
        ("CHATHUB_DATABASE_URL", url.clone()),
        ("CHATHUB_LISTEN", "127.0.0.1:0".into()),
        (
            "CHATHUB_SESSION_SECRET",
            crate::support::SESSION_SECRET.into(),
        ),
        ("CHATHUB_PROVISION_WORKER", "0".into()),
        ("CHATHUB_ADDON_PROVISION_SERVER_URL", stub.url()),
    ] {
        vars.insert(k.to_string(), v);
    }
    for (k, v) in env {
        vars.insert(k.to_string(), v.to_string());
    }
    let config = Config::load_with_env(&ConfigSources::default(), &vars).unwrap();
    let clock = Clock::system(config.timezone);
    prepare_database(&config, &clock).await.unwrap();
    let application = Application::build(config, clock).await.unwrap();
    let base = format!("http://{}", application.local_addr());
    let app = application.app();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(application.run_until(async move {
        let _ = stopped.await;
    }));
    Some(PrivateSite {
        server,
        url,
        admin,
        base,
        app,
        stub,
        stop,
        _dir: dir,
    })
}

impl PrivateSite {
    async fn count(&mut self, sql: &str) -> u64 {
        self.admin.query_first(sql).await.unwrap().unwrap()
    }

    /// Wait until `sql` counts `n` (a statement of ours seen in the processlist, say).
    async fn until_count(&mut self, sql: &str, n: u64, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.count(sql).await != n {
            assert!(Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.admin.disconnect().await;
        self.server.stop().await;
    }
}

/// (b) A sign-up has its connection and has written the member row in its transaction; its
/// tenant insert waits on a lock, and then the database freezes. The request gets the 503
/// page when its bound is up, `/readyz` says not-ready within a second, and once the
/// database runs again the unfinished transaction has left nothing and the same sign-up
/// works.
#[tokio::test]
async fn a_database_frozen_mid_transaction_costs_a_request_its_bound_and_writes_nothing() {
    let Some(mut site) = private_site(
        "chathub_frozen",
        &[
            ("CHATHUB_REQUEST_TIMEOUT_MS", "3000"),
            ("CHATHUB_DB_CHECKOUT_TIMEOUT_MS", "1000"),
            ("CHATHUB_REGISTER_TIMEOUT_SECS", "1"),
        ],
    )
    .await
    else {
        return;
    };
    let client = reqwest::Client::new();
    let base = site.base.clone();
    let register = |email: &str| {
        client
            .post(format!("{base}{BASE}/register"))
            .header("X-Requested-With", "XMLHttpRequest")
            .form(&[
                ("plan", "pro"),
                ("company_name", "Frozenco"),
                ("email", email),
                ("domain", "frozenco"),
            ])
    };
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let holder = Holder::lock_all(&site.url, "fa_chathub_tenant").await;
    let signup = tokio::spawn(send(register("frozenco@example.com")));
    // Freeze once the sign-up's tenant insert waits on the lock (its member row written).
    let waiting = "SELECT COUNT(*) FROM information_schema.processlist \
                   WHERE db = 'chathub_frozen' AND info LIKE 'INSERT INTO `fa_chathub_tenant`%'";
    site.until_count(waiting, 1, "the sign-up never reached its insert")
        .await;
    site.server.freeze();

    let started = Instant::now();
    let r = client
        .get(format!("{base}/readyz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("readiness answers");
    assert_eq!(r.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "readiness answered after {:?}",
        started.elapsed()
    );
    let a = signup.await.unwrap();
    // 3 s of its own, 1 s sign-up budget, 1 s a last attempt may overrun it.
    assert_503_within(&a, Duration::from_secs(5));

    site.server.thaw();
    holder.release().await;
    // The server ends the connection the request dropped, and with it the transaction.
    site.until_count(waiting, 0, "the dropped insert never ended")
        .await;
    let members = "SELECT COUNT(*) FROM fa_user WHERE email = 'frozenco@example.com'";
    assert_eq!(site.count(members).await, 0, "no half-written sign-up");
    let tenants = "SELECT COUNT(*) FROM fa_chathub_tenant WHERE domain = 'frozenco'";
    assert_eq!(site.count(tenants).await, 0);

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let a = send(register("frozenco@example.com")).await;
        if a.status == 200 {
            let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
            assert_eq!(v["code"], 1, "{v}");
            break;
        }
        assert_eq!(a.status, 503, "{}", a.body);
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(site.count(members).await, 1);
    assert_eq!(site.count(tenants).await, 1);
    site.stop().await;
}

/// The worker's attempt waits on a row lock when the database freezes: the attempt is cut
/// at its bound and the next passes fail at the checkout, so the worker sees the outage
/// (logged once, through `DbHealth`) instead of waiting on the frozen server; once the
/// database runs again it carries on and provisions the tenant.
#[tokio::test]
async fn a_frozen_database_never_wedges_the_worker() {
    let log = CapturedLog::default();
    let _guard = log.install();
    let Some(mut site) = private_site(
        "chathub_worker_frozen",
        &[
            ("CHATHUB_PROVISION_WORKER", "1"),
            ("CHATHUB_REQUEST_TIMEOUT_MS", "2000"),
            ("CHATHUB_DB_CHECKOUT_TIMEOUT_MS", "1000"),
            ("CHATHUB_PROVISION_CALL_TIMEOUT_SECS", "1"),
        ],
    )
    .await
    else {
        return;
    };
    // Held before the tenant exists for the worker: its attempt calls the provision
    // server, then waits to lock the tenant row to record the result.
    site.admin
        .query_drop(
            "INSERT INTO fa_chathub_tenant (id, user_id, tenant_name, domain, email, max_agents, channel_type, status, config, expire_at, createtime) \
             SELECT 501, id, 'Paid Shop', 'paid-shop', email, 1, 'web_widget', 'provisioning', '{\"plan\":\"basic\",\"price\":50}', '2031-01-01 12:00:00', 1779000000 FROM fa_user LIMIT 1",
        )
        .await
        .unwrap();
    let holder = Holder::lock_all(&site.url, "fa_chathub_tenant").await;
    let waiting = "SELECT COUNT(*) FROM information_schema.processlist \
                   WHERE db = 'chathub_worker_frozen' AND info LIKE '%FOR UPDATE%' AND command = 'Execute'";
    site.until_count(waiting, 1, "the worker never waited on the tenant row")
        .await;
    assert!(!site.stub.calls().is_empty());
    site.server.freeze();

    // Attempt bound 3 s (2 s + the 1 s call), then a checkout bound of 1 s.
    let started = Instant::now();
    while !site.app.db.health.is_down() {
        assert!(
            started.elapsed() < Duration::from_secs(3 + 1) + MARGIN * 2,
            "the worker is still waiting on the frozen database"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A few more passes fail while frozen; the outage is logged once.
    tokio::time::sleep(Duration::from_secs(3)).await;

    site.server.thaw();
    holder.release().await;
    let active = "SELECT COUNT(*) FROM fa_chathub_tenant WHERE id = 501 AND status = 'active'";
    site.until_count(active, 1, "the worker did not carry on")
        .await;
    assert!(!site.app.db.health.is_down());
    let errors = log.lines("ERROR");
    assert_eq!(errors.len(), 1, "one line for the outage: {errors:#?}");
    assert!(errors[0].contains("database unreachable"), "{errors:#?}");
    assert!(
        log.lines("WARN")
            .iter()
            .any(|l| l.contains("database reachable again")),
        "{:#?}",
        log.lines("")
    );
    site.stop().await;
}

/// The pool does not reset connections it gets back (that cost three round trips per
/// checkout: bench/RESULTS.md), so every connection gets the session settings when it is
/// opened; and the one session-scoped state we create, the sign-up's named lock, never
/// outlives its request: a connection given back while holding it is reset (lock released,
/// settings set again), even when the request ended before its unlock.
#[tokio::test]
async fn pooled_connections_keep_the_session_settings_and_never_a_named_lock() {
    let db = TestDb::with_schema().await;
    let config = crate::support::test_config(
        &db,
        &[
            ("CHATHUB_REQUEST_TIMEOUT_MS", "4000"),
            ("CHATHUB_DB_CHECKOUT_TIMEOUT_MS", "1000"),
            ("CHATHUB_DB_POOL_MAX", "2"),
        ],
    );
    let pool = chathub::db::Db::new(&config).unwrap();
    let settings = async |conn: &mut mysql_async::Conn| {
        let (wait, mode): (u64, String) = conn
            .query_first("SELECT @@SESSION.innodb_lock_wait_timeout, @@SESSION.sql_mode")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(wait, 4);
        assert!(mode.contains("STRICT_TRANS_TABLES"), "{mode}");
    };
    let lock_is_free = "SELECT IS_FREE_LOCK(CONCAT('chathub_signup_', MD5(CONCAT(DATABASE(), '|', LOWER('a@b.c')))))";
    for _ in 0..3 {
        let mut conn = pool.conn().await.unwrap();
        settings(&mut conn).await;
        assert!(
            chathub::db::user::lock_email(&mut conn, "a@b.c", 1)
                .await
                .unwrap()
        );
        // Given back without the unlock, as when a request is cut off by its bound. The
        // pool resets it in the background; the lock is free once that is done.
        drop(conn);
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let mut conn = pool.conn().await.unwrap();
            settings(&mut conn).await;
            let free: Option<i64> = conn.query_first(lock_is_free).await.unwrap().flatten();
            if free == Some(1) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the named lock outlived its request"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // An ordinary checkout keeps its prepared statements (no reset between checkouts).
    let prepared = "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'COM_STMT_PREPARE'";
    let mut seen: BTreeMap<u32, u64> = BTreeMap::new();
    for _ in 0..6 {
        let mut conn = pool.conn().await.unwrap();
        let _: Option<u8> = conn
            .exec_first("SELECT 1 FROM DUAL WHERE ? = 1", (1,))
            .await
            .unwrap();
        let count: String = conn.query_first(prepared).await.unwrap().unwrap();
        let count: u64 = count.parse().unwrap();
        if let Some(before) = seen.insert(conn.id(), count) {
            assert_eq!(
                count, before,
                "the statement was prepared again on a reused connection"
            );
        }
    }
    pool.pool.disconnect().await.unwrap();
}
