//! Activation: which store entries a profile shows, as a generation of links.
//!
//! `activate` and `deactivate` compute the profile's new set (one version per name, every
//! dependency included), plan its forest, build it in `tmp/`, and hand it to the profile's
//! writer, which makes it the current generation by one rename. Nothing in the store
//! changes; a failure before the switch leaves the profile as it was.

mod cache;
mod desktop;
mod forest;
mod home;
mod lock;
mod manage;
pub(crate) mod profile;
mod remove;
#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests;

pub(crate) use desktop::set_session_path;
pub(crate) use forest::Conflict;
pub(crate) use lock::{apply_lock, export_lock};
pub(crate) use manage::{change_profile, list_profiles, set_override};
pub(crate) use profile::repair;
pub(crate) use remove::{
    Holders, RemoveRequest, describe as describe_holders, prune_generations, prune_store, remove,
};

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;

use pandora_common::files::{ConflictStrategy, FileList, LockedPackage, Lockfile, PackageArg, Pin};
use pandora_common::layout::Layout;
use pandora_proto::v1::{
    InstalledEntry, ListInstalledReply, PlanActivation, SessionPathQuestion, Summary, WhichReply,
};

use crate::engine::{Events, Outcome};
use crate::error::{Error, Result};
use crate::journal;
use crate::store::StoreView;

/// What to activate, and how.
pub(crate) struct Request<'a> {
    /// `NAME` (the newest stored version) or `NAME@VERSION`.
    pub(crate) package: &'a str,
    /// Empty: the active profile.
    pub(crate) profile: &'a str,
    /// Empty: the profile's own strategy.
    pub(crate) strategy: &'a str,
}

pub(crate) fn profile_name(layout: &Layout, asked: &str) -> Result<String> {
    if asked.is_empty() {
        return Ok(profile::active(layout));
    }
    pandora_common::files::validate_name(asked)
        .map_err(|_| Error::Usage(format!("`{asked}` is not a valid profile name")))?;
    Ok(asked.to_string())
}

/// Activates a stored package (and its dependencies) in a profile.
pub(crate) fn activate(
    layout: &Layout,
    store: &StoreView,
    req: &Request<'_>,
    home: Option<&Path>,
    events: &Events,
) -> Outcome {
    let pin = stored_pin(store, req.package)?;
    activate_pins(
        layout,
        store,
        std::slice::from_ref(&pin),
        req.profile,
        req.strategy,
        home,
        events,
    )
}

/// Activates stored pins (and their dependencies) in a profile, all in one generation.
pub(crate) fn activate_pins(
    layout: &Layout,
    store: &StoreView,
    pins: &[Pin],
    profile: &str,
    strategy: &str,
    home: Option<&Path>,
    events: &Events,
) -> Outcome {
    let profile = profile_name(layout, profile)?;
    let mut state = profile::state(layout, &profile)?;
    let strategy = match strategy {
        "" => state.request.conflicts,
        s => ConflictStrategy::parse(s).ok_or_else(|| {
            Error::Usage(format!(
                "`{s}` is not a strategy: use prefer-new, prefer-existing or namespace"
            ))
        })?,
    };
    let mut lines = Vec::new();
    for pin in pins {
        // One version per name: the new pin replaces any other version of it.
        state.request.packages.retain(|p| p.name != pin.name);
        state.request.packages.push(pin.clone());
        for old in replaced(&state.lock, pin) {
            lines.push(format!("replaced {old}"));
        }
    }
    state.request.packages.sort();
    let outcome = rebuild(layout, store, &mut state, pins, strategy, home, events)?;
    for pin in pins {
        lines.push(format!(
            "activated {pin} in profile `{profile}` (generation {})",
            outcome.generation
        ));
    }
    let recorded: Vec<String> = pins
        .iter()
        .map(|pin| format!("activate {pin} profile={profile}"))
        .collect();
    journal::record_all(layout, &recorded);
    let session_path_question = outcome.session_path_question;
    lines.extend(outcome.notes);
    Ok(Summary {
        lines,
        counts: [
            ("generation".to_string(), outcome.generation),
            ("links".to_string(), outcome.links),
            ("dirs".to_string(), outcome.dirs),
        ]
        .into_iter()
        .collect(),
        session_path_question,
        ..Default::default()
    })
}

