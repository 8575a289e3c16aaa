//! Evaluated tasks: `task(name, || { ... })` runs a closure of the script
//! in-process, as a task.
//!
//! What the closure prints is the task's stdout (`debug` its stderr), a
//! thrown error fails it (exit code 1, the error on stderr), and it stops
//! at its deadline or when the run asks it to: the engine checks both
//! while the closure runs. A value the closure returns, other than `()`,
//! is printed as its last line. The executor that runs these on a
//! worker thread is `execute`'s `Evaluated`.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rhai::{AST, Dynamic, Engine, EvalAltResult};

use super::engine::{self, Place, Stop};
use super::load::Script;
use crate::event::{Exit, Signal};
use crate::source::SourceId;

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
        place: Place,
        deadline: Option<Instant>,
        stopped: Box<dyn Fn() -> Option<Signal>>,
    ) -> Option<Evaluation> {
        let closure = self.closure(name)?;
        let stop = Stop { deadline, stopped };
        let (result, stdout, stderr) = engine::capture(stop, Some(place), || {
            closure.call::<Dynamic>(&self.engine, &self.ast, ())
        });
        Some(evaluation(result, stdout, stderr, |error| {
            self.describe(error)
        }))
    }
}

/// What an evaluated task's run came to: the value it returned (printed
/// as its last line, unless `()`) or the error it stopped with.
fn evaluation(
    result: Result<Dynamic, Box<EvalAltResult>>,
    mut stdout: Vec<u8>,
    mut stderr: Vec<u8>,
    describe: impl FnOnce(EvalAltResult) -> String,
) -> Evaluation {
    {
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
                    stderr.extend_from_slice(format!("{}\n", describe(other)).as_bytes());
                    (Exit::Code(1), false)
                }
            },
        };
        Evaluation {
            exit,
            timed_out,
            stdout,
            stderr,
        }
    }
}

/// Runs the code of `eval` tasks (`kind = "eval"` in a TOML or JSON task
/// file) with the engine and limits of the script's evaluated tasks; with
/// a script, the code may call the script's functions.
pub(crate) enum Evaluator {
    /// An engine of its own.
    Alone(Box<Engine>),
    /// The script's engine, and its functions.
    Script(Arc<Script>),
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator").finish_non_exhaustive()
    }
}

impl Evaluator {
    /// An evaluator without a script; relative paths start at `dir`.
    pub(crate) fn new(dir: &Path) -> Evaluator {
        Evaluator::Alone(Box::new(engine::new(dir)))
    }

    fn engine(&self) -> &Engine {
        match self {
            Evaluator::Alone(engine) => engine,
            Evaluator::Script(script) => &script.engine,
        }
    }

    fn compile(&self, code: &str) -> Result<AST, rhai::ParseError> {
        let ast = self.engine().compile(code)?;
        Ok(match self {
            Evaluator::Script(script) => script.ast.clone_functions_only().merge(&ast),
            Evaluator::Alone(_) => ast,
        })
    }

    /// Why `code` does not compile, and where in it (a byte offset and a
    /// length), or `None` if it does.
    pub(crate) fn syntax_error(&self, code: &str) -> Option<(String, usize, usize)> {
        let error = self.compile(code).err()?;
        let span = super::load::span_at(error.1, SourceId::default(), code);
        Some((error.0.to_string(), span.offset, span.len))
    }

    /// Runs `code` on this thread, until it returns, `deadline` passes, or
    /// `stopped` gives the signal it is stopped with.
    pub(crate) fn evaluate(
        &self,
        code: &str,
        place: Place,
        deadline: Option<Instant>,
        stopped: Box<dyn Fn() -> Option<Signal>>,
    ) -> Evaluation {
        let ast = match self.compile(code) {
            Ok(ast) => ast,
            Err(error) => {
                let line = error.1.line().unwrap_or(1);
                return Evaluation {
                    exit: Exit::Code(1),
                    timed_out: false,
                    stdout: Vec::new(),
                    stderr: format!("line {line}: {}\n", error.0).into_bytes(),
                };
            }
        };
        let engine = self.engine();
        let stop = Stop { deadline, stopped };
        let (result, stdout, stderr) =
            engine::capture(stop, Some(place), || engine.eval_ast::<Dynamic>(&ast));
        evaluation(result, stdout, stderr, |mut error| {
            let line = error.position().line();
            // `throw "it broke"`: the value thrown, as it is.
            let message = if let EvalAltResult::ErrorRuntime(value, _) = &error {
                value.to_string()
            } else {
                error.set_position(rhai::Position::NONE);
                error.to_string()
            };
            match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            }
        })
    }
}
