//! Mutations run one at a time; status shows the queue.

use super::*;

#[test]
fn two_clients_install_at_once() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec::new("one", "1.0.0"), PkgSpec::new("two", "1.0.0")],
    );
    let _d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| ctx.client(&["install", "one@1.0.0"]));
        let b = s.spawn(|| ctx.client(&["install", "two@1.0.0"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!((a.code, b.code), (0, 0), "{a:?} {b:?}");
    assert_eq!(ctx.store_entries(), ["one@1.0.0", "two@1.0.0"]);
}

/// Polls `pandora status` until `pred` holds for its plain output.
fn wait_for_status(ctx: &Context, d: &Daemon, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = ctx.plain(&["status"]);
        if pred(&r.stdout) {
            return r.stdout;
        }
        assert!(
            Instant::now() < deadline,
            "status never matched; last: {r:?}\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn status_shows_the_store_and_the_queue() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec {
                payload: &noise("slow", 64 << 10),
                ..PkgSpec::new("slow", "1.0.0")
            },
            PkgSpec::new("next", "1.0.0"),
        ],
    );
    let slow_blob = blob_path(&indexed_sha(&reg, "slow", "1.0.0"));
    let server = TestServer::start(&reg, move |req, _| {
        if req.path == slow_blob {
            Answer::Slow(Duration::from_millis(1500))
        } else {
            Answer::Serve
        }
    });
    let d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(), 0);
    let out = wait_for_status(&ctx, &d, |s| !s.is_empty());
    assert!(
        out.contains("store_packages=0 ") && out.contains("queue=empty"),
        "{out}"
    );

    std::thread::scope(|s| {
        let first = s.spawn(|| ctx.client(&["install", "slow@1.0.0"]));
        wait_for_status(&ctx, &d, |s| {
            s.contains("queue=\"install slow@1.0.0 (running)\"")
        });
        let second = s.spawn(|| ctx.client(&["install", "next@1.0.0"]));
        let out = wait_for_status(&ctx, &d, |s| s.contains("(waiting)"));
        assert!(
            out.contains("queue=\"install slow@1.0.0 (running); install next@1.0.0 (waiting)\""),
            "{out}"
        );
        let (a, b) = (first.join().unwrap(), second.join().unwrap());
        assert_eq!((a.code, b.code), (0, 0), "{a:?} {b:?}");
        // The second client heard why it waited.
        assert!(
            b.stderr.contains(
                "waiting for `install slow@1.0.0` (running) to finish first (changes run one at a time)"
            ),
            "{b:?}"
        );
        assert!(!a.stderr.contains("waiting for"), "{a:?}");
    });
    let r = ctx.client(&["--log", "human", "status"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("store:   2 packages,") && r.stdout.contains("queue:   empty"),
        "{r:?}"
    );
    let r = ctx.plain(&["status"]);
    assert!(r.stdout.contains("store_packages=2 "), "{r:?}");
}
