//! The registry directory and every change made to it.
//!
//! ```text
//! DIR/config.acl              Registry "<name>" { format; keys; max_package_size; }
//! DIR/snapshot.acl            serial, expiry, sha256 and size of every index file
//! DIR/index.acl               Registry "<name>" { Package "x" { ... } }
//! DIR/index/<name>.acl        Package "x" { Version "v" { ... } }
//! DIR/blobs/sha256/<hex>      the .pkg files, content-addressed
//! DIR/.pandora-registry/      lock file, temp files, server state (never served)
//! ```
//!
//! Invariants: every file is written to a temp name, fsynced and renamed; blobs first, then
//! index files, `snapshot.acl` last, so a reader always sees a consistent registry and a crash
//! leaves the previous one intact. Every update holds an exclusive `flock` on
//! `.pandora-registry/lock`, so concurrent `add`s and publishes are serialized across processes.

mod write;

use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use pandora_common::files::{
    FileError, Index, PackageEntry, Pin, RegistryMeta, Snapshot, SnapshotFile, VersionEntry,
    compare_versions, validate_name,
};
use pandora_common::hash::{hash_file, sha256_hex};
use pandora_common::pkg::{self, Limits, UnpackError};

use write::{Update, recover};

/// The private directory: lock, temp files and server state. Never served.
const STATE: &str = ".pandora-registry";
/// How long a snapshot stays valid for clients, from when it was written.
const SNAPSHOT_LIFETIME: u64 = 90 * 24 * 3600;

/// Why a registry operation failed. Each message names the registry file or the package.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// DIR has no `config.acl`.
    #[error("{} is not a Pandora registry (it has no config.acl)", dir.display())]
    NotARegistry {
        /// The directory.
        dir: PathBuf,
    },
    /// `init` on a directory that already holds files.
    #[error("{} already holds files; create a registry in a new or empty directory", dir.display())]
    NotEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// The registry name breaks the naming rule.
    #[error("`{0}` is not a valid registry name: use lowercase letters, digits and `._+-`")]
    BadName(String),
    /// A file system operation failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A registry metadata file is damaged.
    #[error("registry file is damaged")]
    Damaged(#[source] FileError),
    /// The package is not a valid .pkg.
    #[error("{file} is not a valid package")]
    InvalidPackage {
        /// The package as the user named it.
        file: String,
        /// Why.
        #[source]
        source: UnpackError,
    },
    /// The package is larger than the registry accepts.
    #[error("{file} is {size} bytes, over this registry's limit of {max} bytes")]
    TooLarge {
        /// The package.
        file: String,
        /// Its size.
        size: u64,
        /// The limit from config.acl.
        max: u64,
    },
    /// `name@version` exists with other content.
    #[error(
        "{pin} is already published with other content (sha256 {existing}); a published version never changes: publish a new version"
    )]
    Conflict {
        /// The package.
        pin: Pin,
        /// The published blob's sha256.
        existing: String,
        /// The refused blob's sha256.
        new: String,
    },
    /// One update carries two different packages with the same `name@version`.
    #[error("{pin} appears twice in one update with different content")]
    Duplicate {
        /// The package.
        pin: Pin,
    },
    /// `name@version` is not in the registry.
    #[error("{pin} is not in this registry")]
    NotFound {
        /// The package.
        pin: Pin,
    },
}

impl RepoError {
    /// The HTTP status a server answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            RepoError::Conflict { .. } => 409,
            RepoError::TooLarge { .. } => 413,
            RepoError::InvalidPackage { .. } | RepoError::Duplicate { .. } => 422,
            RepoError::NotFound { .. } => 404,
            _ => 500,
        }
    }

    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RepoError::NotARegistry { .. } => "not-a-registry",
            RepoError::NotEmpty { .. } => "not-empty",
            RepoError::BadName(_) => "bad-name",
            RepoError::Io { .. } => "io",
            RepoError::Damaged(_) => "damaged",
            RepoError::InvalidPackage { .. } => "invalid-package",
            RepoError::TooLarge { .. } => "too-large",
            RepoError::Conflict { .. } => "conflict",
            RepoError::Duplicate { .. } => "duplicate",
            RepoError::NotFound { .. } => "not-found",
        }
    }
}

