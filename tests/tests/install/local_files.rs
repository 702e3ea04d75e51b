//! Installs from `file://` registries and from local `.pkg` files.

use super::*;

#[test]
fn install_with_dependencies_from_a_file_registry() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("libfoo", "1.0.0"),
            PkgSpec {
                deps: &["libfoo@1.0.0"],
                hook: Some("preinstall { action = \"info\"; msg = \"setting up app\"; }"),
                ..PkgSpec::new("app", "2.0.0")
            },
            PkgSpec {
                deps: &["libfoo@1.0.0"],
                ..PkgSpec::new("app", "2.1.0")
            },
        ],
    );
    let _d = ctx.start_daemon(&[]);
    assert_eq!(
        ctx.client(&["registry", "add", "main", &file_url(&reg)])
            .code,
        0
    );
    let r = ctx.client(&["--log", "plain", "install", "app@2.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("result=\"installed app@2.0.0 (from main)\""),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("result=\"installed libfoo@1.0.0 (from main)\""),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("setting up app"),
        "the info hook is shown: {r:?}"
    );
    assert_eq!(ctx.store_entries(), ["app@2.0.0", "libfoo@1.0.0"]);
    // The store entry: files, files.acl, the verified archive hash, read-only files.
    let entry = ctx.pandora_home().join("store/app/2.0.0");
    let script = entry.join("files/bin/app");
    assert_eq!(
        std::fs::read_to_string(&script).unwrap(),
        "#!/bin/sh\necho app 2.0.0\n"
    );
    assert_eq!(
        std::fs::metadata(&script).unwrap().permissions().mode() & 0o777,
        0o555
    );
    let files = FileList::parse(
        &std::fs::read_to_string(entry.join("files.acl")).unwrap(),
        "files.acl",
    )
    .unwrap();
    assert!(files.files.iter().any(|f| f.path == "files/bin/app"));
    let manifest = Manifest::parse(
        &std::fs::read_to_string(entry.join("manifest.acl")).unwrap(),
        "m",
    )
    .unwrap();
    let index = Index::parse(
        &std::fs::read_to_string(reg.join("index.acl")).unwrap(),
        "i",
    )
    .unwrap();
    assert_eq!(
        manifest.archive_sha256.as_deref(),
        Some(
            index
                .package("app")
                .unwrap()
                .version("2.0.0")
                .unwrap()
                .sha256
                .as_str()
        )
    );
    let events = std::fs::read_to_string(ctx.pandora_home().join("log/events.log")).unwrap();
    assert!(
        events.contains(" install app@2.0.0 sha256=") && events.contains("registry=main"),
        "{events}"
    );
    // A bare name means the registry's latest, and the pin is printed.
    let r = ctx.client(&["--log", "plain", "install", "app"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("app is app@2.1.0 (latest in registry `main`)"),
        "{r:?}"
    );
    assert!(r.stdout.contains("installed app@2.1.0"), "{r:?}");
    // Already there: nothing to do.
    let r = ctx.client(&["--log", "plain", "install", "app@2.0.0"]);
    assert!(r.stdout.contains("already installed app@2.0.0"), "{r:?}");
    let r = ctx.client(&["--log", "plain", "list", "--store"]);
    assert_eq!(r.stdout.lines().count(), 3, "{r:?}");
    assert!(ctx.tmp_entries().is_empty());
}

#[test]
fn a_local_package_installs_with_registry_dependencies() {
    let ctx = Context::new();
    let reg = ctx.registry_of("main", &[PkgSpec::new("libgreet", "2.1.0")]);
    let _d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let pkg = ctx.path().join("hello.pkg");
    assert_eq!(
        ctx.run(&[
            "pack",
            repo_root().join("examples/hello").to_str().unwrap(),
            "-o",
            pkg.to_str().unwrap()
        ])
        .code,
        0
    );
    let r = ctx.client(&["--log", "plain", "install", "./hello.pkg"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("installed hello@1.0.0 (from local)"),
        "{r:?}"
    );
    assert_eq!(ctx.store_entries(), ["hello@1.0.0", "libgreet@2.1.0"]);
}
