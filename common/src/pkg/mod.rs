//! The `.pkg` format: a deterministic, zstd-compressed tar.
//!
//! ```text
//! manifest.acl        always the first entry
//! files/...           the package's payload
//! hooks/...           optional install hooks named by the manifest
//! provenance.acl      optional
//! sbom.spdx.json      optional
//! ```
//!
//! Every install hook the manifest names must be a valid hook file, `provenance.acl` valid
//! ACL and `sbom.spdx.json` an SPDX JSON document; the packer and the unpacker both check.
//!
//! [`pack()`] turns a source tree into an archive whose bytes depend only on the tree's content:
//! entries sorted by path bytes, mtime `SOURCE_DATE_EPOCH`, uid/gid 0, no user or group names,
//! modes normalised to 0644/0755, a fixed zstd level on one thread.
//!
//! [`unpack()`] streams an archive into a fresh staging directory and checks every entry itself
//! (the tar crate's own extraction is never used). Invariant: when it returns `Ok`, every rule
//! held for every entry; when it returns `Err`, the staging directory is already gone and
//! nothing was written anywhere else. [`inspect`] applies the same checks without writing.

mod content;
mod entry;
mod error;
mod extract;
mod headers;
mod limits;
mod open;
mod pack;
mod path_rules;
mod stream;
mod unpack;

pub use entry::{EntryInfo, EntryKind};
pub use error::{ContentError, PackError, UnpackError, Violation};
pub use limits::Limits;
pub use pack::{ARCHIVE_ZSTD_LEVEL, PackOptions, PackReport, PackedFile, pack, pack_to_dir};
pub use stream::release_buffers;
pub use unpack::{
    InspectFileError, Inspection, UnpackOptions, Unpacked, inspect, inspect_file, unpack,
    unpack_with,
};
