//! Opening files without following a symlink in the last component, with `O_NOFOLLOW` as the
//! platform defines it (its value differs between architectures, so it comes from rustix).

use std::io;
use std::path::Path;

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
