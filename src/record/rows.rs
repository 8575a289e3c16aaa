//! Reading the history back: runs and tasks as typed rows.
//!
//! This is the store's edge. Every column is decoded here, once: status
//! names into [`RunStatus`] and [`TaskState`], exit codes and signal
//! numbers into an [`Exit`], milliseconds into [`Duration`]s, lists into
//! vectors. No other module parses what the database holds.

use std::path::PathBuf;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{OptionalExtension, params};

use super::liveness::ProcessId;
use super::store::{Store, StoreError};
use crate::event::{Counts, Exit, Signal, SlurmPlace, Status};
use crate::source::{SourceId, Span, Spanned};
use crate::task::{CacheSpec, Kind, Settings, Timeout};

/// How a recorded run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunStatus {
    Running,
    /// An open-ended run (a broker's, that takes tasks as it goes): its
    /// tasks are recorded as they finish, and it has no plan to complete.
    Open,
    Completed,
    Interrupted,
    /// The run ended but not all of its results could be written.
    Incomplete,
}

impl RunStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Open => "open",
            RunStatus::Completed => "completed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Incomplete => "incomplete",
        }
    }

    /// Whether the run is still going: its taskrun is alive and has not
    /// ended it. Such a run is not retried or pruned.
    pub(crate) fn is_live(self) -> bool {
        matches!(self, RunStatus::Running | RunStatus::Open)
    }
}

impl RunRow {
    /// Why a live run is left alone, in words: `still running (taskrun
    /// process 12 on build-1)`, or, for a broker's open run, `still open,
    /// a broker records into it (process 12 on build-1)`.
    pub(crate) fn still_live(&self) -> String {
        let process = format!(
            "process {} on {}",
            self.pid.unwrap_or(0),
            self.host.as_deref().unwrap_or("an unknown host")
        );
        match self.status {
            RunStatus::Open => format!("still open, a broker records into it ({process})"),
            _ => format!("still running (taskrun {process})"),
        }
    }
}

/// One row of `runs`, as read.
#[derive(Clone, Debug)]
pub(crate) struct RunRow {
    pub id: i64,
    /// Unix seconds.
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub total_tasks: i64,
    /// How its tasks ended (their last attempts), counted from their rows
    /// as a reader sees them: so the counts always agree with the rows,
    /// even for a run whose taskrun was killed before it could count.
    pub counts: Counts,
    /// `interrupted` also for a run still marked `running` or `open` whose
    /// taskrun process is gone.
    pub status: RunStatus,
    /// The task file as an absolute path.
    pub taskfile: Option<String>,
    /// The task file relative to the directory taskrun started in; `None`
    /// for runs recorded before taskrun kept it.
    pub taskfile_relative: Option<String>,
    pub dir: Option<String>,
    pub duration: Option<Duration>,
    pub retry_of: Option<i64>,
    /// The signal that interrupted the run.
    pub signal: Option<Signal>,
    pub jobs: Option<i64>,
    /// Why the results of an incomplete run are not all there.
    pub note: Option<String>,
    /// The run's script, if one took part.
    pub script: Option<String>,
    /// The format its task file was read in (`lines`, `toml`, `json`), if
    /// it had one and it was recorded.
    pub file_format: Option<String>,
    /// The run's pools: name and limit.
    pub pools: Vec<(String, usize)>,
    /// The host and process id of the taskrun that ran it.
    pub host: Option<String>,
    pub pid: Option<i64>,
}

/// Where a recorded task is: not started, running, ended, or not known
/// (a run whose results were not all written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskState {
    Pending,
    Running,
    Ended(Status),
    Unknown,
}

