//! The extraction engine: drives the tar reader entry by entry and checks each entry itself
//! (the tar crate's own `unpack` is never used).
//!
//! Invariants: every entry is checked before anything is written for it; nothing is written
//! outside the fresh staging directory (it is private, every path in it is known to
//! [`Tree`], files are created with `O_EXCL | O_NOFOLLOW`, and no path through a symlink is
//! ever opened).

use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use fs_err as fs;
use tar::EntryType;

use super::content::{self, check_for};
use super::entry::{EntryInfo, EntryKind};
use super::error::{ContentError, UnpackError, Violation};
use super::headers::{MAX_PAX, Pending, normalise_mode, parse_pax, refused_type, strip_nul};
use super::limits::Limits;
use super::open::{create_nofollow, umask_keeps};
use super::path_rules::{Added, MANIFEST, Tree, check_link_target, check_path, display_path};
use super::stream::{EofTracker, PooledBuffer, StreamError};
use super::unpack::UnpackOptions;
use crate::files::HookFile;
use crate::files::Manifest;
use crate::hash::{CopyError, copy_hashed_with, sha256_hex};

/// What a successful run found.
pub(crate) struct Found {
    pub(crate) manifest: Manifest,
    pub(crate) manifest_text: String,
    pub(crate) entries: Vec<EntryInfo>,
    /// `phase: command` of every `run` hook, in the manifest's order of hook files.
    pub(crate) run_hooks: Vec<String>,
}

/// Drives the tar reader over the decompressed stream `source`, writing under `root` if given.
/// Returns `source` so the caller can collect its digest.
pub(crate) fn run<R: Read>(
    source: R,
    root: Option<&Path>,
    limits: &Limits,
    options: UnpackOptions,
) -> Result<(Found, R), UnpackError> {
    let mut archive = tar::Archive::new(EofTracker {
        inner: source,
        hit_eof: false,
    });
    let mut engine = Engine {
        limits,
        root,
        tree: Tree::default(),
        entries: Vec::new(),
        manifest: None,
        hooks: Vec::new(),
        buf: PooledBuffer::take(),
        exact: root.is_some_and(modes_are_exact),
        write_back: options.write_back_early,
    };
    let entries = archive
        .entries()
        .map_err(|e| engine.archive_error(e, "read the tar stream"))?;
    let mut pending = Pending::default();
    let mut headers = 0u64;
    for entry in entries.raw(true) {
        let mut entry = entry.map_err(|e| engine.archive_error(e, "read a tar header"))?;
        headers += 1;
        if headers > limits.max_entries {
            let path = display_path(&entry.path_bytes());
            return Err(UnpackError::Entry {
                path,
                violation: Violation::TooManyEntries {
                    max: limits.max_entries,
                },
            });
        }
        match entry.header().entry_type() {
            EntryType::GNULongName => {
                let name = engine.read_meta(
                    &mut entry,
                    limits.max_path_len as u64 + 1,
                    "GNU long name",
                )?;
                set_once(&mut pending.long_name, name, "GNU long name", &engine)?;
            }
            EntryType::GNULongLink => {
                let link = engine.read_meta(
                    &mut entry,
                    limits.max_path_len as u64 + 1,
                    "GNU long link",
                )?;
                set_once(&mut pending.long_link, link, "GNU long link", &engine)?;
            }
            EntryType::XHeader => {
                let pax = engine.read_meta(&mut entry, MAX_PAX, "PAX")?;
                set_once(&mut pending.pax, pax, "PAX", &engine)?;
            }
            _ => engine.entry(&mut entry, std::mem::take(&mut pending))?,
        }
    }
    let stray = [
        (&pending.long_name, "GNU long name"),
        (&pending.long_link, "GNU long link"),
        (&pending.pax, "PAX"),
    ];
    if let Some((_, what)) = stray.iter().find(|(p, _)| p.is_some()) {
        return Err(engine.archive_violation(Violation::StrayMetadata { what }));
    }
    let mut tail = archive.into_inner();
    if tail.hit_eof {
        return Err(engine.archive_violation(Violation::MissingEndMarker));
    }
    engine.drain_zeros(&mut tail)?;
    let found = engine.finish()?;
    Ok((found, tail.inner))
}

