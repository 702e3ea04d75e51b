//! One connection, many requests: GET and HEAD answered by the server's direct path (file
//! bodies with `sendfile`), pipelined, with a client that reads late; the hand-over to hyper
//! at the first request the direct path does not take; `Connection: close` and HTTP/1.0.

use std::io::Read;

use super::*;

/// A client connection that reads responses one at a time, by their length.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(server: &Server) -> Conn {
        let stream = TcpStream::connect(server.addr()).unwrap();
        // A small receive buffer, so that a large body waits for the reader whatever the
        // system's buffer sizes.
        rustix::net::sockopt::set_socket_recv_buffer_size(&stream, 64 * 1024).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 64 * 1024];
        let n = self
            .stream
            .read(&mut chunk)
            .expect("the server answers in time");
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// The next response; `bodiless` for the answer to a HEAD.
    fn response(&mut self, bodiless: bool) -> RawResponse {
        let end = loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            assert!(self.fill() > 0, "the connection closed before a response");
        };
        let head: Vec<u8> = self.buf.drain(..end).collect();
        let mut resp = parse(&head);
        let len: usize = match resp.header("content-length") {
            Some(n) if !bodiless && resp.status != 304 => n.parse().unwrap(),
            _ => 0,
        };
        while self.buf.len() < len {
            assert!(self.fill() > 0, "the connection closed within a body");
        }
        resp.body = self.buf.drain(..len).collect();
        resp
    }

    /// Whether the server closed the connection (after everything read so far).
    fn closed(&mut self) -> bool {
        self.buf.is_empty() && self.fill() == 0
    }
}

fn parse(head: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    RawResponse {
        status,
        headers,
        body: Vec::new(),
    }
}

/// Bytes zstd cannot shrink, so the package's blob is as large as they are.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A Prometheus counter of the server's `/metrics`.
fn counter(client: &Client, server: &Server, name: &str) -> u64 {
    let text = get_text(client, server, "/metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n")
}

