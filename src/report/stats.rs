//! `taskrun stats` as a table, as JSON, and in the `OpenMetrics` text format
//! (for a Prometheus textfile collector).

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use unicode_width::UnicodeWidthStr;

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
        Sort::Flaky => tasks
            .sort_by_key(|task| std::cmp::Reverse((task.is_flaky(), task.retried + task.flips))),
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

/// `count` of `runs` as a whole percentage, rounded half up; never `0%`
/// for some or `100%` for not all (`<1%`, `>99%`).
fn percent(count: usize, runs: usize) -> String {
    let percent = (count * 100 + runs / 2).checked_div(runs).unwrap_or(0);
    match percent {
        0 if count > 0 => "<1%".to_owned(),
        100 if count < runs => ">99%".to_owned(),
        percent => format!("{percent}%"),
    }
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
            *width = (*width).max(cell.width());
        }
    }
    // Names and the flaky column read from the left, numbers from the
    // right.
    let line = |cells: &[&str]| {
        let mut line = String::new();
        for (column, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = width - cell.width();
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
    // Rounded: an interpolated percentile falls between milliseconds.
    let ms =
        |duration: Option<Duration>| duration.map(|duration| (duration.as_micros() + 500) / 1000);
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

/// One sample of a task: its status label, if it has one, and its value.
type Sample = (Option<&'static str>, f64);

/// One gauge family: its metadata, then a sample for each task that has
/// a value.
fn gauge(
    out: &mut String,
    name: &str,
    help: &str,
    tasks: &[TaskStats],
    value: &dyn Fn(&TaskStats) -> Vec<Sample>,
) {
    let _ = writeln!(out, "# TYPE {name} gauge");
    if let Some(unit) = name.strip_suffix("_seconds").map(|_| "seconds") {
        let _ = writeln!(out, "# UNIT {name} {unit}");
    }
    let _ = writeln!(out, "# HELP {name} {help}");
    for task in tasks {
        let task_label = label(&task.name);
        for (status, sample) in value(task) {
            match status {
                Some(status) => {
                    let _ = writeln!(
                        out,
                        "{name}{{task=\"{task_label}\",status=\"{status}\"}} {sample}"
                    );
                }
                None => {
                    let _ = writeln!(out, "{name}{{task=\"{task_label}\"}} {sample}");
                }
            }
        }
    }
}

/// The `OpenMetrics` text format, which Prometheus's textfile collector
/// reads too. Every figure is of the window, so it can go down as well as
/// up: all are gauges (a counter or a summary's count must never fall).
/// Each task's runs by how they ended, its passed attempts' p50, p95 and
/// longest, how many those are, and whether it is flaky; ends with `# EOF`.
pub(crate) fn stats_openmetrics(tasks: &[TaskStats]) -> String {
    let mut out = String::new();
    #[expect(
        clippy::cast_precision_loss,
        reason = "53 bits are plenty for counts of runs"
    )]
    let count = |n: usize| n as f64;
    gauge(
        &mut out,
        "taskrun_task_runs",
        "Runs of the window in which a task ended, by how its last attempt ended.",
        tasks,
        &|task| {
            [
                (Status::Passed, task.passed),
                (Status::Failed, task.failed),
                (Status::Timeout, task.timeout),
                (Status::Canceled, task.canceled),
                (Status::Skipped, task.skipped),
            ]
            .into_iter()
            .map(|(status, n)| (Some(status.as_str()), count(n)))
            .collect()
        },
    );
    for (name, what, p) in [
        ("taskrun_task_duration_p50_seconds", "The median", 0.5),
        (
            "taskrun_task_duration_p95_seconds",
            "The 95th percentile",
            0.95,
        ),
        ("taskrun_task_duration_max_seconds", "The longest", 1.0),
    ] {
        gauge(
            &mut out,
            name,
            &format!("{what} of the durations of a task's passed attempts in the window."),
            tasks,
            &|task| {
                task.quantile(p)
                    .map(|duration| (None, duration.as_secs_f64()))
                    .into_iter()
                    .collect()
            },
        );
    }
    gauge(
        &mut out,
        "taskrun_task_duration_samples",
        "How many passed attempts of a task the durations are of.",
        tasks,
        &|task| vec![(None, count(task.durations.len()))],
    );
    gauge(
        &mut out,
        "taskrun_task_flaky",
        "1 if the task is flaky in the window (retried and passed, or flipped twice).",
        tasks,
        &|task| vec![(None, f64::from(u8::from(task.is_flaky())))],
    );
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
    fn openmetrics_has_gauges_escapes_labels_and_ends_with_eof() {
        let text = stats_openmetrics(&[task("say \"hi\"\\", 2, 0, &[1000, 3000])]);
        let labels = r#"task="say \"hi\"\\""#;
        for line in [
            format!("taskrun_task_duration_p50_seconds{{{labels}}} 2\n"),
            format!("taskrun_task_duration_samples{{{labels}}} 2\n"),
            format!("taskrun_task_runs{{{labels},status=\"passed\"}} 2\n"),
            "# TYPE taskrun_task_duration_p95_seconds gauge\n\
             # UNIT taskrun_task_duration_p95_seconds seconds\n"
                .to_owned(),
        ] {
            assert!(text.contains(&line), "{line} in {text}");
        }
        // Figures of a window can fall: no counter, no summary.
        assert!(
            !text.contains("counter") && !text.contains("summary"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
        let json: serde_json::Value = serde_json::from_str(&stats_json(
            &Runs { ids: vec![1] },
            &[task("x", 1, 0, &[5])],
        ))
        .unwrap();
        assert_eq!(json["tasks"][0]["p95_ms"], 5);
        assert_eq!(json["runs"][0], 1);
    }

    #[test]
    fn rare_outcomes_never_round_to_none_or_all() {
        assert_eq!(percent(1, 201), "<1%");
        assert_eq!(percent(199, 200), ">99%");
        assert_eq!(percent(0, 5), "0%");
        assert_eq!(percent(5, 5), "100%");
        assert_eq!(percent(1, 3), "33%");
    }
}
