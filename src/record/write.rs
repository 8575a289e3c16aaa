//! Writing the history: a run's row and a row per task when it starts,
//! each task's changes as they happen, and the run's end.
//!
//! Every write runs in an IMMEDIATE transaction (see [`Store`]). A run's
//! counts are written with the task rows they count, in the same
//! transaction, so a reader never sees the two disagree.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rusqlite::params;
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::liveness::ProcessId;
use super::rows::{Lane, RunStatus};
use super::store::{Store, StoreError};
use crate::cache::{Report, Verdict};
use crate::event::{Capture, Counts, Exit, Signal, Summary, TaskResult};
use crate::graph::Plan;
use crate::task::{CacheSpec, Kind};
use crate::units::unix_seconds;

/// What is written when a run starts.
#[derive(Clone, Debug)]
pub(crate) struct NewRun {
    /// The task file, as an absolute path (or a description for a retry).
    pub taskfile: String,
    /// The task file relative to the directory taskrun started in (a
    /// retry keeps its original's).
    pub taskfile_relative: Option<String>,
    /// The script that took part, as an absolute path.
    pub script: Option<String>,
    /// The directory the tasks run in.
    pub dir: PathBuf,
    pub jobs: usize,
    pub retry_of: Option<i64>,
    pub started_at: SystemTime,
    /// Where the tasks run: `local` or `slurm`.
    pub executor: &'static str,
    /// The format the task file was read in, unless the tasks came from a
    /// script alone.
    pub file_format: Option<&'static str>,
}

/// The ids a started run was given.
#[derive(Clone, Debug)]
pub(crate) struct RunIds {
    pub run: i64,
    /// The row of each task of the plan, by task id.
    pub tasks: Vec<i64>,
}

/// One change to a task's row, as the recorder batches them. Tasks are
/// named by their id in the plan; [`Store::record`] finds the row of
/// their current attempt.
#[derive(Clone, Debug)]
pub(super) enum TaskUpdate {
    /// An attempt started: the first one in the task's `pending` row, each
    /// later one in a row of its own, made now. So every attempt has one
    /// row, and only an attempt that started has one.
    Started {
        task: usize,
        attempt: u32,
        at: SystemTime,
        lane: Lane,
    },
    /// An attempt ended (the task's last, or one that is retried).
    Finished {
        task: usize,
        result: Arc<TaskResult>,
        reason: Option<String>,
        lane: Lane,
    },
    Skipped {
        task: usize,
        reason: String,
        at: SystemTime,
    },
}

/// What a task is, as it is written for its first attempt and copied for
/// each later one: one list, so that a retried attempt keeps every column.
const TASK_COLUMNS: &str = "run_id, name, command, position, deps, timeout_ms, dir, env, \
                            retries, kind, soft_deps, pool, cpus, mem_bytes, fingerprint, cache";

