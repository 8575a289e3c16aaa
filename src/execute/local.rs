//! The local executor: each job is `/bin/sh -c COMMAND` on this machine.
//!
//! The job runs in a process group of its own (so that signals reach its
//! children and grandchildren), with stdin from `/dev/null` and stdout and
//! stderr on two pipes. One thread does everything for the job: it polls
//! both pipes, the run's [`Control`] latches and (on Linux) a pidfd that
//! becomes readable when the shell exits, so a full pipe can never block
//! the job and no thread ever waits blindly.
//!
//! The shell is reaped only at the very end, after the last signal to its
//! group, so its process id (which is also the group id) cannot be reused
//! by an unrelated process while signals are still being sent to it.
//!
//! Stopping a job, for a timeout or an interrupt, is always the same path:
//! the signal (SIGTERM, or the one that interrupted the run) and SIGCONT to
//! the group, then SIGKILL once [`KILL_GRACE`] has passed. Once a stopped
//! job's shell has exited, whatever is left of its group is killed at once.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use super::{Control, Executor, Job, Outcome, ScriptFile};
use crate::event::{Capture, Exit, Signal, Stream};

/// How long a stopped job's processes get to exit after the polite signal,
/// before SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// How long the output pipes may stay open after the shell has exited (a
/// background process still holding them) before the group is killed.
pub(crate) const PIPE_LINGER: Duration = Duration::from_secs(1);

/// How long to keep reading after SIGKILL before giving up on pipes held
/// by a process that left the group.
const DRAIN_AFTER_KILL: Duration = Duration::from_millis(500);

/// How often to check for the shell's exit where no pidfd is available.
const EXIT_POLL: Duration = Duration::from_millis(20);

const READ_CHUNK: usize = 64 * 1024;

thread_local! {
    /// The read buffer of the job this thread runs, kept for the next job
    /// it runs: zeroing 64 KiB for every job was the largest single cost
    /// of a run of many short tasks (45% of taskrun's instructions for
    /// 2,000 `true`s).
    static BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Runs jobs as local processes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Local;

impl Executor for Local {
    fn execute(
        &self,
        job: &Job,
        control: &Control,
        output: &mut dyn FnMut(Stream, &[u8]),
    ) -> Outcome {
        let started_at = SystemTime::now();
        let start = Instant::now();
        let script = match ScriptFile::create(&job.command, &std::env::temp_dir()) {
            Ok(script) => script,
            Err(reason) => return Outcome::not_started(reason, started_at, start.elapsed()),
        };
        let shebang;
        let job = match &script {
            Some((_, command)) => {
                shebang = Job {
                    command: command.clone(),
                    ..job.clone()
                };
                &shebang
            }
            None => job,
        };
        match spawn(job) {
            Ok((child, stdout, stderr)) => {
                let mut run = Running {
                    job,
                    control,
                    output,
                    child,
                    pipes: [Some(stdout), Some(stderr)],
                    captures: [Capture::default(), Capture::default()],
                    buffer: BUFFER.take(),
                };
                if run.buffer.len() != READ_CHUNK {
                    run.buffer = vec![0; READ_CHUNK];
                }
                let (exit, timed_out) = run.drive(start);
                BUFFER.set(std::mem::take(&mut run.buffer));
                let [stdout, stderr] = run.captures;
                Outcome {
                    exit,
                    timed_out,
                    started_at,
                    duration: start.elapsed(),
                    stdout,
                    stderr,
                    slurm: None,
                    cache: None,
                    out: None,
                }
            }
            Err(reason) => Outcome::not_started(reason, started_at, start.elapsed()),
        }
    }
}

/// Descriptors one job may hold at once: while it starts, both ends of its
/// two pipes and the standard library's exec-error pipe; while it runs,
/// the read ends and a pidfd. Rounded up.
const FDS_PER_JOB: u64 = 8;

/// Descriptors kept for everything else (the database, the terminal, …).
const FDS_SPARE: u64 = 64;

/// Raises this process's soft limit on open files, if `jobs` running at
/// once need more than it allows (1024 is common; 400 jobs need about
/// 3,300), up to the hard limit, and returns how many jobs can run at once
/// within it: `jobs`, or fewer where the limit cannot be raised as far as
/// they need (the hard limit, or a system's own ceiling below it: macOS
/// refuses more than `OPEN_MAX` whatever the hard limit says). Tasks
/// inherit the raised limit.
pub(crate) fn reserve_descriptors(jobs: usize) -> std::io::Result<usize> {
    let need = (jobs as u64).saturating_mul(FDS_PER_JOB) + FDS_SPARE;
    // SAFETY: getrlimit and setrlimit read and write one rlimit structure.
    let limit = unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if limit.rlim_cur < need {
            let raised = libc::rlimit {
                rlim_cur: need.min(limit.rlim_max),
                rlim_max: limit.rlim_max,
            };
            // Refused, the limit stays as it is, and caps the jobs.
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raw const raised) == 0 {
                limit.rlim_cur = raised.rlim_cur;
            }
        }
        limit.rlim_cur
    };
    let room = limit.saturating_sub(FDS_SPARE) / FDS_PER_JOB;
    Ok(jobs.min(usize::try_from(room).unwrap_or(usize::MAX)).max(1))
}

