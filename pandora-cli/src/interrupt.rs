//! Work in progress that a signal must not leave behind: a [`Guard`] names a path to remove
//! if SIGINT, SIGTERM or SIGHUP arrives while it lives; the process then exits with
//! 128 + the signal's number, as a shell would report it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Removes its path on a signal while it lives; dropping it forgets the path.
pub(crate) struct Guard {
    path: PathBuf,
}

impl Guard {
    /// Watches `path` (a file or a directory). The signal handlers are in place when this
    /// returns, so a signal right after it cannot slip past.
    pub(crate) fn new(path: &Path) -> Guard {
        static START: Once = Once::new();
        START.call_once(start);
        if let Ok(mut p) = PENDING.lock() {
            p.push(path.to_path_buf());
        }
        Guard {
            path: path.to_path_buf(),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(mut p) = PENDING.lock() {
            p.retain(|x| x != &self.path);
        }
    }
}

/// Registers the handlers now, then waits for a signal on a thread of its own.
fn start() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let registered = rt.block_on(async {
        Some((
            signal(SignalKind::interrupt()).ok()?,
            signal(SignalKind::terminate()).ok()?,
            signal(SignalKind::hangup()).ok()?,
        ))
    });
    let Some((mut int, mut term, mut hup)) = registered else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let code = rt.block_on(async {
                tokio::select! {
                    _ = int.recv() => 130,
                    _ = term.recv() => 143,
                    _ = hup.recv() => 129,
                }
            });
            if let Ok(pending) = PENDING.lock() {
                for p in pending.iter() {
                    let _ = fs_err::remove_dir_all(p).or_else(|_| fs_err::remove_file(p));
                }
            }
            std::process::exit(code);
        });
}
