//! `POST /api/v1/publish`: the token, each outcome, size limits, concurrency, and the
//! uploads a killed server leaves behind.

use super::*;

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
    let (status, text) = publish(
        &client,
        &server,
        TOKEN,
        std::fs::read(ranged_package(&ctx)).unwrap(),
    );
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
    let text = get_text(&client(), &server, "/index.acl");
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
    registry_tool(&["check".as_ref(), dir.as_os_str()]);
}

/// Starts a publish of a 1 MB body on `server`, sends 64 KiB of it, and returns the
/// connection, still open, once the server has created the upload file.
fn half_an_upload(server: &Server, dir: &Path) -> (TcpStream, String) {
    let before = uploads_left(dir);
    let mut stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .write_all(
            format!(
                "POST /api/v1/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
                 Content-Length: 1000000\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    stream.write_all(&[7u8; 64 * 1024]).unwrap();
    stream.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(new) = uploads_left(dir).into_iter().find(|u| !before.contains(u)) {
            return (stream, new);
        }
        assert!(Instant::now() < deadline, "no upload file appeared");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn uploads_a_killed_server_left_are_removed() {
    let ctx = Context::new();
    let dir = registry(&ctx, &[]);
    // The server dies in the middle of a publish: its upload stays behind.
    let server = serve_with_token(&ctx, &dir, &[]);
    let (stream, upload) = half_an_upload(&server, &dir);
    server.kill();
    drop(stream);
    assert_eq!(uploads_left(&dir), [upload.as_str()]);
    // The next server removes it as it starts.
    let server = serve_with_token(&ctx, &dir, &[]);
    assert_eq!(uploads_left(&dir), Vec::<String>::new());

    // A failed publish removes leftovers too, but never an upload that another live server
    // is still receiving.
    let other = serve_with_token(&ctx, &dir, &[]);
    let (stream, receiving) = half_an_upload(&other, &dir);
    let tmp = dir.join(".pandora-registry/tmp");
    std::fs::write(tmp.join("upload-crashed.pkg"), "half a package").unwrap();
    let (status, text) = publish(&client(), &server, TOKEN, b"not a package".to_vec());
    assert_eq!(status, 422, "{text}");
    assert_eq!(uploads_left(&dir), [receiving.as_str()]);
    drop(stream);
    drop(other);
}