/// Starts the job's shell; on failure, a reason for the user.
fn spawn(job: &Job) -> Result<(Child, os_pipe::PipeReader, os_pipe::PipeReader), String> {
    let pipe_error = |error| format!("cannot create output pipes: {error}");
    let (stdout, stdout_writer) = os_pipe::pipe().map_err(pipe_error)?;
    let (stderr, stderr_writer) = os_pipe::pipe().map_err(pipe_error)?;
    let mut command = Command::new("/bin/sh");
    command.arg("-c");
    // Changing the environment makes the spawn copy all of it; output
    // passing's variables alone are set by the shell instead, which for a
    // short task is a good part of what taskrun spends on it.
    let (passed, unset) = job.passing_vars();
    // A value of several lines (`TASKRUN_INPUTS`) would move the
    // command's line numbers in the shell's messages: it goes through the
    // environment.
    let by_shell = job.env.is_empty()
        && unset.is_empty()
        && !passed.is_empty()
        && passed.iter().all(|(_, value)| !value.contains('\n'));
    if by_shell {
        let mut line = String::with_capacity(
            job.command.len()
                + passed
                    .iter()
                    .map(|(key, value)| key.len() + value.len() + 4)
                    .sum::<usize>()
                + 8,
        );
        line.push_str("export");
        for (key, value) in &passed {
            // Always quoted: a path is seldom a plain word.
            line.push(' ');
            line.push_str(key);
            line.push_str("='");
            line.push_str(&value.replace('\'', "'\\''"));
            line.push('\'');
        }
        line.push_str("; ");
        line.push_str(&job.command);
        command.arg(line);
    } else {
        command.arg(&job.command);
        for name in unset {
            command.env_remove(name);
        }
        command.envs(passed);
    }
    command
        .current_dir(&job.dir)
        .envs(job.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(stdout_writer)
        .stderr(stderr_writer)
        .process_group(0);
    let child = command.spawn();
    // The command holds the parent's copies of the write ends; they must be
    // closed now, or the pipes would never report end of file.
    drop(command);
    match child {
        Ok(child) => Ok((child, stdout, stderr)),
        Err(error) if error.raw_os_error() == Some(libc::E2BIG) => Err(format!(
            "cannot start /bin/sh: the command is {} bytes, more than the system accepts \
             for one argument ({error})",
            job.command.len()
        )),
        Err(error) if !job.dir.is_dir() => Err(format!(
            "cannot start /bin/sh in `{}`: {error}",
            job.dir.display()
        )),
        Err(error) => Err(format!("cannot start /bin/sh: {error}")),
    }
}

struct Running<'a> {
    job: &'a Job,
    control: &'a Control,
    output: &'a mut dyn FnMut(Stream, &[u8]),
    child: Child,
    /// stdout and stderr, each `None` once it reached end of file.
    pipes: [Option<os_pipe::PipeReader>; 2],
    captures: [Capture; 2],
    buffer: Vec<u8>,
}

