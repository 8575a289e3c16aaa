//! Hooks: `fn on_start(task)`, `on_success(task)`, `on_failure(task)` and
//! `on_finish(run)` in the script, called as the run's events arrive (on a
//! thread of their own, like the other consumers of the events).
//!
//! `on_start` is called for every attempt of a task; `on_success` and
//! `on_failure` once per task, with its final result (`on_failure` for a
//! task that failed, timed out or was canceled). A hook that fails is
//! reported once, with where it failed, and not called again in the run;
//! the run itself goes on unchanged.

use std::sync::Arc;

use super::load::Script;
use super::view::{TaskView, run_map};
use crate::error::{Error, Problem, ScriptError};
use crate::event::{Event, Status};
use crate::graph::Plan;
use crate::record::Recall;
use crate::report::{self, Style};
use crate::sink::Sink;
use crate::source::Sources;

const HOOKS: [&str; 4] = ["on_start", "on_success", "on_failure", "on_finish"];

/// Calls a script's hooks for one run.
pub(crate) struct Hooks {
    script: Arc<Script>,
    plan: Arc<Plan>,
    run_id: i64,
    defined: Vec<&'static str>,
    sources: Sources,
    style: Style,
    /// What the history says of each task, for `task.history`.
    recall: Option<Arc<Recall>>,
}

impl Hooks {
    /// The hooks `script` defines, or `None` if it defines none. Problems
    /// are rendered with `sources` in `style`.
    pub(crate) fn new(
        script: Arc<Script>,
        plan: Arc<Plan>,
        run_id: i64,
        sources: Sources,
        style: Style,
    ) -> Option<Hooks> {
        let defined: Vec<&'static str> = HOOKS
            .into_iter()
            .filter(|hook| script.defines(hook, 1))
            .collect();
        (!defined.is_empty()).then_some(Hooks {
            script,
            plan,
            run_id,
            defined,
            sources,
            style,
            recall: None,
        })
    }

    /// The hooks, with `task.history` from `recall`.
    pub(crate) fn recalling(mut self, recall: Option<Arc<Recall>>) -> Hooks {
        self.recall = recall;
        self
    }

    /// The view of task `task`, with its history.
    fn view(&self, view: TaskView<'_>) -> rhai::Dynamic {
        view.with_history(self.recall.as_ref()).to_map()
    }

    fn call(&mut self, hook: &'static str, argument: rhai::Dynamic) {
        if !self.defined.contains(&hook) {
            return;
        }
        if let Err(error) = self.script.call(hook, (argument,)) {
            self.defined.retain(|defined| *defined != hook);
            let error = self.script.error(*error, &mut self.sources);
            let span = error.span();
            let called = error.called().cloned().map(Box::new);
            let message = match error {
                ScriptError::Runtime { message, .. }
                | ScriptError::Limit { message, .. }
                | ScriptError::Syntax { message, .. }
                | ScriptError::Hook { message, .. } => message,
            };
            let problem = Problem::Script(ScriptError::Hook {
                hook: hook.to_owned(),
                message,
                span,
                called,
            });
            eprint!("{}", report::problem(&problem, &self.sources, self.style));
        }
    }
}

impl Sink for Hooks {
    fn wants_output(&self) -> bool {
        // Hooks see tasks start and end, never output.
        false
    }

    fn receive(&mut self, event: Event) {
        match event {
            Event::TaskStarted { task, attempt, .. } if self.defined.contains(&"on_start") => {
                let view = self.view(TaskView::started(&self.plan.tasks[task], attempt));
                self.call("on_start", view);
            }
            Event::TaskFinished { task, result } => {
                let hook = if result.status == Status::Passed {
                    "on_success"
                } else {
                    "on_failure"
                };
                if self.defined.contains(&hook) {
                    let view = self.view(TaskView::ended(&self.plan.tasks[task], &result));
                    self.call(hook, view);
                }
            }
            Event::RunFinished { summary } => {
                let run = run_map(
                    self.run_id,
                    &summary.counts,
                    summary.duration.as_secs_f64(),
                    summary.interrupted,
                );
                self.call("on_finish", run);
            }
            _ => {}
        }
    }

    fn finish(self: Box<Self>) -> Result<(), Error> {
        // A hook that failed has been reported as it failed; the run stands.
        Ok(())
    }
}
