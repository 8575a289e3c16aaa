//! The line format: task file text → [`TaskSpec`]s.
//!
//! ```text
//! # comment
//! name: shell command [after:dep1,dep2]
//! ```
//!
//! Each line is read on its own, and every problem of every line is
//! collected, so one pass reports them all. A line whose name could be read
//! still yields its task even when another part of it is wrong, so that the
//! graph stage does not report its dependents as depending on an unknown
//! task. This module does not look at how tasks relate to each other.
//!
//! Attributes are the trailing `[key:value]` groups of a line. They are
//! recognised from the end of the line backwards: a bracket group whose
//! text starts with an identifier and a `:` is an attribute, and the first
//! group that is not (`[ -f x ]`, `"[a]"`) ends the search, so brackets in
//! commands keep working. A recognised group with an unknown key is an
//! error, never silently part of the command.

use std::path::PathBuf;

use crate::error::{ParseError, did_you_mean};
use crate::source::{Source, SourceId, Span, Spanned};
use crate::task::{
    Kind, MAX_CPUS, MAX_RETRIES, PoolSpec, Settings, TaskSpec, Timeout, is_env_name, is_valid_name,
    name_suggestion,
};

/// An attribute a task line may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attribute {
    /// `[after:a,b]`: tasks that must pass before this one starts.
    After,
    /// `[timeout:90s]`: how long the task may run.
    Timeout,
    /// `[retries:3]`: how many more times a failing task runs.
    Retries,
    /// `[dir:web]`: where the task runs.
    Dir,
    /// `[env:KEY=value]`: a variable for the task's environment.
    Env,
    /// `[after_done:a,b]`: tasks that must end, whatever their result.
    AfterDone,
    /// `[pool:db]`: the pool whose limit the task counts against.
    Pool,
    /// `[cpus:4]`: CPUs to request on a cluster.
    Cpus,
    /// `[mem:4G]`: memory to request on a cluster.
    Mem,
    /// `[desc:text]`: what the task is for, for `taskrun list`.
    Desc,
    /// `[inputs:src/*.c,!src/x.c]`: the files whose content counts.
    Inputs,
    /// `[outputs:build/app,dist/]`: the files the task makes.
    Outputs,
    /// `[uses_env:CC,CFLAGS]`: inherited variables whose value counts.
    UsesEnv,
    /// `[tools:cc,python3]`: programs whose content counts.
    Tools,
    /// `[cache:no]`: never look the task up nor store it.
    Cache,
}

/// Every known attribute key. Later attributes are added here and nowhere
/// else decides what a key is.
const ATTRIBUTES: &[(&str, Attribute)] = &[
    ("after", Attribute::After),
    ("timeout", Attribute::Timeout),
    ("retries", Attribute::Retries),
    ("dir", Attribute::Dir),
    ("env", Attribute::Env),
    ("after_done", Attribute::AfterDone),
    ("pool", Attribute::Pool),
    ("cpus", Attribute::Cpus),
    ("mem", Attribute::Mem),
    ("desc", Attribute::Desc),
    ("inputs", Attribute::Inputs),
    ("outputs", Attribute::Outputs),
    ("uses_env", Attribute::UsesEnv),
    ("tools", Attribute::Tools),
    ("cache", Attribute::Cache),
];

/// The result of parsing one source: every task that could be read and every
/// problem found.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub tasks: Vec<TaskSpec>,
    /// The pools declared with `pool NAME LIMIT` lines.
    pub pools: Vec<PoolSpec>,
    pub errors: Vec<ParseError>,
}

/// Parses the task file `source`, whose id is `id`.
pub(crate) fn parse(source: &Source, id: SourceId) -> Parsed {
    let mut parser = Parser {
        id,
        parsed: Parsed::default(),
        comment: None,
    };
    if source.utf16 {
        parser
            .parsed
            .errors
            .push(ParseError::Utf16 { source_id: id });
        return parser.parsed;
    }
    let text = &*source.text;
    let mut invalid = source.invalid_utf8.iter().copied().peekable();
    let mut start = 0;
    for raw in text.split('\n') {
        let end = start + raw.len();
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let mut bad_bytes = Vec::new();
        while let Some(offset) = invalid.next_if(|&offset| offset < end) {
            bad_bytes.push(offset);
        }
        parser.line(start, line, &bad_bytes);
        start = end + 1;
    }
    parser.parsed
}

struct Parser {
    id: SourceId,
    parsed: Parsed,
    /// The text of the comment line just read, if the line before this
    /// one was a comment: a task's description when the task has none.
    comment: Option<String>,
}

/// What a line's attributes say.
struct Attributes {
    after: Vec<Spanned<String>>,
    after_done: Vec<Spanned<String>>,
    settings: Settings,
    desc: Option<String>,
}

/// A trailing `[key:value]` group, as byte offsets into the line.
struct Group {
    open: usize,
    close: usize,
    key_start: usize,
    key: String,
    value_start: usize,
}

impl Parser {
    fn span(&self, offset: usize, len: usize) -> Span {
        Span::new(self.id, offset, len)
    }

    fn error(&mut self, error: ParseError) {
        self.parsed.errors.push(error);
    }

