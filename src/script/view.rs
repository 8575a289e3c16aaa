//! Tasks and runs as Rhai values, for hooks and retry policies: object maps
//! with the same keys whether the task is running now or was read from the
//! history.

use rhai::{Dynamic, Map};

use crate::event::{Counts, Exit, Status, TaskResult};
use crate::execute::signal_name;
use crate::task::TaskSpec;

/// What a hook or a policy learns about a task.
pub struct TaskView<'a> {
    pub name: &'a str,
    pub command: &'a str,
    /// `running`, `passed`, `failed`, `timeout`, `skipped`, `canceled`.
    pub status: &'a str,
    pub exit_code: Option<i64>,
    pub signal: Option<String>,
    pub stdout: &'a [u8],
    pub stderr: &'a [u8],
    /// Seconds.
    pub duration: f64,
    pub attempt: i64,
}

impl<'a> TaskView<'a> {
    /// A task that has not ended.
    pub fn started(spec: &'a TaskSpec, attempt: u32) -> TaskView<'a> {
        TaskView {
            name: &spec.name.value,
            command: &spec.command.value,
            status: "running",
            exit_code: None,
            signal: None,
            stdout: b"",
            stderr: b"",
            duration: 0.0,
            attempt: i64::from(attempt),
        }
    }

    /// A task (or one attempt of it) that has ended.
    pub fn ended(spec: &'a TaskSpec, result: &'a TaskResult) -> TaskView<'a> {
        let (exit_code, signal) = match result.exit {
            Exit::Code(code) => (Some(i64::from(code)), None),
            Exit::Signal(signal) => (None, Some(signal_name(signal))),
            Exit::NotStarted(_) => (None, None),
        };
        TaskView {
            name: &spec.name.value,
            command: &spec.command.value,
            status: result.status.as_str(),
            exit_code,
            signal,
            stdout: result.stdout.last_bytes(),
            stderr: result.stderr.last_bytes(),
            duration: result.duration.as_secs_f64(),
            attempt: i64::from(result.attempt),
        }
    }

    /// The view as a Rhai object map.
    pub fn to_map(&self) -> Dynamic {
        let mut map = Map::new();
        let text = |bytes: &[u8]| Dynamic::from(String::from_utf8_lossy(bytes).into_owned());
        map.insert("name".into(), self.name.into());
        map.insert("command".into(), self.command.into());
        map.insert("status".into(), self.status.into());
        map.insert(
            "exit_code".into(),
            self.exit_code.map_or(Dynamic::UNIT, Dynamic::from),
        );
        map.insert(
            "signal".into(),
            self.signal.clone().map_or(Dynamic::UNIT, Dynamic::from),
        );
        map.insert("stdout".into(), text(self.stdout));
        map.insert("stderr".into(), text(self.stderr));
        map.insert("duration".into(), Dynamic::from_float(self.duration));
        map.insert("attempt".into(), Dynamic::from(self.attempt));
        map.into()
    }
}

/// What `on_finish` learns about the run.
pub(super) fn run_map(
    run_id: i64,
    counts: &Counts,
    seconds: f64,
    interrupted: Option<i32>,
) -> Dynamic {
    let count = |n: usize| Dynamic::from(i64::try_from(n).unwrap_or(i64::MAX));
    let mut map = Map::new();
    map.insert("id".into(), Dynamic::from(run_id));
    map.insert("passed".into(), count(counts.passed));
    map.insert("failed".into(), count(counts.failed + counts.timeout));
    map.insert("timeouts".into(), count(counts.timeout));
    map.insert("skipped".into(), count(counts.skipped));
    map.insert("canceled".into(), count(counts.canceled));
    map.insert("total".into(), count(counts.total()));
    map.insert("duration".into(), Dynamic::from_float(seconds));
    map.insert(
        "interrupted_by".into(),
        interrupted.map_or(Dynamic::UNIT, |signal| Dynamic::from(signal_name(signal))),
    );
    map.insert("all_passed".into(), Dynamic::from(counts.all_passed()));
    map.into()
}

/// Whether a status is a success, for choosing between `on_success` and
/// `on_failure`.
pub(super) fn passed(status: Status) -> bool {
    status == Status::Passed
}
