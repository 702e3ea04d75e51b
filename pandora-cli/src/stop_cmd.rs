//! `pandora stop`: ends the daemon of this Pandora home as SIGTERM does (a mutation under way
//! stops at its next safe point, nothing is left half-written) and waits until it is gone. The
//! next command starts it again.

use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use pandora_common::layout::Layout;
use pandora_proto::v1::Summary;

use crate::output::Printer;
use crate::{Failure, Outcome};

/// How long the daemon may take to exit: a mutation stops at its next safe point, within
/// seconds.
const WAIT: Duration = Duration::from_secs(30);

pub(crate) fn run(printer: &Printer) -> Outcome {
    let layout = Layout::from_env().map_err(|e| Failure::new(e.to_string()))?;
    let path = layout.lock();
    let said = |line: String| {
        printer.summary(&Summary {
            lines: vec![line],
            ..Summary::default()
        });
        Ok(ExitCode::SUCCESS)
    };
    let mut file = match fs_err::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return said("pandorad is not running".into());
        }
        Err(e) => return Err(Failure::new(e.to_string())),
    };
    // The daemon holds `run/lock` for its whole life, and wrote its pid there.
    if !held(&file) {
        return said("pandorad is not running".into());
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| Failure::new(e.to_string()))?;
    let pid = crate::client::lock_holder(&text).ok_or_else(|| {
        Failure::new(format!(
            "{} is held but names no pid ({:?})",
            path.display(),
            text.trim()
        ))
        .hint("pandora status shows the daemon's pid")
    })?;
    let comm =
        fs_err::read_to_string(format!("/proc/{}/comm", pid.as_raw_nonzero())).unwrap_or_default();
    if comm.trim() != "pandorad" {
        return Err(Failure::new(format!(
            "{} names pid {}, which is not pandorad ({:?})",
            path.display(),
            pid.as_raw_nonzero(),
            comm.trim()
        ))
        .hint("pandora status shows the daemon's pid"));
    }
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).map_err(|e| {
        Failure::new(format!(
            "cannot stop pandorad (pid {}): {e}",
            pid.as_raw_nonzero()
        ))
    })?;
    let started = Instant::now();
    while held(&file) {
        if started.elapsed() > WAIT {
            return Err(Failure::new(format!(
                "pandorad (pid {}) was asked to stop and is still running after {} s",
                pid.as_raw_nonzero(),
                WAIT.as_secs()
            ))
            .hint(format!("kill -KILL {}", pid.as_raw_nonzero())));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    said(format!("stopped pandorad (pid {})", pid.as_raw_nonzero()))
}

/// Whether someone holds the lock on `file` (a shared lock is taken and given back at once
/// when no one does).
fn held(file: &fs_err::File) -> bool {
    match file.file().try_lock_shared() {
        Ok(()) => {
            let _ = file.file().unlock();
            false
        }
        Err(_) => true,
    }
}
