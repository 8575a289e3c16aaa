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
    #[schemars(extend("not" = {"pattern": "\\x00"}))]
    #[schemars(with = "String")]
    pub(crate) schema: Option<String>,
    /// Settings every task has unless it sets its own; `env` is merged
    /// variable by variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Defaults")]
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
pub(crate) struct Limit(
    #[schemars(range(min = 1, max = 9_223_372_036_854_775_807_u64))] pub(crate) u64,
);

/// What `[defaults]` may set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "DurationDoc")]
    pub(crate) timeout: Option<DurationDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    #[schemars(with = "u32")]
    pub(crate) retries: Option<u32>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend(
        "propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "additionalProperties" = {"type": "string", "not": {"pattern": "\\x00"}}
    ))]
    pub(crate) env: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), extend("not" = {"pattern": "\\x00"}))]
    #[schemars(with = "String")]
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
    /// command of several lines whose first line is `#!INTERPRETER` runs
    /// with that interpreter instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"\S"))]
    #[schemars(with = "String")]
    #[schemars(extend("not" = {"pattern": "\\x00"}))]
    pub(crate) command: Option<String>,
    /// Another name for `command`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"\S"))]
    #[schemars(with = "String")]
    #[schemars(extend("not" = {"pattern": "\\x00"}))]
    pub(crate) script: Option<String>,
    /// `exec` runs `command`; `eval` runs `eval` as Rhai code, in-process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "KindDoc")]
    pub(crate) kind: Option<KindDoc>,
    /// The Rhai code of an `eval` task: it passes when it returns without
    /// throwing, and what it prints is its output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    #[schemars(pattern(r"\S"), extend("not" = {"pattern": "\\x00"}))]
    pub(crate) eval: Option<String>,
    /// What the task is for, as `taskrun list` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"\S"))]
    #[schemars(with = "String")]
    #[schemars(extend("not" = {"pattern": "\\x00"}))]
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
    #[schemars(with = "DurationDoc")]
    pub(crate) timeout: Option<DurationDoc>,
    /// How many more times a failing or timed-out task runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    #[schemars(with = "u32")]
    pub(crate) retries: Option<u32>,
    /// Where the task runs, relative to the task file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), extend("not" = {"pattern": "\\x00"}))]
    #[schemars(with = "String")]
    pub(crate) dir: Option<String>,
    /// Variables added to the task's environment.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(extend(
        "propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "additionalProperties" = {"type": "string", "not": {"pattern": "\\x00"}}
    ))]
    pub(crate) env: IndexMap<String, String>,
    /// The pool whose limit the task counts against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[A-Za-z0-9_]+$"))]
    #[schemars(with = "String")]
    pub(crate) pool: Option<String>,
    /// CPUs to request on a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4096))]
    #[schemars(with = "u32")]
    pub(crate) cpus: Option<u32>,
    /// Memory to request on a cluster: e.g. `"512M"`, `"4G"`, or bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "MemDoc")]
    pub(crate) mem: Option<MemDoc>,
    /// The files whose content decides whether the task is up to date:
    /// paths or globs relative to the task's directory (`src/*.c`,
    /// `include/**/*.h`); `!` before one excludes what it matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) inputs: Vec<InputDoc>,
    /// The files the task makes, restored when it is up to date: paths,
    /// globs or `dir/` trees relative to the task's directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) outputs: Vec<OutputDoc>,
    /// Inherited variables whose value decides whether the task is up to
    /// date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^[A-Za-z_][A-Za-z0-9_]*$")))]
    pub(crate) uses_env: Vec<String>,
    /// Programs (found through `PATH`, or absolute paths) whose content
    /// decides whether the task is up to date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(pattern(r"^(/[^\s\x00]*|[^/\s\x00]+)$")))]
    pub(crate) tools: Vec<String>,
    /// `false`: the task is never looked up nor stored, whatever it
    /// declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "bool")]
    pub(crate) cache: Option<bool>,
}

/// An input pattern: a path or glob relative to the task's directory,
/// without `..`; `!` before it excludes what it matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub(crate) struct InputDoc(
    #[schemars(length(min = 1))]
    #[schemars(extend("not" = {"anyOf": [{"const": "!"}, {"pattern": "^!?/"}, {"pattern": "(^|/)\\.\\.(/|$)"}, {"pattern": "\\x00"}]}))]
    pub(crate) String,
);

