//! The recorder: a run's events into the history database.
//!
//! It runs on its own thread and owns the store. Task changes are batched
//! and written in short transactions (at most [`BATCH_WINDOW`] after the
//! first change of a batch, or sooner once [`BATCH_ROWS`] are waiting),
//! never one transaction per row. The
//! first write error is kept and reported at the end; the run itself goes
//! on regardless.

use std::time::{Duration, Instant, SystemTime};

use super::rows::Lane;
use super::store::{Store, StoreError};
use super::write::{RunIds, TaskUpdate};
use crate::error::Error;
use crate::event::{Counts, Event, Signal, Status, Summary};
use crate::sink::{Sink, Wait};

/// How long a finished task may wait before it is written.
pub(super) const BATCH_WINDOW: Duration = Duration::from_millis(50);

/// How many waiting changes force a write.
pub(super) const BATCH_ROWS: usize = 512;

/// Writes one run's events to its store.
pub(crate) struct Recorder {
    store: Store,
    ids: RunIds,
    pending: Vec<TaskUpdate>,
    /// When and where each task's current attempt started.
    lanes: Vec<Lane>,
    /// When the batch that `pending` began must be written.
    window_end: Option<Instant>,
    counts: Counts,
    interrupted_by: Option<Signal>,
    error: Option<StoreError>,
}

impl Recorder {
    /// A recorder for the run `ids` (see [`Store::begin_run`]).
    pub(crate) fn new(store: Store, ids: RunIds) -> Recorder {
        Recorder {
            lanes: vec![Lane::default(); ids.tasks.len()],
            store,
            ids,
            pending: Vec::new(),
            window_end: None,
            counts: Counts::default(),
            interrupted_by: None,
            error: None,
        }
    }

    fn event(&mut self, event: Event) {
        let update = match event {
            Event::TaskStarted {
                task,
                attempt,
                at,
                since_start,
                slot,
            } => {
                let lane = Lane {
                    start: since_start,
                    slot,
                };
                self.lanes[task] = lane;
                TaskUpdate::Started {
                    task,
                    attempt,
                    at,
                    lane,
                }
            }
            Event::TaskFinished { task, result } => {
                self.counts.add(result.status);
                self.forget_start(task);
                let reason = match (result.status, self.interrupted_by) {
                    (Status::Canceled, Some(signal)) => {
                        Some(format!("run interrupted by {signal}"))
                    }
                    _ => None,
                };
                TaskUpdate::Finished {
                    task,
                    result,
                    reason,
                    lane: self.lanes[task],
                }
            }
            Event::TaskRetrying { task, result, .. } => {
                self.forget_start(task);
                TaskUpdate::Finished {
                    task,
                    result,
                    reason: None,
                    lane: self.lanes[task],
                }
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
            Event::RunStarted { .. }
            | Event::TaskOutput { .. }
            | Event::Halted { .. }
            | Event::RunFinished { .. } => {
                return;
            }
        };
        self.pending.push(update);
        if self.window_end.is_none() {
            self.window_end = Some(Instant::now() + BATCH_WINDOW);
        }
        if self.pending.len() >= BATCH_ROWS {
            self.flush();
        }
    }

    /// Drops a waiting `running` update of `task`'s first attempt: an
    /// attempt that starts and ends within one batch needs only its result
    /// written (which includes when it started). A later attempt's start
    /// makes its row, and stays.
    fn forget_start(&mut self, task: usize) {
        if let Some(index) = self.pending.iter().rposition(|update| {
            matches!(update, TaskUpdate::Started { task: t, attempt: 1, .. } if *t == task)
        }) {
            self.pending.remove(index);
        }
    }

    fn flush(&mut self) {
        self.window_end = None;
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
    fn finish_run(&mut self, summary: &Summary) {
        let incomplete = self.error.as_ref().map(incomplete_note);
        let result = self
            .store
            .finish_run(self.ids.run, summary, incomplete.as_deref());
        if let (Err(error), None) = (result, &self.error) {
            self.error = Some(error);
        }
    }
}

/// The note of a run whose results were not all written because of
/// `error`.
pub(super) fn incomplete_note(error: &StoreError) -> String {
    let cause = std::error::Error::source(error).map_or(String::new(), |c| format!(": {c}"));
    format!("results not all recorded ({error}{cause})")
}

/// The recorder sleeps through its batch window while events wait (its
/// queue is unbounded for that: a write waits at most the busy timeout),
/// so that a run of many short tasks does not wake it for every event.
impl Sink for Recorder {
    fn wants_output(&self) -> bool {
        // The results carry the output; the recorder keeps none as it comes.
        false
    }

    fn queue(&self) -> Option<usize> {
        None
    }

    fn receive(&mut self, event: Event) {
        if let Event::RunFinished { summary } = event {
            self.flush();
            self.finish_run(&summary);
        } else {
            self.event(event);
        }
    }

    fn wait(&self) -> Wait {
        self.window_end.map_or(Wait::ForEvent, Wait::Sleep)
    }

    fn tick(&mut self) {
        self.flush();
    }

    fn finish(mut self: Box<Self>) -> Result<(), Error> {
        self.flush();
        self.error.map_or(Ok(()), |error| Err(error.into()))
    }
}
