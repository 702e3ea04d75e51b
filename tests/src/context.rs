//! The per-test context: a temporary home, the commands run in it, and the logs of every child
//! process, printed only when the test fails.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, PoisonError};

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

/// The repository's root, for `examples/`.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// The names in directory `dir`, sorted; empty when it does not exist.
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
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
    /// Runs `cmd` to its end, its output captured.
    pub fn of(cmd: &mut Command) -> Run {
        Run::from(cmd.output().expect("the command runs"))
    }

    /// The exit code and output of a finished child.
    pub fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A temporary home for one test, removed when dropped.
///
/// Every child process the harness starts writes into the context: what `run` and `client`
/// collect goes into a transcript, and daemons, servers and background commands write to log
/// files under `.test-logs/`. A passing test prints none of it; a failing one prints all of it
/// when the context is dropped during the panic.
/// A `pandora` waiting at a question (see [`Context::asking`]).
pub struct Asking {
    child: std::process::Child,
    reader: std::thread::JoinHandle<()>,
    seen: std::sync::Arc<Mutex<String>>,
}

impl Asking {
    /// Types `answers`, then returns the exit code and everything on stderr.
    pub fn answer(mut self, answers: &str) -> (Option<i32>, String) {
        use std::io::Write;
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.write_all(answers.as_bytes());
        }
        let status = self.child.wait().expect("wait for pandora");
        let _ = self.reader.join();
        let seen = self.seen.lock().map(|s| s.clone()).unwrap_or_default();
        (status.code(), seen)
    }
}

pub struct Context {
    /// The temporary directory; `HOME` points here.
    pub home: tempfile::TempDir,
    transcript: Mutex<String>,
    logs: Mutex<Vec<(String, PathBuf)>>,
}

impl Context {
    /// A fresh temporary home.
    pub fn new() -> Context {
        Context {
            home: tempfile::Builder::new()
                .prefix("pandora-test-")
                .tempdir()
                .expect("a temp dir"),
            transcript: Mutex::default(),
            logs: Mutex::default(),
        }
    }

    /// The home directory.
    pub fn path(&self) -> &Path {
        self.home.path()
    }

    /// `PANDORA_HOME` of this context.
    pub fn pandora_home(&self) -> PathBuf {
        self.path().join("pandora")
    }

    /// `pandora` with the test environment, run in the home directory.
    pub fn pandora(&self) -> Command {
        let mut cmd = Command::new(bin("pandora"));
        cmd.current_dir(self.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("PANDORA_HOME", self.pandora_home())
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env("LC_ALL", "C");
        cmd
    }

    /// `pandora ARGS` that asks as at a terminal (`PANDORA_ASK=1`), its stdin and stderr
    /// piped.
    fn asked(&self, args: &[&str]) -> Command {
        let mut cmd = self.pandora();
        cmd.env("PANDORA_NO_AUTOSTART", "1")
            .env("PANDORA_ASK", "1")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    }

    /// `pandora ARGS` asked as at a terminal (`PANDORA_ASK=1`), reading `answers` as what
    /// the user types.
    pub fn answering(&self, args: &[&str], answers: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .asked(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn pandora");
        if let Some(mut stdin) = child.stdin.take() {
            // A closed pipe means it asked less than expected; the output shows it.
            let _ = stdin.write_all(answers.as_bytes());
        }
        let run = Run::from(child.wait_with_output().expect("wait for pandora"));
        self.record(&format!("pandora {} <<< {answers:?}", args.join(" ")), &run);
        run
    }

    /// `pandora ARGS` asked as at a terminal, left waiting at its first question: the test
    /// changes the world, then [`Asking::answer`]s.
    pub fn asking(&self, args: &[&str]) -> Asking {
        use std::io::Read;
        let mut child = self
            .asked(args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn pandora");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let seen = std::sync::Arc::new(Mutex::new(String::new()));
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 256];
                while let Ok(n) = stderr.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = seen.lock() {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            })
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !seen.lock().is_ok_and(|s| s.contains("[Y/n]"))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Asking {
            child,
            reader,
            seen,
        }
    }

    /// Runs `pandora ARGS` and collects its output.
    pub fn run(&self, args: &[&str]) -> Run {
        let run = Run::of(self.pandora().args(args));
        self.record(&format!("pandora {}", args.join(" ")), &run);
        run
    }

    /// Runs `pandora ARGS` against the daemon without autostarting one.
    pub fn client(&self, args: &[&str]) -> Run {
        let run = Run::of(self.pandora().env("PANDORA_NO_AUTOSTART", "1").args(args));
        self.record(&format!("pandora {}", args.join(" ")), &run);
        run
    }

    /// `client` with `--log plain`.
    pub fn plain(&self, args: &[&str]) -> Run {
        let mut all = vec!["--log", "plain"];
        all.extend(args);
        self.client(&all)
    }

    /// Adds what `command` did to the transcript shown when the test fails.
    pub fn record(&self, command: &str, run: &Run) {
        let mut t = self
            .transcript
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = writeln!(t, "$ {command}  (exit {})", run.code);
        for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            if !text.is_empty() {
                let _ = writeln!(t, "--- {name}\n{}", text.trim_end());
            }
        }
    }

    /// A new, empty log file for a child process, printed if the test fails.
    pub fn log_file(&self, label: &str) -> PathBuf {
        let dir = self.path().join(".test-logs");
        std::fs::create_dir_all(&dir).expect("mkdir .test-logs");
        let mut logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        let path = dir.join(format!("{:02}-{label}.log", logs.len()));
        File::create(&path).expect("create a log file");
        logs.push((label.to_string(), path.clone()));
        path
    }

    /// Starts `cmd` in the background with its stdout and stderr in a new log file.
    pub fn spawn_logged(&self, cmd: &mut Command, label: &str) -> Child {
        self.spawn_into(cmd, &self.log_file(label))
    }

    /// Starts `cmd` in the background with its stdout and stderr appended to `log`, a file
    /// from [`Context::log_file`].
    pub fn spawn_into(&self, cmd: &mut Command, log: &Path) -> Child {
        cmd.stdin(Stdio::null())
            .stdout(append_to(log))
            .stderr(append_to(log))
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?} starts: {e}"))
    }

    /// Writes `text` to `rel` under the home, creating parent directories.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        path
    }
}

/// `path` opened for appending, as a child's stdout or stderr.
pub(crate) fn append_to(path: &Path) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(Stdio::from)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
}

impl Default for Context {
    fn default() -> Self {
        Context::new()
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        // Printed through the test harness's capture: shown with the failure, and only then.
        let home = self.home.path().display().to_string();
        let transcript = self
            .transcript
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if !transcript.is_empty() {
            eprintln!("==== commands run in {home}\n{transcript}");
        }
        let logs = self.logs.get_mut().unwrap_or_else(PoisonError::into_inner);
        for (label, path) in logs.iter() {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            eprintln!(
                "==== log of {label} ({})\n{}",
                path.display(),
                text.trim_end()
            );
        }
    }
}
