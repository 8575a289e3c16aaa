//! In what order tasks start: learned from history, critical path first,
//! `--order file`, what `--dry-run` says, and when and where each attempt
//! ran.

use std::process::Command;

use crate::harness::Test;

/// Three short tasks written first, a long one written last.
const SKEWED: &str =
    "short1: sleep 0.05\nshort2: sleep 0.05\nshort3: sleep 0.05\nlong: sleep 0.4\n";

fn sqlite3(test: &Test, sql: &str) -> Option<String> {
    let Ok(output) = Command::new("sqlite3")
        .arg(test.path().join("taskrun.db"))
        .arg(sql)
        .output()
    else {
        eprintln!("skipped: the sqlite3 client is not installed");
        return None;
    };
    assert!(output.status.success());
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The order the last run's tasks started in, as recorded.
fn started(test: &Test) -> Option<String> {
    sqlite3(
        test,
        "SELECT group_concat(name, ' ') FROM (SELECT name FROM tasks
         WHERE run_id = (SELECT MAX(id) FROM runs) ORDER BY start_us)",
    )
}

#[test]
fn the_longest_task_starts_first_once_history_knows_it() {
    let test = Test::new().taskfile(SKEWED);
    // With no history every task counts the same: file order.
    test.with_args(&["run", "--jobs", "1", "--quiet"])
        .status(0)
        .run();
    if started(&test).is_none() {
        return;
    }
    assert_eq!(started(&test).unwrap(), "short1 short2 short3 long\n");
    test.with_args(&["run", "--dry-run", "--jobs", "1"])
        .status(0)
        .stdout_starts_with(
            "Would start 4 tasks, at most 1 at once, the longest chain of work first \
             (estimated from history):\n",
        )
        .stdout_contains("1. at  … for   …  long: sleep 0.4\n")
        // The short tasks follow in the order of what they took (by a
        // few milliseconds), which only the machine decides.
        .stdout_contains("short1: sleep 0.05\n")
        .stdout_contains("short2: sleep 0.05\n")
        .stdout_contains("short3: sleep 0.05\n")
        .stdout_contains("Estimated wall time")
        .stdout_contains("critical path: long)\n")
        .run();
    test.with_args(&["run", "--jobs", "1", "--quiet"])
        .status(0)
        .run();
    let order = started(&test).unwrap();
    let mut order: Vec<&str> = order.split_whitespace().collect();
    assert_eq!(order.first(), Some(&"long"), "{order:?}");
    order.sort_unstable();
    assert_eq!(order, ["long", "short1", "short2", "short3"]);
    // `--order file` leaves the history aside.
    test.with_args(&["run", "--jobs", "1", "--quiet", "--order", "file"])
        .status(0)
        .run();
    assert_eq!(started(&test).unwrap(), "short1 short2 short3 long\n");
}

#[test]
fn each_attempt_records_when_it_started_and_in_which_lane() {
    let test = Test::new().taskfile("a: sleep 0.2\nb: sleep 0.2\nc: sleep 0.1 [after:a]\n");
    test.with_args(&["run", "--jobs", "2", "--quiet"])
        .status(0)
        .run();
    let Some(rows) = sqlite3(
        &test,
        "SELECT name, slot, start_us >= 0, fingerprint IS NOT NULL FROM tasks ORDER BY position",
    ) else {
        return;
    };
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    // a and b start at once, in lanes 0 and 1; c takes a's lane after it.
    assert!(rows[0] == "a|0|1|1" || rows[0] == "a|1|1|1", "{rows:?}");
    assert!(rows[1] == "b|0|1|1" || rows[1] == "b|1|1|1", "{rows:?}");
    assert_ne!(rows[0].split('|').nth(1), rows[1].split('|').nth(1));
    let c_after_a = sqlite3(
        &test,
        "SELECT (SELECT start_us FROM tasks WHERE name = 'c')
              >= (SELECT start_us FROM tasks WHERE name = 'a') + 190000",
    )
    .unwrap();
    assert_eq!(c_after_a, "1\n");
}