/// The other versions of `pin`'s name that a lockfile holds.
fn replaced(lock: &Lockfile, pin: &Pin) -> Vec<Pin> {
    lock.packages
        .iter()
        .map(|l| l.pin.clone())
        .filter(|p| p.name == pin.name && p.version != pin.version)
        .collect()
}

/// What activating `pins` in a profile would change, for an install's plan: `None` when
/// every one of them is active there already.
pub(crate) fn plan_activation(
    layout: &Layout,
    pins: &[Pin],
    profile: &str,
) -> Result<Option<PlanActivation>> {
    let profile = profile_name(layout, profile)?;
    let state = profile::state(layout, &profile)?;
    let new: Vec<&Pin> = pins
        .iter()
        .filter(|p| !state.lock.packages.iter().any(|l| &l.pin == *p))
        .collect();
    if new.is_empty() {
        return Ok(None);
    }
    Ok(Some(PlanActivation {
        packages: new.iter().map(ToString::to_string).collect(),
        replaces: new
            .iter()
            .flat_map(|p| replaced(&state.lock, p))
            .map(|p| p.to_string())
            .collect(),
        generation: state.generation.unwrap_or(0),
        profile,
    }))
}

/// Removes `name` from a profile, refused while an active package depends on it.
pub(crate) fn deactivate(
    layout: &Layout,
    store: &StoreView,
    name: &str,
    profile: &str,
    home: Option<&Path>,
    events: &Events,
) -> Outcome {
    let profile = profile_name(layout, profile)?;
    let mut state = profile::state(layout, &profile)?;
    let Some(active) = state.lock.packages.iter().find(|l| l.pin.name == name) else {
        return Err(Error::NotActive {
            name: name.to_string(),
            profile,
        });
    };
    let pin = active.pin.clone();
    let dependents = dependents(store, &state.lock, name);
    if !dependents.is_empty() {
        return Err(Error::Dependents {
            pin,
            dependents,
            profile,
        });
    }
    state.request.packages.retain(|p| p.name != name);
    let strategy = state.request.conflicts;
    let outcome = rebuild(layout, store, &mut state, &[], strategy, home, events)?;
    journal::record(layout, &format!("deactivate {pin} profile={profile}"));
    let mut lines = vec![format!(
        "deactivated {pin} in profile `{profile}` (generation {}); it stays in the store",
        outcome.generation
    )];
    lines.extend(outcome.notes);
    Ok(Summary {
        lines,
        ..Default::default()
    })
}

/// The active packages of `lock` that depend on `name`.
fn dependents(store: &StoreView, lock: &Lockfile, name: &str) -> Vec<Pin> {
    lock.packages
        .iter()
        .filter(|l| l.pin.name != name)
        .filter(|l| {
            store
                .get(&l.pin.name, &l.pin.version)
                .is_some_and(|i| i.manifest.dependencies.iter().any(|d| d.name == name))
        })
        .map(|l| l.pin.clone())
        .collect()
}

/// The version a package argument names in the store: `NAME@VERSION` as given, a bare
/// `NAME` the newest stored version.
fn stored_pin(store: &StoreView, arg: &str) -> Result<Pin> {
    let bad = |source| Error::BadPackage {
        arg: arg.to_string(),
        source,
    };
    match PackageArg::parse(arg).map_err(bad)? {
        PackageArg::Pin(pin) if store.get(&pin.name, &pin.version).is_some() => Ok(pin),
        PackageArg::Pin(pin) => Err(Error::NotInStore(pin)),
        PackageArg::Name(name) => store
            .versions(&name)
            .last()
            .map(|i| i.manifest.pin())
            .ok_or(Error::NameNotInStore(name)),
        PackageArg::File(path) => Err(Error::Usage(format!(
            "activate takes an installed package, NAME or NAME@VERSION, not the file {}; install it first",
            path.display()
        ))),
    }
}

struct Rebuilt {
    generation: u64,
    links: u64,
    dirs: u64,
    notes: Vec<String>,
    session_path_question: Option<SessionPathQuestion>,
}

