//! Desktop integration: what the active profile ships for the desktop and the shell is shown
//! under the XDG data home, and `vir/bin` goes on the desktop session's PATH only when the
//! user said yes.
//!
//! ```text
//! $XDG_DATA_HOME/applications/<id>.desktop             -> $PANDORA_HOME/vir/share/applications/<id>.desktop
//! $XDG_DATA_HOME/icons/<theme>/<size>/<context>/<icon> -> $PANDORA_HOME/vir/share/icons/...
//! $XDG_DATA_HOME/man/man<N>/<page>                     -> $PANDORA_HOME/vir/share/man/...
//! $XDG_DATA_HOME/bash-completion/completions/<cmd>     -> ...
//! $XDG_DATA_HOME/zsh/site-functions/_<cmd>             -> ...
//! $XDG_DATA_HOME/fish/vendor_completions.d/<cmd>.fish  -> ...
//! $XDG_CONFIG_HOME/environment.d/pandora.conf          PATH=$PANDORA_HOME/vir/bin:$PATH
//! $PANDORA_HOME/desktop.acl                            Desktop { bool session_path; }: the answer
//! ```
//!
//! One link per file rather than one per directory, because that is what the readers need:
//! a desktop entry's id is its path below `applications/` (a `pandora/` subdirectory would
//! turn `org.x.App.desktop` into `pandora-org.x.App.desktop`, which no longer matches the
//! window's app id, D-Bus activation or `mimeapps.list`); icons are looked up in
//! `icons/<theme>/<size>/<context>/`, directories the user often has already; bash-completion
//! opens `completions/<cmd>` and man-db `man<N>/` directly; and desktop file monitors and
//! icon caches notice a link appearing in a real directory, not a change behind a directory
//! link that stays the same.
//!
//! Invariants: a link is Pandora's exactly when it is a symbolic link whose target starts
//! with `$PANDORA_HOME/vir/share/`; nothing else is created over, changed or removed, and
//! what is in the way stays and is reported. Below each shown directory, a directory link
//! that is not Pandora's is the user's and is neither written through nor walked. Links go
//! through `vir`, so they follow a switch of the active tree by themselves; a file the new
//! tree lacks leaves a dangling link, and [`sync`], run after every change of the active
//! tree, removes exactly those (and the directories that removal emptied).

use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pandora_common::acl::{Block, Document, Value};
use pandora_common::layout::Layout;
use pandora_proto::v1::{SessionPathQuestion, Summary};

use crate::engine::Outcome;
use crate::error::{Error, Result};

/// The directories of `vir/share` shown under the data home, each at the same relative path.
const SHOWN: [&str; 6] = [
    "applications",
    "icons",
    "man",
    "bash-completion/completions",
    "zsh/site-functions",
    "fish/vendor_completions.d",
];

/// Files that describe a whole directory (caches and indexes its tools write): one package's
/// copy would misdescribe the user's directory, so it is not linked.
const NOT_LINKED: [&str; 3] = ["icon-theme.cache", "mimeinfo.cache", "index.db"];

/// Whether `name` (a file under `rel`, the path below the data home) is linked. Under
/// `applications/` only desktop entries and menu directories are: a package's
/// `mimeapps.list` or `defaults.list` there would choose the user's default programs.
fn linked(rel: &Path, name: &std::ffi::OsStr) -> bool {
    if NOT_LINKED.iter().any(|n| name == *n) {
        return false;
    }
    if rel.starts_with("applications") {
        let n = name.to_string_lossy();
        return n.ends_with(".desktop") || n.ends_with(".directory");
    }
    true
}

/// How deep a tree is followed; a link cycle inside a package ends here.
const MAX_DEPTH: usize = 12;

/// How many of the user's files in the way a note names; the rest are counted.
const NAMED: usize = 3;

/// The first line of the environment.d file Pandora writes; a file without it is the user's.
const SESSION_HEADER: &str =
    "# Written by Pandora: the active profile's programs on the desktop session's PATH.";

/// The XDG base directories of the user whose home is `home`.
struct Places {
    data: PathBuf,
    config: PathBuf,
}

impl Places {
    /// `$XDG_DATA_HOME` and `$XDG_CONFIG_HOME` (or their defaults) of the daemon's
    /// environment when that environment's home is `home`; else the defaults below `home`.
    fn of(home: &Path) -> Places {
        match directories::BaseDirs::new().filter(|b| b.home_dir() == home) {
            Some(b) => Places {
                data: b.data_dir().to_path_buf(),
                config: b.config_dir().to_path_buf(),
            },
            None => Places {
                data: home.join(".local/share"),
                config: home.join(".config"),
            },
        }
    }

