//! Getting things from registries: `snapshot.acl` (revalidated with its ETag once its TTL
//! passes), the `index/<name>.acl` files a resolution needs (each accepted only if its sha256
//! and size match the snapshot), and blobs (hashed while they download, capped at the declared
//! size, retried with backoff and resumed with `Range`). A blob enters `cache/blobs/sha256/`
//! only under its verified hash.
//!
//! Schemes: `https://` (rustls, system roots), `http://`, and `file://` (a registry directory
//! on disk, read in place).

pub(crate) mod http;
mod http1;
mod pipeline;
mod registry;

pub(crate) use http::client as http_client;
pub(crate) use http1::Stop;
pub(crate) use registry::{BlobPlan, RegistryClient, Trust};

use std::path::PathBuf;

use pandora_common::files::{FileError, Pin};

/// Why something could not be fetched. Every message names the registry and the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The registry could not be reached or answered with an error.
    #[error("registry `{registry}`: cannot get {what}: {reason}")]
    Unavailable {
        registry: String,
        what: String,
        reason: String,
    },
    /// What it served is not what its snapshot promised.
    #[error("registry `{registry}`: {what} does not match its snapshot ({reason})")]
    Mismatch {
        registry: String,
        what: String,
        reason: String,
    },
    /// A blob's bytes do not hash to the index's sha256.
    #[error(
        "registry `{registry}`: the download of {pin} has sha256 {got}, the index says {want}; it was discarded"
    )]
    BadHash {
        registry: String,
        pin: Pin,
        got: String,
        want: String,
    },
    /// A blob is larger than its index entry says.
    #[error(
        "registry `{registry}`: the download of {pin} is larger than the declared {size} bytes; it was discarded"
    )]
    TooLarge {
        registry: String,
        pin: Pin,
        size: u64,
    },
    /// A registry file is not valid ACL or not the expected shape.
    #[error("registry `{registry}` serves an invalid file")]
    Invalid {
        registry: String,
        #[source]
        source: FileError,
    },
    /// The snapshot is older than one already seen.
    #[error(
        "registry `{registry}`: snapshot serial {got} is older than the {seen} already seen (a rollback); refusing it"
    )]
    Rollback {
        registry: String,
        got: u64,
        seen: u64,
    },
    /// A URL in the registry's files points where the registry may not send the daemon.
    #[error("registry `{registry}`: refusing `{url}`: {reason}")]
    Refused {
        registry: String,
        url: String,
        reason: String,
    },
    /// The snapshot has expired.
    #[error("registry `{registry}`: its snapshot expired; the registry must publish a fresh one")]
    Expired { registry: String },
    /// A blob's declared size is past a limit, so it is not downloaded at all.
    #[error(
        "registry `{registry}`: {pin} declares {declared} bytes, more than {whose} limit of {max}; it was not downloaded"
    )]
    DeclaredTooLarge {
        registry: String,
        pin: Pin,
        declared: u64,
        max: u64,
        whose: &'static str,
    },
    /// The disk has no room for a download.
    #[error(
        "not enough free space in {}: {pin} needs {need} bytes, {have} are free",
        path.display()
    )]
    NoSpace {
        pin: Pin,
        path: PathBuf,
        need: u64,
        have: u64,
    },
    /// A signature is missing, malformed, by a key the user did not pin, or over other
    /// bytes; or the registry's signed metadata contradicts itself.
    #[error("registry `{registry}`: {what}: {reason}")]
    Untrusted {
        registry: String,
        what: String,
        reason: String,
        /// What the user can do.
        hint: String,
    },
    /// A local file operation failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> FetchError {
    let path = path.into();
    move |source| FetchError::Io {
        action,
        path,
        source,
    }
}

impl FetchError {
    /// Whether the registry was caught lying (a signature that fails, a rollback, a frozen
    /// snapshot), as opposed to being unreachable or broken: such a registry is reported, never
    /// silently skipped for the next one.
    pub(crate) fn is_untrusted(&self) -> bool {
        matches!(
            self,
            FetchError::Untrusted { .. } | FetchError::Rollback { .. } | FetchError::Expired { .. }
        )
    }
}

/// Makes the next use of `registry`'s cached snapshot revalidate it (after a publish: the
/// new version must be visible at once, whatever the cache TTL).
pub(crate) fn invalidate(layout: &pandora_common::layout::Layout, registry: &str) {
    let _ = fs_err::remove_file(layout.index_cache(registry).join("validators.acl"));
}

/// Seconds since the epoch.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
