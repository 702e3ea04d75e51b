//! `pandora-registry`: create, update, check and serve a Pandora registry directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pandora_common::files::Pin;
use pandora_registry::{
    AddOutcome, PackageFile, Repo, RepoError, ServeOptions, default_secret_key_path, read_password,
};

/// Create, update, check and serve a Pandora registry: a directory of static files that any
/// web server can host.
#[derive(Parser)]
#[command(
    name = "pandora-registry",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = "Start with `pandora-registry init DIR --name NAME`, add packages made with \
                  `pandora pack` using `pandora-registry add DIR FILE.pkg...`, then serve DIR \
                  with `pandora-registry serve DIR` or any static web server.\n\
                  Results go to stdout; warnings, problems and errors to stderr."
)]
struct Cli {
    /// File whose first line is the password of the registry's secret key, for registries
    /// whose key has one (every command that updates a signed registry needs it).
    /// [env: PANDORA_REGISTRY_PASSWORD_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    password_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an empty registry in DIR (new or empty).
    #[command(
        after_help = "Example:\n  pandora-registry init ./registry --name main\n  \
                            pandora-registry add ./registry hello-1.0.0.pkg"
    )]
    Init {
        /// The registry directory; created if missing, refused if it holds files.
        dir: PathBuf,
        /// The registry's name, as clients will call it: lowercase letters, digits and `._+-`.
        #[arg(long, value_name = "NAME")]
        name: String,
    },
    /// Verify packages and add them to the registry, as one update.
    ///
    /// Every file must be a valid .pkg (as `pandora pack` makes them) with exact dependency
    /// pins. A version already published with the same bytes is left as it is; with other
    /// bytes it is refused, since a published version never changes. If any file is refused,
    /// nothing is added. Dependencies the registry does not hold are reported as warnings.
    #[command(after_help = "Example:\n  pandora pack ./hello -o hello-1.0.0.pkg\n  \
                            pandora-registry add ./registry hello-1.0.0.pkg")]
    Add {
        /// The registry directory, made by `pandora-registry init`.
        dir: PathBuf,
        /// The .pkg files.
        #[arg(required = true, value_name = "FILE.pkg")]
        files: Vec<PathBuf>,
        /// The package's detached minisign signature (one FILE.pkg only). It must verify with
        /// a key of the registry's config.acl. Without it a registry with a secret key signs
        /// the package itself.
        #[arg(long, value_name = "FILE.minisig")]
        sig: Option<PathBuf>,
    },
    /// Give the registry a signing key (minisign, Ed25519) and sign it.
    ///
    /// Writes a new secret key outside the registry directory (or, with --import, uses a
    /// minisign secret key already there), lists its public key in config.acl with
    /// `signed_packages = true`, signs every package not yet signed and, from this update
    /// on, every snapshot.acl (snapshot.acl.minisig). Prints the public key: give it to your
    /// users, who pin it with `pandora registry add NAME URL --key RW…`. The global
    /// --password-file encrypts the new key (and is then needed by every update).
    #[command(after_help = "Example:\n  pandora-registry keygen ./registry\n  \
                            pandora registry add main https://example.org/registry --key RW…")]
    Keygen {
        /// The registry directory.
        dir: PathBuf,
        /// Where the secret key goes [default: ~/.config/pandora-registry/NAME.key].
        #[arg(long, value_name = "PATH")]
        secret_key: Option<PathBuf>,
        /// Use the minisign secret key already at --secret-key (from `minisign -G`, say)
        /// instead of making one.
        #[arg(long, requires = "secret_key")]
        import: bool,
    },
    /// Replace the signing key: the new key list is signed by the old key (keys/N.acl), so
    /// clients that pinned the old key follow the rotation.
    ///
    /// Every package is signed again with the new key. The old key stays listed in
    /// config.acl (so signatures it made elsewhere still verify) unless --drop-old.
    /// --password-file unlocks the old key; --new-password-file protects the new one.
    RotateKey {
        /// The registry directory.
        dir: PathBuf,
        /// Where the new secret key goes [default: ~/.config/pandora-registry/NAME-N.key].
        #[arg(long, value_name = "PATH")]
        secret_key: Option<PathBuf>,
        /// File whose first line is the new key's password.
        #[arg(long, value_name = "FILE")]
        new_password_file: Option<PathBuf>,
        /// List only the new key from now on.
        #[arg(long)]
        drop_old: bool,
    },
    /// Mark NAME@VERSION deprecated (or, with --undo, not): the only change ever made to a
    /// published version.
    ///
    /// Clients still install a deprecated version when asked for it by its exact pin, with a
    /// warning; a bare name no longer picks it.
    Deprecate {
        /// The registry directory.
        dir: PathBuf,
        /// The version, as `name@version`.
        #[arg(value_name = "NAME@VERSION")]
        pin: String,
        /// Clear the mark instead.
        #[arg(long)]
        undo: bool,
    },
    /// Verify every blob against the index, the snapshot against every index file, and
    /// every signature present against the keys of config.acl.
    ///
    /// Problems and warnings go to stderr, the summary to stdout; the exit code is 1 when a
    /// problem was found. An update interrupted by a crash is completed first.
    Check {
        /// The registry directory.
        dir: PathBuf,
    },
    /// Serve the registry over HTTP and accept publishes.
    ///
    /// Serves the registry files with ETags and ranges, `GET /api/v1/search?q=WORDS`,
    /// `GET /metrics.acl`, and, with --token-file, `POST /api/v1/publish`. The first line on
    /// stdout is `listening on http://ADDR`; one log line per request goes to stderr (set the
    /// level with RUST_LOG). Stops on SIGTERM or Ctrl-C.
    #[command(after_help = "Examples:\n  pandora-registry serve ./registry\n  \
                            pandora-registry serve ./registry --listen 0.0.0.0:8080 \
                            --token-file ~/.config/pandora/publish-token\n\n\
                            Clients add it with `pandora registry add NAME http://HOST:PORT`.")]
    Serve {
        /// The registry directory.
        dir: PathBuf,
        /// Address and port to listen on; port 0 picks a free one.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: String,
        /// File whose first line is the bearer token that `POST /api/v1/publish` requires.
        /// Without it the server is read-only.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// Largest publish body in bytes [default: the registry's max_package_size].
        #[arg(long, value_name = "BYTES")]
        max_body: Option<u64>,
        /// Seconds a client may take over a request head, stay idle between requests, or
        /// leave what was sent to it unacknowledged (not reading) before its connection is
        /// closed.
        #[arg(long, value_name = "SECONDS", default_value_t = 30,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        client_timeout: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let password_file = cli.password_file.or_else(|| {
        std::env::var_os("PANDORA_REGISTRY_PASSWORD_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    match run(cli.command, password_file.as_deref()) {
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
        RepoError::Unsigned { .. } => Some(
            "sign it (minisign -S -s KEY -m FILE.pkg) and add it with --sig FILE.pkg.minisig"
                .into(),
        ),
        RepoError::AlreadySigned { .. } => {
            Some("pandora-registry rotate-key DIR replaces the key".into())
        }
        RepoError::NoSigningKey(_) => Some("pandora-registry keygen DIR makes one".into()),
        _ => None,
    }
}

