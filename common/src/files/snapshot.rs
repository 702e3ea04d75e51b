//! A registry's own metadata (DESIGN.md §3): `config.acl`, what the registry is, and
//! `snapshot.acl`, the serial and the hash and size of every index file, which clients check
//! each index against.
//!
//! ```text
//! Registry "main" { int format = 1; string[] keys = {}; int max_package_size = 1073741824; }
//!
//! Snapshot {
//!     string registry = "main";
//!     int serial = 7;
//!     int generated = 1764400000;
//!     int expires = 1767000000;
//!     File "index.acl" { string sha256 = "…"; int size = 1234; }
//!     File "index/hello.acl" { string sha256 = "…"; int size = 456; }
//! }
//! ```

use super::FileError;
use super::decode::{Reader, is_sha256_hex, top_block};
use super::pin::validate_name;
use crate::acl::{self, Block, Document, Item, Value};

/// The registry format this version writes and reads.
pub const REGISTRY_FORMAT: i64 = 1;

/// `config.acl`: a registry's name, format and limits.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryMeta {
    /// The registry's name.
    pub name: String,
    /// Format version, [`REGISTRY_FORMAT`].
    pub format: i64,
    /// The minisign public keys (`RW…`) that sign `snapshot.acl` and packages. Clients never
    /// trust these on their own word: a user pins keys in `registries.acl`.
    pub keys: Vec<String>,
    /// Whether every package carries a detached signature; clients that pinned a key then
    /// refuse a package without one.
    pub signed_packages: bool,
    /// Largest package the registry accepts, in bytes.
    pub max_package_size: u64,
    /// Unknown fields, kept for newer tools.
    pub extra: Vec<Item>,
}

/// Default largest package: 1 GiB.
pub const DEFAULT_MAX_PACKAGE_SIZE: u64 = 1 << 30;

impl RegistryMeta {
    /// Parses `config.acl`.
    pub fn parse(text: &str, origin: &str) -> Result<RegistryMeta, FileError> {
        let doc = acl::parse(text, origin)?;
        let mut r = Reader::new(origin, top_block(doc, origin, &["Registry"])?);
        let Some(name) = r.label().map(str::to_string) else {
            return Err(
                r.block_error("needs the registry's name as a label, `Registry \"main\" { ... }`")
            );
        };
        validate_name(&name).map_err(|_| {
            r.block_error("use lowercase letters, digits and `._+-` in registry names")
        })?;
        let format = r.opt_int("format")?.unwrap_or(REGISTRY_FORMAT);
        if format != REGISTRY_FORMAT {
            return Err(r.field_error(
                "format",
                format!(
                    "format {format} is not supported; this Pandora reads format {REGISTRY_FORMAT}"
                ),
            ));
        }
        let keys = r.opt_strs("keys")?.unwrap_or_default();
        for k in &keys {
            crate::sign::TrustedKey::parse(k).map_err(|e| r.field_error("keys", e))?;
        }
        let signed_packages = r.opt_bool("signed_packages")?.unwrap_or(false);
        let max_package_size = match r.opt_int("max_package_size")? {
            None => DEFAULT_MAX_PACKAGE_SIZE,
            Some(n) => u64::try_from(n)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| r.field_error("max_package_size", "must be positive"))?,
        };
        Ok(RegistryMeta {
            name,
            format,
            keys,
            signed_packages,
            max_package_size,
            extra: r.rest(),
        })
    }

    /// `config.acl` as canonical ACL.
    pub fn to_source(&self) -> String {
        let mut b = Block::new("Registry", Some(self.name.clone()))
            .with("format", Value::Int(self.format))
            .with("keys", Value::StrArray(self.keys.clone()))
            .with("signed_packages", Value::Bool(self.signed_packages))
            .with(
                "max_package_size",
                Value::Int(i64::try_from(self.max_package_size).unwrap_or(i64::MAX)),
            );
        b.items.extend(self.extra.iter().cloned());
        Document::new(vec![b]).to_source()
    }
}

/// One index file as the snapshot records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// Path relative to the registry root: `index.acl` or `index/<name>.acl`.
    pub path: String,
    /// sha256 of the file, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// `snapshot.acl`.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The registry's name.
    pub registry: String,
    /// Increases by one with every update; clients refuse a lower one.
    pub serial: u64,
    /// When it was written, seconds since the epoch.
    pub generated: u64,
    /// After this, clients refuse it (freeze protection), seconds since the epoch.
    pub expires: u64,
    /// Every index file, sorted by path.
    pub files: Vec<SnapshotFile>,
}

