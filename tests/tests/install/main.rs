//! `pandora install` end to end: a real daemon in a temporary home installs from a real
//! `pandora-registry serve` on 127.0.0.1:0, from `file://` registries and local `.pkg` files,
//! or from a small in-test server that lies, cuts connections or stalls, to see that installs
//! resolve and ask before they act, verify what they download, resume, pick registries by
//! priority, work offline from their caches, and leave nothing behind when they fail.

// Tests set up and inspect files directly; a failure fails the test.
#![allow(clippy::disallowed_methods)]

mod broken_registries;
mod core;
mod hooks;
mod local_files;
mod offline;
mod plan;

use std::os::unix::fs::PermissionsExt;

use pandora_common::files::{FileList, Index, Manifest};
use pandora_tests::test_server::{Answer, Overlap, TestServer, blob_path};
use pandora_tests::{
    Context, PkgSpec, Run, file_url, indexed_sha, noise, registry_tool, repo_root, sha256_file,
};

/// Nothing in the store, nothing in the blob cache, nothing in tmp/.
fn assert_nothing_left(ctx: &Context) {
    assert_eq!(ctx.store_entries(), Vec::<String>::new(), "store");
    assert_eq!(ctx.cached_blobs(), Vec::<String>::new(), "blob cache");
    assert_eq!(ctx.tmp_entries(), Vec::<String>::new(), "tmp/");
}
