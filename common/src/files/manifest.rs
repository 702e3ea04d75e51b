//! `manifest.acl`: the metadata of one package (DESIGN.md §3).

use super::decode::{Reader, is_sha256_hex, top_block};
use super::pin::{validate_name, validate_version};
use super::{FileError, Pin};
use crate::acl::{self, Block, Document, Item, Value};

/// The metadata of one package (`manifest.acl` inside a .pkg, and in the store).
#[derive(Debug, Clone, PartialEq)]
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
    /// The `build_meta` block: what built the package, as inferred fields.
    pub build_meta: Block,
    /// Optional one-line description.
    pub description: Option<String>,
    /// Search tags.
    pub tags: Vec<String>,
    /// Whether the publisher deprecated this version.
    pub deprecated: bool,
    /// sha256 of the verified archive (only in the store's copy).
    pub archive_sha256: Option<String>,
    /// Fields and blocks this version of Pandora does not know, kept for newer tools.
    pub extra: Vec<Item>,
}

/// The required `dependencies` field of a package called `name`: exact pins, none of the
/// package itself, no name twice.
pub(super) fn dependencies(r: &mut Reader<'_>, name: &str) -> Result<Vec<Pin>, FileError> {
    let mut dependencies: Vec<Pin> = Vec::new();
    for d in r.req_strs("dependencies")? {
        let pin = Pin::parse(&d).map_err(|e| r.field_error("dependencies", e))?;
        if pin.name == name {
            return Err(r.field_error("dependencies", format!("`{pin}` is the package itself")));
        }
        if let Some(other) = dependencies.iter().find(|p| p.name == pin.name) {
            let what = format!("`{pin}` and `{other}` pin the same package twice");
            return Err(r.field_error("dependencies", what));
        }
        dependencies.push(pin);
    }
    Ok(dependencies)
}

impl Manifest {
    /// Parses and validates `text`; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Manifest, FileError> {
        let doc = acl::parse_data(text, origin)?;
        Manifest::from_block(top_block(doc, origin, &["manifest", "Manifest"])?, origin)
    }

    /// Decodes a `manifest { ... }` block.
    pub fn from_block(block: Block, origin: &str) -> Result<Manifest, FileError> {
        let mut r = Reader::new(origin, block);
        r.require_all(&[
            ("name", Some("string")),
            ("version", Some("string")),
            ("arch", Some("string")),
            ("authors", Some("string[]")),
            ("license", Some("string")),
            ("dependencies", Some("string[]")),
            ("install_hooks", Some("string[]")),
            ("build_meta", None),
        ])?;
        let name = r.req_str("name")?;
        validate_name(&name).map_err(|e| r.field_error("name", e))?;
        let version = r.req_str("version")?;
        validate_version(&version).map_err(|e| r.field_error("version", e))?;
        let arch = r.req_str("arch")?;
        let authors = r.req_strs("authors")?;
        let license = r.req_str("license")?;
        let dependencies = dependencies(&mut r, &name)?;
        let install_hooks = r.req_strs("install_hooks")?;
        for h in &install_hooks {
            let ok = h.len() > "hooks/".len()
                && h.starts_with("hooks/")
                && !h.split('/').any(|c| c.is_empty() || c == "." || c == "..");
            if !ok {
                let what = format!("`{h}` must be a path under `hooks/` inside the package");
                return Err(r.field_error("install_hooks", what));
            }
        }
        let build_meta = r.req_block("build_meta")?;
        let archive_sha256 = r.opt_str("archive_sha256")?;
        if archive_sha256.as_deref().is_some_and(|h| !is_sha256_hex(h)) {
            return Err(r.field_error("archive_sha256", "expected 64 lowercase hex digits"));
        }
        let description = r.opt_str("description")?;
        let tags = r.opt_strs("tags")?.unwrap_or_default();
        let deprecated = r.opt_bool("deprecated")?.unwrap_or(false);
        Ok(Manifest {
            name,
            version,
            arch,
            authors,
            license,
            dependencies,
            install_hooks,
            build_meta,
            description,
            tags,
            deprecated,
            archive_sha256,
            extra: r.rest(),
        })
    }

    /// `name@version`.
    pub fn pin(&self) -> Pin {
        Pin {
            name: self.name.clone(),
            version: self.version.clone(),
        }
    }

    /// The manifest as canonical ACL, unknown fields included.
    pub fn to_source(&self) -> String {
        let mut b = Block::new("manifest", None)
            .with("name", Value::Str(self.name.clone()))
            .with("version", Value::Str(self.version.clone()))
            .with("arch", Value::Str(self.arch.clone()))
            .with("authors", Value::StrArray(self.authors.clone()))
            .with("license", Value::Str(self.license.clone()));
        if let Some(d) = &self.description {
            b.push_field("description", Value::Str(d.clone()));
        }
        b.push_field("tags", Value::StrArray(self.tags.clone()));
        b.push_field(
            "dependencies",
            Value::StrArray(self.dependencies.iter().map(Pin::to_string).collect()),
        );
        b.push_field("install_hooks", Value::StrArray(self.install_hooks.clone()));
        if self.deprecated {
            b.push_field("deprecated", Value::Bool(true));
        }
        if let Some(h) = &self.archive_sha256 {
            b.push_field("archive_sha256", Value::Str(h.clone()));
        }
        b.push_block(self.build_meta.clone());
        b.items.extend(self.extra.iter().cloned());
        Document::new(vec![b]).to_source()
    }
}
