//! The history database: what `run` records, what `history`, `show` and
//! `retry` make of it, and how bad databases are refused untouched.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::harness::{Test, assert_contains, wait_for_processes};

const FAILING: &str = "compile: echo compiling; echo 'main.c:3: error' >&2; exit 1\n\
                       link: echo linking [after:compile]\n\
                       docs: echo docs\n";

/// The sqlite3 command-line client, as a user's own tools would read the
/// database; `None` (with a note) where it is not installed.
pub(crate) fn sqlite3(db: &Path, sql: &str) -> Option<String> {
    let Ok(output) = Command::new("sqlite3").arg(db).arg(sql).output() else {
        eprintln!("skipped: the sqlite3 client is not installed");
        return None;
    };
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn with_failed_run() -> Test {
    let test = Test::new().taskfile(FAILING);
    test.with_args(&["run", "tasks.txt", "--jobs", "1"])
        .status(1)
        .stdout_ends_with("Results saved to: taskrun.db (run #1)\n")
        .run();
    test
}

#[test]
fn schema_has_the_specification_columns_as_sqlite3_sees_them() {
    let test = with_failed_run();
    let db = test.path().join("taskrun.db");
    let Some(runs) = sqlite3(&db, "SELECT name, type FROM pragma_table_info('runs')") else {
        return;
    };
    assert!(
        runs.starts_with(
            "id|INTEGER\nstarted_at|INTEGER\nfinished_at|INTEGER\ntotal_tasks|INTEGER\n\
             passed|INTEGER\nfailed|INTEGER\nskipped|INTEGER\n"
        ),
        "{runs}"
    );
    for extra in [
        "status|TEXT",
        "taskfile|TEXT",
        "timeouts|INTEGER",
        "retry_of|INTEGER",
    ] {
        assert_contains(&runs, extra);
    }
    let tasks = sqlite3(&db, "SELECT name, type FROM pragma_table_info('tasks')").unwrap();
    assert!(
        tasks.starts_with(
            "id|INTEGER\nrun_id|INTEGER\nname|TEXT\ncommand|TEXT\nstatus|TEXT\n\
             exit_code|INTEGER\nstarted_at|INTEGER\nfinished_at|INTEGER\nduration_ms|INTEGER\n\
             stdout|TEXT\nstderr|TEXT\n"
        ),
        "{tasks}"
    );
    for extra in [
        "deps|TEXT",
        "attempt|INTEGER",
        "stdout_truncated|INTEGER",
        "signal|INTEGER",
        "job_id|TEXT",
        "step_id|INTEGER",
        "node|TEXT",
    ] {
        assert_contains(&tasks, extra);
    }
    assert_eq!(sqlite3(&db, "PRAGMA user_version").unwrap(), "15\n");
    assert_eq!(sqlite3(&db, "PRAGMA journal_mode").unwrap(), "wal\n");
    let indexes = sqlite3(
        &db,
        "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name",
    )
    .unwrap();
    assert_eq!(
        indexes,
        "runs_by_status\ntask_cache_by_key\ntask_cache_by_name\ntasks_by_name\ntasks_by_run\n\
         tasks_history\n"
    );

    let run = sqlite3(
        &db,
        "SELECT total_tasks, passed, failed, skipped, status, typeof(started_at), \
         finished_at >= started_at, retry_of IS NULL FROM runs",
    )
    .unwrap();
    assert_eq!(run, "3|1|1|1|completed|integer|1|1\n");
    let rows = sqlite3(
        &db,
        "SELECT name, status, coalesce(exit_code, 'NULL'), stdout, stderr, deps, attempt, \
         coalesce(reason, '') FROM tasks ORDER BY position",
    )
    .unwrap();
    assert_eq!(
        rows,
        "compile|failed|1|compiling\n|main.c:3: error\n||1|\n\
         link|skipped|NULL|||compile|1|dependency failed: compile\n\
         docs|passed|0|docs\n|||1|\n"
    );
}

#[test]
fn history_lists_runs_newest_first() {
    let test = with_failed_run();
    test.exec(&["run", "tasks.txt", "--task", "docs", "--quiet"]);
    // The last column is the run's duration.
    test.with_args(&["history"])
        .status(0)
        .stdout(
            "Recent runs:\n\
             \x20 #2 | YYYY-MM-DD hh:mm:ss | 1 passed, 0 failed, 0 skipped | …\n\
             \x20 #1 | YYYY-MM-DD hh:mm:ss | 1 passed, 1 failed, 1 skipped | …\n",
        )
        .run();
    test.with_args(&["history", "--limit", "1"])
        .stdout(
            "Recent runs:\n\
             \x20 #2 | YYYY-MM-DD hh:mm:ss | 1 passed, 0 failed, 0 skipped | …\n",
        )
        .run();
}

#[test]
fn history_without_a_database_says_so() {
    let test = Test::new();
    test.with_args(&["history"])
        .status(0)
        .stdout("No runs recorded yet: `taskrun.db` does not exist.\n")
        .run();
    assert!(
        !test.path().join("taskrun.db").exists(),
        "reading creates nothing"
    );
    test.with_args(&["history", "--json"])
        .stdout("{\n  \"schema_version\": 1,\n  \"runs\": []\n}\n")
        .run();
}

#[test]
fn show_run_and_task_as_in_the_specification() {
    let test = with_failed_run();
    let output = test
        .with_args(&["show", "1"])
        .status(0)
        .stdout(
            "Run #1 (YYYY-MM-DD hh:mm:ss)\n\
             Task file: [DIR]/tasks.txt\n\
             Duration: …\n\
             \n\
             Tasks:\n\
             \x20 compile ... FAILED (…)\n\
             \x20 link ...... SKIPPED (dependency failed: compile)\n\
             \x20 docs ...... PASSED (…)\n\
             \n\
             1 passed, 1 failed, 1 skipped\n",
        )
        .run();
    test.with_args(&["show", "1", "--task", "compile"])
        .status(0)
        .stdout(
            "Task: compile\n\
             Run: #1\n\
             Command: echo compiling; echo 'main.c:3: error' >&2; exit 1\n\
             Status: FAILED (exit code 1)\n\
             Started: YYYY-MM-DD hh:mm:ss\n\
             Duration: …\n\
             \n\
             --- stdout ---\n\
             compiling\n\
             \n\
             --- stderr ---\n\
             main.c:3: error\n",
        )
        .run();
    test.with_args(&["show", "last", "-t", "link"])
        .stdout_contains("After: compile\nStatus: SKIPPED (dependency failed: compile)\n")
        .run();
    // `show` alone is the latest run.
    assert_eq!(test.exec(&["show"]).stdout, output.stdout);
}

#[test]
fn show_reports_truncation_and_signals() {
    let test = Test::new()
        .taskfile("big: seq 1 100000; exit 0\nsegv: kill -SEGV $$\nbinary: printf 'caf\\351\\n'\n");
    test.with_args(&["run", "tasks.txt", "--max-output", "1K", "--quiet"])
        .status(1)
        .run();
    test.with_args(&["show", "1", "--task", "big"])
        .stdout_contains(
            "[stdout truncated: the first 1.0 KiB of 575.1 KiB kept; its last lines follow]\n",
        )
        .stdout_contains("99999\n100000\n\n--- stderr ---\n")
        .run();
    test.with_args(&["show", "1", "--task", "segv"])
        .stdout_contains("Status: FAILED (killed by SIGSEGV)\n")
        .run();
    test.with_args(&["show", "1", "--task", "binary"])
        .stdout_contains("--- stdout ---\ncaf\u{FFFD}\n")
        .run();
    let db = test.path().join("taskrun.db");
    if let Some(kinds) = sqlite3(
        &db,
        "SELECT name, typeof(stdout), length(stdout), stdout_bytes, stdout_truncated, \
         coalesce(signal, '') FROM tasks ORDER BY position",
    ) {
        // Output that is not UTF-8 is kept byte for byte, as a BLOB.
        assert_eq!(
            kinds,
            "big|text|1024|588895|1|\nsegv|text|0|0|0|11\nbinary|blob|5|5|0|\n"
        );
    }
}

#[test]
fn json_output_is_stable() {
    let test = with_failed_run();
    let raw = test.exec(&["history", "--json"]).stdout;
    let history: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(history["schema_version"], 1);
    let run = &history["runs"][0];
    assert_eq!(run["id"], 1);
    assert_eq!(run["status"], "completed");
    assert_eq!(
        (
            run["passed"].as_i64(),
            run["failed"].as_i64(),
            run["skipped"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    // Keys in the order written (a parsed object would sort them).
    let keys: Vec<&str> = raw
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix('"')?.split_once("\":"))
        .map(|(key, _)| key)
        .collect();
    assert_eq!(
        keys,
        [
            "schema_version",
            "runs",
            "id",
            "status",
            "started_at",
            "finished_at",
            "duration_ms",
            "total_tasks",
            "passed",
            "failed",
            "skipped",
            "timeouts",
            "canceled",
            "cached",
            "signal",
            "taskfile",
            "dir",
            "jobs",
            "retry_of",
            "note"
        ]
    );
    let shown: serde_json::Value =
        serde_json::from_str(&test.exec(&["show", "1", "--json"]).stdout).unwrap();
    assert_eq!(shown["schema_version"], 1);
    assert_eq!(shown["run"]["id"], 1);
    let tasks = shown["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3);
    assert_eq!(tasks[1]["name"], "link");
    assert_eq!(tasks[1]["status"], "skipped");
    assert_eq!(tasks[1]["after"], serde_json::json!(["compile"]));
    assert_eq!(tasks[1]["after_done"], serde_json::json!([]));
    assert_eq!(tasks[0]["attempts"].as_array().unwrap().len(), 1);
    assert!(
        tasks[0].get("stdout").is_none(),
        "no output in the run view"
    );
    let shown: serde_json::Value = serde_json::from_str(
        &test
            .exec(&["show", "1", "--task", "compile", "--json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(shown["schema_version"], 1);
    assert_eq!(shown["run"]["id"], 1, "the run, as `show --json` has it");
    let task = &shown["task"];
    assert_eq!(task["exit_code"], 1);
    assert_eq!(task["stdout"], "compiling\n");
    assert_eq!(task["stderr"], "main.c:3: error\n");
}

#[test]
fn unknown_run_and_task_name_what_exists() {
    let test = with_failed_run();
    test.with_args(&["show", "7"])
        .status(2)
        .stderr_contains("× no run #7 in `taskrun.db`")
        .stderr_contains("help: the latest run is #1; `taskrun history` lists them")
        .run();
    test.with_args(&["show", "1", "--task", "compil"])
        .status(2)
        .stderr_contains("× run #1 has no task `compil`")
        .stderr_contains("help: did you mean `compile`?")
        .run();
    test.with_args(&["show", "1", "--task", "zzz"])
        .stderr_contains("help: its tasks are compile, link, docs")
        .run();
    Test::new()
        .args(&["show"])
        .status(2)
        .stderr_contains("× no history database at `taskrun.db`")
        .run();
    test.with_args(&["show", "zero"]).status(2).run();
}

#[test]
fn retry_runs_what_did_not_pass_from_the_database() {
    let test = with_failed_run();
    // The file changes: retry must use the commands stored with run #1.
    std::fs::write(test.path().join("tasks.txt"), "other: exit 3\n").unwrap();
    std::fs::write(test.path().join("fixed"), "").unwrap();
    // `compile` still fails.
    test.with_args(&["retry", "1", "--jobs", "1"])
        .status(1)
        .stdout_starts_with(
            "Retrying 2 failed tasks from run #1...\nRunning with max 1 concurrent task...\n\
             [1/2] compile: echo compiling; ech… .... FAILED (…)\n",
        )
        .stdout_ends_with("Results saved to: taskrun.db (run #2)\n")
        .run();
    test.with_args(&["history"])
        .stdout_contains(" | retry of #1\n")
        .run();

    // Make `compile` pass by editing the stored command, as a fix would.
    if sqlite3(
        &test.path().join("taskrun.db"),
        "UPDATE tasks SET command = 'echo fixed' WHERE run_id = 2 AND name = 'compile'",
    )
    .is_none()
    {
        return;
    }
    test.with_args(&["retry", "last", "--jobs", "1"])
        .status(0)
        .stdout_contains("Retrying 2 failed tasks from run #2...")
        .stdout_contains("Run completed: 2 passed, 0 failed, 0 skipped\n")
        .run();
    test.with_args(&["retry", "3"])
        .status(0)
        .stdout("Nothing to retry: every task of run #3 passed.\n")
        .run();
}

#[test]
fn retry_treats_passed_dependencies_as_satisfied() {
    let test = Test::new().taskfile("a: true\nb: test -f flag [after:a]\nc: true [after:b]\n");
    test.with_args(&["run", "tasks.txt", "--jobs", "1"])
        .status(1)
        .run();
    std::fs::write(test.path().join("flag"), "").unwrap();
    test.with_args(&["retry", "1", "--jobs", "1", "--quiet"])
        .stdout(
            "Run completed: 2 passed, 0 failed, 0 skipped\nResults saved to: taskrun.db (run #2)\n",
        )
        .run();
}

#[test]
fn a_run_whose_taskrun_was_killed_shows_as_interrupted() {
    let test =
        Test::new().taskfile("quick: echo fast\nslow: sleep 973.1\nlater: true [after:slow]\n");
    let test = test.args(&["run", "tasks.txt"]);
    let child = test.spawn();
    wait_for_processes(&["sleep", "973.1"], 1, Duration::from_secs(10));
    // Give the recorder its batch window to write `quick`.
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGKILL) };
    drop(test.wait(child));
    // The task's process group is not taskrun's: clean it up here.
    let _ = Command::new("pkill").args(["-f", "sleep 973.1"]).status();

    test.with_args(&["history"])
        .status(0)
        .stdout_contains("| interrupted (taskrun was killed)\n")
        .run();
    test.with_args(&["show", "1"])
        .stdout_contains("Status: interrupted (taskrun was killed)\n")
        .stdout_contains("  quick ... PASSED (")
        .stdout_contains("  slow .... CANCELED (taskrun was killed)\n")
        .stdout_contains("  later ... SKIPPED (run interrupted)\n")
        .run();
    // The next run closes the dead one in the database itself.
    test.exec(&["run", "tasks.txt", "--task", "quick", "--quiet"]);
    if let Some(status) = sqlite3(
        &test.path().join("taskrun.db"),
        "SELECT status FROM runs WHERE id = 1",
    ) {
        assert_eq!(status, "interrupted\n");
    }
    // And it can be retried.
    test.with_args(&["retry", "1", "--timeout", "0.2"])
        .stdout_contains("Retrying 2 failed tasks from run #1...")
        .run();
}

#[test]
fn concurrent_runs_on_one_database_record_every_row() {
    let tasks: String = (0..100).map(|i| format!("t{i}: echo {i}\n")).collect();
    let test = Test::new().taskfile(tasks);
    // Two runs at once, then four.
    for count in [2, 4] {
        let threads: Vec<_> = (0..count)
            .map(|_| {
                let dir = test.path().to_owned();
                std::thread::spawn(move || {
                    crate::harness::command()
                        .args(["run", "tasks.txt", "--quiet", "--jobs", "4"])
                        .current_dir(dir)
                        .output()
                        .unwrap()
                })
            })
            .collect();
        for thread in threads {
            let output = thread.join().unwrap();
            assert_eq!(
                output.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let history: serde_json::Value =
        serde_json::from_str(&test.exec(&["history", "--json"]).stdout).unwrap();
    let runs = history["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 6);
    for run in runs {
        assert_eq!(run["passed"], 100, "{run}");
        assert_eq!(run["status"], "completed");
    }
    if let Some(rows) = sqlite3(
        &test.path().join("taskrun.db"),
        "SELECT COUNT(*) FROM tasks WHERE status = 'passed'",
    ) {
        assert_eq!(rows, "600\n");
    }
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_untouched() {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let test = Test::new()
        .taskfile("a: touch ran\n")
        .file("taskrun.db", &garbage);
    for args in [
        &["run", "tasks.txt"][..],
        &["history"],
        &["show"],
        &["retry", "1"],
    ] {
        test.with_args(args)
            .status(2)
            .stderr_contains("is not a taskrun history database")
            .run();
    }
    assert!(!test.path().join("ran").exists(), "nothing ran");
    assert_eq!(
        std::fs::read(test.path().join("taskrun.db")).unwrap(),
        garbage
    );
    assert!(!test.path().join("taskrun.db-wal").exists());
}

#[test]
fn a_damaged_database_is_refused_before_any_task() {
    let test = Test::new().taskfile("a: true\n");
    for _ in 0..3 {
        test.exec(&["run", "tasks.txt", "--quiet"]);
    }
    let db = test.path().join("taskrun.db");
    // Fold the WAL in, then damage page 1 after its header: the schema.
    test.exec(&["history"]);
    if sqlite3(&db, "PRAGMA wal_checkpoint(TRUNCATE)").is_none() {
        return;
    }
    let mut bytes = std::fs::read(&db).unwrap();
    for byte in &mut bytes[100..4096] {
        *byte = 0xA5;
    }
    std::fs::write(&db, &bytes).unwrap();
    let test = test.taskfile("a: touch ran\n");
    test.with_args(&["run", "tasks.txt"])
        .status(2)
        .stderr_contains("× the history database `taskrun.db` is damaged")
        .stderr_contains(".recover")
        .run();
    assert!(!test.path().join("ran").exists());
    test.with_args(&["history"])
        .status(2)
        .stderr_contains("is damaged")
        .run();
}

/// Holds the database's write lock for `seconds` from another process
/// (Python's sqlite3 module), and returns once the lock is taken.
fn hold_write_lock(db: &Path, seconds: f64) -> Option<std::process::Child> {
    let script = format!(
        "import sqlite3, sys, time\n\
         c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
         c.execute('BEGIN IMMEDIATE')\n\
         print('locked', flush=True)\n\
         time.sleep({seconds})\n\
         c.execute('COMMIT')\n"
    );
    let Ok(mut child) = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(db)
        .stdout(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("skipped: python3 is not installed");
        return None;
    };
    let mut line = String::new();
    let stdout = child.stdout.as_mut().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    assert_eq!(line, "locked\n");
    Some(child)
}

#[test]
fn a_briefly_locked_database_is_waited_for() {
    let test = with_failed_run();
    let Some(mut holder) = hold_write_lock(&test.path().join("taskrun.db"), 2.0) else {
        return;
    };
    let start = std::time::Instant::now();
    test.with_args(&["run", "tasks.txt", "--task", "docs", "--quiet"])
        .status(0)
        .stdout_contains("(run #2)")
        .run();
    assert!(
        start.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    holder.wait().unwrap();
}

#[test]
fn a_database_locked_for_long_stops_the_run_with_a_clear_error() {
    let test = with_failed_run().taskfile("a: touch ran\n");
    let Some(mut holder) = hold_write_lock(&test.path().join("taskrun.db"), 30.0) else {
        return;
    };
    // Checked once the holder is gone, which a failed expectation would
    // leave holding the lock.
    let output = test.exec(&["run", "tasks.txt"]);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(output.status, 2, "{}", output.stdout);
    assert_contains(
        &output.stderr,
        "× the history database `taskrun.db` is locked by another process",
    );
    assert!(!test.path().join("ran").exists());
}

#[test]
fn an_empty_file_is_an_empty_database() {
    Test::new()
        .taskfile("a: true\n")
        .file("taskrun.db", "")
        .args(&["run", "tasks.txt", "--quiet"])
        .status(0)
        .stdout_contains("(run #1)")
        .run();
}

#[test]
fn a_database_from_a_newer_taskrun_is_refused() {
    let test = Test::new().taskfile("a: touch ran\n");
    let db = test.path().join("taskrun.db");
    if sqlite3(&db, "CREATE TABLE x (y); PRAGMA user_version = 99").is_none() {
        return;
    }
    let before = std::fs::read(&db).unwrap();
    test.with_args(&["run", "tasks.txt"])
        .status(2)
        .stderr_contains(
            "× `taskrun.db` was written by a newer taskrun (schema version 99; this taskrun knows up to 15)",
        )
        .run();
    assert!(!test.path().join("ran").exists());
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn a_database_with_the_first_schema_is_migrated() {
    let test = Test::new().taskfile("a: true\n");
    let db = test.path().join("taskrun.db");
    // Schema version 1: exactly the specification's tables.
    let created = sqlite3(
        &db,
        "CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at INTEGER NOT NULL, \
         finished_at INTEGER, total_tasks INTEGER NOT NULL, passed INTEGER NOT NULL DEFAULT 0, \
         failed INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0); \
         CREATE TABLE tasks (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), \
         name TEXT NOT NULL, command TEXT NOT NULL, status TEXT NOT NULL, exit_code INTEGER, \
         started_at INTEGER, finished_at INTEGER, duration_ms INTEGER, stdout TEXT, stderr TEXT); \
         INSERT INTO runs VALUES (1, 1705329022, 1705329052, 1, 1, 0, 0); \
         INSERT INTO tasks VALUES (1, 1, 'old', 'echo old', 'passed', 0, 1705329022, 1705329052, \
         30700, 'old output', ''); \
         PRAGMA user_version = 1;",
    );
    if created.is_none() {
        return;
    }
    // The time the old run started, which the masks would hide.
    test.with_args(&["history"])
        .unmasked()
        .status(0)
        .stdout_contains("  #1 | 2024-01-15 14:30:22 | 1 passed, 0 failed, 0 skipped")
        .run();
    test.with_args(&["show", "1", "--task", "old"])
        .stdout_contains("--- stdout ---\nold output\n")
        .run();
    assert_eq!(sqlite3(&db, "PRAGMA user_version").unwrap(), "15\n");
    test.with_args(&["run", "tasks.txt", "--quiet"])
        .stdout_contains("(run #2)")
        .run();
}

#[test]
fn a_database_that_cannot_be_created_stops_the_run_before_any_task() {
    let test = Test::new().taskfile("a: touch ran\n");
    for db in ["missing/dir/taskrun.db", "/proc/taskrun.db"] {
        test.with_args(&["run", "tasks.txt", "--db", db])
            .status(2)
            .stderr_contains(&format!("cannot open the history database `{db}`"))
            .run();
    }
    assert!(!test.path().join("ran").exists());
}

#[test]
fn db_path_comes_from_the_flag_or_the_environment() {
    let test = Test::new().taskfile("a: true\n");
    test.with_args(&["run", "tasks.txt", "--db", "other.db", "--quiet"])
        .stdout_contains("Results saved to: other.db (run #1)")
        .run();
    let output = test
        .with_args(&["history", "--json"])
        .env("TASKRUN_DB", "other.db")
        .run();
    let history: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(history["runs"].as_array().unwrap().len(), 1);
    assert!(!test.path().join("taskrun.db").exists());
}

/// Clears the immutable flag again when dropped.
struct Unlock<'a>(&'a Path);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(self.0).status();
    }
}

/// A read-only database: `chattr +i` makes a file read-only even for root
/// (CI runs as root, which a chmod-444 file does not stop).
#[test]
fn a_read_only_database_can_be_read_but_not_run_into() {
    let test = with_failed_run();
    let db = test.path().join("taskrun.db");
    // Fold the WAL into the file so that reading needs nothing else.
    test.exec(&["history"]);
    if sqlite3(
        &db,
        "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE",
    )
    .is_none()
    {
        return;
    }
    let immutable = Command::new("chattr").arg("+i").arg(&db).status();
    if !immutable.is_ok_and(|status| status.success()) {
        eprintln!("skipped: chattr +i is not possible here (needs root and ext2/3/4 or xfs)");
        return;
    }
    let _unlock = Unlock(&db);
    let before = std::fs::read(&db).unwrap();
    let test = test.taskfile("a: touch ran\n");
    test.with_args(&["run", "tasks.txt"])
        .status(2)
        .stderr_contains("× the history database `taskrun.db` is read-only")
        .run();
    assert!(!test.path().join("ran").exists());
    test.with_args(&["history"])
        .status(0)
        .stdout_contains("#1 |")
        .run();
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

/// Disk full in the middle of a run: a 256 KiB tmpfs in a private mount
/// namespace (needs root, as CI has). The tasks still finish, the error is
/// reported, the exit status says so, and the runs before are intact.
#[test]
fn a_full_disk_mid_run_is_reported_and_earlier_runs_survive() {
    let test = Test::new();
    let script = format!(
        "dir=$PWD; mount -t tmpfs -o size=256k tmpfs \"$dir\" && cd \"$dir\" && \
         printf 'small: echo ok\\n' > a.txt && {bin} run a.txt --quiet && \
         printf 'flood: head -c 3000000 /dev/zero | tr \"\\\\0\" x\\nafter: echo after [after:flood]\\n' > b.txt; \
         {bin} run b.txt --max-output 2M; echo \"status $?\"; \
         {bin} history; {bin} show 2",
        bin = crate::harness::binary().display()
    );
    let output = crate::harness::command_for("unshare")
        .args(["-m", "sh", "-c", &script])
        .current_dir(test.path())
        .output();
    let Ok(output) = output else {
        eprintln!("skipped: unshare is not installed");
        return;
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("Operation not permitted") || stderr.contains("permission denied") {
        eprintln!("skipped: cannot mount a tmpfs here ({stderr})");
        return;
    }
    assert_contains(&stdout, "[2/2] after: echo after");
    assert_contains(
        &stdout,
        "Run completed: 2 passed, 0 failed, 0 skipped\nstatus 1\n",
    );
    assert_contains(&stderr, "cannot write to the history database `taskrun.db`");
    assert_contains(&stderr, "database or disk is full");
    assert_contains(&stdout, "| 1 passed, 0 failed, 0 skipped |");
    assert_contains(&stdout, "| incomplete\n");
    assert_contains(&stdout, "Status: incomplete: results not all recorded");
}

#[test]
fn retry_keeps_each_task_settings_and_takes_the_last_attempt() {
    let test = Test::new()
        .file("sub/.keep", "")
        .taskfile("t: test -f ok && echo \"$V\" > out [dir:sub] [env:V=kept] [retries:1]\n");
    test.with_args(&["run", "tasks.txt", "--retry-delay", "0.01", "--quiet"])
        .status(1)
        .run();
    // Two attempts failed; retry takes the task once, with its settings.
    std::fs::write(test.path().join("sub/ok"), "").unwrap();
    test.with_args(&["retry", "1", "--jobs", "1"])
        .status(0)
        .stdout_contains("Retrying 1 failed task from run #1...")
        .run();
    assert_eq!(
        std::fs::read_to_string(test.path().join("sub/out")).unwrap(),
        "kept\n"
    );
}

// See: issue 21, item 4
#[test]
fn an_open_run_reads_as_open_while_its_taskrun_lives() {
    let test = with_failed_run();
    let db = rusqlite::Connection::open(test.path().join("taskrun.db")).unwrap();
    // As a broker's run stands before it shuts down, recorded by this
    // process (which is alive; no start time, so only the id is checked).
    db.execute(
        "UPDATE runs SET status = 'open', taskfile = '(broker)', finished_at = NULL,
             duration_ms = NULL, pid = ?1, pid_started = 0
         WHERE id = 1",
        [i64::from(std::process::id())],
    )
    .unwrap();
    test.with_args(&["history"])
        .status(0)
        .stdout_contains("| 1 passed, 1 failed, 1 skipped | running | open\n")
        .run();
    test.with_args(&["show", "1"])
        .status(0)
        .stdout_contains("Task file: (broker)\nStatus: open\nDuration: running\n")
        .run();
    test.with_args(&["history", "--json"])
        .status(0)
        .stdout_contains("\"status\": \"open\"")
        .run();
    test.with_args(&["retry", "1"])
        .status(2)
        .stderr_contains("history::still_running")
        .stderr_contains("run #1 is still open, a broker records into it (process ")
        .run();
    test.with_args(&["prune", "--keep", "0"])
        .status(0)
        .stdout_starts_with("Kept run #1: it is still open, a broker records into it (process ")
        .run();

    // Its taskrun is gone: the run was interrupted.
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = i64::from(gone.id());
    gone.wait().unwrap();
    db.execute("UPDATE runs SET pid = ?1 WHERE id = 1", [pid])
        .unwrap();
    test.with_args(&["history"])
        .status(0)
        .stdout_contains("| unknown | interrupted (taskrun was killed)\n")
        .run();
}
