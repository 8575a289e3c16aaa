//! The full-text index of the captured output (`output_fts`, see the
//! schema's migration 13): filling it, and forgetting pruned rows.
//!
//! The index is filled lazily, never while a run records: `taskrun
//! search` first indexes the rows recorded since the last time, and
//! `taskrun index` does the same on its own. `meta.fts_indexed` is the
//! high-water mark: every task row with an id up to it has been looked
//! at, and its output, if it had any, is in the index. Rows are taken in
//! id order in bounded transactions, each committing the mark with the
//! rows it indexed, so an interrupted catch-up loses nothing and resumes
//! where it stopped. A row still pending or running in a run that is
//! still going has no output yet: the mark moves past it, and its id
//! waits in `meta.fts_waiting` (a JSON array) to be looked at again by
//! each catch-up, and scanned by each search, until its run ends. (A run
//! recorded on another host always counts as going, so holding the mark
//! back at it would hold it for ever.) A row of a run whose taskrun died
//! never gets output, and does not wait.
//!
//! A catch-up never keeps a run from recording: each transaction holds
//! the write lock for at most [`BATCH_TIME`], and the next one starts
//! [`YIELD`] later, long enough for a writer waiting on SQLite's busy
//! handler (which looks again at most every 100 ms) to get in.
//!
//! What is indexed is the text a person reads: escape sequences left out
//! (`\x1b[31merror` is the word `error`), both the kept start and the kept
//! end of a truncated stream. This module writes nothing but the index
//! and the mark.

use std::collections::HashMap;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};

use super::liveness::ProcessId;
use super::rows::bytes_of;
use super::store::{Store, StoreError};

/// The key of the high-water mark in `meta`.
const MARK: &str = "fts_indexed";

/// The key of the rows below the mark that wait for their run to end.
const WAITING: &str = "fts_waiting";

/// The longest a transaction of a catch-up goes on indexing.
const BATCH_TIME: std::time::Duration = std::time::Duration::from_millis(400);

/// The pause between two transactions of a catch-up, in which another
/// writer (a run recording) takes the lock.
const YIELD: std::time::Duration = std::time::Duration::from_millis(110);

/// At most this many rows are looked at in one transaction (the time
/// bound comes first, but for rows without output)...
const BATCH_ROWS: i64 = 20_000;

/// ...and at most about this much text is indexed in one, so that a
/// transaction holds the write lock for a second or two at most.
const BATCH_BYTES: u64 = 64 << 20;

/// What a catch-up did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Indexed {
    /// Rows whose output went into the index (rows without output are
    /// passed over, and not counted).
    pub rows: u64,
    /// The bytes of text they held.
    pub bytes: u64,
    /// Whether it stopped at a row of a run still going: the rows from
    /// there on wait for that run to end.
    pub waiting: bool,
}

/// What one transaction of a catch-up did.
struct Batch {
    indexed: Indexed,
    /// Whether the rows ran out (or it reached a run still going).
    done: bool,
}

impl Store {
    /// Indexes the output of the rows recorded since the last catch-up,
    /// in transactions of a bounded size, calling `progress` with the
    /// totals so far after each one.
    pub(crate) fn index_output(
        &mut self,
        progress: &mut dyn FnMut(Indexed),
    ) -> Result<Indexed, StoreError> {
        let mut total = Indexed::default();
        let fail = |source| self.read_error(source);
        // Nothing new (and no row deleted from the top, which would bring
        // the mark down): no write, so a search of an indexed history
        // takes no lock at all.
        if newest_row(&self.connection).map_err(fail)? == mark(&self.connection).map_err(fail)?
            && waiting(&self.connection).map_err(fail)?.is_empty()
        {
            return Ok(total);
        }
        loop {
            let batch = self.write(index_batch)?;
            total.rows += batch.indexed.rows;
            total.bytes += batch.indexed.bytes;
            total.waiting = batch.indexed.waiting;
            progress(total);
            if batch.done {
                return Ok(total);
            }
            std::thread::sleep(YIELD);
        }
    }

    /// About how many rows the next catch-up has to look at (rows above
    /// the mark; those deleted since are counted too).
    pub(crate) fn unindexed_rows(&self) -> Result<u64, StoreError> {
        let mark = mark(&self.connection).map_err(|source| self.read_error(source))?;
        let newest: i64 = self
            .connection
            .query_row("SELECT COALESCE(MAX(id), 0) FROM tasks", [], |row| {
                row.get(0)
            })
            .map_err(|source| self.read_error(source))?;
        Ok(u64::try_from(newest - mark).unwrap_or(0))
    }

