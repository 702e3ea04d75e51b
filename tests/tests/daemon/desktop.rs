//! Desktop integration (issue 10, item 9): desktop entries, icons, man pages and shell
//! completions of the active profile show under the XDG data home and leave with their
//! package; what the user has there stays; `vir/bin` goes on the desktop session's PATH only
//! with consent, and the answer is remembered.

use super::*;

/// The XDG directories the daemon is given: inside the temporary home, not the defaults,
/// so that honouring them is tested too.
struct Xdg {
    data: PathBuf,
    config: PathBuf,
    /// `update-desktop-database` of the daemon's PATH appends its arguments here.
    udd_log: PathBuf,
}

/// Starts the daemon with `XDG_DATA_HOME`, `XDG_CONFIG_HOME` and, first on its PATH, a
/// `update-desktop-database` that records its arguments.
fn start(ctx: &Context) -> (Daemon, Xdg) {
    let xdg = Xdg {
        data: ctx.path().join("xdg/share"),
        config: ctx.path().join("xdg/config"),
        udd_log: ctx.path().join("update-desktop-database.log"),
    };
    let tool = ctx.write(
        "tools/update-desktop-database",
        &format!("#!/bin/sh\necho \"$@\" >> '{}'\n", xdg.udd_log.display()),
    );
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        ctx.path().join("tools").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let d = ctx.start_daemon(&[
        ("XDG_DATA_HOME", xdg.data.to_str().unwrap()),
        ("XDG_CONFIG_HOME", xdg.config.to_str().unwrap()),
        ("PATH", &path),
    ]);
    (d, xdg)
}

