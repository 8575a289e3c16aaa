//! The history database: opening it (and bringing its schema up to
//! date), and the errors it can give. Writes are in `write.rs`, reads and
//! the typed rows in `rows.rs`.
//!
//! Opening is careful about what it touches: the busy timeout is set
//! first, then the schema version is read, so a file that is not a
//! database fails before anything is written to it; only then is the
//! journal switched to WAL and the schema migrated. Every write runs in an
//! IMMEDIATE transaction, which takes the write lock up front (waiting for
//! the busy timeout) instead of failing on a read-to-write upgrade.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::schema::{self, MIGRATIONS, VERSION};

/// How long a write waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A problem with the history database.
#[expect(
    missing_docs,
    reason = "each variant's `#[error]` message says what it means, and its fields are the values the message and the diagnostic show"
)]
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

/// What reads one range of names for [`Store::by_ranges`].
pub(super) type RangeScan<'a, T> =
    dyn Fn(&Connection, Option<&str>, Option<&str>) -> rusqlite::Result<Vec<T>> + Sync + 'a;

/// At most this many threads share one pass over an index.
const MOST_READERS: usize = 4;

/// How many threads read one pass: one for each core, up to
/// [`MOST_READERS`].
fn readers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, MOST_READERS)
}

/// `parts - 1` of `names` that cut them into `parts` ranges of about as
/// many names each, in order (SQLite compares text as bytes, as `str`
/// does); fewer when there are fewer names.
pub(super) fn cuts<'a>(names: &[&'a str], parts: usize) -> Vec<&'a str> {
    let mut names = names.to_vec();
    let mut cuts = Vec::new();
    let mut done = 0;
    for part in 1..parts {
        let at = names.len() * part / parts;
        if at <= done || at >= names.len() {
            continue;
        }
        let (_, &mut cut, _) = names[done..].select_nth_unstable(at - done);
        cuts.push(cut);
        done = at;
    }
    cuts.dedup();
    cuts
}

