//! taskrun as a broker: a host program submits tasks while it runs.
//!
//! A [`Runner`](crate::Runner) runs a task set known in advance. A
//! [`Broker`] is for a program that finds its work as it goes (a GUI, a
//! service, a test harness): it starts `jobs` workers and runs whatever is
//! submitted to it, each submission with its own event handler, until it
//! is shut down.
//!
//! The broker owns its state: no signal handler, nothing shared between
//! brokers but a counter that numbers them, so two brokers in one process
//! never see each other's tasks. Each task's
//! events go to its own handler, in order, exactly once, on whichever
//! thread made them (a worker, or the thread that cancelled or submitted
//! it); a handler may submit or cancel tasks itself, but must not wait
//! for its own task.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::error::Error;
use crate::event::{
    Counts, Event, Signal, SkipReason, Status, Stream, Summary, TaskId, TaskResult,
};
use crate::execute::{self, Control, Evaluated, Executor, Job, Local, Outcome};
use crate::record::{Lane, OpenRun, OpenTask, OpenUpdate};
use crate::report::Lines;
use crate::report::logs::{LogConfig, Logger};
use crate::schedule::{self, Jitter};
use crate::task;
use crate::tasks::{Dependency, Task};

/// How a [`Broker`] runs what is submitted to it.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// At most this many tasks run at once (at least 1).
    pub jobs: usize,
    /// At most this many tasks wait to start (submitted, not yet started,
    /// including those waiting for a dependency); a submission beyond it
    /// is [`Rejected::QueueFull`].
    pub max_queue: usize,
    /// How long a task may run unless it has its own limit; `None` for no
    /// limit.
    pub default_timeout: Option<Duration>,
    /// Variables every task gets (a task's own come after, and win).
    pub default_env: Vec<(String, String)>,
    /// Where tasks run, and what a task's own directory is relative to;
    /// `None` for the process's current directory.
    pub default_dir: Option<PathBuf>,
    /// How many more times a task that fails or times out runs, unless it
    /// has its own `retries`.
    pub retries: u32,
    /// The wait before a first retry; it doubles for each further one (at
    /// most 60 s).
    pub retry_delay: Duration,
    /// Each retry's wait is moved by a random amount up to this much,
    /// earlier or later, so that tasks that failed together do not all
    /// come back at once.
    pub retry_jitter: Duration,
    /// How many bytes of each output stream a task's result keeps (its
    /// output events carry all of it).
    pub max_output: usize,
    /// Writes a global log (`DIR/run.log`: a line for each task that
    /// starts, ends or is skipped, and for the broker's start and end)
    /// and, unless turned off, a log per task (`DIR/tasks/NAME.log`: its
    /// whole output, line by line), each line after an ISO 8601 time,
    /// rotated at a size, and mirrored line by line to a callback of
    /// yours if you give one; `None` writes no logs.
    pub log: Option<LogConfig>,
    /// Records the broker's tasks in the history database at this path
    /// (`taskrun.db`, made if needed), as one run that `taskrun history`
    /// shows as `open` until the broker shuts down, each task's rows
    /// written as its attempts end; `None` records nothing.
    pub record: Option<PathBuf>,
}

impl Default for BrokerConfig {
    /// As many jobs as CPUs, 10,000 tasks waiting at most, no time limit,
    /// no retries (1 s before a first one, ± 0.25 s), 1 MiB of each
    /// stream kept.
    fn default() -> BrokerConfig {
        BrokerConfig {
            jobs: std::thread::available_parallelism().map_or(1, usize::from),
            max_queue: 10_000,
            default_timeout: None,
            default_env: Vec::new(),
            default_dir: None,
            retries: 0,
            retry_delay: Duration::from_secs(1),
            retry_jitter: Duration::from_millis(250),
            max_output: 1 << 20,
            log: None,
            record: None,
        }
    }
}

/// Why a submission was not taken. Nothing of it was queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// `limit` tasks already wait to start ([`BrokerConfig::max_queue`]).
    #[error(
        "the queue is full: {limit} tasks wait to start; submit again once some have started \
         (or use submit_wait), or raise max_queue"
    )]
    QueueFull {
        /// The broker's `max_queue`.
        limit: usize,
    },
    /// A task of this name was submitted before: names are unique within
    /// a broker, as they are within a task file.
    #[error("a task named `{0}` was already submitted to this broker: give each task its own name")]
    Duplicate(String),
    /// The task waits for a task this broker was never given.
    #[error(
        "`{task}` waits for `{dependency}`, which was not submitted to this broker: submit \
         `{dependency}` first"
    )]
    UnknownDependency {
        /// The task submitted.
        task: String,
        /// What it waits for.
        dependency: String,
    },
    /// The task cannot run as it is.
    #[error("`{name}` cannot be submitted: {why}")]
    Invalid {
        /// The task submitted.
        name: String,
        /// What is wrong with it.
        why: String,
    },
    /// [`Broker::shutdown`] has begun.
    #[error("the broker is shutting down and takes no more tasks")]
    ShutDown,
}

/// How a submitted task ended.
#[derive(Clone, Debug)]
pub enum TaskEnd {
    /// It ran: how its last attempt went.
    Finished(Arc<TaskResult>),
    /// It never ran, and why.
    Skipped(SkipReason),
}

impl TaskEnd {
    /// Its status: the last attempt's, or [`Status::Skipped`].
    pub fn status(&self) -> Status {
        match self {
            TaskEnd::Finished(result) => result.status,
            TaskEnd::Skipped(_) => Status::Skipped,
        }
    }

    /// The last attempt's result, if it ran.
    pub fn result(&self) -> Option<&TaskResult> {
        match self {
            TaskEnd::Finished(result) => Some(result),
            TaskEnd::Skipped(_) => None,
        }
    }
}

/// What receives one submission's events.
type Handler = Box<dyn FnMut(&Event) + Send>;

thread_local! {
    /// The brokers whose handlers this thread is inside, innermost last (a
    /// handler may cancel a task, whose dependents' handlers then run
    /// within it).
    static IN_HANDLER: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The broker this thread is a worker of, if it is one.
    static ON_WORKER: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Whether this thread is inside a handler of the broker `key`.
fn in_handler(key: usize) -> bool {
    IN_HANDLER.with_borrow(|keys| keys.contains(&key))
}

/// Whether this thread cannot wait for the broker `key` to stop: it is
/// inside one of its handlers, or one of its workers.
fn inside(key: usize) -> bool {
    in_handler(key) || ON_WORKER.get() == Some(key)
}

/// Tells brokers apart, for the handles their tasks' dependencies hold.
static BROKERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs tasks as they are submitted to it, from any thread, each with
/// its own event handler, at most `jobs` at once, until it is shut down.
///
/// ```
/// use std::time::Duration;
/// use taskrun::{Broker, BrokerConfig, Event, Status, Task};
///
/// let broker = Broker::new(BrokerConfig { jobs: 2, ..BrokerConfig::default() })?;
/// let build = broker.submit(Task::new("build", "echo compiled"), |event| {
///     if let Event::TaskOutput { bytes, .. } = event {
///         assert_eq!(&bytes[..], b"compiled\n");
///     }
/// })?;
/// let test = broker.submit(Task::new("test", "exit 3").after(&build), |_| {})?;
/// let never = broker.submit(Task::new("deploy", "true").after(&test), |_| {})?;
/// assert_eq!(build.wait().status(), Status::Passed);
/// assert_eq!(test.wait().status(), Status::Failed);
/// assert_eq!(never.wait().status(), Status::Skipped);
/// let summary = broker.shutdown(Duration::from_secs(5))?;
/// assert_eq!((summary.counts.passed, summary.counts.failed), (1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Its tasks may wait for earlier submissions (by handle or name); the
/// queue of tasks waiting to start is bounded ([`Rejected::QueueFull`],
/// or [`Broker::submit_wait`] to wait for a place); each task can be
/// cancelled ([`TaskHandle::cancel`]); and a broker can write logs
/// ([`BrokerConfig::log`]) and record into the history
/// ([`BrokerConfig::record`]). The book's chapter "Embedding taskrun"
/// has the rules in full.
pub struct Broker {
    shared: Arc<Shared>,
    /// Taken by the first shutdown.
    workers: Mutex<Vec<JoinHandle<()>>>,
    jobs: usize,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Broker")
            .field("jobs", &self.jobs)
            .field("submitted", &state.tasks.len())
            .field("pending", &state.pending)
            .field("running", &state.running)
            .finish_non_exhaustive()
    }
}

/// A submitted task: wait for it, or cancel it. Cloning it gives another
/// handle on the same task; it can outlive the broker.
#[derive(Clone)]
pub struct TaskHandle {
    shared: Arc<Shared>,
    id: TaskId,
    name: Arc<str>,
    mailbox: Arc<Mailbox>,
}

impl std::fmt::Debug for TaskHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskHandle")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl From<&TaskHandle> for Dependency {
    fn from(handle: &TaskHandle) -> Dependency {
        Dependency {
            name: handle.name.to_string(),
            submission: Some((handle.shared.key(), handle.id)),
        }
    }
}

/// What every worker, handle and the broker share.
struct Shared {
    state: Mutex<State>,
    /// Workers wait here for a task to start.
    work: Condvar,
    /// Submitters wait here for a place in the queue.
    room: Condvar,
    /// The shutdown waits here for the last task to end.
    idle: Condvar,
    executor: Arc<dyn Executor>,
    settings: Settings,
    /// The logs, when the broker writes them.
    journal: Option<Arc<Journal>>,
    start: Instant,
    /// This broker's number, unique in the process.
    key: usize,
}

/// The configuration, resolved once.
struct Settings {
    dir: PathBuf,
    env: Vec<(String, String)>,
    timeout: Option<Duration>,
    retries: u32,
    retry_delay: Duration,
    retry_jitter: Duration,
    max_output: usize,
    max_queue: usize,
}

