//! Typed decoding of Pandora's files: for each type a valid example, a missing required field,
//! a wrong type and an unknown field; plus the checks each type adds.

use pandora_common::files::{
    ConflictStrategy, HookAction, HookFile, Index, Lockfile, Manifest, PackageEntry, Pin, Profile,
    RegistryList,
};

const SHA: &str = "b6dc229457732c0d0fe018961825d89704fd6ff49a2774d7c63a933765f84f91";

fn manifest_src(extra: &str) -> String {
    format!(
        "manifest {{\n    string name = \"mytool\";\n    string version = \"3.0.0\";\n    string arch = \"x86_64\";\n    string[] authors = {{ \"CI Builder <ci@example.com>\" }};\n    string license = \"MIT\";\n    string[] dependencies = {{ \"libfoo@1.0.0\" }};\n    string[] install_hooks = {{ \"hooks/preinstall.acl\" }};\n    build_meta {{\n        builder = \"mpt\";\n        date = \"2025-10-12\";\n    }}\n{extra}}}\n"
    )
}

#[track_caller]
fn assert_err<T: std::fmt::Debug>(r: Result<T, pandora_common::files::FileError>, want: &str) {
    let e = r.expect_err("should fail");
    assert!(
        e.to_string().starts_with(want),
        "got: {e}\nwant prefix: {want}"
    );
}

#[test]
fn manifest_valid_atlaslinux_shape() {
    let m = Manifest::parse(
        &manifest_src("    string pkg_format = \"pandora-v1\";\n"),
        "manifest.acl",
    )
    .unwrap();
    assert_eq!(m.pin().to_string(), "mytool@3.0.0");
    assert_eq!(m.dependencies, vec![Pin::parse("libfoo@1.0.0").unwrap()]);
    assert_eq!(m.install_hooks, vec!["hooks/preinstall.acl"]);
    assert_eq!(
        m.build_meta.field("builder").unwrap().value.as_str(),
        Some("mpt")
    );
    // Unknown fields are kept, and survive a rewrite.
    assert_eq!(m.extra.len(), 1);
    let again = Manifest::parse(&m.to_source(), "store/manifest.acl").unwrap();
    assert_eq!(
        again,
        Manifest {
            build_meta: again.build_meta.clone(),
            extra: again.extra.clone(),
            ..m.clone()
        }
    );
    assert!(m.to_source().contains("pkg_format = \"pandora-v1\""));
    // `Manifest` is accepted when reading.
    let upper = manifest_src("").replacen("manifest {", "Manifest {", 1);
    assert!(Manifest::parse(&upper, "manifest.acl").is_ok());
}

#[test]
fn manifest_wrong_type_names_field_and_position() {
    let src = manifest_src("").replace(
        "string[] dependencies = { \"libfoo@1.0.0\" };",
        "dependencies = 4;",
    );
    assert_err(
        Manifest::parse(&src, "manifest.acl"),
        "manifest.acl:7:5: dependencies: expected string[], found int",
    );
}

#[test]
fn manifest_missing_required_field() {
    let src = manifest_src("").replace("    string license = \"MIT\";\n", "");
    assert_err(
        Manifest::parse(&src, "manifest.acl"),
        "manifest.acl:1:1: manifest: missing required field `license` (string)",
    );
    let src = manifest_src("").replace(
        "    build_meta {\n        builder = \"mpt\";\n        date = \"2025-10-12\";\n    }\n",
        "",
    );
    assert_err(
        Manifest::parse(&src, "manifest.acl"),
        "manifest.acl:1:1: manifest: missing required block `build_meta`",
    );
}

#[test]
fn manifest_is_data_without_expressions() {
    let src = manifest_src("").replace("\"MIT\"", "\"M\" + \"IT\"");
    assert_err(
        Manifest::parse(&src, "manifest.acl"),
        "manifest.acl:6:22: expression-not-allowed: the value of `license` must be a literal",
    );
    let src = manifest_src("    string license_again = $.license;\n");
    assert_err(
        Manifest::parse(&src, "manifest.acl"),
        "manifest.acl:13:28: expression-not-allowed",
    );
}

