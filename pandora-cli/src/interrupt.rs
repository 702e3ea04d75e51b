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
    /// Watches `path` (a file or a directory).
    pub(crate) fn new(path: &Path) -> Guard {
        static START: Once = Once::new();
        START.call_once(|| {
            let _ = std::thread::Builder::new()
                .name("signals".into())
                .spawn(watch);
        });
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

fn watch() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let code = rt.block_on(async {
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return None;
        };
        tokio::select! {
            _ = int.recv() => Some(130),
            _ = term.recv() => Some(143),
            _ = hup.recv() => Some(129),
        }
    });
    let Some(code) = code else { return };
    if let Ok(pending) = PENDING.lock() {
        for p in pending.iter() {
            let _ = fs_err::remove_dir_all(p).or_else(|_| fs_err::remove_file(p));
        }
    }
    std::process::exit(code);
}
