//! The Slurm executor: each task is one `srun` job step on a cluster,
//! either in a job of its own (`--slurm-mode jobs`) or in the one
//! allocation the run holds (`--slurm-mode steps`, see [`allocation`]).
//!
//! It runs through the local executor: the local process is `srun`, so
//! capture, timeouts, signals and the process group are the same code.
//! `srun` runs a small wrapper on the node that writes two marker lines
//! to stderr, where it runs (job, step, node) first and the command's exit
//! status last; the markers and `srun`'s own `srun: …` lines are taken out
//! of the task's output. A step whose exit marker never came did not run
//! to its end: Slurm could not schedule or launch it, and the task fails
//! with Slurm's reason instead of a made-up exit status.

mod allocation;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) use allocation::{
    Allocation, Notice, Notify, Refusal, Request, Window, cancel_job, held,
};

use super::{Control, Executor, Job, Local, Outcome, ScriptFile, quote};
use crate::event::{Capture, Exit, SlurmPlace, Stream};

/// Where and how the tasks go.
#[derive(Clone, Debug, Default)]
pub struct SlurmOptions {
    /// `--partition`, if not the cluster's default.
    pub partition: Option<String>,
    /// Extra arguments passed through as they are: to every `srun` with
    /// [`SlurmMode::Jobs`], to the allocation (`salloc`) with
    /// [`SlurmMode::Steps`].
    pub args: Vec<String>,
    /// A job per task, or one allocation for the run.
    pub mode: SlurmMode,
    /// With [`SlurmMode::Steps`]: how long to wait for the allocation to
    /// be granted (`None` or zero: as long as Slurm takes).
    pub wait: Option<Duration>,
    /// With [`SlurmMode::Steps`]: how long the allocation may outlive a
    /// taskrun that stops extending it (its time limit, which the run
    /// keeps this far ahead of it while it goes on), in whole minutes.
    /// `None` or zero: derived from the tasks' timeouts.
    pub time: Option<Duration>,
}

/// How tasks go to Slurm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlurmMode {
    /// Each task is a job of its own, `srun` outside any allocation:
    /// Slurm schedules every task, and each pays for it.
    #[default]
    Jobs,
    /// The run holds one allocation, sized from `--jobs` and its largest
    /// task, and each task is a job step inside it (`srun --jobid`): only
    /// a step's launch is paid per task.
    Steps,
}

impl SlurmMode {
    /// The mode's name on the command line and in scripts.
    pub fn as_str(self) -> &'static str {
        match self {
            SlurmMode::Jobs => "jobs",
            SlurmMode::Steps => "steps",
        }
    }

    /// The mode named `name`, if any.
    pub fn parse(name: &str) -> Option<SlurmMode> {
        match name {
            "jobs" => Some(SlurmMode::Jobs),
            "steps" => Some(SlurmMode::Steps),
            _ => None,
        }
    }
}

/// Runs jobs as Slurm job steps.
#[derive(Debug)]
pub(crate) struct Slurm {
    options: SlurmOptions,
    /// The run's allocation, with [`SlurmMode::Steps`].
    allocation: Option<Arc<Allocation>>,
    /// Job (and step) names start with this: `taskrun-<run>`.
    prefix: String,
    /// The jobs started so far, to cancel when the run is interrupted: the
    /// ids that came back, and the names of jobs whose id never did (an
    /// `srun` killed while its job still waited in the queue leaves the
    /// job behind).
    jobs: Mutex<Started>,
}

#[derive(Debug, Default)]
struct Started {
    ids: BTreeSet<String>,
    unnamed: BTreeSet<String>,
}

const MARK: &str = "\u{1e}taskrun-";

/// Runs on the node: says where it runs, runs the command (from the
/// environment, so that no quoting can go wrong), says its status.
const WRAPPER: &str = "printf '\\036taskrun-job %s %s %s\\n' \"$SLURM_JOB_ID\" \"$SLURM_STEP_ID\" \"$SLURMD_NODENAME\" >&2; \
    cd \"$TASKRUN_DIR\" 2>/dev/null || { printf '\\036taskrun-nodir\\n' >&2; exit 1; }; \
    /bin/sh -c \"$TASKRUN_COMMAND\"; s=$?; \
    printf '\\036taskrun-exit %s\\n' \"$s\" >&2; exit \"$s\"";

