//! The daemon's side: run a [`Job`] in the helper (this very binary, `/proc/self/exe
//! sandbox …`), stream its output as log events, stop it when the request is cancelled or
//! it writes too much, and say how it ended.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{Job, PREFIX, SETUP_FAILED, TIMED_OUT};

/// The helper to run: `pandora-sandbox` beside this binary (small, so it starts fast), else
/// this binary's own `sandbox` command. `None` when this program is not `pandorad` (a test
/// harness embedding the daemon has no helper).
fn helper() -> Result<Command, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    if exe.file_name() != Some(std::ffi::OsStr::new("pandorad")) {
        return Err(format!(
            "the sandbox helper is `pandora-sandbox` or `pandorad sandbox`, and this program is {}",
            exe.display()
        ));
    }
    let beside = exe.with_file_name("pandora-sandbox");
    if beside.is_file() {
        return Ok(Command::new(beside));
    }
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg("sandbox");
    Ok(cmd)
}
use crate::engine::Events;

/// The most output (stdout and stderr together) a job may write before it is stopped.
pub(crate) const MAX_OUTPUT: usize = 1 << 20;
/// The longest line passed on; a longer one is cut into pieces of this size.
const MAX_LINE: u64 = 16 << 10;
/// What a reader sends when the output passed [`MAX_OUTPUT`] (no line holds a NUL).
const OVERFLOW: &str = "\0overflow";

/// How a job ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// It ran and exited with this status (0: success).
    Exited(i32),
    /// It ran out of time and all of it was killed.
    TimedOut,
    /// The sandbox could not be set up (the helper's message); nothing ran.
    Unavailable(String),
    /// It wrote more than [`MAX_OUTPUT`] bytes and was stopped.
    TooMuchOutput,
    /// The request was cancelled (its client left, the daemon is stopping); the job was
    /// stopped. The reason, as [`Events::check`] gives it.
    Cancelled(crate::error::Error),
}

impl Ended {
    /// How a job that ran failed, as the end of a sentence (`exited with status 3`, `ran out
    /// of time (60 s) and was killed`); `None` when it succeeded or did not run.
    pub(crate) fn failure(&self, timeout: Duration) -> Option<String> {
        match self {
            Ended::Exited(0) | Ended::Unavailable(_) | Ended::Cancelled(_) => None,
            Ended::Exited(code) => Some(format!("exited with status {code}")),
            Ended::TimedOut => Some(format!(
                "ran out of time ({} s) and was killed",
                timeout.as_secs()
            )),
            Ended::TooMuchOutput => Some(format!(
                "wrote more than {} MiB of output and was stopped",
                MAX_OUTPUT >> 20
            )),
        }
    }
}

/// Runs `job`, sending each line it prints to the client as `label: line`.
pub(crate) fn run(job: &Job, label: &str, events: &Events) -> Ended {
    let mut cmd = match helper() {
        Ok(c) => c,
        Err(reason) => return Ended::Unavailable(reason),
    };
    let mut child = match cmd
        .args(job.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_clear()
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Ended::Unavailable(format!("cannot start the sandbox helper: {e}")),
    };
    // Bounded everywhere: a line is cut at MAX_LINE bytes, the readers count every byte and
    // stop at MAX_OUTPUT, and the channel holds a few hundred lines.
    let (tx, rx) = mpsc::sync_channel::<(bool, String)>(256);
    let total = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut readers = Vec::new();
    let streams: [(bool, Option<Box<dyn Read + Send>>); 2] = [
        (
            false,
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
        (
            true,
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
    ];
    for (is_err, stream) in streams {
        let Some(stream) = stream else { continue };
        let tx = tx.clone();
        let total = total.clone();
        readers.push(std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let sofar = total.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
                if sofar > MAX_OUTPUT {
                    let _ = tx.send((is_err, OVERFLOW.to_string()));
                    break;
                }
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                let text = String::from_utf8_lossy(&line).into_owned();
                if tx.send((is_err, text)).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);
    let mut lines = 0usize;
    let mut own = Vec::new();
    let mut stopped: Option<Ended> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok((_, line)) if line == OVERFLOW => {
                stopped = Some(Ended::TooMuchOutput);
                break;
            }
            Ok((is_err, line)) => {
                if is_err && let Some(rest) = line.strip_prefix(PREFIX) {
                    if own.len() < 16 {
                        own.push(rest.trim().to_string());
                    }
                    continue;
                }
                events.info(format!("{label}: {line}"));
                lines += 1;
                if lines.is_multiple_of(256)
                    && let Err(e) = events.check()
                {
                    stopped = Some(Ended::Cancelled(e));
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(e) = events.check() {
                    stopped = Some(Ended::Cancelled(e));
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if let Some(ended) = stopped {
        // Killing the helper ends the job: its init dies with it (parent-death signal), and
        // with the init the whole pid namespace.
        let _ = child.kill();
        let _ = child.wait();
        return ended;
    }
    for r in readers {
        let _ = r.join();
    }
    let status = match child.wait() {
        Ok(s) => s,
        Err(e) => return Ended::Unavailable(format!("cannot wait for the sandbox helper: {e}")),
    };
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) if c == i32::from(SETUP_FAILED) && !own.is_empty() => {
            Ended::Unavailable(own.join("; "))
        }
        (Some(c), _) if c == i32::from(TIMED_OUT) && !own.is_empty() => Ended::TimedOut,
        (Some(c), _) => Ended::Exited(c),
        (None, Some(sig)) => Ended::Exited(128 + sig),
        _ => Ended::Exited(1),
    }
}
