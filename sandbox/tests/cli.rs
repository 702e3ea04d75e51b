//! `pandora-sandbox` as a command (this test also makes `cargo test --workspace` build the
//! binary that `pandorad` runs builds and hooks through; tests/tests/sandbox.rs attacks it).

use std::process::Command;

#[test]
fn it_runs_a_command_inside_and_returns_its_status() {
    let out = Command::new(env!("CARGO_BIN_EXE_pandora-sandbox"))
        .args(["--", "/bin/sh", "-c", "hostname; exit 3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pandora\n");
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_pandora-sandbox"))
        .arg("--frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
