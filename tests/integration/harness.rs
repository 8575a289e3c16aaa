//! Running the binary: `Test::new().file(..).args(..).run()`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The project's root directory.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `taskrun` binary built for these tests.
pub(crate) fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_taskrun"))
}

/// `program` in the one environment every test runs its commands in:
/// `TZ=UTC` (times are shown in UTC), no `TASKRUN_DB` (the database is
/// `taskrun.db` in the working directory), no `NO_COLOR`, and an empty
/// stdin. The rest passes through, `PATH` and the `SLURM_CONF` and
/// `TASKRUN_REQUIRE_SLURM` that CI sets among it.
///
/// For a program that runs taskrun itself: a shell, `script`, `unshare`.
pub(crate) fn command_for(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command
        .env("TZ", "UTC")
        .env_remove("TASKRUN_DB")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    command
}

/// The `taskrun` binary in the one environment (see [`command_for`]).
pub(crate) fn command() -> Command {
    command_for(binary())
}

/// One run of the binary in its own temporary directory.
pub(crate) struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) status: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Test {
    pub(crate) fn new() -> Test {
        Test {
            dir: tempfile::tempdir().expect("a temporary directory can be made"),
            args: Vec::new(),
        }
    }

    /// Writes a file (relative to the test directory).
    pub(crate) fn file(self, name: &str, contents: impl AsRef<[u8]>) -> Test {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent directories can be made");
        }
        std::fs::write(path, contents).expect("the test file can be written");
        self
    }

    /// Writes `tasks.txt`.
    pub(crate) fn taskfile(self, contents: impl AsRef<[u8]>) -> Test {
        self.file("tasks.txt", contents)
    }

    pub(crate) fn args(mut self, args: &[&str]) -> Test {
        self.args.extend(args.iter().map(|arg| (*arg).to_owned()));
        self
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self) -> Command {
        let mut command = command();
        command.args(&self.args).current_dir(self.dir.path());
        command
    }

    /// Starts taskrun without waiting for it, its output on pipes.
    pub(crate) fn spawn(&self) -> std::process::Child {
        self.command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("taskrun can be started")
    }

    /// Runs taskrun with exactly `args` (not those given with `args`), in
    /// the test directory.
    pub(crate) fn exec(&self, args: &[&str]) -> Output {
        let output = command()
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("taskrun can be started");
        Output {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub(crate) fn run(&self) -> Output {
        let output = self.command().output().expect("taskrun can be started");
        Output {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Output {
    /// Ends a spawned taskrun's run and collects what it printed.
    pub(crate) fn of(child: std::process::Child) -> Output {
        let output = child.wait_with_output().expect("taskrun can be waited for");
        Output {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Measured durations such as `(0.2s)` replaced by `(…)`.
pub(crate) fn masked(text: &str) -> String {
    crate::book::mask_durations(text)
}

/// One process in /proc that is alive (a zombie is not: `kill -0` would
/// count it): its /proc directory, `comm` and arguments.
struct Process {
    proc: PathBuf,
    comm: String,
    argv: Vec<String>,
}

impl Process {
    fn all() -> Vec<Process> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let proc = entry.path();
                let cmdline = std::fs::read(proc.join("cmdline")).ok()?;
                let stat = std::fs::read_to_string(proc.join("stat")).ok()?;
                let state = stat.rsplit(')').next()?.trim_start().chars().next()?;
                if state == 'Z' {
                    return None;
                }
                let comm = std::fs::read_to_string(proc.join("comm")).ok()?;
                let argv = String::from_utf8_lossy(&cmdline)
                    .split_terminator('\0')
                    .map(str::to_owned)
                    .collect();
                Some(Process {
                    proc,
                    comm: comm.trim_end().to_owned(),
                    argv,
                })
            })
            .collect()
    }

    fn describe(&self) -> String {
        format!("{}: {}", self.proc.display(), self.argv.join(" "))
    }
}

/// The live processes whose command line contains `marker`: a task's
/// shell as well as what it started, which is right for checking that
/// none is left.
pub(crate) fn processes_with(marker: &str) -> Vec<String> {
    Process::all()
        .iter()
        .filter(|process| process.argv.join(" ").contains(marker))
        .map(Process::describe)
        .collect()
}

/// Waits (up to `within`) until no process has `marker` in its command
/// line, and returns the ones still there.
pub(crate) fn wait_until_gone(marker: &str, within: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let left = processes_with(marker);
        if left.is_empty() || start.elapsed() > within {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The live processes running exactly `argv`: the program `argv[0]`
/// itself (its `comm` and `argv[0]` name it) with those arguments. Not
/// the shell whose command line mentions it, nor the shell's child in
/// the moment between fork and exec: once the program runs, everything
/// the task's shell did before starting it (a `trap`, say) is done.
pub(crate) fn processes_running(argv: &[&str]) -> Vec<String> {
    let Some((program, arguments)) = argv.split_first() else {
        return Vec::new();
    };
    Process::all()
        .iter()
        .filter(|process| {
            process.comm == *program
                && process
                    .argv
                    .first()
                    .is_some_and(|first| Path::new(first).file_name() == Some(OsStr::new(program)))
                && process.argv[1..] == *arguments
        })
        .map(Process::describe)
        .collect()
}

/// Waits (up to `within`) until at least `count` processes run exactly
/// `argv` (see [`processes_running`]).
#[track_caller]
pub(crate) fn wait_for_processes(argv: &[&str], count: usize, within: Duration) {
    let start = Instant::now();
    while processes_running(argv).len() < count {
        assert!(
            start.elapsed() < within,
            "expected {count} processes running `{}`, found {:?}; with `{}` in their command line: {:?}",
            argv.join(" "),
            processes_running(argv),
            argv.join(" "),
            processes_with(&argv.join(" "))
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts that `haystack` contains `needle`, showing both if not.
#[track_caller]
pub(crate) fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected to find\n{needle}\nin\n{haystack}"
    );
}
