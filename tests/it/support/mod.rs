//! Test harness: a fresh MariaDB database per test and the real server on port 0.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;

use chathub::clock::Clock;
use chathub::config::{Config, ConfigSources};
use chathub::startup::Application;
use mysql_async::prelude::*;

pub mod member;
pub mod nginx;
pub mod pay;

pub const SESSION_SECRET: &str = "test-session-secret-0123456789abcdef-0123456789";

/// Server URL of the MariaDB used by tests: `CHATHUB_TEST_MYSQL_URL`, else the local
/// MariaDB on 127.0.0.1:3306 (root, no password). `scripts/test.sh` starts a private one
/// and exports the variable when neither is there.
pub fn mysql_server_url() -> String {
    std::env::var("CHATHUB_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// A database created for one test and dropped when the value goes out of scope.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: mysql_async::Pool,
}

impl TestDb {
    /// Empty database, no tables.
    pub async fn empty() -> TestDb {
        let server = mysql_server_url();
        let name = format!("chathub_t_{:016x}", rand_u64());
        let mut admin = mysql_async::Conn::from_url(server.as_str()).await.unwrap_or_else(|e| {
            panic!("cannot reach MariaDB at {server}: {e}\nrun the tests with scripts/test.sh, which starts one")
        });
        admin
            .query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
            .await
            .expect("create database");
        drop(admin);
        let url = format!("{}/{name}", server.trim_end_matches('/'));
        let pool = mysql_async::Pool::new(url.as_str());
        TestDb { name, url, pool }
    }

    /// FastAdmin's tables plus the addon's, as on a stock site after installing the addon.
    pub async fn with_schema() -> TestDb {
        let db = TestDb::empty().await;
        db.run_sql(include_str!("../../../sql/fastadmin_base.sql"))
            .await;
        db.run_sql(include_str!("../../../install.sql")).await;
        db
    }

    /// Run a `;`-separated script with `__PREFIX__` = `fa_`.
    pub async fn run_sql(&self, sql: &str) {
        let mut conn = self.pool.get_conn().await.expect("conn");
        for stmt in sql
            .replace("__PREFIX__", "fa_")
            .split(";\n")
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let stmt: String = stmt
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            if stmt.trim().is_empty() {
                continue;
            }
            conn.query_drop(&stmt)
                .await
                .unwrap_or_else(|e| panic!("{e}\n{stmt}"));
        }
    }

    pub async fn conn(&self) -> mysql_async::Conn {
        self.pool.get_conn().await.expect("conn")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let server = mysql_server_url();
        let name = self.name.clone();
        // Dropping happens outside any runtime guarantees: use a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut c) = mysql_async::Conn::from_url(server.as_str()).await {
                    // The test's runtime is blocked in this drop, so a server task it left in
                    // the middle of a transaction can never finish: end those connections
                    // instead of waiting for their metadata locks forever.
                    let ids: Vec<u64> = c
                        .exec(
                            "SELECT id FROM information_schema.processlist WHERE db = ?",
                            (name.as_str(),),
                        )
                        .await
                        .unwrap_or_default();
                    for id in ids {
                        let _ = c.query_drop(format!("KILL {id}")).await;
                    }
                    let _ = c.query_drop("SET SESSION lock_wait_timeout = 10").await;
                    let _ = c
                        .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                        .await;
                    let _ = c.disconnect().await;
                }
            });
        })
        .join();
    }
}

pub fn rand_u64() -> u64 {
    use rand::Rng as _;
    rand::thread_rng().r#gen()
}

/// A running server plus a client with a cookie store and redirects off.
pub struct TestApp {
    pub addr: SocketAddr,
    pub db: TestDb,
    pub client: reqwest::Client,
    pub app: std::sync::Arc<chathub::app::App>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("request")
    }

    /// A second client with its own cookie jar (another browser).
    pub fn new_client() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Config for a test: the given database, port 0, test secrets; `env` adds `CHATHUB_*` pairs.
pub fn test_config(db: &TestDb, env: &[(&str, &str)]) -> Config {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert("CHATHUB_DATABASE_URL".into(), db.url.clone());
    vars.insert("CHATHUB_LISTEN".into(), "127.0.0.1:0".into());
    vars.insert("CHATHUB_SESSION_SECRET".into(), SESSION_SECRET.into());
    vars.insert("CHATHUB_ADMIN_ENTRY".into(), "pGTnXkhdmy.php".into());
    vars.insert(
        "CHATHUB_ADDON_PROVISION_SERVER_URL".into(),
        "http://127.0.0.1:9".into(),
    );
    // The provisioning worker would act on seeded tenants behind a test's back; tests that
    // exercise it turn it on explicitly.
    vars.insert("CHATHUB_PROVISION_WORKER".into(), "0".into());
    for (k, v) in env {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::load_with_env(&ConfigSources::default(), &vars).unwrap_or_else(|e| panic!("{e}"))
}

/// Spawn the server on a fresh database with the stock schema.
pub async fn spawn_app(env: &[(&str, &str)]) -> TestApp {
    let db = TestDb::with_schema().await;
    spawn_app_on(db, env, None).await
}

/// Spawn the server on an existing database, optionally with a fixed clock.
pub async fn spawn_app_on(db: TestDb, env: &[(&str, &str)], clock: Option<Clock>) -> TestApp {
    let config = test_config(&db, env);
    let clock = clock.unwrap_or_else(|| Clock::system(config.timezone));
    let application = Application::build(config, clock).await.expect("build app");
    let addr = application.local_addr();
    let app = application.app();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(application.run_until(async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        db,
        client: TestApp::new_client(),
        app,
        shutdown: Some(tx),
    }
}
