//! The store, `store/<name>/<version>/`, and its one writer.
//!
//! Invariants: an entry is visible only after every check passed: it appears by one rename
//! out of `tmp/`, complete with `manifest.acl` (holding the verified `archive_sha256`),
//! `files/` and `files.acl`, after the staged files were synced. An entry never changes once
//! it is there; it disappears by one rename back into `tmp/` before it is deleted. Every
//! write to `store/` goes through [`commit`] and `write::remove`; [`entry`] owns the entry's
//! layout and [`StoreView`] is the readers' snapshot.

pub(crate) mod entry;
mod index;
pub(crate) mod lists;
mod view;
mod write;

pub(crate) use view::{Damaged, Installed, StoreView};
pub(crate) use write::{Staged, clean_staging, commit, discard, remove_then};
