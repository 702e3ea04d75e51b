//! A build's inputs: path sources hashed as trees, URL sources fetched once into
//! `cache/sources/sha256/` and checked against the recipe, and the copies the sandbox sees.

use std::path::{Path, PathBuf};

use pandora_common::files::{Pin, RecipeSource, SourceKind};
use pandora_common::hash::{Hasher, hash_file};
use pandora_common::layout::Layout;

use crate::engine::Events;
use crate::error::{Error, Result};

/// The most a URL source may weigh.
const MAX_SOURCE: u64 = 4 << 30;

/// A source, ready: where its bytes are and their hash.
pub(crate) struct Ready {
    pub(crate) source: RecipeSource,
    /// The directory or file to copy into `/build/src`.
    pub(crate) path: PathBuf,
    /// sha256 of the file (URL) or of the tree (path: every entry's path, kind, mode and
    /// content, in order).
    pub(crate) sha256: String,
}

/// Hashes path sources and fetches URL ones (verified before anything runs).
pub(crate) fn prepare(
    layout: &Layout,
    dir: &Path,
    pin: &Pin,
    sources: &[RecipeSource],
    events: &Events,
) -> Result<Vec<Ready>> {
    let mut out = Vec::new();
    for s in sources {
        let (path, sha256) = match &s.kind {
            SourceKind::Path(rel) => {
                let path = dir.join(rel);
                // Resolved, it must stay inside the recipe's directory: a symlink on the way
                // (`a -> $HOME`) must not carry the user's files into a package.
                let inside = match (fs_err::canonicalize(dir), fs_err::canonicalize(&path)) {
                    (Ok(d), Ok(p)) => p.starts_with(&d),
                    _ => {
                        return Err(Error::BuildFailed {
                            pin: pin.clone(),
                            what: format!(
                                "source `{}` is {}, which does not exist",
                                s.label,
                                path.display()
                            ),
                        });
                    }
                };
                if !inside {
                    return Err(Error::BuildFailed {
                        pin: pin.clone(),
                        what: format!(
                            "source `{}` ({rel}) leads outside {} through a symbolic link",
                            s.label,
                            dir.display()
                        ),
                    });
                }
                let sha = tree_hash(&path).map_err(Error::io("read", &path))?;
                (path, sha)
            }
            SourceKind::Url { url, sha256 } => (
                fetch(layout, pin, &s.label, url, sha256, events)?,
                sha256.clone(),
            ),
        };
        out.push(Ready {
            source: s.clone(),
            path,
            sha256,
        });
    }
    Ok(out)
}

fn fetch(
    layout: &Layout,
    pin: &Pin,
    label: &str,
    url: &str,
    want: &str,
    events: &Events,
) -> Result<PathBuf> {
    let cached = layout.source_cache().join(want);
    if cached.is_file() {
        return Ok(cached);
    }
    let parent = cached.parent().expect("a parent");
    fs_err::create_dir_all(parent).map_err(Error::io("create", parent))?;
    let partial = tempfile::Builder::new()
        .prefix("source-")
        .tempfile_in(layout.tmp())
        .map_err(Error::io("create a file in", layout.tmp()))?;
    let mut task = events.task("fetch", label, 0);
    use crate::fetch::http::DownloadError;
    let (found, _) = crate::fetch::http::download(url, partial.path(), MAX_SOURCE, &mut task)
        .map_err(|e| {
            let why = match e {
                DownloadError::TooLarge => "it is larger than 4 GiB".to_string(),
                DownloadError::Stopped => {
                    return events
                        .check()
                        .err()
                        .unwrap_or(Error::Cancelled("the request stopped"));
                }
                DownloadError::Failed(m) => m,
                DownloadError::Io(e) => e.to_string(),
            };
            Error::BuildFailed {
                pin: pin.clone(),
                what: format!("cannot fetch source `{label}` from {url}: {why}"),
            }
        })?;
    if found != want {
        return Err(Error::SourceMismatch {
            pin: pin.clone(),
            label: label.into(),
            url: url.into(),
            want: want.into(),
            found,
        });
    }
    partial
        .persist(&cached)
        .map_err(|e| Error::io("keep", &cached)(e.error))?;
    Ok(cached)
}

/// sha256 over every entry under `path` (itself if a file), sorted by path: its relative
/// path, kind, mode bits and content hash or link target.
pub(crate) fn tree_hash(path: &Path) -> std::io::Result<String> {
    let mut lines = Vec::new();
    walk(path, "", &mut lines)?;
    lines.sort();
    let mut h = Hasher::new();
    for l in &lines {
        h.update(l.as_bytes());
    }
    Ok(h.finish().sha256)
}

fn walk(at: &Path, rel: &str, out: &mut Vec<String>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs_err::symlink_metadata(at)?;
    let mode = meta.permissions().mode() & 0o777;
    if meta.file_type().is_symlink() {
        let target = fs_err::read_link(at)?;
        out.push(format!("{rel}\0link\0{}\n", target.display()));
    } else if meta.is_dir() {
        out.push(format!("{rel}\0dir\0{mode:o}\n"));
        for e in fs_err::read_dir(at)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            walk(&e.path(), &child, out)?;
        }
    } else if meta.is_file() {
        let d = hash_file(at)?;
        out.push(format!("{rel}\0file\0{mode:o}\0{}\n", d.sha256));
    }
    Ok(())
}

/// Copies `from` (a file or a tree, symlinks as links) to `to`.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = fs_err::symlink_metadata(from)?;
    if meta.file_type().is_symlink() {
        fs_err::os::unix::fs::symlink(fs_err::read_link(from)?, to)?;
    } else if meta.is_dir() {
        fs_err::create_dir_all(to)?;
        for e in fs_err::read_dir(from)? {
            let e = e?;
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
        fs_err::set_permissions(to, meta.permissions())?;
    } else if meta.is_file() {
        fs_err::copy(from, to)?;
    }
    Ok(())
}
