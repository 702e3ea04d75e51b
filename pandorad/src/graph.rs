//! `graph`: the dependency tree of one package as a profile would take it. Each node is
//! active, in the store, missing, or clashing (a second version of a name the same profile
//! would need); under the tree, each problem with the chain that requires each side, and the
//! exact commands that fix them. The activation errors explain themselves with the same
//! chains ([`chain_text`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use pandora_common::files::{PackageArg, Pin};
use pandora_common::layout::Layout;
use pandora_proto::v1::{GraphNode, GraphReply};

use crate::activate::profile;
use crate::error::{Error, Result};
use crate::registries::Lazy;
use crate::store::StoreView;

/// What a node is, for the profile the graph is drawn for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// This exact version is active in the profile.
    Active,
    /// In the store, not active.
    InStore,
    /// Not in the store; `offered` names the registry that has it.
    Missing { offered: Option<String> },
    /// Another version of the name is wanted in the same profile.
    Clashing { other: Pin },
}

impl State {
    fn word(&self) -> &'static str {
        match self {
            State::Active => "active",
            State::InStore => "in-store",
            State::Missing { .. } => "missing",
            State::Clashing { .. } => "clashing",
        }
    }
}

struct Node {
    pin: Pin,
    state: State,
    deps: Vec<usize>,
    /// Whether the dependencies are known (from the store or a registry's index).
    known: bool,
    /// The node that first required this one (none for the root).
    parent: Option<usize>,
    /// Not in the store: `Some(registry)` that offers it, or `None`; kept apart from `state`,
    /// which a clash may override.
    missing: Option<Option<String>>,
}

/// `pin` and who requires it, up to what was asked for: `lib@2 ← app@1`.
pub(crate) fn chain_text(chain: &[Pin]) -> String {
    chain
        .iter()
        .map(Pin::to_string)
        .collect::<Vec<_>>()
        .join(" ← ")
}