/// Packs `name@version` with `bin/<name>` and `files` (paths below `files/`), with the real
/// `pandora pack`, and installs it from the file.
fn install(ctx: &Context, name: &str, version: &str, files: &[(&str, &str)]) {
    let src = ctx.path().join("pkg-src").join(format!("{name}-{version}"));
    let mut all = vec![(format!("bin/{name}"), format!("#!/bin/sh\necho {name}\n"))];
    all.extend(files.iter().map(|(p, t)| (p.to_string(), t.to_string())));
    for (rel, text) in &all {
        let path = src.join("files").join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    std::fs::set_permissions(
        src.join("files/bin").join(name),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(
        src.join("manifest.acl"),
        format!(
            "manifest {{\n    string name = \"{name}\";\n    string version = \"{version}\";\n    \
             string arch = \"x86_64\";\n    string[] authors = {{ \"T <t@example.org>\" }};\n    \
             string license = \"MIT\";\n    string[] dependencies = {{}};\n    \
             string[] install_hooks = {{}};\n    build_meta {{ builder = \"test\"; }}\n}}\n"
        ),
    )
    .unwrap();
    let pkg = ctx.path().join(format!("{name}-{version}.pkg"));
    let r = ctx.run(&["pack", src.to_str().unwrap(), "-o", pkg.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = ctx.plain(&["install", pkg.to_str().unwrap(), "--no-activate"]);
    assert_eq!(r.code, 0, "{r:?}");
}

const VIEWER_DESKTOP: &str =
    "[Desktop Entry]\nType=Application\nName=Viewer\nExec=viewer %f\nIcon=org.example.Viewer\n";

/// `viewer@1.0`: a desktop entry, an icon, a man page and completions for bash and fish.
fn install_viewer(ctx: &Context) {
    install(
        ctx,
        "viewer",
        "1.0",
        &[
            (
                "share/applications/org.example.Viewer.desktop",
                VIEWER_DESKTOP,
            ),
            (
                "share/icons/hicolor/48x48/apps/org.example.Viewer.png",
                "png",
            ),
            (
                "share/man/man1/viewer.1",
                ".TH VIEWER 1\n.SH NAME\nviewer \\- views\n",
            ),
            (
                "share/bash-completion/completions/viewer",
                "complete -F _viewer viewer\n",
            ),
            (
                "share/fish/vendor_completions.d/viewer.fish",
                "complete -c viewer\n",
            ),
        ],
    );
}

fn is_gone(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_err()
}

fn udd_runs(xdg: &Xdg) -> Vec<String> {
    std::fs::read_to_string(&xdg.udd_log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn issue10_item9_desktop_files_icons_and_man_pages_follow_the_active_profile() {
    let ctx = Context::new();
    let (_d, xdg) = start(&ctx);
    install_viewer(&ctx);
    install(
        &ctx,
        "notes",
        "1",
        &[(
            "share/applications/notes.desktop",
            "[Desktop Entry]\nType=Application\nName=Notes\nExec=notes\n",
        )],
    );
    let entry = xdg.data.join("applications/org.example.Viewer.desktop");
    let icon = xdg
        .data
        .join("icons/hicolor/48x48/apps/org.example.Viewer.png");
    let page = xdg.data.join("man/man1/viewer.1");
    let bash = xdg.data.join("bash-completion/completions/viewer");
    let fish = xdg.data.join("fish/vendor_completions.d/viewer.fish");

    let r = ctx.plain(&["activate", "viewer"]);
    assert_eq!(r.code, 0, "{r:?}");
    // Each file is a link of its own, at the place the desktop's tools read, through vir.
    assert_eq!(
        std::fs::read_link(&entry).unwrap(),
        ctx.pandora_home()
            .join("vir/share/applications/org.example.Viewer.desktop")
    );
    assert_eq!(std::fs::read_to_string(&entry).unwrap(), VIEWER_DESKTOP);
    assert_eq!(std::fs::read_to_string(&icon).unwrap(), "png");
    assert!(
        std::fs::read_to_string(&page)
            .unwrap()
            .starts_with(".TH VIEWER 1")
    );
    assert!(bash.is_file() && fish.is_file());
    assert_eq!(
        udd_runs(&xdg),
        [xdg.data.join("applications").display().to_string()],
        "update-desktop-database refreshed the applications directory"
    );
    // man-db finds the page: it looks in `../share/man` of each PATH entry.
    if Path::new("/usr/bin/man").exists() {
        std::fs::create_dir_all(ctx.path().join("xdg/bin")).unwrap();
        let r = Run::of(
            Command::new("/usr/bin/man")
                .args(["-w", "viewer"])
                .env_clear()
                .env("HOME", ctx.path())
                .env(
                    "PATH",
                    format!("{}:/usr/bin:/bin", ctx.path().join("xdg/bin").display()),
                ),
        );
        // man names the file the link leads to.
        let found = std::fs::canonicalize(&page).unwrap();
        assert_eq!(r.stdout.trim(), found.display().to_string(), "{r:?}");
    }

    // A second package's entry beside it; then viewer leaves, and its files with it.
    assert_eq!(ctx.plain(&["activate", "notes"]).code, 0);
    assert!(xdg.data.join("applications/notes.desktop").is_file());
    assert!(entry.is_file());
    let r = ctx.plain(&["deactivate", "viewer"]);
    assert_eq!(r.code, 0, "{r:?}");
    for gone in [&entry, &icon, &page, &bash, &fish] {
        assert!(is_gone(gone), "{} is still there", gone.display());
    }
    assert!(
        is_gone(&xdg.data.join("icons/hicolor")),
        "the directories made for the icon went with it"
    );
    assert!(xdg.data.join("applications/notes.desktop").is_file());
    assert_eq!(udd_runs(&xdg).len(), 3, "{:?}", udd_runs(&xdg));

    // A rollback brings viewer's files back; another profile shows its own (none).
    let r = ctx.plain(&["profile", "rollback"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(std::fs::read_to_string(&entry).unwrap(), VIEWER_DESKTOP);
    assert!(icon.is_file());
    assert_eq!(ctx.plain(&["profile", "create", "empty"]).code, 0);
    assert_eq!(ctx.plain(&["profile", "switch", "empty"]).code, 0);
    assert!(is_gone(&entry) && is_gone(&icon));
    assert!(is_gone(&xdg.data.join("applications/notes.desktop")));
    assert_eq!(ctx.plain(&["profile", "switch", "default"]).code, 0);
    assert!(entry.is_file() && page.is_file());
}

#[test]
fn issue10_item9_a_file_of_the_users_own_is_left_alone_and_reported() {
    let ctx = Context::new();
    let (_d, xdg) = start(&ctx);
    install_viewer(&ctx);
    let entry = xdg.data.join("applications/org.example.Viewer.desktop");
    std::fs::create_dir_all(entry.parent().unwrap()).unwrap();
    std::fs::write(&entry, "mine").unwrap();
    // Directory links of the user's: one to a directory elsewhere, one dangling.
    let elsewhere = ctx.path().join("my-icons");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let hicolor = xdg.data.join("icons/hicolor");
    std::fs::create_dir_all(hicolor.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &hicolor).unwrap();
    let bash_dir = xdg.data.join("bash-completion/completions");
    std::fs::create_dir_all(bash_dir.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("/nonexistent/elsewhere", &bash_dir).unwrap();

    let r = ctx.plain(&["activate", "viewer"]);
    assert_eq!(r.code, 0, "{r:?}");
    let said = format!(
        "{} already exists and is yours, so Pandora left it alone",
        entry.display()
    );
    assert!(r.stdout.contains(&said), "{r:?}");
    for dir in [&hicolor, &bash_dir] {
        assert!(
            r.stdout
                .contains(&format!("{} already exists", dir.display())),
            "a directory link of the user's is not written through: {r:?}"
        );
    }
    assert!(pandora_tests::dir_names(&elsewhere).is_empty());
    assert_eq!(std::fs::read_to_string(&entry).unwrap(), "mine");
    assert!(
        !std::fs::symlink_metadata(&entry)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        xdg.data.join("man/man1/viewer.1").is_file(),
        "the rest is linked"
    );
    assert_eq!(ctx.plain(&["deactivate", "viewer"]).code, 0);
    assert_eq!(std::fs::read_to_string(&entry).unwrap(), "mine");
    assert_eq!(
        std::fs::read_link(&bash_dir).unwrap(),
        Path::new("/nonexistent/elsewhere")
    );
    assert_eq!(std::fs::read_link(&hicolor).unwrap(), elsewhere);
}

/// `pandora ARGS` asked as at a terminal, answering `answer`.
fn answering(ctx: &Context, answer: &str, args: &[&str]) -> Run {
    ctx.answering(args, answer)
}

const QUESTION: &str = "Put ~/pandora/vir/bin on your desktop session's PATH \
                        (~/xdg/config/environment.d/pandora.conf)? [Y/n]";

#[test]
fn issue10_item9_the_session_path_is_written_only_with_consent_and_the_answer_is_kept() {
    let ctx = Context::new();
    let (_d, xdg) = start(&ctx);
    install_viewer(&ctx);
    install(&ctx, "notes", "1", &[]);
    let conf = xdg.config.join("environment.d/pandora.conf");
    let decision = ctx.pandora_home().join("desktop.acl");

    // No terminal, no --yes: nothing written, nothing decided, and the way is shown.
    let r = ctx.plain(&["activate", "viewer"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("pandora env --session on"), "{r:?}");
    assert!(!r.stderr.contains("[Y/n]"), "{r:?}");
    assert!(is_gone(&conf) && is_gone(&decision));

    // --yes answers yes.
    let r = ctx.plain(&["--yes", "activate", "notes"]);
    assert_eq!(r.code, 0, "{r:?}");
    let text = std::fs::read_to_string(&conf).unwrap();
    let line = format!(
        "PATH={}:$PATH",
        ctx.pandora_home().join("vir/bin").display()
    );
    assert!(text.lines().any(|l| l == line), "{text}");
    assert!(
        std::fs::read_to_string(&decision)
            .unwrap()
            .contains("session_path = true")
    );
    // systemd reads it as meant, when its generator is here to ask.
    let generator = Path::new(
        "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator",
    );
    if generator.exists() {
        let r = Run::of(
            Command::new(generator)
                .env_clear()
                .env("HOME", ctx.path())
                .env("XDG_CONFIG_HOME", &xdg.config)
                .env("PATH", "/usr/bin:/bin"),
        );
        let want = format!(
            "PATH={}:/usr/bin:/bin",
            ctx.pandora_home().join("vir/bin").display()
        );
        assert!(r.stdout.lines().any(|l| l == want), "{r:?}");
    }

    // Decided: never asked again, even at a terminal.
    let r = answering(&ctx, "n\n", &["activate", "viewer"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("[Y/n]"), "{r:?}");
    assert!(!r.stderr.contains("env --session"), "{r:?}");
    assert!(conf.is_file());

    // Changing one's mind: off removes Pandora's file, on writes it again.
    let r = ctx.plain(&["env", "--session", "off"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(is_gone(&conf));
    assert!(
        std::fs::read_to_string(&decision)
            .unwrap()
            .contains("session_path = false")
    );
    assert_eq!(ctx.plain(&["env", "--session", "on"]).code, 0);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), text);
    // A file of the user's at that place is theirs.
    std::fs::write(&conf, "PATH=/opt/mine:$PATH\n").unwrap();
    let r = ctx.plain(&["env", "--session", "off"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("is yours, so Pandora left it alone"),
        "{r:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&conf).unwrap(),
        "PATH=/opt/mine:$PATH\n"
    );
}

#[test]
fn issue10_item9_no_at_the_question_is_kept_and_not_asked_again() {
    let ctx = Context::new();
    let (_d, xdg) = start(&ctx);
    install_viewer(&ctx);
    let conf = xdg.config.join("environment.d/pandora.conf");
    let r = answering(&ctx, "n\n", &["activate", "viewer"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains(QUESTION), "{r:?}");
    assert!(is_gone(&conf));
    let decision = ctx.pandora_home().join("desktop.acl");
    assert!(
        std::fs::read_to_string(&decision)
            .unwrap()
            .contains("session_path = false")
    );
    assert_eq!(ctx.plain(&["deactivate", "viewer"]).code, 0);
    let r = answering(&ctx, "y\n", &["activate", "viewer"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("[Y/n]"), "asked once: {r:?}");
    assert!(is_gone(&conf));
}
