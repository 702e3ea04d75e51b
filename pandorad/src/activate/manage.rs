//! Managing profiles: path overrides, listing profiles and generations, and creating,
//! switching, deleting and rolling back profiles.

use std::path::Path;

use pandora_common::files::PackageArg;
use pandora_common::layout::Layout;
use pandora_proto::v1::change_profile_request::Action;
use pandora_proto::v1::{GenerationInfo, ListProfilesReply, ProfileInfo, Summary};

use super::{home, profile, profile_name, rebuild};
use crate::engine::{Events, Outcome};
use crate::error::{Error, Result};
use crate::journal;
use crate::store::StoreView;

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
            let built = rebuild(layout, store, &mut state, &[], strategy, None, events)?;
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
                rebuild(layout, store, &mut state, &[], strategy, None, events)?;
            }
            pandora_common::failpoint("PANDORA_FAILPOINT", "switch-before-link");
            profile::make_active(layout, &name)?;
            pandora_common::failpoint("PANDORA_FAILPOINT", "switch-after-link");
            let mut line = format!("profile `{name}` is active");
            if let Some(home) = home {
                for note in home::show(layout, home).notes {
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
            let mut line = format!("profile `{name}` is back at generation {to} (from {now})");
            if profile::active(layout) == name
                && let Some(home) = home
            {
                for note in home::show(layout, home).notes {
                    line.push('\n');
                    line.push_str(&note);
                }
            }
            line
        }
        Action::Unspecified => return Err(Error::Usage("name a profile action".into())),
    };
    journal::record(layout, &format!("profile {action:?} {name}").to_lowercase());
    Ok(Summary {
        lines: vec![line],
        ..Default::default()
    })
}
