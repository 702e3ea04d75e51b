//! `mpt.acl`: the recipe `pandora build` runs in the sandbox.
//!
//! ```text
//! Package "hello-c" {
//!     string version = "1.0.0";
//!     string arch = "x86_64";
//!     string[] authors = { "Jane Doe" };
//!     string license = "MIT";
//!     string[] dependencies = { };
//!     string description = "Says hello";
//!     string[] install_hooks = { "hooks/setup.acl" };        // optional, as for `pack`
//! }
//! Build {
//!     Source "src" { string path = "src"; }                   // relative to the recipe's dir
//!     Source "zlib" { string url = "https://…"; string sha256 = "…"; }
//!     string[] build_dependencies = { "cc@1.0.0" };           // exact pins from the store
//!     string[] steps = { "make -C /build/src", "make -C /build/src install DESTDIR=/build/out" };
//!     int source_date_epoch = 1700000000;                     // optional, default 0
//!     int timeout = 3600;                                     // optional, seconds per step
//! }
//! ```

use super::decode::{Reader, is_sha256_hex};
use super::pin::{validate_name, validate_version};
use super::{FileError, Manifest, Pin};
use crate::acl::{self, Block};

/// A parsed recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipe {
    /// The package it makes (its `build_meta` is empty until the build fills it).
    pub package: Manifest,
    pub sources: Vec<RecipeSource>,
    pub build_dependencies: Vec<Pin>,
    /// Shell commands run in order with `sh -c` in `/build/src`.
    pub steps: Vec<String>,
    pub source_date_epoch: u64,
    /// Seconds each step may take.
    pub timeout: u64,
}

/// One `Source "label" { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipeSource {
    pub label: String,
    pub kind: SourceKind,
}

/// Where a source comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// A directory or file relative to the recipe's directory.
    Path(String),
    /// Fetched, then checked against `sha256` before anything runs.
    Url { url: String, sha256: String },
}

/// Seconds a build step may take unless the recipe says.
pub const DEFAULT_STEP_TIMEOUT: u64 = 3600;

impl Recipe {
    /// Parses `mpt.acl`; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Recipe, FileError> {
        let doc = acl::parse_data(text, origin)?;
        let blocks = doc.into_blocks();
        let mut package = None;
        let mut build = None;
        for b in blocks {
            match b.name.as_str() {
                "Package" if package.is_none() => package = Some(b),
                "Build" if build.is_none() => build = Some(b),
                _ => {
                    let r = Reader::new(origin, b);
                    return Err(r.block_error(
                        "a recipe holds one `Package \"name\" { ... }` and one `Build { ... }` block",
                    ));
                }
            }
        }
        let missing = |what: &str| FileError {
            origin: origin.to_string(),
            line: 1,
            col: 1,
            what: format!("the recipe has no `{what}` block"),
            context: None,
        };
        let package = package.ok_or_else(|| missing("Package \"name\""))?;
        let build = build.ok_or_else(|| missing("Build"))?;
        Ok(Recipe {
            package: package_manifest(package, origin)?,
            ..build_block(build, origin)?
        })
    }
}

/// The `Package` block as a manifest (the label is the name).
fn package_manifest(block: Block, origin: &str) -> Result<Manifest, FileError> {
    let mut r = Reader::new(origin, block);
    let Some(name) = r.label().map(str::to_string) else {
        return Err(
            r.block_error("needs the package's name as a label, `Package \"name\" { ... }`")
        );
    };
    validate_name(&name).map_err(|e| r.block_error(e))?;
    r.require_all(&[
        ("version", Some("string")),
        ("arch", Some("string")),
        ("authors", Some("string[]")),
        ("license", Some("string")),
        ("dependencies", Some("string[]")),
    ])?;
    let version = r.req_str("version")?;
    validate_version(&version).map_err(|e| r.field_error("version", e))?;
    let arch = r.req_str("arch")?;
    let authors = r.req_strs("authors")?;
    let license = r.req_str("license")?;
    let dependencies = super::manifest::dependencies(&mut r, &name)?;
    let install_hooks = r.opt_strs("install_hooks")?.unwrap_or_default();
    let description = r.opt_str("description")?;
    let tags = r.opt_strs("tags")?.unwrap_or_default();
    Ok(Manifest {
        name,
        version,
        arch,
        authors,
        license,
        dependencies,
        install_hooks,
        build_meta: Block::new("build_meta", None),
        description,
        tags,
        deprecated: false,
        archive_sha256: None,
        extra: r.rest(),
    })
}

