//! One configured registry, as the daemon reads it: its snapshot, its index files and its
//! blobs, through the cache in `cache/index/<registry>/` and `cache/blobs/sha256/`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pandora_common::acl::{self, Block, Document, Value};
use pandora_common::files::{
    Index, PackageEntry, Pin, RegistryConfig, RegistryMeta, Snapshot, VersionEntry,
};
use pandora_common::hash::sha256_hex;
use pandora_common::layout::Layout;
use pandora_common::sign::{KeyId, TrustedKey};

use super::http::{self, Conditional, GetError};
use super::{FetchError, io_err, now};

mod blob;
mod prefetch;
mod trust;

pub(crate) use blob::BlobPlan;
pub(crate) use trust::Trust;

/// Largest snapshot or index file accepted.
const MAX_METADATA: u64 = 256 << 20;
/// Cap for blobs whose index entry declares no size.
const MAX_BLOB: u64 = 8 << 30;
/// Largest `.minisig` file accepted.
const MAX_SIGNATURE: u64 = 4096;
/// Most key rotations followed.
const MAX_ROTATIONS: u64 = 64;

/// A registry and its local cache.
pub(crate) struct RegistryClient {
    pub(crate) config: RegistryConfig,
    cache: PathBuf,
    snapshot: Option<Snapshot>,
    /// Whether `snapshot` was read from the registry during this client's life (not only
    /// taken from the cache while its TTL lasts).
    snapshot_checked: bool,
    /// Read the snapshot from the registry first, ignoring the TTL (`--refresh`).
    refresh: bool,
    /// Why the configured URL cannot be used, if it cannot: every request then fails with
    /// that reason, and the other registries still work.
    broken: Option<String>,
    /// The registry's `max_package_size` from its `config.acl`, read once when a blob is
    /// first downloaded.
    max_package_size: OnceLock<u64>,
    /// The keys this registry's signatures must come from: `trusted_keys` of
    /// `registries.acl`, plus keys learned through a key rotation signed by one of them.
    keys: Vec<TrustedKey>,
    /// The key that signed the snapshot in use, when one did.
    snapshot_key: Option<KeyId>,
    /// Whether the registry's `config.acl`, as its signed snapshot vouches for it, says
    /// every package is signed.
    signed_packages: bool,
    /// `registries.acl`, where learned keys are written.
    registries_file: PathBuf,
    /// Keys learned through a signed key rotation, written to `registries.acl` once the
    /// snapshot that led to them is accepted.
    learned: Option<Vec<String>>,
    /// Package signatures downloaded ahead of their packages ([`RegistryClient::prefetch_signatures`]),
    /// by path in the registry; each is taken once.
    signatures: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
    /// Asked during every wait for the registry's metadata: a mutation's stop (its client
    /// left, its deadline passed). `None` for reads.
    stop: super::Stop,
}

enum Base {
    File(PathBuf),
    Http(String),
}

impl RegistryClient {
    /// A client of `config`'s registry; `refresh` revalidates its snapshot before the first
    /// use whatever the cache TTL says.
    pub(crate) fn new(layout: &Layout, config: RegistryConfig, refresh: bool) -> RegistryClient {
        let mut broken = crate::registries::check_url(&config.url)
            .err()
            .map(|e| format!("{e}; fix it: pandora registry add {} URL", config.name));
        let keys = TrustedKey::parse_all(&config.trusted_keys).unwrap_or_else(|e| {
            broken.get_or_insert(format!(
                "{}: trusted_keys of `{}`: {e}; fix it: pandora registry add {} URL --key RW…",
                layout.registries().display(),
                config.name,
                config.name
            ));
            Vec::new()
        });
        RegistryClient {
            cache: layout.index_cache(&config.name),
            config,
            snapshot: None,
            snapshot_checked: false,
            refresh,
            broken,
            max_package_size: OnceLock::new(),
            keys,
            snapshot_key: None,
            signed_packages: false,
            registries_file: layout.registries(),
            learned: None,
            signatures: std::sync::Mutex::default(),
            stop: None,
        }
    }

    /// Makes every wait for this registry's metadata end when `stop` says so.
    pub(crate) fn stop_with(&mut self, stop: super::Stop) {
        self.stop = stop;
    }

