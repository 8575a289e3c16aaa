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

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

pub(crate) use control::Control;
pub(crate) use evaluated::Evaluated;
pub use local::KILL_GRACE;
pub(crate) use local::{Local, reserve_descriptors};
pub(crate) use slurm::Slurm;
pub use slurm::SlurmOptions;

use crate::event::{Capture, Exit, Stream};
use crate::task::Kind;

/// Everything an executor needs to run one task.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    /// The task's name.
    pub(crate) name: String,
    /// The shell command, for `/bin/sh -c`, or a description of an
    /// evaluated task.
    pub(crate) command: String,
    /// A shell command, or (evaluated in-process) a closure of the script
    /// or Rhai code.
    pub(crate) kind: Kind,
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

/// `text` quoted for `/bin/sh`.
pub(crate) fn quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_=./:,@%+".contains(&byte))
    {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The text of a command whose first line is `#!INTERPRETER [ARGUMENT]`,
/// in a file of its own, which is removed when this is dropped.
#[derive(Debug)]
pub(crate) struct ScriptFile {
    path: PathBuf,
}

/// Numbers the script files of this process.
static SCRIPT_FILES: AtomicU64 = AtomicU64::new(0);

impl ScriptFile {
    /// For a command whose first line is `#!`: the file, written in `dir`,
    /// and the `/bin/sh -c` command that runs it as the kernel runs a
    /// script: `INTERPRETER [ARGUMENT] FILE`, where the argument is the
    /// rest of the line. The interpreter is run, not the file, so the file
    /// needs no exec bit (and cannot be busy as a text file while another
    /// thread forks). `None` for any other command.
    pub(crate) fn create(
        command: &str,
        dir: &Path,
    ) -> Result<Option<(ScriptFile, String)>, String> {
        let Some(line) = command.strip_prefix("#!") else {
            return Ok(None);
        };
        let line = line.lines().next().unwrap_or_default().trim();
        let (interpreter, argument) = match line.split_once([' ', '\t']) {
            Some((interpreter, argument)) => (interpreter, Some(argument.trim())),
            None => (line, None),
        };
        if interpreter.is_empty() {
            return Err("the command's first line is `#!` without an interpreter: name one, e.g. `#!/bin/bash`".to_owned());
        }
        let number = SCRIPT_FILES.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".taskrun-script-{}-{number}", std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, command.as_bytes()));
        let file = ScriptFile { path };
        if let Err(error) = written {
            return Err(format!(
                "cannot write the script to `{}`: {error}",
                file.path.display()
            ));
        }
        let mut run = format!("exec {}", quote(interpreter));
        if let Some(argument) = argument.filter(|argument| !argument.is_empty()) {
            run = format!("{run} {}", quote(argument));
        }
        let run = format!("{run} {}", quote(&file.path.to_string_lossy()));
        Ok(Some((file, run)))
    }
}

impl Drop for ScriptFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
