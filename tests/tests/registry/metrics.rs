//! `GET /metrics.acl`: downloads and publishes, kept across restarts.

use super::*;

fn metrics(client: &Client, server: &Server) -> Vec<(String, String, i64, i64)> {
    let text = get_text(client, server, "/metrics.acl");
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
