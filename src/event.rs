//! The interface between the engine and everything that observes it.
//!
//! The scheduler emits one ordered stream of [`Event`]s for a run; the
//! reports, the recorder and the script's hooks each consume it on their
//! own thread, and nothing that receives them can call back into the
//! scheduler. A [`Broker`](crate::Broker) sends each task's events to that
//! task's own handler instead. Either way, for any task, `TaskStarted`
//! comes before its `TaskOutput`s, which come before its `TaskFinished`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// A task's index in its plan (the order it was declared in), or in its
/// broker (the order it was submitted in).
pub type TaskId = usize;

/// Which output stream bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// What became of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// It exited with code 0.
    Passed,
    /// It exited with another code, was killed by a signal, or could not
    /// start.
    Failed,
    /// It ran past its time limit and was stopped.
    Timeout,
    /// It never ran: a task it needs did not pass, or the run was
    /// interrupted first.
    Skipped,
    /// It was running when the run was interrupted, and was stopped.
    Canceled,
    /// It was up to date: its declared outputs and its output were
    /// restored from the store instead of running it. Counts as passed.
    Cached,
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
            Status::Cached => "cached",
        }
    }

    /// The status stored as `name`, if it is one.
    pub fn parse(name: &str) -> Option<Status> {
        Some(match name {
            "passed" => Status::Passed,
            "failed" => Status::Failed,
            "timeout" => Status::Timeout,
            "skipped" => Status::Skipped,
            "canceled" => Status::Canceled,
            "cached" => Status::Cached,
            _ => return None,
        })
    }

    /// Whether a task that ended so counts as passed: it passed, or it
    /// was up to date and restored from the store.
    pub fn is_pass(self) -> bool {
        matches!(self, Status::Passed | Status::Cached)
    }

    /// Whether a task that ended so counts as failed: it failed or timed
    /// out (the specification's `failed` counts timeouts).
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::Timeout)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Unix signal, shown by its name (`SIGKILL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Signal(pub i32);

impl Signal {
    /// Ctrl-C.
    pub const INT: Signal = Signal(libc::SIGINT);
    /// The polite request to stop.
    pub const TERM: Signal = Signal(libc::SIGTERM);
    /// The one that cannot be caught.
    pub const KILL: Signal = Signal(libc::SIGKILL);

    /// The signal's number.
    pub fn number(self) -> i32 {
        self.0
    }

    /// The signal stored as `number`, as the database keeps it.
    pub fn from_stored(number: i64) -> Signal {
        Signal(i32::try_from(number).unwrap_or(0))
    }

    /// The conventional name (`SIGTERM`), if the signal has one here.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            libc::SIGHUP => "SIGHUP",
            libc::SIGINT => "SIGINT",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGILL => "SIGILL",
            libc::SIGTRAP => "SIGTRAP",
            libc::SIGABRT => "SIGABRT",
            libc::SIGBUS => "SIGBUS",
            libc::SIGFPE => "SIGFPE",
            libc::SIGKILL => "SIGKILL",
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGALRM => "SIGALRM",
            libc::SIGTERM => "SIGTERM",
            libc::SIGCHLD => "SIGCHLD",
            libc::SIGCONT => "SIGCONT",
            libc::SIGSTOP => "SIGSTOP",
            libc::SIGTSTP => "SIGTSTP",
            libc::SIGTTIN => "SIGTTIN",
            libc::SIGTTOU => "SIGTTOU",
            libc::SIGURG => "SIGURG",
            libc::SIGXCPU => "SIGXCPU",
            libc::SIGXFSZ => "SIGXFSZ",
            libc::SIGVTALRM => "SIGVTALRM",
            libc::SIGPROF => "SIGPROF",
            libc::SIGWINCH => "SIGWINCH",
            libc::SIGIO => "SIGIO",
            libc::SIGSYS => "SIGSYS",
            _ => return None,
        })
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "signal {}", self.0),
        }
    }
}

/// How a task's process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(Signal),
    /// It could not be started; the reason.
    NotStarted(String),
}

impl Exit {
    /// The exit code, if it exited.
    pub fn code(&self) -> Option<i32> {
        match self {
            Exit::Code(code) => Some(*code),
            _ => None,
        }
    }

    /// The signal that killed it, if one did.
    pub fn signal(&self) -> Option<Signal> {
        match self {
            Exit::Signal(signal) => Some(*signal),
            _ => None,
        }
    }
}

/// `exit code 3`, `killed by SIGKILL`, or why it did not start.
impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit code {code}"),
            Exit::Signal(signal) => write!(f, "killed by {signal}"),
            Exit::NotStarted(reason) => f.write_str(reason),
        }
    }
}

/// Why an attempt that did not pass ended, in a few words, the way every
/// report words it: `exit code 3`, `killed by SIGSEGV`, or for a timeout
/// `timed out after 5.0s (killed by SIGTERM)` (`timed out (…)` when the
/// limit is not known).
pub(crate) fn why_ended(status: Status, exit: &Exit, timeout: Option<Duration>) -> String {
    match (status, timeout) {
        (Status::Timeout, Some(limit)) => {
            format!("timed out after {} ({exit})", format_duration(limit))
        }
        (Status::Timeout, None) => format!("timed out ({exit})"),
        _ => exit.to_string(),
    }
}

/// A duration as every report shows it: `0.01s`, `2.3s`, `1m05s`.
pub(crate) fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 0.1 {
        format!("{seconds:.2}s")
    } else if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else {
        let whole = duration.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// How many bytes of the end of a truncated stream are kept, so that the
/// last lines (usually the ones saying what went wrong) can be shown.
pub(crate) const TAIL_BYTES: usize = 8 * 1024;

/// The first bytes of one output stream, how many there were in all, and,
/// when there were more than were kept, its last bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capture {
    /// The first bytes of the stream, up to the limit.
    pub bytes: Vec<u8>,
    /// How many bytes the stream had in all.
    pub total: u64,
    /// Up to 8 KiB from the end of the stream, once it went past
    /// the limit; empty otherwise.
    pub tail: Vec<u8>,
}

impl Capture {
    /// Adds a chunk of the stream, keeping at most `limit` bytes from its
    /// start (and the tail beyond that). Where the limit falls inside a
    /// UTF-8 character of output that is UTF-8 up to there, the start is
    /// cut before that character, so that text stays text.
    pub fn push(&mut self, chunk: &[u8], limit: usize) {
        let cut_before = self.truncated();
        let room = if cut_before {
            0
        } else {
            limit.saturating_sub(self.bytes.len()).min(chunk.len())
        };
        self.bytes.extend_from_slice(&chunk[..room]);
        self.total += chunk.len() as u64;
        let mut rest = &chunk[room..];
        let mut moved;
        if !cut_before
            && !rest.is_empty()
            && let Err(error) = std::str::from_utf8(&self.bytes)
            && error.error_len().is_none()
        {
            // Cut inside a character: its first bytes go with the rest.
            moved = self.bytes.split_off(error.valid_up_to());
            moved.extend_from_slice(rest);
            rest = &moved;
        }
        if !rest.is_empty() {
            self.tail.extend_from_slice(rest);
            if self.tail.len() > 2 * TAIL_BYTES {
                self.tail.drain(..self.tail.len() - TAIL_BYTES);
            }
        }
    }

    /// Whether the stream had more bytes than were kept from its start.
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
    /// What became of the task (of this attempt).
    pub status: Status,
    /// Which run of the task this was: 1 for the first, 2 for the first
    /// retry, and so on.
    pub attempt: u32,
    /// How its process ended.
    pub exit: Exit,
    /// When it started.
    pub started_at: SystemTime,
    /// How long it ran.
    pub duration: Duration,
    /// What it wrote to standard output.
    pub stdout: Capture,
    /// What it wrote to standard error.
    pub stderr: Capture,
    /// Where on a Slurm cluster this attempt ran, when it did.
    pub slurm: Option<SlurmPlace>,
    /// What the up-to-date check did, for a task that declares inputs or
    /// outputs and ran with the cache on.
    pub(crate) cache: Option<Arc<crate::cache::Report>>,
    /// What it left in its `$TASKRUN_OUT`, when it passed and left
    /// something.
    pub(crate) out: Option<Arc<crate::cache::passing::Produced>>,
}

/// Where on a Slurm cluster an attempt ran: its job, its step in that job,
/// and the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlurmPlace {
    /// The Slurm job (`SLURM_JOB_ID`): the task's own with `--slurm-mode
    /// jobs`, the run's allocation with `--slurm-mode steps`.
    pub job_id: String,
    /// The job step within it (`SLURM_STEP_ID`).
    pub step_id: Option<u32>,
    /// The node it ran on (`SLURMD_NODENAME`).
    pub node: Option<String>,
}

