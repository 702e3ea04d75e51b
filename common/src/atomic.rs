//! Replacing a file so that a crash leaves the old content or the new, never a mix: a temp
//! file in the same directory, synced, renamed over the target, then the directory synced.

use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `bytes` atomically, keeping the permissions of the file it replaces
/// (a new file gets the temp file's 0600). Errors name the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, true)
}

/// Replaces `path` with `bytes` by a rename, like [`write_atomic`] but without syncing: for
/// files that can be made again (caches, derived copies), where a crash may lose the new
/// content but never leaves a mix.
pub fn replace_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, false)
}

fn replace(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let named = |what: &str, e: io::Error| {
        io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".write-")
        .tempfile_in(dir)
        .map_err(|e| named("write next to", e))?;
    tmp.write_all(bytes).map_err(|e| named("write", e))?;
    if let Ok(meta) = fs_err::metadata(path) {
        tmp.as_file()
            .set_permissions(meta.permissions())
            .map_err(|e| named("set the permissions of", e))?;
    }
    if sync {
        tmp.as_file().sync_all().map_err(|e| named("sync", e))?;
    }
    tmp.persist(path)
        .map_err(|e| named("rename onto", e.error))?;
    if sync {
        sync_dir(dir).map_err(|e| named("sync the directory of", e))?;
    }
    Ok(())
}

/// Syncs the directory `dir` itself, so that renames and removals in it reach the disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs_err::File::open(dir).and_then(|d| d.sync_all())
}
