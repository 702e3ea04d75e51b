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
        if let Ok(Some(status)) = child.try_wait() {
            let log = layout.daemon_log();
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
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

/// Turns a failed call into the user's error, with the daemon's stable code and hint.
pub(crate) fn status_failure(status: tonic::Status) -> Failure {
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
