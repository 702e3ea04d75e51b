//! Lockfiles: exporting a profile's, and applying one to rebuild the same profile.

use std::path::Path;

use pandora_common::files::{Lockfile, Pin};
use pandora_common::layout::Layout;
use pandora_proto::v1::{ExportLockReply, Summary};

use super::{profile, profile_name, rebuild};
use crate::engine::{Events, Outcome};
use crate::error::{Error, Result};
use crate::journal;
use crate::store::StoreView;

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
            activate: None,
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
            activate: None,
        };
        let installed = crate::install::install(layout, store, &apply, events)?;
        lines.extend(
            installed
                .lines
                .into_iter()
                .filter(|l| l.starts_with("installed ")),
        );
    }
    let refreshed = store.refresh(layout);
    let store = refreshed.as_ref().unwrap_or(store);
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
    let built = rebuild(layout, store, &mut state, &[], strategy, home, events)?;
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
