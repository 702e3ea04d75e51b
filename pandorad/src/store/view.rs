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
    /// What its directory looked like when read: a change means a second look.
    pub(super) stamp: DirStamp,
}

/// A directory's mtime, ctime and inode: one `stat`, and different after anyone adds,
/// removes, renames or replaces something in it, changes its mode, or replaces it. An entry is
/// read-only, so a changed file in it needs a `chmod` first; that is left to `pandora verify`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DirStamp(pub(super) [i64; 5]);

impl DirStamp {
    fn at(dir: &rustix::fd::OwnedFd, rel: &str) -> Option<DirStamp> {
        let st = rustix::fs::statat(dir, rel, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).ok()?;
        if st.st_mode & libc_mode::S_IFMT != libc_mode::S_IFDIR {
            return None;
        }
        Some(DirStamp([
            st.st_mtime,
            st.st_mtime_nsec as i64,
            st.st_ctime,
            st.st_ctime_nsec as i64,
            st.st_ino as i64,
        ]))
    }
}

impl DirStamp {
    /// This stamp, or one that no directory's matches when the directory changed in the last
    /// [`RECENT`]: a change within the same clock tick as the look would leave the mtime as
    /// it was (file times come from a clock that moves in ticks of up to 10 ms), so a look
    /// that recent is not trusted the next time. Times with no fraction of a second come from
    /// a file system that keeps whole seconds (or two), where the window is [`RECENT_COARSE`].
    /// Compare what `at` returns with a kept stamp, never two kept stamps.
    fn unless_recent(self) -> DirStamp {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        let changed = ns(self.0[0], self.0[1]).max(ns(self.0[2], self.0[3]));
        let mut s = self;
        let window = if self.0[1] == 0 && self.0[3] == 0 {
            RECENT_COARSE
        } else {
            RECENT
        };
        if now - changed < window.as_nanos() as i128 {
            s.0[4] = -1;
        }
        s
    }
}

/// How long after a directory changed a stamp of it is not trusted: ten clock ticks.
const RECENT: std::time::Duration = std::time::Duration::from_millis(100);
/// The same on file systems that keep whole seconds (FAT keeps two).
const RECENT_COARSE: std::time::Duration = std::time::Duration::from_secs(3);

/// The file type bits of `st_mode`.
mod libc_mode {
    pub(super) const S_IFMT: u32 = 0o170_000;
    pub(super) const S_IFDIR: u32 = 0o040_000;
}

/// `name/version`, an entry's directory relative to the store, written into `buf`.
fn entry_rel<'b>(buf: &'b mut String, name: &str, version: &str) -> &'b str {
    buf.clear();
    buf.push_str(name);
    buf.push('/');
    buf.push_str(version);
    buf
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
    /// `name` -> the range of `entries` that holds its versions.
    by_name: HashMap<String, std::ops::Range<usize>>,
    /// Each `store/<name>` directory's stamp when its versions were listed, and that list.
    pub(super) names: HashMap<String, (DirStamp, Vec<String>)>,
    /// When the daemon's start-up looked at the store for this view (`None` for later
    /// views, which readers look at again).
    loaded: Option<std::time::Instant>,
}

/// What one `store/<name>` directory holds now.
#[derive(Default)]
struct NameScan {
    name: String,
    /// Listing and entries as the previous view has them: the other fields are left empty.
    same: bool,
    stamp: DirStamp,
    versions: Vec<String>,
    found: Vec<Result<Arc<Installed>, Damaged>>,
    /// Entries read from disk (not taken from the previous view).
    read: usize,
    /// Whether the listing is kept under a new stamp.
    relisted: bool,
}

impl StoreView {
    /// Reads the store, starting from `cache/store-index` when it is there: only entries
    /// whose directory changed since it was written are read. Entries that cannot be read
    /// are listed in `damaged`, with why.
    pub(crate) fn load(layout: &Layout) -> StoreView {
        let index = super::index::read(layout);
        let from_index = index.as_ref().map_or(0, |v| v.entries.len());
        let index = index.unwrap_or_default();
        let (mut view, read) = match index.look(layout) {
            Some(changed) => changed,
            None => (index, 0),
        };
        tracing::info!(
            entries = view.entries.len(),
            damaged = view.damaged.len(),
            from_index,
            read,
            "store loaded"
        );
        view.loaded = Some(std::time::Instant::now());
        view
    }

