//! `POST /api/v1/publish`: a bearer token, then the raw `.pkg` bytes, streamed to a temp file
//! in `.pandora-registry/tmp/` and handed to [`Repo::add`](crate::Repo::add). The temp file is
//! removed whatever happens; publishes run one at a time.
//!
//! Invariant: a server holds an exclusive `flock` on each of its uploads for as long as the
//! file exists, so an upload whose lock can be taken belongs to no live server (its server
//! was killed mid-publish) and is removed: when a server starts, and after each failed
//! publish. Several servers may serve one directory; none removes another's upload.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap};
use hyper::{Request, Response, StatusCode};
use pandora_common::acl::{Block, Document, Value};
use pandora_common::hash::sha256_hex;
use tokio::io::AsyncWriteExt;

use super::State;
use super::body::Body;
use super::response::{acl, chain, error, internal, set};
use crate::repo::{AddOutcome, PackageFile};

/// After a body passed the limit, how much more is read (and dropped) so the client, still
/// sending, gets the 413 instead of a reset connection.
const DRAIN_BYTES: u64 = 8 * 1024 * 1024;
/// And for how long at most.
const DRAIN_TIME: Duration = Duration::from_secs(2);
/// Uploads are written to disk in pieces of this size.
const WRITE_BUFFER: usize = 256 * 1024;
/// How uploads are named in the temp directory: `upload-XXXXXX.pkg`.
const UPLOAD_PREFIX: &str = "upload-";

/// Removes the uploads in `tmp_dir` that no live server holds: those a killed server left.
/// Blocking I/O.
pub(crate) fn remove_stale_uploads(tmp_dir: &Path) {
    let Ok(entries) = fs_err::read_dir(tmp_dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with(UPLOAD_PREFIX)
        {
            continue;
        }
        let path = entry.path();
        let Ok(file) = fs_err::File::open(&path) else {
            continue;
        };
        // Held: a live server is receiving or adding it.
        if file.file().try_lock().is_err() {
            continue;
        }
        match fs_err::remove_file(&path) {
            Ok(()) => tracing::info!(
                "removed {}, left by a server that stopped mid-publish",
                path.display()
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot remove a stale upload: {e}"),
        }
    }
}

/// A new upload file in `tmp_dir`, locked for as long as it exists. Blocking I/O.
fn new_upload(tmp_dir: &Path) -> Result<tempfile::NamedTempFile, String> {
    let failed = |e: io::Error| format!("cannot create an upload in {}: {e}", tmp_dir.display());
    loop {
        let tmp = tempfile::Builder::new()
            .prefix(UPLOAD_PREFIX)
            .suffix(".pkg")
            .tempfile_in(tmp_dir)
            .map_err(failed)?;
        // Between the create and the lock, a sweep may take the lock and remove the file:
        // then the path is gone or names another file, and this one is never used.
        match tmp.as_file().try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => continue,
            Err(std::fs::TryLockError::Error(e)) => return Err(failed(e)),
        }
        let ours = tmp.as_file().metadata().map_err(failed)?;
        match fs_err::metadata(tmp.path()) {
            Ok(m) if (m.ino(), m.dev()) == (ours.ino(), ours.dev()) => return Ok(tmp),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(e)),
        }
        // Not ours any more: do not let its drop remove what is at the path now.
        let _ = tmp.into_temp_path().keep();
    }
}

/// The sha256 of a token (lowercase hex): what the server keeps and compares.
pub(crate) fn digest(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// Compares two digests in time independent of where they differ (both are 64 hex digits).
fn same_digest(a: &str, b: &str) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .bytes()
        .zip(b.bytes())
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(diff) == 0
}

/// The header that carries a publish's detached signature: the `.minisig` file, base64.
pub(crate) const SIGNATURE_HEADER: &str = "x-pandora-signature";