#[test]
fn manifest_names_every_missing_required_field_at_once() {
    let src = "manifest {\n    string name = \"mytool\";\n    string license = \"MIT\";\n}\n";
    assert_err(
        Manifest::parse(src, "manifest.acl"),
        "manifest.acl:1:1: manifest: missing 6 required fields: `version` (string), \
         `arch` (string), `authors` (string[]), `dependencies` (string[]), \
         `install_hooks` (string[]), `build_meta` (block); add `string version = ...;`, \
         `string arch = ...;`, `string[] authors = ...;`, `string[] dependencies = ...;`, \
         `string[] install_hooks = ...;`, `build_meta { ... }`",
    );
    let e = Manifest::parse("manifest { }", "manifest.acl").expect_err("empty manifest");
    for name in [
        "name",
        "version",
        "arch",
        "authors",
        "license",
        "dependencies",
        "install_hooks",
        "build_meta",
    ] {
        assert!(e.to_string().contains(&format!("`{name}`")), "{e}");
    }
}

#[test]
fn manifest_refuses_ranges_and_bad_names() {
    let src = manifest_src("").replace("libfoo@1.0.0", "libfoo@>=1.0");
    assert_err(
        Manifest::parse(&src, "m.acl"),
        "m.acl:7:5: dependencies: `>=1.0` is not an exact version",
    );
    let src = manifest_src("").replace("libfoo@1.0.0", "libfoo");
    assert_err(
        Manifest::parse(&src, "m.acl"),
        "m.acl:7:5: dependencies: `libfoo` is not a pin",
    );
    let src = manifest_src("").replace("\"mytool\"", "\"My Tool\"");
    assert_err(
        Manifest::parse(&src, "m.acl"),
        "m.acl:2:5: name: `My Tool` is not a valid package name",
    );
    let src = manifest_src("").replace("hooks/preinstall.acl", "../etc/passwd");
    assert_err(
        Manifest::parse(&src, "m.acl"),
        "m.acl:8:5: install_hooks: `../etc/passwd` must be a path under `hooks/`",
    );
    assert_err(
        Manifest::parse("other { }", "m.acl"),
        "m.acl:1:1: expected a top-level `manifest { ... }` block",
    );
}

#[test]
fn manifest_acl_errors_keep_the_caret() {
    let e = Manifest::parse("manifest {\n  name = \"x\"\n}", "m.acl").unwrap_err();
    assert_eq!(
        e.to_string(),
        "m.acl:3:1: missing-semicolon: expected `;` after the value of `name`, found `}`\n}\n^"
    );
}

fn index_src(version_extra: &str) -> String {
    format!(
        "Registry {{\n    string url = \"https://example.org/index.acl\";\n    Package \"mytool\" {{\n        string[] versions = {{ \"1.0.0\" }};\n        string latest = \"1.0.0\";\n        string pkg_base_url = \"\";\n        Version \"1.0.0\" {{\n            string pkg_url = \"blobs/sha256/{SHA}\";\n            string sha256 = \"{SHA}\";\n            bool deprecated = false;\n{version_extra}        }}\n    }}\n    Package \"libfoo\" {{ Version \"1.0.0\" {{ string pkg_url = \"x\"; string sha256 = \"{SHA}\"; int size = 12; string[] dependencies = {{}}; }} }}\n}}\n"
    )
}

#[test]
fn index_valid() {
    let idx = Index::parse(
        &index_src("            string[] dependencies = { \"libfoo@1.0.0\" };\n"),
        "index.acl",
    )
    .unwrap();
    let p = idx.package("mytool").unwrap();
    assert_eq!(p.latest.as_deref(), Some("1.0.0"));
    let v = p.version("1.0.0").unwrap();
    assert_eq!(v.sha256, SHA);
    assert_eq!(v.dependencies[0].to_string(), "libfoo@1.0.0");
    assert_eq!(idx.package("libfoo").unwrap().versions[0].size, Some(12));
    assert!(idx.package("nope").is_none());
    // Unknown fields (`pkg_base_url`) are kept; printing and parsing gives the same index.
    assert_eq!(p.extra.len(), 1);
    assert_eq!(
        Index::parse(&idx.to_source(), "again.acl")
            .unwrap()
            .packages,
        idx.packages
    );
    // The per-package file has the same shape, one level up.
    let one = PackageEntry::parse(&p.to_source(), "index/mytool.acl").unwrap();
    assert_eq!(&one, p);
}

