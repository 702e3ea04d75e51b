//! `remove`: a version out of a profile and, when asked and nothing holds it any more, out
//! of the store; and pruning a profile's old generations, which is what lets go of old
//! versions.
//!
//! A store entry that a kept generation of any profile links to stays: deleting it would
//! leave that generation's links dangling, so a rollback to it would break. Dropping old
//! generations (`prune --generations`) releases them.

use std::collections::BTreeMap;
use std::path::Path;

use pandora_common::files::{Lockfile, PackageArg, Pin};
use pandora_common::layout::Layout;
use pandora_proto::v1::Summary;

use super::{deactivate, profile, profile_name};
use crate::engine::{Events, Outcome};
use crate::error::{Error, Result};
use crate::journal;
use crate::store::{self, StoreView};

/// The failpoint variable, shared with the store.
const FAILPOINT: &str = "PANDORA_FAILPOINT";

/// What to remove.
pub(crate) struct RemoveRequest<'a> {
    /// `NAME@VERSION`, or `NAME`: the version active in the profile (or the only one stored).
    pub(crate) package: &'a str,
    /// Empty: every profile where it is active.
    pub(crate) profile: &'a str,
    /// Also delete it from the store.
    pub(crate) purge: bool,
}

/// Generations that link to one version: profile name to generation numbers.
pub(crate) type Holders = BTreeMap<String, Vec<u64>>;

/// Deactivates a version in every profile where it is active, or in the one named (refused,
/// before any change, while an active package depends on it), then, with `purge`, deletes it from the store unless a kept generation
/// holds it. Without `purge`, the summary's `deletable` count says whether it could go.
pub(crate) fn remove(
    layout: &Layout,
    store: &StoreView,
    req: &RemoveRequest<'_>,
    home: Option<&Path>,
    events: &Events,
) -> Outcome {
    let profile = profile_name(layout, req.profile)?;
    let state = profile::state(layout, &profile)?;
    let pin = match PackageArg::parse(req.package).map_err(|source| Error::BadPackage {
        arg: req.package.to_string(),
        source,
    })? {
        PackageArg::Pin(pin) => pin,
        PackageArg::Name(name) => {
            let active = state.lock.packages.iter().find(|l| l.pin.name == name);
            let stored = store.versions(&name);
            match (active, stored.as_slice()) {
                (Some(l), _) => l.pin.clone(),
                (None, [one]) => one.manifest.pin(),
                (None, []) => return Err(Error::NameNotInStore(name)),
                (None, several) => {
                    let versions: Vec<String> =
                        several.iter().map(|i| i.manifest.version.clone()).collect();
                    return Err(Error::Usage(format!(
                        "`{name}` is not active in profile `{profile}` and the store holds several versions ({}): name one, e.g. pandora remove {name}@{}",
                        versions.join(", "),
                        versions[0]
                    )));
                }
            }
        }
        PackageArg::File(path) => {
            return Err(Error::Usage(format!(
                "remove takes NAME@VERSION, not the file {}",
                path.display()
            )));
        }
    };
    // Where it is active: the profile asked for, or every profile. All are checked before
    // any changes, so a refusal in one leaves every profile as it was.
    let mut wheres = Vec::new();
    let candidates = if req.profile.is_empty() {
        let mut all = profile::names(layout);
        if !all.contains(&profile) {
            all.push(profile.clone());
        }
        all
    } else {
        vec![profile.clone()]
    };
    for p in candidates {
        let state = profile::state(layout, &p)?;
        if state.lock.packages.iter().any(|l| l.pin == pin) {
            let dependents = super::dependents(store, &state.lock, &pin.name);
            if !dependents.is_empty() {
                return Err(Error::Dependents {
                    pin,
                    dependents,
                    profile: p,
                });
            }
            wheres.push(p);
        }
    }
    let in_store = store.get(&pin.name, &pin.version).is_some();
    if wheres.is_empty() && !in_store {
        return Err(Error::NotInStore(pin));
    }
    let mut lines = Vec::new();
    for p in &wheres {
        let done = deactivate(layout, store, &pin.name, p, home, events)?;
        lines.extend(done.lines.into_iter().map(|l| {
            l.strip_suffix("; it stays in the store")
                .map(str::to_string)
                .unwrap_or(l)
        }));
    }
    let mut deletable = 0;
    if in_store {
        let holders = holders(layout, &pin);
        if !holders.is_empty() {
            if req.purge {
                for l in &lines {
                    events.info(l.clone());
                }
                return Err(Error::Held { pin, holders });
            }
            lines.push(format!(
                "{pin} stays in the store: {} link to it (for rollback)",
                describe(&holders)
            ));
        } else if req.purge {
            purge(layout, &pin, events)?;
            journal::record(layout, &format!("remove {pin}"));
            lines.push(format!("deleted {pin} from the store"));
        } else {
            deletable = 1;
            lines.push(format!(
                "{pin} stays in the store; pandora remove {pin} --purge deletes it"
            ));
        }
    }
    Ok(Summary {
        lines,
        counts: [("deletable".to_string(), deletable)].into_iter().collect(),
        ..Default::default()
    })
}

