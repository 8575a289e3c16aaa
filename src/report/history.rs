//! Recorded runs as text and as JSON: `history`, `show RUN`,
//! `show RUN --task NAME`.
//!
//! The human layouts follow the specification; the JSON ones are stable
//! (keys in a fixed order, never removed) so scripts can rely on them.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::event::{Exit, Signal, Status, format_duration};
use crate::record::{
    CacheOutcome, RunRow, RunStatus, StoredOutput, TaskCache, TaskRow, TaskState, last_attempts,
};

/// `Recent runs:` and one line per run.
pub(crate) fn history(runs: &[RunRow]) -> String {
    format!("Recent runs:\n{}", run_lines(runs))
}

/// A line per run, as `history` lists them.
pub(crate) fn run_lines(runs: &[RunRow]) -> String {
    let mut out = String::new();
    for run in runs {
        let _ = write!(
            out,
            "  #{} | {} | {} | {}",
            run.id,
            local_time(run.started_at),
            run.counts,
            run_duration(run)
        );
        let mut notes = Vec::new();
        match run.status {
            RunStatus::Running => notes.push("running".to_owned()),
            RunStatus::Open => notes.push("open".to_owned()),
            RunStatus::Interrupted => notes.push(interrupted(run)),
            RunStatus::Incomplete => notes.push("incomplete".to_owned()),
            RunStatus::Completed => {}
        }
        if let Some(original) = run.retry_of {
            notes.push(format!("retry of #{original}"));
        }
        if !notes.is_empty() {
            let _ = write!(out, " | {}", notes.join(", "));
        }
        out.push('\n');
    }
    out
}

/// A run and the status of each of its tasks.
pub(crate) fn run(run: &RunRow, tasks: &[TaskRow]) -> String {
    let mut out = format!("Run #{} ({})\n", run.id, local_time(run.started_at));
    if let Some(taskfile) = &run.taskfile {
        let _ = writeln!(out, "Task file: {taskfile}");
    }
    if let Some(original) = run.retry_of {
        let _ = writeln!(out, "Retry of: #{original}");
    }
    match run.status {
        RunStatus::Completed => {}
        RunStatus::Running => out.push_str("Status: running\n"),
        RunStatus::Open => out.push_str("Status: open\n"),
        RunStatus::Interrupted => {
            let _ = writeln!(out, "Status: {}", interrupted(run));
        }
        RunStatus::Incomplete => {
            let note = run.note.as_deref().unwrap_or("results not all recorded");
            let _ = writeln!(out, "Status: incomplete: {note}");
        }
    }
    let _ = writeln!(out, "Duration: {}", run_duration(run));
    out.push_str("\nTasks:\n");
    let width = tasks
        .iter()
        .map(|task| task.name.chars().count())
        .max()
        .unwrap_or(0);
    for task in tasks {
        let dots = ".".repeat(width - task.name.chars().count() + 3);
        let detail = match (task.state, task.duration, &task.reason) {
            (TaskState::Ended(Status::Skipped), _, Some(reason)) | (_, None, Some(reason)) => {
                reason.clone()
            }
            (TaskState::Pending | TaskState::Running, _, _) => "…".to_owned(),
            (_, duration, _) => {
                let time = format_duration(duration.unwrap_or_default());
                match restored_from(task) {
                    Some(run) => format!("{time}, from run #{run}"),
                    None => time,
                }
            }
        };
        let attempt = if task.attempt > 1 {
            format!(" [attempt {}]", task.attempt)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {} {dots} {} ({detail}){attempt}",
            task.name,
            task.state.as_str().to_ascii_uppercase()
        );
    }
    // The run's counts are counted from these rows; tasks that have not
    // ended (or whose end was not recorded) are named after them.
    let _ = write!(out, "\n{}", run.counts);
    let finals = last_attempts(tasks);
    for state in [TaskState::Unknown, TaskState::Pending, TaskState::Running] {
        let count = finals.iter().filter(|task| task.state == state).count();
        if count > 0 {
            let _ = write!(out, ", {count} {state}");
        }
    }
    out.push('\n');
    out
}

/// The run a task restored from the store was restored from.
fn restored_from(task: &TaskRow) -> Option<i64> {
    let cache = task.cache.as_ref()?;
    (task.state.is(Status::Cached) && cache.outcome == CacheOutcome::Hit)
        .then_some(cache.source_run)
        .flatten()
}

