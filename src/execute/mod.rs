//! Running one task: the interface every executor implements.
//!
//! An [`Executor`] takes a [`Job`] from start to end on the calling thread:
//! it starts the command, captures its output, enforces its timeout, obeys
//! the run's [`Control`] (interrupt, then kill) and returns an [`Outcome`].
//! The scheduler never sees a process: a cluster executor can run the same
//! job through another launcher without the scheduler changing.
//!
//! Executors do not decide a task's status or touch other tasks.

mod control;
mod evaluated;
mod local;
mod slurm;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

pub(crate) use control::Control;
pub(crate) use evaluated::Evaluated;
pub use local::KILL_GRACE;
pub(crate) use local::{Local, reserve_descriptors};
pub(crate) use slurm::Slurm;
pub use slurm::SlurmOptions;

use crate::event::{Capture, Exit, Stream};

/// Everything an executor needs to run one task.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    /// The task's name.
    pub(crate) name: String,
    /// The shell command, for `/bin/sh -c`, or a description of an
    /// evaluated task.
    pub(crate) command: String,
    /// The task is a Rhai closure, run by the script's evaluator.
    pub(crate) evaluated: bool,
    /// The working directory.
    pub(crate) dir: PathBuf,
    /// Variables added to the environment the job inherits.
    pub(crate) env: Vec<(String, String)>,
    /// How long the task may run; `None` for no limit.
    pub(crate) timeout: Option<Duration>,
    /// How many bytes of each output stream to keep.
    pub(crate) max_output: usize,
    /// CPUs to request from a cluster.
    pub(crate) cpus: Option<u32>,
    /// Memory to request from a cluster, in bytes.
    pub(crate) mem: Option<u64>,
}

/// What happened when a job ran.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    pub(crate) exit: Exit,
    /// The job ran past its timeout and was stopped.
    pub(crate) timed_out: bool,
    pub(crate) started_at: SystemTime,
    pub(crate) duration: Duration,
    pub(crate) stdout: Capture,
    pub(crate) stderr: Capture,
    /// The cluster job that ran it, when a cluster executor did.
    pub(crate) job_id: Option<String>,
}

impl Outcome {
    /// A job that could not start, and why.
    pub(crate) fn not_started(
        reason: String,
        started_at: SystemTime,
        duration: Duration,
    ) -> Outcome {
        Outcome {
            exit: Exit::NotStarted(reason),
            timed_out: false,
            started_at,
            duration,
            stdout: Capture::default(),
            stderr: Capture::default(),
            job_id: None,
        }
    }
}

/// Runs jobs. Implementations must be usable from many threads at once.
pub(crate) trait Executor: Send + Sync {
    /// Runs `job` to its end, calling `output` with each chunk of output as
    /// it arrives, and returns what happened. Never panics on anything the
    /// job or the operating system does; a job that cannot start is an
    /// [`Exit::NotStarted`] outcome.
    fn execute(
        &self,
        job: &Job,
        control: &Control,
        output: &mut dyn FnMut(Stream, &[u8]),
    ) -> Outcome;

    /// The run was interrupted and every job has returned: whatever the
    /// executor started elsewhere must be stopped now.
    fn interrupted(&self) {}
}
