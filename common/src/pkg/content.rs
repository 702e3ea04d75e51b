//! What the packer and the unpacker check inside the files a package carries besides its
//! payload: the install hooks the manifest names must be valid hook files, `provenance.acl`
//! valid ACL, and `sbom.spdx.json` an SPDX JSON document. Both sides run the same checks, so
//! an archive `pandora pack` writes is never refused at install for its content.

use super::error::ContentError;
use crate::acl;
use crate::files::{FileError, HookFile, Manifest};

/// The provenance statement at the package root.
pub(crate) const PROVENANCE: &str = "provenance.acl";
/// The software bill of materials at the package root.
pub(crate) const SBOM: &str = "sbom.spdx.json";

/// Which check a file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// An install hook named by the manifest.
    Hook,
    /// `provenance.acl`.
    Provenance,
    /// `sbom.spdx.json`.
    Sbom,
}

/// The check for the regular file at package path `path`, if it gets one.
pub(crate) fn check_for(path: &str, manifest: &Manifest) -> Option<Check> {
    match path {
        PROVENANCE => Some(Check::Provenance),
        SBOM => Some(Check::Sbom),
        _ if manifest.install_hooks.iter().any(|h| h == path) => Some(Check::Hook),
        _ => None,
    }
}

/// Applies `check` to `bytes`; `origin` names the file in ACL errors (`file:line:col`).
pub(crate) fn check(check: Check, bytes: &[u8], origin: &str) -> Result<(), ContentError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ContentError::NotUtf8)?;
    match check {
        Check::Hook => HookFile::parse(text, origin)
            .map(drop)
            .map_err(ContentError::Hook),
        Check::Provenance => acl::parse(text, origin)
            .map(drop)
            .map_err(|e| ContentError::Provenance(FileError::from(e))),
        Check::Sbom => check_spdx(text),
    }
}

/// A JSON object whose `spdxVersion` is a string starting with `SPDX-`.
fn check_spdx(text: &str) -> Result<(), ContentError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(ContentError::Json)?;
    let not_spdx = |reason: String| Err(ContentError::NotSpdx { reason });
    let serde_json::Value::Object(doc) = value else {
        return not_spdx("the top level is not a JSON object".into());
    };
    match doc.get("spdxVersion") {
        None => not_spdx("no `spdxVersion` field".into()),
        Some(serde_json::Value::String(v)) if v.starts_with("SPDX-") => Ok(()),
        Some(serde_json::Value::String(v)) => not_spdx(format!(
            "`spdxVersion` is {v:?}, expected a version such as \"SPDX-2.3\""
        )),
        Some(_) => not_spdx("`spdxVersion` is not a string".into()),
    }
}