/// Builds and switches to the generation holding `state.request.packages` and their
/// dependencies; `newcomers` are the packages this change brings (for the strategies).
fn rebuild(
    layout: &Layout,
    store: &StoreView,
    state: &mut profile::State,
    newcomers: &[Pin],
    strategy: ConflictStrategy,
    home: Option<&Path>,
    events: &Events,
) -> Result<Rebuilt> {
    let members = closure(store, &state.request.packages, newcomers)?;
    crate::store::lists::retain(&layout.store(), |dir| {
        let name = dir.parent().and_then(Path::file_name);
        let version = dir.file_name();
        matches!((name, version), (Some(n), Some(v))
            if store.get(&n.to_string_lossy(), &v.to_string_lossy()).is_some())
    });
    let lists: Vec<std::sync::Arc<FileList>> = members
        .iter()
        .map(|p| {
            let dir = layout.store_entry(&p.name, &p.version);
            crate::store::lists::file_list(&dir).map_err(|e| Error::Damaged {
                pin: p.clone(),
                reason: pandora_common::error_chain(&e, ": "),
            })
        })
        .collect::<Result<_>>()?;
    let forest_members: Vec<forest::Member<'_>> = members
        .iter()
        .zip(&lists)
        .map(|(p, files)| forest::Member {
            pin: p.clone(),
            files,
            newcomer: newcomers.contains(p),
        })
        .collect();
    let rules = forest::Rules {
        strategy,
        overrides: &state.request.overrides,
    };
    let plan = forest::plan(&forest_members, &rules).map_err(Error::PathConflicts)?;
    events.check()?;
    let staged = tempfile::Builder::new()
        .prefix("generation-")
        .tempdir_in(layout.tmp())
        .map_err(Error::io("create a directory in", layout.tmp()))?;
    let previous = state.generation.map(|n| layout.generation(&state.name, n));
    let known = previous.as_deref().and_then(cache::plan_of);
    let previous = previous.as_deref().map(|dir| forest::Previous {
        dir,
        plan: known.as_deref(),
    });
    let counts =
        forest::build(&plan, staged.path(), previous).map_err(Error::io("build", staged.path()))?;
    // `$HOME/bin` and its siblings link into these: a profile with nothing in one shows an
    // empty directory there, not a dangling link.
    for dir in home::LINKED {
        let path = staged.path().join(dir);
        match fs_err::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("create", &path)(e)),
        }
    }
    let n = profile::next_generation(layout, &state.name);
    let lock = Lockfile {
        profile: state.name.clone(),
        generation: n,
        packages: members
            .iter()
            .map(|p| {
                let installed = store.get(&p.name, &p.version);
                LockedPackage {
                    pin: p.clone(),
                    sha256: installed
                        .and_then(|i| i.manifest.archive_sha256.clone())
                        .unwrap_or_default(),
                    registry: installed
                        .and_then(|i| i.origin.clone())
                        .unwrap_or_else(|| "local".into()),
                }
            })
            .collect(),
    };
    for p in &members {
        if store
            .get(&p.name, &p.version)
            .is_some_and(|i| i.manifest.deprecated)
        {
            let subject = p.to_string();
            events.warn(
                "deprecated",
                &subject,
                format!("{p} is deprecated by its publisher"),
                &[("package", &subject)],
            );
        }
    }
    // The last safe point: after it the switch completes.
    events.check()?;
    profile::commit(
        layout,
        &state.name,
        n,
        &staged.keep(),
        &lock,
        &state.request,
    )?;
    cache::keep_plan(&layout.generation(&state.name, n), plan);
    let mut shown = home::Shown {
        notes: Vec::new(),
        session_path_question: None,
    };
    if profile::active(layout) == state.name
        && let Some(home) = home
    {
        shown = home::show(layout, home);
    }
    Ok(Rebuilt {
        generation: n,
        links: counts.links,
        dirs: counts.dirs,
        notes: shown.notes,
        session_path_question: shown.session_path_question,
    })
}

