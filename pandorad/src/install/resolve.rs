//! Resolve: the closure of exact pins that a request needs, each with where it comes from
//! (the store, a registry by priority, or a local file) and why it is needed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use pandora_common::files::{PackageArg, PackageEntry, Pin, VersionEntry};
use pandora_common::layout::Layout;

use crate::engine::Events;
use crate::error::{Error, Result};
use crate::fetch::{FetchError, RegistryClient};
use crate::pkgfile;
use crate::registries::Lazy;
use crate::store::StoreView;

/// Where a package of the closure comes from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// Already in the store.
    Store,
    /// Registry number `usize` of the clients (in priority order), this version entry.
    Registry(usize, VersionEntry),
    /// A local .pkg file with its archive sha256, size and `run` hooks (`phase: command`).
    File(PathBuf, String, u64, Vec<String>),
}

/// One package of the closure.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) source: Source,
    /// The package that depends on it; `None` when the user asked for it.
    pub(crate) needed_by: Option<Pin>,
    pub(crate) deprecated: bool,
}

impl Node {
    /// The `run` hooks installing it executes (`phase: command`), as its source says.
    pub(crate) fn hooks(&self) -> &[String] {
        match &self.source {
            Source::Registry(_, v) => &v.hooks,
            Source::File(_, _, _, hooks) => hooks,
            Source::Store => &[],
        }
    }
}

/// The closure, in pin order.
pub(crate) type Closure = BTreeMap<Pin, Node>;

/// The architectures a package may declare to install here.
pub(crate) fn arch_fits(arch: &str) -> bool {
    arch == std::env::consts::ARCH || arch == "any" || arch == "noarch"
}

/// Resolves `requests` (names, pins or .pkg paths) and their dependencies.
pub(crate) fn resolve(
    layout: &Layout,
    store: &StoreView,
    registries: &mut Lazy<'_>,
    requests: &[String],
    repair: bool,
    announce: bool,
    events: &Events,
) -> Result<Closure> {
    let mut closure = Closure::new();
    let mut queue: VecDeque<(Pin, Option<Pin>)> = VecDeque::new();
    let mut prefetched = BTreeSet::new();
    for (at, request) in requests.iter().enumerate() {
        let arg = PackageArg::parse(request).map_err(|source| Error::BadPackage {
            arg: request.clone(),
            source,
        })?;
        match arg {
            PackageArg::File(path) => {
                let (pin, node, dependencies) = local(store, path, repair)?;
                queue.extend(dependencies.into_iter().map(|d| (d, Some(pin.clone()))));
                closure.insert(pin, node);
            }
            PackageArg::Pin(pin) => queue.push_back((pin, None)),
            PackageArg::Name(name) => {
                let clients = registries.get()?;
                if !prefetched.contains(&name) {
                    // This name and the names asked for after it, together.
                    let names: BTreeSet<String> = requests[at..]
                        .iter()
                        .filter_map(|r| match PackageArg::parse(r) {
                            Ok(PackageArg::Name(n)) => Some(n),
                            _ => None,
                        })
                        .collect();
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    prefetch(clients, &names, &mut prefetched, events);
                }
                let (i, entry) = find_package(clients, &name, events)?;
                let registry = clients[i].config.name.clone();
                let v = entry.newest().ok_or_else(|| Error::NoVersions {
                    registry: registry.clone(),
                    name: name.clone(),
                })?;
                let pin = Pin {
                    name,
                    version: v.version.clone(),
                };
                if announce {
                    events.info(format!(
                        "{} is {pin} (latest in registry `{registry}`)",
                        pin.name
                    ));
                }
                queue.push_back((pin, None));
            }
        }
    }
    while let Some((pin, needed_by)) = queue.pop_front() {
        if closure.contains_key(&pin) {
            continue;
        }
        // Asked to repair: an entry the user named is checked file by file first, and
        // fetched again when anything differs from what was installed.
        let broken =
            repair && needed_by.is_none() && store.get(&pin.name, &pin.version).is_some() && {
                let problems =
                    crate::verify::problems(&layout.store_entry(&pin.name, &pin.version));
                !problems.is_empty()
            };
        if let Some(installed) = store.get(&pin.name, &pin.version).filter(|_| !broken) {
            for d in &installed.manifest.dependencies {
                queue.push_back((d.clone(), Some(pin.clone())));
            }
            let node = Node {
                source: Source::Store,
                needed_by,
                deprecated: false,
            };
            closure.insert(pin, node);
            continue;
        }
        // A damaged entry is refused unless asked to repair it, when it is fetched again
        // and replaces the damaged one at commit.
        if let Some(reason) = store.damage(&pin.name, &pin.version)
            && !repair
        {
            return Err(Error::Damaged {
                pin,
                reason: reason.to_string(),
            });
        }
        let clients = registries.get()?;
        if !prefetched.contains(pin.name.as_str()) {
            // This package and the others waiting, together.
            let names = std::iter::once(&pin)
                .chain(queue.iter().map(|(p, _)| p))
                .filter(|p| !closure.contains_key(*p) && store.get(&p.name, &p.version).is_none())
                .map(|p| p.name.as_str())
                .filter(|n| !prefetched.contains(*n))
                .collect::<BTreeSet<_>>();
            let names: Vec<&str> = names.into_iter().collect();
            prefetch(clients, &names, &mut prefetched, events);
        }
        // Who needs it, up to what was asked for.
        let mut chain: Vec<Pin> = Vec::new();
        let mut at = needed_by.clone();
        while let Some(p) = at.filter(|p| !chain.contains(p)) {
            at = closure.get(&p).and_then(|n| n.needed_by.clone());
            chain.push(p);
        }
        let (i, version) = find_version(clients, &pin, &chain, events)?;
        for d in &version.dependencies {
            queue.push_back((d.clone(), Some(pin.clone())));
        }
        let deprecated = version.deprecated;
        let node = Node {
            source: Source::Registry(i, version),
            needed_by,
            deprecated,
        };
        closure.insert(pin, node);
    }
    Ok(closure)
}

