//! The layout of one store entry, in one place:
//!
//! ```text
//! store/<name>/<version>/
//!     manifest.acl    the package's manifest plus the verified `archive_sha256`
//!     files.acl       every path under the entry with its kind, mode, size and sha256
//!     files/          the payload; other top-level entries (hooks/, sbom.spdx.json,
//!                     provenance.acl) come from the archive as they are
//! ```

use std::path::{Path, PathBuf};

use pandora_common::files::{FileList, Manifest};

use crate::error::{Error, Result};
use crate::fetch::Trust;

/// The entry's manifest.
pub(crate) const MANIFEST: &str = "manifest.acl";
/// The entry's file list.
pub(crate) const FILE_LIST: &str = "files.acl";

/// Files of an entry that describe it rather than belong to the package's tree, and so are
/// not listed in `files.acl`.
pub(crate) fn is_metadata(rel: &str) -> bool {
    rel == MANIFEST || rel == FILE_LIST
}

/// `dir/manifest.acl`.
pub(crate) fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(MANIFEST)
}

/// `dir/files.acl`.
pub(crate) fn file_list_path(dir: &Path) -> PathBuf {
    dir.join(FILE_LIST)
}

/// The field of the store's manifest that records where the entry came from.
const ORIGIN: &str = "origin";

/// Records in the store's copy of a manifest where the package came from: a registry's
/// name, or `local`.
pub(crate) fn set_origin(m: &mut Manifest, origin: &str) {
    use pandora_common::acl::{Block, Item, Value};
    m.extra
        .retain(|i| !matches!(i, Item::Field(f) if f.name == ORIGIN));
    let mut b = Block::new("origin", None);
    b.push_field(ORIGIN, Value::Str(origin.to_string()));
    m.extra.extend(b.items);
}

/// Where the entry came from, when the store recorded it.
pub(crate) fn origin(m: &Manifest) -> Option<String> {
    use pandora_common::acl::Item;
    m.extra.iter().find_map(|i| match i {
        Item::Field(f) if f.name == ORIGIN => f.value.as_str().map(str::to_string),
        _ => None,
    })
}

/// The fields of the store's manifest that record which keys vouched for the package at
/// install: the one that signed the registry snapshot naming it, the one that signed it.
const SNAPSHOT_KEY: &str = "verified_snapshot_key";
const PACKAGE_KEY: &str = "verified_package_key";

/// Records in the store's copy of a manifest which signatures were verified at install.
pub(crate) fn set_trust(m: &mut Manifest, trust: &Trust) {
    use pandora_common::acl::{Item, Value};
    m.extra.retain(
        |i| !matches!(i, Item::Field(f) if f.name == SNAPSHOT_KEY || f.name == PACKAGE_KEY),
    );
    let mut b = pandora_common::acl::Block::new("trust", None);
    if let Some(k) = &trust.snapshot_key {
        b.push_field(SNAPSHOT_KEY, Value::Str(k.clone()));
    }
    if let Some(k) = &trust.package_key {
        b.push_field(PACKAGE_KEY, Value::Str(k.clone()));
    }
    m.extra.extend(b.items);
}

/// Which signatures were verified when the entry was installed.
pub(crate) fn trust(m: &Manifest) -> Trust {
    use pandora_common::acl::Item;
    let field = |name: &str| {
        m.extra.iter().find_map(|i| match i {
            Item::Field(f) if f.name == name => f.value.as_str().map(str::to_string),
            _ => None,
        })
    };
    Trust {
        snapshot_key: field(SNAPSHOT_KEY),
        package_key: field(PACKAGE_KEY),
    }
}

/// Why an entry cannot be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EntryError {
    #[error("{} cannot be read", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is damaged", path.display())]
    Damaged {
        path: PathBuf,
        #[source]
        source: pandora_common::files::FileError,
    },
}

/// Reads the manifest of the entry at `dir`.
pub(crate) fn read_manifest(dir: &Path) -> Result<Manifest, EntryError> {
    let path = manifest_path(dir);
    let text = read(&path)?;
    Manifest::parse(&text, &path.display().to_string())
        .map_err(|source| EntryError::Damaged { path, source })
}

/// Reads the file list of the entry at `dir`.
pub(crate) fn read_file_list(dir: &Path) -> Result<FileList, EntryError> {
    let path = file_list_path(dir);
    let text = read(&path)?;
    FileList::parse(&text, &path.display().to_string())
        .map_err(|source| EntryError::Damaged { path, source })
}

fn read(path: &Path) -> Result<String, EntryError> {
    fs_err::read_to_string(path).map_err(|source| EntryError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes the metadata of a staged entry: `files.acl`, and `manifest.acl` replaced by the
/// store's copy, both read-only like the unpacked files. Not synced here: the commit syncs
/// everything staged before it renames the directory into the store.
pub(crate) fn write_metadata(dir: &Path, manifest: &Manifest, files: &FileList) -> Result<()> {
    write_new(&file_list_path(dir), files.to_source().as_bytes())?;
    let path = manifest_path(dir);
    fs_err::remove_file(&path).map_err(Error::io("replace", &path))?;
    write_new(&path, manifest.to_source().as_bytes())
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    use std::io::Write;
    let mut f = fs_err::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(path)
        .map_err(Error::io("write", path))?;
    f.write_all(bytes).map_err(Error::io("write", path))
}
