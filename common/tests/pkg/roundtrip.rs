//! Packing and round trips.

use super::*;

// ---------------------------------------------------------------------------------------------
// Packing and round trips.
// ---------------------------------------------------------------------------------------------

const LONG_DIR: &str =
    "files/share/a-rather-long-directory-name-for-testing/another-quite-long-directory";

fn write(path: &Path, data: &[u8], mode: u32) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, data).expect("write");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A source tree exercising every kind of entry. `variant` changes everything that must not
/// matter: creation order, mtimes and non-exec permission bits.
fn make_tree(root: &Path, variant: bool) {
    let (plain, exec, mtime) = if variant {
        (0o600, 0o700, 1_000_000)
    } else {
        (0o644, 0o755, 2_000_000_000)
    };
    let long_file = format!("{LONG_DIR}/and-finally-a-file-with-a-long-name.txt");
    let mut files: Vec<(String, Vec<u8>, u32)> = vec![
        ("manifest.acl".into(), MANIFEST.as_bytes().to_vec(), plain),
        (
            "files/bin/tool".into(),
            b"#!/bin/sh\necho hi\n".to_vec(),
            exec,
        ),
        ("files/lib/libx.so.1".into(), vec![7u8; 70_000], plain),
        (
            "files/share/doc/README".into(),
            b"read me\n".to_vec(),
            plain,
        ),
        (long_file, b"long\n".to_vec(), plain),
        ("files/setuid-in-source".into(), b"x".to_vec(), 0o4755),
        ("hooks/post.acl".into(), b"hook {}\n".to_vec(), plain),
        (
            "sbom.spdx.json".into(),
            b"{\"spdxVersion\": \"SPDX-2.3\"}\n".to_vec(),
            plain,
        ),
        ("provenance.acl".into(), b"provenance {}\n".to_vec(), plain),
    ];
    if variant {
        files.reverse();
    }
    for (rel, data, mode) in &files {
        write(&root.join(rel), data, *mode);
    }
    fs::create_dir_all(root.join("files/empty")).expect("mkdir");
    fs::hard_link(
        root.join("files/share/doc/README"),
        root.join("files/share/doc/README.hardlink"),
    )
    .expect("link");
    symlink("libx.so.1", root.join("files/lib/libx.so")).expect("symlink");
    symlink("../../lib/libx.so.1", root.join("files/share/doc/lib-link")).expect("symlink");
    let long_target = format!(
        "{}/and-finally-a-file-with-a-long-name.txt",
        &LONG_DIR["files/share/".len()..]
    );
    symlink(&long_target, root.join("files/share/long-link")).expect("symlink");
    for rel in [
        "files",
        "files/bin",
        "files/lib",
        "files/empty",
        "hooks",
        "manifest.acl",
        "files/bin/tool",
    ] {
        let path = root.join(rel);
        if variant {
            let exec = fs::metadata(&path).expect("stat").mode() & 0o100;
            let mode = if path.is_dir() { 0o700 } else { 0o600 | exec };
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            // Another owner when the tests run as root; refused (and irrelevant) otherwise.
            let _ = std::os::unix::fs::lchown(&path, Some(4242), Some(4242));
        }
        let file = fs::File::open(&path).expect("open");
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(mtime))
            .expect("set mtime");
    }
}

fn fast() -> PackOptions {
    PackOptions {
        source_date_epoch: 1_700_000_000,
        level: 3,
    }
}

fn pack_bytes(src: &Path, opts: &PackOptions) -> (Vec<u8>, pandora_common::pkg::PackReport) {
    let mut out = Vec::new();
    let report = pack(src, &mut out, opts).expect("pack");
    (out, report)
}

