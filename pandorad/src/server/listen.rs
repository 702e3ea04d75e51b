//! The daemon's socket: handed over by systemd (`LISTEN_FDS`), or bound at `run/sock` with mode
//! 0600 inside the 0700 `run/`. Every connection's peer uid is checked (`SO_PEERCRED`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use tokio::net::{UnixListener, UnixStream};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::UnixListenerStream;

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

/// The stream of accepted connections whose peer runs as our uid; others are refused and logged.
pub(crate) fn incoming(
    listener: std::os::unix::net::UnixListener,
) -> Result<impl tokio_stream::Stream<Item = std::io::Result<UnixStream>>> {
    listener.set_nonblocking(true)?;
    let listener = UnixListener::from_std(listener)?;
    let me = rustix::process::getuid().as_raw();
    Ok(UnixListenerStream::new(listener).filter_map(move |conn| match conn {
        Err(e) => {
            tracing::warn!(error = %e, "accept failed");
            None
        }
        Ok(stream) => match stream.peer_cred() {
            Ok(cred) if cred.uid() == me => Some(Ok(stream)),
            Ok(cred) => {
                tracing::warn!(uid = cred.uid(), pid = ?cred.pid(), "refused a connection from another user");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "refused a connection whose peer cannot be identified");
                None
            }
        },
    }))
}
