//! The mutation queue. Invariant: at most one mutation runs at a time, in arrival order; each
//! runs on a blocking thread and reports through an [`Events`] sink; when it ends, the read
//! snapshot is rebuilt before the next one starts. A client that goes away does not stop a
//! running mutation: every mutation is written so that it completes or leaves nothing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pandora_proto::v1::{Event, Log, Summary, Warning, event};
use tokio::sync::mpsc;

use crate::error::Error;
use crate::store::StoreView;

mod task;

use task::ANNOUNCE_AFTER;
pub(crate) use task::Task;

/// What a mutation reports: its events, then its summary or its error.
pub(crate) type EventStream = tokio_stream::wrappers::ReceiverStream<Result<Event, Error>>;

/// Where a running mutation reports. Sending never blocks the mutation for long and never
/// fails it: a departed client only stops receiving.
#[derive(Clone)]
pub(crate) struct Events {
    tx: mpsc::Sender<Result<Event, Error>>,
    next_task: Arc<AtomicU64>,
    /// Whether a client listens (a detached sink is not cancelled by its missing client).
    attached: bool,
    /// Set when the daemon is stopping.
    shutdown: Arc<AtomicBool>,
    /// When the mutation must have finished.
    deadline: Option<Instant>,
    /// Makes a store view the one reads see (the daemon's shared snapshot).
    publisher: Option<Publisher>,
    /// Whether the mutation published the store as it left it.
    published: Arc<AtomicBool>,
    /// The runtime whose timers announce the tasks that last (without one, every task is
    /// announced as it starts).
    runtime: Option<tokio::runtime::Handle>,
    /// How long a task runs before it is announced: [`task::ANNOUNCE_AFTER`].
    announce_after: Duration,
    /// The mutation's tasks that are not announced yet.
    announcer: Arc<task::Announcer>,
}

/// Makes a store view the daemon's shared snapshot.
pub(crate) type Publisher = Arc<dyn Fn(Arc<StoreView>) + Send + Sync>;

impl Events {
    /// A sink nobody listens to, for work outside the queue (reads that download).
    pub(crate) fn detached() -> Events {
        let (tx, _) = mpsc::channel(1);
        Events {
            tx,
            next_task: Arc::default(),
            attached: false,
            shutdown: Arc::default(),
            deadline: None,
            publisher: None,
            published: Arc::default(),
            runtime: None,
            announce_after: ANNOUNCE_AFTER,
            announcer: Arc::default(),
        }
    }

