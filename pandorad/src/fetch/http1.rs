//! A small HTTP/1.1 client for the request an install makes most: the GET of a package from a
//! plain `http://` registry. The body is read from the socket straight into the caller's
//! buffer, on the caller's thread, and connections are kept alive between packages. (reqwest's
//! blocking client runs the connection on a thread of its own and hands every chunk over.)
//! What it does not speak goes to reqwest: TLS, proxies, redirects, and bodies without a
//! `Content-Length` (chunked, or up to the close).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::http::STALL_TIMEOUT;

/// Longest wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest response head read, and the most headers parsed; a larger answer goes to
/// reqwest, whose limits are higher.
pub(super) const MAX_HEAD: usize = 64 << 10;
pub(super) const MAX_HEADERS: usize = 100;
/// Interim (1xx) answers accepted before the real one.
const MAX_INTERIM: usize = 8;
/// A read waits at most this long before it asks whether to stop; a minute without a byte
/// ([`STALL_TIMEOUT`]) fails it.
const SLICE: Duration = Duration::from_secs(1);

/// Asked while a read waits: `true` when the work was told to stop (its client went away,
/// the daemon is stopping), so a silent server does not hold it for a minute.
pub(crate) type Stop = Option<Arc<dyn Fn() -> bool + Send + Sync>>;

/// Reads once into `buf`, waiting until `deadline` at most, and asking `stop` every
/// [`SLICE`] (the socket's read timeout) in between.
pub(super) fn read_until(
    stream: &mut TcpStream,
    buf: &mut [u8],
    deadline: Instant,
    stop: &Stop,
) -> std::io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if stop.as_ref().is_some_and(|s| s()) {
                    // Not `Interrupted`: readers retry that.
                    return Err(std::io::Error::other(
                        "stopped while waiting for the server",
                    ));
                }
                if Instant::now() >= deadline {
                    return Err(std::io::Error::new(
                        ErrorKind::TimedOut,
                        "the server sent nothing for a minute",
                    ));
                }
            }
            r => return r,
        }
    }
}

/// Idle connections kept, and for how long: under the idle timeouts servers commonly use.
const POOL_SIZE: usize = 8;
const POOL_IDLE: Duration = Duration::from_secs(20);

/// The response headers kept for the caller.
pub(super) const KEPT: [&str; 2] = ["content-range", "etag"];

/// Where a plain `http://` URL goes.
pub(crate) struct Target {
    /// `host:port`, the connection's key in the pool.
    pub(super) authority: String,
    host: String,
    port: u16,
    /// The request target: path and query.
    pub(super) path: String,
}

/// The target of `url` when this client can fetch it: `http://`, no credentials, and no proxy
/// configured in the environment (reqwest honours those).
pub(crate) fn target(url: &str) -> Option<Target> {
    let proxied = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|p| !p.is_empty()));
    if proxied { None } else { parse(url) }
}

fn parse(url: &str) -> Option<Target> {
    let parsed = reqwest::Url::parse(url).ok()?;
    if parsed.scheme() != "http" || !parsed.username().is_empty() || parsed.password().is_some() {
        return None;
    }
    // `[::1]` for an IPv6 address, as the Host header wants it.
    let host = parsed.host_str()?.to_string();
    let port = parsed.port_or_known_default()?;
    let mut path = parsed.path().to_string();
    if let Some(q) = parsed.query() {
        path.push('?');
        path.push_str(q);
    }
    Some(Target {
        authority: format!("{host}:{port}"),
        host,
        port,
        path,
    })
}

/// Connections kept alive, newest last.
static POOL: Mutex<Vec<(String, TcpStream, Instant)>> = Mutex::new(Vec::new());

/// A kept connection to `authority` that is still quiet: one with bytes waiting (a `408` a
/// server sent before closing it) or already closed is dropped.
pub(super) fn pooled(authority: &str) -> Option<TcpStream> {
    loop {
        let stream = {
            let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
            pool.retain(|(_, _, since)| since.elapsed() < POOL_IDLE);
            let i = pool.iter().rposition(|(a, ..)| a == authority)?;
            pool.swap_remove(i).1
        };
        if quiet(&stream) {
            return Some(stream);
        }
    }
}

