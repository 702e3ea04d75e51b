//! Tasks: the steps of a mutation a client shows (a download, an unpack), with their
//! progress. A task is announced once it has lasted [`ANNOUNCE_AFTER`], by its mutation's
//! announcer on the daemon's runtime; one that ends sooner sends nothing.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pandora_proto::v1::{Event, TaskFinished, TaskProgress, TaskStarted, event};
use tokio::sync::mpsc;

use super::Events;
use crate::error::Error;

/// The shortest time between two progress events of a task.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// How long a task runs before its client hears of it.
pub(super) const ANNOUNCE_AFTER: Duration = Duration::from_millis(100);

/// The shortest time between two looks of a mutation's announcer: a task is announced
/// between [`ANNOUNCE_AFTER`] and this much later.
const LOOK_EVERY: Duration = Duration::from_millis(25);

impl Events {
    /// Starts a task; `total` is 0 when unknown. The client hears of it once it has lasted
    /// [`ANNOUNCE_AFTER`]: the downloads and unpacks of an install of many small packages
    /// end sooner, and cost no events at all (three each, hundreds per install, otherwise).
    /// One timer on the daemon's runtime per mutation looks for the tasks that lasted (a
    /// timer per task woke the runtime's threads four times per package). Without a runtime,
    /// it is announced at once.
    pub(crate) fn task(&self, kind: &str, subject: &str, total: u64) -> Task {
        let id = self
            .next_task
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let started = TaskStarted {
            id,
            kind: kind.into(),
            subject: subject.into(),
            total,
        };
        let shown = Arc::new(Mutex::new(Shown {
            announced: self.runtime.is_none(),
            ended: false,
            done: 0,
            last: 0,
            sent: Instant::now(),
        }));
        match &self.runtime {
            None => self.send(event::Kind::TaskStarted(started)),
            Some(runtime) => {
                let due = Instant::now() + self.announce_after;
                let mut waiting = self.announcer.lock();
                waiting.due.push((due, Arc::clone(&shown), started));
                match waiting.next {
                    None => {
                        waiting.next = Some(due);
                        let (announcer, tx) = (Arc::clone(&self.announcer), self.tx.downgrade());
                        runtime.spawn(look(announcer, tx));
                    }
                    Some(next) if due < next => {
                        // Due before the announcer's next look.
                        waiting.next = Some(due);
                        self.announcer.sooner.notify_one();
                    }
                    Some(_) => {}
                }
            }
        }
        Task {
            events: self.clone(),
            id,
            total,
            shown,
        }
    }
}

/// What a task's client has heard of it, shared between the task and its announcer.
struct Shown {
    announced: bool,
    ended: bool,
    /// The progress reported by the task, the last sent to the client, and when that went
    /// out (or the task started).
    done: u64,
    last: u64,
    sent: Instant,
}

/// The tasks of a mutation not announced yet, for its announcer ([`look`]).
#[derive(Default)]
pub(crate) struct Announcer {
    waiting: Mutex<Waiting>,
    /// Woken when a task is due before the announcer's next look.
    sooner: tokio::sync::Notify,
}

#[derive(Default)]
struct Waiting {
    /// When each task is due to be announced.
    due: Vec<(Instant, Arc<Mutex<Shown>>, TaskStarted)>,
    /// When the announcer looks next; `None` while none runs.
    next: Option<Instant>,
}

impl Announcer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A mutation's announcer: announces each task that is due and has not ended, forgets the
/// ended ones, and ends when none is left (the next task starts another). It holds the event
/// stream weakly, so the stream ends with the mutation.
async fn look(announcer: Arc<Announcer>, tx: mpsc::WeakSender<Result<Event, Error>>) {
    loop {
        let next = {
            let mut waiting = announcer.lock();
            let now = Instant::now();
            let tx = tx.upgrade();
            let mut kept = Vec::new();
            for (due, shown, started) in std::mem::take(&mut waiting.due) {
                let ended = shown.lock().unwrap_or_else(PoisonError::into_inner).ended;
                match &tx {
                    Some(tx) if !ended && due <= now => announce(tx, &shown, started),
                    Some(_) if !ended => kept.push((due, shown, started)),
                    _ => {}
                }
            }
            waiting.due = kept;
            let Some(first) = waiting.due.iter().map(|(due, ..)| *due).min() else {
                waiting.next = None;
                return;
            };
            let next = first.max(now + LOOK_EVERY);
            waiting.next = Some(next);
            next
        };
        tokio::select! {
            () = tokio::time::sleep_until(next.into()) => {}
            () = announcer.sooner.notified() => {}
        }
    }
}

