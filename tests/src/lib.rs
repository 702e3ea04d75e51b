//! Shared helpers for Pandora's end-to-end tests: the real binaries, run in a temporary home
//! with a fixed environment (`NO_COLOR=1 COLUMNS=100 LC_ALL=C`).

pub mod http;

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

/// A `pandorad` run by a test in the foreground, killed when dropped.
pub struct Daemon {
    /// The child process.
    pub child: std::process::Child,
    /// Where its stderr goes.
    pub log: PathBuf,
}

impl Context {
    /// `PANDORA_HOME` of this context.
    pub fn pandora_home(&self) -> PathBuf {
        self.path().join("pandora")
    }

    /// Starts `pandorad` in the foreground with extra environment, and waits for its socket.
    pub fn start_daemon(&self, env: &[(&str, &str)]) -> Daemon {
        std::fs::create_dir_all(self.pandora_home().join("log")).expect("mkdir");
        let log = self.path().join(format!(
            "pandorad-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        ));
        let mut cmd = Command::new(bin("pandorad"));
        cmd.env("PANDORA_HOME", self.pandora_home())
            .env("HOME", self.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
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
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!(
            "pandorad did not listen: {}",
            std::fs::read_to_string(&daemon.log).unwrap_or_default()
        );
    }

    /// Runs `pandora ARGS` against the daemon without autostarting one.
    pub fn client(&self, args: &[&str]) -> Run {
        Run::from(
            self.pandora()
                .env("PANDORA_NO_AUTOSTART", "1")
                .args(args)
                .output()
                .expect("pandora runs"),
        )
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

/// A package for [`Context::pack`]: one executable `files/bin/<name>` that echoes its pin,
/// followed by `payload` (which makes two packages of one pin differ).
#[derive(Debug, Clone, Copy)]
pub struct PkgSpec<'a> {
    /// Package name.
    pub name: &'a str,
    /// Version.
    pub version: &'a str,
    /// Exact `name@version` pins.
    pub deps: &'a [&'a str],
    /// Tags.
    pub tags: &'a [&'a str],
    /// Description (default `package <name>`).
    pub description: Option<&'a str>,
    /// Extra text after the script.
    pub payload: &'a str,
}

impl<'a> PkgSpec<'a> {
    /// `name@version`, no dependencies, no tags, no payload.
    pub fn new(name: &'a str, version: &'a str) -> PkgSpec<'a> {
        PkgSpec {
            name,
            version,
            deps: &[],
            tags: &[],
            description: None,
            payload: "",
        }
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `pandora-registry ARGS` and asserts that it succeeds.
pub fn registry_tool<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let out = Command::new(bin("pandora-registry"))
        .args(args)
        .output()
        .expect("pandora-registry runs");
    let run = Run::from(out);
    assert_eq!(
        run.code,
        0,
        "pandora-registry {:?}: {run:?}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>()
    );
    run
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

impl Context {
    /// Packs `spec` with the real `pandora pack` into `pkgs/<name>-<version>-<n>.pkg`.
    pub fn pack(&self, spec: &PkgSpec<'_>) -> PathBuf {
        let n = dir_names(&self.path().join("pkgs")).len();
        let stem = format!("{}-{}-{n}", spec.name, spec.version);
        let src = self.path().join("pkg-src").join(&stem);
        let script = src.join("files/bin").join(spec.name);
        std::fs::create_dir_all(script.parent().expect("a parent")).expect("mkdir");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho {} {}\n{}",
                spec.name, spec.version, spec.payload
            ),
        )
        .expect("write the script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let description = spec
            .description
            .map_or_else(|| format!("package {}", spec.name), str::to_string);
        std::fs::write(
            src.join("manifest.acl"),
            format!(
                "manifest {{\n    string name = \"{}\";\n    string version = \"{}\";\n    \
                 string arch = \"x86_64\";\n    string[] authors = {{ \"T <t@example.org>\" }};\n    \
                 string license = \"MIT\";\n    string description = \"{description}\";\n    \
                 string[] tags = {{ {} }};\n    string[] dependencies = {{ {} }};\n    \
                 string[] install_hooks = {{}};\n    build_meta {{ builder = \"test\"; }}\n}}\n",
                spec.name,
                spec.version,
                quoted_list(spec.tags),
                quoted_list(spec.deps),
            ),
        )
        .expect("write the manifest");
        std::fs::create_dir_all(self.path().join("pkgs")).expect("mkdir");
        let out = self.path().join("pkgs").join(format!("{stem}.pkg"));
        let r = self.run(&[
            "pack",
            src.to_str().expect("UTF-8 path"),
            "-o",
            out.to_str().expect("UTF-8 path"),
        ]);
        assert_eq!(r.code, 0, "pandora pack: {r:?}");
        out
    }

    /// `pandora-registry init <home>/<dir> --name <dir>`, then `add` of `specs`, packed.
    pub fn registry_of(&self, dir: &str, specs: &[PkgSpec<'_>]) -> PathBuf {
        let reg = self.path().join(dir);
        registry_tool(&[
            "init".as_ref(),
            reg.as_os_str(),
            "--name".as_ref(),
            dir.as_ref(),
        ]);
        let files: Vec<PathBuf> = specs.iter().map(|s| self.pack(s)).collect();
        if !files.is_empty() {
            let mut args = vec!["add".as_ref(), reg.as_os_str()];
            args.extend(files.iter().map(|f| f.as_os_str()));
            registry_tool(&args);
        }
        reg
    }

    /// `pandora-registry serve DIR --listen 127.0.0.1:0 EXTRA...`, killed when dropped.
    pub fn serve_registry(&self, dir: &Path, extra: &[&str]) -> http::Server {
        let mut cmd = Command::new(bin("pandora-registry"));
        cmd.arg("serve")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1");
        let n = dir_names(self.path()).len();
        http::Server::spawn(cmd, &self.path().join(format!("server-{n}.log")))
    }

    /// Every `name@version` in the store, sorted.
    pub fn store_entries(&self) -> Vec<String> {
        let store = self.pandora_home().join("store");
        let mut out = Vec::new();
        for name in dir_names(&store) {
            for version in dir_names(&store.join(&name)) {
                out.push(format!("{name}@{version}"));
            }
        }
        out
    }

    /// The blobs in `cache/blobs/sha256/`.
    pub fn cached_blobs(&self) -> Vec<String> {
        dir_names(&self.pandora_home().join("cache/blobs/sha256"))
    }

    /// What is left in `tmp/`.
    pub fn tmp_entries(&self) -> Vec<String> {
        dir_names(&self.pandora_home().join("tmp"))
    }
}
