//! The HTTP side of fetching: one blocking client (rustls with the system's roots), GETs with
//! validators, and streamed downloads that hash, cap, retry and resume.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use pandora_common::hash::Hasher;
use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::{ETAG, IF_NONE_MATCH, RANGE};

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

/// GET `url` with `If-None-Match`, reading at most `cap` bytes.
pub(crate) fn get_conditional(
    url: &str,
    etag: Option<&str>,
    cap: u64,
) -> Result<Conditional, GetError> {
    let client = client().map_err(GetError::Failed)?;
    let resp = retry(|| {
        let mut req = client.get(url);
        if let Some(e) = etag {
            req = req.header(IF_NONE_MATCH, e);
        }
        req.send()
    })
    .map_err(GetError::Failed)?;
    if resp.status() == StatusCode::NOT_MODIFIED {
        return Ok(Conditional::NotModified);
    }
    if resp.status() == StatusCode::NOT_FOUND {
        return Err(GetError::NotFound);
    }
    if !resp.status().is_success() {
        return Err(GetError::Failed(format!("HTTP {}", resp.status())));
    }
    let etag = resp
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    resp.take(cap + 1)
        .read_to_end(&mut body)
        .map_err(|e| GetError::Failed(describe(&e)))?;
    if body.len() as u64 > cap {
        return Err(GetError::TooLarge(cap));
    }
    Ok(Conditional::Fresh { body, etag })
}

fn transient(e: &reqwest::Error) -> bool {
    e.is_timeout() || e.is_connect() || e.is_request() || e.is_body()
}

fn retry(
    mut send: impl FnMut() -> reqwest::Result<reqwest::blocking::Response>,
) -> Result<reqwest::blocking::Response, String> {
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(100 * 4u64.pow(attempt - 1)));
        }
        match send() {
            Ok(r) if r.status().is_server_error() => last = format!("HTTP {}", r.status()),
            Ok(r) => return Ok(r),
            Err(e) if transient(&e) => last = describe(&e),
            Err(e) => return Err(describe(&e)),
        }
    }
    Err(format!("{last} (after {ATTEMPTS} attempts)"))
}

/// Why a download stopped.
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

/// Downloads `url` into `partial` (created or appended), hashing as bytes arrive and refusing
/// more than `cap` bytes. A dropped connection is retried with backoff, resuming with `Range`
/// when the server honours it. Returns the sha256 and size of the whole file.
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
    let mut have = 0u64;
    let mut last_error = String::new();
    let client = client().map_err(DownloadError::Failed)?;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(100 * 4u64.pow(attempt - 1)));
        }
        let mut req = client.get(url);
        if have > 0 {
            req = req.header(RANGE, format!("bytes={have}-"));
        }
        let mut resp = match req.send() {
            Ok(r) if r.status().is_server_error() => {
                last_error = format!("HTTP {}", r.status());
                continue;
            }
            Ok(r) if !r.status().is_success() => {
                return Err(DownloadError::Failed(format!("HTTP {}", r.status())));
            }
            Ok(r) => r,
            Err(e) if transient(&e) => {
                last_error = describe(&e);
                continue;
            }
            Err(e) => return Err(DownloadError::Failed(describe(&e))),
        };
        if have > 0 && resp.status() != StatusCode::PARTIAL_CONTENT {
            // The server ignored the range: start over.
            file.set_len(0).map_err(DownloadError::Io)?;
            file = fs_err::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(partial)
                .map_err(DownloadError::Io)?;
            hasher = Hasher::new();
            have = 0;
        }
        let mut buf = vec![0u8; 256 << 10];
        loop {
            match resp.read(&mut buf) {
                Ok(0) => return Ok((hasher.finish().sha256, have)),
                Ok(n) => {
                    if have + n as u64 > cap {
                        return Err(DownloadError::TooLarge);
                    }
                    if task.check().is_err() {
                        return Err(DownloadError::Stopped);
                    }
                    file.write_all(&buf[..n]).map_err(DownloadError::Io)?;
                    hasher.update(&buf[..n]);
                    have += n as u64;
                    task.progress(have);
                }
                Err(e) => {
                    last_error = describe(&e);
                    break;
                }
            }
        }
    }
    Err(DownloadError::Failed(format!(
        "{last_error} (after {ATTEMPTS} attempts)"
    )))
}
