#![warn(missing_docs)]
//! taskrun: a declarative, Make-style parallel task runner.
//!
//! Data flows one way: a task file is parsed into task specs (`taskfile`
//! for the line format, `structured` for TOML and JSON, `script` for
//! `Taskfile.rhai`), loaded and validated into a plan
//! (`load`, `graph`), run by the scheduler (`schedule`) through an
//! executor (`execute`), and observed through the [`Event`]s it emits by
//! the sinks (`sink`): the progress display and the other reports
//! (`report`), the SQLite recorder (`record`) and the script's hooks. Each
//! module owns one stage and depends only on earlier ones; `app` and
//! `commands` wire them per subcommand for the command line, [`Tasks`]
//! and [`Runner`] for the library.
//!
//! As a library, start at [`Tasks`] and [`Runner`]: build a task set from
//! text, a script or code, and run it with your own options and your own
//! event callback. For work that arrives while the program runs, a
//! [`Broker`] takes tasks one at a time, each with its own handler, with a
//! bounded queue, per-task cancel, logs ([`LogConfig`]) and a run in the
//! history.

mod ansi;
mod app;
mod broker;
mod cache;
mod cli;
mod commands;
mod error;
mod event;
mod execute;
mod exit_code;
#[cfg(test)]
mod fuzz;
mod graph;
mod load;
mod order;
mod record;
mod report;
mod runner;
mod schedule;
mod script;
mod signal;
mod sink;
mod source;
mod structured;
mod task;
mod taskfile;
mod tasks;
#[cfg(test)]
mod testing;
mod units;
mod visualize;

pub use crate::app::run;
pub use crate::broker::{Broker, BrokerConfig, Rejected, TaskEnd, TaskHandle};
pub use crate::error::{CallSite, Error, GraphError, ParseError, Problem, ScriptError};
pub use crate::event::{
    Capture, Counts, Event, Exit, Signal, SkipReason, SlurmPlace, Status, Stream, Summary, TaskId,
    TaskResult,
};
pub use crate::execute::{KILL_GRACE, SlurmMode, SlurmOptions};
pub use crate::record::StoreError;
pub use crate::report::logs::{LogConfig, LogLine};
pub use crate::runner::{Canceller, Runner};
pub use crate::tasks::{Dependency, LoadError, Task, Tasks};
