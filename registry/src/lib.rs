//! pandora-registry: a Pandora registry is a directory of static files that any web server
//! can host (`config.acl`, `snapshot.acl`, `index.acl`, `index/<name>.acl`,
//! `blobs/sha256/<hex>`). [`Repo`] creates and updates such a directory atomically; [`serve`]
//! serves it over HTTP and accepts authenticated publishes.

mod repo;
mod serve;

pub use repo::{AddOutcome, CheckReport, Repo, RepoError};
pub use serve::{ServeOptions, serve};
