// The command line: every command, argument and help text, in one place that `build.rs`
// reads too (it makes the man pages from it). Only `clap` and `std` here.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Pandora: a fast, per-user package manager for AtlasLinux.
#[derive(Parser)]
#[command(name = "pandora", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(clap::Args, Default)]
pub(crate) struct GlobalArgs {
    /// When to use colours (NO_COLOR also turns them off).
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub(crate) color: ColorChoice,
    /// `plain` prints key=value lines instead of progress bars (the default when stderr is
    /// not a terminal).
    #[arg(long, global = true, value_enum)]
    pub(crate) log: Option<LogFormat>,
    /// Print results, warnings and errors only: no progress, no steps, no notes.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Print each finished step too.
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,
    /// Answer yes to questions (`install` asks before changing the store when run at a
    /// terminal; the first `activate` whether vir/bin may go on the desktop session's PATH).
    #[arg(short = 'y', long, global = true)]
    pub(crate) yes: bool,
}

/// `pandora cache`.
#[derive(Subcommand)]
pub(crate) enum CacheCommand {
    /// Write every build cache entry to FILE.
    Export { file: PathBuf },
    /// Add FILE's entries, each checked (sha256, a valid package, the key its provenance
    /// gives), to the build cache.
    Import { file: PathBuf },
}

/// `env --shell`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Shell {
    Sh,
    Fish,
}

