//! `pandorad` run by a test in the foreground.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::context::{Context, append_to, bin};

/// A `pandorad` run by a test in the foreground, killed when dropped.
pub struct Daemon {
    /// The child process.
    pub child: std::process::Child,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
}

impl Context {
    /// Starts `pandorad` in the foreground with extra environment, and waits for its socket.
    pub fn start_daemon(&self, env: &[(&str, &str)]) -> Daemon {
        std::fs::create_dir_all(self.pandora_home().join("log")).expect("mkdir");
        let log = self.log_file("pandorad");
        let mut cmd = Command::new(bin("pandorad"));
        // The desktop links go to the XDG data home: never the one of whoever runs the tests.
        cmd.env("PANDORA_HOME", self.pandora_home())
            .env("HOME", self.path())
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .stdin(std::process::Stdio::null())
            .stdout(append_to(&log))
            .stderr(append_to(&log));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("pandorad starts");
        let daemon = Daemon { child, log };
        self.wait_for_socket(&daemon);
        daemon
    }

    fn wait_for_socket(&self, daemon: &Daemon) {
        let sock = self.pandora_home().join("run/sock");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("pandorad did not listen: {}", daemon.log());
    }
}

impl Daemon {
    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().expect("wait");
        std::mem::forget(self);
        status
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