    /// Revalidates the snapshot with the registry unless that already happened in this
    /// client's life; returns whether it did. A name or version missing from a cached
    /// snapshot may have been published since: this is the one check before "not found".
    pub(crate) fn revalidate(&mut self) -> Result<bool, FetchError> {
        if self.snapshot_checked {
            return Ok(false);
        }
        self.set_snapshot(true)?;
        Ok(true)
    }

    fn name(&self) -> &str {
        &self.config.name
    }

    fn base(&self) -> Base {
        match self.config.url.strip_prefix("file://") {
            Some(path) => Base::File(PathBuf::from(path)),
            None => {
                let mut url = self.config.url.clone();
                if !url.ends_with('/') {
                    url.push('/');
                }
                Base::Http(url)
            }
        }
    }

    /// `rel` resolved against the registry root. An absolute URL must keep to the kind of
    /// its registry: a `file://` URL only from a `file://` registry, an `http(s)://` URL only
    /// from an `http(s)://` one, so a remote index cannot make the daemon read local files.
    fn locate(&self, rel: &str) -> Result<Base, FetchError> {
        let base = self.base();
        let refuse = |why: &str| {
            Err(FetchError::Refused {
                registry: self.name().to_string(),
                url: rel.to_string(),
                reason: why.to_string(),
            })
        };
        if let Some(path) = rel.strip_prefix("file://") {
            return match base {
                Base::File(_) => Ok(Base::File(PathBuf::from(path))),
                Base::Http(_) => refuse("an http registry may not point at local files"),
            };
        }
        if rel.starts_with("http://") || rel.starts_with("https://") {
            return match base {
                Base::Http(_) => Ok(Base::Http(rel.to_string())),
                Base::File(_) => refuse("a file:// registry may not point at the network"),
            };
        }
        if rel.contains("://") {
            return refuse("only relative paths and the registry's own scheme are allowed");
        }
        Ok(match base {
            Base::File(root) => Base::File(root.join(rel.trim_start_matches('/'))),
            Base::Http(root) => Base::Http(format!("{root}{}", rel.trim_start_matches('/'))),
        })
    }

    /// The registry's largest package, from its `config.acl`; without one (or when it
    /// cannot be read) no limit beyond the client's own.
    fn max_package_size(&self) -> u64 {
        *self.max_package_size.get_or_init(|| {
            let Ok(Base::Http(url)) = self.locate("config.acl") else {
                return u64::MAX;
            };
            match http::get_conditional(&url, None, 1 << 20, &self.stop) {
                Ok(Conditional::Fresh { body, .. }) => String::from_utf8(body)
                    .ok()
                    .and_then(|t| RegistryMeta::parse(&t, "config.acl").ok())
                    .map_or(u64::MAX, |m| m.max_package_size),
                _ => u64::MAX,
            }
        })
    }

    /// Fails when the configured URL cannot be used.
    fn usable(&self) -> Result<(), FetchError> {
        match &self.broken {
            Some(why) => Err(self.unavailable("anything", why)),
            None => Ok(()),
        }
    }

    fn unavailable(&self, what: &str, reason: impl std::fmt::Display) -> FetchError {
        FetchError::Unavailable {
            registry: self.name().to_string(),
            what: what.to_string(),
            reason: reason.to_string(),
        }
    }

    fn invalid(&self, source: pandora_common::files::FileError) -> FetchError {
        FetchError::Invalid {
            registry: self.name().to_string(),
            source,
        }
    }

    /// The registry's current snapshot: the cached one while its TTL lasts, else revalidated.
    pub(crate) fn snapshot(&mut self) -> Result<&Snapshot, FetchError> {
        if self.snapshot.is_none() {
            self.set_snapshot(self.refresh)?;
        }
        Ok(self.snapshot.as_ref().expect("set above"))
    }

