//! The daemon's one error type. Every failure a request can end in is a variant here: it
//! names the object (a path, `name@version`, a registry), keeps its cause as `#[source]`,
//! and has a stable [`code`] and, where there is a command to run, a [`Error::hint`]. The
//! gRPC layer turns it into a status in one place (`server::service::to_status`); nothing
//! below that layer knows gRPC.

use std::path::PathBuf;

use pandora_common::files::{FileError, Pin, PinError};
use pandora_common::pkg::UnpackError;

use crate::fetch::FetchError;

/// Stable error codes, as clients see them (`error[not-found]: …`).
pub(crate) mod code {
    /// The request itself is malformed.
    pub(crate) const USAGE: &str = "usage";
    /// A package argument is not a valid name, pin or file.
    pub(crate) const BAD_PACKAGE: &str = "bad-package";
    /// A package, version, registry or file does not exist.
    pub(crate) const NOT_FOUND: &str = "not-found";
    /// No registry could answer (unreachable, or serving files that fail their checks).
    pub(crate) const UNAVAILABLE: &str = "unavailable";
    /// A `.pkg` archive is not a valid package.
    pub(crate) const INVALID_PACKAGE: &str = "invalid-package";
    /// The same `name@version` exists with other bytes.
    pub(crate) const CONFLICT: &str = "conflict";
    /// The plan changed between showing it and applying it.
    pub(crate) const STALE_PLAN: &str = "stale-plan";
    /// A local file operation failed.
    pub(crate) const IO: &str = "io";
    /// A store entry is damaged.
    pub(crate) const DAMAGED: &str = "damaged";
    /// The package is not active in the profile.
    pub(crate) const NOT_ACTIVE: &str = "not-active";
    /// Active packages depend on it.
    pub(crate) const DEPENDENTS: &str = "dependents";
    /// Two packages want one path.
    pub(crate) const PATH_CONFLICT: &str = "path-conflict";
    /// Two versions of one name.
    pub(crate) const VERSION_CLASH: &str = "version-clash";
    /// Dependencies are not in the store.
    pub(crate) const MISSING_DEPENDENCIES: &str = "missing-dependencies";
    /// The active profile cannot be deleted.
    pub(crate) const ACTIVE_PROFILE: &str = "active-profile";
    /// A package is not what its registry's index says.
    pub(crate) const MISMATCH: &str = "mismatch";
    /// A package has a `run` hook and the sandbox is not built yet.
    pub(crate) const NEEDS_SANDBOX: &str = "needs-sandbox";
    /// A package's `run` hook failed.
    pub(crate) const HOOK_FAILED: &str = "hook-failed";
    /// A build could not make its package.
    pub(crate) const BUILD_FAILED: &str = "build-failed";
    /// Two builds of one recipe gave different bytes.
    pub(crate) const NOT_REPRODUCIBLE: &str = "not-reproducible";
    /// A package is built for another machine.
    pub(crate) const WRONG_ARCH: &str = "wrong-arch";
    /// No registry is configured.
    pub(crate) const NO_REGISTRIES: &str = "no-registries";
    /// A registry failed to serve what was asked.
    pub(crate) const FETCH: &str = "fetch";
    /// `registries.acl` is not valid.
    pub(crate) const BAD_CONFIG: &str = "bad-config";
    /// A registry name is not valid.
    pub(crate) const BAD_NAME: &str = "bad-name";
    /// A registry URL is not valid.
    pub(crate) const BAD_URL: &str = "bad-url";
    /// The registry's entry does not allow publishing.
    pub(crate) const PUBLISH_DISABLED: &str = "publish-disabled";
    /// The registry's entry has no usable token.
    pub(crate) const NO_TOKEN: &str = "no-token";
    /// The registry wants a token.
    pub(crate) const UNAUTHENTICATED: &str = "unauthenticated";
    /// The registry refused the token.
    pub(crate) const FORBIDDEN: &str = "forbidden";
    /// The registry refused a package as too large.
    pub(crate) const TOO_LARGE: &str = "too-large";
    /// The registry answered with an unexpected error.
    pub(crate) const REGISTRY_ERROR: &str = "registry-error";
    /// The mutation was stopped before it changed anything.
    pub(crate) const CANCELLED: &str = "cancelled";
    /// Not enough free disk space.
    pub(crate) const NO_SPACE: &str = "no-space";
    /// A signature check failed: missing, malformed, an unpinned key, other bytes.
    pub(crate) const UNTRUSTED: &str = "untrusted";
    /// A public key that is not a minisign key.
    pub(crate) const BAD_KEY: &str = "bad-key";
    /// Kept generations still link to a store entry.
    pub(crate) const HELD: &str = "held";
    /// Something inside the daemon failed.
    pub(crate) const INTERNAL: &str = "internal";
}

