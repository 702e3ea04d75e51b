//! Registries that lie, cut connections, change under the client or are down: an install
//! verifies what it downloads, resumes, and leaves nothing behind when it fails.

use super::*;
use std::time::{Duration, Instant};

/// A registry `main` holding app@1.0.0 with `payload` bytes of noise, and its blob's sha256.
fn app_registry(ctx: &Context, payload: usize) -> (std::path::PathBuf, String) {
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec {
            payload: &noise("app", payload),
            ..PkgSpec::new("app", "1.0.0")
        }],
    );
    let sha = indexed_sha(&reg, "app", "1.0.0");
    (reg, sha)
}

#[test]
fn a_blob_with_the_wrong_hash_or_size_is_discarded() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec {
                payload: &noise("app", 16 << 10),
                ..PkgSpec::new("app", "1.0.0")
            },
            PkgSpec::new("small", "1.0.0"),
        ],
    );
    let (app, small) = (
        indexed_sha(&reg, "app", "1.0.0"),
        indexed_sha(&reg, "small", "1.0.0"),
    );
    // The registry now serves, for app@1.0.0, another valid app@1.0.0 (smaller, so only the
    // hash can tell), and for small@1.0.0 more bytes than its index entry declares.
    let liar = ctx.pack(&PkgSpec {
        payload: "# not what was published\n",
        ..PkgSpec::new("app", "1.0.0")
    });
    let liar_sha = sha256_file(&liar);
    let blobs = reg.join("blobs/sha256");
    let original_app = std::fs::read(blobs.join(&app)).unwrap();
    std::fs::copy(&liar, blobs.join(&app)).unwrap();
    std::fs::write(blobs.join(&small), &original_app).unwrap();
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);

    let r = ctx.client(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "error[fetch]: registry `main`: the download of app@1.0.0 has sha256 {liar_sha}, the index says {app}; it was discarded"
        )),
        "{r:?}"
    );
    assert_nothing_left(&ctx);

    let r = ctx.client(&["install", "small@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("the download of small@1.0.0 is larger than the declared"),
        "{r:?}"
    );
    assert_nothing_left(&ctx);
}

#[test]
fn a_download_cut_once_resumes_with_range() {
    let ctx = Context::new();
    let (reg, sha) = app_registry(&ctx, 256 << 10);
    let size = std::fs::metadata(reg.join("blobs/sha256").join(&sha))
        .unwrap()
        .len();
    let blob = blob_path(&sha);
    let b = blob.clone();
    let server = TestServer::start(&reg, move |req, earlier| {
        if req.path == b && earlier < 1 {
            Answer::Cut
        } else {
            Answer::Serve
        }
    });
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(), 0);

    let r = ctx.plain(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("installed app@1.0.0 (from main)"),
        "{r:?}"
    );
    assert_eq!(ctx.cached_blobs(), vec![sha.clone()]);
    assert_eq!(ctx.stored_sha("app", "1.0.0"), sha);
    let requests = server.requests(&blob);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].range, None);
    // The second request asks only for what is missing.
    assert_eq!(
        requests[1].range.as_deref(),
        Some(format!("bytes={}-", size / 2).as_str()),
        "{requests:?}"
    );
    assert_eq!(ctx.tmp_entries(), Vec::<String>::new());
}

#[test]
fn a_resumed_download_from_a_server_that_ignores_range_skips_what_it_has() {
    // The unpacker reads the download as it arrives, so a retry cannot start over: the bytes
    // already read are skipped when the server sends the whole file again.
    let ctx = Context::new();
    let (reg, sha) = app_registry(&ctx, 256 << 10);
    let blob = blob_path(&sha);
    let b = blob.clone();
    let server = TestServer::start(&reg, move |req, earlier| match earlier {
        0 if req.path == b => Answer::Cut,
        _ if req.path == b => Answer::IgnoreRange,
        _ => Answer::Serve,
    });
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(), 0);

    let r = ctx.plain(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    let requests = server.requests(&blob);
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(requests[1].range.is_some(), "{requests:?}");
    assert_eq!(ctx.cached_blobs(), vec![sha.clone()]);
    assert_eq!(
        sha256_file(&ctx.pandora_home().join("cache/blobs/sha256").join(&sha)),
        sha
    );
    assert_eq!(ctx.stored_sha("app", "1.0.0"), sha);
    assert_eq!(ctx.tmp_entries(), Vec::<String>::new());
}