/// `--color`.
#[derive(Clone, Copy, Default, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// `--log`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Human,
    Plain,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Check, print and format ACL files (manifests, indices, configs).
    #[command(subcommand)]
    Acl(AclCommand),
    /// Pack a package directory into a deterministic .pkg, or inspect a .pkg.
    #[command(
        after_help = "A package directory holds manifest.acl, files/ and optionally hooks/, \
                      sbom.spdx.json and provenance.acl.\nEntries get mtime $SOURCE_DATE_EPOCH \
                      (default 0), so one tree always packs to the same bytes."
    )]
    Pack(PackArgs),
    /// Run a recipe (DIR/mpt.acl) in the sandbox and write a deterministic .pkg with its
    /// provenance and an SPDX SBOM.
    #[command(
        after_help = "The .pkg is written to OUT (a file, or a directory for NAME-VERSION.pkg; \
                      default: the current directory). A build whose recipe and inputs match an \
                      earlier one returns the cached package at once."
    )]
    Build {
        /// The directory holding mpt.acl.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Where to write the package.
        #[arg(short, long)]
        out: Option<PathBuf>,
        /// Build twice, in different scratch paths and at different times, and compare.
        #[arg(long)]
        check: bool,
        /// Build even when the build cache has this recipe and inputs.
        #[arg(long)]
        no_cache: bool,
    },
    /// Show the daemon's version, pid, uptime, store size and queue (starts it if needed).
    Status,
    /// Stop the daemon: a change under way stops at its next safe point, then it exits (the
    /// next command starts it again).
    Stop,
    /// Install packages and their exact-pinned dependencies into the store.
    #[command(
        after_help = "NAME installs the registry's latest version (the pin is printed); NAME@VERSION \
                            that exact version; ./FILE.pkg a local package (its dependencies still come \
                            from registries). Nothing is installed unless everything can be."
    )]
    Install {
        /// `name`, `name@version` or `./file.pkg`.
        #[arg(required = true)]
        packages: Vec<String>,
        /// Revalidate the registries' snapshots first, whatever their cache TTL (a missing
        /// name or version is revalidated once anyway before it is reported missing).
        #[arg(long)]
        refresh: bool,
        /// Replace damaged store entries of these packages (see `pandora verify --all`).
        #[arg(long)]
        repair: bool,
        /// Only put them in the store; do not activate them (by default install asks, and
        /// activates without a terminal).
        #[arg(long)]
        no_activate: bool,
        /// The profile to activate them in (default: the active one).
        #[arg(long, conflicts_with = "no_activate")]
        profile: Option<String>,
        /// How to settle a path two packages provide with different content.
        #[arg(long, conflicts_with = "no_activate", value_parser = ["prefer-new", "prefer-existing", "namespace"])]
        strategy: Option<String>,
    },
    /// List packages: active in a profile (the default), in the store, or offered by the
    /// registries.
    List(ListArgs),
    /// Make an installed package and its dependencies active: on PATH through $HOME/bin.
    #[command(
        after_help = "NAME means the newest version in the store. A profile holds one version per \
                      name: activating another version replaces the active one. Conflicting paths \
                      are refused unless --strategy or `pandora profile override` decides."
    )]
    Activate {
        /// `name` or `name@version`, in the store.
        package: String,
        /// The profile (default: the active one).
        #[arg(long)]
        profile: Option<String>,
        /// How to settle a path two packages provide with different content.
        #[arg(long, value_parser = ["prefer-new", "prefer-existing", "namespace"])]
        strategy: Option<String>,
    },
    /// Take a package out of a profile (it stays in the store).
    Deactivate {
        /// The package's name.
        name: String,
        /// The profile (default: the active one).
        #[arg(long)]
        profile: Option<String>,
    },
    /// Take a version out of a profile and, if you confirm (or give --purge), out of the store.
    #[command(
        after_help = "A version that a kept generation of any profile links to stays in the store \
                      (rollback needs it); `pandora prune --generations` drops old generations."
    )]
    Remove {
        /// `name@version`, or `name` for the version active in the active profile.
        package: String,
        /// Only this profile (default: every profile where that version is active).
        #[arg(long)]
        profile: Option<String>,
        /// Also delete it from the store, without asking.
        #[arg(long)]
        purge: bool,
    },
    /// Move build cache entries between machines (for CI): export to a file, import from one.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Which active package provides a path (`viewer` means `bin/viewer`).
    Which {
        /// `bin/viewer`, or a command name.
        path: String,
        /// The profile (default: the active one).
        #[arg(long)]
        profile: Option<String>,
    },
    /// Profiles: list, create, switch, delete, generations, diff, rollback, override.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Export a profile's lockfile, or apply one: the same packages, byte for byte.
    #[command(subcommand)]
    Lock(LockCommand),
    /// Print the shell lines that put a profile's bin on PATH (for a shell's profile), or
    /// put it on the desktop session's PATH with --session on.
    Env {
        /// The profile (default: whatever is active, through vir).
        #[arg(long)]
        profile: Option<String>,
        /// The shell's syntax.
        #[arg(long, value_enum, default_value = "sh")]
        shell: Shell,
        /// `on` writes ~/.config/environment.d/pandora.conf (vir/bin on the desktop session's
        /// PATH from the next login), `off` removes it; either answers the question that the
        /// first activation asks.
        #[arg(long, value_enum, conflicts_with_all = ["profile", "shell"])]
        session: Option<Session>,
    },
    /// Show what this machine installed, activated, removed and published (per package and
    /// month), the store's size and growth, and the registries' public counts.
    ///
    /// Registries count downloads, publishes, and installs that clients reported: Pandora
    /// reports an install (the name@version, nothing else) only to registries whose entry in
    /// registries.acl says `bool report_installs = true;`.
    Metrics {
        /// Only this package.
        name: Option<String>,
        /// Fetch the registries' counts again, whatever their cache TTL.
        #[arg(long)]
        refresh: bool,
    },
    /// Search the registries by name, description and tag.
    Search {
        /// Text to look for.
        query: String,
        /// Revalidate the registries' snapshots first, whatever their cache TTL (a missing
        /// name or version is revalidated once anyway before it is reported missing).
        #[arg(long)]
        refresh: bool,
    },
    /// Show everything about a package: manifest, dependencies, size, sha256, origin.
    Info {
        /// `name@version`, `name` for the latest, or `./file.pkg`.
        package: String,
        /// Revalidate the registries' snapshots first, whatever their cache TTL (a missing
        /// name or version is revalidated once anyway before it is reported missing).
        #[arg(long)]
        refresh: bool,
    },
    /// Show a package's dependency tree for a profile, its problems and the commands that fix
    /// them.
    ///
    /// Each dependency is active, in the store, missing or clashing (another version of its
    /// name is wanted in the same profile); each problem comes with the chain that requires
    /// each side.
    /// A dependency shared by several packages is drawn once, then referred to. Exits 1 when
    /// there is a problem to fix. --dot prints Graphviz (`pandora graph app --dot | dot -Tsvg
    /// > app.svg`).
    Graph {
        /// `name@version`, or `name` (the store's newest, else the registries' latest).
        package: String,
        /// The profile (default: the active one).
        #[arg(long)]
        profile: Option<String>,
        /// Print Graphviz instead of a tree.
        #[arg(long)]
        dot: bool,
        /// Revalidate the registries' snapshots first.
        #[arg(long)]
        refresh: bool,
    },
    /// Re-hash installed files against files.acl; report changed, missing and extra files.
    #[command(group = clap::ArgGroup::new("what").required(true).args(["packages", "all"]))]
    Verify {
        /// `name@version`s to verify.
        packages: Vec<String>,
        /// Verify every package in the store.
        #[arg(long)]
        all: bool,
    },
    /// Remove old generations, unreferenced store entries and cached downloads (a bare
    /// `prune` does all three, in that order).
    Prune {
        /// Cached downloads no registry lists any more, older than their cache TTL, or whose
        /// version is not in the store.
        #[arg(long)]
        cache: bool,
        /// Store entries that no kept generation of any profile links to, installed more
        /// than a day ago.
        #[arg(long)]
        store: bool,
        /// Every profile's generations past the newest --keep (never the current one).
        #[arg(long)]
        generations: bool,
        /// Generations to keep per profile, the current one included.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
        keep: u32,
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Upload a package to a registry whose entry allows publishing (allow_publish, token_file).
    ///
    /// A detached minisign signature is uploaded with it: --sig FILE, or FILE.pkg.minisig
    /// when that file exists. The registry accepts it only if one of its keys made it.
    Publish {
        /// The .pkg file.
        file: String,
        /// The registry, by its name in registries.acl.
        #[arg(long)]
        registry: String,
        /// The package's detached signature [default: FILE.minisig, when it exists].
        #[arg(long, value_name = "FILE.minisig")]
        sig: Option<String>,
    },
    /// Manage the registries packages come from (registries.acl).
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Print the shell completion script for bash, zsh or fish.
    ///
    /// Besides commands and options it completes package names for install, activate,
    /// remove, info and graph: those in the store and in the registries' cached indices.
    #[command(after_help = "Load it for the current shell, or install it:\n  \
                            source <(pandora completions bash)\n  \
                            pandora completions bash > ~/.local/share/bash-completion/completions/pandora\n  \
                            pandora completions zsh > \"${fpath[1]}/_pandora\"\n  \
                            pandora completions fish > ~/.config/fish/completions/pandora.fish")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Write the man pages, one per command (pandora.1, pandora-install.1, …), into DIR.
    #[command(
        after_help = "Example:\n  pandora man --dir ~/.local/share/man/man1 && man pandora-install"
    )]
    Man {
        /// Where to write them (made if missing).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Package names for shell completion: the store's and the cached indices'.
    #[command(hide = true, name = "complete-packages")]
    CompletePackages,
}