/// What the polling loop is waiting for.
#[derive(Clone, Copy)]
enum Ready {
    Pipe(usize),
    ShellExited,
    Interrupt,
    Kill,
}

/// How far a job is on its way to its end.
#[derive(Default)]
struct Ending {
    shell_exited: bool,
    timed_out: bool,
    /// A timeout or the run's control is ending the job.
    stopping: bool,
    /// When to send SIGKILL to the group.
    kill_at: Option<Instant>,
    /// When SIGKILL was sent.
    killed_at: Option<Instant>,
    /// How long the pipes may stay open after the shell exited.
    linger_until: Option<Instant>,
}

impl Ending {
    /// Acts on the timers that are due; returns `false` when it is time to
    /// stop reading the pipes.
    fn enforce(&mut self, now: Instant, deadline: Option<Instant>, group: i32) -> bool {
        if !self.stopping && !self.shell_exited && deadline.is_some_and(|d| now >= d) {
            self.timed_out = true;
            self.stopping = true;
            signal_group(group, libc::SIGTERM);
            self.kill_at = Some(now + KILL_GRACE);
        }
        let must_kill = self.kill_at.is_some_and(|at| now >= at)
            || self.linger_until.is_some_and(|until| now >= until);
        if must_kill && self.killed_at.is_none() {
            signal_group(group, libc::SIGKILL);
            self.killed_at = Some(now);
        }
        // After SIGKILL, a pipe still open is held by a process that left
        // the group; keep what was read and stop waiting for it.
        self.killed_at.is_none_or(|at| now < at + DRAIN_AFTER_KILL)
    }

    /// How long to poll before a timer is due.
    fn next_wake(
        &self,
        now: Instant,
        deadline: Option<Instant>,
        polling_exit: bool,
    ) -> Option<Duration> {
        let mut wake: Vec<Instant> = Vec::with_capacity(4);
        if !self.stopping && !self.shell_exited {
            wake.extend(deadline);
        }
        if self.killed_at.is_none() {
            wake.extend(self.kill_at);
            wake.extend(self.linger_until);
        }
        wake.extend(self.killed_at.map(|at| at + DRAIN_AFTER_KILL));
        if polling_exit && !self.shell_exited {
            wake.push(now + EXIT_POLL);
        }
        wake.into_iter()
            .min()
            .map(|at| at.saturating_duration_since(now))
    }

    /// The run was interrupted: forward its signal, and kill after the
    /// grace period.
    fn interrupt(&mut self, control: &Control, group: i32) {
        if !self.stopping {
            self.stopping = true;
            signal_group(
                group,
                control.interrupted().map_or(libc::SIGTERM, Signal::number),
            );
            self.kill_at = Some(Instant::now() + KILL_GRACE);
        }
    }

    fn kill(&mut self) {
        self.stopping = true;
        self.kill_at = Some(Instant::now());
    }

    /// Starts the wait for the pipes once the shell has exited.
    fn shell_done(&mut self) {
        if self.shell_exited && self.linger_until.is_none() {
            // A job being stopped has had its chance: whatever is left of
            // its group goes now.
            let linger = if self.stopping {
                Duration::ZERO
            } else {
                PIPE_LINGER
            };
            self.linger_until = Some(Instant::now() + linger);
        }
    }
}