/// The broker's bookkeeping, under one lock.
struct State {
    tasks: Vec<Entry>,
    names: HashMap<Arc<str>, TaskId>,
    /// Tasks whose dependencies are met, in the order they became ready.
    /// A task cancelled meanwhile stays here and is passed over.
    ready: VecDeque<TaskId>,
    /// Tasks waiting for a retry, soonest first (likewise).
    delayed: BinaryHeap<Reverse<(Instant, TaskId)>>,
    /// Submitted and not yet started.
    pending: usize,
    running: usize,
    /// Submitted and not over.
    unfinished: usize,
    accepting: bool,
    /// The workers end once nothing is left.
    stopping: bool,
    /// The shutdown stopped what was left, with this signal.
    interrupted: Option<Signal>,
    counts: Counts,
    jitter: Jitter,
    /// The lanes no task runs in now, lowest first.
    free_lanes: BinaryHeap<Reverse<usize>>,
    /// The history run the tasks are recorded in, until the shutdown
    /// closes it.
    recording: Option<OpenRun>,
    /// Workers that have not ended.
    workers: usize,
    /// The stop was begun where it could not wait (see [`Broker::stop`]):
    /// the last worker to end closes the recording and the logs.
    detached: bool,
}

/// One submission.
struct Entry {
    name: Arc<str>,
    job: Arc<Job>,
    retries: u32,
    phase: Phase,
    /// Dependencies not yet met.
    unmet: usize,
    /// The tasks waiting for this one: `true` for those that only wait for
    /// it to end (`after_done`).
    dependents: Vec<(TaskId, bool)>,
    attempts: u32,
    /// While it runs: its worker's control, to cancel it.
    control: Option<Arc<Control>>,
    /// Cancelled while it ran.
    canceled: bool,
    /// While it waits for a retry: the attempt that stands if it is
    /// cancelled meanwhile.
    last: Option<Arc<TaskResult>>,
    mailbox: Arc<Mailbox>,
    /// What its rows say of it, when the broker records.
    record: Option<Arc<OpenTask>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Waiting,
    Ready,
    Running,
    Delayed,
    Done(Status),
}

/// A submission's events on their way to its handler. Events are queued
/// under the broker's lock, in the order things happened, and handed to
/// the handler outside it by whichever thread finds the handler free
/// (see [`Mailbox::deliver`]), so a handler never holds the broker's lock.
/// A slow handler does hold up the thread that calls it: the worker of
/// its own task, which reads no output meanwhile.
struct Mailbox {
    post: Mutex<Post>,
    log: Option<TaskLog>,
    /// The broker's key.
    broker: usize,
    /// Signalled when the task's last event has been handled.
    over: Condvar,
}

/// The broker's logs, written on a thread of their own, so that no file
/// and no mirror is ever written with the broker's lock held; events are
/// sent to it in the order they happen.
struct Journal {
    sender: crossbeam::channel::Sender<LogEntry>,
    /// Taken when the logs are closed: the thread returns the first write
    /// that failed (nothing more is written after it).
    thread: Mutex<Option<JoinHandle<Option<std::io::Error>>>>,
    dir: PathBuf,
}

/// What the log thread is sent.
enum LogEntry {
    /// An event of the task `name`, which runs `job`.
    Event {
        event: Event,
        name: Arc<str>,
        job: Arc<Job>,
    },
    /// A line of the broker's own, the last one when `last`.
    Note { text: String, last: bool },
}

impl Journal {
    /// Starts the log thread, writing with `logger` (`run`: the history
    /// run, for the task logs' headers).
    fn start(logger: Logger, run: Option<i64>) -> std::io::Result<Journal> {
        let dir = logger.dir().to_owned();
        let (sender, receiver) = crossbeam::channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("taskrun-broker-log".to_owned())
            .spawn(move || write_logs(logger, run, &receiver))?;
        Ok(Journal {
            sender,
            thread: Mutex::new(Some(thread)),
            dir,
        })
    }

    fn send(&self, entry: LogEntry) {
        // Once the logs are closed, nothing more is written.
        let _ = self.sender.send(entry);
    }

    /// Writes `text` last, and waits for the logs to be written out. The
    /// first write that failed, if one did. Later calls write nothing.
    fn close(&self, text: String) -> Result<(), Error> {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(thread) = thread else {
            return Ok(());
        };
        self.send(LogEntry::Note { text, last: true });
        match thread.join() {
            Ok(None) => Ok(()),
            Ok(Some(source)) => Err(Error::CannotWrite {
                path: self.dir.clone(),
                source,
            }),
            Err(_) => Err(Error::CannotWrite {
                path: self.dir.clone(),
                source: std::io::Error::other("the log thread stopped"),
            }),
        }
    }
}

/// The log thread: writes what it is sent until the last note, flushing
/// whenever it has caught up (someone may be following the global log).
/// A write that fails, or a mirror that panics, ends the writing; the
/// thread still reads on, so that senders never wait.
fn write_logs(
    mut logger: Logger,
    run: Option<i64>,
    receiver: &crossbeam::channel::Receiver<LogEntry>,
) -> Option<std::io::Error> {
    let mut failed = None;
    for entry in receiver {
        let last = matches!(entry, LogEntry::Note { last: true, .. });
        if failed.is_none() {
            let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                match &entry {
                    LogEntry::Event { event, name, job } => {
                        logger.event(event, run, name, &job.command)
                    }
                    LogEntry::Note { text, .. } => logger.note(text),
                }?;
                if receiver.is_empty() || last {
                    logger.flush()?;
                }
                Ok(())
            }));
            failed = match written {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(error),
                Err(_) => Some(std::io::Error::other("the log mirror panicked")),
            };
        }
        if last {
            break;
        }
    }
    failed
}

/// Where a task's events are logged.
struct TaskLog {
    journal: Arc<Journal>,
    name: Arc<str>,
    job: Arc<Job>,
}

struct Post {
    queue: VecDeque<Event>,
    /// `None` while a thread hands it an event, and once the task is over.
    handler: Option<Handler>,
    end: Option<TaskEnd>,
}

impl Mailbox {
    fn new(handler: Handler, log: Option<TaskLog>, broker: usize) -> Mailbox {
        Mailbox {
            post: Mutex::new(Post {
                queue: VecDeque::new(),
                handler: Some(handler),
                end: None,
            }),
            log,
            broker,
            over: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Post> {
        self.post.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `event` for the handler, and for the logs.
    fn push(&self, event: Event) {
        if let Some(log) = &self.log {
            log.journal.send(LogEntry::Event {
                event: event.clone(),
                name: Arc::clone(&log.name),
                job: Arc::clone(&log.job),
            });
        }
        self.lock().queue.push_back(event);
    }

    /// Hands the waiting events to the handler, one at a time, unless
    /// another thread is doing so (it will hand over these too).
    fn deliver(&self) {
        let mut post = self.lock();
        let Some(mut handler) = post.handler.take() else {
            return;
        };
        while let Some(event) = post.queue.pop_front() {
            drop(post);
            // A handler that panics loses its own events, nobody else's.
            IN_HANDLER.with_borrow_mut(|keys| keys.push(self.broker));
            let call = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&event)));
            IN_HANDLER.with_borrow_mut(Vec::pop);
            if call.is_err() {
                // A handler that panicked gets nothing more; the task goes
                // on, and its end is still kept for `wait`. It is dropped
                // here, outside the lock, as at the end.
                handler = Box::new(|_| {});
            }
            post = self.lock();
            let end = match event {
                Event::TaskFinished { result, .. } => Some(TaskEnd::Finished(result)),
                Event::TaskSkipped { reason, .. } => Some(TaskEnd::Skipped(reason)),
                _ => None,
            };
            if let Some(end) = end {
                // Its last event: waiters are woken, and the handler is
                // dropped, outside the lock (it may hold the last handle
                // on the broker, whose drop stops it).
                post.end = Some(end);
                post.queue.clear();
                self.over.notify_all();
                drop(post);
                drop(handler);
                return;
            }
        }
        post.handler = Some(handler);
    }

