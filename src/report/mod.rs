//! What a person or a program sees: diagnostics, live progress, the event
//! log, task logs, JUnit, traces and HTML pages, and the views of
//! recorded runs.
//!
//! Everything here reads results and events; nothing here changes them or
//! touches a process.

mod diagnostic;
pub(crate) mod diff;
mod dry_run;
mod events;
pub(crate) mod history;
mod html;
mod junit;
mod lines;
pub(crate) mod logs;
mod plan;
mod progress;
pub(crate) mod search;
pub(crate) mod stats;
mod terminal;
mod timeline;
mod trace;
mod written;

pub(crate) use diagnostic::{ColorChoice, Style, check_summary, error, problem};
pub(crate) use dry_run::dry_run;
pub(crate) use events::EventLog;
pub(crate) use html::html;
pub(crate) use junit::junit;
pub(crate) use lines::Lines;
pub(crate) use logs::Logs;
pub(crate) use plan::{list, plan_json};
pub(crate) use progress::{Eta, Output, Progress, ProgressOptions, Screen};
pub(crate) use terminal::is_dumb;
pub(crate) use timeline::Timeline;
pub(crate) use trace::trace;
pub(crate) use written::{ReportFile, Written};

/// A command of several lines (from a TOML or JSON task file) for a view
/// that shows it after a label: every line after the first starts with
/// `indent`, so that it reads as one block under the label.
fn indented(command: &str, indent: &str) -> String {
    command
        .trim_end_matches('\n')
        .split('\n')
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn multi_line_commands_are_indented_under_their_label() {
        assert_eq!(super::indented("make", "  "), "make");
        assert_eq!(super::indented("set -e\nmake\n", "  "), "set -e\n  make");
    }
}
