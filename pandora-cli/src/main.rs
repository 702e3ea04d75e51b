//! `pandora`, the command-line client of the Pandora package manager.

mod acl_cmd;
mod args;
mod client;
mod complete_cmd;
mod daemon_cmd;
mod desktop;
mod graph_cmd;
mod install_cmd;
mod interrupt;
mod metrics_cmd;
mod output;
mod pack_cmd;
mod profile_cmd;
mod stop_cmd;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use args::*;

/// A failure the user can act on: what went wrong, and what to do next.
pub(crate) struct Failure {
    message: String,
    hint: Option<String>,
    /// The daemon's stable error code, when the failure came from it.
    code: Option<String>,
}

impl Failure {
    pub(crate) fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            hint: None,
            code: None,
        }
    }

    pub(crate) fn code(mut self, code: impl Into<String>) -> Failure {
        self.code = Some(code.into()).filter(|c| !c.is_empty());
        self
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

/// Outcome of a command: the exit code, or a failure to report.
pub(crate) type Outcome = Result<ExitCode, Failure>;

/// Commands of other package managers that people type, and what to use in Pandora.
const OTHER_NAMES: &[(&[&str], &str, &str)] = &[
    (
        &["uninstall", "rm", "erase", "purge", "delete"],
        "Pandora removes a package with `remove`",
        "pandora remove NAME@VERSION",
    ),
    (
        &["update", "upgrade", "up", "sync", "refresh"],
        "there is no separate update: install takes the newest version a registry offers",
        "pandora install NAME --refresh",
    ),
    (
        &["add", "get", "fetch"],
        "Pandora installs with `install`",
        "pandora install NAME",
    ),
    (
        &["show", "query", "describe"],
        "Pandora shows a package with `info`",
        "pandora info NAME",
    ),
    (
        &["find", "lookup"],
        "Pandora searches with `search`",
        "pandora search TEXT",
    ),
    (
        &["ls", "installed"],
        "Pandora lists with `list`",
        "pandora list",
    ),
];

/// The subcommand word of `args`, skipping global options and their values.
fn subcommand_word(args: &[String]) -> Option<&str> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--color" || a == "--log" {
            it.next();
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(word) = subcommand_word(&args)
        && let Some((_, what, hint)) = OTHER_NAMES.iter().find(|(names, ..)| names.contains(&word))
    {
        output::error(
            &GlobalArgs::default(),
            Some("usage"),
            &format!("`{word}` is not a pandora command: {what}"),
            Some(hint),
        );
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let printer = output::Printer::new(&cli.global);
    let result = match cli.command {
        Command::Acl(cmd) => acl_cmd::run(cmd),
        Command::Pack(args) => pack_cmd::run(args, cli.global.quiet),
        Command::Build {
            dir,
            out,
            check,
            no_cache,
        } => daemon_cmd::run(
            printer,
            daemon_cmd::Request::Build {
                dir,
                out: out.unwrap_or_else(|| PathBuf::from(".")),
                check,
                no_cache,
            },
        ),
        Command::Status => daemon_cmd::run(printer, daemon_cmd::Request::Status),
        Command::Stop => stop_cmd::run(&printer),
        Command::Install {
            packages,
            refresh,
            repair,
            no_activate,
            profile,
            strategy,
        } => daemon_cmd::run(
            printer,
            daemon_cmd::Request::Install(install_cmd::InstallArgs {
                packages,
                yes: cli.global.yes,
                refresh,
                repair,
                activate: !no_activate,
                profile: profile.unwrap_or_default(),
                strategy: strategy.unwrap_or_default(),
            }),
        ),
        Command::Cache(cmd) => daemon_cmd::run(printer, daemon_cmd::Request::Cache(cmd)),
        Command::Remove {
            package,
            profile,
            purge,
        } => daemon_cmd::run(
            printer,
            daemon_cmd::Request::Remove {
                package,
                profile: profile.unwrap_or_default(),
                purge,
            },
        ),
        Command::List(args) => daemon_cmd::run(printer, daemon_cmd::Request::List(args)),
        Command::Activate {
            package,
            profile,
            strategy,
        } => daemon_cmd::run(
            printer,
            daemon_cmd::Request::Activate {
                package,
                profile: profile.unwrap_or_default(),
                strategy: strategy.unwrap_or_default(),
                yes: cli.global.yes,
            },
        ),
        Command::Deactivate { name, profile } => daemon_cmd::run(
            printer,
            daemon_cmd::Request::Deactivate(name, profile.unwrap_or_default()),
        ),
        Command::Which { path, profile } => daemon_cmd::run(
            printer,
            daemon_cmd::Request::Which(path, profile.unwrap_or_default()),
        ),
        Command::Profile(ProfileCommand::Override {
            path,
            package,
            profile,
        }) => daemon_cmd::run(
            printer,
            daemon_cmd::Request::Override(path, package, profile.unwrap_or_default()),
        ),
        Command::Profile(cmd) => daemon_cmd::run(printer, daemon_cmd::Request::Profile(cmd)),
        Command::Env {
            session: Some(s), ..
        } => daemon_cmd::run(
            printer,
            daemon_cmd::Request::SessionPath(s == desktop::Session::On),
        ),
        Command::Env { profile, shell, .. } => env(profile.as_deref(), shell),
        Command::Lock(cmd) => daemon_cmd::run(printer, daemon_cmd::Request::Lock(cmd)),
        Command::Verify { packages, all: _ } => {
            daemon_cmd::run(printer, daemon_cmd::Request::Verify(packages))
        }
        Command::Prune {
            cache,
            store,
            generations,
            keep,
            dry_run,
        } => {
            // A bare `prune` does all three.
            let all = !cache && !store && !generations;
            daemon_cmd::run(
                printer,
                daemon_cmd::Request::Prune {
                    cache: cache || all,
                    store: store || all,
                    generations: generations || all,
                    keep,
                    dry_run,
                },
            )
        }
        Command::Publish {
            file,
            registry,
            sig,
        } => daemon_cmd::run(printer, daemon_cmd::Request::Publish(file, registry, sig)),
        Command::Search { query, refresh } => {
            daemon_cmd::run(printer, daemon_cmd::Request::Search(query, refresh))
        }
        Command::Graph {
            package,
            profile,
            dot,
            refresh,
        } => daemon_cmd::run(
            printer,
            daemon_cmd::Request::Graph(graph_cmd::GraphArgs {
                package,
                profile: profile.unwrap_or_default(),
                refresh,
                dot,
            }),
        ),
        Command::Metrics { name, refresh } => daemon_cmd::run(
            printer,
            daemon_cmd::Request::Metrics(name.unwrap_or_default(), refresh),
        ),
        Command::Info { package, refresh } => {
            daemon_cmd::run(printer, daemon_cmd::Request::Info(package, refresh))
        }
        Command::Registry(cmd) => daemon_cmd::run(printer, daemon_cmd::Request::Registry(cmd)),
        Command::Completions { shell } => {
            print_out(&complete_cmd::script(shell));
            Ok(ExitCode::SUCCESS)
        }
        Command::Man { dir } => complete_cmd::man(&dir),
        Command::CompletePackages => {
            print_out(&complete_cmd::package_names());
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            output::error(
                &cli.global,
                f.code.as_deref(),
                &f.message,
                f.hint.as_deref(),
            );
            // The daemon refused the request itself: a usage error, as clap's are.
            match f.code.as_deref() {
                Some("usage" | "bad-package" | "bad-url" | "bad-name") => ExitCode::from(2),
                // As a shell reports a program that SIGINT ended.
                Some("interrupted") => ExitCode::from(130),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

/// `pandora env`: no daemon needed, the paths are the layout's.
fn env(profile: Option<&str>, shell: Shell) -> Outcome {
    let layout =
        pandora_common::layout::Layout::from_env().map_err(|e| Failure::new(e.to_string()))?;
    let bin = match profile {
        Some(p) => layout.current(p).join("bin"),
        None => layout.vir().join("bin"),
    };
    let bin = bin.display().to_string();
    print_out(&match shell {
        Shell::Sh => format!("export PATH=\"{bin}:$PATH\"\n"),
        Shell::Fish => format!("fish_add_path --path --prepend \"{bin}\"\n"),
    });
    Ok(ExitCode::SUCCESS)
}

/// `error` followed by its chain of causes, one per line, so that a manifest error nested in
/// a pack error still shows its file, line and column.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    pandora_common::error_chain(error, "\ncause: ")
}

/// Writes to stdout; a closed pipe (`pandora acl dump x | head`) ends the program quietly.
pub(crate) fn print_out(text: &str) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}