/// An open history database.
pub(crate) struct Store {
    pub(super) connection: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens the database at `path` for recording, creating it if it does
    /// not exist, and brings its schema up to date.
    pub(crate) fn create(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, true)
    }

    /// Opens an existing database for reading (it is still migrated if it
    /// is older). A read-only database can be read.
    pub(crate) fn open(path: &Path) -> Result<Store, StoreError> {
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

    /// One pass over an index ordered by name, cut into ranges of names
    /// that threads read at once (one a core), each on a connection of
    /// its own: `scan` reads the names from its first argument (included)
    /// to its second (not included), either end open, and the parts are
    /// joined in order. `names` are names such a pass meets (those of a
    /// plan, or of a run), to cut them into ranges of about as many each.
    /// A range whose connection cannot be opened is read on this one.
    pub(super) fn by_ranges<T: Send>(
        &self,
        names: &[&str],
        scan: &RangeScan<'_, T>,
    ) -> rusqlite::Result<Vec<T>> {
        let cuts = cuts(names, readers());
        let ranges: Vec<(Option<&str>, Option<&str>)> = std::iter::once(None)
            .chain(cuts.iter().copied().map(Some))
            .zip(cuts.iter().copied().map(Some).chain(std::iter::once(None)))
            .collect();
        let connections: Vec<_> = ranges[1..].iter().map(|_| self.reader()).collect();
        std::thread::scope(|scope| {
            let others: Vec<_> = ranges[1..]
                .iter()
                .zip(connections)
                .map(|(&(from, to), connection)| scope.spawn(move || scan(&connection?, from, to)))
                .collect();
            let mut all = scan(&self.connection, ranges[0].0, ranges[0].1)?;
            for (other, &(from, to)) in others.into_iter().zip(&ranges[1..]) {
                all.extend(match other.join() {
                    Ok(Ok(part)) => part,
                    _ => scan(&self.connection, from, to)?,
                });
            }
            Ok(all)
        })
    }

    /// Another connection to the same database, for reading only (one
    /// more thread reading at once).
    pub(super) fn reader(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags)?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        Ok(connection)
    }

    /// Opens an existing database to read it without touching anything on
    /// disk: not even the `-wal` and `-shm` files a reader of a WAL
    /// database makes (SQLite's `immutable`). For what must change
    /// nothing, such as `run --dry-run`; what another process writes
    /// meanwhile may not be seen.
    pub(crate) fn open_untouched(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_owned(),
            });
        }
        let mut uri = String::from("file:");
        for byte in path.as_os_str().as_encoded_bytes() {
            match byte {
                b'?' | b'#' | b'%' => {
                    let _ = write!(uri, "%{byte:02X}");
                }
                _ if byte.is_ascii() => uri.push(char::from(*byte)),
                _ => {
                    let _ = write!(uri, "%{byte:02X}");
                }
            }
        }
        uri.push_str("?immutable=1");
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        Store::open_for_reading(path, &uri, flags)
    }

    pub(super) fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        Store::open_for_reading(path, path, flags)
    }

    /// Opens the database at `path` (as SQLite is to be given it: `name`,
    /// a path or a URI) with `flags`, to read it as it is: one of an
    /// older schema is refused, since it needs writing before it can be
    /// read.
    fn open_for_reading(
        path: &Path,
        name: impl AsRef<Path>,
        flags: OpenFlags,
    ) -> Result<Store, StoreError> {
        let connection = Connection::open_with_flags(name, flags).map_err(|source| {
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
            // Off while the schema changes, as SQLite's way of rebuilding
            // a table asks: migration 9 drops and makes anew `runs`, which
            // the rows of `tasks` refer to. The pragma does nothing inside
            // a transaction, so it is set around the migrations' own.
            self.foreign_keys(false)?;
            self.migrate()?;
        }
        // On for every write of taskrun's (whatever SQLite was built to
        // default to): a run cannot be deleted while task rows refer to it,
        // so a deleted run cannot leave them behind.
        self.foreign_keys(true)
    }

    fn foreign_keys(&self, on: bool) -> Result<(), StoreError> {
        self.connection
            .pragma_update(None, "foreign_keys", on)
            .map_err(|source| self.write_error(source))
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

    /// Makes a new database's schema at once ([`schema::CURRENT`]), or
    /// applies the migrations an older one lacks; all in one transaction
    /// that reads the version first, so that two processes opening an old
    /// database at once migrate it once, and a migration that fails leaves
    /// the database as it was.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| write_error(&path, source))?;
        let found: i64 = transaction
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|source| write_error(&path, source))?;
        let mut version = found;
        let empty = found == 0
            && transaction
                .query_row("SELECT count(*) = 0 FROM sqlite_master", [], |row| {
                    row.get(0)
                })
                .map_err(|source| write_error(&path, source))?;
        if empty {
            transaction
                .execute_batch(schema::CURRENT)
                .map_err(|source| write_error(&path, source))?;
            version = VERSION;
        }
        while let Some(migration) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        {
            transaction
                .execute_batch(migration)
                .and_then(|()| schema::after(version + 1, &transaction))
                .map_err(|source| write_error(&path, source))?;
            version += 1;
        }
        if version != found {
            transaction
                .pragma_update(None, "user_version", version)
                .map_err(|source| write_error(&path, source))?;
        }
        transaction
            .commit()
            .map_err(|source| write_error(&path, source))
    }

    pub(super) fn write_error(&self, source: rusqlite::Error) -> StoreError {
        write_error(&self.path, source)
    }

    pub(super) fn read_error(&self, source: rusqlite::Error) -> StoreError {
        classify(&self.path, source, |path, source| StoreError::Read {
            path,
            source,
        })
    }

    /// Runs `work` in an IMMEDIATE transaction and commits it; any error
    /// is a write error of this database.
    pub(super) fn write<T>(
        &mut self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| write_error(&path, source))?;
        let value = work(&transaction).map_err(|source| write_error(&path, source))?;
        transaction
            .commit()
            .map_err(|source| write_error(&path, source))?;
        Ok(value)
    }
}

