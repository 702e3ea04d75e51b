//! `files.acl`: every path of an installed package with its type, mode, size and sha256, so
//! `pandora verify` can find changed, missing and extra files.
//!
//! ```text
//! Files {
//!     File "files/bin/hello" { string type = "file"; string mode = "0755"; int size = 175; string sha256 = "…"; }
//!     File "files/lib" { string type = "dir"; string mode = "0755"; }
//!     File "files/lib/libx.so" { string type = "symlink"; string target = "libx.so.1"; }
//! }
//! ```

use super::FileError;
use super::decode::{Reader, is_sha256_hex, top_block};
use crate::acl::{self, Block, Document, Value};

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file with its size and sha256.
    File {
        /// Size in bytes.
        size: u64,
        /// sha256, lowercase hex.
        sha256: String,
    },
    /// A directory.
    Dir,
    /// A symlink and its target.
    Symlink {
        /// The target as stored.
        target: String,
    },
}

/// One path of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// Path inside the package (`files/bin/hello`).
    pub path: String,
    /// Its kind.
    pub kind: FileKind,
    /// Mode bits (0644, 0755); 0o777 for symlinks.
    pub mode: u32,
}

/// A package's `files.acl`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileList {
    /// Every path, in archive order.
    pub files: Vec<FileRecord>,
}

impl FileList {
    /// Parses `files.acl`.
    pub fn parse(text: &str, origin: &str) -> Result<FileList, FileError> {
        let doc = acl::parse_data(text, origin)?;
        let mut r = Reader::new(origin, top_block(doc, origin, &["Files"])?);
        let mut files = Vec::new();
        for b in r.take_blocks("File") {
            let mut fr = Reader::new(origin, b);
            let Some(path) = fr.label().map(str::to_string) else {
                return Err(fr.block_error("needs the path as a label"));
            };
            let kind = fr.req_str("type")?;
            let mode = match fr.opt_str("mode")? {
                Some(m) => u32::from_str_radix(&m, 8)
                    .map_err(|_| fr.field_error("mode", format!("`{m}` is not an octal mode")))?,
                None => 0o777,
            };
            let kind = match kind.as_str() {
                "file" => {
                    let sha256 = fr.req_str("sha256")?;
                    if !is_sha256_hex(&sha256) {
                        return Err(fr.field_error("sha256", "expected 64 lowercase hex digits"));
                    }
                    let size = fr.opt_int("size")?.and_then(|n| u64::try_from(n).ok());
                    let size =
                        size.ok_or_else(|| fr.block_error("missing required field `size` (int)"))?;
                    FileKind::File { size, sha256 }
                }
                "dir" => FileKind::Dir,
                "symlink" => FileKind::Symlink {
                    target: fr.req_str("target")?,
                },
                other => {
                    return Err(fr.field_error(
                        "type",
                        format!("`{other}` is not one of file, dir, symlink"),
                    ));
                }
            };
            files.push(FileRecord { path, kind, mode });
        }
        Ok(FileList { files })
    }

    /// `files.acl` as canonical ACL.
    pub fn to_source(&self) -> String {
        let mut top = Block::new("Files", None);
        for f in &self.files {
            let mut b = Block::new("File", Some(f.path.clone()));
            match &f.kind {
                FileKind::File { size, sha256 } => {
                    b.push_field("type", Value::Str("file".into()));
                    b.push_field("mode", Value::Str(format!("{:04o}", f.mode)));
                    b.push_field("size", Value::Int(i64::try_from(*size).unwrap_or(i64::MAX)));
                    b.push_field("sha256", Value::Str(sha256.clone()));
                }
                FileKind::Dir => {
                    b.push_field("type", Value::Str("dir".into()));
                    b.push_field("mode", Value::Str(format!("{:04o}", f.mode)));
                }
                FileKind::Symlink { target } => {
                    b.push_field("type", Value::Str("symlink".into()));
                    b.push_field("target", Value::Str(target.clone()));
                }
            }
            top.push_block(b);
        }
        Document::new(vec![top]).to_source()
    }

    /// Total size of the regular files.
    pub fn total_size(&self) -> u64 {
        self.files
            .iter()
            .map(|f| match f.kind {
                FileKind::File { size, .. } => size,
                _ => 0,
            })
            .sum()
    }
}
