//! Codes, kinds, messages and hints of the daemon's errors.

use super::*;

fn pin(s: &str) -> Pin {
    Pin::parse(s).unwrap()
}

#[test]
fn missing_says_what_was_asked_and_why() {
    let e = Error::Missing {
        what: "tool".into(),
        needed_by: Vec::new(),
        asked: vec!["main".into()],
        problems: vec![],
        in_store: vec![],
        close: vec![],
        verb: "install",
    };
    assert_eq!(e.code(), code::NOT_FOUND);
    assert_eq!(e.kind(), Kind::NotFound);
    assert_eq!(
        e.to_string(),
        "no registry has a package called `tool` (asked `main`)"
    );
    assert_eq!(e.hint().as_deref(), Some("pandora search tool"));

    let e = Error::Missing {
        what: "lib@1.0".into(),
        needed_by: vec![pin("app@2")],
        asked: vec!["a".into(), "b".into()],
        problems: vec!["registry `a`: cannot get index: refused".into()],
        in_store: vec![],
        close: vec![],
        verb: "install",
    };
    // One of two registries failed: the package may still be missing from the other.
    assert_eq!(e.code(), code::UNAVAILABLE);
    assert!(
        e.to_string()
            .starts_with("lib@1.0, needed by app@2, is in no registry (asked `a`, `b`)"),
        "{e}"
    );
    assert!(
        e.to_string()
            .ends_with("\n  registry `a`: cannot get index: refused")
    );
}

#[test]
fn unreachable_registries_headline_the_cause() {
    let e = Error::Missing {
        what: "tool".into(),
        needed_by: Vec::new(),
        asked: vec!["main".into()],
        problems: vec!["registry `main`: connection refused".into()],
        in_store: vec![],
        close: vec![],
        verb: "install",
    };
    assert_eq!(
        e.to_string(),
        "cannot find tool: registry `main`: connection refused"
    );
    let e = Error::Missing {
        what: "tool".into(),
        needed_by: Vec::new(),
        asked: vec!["a".into(), "b".into()],
        problems: vec![
            "registry `a`: refused".into(),
            "registry `b`: refused".into(),
        ],
        in_store: vec!["1.0".into(), "1.1".into()],
        close: vec![],
        verb: "install",
    };
    let text = e.to_string();
    assert!(
        text.starts_with("cannot find tool: no registry could answer (asked `a`, `b`)"),
        "{text}"
    );
    assert!(text.contains("in the store: 1.0, 1.1"), "{text}");
    assert_eq!(e.kind(), Kind::Unavailable);
    assert!(e.hint().unwrap().contains("registry list"));
}

#[test]
fn publish_refusals_map_status_to_code() {
    let refused = |status| Error::PublishRefused {
        registry: "r".into(),
        pin: pin("a@1"),
        status,
        message: "no".into(),
        token_file: "/t".into(),
        config: "/c".into(),
    };
    for (status, c, kind) in [
        (401, code::UNAUTHENTICATED, Kind::Unauthenticated),
        (403, code::FORBIDDEN, Kind::PermissionDenied),
        (409, code::CONFLICT, Kind::AlreadyExists),
        (413, code::TOO_LARGE, Kind::ResourceExhausted),
        (422, code::INVALID_PACKAGE, Kind::InvalidArgument),
        (500, code::REGISTRY_ERROR, Kind::Unavailable),
    ] {
        let e = refused(status);
        assert_eq!((e.code(), e.kind()), (c, kind), "{status}");
    }
    assert!(refused(409).hint().unwrap().contains("new version of a"));
}

#[test]
fn a_full_disk_is_not_a_damaged_package() {
    let full = UnpackError::EntryIo {
        path: "files/big".into(),
        action: "write it",
        source: std::io::Error::from_raw_os_error(28),
    };
    assert!(!damaged(&full), "the archive is not to blame");
    let e = Error::Unpack {
        pin: pin("big@1"),
        dir: "/home/u/pandora/tmp".into(),
        source: Box::new(full),
    };
    assert_eq!(e.code(), code::NO_SPACE);
    assert!(!e.archive_damaged(), "the cached blob is kept");
    assert!(e.hint().unwrap().starts_with("free some space"));
    assert_eq!(
        e.to_string(),
        "cannot unpack big@1 into /home/u/pandora/tmp"
    );
    let bad = UnpackError::EntryIo {
        path: "files/x".into(),
        action: "decompress the archive",
        source: std::io::Error::other("corrupt"),
    };
    assert!(damaged(&bad));
}

#[test]
fn io_names_the_path_once() {
    let t = tempfile::tempdir().unwrap();
    let missing = t.path().join("missing");
    let e = fs_err::File::open(&missing)
        .map_err(Error::io("open", &missing))
        .unwrap_err();
    let text = pandora_common::error_chain(&e, ": ");
    assert_eq!(text.matches("missing").count(), 1, "{text}");
    assert!(text.ends_with("(os error 2)"), "{text}");
}

#[test]
fn io_keeps_its_cause() {
    let e = Error::io("read", "/x/y")(std::io::Error::from(std::io::ErrorKind::NotFound));
    assert_eq!(e.to_string(), "cannot read /x/y");
    assert!(std::error::Error::source(&e).is_some());
    assert_eq!(e.code(), code::IO);
}
