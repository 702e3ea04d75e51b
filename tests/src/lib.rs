//! Shared helpers for Pandora's end-to-end tests: the real binaries, run in a temporary home
//! with a fixed environment (`NO_COLOR=1 COLUMNS=100 LC_ALL=C`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of a workspace binary (`pandora`, ...), built by `cargo test --workspace`.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binaries live in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo test --workspace`, which builds it",
        path.display()
    );
    path
}

/// A temporary home for one test, removed when dropped.
pub struct Context {
    /// The temporary directory; `HOME` points here.
    pub home: tempfile::TempDir,
}

/// What a command did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Context {
    /// A fresh temporary home.
    pub fn new() -> Context {
        Context {
            home: tempfile::Builder::new()
                .prefix("pandora-test-")
                .tempdir()
                .expect("a temp dir"),
        }
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.home.path()
    }

    /// `pandora` with the test environment, run in the home directory.
    pub fn pandora(&self) -> Command {
        let mut cmd = Command::new(bin("pandora"));
        cmd.current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("PANDORA_HOME", self.path().join("pandora"))
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env("LC_ALL", "C");
        cmd
    }

    /// Runs `pandora ARGS` and collects its output.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.pandora().args(args).output().expect("pandora runs"))
    }

    /// Writes `text` to `rel` under the home, creating parent directories.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        path
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

/// The repository's root, for `examples/`.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}
