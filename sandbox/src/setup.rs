//! The helper's two stages (see the module documentation of `sandbox`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags, StatVfsMountFlags};
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
use rustix::process::{Resource, Rlimit, Signal};
use rustix::thread::UnshareFlags;

use crate::cgroup::PidsCgroup;
use crate::{Bind, Limits, PREFIX, SETUP_FAILED, TIMED_OUT, parse_bind, seccomp};

/// `pandorad sandbox`: run a command in the sandbox, as builds and hooks do.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show SRC read-only at DST inside (default: the same path).
    #[arg(long, value_name = "SRC[:DST]")]
    ro: Vec<String>,
    /// Show SRC writable at DST inside (default: the same path).
    #[arg(long, value_name = "SRC[:DST]")]
    rw: Vec<String>,
    /// Add a variable to the fixed environment.
    #[arg(long, value_name = "NAME=VALUE")]
    setenv: Vec<String>,
    /// The working directory inside.
    #[arg(long, default_value = "/")]
    chdir: PathBuf,
    /// HOME inside.
    #[arg(long, default_value = "/build")]
    home: PathBuf,
    /// Kill the whole job after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Processes and threads the job may have at once.
    #[arg(long, default_value_t = 512)]
    max_procs: u64,
    /// Open files per process.
    #[arg(long, default_value_t = 1024)]
    max_files: u64,
    /// The largest file the job may write, in bytes.
    #[arg(long, default_value_t = 4 << 30)]
    max_file_size: u64,
    /// Size of the writable /tmp, in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    tmp_size: u64,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// Set (to `init`) in the environment of the re-executed helper that becomes pid 1.
const STAGE: &str = "PANDORA_SANDBOX_STAGE";

/// Runs the helper: the outer stage, or the init stage when re-executed as it.
pub fn main(args: Args) -> ExitCode {
    let stage = std::env::var(STAGE).ok();
    let result = match stage.as_deref() {
        None => outer(&args),
        Some("init") => init(&args),
        Some(other) => Err(format!("unknown stage `{other}`")),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{PREFIX} {message}");
            ExitCode::from(SETUP_FAILED)
        }
    }
}

fn limits(args: &Args) -> Limits {
    Limits {
        timeout: Duration::from_secs(args.timeout.max(1)),
        processes: args.max_procs.max(1),
        open_files: args.max_files.max(16),
        file_size: args.max_file_size,
        tmp_size: args.tmp_size,
    }
}

/// New namespaces, root inside mapped to the user, then pid 1 started and timed.
fn outer(args: &Args) -> Result<ExitCode, String> {
    let binds = binds(args)?;
    for b in &binds {
        if fs_err::symlink_metadata(&b.source).is_err() {
            return Err(format!(
                "{} does not exist (asked for at {})",
                b.source.display(),
                b.target.display()
            ));
        }
    }
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    // Root is exempt from RLIMIT_NPROC: its jobs get a pids cgroup (see cgroup.rs).
    let cgroup = if uid == 0 {
        match PidsCgroup::enter(limits(args).processes.saturating_add(1)) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!(
                    "{PREFIX} warning: run as root, the job's process limit needs a pids cgroup, and none could be made ({e}); only the timeout bounds its processes"
                );
                None
            }
        }
    } else {
        None
    };
    let flags = UnshareFlags::NEWUSER
        | UnshareFlags::NEWNS
        | UnshareFlags::NEWPID
        | UnshareFlags::NEWNET
        | UnshareFlags::NEWIPC
        | UnshareFlags::NEWUTS;
    // SAFETY: this process has one thread (it was just executed and starts none), and the
    // flags do not include FILES, so no thread can see a file descriptor table change.
    #[allow(unsafe_code)]
    let unshared = unsafe { rustix::thread::unshare_unsafe(flags) };
    unshared.map_err(|e| {
        format!(
            "the kernel refuses to create user namespaces for this user ({e}), so nothing was run: \
             builds and hooks only ever run sandboxed. Allow them (sysctl user.max_user_namespaces \
             > 0, kernel.unprivileged_userns_clone = 1, or the AppArmor rule \
             kernel.apparmor_restrict_unprivileged_userns = 0) and retry"
        )
    })?;
    write_proc("/proc/self/setgroups", "deny")?;
    write_proc("/proc/self/uid_map", &format!("0 {uid} 1"))?;
    write_proc("/proc/self/gid_map", &format!("0 {gid} 1"))?;
    // If the daemon goes, so does the job.
    let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));

    let mut cmd = Command::new("/proc/self/exe");
    cmd.args(std::env::args_os().skip(1)).env(STAGE, "init");
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the sandbox's init: {e}"))?;
    if let Some(c) = &cgroup {
        c.leave();
    }
    let pid = rustix::process::Pid::from_child(&child);
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| format!("cannot watch the sandbox's init: {e}"))?;
    let timeout = limits(args).timeout;
    let deadline = Instant::now()
        .checked_add(timeout)
        .ok_or_else(|| format!("a timeout of {} s is too long", timeout.as_secs()))?;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!(
                "{PREFIX} the job ran out of time ({} s) and all its processes were killed",
                timeout.as_secs()
            );
            return Ok(ExitCode::from(TIMED_OUT));
        }
        let mut fds = [rustix::event::PollFd::new(
            &pidfd,
            rustix::event::PollFlags::IN,
        )];
        let ts = rustix::event::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(n) if n > 0 => break,
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(format!("cannot wait for the job: {e}")),
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for the job: {e}"))?;
    Ok(exit_code(status))
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    match (status.code(), status.signal()) {
        (Some(c), _) => ExitCode::from(c.clamp(0, 255) as u8),
        (None, Some(sig)) => ExitCode::from((128 + sig).clamp(0, 255) as u8),
        _ => ExitCode::FAILURE,
    }
}

