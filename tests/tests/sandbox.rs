//! The sandbox (`pandora-sandbox`, the helper `pandorad` runs builds and hooks through), as
//! root and as an ordinary user made for the test:
//! escape attempts are refused and leave nothing outside the output directory, runaway jobs
//! are killed by the limits, and a kernel that refuses user namespaces runs nothing.

// Tests set up and inspect files directly; a failure fails the test.
#![allow(clippy::disallowed_methods)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use pandora_tests::{Context, bin, repo_root};

/// The ordinary user the tests run the sandbox as (created once, when running as root).
const USER: &str = "pandora-sandbox-test";

/// Who runs the sandbox: this process's user, or [`USER`] through `setpriv`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum As {
    Me,
    Ordinary,
}

fn running_as_root() -> bool {
    rustix_uid() == 0
}

fn rustix_uid() -> u32 {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// `(uid, gid)` of [`USER`], made if missing (as root only).
fn ordinary_user() -> Option<(u32, u32)> {
    if !running_as_root() {
        return None;
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, USER]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    if id("-u").is_none() {
        // Several tests may race to make it; "already exists" (9) is fine.
        let status = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                USER,
            ])
            .status()
            .unwrap();
        assert!(matches!(status.code(), Some(0 | 9)), "useradd: {status:?}");
    }
    Some((id("-u")?, id("-g")?))
}

/// The runners to test: this user, and an ordinary one when the tests run as root.
fn runners() -> Vec<As> {
    let mut out = vec![As::Me];
    if ordinary_user().is_some() {
        out.push(As::Ordinary);
    }
    out
}

/// A world-readable directory with its own copy of `pandora-sandbox`, owned by the runner.
struct Place {
    _ctx: Context,
    root: PathBuf,
    helper: PathBuf,
    who: As,
}

impl Place {
    fn new(who: As) -> Place {
        let ctx = Context::new();
        let root = ctx.path().to_path_buf();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let helper = root.join("pandora-sandbox");
        std::fs::copy(bin("pandora-sandbox"), &helper).unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        Place {
            _ctx: ctx,
            root,
            helper,
            who,
        }
    }

    /// A directory under the place, owned by the runner.
    fn dir(&self, rel: &str) -> PathBuf {
        let d = self.root.join(rel);
        std::fs::create_dir_all(&d).unwrap();
        self.own(&d);
        d
    }

    fn own(&self, path: &Path) {
        if let (As::Ordinary, Some((uid, gid))) = (self.who, ordinary_user()) {
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{uid}:{gid}"))
                .arg(path)
                .status()
                .unwrap();
            assert!(status.success());
        }
    }

    /// `pandora-sandbox ARGS` with secrets in the helper's own environment, which the job
    /// must not see.
    fn sandbox_with_env(&self, args: &[&str]) -> Output {
        run_copied(
            Command::new(&self.helper)
                .args(args)
                .current_dir(&self.root)
                .env("SSH_AUTH_SOCK", "/run/user/1000/ssh-agent")
                .env("PANDORA_HOME", "/home/someone/pandora"),
        )
    }

    /// `pandora-sandbox ARGS`, as the runner.
    fn sandbox(&self, args: &[&str]) -> Output {
        let mut cmd = match (self.who, ordinary_user()) {
            (As::Ordinary, Some((uid, gid))) => {
                let mut c = Command::new("setpriv");
                c.args([
                    format!("--reuid={uid}"),
                    format!("--regid={gid}"),
                    "--clear-groups".into(),
                ])
                .arg(&self.helper);
                c
            }
            _ => Command::new(&self.helper),
        };
        cmd.args(args).current_dir(&self.root);
        run_copied(&mut cmd)
    }
}

