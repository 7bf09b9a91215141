//! `cargo dev`: the newcomer's one command. Starts what the site needs on this machine
//! (a private MariaDB when no database is configured, the stub provision server, the
//! payment gateways' stand-ins), prepares the schema and the demo accounts and tenants, then
//! serves the site behind the dev front until Ctrl-C, and stops what it started.
//!
//! Everything it keeps lives under `var/` (gitignored): the MariaDB data directory, the
//! generated session secret, FastAdmin token key and sandbox payment keys, so the next
//! `cargo dev` finds the same data, sessions and sign-ins. `cargo dev --reset` starts over.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rand::Rng as _;
use secrecy::ExposeSecret as _;

use crate::demo;
use crate::devfront::{self, DevFront};
use crate::provision_stub::ProvisionStub;
use crate::sandbox::GatewayKeys;
use chathub::clock::Clock;
use chathub::config::{Config, ConfigSources, DEFAULT_PROVISION_API_KEY};
use chathub::db::{Tables, schema};
use chathub::startup::Application;

pub use crate::mariadb::PrivateMariaDb;

/// Name of the database the dev stack creates in its private MariaDB.
pub const DEV_DATABASE: &str = "chathub_dev";
/// Where the dev front listens unless `CHATHUB_DEV_LISTEN` says otherwise (a free port when
/// this one is taken).
const DEFAULT_FRONT: &str = "127.0.0.1:8000";

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error("{0}")]
    MariaDb(#[from] crate::mariadb::MariaDbError),
    #[error("{0}")]
    Io(String),
    #[error("MariaDB: {0}")]
    Database(String),
    #[error("{0}")]
    Config(String),
    #[error("interrupted")]
    Interrupted,
}

fn io(what: &str, e: impl std::fmt::Display) -> DevError {
    DevError::Io(format!("{what}: {e}"))
}

fn db_err(e: impl std::fmt::Display) -> DevError {
    DevError::Database(e.to_string())
}

/// `cargo dev [--reset]`.
pub async fn run(sources: &ConfigSources, reset: bool) -> i32 {
    chathub::cli::init_tracing(false);
    match run_inner(sources, reset).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cargo dev: {e}");
            1
        }
    }
}

async fn run_inner(sources: &ConfigSources, reset: bool) -> Result<(), DevError> {
    // Listen for Ctrl-C/SIGTERM from the start: from here on a signal never kills us before
    // we have stopped the MariaDB we started.
    let mut interrupt = Interrupt::new()?;
    let var = PathBuf::from("var");
    std::fs::create_dir_all(&var).map_err(|e| io("cannot create var/", e))?;
    let mut env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("CHATHUB_"))
        .collect();

    let mut mariadb = None;
    if !database_configured(sources, &env) {
        // Bounded (the starter's timeout); a signal meanwhile is acted on right after.
        let server = PrivateMariaDb::start(&var.join("dev-mariadb")).await?;
        env.insert(
            "CHATHUB_DATABASE_URL".into(),
            format!("{}/{DEV_DATABASE}", server.url()),
        );
        mariadb = Some(server);
    }
    let started = tokio::select! {
        r = async {
            if let Some(server) = &mariadb {
                create_database(&server.url(), reset).await?;
            }
            start(sources, &var, env, reset).await
        } => r,
        _ = interrupt.recv() => Err(DevError::Interrupted),
    };
    let result = match started {
        Ok(site) => {
            print_banner(&site);
            let DevSite {
                app, front, stub, ..
            } = site;
            app.run().await;
            drop((front, stub));
            Ok(())
        }
        Err(e) => Err(e),
    };
    if let Some(server) = mariadb {
        println!("stopping MariaDB (data kept in {})", server.dir.display());
        server.stop().await;
    }
    result
}

/// SIGINT and SIGTERM, registered at once (unlike `tokio::signal::ctrl_c`, which registers
/// when first polled).
struct Interrupt {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Interrupt {
    fn new() -> Result<Interrupt, DevError> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Interrupt {
            int: signal(SignalKind::interrupt()).map_err(|e| io("signal handler", e))?,
            term: signal(SignalKind::terminate()).map_err(|e| io("signal handler", e))?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {},
            _ = self.term.recv() => {},
        }
    }
}