    /// Parses the line that starts at byte `start` of the file. `bad_bytes`
    /// holds the file offsets of its replacement characters for invalid
    /// UTF-8.
    fn line(&mut self, start: usize, line: &str, bad_bytes: &[usize]) {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let body = line[indent..].trim_end_matches([' ', '\t']);
        let comment = std::mem::take(&mut self.comment);
        if let Some(text) = body.strip_prefix('#') {
            self.comment = Some(text.trim().to_owned()).filter(|text| !text.is_empty());
            return;
        }
        if body.is_empty() {
            return;
        }
        let base = start + indent;
        for &offset in bad_bytes {
            let span = self.span(offset, Source::REPLACEMENT_LEN);
            self.error(ParseError::InvalidUtf8 { span });
        }
        if let Some(nul) = body.find('\0') {
            let span = self.span(base + nul, 1);
            self.error(ParseError::NulByte { span });
        }

        if body
            .strip_prefix("pool")
            .is_some_and(|rest| rest.starts_with([' ', '\t']))
            && !body.contains(':')
        {
            self.pool(base, body);
            return;
        }

        let (command_end, groups) = trailing_groups(body);
        let colon = match body.find(':') {
            Some(colon) if colon < command_end => colon,
            _ => {
                let span = self.span(base, body.len());
                self.error(ParseError::MissingColon { span });
                return;
            }
        };
        let head = body[..colon].trim_end_matches([' ', '\t']);
        if head.is_empty() {
            let span = self.span(base + colon, 1);
            self.error(ParseError::MissingName { span });
            return;
        }
        if !is_valid_name(head) {
            self.invalid_name(base, head);
            return;
        }
        let name = Spanned::new(head.to_owned(), self.span(base, head.len()));

        let after_colon = colon + 1;
        let command_text = &body[after_colon..command_end];
        let lead = command_text.len() - command_text.trim_start().len();
        let command_text = command_text.trim();
        let command_start = base + after_colon + lead;
        if command_text.is_empty() {
            self.error(ParseError::MissingCommand {
                name: name.value.clone(),
                span: name.span,
                help: format!(
                    "write the shell command to run after the `:`, e.g. `{0}: make {0}`",
                    name.value
                ),
            });
        }
        let command = Spanned::new(
            command_text.to_owned(),
            self.span(command_start, command_text.len()),
        );

        let Attributes {
            after,
            after_done,
            settings,
            desc,
        } = self.attributes(base, body, &groups);

        self.parsed.tasks.push(TaskSpec {
            name,
            command,
            after,
            after_done,
            settings,
            kind: Kind::Shell,
            desc: desc.or(comment),
        });
    }

    /// A `pool NAME LIMIT` line.
    fn pool(&mut self, base: usize, body: &str) {
        let words: Vec<(usize, &str)> = body
            .split_whitespace()
            .map(|word| (word.as_ptr() as usize - body.as_ptr() as usize, word))
            .collect();
        let help = "declare a pool as `pool NAME LIMIT`, e.g. `pool db 1`";
        let whole = self.span(base, body.len());
        match words[..] {
            [_, (name_at, name), (limit_at, limit)] => {
                if !is_valid_name(name) {
                    self.error(ParseError::InvalidPool {
                        span: self.span(base + name_at, name.len()),
                        help: "a pool's name is made of ASCII letters, digits and `_`".to_owned(),
                    });
                    return;
                }
                match limit.parse::<usize>() {
                    Ok(limit) if limit > 0 => self.parsed.pools.push(PoolSpec {
                        name: Spanned::new(name.to_owned(), self.span(base + name_at, name.len())),
                        limit,
                    }),
                    _ => self.error(ParseError::InvalidPool {
                        span: self.span(base + limit_at, limit.len()),
                        help: "a pool's limit is a whole number, at least 1".to_owned(),
                    }),
                }
            }
            _ => self.error(ParseError::InvalidPool {
                span: whole,
                help: help.to_owned(),
            }),
        }
    }

    /// Reads a line's attribute groups (right to left in `groups`).
    fn attributes(&mut self, base: usize, body: &str, groups: &[Group]) -> Attributes {
        let mut after: Vec<Spanned<String>> = Vec::new();
        let mut after_done: Vec<Spanned<String>> = Vec::new();
        let mut settings = Settings::default();
        let mut desc = None;
        let mut seen: Vec<&str> = Vec::new();
        for group in groups.iter().rev() {
            let Some(&(key, attribute)) = ATTRIBUTES.iter().find(|(key, _)| *key == group.key)
            else {
                self.unknown_attribute(base, group);
                continue;
            };
            let repeatable = matches!(
                attribute,
                Attribute::After
                    | Attribute::AfterDone
                    | Attribute::Env
                    | Attribute::Inputs
                    | Attribute::Outputs
                    | Attribute::UsesEnv
                    | Attribute::Tools
            );
            if !repeatable && seen.contains(&key) {
                self.error(ParseError::RepeatedAttribute {
                    key: key.to_owned(),
                    span: self.span(base + group.key_start, key.len()),
                });
                continue;
            }
            seen.push(key);
            let raw = &body[group.value_start..group.close];
            let lead = raw.len() - raw.trim_start().len();
            let value = Spanned::new(
                raw.trim(),
                self.span(base + group.value_start + lead, raw.trim().len()),
            );
            match attribute {
                Attribute::After => self.after(base, body, group, &mut after),
                Attribute::AfterDone => self.after(base, body, group, &mut after_done),
                Attribute::Pool => {
                    if let Some(name) = self.value(key, &value, parse_pool) {
                        settings.pool = Some(Spanned::new(name, value.span));
                    }
                }
                Attribute::Timeout => {
                    if let Some(timeout) = self.value(key, &value, Timeout::parse) {
                        settings.timeout = Some(timeout);
                    }
                }
                Attribute::Retries => {
                    if let Some(retries) = self.value(key, &value, parse_retries) {
                        settings.retries = Some(retries);
                    }
                }
                Attribute::Cpus => {
                    if let Some(cpus) = self.value(key, &value, parse_cpus) {
                        settings.cpus = Some(cpus);
                    }
                }
                Attribute::Mem => {
                    if let Some(mem) = self.value(key, &value, parse_mem) {
                        settings.mem = Some(mem);
                    }
                }
                Attribute::Dir => {
                    if let Some(dir) = self.value(key, &value, parse_dir) {
                        settings.dir = Some(dir);
                    }
                }
                Attribute::Env => {
                    if let Some(pair) = self.value(key, &value, parse_env) {
                        settings.env.push(pair);
                    }
                }
                Attribute::Desc => desc = self.value(key, &value, parse_desc),
                Attribute::Inputs
                | Attribute::Outputs
                | Attribute::UsesEnv
                | Attribute::Tools
                | Attribute::Cache => {
                    self.cache_attribute(attribute, key, &value, base, body, group, &mut settings);
                }
            }
        }
        // A dependency given both ways is a hard one.
        after_done.retain(|soft| !after.iter().any(|hard| hard.value == soft.value));
        Attributes {
            after,
            after_done,
            settings,
            desc,
        }
    }

