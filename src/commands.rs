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
use std::time::{Duration, SystemTime};

use crate::cli::{
    ColorChoice, ExecArgs, ExecutorKind, GraphFormat, RetryArgs, RunArgs, RunRef, SourceArgs,
};
use crate::error::{Error, did_you_mean, plural};
use crate::event::Event;
use crate::execute::{Slurm, SlurmOptions};
use crate::graph::Plan;
use crate::record::{NewRun, Recorder, RunRow, Store, TaskRow};
use crate::report::{EventLog, Logs, Output, Progress, ProgressOptions, Style, history};
use crate::runner::Runner;
use crate::script::{Policy, Script, TaskView};
use crate::source::{Source, Sources, Span, Spanned};
use crate::task::{Kind, TaskSet, TaskSpec};
use crate::{execute, exit_code, load, report, signal, visualize};

/// `taskrun run FILE`.
pub(crate) fn run(args: &RunArgs, color: ColorChoice, sources: &mut Sources) -> Result<u8, Error> {
    let loaded = load(&args.source, sources)?;
    let mut plan = loaded.plan;
    if !args.tasks.is_empty() {
        plan = select(plan, &args.tasks)?;
    }
    if args.dry_run {
        print_out(&report::dry_run(&plan, jobs(&args.exec)))?;
        return Ok(exit_code::SUCCESS);
    }
    let file = &args.source.file;
    let taskfile = std::path::absolute(file).unwrap_or_else(|_| file.clone());
    let script = loaded.script_path.as_ref().map(|script| {
        std::path::absolute(script)
            .unwrap_or_else(|_| script.clone())
            .display()
            .to_string()
    });
    let run = NewRun {
        taskfile: taskfile.display().to_string(),
        script,
        dir: task_dir(file),
        jobs: jobs(&args.exec),
        retry_of: None,
        started_at: SystemTime::now(),
        executor: ExecutorKind::Local.as_str(),
    };
    execute_plan(
        &plan,
        loaded.script.as_ref(),
        sources,
        &args.exec,
        color,
        &run,
        None,
    )
}

/// `taskrun retry RUN`: the tasks of RUN that did not pass and that the
/// retry policy accepts, with the commands, dependencies and settings
/// stored with RUN.
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
    let failed: Vec<&TaskRow> = last_attempts(&tasks)
        .into_iter()
        .filter(|task| task.status != "passed")
        .collect();
    if failed.is_empty() {
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

    // The run's own script gives the closures of evaluated tasks and,
    // unless --policy names another, the retry policy.
    let needs_script = failed.iter().any(|task| task.kind == Kind::Rhai)
        || (args.policy.is_none() && original.script.is_some());
    let run_script = if needs_script {
        run_script(&original, sources)?
    } else {
        None
    };
    let policy_script = match &args.policy {
        Some(path) => Some(policy_script(original.id, path, sources)?),
        None => run_script.clone(),
    };
    let policy =
        policy_script.and_then(|script| Policy::new(script, sources.clone(), stderr_style(color)));

    let (retried, declined) = choose(&failed, policy.as_ref());
    if !declined.is_empty() {
        let listed: Vec<String> = declined
            .iter()
            .map(|(name, why)| format!("{name} ({why})"))
            .collect();
        println!("Not retried: {}", listed.join(", "));
    }
    if retried.is_empty() {
        println!("Nothing to retry in run #{}.", original.id);
        return Ok(exit_code::SUCCESS);
    }

    let plan = plan_of(&retried, &original, db, sources)?;
    let header = format!(
        "Retrying {} from run #{}...",
        plural(plan.tasks.len(), "failed task"),
        original.id
    );
    let run = NewRun {
        taskfile: original.taskfile.clone().unwrap_or_default(),
        script: original.script.clone(),
        dir,
        jobs: jobs(&args.exec),
        retry_of: Some(original.id),
        started_at: SystemTime::now(),
        executor: ExecutorKind::Local.as_str(),
    };
    execute_plan(
        &plan,
        run_script.as_ref(),
        sources,
        &args.exec,
        color,
        &run,
        Some(header),
    )
}

/// The last attempt of each task: a task retried within its run has a row
/// per attempt.
fn last_attempts(tasks: &[TaskRow]) -> Vec<&TaskRow> {
    let mut last: Vec<&TaskRow> = Vec::new();
    for task in tasks {
        match last.last_mut() {
            Some(previous) if previous.position == task.position => *previous = task,
            _ => last.push(task),
        }
    }
    last
}

