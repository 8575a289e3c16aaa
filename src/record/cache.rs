//! What the cache reads from the history: stored entries, for the
//! caching executor's lookups, and the stat cache. Only reads: the
//! recorder writes every cache row, with its task's row.

use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{OptionalExtension, params};

use super::store::{Store, StoreError};
use crate::cache::executor::{Entries, Entry};
use crate::cache::stat::StatCache;
use crate::event::Capture;

/// Stored entries, read through a connection of their own (workers look
/// them up while the recorder writes on its own).
pub(crate) struct CacheReader {
    store: Mutex<Store>,
}

impl CacheReader {
    /// Opens the history at `path` for lookups.
    pub(crate) fn open(path: &Path) -> Result<CacheReader, StoreError> {
        Ok(CacheReader {
            store: Mutex::new(Store::open(path)?),
        })
    }

    /// Opens the history at `path` for lookups without writing anything
    /// to it (not even a migration): `None` when there is none, or it
    /// cannot be read so.
    pub(crate) fn open_read_only(path: &Path) -> Option<CacheReader> {
        if !path.exists() {
            return None;
        }
        Some(CacheReader {
            store: Mutex::new(Store::open_untouched(path).ok()?),
        })
    }

    /// The stat cache as the history has it (empty if it cannot be read).
    pub(crate) fn stat_cache(&self) -> StatCache {
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        StatCache::load(&store.connection).unwrap_or_else(|_| StatCache::new(Vec::new()))
    }
}

impl Entries for CacheReader {
    fn entry(&self, key: &str) -> Option<Entry> {
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store.entry(key).ok().flatten()
    }

    fn last_stored(&self, name: &str) -> Option<(i64, String)> {
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store
            .last_stored(name, i64::MAX)
            .ok()
            .flatten()
            .map(|row| (row.run, row.key))
    }
}

impl Store {
    /// The entry stored under `key`.
    pub(crate) fn entry(&self, key: &str) -> rusqlite::Result<Option<Entry>> {
        self.connection
            .prepare_cached(
                "SELECT producer_task_id, producer_run_id, outputs, stdout, stdout_total,
                     stdout_tail, stderr, stderr_total, stderr_tail, duration_ms, out_tree
                 FROM cache_entries WHERE cache_key = ?1",
            )?
            .query_row(params![key], |row| {
                let capture = |at: usize| -> rusqlite::Result<Capture> {
                    Ok(Capture {
                        bytes: row.get(at)?,
                        total: u64::try_from(row.get::<_, i64>(at + 1)?).unwrap_or(0),
                        tail: row.get(at + 2)?,
                    })
                };
                Ok(Entry {
                    task: row.get(0)?,
                    run: row.get(1)?,
                    outputs: row.get(2)?,
                    out: row.get(10)?,
                    stdout: capture(3)?,
                    stderr: capture(6)?,
                    duration: Duration::from_millis(
                        u64::try_from(row.get::<_, i64>(9)?).unwrap_or(0),
                    ),
                })
            })
            .optional()
    }
}

/// What the cache did for one attempt, as `task_cache` keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CacheRow {
    /// The attempt's task row.
    pub task: i64,
    pub run: i64,
    pub key: String,
    pub outcome: String,
    pub reason: Option<String>,
    /// For a hit: the run and task row restored from.
    pub source: Option<(i64, i64)>,
}

impl Store {
    /// What the cache did for the last attempt of task `name` in run
    /// `run`; `None` when it took no part (the task declares neither
    /// inputs nor outputs, or ran with `--no-cache`).
    pub(crate) fn cache_row(&self, run: i64, name: &str) -> Result<Option<CacheRow>, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT c.task_id, t.run_id, c.cache_key, c.outcome, c.reason,
                     c.source_run_id, c.source_task_id
                 FROM tasks AS t JOIN task_cache AS c ON c.task_id = t.id
                 WHERE t.run_id = ?1 AND t.name = ?2
                 ORDER BY t.attempt DESC LIMIT 1",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![run, name], cache_row)
                    .optional()
            })
            .map_err(|source| self.read_error(source))
    }

    /// The last pass of task `name` stored before the task row `before`.
    pub(crate) fn last_stored(
        &self,
        name: &str,
        before: i64,
    ) -> Result<Option<CacheRow>, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT c.task_id, t.run_id, c.cache_key, c.outcome, c.reason,
                     c.source_run_id, c.source_task_id
                 FROM task_cache AS c JOIN tasks AS t ON t.id = c.task_id
                 WHERE c.task_name = ?1 AND c.outcome = 'stored' AND c.task_id < ?2
                 ORDER BY c.task_id DESC LIMIT 1",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![name, before], cache_row)
                    .optional()
            })
            .map_err(|source| self.read_error(source))
    }
}

fn cache_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CacheRow> {
    let source = match (row.get::<_, Option<i64>>(5)?, row.get::<_, Option<i64>>(6)?) {
        (Some(run), Some(task)) => Some((run, task)),
        _ => None,
    };
    Ok(CacheRow {
        task: row.get(0)?,
        run: row.get(1)?,
        key: row.get(2)?,
        outcome: row.get(3)?,
        reason: row.get(4)?,
        source,
    })
}
