//! What the history says of each task over a window of runs, for `taskrun
//! stats`: how often it passed, failed and timed out, whether it is
//! flaky, and how long it takes.
//!
//! Everything is read in one pass over the covering index `tasks_history
//! (name, fingerprint, status, run_id, duration_ms)` (and the row id every
//! index entry carries), so no row, whose output may spill onto overflow
//! pages, is read. A name's entries come together; within a run, the
//! attempts of a task were written in order, so the one with the largest
//! row id is its last.

use std::fmt::Write as _;
use std::time::Duration;

use super::store::{Store, StoreError};
use crate::event::Status;

/// One pass over the index, from the oldest run of the window on.
const ENTRIES: &str = "SELECT name, fingerprint, status, run_id, duration_ms, id FROM tasks
     INDEXED BY tasks_history WHERE run_id >= ?1";

/// The order [`ENTRIES`] are read in, after any range of names: the
/// index's own, so nothing is sorted.
const BY_NAME: &str = " ORDER BY name";

/// Which runs count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Window {
    /// The newest this many runs.
    pub(crate) last: Option<usize>,
    /// The runs that started at or after this Unix time (seconds).
    pub(crate) since: Option<i64>,
}

/// The runs a window holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Runs {
    /// Their numbers, oldest first.
    pub(crate) ids: Vec<i64>,
}

/// What the window says of one task (by name).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TaskStats {
    pub(crate) name: String,
    /// The runs it has ended in (a row that is still pending or running
    /// does not count).
    pub(crate) runs: usize,
    /// How many of those its last attempt ended so.
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) timeout: usize,
    pub(crate) canceled: usize,
    pub(crate) skipped: usize,
    /// Runs in which an attempt failed or timed out and a later one
    /// passed (nextest's rule for a flaky test).
    pub(crate) retried: usize,
    /// The most times the outcome of its last attempt went from passed to
    /// failed or back, run after run, among the runs where it ran the
    /// same (the same fingerprint). One flip is a regression or a fix; two
    /// or more make it flaky.
    pub(crate) flips: usize,
    /// Passed attempts, oldest first.
    pub(crate) durations: Vec<Duration>,
    /// The same, shortest first.
    sorted: Vec<Duration>,
    /// See [`TaskStats::trend`].
    trend: Option<f64>,
}

impl TaskStats {
    /// A task of that name, with no runs yet.
    pub(crate) fn new(name: String) -> TaskStats {
        TaskStats {
            name,
            runs: 0,
            passed: 0,
            failed: 0,
            timeout: 0,
            canceled: 0,
            skipped: 0,
            retried: 0,
            flips: 0,
            durations: Vec::new(),
            sorted: Vec::new(),
            trend: None,
        }
    }

    /// Works out what its durations say, once they are all in.
    pub(crate) fn measured(mut self) -> TaskStats {
        self.sorted.clone_from(&self.durations);
        self.sorted.sort_unstable();
        self.trend = trend(&self.durations);
        self
    }

    /// Retry-flaky or history-flaky.
    pub(crate) fn is_flaky(&self) -> bool {
        self.retried > 0 || self.flips >= 2
    }

    /// The share of its runs that ended `status`, 0 to 1.
    #[expect(
        clippy::cast_precision_loss,
        reason = "53 bits are plenty for counts of runs"
    )]
    pub(crate) fn rate(&self, status: Status) -> f64 {
        let count = match status {
            Status::Passed | Status::Cached => self.passed,
            Status::Failed => self.failed,
            Status::Timeout => self.timeout,
            Status::Canceled => self.canceled,
            Status::Skipped => self.skipped,
        };
        if self.runs == 0 {
            0.0
        } else {
            count as f64 / self.runs as f64
        }
    }

    /// The duration at quantile `p` (0 to 1) of the passed attempts.
    pub(crate) fn quantile(&self, p: f64) -> Option<Duration> {
        quantile(&self.sorted, p)
    }

    /// How much slower (positive) or faster the newer half of its passed
    /// attempts is than the older half, comparing their medians (0.25 is
    /// 25% slower); `None` with fewer than [`TREND_SAMPLES`].
    pub(crate) fn trend(&self) -> Option<f64> {
        self.trend
    }
}

/// See [`TaskStats::trend`]; `durations` oldest first.
fn trend(durations: &[Duration]) -> Option<f64> {
    if durations.len() < TREND_SAMPLES {
        return None;
    }
    let (older, newer) = durations.split_at(durations.len() / 2);
    let median = |half: &[Duration]| {
        let mut half = half.to_vec();
        half.sort_unstable();
        quantile(&half, 0.5)
    };
    let (older, newer) = (median(older)?, median(newer)?);
    if older.is_zero() {
        return None;
    }
    Some(newer.as_secs_f64() / older.as_secs_f64() - 1.0)
}

