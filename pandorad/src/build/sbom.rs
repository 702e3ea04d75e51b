//! `sbom.spdx.json`: an SPDX 2.3 document for a built package: the package with every file
//! of its payload (SHA-1, as SPDX requires, and SHA-256), its sources, its dependencies and
//! build dependencies, and how they relate. Deterministic: no wall-clock time (the creation
//! time is `SOURCE_DATE_EPOCH`), entries sorted.

use std::path::Path;

use pandora_common::files::{Manifest, Pin};
use serde_json::{Value, json};
use sha1::Digest as _;

use super::sources::Ready;

/// One file of the payload.
pub(crate) struct FileInfo {
    /// Relative to the package root (`files/bin/hello`).
    pub(crate) path: String,
    pub(crate) sha1: String,
    pub(crate) sha256: String,
}

/// Every regular file under `files_dir`, sorted, with its hashes.
pub(crate) fn payload_files(files_dir: &Path) -> std::io::Result<Vec<FileInfo>> {
    let mut out = Vec::new();
    let mut stack = vec![(files_dir.to_path_buf(), "files".to_string())];
    while let Some((dir, rel)) = stack.pop() {
        for e in fs_err::read_dir(&dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let child = format!("{rel}/{name}");
            let meta = fs_err::symlink_metadata(&path)?;
            if meta.is_dir() {
                stack.push((path, child));
            } else if meta.is_file() {
                // Streamed: a large file costs a buffer, not its size.
                let mut file = fs_err::File::open(&path)?;
                let mut sha1 = sha1::Sha1::new();
                let mut sha256 = pandora_common::hash::Hasher::new();
                let mut buf = vec![0u8; 256 << 10];
                loop {
                    let n = std::io::Read::read(&mut file, &mut buf)?;
                    if n == 0 {
                        break;
                    }
                    sha1.update(&buf[..n]);
                    sha256.update(&buf[..n]);
                }
                out.push(FileInfo {
                    path: child,
                    sha1: hex::encode(sha1.finalize()),
                    sha256: sha256.finish().sha256,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn spdx_id(kind: &str, name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-{kind}-{clean}")
}

/// RFC 3339 UTC of `epoch` seconds.
pub(crate) fn timestamp(epoch: u64) -> String {
    let days = epoch / 86_400;
    let secs = epoch % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The SPDX document, as pretty JSON.
pub(crate) fn document(
    manifest: &Manifest,
    files: &[FileInfo],
    sources: &[Ready],
    build_deps: &[(Pin, String)],
    epoch: u64,
    builder: &str,
) -> String {
    let pin = manifest.pin();
    let pkg_id = spdx_id("Package", &pin.to_string());
    // The package verification code: SHA-1 of the sorted files' SHA-1s (SPDX 2.3 §7.9).
    let mut sha1s: Vec<&str> = files.iter().map(|f| f.sha1.as_str()).collect();
    sha1s.sort_unstable();
    let code = hex::encode(sha1::Sha1::digest(sha1s.concat().as_bytes()));
    let license = if manifest.license.is_empty() {
        "NOASSERTION".to_string()
    } else {
        manifest.license.clone()
    };
    let mut packages = vec![json!({
        "SPDXID": pkg_id,
        "name": pin.name,
        "versionInfo": pin.version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": true,
        "packageVerificationCode": { "packageVerificationCodeValue": code },
        "licenseConcluded": license,
        "licenseDeclared": license,
        "copyrightText": "NOASSERTION",
        "supplier": "NOASSERTION",
        "primaryPackagePurpose": "APPLICATION",
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": pkg_id,
    })];
    let mut spdx_files = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let id = format!("SPDXRef-File-{i}");
        spdx_files.push(json!({
            "SPDXID": id,
            "fileName": format!("./{}", f.path),
            "checksums": [
                { "algorithm": "SHA1", "checksumValue": f.sha1 },
                { "algorithm": "SHA256", "checksumValue": f.sha256 },
            ],
            "licenseConcluded": "NOASSERTION",
            "copyrightText": "NOASSERTION",
        }));
        relationships.push(json!({
            "spdxElementId": pkg_id,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    for s in sources {
        let id = spdx_id("Source", &s.source.label);
        let location = match &s.source.kind {
            pandora_common::files::SourceKind::Url { url, .. } => url.clone(),
            pandora_common::files::SourceKind::Path(_) => "NOASSERTION".into(),
        };
        packages.push(json!({
            "SPDXID": id,
            "name": s.source.label,
            "downloadLocation": location,
            "filesAnalyzed": false,
            "checksums": [{ "algorithm": "SHA256", "checksumValue": s.sha256 }],
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "SOURCE",
        }));
        relationships.push(json!({
            "spdxElementId": pkg_id,
            "relationshipType": "GENERATED_FROM",
            "relatedSpdxElement": id,
        }));
    }
    let mut deps: Vec<(String, Option<&str>, &str)> = manifest
        .dependencies
        .iter()
        .map(|p| (p.to_string(), None, "DEPENDS_ON"))
        .collect();
    deps.extend(
        build_deps
            .iter()
            .map(|(p, sha)| (p.to_string(), Some(sha.as_str()), "BUILD_DEPENDENCY_OF")),
    );
    for (dep, sha, relation) in deps {
        let id = spdx_id("Dependency", &dep);
        let (name, version) = dep.split_once('@').unwrap_or((&dep, ""));
        let mut p = json!({
            "SPDXID": id,
            "name": name,
            "versionInfo": version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
        });
        if let (Some(sha), Value::Object(map)) = (sha.filter(|s| !s.is_empty()), &mut p) {
            map.insert(
                "checksums".into(),
                json!([{ "algorithm": "SHA256", "checksumValue": sha }]),
            );
        }
        packages.push(p);
        // `A BUILD_DEPENDENCY_OF B`: the dependency is the element.
        let (from, to) = if relation == "DEPENDS_ON" {
            (pkg_id.clone(), id)
        } else {
            (id, pkg_id.clone())
        };
        relationships.push(json!({
            "spdxElementId": from,
            "relationshipType": relation,
            "relatedSpdxElement": to,
        }));
    }
    let doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{pin}"),
        "documentNamespace": format!(
            "https://atlaslinux.org/spdx/pandora/{}/{}-{code}",
            pin.name, pin.version
        ),
        "creationInfo": {
            "created": timestamp(epoch),
            "creators": [format!("Tool: {builder}")],
        },
        "packages": packages,
        "files": spdx_files,
        "relationships": relationships,
    });
    let mut text = serde_json::to_string_pretty(&doc).expect("JSON of plain values");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_civil_utc() {
        assert_eq!(super::timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::timestamp(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(super::timestamp(951_782_400), "2000-02-29T00:00:00Z");
    }
}
