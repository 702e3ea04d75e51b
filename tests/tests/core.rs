//! The daemon's core after its reshaping (issue 7): typed errors with stable codes, typed
//! plans and warnings, revalidation of cached registry snapshots before "not found", refused
//! packages that keep their verified blob, architecture checks, and `prune --cache` without
//! registries. Each test runs the real daemon in a temporary home against a real registry.

use std::path::{Path, PathBuf};

use pandora_tests::{Context, PkgSpec, Run, registry_tool};

fn plain(ctx: &Context, args: &[&str]) -> Run {
    let mut all = vec!["--log", "plain"];
    all.extend(args);
    ctx.client(&all)
}

/// `registries.acl` with one registry that allows publishing with `token`.
fn one_registry(ctx: &Context, name: &str, url: &str, token: Option<&Path>) {
    let mut text = format!(
        "Registry \"{name}\" {{\n    string url = \"{url}\";\n    int priority = 0;\n    \
         bool allow_publish = {};\n    string cache_policy = \"ttl=3600\";\n",
        token.is_some()
    );
    if let Some(t) = token {
        text.push_str(&format!("    string token_file = \"{}\";\n", t.display()));
    }
    text.push_str("}\n");
    std::fs::create_dir_all(ctx.pandora_home()).unwrap();
    std::fs::write(ctx.pandora_home().join("registries.acl"), text).unwrap();
}

