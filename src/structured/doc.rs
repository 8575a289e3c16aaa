//! The structured format as Rust types: what `taskrun schema` prints (a
//! JSON Schema, draft 2020-12, generated from these types) and what
//! `taskrun convert` writes.
//!
//! Reading does not go through these types: the walk in the parent module
//! reads a spanned tree, so that every problem points at its text and all
//! of them are reported at once. A test keeps the two in step: the schema
//! accepts exactly the files the walk reads without a problem.

use std::time::Duration;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::task::{Kind, TaskSpec};

/// A taskrun task file (`tasks.toml`, `tasks.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "taskrun task file")]
pub(crate) struct TaskFile {
    /// The schema this file follows, for editors (JSON only; taskrun
    /// ignores it).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub(crate) schema: Option<String>,
    /// Settings every task has unless it sets its own; `env` is merged
    /// variable by variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) defaults: Option<Defaults>,
    /// Pools: at most LIMIT of a pool's tasks run at once.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z0-9_]+$"}))]
    pub(crate) pools: IndexMap<String, Limit>,
    /// The tasks, in order.
    #[serde(default)]
    pub(crate) task: Vec<TaskDoc>,
}

/// A pool's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub(crate) struct Limit(#[schemars(range(min = 1))] pub(crate) u64);

/// What `[defaults]` may set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout: Option<DurationDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub(crate) retries: Option<u32>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}))]
    pub(crate) env: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub(crate) dir: Option<String>,
}

/// One task: a shell command (`kind = "exec"`, the default) or Rhai code
/// (`kind = "eval"`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("allOf" = [
    {"anyOf": [{"required": ["command"]}, {"required": ["script"]}, {"required": ["eval"]}]},
    {"not": {"required": ["command", "script"]}},
    {"if": {"required": ["eval"]},
     "then": {"not": {"anyOf": [{"required": ["command"]}, {"required": ["script"]}, {"properties": {"kind": {"const": "exec"}}, "required": ["kind"]}]}}},
    {"if": {"properties": {"kind": {"const": "eval"}}, "required": ["kind"]},
     "then": {"required": ["eval"]}}
]))]
pub(crate) struct TaskDoc {
    /// The task's unique name.
    #[schemars(pattern(r"^[A-Za-z0-9_]+$"))]
    pub(crate) name: String,
    /// The shell command: one `/bin/sh -c` script, however many lines; a
    /// first line `#!INTERPRETER` runs it with that interpreter instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"\S"))]
    pub(crate) command: Option<String>,
    /// Another name for `command`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"\S"))]
    pub(crate) script: Option<String>,
    /// `exec` runs `command`; `eval` runs `eval` as Rhai code, in-process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<KindDoc>,
    /// The Rhai code of an `eval` task: it passes when it returns without
    /// throwing, and what it prints is its output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) eval: Option<String>,
    /// What the task is for, as `taskrun list` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"\S"))]
    pub(crate) desc: Option<String>,
    /// Tasks that must pass before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^[A-Za-z0-9_]+$")))]
    pub(crate) after: Vec<String>,
    /// Tasks that must end, whatever their result, before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^[A-Za-z0-9_]+$")))]
    pub(crate) after_done: Vec<String>,
    /// How long the task may run (0: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout: Option<DurationDoc>,
    /// How many more times a failing or timed-out task runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub(crate) retries: Option<u32>,
    /// Where the task runs, relative to the task file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub(crate) dir: Option<String>,
    /// Variables added to the task's environment.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}))]
    pub(crate) env: IndexMap<String, String>,
    /// The pool whose limit the task counts against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z0-9_]+$"))]
    pub(crate) pool: Option<String>,
    /// CPUs to request on a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4096))]
    pub(crate) cpus: Option<u32>,
    /// Memory to request on a cluster: e.g. `"512M"`, `"4G"`, or bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mem: Option<MemDoc>,
}

/// What a task runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum KindDoc {
    Exec,
    Eval,
}

/// A duration: text such as `"500ms"`, `"90s"`, `"1.5m"`, `"2h"`, or a
/// number of seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum DurationDoc {
    Text(#[schemars(pattern(r"^\s*([0-9]+\.?[0-9]*|\.[0-9]+)\s*(ms|s|m|h|d|w)?\s*$"))] String),
    Seconds(#[schemars(range(min = 0.0))] f64),
}

/// An amount of memory: text such as `"512M"`, `"4G"`, or a number of
/// bytes (at least 1M).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum MemDoc {
    Text(#[schemars(pattern(r"^\s*[0-9]+\s*([KkMG](i?B)?|B)?\s*$"))] String),
    Bytes(#[schemars(range(min = 1_048_576))] u64),
}

/// The JSON Schema of task files, as `taskrun schema` prints it.
pub(crate) fn schema() -> String {
    let schema = schemars::schema_for!(TaskFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// The tasks and pools of `set` in TOML or JSON.
pub(crate) fn write(file: &TaskFile, format: super::Format) -> String {
    match format {
        super::Format::Toml => toml::to_string_pretty(file).unwrap_or_default(),
        super::Format::Json => {
            let mut text = serde_json::to_string_pretty(file).unwrap_or_default();
            text.push('\n');
            text
        }
    }
}

/// `duration` as text that reads back as the same duration.
pub(crate) fn duration_text(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos % 1_000_000_000 == 0 {
        format!("{}s", duration.as_secs())
    } else if nanos % 1_000_000 == 0 {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

impl TaskDoc {
    /// The task as the structured format writes it (without spans).
    pub(crate) fn of(spec: &TaskSpec) -> TaskDoc {
        let settings = &spec.settings;
        let names = |names: &[crate::source::Spanned<String>]| {
            names.iter().map(|name| name.value.clone()).collect()
        };
        let (command, kind, eval) = match spec.kind {
            Kind::Eval => (None, Some(KindDoc::Eval), Some(spec.command.value.clone())),
            Kind::Shell | Kind::Rhai => (Some(spec.command.value.clone()), None, None),
        };
        TaskDoc {
            name: spec.name.value.clone(),
            command,
            script: None,
            kind,
            eval,
            desc: spec.desc.clone(),
            after: names(&spec.after),
            after_done: names(&spec.after_done),
            timeout: settings.timeout.map(|timeout| DurationDoc::Text(duration_text(timeout))),
            retries: settings.retries,
            dir: settings
                .dir
                .as_ref()
                .map(|dir| dir.to_string_lossy().into_owned()),
            env: settings.env.iter().cloned().collect(),
            pool: settings.pool.as_ref().map(|pool| pool.value.clone()),
            cpus: settings.cpus,
            mem: settings.mem.map(MemDoc::Bytes),
        }
    }
}

impl TaskFile {
    /// `tasks` and `pools` without spans: two sets of tasks that give the
    /// same value are the same tasks.
    pub(crate) fn of(tasks: &[TaskSpec], pools: &[(String, usize)]) -> TaskFile {
        TaskFile {
            schema: None,
            defaults: None,
            pools: pools
                .iter()
                .map(|(name, limit)| (name.clone(), Limit(*limit as u64)))
                .collect(),
            task: tasks.iter().map(TaskDoc::of).collect(),
        }
    }
}
