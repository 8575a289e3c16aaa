//! Running the binary: `Test::new().file(..).args(..).run()`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

/// The processes (zombies aside) whose command line contains `marker`,
/// read from /proc: `kill -0` would count a zombie as alive.
pub(crate) fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(cmdline) = std::fs::read(path.join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains(marker) {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .chars()
            .next();
        if state.is_some_and(|state| state != 'Z') {
            found.push(format!("{}: {}", path.display(), cmdline.trim()));
        }
    }
    found
}

/// Waits (up to `within`) until no process has `marker` in its command
/// line, and returns the ones still there.
pub(crate) fn wait_until_gone(marker: &str, within: std::time::Duration) -> Vec<String> {
    let start = std::time::Instant::now();
    loop {
        let left = processes_with(marker);
        if left.is_empty() || start.elapsed() > within {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Waits (up to `within`) until `count` processes have `marker` in their
/// command line.
pub(crate) fn wait_for_processes(marker: &str, count: usize, within: std::time::Duration) {
    let start = std::time::Instant::now();
    while processes_with(marker).len() < count {
        assert!(
            start.elapsed() < within,
            "expected {count} processes with `{marker}`, found {:?}",
            processes_with(marker)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
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
