//! The store and the blob cache: verify, prune --cache.

use super::*;

#[test]
fn verify_detects_modified_deleted_and_added_files() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("app", "1.0.0"),
            PkgSpec::new("lib", "1.0.0"),
            PkgSpec::new("ok", "1.0.0"),
        ],
    );
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);
    assert_eq!(
        ctx.client(&["install", "app@1.0.0", "lib@1.0.0", "ok@1.0.0"])
            .code,
        0
    );
    let r = ctx.plain(&["verify", "--all"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "result=\"ok app@1.0.0 (checked: files, cached archive sha256)\"\nresult=\"ok lib@1.0.0 (checked: files, cached archive sha256)\"\nresult=\"ok ok@1.0.0 (checked: files, cached archive sha256)\"\n"
    );

    // Modify app's script (same size, other bytes), add a file next to it, delete lib's.
    let store = ctx.pandora_home().join("store");
    let script = store.join("app/1.0.0/files/bin/app");
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    std::fs::write(&script, "#!/bin/sh\necho app 6.6.6\n").unwrap();
    std::fs::write(store.join("app/1.0.0/files/bin/intruder"), "x").unwrap();
    std::fs::remove_file(store.join("lib/1.0.0/files/bin/lib")).unwrap();

    let r = ctx.client(&["verify", "--all"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        r.stdout,
        "result=\"app@1.0.0: 2 problems\"\nresult=\"lib@1.0.0: 1 problem\"\nresult=\"ok ok@1.0.0 (checked: files, cached archive sha256)\"\n"
    );
    for want in [
        "event=warning code=verify-problem subject=app@1.0.0 message=\"app@1.0.0: changed: files/bin/app (content differs)\"",
        "event=warning code=verify-problem subject=app@1.0.0 message=\"app@1.0.0: extra: files/bin/intruder\"",
        "event=warning code=verify-problem subject=lib@1.0.0 message=\"lib@1.0.0: missing: files/bin/lib\"",
    ] {
        assert!(r.stderr.lines().any(|l| l == want), "{want}: {r:?}");
    }
    let r = ctx.client(&["verify", "lib@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    let r = ctx.client(&["--log", "human", "verify", "ok@1.0.0"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "ok ok@1.0.0 (checked: files, cached archive sha256)\n"),
        "{r:?}"
    );
    let r = ctx.client(&["--log", "human", "verify", "app@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("warning: app@1.0.0: changed: files/bin/app (content differs)\n"),
        "{r:?}"
    );
    let r = ctx.client(&["verify", "nope@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[not-found]: nope@1.0.0 is not in the store"),
        "{r:?}"
    );
}

#[test]
fn prune_cache_removes_blobs_no_registry_lists_or_past_their_ttl() {
    let ctx = Context::new();
    let main = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("app", "1.0.0"),
            PkgSpec::new("old", "1.0.0"),
            PkgSpec::new("spare", "1.0.0"),
        ],
    );
    let gone = ctx.registry_of("gone", &[PkgSpec::new("tool", "1.0.0")]);
    let (s1, s2) = (
        ctx.serve_registry(&main, &[]),
        ctx.serve_registry(&gone, &[]),
    );
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &s1.url(""), 0);
    ctx.add_registry("gone", &s2.url(""), 0);
    let r = ctx.client(&["install", "app@1.0.0", "old@1.0.0", "tool@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = ctx.client(&["install", "spare@1.0.0", "--no-activate"]);
    assert_eq!(r.code, 0, "{r:?}");
    // spare leaves the store: its blob, though listed and fresh, goes with it.
    let r = ctx.client(&["remove", "spare@1.0.0", "--purge"]);
    assert_eq!(r.code, 0, "{r:?}");
    let (app, old, tool, spare) = (
        indexed_sha(&main, "app", "1.0.0"),
        indexed_sha(&main, "old", "1.0.0"),
        indexed_sha(&gone, "tool", "1.0.0"),
        indexed_sha(&main, "spare", "1.0.0"),
    );
    let mut all = vec![app.clone(), old.clone(), tool.clone(), spare.clone()];
    all.sort();
    assert_eq!(ctx.cached_blobs(), all);
    let blobs = ctx.pandora_home().join("cache/blobs/sha256");
    // `old` was downloaded two hours ago; `tool`'s registry goes away.
    let st = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(blobs.join(&old))
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(ctx.client(&["registry", "remove", "gone"]).code, 0);
    let size = |sha: &str| std::fs::metadata(blobs.join(sha)).unwrap().len();
    let (old_size, tool_size, spare_size) = (size(&old), size(&tool), size(&spare));

    let r = ctx.client(&["--log", "human", "prune", "--cache", "--dry-run"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mut lines: Vec<&str> = r.stdout.lines().collect();
    let last = lines.pop().unwrap();
    lines.sort();
    let mut want = vec![
        format!("would remove {old} ({old_size} bytes): older than its cache TTL (3600s)"),
        format!("would remove {tool} ({tool_size} bytes): no registry lists it"),
        format!("would remove {spare} ({spare_size} bytes): its version is not in the store"),
    ];
    want.sort();
    assert_eq!(lines, want, "{r:?}");
    let freed = old_size + tool_size + spare_size;
    assert_eq!(last, format!("would free {freed} bytes in 3 blobs"));
    assert_eq!(ctx.cached_blobs(), all, "a dry run removes nothing");

    let r = ctx.client(&["--log", "human", "prune", "--cache"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains(&format!("freed {freed} bytes in 3 blobs")),
        "{r:?}"
    );
    assert_eq!(ctx.cached_blobs(), vec![app], "listed and fresh: kept");
    let r = ctx.client(&["--log", "human", "prune", "--cache"]);
    assert_eq!(r.stdout, "nothing to prune in the blob cache\n", "{r:?}");
    // The store is not the cache: everything installed is still there.
    assert_eq!(
        ctx.store_entries(),
        ["app@1.0.0", "old@1.0.0", "tool@1.0.0"]
    );
}

#[test]
fn the_store_index_speeds_up_a_start_but_never_hides_a_change_made_by_hand() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("app", "1.0.0"),
            PkgSpec::new("lib", "1.0.0"),
            PkgSpec::new("ok", "1.0.0"),
            PkgSpec::new("same", "1.0.0"),
        ],
    );
    let d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &file_url(&reg), 0);
    let r = ctx.plain(&[
        "install",
        "app@1.0.0",
        "lib@1.0.0",
        "ok@1.0.0",
        "same@1.0.0",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    // Directories changed in the last 100 ms are looked at again every time; later, a look
    // saves their stamps for good.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(ctx.plain(&["list", "--store"]).code, 0);
    d.stop();
    let index = ctx.pandora_home().join("cache/store-index");
    assert!(index.is_file(), "the daemon saved no store index");
    // A start with nothing changed reads no entry.
    let loaded = |log: &str| {
        log.lines()
            .rfind(|l| l.contains("store loaded"))
            .unwrap_or("")
            .to_string()
    };
    let d = ctx.start_daemon(&[]);
    let r = ctx.plain(&["list", "--store"]);
    assert!(r.stdout.contains("name=ok version=1.0.0 "), "{r:?}");
    let line = loaded(&d.log());
    assert!(
        line.contains("entries=4") && line.contains("from_index=4") && line.contains("read=0"),
        "{line}"
    );
    d.stop();

    // With the daemon stopped, by hand: a version deleted, a manifest deleted, an entry
    // copied under another version.
    let store = ctx.pandora_home().join("store");
    let writable = |path: &str, recursive: bool| {
        let mut chmod = std::process::Command::new("chmod");
        if recursive {
            chmod.arg("-R");
        }
        assert!(
            chmod
                .arg("u+w")
                .arg(store.join(path))
                .status()
                .unwrap()
                .success()
        );
    };
    writable("lib", true);
    writable("ok/1.0.0", false);
    writable("app", false);
    std::fs::remove_dir_all(store.join("lib/1.0.0")).unwrap();
    std::fs::remove_file(store.join("ok/1.0.0/manifest.acl")).unwrap();
    let copy = std::process::Command::new("cp")
        .arg("-a")
        .arg(store.join("app/1.0.0"))
        .arg(store.join("app/9.9.9"))
        .status()
        .unwrap();
    assert!(copy.success());
    let expect = |r: &Run| {
        assert_eq!(r.code, 0, "{r:?}");
        assert!(r.stdout.contains("name=app version=1.0.0 "), "{r:?}");
        // What nobody touched is still there, taken from the index.
        assert!(r.stdout.contains("name=same version=1.0.0 "), "{r:?}");
        assert!(!r.stdout.contains("name=lib"), "{r:?}");
        assert!(!r.stdout.contains("name=ok"), "{r:?}");
        assert!(r.stderr.contains("code=damaged subject=ok@1.0.0"), "{r:?}");
        assert!(
            r.stderr.contains("code=damaged subject=app@9.9.9")
                && r.stderr.contains("its manifest says it is app@1.0.0"),
            "{r:?}"
        );
    };
    let d = ctx.start_daemon(&[]);
    expect(&ctx.plain(&["list", "--store"]));
    // Only what changed was read: ok's entry and the copy (lib's is gone).
    let line = loaded(&d.log());
    assert!(
        line.contains("entries=2") && line.contains("read=2"),
        "{line}"
    );
    d.stop();

    // A damaged index is not used: the store is read again and the index rebuilt.
    std::fs::write(&index, "pandora store index 2\ngarbage").unwrap();
    let _d = ctx.start_daemon(&[]);
    expect(&ctx.plain(&["list", "--store"]));
    let saved = std::fs::read(&index).unwrap();
    assert!(saved.len() > 100, "the index was not rebuilt");
}