/// What kind of failure, for the transport's status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The request is wrong.
    InvalidArgument,
    /// The thing asked for does not exist.
    NotFound,
    /// It exists already, differently.
    AlreadyExists,
    /// The state of the home or a registry does not allow it.
    FailedPrecondition,
    /// A registry could not be reached.
    Unavailable,
    /// Data read from disk or network is damaged or lies.
    DataLoss,
    /// No or wrong credentials.
    Unauthenticated,
    /// Credentials refused.
    PermissionDenied,
    /// A size limit.
    ResourceExhausted,
    /// Stopped before it finished.
    Cancelled,
    /// A bug or an environment failure.
    Internal,
}

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The request is malformed.
    #[error("{0}")]
    Usage(String),
    /// A package argument is not a valid name or pin.
    #[error("`{arg}` is not a valid package")]
    BadPackage {
        arg: String,
        #[source]
        source: PinError,
    },
    /// A local file named in the request cannot be opened.
    #[error("cannot open {}", path.display())]
    CannotOpen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A local `.pkg` file is not a valid package.
    #[error("{} is not a valid package", path.display())]
    InvalidFile {
        path: PathBuf,
        #[source]
        source: Box<UnpackError>,
    },
    /// A downloaded or cached archive is not a valid package.
    #[error("{pin} from `{origin}` is not a valid package")]
    InvalidBlob {
        pin: Pin,
        origin: String,
        #[source]
        source: Box<UnpackError>,
    },
    /// Unpacking failed on the local side (a full disk, an unwritable `tmp/`); the archive
    /// itself may be fine.
    #[error("cannot unpack {pin} into {}", dir.display())]
    Unpack {
        pin: Pin,
        dir: PathBuf,
        #[source]
        source: Box<UnpackError>,
    },
    /// A package's hook file is not valid.
    #[error("{pin}: invalid hook file {hook}")]
    InvalidHook {
        pin: Pin,
        hook: String,
        #[source]
        source: Box<FileError>,
    },
    /// A package is not what the index promised.
    #[error("{pin} from `{origin}`: {what}; nothing was installed")]
    Mismatch {
        pin: Pin,
        origin: String,
        what: String,
    },
    /// A `run` hook could not start: the sandbox is unavailable here.
    #[error("{pin}: its {phase} hook `{command}` cannot run: {reason}; {outcome}")]
    NeedsSandbox {
        pin: Pin,
        phase: String,
        command: String,
        reason: String,
        /// What this means for the request, e.g. "nothing was installed".
        outcome: String,
    },
    /// A `run` hook failed.
    #[error("{pin}: its {phase} hook `{command}` {how}; {outcome}")]
    HookFailed {
        pin: Pin,
        phase: String,
        command: String,
        /// `exited with status 3`, `ran out of time (60 s) and was killed`, ...
        how: String,
        outcome: String,
    },
    /// A package is built for another architecture.
    #[error("{pin} is built for `{arch}`, and this machine is `{machine}`; nothing was installed")]
    WrongArch {
        pin: Pin,
        arch: String,
        machine: &'static str,
    },
    /// A local package has the pin of a store entry with other bytes.
    #[error("{pin} is already installed from other bytes than {}", path.display())]
    Conflict { pin: Pin, path: PathBuf },
    /// The plan changed after it was shown.
    #[error(
        "the plan changed after it was shown (a registry changed in between); nothing was installed"
    )]
    StalePlan,
    /// A local file operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No registry is configured.
    #[error("no registries are configured")]
    NoRegistries,
    /// A registry failed, or a download could not start (no disk space).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// `registries.acl` is not valid.
    #[error("{} is not valid", path.display())]
    BadConfig {
        path: PathBuf,
        #[source]
        source: Box<FileError>,
    },
    /// A registry name is not valid.
    #[error("`{0}` is not a valid registry name: use lowercase letters, digits and `._+-`")]
    BadRegistryName(String),
    /// A registry URL is not valid.
    #[error("`{url}` is not a registry URL: {reason}")]
    BadUrl { url: String, reason: String },
    /// A key given to pin is not a minisign public key.
    #[error("--key: {0}")]
    BadKey(pandora_common::sign::SignError),
    /// No registry has that name.
    #[error("no registry is called `{0}`")]
    NoSuchRegistry(String),
    /// A store entry is damaged.
    #[error("{pin} in the store is damaged: {reason}")]
    Damaged { pin: Pin, reason: String },
    /// A `name@version` is not in the store.
    #[error("{0} is not in the store")]
    NotInStore(Pin),
    /// No version of a name is in the store.
    #[error("no version of `{0}` is in the store")]
    NameNotInStore(String),
    /// No registry has the package, or none could be asked.
    #[error("{}", missing_text(self))]
    Missing {
        /// `name` or `name@version`.
        what: String,
        /// Who needs it, nearest first (`app@1`, then what needs `app@1`, …); empty when
        /// it was asked for.
        needed_by: Vec<Pin>,
        /// The registries asked, by name.
        asked: Vec<String>,
        /// Why registries could not answer, one sentence each.
        problems: Vec<String>,
        /// Versions of the name that are in the store (for `info`).
        in_store: Vec<String>,
        /// Names the registries offer that are close to the one asked for.
        close: Vec<String>,
        /// The command the hint suggests with a close name (`install`, `info`).
        verb: &'static str,
    },
    /// A registry lists a package without versions.
    #[error("registry `{registry}` lists `{name}` without any version")]
    NoVersions { registry: String, name: String },
    /// Publishing needs the registry's entry to allow it.
    #[error("registry `{registry}` does not allow publishing")]
    PublishDisabled { registry: String, config: PathBuf },
    /// Publishing needs a token file.
    #[error("registry `{registry}` has no token_file")]
    NoToken { registry: String, config: PathBuf },
    /// The token file cannot be read.
    #[error("cannot read token file {}", path.display())]
    TokenUnreadable {
        path: PathBuf,
        config: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Publishing needs an HTTP registry server.
    #[error("registry `{registry}` is {url}; publishing needs an http(s) registry server")]
    PublishNeedsServer { registry: String, url: String },
    /// The registry server could not be reached.
    #[error("cannot reach registry `{registry}` at {url}")]
    Unreachable {
        registry: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The registry refused the publish (HTTP 4xx/5xx).
    #[error("{}", refused_text(self))]
    PublishRefused {
        registry: String,
        pin: Pin,
        status: u16,
        message: String,
        token_file: PathBuf,
        config: PathBuf,
    },
    /// The package is not active in the profile.
    #[error("no version of `{name}` is active in profile `{profile}`")]
    NotActive { name: String, profile: String },
    /// Active packages depend on the one to take out.
    #[error("{pin} is needed by {} in profile `{profile}`", list(dependents))]
    Dependents {
        pin: Pin,
        dependents: Vec<Pin>,
        profile: String,
    },
    /// Packages to activate want one path with different content.
    #[error("{}", conflicts_text(.0))]
    PathConflicts(Vec<crate::activate::Conflict>),
    /// Two versions of one name would be active. Each side is a chain: the version, then
    /// who needs it, up to what was asked for.
    #[error(
        "{} would replace {}: a profile holds one version per name; nothing was activated",
        crate::graph::chain_text(wanted),
        crate::graph::chain_text(active)
    )]
    VersionClash { active: Vec<Pin>, wanted: Vec<Pin> },
    /// Dependencies of packages to activate are not in the store: each with who needs it,
    /// nearest first.
    #[error(
        "missing from the store: {}; nothing was activated",
        .0.iter().map(|(p, by)| format!("{p} (needed by {})", crate::graph::chain_text(by))).collect::<Vec<_>>().join(", ")
    )]
    MissingDependencies(Vec<(Pin, Vec<Pin>)>),
    /// A profile has no generation yet.
    #[error("nothing has been activated in profile `{0}` yet")]
    NothingActive(String),
    /// A lockfile's package is not the one a registry or the store has.
    #[error("{pin}: the lockfile wants sha256 {want}, found {found}; nothing was changed")]
    LockMismatch {
        pin: Pin,
        want: String,
        found: String,
    },
    /// The profile does not exist.
    #[error("there is no profile `{0}`")]
    NoSuchProfile(String),
    /// The profile exists already.
    #[error("profile `{0}` exists already")]
    ProfileExists(String),
    /// The active profile cannot be deleted.
    #[error("profile `{0}` is the active one and cannot be deleted")]
    ActiveProfile(String),
    /// No such generation to go back to.
    #[error(
        "profile `{profile}` has no generation {} to go back to (it has {})",
        if *generation == 0 { "before the current one".to_string() } else { generation.to_string() },
        available.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    NoSuchGeneration {
        profile: String,
        generation: u64,
        available: Vec<u64>,
    },
    /// No active package provides a path.
    #[error("no active package provides {path} in profile `{profile}`")]
    NotProvided { path: String, profile: String },
    /// The mutation stopped at a safe point before it changed anything.
    #[error(
        "{pin} stays in the store: {} link to it",
        crate::activate::describe_holders(holders)
    )]
    Held {
        pin: Pin,
        holders: crate::activate::Holders,
    },
    /// A build failed: a step, the recipe's inputs, the output.
    #[error("building {pin}: {what}")]
    BuildFailed { pin: Pin, what: String },
    /// A build's source is not what the recipe pins.
    #[error(
        "building {pin}: source `{label}` ({url}) has sha256 {found}, the recipe says {want}; nothing was run"
    )]
    SourceMismatch {
        pin: Pin,
        label: String,
        url: String,
        want: String,
        found: String,
    },
    /// A build cache export that fails its checks.
    #[error("{} is not a build cache export Pandora can take: {what}; nothing was imported", file.display())]
    BadCacheFile { file: PathBuf, what: String },
    /// `build --check`: the two builds differ.
    #[error("{pin} is not reproducible: two builds differ in {}", .files.join(", "))]
    NotReproducible { pin: Pin, files: Vec<String> },
    #[error("stopped because {0}; nothing was changed")]
    Cancelled(&'static str),
    /// Something inside the daemon failed.
    #[error("{0}")]
    Internal(String),
}

