//! Reading and writing the history database.
//!
//! Opening is careful about what it touches: the busy timeout is set
//! first, then the schema version is read, so a file that is not a
//! database fails before anything is written to it; only then is the
//! journal switched to WAL and the schema migrated. Every write runs in an
//! IMMEDIATE transaction, which takes the write lock up front (waiting for
//! the busy timeout) instead of failing on a read-to-write upgrade.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::liveness::ProcessId;
use super::schema::{MIGRATIONS, VERSION};
use crate::event::{Capture, Counts, Exit, Status, Summary, TaskResult};
use crate::graph::Plan;
use crate::source::{SourceId, Span, Spanned};
use crate::task::{Kind, Settings};

/// How long a write waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A problem with the history database.
#[derive(Debug, miette::Diagnostic, thiserror::Error)]
pub enum StoreError {
    #[error("no history database at `{}`", path.display())]
    #[diagnostic(
        code(history::missing),
        help("`taskrun run FILE` creates it; to read another one, use --db PATH or TASKRUN_DB")
    )]
    Missing { path: PathBuf },

    #[error("cannot open the history database `{}`", path.display())]
    #[diagnostic(
        code(history::open),
        help(
            "check that its directory exists and can be written, or choose another path with --db"
        )
    )]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error("`{}` is not a taskrun history database (it is not SQLite, or it is damaged)", path.display())]
    #[diagnostic(
        code(history::not_a_database),
        help("taskrun has left it untouched; move it away, or choose another path with --db")
    )]
    NotADatabase { path: PathBuf },

    #[error(
        "`{}` was written by a newer taskrun (schema version {found}; this taskrun knows up to {known})",
        path.display()
    )]
    #[diagnostic(
        code(history::newer),
        help("upgrade taskrun, or choose another database with --db")
    )]
    Newer {
        path: PathBuf,
        found: i64,
        known: i64,
    },

    #[error("the history database `{}` is damaged", path.display())]
    #[diagnostic(
        code(history::corrupt),
        help(
            "move it away and start a new one, or try to save its runs with `sqlite3 FILE .recover`"
        )
    )]
    Corrupt { path: PathBuf },

    #[error("the history database `{}` is read-only", path.display())]
    #[diagnostic(
        code(history::read_only),
        help(
            "check the permissions of the file, its directory and its file system, or choose another path with --db"
        )
    )]
    ReadOnly { path: PathBuf },

    #[error("the history database `{}` is locked by another process", path.display())]
    #[diagnostic(
        code(history::locked),
        help(
            "another program holds a write lock on it (a `sqlite3` shell with an open transaction?); close it and try again"
        )
    )]
    Locked { path: PathBuf },

    #[error("cannot write to the history database `{}`", path.display())]
    #[diagnostic(
        code(history::write),
        help("the file system may be full or failing; the runs recorded before are intact")
    )]
    Write {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error("cannot read the history database `{}`", path.display())]
    #[diagnostic(code(history::read))]
    Read {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

/// What is written when a run starts.
#[derive(Clone, Debug)]
pub struct NewRun {
    /// The task file, as an absolute path (or a description for a retry).
    pub taskfile: String,
    /// The script that took part, as an absolute path.
    pub script: Option<String>,
    /// The directory the tasks run in.
    pub dir: PathBuf,
    pub jobs: usize,
    pub retry_of: Option<i64>,
    pub started_at: SystemTime,
    /// Where the tasks run: `local` or `slurm`.
    pub executor: &'static str,
}

/// The ids a started run was given.
#[derive(Clone, Debug)]
pub struct RunIds {
    pub run: i64,
    /// The row of each task of the plan, by task id.
    pub tasks: Vec<i64>,
}

/// How a recorded run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Completed,
    Interrupted,
    /// The run ended but not all of its results could be written.
    Incomplete,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Incomplete => "incomplete",
        }
    }
}

