//! An open-ended run: one that a broker (an embedding host that submits
//! tasks as it finds them) records as it goes, with no plan up front.
//!
//! Its row is written at once, as `open`; each task's rows when its
//! attempts end, in batches on a thread of its own, as the recorder
//! writes a planned run's (at most [`BATCH_WINDOW`] after the first change
//! of a batch, or sooner once [`BATCH_ROWS`] wait), with the run's counts
//! and `total_tasks` in the same transaction. The run is closed when the
//! broker shuts down, or when its [`OpenRun`] is dropped. A taskrun that
//! dies leaves it `open`: that reads as interrupted once the process is
//! gone, and the next run sweeps it so (see [`Store::sweep_dead_runs`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender};
use rusqlite::{OptionalExtension, params};

use super::recorder::{BATCH_ROWS, BATCH_WINDOW, incomplete_note};
use super::rows::{Lane, RunStatus};
use super::store::{Store, StoreError};
use super::write::{
    NewRun, TaskColumns, finish_task, insert_run, insert_task, insert_task_statement, skip_task,
    to_i64, write_counts,
};
use crate::cli::ExecutorKind;
use crate::error::Error;
use crate::event::{Counts, Status, Summary, TaskResult};
use crate::task::Kind;

/// The task file an open run is recorded with: it has none, and this is
/// what `show` and the reports name in its place.
pub(crate) const TASKFILE: &str = "(broker)";

/// A task of an open run, as its rows describe it (what
/// [`Store::begin_run`] writes for a task of a plan).
#[derive(Clone, Debug)]
pub(crate) struct OpenTask {
    pub name: String,
    pub command: String,
    pub kind: Kind,
    pub dir: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    pub retries: u32,
    pub deps: Vec<String>,
    pub soft_deps: Vec<String>,
    /// The order it was submitted in, from 0: it is the task's place in
    /// the run, and tells its rows from every other task's.
    pub position: usize,
}

impl OpenTask {
    fn columns(&self) -> TaskColumns<'_> {
        TaskColumns {
            name: &self.name,
            command: &self.command,
            position: self.position,
            deps: self.deps.join(","),
            timeout: self.timeout,
            dir: self.dir.as_deref(),
            env: &self.env,
            retries: self.retries,
            kind: self.kind,
            soft_deps: self.soft_deps.join(","),
            pool: None,
            cpus: None,
            mem: None,
            fingerprint: Some(crate::task::fingerprint(
                &self.command,
                self.dir.as_deref(),
                &self.env,
                self.kind,
            )),
            // A broker's tasks declare nothing for the cache (their rows
            // still get what the cache did, when a result says).
            cache: None,
        }
    }
}

/// What became of a task of an open run.
#[derive(Clone, Debug)]
pub(crate) enum OpenUpdate {
    /// An attempt ended (the task's last, or one that is retried): its own
    /// row, written whole (status, exit, output, times, lane). The same
    /// attempt recorded again writes its row again. `reason` says why a
    /// canceled attempt was stopped.
    Attempt {
        result: Arc<TaskResult>,
        lane: Lane,
        reason: Option<String>,
    },
    /// The task never ran.
    Skipped { reason: String, at: SystemTime },
}

impl OpenUpdate {
    /// The attempt it tells of, and how that ended.
    fn outcome(&self) -> (u32, Status) {
        match self {
            OpenUpdate::Attempt { result, .. } => (result.attempt, result.status),
            OpenUpdate::Skipped { .. } => (1, Status::Skipped),
        }
    }
}

/// What the writer is told.
enum Message {
    Update(Arc<OpenTask>, OpenUpdate),
    /// Ends the run as the summary says, or, without one (its [`OpenRun`]
    /// was dropped), as interrupted.
    Close(Option<Summary>),
}

/// A run recorded as it goes: its row is written at once with status
/// `open`, and each task's rows when its attempts end. [`OpenRun::record`]
/// may be called from many threads at once.
pub(crate) struct OpenRun {
    id: i64,
    sender: Sender<Message>,
    /// The thread that writes; it gives back the first write error.
    writer: Option<JoinHandle<Option<StoreError>>>,
}