/// Which of the `failed` tasks to retry, and why each other one is not:
/// the policy declined it, or it waits for a task that is not retried.
fn choose<'a>(
    failed: &[&'a TaskRow],
    policy: Option<&Policy>,
) -> (Vec<&'a TaskRow>, Vec<(String, String)>) {
    let mut declined: Vec<(String, String)> = Vec::new();
    let mut retried: Vec<&TaskRow> = Vec::new();
    for &task in failed {
        let waits_for = task
            .deps
            .iter()
            .find(|dep| declined.iter().any(|(name, _)| name == *dep));
        if let Some(dep) = waits_for {
            declined.push((task.name.clone(), format!("waits for {dep}")));
            continue;
        }
        if let Some(policy) = policy {
            let joined = |output: &crate::record::StoredOutput| {
                let mut bytes = output.bytes.clone();
                bytes.extend_from_slice(&output.tail);
                bytes
            };
            let (stdout, stderr) = (joined(&task.stdout), joined(&task.stderr));
            let view = TaskView {
                name: &task.name,
                command: &task.command,
                status: &task.status,
                exit_code: task.exit_code,
                signal: task
                    .signal
                    .map(|signal| execute::signal_name(i32::try_from(signal).unwrap_or(0))),
                stdout: &stdout,
                stderr: &stderr,
                duration: Duration::from_millis(
                    u64::try_from(task.duration_ms.unwrap_or(0)).unwrap_or(0),
                )
                .as_secs_f64(),
                attempt: task.attempt,
            };
            if !policy.decide_or_retry(&view) {
                declined.push((task.name.clone(), "declined by should_retry".to_owned()));
                continue;
            }
        }
        retried.push(task);
    }
    (retried, declined)
}

/// The plan of the tasks to retry, from their rows: dependencies that
/// passed are satisfied. The tasks come from the database, not a file:
/// their spans point into an empty source named after the run.
fn plan_of(
    retried: &[&TaskRow],
    original: &RunRow,
    db: &Path,
    sources: &mut Sources,
) -> Result<Plan, Error> {
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
                after: task
                    .deps
                    .iter()
                    .filter(|dep| names.contains(&dep.as_str()))
                    .map(|dep| Spanned::new(dep.clone(), span))
                    .collect(),
                after_done: task
                    .soft_deps
                    .iter()
                    .filter(|dep| names.contains(&dep.as_str()))
                    .map(|dep| Spanned::new(dep.clone(), span))
                    .collect(),
                settings: crate::task::Settings {
                    pool: task
                        .settings
                        .pool
                        .as_ref()
                        .map(|pool| Spanned::new(pool.value.clone(), span)),
                    ..task.settings.clone()
                },
                kind: task.kind,
            })
            .collect(),
        pools: original
            .pools
            .iter()
            .map(|(name, limit)| crate::task::PoolSpec {
                name: Spanned::new(name.clone(), span),
                limit: *limit,
            })
            .collect(),
    };
    Plan::build(set).map_err(|errors| Error::Invalid {
        path: db.to_owned(),
        problems: errors.into_iter().map(Into::into).collect(),
    })
}

/// The script of a recorded run, loaded again (with its task file, which
/// it may build on).
fn run_script(run: &RunRow, sources: &mut Sources) -> Result<Option<Arc<Script>>, Error> {
    let Some(script) = &run.script else {
        return Ok(None);
    };
    let script = PathBuf::from(script);
    let taskfile = run.taskfile.clone().map(PathBuf::from);
    let args = match taskfile {
        Some(taskfile) if taskfile != script => SourceArgs {
            file: taskfile,
            script: Some(script.clone()),
            no_script: false,
        },
        _ => SourceArgs {
            file: script.clone(),
            script: None,
            no_script: true,
        },
    };
    let loaded = load(&args, sources).map_err(|error| Error::RetryScript {
        run: run.id,
        why: format!("its script `{}` does not load: {error}", script.display()),
        help: "restore the script (and task file) as they were, or fix them".to_owned(),
    })?;
    Ok(loaded.script)
}

