//! GET and HEAD of the static registry files: strong ETags, conditional requests, byte
//! ranges on blobs, bodies streamed from disk.
//!
//! A file is served only if its real path (every symlink resolved) lies inside the registry
//! directory and outside `.pandora-registry/`, so a symlink never leads out of the directory.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;
use hyper::header::{self, HeaderMap};
use hyper::{Method, Response, StatusCode};
use pandora_common::hash::{hash_reader, sha256_hex};

use super::State;
use super::body::{Body, FileBody, read_cached, read_chunk};
use super::index::Parsed;
use super::path::{Kind, StaticFile};
use super::response::{internal, not_found, set};

/// Files up to this size are read whole in one go; larger ones are streamed.
const WHOLE: u64 = 1024 * 1024;
/// Non-blob files up to this size are kept in memory, with their ETag.
const CACHED: u64 = 64 * 1024;
/// At most this many bytes of file content are kept in memory.
const CACHE_BYTES: usize = 32 * 1024 * 1024;

/// A file's identity: inode, size and mtime. Registry updates replace files by rename, so a
/// new content always means a new key.
type Key = (u64, u64, Option<SystemTime>);

fn key_of(meta: &Metadata) -> Key {
    (meta.ino(), meta.len(), meta.modified().ok())
}

/// ETags of the non-blob files, and the content of the small ones, so a request for an index
/// file neither hashes nor reads it again while it is unchanged.
#[derive(Default)]
pub(crate) struct FileCache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    map: HashMap<PathBuf, Cached>,
    bytes: usize,
}

#[derive(Clone)]
struct Cached {
    key: Key,
    etag: String,
    content: Option<Bytes>,
}

impl FileCache {
    fn get(&self, path: &Path, key: Key) -> Option<Cached> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.map.get(path).filter(|c| c.key == key).cloned()
    }

    fn put(&self, path: PathBuf, entry: Cached) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let size = entry.content.as_ref().map_or(0, Bytes::len);
        if inner.bytes + size > CACHE_BYTES {
            // Rare (a registry of very many packages): start over rather than track ages.
            inner.map.clear();
            inner.bytes = 0;
        }
        if let Some(old) = inner.map.insert(path, entry) {
            inner.bytes -= old.content.as_ref().map_or(0, Bytes::len);
        }
        inner.bytes += size;
    }
}

/// The request headers that decide the answer.
struct Conditions {
    head: bool,
    if_none_match: Vec<String>,
    range: Option<String>,
    if_range: Option<String>,
}

impl Conditions {
    fn new(method: &Method, headers: &HeaderMap) -> Conditions {
        let text = |name| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let one = |name| {
            let all = text(name);
            (all.len() == 1).then(|| all.into_iter().next()).flatten()
        };
        Conditions {
            head: method == Method::HEAD,
            if_none_match: text(header::IF_NONE_MATCH),
            range: one(header::RANGE),
            if_range: one(header::IF_RANGE),
        }
    }
}

/// What the blocking half decided.
enum Answer {
    Missing,
    NotModified {
        etag: String,
    },
    Unsatisfiable {
        etag: String,
        len: u64,
    },
    Content {
        etag: String,
        /// `(first, last, total)` for a 206.
        range: Option<(u64, u64, u64)>,
        length: u64,
        body: Body,
    },
}

/// Answers a GET or HEAD of `file`.
pub(crate) async fn serve(
    state: &Arc<State>,
    file: StaticFile,
    method: &Method,
    headers: &HeaderMap,
) -> Response<Body> {
    let cond = Conditions::new(method, headers);
    let kind = file.kind.clone();
    if let Some(answer) = from_cache(state, &file, &cond) {
        return respond(answer, &kind);
    }
    // A blob is opened on the async worker, like the cached files' `lstat`s: when the parsed
    // index is at hand, nothing waits for the blocking pool.
    if matches!(kind, Kind::Blob { .. })
        && let Ok(Some(answer)) = prepare(state, &file, &cond, Wait::No)
    {
        return respond(answer, &kind);
    }
    let st = Arc::clone(state);
    let answer = tokio::task::spawn_blocking(move || prepare(&st, &file, &cond, Wait::Yes)).await;
    match answer {
        Ok(Ok(Some(answer))) => respond(answer, &kind),
        Ok(Ok(None)) => internal(&"a blocking answer was not made"),
        Ok(Err(e)) => internal(&e),
        Err(e) => internal(&e),
    }
}

