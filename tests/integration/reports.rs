//! Reports for programs and people: `--events`, `--output`, `--log-dir`,
//! `--junit`, `show --junit` and `--dry-run`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Test, assert_contains, masked, untimed, wait_for_processes};

/// Every line of an events file, parsed; each must be a JSON object with
/// an `event` key.
fn events_of(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
            assert!(value["event"].is_string(), "no `event` key: {line}");
            value
        })
        .collect()
}

/// The events about one task, as `kind key=value…` strings with the keys
/// that do not vary between runs.
fn story(events: &[Value], task: &str) -> Vec<String> {
    events
        .iter()
        .filter(|event| event["task"] == task)
        .map(|event| {
            let mut line = event["event"].as_str().unwrap().to_owned();
            for key in [
                "attempt",
                "line",
                "status",
                "exit_code",
                "signal",
                "reason",
                "retries",
                "stdout_bytes",
                "stderr_bytes",
            ] {
                if let Some(value) = event.get(key).filter(|value| !value.is_null()) {
                    line.push_str(&format!(" {key}={value}"));
                }
            }
            line
        })
        .collect()
}

const FLAKY: &str = "flaky: n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; \
    [ $n -ge 2 ] || { echo \"down $n\" >&2; exit 7; }; printf 'up\\nno-newline' [retries:1]\n\
    broken: echo bad >&2; exit 3\n\
    never: true [after:broken]\n";

#[test]
fn events_file_has_the_whole_run_as_json_lines() {
    // The events go to the file; the progress still goes to the terminal.
    let test = Test::new()
        .taskfile(FLAKY)
        .args(&[
            "run",
            "tasks.txt",
            "--jobs",
            "1",
            "--retry-delay",
            "0.01",
            "--events",
            "events.jsonl",
        ])
        .status(1)
        .stdout_contains("Run completed: 1 passed, 1 failed, 1 skipped");
    test.run();
    let written = std::fs::read_to_string(test.path().join("events.jsonl")).unwrap();
    let events = events_of(&written);

    let first = &events[0];
    assert_eq!(first["event"], "run_started");
    assert_eq!(
        (&first["run"], &first["tasks"], &first["jobs"]),
        (&1.into(), &3.into(), &1.into())
    );
    assert!(first["time"].as_f64().unwrap() > 1.7e9, "{first}");

    assert_eq!(
        story(&events, "flaky"),
        [
            "task_started attempt=1",
            "stderr line=\"down 1\"",
            "retrying attempt=1 status=\"failed\" exit_code=7 retries=1 stdout_bytes=0 stderr_bytes=7",
            "task_started attempt=2",
            "stdout line=\"up\"",
            "stdout line=\"no-newline\"",
            "task_finished attempt=2 status=\"passed\" exit_code=0 stdout_bytes=13 stderr_bytes=0",
        ]
    );
    let retrying = events
        .iter()
        .find(|event| event["event"] == "retrying")
        .unwrap();
    assert!(retrying["delay_ms"].is_u64(), "{retrying}");
    assert_eq!(
        story(&events, "broken"),
        [
            "task_started attempt=1",
            "stderr line=\"bad\"",
            "task_finished attempt=1 status=\"failed\" exit_code=3 stdout_bytes=0 stderr_bytes=4",
        ]
    );
    assert_eq!(
        story(&events, "never"),
        ["task_skipped reason=\"dependency failed: broken\""]
    );
    for finished in events
        .iter()
        .filter(|event| event["event"] == "task_finished")
    {
        assert!(finished["duration_ms"].is_u64(), "{finished}");
    }

    let last = events.last().unwrap();
    assert_eq!(last["event"], "run_finished");
    for (key, value) in [
        ("run", 1),
        ("passed", 1),
        ("failed", 1),
        ("skipped", 1),
        ("canceled", 0),
    ] {
        assert_eq!(last[key], value, "{key} in {last}");
    }
    assert!(last["interrupted_by"].is_null());
    assert!(last["duration_ms"].is_u64());
}

#[test]
fn events_on_standard_output_send_the_progress_to_standard_error() {
    let output = Test::new()
        .taskfile("greet: echo hello; echo warning >&2\n")
        .args(&["run", "tasks.txt", "--events", "-"])
        .status(0)
        .stderr_contains("[1/1] greet: echo hello; echo warn… .... PASSED")
        .stderr_contains("Run completed: 1 passed, 0 failed, 0 skipped\n")
        .run();
    let events = events_of(&output.stdout);
    assert_eq!(
        story(&events, "greet"),
        [
            "task_started attempt=1",
            "stdout line=\"hello\"",
            "stderr line=\"warning\"",
            "task_finished attempt=1 status=\"passed\" exit_code=0 stdout_bytes=6 stderr_bytes=8",
        ]
    );
}

