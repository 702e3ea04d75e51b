//! A registry's blobs. An install reads each package once: [`RegistryClient::plan_blob`]
//! decides where its bytes come from (the cache, the registry directory in place, or a
//! download) and which signature must cover them; [`BlobPlan::open`] gives a reader that the
//! unpacker consumes while the same pass writes a download into a partial file and feeds the
//! signature's BLAKE2b; [`BlobReader::finish`] then accepts it (the unpacker's sha256 equals the
//! index's, the signature holds) and only then moves the download into the cache.
//! `pandora info` still downloads whole blobs first ([`RegistryClient::blob`]).

use std::cell::Cell;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use pandora_common::files::{Pin, VersionEntry};
use pandora_common::layout::Layout;
use pandora_common::sign::{Detached, SignError, StreamCheck};

use super::{Base, MAX_BLOB, RegistryClient, Trust, check_space};
use crate::engine::{Events, Task};
use crate::fetch::http::{self, DownloadError};
use crate::fetch::http1;
use crate::fetch::{FetchError, io_err};

/// Where a blob is now.
pub(crate) struct Fetched {
    /// The verified blob in the cache (or, for `file://` registries, in place).
    pub(crate) path: PathBuf,
    /// Whether it came over the network in this call.
    pub(crate) downloaded: bool,
    /// Which signatures vouch for it.
    pub(crate) trust: Trust,
}

/// Where a blob's bytes come from.
enum Source {
    /// The blob cache already holds it (checked again as it is read).
    Cached(PathBuf),
    /// A `file://` registry: read in place. Only a regular file: a device or a fifo would
    /// hang or never end.
    InPlace(PathBuf),
    /// Downloaded from `url`, at most `cap` bytes.
    Http { url: String, cap: u64 },
}

/// A package signature to check, found before the package is read.
pub(crate) struct PackageSignature {
    pub(super) sig: Detached,
    pub(super) text: String,
    /// Kept beside the cached blob by an earlier install (when it no longer verifies, the
    /// registry's is fetched and checked instead).
    pub(super) from_cache: bool,
}

/// What reading one blob needs, decided before a byte of it is read.
pub(crate) struct BlobPlan {
    source: Source,
    signature: Option<PackageSignature>,
    /// The download's request, sent before it is read ([`BlobPlan::send_ahead`]).
    ahead: Cell<Option<http1::Ahead>>,
}

impl BlobPlan {
    /// The cached blob this plan reads, if it reads one: a damaged one is dropped by the
    /// caller.
    pub(crate) fn cached(&self) -> Option<&Path> {
        match &self.source {
            Source::Cached(p) => Some(p),
            _ => None,
        }
    }

    /// Sends a download's request now, so that its answer is on its way while the caller
    /// finishes another package; [`BlobPlan::open`] reads it. Nothing for a blob on disk.
    pub(crate) fn send_ahead(&self) {
        if let Source::Http { url, .. } = &self.source {
            self.ahead.set(http::send_ahead(url));
        }
    }

    /// Starts reading: opens the file or sends the request (or takes the answer to the one
    /// [`BlobPlan::send_ahead`] sent). A signature made by a key that
    /// is not pinned fails here, before anything is downloaded.
    pub(crate) fn open<'p>(
        &'p self,
        client: &'p RegistryClient,
        layout: &Layout,
        pin: &'p Pin,
        v: &'p VersionEntry,
        events: &Events,
    ) -> Result<BlobReader<'p>, FetchError> {
        let check = match &self.signature {
            None => None,
            Some(s) => match s.sig.check(&client.keys) {
                Ok(check) => Some(check),
                // The cached signature's key may have been unpinned: the registry's current
                // signature is fetched and checked after the read.
                Err(_) if s.from_cache => None,
                Err(e) => return Err(client.package_refused(pin, e)),
            },
        };
        let input = match &self.source {
            Source::Cached(path) | Source::InPlace(path) => Input::File {
                file: fs_err::File::open(path).map_err(io_err("read", path))?,
                path: path.clone(),
            },
            Source::Http { url, cap } => {
                // Unique: a read (`info`) may fetch the same blob while an install does.
                static DOWNLOADS: AtomicU64 = AtomicU64::new(0);
                let partial = Partial(layout.tmp().join(format!(
                    "download-{}-{}",
                    v.sha256,
                    DOWNLOADS.fetch_add(1, Ordering::Relaxed)
                )));
                let file = fs_err::OpenOptions::new()
                    .create_new(true)
                    .write(true)
                    .open(&partial.0)
                    .map_err(io_err("write", &partial.0))?;
                let ahead = self.ahead.take();
                let body = http::Body::open(url, *cap, v.size, Some(events.stopper()), ahead)
                    .map_err(|e| client.download_failed(pin, v, &partial.0, *cap, e))?;
                Input::Http {
                    body: Box::new(body),
                    file,
                    partial,
                    cap: *cap,
                    target: layout.blob_cache().join(&v.sha256),
                    task: Box::new(events.task("download", &pin.to_string(), v.size.unwrap_or(0))),
                }
            }
        };
        Ok(BlobReader {
            client,
            layout: layout.clone(),
            pin,
            v,
            signature: self.signature.as_ref(),
            check,
            input,
            failure: None,
        })
    }
}