impl TaskState {
    /// The name stored and shown: a status's, or `pending`, `running`,
    /// `unknown`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Running => "running",
            TaskState::Ended(status) => status.as_str(),
            TaskState::Unknown => "unknown",
        }
    }

    /// The status of a task that has ended.
    pub(crate) fn status(self) -> Option<Status> {
        match self {
            TaskState::Ended(status) => Some(status),
            _ => None,
        }
    }

    /// Whether the task ended with this status.
    pub(crate) fn is(self, status: Status) -> bool {
        self == TaskState::Ended(status)
    }

    /// Whether the task ended counting as passed: it passed, or it was up
    /// to date and restored from the store (`cached`).
    pub(crate) fn is_pass(self) -> bool {
        self.status().is_some_and(Status::is_pass)
    }

    fn parse(name: &str) -> TaskState {
        match name {
            "pending" => TaskState::Pending,
            "running" => TaskState::Running,
            other => Status::parse(other).map_or(TaskState::Unknown, TaskState::Ended),
        }
    }
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One output stream of a task, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct StoredOutput {
    /// The kept bytes: the first `--max-output` bytes.
    pub bytes: Vec<u8>,
    /// The size of the whole stream.
    pub total: i64,
    pub truncated: bool,
    /// The last bytes of a truncated stream.
    pub tail: Vec<u8>,
}

impl StoredOutput {
    /// The last bytes of the stream, as [`Capture::last_bytes`] has them:
    /// the tail if it was truncated, else everything.
    ///
    /// [`Capture::last_bytes`]: crate::event::Capture::last_bytes
    pub(crate) fn last_bytes(&self) -> &[u8] {
        if self.truncated {
            &self.tail
        } else {
            &self.bytes
        }
    }
}

/// One row of `tasks`, as read: one attempt of one task.
#[derive(Clone, Debug)]
pub(crate) struct TaskRow {
    pub name: String,
    pub command: String,
    pub state: TaskState,
    /// How its process ended, once it has: the exit code or signal, or
    /// why it could not start.
    pub exit: Option<Exit>,
    /// The reason stored with the row: why it was skipped or canceled, or
    /// why it could not start.
    pub reason: Option<String>,
    /// Unix seconds.
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub duration: Option<Duration>,
    pub deps: Vec<String>,
    /// The tasks it waited for to end, whatever their result.
    pub soft_deps: Vec<String>,
    /// Its place in the task file: the same for every attempt.
    pub position: i64,
    pub attempt: u32,
    pub stdout: StoredOutput,
    pub stderr: StoredOutput,
    /// The task's own settings, as it ran.
    pub settings: Settings,
    pub kind: Kind,
    /// Where on a Slurm cluster it ran, when it did.
    pub slurm: Option<SlurmPlace>,
    /// When it started after the run's start, and in which of the run's
    /// lanes: `None` for a task that never started, and for rows recorded
    /// before taskrun kept them (those have `started_at`, in seconds).
    pub lane: Option<Lane>,
    /// What the cache did for this attempt, when it took part.
    pub cache: Option<TaskCache>,
    /// The digest of the tree of what it left in `$TASKRUN_OUT`, when it
    /// passed, left something, and that was stored.
    pub out: Option<String>,
}

/// What the cache did for one attempt, as `task_cache` holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TaskCache {
    /// The cache key (the key manifest's digest).
    pub key: String,
    pub outcome: CacheOutcome,
    /// Why a pass was not stored.
    pub reason: Option<String>,
    /// For a hit: the task row, and its run, that stored the entry.
    pub source_task: Option<i64>,
    pub source_run: Option<i64>,
    /// The digest of the output tree restored or made.
    pub outputs: Option<String>,
}

/// What became of a cacheable attempt, as stored (the names of
/// [`Verdict::as_str`](crate::cache::Verdict::as_str)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CacheOutcome {
    /// Up to date: restored from a stored entry.
    Hit,
    /// Ran, passed, and was stored.
    Stored,
    /// Ran and passed, and was not stored (the reason says why).
    NotStored,
    /// Ran and did not pass.
    Miss,
}

