//! `taskrun stats`: what the recent runs say of each task.

use super::{print_out, started_since, task_patterns};
use crate::cli::{StatsArgs, StatsFormat, StatsSort};
use crate::error::Error;
use crate::exit_code;
use crate::record::{Runs, Store, TaskStats, Window};
use crate::report::stats::{self as report, Sort, sorted};

/// How many runs `stats` looks at unless told.
const DEFAULT_LAST: usize = 100;

/// `taskrun stats`.
pub(crate) fn stats(args: &StatsArgs) -> Result<u8, Error> {
    let patterns = task_patterns(&args.task)?;
    let window = Window {
        last: args
            .last
            .map(|last| usize::try_from(last).unwrap_or(usize::MAX))
            .or(args.since.is_none().then_some(DEFAULT_LAST)),
        since: args.since.map(started_since),
    };
    let format = if args.json {
        StatsFormat::Json
    } else {
        args.format
    };
    if format == StatsFormat::Text && !args.db.path.exists() {
        print_out(&format!(
            "No runs recorded yet: `{}` does not exist.\n",
            args.db.path.display()
        ))?;
        return Ok(exit_code::SUCCESS);
    }
    let (runs, mut tasks) = if args.db.path.exists() {
        let store = Store::open(&args.db.path)?;
        let runs = store.window(window)?;
        let wanted = |name: &str| {
            patterns.is_empty() || patterns.iter().any(|pattern| pattern.matches(name))
        };
        let tasks = store.task_stats(&runs, &wanted)?;
        (runs, tasks)
    } else {
        (Runs::default(), Vec::new())
    };
    if args.flaky {
        tasks.retain(TaskStats::is_flaky);
    }
    let tasks = sorted(
        tasks,
        match args.sort {
            StatsSort::Name => Sort::Name,
            StatsSort::P95 => Sort::P95,
            StatsSort::Fail => Sort::Fail,
            StatsSort::Flaky => Sort::Flaky,
        },
    );
    let text = match format {
        StatsFormat::Text => report::stats(&runs, &tasks),
        StatsFormat::Json => report::stats_json(&runs, &tasks),
        StatsFormat::Openmetrics => report::stats_openmetrics(&tasks),
    };
    print_out(&text)?;
    Ok(exit_code::SUCCESS)
}
