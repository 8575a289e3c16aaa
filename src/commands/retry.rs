//! `taskrun retry RUN`: the tasks of a recorded run that did not pass,
//! run again from the commands, dependencies and settings stored with it.
//!
//! Planning a retry is pure, over the run's typed rows: [`choose`] says
//! which tasks run again (and why each other one does not), [`plan_of`]
//! makes their plan, with the dependencies that passed satisfied. What a
//! policy sees of a task is [`TaskView::from_row`], the same view it gets
//! within a run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::cache::handed_on;
use crate::cache::passing::Earlier;
use crate::cli::{ExecutorKind, RetryArgs};
use crate::error::{Error, plural};
use crate::event::Status;
use crate::exit_code;
use crate::graph::Plan;
use crate::load::{self, FileFormat, LoadOptions, ScriptChoice};
use crate::record::{CacheOutcome, NewRun, Recall, RunRow, Store, TaskRow, last_attempts};
use crate::report::ColorChoice;
use crate::script::{Policy, Script, TaskView};
use crate::source::{Source, Sources, Span, Spanned};
use crate::task::{CacheSpec, Kind, PoolSpec, Settings, TaskSet, TaskSpec};

use super::run::{Retrying, execute_plan, jobs};
use super::show::find_run;
use super::stderr_style;

