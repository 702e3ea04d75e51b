//! Hostile input (issue 9): registries that point at local files, the autostart race,
//! clients that go away, SIGTERM mid-download, damaged store entries, and remote text that
//! tries to drive the terminal.

use super::*;

/// Points `name`'s `pkg_url` in `reg`'s `index/<name>.acl` at `url` (declaring `size` when
/// given), and writes a snapshot that vouches for the change, as a hostile registry would.
fn retarget(reg: &Path, name: &str, url: &str, size: Option<u64>) {
    use pandora_common::files::Snapshot;
    let rel = format!("index/{name}.acl");
    let path = reg.join(&rel);
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("pkg_url = \"").unwrap() + "pkg_url = \"".len();
    let end = start + text[start..].find('"').unwrap();
    let mut text = format!("{}{url}{}", &text[..start], &text[end..]);
    if let Some(size) = size {
        let start = text.find("size = ").unwrap() + "size = ".len();
        let end = start + text[start..].find(';').unwrap();
        text = format!("{}{size}{}", &text[..start], &text[end..]);
    }
    std::fs::write(&path, &text).unwrap();
    let snap_path = reg.join("snapshot.acl");
    let mut snap = Snapshot::parse(
        &std::fs::read_to_string(&snap_path).unwrap(),
        "snapshot.acl",
    )
    .unwrap();
    for f in &mut snap.files {
        if f.path == rel {
            f.sha256 = pandora_common::hash::sha256_hex(text.as_bytes());
            f.size = text.len() as u64;
        }
    }
    snap.serial += 1;
    std::fs::write(&snap_path, snap.to_source()).unwrap();
}

/// A server that answers every request with a header promising `size` bytes and then
/// trickles the bytes of `body`, 4 KiB every 50 ms, never finishing: a download that would
/// hold the daemon for good. `body` is the start of a valid package, so that the unpacker,
/// `pandora --log plain install PIN` started in the background (no autostart), its stderr
/// piped when `stderr` is set.
fn spawn_install(ctx: &Context, pin: &str, stderr: bool) -> std::process::Child {
    ctx.pandora()
        .env("PANDORA_NO_AUTOSTART", "1")
        .args(["--log", "plain", "install", pin])
        .stdout(std::process::Stdio::null())
        .stderr(if stderr {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .spawn()
        .unwrap()
}

/// which reads the download as it arrives, keeps reading.
fn trickle_server(size: u64, body: Vec<u8>) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let body = std::sync::Arc::new(body);
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        listener.set_nonblocking(true).unwrap();
        while std::time::Instant::now() < deadline {
            let Ok((mut s, _)) = listener.accept() else {
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            };
            let body = body.clone();
            std::thread::spawn(move || {
                s.set_nonblocking(false).unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
                if s.write_all(head.as_bytes()).is_err() {
                    return;
                }
                for chunk in body.chunks(4 << 10) {
                    if s.write_all(chunk).is_err() {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            });
        }
    });
    (addr, handle)
}

fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{what} did not happen within {secs} s");
}

