//! The byte pipeline under the tar reader: raw archive → sha256 → zstd → size and ratio caps.
//!
//! [`Decoded`] is the pipeline. [`Inline`] reads it on the caller's thread; [`spawn_decoder`]
//! runs it on a second thread that feeds a [`ChannelReader`] through a bounded channel, so
//! decompression and hashing overlap with writing files. Both cut the stream into the same
//! chunks, so both report an error at the same entry. Errors travel as `io::Error`s wrapping
//! a [`StreamError`] so that the tar reader passes them through untouched and the unpacker can
//! tell them apart again.

use std::io::{self, BufReader, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use super::error::Violation;
use super::limits::Limits;
use crate::hash::{Digest, HashingReader};
use crate::pool::BufferPool;

/// Bytes per chunk sent from the decoder thread.
const CHUNK: usize = 256 << 10;
/// Chunks in flight between the decoder thread and the writer.
const CHANNEL_DEPTH: usize = 8;

/// A failure below the tar layer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StreamError {
    /// Reading the raw archive failed.
    #[error("cannot read the archive")]
    Read(#[source] io::Error),
    /// The zstd stream is corrupt or truncated.
    #[error("corrupt or truncated zstd stream")]
    Zstd(#[source] io::Error),
    /// A cap or a framing rule was broken.
    #[error("{0}")]
    Rule(Violation),
}

impl StreamError {
    fn into_io(self) -> io::Error {
        io::Error::other(self)
    }

    /// Recovers a `StreamError` from an error that came out of the pipeline.
    pub(crate) fn from_io(err: io::Error) -> Result<StreamError, io::Error> {
        if err.get_ref().is_some_and(|e| e.is::<StreamError>()) {
            let inner = err.into_inner().expect("get_ref just returned Some");
            Ok(*inner
                .downcast::<StreamError>()
                .expect("`is` just checked the type"))
        } else {
            Err(err)
        }
    }
}

/// Marks errors of the raw input as [`StreamError::Read`], so they are not taken for zstd's.
struct RawInput<R>(R);

impl<R: Read> Read for RawInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(StreamError::Read(e).into_io()),
        }
    }
}

/// zstd's error `e`, met after `produced` bytes of output, with what it means for a package
/// put first: zstd's own words ("Unknown frame descriptor") say little to someone who handed
/// over a file that is not a package at all, or one cut short.
fn explain_zstd(e: io::Error, produced: u64) -> io::Error {
    let text = e.to_string();
    let meaning = if text.contains("Unknown frame descriptor") && produced == 0 {
        "this is not a .pkg file: a package is a zstd stream, and this does not start like one"
    } else if text.contains("incomplete frame") || e.kind() == io::ErrorKind::UnexpectedEof {
        "the archive ends early: it was cut short (a partial download or copy?)"
    } else if text.contains("corruption") || text.contains("checksum") {
        "the archive's bytes were changed or damaged"
    } else {
        return e;
    };
    io::Error::new(e.kind(), format!("{meaning} (zstd: {text})"))
}

/// The decompressed tar stream of one archive, with the caps enforced and the raw input
/// hashed. After the zstd frame ends it reads the raw input to its end and fails on any byte.
pub(crate) struct Decoded<R: Read> {
    decoder: zstd::stream::read::Decoder<'static, BufReader<HashingReader<RawInput<R>>>>,
    limits: Limits,
    produced: u64,
    done: bool,
}

impl<R: Read> Decoded<R> {
    /// Starts decoding `reader`. With `skip_checksum`, zstd does not check its own checksum
    /// of the content (XXH64): for a caller that compares the sha256 of the whole archive
    /// with the one it expected before it uses anything unpacked.
    pub(crate) fn new(reader: R, limits: &Limits, skip_checksum: bool) -> io::Result<Self> {
        let raw = HashingReader::new(RawInput(reader));
        let mut decoder = zstd::stream::read::Decoder::new(raw)?.single_frame();
        if skip_checksum {
            decoder.set_parameter(zstd::zstd_safe::DParameter::ForceIgnoreChecksum(true))?;
        }
        Ok(Decoded {
            decoder,
            limits: limits.clone(),
            produced: 0,
            done: false,
        })
    }

    /// The hash and size of the raw input; complete once `read` returned 0.
    pub(crate) fn digest(self) -> Digest {
        self.decoder.finish().into_inner().finish().0
    }

    fn check_tail(&mut self) -> Result<(), StreamError> {
        let mut probe = [0u8; 1];
        loop {
            match self.decoder.get_mut().read(&mut probe) {
                Ok(0) => return Ok(()),
                Ok(_) => return Err(StreamError::Rule(Violation::TrailingGarbage)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(StreamError::from_io(e).unwrap_or_else(StreamError::Read)),
            }
        }
    }

    fn step(&mut self, buf: &mut [u8]) -> Result<usize, StreamError> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let n = match self.decoder.read(buf) {
            Ok(n) => n,
            Err(e) => {
                let produced = self.produced;
                return Err(StreamError::from_io(e)
                    .unwrap_or_else(|e| StreamError::Zstd(explain_zstd(e, produced))));
            }
        };
        if n == 0 {
            self.check_tail()?;
            self.done = true;
            return Ok(0);
        }
        self.produced += n as u64;
        if self.produced > self.limits.max_total_size {
            return Err(StreamError::Rule(Violation::TooLarge {
                max: self.limits.max_total_size,
            }));
        }
        let compressed = self.decoder.get_ref().get_ref().size();
        if self.produced > self.limits.ratio_floor
            && self.produced > compressed.saturating_mul(self.limits.max_ratio)
        {
            return Err(StreamError::Rule(Violation::RatioTooHigh {
                max: self.limits.max_ratio,
            }));
        }
        Ok(n)
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.step(buf).map_err(StreamError::into_io)
    }
}

