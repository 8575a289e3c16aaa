//! `taskrun run --dry-run`: the order tasks would start in.

use std::fmt::Write as _;

use crate::error::plural;
use crate::graph::Plan;
use crate::schedule::start_order;

/// The tasks in the order they would start with `jobs` places, each with
/// what it waits for.
pub(crate) fn dry_run(plan: &Plan, jobs: usize) -> String {
    let mut out = format!(
        "Would start {}, at most {} at once, in this order \
         (if each took the same time and passed):\n",
        plural(plan.tasks.len(), "task"),
        jobs
    );
    let width = plan.tasks.len().to_string().len();
    for (step, task) in start_order(plan, jobs).into_iter().enumerate() {
        let spec = &plan.tasks[task];
        let _ = write!(
            out,
            "  {:>width$}. {}: {}",
            step + 1,
            spec.name.value,
            spec.command.value
        );
        let names = |deps: &[usize]| {
            let names: Vec<&str> = deps
                .iter()
                .map(|&dep| plan.tasks[dep].name.value.as_str())
                .collect();
            names.join(", ")
        };
        let mut notes = Vec::new();
        if !plan.deps[task].is_empty() {
            notes.push(format!("after {}", names(&plan.deps[task])));
        }
        if !plan.soft[task].is_empty() {
            notes.push(format!("after {} end", names(&plan.soft[task])));
        }
        if let Some(pool) = plan.pool_of[task] {
            notes.push(format!("pool {}", plan.pools[pool].0));
        }
        if !notes.is_empty() {
            let _ = write!(out, "  ({})", notes.join("; "));
        }
        out.push('\n');
    }
    out
}