fn set_once(
    slot: &mut Option<Vec<u8>>,
    value: Vec<u8>,
    what: &'static str,
    engine: &Engine<'_>,
) -> Result<(), UnpackError> {
    if slot.replace(value).is_some() {
        return Err(engine.archive_violation(Violation::StrayMetadata { what }));
    }
    Ok(())
}

struct Engine<'a> {
    limits: &'a Limits,
    root: Option<&'a Path>,
    tree: Tree,
    entries: Vec<EntryInfo>,
    manifest: Option<(Manifest, String)>,
    /// Hook files read so far, by path.
    hooks: Vec<(String, HookFile)>,
    buf: PooledBuffer,
    /// Files and directories created under `root` get exactly the mode asked for, so none
    /// needs a `chmod`.
    exact: bool,
    /// Start each file's write-back once it is written.
    write_back: bool,
}

/// An entry whose header passed every check.
struct Checked {
    path: String,
    kind: EntryKind,
    mode: u32,
    size: u64,
    target: Option<String>,
    added: Added,
}

impl Engine<'_> {
    fn last(&self) -> Option<String> {
        self.entries.last().map(|e| e.path.clone())
    }

    fn archive_violation(&self, violation: Violation) -> UnpackError {
        UnpackError::Archive {
            after: self.last(),
            violation,
        }
    }

    /// Maps an error met outside any entry.
    fn archive_error(&self, err: io::Error, action: &'static str) -> UnpackError {
        let after = self.last();
        match StreamError::from_io(err) {
            Ok(StreamError::Rule(violation)) => UnpackError::Archive { after, violation },
            Ok(StreamError::Read(source)) => UnpackError::ArchiveIo {
                after,
                action: "read the archive",
                source,
            },
            Ok(StreamError::Zstd(source)) => UnpackError::ArchiveIo {
                after,
                action: "decompress the archive",
                source,
            },
            Err(source) => UnpackError::ArchiveIo {
                after,
                action,
                source,
            },
        }
    }

    /// Maps an error met while reading the data of entry `path`.
    fn read_error(path: &str, err: io::Error) -> UnpackError {
        let path = path.to_string();
        match StreamError::from_io(err) {
            Ok(StreamError::Rule(violation)) => UnpackError::Entry { path, violation },
            Ok(StreamError::Read(source)) => UnpackError::EntryIo {
                path,
                action: "read the archive",
                source,
            },
            Ok(StreamError::Zstd(source)) => UnpackError::EntryIo {
                path,
                action: "decompress the archive",
                source,
            },
            Err(source) => UnpackError::EntryIo {
                path,
                action: "read the tar stream",
                source,
            },
        }
    }

    /// Reads a long-name or PAX header's data, at most `max` bytes. Errors name the long name
    /// itself (its first KiB) or, for PAX, the header's own path.
    fn read_meta<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        max: u64,
        what: &'static str,
    ) -> Result<Vec<u8>, UnpackError> {
        let size = entry.size();
        let mut data = Vec::new();
        let first = entry
            .by_ref()
            .take(size.min(max).min(1024))
            .read_to_end(&mut data);
        let shown = match what {
            "PAX" => format!("{} (PAX header)", display_path(&entry.path_bytes())),
            _ => format!("{} ({what} header)", display_path(&data)),
        };
        first.map_err(|e| Self::read_error(&shown, e))?;
        let fail = |violation| UnpackError::Entry {
            path: shown.clone(),
            violation,
        };
        if size > max {
            return Err(fail(match what {
                "PAX" => Violation::MalformedPax,
                _ => Violation::PathTooLong {
                    len: size.saturating_sub(1),
                    max: self.limits.max_path_len,
                },
            }));
        }
        entry
            .read_to_end(&mut data)
            .map_err(|e| Self::read_error(&shown, e))?;
        if data.len() as u64 != size {
            return Err(fail(Violation::Truncated {
                expected: size,
                actual: data.len() as u64,
            }));
        }
        Ok(data)
    }

    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        pending: Pending,
    ) -> Result<(), UnpackError> {
        let checked = self.check(entry, pending)?;
        let sha256 = self.write(entry, &checked)?;
        let Checked {
            path,
            kind,
            mode,
            size,
            target,
            ..
        } = checked;
        self.entries.push(EntryInfo {
            path,
            kind,
            mode,
            size,
            sha256,
            link_target: target,
        });
        Ok(())
    }

    /// Applies every rule that the header alone decides, and records the path in the tree.
    fn check<R: Read>(
        &mut self,
        entry: &tar::Entry<'_, R>,
        pending: Pending,
    ) -> Result<Checked, UnpackError> {
        let size = entry.size();
        let pax = match &pending.pax {
            Some(pax) => Some(
                parse_pax(pax, size).map_err(|violation| UnpackError::Entry {
                    path: display_path(&entry.path_bytes()),
                    violation,
                })?,
            ),
            None => None,
        };
        let (pax_path, pax_link) = pax.map_or((None, None), |p| (p.path, p.link));
        let header = entry.header();
        let raw_path: Cow<'_, [u8]> = match (pending.long_name, pax_path) {
            (Some(name), _) => Cow::Owned(strip_nul(name)),
            (None, Some(path)) => Cow::Owned(path),
            (None, None) => header.path_bytes(),
        };
        let fail = |violation| UnpackError::Entry {
            path: display_path(&raw_path),
            violation,
        };
        let kind = match header.entry_type() {
            EntryType::Regular => EntryKind::File,
            EntryType::Directory => EntryKind::Dir,
            EntryType::Symlink => EntryKind::Symlink,
            other => {
                return Err(fail(refused_type(
                    other,
                    header.link_name_bytes().as_deref(),
                )));
            }
        };
        if self.manifest.is_none() && (*raw_path != *MANIFEST.as_bytes() || kind != EntryKind::File)
        {
            return Err(fail(Violation::ManifestNotFirst));
        }
        let path = check_path(&raw_path, kind, self.limits).map_err(fail)?;
        let header_mode = header
            .mode()
            .map_err(|_| fail(Violation::BadHeader { field: "mode" }))?;
        let mode = normalise_mode(kind, header_mode).map_err(fail)?;
        if kind != EntryKind::File && size != 0 {
            let what = if kind == EntryKind::Dir {
                "directory"
            } else {
                "symlink"
            };
            return Err(fail(Violation::UnexpectedData { kind: what, size }));
        }
        let target = match kind {
            EntryKind::Symlink => {
                let raw = match (pending.long_link, pax_link) {
                    (Some(link), _) => strip_nul(link),
                    (None, Some(link)) => link,
                    (None, None) => header
                        .link_name_bytes()
                        .map(Cow::into_owned)
                        .unwrap_or_default(),
                };
                Some(check_link_target(&raw, self.limits).map_err(fail)?)
            }
            _ => None,
        };
        let added = self
            .tree
            .add(&path, kind, target.as_deref())
            .map_err(fail)?;
        Ok(Checked {
            path,
            kind,
            mode,
            size,
            target,
            added,
        })
    }

    /// Writes a checked entry (nothing when inspecting) and returns a file's sha256.
    fn write<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        checked: &Checked,
    ) -> Result<Option<String>, UnpackError> {
        let Checked {
            path,
            kind,
            mode,
            size,
            target,
            added,
        } = checked;
        let write_err = |source| UnpackError::EntryIo {
            path: path.clone(),
            action: "write it",
            source,
        };
        let exact = self.exact;
        if let Some(root) = self.root {
            for dir in &added.new_dirs {
                make_dir(&root.join(dir), exact).map_err(write_err)?;
            }
        }
        let disk = self.root.map(|root| root.join(path));
        match (kind, &disk) {
            (EntryKind::Dir, Some(disk)) if !added.exists => {
                make_dir(disk, exact).map_err(write_err)?
            }
            (EntryKind::Symlink, Some(disk)) => {
                let target = target.as_deref().unwrap_or_default();
                fs::os::unix::fs::symlink(target, disk).map_err(write_err)?;
            }
            (EntryKind::File, _) if self.manifest.is_none() => {
                // Parsed before anything is written: a package with a bad manifest leaves no
                // trace at all.
                let text = self.read_manifest(entry, path)?;
                let manifest = Manifest::parse(&text, MANIFEST)
                    .map_err(|source| UnpackError::Manifest { source })?;
                if let Some(disk) = &disk {
                    let mut file = create_file(disk, *mode, exact).map_err(write_err)?;
                    file.write_all(text.as_bytes()).map_err(write_err)?;
                    finish_mode(&file, *mode, exact).map_err(write_err)?;
                }
                let sha256 = sha256_hex(text.as_bytes());
                self.manifest = Some((manifest, text));
                return Ok(Some(sha256));
            }
            (EntryKind::File, _)
                if let Some(check) =
                    self.manifest.as_ref().and_then(|(m, _)| check_for(path, m)) =>
            {
                // Checked in memory before anything is written, like the manifest.
                let data = self.read_content(entry, path, check)?;
                if check == content::Check::Hook
                    && let Ok(hooks) =
                        HookFile::parse(std::str::from_utf8(&data).unwrap_or_default(), path)
                {
                    self.hooks.push((path.to_string(), hooks));
                }
                if let Some(disk) = &disk {
                    let mut file = create_file(disk, *mode, exact).map_err(write_err)?;
                    file.write_all(&data).map_err(write_err)?;
                    finish_mode(&file, *mode, exact).map_err(write_err)?;
                }
                return Ok(Some(sha256_hex(&data)));
            }
            (EntryKind::File, _) => {
                let mut file = disk
                    .as_deref()
                    .map(|disk| create_file(disk, *mode, exact))
                    .transpose()
                    .map_err(write_err)?;
                let copied = match file.as_mut() {
                    Some(file) => copy_hashed_with(entry, file, &mut self.buf),
                    None => copy_hashed_with(entry, &mut io::sink(), &mut self.buf),
                };
                let digest = copied.map_err(|e| match e {
                    CopyError::Read(e) => Self::read_error(path, e),
                    CopyError::Write(e) => write_err(e),
                })?;
                let (copied, sha256) = (digest.size, digest.sha256);
                if copied != *size {
                    let violation = Violation::Truncated {
                        expected: *size,
                        actual: copied,
                    };
                    return Err(UnpackError::Entry {
                        path: path.clone(),
                        violation,
                    });
                }
                if let Some(file) = &file {
                    finish_mode(file, *mode, exact).map_err(write_err)?;
                    if self.write_back {
                        // Only a hint: the caller's sync is what counts.
                        let _ = rustix::fs::fadvise(file, 0, None, rustix::fs::Advice::DontNeed);
                    }
                }
                return Ok(Some(sha256));
            }
            _ => {}
        }
        Ok(None)
    }

    fn read_manifest<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &str,
    ) -> Result<String, UnpackError> {
        let size = entry.size();
        let max = self.limits.max_manifest_size;
        let fail = |violation| UnpackError::Entry {
            path: path.to_string(),
            violation,
        };
        if size > max {
            return Err(fail(Violation::ManifestTooLarge { size, max }));
        }
        let data = Self::read_whole(entry, path)?;
        String::from_utf8(data).map_err(|_| fail(Violation::ManifestNotUtf8))
    }

    /// Reads an entry (already checked against its size cap) into memory, refusing one whose
    /// data is shorter than its header says.
    fn read_whole<R: Read>(
        entry: &mut tar::Entry<'_, R>,
        path: &str,
    ) -> Result<Vec<u8>, UnpackError> {
        let size = entry.size();
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| Self::read_error(path, e))?;
        if data.len() as u64 != size {
            return Err(UnpackError::Entry {
                path: path.to_string(),
                violation: Violation::Truncated {
                    expected: size,
                    actual: data.len() as u64,
                },
            });
        }
        Ok(data)
    }

    /// Reads an install hook, `provenance.acl` or `sbom.spdx.json` and checks it.
    fn read_content<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &str,
        check: content::Check,
    ) -> Result<Vec<u8>, UnpackError> {
        let size = entry.size();
        let max = self.limits.max_metadata_size;
        let fail = |source| UnpackError::Content {
            path: path.to_string(),
            source,
        };
        if size > max {
            return Err(fail(ContentError::TooLarge { size, max }));
        }
        let data = Self::read_whole(entry, path)?;
        content::check(check, &data, path).map_err(fail)?;
        Ok(data)
    }

    /// Reads the decompressed stream after the end-of-archive block to its end; it may hold
    /// only zero padding.
    fn drain_zeros(&mut self, tail: &mut impl Read) -> Result<(), UnpackError> {
        loop {
            let n = match tail.read(&mut self.buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.archive_error(e, "read the end of the tar stream")),
            };
            if self.buf[..n].iter().any(|&b| b != 0) {
                return Err(self.archive_violation(Violation::TrailingTarData));
            }
        }
    }

    fn finish(self) -> Result<Found, UnpackError> {
        let Some((manifest, manifest_text)) = self.manifest else {
            return Err(UnpackError::Archive {
                after: None,
                violation: Violation::MissingManifest,
            });
        };
        self.tree
            .check_links()
            .map_err(|(path, violation)| UnpackError::Entry { path, violation })?;
        if let Some(hook) = manifest
            .install_hooks
            .iter()
            .find(|h| !self.tree.is_file(h))
        {
            return Err(UnpackError::Entry {
                path: display_path(hook.as_bytes()),
                violation: Violation::MissingHook,
            });
        }
        let run_hooks = manifest
            .install_hooks
            .iter()
            .filter_map(|h| self.hooks.iter().find(|(p, _)| p == h))
            .flat_map(|(_, f)| f.run_summaries())
            .collect();
        Ok(Found {
            manifest,
            manifest_text,
            entries: self.entries,
            run_hooks,
        })
    }
}