/// Another program can follow the run: a line is in the file while its
/// task is still running.
#[test]
fn events_are_flushed_as_they_happen() {
    let test = Test::new()
        .taskfile("wait: echo ready; while [ ! -e go ]; do sleep 0.01; done; echo done\n");
    let test = test.args(&["run", "tasks.txt", "--events", "events.jsonl"]);
    let child = test.spawn();
    let file = test.path().join("events.jsonl");
    let start = Instant::now();
    let mut seen = false;
    while start.elapsed() < Duration::from_secs(20) {
        let written = std::fs::read_to_string(&file).unwrap_or_default();
        if written.contains(r#""line":"ready""#) {
            seen = written.ends_with('\n') && !written.contains("task_finished");
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::fs::write(test.path().join("go"), "").unwrap();
    let output = test.wait(child);
    assert!(seen, "the `ready` line was not written while the task ran");
    assert_eq!(output.status, 0, "{}", output.stderr);
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(story(&events_of(&written), "wait").contains(&"stdout line=\"done\"".to_owned()));
}

#[test]
fn an_interrupted_run_has_its_cancellations_in_the_events() {
    let test = Test::new()
        .taskfile("slow: sleep 973.4\nlater: true [after:slow]\n")
        .args(&["run", "tasks.txt", "--events", "events.jsonl"])
        .status(130);
    let child = test.spawn();
    wait_for_processes(&["sleep", "973.4"], 1, Duration::from_secs(10));
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) only sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    test.wait(child);
    let written = std::fs::read_to_string(test.path().join("events.jsonl")).unwrap();
    let events = events_of(&written);
    let interrupted = events
        .iter()
        .find(|event| event["event"] == "interrupted")
        .unwrap();
    assert_eq!(
        (&interrupted["signal"], &interrupted["running"]),
        (&"SIGINT".into(), &1.into())
    );
    assert_eq!(
        story(&events, "slow"),
        [
            "task_started attempt=1",
            "task_finished attempt=1 status=\"canceled\" signal=\"SIGINT\" stdout_bytes=0 stderr_bytes=0",
        ]
    );
    assert_eq!(
        story(&events, "later"),
        ["task_skipped reason=\"run interrupted\""]
    );
    let last = events.last().unwrap();
    assert_eq!(
        (&last["interrupted_by"], &last["canceled"]),
        (&"SIGINT".into(), &1.into())
    );
}

#[test]
fn events_file_that_cannot_be_written_is_an_error_before_the_run() {
    let test = Test::new()
        .taskfile("mark: touch ran\n")
        .args(&["run", "tasks.txt", "--events", "missing/dir/events.jsonl"])
        .status(2)
        .stderr_contains("run::cannot_write")
        .stderr_contains("missing/dir/events.jsonl");
    test.run();
    assert!(!test.path().join("ran").exists());
}

#[test]
fn stream_output_prefixes_every_line_and_keeps_the_streams_apart() {
    Test::new()
        .taskfile(
            "first: echo one; echo oops >&2; printf 'two'\n\
             second: echo three [after:first]\n",
        )
        .args(&["run", "tasks.txt", "--output", "stream", "--jobs", "1"])
        .status(0)
        .stdout(
            "Running with max 1 concurrent task...\n\
             first | one\n\
             first | two\n\
             [1/2] first: echo one; echo oops >… .... PASSED (…)\n\
             second | three\n\
             [2/2] second: echo three ............... PASSED (…)\n\
             \n\
             Run completed: 2 passed, 0 failed, 0 skipped\n\
             Results saved to: taskrun.db (run #1)\n",
        )
        .stderr("first | oops\n")
        .run();
}

/// Two tasks writing their lines in pieces at the same time: every line
/// printed is whole, and none is lost.
#[test]
fn concurrent_lines_never_mix() {
    let writer = |name: &str| {
        format!(
            "{name}: i=0; while [ $i -lt 150 ]; do printf '{name}-'; printf '%s' $i; \
             printf -- '-end\\n'; i=$((i+1)); done\n"
        )
    };
    let test = Test::new().taskfile(format!("{}{}", writer("left"), writer("right")));
    for mode in ["stream", "grouped"] {
        let output = test
            .with_args(&["run", "tasks.txt", "--output", mode, "--jobs", "2"])
            .status(0)
            .run();
        for name in ["left", "right"] {
            let lines: Vec<&str> = output
                .stdout
                .lines()
                .filter(|line| line.starts_with(&format!("{name} |")))
                .collect();
            let expected: Vec<String> = (0..150)
                .map(|i| format!("{name} | {name}-{i}-end"))
                .collect();
            assert_eq!(lines, expected, "{mode}");
        }
        if mode == "grouped" {
            // Each task's lines are together, right before its result.
            let written = masked(&output.stdout);
            for name in ["left", "right"] {
                let block: String = (0..150)
                    .map(|i| format!("{name} | {name}-{i}-end\n"))
                    .collect();
                assert_contains(&written, &format!("{block}["));
            }
        }
    }
}

#[test]
fn grouped_output_prints_each_task_whole_when_it_ends() {
    // `quick` ends first, so its block comes first, though `slow` printed
    // its first line before.
    Test::new()
        .taskfile(
            "slow: echo s1; sleep 0.3; echo s2\n\
             quick: echo q1; echo q-err >&2\n",
        )
        .args(&["run", "tasks.txt", "--output", "grouped", "--jobs", "2"])
        .status(0)
        .stdout_starts_with(
            "Running with max 2 concurrent tasks...\n\
             quick | q1\n\
             [1/2] quick: echo q1; echo q-err >… .... PASSED (…)\n\
             slow | s1\n\
             slow | s2\n\
             [2/2] slow: echo s1; sleep 0.3; ec… .... PASSED (…)\n",
        )
        .stderr("quick | q-err\n")
        .run();
}

#[test]
fn log_dir_has_each_task_whole_and_the_run() {
    let test = Test::new().taskfile(
        "loud: i=0; while [ $i -lt 3000 ]; do echo \"line $i\"; i=$((i+1)); done; echo warn >&2\n\
         broken: exit 4\n\
         never: true [after:broken]\n",
    );
    // The database keeps 1 KiB of output; the log keeps all of it.
    let args = [
        "run",
        "tasks.txt",
        "--log-dir",
        "logs",
        "--max-output",
        "1KiB",
        "-q",
    ];
    test.with_args(&args).status(1).run();
    let logs = test.path().join("logs");
    // Every line of every log begins with its time (checked by `untimed`).
    let read = |name: &str| untimed(&std::fs::read_to_string(logs.join(name)).unwrap());
    let loud = read("tasks/loud.log");
    let lines: Vec<&str> = loud.lines().collect();
    assert_eq!(lines[0], "# run #1 task loud attempt 1 started");
    assert!(
        lines[1].starts_with("# command: i=0; while"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "out| line 0");
    assert_eq!(lines[3001], "out| line 2999");
    assert_eq!(lines[3002], "err| warn");
    assert_eq!(
        masked(lines[3003]),
        "# exit code 0, passed in … (attempt 1)"
    );
    assert_eq!(lines.len(), 3004);
    let broken = read("tasks/broken.log");
    assert_contains(&broken, "\n# exit code 4, failed in ");
    assert!(!logs.join("tasks/never.log").exists());
    let run = masked(&read("run.log"));
    let mut run_lines: Vec<&str> = run.lines().collect();
    // The tasks start and end in an order of their own; sorted:
    run_lines[1..6].sort_unstable();
    assert_eq!(
        run_lines,
        [
            "run #1 started",
            "failed broken: exit code 4, failed in … (attempt 1)",
            "passed loud: exit code 0, passed in … (attempt 1)",
            "skipped never: dependency failed: broken",
            "started broken (attempt 1)",
            "started loud (attempt 1)",
            "run finished in …: 1 passed, 1 failed, 1 skipped",
        ]
    );

    // A second run appends to the same files.
    test.with_args(&args).status(1).run();
    let broken = read("tasks/broken.log");
    assert_contains(&broken, "# run #1 task broken attempt 1 started\n");
    assert_contains(&broken, "# run #2 task broken attempt 1 started\n");
    let run = read("run.log");
    assert_contains(&run, "\nrun #2 started\n");
}

#[test]
fn log_dir_records_every_attempt() {
    let test = Test::new()
        .taskfile(FLAKY)
        .args(&[
            "run",
            "tasks.txt",
            "--retry-delay",
            "0.01",
            "--log-dir",
            "logs",
        ])
        .status(1);
    test.run();
    let flaky = masked(&untimed(
        &std::fs::read_to_string(test.path().join("logs/tasks/flaky.log")).unwrap(),
    ));
    let without_headers: Vec<&str> = flaky
        .lines()
        .filter(|line| !line.starts_with("# run") && !line.starts_with("# command"))
        .collect();
    assert_eq!(
        without_headers,
        [
            "err| down 1",
            "# exit code 7, failed in … (attempt 1)",
            "out| up",
            "out| no-newline",
            "# exit code 0, passed in … (attempt 2)",
        ]
    );
}

/// A run with a task of each kind, and its JUnit report parsed as XML.
#[test]
fn junit_report_has_a_testcase_per_task() {
    let test = Test::new().taskfile(
        "good: echo fine\n\
         bad: echo 'value < 3 & \"quoted\"' >&2; exit 2\n\
         slow: sleep 5 [timeout:200ms]\n\
         never: true [after:bad]\n",
    );
    test.with_args(&["run", "tasks.txt", "--junit", "report.xml"])
        .status(1)
        .run();
    let written = std::fs::read_to_string(test.path().join("report.xml")).unwrap();
    // The same report byte for byte, its times and paths too.
    test.with_args(&["show", "--junit"])
        .unmasked()
        .status(0)
        .stdout(&written)
        .run();

    let xml = roxmltree::Document::parse(&written).unwrap();
    let root = xml.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suite = root
        .children()
        .find(|node| node.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("name"), Some("tasks.txt"));
    for (key, value) in [
        ("tests", "4"),
        ("failures", "2"),
        ("errors", "0"),
        ("skipped", "1"),
    ] {
        assert_eq!(suite.attribute(key), Some(value), "{key}");
    }
    let cases: Vec<_> = suite
        .children()
        .filter(|node| node.has_tag_name("testcase"))
        .collect();
    let names: Vec<_> = cases
        .iter()
        .filter_map(|case| case.attribute("name"))
        .collect();
    assert_eq!(names, ["good", "bad", "slow", "never"]);
    for case in &cases {
        assert_eq!(case.attribute("classname"), Some("tasks.txt"));
        assert!(case.attribute("time").unwrap().parse::<f64>().is_ok());
    }
    let child = |case: usize, tag: &str| cases[case].children().find(|node| node.has_tag_name(tag));
    assert!(child(0, "failure").is_none() && child(0, "skipped").is_none());
    assert_eq!(child(0, "system-out").unwrap().text(), Some("fine\n"));
    let failure = child(1, "failure").unwrap();
    assert_eq!(failure.attribute("message"), Some("exit code 2"));
    assert_eq!(
        failure.text(),
        Some("exit code 2\nvalue < 3 & \"quoted\"\n")
    );
    let timeout = child(2, "failure").unwrap();
    assert_eq!(timeout.attribute("type"), Some("timeout"));
    assert_eq!(
        timeout.attribute("message"),
        Some("timed out after 0.2s (killed by SIGTERM)")
    );
    assert_eq!(
        child(3, "skipped").unwrap().attribute("message"),
        Some("dependency failed: bad")
    );
}

#[test]
fn junit_of_a_retried_task_reports_its_last_attempt() {
    let test = Test::new().taskfile(FLAKY);
    test.with_args(&["run", "tasks.txt", "--retry-delay", "0.01"])
        .status(1)
        .run();
    let shown = test.exec(&["show", "1", "--junit"]);
    let xml = roxmltree::Document::parse(&shown.stdout).unwrap();
    let cases: Vec<_> = xml
        .descendants()
        .filter(|node| node.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 3);
    let flaky = cases
        .iter()
        .find(|case| case.attribute("name") == Some("flaky"))
        .unwrap();
    assert!(flaky.children().all(|node| !node.has_tag_name("failure")));
}

#[test]
fn dry_run_prints_the_start_order_and_runs_nothing() {
    let test = Test::new().taskfile(
        "pool db 1\n\
         migrate: touch ran [pool:db]\n\
         seed: touch ran [pool:db]\n\
         build: touch ran\n\
         test: touch ran [after:build]\n\
         report: touch ran [after_done:test]\n",
    );
    test.with_args(&["run", "tasks.txt", "--dry-run", "--jobs", "2"])
        .status(0)
        .stdout(
            "Would start 5 tasks, at most 2 at once, the longest chain of work first \
             (no history yet: each task counts the same):\n\
             \x20 1. build: touch ran\n\
             \x20 2. migrate: touch ran  (pool db)\n\
             \x20 3. test: touch ran  (after build)\n\
             \x20 4. seed: touch ran  (pool db)\n\
             \x20 5. report: touch ran  (after test end)\n\
             Longest chain: build → test → report\n",
        )
        .run();
    assert!(!test.path().join("ran").exists());
    assert!(!test.path().join("taskrun.db").exists());

    test.with_args(&["run", "tasks.txt", "--dry-run", "--task", "test"])
        .stdout_contains("Would start 2 tasks")
        .stdout_contains("2. test: touch ran  (after build)\n")
        .run();
    test.with_args(&[
        "run",
        "tasks.txt",
        "--dry-run",
        "--jobs",
        "2",
        "--order",
        "file",
    ])
    .stdout(
        "Would start 5 tasks, at most 2 at once, each as soon as it is ready \
             (no history yet: each task counts the same):\n\
             \x20 1. migrate: touch ran  (pool db)\n\
             \x20 2. build: touch ran\n\
             \x20 3. seed: touch ran  (pool db)\n\
             \x20 4. test: touch ran  (after build)\n\
             \x20 5. report: touch ran  (after test end)\n\
             Longest chain: build → test → report\n",
    )
    .run();
}

/// Each task's log is closed when the task ends: 400 tasks log under a
/// limit of 128 open files.
#[test]
fn log_files_are_closed_as_tasks_end() {
    let tasks: String = (0..400).map(|i| format!("t{i}: echo {i}\n")).collect();
    let test = Test::new().taskfile(tasks);
    let output = crate::harness::command_for("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -n 128 && exec {} run tasks.txt --jobs 2 --log-dir logs --quiet",
            crate::harness::binary().display()
        ))
        .current_dir(test.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let log = untimed(&std::fs::read_to_string(test.path().join("logs/tasks/t399.log")).unwrap());
    assert_eq!(log.lines().nth(2), Some("out| 399"));
}

/// A task named `run` has its own log, apart from the run's.
#[test]
fn a_task_named_run_does_not_write_into_the_run_log() {
    let test = Test::new()
        .taskfile("run: echo from-the-task\n")
        .args(&["run", "tasks.txt", "--log-dir", "logs", "--quiet"])
        .status(0);
    test.run();
    let task = untimed(&std::fs::read_to_string(test.path().join("logs/tasks/run.log")).unwrap());
    assert_contains(&task, "\nout| from-the-task\n");
    let run = untimed(&std::fs::read_to_string(test.path().join("logs/run.log")).unwrap());
    assert!(!run.contains("from-the-task"), "{run}");
    assert!(run.starts_with("run #1 started\n"), "{run}");
}

/// Interrupted while a task waits for its retry: the task ends with the
/// attempt already shown, which is not shown or logged again.
#[test]
fn an_interrupted_retry_wait_shows_the_attempt_once() {
    let test = Test::new().taskfile("flaky: echo once; exit 1 [retries:5]\n");
    let test = test.args(&[
        "run",
        "tasks.txt",
        "--output",
        "grouped",
        "--retry-delay",
        "60",
        "--events",
        "events.jsonl",
        "--log-dir",
        "logs",
    ]);
    let test = test.status(130);
    let child = test.spawn();
    let events = test.path().join("events.jsonl");
    let start = Instant::now();
    while !std::fs::read_to_string(&events)
        .unwrap_or_default()
        .contains("\"retrying\"")
    {
        assert!(start.elapsed() < Duration::from_secs(20), "no retry");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) only sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let output = test.wait(child);
    assert_eq!(
        output.stdout.matches("flaky | once").count(),
        1,
        "{}",
        output.stdout
    );
    let log = untimed(&std::fs::read_to_string(test.path().join("logs/tasks/flaky.log")).unwrap());
    assert_eq!(log.matches("# exit code 1").count(), 1, "{log}");
    let run = untimed(&std::fs::read_to_string(test.path().join("logs/run.log")).unwrap());
    assert_eq!(run.matches("failed flaky: exit code 1").count(), 1, "{run}");
    assert_contains(&run, "\ninterrupted by SIGINT\n");
    let written = std::fs::read_to_string(&events).unwrap();
    let finished: Vec<Value> = events_of(&written)
        .into_iter()
        .filter(|event| event["event"] == "task_finished")
        .collect();
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["attempt"], 1);
}
