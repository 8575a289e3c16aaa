//! taskrun: a declarative, Make-style parallel task runner.
//!
//! Data flows one way: a task file is parsed into [`task::TaskSpec`]s
//! (`taskfile`), validated and ordered into a [`graph::Plan`] (`graph`),
//! run by the [`schedule::Scheduler`] through an [`execute::Executor`], and
//! observed through the [`event::Event`]s it emits (`report`). Each module
//! owns one stage and depends only on earlier ones; this file wires them
//! together and is the only place that knows the whole pipeline.

pub mod cli;
pub mod error;
pub mod event;
pub mod execute;
pub mod exit_code;
pub mod graph;
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
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser;

use crate::cli::{Arguments, ColorChoice, Command, GraphFormat, RunArgs};
use crate::error::{Error, Problem, did_you_mean};
use crate::graph::Plan;
use crate::report::{Progress, ProgressOptions, Style};
use crate::schedule::{RunOptions, Scheduler};
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
    let result = match &arguments.command {
        Command::Run(args) => run_tasks(args, arguments.color, &mut sources),
        Command::Check { file } => check(file, &mut sources).map(|()| exit_code::SUCCESS),
        Command::Graph { file, format } => {
            graph(file, *format, &mut sources).map(|()| exit_code::SUCCESS)
        }
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

/// `taskrun run`: runs the plan and returns the exit status it earns.
fn run_tasks(args: &RunArgs, color: ColorChoice, sources: &mut Sources) -> Result<u8, Error> {
    let mut plan = load(&args.file, sources)?;
    if !args.tasks.is_empty() {
        plan = select(plan, &args.tasks)?;
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let timeout = Some(args.timeout).filter(|timeout| !timeout.is_zero());
    let terminal = std::io::stdout().is_terminal();
    let progress = ProgressOptions {
        quiet: args.quiet,
        live: terminal && !args.quiet,
        color: Style::detect(color, terminal).color,
        announce_jobs: args.jobs,
        timeout,
    };
    let options = RunOptions {
        jobs,
        timeout,
        max_output: usize::try_from(args.max_output).unwrap_or(usize::MAX),
        dir: task_dir(&args.file),
        live_output: progress.live,
    };
    // Failing to raise the limit is no reason not to run: with fewer
    // descriptors, only jobs beyond the limit fail, each with the reason.
    let _ = execute::reserve_descriptors(jobs);
    let (listener, signals) = signal::Listener::start().map_err(Error::Start)?;
    let scheduler = Scheduler::new(&plan, &options, Arc::new(execute::Local));
    let summary = std::thread::scope(|scope| {
        let (sender, events) = crossbeam::channel::unbounded();
        let plan = &plan;
        let reporter = scope.spawn(move || {
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            drop(Progress::new(plan, progress, out).consume(&events));
        });
        let summary = scheduler.run(&mut |event| drop(sender.send(event)), &signals);
        drop(sender);
        // A reporter that panicked has already said so on stderr; the run
        // itself is over and its result stands.
        let _ = reporter.join();
        summary
    })
    .map_err(Error::Start)?;
    drop(listener);
    Ok(match summary.interrupted {
        Some(signal) => exit_code::interrupted(signal),
        None if summary.counts.all_passed() => exit_code::SUCCESS,
        None => exit_code::FAILURE,
    })
}

/// Narrows the plan to the named tasks and their dependencies.
fn select(plan: Plan, names: &[String]) -> Result<Plan, Error> {
    let defined: Vec<String> = plan
        .tasks
        .iter()
        .map(|task| task.name.value.clone())
        .collect();
    plan.select(names).map_err(|name| {
        let help = match did_you_mean(&name, defined.iter().map(String::as_str)) {
            Some(close) => format!("did you mean `{close}`?"),
            None if defined.len() <= 10 => format!("the tasks are {}", defined.join(", ")),
            None => "`taskrun graph FILE` lists every task".to_owned(),
        };
        Error::UnknownTask { name, help }
    })
}

/// The directory tasks run in: the task file's own.
fn task_dir(file: &Path) -> PathBuf {
    let dir = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    std::path::absolute(&dir).unwrap_or(dir)
}

fn check(file: &Path, sources: &mut Sources) -> Result<(), Error> {
    let plan = load(file, sources)?;
    let summary = report::check_summary(&file.display().to_string(), &plan);
    writeln!(std::io::stdout(), "{summary}")?;
    Ok(())
}

fn graph(file: &Path, format: GraphFormat, sources: &mut Sources) -> Result<(), Error> {
    let plan = load(file, sources)?;
    let text = match format {
        GraphFormat::Dot => visualize::dot(&plan),
        GraphFormat::Mermaid => visualize::mermaid(&plan),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}
