//! What each subcommand does: it wires the stages together for one job.
//!
//! `run` and `retry` differ only in where their plan comes from (the task
//! file, or the tasks of a recorded run); both hand it to [`execute_plan`],
//! which opens the history database before any task starts, then runs the
//! scheduler with the progress reporter and the recorder as the two
//! consumers of its events.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::cli::{ColorChoice, ExecArgs, GraphFormat, RetryArgs, RunArgs, RunRef};
use crate::error::{Error, did_you_mean, plural};
use crate::event::Event;
use crate::graph::Plan;
use crate::record::{NewRun, Recorder, RunRow, Store};
use crate::report::{Progress, ProgressOptions, Style, history};
use crate::schedule::{RunOptions, Scheduler};
use crate::source::{Source, Sources, Span, Spanned};
use crate::task::{TaskSet, TaskSpec};
use crate::{execute, exit_code, load, report, signal, visualize};

/// `taskrun run FILE`.
pub(crate) fn run(args: &RunArgs, color: ColorChoice, sources: &mut Sources) -> Result<u8, Error> {
    let mut plan = load(&args.file, sources)?;
    if !args.tasks.is_empty() {
        plan = select(plan, &args.tasks)?;
    }
    let taskfile = std::path::absolute(&args.file).unwrap_or_else(|_| args.file.clone());
    let run = NewRun {
        taskfile: taskfile.display().to_string(),
        dir: task_dir(&args.file),
        jobs: jobs(&args.exec),
        retry_of: None,
        started_at: SystemTime::now(),
    };
    execute_plan(&plan, &args.exec, color, &run, None)
}

/// `taskrun retry RUN`: the tasks of RUN that did not pass, with the
/// commands and dependencies stored with it.
pub(crate) fn retry(
    args: &RetryArgs,
    color: ColorChoice,
    sources: &mut Sources,
) -> Result<u8, Error> {
    let db = &args.exec.db.path;
    let store = Store::create(db)?;
    let original = find_run(&store, db, args.run)?;
    let tasks = store.tasks(&original)?;
    drop(store);
    // A task retried within the run has a row per attempt; the last one
    // counts.
    let mut last: Vec<&crate::record::TaskRow> = Vec::new();
    for task in &tasks {
        match last.last_mut() {
            Some(previous) if previous.position == task.position => *previous = task,
            _ => last.push(task),
        }
    }
    let retried: Vec<_> = last
        .into_iter()
        .filter(|task| task.status != "passed")
        .collect();
    if retried.is_empty() {
        println!(
            "Nothing to retry: every task of run #{} passed.",
            original.id
        );
        return Ok(exit_code::SUCCESS);
    }
    let dir = PathBuf::from(original.dir.clone().unwrap_or_else(|| ".".to_owned()));
    if !dir.is_dir() {
        return Err(Error::RetryDirGone {
            run: original.id,
            dir,
        });
    }
    // The tasks come from the database, not a file: their spans point into
    // an empty source named after the run.
    let origin = sources.add(Source::from_bytes(
        format!("run #{} in {}", original.id, db.display()),
        b"",
    ));
    let span = Span::new(origin, 0, 0);
    let names: Vec<&str> = retried.iter().map(|task| task.name.as_str()).collect();
    let set = TaskSet {
        origin,
        tasks: retried
            .iter()
            .map(|task| TaskSpec {
                name: Spanned::new(task.name.clone(), span),
                command: Spanned::new(task.command.clone(), span),
                // Dependencies that passed are satisfied.
                after: task
                    .deps
                    .iter()
                    .filter(|dep| names.contains(&dep.as_str()))
                    .map(|dep| Spanned::new(dep.clone(), span))
                    .collect(),
                settings: task.settings.clone(),
            })
            .collect(),
    };
    let plan = Plan::build(set).map_err(|errors| Error::Invalid {
        path: db.clone(),
        problems: errors.into_iter().map(Into::into).collect(),
    })?;
    let header = format!(
        "Retrying {} from run #{}...",
        plural(plan.tasks.len(), "failed task"),
        original.id
    );
    let run = NewRun {
        taskfile: original.taskfile.clone().unwrap_or_default(),
        dir,
        jobs: jobs(&args.exec),
        retry_of: Some(original.id),
        started_at: SystemTime::now(),
    };
    execute_plan(&plan, &args.exec, color, &run, Some(header))
}

