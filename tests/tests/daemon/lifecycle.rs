//! The socket and its guards, autostart and idle exit, socket activation.

use super::*;

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
    // Not a bare "transport error": they are told whose daemon it is.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("belongs to another user") && stderr.contains("Pandora is per-user"),
        "{stderr}"
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
    let r = Run::of(
        ctx.pandora()
            .env("PANDORA_IDLE_TIMEOUT", "2")
            .args(["--log", "plain", "status"]),
    );
    ctx.record("pandora --log plain status (autostart)", &r);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("idle_exit_secs=2"), "{r:?}");
    let pid: u32 = r
        .stdout
        .split("pid=")
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
    let log = ctx.log_file("socket-activated pandorad");
    let mut child = ctx.spawn_into(
        Command::new("python3")
            .arg("-c")
            .arg(script)
            .env("PANDORA_HOME", &home),
        &log,
    );
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
fn stop_ends_the_daemon_and_says_so_when_none_runs() {
    let ctx = Context::new();
    let r = ctx.plain(&["stop"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "result=\"pandorad is not running\"\n");
    // An autostarted daemon: `stop` returns once it is gone, socket and lock released.
    let r = Run::of(ctx.pandora().args(["--log", "plain", "status"]));
    assert_eq!(r.code, 0, "{r:?}");
    let pid: u32 = r
        .stdout
        .split("pid=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {r:?}"));
    let r = ctx.plain(&["stop"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.stdout,
        format!("result=\"stopped pandorad (pid {pid})\"\n")
    );
    assert!(
        !Path::new(&format!("/proc/{pid}/comm")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap_or_default()
                .contains("State:\tZ"),
        "pandorad {pid} still runs"
    );
    assert!(!ctx.pandora_home().join("run/sock").exists());
    let r = ctx.plain(&["stop"]);
    assert_eq!(r.stdout, "result=\"pandorad is not running\"\n", "{r:?}");
    // The next command starts it again.
    let r = Run::of(ctx.pandora().args(["--log", "plain", "status"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ctx.plain(&["stop"]).code, 0);
}