impl OpenRun {
    /// Opens the database at `db` (creating it if needed, and bringing its
    /// schema up to date, as `taskrun run` does), closes the runs that a
    /// dead taskrun left, and writes the run's row: `open`, for tasks that
    /// run in `dir`, `jobs` at a time. A database that cannot be opened or
    /// written is an error before anything runs, and so is a thread that
    /// cannot be started to write it.
    pub(crate) fn begin(db: &Path, dir: &Path, jobs: usize) -> Result<OpenRun, Error> {
        let run = NewRun {
            taskfile: TASKFILE.to_owned(),
            taskfile_relative: None,
            script: None,
            dir: dir.to_owned(),
            jobs,
            retry_of: None,
            started_at: SystemTime::now(),
            executor: ExecutorKind::Local.as_str(),
            file_format: None,
        };
        let db = db.to_owned();
        let (sender, messages) = channel::unbounded();
        let (report, begun) = channel::bounded(1);
        let writer = std::thread::Builder::new()
            .name("taskrun-history".to_owned())
            .spawn(move || match Writer::begin(&db, &run) {
                Ok(mut writer) => {
                    let _ = report.send(Ok(writer.run));
                    writer.serve(&messages)
                }
                Err(error) => {
                    let _ = report.send(Err(error));
                    None
                }
            })
            .map_err(Error::Start)?;
        match begun.recv() {
            Ok(Ok(id)) => Ok(OpenRun {
                id,
                sender,
                writer: Some(writer),
            }),
            Ok(Err(error)) => {
                let _ = writer.join();
                Err(error.into())
            }
            // The writer reports before it ends, unless it panicked.
            Err(_) => std::panic::resume_unwind(
                writer
                    .join()
                    .err()
                    .unwrap_or_else(|| Box::new("the history writer ended unheard")),
            ),
        }
    }

    /// The run's id in the history.
    pub(crate) fn id(&self) -> i64 {
        self.id
    }

    /// Queues what became of `task`, to be written in the next batch.
    /// Never waits for the database.
    pub(crate) fn record(&self, task: &Arc<OpenTask>, update: OpenUpdate) {
        // Fails only if the writer is gone, which only a panic does.
        let _ = self.sender.send(Message::Update(Arc::clone(task), update));
    }

