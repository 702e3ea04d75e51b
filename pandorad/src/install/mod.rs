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

use pandora_common::files::Pin;
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
    /// Replace damaged store entries instead of refusing them.
    pub(crate) repair: bool,
    pub(crate) mode: Mode<'a>,
    /// Then activate the requested packages: in this profile (empty: the active one).
    pub(crate) activate: Option<Activation<'a>>,
}

/// Where and how an install activates what it was asked for.
pub(crate) struct Activation<'a> {
    pub(crate) profile: &'a str,
    /// Empty: the profile's own strategy.
    pub(crate) strategy: &'a str,
    /// The user's home, for `$HOME/bin` and friends.
    pub(crate) home: Option<&'a std::path::Path>,
}

/// Installs the request's packages and their dependencies.
pub(crate) fn install(
    layout: &Layout,
    store: &StoreView,
    request: &Request<'_>,
    events: &Events,
) -> Outcome {
    let mut registries = Lazy::new(layout, request.refresh, Some(events.stopper()));
    let closure = resolve::resolve(
        layout,
        store,
        &mut registries,
        request.packages,
        request.repair,
        // A confirmed plan already said which pins bare names mean.
        !matches!(request.mode, Mode::Confirmed(_)),
        events,
    )
    // A wait for a registry cut short by a stop fails as the stop, not as the registry.
    .map_err(|e| events.check().err().unwrap_or(e))?;
    let clients = registries.made();
    let mut plan = plan::describe(&closure, clients);
    // What the user asked for (not what it needs): the packages an install activates. A
    // profile holds one version per name, so a name asked for in several versions is only
    // installed, and the summary says how to choose.
    let asked: Vec<&Pin> = closure
        .iter()
        .filter(|(_, n)| n.needed_by.is_none())
        .map(|(p, _)| p)
        .collect();
    let twice = |p: &Pin| asked.iter().filter(|o| o.name == p.name).count() > 1;
    let requested: Vec<Pin> = asked
        .iter()
        .filter(|p| !twice(p))
        .map(|p| (*p).clone())
        .collect();
    let several: std::collections::BTreeSet<&str> = asked
        .iter()
        .filter(|p| twice(p))
        .map(|p| p.name.as_str())
        .collect();
    if let Some(a) = &request.activate {
        plan::add_activation(
            &mut plan,
            crate::activate::plan_activation(layout, &requested, a.profile)?,
        );
    }
    match request.mode {
        Mode::PlanOnly => {
            return Ok(Summary {
                counts: [
                    ("packages".to_string(), plan::pending(&plan) as u64),
                    (
                        "activate".to_string(),
                        plan.activation.as_ref().map_or(0, |a| a.packages.len()) as u64,
                    ),
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
    // The last safe point: after it, the request completes.
    if let Err(e) = events
        .check()
        .and_then(|()| store::commit(layout, &staged, request.repair))
    {
        for s in &staged {
            store::discard(&s.dir);
        }
        return Err(e);
    }
    let mut recorded = Vec::with_capacity(fetched.staged.len());
    for f in &fetched.staged {
        let pin = &f.staged.pin;
        recorded.push(format!(
            "install {pin} sha256={} registry={}",
            f.sha256, f.origin
        ));
        lines.push(format!("installed {pin} (from {})", f.origin));
    }
    journal::record_all(layout, &recorded);
    report_installs(clients, &fetched.staged);
    let installed = fetched.staged.len() as u64;
    // The store as it is now (only the new entries are read), for the hooks and the
    // activation.
    let refreshed = store.refresh(layout).map(std::sync::Arc::new);
    if let Some(view) = &refreshed {
        events.publish_store(view.clone());
    }
    let store = refreshed.as_deref().unwrap_or(store);
    // postinstall hooks, now that the packages are in the store: a failure leaves its
    // package there, but nothing of this request is activated.
    let mut hook_failures = Vec::new();
    for f in &fetched.staged {
        let pin = &f.staged.pin;
        let entry = layout.store_entry(&pin.name, &pin.version);
        let ran = match store.get(&pin.name, &pin.version) {
            Some(i) => crate::hooks::run_phase(
                layout,
                &entry,
                &i.manifest,
                "postinstall",
                "it stays in the store, not activated",
                events,
            ),
            None => Err(Error::Damaged {
                pin: pin.clone(),
                reason: store
                    .damage(&pin.name, &pin.version)
                    .unwrap_or("it is not in the store after its install")
                    .to_string(),
            }),
        };
        if let Err(e) = ran {
            if let Error::Cancelled(why) = e {
                // The packages are in the store; the rest of the request stops here.
                let rest: Vec<String> = fetched
                    .staged
                    .iter()
                    .skip_while(|g| &g.staged.pin != pin)
                    .map(|g| g.staged.pin.to_string())
                    .collect();
                lines.push(format!(
                    "stopped because {why}: installed, but the postinstall hooks of {} did not run and nothing was activated",
                    rest.join(", ")
                ));
                hook_failures.extend(fetched.staged.iter().map(|g| g.staged.pin.clone()));
                break;
            }
            let subject = pin.to_string();
            events.warn(
                "hook-failed",
                &subject,
                e.to_string(),
                &[("package", &subject), ("phase", "postinstall")],
            );
            hook_failures.push(pin.clone());
        }
    }
    if request.activate.is_some() {
        for name in &several {
            lines.push(format!(
                "{name} was asked for in several versions, so none of them was activated: pandora activate {name}@VERSION chooses one"
            ));
        }
    }
    let mut counts: std::collections::HashMap<String, u64> = [
        ("installed".to_string(), installed),
        ("downloaded_bytes".to_string(), fetched.downloaded_bytes),
    ]
    .into_iter()
    .collect();
    let mut session_path_question = None;
    match (&request.activate, &plan.activation) {
        (Some(_), Some(planned)) if !hook_failures.is_empty() => {
            let failed: Vec<String> = hook_failures.iter().map(ToString::to_string).collect();
            lines.push(format!(
                "not activated, because the postinstall hook of {} failed; once that is fixed: {}",
                failed.join(", "),
                planned
                    .packages
                    .iter()
                    .map(|p| format!("pandora activate {p}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        (Some(a), Some(planned)) => {
            // The packages are in the store now: a failed activation leaves them there and
            // says so before its own explanation.
            let pins: Vec<Pin> = requested
                .iter()
                .filter(|p| planned.packages.contains(&p.to_string()))
                .cloned()
                .collect();
            let activated = crate::activate::activate_pins(
                layout, store, &pins, a.profile, a.strategy, a.home, events,
            );
            match activated {
                Ok(done) => {
                    lines.extend(done.lines);
                    counts.extend(done.counts);
                    session_path_question = done.session_path_question;
                }
                Err(e) => {
                    for l in &lines {
                        events.info(l.clone());
                    }
                    events.info("installed, but not activated:".to_string());
                    return Err(e);
                }
            }
        }
        (Some(_), None) => {}
        (None, _) => {
            let fresh: Vec<String> = closure
                .iter()
                .filter(|(_, n)| {
                    n.needed_by.is_none() && !matches!(n.source, resolve::Source::Store)
                })
                .map(|(p, _)| format!("pandora activate {p}"))
                .collect();
            if !fresh.is_empty() {
                lines.push(format!(
                    "in the store, not active yet; to put it on PATH: {}",
                    fresh.join("; ")
                ));
            }
        }
    }
    Ok(Summary {
        lines,
        counts,
        session_path_question,
        ..Default::default()
    })
}

/// Tells each registry that asked for it (`report_installs = true` in `registries.acl`, off by
/// default) about the installs from it: `POST /api/v1/installed` with `name@version`, nothing
/// else. Best effort: a registry that does not answer within two seconds is not asked again,
/// and the install has succeeded either way.
fn report_installs(clients: &[crate::fetch::RegistryClient], staged: &[fetch::Fetched]) {
    let Ok(http) = crate::fetch::http_client() else {
        return;
    };
    for c in clients.iter().filter(|c| c.config.report_installs) {
        let url = &c.config.url;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            continue;
        }
        let endpoint = format!("{}/api/v1/installed", url.trim_end_matches('/'));
        for f in staged
            .iter()
            .filter(|f| f.from_registry && f.origin == c.config.name)
        {
            let sent = http
                .post(&endpoint)
                .timeout(std::time::Duration::from_secs(2))
                .body(f.staged.pin.to_string())
                .send();
            if let Err(e) = sent {
                tracing::info!(registry = %c.config.name, error = %e, "install report not sent");
                break;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::error::code;
    use crate::testutil::{home, package};

    fn run(layout: &Layout, packages: &[String], mode: Mode<'_>) -> Outcome {
        let store = StoreView::load(layout);
        let request = Request {
            packages,
            refresh: false,
            repair: false,
            mode,
            activate: None,
        };
        install(layout, &store, &request, &Events::detached())
    }

    fn arg(p: &std::path::Path) -> String {
        p.display().to_string()
    }

    #[test]
    fn local_packages_install_all_or_nothing_without_a_socket() {
        let (t, layout) = home();
        let lib = package(t.path(), "lib", "1.0", "any", &[], &[]);
        let app = package(t.path(), "app", "1.0", "any", &["lib@1.0"], &[]);

        // app needs lib, which is in no store and (with no registries) nowhere else.
        let e = run(&layout, &[arg(&app)], Mode::Apply).unwrap_err();
        assert_eq!(e.code(), code::NO_REGISTRIES);
        assert!(StoreView::load(&layout).entries.is_empty());

        // Both as files: a plan first (nothing written), then the install.
        let both = [arg(&app), arg(&lib)];
        let plan = run(&layout, &both, Mode::PlanOnly).unwrap();
        let p = plan.plan.as_ref().unwrap();
        assert_eq!(p.items.len(), 2);
        assert!(StoreView::load(&layout).entries.is_empty());
        let e = run(&layout, &both, Mode::Confirmed("0000")).unwrap_err();
        assert_eq!(e.code(), code::STALE_PLAN);
        let done = run(&layout, &both, Mode::Confirmed(&p.id)).unwrap();
        assert_eq!(done.counts["installed"], 2);
        let store = StoreView::load(&layout);
        assert_eq!(store.entries.len(), 2);
        assert_eq!(
            store.get("app", "1.0").unwrap().origin.as_deref(),
            Some("local")
        );
        assert!(std::fs::read_dir(layout.tmp()).unwrap().next().is_none());

        // Again: nothing to do, and it says so.
        let again = run(&layout, &[arg(&app)], Mode::Apply).unwrap();
        assert_eq!(again.lines, ["already installed app@1.0"]);
    }

    #[test]
    fn refusals_name_the_package_and_leave_nothing() {
        let (t, layout) = home();
        let foreign = package(t.path(), "foreign", "1.0", "sparc64", &[], &[]);
        let e = run(&layout, &[arg(&foreign)], Mode::Apply).unwrap_err();
        assert_eq!(e.code(), code::WRONG_ARCH);
        assert!(
            e.to_string().contains("foreign@1.0 is built for `sparc64`"),
            "{e}"
        );

        // A unit test is not `pandorad`, so it has no sandbox helper: the hook cannot run.
        let hook = "preinstall { string action = \"run\"; string[] command = { \"bin/x\" }; }\n";
        let hooked = package(
            t.path(),
            "hooked",
            "1.0",
            "any",
            &[],
            &[("hooks/post.acl", hook)],
        );
        let e = run(&layout, &[arg(&hooked)], Mode::Apply).unwrap_err();
        assert_eq!(e.code(), code::NEEDS_SANDBOX);
        assert!(
            !e.archive_damaged(),
            "an intact package refused is not a damaged one"
        );

        let warn = "postinstall { string action = \"warn\"; string msg = \"hello\"; }\n";
        let warned = package(
            t.path(),
            "warned",
            "1.0",
            "any",
            &[],
            &[("hooks/w.acl", warn)],
        );
        run(&layout, &[arg(&warned)], Mode::Apply).unwrap();

        let e = run(&layout, &[arg(&t.path().join("missing.pkg"))], Mode::Apply).unwrap_err();
        assert_eq!(e.code(), code::NOT_FOUND);
        let junk = t.path().join("junk.pkg");
        std::fs::write(&junk, b"not zstd").unwrap();
        let e = run(&layout, &[arg(&junk)], Mode::Apply).unwrap_err();
        assert_eq!(e.code(), code::INVALID_PACKAGE);
        let e = run(&layout, &["Not-A-Name".to_string()], Mode::Apply).unwrap_err();
        assert_eq!(e.code(), code::BAD_PACKAGE);

        assert_eq!(
            StoreView::load(&layout)
                .entries
                .iter()
                .map(|e| e.manifest.pin().to_string())
                .collect::<Vec<_>>(),
            ["warned@1.0"]
        );
        assert!(std::fs::read_dir(layout.tmp()).unwrap().next().is_none());
    }

    #[test]
    fn a_pin_in_the_store_with_other_bytes_is_a_conflict() {
        let (t, layout) = home();
        let one = package(t.path(), "app", "1.0", "any", &[], &[]);
        run(&layout, &[arg(&one)], Mode::Apply).unwrap();
        let other_dir = t.path().join("other");
        let two = package(
            &other_dir,
            "app",
            "1.0",
            "any",
            &[],
            &[("files/extra", "x")],
        );
        let e = run(&layout, &[arg(&two)], Mode::Apply).unwrap_err();
        assert_eq!(e.code(), code::CONFLICT);
        assert!(e.hint().unwrap().contains("pandora verify app@1.0"));
    }
}
