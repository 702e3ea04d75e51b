//! Registry indices: `index.acl` (`Registry { Package "x" { Version "1.0" { ... } } }`) and
//! the per-package `index/<name>.acl` (`Package "x" { ... }`), DESIGN.md §3.

use std::collections::HashMap;

use super::decode::{Reader, is_sha256_hex, top_block};
use super::pin::{validate_name, validate_version};
use super::{FileError, Pin, compare_versions};
use crate::acl::{self, Block, Document, Item, Value};

/// A whole registry index.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Index {
    /// The `Registry` block's label, when it has one.
    pub registry: Option<String>,
    /// Packages in file order.
    pub packages: Vec<PackageEntry>,
    by_name: HashMap<String, usize>,
}

/// One package of an index, with all its versions.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageEntry {
    /// Package name (the block's label).
    pub name: String,
    /// The version a bare `install NAME` means.
    pub latest: Option<String>,
    /// Search tags.
    pub tags: Vec<String>,
    /// One-line description.
    pub description: Option<String>,
    /// Versions in file order.
    pub versions: Vec<VersionEntry>,
    /// Unknown fields and blocks, kept for newer tools.
    pub extra: Vec<Item>,
}

/// One published version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionEntry {
    /// The exact version (the block's label).
    pub version: String,
    /// sha256 of the .pkg blob, lowercase hex.
    pub sha256: String,
    /// Where the blob is; may be relative to the index.
    pub pkg_url: String,
    /// Where the manifest is, if served separately.
    pub manifest_url: Option<String>,
    /// Exact pins.
    pub dependencies: Vec<Pin>,
    /// Size of the blob in bytes, when declared.
    pub size: Option<u64>,
    /// Whether the publisher deprecated it.
    pub deprecated: bool,
    /// The package's `run` hooks, `phase: command` (what installing it will execute in the
    /// sandbox, shown in the install plan; the daemon refuses a package whose hooks differ).
    pub hooks: Vec<String>,
    /// Where the blob's detached minisign signature is (`blobs/sha256/<hex>.minisig`), when
    /// the publisher signed it; may be relative to the index.
    pub signature: Option<String>,
    /// Unknown fields, kept for newer tools.
    pub extra: Vec<Item>,
}

impl Index {
    /// Parses `index.acl`.
    pub fn parse(text: &str, origin: &str) -> Result<Index, FileError> {
        let doc = acl::parse_data(text, origin)?;
        let mut r = Reader::new(origin, top_block(doc, origin, &["Registry"])?);
        let registry = r.label().map(str::to_string);
        let blocks = r.take_blocks("Package");
        let mut packages = Vec::with_capacity(blocks.len());
        let mut by_name = HashMap::with_capacity(blocks.len());
        for b in blocks {
            let pos = b.pos;
            let entry = PackageEntry::from_block(b, origin)?;
            if by_name.insert(entry.name.clone(), packages.len()).is_some() {
                return Err(r.error_at(pos, format!("package `{}` appears twice", entry.name)));
            }
            packages.push(entry);
        }
        Ok(Index {
            registry,
            packages,
            by_name,
        })
    }

    /// Builds an index from entries (for registry tooling).
    pub fn from_entries(registry: Option<String>, entries: Vec<PackageEntry>) -> Index {
        let by_name = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), i))
            .collect();
        Index {
            registry,
            packages: entries,
            by_name,
        }
    }

    /// The package called `name`.
    pub fn package(&self, name: &str) -> Option<&PackageEntry> {
        self.by_name.get(name).map(|&i| &self.packages[i])
    }

    /// The index as canonical ACL.
    pub fn to_source(&self) -> String {
        let mut reg = Block::new("Registry", self.registry.clone());
        for p in &self.packages {
            reg.push_block(p.to_block());
        }
        Document::new(vec![reg]).to_source()
    }
}

impl PackageEntry {
    /// Parses a per-package index file, `index/<name>.acl`.
    pub fn parse(text: &str, origin: &str) -> Result<PackageEntry, FileError> {
        let doc = acl::parse_data(text, origin)?;
        PackageEntry::from_block(top_block(doc, origin, &["Package"])?, origin)
    }