impl Slurm {
    /// An executor for the run `run_id` (its jobs are named after it),
    /// running in `allocation` with [`SlurmMode::Steps`].
    pub(crate) fn new(
        options: SlurmOptions,
        run_id: i64,
        allocation: Option<Arc<Allocation>>,
    ) -> Slurm {
        Slurm {
            options,
            allocation,
            prefix: format!("taskrun-{run_id}"),
            jobs: Mutex::new(Started::default()),
        }
    }

    /// Checks that Slurm can take jobs, before any is started: `srun` is
    /// installed, the controller answers, and the partition exists.
    ///
    /// # Errors
    ///
    /// What is wrong, in words for the user.
    pub(crate) fn check(options: &SlurmOptions) -> Result<(), String> {
        // Slurm's clients retry a missing configuration for a minute.
        if let Some(conf) = std::env::var_os("SLURM_CONF")
            && !std::path::Path::new(&conf).is_file()
        {
            return Err(format!(
                "SLURM_CONF names `{}`, which is not a file",
                std::path::Path::new(&conf).display()
            ));
        }
        let run = |program: &str, args: &[&str]| {
            Command::new(program)
                .args(args)
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|error| format!("cannot run `{program}`: {error}"))
        };
        run("srun", &["--version"])?;
        let ping = run("scontrol", &["ping"])?;
        let answer = String::from_utf8_lossy(&ping.stdout);
        if !ping.status.success() || !answer.contains("UP") {
            return Err(format!(
                "the Slurm controller does not answer ({})",
                first_line(&answer, &ping.stderr)
            ));
        }
        if let Some(partition) = &options.partition {
            let found = run(
                "sinfo",
                &["--noheader", "--partition", partition, "--format", "%P"],
            )?;
            if String::from_utf8_lossy(&found.stdout).trim().is_empty() {
                return Err(format!("Slurm has no partition `{partition}`"));
            }
        }
        Ok(())
    }

    fn job_name(&self, job: &Job) -> String {
        format!("{}-{}", self.prefix, job.name)
    }

    /// The `srun` command line that runs `job`, for `/bin/sh -c`.
    fn srun(&self, job: &Job) -> String {
        let mut args = vec![
            "exec".to_owned(),
            "srun".to_owned(),
            "--quiet".to_owned(),
            "--quit-on-interrupt".to_owned(),
            "--ntasks=1".to_owned(),
            "--input=none".to_owned(),
            format!("--job-name={}", self.job_name(job)),
            format!("--chdir={}", job.dir.display()),
            "--export=ALL".to_owned(),
        ];
        if let Some(timeout) = job.timeout {
            // Slurm counts whole minutes; taskrun enforces the limit to the
            // second, and this is only a backstop.
            args.push(format!("--time={}", minutes(timeout) + 1));
        }
        // A step takes what it asks for out of the allocation, and no more
        // (`--exact`), so that the others fit beside it.
        if let Some(allocation) = &self.allocation {
            args.push(format!("--jobid={}", allocation.id));
            args.push("--exact".to_owned());
            args.push(format!("--cpus-per-task={}", job.cpus.unwrap_or(1)));
            match (job.mem, allocation.mem_per_cpu) {
                (Some(mem), _) => args.push(format!("--mem={}M", mem.div_ceil(1 << 20))),
                (None, Some(mem)) => args.push(format!("--mem-per-cpu={mem}M")),
                (None, None) => {}
            }
        } else {
            if let Some(partition) = &self.options.partition {
                args.push(format!("--partition={partition}"));
            }
            if let Some(cpus) = job.cpus {
                args.push(format!("--cpus-per-task={cpus}"));
            }
            if let Some(mem) = job.mem {
                args.push(format!("--mem={}M", mem.div_ceil(1 << 20)));
            }
            // Last, so that they win over taskrun's own.
            args.extend(self.options.args.iter().cloned());
        }
        args.extend(["/bin/sh".to_owned(), "-c".to_owned(), WRAPPER.to_owned()]);
        args.iter()
            .enumerate()
            .map(|(index, arg)| if index == 0 { arg.clone() } else { quote(arg) })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Executor for Slurm {
    fn execute(
        &self,
        job: &Job,
        control: &Control,
        output: &mut dyn FnMut(Stream, &[u8]),
    ) -> Outcome {
        // A `#!` script goes in the task's directory, which the node
        // shares: a temporary directory may be the submitting host's own.
        let script = match ScriptFile::create(&job.command, &job.dir) {
            Ok(script) => script,
            Err(reason) => {
                return Outcome::not_started(reason, std::time::SystemTime::now(), Duration::ZERO);
            }
        };
        let command = script
            .as_ref()
            .map_or_else(|| job.command.clone(), |(_, command)| command.clone());
        let mut step = job.clone();
        step.command = self.srun(job);
        step.env.push(("TASKRUN_COMMAND".to_owned(), command));
        // srun's --chdir to a directory the node lacks runs the step in
        // /tmp with a warning; the wrapper refuses instead.
        step.env.push((
            "TASKRUN_DIR".to_owned(),
            job.dir.to_string_lossy().into_owned(),
        ));
        let name = self.job_name(job);
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.unnamed.insert(name.clone());
        }
        let mut pending = Vec::new();
        let mut outcome = Local.execute(&step, control, &mut |stream, bytes| match stream {
            Stream::Stdout => output(stream, bytes),
            Stream::Stderr => {
                pending.extend_from_slice(bytes);
                let clean = take_lines(&mut pending);
                if !clean.is_empty() {
                    output(stream, &clean);
                }
            }
        });
        if !pending.is_empty() && !pending.starts_with(MARK.as_bytes()) {
            output(Stream::Stderr, &pending);
        }
        let (markers, srun_lines) = clean_capture(&mut outcome.stderr);
        outcome.slurm = markers
            .iter()
            .find_map(|line| line.strip_prefix("job "))
            .and_then(place);
        if let (Some(place), Ok(mut jobs)) = (&outcome.slurm, self.jobs.lock()) {
            jobs.unnamed.remove(&name);
            if self.allocation.is_none() {
                jobs.ids.insert(place.job_id.clone());
            }
        }
        // srun ends its step when it is stopped; a step whose srun had to
        // be killed is cancelled here, and the allocation stays.
        if let (Some(allocation), Some(step)) = (
            &self.allocation,
            outcome.slurm.as_ref().and_then(|place| place.step_id),
        ) && (outcome.timed_out || control.interrupted().is_some())
        {
            let _ = cancel_job(&format!("{}.{step}", allocation.id));
        }
        let no_dir = markers.iter().any(|line| line == "nodir");
        let status = markers
            .iter()
            .find_map(|line| line.strip_prefix("exit "))
            .and_then(|code| code.trim().parse::<i32>().ok());
        outcome.exit = match (status, &outcome.exit) {
            _ if no_dir => Exit::NotStarted(format!(
                "the directory `{}` does not exist on the Slurm node",
                job.dir.display()
            )),
            (Some(code), _) => Exit::Code(code),
            // Stopped by taskrun: a timeout or an interrupt says so itself.
            _ if outcome.timed_out || control.interrupted().is_some() => outcome.exit.clone(),
            (None, Exit::NotStarted(reason)) => Exit::NotStarted(reason.clone()),
            (None, _) => Exit::NotStarted(if srun_lines.is_empty() {
                "Slurm did not run the job".to_owned()
            } else {
                format!("Slurm did not run the job: {}", srun_lines.join("; "))
            }),
        };
        outcome
    }

    fn interrupted(&self) {
        if let Some(allocation) = &self.allocation {
            // Every step of the run is in it.
            allocation.release();
            return;
        }
        let Ok(jobs) = self.jobs.lock() else {
            return;
        };
        let scancel = |args: &[&str]| {
            let _ = Command::new("scancel")
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        };
        // srun cancels its step when it is stopped; this is the backstop
        // for a step whose srun was killed before it could.
        if !jobs.ids.is_empty() {
            let ids: Vec<&str> = jobs.ids.iter().map(String::as_str).collect();
            scancel(&ids);
        }
        // A job whose id never came back may still wait in the queue; only
        // pending ones are cancelled by name.
        for name in &jobs.unnamed {
            scancel(&["--state=PENDING", &format!("--name={name}")]);
        }
    }
}

