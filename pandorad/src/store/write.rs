//! Every write to `store/`: committing staged entries and removing entries.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pandora_common::files::{FileList, Pin};
use pandora_common::layout::Layout;

use crate::error::{Error, Result};

/// The failpoint variable: tests abort the daemon at a named step with it.
pub(crate) const FAILPOINT: &str = "PANDORA_FAILPOINT";

/// A package staged in `tmp/`, complete and checked, waiting for [`commit`].
#[derive(Debug, Clone)]
pub(crate) struct Staged {
    pub(crate) pin: Pin,
    pub(crate) dir: PathBuf,
    /// Its `files.acl` as written, kept once the entry is in the store.
    pub(crate) files: Option<Arc<FileList>>,
}

/// Moves every staged entry into the store: first everything staged reaches the disk
/// (`syncfs` of `tmp/`, skipped when `PANDORA_FSYNC=0`), then one rename per entry, then the
/// renames reach the disk (one more `syncfs`, where a sync of each name directory would
/// wait for the disk once per package). A crash in between leaves
/// some entries in the store, each complete, and the rest in `tmp/`, which the next start
/// clears. With `replace`, an entry already there (a damaged one being repaired) is removed
/// first, by [`remove`]'s one rename out of the store.
pub(crate) fn commit(layout: &Layout, staged: &[Staged], replace: bool) -> Result<()> {
    let sync = std::env::var("PANDORA_FSYNC").map_or(true, |v| v != "0");
    let tmp = layout.tmp();
    let tmp_dir = fs_err::File::open(&tmp).map_err(Error::io("open", &tmp))?;
    let sync_all = || -> Result<()> {
        if sync {
            rustix::fs::syncfs(&tmp_dir).map_err(|e| Error::io("sync", &tmp)(e.into()))?;
        }
        Ok(())
    };
    sync_all()?;
    for s in staged {
        let parent = layout.store().join(&s.pin.name);
        fs_err::create_dir_all(&parent).map_err(Error::io("create", &parent))?;
        let target = layout.store_entry(&s.pin.name, &s.pin.version);
        if replace && fs_err::symlink_metadata(&target).is_ok() {
            remove(layout, &s.pin)?;
            fs_err::create_dir_all(&parent).map_err(Error::io("create", &parent))?;
        }
        pandora_common::failpoint(FAILPOINT, "install-before-rename");
        fs_err::rename(&s.dir, &target).map_err(Error::io("move into the store", &target))?;
        if let Some(files) = &s.files {
            super::lists::remember(&target, Arc::clone(files));
        }
    }
    // The store is on the file system of `tmp/` (the renames above need it). The entries
    // are in the store now, whole: a failure here (which may come from another file's
    // write-back) cannot undo them, so it is logged rather than reported as a failed install.
    if let Err(e) = sync_all() {
        tracing::warn!(error = %e, "the store's renames may not be on disk yet");
    }
    Ok(())
}

/// Removes `pin` from the store (for `remove` and `install --repair`, which build on it): one rename out of `store/` into `tmp/` (so readers see the
/// entry whole or not at all, and a crash leaves only `tmp/` garbage), then the deletion.
pub(crate) fn remove(layout: &Layout, pin: &Pin) -> Result<()> {
    remove_then(layout, pin, |_| {})
}

/// [`remove`], calling `gone` with the entry's place in `tmp/` once it has left the store
/// and before it is deleted (for `postremove` hooks, which still see the package's files).
pub(crate) fn remove_then(layout: &Layout, pin: &Pin, gone: impl FnOnce(&Path)) -> Result<()> {
    let entry = layout.store_entry(&pin.name, &pin.version);
    let meta = fs_err::symlink_metadata(&entry).map_err(|_| Error::NotInStore(pin.clone()))?;
    let grave = tempfile::Builder::new()
        .prefix("remove-")
        .tempdir_in(layout.tmp())
        .map_err(Error::io("create a directory in", layout.tmp()))?
        .keep();
    let moved = grave.join("entry");
    fs_err::rename(&entry, &moved).map_err(Error::io("move out of the store", &entry))?;
    super::lists::forget(&entry);
    let parent = layout.store().join(&pin.name);
    let _ = pandora_common::sync_dir(&parent);
    pandora_common::failpoint(FAILPOINT, "remove-after-rename");
    // The name directory goes when its last version does; another version keeps it.
    let _ = fs_err::remove_dir(&parent);
    gone(&moved);
    if meta.is_dir() && !meta.file_type().is_symlink() {
        let _ = make_writable(&moved);
    }
    fs_err::remove_dir_all(&grave).map_err(Error::io("delete", &grave))
}

