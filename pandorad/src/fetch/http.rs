//! The HTTP side of fetching: one blocking client (rustls with the system's roots), GETs with
//! validators, and streamed downloads that hash, cap, retry and resume. A download from a
//! plain `http://` registry goes through the small client of [`super::http1`] when it can.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pandora_common::hash::Hasher;
use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_RANGE, ETAG, IF_NONE_MATCH, RANGE};

use super::http1;
use crate::engine::Task;

/// Attempts per download before giving up.
const ATTEMPTS: u32 = 4;
/// Longest wait for the response to a request, and for each read of its body: a registry that
/// stops sending fails the request (and is retried) instead of holding the mutation queue.
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The process's HTTP client.
pub(crate) fn client() -> Result<&'static Client, String> {
    static CLIENT: OnceLock<Result<Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .timeout(STALL_TIMEOUT)
                .user_agent(concat!("pandorad/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("cannot set up HTTPS: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Why a GET failed.
pub(crate) enum GetError {
    /// The body is larger than the cap.
    TooLarge(u64),
    /// The server answered 404: it does not have the file.
    NotFound,
    /// The network or server failed, even after retries.
    Failed(String),
}

impl std::fmt::Display for GetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GetError::TooLarge(cap) => write!(f, "larger than {cap} bytes"),
            GetError::NotFound => f.write_str("HTTP 404 Not Found"),
            GetError::Failed(reason) => f.write_str(reason),
        }
    }
}

/// What a conditional GET found.
pub(crate) enum Conditional {
    /// 304: the cached copy is current.
    NotModified,
    /// 200: the body and its ETag.
    Fresh { body: Vec<u8>, etag: Option<String> },
}

fn describe(e: &dyn std::error::Error) -> String {
    pandora_common::error_chain(e, ": ")
}

/// GET `url` with `If-None-Match`, reading at most `cap` bytes. A failed connection or a
/// server error is retried with backoff. `stop` ends the wait (a mutation whose client left,
/// or that ran past its deadline) within a tenth of a second: the request is left to finish
/// on a thread of its own, which on a plain `http://` server also stops within a second.
pub(crate) fn get_conditional(
    url: &str,
    etag: Option<&str>,
    cap: u64,
    stop: &http1::Stop,
) -> Result<Conditional, GetError> {
    match stop {
        // On a thread of its own, which also asks `stop` between attempts and, over plain
        // HTTP, while it waits: a stopped request does not outlive its current attempt.
        Some(s) => {
            let (url, etag, inner) = (url.to_string(), etag.map(str::to_string), stop.clone());
            abandonable(s, move || {
                get_with(&url, etag.as_deref(), cap, ATTEMPTS, &inner)
            })
        }
        None => get_with(url, etag, cap, ATTEMPTS, stop),
    }
}

