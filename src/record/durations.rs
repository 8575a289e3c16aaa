//! What the history knows of how long tasks take, for the estimates that
//! order a run (see `order.rs`).
//!
//! Everything is read from the covering index `tasks_history (name,
//! fingerprint, status, run_id, duration_ms)`, so no row (whose output may
//! spill onto overflow pages) is ever read. Each task's latest passed
//! attempts are found one of two ways, whichever reads less: a seek per
//! task to its ten latest (the cost grows with the plan, not with the
//! history), or, for a plan that has most of a short history to itself,
//! one pass over the index's passed rows, cut into ranges of names that
//! threads read at once (one a core). Either way, only the tasks whose
//! fingerprint never passed are then asked for the rest of their name's
//! history (rules 2 and 3).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::store::{Store, StoreError};

/// How many of a task's latest passed attempts its estimate is the median
/// of.
pub(crate) const RECENT: usize = 10;

/// Plans of up to this many tasks always seek.
const SEEK_UP_TO: usize = 256;

/// A seek costs about as much as reading this many rows in a pass over the
/// index (`bench/estimates.sh`, both ways over 1,000,000 rows: 100,000
/// seeks took 5.1 µs each, the pass 0.39 µs a row): a larger plan seeks
/// while the history has more than this many rows for each of its tasks.
const ROWS_PER_SEEK: usize = 13;

/// The latest passed attempts of a name and fingerprint, newest first: run
/// and duration.
const LATEST_PASSED: &str = "SELECT run_id, duration_ms FROM tasks INDEXED BY tasks_history
     WHERE name = ?1 AND fingerprint = ?2 AND status = 'passed'
     ORDER BY run_id DESC LIMIT ?3";

/// Every passed attempt: name, fingerprint and duration, in the index's
/// order; [`passed_between`] adds a range of names.
const ALL_PASSED: &str = "SELECT name, fingerprint, duration_ms FROM tasks
     INDEXED BY tasks_history WHERE status = 'passed'";

/// Every attempt of a name, as [`Collector::take`] reads them.
const ALL_OF_NAME: &str = "SELECT name, fingerprint, status, run_id, duration_ms FROM tasks
     INDEXED BY tasks_history WHERE name = ?1";

/// What the history knows of one task, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Known {
    /// The median of its latest passed attempts with the same fingerprint.
    Passed(Duration),
    /// The median of its latest passed attempts, whatever they ran.
    PassedAsOther(Duration),
    /// It only ever failed or timed out: it ran at least this long.
    FailedAfter(Duration),
    /// Nothing.
    Nothing,
}

/// The durations (ms) seen for one name, as the index gives them.
#[derive(Debug, Default)]
struct Seen {
    /// Passed attempts with the asked fingerprint.
    same: Recent,
    /// Passed attempts with any fingerprint.
    any: Recent,
    /// The longest failed or timed-out attempt.
    failed: Option<i64>,
}

impl Seen {
    fn add(&mut self, same: bool, status: &[u8], run: i64, ms: i64) {
        match status {
            b"passed" => {
                if same {
                    self.same.add(run, ms);
                }
                self.any.add(run, ms);
            }
            b"failed" | b"timeout" => {
                self.failed = Some(self.failed.map_or(ms, |longest| longest.max(ms)));
            }
            _ => {}
        }
    }

    fn known(&self) -> Known {
        if let Some(median) = median(self.same.kept()) {
            Known::Passed(median)
        } else if let Some(median) = median(self.any.kept()) {
            Known::PassedAsOther(median)
        } else if let Some(ms) = self.failed {
            Known::FailedAfter(millis(ms))
        } else {
            Known::Nothing
        }
    }
}

/// The [`RECENT`] newest durations seen (by run), without allocating:
/// a plan of 100,000 tasks keeps one of these for each.
#[derive(Debug, Default)]
struct Recent {
    /// (run, ms); the first `len` are kept.
    kept: [(i64, i64); RECENT],
    len: usize,
}

impl Recent {
    fn add(&mut self, run: i64, ms: i64) {
        if self.len < RECENT {
            self.kept[self.len] = (run, ms);
            self.len += 1;
            return;
        }
        let (oldest, _) = self
            .kept
            .iter()
            .enumerate()
            .min_by_key(|(_, kept)| kept.0)
            .unwrap_or((0, &(0, 0)));
        if self.kept[oldest].0 < run {
            self.kept[oldest] = (run, ms);
        }
    }

    fn kept(&self) -> &[(i64, i64)] {
        &self.kept[..self.len]
    }
}

