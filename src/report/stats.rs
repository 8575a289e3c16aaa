//! `taskrun stats` as a table, as JSON, and in the `OpenMetrics` text format
//! (for a Prometheus textfile collector).

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::event::{Status, format_duration};
use crate::record::{Runs, TaskStats};

/// The order of the rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Sort {
    /// By name.
    #[default]
    Name,
    /// Slowest (95th percentile) first.
    P95,
    /// Most often failed (or timed out) first.
    Fail,
    /// Flakiest first: retried runs and flips together.
    Flaky,
}

/// `tasks` in the order `sort` asks for (ties by name).
pub(crate) fn sorted(mut tasks: Vec<TaskStats>, sort: Sort) -> Vec<TaskStats> {
    tasks.sort_by(|a, b| a.name.cmp(&b.name));
    match sort {
        Sort::Name => {}
        Sort::P95 => tasks.sort_by_key(|task| std::cmp::Reverse(task.quantile(0.95))),
        Sort::Fail => tasks.sort_by_key(|task| std::cmp::Reverse(task.failed + task.timeout)),
        Sort::Flaky => tasks.sort_by_key(|task| std::cmp::Reverse(task.retried + task.flips)),
    }
    tasks
}

/// What the window holds, as the first line says it.
fn window(runs: &Runs) -> String {
    match (runs.ids.first(), runs.ids.last()) {
        (Some(first), Some(last)) if first == last => format!("1 run (#{first})"),
        (Some(first), Some(last)) => format!("{} runs (#{first} to #{last})", runs.ids.len()),
        _ => "no runs".to_owned(),
    }
}

/// `count` of `runs` as a whole percentage, rounded half up.
fn percent(count: usize, runs: usize) -> String {
    let percent = (count * 100 + runs / 2).checked_div(runs).unwrap_or(0);
    format!("{percent}%")
}

fn optional(duration: Option<Duration>) -> String {
    duration.map_or_else(|| "-".to_owned(), format_duration)
}

/// The flaky column: what made a task flaky, or `-`.
fn flaky(task: &TaskStats) -> String {
    let mut why = Vec::new();
    if task.retried > 0 {
        why.push(format!("retried {}x", task.retried));
    }
    if task.flips >= 2 {
        why.push(format!("flipped {}x", task.flips));
    }
    if why.is_empty() {
        "-".to_owned()
    } else {
        why.join(", ")
    }
}

/// The trend column: `+25%` slower, `-10%` faster, `=` within 10%, `-`
/// with too few passed attempts.
fn trend(task: &TaskStats) -> String {
    match task.trend() {
        None => "-".to_owned(),
        Some(change) if change.abs() < 0.1 => "=".to_owned(),
        Some(change) => format!("{:+.0}%", change * 100.0),
    }
}

/// The table.
pub(crate) fn stats(runs: &Runs, tasks: &[TaskStats]) -> String {
    let mut out = format!("Tasks of {}:\n", window(runs));
    if tasks.is_empty() {
        out.push_str("  (none)\n");
        return out;
    }
    let header = [
        "task", "runs", "pass", "fail", "timeout", "flaky", "p50", "p95", "max", "trend",
    ];
    let rows: Vec<[String; 10]> = tasks
        .iter()
        .map(|task| {
            [
                task.name.clone(),
                task.runs.to_string(),
                percent(task.passed, task.runs),
                percent(task.failed, task.runs),
                percent(task.timeout, task.runs),
                flaky(task),
                optional(task.quantile(0.5)),
                optional(task.quantile(0.95)),
                optional(task.quantile(1.0)),
                trend(task),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    // Names and the flaky column read from the left, numbers from the
    // right.
    let line = |cells: &[&str]| {
        let mut line = String::new();
        for (column, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = width - cell.chars().count();
            line.push_str("  ");
            if column == 0 || column == 5 {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            } else {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            }
        }
        let mut line = line.trim_end().to_owned();
        line.push('\n');
        line
    };
    out.push_str(&line(&header));
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
    }
    out
}

#[derive(Serialize)]
struct StatsJson<'a> {
    runs: Vec<i64>,
    tasks: Vec<TaskJson<'a>>,
}

#[derive(Serialize)]
struct TaskJson<'a> {
    name: &'a str,
    runs: usize,
    passed: usize,
    failed: usize,
    timeout: usize,
    canceled: usize,
    skipped: usize,
    pass_rate: f64,
    fail_rate: f64,
    timeout_rate: f64,
    flaky: bool,
    retried: usize,
    flips: usize,
    /// How many passed attempts the durations are of.
    samples: usize,
    p50_ms: Option<u128>,
    p95_ms: Option<u128>,
    max_ms: Option<u128>,
    /// The newer half's median over the older half's, minus one.
    trend: Option<f64>,
}

