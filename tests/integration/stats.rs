//! `taskrun stats`: per-task figures over recorded runs, checked against
//! runs of the real binary and against rows written with the sqlite3
//! client.

use crate::harness::{Test, assert_contains, root};
use crate::history::sqlite3;

/// A test directory holding `examples/flaky.txt`, run `runs` times.
fn flaky_runs(runs: usize) -> Test {
    let example = std::fs::read_to_string(root().join("examples/flaky.txt")).unwrap();
    let test = Test::new().file("flaky.txt", example);
    for _ in 0..runs {
        test.exec(&["run", "flaky.txt", "--retry-delay", "0", "--quiet"]);
    }
    test
}

#[test]
fn stats_tells_retried_and_flipping_tasks_from_steady_ones() {
    let test = flaky_runs(3);
    let output = test
        .with_args(&["stats", "--json"])
        .status(0)
        .unmasked()
        .run();
    let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(json["runs"], serde_json::json!([1, 2, 3]));
    let task = |name: &str| {
        json["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|task| task["name"] == name)
            .unwrap()
            .clone()
    };
    let (build, check, fetch) = (task("build"), task("check"), task("fetch"));
    assert_eq!(build["passed"], 3);
    assert_eq!(build["flaky"], false);
    // `check` passed, failed, passed: two flips.
    assert_eq!(
        (check["passed"].clone(), check["failed"].clone()),
        (2.into(), 1.into())
    );
    assert_eq!(check["flips"], 2);
    assert_eq!(check["flaky"], true);
    assert_eq!(check["samples"], 2, "durations are of passed attempts only");
    // `fetch` failed once in each run, then passed on its retry.
    assert_eq!(fetch["passed"], 3);
    assert_eq!(fetch["failed"], 0, "rates use the last attempt");
    assert_eq!(fetch["retried"], 3);
    assert!(fetch["p95_ms"].is_u64());
    // The rows the figures come from: in each run, a failed attempt of
    // `fetch` and then a passed one.
    if let Some(rows) = sqlite3(
        &test.path().join("taskrun.db"),
        "SELECT group_concat(status) FROM (SELECT status FROM tasks WHERE name = 'fetch' ORDER BY id)",
    ) {
        assert_eq!(rows.trim(), "failed,passed,failed,passed,failed,passed");
    }

    test.with_args(&["stats"])
        .status(0)
        .stdout_contains("Tasks of 3 runs (#1 to #3):\n")
        .stdout_contains("  check     3   67%   33%       0%  flipped 2x  ")
        .stdout_contains("  fetch     3  100%    0%       0%  retried 3x  ")
        .run();
}

#[test]
fn the_window_filters_and_orders_of_stats() {
    let test = flaky_runs(3);
    let names = |args: &[&str]| -> Vec<String> {
        let output = test.with_args(args).status(0).unmasked().run();
        output
            .stdout
            .lines()
            .skip(2)
            .map(|line| line.split_whitespace().next().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(names(&["stats"]), ["build", "check", "fetch"]);
    assert_eq!(names(&["stats", "--flaky"]), ["check", "fetch"]);
    assert_eq!(
        names(&["stats", "--flaky", "--sort", "flaky"]),
        ["fetch", "check"]
    );
    assert_eq!(
        names(&["stats", "--sort", "fail"]),
        ["check", "build", "fetch"]
    );
    assert_eq!(
        names(&["stats", "-t", "f*", "-t", "build"]),
        ["build", "fetch"]
    );
    // Over the last two runs `check` flipped only once: not flaky there.
    assert_eq!(names(&["stats", "--last", "2", "--flaky"]), ["fetch"]);
    test.with_args(&["stats", "--last", "1"])
        .stdout_starts_with("Tasks of 1 run (#3):\n")
        .run();
    // Runs that started long ago are out of `--since`.
    if sqlite3(
        &test.path().join("taskrun.db"),
        "UPDATE runs SET started_at = started_at - 30 * 86400 WHERE id < 3",
    )
    .is_some()
    {
        test.with_args(&["stats", "--since", "7d"])
            .stdout_starts_with("Tasks of 1 run (#3):\n")
            .run();
    }
}

#[test]
fn stats_in_the_openmetrics_format() {
    let test = flaky_runs(1);
    let exposition = test
        .with_args(&["stats", "--format", "openmetrics"])
        .status(0)
        .unmasked()
        .run()
        .stdout;
    assert!(exposition.ends_with("# EOF\n"), "{exposition}");
    for family in [
        "# TYPE taskrun_task_runs gauge\n",
        "# TYPE taskrun_task_duration_p50_seconds gauge\n",
        "# UNIT taskrun_task_duration_p50_seconds seconds\n",
        "# TYPE taskrun_task_duration_p95_seconds gauge\n",
        "# TYPE taskrun_task_duration_max_seconds gauge\n",
        "# TYPE taskrun_task_duration_samples gauge\n",
        "# TYPE taskrun_task_flaky gauge\n",
    ] {
        assert_contains(&exposition, family);
    }
    assert_contains(
        &exposition,
        "taskrun_task_runs{task=\"fetch\",status=\"passed\"} 1\n",
    );
    assert_contains(&exposition, "taskrun_task_flaky{task=\"fetch\"} 1\n");
    assert_contains(
        &exposition,
        "taskrun_task_duration_samples{task=\"build\"} 1\n",
    );
    // Every sample line is a name, labels and a number.
    for line in exposition.lines().filter(|line| !line.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(series.starts_with("taskrun_task_"), "{line}");
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}

#[test]
fn stats_without_history_and_with_a_bad_glob() {
    let test = Test::new();
    test.with_args(&["stats"])
        .status(0)
        .stdout("No runs recorded yet: `taskrun.db` does not exist.\n")
        .run();
    test.with_args(&["stats", "--json"])
        .status(0)
        .stdout_contains("\"tasks\": []")
        .run();
    assert!(
        !test.path().join("taskrun.db").exists(),
        "stats creates no database"
    );
    // A database whose runs have no task of that name.
    let test = test.taskfile("a: true\n");
    test.exec(&["run", "--quiet"]);
    test.with_args(&["stats", "--task", "nothing*"])
        .status(0)
        .stdout("Tasks of 1 run (#1):\n  (none)\n")
        .run();
    test.with_args(&["stats", "--task", "[oops"])
        .status(2)
        .stderr_contains("stats::bad_glob")
        .stderr_contains("`[oops` is not a task name or glob")
        .run();
    test.with_args(&["stats", "--json", "--format", "text"])
        .status(2)
        .run();
    test.with_args(&["stats", "--last", "0"]).status(2).run();
}
