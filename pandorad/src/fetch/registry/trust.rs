//! A registry client's trust checks: the snapshot's signature and its trusted comment under
//! the keys pinned in `registries.acl`, key rotations signed by a trusted key (and writing the
//! keys learned that way back), and package signatures.

use std::path::Path;

use pandora_common::files::{KeyRotation, Pin, RegistryList, Snapshot, VersionEntry};
use pandora_common::layout::Layout;
use pandora_common::sign::{self, Detached, KeyId, SignError, TrustedKey};

use super::blob::{PackageSignature, kept_signature};
use super::{MAX_METADATA, MAX_ROTATIONS, MAX_SIGNATURE, RegistryClient};
use crate::fetch::{FetchError, io_err};

/// What a signature check of a package found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trust {
    /// The key that signed the snapshot whose index named the package.
    pub(crate) snapshot_key: Option<String>,
    /// The key that signed the package itself.
    pub(crate) package_key: Option<String>,
}

impl RegistryClient {
    /// Whether signatures are checked at all: they are required, or a key is pinned.
    pub(super) fn checks_signatures(&self) -> bool {
        self.config.require_signatures || !self.keys.is_empty()
    }

    pub(super) fn untrusted(
        &self,
        what: &str,
        reason: impl std::fmt::Display,
        hint: String,
    ) -> FetchError {
        FetchError::Untrusted {
            registry: self.name().to_string(),
            what: what.to_string(),
            reason: reason.to_string(),
            hint,
        }
    }

    /// Checks the snapshot `text` against its detached signature `sig` under this registry's
    /// trust settings; returns the key that signed it (`None` when nothing was checked: no
    /// signature required and none to check, or no key pinned).
    pub(super) fn check_snapshot(
        &mut self,
        snap: &Snapshot,
        text: &str,
        sig: Option<&str>,
    ) -> Result<Option<KeyId>, FetchError> {
        let name = self.name().to_string();
        let what = "snapshot.acl.minisig";
        if !self.checks_signatures() {
            return Ok(None);
        }
        if self.keys.is_empty() {
            return Err(self.untrusted(
                what,
                "registries.acl says require_signatures = true but pins no key (trusted_keys)",
                format!("pin the registry's public key: pandora registry add {name} URL --key RW…"),
            ));
        }
        let Some(sig) = sig else {
            if !self.config.require_signatures {
                return Ok(None);
            }
            return Err(self.untrusted(
                what,
                "missing: the registry serves no signature for its snapshot, and you require one",
                format!(
                    "ask the registry's operator to sign it (pandora-registry keygen); to use it unsigned anyway, set `bool require_signatures = false;` for `{name}` in registries.acl"
                ),
            ));
        };
        let sig = Detached::parse(sig).map_err(|e| {
            self.untrusted(
                what,
                format!("malformed ({e})"),
                "the registry serves a damaged signature; tell its operator".into(),
            )
        })?;
        // A signed snapshot says which registry it is: the one the user named, so a registry
        // that shares a key with another cannot be passed off as it.
        if snap.registry != name {
            return Err(self.untrusted(
                "snapshot.acl",
                format!(
                    "it is registry `{}`'s snapshot, but you added this URL as `{name}`",
                    snap.registry
                ),
                format!(
                    "if that is the registry you mean, add it under its own name: pandora registry add {} URL --key RW…",
                    snap.registry
                ),
            ));
        }
        let key = match sig.verify(&self.keys, text.as_bytes()) {
            Ok(k) => k.id,
            Err(SignError::UnknownKey { key, .. }) => {
                let keys = self.follow_rotations(snap, key)?;
                let id = sig
                    .verify(&keys, text.as_bytes())
                    .map_err(|e| self.snapshot_refused(e))?
                    .id;
                self.learned = Some(keys.iter().map(|k| k.text.clone()).collect());
                self.keys = keys;
                id
            }
            Err(e) => return Err(self.snapshot_refused(e)),
        };
        let want = sign::snapshot_comment(&snap.registry, snap.serial, snap.expires);
        if sig.trusted_comment() != want {
            return Err(self.untrusted(
                what,
                format!(
                    "its signed comment says `{}`, but the snapshot says `{want}`",
                    sig.trusted_comment()
                ),
                "the registry serves a signature made for another snapshot; tell its operator"
                    .into(),
            ));
        }
        Ok(Some(key))
    }

