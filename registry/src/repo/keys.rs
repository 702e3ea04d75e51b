//! The registry's signing key: where its secret half lives, how it is loaded, and what it
//! signs. The secret key is a standard minisign secret key file, kept outside the served
//! directory (by default `~/.config/pandora-registry/<name>.key`); the registry's private
//! state records its path in `.pandora-registry/signing.acl`:
//!
//! ```text
//! Signing { string secret_key = "/home/me/.config/pandora-registry/main.key"; }
//! ```
//!
//! A registry with a signing key signs `snapshot.acl` on every update and every package it
//! adds (`blobs/sha256/<hex>.minisig`). A key rotation writes `keys/<n>.acl`, the new key list,
//! signed by the old key.

use std::io::Write;
use std::path::{Path, PathBuf};

use minisign::{KeyPair, PublicKey, SecretKey, SecretKeyBox};
use pandora_common::acl::{self, Block, Document, Value};
use pandora_common::sign::KeyId;

use super::{RepoError, io_err};

/// The file in the private state directory that names the secret key.
pub(crate) const SIGNING: &str = "signing.acl";

/// A loaded secret key.
pub struct Signer {
    secret: SecretKey,
    public: PublicKey,
    /// The public key as `RW…` base64, as clients pin it.
    pub public_text: String,
    /// Its key id.
    pub id: KeyId,
    /// Where the secret key file is.
    pub path: PathBuf,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("id", &self.id)
            .field("path", &self.path)
            .finish()
    }
}

fn key_error(path: &Path, reason: impl std::fmt::Display) -> RepoError {
    RepoError::Key {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

impl Signer {
    fn from_secret(secret: SecretKey, path: &Path) -> Result<Signer, RepoError> {
        let public = PublicKey::from_secret_key(&secret).map_err(|e| key_error(path, e))?;
        let public_text = public.to_base64();
        let id = pandora_common::sign::TrustedKey::parse(&public_text)
            .map_err(|e| key_error(path, e))?
            .id;
        Ok(Signer {
            secret,
            public,
            public_text,
            id,
            // Absolute: signing.acl records it, and later commands run from anywhere.
            path: fs_err::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
        })
    }

    /// Makes a new key pair and writes its secret half to `path` (mode 0600, never over an
    /// existing file), encrypted with `password` when there is one.
    pub(crate) fn generate(path: &Path, password: Option<String>) -> Result<Signer, RepoError> {
        let KeyPair { sk, .. } = match &password {
            Some(p) => KeyPair::generate_encrypted_keypair(Some(p.clone())),
            None => KeyPair::generate_unencrypted_keypair(),
        }
        .map_err(|e| key_error(path, e))?;
        let text = sk
            .to_box(Some("pandora-registry secret key"))
            .map_err(|e| key_error(path, e))?
            .to_string();
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
        }
        use fs_err::os::unix::fs::OpenOptionsExt;
        let mut file = fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => key_error(
                    path,
                    "a file is already there (a key from an earlier, interrupted run?); choose \
                     another path with --secret-key (keygen can also use that key: --import)",
                ),
                _ => io_err("cannot create", path)(e),
            })?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io_err("cannot write", path))?;
        let secret = match password {
            Some(p) => SecretKeyBox::from_string(&text)
                .and_then(|b| b.into_secret_key(Some(p)))
                .map_err(|e| key_error(path, e))?,
            None => sk,
        };
        Signer::from_secret(secret, path)
    }

    /// Loads the minisign secret key file at `path` (made by `pandora-registry keygen` or by
    /// `minisign -G`), decrypting it with `password`.
    pub(crate) fn load(path: &Path, password: Option<String>) -> Result<Signer, RepoError> {
        let text = fs_err::read_to_string(path).map_err(|e| key_error(path, e))?;
        let sk_box = SecretKeyBox::from_string(&text).map_err(|e| key_error(path, e))?;
        let secret = match password {
            Some(p) => sk_box.into_secret_key(Some(p)).map_err(|e| {
                key_error(
                    path,
                    format!("{e} (check the file given by --password-file)"),
                )
            })?,
            // Read field by field: `minisign -G -W` leaves the checksum of a key without a
            // password empty, which the crate's own loader takes for damage.
            None => text
                .lines()
                .nth(1)
                .and_then(pandora_common::sign::base64_decode_text)
                .filter(|raw| raw.get(2..4) == Some(&[0, 0]))
                .and_then(|raw| SecretKey::from_bytes(&raw).ok())
                .ok_or_else(|| {
                    key_error(
                        path,
                        "the key is protected by a password (or damaged): pass \
                         --password-file FILE or set PANDORA_REGISTRY_PASSWORD_FILE",
                    )
                })?,
        };
        Signer::from_secret(secret, path)
    }

    /// Signs `data` in minisign's prehashed form, with `comment` as the trusted comment;
    /// returns the `.minisig` text.
    pub(crate) fn sign(
        &self,
        data: impl std::io::Read,
        comment: &str,
    ) -> Result<String, RepoError> {
        let untrusted = format!("signature from pandora-registry key {}", self.id);
        minisign::sign(
            Some(&self.public),
            &self.secret,
            data,
            Some(comment),
            Some(&untrusted),
        )
        .map(|b| b.to_string())
        .map_err(|e| key_error(&self.path, e))
    }
}

/// Where `keygen` puts a registry's secret key unless told otherwise:
/// `$XDG_CONFIG_HOME/pandora-registry/<name>.key` (`~/.config/…`).
pub fn default_secret_key_path(name: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("pandora-registry").join(format!("{name}.key")))
}

/// The secret key path recorded in `state/signing.acl`, if the registry has one.
pub(crate) fn recorded_path(state: &Path) -> Result<Option<PathBuf>, RepoError> {
    let path = state.join(SIGNING);
    let text = match fs_err::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("cannot read", &path)(e)),
    };
    let damaged = |why: &str| key_error(&path, why);
    let doc = acl::parse(&text, &path.display().to_string())
        .map_err(|e| key_error(&path, pandora_common::error_chain(&e, ": ")))?;
    let key = doc
        .block("Signing")
        .and_then(|b| b.field("secret_key"))
        .and_then(|f| f.value.as_str())
        .ok_or_else(|| damaged("expected `Signing { string secret_key = \"PATH\"; }`"))?;
    Ok(Some(PathBuf::from(key)))
}

/// The text of `signing.acl` naming `secret` as the registry's secret key.
pub(crate) fn signing_text(secret: &Path) -> String {
    let b =
        Block::new("Signing", None).with("secret_key", Value::Str(secret.display().to_string()));
    Document::new(vec![b]).to_source()
}

/// Refuses a secret key file that others may read.
pub(crate) fn check_private(path: &Path) -> Result<(), RepoError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs_err::metadata(path)
        .map_err(|e| key_error(path, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(key_error(
            path,
            format!(
                "others may read it (mode {:o}); make it private first: chmod 600 {}",
                mode & 0o777,
                path.display()
            ),
        ));
    }
    Ok(())
}

/// Reads the password file: its first line.
pub fn read_password(file: &Path) -> Result<String, RepoError> {
    let text = fs_err::read_to_string(file).map_err(|e| key_error(file, e))?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// The trusted comment of a package signature.
pub(crate) fn package_comment(pin: &pandora_common::files::Pin, sha256: &str) -> String {
    format!("package={pin} sha256={sha256}")
}