/// How many passed attempts a trend needs.
pub(crate) const TREND_SAMPLES: usize = 6;

/// Linear interpolation between the closest ranks, at `p·(n−1)` of the
/// `sorted` values (what SQL's `percentile_cont` does).
#[expect(
    clippy::cast_precision_loss,
    reason = "53 bits are plenty for counts of samples"
)]
pub(crate) fn quantile(sorted: &[Duration], p: f64) -> Option<Duration> {
    let last = sorted.len().checked_sub(1)?;
    let at = p.clamp(0.0, 1.0) * last as f64;
    // `at` is within 0..=last, so the casts keep its value.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let below = at.floor() as usize;
    let above = (below + 1).min(last);
    let (low, high) = (sorted[below].as_secs_f64(), sorted[above].as_secs_f64());
    Some(Duration::from_secs_f64(
        low + (high - low) * (at - below as f64),
    ))
}

/// One entry of the index: a task's attempt.
struct Entry {
    fingerprint: Option<i64>,
    status: Option<Status>,
    run: i64,
    ms: Option<i64>,
    id: i64,
}

impl Store {
    /// The runs of `window`, oldest first.
    pub(crate) fn window(&self, window: Window) -> Result<Runs, StoreError> {
        let fail = |source| self.read_error(source);
        let limit = window
            .last
            .map_or(-1, |last| i64::try_from(last).unwrap_or(i64::MAX));
        let mut statement = self
            .connection
            .prepare("SELECT id FROM runs WHERE started_at >= ?1 ORDER BY id DESC LIMIT ?2")
            .map_err(fail)?;
        let mut ids: Vec<i64> = statement
            .query_map(
                rusqlite::params![window.since.unwrap_or(i64::MIN), limit],
                |row| row.get(0),
            )
            .map_err(fail)?
            .collect::<rusqlite::Result<_>>()
            .map_err(fail)?;
        ids.reverse();
        Ok(Runs { ids })
    }

    /// What the runs `runs` say of each task whose name `wanted` accepts,
    /// by name. Threads read ranges of names at once (see
    /// [`Store::by_ranges`]), cut by the names of the newest run.
    pub(crate) fn task_stats(
        &self,
        runs: &Runs,
        wanted: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Vec<TaskStats>, StoreError> {
        let fail = |source| self.read_error(source);
        let (Some(&oldest), Some(&newest)) = (runs.ids.first(), runs.ids.last()) else {
            return Ok(Vec::new());
        };
        let mut in_window = vec![false; usize::try_from(newest - oldest + 1).unwrap_or(0)];
        for &run in &runs.ids {
            if let Some(slot) = usize::try_from(run - oldest)
                .ok()
                .and_then(|at| in_window.get_mut(at))
            {
                *slot = true;
            }
        }
        let names: Vec<String> = {
            let mut statement = self
                .connection
                .prepare("SELECT name FROM tasks WHERE run_id = ?1")
                .map_err(fail)?;
            statement
                .query_map([newest], |row| row.get(0))
                .map_err(fail)?
                .collect::<rusqlite::Result<_>>()
                .map_err(fail)?
        };
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let window = Bounds {
            oldest,
            in_window: &in_window,
        };
        let mut stats = self
            .by_ranges(&names, &|connection, from, to| {
                scan(connection, window, wanted, from, to)
            })
            .map_err(fail)?;
        stats.retain(|task| task.runs > 0);
        Ok(stats)
    }
}

impl Store {
    /// The fingerprint of each task of `run` (of its last attempt), by
    /// name.
    pub(crate) fn fingerprints_of(
        &self,
        run: i64,
    ) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        let fail = |source| self.read_error(source);
        let mut statement = self
            .connection
            .prepare("SELECT name, fingerprint FROM tasks WHERE run_id = ?1 ORDER BY attempt")
            .map_err(fail)?;
        let rows = statement
            .query_map([run], |row| {
                Ok((row.get(0)?, row.get::<_, Option<i64>>(1)?))
            })
            .map_err(fail)?;
        let mut fingerprints = std::collections::HashMap::new();
        for row in rows {
            if let (name, Some(fingerprint)) = row.map_err(fail)? {
                fingerprints.insert(name, fingerprint);
            }
        }
        Ok(fingerprints)
    }