impl Store {
    /// Marks the runs whose taskrun process died before it ended them
    /// (`running` ones, and `open` ones of a broker) as interrupted, with
    /// their unfinished tasks: running ones canceled, waiting ones skipped.
    pub(crate) fn sweep_dead_runs(&mut self) -> Result<(), StoreError> {
        let candidates: Vec<(i64, ProcessId)> = {
            let mut statement = self
                .connection
                .prepare("SELECT id, host, pid, pid_started FROM runs WHERE status IN ('running', 'open')")
                .map_err(|source| self.read_error(source))?;
            let rows = statement
                .query_map([], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        ProcessId {
                            host: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                            pid: row.get::<_, Option<i64>>(2)?.unwrap_or(0),
                            started: row.get::<_, Option<i64>>(3)?.unwrap_or(0),
                        },
                    ))
                })
                .map_err(|source| self.read_error(source))?;
            rows.collect::<Result<_, _>>()
                .map_err(|source| self.read_error(source))?
        };
        let dead: Vec<i64> = candidates
            .into_iter()
            .filter(|(_, process)| !process.alive())
            .map(|(id, _)| id)
            .collect();
        if dead.is_empty() {
            return Ok(());
        }
        self.write(|transaction| {
            for id in dead {
                transaction.execute_batch(&format!(
                    "UPDATE tasks SET status = 'canceled', reason = 'taskrun was killed'
                         WHERE run_id = {id} AND status = 'running';
                     UPDATE tasks SET status = 'skipped', reason = 'run interrupted'
                         WHERE run_id = {id} AND status = 'pending';
                     UPDATE runs SET status = 'interrupted',
                         passed = (SELECT COUNT(*) FROM task_results WHERE run_id = {id} AND status IN ('passed', 'cached')),
                         cached = (SELECT COUNT(*) FROM task_results WHERE run_id = {id} AND status = 'cached'),
                         failed = (SELECT COUNT(*) FROM task_results WHERE run_id = {id} AND status IN ('failed', 'timeout')),
                         skipped = (SELECT COUNT(*) FROM task_results WHERE run_id = {id} AND status = 'skipped'),
                         timeouts = (SELECT COUNT(*) FROM task_results WHERE run_id = {id} AND status = 'timeout'),
                         canceled = (SELECT COUNT(*) FROM task_results WHERE run_id = {id} AND status = 'canceled')
                         WHERE id = {id};"
                ))?;
            }
            Ok(())
        })
    }

    /// Writes the run row and a `pending` row for every task of `plan`
    /// (with its fingerprint, in plan order), before any task starts.
    pub(crate) fn begin_run(
        &mut self,
        run: &NewRun,
        plan: &Plan,
        fingerprints: &[i64],
    ) -> Result<RunIds, StoreError> {
        self.write(|transaction| {
            let pools = plan
                .pools
                .iter()
                .map(|(name, limit)| format!("{name}={limit}"))
                .collect::<Vec<_>>()
                .join(",");
            let run_id = insert_run(
                transaction,
                run,
                RunStatus::Running,
                plan.tasks.len(),
                &pools,
            )?;
            let mut tasks = Vec::with_capacity(plan.tasks.len());
            let mut insert = insert_task_statement(transaction)?;
            for (position, task) in plan.tasks.iter().enumerate() {
                let names = |deps: &[usize]| {
                    deps.iter()
                        .map(|&dep| plan.tasks[dep].name.value.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                };
                let settings = &task.settings;
                let columns = TaskColumns {
                    name: &task.name.value,
                    command: &task.command.value,
                    position,
                    deps: names(&plan.deps[position]),
                    timeout: settings.own_timeout(),
                    dir: settings.dir.as_deref(),
                    env: &settings.env,
                    retries: settings.retries.unwrap_or(0),
                    kind: task.kind,
                    soft_deps: names(&plan.soft[position]),
                    pool: settings.pool.as_ref().map(|pool| pool.value.as_str()),
                    cpus: settings.cpus,
                    mem: settings.mem,
                    fingerprint: fingerprints.get(position).copied(),
                    cache: Some(&settings.cache),
                };
                tasks.push(insert_task(&mut insert, run_id, 1, &columns)?);
            }
            Ok(RunIds { run: run_id, tasks })
        })
    }

    /// Writes a batch of task changes and the run's counts so far in one
    /// transaction.
    pub(super) fn record(
        &mut self,
        run: i64,
        rows: &mut [i64],
        updates: &[TaskUpdate],
        counts: &Counts,
    ) -> Result<(), StoreError> {
        self.write(|transaction| {
            for update in updates {
                match update {
                    TaskUpdate::Started {
                        task,
                        attempt: 1,
                        at,
                        lane,
                    } => {
                        transaction
                            .prepare_cached(
                                "UPDATE tasks SET status = 'running', started_at = ?2,
                                     start_us = ?3, slot = ?4
                                 WHERE id = ?1",
                            )?
                            .execute(params![
                                rows[*task],
                                unix_seconds(*at),
                                micros(lane.start),
                                to_i64(lane.slot)
                            ])?;
                    }
                    TaskUpdate::Started {
                        task,
                        attempt,
                        at,
                        lane,
                    } => {
                        transaction
                            .prepare_cached(&format!(
                                "INSERT INTO tasks (status, attempt, started_at, start_us, slot,
                                     {TASK_COLUMNS})
                                 SELECT 'running', ?2, ?3, ?4, ?5, {TASK_COLUMNS}
                                 FROM tasks WHERE id = ?1"
                            ))?
                            .execute(params![
                                rows[*task],
                                attempt,
                                unix_seconds(*at),
                                micros(lane.start),
                                to_i64(lane.slot)
                            ])?;
                        rows[*task] = transaction.last_insert_rowid();
                    }
                    TaskUpdate::Skipped { task, reason, at } => {
                        skip_task(transaction, rows[*task], reason, *at)?;
                    }
                    TaskUpdate::Finished {
                        task,
                        result,
                        reason,
                        lane,
                    } => finish_task(transaction, rows[*task], result, reason.as_deref(), *lane)?,
                }
            }
            write_counts(transaction, run, counts)
        })
    }

    /// Completes the run row; `incomplete` says why some results could not
    /// be written, if that happened.
    pub(super) fn finish_run(
        &mut self,
        run: i64,
        summary: &Summary,
        incomplete: Option<&str>,
    ) -> Result<(), StoreError> {
        let status = match (incomplete, summary.interrupted) {
            (Some(_), _) => RunStatus::Incomplete,
            (None, Some(_)) => RunStatus::Interrupted,
            (None, None) => RunStatus::Completed,
        };
        self.end_run(run, status, summary, incomplete)
    }

    /// Completes the run row as `status`, with the summary's duration,
    /// signal and counts; `note` says why an incomplete run's results are
    /// not all there.
    pub(super) fn end_run(
        &mut self,
        run: i64,
        status: RunStatus,
        summary: &Summary,
        note: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write(|transaction| {
            transaction.execute(
                "UPDATE runs SET finished_at = ?2, duration_ms = ?3, status = ?4, signal = ?5,
                     note = ?6
                 WHERE id = ?1",
                params![
                    run,
                    unix_seconds(SystemTime::now()),
                    millis(summary.duration),
                    status.as_str(),
                    summary.interrupted.map(Signal::number),
                    note,
                ],
            )?;
            write_counts(transaction, run, &summary.counts)
        })
    }
}

