//! Where everything lives under `$PANDORA_HOME` (default `$HOME/pandora`), DESIGN.md §2.
//!
//! ```text
//! store/<name>/<version>/      manifest.acl, files/, files.acl: read-only after install
//! cache/blobs/sha256/<hex>     downloaded .pkg blobs, content-addressed
//! cache/index/<registry>/      snapshot.acl, index files, their HTTP validators
//! registries.acl               configured registries
//! tmp/                         staging; garbage after a crash
//! run/sock  run/lock           daemon socket and lock (run/ is 0700)
//! log/events.log               install and publish events
//! ```

use std::path::{Path, PathBuf};

/// The paths of one Pandora home.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    home: PathBuf,
}

/// Neither `PANDORA_HOME` nor `HOME` is set.
#[derive(Debug, thiserror::Error)]
#[error("cannot find Pandora's home: set PANDORA_HOME or HOME")]
pub struct NoHome;

impl Layout {
    /// The layout rooted at `home`.
    pub fn new(home: impl Into<PathBuf>) -> Layout {
        Layout { home: home.into() }
    }

    /// `$PANDORA_HOME`, or `$HOME/pandora`.
    pub fn from_env() -> Result<Layout, NoHome> {
        if let Some(h) = std::env::var_os("PANDORA_HOME").filter(|h| !h.is_empty()) {
            return Ok(Layout::new(h));
        }
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or(NoHome)?;
        Ok(Layout::new(Path::new(&home).join("pandora")))
    }

    /// The root, `$PANDORA_HOME`.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// `store/`.
    pub fn store(&self) -> PathBuf {
        self.home.join("store")
    }

    /// `store/<name>/<version>`.
    pub fn store_entry(&self, name: &str, version: &str) -> PathBuf {
        self.store().join(name).join(version)
    }

    /// `tmp/`.
    pub fn tmp(&self) -> PathBuf {
        self.home.join("tmp")
    }

    /// `run/`.
    pub fn run(&self) -> PathBuf {
        self.home.join("run")
    }

    /// `run/sock`.
    pub fn socket(&self) -> PathBuf {
        self.run().join("sock")
    }

    /// `run/lock`.
    pub fn lock(&self) -> PathBuf {
        self.run().join("lock")
    }

    /// `cache/blobs/sha256`.
    pub fn blob_cache(&self) -> PathBuf {
        self.home.join("cache/blobs/sha256")
    }

    /// `cache/index/<registry>`.
    pub fn index_cache(&self, registry: &str) -> PathBuf {
        self.home.join("cache/index").join(registry)
    }

    /// `registries.acl`.
    pub fn registries(&self) -> PathBuf {
        self.home.join("registries.acl")
    }

    /// `keys/`.
    pub fn keys(&self) -> PathBuf {
        self.home.join("keys")
    }

    /// `log/events.log`.
    pub fn events_log(&self) -> PathBuf {
        self.home.join("log/events.log")
    }

    /// Every directory the daemon creates at start.
    pub fn dirs(&self) -> Vec<PathBuf> {
        vec![
            self.store(),
            self.tmp(),
            self.run(),
            self.blob_cache(),
            self.home.join("cache/index"),
            self.keys(),
            self.home.join("log"),
            self.home.join("profiles"),
            self.home.join("manifests"),
        ]
    }
}
