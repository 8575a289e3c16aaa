//! `taskrun prune`: old runs deleted from the history, each with its task
//! rows, so that the database does not grow without end.
//!
//! Which runs go is decided here, purely, by [`choose`]: the rule
//! (`--keep N` or `--older-than AGE`) picks them, and a run whose taskrun
//! is still running is never among them. The store deletes them in one
//! transaction.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::cli::{PruneArgs, PruneWhich};
use crate::error::{Error, plural};
use crate::exit_code;
use crate::record::{Deleted, RunRow, Store};
use crate::report::history::{run_lines, size};
use crate::units::unix_seconds;

use super::print_out;

/// Which runs are deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rule {
    /// All but the N newest.
    Keep(usize),
    /// Those that started longer ago than this.
    OlderThan(Duration),
}

impl From<&PruneWhich> for Rule {
    fn from(which: &PruneWhich) -> Rule {
        match (which.keep, which.older_than) {
            (Some(keep), _) => Rule::Keep(keep),
            (None, Some(age)) => Rule::OlderThan(age),
            // The command line requires one of the two; were neither
            // there, nothing would be deleted.
            (None, None) => Rule::Keep(usize::MAX),
        }
    }
}

/// The runs a rule picks, with the ones it picks that are still running
/// and so are kept after all.
#[derive(Debug)]
pub(super) struct Choice<'a> {
    /// Newest first, as the runs were given.
    pub(super) deleted: Vec<&'a RunRow>,
    pub(super) running: Vec<&'a RunRow>,
}

/// Applies `rule` to `runs` (newest first) at the time `now` (Unix
/// seconds).
pub(super) fn choose(runs: &[RunRow], rule: Rule, now: i64) -> Choice<'_> {
    let picked: Vec<&RunRow> = match rule {
        Rule::Keep(keep) => runs.iter().skip(keep).collect(),
        Rule::OlderThan(age) => {
            let age = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
            let cutoff = now.saturating_sub(age);
            runs.iter().filter(|run| run.started_at < cutoff).collect()
        }
    };
    let (running, deleted) = picked.into_iter().partition(|run| run.status.is_live());
    Choice { deleted, running }
}

