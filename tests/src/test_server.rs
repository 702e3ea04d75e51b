//! A small HTTP/1.1 server that serves a registry directory and misbehaves on request: it
//! cuts connections, stalls, or answers with a fixed status, and records every request.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What the test server does with one request.
#[derive(Clone)]
pub enum Answer {
    /// The file, honouring `Range: bytes=N-`.
    Serve,
    /// The headers with the full Content-Length, half the body, then the connection closes.
    Cut,
    /// Half the body, a pause, then the rest.
    Slow(Duration),
    /// A fixed status and body.
    Canned(u16, String),
    /// The whole file with 200, whatever `Range` asks for.
    IgnoreRange,
    /// The whole file with 200, in 64 KiB chunks of `Transfer-Encoding: chunked`.
    Chunked,
    /// 302 to the given path.
    Redirect(String),
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// The path, as sent.
    pub path: String,
    /// The `Range` header.
    pub range: Option<String>,
}

type Rule = dyn Fn(&Seen, usize) -> Answer + Send + Sync;

/// Serves `root` on 127.0.0.1:0, one thread per connection, `Connection: close` always.
/// `rule(request, earlier)` decides each answer, `earlier` counting earlier requests for the
/// same path.
pub struct TestServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl TestServer {
    /// Starts serving `root`, answering as `rule` says.
    pub fn start(
        root: &Path,
        rule: impl Fn(&Seen, usize) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("a local address");
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

    /// `http://ADDR`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests for `path` so far.
    pub fn requests(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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
        let mut all = seen.lock().unwrap_or_else(PoisonError::into_inner);
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
    if let Answer::Redirect(to) = &what {
        return out.write_all(head(302, 0, &format!("Location: {to}\r\n")).as_bytes());
    }
    // The query is not part of the file's name.
    let rel = path.split('?').next().unwrap_or("").trim_start_matches('/');
    let bytes = match std::fs::read(root.join(rel)) {
        Ok(b) if !rel.split('/').any(|c| c == "..") => b,
        _ => return out.write_all(head(404, 0, "").as_bytes()),
    };
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n < bytes.len() && !matches!(what, Answer::IgnoreRange));
    if let Answer::Chunked = what {
        out.write_all(
            b"HTTP/1.1 200 X\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        )?;
        for chunk in bytes.chunks(64 << 10) {
            out.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
            out.write_all(chunk)?;
            out.write_all(b"\r\n")?;
        }
        out.write_all(b"0\r\n\r\n")?;
        return out.flush();
    }
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
        Answer::Serve
        | Answer::Canned(..)
        | Answer::IgnoreRange
        | Answer::Chunked
        | Answer::Redirect(_) => out.write_all(body)?,
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

/// Counts how many requests a server's rule holds at once: each [`Overlap::hold`] keeps its
/// request for a while, so requests sent together overlap and requests sent one after
/// another do not.
#[derive(Clone, Default)]
pub struct Overlap {
    held: Arc<std::sync::atomic::AtomicUsize>,
    most: Arc<std::sync::atomic::AtomicUsize>,
}

impl Overlap {
    /// Holds the calling request for `pause`, counted as held meanwhile.
    pub fn hold(&self, pause: Duration) {
        let now = self.held.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(pause);
        self.held.fetch_sub(1, Ordering::SeqCst);
    }

    /// The most requests held at once so far.
    pub fn most(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }
}

/// The URL path of the blob with sha256 `sha`.
pub fn blob_path(sha: &str) -> String {
    format!("/blobs/sha256/{sha}")
}
