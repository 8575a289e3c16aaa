//! Tasks and runs as Rhai values, for hooks and retry policies: object maps
//! with the same keys whether the task is running now or was read from the
//! history.

use std::sync::Arc;

use rhai::{Array, Dynamic, Map};

use crate::event::{Counts, Exit, Signal, TaskResult};
use crate::record::{Past, TaskRow};
use crate::task::TaskSpec;

/// What a hook or a policy learns about a task.
pub(crate) struct TaskView<'a> {
    pub(crate) name: &'a str,
    pub(crate) command: &'a str,
    /// `running`, `passed`, `failed`, `timeout`, `skipped`, `canceled`.
    pub(crate) status: &'a str,
    pub(crate) exit_code: Option<i64>,
    pub(crate) signal: Option<Signal>,
    pub(crate) stdout: &'a [u8],
    pub(crate) stderr: &'a [u8],
    /// Seconds.
    pub(crate) duration: f64,
    pub(crate) attempt: i64,
    /// What the history says of the task (`task.history`); none is an
    /// empty history.
    pub(crate) past: Option<Arc<Past>>,
}

impl<'a> TaskView<'a> {
    /// A task that has not ended.
    pub(crate) fn started(spec: &'a TaskSpec, attempt: u32) -> TaskView<'a> {
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
            past: None,
        }
    }

    /// A task (or one attempt of it) that has ended.
    pub(crate) fn ended(spec: &'a TaskSpec, result: &'a TaskResult) -> TaskView<'a> {
        TaskView {
            name: &spec.name.value,
            command: &spec.command.value,
            status: result.status.as_str(),
            exit_code: result.exit.code().map(i64::from),
            signal: result.exit.signal(),
            stdout: result.stdout.last_bytes(),
            stderr: result.stderr.last_bytes(),
            duration: result.duration.as_secs_f64(),
            attempt: i64::from(result.attempt),
            past: None,
        }
    }

    /// A task (its last attempt) as the history has it, for `taskrun
    /// retry`: what the policy sees is what it saw within the run.
    pub(crate) fn from_row(row: &'a TaskRow) -> TaskView<'a> {
        TaskView {
            name: &row.name,
            command: &row.command,
            status: row.state.as_str(),
            exit_code: row.exit.as_ref().and_then(Exit::code).map(i64::from),
            signal: row.exit.as_ref().and_then(Exit::signal),
            stdout: row.stdout.last_bytes(),
            stderr: row.stderr.last_bytes(),
            duration: row.duration.unwrap_or_default().as_secs_f64(),
            attempt: i64::from(row.attempt),
            past: None,
        }
    }

    /// The view with what the history says of the task.
    pub(crate) fn with_past(mut self, past: Option<Arc<Past>>) -> TaskView<'a> {
        self.past = past;
        self
    }

    /// The view as a Rhai object map.
    pub(crate) fn to_map(&self) -> Dynamic {
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
            self.signal
                .map_or(Dynamic::UNIT, |signal| Dynamic::from(signal.to_string())),
        );
        map.insert("stdout".into(), text(self.stdout));
        map.insert("stderr".into(), text(self.stderr));
        map.insert("duration".into(), Dynamic::from_float(self.duration));
        map.insert("attempt".into(), Dynamic::from(self.attempt));
        map.insert(
            "history".into(),
            history_map(self.past.as_deref().unwrap_or(&Past::default())),
        );
        map.into()
    }
}

/// `task.history`: how the task ended in its latest runs (`outcomes`,
/// oldest first), and the median and 95th percentile of its latest passed
/// attempts in seconds (`p50`, `p95`; `()` without any) with how many
/// those are (`samples`).
fn history_map(past: &Past) -> Dynamic {
    let seconds = |duration: Option<std::time::Duration>| {
        duration.map_or(Dynamic::UNIT, |duration| {
            Dynamic::from_float(duration.as_secs_f64())
        })
    };
    let mut map = Map::new();
    let outcomes: Array = past
        .outcomes
        .iter()
        .map(|status| Dynamic::from(status.as_str().to_owned()))
        .collect();
    map.insert("outcomes".into(), outcomes.into());
    map.insert("p50".into(), seconds(past.p50()));
    map.insert("p95".into(), seconds(past.p95()));
    map.insert(
        "samples".into(),
        Dynamic::from(i64::try_from(past.durations.len()).unwrap_or(i64::MAX)),
    );
    map.into()
}

/// What `on_finish` learns about the run.
pub(super) fn run_map(
    run_id: i64,
    counts: &Counts,
    seconds: f64,
    interrupted: Option<Signal>,
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
        interrupted.map_or(Dynamic::UNIT, |signal| Dynamic::from(signal.to_string())),
    );
    map.insert("all_passed".into(), Dynamic::from(counts.all_passed()));
    map.into()
}