/// One row of `runs`, as read.
#[derive(Clone, Debug)]
pub struct RunRow {
    pub id: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub total_tasks: i64,
    pub passed: i64,
    pub failed: i64,
    pub skipped: i64,
    /// `interrupted` also for a run still marked `running` whose taskrun
    /// process is gone.
    pub status: RunStatus,
    pub taskfile: Option<String>,
    pub dir: Option<String>,
    pub duration_ms: Option<i64>,
    pub timeouts: i64,
    pub canceled: i64,
    pub retry_of: Option<i64>,
    pub signal: Option<i64>,
    pub jobs: Option<i64>,
    /// Why the results of an incomplete run are not all there.
    pub note: Option<String>,
    /// The run's script, if one took part.
    pub script: Option<String>,
    /// The run's pools: name and limit.
    pub pools: Vec<(String, usize)>,
}

/// One output stream of a task, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredOutput {
    /// The kept bytes: the first `--max-output` bytes.
    pub bytes: Vec<u8>,
    /// The size of the whole stream.
    pub total: i64,
    pub truncated: bool,
    /// The last bytes of a truncated stream.
    pub tail: Vec<u8>,
}

/// One row of `tasks`, as read.
#[derive(Clone, Debug)]
pub struct TaskRow {
    pub id: i64,
    pub name: String,
    pub command: String,
    /// `passed`, `failed`, `timeout`, `skipped`, `canceled`; `pending` or
    /// `running` while the run goes on.
    pub status: String,
    pub exit_code: Option<i64>,
    pub signal: Option<i64>,
    pub reason: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub deps: Vec<String>,
    /// The tasks it waited for to end, whatever their result.
    pub soft_deps: Vec<String>,
    pub position: i64,
    pub attempt: i64,
    pub stdout: StoredOutput,
    pub stderr: StoredOutput,
    /// The task's own settings, as it ran.
    pub settings: Settings,
    pub kind: Kind,
    /// The cluster job that ran it, when a cluster did.
    pub job_id: Option<String>,
}

/// One change to a task's row, as the recorder batches them. Tasks are
/// named by their id in the plan; [`Store::record`] finds the row of
/// their current attempt.
#[derive(Clone, Debug)]
pub(super) enum TaskUpdate {
    Started {
        task: usize,
        at: SystemTime,
    },
    Finished {
        task: usize,
        result: std::sync::Arc<TaskResult>,
        reason: Option<String>,
    },
    /// An attempt ended and the task will run again: the attempt's row gets
    /// its result and a new row is made for the next attempt.
    Retried {
        task: usize,
        result: std::sync::Arc<TaskResult>,
    },
    Skipped {
        task: usize,
        reason: String,
        at: SystemTime,
    },
}