/// What the cache did for a task, in words: `hit, from run #41 (key …)`,
/// `stored (key …)`, `not stored: why (key …)`, `miss (key …)`.
fn cache_line(cache: &TaskCache) -> String {
    let what = match (cache.outcome, &cache.reason, cache.source_run) {
        (CacheOutcome::Hit, _, Some(run)) => format!("hit, from run #{run}"),
        (CacheOutcome::NotStored, Some(reason), _) => format!("not stored: {reason}"),
        (CacheOutcome::NotStored, None, _) => "not stored".to_owned(),
        (outcome, _, _) => outcome.as_str().to_owned(),
    };
    format!("{what} (key {})", cache.key)
}

/// One task with its output.
pub(crate) fn task(run: &RunRow, task: &TaskRow) -> String {
    let mut out = format!(
        "Task: {}\nRun: #{}\nCommand: {}\n",
        task.name,
        run.id,
        super::indented(&task.command, "         ")
    );
    if !task.deps.is_empty() {
        let _ = writeln!(out, "After: {}", task.deps.join(", "));
    }
    let _ = writeln!(
        out,
        "Status: {} ({})",
        task.state.as_str().to_ascii_uppercase(),
        task.ending()
    );
    if let Some(started) = task.started_at {
        let _ = writeln!(out, "Started: {}", local_time(started));
    }
    if let Some(duration) = task.duration.filter(|_| !task.state.is(Status::Skipped)) {
        let _ = writeln!(out, "Duration: {}", format_duration(duration));
    }
    if task.attempt > 1 {
        let _ = writeln!(out, "Attempt: {}", task.attempt);
    }
    if let Some(cache) = &task.cache {
        let _ = writeln!(out, "Cache: {}", cache_line(cache));
    }
    if let Some(place) = &task.slurm {
        let _ = write!(out, "Slurm job: {}", place.job_id);
        if let Some(step) = place.step_id {
            let _ = write!(out, ", step {step}");
        }
        if let Some(node) = &place.node {
            let _ = write!(out, ", on {node}");
        }
        out.push('\n');
    }
    for (name, output) in [("stdout", &task.stdout), ("stderr", &task.stderr)] {
        let _ = write!(out, "\n--- {name} ---\n");
        out.push_str(&String::from_utf8_lossy(&output.bytes));
        if !output.bytes.is_empty() && !output.bytes.ends_with(b"\n") {
            out.push('\n');
        }
        if output.truncated {
            let _ = writeln!(
                out,
                "[{name} truncated: the first {} of {} kept; its last lines follow]",
                size(i64::try_from(output.bytes.len()).unwrap_or(i64::MAX)),
                size(output.total)
            );
            out.push_str(&last_lines(&output.tail));
        }
    }
    out
}

/// The lines of a tail, without the partial first one.
fn last_lines(tail: &[u8]) -> String {
    let text = String::from_utf8_lossy(tail);
    let text = match text.split_once('\n') {
        Some((_, rest)) if !rest.is_empty() => rest.to_owned(),
        _ => text.into_owned(),
    };
    if text.ends_with('\n') || text.is_empty() {
        text
    } else {
        text + "\n"
    }
}

fn interrupted(run: &RunRow) -> String {
    match run.signal {
        Some(signal) => format!("interrupted by {signal}"),
        None if run.finished_at.is_none() => "interrupted (taskrun was killed)".to_owned(),
        None => "interrupted".to_owned(),
    }
}

fn run_duration(run: &RunRow) -> String {
    match (run.duration, run.status) {
        (Some(duration), _) => format_duration(duration),
        (None, RunStatus::Running | RunStatus::Open) => "running".to_owned(),
        (None, _) => "unknown".to_owned(),
    }
}

/// `1.0 MiB`, `512 B`.
#[expect(clippy::cast_precision_loss, reason = "sizes are shown to one decimal")]
pub(crate) fn size(bytes: i64) -> String {
    let bytes_f = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KiB", bytes_f / 1024.0)
    } else if bytes < 1024 * 1024 * 1024 {
        format!("{:.1} MiB", bytes_f / 1_048_576.0)
    } else {
        format!("{:.1} GiB", bytes_f / 1_073_741_824.0)
    }
}

