//! Errors of the packer and the unpacker. Each names the entry (or source path) at fault.

use std::io;
use std::path::PathBuf;

use crate::files::FileError;

/// A rule of the `.pkg` format that an entry or the archive as a whole breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// A `..` component.
    #[error("path leaves the package (`..` component)")]
    ParentComponent,
    /// A path starting with `/`.
    #[error("absolute path")]
    Absolute,
    /// An empty path.
    #[error("empty path")]
    EmptyPath,
    /// `a//b`, or a trailing `/` after a component that is not a directory's last.
    #[error("empty path component (`//` or a doubled trailing `/`)")]
    EmptyComponent,
    /// A `.` component (`./a`, `a/./b`).
    #[error("`.` path component")]
    DotComponent,
    /// A trailing `/` on something other than a directory.
    #[error("trailing `/` on an entry that is not a directory")]
    TrailingSlash,
    /// A path that is not UTF-8.
    #[error("path is not valid UTF-8")]
    NotUtf8,
    /// A NUL byte inside a path or link target.
    #[error("path contains a NUL byte")]
    Nul,
    /// A path longer than [`Limits::max_path_len`](super::Limits::max_path_len).
    #[error("path is {len} bytes long, the limit is {max}")]
    PathTooLong {
        /// Its length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A component longer than [`Limits::max_component_len`](super::Limits::max_component_len).
    #[error("path component is {len} bytes long, the limit is {max}")]
    ComponentTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A top-level name other than the five the format knows.
    #[error(
        "not allowed at the top level: a package holds only manifest.acl, files/, hooks/, \
         sbom.spdx.json and provenance.acl"
    )]
    UnknownTopLevel,
    /// A top-level name of the wrong kind (`files` as a file, `manifest.acl` as a directory).
    #[error("must be {expected}")]
    WrongKind {
        /// What it must be: "a regular file" or "a directory".
        expected: &'static str,
    },
    /// The first entry is not `manifest.acl`.
    #[error("`manifest.acl` must be the first entry of the archive")]
    ManifestNotFirst,
    /// The archive holds no entry at all, hence no manifest.
    #[error("no `manifest.acl`")]
    MissingManifest,
    /// A manifest past [`Limits::max_manifest_size`](super::Limits::max_manifest_size).
    #[error("manifest is {size} bytes, the limit is {max}")]
    ManifestTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A manifest that is not UTF-8.
    #[error("manifest is not valid UTF-8")]
    ManifestNotUtf8,
    /// A hook named by the manifest's `install_hooks` that the package does not hold.
    #[error("named in the manifest's `install_hooks` but not a regular file in the package")]
    MissingHook,
    /// The same path twice.
    #[error("duplicate path")]
    Duplicate,
    /// A path whose parent is a symlink.
    #[error("path goes through the symlink `{link}`")]
    ThroughSymlink {
        /// The symlink.
        link: String,
    },
    /// A path whose parent is a regular file.
    #[error("parent `{parent}` is not a directory")]
    ParentNotDirectory {
        /// The parent.
        parent: String,
    },
    /// A hardlink entry.
    #[error(
        "hardlink (to `{target}`); a package holds only regular files, directories and symlinks"
    )]
    Hardlink {
        /// What it links to.
        target: String,
    },
    /// A device, fifo, sparse or unknown entry type.
    #[error("{kind}; a package holds only regular files, directories and symlinks")]
    Special {
        /// What it is.
        kind: String,
    },
    /// A PAX global header.
    #[error("PAX global header; a package holds only regular files, directories and symlinks")]
    PaxGlobalHeader,
    /// A PAX record this reader does not honour (`size`, sparse files).
    #[error("unsupported PAX record `{key}`")]
    UnsupportedPax {
        /// The record's key.
        key: String,
    },
    /// A malformed PAX header.
    #[error("malformed PAX header")]
    MalformedPax,
    /// Two long-name or two PAX headers for one entry, or one with no entry after it.
    #[error("{what} header without an entry of its own")]
    StrayMetadata {
        /// Which header: "GNU long name", "GNU long link" or "PAX".
        what: &'static str,
    },
    /// A header field that does not parse.
    #[error("malformed tar header field `{field}`")]
    BadHeader {
        /// The field.
        field: &'static str,
    },
    /// A setuid, setgid, sticky or world-writable mode.
    #[error("mode {mode:04o} has the {bit} bit; a package may not carry it")]
    ForbiddenMode {
        /// The mode from the header.
        mode: u32,
        /// "setuid", "setgid", "sticky" or "world-writable".
        bit: &'static str,
    },
    /// A directory or symlink header that claims data.
    #[error("a {kind} entry carries {size} bytes of data")]
    UnexpectedData {
        /// "directory" or "symlink".
        kind: &'static str,
        /// The size in its header.
        size: u64,
    },
    /// A symlink target that is empty, absolute, not UTF-8 or too long.
    #[error("symlink target `{target}` is {why}")]
    BadLinkTarget {
        /// The target.
        target: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A symlink that resolves outside its top-level area.
    #[error("symlink target `{target}` leaves `{area}/`")]
    LinkEscapes {
        /// The target.
        target: String,
        /// `files` or `hooks`.
        area: String,
    },
    /// A symlink whose resolution takes more than 40 hops.
    #[error("symlink target `{target}` does not resolve within 40 hops (a loop?)")]
    LinkLoop {
        /// The target.
        target: String,
    },
    /// More headers than [`Limits::max_entries`](super::Limits::max_entries).
    #[error("more than {max} entries")]
    TooManyEntries {
        /// The limit.
        max: u64,
    },
    /// More bytes than [`Limits::max_total_size`](super::Limits::max_total_size).
    #[error("decompressed size passes the limit of {max} bytes")]
    TooLarge {
        /// The limit.
        max: u64,
    },
    /// A ratio past [`Limits::max_ratio`](super::Limits::max_ratio).
    #[error("archive expands more than {max} times its compressed size")]
    RatioTooHigh {
        /// The limit.
        max: u64,
    },
    /// Entry data shorter than its header says.
    #[error("header says {expected} bytes but the archive ends after {actual}")]
    Truncated {
        /// Size in the header.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The tar stream ends without its end-of-archive block.
    #[error("tar stream ends without an end-of-archive marker")]
    MissingEndMarker,
    /// Non-zero bytes after the tar end-of-archive marker.
    #[error("non-zero bytes after the end of the tar archive")]
    TrailingTarData,
    /// Bytes after the zstd frame.
    #[error("data after the end of the zstd frame")]
    TrailingGarbage,
}

/// Why an install hook, `provenance.acl` or `sbom.spdx.json` is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// Larger than [`Limits::max_metadata_size`](super::Limits::max_metadata_size).
    #[error("{size} bytes, the limit is {max}")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Not UTF-8 text.
    #[error("not valid UTF-8")]
    NotUtf8,
    /// An install hook named by the manifest that is not a valid hook file.
    #[error("not a valid install hook file")]
    Hook(#[source] FileError),
    /// `provenance.acl` that is not valid ACL.
    #[error("not valid ACL")]
    Provenance(#[source] FileError),
    /// `sbom.spdx.json` that is not JSON.
    #[error("not valid JSON")]
    Json(#[source] serde_json::Error),
    /// `sbom.spdx.json` that is JSON but not an SPDX document.
    #[error("not an SPDX document: {reason}")]
    NotSpdx {
        /// What is wrong.
        reason: String,
    },
}

/// Why [`unpack`](super::unpack()) or [`inspect`](super::inspect) refused an archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnpackError {
    /// An entry breaks a rule.
    #[error("entry `{path}`: {violation}")]
    Entry {
        /// The entry's path, escaped for display.
        path: String,
        /// The rule.
        violation: Violation,
    },
    /// Reading, decompressing or writing an entry failed.
    #[error("entry `{path}`: cannot {action}")]
    EntryIo {
        /// The entry's path, escaped for display.
        path: String,
        /// What failed: "read the archive", "decompress the archive", "write it", ...
        action: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `manifest.acl` does not parse or validate.
    #[error("entry `manifest.acl`: invalid manifest")]
    Manifest {
        /// The parser's error.
        #[source]
        source: FileError,
    },
    /// An install hook, `provenance.acl` or `sbom.spdx.json` is not valid.
    #[error("entry `{path}`: invalid content")]
    Content {
        /// The entry's path.
        path: String,
        /// What is wrong with it.
        #[source]
        source: ContentError,
    },
    /// The archive as a whole breaks a rule outside any entry.
    #[error("archive{}: {violation}", after_entry(after))]
    Archive {
        /// The last entry read before the problem, if any.
        after: Option<String>,
        /// The rule.
        violation: Violation,
    },
    /// Reading the archive failed outside any entry (a header, the tail).
    #[error("archive{}: cannot {action}", after_entry(after))]
    ArchiveIo {
        /// The last entry read before the problem, if any.
        after: Option<String>,
        /// What failed.
        action: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The staging directory could not be created or finished.
    #[error("cannot prepare the staging directory in `{}`", path.display())]
    Staging {
        /// The staging parent or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn after_entry(after: &Option<String>) -> String {
    match after {
        Some(path) => format!(" (after entry `{path}`)"),
        None => String::new(),
    }
}

/// Why [`pack`](super::pack()) refused a source tree or could not write the archive.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    /// The source tree has no `manifest.acl`.
    #[error("`{}`: no manifest.acl in the package source", path.display())]
    NoManifest {
        /// The source directory.
        path: PathBuf,
    },
    /// The source tree has no `files/` directory.
    #[error("`{}`: no files/ directory in the package source", path.display())]
    NoFiles {
        /// The source directory.
        path: PathBuf,
    },
    /// `manifest.acl` does not parse or validate.
    #[error("`{}`: invalid manifest", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: FileError,
    },
    /// An install hook, `provenance.acl` or `sbom.spdx.json` is not valid.
    #[error("`{}`: invalid content", path.display())]
    Content {
        /// The source path.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: ContentError,
    },
    /// The manifest's name and version do not make a file name.
    #[error("`{name}-{version}.pkg` is not a valid archive file name")]
    BadFileName {
        /// The package name.
        name: String,
        /// The version.
        version: String,
    },
    /// A source path breaks a rule of the format.
    #[error("`{}`: {violation}", path.display())]
    Entry {
        /// The source path.
        path: PathBuf,
        /// The rule.
        violation: Violation,
    },
    /// The package would break a limit the installer enforces, so it could never be
    /// installed.
    #[error("the package breaks a limit every installer enforces: {violation}")]
    Limit {
        /// The limit.
        violation: Violation,
    },
    /// A source file changed while it was being packed.
    #[error("`{}` changed while it was being packed", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// Reading the source tree failed.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Writing the archive failed.
    #[error("cannot write the archive{}", path.as_ref().map(|p| format!(" `{}`", p.display())).unwrap_or_default())]
    Write {
        /// The output file, when packing into a directory.
        path: Option<PathBuf>,
        /// The cause.
        #[source]
        source: io::Error,
    },
}
