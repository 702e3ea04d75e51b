//! The store, `store/<name>/<version>/`. Invariant: an entry is visible only after every check
//! passed: it appears by one rename out of `tmp/`, complete with `manifest.acl` (holding the
//! verified `archive_sha256`), `files/` and `files.acl`. This module reads it; `install` is
//! the only writer.

use std::collections::HashMap;
use std::path::Path;

use pandora_common::files::{FileList, Manifest};
use pandora_common::layout::Layout;

/// One installed package, as the read snapshot keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Installed {
    pub(crate) manifest: Manifest,
    pub(crate) size: u64,
    pub(crate) files: u64,
}

/// Everything in the store, sorted by name then version.
#[derive(Debug, Clone, Default)]
pub(crate) struct StoreView {
    pub(crate) entries: Vec<Installed>,
    /// `name` -> `version` -> index in `entries`.
    by_pin: HashMap<String, HashMap<String, usize>>,
}

impl StoreView {
    /// Reads the store. Entries whose metadata cannot be read are skipped with a warning
    /// (`pandora verify` reports them).
    pub(crate) fn load(layout: &Layout) -> StoreView {
        StoreView::default().refresh(layout)
    }

    /// The store as it is now, re-reading only entries this view does not have: entries are
    /// immutable once they appear, so a known `name@version` needs no second look.
    pub(crate) fn refresh(&self, layout: &Layout) -> StoreView {
        let mut entries = Vec::new();
        let Ok(names) = std::fs::read_dir(layout.store()) else {
            return StoreView::default();
        };
        for name in names.flatten() {
            let Ok(versions) = std::fs::read_dir(name.path()) else {
                continue;
            };
            for version in versions.flatten() {
                let (n, v) = (name.file_name(), version.file_name());
                if let Some(known) = self.get(&n.to_string_lossy(), &v.to_string_lossy()) {
                    entries.push(known.clone());
                    continue;
                }
                match read_entry(&version.path()) {
                    Ok(e) => entries.push(e),
                    Err(e) => {
                        tracing::warn!(path = %version.path().display(), error = %e, "unreadable store entry")
                    }
                }
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
        StoreView { entries, by_pin }
    }

    /// The entry for `name@version`.
    pub(crate) fn get(&self, name: &str, version: &str) -> Option<&Installed> {
        self.by_pin
            .get(name)?
            .get(version)
            .map(|&i| &self.entries[i])
    }

    /// Bytes of all installed files.
    pub(crate) fn bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
}

fn read_entry(dir: &Path) -> anyhow::Result<Installed> {
    let manifest_path = dir.join("manifest.acl");
    let manifest = Manifest::parse(
        &std::fs::read_to_string(&manifest_path)?,
        &manifest_path.display().to_string(),
    )?;
    let list_path = dir.join("files.acl");
    let list = FileList::parse(
        &std::fs::read_to_string(&list_path)?,
        &list_path.display().to_string(),
    )?;
    Ok(Installed {
        size: list.total_size(),
        files: list.files.len() as u64,
        manifest,
    })
}
