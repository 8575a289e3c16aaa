//! What a garbage collection of the store (`taskrun gc`) reads from the
//! history, and the one thing it deletes there: cache entries.
//!
//! Which entries go is decided by `cache::gc`, from the rows read here;
//! this only reads and deletes. Task rows and their `task_cache` rows are
//! never touched (they belong to their runs, which only `prune` deletes),
//! so every recorded attempt keeps saying what the cache did for it.

use rusqlite::params;

use super::store::{Store, StoreError};
use crate::cache::gc::{CacheRows, EntryRow, RunUse};

impl Store {
    /// The rows a collection decides by: every cache entry; what the
    /// `keep_runs` newest runs, the newest one, and every run still going
    /// stored or restored (a live run counts as recent and protected, the
    /// newest as protected); and the key of every recorded cacheable
    /// attempt.
    pub(crate) fn cache_rows(&self, keep_runs: usize) -> Result<CacheRows, StoreError> {
        let read = |source| self.read_error(source);
        let mut runs: Vec<RunUse> = Vec::new();
        {
            let newest = i64::try_from(keep_runs.max(1)).unwrap_or(i64::MAX);
            let mut statement = self
                .connection
                .prepare(
                    "SELECT id, status IN ('running', 'open') FROM runs
                     WHERE id IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?1)
                        OR status IN ('running', 'open')
                     ORDER BY id DESC",
                )
                .map_err(read)?;
            let rows = statement
                .query_map(params![newest], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, bool>(1)?))
                })
                .map_err(read)?;
            let latest = self
                .connection
                .query_row("SELECT MAX(id) FROM runs", [], |row| {
                    row.get::<_, Option<i64>>(0)
                })
                .map_err(read)?;
            for (position, row) in rows.enumerate() {
                let (run, live) = row.map_err(read)?;
                // A live run older than the newest ones comes after them,
                // and what it uses stays as if it were one of them.
                runs.push(RunUse {
                    run,
                    recent: position < keep_runs || live,
                    protected: live || Some(run) == latest,
                    keys: Vec::new(),
                    outputs: Vec::new(),
                    out: Vec::new(),
                });
            }
        }
        {
            let mut statement = self
                .connection
                .prepare_cached(
                    "SELECT c.cache_key, c.outcome IN ('hit', 'stored'), c.outputs
                     FROM tasks AS t JOIN task_cache AS c ON c.task_id = t.id
                     WHERE t.run_id = ?1",
                )
                .map_err(read)?;
            for run in &mut runs {
                let rows = statement
                    .query_map(params![run.run], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, bool>(1)?,
                            row.get::<_, Option<String>>(2)?,
                        ))
                    })
                    .map_err(read)?;
                for row in rows {
                    let (key, used, outputs) = row.map_err(read)?;
                    if used {
                        run.keys.push(key);
                    }
                    run.outputs.extend(outputs);
                }
            }
        }
        self.out_trees(&mut runs)?;
        let entries = self.entry_rows()?;
        let manifests = {
            let mut statement = self
                .connection
                .prepare("SELECT DISTINCT cache_key FROM task_cache")
                .map_err(read)?;
            let rows = statement
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(read)?;
            rows.collect::<Result<_, _>>().map_err(read)?
        };
        Ok(CacheRows {
            entries,
            runs,
            manifests,
        })
    }

    /// Every cache entry, as a collection sees it.
    fn entry_rows(&self) -> Result<Vec<EntryRow>, StoreError> {
        let read = |source| self.read_error(source);
        let mut statement = self
            .connection
            .prepare(
                "SELECT cache_key, task_name, outputs, producer_run_id, created_at, last_hit_at,
                     out_tree
                 FROM cache_entries",
            )
            .map_err(read)?;
        let rows = statement
            .query_map([], |row| {
                Ok(EntryRow {
                    key: row.get(0)?,
                    task_name: row.get(1)?,
                    outputs: row.get(2)?,
                    producer_run: row.get(3)?,
                    created_at: row.get(4)?,
                    last_hit_at: row.get(5)?,
                    out: row.get(6)?,
                })
            })
            .map_err(read)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(read)
    }

    /// Adds to each of `runs` the trees of what its tasks left in
    /// `$TASKRUN_OUT`.
    fn out_trees(&self, runs: &mut [RunUse]) -> Result<(), StoreError> {
        let read = |source| self.read_error(source);
        let mut statement = self
            .connection
            .prepare_cached("SELECT out_tree FROM tasks WHERE run_id = ?1 AND out_tree IS NOT NULL")
            .map_err(read)?;
        for run in runs {
            let rows = statement
                .query_map(params![run.run], |row| row.get::<_, String>(0))
                .map_err(read)?;
            for row in rows {
                run.out.push(row.map_err(read)?);
            }
        }
        Ok(())
    }

    /// Deletes the cache entries of `keys`, in one transaction, and says
    /// how many there were. A key with no entry is no error.
    pub(crate) fn delete_cache_entries(&mut self, keys: &[String]) -> Result<usize, StoreError> {
        self.write(|transaction| {
            let mut delete =
                transaction.prepare("DELETE FROM cache_entries WHERE cache_key = ?1")?;
            let mut deleted = 0;
            for key in keys {
                deleted += delete.execute(params![key])?;
            }
            Ok(deleted)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::store;

    /// A task row `name` of run `run` whose attempt the cache `outcome`d
    /// with `key` and `outputs`.
    fn attempt(
        store: &Store,
        run: i64,
        name: &str,
        key: &str,
        outcome: &str,
        outputs: Option<&str>,
    ) {
        store
            .connection
            .execute(
                "INSERT INTO tasks (run_id, name, command, status, position) VALUES (?1, ?2, 'x', 'passed', 0)",
                params![run, name],
            )
            .unwrap();
        let task = store.connection.last_insert_rowid();
        store
            .connection
            .execute(
                "INSERT INTO task_cache (task_id, task_name, cache_key, outcome, outputs)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![task, name, key, outcome, outputs],
            )
            .unwrap();
    }

    fn add_entry(store: &Store, key: &str, name: &str, run: i64) {
        store
            .connection
            .execute(
                "INSERT INTO cache_entries (cache_key, task_name, producer_task_id, producer_run_id,
                     outputs, stdout, stdout_total, stdout_tail, stderr, stderr_total, stderr_tail,
                     duration_ms, created_at, last_hit_at)
                 VALUES (?1, ?2, 0, ?3, 'tree', '', 0, '', '', 0, '', 5, 100, 150)",
                params![key, name, run],
            )
            .unwrap();
    }

    #[test]
    fn the_newest_runs_and_live_ones_are_read_with_what_they_used() {
        let (_dir, mut store) = store();
        let old = store.add_run(0, &[]);
        let live = store.add_run(0, &[]);
        let middle = store.add_run(0, &[]);
        let newest = store.add_run(0, &[]);
        store
            .connection
            .execute("UPDATE runs SET status = 'running' WHERE id = ?1", [live])
            .unwrap();
        attempt(&store, old, "a", "k1", "stored", Some("t1"));
        attempt(&store, newest, "a", "k1", "hit", Some("t1"));
        attempt(&store, newest, "b", "k2", "miss", None);
        attempt(&store, middle, "a", "k3", "not_stored", Some("t3"));
        add_entry(&store, "k1", "a", old);
        let rows = store.cache_rows(2).unwrap();
        let run =
            |run: i64, recent: bool, protected: bool, keys: &[&str], outputs: &[&str]| RunUse {
                out: Vec::new(),
                run,
                recent,
                protected,
                keys: keys.iter().map(|key| (*key).to_owned()).collect(),
                outputs: outputs.iter().map(|tree| (*tree).to_owned()).collect(),
            };
        assert_eq!(
            rows.runs,
            [
                run(newest, true, true, &["k1"], &["t1"]),
                run(middle, true, false, &[], &["t3"]),
                run(live, true, true, &[], &[]),
            ]
        );
        assert_eq!(
            rows.entries,
            [EntryRow {
                out: None,
                key: "k1".to_owned(),
                task_name: "a".to_owned(),
                outputs: Some("tree".to_owned()),
                producer_run: old,
                created_at: 100,
                last_hit_at: Some(150),
            }]
        );
        let mut manifests: Vec<&String> = rows.manifests.iter().collect();
        manifests.sort();
        assert_eq!(manifests, ["k1", "k2", "k3"]);
        // With no runs kept, the newest still counts as protected.
        let none = store.cache_rows(0).unwrap();
        assert_eq!(
            none.runs
                .iter()
                .map(|run| (run.run, run.recent, run.protected))
                .collect::<Vec<_>>(),
            [(newest, false, true), (live, true, true)]
        );
        assert_eq!(
            store
                .delete_cache_entries(&["k1".to_owned(), "k9".to_owned()])
                .unwrap(),
            1
        );
        assert!(store.cache_rows(2).unwrap().entries.is_empty());
        assert_eq!(
            store
                .connection
                .query_row("SELECT COUNT(*) FROM task_cache", [], |row| row
                    .get::<_, i64>(0))
                .unwrap(),
            4,
            "what the cache did for each attempt stays"
        );
    }
}
