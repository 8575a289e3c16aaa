//! `taskrun diff A B`: what changed between two runs, task by task (by
//! name), as text and as JSON.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::event::{Status, format_duration};
use crate::record::{TaskRow, TaskState};

/// A duration change below this is never reported.
const SMALLEST_CHANGE: Duration = Duration::from_millis(100);
/// Nor one below this share of the earlier duration.
const SMALLEST_SHARE: f64 = 0.25;
/// With at least this many passed attempts in the history, a task is
/// slower only beyond [`BEYOND_P95`] times their 95th percentile.
pub(crate) const SAMPLES_FOR_P95: usize = 5;
const BEYOND_P95: f64 = 1.25;

/// What changed for one task's status.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Change {
    pub(crate) name: String,
    /// `passed`, `failed`, …, or `pending`/`running` for a run not over.
    pub(crate) before: String,
    pub(crate) after: String,
    /// How the later attempt ended (exit code, reason).
    pub(crate) why: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct CommandChange {
    pub(crate) name: String,
    pub(crate) before: String,
    pub(crate) after: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct Timing {
    pub(crate) name: String,
    pub(crate) before_ms: u128,
    pub(crate) after_ms: u128,
}

/// Two runs compared: each section in the order `diff` shows them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Diff {
    pub(crate) a: i64,
    pub(crate) b: i64,
    pub(crate) new_failures: Vec<Change>,
    pub(crate) fixed: Vec<Change>,
    pub(crate) still_failing: Vec<Change>,
    pub(crate) command_changed: Vec<CommandChange>,
    pub(crate) added: Vec<String>,
    pub(crate) removed: Vec<String>,
    pub(crate) status_changed: Vec<Change>,
    pub(crate) slower: Vec<Timing>,
    pub(crate) faster: Vec<Timing>,
    /// Tasks in both runs with nothing to say.
    pub(crate) unchanged: usize,
}

fn state_name(state: TaskState) -> String {
    match state {
        TaskState::Ended(status) => status.as_str().to_owned(),
        TaskState::Pending => "pending".to_owned(),
        TaskState::Running => "running".to_owned(),
        TaskState::Unknown => "unknown".to_owned(),
    }
}

fn failing(state: TaskState) -> bool {
    matches!(state, TaskState::Ended(Status::Failed | Status::Timeout))
}

/// Compares the last attempts of two runs' tasks. `p95` gives, for a task
/// of B, its 95th percentile and how many passed attempts that is of (in
/// the history up to B), when asked: only for tasks whose duration
/// changed enough to be reported.
pub(crate) fn compare(
    (a, a_tasks): (i64, &[&TaskRow]),
    (b, b_tasks): (i64, &[&TaskRow]),
    p95: &mut dyn FnMut(&str) -> Option<(usize, Duration)>,
) -> Diff {
    let mut diff = Diff {
        a,
        b,
        ..Diff::default()
    };
    let index: std::collections::HashMap<&str, &TaskRow> = a_tasks
        .iter()
        .map(|task| (task.name.as_str(), *task))
        .collect();
    for after in b_tasks {
        let Some(before) = index.get(after.name.as_str()) else {
            diff.added.push(after.name.clone());
            continue;
        };
        let change = || Change {
            name: after.name.clone(),
            before: state_name(before.state),
            after: state_name(after.state),
            why: after.ending(),
        };
        let mut said = false;
        if failing(after.state) && !failing(before.state) {
            diff.new_failures.push(change());
            said = true;
        } else if failing(before.state) && after.state.is_pass() {
            diff.fixed.push(change());
            said = true;
        } else if failing(before.state) && failing(after.state) {
            diff.still_failing.push(change());
            said = true;
        } else if before.state != after.state {
            diff.status_changed.push(change());
            said = true;
        }
        if before.command != after.command {
            diff.command_changed.push(CommandChange {
                name: after.name.clone(),
                before: before.command.clone(),
                after: after.command.clone(),
            });
            said = true;
        }
        let passed = TaskState::Ended(Status::Passed);
        if let (true, true, Some(then), Some(now)) = (
            before.state == passed,
            after.state == passed,
            before.duration,
            after.duration,
        ) {
            let change = then.abs_diff(now);
            if change >= SMALLEST_CHANGE
                && change.as_secs_f64() >= SMALLEST_SHARE * then.as_secs_f64()
            {
                let timing = Timing {
                    name: after.name.clone(),
                    before_ms: then.as_millis(),
                    after_ms: now.as_millis(),
                };
                if now > then {
                    // A task whose history says it often takes this long
                    // is not slower: only beyond its usual worst.
                    let usual = match p95(&after.name) {
                        Some((samples, p95)) if samples >= SAMPLES_FOR_P95 => {
                            now.as_secs_f64() > BEYOND_P95 * p95.as_secs_f64()
                        }
                        _ => true,
                    };
                    if usual {
                        diff.slower.push(timing);
                        said = true;
                    }
                } else {
                    diff.faster.push(timing);
                    said = true;
                }
            }
        }
        if !said {
            diff.unchanged += 1;
        }
    }
    let later: std::collections::HashSet<&str> =
        b_tasks.iter().map(|task| task.name.as_str()).collect();
    diff.removed = a_tasks
        .iter()
        .filter(|task| !later.contains(task.name.as_str()))
        .map(|task| task.name.clone())
        .collect();
    diff
}

impl Diff {
    /// Whether B has a task failing that did not fail in A.
    pub(crate) fn has_new_failure(&self) -> bool {
        !self.new_failures.is_empty()
    }
}

