//! Evaluated tasks: `task(name, || { ... })` runs a closure of the script
//! in-process, on a worker thread, as a task.
//!
//! What the closure prints is the task's stdout (`debug` its stderr), a
//! thrown error fails it (exit code 1, the error on stderr), and it stops
//! at its timeout or when the run is interrupted: the engine checks a
//! deadline and the run's control while the closure runs. A value the
//! closure returns, other than `()`, is printed as its last line.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rhai::{Dynamic, EvalAltResult};

use super::engine::{self, Stop};
use super::load::Script;
use crate::event::{Capture, Exit, Stream};
use crate::execute::{Control, Executor, Job, Outcome};

/// The exit code of an evaluated task that ran past its timeout, as
/// `timeout(1)` reports it.
const TIMED_OUT: i32 = 124;

/// Runs evaluated tasks with the script, and hands every other job on.
pub struct Evaluator {
    script: Arc<Script>,
    shell: Arc<dyn Executor>,
}

impl Evaluator {
    pub fn new(script: Arc<Script>, shell: Arc<dyn Executor>) -> Evaluator {
        Evaluator { script, shell }
    }
}

impl Executor for Evaluator {
    fn execute(
        &self,
        job: &Job,
        control: &Control,
        output: &mut dyn FnMut(Stream, &[u8]),
    ) -> Outcome {
        if !job.evaluated {
            return self.shell.execute(job, control, output);
        }
        let started_at = SystemTime::now();
        let start = Instant::now();
        let Some(closure) = self.script.closure(&job.name) else {
            return Outcome {
                exit: Exit::NotStarted(format!(
                    "the script defines no closure for task `{}`",
                    job.name
                )),
                timed_out: false,
                started_at,
                duration: start.elapsed(),
                stdout: Capture::default(),
                stderr: Capture::default(),
                job_id: None,
            };
        };
        let stop = Stop {
            deadline: job.timeout.map(|timeout| start + timeout),
            control: control.watch(),
        };
        let (result, mut stdout, mut stderr) = engine::capture(stop, || {
            closure.call::<Dynamic>(&self.script.engine, &self.script.ast, ())
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
                    Ok(signal) if signal > 0 => {
                        (Exit::Signal(i32::try_from(signal).unwrap_or(0)), false)
                    }
                    _ => (Exit::Code(TIMED_OUT), true),
                },
                other => {
                    let error = self.script.error(other);
                    stderr.extend_from_slice(
                        format!("{}\n", self.script.describe(&error)).as_bytes(),
                    );
                    (Exit::Code(1), false)
                }
            },
        };
        let mut captures = [Capture::default(), Capture::default()];
        for (index, (stream, bytes)) in [(Stream::Stdout, stdout), (Stream::Stderr, stderr)]
            .into_iter()
            .enumerate()
        {
            if !bytes.is_empty() {
                captures[index].push(&bytes, job.max_output);
                output(stream, &bytes);
            }
        }
        let [stdout, stderr] = captures;
        Outcome {
            exit,
            timed_out,
            started_at,
            duration: start.elapsed(),
            stdout,
            stderr,
            job_id: None,
        }
    }
}
