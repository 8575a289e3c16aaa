//! Tasks and runs as Rhai values, for hooks and retry policies: object maps
//! with the same keys whether the task is running now or was read from the
//! history.

use std::sync::{Arc, OnceLock};

use rhai::{Array, Dynamic, Map};

use crate::event::{Counts, Exit, Signal, TaskResult};
use crate::record::{Past, Recall, TaskRow};
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
    /// Where `task.history` is read from; none is an empty history.
    pub(crate) recall: Option<Arc<Recall>>,
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
            recall: None,
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
            recall: None,
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
            recall: None,
        }
    }

    /// The view, with `task.history` read from `recall`.
    pub(crate) fn with_history(mut self, recall: Option<&Arc<Recall>>) -> TaskView<'a> {
        self.recall = recall.cloned();
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
            Dynamic::from(History {
                recall: self.recall.clone(),
                name: self.name.to_owned(),
                past: Arc::new(OnceLock::new()),
            }),
        );
        map.into()
    }
}

/// `task.history`: what the history says of a task, read from the
/// database the first time a script asks for one of its fields, so that
/// a script that never looks costs nothing. Its fields: `outcomes` (how
/// the task ended in its latest runs, oldest first), `p50` and `p95` (of
/// its latest passed attempts, in seconds; `()` without any) and
/// `samples` (how many those are).
#[derive(Clone)]
pub(crate) struct History {
    recall: Option<Arc<Recall>>,
    name: String,
    past: Arc<OnceLock<Arc<Past>>>,
}

impl History {
    fn past(&self) -> Arc<Past> {
        Arc::clone(self.past.get_or_init(|| {
            self.recall
                .as_ref()
                .map_or_else(Arc::default, |recall| recall.of(&self.name))
        }))
    }

    fn outcomes(&mut self) -> Array {
        self.past()
            .outcomes
            .iter()
            .map(|status| Dynamic::from(status.as_str().to_owned()))
            .collect()
    }

    fn p50(&mut self) -> Dynamic {
        seconds(self.past().p50())
    }

    fn p95(&mut self) -> Dynamic {
        seconds(self.past().p95())
    }

    fn samples(&mut self) -> i64 {
        i64::try_from(self.past().durations.len()).unwrap_or(i64::MAX)
    }

    /// How it prints: as the map it reads like.
    fn text(&mut self) -> String {
        let quoted: Vec<String> = self
            .outcomes()
            .iter()
            .map(|outcome| format!("{:?}", outcome.to_string()))
            .collect();
        format!(
            "#{{outcomes: [{}], p50: {}, p95: {}, samples: {}}}",
            quoted.join(", "),
            self.p50(),
            self.p95(),
            self.samples()
        )
    }

    /// Makes `task.history`'s fields readable in scripts run by `engine`.
    pub(crate) fn register(engine: &mut rhai::Engine) {
        engine
            .register_type_with_name::<History>("History")
            .register_get("outcomes", History::outcomes)
            .register_get("p50", History::p50)
            .register_get("p95", History::p95)
            .register_get("samples", History::samples)
            .register_fn("to_string", History::text)
            .register_fn("to_debug", History::text);
    }
}

/// Seconds for a script, or `()`.
fn seconds(duration: Option<std::time::Duration>) -> Dynamic {
    duration.map_or(Dynamic::UNIT, |duration| {
        Dynamic::from_float(duration.as_secs_f64())
    })
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
