//! A pids cgroup for jobs started by root. The kernel counts `RLIMIT_NPROC` per real user
//! and never applies it to uid 0, user namespace or not, so a fork bomb run by root's
//! sandbox would be stopped only by its timeout, after it filled the machine's process table.
//! For root the job therefore runs in a cgroup of its own whose `pids.max` is the process
//! limit. (Other users need nothing more: their `RLIMIT_NPROC` holds.)
//!
//! The cgroup is `pandora-sandbox-<pid>` below the caller's own pids cgroup (cgroup v1's
//! `pids` hierarchy, or the unified hierarchy when it offers the pids controller); it is
//! removed when the job is over, and empty ones left by a crash are removed by the next
//! sandbox.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{AtFlags, Mode, OFlags};

/// A cgroup made for one job. It keeps a descriptor of the parent cgroup: the sandbox's init
/// pivots the mount namespace this process shares, after which no path reaches the cgroups.
pub(crate) struct PidsCgroup {
    name: String,
    parent: OwnedFd,
}

const PREFIX: &str = "pandora-sandbox-";

/// The caller's own pids cgroup directory.
fn own_cgroup() -> Option<PathBuf> {
    let table = fs_err::read_to_string("/proc/self/cgroup").ok()?;
    for line in table.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let rel = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "pids") {
            let dir = Path::new("/sys/fs/cgroup/pids").join(rel);
            return dir.join("cgroup.procs").exists().then_some(dir);
        }
        if controllers.is_empty() {
            let dir = Path::new("/sys/fs/cgroup").join(rel);
            let offered = fs_err::read_to_string(dir.join("cgroup.subtree_control")).ok()?;
            if offered.split_whitespace().any(|c| c == "pids") {
                return Some(dir);
            }
        }
    }
    None
}

impl PidsCgroup {
    /// Makes the cgroup with at most `max` processes and moves this process into it (so
    /// everything it starts is counted from the first fork); an error where no pids cgroup
    /// can be made.
    pub(crate) fn enter(max: u64) -> Result<PidsCgroup, String> {
        let parent = own_cgroup().ok_or("no pids cgroup to place the job in")?;
        sweep(&parent);
        let name = format!("{PREFIX}{}", std::process::id());
        let dir = parent.join(&name);
        fs_err::create_dir(&dir).map_err(|e| e.to_string())?;
        let parent_fd = rustix::fs::open(
            &parent,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("{}: {e}", parent.display()))?;
        let made = PidsCgroup {
            name,
            parent: parent_fd,
        };
        fs_err::write(dir.join("pids.max"), max.to_string()).map_err(|e| e.to_string())?;
        fs_err::write(dir.join("cgroup.procs"), "0").map_err(|e| e.to_string())?;
        Ok(made)
    }

    /// Writes "0" (this process) to `rel`'s `cgroup.procs`, below the parent cgroup.
    fn move_to(&self, rel: &str) -> rustix::io::Result<()> {
        let procs = rustix::fs::openat(
            &self.parent,
            rel,
            OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rustix::io::write(&procs, b"0").map(|_| ())
    }

    /// Moves this process back to where it was, leaving what it started in the cgroup.
    pub(crate) fn leave(&self) {
        let _ = self.move_to("cgroup.procs");
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        self.leave();
        // The job's processes die with its pid namespace, but not all at once.
        for _ in 0..100 {
            if rustix::fs::unlinkat(&self.parent, self.name.as_str(), AtFlags::REMOVEDIR).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Removes the empty cgroups that sandboxes which crashed left behind (a cgroup with
/// processes in it cannot be removed).
fn sweep(parent: &Path) {
    let Ok(entries) = fs_err::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // Only those of sandboxes that are gone: a live one may be between making its
        // cgroup and entering it.
        if let Some(pid) = name.strip_prefix(PREFIX)
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = fs_err::remove_dir(e.path());
        }
    }
}