    /// Publishes `store`, the store as this mutation leaves it (after its last change), for
    /// the reads that come after: the refresh that follows a mutation is then not needed.
    pub(crate) fn publish_store(&self, store: Arc<StoreView>) {
        if let Some(publish) = &self.publisher {
            publish(store);
            self.published.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the work should stop at its next safe point, and why: its client went away,
    /// the daemon is stopping, or it ran past its deadline. Mutations call [`Events::check`]
    /// between steps and in long loops (every chunk of a download); a mutation stopped
    /// before its commit leaves only `tmp/`, which is cleared.
    pub(crate) fn check(&self) -> Result<(), Error> {
        let reason = if self.shutdown.load(Ordering::Relaxed) {
            "the daemon is stopping"
        } else if self.attached && self.tx.is_closed() {
            "its client went away"
        } else if self.deadline.is_some_and(|d| Instant::now() > d) {
            "it ran past its deadline (PANDORA_MUTATION_TIMEOUT)"
        } else {
            return Ok(());
        };
        Err(Error::Cancelled(reason))
    }

    fn send(&self, kind: event::Kind) {
        let _ = self.tx.blocking_send(Ok(Event { kind: Some(kind) }));
    }

    /// [`Events::check`] as a flag for code that cannot return this crate's errors (a read
    /// waiting on a server): `true` once the work should stop.
    pub(crate) fn stopper(&self) -> std::sync::Arc<dyn Fn() -> bool + Send + Sync> {
        let events = self.clone();
        std::sync::Arc::new(move || events.check().is_err())
    }

    pub(crate) fn info(&self, message: impl Into<String>) {
        self.send(event::Kind::Log(Log {
            level: "info".into(),
            message: message.into(),
        }));
    }

    /// A warning: a stable `code`, the package it concerns (or ""), the sentence, and its
    /// data as `fields` for front ends.
    pub(crate) fn warn(
        &self,
        code: &str,
        subject: &str,
        message: impl Into<String>,
        fields: &[(&str, &str)],
    ) {
        self.send(event::Kind::Warning(Warning {
            message: message.into(),
            subject: subject.into(),
            code: code.into(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }));
    }
}

/// What a mutation returns: summary lines and counters, or why it failed.
pub(crate) type Outcome = Result<Summary, Error>;

type Work = Box<dyn FnOnce(&Events) -> Outcome + Send>;

struct Job {
    label: String,
    work: Work,
    tx: mpsc::Sender<Result<Event, Error>>,
    store: StoreUse,
}

/// How a mutation uses the store, which says what runs around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoreUse {
    /// It may change the store (install, remove, prune): `before`, then `after(true)`.
    Changes,
    /// It reads the store but leaves it as it is (activation): `before`, then `after(false)`.
    Reads,
    /// It neither reads nor changes the store (a rollback, an override): nothing around it.
    Apart,
}

/// The queue's handle: cheap to clone.
#[derive(Clone)]
pub(crate) struct Engine {
    tx: mpsc::UnboundedSender<Job>,
    queue: Arc<Mutex<VecDeque<(String, bool)>>>,
    shutdown: Arc<AtomicBool>,
}

/// How long one mutation may run: `PANDORA_MUTATION_TIMEOUT` seconds, default one hour.
fn mutation_timeout() -> Duration {
    let secs = std::env::var("PANDORA_MUTATION_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3600);
    Duration::from_secs(secs)
}

impl Engine {
    /// Starts the worker. `before` runs before every mutation that uses the store (it brings
    /// the read snapshot up to date: someone may have changed the store by hand), `after`
    /// after it (whatever the mutation left to clean, and the snapshot when its argument says
    /// the store may have changed and the mutation did not publish it through `publish`).
    /// See [`StoreUse`].
    pub(crate) fn start(
        before: impl Fn() + Send + Sync + 'static,
        after: impl Fn(bool) + Send + Sync + 'static,
        publish: impl Fn(Arc<StoreView>) + Send + Sync + 'static,
    ) -> Engine {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let queue: Arc<Mutex<VecDeque<(String, bool)>>> = Arc::default();
        let shutdown: Arc<AtomicBool> = Arc::default();
        let (q, stop) = (queue.clone(), shutdown.clone());
        let (before, after) = (Arc::new(before), Arc::new(after));
        let publisher: Publisher = Arc::new(publish);
        let timeout = mutation_timeout();
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                // A client that left while its mutation waited wants nothing any more.
                if job.tx.is_closed() || stop.load(Ordering::Relaxed) {
                    tracing::info!(mutation = %job.label, "dropped from the queue: its client went away");
                    q.lock().expect("queue lock").pop_front();
                    continue;
                }
                if let Some(front) = q.lock().expect("queue lock").front_mut() {
                    front.1 = true;
                }
                let events = Events {
                    tx: job.tx.clone(),
                    next_task: Arc::default(),
                    attached: true,
                    shutdown: stop.clone(),
                    deadline: Some(Instant::now() + timeout),
                    publisher: Some(publisher.clone()),
                    published: Arc::default(),
                    runtime: tokio::runtime::Handle::try_current().ok(),
                    announce_after: ANNOUNCE_AFTER,
                    announcer: Arc::default(),
                };
                let (work, store) = (job.work, job.store);
                let (before, after) = (before.clone(), after.clone());
                let label = job.label.clone();
                let result = tokio::task::spawn_blocking(move || {
                    if store != StoreUse::Apart {
                        before();
                    }
                    let out = work(&events);
                    if store != StoreUse::Apart {
                        let published = events.published.load(Ordering::Relaxed);
                        after(store == StoreUse::Changes && !published);
                    }
                    out
                })
                .await
                .unwrap_or_else(|e| Err(Error::Internal(format!("{label} crashed: {e}"))));
                let last = result.map(|summary| Event {
                    kind: Some(event::Kind::Summary(summary)),
                });
                let _ = job.tx.send(last).await;
                q.lock().expect("queue lock").pop_front();
            }
        });
        Engine {
            tx,
            queue,
            shutdown,
        }
    }

    /// Asks the running mutation to stop at its next safe point, and drops the waiting ones.
    pub(crate) fn shut_down(&self) {
        self.shutdown.store(true, Ordering::Relaxed);
    }

    /// Queues a mutation that uses the store as `store` says; its events arrive on the
    /// returned stream.
    pub(crate) fn submit_using(
        &self,
        label: String,
        store: StoreUse,
        work: impl FnOnce(&Events) -> Outcome + Send + 'static,
    ) -> EventStream {
        let work: Work = Box::new(work);
        let (tx, rx) = mpsc::channel(256);
        let ahead: Vec<String> = {
            let mut queue = self.queue.lock().expect("queue lock");
            let ahead = queue
                .iter()
                .map(|(l, running)| {
                    if *running {
                        format!("`{l}` (running)")
                    } else {
                        format!("`{l}`")
                    }
                })
                .collect();
            queue.push_back((label.clone(), false));
            ahead
        };
        // A client behind others hears why nothing happens yet.
        if !ahead.is_empty() {
            let _ = tx.try_send(Ok(Event {
                kind: Some(event::Kind::Log(Log {
                    level: "info".into(),
                    message: format!(
                        "waiting for {} to finish first (changes run one at a time)",
                        ahead.join(", ")
                    ),
                })),
            }));
        }
        if self
            .tx
            .send(Job {
                label,
                work,
                tx,
                store,
            })
            .is_err()
        {
            self.queue.lock().expect("queue lock").pop_back();
        }
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }

    /// Labels of queued and running mutations, oldest first.
    pub(crate) fn queue(&self) -> Vec<String> {
        self.queue
            .lock()
            .expect("queue lock")
            .iter()
            .map(|(l, running)| {
                if *running {
                    format!("{l} (running)")
                } else {
                    format!("{l} (waiting)")
                }
            })
            .collect()
    }

