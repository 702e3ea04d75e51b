//! `run/lock`: one daemon per Pandora home. The lock file holds the owner's pid so a second
//! daemon can say who is already running.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Held for the daemon's lifetime; the kernel releases it when the process dies.
pub(crate) struct DaemonLock {
    _file: File,
}

/// Takes the exclusive lock on `path` or explains who holds it.
pub(crate) fn acquire(path: &Path, home: &Path) -> Result<DaemonLock> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            let who = if pid.is_empty() {
                "another pandorad".to_string()
            } else {
                format!("pandorad (pid {pid})")
            };
            bail!(
                "{who} already serves {}; stop it first, or use it: pandora status",
                home.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    file.sync_all()?;
    Ok(DaemonLock { _file: file })
}
