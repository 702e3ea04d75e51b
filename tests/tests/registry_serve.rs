//! End-to-end tests of `pandora-registry serve`: the real binary on 127.0.0.1:0 serving a
//! registry made with `pandora-registry init/add` from packages made with `pandora pack`,
//! driven by a real HTTP client, raw HTTP/1.1 for what clients would normalize, and nginx for
//! comparison.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pandora_common::acl;
use pandora_common::files::Index;
use pandora_tests::http::{Nginx, Server, raw, raw_get};
use pandora_tests::{Context, bin, repo_root};
use reqwest::StatusCode;
use reqwest::blocking::{Body, Client, Response};
use sha2::{Digest, Sha256};

const TOKEN: &str = "s3cret-token";

fn client() -> Client {
    // reqwest's TLS comes without a crypto provider in this workspace (pandorad installs
    // ring at start); plain HTTP still needs one installed to build a client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A package tree with `payload` as its one file, packed to `ctx/pkgs/NAME-VERSION-TAG.pkg`.
struct Spec<'a> {
    name: &'a str,
    version: &'a str,
    description: Option<&'a str>,
    tags: &'a [&'a str],
    dependencies: &'a [&'a str],
    payload: &'a [u8],
}

impl Default for Spec<'_> {
    fn default() -> Self {
        Spec {
            name: "alpha",
            version: "1.0.0",
            description: None,
            tags: &[],
            dependencies: &[],
            payload: b"payload\n",
        }
    }
}

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn pack(ctx: &Context, spec: &Spec<'_>) -> PathBuf {
    let tag = &sha256_hex(spec.payload)[..8];
    let stem = format!("{}-{}-{tag}", spec.name, spec.version);
    let tree = ctx.path().join("trees").join(&stem);
    std::fs::create_dir_all(tree.join("files/share").join(spec.name)).unwrap();
    let description = spec
        .description
        .map(|d| format!("    string description = \"{d}\";\n"))
        .unwrap_or_default();
    let manifest = format!(
        "manifest {{\n    string name = \"{}\";\n    string version = \"{}\";\n    \
         string arch = \"x86_64\";\n    string[] authors = {{ \"Test <t@example.org>\" }};\n    \
         string license = \"MIT\";\n{description}    string[] tags = {{ {} }};\n    \
         string[] dependencies = {{ {} }};\n    string[] install_hooks = {{}};\n    \
         build_meta {{ builder = \"test\"; }}\n}}\n",
        spec.name,
        spec.version,
        quoted(spec.tags),
        quoted(spec.dependencies),
    );
    std::fs::write(tree.join("manifest.acl"), manifest).unwrap();
    std::fs::write(
        tree.join("files/share").join(spec.name).join("data"),
        spec.payload,
    )
    .unwrap();
    std::fs::create_dir_all(ctx.path().join("pkgs")).unwrap();
    let out = ctx.path().join("pkgs").join(format!("{stem}.pkg"));
    let r = ctx.run(&["pack", tree.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    out
}

fn pack_example(ctx: &Context, name: &str) -> PathBuf {
    let out = ctx.path().join(format!("{name}.pkg"));
    let r = ctx.run(&[
        "pack",
        repo_root().join("examples").join(name).to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    out
}

fn registry_cmd(args: &[&std::ffi::OsStr]) {
    let out = Command::new(bin("pandora-registry"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "pandora-registry {args:?}: {out:?}");
}

/// `pandora-registry init ctx/reg` and `add` of `pkgs`.
fn registry(ctx: &Context, pkgs: &[&Path]) -> PathBuf {
    let dir = ctx.path().join("reg");
    registry_cmd(&[
        "init".as_ref(),
        dir.as_os_str(),
        "--name".as_ref(),
        "test".as_ref(),
    ]);
    if !pkgs.is_empty() {
        let mut args = vec!["add".as_ref(), dir.as_os_str()];
        args.extend(pkgs.iter().map(|p| p.as_os_str()));
        registry_cmd(&args);
    }
    dir
}

fn serve(ctx: &Context, dir: &Path, extra: &[&str]) -> Server {
    ctx.serve_registry(dir, extra)
}

fn serve_with_token(ctx: &Context, dir: &Path, extra: &[&str]) -> Server {
    let token = ctx.write("token", &format!("{TOKEN}\nthe second line is ignored\n"));
    let mut args = vec!["--token-file", token.to_str().unwrap()];
    args.extend(extra);
    serve(ctx, dir, &args)
}

fn header<'a>(r: &'a Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {r:?}"))
        .to_str()
        .unwrap()
}

fn publish(client: &Client, server: &Server, token: &str, bytes: Vec<u8>) -> (StatusCode, String) {
    let r = client
        .post(server.url("/api/v1/publish"))
        .header("Authorization", format!("Bearer {token}"))
        .body(bytes)
        .send()
        .unwrap();
    let status = r.status();
    (status, r.text().unwrap())
}

/// The string field `field` of the first top-level block of an ACL response.
fn acl_field(text: &str, field: &str) -> String {
    let doc = acl::parse(text, "response").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let block = &doc.blocks()[0];
    block
        .field(field)
        .and_then(|f| f.value.as_str())
        .unwrap_or_else(|| panic!("no {field} in {text}"))
        .to_string()
}

fn uploads_left(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir.join(".pandora-registry/tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn static_files_carry_etags_cache_control_and_ranges() {
    let ctx = Context::new();
    let hello = pack_example(&ctx, "hello");
    let greet = pack_example(&ctx, "libgreet");
    let dir = registry(&ctx, &[&hello, &greet]);
    let server = serve(&ctx, &dir, &[]);
    let client = client();
    let hello_bytes = std::fs::read(&hello).unwrap();
    let sha = sha256_hex(&hello_bytes);
    let blob = format!("/blobs/sha256/{sha}");
    let acl_type = "text/plain; charset=utf-8";
    let cases = [
        ("/config.acl", "no-cache", acl_type),
        ("/snapshot.acl", "no-cache", acl_type),
        ("/index.acl", "max-age=60", acl_type),
        ("/index/hello.acl", "max-age=60", acl_type),
        (
            blob.as_str(),
            "public, max-age=31536000, immutable",
            "application/octet-stream",
        ),
    ];
    for (path, cache, content_type) in cases {
        let r = client.get(server.url(path)).send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(header(&r, "cache-control"), cache, "{path}");
        assert_eq!(header(&r, "content-type"), content_type, "{path}");
        let etag = header(&r, "etag").to_string();
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
            "{path}: a strong ETag, not {etag}"
        );
        let body = r.bytes().unwrap();
        assert_eq!(
            body.as_ref(),
            std::fs::read(dir.join(&path[1..])).unwrap(),
            "{path}"
        );
        // The same ETag again, and 304 for it, alone, in a list, weak, or as `*`.
        for inm in [
            etag.clone(),
            format!("\"other\", {etag}"),
            format!("W/{etag}"),
            "*".to_string(),
        ] {
            let r = client
                .get(server.url(path))
                .header("If-None-Match", &inm)
                .send()
                .unwrap();
            assert_eq!(r.status(), 304, "{path} with If-None-Match: {inm}");
            assert_eq!(header(&r, "etag"), etag);
            assert_eq!(header(&r, "cache-control"), cache);
            assert!(r.bytes().unwrap().is_empty());
        }
        let r = client
            .get(server.url(path))
            .header("If-None-Match", "\"stale\"")
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(header(&r, "etag"), etag, "{path}: a stable ETag");
    }
    let r = client.get(server.url(&blob)).send().unwrap();
    assert_eq!(header(&r, "etag"), format!("\"{sha}\""));
    assert_eq!(header(&r, "accept-ranges"), "bytes");

    // Ranges on blobs.
    let len = hello_bytes.len();
    let range = |spec: &str| {
        client
            .get(server.url(&blob))
            .header("Range", spec)
            .send()
            .unwrap()
    };
    for (spec, first, last) in [
        ("bytes=0-9", 0, 9),
        ("bytes=100-", 100, len - 1),
        ("bytes=-50", len - 50, len - 1),
        ("bytes=10-99999", 10, len - 1),
    ] {
        let r = range(spec);
        assert_eq!(r.status(), 206, "{spec}");
        assert_eq!(
            header(&r, "content-range"),
            format!("bytes {first}-{last}/{len}"),
            "{spec}"
        );
        assert_eq!(header(&r, "content-length"), (last - first + 1).to_string());
        assert_eq!(r.bytes().unwrap().as_ref(), &hello_bytes[first..=last]);
    }
    for spec in [format!("bytes={len}-"), "bytes=-0".to_string()] {
        let r = range(&spec);
        assert_eq!(r.status(), 416, "{spec}");
        assert_eq!(header(&r, "content-range"), format!("bytes */{len}"));
    }
    let r = range("bytes=0-1,5-6");
    assert_eq!(r.status(), 200, "several ranges: the whole blob");
    assert_eq!(r.bytes().unwrap().as_ref(), &hello_bytes[..]);
    let r = client
        .get(server.url(&blob))
        .header("Range", "bytes=0-9")
        .header("If-Range", "\"not-the-etag\"")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "If-Range mismatch: the whole blob");

    // HEAD: the headers of a GET, Content-Length included, and no body on the wire.
    for path in [blob.as_str(), "/index.acl"] {
        let r = raw(
            server.addr(),
            format!("HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        let size = std::fs::metadata(dir.join(&path[1..])).unwrap().len();
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-length"), Some(size.to_string().as_str()));
        assert!(r.header("etag").is_some());
        assert!(r.body.is_empty(), "HEAD {path} sent a body");
    }

    // What is not there, and what is not allowed.
    for path in [
        "/snapshot.acl.minisig",
        "/index/nope.acl",
        &format!("/blobs/sha256/{}", "0".repeat(64)),
        "/",
        "/index",
        "/blobs/sha256",
    ] {
        let r = client.get(server.url(path)).send().unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let r = client
            .request(method.clone(), server.url("/index.acl"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 405, "{method}");
        assert_eq!(header(&r, "allow"), "GET, HEAD");
    }
    let r = client.get(server.url("/api/v1/publish")).send().unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, "allow"), "POST");

    // One log line per request.
    let log = server.log();
    assert!(
        log.lines().any(|l| l.contains("method=GET")
            && l.contains("path=\"/index/hello.acl\"")
            && l.contains("status=200")
            && l.contains("bytes=")),
        "{log}"
    );
}

/// `pack` refuses a range as a dependency, so the range is patched into a packed archive:
/// same length, so the tar headers stay valid.
fn with_range_dependency(ctx: &Context) -> Vec<u8> {
    let pkg = pack(
        ctx,
        &Spec {
            name: "ranged",
            dependencies: &["libfoo@1.0.0"],
            ..Spec::default()
        },
    );
    let mut tar = zstd::decode_all(std::fs::read(pkg).unwrap().as_slice()).unwrap();
    let (from, to) = (b"libfoo@1.0.0", b"libfoo@>=1.0");
    let at = tar
        .windows(from.len())
        .position(|w| w == from)
        .expect("the pin is in the manifest");
    tar[at..at + from.len()].copy_from_slice(to);
    zstd::encode_all(tar.as_slice(), 3).unwrap()
}

#[test]
fn publish_needs_the_token_and_reports_each_outcome() {
    let ctx = Context::new();
    let dir = registry(&ctx, &[]);
    let server = serve_with_token(&ctx, &dir, &[]);
    let client = client();
    let first = std::fs::read(pack(&ctx, &Spec::default())).unwrap();

    let r = client
        .post(server.url("/api/v1/publish"))
        .body(first.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(header(&r, "www-authenticate").starts_with("Bearer"));
    let r = client
        .post(server.url("/api/v1/publish"))
        .header("Authorization", format!("Basic {TOKEN}"))
        .body(first.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "not a bearer token");
    let (status, text) = publish(&client, &server, "wrong-token", first.clone());
    assert_eq!(status, 403, "{text}");
    let (status, text) = publish(&client, &server, &format!("{TOKEN}x"), first.clone());
    assert_eq!(status, 403, "{text}");
    assert!(!dir.join("index/alpha.acl").exists());

    let (status, text) = publish(&client, &server, TOKEN, first.clone());
    assert_eq!(status, 200, "{text}");
    assert_eq!(acl_field(&text, "package"), "alpha@1.0.0");
    assert_eq!(acl_field(&text, "sha256"), sha256_hex(&first));
    assert_eq!(acl_field(&text, "status"), "added");
    let served = client
        .get(server.url(&format!("/blobs/sha256/{}", sha256_hex(&first))))
        .send()
        .unwrap();
    assert_eq!(served.bytes().unwrap().as_ref(), first.as_slice());
    let index = std::fs::read(dir.join("index.acl")).unwrap();
    let snapshot = std::fs::read(dir.join("snapshot.acl")).unwrap();

    // The same bytes again change nothing.
    let (status, text) = publish(&client, &server, TOKEN, first.clone());
    assert_eq!(status, 200, "{text}");
    assert_eq!(acl_field(&text, "status"), "unchanged");
    assert_eq!(std::fs::read(dir.join("index.acl")).unwrap(), index);
    assert_eq!(std::fs::read(dir.join("snapshot.acl")).unwrap(), snapshot);

    // Other bytes under a published version.
    let other = std::fs::read(pack(
        &ctx,
        &Spec {
            payload: b"other bytes\n",
            ..Spec::default()
        },
    ))
    .unwrap();
    let (status, text) = publish(&client, &server, TOKEN, other);
    assert_eq!(status, 409, "{text}");
    assert_eq!(acl_field(&text, "code"), "conflict");
    assert!(
        acl_field(&text, "message").contains("alpha@1.0.0"),
        "{text}"
    );

    // Not a package at all, and a manifest with a range.
    let (status, text) = publish(&client, &server, TOKEN, b"not a package".to_vec());
    assert_eq!(status, 422, "{text}");
    assert_eq!(acl_field(&text, "code"), "invalid-package");
    assert!(
        !text.contains(".pandora-registry"),
        "the message shows no server path: {text}"
    );
    let (status, text) = publish(&client, &server, TOKEN, with_range_dependency(&ctx));
    assert_eq!(status, 422, "{text}");
    assert!(text.contains(">=1.0"), "{text}");
    assert_eq!(std::fs::read(dir.join("index.acl")).unwrap(), index);
    assert_eq!(uploads_left(&dir), Vec::<String>::new());
    drop(server);

    // Without a token file, publishing is off.
    let server = serve(&ctx, &dir, &[]);
    let (status, text) = publish(&client, &server, TOKEN, first);
    assert_eq!(status, 403, "{text}");
    assert_eq!(acl_field(&text, "code"), "publish-disabled");
}

#[test]
fn oversized_uploads_get_413_and_leave_nothing() {
    let ctx = Context::new();
    let dir = registry(&ctx, &[]);
    let server = serve_with_token(&ctx, &dir, &["--max-body", "4096"]);
    let index = std::fs::read(dir.join("index.acl")).unwrap();

    // Declared too large: refused before any byte of the body is sent.
    let started = Instant::now();
    let r = raw(
        server.addr(),
        format!(
            "POST /api/v1/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Length: 1000000000\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 413, "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Chunked, so the size shows only while streaming.
    let r = client()
        .post(server.url("/api/v1/publish"))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .body(Body::new(std::io::Cursor::new(vec![7u8; 64 * 1024])))
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().unwrap().contains("4096"));
    assert_eq!(uploads_left(&dir), Vec::<String>::new());
    assert_eq!(std::fs::read(dir.join("index.acl")).unwrap(), index);
}

#[test]
fn twenty_concurrent_publishes_all_land() {
    let ctx = Context::new();
    let dir = registry(&ctx, &[]);
    let names: Vec<String> = (0..20).map(|i| format!("pkg-{i:02}")).collect();
    let pkgs: Vec<Vec<u8>> = names
        .iter()
        .map(|name| {
            std::fs::read(pack(
                &ctx,
                &Spec {
                    name,
                    payload: name.as_bytes(),
                    ..Spec::default()
                },
            ))
            .unwrap()
        })
        .collect();
    let server = serve_with_token(&ctx, &dir, &[]);
    let results: Vec<(StatusCode, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = pkgs
            .into_iter()
            .map(|bytes| {
                let server = &server;
                s.spawn(move || publish(&client(), server, TOKEN, bytes))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (status, text) in &results {
        assert_eq!(*status, 200, "{text}");
        assert_eq!(acl_field(text, "status"), "added");
    }
    let text = client()
        .get(server.url("/index.acl"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let index = Index::parse(&text, "index.acl").unwrap();
    let mut listed: Vec<&str> = index.packages.iter().map(|p| p.name.as_str()).collect();
    listed.sort();
    assert_eq!(listed, names.iter().map(String::as_str).collect::<Vec<_>>());
    for name in &names {
        let r = client()
            .get(server.url(&format!("/index/{name}.acl")))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
    }
    let check = Command::new(bin("pandora-registry"))
        .arg("check")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
}

#[test]
fn traversal_attempts_never_reach_a_file_outside_the_directory() {
    let ctx = Context::new();
    let hello = pack_example(&ctx, "hello");
    let dir = registry(&ctx, &[&hello]);
    let secret = "TOP-SECRET-8d1f";
    std::fs::write(ctx.path().join("secret"), secret).unwrap();
    // Symlinks inside the directory pointing out of it, in places the whitelist allows.
    std::os::unix::fs::symlink("../../secret", dir.join("index/evil.acl")).unwrap();
    let fake = "e".repeat(64);
    std::os::unix::fs::symlink("../../../secret", dir.join("blobs/sha256").join(&fake)).unwrap();
    std::os::unix::fs::symlink("../.pandora-registry/lock", dir.join("index/lock.acl")).unwrap();
    std::fs::write(dir.join(".pandora-registry/metrics.acl"), "Metrics {}\n").unwrap();
    let server = serve(&ctx, &dir, &[]);
    let corpus = [
        "/../secret".to_string(),
        "/index/../../secret".into(),
        "/%2e%2e/secret".into(),
        "/%2E%2E/%2e%2e/secret".into(),
        "/index/%2e%2e/%2e%2e/secret".into(),
        "/index%2f..%2f..%2fsecret".into(),
        "/index/..%2F..%2Fsecret".into(),
        "/index%5c..%5c..%5csecret".into(),
        "/index/..\\..\\secret".into(),
        "/./config.acl".into(),
        "//secret".into(),
        "/index//evil.acl".into(),
        "/index/evil.acl".into(),
        "/index/%65vil.acl".into(),
        format!("/blobs/sha256/{fake}"),
        "/index/lock.acl".into(),
        "/.pandora-registry/lock".into(),
        "/.pandora-registry/metrics.acl".into(),
        "/%2epandora-registry/metrics.acl".into(),
        "/secret".into(),
        "/config.acl%00".into(),
        "/index/evil.acl%00.acl".into(),
        "/%252e%252e/secret".into(),
        "/index/%2e%2e%2fsecret".into(),
        "/blobs/sha256/../../../secret".into(),
        "http://x/../secret".into(),
        "/index/evil.acl?/../../secret".into(),
    ];
    for target in &corpus {
        let r = raw_get(server.addr(), target);
        assert!(
            r.status == 400 || r.status == 404,
            "{target}: status {}",
            r.status
        );
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains(secret), "{target} leaked the secret");
        assert!(!body.contains("Metrics"), "{target} leaked server state");
    }
    // A raw NUL byte and a raw backslash are refused too (by the parser or the checks).
    for target in ["/config.acl\0", "/index\\..\\..\\secret"] {
        let r = raw(
            server.addr(),
            format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(r.status, 400, "{target:?}");
    }
    // The legitimate files still are served.
    assert_eq!(raw_get(server.addr(), "/index/hello.acl").status, 200);
}

fn search(client: &Client, server: &Server, query: &str) -> Vec<(String, i64)> {
    let r = client
        .get(server.url(&format!("/api/v1/search?{query}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().unwrap();
    let doc = acl::parse(&text, "search").unwrap();
    let results = doc.block("Results").expect("a Results block");
    results
        .children("Hit")
        .map(|h| {
            assert!(h.field("version").is_some() && h.field("deprecated").is_some());
            (
                h.label.as_ref().unwrap().as_str().to_string(),
                h.field("rank").unwrap().value.as_int().unwrap(),
            )
        })
        .collect()
}

#[test]
fn search_ranks_exact_prefix_substring_then_tag() {
    let ctx = Context::new();
    let specs = [
        ("other", Some("something else"), &["tool"][..]),
        ("mytool", Some("mine"), &[][..]),
        ("toolkit", Some("a kit"), &[][..]),
        ("tool", Some("the one"), &[][..]),
        ("unrelated", Some("nothing"), &["misc"][..]),
    ];
    let pkgs: Vec<PathBuf> = specs
        .iter()
        .map(|(name, description, tags)| {
            pack(
                &ctx,
                &Spec {
                    name,
                    description: *description,
                    tags,
                    ..Spec::default()
                },
            )
        })
        .collect();
    let refs: Vec<&Path> = pkgs.iter().map(PathBuf::as_path).collect();
    let dir = registry(&ctx, &refs);
    let server = serve(&ctx, &dir, &[]);
    let client = client();
    let want = vec![
        ("tool".to_string(), 0),
        ("toolkit".to_string(), 1),
        ("mytool".to_string(), 2),
        ("other".to_string(), 3),
    ];
    assert_eq!(search(&client, &server, "q=tool"), want);
    assert_eq!(
        search(&client, &server, "q=%74ool"),
        want,
        "percent-decoded"
    );
    assert_eq!(search(&client, &server, "q=+tool+"), want, "`+` is a space");
    assert_eq!(search(&client, &server, "q=nope"), vec![]);
    let r = client.get(server.url("/api/v1/search")).send().unwrap();
    assert_eq!(r.status(), 400);

    // An update while serving shows up in the next search.
    let toolbox = pack(
        &ctx,
        &Spec {
            name: "toolbox",
            ..Spec::default()
        },
    );
    registry_cmd(&["add".as_ref(), dir.as_os_str(), toolbox.as_os_str()]);
    let names: Vec<String> = search(&client, &server, "q=tool")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["tool", "toolbox", "toolkit", "mytool", "other"]);
}

fn metrics(client: &Client, server: &Server) -> Vec<(String, String, i64, i64)> {
    let text = client
        .get(server.url("/metrics.acl"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let doc = acl::parse(&text, "metrics").unwrap();
    let mut out = Vec::new();
    for p in doc.block("Metrics").unwrap().children("Package") {
        for v in p.children("Version") {
            let int = |f: &str| v.field(f).unwrap().value.as_int().unwrap();
            out.push((
                p.label.as_ref().unwrap().as_str().to_string(),
                v.label.as_ref().unwrap().as_str().to_string(),
                int("downloads"),
                int("publishes"),
            ));
        }
    }
    out
}

#[test]
fn metrics_count_downloads_and_publishes_across_restarts() {
    let ctx = Context::new();
    let hello = pack_example(&ctx, "hello");
    let greet = pack_example(&ctx, "libgreet");
    let dir = registry(&ctx, &[&hello, &greet]);
    let hello_blob = format!(
        "/blobs/sha256/{}",
        sha256_hex(&std::fs::read(&hello).unwrap())
    );
    let greet_blob = format!(
        "/blobs/sha256/{}",
        sha256_hex(&std::fs::read(&greet).unwrap())
    );
    let server = serve_with_token(&ctx, &dir, &[]);
    let client = client();
    for _ in 0..2 {
        assert_eq!(
            client.get(server.url(&hello_blob)).send().unwrap().status(),
            200
        );
    }
    let r = client
        .get(server.url(&hello_blob))
        .header("Range", "bytes=0-9")
        .send()
        .unwrap();
    assert_eq!(r.status(), 206);
    let etag = header(&r, "etag").to_string();
    // Neither HEAD nor a 304 is a download.
    assert_eq!(
        client
            .head(server.url(&hello_blob))
            .send()
            .unwrap()
            .status(),
        200
    );
    let r = client
        .get(server.url(&hello_blob))
        .header("If-None-Match", etag)
        .send()
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(
        client.get(server.url(&greet_blob)).send().unwrap().status(),
        200
    );
    let beta = std::fs::read(pack(
        &ctx,
        &Spec {
            name: "beta",
            version: "0.1.0",
            ..Spec::default()
        },
    ))
    .unwrap();
    assert_eq!(publish(&client, &server, TOKEN, beta.clone()).0, 200);
    assert_eq!(publish(&client, &server, TOKEN, beta).0, 200, "unchanged");
    let want = vec![
        ("beta".to_string(), "0.1.0".to_string(), 0, 1),
        ("hello".to_string(), "1.0.0".to_string(), 3, 0),
        ("libgreet".to_string(), "2.1.0".to_string(), 1, 0),
    ];
    assert_eq!(metrics(&client, &server), want);

    // SIGTERM saves the counts; the next server starts from them.
    assert!(server.terminate().success());
    assert!(dir.join(".pandora-registry/metrics.acl").is_file());
    let server = serve(&ctx, &dir, &[]);
    assert_eq!(metrics(&client, &server), want);
    assert_eq!(
        client.get(server.url(&greet_blob)).send().unwrap().status(),
        200
    );
    assert_eq!(metrics(&client, &server)[2].2, 2);
}

#[test]
fn nginx_serves_the_same_bytes_from_the_same_directory() {
    let ctx = Context::new();
    let hello = pack_example(&ctx, "hello");
    let greet = pack_example(&ctx, "libgreet");
    // A blob of several read chunks, incompressible.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let big: Vec<u8> = (0..1_500_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let bulky = pack(
        &ctx,
        &Spec {
            name: "bulky",
            payload: &big,
            ..Spec::default()
        },
    );
    let dir = registry(&ctx, &[&hello, &greet, &bulky]);
    let server = serve(&ctx, &dir, &[]);
    let nginx = Nginx::start(&dir);
    let client = client();
    let mut paths = vec![
        "/config.acl".to_string(),
        "/snapshot.acl".into(),
        "/index.acl".into(),
    ];
    for sub in ["index", "blobs/sha256"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            paths.push(format!(
                "/{sub}/{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    assert_eq!(paths.len(), 3 + 3 + 3);
    let get = |url: String, range: Option<&str>| {
        let mut req = client.get(&url);
        if let Some(r) = range {
            req = req.header("Range", r);
        }
        let r = req.send().unwrap();
        assert!(r.status().is_success(), "{url}: {}", r.status());
        r.bytes().unwrap()
    };
    for path in &paths {
        let ours = get(server.url(path), None);
        let theirs = get(nginx.url(path), None);
        assert!(ours == theirs, "{path}: the two servers differ");
        assert_eq!(ours.as_ref(), std::fs::read(dir.join(&path[1..])).unwrap());
    }
    let bulky_blob = format!(
        "/blobs/sha256/{}",
        sha256_hex(&std::fs::read(&bulky).unwrap())
    );
    for range in ["bytes=1000-300000", "bytes=-200000", "bytes=131072-"] {
        let ours = get(server.url(&bulky_blob), Some(range));
        let theirs = get(nginx.url(&bulky_blob), Some(range));
        assert!(ours == theirs, "{range}: the two servers differ");
    }
}