/// A chunk's buffer (kept at its full size, so it is never zeroed twice) and its length.
type Chunk = io::Result<(Vec<u8>, usize)>;

/// Runs `decoded` on a thread of `scope`, returning the reader over its output and the handle
/// that yields the raw digest (or `None` if it stopped on an error it already sent, or because
/// the reader went away).
pub(crate) fn spawn_decoder<'scope, 'env, R: Read + Send + 'scope>(
    scope: &'scope Scope<'scope, 'env>,
    decoded: Decoded<R>,
) -> (ChannelReader, ScopedJoinHandle<'scope, Option<Digest>>) {
    let (tx, rx) = sync_channel(CHANNEL_DEPTH);
    let handle = scope.spawn(move || produce(decoded, &tx));
    let reader = ChannelReader {
        rx,
        chunk: Vec::new(),
        len: 0,
        pos: 0,
    };
    (reader, handle)
}

/// What ended a chunk.
enum Stop {
    /// The chunk is full; more may follow.
    More,
    /// The stream ended cleanly.
    End,
    /// The stream failed after the chunk's bytes.
    Failed(io::Error),
}

/// Decodes the next chunk. Both drivers cut the stream into the same chunks, so an error
/// surfaces at the same entry whether or not the decoder runs on its own thread.
fn next_chunk<R: Read>(decoded: &mut Decoded<R>, mut chunk: Vec<u8>) -> (Vec<u8>, usize, Stop) {
    chunk.resize(CHUNK, 0);
    let mut filled = 0;
    let stop = loop {
        if filled == CHUNK {
            break Stop::More;
        }
        match decoded.read(&mut chunk[filled..]) {
            Ok(0) => break Stop::End,
            Ok(n) => filled += n,
            Err(e) => break Stop::Failed(e),
        }
    };
    (chunk, filled, stop)
}

fn produce<R: Read>(mut decoded: Decoded<R>, tx: &SyncSender<Chunk>) -> Option<Digest> {
    loop {
        let (chunk, len, stop) = next_chunk(&mut decoded, POOL.take());
        if len > 0 {
            tx.send(Ok((chunk, len))).ok()?;
        }
        match stop {
            Stop::More => {}
            Stop::End => return Some(decoded.digest()),
            Stop::Failed(e) => {
                let _ = tx.send(Err(e));
                return None;
            }
        }
    }
}

/// The decoded stream on the caller's thread, cut into the same chunks as [`spawn_decoder`]'s.
/// Its chunk buffer comes from [`POOL`] and goes back there with [`Inline::into_decoded`].
pub(crate) struct Inline<R: Read> {
    decoded: Decoded<R>,
    chunk: Vec<u8>,
    len: usize,
    pos: usize,
    after: Stop,
}

impl<R: Read> Inline<R> {
    /// Wraps `decoded`.
    pub(crate) fn new(decoded: Decoded<R>) -> Self {
        Inline {
            decoded,
            chunk: POOL.take(),
            len: 0,
            pos: 0,
            after: Stop::More,
        }
    }

    /// The decoder back, for its digest; the chunk buffer goes back to the pool.
    pub(crate) fn into_decoded(self) -> Decoded<R> {
        POOL.give_back(self.chunk);
        self.decoded
    }
}

impl<R: Read> Read for Inline<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.len {
            match std::mem::replace(&mut self.after, Stop::End) {
                Stop::More => {
                    let spent = std::mem::take(&mut self.chunk);
                    (self.chunk, self.len, self.after) = next_chunk(&mut self.decoded, spent);
                    self.pos = 0;
                }
                Stop::End => return Ok(0),
                Stop::Failed(e) => return Err(e),
            }
        }
        let n = buf.len().min(self.len - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Chunk buffers between unpacks: consumed chunks come back here and the decoder threads take
/// them, which saves a fresh allocation, its zeroing and its page faults per chunk (a package
/// of a few hundred KiB would otherwise allocate all of its chunks anew).
/// 32 chunks are kept at most: enough for a few unpacks at once (8 MiB).
static POOL: BufferPool = BufferPool::new(CHUNK, 32);

/// A chunk-sized buffer from [`POOL`] that goes back there when dropped: the unpacker's copy
/// buffer, which would otherwise be allocated, zeroed and faulted in for every package.
pub(crate) struct PooledBuffer(Vec<u8>);

impl PooledBuffer {
    pub(crate) fn take() -> PooledBuffer {
        PooledBuffer(POOL.take())
    }
}

impl std::ops::Deref for PooledBuffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl std::ops::DerefMut for PooledBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        POOL.give_back(std::mem::take(&mut self.0));
    }
}

/// Frees the chunk buffers kept between unpacks (a daemon calls it when it goes idle).
pub fn release_buffers() {
    POOL.clear();
}

/// Reads what the decoder thread sends; ends when the thread is done.
pub(crate) struct ChannelReader {
    rx: Receiver<Chunk>,
    chunk: Vec<u8>,
    len: usize,
    pos: usize,
}

impl Drop for ChannelReader {
    fn drop(&mut self) {
        POOL.give_back(std::mem::take(&mut self.chunk));
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.len {
            match self.rx.recv() {
                Ok(Ok((chunk, len))) => {
                    POOL.give_back(std::mem::replace(&mut self.chunk, chunk));
                    self.len = len;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.len - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Remembers whether its reader ever reported end of input.
pub(crate) struct EofTracker<R> {
    pub(crate) inner: R,
    pub(crate) hit_eof: bool,
}

impl<R: Read> Read for EofTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.hit_eof = true;
        }
        Ok(n)
    }
}
