use clap::Parser;

use chathub::cli::{Cli, Command};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        Command::Serve => match chathub::cli::load_config(&cli) {
            Ok((config, clock)) => chathub::cli::serve(config, clock).await,
            Err(code) => code,
        },
        Command::Migrate { dry_run, lock_wait } => match chathub::cli::load_config(&cli) {
            Ok((config, _)) => chathub::cli::migrate(&config, *dry_run, *lock_wait).await,
            Err(code) => code,
        },
        Command::Check {
            live: true,
            hours,
            metrics_url,
            ..
        } => chathub::cli::live_command(&cli, *hours, metrics_url.as_deref()).await,
        Command::Check {
            print_config,
            before_start,
            ..
        } => chathub::cli::check_command(&cli, *print_config, *before_start).await,
        Command::Reconcile { date } => chathub::cli::reconcile_command(&cli, date).await,
    };
    std::process::exit(code);
}
