//! `pandorad`'s command line. (Having an integration test also makes `cargo test --workspace`
//! build the real `pandorad` binary, which the end-to-end tests in `tests/` drive.)

use std::process::Command;

#[test]
fn help_and_usage_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_pandorad"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--idle-timeout"));
    let out = Command::new(env!("CARGO_BIN_EXE_pandorad"))
        .arg("--frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn no_home_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_pandorad"))
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("set PANDORA_HOME or HOME"),
        "{out:?}"
    );
}