    /// Decodes a `Package "name" { ... }` block.
    pub fn from_block(block: Block, origin: &str) -> Result<PackageEntry, FileError> {
        let mut r = Reader::new(origin, block);
        let Some(name) = r.label().map(str::to_string) else {
            return Err(r.block_error("needs its name as a label, `Package \"name\" { ... }`"));
        };
        validate_name(&name).map_err(|e| r.block_error(e))?;
        let mut versions: Vec<VersionEntry> = Vec::new();
        for v in r.take_blocks("Version") {
            let pos = v.pos;
            let entry = VersionEntry::from_block(v, origin)?;
            if versions.iter().any(|o| o.version == entry.version) {
                return Err(r.error_at(
                    pos,
                    format!(
                        "Package \"{name}\": version `{}` appears twice",
                        entry.version
                    ),
                ));
            }
            versions.push(entry);
        }
        let latest = r.opt_str("latest")?;
        if let Some(l) = &latest
            && !versions.iter().any(|v| &v.version == l)
        {
            return Err(r.field_error(
                "latest",
                format!("names `{l}`, but there is no `Version \"{l}\"` block"),
            ));
        }
        for v in r.opt_strs("versions")?.unwrap_or_default() {
            if !versions.iter().any(|e| e.version == v) {
                return Err(r.field_error(
                    "versions",
                    format!("lists `{v}`, but there is no `Version \"{v}\"` block"),
                ));
            }
        }
        let tags = r.opt_strs("tags")?.unwrap_or_default();
        let description = r.opt_str("description")?;
        Ok(PackageEntry {
            name,
            latest,
            tags,
            description,
            versions,
            extra: r.rest(),
        })
    }

    /// The version called `version`.
    pub fn version(&self, version: &str) -> Option<&VersionEntry> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// The version a bare name means: `latest` when it names a listed version, else the
    /// highest listed version.
    pub fn newest(&self) -> Option<&VersionEntry> {
        self.latest
            .as_deref()
            .and_then(|l| self.version(l))
            .or_else(|| {
                self.versions
                    .iter()
                    .max_by(|a, b| compare_versions(&a.version, &b.version))
            })
    }

    /// This entry as a `Package "name" { ... }` block.
    pub fn to_block(&self) -> Block {
        let mut b = Block::new("Package", Some(self.name.clone()));
        b.push_field(
            "versions",
            Value::StrArray(self.versions.iter().map(|v| v.version.clone()).collect()),
        );
        if let Some(l) = &self.latest {
            b.push_field("latest", Value::Str(l.clone()));
        }
        b.push_field("tags", Value::StrArray(self.tags.clone()));
        if let Some(d) = &self.description {
            b.push_field("description", Value::Str(d.clone()));
        }
        b.items.extend(self.extra.iter().cloned());
        for v in &self.versions {
            b.push_block(v.to_block());
        }
        b
    }

    /// This entry as a per-package index file.
    pub fn to_source(&self) -> String {
        Document::new(vec![self.to_block()]).to_source()
    }
}

impl VersionEntry {
    /// Decodes a `Version "1.0.0" { ... }` block.
    pub fn from_block(block: Block, origin: &str) -> Result<VersionEntry, FileError> {
        let mut r = Reader::new(origin, block);
        let Some(version) = r.label().map(str::to_string) else {
            return Err(r.block_error("needs the version as a label, `Version \"1.0.0\" { ... }`"));
        };
        validate_version(&version).map_err(|e| r.block_error(e))?;
        let sha256 = r.req_str("sha256")?;
        if !is_sha256_hex(&sha256) {
            return Err(r.field_error("sha256", "expected 64 lowercase hex digits"));
        }
        let mut dependencies = Vec::new();
        for d in r.opt_strs("dependencies")?.unwrap_or_default() {
            dependencies.push(Pin::parse(&d).map_err(|e| r.field_error("dependencies", e))?);
        }
        let size = match r.opt_int("size")? {
            Some(n) => {
                Some(u64::try_from(n).map_err(|_| r.field_error("size", "must not be negative"))?)
            }
            None => None,
        };
        let pkg_url = r.req_str("pkg_url")?;
        let manifest_url = r.opt_str("manifest_url")?;
        let deprecated = r.opt_bool("deprecated")?.unwrap_or(false);
        let hooks = r.opt_strs("hooks")?.unwrap_or_default();
        let signature = r.opt_str("signature")?;
        Ok(VersionEntry {
            version,
            sha256,
            pkg_url,
            manifest_url,
            dependencies,
            size,
            deprecated,
            hooks,
            signature,
            extra: r.rest(),
        })
    }

    /// This version as a `Version "v" { ... }` block.
    pub fn to_block(&self) -> Block {
        let mut b = Block::new("Version", Some(self.version.clone()))
            .with("sha256", Value::Str(self.sha256.clone()))
            .with("pkg_url", Value::Str(self.pkg_url.clone()));
        if let Some(m) = &self.manifest_url {
            b.push_field("manifest_url", Value::Str(m.clone()));
        }
        b.push_field(
            "dependencies",
            Value::StrArray(self.dependencies.iter().map(Pin::to_string).collect()),
        );
        if let Some(s) = self.size {
            b.push_field("size", Value::Int(i64::try_from(s).unwrap_or(i64::MAX)));
        }
        b.push_field("deprecated", Value::Bool(self.deprecated));
        if !self.hooks.is_empty() {
            b.push_field("hooks", Value::StrArray(self.hooks.clone()));
        }
        if let Some(sig) = &self.signature {
            b.push_field("signature", Value::Str(sig.clone()));
        }
        b.items.extend(self.extra.iter().cloned());
        b
    }
}