/// Runs `plan`, recording it as `run`, and returns the exit status it
/// earns. Nothing starts unless the run could be recorded first.
fn execute_plan(
    plan: &Plan,
    exec: &ExecArgs,
    color: ColorChoice,
    run: &NewRun,
    header: Option<String>,
) -> Result<u8, Error> {
    let db = &exec.db.path;
    let mut store = Store::create(db)?;
    // Runs whose taskrun was killed are closed now; if that fails (the
    // database is busy), they are still shown as interrupted when read.
    let _ = store.sweep_dead_runs();
    let ids = store.begin_run(run, plan)?;
    let run_id = ids.run;

    let timeout = Some(exec.timeout).filter(|timeout| !timeout.is_zero());
    let terminal = std::io::stdout().is_terminal();
    let progress = ProgressOptions {
        quiet: exec.quiet,
        live: terminal && !exec.quiet,
        color: Style::detect(color, terminal).color,
        announce_jobs: exec.jobs,
        header,
        timeout,
    };
    let options = RunOptions {
        jobs: run.jobs,
        timeout,
        max_output: usize::try_from(exec.max_output).unwrap_or(usize::MAX),
        dir: run.dir.clone(),
        live_output: progress.live,
        retry_delay: exec.retry_delay,
    };
    // Failing to raise the limit is no reason not to run: with fewer
    // descriptors, only jobs beyond the limit fail, each with the reason.
    let _ = execute::reserve_descriptors(run.jobs);
    let (listener, signals) = signal::Listener::start().map_err(Error::Start)?;
    let scheduler = Scheduler::new(plan, &options, Arc::new(execute::Local));
    let (summary, recording) = std::thread::scope(|scope| {
        let (to_reporter, reporter_events) = crossbeam::channel::unbounded::<Event>();
        let (to_recorder, recorder_events) = crossbeam::channel::unbounded::<Event>();
        let reporter = std::thread::Builder::new()
            .name("taskrun-report".to_owned())
            .spawn_scoped(scope, move || {
                let out = std::io::BufWriter::new(std::io::stdout().lock());
                drop(Progress::new(plan, progress, out).consume(&reporter_events));
            });
        let recorder = std::thread::Builder::new()
            .name("taskrun-record".to_owned())
            .spawn_scoped(scope, move || {
                Recorder::new(store, ids).consume(&recorder_events)
            });
        let (reporter, recorder) = match (reporter, recorder) {
            (Ok(reporter), Ok(recorder)) => (reporter, recorder),
            (Err(error), _) | (_, Err(error)) => return (Err(error), None),
        };
        let summary = scheduler.run(
            &mut |event| {
                let _ = to_recorder.send(event.clone());
                let _ = to_reporter.send(event);
            },
            &signals,
        );
        drop((to_reporter, to_recorder));
        // The recorder may be parked in its batch window; the run is over.
        recorder.thread().unpark();
        // A reporter that panicked has already said so on stderr; the run
        // itself is over and its result stands.
        let _ = reporter.join();
        let recording = recorder.join();
        (summary, Some(recording))
    });
    drop(listener);
    let summary = summary.map_err(Error::Start)?;
    let recording = recording
        .ok_or_else(|| Error::Start(std::io::Error::other("the recorder could not be started")))?;
    let mut code = match summary.interrupted {
        Some(signal) => exit_code::interrupted(signal),
        None if summary.counts.all_passed() => exit_code::SUCCESS,
        None => exit_code::FAILURE,
    };
    match recording {
        Ok(Ok(())) => {
            let _ = writeln!(
                std::io::stdout(),
                "Results saved to: {} (run #{run_id})",
                db.display()
            );
        }
        Ok(Err(error)) => {
            let style = Style::detect(color, std::io::stderr().is_terminal());
            eprint!("{}", report::error(&error.into(), &Sources::new(), style));
            if code == exit_code::SUCCESS {
                code = exit_code::FAILURE;
            }
        }
        Err(_) => {
            eprintln!("error: the recorder stopped unexpectedly; run #{run_id} may be incomplete");
            if code == exit_code::SUCCESS {
                code = exit_code::FAILURE;
            }
        }
    }
    Ok(code)
}

