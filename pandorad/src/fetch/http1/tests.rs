//! The small client against servers that answer as told, byte for byte.

use super::*;
use std::net::TcpListener;
use std::sync::mpsc::Receiver;

/// A server that answers each connection's requests from `answers`, in order, and
/// reports how many connections it accepted.
fn serve(
    answers: Vec<Vec<u8>>,
    per_connection: usize,
) -> (String, Receiver<usize>, Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (heads, seen) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut answers = answers.into_iter();
        let mut accepted = 0;
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            accepted += 1;
            let _ = tx.send(accepted);
            for _ in 0..per_connection {
                let mut head = Vec::new();
                let mut byte = [0u8];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        break;
                    }
                    head.push(byte[0]);
                }
                let _ = heads.send(String::from_utf8_lossy(&head).into_owned());
                let Some(answer) = answers.next() else { return };
                // `PAUSE` in an answer: the rest goes out a moment later.
                for (i, part) in answer.split(|b| *b == 0).enumerate() {
                    if i > 0 {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    let _ = stream.write_all(part);
                }
            }
        }
    });
    (format!("http://{addr}/blobs/x?y=1"), rx, seen)
}

fn body(mut r: Response) -> Vec<u8> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn reads_exactly_the_length_and_reuses_the_connection() {
    let (url, accepted, heads) = serve(
        vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
                .to_vec(),
            b"HTTP/1.1 206 Partial\r\nContent-Range: bytes 2-4/5\r\ncontent-length: 3\r\n\r\nllo"
                .to_vec(),
            b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nETag: \"v2\"\r\nContent-Length: 2\r\n\r\nv2".to_vec(),
        ],
        4,
    );
    let t = parse(&url).unwrap();
    assert_eq!(t.path, "/blobs/x?y=1");
    let first = get(&t, 0, None, &None, None).unwrap().unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(body(first), b"hello");
    let second = get(&t, 2, None, &None, None).unwrap().unwrap();
    assert_eq!(
        (second.status(), second.header("content-range")),
        (206, Some("bytes 2-4/5"))
    );
    assert_eq!(body(second), b"llo");
    // A 304 has no body, whatever its headers say.
    let same = get(&t, 0, Some("\"v1\""), &None, None).unwrap().unwrap();
    assert_eq!((same.status(), same.header("etag")), (304, Some("\"v1\"")));
    assert_eq!(body(same), b"");
    let fresh = get(&t, 0, Some("\"v1\""), &None, None).unwrap().unwrap();
    assert_eq!(fresh.header("etag"), Some("\"v2\""));
    assert_eq!(body(fresh), b"v2");
    // One connection served them all, and each request said what it wanted.
    assert_eq!(accepted.try_iter().last(), Some(1));
    let heads: Vec<String> = heads.try_iter().collect();
    assert!(
        heads[0].starts_with("GET /blobs/x?y=1 HTTP/1.1\r\n"),
        "{heads:?}"
    );
    let host = format!("\r\nHost: {}\r\n", t.authority);
    assert!(heads[0].contains(&host), "{heads:?}");
    assert!(heads[1].contains("\r\nRange: bytes=2-\r\n"), "{heads:?}");
    assert!(
        heads[2].contains("\r\nIf-None-Match: \"v1\"\r\n"),
        "{heads:?}"
    );
    assert!(
        !heads[0].contains("Range") && !heads[0].contains("If-None"),
        "{heads:?}"
    );
    assert!(get(&t, 0, Some("a\r\nX: y"), &None, None).is_err());
}

#[test]
fn a_request_sent_ahead_is_answered_later_on_its_connection() {
    let (url, accepted, heads) = serve(
        vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nahead".to_vec(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext".to_vec(),
        ],
        2,
    );
    let t = parse(&url).unwrap();
    let ahead = send_ahead(&t).unwrap();
    // The server has the request before the answer is asked for.
    let head = heads.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(head.starts_with("GET /blobs/x?y=1 HTTP/1.1\r\n"), "{head}");
    assert!(!head.contains("Range"), "{head}");
    let answer = get(&t, 0, None, &None, Some(ahead)).unwrap().unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(body(answer), b"ahead");
    // Nothing was sent again, and the connection went back to the pool.
    assert!(heads.try_recv().is_err());
    assert_eq!(
        body(get(&t, 0, None, &None, None).unwrap().unwrap()),
        b"next"
    );
    assert_eq!(accepted.try_iter().last(), Some(1));
}

