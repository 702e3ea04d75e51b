//! Atomic updates of the registry directory.
//!
//! An [`Update`] stages every new file as a synced temp file in the private `stage/` directory,
//! then commits: it writes a journal naming each temp file and its target, renames them into
//! place in staging order (blobs, index files, `index.acl`, `snapshot.acl` last), syncs the
//! directories and deletes the journal. A crash before the journal leaves the old registry
//! untouched; a crash after it is rolled forward by [`recover`] under the next lock, so the
//! registry is never left between two states.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use pandora_common::hash::copy_hashed;

use super::{RepoError, io_err};

const JOURNAL: &str = "journal";
/// Where updates stage their files, under the state directory. Only updates write here, and
/// only under the lock, so anything found here outside an update is garbage.
pub(crate) const STAGE: &str = "stage";

/// Files staged for one update.
pub(crate) struct Update {
    root: PathBuf,
    state: PathBuf,
    staged: Vec<(PathBuf, String)>,
}

/// Aborts the process at a named step when `PANDORA_REGISTRY_FAILPOINT` says so, so tests can
/// prove that a crash there leaves the registry consistent.
fn failpoint(step: &str) {
    pandora_common::failpoint("PANDORA_REGISTRY_FAILPOINT", step);
}

impl Update {
    pub(crate) fn new(root: &Path, state: &Path) -> Update {
        Update {
            root: root.to_path_buf(),
            state: state.to_path_buf(),
            staged: Vec::new(),
        }
    }

    /// Writes `bytes` to a synced temp file that will become `rel` on commit.
    pub(crate) fn stage(&mut self, rel: &str, bytes: &[u8]) -> Result<(), RepoError> {
        self.stage_from(rel, bytes).map(|_| ())
    }

    /// Streams `source` into a synced temp file that will become `rel` on commit, and returns
    /// the sha256 of what it wrote; nothing is held in memory.
    pub(crate) fn stage_from(
        &mut self,
        rel: &str,
        mut source: impl Read,
    ) -> Result<String, RepoError> {
        let tmp_dir = self.state.join(STAGE);
        let tmp = tempfile::Builder::new()
            .prefix("stage-")
            .tempfile_in(&tmp_dir)
            .map_err(io_err("cannot create a temp file in", &tmp_dir))?;
        let mut file = tmp.as_file();
        let digest =
            copy_hashed(&mut source, &mut file).map_err(io_err("cannot copy into", tmp.path()))?;
        // Web servers serving the directory must be able to read what we write.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io_err("cannot chmod", tmp.path()))?;
        file.sync_all().map_err(io_err("cannot sync", tmp.path()))?;
        let (_, path) = tmp.keep().map_err(|e| RepoError::Io {
            action: "cannot keep",
            path: tmp_dir.clone(),
            source: e.error,
        })?;
        self.staged.push((path, rel.to_string()));
        Ok(digest.sha256)
    }

    /// Forgets the last staged file and removes it.
    pub(crate) fn unstage_last(&mut self) {
        if let Some((path, _)) = self.staged.pop() {
            let _ = fs_err::remove_file(path);
        }
    }

    /// Renames every staged file into place, the journal making the sequence all-or-nothing.
    pub(crate) fn commit(self) -> Result<(), RepoError> {
        let journal = self.state.join(JOURNAL);
        let text: String = self
            .staged
            .iter()
            .map(|(tmp, rel)| format!("{}\t{rel}\n", tmp.display()))
            .collect();
        let tmp_journal = self.state.join("journal.new");
        fs_err::write(&tmp_journal, text).map_err(io_err("cannot write", &tmp_journal))?;
        fs_err::File::open(&tmp_journal)
            .and_then(|f| f.sync_all())
            .map_err(io_err("cannot sync", &tmp_journal))?;
        failpoint("before-commit");
        fs_err::rename(&tmp_journal, &journal).map_err(io_err("cannot write", &journal))?;
        sync_dir(&self.state)?;
        roll_forward(&self.root, &journal)
    }
}

/// Completes an update a crash interrupted after its journal was written.
pub(crate) fn recover(root: &Path, state: &Path) -> Result<bool, RepoError> {
    let _ = fs_err::remove_file(state.join("journal.new"));
    let journal = state.join(JOURNAL);
    let recovered = journal.exists();
    if recovered {
        roll_forward(root, &journal)?;
    }
    // Staged files of an update that crashed before its journal: never referenced.
    let stage = state.join(STAGE);
    if let Ok(entries) = fs_err::read_dir(&stage) {
        for e in entries.flatten() {
            let _ = fs_err::remove_file(e.path());
        }
    }
    Ok(recovered)
}

fn roll_forward(root: &Path, journal: &Path) -> Result<(), RepoError> {
    let text = fs_err::read_to_string(journal).map_err(io_err("cannot read", journal))?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for line in text.lines() {
        let Some((tmp, rel)) = line.split_once('\t') else {
            continue;
        };
        let target = root.join(rel);
        if rel == "snapshot.acl" {
            // Everything the snapshot names is in place: make that durable first.
            for d in &dirs {
                sync_dir(d)?;
            }
            failpoint("before-snapshot");
        }
        match fs_err::rename(tmp, &target) {
            Ok(()) => {}
            // Renamed already, before the crash.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("cannot rename into", &target)(e)),
        }
        if let Some(parent) = target.parent()
            && !dirs.iter().any(|d| d == parent)
        {
            dirs.push(parent.to_path_buf());
        }
    }
    for d in &dirs {
        sync_dir(d)?;
    }
    fs_err::remove_file(journal).map_err(io_err("cannot remove", journal))
}

fn sync_dir(dir: &Path) -> Result<(), RepoError> {
    pandora_common::sync_dir(dir).map_err(io_err("cannot sync", dir))
}