enum Input {
    File {
        file: fs_err::File,
        path: PathBuf,
    },
    Http {
        body: Box<http::Body>,
        file: fs_err::File,
        partial: Partial,
        cap: u64,
        target: PathBuf,
        task: Box<Task>,
    },
}

/// A download's partial file, removed unless it was moved into the cache.
struct Partial(PathBuf);

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = fs_err::remove_file(&self.0);
        }
    }
}

/// A blob being read once: by the unpacker, and on the way into the cache's partial file and
/// the signature check.
pub(crate) struct BlobReader<'p> {
    client: &'p RegistryClient,
    layout: Layout,
    pin: &'p Pin,
    v: &'p VersionEntry,
    signature: Option<&'p PackageSignature>,
    check: Option<StreamCheck<'p, 'p>>,
    input: Input,
    /// Why reading stopped, when the download (not the archive) is to blame.
    failure: Option<DownloadError>,
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.failure.is_some() {
            return Err(std::io::Error::other("the download failed"));
        }
        let n = match &mut self.input {
            Input::File { file, .. } => file.read(buf)?,
            Input::Http {
                body, file, task, ..
            } => {
                let n = match body.read(buf) {
                    Ok(n) => n,
                    Err(e) => {
                        self.failure = body.failure();
                        return Err(e);
                    }
                };
                if task.check().is_err() {
                    self.failure = Some(DownloadError::Stopped);
                    return Err(std::io::Error::other("the download was stopped"));
                }
                if let Err(e) = file.write_all(&buf[..n]) {
                    let text = e.to_string();
                    self.failure = Some(DownloadError::Io(e));
                    return Err(std::io::Error::other(text));
                }
                task.progress(body.have());
                n
            }
        };
        if let Some(check) = &mut self.check {
            check.update(&buf[..n]);
        }
        Ok(n)
    }
}

impl BlobReader<'_> {
    /// After the unpacker failed: the error to report instead of the unpacker's when the
    /// download itself failed (the network, the size cap, a stop). A damaged archive is
    /// reported as the unpacker found it, without reading the rest of a body that may never
    /// end. A partial download is discarded either way.
    pub(crate) fn failure(mut self) -> Option<FetchError> {
        let Input::Http { partial, cap, .. } = &self.input else {
            return None;
        };
        let e = self.failure.take()?;
        Some(
            self.client
                .download_failed(self.pin, self.v, &partial.0, *cap, e),
        )
    }

    /// After the unpacker read everything and found the archive's sha256 to be `sha256`:
    /// checks that a download is the blob the index names and that the signature holds, then
    /// moves a download into the cache.
    pub(crate) fn finish(mut self, sha256: &str) -> Result<Fetched, FetchError> {
        let (client, pin, v) = (self.client, self.pin, self.v);
        let downloaded = matches!(self.input, Input::Http { .. });
        if sha256 != v.sha256 {
            if downloaded {
                return Err(client.bad_hash(pin, v, sha256.to_string()));
            }
            // A cached or in-place blob with other bytes: no signature is checked (it would
            // call the package altered); the caller's own sha256 check refuses it as damaged,
            // which drops it from the cache.
            let Input::File { path, .. } = &self.input else {
                unreachable!("not downloaded");
            };
            return Ok(Fetched {
                path: path.clone(),
                downloaded,
                trust: Trust::default(),
            });
        }
        let path = match &self.input {
            Input::File { path, .. } => path.clone(),
            Input::Http { partial, .. } => partial.0.clone(),
        };
        let package_key = match self.signature {
            None => None,
            Some(s) => {
                let checked = match self.check.take() {
                    Some(check) => check.finish().map(|k| k.id),
                    None => Err(SignError::NoKeys),
                };
                Some(match checked {
                    Ok(key) => {
                        if !s.from_cache {
                            client.keep_signature(&self.layout, v, &s.text);
                        }
                        key
                    }
                    Err(_) if s.from_cache => {
                        client.check_package_online(&self.layout, pin, v, &path)?
                    }
                    Err(e) => return Err(client.package_refused(pin, e)),
                })
            }
        };
        let trust = Trust {
            snapshot_key: client.snapshot_key.map(|k| k.to_string()),
            package_key: package_key.map(|k| k.to_string()),
        };
        let path = match &mut self.input {
            Input::File { path, .. } => path.clone(),
            Input::Http {
                partial,
                target,
                file,
                ..
            } => {
                // The install's commit syncs the file system, this download included: its
                // write-back starts now rather than then. Only a hint.
                let _ = rustix::fs::fadvise(file.file(), 0, None, rustix::fs::Advice::DontNeed);
                if let Err(e) = fs_err::rename(&partial.0, &*target) {
                    return Err(io_err("move into the cache", &*target)(e));
                }
                // Moved: nothing left to remove.
                partial.0 = PathBuf::new();
                target.clone()
            }
        };
        Ok(Fetched {
            path,
            downloaded,
            trust,
        })
    }
}

