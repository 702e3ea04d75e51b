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
