//! One connection: its GET and HEAD requests are read and answered here, a file body with
//! `sendfile` (from the page cache to the socket, no copy through the server); the first
//! request that needs more (a body, HTTP/1.0, an upgrade, an unusual head) hands the
//! connection, with the bytes read so far, to hyper for the rest of its life.
//!
//! The direct path answers as hyper would: the same [`super::read`] builds each response,
//! with `date`, `content-length` and `connection: close` added the way hyper adds them.

use std::convert::Infallible;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Buf, Bytes, BytesMut};
use hyper::body::Body as _;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Response, StatusCode, Uri};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::State;
use super::body::{Body, CHUNK, read_chunk};

/// The largest head the direct path reads, and the most headers it parses; a larger one goes
/// to hyper, whose limits are higher.
const MAX_HEAD: usize = 16 << 10;
const MAX_HEADERS: usize = 64;
/// The most one `sendfile` call is asked for; the socket's buffer takes less at a time.
const SEND_MAX: u64 = 16 << 20;
/// Bodies in memory up to this size go out in one write with their head.
const COPY_WITH_HEAD: usize = 64 << 10;

/// Serves `stream` until the client closes it, `stop`, or the client's time is up
/// ([`super::ServeOptions::client_timeout`]): a request head may take that long from the
/// moment the server waits for it (so an idle keep-alive connection is closed after as long),
/// and what the server sent may stay unacknowledged that long.
pub(super) async fn connection(
    state: Arc<State>,
    mut stream: TcpStream,
    mut stop: watch::Receiver<bool>,
) {
    // Small responses go out at once rather than waiting for Nagle.
    let _ = stream.set_nodelay(true);
    // A client that takes nothing (its receive window shut, or gone without a word) is cut
    // off by the kernel once sent bytes have waited that long for its acknowledgement: the
    // socket then fails every write, wherever it waits (the direct path, hyper's, the
    // blocking pool). One that reads slowly keeps acknowledging and is served to the end.
    // (The kernel is the one to judge: it takes bytes into a growing send buffer long after
    // a client stopped reading, so a write that succeeds says nothing of the client.)
    let millis = u32::try_from(state.client_timeout.as_millis()).unwrap_or(u32::MAX);
    let _ = rustix::net::sockopt::set_tcp_user_timeout(&stream, millis);
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        let head = tokio::select! {
            biased;
            _ = stop.changed() => return,
            head = tokio::time::timeout(state.client_timeout, read_head(&mut stream, &mut buf)) => head,
        };
        let mut request = match head {
            Ok(Ok(Head::Simple(request))) => request,
            Ok(Ok(Head::Other)) => break,
            // Closed, failed, or silent for too long.
            Ok(Ok(Head::Closed) | Err(_)) | Err(_) => return,
        };
        let started = Instant::now();
        let resp = super::read(&state, &request.method, &request.uri, &request.headers).await;
        super::log(&state, &request.method, request.uri.path(), started, &resp);
        // Stopping: this answer is the last, and says so (as hyper's graceful shutdown does).
        request.close |= *stop.borrow();
        if let Err(e) = send(&state, &stream, resp, &request).await {
            tracing::debug!("connection ended: {e}");
            return;
        }
        if request.close {
            let _ = stream.shutdown().await;
            return;
        }
    }
    state.telemetry.handed_over();
    let io = Rewind {
        early: buf.freeze(),
        stream,
    };
    hyper_connection(state, io, stop).await;
}

/// A request the direct path answers: GET or HEAD, HTTP/1.1, no body.
struct Simple {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    /// The client asked to close the connection after the answer.
    close: bool,
}

/// What waiting for a request head gave.
enum Head {
    Simple(Box<Simple>),
    /// Anything else, complete or not: for hyper, with the bytes read so far.
    Other,
    /// The client closed the connection between requests (or within a head).
    Closed,
}

/// Reads until `buf` holds a whole request head, and takes it out of `buf` if the direct path
/// answers it.
async fn read_head(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<Head> {
    loop {
        if !buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut parsed = httparse::Request::new(&mut headers);
            match parsed.parse(buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let Some(simple) = Simple::new(&parsed) else {
                        return Ok(Head::Other);
                    };
                    buf.advance(len);
                    return Ok(Head::Simple(Box::new(simple)));
                }
                Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
                // Malformed, too many headers or too long: hyper answers (or refuses) it.
                _ => return Ok(Head::Other),
            }
        }
        buf.reserve(4096);
        if stream.read_buf(buf).await? == 0 {
            return Ok(Head::Closed);
        }
    }
}