#[test]
fn issue9_a_registry_cannot_make_the_daemon_read_local_files() {
    let ctx = Context::new();
    let reg = ctx.registry_of("main", &[PkgSpec::new("app", "1.0.0")]);
    retarget(&reg, "app", "file:///dev/ptmx", None);
    let server = ctx.serve_registry(&reg, &[]);
    ctx.write_registry("main", &server.url(""), None);
    let _d = ctx.start_daemon(&[]);
    let started = std::time::Instant::now();
    let r = ctx.plain(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "registry `main`: refusing `file:///dev/ptmx`: an http registry may not point at local files"
        ),
        "{r:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    // A file:// registry may name files, but only regular ones.
    let local = ctx.registry_of("local", &[PkgSpec::new("tool", "1.0.0")]);
    retarget(&local, "tool", "file:///dev/zero", None);
    let url = format!("file://{}", local.display());
    assert_eq!(ctx.plain(&["registry", "add", "local", &url]).code, 0);
    let r = ctx.plain(&["install", "tool@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("/dev/zero is not a regular file"),
        "{r:?}"
    );
    assert!(ctx.store_entries().is_empty());
    // The daemon is free for the next request.
    assert_eq!(ctx.plain(&["status"]).code, 0);
}

#[test]
fn issue9_clients_that_lose_the_start_race_use_the_winner() {
    let ctx = Context::new();
    let children: Vec<_> = (0..8)
        .map(|_| {
            ctx.pandora()
                .env("PANDORA_IDLE_TIMEOUT", "3")
                .args(["--log", "plain", "status"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut pids = std::collections::BTreeSet::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = stdout
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("pid="))
            .unwrap()
            .to_string();
        pids.insert(pid);
    }
    assert_eq!(pids.len(), 1, "one daemon serves them all: {pids:?}");
    let pid = pids.into_iter().next().unwrap();
    let _ = std::process::Command::new("kill").arg(&pid).status();
}

#[test]
fn issue9_a_departed_client_stops_its_download_and_sigterm_stops_the_daemon() {
    let ctx = Context::new();
    // 4 MiB of noise packs to about 4 MiB: 50 s of trickle.
    let big = ctx.pack(&PkgSpec {
        payload: &noise("big", 4 << 20),
        ..PkgSpec::new("c1", "1.0.0")
    });
    let (addr, _server) = trickle_server(1 << 30, std::fs::read(&big).unwrap());
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec::new("c1", "1.0.0"), PkgSpec::new("c2", "1.0.0")],
    );
    retarget(&reg, "c1", &format!("http://{addr}/big.pkg"), Some(1 << 30));
    retarget(&reg, "c2", &format!("http://{addr}/big.pkg"), Some(1 << 30));
    let registry = ctx.serve_registry(&reg, &[]);
    ctx.write_registry("main", &registry.url(""), None);
    let d = ctx.start_daemon(&[]);
    let downloading = || ctx.tmp_entries().iter().any(|e| e.starts_with("download-"));

    // The client goes away mid-download: the daemon stops it and clears tmp/.
    let mut client = spawn_install(&ctx, "c1@1.0.0", false);
    wait_until("the download", 10, downloading);
    client.kill().unwrap();
    client.wait().unwrap();
    wait_until("the stop of the departed client's download", 10, || {
        !downloading()
    });
    // The partial file goes when the download stops; the mutation leaves the queue a moment
    // later, once it has cleaned up.
    wait_until("an empty queue", 10, || {
        ctx.plain(&["status"]).stdout.contains("queue=empty")
    });

    // SIGTERM in the middle of a download: the daemon is gone within seconds.
    let client = spawn_install(&ctx, "c2@1.0.0", true);
    wait_until("the second download", 10, downloading);
    let started = std::time::Instant::now();
    let status = d.stop();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "stopped in {:?}",
        started.elapsed()
    );
    let out = client.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(ctx.store_entries().is_empty());
}