    /// The durations of the latest passed attempts of `name` with
    /// `fingerprint` (at most `limit`) in the runs before `run`: what it
    /// took before when it ran as it does there. A seek on the covering
    /// index.
    pub(crate) fn passed_up_to(
        &self,
        run: i64,
        name: &str,
        fingerprint: i64,
        limit: usize,
    ) -> Result<Vec<Duration>, StoreError> {
        let fail = |source| self.read_error(source);
        let mut statement = self.connection.prepare_cached(PASSED_UP_TO).map_err(fail)?;
        let mut rows = statement
            .query(rusqlite::params![name, fingerprint])
            .map_err(fail)?;
        let mut durations = Vec::new();
        // Newest first; the runs after `run` are passed over here rather
        // than in SQL, where a bound range makes SQLite plan the
        // statement again at each use.
        while let Some(row) = rows.next().map_err(fail)? {
            if durations.len() >= limit {
                break;
            }
            if row.get::<_, i64>(0).map_err(fail)? >= run {
                continue;
            }
            if let Some(ms) = row.get::<_, Option<i64>>(1).map_err(fail)? {
                durations.push(Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
            }
        }
        Ok(durations)
    }
}

/// See [`Store::passed_up_to`].
const PASSED_UP_TO: &str = "SELECT run_id, duration_ms FROM tasks INDEXED BY tasks_history
     WHERE name = ?1 AND fingerprint = ?2 AND status = 'passed'
     ORDER BY run_id DESC";

/// The runs of a window, as a scan checks them.
#[derive(Clone, Copy)]
struct Bounds<'a> {
    oldest: i64,
    /// For each run from `oldest` on, whether it is in the window.
    in_window: &'a [bool],
}

impl Bounds<'_> {
    fn holds(self, run: i64) -> bool {
        usize::try_from(run - self.oldest)
            .ok()
            .and_then(|at| self.in_window.get(at))
            .copied()
            .unwrap_or(false)
    }
}

/// The figures of the tasks named from `from` (included) to `to` (not
/// included), either end open.
fn scan(
    connection: &rusqlite::Connection,
    window: Bounds<'_>,
    wanted: &(dyn Fn(&str) -> bool + Sync),
    from: Option<&str>,
    to: Option<&str>,
) -> rusqlite::Result<Vec<TaskStats>> {
    let mut sql = ENTRIES.to_owned();
    let mut params: Vec<rusqlite::types::Value> = vec![window.oldest.into()];
    for (bound, op) in [(from, ">="), (to, "<")] {
        if let Some(name) = bound {
            params.push(name.to_owned().into());
            let _ = write!(sql, " AND name {op} ?{}", params.len());
        }
    }
    sql.push_str(BY_NAME);
    let mut statement = connection.prepare(&sql)?;
    let mut rows = statement.query(rusqlite::params_from_iter(params))?;
    let mut stats = Vec::new();
    let mut name: Option<String> = None;
    let mut wanted_name = false;
    let mut entries: Vec<Entry> = Vec::new();
    while let Some(row) = rows.next()? {
        let this = row.get_ref(0)?.as_bytes().unwrap_or_default();
        if name.as_ref().map(String::as_bytes) != Some(this) {
            if let (Some(done), true) = (name.take(), wanted_name) {
                stats.push(summarize(done, &mut entries));
            }
            entries.clear();
            let this = String::from_utf8_lossy(this).into_owned();
            wanted_name = wanted(&this);
            name = Some(this);
        }
        if !wanted_name {
            continue;
        }
        let integer = |column| -> rusqlite::Result<Option<i64>> {
            Ok(row.get_ref(column)?.as_i64_or_null().unwrap_or_default())
        };
        let Some(run) = integer(3)? else {
            continue;
        };
        if !window.holds(run) {
            continue;
        }
        entries.push(Entry {
            fingerprint: integer(1)?,
            status: status(row.get_ref(2)?.as_bytes().unwrap_or_default()),
            run,
            ms: integer(4)?,
            id: integer(5)?.unwrap_or_default(),
        });
    }
    if let (Some(done), true) = (name, wanted_name) {
        stats.push(summarize(done, &mut entries));
    }
    Ok(stats)
}

/// A status as the database spells it; `None` for `pending` and
/// `running`.
fn status(text: &[u8]) -> Option<Status> {
    match text {
        b"passed" => Some(Status::Passed),
        b"cached" => Some(Status::Cached),
        b"failed" => Some(Status::Failed),
        b"timeout" => Some(Status::Timeout),
        b"canceled" => Some(Status::Canceled),
        b"skipped" => Some(Status::Skipped),
        _ => None,
    }
}