/// Whether [`prepare`] may wait for reads (on the blocking pool) or must leave a request that
/// needs one to the pool (on an async worker).
#[derive(Clone, Copy, PartialEq)]
enum Wait {
    Yes,
    No,
}

/// The fast path for unchanged small non-blob files: one `lstat` per path component, run on
/// the async worker (answered from the kernel's inode cache, cheaper than a hop to the
/// blocking pool), and the content from memory. `None` sends the request the slow way.
fn from_cache(state: &State, file: &StaticFile, cond: &Conditions) -> Option<Answer> {
    if matches!(file.kind, Kind::Blob { .. }) {
        return None;
    }
    let (real, meta) = plain_path(&state.root, &file.rel).ok()??;
    let cached = state.files.get(&real, key_of(&meta))?;
    let content = cached.content?;
    Some(
        conditional(cached.etag, cond).unwrap_or_else(|etag| Answer::Content {
            etag,
            range: None,
            length: content.len() as u64,
            body: if cond.head {
                Body::Empty
            } else {
                Body::bytes(content)
            },
        }),
    )
}

/// 304 if `If-None-Match` lists `etag`; otherwise `etag` back.
fn conditional(etag: String, cond: &Conditions) -> Result<Answer, String> {
    if cond.if_none_match.iter().any(|h| etag_listed(h, &etag)) {
        Ok(Answer::NotModified { etag })
    } else {
        Err(etag)
    }
}

fn respond(answer: Answer, kind: &Kind) -> Response<Body> {
    let blob = matches!(kind, Kind::Blob { .. });
    let (mut resp, etag) = match answer {
        Answer::Missing => return not_found(),
        Answer::NotModified { etag } => {
            let mut resp = Response::new(Body::Empty);
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
            (resp, etag)
        }
        Answer::Unsatisfiable { etag, len } => {
            let mut resp = Response::new(Body::Empty);
            *resp.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            set(&mut resp, header::CONTENT_RANGE, &format!("bytes */{len}"));
            (resp, etag)
        }
        Answer::Content {
            etag,
            range,
            length,
            body,
        } => {
            let mut resp = Response::new(body);
            if let Some((first, last, total)) = range {
                *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
                set(
                    &mut resp,
                    header::CONTENT_RANGE,
                    &format!("bytes {first}-{last}/{total}"),
                );
            }
            set(&mut resp, header::CONTENT_TYPE, kind.content_type());
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, length.into());
            set(&mut resp, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
            (resp, etag)
        }
    };
    set(&mut resp, header::ETAG, &etag);
    set(&mut resp, header::CACHE_CONTROL, kind.cache_control());
    if blob {
        set(&mut resp, header::ACCEPT_RANGES, "bytes");
    }
    resp
}