    fn snapshot_refused(&self, e: SignError) -> FetchError {
        let name = self.name();
        let hint = match &e {
            SignError::UnknownKey { .. } => format!(
                "if the registry really changed its key, get the new public key from its operator and pin it: pandora registry add {name} URL --key RW…"
            ),
            _ => "the snapshot was altered or the signature made for other bytes; do not use this registry until its operator fixes it"
                .into(),
        };
        self.untrusted("snapshot.acl", format!("refused: {e}"), hint)
    }

    /// Follows the registry's signed key rotations (`keys/<n>.acl`, each signed by a key
    /// trusted before it) looking for `wanted`; returns the keys of the last rotation the
    /// chain reaches (the caller keeps them only if they include `wanted` and the snapshot is
    /// accepted).
    fn follow_rotations(
        &self,
        snap: &Snapshot,
        wanted: KeyId,
    ) -> Result<Vec<TrustedKey>, FetchError> {
        let mut trusted = self.keys.clone();
        let mut followed = Vec::new();
        for n in 1..=MAX_ROTATIONS {
            let rel = format!("keys/{n}.acl");
            let Some(text) = self.fetch_optional(&rel, MAX_METADATA)? else {
                break;
            };
            let Some(sig) = self.fetch_optional(&format!("{rel}.minisig"), MAX_SIGNATURE)? else {
                continue;
            };
            let (Ok(text), Ok(sig)) = (String::from_utf8(text), String::from_utf8(sig)) else {
                continue;
            };
            // A rotation no trusted key signed is one this client is past, or a forgery:
            // either way it changes nothing.
            let Ok(sig) = Detached::parse(&sig) else {
                continue;
            };
            if sig.verify(&trusted, text.as_bytes()).is_err() {
                continue;
            }
            let rotation = KeyRotation::parse(&text, &format!("{}/{rel}", self.name()))
                .map_err(|e| self.invalid(e))?;
            if rotation.registry != self.name()
                || rotation.registry != snap.registry
                || rotation.serial != n
            {
                return Err(self.untrusted(
                    &rel,
                    format!(
                        "it names rotation {} of registry `{}`",
                        rotation.serial, rotation.registry
                    ),
                    "the registry serves a signed file in the wrong place; tell its operator"
                        .into(),
                ));
            }
            trusted = TrustedKey::parse_all(&rotation.keys)
                .map_err(|e| self.untrusted(&rel, e, "tell the registry's operator".into()))?;
            followed.push(n);
        }
        if trusted.iter().any(|k| k.id == wanted) {
            tracing::warn!(
                "registry `{}` rotated its signing key (rotations {followed:?}, each signed by a key trusted before it); now trusting {}",
                self.name(),
                trusted
                    .iter()
                    .map(|k| k.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Ok(trusted)
    }

    /// Writes keys learned through a rotation as the registry's `trusted_keys` in
    /// `registries.acl`, unless the user changed that registry's entry meanwhile.
    pub(super) fn remember_learned(&mut self) -> Result<(), FetchError> {
        let Some(keys) = self.learned.take() else {
            return Ok(());
        };
        let path = &self.registries_file;
        let text = fs_err::read_to_string(path).map_err(io_err("read", path))?;
        let mut list =
            RegistryList::parse(&text, &path.display().to_string()).map_err(|e| self.invalid(e))?;
        let Some(r) = list.registries.iter_mut().find(|r| {
            r.name == self.config.name
                && r.url == self.config.url
                && r.trusted_keys == self.config.trusted_keys
        }) else {
            return Ok(());
        };
        r.trusted_keys = keys.clone();
        pandora_common::write_atomic(path, list.to_source().as_bytes())
            .map_err(io_err("write", path))?;
        self.config.trusted_keys = keys;
        Ok(())
    }

    /// The signature a package must carry, when the registry has one for it (or must have
    /// one): the one kept beside the cached blob if it parses, else the registry's. Checked
    /// later, against the bytes as they are read.
    pub(super) fn package_signature(
        &self,
        layout: &Layout,
        pin: &Pin,
        v: &VersionEntry,
    ) -> Result<Option<PackageSignature>, FetchError> {
        if self.keys.is_empty() {
            return Ok(None);
        }
        let Some(rel) = &v.signature else {
            if self.signed_packages {
                return Err(self.untrusted(
                    &format!("the signature of {pin}"),
                    "missing, though the registry's signed config says every package is signed",
                    "the registry's index was altered or is damaged; tell its operator".into(),
                ));
            }
            return Ok(None);
        };
        // The signature kept beside the cached blob: no network if it still verifies.
        if let Ok(text) = fs_err::read_to_string(kept_signature(layout, v))
            && let Ok(sig) = Detached::parse(&text)
        {
            return Ok(Some(PackageSignature {
                sig,
                text,
                from_cache: true,
            }));
        }
        let (sig, text) = self.fetch_package_signature(pin, rel)?;
        Ok(Some(PackageSignature {
            sig,
            text,
            from_cache: false,
        }))
    }

    fn fetch_package_signature(
        &self,
        pin: &Pin,
        rel: &str,
    ) -> Result<(Detached, String), FetchError> {
        let what = format!("the signature of {pin}");
        let bytes = match self.prefetched_signature(rel) {
            Some(bytes) => Some(bytes),
            None => self.fetch_optional(rel, MAX_SIGNATURE)?,
        };
        let text = bytes
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                self.untrusted(
                    &what,
                    format!("the index names {rel}, but the registry does not serve it"),
                    "tell the registry's operator".into(),
                )
            })?;
        let sig = Detached::parse(&text).map_err(|e| {
            self.untrusted(
                &what,
                format!("malformed ({e})"),
                "tell the registry's operator".into(),
            )
        })?;
        Ok((sig, text))
    }

    /// Checks the blob at `path` against the registry's signature for it, read now (the one
    /// kept in the cache did not hold), and keeps that signature beside the cached blob.
    pub(super) fn check_package_online(
        &self,
        layout: &Layout,
        pin: &Pin,
        v: &VersionEntry,
        path: &Path,
    ) -> Result<KeyId, FetchError> {
        let rel = v.signature.as_deref().unwrap_or_default();
        let (sig, text) = self.fetch_package_signature(pin, rel)?;
        let blob = fs_err::File::open(path).map_err(io_err("read", path))?;
        let key = sig
            .verify_reader(
                &self.keys,
                std::io::BufReader::with_capacity(256 << 10, blob),
            )
            .map_err(|e| self.package_refused(pin, e))?
            .id;
        self.keep_signature(layout, v, &text);
        Ok(key)
    }

    /// Why a package's signature is refused, with what to do.
    pub(super) fn package_refused(&self, pin: &Pin, e: SignError) -> FetchError {
        let name = self.name();
        let hint = match e {
            SignError::UnknownKey { .. } if !self.snapshot_checked => format!(
                "the registry may have rotated its key since the snapshot cached here: retry with --refresh; only keys pinned for `{name}` count"
            ),
            SignError::UnknownKey { .. } => format!(
                "only keys pinned for `{name}` count; a package signed by another registry's key is refused"
            ),
            _ => "the package was altered; do not install it".into(),
        };
        self.untrusted(
            &format!("the signature of {pin}"),
            format!("refused: {e}"),
            hint,
        )
    }
}
