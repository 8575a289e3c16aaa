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

use crate::cli::{ColorChoice, ExecArgs, GraphFormat, RetryArgs, RunArgs, RunRef, SourceArgs};
use crate::error::{Error, did_you_mean, plural};
use crate::event::Event;
use crate::graph::Plan;
use crate::record::{NewRun, Recorder, RunRow, Store, TaskRow};
use crate::report::{Progress, ProgressOptions, Style, history};
use crate::schedule::{RetryPolicy, RunOptions, Scheduler};
use crate::script::{Evaluator, Hooks, Policy, Script, TaskView};
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
        policy: script.and_then(|script| {
            let policy = Policy::new(Arc::clone(script), sources.clone(), stderr_style(color))?;
            Some(Arc::new(policy) as Arc<dyn RetryPolicy>)
        }),
    };
    let hooks = script.as_ref().and_then(|script| {
        Hooks::new(
            Arc::clone(script),
            run_id,
            sources.clone(),
            stderr_style(color),
        )
    });
    // Failing to raise the limit is no reason not to run: with fewer
    // descriptors, only jobs beyond the limit fail, each with the reason.
    let _ = execute::reserve_descriptors(run.jobs);
    let (listener, signals) = signal::Listener::start().map_err(Error::Start)?;
    let local: Arc<dyn execute::Executor> = Arc::new(execute::Local);
    let executor: Arc<dyn execute::Executor> = match script {
        Some(script) => Arc::new(Evaluator::new(Arc::clone(script), local)),
        None => local,
    };
    let scheduler = Scheduler::new(plan, &options, executor);
    let (summary, recording) = std::thread::scope(|scope| {
        let (to_reporter, reporter_events) = crossbeam::channel::unbounded::<Event>();
        let (to_recorder, recorder_events) = crossbeam::channel::unbounded::<Event>();
        let (to_hooks, hook_events) = crossbeam::channel::unbounded::<Event>();
        let hooks = hooks.map(|hooks| {
            std::thread::Builder::new()
                .name("taskrun-hooks".to_owned())
                .spawn_scoped(scope, move || hooks.consume(plan, &hook_events))
        });
        let to_hooks = matches!(hooks, Some(Ok(_))).then_some(to_hooks);
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
                if let Some(to_hooks) = &to_hooks {
                    let _ = to_hooks.send(event.clone());
                }
                let _ = to_recorder.send(event.clone());
                let _ = to_reporter.send(event);
            },
            &signals,
        );
        drop((to_reporter, to_recorder, to_hooks));
        if let Some(Ok(hooks)) = hooks {
            // A hook that panicked has already said so on stderr.
            let _ = hooks.join();
        }
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
    let code = match summary.interrupted {
        Some(signal) => exit_code::interrupted(signal),
        None if summary.counts.all_passed() => exit_code::SUCCESS,
        None => exit_code::FAILURE,
    };
    Ok(saved(recording, db, run_id, code, color))
}

/// Says where the run was saved, or reports why it could not all be, and
/// returns the exit status given what the run earned (`code`).
fn saved(
    recording: std::thread::Result<Result<(), crate::record::StoreError>>,
    db: &Path,
    run_id: i64,
    code: u8,
    color: ColorChoice,
) -> u8 {
    let failed = if code == exit_code::SUCCESS {
        exit_code::FAILURE
    } else {
        code
    };
    match recording {
        Ok(Ok(())) => {
            let _ = writeln!(
                std::io::stdout(),
                "Results saved to: {} (run #{run_id})",
                db.display()
            );
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
