//! Activation: which store entries a profile shows, as a generation of links.
//!
//! `activate` and `deactivate` compute the profile's new set (one version per name, every
//! dependency included), plan its forest, build it in `tmp/`, and hand it to the profile's
//! writer, which makes it the current generation by one rename. Nothing in the store
//! changes; a failure before the switch leaves the profile as it was.

mod forest;
mod home;
mod profile;

pub(crate) use forest::Conflict;
pub(crate) use profile::repair;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use pandora_common::files::{ConflictStrategy, FileList, LockedPackage, Lockfile, PackageArg, Pin};
use pandora_common::layout::Layout;
use pandora_proto::v1::change_profile_request::Action;
use pandora_proto::v1::{
    ExportLockReply, GenerationInfo, InstalledEntry, ListInstalledReply, ListProfilesReply,
    ProfileInfo, Summary, WhichReply,
};

use crate::engine::{Events, Outcome};
use crate::error::{Error, Result};
use crate::journal;
use crate::store::{StoreView, entry};

/// What to activate, and how.
pub(crate) struct Request<'a> {
    /// `NAME` (the newest stored version) or `NAME@VERSION`.
    pub(crate) package: &'a str,
    /// Empty: the active profile.
    pub(crate) profile: &'a str,
    /// Empty: the profile's own strategy.
    pub(crate) strategy: &'a str,
}