    /// Loads the snapshot (from the registry, ignoring the TTL, when `force`) and keeps it.
    fn set_snapshot(&mut self, force: bool) -> Result<(), FetchError> {
        let loaded = match self.load_snapshot(force) {
            // The registry renames its snapshot and then its signature into place: a reader
            // in between sees a pair that does not match. Once more, before refusing.
            Err(FetchError::Untrusted { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(100));
                self.load_snapshot(true)
            }
            other => other,
        };
        let (s, checked, key) = loaded?;
        if s.expires < now() {
            return Err(FetchError::Expired {
                registry: self.name().to_string(),
            });
        }
        let lists_config = s.file("config.acl").is_some();
        self.snapshot = Some(s);
        self.snapshot_checked = checked;
        self.snapshot_key = key;
        // The config's promise to sign every package counts only when a signature the user
        // trusts vouches for it.
        self.signed_packages = false;
        if key.is_some() && lists_config {
            let signed = self.verified_once("config.acl").and_then(|text| {
                RegistryMeta::parse(
                    &text.unwrap_or_default(),
                    &format!("{}/config.acl", self.name()),
                )
                .map_err(|e| self.invalid(e))
            });
            match signed {
                Ok(meta) => self.signed_packages = meta.signed_packages,
                Err(e) => {
                    self.snapshot = None;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Reads `rel` from the registry (at most `cap` bytes); `None` when it is not there.
    fn fetch_optional(&self, rel: &str, cap: u64) -> Result<Option<Vec<u8>>, FetchError> {
        match self.locate(rel)? {
            Base::File(path) => match read_regular(&path, cap) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(self.unavailable(rel, format!("{}: {e}", path.display()))),
            },
            Base::Http(url) => match http::get_conditional(&url, None, cap, &self.stop) {
                Ok(Conditional::Fresh { body, .. }) => Ok(Some(body)),
                Ok(Conditional::NotModified) => Err(self.unavailable(rel, "unexpected 304")),
                Err(GetError::NotFound) => Ok(None),
                Err(e) => Err(self.unavailable(rel, e)),
            },
        }
    }

    /// The snapshot, whether it was read from the registry now (rather than from the cache
    /// while its TTL lasts), and the key that signed it when signatures were checked.
    fn load_snapshot(
        &mut self,
        force: bool,
    ) -> Result<(Snapshot, bool, Option<KeyId>), FetchError> {
        self.usable()?;
        let cached_path = self.cache.join("snapshot.acl");
        let meta_path = self.cache.join("validators.acl");
        let cached_text = fs_err::read_to_string(&cached_path).ok();
        let cached_sig = fs_err::read_to_string(self.cache.join(SIGNATURE)).ok();
        let cached = cached_text
            .as_deref()
            .and_then(|t| Snapshot::parse(t, "snapshot.acl").ok());
        let meta = Validators::load(&meta_path);
        let url = match self.locate("snapshot.acl")? {
            Base::File(path) => {
                let text = read_regular(&path, MAX_METADATA)
                    .and_then(|b| {
                        String::from_utf8(b).map_err(|_| std::io::Error::other("not UTF-8"))
                    })
                    .map_err(|e| {
                        self.unavailable("snapshot.acl", format!("{}: {e}", path.display()))
                    })?;
                let fresh = Snapshot::parse(&text, &path.display().to_string())
                    .map_err(|e| self.invalid(e))?;
                return self.accept(fresh, cached.as_ref(), &text, None);
            }
            Base::Http(url) => url,
        };
        if let (Some(c), Some(m), Some(text)) = (&cached, &meta, &cached_text)
            && !force
            && now() < m.fetched + self.config.cache_ttl.as_secs()
        {
            // Checked again: trust settings may have changed since it was cached.
            if let Ok(key) = self.check_snapshot(c, text, cached_sig.as_deref()) {
                return Ok((c.clone(), false, key));
            }
        }
        let etag = cached
            .as_ref()
            .and(meta.as_ref())
            .and_then(|m| m.etag.as_deref());
        // The URL in the error: the first request to a registry is where a wrong one shows.
        match http::get_conditional(&url, etag, MAX_METADATA, &self.stop)
            .map_err(|e| self.unavailable("snapshot.acl", format!("{url}: {e}")))?
        {
            Conditional::NotModified => {
                let (c, text) = cached
                    .zip(cached_text)
                    .ok_or_else(|| self.unavailable("snapshot.acl", "304 without a cached copy"))?;
                match self.check_snapshot(&c, &text, cached_sig.as_deref()) {
                    Ok(key) => {
                        Validators {
                            etag: meta.and_then(|m| m.etag),
                            fetched: now(),
                        }
                        .save(&meta_path)?;
                        Ok((c, true, key))
                    }
                    // The cached signature does not satisfy today's settings: fetch it all.
                    Err(_) => match http::get_conditional(&url, None, MAX_METADATA, &self.stop)
                        .map_err(|e| self.unavailable("snapshot.acl", e))?
                    {
                        Conditional::Fresh { body, etag } => {
                            let text = String::from_utf8(body)
                                .map_err(|_| self.unavailable("snapshot.acl", "not UTF-8"))?;
                            let fresh =
                                Snapshot::parse(&text, &url).map_err(|e| self.invalid(e))?;
                            self.accept(fresh, Some(&c), &text, etag)
                        }
                        Conditional::NotModified => {
                            Err(self.unavailable("snapshot.acl", "304 to an unconditional request"))
                        }
                    },
                }
            }
            Conditional::Fresh { body, etag } => {
                let text = String::from_utf8(body)
                    .map_err(|_| self.unavailable("snapshot.acl", "not UTF-8"))?;
                let fresh = Snapshot::parse(&text, &url).map_err(|e| self.invalid(e))?;
                self.accept(fresh, cached.as_ref(), &text, etag)
            }
        }
    }

    /// Checks a snapshot just read from the registry: its signature, no rollback, the same
    /// registry name as before; then caches it with its signature.
    fn accept(
        &mut self,
        fresh: Snapshot,
        cached: Option<&Snapshot>,
        text: &str,
        etag: Option<String>,
    ) -> Result<(Snapshot, bool, Option<KeyId>), FetchError> {
        let sig = if self.checks_signatures() {
            self.fetch_optional(SIGNATURE, MAX_SIGNATURE)?
                .map(|b| String::from_utf8(b).unwrap_or_default())
        } else {
            None
        };
        let key = self.check_snapshot(&fresh, text, sig.as_deref())?;
        if let Some(c) = cached {
            if fresh.serial < c.serial {
                return Err(FetchError::Rollback {
                    registry: self.name().to_string(),
                    got: fresh.serial,
                    seen: c.serial,
                });
            }
            if fresh.registry != c.registry {
                let name = self.name();
                return Err(self.untrusted(
                    "snapshot.acl",
                    format!(
                        "it names registry `{}`, but until now this URL served registry `{}`",
                        fresh.registry, c.registry
                    ),
                    format!(
                        "if that change is expected, forget the old one: pandora registry add {name} URL"
                    ),
                ));
            }
        }
        fs_err::create_dir_all(&self.cache).map_err(io_err("create", &self.cache))?;
        let sig_path = self.cache.join(SIGNATURE);
        match &sig {
            Some(sig) => pandora_common::write_atomic(&sig_path, sig.as_bytes())
                .map_err(io_err("write", &sig_path))?,
            None => {
                let _ = fs_err::remove_file(&sig_path);
            }
        }
        pandora_common::write_atomic(&self.cache.join("snapshot.acl"), text.as_bytes())
            .map_err(io_err("write", self.cache.join("snapshot.acl")))?;
        Validators {
            etag,
            fetched: now(),
        }
        .save(&self.cache.join("validators.acl"))?;
        self.remember_learned()?;
        Ok((fresh, true, key))
    }

    /// The registry's public counts, `/metrics.acl` (downloads, installs, publishes per
    /// version), through the cache like the snapshot: the cached copy while the TTL lasts
    /// (unless `refresh`), else revalidated with its ETag. `None` for a registry that serves
    /// none (a `file://` registry, or a static web server).
    pub(crate) fn public_metrics(&self, refresh: bool) -> Result<Option<String>, FetchError> {
        self.usable()?;
        let Base::Http(url) = self.locate("metrics.acl")? else {
            return Ok(None);
        };
        let cached_path = self.cache.join("metrics.acl");
        let meta_path = self.cache.join("metrics-validators.acl");
        let cached = fs_err::read_to_string(&cached_path).ok();
        let meta = Validators::load(&meta_path);
        if let (Some(c), Some(m)) = (&cached, &meta)
            && !refresh
            && now() < m.fetched + self.config.cache_ttl.as_secs()
        {
            return Ok(Some(c.clone()));
        }
        let etag = cached
            .as_ref()
            .and(meta.as_ref())
            .and_then(|m| m.etag.as_deref());
        let (text, etag) = match http::get_conditional(&url, etag, MAX_METADATA, &self.stop) {
            Ok(Conditional::NotModified) => match cached {
                Some(c) => (c, meta.and_then(|m| m.etag)),
                None => return Err(self.unavailable("metrics.acl", "304 without a cached copy")),
            },
            Ok(Conditional::Fresh { body, etag }) => (
                String::from_utf8(body)
                    .map_err(|_| self.unavailable("metrics.acl", "not UTF-8"))?,
                etag,
            ),
            Err(GetError::NotFound) => return Ok(None),
            Err(e) => return Err(self.unavailable("metrics.acl", e)),
        };
        fs_err::create_dir_all(&self.cache).map_err(io_err("create", &self.cache))?;
        pandora_common::replace_unsynced(&cached_path, text.as_bytes())
            .map_err(io_err("write", &cached_path))?;
        Validators {
            etag,
            fetched: now(),
        }
        .save(&meta_path)?;
        Ok(Some(text))
    }

    /// The package `name` from `index/<name>.acl`, or `None` if the registry does not have it
    /// (after revalidating a cached snapshot that does not list it).
    pub(crate) fn package(&mut self, name: &str) -> Result<Option<PackageEntry>, FetchError> {
        match self.package_once(name)? {
            None if self.revalidate()? => self.package_once(name),
            found => Ok(found),
        }
    }

    /// The entry of `pin`'s version and its package, revalidating a cached snapshot that
    /// does not list that version.
    pub(crate) fn version(&mut self, pin: &Pin) -> Result<Option<VersionEntry>, FetchError> {
        let find = |p: Option<PackageEntry>| p.and_then(|p| p.version(&pin.version).cloned());
        match find(self.package(&pin.name)?) {
            None if self.revalidate()? => Ok(find(self.package_once(&pin.name)?)),
            found => Ok(found),
        }
    }

    fn package_once(&mut self, name: &str) -> Result<Option<PackageEntry>, FetchError> {
        let rel = format!("index/{name}.acl");
        let Some(text) = self.verified(&rel)? else {
            return Ok(None);
        };
        PackageEntry::parse(&text, &format!("{}/{rel}", self.name()))
            .map(Some)
            .map_err(|e| self.invalid(e))
    }

    /// The whole index, `index.acl`, for search and listing.
    pub(crate) fn index(&mut self) -> Result<Index, FetchError> {
        let text = self
            .verified("index.acl")?
            .ok_or_else(|| self.unavailable("index.acl", "not listed in snapshot.acl"))?;
        Index::parse(&text, &format!("{}/index.acl", self.name())).map_err(|e| self.invalid(e))
    }

    /// The index file `rel` as the snapshot lists it: from the cache when its hash still
    /// matches, else fetched and accepted only if its sha256 and size match. `None` when the
    /// snapshot does not list it. A mismatch against a snapshot taken from the cache is
    /// checked once more against the registry's current snapshot: the registry may have been
    /// updated since (an honest update changes index files and the snapshot together).
    fn verified(&mut self, rel: &str) -> Result<Option<String>, FetchError> {
        match self.verified_once(rel) {
            Err(FetchError::Mismatch { .. }) if !self.snapshot_checked => {
                self.set_snapshot(true)?;
                self.verified_once(rel)
            }
            other => other,
        }
    }

    fn verified_once(&mut self, rel: &str) -> Result<Option<String>, FetchError> {
        let Some(want) = self.snapshot()?.file(rel).cloned() else {
            return Ok(None);
        };
        let cached_path = self.cache.join(rel);
        let bytes = match fs_err::read(&cached_path) {
            Ok(bytes) if sha256_hex(&bytes) == want.sha256 => bytes,
            _ => {
                let bytes = match self.locate(rel)? {
                    Base::File(path) => read_regular(&path, want.size)
                        .map_err(|e| self.unavailable(rel, format!("{}: {e}", path.display())))?,
                    Base::Http(url) => {
                        match http::get_conditional(&url, None, want.size, &self.stop) {
                            Ok(Conditional::Fresh { body, .. }) => body,
                            Ok(Conditional::NotModified) => {
                                return Err(self.unavailable(rel, "unexpected 304"));
                            }
                            Err(GetError::TooLarge(_)) => {
                                return Err(FetchError::Mismatch {
                                    registry: self.name().to_string(),
                                    what: rel.to_string(),
                                    reason: format!(
                                        "larger than the {} bytes the snapshot says",
                                        want.size
                                    ),
                                });
                            }
                            Err(e) => return Err(self.unavailable(rel, e)),
                        }
                    }
                };
                let got = sha256_hex(&bytes);
                if got != want.sha256 || bytes.len() as u64 != want.size {
                    return Err(FetchError::Mismatch {
                        registry: self.name().to_string(),
                        what: rel.to_string(),
                        reason: format!(
                            "sha256 {got} and {} bytes, snapshot says {} and {} bytes",
                            bytes.len(),
                            want.sha256,
                            want.size
                        ),
                    });
                }
                keep_index_file(&cached_path, &bytes)?;
                bytes
            }
        };
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| self.unavailable(rel, "not UTF-8"))
    }
}

/// Puts a verified index file into the cache. Not synced: every read checks it against the
/// snapshot's hash, so one lost to a crash is only downloaded again.
fn keep_index_file(path: &Path, bytes: &[u8]) -> Result<(), FetchError> {
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir).map_err(io_err("create", dir))?;
    }
    pandora_common::replace_unsynced(path, bytes).map_err(io_err("write", path))
}