impl Running<'_> {
    /// Runs the job to its end and returns how it ended and whether it
    /// timed out.
    fn drive(&mut self, start: Instant) -> (Exit, bool) {
        let group = i32::try_from(self.child.id()).unwrap_or(i32::MAX);
        let pidfd = pidfd_open(group);
        // A limit too far off to represent is no limit.
        let deadline = self
            .job
            .timeout
            .filter(|t| !t.is_zero())
            .and_then(|t| start.checked_add(t));
        let mut end = Ending::default();
        loop {
            if end.shell_exited && self.pipes.iter().all(Option::is_none) {
                break;
            }
            let now = Instant::now();
            if !end.enforce(now, deadline, group) {
                break;
            }
            let timeout = end.next_wake(now, deadline, pidfd.is_none());
            let mut watched: Vec<(BorrowedFd<'_>, Ready)> = Vec::with_capacity(5);
            for (index, pipe) in self.pipes.iter().enumerate() {
                if let Some(pipe) = pipe {
                    watched.push((pipe.as_fd(), Ready::Pipe(index)));
                }
            }
            if let (Some(pidfd), false) = (&pidfd, end.shell_exited) {
                watched.push((pidfd.as_fd(), Ready::ShellExited));
            }
            // A triggered latch stays readable, so each is watched only
            // until it has had its effect.
            if !end.stopping {
                watched.push((self.control.interrupt_fd(), Ready::Interrupt));
            }
            if end.killed_at.is_none() {
                watched.push((self.control.kill_fd(), Ready::Kill));
            }
            for ready in poll(&watched, timeout) {
                match ready {
                    Ready::Pipe(index) => self.read(index),
                    Ready::ShellExited => end.shell_exited = true,
                    Ready::Interrupt => end.interrupt(self.control, group),
                    Ready::Kill => end.kill(),
                }
            }
            if pidfd.is_none() && !end.shell_exited {
                end.shell_exited = has_exited(group);
            }
            end.shell_done();
        }
        if end.stopping && end.killed_at.is_none() {
            // The shell and the pipes are done, but background processes
            // that ignored the signal may remain in the group.
            signal_group(group, libc::SIGKILL);
        }
        let exit = match self.child.wait() {
            Ok(status) => match (status.code(), status.signal()) {
                (Some(code), _) => Exit::Code(code),
                (None, Some(signal)) => Exit::Signal(Signal(signal)),
                (None, None) => Exit::NotStarted(format!("unexpected exit status {status}")),
            },
            Err(error) => Exit::NotStarted(format!("cannot wait for /bin/sh: {error}")),
        };
        (exit, end.timed_out)
    }

    /// Reads what is available on pipe `index` (0 stdout, 1 stderr).
    fn read(&mut self, index: usize) {
        let Some(pipe) = &mut self.pipes[index] else {
            return;
        };
        let count = loop {
            match pipe.read(&mut self.buffer) {
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Ok(count) => break count,
                // A pipe that cannot be read is as good as closed.
                Err(_) => break 0,
            }
        };
        if count == 0 {
            self.pipes[index] = None;
            return;
        }
        let chunk = &self.buffer[..count];
        self.captures[index].push(chunk, self.job.max_output);
        let stream = if index == 0 {
            Stream::Stdout
        } else {
            Stream::Stderr
        };
        (self.output)(stream, chunk);
    }
}

/// Sends `signal` to every process of the group, followed by SIGCONT so
/// that a stopped process acts on it. Errors (such as an already empty
/// group) are of no consequence.
fn signal_group(group: i32, signal: i32) {
    // SAFETY: kill(2) with a negative pid only sends a signal; the group
    // is the job's own, whose leader has not been reaped yet.
    unsafe {
        libc::kill(-group, signal);
        if signal != libc::SIGKILL {
            libc::kill(-group, libc::SIGCONT);
        }
    }
}