    fn wait(&self, deadline: Option<Instant>) -> Option<TaskEnd> {
        let mut post = self.lock();
        loop {
            if let Some(end) = &post.end {
                return Some(end.clone());
            }
            match deadline {
                None => post = self.over.wait(post).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.checked_duration_since(Instant::now())?;
                    post = self
                        .over
                        .wait_timeout(post, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes whoever waits for what `state` now allows after tasks ended
    /// unstarted or finished: submitters for a place, the shutdown (and
    /// the workers, once it has begun) for the end.
    fn settle(&self, state: &State) {
        if state.pending < self.settings.max_queue {
            self.room.notify_all();
        }
        if state.unfinished == 0 {
            self.idle.notify_all();
            if state.stopping {
                self.work.notify_all();
            }
        }
    }

    /// The tasks' ends so far.
    fn summary(&self) -> Summary {
        let state = self.lock();
        Summary {
            counts: state.counts,
            duration: self.start.elapsed(),
            interrupted: state.interrupted,
            halted: None,
        }
    }

    /// Closes the recorded run and the logs, once the broker has stopped
    /// (`summary`); the first failure of either, the recording's first.
    /// Later calls do nothing.
    fn close(&self, summary: &Summary) -> Result<(), Error> {
        let recording = self.lock().recording.take();
        let recorded = match recording {
            Some(recording) => recording.close(summary).map_err(Error::from),
            None => Ok(()),
        };
        let logged = match &self.journal {
            Some(journal) => {
                let how = match summary.interrupted {
                    Some(signal) => format!(", stopping the rest with {signal}"),
                    None => String::new(),
                };
                journal.close(format!(
                    "broker shut down after {}{how}: {}",
                    crate::event::format_duration(summary.duration),
                    summary.counts
                ))
            }
            None => Ok(()),
        };
        recorded.and(logged)
    }

    /// What tells this broker's handles from another's.
    fn key(&self) -> usize {
        self.key
    }
}

/// Mailboxes with events to hand over once the broker's lock is released.
#[derive(Default)]
struct Outbox(Vec<Arc<Mailbox>>);

impl Outbox {
    fn post(&mut self, mailbox: &Arc<Mailbox>, event: Event) {
        mailbox.push(event);
        if !self.0.iter().any(|other| Arc::ptr_eq(other, mailbox)) {
            self.0.push(Arc::clone(mailbox));
        }
    }

    fn deliver(self) {
        for mailbox in self.0 {
            mailbox.deliver();
        }
    }
}

impl Broker {
    /// Starts a broker with `config.jobs` workers, which wait for tasks
    /// (fewer where the process may not open enough files for them all,
    /// as `taskrun run --jobs` does).
    ///
    /// # Errors
    ///
    /// [`Error::Start`] when the system refuses the worker threads;
    /// [`Error::CannotWrite`] when the log directory cannot be made or
    /// its logs opened; [`Error::Store`] when `record` names a database
    /// that cannot be opened or written.
    pub fn new(config: BrokerConfig) -> Result<Broker, Error> {
        let jobs = config.jobs.max(1);
        let jobs = execute::reserve_descriptors(jobs).unwrap_or(jobs);
        let dir = config
            .default_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        // The logs first: a directory that cannot be made leaves no run
        // in the history.
        let logger = match &config.log {
            Some(log) => Some(Logger::open(log).map_err(|source| Error::CannotWrite {
                path: log.dir.clone(),
                source,
            })?),
            None => None,
        };
        let recording = match &config.record {
            Some(db) => Some(OpenRun::begin(
                db,
                &std::path::absolute(&dir).unwrap_or_else(|_| dir.clone()),
                jobs,
            )?),
            None => None,
        };
        let journal = match logger {
            Some(logger) => {
                let run = recording.as_ref().map(OpenRun::id);
                let recorded =
                    run.map_or_else(String::new, |run| format!(", recording run #{run}"));
                let journal = Journal::start(logger, run).map_err(Error::Start)?;
                journal.send(LogEntry::Note {
                    text: format!("broker started: {jobs} jobs{recorded}"),
                    last: false,
                });
                Some(Arc::new(journal))
            }
            None => None,
        };
        let shell: Arc<dyn Executor> = Arc::new(Local);
        let executor: Arc<dyn Executor> = Arc::new(Evaluated::new(None, &dir, shell));
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                tasks: Vec::new(),
                names: HashMap::new(),
                ready: VecDeque::new(),
                delayed: BinaryHeap::new(),
                pending: 0,
                running: 0,
                unfinished: 0,
                accepting: true,
                stopping: false,
                interrupted: None,
                counts: Counts::default(),
                jitter: Jitter::seeded(),
                free_lanes: (0..jobs).map(Reverse).collect(),
                recording,
                workers: 0,
                detached: false,
            }),
            work: Condvar::new(),
            room: Condvar::new(),
            idle: Condvar::new(),
            executor,
            settings: Settings {
                dir,
                env: config.default_env,
                timeout: config.default_timeout.filter(|limit| !limit.is_zero()),
                retries: config.retries.min(task::MAX_RETRIES),
                retry_delay: config.retry_delay.min(schedule::MAX_RETRY_DELAY),
                retry_jitter: config.retry_jitter.min(schedule::MAX_RETRY_DELAY),
                max_output: config.max_output,
                // A queue of none could never take a task.
                max_queue: config.max_queue.max(1),
            },
            journal,
            start: Instant::now(),
            key: BROKERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        });
        let broker = Broker {
            shared,
            workers: Mutex::new(Vec::with_capacity(jobs)),
            jobs,
        };
        for index in 0..jobs {
            let shared = Arc::clone(&broker.shared);
            // A worker that cannot start leaves the broker to drop, which
            // stops those that did.
            broker.shared.lock().workers += 1;
            let worker = std::thread::Builder::new()
                .name(format!("taskrun-broker-{index}"))
                .spawn(move || work(&shared))
                .map_err(|error| {
                    broker.shared.lock().workers -= 1;
                    Error::Start(error)
                })?;
            broker
                .workers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(worker);
        }
        Ok(broker)
    }

    /// Queues `task`, whose events go to `handler` alone, and returns its
    /// handle at once. It starts when its dependencies have passed (or,
    /// for `after_done`, ended) and a worker is free; it is skipped when
    /// one of them does not pass.
    ///
    /// # Errors
    ///
    /// [`Rejected::QueueFull`] when `max_queue` tasks already wait,
    /// [`Rejected::Duplicate`] for a name given before,
    /// [`Rejected::UnknownDependency`] for a dependency this broker was
    /// never given, [`Rejected::Invalid`] for a task that cannot run
    /// (a bad name or variable, a pool: a broker has none),
    /// [`Rejected::ShutDown`] once the broker is shutting down.
    pub fn submit(
        &self,
        task: Task,
        handler: impl FnMut(&Event) + Send + 'static,
    ) -> Result<TaskHandle, Rejected> {
        self.submit_within(task, Box::new(handler), Patience::Reject)
    }

    /// As [`Broker::submit`], but when the queue is full, waits up to
    /// `timeout` for a place instead of being rejected. A handler that
    /// waits here holds up its worker meanwhile: with every worker so
    /// held, nothing starts to make room.
    ///
    /// ```
    /// use std::time::Duration;
    /// use taskrun::{Broker, BrokerConfig, Rejected, Task};
    ///
    /// let broker = Broker::new(BrokerConfig { jobs: 1, max_queue: 1, ..BrokerConfig::default() })?;
    /// let gate = broker.submit(Task::new("gate", "sleep 2"), |_| {})?;
    /// while broker.running() == 0 {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// // Waiting for the gate, this one fills the queue.
    /// broker.submit(Task::new("first", "true").after(&gate), |_| {})?;
    /// let full = broker.submit(Task::new("second", "true"), |_| {}).unwrap_err();
    /// assert_eq!(full, Rejected::QueueFull { limit: 1 });
    /// // It gets a place once `first` has started.
    /// let second =
    ///     broker.submit_wait(Task::new("second", "true"), |_| {}, Duration::from_secs(30))?;
    /// assert_eq!(second.wait().status(), taskrun::Status::Passed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Broker::submit`]; [`Rejected::QueueFull`] when no place came
    /// free in time.
    pub fn submit_wait(
        &self,
        task: Task,
        handler: impl FnMut(&Event) + Send + 'static,
        timeout: Duration,
    ) -> Result<TaskHandle, Rejected> {
        let patience = match Instant::now().checked_add(timeout) {
            Some(deadline) => Patience::Until(deadline),
            None => Patience::Forever,
        };
        self.submit_within(task, Box::new(handler), patience)
    }

    fn submit_within(
        &self,
        task: Task,
        handler: Handler,
        patience: Patience,
    ) -> Result<TaskHandle, Rejected> {
        let shared = &self.shared;
        let job = self.job(&task)?;
        let (mut state, (waits, failed)) = self.place(&task, patience)?;
        let id = state.tasks.len();
        let retries = task.settings.retries.unwrap_or(shared.settings.retries);
        // The broker keeps the name, for its tasks and for the handle.
        let name: Arc<str> = Arc::from(task.name);
        let job = Arc::new(job);
        let log = shared.journal.as_ref().map(|journal| TaskLog {
            journal: Arc::clone(journal),
            name: Arc::clone(&name),
            job: Arc::clone(&job),
        });
        let mailbox = Arc::new(Mailbox::new(handler, log, shared.key));
        let record = state.recording.is_some().then(|| {
            let names = |deps: &[Dependency]| deps.iter().map(|dep| dep.name.clone()).collect();
            Arc::new(OpenTask {
                name: name.to_string(),
                command: job.command.clone(),
                kind: job.kind,
                dir: task.settings.dir.clone(),
                env: job.env.clone(),
                timeout: job.timeout,
                retries,
                deps: names(&task.after),
                soft_deps: names(&task.after_done),
                position: id,
            })
        });
        state.tasks.push(Entry {
            name: Arc::clone(&name),
            job,
            retries,
            phase: Phase::Waiting,
            unmet: 0,
            dependents: Vec::new(),
            attempts: 0,
            control: None,
            canceled: false,
            last: None,
            mailbox: Arc::clone(&mailbox),
            record,
        });
        state.names.insert(Arc::clone(&name), id);
        state.pending += 1;
        state.unfinished += 1;
        let mut outbox = Outbox::default();
        if let Some(dependency) = failed {
            state.end_unstarted(
                id,
                &SkipReason::DependencyFailed(dependency.to_string()),
                &mut outbox,
            );
            shared.settle(&state);
        } else {
            for &(dependency, soft) in &waits {
                state.tasks[dependency].dependents.push((id, soft));
            }
            state.tasks[id].unmet = waits.len();
            if waits.is_empty() {
                state.make_ready(id);
                shared.work.notify_one();
            }
        }
        drop(state);
        outbox.deliver();
        Ok(TaskHandle {
            shared: Arc::clone(shared),
            id,
            name,
            mailbox,
        })
    }