impl Simple {
    fn new(parsed: &httparse::Request<'_, '_>) -> Option<Simple> {
        let method = match parsed.method? {
            "GET" => Method::GET,
            "HEAD" => Method::HEAD,
            _ => return None,
        };
        if parsed.version? != 1 {
            return None;
        }
        let uri: Uri = parsed.path?.parse().ok()?;
        let mut headers = HeaderMap::with_capacity(parsed.headers.len());
        let mut close = false;
        for h in parsed.headers.iter() {
            let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
            let value = HeaderValue::from_bytes(h.value).ok()?;
            if name == header::TRANSFER_ENCODING
                || name == header::EXPECT
                || name == header::UPGRADE
                || (name == header::CONTENT_LENGTH && value.as_bytes().trim_ascii() != b"0")
            {
                return None;
            }
            if name == header::CONNECTION {
                close |= value
                    .as_bytes()
                    .split(|&c| c == b',')
                    .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"));
            }
            headers.append(name, value);
        }
        Some(Simple {
            method,
            uri,
            headers,
            close,
        })
    }
}

/// Writes `resp` to `stream`: its head, then its body, a file with `sendfile`.
async fn send(
    state: &State,
    stream: &TcpStream,
    resp: Response<Body>,
    request: &Simple,
) -> io::Result<()> {
    let (parts, body) = resp.into_parts();
    let status = parts.status;
    // As hyper: no body and no length for 1xx, 204 and 304; a HEAD gets the length a GET
    // would.
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    let mut line = |name: &[u8], value: &[u8]| {
        head.extend_from_slice(name);
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    };
    for (name, value) in &parts.headers {
        line(name.as_str().as_bytes(), value.as_bytes());
    }
    // hyper adds no implicit `content-length: 0` to the answer to a HEAD either.
    let implicit_zero = request.method == Method::HEAD && matches!(body, Body::Empty);
    if !bodiless && !implicit_zero && !parts.headers.contains_key(header::CONTENT_LENGTH) {
        let len = body.size_hint().exact().unwrap_or(0);
        line(b"content-length", len.to_string().as_bytes());
    }
    if request.close {
        line(b"connection", b"close");
    }
    if !parts.headers.contains_key(header::DATE) {
        line(
            b"date",
            httpdate::fmt_http_date(SystemTime::now()).as_bytes(),
        );
    }
    head.extend_from_slice(b"\r\n");
    if bodiless || request.method == Method::HEAD {
        return write_all(stream, &head, false).await;
    }
    match body {
        Body::Empty | Body::Bytes(None) => write_all(stream, &head, false).await,
        Body::Bytes(Some(bytes)) if bytes.len() <= COPY_WITH_HEAD => {
            head.extend_from_slice(&bytes);
            write_all(stream, &head, false).await
        }
        Body::Bytes(Some(bytes)) => {
            write_all(stream, &head, true).await?;
            write_all(stream, &bytes, false).await
        }
        Body::File(file) => {
            let (file, offset, len, in_memory) = file.into_parts();
            // The head waits for the body's first bytes, so they leave together.
            write_all(stream, &head, len > 0).await?;
            send_file(state, stream, &file, offset, len, in_memory).await
        }
    }
}

/// Writes all of `bytes`; `more` says that the body follows (`MSG_MORE`).
async fn write_all(stream: &TcpStream, bytes: &[u8], more: bool) -> io::Result<()> {
    let flags = if more {
        rustix::net::SendFlags::MORE | rustix::net::SendFlags::NOSIGNAL
    } else {
        rustix::net::SendFlags::NOSIGNAL
    };
    let mut at = 0;
    while at < bytes.len() {
        at += stream
            .async_io(Interest::WRITABLE, || {
                rustix::net::send(stream, &bytes[at..], flags).map_err(io::Error::from)
            })
            .await?;
    }
    Ok(())
}

