//! What `run --dry-run` says of the cache: which tasks would be restored
//! and which would run, worked out as the run would, without running or
//! writing anything.

use super::executor::{CacheSetup, key, unknown_dependency};
use super::{Handed, handed_on};
use crate::graph::Plan;
use crate::schedule::JobBase;

/// What a dry run expects of one cacheable task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Prediction {
    /// Up to date: it would be restored from run `run`.
    Cached { run: i64 },
    /// It would run, and why.
    Runs(String),
}

/// For each task of `plan` (in plan order): `None` when it takes no part
/// in the cache, else what a run would do with it now. A task that would
/// run makes what it hands its dependents unknown, so they would run too.
pub(crate) fn predict(plan: &Plan, setup: &CacheSetup, base: &JobBase) -> Vec<Option<Prediction>> {
    let count = plan.tasks.len();
    let mut produced: Vec<Handed> = vec![Handed::default(); count];
    let mut predictions: Vec<Option<Prediction>> = vec![None; count];
    for task in topological(plan) {
        let job = crate::schedule::job(plan, task, base, &produced);
        let Some(cache) = &job.cache else {
            continue;
        };
        if let Some((dep, _)) = cache.deps.iter().find(|(_, handed)| handed.is_none()) {
            let why = if plan
                .tasks
                .iter()
                .any(|spec| spec.name.value == *dep && spec.settings.cache.cacheable())
            {
                format!("{dep} would run first")
            } else {
                unknown_dependency(dep)
            };
            predictions[task] = Some(Prediction::Runs(why));
            continue;
        }
        let prediction = match key(&job, cache, &setup.options, &setup.stats) {
            Err(why) => Prediction::Runs(why),
            Ok(keyed) => match setup.would_hit(&keyed) {
                Some(entry) if !setup.options.force => {
                    produced[task].value = Some(handed_on(
                        &keyed.key,
                        entry.outputs.as_ref(),
                        entry.out.as_ref(),
                    ));
                    Prediction::Cached { run: entry.run }
                }
                Some(_) => Prediction::Runs("--force".to_owned()),
                None => Prediction::Runs("no stored pass has its key".to_owned()),
            },
        };
        predictions[task] = Some(prediction);
    }
    predictions
}

/// The tasks of `plan` in an order where each comes after its
/// dependencies.
fn topological(plan: &Plan) -> Vec<usize> {
    let count = plan.tasks.len();
    let mut order = Vec::with_capacity(count);
    let mut done = vec![false; count];
    for root in 0..count {
        // An explicit stack: a chain of thousands must not overflow.
        let mut stack = vec![(root, false)];
        while let Some((task, expanded)) = stack.pop() {
            if done[task] {
                continue;
            }
            if expanded {
                done[task] = true;
                order.push(task);
                continue;
            }
            stack.push((task, true));
            for &dep in plan.deps[task].iter().chain(&plan.soft[task]) {
                if !done[dep] {
                    stack.push((dep, false));
                }
            }
        }
    }
    order
}
