//! Install activates what it installs (asked at a terminal, `--no-activate` to skip), remove
//! takes a version out of a profile and, with consent, out of the store unless a kept
//! generation holds it, prune drops old generations, and a crash at every step of
//! deactivate, remove, profile switch, rollback and prune leaves the old state or the new.

use super::*;

/// A registry served over HTTP on 127.0.0.1 with `app` 1.0.0 and 2.0.0 (each needing
/// `libgreet@1`), `libgreet@1` and `tool@1`.
fn setup(ctx: &Context) -> pandora_tests::http::Server {
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("libgreet", "1"),
            PkgSpec {
                deps: &["libgreet@1"],
                ..PkgSpec::new("app", "1.0.0")
            },
            PkgSpec {
                deps: &["libgreet@1"],
                ..PkgSpec::new("app", "2.0.0")
            },
            PkgSpec::new("tool", "1"),
        ],
    );
    ctx.serve_registry(&reg, &[])
}

fn run_home(ctx: &Context, program: &str) -> Option<String> {
    let out = Command::new(ctx.path().join("bin").join(program))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `install` with questions answered from `answers`, as at a terminal.
fn install_answering(ctx: &Context, args: &[&str], answers: &str) -> Run {
    let mut all = vec!["--log", "plain", "install"];
    all.extend(args);
    ctx.answering(&all, answers)
}

#[test]
fn issue10_install_activates_and_the_program_runs_from_home_bin() {
    let ctx = Context::new();
    let server = setup(&ctx);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);

    // Without a terminal the default (activate) is taken, and the summary says so.
    let r = ctx.plain(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("activated app@1.0.0 in profile `default` (generation 1)"),
        "{r:?}"
    );
    assert_eq!(run_home(&ctx, "app").as_deref(), Some("app 1.0.0\n"));
    assert_eq!(run_home(&ctx, "libgreet").as_deref(), Some("libgreet 1\n"));
    // Like `activate`, the first activation raises the desktop session PATH question; without
    // a terminal nothing is written and the note says how.
    assert!(r.stderr.contains("pandora env --session on"), "{r:?}");

    // --no-activate: in the store only, and the command to activate it is printed.
    let r = ctx.plain(&["install", "app@2.0.0", "--no-activate"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("not active yet; to put it on PATH: pandora activate app@2.0.0"),
        "{r:?}"
    );
    assert_eq!(run_home(&ctx, "app").as_deref(), Some("app 1.0.0\n"));

    // Installing what is in the store already still activates it: no download, a new
    // generation replacing the other version.
    let r = ctx.plain(&["install", "app@2.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("replaced app@1.0.0"), "{r:?}");
    assert!(
        r.stdout
            .contains("activated app@2.0.0 in profile `default` (generation 2)"),
        "{r:?}"
    );
    assert_eq!(run_home(&ctx, "app").as_deref(), Some("app 2.0.0\n"));

    // Into another profile, named on the command line.
    let r = ctx.plain(&["install", "tool@1", "--profile", "work"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("activated tool@1 in profile `work` (generation 1)"),
        "{r:?}"
    );
    assert!(
        run_home(&ctx, "tool").is_none(),
        "work is not the active profile"
    );
}

#[test]
fn issue10_install_asks_once_whether_to_activate() {
    let ctx = Context::new();
    let server = setup(&ctx);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);

    // Yes to the install, no to the activation: installed, not active.
    let r = install_answering(&ctx, &["tool@1"], "y\nn\n");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("plan activate=tool@1 profile=default replaces=\"\" generation=0"),
        "{r:?}"
    );
    assert_eq!(
        r.stderr
            .matches("Activate tool@1 in profile default? [Y/n]")
            .count(),
        1,
        "{r:?}"
    );
    assert_eq!(ctx.store_entries(), ["tool@1"]);
    assert!(run_home(&ctx, "tool").is_none(), "{r:?}");

    // In the store already: the activation is the only question, and Enter means yes.
    let r = install_answering(&ctx, &["tool@1"], "\n");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("Install "), "{r:?}");
    assert!(r.stdout.contains("activated tool@1"), "{r:?}");
    assert_eq!(run_home(&ctx, "tool").as_deref(), Some("tool 1\n"));

    // Active already: nothing to ask, nothing to do.
    let r = install_answering(&ctx, &["tool@1"], "");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("[Y/n]"), "{r:?}");

    // --yes answers both questions.
    let r = ctx.plain(&["install", "app@1.0.0", "--yes"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(run_home(&ctx, "app").as_deref(), Some("app 1.0.0\n"));
}

#[test]
fn issue10_an_activation_planned_against_a_profile_that_changed_is_refused() {
    let ctx = Context::new();
    let server = setup(&ctx);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);
    assert_eq!(ctx.plain(&["install", "tool@1", "--no-activate"]).code, 0);
    let asking = ctx.asking(&["install", "app@1.0.0"]);
    // While the user reads the plan, the profile gets a new generation.
    assert_eq!(ctx.plain(&["activate", "tool@1"]).code, 0);
    let (code, err) = asking.answer("y\ny\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("the plan changed after it was shown"), "{err}");
    assert_eq!(ctx.store_entries(), ["tool@1"], "nothing installed");
}

#[test]
fn issue10_remove_deactivates_and_deletes_only_what_no_generation_holds() {
    let ctx = Context::new();
    let server = setup(&ctx);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &server.url(""), 0);

    // Never activated: without a terminal nothing is deleted unasked…
    assert_eq!(ctx.plain(&["install", "tool@1", "--no-activate"]).code, 0);
    let r = ctx.plain(&["remove", "tool@1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("tool@1 stays in the store; pandora remove tool@1 --purge deletes it"),
        "{r:?}"
    );
    assert_eq!(ctx.store_entries(), ["tool@1"]);
    // …at a terminal the answer decides (no is the default)…
    let ask = |answer: &str| ctx.answering(&["--log", "plain", "remove", "tool@1"], answer);
    let r = ask("\n");
    assert!(
        r.stderr.contains("Also delete it from the store? [y/N]"),
        "{r:?}"
    );
    assert_eq!(ctx.store_entries(), ["tool@1"]);
    let r = ask("y\n");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("deleted tool@1 from the store"), "{r:?}");
    assert!(ctx.store_entries().is_empty());

    // Active, with a dependency: the dependency cannot go while app needs it.
    assert_eq!(ctx.plain(&["install", "app@2.0.0"]).code, 0);
    let r = ctx.plain(&["remove", "libgreet@1", "--purge"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("libgreet@1 is needed by app@2.0.0 in profile `default`"),
        "{r:?}"
    );
    assert_eq!(run_home(&ctx, "libgreet").as_deref(), Some("libgreet 1\n"));

    // app goes out of the profile, but generation 1 still links to it: it stays, and the
    // hint names the way out.
    let r = ctx.plain(&["remove", "app@2.0.0", "--purge"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("deactivated app@2.0.0 in profile `default` (generation 2)"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(
            "error[held]: app@2.0.0 stays in the store: generation 1 of profile `default` link to it"
        ),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("pandora prune --generations --keep 1"),
        "{r:?}"
    );
    assert!(run_home(&ctx, "app").is_none());
    assert!(ctx.store_entries().contains(&"app@2.0.0".to_string()));

    // Another profile's current generation holds it too.
    assert_eq!(
        ctx.plain(&["activate", "app@2.0.0", "--profile", "work"])
            .code,
        0
    );
    let r = ctx.plain(&["prune", "--generations", "--keep", "1", "--dry-run"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("would delete generation 1 of profile `default`"),
        "{r:?}"
    );
    assert!(
        ctx.pandora_home()
            .join("profiles/default/generations/1")
            .exists()
    );
    let r = ctx.plain(&["prune", "--generations", "--keep", "1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("deleted generation 1 of profile `default`"),
        "{r:?}"
    );
    assert!(
        !ctx.pandora_home()
            .join("profiles/default/generations/1")
            .exists()
    );
    assert!(
        !ctx.pandora_home()
            .join("profiles/default/generations/1.lock")
            .exists()
    );
    // Without --profile, remove takes it out of every profile where it is active.
    let r = ctx.plain(&["remove", "app@2.0.0", "--purge"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("deactivated app@2.0.0 in profile `work` (generation 2)"),
        "{r:?}"
    );
    assert!(r.stderr.contains("generation 1 of profile `work`"), "{r:?}");
    assert_eq!(ctx.plain(&["profile", "delete", "work"]).code, 0);
    let r = ctx.plain(&["remove", "app@2.0.0", "--purge"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("deleted app@2.0.0 from the store"),
        "{r:?}"
    );
    assert_eq!(ctx.store_entries(), ["libgreet@1"]);
    assert!(ctx.tmp_entries().is_empty(), "{:?}", ctx.tmp_entries());
}

/// What the daemon shows of the active profile: the lockfile's versions, the current
/// generation, and what `vir` resolves to, all of which must agree.
fn consistent_state(ctx: &Context, step: &str) -> (String, String) {
    let home = ctx.pandora_home();
    let vir = std::fs::canonicalize(home.join("vir")).unwrap();
    let profile = vir
        .parent()
        .and_then(|g| g.parent())
        .and_then(|p| p.file_name())
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let generation = vir.file_name().unwrap().to_string_lossy().into_owned();
    let lock = std::fs::read_to_string(home.join(format!("manifests/{profile}.lock"))).unwrap();
    let gen_lock = std::fs::read_to_string(
        home.join(format!("profiles/{profile}/generations/{generation}.lock")),
    )
    .unwrap();
    assert_eq!(
        lock, gen_lock,
        "{step}: the lockfile is the current generation's"
    );
    assert!(
        ctx.tmp_entries().is_empty(),
        "{step}: {:?}",
        ctx.tmp_entries()
    );
    (profile, generation)
}

#[test]
fn issue10_a_crash_at_every_step_of_deactivate_remove_switch_rollback_and_prune() {
    // (the step, the command, whether the change is done after a crash there)
    let cases: &[(&str, &[&str], bool)] = &[
        ("activate-before-generation", &["deactivate", "tool"], false),
        ("activate-before-switch", &["deactivate", "tool"], false),
        ("activate-before-copies", &["deactivate", "tool"], true),
        (
            "activate-before-switch",
            &["remove", "tool@1", "--purge"],
            false,
        ),
        (
            "remove-before-store",
            &["remove", "old@1", "--purge"],
            false,
        ),
        ("remove-after-rename", &["remove", "old@1", "--purge"], true),
        ("switch-before-link", &["profile", "switch", "work"], false),
        ("switch-after-link", &["profile", "switch", "work"], true),
        ("rollback-before-copies", &["profile", "rollback"], true),
        (
            "prune-after-rename",
            &["prune", "--generations", "--keep", "1"],
            true,
        ),
    ];
    for (step, command, done) in cases {
        let label = format!("{step} during {}", command.join(" "));
        let ctx = Context::new();
        let reg = ctx.registry_of(
            "main",
            &[PkgSpec::new("tool", "1"), PkgSpec::new("old", "1")],
        );
        let d = ctx.start_daemon(&[]);
        ctx.add_registry("main", &file_url(&reg), 0);
        assert_eq!(ctx.plain(&["install", "old@1", "--no-activate"]).code, 0);
        assert_eq!(ctx.plain(&["install", "tool@1"]).code, 0, "{label}");
        assert_eq!(
            ctx.plain(&["activate", "tool@1", "--profile", "work"]).code,
            0
        );
        // Two generations in default: 1 (tool) and 2 (tool again).
        assert_eq!(ctx.plain(&["activate", "tool@1"]).code, 0, "{label}");
        let before = consistent_state(&ctx, &label);
        drop(d);

        let mut d = ctx.start_daemon(&[("PANDORA_FAILPOINT", step)]);
        let r = ctx.plain(command);
        assert_ne!(r.code, 0, "{label}: the daemon did not stop there: {r:?}");
        let _ = d.child.wait();
        let _d = ctx.start_daemon(&[]);
        let after = consistent_state(&ctx, &label);
        let stored = ctx.store_entries();
        match command[0] {
            "deactivate" | "remove" if command[1] == "tool" || command[1] == "tool@1" => {
                assert_eq!(
                    run_home(&ctx, "tool").is_none(),
                    *done,
                    "{label}: tool active after the crash"
                );
                assert!(stored.contains(&"tool@1".to_string()), "{label}");
            }
            "remove" => {
                assert_eq!(
                    !stored.contains(&"old@1".to_string()),
                    *done,
                    "{label}: {stored:?}"
                );
            }
            "profile" if command[1] == "switch" => {
                assert_eq!(after.0 == "work", *done, "{label}: {after:?}");
            }
            "profile" => {
                assert_eq!(after.1, if *done { "1" } else { "2" }, "{label}");
            }
            _ => {
                let first = ctx.pandora_home().join("profiles/default/generations/1");
                assert_eq!(!first.exists(), *done, "{label}");
                assert!(
                    !ctx.pandora_home()
                        .join("profiles/default/generations/1.lock")
                        .exists()
                        || !*done,
                    "{label}: the repair removes the crashed generation's files"
                );
                assert_eq!(after, before, "{label}");
            }
        }
        // And the same command completes now (or has nothing left to do).
        if command[1] == "rollback" {
            continue;
        }
        let again = ctx.plain(command);
        assert!(
            again.code == 0
                || again.stderr.contains("error[not-active]")
                || again.stderr.contains("error[not-found]")
                || again.stderr.contains("error[held]"),
            "{label}: {again:?}"
        );
    }
}

/// Makes a store entry look installed two days ago.
fn backdate(ctx: &Context, pin: &str) {
    let (name, version) = pin.split_once('@').unwrap();
    let manifest = ctx
        .pandora_home()
        .join("store")
        .join(name)
        .join(version)
        .join("manifest.acl");
    let status = Command::new("touch")
        .args(["-d", "2 days ago"])
        .arg(&manifest)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn issue13_prune_store_deletes_only_old_entries_no_kept_generation_holds() {
    let ctx = Context::new();
    let reg = ctx.registry_of(
        "main",
        &[
            PkgSpec::new("old", "1"),
            PkgSpec::new("older", "1"),
            PkgSpec::new("fresh", "1"),
            PkgSpec::new("tool", "1"),
        ],
    );
    let d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &file_url(&reg), 0);
    let r = ctx.plain(&["install", "old@1", "older@1", "fresh@1", "--no-activate"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ctx.plain(&["install", "tool@1"]).code, 0);
    for pin in ["old@1", "older@1", "tool@1"] {
        backdate(&ctx, pin);
    }

    let r = ctx.plain(&["prune", "--store", "--dry-run"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("would delete old@1"), "{r:?}");
    assert!(r.stdout.contains("would delete older@1"), "{r:?}");
    assert!(!r.stdout.contains("tool@1"), "held by a generation: {r:?}");
    assert!(!r.stdout.contains("fresh@1"), "installed today: {r:?}");
    assert_eq!(ctx.store_entries().len(), 4, "a dry run changes nothing");

    // A crash once the first entry has left the store: after a restart it is gone whole.
    drop(d);
    let mut d = ctx.start_daemon(&[("PANDORA_FAILPOINT", "remove-after-rename")]);
    let r = ctx.plain(&["prune", "--store"]);
    assert_ne!(r.code, 0, "{r:?}");
    let _ = d.child.wait();
    let _d = ctx.start_daemon(&[]);
    assert!(ctx.tmp_entries().is_empty(), "{:?}", ctx.tmp_entries());
    let left = ctx.store_entries();
    assert_eq!(left.len(), 3, "exactly one went before the crash: {left:?}");

    let r = ctx.plain(&["prune", "--store"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("freed 1 store entry"), "{r:?}");
    assert_eq!(ctx.store_entries(), ["fresh@1", "tool@1"]);
    assert_eq!(run_home(&ctx, "tool").as_deref(), Some("tool 1\n"));
}
