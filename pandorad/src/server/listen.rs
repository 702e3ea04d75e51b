//! The daemon's socket: handed over by systemd (`LISTEN_FDS`), or bound at `run/sock` with mode
//! 0600 inside the 0700 `run/`. Every connection's peer uid is checked (`SO_PEERCRED`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context as _, Result};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

/// Where the listener came from.
pub(crate) enum Origin {
    /// Socket activation: systemd owns the path.
    Systemd,
    /// Bound by this process at the given path, removed at exit.
    Bound,
}

/// The listening socket, from systemd if it handed one over, else bound at `path`.
pub(crate) fn listener(path: &Path) -> Result<(std::os::unix::net::UnixListener, Origin)> {
    let mut fds = listenfd::ListenFd::from_env();
    if let Some(l) = fds
        .take_unix_listener(0)
        .context("LISTEN_FDS names a socket that is not a Unix listener")?
    {
        return Ok((l, Origin::Systemd));
    }
    // We hold the daemon lock, so a socket file left here belongs to a dead daemon.
    match fs_err::remove_file(path) {
        Ok(()) => tracing::info!(path = %path.display(), "removed a stale socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot remove stale socket {}", path.display()));
        }
    }
    let l = std::os::unix::net::UnixListener::bind(path)
        .with_context(|| format!("cannot listen on {}", path.display()))?;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot chmod {}", path.display()))?;
    Ok((l, Origin::Bound))
}

/// At most this many connections are served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 256;

/// The stream of accepted connections whose peer runs as our uid; others are refused and
/// logged. Accepting backs off when it fails (out of file descriptors, say) instead of
/// spinning, stops while `MAX_CONNECTIONS` are open, and logs a repeated failure once a
/// second with the number of repeats.
pub(crate) fn incoming(
    listener: std::os::unix::net::UnixListener,
) -> Result<impl tokio_stream::Stream<Item = std::io::Result<Conn>>> {
    listener.set_nonblocking(true)?;
    let listener = UnixListener::from_std(listener)?;
    let me = rustix::process::getuid().as_raw();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        let mut failures = Throttle::default();
        let mut refusals = Throttle::default();
        let mut backoff = Duration::from_millis(10);
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let stream = match listener.accept().await {
                Ok((stream, _)) => {
                    backoff = Duration::from_millis(10);
                    stream
                }
                Err(e) => {
                    failures.warn(|n| tracing::warn!(error = %e, repeats = n, "accept failed"));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            match stream.peer_cred() {
                Ok(cred) if cred.uid() == me => {
                    let conn = Conn {
                        stream,
                        _slot: slot,
                    };
                    if tx.send(Ok(conn)).await.is_err() {
                        return;
                    }
                }
                Ok(cred) => refusals.warn(|n| {
                    tracing::warn!(uid = cred.uid(), pid = ?cred.pid(), repeats = n, "refused a connection from another user")
                }),
                Err(e) => refusals.warn(|n| {
                    tracing::warn!(error = %e, repeats = n, "refused a connection whose peer cannot be identified")
                }),
            }
        }
    });
    Ok(ReceiverStream::new(rx))
}

/// Logs at most once a second; `repeats` says how many were left out since.
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
    skipped: u64,
}

impl Throttle {
    fn warn(&mut self, log: impl FnOnce(u64)) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|l| now.duration_since(l) < Duration::from_secs(1))
        {
            self.skipped += 1;
            return;
        }
        log(self.skipped);
        self.last = Some(now);
        self.skipped = 0;
    }
}

/// An accepted connection; it holds one of the `MAX_CONNECTIONS` slots until it closes.
pub(crate) struct Conn {
    stream: UnixStream,
    _slot: OwnedSemaphorePermit,
}

impl Connected for Conn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_warning_is_logged_once_a_second_with_its_count() {
        let mut t = Throttle::default();
        let mut logged = Vec::new();
        for _ in 0..1000 {
            t.warn(|n| logged.push(n));
        }
        assert_eq!(logged, [0], "one line for a burst");
        t.last = Some(Instant::now() - Duration::from_secs(2));
        t.warn(|n| logged.push(n));
        assert_eq!(
            logged,
            [0, 999],
            "the next line says how many were left out"
        );
    }
}