/// `2024-01-15 14:30:22` in the local time zone (`TZ` is honoured).
pub(crate) fn local_time(unix_seconds: i64) -> String {
    let time: libc::time_t = unix_seconds;
    // SAFETY: localtime_r fills the tm it is given and keeps no pointer.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&raw const time, &raw mut tm).is_null() {
            return unix_seconds.to_string();
        }
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// A run in JSON.
#[derive(Serialize)]
struct RunJson<'a> {
    id: i64,
    status: &'static str,
    started_at: i64,
    finished_at: Option<i64>,
    duration_ms: Option<u128>,
    total_tasks: i64,
    passed: usize,
    failed: usize,
    skipped: usize,
    timeouts: usize,
    canceled: usize,
    /// Of the passed tasks, those restored from the store.
    cached: usize,
    signal: Option<String>,
    taskfile: Option<&'a str>,
    dir: Option<&'a str>,
    jobs: Option<i64>,
    retry_of: Option<i64>,
    note: Option<&'a str>,
}

impl<'a> From<&'a RunRow> for RunJson<'a> {
    fn from(run: &'a RunRow) -> Self {
        RunJson {
            id: run.id,
            status: run.status.as_str(),
            started_at: run.started_at,
            finished_at: run.finished_at,
            duration_ms: run.duration.map(millis),
            total_tasks: run.total_tasks,
            passed: run.counts.passed,
            failed: run.counts.failures(),
            skipped: run.counts.skipped,
            timeouts: run.counts.timeout,
            canceled: run.counts.canceled,
            cached: run.counts.cached,
            signal: run.signal.map(|signal: Signal| signal.to_string()),
            taskfile: run.taskfile.as_deref(),
            dir: run.dir.as_deref(),
            jobs: run.jobs,
            retry_of: run.retry_of,
            note: run.note.as_deref(),
        }
    }
}

/// A task in JSON; the output only when one task is shown.
#[derive(Serialize)]
struct TaskJson<'a> {
    name: &'a str,
    command: &'a str,
    status: &'static str,
    exit_code: Option<i32>,
    signal: Option<String>,
    reason: Option<&'a str>,
    after: &'a [String],
    after_done: &'a [String],
    attempt: u32,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    duration_ms: Option<u128>,
    stdout_bytes: i64,
    stderr_bytes: i64,
    stdout_truncated: bool,
    stderr_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stdout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stderr: Option<String>,
    /// The last bytes of a truncated stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    stdout_tail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stderr_tail: Option<String>,
    /// Where on a Slurm cluster the task ran.
    #[serde(flatten)]
    place: PlaceJson<'a>,
    /// What the cache did for it, when it took part.
    #[serde(skip_serializing_if = "Option::is_none")]
    cache: Option<CacheJson<'a>>,
    /// Every attempt, this one last.
    attempts: Vec<AttemptJson<'a>>,
}

/// One attempt of a task in JSON.
#[derive(Serialize)]
struct AttemptJson<'a> {
    attempt: u32,
    status: &'static str,
    exit_code: Option<i32>,
    signal: Option<String>,
    reason: Option<&'a str>,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    duration_ms: Option<u128>,
    /// Where on a Slurm cluster this attempt ran.
    #[serde(flatten)]
    place: PlaceJson<'a>,
}

/// What the cache did for an attempt, in JSON.
#[derive(Serialize)]
struct CacheJson<'a> {
    key: &'a str,
    /// `hit`, `stored`, `not_stored` or `miss`.
    outcome: &'static str,
    /// Why a pass was not stored.
    reason: Option<&'a str>,
    /// For a hit: the run and the task row that stored the entry.
    source_run: Option<i64>,
    source_task: Option<i64>,
    /// The digest of the output tree.
    outputs: Option<&'a str>,
}

impl<'a> From<&'a TaskCache> for CacheJson<'a> {
    fn from(cache: &'a TaskCache) -> Self {
        CacheJson {
            key: &cache.key,
            outcome: cache.outcome.as_str(),
            reason: cache.reason.as_deref(),
            source_run: cache.source_run,
            source_task: cache.source_task,
            outputs: cache.outputs.as_deref(),
        }
    }
}

/// Where on a Slurm cluster an attempt ran, in JSON: the job, its step in
/// that job, and the node; nothing for an attempt that ran here.
#[derive(Serialize)]
struct PlaceJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    job_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    step_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<&'a str>,
}