/// Everything `dev` runs, ready to serve: the server, the front the browser talks to, the
/// provision stub.
pub struct DevSite {
    pub app: Application,
    pub config: Config,
    pub front: DevFront,
    pub stub: Option<ProvisionStub>,
    pub logins: Vec<(&'static str, demo::DemoLogin)>,
}

/// Prepare and start the dev site on the database `env`/`sources` name, keeping its
/// secrets and keys under `var`. `reset` removes the demo member's tenants first.
pub async fn start(
    sources: &ConfigSources,
    var: &Path,
    mut env: BTreeMap<String, String>,
    reset: bool,
) -> Result<DevSite, DevError> {
    let front_listener = bind_front(env.remove("CHATHUB_DEV_LISTEN")).await?;
    let front_url = format!(
        "http://{}",
        front_listener.local_addr().map_err(|e| io("front", e))?
    );
    let mut defaults: Vec<(String, String)> = vec![
        (
            "CHATHUB_SESSION_SECRET".into(),
            persistent_secret(&var.join("session_secret"))?,
        ),
        (
            "CHATHUB_FASTADMIN_TOKEN_KEY".into(),
            persistent_secret(&var.join("fastadmin_token_key"))?,
        ),
        ("CHATHUB_LISTEN".into(), "127.0.0.1:0".into()),
        // The browser, the gateways' notifications and returns all come through the front.
        ("CHATHUB_PUBLIC_BASE_URL".into(), front_url.clone()),
        ("CHATHUB_TRUSTED_PROXIES".into(), "127.0.0.1".into()),
    ];
    let keys = GatewayKeys::load_or_generate(&var.join("dev-pay")).map_err(DevError::Config)?;
    if !env.contains_key("CHATHUB_ADDON_ALIPAY_ENABLED")
        && !env.contains_key("CHATHUB_ADDON_WECHAT_ENABLED")
    {
        let gateway = format!("{front_url}{}", devfront::ALIPAY_GATEWAY_PATH);
        defaults.extend(keys.server_env(&var.join("dev-pay"), &gateway, &front_url));
    }
    for (k, v) in defaults {
        env.entry(k).or_insert(v);
    }
    let stub = start_stub(&mut env).await?;
    let config =
        Config::load_with_env(sources, &env).map_err(|e| DevError::Config(e.to_string()))?;
    let clock = Clock::from_env(config.timezone).map_err(DevError::Config)?;
    let logins = prepare_database(&config, &clock).await?;
    seed_demo_tenants(&config, &clock, &logins, reset).await?;
    let app = Application::build(config.clone(), clock.clone())
        .await
        .map_err(|e| DevError::Config(e.to_string()))?;
    let setup = devfront::Setup {
        server: app.local_addr(),
        database_url: config.database_url.expose_secret().to_string(),
        tables: Tables::new(&config.table_prefix),
        admin_entry: config.admin_entry.clone(),
        token_key: config
            .fastadmin_token_key
            .as_ref()
            .map(|k| k.expose_secret().to_string())
            .unwrap_or_default(),
        keys,
        clock,
    };
    let front = DevFront::start(front_listener, setup).map_err(|e| io("dev front", e))?;
    Ok(DevSite {
        app,
        config,
        front,
        stub,
        logins,
    })
}

async fn bind_front(listen: Option<String>) -> Result<tokio::net::TcpListener, DevError> {
    let wanted = listen.clone().unwrap_or_else(|| DEFAULT_FRONT.into());
    let addr: SocketAddr = wanted
        .parse()
        .map_err(|_| DevError::Config(format!("CHATHUB_DEV_LISTEN: not an address: {wanted}")))?;
    match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => Ok(l),
        // The default port taken (another dev?): any free one; an explicit one is an error.
        Err(_) if listen.is_none() => tokio::net::TcpListener::bind(loopback(0))
            .await
            .map_err(|e| io("cannot bind the dev front", e)),
        Err(e) => Err(io(&format!("cannot bind {addr}"), e)),
    }
}

/// The provision stub, unless a provision server is configured.
async fn start_stub(env: &mut BTreeMap<String, String>) -> Result<Option<ProvisionStub>, DevError> {
    if env.contains_key("CHATHUB_ADDON_PROVISION_SERVER_URL") {
        return Ok(None);
    }
    let key = env
        .get("CHATHUB_ADDON_PROVISION_API_KEY")
        .cloned()
        .unwrap_or_else(|| DEFAULT_PROVISION_API_KEY.into());
    let s = ProvisionStub::start(loopback(0), &key)
        .await
        .map_err(|e| io("cannot start the stub provision server", e))?;
    env.insert("CHATHUB_ADDON_PROVISION_SERVER_URL".into(), s.url());
    Ok(Some(s))
}

/// A database is configured when the operator said where one is; otherwise we start ours.
fn database_configured(sources: &ConfigSources, env: &BTreeMap<String, String>) -> bool {
    if env.contains_key("CHATHUB_DATABASE_URL") || sources.fastadmin_root.is_some() {
        return true;
    }
    let file = sources
        .config_file
        .clone()
        .or_else(|| env.get("CHATHUB_CONFIG").map(PathBuf::from));
    file.and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key("database_url"))
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A secret generated on first run and reused afterwards, so sign-ins survive restarts.
fn persistent_secret(path: &Path) -> Result<String, DevError> {
    if let Ok(s) = std::fs::read_to_string(path) {
        let s = s.trim().to_string();
        if s.len() >= 32 {
            return Ok(s);
        }
    }
    let bytes: [u8; 32] = rand::thread_rng().r#gen();
    let secret = hex::encode(bytes);
    crate::write_private(path, &secret).map_err(DevError::Io)?;
    Ok(secret)
}