/// An output pattern: a path, glob or `dir/` tree relative to the task's
/// directory, without `..`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub(crate) struct OutputDoc(
    #[schemars(length(min = 1))]
    #[schemars(extend("not" = {"anyOf": [{"pattern": "^!"}, {"pattern": "^/"}, {"pattern": "(^|/)\\.\\.(/|$)"}, {"pattern": "\\x00"}]}))]
    pub(crate) String,
);

/// What a task runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum KindDoc {
    Exec,
    Eval,
}

/// A duration: text such as `"500ms"`, `"90s"`, `"1.5m"`, `"2h"`, or a
/// number of seconds. As a timeout, also a multiple of the task's
/// recorded p95, such as `"3xp95"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum DurationDoc {
    Text(
        #[schemars(pattern(
            r"^\s*(([0-9]+\.?[0-9]*|\.[0-9]+)\s*(ms|s|m|h|d|w)?|([0-9]+\.?[0-9]*|\.[0-9]+)xp95)\s*$"
        ))]
        String,
    ),
    Seconds(#[schemars(range(min = 0.0, max = 1.8e19))] f64),
}

/// An amount of memory: text such as `"512M"`, `"4G"`, or a number of
/// bytes (at least 1M).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum MemDoc {
    /// At least 1M: `M` or `G` of at least 1, `K` of at least 1024, or
    /// at least 1048576 bytes.
    Text(
        #[schemars(pattern(
            r"^\s*0*([1-9][0-9]*\s*[MG]|(102[4-9]|10[3-9][0-9]|1[1-9][0-9]{2}|[2-9][0-9]{3}|[1-9][0-9]{4,})\s*[Kk]|(104857[6-9]|10485[89][0-9]|1048[6-9][0-9]{2}|1049[0-9]{3}|10[5-9][0-9]{4}|1[1-9][0-9]{5}|[2-9][0-9]{6}|[1-9][0-9]{7,})\s*)(i?B)?\s*$"
        ))]
        String,
    ),
    Bytes(#[schemars(range(min = 1_048_576, max = 9_223_372_036_854_775_807_u64))] u64),
}