/// The whole lines at the front of `pending` that are the task's own, with
/// the markers and `srun:` lines left out; an unfinished line stays.
fn take_lines(pending: &mut Vec<u8>) -> Vec<u8> {
    let Some(end) = pending.iter().rposition(|&byte| byte == b'\n') else {
        return Vec::new();
    };
    let whole: Vec<u8> = pending.drain(..=end).collect();
    let mut clean = Vec::with_capacity(whole.len());
    for line in whole.split_inclusive(|&byte| byte == b'\n') {
        if !is_slurm_line(line) {
            clean.extend_from_slice(line);
        }
    }
    clean
}

fn is_slurm_line(line: &[u8]) -> bool {
    line.starts_with(MARK.as_bytes())
        || line.starts_with(b"srun: ")
        || line.starts_with(b"slurmstepd")
}

/// Takes the markers and `srun:` lines out of a captured stderr, returning
/// the markers (without their prefix) and the `srun:` lines.
fn clean_capture(capture: &mut Capture) -> (Vec<String>, Vec<String>) {
    let mut markers = Vec::new();
    let mut srun = Vec::new();
    let mut removed = 0u64;
    let mut keep = |bytes: &[u8]| -> Vec<u8> {
        let mut kept = Vec::with_capacity(bytes.len());
        for line in bytes.split_inclusive(|&byte| byte == b'\n') {
            let text = String::from_utf8_lossy(line);
            if let Some(marker) = text.strip_prefix(MARK) {
                markers.push(marker.trim_end().to_owned());
                removed += line.len() as u64;
            } else if let Some(message) = text.strip_prefix("srun: ") {
                srun.push(message.trim_end().to_owned());
                removed += line.len() as u64;
            } else if text.starts_with("slurmstepd") {
                srun.push(text.trim_end().to_owned());
                removed += line.len() as u64;
            } else {
                kept.extend_from_slice(line);
            }
        }
        kept
    };
    let truncated = capture.truncated();
    capture.bytes = keep(&capture.bytes);
    if truncated {
        capture.tail = keep(&capture.tail);
    }
    // Lines both in the head and the tail of a short stream are counted
    // once: only a truncated stream has a separate tail.
    capture.total = capture.total.saturating_sub(removed);
    (markers, srun)
}

