//! Loading: a task file (and the script beside it), or a script alone,
//! read, parsed and validated into a [`Plan`].
//!
//! Every problem found is returned at once, in file order, as one
//! [`Error::Invalid`]. Loading runs nothing but the script's top level,
//! and knows nothing of the command line: [`LoadOptions`] is what the
//! command line (or the library) asks for.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, ParseError, Problem};
use crate::graph::Plan;
use crate::script::{self, Evaluator, Script};
use crate::source::{Source, SourceId, Sources, Span};
use crate::structured;
use crate::task::{Kind, TaskSet, TaskSpec};
use crate::taskfile;

/// The task files taskrun looks for in a directory when none is named, in
/// order: the first that exists is the task source. (`Taskfile.rhai` beside
/// a task file is that file's script, not a source of its own.)
pub(crate) const DEFAULT_FILES: [&str; 4] =
    ["tasks.txt", "tasks.toml", "tasks.json", "Taskfile.rhai"];

/// The name that stands for standard input.
pub(crate) const STDIN: &str = "-";

/// What to load.
#[derive(Clone, Debug)]
pub(crate) struct LoadOptions {
    /// The task file, or a `.rhai` script that defines every task itself;
    /// `-` reads a task file from standard input.
    pub(crate) file: PathBuf,
    /// Which script takes part, for a task file.
    pub(crate) script: ScriptChoice,
    /// The task file's format, when not the one its name says.
    pub(crate) format: Option<FileFormat>,
}

/// The format of a task file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileFormat {
    /// One task a line: `name: command [after:dep]`.
    Lines,
    /// `[[task]]` tables.
    Toml,
    /// The TOML format's structure, in JSON.
    Json,
}

impl FileFormat {
    /// The format a file's name says: `.toml`, `.json`, and the line
    /// format for anything else (`.rhai` is a script, not a task file).
    pub(crate) fn of(path: &Path) -> FileFormat {
        let extension = path.extension().and_then(|extension| extension.to_str());
        match extension.map(str::to_ascii_lowercase).as_deref() {
            Some("toml") => FileFormat::Toml,
            Some("json") => FileFormat::Json,
            _ => FileFormat::Lines,
        }
    }

    /// The format's name, as `--file-format` and the history write it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FileFormat::Lines => "lines",
            FileFormat::Toml => "toml",
            FileFormat::Json => "json",
        }
    }

    /// The format named `name`, as [`FileFormat::as_str`] writes it.
    pub(crate) fn parse(name: &str) -> Option<FileFormat> {
        [FileFormat::Lines, FileFormat::Toml, FileFormat::Json]
            .into_iter()
            .find(|format| format.as_str() == name)
    }
}

/// The script that builds on a task file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ScriptChoice {
    /// The `Taskfile.rhai` beside the task file, if there is one.
    Beside,
    /// This one.
    Given(PathBuf),
    /// None.
    Without,
}

impl LoadOptions {
    /// The task file at `file`, with the script beside it.
    pub(crate) fn file(file: impl Into<PathBuf>) -> LoadOptions {
        LoadOptions {
            file: file.into(),
            script: ScriptChoice::Beside,
            format: None,
        }
    }
}

/// A validated plan, and the script that helped make it, if any.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) plan: Plan,
    pub(crate) script: Option<Arc<Script>>,
    /// The script's path, as found or given.
    pub(crate) script_path: Option<PathBuf>,
    /// The task file's directory, where its tasks run.
    pub(crate) dir: PathBuf,
    /// The format the task file was read in; `None` for a script alone.
    pub(crate) format: Option<FileFormat>,
}

/// The task file to use in `dir` when none is named: the first of
/// [`DEFAULT_FILES`] there, as a path relative to `dir`.
pub(crate) fn default_file(dir: &Path) -> Result<PathBuf, Error> {
    DEFAULT_FILES
        .iter()
        .map(PathBuf::from)
        .find(|name| dir.join(name).is_file())
        .ok_or_else(|| Error::NoTaskFile {
            dir: std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned()),
        })
}

/// Reads, parses and validates what `options` names.
pub(crate) fn load(options: &LoadOptions, sources: &mut Sources) -> Result<Loaded, Error> {
    let path = &options.file;
    if path.as_os_str() == STDIN {
        return load_stdin(options, sources);
    }
    let dir = dir_of(path);
    let source = Source::read(path).map_err(|source| Error::ReadTaskfile {
        path: path.clone(),
        source,
    })?;
    let id = sources.add(source);
    let script_path = match &options.script {
        _ if is_script(path) => None,
        ScriptChoice::Without => None,
        ScriptChoice::Given(given) => Some(given.clone()),
        ScriptChoice::Beside => {
            // Beside a bare `tasks.txt` it is `Taskfile.rhai`, not `./…`,
            // as messages show it.
            let beside = if path.parent() == Some(Path::new("")) {
                PathBuf::from("Taskfile.rhai")
            } else {
                dir.join("Taskfile.rhai")
            };
            Some(beside).filter(|found| found.is_file())
        }
    };
    let format = options.format.unwrap_or_else(|| FileFormat::of(path));
    load_source(sources, id, &dir, script_path.as_deref(), format)
}

