//! Where everything lives under `$PANDORA_HOME` (default `$HOME/pandora`), DESIGN.md §2.
//!
//! ```text
//! store/<name>/<version>/                 manifest.acl, files/, files.acl: read-only after install
//! vir -> profiles/<active>/current        the active tree
//! profiles/<profile>/profile.acl          requested pins, strategy, path overrides
//! profiles/<profile>/generations/<N>/     symlink forests into the store
//! profiles/<profile>/current -> generations/<N>
//! manifests/<profile>.lock                the current generation's resolved pins
//! registries.acl                          configured registries
//! keys/                                   trusted public keys
//! cache/blobs/sha256/<hex>                downloaded .pkg blobs, content-addressed
//! cache/index/<registry>/                 snapshot.acl, index files, their HTTP validators
//! cache/build/  cache/sources/sha256/     build cache and verified build sources
//! state/<name>/                           a package's writable state
//! tmp/                                    staging; garbage after a crash
//! run/sock  run/lock                      daemon socket and lock (run/ is 0700)
//! log/events.log  log/pandorad.log        events (metrics) and the autostarted daemon's log
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

    /// `log/`.
    pub fn log_dir(&self) -> PathBuf {
        self.home.join("log")
    }

    /// `log/events.log`.
    pub fn events_log(&self) -> PathBuf {
        self.log_dir().join("events.log")
    }

    /// `log/pandorad.log`: where a daemon that `pandora` started writes its log.
    pub fn daemon_log(&self) -> PathBuf {
        self.log_dir().join("pandorad.log")
    }

    /// `cache/index`.
    pub fn index_caches(&self) -> PathBuf {
        self.home.join("cache/index")
    }

    /// `cache/build`.
    pub fn build_cache(&self) -> PathBuf {
        self.home.join("cache/build")
    }

    /// `cache/sources/sha256`.
    pub fn source_cache(&self) -> PathBuf {
        self.home.join("cache/sources/sha256")
    }

    /// `state/<name>`: the only place a package's run hooks may write.
    pub fn state(&self, name: &str) -> PathBuf {
        self.home.join("state").join(name)
    }

    /// `vir`: the active tree, a link to `profiles/<active>/current`.
    pub fn vir(&self) -> PathBuf {
        self.home.join("vir")
    }

    /// `profiles/`.
    pub fn profiles(&self) -> PathBuf {
        self.home.join("profiles")
    }

    /// `profiles/<profile>`.
    pub fn profile(&self, profile: &str) -> PathBuf {
        self.profiles().join(profile)
    }

    /// `profiles/<profile>/profile.acl`.
    pub fn profile_config(&self, profile: &str) -> PathBuf {
        self.profile(profile).join("profile.acl")
    }

    /// `profiles/<profile>/generations`.
    pub fn generations(&self, profile: &str) -> PathBuf {
        self.profile(profile).join("generations")
    }

    /// `profiles/<profile>/generations/<n>`.
    pub fn generation(&self, profile: &str, n: u64) -> PathBuf {
        self.generations(profile).join(n.to_string())
    }

    /// `profiles/<profile>/generations/<n>.lock`: the lockfile of generation `n`, written
    /// before the generation appears.
    pub fn generation_lock(&self, profile: &str, n: u64) -> PathBuf {
        self.generations(profile).join(format!("{n}.lock"))
    }

    /// `profiles/<profile>/generations/<n>.profile`: the profile's request as generation `n`
    /// was built from it.
    pub fn generation_profile(&self, profile: &str, n: u64) -> PathBuf {
        self.generations(profile).join(format!("{n}.profile"))
    }

    /// `profiles/<profile>/current`, a link to the current generation.
    pub fn current(&self, profile: &str) -> PathBuf {
        self.profile(profile).join("current")
    }

    /// `manifests/`.
    pub fn manifests(&self) -> PathBuf {
        self.home.join("manifests")
    }

    /// `manifests/<profile>.lock`.
    pub fn lockfile(&self, profile: &str) -> PathBuf {
        self.manifests().join(format!("{profile}.lock"))
    }

    /// Every directory the daemon creates at start.
    pub fn dirs(&self) -> Vec<PathBuf> {
        vec![
            self.store(),
            self.tmp(),
            self.run(),
            self.blob_cache(),
            self.index_caches(),
            self.keys(),
            self.log_dir(),
            self.profiles(),
            self.manifests(),
        ]
    }
}