/// Announces a task that has not ended yet, with its progress so far. Not waiting for room
/// in the channel: a client too slow to take the announcement misses this task's bar (its
/// progress and end, for an id it never heard of, are ignored).
fn announce(tx: &mpsc::Sender<Result<Event, Error>>, shown: &Mutex<Shown>, started: TaskStarted) {
    let mut shown = shown.lock().unwrap_or_else(PoisonError::into_inner);
    if shown.ended {
        return;
    }
    let (id, total) = (started.id, started.total);
    let send = |kind| {
        let _ = tx.try_send(Ok(Event { kind: Some(kind) }));
    };
    send(event::Kind::TaskStarted(started));
    if shown.done > 0 {
        send(event::Kind::TaskProgress(TaskProgress {
            id,
            done: shown.done,
            total,
        }));
    }
    shown.announced = true;
    shown.last = shown.done;
    shown.sent = Instant::now();
}

/// A unit of work in progress.
pub(crate) struct Task {
    events: Events,
    id: u64,
    total: u64,
    shown: Arc<Mutex<Shown>>,
}

impl Task {
    /// [`Events::stopper`] of the task's mutation.
    pub(crate) fn stopper(&self) -> std::sync::Arc<dyn Fn() -> bool + Send + Sync> {
        self.events.stopper()
    }

    /// [`Events::check`] of the task's mutation.
    pub(crate) fn check(&self) -> Result<(), Error> {
        self.events.check()
    }

