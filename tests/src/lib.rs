//! Shared helpers for Pandora's end-to-end tests: the real binaries, run in a temporary home
//! with a fixed environment (`NO_COLOR=1 COLUMNS=100 LC_ALL=C`), their output kept out of
//! sight unless a test fails.

// Test support: a failed file operation fails the test with its own message.
#![allow(clippy::disallowed_methods)]

mod context;
mod daemon;
pub mod http;
mod packages;
mod python;
pub mod test_server;

pub use context::{Asking, Context, Run, bin, dir_names, repo_root};
pub use daemon::Daemon;
pub use packages::{
    PkgSpec, file_url, indexed_sha, noise, ranged_package, registry_tool, sha256_file,
};
pub use python::{python_venv, run_with_input, tool};
