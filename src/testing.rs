//! Helpers shared by the unit tests.

use crate::error::GraphError;
use crate::event::Counts;
use crate::graph::Plan;
use crate::record::{NewRun, RunRow, RunStatus, Store, StoredOutput, TaskRow, TaskState};
use crate::source::{Source, Sources};
use crate::task::TaskSet;
use crate::task::{Kind, Settings};
use crate::taskfile;

/// A run of `/p/tasks.txt` started now, two jobs at a time.
pub(crate) fn new_run() -> NewRun {
    NewRun {
        taskfile: "/p/tasks.txt".to_owned(),
        taskfile_relative: Some("tasks.txt".to_owned()),
        script: None,
        dir: std::path::PathBuf::from("/p"),
        jobs: 2,
        retry_of: None,
        started_at: std::time::SystemTime::now(),
        executor: "local",
        file_format: Some("lines"),
    }
}

/// Parses `text` as `tasks.txt` (which must have no parse errors) and
/// builds its plan.
pub(crate) fn build(text: &str) -> Result<Plan, Vec<GraphError>> {
    let mut sources = Sources::new();
    let source = Source::from_bytes("tasks.txt", text.as_bytes());
    let id = sources.add(source.clone());
    let parsed = taskfile::parse(&source, id);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    Plan::build(TaskSet {
        origin: id,
        tasks: parsed.tasks,
        pools: parsed.pools,
    })
}

/// The plan of a valid task file.
pub(crate) fn plan(text: &str) -> Plan {
    build(text).unwrap()
}

/// A new history database in a temporary directory (kept while the
/// directory is).
pub(crate) fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(&dir.path().join("t.db")).unwrap();
    (dir, store)
}

/// A task row of `name` in `state`, with nothing else recorded.
pub(crate) fn task_row(position: i64, name: &str, state: TaskState) -> TaskRow {
    TaskRow {
        out: None,
        name: name.to_owned(),
        command: format!("run {name}"),
        state,
        exit: None,
        reason: None,
        started_at: None,
        finished_at: None,
        duration: None,
        deps: Vec::new(),
        soft_deps: Vec::new(),
        position,
        attempt: 1,
        stdout: StoredOutput::default(),
        stderr: StoredOutput::default(),
        settings: Settings::default(),
        kind: Kind::Shell,
        slurm: None,
        lane: None,
        cache: None,
    }
}

/// A completed run row with the id `id`, with nothing else recorded.
pub(crate) fn run_row(id: i64) -> RunRow {
    RunRow {
        id,
        started_at: 0,
        finished_at: None,
        total_tasks: 0,
        counts: Counts::default(),
        status: RunStatus::Completed,
        taskfile: None,
        taskfile_relative: None,
        dir: None,
        duration: None,
        retry_of: None,
        signal: None,
        jobs: None,
        note: None,
        script: None,
        file_format: None,
        pools: Vec::new(),
        host: None,
        pid: None,
    }
}
