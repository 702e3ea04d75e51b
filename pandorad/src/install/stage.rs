//! Stage one package: unpack its blob into `tmp/`, check it against what the index promised,
//! show its hooks, and write the store's metadata, leaving a complete entry for the store to
//! commit.

use std::path::Path;

use pandora_common::files::{FileKind, FileList, FileRecord, Manifest, Pin};
use pandora_common::layout::Layout;
use pandora_common::pkg::{self, EntryInfo, EntryKind, Limits, Unpacked};

use super::resolve::arch_fits;
use crate::engine::Events;
use crate::error::{Error, Result};
use crate::store::{Staged, entry};

/// What the staged package must be.
pub(crate) struct Expect<'a> {
    pub(crate) pin: &'a Pin,
    /// The archive's sha256.
    pub(crate) sha256: &'a str,
    /// The dependencies the index lists (`None` for a local file: its manifest is the truth).
    pub(crate) dependencies: Option<&'a [Pin]>,
    /// The `run` hooks the plan showed (`phase: command`); the package must have exactly
    /// these, so no hook runs that the user did not see.
    pub(crate) hooks: &'a [String],
    /// Where it came from: a registry's name, or `local`.
    pub(crate) origin: &'a str,
    /// Which signatures were verified on the way.
    pub(crate) trust: &'a crate::fetch::Trust,
}

/// How an install's unpacks run.
#[derive(Clone, Copy)]
pub(crate) struct Unpacking {
    /// Decompress on the caller's thread: for a caller that keeps the cores busy with other
    /// unpacks.
    pub(crate) same_thread: bool,
    /// Start each file's write-back as soon as it is written: the commit syncs the file
    /// system before its renames. Not where `tmp/` is on tmpfs, which has nothing to write
    /// back (a `posix_fadvise` per file for nothing).
    pub(crate) write_back: bool,
}

impl Unpacking {
    /// On one thread, with write-back wherever `tmp/` is on a disk.
    pub(crate) fn new(layout: &Layout) -> Unpacking {
        Unpacking {
            same_thread: false,
            write_back: !pandora_common::path_lives_in_memory(&layout.tmp()),
        }
    }
}

/// Unpacks the archive that `reader` yields into a staging directory. The caller checks
/// where the bytes came from (`BlobReader::finish` of `fetch`), then [`stage`] checks
/// the rest, the archive's sha256 first (so zstd's own checksum is not computed as well).
pub(crate) fn unpack(
    layout: &Layout,
    reader: impl std::io::Read + Send,
    pin: &Pin,
    origin: &str,
    events: &Events,
    how: Unpacking,
) -> Result<Unpacked> {
    let _task = events.task("unpack", &pin.to_string(), 0);
    let options = pkg::UnpackOptions {
        sha256_checked_by_caller: true,
        same_thread: how.same_thread,
        write_back_early: how.write_back,
    };
    pkg::unpack_with(reader, &layout.tmp(), &Limits::default(), options).map_err(|source| {
        if crate::error::damaged(&source) {
            Error::InvalidBlob {
                pin: pin.clone(),
                origin: origin.to_string(),
                source: Box::new(source),
            }
        } else {
            Error::Unpack {
                pin: pin.clone(),
                dir: layout.tmp(),
                source: Box::new(source),
            }
        }
    })
}

/// Unpacks the blob file at `path` (a local package, or one read in place).
pub(crate) fn unpack_file(
    layout: &Layout,
    path: &Path,
    pin: &Pin,
    origin: &str,
    events: &Events,
    how: Unpacking,
) -> Result<Unpacked> {
    let file = fs_err::File::open(path).map_err(Error::io("open", path))?;
    unpack(layout, file, pin, origin, events, how)
}

