//! Path and symlink rules shared by the packer and the unpacker.
//!
//! [`Tree`] is the in-package view of every path seen so far. It is authoritative: the unpacker
//! writes only into a fresh staging directory, so what the tree says is exactly what is on disk,
//! and a path is refused before anything is written for it.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::content::{PROVENANCE, SBOM};
use super::entry::EntryKind;
use super::error::Violation;
use super::limits::Limits;

/// The manifest's name, always the first entry.
pub(crate) const MANIFEST: &str = "manifest.acl";
/// Top-level directories; a symlink in one must resolve inside it.
const AREAS: [&str; 2] = ["files", "hooks"];
/// Top-level regular files.
const TOP_FILES: [&str; 3] = [MANIFEST, SBOM, PROVENANCE];
/// Linux's MAXSYMLINKS.
const MAX_HOPS: u32 = 40;
/// Longest path shown in an error.
const DISPLAY_MAX: usize = 256;

/// Whether `name` may appear at the top level of a package.
pub(crate) fn is_top_level(name: &str) -> bool {
    AREAS.contains(&name) || TOP_FILES.contains(&name)
}

/// Shows a raw path in an error: control characters and invalid UTF-8 escaped, cut at 256
/// characters.
pub(crate) fn display_path(raw: &[u8]) -> String {
    let mut out = String::new();
    'chunks: for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            if out.len() >= DISPLAY_MAX {
                out.push('…');
                break 'chunks;
            }
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            if out.len() >= DISPLAY_MAX {
                out.push('…');
                break 'chunks;
            }
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Checks a raw entry path and returns it without its trailing `/`.
pub(crate) fn check_path(
    raw: &[u8],
    kind: EntryKind,
    limits: &Limits,
) -> Result<String, Violation> {
    if raw.len() > limits.max_path_len {
        return Err(Violation::PathTooLong {
            len: raw.len() as u64,
            max: limits.max_path_len,
        });
    }
    if raw.contains(&0) {
        return Err(Violation::Nul);
    }
    let path = std::str::from_utf8(raw).map_err(|_| Violation::NotUtf8)?;
    if path.is_empty() {
        return Err(Violation::EmptyPath);
    }
    if path.starts_with('/') {
        return Err(Violation::Absolute);
    }
    let path = match path.strip_suffix('/') {
        Some(_) if kind != EntryKind::Dir => return Err(Violation::TrailingSlash),
        Some(stripped) => stripped,
        None => path,
    };
    for component in path.split('/') {
        check_component(component, limits)?;
    }
    let (top, rest) = match path.split_once('/') {
        Some((top, rest)) => (top, Some(rest)),
        None => (path, None),
    };
    if AREAS.contains(&top) {
        if rest.is_none() && kind != EntryKind::Dir {
            return Err(Violation::WrongKind {
                expected: "a directory",
            });
        }
    } else if TOP_FILES.contains(&top) {
        if rest.is_some() {
            return Err(Violation::ParentNotDirectory {
                parent: top.to_string(),
            });
        }
        if kind != EntryKind::File {
            return Err(Violation::WrongKind {
                expected: "a regular file",
            });
        }
    } else {
        return Err(Violation::UnknownTopLevel);
    }
    Ok(path.to_string())
}

fn check_component(component: &str, limits: &Limits) -> Result<(), Violation> {
    match component {
        "" => Err(Violation::EmptyComponent),
        "." => Err(Violation::DotComponent),
        ".." => Err(Violation::ParentComponent),
        c if c.len() > limits.max_component_len => Err(Violation::ComponentTooLong {
            len: c.len(),
            max: limits.max_component_len,
        }),
        _ => Ok(()),
    }
}

/// Checks a raw symlink target on its own and returns it as a string.
pub(crate) fn check_link_target(raw: &[u8], limits: &Limits) -> Result<String, Violation> {
    let bad = |why| Violation::BadLinkTarget {
        target: display_path(raw),
        why,
    };
    if raw.is_empty() {
        return Err(bad("empty"));
    }
    if raw.len() > limits.max_path_len {
        return Err(bad("too long"));
    }
    if raw.contains(&0) {
        return Err(bad("holding a NUL byte"));
    }
    let target = std::str::from_utf8(raw).map_err(|_| bad("not valid UTF-8"))?;
    if target.starts_with('/') {
        return Err(bad("absolute"));
    }
    Ok(target.to_string())
}

