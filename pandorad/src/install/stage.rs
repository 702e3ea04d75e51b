//! Staging one package: unpack into `tmp/`, check it against the index, write `files.acl`
//! and the store's manifest, show its hooks, and make its files read-only.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use pandora_common::files::{FileKind, FileList, FileRecord, HookAction, HookFile, Manifest, Pin};
use pandora_common::layout::Layout;
use pandora_common::pkg::{self, EntryKind, Limits};
use tonic::Code;

use super::io_fail;
use crate::daemon::fail;
use crate::engine::Events;
use crate::reads::chain;

/// Unpacks `blob` into a staging directory and checks it against what the index promised;
/// writes `files.acl` and the store's `manifest.acl`; runs the declarative hooks.
pub(super) fn stage(
    layout: &Layout,
    pin: &Pin,
    blob: &Path,
    sha: &str,
    expected_deps: Option<&Vec<Pin>>,
    origin: &str,
    events: &Events,
) -> Result<PathBuf, tonic::Status> {
    let file = std::fs::File::open(blob).map_err(|e| io_fail("open", blob, e))?;
    let _task = events.task("unpack", &pin.to_string(), 0);
    let unpacked = pkg::unpack(
        std::io::BufReader::with_capacity(1 << 20, file),
        &layout.tmp(),
        &Limits::default(),
    )
    .map_err(|e| {
        fail(
            Code::DataLoss,
            "invalid-package",
            format!(
                "{pin} from `{origin}` is not a valid package: {}",
                chain(&e)
            ),
            None,
        )
    })?;
    let bad = |what: String| {
        fail(
            Code::DataLoss,
            "mismatch",
            format!("{pin} from `{origin}`: {what}; nothing was installed"),
            None,
        )
    };
    if unpacked.sha256 != sha {
        return Err(bad(format!(
            "the archive has sha256 {}, the index says {sha}",
            unpacked.sha256
        )));
    }
    let m = &unpacked.manifest;
    if m.name != pin.name || m.version != pin.version {
        return Err(bad(format!(
            "its manifest says it is {}@{}",
            m.name, m.version
        )));
    }
    if let Some(deps) = expected_deps {
        let mut a: Vec<String> = deps.iter().map(Pin::to_string).collect();
        let mut b: Vec<String> = m.dependencies.iter().map(Pin::to_string).collect();
        a.sort();
        b.sort();
        if a != b {
            return Err(bad(format!(
                "its manifest depends on [{}], the index on [{}]",
                b.join(", "),
                a.join(", ")
            )));
        }
    }
    run_hooks(unpacked.path(), m, pin, events)?;
    let dir = unpacked.path().to_path_buf();
    let files = FileList {
        files: unpacked
            .entries
            .iter()
            .filter(|e| e.path != "manifest.acl")
            .map(|e| FileRecord {
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
            })
            .collect(),
    };
    let stored = Manifest {
        archive_sha256: Some(sha.to_string()),
        ..m.clone()
    };
    write_new(&dir.join("files.acl"), files.to_source().as_bytes())?;
    std::fs::remove_file(dir.join("manifest.acl"))
        .map_err(|e| io_fail("replace", &dir.join("manifest.acl"), e))?;
    write_new(&dir.join("manifest.acl"), stored.to_source().as_bytes())?;
    make_read_only(&dir).map_err(|e| io_fail("protect", &dir, e))?;
    let path = unpacked.into_path();
    Ok(path)
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), tonic::Status> {
    let mut f = std::fs::File::create_new(path).map_err(|e| io_fail("write", path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| io_fail("write", path, e))
}

/// `warn` and `info` hooks show their message; a `run` hook refuses the package, because
/// nothing runs outside the sandbox and the sandbox is not built yet.
fn run_hooks(root: &Path, m: &Manifest, pin: &Pin, events: &Events) -> Result<(), tonic::Status> {
    for rel in &m.install_hooks {
        let path = root.join(rel);
        let text = std::fs::read_to_string(&path).map_err(|e| io_fail("read hook", &path, e))?;
        let hooks = HookFile::parse(&text, &format!("{pin}:{rel}")).map_err(|e| {
            fail(
                Code::DataLoss,
                "invalid-package",
                format!("{pin}: invalid hook file: {e}"),
                None,
            )
        })?;
        for h in &hooks.hooks {
            if !h.phase.ends_with("install") {
                continue;
            }
            match &h.action {
                HookAction::Warn(msg) => {
                    events.warn(&pin.to_string(), format!("{pin} ({}): {msg}", h.phase))
                }
                HookAction::Info(msg) => events.info(format!("{pin} ({}): {msg}", h.phase)),
                HookAction::Run(cmd) => {
                    return Err(fail(
                        Code::FailedPrecondition,
                        "needs-sandbox",
                        format!(
                            "{pin} has a `run` hook ({rel}, {}: {}); hooks run only inside Pandora's sandbox, which is not built yet, so {pin} was not installed",
                            h.phase,
                            cmd.join(" ")
                        ),
                        None,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Store files are read-only; directories keep their owner write bit so the store can be
/// pruned later.
fn make_read_only(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            make_read_only(&entry.path())?;
        } else if ft.is_file() {
            let mode = entry.metadata()?.permissions().mode();
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode & 0o555))?;
        }
    }
    Ok(())
}

pub(super) fn make_writable(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        if entry.file_type()?.is_dir() {
            make_writable(&entry.path())?;
        } else if entry.file_type()?.is_file() {
            let mode = entry.metadata()?.permissions().mode();
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(mode | 0o200))?;
        }
    }
    Ok(())
}
