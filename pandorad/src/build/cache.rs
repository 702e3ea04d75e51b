//! `pandora cache export|import`: moving build cache entries between machines (for CI).
//!
//! An export is a tar file: `pandora-build-cache.acl` first, listing each entry's key, the
//! package it holds and its sha256, then one `<key>.pkg` per entry. An import checks every
//! entry before any is kept: the listed sha256, a valid package, and the key its own
//! `provenance.acl` gives (so an entry cannot claim the inputs of another build); it then
//! renames the entries it accepts into `cache/build/`.

use std::io::{Read, Write};
use std::path::Path;

use pandora_common::acl::{Block, Document, Value};
use pandora_common::layout::Layout;
use pandora_common::pkg::{self, Limits};
use pandora_proto::v1::Summary;

use crate::engine::{Events, Outcome};
use crate::error::Error;

/// The listing's name inside an export.
const LISTING: &str = "pandora-build-cache.acl";

fn bad(file: &Path, what: impl Into<String>) -> Error {
    Error::BadCacheFile {
        file: file.to_path_buf(),
        what: what.into(),
    }
}

/// Writes every build cache entry to `file`.
pub(crate) fn export(layout: &Layout, file: &Path, events: &Events) -> Outcome {
    let dir = layout.build_cache();
    let mut entries: Vec<(String, std::path::PathBuf)> = fs_err::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let key = name.strip_suffix(".pkg")?.to_string();
            Some((key, e.path()))
        })
        .collect();
    entries.sort();
    let mut listing = Block::new("BuildCache", None);
    for (key, path) in &entries {
        events.check()?;
        let found = pkg::inspect_file(path, &Limits::default()).map_err(|e| {
            Error::Usage(format!(
                "the build cache entry {} is damaged ({}); delete it and build again",
                path.display(),
                pandora_common::error_chain(&e, ": ")
            ))
        })?;
        listing.push_block(
            Block::new("Entry", Some(key.clone()))
                .with("package", Value::Str(found.manifest.pin().to_string()))
                .with("sha256", Value::Str(found.sha256)),
        );
    }
    let parent = file.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".pandora-cache-")
        .tempfile_in(parent)
        .map_err(Error::io("create a file in", parent))?;
    {
        let mut tar = tar::Builder::new(&mut tmp);
        let text = Document::new(vec![listing]).to_source();
        append(&mut tar, LISTING, text.as_bytes()).map_err(Error::io("write", file))?;
        for (key, path) in &entries {
            let bytes = fs_err::read(path).map_err(Error::io("read", path))?;
            append(&mut tar, &format!("{key}.pkg"), &bytes).map_err(Error::io("write", file))?;
        }
        tar.finish().map_err(Error::io("write", file))?;
    }
    tmp.flush().map_err(Error::io("write", file))?;
    tmp.persist(file)
        .map_err(|e| Error::io("write", file)(e.error))?;
    Ok(Summary {
        lines: vec![format!(
            "exported {} build cache entr{} to {}",
            entries.len(),
            if entries.len() == 1 { "y" } else { "ies" },
            file.display()
        )],
        counts: [("entries".to_string(), entries.len() as u64)]
            .into_iter()
            .collect(),
        ..Default::default()
    })
}

fn append(tar: &mut tar::Builder<impl Write>, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, name, bytes)
}

/// Checks every entry of the export `file`, then adds them to the build cache.
pub(crate) fn import(layout: &Layout, file: &Path, events: &Events) -> Outcome {
    let f = fs_err::File::open(file).map_err(Error::io("open", file))?;
    let mut archive = tar::Archive::new(f);
    let staging = tempfile::Builder::new()
        .prefix("cache-import-")
        .tempdir_in(layout.tmp())
        .map_err(Error::io("create a directory in", layout.tmp()))?;
    let mut listing: Option<Document> = None;
    let mut staged = Vec::new();
    for entry in archive.entries().map_err(|e| bad(file, e.to_string()))? {
        events.check()?;
        let entry = entry.map_err(|e| bad(file, e.to_string()))?;
        let name = entry
            .path()
            .map_err(|e| bad(file, e.to_string()))?
            .to_string_lossy()
            .into_owned();
        if name == LISTING {
            let mut text = String::new();
            entry
                .take(1 << 20)
                .read_to_string(&mut text)
                .map_err(|e| bad(file, e.to_string()))?;
            let doc = pandora_common::acl::parse_data(&text, LISTING)
                .map_err(|e| bad(file, e.to_string()))?;
            listing = Some(doc);
            continue;
        }
        let Some(key) = name.strip_suffix(".pkg") else {
            return Err(bad(file, format!("unexpected member `{name}`")));
        };
        if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(file, format!("`{name}` is not named by a cache key")));
        }
        let at = staging.path().join(&name);
        let mut out = fs_err::File::create(&at).map_err(Error::io("create", &at))?;
        std::io::copy(&mut entry.take(8 << 30), &mut out).map_err(Error::io("write", &at))?;
        staged.push((key.to_string(), at));
    }
    let listing = listing.ok_or_else(|| bad(file, format!("no {LISTING}")))?;
    let Some(list) = listing.block("BuildCache") else {
        return Err(bad(file, "its listing has no `BuildCache` block"));
    };
    let mut lines = Vec::new();
    let dir = layout.build_cache();
    fs_err::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
    let mut accepted = Vec::new();
    for (key, at) in &staged {
        let listed = list
            .blocks()
            .find(|b| b.label.as_ref().is_some_and(|l| l.as_str() == key))
            .and_then(|b| match b.field("sha256").map(|f| &f.value) {
                Some(Value::Str(s)) => Some(s.clone()),
                _ => None,
            })
            .ok_or_else(|| bad(file, format!("{key}.pkg is not in its listing")))?;
        let found = pkg::inspect_file(at, &Limits::default()).map_err(|e| {
            bad(
                file,
                format!("{key}.pkg: {}", pandora_common::error_chain(&e, ": ")),
            )
        })?;
        if found.sha256 != listed {
            return Err(bad(
                file,
                format!(
                    "{key}.pkg has sha256 {}, its listing says {listed}",
                    found.sha256
                ),
            ));
        }
        let provenance = crate::pkgfile::member_text(at, "provenance.acl")
            .ok_or_else(|| bad(file, format!("{key}.pkg carries no provenance.acl")))?;
        let own = super::key_of_provenance(&provenance).ok_or_else(|| {
            bad(
                file,
                format!("{key}.pkg has a provenance.acl without its inputs"),
            )
        })?;
        if &own != key {
            return Err(bad(
                file,
                format!(
                    "{key}.pkg ({}) was built from other inputs: its provenance gives the key {own}",
                    found.manifest.pin()
                ),
            ));
        }
        accepted.push((key.clone(), at.clone(), found.manifest.pin()));
    }
    for (key, at, pin) in &accepted {
        let to = dir.join(format!("{key}.pkg"));
        fs_err::rename(at, &to).map_err(Error::io("move into", &to))?;
        lines.push(format!("imported {pin} ({key})"));
    }
    lines.push(format!(
        "{} build cache entr{} imported from {}",
        accepted.len(),
        if accepted.len() == 1 { "y" } else { "ies" },
        file.display()
    ));
    Ok(Summary {
        lines,
        counts: [("entries".to_string(), accepted.len() as u64)]
            .into_iter()
            .collect(),
        ..Default::default()
    })
}
