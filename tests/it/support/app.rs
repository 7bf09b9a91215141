//! The real server on a test database, and a client for it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use chathub::clock::Clock;
use chathub::config::{Config, ConfigSources};
use chathub::startup::Application;

use super::{ADMIN_ENTRY, SESSION_SECRET, TestDb};

/// A running server plus a client with a cookie store and redirects off.
pub struct TestApp {
    pub addr: SocketAddr,
    pub db: TestDb,
    pub client: reqwest::Client,
    pub app: std::sync::Arc<chathub::services::app::App>,
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

    /// GET `path` with this app's client and exactly this `Cookie` header.
    pub async fn get_with_cookie(&self, path: &str, cookie: &str) -> reqwest::Response {
        send_with_cookie(&self.client, &self.url(path), cookie).await
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
    vars.insert("CHATHUB_ADMIN_ENTRY".into(), ADMIN_ENTRY.into());
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

/// The `Location` header of a response ("" when there is none).
pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// GET `url` from a fresh browser with exactly this `Cookie` header (a copied cookie replayed).
pub async fn get_with_cookie(url: &str, cookie: &str) -> reqwest::Response {
    send_with_cookie(&TestApp::new_client(), url, cookie).await
}

async fn send_with_cookie(client: &reqwest::Client, url: &str, cookie: &str) -> reqwest::Response {
    client
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// The setup of one test's server, in the style of crates.io's `TestApp::init()`:
/// `TestApp::init().with_members().with_envs(&[("CHATHUB_X", "1")]).spawn().await`. By default a
/// fresh database with the stock schema, the test config and the system clock.
#[must_use]
pub struct TestAppBuilder {
    db: Option<TestDb>,
    sql: Vec<String>,
    members: bool,
    env: Vec<(String, String)>,
    clock: Option<Clock>,
}

impl TestApp {
    pub fn init() -> TestAppBuilder {
        TestAppBuilder {
            db: None,
            sql: Vec::new(),
            members: false,
            env: Vec::new(),
            clock: None,
        }
    }
}

impl TestAppBuilder {
    /// Serve this database instead of a fresh one.
    pub fn on(mut self, db: TestDb) -> Self {
        self.db = Some(db);
        self
    }

    /// Run this script (`TestDb::run_sql`) on the database first.
    pub fn with_sql(mut self, sql: &str) -> Self {
        self.sql.push(sql.to_string());
        self
    }

    /// The recorded member-area users and tenants (`member::seed_users`, `seed_tenants`) and
    /// the clock of their recording.
    pub fn with_members(mut self) -> Self {
        self.members = true;
        self.clock.get_or_insert_with(super::member::recorded_clock);
        self
    }

    /// `CHATHUB_*` variables, in order (a later one of the same name wins).
    pub fn with_envs<K: AsRef<str>, V: AsRef<str>>(mut self, env: &[(K, V)]) -> Self {
        for (k, v) in env {
            self.env
                .push((k.as_ref().to_string(), v.as_ref().to_string()));
        }
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    pub async fn spawn(self) -> TestApp {
        let db = match self.db {
            Some(db) => db,
            None => TestDb::with_schema().await,
        };
        for sql in &self.sql {
            db.run_sql(sql).await;
        }
        if self.members {
            super::member::seed_users(&db).await;
            super::member::seed_tenants(&db).await;
        }
        spawn_app_on(db, &env_refs(&self.env), self.clock).await
    }
}

/// Owned `(name, value)` pairs as the `&[(&str, &str)]` the spawn functions take.
pub fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Spawn the server on a fresh database with the stock schema.
pub async fn spawn_app(env: &[(&str, &str)]) -> TestApp {
    TestApp::init().with_envs(env).spawn().await
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

/// The migration tester's pair for `compat shadow`: an old site ("ChatHub") and a new one whose
/// site name differs ("ChatHub Pro"), and the shadow comparing them, listening on a free port.
pub async fn renamed_sites_and_a_shadow(
    member_cookies: bool,
) -> (TestApp, TestApp, chathub_tools::compat::shadow::Shadow) {
    let old = spawn_app(&[("CHATHUB_ADDON_SITE_NAME", "ChatHub")]).await;
    let new = spawn_app(&[("CHATHUB_ADDON_SITE_NAME", "ChatHub Pro")]).await;
    let shadow =
        chathub_tools::compat::shadow::start(chathub_tools::compat::shadow::ShadowOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            primary: format!("http://{}", old.addr),
            shadow: format!("http://{}", new.addr),
            sample: 1,
            max_in_flight: 4,
            member_cookies,
        })
        .await
        .unwrap();
    (old, new, shadow)
}
