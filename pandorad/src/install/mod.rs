//! `install`: resolve the closure of exact pins ([`resolve`]), plan what the store lacks
//! ([`plan`]), fetch and stage it in `tmp/` ([`fetch`], [`stage`]), then commit it to the
//! store.
//!
//! Invariant: all or nothing per request. Every package of the closure is resolved, fetched,
//! unpacked and checked before the first one is renamed into `store/`; a failure before that
//! leaves only `tmp/` behind (cleared now, or at the next start after a crash). An entry is
//! renamed into the store complete, so no reader ever sees half a package.

mod fetch;
mod plan;
mod resolve;
mod stage;

use pandora_common::layout::Layout;
use pandora_proto::v1::Summary;

use crate::engine::{Events, Outcome};
use crate::error::Error;
use crate::journal;
use crate::registries::Lazy;
use crate::store::{self, StoreView};

/// Whether to plan, apply, or apply a plan the user confirmed.
pub(crate) enum Mode<'a> {
    /// Resolve and describe; install nothing.
    PlanOnly,
    /// Install without asking.
    Apply,
    /// Install if the plan still has this id.
    Confirmed(&'a str),
}

/// What the user asked for.
pub(crate) struct Request<'a> {
    /// Names, pins or .pkg paths.
    pub(crate) packages: &'a [String],
    /// Revalidate registry snapshots first.
    pub(crate) refresh: bool,
    pub(crate) mode: Mode<'a>,
}

/// Installs the request's packages and their dependencies.
pub(crate) fn install(
    layout: &Layout,
    store: &StoreView,
    request: &Request<'_>,
    events: &Events,
) -> Outcome {
    let mut registries = Lazy::new(layout, request.refresh);
    let closure = resolve::resolve(store, &mut registries, request.packages, events)?;
    let clients = registries.made();
    let plan = plan::describe(&closure, clients);
    match request.mode {
        Mode::PlanOnly => {
            return Ok(Summary {
                counts: [
                    ("packages".to_string(), plan::pending(&plan) as u64),
                    ("bytes".to_string(), plan.download_bytes),
                ]
                .into_iter()
                .collect(),
                plan_id: plan.id.clone(),
                plan: Some(plan),
                ..Default::default()
            });
        }
        Mode::Confirmed(id) if id != plan.id => return Err(Error::StalePlan),
        _ => {}
    }
    let mut lines = Vec::new();
    for (pin, node) in &closure {
        match node.source {
            resolve::Source::Store if node.needed_by.is_none() => {
                lines.push(format!("already installed {pin}"));
            }
            resolve::Source::Store => {}
            _ if node.deprecated => {
                let subject = pin.to_string();
                events.warn(
                    "deprecated",
                    &subject,
                    format!("{pin} is deprecated by its publisher; installing it anyway"),
                    &[("package", &subject)],
                );
            }
            _ => {}
        }
    }
    let todo: Vec<_> = closure
        .iter()
        .filter(|(_, n)| !matches!(n.source, resolve::Source::Store))
        .collect();
    let fetched = fetch::fetch_and_stage(layout, clients, &todo, events)?;
    let staged: Vec<store::Staged> = fetched.staged.iter().map(|f| f.staged.clone()).collect();
    if let Err(e) = store::commit(layout, &staged) {
        for s in &staged {
            store::discard(&s.dir);
        }
        return Err(e);
    }
    for f in &fetched.staged {
        let pin = &f.staged.pin;
        journal::record(
            layout,
            &format!("install {pin} sha256={} registry={}", f.sha256, f.origin),
        );
        lines.push(format!("installed {pin} (from {})", f.origin));
    }
    let installed = fetched.staged.len() as u64;
    if installed > 0 {
        lines.push(
            "not activated: profiles are not built yet; the packages are in the store".to_string(),
        );
    }
    Ok(Summary {
        lines,
        counts: [
            ("installed".to_string(), installed),
            ("downloaded_bytes".to_string(), fetched.downloaded_bytes),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    })
}
