//! Command-line interface: `serve`, `dev`, `migrate`, `check`.

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
    /// One command for newcomers: private MariaDB, schema, demo admin, stub provision server, site.
    Dev,
    /// Create or upgrade the addon's tables (never drops data).
    Migrate {
        /// Print the SQL instead of running it.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check configuration, database, schema, provision server and payment keys.
    Check {
        /// Print the effective configuration, secrets masked.
        #[arg(long)]
        print_config: bool,
    },
    /// Migration toolkit: record a site, diff two recordings (README "Migrating a site").
    Compat {
        #[command(subcommand)]
        command: crate::compat::cli::CompatCommand,
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
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