fn run(command: Command, password_file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let password = password_file.map(read_password).transpose()?;
    let open = |dir: &Path| Repo::open(dir).map(|r| r.with_password(password.clone()));
    match command {
        Command::Init { dir, name } => {
            let repo = Repo::init(&dir, &name)?;
            println!("created registry `{}` in {}", repo.name(), dir.display());
        }
        Command::Add { dir, files, sig } => {
            let repo = open(&dir)?;
            let signature = match &sig {
                Some(_) if files.len() != 1 => {
                    anyhow::bail!(
                        "--sig goes with exactly one FILE.pkg; add signed packages one by one"
                    )
                }
                Some(path) => Some(fs_err::read_to_string(path)?),
                None => None,
            };
            let files: Vec<PackageFile> = files
                .into_iter()
                .map(|path| PackageFile {
                    path,
                    signature: signature.clone(),
                })
                .collect();
            let outcomes = repo.add_packages(&files)?;
            for outcome in &outcomes {
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
            warn_missing_dependencies(&repo, &outcomes)?;
        }
        Command::Deprecate { dir, pin, undo } => {
            let pin = Pin::parse(&pin)?;
            let repo = open(&dir)?;
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
                eprintln!("warning: {w}");
            }
            for p in &report.problems {
                eprintln!("problem: {p}");
            }
            println!(
                "verified {} index files, {} blobs and {} signatures: {} problem{}",
                report.index_files,
                report.blobs,
                report.signatures,
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
            client_timeout,
        } => {
            pandora_registry::serve(ServeOptions {
                dir,
                listen,
                token_file,
                max_body,
                password,
                client_timeout: std::time::Duration::from_secs(client_timeout),
            })?;
        }
        Command::Keygen {
            dir,
            secret_key,
            import,
        } => {
            let repo = open(&dir)?;
            let secret = secret_path(secret_key, repo.name())?;
            let key = repo.keygen(&secret, import)?;
            println!("registry `{}` now signs with key {}", repo.name(), key.id);
            println!("secret key: {}", key.secret.display());
            println!("public key: {}", key.public);
            println!(
                "users pin it with: pandora registry add {} URL --key {}",
                repo.name(),
                key.public
            );
        }
        Command::RotateKey {
            dir,
            secret_key,
            new_password_file,
            drop_old,
        } => {
            let repo = open(&dir)?;
            let n = repo.rotations() + 1;
            let secret = secret_path(secret_key, &format!("{}-{}", repo.name(), n + 1))?;
            let new_password = new_password_file
                .as_deref()
                .map(read_password)
                .transpose()?;
            let key = repo.rotate_key(&secret, new_password, drop_old)?;
            println!(
                "registry `{}` now signs with key {} (rotation {n}, signed by the old key)",
                repo.name(),
                key.id
            );
            println!("secret key: {}", key.secret.display());
            println!("public key: {}", key.public);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The secret key path the user gave, or the default for `name`.
fn secret_path(given: Option<PathBuf>, name: &str) -> anyhow::Result<PathBuf> {
    match given {
        Some(p) => Ok(p),
        None => default_secret_key_path(name).ok_or_else(|| {
            anyhow::anyhow!("neither XDG_CONFIG_HOME nor HOME is set: pass --secret-key PATH")
        }),
    }
}

/// Warns, on stderr, about each dependency of an added package that the registry does not
/// hold: clients can install the package only from a registry list that has it too.
fn warn_missing_dependencies(repo: &Repo, outcomes: &[AddOutcome]) -> anyhow::Result<()> {
    let index = repo.index()?;
    let held = |pin: &Pin| {
        index
            .package(&pin.name)
            .and_then(|p| p.version(&pin.version))
            .is_some()
    };
    for outcome in outcomes {
        let AddOutcome::Added { pin, .. } = outcome else {
            continue;
        };
        let Some(version) = index
            .package(&pin.name)
            .and_then(|p| p.version(&pin.version))
        else {
            continue;
        };
        for dep in version.dependencies.iter().filter(|d| !held(d)) {
            eprintln!(
                "warning: {pin} depends on {dep}, which registry `{}` does not hold; \
                 clients need another registry that has it",
                repo.name()
            );
        }
    }
    Ok(())
}
