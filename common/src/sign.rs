//! Signature checks in minisign's format (Ed25519 over a BLAKE2b-512 prehash, the `ED`
//! algorithm): public keys as `RW…` base64 lines, detached `.minisig` signatures whose
//! trusted comment is signed too. Debian's `minisign -V` checks what Pandora signs, and
//! Pandora checks what `minisign -S` signs. Signing itself lives in `pandora-registry`.
//!
//! Trust decisions belong to the caller: this module only answers "which of these keys made
//! this signature over these bytes", and why not.

use std::fmt;
use std::io::Read;

use minisign_verify::{PublicKey, Signature};

/// A key id: the 8 bytes minisign puts in keys and signatures, shown as minisign shows it
/// (16 upper-case hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

/// Why a key or a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// Not a minisign public key.
    #[error("`{0}` is not a minisign public key (expected the base64 line that starts with RW)")]
    BadKey(String),
    /// Not a minisign signature file.
    #[error("not a minisign signature: {0}")]
    Malformed(String),
    /// A signature in minisign's legacy (not prehashed) form.
    #[error(
        "a legacy minisign signature (made without prehashing); sign with minisign 0.8 or later"
    )]
    Legacy,
    /// Made by a key not among the trusted ones.
    #[error("signed by key {key}, which is not trusted (trusted: {})", list(.trusted))]
    UnknownKey {
        /// The signing key.
        key: KeyId,
        /// The keys that were trusted.
        trusted: Vec<KeyId>,
    },
    /// The key matches but the signature does not: other bytes, or a forged comment.
    #[error("the signature by key {0} does not match these bytes")]
    Invalid(KeyId),
    /// There were no trusted keys to check against.
    #[error("no trusted key to check it with")]
    NoKeys,
    /// Reading the signed data failed.
    #[error("cannot read the signed data: {0}")]
    Read(String),
}

fn list(keys: &[KeyId]) -> String {
    if keys.is_empty() {
        return "none".to_string();
    }
    keys.iter()
        .map(KeyId::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A public key someone decided to trust.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// The `RW…` base64 text, as written in configuration.
    pub text: String,
    /// Its key id.
    pub id: KeyId,
    key: PublicKey,
}

impl PartialEq for TrustedKey {
    fn eq(&self, other: &TrustedKey) -> bool {
        self.text == other.text
    }
}

impl TrustedKey {
    /// Parses a key: the `RW…` line alone, or a whole `minisign.pub` file (comment line
    /// first).
    pub fn parse(text: &str) -> Result<TrustedKey, SignError> {
        let line = text
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .unwrap_or("");
        let bad = || SignError::BadKey(shorten(text));
        let bytes = base64_decode(line).ok_or_else(bad)?;
        if bytes.len() != 42 || bytes[0..2] != *b"Ed" {
            return Err(bad());
        }
        let key = PublicKey::from_base64(line).map_err(|_| bad())?;
        let mut id = [0u8; 8];
        id.copy_from_slice(&bytes[2..10]);
        Ok(TrustedKey {
            text: line.to_string(),
            id: KeyId(id),
            key,
        })
    }

    /// Parses every key of a list, naming the first bad one.
    pub fn parse_all(texts: &[String]) -> Result<Vec<TrustedKey>, SignError> {
        texts.iter().map(|t| TrustedKey::parse(t)).collect()
    }
}

fn shorten(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

/// A parsed `.minisig` file.
#[derive(Clone)]
pub struct Detached {
    sig: Signature,
    /// The id of the key that made it.
    pub key: KeyId,
}

impl fmt::Debug for Detached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detached")
            .field("key", &self.key)
            .field("trusted_comment", &self.trusted_comment())
            .finish()
    }
}

impl Detached {
    /// Parses the four lines of a `.minisig` file.
    pub fn parse(text: &str) -> Result<Detached, SignError> {
        let mut lines = text.lines();
        let comment = lines.next().unwrap_or("");
        if !comment.starts_with("untrusted comment:") {
            return Err(SignError::Malformed(
                "the first line is not `untrusted comment: …`".into(),
            ));
        }
        let raw = lines
            .next()
            .and_then(|l| base64_decode(l.trim()))
            .filter(|b| b.len() == 74)
            .ok_or_else(|| SignError::Malformed("the second line is not a signature".into()))?;
        match &raw[0..2] {
            b"ED" => {}
            b"Ed" => return Err(SignError::Legacy),
            _ => {
                return Err(SignError::Malformed(
                    "an unknown signature algorithm".into(),
                ));
            }
        }
        let sig = Signature::decode(text).map_err(|e| SignError::Malformed(e.to_string()))?;
        let mut id = [0u8; 8];
        id.copy_from_slice(&raw[2..10]);
        Ok(Detached {
            sig,
            key: KeyId(id),
        })
    }

    /// The trusted comment (signed together with the data), without its prefix.
    pub fn trusted_comment(&self) -> &str {
        self.sig.trusted_comment()
    }

    /// The `key=value` words of the trusted comment.
    pub fn comment_field(&self, name: &str) -> Option<&str> {
        self.trusted_comment()
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
    }