    /// Writes what is left and closes the run: `completed`, or
    /// `interrupted` when `summary.interrupted` says so, or `incomplete`
    /// (with a note saying why) when a write failed. Returns the first
    /// write error. The counts written are those of the tasks recorded.
    pub(crate) fn close(mut self, summary: &Summary) -> Result<(), StoreError> {
        match self.end(Some(*summary)) {
            Ok(None) => Ok(()),
            Ok(Some(error)) => Err(error),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Tells the writer to close the run, and waits for it; nothing the
    /// second time.
    fn end(&mut self, summary: Option<Summary>) -> std::thread::Result<Option<StoreError>> {
        let Some(writer) = self.writer.take() else {
            return Ok(None);
        };
        let _ = self.sender.send(Message::Close(summary));
        writer.join()
    }
}

/// A run that was not closed (its host forgot to shut its broker down, or
/// is unwinding from a panic) is written out and closed as interrupted.
impl Drop for OpenRun {
    fn drop(&mut self) {
        let _ = self.end(None);
    }
}

/// The writing side of an [`OpenRun`], on its own thread.
struct Writer {
    store: Store,
    run: i64,
    started: Instant,
    pending: Vec<(Arc<OpenTask>, OpenUpdate)>,
    /// The latest attempt written of each task, by position, and how it
    /// ended: what the run's counts count.
    last: HashMap<usize, (u32, Status)>,
    error: Option<StoreError>,
}

impl Writer {
    fn begin(db: &Path, run: &NewRun) -> Result<Writer, StoreError> {
        let mut store = Store::create(db)?;
        // Runs whose taskrun was killed are closed now; if that fails (the
        // database is busy), they are still shown as interrupted when read.
        let _ = store.sweep_dead_runs();
        let id = store.write(|transaction| insert_run(transaction, run, RunStatus::Open, 0, ""))?;
        Ok(Writer {
            store,
            run: id,
            started: Instant::now(),
            pending: Vec::new(),
            last: HashMap::new(),
            error: None,
        })
    }

    /// Writes what comes, in batches, until the run is closed (or every
    /// sender is gone, which closes it as a drop does); returns the first
    /// write error.
    fn serve(&mut self, messages: &Receiver<Message>) -> Option<StoreError> {
        let mut window_end: Option<Instant> = None;
        let summary = loop {
            let message = match window_end {
                None => messages.recv().ok(),
                Some(end) => match messages.recv_deadline(end) {
                    Ok(message) => Some(message),
                    Err(RecvTimeoutError::Timeout) => {
                        window_end = None;
                        self.flush();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => None,
                },
            };
            match message {
                Some(Message::Update(task, update)) => {
                    self.pending.push((task, update));
                    window_end.get_or_insert_with(|| Instant::now() + BATCH_WINDOW);
                    if self.pending.len() >= BATCH_ROWS {
                        window_end = None;
                        self.flush();
                    }
                }
                Some(Message::Close(summary)) => break summary,
                None => break None,
            }
        };
        self.flush();
        self.close(summary.as_ref());
        self.error.take()
    }

    /// The run's counts: how the latest attempt of each task ended.
    fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for &(_, status) in self.last.values() {
            counts.add(status);
        }
        counts
    }

    /// Writes the waiting updates with the counts they make, in one
    /// transaction. After a write error nothing more is written (the run
    /// is incomplete already), as the recorder does.
    fn flush(&mut self) {
        let batch = std::mem::take(&mut self.pending);
        if batch.is_empty() || self.error.is_some() {
            return;
        }
        let mut undo = Vec::new();
        for (task, update) in &batch {
            let (attempt, status) = update.outcome();
            let newer = self
                .last
                .get(&task.position)
                .is_none_or(|&(seen, _)| attempt >= seen);
            if newer {
                let before = self.last.insert(task.position, (attempt, status));
                undo.push((task.position, before));
            }
        }
        let counts = self.counts();
        if let Err(error) = self
            .store
            .record_open(self.run, &batch, &counts, self.last.len())
        {
            // The counts stay those of what was written.
            for (position, before) in undo.into_iter().rev() {
                match before {
                    Some(before) => self.last.insert(position, before),
                    None => self.last.remove(&position),
                };
            }
            self.error = Some(error);
        }
    }

    /// Completes the run row. After a write error this is still tried, to
    /// mark the run incomplete rather than leave it open.
    fn close(&mut self, summary: Option<&Summary>) {
        let note = self.error.as_ref().map(incomplete_note);
        let counts = self.counts();
        let result = if let Some(summary) = summary {
            let summary = Summary { counts, ..*summary };
            self.store.finish_run(self.run, &summary, note.as_deref())
        } else {
            let status = if note.is_some() {
                RunStatus::Incomplete
            } else {
                RunStatus::Interrupted
            };
            let summary = Summary {
                counts,
                duration: self.started.elapsed(),
                interrupted: None,
                halted: None,
            };
            self.store
                .end_run(self.run, status, &summary, note.as_deref())
        };
        if let (Err(error), None) = (result, &self.error) {
            self.error = Some(error);
        }
    }
}

impl Store {
    /// Writes a batch of an open run's updates, each attempt a row (made
    /// now, or its own again when it is recorded a second time), with the
    /// run's counts and number of tasks so far, in one transaction.
    fn record_open(
        &mut self,
        run: i64,
        updates: &[(Arc<OpenTask>, OpenUpdate)],
        counts: &Counts,
        total: usize,
    ) -> Result<(), StoreError> {
        self.write(|transaction| {
            for (task, update) in updates {
                let (attempt, _) = update.outcome();
                let written = transaction
                    .prepare_cached(
                        "SELECT id FROM tasks WHERE run_id = ?1 AND position = ?2 AND attempt = ?3",
                    )?
                    .query_row(params![run, to_i64(task.position), attempt], |row| {
                        row.get(0)
                    })
                    .optional()?;
                let row = match written {
                    Some(row) => row,
                    None => insert_task(
                        &mut *insert_task_statement(transaction)?,
                        run,
                        attempt,
                        &task.columns(),
                    )?,
                };
                match update {
                    OpenUpdate::Attempt {
                        result,
                        lane,
                        reason,
                    } => {
                        finish_task(transaction, row, result, reason.as_deref(), *lane)?;
                    }
                    OpenUpdate::Skipped { reason, at } => skip_task(transaction, row, reason, *at)?,
                }
            }
            write_counts(transaction, run, counts)?;
            transaction
                .prepare_cached("UPDATE runs SET total_tasks = ?2 WHERE id = ?1")?
                .execute(params![run, to_i64(total)])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Capture, Exit, Signal};

    fn task(position: usize, name: &str) -> Arc<OpenTask> {
        Arc::new(OpenTask {
            name: name.to_owned(),
            command: format!("echo {name}"),
            kind: Kind::Shell,
            dir: Some(PathBuf::from("sub")),
            env: vec![("K".to_owned(), "v".to_owned())],
            timeout: Some(Duration::from_secs(5)),
            retries: 1,
            deps: vec!["a".to_owned(), "b".to_owned()],
            soft_deps: vec!["c".to_owned()],
            position,
        })
    }

    fn attempt(attempt: u32, status: Status) -> OpenUpdate {
        let mut stdout = Capture::default();
        stdout.push(b"out\n", 1024);
        OpenUpdate::Attempt {
            result: Arc::new(TaskResult {
                out: None,
                status,
                attempt,
                exit: Exit::Code(i32::from(status != Status::Passed)),
                started_at: SystemTime::now(),
                duration: Duration::from_millis(20),
                stdout,
                stderr: Capture::default(),
                slurm: None,
                cache: None,
            }),
            lane: Lane {
                start: Duration::from_millis(3),
                slot: 1,
            },
            reason: None,
        }
    }

    fn summary(interrupted: Option<Signal>) -> Summary {
        Summary {
            // Not what is written: the rows are counted.
            counts: Counts::default(),
            duration: Duration::from_secs(2),
            interrupted,
            halted: None,
        }
    }

    /// A new directory, and the path of a database in it not made yet.
    fn db() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        (dir, path)
    }

    /// What `runs` holds for the run: its counts, tasks and status.
    fn stored(store: &Store, run: i64) -> (i64, i64, i64, i64, String) {
        store
            .connection
            .query_row(
                "SELECT passed, failed, skipped, total_tasks, status FROM runs WHERE id = ?1",
                [run],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                },
            )
            .unwrap()
    }

    /// Waits (a few seconds at most) until `done` holds of the run as read.
    fn eventually(db: &Path, run: i64, done: impl Fn(&super::super::RunRow) -> bool) {
        let store = Store::open(db).unwrap();
        let start = Instant::now();
        loop {
            let row = store.run(run).unwrap().unwrap();
            if done(&row) {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{row:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn an_open_run_is_shared_across_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<OpenRun>();
    }

    #[test]
    fn tasks_from_many_threads_are_counted_as_their_rows_say() {
        let (_dir, db) = db();
        let open = OpenRun::begin(&db, Path::new("/p"), 4).unwrap();
        let run = open.id();
        let first = task(0, "first");
        open.record(&first, attempt(1, Status::Passed));
        eventually(&db, run, |row| row.total_tasks == 1);
        let reader = Store::open(&db).unwrap();
        let row = reader.run(run).unwrap().unwrap();
        assert_eq!(row.status, RunStatus::Open);
        assert_eq!(row.taskfile.as_deref(), Some(TASKFILE));
        assert_eq!(row.jobs, Some(4));
        assert_eq!(stored(&reader, run), (1, 0, 0, 1, "open".to_owned()));

        std::thread::scope(|scope| {
            for thread in 0..4 {
                let open = &open;
                scope.spawn(move || {
                    for n in 0..50 {
                        let position = 1 + thread * 50 + n;
                        let status = if n % 5 == 0 {
                            Status::Failed
                        } else {
                            Status::Passed
                        };
                        open.record(&task(position, &format!("t{position}")), attempt(1, status));
                    }
                });
            }
        });
        eventually(&db, run, |row| row.total_tasks == 201);
        open.close(&summary(None)).unwrap();

        let row = reader.run(run).unwrap().unwrap();
        assert_eq!(row.status, RunStatus::Completed);
        assert_eq!(row.duration, Some(Duration::from_secs(2)));
        assert_eq!((row.counts.passed, row.counts.failed), (161, 40));
        assert_eq!(
            stored(&reader, run),
            (161, 40, 0, 201, "completed".to_owned())
        );
        let tasks = reader.tasks(&row).unwrap();
        assert_eq!(tasks.len(), 201);
        let positions: Vec<i64> = tasks.iter().map(|task| task.position).collect();
        assert_eq!(
            positions,
            (0..201).collect::<Vec<_>>(),
            "in submission order"
        );
        let first = &tasks[0];
        assert_eq!(first.name, "first");
        assert_eq!(first.deps, ["a", "b"]);
        assert_eq!(first.soft_deps, ["c"]);
        assert_eq!(first.settings.env, [("K".to_owned(), "v".to_owned())]);
        assert_eq!(first.settings.dir.as_deref(), Some(Path::new("sub")));
        assert_eq!(first.settings.retries, Some(1));
        assert_eq!(first.exit, Some(Exit::Code(0)));
        assert_eq!(
            first.lane,
            Some(Lane {
                start: Duration::from_millis(3),
                slot: 1
            })
        );
        let output = reader.task(&row, "first").unwrap().unwrap();
        assert_eq!(output.stdout.bytes, b"out\n");
        let fingerprints = reader.fingerprints_of(run).unwrap();
        assert_eq!(
            fingerprints.get("first"),
            Some(&crate::task::fingerprint(
                "echo first",
                Some(Path::new("sub")),
                &first.settings.env,
                Kind::Shell
            ))
        );
        assert_eq!(fingerprints.len(), 201);
    }

    #[test]
    fn each_attempt_has_a_row_and_a_skipped_task_its_reason() {
        let (_dir, db) = db();
        let open = OpenRun::begin(&db, Path::new("/p"), 2).unwrap();
        let run = open.id();
        let flaky = task(0, "flaky");
        let later = task(1, "later");
        open.record(&flaky, attempt(1, Status::Failed));
        open.record(
            &later,
            OpenUpdate::Skipped {
                reason: "dependency failed: x".to_owned(),
                at: SystemTime::now(),
            },
        );
        open.record(&flaky, attempt(2, Status::Passed));
        // The same attempt again (the host told it twice) is still one row.
        open.record(&flaky, attempt(2, Status::Passed));
        open.close(&summary(None)).unwrap();

        let store = Store::open(&db).unwrap();
        let row = store.run(run).unwrap().unwrap();
        let tasks = store.tasks(&row).unwrap();
        let seen: Vec<(&str, u32, &str)> = tasks
            .iter()
            .map(|task| (task.name.as_str(), task.attempt, task.state.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("flaky", 1, "failed"),
                ("flaky", 2, "passed"),
                ("later", 1, "skipped")
            ]
        );
        assert_eq!(tasks[2].reason.as_deref(), Some("dependency failed: x"));
        assert_eq!(tasks[1].settings, tasks[0].settings);
        assert_eq!(
            (row.counts.passed, row.counts.failed, row.counts.skipped),
            (1, 0, 1)
        );
        assert_eq!(stored(&store, run), (1, 0, 1, 2, "completed".to_owned()));
    }

    #[test]
    fn a_cached_attempt_is_counted_and_its_cache_rows_written() {
        let (_dir, db) = db();
        let open = OpenRun::begin(&db, Path::new("/p"), 1).unwrap();
        let run = open.id();
        let OpenUpdate::Attempt { result, lane, .. } = attempt(1, Status::Cached) else {
            unreachable!()
        };
        let report = crate::cache::Report {
            out: None,
            key: "ab".repeat(32),
            verdict: crate::cache::Verdict::Hit {
                source_task: 7,
                source_run: 3,
                saved: Duration::from_secs(2),
                restored: 1,
                files: 1,
            },
            explain: None,
            note: None,
            outputs: None,
            stats: Vec::new(),
            hashed_bytes: 0,
            check: Duration::ZERO,
        };
        let result = Arc::new(TaskResult {
            exit: Exit::Code(0),
            cache: Some(Arc::new(report)),
            ..(*result).clone()
        });
        open.record(
            &task(0, "a"),
            OpenUpdate::Attempt {
                result,
                lane,
                reason: None,
            },
        );
        open.close(&summary(None)).unwrap();
        let store = Store::open(&db).unwrap();
        let row = store.run(run).unwrap().unwrap();
        assert_eq!((row.counts.passed, row.counts.cached), (1, 1));
        let (cached, outcome, source): (i64, String, i64) = store
            .connection
            .query_row(
                "SELECT runs.cached, outcome, source_run_id FROM runs, task_cache WHERE runs.id = ?1",
                [run],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .unwrap();
        assert_eq!((cached, outcome.as_str(), source), (1, "hit", 3));
    }

    #[test]
    fn a_run_closed_by_a_signal_or_dropped_is_interrupted() {
        let (_dir, db) = db();
        let signaled = OpenRun::begin(&db, Path::new("/p"), 1).unwrap();
        let first = signaled.id();
        signaled.record(&task(0, "a"), attempt(1, Status::Canceled));
        signaled.close(&summary(Some(Signal::INT))).unwrap();

        let dropped = OpenRun::begin(&db, Path::new("/p"), 1).unwrap();
        let second = dropped.id();
        dropped.record(&task(0, "a"), attempt(1, Status::Passed));
        dropped.record(&task(1, "b"), attempt(1, Status::Passed));
        drop(dropped);

        let store = Store::open(&db).unwrap();
        let row = store.run(first).unwrap().unwrap();
        assert_eq!(row.status, RunStatus::Interrupted);
        assert_eq!(row.signal, Some(Signal::INT));
        assert_eq!(row.counts.canceled, 1);
        let row = store.run(second).unwrap().unwrap();
        assert_eq!(row.status, RunStatus::Interrupted);
        assert_eq!(row.signal, None);
        assert!(row.finished_at.is_some() && row.duration.is_some());
        assert_eq!(row.counts.passed, 2, "what waited was written");
        assert_eq!(
            stored(&store, second),
            (2, 0, 0, 2, "interrupted".to_owned())
        );
    }

    #[test]
    fn a_failed_write_closes_the_run_incomplete() {
        let (_dir, db) = db();
        let open = OpenRun::begin(&db, Path::new("/p"), 1).unwrap();
        let run = open.id();
        // A trigger makes every task's write fail (as a full disk would).
        Store::open(&db)
            .unwrap()
            .connection
            .execute_batch(
                "CREATE TRIGGER no_tasks BEFORE INSERT ON tasks
                 BEGIN SELECT RAISE(ABORT, 'no room'); END;",
            )
            .unwrap();
        open.record(&task(0, "a"), attempt(1, Status::Passed));
        let error = open.close(&summary(None)).unwrap_err();
        assert!(matches!(error, StoreError::Write { .. }), "{error:?}");
        let store = Store::open(&db).unwrap();
        let row = store.run(run).unwrap().unwrap();
        assert_eq!(row.status, RunStatus::Incomplete);
        assert!(
            row.note
                .as_deref()
                .is_some_and(|note| note.contains("no room")),
            "{:?}",
            row.note
        );
        assert_eq!(stored(&store, run), (0, 0, 0, 0, "incomplete".to_owned()));
    }

    #[test]
    fn a_database_that_cannot_be_opened_is_an_error_at_once() {
        let (dir, _) = db();
        let path = dir.path().join("no such directory").join("t.db");
        let error = OpenRun::begin(&path, dir.path(), 1).err().unwrap();
        assert!(
            matches!(error, Error::Store(StoreError::Open { .. })),
            "{error:?}"
        );
    }

    #[test]
    fn the_open_run_of_a_dead_taskrun_is_swept_as_interrupted() {
        let (_dir, db) = db();
        let live = OpenRun::begin(&db, Path::new("/p"), 1).unwrap();
        let dead = OpenRun::begin(&db, Path::new("/p"), 1).unwrap();
        dead.record(&task(0, "a"), attempt(1, Status::Passed));
        let (live_id, dead_id) = (live.id(), dead.id());
        // `dead`'s taskrun dies: it never closes its run.
        std::mem::forget(dead);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = i64::from(child.id());
        child.wait().unwrap();
        eventually(&db, dead_id, |row| row.total_tasks == 1);
        let mut store = Store::open(&db).unwrap();
        store
            .connection
            .execute("UPDATE runs SET pid = ?2 WHERE id = ?1", [dead_id, pid])
            .unwrap();
        let row = store.run(dead_id).unwrap().unwrap();
        assert_eq!(row.status, RunStatus::Interrupted, "read as interrupted");
        assert_eq!(stored(&store, dead_id).4, "open");

        store.sweep_dead_runs().unwrap();
        assert_eq!(
            stored(&store, dead_id),
            (1, 0, 0, 1, "interrupted".to_owned())
        );
        assert_eq!(stored(&store, live_id).4, "open", "its taskrun is alive");
        assert_eq!(store.run(live_id).unwrap().unwrap().status, RunStatus::Open);
        live.close(&summary(None)).unwrap();
    }
}