/// The `Build` block; the package is filled by the caller.
fn build_block(block: Block, origin: &str) -> Result<Recipe, FileError> {
    let mut r = Reader::new(origin, block);
    let mut sources = Vec::new();
    for s in r.take_blocks("Source") {
        let mut sr = Reader::new(origin, s);
        let Some(label) = sr.label().map(str::to_string) else {
            return Err(sr.block_error("needs a label, `Source \"src\" { ... }`"));
        };
        validate_name(&label).map_err(|e| sr.block_error(format!("label: {e}")))?;
        if sources.iter().any(|o: &RecipeSource| o.label == label) {
            return Err(sr.block_error(format!("`Source \"{label}\"` appears twice")));
        }
        let path = sr.opt_str("path")?;
        let url = sr.opt_str("url")?;
        let sha256 = sr.opt_str("sha256")?;
        let kind = match (path, url, sha256) {
            (Some(p), None, None) => {
                let ok = !p.is_empty() && !p.starts_with('/') && !p.split('/').any(|c| c == "..");
                if !ok {
                    return Err(sr.field_error(
                        "path",
                        "must be relative to the recipe's directory, without `..`",
                    ));
                }
                SourceKind::Path(p)
            }
            (None, Some(u), Some(h)) => {
                if !(u.starts_with("https://") || u.starts_with("http://")) {
                    return Err(sr.field_error("url", "must be an http(s) URL"));
                }
                if !is_sha256_hex(&h) {
                    return Err(sr.field_error("sha256", "expected 64 lowercase hex digits"));
                }
                SourceKind::Url { url: u, sha256: h }
            }
            (None, Some(_), None) => {
                return Err(sr.block_error(
                    "a `url` source needs its `sha256`, so that what is fetched is what you meant",
                ));
            }
            _ => {
                return Err(sr.block_error(
                    "give either `string path = \"…\";` or `string url = \"…\"; string sha256 = \"…\";`",
                ));
            }
        };
        sources.push(RecipeSource { label, kind });
    }
    let mut build_dependencies = Vec::new();
    for d in r.opt_strs("build_dependencies")?.unwrap_or_default() {
        build_dependencies
            .push(Pin::parse(&d).map_err(|e| r.field_error("build_dependencies", e))?);
    }
    let steps = r.req_strs("steps")?;
    if steps.is_empty() {
        return Err(r.field_error("steps", "must hold at least one command"));
    }
    let source_date_epoch = match r.opt_int("source_date_epoch")? {
        None => 0,
        Some(n) => u64::try_from(n)
            .map_err(|_| r.field_error("source_date_epoch", "must not be negative"))?,
    };
    let timeout = match r.opt_int("timeout")? {
        None => DEFAULT_STEP_TIMEOUT,
        Some(n) if n >= 1 => n as u64,
        Some(_) => return Err(r.field_error("timeout", "must be at least 1 second")),
    };
    Ok(Recipe {
        package: Manifest {
            name: String::new(),
            version: String::new(),
            arch: String::new(),
            authors: Vec::new(),
            license: String::new(),
            dependencies: Vec::new(),
            install_hooks: Vec::new(),
            build_meta: Block::new("build_meta", None),
            description: None,
            tags: Vec::new(),
            deprecated: false,
            archive_sha256: None,
            extra: Vec::new(),
        },
        sources,
        build_dependencies,
        steps,
        source_date_epoch,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
Package "hello-c" {
    string version = "1.0.0";
    string arch = "x86_64";
    string[] authors = { "Jane Doe" };
    string license = "MIT";
    string[] dependencies = { };
    string description = "Says hello";
}
Build {
    Source "src" { string path = "src"; }
    Source "zlib" { string url = "https://example.org/z.tar.gz"; string sha256 = "0000000000000000000000000000000000000000000000000000000000000000"; }
    string[] build_dependencies = { "cc@1.0.0" };
    string[] steps = { "make", "make install DESTDIR=/build/out" };
}
"#;

    #[test]
    fn a_recipe_parses_and_bad_ones_say_where() {
        let r = Recipe::parse(GOOD, "mpt.acl").unwrap();
        assert_eq!(r.package.pin().to_string(), "hello-c@1.0.0");
        assert_eq!(r.sources.len(), 2);
        assert_eq!(r.sources[0].kind, SourceKind::Path("src".into()));
        assert_eq!(r.build_dependencies[0].to_string(), "cc@1.0.0");
        assert_eq!(r.steps.len(), 2);
        assert_eq!((r.source_date_epoch, r.timeout), (0, DEFAULT_STEP_TIMEOUT));

        let no_sha = GOOD.replace(
            "string sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"; ",
            "",
        );
        let e = Recipe::parse(&no_sha, "mpt.acl").unwrap_err().to_string();
        assert!(e.starts_with("mpt.acl:12:"), "{e}");
        assert!(e.contains("needs its `sha256`"), "{e}");
        let escape = GOOD.replace("\"src\"; }", "\"../etc\"; }");
        let e = Recipe::parse(&escape, "mpt.acl").unwrap_err().to_string();
        assert!(e.contains("without `..`"), "{e}");
        let e = Recipe::parse("Build { string[] steps = { \"x\" }; }", "mpt.acl")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `Package \"name\"` block"), "{e}");
    }
}
