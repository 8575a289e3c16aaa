//! A recorded run as JUnit XML, the report CI systems read: a testcase
//! per task (its last attempt), failures with their stderr, skipped tasks
//! marked skipped.
//!
//! It is made from the database, so that `--junit FILE` and `taskrun show
//! RUN --junit` give the same report; a [`ReportFile`] writes it when a
//! run is over (after the recorder, whose rows it reads).
//!
//! [`ReportFile`]: super::ReportFile
//!
//! CI systems keep track of a test from run to run by its suite, class
//! and name, so those are the same for every run of a task file: the
//! suite is the file's name, the class its path relative to where taskrun
//! started. Only what Jenkins' strict schema allows is written (the
//! project's own `tests/junit/junit.xsd` says what that is, and the tests
//! hold every report to it).

use std::fmt::Write as _;
use std::time::Duration;

use crate::event::{Status, why_ended};
use crate::record::{CacheOutcome, RunRow, StoredOutput, TaskRow, TaskState, last_attempts};
use crate::units::utc_timestamp;

/// The JUnit XML of a run, from its rows (every attempt, in position then
/// attempt order, with their output): a testcase per task, its last
/// attempt. The attempts before it are `flakyFailure`s when it finally
/// passed and `rerunFailure`s when it did not, as Maven Surefire and
/// nextest write them.
pub(crate) fn junit(run: &RunRow, rows: &[TaskRow]) -> String {
    let tasks = last_attempts(rows);
    let seconds = |duration: Option<Duration>| duration.unwrap_or_default().as_secs_f64();
    let skipped_state = |state: TaskState| {
        matches!(
            state,
            TaskState::Ended(Status::Skipped) | TaskState::Pending | TaskState::Running
        )
    };
    let failures = tasks
        .iter()
        .filter(|task| !task.state.is_pass() && !skipped_state(task.state))
        .count();
    let skipped = tasks
        .iter()
        .filter(|task| skipped_state(task.state))
        .count();
    // Runs recorded before the relative path was kept have the absolute
    // one, which still names the file.
    let taskfile = run
        .taskfile_relative
        .as_deref()
        .or(run.taskfile.as_deref())
        .filter(|path| !path.is_empty());
    let class = escape(taskfile.unwrap_or("taskrun"));
    let suite = escape(
        taskfile
            .and_then(|path| std::path::Path::new(path).file_name())
            .map_or("taskrun".into(), |name| name.to_string_lossy())
            .as_ref(),
    );
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // No `skipped` here: Jenkins' schema refuses it on `testsuites`.
    let _ = writeln!(
        out,
        "<testsuites name=\"taskrun\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">",
        tasks.len(),
        seconds(run.duration)
    );
    let _ = write!(
        out,
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\" timestamp=\"{}\"",
        tasks.len(),
        seconds(run.duration),
        utc_timestamp(run.started_at)
    );
    if let Some(host) = run.host.as_deref().filter(|host| !host.is_empty()) {
        let _ = write!(out, " hostname=\"{}\"", escape(host));
    }
    out.push_str(">\n");
    // A task's attempts are next to each other, in order.
    for attempts in rows.chunk_by(|a, b| a.position == b.position) {
        let Some((task, earlier)) = attempts.split_last() else {
            continue;
        };
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{class}\" time=\"{:.3}\"",
            escape(&task.name),
            seconds(task.duration)
        );
        let mut stdout = whole(&task.stdout);
        // A task restored from the store passed: it is a passed testcase,
        // and its output (the stored run's, replayed) says so at its end;
        // a testcase has no other place for it that every reader accepts.
        if let Some(run) = restored_from(task) {
            if !stdout.is_empty() && !stdout.ends_with('\n') {
                stdout.push('\n');
            }
            let _ = writeln!(stdout, "[taskrun: cached, restored from run #{run}]");
        }
        let stderr = whole(&task.stderr);
        let message = why(task);
        let mut body = String::new();
        earlier_attempts(&mut body, earlier, task);
        match task.state {
            TaskState::Ended(Status::Passed | Status::Cached) => {}
            state if skipped_state(state) => {
                let _ = writeln!(body, "      <skipped message=\"{}\"/>", escape(&message));
            }
            // The text starts with the reason too: GitLab shows the text
            // alone when there is one, and would drop the message.
            status => {
                let _ = writeln!(
                    body,
                    "      <failure type=\"{}\" message=\"{}\">{}\n{}</failure>",
                    escape(status.as_str()),
                    escape(&message),
                    escape(&message),
                    escape(&stderr)
                );
            }
        }
        if !stdout.is_empty() {
            let _ = writeln!(body, "      <system-out>{}</system-out>", escape(&stdout));
        }
        if !stderr.is_empty() {
            let _ = writeln!(body, "      <system-err>{}</system-err>", escape(&stderr));
        }
        if body.is_empty() {
            out.push_str("/>\n");
        } else {
            let _ = write!(out, ">\n{body}    </testcase>\n");
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// The attempts of `task` before its last, `earlier`, in `body`:
/// `flakyFailure`s if it passed in the end, else `rerunFailure`s.
fn earlier_attempts(body: &mut String, earlier: &[TaskRow], task: &TaskRow) {
    let rerun = if task.state.is_pass() {
        "flakyFailure"
    } else {
        "rerunFailure"
    };
    for attempt in earlier {
        let _ = write!(
            body,
            "      <{rerun} type=\"{}\" message=\"{}\">",
            escape(attempt.state.as_str()),
            escape(&why(attempt))
        );
        for (tag, output) in [
            ("system-out", &attempt.stdout),
            ("system-err", &attempt.stderr),
        ] {
            let text = whole(output);
            if !text.is_empty() {
                let _ = write!(body, "<{tag}>{}</{tag}>", escape(&text));
            }
        }
        let _ = writeln!(body, "</{rerun}>");
    }
}

/// The run a task restored from the store came from.
fn restored_from(task: &TaskRow) -> Option<i64> {
    let cache = task
        .cache
        .as_ref()
        .filter(|_| task.state.is(Status::Cached))?;
    (cache.outcome == CacheOutcome::Hit)
        .then_some(cache.source_run)
        .flatten()
}

/// Why an attempt ended as it did, in the words every report uses.
fn why(task: &TaskRow) -> String {
    match (&task.exit, &task.reason) {
        (Some(exit), None) if task.state.is(Status::Timeout) => {
            why_ended(Status::Timeout, exit, task.settings.own_timeout())
        }
        (Some(exit), None) => exit.to_string(),
        (_, Some(reason)) => reason.clone(),
        (None, None) => task.state.to_string(),
    }
}

/// A stored stream as text: its start, and for a stream cut at
/// `--max-output`, a line saying so and its end (where the error usually
/// is).
fn whole(output: &StoredOutput) -> String {
    let mut text = String::from_utf8_lossy(&output.bytes).into_owned();
    if output.truncated {
        let kept = output.bytes.len() + output.tail.len();
        let left_out = u64::try_from(output.total)
            .unwrap_or(0)
            .saturating_sub(kept as u64);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let _ = writeln!(text, "… ({left_out} bytes left out) …");
        text.push_str(&String::from_utf8_lossy(&output.tail));
    }
    text
}

/// Text for XML: terminal escape sequences (colours, cursor moves) left
/// out whole, markup characters as entities, and characters XML 1.0
/// cannot hold (control characters but tab, newline and return) left out.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            crate::ansi::skip_escape(&mut chars);
            continue;
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            // Characters XML 1.0 cannot hold at all.
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Exit;
    use crate::testing::{run_row, task_row};

    #[test]
    fn names_stay_the_same_from_run_to_run() {
        let mut run = run_row(12);
        run.started_at = 1_705_329_022;
        run.host = Some("ci-7".into());
        run.taskfile = Some("/home/me/project/ci/tasks.txt".into());
        run.taskfile_relative = Some("ci/tasks.txt".into());
        let task = task_row(0, "build", TaskState::Ended(Status::Passed));
        let xml = junit(&run, std::slice::from_ref(&task));
        assert!(
            xml.contains(
                "<testsuites name=\"taskrun\" tests=\"1\" failures=\"0\" errors=\"0\" time=\"0.000\">\n  \
                 <testsuite name=\"tasks.txt\" tests=\"1\" failures=\"0\" errors=\"0\" skipped=\"0\" \
                 time=\"0.000\" timestamp=\"2024-01-15T14:30:22Z\" hostname=\"ci-7\">\n    \
                 <testcase name=\"build\" classname=\"ci/tasks.txt\" time=\"0.000\"/>\n"
            ),
            "{xml}"
        );
        // A run recorded before the relative path was kept.
        run.taskfile_relative = None;
        run.host = None;
        let xml = junit(&run, std::slice::from_ref(&task));
        assert!(
            xml.contains("classname=\"/home/me/project/ci/tasks.txt\""),
            "{xml}"
        );
        assert!(xml.contains("<testsuite name=\"tasks.txt\""), "{xml}");
        assert!(!xml.contains("hostname"), "{xml}");
    }

    #[test]
    fn a_cached_task_is_a_passed_testcase_that_says_where_it_came_from() {
        let mut cached = task_row(0, "build", TaskState::Ended(Status::Cached));
        cached.exit = Some(Exit::Code(0));
        cached.duration = Some(Duration::from_millis(10));
        cached.stdout.bytes = b"compiled 3 files".to_vec();
        cached.cache = Some(crate::record::TaskCache {
            key: "5e".repeat(32),
            outcome: CacheOutcome::Hit,
            reason: None,
            source_task: Some(1234),
            source_run: Some(41),
            outputs: None,
        });
        let xml = junit(&run_row(42), &[cached]);
        assert!(
            xml.contains("failures=\"0\" errors=\"0\" skipped=\"0\""),
            "{xml}"
        );
        assert!(
            xml.contains(
                "    <testcase name=\"build\" classname=\"taskrun\" time=\"0.010\">\n      \
                 <system-out>compiled 3 files\n[taskrun: cached, restored from run #41]\n\
                 </system-out>\n    </testcase>\n"
            ),
            "{xml}"
        );
    }

    #[test]
    fn a_failure_says_why_before_its_stderr() {
        let mut failed = task_row(0, "test", TaskState::Ended(Status::Failed));
        failed.exit = Some(Exit::Code(1));
        failed.stderr.bytes = b"\x1b[31massertion failed\x1b[0m\n".to_vec();
        let xml = junit(&run_row(1), &[failed]);
        assert!(
            xml.contains(
                "<failure type=\"failed\" message=\"exit code 1\">exit code 1\nassertion failed\n</failure>"
            ),
            "{xml}"
        );
    }

    #[test]
    fn earlier_attempts_are_flaky_failures_of_a_task_that_passed_and_reruns_of_one_that_did_not() {
        let attempt = |position, name: &str, attempt, state, code| {
            let mut row = task_row(position, name, state);
            row.attempt = attempt;
            row.exit = Some(Exit::Code(code));
            row
        };
        let failed = TaskState::Ended(Status::Failed);
        let passed = TaskState::Ended(Status::Passed);
        let mut first = attempt(0, "fetch", 1, failed, 7);
        first.stderr.bytes = b"connection <reset>\n".to_vec();
        let rows = [
            first,
            attempt(0, "fetch", 2, passed, 0),
            attempt(1, "test", 1, failed, 1),
            attempt(1, "test", 2, failed, 1),
            attempt(1, "test", 3, failed, 2),
            attempt(2, "build", 1, passed, 0),
        ];
        let xml = junit(&run_row(1), &rows);
        assert!(
            xml.contains(
                "<testcase name=\"fetch\" classname=\"taskrun\" time=\"0.000\">\n      \
                 <flakyFailure type=\"failed\" message=\"exit code 7\">\
                 <system-err>connection &lt;reset&gt;\n</system-err></flakyFailure>\n    </testcase>"
            ),
            "{xml}"
        );
        assert_eq!(
            xml.matches("<rerunFailure type=\"failed\" message=\"exit code 1\">")
                .count(),
            2,
            "{xml}"
        );
        assert!(
            xml.contains("<failure type=\"failed\" message=\"exit code 2\">"),
            "{xml}"
        );
        // One testcase a task, counted once.
        assert!(xml.contains("tests=\"3\" failures=\"1\""), "{xml}");
        assert!(
            xml.contains("<testcase name=\"build\" classname=\"taskrun\" time=\"0.000\"/>"),
            "{xml}"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("a<b & \"c\"\u{1b}[31m\n"),
            "a&lt;b &amp; &quot;c&quot;\n"
        );
        assert_eq!(
            escape(
                "\u{1b}[1;31mFAILED\u{1b}[0m \u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{1b}\\ \u{1b}7ok"
            ),
            "FAILED link ok"
        );
        assert_eq!(
            escape("a\u{FFFE}b\u{FFFF}c\u{FFFD}\u{7f}"),
            "abc\u{FFFD}\u{7f}"
        );
    }

    #[test]
    fn a_cut_stream_keeps_its_end() {
        let output = StoredOutput {
            bytes: b"start\n".to_vec(),
            total: 1000,
            truncated: true,
            tail: b"THE REAL ERROR\n".to_vec(),
        };
        assert_eq!(
            whole(&output),
            "start\n… (979 bytes left out) …\nTHE REAL ERROR\n"
        );
    }
}
