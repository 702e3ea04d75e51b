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
//!
//! Generations share links, never directories: a link that the generation before holds at
//! the same path with the same target is made as a hard link of that link (`linkat` of a
//! symlink links the symlink itself), so a switch writes a new inode only for what changed.
//! The shared inode is immutable like the generations that hold it, and it resolves the same
//! in each, because a relative target depends only on the depth of the path, which is the
//! same. The directories stay each generation's own: the top-level ones must be (`bin/..`
//! is the generation), and a directory cannot be hard-linked.
//!
//! ```text
//! generations/7/bin/viewer  -> ../../../../store/viewer/2.1/files/bin/viewer   inode 812
//! generations/8/bin/viewer  -> ../../../../store/viewer/2.1/files/bin/viewer   inode 812 (shared)
//! generations/8/bin/tool    -> ../../../../store/tools/2/files/bin/tool        inode 977 (new)
//! ```

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
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

/// What is at one path in a package (borrowed from its file list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind<'a> {
    Dir,
    File { sha256: &'a str, exec: bool },
    Link(&'a str),
}

#[derive(Default)]
struct Trie<'a> {
    children: BTreeMap<&'a str, Trie<'a>>,
    /// Which members put something here, and what.
    here: Vec<(usize, Kind<'a>)>,
    /// Every member with something at or below this path, ascending (members are laid in
    /// order, so a member is new here only if it is not the last one).
    below: Vec<usize>,
}

impl Trie<'_> {
    fn mark(&mut self, i: usize) {
        if self.below.last() != Some(&i) {
            self.below.push(i);
        }
    }
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
                    sha256,
                    exec: rec.mode & 0o111 != 0,
                },
                FileKind::Symlink { target } => Kind::Link(target),
            };
            let mut node = &mut root;
            node.mark(i);
            for part in rel.split('/') {
                node = node.children.entry(part).or_default();
                node.mark(i);
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
        let only = t.below[0];
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
    let first = t.here[0].1;
    if t.here.iter().all(|(_, k)| *k == first) && first != Kind::Dir {
        out.insert(name, link(t.here[0].0));
        return;
    }
    let owners = &t.below;
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
    /// Every link of the forest, new or shared.
    pub(crate) links: u64,
    /// Links that are hard links of the previous generation's identical link (no new inode).
    pub(crate) shared: u64,
}

/// The generation a new one follows, for sharing its links.
pub(crate) struct Previous<'a> {
    /// Its directory (in `generations/`).
    pub(crate) dir: &'a Path,
    /// Its plan, when known to be what is on disk; otherwise each link is read.
    pub(crate) plan: Option<&'a Node>,
}

/// Creates the planned forest under `root` (an empty directory that will be renamed to
/// `profiles/<p>/generations/<N>`): links are relative to that final place, so they resolve
/// once it is there. A link that `previous` holds at the same path with the same target
/// becomes a hard link of that link: the same relative target from the same depth, without
/// a new inode.
pub(crate) fn build(
    node: &Node,
    root: &Path,
    previous: Option<Previous<'_>>,
) -> std::io::Result<Counts> {
    let mut counts = Counts::default();
    if let Node::Dir(children) = node {
        let dir = open_dir(rustix::fs::CWD, root).map_err(named("open", root))?;
        let (prev, plan) = match previous {
            Some(p) => (
                open_dir(rustix::fs::CWD, p.dir).ok(),
                p.plan.and_then(|n| match n {
                    Node::Dir(c) => Some(c),
                    Node::Link { .. } => None,
                }),
            ),
            None => (None, None),
        };
        let mut at = Place {
            dir,
            prev: prev.map(|fd| (fd, plan)),
            path: root.to_path_buf(),
        };
        emit(children, &mut at, 1, &mut Vec::new(), &mut counts)?;
    }
    Ok(counts)
}

