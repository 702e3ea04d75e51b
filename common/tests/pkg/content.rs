//! Content checks: an install hook the manifest names, `provenance.acl` and `sbom.spdx.json`
//! must be valid, and `pack`, `inspect` and `unpack` refuse the same files with the same cause.

use super::*;

pub(crate) struct ContentCase {
    name: &'static str,
    /// Path inside the package; a path under `hooks/` is listed in `install_hooks`.
    path: &'static str,
    data: &'static [u8],
    /// Substrings of the whole error chain, from `pack` and from `unpack`.
    expect: &'static [&'static str],
}

pub(crate) const CONTENT_CASES: &[ContentCase] = &[
    ContentCase {
        name: "hook with an unknown action",
        path: "hooks/install.acl",
        data: b"preinstall { action = \"explode\"; }\n",
        expect: &[
            "hooks/install.acl`: invalid content",
            "not a valid install hook file",
            "hooks/install.acl:1:14: action: `explode` is not one of warn, info, run",
        ],
    },
    ContentCase {
        name: "hook that is not ACL",
        path: "hooks/install.acl",
        data: b"preinstall { action = \"warn\" }\n",
        expect: &[
            "hooks/install.acl`: invalid content",
            "hooks/install.acl:1:30: missing-semicolon",
        ],
    },
    ContentCase {
        name: "hook without its message",
        path: "hooks/deep/warn.acl",
        data: b"postinstall {\n    action = \"warn\";\n}\n",
        expect: &[
            "hooks/deep/warn.acl`: invalid content",
            "hooks/deep/warn.acl:1:1: postinstall: missing required field `msg`",
        ],
    },
    ContentCase {
        name: "hook that is not UTF-8",
        path: "hooks/install.acl",
        data: b"preinstall { action = \"\xff\"; }\n",
        expect: &["hooks/install.acl`: invalid content", "not valid UTF-8"],
    },
    ContentCase {
        name: "provenance with a syntax error",
        path: "provenance.acl",
        data: b"provenance { x = ; }\n",
        expect: &[
            "provenance.acl`: invalid content",
            "not valid ACL",
            "provenance.acl:1:18: syntax",
        ],
    },
    ContentCase {
        name: "provenance with an unresolved reference",
        path: "provenance.acl",
        data: b"provenance {\n    builder = \"ci\";\n    x = $.y;\n}\n",
        expect: &[
            "provenance.acl`: invalid content",
            "provenance.acl:3:9: unresolved-reference",
        ],
    },
    ContentCase {
        name: "SBOM that is not JSON",
        path: "sbom.spdx.json",
        data: b"{\"spdxVersion\": \"SPDX-2.3\",}\n",
        expect: &[
            "sbom.spdx.json`: invalid content",
            "not valid JSON",
            "line 1 column 28",
        ],
    },
    ContentCase {
        name: "SBOM with trailing garbage",
        path: "sbom.spdx.json",
        data: b"{\"spdxVersion\": \"SPDX-2.3\"} {}\n",
        expect: &["sbom.spdx.json`: invalid content", "not valid JSON"],
    },
    ContentCase {
        name: "SBOM that is an empty file",
        path: "sbom.spdx.json",
        data: b"",
        expect: &["sbom.spdx.json`: invalid content", "not valid JSON"],
    },
    ContentCase {
        name: "SBOM without spdxVersion",
        path: "sbom.spdx.json",
        data: b"{}\n",
        expect: &[
            "sbom.spdx.json`: invalid content",
            "not an SPDX document: no `spdxVersion` field",
        ],
    },
    ContentCase {
        name: "SBOM that is an array",
        path: "sbom.spdx.json",
        data: b"[{\"spdxVersion\": \"SPDX-2.3\"}]\n",
        expect: &["not an SPDX document: the top level is not a JSON object"],
    },
    ContentCase {
        name: "SBOM with a foreign version",
        path: "sbom.spdx.json",
        data: b"{\"spdxVersion\": \"CycloneDX-1.5\"}\n",
        expect: &["not an SPDX document: `spdxVersion` is \"CycloneDX-1.5\""],
    },
    ContentCase {
        name: "SBOM with a numeric version",
        path: "sbom.spdx.json",
        data: b"{\"spdxVersion\": 2.3}\n",
        expect: &["not an SPDX document: `spdxVersion` is not a string"],
    },
];

/// The manifest, listing `path` as an install hook when it is one.
fn manifest_for(path: &str) -> String {
    if path.starts_with("hooks/") {
        MANIFEST.replace(
            "install_hooks = { }",
            &format!("install_hooks = {{ \"{path}\" }}"),
        )
    } else {
        MANIFEST.to_string()
    }
}

