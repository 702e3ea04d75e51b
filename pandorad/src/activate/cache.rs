//! The parsed `files.acl` of store entries, kept by the daemon between activations.
//!
//! Invariant: a cached list is used only while its `files.acl` is the file it was parsed
//! from (same inode, size, mtime and ctime: one `stat`), so an entry removed and installed
//! again, or edited by hand, is read again. Store entries never change otherwise, so one
//! parse serves every later activation. The cache forgets lists of entries that are gone
//! from the store and holds at most [`MAX_RECORDS`] records in all.
//!
//! It also keeps the plan of the last generation built in each profile, so the next one
//! knows which links it can share without reading them back. A plan is used only while
//! every real directory of its generation has the times it had when the generation was
//! placed (one `stat` per directory): a link made, removed or replaced by hand changes them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pandora_common::files::FileList;

use super::forest::{self, Node};
use crate::store::entry;

/// Records kept in all; past it the cache starts again (one huge package must not stay in
/// an idle daemon's memory).
const MAX_RECORDS: usize = 200_000;

/// What `files.acl` looked like when it was parsed.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let m = fs_err::metadata(path).ok()?;
        Some(Stamp {
            ino: m.ino(),
            size: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

#[derive(Default)]
struct Cache {
    lists: HashMap<PathBuf, (Stamp, Arc<FileList>)>,
    records: usize,
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

/// A generation's directory -> its plan and the stamps of its directories.
type Plans = HashMap<PathBuf, (Vec<[i64; 5]>, Arc<Node>)>;

static PLANS: Mutex<Option<Plans>> = Mutex::new(None);

/// Remembers the plan of the generation just placed at `dir`, in place of any other
/// generation of its profile.
pub(crate) fn keep_plan(dir: &Path, plan: Node) {
    let Some(stamps) = forest::stamps(&plan, dir) else {
        return;
    };
    let mut plans = PLANS.lock().unwrap_or_else(|e| e.into_inner());
    let plans = plans.get_or_insert_with(HashMap::new);
    plans.retain(|d, _| d.parent() != dir.parent());
    plans.insert(dir.to_path_buf(), (stamps, Arc::new(plan)));
}

/// The plan of the generation at `dir`, if it was kept and the generation is unchanged.
pub(crate) fn plan_of(dir: &Path) -> Option<Arc<Node>> {
    let (stamps, plan) = PLANS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()?
        .get(dir)
        .cloned()?;
    (forest::stamps(&plan, dir)? == stamps).then_some(plan)
}

/// The file list of the store entry at `dir`, parsed once while it stays the same.
pub(crate) fn file_list(dir: &Path) -> Result<Arc<FileList>, entry::EntryError> {
    let stamp = Stamp::of(&entry::file_list_path(dir));
    if let Some(stamp) = stamp
        && let Some((known, list)) = lock().as_ref().and_then(|c| c.lists.get(dir))
        && *known == stamp
    {
        return Ok(list.clone());
    }
    let list = Arc::new(entry::read_file_list(dir)?);
    if let Some(stamp) = stamp {
        let mut guard = lock();
        let cache = guard.get_or_insert_with(Cache::default);
        if cache.records + list.files.len() > MAX_RECORDS {
            *cache = Cache::default();
        }
        cache.records += list.files.len();
        if let Some((_, old)) = cache.lists.insert(dir.to_path_buf(), (stamp, list.clone())) {
            cache.records -= old.files.len();
        }
    }
    Ok(list)
}

/// Forgets the lists of entries under `store` that `keep` no longer holds (removed entries).
pub(crate) fn retain(store: &Path, keep: impl Fn(&Path) -> bool) {
    if let Some(cache) = lock().as_mut() {
        let mut records = cache.records;
        cache.lists.retain(|dir, (_, list)| {
            let kept = !dir.starts_with(store) || keep(dir);
            if !kept {
                records -= list.files.len();
            }
            kept
        });
        cache.records = records;
    }
}

fn lock() -> std::sync::MutexGuard<'static, Option<Cache>> {
    // A panic while holding the lock leaves a consistent map (every insert is whole).
    CACHE.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_parsed_once_and_again_when_its_file_changes() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("store/a/1");
        std::fs::create_dir_all(&dir).unwrap();
        let path = entry::file_list_path(&dir);
        let dir_record = |p: &str| pandora_common::files::FileRecord {
            path: p.to_string(),
            kind: pandora_common::files::FileKind::Dir,
            mode: 0o755,
        };
        let one = FileList {
            files: vec![dir_record("files/bin")],
        };
        std::fs::write(&path, one.to_source()).unwrap();
        let first = file_list(&dir).unwrap();
        assert_eq!(*first, one);
        assert!(Arc::ptr_eq(&first, &file_list(&dir).unwrap()), "cached");
        // Removed and installed again: a new file, a new parse.
        std::fs::remove_file(&path).unwrap();
        let two = FileList {
            files: vec![dir_record("files/bin"), dir_record("files/lib")],
        };
        std::fs::write(&path, two.to_source()).unwrap();
        assert_eq!(*file_list(&dir).unwrap(), two);
        retain(&t.path().join("store"), |_| false);
        assert!(lock().as_ref().is_none_or(|c| !c.lists.contains_key(&dir)));
    }
}