/// Identity and change times of every real directory of a built forest, in plan order:
/// any entry made, removed or replaced in one of them changes its times.
pub(crate) fn stamps(node: &Node, root: &Path) -> Option<Vec<[i64; 5]>> {
    fn walk(node: &Node, at: &Path, out: &mut Vec<[i64; 5]>) -> Option<()> {
        use std::os::unix::fs::MetadataExt;
        if let Node::Dir(children) = node {
            let m = fs_err::symlink_metadata(at).ok()?;
            if !m.is_dir() {
                return None;
            }
            out.push([
                i64::try_from(m.ino()).ok()?,
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
            ]);
            for (name, child) in children {
                walk(child, &at.join(name), out)?;
            }
        }
        Some(())
    }
    let mut out = Vec::new();
    walk(node, root, &mut out)?;
    Some(out)
}

/// A directory being filled, and the previous generation's directory at the same path with
/// its planned entries when known.
struct Place<'p> {
    dir: OwnedFd,
    prev: Option<(OwnedFd, Option<&'p BTreeMap<String, Node>>)>,
    /// For errors.
    path: PathBuf,
}

fn emit<'p>(
    children: &BTreeMap<String, Node>,
    at: &mut Place<'p>,
    depth: usize,
    buf: &mut Vec<u8>,
    counts: &mut Counts,
) -> std::io::Result<()> {
    use rustix::fs::{AtFlags, Mode};
    for (name, child) in children {
        match child {
            Node::Dir(sub) => {
                let path = at.path.join(name);
                rustix::fs::mkdirat(&at.dir, name.as_str(), Mode::from_raw_mode(0o755))
                    .map_err(|e| named("create", &path)(e.into()))?;
                counts.dirs += 1;
                let dir = open_dir(&at.dir, name).map_err(named("open", &path))?;
                let prev = at.prev.as_ref().and_then(|(fd, plan)| {
                    let plan = match plan.map(|p| p.get(name)) {
                        None => None,
                        Some(Some(Node::Dir(c))) => Some(c),
                        // Planned as something else: nothing to share below.
                        Some(_) => return None,
                    };
                    Some((open_dir(fd, name).ok()?, plan))
                });
                emit(sub, &mut Place { dir, prev, path }, depth + 1, buf, counts)?;
            }
            Node::Link { owner, rel } => {
                let target = store_target(owner, rel, depth);
                counts.links += 1;
                if let Some((prev, plan)) = &at.prev {
                    let same = match plan {
                        Some(plan) => plan.get(name) == Some(child),
                        None => rustix::fs::readlinkat(prev, name.as_str(), std::mem::take(buf))
                            .is_ok_and(|old| {
                                let same = old.as_bytes() == target.as_os_str().as_bytes();
                                *buf = old.into_bytes();
                                same
                            }),
                    };
                    // Any failure (too many links, an entry gone) falls back to a new link.
                    if same
                        && rustix::fs::linkat(
                            prev,
                            name.as_str(),
                            &at.dir,
                            name.as_str(),
                            AtFlags::empty(),
                        )
                        .is_ok()
                    {
                        counts.shared += 1;
                        continue;
                    }
                }
                rustix::fs::symlinkat(&target, &at.dir, name.as_str())
                    .map_err(|e| named("create", &at.path.join(name))(e.into()))?;
            }
        }
    }
    Ok(())
}

/// Opens a directory of a forest (never through a link) for the `*at` calls.
fn open_dir(base: impl AsFd, path: impl rustix::path::Arg) -> std::io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rustix::fs::openat(base, path, flags, Mode::empty())?)
}

fn named(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> std::io::Error {
    let path = path.display().to_string();
    move |e| std::io::Error::new(e.kind(), format!("cannot {what} {path}: {e}"))
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
        let counts = build(&node, &generation, None).unwrap();
        assert_eq!(
            counts,
            Counts {
                dirs: 1,
                links: 2,
                shared: 0
            }
        );
        assert_eq!(
            std::fs::read_to_string(generation.join("bin/viewer")).unwrap(),
            "v"
        );
        let target = std::fs::read_link(generation.join("bin/tool")).unwrap();
        assert_eq!(owner_of(&target), Some(Pin::parse("tools@1").unwrap()));
    }
}
