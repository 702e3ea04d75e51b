//! pandorad against registries over HTTP: each test runs a real daemon in a temporary home and
//! a real `pandora-registry serve` on 127.0.0.1:0, or a small in-test server that lies, cuts
//! connections or stalls, to see that installs verify what they download, resume, pick
//! registries by priority, work offline from their caches, and leave nothing behind when they
//! fail; and that publish, search, info, verify, prune and status say clearly what happened.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pandora_common::files::{Index, Manifest};
use pandora_tests::{Context, Daemon, PkgSpec, Run, registry_tool};
use sha2::{Digest, Sha256};

fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// `n` bytes of text that zstd cannot shrink much: hex of a hash chain.
fn noise(seed: &str, n: usize) -> String {
    let mut out = String::with_capacity(n + 64);
    let mut h = Sha256::digest(seed.as_bytes());
    while out.len() < n {
        out.push_str(&hex::encode(h));
        h = Sha256::digest(h);
    }
    out.truncate(n);
    out.push('\n');
    out
}

/// The sha256 the registry's index gives `name@version`.
fn indexed_sha(reg: &Path, name: &str, version: &str) -> String {
    let index = Index::parse(
        &std::fs::read_to_string(reg.join("index.acl")).unwrap(),
        "i",
    )
    .unwrap();
    index
        .package(name)
        .and_then(|p| p.version(version))
        .unwrap_or_else(|| panic!("{name}@{version} is not in {}", reg.display()))
        .sha256
        .clone()
}

/// The archive sha256 recorded in the store's manifest of `name@version`.
fn stored_sha(ctx: &Context, name: &str, version: &str) -> String {
    let path = ctx
        .pandora_home()
        .join("store")
        .join(name)
        .join(version)
        .join("manifest.acl");
    Manifest::parse(&std::fs::read_to_string(path).unwrap(), "m")
        .unwrap()
        .archive_sha256
        .unwrap()
}

fn plain(ctx: &Context, args: &[&str]) -> Run {
    let mut all = vec!["--log", "plain"];
    all.extend(args);
    ctx.client(&all)
}