fn write_proc(path: &str, text: &str) -> Result<(), String> {
    fs_err::write(path, text).map_err(|e| format!("cannot write {path}: {e}"))
}

/// The user's binds, checked.
/// The user's binds, shallowest target first, so that a bind inside another one's target is
/// mounted after it and shows (`--rw b:/build --ro a:/build/src` keeps `/build/src`
/// read-only).
fn binds(args: &Args) -> Result<Vec<Bind>, String> {
    let mut out = Vec::new();
    for (specs, writable) in [(&args.ro, false), (&args.rw, true)] {
        for spec in specs {
            out.push(parse_bind(spec, writable)?);
        }
    }
    out.sort_by_key(|b| b.target.components().count());
    Ok(out)
}

/// The host's directories and files that programs need, shown read-only.
const SYSTEM: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
];

/// Device nodes the job may use.
const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom"];

/// Where the new root is assembled (a tmpfs over it, in this mount namespace only).
const ROOT: &str = "/tmp";

/// A bind to make: the source opened before anything is mounted over it.
struct Planned {
    fd: OwnedFd,
    target: PathBuf,
    dir: bool,
    writable: bool,
    device: bool,
    /// Flags the kernel will not let a user namespace clear on a bind of this source.
    locked: MountFlags,
}

fn plan(source: &Path, target: &Path, writable: bool, device: bool) -> Result<Planned, String> {
    let fd = rustix::fs::open(source, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| format!("cannot open {}: {e}", source.display()))?;
    let meta =
        rustix::fs::fstat(&fd).map_err(|e| format!("cannot inspect {}: {e}", source.display()))?;
    let is_dir =
        rustix::fs::FileType::from_raw_mode(meta.st_mode) == rustix::fs::FileType::Directory;
    let vfs = rustix::fs::statvfs(source)
        .map_err(|e| format!("cannot inspect {}: {e}", source.display()))?;
    let mut locked = MountFlags::empty();
    for (st, ms) in [
        (StatVfsMountFlags::NOSUID, MountFlags::NOSUID),
        (StatVfsMountFlags::NODEV, MountFlags::NODEV),
        (StatVfsMountFlags::NOEXEC, MountFlags::NOEXEC),
        (StatVfsMountFlags::NOATIME, MountFlags::NOATIME),
        (StatVfsMountFlags::NODIRATIME, MountFlags::NODIRATIME),
        (StatVfsMountFlags::RELATIME, MountFlags::RELATIME),
        (StatVfsMountFlags::RDONLY, MountFlags::RDONLY),
    ] {
        if vfs.f_flag.contains(st) {
            locked |= ms;
        }
    }
    Ok(Planned {
        fd,
        target: target.to_path_buf(),
        dir: is_dir,
        writable,
        device,
        locked,
    })
}