impl Snapshot {
    /// Parses `snapshot.acl`.
    pub fn parse(text: &str, origin: &str) -> Result<Snapshot, FileError> {
        let doc = acl::parse_data(text, origin)?;
        let mut r = Reader::new(origin, top_block(doc, origin, &["Snapshot"])?);
        let registry = r.req_str("registry")?;
        let int = |r: &mut Reader<'_>, name: &str| -> Result<u64, FileError> {
            match r.opt_int(name)? {
                Some(n) => {
                    u64::try_from(n).map_err(|_| r.field_error(name, "must not be negative"))
                }
                None => Err(r.block_error(format!("missing required field `{name}` (int)"))),
            }
        };
        let serial = int(&mut r, "serial")?;
        let generated = int(&mut r, "generated")?;
        let expires = int(&mut r, "expires")?;
        let mut files: Vec<SnapshotFile> = Vec::new();
        for b in r.take_blocks("File") {
            let mut fr = Reader::new(origin, b);
            let Some(path) = fr.label().map(str::to_string) else {
                return Err(fr.block_error("needs the file's path as a label"));
            };
            let sha256 = fr.req_str("sha256")?;
            if !is_sha256_hex(&sha256) {
                return Err(fr.field_error("sha256", "expected 64 lowercase hex digits"));
            }
            let size = match fr.opt_int("size")? {
                Some(n) => {
                    u64::try_from(n).map_err(|_| fr.field_error("size", "must not be negative"))?
                }
                None => return Err(fr.block_error("missing required field `size` (int)")),
            };
            if files.iter().any(|f| f.path == path) {
                return Err(fr.block_error("is listed twice"));
            }
            files.push(SnapshotFile { path, sha256, size });
        }
        Ok(Snapshot {
            registry,
            serial,
            generated,
            expires,
            files,
        })
    }

    /// The entry for `path`.
    pub fn file(&self, path: &str) -> Option<&SnapshotFile> {
        self.files.iter().find(|f| f.path == path)
    }

    /// `snapshot.acl` as canonical ACL.
    pub fn to_source(&self) -> String {
        let n = |v: u64| Value::Int(i64::try_from(v).unwrap_or(i64::MAX));
        let mut b = Block::new("Snapshot", None)
            .with("registry", Value::Str(self.registry.clone()))
            .with("serial", n(self.serial))
            .with("generated", n(self.generated))
            .with("expires", n(self.expires));
        for f in &self.files {
            b.push_block(
                Block::new("File", Some(f.path.clone()))
                    .with("sha256", Value::Str(f.sha256.clone()))
                    .with("size", n(f.size)),
            );
        }
        Document::new(vec![b]).to_source()
    }
}

/// `keys/<n>.acl`: the registry's key list after its `n`-th key rotation, signed
/// (`keys/<n>.acl.minisig`) by a key of the list before it, so a client that pinned an older
/// key can follow the chain.
///
/// ```text
/// KeyRotation "main" { int serial = 1; string[] keys = { "RW…" }; }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRotation {
    /// The registry's name.
    pub registry: String,
    /// Which rotation this is, from 1.
    pub serial: u64,
    /// The keys from this rotation on.
    pub keys: Vec<String>,
}

impl KeyRotation {
    /// Parses `keys/<n>.acl`.
    pub fn parse(text: &str, origin: &str) -> Result<KeyRotation, FileError> {
        let doc = acl::parse_data(text, origin)?;
        let mut r = Reader::new(origin, top_block(doc, origin, &["KeyRotation"])?);
        let Some(registry) = r.label().map(str::to_string) else {
            return Err(r.block_error("needs the registry's name as a label"));
        };
        let serial = match r.opt_int("serial")? {
            Some(n) => {
                u64::try_from(n).map_err(|_| r.field_error("serial", "must not be negative"))?
            }
            None => return Err(r.block_error("missing required field `serial` (int)")),
        };
        let keys = r.req_strs("keys")?;
        for k in &keys {
            crate::sign::TrustedKey::parse(k).map_err(|e| r.field_error("keys", e))?;
        }
        Ok(KeyRotation {
            registry,
            serial,
            keys,
        })
    }

    /// `keys/<n>.acl` as canonical ACL.
    pub fn to_source(&self) -> String {
        let b = Block::new("KeyRotation", Some(self.registry.clone()))
            .with(
                "serial",
                Value::Int(i64::try_from(self.serial).unwrap_or(i64::MAX)),
            )
            .with("keys", Value::StrArray(self.keys.clone()));
        Document::new(vec![b]).to_source()
    }
}
