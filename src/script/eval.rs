//! Evaluated tasks: `task(name, || { ... })` runs a closure of the script
//! in-process, as a task.
//!
//! What the closure prints is the task's stdout (`debug` its stderr), a
//! thrown error fails it (exit code 1, the error on stderr), and it stops
//! at its deadline or when the run asks it to: the engine checks both
//! while the closure runs. A value the closure returns, other than `()`,
//! is printed as its last line. The executor that runs these on a
//! worker thread is `execute`'s `Evaluated`.

use std::time::Instant;

use rhai::{Dynamic, EvalAltResult};

use super::engine::{self, Stop};
use super::load::Script;
use crate::event::{Exit, Signal};

/// The exit code of an evaluated task that ran past its timeout, as
/// `timeout(1)` reports it.
const TIMED_OUT: i32 = 124;

/// What an evaluated task did.
#[derive(Debug)]
pub(crate) struct Evaluation {
    pub(crate) exit: Exit,
    /// It ran past its deadline and was stopped.
    pub(crate) timed_out: bool,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

impl Script {
    /// Runs the closure of the evaluated task `name` on this thread, until
    /// it returns, `deadline` passes, or `stopped` gives the signal it is
    /// stopped with. `None` if the script has no closure of that name.
    pub(crate) fn evaluate(
        &self,
        name: &str,
        deadline: Option<Instant>,
        stopped: Box<dyn Fn() -> Option<Signal>>,
    ) -> Option<Evaluation> {
        let closure = self.closure(name)?;
        let stop = Stop { deadline, stopped };
        let (result, mut stdout, mut stderr) = engine::capture(stop, || {
            closure.call::<Dynamic>(&self.engine, &self.ast, ())
        });
        let (exit, timed_out) = match result {
            Ok(value) => {
                if !value.is_unit() {
                    stdout.extend_from_slice(value.to_string().as_bytes());
                    stdout.push(b'\n');
                }
                (Exit::Code(0), false)
            }
            Err(error) => match *error {
                EvalAltResult::ErrorTerminated(token, _) => match token.as_int() {
                    Ok(signal) if signal > 0 => (Exit::Signal(Signal::from_stored(signal)), false),
                    _ => (Exit::Code(TIMED_OUT), true),
                },
                other => {
                    stderr.extend_from_slice(format!("{}\n", self.describe(other)).as_bytes());
                    (Exit::Code(1), false)
                }
            },
        };
        Some(Evaluation {
            exit,
            timed_out,
            stdout,
            stderr,
        })
    }
}
