//! `taskrun history` and `taskrun show`: recorded runs, read back.

use std::path::Path;

use crate::cache::key::Manifest;
use crate::cache::store::Store as ObjectStore;
use crate::cache::tree::{EntryKind, OutputTree};
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
    /// What of the run (or task) to show.
    pub(crate) view: View,
    /// Where to write its trace (`-`: standard output).
    pub(crate) trace: Option<&'a Path>,
    /// Where to write its HTML page (`-`: standard output).
    pub(crate) html: Option<&'a Path>,
    /// Where `why` reads key manifests (`None`: the store beside the
    /// database).
    pub(crate) store: Option<&'a Path>,
}

/// What `taskrun show` shows besides the run or task itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum View {
    /// The run, or the task with its output.
    #[default]
    Plain,
    /// The run as a JUnit report (`--junit`).
    Junit,
    /// Why the task ran or was restored (`--why`).
    Why,
    /// The files the task stored (`--outputs`).
    Outputs,
}

/// `taskrun show [RUN] [--task NAME]`.
pub(crate) fn show(
    db: &Path,
    run: Option<RunRef>,
    task: Option<&str>,
    ShowAs {
        json,
        view,
        trace,
        html,
        store: objects,
    }: ShowAs<'_>,
) -> Result<u8, Error> {
    let store = Store::open(db)?;
    let run = find_run(&store, db, run.unwrap_or(RunRef::Latest))?;
    if let (View::Outputs, Some(name)) = (view, task) {
        let (_, trees) = stored_outputs(&store, db, &run, name, objects)?;
        print_out(&outputs_text(&trees, json))?;
        return Ok(exit_code::SUCCESS);
    }
    if let (View::Why, Some(name)) = (view, task) {
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
        None if view == View::Junit => junit_report(db, run.id)?,
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

/// Where a stored tree of a task's files was made: in its `$TASKRUN_OUT`,
/// or in the workspace (its declared `[outputs:]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Out,
    Workspace,
}

impl Place {
    /// Its name in `show --outputs --json`.
    fn as_str(self) -> &'static str {
        match self {
            Place::Out => "out",
            Place::Workspace => "workspace",
        }
    }
}

/// The store, and the stored trees of the files task `name` of `run`
/// made (what it left in `$TASKRUN_OUT` first, then its declared
/// outputs), from the store at `objects` (default: beside `db`).
fn stored_outputs(
    store: &Store,
    db: &Path,
    run: &RunRow,
    name: &str,
    objects: Option<&Path>,
) -> Result<(ObjectStore, Vec<(Place, OutputTree)>), Error> {
    let Some(task) = store.task(run, name)? else {
        return Err(unknown_task(store, run, name)?);
    };
    let declared = task.cache.as_ref().and_then(|cache| cache.outputs.as_ref());
    let digests: Vec<(Place, &String)> = [
        (Place::Out, task.out.as_ref()),
        (Place::Workspace, declared),
    ]
    .into_iter()
    .filter_map(|(place, digest)| Some((place, digest?)))
    .collect();
    if digests.is_empty() {
        let help = if task.state.is_pass() {
            "nothing it left in $TASKRUN_OUT or declared in [outputs:] was stored: it left \
             nothing, or why not is in its standard error (`show RUN --task NAME`) or `--why`"
        } else {
            "it did not pass: only a pass's files are stored"
        };
        return Err(Error::NoStoredOutputs {
            run: run.id,
            task: name.to_owned(),
            help: help.to_owned(),
        });
    }
    let objects = ObjectStore::new(match objects {
        Some(dir) => dir.to_owned(),
        None => super::run::store_beside(db),
    });
    let mut trees = Vec::new();
    for (place, digest) in digests {
        let gone = |why: String| Error::ObjectGone {
            run: run.id,
            task: name.to_owned(),
            what: match place {
                Place::Out => "the list of what it left in $TASKRUN_OUT".to_owned(),
                Place::Workspace => "the list of outputs".to_owned(),
            },
            why,
        };
        let bytes = objects
            .peek(digest)
            .map_err(|error| gone(error.to_string()))?;
        let tree = String::from_utf8(bytes)
            .ok()
            .and_then(|text| OutputTree::decode(&text))
            .ok_or_else(|| gone("it is damaged".to_owned()))?;
        trees.push((place, tree));
    }
    Ok((objects, trees))
}