    fn session_file(&self) -> PathBuf {
        self.config.join("environment.d/pandora.conf")
    }
}

/// Where the user's answer about the session PATH is kept.
fn decision_file(layout: &Layout) -> PathBuf {
    layout.home().join("desktop.acl")
}

/// `path` made absolute without touching the disk (links must not depend on a directory).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// What [`sync`] found.
pub(crate) struct Synced {
    /// One sentence per thing the user should know.
    pub(crate) notes: Vec<String>,
    /// Set while the user has not said whether `vir/bin` may go on the session PATH.
    pub(crate) question: Option<SessionPathQuestion>,
}

/// Brings the links under the data home of `home` in line with the active tree, then has
/// `update-desktop-database` refresh the applications directory when desktop entries came
/// or went (if that program is installed).
pub(crate) fn sync(layout: &Layout, home: &Path) -> Synced {
    let places = Places::of(home);
    let share = absolute(&layout.vir().join("share"));
    let pandora = fs_err::canonicalize(layout.home()).unwrap_or_else(|_| absolute(layout.home()));
    let mut walk = Walk {
        share: &share,
        pandora: &pandora,
        changes: 0,
        foreign: Vec::new(),
        failed: Vec::new(),
    };
    let mut refresh_applications = false;
    for dir in SHOWN {
        let (from, to) = (share.join(dir), places.data.join(dir));
        if walk.inside_pandora(&to) {
            // The user linked it into Pandora: it shows the active tree already.
            continue;
        }
        let before = walk.changes;
        walk.prune(&to, 0);
        walk.link_tree(&from, &to, 0);
        if dir == "applications" {
            refresh_applications = walk.changes != before || from.is_dir();
        }
    }
    let mut notes = walk.failed;
    for (at, target) in walk.foreign.iter().take(NAMED) {
        notes.push(format!(
            "{} already exists and is yours, so Pandora left it alone (the active profile's is {})",
            at.display(),
            target.display()
        ));
    }
    if walk.foreign.len() > NAMED {
        notes.push(format!(
            "{} more of your files stand where Pandora would link into {}; they stay as they are",
            walk.foreign.len() - NAMED,
            share.display()
        ));
    }
    if refresh_applications {
        notes.extend(update_desktop_database(&places.data.join("applications")));
    }
    let exists = |p: &Path| fs_err::symlink_metadata(p).is_ok();
    let file = places.session_file();
    let question =
        (!exists(&file) && !exists(&decision_file(layout))).then(|| SessionPathQuestion {
            bin: absolute(&layout.vir().join("bin")).display().to_string(),
            file: file.display().to_string(),
        });
    Synced { notes, question }
}

/// One pass over the shown directories.
struct Walk<'a> {
    /// `$PANDORA_HOME/vir/share`, absolute: the prefix of every link of Pandora's.
    share: &'a Path,
    /// `$PANDORA_HOME`, canonical.
    pandora: &'a Path,
    /// Links made or removed.
    changes: usize,
    /// What of the user's stands where a link would go, with the link's target.
    foreign: Vec<(PathBuf, PathBuf)>,
    failed: Vec<String>,
}

