//! `taskrun history` and `taskrun show`: recorded runs, read back.

use std::path::Path;

use crate::cache::key::Manifest;
use crate::cache::why::{Attempt, Earlier, Why};
use crate::cli::RunRef;
use crate::error::{Error, did_you_mean};
use crate::exit_code;
use crate::record::{RunRow, Store, TaskRow, last_attempts};
use crate::report::{self, Timeline, history};

use super::print_out;
use super::run::refuse_overwriting;

/// `taskrun history`.
pub(crate) fn history(db: &Path, limit: usize, json: bool) -> Result<u8, Error> {
    if !db.exists() {
        if json {
            print_out(&history::history_json(&[]))?;
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

/// How `taskrun show` shows a run: as text, or as one of its reports.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ShowAs<'a> {
    pub(crate) json: bool,
    pub(crate) junit: bool,
    /// Where to write its trace (`-`: standard output).
    pub(crate) trace: Option<&'a Path>,
    /// Where to write its HTML page (`-`: standard output).
    pub(crate) html: Option<&'a Path>,
    /// With a task: explain what the cache did for it.
    pub(crate) why: bool,
    /// Where `why` reads key manifests (`None`: the store beside the
    /// database).
    pub(crate) store: Option<&'a Path>,
}

/// `taskrun show [RUN] [--task NAME]`.
pub(crate) fn show(
    db: &Path,
    run: Option<RunRef>,
    task: Option<&str>,
    ShowAs {
        json,
        junit,
        trace,
        html,
        why,
        store: objects,
    }: ShowAs<'_>,
) -> Result<u8, Error> {
    let store = Store::open(db)?;
    let run = find_run(&store, db, run.unwrap_or(RunRef::Latest))?;
    if let (true, Some(name)) = (why, task) {
        let text = explain(&store, db, &run, name, objects, json)?;
        print_out(&text)?;
        return Ok(exit_code::SUCCESS);
    }
    if trace.is_some() || html.is_some() {
        let files = [
            (trace, "the trace", trace_report as fn(&Path, i64) -> _),
            (html, "the HTML report", html_report),
        ];
        let reports = files
            .iter()
            .filter_map(|&(path, what, _)| Some((path?.to_owned(), what)))
            .collect();
        refuse_overwriting(db, reports)?;
        for (path, what, make) in files {
            let Some(path) = path else { continue };
            let text = make(db, run.id)?;
            if path.as_os_str() == "-" {
                print_out(&text)?;
            } else {
                std::fs::write(path, text).map_err(|source| Error::CannotWrite {
                    path: path.to_owned(),
                    source,
                })?;
                eprintln!("Wrote {what} of run #{} to {}", run.id, path.display());
            }
        }
        return Ok(exit_code::SUCCESS);
    }
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
                return Err(unknown_task(&store, &run, name)?);
            };
            if json {
                // Its earlier attempts, without their output, then this one.
                let rows = store.tasks(&run)?;
                let mut attempts: Vec<&TaskRow> = rows
                    .iter()
                    .filter(|row| row.position == task.position && row.attempt < task.attempt)
                    .collect();
                attempts.push(&task);
                history::task_json(&run, &attempts)
            } else {
                history::task(&run, &task)
            }
        }
    };
    print_out(&text)?;
    Ok(exit_code::SUCCESS)
}

/// The error for a task `name` that run `run` does not have, with the
/// names it does have.
fn unknown_task(store: &Store, run: &RunRow, name: &str) -> Result<Error, Error> {
    let tasks = store.tasks(run)?;
    let names: Vec<&str> = last_attempts(&tasks)
        .into_iter()
        .map(|task| task.name.as_str())
        .collect();
    let help = match did_you_mean(name, names.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!("its tasks are {}", names.join(", ")),
    };
    Ok(Error::UnknownRunTask {
        run: run.id,
        name: name.to_owned(),
        help,
    })
}

/// `show RUN --task NAME --why`: what the cache did for the task, and
/// what changed since its last stored pass.
fn explain(
    store: &Store,
    db: &Path,
    run: &RunRow,
    name: &str,
    objects: Option<&Path>,
    json: bool,
) -> Result<String, Error> {
    let Some(row) = store.cache_row(run.id, name)? else {
        if store.task(run, name)?.is_none() {
            return Err(unknown_task(store, run, name)?);
        }
        let text = format!(
            "{name} took no part in the cache in run #{}: it declares no [inputs:] or \
             [outputs:], says [cache:no], or the run had --no-cache\n",
            run.id
        );
        return Ok(if json {
            format!(
                "{}\n",
                serde_json::json!({"task": name, "run": run.id, "outcome": null})
            )
        } else {
            text
        });
    };
    let objects = crate::cache::store::Store::new(match objects {
        Some(dir) => dir.to_owned(),
        None => super::run::store_beside(db),
    });
    let manifest = |key: &str| {
        objects
            .read(&key.to_owned())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| Manifest::parse(&text))
    };
    let earlier = if row.outcome == "hit" {
        None
    } else {
        store.last_stored(name, row.task)?
    };
    let why = Why::new(
        Attempt {
            task: name.to_owned(),
            key: row.key.clone(),
            outcome: row.outcome.clone(),
            reason: row.reason.clone(),
            source: row.source,
        },
        manifest(&row.key).as_ref(),
        earlier.as_ref().map(|earlier| Earlier {
            run: earlier.run,
            key: earlier.key.clone(),
        }),
        earlier
            .as_ref()
            .and_then(|earlier| manifest(&earlier.key))
            .as_ref(),
    );
    Ok(if json {
        let mut value = why.json();
        value["run"] = serde_json::json!(run.id);
        format!("{value}\n")
    } else {
        why.text()
    })
}

/// The run `run` names in the database at `db`.
pub(super) fn find_run(store: &Store, db: &Path, run: RunRef) -> Result<RunRow, Error> {
    let latest = store.latest_run()?;
    let id = match (run, latest) {
        (_, None) => {
            return Err(Error::NoRuns {
                path: db.to_owned(),
            });
        }
        (RunRef::Latest, Some(latest)) => latest,
        (RunRef::Id(id), Some(_)) => id,
        (RunRef::Back(back), Some(_)) => match store.run_before_latest(back)? {
            Some(id) => id,
            None => {
                return Err(Error::NoRunBack {
                    back,
                    runs: store.run_count()?,
                    path: db.to_owned(),
                });
            }
        },
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

/// The JUnit XML report of a recorded run.
pub(super) fn junit_report(db: &Path, run_id: i64) -> Result<String, Error> {
    let store = Store::open(db)?;
    let run = find_run(&store, db, RunRef::Id(run_id))?;
    Ok(report::junit(&run, &store.tasks_with_output(&run)?))
}

/// The Chrome trace of a recorded run.
pub(super) fn trace_report(db: &Path, run_id: i64) -> Result<String, Error> {
    let store = Store::open(db)?;
    let run = find_run(&store, db, RunRef::Id(run_id))?;
    let tasks = store.tasks(&run)?;
    Ok(report::trace(&Timeline::of(&run, &tasks)))
}

/// The HTML page of a recorded run.
pub(super) fn html_report(db: &Path, run_id: i64) -> Result<String, Error> {
    let store = Store::open(db)?;
    let run = find_run(&store, db, RunRef::Id(run_id))?;
    let tasks = store.tasks_with_output(&run)?;
    Ok(report::html(&Timeline::of(&run, &tasks), &tasks))
}