/// A local .pkg file, checked whole now: its pin, its node, and the dependencies to resolve
/// (none when it is in the store already, whose dependencies the queue adds itself).
fn local(store: &StoreView, path: PathBuf, repair: bool) -> Result<(Pin, Node, Vec<Pin>)> {
    let found = pkgfile::inspect_file(&path)?;
    let pin = found.manifest.pin();
    if let Some(reason) = store.damage(&pin.name, &pin.version)
        && !repair
    {
        return Err(Error::Damaged {
            pin,
            reason: reason.to_string(),
        });
    }
    if !arch_fits(&found.manifest.arch) {
        return Err(Error::WrongArch {
            pin,
            arch: found.manifest.arch.clone(),
            machine: std::env::consts::ARCH,
        });
    }
    if let Some(installed) = store.get(&pin.name, &pin.version) {
        if installed.manifest.archive_sha256.as_deref() != Some(found.sha256.as_str()) {
            return Err(Error::Conflict { pin, path });
        }
        let node = Node {
            source: Source::Store,
            needed_by: None,
            deprecated: false,
        };
        return Ok((pin, node, installed.manifest.dependencies.clone()));
    }
    let node = Node {
        source: Source::File(path, found.sha256, found.compressed_size, found.run_hooks),
        needed_by: None,
        deprecated: found.manifest.deprecated,
    };
    Ok((pin, node, found.manifest.dependencies))
}

fn asked(clients: &[RegistryClient]) -> Vec<String> {
    clients.iter().map(|c| c.config.name.clone()).collect()
}

/// Downloads the index files of `names` ahead of their lookups, several at a time, each
/// from the registry its lookup will read it from: the first, by priority, whose snapshot
/// lists it. A name goes on to the next registry only where the lookup would (this
/// registry's snapshot was loaded from it), so no registry hears of a name it would not be
/// asked for. Records the names in `done`.
fn prefetch(
    clients: &mut [RegistryClient],
    names: &[&str],
    done: &mut BTreeSet<String>,
    events: &Events,
) {
    done.extend(names.iter().map(|n| n.to_string()));
    if names.len() < 2 {
        return;
    }
    let stop = Some(events.stopper());
    let mut left = names.to_vec();
    for c in clients.iter_mut() {
        let (listed, go_on) = c.prefetch(&left, &stop);
        left.retain(|n| !listed.contains(n));
        if left.is_empty() || !go_on || events.check().is_err() {
            break;
        }
    }
}

