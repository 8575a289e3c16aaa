//! A recorded run as JUnit XML, the report CI systems read: a testcase
//! per task (its last attempt), failures with their stderr, skipped tasks
//! marked skipped.
//!
//! It is made from the database, so that `--junit FILE` and `taskrun show
//! RUN --junit` give the same report; [`JunitFile`] is the sink that
//! writes it when a run is over (after the recorder, whose rows it reads).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::event::{Event, Status, why_ended};
use crate::record::{RunRow, StoredOutput, TaskRow, TaskState};
use crate::sink::Sink;

/// The JUnit XML of a run.
pub(crate) fn junit(run: &RunRow, tasks: &[&TaskRow]) -> String {
    let seconds = |duration: Option<Duration>| duration.unwrap_or_default().as_secs_f64();
    let skipped_state = |state: TaskState| {
        matches!(
            state,
            TaskState::Ended(Status::Skipped) | TaskState::Pending | TaskState::Running
        )
    };
    let failures = tasks
        .iter()
        .filter(|task| !task.state.is(Status::Passed) && !skipped_state(task.state))
        .count();
    let skipped = tasks
        .iter()
        .filter(|task| skipped_state(task.state))
        .count();
    let suite = format!("taskrun run #{}", run.id);
    let class = escape(run.taskfile.as_deref().unwrap_or("taskrun"));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"taskrun\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">",
        tasks.len(),
        seconds(run.duration)
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">",
        tasks.len(),
        seconds(run.duration)
    );
    for task in tasks {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{class}\" time=\"{:.3}\"",
            escape(&task.name),
            seconds(task.duration)
        );
        let stdout = whole(&task.stdout);
        let stderr = whole(&task.stderr);
        let message = match (&task.exit, &task.reason) {
            (Some(exit), None) if task.state.is(Status::Timeout) => {
                why_ended(Status::Timeout, exit, task.settings.timeout)
            }
            (Some(exit), None) => exit.to_string(),
            (_, Some(reason)) => reason.clone(),
            (None, None) => task.state.to_string(),
        };
        let mut body = String::new();
        match task.state {
            TaskState::Ended(Status::Passed) => {}
            state if skipped_state(state) => {
                let _ = writeln!(body, "      <skipped message=\"{}\"/>", escape(&message));
            }
            status => {
                let _ = writeln!(
                    body,
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    escape(status.as_str()),
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

/// `--junit FILE`: the JUnit report of the run, written when it is over.
pub(crate) struct JunitFile {
    path: PathBuf,
    file: std::fs::File,
    /// Makes the report, from the recorded run.
    report: Box<dyn FnOnce() -> Result<String, Error> + Send>,
}

impl JunitFile {
    /// Writes what `report` makes to `file` (opened at `path`).
    pub(crate) fn new(
        path: PathBuf,
        file: std::fs::File,
        report: Box<dyn FnOnce() -> Result<String, Error> + Send>,
    ) -> JunitFile {
        JunitFile { path, file, report }
    }
}

impl Sink for JunitFile {
    fn wants_output(&self) -> bool {
        false
    }

    /// The report is made from the database, not from the events.
    fn receive(&mut self, _: Event) {}

    fn finish(self: Box<Self>) -> Result<(), Error> {
        let JunitFile {
            path,
            mut file,
            report,
        } = *self;
        let xml = report()?;
        file.write_all(xml.as_bytes())
            .map_err(|source| Error::CannotWrite { path, source })
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
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            skip_escape(&mut chars);
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

/// Skips the rest of a terminal escape sequence whose ESC was just read:
/// a CSI (`ESC [` parameters, then a final byte in `@`..`~`), an OSC
/// (`ESC ]` text up to BEL or `ESC \\`), or a two-character one.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                    break;
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