/// The JSON Schema of task files, as `taskrun schema` prints it.
pub(crate) fn schema() -> String {
    let schema = schemars::schema_for!(TaskFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// `file` in TOML or JSON, or why it cannot be written.
pub(crate) fn write(file: &TaskFile, format: super::Format) -> Result<String, String> {
    match format {
        super::Format::Toml => toml::to_string_pretty(file).map_err(|error| error.to_string()),
        super::Format::Json => serde_json::to_string_pretty(file)
            .map(|text| text + "\n")
            .map_err(|error| error.to_string()),
    }
}

/// An amount of memory as the task files write it: in the largest unit
/// that holds it whole.
fn mem_doc(bytes: u64) -> MemDoc {
    for (unit, shift) in [("G", 30), ("M", 20), ("K", 10)] {
        if bytes.trailing_zeros() >= shift {
            return MemDoc::Text(format!("{}{unit}", bytes >> shift));
        }
    }
    match i64::try_from(bytes) {
        Ok(_) => MemDoc::Bytes(bytes),
        Err(_) => MemDoc::Text(bytes.to_string()),
    }
}

/// `duration` as text that reads back as the same duration.
pub(crate) fn duration_text(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos.is_multiple_of(1_000_000_000) {
        format!("{}s", duration.as_secs())
    } else if nanos.is_multiple_of(1_000_000) {
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
            timeout: settings
                .timeout
                .map(|timeout| DurationDoc::Text(timeout.text())),
            retries: settings.retries,
            dir: settings
                .dir
                .as_ref()
                .map(|dir| dir.to_string_lossy().into_owned()),
            env: settings.env.iter().cloned().collect(),
            pool: settings.pool.as_ref().map(|pool| pool.value.clone()),
            cpus: settings.cpus,
            mem: settings.mem.map(mem_doc),
            inputs: settings
                .cache
                .inputs
                .iter()
                .map(|pattern| InputDoc(pattern.value.clone()))
                .collect(),
            outputs: settings
                .cache
                .outputs
                .iter()
                .map(|pattern| OutputDoc(pattern.value.clone()))
                .collect(),
            uses_env: settings.cache.uses_env.clone(),
            tools: settings.cache.tools.clone(),
            cache: settings.cache.off.then_some(false),
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
                // A limit beyond what TOML's integers hold is no limit
                // either way.
                .map(|(name, limit)| {
                    let limit = u64::try_from(*limit).unwrap_or(u64::MAX);
                    (name.clone(), Limit(limit.min(i64::MAX as u64)))
                })
                .collect(),
            task: tasks.iter().map(TaskDoc::of).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Source, SourceId};

    fn validator() -> (boon::Schemas, boon::SchemaIndex) {
        let schema: serde_json::Value = serde_json::from_str(&schema()).unwrap();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        compiler.add_resource("tasks.schema.json", schema).unwrap();
        let index = compiler.compile("tasks.schema.json", &mut schemas).unwrap();
        (schemas, index)
    }

    fn parses(text: &str, format: super::super::Format) -> Result<(), String> {
        let source = Source::from_bytes("tasks", text.as_bytes());
        let parsed = super::super::parse(&source, SourceId::default(), format);
        match parsed.errors.first() {
            None => Ok(()),
            Some(error) => Err(error.to_string()),
        }
    }

    /// `fields` in a file of one task named `t`.
    fn task(fields: &str) -> String {
        let comma = if fields.is_empty() { "" } else { ", " };
        format!(r#"{{"task": [{{"name": "t"{comma}{fields}}}]}}"#)
    }

    /// Files both the schema and the parser accept.
    fn accepted() -> Vec<String> {
        vec![
            "{}".to_owned(),
            r#"{"task": []}"#.to_owned(),
            r#"{"$schema": "./tasks.schema.json", "task": [{"name": "t", "command": "make"}]}"#
                .to_owned(),
            task(r#""script": "make""#),
            task(r#""eval": "print(1)""#),
            task(r#""kind": "eval", "eval": "print(1)""#),
            task(r#""kind": "exec", "command": "make""#),
            task(
                r#""command": "make", "desc": "d", "after": ["a"], "after_done": [], "timeout": "1.5m",
                   "retries": 3, "dir": "web", "env": {"A": "1", "_B2": ""}, "pool": "db",
                   "cpus": 4, "mem": "4G""#,
            ),
            task(
                r#""command": "x", "inputs": ["src/*.c", "!src/x.c", "./a..b", "x/"], "outputs": ["dist/", "app"],
                   "uses_env": ["CC", "_X1"], "tools": ["cc", "/usr/bin/python3"], "cache": false"#,
            ),
            task(r#""command": "x", "inputs": [], "cache": true"#),
            task(r#""command": "x", "timeout": 90"#),
            task(r#""command": "x", "timeout": 0.5"#),
            task(r#""command": "x", "timeout": "500ms""#),
            task(r#""command": "x", "retries": 3.0"#),
            task(r#""command": "x", "mem": 1048576"#),
            task(r#""command": "x", "mem": "512MiB""#),
            task(r#""command": "x", "mem": "2048K""#),
            task(r#""command": "x", "mem": "1048576""#),
            task(r#""command": "x", "mem": "1048576B""#),
            task(r#""command": "x", "mem": "01G""#),
            task(r#""command": "x", "mem": 1e16"#),
            r#"{"pools": {"db": 1e16}}"#.to_owned(),
            task(r#""command": "x", "mem": 1048576.0"#),
            task(r#""command": "x", "retries": 3.0, "cpus": 2.0"#),
            r#"{"pools": {"db": 1.0}}"#.to_owned(),
            r#"{"pools": {"db": 1, "net_2": 8}}"#.to_owned(),
            r#"{"defaults": {"timeout": "5m", "retries": 1, "env": {"A": "x"}, "dir": "d"}}"#
                .to_owned(),
        ]
    }

    /// Files both the schema and the parser reject.
    fn rejected() -> Vec<String> {
        vec![
            "[]".to_owned(),
            r#"{"tasks": []}"#.to_owned(),
            r#"{"task": {}}"#.to_owned(),
            r#"{"task": [1]}"#.to_owned(),
            r#"{"$schema": 1}"#.to_owned(),
            r#"{"task": [{"command": "x"}]}"#.to_owned(),
            task(r#""command": 1"#),
            task(r#""command": """#),
            task(r#""command": "  ""#),
            task(""),
            task(r#""command": "x", "script": "y""#),
            task(r#""command": "x", "eval": "y""#),
            task(r#""kind": "exec", "eval": "y""#),
            task(r#""kind": "eval""#),
            task(r#""kind": "eval", "command": "x""#),
            task(r#""kind": "shell", "command": "x""#),
            task(r#""command": "x", "comand": "y""#),
            r#"{"task": [{"name": "my-task", "command": "x"}]}"#.to_owned(),
            r#"{"task": [{"name": "", "command": "x"}]}"#.to_owned(),
            task(r#""command": "x", "after": "a""#),
            task(r#""command": "x", "after": ["a b"]"#),
            task(r#""command": "x", "after": [""]"#),
            task(r#""command": "x", "after_done": [1]"#),
            task(r#""command": "x", "timeout": "soon""#),
            task(r#""command": "x", "timeout": "5 parsecs""#),
            task(r#""command": "x", "timeout": -1"#),
            task(r#""command": "x", "timeout": true"#),
            task(r#""command": "x", "retries": 101"#),
            task(r#""command": "x", "retries": -1"#),
            task(r#""command": "x", "retries": "3""#),
            task(r#""command": "x", "retries": 1.5"#),
            task(r#""command": "x", "cpus": 0"#),
            task(r#""command": "x", "cpus": 5000"#),
            task(r#""command": "x", "mem": 1024"#),
            task(r#""command": "x", "mem": "lots""#),
            task(r#""command": "x", "mem": "1K""#),
            task(r#""command": "x", "mem": "1023K""#),
            task(r#""command": "x", "mem": "1048575""#),
            task(r#""command": "x", "mem": "0M""#),
            task(r#""command": "x", "mem": "0""#),
            task(r#""command": "x", "mem": "1GBB""#),
            task(r#""command": "x", "mem": "1GiBiB""#),
            task(r#""eval": """#),
            task(r#""eval": "  ""#),
            r#"{"$schema": "a\u0000"}"#.to_owned(),
            task(r#""command": "x", "mem": 1048575.0"#),
            task(r#""command": "x", "timeout": null"#),
            task(r#""command": "x", "kind": null"#),
            task(r#""command": null"#),
            task(r#""command": "x", "timeout": 1e300"#),
            task(r#""command": "x\u0000y""#),
            task(r#""eval": "x\u0000y""#),
            task(r#""command": "x", "dir": "a\u0000""#),
            task(r#""command": "x", "env": {"A": "\u0000"}"#),
            r#"{"$schema": null}"#.to_owned(),
            r#"{"defaults": null}"#.to_owned(),
            r#"{"defaults": {"env": {"A": "\u0000"}}}"#.to_owned(),
            r#"{"pools": {"db": 1.5}}"#.to_owned(),
            task(r#""command": "x", "dir": """#),
            task(r#""command": "x", "env": {"1X": "y"}"#),
            task(r#""command": "x", "env": {"A": 1}"#),
            task(r#""command": "x", "env": ["A=1"]"#),
            task(r#""command": "x", "pool": "a b""#),
            task(r#""command": "x", "desc": """#),
            r#"{"pools": {"db": 0}}"#.to_owned(),
            r#"{"pools": {"d-b": 1}}"#.to_owned(),
            r#"{"pools": {"db": "1"}}"#.to_owned(),
            r#"{"defaults": {"pool": "db"}}"#.to_owned(),
            r#"{"defaults": {"timeout": "soon"}}"#.to_owned(),
            r#"{"defaults": []}"#.to_owned(),
            task(r#""command": "x", "inputs": "src/*.c""#),
            task(r#""command": "x", "inputs": [1]"#),
            task(r#""command": "x", "inputs": [""]"#),
            task(r#""command": "x", "inputs": ["!"]"#),
            task(r#""command": "x", "inputs": ["/etc/x"]"#),
            task(r#""command": "x", "inputs": ["!/etc/x"]"#),
            task(r#""command": "x", "inputs": ["a/../b"]"#),
            task(r#""command": "x", "inputs": [".."]"#),
            task(r#""command": "x", "inputs": ["a\u0000"]"#),
            task(r#""command": "x", "outputs": ["!dist/x"]"#),
            task(r#""command": "x", "outputs": ["/dist"]"#),
            task(r#""command": "x", "outputs": ["dist/.."]"#),
            task(r#""command": "x", "outputs": [""]"#),
            task(r#""command": "x", "uses_env": ["1X"]"#),
            task(r#""command": "x", "uses_env": [""]"#),
            task(r#""command": "x", "uses_env": "CC""#),
            task(r#""command": "x", "tools": ["bin/gen"]"#),
            task(r#""command": "x", "tools": ["cc ld"]"#),
            task(r#""command": "x", "tools": [""]"#),
            task(r#""command": "x", "cache": "no""#),
            task(r#""command": "x", "cache": 0"#),
        ]
    }

    /// The schema and the parser accept and reject the same files.
    #[test]
    fn schema_and_parser_agree() {
        let (schemas, index) = validator();
        let (accepted, rejected) = (accepted(), rejected());
        for (cases, accept) in [(&accepted[..], true), (&rejected[..], false)] {
            for case in cases {
                let value: serde_json::Value = serde_json::from_str(case).unwrap();
                let schema = schemas
                    .validate(&value, index)
                    .map_err(|error| error.to_string());
                let parser = parses(case, super::super::Format::Json);
                assert_eq!(schema.is_ok(), accept, "the schema for {case}: {schema:?}");
                assert_eq!(parser.is_ok(), accept, "the parser for {case}: {parser:?}");
            }
        }
    }

    /// Every TOML and JSON example follows the schema.
    #[test]
    fn every_example_follows_the_schema() {
        let (schemas, index) = validator();
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut checked = Vec::new();
        for entry in std::fs::read_dir(&examples).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let value: serde_json::Value = match path.extension().and_then(|e| e.to_str()) {
                Some("json") => serde_json::from_str(&text).unwrap(),
                Some("toml") => {
                    serde_json::to_value(toml::from_str::<toml::Value>(&text).unwrap()).unwrap()
                }
                _ => continue,
            };
            if let Err(error) = schemas.validate(&value, index) {
                panic!("{} does not follow the schema: {error}", path.display());
            }
            checked.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
        checked.sort();
        assert!(checked.len() >= 4, "{checked:?}");
    }

    /// What `convert` writes reads back as the same tasks, in both formats.
    #[test]
    fn written_files_read_back_as_the_same_tasks() {
        let text = "pool db 2\npool all 18446744073709551615\na: make [timeout:1.5m] [env:A=1] [desc:the a] [mem:1048577]\nb: make b [after:a] [after_done:c] [pool:db] [retries:2] [cpus:2] [mem:4G] [dir:web]\nc: true [timeout:250ms] [mem:18446744073709551615] [pool:all]\nd: cc [dir:src] [inputs:*.c,!x.c] [outputs:app,dist/] [uses_env:CC] [tools:cc,/bin/sh] [cache:no]\n";
        let lines = crate::taskfile::parse(
            &Source::from_bytes("t", text.as_bytes()),
            SourceId::default(),
        );
        assert!(lines.errors.is_empty());
        let pools: Vec<(String, usize)> = lines
            .pools
            .iter()
            .map(|pool| (pool.name.value.clone(), pool.limit))
            .collect();
        let file = TaskFile::of(&lines.tasks, &pools);
        for format in [super::super::Format::Toml, super::super::Format::Json] {
            let written = write(&file, format).unwrap();
            let source = Source::from_bytes("t", written.as_bytes());
            let read = super::super::parse(&source, SourceId::default(), format);
            assert!(read.errors.is_empty(), "{written}\n{:?}", read.errors);
            let read_pools: Vec<(String, usize)> = read
                .pools
                .iter()
                .map(|pool| (pool.name.value.clone(), pool.limit))
                .collect();
            assert_eq!(TaskFile::of(&read.tasks, &read_pools), file, "{written}");
        }
        let written = crate::taskfile::write(&lines.tasks, &pools).unwrap();
        let again = crate::taskfile::parse(
            &Source::from_bytes("t", written.as_bytes()),
            SourceId::default(),
        );
        assert_eq!(TaskFile::of(&again.tasks, &pools), file, "{written}");
    }

    #[test]
    fn durations_are_written_as_they_read() {
        for text in ["90s", "1.5m", "250ms", "0", "2h", "0.0001"] {
            let duration = crate::units::parse_duration(text).unwrap();
            let written = duration_text(duration);
            assert_eq!(
                crate::units::parse_duration(&written).unwrap(),
                duration,
                "{text} → {written}"
            );
        }
    }
}