#[test]
fn ctrl_c_of_an_install_says_what_happens_and_leaves_nothing() {
    let ctx = Context::new();
    let big = ctx.pack(&PkgSpec {
        payload: &noise("big", 4 << 20),
        ..PkgSpec::new("c1", "1.0.0")
    });
    let (addr, _server) = trickle_server(1 << 30, std::fs::read(&big).unwrap());
    let reg = ctx.registry_of("main", &[PkgSpec::new("c1", "1.0.0")]);
    retarget(&reg, "c1", &format!("http://{addr}/big.pkg"), Some(1 << 30));
    let registry = ctx.serve_registry(&reg, &[]);
    ctx.write_registry("main", &registry.url(""), None);
    let _d = ctx.start_daemon(&[]);
    let downloading = || ctx.tmp_entries().iter().any(|e| e.starts_with("download-"));
    let client = spawn_install(&ctx, "c1@1.0.0", true);
    wait_until("the download", 10, downloading);
    let status = Command::new("kill")
        .args(["-INT", &client.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = client.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(
            "error[interrupted]: pandorad stops the change at its next safe point; nothing is left half-done"
        ),
        "{stderr}"
    );
    wait_until("the stop of the download", 10, || !downloading());
    wait_until("an empty queue", 10, || {
        ctx.plain(&["status"]).stdout.contains("queue=empty")
    });
    assert!(ctx.store_entries().is_empty());
}

#[test]
fn a_departed_client_stops_a_download_the_server_keeps_waiting() {
    // The server takes the request and holds the connection: for `/head` it answers nothing,
    // for `/body` it sends the head of a 1 MiB answer and then nothing. Each wait would last a
    // minute; the daemon asks every second whether to stop.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            use std::io::{Read, Write};
            let Ok(mut s) = s else { continue };
            let mut request = [0u8; 4096];
            let n = s.read(&mut request).unwrap_or(0);
            if request[..n].starts_with(b"GET /body") {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n");
            }
            held.push(s);
        }
    });
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec::new("c1", "1.0.0"), PkgSpec::new("c2", "1.0.0")],
    );
    retarget(&reg, "c1", &format!("http://{addr}/head"), Some(1 << 20));
    retarget(&reg, "c2", &format!("http://{addr}/body"), Some(1 << 20));
    let registry = ctx.serve_registry(&reg, &[]);
    ctx.write_registry("main", &registry.url(""), None);
    let _d = ctx.start_daemon(&[]);
    let downloading = || ctx.tmp_entries().iter().any(|e| e.starts_with("download-"));
    for pin in ["c1@1.0.0", "c2@1.0.0"] {
        let mut client = spawn_install(&ctx, pin, false);
        wait_until("the download", 10, downloading);
        std::thread::sleep(std::time::Duration::from_millis(300));
        client.kill().unwrap();
        client.wait().unwrap();
        wait_until("the stop of the waiting download", 10, || !downloading());
        let r = ctx.plain(&["status"]);
        assert!(r.stdout.contains("queue=empty"), "{pin}: {r:?}");
    }
    assert!(ctx.store_entries().is_empty());
}