/// Writes the row of a run that starts now, with `total` tasks, as
/// `status`; `pools` as stored (`name=limit,...`). Returns its id.
pub(super) fn insert_run(
    transaction: &rusqlite::Transaction<'_>,
    run: &NewRun,
    status: RunStatus,
    total: usize,
    pools: &str,
) -> rusqlite::Result<i64> {
    let process = ProcessId::current();
    transaction.execute(
        "INSERT INTO runs (started_at, total_tasks, status, taskfile, dir, jobs,
             retry_of, host, pid, pid_started, script, pools, executor,
             taskfile_relative, file_format)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            unix_seconds(run.started_at),
            to_i64(total),
            status.as_str(),
            run.taskfile,
            run.dir.to_string_lossy(),
            to_i64(run.jobs),
            run.retry_of,
            process.host,
            process.pid,
            process.started,
            run.script,
            pools,
            run.executor,
            run.taskfile_relative,
            run.file_format,
        ],
    )?;
    Ok(transaction.last_insert_rowid())
}

/// What a task is, as [`TASK_COLUMNS`] stores it.
pub(super) struct TaskColumns<'a> {
    pub name: &'a str,
    pub command: &'a str,
    /// Its place in the run: the plan's order, or the order tasks came in.
    pub position: usize,
    /// The names of its dependencies, comma-separated.
    pub deps: String,
    pub timeout: Option<Duration>,
    pub dir: Option<&'a Path>,
    pub env: &'a [(String, String)],
    pub retries: u32,
    pub kind: Kind,
    /// The names of its soft dependencies, comma-separated.
    pub soft_deps: String,
    pub pool: Option<&'a str>,
    pub cpus: Option<u32>,
    pub mem: Option<u64>,
    pub fingerprint: Option<i64>,
    /// Its cache declarations; `None` (as for a broker's task) is stored
    /// as none.
    pub cache: Option<&'a CacheSpec>,
}

/// The statement [`insert_task`] runs, prepared once for many rows (a
/// plan of 5,000 tasks would otherwise format and look it up 5,000 times).
pub(super) fn insert_task_statement<'a>(
    transaction: &'a rusqlite::Transaction<'_>,
) -> rusqlite::Result<rusqlite::CachedStatement<'a>> {
    transaction.prepare_cached(&format!(
        "INSERT INTO tasks (status, attempt, {TASK_COLUMNS})
         VALUES ('pending', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
             ?15, ?16, ?17)"
    ))
}

/// Writes, with `statement` (see [`insert_task_statement`]), a `pending`
/// row of attempt `attempt` of a task of run `run`; returns its id.
pub(super) fn insert_task(
    statement: &mut rusqlite::Statement<'_>,
    run: i64,
    attempt: u32,
    task: &TaskColumns<'_>,
) -> rusqlite::Result<i64> {
    let env: Vec<String> = task
        .env
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    statement.insert(params![
        attempt,
        run,
        task.name,
        task.command,
        to_i64(task.position),
        task.deps,
        task.timeout.map(millis),
        task.dir.map(Path::to_string_lossy),
        env.join("\n"),
        task.retries,
        task.kind.as_str(),
        task.soft_deps,
        task.pool,
        task.cpus,
        task.mem.map(|mem| i64::try_from(mem).unwrap_or(i64::MAX)),
        task.fingerprint,
        task.cache.and_then(encode_cache),
    ])
}

/// A task's cache declarations as `tasks.cache` stores them: one
/// `kind\tvalue` line per item (`input`, `output`, `uses_env`, `tool`,
/// and `off` alone), in the order declared; `None` when it declares
/// nothing. A backslash, tab or newline in a value is escaped (`\\`,
/// `\t`, `\n`), so every item stays one line.
pub(super) fn encode_cache(spec: &CacheSpec) -> Option<String> {
    if *spec == CacheSpec::default() {
        return None;
    }
    let mut lines = Vec::new();
    let items = spec
        .inputs
        .iter()
        .map(|input| ("input", input.value.as_str()))
        .chain(
            spec.outputs
                .iter()
                .map(|output| ("output", output.value.as_str())),
        )
        .chain(spec.uses_env.iter().map(|name| ("uses_env", name.as_str())))
        .chain(spec.tools.iter().map(|tool| ("tool", tool.as_str())));
    for (kind, value) in items {
        let value = value
            .replace('\\', "\\\\")
            .replace('\t', "\\t")
            .replace('\n', "\\n");
        lines.push(format!("{kind}\t{value}"));
    }
    if spec.off {
        lines.push("off".to_owned());
    }
    Some(lines.join("\n"))
}

/// Marks the task row `row` skipped, for `reason`, at `at`.
pub(super) fn skip_task(
    transaction: &rusqlite::Transaction<'_>,
    row: i64,
    reason: &str,
    at: SystemTime,
) -> rusqlite::Result<()> {
    transaction
        .prepare_cached(
            "UPDATE tasks SET status = 'skipped', reason = ?2, finished_at = ?3, duration_ms = 0
             WHERE id = ?1",
        )?
        .execute(params![row, reason, unix_seconds(at)])?;
    Ok(())
}