/// Puts a verified index file that the cache lacks into it, written in place: one create
/// instead of a temporary file and a rename (prefetching hundreds, the directory's lock was
/// most of the cost). A reader that meets it half-written finds its hash wrong and fetches it
/// again, as for any damaged cache file; a file already there is replaced as usual.
fn keep_new_index_file(path: &Path, bytes: &[u8]) -> Result<(), FetchError> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    use std::io::Write;
    let create = || {
        fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
    };
    let file = match create() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match path.parent() {
            Some(dir) => {
                fs_err::create_dir_all(dir).map_err(io_err("create", dir))?;
                create()
            }
            None => Err(e),
        },
        other => other,
    };
    match file {
        Ok(mut file) => file.write_all(bytes).map_err(|e| {
            let _ = fs_err::remove_file(path);
            io_err("write", path)(e)
        }),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => keep_index_file(path, bytes),
        Err(e) => Err(io_err("write", path)(e)),
    }
}

/// The snapshot's detached signature, on the registry and in the cache.
const SIGNATURE: &str = "snapshot.acl.minisig";

/// Room to leave on the disk beyond a download, for its unpacked files and everything else.
const SPACE_MARGIN: u64 = 64 << 20;

/// Refuses a download of `size` bytes into `dir` when the disk has no room for it.
fn check_space(dir: &Path, pin: &Pin, size: u64) -> Result<(), FetchError> {
    let Ok(st) = rustix::fs::statvfs(dir) else {
        return Ok(());
    };
    let have = st.f_bavail.saturating_mul(st.f_frsize);
    let need = size.saturating_add(SPACE_MARGIN);
    if have < need {
        return Err(FetchError::NoSpace {
            pin: pin.clone(),
            path: dir.to_path_buf(),
            need,
            have,
        });
    }
    Ok(())
}