#[test]
fn pack_then_unpack_round_trips() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    make_tree(&src, false);
    let (bytes, report) = pack_bytes(&src, &fast());
    assert_eq!(report.file_name, "hello-1.0.0.pkg");
    assert_eq!(report.sha256, sha256_hex(&bytes));
    assert_eq!(report.compressed_size, bytes.len() as u64);

    let parent = tmp.path().join("staging");
    fs::create_dir(&parent).expect("mkdir");
    let unpacked = unpack(&bytes[..], &parent, &Limits::default()).expect("unpack");
    assert_eq!(unpacked.sha256, report.sha256);
    assert_eq!(unpacked.compressed_size, bytes.len() as u64);
    assert_eq!(unpacked.manifest.name, "hello");
    assert_eq!(unpacked.manifest_text, MANIFEST);
    assert_eq!(unpacked.entries.len(), report.entries);
    let root = unpacked.path().to_path_buf();
    assert_eq!(fs::metadata(&root).expect("stat").mode() & 0o7777, 0o755);

    let paths: Vec<&str> = unpacked.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths[0], "manifest.acl");
    let mut sorted = paths[1..].to_vec();
    sorted.sort();
    assert_eq!(paths[1..], sorted[..], "entries are sorted by path bytes");
    for expected in [
        "files",
        "files/empty",
        "hooks",
        "hooks/post.acl",
        "sbom.spdx.json",
        "provenance.acl",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {paths:?}"
        );
    }

    let by_path: BTreeMap<&str, &EntryInfo> = unpacked
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e))
        .collect();
    let check_file = |rel: &str, mode: u32| {
        let entry = by_path[rel];
        let on_disk = fs::read(root.join(rel)).expect("read");
        let source = fs::read(src.join(rel)).expect("read");
        assert_eq!(on_disk, source, "{rel}");
        assert_eq!(entry.kind, EntryKind::File);
        assert_eq!(entry.size, source.len() as u64);
        assert_eq!(
            entry.sha256.as_deref(),
            Some(sha256_hex(&source).as_str()),
            "{rel}"
        );
        assert_eq!(entry.mode, mode, "{rel}");
        // On disk without write bits: the store's files are read-only from the start.
        assert_eq!(
            fs::metadata(root.join(rel)).expect("stat").mode() & 0o7777,
            mode & 0o555,
            "{rel}"
        );
    };
    check_file("manifest.acl", 0o644);
    check_file("files/bin/tool", 0o755);
    check_file("files/lib/libx.so.1", 0o644);
    check_file("files/setuid-in-source", 0o755);
    check_file("files/share/doc/README.hardlink", 0o644);
    check_file(
        &format!("{LONG_DIR}/and-finally-a-file-with-a-long-name.txt"),
        0o644,
    );
    assert!(LONG_DIR.len() + "/and-finally-a-file-with-a-long-name.txt".len() > 100);

    for (link, target) in [
        ("files/lib/libx.so", "libx.so.1"),
        ("files/share/doc/lib-link", "../../lib/libx.so.1"),
    ] {
        assert_eq!(by_path[link].kind, EntryKind::Symlink);
        assert_eq!(by_path[link].link_target.as_deref(), Some(target));
        assert_eq!(
            fs::read_link(root.join(link)).expect("readlink"),
            Path::new(target)
        );
    }
    let long_link = by_path["files/share/long-link"]
        .link_target
        .as_deref()
        .expect("target");
    assert!(long_link.len() > 100);
    assert_eq!(
        fs::read(root.join("files/share/long-link")).expect("follow"),
        b"long\n"
    );
    let empty = by_path["files/empty"];
    assert_eq!(
        (empty.kind, empty.mode, empty.size),
        (EntryKind::Dir, 0o755, 0)
    );
    assert_eq!(
        fs::read_dir(root.join("files/empty"))
            .expect("read_dir")
            .count(),
        0
    );
    assert_eq!(
        fs::metadata(root.join("files/empty")).expect("stat").mode() & 0o7777,
        0o755
    );

    let inspection = inspect(&bytes[..], &Limits::default()).expect("inspect");
    assert_eq!(inspection.entries, unpacked.entries);
    assert_eq!(inspection.sha256, report.sha256);

    // Dropping keeps nothing; into_path keeps the directory.
    drop(unpacked);
    assert!(!root.exists());
    let kept = unpack(&bytes[..], &parent, &Limits::default())
        .expect("unpack")
        .into_path();
    assert!(kept.join("files/bin/tool").is_file());
}