/// `requested` and every dependency, each in the store, one version per name.
/// A clash names first the side that `newcomers` (what this change brings) wants.
fn closure(store: &StoreView, requested: &[Pin], newcomers: &[Pin]) -> Result<Vec<Pin>> {
    let mut chosen: BTreeMap<String, Pin> = BTreeMap::new();
    let mut missing: BTreeMap<Pin, Vec<Pin>> = BTreeMap::new();
    // Who first needed each package (none for what was asked for): the chains that
    // explain a clash or a missing dependency.
    let mut parent: HashMap<Pin, Pin> = HashMap::new();
    let chain = |parent: &HashMap<Pin, Pin>, pin: &Pin| {
        let mut c = vec![pin.clone()];
        while let Some(p) = parent.get(c.last().expect("not empty")) {
            if c.contains(p) {
                break;
            }
            c.push(p.clone());
        }
        c
    };
    let mut queue: VecDeque<(Pin, Option<Pin>)> =
        requested.iter().map(|p| (p.clone(), None)).collect();
    while let Some((pin, needed_by)) = queue.pop_front() {
        if let Some(by) = &needed_by {
            parent.entry(pin.clone()).or_insert_with(|| by.clone());
        }
        if let Some(have) = chosen.get(&pin.name) {
            if have.version != pin.version {
                let (mut active, mut wanted) = (chain(&parent, have), chain(&parent, &pin));
                let new = |c: &Vec<Pin>| c.last().is_some_and(|root| newcomers.contains(root));
                if new(&active) && !new(&wanted) {
                    std::mem::swap(&mut active, &mut wanted);
                }
                return Err(Error::VersionClash { active, wanted });
            }
            continue;
        }
        let Some(installed) = store.get(&pin.name, &pin.version) else {
            if needed_by.is_none() {
                return Err(Error::NotInStore(pin));
            }
            let mut c = chain(&parent, &pin);
            c.remove(0);
            missing.entry(pin).or_insert(c);
            continue;
        };
        for d in &installed.manifest.dependencies {
            queue.push_back((d.clone(), Some(pin.clone())));
        }
        chosen.insert(pin.name.clone(), pin);
    }
    if !missing.is_empty() {
        return Err(Error::MissingDependencies(missing.into_iter().collect()));
    }
    Ok(chosen.into_values().collect())
}

/// What a profile holds.
pub(crate) fn list_installed(layout: &Layout, profile: &str) -> Result<ListInstalledReply> {
    let profile = profile_name(layout, profile)?;
    let state = profile::state(layout, &profile)?;
    let requested: BTreeSet<&Pin> = state.request.packages.iter().collect();
    Ok(ListInstalledReply {
        active: profile::active(layout) == profile,
        generation: state.generation.unwrap_or(0),
        entries: state
            .lock
            .packages
            .iter()
            .map(|l| InstalledEntry {
                name: l.pin.name.clone(),
                version: l.pin.version.clone(),
                registry: l.registry.clone(),
                requested: requested.contains(&l.pin),
            })
            .collect(),
        profile,
    })
}

/// Which package provides `path` (`viewer` means `bin/viewer`) in a profile.
pub(crate) fn which(layout: &Layout, path: &str, profile: &str) -> Result<WhichReply> {
    let profile = profile_name(layout, profile)?;
    let rel = if path.contains('/') {
        path.trim_start_matches('/').to_string()
    } else {
        format!("bin/{path}")
    };
    let not_found = || Error::NotProvided {
        path: rel.clone(),
        profile: profile.clone(),
    };
    let n = profile::current(layout, &profile).ok_or_else(not_found)?;
    let mut at = layout.generation(&profile, n);
    for part in rel
        .split('/')
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
    {
        at.push(part);
        let meta = fs_err::symlink_metadata(&at).map_err(|_| not_found())?;
        if meta.file_type().is_symlink() {
            let target = fs_err::read_link(&at).map_err(Error::io("read", &at))?;
            let owner = forest::owner_of(&target).ok_or_else(not_found)?;
            return Ok(WhichReply {
                name: owner.name.clone(),
                version: owner.version.clone(),
                path: rel.clone(),
                profile,
            });
        }
    }
    Err(not_found())
}