/// Runs `get` on a thread of its own and waits for it until `stop` says to stop, asking every
/// tenth of a second; a stopped `get` finishes unseen (its own timeouts bound it).
fn abandonable(
    stop: &Arc<dyn Fn() -> bool + Send + Sync>,
    get: impl FnOnce() -> Result<Conditional, GetError> + Send + 'static,
) -> Result<Conditional, GetError> {
    if stop() {
        return Err(GetError::Failed(STOPPED.into()));
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("pandorad-get".into())
        .spawn(move || {
            let _ = tx.send(get());
        })
        .map_err(|e| GetError::Failed(format!("cannot start a request: {e}")))?;
    match wait(&rx, stop) {
        Some(answer) => answer,
        None if stop() => Err(GetError::Failed(STOPPED.into())),
        None => Err(GetError::Failed("the request's thread ended".into())),
    }
}

/// Why a GET that was asked to stop failed.
const STOPPED: &str = "stopped while waiting for the server";

/// A plain GET of `url` (at most `cap` bytes) with one attempt, for work that may fail
/// (it is done again properly later); `stop` ends a wait on a plain `http://` server.
pub(crate) fn get_once(url: &str, cap: u64, stop: &http1::Stop) -> Result<Conditional, GetError> {
    get_with(url, None, cap, 1, stop)
}

fn get_with(
    url: &str,
    etag: Option<&str>,
    cap: u64,
    attempts: u32,
    stop: &http1::Stop,
) -> Result<Conditional, GetError> {
    let mut plain = http1::target(url);
    let mut last = String::new();
    let mut answer = None;
    let stopped = || stop.as_ref().is_some_and(|s| s());
    for attempt in 0..attempts {
        if stopped() || backoff_unless(attempt, &stopped) {
            return Err(GetError::Failed(STOPPED.into()));
        }
        match send(url, &mut plain, 0, etag, stop, None) {
            Ok(r) if r.status() >= 500 => last = format!("HTTP {}", r.status_text()),
            Ok(r) => {
                answer = Some(r);
                break;
            }
            Err(Sent::Transient(e)) => last = e,
            Err(Sent::Failed(e)) => return Err(GetError::Failed(e)),
        }
    }
    let Some(resp) = answer else {
        return Err(GetError::Failed(format!(
            "{last} (after {attempts} attempts)"
        )));
    };
    match resp.status() {
        304 => return Ok(Conditional::NotModified),
        404 => return Err(GetError::NotFound),
        200..300 => {}
        _ => return Err(GetError::Failed(format!("HTTP {}", resp.status_text()))),
    }
    let etag = resp.header(ETAG.as_str()).map(str::to_string);
    let mut body = Vec::new();
    resp.take(cap + 1)
        .read_to_end(&mut body)
        .map_err(|e| GetError::Failed(describe(&e)))?;
    if body.len() as u64 > cap {
        return Err(GetError::TooLarge(cap));
    }
    Ok(Conditional::Fresh { body, etag })
}

/// Waits before attempt `attempt` (from 0): nothing, then 0.1 s, 0.4 s, 1.6 s, in steps of
/// a tenth of a second, cut short when `stopped`; says whether it was.
fn backoff_unless(attempt: u32, stopped: &dyn Fn() -> bool) -> bool {
    if attempt == 0 {
        return false;
    }
    let until = std::time::Instant::now() + Duration::from_millis(100 * 4u64.pow(attempt - 1));
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        if stopped() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

fn transient(e: &reqwest::Error) -> bool {
    e.is_timeout() || e.is_connect() || e.is_request() || e.is_body()
}

/// One GET of `url` (from byte `from` on, if not 0; with `If-None-Match: etag`, if given):
/// through [`http1`] while `plain` names its target (answering `ahead` when it was sent for
/// this GET), else through reqwest. `plain` is cleared when [`http1`] leaves an answer to
/// reqwest (a redirect, a body without a length).
fn send(
    url: &str,
    plain: &mut Option<http1::Target>,
    from: u64,
    etag: Option<&str>,
    stop: &http1::Stop,
    ahead: Option<http1::Ahead>,
) -> Result<Response, Sent> {
    if let Some(target) = plain.as_ref() {
        match http1::get(target, from, etag, stop, ahead) {
            Ok(Some(r)) => return Ok(Response::Plain(r)),
            Ok(None) => *plain = None,
            Err(e) => return Err(Sent::Transient(e)),
        }
    }
    let client = client().map_err(Sent::Failed)?;
    let mut req = client.get(url);
    if from > 0 {
        req = req.header(RANGE, format!("bytes={from}-"));
    }
    if let Some(e) = etag {
        req = req.header(IF_NONE_MATCH, e);
    }
    let sent = match stop {
        // reqwest's waits cannot be cut short: with a stop to hear, they happen on a thread
        // of their own.
        Some(stop) => return Pumped::send(req, stop).map(Response::Pumped),
        None => req.send(),
    };
    match sent {
        Ok(r) => Ok(Response::Reqwest(r)),
        Err(e) => Err(classify(&e)),
    }
}

fn classify(e: &reqwest::Error) -> Sent {
    if transient(e) {
        Sent::Transient(describe(e))
    } else {
        Sent::Failed(describe(e))
    }
}

/// A reqwest answer read on a thread of its own, so that its reader hears a stop while it
/// waits (for the head, for the next bytes of the body) instead of up to a minute later.
struct Pumped {
    status: u16,
    /// The headers of [`http1::KEPT`], lower-case.
    headers: Vec<(String, String)>,
    body: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
    stop: Arc<dyn Fn() -> bool + Send + Sync>,
}

/// What the pump thread sends first: the answer's status and headers, or why there is none.
type Head = Result<(u16, Vec<(String, String)>), reqwest::Error>;

impl Pumped {
    fn send(
        req: reqwest::blocking::RequestBuilder,
        stop: &Arc<dyn Fn() -> bool + Send + Sync>,
    ) -> Result<Pumped, Sent> {
        let (head_tx, head_rx) = std::sync::mpsc::sync_channel::<Head>(1);
        let (body_tx, body_rx) = std::sync::mpsc::sync_channel(4);
        std::thread::Builder::new()
            .name("pandorad-pump".into())
            .spawn(move || {
                let mut r = match req.send() {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = head_tx.send(Err(e));
                        return;
                    }
                };
                let headers = http1::KEPT
                    .iter()
                    .filter_map(|n| {
                        let v = r.headers().get(*n)?.to_str().ok()?;
                        Some((n.to_string(), v.to_string()))
                    })
                    .collect();
                if head_tx.send(Ok((r.status().as_u16(), headers))).is_err() {
                    return;
                }
                loop {
                    let mut buf = vec![0u8; 256 << 10];
                    let piece = match r.read(&mut buf) {
                        Ok(n) => {
                            buf.truncate(n);
                            Ok(buf)
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => Err(e),
                    };
                    let last = !matches!(&piece, Ok(b) if !b.is_empty());
                    // The reader went away (stopped, or done): so does the pump.
                    if body_tx.send(piece).is_err() || last {
                        return;
                    }
                }
            })
            .map_err(|e| Sent::Failed(format!("cannot start a request: {e}")))?;
        let (status, headers) = match wait(&head_rx, stop) {
            Some(Ok(head)) => head,
            Some(Err(e)) => return Err(classify(&e)),
            None => return Err(Sent::Transient(STOPPED.into())),
        };
        Ok(Pumped {
            status,
            headers,
            body: body_rx,
            chunk: Vec::new(),
            at: 0,
            stop: Arc::clone(stop),
        })
    }
}

/// The next message of `rx`, asking `stop` every tenth of a second; `None` when stopped or
/// when the sender is gone.
fn wait<T>(
    rx: &std::sync::mpsc::Receiver<T>,
    stop: &Arc<dyn Fn() -> bool + Send + Sync>,
) -> Option<T> {
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(v) => return Some(v),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if stop() => return None,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
        }
    }
}