/// A policy script named with --policy, loaded on its own.
fn policy_script(run: i64, path: &Path, sources: &mut Sources) -> Result<Arc<Script>, Error> {
    let args = SourceArgs {
        file: path.to_owned(),
        script: None,
        no_script: true,
    };
    let source = Source::read(path).map_err(|source| Error::ReadScript {
        path: path.to_owned(),
        source,
    })?;
    let id = sources.add(source);
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    let (_, script) =
        crate::script::load(sources.get(id), id, TaskSet::default(), &dir).map_err(|error| {
            Error::Invalid {
                path: args.file.clone(),
                problems: vec![error.into()],
            }
        })?;
    if !script.defines("should_retry", 1) {
        return Err(Error::RetryScript {
            run,
            why: format!("`{}` defines no `fn should_retry(task)`", path.display()),
            help: "a policy script defines `fn should_retry(task) { ... }` returning true or false"
                .to_owned(),
        });
    }
    Ok(script)
}

/// The files a run writes besides the database, opened before it starts
/// so that a path that cannot be written stops it before anything runs.
struct Outputs {
    events: Option<Box<dyn Write + Send>>,
    junit: Option<std::fs::File>,
    logs: Option<Logs>,
}

impl Outputs {
    fn open(exec: &ExecArgs, plan: &Plan) -> Result<Outputs, Error> {
        let events: Option<Box<dyn Write + Send>> = match &exec.events {
            Some(path) if path.as_os_str() == "-" => Some(Box::new(std::io::stdout())),
            Some(path) => Some(Box::new(
                std::fs::File::create(path).map_err(cannot_write(path))?,
            )),
            None => None,
        };
        let junit = match &exec.junit {
            Some(path) => Some(std::fs::File::create(path).map_err(cannot_write(path))?),
            None => None,
        };
        let logs = match &exec.log_dir {
            Some(dir) => Some(Logs::create(dir, plan.tasks.len()).map_err(cannot_write(dir))?),
            None => None,
        };
        Ok(Outputs {
            events,
            junit,
            logs,
        })
    }
}

fn cannot_write(path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::CannotWrite { path, source }
}

/// Where the run's tasks go: the command line chooses, else the script
/// does, else they run here.
fn executor(exec: &ExecArgs, script: Option<&Arc<Script>>) -> (ExecutorKind, Option<SlurmOptions>) {
    let chosen =
        exec.executor.or_else(
            || match script.and_then(|script| script.executor.as_deref()) {
                Some("slurm") => Some(ExecutorKind::Slurm),
                _ => None,
            },
        );
    let kind = chosen.unwrap_or(ExecutorKind::Local);
    let slurm = (kind == ExecutorKind::Slurm).then(|| SlurmOptions {
        partition: exec
            .partition
            .clone()
            .or_else(|| script.and_then(|script| script.partition.clone())),
        args: exec.slurm_args.clone(),
    });
    (kind, slurm)
}