/// Sends `len` bytes of `file` from `offset` with `sendfile`. A file in memory is sent on
/// this async worker; one on a disk from the blocking pool, where a read from the disk may
/// wait.
async fn send_file(
    state: &State,
    stream: &TcpStream,
    file: &Arc<File>,
    mut offset: u64,
    len: u64,
    in_memory: Option<bool>,
) -> io::Result<()> {
    let in_memory = in_memory.unwrap_or_else(|| pandora_common::lives_in_memory(&**file));
    // For the blocking pool: the socket (non-blocking, as tokio set it up), duplicated.
    let mut socket: Option<Arc<OwnedFd>> = None;
    let (start, end) = (offset, offset + len);
    // Times in a row the kernel said there was room and `sendfile` found none.
    let mut no_room = 0;
    while offset < end {
        let count = usize::try_from((end - offset).min(SEND_MAX)).unwrap_or(usize::MAX);
        let sent = if in_memory {
            stream
                .async_io(Interest::WRITABLE, || {
                    rustix::fs::sendfile(stream, &**file, Some(&mut offset), count)
                        .map_err(io::Error::from)
                })
                .await
        } else {
            let socket = match &socket {
                Some(s) => Arc::clone(s),
                None => Arc::clone(socket.insert(Arc::new(stream.as_fd().try_clone_to_owned()?))),
            };
            let file = Arc::clone(file);
            let at = offset;
            let sent = tokio::task::spawn_blocking(move || {
                let mut at = at;
                rustix::fs::sendfile(&*socket, &*file, Some(&mut at), count)
            })
            .await
            .map_err(io::Error::other)?;
            match sent {
                Ok(n) => {
                    offset += n as u64;
                    Ok(n)
                }
                Err(rustix::io::Errno::AGAIN) => {
                    wait_for_room(stream, &mut no_room).await?;
                    continue;
                }
                Err(e) => Err(e.into()),
            }
        };
        let sent = match sent {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was being sent",
                ));
            }
            Ok(n) => n,
            // A file system `sendfile` cannot read from: nothing went out yet, so the body
            // is read and written instead.
            Err(e) if offset == start && cannot_sendfile(&e) => {
                return copy_file(stream, file, offset, end).await;
            }
            Err(e) => return Err(e),
        };
        no_room = 0;
        state.telemetry.sent_from_file(sent as u64);
    }
    Ok(())
}

/// Whether `sendfile` failed because it cannot read that file, not because of the socket.
fn cannot_sendfile(e: &io::Error) -> bool {
    [
        rustix::io::Errno::INVAL,
        rustix::io::Errno::NOSYS,
        rustix::io::Errno::OPNOTSUPP,
    ]
    .iter()
    .any(|errno| e.raw_os_error() == Some(errno.raw_os_error()))
}

/// Sends bytes `offset..end` of `file` read into buffers, on the blocking pool.
async fn copy_file(
    stream: &TcpStream,
    file: &Arc<File>,
    mut offset: u64,
    end: u64,
) -> io::Result<()> {
    while offset < end {
        let want = usize::try_from((end - offset).min(CHUNK)).unwrap_or(usize::MAX);
        let (file, at) = (Arc::clone(file), offset);
        let chunk = tokio::task::spawn_blocking(move || read_chunk(&file, at, want))
            .await
            .map_err(io::Error::other)??;
        if chunk.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being sent",
            ));
        }
        write_all(stream, &chunk, false).await?;
        offset += chunk.len() as u64;
    }
    Ok(())
}

/// Waits until `stream` has room again, after a write on another thread found none. tokio
/// learns of room from the kernel's edge events: the readiness it holds may predate that
/// write, and the edge may have come before it is cleared. So it is cleared, then the kernel
/// asked directly; only a socket still full waits, for an edge that must then come. When the
/// kernel keeps saying there is room that `sendfile` does not find (the system short of
/// socket memory), the retries are a millisecond apart.
async fn wait_for_room(stream: &TcpStream, no_room: &mut u32) -> io::Result<()> {
    let _ = stream.try_io(Interest::WRITABLE, || {
        Err::<(), _>(io::ErrorKind::WouldBlock.into())
    });
    let mut fds = [rustix::event::PollFd::new(
        stream,
        rustix::event::PollFlags::OUT,
    )];
    let now = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    if rustix::event::poll(&mut fds, Some(&now))? > 0 {
        *no_room += 1;
        if *no_room > 1 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        return Ok(());
    }
    stream.writable().await
}

/// Serves the rest of a connection with hyper.
async fn hyper_connection(state: Arc<State>, io: Rewind, mut stop: watch::Receiver<bool>) {
    let timeout = state.client_timeout;
    let service = service_fn(move |req| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(super::handle(state, req).await) }
    });
    // Already stopping: hyper answers the request at hand and closes. (Its graceful
    // shutdown, called before it has read the bytes handed over, would drop that request.)
    let stopping = *stop.borrow_and_update();
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .keep_alive(!stopping)
        .serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.changed(), if !stopping => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!("connection ended: {e}");
    }
}

/// A connection whose first bytes were already read: they are read again first.
struct Rewind {
    early: Bytes,
    stream: TcpStream,
}

impl AsyncRead for Rewind {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.early.is_empty() {
            let n = this.early.len().min(buf.remaining());
            buf.put_slice(&this.early[..n]);
            this.early.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