impl Read for Pumped {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.chunk.len() {
            match wait(&self.body, &self.stop) {
                Some(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Some(Err(e)) => return Err(e),
                None if (self.stop)() => return Err(std::io::Error::other(STOPPED)),
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the answer's reader ended",
                    ));
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Why a download stopped.
#[derive(Debug)]
pub(crate) enum DownloadError {
    /// The server sent more than `cap` bytes.
    TooLarge,
    /// The mutation was asked to stop.
    Stopped,
    /// The network or server failed, even after retries.
    Failed(String),
    /// Writing the partial file failed.
    Io(std::io::Error),
}

/// The body of a download, read as a stream: at most `cap` bytes, and a dropped connection is
/// retried with backoff, resuming with `Range` where the previous one stopped (bytes already
/// read are skipped when the server ignores the range). Once it fails, [`Body::failure`] says
/// why and every later read fails.
pub(crate) struct Body {
    url: String,
    /// Where [`http1`] sends the request; `None` once it left an answer to reqwest (a
    /// redirect, a chunked body), or for URLs it does not take.
    plain: Option<http1::Target>,
    response: Option<Response>,
    /// Bytes handed to the reader so far.
    have: u64,
    cap: u64,
    /// The size the index declares, when it does: a body that ends before it is a cut
    /// connection (resumed), one that fails after it is complete.
    size: Option<u64>,
    /// The server has nothing past `have` (416 to a resume): the body ends there, and the
    /// sha256 check decides.
    ended: bool,
    attempts: u32,
    last_error: String,
    failure: Option<DownloadError>,
    /// Asked while the server keeps the body waiting, and before each new attempt.
    stop: http1::Stop,
    /// The first request, when it was sent ahead ([`send_ahead`]).
    ahead: Option<http1::Ahead>,
}

/// Sends the GET of all of `url` now, when the small client takes it, for a [`Body::open`] of
/// the same URL later: the server answers while the caller finishes other work.
pub(crate) fn send_ahead(url: &str) -> Option<http1::Ahead> {
    http1::send_ahead(&http1::target(url)?)
}

impl Body {
    /// Sends the first request (or reads the answer to `ahead`, sent for `url` by
    /// [`send_ahead`]); a server that answers with an error fails here. `stop` says when to
    /// give up waiting (a silent server is otherwise waited for a minute per read).
    pub(crate) fn open(
        url: &str,
        cap: u64,
        size: Option<u64>,
        stop: http1::Stop,
        ahead: Option<http1::Ahead>,
    ) -> Result<Body, DownloadError> {
        let mut body = Body {
            url: url.to_string(),
            plain: http1::target(url),
            response: None,
            have: 0,
            cap,
            size,
            ended: false,
            attempts: 0,
            last_error: String::new(),
            failure: None,
            stop,
            ahead,
        };
        body.connect()?;
        Ok(body)
    }