    /// Reads one of the attributes of up-to-date checks into `settings`.
    #[expect(
        clippy::too_many_arguments,
        reason = "the parts of one group, as `attributes` holds them"
    )]
    fn cache_attribute(
        &mut self,
        attribute: Attribute,
        key: &str,
        value: &Spanned<&str>,
        base: usize,
        body: &str,
        group: &Group,
        settings: &mut Settings,
    ) {
        match attribute {
            Attribute::Inputs | Attribute::Outputs => {
                let outputs = attribute == Attribute::Outputs;
                let check: fn(&str) -> Result<(), String> =
                    if outputs { check_output } else { check_input };
                let list = if outputs {
                    &mut settings.cache.outputs
                } else {
                    &mut settings.cache.inputs
                };
                for item in self.items(base, body, group) {
                    if self.value(key, &item, check).is_some()
                        && !list.iter().any(|known| known.value == item.value)
                    {
                        list.push(Spanned::new(item.value.to_owned(), item.span));
                    }
                }
            }
            Attribute::UsesEnv | Attribute::Tools => {
                let tools = attribute == Attribute::Tools;
                let check: fn(&str) -> Result<String, String> =
                    if tools { parse_tool } else { parse_uses_env };
                for item in self.items(base, body, group) {
                    let list = if tools {
                        &mut settings.cache.tools
                    } else {
                        &mut settings.cache.uses_env
                    };
                    if let Some(name) = self.value(key, &item, check)
                        && !list.contains(&name)
                    {
                        list.push(name);
                    }
                }
            }
            Attribute::Cache => {
                if let Some(on) = self.value(key, value, parse_cache) {
                    settings.cache.off = !on;
                }
            }
            _ => {}
        }
    }

    /// Parses an attribute's value, reporting it when it is invalid.
    fn value<T>(
        &mut self,
        key: &str,
        value: &Spanned<&str>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(value.value) {
            Ok(parsed) => Some(parsed),
            Err(help) => {
                self.error(ParseError::InvalidValue {
                    key: key.to_owned(),
                    value: value.value.to_owned(),
                    span: if value.span.len == 0 {
                        Span::new(self.id, value.span.offset.saturating_sub(1), 1)
                    } else {
                        value.span
                    },
                    help,
                });
                None
            }
        }
    }

    fn invalid_name(&mut self, base: usize, head: &str) {
        let error = invalid_name(head, |index, len| self.span(base + index, len));
        self.error(error);
    }

    fn unknown_attribute(&mut self, base: usize, group: &Group) {
        let known = ATTRIBUTES.iter().map(|(key, _)| *key);
        let help = match did_you_mean(&group.key, known.clone()) {
            Some(key) => format!("did you mean `{key}`?"),
            None => format!(
                "known attributes: {}; to keep this text in the command, quote it",
                known
                    .map(|key| format!("`{key}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.error(ParseError::UnknownAttribute {
            key: group.key.clone(),
            span: self.span(base + group.key_start, group.key.len()),
            help,
        });
    }

    /// The comma-separated items of a group's value, each trimmed, with
    /// its span. An empty item is spanned by the gap it fills, or (when
    /// the gap holds no character) the comma after it, or the comma or
    /// `:` before it at the end.
    fn items<'a>(&self, base: usize, body: &'a str, group: &Group) -> Vec<Spanned<&'a str>> {
        let value = &body[group.value_start..group.close];
        let parts: Vec<&str> = value.split(',').collect();
        let mut items = Vec::with_capacity(parts.len());
        let mut item_start = group.value_start;
        for (index, item) in parts.iter().enumerate() {
            let lead = item.len() - item.trim_start().len();
            let text = item.trim();
            let span = if !text.is_empty() {
                self.span(base + item_start + lead, text.len())
            } else if !item.is_empty() {
                self.span(base + item_start, item.len())
            } else if index + 1 < parts.len() {
                self.span(base + item_start, 1)
            } else {
                self.span(base + item_start - 1, 1)
            };
            items.push(Spanned::new(text, span));
            item_start += item.len() + 1;
        }
        items
    }

    /// Reads the task names of an `[after:…]` group into `after`, skipping
    /// names already listed.
    fn after(&mut self, base: usize, body: &str, group: &Group, after: &mut Vec<Spanned<String>>) {
        let value = &body[group.value_start..group.close];
        if value.trim().is_empty() {
            let span = self.span(base + group.open, group.close + 1 - group.open);
            self.error(ParseError::EmptyAfter { span });
            return;
        }
        let mut item_start = group.value_start;
        let items: Vec<&str> = value.split(',').collect();
        for (index, item) in items.iter().enumerate() {
            let lead = item.len() - item.trim_start().len();
            let name = item.trim();
            let offset = base + item_start + lead;
            if name.is_empty() {
                // Point at the comma after the gap (or, at the end, the one
                // before it) when the gap holds no character to underline.
                let span = if !item.is_empty() {
                    self.span(base + item_start, item.len())
                } else if index + 1 < items.len() {
                    self.span(base + item_start, 1)
                } else {
                    self.span(base + item_start - 1, 1)
                };
                self.error(ParseError::EmptyDependency {
                    span,
                    help: "remove the extra comma, or put the missing task name there",
                });
            } else if !is_valid_name(name) {
                self.error(ParseError::InvalidDependency {
                    name: name.to_owned(),
                    span: self.span(offset, name.len()),
                    help: dependency_help(name),
                });
            } else if !after.iter().any(|dep| dep.value == name) {
                after.push(Spanned::new(name.to_owned(), self.span(offset, name.len())));
            }
            item_start += item.len() + 1;
        }
    }
}

fn parse_retries(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(retries) if retries <= MAX_RETRIES => Ok(retries),
        Ok(_) => Err(format!("at most {MAX_RETRIES} retries")),
        Err(_) => Err("write a whole number of retries, e.g. `[retries:3]`".to_owned()),
    }
}

fn parse_cpus(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(cpus) if (1..=MAX_CPUS).contains(&cpus) => Ok(cpus),
        Ok(_) => Err(format!("1 to {MAX_CPUS} CPUs")),
        Err(_) => Err("write a whole number of CPUs, e.g. `[cpus:4]`".to_owned()),
    }
}

fn parse_mem(text: &str) -> Result<u64, String> {
    match crate::units::parse_size(text) {
        Ok(bytes) if bytes >= 1 << 20 => Ok(bytes),
        Ok(_) => Err("at least 1M of memory".to_owned()),
        Err(_) => Err("write an amount of memory, e.g. `[mem:512M]` or `[mem:4G]`".to_owned()),
    }
}

fn parse_desc(text: &str) -> Result<String, String> {
    if text.is_empty() {
        Err("write what the task is for, e.g. `[desc:build the release binary]`".to_owned())
    } else {
        Ok(text.to_owned())
    }
}

fn parse_pool(text: &str) -> Result<String, String> {
    if is_valid_name(text) {
        Ok(text.to_owned())
    } else {
        Err("name a pool declared with a `pool NAME LIMIT` line, e.g. `[pool:db]`".to_owned())
    }
}

