//! pandorad and `pandora` end to end: the socket and its guards, autostart and idle exit,
//! socket activation, and installing from a registry into the store.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pandora_tests::{Context, bin, repo_root};

/// A registry directory holding `packages` (each `(name, version, deps, hook)`), built with
/// the real `pandora pack` and `pandora-registry`.
fn registry(ctx: &Context, dir: &str, packages: &[(&str, &str, &[&str], Option<&str>)]) -> PathBuf {
    let reg = ctx.path().join(dir);
    assert!(
        Command::new(bin("pandora-registry"))
            .args(["init"])
            .arg(&reg)
            .args(["--name", dir])
            .status()
            .unwrap()
            .success()
    );
    let mut files = Vec::new();
    for (name, version, deps, hook) in packages {
        let src = ctx.path().join(format!("src-{dir}-{name}-{version}"));
        std::fs::create_dir_all(src.join("files/bin")).unwrap();
        std::fs::write(
            src.join("files/bin").join(name),
            format!("#!/bin/sh\necho {name} {version}\n"),
        )
        .unwrap();
        std::fs::set_permissions(
            src.join("files/bin").join(name),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
        let hooks = match hook {
            Some(text) => {
                std::fs::create_dir_all(src.join("hooks")).unwrap();
                std::fs::write(src.join("hooks/install.acl"), text).unwrap();
                "\"hooks/install.acl\""
            }
            None => "",
        };
        std::fs::write(
            src.join("manifest.acl"),
            format!(
                "manifest {{ name = \"{name}\"; version = \"{version}\"; arch = \"x86_64\"; authors = {{\"T <t@example.org>\"}}; license = \"MIT\"; description = \"package {name}\"; string[] dependencies = {{{}}}; string[] install_hooks = {{{hooks}}}; build_meta {{ builder = \"test\"; }} }}",
                deps.join(", ")
            ),
        )
        .unwrap();
        let out = ctx.path().join(format!("{dir}-{name}-{version}.pkg"));
        assert_eq!(
            ctx.run(&["pack", src.to_str().unwrap(), "-o", out.to_str().unwrap()])
                .code,
            0
        );
        files.push(out);
    }
    if !files.is_empty() {
        let st = Command::new(bin("pandora-registry"))
            .arg("add")
            .arg(&reg)
            .args(&files)
            .status()
            .unwrap();
        assert!(st.success());
    }
    reg
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

fn store_entries(ctx: &Context) -> Vec<String> {
    let mut out = Vec::new();
    let store = ctx.pandora_home().join("store");
    for name in std::fs::read_dir(&store).into_iter().flatten().flatten() {
        for v in std::fs::read_dir(name.path()).unwrap().flatten() {
            out.push(format!(
                "{}@{}",
                name.file_name().to_string_lossy(),
                v.file_name().to_string_lossy()
            ));
        }
    }
    out.sort();
    out
}

fn tmp_is_empty(ctx: &Context) -> bool {
    std::fs::read_dir(ctx.pandora_home().join("tmp"))
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

#[test]
fn daemon_guards_its_socket_and_home() {
    let ctx = Context::new();
    let d = ctx.start_daemon(&[]);
    let run = ctx.pandora_home().join("run");
    assert_eq!(
        std::fs::metadata(&run).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(run.join("sock"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // A second daemon on the same home refuses, naming the first one's pid.
    let second = Command::new(bin("pandorad"))
        .env("PANDORA_HOME", ctx.pandora_home())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let msg = String::from_utf8_lossy(&second.stderr);
    assert!(
        msg.contains(&format!("pandorad (pid {}) already serves", d.child.id())),
        "{msg}"
    );
    // status answers with our daemon's pid.
    let r = ctx.client(&["--log", "plain", "status"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(&format!("pid={} ", d.child.id())),
        "{r:?}"
    );
    assert!(r.stdout.contains("store_packages=0"), "{r:?}");
    // SIGTERM: a clean exit that removes the socket.
    let status = d.stop();
    assert!(status.success(), "{status:?}");
    assert!(!run.join("sock").exists());
}

#[test]
fn a_client_of_another_uid_is_refused() {
    let ctx = Context::new();
    let d = ctx.start_daemon(&[]);
    // Open the way so only SO_PEERCRED stands between `nobody` and the daemon.
    for p in [
        ctx.path().to_path_buf(),
        ctx.pandora_home(),
        ctx.pandora_home().join("run"),
        ctx.pandora_home().join("run/sock"),
    ] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin("pandora"))
        .arg("status")
        .env("PANDORA_HOME", ctx.pandora_home())
        .env("PANDORA_NO_AUTOSTART", "1")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "another uid must not get an answer: {out:?}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        d.log().contains("refused a connection from another user"),
        "{}",
        d.log()
    );
    // The owner still gets answers.
    assert_eq!(ctx.client(&["status"]).code, 0);
}

#[test]
fn autostart_then_idle_exit() {
    let ctx = Context::new();
    let r = Run2::new(
        ctx.pandora()
            .env("PANDORA_IDLE_TIMEOUT", "2")
            .args(["--log", "plain", "status"]),
    );
    assert_eq!(r.0, 0, "{}", r.1);
    assert!(r.1.contains("idle_exit_secs=2"), "{}", r.1);
    let pid: u32 =
        r.1.split("pid=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
    let sock = ctx.pandora_home().join("run/sock");
    assert!(sock.exists());
    let deadline = Instant::now() + Duration::from_secs(15);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the autostarted daemon exits when idle"
    );
    assert!(!sock.exists(), "and removes its socket");
}

/// Exit code and stdout of a command.
struct Run2(i32, String);

impl Run2 {
    fn new(cmd: &mut Command) -> Run2 {
        let out = cmd.output().unwrap();
        Run2(
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }
}

#[test]
fn socket_activation_through_an_inherited_fd() {
    let ctx = Context::new();
    let home = ctx.pandora_home();
    std::fs::create_dir_all(home.join("run")).unwrap();
    let sock = ctx.path().join("activation.sock");
    // Like systemd: bind and listen, then exec the daemon with the socket as fd 3 and
    // LISTEN_FDS/LISTEN_PID naming it.
    let script = format!(
        "import os, socket\ns = socket.socket(socket.AF_UNIX)\ns.bind({sock:?})\ns.listen(16)\nos.dup2(s.fileno(), 3)\nos.set_inheritable(3, True)\nos.environ['LISTEN_FDS'] = '1'\nos.environ['LISTEN_PID'] = str(os.getpid())\nos.execv({bin:?}, ['pandorad'])\n",
        sock = sock.display().to_string(),
        bin = bin("pandorad").display().to_string()
    );
    let log = ctx.path().join("activated.log");
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .env("PANDORA_HOME", &home)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("pandorad ready")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Point the client at the activated socket through the usual path.
    std::os::unix::fs::symlink(&sock, home.join("run/sock")).unwrap();
    let r = ctx.client(&["--log", "plain", "status"]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        r.code,
        0,
        "{r:?}\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(r.stdout.contains(&format!("pid={} ", child.id())), "{r:?}");
}

#[test]
fn install_with_dependencies_from_a_file_registry() {
    let ctx = Context::new();
    let reg = registry(
        &ctx,
        "main",
        &[
            ("libfoo", "1.0.0", &[], None),
            (
                "app",
                "2.0.0",
                &["libfoo@1.0.0"],
                Some("preinstall { action = \"info\"; msg = \"setting up app\"; }"),
            ),
            ("app", "2.1.0", &["libfoo@1.0.0"], None),
        ],
    );
    let _d = ctx.start_daemon(&[]);
    assert_eq!(
        ctx.client(&["registry", "add", "main", &file_url(&reg)])
            .code,
        0
    );
    let r = ctx.client(&["--log", "plain", "install", "app@2.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("result=\"installed app@2.0.0 (from main)\""),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("result=\"installed libfoo@1.0.0 (from main)\""),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("setting up app"),
        "the info hook is shown: {r:?}"
    );
    assert_eq!(store_entries(&ctx), ["app@2.0.0", "libfoo@1.0.0"]);
    // The store entry: files, files.acl, the verified archive hash, read-only files.
    let entry = ctx.pandora_home().join("store/app/2.0.0");
    let script = entry.join("files/bin/app");
    assert_eq!(
        std::fs::read_to_string(&script).unwrap(),
        "#!/bin/sh\necho app 2.0.0\n"
    );
    assert_eq!(
        std::fs::metadata(&script).unwrap().permissions().mode() & 0o777,
        0o555
    );
    let files = pandora_common::files::FileList::parse(
        &std::fs::read_to_string(entry.join("files.acl")).unwrap(),
        "files.acl",
    )
    .unwrap();
    assert!(files.files.iter().any(|f| f.path == "files/bin/app"));
    let manifest = pandora_common::files::Manifest::parse(
        &std::fs::read_to_string(entry.join("manifest.acl")).unwrap(),
        "m",
    )
    .unwrap();
    let index = pandora_common::files::Index::parse(
        &std::fs::read_to_string(reg.join("index.acl")).unwrap(),
        "i",
    )
    .unwrap();
    assert_eq!(
        manifest.archive_sha256.as_deref(),
        Some(
            index
                .package("app")
                .unwrap()
                .version("2.0.0")
                .unwrap()
                .sha256
                .as_str()
        )
    );
    let events = std::fs::read_to_string(ctx.pandora_home().join("log/events.log")).unwrap();
    assert!(
        events.contains(" install app@2.0.0 sha256=") && events.contains("registry=main"),
        "{events}"
    );
    // A bare name means the registry's latest, and the pin is printed.
    let r = ctx.client(&["--log", "plain", "install", "app"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("app is app@2.1.0 (latest in registry `main`)"),
        "{r:?}"
    );
    assert!(r.stdout.contains("installed app@2.1.0"), "{r:?}");
    // Already there: nothing to do.
    let r = ctx.client(&["--log", "plain", "install", "app@2.0.0"]);
    assert!(r.stdout.contains("already installed app@2.0.0"), "{r:?}");
    let r = ctx.client(&["--log", "plain", "list", "--store"]);
    assert_eq!(r.stdout.lines().count(), 3, "{r:?}");
    assert!(tmp_is_empty(&ctx));
}

#[test]
fn a_missing_dependency_installs_nothing() {
    let ctx = Context::new();
    let reg = registry(
        &ctx,
        "main",
        &[
            ("app", "1.0.0", &["ghost@9.9.9"], None),
            ("ok", "1.0.0", &[], None),
        ],
    );
    let _d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let r = ctx.client(&["install", "ok@1.0.0", "app@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("ghost@9.9.9, needed by app@1.0.0, is in no registry (asked `main`); nothing was installed"),
        "{r:?}"
    );
    assert!(
        store_entries(&ctx).is_empty(),
        "ok@1.0.0 is not installed either"
    );
    assert!(tmp_is_empty(&ctx));
}

#[test]
fn a_run_hook_is_refused_until_the_sandbox_exists() {
    let ctx = Context::new();
    let reg = registry(
        &ctx,
        "main",
        &[(
            "hooked",
            "1.0.0",
            &[],
            Some("postinstall { action = \"run\"; command = {\"bin/hooked\"}; }"),
        )],
    );
    let _d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let r = ctx.client(&["install", "hooked@1.0.0"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("hooked@1.0.0 has a `run` hook"), "{r:?}");
    assert!(r.stderr.contains("not installed"), "{r:?}");
    assert!(store_entries(&ctx).is_empty());
    assert!(tmp_is_empty(&ctx));
}

#[test]
fn a_local_package_installs_with_registry_dependencies() {
    let ctx = Context::new();
    let reg = registry(&ctx, "main", &[("libgreet", "2.1.0", &[], None)]);
    let _d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let pkg = ctx.path().join("hello.pkg");
    assert_eq!(
        ctx.run(&[
            "pack",
            repo_root().join("examples/hello").to_str().unwrap(),
            "-o",
            pkg.to_str().unwrap()
        ])
        .code,
        0
    );
    let r = ctx.client(&["--log", "plain", "install", "./hello.pkg"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("installed hello@1.0.0 (from local)"),
        "{r:?}"
    );
    assert_eq!(store_entries(&ctx), ["hello@1.0.0", "libgreet@2.1.0"]);
}

#[test]
fn a_crash_before_the_store_rename_leaves_no_trace() {
    let ctx = Context::new();
    let reg = registry(&ctx, "main", &[("app", "1.0.0", &[], None)]);
    let mut d = ctx.start_daemon(&[("PANDORA_FAILPOINT", "install-before-rename")]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let r = ctx.client(&["install", "app@1.0.0"]);
    assert_ne!(r.code, 0, "the daemon died mid-install: {r:?}");
    let _ = d.child.wait();
    assert!(store_entries(&ctx).is_empty(), "nothing half-installed");
    assert!(
        !tmp_is_empty(&ctx),
        "the staging is still there until the next start"
    );
    // Restart: recovery clears tmp/ and says so; the install then succeeds.
    let d2 = ctx.start_daemon(&[]);
    assert!(tmp_is_empty(&ctx));
    assert!(
        d2.log().contains("recovery: removed interrupted staging"),
        "{}",
        d2.log()
    );
    let r = ctx.client(&["install", "app@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(store_entries(&ctx), ["app@1.0.0"]);
}

#[test]
fn two_clients_install_at_once() {
    let ctx = Context::new();
    let reg = registry(
        &ctx,
        "main",
        &[("one", "1.0.0", &[], None), ("two", "1.0.0", &[], None)],
    );
    let _d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| ctx.client(&["install", "one@1.0.0"]));
        let b = s.spawn(|| ctx.client(&["install", "two@1.0.0"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!((a.code, b.code), (0, 0), "{a:?} {b:?}");
    assert_eq!(store_entries(&ctx), ["one@1.0.0", "two@1.0.0"]);
}

#[test]
fn registries_are_configured_in_registries_acl() {
    let ctx = Context::new();
    let _d = ctx.start_daemon(&[]);
    assert_eq!(
        ctx.client(&[
            "registry",
            "add",
            "main",
            "https://pkgs.example.org",
            "--priority",
            "5"
        ])
        .code,
        0
    );
    assert_eq!(
        ctx.client(&[
            "registry",
            "add",
            "local",
            "file:///srv/reg",
            "--priority",
            "50"
        ])
        .code,
        0
    );
    let r = ctx.client(&["--log", "plain", "registry", "list"]);
    let names: Vec<&str> = r
        .stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(names, ["name=local", "name=main"], "highest priority first");
    let text = std::fs::read_to_string(ctx.pandora_home().join("registries.acl")).unwrap();
    assert!(pandora_common::files::RegistryList::parse(&text, "registries.acl").is_ok());
    let r = ctx.client(&["registry", "add", "bad", "ftp://x"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("`ftp://x` is not a registry URL"),
        "{r:?}"
    );
    assert_eq!(ctx.client(&["registry", "remove", "main"]).code, 0);
    let r = ctx.client(&["registry", "remove", "main"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("hint: pandora registry list"), "{r:?}");
}

#[test]
fn kill_9_mid_unpack_then_restart_leaves_no_trace() {
    let ctx = Context::new();
    // Thousands of small files: unpacking takes long enough to be caught in the middle.
    let src = ctx.path().join("src-big");
    std::fs::create_dir_all(src.join("files/share")).unwrap();
    for i in 0..4000 {
        std::fs::write(
            src.join(format!("files/share/f{i:05}")),
            format!("{i} {}\n", "data ".repeat(40 + i % 50)),
        )
        .unwrap();
    }
    std::fs::write(
        src.join("manifest.acl"),
        "manifest { name = \"big\"; version = \"1.0.0\"; arch = \"any\"; authors = {\"T\"}; license = \"MIT\"; string[] dependencies = {}; string[] install_hooks = {}; build_meta { builder = \"test\"; } }",
    )
    .unwrap();
    let pkg = ctx.path().join("big.pkg");
    assert_eq!(
        ctx.run(&["pack", src.to_str().unwrap(), "-o", pkg.to_str().unwrap()])
            .code,
        0
    );
    let reg = registry(&ctx, "main", &[]);
    assert!(
        Command::new(bin("pandora-registry"))
            .arg("add")
            .arg(&reg)
            .arg(&pkg)
            .status()
            .unwrap()
            .success()
    );
    let mut d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let mut client = ctx
        .pandora()
        .env("PANDORA_NO_AUTOSTART", "1")
        .args(["install", "big@1.0.0"])
        .spawn()
        .unwrap();
    // Wait until the staging directory has files in it, then kill the daemon outright.
    let tmp = ctx.pandora_home().join("tmp");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut caught = false;
    while Instant::now() < deadline {
        let staging = std::fs::read_dir(&tmp)
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with("unpack-"));
        if let Some(s) = staging
            && std::fs::read_dir(s.path().join("files/share"))
                .map(|d| d.count() > 10)
                .unwrap_or(false)
        {
            caught = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = Command::new("kill")
        .arg("-9")
        .arg(d.child.id().to_string())
        .status();
    let _ = d.child.wait();
    let _ = client.wait();
    assert!(caught, "the unpack was caught in the middle");
    assert!(
        store_entries(&ctx).is_empty(),
        "nothing half-installed in the store"
    );
    // Restart: recovery removes the half-unpacked staging; installing again works.
    let d2 = ctx.start_daemon(&[]);
    assert!(tmp_is_empty(&ctx));
    assert!(
        d2.log().contains("recovery: removed interrupted staging"),
        "{}",
        d2.log()
    );
    let r = ctx.client(&["install", "big@1.0.0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(store_entries(&ctx), ["big@1.0.0"]);
    assert_eq!(ctx.client(&["verify", "big@1.0.0"]).code, 0);
}

/// Runs `pandora ARGS` with `PANDORA_ASK=1` (ask as at a terminal), answering `answer`.
fn with_answer(ctx: &Context, args: &[&str], answer: &str) -> pandora_tests::Run {
    use std::io::Write;
    let mut child = ctx
        .pandora()
        .env("PANDORA_NO_AUTOSTART", "1")
        .env("PANDORA_ASK", "1")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(answer.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    pandora_tests::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn install_shows_the_plan_and_asks_at_a_terminal() {
    let ctx = Context::new();
    let reg = registry(
        &ctx,
        "main",
        &[
            ("libfoo", "1.0.0", &[], None),
            ("app", "1.0.0", &["libfoo@1.0.0"], None),
        ],
    );
    let _d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    // No: the plan is shown, nothing is installed.
    let r = with_answer(&ctx, &["--log", "plain", "install", "app"], "n\n");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("will install app@1.0.0 from registry `main`"),
        "{r:?}"
    );
    assert!(
        r.stdout
            .contains("will install libfoo@1.0.0 from registry `main`")
            && r.stdout.contains("for app@1.0.0"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("Install 2 packages") && r.stderr.contains("nothing installed"),
        "{r:?}"
    );
    assert!(store_entries(&ctx).is_empty());
    // Yes: the confirmed plan is applied.
    let r = with_answer(&ctx, &["--log", "plain", "install", "app"], "y\n");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(store_entries(&ctx), ["app@1.0.0", "libfoo@1.0.0"]);
    // --yes answers for the user: no question.
    let other = registry(&ctx, "more", &[("tool", "1.0.0", &[], None)]);
    ctx.client(&["registry", "add", "more", &file_url(&other)]);
    let r = with_answer(&ctx, &["--yes", "install", "tool@1.0.0"], "");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("[Y/n]"), "{r:?}");
}

#[test]
fn a_plan_that_changed_after_it_was_shown_is_refused() {
    use std::io::{Read, Write};
    let ctx = Context::new();
    let reg = registry(&ctx, "main", &[("app", "1.0.0", &[], None)]);
    let _d = ctx.start_daemon(&[]);
    ctx.client(&["registry", "add", "main", &file_url(&reg)]);
    let mut child = ctx
        .pandora()
        .env("PANDORA_NO_AUTOSTART", "1")
        .env("PANDORA_ASK", "1")
        .args(["install", "app"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.lock().unwrap().contains("[Y/n]") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // While the user reads the plan, the registry publishes a newer app: `app` now means 2.0.0.
    let src = ctx.path().join("src-app-2");
    std::fs::create_dir_all(src.join("files")).unwrap();
    std::fs::write(src.join("files/app"), "2").unwrap();
    std::fs::write(src.join("manifest.acl"), "manifest { name = \"app\"; version = \"2.0.0\"; arch = \"any\"; authors = {\"T\"}; license = \"MIT\"; string[] dependencies = {}; string[] install_hooks = {}; build_meta { builder = \"t\"; } }").unwrap();
    let pkg = ctx.path().join("app-2.pkg");
    assert_eq!(
        ctx.run(&["pack", src.to_str().unwrap(), "-o", pkg.to_str().unwrap()])
            .code,
        0
    );
    assert!(
        Command::new(bin("pandora-registry"))
            .arg("add")
            .arg(&reg)
            .arg(&pkg)
            .status()
            .unwrap()
            .success()
    );
    child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let err = seen.lock().unwrap().clone();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("the plan changed after it was shown"), "{err}");
    assert!(store_entries(&ctx).is_empty(), "nothing installed");
}
