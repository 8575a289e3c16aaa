//! The JUnit report as CI systems take it: valid by the project's schema
//! (`tests/junit/junit.xsd`, what Jenkins' strict schema allows), with
//! names that stay the same from run to run so that CI can follow a test.
//!
//! Validation needs `xmllint` (Debian's libxml2-utils). Where it is not
//! installed a check says `skipped: xmllint is not installed`, unless
//! `TASKRUN_REQUIRE_XMLLINT` is set (CI sets it), when it fails.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::harness::{Test, command, root, wait_for_processes};

/// Asserts that the JUnit report at `file` is valid by
/// `tests/junit/junit.xsd`, as `xmllint` checks it.
#[track_caller]
pub(crate) fn assert_valid_junit(file: &Path) {
    let schema = root().join("tests/junit/junit.xsd");
    let Ok(output) = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(file)
        .output()
    else {
        assert!(
            std::env::var_os("TASKRUN_REQUIRE_XMLLINT").is_none(),
            "xmllint is not installed, and TASKRUN_REQUIRE_XMLLINT is set"
        );
        eprintln!("skipped: xmllint is not installed");
        return;
    };
    assert!(
        output.status.success(),
        "{} is not valid by {}:\n{}\n{}",
        file.display(),
        schema.display(),
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
}

/// The host name, as taskrun records it.
fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: gethostname writes at most `buffer.len()` bytes.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    assert_eq!(result, 0);
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

/// A run with a task that passed, one that failed, one that timed out,
/// one skipped because of a failure, one canceled by Ctrl-C and one that
/// never started because of it: its report is valid, the same from `show`,
/// and says why each task did not pass.
#[test]
fn a_run_with_every_kind_of_ending_has_a_valid_report() {
    let test = Test::new()
        .file(
            "ci/tasks.txt",
            "good: printf '\\033[1;32mok\\033[0m <fine> & done\\n'\n\
             bad: echo 'value < 3 & \"quoted\"' >&2; printf '\\033[31mred\\033[0m \\001\\n' >&2; exit 2\n\
             slow: sleep 5 [timeout:200ms]\n\
             never: true [after:bad]\n\
             held: sleep 981.37 [after_done:bad,slow]\n\
             queued: true [after:held]\n",
        )
        .args(&["run", "ci/tasks.txt", "--jobs", "4", "--junit", "report.xml"])
        .status(130);
    let child = test.spawn();
    // `held` starts once `bad` and `slow` have ended.
    wait_for_processes(&["sleep", "981.37"], 1, Duration::from_secs(10));
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) only sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    test.wait(child);

    let file = test.path().join("report.xml");
    let written = std::fs::read_to_string(&file).unwrap();
    assert_valid_junit(&file);
    test.with_args(&["show", "1", "--junit"])
        .unmasked()
        .status(0)
        .stdout(&written)
        .run();
    assert!(!written.contains('\u{1b}'), "{written}");

    let xml = roxmltree::Document::parse(&written).unwrap();
    let root = xml.root_element();
    assert_eq!(root.attribute("skipped"), None, "Jenkins refuses it here");
    let suite = root
        .children()
        .find(|node| node.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("name"), Some("tasks.txt"));
    assert_eq!(suite.attribute("hostname"), Some(host_name().as_str()));
    let timestamp = suite.attribute("timestamp").unwrap();
    assert!(
        timestamp.len() == 20 && timestamp.ends_with('Z') && timestamp.as_bytes()[10] == b'T',
        "{timestamp}"
    );
    for (key, value) in [
        ("tests", "6"),
        ("failures", "3"),
        ("errors", "0"),
        ("skipped", "2"),
    ] {
        assert_eq!(suite.attribute(key), Some(value), "{key}");
    }
    let cases: Vec<_> = suite
        .children()
        .filter(|node| node.has_tag_name("testcase"))
        .collect();
    for case in &cases {
        assert_eq!(case.attribute("classname"), Some("ci/tasks.txt"));
    }
    let child = |case: usize, tag: &str| cases[case].children().find(|node| node.has_tag_name(tag));
    assert_eq!(
        child(0, "system-out").unwrap().text(),
        Some("ok <fine> & done\n")
    );
    // Each failure's text starts with why, then the task's stderr.
    let failure = |case: usize| {
        let failure = child(case, "failure").unwrap();
        (
            failure.attribute("type").unwrap(),
            failure.attribute("message").unwrap(),
            failure.text().unwrap(),
        )
    };
    assert_eq!(
        failure(1),
        (
            "failed",
            "exit code 2",
            "exit code 2\nvalue < 3 & \"quoted\"\nred \n"
        )
    );
    let why = "timed out after 0.2s (killed by SIGTERM)";
    assert_eq!(failure(2), ("timeout", why, &*format!("{why}\n")));
    let (kind, message, body) = failure(4);
    assert_eq!(kind, "canceled");
    assert!(body.starts_with(&format!("{message}\n")), "{body}");
    assert_eq!(
        child(3, "skipped").unwrap().attribute("message"),
        Some("dependency failed: bad")
    );
    assert_eq!(
        child(5, "skipped").unwrap().attribute("message"),
        Some("run interrupted")
    );
}

