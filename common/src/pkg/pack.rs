//! Deterministic packing of a source tree into a `.pkg`.
//!
//! The archive's bytes depend only on the tree's paths, contents, symlink targets and exec
//! bits: entries are sorted by path bytes (`manifest.acl` first), every header is built here
//! with fixed metadata, and zstd runs at a fixed level on one thread.

use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use fs_err as fs;
use tar::{EntryType, Header};

use super::content::{self, check_for};
use super::entry::EntryKind;
use super::error::{ContentError, PackError, Violation};
use super::limits::Limits;
use super::open::open_nofollow;
use super::path_rules::{MANIFEST, Tree, check_link_target, check_path, is_top_level};
use crate::files::Manifest;
use crate::hash::HashingWriter;

/// The zstd level every published archive is compressed with.
pub const ARCHIVE_ZSTD_LEVEL: i32 = 19;

/// How to pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackOptions {
    /// mtime of every entry, seconds since the epoch (`SOURCE_DATE_EPOCH`, default 0).
    pub source_date_epoch: u64,
    /// zstd level; [`ARCHIVE_ZSTD_LEVEL`] unless a test or benchmark wants speed.
    pub level: i32,
}

impl Default for PackOptions {
    fn default() -> Self {
        PackOptions {
            source_date_epoch: 0,
            level: ARCHIVE_ZSTD_LEVEL,
        }
    }
}

/// What [`pack`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackReport {
    /// Package name from the manifest.
    pub name: String,
    /// Version from the manifest.
    pub version: String,
    /// `<name>-<version>.pkg`.
    pub file_name: String,
    /// sha256 of the archive, lowercase hex.
    pub sha256: String,
    /// Size of the archive in bytes.
    pub compressed_size: u64,
    /// Size of the tar stream before compression.
    pub tar_size: u64,
    /// Number of entries (files, directories, symlinks), manifest included.
    pub entries: usize,
}

/// An archive [`pack_to_dir`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedFile {
    /// `<out_dir>/<name>-<version>.pkg`.
    pub path: PathBuf,
    /// What was written.
    pub report: PackReport,
}

struct SrcEntry {
    rel: String,
    abs: PathBuf,
    kind: EntryKind,
    exec: bool,
    size: u64,
    target: Option<String>,
}

/// Packs the tree at `src_dir` (`manifest.acl`, `files/`, optional `hooks/`,
/// `sbom.spdx.json`, `provenance.acl`) into `out`. The same tree always gives the same bytes,
/// whatever its mtimes, owners, non-exec permission bits, creation order or the current
/// directory.
pub fn pack(
    src_dir: &Path,
    out: &mut impl Write,
    opts: &PackOptions,
) -> Result<PackReport, PackError> {
    let (manifest, entries) = scan(src_dir)?;
    let file_name = format!("{}-{}.pkg", manifest.name, manifest.version);
    let sane = |s: &str| !s.is_empty() && !s.contains(['/', '\0']);
    if !sane(&manifest.name) || !sane(&manifest.version) || file_name.starts_with('.') {
        return Err(PackError::BadFileName {
            name: manifest.name,
            version: manifest.version,
        });
    }
    let write_err = |source| PackError::Write { path: None, source };
    let hashing = HashingWriter::new(out);
    let mut encoder = zstd::stream::write::Encoder::new(hashing, opts.level).map_err(write_err)?;
    encoder.include_checksum(true).map_err(write_err)?;
    let mut builder = tar::Builder::new(CountWriter {
        inner: encoder,
        count: 0,
    });
    for entry in &entries {
        append(&mut builder, entry, opts.source_date_epoch)?;
    }
    let counted = builder.into_inner().map_err(write_err)?;
    let (digest, out) = counted.inner.finish().map_err(write_err)?.finish();
    out.flush().map_err(write_err)?;
    // The unpacker refuses archives that expand too much (decompression bombs); a package
    // that would trip that rule is refused here, where its author can still change it.
    let limits = Limits::default();
    if counted.count > limits.ratio_floor && counted.count / digest.size.max(1) > limits.max_ratio {
        return Err(PackError::Limit {
            violation: Violation::RatioTooHigh {
                max: limits.max_ratio,
            },
        });
    }
    Ok(PackReport {
        name: manifest.name,
        version: manifest.version,
        file_name,
        sha256: digest.sha256,
        compressed_size: digest.size,
        tar_size: counted.count,
        entries: entries.len(),
    })
}