fn add_registry(ctx: &Context, name: &str, url: &str, priority: i64) {
    let r = ctx.client(&[
        "registry",
        "add",
        name,
        url,
        "--priority",
        &priority.to_string(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
}

/// One entry of `registries.acl`, written by hand for what `pandora registry add` does not set.
struct RegistryEntry<'a> {
    name: &'a str,
    url: String,
    priority: i64,
    allow_publish: bool,
    token_file: Option<&'a Path>,
}

fn write_registries(ctx: &Context, entries: &[RegistryEntry<'_>]) {
    let mut text = String::new();
    for e in entries {
        text.push_str(&format!(
            "Registry \"{}\" {{\n    string url = \"{}\";\n    int priority = {};\n    \
             bool allow_publish = {};\n    string cache_policy = \"ttl=3600\";\n",
            e.name, e.url, e.priority, e.allow_publish
        ));
        if let Some(t) = e.token_file {
            text.push_str(&format!("    string token_file = \"{}\";\n", t.display()));
        }
        text.push_str("}\n");
    }
    std::fs::create_dir_all(ctx.pandora_home()).unwrap();
    std::fs::write(ctx.pandora_home().join("registries.acl"), text).unwrap();
}

/// Nothing in the store, nothing in the blob cache, nothing in tmp/.
fn assert_nothing_left(ctx: &Context) {
    assert_eq!(ctx.store_entries(), Vec::<String>::new(), "store");
    assert_eq!(ctx.cached_blobs(), Vec::<String>::new(), "blob cache");
    assert_eq!(ctx.tmp_entries(), Vec::<String>::new(), "tmp/");
}

// ---------------------------------------------------------------------------------------------
// A small HTTP/1.1 server that serves a registry directory and misbehaves on request.
// ---------------------------------------------------------------------------------------------

/// What the test server does with one request.
#[derive(Clone)]
enum Answer {
    /// The file, honouring `Range: bytes=N-`.
    Serve,
    /// The headers with the full Content-Length, half the body, then the connection closes.
    Cut,
    /// Half the body, a pause, then the rest.
    Slow(Duration),
    /// A fixed status and body.
    Canned(u16, String),
}

/// One request the server saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    range: Option<String>,
}

type Rule = dyn Fn(&Seen, usize) -> Answer + Send + Sync;

/// Serves `root` on 127.0.0.1:0, one thread per connection, `Connection: close` always.
/// `rule(request, earlier)` decides each answer, `earlier` counting earlier requests for the
/// same path.
struct TestServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    fn start(root: &Path, rule: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let rule: Arc<Rule> = Arc::new(rule);
        let (root, seen2, stop2) = (root.to_path_buf(), seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, seen, rule) = (root.clone(), seen2.clone(), rule.clone());
                std::thread::spawn(move || {
                    let _ = answer(stream, &root, &seen, &*rule);
                });
            }
        });
        TestServer { addr, seen, stop }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests for `path` so far.
    fn requests(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn answer(
    stream: TcpStream,
    root: &Path,
    seen: &Mutex<Vec<Seen>>,
    rule: &Rule,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let path = words.next().unwrap_or("/").to_string();
    let (mut range, mut length) = (None, 0usize);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_string());
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    if length > 0 {
        std::io::copy(
            &mut std::io::Read::take(&mut reader, length as u64),
            &mut std::io::sink(),
        )?;
    }
    let request = Seen {
        method,
        path: path.clone(),
        range: range.clone(),
    };
    let earlier = {
        let mut all = seen.lock().unwrap();
        let n = all.iter().filter(|s| s.path == path).count();
        all.push(request.clone());
        n
    };
    let mut out = stream;
    let head = |status: u16, len: usize, extra: &str| {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {len}\r\nAccept-Ranges: bytes\r\n\
             Connection: close\r\n{extra}\r\n"
        )
    };
    let what = rule(&request, earlier);
    if let Answer::Canned(status, body) = &what {
        out.write_all(head(*status, body.len(), "").as_bytes())?;
        return out.write_all(body.as_bytes());
    }
    let rel = path.trim_start_matches('/');
    let bytes = match std::fs::read(root.join(rel)) {
        Ok(b) if !rel.split('/').any(|c| c == "..") => b,
        _ => return out.write_all(head(404, 0, "").as_bytes()),
    };
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n < bytes.len());
    let (status, body, extra) = match start {
        Some(s) => (
            206,
            &bytes[s..],
            format!(
                "Content-Range: bytes {s}-{}/{}\r\n",
                bytes.len() - 1,
                bytes.len()
            ),
        ),
        None => (200, &bytes[..], String::new()),
    };
    out.write_all(head(status, body.len(), &extra).as_bytes())?;
    let half = body.len() / 2;
    match what {
        Answer::Serve | Answer::Canned(..) => out.write_all(body)?,
        Answer::Cut => {
            out.write_all(&body[..half])?;
            out.flush()?;
            out.shutdown(std::net::Shutdown::Both)?;
        }
        Answer::Slow(pause) => {
            out.write_all(&body[..half])?;
            out.flush()?;
            std::thread::sleep(pause);
            out.write_all(&body[half..])?;
        }
    }
    out.flush()
}

fn blob_path(sha: &str) -> String {
    format!("/blobs/sha256/{sha}")
}

