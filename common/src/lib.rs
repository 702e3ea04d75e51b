//! Pandora's shared core: the ACL configuration language ([`acl`]), the typed files Pandora
//! reads and writes ([`files`]), where they live ([`layout`]), and the deterministic `.pkg`
//! archive format ([`pkg`]). It does
//! no I/O beyond the files and streams it is handed, and it never prints.

pub mod acl;
mod atomic;
mod failpoint;
pub mod files;
pub mod hash;
pub mod layout;
pub mod pkg;

pub use atomic::write_atomic;
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
