//! Mutation fuzzing of the unpacker: whatever the bytes, it never panics, agrees with
//! `inspect`, and on error leaves its staging parent empty.

// Tests set up and inspect files directly; a failure fails the test.
#![allow(clippy::disallowed_methods)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::OnceLock;

use pandora_common::pkg::{Limits, PackOptions, inspect, pack, unpack};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

const MANIFEST: &str = r#"manifest {
    string name = "fuzz";
    string version = "0.1.0";
    string arch = "any";
    string[] authors = { "Fuzz <fuzz@example.invalid>" };
    string license = "MIT";
    string[] dependencies = { };
    string[] install_hooks = { };
    build_meta {
        builder = "test";
    }
}
"#;

/// A valid package: its tar stream, the offsets of its header blocks, and its `.pkg` bytes.
struct Sample {
    tar: Vec<u8>,
    headers: Vec<usize>,
    pkg: Vec<u8>,
}

fn sample() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("tempdir");
        let src = tmp.path();
        fs::write(src.join("manifest.acl"), MANIFEST).expect("write");
        fs::create_dir_all(src.join("files/bin")).expect("mkdir");
        fs::create_dir_all(
            src.join("files/share/a-directory-name-long-enough-to-need/a-gnu-long-name-header"),
        )
        .expect("mkdir");
        fs::write(src.join("files/bin/tool"), b"#!/bin/sh\n").expect("write");
        fs::write(
            src.join(
                "files/share/a-directory-name-long-enough-to-need/a-gnu-long-name-header/data",
            ),
            vec![b'z'; 3000],
        )
        .expect("write");
        symlink("../bin/tool", src.join("files/share/tool")).expect("symlink");
        fs::create_dir_all(src.join("hooks")).expect("mkdir");
        fs::write(src.join("hooks/post.acl"), b"hook {}\n").expect("write");
        let mut pkg = Vec::new();
        pack(
            src,
            &mut pkg,
            &PackOptions {
                source_date_epoch: 0,
                level: 3,
            },
        )
        .expect("pack");
        let tar = zstd::decode_all(&pkg[..]).expect("decompress");
        let mut headers = Vec::new();
        let mut archive = tar::Archive::new(&tar[..]);
        for entry in archive.entries().expect("entries").raw(true) {
            let entry = entry.expect("entry");
            headers.push(entry.raw_header_position() as usize);
        }
        Sample { tar, headers, pkg }
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: usize,
        xor: u8,
    },
    Set {
        at: usize,
        value: u8,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Truncate {
        at: usize,
    },
    /// Overwrite one byte of a tar header and fix the checksum, so the tar layer accepts it and
    /// the unpacker's own rules are exercised.
    Header {
        index: usize,
        offset: usize,
        value: u8,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Set { at, value }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (
            any::<usize>(),
            0..512usize,
            prop_oneof![Just(b'/'), Just(b'.'), Just(0u8), any::<u8>()]
        )
            .prop_map(|(index, offset, value)| Mutation::Header {
                index,
                offset,
                value
            }),
    ]
}

fn fix_checksum(block: &mut [u8]) {
    block[148..156].fill(b' ');
    let sum: u32 = block[..512].iter().map(|&x| u32::from(x)).sum();
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation, headers: &[usize]) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match m {
        Mutation::Flip { at, xor } => bytes[at % len] ^= xor,
        Mutation::Set { at, value } => bytes[at % len] = *value,
        Mutation::Insert { at, bytes: new } => {
            let at = at % (len + 1);
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::Truncate { at } => bytes.truncate(at % len),
        Mutation::Header {
            index,
            offset,
            value,
        } => {
            let Some(&start) = headers.get(index % headers.len().max(1)) else {
                return;
            };
            if start + 512 <= len && !(148..156).contains(offset) {
                bytes[start + offset] = *value;
                fix_checksum(&mut bytes[start..start + 512]);
            }
        }
    }
}

/// Unpacks `bytes` and checks the invariants that hold for any input.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let outer = tempfile::tempdir().expect("tempdir");
    let parent = outer.path().join("staging");
    fs::create_dir(&parent).expect("mkdir");
    let limits = Limits {
        max_total_size: 16 << 20,
        ..Limits::default()
    };
    let unpacked = unpack(bytes, &parent, &limits);
    let inspected = inspect(bytes, &limits);
    match (&unpacked, &inspected) {
        (Ok(u), Ok(i)) => {
            prop_assert_eq!(&u.entries, &i.entries);
            prop_assert!(u.path().starts_with(&parent));
            for entry in &u.entries {
                prop_assert!(
                    fs::symlink_metadata(u.path().join(&entry.path)).is_ok(),
                    "{} missing",
                    entry.path
                );
            }
        }
        (Err(u), Err(i)) => prop_assert_eq!(u.to_string(), i.to_string()),
        _ => prop_assert!(
            false,
            "unpack {:?} and inspect {:?} disagree",
            unpacked.is_ok(),
            inspected.is_ok()
        ),
    }
    let ok = unpacked.is_ok();
    drop(unpacked);
    prop_assert_eq!(
        fs::read_dir(&parent).expect("read_dir").count(),
        0,
        "staging left behind (ok: {})",
        ok
    );
    prop_assert_eq!(
        fs::read_dir(outer.path()).expect("read_dir").count(),
        1,
        "something escaped the staging parent"
    );
    Ok(())
}

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x9a_c4a9e),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_tar_streams(mutations in prop::collection::vec(mutation(), 1..4)) {
        let s = sample();
        let mut tar = s.tar.clone();
        for m in &mutations {
            apply(&mut tar, m, &s.headers);
        }
        check(&zstd::encode_all(&tar[..], 1).expect("compress"))?;
    }

    #[test]
    fn mutated_archives(mutations in prop::collection::vec(mutation(), 1..4)) {
        let s = sample();
        let mut pkg = s.pkg.clone();
        for m in &mutations {
            apply(&mut pkg, m, &[]);
        }
        check(&pkg)?;
    }

    #[test]
    fn random_bytes(mut bytes in prop::collection::vec(any::<u8>(), 0..4096), framed in any::<bool>()) {
        if framed {
            // Start with a zstd frame header so the decoder gets past the magic number.
            bytes.splice(0..0, [0x28, 0xb5, 0x2f, 0xfd]);
        }
        check(&bytes)?;
    }
}

#[test]
fn sample_is_valid() {
    let outer = tempfile::tempdir().expect("tempdir");
    let unpacked =
        unpack(&sample().pkg[..], outer.path(), &Limits::default()).expect("the sample unpacks");
    assert!(unpacked.path().join("files/share/tool").is_symlink());
    assert!(Path::new(unpacked.path()).join("hooks/post.acl").is_file());
}
