//! SIGINT, SIGTERM and a second Ctrl-C sent to a real `taskrun run`,
//! checked against its output, its exit status and the process table.

use std::time::{Duration, Instant};

use crate::harness::{Test, wait_for_processes, wait_until_gone};

fn send(child: &std::process::Child, signal: i32) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) only sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

#[test]
fn sigint_is_forwarded_and_the_run_ends_with_130() {
    let test = Test::new()
        .taskfile(
            "plain: sleep 972.1\n\
             tidy: trap 'echo cleaned > tidy.txt; exit 0' INT; sleep 972.1 & wait\n\
             background: sleep 972.1 & sleep 972.1\n\
             later: true [after:plain]\n\
             queued: true\n",
        )
        .args(&["run", "tasks.txt", "--jobs", "3"])
        .status(130)
        .stdout_starts_with(
            "Running with max 3 concurrent tasks...\n\nReceived SIGINT: stopping 3 running tasks (press Ctrl-C again to kill them now)...\n",
        )
        // Which running task ends first varies, so each line is looked for
        // on its own. The task that handled SIGINT and exited 0 is recorded
        // as what it did.
        .stdout_contains("plain: sleep 972.1 ............... CANCELED (…)")
        .stdout_contains("tidy: trap 'echo cleaned > t… .... PASSED (…)")
        .stdout_contains("background: sleep 972.1 & sl… .... CANCELED (…)")
        .stdout_contains("later ............................ SKIPPED (run interrupted)")
        .stdout_contains("queued ........................... SKIPPED (run interrupted)")
        .stdout_ends_with(
            "Run interrupted by SIGINT: 1 passed, 0 failed, 2 skipped, 2 canceled\nResults saved to: taskrun.db (run #1)\n",
        );
    let child = test.spawn();
    // The three sleeps of `plain` and `background` and the one of `tidy`,
    // which its shell starts once its trap is set.
    wait_for_processes(&["sleep", "972.1"], 4, Duration::from_secs(10));
    send(&child, libc::SIGINT);
    test.wait(child);
    assert_eq!(
        std::fs::read_to_string(test.path().join("tidy.txt")).unwrap(),
        "cleaned\n"
    );
    // `sleep &` in `sh -c` ignores SIGINT; it must not survive the run.
    assert_eq!(
        wait_until_gone("972.1", Duration::from_secs(1)),
        Vec::<String>::new()
    );
    // The database has the run as interrupted, with what each task did.
    let shown = test.exec(&["show", "--json"]);
    let run: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(run["run"]["status"], "interrupted", "{run}");
    assert_eq!(run["run"]["signal"], "SIGINT", "{run}");
    let statuses: Vec<(&str, &str)> = run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|task| {
            (
                task["name"].as_str().unwrap(),
                task["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("plain", "canceled"),
            ("tidy", "passed"),
            ("background", "canceled"),
            ("later", "skipped"),
            ("queued", "skipped"),
        ]
    );
}

#[test]
fn sigterm_ends_the_run_with_143() {
    let test = Test::new()
        .taskfile("a: sleep 972.2\n")
        .args(&["run", "tasks.txt"])
        .status(143)
        .stdout_contains("Received SIGTERM")
        .stdout_ends_with(
            "Run interrupted by SIGTERM: 0 passed, 0 failed, 0 skipped, 1 canceled\nResults saved to: taskrun.db (run #1)\n",
        );
    let child = test.spawn();
    wait_for_processes(&["sleep", "972.2"], 1, Duration::from_secs(10));
    send(&child, libc::SIGTERM);
    test.wait(child);
    assert_eq!(
        wait_until_gone("972.2", Duration::from_secs(1)),
        Vec::<String>::new()
    );
}

#[test]
fn tasks_that_ignore_the_signal_are_killed_after_the_grace_period() {
    let test = Test::new()
        .taskfile("stubborn: trap '' INT TERM; sleep 972.3\n")
        .args(&["run", "tasks.txt"])
        .status(130);
    let child = test.spawn();
    // The sleep itself, not its shell: once it runs, the trap is set.
    wait_for_processes(&["sleep", "972.3"], 1, Duration::from_secs(10));
    let start = Instant::now();
    send(&child, libc::SIGINT);
    test.wait(child);
    let waited = start.elapsed();
    assert!(waited >= taskrun::KILL_GRACE, "{waited:?}");
    assert!(
        waited < taskrun::KILL_GRACE + Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(
        wait_until_gone("972.3", Duration::from_secs(1)),
        Vec::<String>::new()
    );
}

#[test]
fn a_second_sigint_kills_at_once() {
    let test = Test::new()
        .taskfile("stubborn: trap '' INT TERM; sleep 972.4\n")
        .args(&["run", "tasks.txt"])
        .status(130)
        .stdout_contains("CANCELED");
    let child = test.spawn();
    // The sleep itself, not its shell: once it runs, the trap is set.
    wait_for_processes(&["sleep", "972.4"], 1, Duration::from_secs(10));
    let start = Instant::now();
    send(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(200));
    send(&child, libc::SIGINT);
    test.wait(child);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        wait_until_gone("972.4", Duration::from_secs(1)),
        Vec::<String>::new()
    );
}
