//! Install and remove hooks: `run` hooks execute in the sandbox at their phase, their output
//! reaches the client, the plan shows them, and a failure has the documented effect.

use super::*;

/// All four phases: each run hook leaves a mark in the package's state directory.
const ALL_PHASES: &str = "\
preinstall { string action = \"run\"; string[] command = { \"/bin/sh\", \"-c\", \"echo pre ran; touch /state/preinstall\" }; }
postinstall { string action = \"run\"; string[] command = { \"/bin/sh\", \"-c\", \"bin/hooked; echo uid=$(id -u) cwd=$PWD home=$HOME; touch /state/postinstall; touch /pkg/x 2>/dev/null || echo pkg-read-only\" }; }
preremove { string action = \"run\"; string[] command = { \"/bin/sh\", \"-c\", \"touch /state/preremove\" }; }
postremove { string action = \"run\"; string[] command = { \"/bin/sh\", \"-c\", \"test -x /pkg/bin/hooked && touch /state/postremove\" }; }
postinstall { string action = \"info\"; string msg = \"hooked is ready\"; }
";

fn registry_with(ctx: &Context, hook: &'static str) -> pandora_tests::http::Server {
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec {
            hook: Some(hook),
            ..PkgSpec::new("hooked", "1.0.0")
        }],
    );
    ctx.serve_registry(&reg, &[])
}

#[test]
fn run_hooks_run_in_the_sandbox_at_each_phase() {
    let ctx = Context::new();
    let server = registry_with(&ctx, ALL_PHASES);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);

    // The plan names every hook the install will run.
    let plan = ctx
        .pandora()
        .env("PANDORA_NO_AUTOSTART", "1")
        .env("PANDORA_ASK", "1")
        .args(["--log", "plain", "install", "hooked@1.0.0"])
        .stdin(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&plan.stdout);
    assert!(
        stdout.contains("hooks=\"preinstall: /bin/sh -c 'echo pre ran; touch /state/preinstall'; postinstall: /bin/sh -c 'bin/hooked;"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&plan.stderr).contains("running 4 hooks in the sandbox)? [Y/n]"),
        "{plan:?}"
    );
    assert!(ctx.store_entries().is_empty(), "the answer was no");

    let r = ctx.plain(&["install", "hooked@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    for line in [
        "hooked@1.0.0 (preinstall): pre ran",
        "hooked@1.0.0 (postinstall): hooked 1.0.0",
        "hooked@1.0.0 (postinstall): uid=0 cwd=/pkg home=/state",
        "hooked@1.0.0 (postinstall): pkg-read-only",
        "hooked@1.0.0 (postinstall): hooked is ready",
    ] {
        assert!(r.stderr.contains(line), "{line}: {r:?}");
    }
    assert!(r.stdout.contains("activated hooked@1.0.0"), "{r:?}");
    let state = ctx.pandora_home().join("state/hooked");
    assert!(state.join("preinstall").exists());
    assert!(state.join("postinstall").exists());
    let events = std::fs::read_to_string(ctx.pandora_home().join("log/events.log")).unwrap();
    assert!(
        events.contains("hook hooked@1.0.0 preinstall ok"),
        "{events}"
    );
    assert!(
        events.contains("hook hooked@1.0.0 postinstall ok"),
        "{events}"
    );

    // Removing it from the store runs preremove, then postremove (which still sees the
    // package's files).
    assert_eq!(ctx.plain(&["deactivate", "hooked"]).code, 0);
    assert_eq!(
        ctx.plain(&["prune", "--generations", "--keep", "1"]).code,
        0
    );
    let r = ctx.plain(&["remove", "hooked@1.0.0", "--purge"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(state.join("preremove").exists(), "{r:?}");
    assert!(state.join("postremove").exists(), "{r:?}");
    assert!(ctx.store_entries().is_empty());
    assert!(ctx.tmp_entries().is_empty(), "{:?}", ctx.tmp_entries());
}

#[test]
fn a_failing_preinstall_installs_nothing_and_a_failing_postinstall_does_not_activate() {
    let ctx = Context::new();
    let pre = ctx.registry_of(
        "pre",
        &[PkgSpec {
            hook: Some(
                "preinstall { string action = \"run\"; string[] command = { \"/bin/sh\", \"-c\", \"echo no; exit 3\" }; }",
            ),
            ..PkgSpec::new("hooked", "1.0.0")
        }],
    );
    let post = ctx.registry_of(
        "post",
        &[PkgSpec {
            hook: Some(
                "postinstall { string action = \"run\"; string[] command = { \"/bin/false\" }; }",
            ),
            ..PkgSpec::new("later", "1.0.0")
        }],
    );
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("pre", &file_url(&pre), 0);
    ctx.add_registry("post", &file_url(&post), 1);

    let r = ctx.plain(&["install", "hooked@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "error[hook-failed]: hooked@1.0.0: its preinstall hook `/bin/sh -c 'echo no; exit 3'` exited with status 3; nothing was installed"
        ),
        "{r:?}"
    );
    assert!(r.stderr.contains("hooked@1.0.0 (preinstall): no"), "{r:?}");
    assert!(ctx.store_entries().is_empty());
    assert!(ctx.tmp_entries().is_empty(), "{:?}", ctx.tmp_entries());

    let r = ctx.plain(&["install", "later@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains(
            "its postinstall hook `/bin/false` exited with status 1; it stays in the store, not activated"
        ),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(
            "not activated, because the postinstall hook of later@1.0.0 failed; once that is fixed: pandora activate later@1.0.0"
        ),
        "{r:?}"
    );
    assert_eq!(ctx.store_entries(), ["later@1.0.0"]);
    assert!(!ctx.path().join("bin/later").exists());
}

#[test]
fn a_hook_that_runs_too_long_is_killed_and_the_daemon_carries_on() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec {
            hook: Some(
                "preinstall { string action = \"run\"; string[] command = { \"/bin/sh\", \"-c\", \"while :; do :; done\" }; int timeout = 1; }",
            ),
            ..PkgSpec::new("slow", "1.0.0")
        }],
    );
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &file_url(&reg), 0);
    let r = ctx.plain(&["install", "slow@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("its preinstall hook `/bin/sh -c 'while :; do :; done'` ran out of time (1 s) and was killed; nothing was installed"),
        "{r:?}"
    );
    assert_eq!(ctx.plain(&["status"]).code, 0, "the daemon answers");
    assert!(ctx.store_entries().is_empty());
}