/// The numbers of the deleted runs, as few ranges as say them exactly:
/// `#1–#12, #15`. A range is broken only by a run that is kept, so
/// numbers that no run has any more may lie inside one.
pub(super) fn ranges(runs: &[RunRow], deleted: &[&RunRow]) -> String {
    let gone: std::collections::HashSet<i64> = deleted.iter().map(|run| run.id).collect();
    let mut ids: Vec<i64> = runs.iter().map(|run| run.id).collect();
    ids.sort_unstable();
    let mut groups: Vec<(i64, i64)> = Vec::new();
    let mut open = false;
    for id in ids {
        match (gone.contains(&id), groups.last_mut()) {
            (true, Some((_, last))) if open => *last = id,
            (true, _) => {
                groups.push((id, id));
                open = true;
            }
            (false, _) => open = false,
        }
    }
    groups
        .iter()
        .map(|&(first, last)| {
            if first == last {
                format!("#{first}")
            } else {
                format!("#{first}–#{last}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `taskrun prune`.
pub(crate) fn prune(args: &PruneArgs) -> Result<u8, Error> {
    let db = &args.db.path;
    // Nothing to prune, and nothing is created.
    if !db.exists() {
        print_out(&format!(
            "No runs recorded yet: `{}` does not exist.\n",
            db.display()
        ))?;
        return Ok(exit_code::SUCCESS);
    }
    let mut store = Store::open(db)?;
    let runs = store.runs(usize::MAX)?;
    let choice = choose(
        &runs,
        Rule::from(&args.which),
        unix_seconds(SystemTime::now()),
    );
    let ids: Vec<i64> = choice.deleted.iter().map(|run| run.id).collect();
    let deleted = store.delete_runs(&ids, args.dry_run)?;
    let mut out = String::new();
    for run in &choice.running {
        let _ = writeln!(out, "Kept run #{}: it is {}.", run.id, run.still_live());
    }
    if runs.is_empty() {
        let _ = writeln!(out, "No runs recorded yet in `{}`.", db.display());
    }
    out.push_str(&summary(&runs, &choice, deleted, args.dry_run));
    if args.vacuum && !args.dry_run {
        let before = file_size(db);
        store.vacuum()?;
        let _ = match (before, file_size(db)) {
            (Some(before), Some(after)) => writeln!(
                out,
                "Compacted `{}`: {} → {}.",
                db.display(),
                size(before),
                size(after)
            ),
            _ => writeln!(out, "Compacted `{}`.", db.display()),
        };
    }
    print_out(&out)?;
    Ok(exit_code::SUCCESS)
}

/// What was deleted, or with `dry_run` what would be and which runs.
fn summary(runs: &[RunRow], choice: &Choice<'_>, deleted: Deleted, dry_run: bool) -> String {
    let verb = if dry_run { "Would delete" } else { "Deleted" };
    let mut out = String::new();
    if runs.is_empty() {
        // The caller says so, naming the database.
    } else if choice.deleted.is_empty() {
        let _ = writeln!(out, "Nothing to prune: {} kept.", plural(runs.len(), "run"));
    } else {
        let _ = write!(
            out,
            "{verb} {} ({}) and {} {}",
            plural(choice.deleted.len(), "run"),
            ranges(runs, &choice.deleted),
            if choice.deleted.len() == 1 {
                "its"
            } else {
                "their"
            },
            plural(rows(deleted.task_rows), "task row")
        );
        if dry_run {
            let owned: Vec<RunRow> = choice.deleted.iter().map(|&run| run.clone()).collect();
            let _ = write!(out, ":\n{}", run_lines(&owned));
        } else {
            out.push_str(".\n");
        }
    }
    if deleted.orphan_rows > 0 {
        let _ = writeln!(
            out,
            "{verb} {} left behind by runs deleted before.",
            plural(rows(deleted.orphan_rows), "task row")
        );
    }
    out
}

fn rows(count: u64) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX)
}

/// The size of the database on disk: its file and its write-ahead log.
fn file_size(db: &Path) -> Option<i64> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let main = std::fs::metadata(db).ok()?.len();
    let log = std::fs::metadata(&wal).map_or(0, |meta| meta.len());
    i64::try_from(main + log).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RunStatus;
    use crate::testing::run_row;

    /// Runs #5 (newest) to #1, a day apart, the newest started at `now`.
    fn runs(now: i64) -> Vec<RunRow> {
        (1..=5)
            .rev()
            .map(|id| {
                let mut run = run_row(id);
                run.started_at = now - (5 - id) * 86_400;
                run
            })
            .collect()
    }

    fn ids(runs: &[&RunRow]) -> Vec<i64> {
        runs.iter().map(|run| run.id).collect()
    }

    #[test]
    fn keep_keeps_the_newest() {
        let runs = runs(1_000_000);
        assert_eq!(ids(&choose(&runs, Rule::Keep(2), 0).deleted), [3, 2, 1]);
        assert_eq!(
            ids(&choose(&runs, Rule::Keep(0), 0).deleted),
            [5, 4, 3, 2, 1]
        );
        assert!(choose(&runs, Rule::Keep(9), 0).deleted.is_empty());
    }

    #[test]
    fn older_than_goes_by_when_a_run_started() {
        let now = 1_000_000;
        let runs = runs(now);
        let older = |age| ids(&choose(&runs, Rule::OlderThan(age), now).deleted);
        // Run #3 started exactly two days ago: not longer ago than that.
        assert_eq!(older(Duration::from_secs(2 * 86_400)), [2, 1]);
        assert_eq!(older(Duration::from_secs(2 * 86_400 - 1)), [3, 2, 1]);
        assert!(older(Duration::MAX).is_empty());
        assert_eq!(older(Duration::ZERO), [4, 3, 2, 1]);
    }

    #[test]
    fn a_live_run_is_never_deleted() {
        let mut runs = runs(1_000_000);
        runs[3].status = RunStatus::Running;
        // A broker's run, still taking tasks.
        runs[4].status = RunStatus::Open;
        let choice = choose(&runs, Rule::Keep(1), 0);
        assert_eq!(ids(&choice.deleted), [4, 3]);
        assert_eq!(ids(&choice.running), [2, 1]);
    }

    #[test]
    fn ranges_are_broken_only_by_kept_runs() {
        let mut all = runs(0);
        // No run #4 any more: it was deleted before.
        all.remove(1);
        let by_id = |wanted: &[i64]| -> Vec<&RunRow> {
            all.iter().filter(|run| wanted.contains(&run.id)).collect()
        };
        assert_eq!(ranges(&all, &by_id(&[1, 2, 3, 5])), "#1–#5");
        assert_eq!(ranges(&all, &by_id(&[1, 3])), "#1, #3");
        assert_eq!(ranges(&all, &by_id(&[1, 2, 5])), "#1–#2, #5");
        assert_eq!(ranges(&all, &by_id(&[3])), "#3");
    }

    #[test]
    fn the_summary_says_what_went() {
        let all = runs(0);
        let choice = choose(&all, Rule::Keep(2), 0);
        let deleted = Deleted {
            task_rows: 340,
            orphan_rows: 0,
        };
        assert_eq!(
            summary(&all, &choice, deleted, false),
            "Deleted 3 runs (#1–#3) and their 340 task rows.\n"
        );
        let one = choose(&all, Rule::Keep(4), 0);
        let orphans = Deleted {
            task_rows: 1,
            orphan_rows: 2,
        };
        assert_eq!(
            summary(&all, &one, orphans, false),
            "Deleted 1 run (#1) and its 1 task row.\n\
             Deleted 2 task rows left behind by runs deleted before.\n"
        );
        assert_eq!(
            summary(
                &all,
                &choose(&all, Rule::Keep(5), 0),
                Deleted::default(),
                true
            ),
            "Nothing to prune: 5 runs kept.\n"
        );
    }
}