#[test]
fn pipelined_requests_on_one_connection_are_answered_in_order_from_disk_and_tmpfs() {
    let ctx = Context::new();
    let big = pack(
        &ctx,
        &Spec {
            name: "big",
            payload: &noise(6 << 20),
            ..Spec::default()
        },
    );
    let hello = pack_example(&ctx, "hello");
    let on_disk = registry(&ctx, &[&big, &hello]);
    let mut dirs = vec![on_disk.clone()];
    // The same registry in memory, where `sendfile` runs on the server's async worker.
    let shm = tempfile::tempdir_in("/dev/shm").ok();
    if let Some(shm) = &shm {
        let copy = shm.path().join("reg");
        let status = std::process::Command::new("cp")
            .args(["-a", on_disk.to_str().unwrap(), copy.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success());
        dirs.push(copy);
    }
    let big_bytes = std::fs::read(&big).unwrap();
    let big_blob = format!("/blobs/sha256/{}", sha256_hex(&big_bytes));
    let hello_bytes = std::fs::read(&hello).unwrap();
    let hello_sha = sha256_hex(&hello_bytes);
    let hello_blob = format!("/blobs/sha256/{hello_sha}");
    let client = client();
    for dir in &dirs {
        let server = serve(&ctx, dir, &[]);
        let mut conn = Conn::open(&server);
        // All in one write, and nothing read for a while: the large body fills the socket's
        // buffers and the server waits for room in the middle of it.
        let mut requests = get(&big_blob, "");
        requests += &format!("HEAD {big_blob} HTTP/1.1\r\nHost: x\r\n\r\n");
        requests += &get("/config.acl", "");
        requests += &get(&hello_blob, "Range: bytes=10-19\r\n");
        requests += &get(&hello_blob, &format!("If-None-Match: \"{hello_sha}\"\r\n"));
        requests += &get("/no/such/file", "");
        conn.send(requests.as_bytes());
        std::thread::sleep(Duration::from_millis(300));

        let r = conn.response(false);
        assert_eq!(r.status, 200, "{dir:?}");
        assert_eq!(
            r.header("content-length"),
            Some(&*big_bytes.len().to_string())
        );
        assert!(r.body == big_bytes, "{dir:?}: the big blob's bytes differ");
        assert!(r.header("date").is_some());

        let r = conn.response(true);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-length"),
            Some(&*big_bytes.len().to_string())
        );
        assert_eq!(r.header("accept-ranges"), Some("bytes"));

        let r = conn.response(false);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, std::fs::read(dir.join("config.acl")).unwrap());

        let r = conn.response(false);
        assert_eq!(r.status, 206);
        assert_eq!(
            r.header("content-range"),
            Some(&*format!("bytes 10-19/{}", hello_bytes.len()))
        );
        assert_eq!(r.body, &hello_bytes[10..20]);

        let r = conn.response(false);
        assert_eq!(r.status, 304);
        assert_eq!(r.header("content-length"), None);

        let r = conn.response(false);
        assert_eq!(r.status, 404);
        assert!(String::from_utf8_lossy(&r.body).contains("not-found"));

        // Both blob bodies went from the page cache to the socket, none through hyper.
        assert_eq!(
            counter(&client, &server, "pandora_registry_sendfile_bytes_total"),
            big_bytes.len() as u64 + 10,
            "{dir:?}"
        );
        assert_eq!(
            counter(
                &client,
                &server,
                "pandora_registry_connections_handed_over_total"
            ),
            0
        );

        // A request with a body: hyper takes the connection over, with what was read.
        let body = "nothing@1.0.0";
        conn.send(
            format!(
                "POST /api/v1/installed HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        conn.send(get(&hello_blob, "").as_bytes());
        let r = conn.response(false);
        assert_eq!(r.status, 404, "an install of a version the index lacks");
        let r = conn.response(false);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, hello_bytes);
        assert_eq!(
            counter(
                &client,
                &server,
                "pandora_registry_connections_handed_over_total"
            ),
            1
        );

        // `Connection: close`: the answer says so, and the server closes.
        let mut conn = Conn::open(&server);
        conn.send(get("/config.acl", "Connection: close\r\n").as_bytes());
        let r = conn.response(false);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), Some("close"));
        assert!(
            conn.closed(),
            "the server keeps a connection it was asked to close"
        );

        // HTTP/1.0 goes to hyper, which answers it and closes.
        let mut conn = Conn::open(&server);
        conn.send(format!("GET {hello_blob} HTTP/1.0\r\n\r\n").as_bytes());
        let r = conn.response(false);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, hello_bytes);
        assert!(conn.closed());
        assert_eq!(
            counter(
                &client,
                &server,
                "pandora_registry_connections_handed_over_total"
            ),
            2
        );
    }
    if dirs.len() < 2 {
        eprintln!("no /dev/shm here: only the registry on disk was checked");
    }
}

#[test]
fn a_stopping_server_closes_its_idle_connections_at_once() {
    let ctx = Context::new();
    let hello = pack_example(&ctx, "hello");
    let dir = registry(&ctx, &[&hello]);
    let server = serve(&ctx, &dir, &[]);
    let mut idle = Conn::open(&server);
    idle.send(get("/config.acl", "").as_bytes());
    assert_eq!(idle.response(false).status, 200);
    // SIGTERM: the connection waiting for its next request is closed, and the server exits
    // without waiting out its grace period for it (5 s).
    let started = Instant::now();
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the server waited {:?} for an idle connection",
        started.elapsed()
    );
    assert!(idle.closed(), "the idle connection stays open");
}

/// A registry served with `--client-timeout 1`, holding a blob larger than the socket
/// buffers on both sides can hold (the largest send buffer TCP grows to, and `more` bytes):
/// the server, the blob's bytes and its path.
fn big_blob_server(ctx: &Context, more: usize) -> (Server, Vec<u8>, String) {
    let dir = registry(ctx, &[]);
    let wmem_max: usize = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20);
    let data = noise(wmem_max + more);
    let blob = format!("/blobs/sha256/{}", sha256_hex(&data));
    std::fs::write(dir.join(&blob[1..]), &data).unwrap();
    let server = serve(ctx, &dir, &["--client-timeout", "1"]);
    (server, data, blob)
}

