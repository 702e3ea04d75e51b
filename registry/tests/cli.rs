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
        [
            "init",
            "add",
            "keygen",
            "rotate-key",
            "deprecate",
            "check",
            "serve",
            "help"
        ]
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

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pandora-registry"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?} --help: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn serve_help_shows_that_every_option_has_a_default() {
    let text = help(&["serve"]);
    assert!(
        text.contains("Usage: pandora-registry serve [OPTIONS] <DIR>"),
        "{text}"
    );
    assert!(text.contains("--listen <ADDR>"), "{text}");
    assert!(text.contains("[default: 127.0.0.1:8080]"), "{text}");
    assert!(
        text.contains("[default: the registry's max_package_size]"),
        "{text}"
    );
    assert!(
        text.contains("Without it the server is read-only"),
        "{text}"
    );
    assert!(text.contains("listening on http://ADDR"), "{text}");
}

#[test]
fn every_command_explains_itself_with_an_example_or_its_outputs() {
    let top = help(&[]);
    assert!(
        top.contains("pandora-registry init DIR --name NAME"),
        "{top}"
    );
    assert!(
        top.contains("warnings, problems and errors to stderr"),
        "{top}"
    );
    for (command, want) in [
        ("init", "pandora-registry init ./registry --name main"),
        ("add", "pandora-registry add ./registry hello-1.0.0.pkg"),
        ("add", "reported as warnings"),
        ("deprecate", "<NAME@VERSION>"),
        (
            "check",
            "Problems and warnings go to stderr, the summary to stdout",
        ),
        ("serve", "pandora-registry serve ./registry"),
    ] {
        let text = help(&[command]);
        assert!(text.contains("<DIR>"), "{command}: {text}");
        assert!(text.contains(want), "{command}: want {want:?} in {text}");
    }
}
