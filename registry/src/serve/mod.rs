//! `pandora-registry serve`: the registry directory over HTTP/1.1 (one task per connection,
//! keep-alive; GET and HEAD answered by [`conn`], file bodies with `sendfile`, everything else
//! by hyper), plus authenticated publishes, search and download counts.
//!
//! ```text
//! GET|HEAD  /config.acl /snapshot.acl[.minisig] /index.acl /index/<name>.acl   static files
//! GET|HEAD  /blobs/sha256/<hex>                                               static, ranges
//! POST      /api/v1/publish        Authorization: Bearer TOKEN, body: the .pkg
//! GET       /api/v1/search?q=WORDS
//! GET       /metrics.acl           downloads, reported installs and publishes per name@version
//! GET       /metrics               the server's counters, Prometheus text format
//! POST      /api/v1/installed      body: name@version (an opted-in client's install report)
//! ```
//!
//! Invariants: only those paths are answered, after the request path was decoded once and
//! every dot segment, encoded separator, backslash, NUL or empty segment refused; a file is
//! served only if its real path lies inside the directory and outside `.pandora-registry/`;
//! every change to the registry goes through [`Repo::add`], one at a time.

mod body;
mod conn;
mod files;
mod index;
mod metrics;
mod path;
mod publish;
mod response;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hyper::body::{Body as _, Incoming};
use hyper::header::{self, HeaderMap};
use hyper::{Method, Request, Response, StatusCode, Uri};
use pandora_common::acl::{Block, Document, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use self::body::Body;
use self::files::FileCache;
use self::index::IndexCache;
use self::metrics::{Metrics, Telemetry};
use self::path::Route;
use self::response::{acl, error, internal, not_allowed, not_found, set};
use crate::repo::Repo;

/// How often changed download counts are written to disk.
const PERSIST_EVERY: Duration = Duration::from_secs(5);
/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What `serve` needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The registry directory.
    pub dir: PathBuf,
    /// The address to listen on, such as `127.0.0.1:0` (port 0 picks a free port).
    pub listen: String,
    /// A file whose first line is the bearer token publishes need; without one, publishing
    /// is disabled.
    pub token_file: Option<PathBuf>,
    /// The largest publish body in bytes; by default the registry's `max_package_size`.
    pub max_body: Option<u64>,
    /// The password of the registry's secret key, when it has one.
    pub password: Option<String>,
    /// How long a client may take over a request head, stay idle between requests, or leave
    /// what was sent to it unacknowledged (`TCP_USER_TIMEOUT`) before its connection is
    /// closed.
    pub client_timeout: Duration,
}

/// What every request handler shares.
pub(crate) struct State {
    repo: Repo,
    /// The registry directory, every symlink resolved.
    root: PathBuf,
    /// `root/.pandora-registry`, never served.
    private: PathBuf,
    /// sha256 (lowercase hex) of the publish token.
    token: Option<String>,
    max_body: u64,
    files: FileCache,
    index: IndexCache,
    metrics: Metrics,
    telemetry: Telemetry,
    /// Held for each `Repo::add` of a publish, so they run one at a time.
    publishing: Arc<tokio::sync::Mutex<()>>,
    /// [`ServeOptions::client_timeout`].
    client_timeout: Duration,
}

/// Serves the registry in `opts.dir` until SIGTERM or SIGINT. Prints one line,
/// `listening on http://ADDR`, once the socket is bound; logs one line per request to stderr.
pub fn serve(opts: ServeOptions) -> anyhow::Result<()> {
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(opts))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Someone else (a test harness, an embedding program) may have set one already.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .try_init();
}

fn read_token(path: &std::path::Path) -> anyhow::Result<String> {
    let text = fs_err::read_to_string(path)?;
    let token = text.lines().next().unwrap_or("").trim();
    anyhow::ensure!(
        !token.is_empty(),
        "{}: the first line is empty; put the publish token there",
        path.display()
    );
    Ok(publish::digest(token))
}

async fn run(opts: ServeOptions) -> anyhow::Result<()> {
    let repo = Repo::open(&opts.dir)?.with_password(opts.password.clone());
    // A registry that signs must be able to: find out now, not at the first publish.
    repo.signer()?;
    let token = opts.token_file.as_deref().map(read_token).transpose()?;
    publish::remove_stale_uploads(&repo.tmp_dir());
    let root = fs_err::canonicalize(repo.dir())?;
    let private = fs_err::canonicalize(repo.state_dir())?;
    let state = Arc::new(State {
        max_body: opts.max_body.unwrap_or_else(|| repo.max_package_size()),
        metrics: Metrics::load(&repo.state_dir()),
        telemetry: Telemetry::default(),
        repo,
        root,
        private,
        token,
        files: FileCache::default(),
        index: IndexCache::default(),
        publishing: Arc::new(tokio::sync::Mutex::new(())),
        client_timeout: opts.client_timeout,
    });
    let listener = TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let addr = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
    }
    tracing::info!(
        "serving registry `{}` from {} on http://{addr}; publishing {}",
        state.repo.name(),
        state.root.display(),
        if state.token.is_some() {
            "enabled"
        } else {
            "disabled"
        }
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let persister = tokio::spawn(persist_periodically(Arc::clone(&state), stop_rx.clone()));
    let mut connections = JoinSet::new();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(conn::connection(Arc::clone(&state), stream, stop_rx.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tracing::info!("shutting down");
    drop(listener);
    let _ = stop_tx.send(true);
    persist(&state).await;
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "{} connections still open after {SHUTDOWN_GRACE:?}; closing them",
            connections.len()
        );
        connections.shutdown().await;
    }
    let _ = persister.await;
    persist(&state).await;
    Ok(())
}

