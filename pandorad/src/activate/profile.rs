//! A profile's state on disk and its one writer.
//!
//! ```text
//! profiles/<p>/generations/<N>/          the forest (built in tmp/, renamed here)
//! profiles/<p>/generations/<N>.lock      what it holds, written before the forest appears
//! profiles/<p>/generations/<N>.profile   the request it was built from
//! profiles/<p>/current -> generations/<N>
//! vir -> profiles/<active>/current
//! manifests/<p>.lock, profiles/<p>/profile.acl    copies of the current generation's files
//! ```
//!
//! Invariant: switching `current` (one rename of a new link over the old) is the commit
//! point. A generation becomes current only complete, with its `.lock` and `.profile`
//! beside it; `manifests/<p>.lock` and `profile.acl` are rewritten from the current
//! generation after the switch, and again at every start ([`repair`]), so a crash leaves
//! the old state or the new one.
//!
//! What is synced, and why that is enough after a power loss: the `.lock` and `.profile`
//! of a new generation (file data may reach the disk after later metadata); the directory
//! holding `current` or `vir` after a switch (so a reported switch stays). Not the forest's
//! directories and links one by one: they are metadata created before the rename that
//! places the generation and the switch that names it, and journaling filesystems (ext4,
//! xfs, btrfs) commit metadata in order. Not the copies: they are derived, and [`repair`]
//! rewrites one that is stale, torn or missing.

use std::path::Path;

use pandora_common::files::{ConflictStrategy, Lockfile, Profile};
use pandora_common::layout::Layout;

use crate::error::{Error, Result};

/// The failpoint variable, shared with the store.
const FAILPOINT: &str = "PANDORA_FAILPOINT";

/// The profile used when none was ever chosen.
pub(crate) const DEFAULT: &str = "default";

/// A profile as its current generation says.
pub(crate) struct State {
    pub(crate) name: String,
    pub(crate) generation: Option<u64>,
    /// Every active package (empty before the first activation).
    pub(crate) lock: Lockfile,
    /// What was asked for, the strategy and the overrides.
    pub(crate) request: Profile,
}

/// The active profile: where `vir` points, or `default`.
pub(crate) fn active(layout: &Layout) -> String {
    fs_err::read_link(layout.vir())
        .ok()
        .and_then(|t| {
            let mut parts = t.components().rev().skip(1);
            parts
                .next()
                .and_then(|c| c.as_os_str().to_str().map(str::to_string))
        })
        .unwrap_or_else(|| DEFAULT.to_string())
}

/// The current generation of `profile`, if it has one.
pub(crate) fn current(layout: &Layout, profile: &str) -> Option<u64> {
    let target = fs_err::read_link(layout.current(profile)).ok()?;
    target.file_name()?.to_str()?.parse().ok()
}

/// The state of `profile` (an empty one if it was never activated).
pub(crate) fn state(layout: &Layout, profile: &str) -> Result<State> {
    let empty_request = || Profile {
        name: profile.to_string(),
        packages: Vec::new(),
        conflicts: ConflictStrategy::Refuse,
        overrides: Vec::new(),
        extra: Vec::new(),
    };
    let Some(n) = current(layout, profile) else {
        // Never activated: the user may still have written profile.acl by hand.
        let request = read_profile(&layout.profile_config(profile))?.unwrap_or_else(empty_request);
        return Ok(State {
            name: profile.to_string(),
            generation: None,
            lock: Lockfile {
                profile: profile.to_string(),
                generation: 0,
                packages: Vec::new(),
            },
            request,
        });
    };
    let lock_path = layout.generation_lock(profile, n);
    let text = fs_err::read_to_string(&lock_path).map_err(Error::io("read", &lock_path))?;
    let lock = Lockfile::parse(&text, &lock_path.display().to_string()).map_err(|source| {
        Error::BadConfig {
            path: lock_path.clone(),
            source: Box::new(source),
        }
    })?;
    // The user's own edits of profile.acl (strategy, overrides) count; the generation's copy
    // is the fallback.
    let request = match read_profile(&layout.profile_config(profile))? {
        Some(p) => p,
        None => read_profile(&layout.generation_profile(profile, n))?.unwrap_or_else(empty_request),
    };
    Ok(State {
        name: profile.to_string(),
        generation: Some(n),
        lock,
        request,
    })
}