/// Reads the regular file at `path`, at most `cap` bytes (a device, fifo or directory is
/// refused before it is opened for reading).
fn read_regular(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = fs_err::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if meta.len() > cap {
        return Err(std::io::Error::other(format!("larger than {cap} bytes")));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    fs_err::File::open(path)?
        .take(cap + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::other(format!("larger than {cap} bytes")));
    }
    Ok(bytes)
}

/// HTTP validators of the cached snapshot.
struct Validators {
    etag: Option<String>,
    fetched: u64,
}

impl Validators {
    fn load(path: &Path) -> Option<Validators> {
        let doc = acl::parse(&fs_err::read_to_string(path).ok()?, "validators.acl").ok()?;
        let b = doc.block("Cache")?;
        Some(Validators {
            etag: b
                .field("etag")
                .and_then(|f| f.value.as_str())
                .map(str::to_string),
            fetched: b
                .field("fetched")
                .and_then(|f| f.value.as_int())
                .and_then(|n| u64::try_from(n).ok())?,
        })
    }

    fn save(&self, path: &Path) -> Result<(), FetchError> {
        let mut b = Block::new("Cache", None).with(
            "fetched",
            Value::Int(i64::try_from(self.fetched).unwrap_or(i64::MAX)),
        );
        if let Some(e) = &self.etag {
            b.push_field("etag", Value::Str(e.clone()));
        }
        pandora_common::write_atomic(path, Document::new(vec![b]).to_source().as_bytes())
            .map_err(io_err("write", path))
    }
}
