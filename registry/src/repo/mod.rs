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

pub(crate) mod keys;
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

use keys::Signer;
use pandora_common::sign::{Detached, TrustedKey};
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
    /// The secret key cannot be made, read or used.
    #[error("signing key {}: {reason}", path.display())]
    Key {
        /// The secret key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A package's signature was refused.
    #[error("{file}: signature refused: {reason}")]
    Signature {
        /// The package as the user named it.
        file: String,
        /// Why.
        reason: String,
    },
    /// The registry wants signed packages and cannot sign this one itself.
    #[error(
        "{file} has no signature, and registry `{registry}` takes only signed packages (its config.acl says signed_packages = true) and holds no secret key to sign it"
    )]
    Unsigned {
        /// The package as the user named it.
        file: String,
        /// The registry.
        registry: String,
    },
    /// `rotate-key` on a registry without a signing key.
    #[error("registry `{0}` has no signing key to rotate")]
    NoSigningKey(String),
    /// `keygen` on a registry that already signs.
    #[error("registry `{registry}` already signs with key {id}")]
    AlreadySigned {
        /// The registry.
        registry: String,
        /// Its current key id.
        id: String,
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
            RepoError::Signature { .. } | RepoError::Unsigned { .. } => 422,
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
            RepoError::Key { .. } => "key",
            RepoError::Signature { .. } => "bad-signature",
            RepoError::Unsigned { .. } => "unsigned",
            RepoError::NoSigningKey(_) => "no-signing-key",
            RepoError::AlreadySigned { .. } => "already-signed",
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
    /// Signatures verified with the registry's keys (snapshot, packages, key rotations).
    pub signatures: usize,
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
    /// The secret key's password, for registries whose key has one.
    password: Option<String>,
}

/// What `keygen` and `rotate-key` made.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The public key, `RW…`, for clients to pin.
    pub public: String,
    /// Its key id.
    pub id: String,
    /// Where the secret key is.
    pub secret: PathBuf,
    /// The snapshot serial that the new key signed.
    pub serial: u64,
}

