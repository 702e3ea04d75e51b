//! Start-up recovery. Everything in `tmp/` is staging that a crash interrupted: no store
//! entry refers to it, because an entry appears only by one rename out of `tmp/`. So it is
//! removed, and the removal is reported.

use std::path::Path;

use anyhow::{Context, Result};

/// Clears `tmp/`, returning one line per thing removed.
pub(crate) fn clear_tmp(tmp: &Path) -> Result<Vec<String>> {
    let mut repaired = Vec::new();
    for entry in fs_err::read_dir(tmp).with_context(|| format!("cannot read {}", tmp.display()))? {
        let entry = entry?;
        let path = entry.path();
        let result = if entry.file_type()?.is_dir() {
            fs_err::remove_dir_all(&path)
        } else {
            fs_err::remove_file(&path)
        };
        result.with_context(|| format!("cannot remove {}", path.display()))?;
        repaired.push(format!("removed interrupted staging {}", path.display()));
    }
    Ok(repaired)
}