/// Why a task did not run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// A task it depends on (directly or not) failed, timed out or was
    /// canceled; the name of that task.
    DependencyFailed(String),
    /// The run was interrupted before the task could start.
    Interrupted,
    /// The run stopped starting tasks after this many failures
    /// (`--fail-fast` is 1, `--max-fail N`).
    Halted(usize),
    /// It was cancelled before it started
    /// ([`TaskHandle::cancel`](crate::TaskHandle::cancel)).
    Canceled,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::DependencyFailed(name) => write!(f, "dependency failed: {name}"),
            SkipReason::Interrupted => f.write_str("run interrupted"),
            SkipReason::Halted(1) => f.write_str("not started: --fail-fast"),
            SkipReason::Halted(failures) => write!(f, "not started: --max-fail {failures}"),
            SkipReason::Canceled => f.write_str("canceled before it started"),
        }
    }
}

/// Counts of task statuses in a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tasks that passed.
    pub passed: usize,
    /// Tasks that failed (timeouts are counted apart, in `timeout`).
    pub failed: usize,
    /// Tasks that timed out.
    pub timeout: usize,
    /// Tasks that never ran.
    pub skipped: usize,
    /// Tasks stopped by an interrupt.
    pub canceled: usize,
    /// Of the tasks that passed, those that were up to date and restored
    /// from the store (counted in `passed` too).
    pub cached: usize,
}