#[test]
fn archive_headers_are_normalised() {
    let tmp = tempfile::tempdir().expect("tempdir");
    make_tree(tmp.path(), true);
    let (bytes, _) = pack_bytes(tmp.path(), &fast());
    let tar = zstd::decode_all(&bytes[..]).expect("decompress");
    let mut archive = tar::Archive::new(&tar[..]);
    for entry in archive.entries().expect("entries") {
        let entry = entry.expect("entry");
        let h = entry.header();
        let path = entry.path().expect("path").display().to_string();
        assert_eq!(h.mtime().expect("mtime"), 1_700_000_000, "{path}");
        assert_eq!(
            (h.uid().expect("uid"), h.gid().expect("gid")),
            (0, 0),
            "{path}"
        );
        assert_eq!(h.username_bytes(), Some(&b""[..]), "{path}");
        assert_eq!(h.groupname_bytes(), Some(&b""[..]), "{path}");
        let mode = h.mode().expect("mode");
        assert!([0o644, 0o755, 0o777].contains(&mode), "{path}: {mode:o}");
    }
}

#[test]
fn packing_is_deterministic() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    make_tree(&a.path().join("tree"), false);
    make_tree(&b.path().join("tree"), true);
    let opts = PackOptions {
        source_date_epoch: 1_234_567_890,
        level: 3,
    };
    let (bytes_a, report_a) = pack_bytes(&a.path().join("tree"), &opts);

    // Pack the other tree through a relative path from another working directory.
    let cwd = std::env::current_dir().expect("cwd");
    std::env::set_current_dir(b.path()).expect("chdir");
    let packed = pack_bytes(Path::new("tree"), &opts);
    std::env::set_current_dir(cwd).expect("chdir back");
    let (bytes_b, report_b) = packed;

    assert!(bytes_a == bytes_b, "same content, different bytes");
    assert_eq!(report_a, report_b);
    assert_eq!(sha256_hex(&bytes_a), report_a.sha256);

    // pack_to_dir writes the same bytes under <name>-<version>.pkg, leaving no temp file.
    let out = tempfile::tempdir().expect("tempdir");
    let packed = pack_to_dir(&a.path().join("tree"), out.path(), &opts).expect("pack_to_dir");
    assert_eq!(packed.path, out.path().join("hello-1.0.0.pkg"));
    assert_eq!(fs::read(&packed.path).expect("read"), bytes_a);
    assert_eq!(fs::read_dir(out.path()).expect("read_dir").count(), 1);

    // The epoch is the only metadata that shows.
    let other = PackOptions {
        source_date_epoch: 1,
        ..opts
    };
    assert_ne!(pack_bytes(&a.path().join("tree"), &other).0, bytes_a);
}

fn pack_err(setup: impl FnOnce(&Path)) -> String {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    write(&src.join("manifest.acl"), MANIFEST.as_bytes(), 0o644);
    fs::create_dir_all(src.join("files")).expect("mkdir");
    setup(&src);
    let mut out = Vec::new();
    pack(&src, &mut out, &fast())
        .expect_err("pack must refuse")
        .to_string()
}

#[test]
fn pack_refuses_bad_trees() {
    let err = pack_err(|src| symlink("../../etc/passwd", src.join("files/evil")).expect("symlink"));
    assert!(
        err.contains("files/evil") && err.contains("leaves `files/`"),
        "{err}"
    );

    let err = pack_err(|src| {
        fs::create_dir_all(src.join("files/a/b")).expect("mkdir");
        symlink("../..", src.join("files/a/b/s")).expect("symlink");
        symlink("a/b/s/../..", src.join("files/t")).expect("symlink");
    });
    assert!(
        err.contains("files/t") && err.contains("leaves `files/`"),
        "{err}"
    );

    let err = pack_err(|src| write(&src.join("README"), b"x", 0o644));
    assert!(err.contains("README") && err.contains("top level"), "{err}");

    let err = pack_err(|src| {
        std::os::unix::net::UnixListener::bind(src.join("files/sock")).expect("bind");
    });
    assert!(
        err.contains("files/sock") && err.contains("socket"),
        "{err}"
    );

    let err = pack_err(|src| fs::remove_file(src.join("manifest.acl")).expect("rm"));
    assert!(err.contains("no manifest.acl"), "{err}");

    let err = pack_err(|src| fs::write(src.join("manifest.acl"), "nonsense").expect("write"));
    assert!(
        err.contains("manifest.acl") && err.contains("invalid manifest"),
        "{err}"
    );

    let err = pack_err(|src| fs::remove_dir(src.join("files")).expect("rm"));
    assert!(err.contains("no files/"), "{err}");

    let err = pack_err(|src| {
        fs::remove_dir(src.join("files")).expect("rm");
        symlink("/usr", src.join("files")).expect("symlink");
    });
    assert!(err.contains("must be a directory"), "{err}");
}