/// The graph of `package` (`NAME@VERSION`, or `NAME`: the store's newest version, else the
/// registries' latest) for `profile` (empty: the active one).
pub(crate) fn graph(
    layout: &Layout,
    store: &StoreView,
    package: &str,
    profile_asked: &str,
    refresh: bool,
) -> Result<GraphReply> {
    let profile_name = crate::activate::profile_name(layout, profile_asked)?;
    if !profile_asked.is_empty() && !profile::names(layout).contains(&profile_name) {
        return Err(Error::NoSuchProfile(profile_name));
    }
    let mut registries = Lazy::new(layout, refresh, None);
    let root = match PackageArg::parse(package).map_err(|source| Error::BadPackage {
        arg: package.to_string(),
        source,
    })? {
        PackageArg::Pin(p) => p,
        PackageArg::Name(name) => newest(store, &mut registries, &name)?,
        PackageArg::File(path) => {
            return Err(Error::Usage(format!(
                "graph draws packages by name, not files: name one as NAME@VERSION, not {}",
                path.display()
            )));
        }
    };
    let state = profile::state(layout, &profile_name)?;
    let active: BTreeMap<String, Pin> = state
        .lock
        .packages
        .iter()
        .map(|l| (l.pin.name.clone(), l.pin.clone()))
        .collect();
    let requested: BTreeSet<Pin> = state.request.packages.iter().cloned().collect();

    // Breadth first, so each node's parent is on a shortest chain to the root.
    let mut nodes: Vec<Node> = Vec::new();
    let mut index: HashMap<Pin, usize> = HashMap::new();
    let mut queue = VecDeque::new();
    nodes.push(Node {
        pin: root.clone(),
        state: State::InStore,
        deps: Vec::new(),
        known: false,
        parent: None,
        missing: None,
    });
    let mut asked_problems: Vec<String> = Vec::new();
    index.insert(root.clone(), 0);
    queue.push_back(0);
    while let Some(i) = queue.pop_front() {
        let pin = nodes[i].pin.clone();
        let (state, deps) = match store.get(&pin.name, &pin.version) {
            Some(installed) => {
                let state = if active.get(&pin.name) == Some(&pin) {
                    State::Active
                } else {
                    State::InStore
                };
                (state, Some(installed.manifest.dependencies.clone()))
            }
            None => match offered(&mut registries, &pin, &mut asked_problems) {
                Some((registry, deps)) => (
                    State::Missing {
                        offered: Some(registry),
                    },
                    Some(deps),
                ),
                None => (State::Missing { offered: None }, None),
            },
        };
        if let State::Missing { offered } = &state {
            nodes[i].missing = Some(offered.clone());
        }
        nodes[i].state = state;
        nodes[i].known = deps.is_some();
        for d in deps.unwrap_or_default() {
            let j = match index.get(&d) {
                Some(&j) => j,
                None => {
                    nodes.push(Node {
                        pin: d.clone(),
                        state: State::InStore,
                        deps: Vec::new(),
                        known: false,
                        parent: Some(i),
                        missing: None,
                    });
                    index.insert(d, nodes.len() - 1);
                    queue.push_back(nodes.len() - 1);
                    nodes.len() - 1
                }
            };
            nodes[i].deps.push(j);
        }
    }

    if nodes[0].state == (State::Missing { offered: None }) {
        return Err(Error::Missing {
            what: root.to_string(),
            needed_by: Vec::new(),
            asked: registries
                .made()
                .iter()
                .map(|c| c.config.name.clone())
                .collect(),
            problems: asked_problems,
            close: Vec::new(),
            verb: "graph",
            in_store: store
                .versions(&root.name)
                .iter()
                .map(|i| i.manifest.version.clone())
                .collect(),
        });
    }
    let chain = |nodes: &[Node], mut i: usize| {
        let mut c = vec![nodes[i].pin.clone()];
        while let Some(p) = nodes[i].parent {
            c.push(nodes[p].pin.clone());
            i = p;
        }
        c
    };
    let mut problems: Vec<String> = asked_problems;
    let mut fixes: Vec<String> = Vec::new();
    let profile_flag = if profile_asked.is_empty() {
        String::new()
    } else {
        format!(" --profile {profile_name}")
    };

    // Two versions of one name inside the graph: no profile can hold them both.
    let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, n) in nodes.iter().enumerate() {
        by_name.entry(n.pin.name.clone()).or_default().push(i);
    }
    let mut inner_clash = false;
    for versions in by_name.values().filter(|v| v.len() > 1) {
        inner_clash = true;
        for &i in versions {
            let other = versions.iter().find(|&&j| j != i).copied().unwrap_or(i);
            nodes[i].state = State::Clashing {
                other: nodes[other].pin.clone(),
            };
        }
        let sides: Vec<String> = versions
            .iter()
            .map(|&i| chain_text(&chain(&nodes, i)))
            .collect();
        problems.push(format!(
            "{} needs two versions of `{}`: {}; a profile holds one version per name",
            root,
            nodes[versions[0]].pin.name,
            sides.join(" and ")
        ));
    }

    // A version the profile already holds for a name the graph wants otherwise, and which
    // activating this package could not simply replace.
    let holders = |wanted: &Pin| -> Vec<Pin> { held_by(store, &active, &requested, wanted) };
    let mut deactivate: BTreeSet<String> = BTreeSet::new();
    for i in 0..nodes.len() {
        if matches!(nodes[i].state, State::Clashing { .. }) {
            continue;
        }
        let pin = nodes[i].pin.clone();
        let Some(have) = active.get(&pin.name).filter(|h| **h != pin).cloned() else {
            continue;
        };
        let held = holders(&have);
        // Activating a new version of the root replaces what was asked for by that name (and
        // with it what only that needed); only other requested packages stand in the way.
        let blocking: Vec<&Pin> = held.iter().filter(|h| h.name != root.name).collect();
        if blocking.is_empty() {
            continue;
        }
        nodes[i].state = State::Clashing {
            other: have.clone(),
        };
        let held_text: Vec<String> = blocking
            .iter()
            .map(|h| {
                let mut c = active_chain(store, &active, &have, h);
                c.insert(0, have.clone());
                chain_text(&c)
            })
            .collect();
        problems.push(format!(
            "{} would replace {have}, active in profile `{profile_name}` and needed there: {}",
            chain_text(&chain(&nodes, i)),
            held_text.join("; ")
        ));
        for h in blocking {
            if h.name != root.name {
                deactivate.insert(h.name.clone());
            }
        }
    }

    // What is missing, and who offers it.
    let mut install: Vec<String> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        match &n.missing {
            Some(Some(_)) => install.push(n.pin.to_string()),
            Some(None) => {
                problems.push(format!(
                    "{} is not in the store and no registry offers it",
                    chain_text(&chain(&nodes, i))
                ));
                fixes.push(format!(
                    "add a registry that has {}: pandora registry add NAME URL",
                    n.pin
                ));
            }
            _ => {}
        }
    }
    if !install.is_empty() {
        let needed: Vec<String> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.missing, Some(Some(_))))
            .map(|(i, _)| chain_text(&chain(&nodes, i)))
            .collect();
        problems.push(format!("not in the store: {}", needed.join("; ")));
        fixes.push(format!(
            "pandora install {} --no-activate",
            install.join(" ")
        ));
    }
    if !deactivate.is_empty() {
        for name in deactivate {
            fixes.push(format!("pandora deactivate {name}{profile_flag}"));
        }
        fixes.push(format!(
            "or keep them and use a profile of its own: pandora profile create {n} && pandora activate {root} --profile {n}",
            n = root.name
        ));
    }
    if inner_clash {
        fixes.push(format!(
            "none in Pandora: ask the publisher of {root} for versions whose dependencies agree"
        ));
    } else if nodes[0].state != State::Active || !problems.is_empty() {
        fixes.push(format!("pandora activate {root}{profile_flag}"));
    }
    Ok(GraphReply {
        profile: profile_name,
        nodes: nodes
            .iter()
            .map(|n| GraphNode {
                name: n.pin.name.clone(),
                version: n.pin.version.clone(),
                state: n.state.word().to_string(),
                dependencies: n.deps.iter().map(|&d| d as u32).collect(),
                detail: match &n.state {
                    State::Missing { offered: Some(r) } => format!("registry `{r}` has it"),
                    State::Missing { offered: None } => "no registry offers it".to_string(),
                    State::Clashing { other } => format!("{other} is wanted too"),
                    _ => String::new(),
                },
                dependencies_known: n.known,
            })
            .collect(),
        problems,
        fixes,
    })
}

