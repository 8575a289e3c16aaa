//! Deleting old runs from the history: each with its task rows, in one
//! transaction, and making the file small again afterwards.
//!
//! Which runs go is the caller's choice (`taskrun prune`); this only
//! deletes. Task rows are deleted explicitly, before their runs, rather
//! than by an `ON DELETE CASCADE` on `tasks.run_id`: that would need the
//! `tasks` table, which holds every task's output, to be copied whole
//! into a new one on upgrade (SQLite cannot change a column's key in
//! place), and a cascade still only happens on connections that turn
//! foreign keys on, which the `sqlite3` shell does not. The same goes for
//! the rows' entries in the full-text index: they are deleted by row id
//! first, so no search finds a pruned row, and for what the cache did for
//! each row (`task_cache`, whose `task_id` is a foreign key of `tasks`).
//! The cache's entries (`cache_entries`) stay: they do not depend on the
//! run that stored them, and a later run may still be restored from one.

use rusqlite::params;

use super::index;
use super::store::{Store, StoreError};

/// How many rows a deletion removes (or would).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Deleted {
    /// The task rows of the deleted runs.
    pub task_rows: u64,
    /// Task rows whose run was already gone (deleted by hand, before run
    /// numbers were never given twice): they belong to no run that can be
    /// shown, and go too.
    pub orphan_rows: u64,
}

impl Store {
    /// Deletes the runs `ids` and their task rows, and the task rows of
    /// runs that are gone, in one transaction; with `dry_run`, only counts
    /// what would go. A run in `ids` that does not exist is no error.
    pub(crate) fn delete_runs(
        &mut self,
        ids: &[i64],
        dry_run: bool,
    ) -> Result<Deleted, StoreError> {
        if dry_run {
            return self.count_deleted(ids);
        }
        self.write(|transaction| {
            let mut deleted = Deleted::default();
            // Unlike a query built with every id, this is the same prepared
            // statement for each, and finds the rows by `tasks_by_run`.
            let mut cache = transaction.prepare(
                "DELETE FROM task_cache WHERE task_id IN (SELECT id FROM tasks WHERE run_id = ?1)",
            )?;
            let mut tasks = transaction.prepare("DELETE FROM tasks WHERE run_id = ?1")?;
            let mut runs = transaction.prepare("DELETE FROM runs WHERE id = ?1")?;
            for id in ids {
                index::forget_run(transaction, *id)?;
                cache.execute(params![id])?;
                deleted.task_rows += u64::try_from(tasks.execute(params![id])?).unwrap_or(u64::MAX);
                runs.execute(params![id])?;
            }
            index::forget_orphans(transaction)?;
            transaction.execute(
                "DELETE FROM task_cache WHERE task_id IN
                     (SELECT id FROM tasks WHERE run_id NOT IN (SELECT id FROM runs))",
                [],
            )?;
            deleted.orphan_rows = transaction
                .execute(
                    "DELETE FROM tasks WHERE run_id NOT IN (SELECT id FROM runs)",
                    [],
                )?
                .try_into()
                .unwrap_or(u64::MAX);
            index::lower_mark(transaction)?;
            Ok(deleted)
        })
    }

    fn count_deleted(&self, ids: &[i64]) -> Result<Deleted, StoreError> {
        let count = |sql: &str, id: Option<i64>| -> Result<u64, StoreError> {
            let mut statement = self
                .connection
                .prepare_cached(sql)
                .map_err(|source| self.read_error(source))?;
            let rows: i64 = match id {
                Some(id) => statement.query_row(params![id], |row| row.get(0)),
                None => statement.query_row([], |row| row.get(0)),
            }
            .map_err(|source| self.read_error(source))?;
            Ok(u64::try_from(rows).unwrap_or(0))
        };
        let mut deleted = Deleted {
            task_rows: 0,
            orphan_rows: count(
                "SELECT COUNT(*) FROM tasks WHERE run_id NOT IN (SELECT id FROM runs)",
                None,
            )?,
        };
        for id in ids {
            deleted.task_rows += count("SELECT COUNT(*) FROM tasks WHERE run_id = ?1", Some(*id))?;
        }
        Ok(deleted)
    }

    /// Rewrites the database into as little space as its rows need
    /// (deleting rows only marks their pages free), and empties the
    /// write-ahead log, which the rewrite passes through.
    pub(crate) fn vacuum(&mut self) -> Result<(), StoreError> {
        self.connection
            .execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(|source| self.write_error(source))
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::testing::{new_run, plan, store};

    fn record(store: &mut Store, text: &str) -> i64 {
        let plan = plan(text);
        store
            .begin_run(&new_run(), &plan, &plan.fingerprints())
            .unwrap()
            .run
    }

    fn count(store: &Store, sql: &str) -> i64 {
        store
            .connection
            .query_row(sql, [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn runs_go_with_their_task_rows_and_numbers_are_not_given_again() {
        let (_dir, mut store) = store();
        let first = record(&mut store, "a: true\nb: true\n");
        let second = record(&mut store, "a: true\n");
        let third = record(&mut store, "a: true\nb: true\nc: true\n");
        let would = store.delete_runs(&[first, third], true).unwrap();
        assert_eq!(
            would,
            Deleted {
                task_rows: 5,
                orphan_rows: 0
            }
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM runs"), 3, "a dry run");
        assert_eq!(store.delete_runs(&[first, third], false).unwrap(), would);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM runs"), 1);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM tasks"), 1);
        assert_eq!(store.latest_run().unwrap(), Some(second));
        // The newest run was deleted; its number is not given again.
        assert_eq!(record(&mut store, "a: true\n"), third + 1);
    }

    #[test]
    fn pruned_rows_leave_nothing_in_the_output_index() {
        let (_dir, mut store) = store();
        let old = store.add_run(0, &[]);
        store.add_output_row(old, "a", "needle", "");
        let kept = store.add_run(0, &[]);
        let row = store.add_output_row(kept, "a", "", "needle");
        store.index_output(&mut |_| {}).unwrap();
        let entries = |store: &Store| -> Vec<i64> {
            store
                .connection
                .prepare("SELECT rowid FROM output_fts WHERE output_fts MATCH 'needle'")
                .unwrap()
                .query_map([], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(entries(&store).len(), 2);
        store.delete_runs(&[old], false).unwrap();
        assert_eq!(entries(&store), [row]);
    }

    #[test]
    fn a_run_cannot_be_deleted_from_under_its_task_rows() {
        let (_dir, mut store) = store();
        let run = record(&mut store, "a: true\n");
        let refused = store
            .connection
            .execute("DELETE FROM runs WHERE id = ?1", [run]);
        assert!(refused.is_err(), "foreign keys are on");
    }

    #[test]
    fn rows_left_by_a_run_deleted_by_hand_go_too() {
        let (_dir, mut store) = store();
        let gone = record(&mut store, "a: true\nb: true\n");
        let kept = record(&mut store, "a: true\n");
        store
            .connection
            .execute_batch(&format!(
                "PRAGMA foreign_keys = OFF; DELETE FROM runs WHERE id = {gone}; PRAGMA foreign_keys = ON;"
            ))
            .unwrap();
        let deleted = store.delete_runs(&[], false).unwrap();
        assert_eq!(deleted.orphan_rows, 2);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM tasks"), 1);
        assert_eq!(store.latest_run().unwrap(), Some(kept));
        store.vacuum().unwrap();
        assert_eq!(count(&store, "SELECT COUNT(*) FROM runs"), 1);
    }
}