impl CacheOutcome {
    /// The name stored in `task_cache.outcome`, and shown.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Stored => "stored",
            CacheOutcome::NotStored => "not_stored",
            CacheOutcome::Miss => "miss",
        }
    }

    fn parse(name: &str) -> Option<CacheOutcome> {
        Some(match name {
            "hit" => CacheOutcome::Hit,
            "stored" => CacheOutcome::Stored,
            "not_stored" => CacheOutcome::NotStored,
            "miss" => CacheOutcome::Miss,
            _ => return None,
        })
    }
}

/// When and where in its run an attempt started: what a timeline draws.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Lane {
    /// After the run's start (a monotonic clock).
    pub start: Duration,
    /// Which of the run's `jobs` lanes ran it (0 to `jobs - 1`).
    pub slot: usize,
}

impl TaskRow {
    /// How it ended, in the words every report uses: the reason of a row
    /// that has one and did not pass or fail on its own, else its exit.
    pub(crate) fn ending(&self) -> String {
        match (&self.exit, &self.reason) {
            (_, Some(reason))
                if !matches!(
                    self.state,
                    TaskState::Ended(Status::Passed | Status::Failed)
                ) =>
            {
                reason.clone()
            }
            (Some(exit), _) => exit.to_string(),
            (None, Some(reason)) => reason.clone(),
            (None, None) => "not finished".to_owned(),
        }
    }
}

/// The last attempt of each task: a task retried within its run has a row
/// per attempt, in order.
pub(crate) fn last_attempts(tasks: &[TaskRow]) -> Vec<&TaskRow> {
    let mut last: Vec<&TaskRow> = Vec::new();
    for task in tasks {
        match last.last_mut() {
            Some(previous) if previous.position == task.position => *previous = task,
            _ => last.push(task),
        }
    }
    last
}

