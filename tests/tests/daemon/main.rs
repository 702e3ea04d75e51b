//! pandorad and `pandora` end to end, apart from installs: the socket and its guards,
//! autostart and idle exit, socket activation, crash recovery, the queue and status,
//! registries, publish, reads across registries, and the store and cache commands.

// Tests set up and inspect files directly; a failure fails the test.
#![allow(clippy::disallowed_methods)]

mod activation;
mod conflicts;
mod desktop;
mod first_hour;
mod graph;
mod hostile;
mod lifecycle;
mod metrics;
mod publish;
mod queue;
mod reads;
mod recovery;
mod registries;
mod removal;
mod store;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pandora_tests::test_server::{Answer, TestServer, blob_path};
use pandora_tests::{
    Context, Daemon, PkgSpec, Run, bin, file_url, indexed_sha, noise, ranged_package,
    registry_tool, sha256_file,
};
