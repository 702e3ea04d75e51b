//! Pandora's own files, decoded from ACL into typed values: `manifest.acl`, registry indices,
//! a registry's `config.acl` and `snapshot.acl`, `registries.acl`, lockfiles, `profile.acl` and hook files. Errors name the file, line,
//! column and field (`manifest.acl:4:5: dependencies: expected string[], found int`); unknown
//! fields are kept and otherwise ignored, so newer files still load.
//!
//! Files that come from registries and packages (indices, snapshots, manifests, hooks and
//! `files.acl`) are read with [`acl::parse_data`]: literal values only, no expressions or
//! references. Files the user writes (`registries.acl`, `profile.acl`) and the ones Pandora
//! writes for itself are read with the full language.

mod decode;
mod filelist;
mod hooks;
mod index;
mod lock;
mod manifest;
mod pin;
mod profile;
mod recipe;
mod registries;
mod request;
mod search;
mod snapshot;

pub use filelist::{FileKind, FileList, FileRecord};
pub use hooks::{
    DEFAULT_TIMEOUT as HOOK_DEFAULT_TIMEOUT, Hook, HookAction, HookFile,
    MAX_TIMEOUT as HOOK_MAX_TIMEOUT, shell_words,
};
pub use index::{Index, PackageEntry, VersionEntry};
pub use lock::{LockedPackage, Lockfile};
pub use manifest::Manifest;
pub use pin::{Pin, PinError, compare_versions, validate_name, validate_version};
pub use profile::{ConflictStrategy, PathOverride, Profile};
pub use recipe::{DEFAULT_STEP_TIMEOUT, Recipe, RecipeSource, SourceKind};
pub use registries::{RegistryConfig, RegistryList};
pub use request::PackageArg;
pub use search::{SearchHit, SearchRank};
pub use snapshot::{
    DEFAULT_MAX_PACKAGE_SIZE, KeyRotation, REGISTRY_FORMAT, RegistryMeta, Snapshot, SnapshotFile,
};

use crate::acl;

/// An error in one of Pandora's files: where it is and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{origin}:{line}:{col}: {what}{}", context.as_deref().map(|c| format!("\n{c}")).unwrap_or_default())]
pub struct FileError {
    /// The file's name as the user knows it (`manifest.acl`, a path, `index/<name>.acl`).
    pub origin: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// What is wrong, starting with the field or block it concerns, or the ACL error keyword.
    pub what: String,
    /// The source line and a caret, for ACL syntax and semantic errors.
    pub context: Option<String>,
}

impl From<acl::Error> for FileError {
    fn from(e: acl::Error) -> FileError {
        let full = e.to_string();
        let context = full.split_once('\n').map(|(_, rest)| rest.to_string());
        FileError {
            origin: e.origin.clone(),
            line: e.pos.line,
            col: e.pos.col,
            what: format!("{}: {}", e.kind.keyword(), e.message),
            context,
        }
    }
}
