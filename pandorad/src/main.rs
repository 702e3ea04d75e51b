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
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Run a command in the sandbox that builds and install hooks run in: new user, mount,
    /// pid, net, ipc and uts namespaces, a read-only root of the host's /usr, /bin and /lib
    /// plus what --ro/--rw show, loopback only, no capabilities, seccomp, limits.
    Sandbox(pandorad::sandbox::Args),
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The sandbox helper must stay single-threaded: it starts nothing else.
    if let Some(Command::Sandbox(sandbox)) = args.command {
        return pandorad::sandbox::main(sandbox);
    }
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
