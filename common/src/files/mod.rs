//! Pandora's own files, decoded from ACL into typed values with field-level errors.

mod manifest;
mod pin;

pub use manifest::Manifest;
pub use pin::{Pin, PinError};

/// An error in one of Pandora's files: where it is and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{origin}:{line}:{col}: {what}")]
pub struct FileError {
    /// The file's name as the user knows it (`manifest.acl`, a path, `index/<name>.acl`).
    pub origin: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// What is wrong, starting with the field or block it concerns.
    pub what: String,
}
