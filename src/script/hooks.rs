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

use crossbeam::channel::Receiver;

use super::load::Script;
use super::view::{TaskView, passed, run_map};
use crate::error::{Problem, ScriptError};
use crate::event::{Counts, Event};
use crate::graph::Plan;
use crate::report::{self, Style};
use crate::source::Sources;

const HOOKS: [&str; 4] = ["on_start", "on_success", "on_failure", "on_finish"];

/// Calls a script's hooks for one run.
pub struct Hooks {
    script: Arc<Script>,
    run_id: i64,
    defined: Vec<&'static str>,
    sources: Sources,
    style: Style,
}

impl Hooks {
    /// The hooks `script` defines, or `None` if it defines none. Problems
    /// are rendered with `sources` in `style`.
    pub fn new(script: Arc<Script>, run_id: i64, sources: Sources, style: Style) -> Option<Hooks> {
        let defined: Vec<&'static str> = HOOKS
            .into_iter()
            .filter(|hook| script.defines(hook, 1))
            .collect();
        (!defined.is_empty()).then_some(Hooks {
            script,
            run_id,
            defined,
            sources,
            style,
        })
    }

    /// Calls the hooks for every event until the channel closes.
    pub fn consume(mut self, plan: &Plan, events: &Receiver<Event>) {
        let mut attempts = vec![0u32; plan.tasks.len()];
        let mut counts = Counts::default();
        for event in events {
            match event {
                Event::TaskStarted { task, .. } => {
                    attempts[task] += 1;
                    let view = TaskView::started(&plan.tasks[task], attempts[task]);
                    self.call("on_start", view.to_map());
                }
                Event::TaskFinished { task, result } => {
                    counts.add(result.status);
                    let view = TaskView::ended(&plan.tasks[task], &result);
                    let hook = if passed(result.status) {
                        "on_success"
                    } else {
                        "on_failure"
                    };
                    self.call(hook, view.to_map());
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
    }

    fn call(&mut self, hook: &'static str, argument: rhai::Dynamic) {
        if !self.defined.contains(&hook) {
            return;
        }
        if let Err(error) = self.script.call(hook, (argument,)) {
            self.defined.retain(|defined| *defined != hook);
            let span = match &error {
                ScriptError::Syntax { span, .. }
                | ScriptError::Runtime { span, .. }
                | ScriptError::Limit { span, .. }
                | ScriptError::Hook { span, .. } => *span,
            };
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
            });
            eprint!("{}", report::problem(&problem, &self.sources, self.style));
        }
    }
}