/// Runs `plan`, recording it as `run`, and returns the exit status it
/// earns. Nothing starts unless the run could be recorded first.
fn execute_plan(
    plan: &Plan,
    script: Option<&Arc<Script>>,
    sources: &Sources,
    exec: &ExecArgs,
    color: ColorChoice,
    run: &NewRun,
    header: Option<String>,
) -> Result<u8, Error> {
    let (kind, slurm) = executor(exec, script);
    let run = &NewRun {
        executor: kind.as_str(),
        ..run.clone()
    };
    // Slurm is asked whether it can take jobs before anything is recorded.
    if let Some(options) = &slurm {
        Slurm::check(options).map_err(|why| Error::SlurmUnavailable { why })?;
    }
    let db = &exec.db.path;
    let mut store = Store::create(db)?;
    // Runs whose taskrun was killed are closed now; if that fails (the
    // database is busy), they are still shown as interrupted when read.
    let _ = store.sweep_dead_runs();
    // Outputs that can fail are opened before the run is recorded.
    let Outputs {
        events: events_out,
        junit: junit_out,
        logs,
    } = Outputs::open(exec, plan)?;
    let ids = store.begin_run(run, plan)?;
    let run_id = ids.run;

    let timeout = Some(exec.timeout).filter(|timeout| !timeout.is_zero());
    // With the events on standard output, progress goes to standard error.
    let progress_on_stderr = exec
        .events
        .as_ref()
        .is_some_and(|path| path.as_os_str() == "-");
    let terminal = if progress_on_stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let progress = ProgressOptions {
        output: exec.output,
        quiet: exec.quiet,
        live: terminal && !exec.quiet && !progress_on_stderr,
        color: Style::detect(color, terminal).color,
        announce_jobs: exec.jobs,
        header,
        timeout,
    };
    let live_output =
        progress.live || exec.output == Output::Stream || events_out.is_some() || logs.is_some();
    let (listener, signals) = signal::Listener::start().map_err(Error::Start)?;
    let runner = Runner::new()
        .jobs(run.jobs)
        .max_output(usize::try_from(exec.max_output).unwrap_or(usize::MAX))
        .retry_delay(exec.retry_delay)
        .output_events(live_output)
        .interrupted_by(signals)
        .recorded_as(run_id, stderr_style(color))
        .timeout(exec.timeout);
    let runner = match slurm {
        Some(options) => runner.slurm(options),
        None => runner,
    };
    let outcome = std::thread::scope(|scope| -> std::io::Result<_> {
        let (senders, sinks) = sinks(
            scope,
            plan,
            run_id,
            (progress, progress_on_stderr),
            events_out,
            logs,
        )?;
        let (to_recorder, recorder_events) = crossbeam::channel::unbounded::<Event>();
        let recorder = std::thread::Builder::new()
            .name("taskrun-record".to_owned())
            .spawn_scoped(scope, move || {
                Recorder::new(store, ids).consume(&recorder_events)
            })?;
        let summary = runner.execute(plan, script, sources, &run.dir, &mut |event| {
            for sender in &senders {
                let _ = sender.send(event.clone());
            }
            // The recorder keeps no output as it comes (the results carry
            // it), and its queue need not hold it.
            if !matches!(event, Event::TaskOutput { .. }) {
                let _ = to_recorder.send(event);
            }
        });
        drop((senders, to_recorder));
        // The recorder may be parked in its batch window; the run is over.
        recorder.thread().unpark();
        // A sink that panicked has already said so on stderr; the run
        // itself is over and its result stands.
        let problems: Vec<String> = sinks
            .into_iter()
            .filter_map(|sink| sink.join().ok().flatten())
            .collect();
        let recording = recorder.join();
        Ok((summary, recording, problems))
    });
    drop(listener);
    let (summary, recording, problems) = outcome.map_err(Error::Start)?;
    let code = exit_status(&summary?, &problems);
    let mut code = if progress_on_stderr {
        saved(recording, db, run_id, code, color, &mut std::io::stderr())
    } else {
        saved(recording, db, run_id, code, color, &mut std::io::stdout())
    };
    if let (Some(path), Some(file)) = (&exec.junit, junit_out)
        && let Err(error) = write_junit(path, file, db, run_id)
    {
        eprint!("{}", report::error(&error, sources, stderr_style(color)));
        code = code.max(exit_code::FAILURE);
    }
    Ok(code)
}

/// The exit status a run earns; reports the problems of its sinks, which
/// make a run that passed exit 1.
fn exit_status(summary: &crate::event::Summary, problems: &[String]) -> u8 {
    for problem in problems {
        eprintln!("error: {problem}");
    }
    match summary.interrupted {
        Some(signal) => exit_code::interrupted(signal),
        None if summary.counts.all_passed() && problems.is_empty() => exit_code::SUCCESS,
        None => exit_code::FAILURE,
    }
}

/// Writes the JUnit XML report of a recorded run to `file`, made from the
/// database as `show --junit` makes it.
fn write_junit(path: &Path, mut file: std::fs::File, db: &Path, run_id: i64) -> Result<(), Error> {
    let xml = junit_report(db, run_id)?;
    file.write_all(xml.as_bytes()).map_err(cannot_write(path))
}

/// The JUnit XML report of a recorded run.
fn junit_report(db: &Path, run_id: i64) -> Result<String, Error> {
    let store = Store::open(db)?;
    let run = find_run(&store, db, RunRef::Id(run_id))?;
    Ok(report::junit(
        &run,
        &last_attempts(&store.tasks_with_output(&run)?),
    ))
}