/// FastAdmin's tables (if the database has none), the addon schema via migrate, demo logins.
pub async fn prepare_database(
    config: &Config,
    clock: &Clock,
) -> Result<Vec<(&'static str, demo::DemoLogin)>, DevError> {
    let db_err = |e: &dyn std::fmt::Display| DevError::Database(e.to_string());
    let mut conn = mysql_async::Conn::from_url(config.database_url.expose_secret())
        .await
        .map_err(|e| db_err(&e))?;
    let prefix = &config.table_prefix;
    let t = Tables::new(prefix);
    demo::run_script(&mut conn, demo::FASTADMIN_BASE_SQL, prefix)
        .await
        .map_err(|e| db_err(&e))?;
    let plan = schema::migrate(&mut conn, prefix, false)
        .await
        .map_err(|e| db_err(&e))?;
    for step in &plan.steps {
        println!("schema: {}", step.why);
    }
    let admin = demo::seed_admin(&mut conn, &t, clock.epoch())
        .await
        .map_err(|e| db_err(&e))?;
    let member = demo::seed_member(&mut conn, &t, clock.epoch())
        .await
        .map_err(|e| db_err(&e))?;
    let _ = conn.disconnect().await;
    Ok(vec![("admin (FastAdmin)", admin), ("member", member)])
}

/// The demo member's tenants in every state (`demo::seed_member_tenants`); with `reset`,
/// the ones it has are removed first.
async fn seed_demo_tenants(
    config: &Config,
    clock: &Clock,
    logins: &[(&'static str, demo::DemoLogin)],
    reset: bool,
) -> Result<(), DevError> {
    let Some((_, member)) = logins.iter().find(|(what, _)| *what == "member") else {
        return Ok(());
    };
    let mut conn = mysql_async::Conn::from_url(config.database_url.expose_secret())
        .await
        .map_err(db_err)?;
    let t = Tables::new(&config.table_prefix);
    if reset {
        demo::remove_member_tenants(&mut conn, &t, member.id)
            .await
            .map_err(db_err)?;
    }
    let made = demo::seed_member_tenants(&mut conn, &t, member, clock)
        .await
        .map_err(db_err)?;
    if made > 0 {
        println!("demo: {made} tenants for {}", member.login);
    }
    let _ = conn.disconnect().await;
    Ok(())
}

fn print_banner(site: &DevSite) {
    let base = site.front.url();
    let (config, stub, logins) = (&site.config, site.stub.as_ref(), &site.logins);
    println!();
    println!("cargo dev is running. Ctrl-C stops everything it started.");
    println!("  site:      {base}/   (landing page; README \"A tour of cargo dev\")");
    println!("  member:    {base}/addons/chathub/index/login");
    println!("  admin:     {base}/admin   (FastAdmin's sign-in, then the ChatHub console)");
    println!("  payments:  Alipay 收银台 and WeChat Pay stand-ins, keys in var/dev-pay/;");
    println!(
        "             WeChat orders waiting for a \"scan\": {base}{}",
        devfront::WECHAT_SCAN_PATH
    );
    match stub {
        Some(s) => println!("  provision: {} (stub)", s.url()),
        None => println!("  provision: {}", config.addon.provision_server_url),
    }
    println!(
        "  server:    http://{} (behind the front, as behind nginx)",
        site.app.local_addr()
    );
    for (what, l) in logins {
        if l.created {
            println!("  {what} login: {} / {}", l.login, l.password);
        } else {
            println!(
                "  {what} login: {} (existing account; demo password was {})",
                l.login, l.password
            );
        }
    }
    println!("  start over: cargo dev --reset");
    println!();
}

/// The dev database in the private MariaDB; `reset` drops it first (everything starts over).
async fn create_database(server_url: &str, reset: bool) -> Result<(), DevError> {
    use mysql_async::prelude::Queryable as _;
    let mut c = mysql_async::Conn::from_url(server_url)
        .await
        .map_err(db_err)?;
    if reset {
        println!("--reset: dropping database {DEV_DATABASE}");
        c.query_drop(format!("DROP DATABASE IF EXISTS `{DEV_DATABASE}`"))
            .await
            .map_err(db_err)?;
    }
    demo::create_database(&mut c, DEV_DATABASE)
        .await
        .map_err(db_err)?;
    let _ = c.disconnect().await;
    Ok(())
}
