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
mod local;
mod signal_name;
mod slurm;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

pub use control::{Control, Watch};
pub use local::{KILL_GRACE, Local, PIPE_LINGER, reserve_descriptors};
pub use signal_name::signal_name;
pub use slurm::{Slurm, SlurmOptions};

use crate::event::{Capture, Exit, Stream};

/// Everything an executor needs to run one task.
#[derive(Clone, Debug)]
pub struct Job {
    /// The task's name.
    pub name: String,
    /// The shell command, for `/bin/sh -c`, or a description of an
    /// evaluated task.
    pub command: String,
    /// The task is a Rhai closure, run by the script's evaluator.
    pub evaluated: bool,
    /// The working directory.
    pub dir: PathBuf,
    /// Variables added to the environment the job inherits.
    pub env: Vec<(String, String)>,
    /// How long the task may run; `None` for no limit.
    pub timeout: Option<Duration>,
    /// How many bytes of each output stream to keep.
    pub max_output: usize,
    /// CPUs to request from a cluster.
    pub cpus: Option<u32>,
    /// Memory to request from a cluster, in bytes.
    pub mem: Option<u64>,
}

/// What happened when a job ran.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub exit: Exit,
    /// The job ran past its timeout and was stopped.
    pub timed_out: bool,
    pub started_at: SystemTime,
    pub duration: Duration,
    pub stdout: Capture,
    pub stderr: Capture,
    /// The cluster job that ran it, when a cluster executor did.
    pub job_id: Option<String>,
}

/// Runs jobs. Implementations must be usable from many threads at once.
pub trait Executor: Send + Sync {
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
