//! `pandora --help` lists only commands that are built.

use std::process::Command;

#[test]
fn help_lists_only_built_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_pandora"))
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
        [
            "acl",
            "pack",
            "build",
            "status",
            "stop",
            "install",
            "list",
            "activate",
            "deactivate",
            "remove",
            "cache",
            "which",
            "profile",
            "lock",
            "env",
            "metrics",
            "search",
            "info",
            "graph",
            "verify",
            "prune",
            "publish",
            "registry",
            "completions",
            "man",
            "help"
        ]
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_pandora"))
        .args(["acl", "frobnicate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