/// Reads `conn` to its end; how many bytes came (a reset after the server gave up counts as
/// the end).
fn drain(conn: &mut Conn) -> usize {
    let mut got = conn.buf.len();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        match conn.stream.read(&mut chunk) {
            Ok(0) => return got,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("reading the rest: {e}"),
        }
    }
}

#[test]
fn a_client_that_takes_nothing_is_cut_off_after_the_client_timeout() {
    let ctx = Context::new();
    // The server waits for room in the middle of the blob.
    let (server, data, blob) = big_blob_server(&ctx, 8 << 20);

    // A client that reads at once gets the whole body.
    let mut reader = Conn::open(&server);
    reader.send(get(&blob, "").as_bytes());
    let r = reader.response(false);
    assert_eq!(r.status, 200);
    assert!(r.body == data, "the blob's bytes differ");

    // Through the direct path (HTTP/1.1) and through hyper (HTTP/1.0 goes there): a client
    // that asks for the blob and then takes nothing for longer than the timeout is cut off,
    // and the server answers others meanwhile.
    for request in [
        get(&blob, ""),
        format!("GET {blob} HTTP/1.0\r\nHost: x\r\n\r\n"),
    ] {
        let mut stalled = Conn::open(&server);
        stalled.send(request.as_bytes());
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(300));
        let mut other = Conn::open(&server);
        other.send(get("/config.acl", "").as_bytes());
        assert_eq!(other.response(false).status, 200);
        std::thread::sleep(Duration::from_millis(2700));
        let got = drain(&mut stalled);
        assert!(
            got < data.len(),
            "{request:?}: the stalled client still got all {got} bytes"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{request:?}: the connection stayed open {:?}",
            started.elapsed()
        );
    }

    // A request head that never ends, and an idle keep-alive connection: closed after the
    // timeout too.
    let mut partial = Conn::open(&server);
    partial.send(b"GET /config.acl HTTP/1.1\r\nHost: x\r\n");
    let mut idle = Conn::open(&server);
    idle.send(get("/config.acl", "").as_bytes());
    assert_eq!(idle.response(false).status, 200);
    let started = Instant::now();
    assert!(
        partial.closed(),
        "the half-sent head's connection stays open"
    );
    assert!(idle.closed(), "the idle connection stays open");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed only after {:?}",
        started.elapsed()
    );
}

#[test]
fn a_client_that_reads_slowly_but_steadily_is_not_cut_off() {
    let ctx = Context::new();
    // The server's send buffer fills, and the kernel wakes a writer only once a third of it
    // has drained: at a megabyte a second that takes longer than the timeout.
    let (server, data, blob) = big_blob_server(&ctx, 1 << 20);
    // The direct path (HTTP/1.1) and hyper's (HTTP/1.0), at once.
    let readers: Vec<_> = [
        get(&blob, ""),
        format!("GET {blob} HTTP/1.0\r\nHost: x\r\n\r\n"),
    ]
    .into_iter()
    .map(|request| {
        let addr = server.addr();
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            rustix::net::sockopt::set_socket_recv_buffer_size(&stream, 64 * 1024).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut got = Vec::new();
            let mut chunk = vec![0u8; 64 << 10];
            loop {
                match stream.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                    Err(e) => panic!("{request:?}: after {} bytes: {e}", got.len()),
                }
                // About a megabyte a second.
                std::thread::sleep(Duration::from_millis(60));
            }
            (request, got)
        })
    })
    .collect();
    for reader in readers {
        let (request, got) = reader.join().unwrap();
        let body_at = got
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
            .unwrap_or_else(|| panic!("{request:?}: no head in {} bytes", got.len()));
        assert!(
            got[body_at..] == data[..],
            "{request:?}: {} of {} body bytes came",
            got.len() - body_at,
            data.len()
        );
    }
}