/// The files of `trees`, a line each (`path  size  mode`), under a
/// heading for each place when there are two, or as JSON.
fn outputs_text(trees: &[(Place, OutputTree)], json: bool) -> String {
    let mut lines = Vec::new();
    let mut values = Vec::new();
    for (place, tree) in trees {
        if trees.len() > 1 {
            lines.push(match place {
                Place::Out => "In $TASKRUN_OUT:".to_owned(),
                Place::Workspace => "Declared outputs:".to_owned(),
            });
        }
        let before = lines.len();
        let indent = if trees.len() > 1 { "  " } else { "" };
        for entry in tree.entries() {
            let path = entry.path.display().to_string();
            let place = place.as_str();
            match &entry.kind {
                EntryKind::File { size, mode, digest } => {
                    lines.push(format!(
                        "{indent}{path}  {}  {:04o}",
                        history::size(i64::try_from(*size).unwrap_or(i64::MAX)),
                        mode
                    ));
                    values.push(serde_json::json!({
                        "path": path, "kind": "file", "size": size, "mode": mode,
                        "sha256": digest, "in": place,
                    }));
                }
                EntryKind::Symlink { target } => {
                    lines.push(format!("{indent}{path} -> {}", target.display()));
                    values.push(serde_json::json!({
                        "path": path, "kind": "symlink",
                        "target": target.display().to_string(), "in": place,
                    }));
                }
                EntryKind::Dir { .. } => {}
            }
        }
        if lines.len() == before {
            lines.push(format!("{indent}(no files)"));
        }
    }
    if json {
        format!("{}\n", serde_json::Value::Array(values))
    } else {
        lines.join("\n") + "\n"
    }
}

/// `taskrun cat RUN TASK PATH`.
pub(crate) fn cat(
    db: &Path,
    run: RunRef,
    name: &str,
    path: &str,
    objects: Option<&Path>,
) -> Result<u8, Error> {
    let store = Store::open(db)?;
    let run = find_run(&store, db, run)?;
    let (objects, trees) = stored_outputs(&store, db, &run, name, objects)?;
    let wanted = crate::cache::pattern::normalize(path);
    // What it left in $TASKRUN_OUT comes first.
    let files: Vec<&crate::cache::tree::Entry> = trees
        .iter()
        .flat_map(|(_, tree)| tree.entries())
        .filter(|entry| matches!(entry.kind, EntryKind::File { .. }))
        .collect();
    let Some(EntryKind::File { digest, .. }) = files
        .iter()
        .find(|entry| entry.path.to_string_lossy() == wanted)
        .map(|entry| &entry.kind)
    else {
        let names: Vec<String> = files
            .iter()
            .map(|entry| entry.path.display().to_string())
            .collect();
        let help = match did_you_mean(&wanted, names.iter().map(String::as_str)) {
            Some(close) => format!("did you mean `{close}`?"),
            None if names.is_empty() => "it stored no files".to_owned(),
            None => format!("its files are {}", names.join(", ")),
        };
        return Err(Error::NotAnOutput {
            run: run.id,
            task: name.to_owned(),
            path: path.to_owned(),
            help,
        });
    };
    let bytes = objects.peek(digest).map_err(|error| Error::ObjectGone {
        run: run.id,
        task: name.to_owned(),
        what: format!("`{wanted}`"),
        why: error.to_string(),
    })?;
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, &bytes)
        .and_then(|()| std::io::Write::flush(&mut out))
        .map_err(|source| Error::CannotWrite {
            path: std::path::PathBuf::from("standard output"),
            source,
        })?;
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
            .peek(&key.to_owned())
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