// ---------------------------------------------------------------------------------------------
// Install
// ---------------------------------------------------------------------------------------------

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
    add_registry(&ctx, "main", &server.url(""), 0);

    let r = plain(&ctx, &["install", "app@1.0.0"]);
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
    assert_eq!(stored_sha(&ctx, "app", "1.0.0"), app);
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
    add_registry(&ctx, "main", &server.url(""), 0);

    let r = ctx.client(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "error: registry `main`: the download of app@1.0.0 has sha256 {liar_sha}, the index says {app}; it was discarded"
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
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec {
            payload: &noise("app", 256 << 10),
            ..PkgSpec::new("app", "1.0.0")
        }],
    );
    let sha = indexed_sha(&reg, "app", "1.0.0");
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
    add_registry(&ctx, "main", &server.url(), 0);

    let r = plain(&ctx, &["install", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("installed app@1.0.0 (from main)"),
        "{r:?}"
    );
    assert_eq!(ctx.cached_blobs(), vec![sha.clone()]);
    assert_eq!(stored_sha(&ctx, "app", "1.0.0"), sha);
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
fn a_download_cut_every_time_fails_and_leaves_nothing() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec {
            payload: &noise("app", 64 << 10),
            ..PkgSpec::new("app", "1.0.0")
        }],
    );
    let sha = indexed_sha(&reg, "app", "1.0.0");
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
    add_registry(&ctx, "main", &server.url(), 0);

    let r = ctx.client(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    let err = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or("");
    assert!(
        err.starts_with("error: registry `main`: cannot get app@1.0.0 (")
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
    add_registry(&ctx, "main", &server.url(""), 0);

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
        assert!(r.stderr.contains("nothing was installed"), "{r:?}");
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
    add_registry(&ctx, "main", &server.url(""), 0);
    // The snapshot is now cached for an hour; index/lib.acl was never fetched.
    assert_eq!(ctx.client(&["install", "app@1.0.0"]).code, 0);
    let lib2 = ctx.pack(&PkgSpec::new("lib", "2.0.0"));
    registry_tool(&["add".as_ref(), reg.as_os_str(), lib2.as_os_str()]);
    // index/lib.acl changed with the registry's new snapshot: an honest update, not an attack.
    let r = plain(&ctx, &["install", "lib@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("installed lib@1.0.0 (from main)"),
        "{r:?}"
    );
    let r = plain(&ctx, &["install", "lib@2.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
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
    add_registry(&ctx, "low", &low_server.url(""), 1);
    add_registry(&ctx, "high", &high_server.url(""), 10);

    let r = plain(&ctx, &["install", "dup@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("installed dup@1.0.0 (from high)"),
        "{r:?}"
    );
    assert_eq!(
        stored_sha(&ctx, "dup", "1.0.0"),
        indexed_sha(&high, "dup", "1.0.0")
    );
    assert!(
        std::fs::read_to_string(ctx.pandora_home().join("store/dup/1.0.0/files/bin/dup"))
            .unwrap()
            .ends_with("# high\n")
    );

    // Swap the priorities: `low` is now asked first.
    add_registry(&ctx, "low", &low_server.url(""), 20);
    let r = plain(&ctx, &["install", "dup2@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("installed dup2@1.0.0 (from low)"),
        "{r:?}"
    );
    assert_eq!(
        stored_sha(&ctx, "dup2", "1.0.0"),
        indexed_sha(&low, "dup2", "1.0.0")
    );
    let events = std::fs::read_to_string(ctx.pandora_home().join("log/events.log")).unwrap();
    assert!(
        events.contains("install dup@1.0.0 sha256=") && events.contains("registry=high"),
        "{events}"
    );
}

#[test]
fn a_second_install_needs_no_network() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("libfoo", "1.0.0"),
            PkgSpec {
                deps: &["libfoo@1.0.0"],
                ..PkgSpec::new("app", "1.0.0")
            },
            PkgSpec::new("tool", "1.0.0"),
        ],
    );
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    add_registry(&ctx, "main", &server.url(""), 0);
    assert_eq!(ctx.client(&["install", "app@1.0.0"]).code, 0);
    // `info` of a package not installed brings its blob into the cache.
    let r = plain(&ctx, &["info", "tool"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        ctx.cached_blobs()
            .contains(&indexed_sha(&reg, "tool", "1.0.0"))
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");

    let r = plain(&ctx, &["install", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("already installed app@1.0.0"), "{r:?}");
    // A bare name resolves through the cached snapshot and index while their TTL lasts, and
    // the cached blob installs without the server.
    let r = plain(&ctx, &["install", "tool"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("tool is tool@1.0.0 (latest in registry `main`)"),
        "{r:?}"
    );
    assert!(
        r.stdout.contains("installed tool@1.0.0 (from main)"),
        "{r:?}"
    );
    let r = plain(&ctx, &["install", "app"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("already installed app@1.0.0"), "{r:?}");
    assert_eq!(
        ctx.store_entries(),
        ["app@1.0.0", "libfoo@1.0.0", "tool@1.0.0"]
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
    add_registry(&ctx, "one", &s1.url(""), 5);
    add_registry(&ctx, "two", &s2.url(""), 1);

    let r = ctx.client(&["install", "ok@1.0.0", "app@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "error: ghost@9.9.9, needed by app@1.0.0, is in no registry (asked `one`, `two`); nothing was installed"
        ),
        "{r:?}"
    );
    assert!(r.stderr.contains("hint: pandora search ghost"), "{r:?}");
    assert_nothing_left(&ctx);
}

// ---------------------------------------------------------------------------------------------
// Publish
// ---------------------------------------------------------------------------------------------

/// `pack` refuses a range as a dependency, so the range is patched into a packed archive
/// (same length, so the tar headers stay valid).
fn with_range_dependency(ctx: &Context) -> PathBuf {
    let pkg = ctx.pack(&PkgSpec {
        deps: &["libfoo@1.0.0"],
        ..PkgSpec::new("ranged", "1.0.0")
    });
    let mut tar = zstd::decode_all(std::fs::read(&pkg).unwrap().as_slice()).unwrap();
    let (from, to) = (b"libfoo@1.0.0", b"libfoo@>=1.0");
    let at = tar
        .windows(from.len())
        .position(|w| w == from)
        .expect("the pin is in the manifest");
    tar[at..at + from.len()].copy_from_slice(to);
    let out = ctx.path().join("ranged.pkg");
    std::fs::write(&out, zstd::encode_all(tar.as_slice(), 3).unwrap()).unwrap();
    out
}

fn publish(ctx: &Context, file: &Path, registry: &str) -> Run {
    ctx.client(&["publish", file.to_str().unwrap(), "--registry", registry])
}

#[test]
fn publish_reports_each_registry_answer() {
    let ctx = Context::new();
    let reg = ctx.registry_of("pub", &[]);
    let token = ctx.write("token", "s3cret\n");
    let wrong = ctx.write("wrong-token", "guess\n");
    let server = ctx.serve_registry(&reg, &["--token-file", token.to_str().unwrap()]);
    let small = ctx.serve_registry(
        &reg,
        &[
            "--token-file",
            token.to_str().unwrap(),
            "--max-body",
            "4096",
        ],
    );
    // A registry that answers 422 to a package both the daemon and pandora-registry accept.
    let odd = TestServer::start(&reg, |req, _| {
        if req.method == "POST" {
            Answer::Canned(
                422,
                "Error {\n    code = \"invalid-package\";\n    message = \"the registry's own policy refuses it\";\n}\n"
                    .into(),
            )
        } else {
            Answer::Serve
        }
    });
    let entry = |name, url: String, allow_publish, token_file| RegistryEntry {
        name,
        url,
        priority: 0,
        allow_publish,
        token_file,
    };
    write_registries(
        &ctx,
        &[
            entry("pub", server.url(""), true, Some(&token)),
            entry("badtoken", server.url(""), true, Some(&wrong)),
            entry("small", small.url(""), true, Some(&token)),
            entry("odd", odd.url(), true, Some(&token)),
            entry("closed", server.url(""), false, Some(&token)),
            entry("notoken", server.url(""), true, None),
        ],
    );
    let _d = ctx.start_daemon(&[]);
    let alpha = ctx.pack(&PkgSpec::new("alpha", "1.0.0"));
    let alpha_sha = sha256_file(&alpha);

    // 200 added.
    let r = publish(&ctx, &alpha, "pub");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        format!("result=\"published alpha@1.0.0 to `pub` (sha256 {alpha_sha})\"\n")
    );
    assert_eq!(indexed_sha(&reg, "alpha", "1.0.0"), alpha_sha);
    let index = std::fs::read(reg.join("index.acl")).unwrap();
    // 200 unchanged.
    let r = publish(&ctx, &alpha, "pub");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "result=\"alpha@1.0.0 was already published to `pub` with these exact bytes; nothing changed\"\n"
    );
    let events = std::fs::read_to_string(ctx.pandora_home().join("log/events.log")).unwrap();
    assert!(
        events.contains(&format!(
            "publish alpha@1.0.0 sha256={alpha_sha} registry=pub status=added"
        )) && events.contains("status=unchanged"),
        "{events}"
    );

    let failures: Vec<(&str, PathBuf, &str)> = vec![
        // 403: wrong token.
        (
            "badtoken",
            alpha.clone(),
            "registry `badtoken` refused to publish alpha@1.0.0 with the token from",
        ),
        // 409: other bytes under a published version.
        (
            "pub",
            ctx.pack(&PkgSpec {
                payload: "# other bytes\n",
                ..PkgSpec::new("alpha", "1.0.0")
            }),
            "alpha@1.0.0 is already published to `pub` with other content",
        ),
        // 413: larger than --max-body.
        (
            "small",
            ctx.pack(&PkgSpec {
                payload: &noise("big", 32 << 10),
                ..PkgSpec::new("big", "1.0.0")
            }),
            "registry `small` refused big@1.0.0 as too large: the package is",
        ),
        // 422 from the registry.
        (
            "odd",
            ctx.pack(&PkgSpec::new("beta", "1.0.0")),
            "registry `odd` refused beta@1.0.0: the registry's own policy refuses it",
        ),
        // Refused locally: publishing is off, or there is no token.
        (
            "closed",
            ctx.pack(&PkgSpec::new("gamma", "1.0.0")),
            "registry `closed` does not allow publishing",
        ),
        (
            "notoken",
            ctx.pack(&PkgSpec::new("gamma", "1.0.0")),
            "registry `notoken` has no token_file",
        ),
        ("nowhere", alpha.clone(), "no registry is called `nowhere`"),
    ];
    for (registry, file, want) in &failures {
        let r = publish(&ctx, file, registry);
        assert_eq!(r.code, 1, "{registry}: {r:?}");
        let err = r
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or("");
        assert!(err.contains(want), "{registry}: want {want:?} in {r:?}");
        assert_eq!(r.stdout, "", "{registry}: {r:?}");
    }
    // An invalid package never leaves this machine.
    let before = server.log();
    let r = publish(&ctx, &with_range_dependency(&ctx), "pub");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("ranged.pkg is not a valid package") && r.stderr.contains(">=1.0"),
        "{r:?}"
    );
    assert_eq!(
        server.log().matches("method=POST").count(),
        before.matches("method=POST").count()
    );
    // None of the refusals changed the registry.
    assert_eq!(std::fs::read(reg.join("index.acl")).unwrap(), index);
    assert!(!reg.join("index/big.acl").exists() && !reg.join("index/gamma.acl").exists());
}

// ---------------------------------------------------------------------------------------------
// Reads: search, list --remote, info
// ---------------------------------------------------------------------------------------------

#[test]
fn search_list_and_info_across_registries() {
    let ctx = Context::new();
    let main = ctx.registry_of(
        "main",
        &[
            PkgSpec {
                description: Some("the one"),
                ..PkgSpec::new("tool", "1.0.0")
            },
            PkgSpec {
                description: Some("the one"),
                ..PkgSpec::new("tool", "1.1.0")
            },
            PkgSpec {
                description: Some("a kit"),
                ..PkgSpec::new("toolkit", "1.0.0")
            },
            PkgSpec {
                description: Some("mine"),
                ..PkgSpec::new("mytool", "1.0.0")
            },
            PkgSpec {
                tags: &["tool"],
                description: Some("something else"),
                ..PkgSpec::new("other", "2.0.0")
            },
            PkgSpec::new("unrelated", "1.0.0"),
        ],
    );
    let extra = ctx.registry_of(
        "extra",
        &[
            PkgSpec::new("tool", "9.0.0"),
            PkgSpec {
                description: Some("a box of tools"),
                ..PkgSpec::new("toolbox", "0.1.0")
            },
            PkgSpec {
                description: Some("uses a tool"),
                ..PkgSpec::new("helper", "3.0.0")
            },
        ],
    );
    // Deprecating tool's newest version makes 1.0.0 its latest; mytool has only the one.
    for pin in ["tool@1.1.0", "mytool@1.0.0"] {
        registry_tool(&["deprecate".as_ref(), main.as_os_str(), pin.as_ref()]);
    }
    let (s1, s2) = (
        ctx.serve_registry(&main, &[]),
        ctx.serve_registry(&extra, &[]),
    );
    let _d = ctx.start_daemon(&[]);
    add_registry(&ctx, "main", &s1.url(""), 10);
    add_registry(&ctx, "extra", &s2.url(""), 0);

    let r = plain(&ctx, &["search", "tool"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "name=tool version=1.0.0 rank=exact deprecated=false registry=main\n\
         name=toolbox version=0.1.0 rank=prefix deprecated=false registry=extra\n\
         name=toolkit version=1.0.0 rank=prefix deprecated=false registry=main\n\
         name=helper version=3.0.0 rank=substring deprecated=false registry=extra\n\
         name=mytool version=1.0.0 rank=substring deprecated=true registry=main\n\
         name=other version=2.0.0 rank=tag deprecated=false registry=main\n",
        "tool@9.0.0 of the lower-priority registry is hidden"
    );
    let r = ctx.client(&["--log", "human", "search", "tool"]);
    let mytool = r
        .stdout
        .lines()
        .find(|l| l.starts_with("mytool "))
        .unwrap_or("");
    assert!(mytool.ends_with("(deprecated) mine"), "{r:?}");
    assert!(
        r.stdout.lines().nth(1).unwrap_or("").starts_with("tool "),
        "{r:?}"
    );
    let r = ctx.client(&["--log", "human", "search", "nothing-like-it"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("nothing matches `nothing-like-it`"),
        "{r:?}"
    );

    let r = plain(&ctx, &["list", "--remote"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "registry=main name=mytool latest=1.0.0 versions=1.0.0\n\
         registry=main name=other latest=2.0.0 versions=2.0.0\n\
         registry=main name=tool latest=1.0.0 versions=1.0.0,1.1.0\n\
         registry=main name=toolkit latest=1.0.0 versions=1.0.0\n\
         registry=main name=unrelated latest=1.0.0 versions=1.0.0\n\
         registry=extra name=helper latest=3.0.0 versions=3.0.0\n\
         registry=extra name=tool latest=9.0.0 versions=9.0.0\n\
         registry=extra name=toolbox latest=0.1.0 versions=0.1.0\n"
    );

    // info of a package not installed: read from its blob, which lands in the cache.
    let toolkit = indexed_sha(&main, "toolkit", "1.0.0");
    assert!(!ctx.cached_blobs().contains(&toolkit));
    let r = plain(&ctx, &["info", "toolkit"]);
    assert_eq!(r.code, 0, "{r:?}");
    for line in [
        "package=toolkit@1.0.0",
        "description=\"a kit\"",
        "license=MIT",
        "dependencies=none",
        &format!("sha256={toolkit}"),
        "registry=main",
        "in_store=no",
        "deprecated=no",
        "build=\"builder = test\"",
    ] {
        assert!(r.stdout.lines().any(|l| l == line), "{line}: {r:?}");
    }
    assert!(ctx.cached_blobs().contains(&toolkit));
    let r = plain(&ctx, &["info", "tool@1.1.0"]);
    assert!(r.stdout.contains("deprecated=yes\n"), "{r:?}");
    let r = plain(&ctx, &["info", "tool"]);
    assert!(
        r.stdout.contains("package=tool@1.0.0\n") && r.stdout.contains("deprecated=no\n"),
        "{r:?}"
    );
    // A deprecated version installs, with a warning.
    let r = plain(&ctx, &["install", "tool@1.1.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("tool@1.1.0 is deprecated by its publisher; installing it anyway"),
        "{r:?}"
    );
    let r = plain(&ctx, &["info", "helper"]);
    assert!(r.stdout.contains("registry=extra\n"), "{r:?}");

    // And once installed: from the store, the registry still named.
    let r = plain(&ctx, &["install", "toolkit@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = plain(&ctx, &["info", "toolkit@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("in_store=yes\n") && r.stdout.contains("registry=main\n"),
        "{r:?}"
    );
    assert!(r.stdout.contains(&format!("sha256={toolkit}\n")), "{r:?}");
    let r = ctx.client(&["info", "ghost"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error: ghost is in no registry and not in the store"),
        "{r:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// verify, prune --cache, status
// ---------------------------------------------------------------------------------------------

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
    add_registry(&ctx, "main", &server.url(""), 0);
    assert_eq!(
        ctx.client(&["install", "app@1.0.0", "lib@1.0.0", "ok@1.0.0"])
            .code,
        0
    );
    let r = plain(&ctx, &["verify", "--all"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "result=\"ok app@1.0.0\"\nresult=\"ok lib@1.0.0\"\nresult=\"ok ok@1.0.0\"\n"
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
        "result=\"app@1.0.0: 2 problems\"\nresult=\"lib@1.0.0: 1 problem\"\nresult=\"ok ok@1.0.0\"\n"
    );
    for want in [
        "event=warning subject=app@1.0.0 message=\"app@1.0.0: changed: files/bin/app (content differs)\"",
        "event=warning subject=app@1.0.0 message=\"app@1.0.0: extra: files/bin/intruder\"",
        "event=warning subject=lib@1.0.0 message=\"lib@1.0.0: missing: files/bin/lib\"",
    ] {
        assert!(r.stderr.lines().any(|l| l == want), "{want}: {r:?}");
    }
    let r = ctx.client(&["verify", "lib@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    let r = ctx.client(&["--log", "human", "verify", "ok@1.0.0"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "ok ok@1.0.0\n"), "{r:?}");
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
        r.stderr.contains("error: nope@1.0.0 is not in the store"),
        "{r:?}"
    );
}

#[test]
fn prune_cache_removes_blobs_no_registry_lists_or_past_their_ttl() {
    let ctx = Context::new();
    let main = ctx.registry_of(
        "main",
        &[PkgSpec::new("app", "1.0.0"), PkgSpec::new("old", "1.0.0")],
    );
    let gone = ctx.registry_of("gone", &[PkgSpec::new("tool", "1.0.0")]);
    let (s1, s2) = (
        ctx.serve_registry(&main, &[]),
        ctx.serve_registry(&gone, &[]),
    );
    let _d = ctx.start_daemon(&[]);
    add_registry(&ctx, "main", &s1.url(""), 0);
    add_registry(&ctx, "gone", &s2.url(""), 0);
    let r = ctx.client(&["install", "app@1.0.0", "old@1.0.0", "tool@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    let (app, old, tool) = (
        indexed_sha(&main, "app", "1.0.0"),
        indexed_sha(&main, "old", "1.0.0"),
        indexed_sha(&gone, "tool", "1.0.0"),
    );
    let mut all = vec![app.clone(), old.clone(), tool.clone()];
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
    let (old_size, tool_size) = (size(&old), size(&tool));

    let r = ctx.client(&["--log", "human", "prune", "--cache", "--dry-run"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mut lines: Vec<&str> = r.stdout.lines().collect();
    let last = lines.pop().unwrap();
    lines.sort();
    let mut want = vec![
        format!("would remove {old} ({old_size} bytes): older than its cache TTL (3600s)"),
        format!("would remove {tool} ({tool_size} bytes): no registry lists it"),
    ];
    want.sort();
    assert_eq!(lines, want, "{r:?}");
    assert_eq!(
        last,
        format!("would free {} bytes in 2 blobs", old_size + tool_size)
    );
    assert_eq!(ctx.cached_blobs(), all, "a dry run removes nothing");

    let r = ctx.client(&["--log", "human", "prune", "--cache"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains(&format!("freed {} bytes in 2 blobs", old_size + tool_size)),
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

/// Polls `pandora status` until `pred` holds for its plain output.
fn wait_for_status(ctx: &Context, d: &Daemon, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = plain(ctx, &["status"]);
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
    add_registry(&ctx, "main", &server.url(), 0);
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
    });
    let r = ctx.client(&["--log", "human", "status"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("store:   2 packages,") && r.stdout.contains("queue:   empty"),
        "{r:?}"
    );
    let r = plain(&ctx, &["status"]);
    assert!(r.stdout.contains("store_packages=2 "), "{r:?}");
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
    add_registry(&ctx, "main", &server.url(""), 0);
    add_registry(&ctx, "down", dead_url, 10);
    let r = plain(&ctx, &["search", "app"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("name=app version=1.0.0"), "{r:?}");
    assert!(
        r.stderr
            .contains("registry `down`: cannot get snapshot.acl"),
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
}