#[test]
fn a_redirected_download_with_a_chunked_body_installs() {
    // Pandora's own HTTP/1.1 client reads plain `http://` downloads with a Content-Length;
    // a redirect or a chunked body goes to the general client, which follows and decodes it.
    let ctx = Context::new();
    let (reg, sha) = app_registry(&ctx, 256 << 10);
    let blob = blob_path(&sha);
    let moved = format!("{blob}?moved");
    let (b, m) = (blob.clone(), moved.clone());
    let server = TestServer::start(&reg, move |req, _| match &req.path {
        p if *p == b => Answer::Redirect(m.clone()),
        p if *p == m => Answer::Chunked,
        _ => Answer::Serve,
    });
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(), 0);

    let r = ctx.plain(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    // Once from each client, then the chunked body from where the redirect points.
    assert_eq!(
        server.requests(&blob).len(),
        2,
        "{:?}",
        server.requests(&blob)
    );
    assert_eq!(server.requests(&moved).len(), 1);
    assert_eq!(ctx.cached_blobs(), vec![sha.clone()]);
    assert_eq!(ctx.stored_sha("app", "1.0.0"), sha);
    assert_eq!(ctx.tmp_entries(), Vec::<String>::new());
}

#[test]
fn a_download_that_is_not_a_package_is_refused_and_leaves_nothing() {
    let ctx = Context::new();
    let (reg, sha) = app_registry(&ctx, 1 << 20);
    let path = reg.join("blobs/sha256").join(&sha);
    let size = std::fs::metadata(&path).unwrap().len() as usize;
    // Same size, but not zstd: the unpacker, reading as it arrives, gives up at once.
    std::fs::write(
        &path,
        &"not a package\n".repeat(size / 14 + 1).as_bytes()[..size],
    )
    .unwrap();
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);

    let r = ctx.client(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[invalid-package]: app@1.0.0 from `main` is not a valid package"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(
            "hint: nothing of it was kept; try again: pandora install app@1.0.0; if it fails the same way, the registry holds a damaged copy (`pandora-registry check DIR` finds those)"
        ),
        "{r:?}"
    );
    assert_nothing_left(&ctx);
}

#[test]
fn a_download_cut_every_time_fails_and_leaves_nothing() {
    let ctx = Context::new();
    let (reg, sha) = app_registry(&ctx, 64 << 10);
    let blob = blob_path(&sha);
    let b = blob.clone();
    let server = TestServer::start(&reg, move |req, _| {
        if req.path == b {
            Answer::Cut
        } else {
            Answer::Serve
        }
    });
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(), 0);

    let r = ctx.client(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    let err = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error["))
        .unwrap_or("");
    assert!(
        err.starts_with("error[fetch]: registry `main`: cannot get app@1.0.0 (")
            && err.contains(&format!("blobs/sha256/{sha}"))
            && err.ends_with("(after 4 attempts)"),
        "{r:?}"
    );
    assert_eq!(server.requests(&blob).len(), 4);
    assert_nothing_left(&ctx);
}

#[test]
fn an_index_file_that_does_not_match_the_snapshot_is_refused() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec::new("app", "1.0.0"), PkgSpec::new("lib", "1.0.0")],
    );
    // Someone edits index files in place, without a new snapshot: one grows, one keeps its
    // size.
    for (name, from, to) in [
        ("app", "package app", "package app, edited"),
        ("lib", "package lib", "package LIB"),
    ] {
        let index_file = reg.join(format!("index/{name}.acl"));
        let text = std::fs::read_to_string(&index_file).unwrap();
        std::fs::write(&index_file, text.replace(from, to)).unwrap();
        assert_ne!(std::fs::read_to_string(&index_file).unwrap(), text);
    }
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);

    for (pin, why) in [
        ("app@1.0.0", "(larger than the "),
        ("lib@1.0.0", "(sha256 "),
    ] {
        let name = pin.split('@').next().unwrap();
        let r = ctx.client(&["install", pin]);
        assert_eq!(r.code, 1, "{r:?}");
        assert!(
            r.stderr.contains(&format!(
                "registry `main`: index/{name}.acl does not match its snapshot {why}"
            )),
            "{r:?}"
        );
        assert!(
            r.stderr
                .starts_with(&format!("error[unavailable]: cannot find {pin}: ")),
            "{r:?}"
        );
        assert_nothing_left(&ctx);
        // The edited file was not cached either.
        assert!(
            !ctx.pandora_home()
                .join(format!("cache/index/main/index/{name}.acl"))
                .exists()
        );
    }
}