impl Store {
    /// The newest runs first.
    pub(crate) fn runs(&self, limit: usize) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!("{RUN_COLUMNS} ORDER BY id DESC LIMIT ?1");
        let mut statement = self
            .connection
            .prepare(&sql)
            .map_err(|source| self.read_error(source))?;
        let rows = statement
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], run_row)
            .map_err(|source| self.read_error(source))?;
        let runs: Vec<RunRow> = rows
            .collect::<Result<_, _>>()
            .map_err(|source| self.read_error(source))?;
        runs.into_iter().map(|run| self.counted(run)).collect()
    }

    /// The run with this id.
    pub(crate) fn run(&self, id: i64) -> Result<Option<RunRow>, StoreError> {
        let sql = format!("{RUN_COLUMNS} WHERE id = ?1");
        let run = self
            .connection
            .query_row(&sql, [id], run_row)
            .optional()
            .map_err(|source| self.read_error(source))?;
        run.map(|run| self.counted(run)).transpose()
    }

    /// `run` with its counts, from the last attempt of each of its tasks.
    fn counted(&self, mut run: RunRow) -> Result<RunRow, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT status, COUNT(*) FROM task_results WHERE run_id = ?1 GROUP BY status",
            )
            .map_err(|source| self.read_error(source))?;
        let rows = statement
            .query_map([run.id], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(|source| self.read_error(source))?;
        for row in rows {
            let (state, count) = row.map_err(|source| self.read_error(source))?;
            let state = settled(run.status, TaskState::parse(&state))
                .map_or_else(|| TaskState::parse(&state), |(state, _)| state);
            if let TaskState::Ended(status) = state {
                run.counts
                    .add_many(status, usize::try_from(count).unwrap_or(0));
            }
        }
        Ok(run)
    }

    /// The id of the run `back` runs before the newest (0 is the newest),
    /// if there are that many.
    pub(crate) fn run_before_latest(&self, back: u32) -> Result<Option<i64>, StoreError> {
        self.connection
            .query_row(
                "SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?1",
                [back],
                |row| row.get(0),
            )
            .optional()
            .map_err(|source| self.read_error(source))
    }

    /// The run `run` is to be compared with: the run it retried, for a
    /// retry; else the newest earlier run of the same task file (the same
    /// path relative to where taskrun started, or the same absolute path:
    /// runs recorded before the relative one was kept have only that)
    /// that is not a retry (a retry holds only the tasks it ran again).
    pub(crate) fn previous_of_same_file(&self, run: &RunRow) -> Result<Option<i64>, StoreError> {
        if let Some(original) = run.retry_of {
            return Ok(Some(original));
        }
        self.connection
            .query_row(
                "SELECT id FROM runs WHERE id < ?1 AND retry_of IS NULL
                   AND (taskfile_relative = ?2 OR taskfile = ?3)
                 ORDER BY id DESC LIMIT 1",
                rusqlite::params![run.id, run.taskfile_relative, run.taskfile],
                |row| row.get(0),
            )
            .optional()
            .map_err(|source| self.read_error(source))
    }

    /// How many runs there are.
    pub(crate) fn run_count(&self) -> Result<i64, StoreError> {
        self.connection
            .query_row("SELECT COUNT(*) FROM runs", [], |row| row.get(0))
            .map_err(|source| self.read_error(source))
    }

    /// The id of the newest run, if there is one.
    pub(crate) fn latest_run(&self) -> Result<Option<i64>, StoreError> {
        self.connection
            .query_row("SELECT MAX(id) FROM runs", [], |row| row.get(0))
            .map_err(|source| self.read_error(source))
    }

    /// The tasks of a run in declaration order, each attempt a row,
    /// without their output. The unfinished tasks of an interrupted run
    /// read as canceled (running when taskrun died) or skipped (never
    /// started).
    pub(crate) fn tasks(&self, run: &RunRow) -> Result<Vec<TaskRow>, StoreError> {
        self.task_rows(run, false)
    }

    /// A run's tasks as [`Store::tasks`] has them, with their output.
    pub(crate) fn tasks_with_output(&self, run: &RunRow) -> Result<Vec<TaskRow>, StoreError> {
        self.task_rows(run, true)
    }

    fn task_rows(&self, run: &RunRow, output: bool) -> Result<Vec<TaskRow>, StoreError> {
        let sql = format!("{TASK_COLUMNS} WHERE run_id = ?1 ORDER BY position, attempt");
        let mut statement = self
            .connection
            .prepare(&sql)
            .map_err(|source| self.read_error(source))?;
        let rows = statement
            .query_map([run.id], |row| task_row(row, output))
            .map_err(|source| self.read_error(source))?;
        let mut tasks: Vec<TaskRow> = rows
            .collect::<Result<_, _>>()
            .map_err(|source| self.read_error(source))?;
        for task in &mut tasks {
            settle_unfinished(run.status, task);
        }
        Ok(tasks)
    }

    /// One task of a run, with its output (the last attempt, if several).
    pub(crate) fn task(&self, run: &RunRow, name: &str) -> Result<Option<TaskRow>, StoreError> {
        let sql =
            format!("{TASK_COLUMNS} WHERE run_id = ?1 AND name = ?2 ORDER BY attempt DESC LIMIT 1");
        let task = self
            .connection
            .query_row(&sql, params![run.id, name], |row| task_row(row, true))
            .optional()
            .map_err(|source| self.read_error(source))?;
        Ok(task.map(|mut task| {
            settle_unfinished(run.status, &mut task);
            task
        }))
    }
}

const RUN_COLUMNS: &str = "SELECT id, started_at, finished_at, total_tasks, passed, failed,
    skipped, status, taskfile, dir, duration_ms, timeouts, canceled, retry_of, signal, jobs,
    host, pid, pid_started, note, script, pools, taskfile_relative, file_format FROM runs";

