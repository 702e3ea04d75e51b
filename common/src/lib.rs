//! Pandora's shared core: the typed files Pandora reads and writes ([`files`]), where they
//! live ([`layout`]), streamed hashing ([`hash`]) and the deterministic `.pkg` archive format
//! ([`pkg`]). The ACL language itself is the `pandora-acl` crate, re-exported as [`acl`]. It
//! does no I/O beyond the files and streams it is handed, and it never prints.

pub use pandora_acl as acl;

mod atomic;
mod failpoint;
pub mod files;
pub mod hash;
pub mod layout;
pub mod pkg;
pub mod pool;
pub mod sign;

pub use atomic::{replace_unsynced, sync_dir, write_atomic};
pub use failpoint::failpoint;

/// Whether `fd` is on tmpfs or ramfs: its pages live in memory, reads never wait for a disk
/// and there is no write-back to start.
pub fn lives_in_memory(fd: impl rustix::fd::AsFd) -> bool {
    rustix::fs::fstatfs(fd).is_ok_and(|fs| in_memory(&fs))
}

/// [`lives_in_memory`] of the file system that holds `path`.
pub fn path_lives_in_memory(path: &std::path::Path) -> bool {
    rustix::fs::statfs(path).is_ok_and(|fs| in_memory(&fs))
}

fn in_memory(fs: &rustix::fs::StatFs) -> bool {
    const TMPFS_MAGIC: u32 = 0x0102_1994;
    const RAMFS_MAGIC: u32 = 0x8584_58f6;
    // `f_type` is signed, 32 or 64 bits wide by target; the magic numbers are 32 bits.
    #[allow(clippy::unnecessary_cast)]
    let magic = fs.f_type as u32;
    magic == TMPFS_MAGIC || magic == RAMFS_MAGIC
}

/// `error` and its chain of causes, joined by `separator` (`": "` for one line, `"\ncause: "`
/// for one cause per line), so nested errors keep their file, line and column when shown.
pub fn error_chain(error: &dyn std::error::Error, separator: &str) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(separator);
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
