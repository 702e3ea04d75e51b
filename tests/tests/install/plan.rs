//! What an install resolves and asks before it changes anything.

use super::*;

#[test]
fn install_with_dependencies_over_http() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("libfoo", "1.0.0"),
            PkgSpec {
                deps: &["libfoo@1.0.0"],
                ..PkgSpec::new("app", "1.0.0")
            },
        ],
    );
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);

    let r = ctx.plain(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("installed app@1.0.0 (from main)")
            && r.stdout.contains("installed libfoo@1.0.0 (from main)"),
        "{r:?}"
    );
    assert_eq!(ctx.store_entries(), ["app@1.0.0", "libfoo@1.0.0"]);
    let (app, libfoo) = (
        indexed_sha(&reg, "app", "1.0.0"),
        indexed_sha(&reg, "libfoo", "1.0.0"),
    );
    // Both blobs are in the cache under their hash, byte for byte what the registry holds.
    let mut want = vec![app.clone(), libfoo.clone()];
    want.sort();
    assert_eq!(ctx.cached_blobs(), want);
    for sha in &want {
        assert_eq!(
            sha256_file(&ctx.pandora_home().join("cache/blobs/sha256").join(sha)),
            *sha
        );
    }
    assert_eq!(ctx.stored_sha("app", "1.0.0"), app);
    let script = ctx.pandora_home().join("store/app/1.0.0/files/bin/app");
    assert_eq!(
        std::fs::read_to_string(&script).unwrap(),
        "#!/bin/sh\necho app 1.0.0\n"
    );
    assert_eq!(ctx.tmp_entries(), Vec::<String>::new());
    // The daemon asked over HTTP: the server logged the blob downloads.
    let log = server.log();
    assert!(
        log.contains(&format!("path=\"/blobs/sha256/{app}\"")),
        "{log}"
    );
}

#[test]
fn the_higher_priority_registry_wins() {
    let ctx = Context::new();
    let specs = |payload: &'static str| {
        [
            PkgSpec {
                payload,
                ..PkgSpec::new("dup", "1.0.0")
            },
            PkgSpec {
                payload,
                ..PkgSpec::new("dup2", "1.0.0")
            },
        ]
    };
    let low = ctx.registry_of("low", &specs("# low\n"));
    let high = ctx.registry_of("high", &specs("# high\n"));
    let (low_server, high_server) = (
        ctx.serve_registry(&low, &[]),
        ctx.serve_registry(&high, &[]),
    );
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("low", &low_server.url(""), 1);
    ctx.add_registry("high", &high_server.url(""), 10);

    let r = ctx.plain(&["install", "dup@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("installed dup@1.0.0 (from high)"),
        "{r:?}"
    );
    assert_eq!(
        ctx.stored_sha("dup", "1.0.0"),
        indexed_sha(&high, "dup", "1.0.0")
    );
    assert!(
        std::fs::read_to_string(ctx.pandora_home().join("store/dup/1.0.0/files/bin/dup"))
            .unwrap()
            .ends_with("# high\n")
    );

    // Swap the priorities: `low` is now asked first.
    ctx.add_registry("low", &low_server.url(""), 20);
    let r = ctx.plain(&["install", "dup2@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("installed dup2@1.0.0 (from low)"),
        "{r:?}"
    );
    assert_eq!(
        ctx.stored_sha("dup2", "1.0.0"),
        indexed_sha(&low, "dup2", "1.0.0")
    );
    let events = std::fs::read_to_string(ctx.pandora_home().join("log/events.log")).unwrap();
    assert!(
        events.contains("install dup@1.0.0 sha256=") && events.contains("registry=high"),
        "{events}"
    );
}

#[test]
fn a_dependency_missing_everywhere_installs_nothing() {
    let ctx = Context::new();
    let one = ctx.registry_of(
        "one",
        &[
            PkgSpec::new("ok", "1.0.0"),
            PkgSpec {
                deps: &["ghost@9.9.9"],
                ..PkgSpec::new("app", "1.0.0")
            },
        ],
    );
    let two = ctx.registry_of("two", &[PkgSpec::new("ghost", "1.0.0")]);
    let (s1, s2) = (ctx.serve_registry(&one, &[]), ctx.serve_registry(&two, &[]));
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("one", &s1.url(""), 5);
    ctx.add_registry("two", &s2.url(""), 1);

    let r = ctx.client(&["install", "ok@1.0.0", "app@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "error[not-found]: ghost@9.9.9, needed by app@1.0.0, is in no registry (asked `one`, `two`); nothing was installed"
        ),
        "{r:?}"
    );
    assert!(r.stderr.contains("hint: pandora search ghost"), "{r:?}");
    assert_nothing_left(&ctx);
}

#[test]
fn a_missing_dependency_installs_nothing() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec {
                deps: &["ghost@9.9.9"],
                ..PkgSpec::new("app", "1.0.0")
            },
            PkgSpec::new("ok", "1.0.0"),
        ],
    );
    let _d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let r = ctx.client(&["install", "ok@1.0.0", "app@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("ghost@9.9.9, needed by app@1.0.0, is in no registry (asked `main`); nothing was installed"),
        "{r:?}"
    );
    assert!(
        ctx.store_entries().is_empty(),
        "ok@1.0.0 is not installed either"
    );
    assert!(ctx.tmp_entries().is_empty());
}

/// Runs `pandora ARGS` asked as at a terminal, answering `answer`.
fn with_answer(ctx: &Context, args: &[&str], answer: &str) -> Run {
    ctx.answering(args, answer)
}

#[test]
fn install_shows_the_plan_and_asks_at_a_terminal() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("libfoo", "1.0.0"),
            PkgSpec {
                deps: &["libfoo@1.0.0"],
                ..PkgSpec::new("app", "1.0.0")
            },
        ],
    );
    let _d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    // No: the plan is shown, nothing is installed.
    let r = with_answer(&ctx, &["--log", "human", "install", "app"], "n\n");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("will install app@1.0.0 from registry `main`"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("will install libfoo@1.0.0 from registry `main`")
            && r.stdout.contains("for app@1.0.0"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("Install 2 packages") && r.stderr.contains("nothing installed"),
        "{r:?}"
    );
    assert!(ctx.store_entries().is_empty());
    // Yes: the confirmed plan is applied.
    let r = with_answer(&ctx, &["--log", "plain", "install", "app"], "y\n");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ctx.store_entries(), ["app@1.0.0", "libfoo@1.0.0"]);
    // --yes answers for the user: no question.
    let other = ctx.registry_of("more", &[PkgSpec::new("tool", "1.0.0")]);
    ctx.client(&["registry", "add", "more", &file_url(&other)]);
    let r = with_answer(&ctx, &["--yes", "install", "tool@1.0.0"], "");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("[Y/n]"), "{r:?}");
}

#[test]
fn a_plan_that_changed_after_it_was_shown_is_refused() {
    let ctx = Context::new();
    let reg = ctx.registry_of("main", &[PkgSpec::new("app", "1.0.0")]);
    let _d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let asking = ctx.asking(&["install", "app"]);
    // While the user reads the plan, the registry publishes a newer app: `app` now means 2.0.0.
    let pkg = ctx.pack(&PkgSpec::new("app", "2.0.0"));
    registry_tool(&["add".as_ref(), reg.as_os_str(), pkg.as_os_str()]);
    let (code, err) = asking.answer("y\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("the plan changed after it was shown"), "{err}");
    assert!(ctx.store_entries().is_empty(), "nothing installed");
}