impl Walk<'_> {
    fn ours(&self, target: &Path) -> bool {
        target.starts_with(self.share)
    }

    fn ours_at(&self, at: &Path) -> bool {
        fs_err::read_link(at).is_ok_and(|t| self.ours(&t))
    }

    fn inside_pandora(&self, dir: &Path) -> bool {
        fs_err::canonicalize(dir).is_ok_and(|c| c.starts_with(self.pandora))
    }

    /// Links every file below `from` (followed through the forest's links) at the same
    /// place below `to`.
    fn link_tree(&mut self, from: &Path, to: &Path, depth: usize) {
        let Ok(entries) = fs_err::read_dir(from) else {
            return;
        };
        // Below the shown directory, a directory link is the user's (or a file link of
        // Pandora's, from when the tree had a file here); the shown directory itself may be
        // a link to wherever the user keeps it.
        if let Ok(m) = fs_err::symlink_metadata(to) {
            let link = m.file_type().is_symlink();
            if link && depth > 0 && self.ours_at(to) {
                if fs_err::remove_file(to).is_ok() {
                    self.changes += 1;
                }
            } else if (link && depth > 0) || !fs_err::metadata(to).is_ok_and(|m| m.is_dir()) {
                self.foreign.push((to.to_path_buf(), from.to_path_buf()));
                return;
            }
        }
        let mut names: Vec<OsString> = entries.flatten().map(|e| e.file_name()).collect();
        names.sort();
        for name in names {
            let (src, dst) = (from.join(&name), to.join(&name));
            let Ok(meta) = fs_err::metadata(&src) else {
                continue;
            };
            if meta.is_dir() {
                if depth < MAX_DEPTH {
                    self.link_tree(&src, &dst, depth + 1);
                }
            } else if linked(src.strip_prefix(self.share).unwrap_or(&src), &name) {
                self.link(&src, &dst);
            }
        }
    }

    /// Makes `at` a link to `target` unless something of the user's is there.
    fn link(&mut self, target: &Path, at: &Path) {
        // Nothing there is the common case (a new home, a new package): tried first, it costs
        // one call instead of a look at `at` and its directory before the link.
        match fs_err::os::unix::fs::symlink(target, at) {
            Ok(()) => {
                self.changes += 1;
                return;
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.made(at, link_with_parents(target, at));
                return;
            }
            Err(e) => {
                self.made(at, Err(e));
                return;
            }
        }
        match fs_err::symlink_metadata(at) {
            Ok(m) if m.file_type().is_symlink() => {
                let now = fs_err::read_link(at).ok();
                if now.as_deref() == Some(target) {
                    return;
                }
                if !now.as_deref().is_some_and(|t| self.ours(t)) {
                    self.foreign.push((at.to_path_buf(), target.to_path_buf()));
                    return;
                }
                // Pandora's, to another file: pointed anew.
                let made = fs_err::remove_file(at)
                    .and_then(|()| fs_err::os::unix::fs::symlink(target, at));
                self.made(at, made);
            }
            Ok(_) => self.foreign.push((at.to_path_buf(), target.to_path_buf())),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.made(at, link_with_parents(target, at));
            }
            Err(e) => self.made(at, Err(e)),
        }
    }

    fn made(&mut self, at: &Path, result: std::io::Result<()>) {
        match result {
            Ok(()) => self.changes += 1,
            Err(e) => self
                .failed
                .push(format!("cannot link {}: {e}", at.display())),
        }
    }

    /// Removes Pandora's links below `dir` that dangle, and the directories that emptied;
    /// returns whether it removed anything.
    fn prune(&mut self, dir: &Path, depth: usize) -> bool {
        let Ok(entries) = fs_err::read_dir(dir) else {
            return false;
        };
        let mut removed = false;
        for e in entries.flatten() {
            let path = e.path();
            // The directory entry's own type (no `stat` per file: an icon theme of the
            // user's may hold tens of thousands).
            let Ok(kind) = e.file_type() else {
                continue;
            };
            if kind.is_symlink() {
                if self.ours_at(&path)
                    && fs_err::metadata(&path).is_err()
                    && fs_err::remove_file(&path).is_ok()
                {
                    self.changes += 1;
                    removed = true;
                }
            } else if kind.is_dir() && depth < MAX_DEPTH && self.prune(&path, depth + 1) {
                removed = true;
                if is_empty(&path) {
                    let _ = fs_err::remove_dir(&path);
                }
            }
        }
        removed
    }
}

/// Makes `at` a link to `target`, and the directories it needs.
fn link_with_parents(target: &Path, at: &Path) -> std::io::Result<()> {
    if let Some(dir) = at.parent() {
        fs_err::create_dir_all(dir)?;
    }
    fs_err::os::unix::fs::symlink(target, at)
}

fn is_empty(dir: &Path) -> bool {
    fs_err::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// Runs `update-desktop-database DIR` when it is installed, so that MIME associations follow
/// the desktop entries; its absence is no matter, its failure a note.
fn update_desktop_database(dir: &Path) -> Option<String> {
    if !dir.is_dir() {
        return None;
    }
    let out = Command::new("update-desktop-database")
        .arg(dir)
        .stdin(Stdio::null())
        .output();
    match out {
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => Some(format!("update-desktop-database did not run: {e}")),
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "update-desktop-database {} failed ({}): {}",
            dir.display(),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
    }
}

/// Puts `vir/bin` on the desktop session's PATH (`enable`) or takes Pandora's line off it,
/// and records the answer in `desktop.acl` so that activations stop asking. A file of the
/// user's at that place stays as it is.
pub(crate) fn set_session_path(layout: &Layout, home: Option<&Path>, enable: bool) -> Outcome {
    let home = home.ok_or_else(|| {
        Error::Usage("the daemon does not know your home directory: start it with HOME set".into())
    })?;
    let file = Places::of(home).session_file();
    let bin = absolute(&layout.vir().join("bin"));
    let now = match fs_err::read_to_string(&file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("read", &file)(e)),
    };
    let ours = now
        .as_deref()
        .is_some_and(|t| t.lines().next() == Some(SESSION_HEADER));
    let (f, b) = (file.display(), bin.display());
    let line = match (enable, now.is_some(), ours) {
        (true, true, false) => format!(
            "{f} is yours, so Pandora left it alone; add {b} to PATH there yourself"
        ),
        (true, ..) => {
            let text = session_text(&bin)?;
            if let Some(dir) = file.parent() {
                fs_err::create_dir_all(dir).map_err(Error::io("create", dir))?;
            }
            pandora_common::write_atomic(&file, text.as_bytes())
                .map_err(Error::io("write", &file))?;
            format!("{b} goes on your desktop session's PATH from the next login ({f})")
        }
        (false, true, true) => {
            fs_err::remove_file(&file).map_err(Error::io("remove", &file))?;
            format!("{b} leaves your desktop session's PATH from the next login ({f} removed)")
        }
        (false, true, false) => format!("{f} is yours, so Pandora left it alone"),
        (false, false, _) => "Pandora leaves your desktop session's PATH alone; to change your mind: pandora env --session on".to_string(),
    };
    let decision = decision_file(layout);
    let text = Document::new(vec![
        Block::new("Desktop", None).with("session_path", Value::Bool(enable)),
    ])
    .to_source();
    pandora_common::write_atomic(&decision, text.as_bytes())
        .map_err(Error::io("write", &decision))?;
    Ok(Summary {
        lines: vec![line],
        ..Default::default()
    })
}