/// The process umask, from `/proc/self/status` (reading it any other way changes it).
fn current_umask() -> u32 {
    let status = fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .expect("a Umask line");
    u32::from_str_radix(line.trim(), 8).expect("octal umask")
}

#[test]
fn pack_to_dir_leaves_the_mode_to_the_umask() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    make_tree(&src, false);
    let out = tmp.path().join("out");
    fs::create_dir(&out).expect("mkdir");
    let packed = pack_to_dir(&src, &out, &fast()).expect("pack");
    let mode = fs::metadata(&packed.path).expect("stat").mode() & 0o7777;
    assert_eq!(mode, 0o666 & !current_umask(), "{:o}", mode);
}

#[test]
fn install_hooks_must_be_in_the_package() {
    let manifest = MANIFEST.replace(
        r#"install_hooks = { }"#,
        r#"install_hooks = { "hooks/post.acl" }"#,
    );
    let parsed = pandora_common::files::Manifest::parse(&manifest, "manifest.acl").expect("parse");
    if parsed.install_hooks.is_empty() {
        // The placeholder manifest decoder does not read install_hooks yet.
        return;
    }
    let bytes = RawTar::new()
        .file(b"manifest.acl", manifest.as_bytes())
        .dir(b"files/")
        .zst();
    let tmp = tempfile::tempdir().expect("tempdir");
    let err = unpack(&bytes[..], tmp.path(), &Limits::default())
        .expect_err("missing hook")
        .to_string();
    assert!(
        err.contains("entry `hooks/post.acl`") && err.contains("install_hooks"),
        "{err}"
    );
    assert_eq!(fs::read_dir(tmp.path()).expect("read_dir").count(), 0);

    let err = pack_err(|src| fs::write(src.join("manifest.acl"), &manifest).expect("write"));
    assert!(
        err.contains("hooks/post.acl") && err.contains("install_hooks"),
        "{err}"
    );
}

#[test]
fn archives_from_gnu_tar_unpack() {
    // The benchmark corpus is made with GNU tar's PAX format; make sure that shape is accepted.
    let tmp = tempfile::tempdir().expect("tempdir");
    let stage = tmp.path().join("stage");
    write(&stage.join("manifest.acl"), MANIFEST.as_bytes(), 0o644);
    write(&stage.join("files/bin/tool"), b"tool", 0o755);
    symlink("tool", stage.join("files/bin/alias")).expect("symlink");
    let long = format!("files/{}/file", "long-name-".repeat(15));
    write(&stage.join(&long), b"long", 0o644);
    let tar = std::process::Command::new("tar")
        .args([
            "--sort=name",
            "--format=posix",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--mtime=@0",
        ])
        .args([
            "-C",
            stage.to_str().expect("utf-8"),
            "-cf",
            "-",
            "manifest.acl",
            "files",
        ])
        .output();
    let Some(tar) = tar.ok().filter(|o| o.status.success()) else {
        return; // no GNU tar here
    };
    let bytes = zst(&tar.stdout);
    let unpacked =
        unpack(&bytes[..], tmp.path(), &Limits::default()).expect("unpack GNU tar output");
    assert_eq!(
        fs::read(unpacked.path().join(&long)).expect("read"),
        b"long"
    );
    assert_eq!(
        fs::read_link(unpacked.path().join("files/bin/alias")).expect("readlink"),
        Path::new("tool")
    );
}

#[test]
fn unpack_reads_the_whole_input() {
    // The hash covers the whole file even when the reader hands out tiny pieces.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let bytes = valid();
    let tmp = tempfile::tempdir().expect("tempdir");
    let unpacked = unpack(Trickle(&bytes), tmp.path(), &Limits::default()).expect("unpack");
    assert_eq!(unpacked.sha256, sha256_hex(&bytes));
    assert_eq!(unpacked.compressed_size, bytes.len() as u64);
}