/// The same as JSON: `runs` the run numbers of the window, oldest first.
pub(crate) fn stats_json(runs: &Runs, tasks: &[TaskStats]) -> String {
    let ms = |duration: Option<Duration>| duration.map(|duration| duration.as_millis());
    let json = StatsJson {
        runs: runs.ids.clone(),
        tasks: tasks
            .iter()
            .map(|task| TaskJson {
                name: &task.name,
                runs: task.runs,
                passed: task.passed,
                failed: task.failed,
                timeout: task.timeout,
                canceled: task.canceled,
                skipped: task.skipped,
                pass_rate: task.rate(Status::Passed),
                fail_rate: task.rate(Status::Failed),
                timeout_rate: task.rate(Status::Timeout),
                flaky: task.is_flaky(),
                retried: task.retried,
                flips: task.flips,
                samples: task.durations.len(),
                p50_ms: ms(task.quantile(0.5)),
                p95_ms: ms(task.quantile(0.95)),
                max_ms: ms(task.quantile(1.0)),
                trend: task.trend(),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
    text.push('\n');
    text
}

/// A label value as `OpenMetrics` writes it: `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `OpenMetrics` text format: each task's duration quantiles (a
/// summary of its passed attempts), how its runs ended (a counter by
/// status) and whether it is flaky (a gauge); ends with `# EOF`.
pub(crate) fn stats_openmetrics(tasks: &[TaskStats]) -> String {
    let mut out = String::from(
        "# TYPE taskrun_task_duration_seconds summary\n\
         # UNIT taskrun_task_duration_seconds seconds\n\
         # HELP taskrun_task_duration_seconds How long the passed attempts of a task took.\n",
    );
    for task in tasks {
        let name = label(&task.name);
        for (quantile, p) in [("0.5", 0.5), ("0.95", 0.95)] {
            if let Some(duration) = task.quantile(p) {
                let _ = writeln!(
                    out,
                    "taskrun_task_duration_seconds{{task=\"{name}\",quantile=\"{quantile}\"}} {}",
                    duration.as_secs_f64()
                );
            }
        }
        let sum: Duration = task.durations.iter().sum();
        let _ = writeln!(
            out,
            "taskrun_task_duration_seconds_sum{{task=\"{name}\"}} {}",
            sum.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "taskrun_task_duration_seconds_count{{task=\"{name}\"}} {}",
            task.durations.len()
        );
    }
    out.push_str(
        "# TYPE taskrun_task_runs counter\n\
         # HELP taskrun_task_runs Runs of a task, by how its last attempt ended.\n",
    );
    for task in tasks {
        let name = label(&task.name);
        for (status, count) in [
            (Status::Passed, task.passed),
            (Status::Failed, task.failed),
            (Status::Timeout, task.timeout),
            (Status::Canceled, task.canceled),
            (Status::Skipped, task.skipped),
        ] {
            let _ = writeln!(
                out,
                "taskrun_task_runs_total{{task=\"{name}\",status=\"{}\"}} {count}",
                status.as_str()
            );
        }
    }
    out.push_str(
        "# TYPE taskrun_task_flaky gauge\n\
         # HELP taskrun_task_flaky 1 if the task is flaky in the window (retried and passed, or flipped twice).\n",
    );
    for task in tasks {
        let _ = writeln!(
            out,
            "taskrun_task_flaky{{task=\"{}\"}} {}",
            label(&task.name),
            u8::from(task.is_flaky())
        );
    }
    out.push_str("# EOF\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, passed: usize, failed: usize, ms: &[u64]) -> TaskStats {
        let mut task = TaskStats::new(name.to_owned());
        task.runs = passed + failed;
        task.passed = passed;
        task.failed = failed;
        task.retried = usize::from(failed > 1);
        task.durations = ms.iter().map(|&ms| Duration::from_millis(ms)).collect();
        task.measured()
    }

    #[test]
    fn the_table_aligns_its_columns_and_says_what_is_flaky() {
        let runs = Runs { ids: vec![3, 4] };
        let text = stats(
            &runs,
            &[task("build", 2, 0, &[10, 30]), task("t", 0, 2, &[])],
        );
        assert_eq!(
            text,
            "Tasks of 2 runs (#3 to #4):\n\
             \x20 task   runs  pass  fail  timeout  flaky         p50    p95    max  trend\n\
             \x20 build     2  100%    0%       0%  -           0.02s  0.03s  0.03s      -\n\
             \x20 t         2    0%  100%       0%  retried 1x      -      -      -      -\n"
        );
    }

    #[test]
    fn sorting_puts_the_slowest_or_the_failing_first() {
        let tasks = vec![
            task("a", 1, 0, &[10]),
            task("b", 1, 1, &[900]),
            task("c", 1, 0, &[50]),
        ];
        let names = |tasks: Vec<TaskStats>| -> Vec<String> {
            tasks.into_iter().map(|task| task.name).collect()
        };
        assert_eq!(names(sorted(tasks.clone(), Sort::P95)), ["b", "c", "a"]);
        assert_eq!(names(sorted(tasks.clone(), Sort::Fail)), ["b", "a", "c"]);
        assert_eq!(names(sorted(tasks, Sort::Name)), ["a", "b", "c"]);
    }

    #[test]
    fn openmetrics_escapes_labels_and_ends_with_eof() {
        let text = stats_openmetrics(&[task("say \"hi\"\\", 2, 0, &[1000, 3000])]);
        assert!(text.contains(
            "taskrun_task_duration_seconds{task=\"say \\\"hi\\\"\\\\\",quantile=\"0.5\"} 2\n"
        ));
        assert!(
            text.contains("taskrun_task_duration_seconds_count{task=\"say \\\"hi\\\"\\\\\"} 2\n")
        );
        assert!(text.contains(
            "taskrun_task_runs_total{task=\"say \\\"hi\\\"\\\\\",status=\"passed\"} 2\n"
        ));
        assert!(text.ends_with("# EOF\n"));
        let json: serde_json::Value = serde_json::from_str(&stats_json(
            &Runs { ids: vec![1] },
            &[task("x", 1, 0, &[5])],
        ))
        .unwrap();
        assert_eq!(json["tasks"][0]["p95_ms"], 5);
        assert_eq!(json["runs"][0], 1);
    }
}
