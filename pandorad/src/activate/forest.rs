//! The symlink forest of a generation, planned from the active packages' file lists.
//!
//! Each package's `files/` tree is laid over the generation's root. The top-level
//! directories (`bin/`, `lib/`, `share/`, ...) are always real directories of the
//! generation, so `bin/../lib` is the profile's `lib` whoever provides it (programs find
//! their libraries and data that way). Below them, a directory whose whole subtree comes
//! from one package is one link to that package's directory (tree folding), so a generation
//! costs links per directory, not per file; a directory that two packages add to is a real
//! directory whose entries are planned the same way (unfolding).
//! Two packages that put different content at one path conflict; identical content (same
//! sha256 and executable bit, or the same link target) does not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use pandora_common::files::{ConflictStrategy, FileKind, FileList, PathOverride, Pin};

/// The part of a store entry laid over the generation.
const PAYLOAD: &str = "files/";

/// One package of the profile, with its file list.
pub(crate) struct Member<'a> {
    pub(crate) pin: Pin,
    pub(crate) files: &'a FileList,
    /// The package being activated now ("new" for the strategies).
    pub(crate) newcomer: bool,
}

/// What is at one path in a package.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File { sha256: String, exec: bool },
    Link(String),
}

#[derive(Default)]
struct Trie {
    children: BTreeMap<String, Trie>,
    /// Which members put something here, and what.
    here: Vec<(usize, Kind)>,
    /// Every member with something at or below this path.
    below: BTreeSet<usize>,
}

/// A planned generation: directories and links.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Node {
    /// A real directory.
    Dir(BTreeMap<String, Node>),
    /// A link to `rel` (under `files/`) of member `owner`'s store entry.
    Link { owner: Pin, rel: String },
}

/// Two packages that want one path, and nothing decided between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conflict {
    pub(crate) path: String,
    pub(crate) existing: Pin,
    pub(crate) newcomer: Pin,
}

/// How conflicts are settled.
pub(crate) struct Rules<'a> {
    pub(crate) strategy: ConflictStrategy,
    pub(crate) overrides: &'a [PathOverride],
}