/// Resolves `target` lexically from the directory of `link` (a checked path) and refuses it if
/// any step leaves the link's area.
fn check_link_lexically(link: &str, target: &str) -> Result<(), Violation> {
    let mut depth = link.split('/').count() - 1;
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                if depth <= 1 {
                    return Err(escapes(link, target));
                }
                depth -= 1;
            }
            _ => depth += 1,
        }
    }
    Ok(())
}

fn escapes(link: &str, target: &str) -> Violation {
    let area = link.split('/').next().unwrap_or_default().to_string();
    Violation::LinkEscapes {
        target: target.to_string(),
        area,
    }
}

#[derive(Debug)]
enum Node {
    File,
    Dir { explicit: bool },
    Symlink(String),
}

/// What [`Tree::add`] found: directories to create first, and whether the path already exists
/// (a directory that an earlier entry created implicitly).
#[derive(Debug, Default)]
pub(crate) struct Added {
    /// Parents not seen before, outermost first; each must be created as a 0755 directory.
    pub(crate) new_dirs: Vec<String>,
    /// The path is already a directory.
    pub(crate) exists: bool,
}

/// Every path of the package seen so far.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    nodes: HashMap<String, Node>,
    links: Vec<String>,
}

impl Tree {
    /// Records `path` (a checked path), refusing duplicates and paths through symlinks or
    /// files. `target` is the checked target of a symlink.
    pub(crate) fn add(
        &mut self,
        path: &str,
        kind: EntryKind,
        target: Option<&str>,
    ) -> Result<Added, Violation> {
        let mut added = Added::default();
        for (i, _) in path.match_indices('/') {
            let parent = &path[..i];
            match self.nodes.get(parent) {
                Some(Node::Dir { .. }) => {}
                Some(Node::Symlink(_)) => {
                    return Err(Violation::ThroughSymlink {
                        link: parent.to_string(),
                    });
                }
                Some(Node::File) => {
                    return Err(Violation::ParentNotDirectory {
                        parent: parent.to_string(),
                    });
                }
                None => {
                    self.nodes
                        .insert(parent.to_string(), Node::Dir { explicit: false });
                    added.new_dirs.push(parent.to_string());
                }
            }
        }
        if let Some(target) = target {
            check_link_lexically(path, target)?;
        }
        match (self.nodes.get_mut(path), kind) {
            (Some(Node::Dir { explicit }), EntryKind::Dir) if !*explicit => {
                *explicit = true;
                added.exists = true;
            }
            (Some(_), _) => return Err(Violation::Duplicate),
            (None, EntryKind::File) => {
                self.nodes.insert(path.to_string(), Node::File);
            }
            (None, EntryKind::Dir) => {
                self.nodes
                    .insert(path.to_string(), Node::Dir { explicit: true });
            }
            (None, EntryKind::Symlink) => {
                let target = target.unwrap_or_default().to_string();
                self.nodes.insert(path.to_string(), Node::Symlink(target));
                self.links.push(path.to_string());
            }
        }
        Ok(added)
    }

    /// Whether `path` is a regular file of the package.
    pub(crate) fn is_file(&self, path: &str) -> bool {
        matches!(self.nodes.get(path), Some(Node::File))
    }

    /// Resolves every symlink physically against the package's own symlinks and returns the
    /// first one whose resolution leaves its area. Lexical checks alone miss
    /// `a/b/s -> ../..` followed by `t -> a/b/s/../..`.
    pub(crate) fn check_links(&self) -> Result<(), (String, Violation)> {
        for link in &self.links {
            if let Some(Node::Symlink(target)) = self.nodes.get(link) {
                self.resolve(link, target).map_err(|v| (link.clone(), v))?;
            }
        }
        Ok(())
    }

    fn resolve(&self, link: &str, target: &str) -> Result<(), Violation> {
        let mut stack: Vec<&str> = link.split('/').collect();
        stack.pop();
        // Components still to walk, the next one last.
        let mut todo: Vec<&str> = target.split('/').rev().collect();
        let mut hops = 0;
        while let Some(component) = todo.pop() {
            match component {
                "" | "." => {}
                ".." => {
                    stack.pop();
                    if stack.is_empty() {
                        return Err(escapes(link, target));
                    }
                }
                name => {
                    stack.push(name);
                    match self.nodes.get(&stack.join("/")) {
                        Some(Node::Symlink(next)) => {
                            hops += 1;
                            if hops > MAX_HOPS {
                                return Err(Violation::LinkLoop {
                                    target: target.to_string(),
                                });
                            }
                            stack.pop();
                            todo.extend(next.split('/').rev());
                        }
                        // Walking on below a file fails with ENOTDIR: nothing to escape to.
                        Some(Node::File) if !todo.is_empty() => return Ok(()),
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}
