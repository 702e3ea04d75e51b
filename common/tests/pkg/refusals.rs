//! What the unpacker does with the malicious corpus, in every way it can run, and with
//! archives damaged in ways only some callers check.

use super::corpus::CASES;
use super::*;

#[test]
pub(crate) fn malicious_archives_are_refused_and_leave_nothing() {
    assert!(CASES.len() >= 25);
    for case in CASES {
        let outer = tempfile::tempdir().expect("tempdir");
        let parent = outer.path().join("staging");
        fs::create_dir(&parent).expect("mkdir");
        let before = snapshot(outer.path());
        let bytes = (case.archive)();
        let limits = (case.limits)();

        let err = match unpack(&bytes[..], &parent, &limits) {
            Ok(_) => panic!("{}: unpack accepted the archive", case.name),
            Err(err) => err,
        };
        let shown = err.to_string();
        eprintln!("{}: {shown}", case.name);
        for want in case.expect {
            assert!(
                shown.contains(want),
                "{}: error `{shown}` does not contain `{want}`",
                case.name
            );
        }
        assert_eq!(
            before,
            snapshot(outer.path()),
            "{}: unpack left something behind",
            case.name
        );
        assert!(!Path::new("/tmp/pandora-pkg-test-absolute").exists());

        let inspected = inspect(&bytes[..], &limits)
            .expect_err(case.name)
            .to_string();
        assert_eq!(
            inspected, shown,
            "{}: inspect and unpack disagree",
            case.name
        );

        // Decoding on the caller's thread, with or without zstd's own checksum: the same
        // error, and nothing left.
        for sha256_checked_by_caller in [false, true] {
            let options = UnpackOptions {
                sha256_checked_by_caller,
                same_thread: true,
                write_back_early: sha256_checked_by_caller,
            };
            let inline = unpack_with(&bytes[..], &parent, &limits, options)
                .map(|_| ())
                .expect_err(case.name)
                .to_string();
            assert_eq!(inline, shown, "{}: {options:?}", case.name);
            assert_eq!(before, snapshot(outer.path()), "{}: {options:?}", case.name);
        }
    }
}

#[test]
pub(crate) fn zstd_checksum_is_left_to_a_caller_that_checks_the_sha256() {
    // A valid archive whose zstd content checksum (the frame's last four bytes) is wrong.
    let tar = RawTar::new()
        .manifest()
        .dir(b"files/")
        .file(b"files/a", b"hello\n")
        .tar();
    let mut encoder = zstd::stream::Encoder::new(Vec::new(), 3).expect("encoder");
    encoder.include_checksum(true).expect("checksum flag");
    encoder.write_all(&tar).expect("compress");
    let good = encoder.finish().expect("compress");
    let mut bytes = good.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    let outer = tempfile::tempdir().expect("tempdir");
    let err = unpack(&bytes[..], outer.path(), &Limits::default()).expect_err("bad checksum");
    assert!(err.to_string().contains("cannot decompress"), "{err}");
    for same_thread in [false, true] {
        let options = UnpackOptions {
            sha256_checked_by_caller: true,
            same_thread,
            write_back_early: false,
        };
        let unpacked = unpack_with(&bytes[..], outer.path(), &Limits::default(), options)
            .expect("the content itself is intact");
        // What the caller compares with the sha256 it expected, and so refuses.
        assert_eq!(unpacked.sha256, sha256_hex(&bytes));
        assert_ne!(unpacked.sha256, sha256_hex(&good));
    }
}

#[test]
pub(crate) fn errors_keep_their_cause() {
    let outer = tempfile::tempdir().expect("tempdir");
    let bytes = RawTar::new().file(b"manifest.acl", b"nonsense").zst();
    let err = unpack(&bytes[..], outer.path(), &Limits::default()).expect_err("invalid manifest");
    assert!(matches!(err, UnpackError::Manifest { .. }));
    let source = std::error::Error::source(&err).expect("the parser's error is the source");
    assert!(source.to_string().contains("manifest.acl"), "{source}");
}

#[test]
fn a_file_that_is_not_a_package_cut_short_or_damaged_is_named_for_what_it_is() {
    let good = valid();
    let mut flipped = good.clone();
    let at = flipped.len() / 2;
    for b in &mut flipped[at..at + 4] {
        *b ^= 0xff;
    }
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "text",
            b"#!/bin/sh\necho not a package\n".repeat(20),
            "this is not a .pkg file: a package is a zstd stream, and this does not start like one",
        ),
        (
            "cut",
            good[..good.len() / 2].to_vec(),
            "the archive ends early: it was cut short",
        ),
        (
            "flipped",
            flipped,
            "the archive's bytes were changed or damaged",
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, bytes, want) in cases {
        let path = dir.path().join(format!("{name}.pkg"));
        fs::write(&path, &bytes).unwrap();
        let err = pandora_common::pkg::inspect_file(&path, &Limits::default())
            .map(|_| ())
            .expect_err(name);
        let shown = pandora_common::error_chain(&err, ": ");
        assert!(shown.contains(want), "{name}: {shown}");
    }
    // A directory is said to be one, before anything is read.
    let err = pandora_common::pkg::inspect_file(dir.path(), &Limits::default())
        .map(|_| ())
        .expect_err("a directory");
    let shown = pandora_common::error_chain(&err, ": ");
    assert!(
        shown.contains("it is a directory, not a .pkg file"),
        "{shown}"
    );
}
