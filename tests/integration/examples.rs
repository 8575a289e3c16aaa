//! Every file in `examples/` is exercised: the task files are valid, each
//! broken one in `examples/errors/` fails as the book shows, every example
//! runs with a JUnit report that CI would take, and the Rust example
//! (`examples/embed.rs`, built by `cargo test`) runs.

use std::path::PathBuf;

use crate::harness::{Test, book_text, root};
use crate::junit::assert_valid_junit;

fn files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        // Rust examples are built and run by cargo, not taskrun.
        .filter(|path| path.is_file() && path.extension().is_none_or(|extension| extension != "rs"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_task_file_is_valid() {
    let examples = files("examples");
    assert!(!examples.is_empty());
    for path in examples {
        Test::new()
            .args(&["check", path.to_str().unwrap()])
            .status(0)
            .run();
    }
}

#[test]
fn every_broken_example_fails_and_is_shown_in_the_book() {
    let book = book_text();
    for path in files("examples/errors") {
        let relative = path
            .strip_prefix(root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        Test::new()
            .args(&["check", path.to_str().unwrap()])
            .status(2)
            .run();
        assert!(
            book.contains(&format!("$ taskrun check {relative}")),
            "{relative} is not shown in the book"
        );
    }
}

/// The README shows the example pipeline as it is.
#[test]
fn readme_shows_the_example_pipeline_verbatim() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let pipeline = std::fs::read_to_string(root().join("examples/pipeline.txt")).unwrap();
    assert!(
        readme.contains(&pipeline),
        "README.md must quote examples/pipeline.txt verbatim"
    );
    assert!(readme.contains("cargo run --release -- run examples/pipeline.txt\ncargo test\n"));
}

/// Every example runs, with the exit status its comments promise, and
/// its JUnit report is valid.
#[test]
fn every_example_runs() {
    for path in files("examples") {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let expected = match name.as_str() {
            "failure.txt" | "timeout.txt" | "reports.txt" | "release.txt" => 1,
            _ => 0,
        };
        let test = Test::new();
        // What an example keeps in the temporary directory (what
        // `flaky.txt` counts) is the test's own, so each starts afresh.
        test.with_args(&[
            "run",
            path.to_str().unwrap(),
            "--timeout",
            "3",
            "--junit",
            "report.xml",
        ])
        .env("TMPDIR", test.path())
        .status(expected)
        .run();
        assert_valid_junit(&test.path().join("report.xml"));
    }
}

/// Every scripted example (`examples/*/Taskfile.rhai`) checks and runs,
/// with the exit status its comments promise.
#[test]
fn every_scripted_example_runs() {
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path().join("Taskfile.rhai"))
        .filter(|path| path.is_file())
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 3, "{scripts:?}");
    for path in scripts {
        let name = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let test = Test::new();
        let script = path.to_str().unwrap();
        test.with_args(&["check", script]).status(0).run();
        let expected = match name.as_str() {
            // `lint` fails for good in the flaky example, `docs` in the
            // hooks example: both on purpose.
            "flaky" | "hooks" => 1,
            _ => 0,
        };
        test.with_args(&[
            "run",
            script,
            "--retry-delay",
            "0.01",
            "--junit",
            "report.xml",
        ])
        .status(expected)
        .run();
        assert_valid_junit(&test.path().join("report.xml"));
        if name == "hooks" {
            let summary = std::fs::read_to_string(test.path().join("summary.md")).unwrap();
            assert!(summary.contains("- passed: 2\n- failed: 1\n"), "{summary}");
        }
    }
}

/// `examples/embed.rs`, the library example the book shows, built by
/// `cargo test` beside the binary.
#[test]
fn the_library_example_runs_a_task_file() {
    let example = crate::harness::binary()
        .parent()
        .unwrap()
        .join("examples/embed");
    let run = |file: &str| {
        crate::harness::command_for(&example)
            .arg(root().join(file))
            .output()
            .expect("the example is built by `cargo test`")
    };
    let output = run("examples/failure.txt");
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in [
        "started  compile\n",
        "failed   compile (exit code 1; 66 bytes of output)\n",
        "skipped  link (dependency failed: compile)\n",
        "passed   docs (exit code 0; 36 bytes of output)\n",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
    assert!(
        stdout.ends_with("1 passed, 1 failed, 3 skipped\n"),
        "{stdout}"
    );
    let broken = run("examples/errors/cycle.txt");
    assert_eq!(broken.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(
        stderr.contains("graph::cycle") && stderr.contains("cycle.txt:1:31"),
        "{stderr}"
    );
}

/// `examples/broker.rs`, the broker example the book shows: two clients,
/// a queue too small for a burst, a cancelled task.
#[test]
fn the_broker_example_rejects_waits_and_cancels() {
    let example = crate::harness::binary()
        .parent()
        .unwrap()
        .join("examples/broker");
    let output = crate::harness::command_for(&example)
        .output()
        .expect("the example is built by `cargo test`");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    // Six records in a burst: at most two run and two wait, so at least
    // two are turned away, and each is sent again.
    let rejected = stdout.matches(" rejected: the queue is full").count();
    assert!(rejected >= 2, "{stdout}");
    assert_eq!(
        stdout.matches(" queued after waiting").count(),
        rejected,
        "{stdout}"
    );
    for n in 1..=6 {
        assert!(
            stdout.contains(&format!("ingest: record_{n} | stored {n}\n")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("ingest: record_{n} passed\n")),
            "{stdout}"
        );
    }
    for line in [
        "ingest: record_3 failed (exit code 1), retrying in ",
        "ui: render | rendering\n",
        "ui: render canceled\n",
        "ui: publish skipped (dependency failed: render)\n",
    ] {
        assert!(stdout.contains(line), "{line}\n{stdout}");
    }
    assert!(!stdout.contains("published"), "{stdout}");
    // The global log, mirrored line by line: an ISO 8601 time, the event.
    let logged: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("log | "))
        .collect();
    for line in &logged {
        let (stamp, _) = line.split_once(' ').unwrap();
        assert!(stamp.len() == 24 && stamp.ends_with('Z'), "{line}");
    }
    let events: Vec<&str> = logged.iter().map(|line| &line[25..]).collect();
    assert_eq!(events[0], "broker started: 2 jobs", "{stdout}");
    for event in [
        "started render (attempt 1)",
        "skipped publish: dependency failed: render",
        "started record_3 (attempt 2)",
    ] {
        assert!(events.contains(&event), "{event}\n{stdout}");
    }
    assert!(
        events[events.len() - 1].ends_with(": 6 passed, 0 failed, 1 skipped, 1 canceled"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("broker: 6 passed, 0 failed, 1 skipped, 1 canceled\n"),
        "{stdout}"
    );
}