    /// How long a write waits for another process's lock, from now on.
    pub(crate) fn wait_for_lock(&self, wait: std::time::Duration) -> Result<(), StoreError> {
        self.connection
            .busy_timeout(wait)
            .map_err(|source| self.read_error(source))
    }
}

/// The high-water mark (0 before the first catch-up).
pub(super) fn mark(connection: &Connection) -> rusqlite::Result<i64> {
    Ok(connection
        .query_row("SELECT value FROM meta WHERE key = ?1", [MARK], |row| {
            row.get::<_, Option<i64>>(0)
        })
        .optional()?
        .flatten()
        .unwrap_or(0))
}

/// The ids of the rows below the mark that wait for their run to end.
pub(super) fn waiting(connection: &Connection) -> rusqlite::Result<Vec<i64>> {
    let text: Option<String> = connection
        .query_row("SELECT value FROM meta WHERE key = ?1", [WAITING], |row| {
            row.get(0)
        })
        .optional()?
        .flatten();
    Ok(text
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default())
}

fn set_waiting(connection: &Connection, ids: &[i64]) -> rusqlite::Result<()> {
    let text = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
    connection
        .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
        .execute(params![WAITING, text])?;
    Ok(())
}

fn set_mark(connection: &Connection, mark: i64) -> rusqlite::Result<()> {
    connection
        .prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
        .execute(params![MARK, mark])?;
    Ok(())
}

/// Deletes the index entries of the rows of run `run` (before the rows
/// themselves go), by row id, so no search finds them any more.
pub(super) fn forget_run(connection: &Connection, run: i64) -> rusqlite::Result<()> {
    connection
        .prepare_cached(
            "DELETE FROM output_fts WHERE rowid IN
                 (SELECT id FROM tasks WHERE run_id = ?1 AND id <= ?2)",
        )?
        .execute(params![run, mark(connection)?])?;
    Ok(())
}

/// The same for the rows whose run is gone.
pub(super) fn forget_orphans(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute(
        "DELETE FROM output_fts WHERE rowid IN
             (SELECT id FROM tasks WHERE run_id NOT IN (SELECT id FROM runs) AND id <= ?1)",
        [mark(connection)?],
    )?;
    Ok(())
}

/// After rows were deleted: a mark above every row left comes down to the
/// newest one, since SQLite gives the next row the newest id + 1, which
/// the index must not take for one it has seen.
pub(super) fn lower_mark(connection: &Connection) -> rusqlite::Result<()> {
    let newest = newest_row(connection)?;
    if mark(connection)? > newest {
        set_mark(connection, newest)?;
    }
    Ok(())
}

/// The id of the newest task row (0 for none).
fn newest_row(connection: &Connection) -> rusqlite::Result<i64> {
    connection.query_row("SELECT COALESCE(MAX(id), 0) FROM tasks", [], |row| {
        row.get(0)
    })
}

/// One stream's text as it is indexed (and searched, and shown in a
/// snippet): `head` and, for a truncated stream, `tail`, on lines of
/// their own, as UTF-8 (bytes that are not become U+FFFD), without escape
/// sequences. The two control characters a snippet marks a match with
/// become spaces (they separate words either way).
pub(super) fn indexed_text(head: &[u8], tail: Option<&[u8]>) -> String {
    let clean = |bytes: &[u8]| {
        crate::ansi::strip(&String::from_utf8_lossy(bytes)).replace(['\u{1}', '\u{2}'], " ")
    };
    let mut text = clean(head);
    if let Some(tail) = tail.filter(|tail| !tail.is_empty()) {
        // A word of its own (a private-use character) between the two,
        // on a line of its own: what was left out between them is not
        // there, so no phrase runs from the start's last words into the
        // end's first ones.
        text.push_str(GAP);
        text.push_str(&clean(tail));
    }
    text
}

/// What stands between the kept start and the kept end of a truncated
/// stream in its indexed text.
pub(super) const GAP: &str = "\n\u{e000}\n";

/// The columns a row's output is read from: each stream's kept start,
/// whether it was truncated, and its kept end.
pub(super) const OUTPUT_COLUMNS: &str =
    "stdout, stdout_truncated, stdout_tail, stderr, stderr_truncated, stderr_tail";

