//! `$HOME/bin`, `$HOME/lib` and `$HOME/etcetera`: links into `vir`, made at the first
//! activation. Pandora never replaces what the user has there: a real file, a non-empty
//! directory or a link elsewhere stays, and the message says how to proceed. [`show`] adds
//! the desktop's links (`desktop.rs`) after every change of the active tree.

use std::path::{Path, PathBuf};

use pandora_common::layout::Layout;
use pandora_proto::v1::SessionPathQuestion;

use super::desktop;

/// What the home shows of the active tree after a change of it.
pub(crate) struct Shown {
    /// One sentence per link that could not be made, or thing the user should know.
    pub(crate) notes: Vec<String>,
    /// Set while the user has not said whether `vir/bin` may go on the session PATH.
    pub(crate) session_path_question: Option<SessionPathQuestion>,
}

/// After the active tree changed: the links in `home` and the desktop's links under the XDG
/// data home.
pub(crate) fn show(layout: &Layout, home: &Path) -> Shown {
    let mut notes = ensure_links(layout, home);
    let desktop = desktop::sync(layout, home);
    notes.extend(desktop.notes);
    Shown {
        notes,
        session_path_question: desktop.question,
    }
}

/// The directories of `vir` that get a link in `$HOME`.
pub(crate) const LINKED: [&str; 3] = ["bin", "lib", "etcetera"];

/// Makes the missing links in `home`; returns one sentence per link it could not make.
pub(crate) fn ensure_links(layout: &Layout, home: &Path) -> Vec<String> {
    let mut notes = Vec::new();
    for dir in LINKED {
        let at = home.join(dir);
        let target = relative_to(home, &layout.vir().join(dir));
        match fs_err::symlink_metadata(&at) {
            Err(_) => {
                if let Err(e) = fs_err::os::unix::fs::symlink(&target, &at) {
                    notes.push(format!("cannot link {}: {e}", at.display()));
                }
            }
            Ok(m) if m.file_type().is_symlink() => {
                let now = fs_err::read_link(&at).ok();
                if now.as_deref() != Some(target.as_path()) {
                    notes.push(format!(
                        "{} is a link to {}, not into Pandora; add {} to PATH, or remove the link",
                        at.display(),
                        now.map_or("?".into(), |t| t.display().to_string()),
                        layout.vir().join(dir).display()
                    ));
                }
            }
            Ok(m) if m.is_dir() && is_empty(&at) => {
                let made = fs_err::remove_dir(&at)
                    .and_then(|()| fs_err::os::unix::fs::symlink(&target, &at));
                if let Err(e) = made {
                    notes.push(format!("cannot link {}: {e}", at.display()));
                }
            }
            Ok(_) => notes.push(format!(
                "{} already exists and is yours, so Pandora left it alone; add {} to PATH, or move its files away and activate again",
                at.display(),
                layout.vir().join(dir).display()
            )),
        }
    }
    notes
}

fn is_empty(dir: &Path) -> bool {
    fs_err::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// `to` relative to the directory `from` when `to` is below it, else `to` itself.
fn relative_to(from: &Path, to: &Path) -> PathBuf {
    to.strip_prefix(from)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| to.to_path_buf())
}