/// Deletes `pin` from the store with its remove hooks: `preremove` may refuse; `postremove`
/// runs once the entry has left the store (it still sees the files in `tmp/`), and its
/// failure is only a warning (the package is gone either way).
fn purge(layout: &Layout, pin: &Pin, events: &Events) -> Result<()> {
    let entry = layout.store_entry(&pin.name, &pin.version);
    let manifest = store::entry::read_manifest(&entry).map_err(|e| Error::Damaged {
        pin: pin.clone(),
        reason: pandora_common::error_chain(&e, ": "),
    })?;
    crate::hooks::run_phase(
        layout,
        &entry,
        &manifest,
        "preremove",
        "it stays in the store",
        events,
    )?;
    pandora_common::failpoint(FAILPOINT, "remove-before-store");
    store::remove_then(layout, pin, |moved| {
        if let Err(e) = crate::hooks::run_phase(
            layout,
            moved,
            &manifest,
            "postremove",
            "it is deleted all the same",
            events,
        ) {
            let subject = pin.to_string();
            events.warn(
                "hook-failed",
                &subject,
                e.to_string(),
                &[("package", &subject), ("phase", "postremove")],
            );
        }
    })
}

/// Every kept generation of every profile whose lockfile lists `pin`.
pub(crate) fn holders(layout: &Layout, pin: &Pin) -> Holders {
    let mut out = Holders::new();
    for (p, n, lock) in kept_generations(layout) {
        if lock.is_ok_and(|l| l.packages.iter().any(|l| &l.pin == pin)) {
            out.entry(p).or_default().push(n);
        }
    }
    out
}

/// Every kept generation of every profile, with its lockfile as read.
fn kept_generations(layout: &Layout) -> impl Iterator<Item = (String, u64, Result<Lockfile>)> + '_ {
    profile::names(layout).into_iter().flat_map(move |p| {
        profile::generations(layout, &p)
            .into_iter()
            .map(move |n| (p.clone(), n, profile::generation_lock(layout, &p, n)))
            .collect::<Vec<_>>()
    })
}

