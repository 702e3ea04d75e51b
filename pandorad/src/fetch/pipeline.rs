//! Many small GETs from one plain `http://` server over one connection, pipelined: a batch
//! of requests goes out in one write and the answers are read back to back, so that a
//! resolve's hundreds of index files cost a few wake-ups instead of a round trip each. HTTP/1.1
//! servers must answer pipelined requests in order; one that closes the connection early, or
//! answers in a way this does not read (chunked, interim answers), ends the pipeline there,
//! and the caller fetches the rest one at a time.

use std::io::Write;
use std::time::Instant;

use super::http::STALL_TIMEOUT;
use super::http1::{self, MAX_HEAD, MAX_HEADERS, Stop, Target};

/// Requests written at a time: small enough (about 100 bytes each) that the write never
/// waits for the server to read, whatever its answers fill.
const BATCH: usize = 32;

/// GETs the whole of each target of `items` (all on one `host:port`, each with the most bytes
/// its body may have) over one connection, pipelined, and gives `found` each `200` answer's
/// body with its item's index. Returns how many items were answered (any status); the rest
/// are left to the caller, as is every error.
pub(crate) fn get_all(
    items: &[(Target, u64)],
    stop: &Stop,
    mut found: impl FnMut(usize, &[u8]),
) -> usize {
    let Some((first, _)) = items.first() else {
        return 0;
    };
    let authority = &first.authority;
    if items.iter().any(|(t, _)| t.authority != *authority) {
        return 0;
    }
    let mut stream = match http1::pooled(authority) {
        Some(s) => s,
        None => match http1::connect(first) {
            Ok(s) => s,
            Err(_) => return 0,
        },
    };
    let mut reader = Answers {
        buf: Vec::new(),
        at: 0,
        chunk: vec![0u8; 64 << 10],
    };
    let mut answered = 0;
    for batch in items.chunks(BATCH) {
        let mut requests = String::new();
        for (t, _) in batch {
            match http1::request(t, 0, None) {
                Ok(r) => requests.push_str(&r),
                Err(_) => return answered,
            }
        }
        if stream.write_all(requests.as_bytes()).is_err() {
            return answered;
        }
        let deadline = Instant::now() + STALL_TIMEOUT;
        for (_, cap) in batch {
            match reader.next(&mut stream, *cap, deadline, stop) {
                Some(Answer {
                    status,
                    body,
                    close,
                }) => {
                    if status == 200 {
                        found(answered, &reader.buf[body.0..body.1]);
                    }
                    answered += 1;
                    if close {
                        return answered;
                    }
                }
                None => return answered,
            }
        }
    }
    if reader.at == reader.buf.len() {
        http1::give_back(authority, stream);
    }
    answered
}

/// The answers on one connection, read as they come.
struct Answers {
    /// Bytes read and not yet consumed from `at` on.
    buf: Vec<u8>,
    at: usize,
    chunk: Vec<u8>,
}

/// One answer: its status, where its body lies in [`Answers::buf`], and whether the server
/// closes the connection after it.
struct Answer {
    status: u16,
    body: (usize, usize),
    close: bool,
}