/// Waits until one of `watched` is readable (or has hung up) or `timeout`
/// passes, and returns the ready ones.
fn poll(watched: &[(BorrowedFd<'_>, Ready)], timeout: Option<Duration>) -> Vec<Ready> {
    let mut fds: Vec<libc::pollfd> = watched
        .iter()
        .map(|(fd, _)| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let timeout_ms = timeout.map_or(-1, |t| {
        // Round up, so that a deadline is never polled for just before it
        // is due.
        i32::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
    });
    // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures.
    let count = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if count < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
        // poll(2) itself failed (out of memory): back off rather than spin;
        // the caller's timers still bound the job.
        std::thread::sleep(EXIT_POLL);
    }
    if count <= 0 {
        // A timeout, or EINTR: the caller recomputes its timers and polls
        // again.
        return Vec::new();
    }
    fds.iter()
        .zip(watched)
        .filter(|(fd, _)| fd.revents != 0)
        .map(|(_, &(_, ready))| ready)
        .collect()
}

/// A pidfd for `pid`, readable once the process has exited, where the
/// system has them (Linux 5.3 and later).
#[cfg(target_os = "linux")]
fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new file
    // descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: the descriptor was just created and nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(target_os = "linux"))]
fn pidfd_open(_pid: i32) -> Option<OwnedFd> {
    None
}

/// Whether process `pid` (a child of ours) has exited, without reaping it.
fn has_exited(pid: i32) -> bool {
    // SAFETY: waitid with WNOWAIT only inspects the child and fills `info`.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let id = libc::id_t::try_from(pid).unwrap_or(0);
        let result = libc::waitid(
            libc::P_PID,
            id,
            &raw mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        result == 0 && info.si_pid() != 0
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn job(command: &str) -> Job {
        Job {
            passing: None,
            name: "t".to_owned(),
            command: command.to_owned(),
            kind: crate::task::Kind::Shell,
            dir: PathBuf::from("/tmp"),
            env: Vec::new(),
            timeout: Some(Duration::from_secs(30)),
            max_output: 1 << 20,
            cpus: None,
            mem: None,
            cache: None,
        }
    }

    #[test]
    fn output_passing_variables_reach_the_shell_either_way() {
        use crate::cache::passing::{Passing, Produced};
        let produced = |dir: &str| {
            Some(std::sync::Arc::new(Produced {
                dir: PathBuf::from(dir),
                tree: None,
                files: 2,
                bytes: 2,
                only: None,
            }))
        };
        let mut passing = job("echo \"$TASKRUN_OUT|$TASKRUN_IN_a|$INPUT_DIR\"; nosuchcommand");
        passing.passing = Some(Box::new(Passing {
            out: PathBuf::from("/o/it's"),
            given: vec![("a".to_owned(), produced("/o/a"))],
        }));
        // Set by the shell: quoted, and the command's line numbers kept.
        let outcome = run(&passing);
        assert_eq!(outcome.stdout.bytes, b"/o/it's|/o/a|/o/a\n");
        assert!(
            String::from_utf8_lossy(&outcome.stderr.bytes).contains(" 1: nosuchcommand"),
            "{:?}",
            String::from_utf8_lossy(&outcome.stderr.bytes)
        );
        // Two directories make a list of two lines: through the
        // environment, still line 1.
        if let Some(passing) = &mut passing.passing {
            passing.given.push(("b".to_owned(), produced("/o/b")));
        }
        passing.command = "printf '%s|' \"$TASKRUN_INPUTS\"; nosuchcommand".to_owned();
        let outcome = run(&passing);
        assert_eq!(outcome.stdout.bytes, b"/o/a\n/o/b|");
        assert!(String::from_utf8_lossy(&outcome.stderr.bytes).contains(" 1: nosuchcommand"));
        // With [env:] of its own, through the environment, and its own wins.
        passing.env = vec![("TASKRUN_OUT".to_owned(), "mine".to_owned())];
        passing.command = "echo $TASKRUN_OUT".to_owned();
        assert_eq!(run(&passing).stdout.bytes, b"mine\n");
    }

    fn run(job: &Job) -> Outcome {
        let control = Control::new().unwrap();
        Local.execute(job, &control, &mut |_, _| {})
    }

    #[test]
    fn captures_both_streams_and_the_exit_code() {
        let outcome = run(&job("echo out; echo err >&2; exit 3"));
        assert_eq!(outcome.exit, Exit::Code(3));
        assert_eq!(outcome.stdout.bytes, b"out\n");
        assert_eq!(outcome.stderr.bytes, b"err\n");
        assert!(!outcome.timed_out);
    }

    #[test]
    fn output_is_reported_as_it_arrives() {
        let control = Control::new().unwrap();
        let mut seen = Vec::new();
        Local.execute(
            &job("printf a; printf b >&2"),
            &control,
            &mut |stream, bytes| {
                seen.push((stream, bytes.to_vec()));
            },
        );
        seen.sort_by_key(|(stream, _)| *stream == Stream::Stderr);
        assert_eq!(
            seen,
            [
                (Stream::Stdout, b"a".to_vec()),
                (Stream::Stderr, b"b".to_vec())
            ]
        );
    }

    #[test]
    fn output_beyond_the_limit_is_counted_not_kept() {
        let mut limited = job("head -c 100000 /dev/zero");
        limited.max_output = 1000;
        let outcome = run(&limited);
        assert_eq!(outcome.stdout.bytes.len(), 1000);
        assert_eq!(outcome.stdout.total, 100_000);
        assert!(outcome.stdout.truncated());
    }

    #[test]
    fn stdin_is_empty() {
        let outcome = run(&job("cat; echo done"));
        assert_eq!(outcome.stdout.bytes, b"done\n");
    }

    #[test]
    fn killed_by_a_signal() {
        let outcome = run(&job("kill -9 $$"));
        assert_eq!(outcome.exit, Exit::Signal(Signal::KILL));
    }

    #[test]
    fn missing_directory_cannot_start() {
        let mut nowhere = job("true");
        nowhere.dir = PathBuf::from("/nonexistent/dir");
        let outcome = run(&nowhere);
        let Exit::NotStarted(reason) = outcome.exit else {
            panic!("{:?}", outcome.exit)
        };
        assert!(reason.contains("/nonexistent/dir"), "{reason}");
    }

    #[test]
    fn huge_command_cannot_start() {
        let outcome = run(&job(&format!("echo {}", "x".repeat(200_000))));
        let Exit::NotStarted(reason) = outcome.exit else {
            panic!("{:?}", outcome.exit)
        };
        assert!(reason.contains("200005 bytes"), "{reason}");
    }

    #[test]
    fn timeout_stops_the_whole_group() {
        let mut slow = job("sleep 30 & sleep 30");
        slow.timeout = Some(Duration::from_millis(200));
        let start = Instant::now();
        let outcome = run(&slow);
        assert!(outcome.timed_out);
        assert_eq!(outcome.exit, Exit::Signal(Signal::TERM));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn timeout_kills_what_ignores_sigterm() {
        let mut stubborn = job("trap '' TERM; sleep 30");
        stubborn.timeout = Some(Duration::from_millis(200));
        let start = Instant::now();
        let outcome = run(&stubborn);
        assert!(outcome.timed_out);
        assert!(start.elapsed() >= KILL_GRACE, "{:?}", start.elapsed());
        assert!(start.elapsed() < KILL_GRACE + Duration::from_secs(3));
    }

    #[test]
    fn background_process_holding_the_pipe_does_not_hang() {
        let start = Instant::now();
        let outcome = run(&job("sleep 30 & echo started"));
        assert_eq!(outcome.exit, Exit::Code(0));
        assert_eq!(outcome.stdout.bytes, b"started\n");
        assert!(start.elapsed() >= PIPE_LINGER);
        assert!(
            start.elapsed() < PIPE_LINGER + Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn interrupt_forwards_the_signal() {
        // A shell cannot trap a signal that was ignored when it started,
        // and a test run from a background job (`cargo test &`, nohup)
        // inherits SIGINT ignored: give the job the default, as a terminal
        // does. (taskrun itself catches SIGINT, so its tasks start with
        // the default.)
        // SAFETY: signal(2) sets a disposition; nothing in this test
        // process relies on SIGINT.
        unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
        let control = Control::new().unwrap();
        // Interrupt once the trap is in place, which the job says.
        let outcome = Local.execute(
            &job("trap 'echo got INT; exit 7' INT; echo ready; sleep 30 & wait"),
            &control,
            &mut |_, _| control.interrupt(Signal::INT),
        );
        assert_eq!(outcome.exit, Exit::Code(7));
        assert_eq!(outcome.stdout.text(), "ready\ngot INT\n");
    }

    #[test]
    fn kill_ends_the_job_at_once() {
        let control = Control::new().unwrap();
        control.kill();
        let start = Instant::now();
        let outcome = Local.execute(&job("trap '' INT TERM; sleep 30"), &control, &mut |_, _| {});
        assert_eq!(outcome.exit, Exit::Signal(Signal::KILL));
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
