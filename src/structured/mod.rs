//! The structured formats: `tasks.toml` and `tasks.json` → [`TaskSpec`]s.
//!
//! ```toml
//! [defaults]
//! timeout = "5m"
//!
//! [pools]
//! db = 1
//!
//! [[task]]
//! name = "build"
//! command = """
//! set -e
//! make
//! """
//! ```
//!
//! Both formats are parsed into one [`tree`] of spanned values, which one
//! walk reads into the same [`Parsed`] as the line format's, so every
//! later stage (the graph, the script, the runner) is shared. Like the
//! line format's parser, the walk reports every problem of the file in one
//! pass and keeps each task whose name could be read, whatever else is
//! wrong with it. [`doc`] describes the format as Rust types: the JSON
//! Schema `taskrun schema` prints, and the writer of `taskrun convert`.

pub(crate) mod doc;
pub(crate) mod tree;

use std::path::PathBuf;
use std::time::Duration;

use tree::{Key, Node, Value};

use crate::error::{ParseError, did_you_mean};
use crate::source::{Source, SourceId, Span, Spanned};
use crate::task::{
    CacheSpec, Kind, MAX_CPUS, MAX_RETRIES, PoolSpec, Settings, TaskSpec, Timeout, is_env_name,
};
use crate::taskfile::{Parsed, invalid_name};
use crate::units::parse_size;

/// A structured format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Toml,
    Json,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Toml => "TOML",
            Format::Json => "JSON",
        }
    }

    fn syntax_help(self) -> &'static str {
        match self {
            Format::Toml => {
                "see https://toml.io for TOML's syntax; strings are quoted, e.g. `name = \"build\"`"
            }
            Format::Json => {
                "JSON allows no comments and no trailing commas, and quotes every key and string"
            }
        }
    }
}

/// The keys of the file's top level.
const TOP_KEYS: &[&str] = &["$schema", "defaults", "pools", "task"];

/// The keys of a task's table.
pub(crate) const TASK_KEYS: &[&str] = &[
    "name",
    "command",
    "script",
    "kind",
    "eval",
    "desc",
    "after",
    "after_done",
    "timeout",
    "retries",
    "dir",
    "env",
    "pool",
    "cpus",
    "mem",
    "inputs",
    "outputs",
    "uses_env",
    "tools",
    "cache",
];

/// Keys other tools use, and taskrun's for the same thing.
const SYNONYMS: &[(&str, &str)] = &[
    ("depends", "after"),
    ("depends_on", "after"),
    ("deps", "after"),
    ("needs", "after"),
    ("requires", "after"),
    ("cmd", "command"),
    ("run", "command"),
    ("cwd", "dir"),
    ("description", "desc"),
    ("environment", "env"),
];

/// The keys of `[defaults]`.
const DEFAULT_KEYS: &[&str] = &["timeout", "retries", "env", "dir"];

/// Parses the TOML or JSON task file `source`, whose id is `id`.
pub(crate) fn parse(source: &Source, id: SourceId, format: Format) -> Parsed {
    let mut walk = Walk {
        format,
        text: std::sync::Arc::clone(&source.text),
        parsed: Parsed::default(),
    };
    if source.utf16 {
        walk.error(ParseError::Utf16 { source_id: id });
        return walk.parsed;
    }
    for &offset in &source.invalid_utf8 {
        let span = Span::new(id, offset, Source::REPLACEMENT_LEN);
        walk.error(ParseError::InvalidUtf8 { span });
    }
    let read = match format {
        Format::Toml => tree::toml(&source.text, id, |root| walk.document(root)),
        Format::Json => {
            tree::json(&source.text, id, |root| walk.document(root)).map_err(|error| vec![error])
        }
    };
    match read {
        Ok(()) => {}
        Err(errors) => {
            // A byte that is not UTF-8 is reported once, as such.
            let invalid = |span: Span| {
                source.invalid_utf8.iter().any(|&offset| {
                    offset < span.offset + span.len.max(1)
                        && span.offset < offset + Source::REPLACEMENT_LEN
                })
            };
            for error in errors.into_iter().filter(|error| !invalid(error.span)) {
                walk.error(ParseError::Syntax {
                    format: format.name(),
                    message: error.message,
                    span: error.span,
                    help: format.syntax_help(),
                });
            }
        }
    }
    walk.parsed
}

struct Walk {
    format: Format,
    text: std::sync::Arc<str>,
    parsed: Parsed,
}

/// What `[defaults]` sets.
#[derive(Default)]
struct Defaults {
    timeout: Option<Timeout>,
    retries: Option<u32>,
    env: Vec<(String, String)>,
    dir: Option<PathBuf>,
}

impl Defaults {
    /// Sets in `settings` what the task leaves to the defaults.
    fn apply(&self, settings: &mut Settings) {
        settings.timeout = settings.timeout.or(self.timeout);
        settings.retries = settings.retries.or(self.retries);
        if settings.dir.is_none() {
            settings.dir.clone_from(&self.dir);
        }
        // The defaults' variables first, each unless the task sets it too.
        let own = std::mem::take(&mut settings.env);
        settings.env = self
            .env
            .iter()
            .filter(|(key, _)| !own.iter().any(|(own, _)| own == key))
            .cloned()
            .collect();
        settings.env.extend(own);
    }
}

/// What a task's table says, before it becomes a [`TaskSpec`].
#[derive(Default)]
struct Fields<'a> {
    name: Option<Spanned<String>>,
    /// A `name` was given, valid or not.
    named: bool,
    command: Option<(&'a Key<'a>, &'a Node<'a>)>,
    /// A `command`, `script` or `eval` was given, valid or not.
    commanded: bool,
    kind: Option<(Kind, &'a Key<'a>)>,
    eval: Option<(&'a Key<'a>, &'a Node<'a>)>,
    after: Vec<Spanned<String>>,
    after_done: Vec<Spanned<String>>,
    settings: Settings,
    desc: Option<String>,
}

impl Walk {
    fn error(&mut self, error: ParseError) {
        self.parsed.errors.push(error);
    }

    fn wrong_type(&mut self, key: &str, expected: &'static str, node: &Node<'_>, help: String) {
        self.error(ParseError::WrongType {
            key: key.to_owned(),
            expected,
            found: node.value.type_name(),
            span: node.span,
            help,
        });
    }

    /// `key = value` as this file writes it, in backticks: TOML's
    /// `` `retries = 1` ``, JSON's `` `"retries": 1` ``.
    fn ex(&self, key: &str, value: &str) -> String {
        match self.format {
            Format::Toml => format!("`{key} = {value}`"),
            Format::Json => format!("`\"{key}\": {value}`"),
        }
    }

    /// A table of one `name = value` entry, as this file writes it.
    fn table_ex(&self, name: &str, value: &str) -> String {
        match self.format {
            Format::Toml => format!("{{ {name} = {value} }}"),
            Format::Json => format!("{{ \"{name}\": {value} }}"),
        }
    }

