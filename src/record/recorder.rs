//! The recorder: a run's events into the history database.
//!
//! It runs on its own thread and owns the store. Task changes are batched
//! and written in short transactions (at most [`BATCH_WINDOW`] after the
//! first change of a batch, or sooner once [`BATCH_ROWS`] are waiting),
//! never one transaction per row. The
//! first write error is kept and reported at the end; the run itself goes
//! on regardless.

use std::time::{Duration, Instant, SystemTime};

use crossbeam::channel::{Receiver, TryRecvError};

use super::store::{RunIds, Store, StoreError, TaskUpdate};
use crate::event::{Counts, Event, Status, Summary};
use crate::execute::signal_name;

/// How long a finished task may wait before it is written.
const BATCH_WINDOW: Duration = Duration::from_millis(50);

/// How many waiting changes force a write.
const BATCH_ROWS: usize = 512;

/// Writes one run's events to its store.
pub struct Recorder {
    store: Store,
    ids: RunIds,
    pending: Vec<TaskUpdate>,
    counts: Counts,
    interrupted_by: Option<i32>,
    error: Option<StoreError>,
}

impl Recorder {
    /// A recorder for the run `ids` (see [`Store::begin_run`]).
    pub fn new(store: Store, ids: RunIds) -> Recorder {
        Recorder {
            store,
            ids,
            pending: Vec::new(),
            counts: Counts::default(),
            interrupted_by: None,
            error: None,
        }
    }

    /// Records events until the channel closes, and returns the first
    /// error, if writing failed.
    ///
    /// The recorder blocks on the channel only while nothing is waiting to
    /// be written. Once a batch has begun it parks until the batch window
    /// closes and then takes everything that arrived, so that a run of many
    /// short tasks does not wake it (a context switch) for every event.
    /// Whoever closes the channel should unpark the recorder's thread, so
    /// that the end of the run is written at once.
    pub fn consume(mut self, events: &Receiver<Event>) -> Result<(), StoreError> {
        'run: while let Ok(event) = events.recv() {
            self.take(event);
            let window_end = Instant::now() + BATCH_WINDOW;
            loop {
                loop {
                    match events.try_recv() {
                        Ok(event) => self.take(event),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => break 'run,
                    }
                }
                let now = Instant::now();
                if now >= window_end || self.pending.len() >= BATCH_ROWS {
                    break;
                }
                std::thread::park_timeout(window_end - now);
            }
            self.flush();
        }
        self.flush();
        self.error.map_or(Ok(()), Err)
    }

    fn take(&mut self, event: Event) {
        if let Event::RunFinished { summary } = event {
            self.flush();
            self.finish(&summary);
        } else {
            self.event(event);
        }
    }

    fn event(&mut self, event: Event) {
        let update = match event {
            Event::TaskStarted { task, at } => TaskUpdate::Started { task, at },
            Event::TaskFinished { task, result } => {
                self.counts.add(result.status);
                self.forget_start(task);
                let reason = match (result.status, self.interrupted_by) {
                    (Status::Canceled, Some(signal)) => {
                        Some(format!("run interrupted by {}", signal_name(signal)))
                    }
                    _ => None,
                };
                TaskUpdate::Finished {
                    task,
                    result,
                    reason,
                }
            }
            Event::TaskRetrying { task, result, .. } => {
                self.forget_start(task);
                TaskUpdate::Retried { task, result }
            }
            Event::TaskSkipped { task, reason } => {
                self.counts.add(Status::Skipped);
                TaskUpdate::Skipped {
                    task,
                    reason: reason.to_string(),
                    at: SystemTime::now(),
                }
            }
            Event::Interrupted { signal, .. } => {
                self.interrupted_by = Some(signal);
                return;
            }
            Event::RunStarted { .. } | Event::TaskOutput { .. } | Event::RunFinished { .. } => {
                return;
            }
        };
        self.pending.push(update);
    }

    /// Drops a waiting `running` update of `task`: an attempt that starts
    /// and ends within one batch needs only its result written (which
    /// includes when it started).
    fn forget_start(&mut self, task: usize) {
        if let Some(index) = self
            .pending
            .iter()
            .rposition(|update| matches!(update, TaskUpdate::Started { task: t, .. } if *t == task))
        {
            self.pending.remove(index);
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let updates = std::mem::take(&mut self.pending);
        if self.error.is_none()
            && let Err(error) =
                self.store
                    .record(self.ids.run, &mut self.ids.tasks, &updates, &self.counts)
        {
            self.error = Some(error);
        }
    }

    /// Completes the run row. After a write error this is still tried
    /// (the failed write may have been a large output), to mark the run
    /// incomplete rather than leave it looking as if taskrun had died.
    fn finish(&mut self, summary: &Summary) {
        let incomplete = self.error.as_ref().map(|error| {
            let cause =
                std::error::Error::source(error).map_or(String::new(), |c| format!(": {c}"));
            format!("results not all recorded ({error}{cause})")
        });
        let result = self
            .store
            .finish_run(self.ids.run, summary, incomplete.as_deref());
        if let (Err(error), None) = (result, &self.error) {
            self.error = Some(error);
        }
    }
}
