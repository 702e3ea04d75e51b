//! SHA-256 while streaming: one hashing reader, one hashing writer and the helpers built on
//! them, used by the packer, the unpacker, fetch, verify and the registry. Hashes are
//! lowercase hex, as every Pandora file writes them.

use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// Buffer size for streamed hashing: large enough that a syscall per read does not dominate.
const BUF: usize = 256 << 10;

/// The SHA-256 (lowercase hex) and byte count of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Bytes hashed.
    pub size: u64,
}

/// The lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A running hash: bytes go in, a [`Digest`] comes out.
#[derive(Clone, Default)]
pub struct Hasher {
    sha: Sha256,
    size: u64,
}

impl Hasher {
    /// An empty hash.
    pub fn new() -> Hasher {
        Hasher::default()
    }

    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.size += bytes.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digest of everything added.
    pub fn finish(self) -> Digest {
        Digest {
            sha256: hex::encode(self.sha.finalize()),
            size: self.size,
        }
    }
}

/// A reader that hashes every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> HashingReader<R> {
    /// Hashes what is read from `inner`.
    pub fn new(inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// Bytes read so far.
    pub fn size(&self) -> u64 {
        self.hasher.size()
    }

    /// The inner reader.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The digest of everything read, and the inner reader.
    pub fn finish(self) -> (Digest, R) {
        (self.hasher.finish(), self.inner)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A writer that hashes every byte written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> HashingWriter<W> {
    /// Hashes what is written to `inner`.
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hasher: Hasher::new(),
        }
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.hasher.size()
    }

    /// The inner writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The digest of everything written, and the inner writer.
    pub fn finish(self) -> (Digest, W) {
        (self.hasher.finish(), self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Copies `src` into `dst`, returning the digest of what was copied.
pub fn copy_hashed(src: &mut impl Read, dst: &mut impl Write) -> io::Result<Digest> {
    let mut buf = vec![0u8; BUF];
    copy_hashed_with(src, dst, &mut buf).map_err(CopyError::into_inner)
}

/// Which side of a [`copy_hashed_with`] failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// Reading the source failed.
    #[error("cannot read the source")]
    Read(#[source] io::Error),
    /// Writing the destination failed.
    #[error("cannot write the destination")]
    Write(#[source] io::Error),
}

impl CopyError {
    /// The I/O error, whichever side it came from.
    pub fn into_inner(self) -> io::Error {
        match self {
            CopyError::Read(e) | CopyError::Write(e) => e,
        }
    }
}

/// [`copy_hashed`] through the caller's `buf`, for hot loops that copy many files, and telling
/// a failed read from a failed write.
pub fn copy_hashed_with(
    src: &mut impl Read,
    dst: &mut impl Write,
    buf: &mut [u8],
) -> Result<Digest, CopyError> {
    if buf.is_empty() {
        return copy_hashed_with(src, dst, &mut [0u8; 8 << 10]);
    }
    let mut hasher = Hasher::new();
    loop {
        let n = match src.read(buf) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(CopyError::Write)?;
    }
}

/// The digest of a whole stream.
pub fn hash_reader(src: &mut impl Read) -> io::Result<Digest> {
    copy_hashed(src, &mut io::sink())
}

/// The digest of the file at `path`; errors name the path.
pub fn hash_file(path: &Path) -> io::Result<Digest> {
    hash_reader(&mut fs_err::File::open(path)?)
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn reader_writer_and_helpers_agree() {
        assert_eq!(sha256_hex(b"abc"), ABC);
        let mut r = HashingReader::new(&b"abc"[..]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        let (d, _) = r.finish();
        assert_eq!((d.sha256.as_str(), d.size), (ABC, 3));
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"ab").unwrap();
        w.write_all(b"c").unwrap();
        let (d, v) = w.finish();
        assert_eq!((d.sha256.as_str(), d.size, v), (ABC, 3, b"abc".to_vec()));
        let mut sink = Vec::new();
        let d = copy_hashed(&mut &b"abc"[..], &mut sink).unwrap();
        assert_eq!((d.sha256.as_str(), sink), (ABC, b"abc".to_vec()));
        let mut small = [0u8; 2];
        let mut sink = Vec::new();
        let d = copy_hashed_with(&mut &b"abc"[..], &mut sink, &mut small).unwrap();
        assert_eq!((d.sha256.as_str(), d.size, sink), (ABC, 3, b"abc".to_vec()));
        let err = copy_hashed_with(&mut &b"abc"[..], &mut &mut [0u8; 1][..], &mut small);
        assert!(matches!(err, Err(CopyError::Write(_))), "{err:?}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(hash_file(&p).unwrap().sha256, ABC);
        let err = hash_file(&dir.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }
}
