//! Human-readable output: diagnostics, summaries and live progress.
//!
//! Everything here reads results and events; nothing here changes them or
//! touches a process.

mod diagnostic;
pub mod history;
mod progress;
mod terminal;

pub use diagnostic::{MAX_SHOWN, Style, check_summary, error, problem};
pub use progress::{Progress, ProgressOptions, format_duration};