/// One `recv(MSG_PEEK | MSG_DONTWAIT)`: nothing waiting, and the connection not closed.
fn quiet(stream: &TcpStream) -> bool {
    let flags = rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT;
    matches!(
        rustix::net::recv(stream, &mut [0u8; 1], flags),
        Err(rustix::io::Errno::AGAIN)
    )
}

pub(super) fn give_back(authority: &str, stream: TcpStream) {
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    if pool.len() >= POOL_SIZE {
        pool.remove(0);
    }
    pool.push((authority.to_string(), stream, Instant::now()));
}

/// Connects to the first of `t`'s addresses that answers, splitting [`CONNECT_TIMEOUT`]
/// among them.
pub(super) fn connect(t: &Target) -> std::io::Result<TcpStream> {
    let host = t.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = (host, t.port).to_socket_addrs()?.collect();
    let each = (CONNECT_TIMEOUT / addrs.len().max(1) as u32).max(Duration::from_secs(1));
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, each) {
            Ok(s) => {
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(SLICE))?;
                s.set_write_timeout(Some(STALL_TIMEOUT))?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(ErrorKind::NotFound, format!("{host} has no address"))
    }))
}

/// A response whose body is being read: exactly `Content-Length` bytes, after which the
/// connection goes back to the pool.
pub(crate) struct Response {
    status: u16,
    /// The headers a caller asks for ([`KEPT`]), names in lower case.
    headers: Vec<(&'static str, String)>,
    stream: Option<TcpStream>,
    authority: String,
    /// Body bytes that came with the head.
    early: Vec<u8>,
    at: usize,
    /// Body bytes not yet handed on.
    remaining: u64,
    keep_alive: bool,
    stop: Stop,
}

impl Response {
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// The value of `name` (lower case), when it is one of [`KEPT`].
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn done(&mut self) {
        if let Some(stream) = self.stream.take()
            && self.keep_alive
            && self.at == self.early.len()
        {
            give_back(&self.authority, stream);
        }
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            self.done();
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = if self.at < self.early.len() {
            let n = want.min(self.early.len() - self.at);
            buf[..n].copy_from_slice(&self.early[self.at..self.at + n]);
            self.at += n;
            n
        } else {
            let Some(stream) = self.stream.as_mut() else {
                return Err(ErrorKind::NotConnected.into());
            };
            let deadline = Instant::now() + STALL_TIMEOUT;
            match read_until(stream, &mut buf[..want], deadline, &self.stop)? {
                0 => {
                    self.stream = None;
                    return Err(std::io::Error::new(
                        ErrorKind::UnexpectedEof,
                        format!(
                            "the connection closed with {} bytes to come",
                            self.remaining
                        ),
                    ));
                }
                n => n,
            }
        };
        self.remaining -= n as u64;
        if self.remaining == 0 {
            self.done();
        }
        Ok(n)
    }
}

/// The request line and headers of a GET of `t`, from byte `from` on when it is not 0, with
/// `If-None-Match: etag` when given.
pub(super) fn request(t: &Target, from: u64, etag: Option<&str>) -> Result<String, String> {
    // The port is left out when it is the default, as other clients do.
    let host = if t.port == 80 { &t.host } else { &t.authority };
    let mut request = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: pandorad/{}\r\nAccept: */*\r\n",
        t.path,
        env!("CARGO_PKG_VERSION")
    );
    if from > 0 {
        request.push_str(&format!("Range: bytes={from}-\r\n"));
    }
    if let Some(etag) = etag {
        if etag.contains(['\r', '\n']) {
            return Err("an ETag with a line break".into());
        }
        request.push_str(&format!("If-None-Match: {etag}\r\n"));
    }
    request.push_str("\r\n");
    Ok(request)
}

/// A whole GET of `t`, sent before its answer is wanted ([`send_ahead`]): the server answers
/// while the caller finishes other work, and [`get`] then finds the answer waiting.
pub(crate) struct Ahead {
    /// The request's target, as [`get`] is given it.
    path: String,
    authority: String,
    stream: TcpStream,
    /// When it was sent: the answer's deadline counts from here.
    sent: Instant,
}

/// Sends a plain GET of all of `t` on a kept connection, or on a new one, and leaves its answer
/// for [`get`]. `None` when that failed: [`get`] then sends the request itself, and meets the
/// failure there if it lasts.
pub(crate) fn send_ahead(t: &Target) -> Option<Ahead> {
    let request = request(t, 0, None).ok()?;
    let mut stream = match pooled(&t.authority) {
        Some(s) => s,
        None => connect(t).ok()?,
    };
    stream.write_all(request.as_bytes()).ok()?;
    Some(Ahead {
        path: t.path.clone(),
        authority: t.authority.clone(),
        stream,
        sent: Instant::now(),
    })
}

/// GET `t`, from byte `from` on when it is not 0, with `If-None-Match: etag` when given; with
/// the answer to `ahead` when that was sent for the same whole GET. `Ok(None)` when the answer
/// is one this client leaves to reqwest (a redirect, a body without a length). An error is
/// worth a retry, unless `stop` says to stop.
pub(crate) fn get(
    t: &Target,
    from: u64,
    etag: Option<&str>,
    stop: &Stop,
    ahead: Option<Ahead>,
) -> Result<Option<Response>, String> {
    let request = request(t, from, etag)?;
    // The answer to the request sent ahead, else an exchange on a kept connection. Either
    // may find the connection closed by the server before a byte of the answer: then once
    // more on a new one. Any other failure is the request's.
    let first = match ahead
        .filter(|a| from == 0 && etag.is_none() && a.path == t.path && a.authority == t.authority)
    {
        Some(a) => Some(answer(t, a.stream, a.sent + STALL_TIMEOUT, stop)),
        None => pooled(&t.authority).map(|stream| exchange(t, stream, &request, stop)),
    };
    match first {
        Some(Ok(answer)) => return Ok(answer),
        Some(Err(Failed::Other(e))) => return Err(format!("{}: {e}", t.authority)),
        Some(Err(Failed::Closed(_))) | None => {}
    }
    let stream = connect(t).map_err(|e| format!("cannot connect to {}: {e}", t.authority))?;
    exchange(t, stream, &request, stop).map_err(|e| {
        let (Failed::Closed(e) | Failed::Other(e)) = e;
        format!("{}: {e}", t.authority)
    })
}

/// Why an exchange failed.
enum Failed {
    /// The connection was closed or reset before a byte of the answer came.
    Closed(std::io::Error),
    Other(std::io::Error),
}

impl From<std::io::Error> for Failed {
    fn from(e: std::io::Error) -> Failed {
        Failed::Other(e)
    }
}

/// How an answer's body is framed, and the headers kept for the caller.
pub(super) struct Framing {
    /// `Content-Length`.
    pub(super) length: Option<u64>,
    /// A `Transfer-Encoding`: left to reqwest.
    pub(super) chunked: bool,
    /// The server closes the connection after this answer.
    pub(super) close: bool,
    /// The headers of [`KEPT`], names in lower case.
    pub(super) kept: Vec<(&'static str, String)>,
}

/// Reads the framing of an answer from its `head`.
pub(super) fn framing(head: &httparse::Response<'_, '_>) -> std::io::Result<Framing> {
    let mut f = Framing {
        length: None,
        chunked: false,
        close: head.version != Some(1),
        kept: Vec::new(),
    };
    for h in head.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            f.chunked = true;
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n = value.parse::<u64>().map_err(|_| {
                std::io::Error::other(format!("a malformed Content-Length `{value}`"))
            })?;
            if f.length.is_some_and(|l| l != n) {
                return Err(std::io::Error::other("two different Content-Lengths"));
            }
            f.length = Some(n);
        } else if let Some(kept) = KEPT.iter().find(|k| h.name.eq_ignore_ascii_case(k)) {
            f.kept.push((*kept, value.to_string()));
        } else if h.name.eq_ignore_ascii_case("connection") {
            f.close = value
                .split(',')
                .any(|v| v.trim().eq_ignore_ascii_case("close"));
        }
    }
    Ok(f)
}

/// A failure that may mean the server closed a kept connection before it read the request.
fn closed(e: std::io::Error) -> Failed {
    match e.kind() {
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof => {
            Failed::Closed(e)
        }
        _ => Failed::Other(e),
    }
}

/// Sends `request` and reads the answer's head, all within [`STALL_TIMEOUT`].
fn exchange(
    t: &Target,
    mut stream: TcpStream,
    request: &str,
    stop: &Stop,
) -> Result<Option<Response>, Failed> {
    let deadline = Instant::now() + STALL_TIMEOUT;
    stream.write_all(request.as_bytes()).map_err(closed)?;
    answer(t, stream, deadline, stop)
}

/// Reads the answer's head from `stream`, by `deadline`.
fn answer(
    t: &Target,
    mut stream: TcpStream,
    deadline: Instant,
    stop: &Stop,
) -> Result<Option<Response>, Failed> {
    let mut buf = vec![0u8; 16 << 10];
    let mut len = 0;
    // Whether `buf[..len]` may hold a whole head: after an interim answer it may.
    let mut parse = false;
    let mut interim = 0;
    loop {
        if !parse {
            if len == buf.len() {
                if buf.len() >= MAX_HEAD {
                    return Ok(None);
                }
                buf.resize(buf.len() * 2, 0);
            }
            let n = match read_until(&mut stream, &mut buf[len..], deadline, stop) {
                Ok(0) => Err(std::io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "the connection closed before an answer",
                )),
                r => r,
            };
            // Closed before a byte of the answer came, or in the middle of it.
            let answered = len > 0 || interim > 0;
            len += n.map_err(|e| {
                if answered {
                    Failed::Other(e)
                } else {
                    closed(e)
                }
            })?;
        }
        parse = false;
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut head = httparse::Response::new(&mut headers);
        let parsed = match head.parse(&buf[..len]) {
            Ok(p) => p,
            Err(httparse::Error::TooManyHeaders) => return Ok(None),
            Err(e) => {
                return Err(Failed::Other(std::io::Error::other(format!(
                    "a malformed answer: {e}"
                ))));
            }
        };
        let httparse::Status::Complete(head_len) = parsed else {
            continue;
        };
        let status = head.code.unwrap_or(0);
        if status == 101 {
            return Err(Failed::Other(std::io::Error::other(
                "the server switched protocols (HTTP 101)",
            )));
        }
        if (100..200).contains(&status) {
            // An interim answer: the real one follows.
            interim += 1;
            if interim > MAX_INTERIM {
                return Err(Failed::Other(std::io::Error::other(
                    "the server sent interim answers without end",
                )));
            }
            buf.copy_within(head_len..len, 0);
            len -= head_len;
            parse = len > 0;
            continue;
        }
        let Framing {
            length,
            chunked,
            close,
            kept: headers,
        } = framing(&head).map_err(Failed::Other)?;
        if chunked {
            return Ok(None);
        }
        let remaining = match length {
            _ if status == 204 || status == 304 => 0,
            _ if (300..400).contains(&status) => return Ok(None),
            Some(n) => n,
            None => return Ok(None),
        };
        let early = buf[head_len..len].to_vec();
        // More than the body: a server that pipelines or lies; not kept.
        let close = close || early.len() as u64 > remaining;
        let mut response = Response {
            status,
            headers,
            stream: Some(stream),
            authority: t.authority.clone(),
            early,
            at: 0,
            remaining,
            keep_alive: !close,
            stop: stop.clone(),
        };
        if remaining == 0 {
            response.done();
        }
        return Ok(Some(response));
    }
}

#[cfg(test)]
mod tests;