/// Runs `cmd`, whose program the test has just copied: while another test thread forks, its
/// child briefly holds every open descriptor, the copy's too, and exec answers "text file
/// busy" until that child has exec'd in turn. So that error is waited out.
fn run_copied(cmd: &mut Command) -> Output {
    for _ in 0..50 {
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every file under `dir`, with its contents, to compare before and after a job.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
                out.push((p, Vec::new()));
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn escape_attempts_are_refused_as_root_and_as_an_ordinary_user() {
    let probe_dir = tempfile::tempdir().unwrap();
    let probe = probe_dir.path().join("escape");
    let cc = Command::new("cc")
        .arg("-O1")
        .arg("-o")
        .arg(&probe)
        .arg(repo_root().join("tests/fixtures/escape.c"))
        .output()
        .unwrap();
    assert!(cc.status.success(), "{}", text(&cc));

    for who in runners() {
        let place = Place::new(who);
        // The user's home with a key, a store, an input and an output.
        let home = place.dir("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/id_ed25519"), "secret key").unwrap();
        let store = place.dir("home/pandora/store");
        let input = place.dir("input");
        std::fs::copy(&probe, input.join("escape")).unwrap();
        std::fs::write(input.join("data"), "input").unwrap();
        place.own(&home);
        place.own(&input);
        let out = place.dir("out");
        let before = (snapshot(&home), snapshot(&input));
        // A server on the host's loopback that the job must not reach.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let host_tmp_marker = format!("/tmp/pandora-escape-{}", std::process::id());

        let r = place.sandbox(&[
            "--ro",
            &format!("{}:/build/src", input.display()),
            "--rw",
            &format!("{}:/build/out", out.display()),
            "--",
            "/bin/sh",
            "-c",
            &format!(
                "/build/src/escape {} {} {port} /build/out && echo x > {host_tmp_marker} && id -u",
                home.display(),
                store.display()
            ),
        ]);
        let report = String::from_utf8_lossy(&r.stdout).into_owned();
        assert!(r.status.success(), "{who:?}: {}", text(&r));
        let lines: Vec<&str> = report.lines().collect();
        assert_eq!(lines.len(), 23, "{who:?}: {report}");
        for line in &lines[..lines.len() - 1] {
            assert!(line.ends_with(" refused"), "{who:?}: {line}\n{report}");
        }
        // Root inside, whoever is outside.
        assert_eq!(lines.last(), Some(&"0"), "{who:?}");
        // Nothing changed outside the output directory.
        assert_eq!((snapshot(&home), snapshot(&input)), before, "{who:?}");
        assert!(!Path::new(&host_tmp_marker).exists(), "{who:?}");
        assert!(
            out.join("written").exists(),
            "{who:?}: the output is writable"
        );
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err(), "{who:?}: nothing connected");
    }
}

#[test]
fn runaway_jobs_are_killed_by_the_limits() {
    for who in runners() {
        let place = Place::new(who);
        let marker = format!("pandora-runaway-{}-{who:?}", std::process::id());
        // An infinite loop: killed at the timeout, with its children.
        let start = Instant::now();
        let r = place.sandbox(&[
            "--timeout",
            "2",
            "--",
            "/bin/sh",
            "-c",
            &format!("sh -c 'sleep 1000; :' {marker} & while :; do :; done"),
        ]);
        let took = start.elapsed();
        assert_eq!(r.status.code(), Some(124), "{who:?}: {}", text(&r));
        assert!(
            String::from_utf8_lossy(&r.stderr).contains("ran out of time (2 s)"),
            "{who:?}: {}",
            text(&r)
        );
        assert!(took < Duration::from_secs(30), "{who:?}: {took:?}");
        let left = Command::new("pgrep")
            .args(["-f", &marker])
            .output()
            .unwrap();
        assert!(!left.status.success(), "{who:?}: a process survived");

        // The process limit holds for root too (the kernel exempts uid 0 from RLIMIT_NPROC;
        // the sandbox puts root's jobs in a pids cgroup): 40 sleeps do not start under 16.
        let r = place.sandbox(&[
            "--timeout",
            "20",
            "--max-procs",
            "16",
            "--",
            "/bin/sh",
            "-c",
            "n=0; while [ $n -lt 40 ]; do sleep 5 & n=$((n+1)); done; kill $(jobs -p) 2>/dev/null; exit 0",
        ]);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(
            stderr.contains("Cannot fork") || stderr.contains("fork"),
            "{who:?}: the limit of 16 processes did not hold: {}",
            text(&r)
        );
        assert!(!stderr.contains("warning"), "{who:?}: {}", text(&r));

        // A fork bomb: the process limit stops it (the shell may then fail to start its
        // `sleep` and end early) or the timeout ends it; the host is fine.
        let start = Instant::now();
        let r = place.sandbox(&[
            "--timeout",
            "2",
            "--max-procs",
            "16",
            "--",
            "/bin/sh",
            "-c",
            "bomb() { bomb | bomb & }; bomb; sleep 30",
        ]);
        assert!(!r.status.success(), "{who:?}: {}", text(&r));
        assert!(
            String::from_utf8_lossy(&r.stderr).contains("Cannot fork")
                || r.status.code() == Some(124),
            "{who:?}: the process limit or the timeout stopped it: {}",
            text(&r)
        );
        assert!(start.elapsed() < Duration::from_secs(60), "{who:?}");
        let ok = Command::new("true").status().unwrap();
        assert!(ok.success(), "the host can still start processes");
        // A file bigger than the limit cannot be written.
        let out = place.dir("big");
        let r = place.sandbox(&[
            "--rw",
            &format!("{}:/out", out.display()),
            "--max-file-size",
            "4096",
            "--",
            "/bin/sh",
            "-c",
            "head -c 100000 /dev/zero > /out/big",
        ]);
        assert!(!r.status.success(), "{who:?}: {}", text(&r));
        assert!(
            std::fs::metadata(out.join("big")).map_or(0, |m| m.len()) <= 4096,
            "{who:?}"
        );
    }
}