    /// Whether a mutation is queued or running.
    pub(crate) fn busy(&self) -> bool {
        !self.queue.lock().expect("queue lock").is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::StreamExt;

    async fn last(mut s: EventStream) -> Vec<Result<Event, Error>> {
        let mut out = Vec::new();
        while let Some(e) = s.next().await {
            out.push(e);
        }
        out
    }

    #[tokio::test]
    async fn mutations_run_one_at_a_time_in_order_and_end_in_a_summary_or_an_error() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let refreshed = Arc::new(AtomicU64::new(0));
        let (r1, r2) = (refreshed.clone(), refreshed.clone());
        let engine = Engine::start(
            move || {
                r1.fetch_add(1, Ordering::SeqCst);
            },
            move |_| {
                r2.fetch_add(1, Ordering::SeqCst);
            },
            |_| {},
        );
        let running = Arc::new(AtomicU64::new(0));
        let mut streams = Vec::new();
        for i in 0..4u64 {
            let (order, running) = (order.clone(), running.clone());
            streams.push(engine.submit_using(
                format!("job {i}"),
                StoreUse::Changes,
                move |events| {
                    assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0, "one at a time");
                    events.info(format!("job {i}"));
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    order.lock().unwrap().push(i);
                    running.fetch_sub(1, Ordering::SeqCst);
                    if i == 2 {
                        return Err(Error::Usage("job 2 fails".into()));
                    }
                    Ok(Summary {
                        lines: vec![format!("done {i}")],
                        ..Default::default()
                    })
                },
            ));
        }
        assert_eq!(engine.queue().len(), 4);
        let mut results = Vec::new();
        for s in streams {
            results.push(last(s).await);
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3]);
        for (i, events) in results.iter().enumerate() {
            // Each job behind another first hears what it waits for.
            if i == 0 {
                assert_eq!(events.len(), 2, "a log line, then the end");
            } else {
                assert_eq!(events.len(), 3, "why it waits, a log line, then the end");
                match &events[0] {
                    Ok(Event {
                        kind: Some(event::Kind::Log(l)),
                    }) => assert!(l.message.starts_with("waiting for `job 0`"), "{l:?}"),
                    other => panic!("unexpected first event: {other:?}"),
                }
            }
            match (events.last().expect("an end"), i) {
                (Err(e), 2) => assert_eq!(e.to_string(), "job 2 fails"),
                (
                    Ok(Event {
                        kind: Some(event::Kind::Summary(s)),
                    }),
                    _,
                ) => {
                    assert_eq!(s.lines, [format!("done {i}")])
                }
                other => panic!("unexpected end: {other:?}"),
            }
        }
        assert_eq!(
            refreshed.load(Ordering::SeqCst),
            8,
            "the snapshot before and after each"
        );
        assert!(!engine.busy());
        let apart = engine.submit_using("rollback".into(), StoreUse::Apart, |_| {
            Ok(Summary::default())
        });
        assert!(matches!(last(apart).await.last(), Some(Ok(_))));
        assert_eq!(
            refreshed.load(Ordering::SeqCst),
            8,
            "no snapshot around a mutation apart from the store"
        );
    }

    #[tokio::test]
    async fn a_mutation_that_published_the_store_is_not_followed_by_a_refresh() {
        let afters = Arc::new(Mutex::new(Vec::new()));
        let published = Arc::new(AtomicU64::new(0));
        let (a, p) = (afters.clone(), published.clone());
        let engine = Engine::start(
            || {},
            move |changed| a.lock().unwrap().push(changed),
            move |_| {
                p.fetch_add(1, Ordering::SeqCst);
            },
        );
        let publishing = engine.submit_using("install".into(), StoreUse::Changes, |events| {
            events.publish_store(Arc::new(StoreView::default()));
            Ok(Summary::default())
        });
        assert!(matches!(last(publishing).await.last(), Some(Ok(_))));
        let silent = engine.submit_using("remove".into(), StoreUse::Changes, |_| {
            Ok(Summary::default())
        });
        assert!(matches!(last(silent).await.last(), Some(Ok(_))));
        assert_eq!(published.load(Ordering::SeqCst), 1);
        // The first left its view (no refresh needed), the second did not.
        assert_eq!(*afters.lock().unwrap(), [false, true]);
    }

    #[tokio::test]
    async fn a_crashing_mutation_is_an_internal_error_and_the_queue_goes_on() {
        let engine = Engine::start(|| {}, |_| {}, |_| {});
        let crash = engine.submit_using("crash".into(), StoreUse::Changes, |_| panic!("boom"));
        let after =
            engine.submit_using("after".into(), StoreUse::Reads, |_| Ok(Summary::default()));
        let crashed = last(crash).await;
        match crashed.last() {
            Some(Err(e)) => {
                assert_eq!(e.code(), crate::error::code::INTERNAL);
                assert!(e.to_string().starts_with("crash crashed"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(last(after).await.last(), Some(Ok(_))));
    }
}
