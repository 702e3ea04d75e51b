//! `pandora-sandbox`: runs one command in Pandora's sandbox (what `pandorad sandbox` does),
//! as a small binary that starts fast; `pandorad` runs builds and hooks through it.

use std::process::ExitCode;

use clap::Parser;

/// pandora-sandbox: run a command in the sandbox Pandora's builds and install hooks run in.
#[derive(Parser)]
#[command(name = "pandora-sandbox", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    args: pandora_sandbox::Args,
}

fn main() -> ExitCode {
    pandora_sandbox::main(Cli::parse().args)
}
