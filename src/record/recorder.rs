//! The recorder: a run's events into the history database.
//!
//! It runs on its own thread and owns the store. Task changes are batched
//! and written in short transactions (every [`BATCH_WINDOW`], or sooner
//! once [`BATCH_ROWS`] are waiting), never one transaction per row. The
//! first write error is kept and reported at the end; the run itself goes
//! on regardless.

use std::time::{Duration, Instant, SystemTime};

use crossbeam::channel::{Receiver, RecvTimeoutError};

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
    since: Option<Instant>,
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
            since: None,
            counts: Counts::default(),
            interrupted_by: None,
            error: None,
        }
    }

    /// Records events until the channel closes, and returns the first
    /// error, if writing failed.
    pub fn consume(mut self, events: &Receiver<Event>) -> Result<(), StoreError> {
        loop {
            let event = match self.since {
                Some(since) => {
                    match events.recv_timeout(BATCH_WINDOW.saturating_sub(since.elapsed())) {
                        Ok(event) => Some(event),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                None => match events.recv() {
                    Ok(event) => Some(event),
                    Err(_) => break,
                },
            };
            match event {
                Some(Event::RunFinished { summary }) => {
                    self.flush();
                    self.finish(&summary);
                }
                Some(event) => self.event(event),
                None => {}
            }
            let due = self
                .since
                .is_some_and(|since| since.elapsed() >= BATCH_WINDOW);
            if due || self.pending.len() >= BATCH_ROWS {
                self.flush();
            }
        }
        self.flush();
        self.error.map_or(Ok(()), Err)
    }

    fn event(&mut self, event: Event) {
        let update = match event {
            Event::TaskStarted { task, at } => TaskUpdate::Started {
                row: self.ids.tasks[task],
                at,
            },
            Event::TaskFinished { task, result } => {
                self.counts.add(result.status);
                let reason = match (result.status, self.interrupted_by) {
                    (Status::Canceled, Some(signal)) => {
                        Some(format!("run interrupted by {}", signal_name(signal)))
                    }
                    _ => None,
                };
                TaskUpdate::Finished {
                    row: self.ids.tasks[task],
                    result,
                    reason,
                }
            }
            Event::TaskSkipped { task, reason } => {
                self.counts.add(Status::Skipped);
                TaskUpdate::Skipped {
                    row: self.ids.tasks[task],
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
        self.since.get_or_insert_with(Instant::now);
    }

    fn flush(&mut self) {
        self.since = None;
        if self.pending.is_empty() {
            return;
        }
        let updates = std::mem::take(&mut self.pending);
        if self.error.is_none()
            && let Err(error) = self.store.record(self.ids.run, &updates, &self.counts)
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