/// An open history database.
pub struct Store {
    connection: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens the database at `path` for recording, creating it if it does
    /// not exist, and brings its schema up to date.
    pub fn create(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, true)
    }

    /// Opens an existing database for reading (it is still migrated if it
    /// is older). A read-only database can be read.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_owned(),
            });
        }
        match Store::open_with(path, false) {
            Err(StoreError::ReadOnly { .. }) => Store::open_read_only(path),
            other => other,
        }
    }

    fn open_with(path: &Path, create: bool) -> Result<Store, StoreError> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let connection = Connection::open_with_flags(path, flags).map_err(|source| {
            classify(path, source, |path, source| StoreError::Open {
                path,
                source,
            })
        })?;
        let mut store = Store {
            connection,
            path: path.to_owned(),
        };
        store.prepare()?;
        Ok(store)
    }

    fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(path, flags).map_err(|source| {
            classify(path, source, |path, source| StoreError::Open {
                path,
                source,
            })
        })?;
        let store = Store {
            connection,
            path: path.to_owned(),
        };
        let version = store.version()?;
        if version > VERSION {
            return Err(store.newer(version));
        }
        if version < VERSION {
            // An old database needs writing before it can be read.
            return Err(StoreError::ReadOnly {
                path: path.to_owned(),
            });
        }
        Ok(store)
    }

    /// Sets the connection up and migrates the schema.
    fn prepare(&mut self) -> Result<(), StoreError> {
        // The busy timeout first: switching to WAL and migrating may have
        // to wait for another process.
        self.connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|source| self.write_error(source))?;
        // Reading the version reads the file's header: a file that is not
        // a database fails here, before anything is written to it.
        let version = self.version()?;
        if version > VERSION {
            return Err(self.newer(version));
        }
        self.use_wal()?;
        self.connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|source| self.write_error(source))?;
        if version < VERSION {
            self.migrate()?;
        }
        Ok(())
    }

    /// Switches a new database to WAL (which lasts: later opens find it).
    /// Where the file system cannot hold a WAL (some network file systems)
    /// SQLite keeps its rollback journal, which is still safe. The switch
    /// needs the database to itself, and SQLite does not wait for that
    /// with the busy timeout, so two runs that create one database at
    /// once take turns here.
    fn use_wal(&self) -> Result<(), StoreError> {
        let start = std::time::Instant::now();
        loop {
            let mode: Result<String, _> =
                self.connection
                    .pragma_query_value(None, "journal_mode", |row| row.get(0));
            if mode.is_ok_and(|mode| mode.eq_ignore_ascii_case("wal")) {
                return Ok(());
            }
            match self
                .connection
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            {
                Ok(_) => return Ok(()),
                Err(rusqlite::Error::SqliteFailure(error, _))
                    if error.code == rusqlite::ErrorCode::DatabaseBusy
                        && start.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(source) => return Err(self.write_error(source)),
            }
        }
    }

    fn version(&self) -> Result<i64, StoreError> {
        self.connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|source| self.read_error(source))
    }

    fn newer(&self, found: i64) -> StoreError {
        StoreError::Newer {
            path: self.path.clone(),
            found,
            known: VERSION,
        }
    }

    /// Applies the migrations the database lacks, each in a transaction
    /// that re-reads the version, so that two processes opening an old
    /// database at once migrate it once.
    fn migrate(&mut self) -> Result<(), StoreError> {
        loop {
            let path = self.path.clone();
            let transaction = self
                .connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|source| write_error(&path, source))?;
            let version: i64 = transaction
                .pragma_query_value(None, "user_version", |row| row.get(0))
                .map_err(|source| write_error(&path, source))?;
            let Some(migration) = usize::try_from(version)
                .ok()
                .and_then(|v| MIGRATIONS.get(v))
            else {
                return Ok(());
            };
            transaction
                .execute_batch(migration)
                .map_err(|source| write_error(&path, source))?;
            transaction
                .pragma_update(None, "user_version", version + 1)
                .map_err(|source| write_error(&path, source))?;
            transaction
                .commit()
                .map_err(|source| write_error(&path, source))?;
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_error(&self, source: rusqlite::Error) -> StoreError {
        write_error(&self.path, source)
    }

    fn read_error(&self, source: rusqlite::Error) -> StoreError {
        classify(&self.path, source, |path, source| StoreError::Read {
            path,
            source,
        })
    }

    /// Marks the runs whose taskrun process died as interrupted, with
    /// their unfinished tasks: running ones canceled, waiting ones skipped.
    pub fn sweep_dead_runs(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let candidates: Vec<(i64, ProcessId)> = {
            let mut statement = self
                .connection
                .prepare("SELECT id, host, pid, pid_started FROM runs WHERE status = 'running'")
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
                .map_err(|source| read_error(&path, source))?;
            rows.collect::<Result<_, _>>()
                .map_err(|source| read_error(&path, source))?
        };
        let dead: Vec<i64> = candidates
            .into_iter()
            .filter(|(_, process)| !process.alive())
            .map(|(id, _)| id)
            .collect();
        if dead.is_empty() {
            return Ok(());
        }
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| write_error(&path, source))?;
        for id in dead {
            transaction
                .execute_batch(&format!(
                    "UPDATE tasks SET status = 'canceled', reason = 'taskrun was killed'
                         WHERE run_id = {id} AND status = 'running';
                     UPDATE tasks SET status = 'skipped', reason = 'run interrupted'
                         WHERE run_id = {id} AND status = 'pending';
                     UPDATE runs SET status = 'interrupted',
                         passed = (SELECT COUNT(*) FROM tasks WHERE run_id = {id} AND status = 'passed'),
                         failed = (SELECT COUNT(*) FROM tasks WHERE run_id = {id} AND status IN ('failed', 'timeout')),
                         skipped = (SELECT COUNT(*) FROM tasks WHERE run_id = {id} AND status = 'skipped'),
                         timeouts = (SELECT COUNT(*) FROM tasks WHERE run_id = {id} AND status = 'timeout'),
                         canceled = (SELECT COUNT(*) FROM tasks WHERE run_id = {id} AND status = 'canceled')
                         WHERE id = {id};"
                ))
                .map_err(|source| write_error(&path, source))?;
        }
        transaction
            .commit()
            .map_err(|source| write_error(&path, source))
    }

    /// Writes the run row and a `pending` row for every task of `plan`,
    /// before any task starts.
    pub fn begin_run(&mut self, run: &NewRun, plan: &Plan) -> Result<RunIds, StoreError> {
        let path = self.path.clone();
        let process = ProcessId::current();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| write_error(&path, source))?;
        transaction
            .execute(
                "INSERT INTO runs (started_at, total_tasks, status, taskfile, dir, jobs,
                     retry_of, host, pid, pid_started, script, pools, executor)
                 VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    unix_seconds(run.started_at),
                    to_i64(plan.tasks.len()),
                    run.taskfile,
                    run.dir.to_string_lossy(),
                    to_i64(run.jobs),
                    run.retry_of,
                    process.host,
                    process.pid,
                    process.started,
                    run.script,
                    plan.pools
                        .iter()
                        .map(|(name, limit)| format!("{name}={limit}"))
                        .collect::<Vec<_>>()
                        .join(","),
                    run.executor,
                ],
            )
            .map_err(|source| write_error(&path, source))?;
        let run_id = transaction.last_insert_rowid();
        let mut tasks = Vec::with_capacity(plan.tasks.len());
        {
            let mut insert = transaction
                .prepare(
                    "INSERT INTO tasks (run_id, name, command, status, position, deps, attempt,
                         timeout_ms, dir, env, retries, kind, soft_deps, pool, cpus, mem_bytes)
                     VALUES (?1, ?2, ?3, 'pending', ?4, ?5, 1, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
                         ?13, ?14)",
                )
                .map_err(|source| write_error(&path, source))?;
            for (position, task) in plan.tasks.iter().enumerate() {
                let deps: Vec<&str> = plan.deps[position]
                    .iter()
                    .map(|&dep| plan.tasks[dep].name.value.as_str())
                    .collect();
                let soft: Vec<&str> = plan.soft[position]
                    .iter()
                    .map(|&dep| plan.tasks[dep].name.value.as_str())
                    .collect();
                let settings = &task.settings;
                let env: Vec<String> = settings
                    .env
                    .iter()
                    .map(|(key, value)| format!("{key}={value}"))
                    .collect();
                insert
                    .execute(params![
                        run_id,
                        task.name.value,
                        task.command.value,
                        to_i64(position),
                        deps.join(","),
                        settings.timeout.map(millis),
                        settings.dir.as_ref().map(|dir| dir.to_string_lossy()),
                        env.join("\n"),
                        settings.retries.unwrap_or(0),
                        task.kind.as_str(),
                        soft.join(","),
                        settings.pool.as_ref().map(|pool| pool.value.as_str()),
                        settings.cpus,
                        settings
                            .mem
                            .map(|mem| i64::try_from(mem).unwrap_or(i64::MAX)),
                    ])
                    .map_err(|source| write_error(&path, source))?;
                tasks.push(transaction.last_insert_rowid());
            }
        }
        transaction
            .commit()
            .map_err(|source| write_error(&path, source))?;
        Ok(RunIds { run: run_id, tasks })
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
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| write_error(&path, source))?;
        for update in updates {
            let result = match update {
                TaskUpdate::Started { task, at } => transaction
                    .prepare_cached(
                        "UPDATE tasks SET status = 'running', started_at = ?2 WHERE id = ?1",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![rows[*task], unix_seconds(*at)])
                    }),
                TaskUpdate::Skipped { task, reason, at } => transaction
                    .prepare_cached(
                        "UPDATE tasks SET status = 'skipped', reason = ?2, finished_at = ?3,
                             duration_ms = 0 WHERE id = ?1",
                    )
                    .and_then(|mut statement| {
                        statement.execute(params![rows[*task], reason, unix_seconds(*at)])
                    }),
                TaskUpdate::Finished {
                    task,
                    result,
                    reason,
                } => finish_task(&transaction, rows[*task], result, reason.as_deref()),
                TaskUpdate::Retried { task, result } => {
                    finish_task(&transaction, rows[*task], result, None).and_then(|_| {
                        transaction
                            .prepare_cached(
                                "INSERT INTO tasks (run_id, name, command, status, position,
                                     deps, attempt, timeout_ms, dir, env, retries, kind,
                                     soft_deps, pool)
                                 SELECT run_id, name, command, 'pending', position, deps,
                                     attempt + 1, timeout_ms, dir, env, retries, kind,
                                     soft_deps, pool
                                 FROM tasks WHERE id = ?1",
                            )?
                            .execute([rows[*task]])?;
                        rows[*task] = transaction.last_insert_rowid();
                        Ok(1)
                    })
                }
            };
            result.map_err(|source| write_error(&path, source))?;
        }
        write_counts(&transaction, run, counts).map_err(|source| write_error(&path, source))?;
        transaction
            .commit()
            .map_err(|source| write_error(&path, source))
    }

    /// Completes the run row; `incomplete` says why some results could not
    /// be written, if that happened.
    pub(super) fn finish_run(
        &mut self,
        run: i64,
        summary: &Summary,
        incomplete: Option<&str>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| write_error(&path, source))?;
        let status = match (incomplete, summary.interrupted) {
            (Some(_), _) => RunStatus::Incomplete,
            (None, Some(_)) => RunStatus::Interrupted,
            (None, None) => RunStatus::Completed,
        };
        transaction
            .execute(
                "UPDATE runs SET finished_at = ?2, duration_ms = ?3, status = ?4, signal = ?5,
                     note = ?6
                 WHERE id = ?1",
                params![
                    run,
                    unix_seconds(SystemTime::now()),
                    millis(summary.duration),
                    status.as_str(),
                    summary.interrupted,
                    incomplete,
                ],
            )
            .map_err(|source| write_error(&path, source))?;
        write_counts(&transaction, run, &summary.counts)
            .map_err(|source| write_error(&path, source))?;
        transaction
            .commit()
            .map_err(|source| write_error(&path, source))
    }

    /// The newest runs first.
    pub fn runs(&self, limit: usize) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!("{RUN_COLUMNS} ORDER BY id DESC LIMIT ?1");
        let mut statement = self
            .connection
            .prepare(&sql)
            .map_err(|source| self.read_error(source))?;
        let rows = statement
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], run_row)
            .map_err(|source| read_error(&self.path, source))?;
        rows.collect::<Result<_, _>>()
            .map_err(|source| self.read_error(source))
    }

    /// The run with this id.
    pub fn run(&self, id: i64) -> Result<Option<RunRow>, StoreError> {
        let sql = format!("{RUN_COLUMNS} WHERE id = ?1");
        self.connection
            .query_row(&sql, [id], run_row)
            .optional()
            .map_err(|source| self.read_error(source))
    }

    /// The id of the newest run, if there is one.
    pub fn latest_run(&self) -> Result<Option<i64>, StoreError> {
        self.connection
            .query_row("SELECT MAX(id) FROM runs", [], |row| row.get(0))
            .map_err(|source| self.read_error(source))
    }

    /// The tasks of a run in declaration order, without their output. The
    /// unfinished tasks of an interrupted run read as canceled (running
    /// when taskrun died) or skipped (never started).
    pub fn tasks(&self, run: &RunRow) -> Result<Vec<TaskRow>, StoreError> {
        self.task_rows(run, false)
    }

    /// A run's tasks as [`Store::tasks`] has them, with their output.
    pub fn tasks_with_output(&self, run: &RunRow) -> Result<Vec<TaskRow>, StoreError> {
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
            .map_err(|source| read_error(&self.path, source))?;
        let mut tasks: Vec<TaskRow> = rows
            .collect::<Result<_, _>>()
            .map_err(|source| self.read_error(source))?;
        for task in &mut tasks {
            settle_unfinished(run.status, task);
        }
        Ok(tasks)
    }

    /// One task of a run, with its output (the last attempt, if several).
    pub fn task(&self, run: &RunRow, name: &str) -> Result<Option<TaskRow>, StoreError> {
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
    host, pid, pid_started, note, script, pools FROM runs";

const TASK_COLUMNS: &str = "SELECT id, name, command, status, exit_code, signal, reason,
    started_at, finished_at, duration_ms, deps, position, attempt, stdout_bytes, stderr_bytes,
    stdout_truncated, stderr_truncated, stdout, stderr, stdout_tail, stderr_tail, timeout_ms,
    dir, env, retries, kind, soft_deps, pool, cpus, mem_bytes, job_id FROM tasks";

fn run_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let stored: String = row.get(7)?;
    let status = match stored.as_str() {
        "running" => {
            let process = ProcessId {
                host: row.get::<_, Option<String>>(16)?.unwrap_or_default(),
                pid: row.get::<_, Option<i64>>(17)?.unwrap_or(0),
                started: row.get::<_, Option<i64>>(18)?.unwrap_or(0),
            };
            if process.alive() {
                RunStatus::Running
            } else {
                RunStatus::Interrupted
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
        passed: row.get(4)?,
        failed: row.get(5)?,
        skipped: row.get(6)?,
        status,
        taskfile: row.get(8)?,
        dir: row.get(9)?,
        duration_ms: row.get(10)?,
        timeouts: row.get(11)?,
        canceled: row.get(12)?,
        retry_of: row.get(13)?,
        signal: row.get(14)?,
        jobs: row.get(15)?,
        note: row.get(19)?,
        script: row.get(20)?,
        pools: row
            .get::<_, String>(21)?
            .split(',')
            .filter_map(|pool| pool.split_once('='))
            .filter_map(|(name, limit)| Some((name.to_owned(), limit.parse().ok()?)))
            .collect(),
    })
}

fn task_row(row: &rusqlite::Row<'_>, with_output: bool) -> rusqlite::Result<TaskRow> {
    let deps: String = row.get(10)?;
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
    Ok(TaskRow {
        id: row.get(0)?,
        name: row.get(1)?,
        command: row.get(2)?,
        status: row.get(3)?,
        exit_code: row.get(4)?,
        signal: row.get(5)?,
        reason: row.get(6)?,
        started_at: row.get(7)?,
        finished_at: row.get(8)?,
        duration_ms: row.get(9)?,
        deps: deps
            .split(',')
            .filter(|dep| !dep.is_empty())
            .map(str::to_owned)
            .collect(),
        position: row.get(11)?,
        attempt: row.get(12)?,
        stdout: output(13, 15, 17, 19)?,
        stderr: output(14, 16, 18, 20)?,
        settings: Settings {
            timeout: row
                .get::<_, Option<i64>>(21)?
                .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
            dir: row.get::<_, Option<String>>(22)?.map(PathBuf::from),
            env: row
                .get::<_, String>(23)?
                .lines()
                .filter_map(|line| line.split_once('='))
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
            retries: Some(u32::try_from(row.get::<_, i64>(24)?).unwrap_or(0))
                .filter(|&retries| retries > 0),
            pool: row
                .get::<_, Option<String>>(27)?
                .map(|pool| Spanned::new(pool, Span::new(SourceId::default(), 0, 0))),
            cpus: row.get(28)?,
            mem: row
                .get::<_, Option<i64>>(29)?
                .and_then(|mem| u64::try_from(mem).ok()),
        },
        job_id: row.get(30)?,
        soft_deps: row
            .get::<_, String>(26)?
            .split(',')
            .filter(|dep| !dep.is_empty())
            .map(str::to_owned)
            .collect(),
        kind: if row.get::<_, String>(25)? == "rhai" {
            Kind::Rhai
        } else {
            Kind::Shell
        },
    })
}

/// A column holding output: TEXT for UTF-8, a BLOB for anything else.
fn bytes_of(value: ValueRef<'_>) -> Vec<u8> {
    match value {
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes.to_vec(),
        _ => Vec::new(),
    }
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

/// What an unfinished task row of a run that is over means: running when
/// taskrun died (canceled), never started (skipped), or not written
/// (unknown).
fn settle_unfinished(run: RunStatus, task: &mut TaskRow) {
    let unfinished = matches!(task.status.as_str(), "running" | "pending");
    let (status, reason) = match (run, task.status.as_str()) {
        (RunStatus::Running | RunStatus::Completed, _) => return,
        (_, _) if !unfinished => return,
        (RunStatus::Incomplete, _) => ("unknown", "not recorded"),
        (RunStatus::Interrupted, "running") => ("canceled", "taskrun was killed"),
        (RunStatus::Interrupted, _) => ("skipped", "run interrupted"),
    };
    status.clone_into(&mut task.status);
    task.reason = Some(reason.to_owned());
}

fn finish_task(
    transaction: &rusqlite::Transaction<'_>,
    row: i64,
    result: &TaskResult,
    reason: Option<&str>,
) -> rusqlite::Result<usize> {
    let (exit_code, signal, reason) = match &result.exit {
        Exit::Code(code) => (Some(i64::from(*code)), None, reason.map(str::to_owned)),
        Exit::Signal(signal) => (None, Some(i64::from(*signal)), reason.map(str::to_owned)),
        Exit::NotStarted(why) => (None, None, Some(why.clone())),
    };
    let finished = result.started_at + result.duration;
    let mut statement = transaction.prepare_cached(
        "UPDATE tasks SET status = ?2, exit_code = ?3, signal = ?4, reason = ?5,
             started_at = ?6, finished_at = ?7, duration_ms = ?8, stdout = ?9, stderr = ?10,
             stdout_bytes = ?11, stderr_bytes = ?12, stdout_truncated = ?13,
             stderr_truncated = ?14, stdout_tail = ?15, stderr_tail = ?16, attempt = ?17,
             job_id = ?18
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
        result.job_id,
    ])
}

/// The end of a truncated stream, stored beside its start.
fn tail(capture: &Capture) -> Option<ToSqlOutput<'_>> {
    capture
        .truncated()
        .then(|| output_value(capture.last_bytes()))
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn write_counts(
    transaction: &rusqlite::Transaction<'_>,
    run: i64,
    counts: &Counts,
) -> rusqlite::Result<usize> {
    let count = to_i64;
    transaction
        .prepare_cached(
            "UPDATE runs SET passed = ?2, failed = ?3, skipped = ?4, timeouts = ?5, canceled = ?6
             WHERE id = ?1",
        )?
        .execute(params![
            run,
            count(counts.passed),
            // The specification's `failed` counts timeouts too.
            count(counts.failed + counts.timeout),
            count(counts.skipped),
            count(counts.timeout),
            count(counts.canceled),
        ])
}

fn write_error(path: &Path, source: rusqlite::Error) -> StoreError {
    classify(path, source, |path, source| StoreError::Write {
        path,
        source,
    })
}

fn read_error(path: &Path, source: rusqlite::Error) -> StoreError {
    classify(path, source, |path, source| StoreError::Read {
        path,
        source,
    })
}

/// Turns the SQLite errors a user can act on into their own messages.
fn classify(
    path: &Path,
    source: rusqlite::Error,
    otherwise: impl FnOnce(PathBuf, rusqlite::Error) -> StoreError,
) -> StoreError {
    use rusqlite::ErrorCode;
    let path = path.to_owned();
    match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt { path },
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly { path },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked { path },
        _ => otherwise(path, source),
    }
}