    /// Why the body stopped short, once a read failed.
    pub(crate) fn failure(&mut self) -> Option<DownloadError> {
        self.failure.take()
    }

    /// Bytes read so far.
    pub(crate) fn have(&self) -> u64 {
        self.have
    }

    /// (Re)connects, from `have` on.
    fn connect(&mut self) -> Result<(), DownloadError> {
        while self.attempts < ATTEMPTS {
            let stopped = || self.stop.as_ref().is_some_and(|s| s());
            if backoff_unless(self.attempts, &stopped) || stopped() {
                return Err(DownloadError::Stopped);
            }
            self.attempts += 1;
            let ahead = self.ahead.take();
            let mut resp = match send(
                &self.url,
                &mut self.plain,
                self.have,
                None,
                &self.stop,
                ahead,
            ) {
                Ok(r) if r.status() >= 500 => {
                    self.last_error = format!("HTTP {}", r.status_text());
                    continue;
                }
                Ok(r) if self.have > 0 && r.status() == 416 => {
                    self.ended = true;
                    return Ok(());
                }
                Ok(r) if !(200..300).contains(&r.status()) => {
                    return Err(DownloadError::Failed(format!("HTTP {}", r.status_text())));
                }
                Ok(r) => r,
                Err(Sent::Transient(e)) => {
                    self.last_error = e;
                    continue;
                }
                Err(Sent::Failed(e)) => return Err(DownloadError::Failed(e)),
            };
            if self.have > 0 && resp.status() == 206 {
                // It must resume where the previous one stopped.
                let start = resp
                    .header(CONTENT_RANGE.as_str())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if start != Some(self.have) {
                    self.last_error = format!(
                        "the server resumed at {}, not at byte {}",
                        start.map_or("an unknown byte".into(), |s| format!("byte {s}")),
                        self.have
                    );
                    continue;
                }
            }
            if self.have > 0 && resp.status() != 206 {
                // The server ignored the range: skip what was read already.
                match std::io::copy(&mut (&mut resp).take(self.have), &mut std::io::sink()) {
                    Ok(n) if n == self.have => {}
                    Ok(_) => {
                        self.last_error = "the body ended early".into();
                        continue;
                    }
                    Err(e) => {
                        self.last_error = describe(&e);
                        continue;
                    }
                }
            }
            self.response = Some(resp);
            return Ok(());
        }
        Err(DownloadError::Failed(format!(
            "{} (after {ATTEMPTS} attempts)",
            self.last_error
        )))
    }

    fn fail(&mut self, e: DownloadError) -> std::io::Error {
        let text = match &e {
            DownloadError::TooLarge => format!("larger than {} bytes", self.cap),
            DownloadError::Stopped => "stopped".into(),
            DownloadError::Failed(reason) => reason.clone(),
            DownloadError::Io(e) => e.to_string(),
        };
        self.failure = Some(e);
        std::io::Error::other(format!("the download failed: {text}"))
    }
}

/// Why a request got no answer.
enum Sent {
    /// Worth another attempt.
    Transient(String),
    Failed(String),
}

/// An answer, from either client.
enum Response {
    Plain(http1::Response),
    Reqwest(reqwest::blocking::Response),
    Pumped(Pumped),
}

impl Response {
    fn status(&self) -> u16 {
        match self {
            Response::Plain(r) => r.status(),
            Response::Reqwest(r) => r.status().as_u16(),
            Response::Pumped(r) => r.status,
        }
    }

    /// `404 Not Found`.
    fn status_text(&self) -> String {
        let code = self.status();
        match StatusCode::from_u16(code) {
            Ok(s) => s.to_string(),
            Err(_) => code.to_string(),
        }
    }