    fn signer<'k>(&self, keys: &'k [TrustedKey]) -> Result<&'k TrustedKey, SignError> {
        if keys.is_empty() {
            return Err(SignError::NoKeys);
        }
        keys.iter()
            .find(|k| k.id == self.key)
            .ok_or_else(|| SignError::UnknownKey {
                key: self.key,
                trusted: keys.iter().map(|k| k.id).collect(),
            })
    }

    /// Which of `keys` signed `data`.
    pub fn verify<'k>(
        &self,
        keys: &'k [TrustedKey],
        data: &[u8],
    ) -> Result<&'k TrustedKey, SignError> {
        let key = self.signer(keys)?;
        key.key
            .verify(data, &self.sig, false)
            .map_err(|_| SignError::Invalid(self.key))?;
        Ok(key)
    }

    /// Which of `keys` signed everything `data` yields, read in pieces.
    pub fn verify_reader<'k>(
        &self,
        keys: &'k [TrustedKey],
        mut data: impl Read,
    ) -> Result<&'k TrustedKey, SignError> {
        let mut check = self.check(keys)?;
        let mut buf = vec![0u8; 256 << 10];
        loop {
            match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => check.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SignError::Read(e.to_string())),
            }
        }
        check.finish()
    }

    /// A check fed with the signed bytes piece by piece, by whoever reads them anyway (a
    /// download, an unpacker), so that they are read once. Fails at once when none of `keys`
    /// made the signature.
    pub fn check<'s, 'k: 's>(
        &'s self,
        keys: &'k [TrustedKey],
    ) -> Result<StreamCheck<'s, 'k>, SignError> {
        let key = self.signer(keys)?;
        let stream = key
            .key
            .verify_stream(&self.sig)
            .map_err(|_| SignError::Legacy)?;
        Ok(StreamCheck {
            stream,
            key,
            id: self.key,
        })
    }
}

/// A signature check in progress: see [`Detached::check`].
pub struct StreamCheck<'s, 'k> {
    stream: minisign_verify::StreamVerifier<'s>,
    key: &'k TrustedKey,
    id: KeyId,
}

impl<'k> StreamCheck<'_, 'k> {
    /// Feeds the next bytes of the signed data.
    pub fn update(&mut self, data: &[u8]) {
        self.stream.update(data);
    }

    /// The key that signed everything fed, or why the signature does not hold.
    pub fn finish(mut self) -> Result<&'k TrustedKey, SignError> {
        self.stream
            .finalize()
            .map_err(|_| SignError::Invalid(self.id))?;
        Ok(self.key)
    }
}

/// The trusted comment of a signed `snapshot.acl`: the registry, the serial and the expiry,
/// so that a person running `minisign -V` sees what was signed.
pub fn snapshot_comment(registry: &str, serial: u64, expires: u64) -> String {
    format!("registry={registry} serial={serial} expires={expires}")
}

/// The trusted comment of a signed key rotation `keys/<n>.acl`.
pub fn rotation_comment(registry: &str, serial: u64) -> String {
    format!("registry={registry} key-rotation={serial}")
}

/// Decodes standard base64 (with padding); `None` for anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let last = i == bytes.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let three = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&three[..3 - pad]);
    }
    Some(out)
}

/// Encodes standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes what [`base64_encode`] makes.
pub fn base64_decode_text(text: &str) -> Option<Vec<u8>> {
    base64_decode(text.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    // A well-formed public key line (the `Ed` algorithm, an id, 32 key bytes).
    const PUBLIC: &str = "RWQf6LRCGA9i53mlYecO4IzT51TEPYtsSJBRbV2qlUZRKCMnUJ2YN8mC";

    #[test]
    fn base64_round_trips() {
        for n in 1..40usize {
            let data: Vec<u8> = (0..n as u8).map(|b| b.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(&base64_encode(&data)).unwrap(), data, "{n}");
        }
        assert_eq!(base64_encode(b"hello"), "aGVsbG8=");
        assert!(base64_decode("aGVsbG8").is_none());
        assert!(base64_decode("aG=sbG8=").is_none());
        assert!(base64_decode("a!==").is_none());
    }

    #[test]
    fn keys_parse_alone_or_as_files() {
        let k = TrustedKey::parse(PUBLIC).unwrap();
        let file = format!("untrusted comment: minisign public key\n{PUBLIC}\n");
        assert_eq!(TrustedKey::parse(&file).unwrap().id, k.id);
        assert_eq!(k.id.to_string().len(), 16);
        assert!(matches!(
            TrustedKey::parse("RWnotakey"),
            Err(SignError::BadKey(_))
        ));
        assert!(matches!(TrustedKey::parse(""), Err(SignError::BadKey(_))));
    }

    #[test]
    fn malformed_signatures_are_named() {
        assert!(matches!(
            Detached::parse("hello"),
            Err(SignError::Malformed(_))
        ));
        assert!(matches!(
            Detached::parse("untrusted comment: x\nnotbase64!\n"),
            Err(SignError::Malformed(_))
        ));
    }
}