/// The median of the durations (the mean of the middle two for an even
/// count).
fn median(durations: &[(i64, i64)]) -> Option<Duration> {
    if durations.is_empty() {
        return None;
    }
    let mut ms: Vec<i64> = durations.iter().map(|&(_, ms)| ms).collect();
    ms.sort_unstable();
    let middle = ms.len() / 2;
    let median = if ms.len().is_multiple_of(2) {
        i64::midpoint(ms[middle - 1], ms[middle])
    } else {
        ms[middle]
    };
    Some(millis(median))
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Gathers the index rows of the names asked for.
struct Collector<'a> {
    tasks: &'a [(&'a str, i64)],
    /// The position in `tasks` of each name (a plan's names are unique).
    index: HashMap<&'a [u8], usize>,
    seen: Vec<Seen>,
    /// The name of the last row, and its position: rows come in the
    /// index's order, a name's rows together, so most rows need no lookup.
    last: (Vec<u8>, Option<usize>),
}

impl Collector<'_> {
    /// The position in the plan of the task named `name` (kept from the
    /// last row when it is the same name).
    fn position(&mut self, name: &[u8]) -> Option<usize> {
        if name != self.last.0.as_slice() {
            self.last = (name.to_vec(), self.index.get(name).copied());
        }
        self.last.1
    }

    /// One row of `tasks_history`: name, fingerprint, status, run and
    /// duration.
    fn take(&mut self, row: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
        let name = row.get_ref(0)?.as_bytes().unwrap_or_default();
        let Some(position) = self.position(name) else {
            return Ok(());
        };
        let fingerprint: Option<i64> = row.get(1)?;
        let status = row.get_ref(2)?.as_bytes().unwrap_or_default();
        let run: i64 = row.get(3)?;
        let Some(ms) = row.get::<_, Option<i64>>(4)? else {
            return Ok(());
        };
        let same = fingerprint == Some(self.tasks[position].1);
        self.seen[position].add(same, status, run, ms);
        Ok(())
    }
}

/// The latest passed attempts with each task's own fingerprint, for the
/// names from `from` (included) to `to` (not included), one end or both
/// open: the position of each task that has some, and them.
fn passed_between(
    connection: &rusqlite::Connection,
    tasks: &[(&str, i64)],
    index: &HashMap<&[u8], usize>,
    from: Option<&str>,
    to: Option<&str>,
) -> rusqlite::Result<Vec<(usize, Recent)>> {
    let mut sql = ALL_PASSED.to_owned();
    let mut params = Vec::new();
    for (bound, op) in [(from, ">="), (to, "<")] {
        if let Some(name) = bound {
            params.push(name);
            let _ = write!(sql, " AND name {op} ?{}", params.len());
        }
    }
    let mut statement = connection.prepare(&sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(params))?;
    let mut found: Vec<(usize, Recent)> = Vec::new();
    let mut last: (Vec<u8>, Option<usize>) = (Vec::new(), None);
    let mut order = 0;
    while let Some(row) = rows.next()? {
        order += 1;
        let name = row.get_ref(0)?.as_bytes().unwrap_or_default();
        // A name's rows come together: most rows need no lookup.
        if name != last.0.as_slice() {
            last = (name.to_vec(), index.get(name).copied());
        }
        let Some(position) = last.1 else {
            continue;
        };
        if row.get::<_, Option<i64>>(1)? != Some(tasks[position].1) {
            continue;
        }
        let Some(ms) = row.get::<_, Option<i64>>(2)? else {
            continue;
        };
        // A name and fingerprint's rows come together too, in run order.
        match found.last_mut() {
            Some((at, recent)) if *at == position => recent.add(order, ms),
            _ => {
                let mut recent = Recent::default();
                recent.add(order, ms);
                found.push((position, recent));
            }
        }
    }
    Ok(found)
}