fn write_error(path: &Path, source: rusqlite::Error) -> StoreError {
    classify(path, source, |path, source| StoreError::Write {
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

/// Rows written by hand, for the tests of what reads them.
#[cfg(test)]
impl Store {
    /// A run started at `started_at` (Unix seconds), with `rows` (name,
    /// fingerprint, status, duration in ms), each an attempt, written in
    /// that order; its number.
    pub(super) fn add_run(&self, started_at: i64, rows: &[(&str, i64, &str, i64)]) -> i64 {
        self.connection
            .execute(
                "INSERT INTO runs (started_at, total_tasks) VALUES (?1, 0)",
                [started_at],
            )
            .unwrap();
        let run = self.connection.last_insert_rowid();
        for (position, (name, fingerprint, status, ms)) in rows.iter().enumerate() {
            self.connection
                .execute(
                    "INSERT INTO tasks (run_id, name, command, status, duration_ms, position,
                         fingerprint)
                     VALUES (?1, ?2, 'x', ?3, ?4, ?5, ?6)",
                    rusqlite::params![
                        run,
                        name,
                        status,
                        ms,
                        i64::try_from(position).unwrap(),
                        fingerprint
                    ],
                )
                .unwrap();
        }
        run
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::store;

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

    /// Everything a schema is made of, in a form two databases can be
    /// compared in: each table's columns (name, type, not null, default,
    /// key), foreign keys and indexes with their columns, each view's
    /// columns, and whether `runs` counts its ids (AUTOINCREMENT).
    fn shape(connection: &Connection) -> Vec<String> {
        let all = |sql: &str| -> Vec<String> {
            let mut statement = connection.prepare(sql).unwrap();
            let count = statement.column_count();
            let mut rows: Vec<String> = statement
                .query_map([], |row| {
                    (0..count)
                        .map(|i| Ok(format!("{:?}", row.get::<_, rusqlite::types::Value>(i)?)))
                        .collect::<Result<Vec<_>, _>>()
                        .map(|fields| fields.join(" "))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            rows.sort();
            rows
        };
        // The text of indexes, views and virtual tables (whose options,
        // the tokenizer's among them, are in it alone) is the same
        // whichever way they were made (that of tables is not: ALTER
        // TABLE edits it). Spacing aside.
        let mut shape = all("SELECT type, name, tbl_name,
                 CASE WHEN type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' THEN ''
                      ELSE replace(replace(replace(sql, char(10), ' '), '    ', ' '), '  ', ' ')
                 END
             FROM sqlite_master");
        for table in all("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')") {
            let table = table.trim_start_matches("Text(\"").trim_end_matches("\")");
            shape.push(format!("{table}:"));
            shape.extend(all(&format!("SELECT * FROM pragma_table_xinfo('{table}')")));
            shape.extend(all(&format!(
                "SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list('{table}')"
            )));
            shape.extend(all(&format!(
                "SELECT name, \"unique\", origin, partial FROM pragma_index_list('{table}')"
            )));
            for index in all(&format!("SELECT name FROM pragma_index_list('{table}')")) {
                let index = index.trim_start_matches("Text(\"").trim_end_matches("\")");
                shape.push(format!("{index}:"));
                shape.extend(all(&format!("SELECT * FROM pragma_index_xinfo('{index}')")));
            }
        }
        shape
    }

    #[test]
    fn a_new_database_has_the_schema_the_migrations_make() {
        let (_dir, store) = store();
        let migrated = Connection::open_in_memory().unwrap();
        for migration in MIGRATIONS {
            migrated.execute_batch(migration).unwrap();
        }
        let made = shape(&store.connection);
        assert!(made.iter().any(|line| line.contains("file_format")));
        for table in ["task_cache:", "cache_entries:", "file_stat_cache:"] {
            assert!(made.iter().any(|line| line == table), "{table}");
        }
        let runs: String = store
            .connection
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'runs'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert!(runs.contains("AUTOINCREMENT"), "{runs}");
        assert_eq!(made, shape(&migrated));
        assert_eq!(store.version().unwrap(), VERSION);
    }

    /// The columns of `table`, in order.
    fn columns(connection: &Connection, table: &str) -> Vec<String> {
        let mut statement = connection
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn rows_from_before_fingerprints_get_theirs_when_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let old = Connection::open(&path).unwrap();
        for migration in &MIGRATIONS[..9] {
            old.execute_batch(migration).unwrap();
        }
        old.execute_batch(
            "PRAGMA user_version = 9;
             INSERT INTO runs (id, started_at, total_tasks) VALUES (1, 0, 2);
             INSERT INTO tasks (run_id, name, command, status, position, dir, env, kind)
             VALUES (1, 'a', 'make', 'passed', 0, NULL, '', 'shell'),
                    (1, 'b', 'make web', 'passed', 1, 'web', 'K=v\nL=w', 'rhai');",
        )
        .unwrap();
        drop(old);
        let store = Store::open(&path).unwrap();
        let stored: Vec<i64> = store
            .connection
            .prepare("SELECT fingerprint FROM tasks ORDER BY position")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let env = vec![
            ("K".to_owned(), "v".to_owned()),
            ("L".to_owned(), "w".to_owned()),
        ];
        assert_eq!(
            stored,
            [
                crate::task::fingerprint("make", None, &[], crate::task::Kind::Shell),
                crate::task::fingerprint(
                    "make web",
                    Some(Path::new("web")),
                    &env,
                    crate::task::Kind::Rhai
                ),
            ]
        );
    }

    #[test]
    fn a_version_7_database_keeps_every_row_and_column_and_numbers_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let old = Connection::open(&path).unwrap();
        // The schema as taskrun 7 left it, with its migrations' own SQL.
        for migration in &MIGRATIONS[..7] {
            old.execute_batch(migration).unwrap();
        }
        old.execute_batch(
            // Off, as in the `sqlite3` shell that deleted run #3.
            "PRAGMA user_version = 7;
             PRAGMA foreign_keys = OFF;
             INSERT INTO runs (id, started_at, total_tasks, passed, status, taskfile, retry_of,
                 host, pools)
             VALUES (1, 1705329022, 1, 0, 'completed', '/p/tasks.txt', NULL, 'h', 'db=1'),
                    (2, 1705329100, 1, 1, 'completed', '/p/tasks.txt', 1, 'h', '');
             INSERT INTO tasks (run_id, name, command, status, position, stdout)
             VALUES (1, 'a', 'false', 'failed', 0, 'one'),
                    (2, 'a', 'true', 'passed', 0, 'two'),
                    -- A run #3 deleted by hand left its row behind.
                    (3, 'a', 'true', 'passed', 0, 'three');",
        )
        .unwrap();
        let before = columns(&old, "runs");
        drop(old);

        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.version().unwrap(), VERSION);
        let mut expected = before;
        expected.push("taskfile_relative".to_owned());
        expected.push("file_format".to_owned());
        expected.push("cached".to_owned());
        assert_eq!(columns(&store.connection, "runs"), expected);
        let sql: String = store
            .connection
            .query_row(
                "SELECT sql FROM sqlite_master WHERE name = 'runs'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert!(sql.contains("AUTOINCREMENT"), "{sql}");
        let indexes: i64 = store
            .connection
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'runs_by_status'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 1);

        let runs = store.runs(10).unwrap();
        let shown: Vec<_> = runs
            .iter()
            .map(|run| (run.id, run.started_at, run.retry_of, run.pools.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                (2, 1_705_329_100, Some(1), vec![]),
                (1, 1_705_329_022, None, vec![("db".to_owned(), 1)]),
            ]
        );
        assert_eq!(runs[0].taskfile.as_deref(), Some("/p/tasks.txt"));
        assert_eq!(runs[0].taskfile_relative, None);
        let tasks = store.tasks_with_output(&runs[1]).unwrap();
        assert_eq!(tasks[0].stdout.bytes, b"one");

        // The next run is #4: above the run whose rows were left behind.
        let plan = crate::testing::plan("a: true\n");
        assert_eq!(
            store
                .begin_run(&crate::testing::new_run(), &plan, &plan.fingerprints())
                .unwrap()
                .run,
            4
        );
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
}