fn read_profile(path: &Path) -> Result<Option<Profile>> {
    match fs_err::read_to_string(path) {
        Ok(text) => Profile::parse(&text, &path.display().to_string())
            .map(Some)
            .map_err(|source| Error::BadConfig {
                path: path.to_path_buf(),
                source: Box::new(source),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path)(e)),
    }
}

/// The number the next generation of `profile` gets.
pub(crate) fn next_generation(layout: &Layout, profile: &str) -> u64 {
    let taken = fs_err::read_dir(layout.generations(profile))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            name.split('.').next()?.parse::<u64>().ok()
        })
        .max()
        .unwrap_or(0);
    taken + 1
}

/// Makes the forest built at `staged` generation `n` of `profile` and switches to it:
/// `.lock` and `.profile` first, then the forest, then `current`, then the copies, then
/// `vir` when the profile is the active one (or none is).
pub(crate) fn commit(
    layout: &Layout,
    profile: &str,
    n: u64,
    staged: &Path,
    lock: &Lockfile,
    request: &Profile,
) -> Result<()> {
    let gens = layout.generations(profile);
    fs_err::create_dir_all(&gens).map_err(Error::io("create", &gens))?;
    write_synced(&layout.generation_lock(profile, n), &lock.to_source())?;
    write_synced(&layout.generation_profile(profile, n), &request.to_source())?;
    pandora_common::failpoint(FAILPOINT, "activate-before-generation");
    let target = layout.generation(profile, n);
    fs_err::rename(staged, &target).map_err(Error::io("move into place", &target))?;
    pandora_common::failpoint(FAILPOINT, "activate-before-switch");
    switch_link(
        &layout.current(profile),
        Path::new(&format!("generations/{n}")),
    )?;
    pandora_common::failpoint(FAILPOINT, "activate-before-copies");
    copies(layout, profile, n, false)?;
    if active(layout) == profile || fs_err::symlink_metadata(layout.vir()).is_err() {
        switch_link(
            &layout.vir(),
            &Path::new("profiles").join(profile).join("current"),
        )?;
    }
    Ok(())
}

/// Writes `manifests/<p>.lock` and `profile.acl` from generation `n`, each by a rename of a
/// new file over the old one but not synced: they are derived from the generation, and
/// [`repair`] rewrites one that a crash left old, torn or missing. With `keep_edits`, a
/// `profile.acl` that parses stays as it is: the user's edits and `profile override`s live
/// there until the next generation takes them in.
fn copies(layout: &Layout, profile: &str, n: u64, keep_edits: bool) -> Result<()> {
    for (from, to) in [
        (layout.generation_lock(profile, n), layout.lockfile(profile)),
        (
            layout.generation_profile(profile, n),
            layout.profile_config(profile),
        ),
    ] {
        if keep_edits
            && to == layout.profile_config(profile)
            && read_profile(&to).is_ok_and(|p| p.is_some())
        {
            continue;
        }
        let text = fs_err::read_to_string(&from).map_err(Error::io("read", &from))?;
        if fs_err::read_to_string(&to).ok().as_deref() != Some(text.as_str()) {
            if let Some(dir) = to.parent() {
                fs_err::create_dir_all(dir).map_err(Error::io("create", dir))?;
            }
            write_unsynced(&to, &text)?;
        }
    }
    Ok(())
}

/// At start: every profile's lockfile and profile.acl agree with its current generation,
/// and files of generations that never became complete are removed. Returns what it did.
pub(crate) fn repair(layout: &Layout) -> Vec<String> {
    let mut done = Vec::new();
    let profiles = fs_err::read_dir(layout.profiles())
        .into_iter()
        .flatten()
        .flatten();
    for p in profiles {
        let Some(profile) = p.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some(n) = current(layout, &profile) else {
            continue;
        };
        let before = fs_err::read_to_string(layout.lockfile(&profile)).ok();
        if copies(layout, &profile, n, true).is_ok()
            && before != fs_err::read_to_string(layout.lockfile(&profile)).ok()
        {
            done.push(format!(
                "rewrote the lockfile of profile `{profile}` from generation {n}"
            ));
        }
        // A `.lock` or `.profile` whose forest never arrived is from a crash.
        for e in fs_err::read_dir(layout.generations(&profile))
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some((num, _)) = name.split_once('.') else {
                continue;
            };
            if let Ok(num) = num.parse::<u64>()
                && !layout.generation(&profile, num).exists()
                && fs_err::remove_file(e.path()).is_ok()
            {
                done.push(format!(
                    "removed {} of an unfinished generation",
                    e.path().display()
                ));
            }
        }
    }
    done
}