/// The threads that show and write the run's events (all but the
/// recorder), with the senders that feed them.
#[allow(
    clippy::type_complexity,
    reason = "a pair of plain vectors reads better than a type made for it"
)]
fn sinks<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    plan: &'env Plan,
    run_id: i64,
    (progress, progress_on_stderr): (ProgressOptions, bool),
    events_out: Option<Box<dyn Write + Send>>,
    logs: Option<Logs>,
) -> std::io::Result<(
    Vec<crossbeam::channel::Sender<Event>>,
    Vec<std::thread::ScopedJoinHandle<'scope, Option<String>>>,
)> {
    let mut senders = Vec::new();
    let mut sinks = Vec::new();
    sinks.push(sink(
        scope,
        "taskrun-report",
        &mut senders,
        move |events| {
            if progress_on_stderr {
                // Not locked for the run: hooks and policies write to
                // stderr too.
                let out = std::io::BufWriter::new(std::io::stderr());
                drop(Progress::new(plan, progress, out, std::io::stderr()).consume(events));
            } else {
                let out = std::io::BufWriter::new(std::io::stdout());
                drop(Progress::new(plan, progress, out, std::io::stderr()).consume(events));
            }
            None
        },
    )?);
    if let Some(out) = events_out {
        sinks.push(sink(
            scope,
            "taskrun-events",
            &mut senders,
            move |events| {
                let written = EventLog::new(out, run_id, plan.tasks.len()).consume(plan, events);
                written
                    .err()
                    .map(|error| format!("cannot write the events: {error}"))
            },
        )?);
    }
    if let Some(logs) = logs {
        sinks.push(sink(scope, "taskrun-logs", &mut senders, move |events| {
            let written = logs.consume(run_id, plan, events);
            written
                .err()
                .map(|error| format!("cannot write the logs: {error}"))
        })?);
    }
    Ok((senders, sinks))
}

/// How many events may wait for each sink.
const SINK_QUEUE: usize = 256;

/// A consumer of the run's events on a thread of its own; what it returns
/// is a problem to report when the run is over.
fn sink<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    name: &str,
    senders: &mut Vec<crossbeam::channel::Sender<Event>>,
    work: impl FnOnce(&crossbeam::channel::Receiver<Event>) -> Option<String> + Send + 'scope,
) -> std::io::Result<std::thread::ScopedJoinHandle<'scope, Option<String>>> {
    // Bounded: a sink that cannot keep up (a slow disk, a reader of
    // `--events -` that does not read) holds the run back, as a terminal
    // does, instead of queueing output without end. At most this many
    // events (output chunks of up to 64 KiB among them) wait.
    let (sender, receiver) = crossbeam::channel::bounded(SINK_QUEUE);
    let handle = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn_scoped(scope, move || work(&receiver))?;
    senders.push(sender);
    Ok(handle)
}

/// Says where the run was saved, or reports why it could not all be, and
/// returns the exit status given what the run earned (`code`).
fn saved(
    recording: std::thread::Result<Result<(), crate::record::StoreError>>,
    db: &Path,
    run_id: i64,
    code: u8,
    color: ColorChoice,
    out: &mut dyn Write,
) -> u8 {
    let failed = if code == exit_code::SUCCESS {
        exit_code::FAILURE
    } else {
        code
    };
    match recording {
        Ok(Ok(())) => {
            let _ = writeln!(out, "Results saved to: {} (run #{run_id})", db.display());
            code
        }
        Ok(Err(error)) => {
            eprint!(
                "{}",
                report::error(&error.into(), &Sources::new(), stderr_style(color))
            );
            failed
        }
        Err(_) => {
            eprintln!("error: the recorder stopped unexpectedly; run #{run_id} may be incomplete");
            failed
        }
    }
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
    junit: bool,
) -> Result<u8, Error> {
    let store = Store::open(db)?;
    let run = find_run(&store, db, run.unwrap_or(RunRef::Latest))?;
    let text = match task {
        None if junit => junit_report(db, run.id)?,
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
pub(crate) fn check(args: &SourceArgs, sources: &mut Sources) -> Result<u8, Error> {
    let loaded = load(args, sources)?;
    let mut name = args.file.display().to_string();
    if let (Some(script), false) = (&loaded.script_path, crate::is_script(&args.file)) {
        name = format!("{name} + {}", script.display());
    }
    let summary = report::check_summary(&name, &loaded.plan);
    print_out(&format!("{summary}\n"))?;
    Ok(exit_code::SUCCESS)
}

/// `taskrun graph FILE`.
pub(crate) fn graph(
    args: &SourceArgs,
    format: GraphFormat,
    sources: &mut Sources,
) -> Result<u8, Error> {
    let plan = load(args, sources)?.plan;
    let text = match format {
        GraphFormat::Dot => visualize::dot(&plan),
        GraphFormat::Mermaid => visualize::mermaid(&plan),
    };
    print_out(&text)?;
    Ok(exit_code::SUCCESS)
}

fn stderr_style(color: ColorChoice) -> Style {
    Style::detect(color, std::io::stderr().is_terminal())
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