    /// The broker's lock, once there is a place in the queue for `task`,
    /// and what it waits for. A submission that cannot be taken is
    /// refused before it waits for a place, and again after.
    fn place(
        &self,
        task: &Task,
        patience: Patience,
    ) -> Result<(MutexGuard<'_, State>, Waits), Rejected> {
        let shared = &self.shared;
        let mut state = shared.lock();
        let mut waited = false;
        loop {
            let checked = if state.accepting {
                if state.names.contains_key(task.name.as_str()) {
                    Err(Rejected::Duplicate(task.name.clone()))
                } else {
                    state.dependencies(task, shared.key())
                }
            } else {
                Err(Rejected::ShutDown)
            };
            let waits = match checked {
                Ok(waits) => waits,
                Err(refused) => {
                    if waited {
                        // The place it was woken for is someone else's.
                        shared.room.notify_one();
                    }
                    return Err(refused);
                }
            };
            if state.pending < shared.settings.max_queue {
                return Ok((state, waits));
            }
            let full = Rejected::QueueFull {
                limit: shared.settings.max_queue,
            };
            waited = true;
            state = match patience {
                Patience::Reject => return Err(full),
                Patience::Forever => shared
                    .room
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Patience::Until(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        return Err(full);
                    };
                    shared
                        .room
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    /// What a worker runs for `task`, with the broker's defaults.
    fn job(&self, task: &Task) -> Result<Job, Rejected> {
        let invalid = |why: String| Rejected::Invalid {
            name: task.name.clone(),
            why,
        };
        if !task::is_valid_name(&task.name) {
            return Err(invalid("a name is letters, digits and `_`".to_owned()));
        }
        if let Some((key, _)) = task
            .settings
            .env
            .iter()
            .find(|(key, _)| !task::is_env_name(key))
        {
            return Err(invalid(format!(
                "`{key}` cannot name an environment variable"
            )));
        }
        if task.pool.is_some() {
            return Err(invalid(
                "a broker has no pools: limit how many run at once with `jobs`, or run the \
                 pool's tasks through a broker of their own"
                    .to_owned(),
            ));
        }
        let settings = &self.shared.settings;
        let mut env = settings.env.clone();
        env.extend(task.settings.env.iter().cloned());
        Ok(Job {
            name: task.name.clone(),
            command: task.command.clone(),
            kind: task.kind,
            dir: match &task.settings.dir {
                Some(dir) => settings.dir.join(dir),
                None => settings.dir.clone(),
            },
            env,
            timeout: task.settings.timeout_or(settings.timeout),
            max_output: settings.max_output,
            cpus: task.settings.cpus,
            mem: task.settings.mem,
            // A broker keeps no store: its tasks always run, and pass no
            // outputs.
            cache: None,
            passing: None,
        })
    }

    /// How many tasks wait to start now (what [`BrokerConfig::max_queue`]
    /// limits).
    pub fn pending(&self) -> usize {
        self.shared.lock().pending
    }

    /// How many tasks run now.
    pub fn running(&self) -> usize {
        self.shared.lock().running
    }

    /// The number of the run the broker records its tasks in
    /// ([`BrokerConfig::record`]), for `taskrun show N`; `None` when it
    /// records nothing, and once it has shut down.
    pub fn run_id(&self) -> Option<i64> {
        self.shared.lock().recording.as_ref().map(OpenRun::id)
    }

    /// Takes no more tasks, waits up to `grace` for those submitted to
    /// end, then stops the rest (the running ones are sent SIGTERM, and
    /// SIGKILL two seconds later; those not started are skipped), and
    /// returns once every task is over and every worker has ended. The
    /// summary counts every task the broker was given; its `interrupted`
    /// is set when the grace ran out. It can be called from any thread
    /// but a handler's (the broker may be shared in an `Arc`); a later
    /// call returns the counts again at once, and records nothing more.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the tasks could not all be recorded (the
    /// run is then marked incomplete, as far as the database allows);
    /// everything has stopped all the same; [`Error::CannotWrite`] when
    /// a log could not be written (the first failure: nothing more was
    /// logged after it). [`Error::ShutdownInHandler`]
    /// when called from a task's handler, which the shutdown would wait
    /// for: nothing is stopped then.
    pub fn shutdown(&self, grace: Duration) -> Result<Summary, Error> {
        if in_handler(self.shared.key) {
            return Err(Error::ShutdownInHandler);
        }
        let summary = self.stop(grace);
        self.shared.close(&summary).map(|()| summary)
    }

    /// Stops the broker (see [`Broker::shutdown`]). Within a handler, or
    /// on a worker, it only begins it: it cannot wait for what the
    /// handler holds up, nor join its own thread; the workers end by
    /// themselves, and the recording is closed when the last of them
    /// has.
    fn stop(&self, grace: Duration) -> Summary {
        let shared = &self.shared;
        let inside = inside(shared.key);
        // A grace too long to represent is no limit.
        let deadline = Instant::now().checked_add(grace);
        let mut state = shared.lock();
        state.accepting = false;
        // Submitters waiting for a place are turned away.
        shared.room.notify_all();
        while state.unfinished > 0 && !inside {
            state = match deadline {
                None => shared
                    .idle
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    shared
                        .idle
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
        let mut outbox = Outbox::default();
        state.detached = inside;
        if state.unfinished > 0 {
            state.interrupted = Some(Signal::TERM);
            for id in 0..state.tasks.len() {
                state.cancel(id, &SkipReason::Interrupted, &mut outbox);
            }
        }
        state.stopping = true;
        shared.work.notify_all();
        drop(state);
        outbox.deliver();
        let workers =
            std::mem::take(&mut *self.workers.lock().unwrap_or_else(PoisonError::into_inner));
        if inside {
            // Dropping the handles detaches the workers; the last to end
            // closes the recording and the logs.
            return self.shared.summary();
        }
        for worker in workers {
            let _ = worker.join();
        }
        // Whatever a thread of the host is still handing over.
        let mailboxes: Vec<Arc<Mailbox>> = shared
            .lock()
            .tasks
            .iter()
            .map(|entry| Arc::clone(&entry.mailbox))
            .collect();
        for mailbox in mailboxes {
            mailbox.deliver();
            mailbox.wait(None);
        }
        self.shared.summary()
    }
}

/// A broker dropped without [`Broker::shutdown`] stops what is left at
/// once (SIGTERM, then SIGKILL), so that nothing it started outlives it.
impl Drop for Broker {
    fn drop(&mut self) {
        let stopped = self.workers.get_mut().map_or_else(
            |poisoned| poisoned.get_ref().is_empty(),
            |workers| workers.is_empty(),
        );
        if stopped {
        } else if inside(self.shared.key) {
            // Dropped by a handler that held the last handle on it: the
            // stop is begun, and the recording closed once the workers
            // are gone.
            self.stop(Duration::ZERO);
        } else {
            // Nobody is left to hear of a recording error; the run is
            // marked incomplete as far as the database allows.
            let _ = self.shutdown(Duration::ZERO);
        }
    }
}

impl TaskHandle {
    /// The task's id: the [`TaskId`] of its events, unique within its
    /// broker.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stops the task: a task waiting to start is skipped, a running one
    /// is sent SIGTERM (SIGKILL two seconds later, as a timeout does) and
    /// ends `canceled` (unless it passed or timed out first), one waiting
    /// for a retry ends with the attempt that failed. The tasks that need it are skipped. Returns whether it was
    /// still going (cancelling a task that is over changes nothing).
    ///
    /// ```
    /// use taskrun::{Broker, BrokerConfig, SkipReason, Status, Task, TaskEnd};
    ///
    /// let broker = Broker::new(BrokerConfig::default())?;
    /// let slow = broker.submit(Task::new("slow", "sleep 60"), |_| {})?;
    /// let next = broker.submit(Task::new("next", "true").after(&slow), |_| {})?;
    /// assert!(slow.cancel());
    /// assert!(matches!(
    ///     slow.wait().status(),
    ///     Status::Canceled | Status::Skipped // running already, or not yet
    /// ));
    /// assert!(matches!(next.wait(), TaskEnd::Skipped(SkipReason::DependencyFailed(_))));
    /// assert!(!slow.cancel(), "over");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel(&self) -> bool {
        let mut state = self.shared.lock();
        let mut outbox = Outbox::default();
        let going = state.cancel(self.id, &SkipReason::Canceled, &mut outbox);
        self.shared.settle(&state);
        // What only waited for it to end may start now.
        if !state.ready.is_empty() {
            self.shared.work.notify_all();
        }
        drop(state);
        outbox.deliver();
        going
    }

    /// Blocks until the task is over and its handler has had its last
    /// event, and says how it ended.
    pub fn wait(&self) -> TaskEnd {
        // Without a deadline, `wait` only returns with an end.
        loop {
            if let Some(end) = self.mailbox.wait(None) {
                return end;
            }
        }
    }

    /// As [`TaskHandle::wait`], for at most `timeout`: `None` if the task
    /// is not over by then.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<TaskEnd> {
        let deadline = Instant::now().checked_add(timeout);
        match deadline {
            Some(deadline) => self.mailbox.wait(Some(deadline)),
            None => Some(self.wait()),
        }
    }

    /// How the task ended, if it is over (without waiting).
    pub fn end(&self) -> Option<TaskEnd> {
        self.mailbox.lock().end.clone()
    }
}

/// What a submission does when the queue is full.
#[derive(Clone, Copy)]
enum Patience {
    Reject,
    Until(Instant),
    Forever,
}

/// The earlier submissions a task waits for (`true`: only for it to
/// end), and the first of them that is over without passing, if any.
type Waits = (Vec<(TaskId, bool)>, Option<Arc<str>>);

impl State {
    /// Records `update` of `id`, when the broker records.
    fn record(&self, id: TaskId, update: OpenUpdate) {
        if let (Some(recording), Some(task)) = (&self.recording, &self.tasks[id].record) {
            recording.record(task, update);
        }
    }

    /// What `task` waits for, among this broker's tasks (`broker` is its
    /// key).
    fn dependencies(&self, task: &Task, broker: usize) -> Result<Waits, Rejected> {
        let mut waits = Vec::new();
        let mut failed = None;
        let hard = task.after.iter().map(|dep| (dep, false));
        let soft = task.after_done.iter().map(|dep| (dep, true));
        for (dependency, soft) in hard.chain(soft) {
            let known = match dependency.submission {
                Some((owner, id)) => (owner == broker
                    && self
                        .tasks
                        .get(id)
                        .is_some_and(|entry| *entry.name == *dependency.name))
                .then_some(id),
                None => self.names.get(dependency.name.as_str()).copied(),
            };
            let Some(id) = known else {
                return Err(Rejected::UnknownDependency {
                    task: task.name.clone(),
                    dependency: dependency.name.clone(),
                });
            };
            match self.tasks[id].phase {
                Phase::Done(status) if soft || status == Status::Passed => {}
                Phase::Done(_) => {
                    failed.get_or_insert_with(|| Arc::clone(&self.tasks[id].name));
                }
                _ => waits.push((id, soft)),
            }
        }
        Ok((waits, failed))
    }

    fn make_ready(&mut self, id: TaskId) {
        self.tasks[id].phase = Phase::Ready;
        self.ready.push_back(id);
    }

    /// `id` will not run: it is skipped for `reason`, and so are the tasks
    /// that need it, while those that only wait for it to end may go on.
    fn end_unstarted(&mut self, id: TaskId, reason: &SkipReason, outbox: &mut Outbox) {
        let mut skip = vec![(id, reason.clone())];
        while let Some((id, reason)) = skip.pop() {
            if matches!(self.tasks[id].phase, Phase::Done(_)) {
                continue;
            }
            debug_assert_eq!(self.tasks[id].attempts, 0, "only a task never started");
            self.tasks[id].phase = Phase::Done(Status::Skipped);
            self.pending -= 1;
            self.unfinished -= 1;
            self.counts.add(Status::Skipped);
            self.record(
                id,
                OpenUpdate::Skipped {
                    reason: reason.to_string(),
                    at: SystemTime::now(),
                },
            );
            outbox.post(
                &self.tasks[id].mailbox,
                Event::TaskSkipped { task: id, reason },
            );
            let name = Arc::clone(&self.tasks[id].name);
            for (dependent, soft) in std::mem::take(&mut self.tasks[id].dependents) {
                if soft {
                    self.release(dependent);
                } else {
                    skip.push((dependent, SkipReason::DependencyFailed(name.to_string())));
                }
            }
        }
    }

    /// One dependency of `id` is met.
    fn release(&mut self, id: TaskId) {
        let entry = &mut self.tasks[id];
        entry.unmet -= 1;
        if entry.unmet == 0 && entry.phase == Phase::Waiting {
            self.make_ready(id);
        }
    }

    /// `id` is over with `status`: the tasks waiting for it go on or are
    /// skipped.
    fn ended(&mut self, id: TaskId, status: Status, outbox: &mut Outbox) {
        self.unfinished -= 1;
        self.counts.add(status);
        self.tasks[id].phase = Phase::Done(status);
        let name = Arc::clone(&self.tasks[id].name);
        for (dependent, soft) in std::mem::take(&mut self.tasks[id].dependents) {
            if soft || status == Status::Passed {
                self.release(dependent);
            } else {
                let reason = SkipReason::DependencyFailed(name.to_string());
                self.end_unstarted(dependent, &reason, outbox);
            }
        }
    }

    /// Stops `id` (see [`TaskHandle::cancel`]); `reason` for a task that
    /// has not started. Whether it was still going.
    fn cancel(&mut self, id: TaskId, reason: &SkipReason, outbox: &mut Outbox) -> bool {
        match self.tasks[id].phase {
            // A retry that is due but has not started is a task waiting
            // for its retry still.
            Phase::Ready if self.tasks[id].attempts > 0 => self.end_retry(id, outbox),
            Phase::Waiting | Phase::Ready => self.end_unstarted(id, reason, outbox),
            Phase::Running => {
                let entry = &mut self.tasks[id];
                entry.canceled = true;
                if let Some(control) = &entry.control {
                    control.interrupt(Signal::TERM);
                }
            }
            Phase::Delayed => self.end_retry(id, outbox),
            Phase::Done(_) => return false,
        }
        true
    }

    /// `id`, waiting for a retry, will not run again: the attempt that
    /// failed stands, as it does when a run is interrupted while a task
    /// waits for its retry.
    fn end_retry(&mut self, id: TaskId, outbox: &mut Outbox) {
        let entry = &mut self.tasks[id];
        if let Some(result) = entry.last.take() {
            outbox.post(
                &entry.mailbox,
                Event::TaskFinished {
                    task: id,
                    result: Arc::clone(&result),
                },
            );
            self.ended(id, result.status, outbox);
        }
    }

    /// The next task to start, if one is ready: it is marked running.
    fn take_ready(&mut self) -> Option<TaskId> {
        let now = Instant::now();
        while let Some(&Reverse((due, id))) = self.delayed.peek() {
            if due > now {
                break;
            }
            self.delayed.pop();
            if self.tasks[id].phase == Phase::Delayed {
                // Its failed attempt stands until the retry starts.
                self.tasks[id].phase = Phase::Ready;
                self.ready.push_back(id);
            }
        }
        while let Some(id) = self.ready.pop_front() {
            if self.tasks[id].phase == Phase::Ready {
                return Some(id);
            }
        }
        None
    }
}

/// A worker: starts ready tasks until the broker stops and nothing is
/// left.
fn work(shared: &Arc<Shared>) {
    ON_WORKER.set(Some(shared.key));
    let mut worker = Worker {
        shared,
        control: None,
        lines: Lines::default(),
    };
    let mut state = shared.lock();
    loop {
        let Some(id) = state.take_ready() else {
            if state.stopping && state.unfinished == 0 {
                state.workers -= 1;
                if state.detached && state.workers == 0 {
                    drop(state);
                    // Nobody is left to hear of an error.
                    let _ = shared.close(&shared.summary());
                }
                return;
            }
            let next_retry = state.delayed.peek().map(|Reverse((due, _))| *due);
            state = match next_retry {
                Some(due) => {
                    let left = due.saturating_duration_since(Instant::now());
                    shared
                        .work
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => shared
                    .work
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
            };
            continue;
        };
        let attempt = worker.start(&mut state, id);
        // More to start, or a retry to wait for: another worker looks.
        if !state.ready.is_empty() || !state.delayed.is_empty() {
            shared.work.notify_one();
        }
        drop(state);
        attempt.mailbox.deliver();
        let outcome = worker.run(id, &attempt);
        state = shared.lock();
        let outbox = worker.finish(&mut state, id, &attempt, outcome);
        drop(state);
        outbox.deliver();
        state = shared.lock();
    }
}

/// What a worker keeps from one task to the next.
struct Worker<'a> {
    shared: &'a Shared,
    /// A control that stopped a task is spent; each worker keeps one
    /// otherwise, so a task costs no pipes of its own.
    control: Option<Arc<Control>>,
    lines: Lines,
}

/// An attempt a worker runs.
struct Attempt {
    number: u32,
    lane: usize,
    /// When it started, after the broker did.
    since_start: Duration,
    job: Arc<Job>,
    mailbox: Arc<Mailbox>,
}

impl Worker<'_> {
    /// Marks `id` running and tells its handler.
    fn start(&mut self, state: &mut State, id: TaskId) -> Attempt {
        if self
            .control
            .as_ref()
            .is_none_or(|control| control.interrupted().is_some())
        {
            self.control = Control::new().ok().map(Arc::new);
        }
        let lane = state.free_lanes.pop().map_or(0, |Reverse(lane)| lane);
        let entry = &mut state.tasks[id];
        entry.phase = Phase::Running;
        entry.attempts += 1;
        entry.last = None;
        entry.control.clone_from(&self.control);
        let attempt = Attempt {
            number: entry.attempts,
            lane,
            since_start: self.shared.start.elapsed(),
            job: Arc::clone(&entry.job),
            mailbox: Arc::clone(&entry.mailbox),
        };
        if attempt.number == 1 {
            state.pending -= 1;
            self.shared.room.notify_one();
        }
        state.running += 1;
        attempt.mailbox.push(Event::TaskStarted {
            task: id,
            attempt: attempt.number,
            at: SystemTime::now(),
            since_start: attempt.since_start,
            slot: lane,
        });
        attempt
    }

    /// Runs the attempt, handing each line of output over as it comes.
    fn run(&mut self, id: TaskId, attempt: &Attempt) -> Outcome {
        let mailbox = &attempt.mailbox;
        let lines = &mut self.lines;
        let outcome = match &self.control {
            Some(control) => {
                let mut output = |stream: Stream, bytes: &[u8]| {
                    lines.push_raw(id, stream, bytes, |line, whole| {
                        mailbox.push(output_line(id, stream, line, whole));
                    });
                    mailbox.deliver();
                };
                let started_at = SystemTime::now();
                let start = Instant::now();
                let executor = &self.shared.executor;
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    executor.execute(&attempt.job, control, &mut output)
                }))
                .unwrap_or_else(|_| {
                    Outcome::not_started(
                        "taskrun failed while running the task (a bug: please report it)"
                            .to_owned(),
                        started_at,
                        start.elapsed(),
                    )
                })
            }
            None => Outcome::not_started(
                "cannot make the pipes that stop a task: too many open files?".to_owned(),
                SystemTime::now(),
                Duration::ZERO,
            ),
        };
        lines.finish(id, |stream, line| {
            mailbox.push(output_line(id, stream, line, false));
        });
        outcome
    }

    /// The attempt ended: the task is retried, or over.
    fn finish(
        &mut self,
        state: &mut State,
        id: TaskId,
        attempt: &Attempt,
        outcome: Outcome,
    ) -> Outbox {
        let shared = self.shared;
        let mut outbox = Outbox::default();
        state.running -= 1;
        state.free_lanes.push(Reverse(attempt.lane));
        let canceled = state.tasks[id].canceled;
        let stopped = canceled || state.interrupted.is_some();
        let status = schedule::status(&outcome, stopped);
        // Why a canceled attempt was stopped, for its row.
        let reason = match (status, state.interrupted) {
            (Status::Canceled, Some(signal)) => {
                Some(format!("broker shut down: stopped by {signal}"))
            }
            (Status::Canceled, None) => Some("canceled by its host".to_owned()),
            _ => None,
        };
        let entry = &mut state.tasks[id];
        entry.control = None;
        let retries = entry.retries;
        let result = Arc::new(outcome.into_result(status, attempt.number));
        state.record(
            id,
            OpenUpdate::Attempt {
                result: Arc::clone(&result),
                lane: Lane {
                    start: attempt.since_start,
                    slot: attempt.lane,
                },
                reason,
            },
        );
        if status.is_failure() && !stopped && attempt.number <= retries {
            let delay = retry_delay(&shared.settings, attempt.number, &mut state.jitter);
            let entry = &mut state.tasks[id];
            entry.phase = Phase::Delayed;
            entry.last = Some(Arc::clone(&result));
            outbox.post(
                &attempt.mailbox,
                Event::TaskRetrying {
                    task: id,
                    result,
                    retries,
                    delay,
                },
            );
            state.delayed.push(Reverse((Instant::now() + delay, id)));
            // A worker asleep until a later retry must look again.
            shared.work.notify_one();
        } else {
            outbox.post(&attempt.mailbox, Event::TaskFinished { task: id, result });
            let queued = state.ready.len();
            state.ended(id, status, &mut outbox);
            // Each task that became ready needs a worker: this one hands
            // events over before it looks again.
            for _ in 0..state.ready.len().saturating_sub(queued) {
                shared.work.notify_one();
            }
            shared.settle(state);
        }
        outbox
    }
}

