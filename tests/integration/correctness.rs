//! Regression tests for the correctness fixes of issue 13 (and one of
//! issue 12): retry policies and what they see, runs killed or
//! interrupted mid-retry, report paths, long lines, pools, descriptor
//! limits, the names and shapes of counts and JSON.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Test, assert_contains, wait_for_processes, wait_until_gone};

/// The sqlite3 command-line client on `db`; `None` (with a note) where it
/// is not installed.
fn sqlite3(db: &Path, sql: &str) -> Option<String> {
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

/// `sql` on a database another process is writing: read-only, waiting a
/// little for its lock, and empty while it does not exist yet (sqlite3
/// would create it) or cannot be read at the moment.
fn peek(db: &Path, sql: &str) -> String {
    if !db.exists() {
        return String::new();
    }
    Command::new("sqlite3")
        .args(["-readonly", "-cmd", ".timeout 2000"])
        .arg(db)
        .arg(sql)
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default()
}

/// Waits (up to `within`) until `sql` on `db` answers `expected`.
#[track_caller]
fn wait_for_query(db: &Path, sql: &str, expected: &str, within: Duration) {
    let start = Instant::now();
    loop {
        let answer = peek(db, sql);
        if answer == expected {
            return;
        }
        assert!(
            start.elapsed() < within,
            "`{sql}` still answers {answer:?}, not {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether the sqlite3 client can be run, for tests that poll with it.
fn have_sqlite3() -> bool {
    let found = Command::new("sqlite3").arg("-version").output().is_ok();
    if !found {
        eprintln!("skipped: the sqlite3 client is not installed");
    }
    found
}

/// The live processes with `marker` in their command line that run in
/// `dir`: the tasks of this test's taskrun, and not those of any other
/// test (or anyone else's) that happens to use the same words.
fn pids_in(dir: &Path, marker: &str) -> Vec<i32> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let proc = entry.path();
            let stat = std::fs::read_to_string(proc.join("stat")).ok()?;
            let state = stat.rsplit(')').next()?.trim_start().chars().next()?;
            let cmdline = std::fs::read(proc.join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let cwd = std::fs::read_link(proc.join("cwd")).ok()?;
            (state != 'Z' && cmdline.contains(marker) && cwd == dir).then_some(pid)
        })
        .collect()
}

/// SIGKILLs the processes with `marker` in their command line that run in
/// `dir`: the tasks a killed taskrun leaves behind.
fn kill_marked(dir: &Path, marker: &str) {
    for pid in pids_in(dir, marker) {
        // SAFETY: kill(2) on a task this test's taskrun started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Kills the processes with a marker in their command line that run in a
/// directory (see [`kill_marked`]; any process there for an empty marker)
/// when dropped, so that a failing test leaves none behind.
struct Reap(std::path::PathBuf, &'static str);

impl Reap {
    fn new(test: &Test, marker: &'static str) -> Reap {
        Reap(test.path().to_owned(), marker)
    }
}

impl Drop for Reap {
    fn drop(&mut self) {
        kill_marked(&self.0, self.1);
    }
}

/// A spawned taskrun that is killed (and waited for) if the test stops
/// before it took it back with `take`.
struct Spawned(Option<Child>);

impl Spawned {
    fn pid(&self) -> i32 {
        i32::try_from(self.0.as_ref().unwrap().id()).unwrap()
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child, not yet waited for.
        assert_eq!(unsafe { libc::kill(self.pid(), signal) }, 0);
    }

    /// Polls (up to `within`) for its end; its exit status, if it ended.
    fn wait_within(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.0.as_mut().unwrap().try_wait().unwrap() {
                return Some(status);
            }
            if start.elapsed() > within {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn take(mut self) -> Child {
        self.0.take().unwrap()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}

/// The lines of an events file, parsed.
fn events_of(text: &str) -> Vec<Value> {
    text.lines().map(json).collect()
}

/// The run's four counts, as `history --json` and `show --json` have them.
fn counts(run: &Value) -> [i64; 4] {
    ["passed", "failed", "skipped", "canceled"].map(|key| {
        run[key]
            .as_i64()
            .unwrap_or_else(|| panic!("no count `{key}` in {run}"))
    })
}

// See: issue 13, item 1
#[test]
fn a_retry_policy_sees_the_output_of_the_task() {
    let test = Test::new()
        .taskfile(
            "net: echo ECONNRESET >&2; exit 1\n\
             loud: echo please retry; exit 1\n\
             other: echo boom; echo boom >&2; exit 1\n",
        )
        .file(
            "Taskfile.rhai",
            "fn should_retry(task) {\n    task.stderr.contains(\"ECONNRESET\") || task.stdout.contains(\"please retry\")\n}\n",
        );
    // No `[retries:]`: the policy is only asked by `retry`.
    test.with_args(&["run", "tasks.txt", "--quiet"])
        .status(1)
        .stdout_starts_with("Run completed: 0 passed, 3 failed, 0 skipped\n")
        .run();
    test.with_args(&["retry", "1", "--jobs", "1"])
        .status(1)
        .stdout_starts_with(
            "Not retried: other (declined by should_retry)\n\
             Retrying 2 failed tasks from run #1...\n",
        )
        .stdout_contains("] net: echo ECONNRESET")
        .stdout_contains("] loud: echo please retry")
        .stdout_lacks("] other:")
        .run();
}

// See: issue 13, item 2
#[test]
fn a_run_that_is_still_running_cannot_be_retried() {
    let test = Test::new().taskfile("slow: test -f done || sleep 974.2107\n");
    let _reap = Reap::new(&test, "974.2107");
    let run = test.with_args(&["run", "tasks.txt"]).status(130);
    let child = Spawned(Some(run.spawn()));
    wait_for_processes(&["sleep", "974.2107"], 1, Duration::from_secs(10));
    // (A taskrun that accepted it would run the task again: not for long.)
    test.with_args(&["retry", "1", "--timeout", "2"])
        .status(2)
        .stderr_contains("history::still_running")
        .stderr_contains(&format!("taskrun process {}", child.pid()))
        .run();
    assert!(!test.path().join("done").exists());
    child.signal(libc::SIGINT);
    run.wait(child.take());
    assert_eq!(
        wait_until_gone("974.2107", Duration::from_secs(5)),
        Vec::<String>::new()
    );
    std::fs::write(test.path().join("done"), "").unwrap();
    test.with_args(&["retry", "1"])
        .status(0)
        .stdout_starts_with("Retrying 1 failed task from run #1...\n")
        .stdout_ends_with("Results saved to: taskrun.db (run #2)\n")
        .run();
}

// See: issue 13, item 3
#[test]
fn reading_commands_without_a_database_create_none() {
    let test = Test::new();
    for args in [&["retry", "1"][..], &["show"], &["show", "1", "--json"]] {
        test.with_args(args)
            .status(2)
            .stderr_contains("history::missing")
            .run();
    }
    test.with_args(&["history"])
        .status(0)
        .stdout("No runs recorded yet: `taskrun.db` does not exist.\n")
        .run();
    let left: Vec<String> = std::fs::read_dir(test.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

// See: issue 13, item 4
#[test]
fn a_declined_task_keeps_back_what_waits_for_it_whatever_the_file_order() {
    let test = Test::new()
        .taskfile("deploy: true [after:build]\nbuild: exit 1\n")
        .file(
            "Taskfile.rhai",
            "fn should_retry(task) { task.name != \"build\" }\n",
        );
    test.with_args(&["run", "tasks.txt", "--quiet"])
        .status(1)
        .stdout_starts_with("Run completed: 0 passed, 1 failed, 1 skipped\n")
        .run();
    test.with_args(&["retry", "1"])
        .status(0)
        .stdout(
            "Not retried: deploy (waits for build), build (declined by should_retry)\n\
             Nothing to retry in run #1.\n",
        )
        .run();
    let history = json(&test.exec(&["history", "--json"]).stdout);
    assert_eq!(history["runs"].as_array().unwrap().len(), 1, "{history}");
}

// See: issue 13, item 5
#[test]
fn skipped_tasks_are_not_put_to_the_policy() {
    // Exit code 1 is matched by the message; exit code 7 (curl's "could
    // not connect") by the code alone.
    for code in [1, 7] {
        let test = Test::new()
            .taskfile(format!(
                "net: echo \"Connection reset by peer\" >&2; exit {code}\n\
                 deploy: true [after:net]\n"
            ))
            .file(
                "Taskfile.rhai",
                "fn should_retry(task) {\n    import \"taskrun/retry\" as retry;\n    retry::transient_network(task)\n}\n",
            );
        test.with_args(&["run", "tasks.txt", "--quiet"])
            .status(1)
            .run();
        test.with_args(&["retry", "1", "--jobs", "1"])
            .status(1)
            .stdout_starts_with(
                "Retrying 2 failed tasks from run #1...\nRunning with max 1 concurrent task...\n",
            )
            .stdout_lacks("Not retried")
            .stdout_contains(
                "[2/2] deploy ........................... SKIPPED (dependency failed: net)\n",
            )
            .run();
    }
}

// See: issue 13, item 6
#[test]
fn a_retried_closure_is_recorded_with_its_line_in_the_script_as_it_is_now() {
    let closure = "task(\"check\", || { if !file_exists(\"ok\") { throw \"not yet\"; } print(\"fine\"); });\n";
    let test = Test::new().file("Taskfile.rhai", closure);
    test.with_args(&["run", "Taskfile.rhai", "--quiet"])
        .status(1)
        .run();
    test.with_args(&["show", "1", "--task", "check"])
        .stdout_contains("Command: (Rhai closure, line 1)\n")
        .run();
    let test = test
        .file(
            "Taskfile.rhai",
            format!("// The check.\n// It waits for `ok`.\n\n{closure}"),
        )
        .file("ok", "");
    test.with_args(&["retry", "1", "--quiet"])
        .status(0)
        .stdout_starts_with("Run completed: 1 passed, 0 failed, 0 skipped\n")
        .run();
    test.with_args(&["show", "2", "--task", "check"])
        .status(0)
        .stdout_contains("Command: (Rhai closure, line 4)\nStatus: PASSED (exit code 0)\n")
        .stdout_contains("--- stdout ---\nfine\n")
        .run();
}

// See: issue 13, item 7
#[test]
fn retry_works_after_the_task_file_is_deleted_when_the_script_adds_only_shell_tasks() {
    let test = Test::new()
        .taskfile("a: exit 1\n")
        .file("Taskfile.rhai", "task(\"b\", \"true\");\n");
    test.with_args(&["run", "tasks.txt", "--quiet"])
        .status(1)
        .stdout_starts_with("Run completed: 1 passed, 1 failed, 0 skipped\n")
        .run();
    std::fs::remove_file(test.path().join("tasks.txt")).unwrap();
    let output = test
        .with_args(&["retry", "1"])
        .status(1)
        .stdout_starts_with("Retrying 1 failed task from run #1...\n[1/1] a: exit 1 ")
        .stdout_ends_with("Results saved to: taskrun.db (run #2)\n")
        .run();
    assert!(
        !output.stderr.contains("history::retry_script"),
        "{}",
        output.stderr
    );
}

// See: issue 13, item 8
#[test]
fn every_attempt_row_has_the_task_resources() {
    let test = Test::new().taskfile("a: exit 1 [retries:1] [cpus:2] [mem:1G]\n");
    test.with_args(&["run", "tasks.txt", "--retry-delay", "0.01", "--quiet"])
        .status(1)
        .run();
    if let Some(rows) = sqlite3(
        &test.path().join("taskrun.db"),
        "SELECT attempt, cpus, mem_bytes FROM tasks ORDER BY attempt",
    ) {
        assert_eq!(rows, "1|2|1073741824\n2|2|1073741824\n");
    }
}

// See: issue 13, item 9
#[test]
fn a_report_path_that_is_the_database_is_refused_before_any_task() {
    let test = Test::new()
        .taskfile("a: touch ran\n")
        .file("logs/tasks/.keep", "");
    test.with_args(&["run", "tasks.txt", "--quiet"])
        .status(0)
        .run();
    // Databases where the logs would go, or be rotated to.
    let log_dbs = ["logs/run.log", "logs/run.log.2", "logs/tasks/a.log.1"];
    for db in log_dbs {
        test.with_args(&["run", "tasks.txt", "--quiet", "--db", db])
            .status(0)
            .run();
    }
    std::fs::remove_file(test.path().join("ran")).unwrap();
    std::fs::hard_link(test.path().join("taskrun.db"), test.path().join("copy.db")).unwrap();
    for args in [
        &["--events", "taskrun.db"][..],
        &["--junit", "taskrun.db"],
        &["--events", "taskrun.db-wal"],
        &["--junit", "copy.db"],
        &["--db", "logs/run.log", "--log-dir", "logs"],
        &["--db", "logs/run.log.2", "--log-dir", "logs"],
        &["--db", "logs/tasks/a.log.1", "--log-dir", "logs"],
    ] {
        let mut all = vec!["run", "tasks.txt"];
        all.extend_from_slice(args);
        test.with_args(&all)
            .status(2)
            .stderr_contains("run::report_is_database")
            .run();
        assert!(!test.path().join("ran").exists(), "{args:?}: a task ran");
    }
    for db in std::iter::once("taskrun.db").chain(log_dbs) {
        let history = json(&test.exec(&["history", "--json", "--db", db]).stdout);
        let runs = history["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1, "{db}: {history}");
        assert_eq!(runs[0]["passed"], 1, "{db}: {history}");
        test.with_args(&["history", "--db", db])
            .status(0)
            .stdout_contains("  #1 | ")
            .run();
    }
}

// See: issue 13, item 10
#[test]
fn ctrl_c_during_a_retry_wait_ends_at_once_with_one_row_per_attempt() {
    if !have_sqlite3() {
        return;
    }
    let test = Test::new().taskfile("a: exit 1 [retries:5]\n");
    let run = test
        .with_args(&["run", "tasks.txt", "--retry-delay", "20"])
        .status(130);
    let mut child = Spawned(Some(run.spawn()));
    let db = test.path().join("taskrun.db");
    wait_for_query(
        &db,
        "SELECT COUNT(*) FROM tasks WHERE status = 'failed'",
        "1\n",
        Duration::from_secs(10),
    );
    let start = Instant::now();
    child.signal(libc::SIGINT);
    let ended = child.wait_within(Duration::from_secs(10));
    assert!(ended.is_some(), "taskrun did not end after SIGINT");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    run.wait(child.take());
    assert_eq!(
        sqlite3(&db, "SELECT attempt, COUNT(*) FROM tasks GROUP BY attempt").unwrap(),
        "1|1\n"
    );
}

/// `tasks` run, and taskrun killed (SIGKILL) once the query `ready` answers `1`:
/// the test, with the run dead in its database and no process left.
fn killed_run(tasks: &str, args: &[&str], ready: &str) -> Test {
    let test = Test::new().taskfile(tasks);
    let mut all = vec!["run", "tasks.txt"];
    all.extend_from_slice(args);
    let run = test.with_args(&all);
    // Dropped last: once taskrun is killed, its tasks are this test's to end.
    let _reap = Reap::new(&test, "");
    let child = Spawned(Some(run.spawn()));
    wait_for_query(
        &test.path().join("taskrun.db"),
        ready,
        "1\n",
        Duration::from_secs(10),
    );
    // The recorder's batch window, for whatever it writes meanwhile.
    std::thread::sleep(Duration::from_millis(300));
    child.signal(libc::SIGKILL);
    drop(run.wait(child.take()));
    test
}

// See: issue 13, item 11
#[test]
fn a_task_killed_while_waiting_for_its_retry_is_failed_once() {
    if !have_sqlite3() {
        return;
    }
    let test = killed_run(
        "a: exit 1 [retries:5]\nb: true\n",
        &["--retry-delay", "20"],
        "SELECT COUNT(*) = 2 FROM tasks WHERE status IN ('failed', 'passed')",
    );
    test.with_args(&["show", "1"])
        .status(0)
        .stdout_contains(
            "Tasks:\n\
             \x20 a ... FAILED (…)\n\
             \x20 b ... PASSED (…)\n\
             \n\
             1 passed, 1 failed, 0 skipped\n",
        )
        .stdout_lacks("[attempt 2]")
        .run();
    // A run on the same database closes the dead one.
    test.with_args(&["run", "tasks.txt", "--task", "b", "--quiet"])
        .status(0)
        .stdout_contains("(run #2)")
        .run();
    let history = json(&test.exec(&["history", "--json"]).stdout);
    let first = &history["runs"][1];
    assert_eq!(first["id"], 1, "{history}");
    assert_eq!(counts(first).iter().sum::<i64>(), 2, "{first}");
    assert_eq!(counts(first), [1, 1, 0, 0], "{first}");
    test.with_args(&["history"])
        .stdout_contains("  #1 | YYYY-MM-DD hh:mm:ss | 1 passed, 1 failed, 0 skipped | ")
        .run();
}

// See: issue 13, item 12
#[test]
fn counts_of_a_killed_run_agree_with_its_task_rows() {
    if !have_sqlite3() {
        return;
    }
    let test = killed_run(
        "quick: true\nslow: sleep 974.1207\nlater: true [after:slow]\n",
        &[],
        "SELECT COUNT(*) = 2 FROM tasks WHERE (name = 'quick' AND status = 'passed') \
         OR (name = 'slow' AND status = 'running')",
    );
    test.with_args(&["show", "1"])
        .status(0)
        .stdout_contains("  quick ... PASSED (")
        .stdout_contains("  slow .... CANCELED (taskrun was killed)\n")
        .stdout_contains("  later ... SKIPPED (run interrupted)\n")
        .stdout_contains("\n1 passed, 0 failed, 1 skipped, 1 canceled\n")
        .run();
    test.with_args(&["history"])
        .stdout_contains("| 1 passed, 0 failed, 1 skipped, 1 canceled |")
        .run();
    let history = json(&test.exec(&["history", "--json"]).stdout);
    assert_eq!(counts(&history["runs"][0]), [1, 0, 1, 1], "{history}");
    let shown = json(&test.exec(&["show", "--json"]).stdout);
    assert_eq!(counts(&shown["run"]), [1, 0, 1, 1], "{shown}");
    let statuses: Vec<&str> = shown["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["passed", "canceled", "skipped"]);
}

// See: issue 13, item 13
#[test]
fn a_line_of_64_kib_reaches_every_report_whole() {
    let line = "x".repeat(65536);
    // The same line written in pieces, and with one write.
    let test = Test::new().taskfile(
        "pieces: head -c 65536 /dev/zero | tr '\\0' x; echo\n\
         whole: x=$(head -c 65536 /dev/zero | tr '\\0' x); printf '%s\\n' \"$x\"\n",
    );
    let tasks = ["pieces", "whole"];
    let output = test
        .with_args(&["run", "tasks.txt", "--output", "stream"])
        .status(0)
        .run();
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    for task in tasks {
        assert!(
            output
                .stdout
                .lines()
                .any(|printed| printed == format!("{task} | {line}")),
            "{task}: no whole line in {} bytes of stdout",
            output.stdout.len(),
        );
    }

    let output = test
        .with_args(&["run", "tasks.txt", "--events", "out.jsonl"])
        .status(0)
        .run();
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    let events = events_of(&std::fs::read_to_string(test.path().join("out.jsonl")).unwrap());
    assert!(events.last().unwrap()["event"] == "run_finished");
    for task in tasks {
        let lines: Vec<&str> = events
            .iter()
            .filter(|event| event["event"] == "stdout" && event["task"] == task)
            .map(|event| event["line"].as_str().unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{task}");
        assert_eq!(lines[0].len(), 65536, "{task}");
        assert!(lines[0] == line, "{task}");
    }

    let output = test
        .with_args(&["run", "tasks.txt", "--log-dir", "logs"])
        .status(0)
        .run();
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    for task in tasks {
        let log = crate::harness::untimed(
            &std::fs::read_to_string(test.path().join(format!("logs/tasks/{task}.log"))).unwrap(),
        );
        assert!(
            log.lines().any(|logged| logged == format!("out| {line}")),
            "{task}: no whole line in the {} bytes of the log",
            log.len()
        );
    }
}

// See: issue 13, item 14
#[test]
fn a_pool_starts_waiting_tasks_in_the_order_they_became_ready() {
    // `hold` takes the pool at once; `early` waits for it from the start,
    // `late` (declared before it) only once `gate` is done.
    let test = Test::new().taskfile(
        "pool db 1\n\
         hold: sleep 0.6 [pool:db]\n\
         late: echo late >> order [after:gate] [pool:db]\n\
         early: echo early >> order [pool:db]\n\
         gate: sleep 0.2\n",
    );
    test.with_args(&["run", "tasks.txt", "--jobs", "4", "--quiet"])
        .status(0)
        .run();
    assert_eq!(
        std::fs::read_to_string(test.path().join("order")).unwrap(),
        "early\nlate\n"
    );
}

// See: issue 13, item 15
#[test]
fn jobs_beyond_the_open_file_limit_are_capped_and_every_task_passes() {
    let tasks: String = (0..100).map(|i| format!("t{i}: sleep 0.2\n")).collect();
    let test = Test::new().taskfile(tasks);
    let output = crate::harness::command_for("/bin/sh")
        .arg("-c")
        .arg("ulimit -Sn 200 && ulimit -Hn 200 && exec \"$0\" run tasks.txt --jobs 100")
        .arg(crate::harness::binary())
        .current_dir(test.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("Too many open files"), "{stdout}");
    assert_contains(
        &stdout,
        "\nRun completed: 100 passed, 0 failed, 0 skipped\n",
    );
    let capped: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("Running at most "))
        .collect();
    assert_eq!(capped.len(), 1, "{stdout}");
    assert!(
        capped[0].ends_with(
            " tasks at once: the open-file limit (ulimit -n) allows no more than that of the 100 asked for..."
        ),
        "{}",
        capped[0]
    );
    let most: usize = capped[0]["Running at most ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..100).contains(&most), "{most}");
}

// See: issue 13, item 16
#[test]
fn output_cut_inside_a_character_is_stored_as_text() {
    let test = Test::new().taskfile("a: printf 'aé€xyz'\n");
    test.with_args(&["run", "tasks.txt", "--max-output", "4", "--quiet"])
        .status(0)
        .run();
    if let Some(stored) = sqlite3(
        &test.path().join("taskrun.db"),
        "SELECT typeof(stdout), stdout, stdout_bytes, stdout_truncated FROM tasks",
    ) {
        assert_eq!(stored, "text|aé|9|1\n");
    }
}

/// Fake Slurm clients in `bin/` that log each call to `calls.log`: enough
/// for the preflight to pass, and a job step that fails.
fn fake_slurm(test: Test) -> Test {
    let dir = test.path().display().to_string();
    let client = |name: &str, body: &str| {
        format!("#!/bin/sh\necho \"{name} $*\" >> '{dir}/calls.log'\n{body}\n")
    };
    let test = test
        .file(
            "bin/srun",
            client(
                "srun",
                "if [ \"$1\" = --version ]; then echo 'slurm 23.02.0'; exit 0; fi\nexit 1",
            ),
        )
        .file(
            "bin/scontrol",
            client(
                "scontrol",
                "if [ \"$1\" = ping ]; then echo 'Slurmctld(primary) at localhost is UP'; fi",
            ),
        )
        .file("bin/sinfo", client("sinfo", "echo debug"))
        .file("slurm.conf", "");
    for name in ["srun", "scontrol", "sinfo"] {
        use std::os::unix::fs::PermissionsExt as _;
        let path = test.path().join("bin").join(name);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    test
}

// See: issue 13, item 17
#[test]
fn the_slurm_preflight_runs_once() {
    let test = fake_slurm(Test::new().taskfile("a: true\n"));
    let path = format!(
        "{}:{}",
        test.path().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let conf = test.path().join("slurm.conf");
    test.with_args(&[
        "run",
        "tasks.txt",
        "--executor",
        "slurm",
        "--partition",
        "debug",
    ])
    .env("PATH", &path)
    .env("SLURM_CONF", &conf)
    // The fake `srun` runs no job step.
    .status(1)
    .stdout_contains("Run completed: 0 passed, 1 failed, 0 skipped\n")
    .run();
    let calls = std::fs::read_to_string(test.path().join("calls.log")).unwrap();
    let count = |wanted: &str| calls.lines().filter(|line| *line == wanted).count();
    assert_eq!(count("srun --version"), 1, "{calls}");
    assert_eq!(count("scontrol ping"), 1, "{calls}");
    assert_eq!(
        calls
            .lines()
            .filter(|line| line.starts_with("sinfo "))
            .count(),
        1,
        "{calls}"
    );
    // And the task went to `srun`.
    assert_contains(&calls, "srun --quiet ");
}

// See: issue 13, item 19
#[test]
fn an_empty_taskrun_db_is_unset_and_a_negative_timeout_is_refused() {
    let test = Test::new().taskfile("a: true\n");
    test.with_args(&["run", "tasks.txt", "--quiet"])
        .env("TASKRUN_DB", "")
        .status(0)
        .stdout(
            "Run completed: 1 passed, 0 failed, 0 skipped\nResults saved to: taskrun.db (run #1)\n",
        )
        .run();
    assert!(test.path().join("taskrun.db").is_file());
    test.with_args(&["history"])
        .env("TASKRUN_DB", "")
        .status(0)
        .stdout_contains("  #1 | ")
        .run();
    test.with_args(&["run", "tasks.txt", "--timeout", "-1"])
        .status(2)
        .stderr_contains("invalid value '-1' for '--timeout <S>'")
        .stderr_contains("is not a duration")
        .run();
}

// See: issue 13, item 20
#[test]
fn a_timeout_is_one_failure_named_the_same_everywhere() {
    let test =
        Test::new().taskfile("quick: true\nslow: sleep 974.3307\nfinal: true [after:slow]\n");
    let _reap = Reap::new(&test, "974.3307");
    test.with_args(&[
        "run",
        "tasks.txt",
        "--timeout",
        "0.3",
        "--events",
        "ev.jsonl",
        "--junit",
        "j.xml",
    ])
    .status(1)
    .stdout_contains("slow: sleep 974.3307 ............. TIMEOUT (…)\n")
    .stdout_ends_with(
        "Run completed: 1 passed, 1 timeout, 1 skipped\nResults saved to: taskrun.db (run #1)\n",
    )
    .run();
    assert_eq!(
        wait_until_gone("974.3307", Duration::from_secs(5)),
        Vec::<String>::new()
    );
    test.with_args(&["history"])
        .stdout_contains(" | 1 passed, 1 timeout, 1 skipped | ")
        .run();
    test.with_args(&["show", "1"])
        .stdout_contains("\n1 passed, 1 timeout, 1 skipped\n")
        .run();
    if let Some(counts) = sqlite3(
        &test.path().join("taskrun.db"),
        "SELECT passed, failed, skipped FROM runs",
    ) {
        assert_eq!(counts, "1|1|1\n");
    }
    let events = events_of(&std::fs::read_to_string(test.path().join("ev.jsonl")).unwrap());
    let finished = events.last().unwrap();
    assert_eq!(finished["event"], "run_finished", "{finished}");
    assert_eq!(finished["failed"], 1, "{finished}");
    let junit = std::fs::read_to_string(test.path().join("j.xml")).unwrap();
    assert_contains(
        &junit,
        "<testsuites name=\"taskrun\" tests=\"3\" failures=\"1\" ",
    );
}

// See: issue 13, item 21
#[test]
fn json_has_a_schema_version_first_and_each_task_once_with_its_attempts() {
    let test = Test::new().taskfile("a: exit 1 [retries:2]\nx: true\nb: true [after_done:x]\n");
    test.with_args(&[
        "run",
        "tasks.txt",
        "--retry-delay",
        "0.01",
        "--quiet",
        "--events",
        "ev.jsonl",
    ])
    .status(1)
    .run();
    for args in [
        &["history", "--json"][..],
        &["show", "--json"],
        &["show", "1", "--task", "a", "--json"],
    ] {
        test.with_args(args)
            .status(0)
            .stdout_starts_with("{\n  \"schema_version\": 1,\n")
            .run();
    }
    let task = json(&test.exec(&["show", "1", "--task", "a", "--json"]).stdout);
    assert!(task["run"].is_object(), "{task}");
    assert_eq!(task["run"]["id"], 1, "{task}");

    let shown = json(&test.exec(&["show", "--json"]).stdout);
    let tasks = shown["tasks"].as_array().unwrap();
    let names: Vec<&str> = tasks
        .iter()
        .map(|task| task["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "x", "b"], "{shown}");
    let attempts: Vec<i64> = tasks[0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| attempt["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 3], "{shown}");
    assert_eq!(tasks[2]["after_done"], serde_json::json!(["x"]), "{shown}");

    let written = std::fs::read_to_string(test.path().join("ev.jsonl")).unwrap();
    let first = written.lines().next().unwrap();
    assert_contains(first, "\"schema_version\":1");
    assert_eq!(json(first)["event"], "run_started");
}

// See: issue 13, item 22
#[test]
fn the_task_results_view_has_the_last_attempt_of_each_task() {
    let test = Test::new().taskfile("a: exit 1 [retries:2]\nb: true\n");
    test.with_args(&["run", "tasks.txt", "--retry-delay", "0.01", "--quiet"])
        .status(1)
        .run();
    let db = test.path().join("taskrun.db");
    let Some(results) = sqlite3(
        &db,
        "SELECT name, attempt, status FROM task_results ORDER BY name",
    ) else {
        return;
    };
    assert_eq!(results, "a|3|failed\nb|1|passed\n");
    assert_eq!(
        sqlite3(&db, "SELECT COUNT(*) FROM task_results").unwrap(),
        "2\n"
    );
    assert_eq!(sqlite3(&db, "SELECT COUNT(*) FROM tasks").unwrap(), "4\n");
}

// See: issue 13, item 23
#[test]
fn an_unknown_task_is_told_each_task_of_the_run_once() {
    let test = Test::new().taskfile("a: exit 1 [retries:2]\nb: true\n");
    test.with_args(&["run", "tasks.txt", "--retry-delay", "0.01", "--quiet"])
        .status(1)
        .run();
    test.with_args(&["show", "1", "--task", "nope"])
        .status(2)
        .stderr_contains("help: its tasks are a, b\n")
        .run();
}

// See: issue 13, item 23
#[test]
fn junit_has_no_colour_escapes() {
    let test = Test::new().taskfile("a: printf '\\033[31mred\\033[0m\\n' >&2; exit 1\n");
    test.with_args(&["run", "tasks.txt", "--junit", "j.xml", "--quiet"])
        .status(1)
        .run();
    let shown = test.exec(&["show", "1", "--junit"]).stdout;
    for junit in [
        std::fs::read_to_string(test.path().join("j.xml")).unwrap(),
        shown,
    ] {
        assert_contains(&junit, ">red\n");
        assert!(
            !junit.contains("[31m") && !junit.contains("[0m") && !junit.contains('\u{1b}'),
            "{junit}"
        );
    }
}

// See: issue 12
#[test]
fn a_sink_that_stops_draining_does_not_hide_ctrl_c() {
    let test = Test::new().taskfile("flood: yes | head -c 50000000; sleep 974.9107\n");
    let _reap = Reap::new(&test, "974.9107");
    let run = test.with_args(&["run", "tasks.txt", "--events", "-"]);
    // Standard output is a pipe this test never reads (reading would
    // drain it) until taskrun has ended.
    let mut child = Spawned(Some(run.spawn()));
    let start = Instant::now();
    while pids_in(test.path(), "974.9107").is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the task did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Time for the flood to fill the pipe and the queues behind it.
    std::thread::sleep(Duration::from_secs(1));
    child.signal(libc::SIGINT);
    let left = wait_until_gone("974.9107", Duration::from_secs(10));
    assert_eq!(left, Vec::<String>::new(), "the task outlived SIGINT");
    assert_eq!(pids_in(test.path(), "yes"), Vec::<i32>::new());
    child.signal(libc::SIGINT);
    let status = child.wait_within(Duration::from_secs(5));
    assert!(
        status.is_some(),
        "taskrun did not end after a second SIGINT"
    );
    let output = run
        .status(130)
        .stderr_contains("run::sink")
        .wait(child.take());
    assert_eq!(output.status, 130);
}

// See: issue 16 (`--fail-fast` with retries)
#[test]
fn a_halt_ends_a_task_waiting_for_its_retry_with_its_last_attempt() {
    if !have_sqlite3() {
        return;
    }
    // One job: `a` fails first, and its retry (due within 0.2 s) waits for
    // the job `b` holds. `b` fails and halts the run: `a` keeps its failed
    // attempt, whether its retry was due by then or not.
    let test = Test::new().taskfile("a: exit 1 [retries:1]\nb: sleep 0.6; exit 1\n");
    test.with_args(&[
        "run",
        "--fail-fast",
        "--jobs",
        "1",
        "--order",
        "file",
        "--retry-delay",
        "0.2",
        "--quiet",
    ])
    .status(1)
    .stdout_starts_with("Run stopped after 1 failure: 0 passed, 2 failed, 0 skipped\n")
    .run();
    let db = test.path().join("taskrun.db");
    assert_eq!(
        sqlite3(
            &db,
            "SELECT name, attempt, status, exit_code FROM tasks ORDER BY name"
        )
        .unwrap(),
        "a|1|failed|1\nb|1|failed|1\n"
    );
}

// See: issue 13, item 10
#[test]
fn ctrl_c_before_a_due_retry_starts_keeps_the_failed_attempt() {
    if !have_sqlite3() {
        return;
    }
    let test = Test::new().taskfile("a: exit 1 [retries:1]\nb: sleep 973.4409\n");
    let _reap = Reap::new(&test, "973.4409");
    let run = test
        .with_args(&[
            "run",
            "tasks.txt",
            "--jobs",
            "1",
            "--order",
            "file",
            "--retry-delay",
            "0.2",
        ])
        .status(130);
    let mut child = Spawned(Some(run.spawn()));
    // `b` runs once `a` failed; `a`'s retry waits for the one job.
    wait_for_processes(&["sleep", "973.4409"], 1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(400));
    child.signal(libc::SIGINT);
    assert!(child.wait_within(Duration::from_secs(10)).is_some());
    run.wait(child.take());
    let db = test.path().join("taskrun.db");
    assert_eq!(
        sqlite3(
            &db,
            "SELECT name, attempt, status, exit_code FROM tasks ORDER BY name"
        )
        .unwrap(),
        "a|1|failed|1\nb|1|canceled|\n"
    );
    let history = json(&test.exec(&["history", "--json"]).stdout);
    assert_eq!(counts(&history["runs"][0]), [0, 1, 0, 1]);
}

// See: issue 16 (`--fail-fast` with retries)
#[test]
fn nothing_is_retried_once_the_run_has_halted() {
    // `b` fails after `a` halted the run: it is not retried.
    let test = Test::new().taskfile(
        "a: touch a-failed; exit 1\n\
         b: while [ ! -f a-failed ]; do sleep 0.01; done; sleep 0.3; exit 1 [retries:2]\n",
    );
    test.with_args(&["run", "--fail-fast", "--jobs", "2", "--retry-delay", "0.5"])
        .status(1)
        .stdout_lacks("RETRY")
        .stdout_contains("Run stopped after 1 failure: 0 passed, 2 failed, 0 skipped\n")
        .run();
}

// See: issue 16 (`--fail-fast` with retries)
#[test]
fn cleanup_runs_after_a_task_whose_retry_the_halt_abandoned() {
    // `b` fails and waits (1 s or more) for its retry; `a` fails meanwhile
    // and halts the run, which ends `b` with its failure: `b`'s cleanup
    // runs.
    let test = Test::new().taskfile(
        "a: while [ ! -f b-failed ]; do sleep 0.01; done; sleep 0.3; exit 1\n\
         b: touch b-failed; exit 1 [retries:1]\n\
         cleanup: echo cleaned [after_done:b]\n",
    );
    test.with_args(&[
        "run",
        "--fail-fast",
        "--jobs",
        "3",
        "--order",
        "file",
        "--retry-delay",
        "2",
    ])
    .status(1)
    .stdout_contains("cleanup: echo cleaned ............ PASSED")
    .stdout_contains("Run stopped after 1 failure: 1 passed, 2 failed, 0 skipped\n")
    .run();
}

// See: issue 13 (bad input never panics)
#[test]
fn a_timeout_too_long_to_represent_is_no_limit() {
    let test = Test::new().taskfile("a: true\nb: true [timeout:5000000000000000000]\n");
    test.with_args(&["run", "--timeout", "10000000000000000000", "--quiet"])
        .status(0)
        .stdout_starts_with("Run completed: 2 passed, 0 failed, 0 skipped\n")
        .run();
    let test = Test::new().file(
        "Taskfile.rhai",
        "task(\"a\", || { 1 + 1 }).timeout(5000000000000000000);\n",
    );
    test.with_args(&["run", "--quiet"])
        .status(0)
        .stdout_starts_with("Run completed: 1 passed, 0 failed, 0 skipped\n")
        .run();
}