/// Pid 1 of the new pid namespace: the root, the limits, the filters, then the job.
fn init(args: &Args) -> Result<ExitCode, String> {
    let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    let limits = limits(args);
    let last_cap: u32 = fs_err::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(40);
    let fail = |what: &str| {
        let what = what.to_string();
        move |e: rustix::io::Errno| format!("cannot {what}: {e}")
    };
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(fail("make the mounts private"))?;

    let mut planned = Vec::new();
    let mut links = Vec::new();
    for p in SYSTEM {
        let path = Path::new(p);
        match fs_err::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs_err::read_link(path).map_err(|e| e.to_string())?;
                links.push((path.to_path_buf(), target));
            }
            Ok(_) => planned.push(plan(path, path, false, false)?),
            Err(_) => {}
        }
    }
    for d in DEVICES {
        let path = Path::new("/dev").join(d);
        if path.exists() {
            planned.push(plan(&path, &path, true, true)?);
        }
    }
    for b in binds(args)? {
        planned.push(plan(&b.source, &b.target, b.writable, false)?);
    }

    rustix::mount::mount(
        "tmpfs",
        ROOT,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        Some(c"mode=0755,size=16m"),
    )
    .map_err(fail("mount the root tmpfs"))?;
    let root = Path::new(ROOT);
    let inside = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
    for (path, target) in &links {
        let at = inside(path);
        make_parent(&at)?;
        fs_err::os::unix::fs::symlink(target, &at).map_err(|e| e.to_string())?;
    }
    for p in &planned {
        let at = inside(&p.target);
        make_parent(&at)?;
        if p.dir {
            fs_err::create_dir_all(&at).map_err(|e| e.to_string())?;
        } else if fs_err::symlink_metadata(&at).is_err() {
            fs_err::write(&at, b"").map_err(|e| e.to_string())?;
        }
        let from = format!("/proc/self/fd/{}", p.fd.as_raw_fd());
        rustix::mount::mount_bind_recursive(from.as_str(), &at)
            .map_err(|e| format!("cannot show {} in the sandbox: {e}", p.target.display()))?;
        let mut flags = MountFlags::BIND | MountFlags::NOSUID | p.locked;
        if !p.device {
            flags |= MountFlags::NODEV;
        }
        if !p.writable {
            flags |= MountFlags::RDONLY;
        }
        rustix::mount::mount_remount(&at, flags, c"")
            .map_err(|e| format!("cannot restrict {} in the sandbox: {e}", p.target.display()))?;
    }
    drop(planned);

    let proc_dir = root.join("proc");
    fs_err::create_dir_all(&proc_dir).map_err(|e| e.to_string())?;
    rustix::mount::mount(
        "proc",
        &proc_dir,
        "proc",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        None,
    )
    .map_err(fail("mount /proc"))?;
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let at = root.join("dev").join(name);
        make_parent(&at)?;
        fs_err::os::unix::fs::symlink(target, &at).map_err(|e| e.to_string())?;
    }
    let tmp = root.join("tmp");
    fs_err::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let tmp_options = std::ffi::CString::new(format!("mode=1777,size={}", limits.tmp_size))
        .map_err(|e| e.to_string())?;
    rustix::mount::mount(
        "tmpfs",
        &tmp,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        Some(tmp_options.as_c_str()),
    )
    .map_err(fail("mount /tmp"))?;
    let etc = root.join("etc");
    fs_err::create_dir_all(&etc).map_err(|e| e.to_string())?;
    for (name, text) in [
        (
            "passwd",
            "root:x:0:0:root:/build:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        ),
        ("group", "root:x:0:\nnogroup:x:65534:\n"),
        ("hosts", "127.0.0.1 localhost\n::1 localhost\n"),
        ("hostname", "pandora\n"),
    ] {
        let at = etc.join(name);
        if fs_err::symlink_metadata(&at).is_err() {
            fs_err::write(&at, text).map_err(|e| e.to_string())?;
        }
    }
    for dir in [&args.home, &args.chdir] {
        let at = inside(dir);
        if fs_err::symlink_metadata(&at).is_err() {
            fs_err::create_dir_all(&at).map_err(|e| e.to_string())?;
        }
    }

    rustix::process::chdir(root).map_err(fail("enter the new root"))?;
    rustix::process::pivot_root(".", ".").map_err(fail("pivot into the new root"))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH).map_err(fail("detach the host's root"))?;
    rustix::process::chdir("/").map_err(fail("enter /"))?;
    rustix::mount::mount_remount(
        "/",
        MountFlags::BIND | MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV,
        c"",
    )
    .map_err(fail("make the root read-only"))?;

    rustix::system::sethostname(b"pandora").map_err(fail("set the host name"))?;
    loopback_up().map_err(|e| format!("cannot bring up loopback: {e}"))?;
    rustix::process::umask(Mode::from_raw_mode(0o022));

    for (resource, value) in [
        (Resource::Nproc, limits.processes),
        (Resource::Nofile, limits.open_files),
        (Resource::Fsize, limits.file_size),
        (Resource::Core, 0),
    ] {
        let limit = Rlimit {
            current: Some(value),
            maximum: Some(value),
        };
        rustix::process::setrlimit(resource, limit)
            .map_err(|e| format!("cannot set the {resource:?} limit: {e}"))?;
    }

    // A session of its own: no controlling terminal, so `/dev/tty` leads nowhere and nothing
    // can be typed into the terminal of whoever started the daemon (TIOCSTI).
    rustix::process::setsid().map_err(fail("start a session"))?;
    // Below the daemon and this helper, so that a job that eats the CPU (a fork bomb, a
    // busy loop) cannot keep them from killing it on time.
    rustix::process::setpriority_process(None, 10).map_err(fail("lower the job's priority"))?;
    drop_capabilities(last_cap)?;
    rustix::thread::set_no_new_privs(true).map_err(fail("set no-new-privs"))?;
    let writable: Vec<PathBuf> = binds(args)?
        .into_iter()
        .filter(|b| b.writable)
        .map(|b| b.target)
        .collect();
    landlock(&writable)?;
    seccomp::apply()?;

    // A relative program with a slash (`bin/tool`) is relative to the working directory.
    let program = Path::new(&args.command[0]);
    let program = if program.is_relative() && args.command[0].contains('/') {
        args.chdir.join(program)
    } else {
        program.to_path_buf()
    };
    let mut cmd = Command::new(&program);
    cmd.args(&args.command[1..])
        .env_clear()
        .env(
            "PATH",
            "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
        )
        .env("HOME", &args.home)
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .env("SOURCE_DATE_EPOCH", "0")
        .env("USER", "root")
        .current_dir(&args.chdir);
    for kv in &args.setenv {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(format!("`{kv}` is not NAME=VALUE"));
        };
        cmd.env(k, v);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", args.command[0]))?;
    let job = rustix::process::Pid::from_child(&child);
    // As pid 1, reap every orphan until the job itself ends; then returning ends the rest.
    loop {
        match rustix::process::wait(rustix::process::WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid == job => {
                let code = match (status.exit_status(), status.terminating_signal()) {
                    (Some(c), _) => c.clamp(0, 255) as u8,
                    (None, Some(s)) => (128 + s).clamp(0, 255) as u8,
                    _ => 1,
                };
                return Ok(ExitCode::from(code));
            }
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(format!("cannot wait for the job: {e}")),
        }
    }
}

