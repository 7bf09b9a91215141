//! Command-line interface: `serve`, `migrate`, `check`. The tools (`dev`, `compat`) are the
//! `chathub-tools` binary (tools/chathub-tools).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::clock::Clock;
use crate::config::{Config, ConfigSources};
use crate::startup::Application;

#[derive(Parser, Debug)]
#[command(
    name = "chathub",
    version,
    about = "ChatHub addon server for FastAdmin sites"
)]
pub struct Cli {
    /// TOML configuration file (also CHATHUB_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Read an existing FastAdmin install in place (.env and addons/chathub/config.php).
    #[arg(long, global = true)]
    pub fastadmin_root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the addon's pages.
    Serve,
    /// Create or upgrade the addon's tables (never drops data).
    Migrate {
        /// Print the SQL instead of running it.
        #[arg(long)]
        dry_run: bool,
        /// How long to wait for another `chathub migrate` on the same database to finish
        /// before refusing, in seconds.
        #[arg(long, default_value_t = 10)]
        lock_wait: u32,
    },
    /// Check configuration, database, schema, provision server and payment keys.
    Check {
        /// Print the effective configuration, secrets masked.
        #[arg(long)]
        print_config: bool,
        /// After a switch: webhook outcomes, provisioning backlog and failures, stuck tenants
        /// (from the tables) and error rates (from `--metrics-url`).
        #[arg(long)]
        live: bool,
        /// How many hours `--live` looks back.
        #[arg(long, default_value_t = 24)]
        hours: u32,
        /// A running server's `/metrics`, for error rates by route.
        #[arg(long)]
        metrics_url: Option<String>,
        /// As a service's start gate (the unit's `ExecStartPre`): what the server needs to
        /// serve must pass; the provision server only warns, since sign-ups wait for it and
        /// the worker retries, while refusing to start would take sign-in and payment
        /// notifications down with it.
        #[arg(long)]
        before_start: bool,
    },
    /// Compare one day's trade bill of each configured gateway with the orders: credit
    /// payments the notifications and queries missed, report every difference
    /// (README#reconciliation).
    Reconcile {
        /// The bill date, `YYYY-MM-DD` (site time).
        #[arg(long)]
        date: String,
    },
}

impl Cli {
    pub fn sources(&self) -> ConfigSources {
        ConfigSources {
            config_file: self.config.clone(),
            fastadmin_root: self.fastadmin_root.clone(),
        }
    }
}

pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CHATHUB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes are for people at a terminal; a log file or journald gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

/// Load and validate the config, or print every problem and return the exit code.
pub fn load_config(cli: &Cli) -> Result<(Config, Clock), i32> {
    let config = match Config::load(&cli.sources()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Err(2);
        }
    };
    let clock = match Clock::from_env(config.timezone) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("invalid configuration:\n  - {e}");
            return Err(2);
        }
    };
    Ok((config, clock))
}

/// `chathub migrate [--dry-run] [--lock-wait SECS]`: bring the addon's tables (and
/// `fa_user`'s widths) to what this server needs, by what `information_schema` shows. Prints
/// what it does. A real run holds the database's migration lock, so two instances starting
/// at once never change the schema together: the second waits, then finds nothing to do, or
/// refuses after `lock_wait` seconds.
pub async fn migrate(config: &Config, dry_run: bool, lock_wait: u32) -> i32 {
    let db = match crate::db::Db::new(config) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("migrate: {e}");
            return 1;
        }
    };
    let result = async {
        let mut conn = db.conn().await.map_err(|e| e.to_string())?;
        let prefix = &config.table_prefix;
        if !dry_run {
            take_migration_lock(&mut conn, prefix, lock_wait).await?;
        }
        crate::db::schema::migrate(&mut conn, prefix, dry_run)
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    let _ = db.pool.disconnect().await;
    let plan = match result {
        Ok(p) => p,
        Err(e) => {
            eprintln!("migrate: {e}");
            return 1;
        }
    };
    for problem in &plan.unresolved {
        eprintln!("WARN not migrated (needs a human): {problem}");
    }
    if plan.is_noop() {
        println!("schema is current: nothing to do");
    } else if dry_run {
        println!("-- dry run: {} statement(s) would run\n", plan.steps.len());
        print!("{}", plan.script());
    } else {
        for step in &plan.steps {
            println!("applied: {}", step.why);
        }
        println!("{} statement(s) applied", plan.steps.len());
    }
    0
}