/// The mode a file gets on disk: the archive's, without write bits. Set when the file is
/// created (the descriptor may still write), or through that descriptor once written, a file
/// needs no second pass to become read-only.
fn on_disk(mode: u32) -> u32 {
    mode & 0o555
}

/// Whether what is created under `root` gets exactly the mode asked for (0755 at most): the
/// umask clears none of those bits, and the fresh staging directory has no default ACL
/// (which replaces the umask) and no setgid bit (which directories inherit).
fn modes_are_exact(root: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if !umask_keeps(0o755) {
        return false;
    }
    let no_setgid = fs::metadata(root).is_ok_and(|m| m.mode() & 0o2000 == 0);
    let no_default_acl = matches!(
        rustix::fs::getxattr(root, "system.posix_acl_default", &mut [0u8; 0]),
        Err(rustix::io::Errno::NODATA | rustix::io::Errno::OPNOTSUPP)
    );
    no_setgid && no_default_acl
}

fn make_dir(path: &Path, exact: bool) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(path)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create the directory `{}`: {e}", path.display()),
            )
        })?;
    if exact {
        return Ok(());
    }
    fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// Creates the file of an entry: read-only at once when modes are `exact`, else private
/// until [`finish_mode`].
fn create_file(path: &Path, mode: u32, exact: bool) -> io::Result<fs::File> {
    let mode = if exact { on_disk(mode) } else { 0o600 };
    // `create_new` already refuses an existing symlink; `O_NOFOLLOW` makes it explicit.
    create_nofollow(path, mode)
}