/// One line of a task's output as its event: with its newline, unless it
/// is the end of a stream that did not end with one, or a piece of a line
/// too long to wait for.
fn output_line(task: TaskId, stream: Stream, line: &[u8], whole: bool) -> Event {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line);
    if whole {
        bytes.push(b'\n');
    }
    Event::TaskOutput {
        task,
        stream,
        bytes: Arc::from(bytes),
    }
}

/// The wait before the retry after attempt `attempt`: the doubled delay,
/// moved by up to the jitter either way (never below zero).
fn retry_delay(settings: &Settings, attempt: u32, jitter: &mut Jitter) -> Duration {
    let delay = schedule::backoff(settings.retry_delay, attempt);
    let up = settings.retry_jitter.mul_f64(2.0 * jitter.next());
    delay
        .saturating_add(up)
        .saturating_sub(settings.retry_jitter)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    fn config(jobs: usize) -> BrokerConfig {
        BrokerConfig {
            jobs,
            retry_delay: Duration::from_millis(1),
            retry_jitter: Duration::ZERO,
            ..BrokerConfig::default()
        }
    }

    /// A handler that sends each event, as a line, to a channel.
    fn lines_to(sender: &mpsc::Sender<String>) -> impl FnMut(&Event) + Send + 'static {
        let sender = sender.clone();
        move |event| {
            let _ = sender.send(describe(event));
        }
    }

    fn describe(event: &Event) -> String {
        match event {
            Event::TaskStarted { attempt, .. } => format!("started {attempt}"),
            Event::TaskOutput { stream, bytes, .. } => {
                format!("{stream:?} {}", String::from_utf8_lossy(bytes).trim_end())
            }
            Event::TaskRetrying { result, delay, .. } => {
                format!("retrying {} {}", result.attempt, delay.as_millis())
            }
            Event::TaskFinished { result, .. } => format!("finished {}", result.status.as_str()),
            Event::TaskSkipped { reason, .. } => format!("skipped {reason}"),
            other => format!("{other:?}"),
        }
    }

    /// The isolation the issue asks for: 8 clients × 200 submissions at
    /// once, some retried; every event reaches its own handler, once, in
    /// order.
    #[test]
    fn every_event_reaches_its_own_handler_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::new(BrokerConfig {
            default_dir: Some(dir.path().to_owned()),
            max_queue: 2_000,
            ..config(4)
        })
        .unwrap();
        let seen = std::thread::scope(|scope| {
            let clients: Vec<_> = (0..8)
                .map(|client| {
                    let broker = &broker;
                    scope.spawn(move || {
                        let mut handles = Vec::new();
                        for n in 0..200 {
                            let name = format!("c{client}_t{n}");
                            // Every seventh fails its first attempt.
                            let command = if n % 7 == 0 {
                                format!(
                                    "echo {name}; test -e {name}.once || {{ touch {name}.once; exit 1; }}"
                                )
                            } else {
                                format!("echo {name}")
                            };
                            let events = Arc::new(Mutex::new(Vec::new()));
                            let into = Arc::clone(&events);
                            let task = Task::new(&name, command).retries(1);
                            let handle = broker
                                .submit(task, move |event| {
                                    into.lock().unwrap().push((event.clone(), describe(event)));
                                })
                                .unwrap();
                            handles.push((name, handle, events));
                        }
                        handles
                            .into_iter()
                            .map(|(name, handle, events)| {
                                assert_eq!(handle.wait().status(), Status::Passed, "{name}");
                                let events = events.lock().unwrap().clone();
                                (name, handle.id(), events)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            clients
                .into_iter()
                .flat_map(|client| client.join().unwrap())
                .collect::<Vec<_>>()
        });
        assert_eq!(seen.len(), 1_600);
        for (index, (name, id, events)) in seen.iter().enumerate() {
            let line = format!("Stdout {name}");
            let once = [
                "started 1".to_owned(),
                line.clone(),
                "finished passed".to_owned(),
            ];
            let twice = [
                "started 1".to_owned(),
                line.clone(),
                "retrying 1 1".to_owned(),
                "started 2".to_owned(),
                line,
                "finished passed".to_owned(),
            ];
            let described: Vec<&String> = events.iter().map(|(_, text)| text).collect();
            let expected: Vec<&String> = if (index % 200) % 7 == 0 {
                twice.iter().collect()
            } else {
                once.iter().collect()
            };
            assert_eq!(described, expected, "{name}");
            for (event, _) in events {
                let task = match event {
                    Event::TaskStarted { task, .. }
                    | Event::TaskOutput { task, .. }
                    | Event::TaskRetrying { task, .. }
                    | Event::TaskFinished { task, .. }
                    | Event::TaskSkipped { task, .. } => *task,
                    other => panic!("not a task's event: {other:?}"),
                };
                assert_eq!(task, *id, "{name}");
            }
        }
        let summary = broker.shutdown(Duration::from_secs(10)).unwrap();
        assert_eq!(summary.counts.passed, 1_600);
        assert_eq!(summary.interrupted, None);
    }

    #[test]
    fn a_full_queue_rejects_and_submit_wait_waits_for_a_place() {
        let broker = Broker::new(BrokerConfig {
            max_queue: 2,
            ..config(1)
        })
        .unwrap();
        let (started, on_start) = mpsc::channel();
        let gate = broker
            .submit(Task::new("gate", "sleep 30"), move |event| {
                if matches!(event, Event::TaskStarted { .. }) {
                    let _ = started.send(());
                }
            })
            .unwrap();
        on_start.recv_timeout(Duration::from_secs(10)).unwrap();
        // Two wait for the gate: the queue is full.
        let first = broker
            .submit(Task::new("first", "true").after(&gate), |_| {})
            .unwrap();
        let second = broker
            .submit(Task::new("second", "true").after_done(&gate), |_| {})
            .unwrap();
        assert_eq!(broker.pending(), 2);
        let rejected = broker
            .submit(Task::new("third", "true"), |_| {})
            .unwrap_err();
        assert_eq!(rejected, Rejected::QueueFull { limit: 2 });
        assert!(
            rejected.to_string().contains("raise max_queue"),
            "{rejected}"
        );
        let waited = broker.submit_wait(
            Task::new("third", "true"),
            |_| {},
            Duration::from_millis(50),
        );
        assert_eq!(waited.unwrap_err(), Rejected::QueueFull { limit: 2 });
        // A submitter waiting for a place gets one when the gate ends.
        let third = std::thread::scope(|scope| {
            let waiting = scope.spawn(|| {
                broker.submit_wait(Task::new("third", "true"), |_| {}, Duration::from_secs(30))
            });
            std::thread::sleep(Duration::from_millis(50));
            assert!(gate.cancel());
            waiting.join().unwrap().unwrap()
        });
        assert_eq!(gate.wait().status(), Status::Canceled);
        assert!(matches!(
            first.wait(),
            TaskEnd::Skipped(SkipReason::DependencyFailed(name)) if name == "gate"
        ));
        assert_eq!(second.wait().status(), Status::Passed, "after_done runs on");
        assert_eq!(third.wait().status(), Status::Passed);
        assert!(!gate.cancel(), "over already");
        let summary = broker.shutdown(Duration::from_secs(5)).unwrap();
        assert_eq!(
            (
                summary.counts.passed,
                summary.counts.canceled,
                summary.counts.skipped
            ),
            (2, 1, 1)
        );
    }

    /// A cancelled task's whole process group goes, and what needs it is
    /// skipped; a task cancelled before it starts never runs.
    #[test]
    fn cancel_stops_one_task_and_its_dependents() {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::new(BrokerConfig {
            default_dir: Some(dir.path().to_owned()),
            ..config(2)
        })
        .unwrap();
        let (sender, receiver) = mpsc::channel();
        let slow = broker
            .submit(
                Task::new("slow", "sleep 30 & echo $! > child; echo up; wait"),
                lines_to(&sender),
            )
            .unwrap();
        let (after_sender, after_receiver) = mpsc::channel();
        let after = broker
            .submit(
                Task::new("after", "true").after(&slow),
                lines_to(&after_sender),
            )
            .unwrap();
        let other = broker
            .submit(Task::new("other", "sleep 0.2"), |_| {})
            .unwrap();
        // `later` waits for `other` and for `slow`, so it is still waiting
        // when it is cancelled, however slow the machine.
        let (later_sender, later_receiver) = mpsc::channel();
        let later = broker
            .submit(
                Task::new("later", "touch ran").after(&other).after(&slow),
                lines_to(&later_sender),
            )
            .unwrap();
        assert!(later.cancel());
        assert_eq!(
            receiver.recv_timeout(Duration::from_secs(10)).unwrap(),
            "started 1"
        );
        assert_eq!(
            receiver.recv_timeout(Duration::from_secs(10)).unwrap(),
            "Stdout up"
        );
        let start = Instant::now();
        assert!(slow.cancel());
        let end = slow.wait();
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(end.status(), Status::Canceled);
        assert_eq!(receiver.recv().unwrap(), "finished canceled");
        assert_eq!(
            after_receiver.recv().unwrap(),
            "skipped dependency failed: slow"
        );
        assert_eq!(after.wait().status(), Status::Skipped);
        assert_eq!(
            later_receiver.recv().unwrap(),
            "skipped canceled before it started"
        );
        assert_eq!(other.wait().status(), Status::Passed, "others run on");
        assert!(!dir.path().join("ran").exists());
        let child: i32 = std::fs::read_to_string(dir.path().join("child"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SAFETY: kill with signal 0 only checks that the process exists.
        let alive = || unsafe { libc::kill(child, 0) } == 0;
        let start = Instant::now();
        while alive() && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!alive(), "the task's background child was killed too");
        broker.shutdown(Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn submissions_are_checked() {
        let broker = Broker::new(config(1)).unwrap();
        let other = Broker::new(config(1)).unwrap();
        let first = broker.submit(Task::new("a", "true"), |_| {}).unwrap();
        let foreign = other.submit(Task::new("b", "true"), |_| {}).unwrap();
        let reject = |task: Task| broker.submit(task, |_| {}).unwrap_err();
        assert_eq!(
            reject(Task::new("a", "true")),
            Rejected::Duplicate("a".into())
        );
        assert_eq!(
            reject(Task::new("c", "true").after("nope")),
            Rejected::UnknownDependency {
                task: "c".into(),
                dependency: "nope".into()
            }
        );
        // A handle of another broker names nothing here, even where a
        // task of this broker has its name.
        assert!(matches!(
            reject(Task::new("c", "true").after(&foreign)),
            Rejected::UnknownDependency { .. }
        ));
        broker.submit(Task::new("b", "true"), |_| {}).unwrap();
        assert!(matches!(
            reject(Task::new("c", "true").after(&foreign)),
            Rejected::UnknownDependency { .. }
        ));
        for bad in [
            Task::new("bad name", "true"),
            Task::new("c", "true").env("1X", "y"),
            Task::new("c", "true").pool("db"),
        ] {
            assert!(matches!(reject(bad), Rejected::Invalid { .. }));
        }
        // By name or by handle, an earlier submission that passed.
        first.wait();
        let by_name = broker
            .submit(Task::new("c", "true").after("a"), |_| {})
            .unwrap();
        assert_eq!(by_name.wait().status(), Status::Passed);
        let summary = broker.shutdown(Duration::from_secs(5)).unwrap();
        assert_eq!(summary.counts.passed, 3);
        assert_eq!(
            broker.submit(Task::new("d", "true"), |_| {}).unwrap_err(),
            Rejected::ShutDown
        );
        assert_eq!(
            other
                .shutdown(Duration::from_secs(5))
                .unwrap()
                .counts
                .passed,
            1
        );
    }

    #[test]
    fn defaults_apply_and_a_task_overrides_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let broker = Broker::new(BrokerConfig {
            default_dir: Some(dir.path().to_owned()),
            default_env: vec![
                ("WHO".into(), "default".into()),
                ("KEEP".into(), "kept".into()),
            ],
            default_timeout: Some(Duration::from_millis(200)),
            retries: 2,
            retry_delay: Duration::from_millis(20),
            ..config(2)
        })
        .unwrap();
        let (sender, receiver) = mpsc::channel();
        let own = broker
            .submit(
                Task::new("own", "basename $PWD; echo $WHO $KEEP")
                    .dir("sub")
                    .env("WHO", "own")
                    .timeout(Duration::from_secs(60)),
                lines_to(&sender),
            )
            .unwrap();
        assert_eq!(own.wait().status(), Status::Passed);
        let lines: Vec<String> = receiver.try_iter().collect();
        assert_eq!(
            lines,
            [
                "started 1",
                "Stdout sub",
                "Stdout own kept",
                "finished passed"
            ]
        );
        // The default timeout, and the default retries with a doubling
        // delay (20 ms, then 40 ms: no jitter here).
        let (sender, receiver) = mpsc::channel();
        let slow = broker
            .submit(Task::new("slow", "sleep 5"), lines_to(&sender))
            .unwrap();
        assert_eq!(slow.wait().status(), Status::Timeout);
        let lines: Vec<String> = receiver.try_iter().collect();
        assert_eq!(
            lines,
            [
                "started 1",
                "retrying 1 20",
                "started 2",
                "retrying 2 40",
                "started 3",
                "finished timeout"
            ]
        );
        // A task's own limit and retries win.
        let quick = broker
            .submit(
                Task::new("quick", "sleep 0.5")
                    .timeout(Duration::from_secs(20))
                    .retries(0),
                |_| {},
            )
            .unwrap();
        assert_eq!(quick.wait().status(), Status::Passed);
        broker.shutdown(Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn the_jitter_moves_a_retry_either_way_within_its_bound() {
        let settings = |jitter| Settings {
            dir: PathBuf::new(),
            env: Vec::new(),
            timeout: None,
            retries: 0,
            retry_delay: Duration::from_secs(1),
            retry_jitter: jitter,
            max_output: 0,
            max_queue: 0,
        };
        let mut jitter = Jitter::seeded();
        let mut delays: Vec<Duration> = (0..200)
            .map(|_| retry_delay(&settings(Duration::from_millis(300)), 2, &mut jitter))
            .collect();
        delays.sort();
        assert!(delays[0] >= Duration::from_millis(1_700), "{:?}", delays[0]);
        assert!(
            delays[199] <= Duration::from_millis(2_300),
            "{:?}",
            delays[199]
        );
        assert!(
            delays[0] < Duration::from_millis(1_900) && delays[199] > Duration::from_millis(2_100)
        );
        // Never below zero.
        let wide = retry_delay(&settings(Duration::from_secs(100)), 1, &mut jitter);
        assert!(wide <= Duration::from_secs(101));
    }

    #[test]
    fn evaluated_tasks_and_tasks_submitted_from_a_handler() {
        let broker = Arc::new(Broker::new(config(2)).unwrap());
        let (sender, receiver) = mpsc::channel();
        let from_handler = Arc::clone(&broker);
        let next = sender.clone();
        let first = broker
            .submit(Task::eval("sum", "print(40 + 2);"), move |event| {
                let _ = next.send(describe(event));
                if matches!(event, Event::TaskFinished { .. }) {
                    let follow = from_handler
                        .submit(
                            Task::new("follow", "echo followed").after("sum"),
                            lines_to(&next),
                        )
                        .unwrap();
                    drop(follow);
                }
            })
            .unwrap();
        assert_eq!(first.wait().status(), Status::Passed);
        let mut lines = Vec::new();
        while lines
            .last()
            .is_none_or(|line: &String| line != "finished passed" || lines.len() < 6)
        {
            lines.push(receiver.recv_timeout(Duration::from_secs(10)).unwrap());
        }
        assert_eq!(
            lines,
            [
                "started 1",
                "Stdout 42",
                "finished passed",
                "started 1",
                "Stdout followed",
                "finished passed"
            ]
        );
        let summary = broker.shutdown(Duration::from_secs(5)).unwrap();
        assert_eq!(summary.counts.passed, 2);
    }

    /// The grace runs out: what runs is stopped, what waits is skipped,
    /// and the summary says the broker was interrupted. Dropping a broker
    /// does the same at once.
    #[test]
    fn shutdown_stops_what_outlasts_the_grace() {
        let broker = Broker::new(config(1)).unwrap();
        let (sender, receiver) = mpsc::channel();
        let slow = broker
            .submit(Task::new("slow", "sleep 30"), lines_to(&sender))
            .unwrap();
        let waiting = broker.submit(Task::new("waiting", "true"), |_| {}).unwrap();
        assert_eq!(
            receiver.recv_timeout(Duration::from_secs(10)).unwrap(),
            "started 1"
        );
        let start = Instant::now();
        let summary = broker.shutdown(Duration::from_millis(100)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(summary.interrupted, Some(Signal::TERM));
        assert_eq!((summary.counts.canceled, summary.counts.skipped), (1, 1));
        assert_eq!(slow.end().unwrap().status(), Status::Canceled);
        assert!(matches!(
            waiting.end(),
            Some(TaskEnd::Skipped(SkipReason::Interrupted))
        ));

        let dropped = Broker::new(config(1)).unwrap();
        let slow = dropped
            .submit(Task::new("slow", "sleep 30"), |_| {})
            .unwrap();
        while dropped.running() == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let start = Instant::now();
        drop(dropped);
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(slow.end().unwrap().status(), Status::Canceled);
    }

    /// A retry that is due, waiting for a worker, is still a task waiting
    /// for its retry: cancelled, it ends with the attempt that failed, and
    /// the queue's count stays right.
    #[test]
    fn a_due_retry_cancelled_before_it_starts_ends_with_its_failure() {
        // The delay leaves the submissions below ample time to queue.
        let broker = Broker::new(BrokerConfig {
            retry_delay: Duration::from_millis(150),
            ..config(1)
        })
        .unwrap();
        let (sender, receiver) = mpsc::channel();
        // Nothing starts before all three are queued, in this order.
        let hold = broker
            .submit(Task::new("hold", "sleep 30"), |_| {})
            .unwrap();
        while broker.running() == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        let flaky = broker
            .submit(
                Task::new("flaky", "exit 1").retries(1).after_done(&hold),
                lines_to(&sender),
            )
            .unwrap();
        // While `busy` runs, the retry comes due, and queues behind
        // `gate`, which starts next; the retry waits for a worker.
        let busy = broker
            .submit(Task::new("busy", "sleep 0.6").after_done(&hold), |_| {})
            .unwrap();
        let (started, on_start) = mpsc::channel();
        let gate = broker
            .submit(
                Task::new("gate", "sleep 30").after_done(&hold),
                move |event| {
                    if matches!(event, Event::TaskStarted { .. }) {
                        let _ = started.send(());
                    }
                },
            )
            .unwrap();
        hold.cancel();
        on_start.recv_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(busy.wait().status(), Status::Passed);
        assert!(flaky.cancel());
        let end = flaky.wait();
        assert_eq!(end.status(), Status::Failed);
        assert_eq!(end.result().unwrap().attempt, 1);
        let lines: Vec<String> = receiver.try_iter().collect();
        assert_eq!(lines, ["started 1", "retrying 1 150", "finished failed"]);
        assert_eq!(broker.pending(), 0);
        gate.cancel();
        let after = broker.submit(Task::new("after", "true"), |_| {}).unwrap();
        assert_eq!(after.wait().status(), Status::Passed);
        let summary = broker.shutdown(Duration::from_secs(5)).unwrap();
        assert_eq!(
            (
                summary.counts.passed,
                summary.counts.failed,
                summary.counts.canceled
            ),
            (2, 1, 2)
        );
    }

    /// A handler may hold the last handle on its broker: when the task is
    /// over and the handler is dropped, on a worker, the broker stops
    /// without joining that worker. A handler may not shut it down.
    #[test]
    fn a_handler_that_holds_the_last_handle_stops_the_broker() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("taskrun.db");
        let broker = Arc::new(
            Broker::new(BrokerConfig {
                log: Some(LogConfig::new(dir.path().join("logs"))),
                record: Some(db.clone()),
                ..config(2)
            })
            .unwrap(),
        );
        let slow = broker
            .submit(Task::new("slow", "sleep 30"), |_| {})
            .unwrap();
        let (sender, receiver) = mpsc::channel();
        let held = Arc::clone(&broker);
        let quick = broker
            .submit(Task::new("quick", "sleep 0.2"), move |event| {
                if matches!(event, Event::TaskStarted { .. }) {
                    let _ = sender.send(held.shutdown(Duration::ZERO).map(|_| ()));
                }
            })
            .unwrap();
        let refused = receiver.recv_timeout(Duration::from_secs(20)).unwrap();
        assert!(
            matches!(refused, Err(Error::ShutdownInHandler)),
            "{refused:?}"
        );
        drop(broker);
        assert_eq!(quick.wait().status(), Status::Passed);
        // The drop in the handler stopped what was left.
        let end = slow.wait_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(end.status(), Status::Canceled);
        // The last worker to end closed the run and the logs, though the
        // handles live on.
        let closed = || {
            let db = rusqlite::Connection::open(&db).unwrap();
            db.query_row("SELECT status FROM runs WHERE id = 1", [], |row| {
                row.get::<_, String>(0)
            })
            .unwrap()
        };
        let start = Instant::now();
        while closed() == "open" && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(closed(), "interrupted");
        let log = std::fs::read_to_string(dir.path().join("logs/run.log")).unwrap();
        assert!(log.contains(" broker shut down after "), "{log}");
        drop((quick, slow));
    }

    /// Output events are lines as the task wrote them: a `\r` kept, the
    /// last line of a stream without a newline as it is, and a line too
    /// long to hold in pieces that join back to it.
    #[test]
    fn output_events_are_the_lines_as_written() {
        let broker = Broker::new(config(1)).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let into = Arc::clone(&seen);
        let task = Task::new(
            "lines",
            "printf 'dos\\r\\n'; head -c 150000 /dev/zero | tr '\\0' x; echo; printf 'tail'",
        );
        let handle = broker
            .submit(task, move |event| {
                if let Event::TaskOutput { bytes, .. } = event {
                    into.lock().unwrap().push(bytes.to_vec());
                }
            })
            .unwrap();
        assert_eq!(handle.wait().status(), Status::Passed);
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0], b"dos\r\n");
        assert_eq!(seen.last().unwrap(), b"tail");
        let long: Vec<u8> = seen[1..seen.len() - 1].concat();
        let mut expected = vec![b'x'; 150_000];
        expected.push(b'\n');
        assert_eq!(long, expected);
        assert!(seen.len() >= 4, "the long line came in pieces");
        drop(seen);
        broker.shutdown(Duration::from_secs(5)).unwrap();
    }

    /// The broker's logs: the global one with the broker's start and end
    /// and a line per task event, a log per task with its output, both
    /// rotated at their size, and every line mirrored as it is written.
    #[test]
    fn logs_have_every_task_rotate_and_are_mirrored() {
        let dir = tempfile::tempdir().unwrap();
        let mirrored = Arc::new(Mutex::new(Vec::new()));
        let into = Arc::clone(&mirrored);
        let log = LogConfig::new(dir.path().join("logs"))
            .rotate_at(4096)
            .keep(2)
            .mirror(move |line| {
                into.lock()
                    .unwrap()
                    .push((line.task.map(str::to_owned), line.text.to_owned()));
            });
        let broker = Broker::new(BrokerConfig {
            log: Some(log),
            ..config(2)
        })
        .unwrap();
        let loud = broker
            .submit(
                Task::new(
                    "loud",
                    "i=0; while [ $i -lt 400 ]; do echo \"line $i\"; i=$((i+1)); done",
                ),
                |_| {},
            )
            .unwrap();
        let failing = broker
            .submit(Task::new("broken", "echo oops >&2; exit 2"), |_| {})
            .unwrap();
        let never = broker
            .submit(Task::new("never", "true").after(&failing), |_| {})
            .unwrap();
        loud.wait();
        never.wait();
        broker.shutdown(Duration::from_secs(5)).unwrap();
        let logs = dir.path().join("logs");
        let read = |name: &str| std::fs::read_to_string(logs.join(name)).unwrap();
        let run = read("run.log");
        let strip = |line: &str| {
            let (stamp, text) = line.split_once(' ').unwrap();
            // `2026-12-02T02:31:05.123Z`
            assert_eq!(stamp.len(), 24, "{line}");
            assert!(
                stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
                "{line}"
            );
            text.to_owned()
        };
        let texts: Vec<String> = run.lines().map(strip).collect();
        assert_eq!(texts[0], "broker started: 2 jobs");
        assert!(
            texts.last().unwrap().starts_with("broker shut down after "),
            "{run}"
        );
        assert!(
            texts
                .last()
                .unwrap()
                .ends_with(": 1 passed, 1 failed, 1 skipped"),
            "{run}"
        );
        for line in [
            "started loud (attempt 1)",
            "skipped never: dependency failed: broken",
        ] {
            assert!(texts.iter().any(|text| text == line), "{line}\n{run}");
        }
        assert!(
            texts
                .iter()
                .any(|text| text.starts_with("failed broken: exit code 2")),
            "{run}"
        );
        // 400 lines of output are more than 4 KiB: the task log rotated,
        // and no more than `keep` old ones are kept.
        assert!(logs.join("tasks/loud.log.1").exists());
        assert!(!logs.join("tasks/loud.log.3").exists());
        let mut whole = String::new();
        for name in ["tasks/loud.log.2", "tasks/loud.log.1", "tasks/loud.log"] {
            if let Ok(text) = std::fs::read_to_string(logs.join(name)) {
                whole.push_str(&text);
            }
        }
        assert!(whole.contains(" out| line 399\n"), "{whole}");
        assert!(read("tasks/broken.log").contains(" err| oops\n"));
        assert!(!logs.join("tasks/never.log").exists());
        // The mirror saw every line of the global log, in order, and the
        // task logs' lines with their task.
        let mirrored = mirrored.lock().unwrap();
        let global: Vec<&str> = mirrored
            .iter()
            .filter(|(task, _)| task.is_none())
            .map(|(_, text)| text.as_str())
            .collect();
        assert_eq!(global, run.lines().collect::<Vec<_>>());
        let broken_lines: Vec<&str> = mirrored
            .iter()
            .filter(|(task, _)| task.as_deref() == Some("broken"))
            .map(|(_, text)| text.as_str())
            .collect();
        assert_eq!(
            broken_lines,
            read("tasks/broken.log").lines().collect::<Vec<_>>()
        );
    }

    /// Two brokers in one process: the same names, each its own tasks,
    /// events and cancels.
    #[test]
    fn two_brokers_never_see_each_other() {
        let (left, right) = (
            Broker::new(config(2)).unwrap(),
            Broker::new(config(2)).unwrap(),
        );
        let mut seen = Vec::new();
        let mut slow = Vec::new();
        for (broker, side) in [(&left, "left"), (&right, "right")] {
            let (sender, receiver) = mpsc::channel();
            let say = broker
                .submit(Task::new("say", format!("echo {side}")), lines_to(&sender))
                .unwrap();
            slow.push(
                broker
                    .submit(Task::new("slow", "sleep 0.5"), |_| {})
                    .unwrap(),
            );
            seen.push((say, receiver, side));
        }
        // Cancelling the left `slow` leaves the right one alone.
        assert!(slow[0].cancel());
        for (say, receiver, side) in seen {
            assert_eq!(say.wait().status(), Status::Passed);
            let lines: Vec<String> = receiver.try_iter().collect();
            assert_eq!(
                lines,
                ["started 1", &format!("Stdout {side}"), "finished passed"]
            );
        }
        assert!(matches!(
            slow[0].wait().status(),
            Status::Canceled | Status::Skipped
        ));
        assert_eq!(slow[1].wait().status(), Status::Passed);
        assert_eq!(
            left.shutdown(Duration::from_secs(5)).unwrap().counts.passed,
            1
        );
        assert_eq!(
            right
                .shutdown(Duration::from_secs(5))
                .unwrap()
                .counts
                .passed,
            2
        );
    }

    /// A mirror that panics stops the logging, not the broker: the tasks
    /// run on, and the shutdown says the logs are incomplete.
    #[test]
    fn a_panicking_mirror_stops_the_logs_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogConfig::new(dir.path()).mirror(|line| {
            assert!(!line.text.contains("started"), "a mirror that gives up");
        });
        let broker = Broker::new(BrokerConfig {
            log: Some(log),
            ..config(2)
        })
        .unwrap();
        for n in 0..5 {
            let task = broker
                .submit(Task::new(format!("t{n}"), "true"), |_| {})
                .unwrap();
            assert_eq!(task.wait().status(), Status::Passed);
        }
        let error = broker.shutdown(Duration::from_secs(5)).unwrap_err();
        assert!(matches!(error, Error::CannotWrite { .. }), "{error:?}");
        let source = std::error::Error::source(&error).unwrap().to_string();
        assert_eq!(source, "the log mirror panicked");
    }

    /// A handler of one broker may shut another down: the refusal is for
    /// a broker's own handlers only.
    #[test]
    fn a_handler_may_shut_down_another_broker() {
        let first = Broker::new(config(1)).unwrap();
        let second = Arc::new(Broker::new(config(1)).unwrap());
        let slow = second
            .submit(Task::new("slow", "sleep 0.2"), |_| {})
            .unwrap();
        let (sender, receiver) = mpsc::channel();
        let other = Arc::clone(&second);
        first
            .submit(Task::new("stopper", "true"), move |event| {
                if matches!(event, Event::TaskFinished { .. }) {
                    let _ = sender.send(other.shutdown(Duration::from_secs(20)));
                }
            })
            .unwrap();
        let summary = receiver
            .recv_timeout(Duration::from_secs(30))
            .unwrap()
            .unwrap();
        assert_eq!((summary.counts.passed, summary.interrupted), (1, None));
        assert_eq!(slow.end().unwrap().status(), Status::Passed);
        first.shutdown(Duration::from_secs(5)).unwrap();
    }
}