/// Where the wrapper said it runs: `JOB STEP NODE`, one space between
/// each, any of them possibly empty.
fn place(marker: &str) -> Option<SlurmPlace> {
    let mut words = marker.splitn(3, ' ');
    let job_id = words.next().filter(|job| !job.is_empty())?.to_owned();
    Some(SlurmPlace {
        job_id,
        step_id: words.next().and_then(|step| step.parse().ok()),
        node: words
            .next()
            .map(str::trim)
            .filter(|node| !node.is_empty())
            .map(str::to_owned),
    })
}

/// Runs a Slurm command for its effect: what it said on error.
fn run_quietly(program: &str, args: &[String]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| format!("cannot run `{program}`: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(first_line("", &output.stderr))
    }
}

fn minutes(limit: Duration) -> u64 {
    limit.as_secs().div_ceil(60).max(1)
}

fn first_line(stdout: &str, stderr: &[u8]) -> String {
    let stderr = String::from_utf8_lossy(stderr);
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        &stderr
    };
    text.lines().next().unwrap_or("no answer").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("--job-name=taskrun-1-a"), "--job-name=taskrun-1-a");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn markers_and_srun_lines_leave_the_output() {
        let mut pending = b"\x1etaskrun-job 42\nreal\nsrun: error: x\npart".to_vec();
        assert_eq!(take_lines(&mut pending), b"real\n");
        assert_eq!(pending, b"part");
        let text = b"\x1etaskrun-job 42\nreal\nsrun: error: node1: task 0: Exited with exit code 3\n\x1etaskrun-exit 3\n";
        let mut capture = Capture {
            bytes: text.to_vec(),
            total: text.len() as u64,
            tail: Vec::new(),
        };
        let (markers, srun) = clean_capture(&mut capture);
        assert_eq!(markers, ["job 42", "exit 3"]);
        assert_eq!(srun, ["error: node1: task 0: Exited with exit code 3"]);
        assert_eq!(capture.bytes, b"real\n");
        assert_eq!(capture.total, 5);
    }

    #[test]
    fn requests_follow_the_task() {
        let slurm = Slurm {
            options: SlurmOptions {
                partition: Some("debug".to_owned()),
                args: vec!["--account=x y".to_owned()],
                ..SlurmOptions::default()
            },
            allocation: None,
            prefix: "taskrun-7".to_owned(),
            jobs: Mutex::new(Started::default()),
        };
        let job = Job {
            passing: None,
            name: "build".to_owned(),
            command: "make".to_owned(),
            kind: crate::task::Kind::Shell,
            dir: "/work dir".into(),
            env: Vec::new(),
            timeout: Some(Duration::from_secs(90)),
            max_output: 1024,
            cpus: Some(4),
            mem: Some(3 << 29),
            cache: None,
        };
        let line = slurm.srun(&job);
        for part in [
            "exec srun --quiet",
            "--job-name=taskrun-7-build",
            "'--chdir=/work dir'",
            "--partition=debug",
            "--cpus-per-task=4",
            "--mem=1536M",
            "--time=3",
            "'--account=x y'",
            "/bin/sh -c 'printf",
        ] {
            assert!(line.contains(part), "{part} in {line}");
        }
        assert!(!line.contains("--jobid"), "{line}");
    }

    #[test]
    fn a_step_goes_to_the_allocation_with_what_it_asks_for() {
        let slurm = Slurm {
            options: SlurmOptions {
                partition: Some("debug".to_owned()),
                args: vec!["--account=lab".to_owned()],
                mode: SlurmMode::Steps,
                ..SlurmOptions::default()
            },
            allocation: Some(Arc::new(Allocation::granted_for_tests("77", Some(512)))),
            prefix: "taskrun-7".to_owned(),
            jobs: Mutex::new(Started::default()),
        };
        let mut job = Job {
            passing: None,
            name: "build".to_owned(),
            command: "make".to_owned(),
            kind: crate::task::Kind::Shell,
            dir: "/work".into(),
            env: Vec::new(),
            timeout: Some(Duration::from_secs(30)),
            max_output: 1024,
            cpus: None,
            mem: None,
            cache: None,
        };
        let line = slurm.srun(&job);
        for part in [
            "--jobid=77",
            "--exact",
            "--ntasks=1",
            "--cpus-per-task=1",
            "--mem-per-cpu=512M",
            "--time=2",
            "--job-name=taskrun-7-build",
        ] {
            assert!(line.contains(part), "{part} in {line}");
        }
        // The partition and the --slurm-arg options went to the allocation.
        assert!(!line.contains("--partition"), "{line}");
        assert!(!line.contains("--account"), "{line}");
        job.cpus = Some(3);
        job.mem = Some(1 << 30);
        let line = slurm.srun(&job);
        assert!(line.contains("--cpus-per-task=3 --mem=1024M"), "{line}");
        assert!(!line.contains("--mem-per-cpu"), "{line}");
    }

    #[test]
    fn the_wrapper_says_job_step_and_node() {
        assert_eq!(
            place("42 7 node3"),
            Some(SlurmPlace {
                job_id: "42".to_owned(),
                step_id: Some(7),
                node: Some("node3".to_owned()),
            })
        );
        assert_eq!(place("42").map(|place| place.step_id), Some(None));
        let unnamed = place("42  node3").unwrap();
        assert_eq!(
            (unnamed.step_id, unnamed.node.as_deref()),
            (None, Some("node3"))
        );
        assert_eq!(place(""), None);
    }
}