/// Both streams' indexed text from a row whose columns from `first` on
/// are [`OUTPUT_COLUMNS`].
pub(super) fn row_texts(
    row: &rusqlite::Row<'_>,
    first: usize,
) -> rusqlite::Result<(String, String)> {
    let stream = |at: usize| -> rusqlite::Result<String> {
        let head = bytes_of(row.get_ref(at)?);
        let truncated = !matches!(row.get_ref(at + 1)?, ValueRef::Integer(0) | ValueRef::Null);
        let tail = if truncated {
            Some(bytes_of(row.get_ref(at + 2)?))
        } else {
            None
        };
        Ok(indexed_text(&head, tail.as_deref()))
    };
    Ok((stream(first)?, stream(first + 3)?))
}

/// Whether a row in this state may still get output.
pub(super) fn unfinished(status: &str) -> bool {
    matches!(status, "pending" | "running")
}

/// Whether run `run` is still going: marked running (or open), by a
/// taskrun that is alive.
fn run_is_live(connection: &Connection, run: i64) -> rusqlite::Result<bool> {
    let process = connection
        .query_row(
            "SELECT host, pid, pid_started FROM runs WHERE id = ?1 AND status IN ('running', 'open')",
            [run],
            |row| {
                Ok(ProcessId {
                    host: row.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    pid: row.get::<_, Option<i64>>(1)?.unwrap_or(0),
                    started: row.get::<_, Option<i64>>(2)?.unwrap_or(0),
                })
            },
        )
        .optional()?;
    Ok(process.is_some_and(|process| process.alive()))
}

/// One transaction of a catch-up: the rows that waited for their run to
/// end, looked at again; then the rows above the mark, in id order, up
/// to [`BATCH_ROWS`] of them, [`BATCH_BYTES`] of text or [`BATCH_TIME`],
/// and the mark moved past them.
fn index_batch(transaction: &rusqlite::Transaction<'_>) -> rusqlite::Result<Batch> {
    let started = std::time::Instant::now();
    lower_mark(transaction)?;
    let mut mark = mark(transaction)?;
    let mut indexed = Indexed::default();
    let mut live: HashMap<i64, bool> = HashMap::new();
    let mut still_waiting: Vec<i64> = Vec::new();
    let mut insert = transaction.prepare_cached(
        "INSERT OR REPLACE INTO output_fts (rowid, stdout, stderr) VALUES (?1, ?2, ?3)",
    )?;
    let mut take = |row: &rusqlite::Row<'_>,
                    still_waiting: &mut Vec<i64>,
                    indexed: &mut Indexed|
     -> rusqlite::Result<()> {
        let (id, run): (i64, i64) = (row.get(0)?, row.get(1)?);
        let status: String = row.get(2)?;
        if unfinished(&status) {
            let going = match live.get(&run) {
                Some(&going) => going,
                None => *live.entry(run).or_insert(run_is_live(transaction, run)?),
            };
            if going {
                still_waiting.push(id);
                return Ok(());
            }
        }
        let (stdout, stderr) = row_texts(row, 3)?;
        if !stdout.is_empty() || !stderr.is_empty() {
            insert.execute(params![id, stdout, stderr])?;
            indexed.rows += 1;
            indexed.bytes += u64::try_from(stdout.len() + stderr.len()).unwrap_or(u64::MAX);
        }
        Ok(())
    };
    let columns = format!("SELECT id, run_id, status, {OUTPUT_COLUMNS} FROM tasks");
    {
        // A row that waited and is gone (pruned) waits no more.
        let mut again = transaction.prepare_cached(&format!("{columns} WHERE id = ?1"))?;
        for id in waiting(transaction)? {
            let mut rows = again.query([id])?;
            if let Some(row) = rows.next()? {
                take(row, &mut still_waiting, &mut indexed)?;
            }
        }
    }
    let mut statement =
        transaction.prepare_cached(&format!("{columns} WHERE id > ?1 ORDER BY id LIMIT ?2"))?;
    let mut rows = statement.query(params![mark, BATCH_ROWS])?;
    let mut seen = 0;
    let mut done = true;
    while let Some(row) = rows.next()? {
        seen += 1;
        take(row, &mut still_waiting, &mut indexed)?;
        mark = row.get(0)?;
        if indexed.bytes >= BATCH_BYTES || started.elapsed() >= BATCH_TIME {
            done = false;
            break;
        }
    }
    if seen == BATCH_ROWS {
        done = false;
    }
    drop(rows);
    indexed.waiting = !still_waiting.is_empty();
    set_mark(transaction, mark)?;
    set_waiting(transaction, &still_waiting)?;
    Ok(Batch { indexed, done })
}

