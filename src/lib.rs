//! taskrun: a declarative, Make-style parallel task runner.
//!
//! Data flows one way: a task file is parsed into [`task::TaskSpec`]s
//! (`taskfile`), validated and ordered into a [`graph::Plan`] (`graph`),
//! run by the [`schedule::Scheduler`] through an [`execute::Executor`], and
//! observed through the [`event::Event`]s it emits, by the progress
//! reporter (`report`) and the SQLite recorder (`record`). Each module owns
//! one stage and depends only on earlier ones; this file, `commands` and
//! `runner` wire them together and are the only places that know the
//! whole pipeline.
//!
//! As a library, start at [`Tasks`] and [`Runner`]: build a task set from
//! text, a script or code, and run it with your own options and your own
//! event callback.

pub mod cli;
mod commands;
pub mod error;
pub mod event;
pub mod execute;
pub mod exit_code;
#[cfg(test)]
mod fuzz;
pub mod graph;
pub mod record;
pub mod report;
mod runner;
pub mod schedule;
pub mod script;
pub mod signal;
pub mod source;
pub mod task;
pub mod taskfile;
#[cfg(test)]
mod testing;
pub mod units;
pub mod visualize;

pub use crate::error::Error;
pub use crate::event::{Event, Exit, Status, Summary, TaskId, TaskResult};
pub use crate::execute::SlurmOptions;
pub use crate::runner::{Canceller, LoadError, Runner, Task, Tasks};

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::Parser;

use crate::cli::{Arguments, Command};
use crate::error::Problem;
use crate::graph::Plan;
use crate::report::Style;
use crate::source::{Source, SourceId, Sources};
use crate::task::TaskSet;

/// Runs taskrun with the given command-line arguments (the first one is the
/// program name) and returns the exit status.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let arguments = match Arguments::try_parse_from(args) {
        Ok(arguments) => arguments,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                exit_code::INVALID_INPUT
            } else {
                exit_code::SUCCESS
            };
        }
    };
    let style = Style::detect(arguments.color, std::io::stderr().is_terminal());
    let mut sources = Sources::new();
    let color = arguments.color;
    let result = match &arguments.command {
        Command::Run(args) => commands::run(args, color, &mut sources),
        Command::Retry(args) => commands::retry(args, color, &mut sources),
        Command::History { limit, json, db } => commands::history(&db.path, *limit, *json),
        Command::Show {
            run,
            task,
            json,
            junit,
            db,
        } => commands::show(&db.path, *run, task.as_deref(), *json, *junit),
        Command::Check { source } => commands::check(source, &mut sources),
        Command::Graph { source, format } => commands::graph(source, *format, &mut sources),
    };
    match result {
        Ok(code) => code,
        // Like other Unix filters, stop quietly when the reader has gone
        // (`taskrun graph … | head`).
        Err(Error::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            exit_code::SUCCESS
        }
        Err(error) => {
            eprint!("{}", report::error(&error, &sources, style));
            error.exit_code()
        }
    }
}

/// Whether `path` names a Rhai script (`.rhai`), which is a task source on
/// its own.
pub fn is_script(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("rhai"))
}

/// A validated plan, and the script that helped make it, if any.
#[derive(Debug)]
pub struct Loaded {
    pub plan: Plan,
    pub script: Option<std::sync::Arc<script::Script>>,
    /// The script's path, as found or given.
    pub script_path: Option<std::path::PathBuf>,
}

/// Reads, parses and validates the task file (and the script beside it)
/// named by `args`. Every problem found is returned at once, in file order.
pub fn load(args: &cli::SourceArgs, sources: &mut Sources) -> Result<Loaded, Error> {
    let path = &args.file;
    let dir = dir_of(path);
    let source = Source::read(path).map_err(|source| Error::ReadTaskfile {
        path: path.clone(),
        source,
    })?;
    let id = sources.add(source);
    let script_path = match (&args.script, args.no_script) {
        _ if is_script(path) => None,
        (_, true) => None,
        (Some(given), false) => Some(given.clone()),
        (None, false) => {
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
    load_source(sources, id, &dir, script_path.as_deref())
}

/// The directory of a task file, where its tasks run: `.` for a bare name.
pub(crate) fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Parses and validates the source `id` (a task file, or a script if its
/// name ends in `.rhai`), with the script at `script_path` for a task file.
pub(crate) fn load_source(
    sources: &mut Sources,
    id: SourceId,
    dir: &Path,
    script_path: Option<&Path>,
) -> Result<Loaded, Error> {
    let path = sources.get(id).path.clone();
    let invalid = |problems: Vec<Problem>| Error::Invalid {
        path: path.clone(),
        problems,
    };
    let (set, script, script_path) = if is_script(&path) {
        let (set, script) = script::load(sources.get(id), id, TaskSet::default(), dir)
            .map_err(|error| invalid(vec![error.into()]))?;
        (set, Some(script), Some(path.clone()))
    } else {
        let parsed = taskfile::parse(sources.get(id), id);
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
            problems.sort_by_key(Problem::offset);
            return Err(invalid(problems));
        }
        match script_path {
            Some(script_path) => {
                let source = Source::read(script_path).map_err(|source| Error::ReadScript {
                    path: script_path.to_owned(),
                    source,
                })?;
                let script_id = sources.add(source);
                let (set, script) = script::load(sources.get(script_id), script_id, set, dir)
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
        }),
        Err(errors) => {
            let mut problems: Vec<Problem> = errors.into_iter().map(Problem::from).collect();
            problems.sort_by_key(Problem::offset);
            Err(invalid(problems))
        }
    }
}
