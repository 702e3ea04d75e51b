//! Activation (first slice of issue 10): a stored package becomes active in a profile, its
//! programs run from `$HOME/bin`, versions switch, the user's own `$HOME/bin` is left alone,
//! and a crash at every step of a switch leaves the old state or the new one.

use super::*;

/// A registry with `app` 1.0.0 and 2.0.0 (each depending on `libgreet@1`) and `libgreet@1`.
fn setup(ctx: &Context) -> PathBuf {
    ctx.registry_of(
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
        ],
    )
}

fn run_from_home(ctx: &Context, program: &str) -> String {
    let out = Command::new(ctx.path().join("bin").join(program))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn issue10_activate_runs_from_home_bin_and_versions_switch() {
    let ctx = Context::new();
    let reg = setup(&ctx);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &file_url(&reg), 0);
    let r = ctx.plain(&["install", "app@1.0.0", "app@2.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    // One version per name: asked for two, the install activates neither and says why.
    assert!(
        r.stdout.contains(
            "app was asked for in several versions, so none of them was activated: pandora activate app@VERSION chooses one"
        ),
        "{r:?}"
    );
    assert!(!ctx.path().join("bin").exists(), "nothing activated");

    let r = ctx.plain(&["activate", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("activated app@1.0.0 in profile `default` (generation 1)"),
        "{r:?}"
    );
    assert_eq!(run_from_home(&ctx, "app"), "app 1.0.0\n");
    assert_eq!(
        run_from_home(&ctx, "libgreet"),
        "libgreet 1\n",
        "the dependency is active too"
    );
    let link = std::fs::read_link(ctx.path().join("bin")).unwrap();
    assert_eq!(
        link,
        Path::new("pandora/vir/bin"),
        "a relative link into vir"
    );

    // A bare name: the newest stored version replaces the active one.
    let r = ctx.plain(&["activate", "app"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("result=\"replaced app@1.0.0\""), "{r:?}");
    assert_eq!(run_from_home(&ctx, "app"), "app 2.0.0\n");
    assert_eq!(ctx.plain(&["activate", "app@1.0.0"]).code, 0);
    assert_eq!(run_from_home(&ctx, "app"), "app 1.0.0\n");

    let r = ctx.plain(&["list"]);
    assert_eq!(
        r.stdout,
        "profile=default generation=3 name=app version=1.0.0 registry=main requested=true\n\
         profile=default generation=3 name=libgreet version=1 registry=main requested=false\n",
        "{r:?}"
    );
    let r = ctx.plain(&["which", "libgreet"]);
    assert_eq!(
        r.stdout,
        "path=bin/libgreet package=libgreet@1 profile=default\n"
    );
    let lock = std::fs::read_to_string(ctx.pandora_home().join("manifests/default.lock")).unwrap();
    let lock = pandora_common::files::Lockfile::parse(&lock, "default.lock").unwrap();
    assert_eq!(lock.generation, 3);
    assert_eq!(lock.packages.len(), 2);

    // The dependency is held; then app leaves, and libgreet with it.
    let r = ctx.plain(&["deactivate", "libgreet"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[dependents]: libgreet@1 is needed by app@1.0.0"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("hint: deactivate them first: pandora deactivate app"),
        "{r:?}"
    );
    assert_eq!(ctx.plain(&["deactivate", "app"]).code, 0);
    assert!(!ctx.path().join("bin/app").exists());
    assert!(ctx.plain(&["list"]).stdout.is_empty());
    // The profile is empty: `$HOME/bin` and its siblings lead to empty directories, not
    // nowhere.
    for dir in ["bin", "lib", "etcetera"] {
        let entries = std::fs::read_dir(ctx.path().join(dir))
            .unwrap_or_else(|e| panic!("$HOME/{dir} of an empty profile: {e}"));
        assert_eq!(entries.count(), 0, "$HOME/{dir}");
    }
    assert_eq!(ctx.store_entries().len(), 3, "the store keeps everything");
}

#[test]
fn issue10_a_home_bin_of_the_users_own_is_left_alone() {
    let ctx = Context::new();
    let reg = setup(&ctx);
    std::fs::create_dir_all(ctx.path().join("bin")).unwrap();
    std::fs::write(ctx.path().join("bin/mine"), "mine").unwrap();
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &file_url(&reg), 0);
    assert_eq!(ctx.plain(&["install", "app@1.0.0"]).code, 0);
    let r = ctx.plain(&["activate", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("already exists and is yours, so Pandora left it alone"),
        "{r:?}"
    );
    assert!(r.stdout.contains("pandora/vir/bin to PATH"), "{r:?}");
    assert_eq!(
        std::fs::read_to_string(ctx.path().join("bin/mine")).unwrap(),
        "mine"
    );
    let out = Command::new(ctx.pandora_home().join("vir/bin/app"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "app 1.0.0\n");
}

#[test]
fn issue10_a_crash_at_every_step_of_a_switch_leaves_old_or_new() {
    for step in [
        "activate-before-generation",
        "activate-before-switch",
        "activate-before-copies",
    ] {
        let ctx = Context::new();
        let reg = setup(&ctx);
        let d = ctx.start_daemon(&[]);
        ctx.add_registry("main", &file_url(&reg), 0);
        assert_eq!(ctx.plain(&["install", "app@1.0.0", "app@2.0.0"]).code, 0);
        assert_eq!(ctx.plain(&["activate", "app@1.0.0"]).code, 0);
        drop(d);
        let mut d = ctx.start_daemon(&[("PANDORA_FAILPOINT", step)]);
        let r = ctx.plain(&["activate", "app@2.0.0"]);
        assert_ne!(r.code, 0, "{step}: the daemon died: {r:?}");
        let _ = d.child.wait();
        let _d = ctx.start_daemon(&[]);
        // Old or new, and every view of it agrees.
        let running = run_from_home(&ctx, "app");
        let lock =
            std::fs::read_to_string(ctx.pandora_home().join("manifests/default.lock")).unwrap();
        let listed = ctx.plain(&["list"]).stdout;
        let new = step == "activate-before-copies";
        let (want_run, want_version) = if new {
            ("app 2.0.0\n", "2.0.0")
        } else {
            ("app 1.0.0\n", "1.0.0")
        };
        assert_eq!(running, want_run, "{step}");
        assert!(
            lock.contains(&format!("\"{want_version}\"")),
            "{step}: {lock}"
        );
        assert!(
            listed.contains(&format!("name=app version={want_version}")),
            "{step}: {listed}"
        );
        assert!(
            ctx.tmp_entries().is_empty(),
            "{step}: {:?}",
            ctx.tmp_entries()
        );
        // And the next activation works.
        assert_eq!(ctx.plain(&["activate", "app@2.0.0"]).code, 0, "{step}");
        assert_eq!(run_from_home(&ctx, "app"), "app 2.0.0\n", "{step}");
    }
}

#[test]
fn issue10_the_example_program_finds_its_library_through_the_profile() {
    let ctx = Context::new();
    let out = ctx.path().join("pkgs");
    std::fs::create_dir_all(&out).unwrap();
    for example in ["libgreet", "hello"] {
        let src = pandora_tests::repo_root().join("examples").join(example);
        let r = ctx.run(&["pack", src.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    let _d = ctx.start_daemon(&[]);
    let r = ctx.plain(&[
        "install",
        out.join("libgreet-2.1.0.pkg").to_str().unwrap(),
        out.join("hello-1.0.0.pkg").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ctx.plain(&["activate", "hello"]).code, 0);
    // `hello` loads `$(dirname $0)/../lib/greet/greet.sh`: through $HOME/bin, `..` is the
    // profile's root, whose lib/ is libgreet's.
    assert_eq!(
        run_from_home(&ctx, "hello"),
        "Hello, world! (libgreet 2.1.0)\n"
    );
}

#[test]
fn issue10_profiles_generations_rollback_and_diff() {
    let ctx = Context::new();
    let reg = setup(&ctx);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &file_url(&reg), 0);
    assert_eq!(ctx.plain(&["install", "app@1.0.0", "app@2.0.0"]).code, 0);
    assert_eq!(ctx.plain(&["activate", "app@1.0.0"]).code, 0);
    assert_eq!(ctx.plain(&["activate", "app@2.0.0"]).code, 0);

    let r = ctx.plain(&["profile", "generations"]);
    assert_eq!(
        r.stdout,
        "profile=default generation=1 current=false packages=app@1.0.0,libgreet@1\n\
         profile=default generation=2 current=true packages=app@2.0.0,libgreet@1\n",
        "{r:?}"
    );
    let r = ctx.plain(&["profile", "diff", "1", "2"]);
    assert_eq!(r.stdout, "changed=\"app@1.0.0 -> app@2.0.0\"\n", "{r:?}");

    // Rollback is one switch of `current`; the lockfile follows.
    let r = ctx.plain(&["profile", "rollback"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("back at generation 1 (from 2)"), "{r:?}");
    assert_eq!(run_from_home(&ctx, "app"), "app 1.0.0\n");
    let lock = std::fs::read_to_string(ctx.pandora_home().join("manifests/default.lock")).unwrap();
    assert!(lock.contains("\"1.0.0\""), "{lock}");
    assert_eq!(ctx.plain(&["profile", "rollback", "--to", "2"]).code, 0);
    assert_eq!(run_from_home(&ctx, "app"), "app 2.0.0\n");
    let r = ctx.plain(&["profile", "rollback", "--to", "9"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("has no generation 9 to go back to (it has 1, 2)"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("hint: pandora profile generations default"),
        "{r:?}"
    );

    // A second profile: empty, then switched to, then the first again; the active one stays.
    assert_eq!(ctx.plain(&["profile", "create", "work"]).code, 0);
    let r = ctx.plain(&["profile", "list"]);
    assert_eq!(
        r.stdout,
        "profile=default active=true generation=2 packages=2\n\
         profile=work active=false generation=1 packages=0\n",
        "{r:?}"
    );
    assert_eq!(ctx.plain(&["profile", "switch", "work"]).code, 0);
    assert!(
        !ctx.path().join("bin/app").exists(),
        "$HOME/bin shows the empty profile"
    );
    let r = ctx.plain(&["profile", "delete", "work"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("error[active-profile]"), "{r:?}");
    assert_eq!(ctx.plain(&["profile", "switch", "default"]).code, 0);
    assert_eq!(run_from_home(&ctx, "app"), "app 2.0.0\n");
    assert_eq!(ctx.plain(&["profile", "delete", "work"]).code, 0);
    assert!(!ctx.pandora_home().join("profiles/work").exists());
    let r = ctx.run(&["env"]);
    assert_eq!(
        r.stdout,
        format!(
            "export PATH=\"{}:$PATH\"\n",
            ctx.pandora_home().join("vir/bin").display()
        )
    );
}

/// Every path of a profile's current forest: `path -> target` for links, `path/` for dirs.
fn forest(ctx: &Context) -> Vec<String> {
    fn walk(root: &Path, rel: &str, out: &mut Vec<String>) {
        let mut names = pandora_tests::dir_names(&root.join(rel));
        names.sort();
        for name in names {
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let meta = std::fs::symlink_metadata(root.join(&path)).unwrap();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(root.join(&path)).unwrap();
                out.push(format!("{path} -> {}", target.display()));
            } else {
                out.push(format!("{path}/"));
                walk(root, &path, out);
            }
        }
    }
    let current = ctx.pandora_home().join("profiles/default/current");
    let root = std::fs::canonicalize(current).unwrap();
    let mut out = Vec::new();
    walk(&root, "", &mut out);
    out
}

#[test]
fn issue10_a_lockfile_rebuilds_the_profile_link_for_link_elsewhere() {
    let first = Context::new();
    let reg = setup(&first);
    let server = first.serve_registry(&reg, &[]);
    let d1 = first.start_daemon(&[]);
    first.add_registry("main", &server.url(""), 0);
    assert_eq!(first.plain(&["install", "app@2.0.0"]).code, 0);
    assert_eq!(first.plain(&["activate", "app@2.0.0"]).code, 0);
    let lock = first.path().join("exported.lock");
    let r = first.plain(&["lock", "export", "-o", lock.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    let text = std::fs::read_to_string(&lock).unwrap();
    assert_eq!(
        first.plain(&["lock", "export"]).stdout,
        text,
        "-o writes what stdout shows"
    );

    // Another home on another machine, the same registry.
    let second = Context::new();
    let _d2 = second.start_daemon(&[]);
    second.add_registry("main", &server.url(""), 0);
    let copy = second.path().join("from-first.lock");
    std::fs::copy(&lock, &copy).unwrap();
    let r = second.plain(&["lock", "apply", copy.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("holds the 2 packages of"), "{r:?}");
    assert_eq!(
        forest(&first),
        forest(&second),
        "the same forest, link for link"
    );
    assert!(!forest(&second).is_empty());
    assert_eq!(run_from_home(&second, "app"), "app 2.0.0\n");

    // A lockfile whose sha256 is not what the registry serves changes nothing.
    let third = Context::new();
    let _d3 = third.start_daemon(&[]);
    third.add_registry("main", &server.url(""), 0);
    let bad = third.path().join("bad.lock");
    let sha = pandora_common::files::Lockfile::parse(&text, "l")
        .unwrap()
        .packages
        .iter()
        .find(|p| p.pin.name == "app")
        .unwrap()
        .sha256
        .clone();
    std::fs::write(&bad, text.replace(&sha, &"0".repeat(64))).unwrap();
    let r = third.plain(&["lock", "apply", bad.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[mismatch]: app@2.0.0: the lockfile wants sha256 000"),
        "{r:?}"
    );
    assert!(third.store_entries().is_empty());
    // A lockfile that is not there: said so, with the way to make one.
    let gone = third.path().join("no.lock");
    let r = third.plain(&["lock", "apply", gone.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error[not-found]: cannot read the lockfile: ")
            && r.stderr
                .contains("hint: pandora lock export -o FILE writes one"),
        "{r:?}"
    );
    drop(d1);
}

#[test]
fn issue10_torn_copies_of_the_lockfile_and_profile_are_rewritten_at_start() {
    let ctx = Context::new();
    let reg = setup(&ctx);
    let d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &file_url(&reg), 0);
    assert_eq!(ctx.plain(&["install", "app@1.0.0", "app@2.0.0"]).code, 0);
    assert_eq!(ctx.plain(&["activate", "app@1.0.0"]).code, 0);
    assert_eq!(ctx.plain(&["activate", "app@2.0.0"]).code, 0);
    assert_eq!(ctx.plain(&["profile", "rollback"]).code, 0);
    drop(d);
    // The copies are renamed into place unsynced: a power loss may leave them empty, torn
    // or missing. The generation's own files are what counts.
    let home = ctx.pandora_home();
    let lock = home.join("manifests/default.lock");
    let config = home.join("profiles/default/profile.acl");
    std::fs::write(&lock, "").unwrap();
    std::fs::write(&config, "Profile \"default\" { string[] pack").unwrap();
    let d = ctx.start_daemon(&[]);
    let gens = home.join("profiles/default/generations");
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        std::fs::read_to_string(gens.join("1.lock")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        std::fs::read_to_string(gens.join("1.profile")).unwrap()
    );
    assert!(
        d.log()
            .contains("rewrote the lockfile of profile `default`"),
        "{}",
        d.log()
    );
    std::fs::remove_file(&lock).unwrap();
    drop(d);
    let _d = ctx.start_daemon(&[]);
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        std::fs::read_to_string(gens.join("1.lock")).unwrap()
    );
    assert!(
        ctx.plain(&["list"])
            .stdout
            .contains("name=app version=1.0.0")
    );
    assert_eq!(ctx.plain(&["activate", "app@2.0.0"]).code, 0);
    assert_eq!(run_from_home(&ctx, "app"), "app 2.0.0\n");
}

#[test]
fn issue10_a_switch_shares_the_unchanged_links_of_the_generation_before() {
    use std::os::unix::fs::MetadataExt;
    let ctx = Context::new();
    let reg = setup(&ctx);
    let _d = ctx.start_daemon(&[]);
    ctx.add_registry("main", &file_url(&reg), 0);
    assert_eq!(ctx.plain(&["install", "app@1.0.0", "app@2.0.0"]).code, 0);
    assert_eq!(ctx.plain(&["activate", "app@1.0.0"]).code, 0);
    assert_eq!(ctx.plain(&["activate", "app@2.0.0"]).code, 0);
    let gens = ctx.pandora_home().join("profiles/default/generations");
    let inode = |n: u32, path: &str| {
        std::fs::symlink_metadata(gens.join(n.to_string()).join(path))
            .unwrap()
            .ino()
    };
    // libgreet did not change: generation 2 holds the very link of generation 1.
    assert_eq!(inode(1, "bin/libgreet"), inode(2, "bin/libgreet"));
    assert_ne!(inode(1, "bin/app"), inode(2, "bin/app"));
    assert_ne!(
        inode(1, "bin"),
        inode(2, "bin"),
        "directories are each generation's"
    );
    assert_eq!(run_from_home(&ctx, "app"), "app 2.0.0\n");
    assert_eq!(run_from_home(&ctx, "libgreet"), "libgreet 1\n");
    // The shared forest is the one a fresh profile gets, link for link.
    let fresh = forest(&ctx);
    let r = ctx.plain(&["lock", "export"]);
    let lock = ctx.path().join("now.lock");
    std::fs::write(&lock, r.stdout).unwrap();
    assert_eq!(ctx.plain(&["profile", "create", "other"]).code, 0);
    let r = ctx.plain(&[
        "lock",
        "apply",
        lock.to_str().unwrap(),
        "--profile",
        "other",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ctx.plain(&["profile", "switch", "other"]).code, 0);
    let other = ctx.pandora_home().join("profiles/other/current");
    let mut built = Vec::new();
    for e in std::fs::read_dir(other.join("bin")).unwrap() {
        let e = e.unwrap();
        built.push(format!(
            "bin/{} -> {}",
            e.file_name().to_string_lossy(),
            std::fs::read_link(e.path()).unwrap().display()
        ));
    }
    built.sort();
    let shared: Vec<String> = fresh
        .into_iter()
        .filter(|l| l.starts_with("bin/") && l.contains(" -> "))
        .collect();
    assert_eq!(shared, built);
    // Deleting a profile or rolling back leaves the other generations' links working.
    assert_eq!(ctx.plain(&["profile", "switch", "default"]).code, 0);
    assert_eq!(ctx.plain(&["profile", "delete", "other"]).code, 0);
    assert_eq!(ctx.plain(&["profile", "rollback"]).code, 0);
    assert_eq!(run_from_home(&ctx, "app"), "app 1.0.0\n");
    assert_eq!(run_from_home(&ctx, "libgreet"), "libgreet 1\n");
}
