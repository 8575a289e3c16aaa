//! taskrun: a declarative, Make-style parallel task runner.
//!
//! Data flows one way: a task file is parsed into [`task::TaskSpec`]s
//! (`taskfile`), validated and ordered into a [`graph::Plan`] (`graph`),
//! run by the [`schedule::Scheduler`] through an [`execute::Executor`], and
//! observed through the [`event::Event`]s it emits, by the progress
//! reporter (`report`) and the SQLite recorder (`record`). Each module owns
//! one stage and depends only on earlier ones; this file and `commands`
//! wire them together and are the only places that know the whole
//! pipeline.

pub mod cli;
mod commands;
pub mod error;
pub mod event;
pub mod execute;
pub mod exit_code;
pub mod graph;
pub mod record;
pub mod report;
pub mod schedule;
pub mod signal;
pub mod source;
pub mod task;
pub mod taskfile;
#[cfg(test)]
mod testing;
pub mod units;
pub mod visualize;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::Path;

use clap::Parser;

use crate::cli::{Arguments, Command};
use crate::error::{Error, Problem};
use crate::graph::Plan;
use crate::report::Style;
use crate::source::{Source, Sources};
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
            db,
        } => commands::show(&db.path, *run, task.as_deref(), *json),
        Command::Check { file } => commands::check(file, &mut sources),
        Command::Graph { file, format } => commands::graph(file, *format, &mut sources),
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

/// Reads, parses and validates the task file at `path`. Every problem found
/// is returned at once, in file order.
pub fn load(path: &Path, sources: &mut Sources) -> Result<Plan, Error> {
    let source = Source::read(path).map_err(|source| Error::ReadTaskfile {
        path: path.to_owned(),
        source,
    })?;
    let id = sources.add(source);
    let parsed = taskfile::parse(sources.get(id), id);
    let mut problems: Vec<Problem> = parsed.errors.into_iter().map(Problem::from).collect();
    // A file whose every task line is broken has no tasks, but saying so
    // as well would only repeat the problems already listed.
    if problems.is_empty() || !parsed.tasks.is_empty() {
        let set = TaskSet {
            origin: id,
            tasks: parsed.tasks,
        };
        match Plan::build(set) {
            Ok(plan) if problems.is_empty() => return Ok(plan),
            Ok(_) => {}
            Err(errors) => problems.extend(errors.into_iter().map(Problem::from)),
        }
    }
    problems.sort_by_key(Problem::offset);
    Err(Error::Invalid {
        path: path.to_owned(),
        problems,
    })
}