impl Counts {
    /// Counts one more task that ended so.
    pub fn add(&mut self, status: Status) {
        self.add_many(status, 1);
    }

    /// Counts `count` more tasks that ended so.
    pub(crate) fn add_many(&mut self, status: Status, count: usize) {
        let counter = match status {
            Status::Passed => &mut self.passed,
            Status::Cached => {
                self.passed += count;
                &mut self.cached
            }
            Status::Failed => &mut self.failed,
            Status::Timeout => &mut self.timeout,
            Status::Skipped => &mut self.skipped,
            Status::Canceled => &mut self.canceled,
        };
        *counter += count;
    }

    /// The tasks that failed, timeouts included: the one "failed" number
    /// the history, the event log, JUnit and JSON give.
    pub fn failures(&self) -> usize {
        self.failed + self.timeout
    }

    /// How many tasks are counted.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.timeout + self.skipped + self.canceled
    }

    /// Whether every task counted passed.
    pub fn all_passed(&self) -> bool {
        self.passed == self.total()
    }
}

/// The counts as every report words them, after the specification:
/// `5 passed, 1 failed, 0 skipped`. A timeout is a failure, and is named:
/// `1 passed, 1 timeout, 1 skipped` when every failure is a timeout,
/// `1 passed, 3 failed (1 timeout), 0 skipped` when some are; canceled
/// tasks are added at the end when there are any (`, 2 canceled`), and
/// tasks restored from the store after the passed ones when there are any
/// (`5 passed (3 cached), 0 failed, 0 skipped`).
impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} passed", self.passed)?;
        if self.cached > 0 {
            write!(f, " ({} cached)", self.cached)?;
        }
        f.write_str(", ")?;
        match (self.failed, self.timeout) {
            (failed, 0) => write!(f, "{failed} failed")?,
            (0, timeout) => write!(f, "{timeout} timeout")?,
            (_, timeout) => write!(f, "{} failed ({timeout} timeout)", self.failures())?,
        }
        write!(f, ", {} skipped", self.skipped)?;
        if self.canceled > 0 {
            write!(f, ", {} canceled", self.canceled)?;
        }
        Ok(())
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// How its tasks ended.
    pub counts: Counts,
    /// How long it took.
    pub duration: Duration,
    /// The signal that interrupted the run, if one did.
    pub interrupted: Option<Signal>,
    /// The failures after which the run stopped starting tasks
    /// (`--fail-fast`, `--max-fail N`), if it did.
    pub halted: Option<usize>,
}