/// Packs `src_dir` into `<out_dir>/<name>-<version>.pkg` through a synced temporary file and a
/// rename, so the file is either complete or absent.
pub fn pack_to_dir(
    src_dir: &Path,
    out_dir: &Path,
    opts: &PackOptions,
) -> Result<PackedFile, PackError> {
    let write_err = |path: &Path| {
        let path = Some(path.to_path_buf());
        move |source| PackError::Write { path, source }
    };
    // Created 0666 so that the umask decides, as for any file a command writes; a temp file
    // would otherwise stay 0600.
    let tmp = tempfile::Builder::new()
        .prefix(".pack-")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(out_dir)
        .map_err(write_err(out_dir))?;
    let mut out = io::BufWriter::with_capacity(1 << 20, tmp);
    let report = pack(src_dir, &mut out, opts)?;
    let tmp = out
        .into_inner()
        .map_err(|e| write_err(out_dir)(e.into_error()))?;
    tmp.as_file().sync_all().map_err(write_err(tmp.path()))?;
    let path = out_dir.join(&report.file_name);
    tmp.persist(&path).map_err(|e| write_err(&path)(e.error))?;
    Ok(PackedFile { path, report })
}

fn append<W: Write>(
    builder: &mut tar::Builder<W>,
    entry: &SrcEntry,
    mtime: u64,
) -> Result<(), PackError> {
    let write_err = |source| PackError::Write { path: None, source };
    let mut header = Header::new_gnu();
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    header.set_size(0);
    match entry.kind {
        EntryKind::Dir => {
            header.set_entry_type(EntryType::Directory);
            header.set_mode(0o755);
            builder
                .append_data(&mut header, &entry.rel, io::empty())
                .map_err(write_err)
        }
        EntryKind::Symlink => {
            header.set_entry_type(EntryType::Symlink);
            header.set_mode(0o777);
            let target = entry.target.as_deref().unwrap_or_default();
            builder
                .append_link(&mut header, &entry.rel, target)
                .map_err(write_err)
        }
        EntryKind::File => {
            header.set_entry_type(EntryType::Regular);
            header.set_mode(if entry.exec { 0o755 } else { 0o644 });
            header.set_size(entry.size);
            let read_err = |source| PackError::Read {
                path: entry.abs.clone(),
                source,
            };
            let changed = || PackError::Changed {
                path: entry.abs.clone(),
            };
            let mut file = open_nofollow(&entry.abs).map_err(read_err)?;
            let meta = file.metadata().map_err(read_err)?;
            if !meta.is_file() || meta.len() != entry.size {
                return Err(changed());
            }
            let mut data = ExactReader {
                inner: (&mut file).take(entry.size),
                left: entry.size,
            };
            builder
                .append_data(&mut header, &entry.rel, &mut data)
                .map_err(|e| {
                    if e.kind() == io::ErrorKind::UnexpectedEof {
                        changed()
                    } else {
                        write_err(e)
                    }
                })?;
            if file.read(&mut [0u8; 1]).map_err(read_err)? != 0 {
                return Err(changed());
            }
            Ok(())
        }
    }
}

/// Reads the manifest and the tree, and checks them as the unpacker will.
fn scan(src: &Path) -> Result<(Manifest, Vec<SrcEntry>), PackError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PackError::Read { path, source }
    };
    let manifest_path = src.join(MANIFEST);
    match fs::symlink_metadata(&manifest_path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            let violation = Violation::WrongKind {
                expected: "a regular file",
            };
            return Err(PackError::Entry {
                path: manifest_path,
                violation,
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(PackError::NoManifest { path: src.into() });
        }
        Err(e) => return Err(read_err(&manifest_path)(e)),
    }
    let text = fs::read_to_string(&manifest_path).map_err(read_err(&manifest_path))?;
    let origin = manifest_path.display().to_string();
    let manifest = Manifest::parse(&text, &origin).map_err(|source| PackError::Manifest {
        path: manifest_path.clone(),
        source,
    })?;
    if !src.join("files").is_dir() {
        return Err(PackError::NoFiles { path: src.into() });
    }

    let mut entries = Vec::new();
    walk(src, "", &mut entries)?;
    // `manifest.acl` first, then byte order.
    entries.sort_by(|a, b| {
        (a.rel != MANIFEST, a.rel.as_bytes()).cmp(&(b.rel != MANIFEST, b.rel.as_bytes()))
    });

    let limits = Limits::default();
    let mut tree = Tree::default();
    for entry in &entries {
        let fail = |violation| PackError::Entry {
            path: entry.abs.clone(),
            violation,
        };
        check_path(entry.rel.as_bytes(), entry.kind, &limits).map_err(fail)?;
        if let Some(target) = &entry.target {
            check_link_target(target.as_bytes(), &limits).map_err(fail)?;
        }
        tree.add(&entry.rel, entry.kind, entry.target.as_deref())
            .map_err(fail)?;
    }
    tree.check_links()
        .map_err(|(rel, violation)| PackError::Entry {
            path: src.join(rel),
            violation,
        })?;
    if let Some(hook) = manifest.install_hooks.iter().find(|h| !tree.is_file(h)) {
        return Err(PackError::Entry {
            path: src.join(hook),
            violation: Violation::MissingHook,
        });
    }
    check_size(&entries, &limits)?;
    for entry in entries.iter().filter(|e| e.kind == EntryKind::File) {
        if let Some(check) = check_for(&entry.rel, &manifest) {
            check_content(entry, check, &limits)?;
        }
    }
    Ok((manifest, entries))
}

