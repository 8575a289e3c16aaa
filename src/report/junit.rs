//! A recorded run as JUnit XML, the report CI systems read: a testcase
//! per task (its last attempt), failures with their stderr, skipped tasks
//! marked skipped.

use std::fmt::Write as _;

use super::progress::format_duration;
use crate::record::{RunRow, StoredOutput, TaskRow};

/// The JUnit XML of a run.
pub fn junit(run: &RunRow, tasks: &[&TaskRow]) -> String {
    let seconds = |ms: Option<i64>| {
        std::time::Duration::from_millis(ms.and_then(|ms| u64::try_from(ms).ok()).unwrap_or(0))
            .as_secs_f64()
    };
    let count = |statuses: &[&str]| {
        tasks
            .iter()
            .filter(|task| statuses.contains(&task.status.as_str()))
            .count()
    };
    let failures = count(&["failed", "timeout", "canceled", "unknown"]);
    let skipped = count(&["skipped", "pending", "running"]);
    let suite = format!("taskrun run #{}", run.id);
    let class = escape(run.taskfile.as_deref().unwrap_or("taskrun"));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"taskrun\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">",
        tasks.len(),
        seconds(run.duration_ms)
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">",
        tasks.len(),
        seconds(run.duration_ms)
    );
    for task in tasks {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{class}\" time=\"{:.3}\"",
            escape(&task.name),
            seconds(task.duration_ms)
        );
        let stdout = whole(&task.stdout);
        let stderr = whole(&task.stderr);
        let message = match (task.exit_code, task.signal, &task.reason) {
            (_, _, Some(reason)) => reason.clone(),
            (_, Some(signal), _) => format!(
                "killed by {}",
                crate::execute::signal_name(i32::try_from(signal).unwrap_or(0))
            ),
            (Some(code), None, None) => format!("exit code {code}"),
            (None, None, None) => task.status.clone(),
        };
        let message = match (task.status.as_str(), task.settings.timeout) {
            ("timeout", Some(limit)) => {
                format!("timed out after {} ({message})", format_duration(limit))
            }
            ("timeout", None) => format!("timed out ({message})"),
            _ => message,
        };
        let mut body = String::new();
        match task.status.as_str() {
            "passed" => {}
            "skipped" | "pending" | "running" => {
                let _ = writeln!(body, "      <skipped message=\"{}\"/>", escape(&message));
            }
            status => {
                let _ = writeln!(
                    body,
                    "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                    escape(status),
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

/// Text for XML: markup characters as entities, and characters XML 1.0
/// cannot hold (control characters but tab, newline and return) left out.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

    #[test]
    fn escaping() {
        assert_eq!(
            escape("a<b & \"c\"\u{1b}[31m\n"),
            "a&lt;b &amp; &quot;c&quot;[31m\n"
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