#[test]
fn a_departed_client_stops_a_wait_for_a_registry_that_never_answers() {
    // A registry that takes every connection and answers nothing: the snapshot's GET would
    // wait a minute, and be tried four times. The daemon asks every second whether to stop.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().flatten().collect();
        drop(held);
    });
    let ctx = Context::new();
    ctx.write_registry("silent", &format!("http://{addr}"), None);
    let _d = ctx.start_daemon(&[]);
    let mut client = spawn_install(&ctx, "app@1.0.0", false);
    wait_until("the install in the queue", 10, || {
        ctx.plain(&["status"])
            .stdout
            .contains("queue=\"install app@1.0.0 (running)\"")
    });
    // It waits for the registry's snapshot.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let r = ctx.plain(&["status"]);
    assert!(
        !r.stdout.contains("queue=empty"),
        "the install is not waiting for the registry: {r:?}"
    );
    client.kill().unwrap();
    client.wait().unwrap();
    let started = std::time::Instant::now();
    wait_until("an empty queue", 10, || {
        ctx.plain(&["status"]).stdout.contains("queue=empty")
    });
    // The next mutation runs at once.
    let r = ctx.plain(&["registry", "remove", "silent"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "the queue was free only after {:?}",
        started.elapsed()
    );

    // A deadline ends the wait as well, and the error says it was the deadline.
    drop(_d);
    ctx.write_registry("silent", &format!("http://{addr}"), None);
    let _d = ctx.start_daemon(&[("PANDORA_MUTATION_TIMEOUT", "2")]);
    let started = std::time::Instant::now();
    let r = ctx.plain(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("it ran past its deadline (PANDORA_MUTATION_TIMEOUT)"),
        "{r:?}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn issue9_damaged_store_entries_are_shown_and_repaired() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec::new("app", "1.0.0"), PkgSpec::new("lib", "1.0.0")],
    );
    ctx.write_registry("main", &format!("file://{}", reg.display()), None);
    let d = ctx.start_daemon(&[]);
    let r = ctx.plain(&["install", "app@1.0.0", "lib@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    let store = ctx.pandora_home().join("store");

    // A changed file, with the daemon running: verify finds it, --repair replaces the entry.
    let bin = store.join("lib/1.0.0/files/bin/lib");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(&bin, "tampered").unwrap();
    assert_eq!(ctx.plain(&["verify", "lib"]).code, 1);
    let r = ctx.plain(&["install", "--repair", "lib@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("result=\"installed lib@1.0.0"), "{r:?}");
    let r = ctx.plain(&["verify", "lib"]);
    assert_eq!(r.code, 0, "{r:?}");

    // A deleted manifest, seen by a daemon that starts afterwards.
    std::fs::remove_file(store.join("app/1.0.0/manifest.acl")).unwrap();
    drop(d);
    let _d = ctx.start_daemon(&[]);
    let r = ctx.plain(&["list", "--store"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("event=warning code=damaged subject=app@1.0.0"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("pandora install --repair app@1.0.0"),
        "{r:?}"
    );
    let r = ctx.plain(&["verify", "--all"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("app@1.0.0: 1 problem"), "{r:?}");
    let r = ctx.plain(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[damaged]: app@1.0.0 in the store is damaged"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("hint: pandora install --repair app@1.0.0"),
        "{r:?}"
    );
    assert!(ctx.tmp_entries().is_empty(), "{:?}", ctx.tmp_entries());
    let r = ctx.plain(&["install", "--repair", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ctx.plain(&["verify", "--all"]).code, 0);
    assert!(ctx.tmp_entries().is_empty(), "{:?}", ctx.tmp_entries());
}

#[test]
fn issue9_remote_text_cannot_drive_the_terminal() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec {
            description: Some("evil \u{1b}]0;pwned\u{7} \u{1b}[2J text"),
            ..PkgSpec::new("app", "1.0.0")
        }],
    );
    ctx.write_registry("main", &format!("file://{}", reg.display()), None);
    let _d = ctx.start_daemon(&[]);
    for args in [
        &["--log", "human", "search", "app"][..],
        &["--log", "human", "info", "app"][..],
        &["--log", "plain", "search", "app"][..],
    ] {
        let r = ctx.client(args);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert!(!r.stdout.contains('\u{1b}'), "{args:?}: {r:?}");
        assert!(!r.stdout.contains('\u{7}'), "{args:?}: {r:?}");
    }
}

#[test]
fn issue9_run_must_not_be_a_link_to_someone_elses_directory() {
    let ctx = Context::new();
    let open = ctx.path().join("open");
    std::fs::create_dir_all(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::create_dir_all(ctx.pandora_home()).unwrap();
    std::os::unix::fs::symlink(&open, ctx.pandora_home().join("run")).unwrap();
    let out = Command::new(bin("pandorad"))
        .env("PANDORA_HOME", ctx.pandora_home())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is a symbolic link"), "{stderr}");
    let mode = std::fs::metadata(&open).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o777,
        "the directory it points to is left alone"
    );
    assert!(
        pandora_tests::dir_names(&open).is_empty(),
        "no socket or lock there"
    );
}

#[test]
fn issue9_running_out_of_file_descriptors_is_survived_quietly() {
    let ctx = Context::new();
    // A daemon with few descriptors, and more connections than it can take.
    std::fs::create_dir_all(ctx.pandora_home()).unwrap();
    let log = ctx.log_file("pandorad-fd");
    let mut cmd = Command::new("prlimit");
    cmd.args(["--nofile=64:64", "--"])
        .arg(bin("pandorad"))
        .env("PANDORA_HOME", ctx.pandora_home());
    let mut daemon = ctx.spawn_into(&mut cmd, &log);
    let sock = ctx.pandora_home().join("run/sock");
    wait_until("the socket", 10, || {
        std::os::unix::net::UnixStream::connect(&sock).is_ok()
    });
    let held: Vec<_> = (0..200)
        .filter_map(|_| std::os::unix::net::UnixStream::connect(&sock).ok())
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let text = std::fs::read_to_string(&log).unwrap();
    let failures = text.lines().filter(|l| l.contains("accept failed")).count();
    assert!(failures <= 5, "{failures} lines of accept failures in 2 s");
    drop(held);
    // Once the connections are gone it answers again.
    wait_until("an answer", 10, || ctx.client(&["status"]).code == 0);
    let _ = daemon.kill();
    let _ = daemon.wait();
}

#[test]
fn issue9_a_declared_size_past_the_limits_is_not_downloaded() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec::new("huge", "1.0.0"), PkgSpec::new("big", "1.0.0")],
    );
    // 10 GB: past Pandora's own 8 GiB cap; 2 GiB: past the registry's max_package_size (1 GiB).
    retarget(&reg, "huge", "blobs/sha256/whatever", Some(10_000_000_000));
    retarget(&reg, "big", "blobs/sha256/whatever", Some(2 << 30));
    let server = ctx.serve_registry(&reg, &[]);
    ctx.write_registry("main", &server.url(""), None);
    let _d = ctx.start_daemon(&[]);
    let r = ctx.plain(&["install", "huge@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("huge@1.0.0 declares 10000000000 bytes, more than Pandora's limit of 8589934592; it was not downloaded"),
        "{r:?}"
    );
    let r = ctx.plain(&["install", "big@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "big@1.0.0 declares 2147483648 bytes, more than the registry's limit of 1073741824"
        ),
        "{r:?}"
    );
    assert!(ctx.tmp_entries().is_empty(), "{:?}", ctx.tmp_entries());
}

#[test]
fn issue9_one_bad_registry_url_fails_alone() {
    let ctx = Context::new();
    let reg = ctx.registry_of("main", &[PkgSpec::new("app", "1.0.0")]);
    std::fs::create_dir_all(ctx.pandora_home()).unwrap();
    std::fs::write(
        ctx.pandora_home().join("registries.acl"),
        format!(
            "Registry \"main\" {{ url = \"{}\"; priority = 1; }}\n\
             Registry \"broken\" {{ url = \"htp://nowhere\"; priority = 9; }}\n\
             Registry \"worse\" {{ url = \"http://[::1\"; priority = 5; }}\n",
            file_url(&reg)
        ),
    )
    .unwrap();
    let _d = ctx.start_daemon(&[]);
    let r = ctx.plain(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 0, "the good registry still serves: {r:?}");
    let r = ctx.plain(&["search", "app"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("registry `broken`"), "{r:?}");
    assert!(
        r.stderr.contains("pandora registry add broken URL"),
        "{r:?}"
    );
    assert_eq!(ctx.plain(&["registry", "remove", "broken"]).code, 0);
    assert_eq!(ctx.plain(&["registry", "remove", "worse"]).code, 0);
    let r = ctx.plain(&["registry", "list"]);
    assert_eq!(r.stdout.lines().count(), 1, "{r:?}");
}

#[test]
fn issue9_store_changes_by_hand_are_seen_while_the_daemon_runs() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec::new("app", "1.0.0"), PkgSpec::new("lib", "1.0.0")],
    );
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &file_url(&reg), 0);
    assert_eq!(ctx.plain(&["install", "app@1.0.0", "lib@1.0.0"]).code, 0);
    let store = ctx.pandora_home().join("store");
    // A version deleted by hand is gone from the list, and installs again.
    std::fs::remove_dir_all(store.join("app/1.0.0")).unwrap();
    let r = ctx.plain(&["list", "--store"]);
    assert!(!r.stdout.contains("name=app"), "{r:?}");
    let r = ctx.plain(&["install", "app@1.0.0"]);
    assert!(r.stdout.contains("result=\"installed app@1.0.0"), "{r:?}");
    // A manifest deleted by hand makes the entry damaged at once, without a restart.
    std::fs::remove_file(store.join("lib/1.0.0/manifest.acl")).unwrap();
    let r = ctx.plain(&["list", "--store"]);
    assert!(r.stderr.contains("code=damaged subject=lib@1.0.0"), "{r:?}");
    let r = ctx.plain(&["install", "lib@1.0.0"]);
    assert!(r.stderr.contains("error[damaged]"), "{r:?}");
}