/// The text `diff` prints: each section that has something, then the
/// count of the rest.
pub(crate) fn diff(diff: &Diff) -> String {
    let mut out = format!("Run #{} → run #{}\n", diff.a, diff.b);
    let changes = |out: &mut String, title: &str, changes: &[Change]| {
        if changes.is_empty() {
            return;
        }
        let _ = writeln!(out, "{title} ({}):", changes.len());
        for change in changes {
            let _ = writeln!(
                out,
                "  {}: {} → {} ({})",
                change.name, change.before, change.after, change.why
            );
        }
    };
    changes(&mut out, "New failures", &diff.new_failures);
    changes(&mut out, "Fixed", &diff.fixed);
    changes(&mut out, "Still failing", &diff.still_failing);
    if !diff.command_changed.is_empty() {
        let _ = writeln!(out, "Command changed ({}):", diff.command_changed.len());
        for change in &diff.command_changed {
            let _ = writeln!(
                out,
                "  {}:\n    - {}\n    + {}",
                change.name, change.before, change.after
            );
        }
    }
    for (title, names) in [("Added", &diff.added), ("Removed", &diff.removed)] {
        if !names.is_empty() {
            let _ = writeln!(out, "{title} ({}): {}", names.len(), names.join(", "));
        }
    }
    changes(&mut out, "Status changed", &diff.status_changed);
    for (title, timings) in [("Slower", &diff.slower), ("Faster", &diff.faster)] {
        if timings.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title} ({}):", timings.len());
        for timing in timings {
            let then = Duration::from_millis(u64::try_from(timing.before_ms).unwrap_or(u64::MAX));
            let now = Duration::from_millis(u64::try_from(timing.after_ms).unwrap_or(u64::MAX));
            let _ = writeln!(
                out,
                "  {}: {} → {}",
                timing.name,
                format_duration(then),
                format_duration(now)
            );
        }
    }
    let _ = writeln!(out, "Unchanged: {}", diff.unchanged);
    out
}

/// The same as JSON.
pub(crate) fn diff_json(diff: &Diff) -> String {
    let mut text = serde_json::to_string_pretty(diff).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::task_row;

    fn row(name: &str, status: Status, command: &str, ms: u64) -> TaskRow {
        let mut row = task_row(0, name, TaskState::Ended(status));
        row.command = command.to_owned();
        row.duration = Some(Duration::from_millis(ms));
        row
    }

    #[test]
    fn each_change_goes_to_its_section() {
        use Status::{Failed, Passed, Skipped, Timeout};
        let a = [
            row("keep", Passed, "true", 10),
            row("breaks", Passed, "x", 10),
            row("heals", Failed, "x", 10),
            row("stays", Timeout, "x", 10),
            row("cmd", Passed, "echo one", 10),
            row("gone", Passed, "x", 10),
            row("slow", Passed, "x", 100),
            row("fast", Passed, "x", 1000),
            row("noisy", Passed, "x", 100),
            row("dep", Passed, "x", 10),
        ];
        let b = [
            row("keep", Passed, "true", 60),
            row("breaks", Failed, "x", 10),
            row("heals", Passed, "x", 10),
            row("stays", Failed, "x", 10),
            row("cmd", Passed, "echo two", 10),
            row("new", Passed, "x", 10),
            row("slow", Passed, "x", 400),
            row("fast", Passed, "x", 600),
            row("noisy", Passed, "x", 400),
            row("dep", Skipped, "x", 0),
        ];
        let (a, b): (Vec<&TaskRow>, Vec<&TaskRow>) = (a.iter().collect(), b.iter().collect());
        // `noisy` often takes 350 ms: 400 is within 1.25 times that.
        let mut asked = Vec::new();
        let mut p95 = |name: &str| {
            asked.push(name.to_owned());
            (name == "noisy").then_some((9, Duration::from_millis(350)))
        };
        let diff = compare((1, &a), (2, &b), &mut p95);
        let names = |changes: &[Change]| -> Vec<String> {
            changes.iter().map(|change| change.name.clone()).collect()
        };
        assert_eq!(names(&diff.new_failures), ["breaks"]);
        assert_eq!(names(&diff.fixed), ["heals"]);
        assert_eq!(names(&diff.still_failing), ["stays"]);
        assert_eq!(diff.command_changed[0].before, "echo one");
        assert_eq!(diff.command_changed.len(), 1);
        assert_eq!(diff.added, ["new"]);
        assert_eq!(diff.removed, ["gone"]);
        assert_eq!(names(&diff.status_changed), ["dep"]);
        assert_eq!(diff.status_changed[0].after, "skipped");
        let timed = |timings: &[Timing]| -> Vec<String> {
            timings.iter().map(|timing| timing.name.clone()).collect()
        };
        // `keep` took 50 ms more: under 100 ms, not said.
        assert_eq!(timed(&diff.slower), ["slow"]);
        assert_eq!(timed(&diff.faster), ["fast"]);
        assert_eq!(diff.unchanged, 2, "keep and noisy");
        assert!(diff.has_new_failure());
        assert_eq!(
            asked,
            ["slow", "noisy"],
            "the history is asked only of slower tasks"
        );
        let text = super::diff(&diff);
        let order = [
            "New failures (1):",
            "Fixed (1):",
            "Still failing (1):",
            "Command changed (1):",
            "Added (1): new",
            "Removed (1): gone",
            "Status changed (1):",
            "Slower (1):",
            "Faster (1):",
            "Unchanged: 2",
        ];
        let at: Vec<usize> = order
            .iter()
            .map(|title| text.find(title).unwrap())
            .collect();
        assert!(at.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
        assert!(text.contains("  slow: 0.1s → 0.4s\n"), "{text}");
        assert!(
            text.contains("  cmd:\n    - echo one\n    + echo two\n"),
            "{text}"
        );
    }
}
