//! GET and HEAD of the registry files: ETags, caching, ranges, traversal, and nginx for
//! comparison.

use super::*;

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
