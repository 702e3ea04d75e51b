//! The parsed `files.acl` of store entries, kept by the daemon between uses: an install
//! leaves the lists it wrote here, the store's refresh counts files from them and an
//! activation builds its links from them, so a list is parsed at most once.
//!
//! Invariant: a kept list is used only while its `files.acl` is the file it was parsed
//! from or written to (same inode, size, mtime and ctime: one `stat`), so an entry removed
//! and installed again, or edited by hand, is read again. Store entries never change
//! otherwise. The list of an entry the daemon removes is forgotten then, those of entries
//! deleted by hand at the next activation, and at most [`MAX_RECORDS`] records are kept in
//! all.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pandora_common::files::FileList;

use super::entry;

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

/// The file list of the store entry at `dir`, parsed once while it stays the same.
pub(crate) fn file_list(dir: &Path) -> Result<Arc<FileList>, entry::EntryError> {
    let stamp = Stamp::of(&entry::file_list_path(dir));
    if let Some(list) = kept(dir, stamp) {
        return Ok(list);
    }
    let list = Arc::new(entry::read_file_list(dir)?);
    if let Some(stamp) = stamp {
        keep(dir, stamp, &list);
    }
    Ok(list)
}

/// The file list of the store entry at `dir`: the kept one while it is current, else read
/// without keeping it (a scan of the whole store must not fill the daemon's memory).
pub(crate) fn peek(dir: &Path) -> Result<Arc<FileList>, entry::EntryError> {
    match kept(dir, Stamp::of(&entry::file_list_path(dir))) {
        Some(list) => Ok(list),
        None => entry::read_file_list(dir).map(Arc::new),
    }
}

/// Keeps `list`, just written as the `files.acl` of the store entry at `dir`, so that
/// nothing parses it again.
pub(crate) fn remember(dir: &Path, list: Arc<FileList>) {
    if let Some(stamp) = Stamp::of(&entry::file_list_path(dir)) {
        keep(dir, stamp, &list);
    }
}

fn kept(dir: &Path, stamp: Option<Stamp>) -> Option<Arc<FileList>> {
    let stamp = stamp?;
    let guard = lock();
    let (known, list) = guard.as_ref()?.lists.get(dir)?;
    (*known == stamp).then(|| list.clone())
}

fn keep(dir: &Path, stamp: Stamp, list: &Arc<FileList>) {
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

/// Forgets the list of the store entry at `dir` (it is being removed).
pub(crate) fn forget(dir: &Path) {
    if let Some(cache) = lock().as_mut()
        && let Some((_, list)) = cache.lists.remove(dir)
    {
        cache.records -= list.files.len();
    }
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

    #[test]
    fn a_list_an_install_wrote_is_used_as_it_is_and_a_peek_keeps_nothing() {
        let t = tempfile::tempdir().unwrap();
        let (written, other) = (t.path().join("store/a/1"), t.path().join("store/b/1"));
        let list = FileList {
            files: vec![pandora_common::files::FileRecord {
                path: "files/bin".to_string(),
                kind: pandora_common::files::FileKind::Dir,
                mode: 0o755,
            }],
        };
        for dir in [&written, &other] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(entry::file_list_path(dir), list.to_source()).unwrap();
        }
        let kept = Arc::new(list.clone());
        remember(&written, kept.clone());
        assert!(
            Arc::ptr_eq(&peek(&written).unwrap(), &kept),
            "not parsed again"
        );
        assert!(Arc::ptr_eq(&file_list(&written).unwrap(), &kept));
        // Read, not kept: a scan of the whole store leaves the cache as it was.
        assert_eq!(*peek(&other).unwrap(), list);
        assert!(
            lock()
                .as_ref()
                .is_some_and(|c| !c.lists.contains_key(&other))
        );
        // Edited by hand after the install: read again.
        let edited = FileList { files: Vec::new() };
        std::fs::remove_file(entry::file_list_path(&written)).unwrap();
        std::fs::write(entry::file_list_path(&written), edited.to_source()).unwrap();
        assert_eq!(*peek(&written).unwrap(), edited);
        // Removed by the daemon: forgotten at once.
        forget(&written);
        assert!(
            lock()
                .as_ref()
                .is_some_and(|c| !c.lists.contains_key(&written))
        );
    }
}
