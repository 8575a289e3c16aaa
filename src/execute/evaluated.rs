//! The executor of evaluated tasks: a decorator that runs the tasks that
//! are closures of the script (`task(name, || { ... })`) in-process, on
//! the worker's thread, and hands every other job to the executor it
//! wraps.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::{Control, Executor, Job, Outcome};
use crate::event::{Capture, Signal, Stream};
use crate::script::Script;

/// Runs evaluated tasks with the script, and hands every other job on.
pub(crate) struct Evaluated {
    script: Arc<Script>,
    shell: Arc<dyn Executor>,
}

impl Evaluated {
    pub(crate) fn new(script: Arc<Script>, shell: Arc<dyn Executor>) -> Evaluated {
        Evaluated { script, shell }
    }
}

impl Executor for Evaluated {
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
        let watch = control.watch();
        let stopped = Box::new(move || {
            watch
                .interrupted()
                .or_else(|| watch.killed().then_some(Signal::KILL))
        });
        // A limit too far off to represent is no limit.
        let deadline = job.timeout.and_then(|timeout| start.checked_add(timeout));
        let Some(evaluation) = self.script.evaluate(&job.name, deadline, stopped) else {
            let reason = format!("the script defines no closure for task `{}`", job.name);
            return Outcome::not_started(reason, started_at, start.elapsed());
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
            job_id: None,
        }
    }
}
