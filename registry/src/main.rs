//! `pandora-registry`: create, update, check and serve a Pandora registry directory.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pandora_common::files::Pin;
use pandora_registry::{AddOutcome, Repo, RepoError, ServeOptions};

/// Create, update, check and serve a Pandora registry: a directory of static files that any
/// web server can host.
#[derive(Parser)]
#[command(name = "pandora-registry", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an empty registry in DIR (new or empty).
    Init {
        /// The registry directory.
        dir: PathBuf,
        /// The registry's name, as clients will call it.
        #[arg(long)]
        name: String,
    },
    /// Verify packages and add them to the registry, as one update.
    Add {
        /// The registry directory.
        dir: PathBuf,
        /// The .pkg files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Mark NAME@VERSION deprecated (or, with --undo, not): the only change ever made to a
    /// published version.
    Deprecate {
        /// The registry directory.
        dir: PathBuf,
        /// The version, as `name@version`.
        pin: String,
        /// Clear the mark instead.
        #[arg(long)]
        undo: bool,
    },
    /// Verify every blob against the index and the snapshot against every index file.
    Check {
        /// The registry directory.
        dir: PathBuf,
    },
    /// Serve the registry over HTTP and accept publishes.
    Serve {
        /// The registry directory.
        dir: PathBuf,
        /// Address to listen on; port 0 picks a free port (the first line printed names it).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// File whose first line is the bearer token that `POST /api/v1/publish` requires;
        /// without it, publishing is disabled.
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// Largest publish body in bytes (default: the registry's max_package_size).
        #[arg(long)]
        max_body: Option<u64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(
                err,
                "error: {}",
                pandora_common::error_chain(e.as_ref(), "\ncause: ")
            );
            if let Some(hint) = hint(&e) {
                let _ = writeln!(err, "hint: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

/// What to do next, where the error suggests a command.
fn hint(e: &anyhow::Error) -> Option<String> {
    match e.downcast_ref::<RepoError>()? {
        RepoError::NotARegistry { dir } => Some(format!(
            "pandora-registry init {} --name NAME",
            dir.display()
        )),
        RepoError::Conflict { pin, .. } => Some(format!(
            "bump the version of `{}` and publish that",
            pin.name
        )),
        RepoError::NotFound { .. } => {
            Some("pandora-registry check DIR lists what the registry holds".into())
        }
        _ => None,
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Init { dir, name } => {
            let repo = Repo::init(&dir, &name)?;
            println!("created registry `{}` in {}", repo.name(), dir.display());
        }
        Command::Add { dir, files } => {
            let repo = Repo::open(&dir)?;
            for outcome in repo.add(&files)? {
                match outcome {
                    AddOutcome::Added { pin, sha256, size } => {
                        println!("added     {pin}  sha256 {sha256}  {size} bytes")
                    }
                    AddOutcome::Unchanged { pin, sha256 } => {
                        println!("unchanged {pin}  sha256 {sha256}  (already published)")
                    }
                }
            }
            println!(
                "registry `{}` at serial {}",
                repo.name(),
                repo.snapshot()?.serial
            );
        }
        Command::Deprecate { dir, pin, undo } => {
            let pin = Pin::parse(&pin)?;
            let repo = Repo::open(&dir)?;
            let changed = repo.deprecate(&pin, undo)?;
            let state = if undo { "not deprecated" } else { "deprecated" };
            if changed {
                println!("{pin} is now {state}");
            } else {
                println!("{pin} was already {state}; nothing changed");
            }
        }
        Command::Check { dir } => {
            let repo = Repo::open(&dir)?;
            let report = repo.check()?;
            for w in &report.warnings {
                println!("warning: {w}");
            }
            for p in &report.problems {
                println!("problem: {p}");
            }
            println!(
                "checked {} index files and {} blobs: {} problem{}",
                report.index_files,
                report.blobs,
                report.problems.len(),
                if report.problems.len() == 1 { "" } else { "s" }
            );
            if !report.problems.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Serve {
            dir,
            listen,
            token_file,
            max_body,
        } => {
            pandora_registry::serve(ServeOptions {
                dir,
                listen,
                token_file,
                max_body,
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
