//! The database schema and its migrations.
//!
//! `PRAGMA user_version` holds the version of the schema a database has.
//! Opening a database applies, in order, every migration above that
//! version, all in one transaction; a new (empty) database gets
//! [`CURRENT`], the schema those make, at once. A database with a version
//! above [`VERSION`] was written by a newer taskrun and is refused.
//! Migrations are only ever appended, never edited; each new one changes
//! [`CURRENT`] too (a test compares them), and what one does in code
//! ([`after`]) may only mend rows older versions wrote: a new database
//! has none.
//!
//! Version 1 is exactly the tables of the specification; version 2 adds
//! taskrun's own columns after them, and the indexes; version 3 each
//! task's own settings; version 4 the run's script and each task's kind;
//! version 5 soft dependencies and pools; version 6 what a task asks of a
//! cluster, the job that ran it, and the run's executor; version 7 the
//! `task_results` view: the last attempt of each task of each run;
//! version 8 the task file as it was named, relative to where taskrun
//! started (the JUnit report's `classname`); version 9 run numbers that
//! are never given twice (`runs.id` AUTOINCREMENT); version 10 each
//! task's fingerprint (filled in for the rows already there by
//! [`after`]), when each attempt started within its run and in which lane,
//! and the covering index that estimates are read from; version 11 the
//! format the task file was read in; version 12 the Slurm step and node
//! of each attempt; version 13 the full-text index of the output
//! (`output_fts`) and the `meta` table that says how far it goes; version
//! 14 up-to-date checks: each run's count of cached tasks, each task's
//! cache declarations, what the cache did for each attempt
//! (`task_cache`), the entries a hit restores from (`cache_entries`), and
//! the stat cache of file hashes (`file_stat_cache`); version 15 output
//! passing: the tree of what each attempt left in `$TASKRUN_OUT`
//! (`tasks.out_tree`), and each entry's (`cache_entries.out_tree`).

/// The schema version this taskrun writes.
pub(super) const VERSION: i64 = 15;

