//! `verify`: re-hash store entries against their `files.acl` and report every changed,
//! missing or extra file. It only reads.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pandora_common::files::{FileKind, FileList, Pin};
use pandora_common::layout::Layout;
use pandora_proto::v1::Summary;
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::daemon::fail;
use crate::engine::{Events, Outcome};
use crate::store::StoreView;

/// What is on disk at one path.
enum Found {
    File { size: u64, exec: bool },
    Dir,
    Symlink(String),
}

fn walk(root: &Path, rel: &str, out: &mut BTreeMap<String, Found>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if rel.is_empty() && (path == "manifest.acl" || path == "files.acl") {
            continue;
        }
        let meta = std::fs::symlink_metadata(entry.path())?;
        if meta.file_type().is_symlink() {
            out.insert(
                path,
                Found::Symlink(
                    std::fs::read_link(entry.path())?
                        .to_string_lossy()
                        .into_owned(),
                ),
            );
        } else if meta.is_dir() {
            out.insert(path.clone(), Found::Dir);
            walk(root, &path, out)?;
        } else {
            out.insert(
                path,
                Found::File {
                    size: meta.len(),
                    exec: meta.permissions().mode() & 0o111 != 0,
                },
            );
        }
    }
    Ok(())
}

fn sha256_of(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// Problems of one entry, one sentence each.
fn check(dir: &Path) -> Result<Vec<String>, String> {
    let list_path = dir.join("files.acl");
    let text = std::fs::read_to_string(&list_path)
        .map_err(|e| format!("files.acl cannot be read: {e}"))?;
    let list = FileList::parse(&text, &list_path.display().to_string())
        .map_err(|e| format!("files.acl is damaged: {e}"))?;
    let mut found = BTreeMap::new();
    walk(dir, "", &mut found).map_err(|e| format!("cannot read the entry: {e}"))?;
    let mut problems = Vec::new();
    for rec in &list.files {
        let Some(now) = found.remove(&rec.path) else {
            problems.push(format!("missing: {}", rec.path));
            continue;
        };
        match (&rec.kind, now) {
            (FileKind::File { size, sha256 }, Found::File { size: got, exec }) => {
                if *size != got {
                    problems.push(format!(
                        "changed: {} ({got} bytes, installed {size})",
                        rec.path
                    ));
                } else {
                    match sha256_of(&dir.join(&rec.path)) {
                        Ok(h) if &h == sha256 => {}
                        Ok(_) => problems.push(format!("changed: {} (content differs)", rec.path)),
                        Err(e) => problems.push(format!("unreadable: {} ({e})", rec.path)),
                    }
                }
                if exec != (rec.mode & 0o111 != 0) {
                    problems.push(format!("changed: {} (executable bit)", rec.path));
                }
            }
            (FileKind::Dir, Found::Dir) => {}
            (FileKind::Symlink { target }, Found::Symlink(t)) if &t == target => {}
            (FileKind::Symlink { target }, Found::Symlink(t)) => {
                problems.push(format!(
                    "changed: {} (points to {t}, installed {target})",
                    rec.path
                ));
            }
            (_, _) => problems.push(format!("changed: {} (a different kind of file)", rec.path)),
        }
    }
    problems.extend(found.into_keys().map(|p| format!("extra: {p}")));
    Ok(problems)
}

/// Verifies `pins` (every store entry when empty).
pub(crate) fn verify(
    layout: &Layout,
    store: &StoreView,
    pins: &[String],
    events: &Events,
) -> Outcome {
    let mut targets: Vec<Pin> = Vec::new();
    if pins.is_empty() {
        targets.extend(store.entries.iter().map(|e| e.manifest.pin()));
    } else {
        for p in pins {
            let pin = Pin::parse(p)
                .map_err(|e| fail(Code::InvalidArgument, "bad-package", e.to_string(), None))?;
            if store.get(&pin.name, &pin.version).is_none() {
                return Err(fail(
                    Code::NotFound,
                    "not-found",
                    format!("{pin} is not in the store"),
                    Some("pandora list --store".into()),
                ));
            }
            targets.push(pin);
        }
    }
    let mut lines = Vec::new();
    let mut total_problems = 0u64;
    for pin in &targets {
        let _task = events.task("verify", &pin.to_string(), 0);
        let dir = layout.store_entry(&pin.name, &pin.version);
        let problems = check(&dir).unwrap_or_else(|e| vec![e]);
        if problems.is_empty() {
            lines.push(format!("ok {pin}"));
        } else {
            for p in &problems {
                events.warn(&pin.to_string(), format!("{pin}: {p}"));
            }
            lines.push(format!(
                "{pin}: {} problem{}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            ));
            total_problems += problems.len() as u64;
        }
    }
    if targets.is_empty() {
        lines.push("the store is empty".to_string());
    }
    Ok(Summary {
        lines,
        counts: [
            ("checked".to_string(), targets.len() as u64),
            ("problems".to_string(), total_problems),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    })
}
