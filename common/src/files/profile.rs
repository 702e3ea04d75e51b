//! `profiles/<profile>/profile.acl`: what a profile asks for.
//!
//! ```text
//! Profile "default" {
//!     string[] packages = { "viewer@2.1.0", "libpng@1.6.43" };
//!     string conflicts = "prefer-new";
//!     Override "bin/convert" { string package = "imagetools"; }
//! }
//! ```

use super::decode::{Reader, top_block};
use super::{FileError, Pin};
use crate::acl::{self, Block, Document, Item, Value};

/// How activation settles two packages that provide one path with different content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictStrategy {
    /// Refuse and explain (the default).
    Refuse,
    /// The package activated last wins.
    PreferNew,
    /// The package already active wins.
    PreferExisting,
    /// Both stay, under `bin/<pkg>-<version>/<file>`.
    Namespace,
}

impl ConflictStrategy {
    /// The spelling in `profile.acl`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictStrategy::Refuse => "refuse",
            ConflictStrategy::PreferNew => "prefer-new",
            ConflictStrategy::PreferExisting => "prefer-existing",
            ConflictStrategy::Namespace => "namespace",
        }
    }

    /// Parses the spelling in `profile.acl`.
    pub fn parse(s: &str) -> Option<ConflictStrategy> {
        [
            Self::Refuse,
            Self::PreferNew,
            Self::PreferExisting,
            Self::Namespace,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// A path whose owner the user chose.
#[derive(Debug, Clone, PartialEq)]
pub struct PathOverride {
    /// Path inside the profile, e.g. `bin/convert`.
    pub path: String,
    /// The package that provides it.
    pub package: String,
}

/// A profile's request.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// Requested exact pins.
    pub packages: Vec<Pin>,
    /// Conflict strategy.
    pub conflicts: ConflictStrategy,
    /// Per-path owners.
    pub overrides: Vec<PathOverride>,
    /// Unknown fields and blocks, kept for newer tools.
    pub extra: Vec<Item>,
}

impl Profile {
    /// Parses `profile.acl`.
    pub fn parse(text: &str, origin: &str) -> Result<Profile, FileError> {
        let doc = acl::parse(text, origin)?;
        let mut r = Reader::new(origin, top_block(doc, origin, &["Profile"])?);
        let Some(name) = r.label().map(str::to_string) else {
            return Err(r.block_error("needs its name as a label, `Profile \"default\" { ... }`"));
        };
        let mut packages: Vec<Pin> = Vec::new();
        for p in r.req_strs("packages")? {
            let pin = Pin::parse(&p).map_err(|e| r.field_error("packages", e))?;
            if packages.iter().any(|q| q.name == pin.name) {
                let what = format!(
                    "`{}` is requested twice; a profile keeps one version per name",
                    pin.name
                );
                return Err(r.field_error("packages", what));
            }
            packages.push(pin);
        }
        let conflicts = match r.opt_str("conflicts")? {
            None => ConflictStrategy::Refuse,
            Some(s) => ConflictStrategy::parse(&s).ok_or_else(|| {
                r.field_error(
                    "conflicts",
                    format!("`{s}` is not one of refuse, prefer-new, prefer-existing, namespace"),
                )
            })?,
        };
        let mut overrides = Vec::new();
        for b in r.take_blocks("Override") {
            let mut or = Reader::new(origin, b);
            let Some(path) = or.label().map(str::to_string) else {
                return Err(
                    or.block_error("needs the path as a label, `Override \"bin/x\" { ... }`")
                );
            };
            overrides.push(PathOverride {
                path,
                package: or.req_str("package")?,
            });
        }
        Ok(Profile {
            name,
            packages,
            conflicts,
            overrides,
            extra: r.rest(),
        })
    }

    /// The profile as canonical ACL.
    pub fn to_source(&self) -> String {
        let mut b = Block::new("Profile", Some(self.name.clone()))
            .with(
                "packages",
                Value::StrArray(self.packages.iter().map(Pin::to_string).collect()),
            )
            .with("conflicts", Value::Str(self.conflicts.as_str().to_string()));
        for o in &self.overrides {
            b.push_block(
                Block::new("Override", Some(o.path.clone()))
                    .with("package", Value::Str(o.package.clone())),
            );
        }
        b.items.extend(self.extra.iter().cloned());
        Document::new(vec![b]).to_source()
    }
}