/// The class is the task file as it was named from where taskrun started,
/// kept with the run: the same for an absolute path, for a retry, and for
/// `show` run from elsewhere later.
#[test]
fn the_class_is_the_task_file_relative_to_where_taskrun_started() {
    let test = Test::new().file("ci/tasks.txt", "a: true\nb: false\n");
    let absolute = test.path().join("ci/tasks.txt");
    test.exec(&["run", "ci/tasks.txt", "--quiet"]);
    test.exec(&["run", absolute.to_str().unwrap(), "--quiet"]);
    test.exec(&["retry", "2", "--quiet"]);
    // From the task file's own directory, with the database elsewhere.
    let inside = command()
        .args(["run", "tasks.txt", "--quiet", "--db", "../taskrun.db"])
        .current_dir(test.path().join("ci"))
        .output()
        .unwrap();
    assert_eq!(inside.status.code(), Some(1));
    let report = |run: &str| {
        let shown = command()
            .args(["show", run, "--junit", "--db"])
            .arg(test.path().join("taskrun.db"))
            .current_dir("/")
            .output()
            .unwrap();
        String::from_utf8(shown.stdout).unwrap()
    };
    for (run, class) in [
        ("1", "ci/tasks.txt"),
        ("2", "ci/tasks.txt"),
        ("3", "ci/tasks.txt"),
        ("4", "tasks.txt"),
    ] {
        let xml = report(run);
        assert!(
            xml.contains("  <testsuite name=\"tasks.txt\" "),
            "run {run}: {xml}"
        );
        assert!(
            xml.contains(&format!("classname=\"{class}\"")),
            "run {run}: {xml}"
        );
    }
}

/// A task that wrote more than `--max-output`: its report, with the line
/// that says how much was left out, is valid too.
#[test]
fn a_report_with_cut_output_is_valid() {
    let test = Test::new().taskfile("noisy: seq 1 20000; seq 1 20000 >&2; exit 1\n");
    test.with_args(&[
        "run",
        "tasks.txt",
        "--max-output",
        "1K",
        "--junit",
        "report.xml",
        "--quiet",
    ])
    .status(1)
    .run();
    let file = test.path().join("report.xml");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("bytes left out"), "{written}");
    assert_valid_junit(&file);
}

/// A retried task's earlier attempts: `flakyFailure`s of one that passed
/// in the end, `rerunFailure`s of one that did not, each with what that
/// attempt wrote; the report is valid and counts each task once.
#[test]
fn earlier_attempts_are_flaky_or_rerun_failures() {
    let test = Test::new().taskfile(
        "flaky: test -e once || { touch once; echo 'first try <failed>' >&2; exit 4; } [retries: 2]\n\
         broken: echo \"try $$\" >&2; exit 1 [retries: 1]\n\
         fine: true\n",
    );
    test.with_args(&[
        "run",
        "tasks.txt",
        "--retry-delay",
        "0",
        "--junit",
        "report.xml",
        "--quiet",
    ])
    .status(1)
    .run();
    let file = test.path().join("report.xml");
    assert_valid_junit(&file);
    let written = std::fs::read_to_string(&file).unwrap();
    let xml = roxmltree::Document::parse(&written).unwrap();
    let case = |name: &str| {
        xml.descendants()
            .find(|node| node.has_tag_name("testcase") && node.attribute("name") == Some(name))
            .unwrap()
    };
    let elements = |name: &str| -> Vec<String> {
        case(name)
            .children()
            .filter(roxmltree::Node::is_element)
            .map(|node| node.tag_name().name().to_owned())
            .collect()
    };
    assert_eq!(elements("flaky"), ["flakyFailure"]);
    let flaky = case("flaky").first_element_child().unwrap();
    assert_eq!(flaky.attribute("type"), Some("failed"));
    assert_eq!(flaky.attribute("message"), Some("exit code 4"));
    assert_eq!(
        flaky.first_element_child().and_then(|err| err.text()),
        Some("first try <failed>\n")
    );
    assert_eq!(
        elements("broken"),
        ["rerunFailure", "failure", "system-err"]
    );
    assert!(elements("fine").is_empty());
    let suite = xml
        .descendants()
        .find(|node| node.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("tests"), Some("3"));
    assert_eq!(suite.attribute("failures"), Some("1"));
}