/// `generations 1, 2 of profile `default`` and so on.
pub(crate) fn describe(holders: &Holders) -> String {
    holders
        .iter()
        .map(|(p, ns)| {
            let list: Vec<String> = ns.iter().map(ToString::to_string).collect();
            format!(
                "generation{} {} of profile `{p}`",
                if ns.len() == 1 { "" } else { "s" },
                list.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Deletes every profile's generations past the newest `keep` (never the current one);
/// `dry_run` only says which.
pub(crate) fn prune_generations(
    layout: &Layout,
    keep: usize,
    dry_run: bool,
    events: &Events,
) -> Outcome {
    let keep = keep.max(1);
    let mut lines = Vec::new();
    let mut count = 0;
    for p in profile::names(layout) {
        let current = profile::current(layout, &p);
        let all = profile::generations(layout, &p);
        let cut = all.len().saturating_sub(keep);
        let old: Vec<u64> = all[..cut]
            .iter()
            .copied()
            .filter(|n| Some(*n) != current)
            .collect();
        for n in old {
            events.check()?;
            if dry_run {
                lines.push(format!("would delete generation {n} of profile `{p}`"));
            } else {
                delete_generation(layout, &p, n)?;
                journal::record(layout, &format!("prune generation {n} profile={p}"));
                lines.push(format!("deleted generation {n} of profile `{p}`"));
            }
            count += 1;
        }
    }
    if count == 0 {
        lines.push(format!(
            "no profile has more than {keep} generation{}",
            if keep == 1 { "" } else { "s" }
        ));
    }
    Ok(Summary {
        lines,
        counts: [("generations".to_string(), count)].into_iter().collect(),
        ..Default::default()
    })
}

/// Store entries younger than this are kept by `prune --store`, so that a fresh
/// `install --no-activate` is not swept away at once.
const MIN_AGE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Deletes the store entries that no kept generation of any profile links to and that were
/// installed more than a day ago; `dry_run` only says which. Each goes as `remove --purge`
/// does: renamed out of the store into `tmp/`, then deleted.
pub(crate) fn prune_store(
    layout: &Layout,
    store: &StoreView,
    dry_run: bool,
    events: &Events,
) -> Outcome {
    // A generation whose lockfile cannot be read may hold anything: then nothing goes.
    let mut held = std::collections::HashSet::new();
    for (_, _, lock) in kept_generations(layout) {
        held.extend(lock?.packages.into_iter().map(|l| l.pin));
    }
    let now = std::time::SystemTime::now();
    let mut lines = Vec::new();
    let (mut count, mut bytes) = (0u64, 0u64);
    for installed in &store.entries {
        let pin = installed.manifest.pin();
        if held.contains(&pin) {
            continue;
        }
        let entry = layout.store_entry(&pin.name, &pin.version);
        let installed_at = fs_err::metadata(store::entry::manifest_path(&entry))
            .and_then(|m| m.modified())
            .unwrap_or(now);
        if now.duration_since(installed_at).unwrap_or_default() < MIN_AGE {
            continue;
        }
        events.check()?;
        if dry_run {
            lines.push(format!("would delete {pin} ({} bytes)", installed.size));
        } else {
            purge(layout, &pin, events)?;
            journal::record(layout, &format!("prune {pin}"));
            lines.push(format!("deleted {pin} ({} bytes)", installed.size));
        }
        count += 1;
        bytes += installed.size;
    }
    lines.push(format!(
        "{} {count} store entr{} ({bytes} bytes) that no kept generation holds",
        if dry_run { "would free" } else { "freed" },
        if count == 1 { "y" } else { "ies" }
    ));
    Ok(Summary {
        lines,
        counts: [("entries".to_string(), count), ("bytes".to_string(), bytes)]
            .into_iter()
            .collect(),
        ..Default::default()
    })
}

/// Deletes generation `n` (not the current one): its forest leaves `generations/` by one
/// rename into `tmp/` (so it is there whole or gone), then its `.lock` and `.profile` go (a
/// crash in between leaves files that the start-up repair removes), then the forest.
fn delete_generation(layout: &Layout, profile: &str, n: u64) -> Result<()> {
    let forest = layout.generation(profile, n);
    let grave = tempfile::Builder::new()
        .prefix("generation-")
        .tempdir_in(layout.tmp())
        .map_err(Error::io("create a directory in", layout.tmp()))?;
    fs_err::rename(&forest, grave.path().join("g")).map_err(Error::io("move", &forest))?;
    let _ = pandora_common::sync_dir(&layout.generations(profile));
    pandora_common::failpoint(FAILPOINT, "prune-after-rename");
    for path in [
        layout.generation_lock(profile, n),
        layout.generation_profile(profile, n),
    ] {
        match fs_err::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io("remove", &path)(e));
            }
            _ => {}
        }
    }
    Ok(())
}