    fn unknown_key(
        &mut self,
        key: &Key<'_>,
        place: &'static str,
        known: &[&str],
        help: Option<&str>,
    ) {
        // What other tools call what taskrun has.
        let synonym = SYNONYMS
            .iter()
            .find(|(other, ours)| *other == key.name && known.contains(ours))
            .map(|(_, ours)| *ours);
        let help = match synonym.or_else(|| did_you_mean(&key.name, known.iter().copied())) {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None => help.map_or_else(
                || {
                    format!(
                        "known keys: {}",
                        known
                            .iter()
                            .map(|key| format!("`{key}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                str::to_owned,
            ),
        };
        self.error(ParseError::UnknownKey {
            key: key.name.to_string(),
            place,
            span: key.span,
            help,
        });
    }

    fn invalid_value(&mut self, key: &str, value: &str, span: Span, help: impl Into<String>) {
        self.error(ParseError::InvalidValue {
            key: key.to_owned(),
            value: value.to_owned(),
            span,
            help: help.into(),
        });
    }

    /// A table's entries, or its problem. In JSON, a key given twice is
    /// one (TOML's parser reports it as a syntax error).
    fn table<'a>(
        &mut self,
        key: &str,
        node: &'a Node<'a>,
        help: &str,
    ) -> Option<Vec<&'a (Key<'a>, Node<'a>)>> {
        let Value::Table(entries) = &node.value else {
            self.wrong_type(key, "a table", node, help.to_owned());
            return None;
        };
        let mut seen: Vec<&str> = Vec::new();
        let mut unique = Vec::new();
        for entry in entries {
            if seen.contains(&entry.0.name.as_ref()) {
                self.error(ParseError::RepeatedAttribute {
                    key: entry.0.name.to_string(),
                    span: entry.0.span,
                });
                continue;
            }
            seen.push(&entry.0.name);
            unique.push(entry);
        }
        Some(unique)
    }

    /// A string value; `None` (and its problem) otherwise. A NUL byte,
    /// which no command, variable or path can hold, is a problem too.
    fn string<'a>(&mut self, key: &Key<'_>, node: &'a Node<'a>, example: &str) -> Option<&'a str> {
        let Value::String { text, .. } = &node.value else {
            let help = format!("quote it, e.g. {}", self.ex(&key.name, example));
            self.wrong_type(&key.name, "a string", node, help);
            return None;
        };
        if let Some(nul) = text.find('\0') {
            let span = node.inner_span(nul, 1);
            self.error(ParseError::NulByte { span });
            return None;
        }
        Some(text)
    }

    /// A whole number in `range`.
    fn integer(
        &mut self,
        key: &Key<'_>,
        node: &Node<'_>,
        range: std::ops::RangeInclusive<i64>,
        what: &str,
    ) -> Option<i64> {
        let example = self.ex(&key.name, &range.start().max(&1).to_string());
        let value = whole(&node.value).map_or_else(|| node.value.clone(), Value::Integer);
        match value {
            Value::Integer(number) if range.contains(&number) => Some(number),
            Value::Integer(number) => {
                let help = format!("{what}: {} to {}", range.start(), range.end());
                self.invalid_value(&key.name, &number.to_string(), node.span, help);
                None
            }
            _ => {
                self.wrong_type(
                    &key.name,
                    "a whole number",
                    node,
                    format!("write {what} without quotes, e.g. {example}"),
                );
                None
            }
        }
    }

    fn document(&mut self, root: &Node<'_>) {
        let Some(entries) = self.table("the file", root, "a task file is a table of tasks") else {
            return;
        };
        let mut defaults = Defaults::default();
        if let Some((_, node)) = entries.iter().find(|(key, _)| key.name == "defaults") {
            defaults = self.defaults(node);
        }
        for (key, node) in &entries {
            match key.name.as_ref() {
                "$schema" => {
                    self.string(key, node, "\"./tasks.schema.json\"");
                }
                "defaults" => {}
                "pools" => self.pools(node),
                "task" => {
                    let Value::Array(tasks) = &node.value else {
                        let help = match self.format {
                            Format::Toml => "write each task as a `[[task]]` table (two brackets)",
                            Format::Json => {
                                "write the tasks as a list: `\"task\": [{ \"name\": …}]`"
                            }
                        };
                        self.wrong_type("task", "an array of tables", node, help.to_owned());
                        continue;
                    };
                    for task in tasks {
                        self.task(task, &defaults);
                    }
                }
                _ => self.unknown_key(key, "at the top level", TOP_KEYS, None),
            }
        }
    }

    fn defaults(&mut self, node: &Node<'_>) -> Defaults {
        let mut defaults = Defaults::default();
        let Some(entries) = self.table(
            "defaults",
            node,
            "`defaults` holds `timeout`, `retries`, `env` and `dir`",
        ) else {
            return defaults;
        };
        for (key, node) in entries {
            match key.name.as_ref() {
                "timeout" => defaults.timeout = self.timeout(key, node),
                "retries" => defaults.retries = self.retries(key, node),
                "env" => defaults.env = self.env(key, node),
                "dir" => defaults.dir = self.dir(key, node),
                other => {
                    let help = TASK_KEYS.contains(&other).then_some(
                        "only `timeout`, `retries`, `env` and `dir` have defaults; set the others on each task",
                    );
                    self.unknown_key(key, "in `defaults`", DEFAULT_KEYS, help);
                }
            }
        }
        defaults
    }

    fn pools(&mut self, node: &Node<'_>) {
        let help = format!(
            "`pools` maps each pool's name to its limit, e.g. {}",
            self.ex("db", "1")
        );
        let Some(entries) = self.table("pools", node, &help) else {
            return;
        };
        for (key, node) in entries {
            if !crate::task::is_valid_name(&key.name) {
                self.error(ParseError::InvalidPool {
                    span: key.span,
                    help: "a pool's name is made of ASCII letters, digits and `_`".to_owned(),
                });
                continue;
            }
            match whole(&node.value) {
                Some(limit) if limit >= 1 => {
                    self.parsed.pools.push(PoolSpec {
                        name: Spanned::new(key.name.to_string(), key.span),
                        limit: usize::try_from(limit).unwrap_or(usize::MAX),
                    });
                }
                _ => {
                    let help = format!(
                        "a pool's limit is a whole number, at least 1, e.g. {}",
                        self.ex(&key.name, "1")
                    );
                    self.error(ParseError::InvalidPool {
                        span: node.span,
                        help,
                    });
                }
            }
        }
    }

    fn task(&mut self, node: &Node<'_>, defaults: &Defaults) {
        let help = match self.format {
            Format::Toml => "write each task as a `[[task]]` table with a `name` and a `command`",
            Format::Json => "write each task as an object with a `name` and a `command`",
        };
        let Some(entries) = self.table("a task", node, help) else {
            return;
        };
        let mut fields = Fields::default();
        for (key, value) in entries {
            self.field(key, value, &mut fields);
        }
        self.finish(node, fields, defaults);
    }