/// A package to add and, when it has one, its detached signature's text.
#[derive(Debug, Clone)]
pub struct PackageFile {
    /// The .pkg file.
    pub path: PathBuf,
    /// The `.minisig` text.
    pub signature: Option<String>,
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
            signed_packages: false,
            max_package_size: pandora_common::files::DEFAULT_MAX_PACKAGE_SIZE,
            extra: Vec::new(),
        };
        let repo = Repo {
            dir: dir.to_path_buf(),
            meta,
            password: None,
        };
        fs_err::create_dir_all(repo.tmp_dir()).map_err(io_err("cannot create", &repo.tmp_dir()))?;
        let _lock = repo.lock()?;
        let mut update = repo.update();
        let config = repo.meta.to_source();
        update.stage("config.acl", config.as_bytes())?;
        let index = Index::from_entries(Some(name.to_string()), Vec::new());
        repo.stage_state(&mut update, &index, &[], None, None, Some(&config))?;
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
            password: None,
        };
        for d in [repo.tmp_dir(), repo.state_dir().join(write::STAGE)] {
            fs_err::create_dir_all(&d).map_err(io_err("cannot create", &d))?;
        }
        Ok(repo)
    }

    /// The same registry, whose secret key is decrypted with `password`.
    pub fn with_password(mut self, password: Option<String>) -> Repo {
        self.password = password;
        self
    }

    /// The registry's public keys, from `config.acl`.
    pub fn keys(&self) -> &[String] {
        &self.meta.keys
    }

    /// The registry's signing key, loaded, when it has one. A registry that has one but
    /// cannot load it (a missing file, a wrong password) fails: it never publishes an
    /// unsigned update.
    pub fn signer(&self) -> Result<Option<Signer>, RepoError> {
        match keys::recorded_path(&self.state_dir())? {
            None => Ok(None),
            Some(path) => Signer::load(&path, self.password.clone()).map(Some),
        }
    }

    /// `config.acl` as it is now: another process (`keygen`, `rotate-key`) may have changed
    /// it since this `Repo` was opened, so updates read it under their lock.
    fn current_meta(&self) -> Result<RegistryMeta, RepoError> {
        let path = self.dir.join("config.acl");
        let text = fs_err::read_to_string(&path).map_err(io_err("cannot read", &path))?;
        RegistryMeta::parse(&text, &path.display().to_string()).map_err(RepoError::Damaged)
    }

    /// The public keys of `meta`, parsed.
    fn trusted(&self, meta: &RegistryMeta) -> Result<Vec<TrustedKey>, RepoError> {
        TrustedKey::parse_all(&meta.keys).map_err(|e| RepoError::Key {
            path: self.dir.join("config.acl"),
            reason: e.to_string(),
        })
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
        let files: Vec<PackageFile> = files
            .iter()
            .map(|f| PackageFile {
                path: f.clone(),
                signature: None,
            })
            .collect();
        self.add_packages(&files)
    }

    /// [`Repo::add`] for packages that may carry a detached signature. A signature must verify
    /// with one of the registry's keys; a package without one is signed by the registry's own
    /// key when it has one, and refused when `config.acl` says `signed_packages = true` and
    /// there is no key to sign it with.
    pub fn add_packages(&self, files: &[PackageFile]) -> Result<Vec<AddOutcome>, RepoError> {
        let _lock = self.lock()?;
        let signer = self.signer()?;
        let meta = self.current_meta()?;
        let mut index = self.index()?;
        let mut outcomes = Vec::new();
        let mut new: Vec<(PathBuf, pkg::Inspection, Option<String>)> = Vec::new();
        for PackageFile {
            path: file,
            signature,
        } in files
        {
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
            let earlier = new.iter().find(|(_, f, _)| f.manifest.pin() == pin);
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
                (None, Some((_, f, _))) if f.sha256 == found.sha256 => {}
                (None, Some(_)) => return Err(RepoError::Duplicate { pin }),
                (None, None) => {
                    let sig = self.package_signature(
                        &meta,
                        file,
                        &shown,
                        &pin,
                        &found.sha256,
                        signature.as_deref(),
                        signer.as_ref(),
                    )?;
                    outcomes.push(AddOutcome::Added {
                        pin,
                        sha256: found.sha256.clone(),
                        size: found.compressed_size,
                    });
                    new.push((file.clone(), found, sig));
                }
            }
        }
        if new.is_empty() {
            return Ok(outcomes);
        }
        // Blobs first: a reader that sees the new index always finds them.
        let mut update = self.update();
        for (file, found, sig) in &new {
            self.stage_blob(&mut update, file, &found.sha256)?;
            if let Some(sig) = sig {
                update.stage(&signature_rel(&found.sha256), sig.as_bytes())?;
            }
        }
        let mut changed: Vec<String> = Vec::new();
        let mut entries = std::mem::take(&mut index.packages);
        for (_, found, sig) in new {
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
                signature: sig.map(|_| signature_rel(&found.sha256)),
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
        self.stage_state(
            &mut update,
            &index,
            &changed,
            Some(&old),
            signer.as_ref(),
            None,
        )?;
        update.commit()?;
        Ok(outcomes)
    }

    /// The `.minisig` text a new package is stored with: the one it came with, checked
    /// against the registry's keys, or one made with the registry's key.
    #[allow(clippy::too_many_arguments)]
    fn package_signature(
        &self,
        meta: &RegistryMeta,
        file: &Path,
        shown: &str,
        pin: &Pin,
        sha256: &str,
        given: Option<&str>,
        signer: Option<&Signer>,
    ) -> Result<Option<String>, RepoError> {
        let refuse = |reason: String| RepoError::Signature {
            file: shown.to_string(),
            reason,
        };
        if let Some(text) = given {
            let sig = Detached::parse(text).map_err(|e| refuse(e.to_string()))?;
            let keys = self.trusted(meta)?;
            if keys.is_empty() {
                return Err(refuse(format!(
                    "registry `{}` has no key to check it with; give it one with `pandora-registry keygen DIR`",
                    meta.name
                )));
            }
            let data = fs_err::File::open(file).map_err(io_err("cannot read", file))?;
            sig.verify_reader(&keys, std::io::BufReader::new(data))
                .map_err(|e| {
                    refuse(format!(
                        "{e}; the registry's keys are those in its config.acl"
                    ))
                })?;
            let mut text = text.to_string();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            return Ok(Some(text));
        }
        match signer {
            Some(signer) => {
                let data = fs_err::File::open(file).map_err(io_err("cannot read", file))?;
                signer
                    .sign(
                        std::io::BufReader::new(data),
                        &keys::package_comment(pin, sha256),
                    )
                    .map(Some)
            }
            None if meta.signed_packages => Err(RepoError::Unsigned {
                file: shown.to_string(),
                registry: meta.name.clone(),
            }),
            None => Ok(None),
        }
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
        let signer = self.signer()?;
        let mut update = self.update();
        self.stage_state(
            &mut update,
            &index,
            std::slice::from_ref(&pin.name),
            Some(&old),
            signer.as_ref(),
            None,
        )?;
        update.commit()?;
        Ok(true)
    }

    /// Gives the registry a signing key: a new one at `secret` (encrypted with the
    /// registry's password when one was given), or with `import` the minisign secret key
    /// already there (from `minisign -G`, say). `config.acl` then lists its public key and
    /// says `signed_packages = true`; every package without a signature is signed, and the
    /// snapshot is signed from this update on.
    pub fn keygen(&self, secret: &Path, import: bool) -> Result<NewKey, RepoError> {
        let _lock = self.lock()?;
        let meta = self.current_meta()?;
        if let Some(current) = keys::recorded_path(&self.state_dir())? {
            let signer = Signer::load(&current, self.password.clone())?;
            if meta.keys.contains(&signer.public_text) {
                return Err(RepoError::AlreadySigned {
                    registry: self.meta.name.clone(),
                    id: signer.id.to_string(),
                });
            }
        }
        self.refuse_inside(secret)?;
        let signer = if import {
            keys::check_private(secret)?;
            Signer::load(secret, self.password.clone())?
        } else {
            Signer::generate(secret, self.password.clone())?
        };
        let mut meta = meta;
        meta.keys = vec![signer.public_text.clone()];
        meta.signed_packages = true;
        self.rekey(meta, &signer, None, false)
    }

    /// Replaces the signing key with a new one at `secret` (encrypted with `password`):
    /// `keys/<n>.acl` lists the keys from now on (the new one first, the old ones after it
    /// unless `drop_old`) and is signed by the old key, so clients that pinned it follow.
    /// Every package is signed again with the new key, so a client that pins only the new
    /// key can check them all.
    pub fn rotate_key(
        &self,
        secret: &Path,
        password: Option<String>,
        drop_old: bool,
    ) -> Result<NewKey, RepoError> {
        let _lock = self.lock()?;
        let old = self
            .signer()?
            .ok_or_else(|| RepoError::NoSigningKey(self.meta.name.clone()))?;
        self.refuse_inside(secret)?;
        let new = Signer::generate(secret, password)?;
        let mut meta = self.current_meta()?;
        let mut keys = vec![new.public_text.clone()];
        if !drop_old {
            keys.extend(meta.keys.iter().filter(|k| **k != new.public_text).cloned());
        }
        meta.keys = keys;
        self.rekey(meta, &new, Some(&old), true)
    }

    /// Writes `meta` as the new `config.acl`, signed by `signer` from now on: a rotation
    /// file signed by `previous` when there is one, package signatures where missing (or all
    /// of them, with `resign`), and a new signed snapshot; all in one update.
    fn rekey(
        &self,
        meta: RegistryMeta,
        signer: &Signer,
        previous: Option<&Signer>,
        resign: bool,
    ) -> Result<NewKey, RepoError> {
        let mut update = self.update();
        if let Some(previous) = previous {
            let serial = self.rotations() + 1;
            let rotation = pandora_common::files::KeyRotation {
                registry: meta.name.clone(),
                serial,
                keys: meta.keys.clone(),
            };
            let text = rotation.to_source();
            let comment = pandora_common::sign::rotation_comment(&meta.name, serial);
            let sig = previous.sign(text.as_bytes(), &comment)?;
            let dir = self.dir.join("keys");
            fs_err::create_dir_all(&dir).map_err(io_err("cannot create", &dir))?;
            update.stage(&format!("keys/{serial}.acl"), text.as_bytes())?;
            update.stage(&format!("keys/{serial}.acl.minisig"), sig.as_bytes())?;
        }
        let config = meta.to_source();
        update.stage("config.acl", config.as_bytes())?;
        let mut index = self.index()?;
        let mut changed = Vec::new();
        for p in &mut index.packages {
            for v in &mut p.versions {
                if v.signature.is_some() && !resign {
                    continue;
                }
                let blob = self.dir.join("blobs/sha256").join(&v.sha256);
                let data = fs_err::File::open(&blob).map_err(io_err("cannot read", &blob))?;
                let pin = Pin {
                    name: p.name.clone(),
                    version: v.version.clone(),
                };
                let sig = signer.sign(
                    std::io::BufReader::new(data),
                    &keys::package_comment(&pin, &v.sha256),
                )?;
                update.stage(&signature_rel(&v.sha256), sig.as_bytes())?;
                v.signature = Some(signature_rel(&v.sha256));
                if !changed.contains(&p.name) {
                    changed.push(p.name.clone());
                }
            }
        }
        let old = self.snapshot()?;
        let next = Repo {
            dir: self.dir.clone(),
            meta,
            password: None,
        };
        next.stage_state(
            &mut update,
            &index,
            &changed,
            Some(&old),
            Some(signer),
            Some(&config),
        )?;
        // In the same update as the config that lists its key: a crash leaves the old key
        // and the old config, or the new ones, never a key no client trusts.
        update.stage(
            &format!("{STATE}/{}", keys::SIGNING),
            keys::signing_text(&signer.path).as_bytes(),
        )?;
        update.commit()?;
        Ok(NewKey {
            public: signer.public_text.clone(),
            id: signer.id.to_string(),
            secret: signer.path.clone(),
            serial: old.serial + 1,
        })
    }

    /// How many key rotations the registry has made (`keys/1.acl`, `keys/2.acl`, …).
    pub fn rotations(&self) -> u64 {
        let mut n = 0;
        while self.dir.join(format!("keys/{}.acl", n + 1)).exists() {
            n += 1;
        }
        n
    }

    /// Refuses a secret key path inside the served directory.
    fn refuse_inside(&self, secret: &Path) -> Result<(), RepoError> {
        let absolute = |p: &Path| -> PathBuf {
            let p = if p.is_absolute() {
                p.to_path_buf()
            } else {
                std::env::current_dir().unwrap_or_default().join(p)
            };
            // The deepest existing ancestor, resolved, with the rest appended.
            let mut existing = p.as_path();
            let mut rest = Vec::new();
            while !existing.exists() {
                let Some(parent) = existing.parent() else {
                    break;
                };
                rest.push(existing.file_name().map(|n| n.to_os_string()));
                existing = parent;
            }
            let mut out = fs_err::canonicalize(existing).unwrap_or_else(|_| existing.to_path_buf());
            for part in rest.into_iter().rev().flatten() {
                out.push(part);
            }
            out
        };
        if absolute(secret).starts_with(absolute(&self.dir)) {
            return Err(RepoError::Key {
                path: secret.to_path_buf(),
                reason: format!(
                    "it is inside the registry directory {}, which is served to everyone; keep the secret key elsewhere (the default is ~/.config/pandora-registry/)",
                    self.dir.display()
                ),
            });
        }
        Ok(())
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
    ///
    /// The snapshot also lists `config.acl` (`config`, when this update writes a new one,
    /// else the file as it is), so its `signed_packages` is covered by the signature that a
    /// registry with a `signer` puts on the snapshot (`snapshot.acl.minisig`).
    fn stage_state(
        &self,
        update: &mut Update,
        index: &Index,
        changed: &[String],
        old: Option<&Snapshot>,
        signer: Option<&Signer>,
        config: Option<&str>,
    ) -> Result<(), RepoError> {
        let old_serial = old.map_or(0, |s| s.serial);
        let mut files: Vec<SnapshotFile> = Vec::new();
        let config = match config {
            Some(text) => text.as_bytes().to_vec(),
            None => {
                let path = self.dir.join("config.acl");
                fs_err::read(&path).map_err(io_err("cannot read", &path))?
            }
        };
        files.push(SnapshotFile {
            path: "config.acl".to_string(),
            sha256: sha256_hex(&config),
            size: config.len() as u64,
        });
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
            1,
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
        let text = snapshot.to_source();
        update.stage("snapshot.acl", text.as_bytes())?;
        if let Some(signer) = signer {
            let comment = pandora_common::sign::snapshot_comment(
                &snapshot.registry,
                snapshot.serial,
                snapshot.expires,
            );
            let sig = signer.sign(text.as_bytes(), &comment)?;
            update.stage("snapshot.acl.minisig", sig.as_bytes())?;
        }
        Ok(())
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
            let referenced_sig = name
                .strip_suffix(".minisig")
                .is_some_and(|hex| referenced.contains(hex));
            if !referenced.contains(&name) && !referenced_sig {
                report
                    .warnings
                    .push(format!("blobs/sha256/{name}: no version references it"));
            }
        }
        self.check_signatures(&snapshot, &index, &mut report)?;
        Ok(report)
    }

    /// Checks every signature present with the keys of `config.acl`, and that nothing the
    /// config promises to sign is unsigned.
    fn check_signatures(
        &self,
        snapshot: &Snapshot,
        index: &Index,
        report: &mut CheckReport,
    ) -> Result<(), RepoError> {
        let meta = self.current_meta()?;
        let keys = self.trusted(&meta)?;
        let read = |rel: &str| fs_err::read_to_string(self.dir.join(rel)).ok();
        let snapshot_text = read("snapshot.acl").unwrap_or_default();
        match (keys.is_empty(), read("snapshot.acl.minisig")) {
            (true, None) => {}
            (true, Some(_)) => report.warnings.push(
                "snapshot.acl.minisig: present, but config.acl lists no keys to check it".into(),
            ),
            (false, None) => report.problems.push(
                "snapshot.acl.minisig: missing, though config.acl lists keys: clients that pinned them refuse this registry; any update (pandora-registry add) signs it"
                    .into(),
            ),
            (false, Some(text)) => {
                match Detached::parse(&text)
                    .and_then(|sig| sig.verify(&keys, snapshot_text.as_bytes()).map(|_| sig))
                {
                    Err(e) => report
                        .problems
                        .push(format!("snapshot.acl.minisig: {e}")),
                    Ok(sig) => {
                        let want = pandora_common::sign::snapshot_comment(
                            &snapshot.registry,
                            snapshot.serial,
                            snapshot.expires,
                        );
                        if sig.trusted_comment() != want {
                            report.problems.push(format!(
                                "snapshot.acl.minisig: its trusted comment says `{}`, the snapshot `{want}`",
                                sig.trusted_comment()
                            ));
                        } else {
                            report.signatures += 1;
                        }
                    }
                }
            }
        }
        for p in &index.packages {
            for v in &p.versions {
                let Some(rel) = &v.signature else {
                    if meta.signed_packages {
                        report.problems.push(format!(
                            "{}@{}: unsigned, though config.acl says signed_packages = true",
                            p.name, v.version
                        ));
                    }
                    continue;
                };
                let blob = self.dir.join("blobs/sha256").join(&v.sha256);
                let verdict = read(rel)
                    .ok_or_else(|| format!("{rel} cannot be read"))
                    .and_then(|t| Detached::parse(&t).map_err(|e| format!("{rel}: {e}")))
                    .and_then(|sig| {
                        let data = fs_err::File::open(&blob).map_err(|e| e.to_string())?;
                        sig.verify_reader(&keys, std::io::BufReader::new(data))
                            .map(|_| ())
                            .map_err(|e| format!("{rel}: {e}"))
                    });
                match verdict {
                    Ok(()) => report.signatures += 1,
                    Err(e) => report
                        .problems
                        .push(format!("{}@{}: {e}", p.name, v.version)),
                }
            }
        }
        let mut previous: Option<Vec<TrustedKey>> = None;
        let rotations = self.rotations();
        for n in 1..=rotations {
            let rel = format!("keys/{n}.acl");
            let step = read(&rel)
                .ok_or_else(|| "cannot be read".to_string())
                .and_then(|t| {
                    let rotation = pandora_common::files::KeyRotation::parse(&t, &rel)
                        .map_err(|e| e.to_string())?;
                    let sig = read(&format!("{rel}.minisig"))
                        .ok_or_else(|| format!("{rel}.minisig is missing"))
                        .and_then(|s| Detached::parse(&s).map_err(|e| e.to_string()))?;
                    if let Some(prev) = &previous {
                        sig.verify(prev, t.as_bytes())
                            .map_err(|e| format!("{rel}.minisig: {e}"))?;
                    }
                    if rotation.serial != n || rotation.registry != meta.name {
                        return Err(format!(
                            "names rotation {} of registry `{}`",
                            rotation.serial, rotation.registry
                        ));
                    }
                    Ok(rotation)
                });
            match step {
                Ok(rotation) => {
                    if previous.is_some() {
                        report.signatures += 1;
                    }
                    if n == rotations && rotation.keys != meta.keys {
                        report.problems.push(format!(
                            "{rel}: the last key rotation lists other keys than config.acl"
                        ));
                    }
                    previous = TrustedKey::parse_all(&rotation.keys).ok();
                }
                Err(e) => {
                    report.problems.push(format!("{rel}: {e}"));
                    previous = None;
                }
            }
        }
        Ok(())
    }
}

/// Where a package's detached signature is, relative to the registry root.
fn signature_rel(sha256: &str) -> String {
    format!("blobs/sha256/{sha256}.minisig")
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