/// Gives a file written through `file` its mode, unless it was created with it.
fn finish_mode(file: &fs::File, mode: u32, exact: bool) -> io::Result<()> {
    if exact {
        return Ok(());
    }
    file.set_permissions(std::fs::Permissions::from_mode(on_disk(mode)))
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_exact_only_where_nothing_but_the_umask_shapes_them() {
        let dir = tempfile::tempdir().unwrap();
        assert!(modes_are_exact(dir.path()));
        // A setgid directory passes its bit on to new directories.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o2755)).unwrap();
        assert!(!modes_are_exact(dir.path()));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // A default ACL replaces the umask (where the file system and setfacl have them).
        let acl = std::process::Command::new("setfacl")
            .args(["-d", "-m", "o::-"])
            .arg(dir.path())
            .status();
        if acl.is_ok_and(|s| s.success()) {
            assert!(!modes_are_exact(dir.path()));
        }
        // Either way, a file unpacked there gets the archive's mode less write bits.
        let file = dir.path().join("f");
        let exact = modes_are_exact(dir.path());
        let f = create_file(&file, 0o644, exact).unwrap();
        finish_mode(&f, 0o644, exact).unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o444);
        make_dir(&dir.path().join("d"), exact).unwrap();
        let mode = std::fs::metadata(dir.path().join("d"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o755);
    }
}
