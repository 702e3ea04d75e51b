//! `pandora build`: run a recipe (`mpt.acl`) in the sandbox and pack what its steps put in
//! `/build/out` into a deterministic `.pkg`, with `provenance.acl` and an SPDX SBOM.
//!
//! Inputs first: the recipe is parsed, build dependencies must be in the store, path sources
//! are hashed and URL sources fetched and verified, all before anything runs. Their hashes
//! and the builder's version make the build's cache key (`cache/build/<key>.pkg`): a match
//! returns the cached package at once. Otherwise each step runs with `sh -c` in its own
//! sandbox over one scratch `/build` (sources copied into `/build/src`, writable), build
//! dependencies read-only at `/deps/<name>` with their `bin` on `PATH`, no network, and
//! `SOURCE_DATE_EPOCH` from the recipe. The sandbox hides the scratch directory's real
//! path, the time zone, the locale, the user and the umask, so the same inputs give the
//! same bytes; `--check` builds twice and compares.

mod cache;
pub(crate) mod sbom;
mod sources;

pub(crate) use cache::{export as export_cache, import as import_cache};

use std::path::{Path, PathBuf};
use std::time::Duration;

use pandora_common::acl::{Block, Document, Value};
use pandora_common::files::{Manifest, Pin, Recipe, SourceKind};
use pandora_common::layout::Layout;
use pandora_common::pkg::{self, Limits, PackOptions};
use pandora_proto::v1::Summary;

use crate::engine::{Events, Outcome};
use crate::error::{Error, Result};
use crate::journal;
use crate::sandbox::{self, Ended, Job};
use crate::store::StoreView;

/// What `pandora build` names the builder, in the manifest, provenance and SBOM.
fn builder() -> String {
    format!("pandora build {}", env!("CARGO_PKG_VERSION"))
}

/// What to build.
pub(crate) struct Request<'a> {
    /// The directory holding `mpt.acl`.
    pub(crate) dir: &'a Path,
    /// Where to write the `.pkg`: a file, or a directory for `NAME-VERSION.pkg`.
    pub(crate) out: &'a Path,
    /// Build twice and compare the bytes.
    pub(crate) check: bool,
    /// Ignore the build cache.
    pub(crate) no_cache: bool,
}

/// Everything a build depends on, resolved.
struct Inputs {
    recipe: Recipe,
    recipe_sha256: String,
    sources: Vec<sources::Ready>,
    /// Build dependencies with their archive sha256.
    deps: Vec<(Pin, String)>,
    /// The hooks directory's tree hash ("" when none).
    hooks_sha256: String,
}

impl Inputs {
    /// The cache key: every input's hash and the builder.
    fn key(&self) -> String {
        key(
            &builder(),
            &self.recipe_sha256,
            &self.hooks_sha256,
            self.sources
                .iter()
                .map(|s| (s.source.label.clone(), s.sha256.clone())),
            self.deps
                .iter()
                .map(|(p, sha)| (p.to_string(), sha.clone())),
        )
    }
}

/// The cache key of a build from its inputs' hashes (all of which `provenance.acl` records,
/// so an imported cache entry's key can be checked against the package it holds).
fn key(
    builder: &str,
    recipe_sha256: &str,
    hooks_sha256: &str,
    sources: impl Iterator<Item = (String, String)>,
    deps: impl Iterator<Item = (String, String)>,
) -> String {
    let mut text = format!("{builder}\nrecipe {recipe_sha256}\nhooks {hooks_sha256}\n");
    for (label, sha) in sources {
        text.push_str(&format!("source {label} {sha}\n"));
    }
    for (pin, sha) in deps {
        text.push_str(&format!("dep {pin} {sha}\n"));
    }
    pandora_common::hash::sha256_hex(text.as_bytes())
}