#[test]
fn a_request_sent_ahead_for_another_get_is_not_taken() {
    let (url, accepted, heads) = serve(
        vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nwhole".to_vec(),
            b"HTTP/1.1 206 Partial\r\nContent-Range: bytes 2-4/5\r\nContent-Length: 3\r\n\r\nole"
                .to_vec(),
        ],
        1,
    );
    let t = parse(&url).unwrap();
    let ahead = send_ahead(&t).unwrap();
    // A resume wants other bytes than the whole GET sent ahead: that answer is not
    // taken for it.
    let resumed = get(&t, 2, None, &None, Some(ahead)).unwrap().unwrap();
    assert_eq!(resumed.status(), 206);
    assert_eq!(body(resumed), b"ole");
    let heads: Vec<String> = heads.try_iter().collect();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(heads[1].contains("\r\nRange: bytes=2-\r\n"), "{heads:?}");
    assert_eq!(accepted.try_iter().last(), Some(2));
}

#[test]
fn a_closed_kept_connection_is_replaced_and_a_cut_body_is_an_error() {
    let (url, accepted, _) = serve(
        vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort".to_vec(),
        ],
        1,
    );
    let t = parse(&url).unwrap();
    assert_eq!(body(get(&t, 0, None, &None, None).unwrap().unwrap()), b"ok");
    // The server closed that connection after one answer: the next GET opens another.
    let mut cut = get(&t, 0, None, &None, None).unwrap().unwrap();
    let mut out = Vec::new();
    let e = cut.read_to_end(&mut out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnexpectedEof, "{e}");
    assert_eq!(out, b"short");
    assert_eq!(accepted.try_iter().last(), Some(2));
}

#[test]
fn a_kept_connection_with_bytes_waiting_is_not_reused() {
    // The server says 408 on its own on the idle connection, then closes it.
    let (url, accepted, _) = serve(
        vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok\0HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew".to_vec(),
        ],
        1,
    );
    let t = parse(&url).unwrap();
    assert_eq!(body(get(&t, 0, None, &None, None).unwrap().unwrap()), b"ok");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let next = get(&t, 0, None, &None, None).unwrap().unwrap();
    assert_eq!(next.status(), 200);
    assert_eq!(body(next), b"new");
    assert_eq!(accepted.try_iter().last(), Some(2));
}

#[test]
fn endless_interim_answers_and_protocol_switches_are_errors() {
    let endless = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(20);
    let mut many = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n".to_vec();
    for i in 0..150 {
        many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let (url, _, _) = serve(
        vec![
            endless,
            b"HTTP/1.1 101 Switching Protocols\r\nContent-Length: 0\r\n\r\n".to_vec(),
            many,
        ],
        1,
    );
    let t = parse(&url).unwrap();
    let e = get(&t, 0, None, &None, None).err().unwrap();
    assert!(e.contains("interim answers without end"), "{e}");
    let e = get(&t, 0, None, &None, None).err().unwrap();
    assert!(e.contains("HTTP 101"), "{e}");
    // More headers than it parses: reqwest's turn.
    assert!(get(&t, 0, None, &None, None).unwrap().is_none());
}

#[test]
fn what_it_does_not_speak_is_left_to_reqwest() {
    let (url, _, _) = serve(
        vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n".to_vec(),
            b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n".to_vec(),
            b"HTTP/1.0 200 OK\r\n\r\nuntil the close".to_vec(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok".to_vec(),
        ],
        1,
    );
    let t = parse(&url).unwrap();
    assert!(get(&t, 0, None, &None, None).unwrap().is_none(), "chunked");
    assert!(
        get(&t, 0, None, &None, None).unwrap().is_none(),
        "a redirect"
    );
    assert!(
        get(&t, 0, None, &None, None).unwrap().is_none(),
        "no length"
    );
    let e = get(&t, 0, None, &None, None).err().unwrap();
    assert!(e.contains("two different Content-Lengths"), "{e}");
    let default = parse("http://example.org/a").unwrap();
    assert_eq!((default.host.as_str(), default.port), ("example.org", 80));
    let v6 = parse("http://[::1]:8080/a").unwrap();
    assert_eq!((v6.authority.as_str(), v6.port), ("[::1]:8080", 8080));
    for url in [
        "https://example.org/x",
        "http://user:pw@example.org/x",
        "file:///x",
    ] {
        assert!(parse(url).is_none(), "{url}");
    }
}