    /// Reports `done` bytes: at most ten times a second, and only after 64 KiB more, so that
    /// fast downloads (an install may run hundreds) do not flood the stream; and at the end
    /// (`total`, or where the task stopped). Nothing before the task is announced.
    pub(crate) fn progress(&mut self, done: u64) {
        {
            let mut shown = self.lock();
            shown.done = done;
            let due = done >= shown.last + (64 << 10) && shown.sent.elapsed() >= PROGRESS_EVERY;
            let end = done == self.total && done != shown.last;
            if !shown.announced || !(due || end) {
                return;
            }
            shown.last = done;
            shown.sent = Instant::now();
        }
        self.send_progress(done);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shown> {
        self.shown.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `done` (never while holding the lock the announcer takes: sending may wait).
    fn send_progress(&self, done: u64) {
        self.events.send(event::Kind::TaskProgress(TaskProgress {
            id: self.id,
            done,
            total: self.total,
        }));
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let unsent = {
            let mut shown = self.lock();
            shown.ended = true;
            if !shown.announced {
                // Ended before its client heard of it: nothing to say.
                return;
            }
            // Where it ended, when that was not reported yet (an unknown total, a short
            // body).
            (shown.done != shown.last).then_some(shown.done)
        };
        if let Some(done) = unsent {
            self.send_progress(done);
        }
        self.events
            .send(event::Kind::TaskFinished(TaskFinished { id: self.id }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_goes_out_at_most_ten_times_a_second_and_always_at_the_end() {
        let (tx, mut rx) = mpsc::channel(1000);
        let events = Events {
            tx,
            ..Events::detached()
        };
        let mut task = events.task("download", "a@1", 10 << 20);
        // A fast download: 160 steps of 64 KiB, sent as the end (and at most one step before
        // it, should this thread be held up for 100 ms).
        for step in 1..=160u64 {
            task.progress(step * (64 << 10));
        }
        let mut slow = events.task("download", "b@1", 1 << 20);
        std::thread::sleep(PROGRESS_EVERY);
        slow.progress(32 << 10); // less than 64 KiB since the last: none
        slow.progress(128 << 10); // 64 KiB more and the time has come
        slow.progress(192 << 10); // too soon after it; sent when the task ends short
        let mut unknown = events.task("fetch", "c", 0);
        unknown.progress(1000);
        drop((task, slow, unknown));
        let mut progress: Vec<(u64, u64)> = Vec::new();
        while let Ok(Ok(e)) = rx.try_recv() {
            if let Some(event::Kind::TaskProgress(p)) = e.kind {
                progress.push((p.id, p.done));
            }
        }
        let fast: Vec<_> = progress.iter().filter(|p| p.0 == 0).collect();
        assert!(fast.len() <= 2, "{progress:?}");
        assert_eq!(fast.last(), Some(&&(0, 10 << 20)), "{progress:?}");
        let rest: Vec<_> = progress.iter().filter(|p| p.0 != 0).copied().collect();
        assert_eq!(rest, vec![(1, 128 << 10), (1, 192 << 10), (2, 1000)]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_announcer_does_not_hold_the_stream_open_after_the_mutation() {
        let (tx, mut rx) = mpsc::channel(1000);
        let events = Events {
            tx,
            runtime: Some(tokio::runtime::Handle::current()),
            announce_after: Duration::from_secs(3600),
            ..Events::detached()
        };
        tokio::task::spawn_blocking(move || {
            // Many tasks, one announcer: each due in an hour, all ended at once.
            let tasks: Vec<Task> = (0..100)
                .map(|i| events.task("download", &format!("p{i}@1"), 10))
                .collect();
            assert!(events.announcer.lock().next.is_some());
            assert_eq!(events.announcer.lock().due.len(), 100);
            drop(tasks);
        })
        .await
        .unwrap();
        // The mutation is over: its stream ends now, not when the tasks would have been due.
        let end = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
        assert!(matches!(end, Ok(None)), "{end:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_tasks_that_last_are_announced_with_their_progress_so_far() {
        let (tx, mut rx) = mpsc::channel(1000);
        let events = Events {
            tx,
            runtime: Some(tokio::runtime::Handle::current()),
            // Long enough that the first progress of `long` comes before it on a busy machine.
            announce_after: Duration::from_millis(500),
            ..Events::detached()
        };
        // Waits (10 s at most) for the announcer to announce `task`.
        fn announced(task: &Task) {
            let until = Instant::now() + Duration::from_secs(10);
            while !task.lock().announced {
                assert!(Instant::now() < until, "never announced");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        tokio::task::spawn_blocking(move || {
            // Over before the client would hear of it: nothing at all.
            let patient = Events {
                announce_after: Duration::from_secs(3600),
                ..events.clone()
            };
            let mut quick = patient.task("download", "quick@1", 100);
            quick.progress(100);
            drop(quick);
            // A download that lasts: announced with what it has done, then as before, and
            // what the announcement sent is not sent again.
            let mut long = events.task("download", "long@1", 1 << 20);
            long.progress(64 << 10);
            announced(&long);
            long.progress(96 << 10);
            std::thread::sleep(PROGRESS_EVERY);
            long.progress(1 << 20);
            drop(long);
            // A task that reports no progress is announced all the same.
            let unpack = events.task("unpack", "long@1", 0);
            announced(&unpack);
            drop(unpack);
        })
        .await
        .unwrap();
        let mut seen = Vec::new();
        while let Ok(Ok(e)) = rx.try_recv() {
            seen.push(match e.kind {
                Some(event::Kind::TaskStarted(t)) => format!("start {} {}", t.id, t.kind),
                Some(event::Kind::TaskProgress(p)) => format!("progress {} {}", p.id, p.done),
                Some(event::Kind::TaskFinished(f)) => format!("end {}", f.id),
                other => format!("{other:?}"),
            });
        }
        assert_eq!(
            seen,
            [
                "start 1 download",
                "progress 1 65536",
                "progress 1 1048576",
                "end 1",
                "start 2 unpack",
                "end 2",
            ]
        );
    }
}