/// The cache key a package's own `provenance.acl` gives, if it has one Pandora can read.
pub(crate) fn key_of_provenance(text: &str) -> Option<String> {
    let doc = pandora_common::acl::parse_data(text, "provenance.acl").ok()?;
    let p = doc.block("provenance")?;
    let s = |b: &Block, name: &str| match b.field(name).map(|f| &f.value) {
        Some(Value::Str(v)) => Some(v.clone()),
        _ => None,
    };
    let label = |b: &Block| b.label.as_ref().map(|l| l.as_str().to_string());
    let sources = p
        .blocks()
        .filter(|b| b.name.as_str() == "Source")
        .map(|b| Some((label(b)?, s(b, "sha256")?)))
        .collect::<Option<Vec<_>>>()?;
    let deps = p
        .blocks()
        .filter(|b| b.name.as_str() == "BuildDependency")
        .map(|b| {
            Some((
                format!("{}@{}", label(b)?, s(b, "version")?),
                s(b, "sha256")?,
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(key(
        &s(p, "builder")?,
        &s(p, "recipe_sha256")?,
        &s(p, "hooks_sha256").unwrap_or_default(),
        sources.into_iter(),
        deps.into_iter(),
    ))
}

/// Builds the recipe in `req.dir`.
pub(crate) fn build(
    layout: &Layout,
    store: &StoreView,
    req: &Request<'_>,
    events: &Events,
) -> Outcome {
    let inputs = inputs(layout, store, req.dir, events)?;
    let recipe = &inputs.recipe;
    let pin = recipe.package.pin();
    let out = if req.out.is_dir() {
        req.out.join(format!("{}-{}.pkg", pin.name, pin.version))
    } else {
        req.out.to_path_buf()
    };
    let key = inputs.key();
    let cached = layout.build_cache().join(format!("{key}.pkg"));
    let mut lines = Vec::new();
    // A cache entry counts only if it holds this very package (an imported entry is trusted
    // for its inputs, but not for its name).
    let cached_fits = || {
        crate::pkgfile::member_text(&cached, "manifest.acl")
            .and_then(|text| Manifest::parse(&text, "manifest.acl").ok())
            .is_some_and(|m| m.pin() == pin)
    };
    if !req.no_cache && !req.check && cached_fits() {
        copy_out(&cached, &out)?;
        let sha = pandora_common::hash::hash_file(&out)
            .map_err(Error::io("read", &out))?
            .sha256;
        lines.push(format!(
            "built {pin} from the build cache: {} (sha256 {sha})",
            out.display()
        ));
        return Ok(summary(lines, 1));
    }
    let first = run_once(layout, req.dir, &inputs, events)?;
    if req.check {
        // A second build, in another scratch directory and at another time.
        std::thread::sleep(Duration::from_millis(1100));
        events.info(format!("{pin}: building again to compare"));
        let second = run_once(layout, req.dir, &inputs, events)?;
        let a = fs_err::read(&first.pkg).map_err(Error::io("read", &first.pkg))?;
        let b = fs_err::read(&second.pkg).map_err(Error::io("read", &second.pkg))?;
        if a != b {
            return Err(Error::NotReproducible {
                files: differences(&first.pkg, &second.pkg),
                pin,
            });
        }
        lines.push(format!(
            "{pin} is reproducible: two builds gave the same bytes"
        ));
    }
    let parent = layout.build_cache();
    fs_err::create_dir_all(&parent).map_err(Error::io("create", &parent))?;
    copy_out(&first.pkg, &cached)?;
    copy_out(&first.pkg, &out)?;
    let sha = pandora_common::hash::hash_file(&out)
        .map_err(Error::io("read", &out))?
        .sha256;
    journal::record(layout, &format!("build {pin} sha256={sha}"));
    lines.push(format!("built {pin}: {} (sha256 {sha})", out.display()));
    Ok(summary(lines, 0))
}

fn summary(lines: Vec<String>, cached: u64) -> Summary {
    Summary {
        lines,
        counts: [("cached".to_string(), cached)].into_iter().collect(),
        ..Default::default()
    }
}

/// Copies `from` to `to` through a temporary file beside `to` and one rename.
fn copy_out(from: &Path, to: &Path) -> Result<()> {
    let parent = to.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".pandora-build-")
        .tempfile_in(parent)
        .map_err(Error::io("create a file in", parent))?;
    fs_err::copy(from, tmp.path()).map_err(Error::io("write", tmp.path()))?;
    tmp.persist(to)
        .map_err(|e| Error::io("write", to)(e.error))?;
    Ok(())
}

/// The recipe, its build dependencies and its sources, checked before anything runs.
fn inputs(layout: &Layout, store: &StoreView, dir: &Path, events: &Events) -> Result<Inputs> {
    let path = dir.join("mpt.acl");
    let text = fs_err::read_to_string(&path).map_err(Error::io("read", &path))?;
    let recipe =
        Recipe::parse(&text, &path.display().to_string()).map_err(|source| Error::BadConfig {
            path: path.clone(),
            source: Box::new(source),
        })?;
    let pin = recipe.package.pin();
    let mut deps = Vec::new();
    let mut missing = Vec::new();
    for d in &recipe.build_dependencies {
        match store.get(&d.name, &d.version) {
            Some(i) => deps.push((
                d.clone(),
                i.manifest.archive_sha256.clone().unwrap_or_default(),
            )),
            None => missing.push((d.clone(), vec![pin.clone()])),
        }
    }
    if !missing.is_empty() {
        return Err(Error::MissingDependencies(missing));
    }
    for h in &recipe.package.install_hooks {
        if !dir.join(h).is_file() {
            return Err(Error::BuildFailed {
                pin,
                what: format!(
                    "the recipe names the hook file {h}, which is not in {}",
                    dir.display()
                ),
            });
        }
    }
    let hooks_dir = dir.join("hooks");
    let hooks_sha256 = if recipe.package.install_hooks.is_empty() || !hooks_dir.is_dir() {
        String::new()
    } else {
        sources::tree_hash(&hooks_dir).map_err(Error::io("read", &hooks_dir))?
    };
    let sources = sources::prepare(layout, dir, &pin, &recipe.sources, events)?;
    Ok(Inputs {
        recipe_sha256: pandora_common::hash::sha256_hex(text.as_bytes()),
        recipe,
        sources,
        deps,
        hooks_sha256,
    })
}

/// A finished build: its `.pkg`, inside a scratch directory removed when this is dropped.
struct Built {
    _scratch: tempfile::TempDir,
    pkg: PathBuf,
}

fn run_once(layout: &Layout, dir: &Path, inputs: &Inputs, events: &Events) -> Result<Built> {
    let recipe = &inputs.recipe;
    let pin = recipe.package.pin();
    let scratch = tempfile::Builder::new()
        .prefix("build-")
        .tempdir_in(layout.tmp())
        .map_err(Error::io("create a directory in", layout.tmp()))?;
    let root = scratch.path().join("build");
    let src = root.join("src");
    let out = root.join("out");
    for d in [&src, &out] {
        fs_err::create_dir_all(d).map_err(Error::io("create", d))?;
    }
    let one = inputs.sources.len() == 1;
    for s in &inputs.sources {
        let to = if one {
            src.clone()
        } else {
            src.join(&s.source.label)
        };
        let to = match &s.source.kind {
            SourceKind::Url { url, .. } => {
                fs_err::create_dir_all(&to).map_err(Error::io("create", &to))?;
                to.join(
                    url.rsplit('/')
                        .next()
                        .filter(|n| !n.is_empty())
                        .unwrap_or("source"),
                )
            }
            SourceKind::Path(_) if s.path.is_file() => {
                fs_err::create_dir_all(&to).map_err(Error::io("create", &to))?;
                to.join(s.path.file_name().unwrap_or_default())
            }
            SourceKind::Path(_) => to,
        };
        sources::copy_tree(&s.path, &to).map_err(Error::io("copy the source into", &to))?;
    }
    let mut path = String::new();
    for (p, _) in &inputs.deps {
        path.push_str(&format!("/deps/{}/bin:", p.name));
    }
    path.push_str("/usr/local/bin:/usr/bin:/bin");
    let n = recipe.steps.len();
    for (i, step) in recipe.steps.iter().enumerate() {
        events.check()?;
        let mut job = Job::new(vec!["/bin/sh".into(), "-c".into(), step.clone()]);
        job.binds.push(sandbox::Bind {
            source: root.clone(),
            target: PathBuf::from("/build"),
            writable: true,
        });
        for (p, _) in &inputs.deps {
            job.binds.push(sandbox::Bind {
                source: layout.store_entry(&p.name, &p.version).join("files"),
                target: PathBuf::from(format!("/deps/{}", p.name)),
                writable: false,
            });
        }
        job.cwd = PathBuf::from("/build/src");
        job.home = PathBuf::from("/build");
        job.env.push(("PATH".into(), path.clone()));
        job.env.push((
            "SOURCE_DATE_EPOCH".into(),
            recipe.source_date_epoch.to_string(),
        ));
        job.limits.timeout = Duration::from_secs(recipe.timeout);
        events.info(format!("{pin}: step {}/{n}: {step}", i + 1));
        let how = match sandbox::run(&job, &format!("{pin} step {}", i + 1), events) {
            Ended::Exited(0) => continue,
            Ended::Unavailable(reason) => format!("could not run in the sandbox: {reason}"),
            Ended::Cancelled(e) => return Err(e),
            failed => failed.failure(job.limits.timeout).unwrap_or_default(),
        };
        return Err(Error::BuildFailed {
            pin,
            what: format!("step {}/{n} `{step}` {how} (its output is above)", i + 1),
        });
    }
    pack_output(dir, scratch, &root, inputs, &pin)
}

/// Makes the package directory (manifest, files, hooks, provenance, SBOM) and packs it.
fn pack_output(
    dir: &Path,
    scratch: tempfile::TempDir,
    root: &Path,
    inputs: &Inputs,
    pin: &Pin,
) -> Result<Built> {
    let recipe = &inputs.recipe;
    let pkg_dir = scratch.path().join("package");
    let files = pkg_dir.join("files");
    fs_err::create_dir_all(&pkg_dir).map_err(Error::io("create", &pkg_dir))?;
    // The steps may have replaced /build/out with a link (to `/`, say): only a directory is
    // taken, and what is in it is read without following links.
    let out = root.join("out");
    if !fs_err::symlink_metadata(&out).is_ok_and(|m| m.is_dir()) {
        return Err(Error::BuildFailed {
            pin: pin.clone(),
            what: "the steps left /build/out as something other than a directory".into(),
        });
    }
    fs_err::rename(&out, &files).map_err(Error::io("move", &files))?;
    if !recipe.package.install_hooks.is_empty() {
        sources::copy_tree(&dir.join("hooks"), &pkg_dir.join("hooks"))
            .map_err(Error::io("copy", dir.join("hooks")))?;
    }
    let epoch = recipe.source_date_epoch;
    let mut manifest: Manifest = recipe.package.clone();
    manifest.build_meta = Block::new("build_meta", None)
        .with("builder", Value::Str(builder()))
        .with("recipe_sha256", Value::Str(inputs.recipe_sha256.clone()))
        .with(
            "source_date_epoch",
            Value::Int(i64::try_from(epoch).unwrap_or(i64::MAX)),
        );
    write(&pkg_dir.join("manifest.acl"), &manifest.to_source())?;
    write(&pkg_dir.join("provenance.acl"), &provenance(inputs))?;
    let payload = sbom::payload_files(&files).map_err(Error::io("read", &files))?;
    let doc = sbom::document(
        &manifest,
        &payload,
        &inputs.sources,
        &inputs.deps,
        epoch,
        &builder(),
    );
    write(&pkg_dir.join("sbom.spdx.json"), &doc)?;
    let pkg_path = scratch
        .path()
        .join(format!("{}-{}.pkg", pin.name, pin.version));
    let mut file = fs_err::File::create(&pkg_path).map_err(Error::io("create", &pkg_path))?;
    let opts = PackOptions {
        source_date_epoch: epoch,
        ..PackOptions::default()
    };
    pkg::pack(&pkg_dir, &mut file, &opts).map_err(|e| Error::BuildFailed {
        pin: pin.clone(),
        what: format!(
            "cannot pack what the steps made: {}",
            pandora_common::error_chain(&e, ": ")
        ),
    })?;
    Ok(Built {
        _scratch: scratch,
        pkg: pkg_path,
    })
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs_err::write(path, text).map_err(Error::io("write", path))
}

/// `provenance.acl`: what went into the package and how it was made.
fn provenance(inputs: &Inputs) -> String {
    let recipe = &inputs.recipe;
    let mut b = Block::new("provenance", None)
        .with("builder", Value::Str(builder()))
        .with("recipe_sha256", Value::Str(inputs.recipe_sha256.clone()))
        .with(
            "source_date_epoch",
            Value::Int(i64::try_from(recipe.source_date_epoch).unwrap_or(i64::MAX)),
        );
    if !inputs.hooks_sha256.is_empty() {
        b.push_field("hooks_sha256", Value::Str(inputs.hooks_sha256.clone()));
    }
    for s in &inputs.sources {
        let mut sb = Block::new("Source", Some(s.source.label.clone()));
        match &s.source.kind {
            SourceKind::Path(p) => sb.push_field("path", Value::Str(p.clone())),
            SourceKind::Url { url, .. } => sb.push_field("url", Value::Str(url.clone())),
        }
        sb.push_field("sha256", Value::Str(s.sha256.clone()));
        b.push_block(sb);
    }
    for (p, sha) in &inputs.deps {
        b.push_block(
            Block::new("BuildDependency", Some(p.name.clone()))
                .with("version", Value::Str(p.version.clone()))
                .with("sha256", Value::Str(sha.clone())),
        );
    }
    b.push_block(
        Block::new("sandbox", None)
            .with(
                "namespaces",
                Value::StrArray(
                    ["user", "mount", "pid", "net", "ipc", "uts"]
                        .map(String::from)
                        .to_vec(),
                ),
            )
            .with("network", Value::Str("loopback only".into()))
            .with("seccomp", Value::Bool(true))
            .with("capabilities", Value::Str("none".into()))
            .with(
                "environment",
                Value::StrArray(
                    ["TZ=UTC", "LC_ALL=C", "HOME=/build", "umask=022"]
                        .map(String::from)
                        .to_vec(),
                ),
            )
            .with(
                "step_timeout",
                Value::Int(i64::try_from(recipe.timeout).unwrap_or(i64::MAX)),
            ),
    );
    Document::new(vec![b]).to_source()
}

/// The paths whose content, mode or kind differ between two packages.
fn differences(a: &Path, b: &Path) -> Vec<String> {
    let entries = |p: &Path| {
        pkg::inspect_file(p, &Limits::default())
            .map(|i| {
                i.entries
                    .into_iter()
                    .map(|e| (e.path.clone(), (e.kind, e.mode, e.sha256, e.link_target)))
                    .collect::<std::collections::BTreeMap<_, _>>()
            })
            .unwrap_or_default()
    };
    let (a, b) = (entries(a), entries(b));
    let mut out: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    if out.is_empty() {
        out.push("the archive's bytes (the same files)".into());
    }
    out
}
