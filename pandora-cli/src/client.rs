//! Talking to `pandorad` over `$PANDORA_HOME/run/sock`, starting it when none answers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use pandora_common::layout::Layout;
use pandora_proto::v1::pandora_client::PandoraClient;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::Failure;

/// How long to wait for an autostarted daemon to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// An autostarted daemon exits after this long without requests.
const AUTOSTART_IDLE_SECS: u64 = 600;

/// A client connected to the daemon of `layout`.
pub(crate) type Client = PandoraClient<Channel>;

async fn connect_once(socket: &Path) -> Result<Client, tonic::transport::Error> {
    let socket = socket.to_path_buf();
    let channel = Endpoint::from_static("http://pandorad.sock")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?)) }
        }))
        .await?;
    Ok(PandoraClient::new(channel).max_decoding_message_size(64 << 20))
}

/// Connects, starting `pandorad` (detached, with an idle timeout) if nothing answers.
pub(crate) async fn connect(layout: &Layout) -> Result<Client, Failure> {
    let socket = layout.socket();
    if let Ok(c) = connect_once(&socket).await {
        return Ok(c);
    }
    if let Some(f) = foreign_socket(layout) {
        return Err(f);
    }
    if std::env::var_os("PANDORA_NO_AUTOSTART").is_some() {
        return Err(
            Failure::new(format!("no pandorad answers on {}", socket.display()))
                .hint("start it: pandorad (or unset PANDORA_NO_AUTOSTART to let pandora start it)"),
        );
    }
    let mut child = start_daemon(layout)?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(c) = connect_once(&socket).await {
            return Ok(c);
        }
        // Another client may have started a daemon at the same moment: ours then exits (the
        // lock is taken) and theirs is the one to wait for.
        if let Ok(Some(_)) = child.try_wait()
            && another_daemon_starting(layout)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = layout.daemon_log();
            let tail = fs_err::read_to_string(&log).unwrap_or_default();
            let last = tail
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .to_string();
            return Err(
                Failure::new(format!("pandorad exited at start ({status}): {last}"))
                    .hint(format!("see {}", log.display())),
            );
        }
        if Instant::now() > deadline {
            return Err(Failure::new(format!(
                "pandorad did not answer on {} within {:?}",
                socket.display(),
                START_TIMEOUT
            ))
            .hint(format!("see {}", layout.daemon_log().display())));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The failure to report when the home's socket belongs to another user: their daemon
/// refuses us, and starting our own there would be wrong.
fn foreign_socket(layout: &Layout) -> Option<Failure> {
    use std::os::unix::fs::MetadataExt;
    let socket = layout.socket();
    let me = rustix::process::getuid().as_raw();
    let meta = fs_err::metadata(&socket).ok()?;
    (meta.uid() != me).then(|| {
        Failure::new(format!(
            "the daemon on {} belongs to another user (uid {}) and serves only them; Pandora is per-user",
            socket.display(),
            meta.uid()
        ))
        .code("permission-denied")
        .hint("use a home of your own: unset PANDORA_HOME, or set it to a directory you own")
    })
}

fn connection_lost(layout: &Layout, status: &tonic::Status) -> Failure {
    if let Some(f) = foreign_socket(layout) {
        return f;
    }
    Failure::new(format!(
        "pandorad closed the connection before answering (it stopped or crashed): {}",
        status.message()
    ))
    .code("daemon-gone")
    .hint(format!(
        "see its log, {}; the next pandora command starts it again",
        layout.daemon_log().display()
    ))
}

/// Whether a live daemon holds this home's lock (so one is starting or running): the lock
/// file names its holder's pid. Reading it takes no lock, so it cannot get in the way of a
/// daemon taking it.
fn another_daemon_starting(layout: &Layout) -> bool {
    let Ok(text) = fs_err::read_to_string(layout.lock()) else {
        return false;
    };
    if text.trim().is_empty() {
        // The winner has the lock and is about to write its pid.
        return true;
    }
    lock_holder(&text).is_some_and(|pid| rustix::process::test_kill_process(pid).is_ok())
}

/// The pid a daemon wrote into this home's lock file (`text`), if it holds one.
pub(crate) fn lock_holder(text: &str) -> Option<rustix::process::Pid> {
    text.trim()
        .parse::<i32>()
        .ok()
        .and_then(rustix::process::Pid::from_raw)
}

/// `pandorad` next to this binary, or on `PATH`.
fn daemon_binary() -> PathBuf {
    if let Ok(me) = std::env::current_exe()
        && let Some(dir) = me.parent()
    {
        let sibling = dir.join("pandorad");
        if sibling.is_file() {
            return sibling;
        }
    }
    PathBuf::from("pandorad")
}

fn start_daemon(layout: &Layout) -> Result<std::process::Child, Failure> {
    let log_dir = layout.log_dir();
    fs_err::create_dir_all(&log_dir).map_err(|e| Failure::new(e.to_string()))?;
    let log = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(layout.daemon_log())
        .map_err(|e| Failure::new(format!("cannot open the daemon log: {e}")))?;
    let bin = daemon_binary();
    use std::os::unix::process::CommandExt;
    // `PANDORA_IDLE_TIMEOUT` overrides the idle timeout of a daemon we start (tests use it).
    let idle = std::env::var("PANDORA_IDLE_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(AUTOSTART_IDLE_SECS);
    Command::new(&bin)
        .arg("--idle-timeout")
        .arg(idle.to_string())
        .env("PANDORA_HOME", layout.home())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log.into_parts().0)
        // Its own process group: a Ctrl-C at this terminal does not stop the daemon.
        .process_group(0)
        .spawn()
        .map_err(|e| {
            Failure::new(format!("cannot start {}: {e}", bin.display()))
                .hint("install pandorad next to pandora or on PATH, or start it yourself: pandorad")
        })
}

/// Turns a failed call into the user's error, with the daemon's stable code and hint. A
/// call that failed below the daemon (the connection dropped: no code) is explained: the
/// daemon refuses users other than its own, or it stopped.
pub(crate) fn status_failure(status: tonic::Status) -> Failure {
    if status.metadata().get(pandora_proto::CODE_KEY).is_none()
        && matches!(
            status.code(),
            tonic::Code::Unknown
                | tonic::Code::Unavailable
                | tonic::Code::Internal
                | tonic::Code::Cancelled
        )
        && let Ok(layout) = Layout::from_env()
    {
        return connection_lost(&layout, &status);
    }
    let hint = status
        .metadata()
        .get(pandora_proto::HINT_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let code = status
        .metadata()
        .get(pandora_proto::CODE_KEY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut f = Failure::new(status.message().to_string()).code(code);
    if let Some(h) = hint {
        f = f.hint(h);
    }
    f
}
