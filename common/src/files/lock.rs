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
        let mut r = Reader::new(origin, top_block(doc, origin, &["Lock"])?);
        let profile = r.req_str("profile")?;
        let generation = match r.opt_int("generation")? {
            Some(n) => {
                u64::try_from(n).map_err(|_| r.field_error("generation", "must not be negative"))?
            }
            None => return Err(r.block_error("missing required field `generation` (int)")),
        };
        let mut packages: Vec<LockedPackage> = Vec::new();
        for b in r.take_blocks("Package") {
            let mut pr = Reader::new(origin, b);
            let Some(name) = pr.label().map(str::to_string) else {
                return Err(pr.block_error("needs its name as a label"));
            };
            let version = pr.req_str("version")?;
            let pin = Pin::parse(&format!("{name}@{version}"))
                .map_err(|e| pr.field_error("version", e))?;
            let sha256 = pr.req_str("sha256")?;
            if !is_sha256_hex(&sha256) {
                return Err(pr.field_error("sha256", "expected 64 lowercase hex digits"));
            }
            if packages.iter().any(|p| p.pin.name == name) {
                return Err(pr.block_error(format!("package `{name}` is locked twice")));
            }
            let registry = pr.req_str("registry")?;
            packages.push(LockedPackage {
                pin,
                sha256,
                registry,
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
