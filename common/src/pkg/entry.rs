//! The entry model shared by the packer, the header rules and the unpacker: what an entry is
//! and what a verified archive says about each one.

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
}

/// One entry of a verified archive, as written to disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// Path inside the package, without a trailing `/`.
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Normalised mode: 0644 or 0755 for files, 0755 for directories, 0777 for symlinks.
    pub mode: u32,
    /// Size in bytes (0 for directories and symlinks).
    pub size: u64,
    /// sha256 of a regular file's content, lowercase hex.
    pub sha256: Option<String>,
    /// A symlink's target.
    pub link_target: Option<String>,
}
