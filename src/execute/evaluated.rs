//! The executor of evaluated tasks: a decorator that runs the tasks that
//! are closures of the script (`task(name, || { ... })`) or Rhai code
//! (`kind = "eval"`) in-process, on the worker's thread, and hands every
//! other job to the executor it wraps.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::{Control, Executor, Job, Outcome};
use crate::event::{Capture, Signal, Stream};
use crate::script::{Evaluation, Evaluator, Place, Script};
use crate::task::Kind;

/// Runs evaluated tasks with the script (or an engine of its own, for the
/// code of `eval` tasks when there is none), and hands every other job on.
pub(crate) struct Evaluated {
    script: Option<Arc<Script>>,
    evaluator: Evaluator,
    shell: Arc<dyn Executor>,
}

impl Evaluated {
    /// `dir` is where relative paths in `eval` code start, without a
    /// script.
    pub(crate) fn new(
        script: Option<Arc<Script>>,
        dir: &std::path::Path,
        shell: Arc<dyn Executor>,
    ) -> Evaluated {
        let evaluator = match &script {
            Some(script) => Evaluator::Script(Arc::clone(script)),
            None => Evaluator::new(dir),
        };
        Evaluated {
            script,
            evaluator,
            shell,
        }
    }
}

impl Executor for Evaluated {
    fn execute(
        &self,
        job: &Job,
        control: &Control,
        output: &mut dyn FnMut(Stream, &[u8]),
    ) -> Outcome {
        if job.kind == Kind::Shell {
            return self.shell.execute(job, control, output);
        }
        let started_at = SystemTime::now();
        let start = Instant::now();
        // As a shell would not start there.
        if !job.dir.is_dir() {
            let reason = format!(
                "cannot evaluate in `{}`: it is not a directory",
                job.dir.display()
            );
            return Outcome::not_started(reason, started_at, start.elapsed());
        }
        let watch = control.watch();
        let stopped = Box::new(move || {
            watch
                .interrupted()
                .or_else(|| watch.killed().then_some(Signal::KILL))
        });
        // A limit too far off to represent is no limit.
        let deadline = job.timeout.and_then(|timeout| start.checked_add(timeout));
        // It runs in its directory, with its variables, as a process would.
        let (passed, unset) = job.passing_vars();
        let place = Place {
            dir: job.dir.clone(),
            env: passed.into_iter().chain(job.env.iter().cloned()).collect(),
            unset: unset.to_vec(),
        };
        let evaluation: Evaluation = if job.kind == Kind::Eval {
            self.evaluator
                .evaluate(&job.command, place, deadline, stopped)
        } else {
            let closure = self
                .script
                .as_ref()
                .and_then(|script| script.evaluate(&job.name, place, deadline, stopped));
            let Some(evaluation) = closure else {
                let reason = format!("the script defines no closure for task `{}`", job.name);
                return Outcome::not_started(reason, started_at, start.elapsed());
            };
            evaluation
        };
        let mut captures = [Capture::default(), Capture::default()];
        for (capture, (stream, bytes)) in captures.iter_mut().zip([
            (Stream::Stdout, &evaluation.stdout),
            (Stream::Stderr, &evaluation.stderr),
        ]) {
            if !bytes.is_empty() {
                capture.push(bytes, job.max_output);
                output(stream, bytes);
            }
        }
        let [stdout, stderr] = captures;
        Outcome {
            exit: evaluation.exit,
            timed_out: evaluation.timed_out,
            started_at,
            duration: start.elapsed(),
            stdout,
            stderr,
            slurm: None,
            cache: None,
            out: None,
        }
    }
}
