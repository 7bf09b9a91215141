//! `cargo dev`: the newcomer's one command. Starts what the site needs on this machine
//! (a private MariaDB when no database is configured, the stub provision server), prepares the
//! schema and demo logins, then serves the site until Ctrl-C, and stops what it started.
//!
//! Everything it keeps lives under `var/` (gitignored): the MariaDB data directory and the
//! generated session secret, so the next `cargo dev` finds the same data and sessions.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::Rng as _;
use secrecy::ExposeSecret as _;

use crate::demo;
use crate::provision_stub::ProvisionStub;
use chathub::clock::Clock;
use chathub::config::{Config, ConfigSources, DEFAULT_PROVISION_API_KEY};
use chathub::db::{Tables, schema};
use chathub::startup::Application;

/// Name of the database the dev stack creates in its private MariaDB.
pub const DEV_DATABASE: &str = "chathub_dev";
/// How long mariadbd gets to start, and to shut down cleanly.
const MARIADB_START_TIMEOUT: Duration = Duration::from_secs(60);
const MARIADB_STOP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error(
        "mariadbd not found. Install MariaDB's server (Debian/Ubuntu: `sudo apt-get install mariadb-server`), or set CHATHUB_DATABASE_URL to an existing database"
    )]
    MariadbMissing,
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

pub async fn run(sources: &ConfigSources) -> i32 {
    chathub::cli::init_tracing(false);
    match run_inner(sources).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cargo dev: {e}");
            1
        }
    }
}