/// A task row's columns, with what the cache did for it (`task_cache`
/// names two columns as `tasks` does, so those are named by table).
const TASK_COLUMNS: &str = "SELECT tasks.id, name, command, status, exit_code, signal,
    tasks.reason, started_at, finished_at, duration_ms, deps, position, attempt, stdout_bytes,
    stderr_bytes, stdout_truncated, stderr_truncated, stdout, stderr, stdout_tail, stderr_tail,
    timeout_ms, dir, env, retries, kind, soft_deps, pool, cpus, mem_bytes, job_id, step_id, node,
    start_us, slot, tasks.cache, c.cache_key, c.outcome, c.reason, c.source_task_id,
    c.source_run_id, c.outputs, tasks.out_tree
    FROM tasks LEFT JOIN task_cache AS c ON c.task_id = tasks.id";

fn run_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let stored: String = row.get(7)?;
    let status = match stored.as_str() {
        live @ ("running" | "open") => {
            let process = ProcessId {
                host: row.get::<_, Option<String>>(16)?.unwrap_or_default(),
                pid: row.get::<_, Option<i64>>(17)?.unwrap_or(0),
                started: row.get::<_, Option<i64>>(18)?.unwrap_or(0),
            };
            match (process.alive(), live) {
                (false, _) => RunStatus::Interrupted,
                (true, "open") => RunStatus::Open,
                (true, _) => RunStatus::Running,
            }
        }
        "interrupted" => RunStatus::Interrupted,
        "incomplete" => RunStatus::Incomplete,
        _ => RunStatus::Completed,
    };
    Ok(RunRow {
        id: row.get(0)?,
        started_at: row.get(1)?,
        finished_at: row.get(2)?,
        total_tasks: row.get(3)?,
        counts: Counts::default(),
        status,
        taskfile: row.get(8)?,
        taskfile_relative: row.get(22)?,
        dir: row.get(9)?,
        duration: row.get::<_, Option<i64>>(10)?.map(from_millis),
        retry_of: row.get(13)?,
        signal: row.get::<_, Option<i64>>(14)?.map(Signal::from_stored),
        jobs: row.get(15)?,
        note: row.get(19)?,
        script: row.get(20)?,
        file_format: row.get(23)?,
        pools: row
            .get::<_, String>(21)?
            .split(',')
            .filter_map(|pool| pool.split_once('='))
            .filter_map(|(name, limit)| Some((name.to_owned(), limit.parse().ok()?)))
            .collect(),
        host: row.get(16)?,
        pid: row.get(17)?,
    })
}