/// Writes how the attempt in row `row` ended (`result`), with its cache
/// rows when it has a cache report (see [`record_cache`]).
pub(super) fn finish_task(
    transaction: &rusqlite::Transaction<'_>,
    row: i64,
    result: &TaskResult,
    reason: Option<&str>,
    lane: Lane,
) -> rusqlite::Result<()> {
    let (exit_code, signal, reason) = match &result.exit {
        Exit::Code(code) => (Some(i64::from(*code)), None, reason.map(str::to_owned)),
        Exit::Signal(signal) => (
            None,
            Some(i64::from(signal.number())),
            reason.map(str::to_owned),
        ),
        Exit::NotStarted(why) => (None, None, Some(why.clone())),
    };
    let finished = result.started_at + result.duration;
    let mut statement = transaction.prepare_cached(
        "UPDATE tasks SET status = ?2, exit_code = ?3, signal = ?4, reason = ?5,
             started_at = ?6, finished_at = ?7, duration_ms = ?8, stdout = ?9, stderr = ?10,
             stdout_bytes = ?11, stderr_bytes = ?12, stdout_truncated = ?13,
             stderr_truncated = ?14, stdout_tail = ?15, stderr_tail = ?16, attempt = ?17,
             job_id = ?18, start_us = ?19, slot = ?20, step_id = ?21, node = ?22,
             out_tree = ?23
         WHERE id = ?1",
    )?;
    statement.execute(params![
        row,
        result.status.as_str(),
        exit_code,
        signal,
        reason,
        unix_seconds(result.started_at),
        unix_seconds(finished),
        millis(result.duration),
        output_value(&result.stdout.bytes),
        output_value(&result.stderr.bytes),
        i64::try_from(result.stdout.total).unwrap_or(i64::MAX),
        i64::try_from(result.stderr.total).unwrap_or(i64::MAX),
        result.stdout.truncated(),
        result.stderr.truncated(),
        tail(&result.stdout),
        tail(&result.stderr),
        result.attempt,
        result.slurm.as_ref().map(|place| &place.job_id),
        micros(lane.start),
        to_i64(lane.slot),
        result.slurm.as_ref().and_then(|place| place.step_id),
        result
            .slurm
            .as_ref()
            .and_then(|place| place.node.as_deref()),
        result.out.as_ref().and_then(|out| out.tree.as_ref()),
    ])?;
    if let Some(report) = &result.cache {
        record_cache(transaction, row, result, report)?;
    }
    Ok(())
}

/// Writes what the cache did for the attempt in row `row` (`report`), in
/// the transaction of its row: its `task_cache` row; for a pass to store,
/// the entry a later hit restores from (its output byte for byte, as
/// captured, truncation included), replacing an older one of the same
/// key; for a hit, one more hit of the entry it came from; and the stat
/// cache rows learned while checking. The same attempt written again
/// (its result recorded twice) writes the same rows, and counts its hit
/// once.
fn record_cache(
    transaction: &rusqlite::Transaction<'_>,
    row: i64,
    result: &TaskResult,
    report: &Report,
) -> rusqlite::Result<()> {
    let finished = unix_seconds(result.started_at + result.duration);
    let again = transaction
        .prepare_cached("DELETE FROM task_cache WHERE task_id = ?1")?
        .execute([row])?
        > 0;
    let (reason, source_task, source_run) = match &report.verdict {
        Verdict::Hit {
            source_task,
            source_run,
            ..
        } => (None, Some(*source_task), Some(*source_run)),
        Verdict::NotStored(why) => (Some(why.as_str()), None, None),
        Verdict::Stored | Verdict::Failed => (report.note.as_deref(), None, None),
    };
    transaction
        .prepare_cached(
            "INSERT INTO task_cache (task_id, task_name, cache_key, outcome, reason,
                 source_task_id, source_run_id, outputs, hashed_bytes, check_us)
             SELECT id, name, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM tasks WHERE id = ?1",
        )?
        .execute(params![
            row,
            report.key,
            report.verdict.as_str(),
            reason,
            source_task,
            source_run,
            report.outputs,
            i64::try_from(report.hashed_bytes).unwrap_or(i64::MAX),
            micros(report.check),
        ])?;
    match &report.verdict {
        Verdict::Stored => {
            transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO cache_entries (cache_key, task_name,
                         producer_task_id, producer_run_id, outputs, stdout, stdout_total,
                         stdout_tail, stderr, stderr_total, stderr_tail, exit_code, duration_ms,
                         created_at, last_hit_at, hits, out_tree)
                     SELECT ?2, name, id, run_id, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10, ?11, NULL, 0,
                         ?12
                     FROM tasks WHERE id = ?1",
                )?
                .execute(params![
                    row,
                    report.key,
                    report.outputs,
                    result.stdout.bytes,
                    i64::try_from(result.stdout.total).unwrap_or(i64::MAX),
                    result.stdout.tail,
                    result.stderr.bytes,
                    i64::try_from(result.stderr.total).unwrap_or(i64::MAX),
                    result.stderr.tail,
                    millis(result.duration),
                    finished,
                    report.out,
                ])?;
        }
        Verdict::Hit { .. } if !again => {
            transaction
                .prepare_cached(
                    "UPDATE cache_entries SET hits = hits + 1, last_hit_at = ?2
                     WHERE cache_key = ?1",
                )?
                .execute(params![report.key, finished])?;
        }
        Verdict::Hit { .. } | Verdict::NotStored(_) | Verdict::Failed => {}
    }
    crate::cache::stat::save(transaction, &report.stats)?;
    Ok(())
}

