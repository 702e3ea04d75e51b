//! The sandbox that Pandora's builds and `run` hooks execute in.
//!
//! A multithreaded daemon cannot `unshare` itself safely, so a job runs in a helper: the
//! daemon starts `pandora-sandbox [OPTIONS] -- COMMAND` (a small binary, so it starts fast;
//! `pandorad sandbox` does the same in-process for a user who wants to see what a build
//! sees), a fresh single-threaded process that:
//!
//! 1. *outer stage*: unshares new user, mount, pid, net, ipc and uts namespaces, maps the
//!    user to root inside, and starts the *init stage* (pid 1 of the new pid namespace); it
//!    kills it when the wall-clock timeout passes, which ends every process of the job;
//! 2. *init stage*: builds a tmpfs root holding only the binds the job needs (the host's
//!    `/usr`, `/bin`, `/lib*` and the loader's files read-only, the job's inputs read-only,
//!    its outputs and `/tmp` writable; nothing else of `$HOME`), a fresh `/proc`, a minimal
//!    `/dev` and `/etc`, pivots into it and makes it read-only; brings up loopback (the only
//!    network); sets the resource limits; drops every capability; sets no-new-privs; applies
//!    Landlock where the kernel has it, then the seccomp filter ([`seccomp`]); runs the
//!    command with a fixed environment, reaps whatever it leaves behind, and exits with its
//!    status.
//!
//! When the kernel refuses user namespaces, the helper says so and runs nothing: there is no
//! unsandboxed fallback.

mod cgroup;
mod seccomp;
mod setup;

use std::path::PathBuf;
use std::time::Duration;

pub use setup::{Args, main};

/// Exit status of the helper when the sandbox could not be set up (nothing ran).
pub const SETUP_FAILED: u8 = 125;
/// Exit status of the helper when the job ran out of time (all of it was killed).
pub const TIMED_OUT: u8 = 124;
/// The first word of the helper's own messages on stderr, so they are told from the job's.
pub const PREFIX: &str = "pandorad sandbox:";

/// One directory or file the job sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// On the host.
    pub source: PathBuf,
    /// Inside the sandbox (absolute).
    pub target: PathBuf,
    pub writable: bool,
}

/// What to run and what it may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub binds: Vec<Bind>,
    /// Extra environment, on top of the fixed one (`PATH`, `HOME`, `TZ=UTC`, `LC_ALL=C`,
    /// `SOURCE_DATE_EPOCH`).
    pub env: Vec<(String, String)>,
    /// The working directory inside (default `/`).
    pub cwd: PathBuf,
    /// `HOME` inside.
    pub home: PathBuf,
    /// The program and its arguments.
    pub command: Vec<String>,
    pub limits: Limits,
}

/// What a job may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time; the whole process tree is killed after it.
    pub timeout: Duration,
    /// Processes (and threads) of the job at once.
    pub processes: u64,
    /// Open files per process.
    pub open_files: u64,
    /// The largest file the job may write, in bytes.
    pub file_size: u64,
    /// Size of the writable `/tmp` (a tmpfs), in bytes.
    pub tmp_size: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout: Duration::from_secs(600),
            processes: 512,
            open_files: 1024,
            file_size: 4 << 30,
            tmp_size: 1 << 30,
        }
    }
}

impl Job {
    /// A job running `command` with no binds besides the system's, in `/`.
    pub fn new(command: Vec<String>) -> Job {
        Job {
            binds: Vec::new(),
            env: Vec::new(),
            cwd: PathBuf::from("/"),
            home: PathBuf::from("/build"),
            command,
            limits: Limits::default(),
        }
    }

    /// The helper's arguments after `pandorad sandbox`.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for b in &self.binds {
            args.push(if b.writable { "--rw" } else { "--ro" }.to_string());
            args.push(format!("{}:{}", b.source.display(), b.target.display()));
        }
        for (k, v) in &self.env {
            args.push("--setenv".into());
            args.push(format!("{k}={v}"));
        }
        let l = &self.limits;
        args.extend([
            "--chdir".to_string(),
            self.cwd.display().to_string(),
            "--home".into(),
            self.home.display().to_string(),
            "--timeout".into(),
            l.timeout.as_secs().max(1).to_string(),
            "--max-procs".into(),
            l.processes.to_string(),
            "--max-files".into(),
            l.open_files.to_string(),
            "--max-file-size".into(),
            l.file_size.to_string(),
            "--tmp-size".into(),
            l.tmp_size.to_string(),
            "--".into(),
        ]);
        args.extend(self.command.iter().cloned());
        args
    }
}

/// `SRC[:DST]` of `--ro`/`--rw`: DST defaults to SRC.
pub fn parse_bind(spec: &str, writable: bool) -> Result<Bind, String> {
    let (source, target) = match spec.split_once(':') {
        Some((s, t)) => (s, t),
        None => (spec, spec),
    };
    if !target.starts_with('/') {
        return Err(format!(
            "`{spec}`: the path inside the sandbox must be absolute"
        ));
    }
    if target.split('/').any(|p| p == "..") {
        return Err(format!("`{spec}`: the path inside may not contain `..`"));
    }
    Ok(Bind {
        source: PathBuf::from(source),
        target: PathBuf::from(target),
        writable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_parse_and_jobs_round_trip_through_arguments() {
        assert_eq!(
            parse_bind("/a/b:/build/src", false).unwrap(),
            Bind {
                source: "/a/b".into(),
                target: "/build/src".into(),
                writable: false
            }
        );
        assert_eq!(parse_bind("/x", true).unwrap().target, PathBuf::from("/x"));
        assert!(parse_bind("/x:rel", true).is_err());
        assert!(parse_bind("/x:/a/../etc", true).is_err());
        let mut job = Job::new(vec!["sh".into(), "-c".into(), "echo hi".into()]);
        job.binds.push(parse_bind("/in:/build/src", false).unwrap());
        job.env.push(("A".into(), "1".into()));
        let args = job.to_args();
        assert_eq!(args[0..2], ["--ro", "/in:/build/src"]);
        assert_eq!(args[args.len() - 4..], ["--", "sh", "-c", "echo hi"]);
    }
}