/// Open, identify, check conditions, and read or set up the body. A blob's body is always
/// its open file, which the connection sends with `sendfile`. With [`Wait::No`], `None` when
/// that would read more than the page cache holds or parse the index again.
fn prepare(
    state: &State,
    file: &StaticFile,
    cond: &Conditions,
    wait: Wait,
) -> io::Result<Option<Answer>> {
    // Where a download is counted, when the index is at hand.
    let index = match (&file.kind, wait) {
        (Kind::Blob { .. }, Wait::No) => match state.index.current(&state.repo) {
            Some(parsed) => Some(parsed),
            None => return Ok(None),
        },
        _ => None,
    };
    let Some((f, key, real)) = open_inside(state, &file.rel)? else {
        return Ok(Some(Answer::Missing));
    };
    let len = key.1;
    let mut whole: Option<Bytes> = None;
    let etag = match &file.kind {
        Kind::Blob { sha256 } => format!("\"{sha256}\""),
        _ => match state.files.get(&real, key) {
            Some(cached) => {
                whole = cached.content;
                cached.etag
            }
            None if wait == Wait::No => return Ok(None),
            None => {
                let sha256 = if len <= WHOLE {
                    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                    (&f).take(len).read_to_end(&mut buf)?;
                    let sha256 = sha256_hex(&buf);
                    whole = Some(Bytes::from(buf));
                    sha256
                } else {
                    hash_reader(&mut (&f).take(len))?.sha256
                };
                let etag = format!("\"{sha256}\"");
                let content = whole.clone().filter(|w| w.len() as u64 <= CACHED);
                state.files.put(
                    real.clone(),
                    Cached {
                        key,
                        etag: etag.clone(),
                        content,
                    },
                );
                etag
            }
        },
    };
    let etag = match conditional(etag, cond) {
        Ok(not_modified) => return Ok(Some(not_modified)),
        Err(etag) => etag,
    };
    let mut range = None;
    if let (Kind::Blob { .. }, false, Some(r)) = (&file.kind, cond.head, &cond.range)
        && cond.if_range.as_deref().is_none_or(|t| t.trim() == etag)
    {
        match parse_range(r, len) {
            RangeSpec::Ignore => {}
            RangeSpec::Unsatisfiable => return Ok(Some(Answer::Unsatisfiable { etag, len })),
            RangeSpec::Bytes(first, last) => range = Some((first, last, len)),
        }
    }
    let (offset, mut length) = range.map_or((0, len), |(first, last, _)| (first, last - first + 1));
    if let Some(w) = &whole {
        // What was read, should the file have changed size in place since its `fstat`.
        length = w.len() as u64;
    }
    let blob = matches!(file.kind, Kind::Blob { .. });
    let body = if cond.head {
        Body::Empty
    } else if let Some(bytes) = whole {
        // Only non-blob files are read whole, and only blobs have ranges.
        Body::bytes(bytes)
    } else if !blob && length <= WHOLE {
        let want = usize::try_from(length).unwrap_or(usize::MAX);
        let bytes = match wait {
            Wait::Yes => read_chunk(&f, offset, want)?,
            Wait::No => match read_cached(&f, offset, want, &mut None) {
                Some(read) => read?,
                None => return Ok(None),
            },
        };
        if bytes.len() as u64 != length {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while it was read", real.display()),
            ));
        }
        Body::bytes(bytes)
    } else {
        Body::File(FileBody::new(f, offset, length))
    };
    if let Kind::Blob { sha256 } = &file.kind
        && !cond.head
    {
        count_download(state, index, sha256);
    }
    Ok(Some(Answer::Content {
        etag,
        range,
        length,
        body,
    }))
}

/// Counts a download of `sha256` in the `index` at hand, or the current one.
fn count_download(state: &State, index: Option<Arc<Parsed>>, sha256: &str) {
    match index.map_or_else(|| state.index.get(&state.repo), Ok) {
        Ok(parsed) => match parsed.by_sha256.get(sha256) {
            Some(pin) => state.metrics.download(pin),
            None => tracing::debug!("blob {sha256} is in no index entry; not counted"),
        },
        Err(e) => tracing::warn!("cannot count a download of {sha256}: {e}"),
    }
}

/// `root/rel` and its `lstat`, if no component below `root` is a symlink (`root` itself is
/// canonical); `None` if one is.
fn plain_path(root: &Path, rel: &str) -> io::Result<Option<(PathBuf, Metadata)>> {
    let mut path = root.to_path_buf();
    let mut meta = None;
    for component in rel.split('/') {
        path.push(component);
        let m = fs_err::symlink_metadata(&path)?;
        if m.file_type().is_symlink() {
            return Ok(None);
        }
        meta = Some(m);
    }
    Ok(meta.map(|m| (path, m)))
}

/// What an attempt to open a static file found.
enum Opened {
    Found(File, Key, PathBuf),
    Missing,
    /// Replaced between the check and the open.
    Changed,
}

/// `O_NONBLOCK` for `OpenOptionsExt::custom_flags`, which takes the C `int`.
fn nonblock() -> i32 {
    i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0)
}

/// Opens `rel` below the registry directory if its real path stays inside it (and outside
/// the private state directory) and is a regular file.
fn open_inside(state: &State, rel: &str) -> io::Result<Option<(File, Key, PathBuf)>> {
    for _ in 0..3 {
        match try_open_inside(state, rel)? {
            Opened::Found(file, key, real) => return Ok(Some((file, key, real))),
            Opened::Missing => return Ok(None),
            Opened::Changed => {}
        }
    }
    Err(io::Error::other(format!(
        "/{rel} keeps changing while it is opened"
    )))
}