pub fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
    })
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The `Status` of a stored status name.
pub fn status_of(name: &str) -> Option<Status> {
    Some(match name {
        "passed" => Status::Passed,
        "failed" => Status::Failed,
        "timeout" => Status::Timeout,
        "skipped" => Status::Skipped,
        "canceled" => Status::Canceled,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::SkipReason;
    use crate::testing::plan;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(&dir.path().join("t.db")).unwrap();
        (dir, store)
    }

    fn new_run() -> NewRun {
        NewRun {
            taskfile: "/p/tasks.txt".to_owned(),
            script: None,
            dir: PathBuf::from("/p"),
            jobs: 2,
            retry_of: None,
            started_at: SystemTime::now(),
            executor: "local",
        }
    }

    fn result(status: Status, exit: Exit, stdout: &[u8]) -> Arc<TaskResult> {
        let mut capture = Capture::default();
        capture.push(stdout, 4);
        Arc::new(TaskResult {
            status,
            attempt: 1,
            exit,
            started_at: SystemTime::now(),
            duration: Duration::from_millis(1500),
            stdout: capture,
            stderr: Capture::default(),
            job_id: None,
        })
    }

    #[test]
    fn a_run_round_trips() {
        let (_dir, mut store) = store();
        let plan = plan("a: echo a\nb: echo b [after:a]\nc: true [after:b]\n");
        let ids = store.begin_run(&new_run(), &plan).unwrap();
        let mut rows = ids.tasks.clone();
        let updates = [
            TaskUpdate::Started {
                task: 0,
                at: SystemTime::now(),
            },
            TaskUpdate::Finished {
                task: 0,
                result: result(Status::Passed, Exit::Code(0), b"hello world\n"),
                reason: None,
            },
            TaskUpdate::Finished {
                task: 1,
                result: result(Status::Failed, Exit::Signal(9), b"\xff\xfe"),
                reason: None,
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
        };
        store.finish_run(ids.run, &summary, None).unwrap();

        let run = store.run(ids.run).unwrap().unwrap();
        assert_eq!((run.passed, run.failed, run.skipped), (1, 1, 1));
        assert_eq!(run.status, RunStatus::Completed);
        assert_eq!(run.duration_ms, Some(2000));
        assert_eq!(store.latest_run().unwrap(), Some(ids.run));
        let tasks = store.tasks(&run).unwrap();
        let statuses: Vec<&str> = tasks.iter().map(|task| task.status.as_str()).collect();
        assert_eq!(statuses, ["passed", "failed", "skipped"]);
        assert_eq!(tasks[1].deps, ["a"]);
        assert_eq!(tasks[2].reason.as_deref(), Some("dependency failed: b"));
        let a = store.task(&run, "a").unwrap().unwrap();
        assert_eq!(a.stdout.bytes, b"hell");
        assert!(a.stdout.truncated);
        assert_eq!(a.stdout.total, 12);
        assert_eq!(a.stdout.tail, b"o world\n");
        let b = store.task(&run, "b").unwrap().unwrap();
        assert_eq!((b.exit_code, b.signal), (None, Some(9)));
        assert_eq!(b.stdout.bytes, b"\xff\xfe", "bytes kept exactly");
        assert!(store.task(&run, "zzz").unwrap().is_none());
    }

    #[test]
    fn reopening_keeps_the_version_and_refuses_newer() {
        let (dir, store) = store();
        assert_eq!(store.version().unwrap(), VERSION);
        drop(store);
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        store
            .connection
            .pragma_update(None, "user_version", VERSION + 1)
            .unwrap();
        drop(store);
        assert!(matches!(
            Store::open(&dir.path().join("t.db")),
            Err(StoreError::Newer { found, .. }) if found == VERSION + 1
        ));
    }

    #[test]
    fn missing_database_is_not_created_for_reading() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Store::open(&dir.path().join("no.db")),
            Err(StoreError::Missing { .. })
        ));
        assert!(!dir.path().join("no.db").exists());
    }

    #[test]
    fn unfinished_tasks_read_by_how_the_run_ended() {
        let task = |status: &str| TaskRow {
            id: 1,
            name: "t".into(),
            command: "c".into(),
            status: status.into(),
            exit_code: None,
            signal: None,
            reason: None,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            deps: Vec::new(),
            soft_deps: Vec::new(),
            position: 0,
            attempt: 1,
            stdout: StoredOutput::default(),
            stderr: StoredOutput::default(),
            settings: Settings::default(),
            kind: Kind::Shell,
            job_id: None,
        };
        let settled = |run, status| {
            let mut row = task(status);
            settle_unfinished(run, &mut row);
            (row.status, row.reason.unwrap_or_default())
        };
        assert_eq!(
            settled(RunStatus::Running, "running"),
            ("running".into(), String::new())
        );
        assert_eq!(
            settled(RunStatus::Interrupted, "running"),
            ("canceled".into(), "taskrun was killed".into())
        );
        assert_eq!(
            settled(RunStatus::Interrupted, "pending"),
            ("skipped".into(), "run interrupted".into())
        );
        assert_eq!(
            settled(RunStatus::Incomplete, "pending"),
            ("unknown".into(), "not recorded".into())
        );
        assert_eq!(
            settled(RunStatus::Interrupted, "passed"),
            ("passed".into(), String::new())
        );
    }
}
