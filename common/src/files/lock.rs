//! Lockfiles, `manifests/<profile>.lock`: what a profile's current generation resolved to.
//!
//! ```text
//! Lock {
//!     string profile = "default";
//!     int generation = 3;
//!     Package "viewer" { string version = "2.1.0"; string sha256 = "…"; string registry = "main"; }
//! }
//! ```

use super::decode::{Reader, is_sha256_hex, top_block};
use super::pin::validate_version;
use super::{FileError, Pin};
use crate::acl::{self, Block, Document, Value};

/// A profile's lockfile.
#[derive(Debug, Clone, PartialEq)]
pub struct Lockfile {
    /// The profile's name.
    pub profile: String,
    /// The generation this lock describes.
    pub generation: u64,
    /// One entry per package name, in file order.
    pub packages: Vec<LockedPackage>,
}

/// One locked package.
#[derive(Debug, Clone, PartialEq)]
pub struct LockedPackage {
    /// Name and exact version.
    pub pin: Pin,
    /// sha256 of the .pkg blob.
    pub sha256: String,
    /// The registry it came from (`local` for a file installed by path).
    pub registry: String,
}

impl Lockfile {
    /// Parses a lockfile.
    pub fn parse(text: &str, origin: &str) -> Result<Lockfile, FileError> {
        let doc = acl::parse(text, origin)?;
        let block = top_block(&doc, origin, &["Lock"])?;
        let r = Reader::new(origin, block);
        let profile = r.req_str("profile")?;
        let generation = match r.opt_int("generation")? {
            Some(n) if n >= 0 => n as u64,
            Some(_) => {
                return Err(
                    r.field_error(r.field("generation").expect("read"), "must not be negative")
                );
            }
            None => {
                return Err(
                    r.error_at(block.pos, "Lock: missing required field `generation` (int)")
                );
            }
        };
        let mut packages: Vec<LockedPackage> = Vec::new();
        for b in block.children("Package") {
            let pr = Reader::new(origin, b);
            let Some(name) = b.label.clone() else {
                return Err(pr.error_at(b.pos, "Package: needs its name as a label"));
            };
            let version = pr.req_str("version")?;
            let pin = Pin::parse(&format!("{name}@{version}"))
                .map_err(|e| pr.field_error(pr.field("version").expect("read"), e))?;
            validate_version(&version).map_err(|e| pr.error_at(b.pos, e.to_string()))?;
            let sha256 = pr.req_str("sha256")?;
            if !is_sha256_hex(&sha256) {
                return Err(pr.field_error(
                    pr.field("sha256").expect("read"),
                    "expected 64 lowercase hex digits",
                ));
            }
            if packages.iter().any(|p| p.pin.name == name) {
                return Err(pr.error_at(b.pos, format!("package `{name}` is locked twice")));
            }
            packages.push(LockedPackage {
                pin,
                sha256,
                registry: pr.req_str("registry")?,
            });
        }
        Ok(Lockfile {
            profile,
            generation,
            packages,
        })
    }

    /// The lockfile as canonical ACL.
    pub fn to_source(&self) -> String {
        let mut lock = Block::new("Lock", None)
            .with("profile", Value::Str(self.profile.clone()))
            .with(
                "generation",
                Value::Int(i64::try_from(self.generation).unwrap_or(i64::MAX)),
            );
        for p in &self.packages {
            lock.push_block(
                Block::new("Package", Some(p.pin.name.clone()))
                    .with("version", Value::Str(p.pin.version.clone()))
                    .with("sha256", Value::Str(p.sha256.clone()))
                    .with("registry", Value::Str(p.registry.clone())),
            );
        }
        Document::new(vec![lock]).to_source()
    }
}
