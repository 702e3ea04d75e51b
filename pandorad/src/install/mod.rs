//! `install`: resolve the closure of exact pins, plan what the store lacks, fetch it, unpack and
//! check each package in `tmp/`, then move them into the store.
//!
//! Invariant: all or nothing per request. Every package of the closure is resolved, fetched,
//! unpacked and checked before the first one is renamed into `store/`; a failure before that
//! leaves only `tmp/` behind (cleared now, or at the next start after a crash). An entry is
//! renamed into the store complete, so no reader ever sees half a package.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};

use pandora_common::files::{Pin, VersionEntry};
use pandora_common::layout::Layout;
use pandora_common::pkg::{self, Limits};
use pandora_proto::v1::Summary;
use sha2::Digest;
use tonic::Code;

use crate::daemon::fail;
use crate::engine::{Events, Outcome};
use crate::fetch::RegistryClient;
use crate::reads::{chain, fetch_failed};
use crate::store::StoreView;

mod stage;

use stage::{make_writable, stage};

/// One package through the pipeline: its staging directory, or why it has none.
struct Staged {
    i: usize,
    blob: Option<PathBuf>,
    sha: String,
    origin: String,
    dir: Result<PathBuf, tonic::Status>,
}

/// Whether to plan, apply, or apply a plan the user confirmed.
pub(crate) enum Plan<'a> {
    /// Resolve and describe; install nothing.
    Only,
    /// Install without asking.
    Apply,
    /// Install if the plan still has this id.
    Confirmed(&'a str),
}

/// One line per package to install, the plan's id (a hash of those lines) and the bytes to
/// download.
fn describe_plan(
    closure: &BTreeMap<Pin, Node>,
    clients: &[RegistryClient],
) -> (Vec<String>, String, u64) {
    let mut lines = Vec::new();
    let mut bytes = 0u64;
    for (pin, node) in closure {
        let (origin, size, sha) = match &node.source {
            Source::Store => continue,
            Source::Registry(i, v) => {
                bytes += v.size.unwrap_or(0);
                (
                    format!("registry `{}`", clients[*i].config.name),
                    v.size,
                    v.sha256.as_str(),
                )
            }
            Source::Local(path, sha) => (format!("{}", path.display()), None, sha.as_str()),
        };
        let size = size.map(|s| format!(", {s} bytes")).unwrap_or_default();
        let deprecated = if node.deprecated { " (deprecated)" } else { "" };
        let why = node
            .needed_by
            .as_ref()
            .map(|p| format!(", for {p}"))
            .unwrap_or_default();
        lines.push(format!(
            "will install {pin} from {origin}{size}{why}{deprecated} [{}]",
            &sha[..12.min(sha.len())]
        ));
    }
    let id = hex::encode(&sha2::Sha256::digest(lines.join("\n").as_bytes())[..8]);
    (lines, id, bytes)
}

/// What the user asked for.
enum Want {
    Named {
        name: String,
        version: Option<String>,
    },
    Local(PathBuf),
}

/// Where a package of the closure comes from.
enum Source {
    /// Already in the store.
    Store,
    /// Registry number `usize` (in priority order), this version entry.
    Registry(usize, VersionEntry),
    /// A local .pkg file with its archive sha256.
    Local(PathBuf, String),
}

struct Node {
    source: Source,
    needed_by: Option<Pin>,
    deprecated: bool,
}

fn parse_want(s: &str) -> Result<Want, tonic::Status> {
    if s.ends_with(".pkg") || s.contains('/') {
        return Ok(Want::Local(PathBuf::from(s)));
    }
    let (name, version) = match s.split_once('@') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (s, None),
    };
    let check = match &version {
        Some(v) => Pin::parse(&format!("{name}@{v}")).map(|_| ()),
        None => pandora_common::files::validate_name(name),
    };
    check.map_err(|e| fail(Code::InvalidArgument, "bad-package", e.to_string(), None))?;
    Ok(Want::Named {
        name: name.to_string(),
        version,
    })
}

fn io_fail(what: &str, path: &Path, e: impl std::fmt::Display) -> tonic::Status {
    fail(
        Code::Internal,
        "io",
        format!("cannot {what} {}: {e}", path.display()),
        None,
    )
}

