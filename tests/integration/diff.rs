//! `taskrun diff`: two recorded runs compared, task by task.

use crate::harness::Test;

/// The first run's tasks; the second changes each in its own way. Only
/// `slow` and `fast` pass in both runs, so only their durations can be
/// compared, whatever the machine's load does to the others.
const BEFORE: &str = "keep: true [after:stays]\n\
                      breaks: true\n\
                      heals: false\n\
                      stays: false\n\
                      cmd: echo one; exit 3\n\
                      gone: true\n\
                      slow: true\n\
                      fast: sleep 0.5\n\
                      dep: true [after:breaks]\n";

const AFTER: &str = "keep: true [after:stays]\n\
                     breaks: false\n\
                     heals: true\n\
                     stays: false\n\
                     cmd: echo two; exit 3\n\
                     new: true\n\
                     slow: sleep 0.5\n\
                     fast: true\n\
                     dep: true [after:breaks]\n";

fn two_runs() -> Test {
    let test = Test::new().taskfile(BEFORE);
    test.exec(&["run", "--quiet", "--jobs", "4"]);
    let test = test.taskfile(AFTER);
    test.exec(&["run", "--quiet", "--jobs", "4"]);
    test
}

#[test]
fn diff_puts_each_change_in_its_section_in_order() {
    let test = two_runs();
    let shown = test.with_args(&["diff"]).status(0).run().stdout;
    let sections = [
        "Run #1 → run #2\n",
        "New failures (1):\n  breaks: passed → failed (exit code 1)\n",
        "Fixed (1):\n  heals: failed → passed (exit code 0)\n",
        "Still failing (2):\n  stays: failed → failed (exit code 1)\n  cmd: failed → failed (exit code 3)\n",
        "Command changed (5):\n",
        "  cmd:\n    - echo one; exit 3\n    + echo two; exit 3\n",
        "Added (1): new\n",
        "Removed (1): gone\n",
        "Status changed (1):\n  dep: passed → skipped (dependency failed: breaks)\n",
        "Slower (1):\n  slow: ",
        "Faster (1):\n  fast: ",
        "Unchanged: 1\n",
    ];
    let mut from = 0;
    for section in sections {
        let Some(at) = shown[from..].find(section) else {
            panic!("{section:?} not after byte {from} of:\n{shown}");
        };
        from += at + section.len();
    }
}

#[test]
fn diff_for_scripts_and_for_ci() {
    let test = two_runs();
    let output = test
        .with_args(&["diff", "--json"])
        .status(0)
        .unmasked()
        .run();
    let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!((json["a"].clone(), json["b"].clone()), (1.into(), 2.into()));
    assert_eq!(json["new_failures"][0]["name"], "breaks");
    assert_eq!(json["new_failures"][0]["after"], "failed");
    assert_eq!(json["command_changed"][0]["before"], "true");
    assert_eq!(json["added"], serde_json::json!(["new"]));
    assert_eq!(json["slower"][0]["name"], "slow");
    assert!(json["slower"][0]["after_ms"].as_u64().unwrap() >= 400);
    assert_eq!(json["unchanged"], 1);
    // A new failure fails CI with --exit-code (the other way round, the
    // healed task is the new failure); without one it passes.
    test.with_args(&["diff", "--exit-code"]).status(1).run();
    test.with_args(&["diff", "2", "1", "--exit-code"])
        .status(1)
        .stdout_contains("New failures (1):\n  heals: passed → failed")
        .run();
    test.with_args(&["diff", "1", "1", "--exit-code"])
        .status(0)
        .stdout(
            "Run #1 → run #1\nStill failing (3):\n  heals: failed → failed (exit code 1)\n  \
             stays: failed → failed (exit code 1)\n  cmd: failed → failed (exit code 3)\n\
             Unchanged: 6\n",
        )
        .run();
}

#[test]
fn the_default_earlier_run_is_the_last_one_of_the_same_task_file() {
    let test = Test::new()
        .file("a.txt", "x: false\n")
        .file("b.txt", "y: true\n");
    test.exec(&["run", "a.txt", "--quiet"]);
    test.with_args(&["diff"])
        .status(2)
        .stderr_contains("history::no_earlier_run")
        .stderr_contains("run #1 has no earlier run of the same task file")
        .run();
    test.exec(&["run", "b.txt", "--quiet"]);
    test.exec(&["run", "a.txt", "--quiet"]);
    test.with_args(&["diff"])
        .status(0)
        .stdout("Run #1 → run #3\nStill failing (1):\n  x: failed → failed (exit code 1)\nUnchanged: 0\n")
        .run();
    test.with_args(&["diff", "last~1", "last"])
        .status(0)
        .stdout("Run #2 → run #3\nAdded (1): x\nRemoved (1): y\nUnchanged: 0\n")
        .run();
    test.with_args(&["diff", "last~5"])
        .status(2)
        .stderr_contains("history::unknown_run")
        .stderr_contains("no run `last~5` in `taskrun.db`: 3 runs are recorded")
        .run();
    Test::new()
        .args(&["diff"])
        .status(2)
        .stderr_contains("history::missing")
        .run();
}

#[test]
fn a_retry_is_compared_with_the_run_it_retried() {
    let test = Test::new().taskfile("ok: true\nflaky: test -e healed\n");
    test.exec(&["run", "--quiet"]);
    std::fs::write(test.path().join("healed"), "").unwrap();
    test.exec(&["retry", "last", "--quiet"]);
    // The retry ran `flaky` alone: `ok` is not removed.
    test.with_args(&["diff"])
        .status(0)
        .stdout(
            "Run #1 → run #2\nFixed (1):\n  flaky: failed → passed (exit code 0)\nUnchanged: 0\n",
        )
        .run();
    // The next full run is compared with run #1, not with the retry.
    test.exec(&["run", "--quiet"]);
    test.with_args(&["diff"])
        .status(0)
        .stdout_starts_with("Run #1 → run #3\nFixed (1):\n")
        .run();
}