/// The `.minisig` text a publish carries in [`SIGNATURE_HEADER`], if any.
fn signature_header(headers: &HeaderMap) -> Result<Option<String>, String> {
    let Some(value) = headers.get(SIGNATURE_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(pandora_common::sign::base64_decode_text)
        .and_then(|b| String::from_utf8(b).ok())
        .map(Some)
        .ok_or_else(|| {
            format!("the {SIGNATURE_HEADER} header must be the .minisig file's text in base64")
        })
}

/// The bearer token of an `Authorization` header, if the header is well-formed.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?.to_str().ok()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

/// Handles one publish request.
pub(crate) async fn publish(state: &Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(mut refusal) = refuse(state, req.headers(), declared) {
        // Closing a socket with unread data resets the connection, and a client still
        // sending would lose the answer to the reset: a body small enough is read and
        // dropped first. A larger one stays unread, so the connection cannot carry another
        // request.
        if declared.is_none_or(|len| len <= DRAIN_BYTES) {
            drain(req.into_body()).await;
        }
        set(&mut refusal, header::CONNECTION, "close");
        return refusal;
    }

    let resp = receive_and_add(state, req).await;
    if !resp.status().is_success() {
        // A failed publish is a good moment to look for what crashed publishes left.
        let tmp_dir = state.repo.tmp_dir();
        let _ = tokio::task::spawn_blocking(move || remove_stale_uploads(&tmp_dir)).await;
    }
    resp
}

/// Receives an authorized upload and adds it to the registry.
async fn receive_and_add(state: &Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let signature = match signature_header(req.headers()) {
        Ok(sig) => sig,
        Err(why) => return error(StatusCode::BAD_REQUEST, "bad-signature", &why),
    };
    let tmp_dir = state.repo.tmp_dir();
    let made = tokio::task::spawn_blocking(move || new_upload(&tmp_dir)).await;
    let tmp = match made {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return internal(&e),
        Err(e) => return internal(&e),
    };
    // From here on `tmp` removes the upload when dropped, on every path out.
    let writer = match tmp.as_file().try_clone() {
        Ok(f) => tokio::fs::File::from_std(f),
        Err(e) => return internal(&format!("cannot open {}: {e}", tmp.path().display())),
    };
    match receive(state.max_body, req.into_body(), writer).await {
        Received::Done => {}
        Received::TooLarge(body) => {
            drain(body).await;
            let mut resp = too_large(state.max_body, None);
            set(&mut resp, header::CONNECTION, "close");
            return resp;
        }
        Received::Broken(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "broken-upload",
                &format!("the upload broke off: {e}"),
            );
        }
        Received::Failed(e) => return internal(&e),
    }

    // The add runs to its end even if the client goes away: it owns the upload, the turn
    // and the counting.
    let turn = Arc::clone(&state.publishing).lock_owned().await;
    let shown = tmp.path().display().to_string();
    let st = Arc::clone(state);
    let added = tokio::task::spawn_blocking(move || {
        let result = st.repo.add_packages(&[PackageFile {
            path: tmp.path().to_path_buf(),
            signature,
        }]);
        drop(tmp);
        drop(turn);
        if let Ok([AddOutcome::Added { pin, .. }]) = result.as_deref() {
            st.metrics.publish(pin);
        }
        result
    })
    .await;
    let outcome = match added {
        Ok(Ok(mut outcomes)) if outcomes.len() == 1 => outcomes.remove(0),
        Ok(Ok(outcomes)) => {
            return internal(&format!("one upload gave {} outcomes", outcomes.len()));
        }
        Ok(Err(e)) => {
            let status =
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status.is_server_error() {
                tracing::error!("publish failed: {}", chain(&e));
            }
            let message = chain(&e).replace(&shown, "the uploaded package");
            return error(status, e.code(), &message);
        }
        Err(e) => return internal(&e),
    };
    let (pin, sha256, status) = match outcome {
        AddOutcome::Added { pin, sha256, .. } => (pin, sha256, "added"),
        AddOutcome::Unchanged { pin, sha256 } => (pin, sha256, "unchanged"),
    };
    tracing::info!("published {pin} ({status}, sha256 {sha256})");
    let doc = Document::new(vec![
        Block::new("Published", None)
            .with("package", Value::Str(pin.to_string()))
            .with("sha256", Value::Str(sha256))
            .with("status", Value::Str(status.to_string())),
    ]);
    acl(StatusCode::OK, doc.to_source())
}

/// The answer to a publish refused before its body is read: publishing off, no or a wrong
/// token, or a declared size over the limit.
fn refuse(state: &State, headers: &HeaderMap, declared: Option<u64>) -> Option<Response<Body>> {
    let Some(expected) = &state.token else {
        return Some(error(
            StatusCode::FORBIDDEN,
            "publish-disabled",
            "publishing is disabled on this server: start it with --token-file FILE",
        ));
    };
    let Some(token) = bearer(headers) else {
        let mut resp = error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "publishing needs an `Authorization: Bearer TOKEN` header",
        );
        set(
            &mut resp,
            header::WWW_AUTHENTICATE,
            "Bearer realm=\"pandora-registry\"",
        );
        return Some(resp);
    };
    if !same_digest(&digest(token), expected) {
        return Some(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the token is not valid for this registry",
        ));
    }
    declared
        .filter(|len| *len > state.max_body)
        .map(|len| too_large(state.max_body, Some(len)))
}

fn too_large(max: u64, declared: Option<u64>) -> Response<Body> {
    let size = declared.map_or_else(|| "larger".to_string(), |n| format!("{n} bytes"));
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        &format!("the package is {size}, over this server's limit of {max} bytes"),
    )
}

enum Received {
    Done,
    TooLarge(Incoming),
    Broken(hyper::Error),
    Failed(std::io::Error),
}

/// Streams `body` into `file`, stopping as soon as it passes `max` bytes.
async fn receive(max: u64, mut body: Incoming, file: tokio::fs::File) -> Received {
    // Fewer, larger writes: each one is a hop to the blocking pool.
    let mut file = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => return Received::Broken(e),
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len() as u64;
        if total > max {
            return Received::TooLarge(body);
        }
        if let Err(e) = file.write_all(&data).await {
            return Received::Failed(e);
        }
    }
    match file.flush().await {
        Ok(()) => Received::Done,
        Err(e) => Received::Failed(e),
    }
}

/// Reads and drops what is left of `body`, within limits.
async fn drain(mut body: Incoming) {
    let deadline = Instant::now() + DRAIN_TIME;
    let mut left = DRAIN_BYTES;
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline.into(), body.frame()).await {
        if let Ok(data) = frame.into_data() {
            let Some(l) = left.checked_sub(data.len() as u64) else {
                return;
            };
            left = l;
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_digest() {
        assert!(same_digest(&digest("s3cret"), &digest("s3cret")));
        assert!(!same_digest(&digest("s3cret"), &digest("s3cret ")));
        assert!(!same_digest(&digest(""), &digest("x")));
    }

    #[test]
    fn bearer_headers() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::AUTHORIZATION, v.parse().unwrap());
            m
        };
        assert_eq!(bearer(&h("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&h("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(&h("Basic abc")), None);
        assert_eq!(bearer(&h("Bearer")), None);
        assert_eq!(bearer(&h("Bearer a b")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