fn profile_name(layout: &Layout, asked: &str) -> Result<String> {
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
    let profile = profile_name(layout, req.profile)?;
    let pin = stored_pin(store, req.package)?;
    let mut state = profile::state(layout, &profile)?;
    let strategy = match req.strategy {
        "" => state.request.conflicts,
        s => ConflictStrategy::parse(s).ok_or_else(|| {
            Error::Usage(format!(
                "`{s}` is not a strategy: use prefer-new, prefer-existing or namespace"
            ))
        })?,
    };
    // One version per name: the new pin replaces any other version of it.
    state.request.packages.retain(|p| p.name != pin.name);
    state.request.packages.push(pin.clone());
    state.request.packages.sort();
    let replaced: Vec<Pin> = state
        .lock
        .packages
        .iter()
        .map(|l| l.pin.clone())
        .filter(|p| p.name == pin.name && p.version != pin.version)
        .collect();
    let mut lines = Vec::new();
    for old in &replaced {
        lines.push(format!("replaced {old}"));
    }
    let outcome = rebuild(
        layout,
        store,
        &mut state,
        Some(&pin),
        strategy,
        home,
        events,
    )?;
    lines.push(format!(
        "activated {pin} in profile `{profile}` (generation {})",
        outcome.generation
    ));
    lines.extend(outcome.notes);
    journal::record(layout, &format!("activate {pin} profile={profile}"));
    Ok(Summary {
        lines,
        counts: [
            ("generation".to_string(), outcome.generation),
            ("links".to_string(), outcome.links),
            ("dirs".to_string(), outcome.dirs),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    })
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
    let dependents: Vec<Pin> = state
        .lock
        .packages
        .iter()
        .filter(|l| l.pin.name != name)
        .filter(|l| {
            store
                .get(&l.pin.name, &l.pin.version)
                .is_some_and(|i| i.manifest.dependencies.iter().any(|d| d.name == name))
        })
        .map(|l| l.pin.clone())
        .collect();
    if !dependents.is_empty() {
        return Err(Error::Dependents {
            pin,
            dependents,
            profile,
        });
    }
    state.request.packages.retain(|p| p.name != name);
    let strategy = state.request.conflicts;
    let outcome = rebuild(layout, store, &mut state, None, strategy, home, events)?;
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
}

/// Builds and switches to the generation holding `state.request.packages` and their
/// dependencies; `newcomer` is the package this change brings (for the strategies).
fn rebuild(
    layout: &Layout,
    store: &StoreView,
    state: &mut profile::State,
    newcomer: Option<&Pin>,
    strategy: ConflictStrategy,
    home: Option<&Path>,
    events: &Events,
) -> Result<Rebuilt> {
    let members = closure(store, &state.request.packages)?;
    let lists: Vec<FileList> = members
        .iter()
        .map(|p| {
            let dir = layout.store_entry(&p.name, &p.version);
            entry::read_file_list(&dir).map_err(|e| Error::Damaged {
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
            newcomer: newcomer == Some(p),
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
    let counts = forest::build(&plan, staged.path()).map_err(Error::io("build", staged.path()))?;
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
    let mut notes = Vec::new();
    if profile::active(layout) == state.name
        && let Some(home) = home
    {
        notes = home::ensure_links(layout, home);
    }
    Ok(Rebuilt {
        generation: n,
        links: counts.links,
        dirs: counts.dirs,
        notes,
    })
}

/// `requested` and every dependency, each in the store, one version per name.
fn closure(store: &StoreView, requested: &[Pin]) -> Result<Vec<Pin>> {
    let mut chosen: BTreeMap<String, Pin> = BTreeMap::new();
    let mut missing: BTreeSet<(Pin, Pin)> = BTreeSet::new();
    let mut queue: VecDeque<(Pin, Option<Pin>)> =
        requested.iter().map(|p| (p.clone(), None)).collect();
    while let Some((pin, needed_by)) = queue.pop_front() {
        if let Some(have) = chosen.get(&pin.name) {
            if have.version != pin.version {
                return Err(Error::VersionClash {
                    active: have.clone(),
                    wanted: pin,
                    needed_by,
                });
            }
            continue;
        }
        let Some(installed) = store.get(&pin.name, &pin.version) else {
            match needed_by {
                Some(by) => {
                    missing.insert((pin, by));
                    continue;
                }
                None => return Err(Error::NotInStore(pin)),
            }
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

/// Records in `profile.acl` that `path` comes from `package` when packages conflict there;
/// the next activation follows it.
pub(crate) fn set_override(layout: &Layout, path: &str, package: &str, profile: &str) -> Outcome {
    let profile = profile_name(layout, profile)?;
    let name = match PackageArg::parse(package) {
        Ok(PackageArg::Pin(p)) => p.name,
        Ok(PackageArg::Name(n)) => n,
        _ => {
            return Err(Error::Usage(format!(
                "`{package}` is not a package: use NAME or NAME@VERSION"
            )));
        }
    };
    let path = path.trim_start_matches('/').to_string();
    let mut state = profile::state(layout, &profile)?;
    state.request.overrides.retain(|o| o.path != path);
    state
        .request
        .overrides
        .push(pandora_common::files::PathOverride {
            path: path.clone(),
            package: name.clone(),
        });
    let config = layout.profile_config(&profile);
    if let Some(dir) = config.parent() {
        fs_err::create_dir_all(dir).map_err(Error::io("create", dir))?;
    }
    pandora_common::write_atomic(&config, state.request.to_source().as_bytes())
        .map_err(Error::io("write", &config))?;
    Ok(Summary {
        lines: vec![format!(
            "in profile `{profile}`, {path} comes from {name} when packages conflict there"
        )],
        ..Default::default()
    })
}

/// Every profile, and the generations of one.
pub(crate) fn list_profiles(layout: &Layout, profile: &str) -> Result<ListProfilesReply> {
    let asked = profile_name(layout, profile)?;
    let active = profile::active(layout);
    let mut profiles = Vec::new();
    let mut names = profile::names(layout);
    if !names.contains(&active) {
        names.insert(0, active.clone());
    }
    for name in names {
        let state = profile::state(layout, &name)?;
        profiles.push(ProfileInfo {
            active: name == active,
            generation: state.generation.unwrap_or(0),
            packages: state.lock.packages.len() as u64,
            name,
        });
    }
    let current = profile::current(layout, &asked);
    let generations = profile::generations(layout, &asked)
        .into_iter()
        .map(|n| {
            let packages = profile::generation_lock(layout, &asked, n)
                .map(|l| l.packages.iter().map(|p| p.pin.to_string()).collect())
                .unwrap_or_default();
            GenerationInfo {
                number: n,
                current: current == Some(n),
                packages,
            }
        })
        .collect();
    Ok(ListProfilesReply {
        profiles,
        profile: asked,
        generations,
    })
}

/// Creates, switches to, deletes or rolls back a profile.
pub(crate) fn change_profile(
    layout: &Layout,
    store: &StoreView,
    action: Action,
    name: &str,
    generation: u64,
    home: Option<&Path>,
    events: &Events,
) -> Outcome {
    let name = profile_name(layout, name)?;
    let exists = layout.profile(&name).is_dir();
    let line = match action {
        Action::Create => {
            if exists {
                return Err(Error::ProfileExists(name));
            }
            let mut state = profile::state(layout, &name)?;
            let strategy = state.request.conflicts;
            let built = rebuild(layout, store, &mut state, None, strategy, None, events)?;
            format!(
                "created profile `{name}` (generation {}, empty)",
                built.generation
            )
        }
        Action::Switch => {
            if !exists {
                return Err(Error::NoSuchProfile(name));
            }
            if profile::current(layout, &name).is_none() {
                let mut state = profile::state(layout, &name)?;
                let strategy = state.request.conflicts;
                rebuild(layout, store, &mut state, None, strategy, None, events)?;
            }
            profile::make_active(layout, &name)?;
            let mut line = format!("profile `{name}` is active");
            if let Some(home) = home {
                for note in home::ensure_links(layout, home) {
                    line.push('\n');
                    line.push_str(&note);
                }
            }
            line
        }
        Action::Delete => {
            if !exists {
                return Err(Error::NoSuchProfile(name));
            }
            if profile::active(layout) == name {
                return Err(Error::ActiveProfile(name));
            }
            profile::delete(layout, &name)?;
            format!("deleted profile `{name}`; the store keeps its packages")
        }
        Action::Rollback => {
            let Some(now) = profile::current(layout, &name) else {
                return Err(Error::NoSuchProfile(name));
            };
            let all = profile::generations(layout, &name);
            let to = match generation {
                0 => all.iter().copied().filter(|n| *n < now).max(),
                n => all.iter().copied().find(|g| *g == n),
            }
            .ok_or_else(|| Error::NoSuchGeneration {
                profile: name.clone(),
                generation,
                available: all.clone(),
            })?;
            profile::switch_generation(layout, &name, to)?;
            format!("profile `{name}` is back at generation {to} (from {now})")
        }
        Action::Unspecified => return Err(Error::Usage("name a profile action".into())),
    };
    journal::record(layout, &format!("profile {action:?} {name}").to_lowercase());
    Ok(Summary {
        lines: vec![line],
        ..Default::default()
    })
}

/// A profile's current lockfile, as text.
pub(crate) fn export_lock(layout: &Layout, profile: &str) -> Result<ExportLockReply> {
    let profile = profile_name(layout, profile)?;
    let state = profile::state(layout, &profile)?;
    if state.generation.is_none() {
        return Err(Error::NothingActive(profile));
    }
    Ok(ExportLockReply {
        text: state.lock.to_source(),
        profile,
    })
}

/// Installs exactly the packages of `lock` and makes them the new generation of a profile:
/// every blob's sha256 must be the lockfile's (checked against the registries' plan before
/// anything is fetched, and against the store after), so the result is the same forest,
/// link for link, as where the lockfile was exported.
pub(crate) fn apply_lock(
    layout: &Layout,
    store: &StoreView,
    text: &str,
    origin: &str,
    profile: &str,
    home: Option<&Path>,
    events: &Events,
) -> Outcome {
    let lock = Lockfile::parse(text, origin).map_err(|source| Error::BadConfig {
        path: origin.into(),
        source: Box::new(source),
    })?;
    let profile = profile_name(layout, profile)?;
    let pins: Vec<String> = lock.packages.iter().map(|p| p.pin.to_string()).collect();
    let want = |pin: &Pin| {
        lock.packages
            .iter()
            .find(|l| &l.pin == pin)
            .map(|l| l.sha256.as_str())
    };
    let mut lines = Vec::new();
    if !pins.is_empty() {
        let plan_request = crate::install::Request {
            packages: &pins,
            refresh: false,
            repair: false,
            mode: crate::install::Mode::PlanOnly,
        };
        let planned = crate::install::install(layout, store, &plan_request, events)?;
        let plan = planned.plan.unwrap_or_default();
        for item in plan.items.iter().filter(|i| !i.in_store) {
            let pin = Pin {
                name: item.name.clone(),
                version: item.version.clone(),
            };
            let Some(sha) = want(&pin) else {
                return Err(Error::LockMismatch {
                    pin,
                    want: "nothing: the lockfile does not list it".into(),
                    found: format!("a dependency from registry `{}`", item.registry),
                });
            };
            if sha != item.sha256 {
                return Err(Error::LockMismatch {
                    pin,
                    want: sha.to_string(),
                    found: format!("{} in registry `{}`", item.sha256, item.registry),
                });
            }
        }
        let apply = crate::install::Request {
            packages: &pins,
            refresh: false,
            repair: false,
            mode: crate::install::Mode::Confirmed(&plan.id),
        };
        let installed = crate::install::install(layout, store, &apply, events)?;
        lines.extend(
            installed
                .lines
                .into_iter()
                .filter(|l| l.starts_with("installed ")),
        );
    }
    let store = StoreView::load(layout);
    for l in &lock.packages {
        let stored = store
            .get(&l.pin.name, &l.pin.version)
            .and_then(|i| i.manifest.archive_sha256.clone())
            .unwrap_or_default();
        if stored != l.sha256 {
            return Err(Error::LockMismatch {
                pin: l.pin.clone(),
                want: l.sha256.clone(),
                found: format!("{stored} in the store"),
            });
        }
    }
    let mut state = profile::state(layout, &profile)?;
    state.request.packages = lock.packages.iter().map(|l| l.pin.clone()).collect();
    let strategy = state.request.conflicts;
    let built = rebuild(layout, &store, &mut state, None, strategy, home, events)?;
    lines.push(format!(
        "profile `{profile}` holds the {} packages of {origin} (generation {})",
        lock.packages.len(),
        built.generation
    ));
    lines.extend(built.notes);
    journal::record(layout, &format!("lock apply {origin} profile={profile}"));
    Ok(Summary {
        lines,
        ..Default::default()
    })
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

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::error::code;
    use crate::testutil::{home, package};

    fn install(layout: &Layout, pkgs: &[&std::path::Path]) {
        let packages: Vec<String> = pkgs.iter().map(|p| p.display().to_string()).collect();
        let request = crate::install::Request {
            packages: &packages,
            refresh: false,
            repair: false,
            mode: crate::install::Mode::Apply,
        };
        crate::install::install(
            layout,
            &StoreView::load(layout),
            &request,
            &Events::detached(),
        )
        .unwrap();
    }

    fn activate_in(layout: &Layout, package: &str, strategy: &str) -> Outcome {
        let req = Request {
            package,
            profile: "",
            strategy,
        };
        activate(
            layout,
            &StoreView::load(layout),
            &req,
            None,
            &Events::detached(),
        )
    }

    #[test]
    fn activate_switch_versions_and_deactivate() {
        let (t, layout) = home();
        let v1 = package(t.path(), "viewer", "1.0", "any", &["libv@1"], &[]);
        let v2 = package(t.path(), "viewer", "2.0", "any", &["libv@1"], &[]);
        let lib = package(
            t.path(),
            "libv",
            "1",
            "any",
            &[],
            &[("files/lib/libv.so", "so")],
        );
        install(&layout, &[&v1, &lib]);
        install(&layout, &[&v2]);
        // Its dependency is not in the store: nothing changes, and the command is named.
        let libdir = layout.store().join("libv");
        std::fs::rename(&libdir, t.path().join("aside")).unwrap();
        let e = activate_in(&layout, "viewer@1.0", "").unwrap_err();
        assert_eq!(e.code(), code::MISSING_DEPENDENCIES);
        assert_eq!(e.hint().as_deref(), Some("pandora install libv@1"));
        assert!(profile::current(&layout, "default").is_none());
        std::fs::rename(t.path().join("aside"), &libdir).unwrap();

        activate_in(&layout, "viewer@1.0", "").unwrap();
        let bin = layout.vir().join("bin/viewer");
        assert_eq!(
            std::fs::read_to_string(&bin).unwrap(),
            "#!/bin/sh\necho viewer\n"
        );
        assert!(
            layout.vir().join("lib/libv.so").is_file(),
            "the dependency is active too"
        );
        let listed = list_installed(&layout, "").unwrap();
        let names: Vec<String> = listed
            .entries
            .iter()
            .map(|e| format!("{}@{} {}", e.name, e.version, e.requested))
            .collect();
        assert_eq!(names, ["libv@1 false", "viewer@1.0 true"]);
        let w = which(&layout, "viewer", "").unwrap();
        assert_eq!((w.name.as_str(), w.version.as_str()), ("viewer", "1.0"));

        // Bare name: the newest stored version replaces the active one.
        let s = activate_in(&layout, "viewer", "").unwrap();
        assert_eq!(s.lines[0], "replaced viewer@1.0");
        assert_eq!(which(&layout, "bin/viewer", "").unwrap().version, "2.0");
        assert_eq!(profile::current(&layout, "default"), Some(2));
        let lock = std::fs::read_to_string(layout.lockfile("default")).unwrap();
        assert!(
            lock.contains("\"viewer\"") && lock.contains("2.0"),
            "{lock}"
        );

        // The dependency is held by viewer.
        let e = deactivate(
            &layout,
            &StoreView::load(&layout),
            "libv",
            "",
            None,
            &Events::detached(),
        )
        .unwrap_err();
        assert_eq!(e.code(), code::DEPENDENTS);
        assert!(e.to_string().contains("viewer@2.0"), "{e}");
        deactivate(
            &layout,
            &StoreView::load(&layout),
            "viewer",
            "",
            None,
            &Events::detached(),
        )
        .unwrap();
        assert!(list_installed(&layout, "").unwrap().entries.is_empty());
        assert!(!bin.exists());
        assert!(std::fs::read_dir(layout.tmp()).unwrap().next().is_none());
    }

    #[test]
    fn conflicts_are_explained_and_strategies_decide() {
        let (t, layout) = home();
        let a = package(
            t.path(),
            "conv-a",
            "1",
            "any",
            &[],
            &[("files/bin/convert", "a")],
        );
        let b = package(
            t.path(),
            "conv-b",
            "1",
            "any",
            &[],
            &[("files/bin/convert", "b")],
        );
        install(&layout, &[&a, &b]);
        activate_in(&layout, "conv-a", "").unwrap();
        let e = activate_in(&layout, "conv-b", "").unwrap_err();
        assert_eq!(e.code(), code::PATH_CONFLICT);
        assert!(e.to_string().contains("bin/convert"), "{e}");
        let hint = e.hint().unwrap();
        assert!(hint.contains("--strategy prefer-new"), "{hint}");
        assert!(
            hint.contains("pandora profile override bin/convert conv-b@1"),
            "{hint}"
        );
        assert_eq!(
            profile::current(&layout, "default"),
            Some(1),
            "nothing changed"
        );
        activate_in(&layout, "conv-b", "namespace").unwrap();
        assert_eq!(which(&layout, "convert", "").unwrap().name, "conv-a");
        assert_eq!(
            which(&layout, "bin/conv-b-1/convert", "").unwrap().name,
            "conv-b"
        );
        let e = activate_in(&layout, "conv-b", "sideways").unwrap_err();
        assert_eq!(e.code(), code::USAGE);
    }

    #[test]
    fn home_links_are_made_once_and_never_replace_the_users_files() {
        let (t, layout) = home();
        let users = t.path().join("user");
        std::fs::create_dir_all(users.join("bin")).unwrap();
        std::fs::write(users.join("bin/mine"), "mine").unwrap();
        std::fs::create_dir_all(users.join("lib")).unwrap();
        let notes = home::ensure_links(&layout, &users);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("add"), "{notes:?}");
        assert_eq!(
            std::fs::read_to_string(users.join("bin/mine")).unwrap(),
            "mine"
        );
        assert!(
            std::fs::symlink_metadata(users.join("lib"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            std::fs::symlink_metadata(users.join("etcetera"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(home::ensure_links(&layout, &users).len() == 1, "idempotent");
    }
}