/// Output is stored as TEXT when it is UTF-8 (so that `sqlite3` shows it
/// as text) and as a BLOB otherwise, byte for byte.
fn output_value(bytes: &[u8]) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(if std::str::from_utf8(bytes).is_ok() {
        ValueRef::Text(bytes)
    } else {
        ValueRef::Blob(bytes)
    })
}

/// The end of a truncated stream, stored beside its start.
fn tail(capture: &Capture) -> Option<ToSqlOutput<'_>> {
    capture
        .truncated()
        .then(|| output_value(capture.last_bytes()))
}

pub(super) fn write_counts(
    transaction: &rusqlite::Transaction<'_>,
    run: i64,
    counts: &Counts,
) -> rusqlite::Result<()> {
    let count = to_i64;
    transaction
        .prepare_cached(
            "UPDATE runs SET passed = ?2, failed = ?3, skipped = ?4, timeouts = ?5, canceled = ?6,
                 cached = ?7
             WHERE id = ?1",
        )?
        .execute(params![
            run,
            // Cached tasks are counted in `passed` too.
            count(counts.passed),
            // The specification's `failed` counts timeouts too.
            count(counts.failed + counts.timeout),
            count(counts.skipped),
            count(counts.timeout),
            count(counts.canceled),
            count(counts.cached),
        ])?;
    Ok(())
}