/// Clears what mutations stage in `tmp/` (`unpack-*`, `remove-*`, `generation-*`), after a
/// mutation ended:
/// mutations run one at a time, so whatever is left there belongs to none. Reads'
/// downloads (`download-*`) are theirs to clean.
pub(crate) fn clean_staging(layout: &Layout) {
    let Ok(entries) = fs_err::read_dir(layout.tmp()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if ["unpack-", "remove-", "generation-"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            tracing::info!(path = %e.path().display(), "removing staging left by a mutation");
            discard(&e.path());
        }
    }
}

/// Deletes a staged directory that will not be committed.
pub(crate) fn discard(dir: &Path) {
    let _ = make_writable(dir);
    let _ = fs_err::remove_dir_all(dir);
}

/// Store files are read-only; directories keep their owner write bit so the store can be
/// pruned later.
#[cfg(test)]
fn make_read_only(dir: &Path) -> std::io::Result<()> {
    set_write_bits(dir, false)
}

fn make_writable(dir: &Path) -> std::io::Result<()> {
    set_write_bits(dir, true)
}

fn set_write_bits(dir: &Path, writable: bool) -> std::io::Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            set_write_bits(&entry.path(), writable)?;
        } else if ft.is_file() {
            let mode = entry.metadata()?.permissions().mode();
            let mode = if writable { mode | 0o200 } else { mode & 0o555 };
            fs_err::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    fn staged(layout: &Layout, pin: &str) -> Staged {
        let pin = Pin::parse(pin).unwrap();
        let dir = layout.tmp().join(format!("stage-{pin}"));
        std::fs::create_dir_all(dir.join("files/bin")).unwrap();
        std::fs::write(dir.join("files/bin/tool"), b"#!/bin/sh\n").unwrap();
        make_read_only(&dir).unwrap();
        Staged {
            pin,
            dir,
            files: None,
        }
    }

    fn home() -> (tempfile::TempDir, Layout) {
        let t = tempfile::tempdir().unwrap();
        let layout = Layout::new(t.path());
        for d in layout.dirs() {
            std::fs::create_dir_all(d).unwrap();
        }
        (t, layout)
    }

    #[test]
    fn commit_then_remove_leaves_nothing_behind() {
        let (_t, layout) = home();
        let a = staged(&layout, "tool@1.0");
        let b = staged(&layout, "tool@2.0");
        commit(&layout, &[a, b], false).unwrap();
        let one = layout.store_entry("tool", "1.0");
        assert!(one.join("files/bin/tool").is_file());
        let mode = std::fs::metadata(one.join("files/bin/tool"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o222, 0, "store files are read-only");
        assert_eq!(std::fs::read_dir(layout.tmp()).unwrap().count(), 0);

        remove(&layout, &Pin::parse("tool@1.0").unwrap()).unwrap();
        assert!(!one.exists());
        assert!(
            layout.store_entry("tool", "2.0").is_dir(),
            "other versions stay"
        );
        remove(&layout, &Pin::parse("tool@2.0").unwrap()).unwrap();
        assert!(
            !layout.store().join("tool").exists(),
            "the empty name dir goes"
        );
        assert_eq!(std::fs::read_dir(layout.tmp()).unwrap().count(), 0);
    }

    #[test]
    fn removing_what_is_not_there_says_so() {
        let (_t, layout) = home();
        let e = remove(&layout, &Pin::parse("ghost@1").unwrap()).unwrap_err();
        assert_eq!(e.code(), crate::error::code::NOT_FOUND);
        assert_eq!(e.to_string(), "ghost@1 is not in the store");
    }

    #[test]
    fn discard_removes_read_only_staging() {
        let (_t, layout) = home();
        let s = staged(&layout, "tool@1.0");
        discard(&s.dir);
        assert!(!s.dir.exists());
    }
}