    /// Reads one key of a task's table into `fields`.
    fn field<'a>(&mut self, key: &'a Key<'a>, node: &'a Node<'a>, fields: &mut Fields<'a>) {
        let settings = &mut fields.settings;
        match key.name.as_ref() {
            "name" => {
                fields.named = true;
                let Some(name) = self.string(key, node, "\"build\"") else {
                    return;
                };
                if crate::task::is_valid_name(name) {
                    fields.name = Some(Spanned::new(name.to_owned(), node.text_span()));
                } else if name.is_empty() {
                    let help =
                        format!("a task needs a name, e.g. {}", self.ex("name", "\"build\""));
                    self.invalid_value("name", name, node.span, help);
                } else {
                    let error = invalid_name(name, |at, len| node.inner_span(at, len));
                    self.error(error);
                }
            }
            "command" | "script" => {
                fields.commanded = true;
                if let Some((first, _)) = fields.command {
                    self.error(ParseError::ConflictingKeys {
                        key: key.name.to_string(),
                        other: first.name.to_string(),
                        span: key.span,
                        help: "`script` is another name for `command`; keep one".to_owned(),
                    });
                } else if self.string(key, node, "\"make\"").is_some() {
                    fields.command = Some((key, node));
                }
            }
            "kind" => {
                let Some(kind) = self.string(key, node, "\"eval\"") else {
                    return;
                };
                match kind {
                    "exec" => fields.kind = Some((Kind::Shell, key)),
                    "eval" => fields.kind = Some((Kind::Eval, key)),
                    other => self.invalid_value(
                        "kind",
                        other,
                        node.text_span(),
                        "`exec` runs `command` in the shell, `eval` runs `eval` as Rhai code",
                    ),
                }
            }
            "eval" => {
                fields.commanded = true;
                if self.string(key, node, "\"print(40 + 2)\"").is_some() {
                    fields.eval = Some((key, node));
                }
            }
            "desc" => {
                if let Some(desc) = self.string(key, node, "\"build the release binary\"") {
                    if desc.trim().is_empty() {
                        let help = format!(
                            "write what the task is for, e.g. {}",
                            self.ex("desc", "\"build the release binary\"")
                        );
                        self.invalid_value("desc", desc, node.span, help);
                    } else {
                        fields.desc = Some(desc.to_owned());
                    }
                }
            }
            "after" => self.names(key, node, &mut fields.after),
            "after_done" => self.names(key, node, &mut fields.after_done),
            "timeout" => settings.timeout = self.timeout(key, node),
            "retries" => settings.retries = self.retries(key, node),
            "cpus" => {
                settings.cpus = self
                    .integer(key, node, 1..=i64::from(MAX_CPUS), "a number of CPUs")
                    .and_then(|cpus| u32::try_from(cpus).ok());
            }
            "mem" => settings.mem = self.mem(key, node),
            "dir" => settings.dir = self.dir(key, node),
            "env" => settings.env = self.env(key, node),
            "pool" => {
                if let Some(pool) = self.string(key, node, "\"db\"") {
                    if crate::task::is_valid_name(pool) {
                        settings.pool = Some(Spanned::new(pool.to_owned(), node.text_span()));
                    } else {
                        let help =
                            format!("name a pool of `pools`, e.g. {}", self.ex("pool", "\"db\""));
                        self.invalid_value("pool", pool, node.text_span(), help);
                    }
                }
            }
            "inputs" | "outputs" | "uses_env" | "tools" | "cache" => {
                self.cache_field(key, node, &mut settings.cache);
            }
            _ => self.unknown_key(key, "in a task", TASK_KEYS, None),
        }
    }

    /// Makes the task of `fields`, with `defaults` for what it leaves out.
    fn finish(&mut self, node: &Node<'_>, mut fields: Fields<'_>, defaults: &Defaults) {
        let Some(name) = fields.name.take() else {
            if !fields.named {
                let name = self.ex("name", "\"build\"");
                let help = match fields.command {
                    Some(_) => format!("add the task's name, e.g. {name}"),
                    None => format!(
                        "a task needs a `name` and a `command`, e.g. {name} and {}",
                        self.ex("command", "\"make\"")
                    ),
                };
                self.error(ParseError::MissingKey {
                    key: "name",
                    place: "task".to_owned(),
                    span: header(node, &self.text),
                    help,
                });
            }
            return;
        };
        let kind = match (fields.kind, fields.eval) {
            (Some((Kind::Shell, kind)), Some((eval, _))) => {
                let other = self.ex("kind", "\"exec\"");
                let help = format!(
                    "an `exec` task runs its `command`; for Rhai code, write {}",
                    self.ex("kind", "\"eval\"")
                );
                self.error(ParseError::ConflictingKeys {
                    key: eval.name.to_string(),
                    other: other.trim_matches('`').to_owned(),
                    span: kind.span,
                    help,
                });
                Kind::Shell
            }
            (Some((kind, _)), _) => kind,
            (None, Some(_)) => Kind::Eval,
            (None, None) => Kind::Shell,
        };
        let command = if kind == Kind::Eval {
            self.eval_code(&name, &fields)
        } else {
            self.shell_command(&name, &fields)
        };
        let mut settings = fields.settings;
        defaults.apply(&mut settings);
        let mut after_done = fields.after_done;
        after_done.retain(|soft| !fields.after.iter().any(|hard| hard.value == soft.value));
        self.parsed.tasks.push(TaskSpec {
            name,
            command,
            after: fields.after,
            after_done,
            settings,
            kind,
            desc: fields.desc,
        });
    }

    /// The code of the `eval` task `name`, or its problem.
    fn eval_code(&mut self, name: &Spanned<String>, fields: &Fields<'_>) -> Spanned<String> {
        if let Some((key, _)) = fields.command {
            let other = if fields.kind.is_some() {
                self.ex("kind", "\"eval\"").trim_matches('`').to_owned()
            } else {
                "eval".to_owned()
            };
            self.error(ParseError::ConflictingKeys {
                key: key.name.to_string(),
                other,
                span: key.span,
                help: "an `eval` task runs the Rhai code of its `eval`; remove the command, or make it an `exec` task".to_owned(),
            });
        }
        let code = fields.eval.map(|(_, node)| (node, code_of(node)));
        if let Some((_, code)) = &code
            && !code.value.trim().is_empty()
        {
            return code.clone();
        }
        let help = format!(
            "write the Rhai code to run, e.g. {}",
            self.ex("eval", "\"print(40 + 2)\"")
        );
        match code {
            Some((node, empty)) => {
                self.invalid_value("eval", &empty.value, node.span, help);
                Spanned::new(String::new(), name.span)
            }
            None if fields.commanded => Spanned::new(String::new(), name.span),
            None => {
                self.error(ParseError::MissingKey {
                    key: "eval",
                    place: format!("eval task `{}`", name.value),
                    span: name.span,
                    help,
                });
                Spanned::new(String::new(), name.span)
            }
        }
    }

    /// The command of the `exec` task `name`, or its problem.
    fn shell_command(&mut self, name: &Spanned<String>, fields: &Fields<'_>) -> Spanned<String> {
        let command = fields.command.map(|(_, node)| code_of(node));
        match command {
            Some(command) if !command.value.trim().is_empty() => command,
            None if fields.commanded => Spanned::new(String::new(), name.span),
            _ => {
                let help = format!(
                    "write the shell command to run, e.g. {}",
                    self.ex("command", &format!("\"make {}\"", name.value))
                );
                self.error(ParseError::MissingCommand {
                    name: name.value.clone(),
                    span: name.span,
                    help,
                });
                Spanned::new(String::new(), name.span)
            }
        }
    }

    /// Task names (`after`, `after_done`), without repeats.
    fn names(&mut self, key: &Key<'_>, node: &Node<'_>, names: &mut Vec<Spanned<String>>) {
        let Value::Array(items) = &node.value else {
            let help = format!(
                "list the task names, e.g. {}",
                self.ex(&key.name, "[\"build\", \"lint\"]")
            );
            self.wrong_type(&key.name, "an array of task names", node, help);
            return;
        };
        for item in items {
            let Value::String { text, .. } = &item.value else {
                self.wrong_type(
                    &key.name,
                    "a task name",
                    item,
                    "quote each task name, e.g. `\"build\"`".to_owned(),
                );
                continue;
            };
            if text.is_empty() {
                self.error(ParseError::EmptyDependency {
                    span: item.span,
                    help: "remove the empty name, or put the missing task name there",
                });
            } else if !crate::task::is_valid_name(text) {
                self.error(ParseError::InvalidDependency {
                    name: text.to_string(),
                    span: item.text_span(),
                    help: dependency_help(text),
                });
            } else if !names.iter().any(|name| name.value == *text) {
                names.push(Spanned::new(text.to_string(), item.text_span()));
            }
        }
    }

    /// Reads one of the keys of up-to-date checks into `cache`.
    fn cache_field(&mut self, key: &Key<'_>, node: &Node<'_>, cache: &mut CacheSpec) {
        match key.name.as_ref() {
            "inputs" => self.patterns(key, node, &mut cache.inputs),
            "outputs" => self.patterns(key, node, &mut cache.outputs),
            "uses_env" => self.words(key, node, &mut cache.uses_env),
            "tools" => self.words(key, node, &mut cache.tools),
            "cache" => {
                if let Value::Bool(on) = node.value {
                    cache.off = !on;
                } else {
                    let help = format!(
                        "write {} to never cache the task, or {} (the default)",
                        self.ex("cache", "false"),
                        self.ex("cache", "true")
                    );
                    self.wrong_type(&key.name, "a boolean", node, help);
                }
            }
            _ => {}
        }
    }

    /// The strings of an array, each with its node; a value that is not
    /// an array, or an item that is not a string, is a problem.
    fn string_items<'a>(
        &mut self,
        key: &Key<'_>,
        node: &'a Node<'a>,
        what: &'static str,
        example: &str,
    ) -> Vec<(&'a str, &'a Node<'a>)> {
        let Value::Array(items) = &node.value else {
            let help = format!("list them, e.g. {}", self.ex(&key.name, example));
            self.wrong_type(&key.name, what, node, help);
            return Vec::new();
        };
        let mut strings = Vec::with_capacity(items.len());
        for item in items {
            let Value::String { text, .. } = &item.value else {
                let help = format!("quote each one, e.g. {}", self.ex(&key.name, example));
                self.wrong_type(&key.name, "a string", item, help);
                continue;
            };
            if let Some(nul) = text.find('\0') {
                self.error(ParseError::NulByte {
                    span: item.inner_span(nul, 1),
                });
                continue;
            }
            strings.push((text.as_ref(), item));
        }
        strings
    }

    /// Input or output patterns (`inputs`, `outputs`), without repeats;
    /// outputs exclude nothing.
    fn patterns(&mut self, key: &Key<'_>, node: &Node<'_>, patterns: &mut Vec<Spanned<String>>) {
        let outputs = key.name == "outputs";
        let example = if outputs {
            "[\"build/app\", \"dist/\"]"
        } else {
            "[\"src/*.c\", \"!src/*_test.c\"]"
        };
        for (text, item) in self.string_items(key, node, "an array of patterns", example) {
            let checked = if outputs && text.starts_with('!') {
                Err(format!(
                    "outputs cannot exclude: list only what the task makes, e.g. {}",
                    self.ex("outputs", "[\"build/app\"]")
                ))
            } else {
                crate::cache::pattern::check(text)
            };
            match checked {
                Err(help) => self.invalid_value(&key.name, text, item.text_span(), help),
                Ok(()) if patterns.iter().any(|known| known.value == text) => {}
                Ok(()) => patterns.push(Spanned::new(text.to_owned(), item.text_span())),
            }
        }
    }

    /// Variable names (`uses_env`) or programs (`tools`), without repeats.
    fn words(&mut self, key: &Key<'_>, node: &Node<'_>, words: &mut Vec<String>) {
        let tools = key.name == "tools";
        let (what, example) = if tools {
            ("an array of programs", "[\"cc\", \"python3\"]")
        } else {
            ("an array of variable names", "[\"CC\", \"CFLAGS\"]")
        };
        for (text, item) in self.string_items(key, node, what, example) {
            let checked = if tools { tool(text) } else { uses_env(text) };
            match checked {
                Err(help) => self.invalid_value(&key.name, text, item.text_span(), help),
                Ok(()) if words.iter().any(|known| known == text) => {}
                Ok(()) => words.push(text.to_owned()),
            }
        }
    }

    /// A time limit: text such as `"90s"` or `"3xp95"`, or a number of
    /// seconds.
    fn timeout(&mut self, key: &Key<'_>, node: &Node<'_>) -> Option<Timeout> {
        let seconds = match node.value {
            Value::String { ref text, .. } => {
                return Timeout::parse(text)
                    .map_err(|help| self.invalid_value(&key.name, text, node.text_span(), help))
                    .ok();
            }
            #[expect(
                clippy::cast_precision_loss,
                reason = "seconds beyond 2^52 are no timeout anyone means"
            )]
            Value::Integer(seconds) => seconds as f64,
            Value::Float(seconds) => seconds,
            _ => {
                let help = format!(
                    "write a duration such as {}, or a number of seconds",
                    self.ex(&key.name, "\"90s\"")
                );
                self.wrong_type(&key.name, "a duration", node, help);
                return None;
            }
        };
        Duration::try_from_secs_f64(seconds)
            .map(Timeout::After)
            .map_err(|_| {
                let help = "a number of seconds, 0 or more (0: no limit)";
                self.invalid_value(&key.name, &seconds.to_string(), node.span, help);
            })
            .ok()
    }

    fn retries(&mut self, key: &Key<'_>, node: &Node<'_>) -> Option<u32> {
        self.integer(key, node, 0..=i64::from(MAX_RETRIES), "a number of retries")
            .and_then(|retries| u32::try_from(retries).ok())
    }

    /// An amount of memory: text such as `"4G"`, or a number of bytes.
    fn mem(&mut self, key: &Key<'_>, node: &Node<'_>) -> Option<u64> {
        let (bytes, text) = match &node.value {
            Value::String { text, .. } => {
                let Ok(bytes) = parse_size(text) else {
                    let help = format!(
                        "write an amount of memory, e.g. {} or {}",
                        self.ex("mem", "\"512M\""),
                        self.ex("mem", "\"4G\"")
                    );
                    self.invalid_value(&key.name, text, node.text_span(), help);
                    return None;
                };
                (bytes, text.to_string())
            }
            value if whole(value).is_some() => {
                let bytes = whole(value).unwrap_or_default();
                (u64::try_from(bytes).unwrap_or(0), bytes.to_string())
            }
            _ => {
                let help = format!(
                    "write an amount of memory, e.g. {}, or a number of bytes",
                    self.ex("mem", "\"4G\"")
                );
                self.wrong_type(&key.name, "an amount of memory", node, help);
                return None;
            }
        };
        if bytes < 1 << 20 {
            self.invalid_value(&key.name, &text, node.text_span(), "at least 1M of memory");
            return None;
        }
        Some(bytes)
    }

    fn dir(&mut self, key: &Key<'_>, node: &Node<'_>) -> Option<PathBuf> {
        let dir = self.string(key, node, "\"web\"")?;
        if dir.is_empty() {
            let help = format!(
                "name a directory, relative to the task file, e.g. {}",
                self.ex("dir", "\"web\"")
            );
            self.invalid_value(&key.name, dir, node.span, help);
            return None;
        }
        Some(PathBuf::from(dir))
    }

    /// Variables: a table of names to string values, in file order.
    fn env(&mut self, key: &Key<'_>, node: &Node<'_>) -> Vec<(String, String)> {
        let help = format!(
            "write the variables as a table, e.g. {}",
            self.ex(&key.name, &self.table_ex("PORT", "\"8080\""))
        );
        let Some(entries) = self.table(&key.name, node, &help) else {
            return Vec::new();
        };
        let mut env = Vec::new();
        for (name, value) in entries {
            if !is_env_name(&name.name) {
                let help = format!(
                    "`{}` cannot name a variable: use letters, digits and `_`, not starting with a digit",
                    name.name
                );
                self.invalid_value("env", &name.name, name.span, help);
                continue;
            }
            let Value::String { text, .. } = &value.value else {
                let help = format!("quote the value, e.g. {}", self.ex(&name.name, "\"1\""));
                self.wrong_type(&name.name, "a string", value, help);
                continue;
            };
            if let Some(nul) = text.find('\0') {
                self.error(ParseError::NulByte {
                    span: value.inner_span(nul, 1),
                });
                continue;
            }
            env.push((name.name.to_string(), text.to_string()));
        }
        env
    }
}

