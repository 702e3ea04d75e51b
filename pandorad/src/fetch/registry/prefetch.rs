//! Fetching ahead: the index files a resolve will look up, and the signatures an install
//! will check, downloaded several at a time before they are needed. Only a speed-up: what
//! fails here is fetched again, with its retries, by whoever needs it, and reported there.

use std::path::PathBuf;

use pandora_common::files::{SnapshotFile, VersionEntry};
use pandora_common::hash::sha256_hex;
use pandora_common::layout::Layout;

use super::blob::kept_signature;
use super::{Base, MAX_SIGNATURE, RegistryClient, keep_new_index_file};
use crate::fetch::http::{self, Conditional};
use crate::fetch::{http1, pipeline};

impl RegistryClient {
    /// Downloads, several at a time, the index files of `names` that this registry's
    /// snapshot lists and the cache lacks, so that the lookups that follow find them there.
    /// Only a speed-up for `http(s)://` registries: each file gets one attempt, `stop` ends
    /// it early, and whatever fails is left to the lookup, which fetches the file again and
    /// reports the failure. Returns the names the snapshot lists, and whether the lookup of
    /// the others would go on to the next registry (as it does only once this registry's
    /// snapshot was loaded from it in this client's life).
    pub(crate) fn prefetch<'n>(
        &mut self,
        names: &[&'n str],
        stop: &http1::Stop,
    ) -> (Vec<&'n str>, bool) {
        let Ok(snapshot) = self.snapshot() else {
            return (Vec::new(), false);
        };
        let listed: Vec<(&'n str, String, SnapshotFile)> = names
            .iter()
            .filter_map(|n| {
                let rel = format!("index/{n}.acl");
                snapshot.file(&rel).cloned().map(|f| (*n, rel, f))
            })
            .collect();
        let found = listed.iter().map(|(n, _, _)| *n).collect();
        let go_on = self.snapshot_checked;
        if !matches!(self.base(), Base::Http(_)) {
            return (found, go_on);
        }
        let missing: Vec<(String, PathBuf, u64, String)> = listed
            .into_iter()
            .filter_map(|(_, rel, want)| {
                let cached = self.cache.join(&rel);
                let have = fs_err::metadata(&cached).is_ok_and(|m| m.len() == want.size);
                match self.locate(&rel) {
                    Ok(Base::Http(url)) if !have => Some((url, cached, want.size, want.sha256)),
                    _ => None,
                }
            })
            .collect();
        let keep = |(_, cached, size, sha256): &(String, PathBuf, u64, String), body: &[u8]| {
            if body.len() as u64 == *size && sha256_hex(body) == *sha256 {
                let _ = keep_new_index_file(cached, body);
            }
        };
        // Pipelined on a few connections where the small client takes the URLs; what that
        // did not answer, one request at a time.
        let targets: Option<Vec<(http1::Target, u64)>> = missing
            .iter()
            .map(|(url, _, size, _)| http1::target(url).map(|t| (t, *size)))
            .collect();
        let mut left: Vec<&(String, PathBuf, u64, String)> = missing.iter().collect();
        if let Some(targets) = targets.filter(|t| t.len() >= PIPELINED_FROM) {
            let share = targets.len().div_ceil(PIPELINES);
            let answered: Vec<usize> = std::thread::scope(|s| {
                let runs: Vec<_> = targets
                    .chunks(share)
                    .zip(missing.chunks(share))
                    .map(|(targets, items)| {
                        s.spawn(move || {
                            pipeline::get_all(targets, stop, |i, body| keep(&items[i], body))
                        })
                    })
                    .collect();
                runs.into_iter().map(|r| r.join().unwrap_or(0)).collect()
            });
            left = missing
                .chunks(share)
                .zip(answered)
                .flat_map(|(items, n)| &items[n.min(items.len())..])
                .collect();
        }
        get_all(&left, stop, |item| {
            let (url, _, size, _) = *item;
            if let Ok(Conditional::Fresh { body, .. }) = http::get_once(url, *size, stop) {
                keep(item, &body);
            }
        });
        (found, go_on)
    }

    /// Downloads, several at a time, the signatures that the packages of `versions` will be
    /// checked against (when signatures are checked and none is kept beside a cached blob),
    /// so that each package's download does not wait for its own first. Like
    /// [`RegistryClient::prefetch`], only a speed-up for `http(s)://` registries: one attempt
    /// each, and the package's own request fetches what is missing here and reports it.
    pub(crate) fn prefetch_signatures(
        &self,
        layout: &Layout,
        versions: &[&VersionEntry],
        stop: &http1::Stop,
    ) {
        if self.keys.is_empty() {
            return;
        }
        let urls: Vec<(&str, String)> = versions
            .iter()
            .filter(|v| !kept_signature(layout, v).exists())
            .filter_map(|v| {
                let rel = v.signature.as_deref()?;
                match self.locate(rel) {
                    Ok(Base::Http(url)) => Some((rel, url)),
                    _ => None,
                }
            })
            .collect();
        get_all(&urls, stop, |(rel, url)| {
            if let Ok(Conditional::Fresh { body, .. }) = http::get_once(url, MAX_SIGNATURE, stop)
                && let Ok(mut kept) = self.signatures.lock()
            {
                kept.insert(rel.to_string(), body);
            }
        });
    }

    /// The package signature at `rel` if [`RegistryClient::prefetch_signatures`] got it.
    pub(super) fn prefetched_signature(&self, rel: &str) -> Option<Vec<u8>> {
        self.signatures.lock().ok()?.remove(rel)
    }
}

/// Connections that index files are pipelined on, and the fewest files worth it.
const PIPELINES: usize = 2;
const PIPELINED_FROM: usize = 8;

/// Files downloaded at a time by [`RegistryClient::prefetch`] and
/// [`RegistryClient::prefetch_signatures`].
const PREFETCH_WORKERS: usize = 8;

/// Runs `get` on every item of `items`, [`PREFETCH_WORKERS`] at a time, until `stop` says
/// to end. A thread that cannot be had leaves its share to the others (or, if none could be
/// had, to whoever needs the files later).
fn get_all<T: Sync>(items: &[T], stop: &http1::Stop, get: impl Fn(&T) + Sync) {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let stopped = || stop.as_ref().is_some_and(|s| s());
    std::thread::scope(|s| {
        for _ in 0..items.len().min(PREFETCH_WORKERS) {
            let _ = std::thread::Builder::new().spawn_scoped(s, || {
                while let Some(item) =
                    items.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                {
                    if stopped() {
                        break;
                    }
                    get(item);
                }
            });
        }
    });
}