    /// The value of the header `name` (lower case).
    fn header(&self, name: &str) -> Option<&str> {
        match self {
            Response::Plain(r) => r.header(name),
            Response::Reqwest(r) => r.headers().get(name).and_then(|v| v.to_str().ok()),
            Response::Pumped(r) => r
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str()),
        }
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Response::Plain(r) => r.read(buf),
            Response::Reqwest(r) => r.read(buf),
            Response::Pumped(r) => r.read(buf),
        }
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.failure.is_some() {
            return Err(std::io::Error::other("the download failed"));
        }
        loop {
            if self.ended {
                return Ok(0);
            }
            let Some(resp) = self.response.as_mut() else {
                match self.connect() {
                    Ok(()) => continue,
                    Err(e) => return Err(self.fail(e)),
                }
            };
            match resp.read(buf) {
                Ok(0) if !buf.is_empty() && self.size.is_some_and(|s| self.have < s) => {
                    // Ended early but cleanly (a body without a length): resume.
                    self.last_error = format!(
                        "the body ended after {} of {} bytes",
                        self.have,
                        self.size.unwrap_or_default()
                    );
                    self.response = None;
                }
                Ok(n) => {
                    if self.have + n as u64 > self.cap {
                        return Err(self.fail(DownloadError::TooLarge));
                    }
                    self.have += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // Everything declared arrived; what failed after it (a TLS close) is not
                // worth a request for nothing. The sha256 check still decides.
                Err(_) if self.size == Some(self.have) => return Ok(0),
                Err(e) => {
                    self.last_error = describe(&e);
                    self.response = None;
                }
            }
        }
    }
}

/// Downloads `url` into `partial` (created or truncated), hashing as bytes arrive and
/// refusing more than `cap` bytes, resuming as [`Body`] does. Returns the sha256 and size of
/// the whole file.
pub(crate) fn download(
    url: &str,
    partial: &Path,
    cap: u64,
    task: &mut Task,
) -> Result<(String, u64), DownloadError> {
    let mut file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(partial)
        .map_err(DownloadError::Io)?;
    let mut hasher = Hasher::new();
    let mut body = Body::open(url, cap, None, Some(task.stopper()), None)?;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match body.read(&mut buf) {
            Ok(0) => return Ok((hasher.finish().sha256, body.have())),
            Ok(n) => {
                if task.check().is_err() {
                    return Err(DownloadError::Stopped);
                }
                file.write_all(&buf[..n]).map_err(DownloadError::Io)?;
                hasher.update(&buf[..n]);
                task.progress(body.have());
            }
            Err(e) => {
                return Err(body
                    .failure()
                    .unwrap_or_else(|| DownloadError::Failed(describe(&e))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    #[test]
    fn an_abandoned_get_returns_when_stopped_and_an_answer_when_not() {
        let flag = Arc::new(AtomicBool::new(false));
        let stop: Arc<dyn Fn() -> bool + Send + Sync> = {
            let flag = Arc::clone(&flag);
            Arc::new(move || flag.load(Ordering::Relaxed))
        };
        // A request that would take a minute: stopped after 0.3 s, it returns at once.
        let setter = {
            let flag = Arc::clone(&flag);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                flag.store(true, Ordering::Relaxed);
            })
        };
        let started = Instant::now();
        let r = abandonable(&stop, || {
            std::thread::sleep(Duration::from_secs(60));
            Ok(Conditional::NotModified)
        });
        setter.join().unwrap();
        assert!(matches!(r, Err(GetError::Failed(ref e)) if e == STOPPED));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // Not stopped: its answer comes back.
        flag.store(false, Ordering::Relaxed);
        let r = abandonable(&stop, || {
            std::thread::sleep(Duration::from_millis(250));
            Ok(Conditional::Fresh {
                body: b"text".to_vec(),
                etag: None,
            })
        });
        assert!(matches!(r, Ok(Conditional::Fresh { ref body, .. }) if body == b"text"));
    }

    #[test]
    fn the_backoff_ends_early_when_stopped() {
        let started = Instant::now();
        assert!(
            !backoff_unless(0, &|| true),
            "no wait before the first attempt"
        );
        assert!(!backoff_unless(2, &|| false));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(400), "{waited:?}");
        let started = Instant::now();
        assert!(backoff_unless(3, &|| true));
        assert!(started.elapsed() < Duration::from_millis(100));
    }
}
