//! The mutation queue. Invariant: at most one mutation runs at a time, in arrival order; each
//! runs on a blocking thread and reports through an [`Events`] sink; when it ends, the read
//! snapshot is rebuilt before the next one starts. A client that goes away does not stop a
//! running mutation: every mutation is written so that it completes or leaves nothing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pandora_proto::v1::{
    Event, Log, Summary, TaskFinished, TaskProgress, TaskStarted, Warning, event,
};
use tokio::sync::mpsc;

use crate::error::Error;

/// What a mutation reports: its events, then its summary or its error.
pub(crate) type EventStream = tokio_stream::wrappers::ReceiverStream<Result<Event, Error>>;

/// Where a running mutation reports. Sending never blocks the mutation for long and never
/// fails it: a departed client only stops receiving.
#[derive(Clone)]
pub(crate) struct Events {
    tx: mpsc::Sender<Result<Event, Error>>,
    next_task: Arc<AtomicU64>,
}

impl Events {
    /// A sink nobody listens to, for work outside the queue (reads that download).
    pub(crate) fn detached() -> Events {
        let (tx, _) = mpsc::channel(1);
        Events {
            tx,
            next_task: Arc::default(),
        }
    }

    fn send(&self, kind: event::Kind) {
        let _ = self.tx.blocking_send(Ok(Event { kind: Some(kind) }));
    }

    /// Starts a task; `total` is 0 when unknown.
    pub(crate) fn task(&self, kind: &str, subject: &str, total: u64) -> Task {
        let id = self.next_task.fetch_add(1, Ordering::Relaxed);
        self.send(event::Kind::TaskStarted(TaskStarted {
            id,
            kind: kind.into(),
            subject: subject.into(),
            total,
        }));
        Task {
            events: self.clone(),
            id,
            total,
            last: 0,
        }
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

/// A unit of work in progress.
pub(crate) struct Task {
    events: Events,
    id: u64,
    total: u64,
    last: u64,
}

impl Task {
    /// Reports `done` bytes, at most every 64 KiB so a fast download does not flood the stream.
    pub(crate) fn progress(&mut self, done: u64) {
        if done >= self.last + (64 << 10) || done == self.total {
            self.last = done;
            self.events.send(event::Kind::TaskProgress(TaskProgress {
                id: self.id,
                done,
                total: self.total,
            }));
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.events
            .send(event::Kind::TaskFinished(TaskFinished { id: self.id }));
    }
}

/// What a mutation returns: summary lines and counters, or why it failed.
pub(crate) type Outcome = Result<Summary, Error>;

type Work = Box<dyn FnOnce(&Events) -> Outcome + Send>;

struct Job {
    label: String,
    work: Work,
    tx: mpsc::Sender<Result<Event, Error>>,
}

/// The queue's handle: cheap to clone.
#[derive(Clone)]
pub(crate) struct Engine {
    tx: mpsc::UnboundedSender<Job>,
    queue: Arc<Mutex<VecDeque<(String, bool)>>>,
}

impl Engine {
    /// Starts the worker; `after` runs after every mutation (it rebuilds the read snapshot).
    pub(crate) fn start(after: impl Fn() + Send + Sync + 'static) -> Engine {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let queue: Arc<Mutex<VecDeque<(String, bool)>>> = Arc::default();
        let q = queue.clone();
        let after = Arc::new(after);
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                if let Some(front) = q.lock().expect("queue lock").front_mut() {
                    front.1 = true;
                }
                let events = Events {
                    tx: job.tx.clone(),
                    next_task: Arc::default(),
                };
                let work = job.work;
                let after = after.clone();
                let label = job.label.clone();
                let result = tokio::task::spawn_blocking(move || {
                    let out = work(&events);
                    after();
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
        Engine { tx, queue }
    }

    /// Queues a mutation; its events arrive on the returned stream.
    pub(crate) fn submit(
        &self,
        label: String,
        work: impl FnOnce(&Events) -> Outcome + Send + 'static,
    ) -> EventStream {
        let (tx, rx) = mpsc::channel(256);
        self.queue
            .lock()
            .expect("queue lock")
            .push_back((label.clone(), false));
        if self
            .tx
            .send(Job {
                label,
                work: Box::new(work),
                tx,
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