impl<'a> PlaceJson<'a> {
    fn of(task: &'a TaskRow) -> Self {
        let place = task.slurm.as_ref();
        PlaceJson {
            job_id: place.map(|place| place.job_id.as_str()),
            step_id: place.and_then(|place| place.step_id),
            node: place.and_then(|place| place.node.as_deref()),
        }
    }
}

impl<'a> From<&'a TaskRow> for AttemptJson<'a> {
    fn from(task: &'a TaskRow) -> Self {
        AttemptJson {
            attempt: task.attempt,
            status: task.state.as_str(),
            exit_code: task.exit.as_ref().and_then(Exit::code),
            signal: signal_of(task),
            reason: task.reason.as_deref(),
            started_at: task.started_at,
            finished_at: task.finished_at,
            duration_ms: task.duration.map(millis),
            place: PlaceJson::of(task),
        }
    }
}

fn signal_of(task: &TaskRow) -> Option<String> {
    task.exit
        .as_ref()
        .and_then(Exit::signal)
        .map(|signal| signal.to_string())
}

impl<'a> TaskJson<'a> {
    /// The last of `attempts` (a task's rows, in order), with its output
    /// if `with_output`.
    fn new(attempts: &[&'a TaskRow], with_output: bool) -> Self {
        let task = attempts[attempts.len() - 1];
        let text = |output: &StoredOutput| {
            with_output.then(|| String::from_utf8_lossy(&output.bytes).into_owned())
        };
        let tail = |output: &StoredOutput| {
            (with_output && output.truncated)
                .then(|| String::from_utf8_lossy(&output.tail).into_owned())
        };
        TaskJson {
            name: &task.name,
            command: &task.command,
            status: task.state.as_str(),
            exit_code: task.exit.as_ref().and_then(Exit::code),
            signal: signal_of(task),
            reason: task.reason.as_deref(),
            after: &task.deps,
            after_done: &task.soft_deps,
            attempt: task.attempt,
            started_at: task.started_at,
            finished_at: task.finished_at,
            duration_ms: task.duration.map(millis),
            stdout_bytes: task.stdout.total,
            stderr_bytes: task.stderr.total,
            stdout_truncated: task.stdout.truncated,
            stderr_truncated: task.stderr.truncated,
            stdout: text(&task.stdout),
            stderr: text(&task.stderr),
            stdout_tail: tail(&task.stdout),
            stderr_tail: tail(&task.stderr),
            place: PlaceJson::of(task),
            cache: task.cache.as_ref().map(CacheJson::from),
            attempts: attempts.iter().map(|&attempt| attempt.into()).collect(),
        }
    }
}

/// The version of the JSON documents' shape (`schema_version`, the first
/// key of each): keys are only ever added; a key removed or changed in
/// meaning makes a new version.
pub(crate) const JSON_SCHEMA: u32 = 1;

/// `history --json`: the runs, newest first.
pub(crate) fn history_json(runs: &[RunRow]) -> String {
    #[derive(Serialize)]
    struct History<'a> {
        schema_version: u32,
        runs: Vec<RunJson<'a>>,
    }
    to_json(&History {
        schema_version: JSON_SCHEMA,
        runs: runs.iter().map(RunJson::from).collect(),
    })
}

/// `show RUN --json`: the run and its tasks (each with all its attempts),
/// without output.
pub(crate) fn run_json(run: &RunRow, tasks: &[TaskRow]) -> String {
    #[derive(Serialize)]
    struct Shown<'a> {
        schema_version: u32,
        run: RunJson<'a>,
        tasks: Vec<TaskJson<'a>>,
    }
    let mut grouped: Vec<Vec<&TaskRow>> = Vec::new();
    for task in tasks {
        match grouped.last_mut() {
            Some(attempts) if attempts[0].position == task.position => attempts.push(task),
            _ => grouped.push(vec![task]),
        }
    }
    to_json(&Shown {
        schema_version: JSON_SCHEMA,
        run: run.into(),
        tasks: grouped
            .iter()
            .map(|attempts| TaskJson::new(attempts, false))
            .collect(),
    })
}

/// `show RUN --task NAME --json`: the task (`attempts`, its rows in order)
/// with the output of its last attempt.
pub(crate) fn task_json(run: &RunRow, attempts: &[&TaskRow]) -> String {
    #[derive(Serialize)]
    struct Shown<'a> {
        schema_version: u32,
        run: RunJson<'a>,
        task: TaskJson<'a>,
    }
    to_json(&Shown {
        schema_version: JSON_SCHEMA,
        run: run.into(),
        task: TaskJson::new(attempts, true),
    })
}