/// Checks an unpacked package against `expect`, runs its preinstall hook and writes the
/// store's metadata, leaving a complete entry for the store to commit.
pub(crate) fn stage(
    layout: &Layout,
    unpacked: Unpacked,
    expect: &Expect<'_>,
    events: &Events,
) -> Result<Staged> {
    let pin = expect.pin;
    let mismatch = |what: String| Error::Mismatch {
        pin: pin.clone(),
        origin: expect.origin.to_string(),
        what,
    };
    if unpacked.sha256 != expect.sha256 {
        return Err(mismatch(format!(
            "the archive has sha256 {}, the index says {}",
            unpacked.sha256, expect.sha256
        )));
    }
    let m = &unpacked.manifest;
    if m.name != pin.name || m.version != pin.version {
        return Err(mismatch(format!(
            "its manifest says it is {}@{}",
            m.name, m.version
        )));
    }
    if let Some(deps) = expect.dependencies {
        let mut a: Vec<String> = deps.iter().map(Pin::to_string).collect();
        let mut b: Vec<String> = m.dependencies.iter().map(Pin::to_string).collect();
        a.sort();
        b.sort();
        if a != b {
            return Err(mismatch(format!(
                "its manifest depends on [{}], the index on [{}]",
                b.join(", "),
                a.join(", ")
            )));
        }
    }
    if unpacked.run_hooks.as_slice() != expect.hooks {
        let list = |h: &[String]| {
            if h.is_empty() {
                "none".to_string()
            } else {
                h.join("; ")
            }
        };
        return Err(mismatch(format!(
            "it runs the hooks [{}], the plan showed [{}]",
            list(&unpacked.run_hooks),
            list(expect.hooks)
        )));
    }
    if !arch_fits(&m.arch) {
        return Err(Error::WrongArch {
            pin: pin.clone(),
            arch: m.arch.clone(),
            machine: std::env::consts::ARCH,
        });
    }
    // Hook files are checked by the unpacker; preinstall runs now, before anything is in the
    // store, so its failure leaves nothing installed.
    crate::hooks::run_phase(
        layout,
        unpacked.path(),
        m,
        "preinstall",
        "nothing was installed",
        events,
    )?;
    let files = FileList {
        files: unpacked
            .entries
            .iter()
            .filter(|e| !entry::is_metadata(&e.path))
            .map(record)
            .collect(),
    };
    let mut stored = Manifest {
        archive_sha256: Some(expect.sha256.to_string()),
        ..m.clone()
    };
    entry::set_origin(&mut stored, expect.origin);
    entry::set_trust(&mut stored, expect.trust);
    entry::write_metadata(unpacked.path(), &stored, &files)?;
    Ok(Staged {
        pin: pin.clone(),
        dir: unpacked.into_path(),
        files: Some(std::sync::Arc::new(files)),
    })
}

fn record(e: &EntryInfo) -> FileRecord {
    FileRecord {
        path: e.path.clone(),
        mode: e.mode,
        kind: match e.kind {
            EntryKind::File => FileKind::File {
                size: e.size,
                sha256: e.sha256.clone().unwrap_or_default(),
            },
            EntryKind::Dir => FileKind::Dir,
            EntryKind::Symlink => FileKind::Symlink {
                target: e.link_target.clone().unwrap_or_default(),
            },
        },
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::error::code;
    use crate::testutil::{home, package};

    #[test]
    fn a_package_whose_hooks_are_not_the_ones_the_plan_showed_is_refused() {
        let (t, layout) = home();
        let hook = "postinstall { string action = \"run\"; string[] command = { \"bin/x\" }; }\n";
        let pkg = package(
            t.path(),
            "sneaky",
            "1.0",
            "any",
            &[],
            &[("hooks/h.acl", hook)],
        );
        let sha = pandora_common::hash::hash_file(&pkg).unwrap().sha256;
        let pin = Pin::parse("sneaky@1.0").unwrap();
        // The registry's index said it runs nothing.
        let expect = Expect {
            pin: &pin,
            sha256: &sha,
            dependencies: Some(&[]),
            hooks: &[],
            origin: "main",
            trust: &crate::fetch::Trust::default(),
        };
        let unpacked = |events| {
            unpack_file(&layout, &pkg, &pin, "main", events, Unpacking::new(&layout)).unwrap()
        };
        let events = Events::detached();
        let e = stage(&layout, unpacked(&events), &expect, &events).unwrap_err();
        assert_eq!(e.code(), code::MISMATCH);
        assert!(
            e.to_string()
                .contains("it runs the hooks [postinstall: bin/x], the plan showed [none]"),
            "{e}"
        );
        // What it announced, it may run.
        let announced = ["postinstall: bin/x".to_string()];
        let expect = Expect {
            hooks: &announced,
            ..expect
        };
        let staged = stage(&layout, unpacked(&events), &expect, &events).unwrap();
        crate::store::discard(&staged.dir);
    }
}