#[test]
fn a_registry_update_within_the_snapshot_ttl_is_not_a_mismatch() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec::new("app", "1.0.0"), PkgSpec::new("lib", "1.0.0")],
    );
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);
    // The snapshot is now cached for an hour; index/lib.acl was never fetched.
    assert_eq!(ctx.client(&["install", "app@1.0.0"]).code, 0);
    let lib2 = ctx.pack(&PkgSpec::new("lib", "2.0.0"));
    registry_tool(&["add".as_ref(), reg.as_os_str(), lib2.as_os_str()]);
    // index/lib.acl changed with the registry's new snapshot: an honest update, not an attack.
    let r = ctx.plain(&["install", "lib@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("installed lib@1.0.0 (from main)"),
        "{r:?}"
    );
    let r = ctx.plain(&["install", "lib@2.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
}

/// A registry that is down is reported with its name; the others still answer reads.
#[test]
fn a_registry_that_is_down_is_named_and_the_others_still_answer() {
    let ctx = Context::new();
    let reg = ctx.registry_of("main", &[PkgSpec::new("app", "1.0.0")]);
    let server = ctx.serve_registry(&reg, &[]);
    // Nothing listens on port 1: connections are refused at once.
    let dead_url = "http://127.0.0.1:1";
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);
    ctx.add_registry("down", dead_url, 10);
    let r = ctx.plain(&["search", "app"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("name=app version=1.0.0"), "{r:?}");
    assert!(
        r.stderr.contains(
            "registry `down`: cannot get snapshot.acl: http://127.0.0.1:1/snapshot.acl: "
        ),
        "{r:?}"
    );
    let r = ctx.client(&["install", "ghost@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("(asked `down`, `main`)")
            && r.stderr
                .contains("registry `down`: cannot get snapshot.acl"),
        "{r:?}"
    );
    // A name one letter off: the registry that answered still suggests the right one.
    let r = ctx.client(&["install", "ap"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "hint: did you mean `app`? pandora install app (a registry did not answer: pandora registry list shows them)"
        ),
        "{r:?}"
    );
}

#[test]
fn index_files_are_fetched_together_not_one_round_trip_at_a_time() {
    // Over a network each index file is a round trip: the resolver asks for the index files
    // of every package waiting in its queue at once, a wave per level of dependencies. The
    // server holds each index request for a while and counts how many are held at once.
    let ctx = Context::new();
    let deps = ["d1@1.0.0", "d2@1.0.0", "d3@1.0.0", "d4@1.0.0", "d5@1.0.0"];
    let mut specs: Vec<PkgSpec> = ["d1", "d2", "d3", "d4", "d5", "t1", "t2"]
        .iter()
        .map(|n| PkgSpec::new(n, "1.0.0"))
        .collect();
    specs[5].deps = &deps;
    let reg = ctx.registry_of("main", &specs);
    let overlap = Overlap::default();
    let held = overlap.clone();
    let server = TestServer::start(&reg, move |req, _| {
        if req.path.starts_with("/index/") {
            held.hold(std::time::Duration::from_millis(300));
        }
        Answer::Serve
    });
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(), 0);

    let r = ctx.plain(&["install", "t1", "t2"]);
    assert_eq!(r.code, 0, "{r:?}");
    for n in ["d1", "d2", "d3", "d4", "d5", "t1", "t2"] {
        assert!(
            ctx.pandora_home().join(format!("store/{n}/1.0.0")).is_dir(),
            "{n}"
        );
        // Each index file once: what was fetched ahead is what the lookup reads.
        assert_eq!(server.requests(&format!("/index/{n}.acl")).len(), 1, "{n}");
    }
    // t1 and t2 together, then the five dependencies together.
    assert!(overlap.most() >= 2, "never two index requests at once");
}

#[test]
fn a_lower_priority_registry_hears_only_of_the_names_the_first_one_lacks() {
    // Fetching ahead asks each registry only for what its lookup would ask it for.
    let ctx = Context::new();
    let main = ctx.registry_of(
        "main",
        &[PkgSpec::new("a", "1.0.0"), PkgSpec::new("b", "1.0.0")],
    );
    let other = ctx.registry_of(
        "other",
        &[PkgSpec::new("a", "1.0.0"), PkgSpec::new("c", "1.0.0")],
    );
    let first = TestServer::start(&main, |_, _| Answer::Serve);
    let second = TestServer::start(&other, |_, _| Answer::Serve);
    let _d = ctx.start_daemon(&[]);
    // The higher number comes first.
    ctx.add_registry("main", &first.url(), 10);
    ctx.add_registry("other", &second.url(), 0);

    let r = ctx.plain(&["install", "a", "b", "c"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(first.requests("/index/a.acl").len(), 1);
    assert_eq!(first.requests("/index/b.acl").len(), 1);
    assert_eq!(second.requests("/index/c.acl").len(), 1);
    assert!(
        second.requests("/index/a.acl").is_empty(),
        "a comes from main"
    );
    assert!(
        second.requests("/index/b.acl").is_empty(),
        "b comes from main"
    );
}

#[test]
fn a_departed_client_stops_a_redirected_download_that_stalls() {
    // A redirect sends the download to the general client (reqwest), whose reads cannot be
    // cut short: they happen on a thread of their own, and the daemon hears the stop while
    // the server holds the second half of the body for 40 s.
    let ctx = Context::new();
    let (reg, sha) = app_registry(&ctx, 1 << 20);
    let blob = blob_path(&sha);
    let moved = format!("{blob}?moved");
    let (b, m) = (blob.clone(), moved.clone());
    let server = TestServer::start(&reg, move |req, _| match &req.path {
        p if *p == b => Answer::Redirect(m.clone()),
        p if *p == m => Answer::Slow(Duration::from_secs(40)),
        _ => Answer::Serve,
    });
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(), 0);
    let mut client = ctx
        .pandora()
        .env("PANDORA_NO_AUTOSTART", "1")
        .args(["--log", "plain", "install", "app@1.0.0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let until = |what: &str, ok: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ok() {
            assert!(Instant::now() < deadline, "{what} did not happen");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until("the redirected request", &|| {
        !server.requests(&moved).is_empty()
    });
    std::thread::sleep(Duration::from_millis(500));
    client.kill().unwrap();
    client.wait().unwrap();
    let started = Instant::now();
    until("an empty queue", &|| {
        ctx.plain(&["status"]).stdout.contains("queue=empty")
    });
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the stalled download held the queue for {:?}",
        started.elapsed()
    );
    assert_nothing_left(&ctx);
}