/// Refuses a tree whose archive would hold more tar headers or bytes than the unpacker
/// accepts, before anything is compressed (a sparse 9 GiB file costs nothing to find).
fn check_size(entries: &[SrcEntry], limits: &Limits) -> Result<(), PackError> {
    const BLOCK: u64 = 512;
    let blocks = |n: u64| n.div_ceil(BLOCK) * BLOCK;
    // The end-of-archive marker.
    let mut bytes = 2 * BLOCK;
    let mut headers = 0u64;
    for e in entries {
        headers += 1;
        bytes += BLOCK + blocks(e.size);
        // GNU long-name and long-link headers for names past the header's 100 bytes.
        for long in [Some(e.rel.as_str()), e.target.as_deref()]
            .into_iter()
            .flatten()
        {
            if long.len() >= 100 {
                headers += 1;
                bytes += BLOCK + blocks(long.len() as u64 + 1);
            }
        }
    }
    if headers > limits.max_entries {
        return Err(PackError::Limit {
            violation: Violation::TooManyEntries {
                max: limits.max_entries,
            },
        });
    }
    if bytes > limits.max_total_size {
        return Err(PackError::Limit {
            violation: Violation::TooLarge {
                max: limits.max_total_size,
            },
        });
    }
    Ok(())
}

/// Reads a hook, `provenance.acl` or `sbom.spdx.json` and checks it as the unpacker will.
fn check_content(
    entry: &SrcEntry,
    check: content::Check,
    limits: &Limits,
) -> Result<(), PackError> {
    let fail = |source| PackError::Content {
        path: entry.abs.clone(),
        source,
    };
    let read_err = |source| PackError::Read {
        path: entry.abs.clone(),
        source,
    };
    let max = limits.max_metadata_size;
    if entry.size > max {
        return Err(fail(ContentError::TooLarge {
            size: entry.size,
            max,
        }));
    }
    let mut bytes = Vec::new();
    open_nofollow(&entry.abs)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .map_err(read_err)?;
    if bytes.len() as u64 > max {
        return Err(fail(ContentError::TooLarge {
            size: bytes.len() as u64,
            max,
        }));
    }
    content::check(check, &bytes, &entry.abs.display().to_string()).map_err(fail)
}

/// Lists `dir` (the source root when `rel` is empty) recursively, without following symlinks.
fn walk(dir: &Path, rel: &str, out: &mut Vec<SrcEntry>) -> Result<(), PackError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PackError::Read { path, source }
    };
    for dirent in fs::read_dir(dir).map_err(read_err(dir))? {
        let dirent = dirent.map_err(read_err(dir))?;
        let abs = dirent.path();
        let Some(name) = dirent.file_name().to_str().map(str::to_string) else {
            return Err(PackError::Entry {
                path: abs,
                violation: Violation::NotUtf8,
            });
        };
        if rel.is_empty() && !is_top_level(&name) {
            return Err(PackError::Entry {
                path: abs,
                violation: Violation::UnknownTopLevel,
            });
        }
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let meta = fs::symlink_metadata(&abs).map_err(read_err(&abs))?;
        let file_type = meta.file_type();
        let mut entry = SrcEntry {
            rel: child,
            abs,
            kind: EntryKind::File,
            exec: false,
            size: 0,
            target: None,
        };
        if file_type.is_dir() {
            entry.kind = EntryKind::Dir;
            let (abs, rel) = (entry.abs.clone(), entry.rel.clone());
            out.push(entry);
            walk(&abs, &rel, out)?;
            continue;
        } else if file_type.is_symlink() {
            let target = fs::read_link(&entry.abs).map_err(read_err(&entry.abs))?;
            let Some(target) = target.to_str().map(str::to_string) else {
                let violation = Violation::BadLinkTarget {
                    target: target.display().to_string(),
                    why: "not valid UTF-8",
                };
                return Err(PackError::Entry {
                    path: entry.abs,
                    violation,
                });
            };
            entry.kind = EntryKind::Symlink;
            entry.target = Some(target);
        } else if file_type.is_file() {
            entry.exec = meta.permissions().mode() & 0o111 != 0;
            entry.size = meta.len();
        } else {
            let kind = if file_type.is_fifo() {
                "fifo"
            } else if file_type.is_socket() {
                "socket"
            } else if file_type.is_char_device() {
                "character device"
            } else if file_type.is_block_device() {
                "block device"
            } else {
                "special file"
            };
            return Err(PackError::Entry {
                path: entry.abs,
                violation: Violation::Special { kind: kind.into() },
            });
        }
        out.push(entry);
    }
    Ok(())
}

/// Passes `inner` on and fails with `UnexpectedEof` if it ends before `left` bytes.
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while being packed",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Counts the bytes it passes on.
struct CountWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