#[derive(Subcommand)]
pub(crate) enum LockCommand {
    /// Print (or write) the lockfile of a profile: every active package with its sha256.
    Export {
        /// The profile (default: the active one).
        #[arg(long)]
        profile: Option<String>,
        /// Write it to this file instead of standard output.
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Install exactly the packages of a lockfile (sha256 checked before and after the
    /// download) and make them the profile's new generation.
    Apply {
        /// The lockfile.
        file: PathBuf,
        /// The profile (default: the active one).
        #[arg(long)]
        profile: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum ProfileCommand {
    /// List the profiles; the active one is marked.
    List,
    /// Create an empty profile.
    Create {
        /// Its name.
        name: String,
    },
    /// Make a profile the active one ($HOME/bin then shows it): one rename.
    Switch {
        /// Its name.
        name: String,
    },
    /// Delete a profile that is not the active one (the store keeps its packages).
    Delete {
        /// Its name.
        name: String,
    },
    /// List a profile's generations, oldest first, with what each holds.
    Generations {
        /// The profile (default: the active one).
        profile: Option<String>,
    },
    /// What changed between two generations of a profile.
    Diff {
        /// The older generation.
        from: u64,
        /// The newer generation.
        to: u64,
        /// The profile (default: the active one).
        #[arg(long)]
        profile: Option<String>,
    },
    /// Go back to the previous generation, or to `--to N`: one rename.
    Rollback {
        /// The generation to go back to.
        #[arg(long, value_name = "N")]
        to: Option<u64>,
        /// The profile (default: the active one).
        #[arg(long)]
        profile: Option<String>,
    },
    /// Choose which package provides PATH when packages conflict there (profile.acl).
    Override {
        /// A path in the profile, e.g. `bin/convert`.
        path: String,
        /// `name` or `name@version`.
        package: String,
        /// The profile (default: the active one).
        #[arg(long)]
        profile: Option<String>,
    },
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("which").args(["installed", "store", "remote"]))]
pub(crate) struct ListArgs {
    /// Packages active in a profile (the default).
    #[arg(long)]
    pub(crate) installed: bool,
    /// With --installed: this profile instead of the active one.
    #[arg(long)]
    pub(crate) profile: Option<String>,
    /// Packages in the store.
    #[arg(long)]
    pub(crate) store: bool,
    /// Packages the configured registries offer.
    #[arg(long)]
    pub(crate) remote: bool,
}

#[derive(Subcommand)]
pub(crate) enum RegistryCommand {
    /// Add a registry, or change its URL and priority.
    ///
    /// --key pins the registry's minisign public key (as `pandora-registry keygen` prints it):
    /// from then on its snapshot must be signed by that key (or by a key it rotated to,
    /// signing the rotation), and package signatures are checked. Trust comes only from
    /// here, never from the registry.
    #[command(
        after_help = "Example:\n  pandora registry add main https://example.org/registry \
                            --key RWQ…"
    )]
    Add {
        /// Its local name.
        name: String,
        /// `https://…`, `http://…` or `file:///path/to/registry`.
        url: String,
        /// Higher is asked first.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i64,
        /// A minisign public key (`RW…`, or a minisign.pub file's path) to pin; repeat for
        /// several. Replaces the pinned keys and turns require_signatures on.
        #[arg(long = "key", value_name = "RW…")]
        keys: Vec<String>,
        /// With --key: check signatures that are there, but do not require them.
        #[arg(long, requires = "keys")]
        optional_signatures: bool,
    },
    /// Remove a registry.
    Remove {
        /// Its local name.
        name: String,
    },
    /// List the registries, highest priority first.
    List,
}

#[derive(Subcommand)]
pub(crate) enum AclCommand {
    /// Check ACL files; exit 0 if all are valid, 1 otherwise.
    #[command(
        after_help = "Files Pandora knows by name are also checked as what they are: manifest.acl \
                      (required fields, pins, hooks), index.acl, snapshot.acl, config.acl, \
                      registries.acl, profile.acl, files.acl and *.lock. `--as KIND` checks any \
                      file as one of those."
    )]
    Check {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Check every file as this kind of Pandora file, whatever its name.
        #[arg(long = "as", value_enum, value_name = "KIND")]
        kind: Option<Kind>,
    },
    /// Print every field as `path = type:value`, in source order.
    Dump {
        /// The file to dump.
        file: PathBuf,
    },
    /// Print one value, e.g. `Registry.Package["mytool"].latest`; exit 1 if absent.
    Get {
        /// The file to read.
        file: PathBuf,
        /// Lookup path: `Block.field`, `Block["label"].field`, `Block[0].list[2]`.
        path: String,
        /// Print the value in dump form, `type:value`.
        #[arg(long)]
        typed: bool,
    },
    /// Print a file in canonical form (comments kept).
    Fmt {
        /// The file to format.
        file: PathBuf,
        /// Rewrite the file in place instead of printing it.
        #[arg(long, conflicts_with = "check")]
        write: bool,
        /// Exit 1 if the file is not in canonical form; print nothing.
        #[arg(long)]
        check: bool,
    },
}

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["dir", "inspect"]))]
pub(crate) struct PackArgs {
    /// The package directory to pack.
    pub(crate) dir: Option<PathBuf>,
    /// Output .pkg file, or a directory for `<name>-<version>.pkg` (default: the current directory).
    #[arg(short, long, requires = "dir")]
    pub(crate) out: Option<PathBuf>,
    /// Print the manifest and entries of a .pkg after checking it.
    #[arg(long, value_name = "FILE.pkg", conflicts_with = "dir")]
    pub(crate) inspect: Option<PathBuf>,
}

/// A kind of file Pandora reads, for `acl check --as`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    /// A package's `manifest.acl`.
    Manifest,
    /// A registry's whole `index.acl`.
    Index,
    /// A registry's `index/<name>.acl`.
    PackageIndex,
    /// A registry's `snapshot.acl`.
    Snapshot,
    /// A registry's `config.acl`.
    Config,
    /// The user's `registries.acl`.
    Registries,
    /// A profile's `profile.acl`.
    Profile,
    /// A store entry's `files.acl`.
    Files,
    /// A lockfile, `manifests/<profile>.lock`.
    Lockfile,
    /// An install hook file.
    Hooks,
}

/// `env --session`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Session {
    /// Write `~/.config/environment.d/pandora.conf`.
    On,
    /// Remove Pandora's `environment.d/pandora.conf`.
    Off,
}

/// The shells `pandora completions` writes for.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CompletionShell {
    /// GNU bash.
    Bash,
    /// Zsh.
    Zsh,
    /// The friendly interactive shell.
    Fish,
}
