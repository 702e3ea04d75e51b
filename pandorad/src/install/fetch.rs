//! Fetch and stage: each package's bytes are read once, from the cache, a `file://`
//! registry or the network, by the unpacker, which writes its files into `tmp/` while the
//! same pass writes a download into the cache's partial file and feeds the signature check.
//! Several packages at a time. Nothing reaches the store here.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use pandora_common::files::{Pin, VersionEntry};
use pandora_common::layout::Layout;

use super::resolve::{Node, Source};
use super::stage::{Expect, Unpacking, stage, unpack, unpack_file};
use crate::engine::Events;
use crate::error::{Error, Result};
use crate::fetch::{BlobPlan, RegistryClient, Trust};
use crate::store::{self, Staged};

/// Packages read and unpacked at a time. Three and four were equal on two cores with the
/// store on tmpfs; four hides more disk waits. While at least as many packages wait as there
/// are workers, each unpack decompresses on its worker's thread (the other workers keep the
/// cores busy); the last ones decompress on a second thread each, so that a large package
/// at the end does not run on one core alone.
const WORKERS: usize = 4;

/// A package staged, with where it came from.
pub(crate) struct Fetched {
    pub(crate) staged: Staged,
    pub(crate) sha256: String,
    pub(crate) origin: String,
    /// Whether it came from a registry (not a local file).
    pub(crate) from_registry: bool,
}

/// What fetching a list of packages did.
pub(crate) struct Outcome {
    pub(crate) staged: Vec<Fetched>,
    pub(crate) downloaded_bytes: u64,
}