fn archive(path: &str, data: &[u8]) -> Vec<u8> {
    let mut tar = RawTar::new()
        .file(b"manifest.acl", manifest_for(path).as_bytes())
        .dir(b"files/")
        .file(b"files/a", b"a\n");
    if path.starts_with("hooks/") {
        tar = tar.dir(b"hooks/");
    }
    tar.file(path.as_bytes(), data).zst()
}

fn source(root: &Path, path: &str, data: &[u8]) {
    fs::create_dir_all(root.join("files")).expect("mkdir");
    fs::write(root.join("manifest.acl"), manifest_for(path)).expect("write");
    let file = root.join(path);
    fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    fs::write(file, data).expect("write");
}

#[track_caller]
fn assert_chain(case: &str, err: &dyn std::error::Error, expect: &[&str]) {
    let shown = pandora_common::error_chain(err, ": ");
    eprintln!("{case}: {shown}");
    for want in expect {
        assert!(
            shown.contains(want),
            "{case}: error `{shown}` does not contain `{want}`"
        );
    }
}

#[test]
fn invalid_content_is_refused_by_pack_inspect_and_unpack() {
    for case in CONTENT_CASES {
        let tmp = tempfile::tempdir().expect("tempdir");
        let src = tmp.path().join("src");
        source(&src, case.path, case.data);
        let err = pack(&src, &mut Vec::new(), &PackOptions::default()).expect_err(case.name);
        assert_chain(case.name, &err, case.expect);
        assert!(
            err.to_string()
                .contains(&src.join(case.path).display().to_string()),
            "{}: {err}",
            case.name
        );

        let bytes = archive(case.path, case.data);
        let parent = tmp.path().join("staging");
        fs::create_dir(&parent).expect("mkdir");
        let err = unpack(&bytes[..], &parent, &Limits::default()).expect_err(case.name);
        assert_chain(case.name, &err, case.expect);
        assert!(
            err.to_string()
                .starts_with(&format!("entry `{}`: invalid content", case.path)),
            "{}: {err}",
            case.name
        );
        assert_eq!(
            fs::read_dir(&parent).expect("read_dir").count(),
            0,
            "{}: unpack left something behind",
            case.name
        );
        let inspected = inspect(&bytes[..], &Limits::default()).expect_err(case.name);
        assert_eq!(
            pandora_common::error_chain(&inspected, ": "),
            pandora_common::error_chain(&err, ": "),
            "{}: inspect and unpack disagree",
            case.name
        );
    }
}

#[test]
fn valid_content_is_accepted() {
    let files: &[(&str, &[u8])] = &[
        (
            "hooks/install.acl",
            b"preinstall { action = \"info\"; msg = \"hi\"; }\nlater { x = 1; }\n",
        ),
        (
            "provenance.acl",
            b"provenance {\n    builder = \"ci\";\n    ref b = $.builder;\n}\n",
        ),
        (
            "sbom.spdx.json",
            b"{\"spdxVersion\": \"SPDX-2.3\", \"packages\": [{\"name\": \"x\"}]}\n",
        ),
    ];
    for (path, data) in files {
        let tmp = tempfile::tempdir().expect("tempdir");
        let src = tmp.path().join("src");
        source(&src, path, data);
        let mut bytes = Vec::new();
        pack(&src, &mut bytes, &PackOptions::default()).expect(path);
        let found = inspect(&bytes[..], &Limits::default()).expect(path);
        assert!(found.entries.iter().any(|e| e.path == *path), "{path}");
        unpack(&archive(path, data)[..], tmp.path(), &Limits::default()).expect(path);
    }
}

#[test]
fn unlisted_hooks_are_not_checked() {
    // Only the hooks the manifest names ever run; others are payload like any file.
    let bytes = RawTar::new()
        .manifest()
        .dir(b"files/")
        .dir(b"hooks/")
        .file(b"hooks/notes.txt", b"not ACL at all {")
        .zst();
    inspect(&bytes[..], &Limits::default()).expect("unlisted hook");
}

#[test]
fn oversized_content_is_refused_before_it_is_read() {
    let limits = Limits {
        max_metadata_size: 16,
        ..Limits::default()
    };
    let bytes = archive("sbom.spdx.json", b"{\"spdxVersion\": \"SPDX-2.3\"}\n");
    let err = inspect(&bytes[..], &limits).expect_err("too large");
    assert_chain(
        "oversized",
        &err,
        &[
            "entry `sbom.spdx.json`: invalid content",
            "28 bytes, the limit is 16",
        ],
    );
}