pub(super) fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A duration as stored: whole milliseconds.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A duration as stored in microseconds.
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{SkipReason, Status};
    use crate::record::rows::TaskState;
    use crate::testing::{new_run, plan, store};

    fn result(status: Status, exit: Exit, stdout: &[u8]) -> Arc<TaskResult> {
        let mut capture = Capture::default();
        capture.push(stdout, 4);
        Arc::new(TaskResult {
            out: None,
            status,
            attempt: 1,
            exit,
            started_at: SystemTime::now(),
            duration: Duration::from_millis(1500),
            stdout: capture,
            stderr: Capture::default(),
            slurm: None,
            cache: None,
        })
    }

    #[test]
    fn a_run_round_trips() {
        let (_dir, mut store) = store();
        let plan = plan("a: echo a\nb: echo b [after:a]\nc: true [after:b]\n");
        let ids = store
            .begin_run(&new_run(), &plan, &plan.fingerprints())
            .unwrap();
        let mut rows = ids.tasks.clone();
        let updates = [
            TaskUpdate::Started {
                task: 0,
                attempt: 1,
                at: SystemTime::now(),
                lane: Lane::default(),
            },
            TaskUpdate::Finished {
                task: 0,
                result: result(Status::Passed, Exit::Code(0), b"hello world\n"),
                reason: None,
                lane: Lane::default(),
            },
            TaskUpdate::Finished {
                task: 1,
                result: result(Status::Failed, Exit::Signal(Signal::KILL), b"\xff\xfe"),
                reason: None,
                lane: Lane::default(),
            },
            TaskUpdate::Skipped {
                task: 2,
                reason: SkipReason::DependencyFailed("b".into()).to_string(),
                at: SystemTime::now(),
            },
        ];
        let counts = Counts {
            passed: 1,
            failed: 1,
            skipped: 1,
            ..Counts::default()
        };
        store.record(ids.run, &mut rows, &updates, &counts).unwrap();
        let summary = Summary {
            counts,
            duration: Duration::from_secs(2),
            interrupted: None,
            halted: None,
        };
        store.finish_run(ids.run, &summary, None).unwrap();

        let run = store.run(ids.run).unwrap().unwrap();
        assert_eq!(run.counts, counts);
        assert_eq!(run.status, RunStatus::Completed);
        assert_eq!(run.duration, Some(Duration::from_secs(2)));
        assert_eq!(store.latest_run().unwrap(), Some(ids.run));
        let tasks = store.tasks(&run).unwrap();
        let states: Vec<&str> = tasks.iter().map(|task| task.state.as_str()).collect();
        assert_eq!(states, ["passed", "failed", "skipped"]);
        assert_eq!(tasks[1].deps, ["a"]);
        assert_eq!(tasks[2].reason.as_deref(), Some("dependency failed: b"));
        let a = store.task(&run, "a").unwrap().unwrap();
        assert_eq!(a.stdout.bytes, b"hell");
        assert!(a.stdout.truncated);
        assert_eq!(a.stdout.total, 12);
        assert_eq!(a.stdout.tail, b"o world\n");
        assert_eq!(a.duration, Some(Duration::from_millis(1500)));
        let b = store.task(&run, "b").unwrap().unwrap();
        assert_eq!(b.exit, Some(Exit::Signal(Signal::KILL)));
        assert_eq!(b.state, TaskState::Ended(Status::Failed));
        assert_eq!(b.stdout.bytes, b"\xff\xfe", "bytes kept exactly");
        assert!(store.task(&run, "zzz").unwrap().is_none());
    }

    #[test]
    fn each_attempt_has_one_row_with_every_column_of_its_task() {
        let (_dir, mut store) = store();
        let plan = plan("a: exit 1 [retries:2] [cpus:4] [mem:1G] [timeout:5s] [env:K=v]\n");
        let ids = store
            .begin_run(&new_run(), &plan, &plan.fingerprints())
            .unwrap();
        let mut rows = ids.tasks.clone();
        let started = |attempt| TaskUpdate::Started {
            task: 0,
            attempt,
            at: SystemTime::now(),
            lane: Lane::default(),
        };
        let failed = TaskUpdate::Finished {
            task: 0,
            result: result(Status::Failed, Exit::Code(1), b""),
            reason: None,
            lane: Lane::default(),
        };
        let updates = [started(1), failed.clone(), started(2)];
        store
            .record(ids.run, &mut rows, &updates, &Counts::default())
            .unwrap();
        let run = store.run(ids.run).unwrap().unwrap();
        let tasks = store.tasks(&run).unwrap();
        assert_eq!(tasks.len(), 2);
        assert_eq!((tasks[0].attempt, tasks[1].attempt), (1, 2));
        assert_eq!(tasks[1].state, TaskState::Running);
        assert_eq!(tasks[1].settings, tasks[0].settings);
        assert_eq!(tasks[1].settings.cpus, Some(4));
        assert_eq!(tasks[1].settings.mem, Some(1 << 30));
        // The last attempt's result, written again (as when a run is
        // interrupted while a task waits for its retry), is still one row.
        let again = [failed.clone(), failed];
        store
            .record(ids.run, &mut rows, &again, &Counts::default())
            .unwrap();
        assert_eq!(store.tasks(&run).unwrap().len(), 2);
    }

    use crate::cache::StatRow;
    use crate::source::{SourceId, Span, Spanned};

    /// A report of the cache for key `key` that says `verdict`, with one
    /// stat row whose device number does not fit an `i64`.
    fn report(key: &str, verdict: Verdict) -> Arc<Report> {
        Arc::new(Report {
            out: None,
            key: key.to_owned(),
            verdict,
            explain: None,
            note: None,
            outputs: Some("f".repeat(64)),
            stats: vec![StatRow {
                path: PathBuf::from("/p/src/main.c"),
                dev: u64::MAX - 1,
                ino: 42,
                size: 4096,
                mtime_ns: 1_700_000_000_123_456_789,
                ctime_ns: 1_700_000_000_223_456_789,
                mode: 0o100_644,
                sha256: "a".repeat(64),
                verified_at_ns: 1_700_000_001_000_000_000,
            }],
            hashed_bytes: 4096,
            check: Duration::from_micros(1234),
        })
    }

    /// A result of `status` carrying `cache`; its stdout is cut at 4 bytes
    /// of 19 (so it has a tail), its stderr is not UTF-8.
    fn cached_result(status: Status, duration: Duration, cache: Arc<Report>) -> Arc<TaskResult> {
        let mut stdout = Capture::default();
        stdout.push(b"start", 4);
        stdout.push(b"ing the build\n", 4);
        let mut stderr = Capture::default();
        stderr.push(b"\xff warn\n", 1024);
        Arc::new(TaskResult {
            out: None,
            status,
            attempt: 1,
            exit: Exit::Code(0),
            started_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            duration,
            stdout,
            stderr,
            slurm: None,
            cache: Some(cache),
        })
    }

    /// Runs `text` with task 0 ending as `result`; the run's and task's
    /// row ids.
    fn record_one(store: &mut Store, text: &str, result: Arc<TaskResult>) -> (i64, i64) {
        let plan = plan(text);
        let ids = store
            .begin_run(&new_run(), &plan, &plan.fingerprints())
            .unwrap();
        let mut rows = ids.tasks.clone();
        let mut counts = Counts::default();
        counts.add(result.status);
        let finished = TaskUpdate::Finished {
            task: 0,
            result,
            reason: None,
            lane: Lane::default(),
        };
        store
            .record(ids.run, &mut rows, &[finished], &counts)
            .unwrap();
        (ids.run, rows[0])
    }

    /// The one row `sql` selects, each column as SQLite holds it.
    fn one_row(store: &Store, sql: &str) -> Vec<rusqlite::types::Value> {
        store
            .connection
            .query_row(sql, [], |row| {
                (0..row.as_ref().column_count())
                    .map(|i| row.get(i))
                    .collect()
            })
            .unwrap()
    }

    /// Records a pass of `build` to store, asserts the rows it makes, and
    /// returns its key, run and task row.
    fn stored_entry(store: &mut Store) -> (String, i64, i64) {
        use rusqlite::types::Value::{Blob, Integer, Null, Text};
        let key = "5e".repeat(32);
        let stored = cached_result(
            Status::Passed,
            Duration::from_millis(12_300),
            report(&key, Verdict::Stored),
        );
        let (first_run, producer) = record_one(store, "build: make\n", Arc::clone(&stored));
        assert_eq!(
            one_row(
                store,
                "SELECT task_id, task_name, cache_key, outcome, reason, source_task_id,
                     source_run_id, outputs, hashed_bytes, check_us FROM task_cache"
            ),
            [
                Integer(producer),
                Text("build".into()),
                Text(key.clone()),
                Text("stored".into()),
                Null,
                Null,
                Null,
                Text("f".repeat(64)),
                Integer(4096),
                Integer(1234),
            ]
        );
        let entry = "SELECT cache_key, task_name, producer_task_id, producer_run_id, outputs,
                 stdout, stdout_total, stdout_tail, stderr, stderr_total, stderr_tail, exit_code,
                 duration_ms, created_at, last_hit_at, hits FROM cache_entries";
        assert_eq!(
            one_row(store, entry),
            [
                Text(key.clone()),
                Text("build".into()),
                Integer(producer),
                Integer(first_run),
                Text("f".repeat(64)),
                Blob(b"star".to_vec()),
                Integer(19),
                Blob(b"ting the build\n".to_vec()),
                Blob(b"\xff warn\n".to_vec()),
                Integer(7),
                Blob(Vec::new()),
                Integer(0),
                Integer(12_300),
                Integer(1_700_000_012),
                Null,
                Integer(0),
            ]
        );
        assert_eq!(
            stored.stdout.tail, b"ting the build\n",
            "the tail as captured"
        );
        assert_eq!(
            one_row(store, "SELECT * FROM file_stat_cache"),
            [
                Blob(b"/p/src/main.c".to_vec()),
                Integer(-2),
                Integer(42),
                Integer(4096),
                Integer(1_700_000_000_123_456_789),
                Integer(1_700_000_000_223_456_789),
                Integer(0o100_644),
                Text("a".repeat(64)),
                Integer(1_700_000_001_000_000_000),
            ]
        );

        (key, first_run, producer)
    }

    #[test]
    fn a_stored_pass_writes_its_entry_byte_for_byte() {
        let (_dir, mut store) = store();
        stored_entry(&mut store);
    }

    #[test]
    fn a_hit_is_recorded_cached_and_counts_on_its_entry_once() {
        use rusqlite::types::Value::{Integer, Text};
        let (_dir, mut store) = store();
        let (key, first_run, producer) = stored_entry(&mut store);
        // The next run is up to date: restored from that entry.
        let hit = Verdict::Hit {
            source_task: producer,
            source_run: first_run,
            saved: Duration::from_millis(12_300),
            restored: 3,
            files: 3,
        };
        let cached = cached_result(Status::Cached, Duration::from_millis(7), report(&key, hit));
        let (second_run, row) = record_one(&mut store, "build: make\n", Arc::clone(&cached));
        assert_eq!(
            one_row(
                &store,
                &format!(
                    "SELECT status, exit_code, duration_ms, stdout_bytes, stdout_truncated
                     FROM tasks WHERE id = {row}"
                )
            ),
            [
                Text("cached".into()),
                Integer(0),
                Integer(7),
                Integer(19),
                Integer(1)
            ]
        );
        assert_eq!(
            one_row(
                &store,
                &format!(
                    "SELECT outcome, source_task_id, source_run_id FROM task_cache
                     WHERE task_id = {row}"
                )
            ),
            [Text("hit".into()), Integer(producer), Integer(first_run)]
        );
        let hits = "SELECT hits, last_hit_at, producer_task_id FROM cache_entries";
        assert_eq!(
            one_row(&store, hits),
            [Integer(1), Integer(1_700_000_000), Integer(producer)]
        );
        assert_eq!(
            one_row(
                &store,
                &format!("SELECT passed, cached FROM runs WHERE id = {second_run}")
            ),
            [Integer(1), Integer(1)]
        );
        // The same result written again is the same rows, one hit.
        let mut rows = vec![row];
        let again = TaskUpdate::Finished {
            task: 0,
            result: cached,
            reason: None,
            lane: Lane::default(),
        };
        store
            .record(second_run, &mut rows, &[again], &Counts::default())
            .unwrap();
        assert_eq!(one_row(&store, hits)[0], Integer(1));

        // As read: cached, a pass, restored from the first run.
        let run = store.run(second_run).unwrap().unwrap();
        assert_eq!((run.counts.passed, run.counts.cached), (1, 1));
        let task = store.task(&run, "build").unwrap().unwrap();
        assert_eq!(task.state, TaskState::Ended(Status::Cached));
        assert!(task.state.is_pass());
        assert_eq!(task.stdout.bytes, b"star");
        assert_eq!(
            task.cache,
            Some(crate::record::TaskCache {
                key: key.clone(),
                outcome: crate::record::CacheOutcome::Hit,
                reason: None,
                source_task: Some(producer),
                source_run: Some(first_run),
                outputs: Some("f".repeat(64)),
            })
        );
        let first = store.run(first_run).unwrap().unwrap();
        let producer_row = &store.tasks(&first).unwrap()[0];
        assert_eq!(
            producer_row.cache.as_ref().map(|cache| cache.outcome),
            Some(crate::record::CacheOutcome::Stored)
        );

        // A pruned producer leaves its entry, and takes its task_cache row.
        store.delete_runs(&[first_run], false).unwrap();
        assert_eq!(
            one_row(&store, "SELECT COUNT(*) FROM task_cache"),
            [Integer(1)]
        );
        assert_eq!(one_row(&store, hits)[2], Integer(producer));
    }

    #[test]
    fn a_pass_not_stored_says_why_and_writes_no_entry() {
        use rusqlite::types::Value::{Integer, Text};
        let (_dir, mut store) = store();
        let verdict = Verdict::NotStored("src/a.c changed while running".to_owned());
        let result = cached_result(Status::Passed, Duration::from_secs(1), report("k", verdict));
        record_one(&mut store, "build: make\n", result);
        assert_eq!(
            one_row(&store, "SELECT outcome, reason FROM task_cache"),
            [
                Text("not_stored".into()),
                Text("src/a.c changed while running".into())
            ]
        );
        assert_eq!(
            one_row(&store, "SELECT COUNT(*) FROM cache_entries"),
            [Integer(0)]
        );
    }

    #[test]
    fn a_dead_runs_recount_counts_cached_tasks_as_passed() {
        use rusqlite::types::Value::Integer;
        let (_dir, mut store) = store();
        let hit = Verdict::Hit {
            source_task: 1,
            source_run: 1,
            saved: Duration::from_secs(1),
            restored: 0,
            files: 0,
        };
        let result = cached_result(Status::Cached, Duration::from_millis(1), report("k", hit));
        let (run, _) = record_one(&mut store, "a: true\nb: true\n", result);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = i64::from(child.id());
        child.wait().unwrap();
        store
            .connection
            .execute("UPDATE runs SET pid = ?2 WHERE id = ?1", [run, pid])
            .unwrap();
        store.sweep_dead_runs().unwrap();
        assert_eq!(
            one_row(
                &store,
                &format!("SELECT passed, cached, skipped FROM runs WHERE id = {run}")
            ),
            [Integer(1), Integer(1), Integer(1)]
        );
    }

    #[test]
    fn cache_declarations_round_trip_and_every_attempt_keeps_them() {
        let (_dir, mut store) = store();
        let mut plan = plan("build: make [retries:1]\nplain: true\n");
        let span = Span::new(SourceId::default(), 0, 0);
        let spec = CacheSpec {
            inputs: vec![
                Spanned::new("src/**/*.c".to_owned(), span),
                Spanned::new("!src/*_test.c".to_owned(), span),
                Spanned::new("odd\tname\\with\nbreaks".to_owned(), span),
            ],
            outputs: vec![Spanned::new("build/".to_owned(), span)],
            uses_env: vec!["CC".to_owned(), "CFLAGS".to_owned()],
            tools: vec!["cc".to_owned()],
            off: true,
        };
        plan.tasks[0].settings.cache = spec.clone();
        let ids = store
            .begin_run(&new_run(), &plan, &plan.fingerprints())
            .unwrap();
        let stored: Option<String> = store
            .connection
            .query_row(
                "SELECT cache FROM tasks WHERE id = ?1",
                [ids.tasks[0]],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(
            stored.as_deref(),
            Some(
                "input\tsrc/**/*.c\ninput\t!src/*_test.c\ninput\todd\\tname\\\\with\\nbreaks\n\
                 output\tbuild/\nuses_env\tCC\nuses_env\tCFLAGS\ntool\tcc\noff"
            )
        );
        let mut rows = ids.tasks.clone();
        let retried = [
            TaskUpdate::Finished {
                task: 0,
                result: result(Status::Failed, Exit::Code(1), b""),
                reason: None,
                lane: Lane::default(),
            },
            TaskUpdate::Started {
                task: 0,
                attempt: 2,
                at: SystemTime::now(),
                lane: Lane::default(),
            },
        ];
        store
            .record(ids.run, &mut rows, &retried, &Counts::default())
            .unwrap();
        let run = store.run(ids.run).unwrap().unwrap();
        let tasks = store.tasks(&run).unwrap();
        assert_eq!(tasks.len(), 3);
        assert_eq!(tasks[0].settings.cache, spec);
        assert_eq!(tasks[1].settings.cache, spec, "the retry's row has them");
        assert_eq!(tasks[2].settings.cache, CacheSpec::default());
        assert!(tasks[0].cache.is_none(), "no report, no task_cache row");
        let undeclared: Option<String> = store
            .connection
            .query_row(
                "SELECT cache FROM tasks WHERE id = ?1",
                [ids.tasks[1]],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(undeclared, None);
    }
}