/// Rows written by hand, for the tests of what reads them.
#[cfg(test)]
impl Store {
    /// A passed row of run `run` with this output; its id.
    pub(super) fn add_output_row(&self, run: i64, name: &str, stdout: &str, stderr: &str) -> i64 {
        self.connection
            .execute(
                "INSERT INTO tasks (run_id, name, command, status, stdout, stderr)
                 VALUES (?1, ?2, 'x', 'passed', ?3, ?4)",
                params![run, name, stdout, stderr],
            )
            .unwrap();
        self.connection.last_insert_rowid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::store;

    fn hits(store: &Store, query: &str) -> Vec<i64> {
        let mut statement = store
            .connection
            .prepare("SELECT rowid FROM output_fts WHERE output_fts MATCH ?1 ORDER BY rowid")
            .unwrap();
        statement
            .query_map([query], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn catching_up_indexes_what_is_new_and_resumes_from_the_mark() {
        let (_dir, mut store) = store();
        let run = store.add_run(0, &[]);
        let a = store.add_output_row(run, "a", "\u{1b}[31merror\u{1b}[0m: Café", "");
        store.add_output_row(run, "quiet", "", "");
        let indexed = store.index_output(&mut |_| {}).unwrap();
        assert_eq!(indexed.rows, 1, "a row without output is not indexed");
        assert!(!indexed.waiting);
        assert_eq!(hits(&store, "error"), [a]);
        assert_eq!(hits(&store, "cafe"), [a], "diacritics go");
        let b = store.add_output_row(run, "b", "", "error again\r\n");
        assert_eq!(store.index_output(&mut |_| {}).unwrap().rows, 1);
        assert_eq!(hits(&store, "error"), [a, b]);
        assert_eq!(mark(&store.connection).unwrap(), b);
        assert_eq!(store.index_output(&mut |_| {}).unwrap().rows, 0);
    }

    #[test]
    fn a_row_of_a_run_still_going_waits_and_the_rows_after_it_do_not() {
        let (_dir, mut store) = store();
        let plan = crate::testing::plan("a: true\nb: true\nc: true\n");
        let ids = store
            .begin_run(&crate::testing::new_run(), &plan, &plan.fingerprints())
            .unwrap();
        let finish = |store: &Store, task: usize, output: &str| {
            store
                .connection
                .execute(
                    "UPDATE tasks SET status = 'passed', stdout = ?2 WHERE id = ?1",
                    params![ids.tasks[task], output],
                )
                .unwrap();
        };
        finish(&store, 1, "later");
        let indexed = store.index_output(&mut |_| {}).unwrap();
        assert!(indexed.waiting, "this process runs it, and is alive");
        assert_eq!(indexed.rows, 1, "the row done after the one still going");
        assert_eq!(hits(&store, "later"), [ids.tasks[1]]);
        assert_eq!(mark(&store.connection).unwrap(), ids.tasks[2]);
        assert_eq!(
            waiting(&store.connection).unwrap(),
            [ids.tasks[0], ids.tasks[2]]
        );
        // The run goes on: a row that was waiting is indexed once done.
        finish(&store, 0, "sooner");
        let indexed = store.index_output(&mut |_| {}).unwrap();
        assert_eq!((indexed.rows, indexed.waiting), (1, true));
        assert_eq!(hits(&store, "sooner"), [ids.tasks[0]]);
        // Once the run is over (its taskrun gone), nothing waits.
        store
            .connection
            .execute("UPDATE runs SET status = 'interrupted'", [])
            .unwrap();
        let indexed = store.index_output(&mut |_| {}).unwrap();
        assert_eq!((indexed.rows, indexed.waiting), (0, false));
        assert!(waiting(&store.connection).unwrap().is_empty());
    }

    #[test]
    fn forgotten_rows_leave_no_hits_and_a_reused_id_is_indexed_again() {
        let (_dir, mut store) = store();
        let run = store.add_run(0, &[]);
        let a = store.add_output_row(run, "a", "alpha", "");
        let b = store.add_output_row(run, "b", "beta", "");
        store.index_output(&mut |_| {}).unwrap();
        store
            .write(|transaction| {
                transaction.execute("DELETE FROM output_fts WHERE rowid = ?1", [b])?;
                transaction.execute("DELETE FROM tasks WHERE id = ?1", [b])?;
                lower_mark(transaction)
            })
            .unwrap();
        assert_eq!(hits(&store, "beta"), Vec::<i64>::new());
        assert_eq!(mark(&store.connection).unwrap(), a);
        // SQLite gives the deleted id again; the index takes the new row.
        let again = store.add_output_row(run, "c", "gamma", "");
        assert_eq!(again, b);
        store.index_output(&mut |_| {}).unwrap();
        assert_eq!(hits(&store, "gamma"), [b]);
        assert_eq!(hits(&store, "beta"), Vec::<i64>::new());
    }

    /// A long catch-up lets a run that records meanwhile write: it gives
    /// the lock up between its transactions, for longer than SQLite's
    /// busy handler waits between two tries.
    #[test]
    fn a_long_catch_up_lets_others_write() {
        let (dir, mut store) = store();
        let run = store.add_run(0, &[]);
        let words = (0..600)
            .map(|i| format!("word{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        store.connection.execute_batch("BEGIN").unwrap();
        for i in 0..6000 {
            store.add_output_row(run, &format!("t{i}"), &words, "");
        }
        store.connection.execute_batch("COMMIT").unwrap();
        let path = dir.path().join("t.db");
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let other = Connection::open(path).unwrap();
            other
                .busy_timeout(std::time::Duration::from_secs(20))
                .unwrap();
            let asked = std::time::Instant::now();
            other
                .execute_batch(
                    "BEGIN IMMEDIATE; INSERT INTO meta (key, value) VALUES ('w', 1); COMMIT",
                )
                .unwrap();
            asked.elapsed()
        });
        let started = std::time::Instant::now();
        let indexed = store.index_output(&mut |_| {}).unwrap();
        let took = started.elapsed();
        let waited = writer.join().unwrap();
        assert_eq!(indexed.rows, 6000);
        // Only meaningful when the catch-up outlasted the writer's start.
        if took > std::time::Duration::from_millis(1500) {
            assert!(
                waited < std::time::Duration::from_secs(1),
                "the writer waited {waited:?} of a {took:?} catch-up"
            );
        }
    }

    #[test]
    fn a_row_taking_the_id_of_one_deleted_by_hand_is_indexed() {
        let (_dir, mut store) = store();
        let run = store.add_run(0, &[]);
        store.add_output_row(run, "a", "alpha", "");
        let b = store.add_output_row(run, "b", "beta", "");
        store.index_output(&mut |_| {}).unwrap();
        // Not through `prune`: with the sqlite3 shell, say. The next
        // catch-up, with nothing new to index, still brings the mark down
        // (a row inserted before it, into the same id, cannot be told
        // from the one deleted: `prune` brings the mark down itself).
        store
            .connection
            .execute("DELETE FROM tasks WHERE id = ?1", [b])
            .unwrap();
        assert_eq!(store.index_output(&mut |_| {}).unwrap().rows, 0);
        let again = store.add_output_row(run, "c", "gamma", "");
        assert_eq!(again, b);
        assert_eq!(store.index_output(&mut |_| {}).unwrap().rows, 1);
        assert_eq!(hits(&store, "gamma"), [b]);
        // And with nothing new, nothing is written.
        assert_eq!(store.index_output(&mut |_| {}).unwrap().rows, 0);
    }

    #[test]
    fn no_phrase_runs_across_what_a_truncated_stream_left_out() {
        let (_dir, mut store) = store();
        let run = store.add_run(0, &[]);
        let id = store.add_output_row(run, "cut", "", "");
        store
            .connection
            .execute(
                "UPDATE tasks SET stdout = 'the end of the start', stdout_truncated = 1,
                     stdout_tail = 'start of the end' WHERE id = ?1",
                [id],
            )
            .unwrap();
        store.index_output(&mut |_| {}).unwrap();
        assert_eq!(hits(&store, "\"start of the end\""), [id]);
        assert!(hits(&store, "\"the start start of\"").is_empty());
    }

    #[test]
    fn a_truncated_stream_is_indexed_by_its_start_and_end() {
        assert_eq!(indexed_text(b"start", Some(b"end")), "start\n\u{e000}\nend");
        assert_eq!(indexed_text(b"start", None), "start");
        assert_eq!(indexed_text(b"a\x01b\x1b[1m", None), "a b");
        assert_eq!(indexed_text(b"\xff ok", None), "\u{fffd} ok");
    }
}
