//! The `.pkg` format: pack/unpack round trips, determinism, and a malicious corpus built with a
//! hand-written tar writer (the tar crate's builder refuses most of these archives).

// Tests set up and inspect files directly; a failure fails the test.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use pandora_common::hash::sha256_hex;
use pandora_common::pkg::{
    EntryInfo, EntryKind, Limits, PackOptions, UnpackError, UnpackOptions, inspect, pack,
    pack_to_dir, unpack, unpack_with,
};

const MANIFEST: &str = r#"manifest {
    string name = "hello";
    string version = "1.0.0";
    string arch = "x86_64";
    string[] authors = { "Test <test@example.invalid>" };
    string license = "MIT";
    string[] dependencies = { };
    string[] install_hooks = { };
    build_meta {
        builder = "test";
    }
}
"#;

mod content;
mod corpus;
mod rawtar;
mod refusals;
mod roundtrip;

use corpus::valid;
use rawtar::*;
