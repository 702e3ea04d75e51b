//! Start-up, serving and shut-down of the daemon.
//!
//! Order matters for crash safety: take `run/lock` before touching anything (one daemon per
//! home), clear `tmp/` (recovery), then listen, then tell systemd we are ready.

mod activity;
mod listen;
mod lock;
mod recover;
mod service;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use pandora_common::layout::Layout;
use pandora_proto::v1::pandora_server::PandoraServer;

use crate::engine::Engine;
use crate::store::StoreView;
use activity::Activity;

/// How long a stopping daemon waits for the running mutation to reach a safe point.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Daemon settings from the command line.
pub struct Options {
    /// Exit after this many seconds without requests and mutations (0: never).
    pub idle_timeout: u64,
}

/// What every request handler shares.
pub(crate) struct Shared {
    pub(crate) layout: Layout,
    pub(crate) engine: Engine,
    pub(crate) store: Arc<ArcSwap<StoreView>>,
    pub(crate) activity: Activity,
    pub(crate) idle_timeout: u64,
    pub(crate) repaired: Vec<String>,
}

/// Runs the daemon for `layout` until SIGTERM, SIGINT or the idle timeout.
pub fn run(layout: Layout, opts: Options) -> Result<()> {
    for dir in layout.dirs() {
        fs_err::create_dir_all(&dir)?;
    }
    // run/ holds the socket and the lock: a link to a directory that others can write
    // would hand both to them, so it must be our own directory, and only ours.
    let run = layout.run();
    if fs_err::symlink_metadata(&run)?.file_type().is_symlink() {
        anyhow::bail!(
            "{} is a symbolic link; it must be a directory of its own: remove the link and start pandorad again",
            run.display()
        );
    }
    fs_err::set_permissions(&run, std::fs::Permissions::from_mode(0o700))?;
    let _lock = lock::acquire(&layout.lock(), layout.home())?;
    let mut repaired = recover::clear_tmp(&layout.tmp())?;
    repaired.extend(crate::activate::repair(&layout));
    for r in &repaired {
        tracing::info!("recovery: {r}");
    }
    let (listener, origin) = listen::listener(&layout.socket())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(layout.clone(), opts, listener, repaired));
    // A mutation that did not reach a safe point in time is abandoned: its thread dies with
    // the process, and what it staged in tmp/ is cleared at the next start.
    runtime.shutdown_timeout(Duration::from_secs(1));
    if matches!(origin, listen::Origin::Bound) {
        let _ = fs_err::remove_file(layout.socket());
    }
    result
}

/// Looks at the store from `current`, the shared view, and shares what it found unless a
/// newer view was shared meanwhile (a mutation's, or another look's); returns the view found.
fn refresh_shared(
    shared: &ArcSwap<StoreView>,
    current: Arc<StoreView>,
    layout: &Layout,
) -> Arc<StoreView> {
    let Some(fresh) = current.refresh(layout) else {
        return current;
    };
    let fresh = Arc::new(fresh);
    shared.compare_and_swap(&current, fresh.clone());
    fresh
}

async fn serve(
    layout: Layout,
    opts: Options,
    listener: std::os::unix::net::UnixListener,
    repaired: Vec<String>,
) -> Result<()> {
    let store = Arc::new(ArcSwap::from_pointee(StoreView::load(&layout)));
    let refresh = {
        let (store, layout) = (store.clone(), layout.clone());
        move || {
            refresh_shared(&store, store.load_full(), &layout);
        }
    };
    let finish = {
        let (layout, refresh) = (layout.clone(), refresh.clone());
        move |changed: bool| {
            crate::store::clean_staging(&layout);
            if changed {
                refresh();
            }
            // Not waited for: the mutation's answer goes out meanwhile.
            let _ = std::thread::Builder::new()
                .name("release-memory".into())
                .spawn(release_memory);
        }
    };
    let publish = {
        let store = store.clone();
        move |view: Arc<StoreView>| store.store(view)
    };
    let shared = Arc::new(Shared {
        engine: Engine::start(refresh, finish, publish),
        layout,
        store,
        activity: Activity::new(),
        idle_timeout: opts.idle_timeout,
        repaired,
    });
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<PandoraServer<service::Service>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pandora_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("cannot build the reflection service")?;
    let incoming = listen::incoming(listener)?;
    let stop = shutdown_signal(shared.clone());
    tracing::info!(socket = %shared.layout.socket().display(), pid = std::process::id(), "pandorad ready");
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection)
        .add_service(PandoraServer::new(service::Service::new(shared.clone())))
        .serve_with_incoming_shutdown(incoming, stop)
        .await
        .context("the gRPC server failed")?;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    // The running mutation stops at its next safe point (each one completes or leaves only
    // `tmp/`), waiting ones are dropped; after STOP_GRACE the daemon exits regardless.
    shared.engine.shut_down();
    let grace = tokio::time::Instant::now() + STOP_GRACE;
    while shared.engine.busy() && tokio::time::Instant::now() < grace {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if shared.engine.busy() {
        tracing::warn!("a mutation did not stop in time; exiting anyway");
    }
    tracing::info!("pandorad stopped");
    Ok(())
}

/// Hands the heap a finished mutation freed back to the system. A mutation over a large
/// package frees hundreds of megabytes across the threads' malloc arenas, which glibc keeps
/// otherwise; an idle daemon should be small again.
#[allow(unsafe_code)]
fn release_memory() {
    pandora_common::pkg::release_buffers();
    // SAFETY: malloc_trim only walks and shrinks glibc's own heaps; it takes no pointers
    // from us and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Resolves on SIGTERM, SIGINT, or when the idle timeout passes with no request and no
/// mutation.
async fn shutdown_signal(shared: Arc<Shared>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    let idle = async {
        if shared.idle_timeout == 0 {
            std::future::pending::<()>().await;
        }
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if !shared.engine.busy()
                && shared
                    .activity
                    .idle_for()
                    .is_some_and(|s| s >= shared.idle_timeout)
            {
                tracing::info!(seconds = shared.idle_timeout, "idle; exiting");
                return;
            }
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM; stopping at the next safe point"),
        _ = int.recv() => tracing::info!("SIGINT; stopping at the next safe point"),
        () = idle => return,
    }
    // Stop the running mutation now, so its stream (and the connection) ends.
    shared.engine.shut_down();
    // A connection that still does not close cannot hold the daemon: exit after the grace.
    let hard = shared.clone();
    tokio::spawn(async move {
        tokio::time::sleep(STOP_GRACE * 2).await;
        tracing::warn!(
            busy = hard.engine.busy(),
            "connections did not close in time; exiting"
        );
        std::process::exit(0);
    });
}
