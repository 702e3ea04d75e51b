//! `pandora-registry init|add|deprecate|check`, driven through the real binary in a
//! temporary directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use pandora_tests::{Context, Run, bin, repo_root};

fn registry(ctx: &Context, args: &[&str]) -> Run {
    let r = Run::of(
        Command::new(bin("pandora-registry"))
            .current_dir(ctx.path())
            .args(args),
    );
    ctx.record(&format!("pandora-registry {}", args.join(" ")), &r);
    r
}

/// A package directory `name@version` with optional dependencies, packed to `out/`.
fn package(ctx: &Context, name: &str, version: &str, deps: &[&str], payload: &str) -> PathBuf {
    let dir = ctx
        .path()
        .join(format!("src-{name}-{version}-{}", payload.len()));
    std::fs::create_dir_all(dir.join("files/bin")).unwrap();
    let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
    std::fs::write(
        dir.join("manifest.acl"),
        format!(
            "manifest {{\n    string name = \"{name}\";\n    string version = \"{version}\";\n    string arch = \"x86_64\";\n    string[] authors = {{ \"T <t@example.org>\" }};\n    string license = \"MIT\";\n    string description = \"test package {name}\";\n    string[] tags = {{ \"test\" }};\n    string[] dependencies = {{ {} }};\n    string[] install_hooks = {{}};\n    build_meta {{ builder = \"test\"; }}\n}}\n",
            deps.join(", ")
        ),
    )
    .unwrap();
    std::fs::write(dir.join("files/bin").join(name), payload).unwrap();
    std::fs::create_dir_all(ctx.path().join("out")).unwrap();
    let out = ctx
        .path()
        .join("out")
        .join(format!("{name}-{version}-{}.pkg", payload.len()));
    let r = ctx.run(&["pack", dir.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    out
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// Every file of the registry (private state aside) with its bytes.
fn snapshot_of_dir(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.ends_with(".pandora-registry") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn serial(dir: &Path) -> u64 {
    pandora_common::files::Snapshot::parse(&read(&dir.join("snapshot.acl")), "snapshot.acl")
        .unwrap()
        .serial
}

#[test]
fn init_creates_an_empty_consistent_registry() {
    let ctx = Context::new();
    let r = registry(&ctx, &["init", "reg", "--name", "main"]);
    assert_eq!(r.code, 0, "{r:?}");
    let dir = ctx.path().join("reg");
    for f in ["config.acl", "snapshot.acl", "index.acl"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert!(dir.join("index").is_dir() && dir.join("blobs/sha256").is_dir());
    assert_eq!(serial(&dir), 1);
    assert_eq!(registry(&ctx, &["check", "reg"]).code, 0);
    // Not over an existing registry or any non-empty directory.
    let r = registry(&ctx, &["init", "reg", "--name", "main"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("already holds files"), "{r:?}");
    let r = registry(&ctx, &["init", "other", "--name", "Bad Name"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not a valid registry name"), "{r:?}");
    let r = registry(&ctx, &["add", "nowhere", "x.pkg"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("hint: pandora-registry init nowhere --name NAME"),
        "{r:?}"
    );
}

#[test]
fn add_verifies_stores_and_indexes_in_one_update() {
    let ctx = Context::new();
    registry(&ctx, &["init", "reg", "--name", "main"]);
    let dir = ctx.path().join("reg");
    let lib = package(&ctx, "libfoo", "1.0.0", &[], "lib");
    let app = package(&ctx, "app", "2.0.0", &["libfoo@1.0.0"], "app");
    let r = registry(
        &ctx,
        &["add", "reg", lib.to_str().unwrap(), app.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("added     libfoo@1.0.0") && r.stdout.contains("added     app@2.0.0"),
        "{r:?}"
    );
    assert_eq!(serial(&dir), 2, "two packages, one update");
    let index =
        pandora_common::files::Index::parse(&read(&dir.join("index.acl")), "index.acl").unwrap();
    let v = index.package("app").unwrap().version("2.0.0").unwrap();
    assert_eq!(v.dependencies[0].to_string(), "libfoo@1.0.0");
    let blob = dir.join(&v.pkg_url);
    assert_eq!(std::fs::read(&blob).unwrap(), std::fs::read(&app).unwrap());
    assert_eq!(v.size, Some(std::fs::metadata(&app).unwrap().len()));
    // The per-package file says the same as index.acl.
    let own =
        pandora_common::files::PackageEntry::parse(&read(&dir.join("index/app.acl")), "app.acl")
            .unwrap();
    assert_eq!(&own, index.package("app").unwrap());
    // Same bytes again: nothing changes, not even the serial.
    let before = snapshot_of_dir(&dir);
    let r = registry(&ctx, &["add", "reg", app.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("unchanged app@2.0.0"), "{r:?}");
    assert_eq!(snapshot_of_dir(&dir), before);
    // A newer version becomes latest.
    let app3 = package(&ctx, "app", "10.0.0", &["libfoo@1.0.0"], "app3");
    assert_eq!(
        registry(&ctx, &["add", "reg", app3.to_str().unwrap()]).code,
        0
    );
    let index =
        pandora_common::files::Index::parse(&read(&dir.join("index.acl")), "index.acl").unwrap();
    assert_eq!(
        index.package("app").unwrap().latest.as_deref(),
        Some("10.0.0")
    );
    assert_eq!(registry(&ctx, &["check", "reg"]).code, 0);
}

#[test]
fn add_refuses_conflicts_and_bad_packages_and_changes_nothing() {
    let ctx = Context::new();
    registry(&ctx, &["init", "reg", "--name", "main"]);
    let dir = ctx.path().join("reg");
    let good = package(&ctx, "tool", "1.0.0", &[], "one");
    assert_eq!(
        registry(&ctx, &["add", "reg", good.to_str().unwrap()]).code,
        0
    );
    let before = snapshot_of_dir(&dir);
    // Other bytes under a published version.
    let other = package(&ctx, "tool", "1.0.0", &[], "other bytes");
    let r = registry(&ctx, &["add", "reg", other.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("tool@1.0.0 is already published with other content"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("hint: bump the version of `tool`"),
        "{r:?}"
    );
    // Not a package at all.
    let junk = ctx.write("junk.pkg", "not an archive");
    let r = registry(&ctx, &["add", "reg", junk.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("junk.pkg is not a valid package"),
        "{r:?}"
    );
    // A range instead of a pin, packed by hand since `pandora pack` refuses it.
    let src = ctx.path().join("ranged");
    std::fs::create_dir_all(src.join("files")).unwrap();
    std::fs::write(src.join("files/x"), "x").unwrap();
    std::fs::write(
        src.join("manifest.acl"),
        "manifest { name = \"ranged\"; version = \"1.0.0\"; arch = \"x86_64\"; authors = {\"a\"}; license = \"MIT\"; \
         dependencies = {\"libfoo@>=1.0\"}; string[] install_hooks = {}; build_meta { builder = \"x\"; } }",
    )
    .unwrap();
    let ranged = ctx.path().join("ranged.pkg");
    let r = Run::of(Command::new("sh").arg("-c").arg(format!(
        "tar -C '{}' -cf - manifest.acl files | zstd -q -o '{}'",
        src.display(),
        ranged.display()
    )));
    assert_eq!(r.code, 0, "{r:?}");
    let r = registry(&ctx, &["add", "reg", ranged.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("`>=1.0` is not an exact version"),
        "{r:?}"
    );
    // All or nothing: a good new package next to a bad one is not added either.
    let fresh = package(&ctx, "fresh", "1.0.0", &[], "fresh");
    let r = registry(
        &ctx,
        &[
            "add",
            "reg",
            fresh.to_str().unwrap(),
            junk.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1);
    assert_eq!(
        snapshot_of_dir(&dir),
        before,
        "a refused update changes nothing"
    );
}

#[test]
fn deprecate_marks_and_unmarks_one_version() {
    let ctx = Context::new();
    registry(&ctx, &["init", "reg", "--name", "main"]);
    let dir = ctx.path().join("reg");
    let v1 = package(&ctx, "tool", "1.0.0", &[], "1");
    let v2 = package(&ctx, "tool", "2.0.0", &[], "22");
    registry(
        &ctx,
        &["add", "reg", v1.to_str().unwrap(), v2.to_str().unwrap()],
    );
    let r = registry(&ctx, &["deprecate", "reg", "tool@2.0.0"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "tool@2.0.0 is now deprecated\n")
    );
    let index =
        pandora_common::files::Index::parse(&read(&dir.join("index.acl")), "index.acl").unwrap();
    let p = index.package("tool").unwrap();
    assert!(p.version("2.0.0").unwrap().deprecated);
    assert_eq!(
        p.latest.as_deref(),
        Some("1.0.0"),
        "latest skips deprecated versions"
    );
    assert_eq!(
        registry(&ctx, &["deprecate", "reg", "tool@2.0.0"]).stdout,
        "tool@2.0.0 was already deprecated; nothing changed\n"
    );
    assert_eq!(
        registry(&ctx, &["deprecate", "reg", "tool@2.0.0", "--undo"]).code,
        0
    );
    let index =
        pandora_common::files::Index::parse(&read(&dir.join("index.acl")), "index.acl").unwrap();
    assert_eq!(
        index.package("tool").unwrap().latest.as_deref(),
        Some("2.0.0")
    );
    let r = registry(&ctx, &["deprecate", "reg", "tool@9.9.9"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("tool@9.9.9 is not in this registry"),
        "{r:?}"
    );
    assert_eq!(registry(&ctx, &["check", "reg"]).code, 0);
}

#[test]
fn check_finds_damaged_blobs_and_index_files() {
    let ctx = Context::new();
    registry(&ctx, &["init", "reg", "--name", "main"]);
    let dir = ctx.path().join("reg");
    let p = package(&ctx, "tool", "1.0.0", &[], "payload");
    registry(&ctx, &["add", "reg", p.to_str().unwrap()]);
    assert_eq!(registry(&ctx, &["check", "reg"]).code, 0);
    // A flipped byte in the blob.
    let blob = std::fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&blob, &bytes).unwrap();
    // An index file edited behind the snapshot's back, and one it does not list.
    std::fs::write(
        dir.join("index/tool.acl"),
        read(&dir.join("index/tool.acl")).replace("test package", "edited"),
    )
    .unwrap();
    std::fs::write(dir.join("index/stray.acl"), "Package \"stray\" {}").unwrap();
    let r = registry(&ctx, &["check", "reg"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("tool@1.0.0: blob blobs/sha256/"), "{r:?}");
    assert!(r.stderr.contains("index/tool.acl: sha256"), "{r:?}");
    assert!(
        r.stderr
            .contains("index/stray.acl: not listed in snapshot.acl"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("index/tool.acl: differs from package `tool` in index.acl"),
        "{r:?}"
    );
    assert!(r.stdout.contains("4 problems"), "{r:?}");
}

#[test]
fn a_crash_mid_update_never_leaves_a_mixed_registry() {
    for step in ["before-commit", "before-snapshot"] {
        let ctx = Context::new();
        registry(&ctx, &["init", "reg", "--name", "main"]);
        let dir = ctx.path().join("reg");
        let one = package(&ctx, "one", "1.0.0", &[], "1");
        registry(&ctx, &["add", "reg", one.to_str().unwrap()]);
        let before = snapshot_of_dir(&dir);
        let two = package(&ctx, "two", "1.0.0", &[], "2");
        let r = Run::of(
            Command::new(bin("pandora-registry"))
                .current_dir(ctx.path())
                .env("PANDORA_REGISTRY_FAILPOINT", step)
                .args(["add", "reg", two.to_str().unwrap()]),
        );
        assert_ne!(r.code, 0, "{step}: the failpoint aborts");
        // The next command under the lock finds a consistent registry: the old one if the crash
        // came before the journal, the new one completed if it came after.
        let r = registry(&ctx, &["check", "reg"]);
        assert_eq!(r.code, 0, "{step}: {r:?}");
        let index = read(&dir.join("index.acl"));
        match step {
            "before-commit" => {
                assert_eq!(snapshot_of_dir(&dir), before);
                assert!(!index.contains("\"two\""));
            }
            _ => {
                assert!(index.contains("\"two\""), "rolled forward");
                assert_eq!(serial(&dir), 3);
            }
        }
        assert_eq!(
            std::fs::read_dir(dir.join(".pandora-registry/stage"))
                .unwrap()
                .count(),
            0,
            "{step}: no staged files left"
        );
    }
}

#[test]
fn the_demo_packages_make_a_registry() {
    let ctx = Context::new();
    registry(&ctx, &["init", "reg", "--name", "examples"]);
    let mut files = Vec::new();
    for name in ["hello", "libgreet"] {
        let out = ctx.path().join(format!("{name}.pkg"));
        assert_eq!(
            ctx.run(&[
                "pack",
                repo_root().join("examples").join(name).to_str().unwrap(),
                "-o",
                out.to_str().unwrap()
            ])
            .code,
            0
        );
        files.push(out.to_str().unwrap().to_string());
    }
    let mut args = vec!["add", "reg"];
    args.extend(files.iter().map(String::as_str));
    assert_eq!(registry(&ctx, &args).code, 0);
    let r = ctx.run(&[
        "acl",
        "get",
        "reg/index.acl",
        "Registry.Package[\"hello\"].Version[\"1.0.0\"].dependencies[0]",
    ]);
    assert_eq!(r.stdout, "libgreet@2.1.0\n");
}

#[test]
fn results_go_to_stdout_warnings_and_problems_to_stderr() {
    let ctx = Context::new();
    registry(&ctx, &["init", "reg", "--name", "main"]);
    let dir = ctx.path().join("reg");
    // app needs libfoo, which the registry does not hold: a warning, not a refusal.
    let app = package(&ctx, "app", "1.0.0", &["libfoo@1.0.0"], "app");
    let r = registry(&ctx, &["add", "reg", app.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.starts_with("added     app@1.0.0  sha256 "),
        "{r:?}"
    );
    assert!(
        r.stdout.ends_with("\nregistry `main` at serial 2\n"),
        "{r:?}"
    );
    assert_eq!(
        r.stderr,
        "warning: app@1.0.0 depends on libfoo@1.0.0, which registry `main` does not hold; \
         clients need another registry that has it\n"
    );
    // With libfoo added in the same update, nothing to warn about.
    let lib = package(&ctx, "libfoo", "1.0.0", &[], "lib");
    let app2 = package(&ctx, "app", "2.0.0", &["libfoo@1.0.0"], "app2");
    let r = registry(
        &ctx,
        &["add", "reg", app2.to_str().unwrap(), lib.to_str().unwrap()],
    );
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");

    // check: a blob nothing references is a warning, on stderr; the summary is on stdout.
    let stray = "0".repeat(64);
    std::fs::write(dir.join("blobs/sha256").join(&stray), "stray").unwrap();
    let r = registry(&ctx, &["check", "reg"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stderr,
        format!("warning: blobs/sha256/{stray}: no version references it\n")
    );
    assert_eq!(
        r.stdout, "verified 4 index files, 3 blobs and 0 signatures: 0 problems\n",
        "{r:?}"
    );
    // A problem goes to stderr too, and makes the exit code 1.
    std::fs::write(dir.join("index/stray.acl"), "Package \"stray\" {}").unwrap();
    let r = registry(&ctx, &["check", "reg"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .lines()
            .any(|l| l == "problem: index/stray.acl: not listed in snapshot.acl"),
        "{r:?}"
    );
    assert_eq!(
        r.stdout, "verified 4 index files, 3 blobs and 0 signatures: 1 problem\n",
        "{r:?}"
    );
}
