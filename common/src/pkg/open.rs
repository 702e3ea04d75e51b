//! Opening files without following a symlink in the last component, with `O_NOFOLLOW` as the
//! platform defines it (its value differs between architectures, so it comes from rustix).

use std::io;
use std::path::Path;
use std::sync::OnceLock;

use fs_err as fs;
use fs_err::os::unix::fs::OpenOptionsExt;
use rustix::fs::OFlags;

/// `O_NOFOLLOW` for `OpenOptionsExt::custom_flags`, which takes the C `int`.
fn nofollow() -> i32 {
    i32::try_from(OFlags::NOFOLLOW.bits()).expect("O_NOFOLLOW fits in a C int")
}

/// Opens `path` for reading; fails if it is a symlink.
pub(crate) fn open_nofollow(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(nofollow())
        .open(path)
}

/// Creates `path` with `mode` (before the umask); fails if anything, a symlink included,
/// already exists there.
pub(crate) fn create_nofollow(path: &Path, mode: u32) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(nofollow())
        .mode(mode)
        .open(path)
}

/// The process umask, read once from `/proc/self/status` (`umask(2)` would change it while
/// other threads create files); `None` when the kernel does not say. The processes that
/// unpack (the daemon, the tools) never change their umask; only the sandbox's child sets its
/// own.
fn umask() -> Option<u32> {
    static UMASK: OnceLock<Option<u32>> = OnceLock::new();
    *UMASK.get_or_init(|| {
        let status = fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
        u32::from_str_radix(line.trim(), 8).ok()
    })
}

/// Whether a file or directory created with `mode` gets exactly `mode`: the umask clears none
/// of its bits, so no `chmod` has to follow.
pub(crate) fn umask_keeps(mode: u32) -> bool {
    umask().is_some_and(|mask| mask & mode == 0)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn the_umask_is_read_without_changing_it() {
        let mask = umask().expect("Linux reports the umask");
        assert_eq!(mask & !0o777, 0);
        // Unchanged: a file created now gets the bits the mask leaves.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        drop(create_nofollow(&path, 0o666).unwrap());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !mask);
        assert_eq!(umask_keeps(0o444), mask & 0o444 == 0);
    }
}