/// One thing that happened in a run.
#[derive(Clone, Debug)]
pub enum Event {
    /// The run began: the first event.
    RunStarted {
        /// How many tasks it has.
        tasks: usize,
        /// How many may run at once.
        jobs: usize,
        /// When it began.
        at: SystemTime,
    },
    /// An attempt of a task started.
    TaskStarted {
        /// The task.
        task: TaskId,
        /// 1 for the first attempt, 2 for the first retry, and so on.
        attempt: u32,
        /// When it started.
        at: SystemTime,
        /// How long after the run's start it started (a monotonic clock).
        since_start: Duration,
        /// Which of the run's `jobs` lanes runs it (0 to `jobs - 1`): no
        /// two attempts that overlap have the same.
        slot: usize,
    },
    /// A task wrote to one of its streams (from a [`Runner`](crate::Runner),
    /// only when it is asked for output events; from a
    /// [`Broker`](crate::Broker), always, a line at a time).
    TaskOutput {
        /// The task.
        task: TaskId,
        /// Which stream.
        stream: Stream,
        /// What it wrote, as it came: from a runner, not always whole
        /// lines; from a broker, one line with its newline (or the end of
        /// a stream without one, or a piece of a line over 64 KiB).
        bytes: Arc<[u8]>,
    },
    /// A task is over: its last attempt ended.
    TaskFinished {
        /// The task.
        task: TaskId,
        /// How its last attempt went.
        result: Arc<TaskResult>,
    },
    /// An attempt failed or timed out and the task will run again.
    TaskRetrying {
        /// The task.
        task: TaskId,
        /// How the attempt went.
        result: Arc<TaskResult>,
        /// How many retries the task has in all.
        retries: u32,
        /// How long until the next attempt.
        delay: Duration,
    },
    /// A task will not run.
    TaskSkipped {
        /// The task.
        task: TaskId,
        /// Why.
        reason: SkipReason,
    },
    /// The first interrupting signal arrived: no more tasks start and the
    /// running ones were sent the signal.
    Interrupted {
        /// The signal.
        signal: Signal,
        /// How many tasks were running.
        running: usize,
    },
    /// Enough tasks failed (`--fail-fast`, `--max-fail N`): no more tasks
    /// start, but cleanup tasks (`[after_done:…]`); the running ones finish.
    Halted {
        /// How many tasks failed.
        failures: usize,
        /// How many tasks are still running.
        running: usize,
    },
    /// The run is over: the last event.
    RunFinished {
        /// How it ended.
        summary: Summary,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_inside_a_character_keeps_text_text() {
        // See: issue 13, item 16.
        let mut capture = Capture::default();
        capture.push("aé€".as_bytes(), 4);
        assert_eq!(capture.bytes, "aé".as_bytes(), "€ would be split at 4");
        assert_eq!(capture.total, 6);
        assert_eq!(capture.last_bytes(), "€".as_bytes());
        capture.push(b"z", 4);
        assert_eq!(
            capture.bytes,
            "aé".as_bytes(),
            "nothing more joins the start"
        );
        assert_eq!(capture.last_bytes(), "€z".as_bytes());
        // Across chunks, and output that is not UTF-8 is cut where it is.
        let mut capture = Capture::default();
        capture.push(b"ab", 3);
        capture.push("é".as_bytes(), 3);
        assert_eq!(capture.bytes, b"ab");
        let mut binary = Capture::default();
        binary.push(b"\xff\xfe\xe2\x82", 3);
        assert_eq!(binary.bytes, b"\xff\xfe\xe2");
    }

    #[test]
    fn signals_and_exits_in_words() {
        assert_eq!(Signal::KILL.to_string(), "SIGKILL");
        assert_eq!(Signal(15).to_string(), "SIGTERM");
        assert_eq!(Signal(11).to_string(), "SIGSEGV");
        assert_eq!(Signal(64).to_string(), "signal 64");
        assert_eq!(Exit::Code(3).to_string(), "exit code 3");
        assert_eq!(Exit::Signal(Signal::KILL).to_string(), "killed by SIGKILL");
        assert_eq!(Exit::NotStarted("no sh".into()).to_string(), "no sh");
        let term = Exit::Signal(Signal::TERM);
        assert_eq!(
            why_ended(Status::Timeout, &term, Some(Duration::from_secs(5))),
            "timed out after 5.0s (killed by SIGTERM)"
        );
        assert_eq!(
            why_ended(Status::Timeout, &term, None),
            "timed out (killed by SIGTERM)"
        );
        assert_eq!(why_ended(Status::Failed, &term, None), "killed by SIGTERM");
        for status in [
            Status::Passed,
            Status::Failed,
            Status::Timeout,
            Status::Skipped,
            Status::Canceled,
        ] {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("pending"), None);
    }

    #[test]
    fn counts_in_words() {
        let counts = |passed, failed, timeout, skipped, canceled| Counts {
            passed,
            failed,
            timeout,
            skipped,
            canceled,
            cached: 0,
        };
        assert_eq!(
            counts(5, 1, 0, 0, 0).to_string(),
            "5 passed, 1 failed, 0 skipped"
        );
        assert_eq!(
            counts(1, 0, 1, 1, 0).to_string(),
            "1 passed, 1 timeout, 1 skipped"
        );
        assert_eq!(
            counts(1, 2, 1, 0, 3).to_string(),
            "1 passed, 3 failed (1 timeout), 0 skipped, 3 canceled"
        );
        assert_eq!(counts(1, 2, 1, 0, 3).failures(), 3);
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration(Duration::from_millis(12)), "0.01s");
        assert_eq!(format_duration(Duration::from_millis(2_340)), "2.3s");
        assert_eq!(format_duration(Duration::from_secs(65)), "1m05s");
    }

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