/// A `Result` with the daemon's error.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O failure while doing `action` to `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source: os_error(source),
        }
    }

    /// The stable code.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Error::Usage(_) => code::USAGE,
            Error::BadPackage { .. } => code::BAD_PACKAGE,
            Error::CannotOpen { .. }
            | Error::NoSuchRegistry(_)
            | Error::NotInStore(_)
            | Error::NameNotInStore(_)
            | Error::NoVersions { .. } => code::NOT_FOUND,
            Error::Missing { problems, .. } if !problems.is_empty() => code::UNAVAILABLE,
            Error::Missing { .. } => code::NOT_FOUND,
            Error::InvalidFile { .. } | Error::InvalidBlob { .. } | Error::InvalidHook { .. } => {
                code::INVALID_PACKAGE
            }
            Error::Mismatch { .. } => code::MISMATCH,
            Error::NeedsSandbox { .. } => code::NEEDS_SANDBOX,
            Error::HookFailed { .. } => code::HOOK_FAILED,
            Error::BuildFailed { .. } => code::BUILD_FAILED,
            Error::SourceMismatch { .. } | Error::BadCacheFile { .. } => code::MISMATCH,
            Error::NotReproducible { .. } => code::NOT_REPRODUCIBLE,
            Error::WrongArch { .. } => code::WRONG_ARCH,
            Error::Conflict { .. } => code::CONFLICT,
            Error::StalePlan => code::STALE_PLAN,
            Error::Unpack { source, .. } if disk_full(source) => code::NO_SPACE,
            Error::Io { .. } | Error::Unpack { .. } => code::IO,
            Error::NoRegistries => code::NO_REGISTRIES,
            Error::Fetch(FetchError::NoSpace { .. }) => code::NO_SPACE,
            Error::Fetch(e) if e.is_untrusted() => code::UNTRUSTED,
            Error::Fetch(_) | Error::Unreachable { .. } => code::FETCH,
            Error::BadConfig { .. } => code::BAD_CONFIG,
            Error::BadRegistryName(_) => code::BAD_NAME,
            Error::BadKey(_) => code::BAD_KEY,
            Error::BadUrl { .. } | Error::PublishNeedsServer { .. } => code::BAD_URL,
            Error::PublishDisabled { .. } => code::PUBLISH_DISABLED,
            Error::NoToken { .. } | Error::TokenUnreadable { .. } => code::NO_TOKEN,
            Error::PublishRefused { status, .. } => match status {
                401 => code::UNAUTHENTICATED,
                403 => code::FORBIDDEN,
                409 => code::CONFLICT,
                413 => code::TOO_LARGE,
                422 => code::INVALID_PACKAGE,
                _ => code::REGISTRY_ERROR,
            },
            Error::Damaged { .. } => code::DAMAGED,
            Error::NotActive { .. } => code::NOT_ACTIVE,
            Error::Dependents { .. } => code::DEPENDENTS,
            Error::PathConflicts(_) => code::PATH_CONFLICT,
            Error::VersionClash { .. } => code::VERSION_CLASH,
            Error::MissingDependencies(_) => code::MISSING_DEPENDENCIES,
            Error::NotProvided { .. }
            | Error::NoSuchProfile(_)
            | Error::NoSuchGeneration { .. } => code::NOT_FOUND,
            Error::ProfileExists(_) => code::CONFLICT,
            Error::NothingActive(_) => code::NOT_FOUND,
            Error::LockMismatch { .. } => code::MISMATCH,
            Error::ActiveProfile(_) => code::ACTIVE_PROFILE,
            Error::Held { .. } => code::HELD,
            Error::Cancelled(_) => code::CANCELLED,
            Error::Internal(_) => code::INTERNAL,
        }
    }

    /// What kind of failure this is.
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Error::Usage(_)
            | Error::BadPackage { .. }
            | Error::InvalidFile { .. }
            | Error::BadRegistryName(_)
            | Error::BadKey(_)
            | Error::BadUrl { .. } => Kind::InvalidArgument,
            Error::CannotOpen { .. }
            | Error::NoSuchRegistry(_)
            | Error::NotInStore(_)
            | Error::NameNotInStore(_)
            | Error::NoVersions { .. } => Kind::NotFound,
            Error::Missing { problems, .. } if !problems.is_empty() => Kind::Unavailable,
            Error::Missing { .. } => Kind::NotFound,
            Error::InvalidBlob { .. } | Error::InvalidHook { .. } | Error::Mismatch { .. } => {
                Kind::DataLoss
            }
            Error::Conflict { .. } => Kind::AlreadyExists,
            Error::NeedsSandbox { .. }
            | Error::HookFailed { .. }
            | Error::BuildFailed { .. }
            | Error::SourceMismatch { .. }
            | Error::BadCacheFile { .. }
            | Error::NotReproducible { .. }
            | Error::WrongArch { .. }
            | Error::StalePlan
            | Error::NoRegistries
            | Error::BadConfig { .. }
            | Error::PublishDisabled { .. }
            | Error::NoToken { .. }
            | Error::TokenUnreadable { .. }
            | Error::PublishNeedsServer { .. } => Kind::FailedPrecondition,
            Error::Fetch(FetchError::NoSpace { .. }) => Kind::ResourceExhausted,
            Error::Fetch(e) if e.is_untrusted() => Kind::PermissionDenied,
            Error::Fetch(_) | Error::Unreachable { .. } => Kind::Unavailable,
            Error::PublishRefused { status, .. } => match status {
                401 => Kind::Unauthenticated,
                403 => Kind::PermissionDenied,
                409 => Kind::AlreadyExists,
                413 => Kind::ResourceExhausted,
                422 => Kind::InvalidArgument,
                _ => Kind::Unavailable,
            },
            Error::Damaged { .. } => Kind::DataLoss,
            Error::NotActive { .. }
            | Error::NotProvided { .. }
            | Error::NoSuchProfile(_)
            | Error::NoSuchGeneration { .. } => Kind::NotFound,
            Error::ProfileExists(_) => Kind::AlreadyExists,
            Error::NothingActive(_) => Kind::NotFound,
            Error::LockMismatch { .. } => Kind::FailedPrecondition,
            Error::ActiveProfile(_) | Error::Held { .. } => Kind::FailedPrecondition,
            Error::Dependents { .. }
            | Error::PathConflicts(_)
            | Error::VersionClash { .. }
            | Error::MissingDependencies(_) => Kind::FailedPrecondition,
            Error::Cancelled(_) => Kind::Cancelled,
            Error::Unpack { .. } => Kind::Internal,
            Error::Io { .. } | Error::Internal(_) => Kind::Internal,
        }
    }

    /// The command to run next, when there is one.
    pub(crate) fn hint(&self) -> Option<String> {
        let publish_config = |registry: &str, config: &PathBuf| {
            format!(
                "in {}, give Registry \"{registry}\" `bool allow_publish = true;` and `string token_file = \"/path/to/token\";`",
                config.display()
            )
        };
        match self {
            Error::Conflict { pin, .. } => Some(format!(
                "give the package a new version, or check it: pandora verify {pin}"
            )),
            Error::StalePlan => Some("run the command again to see the new plan".into()),
            Error::Held { pin, .. } => Some(format!(
                "drop old generations first (they are what rollback returns to): pandora prune --generations --keep 1, then pandora remove {pin} --purge"
            )),
            Error::NoRegistries => Some("pandora registry add NAME URL".into()),
            Error::BadConfig { path, .. } => Some(format!("fix {} by hand", path.display())),
            Error::NoSuchRegistry(_) => Some("pandora registry list".into()),
            Error::NotInStore(_) | Error::NameNotInStore(_) => {
                Some("pandora list --store".into())
            }
            Error::Missing {
                close,
                verb,
                problems,
                ..
            } if !close.is_empty() => {
                let names: Vec<String> = close.iter().map(|c| format!("`{c}`")).collect();
                let unsure = if problems.is_empty() {
                    ""
                } else {
                    " (a registry did not answer: pandora registry list shows them)"
                };
                Some(format!(
                    "did you mean {}? pandora {verb} {}{unsure}",
                    names.join(" or "),
                    close[0]
                ))
            }
            Error::Missing { problems, .. } if !problems.is_empty() => Some(
                "check that the registry is up and its URL is right (pandora registry list), then retry"
                    .into(),
            ),
            Error::Missing { what, .. } => {
                let name = what.split('@').next().unwrap_or(what);
                Some(format!("pandora search {name}"))
            }
            Error::PublishDisabled { registry, config }
            | Error::NoToken { registry, config } => Some(publish_config(registry, config)),
            Error::TokenUnreadable { config, path, .. } => Some(format!(
                "check {}, or fix token_file in {}",
                path.display(),
                config.display()
            )),
            Error::PublishNeedsServer { .. } => {
                Some("on a registry directory, use: pandora-registry add DIR FILE.pkg".into())
            }
            Error::PublishRefused {
                registry,
                pin,
                status,
                config,
                ..
            } => match status {
                401 => Some(publish_config(registry, config)),
                403 => Some("check the token with the registry's operator".into()),
                409 => Some(format!("publish a new version of {}", pin.name)),
                _ => None,
            },
            Error::Damaged { pin, .. } => Some(format!("pandora install --repair {pin}")),
            Error::NotActive { profile, .. } => {
                Some(format!("pandora list --installed --profile {profile}"))
            }
            Error::Dependents { dependents, .. } => Some(format!(
                "deactivate them first: {}",
                dependents
                    .iter()
                    .map(|d| format!("pandora deactivate {}", d.name))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            Error::PathConflicts(c) => c.first().map(|c| {
                format!(
                    "pandora activate {n} --strategy prefer-new (or prefer-existing, or namespace), or choose per path: pandora profile override {p} {n}",
                    n = c.newcomer,
                    p = c.path
                )
            }),
            Error::VersionClash { wanted, .. } => wanted.last().map(|root| {
                format!(
                    "see the whole tree: pandora graph {root}; to keep both, give it a profile of its own: pandora profile create {n} && pandora activate {root} --profile {n}",
                    n = root.name
                )
            }),
            Error::NothingActive(_) => Some("pandora activate NAME".into()),
            Error::NoSuchProfile(_) => Some("pandora profile list".into()),
            // Names are lower case: `Hello` most likely means `hello`.
            Error::BadPackage { arg, .. }
                if arg.chars().any(char::is_uppercase)
                    && pandora_common::files::PackageArg::parse(&arg.to_lowercase()).is_ok() =>
            {
                Some(format!(
                    "package names are lower case: did you mean `{}`?",
                    arg.to_lowercase()
                ))
            }
            Error::NoSuchGeneration { profile, .. } => {
                Some(format!("pandora profile generations {profile}"))
            }
            Error::InvalidBlob { pin, .. } => Some(format!(
                "nothing of it was kept; try again: pandora install {pin}; if it fails the same \
                 way, the registry holds a damaged copy (`pandora-registry check DIR` finds those)"
            )),
            Error::ActiveProfile(_) => Some("switch to another first: pandora profile switch NAME".into()),
            Error::MissingDependencies(m) => Some(format!(
                "pandora install {} --no-activate, then run the activation again",
                m.iter()
                    .map(|(p, _)| p.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            Error::Unpack { source, dir, .. } if disk_full(source) => Some(format!(
                "free some space on the disk of {}, e.g. pandora prune --cache, then retry",
                dir.display()
            )),
            Error::Fetch(FetchError::Untrusted { hint, .. }) => Some(hint.clone()),
            Error::Fetch(FetchError::Rollback { .. }) => Some(
                "the registry, or something between you and it, serves an older state than you have seen; do not use it until its operator explains".into(),
            ),
            Error::Fetch(FetchError::Expired { .. }) => Some(
                "the registry must publish a fresh snapshot (any update renews it): tell its operator".into(),
            ),
            Error::Fetch(FetchError::NoSpace { path, .. }) => Some(format!(
                "free some space on the disk of {}, e.g. pandora prune --cache",
                path.display()
            )),
            Error::WrongArch { .. } => {
                Some("install a build for this machine, or one whose arch is `any`".into())
            }
            _ => None,
        }
    }

    /// Whether this failure means the archive itself is damaged (so a cached copy of it is
    /// worth dropping), as opposed to a package that is intact but refused.
    pub(crate) fn archive_damaged(&self) -> bool {
        match self {
            Error::InvalidBlob { source, .. } => damaged(source),
            Error::Mismatch { .. } => true,
            _ => false,
        }
    }
}

/// The operating system's error without the path that `fs_err` adds, for errors that name
/// the path themselves.
pub(crate) fn os_error(e: std::io::Error) -> std::io::Error {
    // fs_err's message is "failed to <verb> `<path>`: <the OS error>" and keeps no source.
    if e.get_ref().is_none() {
        return e;
    }
    let text = e.to_string();
    match text.split_once("`: ") {
        Some((_, os)) => std::io::Error::new(e.kind(), os.to_string()),
        None => e,
    }
}

/// Whether an unpack failed because the disk is full.
fn disk_full(e: &UnpackError) -> bool {
    match e {
        UnpackError::EntryIo { source, .. }
        | UnpackError::ArchiveIo { source, .. }
        | UnpackError::Staging { source, .. } => {
            source.kind() == std::io::ErrorKind::StorageFull || source.raw_os_error() == Some(28)
        }
        _ => false,
    }
}

/// Whether an unpack failed because of the archive's bytes (rather than the local disk: a
/// full disk or an unwritable `tmp/` says nothing about the archive).
pub(crate) fn damaged(e: &UnpackError) -> bool {
    match e {
        UnpackError::Staging { .. } => false,
        UnpackError::EntryIo { action, .. } | UnpackError::ArchiveIo { action, .. } => {
            !action.starts_with("write")
        }
        _ => true,
    }
}

fn list(pins: &[Pin]) -> String {
    pins.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn conflicts_text(conflicts: &[crate::activate::Conflict]) -> String {
    let mut text = String::from("packages conflict; nothing was activated");
    for c in conflicts {
        text.push_str(&format!(
            "\n  {}: provided by {} (active) and by {} with other content",
            c.path, c.existing, c.newcomer
        ));
    }
    text
}

fn missing_text(e: &Error) -> String {
    let Error::Missing {
        what,
        needed_by,
        asked,
        problems,
        in_store,
        verb,
        ..
    } = e
    else {
        return String::new();
    };
    let nothing = if *verb == "install" {
        "; nothing was installed"
    } else {
        ""
    };
    let all_failed = !problems.is_empty() && problems.len() >= asked.len();
    let asked = asked
        .iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let who = if needed_by.is_empty() {
        String::new()
    } else {
        format!(", needed by {},", crate::graph::chain_text(needed_by))
    };
    if all_failed && problems.len() == 1 {
        // One registry, and it failed: its failure is the headline.
        return format!("cannot find {what}{who}: {}", problems[0]);
    }
    let mut text = if all_failed {
        format!("cannot find {what}{who}: no registry could answer (asked {asked})")
    } else if what.contains('@') {
        format!("{what}{who} is in no registry (asked {asked}){nothing}")
    } else {
        format!("no registry has a package called `{what}` (asked {asked})")
    };
    if !in_store.is_empty() {
        text.push_str(&format!("; in the store: {}", in_store.join(", ")));
    }
    for p in problems {
        text.push_str("\n  ");
        text.push_str(p);
    }
    text
}

fn refused_text(e: &Error) -> String {
    let Error::PublishRefused {
        registry,
        pin,
        status,
        message,
        token_file,
        ..
    } = e
    else {
        return String::new();
    };
    match status {
        401 => format!("registry `{registry}` wants a token to publish {pin}: {message}"),
        403 => format!(
            "registry `{registry}` refused to publish {pin} with the token from {}: {message}",
            token_file.display()
        ),
        409 => format!("{pin} is already published to `{registry}` with other content: {message}"),
        413 => format!("registry `{registry}` refused {pin} as too large: {message}"),
        422 => format!("registry `{registry}` refused {pin}: {message}"),
        s => format!("registry `{registry}` answered HTTP {s} to the publish of {pin}: {message}"),
    }
}

#[cfg(test)]
mod tests;
