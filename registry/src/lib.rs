//! pandora-registry: a Pandora registry is a directory of static files that any web server
//! can host (`config.acl`, `snapshot.acl`, `index.acl`, `index/<name>.acl`,
//! `blobs/sha256/<hex>`, and when signed `snapshot.acl.minisig`, `blobs/sha256/<hex>.minisig`,
//! `keys/<n>.acl`). [`Repo`] creates and updates such a directory atomically; [`serve`]
//! serves it over HTTP and accepts authenticated publishes.

mod repo;
mod serve;

pub use repo::keys::{Signer, default_secret_key_path, read_password};
pub use repo::{AddOutcome, CheckReport, NewKey, PackageFile, Repo, RepoError};
pub use serve::{ServeOptions, serve};