pub(crate) fn io_err<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl FnOnce(io::Error) -> RepoError + 'p {
    move |source| RepoError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What `add` did with one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// Stored and indexed.
    Added {
        /// The package.
        pin: Pin,
        /// Its blob's sha256.
        sha256: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The same bytes were already published.
    Unchanged {
        /// The package.
        pin: Pin,
        /// Its blob's sha256.
        sha256: String,
    },
}

/// What `check` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Blobs verified against the index.
    pub blobs: usize,
    /// Index files verified against the snapshot.
    pub index_files: usize,
    /// Everything wrong, one sentence each.
    pub problems: Vec<String>,
    /// Harmless findings, such as blobs no version references.
    pub warnings: Vec<String>,
}

/// A registry directory.
#[derive(Debug, Clone)]
pub struct Repo {
    dir: PathBuf,
    meta: RegistryMeta,
}

/// An exclusive hold on the registry: every update runs under one.
struct Lock(#[allow(dead_code)] fs_err::File);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Repo {
    /// Creates an empty registry called `name` in `dir` (new or empty).
    pub fn init(dir: &Path, name: &str) -> Result<Repo, RepoError> {
        validate_name(name).map_err(|_| RepoError::BadName(name.to_string()))?;
        if dir.exists() {
            let mut entries = fs_err::read_dir(dir).map_err(io_err("cannot read", dir))?;
            if entries.next().is_some() {
                return Err(RepoError::NotEmpty {
                    dir: dir.to_path_buf(),
                });
            }
        }
        for sub in [
            STATE,
            "index",
            "blobs/sha256",
            &format!("{STATE}/{}", write::STAGE),
        ] {
            fs_err::create_dir_all(dir.join(sub))
                .map_err(io_err("cannot create", &dir.join(sub)))?;
        }
        let meta = RegistryMeta {
            name: name.to_string(),
            format: pandora_common::files::REGISTRY_FORMAT,
            keys: Vec::new(),
            max_package_size: pandora_common::files::DEFAULT_MAX_PACKAGE_SIZE,
            extra: Vec::new(),
        };
        let repo = Repo {
            dir: dir.to_path_buf(),
            meta,
        };
        fs_err::create_dir_all(repo.tmp_dir()).map_err(io_err("cannot create", &repo.tmp_dir()))?;
        let _lock = repo.lock()?;
        let mut update = repo.update();
        update.stage("config.acl", repo.meta.to_source().as_bytes())?;
        let index = Index::from_entries(Some(name.to_string()), Vec::new());
        repo.stage_state(&mut update, &index, &[], None)?;
        update.commit()?;
        Ok(repo)
    }

    /// Opens the registry in `dir`.
    pub fn open(dir: &Path) -> Result<Repo, RepoError> {
        let config = dir.join("config.acl");
        let text = match fs_err::read_to_string(&config) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RepoError::NotARegistry {
                    dir: dir.to_path_buf(),
                });
            }
            Err(e) => return Err(io_err("cannot read", &config)(e)),
        };
        let meta = RegistryMeta::parse(&text, &config.display().to_string())
            .map_err(RepoError::Damaged)?;
        let repo = Repo {
            dir: dir.to_path_buf(),
            meta,
        };
        for d in [repo.tmp_dir(), repo.state_dir().join(write::STAGE)] {
            fs_err::create_dir_all(&d).map_err(io_err("cannot create", &d))?;
        }
        Ok(repo)
    }

    /// The registry's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The registry's name.
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    /// The largest package accepted, in bytes.
    pub fn max_package_size(&self) -> u64 {
        self.meta.max_package_size
    }

    /// Where temporary files (updates, uploads) are made: on the registry's file system, so
    /// they can be renamed into place.
    pub fn tmp_dir(&self) -> PathBuf {
        self.dir.join(STATE).join("tmp")
    }

    /// The private state directory (lock, server metrics).
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join(STATE)
    }

    fn lock(&self) -> Result<Lock, RepoError> {
        let path = self.state_dir().join("lock");
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("cannot open", &path))?;
        file.lock().map_err(io_err("cannot lock", &path))?;
        recover(&self.dir, &self.state_dir())?;
        Ok(Lock(file))
    }

    fn update(&self) -> Update {
        Update::new(&self.dir, &self.state_dir())
    }

    /// The whole index, `index.acl`.
    pub fn index(&self) -> Result<Index, RepoError> {
        let path = self.dir.join("index.acl");
        let text = fs_err::read_to_string(&path).map_err(io_err("cannot read", &path))?;
        Index::parse(&text, &path.display().to_string()).map_err(RepoError::Damaged)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Result<Snapshot, RepoError> {
        let path = self.dir.join("snapshot.acl");
        let text = fs_err::read_to_string(&path).map_err(io_err("cannot read", &path))?;
        Snapshot::parse(&text, &path.display().to_string()).map_err(RepoError::Damaged)
    }

    /// Verifies every package in `files` and adds those not yet published, as one update: all
    /// of them or, on any error, none.
    pub fn add(&self, files: &[PathBuf]) -> Result<Vec<AddOutcome>, RepoError> {
        let _lock = self.lock()?;
        let mut index = self.index()?;
        let mut outcomes = Vec::new();
        let mut new: Vec<(PathBuf, pkg::Inspection)> = Vec::new();
        for file in files {
            let shown = file.display().to_string();
            let size = fs_err::metadata(file)
                .map_err(io_err("cannot read", file))?
                .len();
            if size > self.meta.max_package_size {
                return Err(RepoError::TooLarge {
                    file: shown,
                    size,
                    max: self.meta.max_package_size,
                });
            }
            let found = pkg::inspect_file(file, &Limits::default()).map_err(|e| match e {
                pkg::InspectFileError::Open { source, .. } => io_err("cannot open", file)(source),
                pkg::InspectFileError::Invalid { source, .. } => RepoError::InvalidPackage {
                    file: shown.clone(),
                    source,
                },
            })?;
            let pin = found.manifest.pin();
            let published = index
                .package(&pin.name)
                .and_then(|p| p.version(&pin.version));
            let earlier = new.iter().find(|(_, f)| f.manifest.pin() == pin);
            match (published, earlier) {
                (Some(v), _) if v.sha256 == found.sha256 => {
                    outcomes.push(AddOutcome::Unchanged {
                        pin,
                        sha256: found.sha256,
                    });
                }
                (Some(v), _) => {
                    return Err(RepoError::Conflict {
                        pin,
                        existing: v.sha256.clone(),
                        new: found.sha256,
                    });
                }
                (None, Some((_, f))) if f.sha256 == found.sha256 => {}
                (None, Some(_)) => return Err(RepoError::Duplicate { pin }),
                (None, None) => {
                    outcomes.push(AddOutcome::Added {
                        pin,
                        sha256: found.sha256.clone(),
                        size: found.compressed_size,
                    });
                    new.push((file.clone(), found));
                }
            }
        }
        if new.is_empty() {
            return Ok(outcomes);
        }
        // Blobs first: a reader that sees the new index always finds them.
        let mut update = self.update();
        for (file, found) in &new {
            self.stage_blob(&mut update, file, &found.sha256)?;
        }
        let mut changed: Vec<String> = Vec::new();
        let mut entries = std::mem::take(&mut index.packages);
        for (_, found) in new {
            let m = found.manifest;
            let version = VersionEntry {
                version: m.version.clone(),
                sha256: found.sha256.clone(),
                pkg_url: format!("blobs/sha256/{}", found.sha256),
                manifest_url: None,
                dependencies: m.dependencies.clone(),
                size: Some(found.compressed_size),
                deprecated: m.deprecated,
                hooks: found.run_hooks.clone(),
                extra: Vec::new(),
            };
            let entry = match entries.iter_mut().find(|p| p.name == m.name) {
                Some(e) => e,
                None => {
                    entries.push(PackageEntry {
                        name: m.name.clone(),
                        latest: None,
                        tags: Vec::new(),
                        description: None,
                        versions: Vec::new(),
                        extra: Vec::new(),
                    });
                    entries.last_mut().expect("just pushed")
                }
            };
            entry.versions.push(version);
            let newest = entry
                .versions
                .iter()
                .all(|v| compare_versions(&m.version, &v.version).is_ge());
            if newest || entry.description.is_none() {
                entry.description = m.description.clone();
                entry.tags = m.tags.clone();
            }
            entry.latest = latest_of(entry);
            if !changed.contains(&m.name) {
                changed.push(m.name);
            }
        }
        let old = self.snapshot()?;
        let index = Index::from_entries(index.registry, entries);
        self.stage_state(&mut update, &index, &changed, Some(&old))?;
        update.commit()?;
        Ok(outcomes)
    }

    /// Sets or clears `deprecated` on `name@version`: the only change ever made to a published
    /// version. Returns whether anything changed.
    pub fn deprecate(&self, pin: &Pin, undo: bool) -> Result<bool, RepoError> {
        let _lock = self.lock()?;
        let mut index = self.index()?;
        let mut entries = std::mem::take(&mut index.packages);
        let entry = entries
            .iter_mut()
            .find(|p| p.name == pin.name)
            .ok_or_else(|| RepoError::NotFound { pin: pin.clone() })?;
        let version = entry
            .versions
            .iter_mut()
            .find(|v| v.version == pin.version)
            .ok_or_else(|| RepoError::NotFound { pin: pin.clone() })?;
        if version.deprecated != undo {
            return Ok(false);
        }
        version.deprecated = !undo;
        entry.latest = latest_of(entry);
        let old = self.snapshot()?;
        let index = Index::from_entries(index.registry, entries);
        let mut update = self.update();
        self.stage_state(
            &mut update,
            &index,
            std::slice::from_ref(&pin.name),
            Some(&old),
        )?;
        update.commit()?;
        Ok(true)
    }

    /// Copies a verified package into `blobs/sha256/<hex>`, hashing the copy and refusing it if
    /// the file changed since it was verified.
    fn stage_blob(&self, update: &mut Update, file: &Path, sha256: &str) -> Result<(), RepoError> {
        let target = self.dir.join("blobs/sha256").join(sha256);
        if target.exists() {
            return Ok(());
        }
        let source = fs_err::File::open(file).map_err(io_err("cannot read", file))?;
        let got = update.stage_from(&format!("blobs/sha256/{sha256}"), source)?;
        if got != sha256 {
            update.unstage_last();
            return Err(RepoError::Io {
                action: "package changed while it was being added:",
                path: file.to_path_buf(),
                source: io::Error::other(format!("sha256 {got}, verified {sha256}")),
            });
        }
        Ok(())
    }

    /// Stages `index/<name>.acl` for every changed package, then `index.acl`, then the
    /// snapshot with the next serial, in that order.
    fn stage_state(
        &self,
        update: &mut Update,
        index: &Index,
        changed: &[String],
        old: Option<&Snapshot>,
    ) -> Result<(), RepoError> {
        let old_serial = old.map_or(0, |s| s.serial);
        let mut files: Vec<SnapshotFile> = Vec::new();
        let mut sorted: Vec<&PackageEntry> = index.packages.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        for p in &sorted {
            let rel = format!("index/{}.acl", p.name);
            let recorded = old
                .and_then(|s| s.file(&rel))
                .filter(|_| !changed.contains(&p.name));
            let file = match recorded {
                Some(f) => f.clone(),
                None => {
                    let text = p.to_source();
                    update.stage(&rel, text.as_bytes())?;
                    SnapshotFile {
                        path: rel,
                        sha256: sha256_hex(text.as_bytes()),
                        size: text.len() as u64,
                    }
                }
            };
            files.push(file);
        }
        let whole = Index::from_entries(
            index.registry.clone(),
            sorted.into_iter().cloned().collect(),
        )
        .to_source();
        update.stage("index.acl", whole.as_bytes())?;
        files.insert(
            0,
            SnapshotFile {
                path: "index.acl".to_string(),
                sha256: sha256_hex(whole.as_bytes()),
                size: whole.len() as u64,
            },
        );
        let generated = now();
        let snapshot = Snapshot {
            registry: self.meta.name.clone(),
            serial: old_serial + 1,
            generated,
            expires: generated + SNAPSHOT_LIFETIME,
            files,
        };
        update.stage("snapshot.acl", snapshot.to_source().as_bytes())
    }

    /// Verifies every blob against the index and every index file against the snapshot.
    pub fn check(&self) -> Result<CheckReport, RepoError> {
        // Under the lock: no update half-way, and an interrupted one is completed first.
        let _lock = self.lock()?;
        let mut report = CheckReport::default();
        let snapshot = self.snapshot()?;
        if snapshot.registry != self.meta.name {
            report.problems.push(format!(
                "snapshot.acl names registry `{}`, config.acl `{}`",
                snapshot.registry, self.meta.name
            ));
        }
        if snapshot.expires < now() {
            report.problems.push(
                "snapshot.acl has expired: clients will refuse it; run any update to renew it"
                    .into(),
            );
        }
        for f in &snapshot.files {
            let path = self.dir.join(&f.path);
            match hash_file(&path) {
                Ok(d) if d.sha256 == f.sha256 && d.size == f.size => report.index_files += 1,
                Ok(d) => report.problems.push(format!(
                    "{}: sha256 {} and size {} do not match snapshot.acl (sha256 {}, size {})",
                    f.path, d.sha256, d.size, f.sha256, f.size
                )),
                Err(e) => report.problems.push(format!(
                    "{}: listed in snapshot.acl but cannot be read: {e}",
                    f.path
                )),
            }
        }
        let listed = |rel: &str| snapshot.file(rel).is_some();
        let index_dir = self.dir.join("index");
        for entry in fs_err::read_dir(&index_dir).map_err(io_err("cannot read", &index_dir))? {
            let entry = entry.map_err(io_err("cannot read", &index_dir))?;
            let rel = format!("index/{}", entry.file_name().to_string_lossy());
            if !listed(&rel) {
                report
                    .problems
                    .push(format!("{rel}: not listed in snapshot.acl"));
            }
        }
        let index = self.index()?;
        let mut referenced = std::collections::HashSet::new();
        for p in &index.packages {
            let rel = format!("index/{}.acl", p.name);
            match fs_err::read_to_string(self.dir.join(&rel))
                .map_err(|e| e.to_string())
                .and_then(|t| PackageEntry::parse(&t, &rel).map_err(|e| e.to_string()))
            {
                Ok(own) if &own == p => {}
                Ok(_) => report.problems.push(format!(
                    "{rel}: differs from package `{}` in index.acl",
                    p.name
                )),
                Err(e) => report.problems.push(format!("{rel}: {e}")),
            }
            for v in &p.versions {
                referenced.insert(v.sha256.clone());
                let rel = format!("blobs/sha256/{}", v.sha256);
                match hash_file(&self.dir.join(&rel)) {
                    Ok(d) if d.sha256 == v.sha256 && v.size.is_none_or(|s| s == d.size) => {
                        report.blobs += 1
                    }
                    Ok(d) => report.problems.push(format!(
                        "{}@{}: blob {rel} has sha256 {} and {} bytes, the index says sha256 {}{}",
                        p.name,
                        v.version,
                        d.sha256,
                        d.size,
                        v.sha256,
                        v.size
                            .map(|s| format!(" and {s} bytes"))
                            .unwrap_or_default()
                    )),
                    Err(e) => report.problems.push(format!(
                        "{}@{}: blob {rel} cannot be read: {e}",
                        p.name, v.version
                    )),
                }
            }
        }
        let blob_dir = self.dir.join("blobs/sha256");
        for entry in fs_err::read_dir(&blob_dir).map_err(io_err("cannot read", &blob_dir))? {
            let name = entry
                .map_err(io_err("cannot read", &blob_dir))?
                .file_name()
                .to_string_lossy()
                .into_owned();
            if !referenced.contains(&name) {
                report
                    .warnings
                    .push(format!("blobs/sha256/{name}: no version references it"));
            }
        }
        Ok(report)
    }
}

/// The version a bare `install NAME` gets: the greatest version not deprecated, or the
/// greatest of all when every one is.
fn latest_of(entry: &PackageEntry) -> Option<String> {
    let best = |live: bool| {
        entry
            .versions
            .iter()
            .filter(|v| !live || !v.deprecated)
            .max_by(|a, b| compare_versions(&a.version, &b.version))
            .map(|v| v.version.clone())
    };
    best(true).or_else(|| best(false))
}
