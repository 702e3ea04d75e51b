//! The read snapshot of the store: every entry's manifest and size, indexed by pin.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use pandora_common::files::Manifest;
use pandora_common::layout::Layout;

use super::entry::{self, EntryError};

/// One installed package, as the read snapshot keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Installed {
    pub(crate) manifest: Manifest,
    /// Bytes of its regular files.
    pub(crate) size: u64,
    /// Regular files in it (directories and links are not counted).
    pub(crate) files: u64,
    /// The registry it came from, or `local`; `None` for entries installed before the store
    /// recorded it.
    pub(crate) origin: Option<String>,
    /// What its metadata files looked like when read: a change means a second look.
    stamp: Stamp,
}

/// Size, mtime and inode of an entry's directory, `manifest.acl` and `files.acl`: cheap to
/// take (three `stat`s), and different after anyone edits, replaces or deletes them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp([(u64, i64, i64, u64); 3]);

impl Stamp {
    fn of(dir: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let one = |p: &Path| {
            fs_err::symlink_metadata(p)
                .ok()
                .map(|m| (m.len(), m.mtime(), m.mtime_nsec(), m.ino()))
        };
        Some(Stamp([
            one(dir)?,
            one(&entry::manifest_path(dir))?,
            one(&entry::file_list_path(dir))?,
        ]))
    }
}

/// A store entry that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Damaged {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) reason: String,
}

/// Everything in the store, sorted by name then version.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoreView {
    /// Shared between views: a refresh copies pointers, not manifests.
    pub(crate) entries: Vec<Arc<Installed>>,
    /// Entries whose directory or metadata is damaged, sorted by name then version.
    pub(crate) damaged: Vec<Damaged>,
    /// `name` -> `version` -> index in `entries`.
    by_pin: HashMap<String, HashMap<String, usize>>,
}

impl StoreView {
    /// Reads the store. Entries that cannot be read are listed in `damaged`, with why.
    pub(crate) fn load(layout: &Layout) -> StoreView {
        StoreView::default().refresh(layout)
    }

    /// The store as it is now, re-reading only entries that are new or whose metadata
    /// changed since this view read them (Pandora never changes an entry, but a person may:
    /// a deleted version disappears, an edited or deleted manifest makes the entry damaged).
    pub(crate) fn refresh(&self, layout: &Layout) -> StoreView {
        let Ok(names) = fs_err::read_dir(layout.store()) else {
            return StoreView::default();
        };
        let mut found: Vec<(String, String, std::path::PathBuf)> = Vec::new();
        for name in names.flatten() {
            let Ok(versions) = fs_err::read_dir(name.path()) else {
                continue;
            };
            let n = name.file_name().to_string_lossy().into_owned();
            for version in versions.flatten() {
                let v = version.file_name().to_string_lossy().into_owned();
                found.push((n.clone(), v, version.path()));
            }
        }
        // Each entry is a few stats, or a read of its manifest and file list: spread over
        // the cores (a thread that cannot be started leaves its share to this one).
        let one = |(n, v, path): &(String, String, std::path::PathBuf)| {
            if let Some(known) = self.get(n, v)
                && Stamp::of(path).as_ref() == Some(&known.stamp)
            {
                return Ok(self.entries[self.by_pin[n.as_str()][v.as_str()]].clone());
            }
            read_entry(path, n, v).map(Arc::new).map_err(|reason| {
                tracing::warn!(path = %path.display(), %reason, "damaged store entry");
                Damaged {
                    name: n.clone(),
                    version: v.clone(),
                    reason,
                }
            })
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let chunk = found.len().div_ceil(threads).max(64);
        let results: Vec<Result<Arc<Installed>, Damaged>> = std::thread::scope(|s| {
            let handles: Vec<_> = found
                .chunks(chunk)
                .map(|part| {
                    std::thread::Builder::new()
                        .spawn_scoped(s, move || part.iter().map(one).collect::<Vec<_>>())
                        .map_err(|_| part)
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| match h {
                    Ok(h) => h.join().unwrap_or_default(),
                    Err(part) => part.iter().map(one).collect(),
                })
                .collect()
        });
        let mut entries = Vec::with_capacity(results.len());
        let mut damaged = Vec::new();
        for r in results {
            match r {
                Ok(e) => entries.push(e),
                Err(d) => damaged.push(d),
            }
        }
        entries.sort_by(|a, b| {
            a.manifest.name.cmp(&b.manifest.name).then_with(|| {
                pandora_common::files::compare_versions(&a.manifest.version, &b.manifest.version)
            })
        });
        let mut by_pin: HashMap<String, HashMap<String, usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            by_pin
                .entry(e.manifest.name.clone())
                .or_default()
                .insert(e.manifest.version.clone(), i);
        }
        damaged.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| pandora_common::files::compare_versions(&a.version, &b.version))
        });
        StoreView {
            entries,
            damaged,
            by_pin,
        }
    }

    /// Why `name@version` is damaged, if it is.
    pub(crate) fn damage(&self, name: &str, version: &str) -> Option<&str> {
        self.damaged
            .iter()
            .find(|d| d.name == name && d.version == version)
            .map(|d| d.reason.as_str())
    }

    /// The entry for `name@version`.
    pub(crate) fn get(&self, name: &str, version: &str) -> Option<&Installed> {
        self.by_pin
            .get(name)?
            .get(version)
            .map(|&i| &*self.entries[i])
    }

    /// Every stored version of `name`, oldest first.
    pub(crate) fn versions(&self, name: &str) -> Vec<&Installed> {
        let mut v: Vec<&Installed> = self
            .by_pin
            .get(name)
            .map(|m| m.values().map(|&i| &*self.entries[i]).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| {
            pandora_common::files::compare_versions(&a.manifest.version, &b.manifest.version)
        });
        v
    }

    /// Bytes of all installed files.
    pub(crate) fn bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
}

fn read_entry(dir: &Path, name: &str, version: &str) -> Result<Installed, String> {
    let meta = fs_err::symlink_metadata(dir).map_err(|e| e.to_string())?;
    if meta.file_type().is_symlink() {
        return Err("the entry is a symbolic link, not a directory".into());
    }
    if !meta.is_dir() {
        return Err("the entry is a file, not a directory".into());
    }
    let chain = |e: EntryError| pandora_common::error_chain(&e, ": ");
    let stamp = Stamp::of(dir);
    let manifest = entry::read_manifest(dir).map_err(chain)?;
    if manifest.name != name || manifest.version != version {
        return Err(format!(
            "its manifest says it is {}@{}",
            manifest.name, manifest.version
        ));
    }
    let list = entry::read_file_list(dir).map_err(chain)?;
    Ok(Installed {
        size: list.total_size(),
        files: list
            .files
            .iter()
            .filter(|f| matches!(f.kind, pandora_common::files::FileKind::File { .. }))
            .count() as u64,
        origin: entry::origin(&manifest),
        manifest,
        stamp: stamp.ok_or("the entry changed while it was read")?,
    })
}