/// A whole number: an integer, or a number without a fraction (which JSON
/// Schema counts as an integer: `3.0`).
fn whole(value: &Value) -> Option<i64> {
    match *value {
        Value::Integer(number) => Some(number),
        #[expect(
            clippy::cast_possible_truncation,
            reason = "whole, and within the range an i64 holds exactly"
        )]
        Value::Float(number) if number.fract() == 0.0 && number.abs() < 9.2e18 => {
            Some(number as i64)
        }
        _ => None,
    }
}

/// Whether `name` may be listed in `uses_env`; if not, what to write.
fn uses_env(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("name an inherited variable, e.g. `\"CC\"`, or remove the empty string".to_owned())
    } else if is_env_name(name) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` cannot name a variable: use letters, digits and `_`, not starting with a digit"
        ))
    }
}

/// Whether `program` may be listed in `tools`; if not, what to write.
fn tool(program: &str) -> Result<(), String> {
    if program.is_empty() {
        Err("name a program, e.g. `\"cc\"`, or remove the empty string".to_owned())
    } else if program.contains(char::is_whitespace) {
        Err(format!(
            "list each program on its own: `[{}]`",
            program
                .split_whitespace()
                .map(|word| format!("\"{word}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    } else if program.contains('/') && !program.starts_with('/') {
        Err(format!(
            "name a program found through `PATH` (e.g. `\"cc\"`), or give its absolute path, not `{program}`"
        ))
    } else {
        Ok(())
    }
}

/// What to suggest for a dependency that is not a valid task name.
fn dependency_help(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    if words.len() > 1 && words.iter().all(|word| crate::task::is_valid_name(word)) {
        let quoted: Vec<String> = words.iter().map(|word| format!("\"{word}\"")).collect();
        return format!("separate task names: `[{}]`", quoted.join(", "));
    }
    match crate::task::name_suggestion(name) {
        Some(suggestion) => format!(
            "task names may contain only ASCII letters, digits and `_`; try `\"{suggestion}\"`"
        ),
        None => "task names may contain only ASCII letters, digits and `_`".to_owned(),
    }
}

/// A command's or code's text, spanning its text when that is written
/// literally (so that positions inside it can be found), else the whole
/// string.
fn code_of(node: &Node<'_>) -> Spanned<String> {
    let text = match &node.value {
        Value::String { text, .. } => text.to_string(),
        _ => String::new(),
    };
    Spanned::new(text, node.text_span())
}

/// The start of a table: its first line (the `[[task]]` header in TOML,
/// the `{` in JSON), so that a problem with the whole table points at one
/// line.
fn header(node: &Node<'_>, text: &str) -> Span {
    let table = text
        .get(node.span.offset..node.span.end())
        .unwrap_or_default();
    let len = if table.starts_with('{') {
        1
    } else {
        table.find(['\r', '\n']).unwrap_or(table.len())
    };
    Span::new(node.span.source, node.span.offset, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structured::doc::TaskDoc;

    fn parse_as(format: Format, text: &str) -> Parsed {
        let source = Source::from_bytes("tasks", text.as_bytes());
        parse(&source, SourceId::default(), format)
    }

    /// The one problem of `text`, which must match `pattern` and point at
    /// `expected` (the text under its span) at byte `offset`.
    macro_rules! problem {
        ($format:expr, $text:expr, $pattern:pat, $expected:expr, $offset:expr) => {{
            let text: &str = $text;
            let parsed = parse_as($format, text);
            assert_eq!(
                parsed.errors.len(),
                1,
                "errors for {text:?}: {:#?}",
                parsed.errors
            );
            let error = parsed.errors[0].clone();
            assert!(matches!(error, $pattern), "unexpected error {error:?}");
            let labels: Vec<_> = miette::Diagnostic::labels(&error).unwrap().collect();
            let (at, len) = (labels[0].offset(), labels[0].len());
            assert_eq!(
                &text[at..at + len],
                $expected,
                "span of {error:?} in {text:?}"
            );
            assert_eq!(at, $offset, "offset of {error:?} in {text:?}");
            (parsed, error)
        }};
    }

    /// A JSON file of one task `a` running `x`, with `fields` too.
    fn task_json(fields: &str) -> String {
        format!(r#"{{"task": [{{"name": "a", "command": "x", {fields}}}]}}"#)
    }

    fn toml_task(body: &str) -> String {
        format!("[[task]]\n{body}\n")
    }

    fn one(format: Format, text: &str) -> TaskSpec {
        let parsed = parse_as(format, text);
        assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
        assert_eq!(parsed.tasks.len(), 1);
        parsed.tasks.into_iter().next().unwrap()
    }

    #[test]
    fn every_attribute_of_the_line_format() {
        let text = r#"
[pools]
db = 2

[[task]]
name = "t"
desc = "what it does"
command = "make"
after = ["a", "b", "a"]
after_done = ["c", "b"]
timeout = "1.5m"
retries = 3
dir = "web"
env = { A = "1", B = "x y" }
pool = "db"
cpus = 4
mem = "4G"
inputs = ["src/*.c", "!src/x.c", "src/*.c"]
outputs = ["app", "dist/"]
uses_env = ["CC", "CC"]
tools = ["cc"]
cache = false
"#;
        let parsed = parse_as(Format::Toml, text);
        assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
        assert_eq!(parsed.pools[0].name.value, "db");
        assert_eq!(parsed.pools[0].limit, 2);
        let lines = crate::taskfile::parse(
            &Source::from_bytes(
                "t",
                b"pool db 2\nt: make [after:a,b] [after_done:c,b] [timeout:90s] [retries:3] [dir:web] [env:A=1] [env:B=x y] [pool:db] [cpus:4] [mem:4G] [desc:what it does] [inputs:src/*.c,!src/x.c] [outputs:app,dist/] [uses_env:CC] [tools:cc] [cache:no]",
            ),
            SourceId::default(),
        );
        assert!(lines.errors.is_empty());
        assert_eq!(TaskDoc::of(&parsed.tasks[0]), TaskDoc::of(&lines.tasks[0]));
        let spec = &parsed.tasks[0];
        assert_eq!(&text[spec.name.span.offset..spec.name.span.end()], "t");
        assert_eq!(
            &text[spec.after[1].span.offset..spec.after[1].span.end()],
            "b"
        );
        assert_eq!(
            &text[spec.command.span.offset..spec.command.span.end()],
            "make"
        );
        let inputs = &spec.settings.cache.inputs;
        assert_eq!(inputs.len(), 2, "{inputs:?}");
        assert_eq!(
            &text[inputs[1].span.offset..inputs[1].span.end()],
            "!src/x.c"
        );
        assert!(spec.settings.cache.off);
    }

    #[test]
    fn cache_declarations_point_at_the_offending_element() {
        let cases = [
            (
                Format::Toml,
                toml_task("name = 'a'\ncommand = 'x'\ninputs = ['src/*.c', '/etc/x']"),
                "inputs",
                "/etc/x",
                "`/etc/x` is an absolute path: write a path relative to the task's directory (set `[dir:]` to move the task)",
            ),
            (
                Format::Json,
                task_json(r#""inputs": ["a", "../b"]"#),
                "inputs",
                "../b",
                "`../b` leaves the task's directory with `..`: write a path inside it (set `[dir:]` to move the task)",
            ),
            (
                Format::Toml,
                toml_task("name = 'a'\ncommand = 'x'\noutputs = ['dist/', '!dist/tmp']"),
                "outputs",
                "!dist/tmp",
                "outputs cannot exclude: list only what the task makes, e.g. `outputs = [\"build/app\"]`",
            ),
            (
                Format::Json,
                task_json(r#""outputs": ["!dist/tmp"]"#),
                "outputs",
                "!dist/tmp",
                "outputs cannot exclude: list only what the task makes, e.g. `\"outputs\": [\"build/app\"]`",
            ),
            (
                Format::Toml,
                toml_task("name = 'a'\ncommand = 'x'\ninputs = ['src/[ab']"),
                "inputs",
                "src/[ab",
                "`src/[ab` is not a valid glob (invalid range pattern): write `[*]` or `[?]` for a literal `*` or `?`, and close every `[`",
            ),
            (
                Format::Toml,
                toml_task("name = 'a'\ncommand = 'x'\nuses_env = ['CC', '1X']"),
                "uses_env",
                "1X",
                "`1X` cannot name a variable: use letters, digits and `_`, not starting with a digit",
            ),
            (
                Format::Json,
                task_json(r#""tools": ["cc ld"]"#),
                "tools",
                "cc ld",
                "list each program on its own: `[\"cc\", \"ld\"]`",
            ),
            (
                Format::Toml,
                toml_task("name = 'a'\ncommand = 'x'\ntools = ['bin/gen']"),
                "tools",
                "bin/gen",
                "name a program found through `PATH` (e.g. `\"cc\"`), or give its absolute path, not `bin/gen`",
            ),
        ];
        for (format, text, key, under, help) in cases {
            let at = text
                .find(&format!("\"{under}\""))
                .or_else(|| text.find(&format!("'{under}'")));
            let (parsed, error) = problem!(
                format,
                &text,
                ParseError::InvalidValue { .. },
                under,
                at.unwrap() + 1
            );
            assert_eq!(parsed.tasks.len(), 1, "the task is still defined");
            let ParseError::InvalidValue {
                key: got,
                help: said,
                ..
            } = error
            else {
                unreachable!()
            };
            assert_eq!((got.as_str(), said.as_str()), (key, help), "{text}");
        }
        let (_, error) = problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\ncache = 'no'"),
            ParseError::WrongType {
                expected: "a boolean",
                found: "a string",
                ..
            },
            "'no'",
            42
        );
        let ParseError::WrongType { help, .. } = error else {
            unreachable!()
        };
        assert_eq!(
            help,
            "write `cache = false` to never cache the task, or `cache = true` (the default)"
        );
        problem!(
            Format::Json,
            &task_json(r#""inputs": "src/*.c""#),
            ParseError::WrongType {
                expected: "an array of patterns",
                ..
            },
            "\"src/*.c\"",
            50
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\ntools = [1]"),
            ParseError::WrongType {
                expected: "a string",
                ..
            },
            "1",
            43
        );
    }

    #[test]
    fn json_reads_as_toml_does() {
        let json = one(
            Format::Json,
            r#"{"task": [{"name": "t", "command": "make", "timeout": 90, "env": {"A": "1"}, "mem": 1073741824}]}"#,
        );
        let toml = one(
            Format::Toml,
            &toml_task("name = 't'\ncommand = 'make'\ntimeout = '90s'\nenv.A = '1'\nmem = '1G'"),
        );
        assert_eq!(TaskDoc::of(&json), TaskDoc::of(&toml));
    }

    #[test]
    fn multi_line_commands_and_script() {
        let spec = one(
            Format::Toml,
            &toml_task(
                "name = 't'\nscript = \"\"\"\nset -e\nfor x in a b; do echo $x; done\n\"\"\"",
            ),
        );
        assert_eq!(
            spec.command.value,
            "set -e\nfor x in a b; do echo $x; done\n"
        );
        assert_eq!(spec.kind, Kind::Shell);
    }

    #[test]
    fn defaults_apply_unless_a_task_sets_its_own() {
        let text = r#"
[defaults]
timeout = "5m"
retries = 2
dir = "web"
env = { A = "1", B = "2" }

[[task]]
name = "plain"
command = "true"

[[task]]
name = "own"
command = "true"
timeout = 0
retries = 0
dir = "api"
env = { B = "mine", C = "3" }
"#;
        let parsed = parse_as(Format::Toml, text);
        assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
        let [plain, own] = &parsed.tasks[..] else {
            panic!()
        };
        assert_eq!(
            plain.settings.timeout,
            Some(Timeout::After(Duration::from_secs(300)))
        );
        assert_eq!(plain.settings.retries, Some(2));
        assert_eq!(plain.settings.dir, Some(PathBuf::from("web")));
        let env = |spec: &TaskSpec| -> Vec<String> {
            spec.settings
                .env
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect()
        };
        assert_eq!(env(plain), ["A=1", "B=2"]);
        assert_eq!(own.settings.timeout, Some(Timeout::After(Duration::ZERO)));
        assert_eq!(own.settings.retries, Some(0));
        assert_eq!(own.settings.dir, Some(PathBuf::from("api")));
        assert_eq!(env(own), ["A=1", "B=mine", "C=3"]);
    }

    #[test]
    fn eval_tasks() {
        let spec = one(Format::Toml, &toml_task("name = 'e'\neval = 'print(1)'"));
        assert_eq!(spec.kind, Kind::Eval);
        assert_eq!(spec.command.value, "print(1)");
        let spec = one(
            Format::Toml,
            &toml_task("name = 'e'\nkind = 'eval'\neval = 'print(1)'"),
        );
        assert_eq!(spec.kind, Kind::Eval);
        let spec = one(
            Format::Toml,
            &toml_task("name = 'e'\nkind = 'exec'\ncommand = 'true'"),
        );
        assert_eq!(spec.kind, Kind::Shell);
    }

    #[test]
    fn syntax_errors() {
        let (_, error) = problem!(
            Format::Toml,
            "[[task]]\nname = \"a\nx = 1\n",
            ParseError::Syntax { format: "TOML", .. },
            "",
            18
        );
        assert!(error.to_string().starts_with("invalid TOML: "), "{error}");
        problem!(
            Format::Json,
            "{\"task\": [{\"name\": \"a\",}]}",
            ParseError::Syntax { format: "JSON", .. },
            ",",
            22
        );
        problem!(
            Format::Json,
            "{} // note",
            ParseError::Syntax { .. },
            "// note",
            3
        );
        // A key given twice is TOML's syntax error, and JSON's own problem.
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\nname = 'b'"),
            ParseError::Syntax { .. },
            "name",
            20
        );
        problem!(
            Format::Json,
            r#"{"task": [{"name": "a", "command": "x", "name": "b"}]}"#,
            ParseError::RepeatedAttribute { .. },
            "name",
            41
        );
    }

    #[test]
    fn unknown_keys_suggest_the_known_one() {
        let (parsed, error) = problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\naftr = ['b']"),
            ParseError::UnknownKey {
                place: "in a task",
                ..
            },
            "aftr",
            34
        );
        let ParseError::UnknownKey { help, .. } = error else {
            unreachable!()
        };
        assert_eq!(help, "did you mean `after`?");
        assert_eq!(parsed.tasks.len(), 1, "the task is still defined");
        let (_, error) = problem!(
            Format::Toml,
            "[[tasks]]\nname = 'a'\n",
            ParseError::UnknownKey {
                place: "at the top level",
                ..
            },
            "tasks",
            2
        );
        let ParseError::UnknownKey { help, .. } = error else {
            unreachable!()
        };
        assert_eq!(help, "did you mean `task`?");
        let (_, error) = problem!(
            Format::Toml,
            "[defaults]\npool = 'db'\n",
            ParseError::UnknownKey {
                place: "in `defaults`",
                ..
            },
            "pool",
            11
        );
        assert!(error.to_string().contains("`pool`"));
        let (_, error) = problem!(
            Format::Json,
            r#"{"task": [{"name": "a", "command": "x", "zzz": 1}]}"#,
            ParseError::UnknownKey { .. },
            "zzz",
            41
        );
        let ParseError::UnknownKey { help, .. } = error else {
            unreachable!()
        };
        assert!(help.starts_with("known keys: `name`, `command`"), "{help}");
        let (_, error) = problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\ndepends_on = ['b']"),
            ParseError::UnknownKey { .. },
            "depends_on",
            34
        );
        let ParseError::UnknownKey { help, .. } = error else {
            unreachable!()
        };
        assert_eq!(help, "did you mean `after`?");
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        let (_, error) = problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 3"),
            ParseError::WrongType {
                expected: "a string",
                found: "an integer",
                ..
            },
            "3",
            30
        );
        assert_eq!(
            error.to_string(),
            "`command` must be a string, not an integer"
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\nretries = '3'"),
            ParseError::WrongType {
                expected: "a whole number",
                ..
            },
            "'3'",
            44
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\nafter = 'b'"),
            ParseError::WrongType {
                expected: "an array of task names",
                ..
            },
            "'b'",
            42
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\nenv = { A = 1 }"),
            ParseError::WrongType {
                expected: "a string",
                ..
            },
            "1",
            46
        );
        let (_, error) = problem!(
            Format::Toml,
            "[task]\nname = 'a'\n",
            ParseError::WrongType {
                expected: "an array of tables",
                ..
            },
            "[task]",
            0
        );
        let ParseError::WrongType { help, .. } = error else {
            unreachable!()
        };
        assert!(help.contains("`[[task]]`"), "{help}");
        let (_, error) = problem!(
            Format::Json,
            r#"{"task": [{"name": "a", "command": "x", "retries": "3"}]}"#,
            ParseError::WrongType { .. },
            "\"3\"",
            51
        );
        let ParseError::WrongType { help, .. } = error else {
            unreachable!()
        };
        assert_eq!(
            help,
            "write a number of retries without quotes, e.g. `\"retries\": 1`"
        );
        problem!(
            Format::Json,
            r#"{"task": [{"name": "a", "command": null}]}"#,
            ParseError::WrongType { found: "null", .. },
            "null",
            35
        );
        problem!(Format::Json, "[1]", ParseError::WrongType { .. }, "[1]", 0);
    }

    #[test]
    fn missing_keys() {
        let (_, error) = problem!(
            Format::Toml,
            "[[task]]\ncommand = 'x'\n",
            ParseError::MissingKey { key: "name", .. },
            "[[task]]",
            0
        );
        assert_eq!(error.to_string(), "task has no `name`");
        problem!(
            Format::Toml,
            &toml_task("name = 'e'\nkind = 'eval'"),
            ParseError::MissingKey { key: "eval", .. },
            "e",
            17
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'e'\neval = ' '"),
            ParseError::InvalidValue { .. },
            "' '",
            27
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'"),
            ParseError::MissingCommand { .. },
            "a",
            17
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = '  '"),
            ParseError::MissingCommand { .. },
            "a",
            17
        );
    }

    #[test]
    fn helps_show_the_files_own_syntax_and_leave_what_it_says_alone() {
        let (_, error) = problem!(
            Format::Json,
            r#"{"task": [{"name": "a", "command": "b", "env": {"X = 1": "v"}}]}"#,
            ParseError::InvalidValue { .. },
            "X = 1",
            49
        );
        let ParseError::InvalidValue { help, .. } = error else {
            unreachable!()
        };
        assert!(help.starts_with("`X = 1` cannot name a variable"), "{help}");
        let (_, error) = problem!(
            Format::Json,
            r#"{"task": [{"name": "a", "command": "b", "env": []}]}"#,
            ParseError::WrongType { .. },
            "[]",
            47
        );
        let ParseError::WrongType { help, .. } = error else {
            unreachable!()
        };
        assert_eq!(
            help,
            "write the variables as a table, e.g. `\"env\": { \"PORT\": \"8080\" }`"
        );
        let (_, error) = problem!(
            Format::Json,
            r#"{"task": [{"name": "a", "kind": "exec", "eval": "x"}]}"#,
            ParseError::ConflictingKeys { .. },
            "kind",
            25
        );
        assert_eq!(
            error.to_string(),
            "`eval` and `\"kind\": \"exec\"` cannot both be given"
        );
    }

    #[test]
    fn conflicting_keys() {
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\nscript = 'y'"),
            ParseError::ConflictingKeys { .. },
            "script",
            34
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\neval = 'y'"),
            ParseError::ConflictingKeys { .. },
            "command",
            20
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\nkind = 'exec'\neval = 'y'"),
            ParseError::ConflictingKeys { .. },
            "kind",
            20
        );
    }

    #[test]
    fn invalid_values_point_into_the_string() {
        let (parsed, error) = problem!(
            Format::Toml,
            &toml_task("name = 'my-task'\ncommand = 'x'"),
            ParseError::InvalidName { bad: '-', .. },
            "-",
            19
        );
        assert!(parsed.tasks.is_empty());
        assert!(error.to_string().contains("my-task"));
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\ntimeout = 'soon'"),
            ParseError::InvalidValue { .. },
            "soon",
            45
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\ntimeout = -1"),
            ParseError::InvalidValue { .. },
            "-1",
            44
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\nretries = 500"),
            ParseError::InvalidValue { .. },
            "500",
            44
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\nkind = 'shell'"),
            ParseError::InvalidValue { .. },
            "shell",
            42
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\nenv = { 1X = 'y' }"),
            ParseError::InvalidValue { .. },
            "1X",
            42
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\nmem = '1K'"),
            ParseError::InvalidValue { .. },
            "1K",
            41
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\ncpus = 0"),
            ParseError::InvalidValue { .. },
            "0",
            41
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\npool = 'a b'"),
            ParseError::InvalidValue { .. },
            "a b",
            42
        );
    }

    #[test]
    fn pools() {
        problem!(
            Format::Toml,
            "[pools]\ndb = 0\n",
            ParseError::InvalidPool { .. },
            "0",
            13
        );
        problem!(
            Format::Toml,
            "[pools]\n\"d-b\" = 1\n",
            ParseError::InvalidPool { .. },
            "\"d-b\"",
            8
        );
        problem!(
            Format::Json,
            r#"{"pools": {"db": "1"}}"#,
            ParseError::InvalidPool { .. },
            "\"1\"",
            17
        );
    }

    #[test]
    fn dependencies() {
        let (_, error) = problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\nafter = ['b c']"),
            ParseError::InvalidDependency { .. },
            "b c",
            44
        );
        let ParseError::InvalidDependency { help, .. } = error else {
            unreachable!()
        };
        assert_eq!(help, "separate task names: `[\"b\", \"c\"]`");
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\nafter = ['']"),
            ParseError::EmptyDependency { .. },
            "''",
            43
        );
        problem!(
            Format::Toml,
            &toml_task("name = 'a'\ncommand = 'x'\nafter = [1]"),
            ParseError::WrongType {
                expected: "a task name",
                ..
            },
            "1",
            43
        );
    }

    #[test]
    fn bytes_no_task_file_may_hold() {
        problem!(
            Format::Json,
            r#"{"task": [{"name": "a", "command": "x\u0000"}]}"#,
            ParseError::NulByte { .. },
            r#""x\u0000""#,
            35
        );
        let source = Source::from_bytes("t", b"[[task]]\nname = 'a'\ncommand = 'caf\xE9'\n");
        let parsed = parse(&source, SourceId::default(), Format::Toml);
        assert!(
            matches!(parsed.errors[0], ParseError::InvalidUtf8 { .. }),
            "{:?}",
            parsed.errors
        );
        let source = Source::from_bytes("t", b"\xFF\xFE[\x00");
        let parsed = parse(&source, SourceId::default(), Format::Json);
        assert!(matches!(parsed.errors[..], [ParseError::Utf16 { .. }]));
    }

    #[test]
    fn every_problem_of_the_file_in_one_pass() {
        let text = r#"
[defaults]
timeout = "later"

[pools]
db = 0

[[task]]
nme = "a"

[[task]]
name = "b-c"
command = "x"

[[task]]
name = "d"
command = 1
after = [""]

[[task]]
name = "ok"
command = "true"
"#;
        let parsed = parse_as(Format::Toml, text);
        assert_eq!(parsed.errors.len(), 7, "{:#?}", parsed.errors);
        let names: Vec<_> = parsed
            .tasks
            .iter()
            .map(|task| task.name.value.as_str())
            .collect();
        assert_eq!(names, ["d", "ok"]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_spans_stay_in_bounds(text in "\\PC{0,200}") {
            for format in [Format::Toml, Format::Json] {
                let parsed = parse_as(format, &text);
                for error in &parsed.errors {
                    for label in miette::Diagnostic::labels(error).into_iter().flatten() {
                        proptest::prop_assert!(label.offset() + label.len() <= text.len());
                        proptest::prop_assert!(text.is_char_boundary(label.offset()));
                    }
                }
            }
        }
    }
}
