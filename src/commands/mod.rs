//! What each subcommand does: it wires the stages together for one job.
//!
//! `run` and `retry` differ only in where their plan comes from (the task
//! file, or the rows of a recorded run); both hand it to
//! [`run::execute_plan`], which opens the history database before any
//! task starts and runs the plan with the progress display, the recorder
//! and the other reports as its sinks.

mod check;
mod convert;
mod diff;
mod gc;
mod help;
mod prune;
mod retry;
mod run;
mod search;
mod show;
mod stats;
mod watch;

pub(crate) use check::{check, graph, list};
pub(crate) use convert::{convert, schema};
pub(crate) use diff::diff;
pub(crate) use gc::gc;
pub(crate) use help::{completions, man};
pub(crate) use prune::prune;
pub(crate) use retry::retry;
pub(crate) use run::run;
pub(crate) use search::{index, search};
pub(crate) use show::{ShowAs, View, cat, history, show};
pub(crate) use stats::stats;

use std::io::{IsTerminal, Write};

use crate::error::Error;
use crate::report::{ColorChoice, Style};

/// How diagnostics on standard error look.
fn stderr_style(color: ColorChoice) -> Style {
    Style::detect(color, std::io::stderr().is_terminal())
}

/// The `--task GLOB` patterns of a history command, each checked.
fn task_patterns(patterns: &[String]) -> Result<Vec<glob::Pattern>, Error> {
    patterns
        .iter()
        .map(|pattern| {
            glob::Pattern::new(pattern).map_err(|error| Error::BadGlob {
                pattern: pattern.clone(),
                why: error.msg.to_owned(),
            })
        })
        .collect()
}

/// The Unix second `--since AGE` starts at: `age` before now.
fn started_since(age: std::time::Duration) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    i64::try_from(now.saturating_sub(age.as_secs())).unwrap_or(i64::MAX)
}

/// Writes `text` to standard output at once.
fn print_out(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