async fn take_migration_lock(
    conn: &mut mysql_async::Conn,
    prefix: &str,
    wait: u32,
) -> Result<(), String> {
    use crate::db::schema::{MigrationLock, lock_migrations};
    match lock_migrations(conn, prefix, wait)
        .await
        .map_err(|e| e.to_string())?
    {
        MigrationLock::Held => Ok(()),
        MigrationLock::Busy { holder } => Err(format!(
            "another `chathub migrate` is running on this database (MariaDB connection {}); \
             waited {wait} s. Nothing was changed: run it again when that one has finished",
            holder.map_or("unknown".into(), |h| h.to_string())
        )),
    }
}

/// `chathub check`: an invalid config is one FAIL line per problem (each names its key),
/// since nothing else can be checked without it.
pub async fn check_command(cli: &Cli, print_config: bool, before_start: bool) -> i32 {
    match Config::load(&cli.sources()) {
        Ok(config) => check(&config, print_config, before_start).await,
        Err(errors) => {
            for problem in &errors.0 {
                println!("FAIL config: {problem}");
            }
            1
        }
    }
}

/// `chathub check --live`: one line per observation; exit 1 if any is a failure.
pub async fn live_command(cli: &Cli, hours: u32, metrics_url: Option<&str>) -> i32 {
    let (config, clock) = match load_config(cli) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let lines = crate::live::live_report(&config, &clock, hours, metrics_url).await;
    let mut failed = false;
    for l in &lines {
        println!("{l}");
        failed |= matches!(l.outcome, crate::check::Outcome::Fail(_));
    }
    i32::from(failed)
}

/// `chathub check [--print-config] [--before-start]`: one line per check; exit 1 if any failed.
pub async fn check(config: &Config, print_config: bool, before_start: bool) -> i32 {
    if print_config {
        print!("{}", config.describe());
    }
    let when = if before_start {
        crate::check::When::BeforeStart
    } else {
        crate::check::When::Asked
    };
    let lines = crate::check::run_checks(config, when).await;
    let mut failed = false;
    for l in &lines {
        println!("{l}");
        failed |= matches!(l.outcome, crate::check::Outcome::Fail(_));
    }
    i32::from(failed)
}

/// `chathub reconcile --date YYYY-MM-DD`: one line per gateway and one per difference; exit 1
/// when a bill could not be had or differs from the orders.
pub async fn reconcile_command(cli: &Cli, date: &str) -> i32 {
    use crate::services::reconcile::{self, Outcome};
    let Some(date) = reconcile::parse_date(date) else {
        eprintln!("reconcile: --date must be YYYY-MM-DD, got {date:?}");
        return 2;
    };
    let (config, clock) = match load_config(cli) {
        Ok(c) => c,
        Err(code) => return code,
    };
    init_tracing(config.log_json);
    let db = match crate::db::Db::new(&config) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("reconcile: {e}");
            return 1;
        }
    };
    let app = crate::services::app::App::new(config, db, clock);
    let result = reconcile::run(&app, date).await;
    let _ = app.db.pool.clone().disconnect().await;
    let reports = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("reconcile: {e}");
            return 1;
        }
    };
    if reports.is_empty() {
        println!("no payment gateway is configured: nothing to reconcile");
    }
    let mut clean = true;
    for r in &reports {
        let method = r.method.as_str();
        match &r.outcome {
            Outcome::Done { matched, findings } => {
                println!(
                    "{method} {}: {matched} matched, {} difference(s)",
                    r.bill_date,
                    findings.len()
                );
                for f in findings {
                    clean = false;
                    println!(
                        "  {} {}: ours {:?}, bill {:?} ({})",
                        f.kind,
                        crate::live::printable(&f.order_no),
                        crate::live::printable(&f.ours),
                        crate::live::printable(&f.theirs),
                        f.label()
                    );
                }
            }
            Outcome::Failed(why) => {
                clean = false;
                println!(
                    "{method} {}: FAILED: {}",
                    r.bill_date,
                    crate::live::printable(why)
                );
            }
            Outcome::Busy => {
                clean = false;
                println!(
                    "{method} {}: another instance is reconciling it now",
                    r.bill_date
                );
            }
        }
    }
    i32::from(!clean)
}

pub async fn serve(config: Config, clock: Clock) -> i32 {
    init_tracing(config.log_json);
    if clock.is_fake() {
        tracing::warn!(now = %clock.now(), "CHATHUB_FAKE_NOW is set: the server clock is FAKE");
    }
    let app = match Application::build(config, clock).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return 1;
        }
    };
    tracing::info!(addr = %app.local_addr(), "listening");
    app.run().await;
    0
}
