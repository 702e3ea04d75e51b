//! Opening a `.pkg` file and checking it whole without unpacking it, for every caller: a
//! local file named in a request, a cached blob read by `info`, a package about to be
//! published.

use std::path::Path;

use pandora_common::files::Pin;
use pandora_common::pkg::{self, Inspection, Limits};

use crate::error::{Error, Result};

/// Read buffer: archives are read sequentially, in large reads.
const BUF: usize = 1 << 20;

/// Checks the local package file at `path` (named by the user).
pub(crate) fn inspect_file(path: &Path) -> Result<Inspection> {
    let file = fs_err::File::open(path).map_err(|e| Error::CannotOpen {
        path: path.to_path_buf(),
        source: crate::error::os_error(e),
    })?;
    pkg::inspect(
        std::io::BufReader::with_capacity(BUF, file),
        &Limits::default(),
    )
    .map_err(|source| Error::InvalidFile {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

/// Checks the blob of `pin` from `origin` at `path` (a cached or in-place registry blob).
pub(crate) fn inspect_blob(path: &Path, pin: &Pin, origin: &str) -> Result<Inspection> {
    let file = fs_err::File::open(path).map_err(Error::io("open", path))?;
    pkg::inspect(
        std::io::BufReader::with_capacity(BUF, file),
        &Limits::default(),
    )
    .map_err(|source| Error::InvalidBlob {
        pin: pin.clone(),
        origin: origin.to_string(),
        source: Box::new(source),
    })
}