/// Every profile that exists, sorted.
pub(crate) fn names(layout: &Layout) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(layout.profiles())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The complete generations of `profile` (forest and lockfile both there), oldest first.
pub(crate) fn generations(layout: &Layout, profile: &str) -> Vec<u64> {
    let mut numbers: Vec<u64> = fs_err::read_dir(layout.generations(profile))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .filter(|n| layout.generation_lock(profile, *n).is_file())
        .collect();
    numbers.sort_unstable();
    numbers
}

/// The lockfile of generation `n`.
pub(crate) fn generation_lock(layout: &Layout, profile: &str, n: u64) -> Result<Lockfile> {
    let path = layout.generation_lock(profile, n);
    let text = fs_err::read_to_string(&path).map_err(Error::io("read", &path))?;
    Lockfile::parse(&text, &path.display().to_string()).map_err(|source| Error::BadConfig {
        path,
        source: Box::new(source),
    })
}

/// Makes generation `n` (which exists) the current one of `profile`: one rename.
pub(crate) fn switch_generation(layout: &Layout, profile: &str, n: u64) -> Result<()> {
    switch_link(
        &layout.current(profile),
        Path::new(&format!("generations/{n}")),
    )?;
    pandora_common::failpoint(FAILPOINT, "rollback-before-copies");
    copies(layout, profile, n, false)
}

/// Makes `profile` the active one: `vir` points to its `current`.
pub(crate) fn make_active(layout: &Layout, profile: &str) -> Result<()> {
    switch_link(
        &layout.vir(),
        &Path::new("profiles").join(profile).join("current"),
    )
}

/// Removes `profile` (not the active one): one rename out of `profiles/` into `tmp/`, then
/// the deletion, then its lockfile.
pub(crate) fn delete(layout: &Layout, profile: &str) -> Result<()> {
    let dir = layout.profile(profile);
    let grave = tempfile::Builder::new()
        .prefix("profile-")
        .tempdir_in(layout.tmp())
        .map_err(Error::io("create a directory in", layout.tmp()))?;
    fs_err::rename(&dir, grave.path().join("p")).map_err(Error::io("move", &dir))?;
    let _ = pandora_common::sync_dir(&layout.profiles());
    let lock = layout.lockfile(profile);
    match fs_err::remove_file(&lock) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io("remove", &lock)(e)),
        _ => Ok(()),
    }
}

/// Points the link `at` to `target` by renaming a new link over it, then syncs the
/// directory so the switch survives a power loss once it is reported.
fn switch_link(at: &Path, target: &Path) -> Result<()> {
    let dir = at.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.new",
        at.file_name().and_then(|n| n.to_str()).unwrap_or("link")
    ));
    let _ = fs_err::remove_file(&tmp);
    fs_err::os::unix::fs::symlink(target, &tmp).map_err(Error::io("create", &tmp))?;
    fs_err::rename(&tmp, at).map_err(Error::io("switch", at))?;
    let _ = pandora_common::sync_dir(dir);
    Ok(())
}

/// Writes a generation's own file (a name nothing refers to yet) and syncs its data: file
/// data, unlike the metadata of the forest and the renames after it, may otherwise reach the
/// disk after the switch that makes the generation current.
fn write_synced(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = fs_err::File::create(path).map_err(Error::io("create", path))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_data())
        .map_err(Error::io("write", path))
}

/// Replaces `path` by a rename of a new file (keeping its permissions), without syncing.
fn write_unsynced(path: &Path, text: &str) -> Result<()> {
    pandora_common::replace_unsynced(path, text.as_bytes()).map_err(Error::io("write", path))
}