fn task_row(row: &rusqlite::Row<'_>, with_output: bool) -> rusqlite::Result<TaskRow> {
    let output = |bytes: usize,
                  truncated: usize,
                  kept: usize,
                  tail: usize|
     -> rusqlite::Result<StoredOutput> {
        Ok(StoredOutput {
            bytes: if with_output {
                bytes_of(row.get_ref(kept)?)
            } else {
                Vec::new()
            },
            total: row.get(bytes)?,
            truncated: row.get::<_, i64>(truncated)? != 0,
            tail: if with_output {
                bytes_of(row.get_ref(tail)?)
            } else {
                Vec::new()
            },
        })
    };
    let state = TaskState::parse(&row.get::<_, String>(3)?);
    let reason: Option<String> = row.get(6)?;
    let exit = match (row.get::<_, Option<i64>>(4)?, row.get::<_, Option<i64>>(5)?) {
        (Some(code), _) => Some(Exit::Code(i32::try_from(code).unwrap_or(i32::MAX))),
        (None, Some(signal)) => Some(Exit::Signal(Signal::from_stored(signal))),
        // A task that failed without an exit never started; the reason
        // says why.
        (None, None) if state.is(Status::Failed) => reason.clone().map(Exit::NotStarted),
        (None, None) => None,
    };
    Ok(TaskRow {
        name: row.get(1)?,
        command: row.get(2)?,
        state,
        exit,
        reason,
        started_at: row.get(7)?,
        finished_at: row.get(8)?,
        duration: row.get::<_, Option<i64>>(9)?.map(from_millis),
        deps: names(&row.get::<_, String>(10)?),
        position: row.get(11)?,
        attempt: u32::try_from(row.get::<_, i64>(12)?).unwrap_or(1),
        stdout: output(13, 15, 17, 19)?,
        stderr: output(14, 16, 18, 20)?,
        settings: Settings {
            timeout: row
                .get::<_, Option<i64>>(21)?
                .map(|ms| Timeout::After(from_millis(ms))),
            dir: row.get::<_, Option<String>>(22)?.map(PathBuf::from),
            env: decode_env(&row.get::<_, String>(23)?),
            retries: Some(u32::try_from(row.get::<_, i64>(24)?).unwrap_or(0))
                .filter(|&retries| retries > 0),
            pool: row
                .get::<_, Option<String>>(27)?
                .map(|pool| Spanned::new(pool, Span::new(SourceId::default(), 0, 0))),
            cpus: row.get(28)?,
            mem: row
                .get::<_, Option<i64>>(29)?
                .and_then(|mem| u64::try_from(mem).ok()),
            cache: row
                .get::<_, Option<String>>(35)?
                .map(|text| decode_cache(&text))
                .unwrap_or_default(),
        },
        slurm: row
            .get::<_, Option<String>>(30)?
            .map(|job_id| -> rusqlite::Result<SlurmPlace> {
                Ok(SlurmPlace {
                    job_id,
                    step_id: row.get(31)?,
                    node: row.get(32)?,
                })
            })
            .transpose()?,
        soft_deps: names(&row.get::<_, String>(26)?),
        kind: decode_kind(&row.get::<_, String>(25)?),
        lane: match (
            row.get::<_, Option<i64>>(33)?,
            row.get::<_, Option<i64>>(34)?,
        ) {
            (Some(start), Some(slot)) => Some(Lane {
                start: Duration::from_micros(u64::try_from(start).unwrap_or(0)),
                slot: usize::try_from(slot).unwrap_or(0),
            }),
            _ => None,
        },
        cache: task_cache(row)?,
        out: row.get(42)?,
    })
}

