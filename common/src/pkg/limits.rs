//! The caps an archive must stay under to be unpacked.

/// Caps on what one archive may hold. [`Limits::default`] suits real packages; tests lower them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes the decompressed tar stream may hold, headers included.
    pub max_total_size: u64,
    /// Most tar headers (entries plus long-name and PAX headers) an archive may hold.
    pub max_entries: u64,
    /// Longest path or symlink target, in bytes. Below the system's 4096-byte PATH_MAX with
    /// room for the store's own prefix (`$PANDORA_HOME/store/<name>/<version>/`), so a path
    /// the format accepts can always be written and read back.
    pub max_path_len: usize,
    /// Longest single path component, in bytes.
    pub max_component_len: usize,
    /// Highest allowed ratio of decompressed to compressed bytes, checked once the stream has
    /// produced more than [`Limits::ratio_floor`] bytes.
    pub max_ratio: u64,
    /// Decompressed size below which the ratio is not checked, so small packages of highly
    /// compressible text are never refused.
    pub ratio_floor: u64,
    /// Largest `manifest.acl`, in bytes.
    pub max_manifest_size: u64,
    /// Largest install hook, `provenance.acl` or `sbom.spdx.json`, in bytes: these are read
    /// into memory to be checked.
    pub max_metadata_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_size: 8 << 30,
            max_entries: 500_000,
            max_path_len: 2048,
            max_component_len: 255,
            max_ratio: 250,
            ratio_floor: 1 << 20,
            max_manifest_size: 1 << 20,
            max_metadata_size: 32 << 20,
        }
    }
}