fn parse_dir(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        Err("name a directory, relative to the task file, e.g. `[dir:web]`".to_owned())
    } else {
        Ok(PathBuf::from(text))
    }
}

fn check_input(text: &str) -> Result<(), String> {
    crate::cache::pattern::check(text)
}

fn check_output(text: &str) -> Result<(), String> {
    if text.starts_with('!') {
        return Err(
            "outputs cannot exclude: list only what the task makes, e.g. `[outputs:build/app]`"
                .to_owned(),
        );
    }
    crate::cache::pattern::check(text)
}

fn parse_uses_env(text: &str) -> Result<String, String> {
    if text.is_empty() {
        Err(
            "name an inherited variable, e.g. `[uses_env:CC]`, or remove the extra comma"
                .to_owned(),
        )
    } else if is_env_name(text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` cannot name a variable: use letters, digits and `_`, not starting with a digit"
        ))
    }
}

fn parse_tool(text: &str) -> Result<String, String> {
    if text.is_empty() {
        Err("name a program, e.g. `[tools:cc]`, or remove the extra comma".to_owned())
    } else if text.contains(char::is_whitespace) {
        Err(format!(
            "separate programs with commas: `[tools:{}]`",
            text.split_whitespace().collect::<Vec<_>>().join(",")
        ))
    } else if text.contains('/') && !text.starts_with('/') {
        Err(format!(
            "name a program found through `PATH` (e.g. `cc`), or give its absolute path, not `{text}`"
        ))
    } else {
        Ok(text.to_owned())
    }
}

fn parse_cache(text: &str) -> Result<bool, String> {
    match text {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(
            "write `[cache:no]` to never cache the task, or `[cache:yes]` (the default)".to_owned(),
        ),
    }
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    let Some((key, value)) = text.split_once('=') else {
        return Err("write `[env:NAME=value]`".to_owned());
    };
    let key = key.trim();
    if is_env_name(key) {
        Ok((key.to_owned(), value.trim().to_owned()))
    } else {
        Err(format!(
            "`{key}` cannot name a variable: use letters, digits and `_`, not starting with a digit"
        ))
    }
}

/// The error for `name`, which is not a valid task name, pointing (with
/// `at`, given a byte index into the name and a length) at its first
/// character that may not be in one.
pub(crate) fn invalid_name(name: &str, at: impl FnOnce(usize, usize) -> Span) -> ParseError {
    let (index, bad) = name
        .char_indices()
        .find(|&(_, c)| !crate::task::is_name_char(c))
        .unwrap_or((0, ' '));
    let help = match name_suggestion(name) {
        Some(suggestion) => format!(
            "task names may contain only ASCII letters, digits and `_`; \
             try `{suggestion}`"
        ),
        None => "task names may contain only ASCII letters, digits and `_`".to_owned(),
    };
    ParseError::InvalidName {
        name: name.to_owned(),
        span: at(index, bad.len_utf8()),
        bad,
        help,
    }
}

/// What to suggest for a dependency name that is not a valid task name.
fn dependency_help(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    if words.len() > 1 && words.iter().all(|word| is_valid_name(word)) {
        return format!(
            "separate task names with commas: `[after:{}]`",
            words.join(",")
        );
    }
    match name_suggestion(name) {
        Some(suggestion) => {
            format!("task names may contain only ASCII letters, digits and `_`; try `{suggestion}`")
        }
        None => "task names may contain only ASCII letters, digits and `_`".to_owned(),
    }
}

/// `tasks` and `pools` in the line format, one line each; or the first
/// task it cannot hold, and why.
pub(crate) fn write(
    tasks: &[TaskSpec],
    pools: &[(String, usize)],
) -> Result<String, (String, String)> {
    let mut lines: Vec<String> = pools
        .iter()
        .map(|(name, limit)| format!("pool {name} {limit}"))
        .collect();
    if !pools.is_empty() {
        lines.push(String::new());
    }
    for task in tasks {
        lines.push(line_of(task)?);
    }
    lines.push(String::new());
    Ok(lines.join("\n"))
}

/// One task as a line, checked by reading it back.
fn line_of(task: &TaskSpec) -> Result<String, (String, String)> {
    let name = &task.name.value;
    let refuse = |why: String| Err((name.clone(), why));
    match task.kind {
        Kind::Eval => {
            return refuse(
                "it is an `eval` task, which only TOML and JSON task files hold".to_owned(),
            );
        }
        Kind::Rhai => {
            return refuse("it is a closure of a script, which no task file holds".to_owned());
        }
        Kind::Shell => {}
    }
    let lines = task.command.value.trim_end().lines().count();
    if lines > 1 {
        return refuse(format!(
            "its command has {lines} lines, and the line format holds one line a task"
        ));
    }
    let settings = &task.settings;
    let list = |names: &[Spanned<String>]| {
        names
            .iter()
            .map(|name| name.value.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut parts = vec![format!("{name}: {}", task.command.value.trim())];
    if !task.after.is_empty() {
        parts.push(format!("[after:{}]", list(&task.after)));
    }
    if !task.after_done.is_empty() {
        parts.push(format!("[after_done:{}]", list(&task.after_done)));
    }
    if let Some(timeout) = settings.timeout {
        parts.push(format!("[timeout:{}]", timeout.text()));
    }
    if let Some(retries) = settings.retries {
        parts.push(format!("[retries:{retries}]"));
    }
    if let Some(dir) = &settings.dir {
        parts.push(format!("[dir:{}]", dir.display()));
    }
    parts.extend(
        settings
            .env
            .iter()
            .map(|(key, value)| format!("[env:{key}={value}]")),
    );
    if let Some(pool) = &settings.pool {
        parts.push(format!("[pool:{}]", pool.value));
    }
    if let Some(cpus) = settings.cpus {
        parts.push(format!("[cpus:{cpus}]"));
    }
    if let Some(mem) = settings.mem {
        parts.push(format!("[mem:{mem}]"));
    }
    let cache = &settings.cache;
    if !cache.inputs.is_empty() {
        parts.push(format!("[inputs:{}]", list(&cache.inputs)));
    }
    if !cache.outputs.is_empty() {
        parts.push(format!("[outputs:{}]", list(&cache.outputs)));
    }
    if !cache.uses_env.is_empty() {
        parts.push(format!("[uses_env:{}]", cache.uses_env.join(",")));
    }
    if !cache.tools.is_empty() {
        parts.push(format!("[tools:{}]", cache.tools.join(",")));
    }
    if cache.off {
        parts.push("[cache:no]".to_owned());
    }
    if let Some(desc) = &task.desc {
        parts.push(format!("[desc:{desc}]"));
    }
    let line = parts.join(" ");
    let source = Source::from_bytes("", line.as_bytes());
    let parsed = parse(&source, SourceId::default());
    // The line holds the command without the spaces and newlines around
    // it, which change nothing the shell does.
    let mut expected = crate::structured::doc::TaskDoc::of(task);
    if let Some(command) = &mut expected.command {
        *command = command.trim().to_owned();
    }
    let same = parsed.errors.is_empty()
        && parsed.tasks.len() == 1
        && crate::structured::doc::TaskDoc::of(&parsed.tasks[0]) == expected;
    if same {
        Ok(line)
    } else {
        refuse(format!(
            "written as the line `{line}` it would read back differently: its command or a \
             value holds text the line format reads as an attribute, or spaces it trims"
        ))
    }
}

/// Whether `key` looks like an attribute key: an identifier, possibly with
/// `-` inside (so that `[after-done:x]` is reported rather than run).
fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Finds the trailing `[key:value]` groups of a line (right to left) and
/// where the text before them ends.
fn trailing_groups(body: &str) -> (usize, Vec<Group>) {
    let bytes = body.as_bytes();
    let mut groups = Vec::new();
    let mut end = body.len();
    loop {
        let rest = body[..end].trim_end_matches([' ', '\t']);
        if !rest.ends_with(']') {
            break;
        }
        let close = rest.len() - 1;
        let mut depth = 0usize;
        let mut open = None;
        for index in (0..=close).rev() {
            match bytes[index] {
                b']' => depth += 1,
                b'[' => {
                    depth -= 1;
                    if depth == 0 {
                        open = Some(index);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(open) = open else { break };
        let inner = &body[open + 1..close];
        let Some(colon) = inner.find(':') else { break };
        let raw_key = &inner[..colon];
        let key = raw_key.trim();
        if !is_key(key) {
            break;
        }
        let key_lead = raw_key.len() - raw_key.trim_start().len();
        groups.push(Group {
            open,
            close,
            key_start: open + 1 + key_lead,
            key: key.to_owned(),
            value_start: open + 1 + colon + 1,
        });
        end = open;
    }
    (end, groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Sources;

    fn parse_text(text: &str) -> Parsed {
        let mut sources = Sources::new();
        let source = Source::from_bytes("tasks.txt", text.as_bytes());
        let id = sources.add(source.clone());
        parse(&source, id)
    }

    fn task(text: &str) -> TaskSpec {
        let parsed = parse_text(text);
        assert_eq!(parsed.errors, vec![], "unexpected errors for {text:?}");
        assert_eq!(parsed.tasks.len(), 1);
        parsed.tasks.into_iter().next().unwrap()
    }

    fn deps(spec: &TaskSpec) -> Vec<&str> {
        spec.after.iter().map(|dep| dep.value.as_str()).collect()
    }

    fn span(offset: usize, len: usize) -> Span {
        Span::new(SourceId::default(), offset, len)
    }

    /// Asserts that `text` gives exactly one error, of the given kind, whose
    /// primary span covers `offset..offset + len`.
    macro_rules! span_error {
        ($text:expr, $offset:expr, $len:expr, $pattern:pat) => {{
            let parsed = parse_text($text);
            assert_eq!(
                parsed.errors.len(),
                1,
                "errors for {:?}: {:?}",
                $text,
                parsed.errors
            );
            let error = &parsed.errors[0];
            assert!(matches!(error, $pattern), "unexpected error {error:?}");
            let labels: Vec<_> = miette::Diagnostic::labels(error).unwrap().collect();
            assert_eq!(labels[0].offset(), $offset, "offset for {:?}", $text);
            assert_eq!(labels[0].len(), $len, "length for {:?}", $text);
            parsed
        }};
    }

    #[test]
    fn simple_task() {
        let spec = task("build: make all\n");
        assert_eq!(spec.name.value, "build");
        assert_eq!(spec.name.span, span(0, 5));
        assert_eq!(spec.command.value, "make all");
        assert_eq!(spec.command.span, span(7, 8));
        assert!(spec.after.is_empty());
    }

    #[test]
    fn dependencies_with_spans() {
        let spec = task("test: cargo test [after:build, lint]");
        assert_eq!(spec.command.value, "cargo test");
        assert_eq!(deps(&spec), ["build", "lint"]);
        assert_eq!(spec.after[0].span, span(24, 5));
        assert_eq!(spec.after[1].span, span(31, 4));
    }

    #[test]
    fn several_after_groups_merge_without_repeats() {
        let spec = task("t: true [after:a,b] [after:b,c]");
        assert_eq!(deps(&spec), ["a", "b", "c"]);
        assert_eq!(spec.command.value, "true");
    }

    #[test]
    fn comments_blank_lines_and_whitespace() {
        let parsed = parse_text("# top\n\n   # indented\n\t\na:\techo a\n  b\t:  echo b  \n");
        assert!(parsed.errors.is_empty());
        let names: Vec<_> = parsed.tasks.iter().map(|t| t.name.value.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(parsed.tasks[1].command.value, "echo b");
    }

    #[test]
    fn crlf_line_endings() {
        let parsed = parse_text("a: echo a\r\nb: echo b [after:a]\r\n");
        assert!(parsed.errors.is_empty());
        assert_eq!(parsed.tasks[0].command.value, "echo a");
        assert_eq!(deps(&parsed.tasks[1]), ["a"]);
        assert_eq!(parsed.tasks[1].name.span, span(11, 1));
    }

    #[test]
    fn byte_order_mark() {
        let source = Source::from_bytes("t", b"\xEF\xBB\xBFa: true\n");
        let parsed = parse(&source, SourceId::default());
        assert!(parsed.errors.is_empty());
        assert_eq!(parsed.tasks[0].name.value, "a");
    }

    #[test]
    fn first_colon_ends_the_name() {
        let spec = task("url: curl http://example.com:8080/x");
        assert_eq!(spec.command.value, "curl http://example.com:8080/x");
    }

    #[test]
    fn brackets_that_are_not_attributes_stay_in_the_command() {
        for command in [
            "[ -f x ] && echo yes",
            "echo \"[a]\"",
            "test -n x && [ -d y ]",
            "[[ $x == a:b ]]",
            "ls [abc]",
            "echo [after:x] done",
            "echo ]",
            "echo [",
        ] {
            let spec = task(&format!("t: {command}"));
            assert_eq!(spec.command.value, command);
            assert!(spec.after.is_empty());
        }
    }

    #[test]
    fn attributes_after_bracketed_command_text() {
        let spec = task("t: [ -f x ] && echo yes [after:a]");
        assert_eq!(spec.command.value, "[ -f x ] && echo yes");
        assert_eq!(deps(&spec), ["a"]);
    }

    #[test]
    fn attribute_with_spaces_inside_the_brackets() {
        let spec = task("t: true [ after : a ,b ]");
        assert_eq!(deps(&spec), ["a", "b"]);
    }

    #[test]
    fn per_task_settings() {
        let spec =
            task("t: make [timeout:1.5m] [retries:3] [dir:web/app] [env:A=1] [env: B = x y ]");
        assert_eq!(spec.command.value, "make");
        let settings = &spec.settings;
        assert_eq!(
            settings.timeout,
            Some(Timeout::After(std::time::Duration::from_secs(90)))
        );
        assert_eq!(settings.retries, Some(3));
        assert_eq!(
            settings.dir.as_deref(),
            Some(std::path::Path::new("web/app"))
        );
        assert_eq!(
            settings.env,
            [("A".into(), "1".into()), ("B".into(), "x y".into())]
        );
        assert_eq!(
            task("t: true [timeout:0]").settings.timeout,
            Some(Timeout::After(std::time::Duration::ZERO))
        );
        assert_eq!(
            task("t: true [timeout:2.5xp95]").settings.timeout,
            Some(Timeout::OfP95 {
                per_mille: 2500,
                resolved: None
            })
        );
    }

    #[test]
    fn invalid_setting_values() {
        let parsed = span_error!(
            "t: true [timeout:soon]",
            17,
            4,
            ParseError::InvalidValue { .. }
        );
        let ParseError::InvalidValue { key, help, .. } = &parsed.errors[0] else {
            unreachable!()
        };
        assert_eq!(key, "timeout");
        assert!(help.contains("not a duration"), "{help}");
        span_error!(
            "t: true [retries:-1]",
            17,
            2,
            ParseError::InvalidValue { .. }
        );
        span_error!(
            "t: true [retries:500]",
            17,
            3,
            ParseError::InvalidValue { .. }
        );
        span_error!("t: true [env:1X=2]", 13, 4, ParseError::InvalidValue { .. });
        span_error!(
            "t: true [env:novalue]",
            13,
            7,
            ParseError::InvalidValue { .. }
        );
        // An empty value is pointed at by the `:` before it.
        span_error!("t: true [dir:]", 12, 1, ParseError::InvalidValue { .. });
    }

    /// The values of spanned patterns, and the text under each span.
    fn patterns<'a>(text: &'a str, list: &[Spanned<String>]) -> Vec<(String, &'a str)> {
        list.iter()
            .map(|p| (p.value.clone(), &text[p.span.offset..p.span.end()]))
            .collect()
    }

    #[test]
    fn cache_declarations_with_spans() {
        let text = "t: cc -o app main.c [inputs:src/*.c, include/**/*.h ,!src/*_test.c] \
                    [outputs: build/app,dist/] [uses_env:CC, CFLAGS] [tools:cc,/usr/bin/python3] \
                    [inputs:src/*.c,main.c] [uses_env:CC] [tools:cc]";
        let spec = task(text);
        assert_eq!(spec.command.value, "cc -o app main.c");
        let cache = &spec.settings.cache;
        let owned = |list: &[&str]| -> Vec<(String, String)> {
            list.iter()
                .map(|p| ((*p).to_owned(), (*p).to_owned()))
                .collect()
        };
        let seen = |list: &[Spanned<String>]| -> Vec<(String, String)> {
            patterns(text, list)
                .into_iter()
                .map(|(value, under)| (value, under.to_owned()))
                .collect()
        };
        assert_eq!(
            seen(&cache.inputs),
            owned(&["src/*.c", "include/**/*.h", "!src/*_test.c", "main.c"])
        );
        assert_eq!(cache.inputs[0].span, span(28, 7));
        assert_eq!(cache.inputs[1].span, span(37, 14));
        assert_eq!(seen(&cache.outputs), owned(&["build/app", "dist/"]));
        assert_eq!(cache.uses_env, ["CC", "CFLAGS"]);
        assert_eq!(cache.tools, ["cc", "/usr/bin/python3"]);
        assert!(!cache.off);
        assert!(cache.cacheable());
        assert!(task("t: true [cache:no]").settings.cache.off);
        assert!(!task("t: true [cache: yes ]").settings.cache.off);
        assert!(!task("t: true [tools:cc]").settings.cache.cacheable());
    }

    /// The one problem of `text`: its help, and the text under its span.
    fn problem(text: &str) -> (String, String, &str) {
        let parsed = parse_text(text);
        assert_eq!(parsed.errors.len(), 1, "{text:?}: {:?}", parsed.errors);
        assert_eq!(parsed.tasks.len(), 1, "the task is still defined");
        let ParseError::InvalidValue {
            key, span, help, ..
        } = &parsed.errors[0]
        else {
            panic!("{:?}", parsed.errors[0])
        };
        (key.clone(), help.clone(), &text[span.offset..span.end()])
    }

    #[test]
    fn invalid_cache_declarations_point_at_the_one_item() {
        let cases = [
            (
                "t: x [inputs:src/*.c,/etc/passwd]",
                "inputs",
                "/etc/passwd",
                "`/etc/passwd` is an absolute path: write a path relative to the task's directory (set `[dir:]` to move the task)",
            ),
            (
                "t: x [inputs:a, ../b ,c]",
                "inputs",
                "../b",
                "`../b` leaves the task's directory with `..`: write a path inside it (set `[dir:]` to move the task)",
            ),
            (
                "t: x [inputs:a,!]",
                "inputs",
                "!",
                "write what to exclude after the `!`, e.g. `!src/*_test.c`, or remove the `!`",
            ),
            (
                "t: x [inputs:a,,b]",
                "inputs",
                ",",
                "write a path or glob relative to the task's directory, e.g. `src/*.c`",
            ),
            (
                "t: x [inputs:]",
                "inputs",
                ":",
                "write a path or glob relative to the task's directory, e.g. `src/*.c`",
            ),
            (
                "t: x [inputs:a**/b]",
                "inputs",
                "a**/b",
                "`a**/b` is not a valid glob (recursive wildcards must form a single path component): write `[*]` or `[?]` for a literal `*` or `?`, and close every `[`",
            ),
            (
                "t: x [outputs:dist/,!dist/tmp]",
                "outputs",
                "!dist/tmp",
                "outputs cannot exclude: list only what the task makes, e.g. `[outputs:build/app]`",
            ),
            (
                "t: x [uses_env:CC,1X]",
                "uses_env",
                "1X",
                "`1X` cannot name a variable: use letters, digits and `_`, not starting with a digit",
            ),
            (
                "t: x [uses_env:CC,]",
                "uses_env",
                ",",
                "name an inherited variable, e.g. `[uses_env:CC]`, or remove the extra comma",
            ),
            (
                "t: x [tools:cc,,ld]",
                "tools",
                ",",
                "name a program, e.g. `[tools:cc]`, or remove the extra comma",
            ),
            (
                "t: x [tools:cc ld]",
                "tools",
                "cc ld",
                "separate programs with commas: `[tools:cc,ld]`",
            ),
            (
                "t: x [tools:bin/gen]",
                "tools",
                "bin/gen",
                "name a program found through `PATH` (e.g. `cc`), or give its absolute path, not `bin/gen`",
            ),
            (
                "t: x [cache:off]",
                "cache",
                "off",
                "write `[cache:no]` to never cache the task, or `[cache:yes]` (the default)",
            ),
        ];
        for (text, key, under, help) in cases {
            assert_eq!(
                problem(text),
                (key.to_owned(), help.to_owned(), under),
                "{text}"
            );
        }
        // The valid patterns of a group are kept.
        let parsed = parse_text("t: x [inputs:a,/b,c]");
        let inputs: Vec<_> = parsed.tasks[0]
            .settings
            .cache
            .inputs
            .iter()
            .map(|p| p.value.as_str())
            .collect();
        assert_eq!(inputs, ["a", "c"]);
        span_error!(
            "t: x [cache:no] [cache:no]",
            17,
            5,
            ParseError::RepeatedAttribute { .. }
        );
    }

    #[test]
    fn cache_declarations_are_written_and_read_back() {
        let text = "t: make [dir:web] [inputs:src/*.c,!src/x.c,x[.]y] [outputs:dist/,app] \
                    [uses_env:CC,CFLAGS] [tools:cc,/bin/sh] [cache:no] [desc:all of it]\n";
        let parsed = parse_text(text);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let written = write(&parsed.tasks, &[]).unwrap();
        assert_eq!(
            written,
            "t: make [dir:web] [inputs:src/*.c,!src/x.c,x[.]y] [outputs:dist/,app] \
             [uses_env:CC,CFLAGS] [tools:cc,/bin/sh] [cache:no] [desc:all of it]\n"
        );
        let again = parse_text(&written);
        assert_eq!(
            crate::structured::doc::TaskDoc::of(&again.tasks[0]),
            crate::structured::doc::TaskDoc::of(&parsed.tasks[0])
        );
        // A pattern with a comma cannot be written as a line.
        let mut task = parsed.tasks[0].clone();
        task.settings.cache.outputs[0].value = "a,b".to_owned();
        let (name, why) = write(&[task], &[]).unwrap_err();
        assert_eq!(name, "t");
        assert!(why.contains("would read back differently"), "{why}");
    }

    #[test]
    fn pools_and_soft_dependencies() {
        let parsed =
            parse_text("pool db 2\npool\tnet 1\nt: true [pool:db] [after_done:a, b] [after:b]\n");
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let pools: Vec<_> = parsed
            .pools
            .iter()
            .map(|p| (p.name.value.as_str(), p.limit))
            .collect();
        assert_eq!(pools, [("db", 2), ("net", 1)]);
        let task = &parsed.tasks[0];
        assert_eq!(
            task.settings.pool.as_ref().map(|p| p.value.as_str()),
            Some("db")
        );
        // `b` is also a hard dependency, which wins.
        assert_eq!(
            task.after_done
                .iter()
                .map(|d| d.value.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        // A task may be called `pool`.
        assert_eq!(task_named("pool: make pool"), "pool");
    }

    fn task_named(text: &str) -> String {
        task(text).name.value
    }

    #[test]
    fn invalid_pool_declarations() {
        span_error!("pool db", 0, 7, ParseError::InvalidPool { .. });
        span_error!("pool db 0", 8, 1, ParseError::InvalidPool { .. });
        span_error!("pool d-b 1", 5, 3, ParseError::InvalidPool { .. });
        span_error!("t: true [pool:a b]", 14, 3, ParseError::InvalidValue { .. });
    }

    #[test]
    fn a_setting_given_twice() {
        span_error!(
            "t: true [timeout:1s] [timeout:2s]",
            22,
            7,
            ParseError::RepeatedAttribute { .. }
        );
        // `after` and `env` may repeat.
        assert_eq!(task("t: true [env:A=1] [env:A=2]").settings.env.len(), 2);
    }

    #[test]
    fn missing_colon() {
        span_error!("  echo hello  ", 2, 10, ParseError::MissingColon { .. });
        // A colon inside an attribute does not count as the name's colon.
        span_error!(
            "build make [after:x]",
            0,
            20,
            ParseError::MissingColon { .. }
        );
    }

    #[test]
    fn missing_name() {
        span_error!("  : echo hi", 2, 1, ParseError::MissingName { .. });
    }

    #[test]
    fn invalid_names() {
        let parsed = span_error!(
            "my-task: echo",
            2,
            1,
            ParseError::InvalidName { bad: '-', .. }
        );
        assert!(parsed.tasks.is_empty());
        let parsed = span_error!(
            "my task: echo",
            2,
            1,
            ParseError::InvalidName { bad: ' ', .. }
        );
        let ParseError::InvalidName { help, .. } = &parsed.errors[0] else {
            unreachable!()
        };
        assert!(help.contains("`my_task`"), "{help}");
        span_error!(
            "tâche: echo",
            1,
            2,
            ParseError::InvalidName { bad: 'â', .. }
        );
    }

    #[test]
    fn missing_command_still_defines_the_task() {
        let parsed = span_error!("build:", 0, 5, ParseError::MissingCommand { .. });
        assert_eq!(parsed.tasks.len(), 1);
        span_error!(
            "build:   [after:x]",
            0,
            5,
            ParseError::MissingCommand { .. }
        );
    }

    #[test]
    fn unknown_attribute_with_suggestion() {
        let parsed = span_error!(
            "t: true [afer:x]",
            9,
            4,
            ParseError::UnknownAttribute { .. }
        );
        let ParseError::UnknownAttribute { help, .. } = &parsed.errors[0] else {
            unreachable!()
        };
        assert_eq!(help, "did you mean `after`?");
        assert_eq!(parsed.tasks.len(), 1, "the task is still defined");
        let parsed = span_error!(
            "t: true [After:x]",
            9,
            5,
            ParseError::UnknownAttribute { .. }
        );
        let ParseError::UnknownAttribute { help, .. } = &parsed.errors[0] else {
            unreachable!()
        };
        assert_eq!(help, "did you mean `after`?");
    }

    #[test]
    fn unknown_attribute_without_suggestion() {
        let parsed = span_error!("t: echo [x:y]", 9, 1, ParseError::UnknownAttribute { .. });
        let ParseError::UnknownAttribute { help, .. } = &parsed.errors[0] else {
            unreachable!()
        };
        assert!(help.contains("known attributes: `after`"), "{help}");
        assert!(help.contains("quote"), "{help}");
    }

    #[test]
    fn empty_after() {
        span_error!("t: true [after:]", 8, 8, ParseError::EmptyAfter { .. });
        span_error!("t: true [after:  ]", 8, 10, ParseError::EmptyAfter { .. });
    }

    #[test]
    fn empty_dependency_names() {
        let parsed = span_error!(
            "t: true [after:a,,b]",
            17,
            1,
            ParseError::EmptyDependency { .. }
        );
        assert_eq!(deps(&parsed.tasks[0]), ["a", "b"]);
        span_error!(
            "t: true [after:a,]",
            16,
            1,
            ParseError::EmptyDependency { .. }
        );
        span_error!(
            "t: true [after:,a]",
            15,
            1,
            ParseError::EmptyDependency { .. }
        );
        span_error!(
            "t: true [after:a, ,b]",
            17,
            1,
            ParseError::EmptyDependency { .. }
        );
    }

    #[test]
    fn invalid_dependency_names() {
        let parsed = span_error!(
            "t: true [after:a b]",
            15,
            3,
            ParseError::InvalidDependency { .. }
        );
        let ParseError::InvalidDependency { help, .. } = &parsed.errors[0] else {
            unreachable!()
        };
        assert_eq!(help, "separate task names with commas: `[after:a,b]`");
        let parsed = span_error!(
            "t: true [after:x-y]",
            15,
            3,
            ParseError::InvalidDependency { .. }
        );
        let ParseError::InvalidDependency { help, .. } = &parsed.errors[0] else {
            unreachable!()
        };
        assert!(help.contains("try `x_y`"), "{help}");
    }

    #[test]
    fn invalid_utf8_is_reported_and_the_task_kept() {
        let source = Source::from_bytes("t", b"a: echo caf\xE9\n# caf\xE9 in a comment is fine\n");
        let parsed = parse(&source, SourceId::default());
        assert_eq!(
            parsed.errors,
            vec![ParseError::InvalidUtf8 { span: span(11, 3) }]
        );
        assert_eq!(parsed.tasks.len(), 1);
    }

    #[test]
    fn nul_byte() {
        span_error!("t: echo a\0b", 9, 1, ParseError::NulByte { .. });
    }

    #[test]
    fn utf16_file() {
        let source = Source::from_bytes("t", b"\xFF\xFEa\x00:\x00");
        let parsed = parse(&source, SourceId::default());
        assert!(matches!(parsed.errors[..], [ParseError::Utf16 { .. }]));
    }

    #[test]
    fn every_error_of_the_file_is_reported() {
        let parsed = parse_text("a-b: x\nc: [after:]\nd:\ne echo\nf: true [afer:c]\ng: ok\n");
        // `c: [after:]` has two problems: no command and an empty list.
        assert_eq!(parsed.errors.len(), 6, "{:?}", parsed.errors);
        let names: Vec<_> = parsed.tasks.iter().map(|t| t.name.value.as_str()).collect();
        assert_eq!(names, ["c", "d", "f", "g"]);
    }

    #[test]
    fn long_lines_and_deep_brackets_do_not_panic() {
        let long = format!("t: echo {}", "x".repeat(50_000));
        assert_eq!(task(&long).command.value.len(), 50_005);
        let brackets = format!(
            "t: echo {}",
            "[".repeat(10_000) + "]".repeat(10_000).as_str()
        );
        assert_eq!(parse_text(&brackets).tasks.len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_spans_stay_in_bounds(text in "\\PC{0,200}") {
            let parsed = parse_text(&text);
            for spec in &parsed.tasks {
                for spanned in std::iter::once(&spec.name).chain(std::iter::once(&spec.command)).chain(&spec.after) {
                    let range = spanned.span.offset..spanned.span.end();
                    proptest::prop_assert_eq!(&text[range], spanned.value.as_str());
                }
            }
            for error in &parsed.errors {
                for label in miette::Diagnostic::labels(error).into_iter().flatten() {
                    proptest::prop_assert!(label.offset() + label.len() <= text.len());
                    proptest::prop_assert!(text.is_char_boundary(label.offset()));
                }
            }
        }

        #[test]
        fn generated_lines_round_trip(
            name in "[A-Za-z0-9_]{1,12}",
            command in "[a-z\\[\\] \"'=-]{0,20}[a-z]",
            deps in proptest::collection::vec("[A-Za-z0-9_]{1,8}", 0..4),
        ) {
            let mut line = format!("{name}: {command}");
            if !deps.is_empty() {
                line = format!("{line} [after:{}]", deps.join(", "));
            }
            let parsed = parse_text(&line);
            proptest::prop_assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
            let spec = &parsed.tasks[0];
            proptest::prop_assert_eq!(&spec.name.value, &name);
            proptest::prop_assert_eq!(&spec.command.value, &command.trim());
            let mut unique: Vec<&str> = Vec::new();
            for dep in &deps {
                if !unique.contains(&dep.as_str()) {
                    unique.push(dep);
                }
            }
            let parsed_deps: Vec<&str> = spec.after.iter().map(|dep| dep.value.as_str()).collect();
            proptest::prop_assert_eq!(parsed_deps, unique);
        }
    }
}