#[test]
fn a_job_sees_a_fixed_environment_and_its_exit_status_comes_back() {
    let place = Place::new(As::Me);
    let r = place.sandbox_with_env(&[
        "--setenv",
        "EXTRA=1",
        "--chdir",
        "/tmp",
        "--",
        "/bin/sh",
        "-c",
        "echo \"$PWD $HOME $TZ $LC_ALL $SOURCE_DATE_EPOCH $EXTRA $(hostname) $(umask)\"; \
         echo \"$SSH_AUTH_SOCK$PANDORA_HOME\"; exit 7",
    ]);
    assert_eq!(r.status.code(), Some(7), "{}", text(&r));
    assert_eq!(
        String::from_utf8_lossy(&r.stdout),
        "/tmp /build UTC C 0 1 pandora 0022\n\n"
    );
}

#[test]
fn a_kernel_that_refuses_user_namespaces_runs_nothing() {
    let place = Place::new(As::Me);
    let out = place.dir("out");
    // In a user namespace whose limit of nested namespaces is 0, the sandbox cannot start.
    let script = format!(
        "echo 0 > /proc/sys/user/max_user_namespaces && exec {} --rw {}:/out -- /bin/touch /out/ran",
        place.helper.display(),
        out.display()
    );
    let r = Command::new("unshare")
        .args(["--user", "--map-root-user", "/bin/sh", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(125), "{}", text(&r));
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains("the kernel refuses to create user namespaces")
            && stderr.contains("nothing was run"),
        "{stderr}"
    );
    assert!(!out.join("ran").exists(), "nothing ran unsandboxed");
}

/// Copies `from` (a tree) to `to`.
fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn an_ordinary_users_daemon_builds_and_runs_hooks_in_the_sandbox() {
    let Some((uid, gid)) = ordinary_user() else {
        // Not root: the user running the tests is the ordinary user, and the other tests
        // (build.rs, install/hooks.rs) already run everything as them.
        return;
    };
    let place = Place::new(As::Ordinary);
    // The binaries where that user can run them, side by side as `cargo install` puts them.
    let bin_dir = place.dir("bin");
    for b in ["pandora", "pandorad", "pandora-sandbox"] {
        std::fs::copy(bin(b), bin_dir.join(b)).unwrap();
        std::fs::set_permissions(bin_dir.join(b), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let recipe = place.root.join("greet-tools");
    copy_tree(&repo_root().join("examples/greet-tools"), &recipe);
    let home = place.dir("home");
    place.own(&recipe);
    let pandora = |args: &[&str]| {
        let out = Command::new("setpriv")
            .args([
                format!("--reuid={uid}"),
                format!("--regid={gid}"),
                "--clear-groups".into(),
            ])
            .arg(bin_dir.join("pandora"))
            .args(["--log", "plain"])
            .args(args)
            .current_dir(&home)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("PANDORA_HOME", home.join("pandora"))
            .output()
            .unwrap();
        (out.status.code(), text(&out))
    };
    let (code, out) = pandora(&[
        "build",
        recipe.to_str().unwrap(),
        "-o",
        home.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}");
    let pkg = home.join("greet-tools-1.0.0.pkg");
    let (code, out) = pandora(&["install", pkg.to_str().unwrap()]);
    let lock = home.join("pandora/run/lock");
    let stop = || {
        if let Ok(pid) = std::fs::read_to_string(&lock) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    };
    if code != Some(0) {
        stop();
    }
    assert_eq!(code, Some(0), "{out}");
    // The postinstall hook ran as that user, inside, writing only its state directory.
    let greeting = home.join("pandora/state/greet-tools/first-greeting");
    let written = std::fs::read_to_string(&greeting);
    let owner = std::fs::metadata(&greeting).map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    stop();
    assert_eq!(written.unwrap(), "Greetings, installer!\n", "{out}");
    assert_eq!(
        owner.unwrap(),
        uid,
        "files the job writes belong to the user"
    );
}
