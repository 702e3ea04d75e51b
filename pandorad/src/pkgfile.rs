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
