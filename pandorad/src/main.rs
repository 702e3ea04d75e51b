//! `pandorad`: runs the daemon in the foreground (as systemd and tests want); `pandora`
//! detaches it when it starts one itself.

use std::process::ExitCode;

use clap::Parser;
use pandora_common::layout::Layout;

/// pandorad: the per-user Pandora daemon, serving gRPC on $PANDORA_HOME/run/sock.
#[derive(Parser)]
#[command(name = "pandorad", version, about, long_about = None)]
struct Args {
    /// Exit after this many seconds without requests (0: never). `pandora` passes 600 when
    /// it starts the daemon itself.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    idle_timeout: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .try_init();
    let layout = match Layout::from_env() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("pandorad: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = pandorad::Options {
        idle_timeout: args.idle_timeout,
    };
    match pandorad::run(layout, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pandorad: {e:#}");
            ExitCode::FAILURE
        }
    }
}