/// Downloads and stages every package of `todo` (none of them `Source::Store`). All or
/// nothing: on the first error every staged directory is discarded and the error returned.
pub(crate) fn fetch_and_stage(
    layout: &Layout,
    clients: &[RegistryClient],
    todo: &[(&Pin, &Node)],
    events: &Events,
) -> Result<Outcome> {
    // Every package's signature at once, rather than each before its own download.
    let stop = Some(events.stopper());
    for (i, client) in clients.iter().enumerate() {
        let versions: Vec<&VersionEntry> = todo
            .iter()
            .filter_map(|(_, node)| match &node.source {
                Source::Registry(c, v) if *c == i => Some(v),
                _ => None,
            })
            .collect();
        if versions.len() > 1 {
            client.prefetch_signatures(layout, &versions, &stop);
        }
    }
    let downloaded = AtomicU64::new(0);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results = Mutex::new(Vec::with_capacity(todo.len()));
    let workers = workers().min(todo.len()).max(1);
    let unpacking = Unpacking::new(layout);
    std::thread::scope(|s| {
        for _ in 0..workers {
            let (next, failed, downloaded, results) = (&next, &failed, &downloaded, &results);
            s.spawn(move || {
                let claim = || {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    todo.get(i).map(|&(pin, node)| Claimed {
                        i,
                        pin,
                        node,
                        plan: None,
                    })
                };
                let mut ahead = None;
                while let Some(this) = ahead.take().or_else(claim) {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    // While many packages wait, the next one is this worker's already: its
                    // download is asked for now, and arrives while this one is unpacked. The
                    // last few are left to whichever worker is free first.
                    if next.load(Ordering::Relaxed) + workers < todo.len() {
                        ahead = claim().map(|mut c| {
                            c.plan = plan_ahead(layout, clients, &c);
                            c
                        });
                    }
                    let mut cached = None;
                    let i = this.i;
                    let how = Unpacking {
                        same_thread: i + workers < todo.len(),
                        ..unpacking
                    };
                    let result = events
                        .check()
                        .and_then(|()| {
                            fetch_one(layout, clients, this, how, events, downloaded, &mut cached)
                        })
                        // A read cut short because the mutation stops says why it stops.
                        .map_err(|e| events.check().err().unwrap_or(e));
                    let failed_now = result.is_err();
                    if let Ok(mut r) = results.lock() {
                        r.push((i, cached, result));
                    }
                    if failed_now {
                        // All or nothing: the rest would be discarded anyway.
                        failed.store(true, Ordering::Relaxed);
                        next.store(todo.len(), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _, _)| *i);
    let mut staged = Vec::new();
    let mut first_error = None;
    for (i, cached, result) in results {
        match result {
            Ok(f) => staged.push(f),
            Err(e) => {
                drop_damaged(layout, todo[i].0, cached, &e, events);
                first_error.get_or_insert(e);
            }
        }
    }
    // A worker that stopped after another's failure leaves its next package unfetched.
    if first_error.is_none() && staged.len() < todo.len() {
        first_error = Some(Error::Internal("a package was left unfetched".into()));
    }
    if let Some(e) = first_error {
        for f in &staged {
            store::discard(&f.staged.dir);
        }
        return Err(e);
    }
    Ok(Outcome {
        staged,
        downloaded_bytes: downloaded.into_inner(),
    })
}

/// `PANDORA_FETCH_WORKERS` (1 to 16) for benchmarks, else [`WORKERS`].
fn workers() -> usize {
    std::env::var("PANDORA_FETCH_WORKERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| (1..=16).contains(n))
        .unwrap_or(WORKERS)
}

/// A package a worker took, with its blob's plan when the download was asked for ahead.
struct Claimed<'a> {
    i: usize,
    pin: &'a Pin,
    node: &'a Node,
    plan: Option<BlobPlan>,
}

/// The plan of `c`'s blob, with its request sent, when it is downloaded from a registry.
/// `None` on any error: [`fetch_one`] plans again and reports it.
fn plan_ahead(layout: &Layout, clients: &[RegistryClient], c: &Claimed<'_>) -> Option<BlobPlan> {
    let Source::Registry(i, v) = &c.node.source else {
        return None;
    };
    let plan = clients[*i].plan_blob(layout, c.pin, v).ok()?;
    plan.send_ahead();
    Some(plan)
}

/// Reads, unpacks, checks and stages the package a worker took, with the plan for its blob
/// when it was made ahead. `cached` is set to the cached blob it read, if any, so that a
/// damaged one can be dropped.
fn fetch_one(
    layout: &Layout,
    clients: &[RegistryClient],
    claimed: Claimed<'_>,
    how: Unpacking,
    events: &Events,
    downloaded: &AtomicU64,
    cached: &mut Option<PathBuf>,
) -> Result<Fetched> {
    let Claimed {
        pin, node, plan, ..
    } = claimed;
    let (unpacked, sha256, origin, trust, dependencies) = match &node.source {
        Source::Registry(c, v) => {
            let client = &clients[*c];
            let origin = client.config.name.clone();
            let plan = match plan {
                Some(plan) => plan,
                None => client.plan_blob(layout, pin, v)?,
            };
            *cached = plan.cached().map(PathBuf::from);
            let mut reader = plan.open(client, layout, pin, v, events)?;
            let unpacked = match unpack(layout, &mut reader, pin, &origin, events, how) {
                Ok(u) => u,
                Err(e) => {
                    return Err(reader.failure().map_or(e, Error::from));
                }
            };
            let blob = reader.finish(&unpacked.sha256)?;
            if blob.downloaded {
                downloaded.fetch_add(v.size.unwrap_or(0), Ordering::Relaxed);
            }
            let deps = Some(v.dependencies.as_slice());
            (unpacked, v.sha256.clone(), origin, blob.trust, deps)
        }
        Source::File(path, sha, ..) => {
            let unpacked = unpack_file(layout, path, pin, "local", events, how)?;
            (
                unpacked,
                sha.clone(),
                "local".to_string(),
                Trust::default(),
                None,
            )
        }
        Source::Store => {
            return Err(Error::Internal(format!(
                "{pin} is in the store and has nothing to fetch"
            )));
        }
    };
    let expect = Expect {
        pin,
        sha256: &sha256,
        dependencies,
        hooks: node.hooks(),
        origin: &origin,
        trust: &trust,
    };
    let staged = events
        .check()
        .and_then(|()| stage(layout, unpacked, &expect, events))?;
    Ok(Fetched {
        staged,
        sha256,
        origin,
        from_registry: matches!(node.source, Source::Registry(..)),
    })
}

/// A cached blob whose archive is damaged is dropped, so the next attempt downloads it again
/// instead of failing forever. A package that is intact but refused (a hook, the
/// architecture, a full disk) keeps its blob.
fn drop_damaged(layout: &Layout, pin: &Pin, blob: Option<PathBuf>, e: &Error, events: &Events) {
    if !e.archive_damaged() {
        return;
    }
    if let Some(blob) = blob.filter(|b| b.starts_with(layout.blob_cache()))
        && fs_err::remove_file(&blob).is_ok()
    {
        let subject = pin.to_string();
        events.warn(
            "damaged-download",
            &subject,
            format!("removed the damaged cached download of {pin}; try again"),
            &[("package", &subject), ("path", &blob.display().to_string())],
        );
    }
}
