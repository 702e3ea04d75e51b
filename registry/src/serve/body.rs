//! Response bodies: nothing, bytes in memory, or a file range streamed from disk in fixed
//! chunks, so memory stays flat however large a blob is.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use tokio::task::JoinHandle;

/// How much of a file one frame carries. Each connection holds at most two chunks: the one
/// being written and the one being read ahead.
pub(crate) const CHUNK: u64 = 128 * 1024;

/// A response body.
pub(crate) enum Body {
    /// No body.
    Empty,
    /// Bytes already in memory.
    Bytes(Option<Bytes>),
    /// A range of an open file.
    File(FileBody),
}

impl Body {
    /// A body of `bytes`.
    pub(crate) fn bytes(bytes: impl Into<Bytes>) -> Body {
        Body::Bytes(Some(bytes.into()))
    }
}

/// `len` bytes of `file` from `offset`, read on the blocking pool with positioned reads, one
/// chunk ahead of the socket.
pub(crate) struct FileBody {
    file: Arc<File>,
    offset: u64,
    remaining: u64,
    pending: Option<JoinHandle<io::Result<Bytes>>>,
}

impl FileBody {
    /// A body streaming `len` bytes of `file` from `offset`.
    pub(crate) fn new(file: File, offset: u64, len: u64) -> FileBody {
        FileBody {
            file: Arc::new(file),
            offset,
            remaining: len,
            pending: None,
        }
    }

    fn start_read(&mut self) {
        let file = Arc::clone(&self.file);
        let offset = self.offset;
        let want = usize::try_from(self.remaining.min(CHUNK)).unwrap_or(CHUNK as usize);
        self.pending = Some(tokio::task::spawn_blocking(move || {
            read_chunk(&file, offset, want)
        }));
    }
}

/// Reads up to `want` bytes at `offset`; fewer only at the end of the file.
pub(crate) fn read_chunk(file: &File, offset: u64, want: usize) -> io::Result<Bytes> {
    let mut buf = vec![0u8; want];
    let mut filled = 0;
    while filled < want {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(Bytes::from(buf))
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Bytes(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::File(f) => {
                if f.pending.is_none() {
                    if f.remaining == 0 {
                        return Poll::Ready(None);
                    }
                    f.start_read();
                }
                let Some(handle) = f.pending.as_mut() else {
                    return Poll::Ready(None);
                };
                let done = ready!(Pin::new(handle).poll(cx));
                f.pending = None;
                let chunk = done.map_err(io::Error::other)??;
                if chunk.is_empty() {
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file shrank while it was being sent",
                    ))));
                }
                let n = chunk.len() as u64;
                f.offset += n;
                f.remaining = f.remaining.saturating_sub(n);
                if f.remaining > 0 {
                    f.start_read();
                }
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Bytes(b) => b.is_none(),
            Body::File(f) => f.remaining == 0 && f.pending.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Bytes(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Body::File(f) => SizeHint::with_exact(f.remaining),
        }
    }
}