fn try_open_inside(state: &State, rel: &str) -> io::Result<Opened> {
    let (real, checked) = match plain_path(&state.root, rel) {
        Ok(Some((path, meta))) => (path, Some(meta)),
        // A symlink on the way: where it leads decides.
        Ok(None) => match fs_err::canonicalize(state.root.join(rel)) {
            Ok(p) => (p, None),
            Err(e) if is_absent(&e) => return Ok(Opened::Missing),
            Err(e) => return Err(e),
        },
        Err(e) if is_absent(&e) => return Ok(Opened::Missing),
        Err(e) => return Err(e),
    };
    if !real.starts_with(&state.root) || real.starts_with(&state.private) {
        tracing::warn!(
            "refusing /{rel}: it resolves to {}, outside the servable files",
            real.display()
        );
        return Ok(Opened::Missing);
    }
    // `O_NONBLOCK`: a fifo put where a file should be is opened at once (and then refused as
    // no regular file) instead of holding a thread until a writer comes; it changes nothing
    // for a regular file.
    let opened = {
        use fs_err::os::unix::fs::OpenOptionsExt;
        fs_err::OpenOptions::new()
            .read(true)
            .custom_flags(nonblock())
            .open(&real)
    };
    let file = match opened {
        Ok(f) => f.into_file(),
        Err(e) if is_absent(&e) => return Ok(Opened::Missing),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(Opened::Missing);
    }
    // An update renaming a new file into place, or someone swapping in a symlink, between
    // the check and the open: check again.
    if let Some(checked) = checked
        && (checked.ino(), checked.dev()) != (meta.ino(), meta.dev())
    {
        return Ok(Opened::Changed);
    }
    Ok(Opened::Found(file, key_of(&meta), real))
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::IsADirectory
    )
}

/// Whether an `If-None-Match` value (`*` or a list of entity tags, weak or strong) lists
/// `etag`; weak comparison, as RFC 9110 asks for `If-None-Match`.
fn etag_listed(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|t| {
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag.strip_prefix("W/").unwrap_or(etag)
    })
}

/// A `Range` header, read against a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
enum RangeSpec {
    /// Absent, malformed or several ranges: serve the whole file.
    Ignore,
    /// No byte of the range exists: 416.
    Unsatisfiable,
    /// Bytes `first..=last`.
    Bytes(u64, u64),
}

fn parse_range(header: &str, len: u64) -> RangeSpec {
    let header = header.trim();
    let Some(unit_end) = header.find('=') else {
        return RangeSpec::Ignore;
    };
    if !header[..unit_end].trim().eq_ignore_ascii_case("bytes") {
        return RangeSpec::Ignore;
    }
    let spec = header[unit_end + 1..].trim();
    if spec.contains(',') {
        return RangeSpec::Ignore;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeSpec::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    match (a.is_empty(), number(a), number(b)) {
        // bytes=-n: the last n bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Bytes(len.saturating_sub(n), len - 1)
            }
        }
        // bytes=a-
        (false, Some(first), None) if b.is_empty() => {
            if first >= len {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Bytes(first, len - 1)
            }
        }
        // bytes=a-b
        (false, Some(first), Some(last)) if last >= first => {
            if first >= len {
                RangeSpec::Unsatisfiable
            } else {
                RangeSpec::Bytes(first, last.min(len - 1))
            }
        }
        _ => RangeSpec::Ignore,
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        use RangeSpec::*;
        let cases = [
            ("bytes=0-9", 100, Bytes(0, 9)),
            ("bytes=90-", 100, Bytes(90, 99)),
            ("bytes=-10", 100, Bytes(90, 99)),
            ("bytes=-1000", 100, Bytes(0, 99)),
            ("bytes=50-1000", 100, Bytes(50, 99)),
            ("BYTES = 1-1", 100, Bytes(1, 1)),
            ("bytes=100-", 100, Unsatisfiable),
            ("bytes=100-200", 100, Unsatisfiable),
            ("bytes=-0", 100, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=9-0", 100, Ignore),
            ("bytes=0-1,5-6", 100, Ignore),
            ("items=0-1", 100, Ignore),
            ("bytes=a-b", 100, Ignore),
            ("bytes=-", 100, Ignore),
            ("bytes=+1-2", 100, Ignore),
        ];
        for (h, len, want) in cases {
            assert_eq!(parse_range(h, len), want, "{h}");
        }
    }

    #[test]
    fn if_none_match_lists_and_star() {
        let e = "\"abc\"";
        assert!(etag_listed("\"abc\"", e));
        assert!(etag_listed("\"x\", \"abc\"", e));
        assert!(etag_listed("W/\"abc\"", e));
        assert!(etag_listed("*", e));
        assert!(!etag_listed("\"abcd\"", e));
        assert!(!etag_listed("abc", e));
    }
}
