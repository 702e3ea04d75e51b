//! `verify`: re-hash store entries against their `files.acl` and report every changed,
//! missing or extra file. It only reads.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pandora_common::files::{FileKind, PackageArg, Pin};
use pandora_common::layout::Layout;
use pandora_proto::v1::Summary;

use crate::engine::{Events, Outcome};
use crate::error::Error;
use crate::store::{StoreView, entry};

/// What is on disk at one path.
enum Found {
    File { size: u64, exec: bool },
    Dir,
    Symlink(String),
}

fn walk(root: &Path, rel: &str, out: &mut BTreeMap<String, Found>) -> std::io::Result<()> {
    for item in fs_err::read_dir(root.join(rel))? {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if rel.is_empty() && entry::is_metadata(&path) {
            continue;
        }
        let meta = fs_err::symlink_metadata(item.path())?;
        if meta.file_type().is_symlink() {
            out.insert(
                path,
                Found::Symlink(
                    fs_err::read_link(item.path())?
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

/// Problems of the entry at `dir`, one sentence each (none: it is as installed).
pub(crate) fn problems(dir: &Path) -> Vec<String> {
    check(dir).unwrap_or_else(|e| vec![e])
}

/// Problems of one entry, one sentence each.
fn check(dir: &Path) -> Result<Vec<String>, String> {
    let chain = |e: entry::EntryError| pandora_common::error_chain(&e, ": ");
    entry::read_manifest(dir).map_err(chain)?;
    let list = entry::read_file_list(dir).map_err(chain)?;
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
                    match pandora_common::hash::hash_file(&dir.join(&rec.path)) {
                        Ok(d) if &d.sha256 == sha256 => {}
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

/// The store entries that `args` name: `NAME@VERSION`, or a bare `NAME` for every stored
/// version of it; every entry when `args` is empty.
fn targets(store: &StoreView, args: &[String]) -> Result<Vec<Pin>, Error> {
    let damaged = |d: &crate::store::Damaged| Pin {
        name: d.name.clone(),
        version: d.version.clone(),
    };
    if args.is_empty() {
        let mut all: Vec<Pin> = store.entries.iter().map(|e| e.manifest.pin()).collect();
        all.extend(store.damaged.iter().map(damaged));
        all.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| pandora_common::files::compare_versions(&a.version, &b.version))
        });
        return Ok(all);
    }
    let mut targets = Vec::new();
    for a in args {
        let bad = |source: pandora_common::files::PinError| Error::BadPackage {
            arg: a.clone(),
            source,
        };
        match PackageArg::parse(a).map_err(bad)? {
            PackageArg::Pin(pin)
                if store.get(&pin.name, &pin.version).is_some()
                    || store.damage(&pin.name, &pin.version).is_some() =>
            {
                targets.push(pin)
            }
            PackageArg::Pin(pin) => return Err(Error::NotInStore(pin)),
            PackageArg::Name(name) => {
                let before = targets.len();
                targets.extend(store.versions(&name).iter().map(|i| i.manifest.pin()));
                targets.extend(store.damaged.iter().filter(|d| d.name == name).map(damaged));
                if targets.len() == before {
                    return Err(Error::NameNotInStore(name));
                }
            }
            PackageArg::File(path) => {
                return Err(Error::Usage(format!(
                    "verify checks store entries, not files: name one as NAME or NAME@VERSION, not {}",
                    path.display()
                )));
            }
        }
    }
    Ok(targets)
}

/// Each registry's pinned keys, by its name.
type PinnedKeys = std::collections::HashMap<String, Vec<pandora_common::sign::TrustedKey>>;

/// When the entry's archive is still in the blob cache: its sha256 against the one recorded
/// at install, and its detached signature (kept beside it) against the keys pinned for the
/// registry it came from. Adds what it checked to `ran`, what is wrong to `problems`.
fn archive_checks(
    layout: &Layout,
    pinned: &PinnedKeys,
    installed: &crate::store::Installed,
    ran: &mut Vec<String>,
    problems: &mut Vec<String>,
) {
    let Some(sha) = &installed.manifest.archive_sha256 else {
        return;
    };
    let blob = layout.blob_cache().join(sha);
    if !blob.is_file() {
        return;
    }
    match pandora_common::hash::hash_file(&blob) {
        Ok(d) if d.sha256 == *sha => ran.push("cached archive sha256".into()),
        Ok(d) => {
            problems.push(format!(
                "the cached archive {} has sha256 {}, not the {sha} installed; drop it: pandora prune --cache",
                blob.display(),
                d.sha256
            ));
            return;
        }
        Err(e) => {
            problems.push(format!(
                "cannot read the cached archive {}: {e}",
                blob.display()
            ));
            return;
        }
    }
    let sig_path = layout.blob_cache().join(format!("{sha}.minisig"));
    let Ok(text) = fs_err::read_to_string(&sig_path) else {
        return;
    };
    let origin = installed.origin.as_deref().unwrap_or("local");
    let keys = pinned.get(origin).map(Vec::as_slice).unwrap_or_default();
    if keys.is_empty() {
        ran.push(format!(
            "archive signature not checked (registry `{origin}` has no pinned key)"
        ));
        return;
    }
    let verdict = pandora_common::sign::Detached::parse(&text).and_then(|sig| {
        let file = fs_err::File::open(&blob)
            .map_err(|e| pandora_common::sign::SignError::Read(e.to_string()))?;
        sig.verify_reader(keys, std::io::BufReader::new(file))
            .map(|k| k.id)
    });
    match verdict {
        Ok(id) => ran.push(format!("archive signature by key {id}")),
        // Signed by a key trusted once (a rotation since, or another registry's copy of the
        // same blob): nothing to check it with, which is not damage.
        Err(pandora_common::sign::SignError::UnknownKey { key, .. }) => ran.push(format!(
            "archive signature not checked (key {key} is not pinned for `{origin}` now)"
        )),
        Err(e) => problems.push(format!(
            "the cached archive's signature {}: {e}",
            sig_path.display()
        )),
    }
}

/// Verifies the store entries `args` name (every entry when empty).
pub(crate) fn verify(
    layout: &Layout,
    store: &StoreView,
    args: &[String],
    events: &Events,
) -> Outcome {
    let targets = targets(store, args)?;
    // Read once for every entry: the keys pinned per registry.
    let pinned: PinnedKeys = crate::registries::load(layout)
        .map(|l| {
            l.registries
                .into_iter()
                .filter_map(|r| {
                    let keys = pandora_common::sign::TrustedKey::parse_all(&r.trusted_keys).ok()?;
                    Some((r.name, keys))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut lines = Vec::new();
    let mut total_problems = 0u64;
    for pin in &targets {
        events.check()?;
        let _task = events.task("verify", &pin.to_string(), 0);
        let dir = layout.store_entry(&pin.name, &pin.version);
        let mut ran = vec!["files".to_string()];
        let problems = match store.damage(&pin.name, &pin.version) {
            Some(reason) => vec![format!(
                "damaged: {reason}; replace it: pandora install --repair {pin}"
            )],
            None => {
                let mut found = problems(&dir);
                if let Some(installed) = store.get(&pin.name, &pin.version) {
                    archive_checks(layout, &pinned, installed, &mut ran, &mut found);
                }
                found
            }
        };
        if problems.is_empty() {
            lines.push(format!("ok {pin} (checked: {})", ran.join(", ")));
        } else {
            let subject = pin.to_string();
            for p in &problems {
                events.warn(
                    "verify-problem",
                    &subject,
                    format!("{pin}: {p}"),
                    &[("package", &subject), ("problem", p)],
                );
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
