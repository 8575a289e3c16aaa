//! What a run takes from the history of its tasks: `[timeout:3xp95]`, and
//! `task.history` in a script's hooks and retry policy.

use crate::harness::Test;

/// A task that sleeps as long as the file `delay` says: its command, and
/// so its fingerprint, stays the same whatever it takes.
const SLEEPER: &str = "work: sleep \"$(cat delay)\" [timeout:3xp95]\n";

fn runs(test: &Test, delay: &str, times: usize) {
    std::fs::write(test.path().join("delay"), delay).unwrap();
    for _ in 0..times {
        test.with_args(&["run", "tasks.txt", "--quiet"])
            .status(0)
            .run();
    }
}

fn recorded_timeout(test: &Test, run: i64) -> Option<i64> {
    let db = rusqlite::Connection::open(test.path().join("taskrun.db")).unwrap();
    db.query_row(
        "SELECT timeout_ms FROM tasks WHERE run_id = ?1",
        [run],
        |row| row.get(0),
    )
    .unwrap()
}

#[test]
fn a_multiple_of_the_p95_applies_once_five_runs_passed_and_never_under_a_second() {
    let test = Test::new().taskfile(SLEEPER);
    // Four passed runs are not enough: the run's limit (none) applies.
    runs(&test, "0.05", 4);
    assert_eq!(recorded_timeout(&test, 4), None);
    // The fifth has 4 before it; the sixth has 5, and 3 × p95 of about
    // 50 ms is under a second, so a second it is (unless a loaded
    // machine made one of them take over a third of a second).
    runs(&test, "0.05", 2);
    assert_eq!(recorded_timeout(&test, 5), None);
    let db = rusqlite::Connection::open(test.path().join("taskrun.db")).unwrap();
    let longest: i64 = db
        .query_row(
            "SELECT MAX(duration_ms) FROM tasks WHERE run_id <= 5",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let sixth = recorded_timeout(&test, 6).unwrap();
    if 3 * longest < 1000 {
        assert_eq!(sixth, 1000);
    } else {
        assert!((1000..=3 * longest).contains(&sixth), "{sixth} ms");
    }
    std::fs::write(test.path().join("delay"), "30").unwrap();
    test.with_args(&["run", "tasks.txt"])
        .unmasked()
        .status(1)
        .stdout_contains("TIMEOUT")
        .stdout_contains("timed out after")
        .run();
    assert!(recorded_timeout(&test, 7).is_some_and(|limit| limit >= 1000));
}

#[test]
fn without_enough_history_the_runs_timeout_applies() {
    let test = Test::new().taskfile(SLEEPER);
    runs(&test, "0.05", 2);
    std::fs::write(test.path().join("delay"), "30").unwrap();
    test.with_args(&["run", "tasks.txt", "--timeout", "300ms"])
        .unmasked()
        .status(1)
        .stdout_contains("timed out after 0.3s")
        .run();
    // The same multiple in TOML and from a script.
    let toml = Test::new().file(
        "tasks.toml",
        "[[task]]\nname = \"work\"\ncommand = \"sleep 30\"\ntimeout = \"3xp95\"\n",
    );
    toml.with_args(&["run", "tasks.toml", "--timeout", "200ms"])
        .unmasked()
        .status(1)
        .stdout_contains("timed out after 0.2s")
        .run();
    let script = Test::new().file(
        "Taskfile.rhai",
        "task(\"work\", \"sleep 30\").timeout(\"3xp95\");\n",
    );
    script
        .with_args(&["run", "Taskfile.rhai", "--timeout", "200ms"])
        .unmasked()
        .status(1)
        .stdout_contains("timed out after 0.2s")
        .run();
}

#[test]
fn a_bad_multiple_is_a_spanned_error() {
    Test::new()
        .taskfile("work: true [timeout:0xp95]\n")
        .args(&["check", "tasks.txt"])
        .status(2)
        .stderr_contains("`0xp95` is not a multiple of the p95")
        .stderr_contains("tasks.txt:1:21")
        .run();
}

/// Hooks and the retry policy see `task.history`: the task's latest
/// outcomes, oldest first, and its p50 and p95 over its passed attempts.
#[test]
fn scripts_see_the_history_of_a_task() {
    let test = Test::new()
        .taskfile("flip: test \"$(cat result)\" = pass [retries: 1]\n")
        .file(
            "Taskfile.rhai",
            "fn on_start(task) {\n\
             \x20   let h = task.history;\n\
             \x20   print(`start ${task.name} ${task.attempt}: ${h.outcomes} ${h.samples} ${h.p50 != ()}`);\n\
             }\n\
             // Retry only a task that passed last time: a new breakage, not an old one.\n\
             fn should_retry(task) {\n\
             \x20   let outcomes = task.history.outcomes;\n\
             \x20   outcomes.len() > 0 && outcomes[outcomes.len() - 1] == \"passed\"\n\
             }\n",
        );
    let result = |text: &str| std::fs::write(test.path().join("result"), text).unwrap();
    result("pass");
    let first = test
        .with_args(&["run", "tasks.txt", "--quiet"])
        .status(0)
        .run();
    assert!(
        first.stderr.contains("start flip 1: [] 0 false"),
        "{}",
        first.stderr
    );
    result("fail");
    // It passed before: its failure is retried (and fails again).
    let second = test
        .with_args(&["run", "tasks.txt", "--quiet", "--retry-delay", "0"])
        .status(1)
        .run();
    assert!(
        second.stderr.contains("start flip 1: [\"passed\"] 1 true")
            && second.stderr.contains("start flip 2: [\"passed\"] 1 true"),
        "{}",
        second.stderr
    );
    // It failed last time: the policy declines the retry.
    let third = test
        .with_args(&["run", "tasks.txt", "--quiet", "--retry-delay", "0"])
        .status(1)
        .run();
    assert!(
        third
            .stderr
            .contains("start flip 1: [\"passed\", \"failed\"] 1 true")
            && !third.stderr.contains("start flip 2"),
        "{}",
        third.stderr
    );
    // `taskrun retry` asks the policy with the history before the run it
    // retries: run 2's failure came after a pass, run 3's after a failure.
    test.with_args(&["retry", "3", "--quiet"])
        .status(0)
        .stdout_contains("Not retried: flip (declined by should_retry)")
        .run();
    test.with_args(&["retry", "2", "--quiet", "--retry-delay", "0"])
        .status(1)
        .stdout_lacks("Not retried")
        .run();
}