    pub(super) fn from_parts(
        mut entries: Vec<Arc<Installed>>,
        mut damaged: Vec<Damaged>,
        names: HashMap<String, (DirStamp, Vec<String>)>,
    ) -> StoreView {
        let order = |a: &Arc<Installed>, b: &Arc<Installed>| {
            a.manifest.name.cmp(&b.manifest.name).then_with(|| {
                pandora_common::files::compare_versions(&a.manifest.version, &b.manifest.version)
            })
        };
        // A refresh scans the names in order: usually nothing is left to sort.
        if !entries.is_sorted_by(|a, b| order(a, b).is_le()) {
            entries.sort_by(order);
        }
        let mut by_name: HashMap<String, std::ops::Range<usize>> =
            HashMap::with_capacity(entries.len());
        let mut start = 0;
        for i in 1..=entries.len() {
            if i == entries.len() || entries[i].manifest.name != entries[start].manifest.name {
                by_name.insert(entries[start].manifest.name.clone(), start..i);
                start = i;
            }
        }
        damaged.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| pandora_common::files::compare_versions(&a.version, &b.version))
        });
        StoreView {
            entries,
            damaged,
            by_name,
            names,
            loaded: None,
        }
    }

    /// The store as it is now: a `stat` of each `store/<name>` directory (listed again only
    /// when it changed) and of each entry's directory (read again only when it changed or is
    /// new). Pandora never changes an entry, but a person may: a deleted version disappears,
    /// a deleted manifest makes the entry damaged. When anything was read, the new view is
    /// saved as the store index for the next start. `None` when nothing changed: this view
    /// is the store as it is.
    pub(crate) fn refresh(&self, layout: &Layout) -> Option<StoreView> {
        self.look(layout).map(|(view, _)| view)
    }

    /// [`StoreView::refresh`], and how many entries it read from disk.
    fn look(&self, layout: &Layout) -> Option<(StoreView, usize)> {
        let store = layout.store();
        let (Ok(dir), Ok(names)) = (
            rustix::fs::open(
                &store,
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY,
                rustix::fs::Mode::empty(),
            ),
            fs_err::read_dir(&store),
        ) else {
            return Some((StoreView::default(), 0));
        };
        let mut names: Vec<String> = names
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort_unstable();
        let one = |name: &String| self.scan_name(&dir, &store, name);
        // Spread over the cores (a thread that cannot be started leaves its share to this
        // one).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let chunk = names.len().div_ceil(threads).max(64);
        let scans: Vec<NameScan> = std::thread::scope(|s| {
            let handles: Vec<_> = names
                .chunks(chunk)
                .map(|part| {
                    std::thread::Builder::new()
                        .spawn_scoped(s, move || part.iter().filter_map(one).collect::<Vec<_>>())
                        .map_err(|_| part)
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| match h {
                    Ok(h) => h.join().unwrap_or_default(),
                    Err(part) => part.iter().filter_map(one).collect(),
                })
                .collect()
        });
        if scans.len() == self.names.len() && scans.iter().all(|s| s.same) {
            // The same names, and each as this view has it.
            return None;
        }
        let mut entries = Vec::with_capacity(self.entries.len());
        let mut damaged = Vec::new();
        let mut listings = HashMap::with_capacity(scans.len());
        let (mut read, mut relisted) = (0, false);
        for mut scan in scans {
            if scan.same {
                // Taken from this view as it is.
                entries.extend(self.stored(&scan.name).iter().cloned());
                (scan.stamp, scan.versions) =
                    self.names.get(&scan.name).cloned().unwrap_or_default();
            }
            read += scan.read;
            relisted |= scan.relisted;
            for r in scan.found {
                match r {
                    Ok(e) => entries.push(e),
                    Err(d) => damaged.push(d),
                }
            }
            listings.insert(scan.name, (scan.stamp, scan.versions));
        }
        let changed = read > 0 || relisted || entries.len() != self.entries.len();
        let view = StoreView::from_parts(entries, damaged, listings);
        if changed {
            super::index::write(layout, &view);
        }
        Some((view, read))
    }

    /// One `store/<name>`: its versions (listed again only if its directory changed), each
    /// taken from this view if its directory did not change, else read.
    fn scan_name(
        &self,
        dir: &rustix::fd::OwnedFd,
        store: &Path,
        name: &String,
    ) -> Option<NameScan> {
        let now = DirStamp::at(dir, name)?;
        let known = self.names.get(name);
        if let Some((stamp, versions)) = known
            && *stamp == now
        {
            // The listing is as kept: if every version is an entry whose directory is as
            // kept, nothing is taken apart and put together again.
            let stored = self.stored(name);
            let mut rel = String::new();
            let same = stored.len() == versions.len()
                && stored.iter().all(|e| {
                    versions.contains(&e.manifest.version)
                        && DirStamp::at(dir, entry_rel(&mut rel, name, &e.manifest.version))
                            == Some(e.stamp)
                });
            if same {
                return Some(NameScan {
                    name: name.clone(),
                    same: true,
                    ..NameScan::default()
                });
            }
        }
        let versions = match known {
            Some((stamp, versions)) if *stamp == now => versions.clone(),
            _ => fs_err::read_dir(store.join(name))
                .ok()?
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect(),
        };
        let stamp = now.unless_recent();
        // A listing kept under a new stamp is saved, even when nothing in it changed.
        let relisted = known.is_none_or(|(k, _)| *k != stamp);
        let mut read = 0;
        let known = self.stored(name);
        let mut rel = String::new();
        let mut found = versions
            .iter()
            .map(|v| {
                let rel = entry_rel(&mut rel, name, v);
                if let Some(known) = known.iter().find(|e| e.manifest.version == *v)
                    && DirStamp::at(dir, rel) == Some(known.stamp)
                {
                    return Ok(known.clone());
                }
                read += 1;
                let path = store.join(rel);
                read_entry(dir, rel, &path, name, v)
                    .map(Arc::new)
                    .map_err(|reason| {
                        tracing::warn!(path = %path.display(), %reason, "damaged store entry");
                        Damaged {
                            name: name.clone(),
                            version: v.clone(),
                            reason,
                        }
                    })
            })
            .collect::<Vec<_>>();
        fn version(r: &Result<Arc<Installed>, Damaged>) -> &str {
            match r {
                Ok(e) => &e.manifest.version,
                Err(d) => &d.version,
            }
        }
        found.sort_by(|a, b| pandora_common::files::compare_versions(version(a), version(b)));
        Some(NameScan {
            name: name.clone(),
            same: false,
            stamp,
            versions,
            found,
            read,
            relisted,
        })
    }

    /// Whether this is the view the daemon's start-up took, less than `age` ago: the first
    /// command, which usually started the daemon, need not look again.
    pub(crate) fn loaded_within(&self, age: std::time::Duration) -> bool {
        self.loaded.is_some_and(|t| t.elapsed() < age)
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
        self.stored(name)
            .iter()
            .find(|e| e.manifest.version == version)
            .map(|e| &**e)
    }

    /// The stored versions of `name`, oldest first, as shared entries.
    fn stored(&self, name: &str) -> &[Arc<Installed>] {
        self.by_name
            .get(name)
            .map_or(&[], |r| &self.entries[r.clone()])
    }

    /// Every stored version of `name`, oldest first.
    pub(crate) fn versions(&self, name: &str) -> Vec<&Installed> {
        self.stored(name).iter().map(|e| &**e).collect()
    }

    /// Bytes of all installed files.
    pub(crate) fn bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
}

