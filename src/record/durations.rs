//! What the history knows of how long tasks take, for the estimates that
//! order a run (see `order.rs`).
//!
//! Everything is read from the covering index `tasks_history (name,
//! fingerprint, status, run_id, duration_ms)`, so no row (whose output may
//! spill onto overflow pages) is ever read. A small plan asks per name; a
//! large one reads the index once, in order.

use std::collections::HashMap;
use std::time::Duration;

use super::store::{Store, StoreError};

/// How many of a task's latest passed attempts its estimate is the median
/// of.
pub(crate) const RECENT: usize = 10;

/// Plans with more names than this read the whole index once instead of
/// asking per name.
const ASK_PER_NAME_UP_TO: usize = 256;

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
    /// Passed attempts with the asked fingerprint: (run, ms), any order.
    same: Vec<(i64, i64)>,
    /// Passed attempts with any fingerprint.
    any: Vec<(i64, i64)>,
    /// The longest failed or timed-out attempt.
    failed: Option<i64>,
}

impl Seen {
    fn add(&mut self, same: bool, status: &[u8], run: i64, ms: i64) {
        match status {
            b"passed" => {
                if same {
                    keep_recent(&mut self.same, (run, ms));
                }
                keep_recent(&mut self.any, (run, ms));
            }
            b"failed" | b"timeout" => {
                self.failed = Some(self.failed.map_or(ms, |longest| longest.max(ms)));
            }
            _ => {}
        }
    }

    fn known(&self) -> Known {
        if let Some(median) = median(&self.same) {
            Known::Passed(median)
        } else if let Some(median) = median(&self.any) {
            Known::PassedAsOther(median)
        } else if let Some(ms) = self.failed {
            Known::FailedAfter(millis(ms))
        } else {
            Known::Nothing
        }
    }
}

/// Keeps the [`RECENT`] newest of `durations` (by run), adding `one`.
fn keep_recent(durations: &mut Vec<(i64, i64)>, one: (i64, i64)) {
    if durations.len() < RECENT {
        durations.push(one);
        return;
    }
    if let Some((oldest, _)) = durations.iter().enumerate().min_by_key(|(_, d)| d.0)
        && durations[oldest].0 < one.0
    {
        durations[oldest] = one;
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
    /// The positions in `tasks` of each name.
    index: HashMap<&'a str, Vec<usize>>,
    seen: Vec<Seen>,
}

impl Collector<'_> {
    /// One row of `tasks_history`: name, fingerprint, status, run and
    /// duration.
    fn take(&mut self, row: &rusqlite::Row<'_>) -> rusqlite::Result<()> {
        let name = row.get_ref(0)?.as_bytes().unwrap_or_default();
        let Some(positions) = std::str::from_utf8(name)
            .ok()
            .and_then(|name| self.index.get(name))
        else {
            return Ok(());
        };
        let fingerprint: Option<i64> = row.get(1)?;
        let status = row.get_ref(2)?.as_bytes().unwrap_or_default();
        let run: i64 = row.get(3)?;
        let Some(ms) = row.get::<_, Option<i64>>(4)? else {
            return Ok(());
        };
        for &position in positions {
            let same = fingerprint == Some(self.tasks[position].1);
            self.seen[position].add(same, status, run, ms);
        }
        Ok(())
    }
}

impl Store {
    /// What the history knows of each of `tasks` (name and fingerprint),
    /// in the same order.
    pub(crate) fn durations(&self, tasks: &[(&str, i64)]) -> Result<Vec<Known>, StoreError> {
        let mut index: HashMap<&str, Vec<usize>> = HashMap::with_capacity(tasks.len());
        for (position, (name, _)) in tasks.iter().enumerate() {
            index.entry(name).or_default().push(position);
        }
        let names: Vec<&str> = index.keys().copied().collect();
        let mut collector = Collector {
            tasks,
            index,
            seen: (0..tasks.len()).map(|_| Seen::default()).collect(),
        };
        let fail = |source| self.read_error(source);
        if names.len() <= ASK_PER_NAME_UP_TO {
            let mut statement = self
                .connection
                .prepare_cached(
                    "SELECT name, fingerprint, status, run_id, duration_ms FROM tasks
                     INDEXED BY tasks_history WHERE name = ?1",
                )
                .map_err(fail)?;
            for name in names {
                let mut rows = statement.query([name]).map_err(fail)?;
                while let Some(row) = rows.next().map_err(fail)? {
                    collector.take(row).map_err(fail)?;
                }
            }
        } else {
            let mut statement = self
                .connection
                .prepare(
                    "SELECT name, fingerprint, status, run_id, duration_ms FROM tasks
                     INDEXED BY tasks_history",
                )
                .map_err(fail)?;
            let mut rows = statement.query([]).map_err(fail)?;
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
