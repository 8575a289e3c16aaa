//! The exit statuses of `taskrun`, documented in the book ("Exit status").
//!
//! Each is a decision: scripts and CI systems branch on them, so a value
//! never changes meaning once released.

use crate::event::Signal;

/// Everything asked for was done (and every task passed).
pub(crate) const SUCCESS: u8 = 0;

/// Work was done but did not succeed: a task failed, timed out or was
/// skipped, or output could not be written.
pub(crate) const FAILURE: u8 = 1;

/// Invalid input or usage: a task file with problems, a file that cannot be
/// read, a bad command-line argument. Nothing was run.
pub(crate) const INVALID_INPUT: u8 = 2;

/// Interrupted by a signal: 128 plus its number (130 for SIGINT, 143 for
/// SIGTERM), as shells report it.
pub(crate) fn interrupted(signal: Signal) -> u8 {
    u8::try_from(128 + signal.number()).unwrap_or(u8::MAX)
}