/// `taskrun history`.
pub(crate) fn history(db: &Path, limit: usize, json: bool) -> Result<u8, Error> {
    if !db.exists() {
        if json {
            print_out("[]\n")?;
        } else {
            print_out(&format!(
                "No runs recorded yet: `{}` does not exist.\n",
                db.display()
            ))?;
        }
        return Ok(exit_code::SUCCESS);
    }
    let store = Store::open(db)?;
    let runs = store.runs(limit)?;
    let text = if json {
        history::history_json(&runs)
    } else if runs.is_empty() {
        format!("No runs recorded yet in `{}`.\n", db.display())
    } else {
        history::history(&runs)
    };
    print_out(&text)?;
    Ok(exit_code::SUCCESS)
}

/// `taskrun show [RUN] [--task NAME]`.
pub(crate) fn show(
    db: &Path,
    run: Option<RunRef>,
    task: Option<&str>,
    json: bool,
) -> Result<u8, Error> {
    let store = Store::open(db)?;
    let run = find_run(&store, db, run.unwrap_or(RunRef::Latest))?;
    let text = match task {
        None => {
            let tasks = store.tasks(&run)?;
            if json {
                history::run_json(&run, &tasks)
            } else {
                history::run(&run, &tasks)
            }
        }
        Some(name) => {
            let Some(task) = store.task(&run, name)? else {
                let names: Vec<String> = store
                    .tasks(&run)?
                    .into_iter()
                    .map(|task| task.name)
                    .collect();
                let help = match did_you_mean(name, names.iter().map(String::as_str)) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("its tasks are {}", names.join(", ")),
                };
                return Err(Error::UnknownRunTask {
                    run: run.id,
                    name: name.to_owned(),
                    help,
                });
            };
            if json {
                history::task_json(&run, &task)
            } else {
                history::task(&run, &task)
            }
        }
    };
    print_out(&text)?;
    Ok(exit_code::SUCCESS)
}

fn find_run(store: &Store, db: &Path, run: RunRef) -> Result<RunRow, Error> {
    let latest = store.latest_run()?;
    let id = match (run, latest) {
        (_, None) => {
            return Err(Error::NoRuns {
                path: db.to_owned(),
            });
        }
        (RunRef::Latest, Some(latest)) => latest,
        (RunRef::Id(id), Some(_)) => id,
    };
    store.run(id)?.ok_or_else(|| Error::UnknownRun {
        id,
        path: db.to_owned(),
        help: format!(
            "the latest run is #{}; `taskrun history` lists them",
            latest.unwrap_or(0)
        ),
    })
}

/// `taskrun check FILE`.
pub(crate) fn check(file: &Path, sources: &mut Sources) -> Result<u8, Error> {
    let plan = load(file, sources)?;
    let summary = report::check_summary(&file.display().to_string(), &plan);
    print_out(&format!("{summary}\n"))?;
    Ok(exit_code::SUCCESS)
}

/// `taskrun graph FILE`.
pub(crate) fn graph(file: &Path, format: GraphFormat, sources: &mut Sources) -> Result<u8, Error> {
    let plan = load(file, sources)?;
    let text = match format {
        GraphFormat::Dot => visualize::dot(&plan),
        GraphFormat::Mermaid => visualize::mermaid(&plan),
    };
    print_out(&text)?;
    Ok(exit_code::SUCCESS)
}

fn print_out(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn jobs(exec: &ExecArgs) -> usize {
    exec.jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
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
