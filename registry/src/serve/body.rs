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
use pandora_common::pool::BufferPool;
use tokio::task::JoinHandle;

/// How much of a file one frame carries. Each connection holds at most two chunks: the one
/// being written and the one being read.
pub(crate) const CHUNK: u64 = 256 * 1024;

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

/// `len` bytes of `file` from `offset`, read with positioned reads: on the spot when the page
/// cache holds the chunk or the file lives in memory, else on the blocking pool.
pub(crate) struct FileBody {
    file: Arc<File>,
    offset: u64,
    remaining: u64,
    pending: Option<JoinHandle<io::Result<Bytes>>>,
    /// Whether the file lives in memory, once a read has asked.
    in_memory: Option<bool>,
}

impl FileBody {
    /// A body streaming `len` bytes of `file` from `offset`.
    pub(crate) fn new(file: File, offset: u64, len: u64) -> FileBody {
        FileBody {
            file: Arc::new(file),
            offset,
            remaining: len,
            pending: None,
            in_memory: None,
        }
    }

    /// The open file, where its range starts, how many bytes it has, and whether the file
    /// is known to live in memory: what `sendfile` needs.
    pub(crate) fn into_parts(self) -> (Arc<File>, u64, u64, Option<bool>) {
        (self.file, self.offset, self.remaining, self.in_memory)
    }

    fn want(&self) -> usize {
        usize::try_from(self.remaining.min(CHUNK)).unwrap_or(CHUNK as usize)
    }

    fn start_read(&mut self) {
        let file = Arc::clone(&self.file);
        let (offset, want) = (self.offset, self.want());
        self.pending = Some(tokio::task::spawn_blocking(move || {
            read_chunk(&file, offset, want)
        }));
    }

    /// The frame for a chunk just read, moving past it.
    fn sent(&mut self, chunk: io::Result<Bytes>) -> io::Result<Frame<Bytes>> {
        let chunk = chunk?;
        if chunk.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was being sent",
            ));
        }
        let n = chunk.len() as u64;
        self.offset += n;
        self.remaining = self.remaining.saturating_sub(n);
        Ok(Frame::data(chunk))
    }
}

/// Reads up to `want` bytes at `offset` on the caller's thread if that cannot wait for a
/// disk: the page cache holds them (`RWF_NOWAIT`), or the file lives in memory (tmpfs and
/// ramfs refuse `RWF_NOWAIT`, and only wait when swapped out). A hot blob then costs no trip
/// to the blocking pool and back per chunk. `None` when the read would wait for the disk (or
/// fails: the blocking read then says why). `in_memory` keeps the answer of the file system
/// between a body's reads.
pub(crate) fn read_cached(
    file: &File,
    offset: u64,
    want: usize,
    in_memory: &mut Option<bool>,
) -> Option<io::Result<Bytes>> {
    if want > CHUNK as usize {
        return None;
    }
    if *in_memory == Some(true) {
        return Some(read_chunk(file, offset, want));
    }
    let mut buf = POOL.take();
    let read = rustix::io::preadv2(
        file,
        &mut [io::IoSliceMut::new(&mut buf[..want])],
        offset,
        rustix::io::ReadWriteFlags::NOWAIT,
    );
    match read {
        Ok(n) => Some(Ok(Bytes::from_owner(Pooled { buf, len: n }))),
        Err(e) => {
            POOL.give_back(buf);
            if e == rustix::io::Errno::OPNOTSUPP
                && *in_memory.get_or_insert_with(|| pandora_common::lives_in_memory(file))
            {
                return Some(read_chunk(file, offset, want));
            }
            // Would wait for the disk, or the kernel (or a filter in front of it) does not
            // do `RWF_NOWAIT`: the blocking read does the work, and reports real errors.
            None
        }
    }
}

/// Reads up to `want` bytes at `offset`; fewer only at the end of the file. A read of at most
/// [`CHUNK`] bytes goes into a buffer from [`POOL`], given back when the socket is done with
/// it: no fresh pages to fault in and zero per chunk.
pub(crate) fn read_chunk(file: &File, offset: u64, want: usize) -> io::Result<Bytes> {
    let mut buf = if want <= CHUNK as usize {
        POOL.take()
    } else {
        vec![0u8; want]
    };
    let mut filled = 0;
    while filled < want {
        match file.read_at(&mut buf[filled..want], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                POOL.give_back(buf);
                return Err(e);
            }
        }
    }
    Ok(Bytes::from_owner(Pooled { buf, len: filled }))
}

/// Chunk buffers no response holds, for the next reads: 64 at most (16 MiB).
static POOL: BufferPool = BufferPool::new(CHUNK as usize, 64);

/// A chunk's bytes, in a buffer that goes back to the pool when dropped.
struct Pooled {
    buf: Vec<u8>,
    len: usize,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        POOL.give_back(std::mem::take(&mut self.buf));
    }
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
                    let want = f.want();
                    if let Some(chunk) = read_cached(&f.file, f.offset, want, &mut f.in_memory) {
                        return Poll::Ready(Some(f.sent(chunk)));
                    }
                    f.start_read();
                }
                let Some(handle) = f.pending.as_mut() else {
                    return Poll::Ready(None);
                };
                let done = ready!(Pin::new(handle).poll(cx));
                f.pending = None;
                Poll::Ready(Some(f.sent(done.map_err(io::Error::other).and_then(|r| r))))
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

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn both_reads_give_the_same_bytes_and_buffers_go_back_to_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let data: Vec<u8> = (0..(CHUNK as usize * 2 + 123))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        let mut from_pool = Vec::new();
        for offset in [0, CHUNK, 2 * CHUNK] {
            let want = usize::try_from((data.len() as u64 - offset).min(CHUNK)).unwrap();
            let slow = read_chunk(&file, offset, want).unwrap();
            // Just written, so in the page cache: read on the spot.
            let fast = read_cached(&file, offset, want, &mut None)
                .expect("a cached file is read on the spot")
                .unwrap();
            let at = usize::try_from(offset).unwrap();
            assert_eq!(&slow[..], &data[at..at + want]);
            assert_eq!(fast, slow);
            from_pool.push(fast);
        }
        // Past the end: nothing, which the body reports as a file that shrank.
        let end = read_cached(&file, data.len() as u64, 10, &mut None)
            .unwrap()
            .unwrap();
        assert!(end.is_empty());
        let before = POOL.kept();
        drop(from_pool);
        assert!(POOL.kept() > before);
    }

    #[test]
    fn a_file_in_memory_is_read_on_the_spot() {
        // tmpfs refuses `RWF_NOWAIT` (on the kernels of this writing); its reads never wait
        // for a disk, so they are made on the spot all the same.
        let Ok(dir) = tempfile::tempdir_in("/dev/shm") else {
            eprintln!("no /dev/shm here: nothing to check");
            return;
        };
        let path = dir.path().join("blob");
        let data: Vec<u8> = (0..(CHUNK as usize + 77))
            .map(|i| (i % 241) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        let mut in_memory = None;
        let first = read_cached(&file, 0, CHUNK as usize, &mut in_memory)
            .expect("a file in memory is read on the spot")
            .unwrap();
        assert_eq!(&first[..], &data[..CHUNK as usize]);
        let rest = read_cached(&file, CHUNK, 77, &mut in_memory)
            .expect("and so is its next chunk")
            .unwrap();
        assert_eq!(&rest[..], &data[CHUNK as usize..]);
        assert_ne!(in_memory, Some(false), "/dev/shm is tmpfs");
    }
}
