//! Activation's rules end to end (real daemon, a registry served on 127.0.0.1, temp HOME):
//! conflicting paths under each strategy and with an override (which survives a restart),
//! identical files that are no conflict, tree folding and unfolding, and a missing
//! dependency that changes nothing.

use super::*;

fn cat(ctx: &Context, rel: &str) -> String {
    std::fs::read_to_string(ctx.pandora_home().join("vir").join(rel)).unwrap_or_default()
}

#[test]
fn issue10_conflicts_are_refused_unless_a_strategy_or_an_override_decides() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec {
                files: &[("share/convert.txt", "from a\n")],
                ..PkgSpec::new("a", "1")
            },
            PkgSpec {
                files: &[("share/convert.txt", "from b\n")],
                ..PkgSpec::new("b", "1")
            },
            // The same bytes as a's: no conflict.
            PkgSpec {
                files: &[("share/convert.txt", "from a\n")],
                ..PkgSpec::new("c", "1")
            },
        ],
    );
    let server = ctx.serve_registry(&reg, &[]);
    let d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);
    let r = ctx.plain(&["install", "a@1", "b@1", "c@1", "--no-activate"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ctx.plain(&["activate", "a@1"]).code, 0);

    let r = ctx.plain(&["activate", "b@1"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("error[path-conflict]"), "{r:?}");
    assert!(r.stderr.contains("share/convert.txt"), "{r:?}");
    assert!(
        r.stderr.contains("a@1") && r.stderr.contains("b@1"),
        "{r:?}"
    );
    assert!(r.stderr.contains("--strategy"), "the ways out: {r:?}");
    assert!(
        r.stderr
            .contains("pandora profile override share/convert.txt"),
        "{r:?}"
    );
    assert_eq!(
        cat(&ctx, "share/convert.txt"),
        "from a\n",
        "nothing changed"
    );

    let r = ctx.plain(&["activate", "c@1"]);
    assert_eq!(r.code, 0, "identical content is no conflict: {r:?}");

    let again = |extra: &[&str]| {
        // b is active after the first round; before it, there is nothing to take out.
        ctx.plain(&["deactivate", "b"]);
        let mut args = vec!["activate", "b@1"];
        args.extend(extra);
        let r = ctx.plain(&args);
        assert_eq!(r.code, 0, "{extra:?}: {r:?}");
    };
    again(&["--strategy", "prefer-existing"]);
    assert_eq!(cat(&ctx, "share/convert.txt"), "from a\n");
    again(&["--strategy", "prefer-new"]);
    assert_eq!(cat(&ctx, "share/convert.txt"), "from b\n");
    again(&["--strategy", "namespace"]);
    assert_eq!(cat(&ctx, "share/convert.txt"), "from a\n");
    assert_eq!(cat(&ctx, "share/b-1/convert.txt"), "from b\n");

    // An override decides without a strategy, and outlives a restart of the daemon.
    assert_eq!(ctx.plain(&["deactivate", "b"]).code, 0);
    let r = ctx.plain(&["profile", "override", "share/convert.txt", "b"]);
    assert_eq!(r.code, 0, "{r:?}");
    drop(d);
    let _d = ctx.start_daemon(&[]);
    let profile_acl =
        std::fs::read_to_string(ctx.pandora_home().join("profiles/default/profile.acl")).unwrap();
    assert!(
        profile_acl.contains("Override \"share/convert.txt\""),
        "{profile_acl}"
    );
    let r = ctx.plain(&["activate", "b@1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(cat(&ctx, "share/convert.txt"), "from b\n");
    let r = ctx.plain(&["which", "share/convert.txt"]);
    assert!(r.stdout.contains("package=b@1"), "{r:?}");
}

#[test]
fn issue10_a_directory_one_package_provides_folds_and_unfolds_when_another_adds_to_it() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec {
                files: &[("share/viewer/a.txt", "a\n"), ("share/viewer/b.txt", "b\n")],
                ..PkgSpec::new("viewer", "1")
            },
            PkgSpec {
                files: &[("share/viewer/plugin.txt", "p\n")],
                ..PkgSpec::new("plugin", "1")
            },
        ],
    );
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);
    assert_eq!(ctx.plain(&["install", "viewer@1"]).code, 0);
    let dir = || std::fs::symlink_metadata(ctx.pandora_home().join("vir/share/viewer")).unwrap();
    assert!(dir().file_type().is_symlink(), "one owner: one link");
    assert_eq!(ctx.plain(&["install", "plugin@1"]).code, 0);
    assert!(dir().is_dir(), "two owners: a real directory");
    assert_eq!(cat(&ctx, "share/viewer/a.txt"), "a\n");
    assert_eq!(cat(&ctx, "share/viewer/plugin.txt"), "p\n");
    assert_eq!(ctx.plain(&["deactivate", "plugin"]).code, 0);
    assert!(dir().file_type().is_symlink(), "folded again");
    assert_eq!(cat(&ctx, "share/viewer/b.txt"), "b\n");
}

#[test]
fn issue10_a_missing_dependency_changes_nothing_and_names_the_install_command() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("lib", "1"),
            PkgSpec {
                deps: &["lib@1"],
                ..PkgSpec::new("app", "1")
            },
        ],
    );
    let server = ctx.serve_registry(&reg, &[]);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);
    assert_eq!(ctx.plain(&["install", "app@1", "--no-activate"]).code, 0);
    // The dependency leaves the store (no generation ever held it).
    let r = ctx.plain(&["remove", "lib@1", "--purge"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = ctx.plain(&["activate", "app@1"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("error[missing-dependencies]"), "{r:?}");
    assert!(r.stderr.contains("pandora install lib@1"), "{r:?}");
    assert!(!ctx.pandora_home().join("profiles/default/current").exists());
    assert!(!ctx.path().join("bin").exists());
}