/// One task's entries (in any order) into its figures.
fn summarize(name: String, entries: &mut [Entry]) -> TaskStats {
    // By run, and within a run in the order the attempts were written.
    // They come from the index in a few runs already sorted (one for each
    // fingerprint and status), which a stable sort merges in about one
    // pass.
    entries.sort_by_key(|entry| (entry.run, entry.id));
    let mut stats = TaskStats::new(name);
    // The last outcome (passed or not) of each fingerprint, and its flips
    // (a task mostly has one fingerprint, or a few).
    let mut outcomes: Vec<(Option<i64>, bool, usize)> = Vec::new();
    for run in entries.chunk_by(|a, b| a.run == b.run) {
        let last = &run[run.len() - 1];
        match last.status {
            Some(Status::Passed | Status::Cached) => stats.passed += 1,
            Some(Status::Failed) => stats.failed += 1,
            Some(Status::Timeout) => stats.timeout += 1,
            Some(Status::Canceled) => stats.canceled += 1,
            Some(Status::Skipped) => stats.skipped += 1,
            // Pending or running: a run still going (or one whose taskrun
            // died, not closed yet) has not said how the task ends, and
            // does not count.
            None => continue,
        }
        stats.runs += 1;
        let failed = |entry: &Entry| matches!(entry.status, Some(Status::Failed | Status::Timeout));
        let passed = last.status.is_some_and(Status::is_pass);
        if passed && run.iter().any(failed) {
            stats.retried += 1;
        }
        // A cached attempt's duration is the time its restore took, not
        // the task's: durations are of the attempts that ran.
        if let (Some(Status::Passed), Some(ms)) = (last.status, last.ms) {
            stats
                .durations
                .push(Duration::from_millis(u64::try_from(ms).unwrap_or(0)));
        }
        if passed || failed(last) {
            match outcomes
                .iter_mut()
                .find(|(fingerprint, _, _)| *fingerprint == last.fingerprint)
            {
                Some((_, before, flips)) => {
                    if *before != passed {
                        *flips += 1;
                        *before = passed;
                    }
                }
                None => outcomes.push((last.fingerprint, passed, 0)),
            }
        }
    }
    stats.flips = outcomes
        .iter()
        .map(|&(_, _, flips)| flips)
        .max()
        .unwrap_or(0);
    stats.measured()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::store;

    fn run(store: &Store, at: i64, rows: &[(&str, i64, &str, i64)]) -> i64 {
        store.add_run(at, rows)
    }

    fn stats_of(store: &Store, window: Window) -> Vec<TaskStats> {
        let runs = store.window(window).unwrap();
        store.task_stats(&runs, &|_| true).unwrap()
    }

    #[test]
    fn a_cached_run_counts_as_passed_and_its_restore_time_is_no_duration() {
        let (_dir, store) = store();
        run(&store, 10, &[("a", 1, "passed", 1000)]);
        run(&store, 20, &[("a", 1, "cached", 3)]);
        run(&store, 30, &[("a", 1, "failed", 5)]);
        let stats = stats_of(&store, Window::default());
        let a = &stats[0];
        assert_eq!((a.runs, a.passed, a.failed), (3, 2, 1));
        assert_eq!(a.durations, [Duration::from_secs(1)]);
        assert_eq!(a.quantile(0.95), Some(Duration::from_secs(1)));
        assert_eq!(
            store.passed_up_to(9, "a", 1, 10).unwrap(),
            [Duration::from_secs(1)]
        );
    }

    #[test]
    fn rates_use_the_last_attempt_and_durations_the_passed_ones() {
        let (_dir, store) = store();
        run(
            &store,
            10,
            &[("a", 1, "passed", 100), ("b", 1, "failed", 5)],
        );
        // `b` failed, then passed on its retry: retry-flaky.
        run(
            &store,
            20,
            &[
                ("a", 1, "passed", 300),
                ("b", 1, "failed", 5),
                ("b", 1, "passed", 50),
            ],
        );
        run(
            &store,
            30,
            &[("a", 1, "timeout", 9000), ("b", 1, "skipped", 0)],
        );
        let stats = stats_of(&store, Window::default());
        assert_eq!(stats.len(), 2);
        let (a, b) = (&stats[0], &stats[1]);
        assert_eq!(
            (a.name.as_str(), a.runs, a.passed, a.timeout),
            ("a", 3, 2, 1)
        );
        assert_eq!(
            a.durations,
            [Duration::from_millis(100), Duration::from_millis(300)]
        );
        assert_eq!(a.quantile(0.5), Some(Duration::from_millis(200)));
        assert_eq!(a.quantile(0.95), Some(Duration::from_millis(290)));
        assert!((a.rate(Status::Passed) - 2.0 / 3.0).abs() < 1e-9);
        assert!(!a.is_flaky(), "one flip is a regression");
        assert_eq!(
            (b.runs, b.passed, b.failed, b.skipped, b.retried),
            (3, 1, 1, 1, 1)
        );
        assert!(b.is_flaky());
        // The window: the newest two runs, or those since a time.
        let last = stats_of(
            &store,
            Window {
                last: Some(1),
                since: None,
            },
        );
        assert_eq!((last[0].runs, last[0].timeout), (1, 1));
        let since = stats_of(
            &store,
            Window {
                last: None,
                since: Some(20),
            },
        );
        assert_eq!(since[0].runs, 2);
        assert!(
            stats_of(
                &store,
                Window {
                    last: None,
                    since: Some(31)
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn the_pass_reads_only_the_covering_index_in_its_order() {
        let (_dir, store) = store();
        let sql = format!("EXPLAIN QUERY PLAN {ENTRIES} AND name >= 'a' AND name < 'b'{BY_NAME}");
        let plan: String = store
            .connection
            .prepare(&sql)
            .unwrap()
            .query_map([1], |row| row.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(plan.contains("COVERING INDEX tasks_history"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    #[test]
    fn a_task_still_running_does_not_count_yet() {
        let (_dir, store) = store();
        run(&store, 1, &[("a", 1, "passed", 10)]);
        run(&store, 2, &[("a", 1, "running", 0), ("b", 1, "pending", 0)]);
        let stats = stats_of(&store, Window::default());
        assert_eq!(stats.len(), 1, "`b` never ended");
        assert_eq!((stats[0].runs, stats[0].passed), (1, 1));
    }

    #[test]
    fn the_history_before_a_run_leaves_that_run_and_later_ones_out() {
        let (_dir, store) = store();
        for (at, ms) in [(1, 100), (2, 200), (3, 300), (4, 400)] {
            run(&store, at, &[("t", 5, "passed", ms), ("u", 6, "passed", 1)]);
        }
        run(&store, 5, &[("t", 9, "passed", 999)]);
        let ms = |durations: Vec<Duration>| -> Vec<u128> {
            durations.iter().map(Duration::as_millis).collect()
        };
        assert_eq!(ms(store.passed_up_to(3, "t", 5, 100).unwrap()), [200, 100]);
        assert_eq!(ms(store.passed_up_to(9, "t", 5, 2).unwrap()), [400, 300]);
        assert!(
            store.passed_up_to(9, "t", 7, 100).unwrap().is_empty(),
            "another fingerprint"
        );
    }

    #[test]
    fn two_flips_of_one_fingerprint_make_a_task_flaky() {
        let (_dir, store) = store();
        for (at, status) in [(1, "passed"), (2, "failed"), (3, "passed")] {
            run(&store, at, &[("x", 7, status, 10)]);
        }
        assert_eq!(stats_of(&store, Window::default())[0].flips, 2);
        // Changed between each run: each fingerprint kept its outcome.
        let (_other, store) = crate::testing::store();
        for (at, fingerprint, status) in [(1, 1, "passed"), (2, 2, "failed"), (3, 3, "passed")] {
            run(&store, at, &[("y", fingerprint, status, 10)]);
        }
        let y = &stats_of(&store, Window::default())[0];
        assert_eq!(y.flips, 0);
        assert!(!y.is_flaky());
    }

    #[test]
    fn quantiles_interpolate_between_ranks_and_trends_compare_halves() {
        let ms = |values: &[u64]| -> Vec<Duration> {
            values.iter().map(|&v| Duration::from_millis(v)).collect()
        };
        assert_eq!(quantile(&ms(&[]), 0.5), None);
        assert_eq!(quantile(&ms(&[7]), 0.95), Some(Duration::from_millis(7)));
        assert_eq!(
            quantile(&ms(&[10, 20, 30, 40]), 0.5),
            Some(Duration::from_millis(25))
        );
        assert_eq!(
            quantile(&ms(&[0, 100]), 0.95),
            Some(Duration::from_millis(95))
        );
        let change = trend(&ms(&[100, 100, 100, 150, 150, 150])).unwrap();
        assert!((change - 0.5).abs() < 1e-9, "{change}");
        assert_eq!(trend(&ms(&[100, 100, 100, 150, 150])), None);
    }
}
