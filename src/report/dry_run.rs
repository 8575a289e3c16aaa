//! `taskrun run --dry-run`: the order tasks would start in, when, and how
//! long the run is expected to take.

use std::fmt::Write as _;

use crate::error::plural;
use crate::event::format_duration;
use crate::graph::Plan;
use crate::order::{Bound, Estimates, Order, priorities, simulate};

/// The tasks in the order they would start with `jobs` places in `order`,
/// each with what it waits for; with estimates from history, when each
/// would start and how long it would take, and the run's expected length
/// beside what bounds it.
pub(crate) fn dry_run(plan: &Plan, estimates: &Estimates, jobs: usize, order: Order) -> String {
    let priority = priorities(plan, estimates, order);
    let simulation = simulate(plan, estimates, jobs, &priority);
    let how = match order {
        Order::CriticalPath => "the longest chain of work first",
        Order::File => "each as soon as it is ready",
    };
    let measure = if estimates.from_history {
        "estimated from history"
    } else {
        "no history yet: each task counts the same"
    };
    let mut out = format!(
        "Would start {}, at most {} at once, {how} ({measure}):\n",
        plural(plan.tasks.len(), "task"),
        jobs
    );
    let width = plan.tasks.len().to_string().len();
    for (step, placed) in simulation.placed.iter().enumerate() {
        let task = placed.task;
        let spec = &plan.tasks[task];
        let _ = write!(out, "  {:>width$}. ", step + 1);
        if estimates.from_history {
            let _ = write!(
                out,
                "at {:>6} for {:>6}  ",
                format_duration(placed.start),
                format_duration(estimates.durations[task])
            );
        }
        let _ = write!(
            out,
            "{}: {}",
            spec.name.value,
            super::indented(&spec.command.value, "       ")
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
    let bound = Bound::of(plan, estimates, jobs);
    let chain: Vec<&str> = bound
        .chain
        .iter()
        .map(|&task| plan.tasks[task].name.value.as_str())
        .collect();
    if estimates.from_history {
        let _ = writeln!(
            out,
            "Estimated wall time {} (lower bound {}; critical path: {})",
            format_duration(simulation.makespan),
            format_duration(bound.lower()),
            chain.join(" → ")
        );
    } else {
        let _ = writeln!(out, "Longest chain: {}", chain.join(" → "));
    }
    out
}