/// What the registries said when none had what was asked.
struct NotFound {
    /// Why registries could not answer, one sentence each.
    problems: Vec<String>,
    /// The clients that answered (that they lack it), by index: the ones worth asking for
    /// close names. One that failed is not asked again.
    answered: Vec<bool>,
}

/// The first registry, by priority, for which `lookup` finds something; a fallback past a
/// failing registry is warned about under `subject`.
fn first_having<T>(
    clients: &mut [RegistryClient],
    subject: &str,
    events: &Events,
    mut lookup: impl FnMut(&mut RegistryClient) -> std::result::Result<Option<T>, FetchError>,
) -> Result<std::result::Result<(usize, T), NotFound>> {
    let mut problems = Vec::new();
    let mut answered = vec![false; clients.len()];
    for (i, c) in clients.iter_mut().enumerate() {
        match lookup(c) {
            Ok(Some(found)) => {
                warn_fallback(events, subject, &c.config.name, &problems);
                return Ok(Ok((i, found)));
            }
            Ok(None) => answered[i] = true,
            // A registry caught lying is not skipped for the next one: the user must know.
            Err(e) if e.is_untrusted() => return Err(e.into()),
            Err(e) => {
                // Stopped (the client left, the deadline passed): that, not the registry.
                events.check()?;
                problems.push(pandora_common::error_chain(&e, ": "));
            }
        }
    }
    Ok(Err(NotFound { problems, answered }))
}

/// The clients of `answered` that answered.
fn answering<'c>(
    clients: &'c mut [RegistryClient],
    answered: &'c [bool],
) -> impl Iterator<Item = &'c mut RegistryClient> {
    clients
        .iter_mut()
        .zip(answered)
        .filter_map(|(c, ok)| ok.then_some(c))
}

/// The first registry, by priority, that has package `name`.
fn find_package(
    clients: &mut [RegistryClient],
    name: &str,
    events: &Events,
) -> Result<(usize, PackageEntry)> {
    let NotFound { problems, answered } =
        match first_having(clients, name, events, |c| c.package(name))? {
            Ok(found) => return Ok(found),
            Err(not_found) => not_found,
        };
    let close = crate::reads::close_names(answering(clients, &answered), name);
    Err(Error::Missing {
        what: name.to_string(),
        needed_by: Vec::new(),
        asked: asked(clients),
        problems,
        in_store: Vec::new(),
        close,
        verb: "install",
    })
}

/// The first registry, by priority, that has `pin`.
fn find_version(
    clients: &mut [RegistryClient],
    pin: &Pin,
    needed_by: &[Pin],
    events: &Events,
) -> Result<(usize, VersionEntry)> {
    let NotFound { problems, answered } =
        match first_having(clients, &pin.to_string(), events, |c| c.version(pin))? {
            Ok(found) => return Ok(found),
            Err(not_found) => not_found,
        };
    // Asked for by the user: the versions the registries that answered do have (newest
    // first, three at most) are the likely meaning. A dependency's pin is exact, so none is
    // offered for it.
    let mut close = Vec::new();
    if needed_by.is_empty() {
        let mut versions: Vec<String> = Vec::new();
        for c in answering(clients, &answered) {
            if let Ok(Some(p)) = c.package(&pin.name) {
                versions.extend(p.versions.into_iter().map(|v| v.version));
            }
        }
        versions.sort_by(|a, b| pandora_common::files::compare_versions(b, a));
        versions.dedup();
        close = versions
            .into_iter()
            .take(3)
            .map(|v| format!("{}@{v}", pin.name))
            .collect();
    }
    Err(Error::Missing {
        what: pin.to_string(),
        needed_by: needed_by.to_vec(),
        asked: asked(clients),
        problems,
        in_store: Vec::new(),
        close,
        verb: "install",
    })
}

/// A package found in a lower-priority registry while a higher one failed may not be the
/// package the user meant: say so, naming the failures.
fn warn_fallback(events: &Events, subject: &str, from: &str, problems: &[String]) {
    if !problems.is_empty() {
        events.warn(
            "registry-fallback",
            subject,
            format!(
                "{subject} comes from registry `{from}` because a higher-priority registry failed: {}",
                problems.join("; ")
            ),
            &[("package", subject), ("registry", from)],
        );
    }
}
