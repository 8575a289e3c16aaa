//! A task file's plan, for people (`taskrun list`) and for programs
//! (`list --json`, `check --json`, `run --dry-run --json`): its tasks with
//! what they wait for and what they are for, its pools, and the order the
//! tasks would start in.

use std::fmt::Write as _;

use serde::Serialize;

use super::history::JSON_SCHEMA;
use crate::graph::Plan;
use crate::order::{Estimates, Order, priorities, simulate};
use crate::task::Timeout;

/// `taskrun list`: each task with what it is for and what it waits for.
pub(crate) fn list(file: &str, plan: &Plan) -> String {
    let width = plan
        .tasks
        .iter()
        .map(|task| task.name.value.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("Tasks in {file}:\n");
    for (id, task) in plan.tasks.iter().enumerate() {
        let mut parts = Vec::new();
        if let Some(desc) = &task.desc {
            parts.push(desc.clone());
        }
        let names = |deps: &[usize]| -> Vec<&str> {
            deps.iter()
                .map(|&dep| plan.tasks[dep].name.value.as_str())
                .collect()
        };
        let mut waits = Vec::new();
        if !plan.deps[id].is_empty() {
            waits.push(format!("after {}", names(&plan.deps[id]).join(", ")));
        }
        if !plan.soft[id].is_empty() {
            waits.push(format!("after_done {}", names(&plan.soft[id]).join(", ")));
        }
        if !waits.is_empty() {
            parts.push(format!("({})", waits.join("; ")));
        }
        let line = parts.join(" ");
        if line.is_empty() {
            let _ = writeln!(out, "  {}", task.name.value);
        } else {
            let _ = writeln!(out, "  {:<width$}  {line}", task.name.value);
        }
    }
    out
}

/// The plan as JSON: the same document for `list --json`, `check --json`
/// and `run --dry-run --json`; the start order is `order`'s with
/// `estimates`.
pub(crate) fn plan_json(
    file: &str,
    plan: &Plan,
    jobs: usize,
    estimates: &Estimates,
    order: Order,
) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        schema_version: u32,
        file: &'a str,
        jobs: usize,
        tasks: Vec<TaskJson<'a>>,
        pools: Vec<PoolJson<'a>>,
        /// The order the tasks would start in with `jobs` places, each
        /// taking the same time and passing.
        start_order: Vec<&'a str>,
    }
    #[derive(Serialize)]
    struct TaskJson<'a> {
        name: &'a str,
        command: &'a str,
        description: Option<&'a str>,
        kind: &'static str,
        after: Vec<&'a str>,
        after_done: Vec<&'a str>,
        pool: Option<&'a str>,
        timeout_ms: Option<u128>,
        /// A limit that is a multiple of the task's p95 (`3xp95`), which
        /// `timeout_ms` gives once a run has worked it out.
        #[serde(skip_serializing_if = "Option::is_none")]
        timeout_p95: Option<String>,
        retries: u32,
        dir: Option<String>,
        env: Vec<(&'a str, &'a str)>,
    }
    #[derive(Serialize)]
    struct PoolJson<'a> {
        name: &'a str,
        limit: usize,
    }
    let name = |id: usize| plan.tasks[id].name.value.as_str();
    let document = Document {
        schema_version: JSON_SCHEMA,
        file,
        jobs,
        tasks: plan
            .tasks
            .iter()
            .enumerate()
            .map(|(id, task)| TaskJson {
                name: &task.name.value,
                command: &task.command.value,
                description: task.desc.as_deref(),
                kind: task.kind.as_str(),
                after: plan.deps[id].iter().map(|&dep| name(dep)).collect(),
                after_done: plan.soft[id].iter().map(|&dep| name(dep)).collect(),
                pool: task.settings.pool.as_ref().map(|pool| pool.value.as_str()),
                timeout_ms: task
                    .settings
                    .own_timeout()
                    .map(|timeout| timeout.as_millis()),
                timeout_p95: match task.settings.timeout {
                    Some(timeout @ Timeout::OfP95 { .. }) => Some(timeout.text()),
                    _ => None,
                },
                retries: task.settings.retries.unwrap_or(0),
                dir: task
                    .settings
                    .dir
                    .as_ref()
                    .map(|dir| dir.display().to_string()),
                env: task
                    .settings
                    .env
                    .iter()
                    .map(|(key, value)| (key.as_str(), value.as_str()))
                    .collect(),
            })
            .collect(),
        pools: plan
            .pools
            .iter()
            .map(|(name, limit)| PoolJson {
                name,
                limit: *limit,
            })
            .collect(),
        start_order: simulate(plan, estimates, jobs, &priorities(plan, estimates, order))
            .placed
            .iter()
            .map(|placed| name(placed.task))
            .collect(),
    };
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_string_pretty(&document).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::plan;

    #[test]
    fn list_shows_descriptions_and_dependencies() {
        let plan = plan(
            "# Fetch what the build needs.\nfetch: npm ci\nlint: npm run lint [after:fetch] [desc:check the style]\n\
             \n# not a description: a blank line follows\n\nclean: rm -rf out [after_done:lint]\n",
        );
        assert_eq!(
            list("tasks.txt", &plan),
            "Tasks in tasks.txt:\n  \
             fetch  Fetch what the build needs.\n  \
             lint   check the style (after fetch)\n  \
             clean  (after_done lint)\n"
        );
    }

    #[test]
    fn the_plan_in_json() {
        let plan = plan("pool db 1\na: x [pool:db] [timeout:2s]\nb: y [after:a] [env:K=v]\n");
        let value: serde_json::Value = serde_json::from_str(&plan_json(
            "tasks.txt",
            &plan,
            2,
            &Estimates::equal(2),
            Order::CriticalPath,
        ))
        .unwrap();
        assert_eq!(value["schema_version"], 1);
        assert_eq!(value["tasks"][0]["pool"], "db");
        assert_eq!(value["tasks"][0]["timeout_ms"], 2000);
        assert_eq!(value["tasks"][1]["after"], serde_json::json!(["a"]));
        assert_eq!(value["tasks"][1]["env"], serde_json::json!([["K", "v"]]));
        assert_eq!(
            value["pools"],
            serde_json::json!([{"name": "db", "limit": 1}])
        );
        assert_eq!(value["start_order"], serde_json::json!(["a", "b"]));
    }
}