impl RegistryClient {
    /// Where the blob of `pin` comes from and which signature must cover it.
    pub(crate) fn plan_blob(
        &self,
        layout: &Layout,
        pin: &Pin,
        v: &VersionEntry,
    ) -> Result<BlobPlan, FetchError> {
        self.usable()?;
        let source = self.source(layout, pin, v)?;
        let signature = self.package_signature(layout, pin, v)?;
        Ok(BlobPlan {
            source,
            signature,
            ahead: Cell::new(None),
        })
    }

    /// The blob of `pin`, verified and in the cache (or in place), for reading whole. A blob
    /// on disk with no signature to check is not read here: the caller reads and hashes it.
    pub(crate) fn blob(
        &self,
        layout: &Layout,
        pin: &Pin,
        v: &VersionEntry,
        events: &Events,
    ) -> Result<Fetched, FetchError> {
        let plan = self.plan_blob(layout, pin, v)?;
        if plan.signature.is_none()
            && let Source::Cached(path) | Source::InPlace(path) = &plan.source
        {
            return Ok(Fetched {
                path: path.clone(),
                downloaded: false,
                trust: Trust {
                    snapshot_key: self.snapshot_key.map(|k| k.to_string()),
                    package_key: None,
                },
            });
        }
        let mut reader = plan.open(self, layout, pin, v, events)?;
        let mut hasher = pandora_common::hash::Hasher::new();
        let mut buf = vec![0u8; 256 << 10];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => hasher.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(reader
                        .failure()
                        .unwrap_or_else(|| self.unavailable(&format!("{pin}"), e)));
                }
            }
        }
        reader.finish(&hasher.finish().sha256)
    }

    fn source(&self, layout: &Layout, pin: &Pin, v: &VersionEntry) -> Result<Source, FetchError> {
        let target = layout.blob_cache().join(&v.sha256);
        if target.is_file() {
            return Ok(Source::Cached(target));
        }
        match self.locate(&v.pkg_url)? {
            Base::File(path) => match fs_err::metadata(&path) {
                Ok(m) if m.is_file() => Ok(Source::InPlace(path)),
                Ok(_) => Err(self.unavailable(
                    &format!("{pin} ({})", v.pkg_url),
                    format!("{} is not a regular file", path.display()),
                )),
                Err(e) => Err(self.unavailable(&format!("{pin} ({})", v.pkg_url), e)),
            },
            Base::Http(url) => {
                // The declared size caps the download, and is itself capped: by this client,
                // and by the registry's own `max_package_size` (a registry that says it takes
                // nothing over 1 GiB cannot mean a 10 GB blob).
                let cap = v.size.unwrap_or(MAX_BLOB);
                let registry_max = self.max_package_size();
                for (max, whose) in [(MAX_BLOB, "Pandora's"), (registry_max, "the registry's")] {
                    if cap > max {
                        return Err(FetchError::DeclaredTooLarge {
                            registry: self.name().to_string(),
                            pin: pin.clone(),
                            declared: cap,
                            max,
                            whose,
                        });
                    }
                }
                check_space(&layout.tmp(), pin, cap)?;
                Ok(Source::Http { url, cap })
            }
        }
    }

    fn bad_hash(&self, pin: &Pin, v: &VersionEntry, got: String) -> FetchError {
        FetchError::BadHash {
            registry: self.name().to_string(),
            pin: pin.clone(),
            got,
            want: v.sha256.clone(),
        }
    }

    fn download_failed(
        &self,
        pin: &Pin,
        v: &VersionEntry,
        partial: &Path,
        cap: u64,
        e: DownloadError,
    ) -> FetchError {
        match e {
            DownloadError::TooLarge => FetchError::TooLarge {
                registry: self.name().to_string(),
                pin: pin.clone(),
                size: cap,
            },
            DownloadError::Stopped => {
                self.unavailable(&format!("{pin}"), "the download was stopped")
            }
            DownloadError::Failed(reason) => {
                self.unavailable(&format!("{pin} ({})", v.pkg_url), reason)
            }
            DownloadError::Io(e) => io_err("write", partial)(e),
        }
    }

    /// Keeps a verified signature beside the cached blob, for `pandora verify` and offline
    /// reinstalls.
    pub(super) fn keep_signature(&self, layout: &Layout, v: &VersionEntry, text: &str) {
        let _ = pandora_common::replace_unsynced(&kept_signature(layout, v), text.as_bytes());
    }
}

/// Where the signature of `v`'s blob is kept, beside the cached blob.
pub(super) fn kept_signature(layout: &Layout, v: &VersionEntry) -> PathBuf {
    layout.blob_cache().join(format!("{}.minisig", v.sha256))
}
