//! Retry policies: `fn should_retry(task)` in a script decides which
//! failed tasks are retried, both within a run (for tasks with retries)
//! and by `taskrun retry`.
//!
//! The task is the map hooks receive. A policy that throws, or returns
//! something other than true or false, is reported once; the default then
//! applies (retry).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::load::Script;
use super::view::TaskView;
use crate::error::{Problem, ScriptError};
use crate::event::TaskResult;
use crate::record::Recall;
use crate::report::{self, Style};
use crate::schedule::RetryPolicy;
use crate::source::Sources;
use crate::task::TaskSpec;

/// A script's `should_retry`.
pub(crate) struct Policy {
    script: Arc<Script>,
    /// What the history says of each task, for `task.history`.
    recall: Option<Arc<Recall>>,
    reported: AtomicBool,
    /// The run's sources, and those of modules that errors pointed into.
    sources: Mutex<Sources>,
    style: Style,
}

impl Policy {
    /// The policy `script` defines, or `None` if it defines none.
    pub(crate) fn new(script: Arc<Script>, sources: Sources, style: Style) -> Option<Policy> {
        script.defines("should_retry", 1).then(|| Policy {
            script,
            recall: None,
            reported: AtomicBool::new(false),
            sources: Mutex::new(sources),
            style,
        })
    }

    /// The policy, with `task.history` from `recall`.
    pub(crate) fn recalling(mut self, recall: Option<Arc<Recall>>) -> Policy {
        self.recall = recall;
        self
    }

    /// Where `task.history` is read from.
    pub(crate) fn recall(&self) -> Option<&Arc<Recall>> {
        self.recall.as_ref()
    }

    fn sources(&self) -> std::sync::MutexGuard<'_, Sources> {
        self.sources.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the policy says about `task`.
    pub(crate) fn decide(&self, task: &TaskView<'_>) -> Result<bool, ScriptError> {
        let answer = self
            .script
            .call("should_retry", (task.to_map(),))
            .map_err(|error| self.script.error(*error, &mut self.sources()))?;
        answer.as_bool().map_err(|kind| ScriptError::Runtime {
            message: format!("should_retry must return true or false, not {kind}"),
            span: crate::source::Span::new(self.script.source, 0, 0),
            called: None,
        })
    }

    /// What the policy says, or `true` (reporting the problem once) if it
    /// could not say.
    pub(crate) fn decide_or_retry(&self, task: &TaskView<'_>) -> bool {
        self.decide(task).unwrap_or_else(|error| {
            if !self.reported.swap(true, Ordering::SeqCst) {
                let problem = Problem::Script(error);
                eprint!("{}", report::problem(&problem, &self.sources(), self.style));
                eprintln!("should_retry failed; tasks are retried as if it were not defined");
            }
            true
        })
    }
}

impl RetryPolicy for Policy {
    fn should_retry(&self, task: &TaskSpec, result: &TaskResult) -> bool {
        let view = TaskView::ended(task, result).with_history(self.recall());
        self.decide_or_retry(&view)
    }
}