impl Store {
    /// What the history knows of each of `tasks` (name and fingerprint),
    /// in the same order. The names are those of a plan: each once.
    pub(crate) fn durations(&self, tasks: &[(&str, i64)]) -> Result<Vec<Known>, StoreError> {
        let index: HashMap<&[u8], usize> = tasks
            .iter()
            .enumerate()
            .map(|(position, (name, _))| (name.as_bytes(), position))
            .collect();
        let mut collector = Collector {
            tasks,
            index,
            seen: (0..tasks.len()).map(|_| Seen::default()).collect(),
            last: (Vec::new(), None),
        };
        let fail = |source| self.read_error(source);
        // Row ids only grow, so the largest is about how many rows there
        // are (more, after a prune), at once.
        let rows: i64 = self
            .connection
            .query_row("SELECT COALESCE(MAX(id), 0) FROM tasks", [], |row| {
                row.get(0)
            })
            .map_err(fail)?;
        let seek = tasks.len() <= SEEK_UP_TO
            || usize::try_from(rows).unwrap_or(usize::MAX) / ROWS_PER_SEEK > tasks.len();
        if seek {
            // The latest passed attempts of each task as it is now, newest
            // first, straight from the index's order.
            let mut statement = self.connection.prepare(LATEST_PASSED).map_err(fail)?;
            for (position, &(name, fingerprint)) in tasks.iter().enumerate() {
                let mut rows = statement
                    .query(rusqlite::params![
                        name,
                        fingerprint,
                        i64::try_from(RECENT).unwrap_or(i64::MAX)
                    ])
                    .map_err(fail)?;
                while let Some(row) = rows.next().map_err(fail)? {
                    if let Some(ms) = row.get::<_, Option<i64>>(1).map_err(fail)? {
                        collector.seen[position]
                            .same
                            .add(row.get(0).map_err(fail)?, ms);
                    }
                }
            }
        } else {
            // One pass over the index's passed rows: within a name and
            // fingerprint they come in run order, so the last ones are the
            // latest, and three columns are all it takes. (Gathering them
            // in SQL, with group_concat ordered by run, was slower.) The
            // names are cut into ranges that threads read at once, each
            // with a connection of its own; a range whose connection
            // cannot be opened is read on this one.
            let names: Vec<&str> = tasks.iter().map(|&(name, _)| name).collect();
            let index = &collector.index;
            let found = self.by_ranges(&names, &|connection, from, to| {
                passed_between(connection, tasks, index, from, to)
            });
            for (position, recent) in found.map_err(fail)? {
                collector.seen[position].same = recent;
            }
        }
        // What that cannot tell (a task whose fingerprint never passed:
        // rules 2 and 3) is asked per name.
        let ask: Vec<&str> = tasks
            .iter()
            .zip(&collector.seen)
            .filter(|(_, seen)| seen.same.len == 0)
            .map(|((name, _), _)| *name)
            .collect();
        let mut statement = self.connection.prepare_cached(ALL_OF_NAME).map_err(fail)?;
        for name in ask {
            let mut rows = statement.query([name]).map_err(fail)?;
            while let Some(row) = rows.next().map_err(fail)? {
                collector.take(row).map_err(fail)?;
            }
        }
        Ok(collector.seen.iter().map(Seen::known).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::store;

    /// Task rows of `runs` runs: `name` with fingerprint `fingerprint`
    /// took `ms` plus the run's number and ended `status` in each.
    fn history(store: &Store, rows: &[(&str, i64, &str, i64)], runs: i64) {
        for run in 1..=runs {
            let rows: Vec<_> = rows
                .iter()
                .map(|&(name, fingerprint, status, ms)| (name, fingerprint, status, ms + run))
                .collect();
            assert_eq!(store.add_run(0, &rows), run);
        }
    }

    #[test]
    fn estimates_read_only_the_covering_index() {
        let (_dir, store) = store();
        let a = rusqlite::types::Value::Text("a".to_owned());
        let one = rusqlite::types::Value::Integer(1);
        let ten = rusqlite::types::Value::Integer(10);
        for (sql, params) in [
            (ALL_OF_NAME, vec![a.clone()]),
            (ALL_PASSED, vec![]),
            (
                &format!("{ALL_PASSED} AND name >= ?1 AND name < ?2"),
                vec![a.clone(), a.clone()],
            ),
            (LATEST_PASSED, vec![a, one, ten]),
        ] {
            let plan: String = store
                .connection
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(rusqlite::params_from_iter(params), |row| {
                    row.get::<_, String>(3)
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(plan.contains("COVERING INDEX tasks_history"), "{plan}");
            // The latest come in the index's order: nothing is sorted.
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }

    fn names_of<'a>(tasks: &[(&'a str, i64)]) -> Vec<&'a str> {
        tasks.iter().map(|&(name, _)| name).collect()
    }

    #[test]
    fn threads_reading_ranges_of_names_read_what_one_pass_reads() {
        let (_dir, store) = store();
        let names: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
        let rows: Vec<(&str, i64, &str, i64)> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.as_str(), 1, "passed", i64::try_from(i).unwrap()))
            .collect();
        history(&store, &rows, 3);
        let tasks: Vec<(&str, i64)> = names.iter().map(|name| (name.as_str(), 1)).collect();
        let index: HashMap<&[u8], usize> = tasks
            .iter()
            .enumerate()
            .map(|(position, (name, _))| (name.as_bytes(), position))
            .collect();
        let cuts = crate::record::store::cuts(&names_of(&tasks), 3);
        assert_eq!(cuts.len(), 2);
        assert!(cuts[0] < cuts[1], "{cuts:?}");
        let whole = passed_between(&store.connection, &tasks, &index, None, None).unwrap();
        assert_eq!(whole.len(), 40);
        let reader = store.reader().unwrap();
        let mut parts = Vec::new();
        for (from, to) in [
            (None, Some(cuts[0])),
            (Some(cuts[0]), Some(cuts[1])),
            (Some(cuts[1]), None),
        ] {
            let part = passed_between(&reader, &tasks, &index, from, to).unwrap();
            assert!(!part.is_empty());
            parts.extend(part);
        }
        let key = |found: &[(usize, Recent)]| -> Vec<(usize, Vec<i64>)> {
            let mut key: Vec<_> = found
                .iter()
                .map(|(position, recent)| (*position, recent.kept().iter().map(|k| k.1).collect()))
                .collect();
            key.sort_unstable();
            key
        };
        assert_eq!(key(&parts), key(&whole));
        assert_eq!(
            crate::record::store::cuts(&names_of(&tasks[..1]), 4),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn a_large_plan_reads_the_same_as_a_small_one() {
        let (_dir, store) = store();
        history(
            &store,
            &[
                ("same", 7, "passed", 100),
                ("changed", 1, "passed", 300),
                ("failing", 3, "failed", 50),
            ],
            12,
        );
        let asked = [("same", 7), ("changed", 2), ("failing", 3), ("new", 9)];
        let expected = [
            // Runs 3 to 12 (the ten latest) took 103 to 112 ms.
            Known::Passed(Duration::from_millis(107)),
            Known::PassedAsOther(Duration::from_millis(307)),
            Known::FailedAfter(Duration::from_millis(62)),
            Known::Nothing,
        ];
        assert_eq!(store.durations(&asked).unwrap(), expected);
        // That was a seek per task. Past SEEK_UP_TO tasks, with a history
        // much shorter than ROWS_PER_SEEK rows a task, one pass instead.
        let names: Vec<String> = (0..=SEEK_UP_TO).map(|i| format!("pad{i}")).collect();
        let mut many: Vec<(&str, i64)> = asked.to_vec();
        many.extend(names.iter().map(|name| (name.as_str(), 0)));
        assert_eq!(store.durations(&many).unwrap()[..4], expected);
    }

    #[test]
    fn a_cached_row_does_not_move_an_estimate() {
        let (_dir, store) = store();
        history(&store, &[("build", 7, "passed", 1000)], 3);
        // Restored from the store in a few milliseconds, many times over.
        for _ in 0..12 {
            store.add_run(0, &[("build", 7, "cached", 2)]);
        }
        let asked = [("build", 7), ("build", 8)];
        // The three passed runs took 1001, 1002 and 1003 ms.
        let expected = [
            Known::Passed(Duration::from_millis(1002)),
            Known::PassedAsOther(Duration::from_millis(1002)),
        ];
        assert_eq!(store.durations(&asked).unwrap(), expected);
        let mut seen = Seen::default();
        seen.add(true, b"cached", 1, 5);
        assert_eq!(seen.known(), Known::Nothing);
    }

    #[test]
    fn the_median_of_the_latest_passed_attempts() {
        let mut seen = Seen::default();
        for run in 1..=15 {
            // Runs 1-5 took 100 s; the 10 latest took 1, 2, … 10 ms.
            let ms = if run <= 5 { 100_000 } else { run - 5 };
            seen.add(true, b"passed", run, ms);
        }
        assert_eq!(seen.known(), Known::Passed(Duration::from_millis(5)));
        let mut other = Seen::default();
        other.add(false, b"passed", 1, 300);
        other.add(false, b"failed", 2, 9_000);
        assert_eq!(
            other.known(),
            Known::PassedAsOther(Duration::from_millis(300))
        );
        let mut failing = Seen::default();
        failing.add(true, b"failed", 1, 200);
        failing.add(true, b"timeout", 2, 5_000);
        failing.add(true, b"skipped", 3, 0);
        assert_eq!(failing.known(), Known::FailedAfter(Duration::from_secs(5)));
        assert_eq!(Seen::default().known(), Known::Nothing);
    }
}
