//! TEMPORARY placeholder: replaced by the ACL-backed decoder.
use super::{FileError, Pin};

/// The metadata of one package (`manifest.acl` inside a .pkg, and in the store).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Manifest {
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// Target architecture (`x86_64`, `any`, ...).
    pub arch: String,
    /// Authors, `Name <mail>`.
    pub authors: Vec<String>,
    /// SPDX license expression.
    pub license: String,
    /// Exact pins this package needs.
    pub dependencies: Vec<Pin>,
    /// Hook files inside the package, relative to its root (`hooks/preinstall.acl`).
    pub install_hooks: Vec<String>,
    /// Optional one-line description.
    pub description: Option<String>,
    /// Search tags.
    pub tags: Vec<String>,
    /// Whether the publisher deprecated this version.
    pub deprecated: bool,
    /// sha256 of the verified archive (only in the store's copy).
    pub archive_sha256: Option<String>,
}

impl Manifest {
    /// Parses and validates `text`; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Manifest, FileError> {
        let get = |key: &str| {
            text.lines().find_map(|l| {
                let l = l.trim();
                let rest = l.strip_prefix("string ")?.trim_start().strip_prefix(key)?;
                let rest = rest.trim_start().strip_prefix('=')?.trim();
                Some(rest.trim_end_matches(';').trim_matches('"').to_string())
            })
        };
        let err = |what: &str| FileError { origin: origin.into(), line: 1, col: 1, what: what.into() };
        Ok(Manifest {
            name: get("name").ok_or_else(|| err("manifest: missing required field `name`"))?,
            version: get("version").ok_or_else(|| err("manifest: missing required field `version`"))?,
            ..Manifest::default()
        })
    }
}