/// A task file read from standard input; its tasks run in the current
/// directory, and only a script named with `--script` takes part.
fn load_stdin(options: &LoadOptions, sources: &mut Sources) -> Result<Loaded, Error> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes).map_err(|source| {
        Error::ReadTaskfile {
            path: PathBuf::from(STDIN),
            source,
        }
    })?;
    let id = sources.add(Source::from_bytes("<stdin>", &bytes));
    let script = match &options.script {
        ScriptChoice::Given(script) => Some(script.as_path()),
        ScriptChoice::Beside | ScriptChoice::Without => None,
    };
    let format = options.format.unwrap_or(FileFormat::Lines);
    load_source(sources, id, Path::new("."), script, format)
}

/// Whether `path` names a Rhai script (`.rhai`), which is a task source on
/// its own.
pub(crate) fn is_script(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("rhai"))
}

/// The directory of a task file, where its tasks run: `.` for a bare name.
pub(crate) fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Parses and validates the source `id` (a task file in `format`, or a
/// script if its name ends in `.rhai`), with the script at `script_path`
/// for a task file; tasks run in `dir`.
pub(crate) fn load_source(
    sources: &mut Sources,
    id: SourceId,
    dir: &Path,
    script_path: Option<&Path>,
    format: FileFormat,
) -> Result<Loaded, Error> {
    let path = sources.get(id).path.clone();
    let invalid = |problems: Vec<Problem>| Error::Invalid {
        path: path.clone(),
        problems,
    };
    let (set, script, script_path) = if is_script(&path) {
        let (set, script) = script::load(sources, id, TaskSet::default(), dir)
            .map_err(|error| invalid(vec![error.into()]))?;
        (set, Some(script), Some(path.clone()))
    } else {
        let mut parsed = parse(sources.get(id), id, format);
        check_eval(&parsed.tasks, dir, &mut parsed.errors);
        let set = TaskSet {
            origin: id,
            tasks: parsed.tasks,
            pools: parsed.pools,
        };
        if !parsed.errors.is_empty() {
            let mut problems: Vec<Problem> = parsed.errors.into_iter().map(Problem::from).collect();
            // Broken lines would make a script's view of the tasks wrong,
            // and the graph's report of them noisy.
            if !set.tasks.is_empty()
                && let Err(errors) = Plan::build(set)
            {
                problems.extend(errors.into_iter().map(Problem::from));
            }
            return Err(invalid(sorted(problems)));
        }
        match script_path {
            Some(script_path) => {
                let script_id = read_script(script_path, sources)?;
                let (set, script) = script::load(sources, script_id, set, dir)
                    .map_err(|error| invalid(vec![error.into()]))?;
                (set, Some(script), Some(script_path.to_owned()))
            }
            None => (set, None, None),
        }
    };
    match Plan::build(set) {
        Ok(plan) => Ok(Loaded {
            plan,
            script,
            script_path,
            dir: dir.to_owned(),
            format: (!is_script(&path)).then_some(format),
        }),
        Err(errors) => Err(invalid(sorted(
            errors.into_iter().map(Problem::from).collect(),
        ))),
    }
}

/// A script on its own, for what it defines (a retry policy), not for
/// tasks: relative paths in it start at its directory.
pub(crate) fn load_script(path: &Path, sources: &mut Sources) -> Result<Arc<Script>, Error> {
    let id = read_script(path, sources)?;
    script::load(sources, id, TaskSet::default(), &dir_of(path))
        .map(|(_, script)| script)
        .map_err(|error| Error::Invalid {
            path: path.to_owned(),
            problems: vec![error.into()],
        })
}

fn read_script(path: &Path, sources: &mut Sources) -> Result<SourceId, Error> {
    let source = Source::read(path).map_err(|source| Error::ReadScript {
        path: path.to_owned(),
        source,
    })?;
    Ok(sources.add(source))
}

/// Parses the task file `source` in `format`.
pub(crate) fn parse(source: &Source, id: SourceId, format: FileFormat) -> taskfile::Parsed {
    match format {
        FileFormat::Lines => taskfile::parse(source, id),
        FileFormat::Toml => structured::parse(source, id, structured::Format::Toml),
        FileFormat::Json => structured::parse(source, id, structured::Format::Json),
    }
}

/// Compiles the code of every `eval` task, so that a syntax error in one
/// is found by `check`, pointing into the task file, and not when it runs.
fn check_eval(tasks: &[TaskSpec], dir: &Path, errors: &mut Vec<ParseError>) {
    let mut evaluator = None;
    for task in tasks.iter().filter(|task| task.kind == Kind::Eval) {
        let evaluator = evaluator.get_or_insert_with(|| Evaluator::new(dir));
        let code = &task.command;
        if let Some((message, offset, len)) = evaluator.syntax_error(&code.value) {
            // The code is in the file as written when its span is as long
            // as it, so a position in it is one in the file.
            let span = if code.span.len == code.value.len() {
                Span::new(code.span.source, code.span.offset + offset, len)
            } else {
                code.span
            };
            errors.push(ParseError::EvalSyntax {
                name: task.name.value.clone(),
                message,
                span,
            });
        }
    }
}

fn sorted(mut problems: Vec<Problem>) -> Vec<Problem> {
    problems.sort_by_key(Problem::offset);
    problems
}