/// The `task_cache` columns of a task row (from 36 on): `None` for an
/// attempt the cache took no part in (or whose outcome taskrun does not
/// know).
fn task_cache(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<TaskCache>> {
    let (Some(key), Some(outcome)) = (
        row.get::<_, Option<String>>(36)?,
        row.get::<_, Option<String>>(37)?,
    ) else {
        return Ok(None);
    };
    let Some(outcome) = CacheOutcome::parse(&outcome) else {
        return Ok(None);
    };
    Ok(Some(TaskCache {
        key,
        outcome,
        reason: row.get(38)?,
        source_task: row.get(39)?,
        source_run: row.get(40)?,
        outputs: row.get(41)?,
    }))
}

/// A task's cache declarations as `tasks.cache` stores them (see
/// `write::encode_cache`). Spans point nowhere, as for the other settings
/// read back; a line of a kind taskrun does not know is passed over.
pub(super) fn decode_cache(text: &str) -> CacheSpec {
    let mut spec = CacheSpec::default();
    let spanned = |value: String| Spanned::new(value, Span::new(SourceId::default(), 0, 0));
    for line in text.lines() {
        let (kind, value) = line.split_once('\t').unwrap_or((line, ""));
        let value = unescape(value);
        match kind {
            "input" => spec.inputs.push(spanned(value)),
            "output" => spec.outputs.push(spanned(value)),
            "uses_env" => spec.uses_env.push(value),
            "tool" => spec.tools.push(value),
            "off" => spec.off = true,
            _ => {}
        }
    }
    spec
}

/// A value of `tasks.cache` with its escapes (`\\`, `\t`, `\n`) undone.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// A task's own environment as stored: one `NAME=value` a line.
pub(super) fn decode_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// A task's kind as stored.
pub(super) fn decode_kind(text: &str) -> Kind {
    match text {
        "rhai" => Kind::Rhai,
        "eval" => Kind::Eval,
        _ => Kind::Shell,
    }
}

/// A comma-separated list of task names.
fn names(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A stored number of milliseconds (negative ones, which taskrun never
/// writes, as zero).
fn from_millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// A column holding output: TEXT for UTF-8, a BLOB for anything else.
pub(super) fn bytes_of(value: ValueRef<'_>) -> Vec<u8> {
    match value {
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes.to_vec(),
        _ => Vec::new(),
    }
}

/// What an unfinished task of a run that is over means, and why: running
/// when taskrun died (canceled), never started (skipped), or not written
/// (unknown). `None` when the state stands as it is.
fn settled(run: RunStatus, state: TaskState) -> Option<(TaskState, &'static str)> {
    let unfinished = matches!(state, TaskState::Running | TaskState::Pending);
    match (run, state) {
        (RunStatus::Running | RunStatus::Open | RunStatus::Completed, _) => None,
        (_, _) if !unfinished => None,
        (RunStatus::Incomplete, _) => Some((TaskState::Unknown, "not recorded")),
        (RunStatus::Interrupted, TaskState::Running) => {
            Some((TaskState::Ended(Status::Canceled), "taskrun was killed"))
        }
        (RunStatus::Interrupted, _) => Some((TaskState::Ended(Status::Skipped), "run interrupted")),
    }
}

/// Reads an unfinished task row of a run that is over as [`settled`] says.
fn settle_unfinished(run: RunStatus, task: &mut TaskRow) {
    if let Some((state, reason)) = settled(run, task.state) {
        task.state = state;
        task.reason = Some(reason.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(state: TaskState) -> TaskRow {
        crate::testing::task_row(0, "t", state)
    }

    #[test]
    fn unfinished_tasks_read_by_how_the_run_ended() {
        let settled = |run, state| {
            let mut row = task(state);
            settle_unfinished(run, &mut row);
            (row.state.as_str(), row.reason.unwrap_or_default())
        };
        assert_eq!(
            settled(RunStatus::Running, TaskState::Running),
            ("running", String::new())
        );
        assert_eq!(
            settled(RunStatus::Open, TaskState::Running),
            ("running", String::new())
        );
        assert_eq!(
            settled(RunStatus::Interrupted, TaskState::Running),
            ("canceled", "taskrun was killed".into())
        );
        assert_eq!(
            settled(RunStatus::Interrupted, TaskState::Pending),
            ("skipped", "run interrupted".into())
        );
        assert_eq!(
            settled(RunStatus::Incomplete, TaskState::Pending),
            ("unknown", "not recorded".into())
        );
        assert_eq!(
            settled(RunStatus::Interrupted, TaskState::Ended(Status::Passed)),
            ("passed", String::new())
        );
    }

    #[test]
    fn states_read_back_as_written() {
        for name in [
            "pending", "running", "passed", "timeout", "canceled", "unknown",
        ] {
            assert_eq!(TaskState::parse(name).as_str(), name);
        }
        assert_eq!(TaskState::parse("gibberish"), TaskState::Unknown);
    }

    #[test]
    fn endings_say_the_reason_or_the_exit() {
        let mut failed = task(TaskState::Ended(Status::Failed));
        failed.exit = Some(Exit::Code(3));
        assert_eq!(failed.ending(), "exit code 3");
        let mut skipped = task(TaskState::Ended(Status::Skipped));
        skipped.reason = Some("dependency failed: a".into());
        assert_eq!(skipped.ending(), "dependency failed: a");
        let mut canceled = task(TaskState::Ended(Status::Canceled));
        canceled.exit = Some(Exit::Signal(Signal::INT));
        canceled.reason = Some("run interrupted by SIGINT".into());
        assert_eq!(canceled.ending(), "run interrupted by SIGINT");
        assert_eq!(task(TaskState::Pending).ending(), "not finished");
    }
}
