//! What a new user meets in the first hour (issue 8): hints for other package managers'
//! words, close names for typos, usage errors that exit 2, bare names, recorded origins, a
//! registry that is down, `acl check` of Pandora's files, and `pack -q`.

use super::*;

#[test]
fn issue8_words_of_other_package_managers_get_a_hint() {
    let ctx = Context::new();
    for (word, hint) in [
        ("uninstall", "pandora remove NAME@VERSION"),
        ("rm", "pandora remove NAME@VERSION"),
        ("upgrade", "pandora install NAME --refresh"),
        ("update", "pandora install NAME --refresh"),
    ] {
        let r = ctx.run(&[word, "app"]);
        assert_eq!(r.code, 2, "{word}: {r:?}");
        assert!(
            r.stderr
                .starts_with(&format!("error[usage]: `{word}` is not a pandora command")),
            "{word}: {r:?}"
        );
        assert!(r.stderr.contains(&format!("hint: {hint}")), "{word}: {r:?}");
    }
    // `registry remove` is still the registry's own subcommand.
    let r = ctx.run(&["registry", "remove", "--help"]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn issue8_typos_get_close_names_and_usage_errors_exit_2() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("ripgrep", "14.1.0"),
            PkgSpec::new("viewer", "2.1.0"),
        ],
    );
    ctx.write_registry("main", &format!("file://{}", reg.display()), None);
    let _d = ctx.start_daemon(&[]);
    let r = ctx.plain(&["install", "ripgerp"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[not-found]: no registry has a package called `ripgerp`"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("hint: did you mean `ripgrep`? pandora install ripgrep"),
        "{r:?}"
    );
    let r = ctx.plain(&["info", "ripgerp"]);
    assert!(
        r.stderr
            .contains("hint: did you mean `ripgrep`? pandora info ripgrep"),
        "{r:?}"
    );
    let r = ctx.plain(&["search", "veiwer"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[not-found]: no package matches `veiwer`"),
        "{r:?}"
    );
    assert!(r.stderr.contains("hint: did you mean `viewer`?"), "{r:?}");

    let r = ctx.plain(&["registry", "add", "bad", "ftp://x"]);
    assert_eq!(r.code, 2, "a usage error: {r:?}");
    assert!(
        r.stderr
            .starts_with("error[bad-url]: `ftp://x` is not a registry URL"),
        "{r:?}"
    );
    let r = ctx.plain(&["registry", "add", "bad", "http://[::1"]);
    assert_eq!(r.code, 2, "{r:?}");
    let r = ctx.plain(&["install", "Bad@Name"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.starts_with("error[bad-package]:"), "{r:?}");
    // Only the case is wrong: the hint gives the name as it must be written.
    assert!(
        r.stderr
            .contains("hint: package names are lower case: did you mean `bad@name`?"),
        "{r:?}"
    );
    let r = ctx.plain(&["install", "Hello"]);
    assert!(
        r.stderr
            .contains("hint: package names are lower case: did you mean `hello`?"),
        "{r:?}"
    );
}

#[test]
fn issue8_bare_names_store_origins_and_a_registry_that_is_down() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[PkgSpec::new("app", "1.0.0"), PkgSpec::new("app", "2.0.0")],
    );
    let server = ctx.serve_registry(&reg, &[]);
    ctx.write_registry("main", &server.url(""), None);
    let _d = ctx.start_daemon(&[]);
    assert_eq!(ctx.plain(&["install", "app@1.0.0", "app@2.0.0"]).code, 0);

    // A bare name verifies every stored version, and says which.
    let r = ctx.plain(&["verify", "app"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        "result=\"ok app@1.0.0 (checked: files, cached archive sha256)\"\nresult=\"ok app@2.0.0 (checked: files, cached archive sha256)\"\n"
    );
    let r = ctx.plain(&["verify", "nothere"]);
    assert!(
        r.stderr
            .contains("error[not-found]: no version of `nothere` is in the store"),
        "{r:?}"
    );

    // The store records where an entry came from.
    let r = ctx.plain(&["info", "app@1.0.0"]);
    assert!(r.stdout.contains("registry=main\n"), "{r:?}");
    // Regular files only: files/ and files/bin are directories.
    let r = ctx.plain(&["list", "--store"]);
    assert!(r.stdout.contains("name=app version=1.0.0 size="), "{r:?}");
    assert!(r.stdout.contains(" files=1 "), "{r:?}");

    // The registry goes down: the headline is the cause, and info still shows the store.
    drop(server);
    let r = ctx.plain(&["install", "yourtool", "--refresh"]);
    assert_eq!(r.code, 1, "{r:?}");
    let first = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or_default();
    assert!(
        first.starts_with(
            "error[unavailable]: cannot find yourtool: registry `main`: cannot get snapshot.acl"
        ),
        "{r:?}"
    );
    let r = ctx.plain(&["info", "app", "--refresh"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("package=app@2.0.0"), "{r:?}");
    assert!(r.stdout.contains("in_store=yes"), "{r:?}");
    assert!(
        r.stderr
            .contains("event=note message=\"registry `main`: cannot get snapshot.acl"),
        "{r:?}"
    );
}

#[test]
fn issue8_acl_check_knows_pandora_files_and_pack_q_is_quiet() {
    let ctx = Context::new();
    let m = ctx.write(
        "pkg/manifest.acl",
        "manifest {\n    string name = \"tool\";\n    string version = \"1.0\";\n}\n",
    );
    let r = ctx.run(&["acl", "check", m.to_str().unwrap()]);
    assert_eq!(r.code, 1, "fields are checked, not only syntax: {r:?}");
    assert!(r.stderr.contains("arch"), "{r:?}");
    let other = ctx.write("other.acl", "manifest {\n    string name = \"tool\";\n}\n");
    let r = ctx.run(&["acl", "check", other.to_str().unwrap()]);
    assert_eq!(r.code, 0, "an unknown name is checked as plain ACL: {r:?}");
    let r = ctx.run(&["acl", "check", "--as", "manifest", other.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");

    let pkg = ctx.pack(&PkgSpec::new("tool", "1.0.0"));
    let src = ctx.path().join("pkg-src/tool-1.0.0-0");
    let r = ctx.run(&[
        "-q",
        "pack",
        src.to_str().unwrap(),
        "-o",
        pkg.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stderr, "", "-q prints results only");
    assert!(r.stdout.ends_with(&format!("{}\n", pkg.display())), "{r:?}");
}

#[test]
fn issue8_relative_paths_prompts_and_quiet_mode() {
    let ctx = Context::new();
    let pkg = ctx.pack(&PkgSpec::new("tool", "1.0.0"));
    let _d = ctx.start_daemon(&[]);
    // `info ./FILE.pkg` from the user's directory, whatever the daemon's is.
    let dir = pkg.parent().unwrap();
    let name = format!("./{}", pkg.file_name().unwrap().to_str().unwrap());
    let r = Run::of(
        ctx.pandora()
            .current_dir(dir)
            .env("PANDORA_NO_AUTOSTART", "1")
            .args(["--log", "plain", "info", &name]),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("package=tool@1.0.0"), "{r:?}");
    // An answer that is neither yes nor no is asked again; then no.
    let out = ctx.answering(&["install", pkg.to_str().unwrap()], "maybe\nn\n");
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("`maybe` is neither yes nor no"),
        "{out:?}"
    );
    assert!(ctx.store_entries().is_empty());
    // -q: the result, and nothing else.
    let r = ctx.client(&["-q", "--log", "plain", "install", pkg.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("result=\"installed tool@1.0.0 (from local)\""),
        "{r:?}"
    );
    assert_eq!(r.stderr, "", "{r:?}");
}
