//! Human-readable output: diagnostics, summaries and live progress.
//!
//! Everything here reads results and events; nothing here changes them or
//! touches a process.

mod diagnostic;
mod dry_run;
mod events;
pub mod history;
mod junit;
mod lines;
mod logs;
mod progress;
mod terminal;

pub use diagnostic::{MAX_SHOWN, Style, check_summary, error, problem};
pub use dry_run::dry_run;
pub use events::EventLog;
pub use junit::junit;
pub use logs::Logs;
pub use progress::{Output, Progress, ProgressOptions, format_duration};
