//! Opening a `.pkg` file and checking it whole without unpacking it, for every caller in the
//! daemon: a local file named in a request, a cached blob read by `info`, a package about to
//! be published. All go through `pkg::inspect_file`, as `pandora pack --inspect` and
//! `pandora-registry add` do.

use std::path::Path;

use pandora_common::files::Pin;
use pandora_common::pkg::{self, InspectFileError, Inspection, Limits};

use crate::error::{Error, Result};

/// Checks the local package file at `path` (named by the user).
pub(crate) fn inspect_file(path: &Path) -> Result<Inspection> {
    pkg::inspect_file(path, &Limits::default()).map_err(|e| match e {
        InspectFileError::Open { path, source } => Error::CannotOpen { path, source },
        InspectFileError::Invalid { path, source } => Error::InvalidFile {
            path,
            source: Box::new(source),
        },
    })
}

/// Checks the blob of `pin` from `origin` at `path` (a cached or in-place registry blob).
pub(crate) fn inspect_blob(path: &Path, pin: &Pin, origin: &str) -> Result<Inspection> {
    pkg::inspect_file(path, &Limits::default()).map_err(|e| match e {
        InspectFileError::Open { path, source } => Error::io("open", path)(source),
        InspectFileError::Invalid { source, .. } => Error::InvalidBlob {
            pin: pin.clone(),
            origin: origin.to_string(),
            source: Box::new(source),
        },
    })
}

/// The text of `name` (a file at the package root, such as `provenance.acl`) inside the
/// package at `path`, if it has one.
pub(crate) fn member_text(path: &std::path::Path, name: &str) -> Option<String> {
    use std::io::Read;
    let file = fs_err::File::open(path).ok()?;
    let decoder = zstd::stream::read::Decoder::new(file).ok()?;
    let mut archive = tar::Archive::new(decoder);
    for entry in archive.entries().ok()? {
        let entry = entry.ok()?;
        if entry.path().ok()?.as_os_str() == name {
            let mut text = String::new();
            entry.take(32 << 20).read_to_string(&mut text).ok()?;
            return Some(text);
        }
    }
    None
}

/// `provenance.acl` as lines for `info`.
pub(crate) fn provenance_lines(text: &str) -> Vec<String> {
    use pandora_common::acl::{Block, Value};
    let Ok(doc) = pandora_common::acl::parse_data(text, "provenance.acl") else {
        return vec!["provenance.acl is not valid ACL".into()];
    };
    let Some(p) = doc.block("provenance") else {
        return Vec::new();
    };
    let field = |b: &Block, name: &str| match b.field(name).map(|f| &f.value) {
        Some(Value::Str(s)) => Some(s.clone()),
        Some(Value::Int(i)) => Some(i.to_string()),
        _ => None,
    };
    let mut out = Vec::new();
    for (key, label) in [
        ("builder", "builder"),
        ("recipe_sha256", "recipe sha256"),
        ("source_date_epoch", "SOURCE_DATE_EPOCH"),
    ] {
        if let Some(v) = field(p, key) {
            out.push(format!("{label}: {v}"));
        }
    }
    for b in p.blocks() {
        let label = b
            .label
            .as_ref()
            .map(|l| l.as_str().to_string())
            .unwrap_or_default();
        match b.name.as_str() {
            "Source" => out.push(format!(
                "source {label}: {} sha256 {}",
                field(b, "url")
                    .or_else(|| field(b, "path"))
                    .unwrap_or_default(),
                field(b, "sha256").unwrap_or_default()
            )),
            "BuildDependency" => out.push(format!(
                "build dependency {label}@{}: sha256 {}",
                field(b, "version").unwrap_or_default(),
                field(b, "sha256").unwrap_or_default()
            )),
            _ => {}
        }
    }
    out
}

/// A one-line summary of an SPDX JSON document.
pub(crate) fn sbom_summary(text: &str) -> String {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) else {
        return "not valid JSON".into();
    };
    let count = |k: &str| doc.get(k).and_then(|v| v.as_array()).map_or(0, Vec::len);
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{}: {}, {}, {}",
        doc.get("spdxVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("SPDX"),
        plural(count("files"), "file", "files"),
        plural(count("packages"), "package", "packages"),
        plural(count("relationships"), "relationship", "relationships")
    )
}