/// The newest version of `name`: the store's, else the first registry's latest.
fn newest(store: &StoreView, registries: &mut Lazy<'_>, name: &str) -> Result<Pin> {
    if let Some(i) = store.versions(name).last() {
        return Ok(i.manifest.pin());
    }
    for c in registries.get()?.iter_mut() {
        if let Ok(Some(p)) = c.package(name)
            && let Some(v) = p.newest()
        {
            return Ok(Pin {
                name: name.to_string(),
                version: v.version.clone(),
            });
        }
    }
    Err(Error::NameNotInStore(name.to_string()))
}

/// The first registry (by priority) that offers `pin`, and its dependencies there; a
/// registry that cannot be asked adds to `problems` (once).
fn offered(
    registries: &mut Lazy<'_>,
    pin: &Pin,
    problems: &mut Vec<String>,
) -> Option<(String, Vec<Pin>)> {
    let clients = match registries.get() {
        Ok(c) => c,
        Err(Error::NoRegistries) => return None,
        Err(e) => {
            let text = pandora_common::error_chain(&e, ": ");
            if !problems.contains(&text) {
                problems.push(text);
            }
            return None;
        }
    };
    for c in clients.iter_mut() {
        match c.version(pin) {
            Ok(Some(v)) => return Some((c.config.name.clone(), v.dependencies)),
            Ok(None) => {}
            Err(e) => {
                let text = format!(
                    "registry `{}` could not be asked: {}",
                    c.config.name,
                    pandora_common::error_chain(&e, ": ")
                );
                if !problems.contains(&text) {
                    problems.push(text);
                }
            }
        }
    }
    None
}

/// The requested packages of the profile that need `have` (directly or through other
/// active packages), or `have` itself when it was requested.
fn held_by(
    store: &StoreView,
    active: &BTreeMap<String, Pin>,
    requested: &BTreeSet<Pin>,
    have: &Pin,
) -> Vec<Pin> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([have.clone()]);
    while let Some(p) = queue.pop_front() {
        if !seen.insert(p.clone()) {
            continue;
        }
        if requested.contains(&p) {
            out.push(p.clone());
        }
        for dependent in active.values() {
            let needs = store
                .get(&dependent.name, &dependent.version)
                .is_some_and(|i| i.manifest.dependencies.contains(&p));
            if needs {
                queue.push_back(dependent.clone());
            }
        }
    }
    out
}

/// The chain of active packages from `top` (requested) down to `have`, `have` excluded and
/// `top` last: who in the profile needs `have`.
fn active_chain(
    store: &StoreView,
    active: &BTreeMap<String, Pin>,
    have: &Pin,
    top: &Pin,
) -> Vec<Pin> {
    // Breadth first down from `top`, then back up from `have`.
    let mut parent: HashMap<Pin, Pin> = HashMap::new();
    let mut queue = VecDeque::from([top.clone()]);
    let mut seen = BTreeSet::from([top.clone()]);
    while let Some(p) = queue.pop_front() {
        if p == *have {
            break;
        }
        let deps = store
            .get(&p.name, &p.version)
            .map(|i| i.manifest.dependencies.clone())
            .unwrap_or_default();
        for d in deps {
            if active.get(&d.name) == Some(&d) && seen.insert(d.clone()) {
                parent.insert(d.clone(), p.clone());
                queue.push_back(d);
            }
        }
    }
    let mut out = Vec::new();
    let mut at = have.clone();
    while let Some(p) = parent.get(&at) {
        out.push(p.clone());
        at = p.clone();
    }
    if out.is_empty() && have != top {
        out.push(top.clone());
    }
    out
}