/// `taskrun retry RUN`.
pub(crate) fn retry(
    args: &RetryArgs,
    color: ColorChoice,
    sources: &mut Sources,
) -> Result<u8, Error> {
    let db = &args.exec.db.path;
    // Reading first: a missing database is an error, never created here.
    let store = Store::open(db)?;
    let original = find_run(&store, db, args.run)?;
    let tasks = store.tasks_with_output(&original)?;
    let (before, pruned) = runs_before(&store, &original)?;
    let fingerprints = store.fingerprints_of(original.id)?;
    drop(store);
    if original.status.is_live() {
        // Its taskrun is alive (running a plan, or a broker's open run
        // still taking tasks): retrying would start its running tasks a
        // second time beside the first.
        return Err(Error::RetryRunning {
            run: original.id,
            what: original.still_live(),
            pid: original.pid.unwrap_or(0),
            host: original.host.clone().unwrap_or_default(),
        });
    }
    let last = last_attempts(&tasks);
    // A task restored from the store (`cached`) passed, and is not run
    // again, as one that ran and passed is not.
    if last.iter().all(|task| task.state.is_pass()) {
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

    // The run's own script gives the closures of evaluated tasks (and the
    // functions `eval` code may call) and, unless --policy names another,
    // the retry policy. Shell tasks need nothing but their stored commands.
    let closures = last
        .iter()
        .any(|task| matches!(task.kind, Kind::Rhai | Kind::Eval) && !task.state.is_pass());
    let needs_script = closures || (args.policy.is_none() && original.script.is_some());
    let run_script = if needs_script {
        run_script(&original, closures, sources)?
    } else {
        None
    };
    let policy_script = match &args.policy {
        Some(path) => Some(policy_script(original.id, path, sources)?),
        None => run_script.as_ref().map(|loaded| Arc::clone(&loaded.script)),
    };
    let recall = Recall::new(db.to_owned(), original.id, fingerprints);
    let policy = policy_script.and_then(|script| policy(script, recall, sources, color));
    let mut decide = |task: &TaskRow| {
        policy.as_ref().is_none_or(|policy| {
            policy.decide_or_retry(&TaskView::from_row(task).with_history(policy.recall()))
        })
    };
    let choice = choose(&last, &mut decide);
    if !choice.declined.is_empty() {
        let listed: Vec<String> = choice
            .declined
            .iter()
            .map(|(name, why)| format!("{name} ({why})"))
            .collect();
        println!("Not retried: {}", listed.join(", "));
    }
    if choice.retried.is_empty() {
        println!("Nothing to retry in run #{}.", original.id);
        return Ok(exit_code::SUCCESS);
    }

    // An evaluated task runs its closure as the script has it now, and is
    // recorded so.
    let commands: HashMap<&str, &str> = run_script
        .as_ref()
        .map(|loaded| {
            loaded
                .plan
                .tasks
                .iter()
                .filter(|task| task.kind == Kind::Rhai)
                .map(|task| (task.name.value.as_str(), task.command.value.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let plan = plan_of(&choice.retried, &commands, &original, db, sources)?;
    let mut runs: Vec<(i64, &[TaskRow])> = vec![(original.id, &tasks)];
    runs.extend(before.iter().map(|(run, rows)| (*run, rows.as_slice())));
    let retrying = retrying(&plan, &runs, pruned);
    let run = NewRun {
        taskfile: original.taskfile.clone().unwrap_or_default(),
        // The same name as the original's, so that CI sees one suite.
        taskfile_relative: original.taskfile_relative.clone(),
        script: original.script.clone(),
        dir,
        jobs: jobs(&args.exec),
        retry_of: Some(original.id),
        started_at: SystemTime::now(),
        executor: ExecutorKind::Local.as_str(),
        file_format: format_of(&original).map(FileFormat::as_str),
    };
    execute_plan(
        plan,
        run_script.as_ref().map(|loaded| &loaded.script),
        sources,
        &args.exec,
        color,
        &run,
        Some(retrying),
    )
}

/// What a retry adds to its run: the line that opens it, and what the
/// dependencies outside `plan` left (see [`earlier`]). `runs` are the run
/// retried and those it retried in turn, newest first, with their rows.
/// `pruned` is a run of the chain that is no longer recorded: what the
/// retried tasks' other dependencies were is gone with it, so none of
/// them is restored or stored.
fn retrying(plan: &Plan, runs: &[(i64, &[TaskRow])], pruned: Option<i64>) -> Retrying {
    let mut earlier = earlier(plan, runs);
    if let Some(pruned) = pruned {
        for deps in &mut earlier {
            deps.push(Earlier {
                name: format!("of pruned run #{pruned}"),
                run: pruned,
                value: None,
                tree: None,
            });
        }
    }
    Retrying {
        header: format!(
            "Retrying {} from run #{}...",
            plural(plan.tasks.len(), "failed task"),
            runs.first().map_or(0, |(run, _)| *run),
        ),
        earlier,
    }
}

/// A run's number and its rows.
type RunRows = (i64, Vec<TaskRow>);

/// The runs `run` retried, and those they retried in turn, newest first,
/// each with its rows: a retry records only the tasks it ran, so what
/// their dependencies left, and the dependencies themselves, are in the
/// runs before it.
/// The second is the run of the chain that is no longer recorded, if one
/// is not.
fn runs_before(store: &Store, run: &RunRow) -> Result<(Vec<RunRows>, Option<i64>), Error> {
    let mut runs = Vec::new();
    let mut next = run.retry_of;
    // A retry is of an older run, so this ends; the bound is for a
    // database edited by hand.
    while let Some(id) = next.filter(|_| runs.len() < 1000) {
        let Some(row) = store.run(id)? else {
            // Pruned: the retried tasks' rows name only the dependencies
            // their own retry ran.
            eprintln!(
                "taskrun: warning: run #{id}, which run #{} retried, is no longer recorded: \
                 the retried tasks run without what their other dependencies left in it, \
                 and are neither restored nor stored",
                runs.last().map_or(run.id, |(last, _)| *last)
            );
            return Ok((runs, Some(id)));
        };
        next = row.retry_of;
        runs.push((id, store.tasks(&row)?));
    }
    Ok((runs, None))
}

/// For each task of the retry's `plan`, its dependencies outside it (hard,
/// then soft), which the runs retried (`runs`, newest first) satisfied:
/// what each handed on for keys (as
/// [`Report::as_dependency`](crate::cache::Report::as_dependency) says
/// it, from its last attempt's row in the newest run that has one) and
/// the tree of what it left in `$TASKRUN_OUT`. So a retried task sees
/// what it would have seen in the run, and its key is the one it would
/// have had. Its dependencies are those of its row in the oldest run (a
/// retry's rows name only the dependencies it ran too).
fn earlier(plan: &Plan, runs: &[(i64, &[TaskRow])]) -> Vec<Vec<Earlier>> {
    let lasts: Vec<(i64, Vec<&TaskRow>)> = runs
        .iter()
        .map(|(run, rows)| (*run, last_attempts(rows)))
        .collect();
    // The newest row of `name`, and its run.
    let newest = |name: &str| {
        lasts.iter().find_map(|(run, rows)| {
            let row = rows.iter().find(|row| row.name == name)?;
            Some((*run, *row))
        })
    };
    let oldest = |name: &str| {
        lasts
            .iter()
            .rev()
            .find_map(|(_, rows)| rows.iter().find(|row| row.name == name).copied())
    };
    let planned = |name: &str| plan.tasks.iter().any(|task| task.name.value == name);
    plan.tasks
        .iter()
        .map(|task| {
            let Some(row) = oldest(&task.name.value) else {
                return Vec::new();
            };
            row.deps
                .iter()
                .chain(&row.soft_deps)
                .filter(|dep| !planned(dep))
                .map(|dep| {
                    let found = newest(dep);
                    let passed = found.map(|(_, row)| row).filter(|row| row.state.is_pass());
                    Earlier {
                        name: dep.clone(),
                        run: found.map_or(0, |(run, _)| run),
                        value: passed.and_then(|row| {
                            let cache = row.cache.as_ref()?;
                            matches!(cache.outcome, CacheOutcome::Hit | CacheOutcome::Stored).then(
                                || handed_on(&cache.key, cache.outputs.as_ref(), row.out.as_ref()),
                            )
                        }),
                        tree: passed.and_then(|row| row.out.clone()),
                    }
                })
                .collect()
        })
        .collect()
}

/// Which tasks of a run are retried, and why each other one that did not
/// pass is not.
#[derive(Debug)]
pub(super) struct Choice<'a> {
    /// In declaration order.
    pub(super) retried: Vec<&'a TaskRow>,
    /// Name and reason, in declaration order.
    pub(super) declined: Vec<(&'a str, String)>,
}

/// Chooses among `tasks` (the last attempt of each task of a run, in
/// declaration order) the ones to run again.
///
/// Every task that did not pass (a `cached` task passed) is a candidate. A task that failed or
/// timed out is put to `decide` (the retry policy); one that did not fail
/// by itself (skipped, canceled, never recorded) is not: whether it runs
/// again depends on what held it up. Then, whatever the order of the
/// file, a task runs again only if each of its dependencies either passed
/// or runs again too.
pub(super) fn choose<'a>(
    tasks: &[&'a TaskRow],
    decide: &mut dyn FnMut(&TaskRow) -> bool,
) -> Choice<'a> {
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, task)| (task.name.as_str(), i))
        .collect();
    let passed = |i: usize| tasks[i].state.is_pass();
    // `None`: runs again; `Some(why)`: does not. Passed tasks are settled.
    let mut verdict: Vec<Option<String>> = tasks
        .iter()
        .map(|task| {
            let failure = task.state.status().is_some_and(Status::is_failure);
            (failure && !decide(task)).then(|| "declined by should_retry".to_owned())
        })
        .collect();
    let mut changed = true;
    while changed {
        changed = false;
        for i in 0..tasks.len() {
            if passed(i) || verdict[i].is_some() {
                continue;
            }
            let blocker = tasks[i].deps.iter().find(|dep| {
                index
                    .get(dep.as_str())
                    .is_some_and(|&d| !passed(d) && verdict[d].is_some())
            });
            if let Some(dep) = blocker {
                verdict[i] = Some(format!("waits for {dep}"));
                changed = true;
            }
        }
    }
    let mut choice = Choice {
        retried: Vec::new(),
        declined: Vec::new(),
    };
    for (i, why) in verdict.into_iter().enumerate() {
        match why {
            _ if passed(i) => {}
            None => choice.retried.push(tasks[i]),
            Some(why) => choice.declined.push((tasks[i].name.as_str(), why)),
        }
    }
    choice
}

/// The plan of the tasks to retry, from their rows: dependencies outside
/// the retried set passed, and are satisfied. The command of an evaluated
/// task is its closure's description in `commands`, where it is there
/// (the script as it is now). The tasks come from the database, not a
/// file: their spans point into an empty source named after the run.
pub(super) fn plan_of(
    retried: &[&TaskRow],
    commands: &HashMap<&str, &str>,
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
    let among_retried = |deps: &[String]| -> Vec<Spanned<String>> {
        deps.iter()
            .filter(|dep| names.contains(&dep.as_str()))
            .map(|dep| Spanned::new(dep.clone(), span))
            .collect()
    };
    let respan = |items: &[Spanned<String>]| -> Vec<Spanned<String>> {
        items
            .iter()
            .map(|item| Spanned::new(item.value.clone(), span))
            .collect()
    };
    let set = TaskSet {
        origin,
        tasks: retried
            .iter()
            .map(|task| TaskSpec {
                name: Spanned::new(task.name.clone(), span),
                command: Spanned::new(
                    match (task.kind, commands.get(task.name.as_str())) {
                        (Kind::Rhai, Some(now)) => (*now).to_owned(),
                        _ => task.command.clone(),
                    },
                    span,
                ),
                after: among_retried(&task.deps),
                after_done: among_retried(&task.soft_deps),
                settings: Settings {
                    pool: task
                        .settings
                        .pool
                        .as_ref()
                        .map(|pool| Spanned::new(pool.value.clone(), span)),
                    // The declarations as the run recorded them, so that a
                    // retried task is checked and stored as it was.
                    cache: CacheSpec {
                        inputs: respan(&task.settings.cache.inputs),
                        outputs: respan(&task.settings.cache.outputs),
                        ..task.settings.cache.clone()
                    },
                    ..task.settings.clone()
                },
                kind: task.kind,
                desc: None,
            })
            .collect(),
        pools: original
            .pools
            .iter()
            .map(|(name, limit)| PoolSpec {
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

/// The retry policy `script` defines, if it does one. It sees the history
/// before the run it decides on (`recall`), as it did within that run.
fn policy(
    script: Arc<Script>,
    recall: Recall,
    sources: &Sources,
    color: ColorChoice,
) -> Option<Policy> {
    let policy = Policy::new(script, sources.clone(), stderr_style(color))?;
    Some(policy.recalling(Some(Arc::new(recall))))
}

/// The script of a recorded run, loaded again, with the tasks it makes
/// now.
struct RunScript {
    script: Arc<Script>,
    plan: Plan,
}

/// The format `run` read its task file in, if it says.
fn format_of(run: &RunRow) -> Option<FileFormat> {
    run.file_format.as_deref().and_then(FileFormat::parse)
}

/// The script of a recorded run, loaded again: with its task file, which
/// it may build on, or alone once the task file is gone. When it does not
/// load, that is an error if `needed` (evaluated tasks are retried, and
/// their closures are in it); otherwise the retry goes on without its
/// policy, and says so.
fn run_script(
    run: &RunRow,
    needed: bool,
    sources: &mut Sources,
) -> Result<Option<RunScript>, Error> {
    let Some(script) = &run.script else {
        return Ok(None);
    };
    let script = PathBuf::from(script);
    let taskfile = run.taskfile.clone().map(PathBuf::from);
    let options = match taskfile {
        Some(taskfile) if taskfile != script && taskfile.exists() => LoadOptions {
            file: taskfile,
            script: ScriptChoice::Given(script.clone()),
            // As the run read it; by its name for runs that did not say.
            format: format_of(run),
        },
        _ => LoadOptions {
            file: script.clone(),
            script: ScriptChoice::Without,
            format: None,
        },
    };
    match load::load(&options, sources) {
        Ok(loaded) => Ok(loaded.script.map(|loaded_script| RunScript {
            script: loaded_script,
            plan: loaded.plan,
        })),
        Err(error) if needed => Err(Error::RetryScript {
            run: run.id,
            why: format!("its script `{}` does not load: {error}", script.display()),
            help:
                "the evaluated tasks to retry are closures of that script, or code that may call \
                   its functions: restore it (and \
                   the task file) as they were, or fix them"
                    .to_owned(),
        }),
        Err(error) => {
            eprintln!(
                "warning: the run's script `{}` does not load ({error}); retrying without \
                 its should_retry policy (--policy FILE names one)",
                script.display()
            );
            Ok(None)
        }
    }
}

/// A policy script named with --policy, loaded on its own.
fn policy_script(run: i64, path: &Path, sources: &mut Sources) -> Result<Arc<Script>, Error> {
    let script = load::load_script(path, sources)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Exit;
    use crate::record::TaskState;

    /// A row of `name` in `state`, waiting for `deps`.
    fn row(position: i64, name: &str, state: TaskState, deps: &[&str]) -> TaskRow {
        TaskRow {
            exit: state.status().and_then(|status| match status {
                Status::Passed => Some(Exit::Code(0)),
                Status::Failed => Some(Exit::Code(1)),
                _ => None,
            }),
            deps: deps.iter().map(|dep| (*dep).to_owned()).collect(),
            ..crate::testing::task_row(position, name, state)
        }
    }

    const PASSED: TaskState = TaskState::Ended(Status::Passed);
    const CACHED: TaskState = TaskState::Ended(Status::Cached);
    const FAILED: TaskState = TaskState::Ended(Status::Failed);
    const SKIPPED: TaskState = TaskState::Ended(Status::Skipped);

    fn names(choice: &Choice<'_>) -> (Vec<String>, Vec<String>) {
        (
            choice
                .retried
                .iter()
                .map(|task| task.name.clone())
                .collect(),
            choice
                .declined
                .iter()
                .map(|(name, why)| format!("{name}: {why}"))
                .collect(),
        )
    }

    #[test]
    fn without_a_policy_everything_that_did_not_pass_runs_again() {
        let rows = [
            row(0, "a", PASSED, &[]),
            row(1, "b", FAILED, &["a"]),
            row(2, "c", SKIPPED, &["b"]),
        ];
        let tasks: Vec<&TaskRow> = rows.iter().collect();
        let choice = choose(&tasks, &mut |_| true);
        assert_eq!(names(&choice), (vec!["b".into(), "c".into()], vec![]));
    }

    #[test]
    fn a_cached_task_passed_and_is_not_run_again() {
        let rows = [
            row(0, "gen", CACHED, &[]),
            row(1, "build", FAILED, &["gen"]),
            row(2, "test", SKIPPED, &["build"]),
            row(3, "docs", CACHED, &["gen"]),
        ];
        let tasks: Vec<&TaskRow> = rows.iter().collect();
        let mut asked = Vec::new();
        let choice = choose(&tasks, &mut |task| {
            asked.push(task.name.clone());
            true
        });
        assert_eq!(asked, ["build"]);
        assert_eq!(
            names(&choice),
            (vec!["build".into(), "test".into()], vec![])
        );
    }

    #[test]
    fn the_policy_decides_failures_only_and_skips_follow_what_held_them_up() {
        let rows = [
            row(0, "net", FAILED, &[]),
            row(1, "deploy", SKIPPED, &["net"]),
            row(2, "lint", FAILED, &[]),
            row(3, "docs", SKIPPED, &["lint"]),
        ];
        let tasks: Vec<&TaskRow> = rows.iter().collect();
        let mut asked = Vec::new();
        let choice = choose(&tasks, &mut |task| {
            asked.push(task.name.clone());
            task.name == "net"
        });
        assert_eq!(asked, ["net", "lint"], "skipped tasks are not asked");
        assert_eq!(
            names(&choice),
            (
                vec!["net".into(), "deploy".into()],
                vec![
                    "lint: declined by should_retry".into(),
                    "docs: waits for lint".into()
                ]
            )
        );
    }

    #[test]
    fn the_order_of_the_file_does_not_matter() {
        // `deploy` is declared before the task it waits for, and that
        // task before the one it waits for.
        let rows = [
            row(0, "deploy", SKIPPED, &["build"]),
            row(1, "build", SKIPPED, &["fetch"]),
            row(2, "fetch", FAILED, &[]),
        ];
        let tasks: Vec<&TaskRow> = rows.iter().collect();
        let choice = choose(&tasks, &mut |_| false);
        assert_eq!(
            names(&choice),
            (
                vec![],
                vec![
                    "deploy: waits for build".into(),
                    "build: waits for fetch".into(),
                    "fetch: declined by should_retry".into()
                ]
            )
        );
        let choice = choose(&tasks, &mut |_| true);
        assert_eq!(names(&choice).0, ["deploy", "build", "fetch"]);
    }

    #[test]
    fn a_retry_plan_keeps_only_the_dependencies_that_run_again() {
        let rows = [
            row(0, "a", PASSED, &[]),
            row(1, "b", FAILED, &["a"]),
            row(2, "c", SKIPPED, &["a", "b"]),
        ];
        let tasks: Vec<&TaskRow> = rows.iter().collect();
        let choice = choose(&tasks, &mut |_| true);
        let run = crate::testing::run_row(7);
        let mut sources = Sources::new();
        let plan = plan_of(
            &choice.retried,
            &HashMap::new(),
            &run,
            Path::new("t.db"),
            &mut sources,
        )
        .unwrap();
        let names: Vec<&str> = plan
            .tasks
            .iter()
            .map(|task| task.name.value.as_str())
            .collect();
        assert_eq!(names, ["b", "c"]);
        assert_eq!(plan.deps, [vec![], vec![0]], "`a` passed: satisfied");
    }

    #[test]
    fn a_retried_task_keeps_its_cache_declarations() {
        let mut build = row(0, "build", FAILED, &[]);
        let nowhere = Span::new(crate::source::SourceId::default(), 0, 0);
        build.settings.cache = CacheSpec {
            inputs: vec![Spanned::new("src/*.c".to_owned(), nowhere)],
            outputs: vec![Spanned::new("build/app".to_owned(), nowhere)],
            uses_env: vec!["CC".to_owned()],
            tools: vec!["cc".to_owned()],
            off: false,
        };
        let run = crate::testing::run_row(7);
        let mut sources = Sources::new();
        let plan = plan_of(
            &[&build],
            &HashMap::new(),
            &run,
            Path::new("t.db"),
            &mut sources,
        )
        .unwrap();
        let cache = &plan.tasks[0].settings.cache;
        assert_eq!(cache.inputs[0].value, "src/*.c");
        assert_eq!(cache.outputs[0].value, "build/app");
        assert_eq!(
            cache.inputs[0].span, plan.tasks[0].name.span,
            "the run's source"
        );
        assert_eq!(
            (&cache.uses_env[..], &cache.tools[..]),
            (&["CC".to_owned()][..], &["cc".to_owned()][..])
        );
        assert!(cache.cacheable());
    }
}
