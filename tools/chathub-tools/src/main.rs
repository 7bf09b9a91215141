use clap::{Parser, Subcommand};

use chathub::config::ConfigSources;

/// `cargo dev` runs `chathub-tools dev`, `cargo compat ...` runs `chathub-tools compat ...`.
#[derive(Parser, Debug)]
#[command(
    name = "chathub-tools",
    version,
    about = "Tools around the chathub server: dev stack, migration toolkit"
)]
struct Cli {
    /// TOML configuration file (also CHATHUB_CONFIG).
    #[arg(long, global = true)]
    config: Option<std::path::PathBuf>,
    /// Read an existing FastAdmin install in place (.env and addons/chathub/config.php).
    #[arg(long, global = true)]
    fastadmin_root: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// One command for newcomers: private MariaDB, schema, demo accounts and tenants, stub
    /// provision server, payment stand-ins, the dev front and the site.
    Dev {
        /// Start over: drop the private dev database (or, on a configured database, the demo
        /// member's tenants) and seed it again.
        #[arg(long)]
        reset: bool,
    },
    /// The private MariaDB that `dev`, scripts/test.sh and bench/run.sh use.
    Mariadb {
        #[command(subcommand)]
        command: chathub_tools::mariadb::MariaDbCommand,
    },
    /// Migration toolkit: record a site, diff two recordings (README "Switching a site over", step 3).
    Compat {
        #[command(subcommand)]
        command: chathub_tools::compat::cli::CompatCommand,
    },
    /// Pictures of pages: render the original's reference screenshots from its recordings.
    Visual {
        #[command(subcommand)]
        command: VisualCommand,
    },
}

#[derive(Subcommand, Debug)]
enum VisualCommand {
    /// Every case of `chathub_tools::visual::CASES` at both widths, from the recorded bodies.
    References {
        /// The recordings of the original (a directory with `raw/<group>/<NNN>-<slug>.json`).
        #[arg(long)]
        golden: std::path::PathBuf,
        /// Where the PNGs go (the repository keeps them in fixtures/visual).
        #[arg(long, default_value = "fixtures/visual")]
        out: std::path::PathBuf,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        Command::Dev { reset } => {
            let sources = ConfigSources {
                config_file: cli.config.clone(),
                fastadmin_root: cli.fastadmin_root.clone(),
            };
            chathub_tools::devstack::run(&sources, *reset).await
        }
        Command::Mariadb { command } => chathub_tools::mariadb::cli(command).await,
        Command::Compat { command } => chathub_tools::compat::cli::run(command).await,
        Command::Visual {
            command: VisualCommand::References { golden, out },
        } => chathub_tools::visual::run_references(golden, out).await,
    };
    std::process::exit(code);
}
