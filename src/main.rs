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
        Command::Compat { command } => chathub::compat::cli::run(command).await,
        Command::Dev | Command::Migrate { .. } | Command::Check { .. } => {
            eprintln!("not built yet");
            1
        }
    };
    std::process::exit(code);
}
