//! The interface between the scheduler and everything that observes a run.
//!
//! The scheduler emits one ordered stream of [`Event`]s; the reporter (and
//! later the recorder and script hooks) each consume it on their own thread.
//! For any task, `TaskStarted` comes before its `TaskOutput`s, which come
//! before its `TaskFinished`. Nothing that receives events can call back
//! into the scheduler.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A task's index in the plan.
pub type TaskId = usize;

/// Which output stream bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What became of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Passed,
    Failed,
    Timeout,
    Skipped,
    Canceled,
}

impl Status {
    /// The lowercase name used in the database and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Timeout => "timeout",
            Status::Skipped => "skipped",
            Status::Canceled => "canceled",
        }
    }
}

/// How a task's process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
    /// It could not be started; the reason.
    NotStarted(String),
}

/// How many bytes of the end of a truncated stream are kept, so that the
/// last lines (usually the ones saying what went wrong) can be shown.
pub const TAIL_BYTES: usize = 8 * 1024;

/// The first bytes of one output stream, how many there were in all, and,
/// when there were more than were kept, its last bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capture {
    pub bytes: Vec<u8>,
    pub total: u64,
    /// Up to [`TAIL_BYTES`] from the end of the stream, once it went past
    /// the limit; empty otherwise.
    pub tail: Vec<u8>,
}

impl Capture {
    /// Adds a chunk of the stream, keeping at most `limit` bytes from its
    /// start (and the tail beyond that).
    pub fn push(&mut self, chunk: &[u8], limit: usize) {
        let room = limit.saturating_sub(self.bytes.len()).min(chunk.len());
        self.bytes.extend_from_slice(&chunk[..room]);
        self.total += chunk.len() as u64;
        let rest = &chunk[room..];
        if !rest.is_empty() {
            self.tail.extend_from_slice(rest);
            if self.tail.len() > 2 * TAIL_BYTES {
                self.tail.drain(..self.tail.len() - TAIL_BYTES);
            }
        }
    }

    pub fn truncated(&self) -> bool {
        self.total > self.bytes.len() as u64
    }

    /// The last bytes of the stream: the tail if it was truncated, else
    /// everything.
    pub fn last_bytes(&self) -> &[u8] {
        if self.truncated() {
            &self.tail[self.tail.len().saturating_sub(TAIL_BYTES)..]
        } else {
            &self.bytes
        }
    }

    /// The kept bytes as text; bytes that are not UTF-8 are shown as U+FFFD.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }
}

/// A task that ran (or was asked to run) and is over.
#[derive(Clone, Debug)]
pub struct TaskResult {
    pub status: Status,
    /// Which run of the task this was: 1 for the first, 2 for the first
    /// retry, and so on.
    pub attempt: u32,
    pub exit: Exit,
    pub started_at: SystemTime,
    pub duration: Duration,
    pub stdout: Capture,
    pub stderr: Capture,
    /// The cluster job that ran this attempt, when a cluster executor did.
    pub job_id: Option<String>,
}

/// Why a task did not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// A task it depends on (directly or not) failed, timed out or was
    /// canceled; the name of that task.
    DependencyFailed(String),
    /// The run was interrupted before the task could start.
    Interrupted,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::DependencyFailed(name) => write!(f, "dependency failed: {name}"),
            SkipReason::Interrupted => f.write_str("run interrupted"),
        }
    }
}

/// Counts of task statuses in a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub timeout: usize,
    pub skipped: usize,
    pub canceled: usize,
}

impl Counts {
    pub fn add(&mut self, status: Status) {
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::Timeout => self.timeout += 1,
            Status::Skipped => self.skipped += 1,
            Status::Canceled => self.canceled += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.passed + self.failed + self.timeout + self.skipped + self.canceled
    }

    pub fn all_passed(&self) -> bool {
        self.passed == self.total()
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub counts: Counts,
    pub duration: Duration,
    /// The signal that interrupted the run, if one did.
    pub interrupted: Option<i32>,
}

/// One thing that happened in a run.
#[derive(Clone, Debug)]
pub enum Event {
    RunStarted {
        tasks: usize,
        jobs: usize,
        at: SystemTime,
    },
    TaskStarted {
        task: TaskId,
        at: SystemTime,
    },
    TaskOutput {
        task: TaskId,
        stream: Stream,
        bytes: Arc<[u8]>,
    },
    TaskFinished {
        task: TaskId,
        result: Arc<TaskResult>,
    },
    /// An attempt failed or timed out and the task will run again after
    /// `delay`; `result` is the attempt's, `retries` how many retries the
    /// task has in all.
    TaskRetrying {
        task: TaskId,
        result: Arc<TaskResult>,
        retries: u32,
        delay: Duration,
    },
    TaskSkipped {
        task: TaskId,
        reason: SkipReason,
    },
    /// The first interrupting signal arrived: no more tasks start and the
    /// running ones were sent the signal.
    Interrupted {
        signal: i32,
        running: usize,
    },
    RunFinished {
        summary: Summary,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_the_head_counts_all_and_keeps_the_tail() {
        let mut capture = Capture::default();
        capture.push(b"hello ", 8);
        assert!(!capture.truncated());
        assert_eq!(capture.last_bytes(), b"hello ");
        capture.push(b"world", 8);
        assert_eq!(capture.bytes, b"hello wo");
        assert_eq!(capture.total, 11);
        assert!(capture.truncated());
        assert_eq!(capture.last_bytes(), b"rld");
        let big = vec![b'x'; 5 * TAIL_BYTES];
        capture.push(&big, 8);
        capture.push(b"end", 8);
        assert_eq!(capture.last_bytes().len(), TAIL_BYTES);
        assert!(capture.last_bytes().ends_with(b"xend"));
        assert_eq!(capture.bytes, b"hello wo");
    }
}
