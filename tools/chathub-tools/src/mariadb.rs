//! The one private-MariaDB starter: `cargo dev`, `scripts/test.sh` (through `chathub-tools
//! mariadb start|stop`), `bench/run.sh` and the tests that stop or freeze a server all start
//! their `mariadbd` here. It listens on loopback only, keeps its data in `<dir>/data`, lets
//! root in without a password, and is shut down cleanly (SIGTERM, then a wait).

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chathub::db::schema;

/// How long mariadbd gets to start, and to shut down cleanly.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum MariaDbError {
    #[error(
        "mariadbd not found. Install MariaDB's server (Debian/Ubuntu: `sudo apt-get install mariadb-server`), or set CHATHUB_DATABASE_URL to an existing database"
    )]
    Missing,
    #[error("{0}")]
    Failed(String),
}

fn failed(what: &str, e: impl std::fmt::Display) -> MariaDbError {
    MariaDbError::Failed(format!("{what}: {e}"))
}

/// What to start.
#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    /// Listen here (a restart keeps its address); a free port when `None`.
    pub port: Option<u16>,
    /// Install Debian's `mariadb-server` with apt-get when mariadbd is missing.
    pub install: bool,
    /// More `mariadbd` options (the benchmark's `--innodb-flush-log-at-trx-commit=2`).
    pub extra_args: Vec<String>,
}

/// A `mariadbd` we started.
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

fn find_mariadbd() -> Option<PathBuf> {
    find_program(
        &["mariadbd", "mysqld"],
        &["/usr/sbin/mariadbd", "/usr/sbin/mysqld"],
    )
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
fn free_port() -> Result<u16, MariaDbError> {
    StdListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| failed("cannot find a free port", e))
}

