//! The outside tools tests use as references: programs on PATH (minisign, Graphviz) and
//! Python tools from PyPI (the SPDX validator, Prometheus' text parser), each installed once
//! into its own virtual environment under `target/`.

use std::path::PathBuf;
use std::process::Command;

use crate::context::repo_root;

/// The virtual environment `target/<name>` with `package` (a pinned requirement, such as
/// `tool==1.2.3`, so that a new release cannot change what a test checks against) installed
/// from PyPI, made on first use and again when the requirement changes; returns its
/// directory.
pub fn python_venv(name: &str, package: &str) -> PathBuf {
    let venv = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join(name);
    let done = venv.join(".installed");
    if std::fs::read_to_string(&done).ok().as_deref() != Some(package) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3");
        assert!(made.success(), "python3 -m venv {}", venv.display());
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", package])
            .status()
            .expect("pip");
        assert!(pip.success(), "pip install {package}");
        std::fs::write(&done, package).expect("mark the environment done");
    }
    venv
}

/// The program `name` on PATH; a missing one fails the test with the Debian package to
/// install.
pub fn tool(name: &str, debian_package: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` is needed: apt-get install {debian_package}"))
}

/// Runs `cmd` with `input` on its stdin; its stdout and stderr are captured.
pub fn run_with_input(cmd: &mut Command, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the command");
    child
        .stdin
        .take()
        .expect("a stdin")
        .write_all(input.as_bytes())
        .expect("write its input");
    child.wait_with_output().expect("wait for the command")
}