async fn persist(state: &Arc<State>) {
    let st = Arc::clone(state);
    match tokio::task::spawn_blocking(move || st.metrics.persist()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("cannot save the download counts: {e}"),
        Err(e) => tracing::warn!("cannot save the download counts: {e}"),
    }
}

async fn persist_periodically(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(PERSIST_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => persist(&state).await,
            _ = stop.changed() => return,
        }
    }
}

/// Answers one request hyper read, and logs it.
async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = dispatch(&state, req).await;
    log(&state, &method, &path, started, &resp);
    resp
}

/// Counts and logs one answered request.
fn log(state: &State, method: &Method, path: &str, started: Instant, resp: &Response<Body>) {
    let bytes = resp.body().size_hint().exact().unwrap_or(0);
    state.telemetry.request(
        resp.status().as_u16(),
        bytes,
        started.elapsed().as_secs_f64(),
    );
    tracing::info!(
        method = %method,
        path = ?path,
        status = resp.status().as_u16(),
        bytes,
        micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
}

async fn dispatch(state: &Arc<State>, req: Request<Incoming>) -> Response<Body> {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return read(state, req.method(), req.uri(), req.headers()).await;
    }
    let route = match path::route(req.uri().path()) {
        Ok(r) => r,
        Err(path::BadPath(why)) => return error(StatusCode::BAD_REQUEST, "bad-path", why),
    };
    match route {
        Route::Installed if req.method() == Method::POST => installed(state, req).await,
        Route::Publish if req.method() == Method::POST => publish::publish(state, req).await,
        Route::Installed | Route::Publish => not_allowed("POST"),
        Route::NotFound if req.method() == Method::POST => not_found(),
        Route::Static(_) | Route::Metrics | Route::Prometheus | Route::Search | Route::NotFound => {
            not_allowed("GET, HEAD")
        }
    }
}

/// Answers a GET or HEAD, which has no body to read.
async fn read(
    state: &Arc<State>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response<Body> {
    let route = match path::route(uri.path()) {
        Ok(r) => r,
        Err(path::BadPath(why)) => return error(StatusCode::BAD_REQUEST, "bad-path", why),
    };
    match route {
        Route::Static(file) => files::serve(state, file, method, headers).await,
        Route::Metrics => {
            let mut resp = acl(StatusCode::OK, state.metrics.to_source());
            set(&mut resp, header::CACHE_CONTROL, "no-cache");
            resp
        }
        Route::Prometheus => {
            let text = state.telemetry.render(&state.metrics);
            let mut resp = Response::new(Body::bytes(text));
            set(
                &mut resp,
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            );
            set(&mut resp, header::CACHE_CONTROL, "no-cache");
            resp
        }
        Route::Search => search(state, uri).await,
        Route::Installed | Route::Publish => not_allowed("POST"),
        Route::NotFound => not_found(),
    }
}

/// `POST /api/v1/installed` with the body `name@version` and nothing else: one install a
/// client reported (clients send it only with `report_installs = true`). Counted only for a
/// version the index holds; nothing about the sender is kept.
async fn installed(state: &Arc<State>, req: Request<Incoming>) -> Response<Body> {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(req.into_body(), 512);
    let Ok(body) = limited.collect().await else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad-report",
            "the body must be `name@version`, at most 512 bytes",
        );
    };
    let text = String::from_utf8_lossy(&body.to_bytes()).trim().to_string();
    let Ok(pin) = pandora_common::files::Pin::parse(&text) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad-report",
            "the body must be `name@version`",
        );
    };
    let st = Arc::clone(state);
    let known = tokio::task::spawn_blocking(move || {
        st.index.get(&st.repo).map(|parsed| {
            parsed
                .index
                .package(&pin.name)
                .and_then(|p| p.version(&pin.version))
                .is_some()
                .then(|| st.metrics.install(&pin))
                .is_some()
        })
    })
    .await;
    match known {
        Ok(Ok(true)) => {
            let mut resp = Response::new(Body::bytes(String::new()));
            *resp.status_mut() = StatusCode::NO_CONTENT;
            resp
        }
        Ok(Ok(false)) => not_found(),
        Ok(Err(e)) => internal(&response::chain(&e)),
        Err(e) => internal(&e),
    }
}

/// `GET /api/v1/search?q=WORDS`: `Results { Hit "name" { ... } ... }`, best match first.
async fn search(state: &Arc<State>, uri: &Uri) -> Response<Body> {
    let Some(query) = path::query_param(uri.query(), "q") else {
        return error(
            StatusCode::BAD_REQUEST,
            "missing-query",
            "search needs a query: /api/v1/search?q=WORDS",
        );
    };
    let st = Arc::clone(state);
    let found = tokio::task::spawn_blocking(move || {
        st.index
            .get(&st.repo)
            .map(|parsed| parsed.index.search(&query))
    })
    .await;
    let hits = match found {
        Ok(Ok(hits)) => hits,
        Ok(Err(e)) => return internal(&response::chain(&e)),
        Err(e) => return internal(&e),
    };
    let mut results = Block::new("Results", None);
    for hit in hits {
        results.push_block(
            Block::new("Hit", Some(hit.name))
                .with("version", Value::Str(hit.version))
                .with(
                    "description",
                    Value::Str(hit.description.unwrap_or_default()),
                )
                .with("tags", Value::StrArray(hit.tags))
                .with("deprecated", Value::Bool(hit.deprecated))
                .with("rank", Value::Int(hit.rank.as_int())),
        );
    }
    let mut resp = acl(StatusCode::OK, Document::new(vec![results]).to_source());
    set(&mut resp, header::CACHE_CONTROL, "no-cache");
    resp
}
