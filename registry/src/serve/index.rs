//! The parsed `index.acl`, re-read only when `snapshot.acl` changes. `snapshot.acl` is the
//! last file an update writes, so a new snapshot means the index is complete; an index read a
//! moment before its snapshot is only ever newer than the key it is cached under, and the next
//! request, seeing the new snapshot, reads it again.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::SystemTime;

use pandora_common::files::{Index, Pin};

use crate::repo::{Repo, RepoError};

/// `snapshot.acl`'s identity: inode, size and mtime.
type Key = (u64, u64, Option<SystemTime>);

/// One parsed index and the blob → version map derived from it.
pub(crate) struct Parsed {
    /// The whole index.
    pub(crate) index: Index,
    /// `name@version` of each blob, by sha256.
    pub(crate) by_sha256: HashMap<String, Pin>,
}

/// The cache.
#[derive(Default)]
pub(crate) struct IndexCache {
    current: Mutex<Option<(Key, Arc<Parsed>)>>,
}

impl IndexCache {
    /// The current index, parsed again only if `snapshot.acl` changed. Blocking I/O.
    pub(crate) fn get(&self, repo: &Repo) -> Result<Arc<Parsed>, RepoError> {
        let key = Self::key(repo)?;
        // Held while parsing, so a burst of requests after an update parses once.
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((k, parsed)) = current.as_ref()
            && *k == key
        {
            return Ok(Arc::clone(parsed));
        }
        let index = repo.index()?;
        let by_sha256 = index
            .packages
            .iter()
            .flat_map(|p| {
                p.versions.iter().map(|v| {
                    (
                        v.sha256.clone(),
                        Pin {
                            name: p.name.clone(),
                            version: v.version.clone(),
                        },
                    )
                })
            })
            .collect();
        let parsed = Arc::new(Parsed { index, by_sha256 });
        *current = Some((key, Arc::clone(&parsed)));
        Ok(parsed)
    }

    /// The index parsed before, if `snapshot.acl` is unchanged since: one `stat`, no parse,
    /// and no wait for a parse under way (`None` then).
    pub(crate) fn current(&self, repo: &Repo) -> Option<Arc<Parsed>> {
        let key = Self::key(repo).ok()?;
        let current = match self.current.try_lock() {
            Ok(current) => current,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        current
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, parsed)| Arc::clone(parsed))
    }

    /// `snapshot.acl`'s identity now.
    fn key(repo: &Repo) -> Result<Key, RepoError> {
        let snapshot = repo.dir().join("snapshot.acl");
        let meta = fs_err::metadata(&snapshot).map_err(|source| RepoError::Io {
            action: "cannot read",
            path: snapshot.clone(),
            source,
        })?;
        Ok((meta.ino(), meta.len(), meta.modified().ok()))
    }
}
