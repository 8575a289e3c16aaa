//! `taskrun prune` and run numbers: old runs go with their task rows, a
//! running run is never deleted, and a number once given is never given
//! again, however runs were deleted.

use std::time::Duration;

use crate::harness::{Test, wait_for_processes};
use crate::history::sqlite3;

/// Task rows that belong to no run.
const ORPHANS: &str = "SELECT COUNT(*) FROM tasks WHERE run_id NOT IN (SELECT id FROM runs)";

/// A test directory with `runs` runs recorded, run #N of a task file
/// whose tasks are named `rN_a` and `rN_b`.
fn with_runs(runs: usize) -> Test {
    let test = Test::new();
    for run in 1..=runs {
        let test = test.with_args(&[]).taskfile(format!(
            "r{run}_a: echo {run}\nr{run}_b: true [after:r{run}_a]\n"
        ));
        test.exec(&["run", "tasks.txt", "--quiet"]);
    }
    test
}

#[test]
fn a_run_number_is_never_given_again() {
    let test = with_runs(3);
    let db = test.path().join("taskrun.db");
    // Deleted by hand, as a user's own tool might: its task rows stay.
    if sqlite3(
        &db,
        "PRAGMA foreign_keys = OFF; DELETE FROM runs WHERE id = 3",
    )
    .is_none()
    {
        return;
    }
    test.with_args(&["run", "tasks.txt", "--quiet"])
        .taskfile("new: true\n")
        .status(0)
        .stdout_ends_with("Results saved to: taskrun.db (run #4)\n")
        .run();
    test.with_args(&["show", "4"])
        .status(0)
        .stdout_contains("Tasks:\n  new ... PASSED (…)\n\n1 passed, 0 failed, 0 skipped\n")
        .stdout_lacks("r3_")
        .run();
    test.with_args(&["show", "3"])
        .status(2)
        .stderr_contains("no run #3 in `taskrun.db`")
        .run();
}

#[test]
fn prune_keep_leaves_the_newest_runs_and_no_task_rows_of_others() {
    let test = with_runs(3);
    // A retry of run #3 is run #4; it keeps that number once #3 is gone.
    test.with_args(&["run", "tasks.txt", "--quiet"])
        .taskfile("bad: false\n")
        .status(1)
        .run();
    test.with_args(&["retry", "4", "--quiet"]).status(1).run();
    test.with_args(&["prune", "--keep", "1"])
        .status(0)
        .stdout("Deleted 4 runs (#1–#4) and their 7 task rows.\n")
        .run();
    test.with_args(&["history"])
        .status(0)
        .stdout_contains("Recent runs:\n  #5 | ")
        .stdout_ends_with(" | retry of #4\n")
        .run();
    let db = test.path().join("taskrun.db");
    let Some(runs) = sqlite3(&db, "SELECT id FROM runs") else {
        return;
    };
    assert_eq!(runs, "5\n");
    assert_eq!(sqlite3(&db, ORPHANS).unwrap(), "0\n");
    assert_eq!(sqlite3(&db, "SELECT COUNT(*) FROM tasks").unwrap(), "1\n");
    // Nothing more to do, and the next run is #6.
    test.with_args(&["prune", "--keep", "1"])
        .status(0)
        .stdout("Nothing to prune: 1 run kept.\n")
        .run();
    test.with_args(&["run", "tasks.txt", "--quiet"])
        .status(1)
        .stdout_contains("(run #6)")
        .run();
}

#[test]
fn prune_older_than_goes_by_the_start_and_a_dry_run_deletes_nothing() {
    let test = with_runs(3);
    let db = test.path().join("taskrun.db");
    // Runs #1 and #2 as if they had started 40 and 31 days ago.
    let aged = sqlite3(
        &db,
        "UPDATE runs SET started_at = started_at - 40 * 86400 WHERE id = 1; \
         UPDATE runs SET started_at = started_at - 31 * 86400 WHERE id = 2",
    );
    if aged.is_none() {
        return;
    }
    let listed = test
        .with_args(&["prune", "--older-than", "30d", "--dry-run"])
        .status(0)
        .stdout_starts_with("Would delete 2 runs (#1–#2) and their 4 task rows:\n  #2 | ")
        .run();
    assert_eq!(listed.stdout.lines().count(), 3, "{}", listed.stdout);
    assert_eq!(sqlite3(&db, "SELECT COUNT(*) FROM runs").unwrap(), "3\n");
    test.with_args(&["prune", "--older-than", "5w"])
        .status(0)
        .stdout("Deleted 1 run (#1) and its 2 task rows.\n")
        .run();
    test.with_args(&["prune", "--older-than", "30d", "--vacuum"])
        .status(0)
        .stdout_starts_with("Deleted 1 run (#2) and its 2 task rows.\nCompacted `taskrun.db`: ")
        .run();
    assert_eq!(sqlite3(&db, "SELECT id FROM runs").unwrap(), "3\n");
    assert_eq!(sqlite3(&db, ORPHANS).unwrap(), "0\n");
}

#[test]
fn prune_never_deletes_a_running_run() {
    let test = with_runs(1);
    let running = test
        .with_args(&["run", "tasks.txt", "--quiet"])
        .taskfile("hold: sleep 982.61\n")
        .status(130);
    let child = running.spawn();
    wait_for_processes(&["sleep", "982.61"], 1, Duration::from_secs(10));
    test.with_args(&["prune", "--keep", "0"])
        .status(0)
        .stdout_starts_with("Kept run #2: it is still running (taskrun process ")
        .stdout_ends_with("Deleted 1 run (#1) and its 2 task rows.\n")
        .run();
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) only sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    running.wait(child);
    // Over now, it can go.
    test.with_args(&["prune", "--keep", "0"])
        .status(0)
        .stdout("Deleted 1 run (#2) and its 1 task row.\n")
        .run();
}

#[test]
fn prune_without_a_database_creates_none() {
    let test = Test::new();
    test.with_args(&["prune", "--keep", "3"])
        .status(0)
        .stdout("No runs recorded yet: `taskrun.db` does not exist.\n")
        .run();
    assert!(!test.path().join("taskrun.db").exists());
}

#[test]
fn prune_takes_exactly_one_rule() {
    let test = Test::new();
    test.with_args(&["prune"])
        .status(2)
        .stderr_contains("--keep <N>|--older-than <AGE>")
        .run();
    test.with_args(&["prune", "--keep", "1", "--older-than", "1d"])
        .status(2)
        .stderr_contains("cannot be used with")
        .run();
    test.with_args(&["prune", "--older-than", "3y"])
        .status(2)
        .stderr_contains("unknown unit `y`")
        .run();
    assert!(!test.path().join("taskrun.db").exists());
}