/// Packs a package whose manifest and extra files are given, with `pandora pack`.
fn pack_custom(ctx: &Context, name: &str, arch: &str, hooks: &[(&str, &str)]) -> PathBuf {
    let src = ctx.path().join("custom-src").join(name);
    std::fs::create_dir_all(src.join("files/bin")).unwrap();
    std::fs::write(src.join("files/bin").join(name), "#!/bin/sh\necho hi\n").unwrap();
    let mut listed = Vec::new();
    for (rel, text) in hooks {
        let path = src.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        listed.push(format!("\"{rel}\""));
    }
    std::fs::write(
        src.join("manifest.acl"),
        format!(
            "manifest {{\n    string name = \"{name}\";\n    string version = \"1.0.0\";\n    \
             string arch = \"{arch}\";\n    string[] authors = {{ \"T <t@example.org>\" }};\n    \
             string license = \"MIT\";\n    string[] dependencies = {{}};\n    \
             string[] install_hooks = {{ {} }};\n    build_meta {{ builder = \"test\"; }}\n}}\n",
            listed.join(", ")
        ),
    )
    .unwrap();
    let out = ctx.path().join(format!("{name}.pkg"));
    let r = ctx.run(&["pack", src.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    out
}

#[test]
fn issue7_a_version_published_after_the_snapshot_was_cached_is_found_at_once() {
    let ctx = Context::new();
    let reg = ctx.registry_of("main", &[PkgSpec::new("app", "1.0.0")]);
    let server = ctx.serve_registry(&reg, &[]);
    one_registry(&ctx, "main", &server.url(""), None);
    let _d = ctx.start_daemon(&[]);
    let r = plain(&ctx, &["install", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");

    // Published behind the daemon's back, inside the snapshot's one-hour TTL.
    let v2 = ctx.pack(&PkgSpec::new("app", "2.0.0"));
    let tool = ctx.pack(&PkgSpec::new("newtool", "1.0.0"));
    registry_tool(&[
        "add".as_ref(),
        reg.as_os_str(),
        v2.as_os_str(),
        tool.as_os_str(),
    ]);

    // A missing version or name revalidates the cached snapshot once before "not found".
    let r = plain(&ctx, &["install", "app@2.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("installed app@2.0.0 (from main)"),
        "{r:?}"
    );
    let r = plain(&ctx, &["info", "newtool"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("package=newtool@1.0.0"), "{r:?}");

    // A name that is really missing is still reported as such, with its code.
    let r = plain(&ctx, &["install", "ghost"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[not-found]: no registry has a package called `ghost` (asked `main`)"),
        "{r:?}"
    );
    assert!(r.stderr.contains("hint: pandora search ghost"), "{r:?}");

    // --refresh revalidates before anything else: search sees the new version.
    let r = plain(&ctx, &["search", "app"]);
    assert!(r.stdout.contains("version=2.0.0"), "{r:?}");
    let v3 = ctx.pack(&PkgSpec::new("app", "3.0.0"));
    registry_tool(&["add".as_ref(), reg.as_os_str(), v3.as_os_str()]);
    let r = plain(&ctx, &["search", "app"]);
    assert!(r.stdout.contains("version=2.0.0"), "cached: {r:?}");
    let r = plain(&ctx, &["search", "app", "--refresh"]);
    assert!(r.stdout.contains("version=3.0.0"), "refreshed: {r:?}");
}

#[test]
fn issue7_publish_through_the_daemon_makes_the_new_version_visible() {
    let ctx = Context::new();
    let reg = ctx.registry_of("pub", &[PkgSpec::new("alpha", "1.0.0")]);
    let token = ctx.write("token", "s3cret\n");
    let server = ctx.serve_registry(&reg, &["--token-file", token.to_str().unwrap()]);
    one_registry(&ctx, "pub", &server.url(""), Some(&token));
    let _d = ctx.start_daemon(&[]);
    let r = plain(&ctx, &["search", "alpha"]);
    assert!(r.stdout.contains("version=1.0.0"), "{r:?}");
    let v2 = ctx.pack(&PkgSpec::new("alpha", "2.0.0"));
    let r = plain(
        &ctx,
        &["publish", v2.to_str().unwrap(), "--registry", "pub"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    // No --refresh: the publish itself made the cached snapshot stale.
    let r = plain(&ctx, &["search", "alpha"]);
    assert!(r.stdout.contains("version=2.0.0"), "{r:?}");
}

#[test]
fn issue7_a_refused_package_keeps_its_verified_blob() {
    let ctx = Context::new();
    let pkg = pack_custom(
        &ctx,
        "hooked",
        "any",
        &[(
            "hooks/setup.acl",
            "postinstall { string action = \"run\"; string[] command = { \"bin/hooked\" }; }\n",
        )],
    );
    let reg = ctx.path().join("main");
    registry_tool(&[
        "init".as_ref(),
        reg.as_os_str(),
        "--name".as_ref(),
        "main".as_ref(),
    ]);
    registry_tool(&["add".as_ref(), reg.as_os_str(), pkg.as_os_str()]);
    let server = ctx.serve_registry(&reg, &[]);
    one_registry(&ctx, "main", &server.url(""), None);
    let _d = ctx.start_daemon(&[]);
    let r = plain(&ctx, &["install", "hooked@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[needs-sandbox]: hooked@1.0.0 has a `run` hook"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("damaged"), "the blob was fine: {r:?}");
    assert_eq!(
        ctx.cached_blobs().len(),
        1,
        "the verified blob stays cached"
    );
    assert!(ctx.store_entries().is_empty());
    assert!(ctx.tmp_entries().is_empty(), "{:?}", ctx.tmp_entries());
}

#[test]
fn issue7_a_package_for_another_architecture_is_refused() {
    let ctx = Context::new();
    let foreign = pack_custom(&ctx, "foreign", "sparc64", &[]);
    let anywhere = pack_custom(&ctx, "anywhere", "any", &[]);
    let _d = ctx.start_daemon(&[]);
    let r = plain(&ctx, &["install", foreign.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    let machine = std::env::consts::ARCH;
    assert!(
        r.stderr.contains(&format!(
            "error[wrong-arch]: foreign@1.0.0 is built for `sparc64`, and this machine is `{machine}`"
        )),
        "{r:?}"
    );
    assert!(ctx.store_entries().is_empty());
    let r = plain(&ctx, &["install", anywhere.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ctx.store_entries(), ["anywhere@1.0.0"]);
}

#[test]
fn issue7_plans_and_warnings_are_typed() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("lib", "1.0.0"),
            PkgSpec {
                deps: &["lib@1.0.0"],
                ..PkgSpec::new("app", "1.0.0")
            },
        ],
    );
    registry_tool(&["deprecate".as_ref(), reg.as_os_str(), "lib@1.0.0".as_ref()]);
    let server = ctx.serve_registry(&reg, &[]);
    one_registry(&ctx, "main", &server.url(""), None);
    let _d = ctx.start_daemon(&[]);
    // Asked, and answered no: the plan is shown as key=value data and nothing is installed.
    let out = ctx
        .pandora()
        .env("PANDORA_NO_AUTOSTART", "1")
        .env("PANDORA_ASK", "1")
        .args(["--log", "plain", "install", "app"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"n\n")?;
            c.wait_with_output()
        })
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("plan package=app@1.0.0 registry=main file=\"\" size="),
        "{stdout}"
    );
    assert!(
        lines[1].contains("needed_by=app@1.0.0 deprecated=true in_store=false"),
        "{stdout}"
    );
    assert!(ctx.store_entries().is_empty());

    let r = plain(&ctx, &["install", "app", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("event=warning code=deprecated subject=lib@1.0.0 message="),
        "{r:?}"
    );
}

#[test]
fn issue7_prune_cache_without_registries_prunes_every_blob() {
    let ctx = Context::new();
    let reg = ctx.registry_of("main", &[PkgSpec::new("app", "1.0.0")]);
    let server = ctx.serve_registry(&reg, &[]);
    one_registry(&ctx, "main", &server.url(""), None);
    let _d = ctx.start_daemon(&[]);
    assert_eq!(plain(&ctx, &["install", "app@1.0.0"]).code, 0);
    assert_eq!(ctx.cached_blobs().len(), 1);
    let r = plain(&ctx, &["registry", "remove", "main"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        !ctx.pandora_home().join("cache/index/main").exists(),
        "the registry's cached index goes with it"
    );
    let r = plain(&ctx, &["prune", "--cache"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("no registry lists it"), "{r:?}");
    assert!(ctx.cached_blobs().is_empty());
    assert_eq!(
        ctx.store_entries(),
        ["app@1.0.0"],
        "the store is not the cache"
    );
}

#[test]
fn issue8_words_of_other_package_managers_get_a_hint() {
    let ctx = Context::new();
    for (word, hint) in [
        ("uninstall", "pandora list --store"),
        ("remove", "pandora list --store"),
        ("upgrade", "pandora install NAME --refresh"),
        ("update", "pandora install NAME --refresh"),
    ] {
        let r = ctx.run(&[word, "app"]);
        assert_eq!(r.code, 2, "{word}: {r:?}");
        assert!(
            r.stderr
                .starts_with(&format!("error[usage]: `{word}` is not a pandora command")),
            "{word}: {r:?}"
        );
        assert!(r.stderr.contains(&format!("hint: {hint}")), "{word}: {r:?}");
    }
    // `registry remove` is still the registry's own subcommand.
    let r = ctx.run(&["registry", "remove", "--help"]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn issue8_typos_get_close_names_and_usage_errors_exit_2() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("ripgrep", "14.1.0"),
            PkgSpec::new("viewer", "2.1.0"),
        ],
    );
    one_registry(&ctx, "main", &format!("file://{}", reg.display()), None);
    let _d = ctx.start_daemon(&[]);
    let r = plain(&ctx, &["install", "ripgerp"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[not-found]: no registry has a package called `ripgerp`"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("hint: did you mean `ripgrep`? pandora install ripgrep"),
        "{r:?}"
    );
    let r = plain(&ctx, &["search", "veiwer"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[not-found]: no package matches `veiwer`"),
        "{r:?}"
    );
    assert!(r.stderr.contains("hint: did you mean `viewer`?"), "{r:?}");

    let r = plain(&ctx, &["registry", "add", "bad", "ftp://x"]);
    assert_eq!(r.code, 2, "a usage error: {r:?}");
    assert!(
        r.stderr
            .starts_with("error[bad-url]: `ftp://x` is not a registry URL"),
        "{r:?}"
    );
    let r = plain(&ctx, &["registry", "add", "bad", "http://[::1"]);
    assert_eq!(r.code, 2, "{r:?}");
    let r = plain(&ctx, &["install", "Bad@Name"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.starts_with("error[bad-package]:"), "{r:?}");
}

#[test]
fn issue8_bare_names_store_origins_and_a_registry_that_is_down() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec::new("app", "1.0.0"), PkgSpec::new("app", "2.0.0")],
    );
    let server = ctx.serve_registry(&reg, &[]);
    one_registry(&ctx, "main", &server.url(""), None);
    let _d = ctx.start_daemon(&[]);
    assert_eq!(plain(&ctx, &["install", "app@1.0.0", "app@2.0.0"]).code, 0);

    // A bare name verifies every stored version, and says which.
    let r = plain(&ctx, &["verify", "app"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "result=\"ok app@1.0.0\"\nresult=\"ok app@2.0.0\"\n"
    );
    let r = plain(&ctx, &["verify", "nothere"]);
    assert!(
        r.stderr
            .contains("error[not-found]: no version of `nothere` is in the store"),
        "{r:?}"
    );

    // The store records where an entry came from.
    let r = plain(&ctx, &["info", "app@1.0.0"]);
    assert!(r.stdout.contains("registry=main\n"), "{r:?}");
    // Regular files only: files/ and files/bin are directories.
    let r = plain(&ctx, &["list", "--store"]);
    assert!(r.stdout.contains("name=app version=1.0.0 size="), "{r:?}");
    assert!(r.stdout.contains(" files=1 "), "{r:?}");

    // The registry goes down: the headline is the cause, and info still shows the store.
    drop(server);
    let r = plain(&ctx, &["install", "yourtool", "--refresh"]);
    assert_eq!(r.code, 1, "{r:?}");
    let first = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or_default();
    assert!(
        first.starts_with(
            "error[unavailable]: cannot find yourtool: registry `main`: cannot get snapshot.acl"
        ),
        "{r:?}"
    );
    let r = plain(&ctx, &["info", "app", "--refresh"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("package=app@2.0.0"), "{r:?}");
    assert!(r.stdout.contains("in_store=yes"), "{r:?}");
    assert!(
        r.stderr
            .contains("event=note message=\"registry `main`: cannot get snapshot.acl"),
        "{r:?}"
    );
}

#[test]
fn issue8_acl_check_knows_pandora_files_and_pack_q_is_quiet() {
    let ctx = Context::new();
    let m = ctx.write(
        "pkg/manifest.acl",
        "manifest {\n    string name = \"tool\";\n    string version = \"1.0\";\n}\n",
    );
    let r = ctx.run(&["acl", "check", m.to_str().unwrap()]);
    assert_eq!(r.code, 1, "fields are checked, not only syntax: {r:?}");
    assert!(r.stderr.contains("arch"), "{r:?}");
    let other = ctx.write("other.acl", "manifest {\n    string name = \"tool\";\n}\n");
    let r = ctx.run(&["acl", "check", other.to_str().unwrap()]);
    assert_eq!(r.code, 0, "an unknown name is checked as plain ACL: {r:?}");
    let r = ctx.run(&["acl", "check", "--as", "manifest", other.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");

    let pkg = ctx.pack(&PkgSpec::new("tool", "1.0.0"));
    let src = ctx.path().join("pkg-src/tool-1.0.0-0");
    let r = ctx.run(&[
        "-q",
        "pack",
        src.to_str().unwrap(),
        "-o",
        pkg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stderr, "", "-q prints results only");
    assert!(r.stdout.ends_with(&format!("{}\n", pkg.display())), "{r:?}");
}

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

#[test]
fn issue9_a_registry_cannot_make_the_daemon_read_local_files() {
    let ctx = Context::new();
    let reg = ctx.registry_of("main", &[PkgSpec::new("app", "1.0.0")]);
    retarget(&reg, "app", "file:///dev/ptmx", None);
    let server = ctx.serve_registry(&reg, &[]);
    one_registry(&ctx, "main", &server.url(""), None);
    let _d = ctx.start_daemon(&[]);
    let started = std::time::Instant::now();
    let r = plain(&ctx, &["install", "app@1.0.0"]);
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
    assert_eq!(plain(&ctx, &["registry", "add", "local", &url]).code, 0);
    let r = plain(&ctx, &["install", "tool@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("/dev/zero is not a regular file"),
        "{r:?}"
    );
    assert!(ctx.store_entries().is_empty());
    // The daemon is free for the next request.
    assert_eq!(plain(&ctx, &["status"]).code, 0);
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

/// A server that answers every request with a header promising `size` bytes and then
/// trickles them, never finishing: a download that would hold the daemon for good.
fn trickle_server(size: u64) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
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
            std::thread::spawn(move || {
                s.set_nonblocking(false).unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
                if s.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = vec![b'x'; 16 << 10];
                let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while std::time::Instant::now() < until {
                    if s.write_all(&chunk).is_err() {
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
fn issue9_a_departed_client_stops_its_download_and_sigterm_stops_the_daemon() {
    let ctx = Context::new();
    let (addr, _server) = trickle_server(1 << 30);
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec::new("c1", "1.0.0"), PkgSpec::new("c2", "1.0.0")],
    );
    retarget(&reg, "c1", &format!("http://{addr}/big.pkg"), Some(1 << 30));
    retarget(&reg, "c2", &format!("http://{addr}/big.pkg"), Some(1 << 30));
    let registry = ctx.serve_registry(&reg, &[]);
    one_registry(&ctx, "main", &registry.url(""), None);
    let d = ctx.start_daemon(&[]);
    let downloading = || ctx.tmp_entries().iter().any(|e| e.starts_with("download-"));

    // The client goes away mid-download: the daemon stops it and clears tmp/.
    let mut client = ctx
        .pandora()
        .env("PANDORA_NO_AUTOSTART", "1")
        .args(["--log", "plain", "install", "c1@1.0.0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the download", 10, downloading);
    client.kill().unwrap();
    client.wait().unwrap();
    wait_until("the stop of the departed client's download", 10, || {
        !downloading()
    });
    let r = plain(&ctx, &["status"]);
    assert!(r.stdout.contains("queue=empty"), "{r:?}");

    // SIGTERM in the middle of a download: the daemon is gone within seconds.
    let client = ctx
        .pandora()
        .env("PANDORA_NO_AUTOSTART", "1")
        .args(["--log", "plain", "install", "c2@1.0.0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
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
fn issue9_damaged_store_entries_are_shown_and_repaired() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec::new("app", "1.0.0"), PkgSpec::new("lib", "1.0.0")],
    );
    one_registry(&ctx, "main", &format!("file://{}", reg.display()), None);
    let d = ctx.start_daemon(&[]);
    let r = plain(&ctx, &["install", "app@1.0.0", "lib@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    let store = ctx.pandora_home().join("store");

    // A changed file, with the daemon running: verify finds it, --repair replaces the entry.
    let bin = store.join("lib/1.0.0/files/bin/lib");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(&bin, "tampered").unwrap();
    assert_eq!(plain(&ctx, &["verify", "lib"]).code, 1);
    let r = plain(&ctx, &["install", "--repair", "lib@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("result=\"installed lib@1.0.0"), "{r:?}");
    let r = plain(&ctx, &["verify", "lib"]);
    assert_eq!(r.code, 0, "{r:?}");

    // A deleted manifest, seen by a daemon that starts afterwards.
    std::fs::remove_file(store.join("app/1.0.0/manifest.acl")).unwrap();
    drop(d);
    let _d = ctx.start_daemon(&[]);
    let r = plain(&ctx, &["list", "--store"]);
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
    let r = plain(&ctx, &["verify", "--all"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("app@1.0.0: 1 problem"), "{r:?}");
    let r = plain(&ctx, &["install", "app@1.0.0"]);
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
    let r = plain(&ctx, &["install", "--repair", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(plain(&ctx, &["verify", "--all"]).code, 0);
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
    one_registry(&ctx, "main", &format!("file://{}", reg.display()), None);
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
