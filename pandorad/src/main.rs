//! `pandorad`, the per-user daemon: the only writer of `$PANDORA_HOME`. It runs in the
//! foreground (as systemd and tests want); `pandora` detaches it when it starts one itself.

mod daemon;
mod engine;
mod fetch;
mod install;
mod prune;
mod publish;
mod reads;
mod registries;
mod status;
mod store;
mod verify;

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

/// Aborts the process at a named step when `PANDORA_FAILPOINT` says so, so tests can prove
/// that a crash there leaves nothing half-done.
pub(crate) fn failpoint(step: &str) {
    if std::env::var("PANDORA_FAILPOINT").is_ok_and(|v| v == step) {
        std::process::abort();
    }
}

/// Seconds since the epoch.
pub(crate) fn fetch_now() -> u64 {
    fetch::now()
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
    match daemon::run(
        layout,
        daemon::Options {
            idle_timeout: args.idle_timeout,
        },
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pandorad: {e:#}");
            ExitCode::FAILURE
        }
    }
}
