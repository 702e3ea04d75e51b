//! End-to-end tests of the daemon-free commands, `pandora acl` and `pandora pack`, driving the
//! real binary in a temporary home.

// Tests set up and inspect files directly; a failure fails the test.
#![allow(clippy::disallowed_methods)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use pandora_tests::{Context, repo_root};

const MANIFEST: &str = "manifest {\n    string name = \"tool\";\n    string version = \"1.2.0\";\n    string arch = \"x86_64\";\n    string[] authors = { \"A <a@example.org>\" };\n    string license = \"MIT\";\n    string[] dependencies = { \"libfoo@1.0.0\" };\n    string[] install_hooks = {};\n    build_meta { builder = \"test\"; }\n}\n";

#[test]
fn acl_check_reports_errors_in_the_documented_form() {
    let ctx = Context::new();
    ctx.write("good.acl", "A { x = 1; }\n");
    ctx.write("bad.acl", "A {\n\tstring s = 42;\n}\n");
    let r = ctx.run(&["acl", "check", "good.acl"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "good.acl: ok\n"), "{r:?}");
    let r = ctx.run(&["acl", "check", "good.acl", "bad.acl"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "bad.acl:2:13: type-mismatch: expected string, found int\n\tstring s = 42;\n\t           ^\n1 of 2 files invalid\n"
    );
    let r = ctx.run(&["acl", "check", "missing.acl"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("missing.acl"), "{r:?}");
    std::fs::write(ctx.path().join("latin1.acl"), b"A { s = \"\xe9\"; }").unwrap();
    let r = ctx.run(&["acl", "check", "latin1.acl"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("latin1.acl: not UTF-8"), "{r:?}");
}

#[test]
fn acl_dump_prints_the_documented_form() {
    let ctx = Context::new();
    ctx.write("i.acl", "Registry { Package \"a\" { latest = \"1\"; n = 2 * 3; f = 1.5; Version \"1\" {} } Package \"b\" { tags = {\"x\", \"y\"}; } }");
    let r = ctx.run(&["acl", "dump", "i.acl"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "Registry.Package[\"a\"].latest = string:\"1\"\nRegistry.Package[\"a\"].n = int:6\nRegistry.Package[\"a\"].f = float:1.5\n\
         Registry.Package[\"a\"].Version[\"1\"] = block:{}\nRegistry.Package[\"b\"].tags = string[]:[\"x\",\"y\"]\n"
    );
    let r = ctx.run(&["acl", "dump", "nope.acl"]);
    assert_eq!(r.code, 1);
}

#[test]
fn acl_get_values_and_exit_codes() {
    let ctx = Context::new();
    ctx.write("m.acl", MANIFEST);
    let r = ctx.run(&["acl", "get", "m.acl", "manifest.version"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "1.2.0\n"));
    let r = ctx.run(&["acl", "get", "m.acl", "manifest.dependencies[0]", "--typed"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "string:\"libfoo@1.0.0\"\n")
    );
    let r = ctx.run(&["acl", "get", "m.acl", "manifest.authors"]);
    assert_eq!(r.stdout, "A <a@example.org>\n");
    let r = ctx.run(&["acl", "get", "m.acl", "manifest.missing"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("`manifest.missing` is not in m.acl"),
        "{r:?}"
    );
    let r = ctx.run(&["acl", "get", "m.acl", "manifest..x"]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn acl_fmt_prints_writes_and_checks() {
    let ctx = Context::new();
    let messy = "// header\nA   \"l\"{x=1+2*3;// why\n  string[] l={\"a\",\"b\"};\n\n\n B{}}\n";
    let path = ctx.write("f.acl", messy);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let canonical = "// header\nA \"l\" {\n    x = 1 + 2 * 3; // why\n    string[] l = {\"a\", \"b\"};\n\n    B {}\n}\n";
    let r = ctx.run(&["acl", "fmt", "f.acl"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, canonical), "{r:?}");
    assert_eq!(ctx.run(&["acl", "fmt", "--check", "f.acl"]).code, 1);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        messy,
        "--check changes nothing"
    );
    assert_eq!(ctx.run(&["acl", "fmt", "--write", "f.acl"]).code, 0);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), canonical);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert_eq!(ctx.run(&["acl", "fmt", "--check", "f.acl"]).code, 0);
    // A broken file is reported and left alone.
    let broken = ctx.write("b.acl", "A { x = ; }");
    let r = ctx.run(&["acl", "fmt", "--write", "b.acl"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("b.acl:1:9: syntax"), "{r:?}");
    assert_eq!(std::fs::read_to_string(broken).unwrap(), "A { x = ; }");
}

fn make_tree(root: &Path, mode: u32, mtime_secs: u64) {
    std::fs::create_dir_all(root.join("files/bin")).unwrap();
    std::fs::create_dir_all(root.join("files/share/doc/tool")).unwrap();
    std::fs::write(root.join("manifest.acl"), MANIFEST).unwrap();
    std::fs::write(root.join("files/bin/tool"), "#!/bin/sh\necho tool\n").unwrap();
    std::fs::set_permissions(
        root.join("files/bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(root.join("files/share/doc/tool/README"), "docs\n").unwrap();
    std::fs::set_permissions(
        root.join("files/share/doc/tool/README"),
        std::fs::Permissions::from_mode(mode),
    )
    .unwrap();
    std::os::unix::fs::symlink("tool", root.join("files/bin/t")).unwrap();
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime_secs);
    for p in [
        "manifest.acl",
        "files/bin/tool",
        "files/share/doc/tool/README",
    ] {
        std::fs::File::options()
            .write(true)
            .open(root.join(p))
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
}

fn sha_of(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn pack_is_deterministic_across_time_dirs_umask_and_owner() {
    let ctx = Context::new();
    make_tree(&ctx.path().join("a/tree"), 0o644, 1_000_000);
    make_tree(&ctx.path().join("b/deeper/tree"), 0o600, 2_000_000);
    std::fs::create_dir_all(ctx.path().join("out1")).unwrap();
    std::fs::create_dir_all(ctx.path().join("out2")).unwrap();
    let first = ctx.run(&["pack", "a/tree", "-o", "out1"]);
    assert_eq!(first.code, 0, "{first:?}");
    assert!(
        first.stdout.ends_with(" out1/tool-1.2.0.pkg\n"),
        "{first:?}"
    );
    // Another tree with other mtimes and modes, owned by another user, packed from another
    // directory under another umask.
    let other = ctx.path().join("b/deeper/tree");
    let _ = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&other)
        .status();
    let pandora = pandora_tests::bin("pandora");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 077 && cd / && '{}' pack '{}' -o '{}'",
            pandora.display(),
            other.display(),
            ctx.path().join("out2").display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let a = std::fs::read(ctx.path().join("out1/tool-1.2.0.pkg")).unwrap();
    let b = std::fs::read(ctx.path().join("out2/tool-1.2.0.pkg")).unwrap();
    assert_eq!(a, b, "same tree, different conditions, different bytes");
    assert_eq!(
        sha_of(&first.stdout),
        sha_of(&String::from_utf8_lossy(&out.stdout))
    );
    // SOURCE_DATE_EPOCH is the one input that changes the bytes.
    let r = Command::new(pandora_tests::bin("pandora"))
        .current_dir(ctx.path())
        .env("SOURCE_DATE_EPOCH", "1704067200")
        .args(["pack", "a/tree", "-o", "epoch.pkg"])
        .output()
        .unwrap();
    assert!(r.status.success());
    assert_ne!(std::fs::read(ctx.path().join("epoch.pkg")).unwrap(), a);
}

#[test]
fn pack_refuses_an_invalid_manifest_and_writes_nothing() {
    let ctx = Context::new();
    make_tree(&ctx.path().join("tree"), 0o644, 0);
    std::fs::write(
        ctx.path().join("tree/manifest.acl"),
        MANIFEST.replace("libfoo@1.0.0", "libfoo@>=1"),
    )
    .unwrap();
    std::fs::create_dir_all(ctx.path().join("out")).unwrap();
    let r = ctx.run(&["pack", "tree", "-o", "out"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "\ncause: tree/manifest.acl:7:5: dependencies: `>=1` is not an exact version"
        ),
        "{r:?}"
    );
    assert_eq!(
        std::fs::read_dir(ctx.path().join("out")).unwrap().count(),
        0
    );
    let r = ctx.run(&["pack", "nowhere"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("nowhere"), "{r:?}");
}

#[test]
fn pack_inspect_lists_the_manifest_and_entries() {
    let ctx = Context::new();
    let out = ctx.run(&[
        "pack",
        repo_root().join("examples/hello").to_str().unwrap(),
        "-o",
        "hello.pkg",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let r = ctx.run(&["pack", "--inspect", "hello.pkg"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.starts_with("package  hello@1.0.0\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("sha256   {}\n", sha_of(&out.stdout)))
    );
    assert!(
        r.stdout
            .contains("string[] dependencies = { \"libgreet@2.1.0\" };")
    );
    assert!(
        r.stdout
            .contains("    file 0755        175  files/bin/hello\n"),
        "{}",
        r.stdout
    );
    // A damaged archive is refused with the reason.
    let mut bytes = std::fs::read(ctx.path().join("hello.pkg")).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(ctx.path().join("cut.pkg"), bytes).unwrap();
    let r = ctx.run(&["pack", "--inspect", "cut.pkg"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("error: cut.pkg is not a valid package: "),
        "{r:?}"
    );
}

#[test]
fn example_packages_pack_to_pinned_bytes() {
    // The examples' archives are part of the demo: packing them must stay reproducible.
    let ctx = Context::new();
    for name in ["hello", "libgreet"] {
        let a = ctx.run(&[
            "pack",
            repo_root().join("examples").join(name).to_str().unwrap(),
            "-o",
            "a.pkg",
        ]);
        let b = ctx.run(&[
            "pack",
            repo_root().join("examples").join(name).to_str().unwrap(),
            "-o",
            "b.pkg",
        ]);
        assert_eq!(a.code, 0, "{a:?}");
        assert_eq!(sha_of(&a.stdout), sha_of(&b.stdout));
        assert_eq!(
            std::fs::read(ctx.path().join("a.pkg")).unwrap(),
            std::fs::read(ctx.path().join("b.pkg")).unwrap()
        );
    }
}

#[test]
fn issue9_sigterm_during_pack_leaves_nothing_behind() {
    let ctx = Context::new();
    let src = ctx.path().join("big");
    std::fs::create_dir_all(src.join("files")).unwrap();
    std::fs::write(src.join("manifest.acl"), MANIFEST).unwrap();
    // Incompressible data makes the level-19 compressor take a while.
    std::fs::write(
        src.join("files/data"),
        pandora_tests::noise("sigterm", 24 << 20),
    )
    .unwrap();
    let out = ctx.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut child = ctx
        .pandora()
        .args(["pack", src.to_str().unwrap(), "-o", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until packing has started (its staging directory exists), then stop it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while pandora_tests::dir_names(&out).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        !pandora_tests::dir_names(&out).is_empty(),
        "packing started"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status:?}");
    assert_eq!(pandora_tests::dir_names(&out), Vec::<String>::new());
}

#[test]
fn issue9_pack_refuses_what_install_would_refuse() {
    let ctx = Context::new();
    let tree = |name: &str| {
        let src = ctx.path().join(name);
        std::fs::create_dir_all(src.join("files")).unwrap();
        std::fs::write(src.join("manifest.acl"), MANIFEST).unwrap();
        src
    };
    // A sparse 9 GiB file: past the 8 GiB the unpacker accepts; refused before compressing.
    let big = tree("big");
    std::fs::File::create(big.join("files/sparse"))
        .unwrap()
        .set_len(9 << 30)
        .unwrap();
    let started = std::time::Instant::now();
    let r = ctx.run(&["pack", big.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("the package breaks a limit every installer enforces: decompressed size passes the limit of 8589934592 bytes"),
        "{r:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // 16 MiB of zeros: a decompression bomb by the unpacker's ratio rule.
    let zeros = tree("zeros");
    std::fs::write(zeros.join("files/zeros"), vec![0u8; 16 << 20]).unwrap();
    let r = ctx.run(&["pack", zeros.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("expands more than 250 times"), "{r:?}");
    // A path the store could not hold.
    let deep = tree("deep");
    let long = deep.join("files").join("d/".repeat(1100));
    std::fs::create_dir_all(&long).unwrap();
    {
        std::fs::write(long.join("f"), "x").unwrap();
        let r = ctx.run(&["pack", deep.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(r.stderr.contains("the limit is 2048"), "{r:?}");
    }
    assert!(
        pandora_tests::dir_names(ctx.path())
            .iter()
            .all(|n| !n.ends_with(".pkg"))
    );
}

#[test]
fn issue9_acl_fmt_write_keeps_a_symbolic_link() {
    let ctx = Context::new();
    let real = ctx.write("real.acl", "A{x=1;}\n");
    let link = ctx.path().join("link.acl");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let r = ctx.run(&["acl", "fmt", "--write", "link.acl"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        "A {\n    x = 1;\n}\n"
    );
}

/// Runs `script` in `bash` after loading `pandora completions bash`, with the test's
/// `pandora` first on PATH; returns its stdout and stderr.
fn in_bash_with_completions(ctx: &Context, script: &str) -> (String, String) {
    let completions = ctx.run(&["completions", "bash"]);
    assert_eq!(completions.code, 0, "{completions:?}");
    let file = ctx.write("pandora.bash", &completions.stdout);
    let bin_dir = pandora_tests::bin("pandora")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("bash")
        .current_dir(ctx.path())
        .arg("-c")
        .arg(format!("source {}\n{script}", file.display()))
        .env("PATH", path)
        .env("HOME", ctx.path())
        .env("PANDORA_HOME", ctx.pandora_home())
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bash_loads_the_completions_and_they_offer_commands_options_and_package_names() {
    let ctx = Context::new();
    // A store with one entry and a registry index cached for another name; no daemon runs.
    std::fs::create_dir_all(ctx.pandora_home().join("store/hello/1.0.0")).unwrap();
    std::fs::create_dir_all(ctx.pandora_home().join("cache/index/main/index")).unwrap();
    std::fs::write(
        ctx.pandora_home().join("cache/index/main/index/helix.acl"),
        "Package \"helix\" {}\n",
    )
    .unwrap();
    let complete = |words: &str| {
        let n = words.split(' ').count() - 1;
        let (out, err) = in_bash_with_completions(
            &ctx,
            &format!(
                "COMP_WORDS=({words}); COMP_CWORD={n}; COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}\n\
                 _pandora_with_packages pandora \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"\n\
                 printf '%s\\n' \"${{COMPREPLY[@]}}\""
            ),
        );
        assert_eq!(err, "", "bash printed errors for `{words}`");
        let mut got: Vec<String> = out.lines().map(str::to_string).collect();
        got.sort();
        got
    };
    assert_eq!(
        complete("pandora install hel"),
        ["helix", "hello", "hello@1.0.0"]
    );
    assert_eq!(complete("pandora activate hello@"), ["hello@1.0.0"]);
    assert!(complete("pandora gra").contains(&"graph".to_string()));
    assert!(complete("pandora install --ref").contains(&"--refresh".to_string()));
    // A name a registry made up to run a command is never offered, nor run.
    std::fs::write(
        ctx.pandora_home().join("cache/index/main/index.acl"),
        "Registry \"main\" {\n    Package \"$(touch${IFS}PWNED)\" {}\n    Package \"hexa\" {}\n}\n",
    )
    .unwrap();
    assert_eq!(
        complete("pandora install he"),
        ["helix", "hello", "hello@1.0.0", "hexa"]
    );
    assert!(
        !complete("pandora install $")
            .iter()
            .any(|w| w.contains("touch")),
        "a made-up name is not offered"
    );
    assert!(!ctx.path().join("PWNED").exists());
    // After an option that takes a value, no package names.
    assert!(!complete("pandora activate --profile he").contains(&"hello".to_string()));
    // The package names come from disk, without a daemon.
    assert!(!ctx.pandora_home().join("run/sock").exists());
}

#[test]
fn man_pages_are_written_for_every_command() {
    let ctx = Context::new();
    let dir = ctx.path().join("man1");
    let r = ctx.run(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    for page in [
        "pandora.1",
        "pandora-install.1",
        "pandora-graph.1",
        "pandora-registry-add.1",
    ] {
        let text =
            std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with(".ie \\n(.g .ds Aq") || text.contains(".TH"),
            "{page}: {text}"
        );
    }
    let install = std::fs::read_to_string(dir.join("pandora-install.1")).unwrap();
    assert!(install.contains("refresh"), "{install}");
    assert!(
        !dir.join("pandora-complete-packages.1").exists(),
        "hidden commands get no page"
    );
}