async fn run_inner(sources: &ConfigSources) -> Result<(), DevError> {
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
        // Bounded (MARIADB_START_TIMEOUT); a signal meanwhile is acted on right after.
        let server = PrivateMariaDb::start(&var.join("dev-mariadb")).await?;
        env.insert(
            "CHATHUB_DATABASE_URL".into(),
            format!("mysql://root@127.0.0.1:{}/{DEV_DATABASE}", server.port),
        );
        mariadb = Some(server);
    }
    let prepared = tokio::select! {
        r = prepare(sources, &var, env, mariadb.as_ref().map(|m| m.port)) => r,
        _ = interrupt.recv() => Err(DevError::Interrupted),
    };
    let result = match prepared {
        Ok(site) => {
            print_banner(&site);
            site.app.run().await;
            drop(site.stub);
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

/// Everything `dev` runs, ready to serve.
struct DevSite {
    app: Application,
    config: Config,
    stub: Option<ProvisionStub>,
    logins: Vec<(&'static str, demo::DemoLogin)>,
}

async fn prepare(
    sources: &ConfigSources,
    var: &Path,
    mut env: BTreeMap<String, String>,
    private_mariadb_port: Option<u16>,
) -> Result<DevSite, DevError> {
    if let Some(port) = private_mariadb_port {
        create_database(port).await?;
    }
    if !env.contains_key("CHATHUB_SESSION_SECRET") {
        env.insert(
            "CHATHUB_SESSION_SECRET".into(),
            persistent_session_secret(&var.join("session_secret"))?,
        );
    }
    let mut stub = None;
    if !env.contains_key("CHATHUB_ADDON_PROVISION_SERVER_URL") {
        let key = env
            .get("CHATHUB_ADDON_PROVISION_API_KEY")
            .cloned()
            .unwrap_or_else(|| DEFAULT_PROVISION_API_KEY.into());
        let s = ProvisionStub::start(loopback(0), &key)
            .await
            .map_err(|e| io("cannot start the stub provision server", e))?;
        env.insert("CHATHUB_ADDON_PROVISION_SERVER_URL".into(), s.url());
        stub = Some(s);
    }
    let config =
        Config::load_with_env(sources, &env).map_err(|e| DevError::Config(e.to_string()))?;
    let clock = Clock::from_env(config.timezone).map_err(DevError::Config)?;
    let logins = prepare_database(&config, &clock).await?;
    let app = Application::build(config.clone(), clock)
        .await
        .map_err(|e| DevError::Config(e.to_string()))?;
    Ok(DevSite {
        app,
        config,
        stub,
        logins,
    })
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

/// The session secret generated on first run, reused afterwards so logins survive restarts.
fn persistent_session_secret(path: &Path) -> Result<String, DevError> {
    if let Ok(s) = std::fs::read_to_string(path) {
        let s = s.trim().to_string();
        if s.len() >= 32 {
            return Ok(s);
        }
    }
    let bytes: [u8; 32] = rand::thread_rng().r#gen();
    let secret = hex::encode(bytes);
    write_private(path, &secret)?;
    Ok(secret)
}

fn write_private(path: &Path, text: &str) -> Result<(), DevError> {
    std::fs::write(path, text).map_err(|e| io(&format!("cannot write {}", path.display()), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
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

fn print_banner(site: &DevSite) {
    let base = format!("http://{}", site.app.local_addr());
    let (config, stub, logins) = (&site.config, site.stub.as_ref(), &site.logins);
    println!();
    println!("cargo dev is running. Ctrl-C stops everything it started.");
    println!("  landing:   {base}/addons/chathub/index/landing");
    println!("  register:  {base}/addons/chathub/index/registerpage");
    println!("  login:     {base}/addons/chathub/index/login");
    println!("  admin:     {base}/addons/chathub/index/index");
    println!(
        "             (also {base}/{}/addons/chathub/index/index; needs a FastAdmin admin",
        config.admin_entry
    );
    println!("             session: README \"Admin recognition\")");
    match stub {
        Some(s) => println!("  provision: {} (stub)", s.url()),
        None => println!("  provision: {}", config.addon.provision_server_url),
    }
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
    println!();
}

// ---------------------------------------------------------------------------------------------
// Private MariaDB

/// A `mariadbd` we started, listening on loopback only, data under `dir/data`.
pub struct PrivateMariaDb {
    pub dir: PathBuf,
    pub port: u16,
    child: tokio::process::Child,
}

fn find_program(names: &[&str], fallbacks: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    fallbacks.iter().map(PathBuf::from).find(|p| p.is_file())
}

fn current_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            std::process::Command::new("id")
                .arg("-un")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "root".into())
}

/// A port nobody listens on right now (the kernel picks it).
fn free_port() -> Result<u16, DevError> {
    let l = StdListener::bind(loopback(0)).map_err(|e| io("cannot find a free port", e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| io("cannot find a free port", e))
}

impl PrivateMariaDb {
    pub async fn start(dir: &Path) -> Result<PrivateMariaDb, DevError> {
        PrivateMariaDb::start_on(dir, None).await
    }

    /// As [`PrivateMariaDb::start`], on a given port (a restart keeps its address).
    pub async fn start_on(dir: &Path, port: Option<u16>) -> Result<PrivateMariaDb, DevError> {
        let mariadbd = find_program(
            &["mariadbd", "mysqld"],
            &["/usr/sbin/mariadbd", "/usr/sbin/mysqld"],
        )
        .ok_or(DevError::MariadbMissing)?;
        std::fs::create_dir_all(dir)
            .map_err(|e| io(&format!("cannot create {}", dir.display()), e))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| io(&format!("cannot resolve {}", dir.display()), e))?;
        let data = dir.join("data");
        let user = current_user();
        if !data.join("mysql").is_dir() {
            let install = find_program(
                &["mariadb-install-db", "mysql_install_db"],
                &["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"],
            )
            .ok_or(DevError::MariadbMissing)?;
            println!("initialising MariaDB data directory {}", data.display());
            let out = tokio::process::Command::new(install)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg("--auth-root-authentication-method=normal")
                .arg(format!("--user={user}"))
                .arg("--skip-test-db")
                .output()
                .await
                .map_err(|e| io("cannot run mariadb-install-db", e))?;
            if !out.status.success() {
                let _ = std::fs::remove_dir_all(&data);
                return Err(DevError::Database(format!(
                    "mariadb-install-db failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )));
            }
        }
        let port = match port {
            Some(p) => p,
            None => free_port()?,
        };
        // Unix socket paths are limited to ~107 bytes; fall back to the temp dir.
        let mut socket = dir.join("mysqld.sock");
        if socket.as_os_str().len() > 100 {
            socket = std::env::temp_dir().join(format!("chathub-dev-{}.sock", std::process::id()));
        }
        let log = dir.join("mysqld.log");
        let mut cmd = tokio::process::Command::new(mariadbd);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", log.display()))
            .arg(format!("--user={user}"))
            .arg("--skip-name-resolve")
            .arg("--character-set-server=utf8mb4")
            .arg("--collation-server=utf8mb4_unicode_ci")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // Its own process group: Ctrl-C in the terminal reaches us only, and we shut the
        // server down in order instead of it dying mid-write.
        #[cfg(unix)]
        cmd.process_group(0);
        let child = cmd.spawn().map_err(|e| io("cannot start mariadbd", e))?;
        let mut server = PrivateMariaDb { dir, port, child };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(DevError::Database(format!(
                    "mariadbd exited ({status}); see {}",
                    log.display()
                )));
            }
            let url = format!("mysql://root@127.0.0.1:{port}");
            if let Ok(mut c) = mysql_async::Conn::from_url(url.as_str()).await
                && schema::server_version(&mut c).await.is_ok()
            {
                let _ = c.disconnect().await;
                break;
            }
            if started.elapsed() > MARIADB_START_TIMEOUT {
                server.stop().await;
                return Err(DevError::Database(format!(
                    "mariadbd did not answer within {}s; see {}",
                    MARIADB_START_TIMEOUT.as_secs(),
                    log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        println!(
            "MariaDB listening on 127.0.0.1:{port} (data {})",
            data.display()
        );
        Ok(server)
    }

    /// SIGTERM, then wait for mariadbd to flush and exit (a clean shutdown, no recovery
    /// needed next time). Killed only if it does not exit in time.
    pub async fn stop(mut self) {
        #[cfg(unix)]
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: plain kill(2) on the pid of a child we spawned and have not reaped.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        match tokio::time::timeout(MARIADB_STOP_TIMEOUT, self.child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                eprintln!("mariadbd did not stop in time; killing it");
                let _ = self.child.kill().await;
            }
        }
    }
}

async fn create_database(port: u16) -> Result<(), DevError> {
    let url = format!("mysql://root@127.0.0.1:{port}");
    let mut c = mysql_async::Conn::from_url(url.as_str())
        .await
        .map_err(|e| DevError::Database(e.to_string()))?;
    demo::create_database(&mut c, DEV_DATABASE)
        .await
        .map_err(|e| DevError::Database(e.to_string()))?;
    let _ = c.disconnect().await;
    Ok(())
}