fn read_entry(
    store: &rustix::fd::OwnedFd,
    rel: &str,
    dir: &Path,
    name: &str,
    version: &str,
) -> Result<Installed, String> {
    let meta = fs_err::symlink_metadata(dir).map_err(|e| e.to_string())?;
    if meta.file_type().is_symlink() {
        return Err("the entry is a symbolic link, not a directory".into());
    }
    if !meta.is_dir() {
        return Err("the entry is a file, not a directory".into());
    }
    let chain = |e: EntryError| pandora_common::error_chain(&e, ": ");
    let stamp = DirStamp::at(store, rel);
    let manifest = entry::read_manifest(dir).map_err(chain)?;
    if manifest.name != name || manifest.version != version {
        return Err(format!(
            "its manifest says it is {}@{}",
            manifest.name, manifest.version
        ));
    }
    let list = super::lists::peek(dir).map_err(chain)?;
    let stamp = stamp
        .filter(|s| DirStamp::at(store, rel).as_ref() == Some(s))
        .ok_or("the entry changed while it was read")?
        .unless_recent();
    Ok(Installed {
        size: list.total_size(),
        files: list
            .files
            .iter()
            .filter(|f| matches!(f.kind, pandora_common::files::FileKind::File { .. }))
            .count() as u64,
        origin: entry::origin(&manifest),
        manifest,
        stamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stamp of a directory changed `ago`, with the fraction of a second kept or (`whole`)
    /// dropped as a file system of whole seconds would.
    fn stamp_at(ago: std::time::Duration, whole: bool) -> DirStamp {
        let t = (std::time::SystemTime::now() - ago)
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        let nanos = if whole {
            0
        } else {
            i64::from(t.subsec_nanos().max(1))
        };
        let secs = t.as_secs() as i64;
        DirStamp([secs, nanos, secs, nanos, 42])
    }

    #[test]
    fn a_stamp_is_trusted_only_once_its_directory_is_older_than_a_few_clock_ticks() {
        use std::time::Duration;
        // Fine-grained times: 100 ms.
        assert_eq!(stamp_at(Duration::ZERO, false).unless_recent().0[4], -1);
        assert_eq!(
            stamp_at(Duration::from_millis(500), false)
                .unless_recent()
                .0[4],
            42
        );
        // Whole seconds: three of them, since a change later in the same second keeps the
        // same time (a second ago, floored, is one to two seconds ago).
        assert_eq!(
            stamp_at(Duration::from_secs(1), true).unless_recent().0[4],
            -1
        );
        assert_eq!(
            stamp_at(Duration::from_secs(5), true).unless_recent().0[4],
            42
        );
    }
}