impl Answers {
    /// Reads from `stream` until one more answer is whole; `None` when it is not one this
    /// reads (an interim answer, no length, a body over `cap`) or the connection failed.
    fn next(
        &mut self,
        stream: &mut std::net::TcpStream,
        cap: u64,
        deadline: Instant,
        stop: &Stop,
    ) -> Option<Answer> {
        // What the previous answer left is kept; what it consumed is dropped.
        self.buf.drain(..self.at);
        self.at = 0;
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut head = httparse::Response::new(&mut headers);
            match head.parse(&self.buf) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let status = head.code?;
                    let framing = http1::framing(&head).ok()?;
                    if !(200..300).contains(&status) && status != 304 && status != 404
                        || framing.chunked
                    {
                        return None;
                    }
                    let length = match status {
                        204 | 304 => 0,
                        _ => framing.length?,
                    };
                    if length > cap {
                        return None;
                    }
                    let end = head_len + usize::try_from(length).ok()?;
                    while self.buf.len() < end {
                        self.fill(stream, deadline, stop)?;
                    }
                    self.at = end;
                    return Some(Answer {
                        status,
                        body: (head_len, end),
                        close: framing.close,
                    });
                }
                Ok(httparse::Status::Partial) if self.buf.len() < MAX_HEAD => {
                    self.fill(stream, deadline, stop)?;
                }
                _ => return None,
            }
        }
    }

    /// One read from `stream` onto the end of the buffer; `None` at its end or on an error.
    fn fill(
        &mut self,
        stream: &mut std::net::TcpStream,
        deadline: Instant,
        stop: &Stop,
    ) -> Option<()> {
        match http1::read_until(stream, &mut self.chunk, deadline, stop) {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                self.buf.extend_from_slice(&self.chunk[..n]);
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::mpsc::Receiver;

    /// A server that takes one connection, waits for `expect` request heads, answers them
    /// all with `answers` in one write, and sends back the heads it read.
    fn serve(expect: usize, answers: Vec<u8>) -> (String, Receiver<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut seen = Vec::new();
            let mut byte = [0u8];
            while seen.windows(4).filter(|w| w == b"\r\n\r\n").count() < expect {
                if stream.read(&mut byte).unwrap_or(0) == 0 {
                    break;
                }
                seen.push(byte[0]);
            }
            let _ = stream.write_all(&answers);
            let heads = String::from_utf8_lossy(&seen)
                .split_terminator("\r\n\r\n")
                .map(str::to_string)
                .collect();
            let _ = tx.send(heads);
            // Held open until the client is done with it.
            let _ = stream.read(&mut byte);
        });
        (format!("http://{addr}"), rx)
    }

    fn targets(base: &str, names: &[&str]) -> Vec<(Target, u64)> {
        names
            .iter()
            .map(|n| {
                (
                    http1::target(&format!("{base}/index/{n}.acl")).unwrap(),
                    100,
                )
            })
            .collect()
    }

    #[test]
    fn pipelined_answers_are_read_back_to_back() {
        let answers = [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst",
            "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
            "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfourth",
        ]
        .concat();
        let (base, heads) = serve(4, answers.into_bytes());
        let items = targets(&base, &["a", "b", "c", "d"]);
        let mut found = Vec::new();
        let answered = get_all(&items, &None, |i, body| found.push((i, body.to_vec())));
        assert_eq!(answered, 4);
        assert_eq!(
            found,
            [
                (0, b"first".to_vec()),
                (2, Vec::new()),
                (3, b"fourth".to_vec())
            ]
        );
        // Every request went out on the one connection, in order.
        let heads = heads.recv().unwrap();
        let lines: Vec<&str> = heads.iter().map(|h| h.lines().next().unwrap()).collect();
        assert_eq!(
            lines,
            [
                "GET /index/a.acl HTTP/1.1",
                "GET /index/b.acl HTTP/1.1",
                "GET /index/c.acl HTTP/1.1",
                "GET /index/d.acl HTTP/1.1"
            ]
        );
    }

    #[test]
    fn what_a_pipeline_does_not_read_is_left_to_the_caller() {
        // A body over its cap, a chunked answer, a redirect, a server that closes: each ends
        // the pipeline there, and the answers before it count.
        let over = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n{}",
            "x".repeat(101)
        );
        for (tail, answered) in [
            (over.as_str(), 1),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                1,
            ),
            (
                "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n",
                1,
            ),
            (
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
                2,
            ),
        ] {
            let answers = format!("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok{tail}");
            let (base, _) = serve(3, answers.into_bytes());
            let items = targets(&base, &["a", "b", "c"]);
            let mut found = 0;
            assert_eq!(
                get_all(&items, &None, |_, _| found += 1),
                answered,
                "{tail}"
            );
            assert_eq!(found, answered, "{tail}");
        }
        // A server that is not there: nothing answered.
        let gone = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        assert_eq!(get_all(&targets(&gone, &["a", "b"]), &None, |_, _| {}), 0);
    }
}