/// `apt-get install mariadb-server mariadb-client`, through sudo when we are not root.
async fn install_mariadb_server() -> Result<(), MariaDbError> {
    eprintln!("[mariadb] mariadbd not found: installing the mariadb-server package");
    // SAFETY: geteuid(2) has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let run = |args: &[&str]| {
        let mut cmd = if root {
            tokio::process::Command::new(args[0])
        } else {
            let mut c = tokio::process::Command::new("sudo");
            c.arg(args[0]);
            c
        };
        cmd.args(&args[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        cmd
    };
    let steps: [&[&str]; 2] = [
        &["apt-get", "update", "-qq"],
        &[
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "mariadb-server",
            "mariadb-client",
        ],
    ];
    for step in steps {
        let status = run(step)
            .status()
            .await
            .map_err(|e| failed("cannot run apt-get", e))?;
        if !status.success() {
            return Err(MariaDbError::Failed(format!(
                "`{}` failed ({status})",
                step.join(" ")
            )));
        }
    }
    Ok(())
}

async fn init_data_dir(data: &Path, user: &str) -> Result<(), MariaDbError> {
    let install = find_program(
        &["mariadb-install-db", "mysql_install_db"],
        &["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"],
    )
    .ok_or(MariaDbError::Missing)?;
    eprintln!("[mariadb] initialising data directory {}", data.display());
    let out = tokio::process::Command::new(install)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg(format!("--user={user}"))
        .arg("--skip-test-db")
        .output()
        .await
        .map_err(|e| failed("cannot run mariadb-install-db", e))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(data);
        return Err(MariaDbError::Failed(format!(
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// Does root get in without a password at `127.0.0.1:port`?
pub async fn root_answers(port: u16) -> bool {
    let url = format!("mysql://root@127.0.0.1:{port}");
    let probe = async {
        let mut c = mysql_async::Conn::from_url(url.as_str()).await.ok()?;
        let ok = schema::server_version(&mut c).await.is_ok();
        let _ = c.disconnect().await;
        Some(ok)
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(5), probe).await,
        Ok(Some(true))
    )
}

impl PrivateMariaDb {
    pub async fn start(dir: &Path) -> Result<PrivateMariaDb, MariaDbError> {
        PrivateMariaDb::start_with(dir, &StartOptions::default()).await
    }

    /// As [`PrivateMariaDb::start`], on a given port (a restart keeps its address).
    pub async fn start_on(dir: &Path, port: Option<u16>) -> Result<PrivateMariaDb, MariaDbError> {
        let options = StartOptions {
            port,
            ..StartOptions::default()
        };
        PrivateMariaDb::start_with(dir, &options).await
    }

    pub async fn start_with(
        dir: &Path,
        options: &StartOptions,
    ) -> Result<PrivateMariaDb, MariaDbError> {
        let mariadbd = match find_mariadbd() {
            Some(p) => p,
            None if options.install => {
                install_mariadb_server().await?;
                find_mariadbd().ok_or(MariaDbError::Missing)?
            }
            None => return Err(MariaDbError::Missing),
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| failed(&format!("cannot create {}", dir.display()), e))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| failed(&format!("cannot resolve {}", dir.display()), e))?;
        // A server left running on this data directory (a killed run) holds its lock.
        stop_dir(&dir).await;
        let user = current_user();
        if !dir.join("data/mysql").is_dir() {
            init_data_dir(&dir.join("data"), &user).await?;
        }
        let port = match options.port {
            Some(p) => p,
            None => free_port()?,
        };
        eprintln!("[mariadb] starting private mariadbd on 127.0.0.1:{port}");
        let mut cmd = mariadbd_command(&mariadbd, &dir, port, &user);
        cmd.args(&options.extra_args);
        let child = cmd
            .spawn()
            .map_err(|e| failed("cannot start mariadbd", e))?;
        let mut server = PrivateMariaDb { dir, port, child };
        server.wait_ready().await?;
        eprintln!(
            "[mariadb] listening on 127.0.0.1:{port} (data {})",
            server.dir.join("data").display()
        );
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<(), MariaDbError> {
        let log = self.dir.join("mysqld.log");
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(MariaDbError::Failed(format!(
                    "mariadbd exited ({status}); see {}",
                    log.display()
                )));
            }
            if root_answers(self.port).await {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                self.terminate_and_wait().await;
                return Err(MariaDbError::Failed(format!(
                    "mariadbd did not answer within {}s; see {}",
                    START_TIMEOUT.as_secs(),
                    log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Root's URL, without a database.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    /// Leave the server running after we exit (`chathub-tools mariadb start`); `stop_dir`
    /// ends it later.
    pub fn detach(self) {
        // Dropping the handle neither kills nor waits for the child.
        drop(self.child);
    }

    /// SIGTERM, then wait for mariadbd to flush and exit (a clean shutdown, no recovery
    /// needed next time). Killed only if it does not exit in time.
    pub async fn stop(mut self) {
        self.terminate_and_wait().await;
    }

    async fn terminate_and_wait(&mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: plain kill(2) on the pid of a child we spawned and have not reaped.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .is_err()
        {
            eprintln!("[mariadb] mariadbd did not stop in time; killing it");
            let _ = self.child.kill().await;
        }
    }
}

fn mariadbd_command(mariadbd: &Path, dir: &Path, port: u16, user: &str) -> tokio::process::Command {
    // Unix socket paths are limited to ~107 bytes; fall back to the temp dir.
    let mut socket = dir.join("mysqld.sock");
    if socket.as_os_str().len() > 100 {
        socket = std::env::temp_dir().join(format!("chathub-mariadb-{port}.sock"));
    }
    let mut cmd = tokio::process::Command::new(mariadbd);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
        .arg(format!("--log-error={}", dir.join("mysqld.log").display()))
        .arg(format!("--user={user}"))
        .arg("--skip-name-resolve")
        .arg("--character-set-server=utf8mb4")
        .arg("--collation-server=utf8mb4_unicode_ci")
        // Every test opens its own pool on its own database.
        .arg("--max-connections=500")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // Its own process group: Ctrl-C in the terminal reaches us only, and we shut the
    // server down in order instead of it dying mid-write.
    cmd.process_group(0);
    cmd
}

/// The pid of a mariadbd running on `dir`'s data (from its pid file, confirmed by its
/// command line, so a reused pid is never signalled).
fn running_pid(dir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(dir.join("mysqld.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let datadir = format!("--datadir={}", dir.join("data").display());
    cmdline
        .split(|b| *b == 0)
        .any(|arg| arg == datadir.as_bytes())
        .then_some(pid)
}

fn alive(pid: i32) -> bool {
    // A zombie has no cmdline: gone for our purposes.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

/// Stop the mariadbd running on `dir`, if any: SIGTERM, wait, SIGKILL after the timeout.
/// Returns whether one was running.
pub async fn stop_dir(dir: &Path) -> bool {
    let Some(pid) = running_pid(dir) else {
        return false;
    };
    // SAFETY: kill(2) on the mariadbd whose command line names this data directory.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let started = Instant::now();
    while alive(pid) {
        if started.elapsed() > STOP_TIMEOUT {
            eprintln!("[mariadb] mariadbd did not stop in time; killing it");
            // SAFETY: as above.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

/// `chathub-tools mariadb start|stop`, for the shell scripts.
#[derive(clap::Subcommand, Debug)]
pub enum MariaDbCommand {
    /// Start a private mariadbd on `--dir` and print root's URL (`mysql://root@127.0.0.1:PORT`)
    /// once it answers. It keeps running after this command exits; `stop` ends it.
    Start {
        #[arg(long)]
        dir: PathBuf,
        /// Listen on this port instead of a free one.
        #[arg(long)]
        port: Option<u16>,
        /// Print the URL of the MariaDB on this 127.0.0.1 port instead, when root gets in
        /// there without a password (a developer's or CI's own server).
        #[arg(long)]
        use_existing: Option<u16>,
        /// Install Debian's mariadb-server with apt-get when mariadbd is missing.
        #[arg(long)]
        install: bool,
        /// More mariadbd options, after `--`.
        #[arg(last = true)]
        mariadbd_args: Vec<String>,
    },
    /// Stop the private mariadbd running on `--dir` (cleanly), if there is one.
    Stop {
        #[arg(long)]
        dir: PathBuf,
    },
}

pub async fn cli(command: &MariaDbCommand) -> i32 {
    match command {
        MariaDbCommand::Start {
            dir,
            port,
            use_existing,
            install,
            mariadbd_args,
        } => {
            if let Some(existing) = *use_existing
                && root_answers(existing).await
            {
                eprintln!("[mariadb] using the MariaDB on 127.0.0.1:{existing}");
                println!("mysql://root@127.0.0.1:{existing}");
                return 0;
            }
            let options = StartOptions {
                port: *port,
                install: *install,
                extra_args: mariadbd_args.clone(),
            };
            match PrivateMariaDb::start_with(dir, &options).await {
                Ok(server) => {
                    println!("{}", server.url());
                    server.detach();
                    0
                }
                Err(e) => {
                    eprintln!("[mariadb] {e}");
                    1
                }
            }
        }
        MariaDbCommand::Stop { dir } => {
            let dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            if stop_dir(&dir).await {
                eprintln!("[mariadb] stopped the mariadbd on {}", dir.display());
            }
            0
        }
    }
}