/// The environment.d file: comments and one `PATH=` line (environment.d expands `$PATH`).
fn session_text(bin: &Path) -> Result<String> {
    let b = bin.display().to_string();
    // environment.d expands `$` and unescapes `\` and quotes; a path needing them is left
    // to the user rather than written wrong.
    if !b
        .chars()
        .all(|c| c.is_alphanumeric() || "/._-+@%,~".contains(c))
    {
        return Err(Error::Usage(format!(
            "{b} has characters environment.d cannot carry as they are; add it to PATH yourself"
        )));
    }
    Ok(format!(
        "{SESSION_HEADER}\n# Take it off with: pandora env --session off\nPATH={b}:$PATH\n"
    ))
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn under_applications_only_entries_and_menus_are_linked() {
        let app = Path::new("applications");
        assert!(linked(app, "org.x.App.desktop".as_ref()));
        assert!(linked(&app.join("kde"), "x.desktop".as_ref()));
        assert!(linked(app, "Games.directory".as_ref()));
        assert!(!linked(app, "mimeapps.list".as_ref()));
        assert!(!linked(app, "defaults.list".as_ref()));
        assert!(!linked(app, "mimeinfo.cache".as_ref()));
        assert!(linked(Path::new("man/man1"), "viewer.1".as_ref()));
        assert!(!linked(
            Path::new("icons/hicolor"),
            "icon-theme.cache".as_ref()
        ));
    }

    #[test]
    fn sync_links_files_and_prunes_only_its_own_dangling_links() {
        let (t, layout) = crate::testutil::home();
        // Not the daemon's HOME: the data home is `<home>/.local/share`.
        let home = t.path().join("user");
        let data = home.join(".local/share");
        let apps = layout.home().join("gen/share/icons/hicolor/16x16/apps");
        std::fs::create_dir_all(&apps).unwrap();
        std::fs::write(apps.join("a.png"), "a").unwrap();
        std::fs::write(apps.join("../../icon-theme.cache"), "cache").unwrap();
        std::fs::create_dir_all(layout.home().join("empty")).unwrap();
        symlink("gen", layout.vir()).unwrap();
        std::fs::create_dir_all(data.join("applications")).unwrap();
        symlink("/nowhere", data.join("applications/old.desktop")).unwrap();

        let synced = sync(&layout, &home);
        assert!(synced.notes.is_empty(), "{:?}", synced.notes);
        assert!(synced.question.is_some(), "nothing decided yet");
        let icon = data.join("icons/hicolor/16x16/apps/a.png");
        assert_eq!(
            std::fs::read_link(&icon).unwrap(),
            absolute(&layout.vir()).join("share/icons/hicolor/16x16/apps/a.png")
        );
        assert_eq!(std::fs::read_to_string(&icon).unwrap(), "a");
        assert!(!data.join("icons/hicolor/icon-theme.cache").exists());

        // The active tree changes: Pandora's link dangles and goes, with the directories
        // made for it; the shown directory and the user's own dangling link stay.
        std::fs::remove_file(layout.vir()).unwrap();
        symlink("empty", layout.vir()).unwrap();
        assert!(sync(&layout, &home).notes.is_empty());
        assert!(std::fs::symlink_metadata(&icon).is_err());
        assert!(!data.join("icons/hicolor").exists());
        assert!(data.join("icons").is_dir());
        assert!(std::fs::symlink_metadata(data.join("applications/old.desktop")).is_ok());
    }
}