#[test]
fn index_errors() {
    assert_err(
        Index::parse(&index_src("            int sha256 = 5;\n"), "index.acl"),
        "index.acl:11:17: duplicate-field",
    );
    assert_err(
        Index::parse(
            &index_src("            string[] dependencies = { \"libfoo@^1\" };\n"),
            "index.acl",
        ),
        "index.acl:11:13: dependencies: `^1` is not an exact version",
    );
    assert_err(
        Index::parse(&index_src("            size = \"big\";\n"), "index.acl"),
        "index.acl:11:13: size: expected int, found string",
    );
    let missing = index_src("").replace(&format!("            string sha256 = \"{SHA}\";\n"), "");
    assert_err(
        Index::parse(&missing, "index.acl"),
        "index.acl:7:9: Version \"1.0.0\": missing required field `sha256` (string)",
    );
    let latest = index_src("").replace("string latest = \"1.0.0\"", "string latest = \"2.0.0\"");
    assert_err(
        Index::parse(&latest, "index.acl"),
        "index.acl:5:9: latest: names `2.0.0`, but there is no `Version \"2.0.0\"` block",
    );
    let short = index_src("").replace(
        &format!("string sha256 = \"{SHA}\";\n            bool"),
        "string sha256 = \"abc\";\n            bool",
    );
    assert_err(
        Index::parse(&short, "index.acl"),
        "index.acl:9:13: sha256: expected 64 lowercase hex digits",
    );
}

#[test]
fn registries_file() {
    let src = "Registry \"main\" {\n    string url = \"https://pkgs.example.org\";\n    int priority = 10;\n    bool allow_publish = true;\n    string token_file = \"/home/u/.token\";\n    string mirror_hint = \"eu\";\n}\nRegistry \"local\" { url = \"file:///srv/reg\"; priority = 50; string cache_policy = \"ttl=60\"; }\n";
    let list = RegistryList::parse(src, "registries.acl").unwrap();
    let order: Vec<&str> = list.by_priority().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(order, ["local", "main"]);
    assert_eq!(list.registries[1].cache_ttl.as_secs(), 60);
    assert_eq!(list.registries[0].cache_ttl.as_secs(), 3600);
    assert_eq!(list.registries[0].extra.len(), 1);
    assert_eq!(
        RegistryList::parse(&list.to_source(), "again.acl").unwrap(),
        list
    );
    assert_err(
        RegistryList::parse("Registry \"m\" { priority = 1; }", "r.acl"),
        "r.acl:1:1: Registry \"m\": missing required field `url` (string)",
    );
    assert_err(
        RegistryList::parse(
            "Registry \"m\" { url = \"http://x\"; priority = \"high\"; }",
            "r.acl",
        ),
        "r.acl:1:34: priority: expected int, found string",
    );
    // A bad URL is the daemon's to report for that entry alone; the file still decodes.
    let list = RegistryList::parse("Registry \"m\" { url = \"ftp://x\"; }", "r.acl").unwrap();
    assert_eq!(list.registries[0].url, "ftp://x");
    assert_err(
        RegistryList::parse(
            "Registry \"m\" { url = \"http://x\"; cache_policy = \"forever\"; }",
            "r.acl",
        ),
        "r.acl:1:34: cache_policy: `forever` is not `ttl=<seconds>`",
    );
}

#[test]
fn lockfile() {
    let src = format!(
        "Lock {{\n    string profile = \"default\";\n    int generation = 3;\n    string written_by = \"pandora 9\";\n    Package \"viewer\" {{ string version = \"2.1.0\"; string sha256 = \"{SHA}\"; string registry = \"main\"; }}\n}}\n"
    );
    let lock = Lockfile::parse(&src, "default.lock").unwrap();
    assert_eq!(lock.generation, 3);
    assert_eq!(lock.packages[0].pin.to_string(), "viewer@2.1.0");
    assert_eq!(
        Lockfile::parse(&lock.to_source(), "again.lock").unwrap(),
        lock
    );
    assert_err(
        Lockfile::parse("Lock { string profile = \"d\"; }", "l.lock"),
        "l.lock:1:1: Lock: missing required field `generation`",
    );
    assert_err(
        Lockfile::parse(
            "Lock { profile = \"d\"; generation = 1; Package \"v\" { version = 2; } }",
            "l.lock",
        ),
        "l.lock:1:53: version: expected string, found int",
    );
}

#[test]
fn profile_file() {
    let src = "Profile \"default\" {\n    string[] packages = { \"viewer@2.1.0\" };\n    string conflicts = \"prefer-new\";\n    Override \"bin/convert\" { string package = \"viewer\"; }\n    int future = 1;\n}\n";
    let p = Profile::parse(src, "profile.acl").unwrap();
    assert_eq!(p.conflicts, ConflictStrategy::PreferNew);
    assert_eq!(p.overrides[0].path, "bin/convert");
    assert_eq!(p.extra.len(), 1);
    assert_eq!(Profile::parse(&p.to_source(), "again.acl").unwrap(), p);
    assert_err(
        Profile::parse("Profile \"d\" { }", "p.acl"),
        "p.acl:1:1: Profile \"d\": missing required field `packages` (string[])",
    );
    assert_err(
        Profile::parse("Profile \"d\" { packages = \"a@1\"; }", "p.acl"),
        "p.acl:1:15: packages: expected string[], found string",
    );
    assert_err(
        Profile::parse("Profile \"d\" { packages = {\"a@1\", \"a@2\"}; }", "p.acl"),
        "p.acl:1:15: packages: `a` is requested twice",
    );
}

