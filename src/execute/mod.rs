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

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub(crate) use control::Control;
pub(crate) use evaluated::Evaluated;
pub use local::KILL_GRACE;
pub(crate) use local::{Local, reserve_descriptors};
pub(crate) use slurm::{
    Allocation, Notice, Notify, Refusal, Request, Slurm, Window, cancel_job, held,
};
pub use slurm::{SlurmMode, SlurmOptions};

use crate::event::{Capture, Exit, SlurmPlace, Stream, TaskResult};
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
    /// What an up-to-date check needs, for a task that declares inputs or
    /// outputs; `None` for every other task.
    pub(crate) cache: Option<Box<crate::cache::CacheJob>>,
    /// Its `$TASKRUN_OUT` and what its dependencies left, when the run
    /// passes outputs (see [`crate::cache::passing`]).
    pub(crate) passing: Option<Box<crate::cache::passing::Passing>>,
}

impl Job {
    /// The variables output passing sets for the job, before its own
    /// `env` (which wins), and the inherited ones it unsets (see
    /// [`Passing::vars`](crate::cache::passing::Passing::vars)); none
    /// without output passing.
    pub(crate) fn passing_vars(&self) -> (Vec<(String, String)>, &'static [String]) {
        match &self.passing {
            Some(passing) => passing.vars(),
            None => (Vec::new(), &[]),
        }
    }

    /// Sets what the dependency `name` handed on, for the key and for
    /// output passing.
    pub(crate) fn set_dep(&mut self, name: &str, handed: crate::cache::Handed) {
        if let Some(passing) = &mut self.passing {
            passing.set_given(name, handed.out);
        }
        if let Some(cache) = &mut self.cache {
            cache.set_dep(name, handed.value);
        }
    }
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
    /// Where on a cluster it ran, when a cluster executor ran it.
    pub(crate) slurm: Option<SlurmPlace>,
    /// What the up-to-date check did, when the caching executor ran it.
    pub(crate) cache: Option<Arc<crate::cache::Report>>,
    /// What a pass left in its `$TASKRUN_OUT`, when it left something.
    pub(crate) out: Option<Arc<crate::cache::passing::Produced>>,
}

impl Outcome {
    /// What this attempt hands its dependents, if it passed.
    pub(crate) fn handed(&self) -> crate::cache::Handed {
        crate::cache::Handed {
            value: self
                .cache
                .as_ref()
                .and_then(|report| report.as_dependency()),
            out: self.out.clone(),
        }
    }

    /// What this attempt, the `attempt`th, comes to as a task's result,
    /// once the scheduler (or a broker) has said its `status`.
    pub(crate) fn into_result(self, status: crate::event::Status, attempt: u32) -> TaskResult {
        TaskResult {
            status,
            attempt,
            exit: self.exit,
            started_at: self.started_at,
            duration: self.duration,
            stdout: self.stdout,
            stderr: self.stderr,
            slurm: self.slurm,
            cache: self.cache,
            out: self.out,
        }
    }

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
            slurm: None,
            cache: None,
            out: None,
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

/// The text of a script command (several lines, the first `#!INTERPRETER
/// [ARGUMENT]`) in a file of its own, which is removed when this is
/// dropped.
#[derive(Debug)]
pub(crate) struct ScriptFile {
    #[allow(dead_code, reason = "held for its drop, which removes the file")]
    file: tempfile::TempPath,
}

impl ScriptFile {
    /// For a command of several lines whose first line starts with `#!`:
    /// the file, written in `dir` under a name of its own, and the
    /// `/bin/sh -c` command that runs it as the kernel runs a script:
    /// `INTERPRETER [ARGUMENT] FILE`, where the argument is the rest of the
    /// line. The interpreter is run, not the file, so the file needs no
    /// exec bit (and cannot be busy as a text file while another thread
    /// forks). `None` for any other command: a `#!` line alone (all a line
    /// of the line format can hold) stays what it always was, a comment to
    /// the shell.
    pub(crate) fn create(
        command: &str,
        dir: &Path,
    ) -> Result<Option<(ScriptFile, String)>, String> {
        let Some((line, body)) = command
            .strip_prefix("#!")
            .and_then(|rest| rest.split_once('\n'))
        else {
            return Ok(None);
        };
        if body.trim().is_empty() {
            return Ok(None);
        }
        let line = line.trim();
        let (interpreter, argument) = match line.split_once([' ', '\t']) {
            Some((interpreter, argument)) => (interpreter, Some(argument.trim())),
            None => (line, None),
        };
        if interpreter.is_empty() {
            return Err(
                "the command's first line is `#!` without an interpreter: name one, e.g. `#!/bin/bash`"
                    .to_owned(),
            );
        }
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
        let cannot = |error: std::io::Error| {
            format!(
                "cannot write the command's script in `{}`: {error}",
                dir.display()
            )
        };
        let mut file = tempfile::Builder::new()
            .prefix(".taskrun-script-")
            .tempfile_in(&dir)
            .map_err(cannot)?;
        std::io::Write::write_all(&mut file, command.as_bytes()).map_err(cannot)?;
        let file = file.into_temp_path();
        let Some(path) = file.to_str() else {
            return Err(format!(
                "cannot run the command's script from `{}`: the path is not UTF-8",
                file.display()
            ));
        };
        let mut run = format!("exec {}", quote(interpreter));
        if let Some(argument) = argument.filter(|argument| !argument.is_empty()) {
            run = format!("{run} {}", quote(argument));
        }
        let run = format!("{run} {}", quote(path));
        Ok(Some((ScriptFile { file }, run)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_command_of_several_lines_is_a_script() {
        let dir = tempfile::tempdir().unwrap();
        for command in ["#!/bin/echo hi", "#!/bin/bash\n", "echo '#!'\nls", "make"] {
            assert!(
                ScriptFile::create(command, dir.path()).unwrap().is_none(),
                "{command:?}"
            );
        }
        let (file, run) =
            ScriptFile::create("#!/usr/bin/env -S python3 -u\nprint(1)\n", dir.path())
                .unwrap()
                .unwrap();
        let path = file.file.to_str().unwrap().to_owned();
        assert_eq!(run, format!("exec /usr/bin/env '-S python3 -u' {path}"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "#!/usr/bin/env -S python3 -u\nprint(1)\n"
        );
        let (other, _) = ScriptFile::create("#!/bin/sh\ntrue\n", dir.path())
            .unwrap()
            .unwrap();
        assert_ne!(
            other.file.to_str().unwrap(),
            path,
            "each script has a file of its own"
        );
        drop(file);
        assert!(
            !std::path::Path::new(&path).exists(),
            "removed when dropped"
        );
        assert!(ScriptFile::create("#!\ntrue\n", dir.path()).is_err());
    }
}