/// Plans the forest of `members`; the root is always a directory.
pub(crate) fn plan(members: &[Member<'_>], rules: &Rules<'_>) -> Result<Node, Vec<Conflict>> {
    let mut root = Trie::default();
    for (i, m) in members.iter().enumerate() {
        for rec in &m.files.files {
            let Some(rel) = rec.path.strip_prefix(PAYLOAD) else {
                continue;
            };
            let kind = match &rec.kind {
                FileKind::Dir => Kind::Dir,
                FileKind::File { sha256, .. } => Kind::File {
                    sha256: sha256.clone(),
                    exec: rec.mode & 0o111 != 0,
                },
                FileKind::Symlink { target } => Kind::Link(target.clone()),
            };
            let mut node = &mut root;
            node.below.insert(i);
            for part in rel.split('/') {
                node = node.children.entry(part.to_string()).or_default();
                node.below.insert(i);
            }
            node.here.push((i, kind));
        }
    }
    let mut conflicts = Vec::new();
    let mut planned = BTreeMap::new();
    for (name, child) in &root.children {
        plan_node(
            members,
            rules,
            child,
            name,
            true,
            &mut planned,
            &mut conflicts,
        );
    }
    if conflicts.is_empty() {
        Ok(Node::Dir(planned))
    } else {
        Err(conflicts)
    }
}

fn plan_node(
    members: &[Member<'_>],
    rules: &Rules<'_>,
    t: &Trie,
    rel: &str,
    top: bool,
    out: &mut BTreeMap<String, Node>,
    conflicts: &mut Vec<Conflict>,
) {
    let name = rel.rsplit('/').next().unwrap_or(rel).to_string();
    let link = |i: usize| Node::Link {
        owner: members[i].pin.clone(),
        rel: rel.to_string(),
    };
    let all_dirs = t.here.iter().all(|(_, k)| *k == Kind::Dir);
    // One package below here: fold the whole subtree into one link (a top-level directory
    // stays a directory).
    if t.below.len() == 1 && !(top && all_dirs) {
        let only = *t.below.iter().next().expect("one member");
        out.insert(name, link(only));
        return;
    }
    if all_dirs {
        let mut dir = BTreeMap::new();
        for (child, sub) in &t.children {
            let path = format!("{rel}/{child}");
            plan_node(members, rules, sub, &path, false, &mut dir, conflicts);
        }
        out.insert(name, Node::Dir(dir));
        return;
    }
    // Several packages, and not all of them directories: the same content is no conflict.
    let first = &t.here[0].1;
    if t.here.iter().all(|(_, k)| k == first) && *first != Kind::Dir {
        out.insert(name, link(t.here[0].0));
        return;
    }
    let owners: Vec<usize> = t.below.iter().copied().collect();
    let newcomer = owners.iter().copied().find(|&i| members[i].newcomer);
    let existing = owners.iter().copied().find(|&i| !members[i].newcomer);
    if let Some(o) = rules.overrides.iter().find(|o| o.path == rel)
        && let Some(&i) = owners.iter().find(|&&i| members[i].pin.name == o.package)
    {
        out.insert(name, link(i));
        return;
    }
    match (rules.strategy, newcomer, existing) {
        (ConflictStrategy::PreferNew, Some(n), _) => {
            out.insert(name, link(n));
        }
        (ConflictStrategy::PreferExisting, _, Some(e)) => {
            out.insert(name, link(e));
        }
        (ConflictStrategy::Namespace, Some(n), Some(e)) => {
            out.insert(name.clone(), link(e));
            let pin = &members[n].pin;
            let spaced = format!("{}-{}", pin.name, pin.version);
            let spaced_dir = out
                .entry(spaced)
                .or_insert_with(|| Node::Dir(BTreeMap::new()));
            if let Node::Dir(dir) = spaced_dir {
                dir.insert(name, link(n));
            }
        }
        _ => {
            let (a, b) = match (existing, newcomer) {
                (Some(e), Some(n)) => (e, n),
                _ => (owners[0], owners[owners.len() - 1]),
            };
            conflicts.push(Conflict {
                path: rel.to_string(),
                existing: members[a].pin.clone(),
                newcomer: members[b].pin.clone(),
            });
        }
    }
}

/// Counts of what a plan creates.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) dirs: u64,
    pub(crate) links: u64,
}

/// Creates the planned forest under `root` (an empty directory that will be renamed to
/// `profiles/<p>/generations/<N>`): links are relative to that final place, so they resolve
/// once it is there.
pub(crate) fn build(node: &Node, root: &Path) -> std::io::Result<Counts> {
    let mut counts = Counts::default();
    if let Node::Dir(children) = node {
        for (name, child) in children {
            emit(child, &root.join(name), 1, &mut counts)?;
        }
    }
    Ok(counts)
}

fn emit(node: &Node, at: &Path, depth: usize, counts: &mut Counts) -> std::io::Result<()> {
    match node {
        Node::Dir(children) => {
            fs_err::create_dir(at)?;
            counts.dirs += 1;
            for (name, child) in children {
                emit(child, &at.join(name), depth + 1, counts)?;
            }
        }
        Node::Link { owner, rel } => {
            fs_err::os::unix::fs::symlink(store_target(owner, rel, depth), at)?;
            counts.links += 1;
        }
    }
    Ok(())
}

/// The relative target of a link `depth` levels below a generation's root, to `rel` under
/// `owner`'s `files/`: up through the generation, `generations/`, the profile and
/// `profiles/`, then down into `store/`.
fn store_target(owner: &Pin, rel: &str, depth: usize) -> PathBuf {
    let mut t = PathBuf::new();
    for _ in 0..(3 + depth) {
        t.push("..");
    }
    t.push("store");
    t.push(&owner.name);
    t.push(&owner.version);
    t.push("files");
    t.push(rel);
    t
}

/// The package a link target (as [`build`] writes them) points into.
pub(crate) fn owner_of(target: &Path) -> Option<Pin> {
    let parts: Vec<&str> = target
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let at = parts.iter().position(|p| *p == "store")?;
    Some(Pin {
        name: parts.get(at + 1)?.to_string(),
        version: parts.get(at + 2)?.to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use pandora_common::files::FileRecord;

    fn list(entries: &[(&str, &str)]) -> FileList {
        FileList {
            files: entries
                .iter()
                .map(|(path, what)| FileRecord {
                    path: format!("files/{path}"),
                    mode: if *what == "dir" { 0o755 } else { 0o644 },
                    kind: match *what {
                        "dir" => FileKind::Dir,
                        content => FileKind::File {
                            size: content.len() as u64,
                            sha256: pandora_common::hash::sha256_hex(content.as_bytes()),
                        },
                    },
                })
                .collect(),
        }
    }

    fn member<'a>(pin: &str, files: &'a FileList, newcomer: bool) -> Member<'a> {
        Member {
            pin: Pin::parse(pin).unwrap(),
            files,
            newcomer,
        }
    }

    fn refuse() -> Rules<'static> {
        Rules {
            strategy: ConflictStrategy::Refuse,
            overrides: &[],
        }
    }

    fn links(node: &Node, prefix: &str, out: &mut Vec<String>) {
        if let Node::Dir(children) = node {
            for (name, child) in children {
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}/{name}")
                };
                match child {
                    Node::Dir(_) => links(child, &path, out),
                    Node::Link { owner, rel } => out.push(format!("{path} -> {owner}:{rel}")),
                }
            }
        }
    }

    fn shown(node: &Node) -> Vec<String> {
        let mut out = Vec::new();
        links(node, "", &mut out);
        out
    }

    #[test]
    fn one_package_folds_and_a_second_unfolds() {
        let viewer = list(&[
            ("bin", "dir"),
            ("bin/viewer", "v"),
            ("share", "dir"),
            ("share/viewer", "dir"),
            ("share/viewer/a.txt", "a"),
            ("share/viewer/b.txt", "b"),
        ]);
        let plugin = list(&[
            ("share", "dir"),
            ("share/viewer", "dir"),
            ("share/viewer/plugin.txt", "p"),
        ]);
        let one = plan(&[member("viewer@2.1", &viewer, true)], &refuse()).unwrap();
        // Top-level directories stay real; below them one owner means one link.
        assert_eq!(
            shown(&one),
            [
                "bin/viewer -> viewer@2.1:bin/viewer",
                "share/viewer -> viewer@2.1:share/viewer"
            ]
        );
        let two = plan(
            &[
                member("viewer@2.1", &viewer, false),
                member("plugin@1", &plugin, true),
            ],
            &refuse(),
        )
        .unwrap();
        assert_eq!(
            shown(&two),
            [
                "bin/viewer -> viewer@2.1:bin/viewer",
                "share/viewer/a.txt -> viewer@2.1:share/viewer/a.txt",
                "share/viewer/b.txt -> viewer@2.1:share/viewer/b.txt",
                "share/viewer/plugin.txt -> plugin@1:share/viewer/plugin.txt"
            ]
        );
    }

    #[test]
    fn conflicts_are_refused_unless_a_strategy_or_an_override_decides() {
        let a = list(&[("bin", "dir"), ("bin/convert", "a")]);
        let b = list(&[("bin", "dir"), ("bin/convert", "b")]);
        let same = list(&[("bin", "dir"), ("bin/convert", "a")]);
        let members = [member("a@1", &a, false), member("b@2", &b, true)];
        let err = plan(&members, &refuse()).unwrap_err();
        assert_eq!(
            err,
            [Conflict {
                path: "bin/convert".into(),
                existing: Pin::parse("a@1").unwrap(),
                newcomer: Pin::parse("b@2").unwrap(),
            }]
        );
        let with = |strategy| {
            shown(
                &plan(
                    &members,
                    &Rules {
                        strategy,
                        overrides: &[],
                    },
                )
                .unwrap(),
            )
        };
        assert_eq!(
            with(ConflictStrategy::PreferNew),
            ["bin/convert -> b@2:bin/convert"]
        );
        assert_eq!(
            with(ConflictStrategy::PreferExisting),
            ["bin/convert -> a@1:bin/convert"]
        );
        assert_eq!(
            with(ConflictStrategy::Namespace),
            [
                "bin/b-2/convert -> b@2:bin/convert",
                "bin/convert -> a@1:bin/convert"
            ]
        );
        let overrides = [PathOverride {
            path: "bin/convert".into(),
            package: "b".into(),
        }];
        let chosen = plan(
            &members,
            &Rules {
                strategy: ConflictStrategy::Refuse,
                overrides: &overrides,
            },
        )
        .unwrap();
        assert_eq!(shown(&chosen), ["bin/convert -> b@2:bin/convert"]);
        // Identical content is not a conflict.
        let identical = plan(
            &[member("a@1", &a, false), member("c@1", &same, true)],
            &refuse(),
        );
        assert!(identical.is_ok());
    }

    #[test]
    fn built_links_point_into_the_store_from_their_final_place() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path();
        let entry = home.join("store/viewer/2.1/files/bin");
        std::fs::create_dir_all(&entry).unwrap();
        std::fs::write(entry.join("viewer"), "v").unwrap();
        let other = home.join("store/tools/1/files/bin");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("tool"), "t").unwrap();
        let viewer = list(&[("bin", "dir"), ("bin/viewer", "v")]);
        let tools = list(&[("bin", "dir"), ("bin/tool", "t")]);
        let node = plan(
            &[
                member("viewer@2.1", &viewer, false),
                member("tools@1", &tools, true),
            ],
            &refuse(),
        )
        .unwrap();
        let generation = home.join("profiles/default/generations/1");
        std::fs::create_dir_all(&generation).unwrap();
        let counts = build(&node, &generation).unwrap();
        assert_eq!(counts, Counts { dirs: 1, links: 2 });
        assert_eq!(
            std::fs::read_to_string(generation.join("bin/viewer")).unwrap(),
            "v"
        );
        let target = std::fs::read_link(generation.join("bin/tool")).unwrap();
        assert_eq!(owner_of(&target), Some(Pin::parse("tools@1").unwrap()));
    }
}