#[test]
fn hook_files() {
    let hooks = HookFile::parse(
        "preinstall {\n    string action = \"warn\";\n    string msg = \"Backing up config before installing mytool\";\n}\npostinstall { action = \"run\"; command = {\"bin/x\", \"--init\"}; } someday { action = \"x\"; }",
        "hooks/preinstall.acl",
    )
    .unwrap();
    assert_eq!(
        hooks.hooks[0].action,
        HookAction::Warn("Backing up config before installing mytool".into())
    );
    assert!(hooks.runs_commands());
    assert_eq!(hooks.unknown_phases, ["someday"]);
    assert_err(
        HookFile::parse("preinstall { action = \"warn\"; }", "h.acl"),
        "h.acl:1:1: preinstall: missing required field `msg` (string)",
    );
    assert_err(
        HookFile::parse("preinstall { action = 1; }", "h.acl"),
        "h.acl:1:14: action: expected string, found int",
    );
    assert_err(
        HookFile::parse("preinstall { action = \"explode\"; }", "h.acl"),
        "h.acl:1:14: action: `explode` is not one of warn, info, run",
    );
}

#[test]
fn registry_config_and_snapshot() {
    use pandora_common::files::{RegistryMeta, Snapshot};
    let meta = RegistryMeta::parse(
        "Registry \"main\" { int format = 1; int max_package_size = 1000; string motd = \"hi\"; }",
        "config.acl",
    )
    .unwrap();
    assert_eq!(
        (meta.name.as_str(), meta.max_package_size, meta.extra.len()),
        ("main", 1000, 1)
    );
    assert_eq!(
        RegistryMeta::parse(&meta.to_source(), "again.acl").unwrap(),
        meta
    );
    assert_err(
        RegistryMeta::parse("Registry \"main\" { format = 2; }", "config.acl"),
        "config.acl:1:19: format: format 2 is not supported",
    );
    assert_err(
        RegistryMeta::parse("Registry { }", "config.acl"),
        "config.acl:1:1: Registry: needs the registry's name as a label",
    );

    let src = format!(
        "Snapshot {{ registry = \"main\"; serial = 7; generated = 100; expires = 200; File \"index.acl\" {{ sha256 = \"{SHA}\"; size = 10; }} File \"index/a.acl\" {{ sha256 = \"{SHA}\"; size = 3; }} }}"
    );
    let snap = Snapshot::parse(&src, "snapshot.acl").unwrap();
    assert_eq!(snap.serial, 7);
    assert_eq!(snap.file("index/a.acl").unwrap().size, 3);
    assert_eq!(
        Snapshot::parse(&snap.to_source(), "again.acl").unwrap(),
        snap
    );
    assert_err(
        Snapshot::parse(
            "Snapshot { registry = \"m\"; serial = 1; generated = 1; }",
            "snapshot.acl",
        ),
        "snapshot.acl:1:1: Snapshot: missing required field `expires` (int)",
    );
    assert_err(
        Snapshot::parse(
            "Snapshot { registry = \"m\"; serial = -1; generated = 1; expires = 2; }",
            "s.acl",
        ),
        "s.acl:1:28: serial: must not be negative",
    );
    assert_err(
        Snapshot::parse(
            "Snapshot { registry = \"m\"; serial = 1; generated = 1; expires = 2; File \"index.acl\" { sha256 = \"x\"; size = 1; } }",
            "s.acl",
        ),
        "s.acl:1:87: sha256: expected 64 lowercase hex digits",
    );
}

#[test]
fn version_order() {
    use pandora_common::files::compare_versions;
    use std::cmp::Ordering::*;
    for (a, b, want) in [
        ("1.10.0", "1.9.2", Greater),
        ("1.0", "1.0.1", Less),
        ("2.0.0-rc1", "2.0.0-rc2", Less),
        ("1.0.0-rc1", "1.0.0", Less),
        ("1.0.0", "1.0.0~beta", Greater),
        ("1.2.3", "1.2.3", Equal),
        ("0.9", "0.10", Less),
        ("2024.01.5", "2024.1.5", Equal),
    ] {
        assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
        assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
    }
}
