//! The public face of extraction: [`unpack`] into a staging directory, [`inspect`] in memory.
//!
//! Invariant: when [`unpack`] returns `Err`, its staging directory is already gone; when it
//! returns `Ok`, every entry passed every check (see `extract`).

use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use fs_err as fs;

use super::entry::EntryInfo;
use super::error::UnpackError;
use super::extract::{Found, run};
use super::limits::Limits;
use super::stream::{Decoded, Inline, spawn_decoder};
use crate::files::Manifest;
use crate::hash::Digest;

/// A verified archive unpacked into its staging directory.
///
/// Dropping it removes the staging directory; [`Unpacked::into_path`] keeps it for the caller
/// to rename into the store. Files are read-only (the archive's mode without write bits;
/// `entries` holds the archive's modes) and not fsynced: the caller syncs before renaming.
#[derive(Debug)]
pub struct Unpacked {
    dir: tempfile::TempDir,
    /// The parsed manifest.
    pub manifest: Manifest,
    /// `manifest.acl` as the archive holds it.
    pub manifest_text: String,
    /// sha256 of the whole archive file, lowercase hex.
    pub sha256: String,
    /// Size of the archive file in bytes.
    pub compressed_size: u64,
    /// Every entry, in archive order.
    pub entries: Vec<EntryInfo>,
    /// `phase: command` of every `run` hook the package carries.
    pub run_hooks: Vec<String>,
}

impl Unpacked {
    /// The staging directory, the package's root (mode 0755).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Keeps the staging directory on disk and returns its path.
    pub fn into_path(self) -> PathBuf {
        self.dir.keep()
    }
}

/// What [`inspect`] found in a verified archive.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The parsed manifest.
    pub manifest: Manifest,
    /// `manifest.acl` as the archive holds it.
    pub manifest_text: String,
    /// sha256 of the whole archive, lowercase hex.
    pub sha256: String,
    /// Size of the archive in bytes.
    pub compressed_size: u64,
    /// Every entry, in archive order.
    pub entries: Vec<EntryInfo>,
    /// `phase: command` of every `run` hook the package carries.
    pub run_hooks: Vec<String>,
}

/// How [`unpack_with`] runs; the default is [`unpack`]'s.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnpackOptions {
    /// The caller compares [`Unpacked::sha256`] with the sha256 it expected before it uses
    /// anything unpacked, so zstd's own checksum of the content (XXH64, 2% of an unpack) is
    /// not computed as well. A damaged archive is then refused by that comparison.
    pub sha256_checked_by_caller: bool,
    /// Decompress and hash on the calling thread, not on a second one: for a caller that
    /// runs several unpacks at once, which keep the cores busy without the hand-over of
    /// every chunk between two threads.
    pub same_thread: bool,
    /// Start writing each file to disk as soon as it is written (`posix_fadvise` with
    /// `DONTNEED`, which on Linux starts the write-back of dirty pages without waiting for
    /// it): for a caller that syncs the whole tree before it uses it, whose sync then finds
    /// most of the data on disk already. Nothing changes on tmpfs: a caller leaves it off there.
    pub write_back_early: bool,
}

/// Unpacks the archive read from `reader` into a fresh directory inside `staging_parent`,
/// checking every rule of the format on the way. Decompression and hashing run on a second
/// thread. On error nothing is left behind and the error names the offending entry.
pub fn unpack(
    reader: impl Read + Send,
    staging_parent: &Path,
    limits: &Limits,
) -> Result<Unpacked, UnpackError> {
    unpack_with(reader, staging_parent, limits, UnpackOptions::default())
}

/// [`unpack`], run as `options` say.
pub fn unpack_with(
    reader: impl Read + Send,
    staging_parent: &Path,
    limits: &Limits,
    options: UnpackOptions,
) -> Result<Unpacked, UnpackError> {
    let staging_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UnpackError::Staging { path, source }
    };
    let dir = tempfile::Builder::new()
        .prefix("unpack-")
        .tempdir_in(staging_parent)
        .map_err(staging_err(staging_parent))?;
    let decoded =
        Decoded::new(reader, limits, options.sha256_checked_by_caller).map_err(start_error)?;
    let (found, digest) = if options.same_thread {
        match run(Inline::new(decoded), Some(dir.path()), limits, options) {
            Ok((found, inline)) => (Ok(found), Some(inline.into_decoded().digest())),
            Err(e) => (Err(e), None),
        }
    } else {
        decode_aside(decoded, dir.path(), limits, options)
    };
    let found = found?;
    let digest = digest.ok_or_else(|| UnpackError::ArchiveIo {
        after: found.entries.last().map(|e| e.path.clone()),
        action: "finish decoding",
        source: io::Error::other("the decoder thread stopped early"),
    })?;
    fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(staging_err(dir.path()))?;
    Ok(Unpacked {
        dir,
        manifest: found.manifest,
        manifest_text: found.manifest_text,
        sha256: digest.sha256,
        compressed_size: digest.size,
        entries: found.entries,
        run_hooks: found.run_hooks,
    })
}

/// Runs `decoded` on a second thread while this one writes the files under `dir`: the
/// entries found, and the digest of the raw archive (`None` if decoding stopped early).
fn decode_aside<R: Read + Send>(
    decoded: Decoded<R>,
    dir: &Path,
    limits: &Limits,
    options: UnpackOptions,
) -> (Result<Found, UnpackError>, Option<Digest>) {
    std::thread::scope(|scope| {
        let (source, producer) = spawn_decoder(scope, decoded);
        // `run` drops the channel's receiver on return, which stops the decoder thread.
        let found = run(source, Some(dir), limits, options).map(|(found, _)| found);
        let digest = match producer.join() {
            Ok(digest) => digest,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        (found, digest)
    })
}

/// Why [`inspect_file`] failed: the file could not be opened, or it is not a valid package.
#[derive(Debug, thiserror::Error)]
pub enum InspectFileError {
    /// The file cannot be opened.
    #[error("cannot open `{}`", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file is not a valid package.
    #[error("`{}` is not a valid package", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: UnpackError,
    },
}

/// Opens the `.pkg` at `path` and [`inspect`]s it, reading in large blocks: the one way every
/// tool checks a package file.
pub fn inspect_file(path: &Path, limits: &Limits) -> Result<Inspection, InspectFileError> {
    // The error names the path itself, without fs_err's wording.
    #[allow(clippy::disallowed_methods)]
    let file = std::fs::File::open(path).map_err(|source| InspectFileError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(InspectFileError::Open {
            path: path.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::IsADirectory,
                "it is a directory, not a .pkg file (pandora pack DIR makes one)",
            ),
        });
    }
    inspect(io::BufReader::with_capacity(1 << 20, file), limits).map_err(|source| {
        InspectFileError::Invalid {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Reads the archive from `reader` and applies every check [`unpack`] applies, writing nothing.
pub fn inspect(reader: impl Read, limits: &Limits) -> Result<Inspection, UnpackError> {
    let decoded = Decoded::new(reader, limits, false).map_err(start_error)?;
    let options = UnpackOptions::default();
    let (found, inline) = run(Inline::new(decoded), None, limits, options)?;
    let Digest { sha256, size } = inline.into_decoded().digest();
    Ok(Inspection {
        manifest: found.manifest,
        manifest_text: found.manifest_text,
        sha256,
        compressed_size: size,
        entries: found.entries,
        run_hooks: found.run_hooks,
    })
}

fn start_error(source: io::Error) -> UnpackError {
    UnpackError::ArchiveIo {
        after: None,
        action: "start decoding",
        source,
    }
}