fn make_parent(at: &Path) -> Result<(), String> {
    if let Some(parent) = at.parent() {
        fs_err::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Empties the bounding, ambient, effective, permitted and inheritable capability sets, so
/// that nothing the job executes (even as root inside) gets a capability back.
fn drop_capabilities(last_cap: u32) -> Result<(), String> {
    for raw in 0..=last_cap.min(63) {
        let cap = rustix::thread::CapabilitySet::from_bits_retain(1 << raw);
        rustix::thread::remove_capability_from_bounding_set(cap)
            .map_err(|e| format!("cannot drop capability {raw} from the bounding set: {e}"))?;
        if rustix::thread::capability_is_in_bounding_set(cap).unwrap_or(true) {
            return Err(format!("capability {raw} stayed in the bounding set"));
        }
    }
    rustix::thread::clear_ambient_capability_set()
        .map_err(|e| format!("cannot clear the ambient capabilities: {e}"))?;
    rustix::thread::set_capabilities(
        None,
        rustix::thread::CapabilitySets {
            effective: rustix::thread::CapabilitySet::empty(),
            permitted: rustix::thread::CapabilitySet::empty(),
            inheritable: rustix::thread::CapabilitySet::empty(),
        },
    )
    .map_err(|e| format!("cannot drop capabilities: {e}"))
}

/// Landlock, where the kernel has it: read and execute anywhere in the (already minimal)
/// root, write only to the writable binds, `/tmp` and the device nodes.
fn landlock(writable: &[PathBuf]) -> Result<(), String> {
    use landlock::{
        ABI, Access, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, path_beneath_rules,
    };
    let abi = ABI::V5;
    let mut rw: Vec<PathBuf> = vec!["/tmp".into(), "/dev".into()];
    rw.extend(writable.iter().cloned());
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(path_beneath_rules(["/"], AccessFs::from_read(abi))))
        .and_then(|r| r.add_rules(path_beneath_rules(&rw, AccessFs::from_all(abi))))
        .and_then(|r| r.restrict_self())
        .map_err(|e| format!("cannot apply Landlock: {e}"))?;
    let _ = status;
    Ok(())
}

/// `ip link set lo up`, in the new network namespace.
#[allow(unsafe_code)]
fn loopback_up() -> std::io::Result<()> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0")?;
    // SAFETY: `ifreq` is plain data, zero is a valid value for it; the name fits with its
    // terminating zero; the ioctls read and write only that struct, which outlives them.
    unsafe {
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