/// `MIGRATIONS[i]` takes a database from version `i` to `i + 1`.
pub(super) const MIGRATIONS: [&str; 15] = [
    // 1: the specification's tables, with its column names and types.
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        total_tasks INTEGER NOT NULL,
        passed INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        name TEXT NOT NULL,
        command TEXT NOT NULL,
        status TEXT NOT NULL,
        exit_code INTEGER,
        started_at INTEGER,
        finished_at INTEGER,
        duration_ms INTEGER,
        stdout TEXT,
        stderr TEXT
    );",
    // 2: what taskrun keeps beyond the specification.
    "ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT 'completed';
    ALTER TABLE runs ADD COLUMN taskfile TEXT;
    ALTER TABLE runs ADD COLUMN dir TEXT;
    ALTER TABLE runs ADD COLUMN duration_ms INTEGER;
    ALTER TABLE runs ADD COLUMN timeouts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN canceled INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN retry_of INTEGER REFERENCES runs(id);
    ALTER TABLE runs ADD COLUMN signal INTEGER;
    ALTER TABLE runs ADD COLUMN jobs INTEGER;
    ALTER TABLE runs ADD COLUMN host TEXT;
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN pid_started INTEGER;
    ALTER TABLE runs ADD COLUMN note TEXT;
    ALTER TABLE tasks ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN deps TEXT NOT NULL DEFAULT '';
    ALTER TABLE tasks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE tasks ADD COLUMN signal INTEGER;
    ALTER TABLE tasks ADD COLUMN reason TEXT;
    ALTER TABLE tasks ADD COLUMN stdout_bytes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN stderr_bytes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN stdout_truncated INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN stderr_truncated INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN stdout_tail TEXT;
    ALTER TABLE tasks ADD COLUMN stderr_tail TEXT;
    CREATE INDEX tasks_by_run ON tasks(run_id, position, attempt);
    CREATE INDEX tasks_by_name ON tasks(run_id, name);
    CREATE INDEX runs_by_status ON runs(status);",
    // 3: each task's own settings, so that a retry runs it the same way.
    "ALTER TABLE tasks ADD COLUMN timeout_ms INTEGER;
    ALTER TABLE tasks ADD COLUMN dir TEXT;
    ALTER TABLE tasks ADD COLUMN env TEXT NOT NULL DEFAULT '';
    ALTER TABLE tasks ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;",
    // 4: scripts: the run's Taskfile.rhai, and tasks that are Rhai closures.
    "ALTER TABLE runs ADD COLUMN script TEXT;
    ALTER TABLE tasks ADD COLUMN kind TEXT NOT NULL DEFAULT 'shell';",
    // 5: dependencies that only order, and pools.
    "ALTER TABLE tasks ADD COLUMN soft_deps TEXT NOT NULL DEFAULT '';
    ALTER TABLE tasks ADD COLUMN pool TEXT;
    ALTER TABLE runs ADD COLUMN pools TEXT NOT NULL DEFAULT '';",
    // 6: clusters: what a task asks of one, the executor of the run, and
    // the job that ran each task.
    "ALTER TABLE tasks ADD COLUMN cpus INTEGER;
    ALTER TABLE tasks ADD COLUMN mem_bytes INTEGER;
    ALTER TABLE tasks ADD COLUMN job_id TEXT;
    ALTER TABLE runs ADD COLUMN executor TEXT NOT NULL DEFAULT 'local';",
    // 7: what became of each task of a run: its last attempt (a task
    // retried within its run has a row per attempt).
    "CREATE VIEW task_results AS
        SELECT * FROM tasks AS t
        WHERE t.attempt = (SELECT MAX(u.attempt) FROM tasks AS u
                           WHERE u.run_id = t.run_id AND u.position = t.position);",
    // 8: the task file relative to the directory taskrun started in, so
    // that a report names it the same on every machine and checkout (the
    // absolute `taskfile` differs between them). NULL for earlier runs.
    "ALTER TABLE runs ADD COLUMN taskfile_relative TEXT;",
    // 9: run numbers that are never given twice. Without AUTOINCREMENT,
    // SQLite gives a new row the largest id + 1, so once the newest run
    // was deleted (by `prune`, or by hand) the next run took its number,
    // and rows left behind of the deleted run mixed into the new one.
    // SQLite cannot add AUTOINCREMENT to a table, so `runs` is made anew
    // with every column in the same order, and its index again; the
    // store turns foreign keys off for this (see `Store::migrate`), as
    // SQLite's way of changing a table asks. `tasks` is left as it is
    // (it holds the output, and copying it could take long and need as
    // much free disk again); its `run_id` names `runs` by name, so it
    // refers to the new table, and so does `task_results`, which reads
    // only `tasks`. `retry_of` stops being a foreign key: a retry keeps
    // the number of the run it retried after that run is pruned (numbers
    // are never given again, so it cannot come to mean another run), where
    // the key would forbid pruning it. The sequence starts above every
    // run number that ever was: those of task rows whose run was deleted
    // by hand count too.
    "CREATE TABLE runs_autoincrement (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        total_tasks INTEGER NOT NULL,
        passed INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'completed',
        taskfile TEXT,
        dir TEXT,
        duration_ms INTEGER,
        timeouts INTEGER NOT NULL DEFAULT 0,
        canceled INTEGER NOT NULL DEFAULT 0,
        retry_of INTEGER,
        signal INTEGER,
        jobs INTEGER,
        host TEXT,
        pid INTEGER,
        pid_started INTEGER,
        note TEXT,
        script TEXT,
        pools TEXT NOT NULL DEFAULT '',
        executor TEXT NOT NULL DEFAULT 'local',
        taskfile_relative TEXT
    );
    INSERT INTO runs_autoincrement (id, started_at, finished_at, total_tasks, passed, failed,
        skipped, status, taskfile, dir, duration_ms, timeouts, canceled, retry_of, signal, jobs,
        host, pid, pid_started, note, script, pools, executor, taskfile_relative)
    SELECT id, started_at, finished_at, total_tasks, passed, failed,
        skipped, status, taskfile, dir, duration_ms, timeouts, canceled, retry_of, signal, jobs,
        host, pid, pid_started, note, script, pools, executor, taskfile_relative
    FROM runs;
    DROP TABLE runs;
    ALTER TABLE runs_autoincrement RENAME TO runs;
    CREATE INDEX runs_by_status ON runs(status);
    DELETE FROM sqlite_sequence WHERE name = 'runs';
    INSERT INTO sqlite_sequence (name, seq) VALUES ('runs', MAX(
        COALESCE((SELECT MAX(id) FROM runs), 0),
        COALESCE((SELECT MAX(run_id) FROM tasks), 0)));",
    // 10: what history knows of a task's durations: its fingerprint (what
    // it runs and how, see `task::fingerprint`), when each attempt
    // started (microseconds from the run's start, monotonic) and in which
    // of the run's `--jobs` lanes; and an index that holds everything
    // the estimates read, so that they never read a row's output.
    "ALTER TABLE tasks ADD COLUMN fingerprint INTEGER;
    ALTER TABLE tasks ADD COLUMN start_us INTEGER;
    ALTER TABLE tasks ADD COLUMN slot INTEGER;
    CREATE INDEX tasks_history ON tasks(name, fingerprint, status, run_id, duration_ms);",
    // 11: the format the task file was read in (`lines`, `toml`, `json`),
    // so that `retry` reads it again the same way whatever its name says;
    // NULL for a script alone, and for runs recorded before.
    "ALTER TABLE runs ADD COLUMN file_format TEXT;",
    // 12: where on a Slurm cluster each attempt ran, besides its job: the
    // job step (one allocation holds every task of a run with
    // `--slurm-mode steps`) and the node.
    "ALTER TABLE tasks ADD COLUMN step_id INTEGER;
    ALTER TABLE tasks ADD COLUMN node TEXT;",
    // 13: full-text search of the output (`taskrun search`). The index
    // is contentless (`content=''`): the text is in `tasks` already, and
    // what is indexed is not quite that text (escape sequences are left
    // out, see `record::index`), so it keeps no copy; `contentless_delete`
    // lets `prune` delete a row's entries by its id (SQLite 3.43 and
    // later; the bundled one is newer). Its row ids are those of `tasks`.
    // It is filled lazily, never during a run: `meta` holds how far
    // (`fts_indexed`, the highest task row id indexed); a table of keys,
    // without a rowid beside its key (and so without an index of it).
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
    CREATE VIRTUAL TABLE output_fts USING fts5(stdout, stderr, content='',
        contentless_delete=1, tokenize='unicode61 remove_diacritics 2');",
    // 14: up-to-date checks. `runs.cached` counts the tasks restored
    // from the store (counted in `passed` too); `tasks.cache` holds a
    // task's declarations (`kind\tvalue` lines, NULL when it has none),
    // so that a retry runs it with them. `task_cache` says what the cache
    // did for one attempt (one `tasks` row); `cache_entries` holds what a
    // hit needs, apart from the runs (a pruned run's entry still serves),
    // so its producer ids are no foreign keys; `file_stat_cache` the
    // content hash of each file hashed, trusted while its stat holds.
    "ALTER TABLE runs ADD COLUMN cached INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tasks ADD COLUMN cache TEXT;
    CREATE TABLE task_cache (
        task_id INTEGER PRIMARY KEY REFERENCES tasks(id),
        task_name TEXT NOT NULL,
        cache_key TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT,
        source_task_id INTEGER,
        source_run_id INTEGER,
        outputs TEXT,
        hashed_bytes INTEGER NOT NULL DEFAULT 0,
        check_us INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX task_cache_by_name ON task_cache(task_name, outcome, task_id);
    CREATE INDEX task_cache_by_key ON task_cache(cache_key);
    CREATE TABLE cache_entries (
        cache_key TEXT PRIMARY KEY,
        task_name TEXT NOT NULL,
        producer_task_id INTEGER NOT NULL,
        producer_run_id INTEGER NOT NULL,
        outputs TEXT,
        stdout BLOB NOT NULL, stdout_total INTEGER NOT NULL, stdout_tail BLOB NOT NULL,
        stderr BLOB NOT NULL, stderr_total INTEGER NOT NULL, stderr_tail BLOB NOT NULL,
        exit_code INTEGER NOT NULL DEFAULT 0,
        duration_ms INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        last_hit_at INTEGER,
        hits INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE TABLE file_stat_cache (
        path BLOB PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, mode INTEGER NOT NULL,
        sha256 TEXT NOT NULL, verified_at_ns INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 15: output passing. The digest of the tree of what an attempt that
    // passed left in its `$TASKRUN_OUT`, when it left something and it
    // was stored (NULL otherwise, so a task that leaves nothing costs
    // nothing), and the same for the pass an entry restores.
    "ALTER TABLE tasks ADD COLUMN out_tree TEXT;
    ALTER TABLE cache_entries ADD COLUMN out_tree TEXT;",
];

/// The whole schema at [`VERSION`], for a new database: what the
/// migrations make, in one batch. Running the migrations one by one on
/// an empty file costs about ten times more (SQLite reads its whole
/// schema again after each statement that changes it), which was most of
/// a short run's time. A test checks that both make the same tables,
/// columns, keys, indexes and views; a new migration changes this too.
pub(super) const CURRENT: &str = "CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        total_tasks INTEGER NOT NULL,
        passed INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'completed',
        taskfile TEXT,
        dir TEXT,
        duration_ms INTEGER,
        timeouts INTEGER NOT NULL DEFAULT 0,
        canceled INTEGER NOT NULL DEFAULT 0,
        retry_of INTEGER,
        signal INTEGER,
        jobs INTEGER,
        host TEXT,
        pid INTEGER,
        pid_started INTEGER,
        note TEXT,
        script TEXT,
        pools TEXT NOT NULL DEFAULT '',
        executor TEXT NOT NULL DEFAULT 'local',
        taskfile_relative TEXT,
        file_format TEXT,
        cached INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        name TEXT NOT NULL,
        command TEXT NOT NULL,
        status TEXT NOT NULL,
        exit_code INTEGER,
        started_at INTEGER,
        finished_at INTEGER,
        duration_ms INTEGER,
        stdout TEXT,
        stderr TEXT,
        position INTEGER NOT NULL DEFAULT 0,
        deps TEXT NOT NULL DEFAULT '',
        attempt INTEGER NOT NULL DEFAULT 1,
        signal INTEGER,
        reason TEXT,
        stdout_bytes INTEGER NOT NULL DEFAULT 0,
        stderr_bytes INTEGER NOT NULL DEFAULT 0,
        stdout_truncated INTEGER NOT NULL DEFAULT 0,
        stderr_truncated INTEGER NOT NULL DEFAULT 0,
        stdout_tail TEXT,
        stderr_tail TEXT,
        timeout_ms INTEGER,
        dir TEXT,
        env TEXT NOT NULL DEFAULT '',
        retries INTEGER NOT NULL DEFAULT 0,
        kind TEXT NOT NULL DEFAULT 'shell',
        soft_deps TEXT NOT NULL DEFAULT '',
        pool TEXT,
        cpus INTEGER,
        mem_bytes INTEGER,
        job_id TEXT,
        fingerprint INTEGER,
        start_us INTEGER,
        slot INTEGER,
        step_id INTEGER,
        node TEXT,
        cache TEXT,
        out_tree TEXT
    );
    CREATE INDEX tasks_by_run ON tasks(run_id, position, attempt);
    CREATE INDEX tasks_by_name ON tasks(run_id, name);
    CREATE INDEX runs_by_status ON runs(status);
    CREATE INDEX tasks_history ON tasks(name, fingerprint, status, run_id, duration_ms);
    CREATE VIEW task_results AS
        SELECT * FROM tasks AS t
        WHERE t.attempt = (SELECT MAX(u.attempt) FROM tasks AS u
                           WHERE u.run_id = t.run_id AND u.position = t.position);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
    CREATE VIRTUAL TABLE output_fts USING fts5(stdout, stderr, content='',
        contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
    CREATE TABLE task_cache (
        task_id INTEGER PRIMARY KEY REFERENCES tasks(id),
        task_name TEXT NOT NULL,
        cache_key TEXT NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT,
        source_task_id INTEGER,
        source_run_id INTEGER,
        outputs TEXT,
        hashed_bytes INTEGER NOT NULL DEFAULT 0,
        check_us INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX task_cache_by_name ON task_cache(task_name, outcome, task_id);
    CREATE INDEX task_cache_by_key ON task_cache(cache_key);
    CREATE TABLE cache_entries (
        cache_key TEXT PRIMARY KEY,
        task_name TEXT NOT NULL,
        producer_task_id INTEGER NOT NULL,
        producer_run_id INTEGER NOT NULL,
        outputs TEXT,
        stdout BLOB NOT NULL, stdout_total INTEGER NOT NULL, stdout_tail BLOB NOT NULL,
        stderr BLOB NOT NULL, stderr_total INTEGER NOT NULL, stderr_tail BLOB NOT NULL,
        exit_code INTEGER NOT NULL DEFAULT 0,
        duration_ms INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        last_hit_at INTEGER,
        hits INTEGER NOT NULL DEFAULT 0,
        out_tree TEXT
    ) WITHOUT ROWID;
    CREATE TABLE file_stat_cache (
        path BLOB PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, mode INTEGER NOT NULL,
        sha256 TEXT NOT NULL, verified_at_ns INTEGER NOT NULL
    ) WITHOUT ROWID;";

/// What a migration needs done in code, after its SQL and in its
/// transaction: `version` is the one it brings the database to.
pub(super) fn after(version: i64, transaction: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    if version == 10 {
        backfill_fingerprints(transaction)?;
    }
    Ok(())
}

/// Gives every task row written before fingerprints existed its own.
fn backfill_fingerprints(transaction: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let rows: Vec<(i64, i64)> = {
        let mut statement = transaction
            .prepare("SELECT id, command, dir, env, kind FROM tasks WHERE fingerprint IS NULL")?;
        let rows = statement.query_map([], |row| {
            let dir: Option<String> = row.get(2)?;
            let env = super::rows::decode_env(&row.get::<_, String>(3)?);
            let kind = super::rows::decode_kind(&row.get::<_, String>(4)?);
            let fingerprint = crate::task::fingerprint(
                &row.get::<_, String>(1)?,
                dir.as_deref().map(std::path::Path::new),
                &env,
                kind,
            );
            Ok((row.get(0)?, fingerprint))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut update = transaction.prepare("UPDATE tasks SET fingerprint = ?2 WHERE id = ?1")?;
    for (id, fingerprint) in rows {
        update.execute([id, fingerprint])?;
    }
    Ok(())
}
