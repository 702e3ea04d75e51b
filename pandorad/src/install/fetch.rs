//! Fetch and stage as a pipeline: four downloads and two unpacks at a time, each package
//! unpacked into `tmp/` as soon as its blob is here. Nothing reaches the store here.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};

use pandora_common::files::Pin;
use pandora_common::layout::Layout;

use super::resolve::{Node, Source};
use super::stage::{Expect, stage};
use crate::engine::Events;
use crate::error::{Error, Result};
use crate::fetch::RegistryClient;
use crate::store::{self, Staged};

const DOWNLOADERS: usize = 4;
const UNPACKERS: usize = 2;

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

/// A blob on disk, ready to unpack.
struct Blob {
    path: PathBuf,
    sha256: String,
    origin: String,
    trust: crate::fetch::Trust,
}

/// Downloads and stages every package of `todo` (none of them `Source::Store`). All or
/// nothing: on the first error every staged directory is discarded and the error returned.
pub(crate) fn fetch_and_stage(
    layout: &Layout,
    clients: &[RegistryClient],
    todo: &[(&Pin, &Node)],
    events: &Events,
) -> Result<Outcome> {
    let downloaded = AtomicU64::new(0);
    let next = AtomicUsize::new(0);
    let (ready_tx, ready_rx) = mpsc::channel::<(usize, Result<Blob>)>();
    let ready_rx = Mutex::new(ready_rx);
    let results: Vec<(usize, Option<PathBuf>, Result<Fetched>)> = std::thread::scope(|s| {
        for _ in 0..DOWNLOADERS {
            let tx = ready_tx.clone();
            let (next, downloaded) = (&next, &downloaded);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((pin, node)) = todo.get(i) else {
                        break;
                    };
                    let blob = events
                        .check()
                        .and_then(|()| get_blob(layout, clients, pin, node, events, downloaded))
                        // A download cut short because the mutation stops says why it stops.
                        .map_err(|e| events.check().err().unwrap_or(e));
                    if tx.send((i, blob)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(ready_tx);
        let unpackers: Vec<_> = (0..UNPACKERS)
            .map(|_| {
                let rx = &ready_rx;
                s.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let Ok(Ok((i, blob))) = rx.lock().map(|r| r.recv()) else {
                            break;
                        };
                        let (pin, node) = todo[i];
                        done.push(match blob {
                            Err(e) => (i, None, Err(e)),
                            Ok(blob) => {
                                let dependencies = match &node.source {
                                    Source::Registry(_, v) => Some(v.dependencies.as_slice()),
                                    _ => None,
                                };
                                let expect = Expect {
                                    pin,
                                    sha256: &blob.sha256,
                                    dependencies,
                                    hooks: node.hooks(),
                                    origin: &blob.origin,
                                    trust: &blob.trust,
                                };
                                let staged = events
                                    .check()
                                    .and_then(|()| stage(layout, &blob.path, &expect, events));
                                let path = blob.path.clone();
                                (
                                    i,
                                    Some(path),
                                    staged.map(|staged| Fetched {
                                        staged,
                                        sha256: blob.sha256,
                                        origin: blob.origin,
                                        from_registry: matches!(node.source, Source::Registry(..)),
                                    }),
                                )
                            }
                        });
                    }
                    done
                })
            })
            .collect();
        unpackers
            .into_iter()
            .flat_map(|u| u.join().unwrap_or_default())
            .collect()
    });
    let mut results = results;
    results.sort_by_key(|(i, _, _)| *i);
    let mut staged = Vec::new();
    let mut first_error = None;
    for (i, blob, result) in results {
        match result {
            Ok(f) => staged.push(f),
            Err(e) => {
                drop_damaged(layout, todo[i].0, blob, &e, events);
                first_error.get_or_insert(e);
            }
        }
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

fn get_blob(
    layout: &Layout,
    clients: &[RegistryClient],
    pin: &Pin,
    node: &Node,
    events: &Events,
    downloaded: &AtomicU64,
) -> Result<Blob> {
    match &node.source {
        Source::Registry(c, v) => {
            let client = &clients[*c];
            let fetched = client.blob(layout, pin, v, events)?;
            if fetched.downloaded {
                downloaded.fetch_add(v.size.unwrap_or(0), Ordering::Relaxed);
            }
            Ok(Blob {
                path: fetched.path,
                sha256: v.sha256.clone(),
                origin: client.config.name.clone(),
                trust: fetched.trust,
            })
        }
        Source::File(path, sha, ..) => Ok(Blob {
            path: path.clone(),
            sha256: sha.clone(),
            origin: "local".to_string(),
            trust: crate::fetch::Trust::default(),
        }),
        Source::Store => Err(Error::Internal(format!(
            "{pin} is in the store and has nothing to fetch"
        ))),
    }
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