/// A duration in JSON: whole milliseconds, as the database has it.
fn millis(duration: Duration) -> u128 {
    duration.as_millis()
}

pub(crate) fn to_json(value: &impl Serialize) -> String {
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(1 << 20), "1.0 MiB");
    }

    #[test]
    fn an_open_run_says_it_is_open() {
        let mut open = crate::testing::run_row(7);
        open.status = RunStatus::Open;
        open.taskfile = Some("(broker)".to_owned());
        open.counts.passed = 2;
        open.total_tasks = 2;
        let line = run_lines(std::slice::from_ref(&open));
        assert!(
            line.ends_with(" | 2 passed, 0 failed, 0 skipped | running | open\n"),
            "{line}"
        );
        let shown = run(&open, &[]);
        assert!(
            shown.contains("Task file: (broker)\nStatus: open\n"),
            "{shown}"
        );
        assert!(shown.contains("Duration: running\n"), "{shown}");
        let json: serde_json::Value =
            serde_json::from_str(&history_json(&[open])).expect("valid JSON");
        assert_eq!(json["runs"][0]["status"], "open");
        assert_eq!(json["runs"][0]["total_tasks"], 2);
    }

    #[test]
    fn cached_tasks_are_counted_and_say_where_they_came_from() {
        use crate::testing::{run_row, task_row};
        let mut row = run_row(42);
        row.counts.passed = 5;
        row.counts.cached = 3;
        row.duration = Some(Duration::from_millis(300));
        let line = run_lines(std::slice::from_ref(&row));
        assert!(
            line.ends_with(" | 5 passed (3 cached), 0 failed, 0 skipped | 0.3s\n"),
            "{line}"
        );
        let mut plain = run_row(43);
        plain.counts.passed = 5;
        plain.duration = Some(Duration::from_millis(300));
        let line = run_lines(std::slice::from_ref(&plain));
        assert!(
            line.ends_with(" | 5 passed, 0 failed, 0 skipped | 0.3s\n"),
            "the specification's line: {line}"
        );

        let mut build = task_row(0, "build", TaskState::Ended(Status::Cached));
        build.duration = Some(Duration::from_millis(10));
        build.cache = Some(TaskCache {
            key: "5e".repeat(32),
            outcome: CacheOutcome::Hit,
            reason: None,
            source_task: Some(1234),
            source_run: Some(41),
            outputs: None,
        });
        let mut lint_row = task_row(1, "lint", TaskState::Ended(Status::Passed));
        lint_row.duration = Some(Duration::from_millis(2300));
        lint_row.cache = Some(TaskCache {
            key: "77".repeat(32),
            outcome: CacheOutcome::NotStored,
            reason: Some("src/a.c changed while running".to_owned()),
            source_task: None,
            source_run: None,
            outputs: None,
        });
        let shown = run(&row, &[build.clone(), lint_row.clone()]);
        assert!(
            shown.contains(
                "Tasks:\n  build ... CACHED (0.01s, from run #41)\n  lint .... PASSED (2.3s)\n\n\
                 5 passed (3 cached), 0 failed, 0 skipped\n"
            ),
            "{shown}"
        );
        let one = task(&row, &lint_row);
        assert!(
            one.contains(&format!(
                "Cache: not stored: src/a.c changed while running (key {})\n",
                "77".repeat(32)
            )),
            "{one}"
        );
        assert!(task(&row, &build).contains("Cache: hit, from run #41 (key 5e5e"));
        let json: serde_json::Value =
            serde_json::from_str(&run_json(&row, &[build, lint_row])).expect("valid JSON");
        assert_eq!(json["run"]["cached"], 3);
        assert_eq!(json["tasks"][0]["status"], "cached");
        assert_eq!(json["tasks"][0]["cache"]["outcome"], "hit");
        assert_eq!(json["tasks"][0]["cache"]["source_run"], 41);
        assert_eq!(json["tasks"][0]["cache"]["source_task"], 1234);
        assert_eq!(json["tasks"][1]["cache"]["outcome"], "not_stored");
    }

    #[test]
    fn tail_lines_drop_the_partial_first_line() {
        assert_eq!(last_lines(b"ial line\nlast\n"), "last\n");
        assert_eq!(last_lines(b"only part"), "only part\n");
    }
}
