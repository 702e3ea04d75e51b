//! `pandora-registry`'s command line. (Having an integration test also makes
//! `cargo test --workspace` build the real binary, which the end-to-end tests in `tests/`
//! drive.)

use std::process::Command;

#[test]
fn help_lists_the_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_pandora-registry"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        commands,
        ["init", "add", "deprecate", "check", "serve", "help"]
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_pandora-registry"))
        .args(["add"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