/// Installs `requests` (names, pins or .pkg paths) and their dependencies.
pub(crate) fn install(
    layout: &Layout,
    store: &StoreView,
    requests: &[String],
    plan: Plan<'_>,
    events: &Events,
) -> Outcome {
    let wants = requests
        .iter()
        .map(|r| parse_want(r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut clients: Option<Vec<RegistryClient>> = None;
    let mut closure: BTreeMap<Pin, Node> = BTreeMap::new();
    let mut queue: VecDeque<(Pin, Option<Pin>)> = VecDeque::new();
    let mut lines = Vec::new();

    for want in wants {
        match want {
            Want::Local(path) => {
                let file = std::fs::File::open(&path).map_err(|e| {
                    fail(
                        Code::NotFound,
                        "not-found",
                        format!("cannot open {}: {e}", path.display()),
                        None,
                    )
                })?;
                let found = pkg::inspect(
                    std::io::BufReader::with_capacity(1 << 20, file),
                    &Limits::default(),
                )
                .map_err(|e| {
                    fail(
                        Code::InvalidArgument,
                        "invalid-package",
                        format!("{} is not a valid package: {}", path.display(), chain(&e)),
                        None,
                    )
                })?;
                let pin = found.manifest.pin();
                if let Some(installed) = store.get(&pin.name, &pin.version) {
                    if installed.manifest.archive_sha256.as_deref() != Some(found.sha256.as_str()) {
                        return Err(fail(
                            Code::AlreadyExists,
                            "conflict",
                            format!(
                                "{pin} is already installed from other bytes than {}",
                                path.display()
                            ),
                            Some(format!(
                                "give the package a new version, or check it: pandora verify {pin}"
                            )),
                        ));
                    }
                    closure.insert(
                        pin.clone(),
                        Node {
                            source: Source::Store,
                            needed_by: None,
                            deprecated: false,
                        },
                    );
                } else {
                    for d in &found.manifest.dependencies {
                        queue.push_back((d.clone(), Some(pin.clone())));
                    }
                    closure.insert(
                        pin,
                        Node {
                            source: Source::Local(path, found.sha256),
                            needed_by: None,
                            deprecated: found.manifest.deprecated,
                        },
                    );
                }
            }
            Want::Named {
                name,
                version: Some(version),
            } => queue.push_back((Pin { name, version }, None)),
            Want::Named {
                name,
                version: None,
            } => {
                let clients = registries_for(layout, &mut clients)?;
                let (idx, entry) = find_package(clients, &name, events)?;
                let Some(v) = entry
                    .latest
                    .clone()
                    .or_else(|| entry.versions.last().map(|v| v.version.clone()))
                else {
                    return Err(fail(
                        Code::NotFound,
                        "not-found",
                        format!(
                            "registry `{}` lists `{name}` without any version",
                            clients[idx].config.name
                        ),
                        None,
                    ));
                };
                let pin = Pin { name, version: v };
                events.info(format!(
                    "{} is {pin} (latest in registry `{}`)",
                    pin.name, clients[idx].config.name
                ));
                queue.push_back((pin, None));
            }
        }
    }

    while let Some((pin, needed_by)) = queue.pop_front() {
        if closure.contains_key(&pin) {
            continue;
        }
        if let Some(installed) = store.get(&pin.name, &pin.version) {
            for d in &installed.manifest.dependencies {
                queue.push_back((d.clone(), Some(pin.clone())));
            }
            closure.insert(
                pin,
                Node {
                    source: Source::Store,
                    needed_by,
                    deprecated: false,
                },
            );
            continue;
        }
        let clients = registries_for(layout, &mut clients)?;
        let (idx, version) = find_version(clients, &pin, needed_by.as_ref(), events)?;
        for d in &version.dependencies {
            queue.push_back((d.clone(), Some(pin.clone())));
        }
        let deprecated = version.deprecated;
        closure.insert(
            pin,
            Node {
                source: Source::Registry(idx, version),
                needed_by,
                deprecated,
            },
        );
    }

    let (plan_lines, plan_id, plan_bytes) =
        describe_plan(&closure, clients.as_deref().unwrap_or(&[]));
    match plan {
        Plan::Only => {
            let n = plan_lines.len() as u64;
            lines.extend(plan_lines);
            return Ok(Summary {
                lines,
                counts: [
                    ("packages".to_string(), n),
                    ("bytes".to_string(), plan_bytes),
                ]
                .into_iter()
                .collect(),
                plan_id,
            });
        }
        Plan::Confirmed(id) if id != plan_id => {
            return Err(fail(
                Code::FailedPrecondition,
                "stale-plan",
                "the plan changed after it was shown (a registry changed in between); nothing was installed",
                Some("run the command again to see the new plan".into()),
            ));
        }
        _ => {}
    }

    for (pin, node) in &closure {
        if matches!(node.source, Source::Store) {
            if node.needed_by.is_none() {
                lines.push(format!("already installed {pin}"));
            }
            continue;
        }
        if node.deprecated {
            events.warn(
                &pin.to_string(),
                format!("{pin} is deprecated by its publisher; installing it anyway"),
            );
        }
    }

    // Download (four at a time) and unpack (two at a time) as a pipeline: a package is
    // unpacked into tmp/ as soon as its blob is here. Nothing reaches the store until every
    // package of the request is staged.
    let todo: Vec<(&Pin, &Node)> = closure
        .iter()
        .filter(|(_, n)| !matches!(n.source, Source::Store))
        .collect();
    let clients_ref = clients.as_deref().unwrap_or(&[]);
    let downloaded = std::sync::atomic::AtomicU64::new(0);
    let next_download = std::sync::atomic::AtomicUsize::new(0);
    // (index in todo, blob path, sha256, origin) or the download's error.
    type Ready = (usize, Result<(PathBuf, String, String), tonic::Status>);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Ready>();
    let ready_rx = std::sync::Mutex::new(ready_rx);
    let outcomes: Vec<Staged> = std::thread::scope(|s| {
        for _ in 0..4 {
            let tx = ready_tx.clone();
            let (todo, next, downloaded) = (&todo, &next_download, &downloaded);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((pin, node)) = todo.get(i) else {
                        break;
                    };
                    let ready = match &node.source {
                        Source::Registry(c, v) => clients_ref[*c]
                            .blob(layout, pin, v, events)
                            .map(|f| {
                                if f.downloaded {
                                    downloaded.fetch_add(
                                        v.size.unwrap_or(0),
                                        std::sync::atomic::Ordering::Relaxed,
                                    );
                                }
                                (
                                    f.path,
                                    v.sha256.clone(),
                                    clients_ref[*c].config.name.clone(),
                                )
                            })
                            .map_err(fetch_failed),
                        Source::Local(path, sha) => {
                            Ok((path.clone(), sha.clone(), "local".to_string()))
                        }
                        Source::Store => unreachable!("filtered above"),
                    };
                    if tx.send((i, ready)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(ready_tx);
        let unpackers: Vec<_> = (0..2)
            .map(|_| {
                let (todo, rx) = (&todo, &ready_rx);
                s.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let msg = rx.lock().map(|r| r.recv());
                        let Ok(Ok((i, ready))) = msg else { break };
                        let (pin, node) = todo[i];
                        done.push(match ready {
                            Err(e) => Staged {
                                i,
                                blob: None,
                                sha: String::new(),
                                origin: String::new(),
                                dir: Err(e),
                            },
                            Ok((blob, sha, origin)) => {
                                let expected_deps = match &node.source {
                                    Source::Registry(_, v) => Some(&v.dependencies),
                                    _ => None,
                                };
                                let dir =
                                    stage(layout, pin, &blob, &sha, expected_deps, &origin, events);
                                Staged {
                                    i,
                                    blob: Some(blob),
                                    sha,
                                    origin,
                                    dir,
                                }
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
    let downloaded = downloaded.into_inner();
    let mut outcomes = outcomes;
    outcomes.sort_by_key(|o| o.i);
    let mut staged: Vec<(Pin, PathBuf, String, String)> = Vec::new();
    let mut first_error = None;
    for o in outcomes {
        let pin = todo[o.i].0;
        match o.dir {
            Ok(dir) => staged.push((pin.clone(), dir, o.sha, o.origin)),
            Err(e) => {
                // A cached blob that does not unpack is damaged: drop it so the next attempt
                // downloads it again instead of failing forever.
                if let Some(blob) = o.blob.filter(|b| b.starts_with(layout.blob_cache()))
                    && std::fs::remove_file(&blob).is_ok()
                {
                    events.warn(
                        &pin.to_string(),
                        format!("removed the damaged cached download of {pin}; try again"),
                    );
                }
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        for (_, dir, _, _) in &staged {
            let _ = make_writable(dir);
            let _ = std::fs::remove_dir_all(dir);
        }
        return Err(e);
    }
    // Everything staged reaches the disk before any of it becomes visible in the store.
    if std::env::var("PANDORA_FSYNC").map_or(true, |v| v != "0") {
        let tmp =
            std::fs::File::open(layout.tmp()).map_err(|e| io_fail("open", &layout.tmp(), e))?;
        rustix::fs::syncfs(&tmp).map_err(|e| io_fail("sync", &layout.tmp(), e))?;
    }

    // Commit: one rename per package.
    let mut installed = 0u64;
    for (pin, dir, sha, origin) in &staged {
        let parent = layout.store().join(&pin.name);
        std::fs::create_dir_all(&parent).map_err(|e| io_fail("create", &parent, e))?;
        let target = layout.store_entry(&pin.name, &pin.version);
        crate::failpoint("install-before-rename");
        std::fs::rename(dir, &target).map_err(|e| io_fail("move into the store", &target, e))?;
        let _ = std::fs::File::open(&parent).and_then(|d| d.sync_all());
        log_event(
            layout,
            &format!("install {pin} sha256={sha} registry={origin}"),
        );
        lines.push(format!("installed {pin} (from {origin})"));
        installed += 1;
    }
    if installed > 0 {
        lines.push(
            "not activated: profiles are not built yet; the packages are in the store".to_string(),
        );
    }
    Ok(Summary {
        lines,
        counts: [
            ("installed".to_string(), installed),
            ("downloaded_bytes".to_string(), downloaded),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    })
}

fn registries_for<'c>(
    layout: &Layout,
    clients: &'c mut Option<Vec<RegistryClient>>,
) -> Result<&'c mut Vec<RegistryClient>, tonic::Status> {
    if clients.is_none() {
        *clients = Some(crate::reads::clients(layout)?);
    }
    Ok(clients.as_mut().expect("set above"))
}

fn asked(clients: &[RegistryClient]) -> String {
    clients
        .iter()
        .map(|c| format!("`{}`", c.config.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first registry, by priority, that has package `name`.
fn find_package(
    clients: &mut [RegistryClient],
    name: &str,
    events: &Events,
) -> Result<(usize, pandora_common::files::PackageEntry), tonic::Status> {
    let mut problems = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        match c.package(name) {
            Ok(Some(p)) => {
                warn_fallback(events, name, &c.config.name, &problems);
                return Ok((i, p));
            }
            Ok(None) => {}
            Err(e) => problems.push(chain(&e)),
        }
    }
    Err(missing(
        format!(
            "no registry has a package called `{name}` (asked {})",
            asked(clients)
        ),
        &problems,
        None,
    ))
}

/// A package found in a lower-priority registry while a higher one failed may not be the
/// package the user meant: say so, naming the failures.
fn warn_fallback(events: &Events, subject: &str, from: &str, problems: &[String]) {
    if !problems.is_empty() {
        events.warn(
            subject,
            format!(
                "{subject} comes from registry `{from}` because a higher-priority registry failed: {}",
                problems.join("; ")
            ),
        );
    }
}

/// The first registry, by priority, that has `pin`.
fn find_version(
    clients: &mut [RegistryClient],
    pin: &Pin,
    needed_by: Option<&Pin>,
    events: &Events,
) -> Result<(usize, VersionEntry), tonic::Status> {
    let mut problems = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        match c.package(&pin.name) {
            Ok(Some(p)) => {
                if let Some(v) = p.version(&pin.version) {
                    warn_fallback(events, &pin.to_string(), &c.config.name, &problems);
                    return Ok((i, v.clone()));
                }
            }
            Ok(None) => {}
            Err(e) => problems.push(chain(&e)),
        }
    }
    let who = needed_by
        .map(|p| format!(", needed by {p},"))
        .unwrap_or_default();
    Err(missing(
        format!(
            "{pin}{who} is in no registry (asked {}); nothing was installed",
            asked(clients)
        ),
        &problems,
        Some(pin),
    ))
}

fn missing(msg: String, problems: &[String], pin: Option<&Pin>) -> tonic::Status {
    let mut msg = msg;
    for p in problems {
        msg.push_str("\n  ");
        msg.push_str(p);
    }
    let hint = pin.map(|p| format!("pandora search {}", p.name));
    let code = if problems.is_empty() {
        Code::NotFound
    } else {
        Code::Unavailable
    };
    fail(code, "not-found", msg, hint)
}

/// Appends one line to `log/events.log`: `<unix seconds> <event>`.
pub(crate) fn log_event(layout: &Layout, line: &str) {
    let path = layout.events_log();
    let ok = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{} {line}", crate::fetch_now()));
    if let Err(e) = ok {
        tracing::warn!(path = %path.display(), error = %e, "cannot record event");
    }
}
