//! Running the binary, in the shape of casey/just's test harness:
//!
//! ```ignore
//! Test::new()
//!     .taskfile("a: echo hi\n")
//!     .args(&["run", "tasks.txt", "--quiet"])
//!     .status(0)
//!     .stdout("Run completed: 1 passed, 0 failed, 0 skipped\nResults saved to: taskrun.db (run #1)\n")
//!     .stderr("")
//!     .run();
//! ```
//!
//! `run` checks every declared expectation at once and panics with one
//! message that shows each mismatching stream as a line diff. What is not
//! declared is not checked. Expectations are compared with the output
//! masked (see [`mask`]); the returned [`Output`] is the raw output, for
//! the assertions a test still makes itself.
//!
//! Every command a test runs goes through [`command`] or [`command_for`],
//! so that all of them see one environment.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The project's root directory.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The book's pages (`book/src/*.md`), in name order.
pub(crate) fn book_pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("book/src"))
        .expect("book/src exists")
        .map(|entry| entry.expect("book/src can be listed").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    pages
}

/// Every page of the book, one after the other.
pub(crate) fn book_text() -> String {
    book_pages()
        .iter()
        .map(|page| std::fs::read_to_string(page).expect("book pages are UTF-8"))
        .collect()
}

/// The `taskrun` binary built for these tests.
pub(crate) fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_taskrun"))
}

/// `program` in the one environment every test runs its commands in:
/// `TZ=UTC` (times are shown in UTC), no `TASKRUN_DB` (the database is
/// `taskrun.db` in the working directory), none of `NO_COLOR`,
/// `CLICOLOR_FORCE` and `TERM` (which decide colour and whether the live
/// view is drawn: a test that wants them sets them), and an empty stdin.
/// The rest passes through, `PATH` and the `SLURM_CONF`,
/// `TASKRUN_REQUIRE_SLURM`, `TASKRUN_REQUIRE_TMUX` and `TASKRUN_REQUIRE_CHROMIUM` that CI sets among
/// it.
///
/// For a program that runs taskrun itself: a shell, `script`, `unshare`.
pub(crate) fn command_for(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command
        .env("TZ", "UTC")
        .env_remove("TASKRUN_DB")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("TERM")
        .stdin(Stdio::null());
    command
}

/// The `taskrun` binary in the one environment (see [`command_for`]).
pub(crate) fn command() -> Command {
    command_for(binary())
}

/// One test directory, and one run of the binary in it with what the run
/// is expected to print and end with.
pub(crate) struct Test {
    dir: Arc<tempfile::TempDir>,
    args: Vec<String>,
    env: Vec<(OsString, OsString)>,
    status: Option<i32>,
    stdout: Vec<Expect>,
    stderr: Vec<Expect>,
    masked: bool,
}

/// What a run printed and how it ended, as it was (not masked).
#[derive(Debug)]
pub(crate) struct Output {
    /// The exit code, or -1 if a signal ended the run.
    pub(crate) status: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// One expectation about one stream.
enum Expect {
    Is(String),
    Contains(String),
    StartsWith(String),
    EndsWith(String),
    Lacks(String),
}

impl Test {
    pub(crate) fn new() -> Test {
        Test::in_dir(Arc::new(
            tempfile::tempdir().expect("a temporary directory can be made"),
        ))
    }

    /// Another run in this test's directory: with `args` only, and
    /// nothing expected of it yet.
    pub(crate) fn with_args(&self, args: &[&str]) -> Test {
        Test::in_dir(Arc::clone(&self.dir)).args(args)
    }

    fn in_dir(dir: Arc<tempfile::TempDir>) -> Test {
        Test {
            dir,
            args: Vec::new(),
            env: Vec::new(),
            status: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
            masked: true,
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

    /// Sets one more environment variable for this run, over the one
    /// environment of [`command_for`].
    pub(crate) fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Test {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The run must end with exit code `status`.
    pub(crate) fn status(mut self, status: i32) -> Test {
        self.status = Some(status);
        self
    }

    /// Standard output must be exactly `expected`.
    pub(crate) fn stdout(mut self, expected: &str) -> Test {
        self.stdout.push(Expect::Is(expected.to_owned()));
        self
    }

    /// Standard error must be exactly `expected`.
    pub(crate) fn stderr(mut self, expected: &str) -> Test {
        self.stderr.push(Expect::Is(expected.to_owned()));
        self
    }

    pub(crate) fn stdout_contains(mut self, fragment: &str) -> Test {
        self.stdout.push(Expect::Contains(fragment.to_owned()));
        self
    }

    pub(crate) fn stderr_contains(mut self, fragment: &str) -> Test {
        self.stderr.push(Expect::Contains(fragment.to_owned()));
        self
    }

    pub(crate) fn stdout_starts_with(mut self, start: &str) -> Test {
        self.stdout.push(Expect::StartsWith(start.to_owned()));
        self
    }

    pub(crate) fn stderr_starts_with(mut self, start: &str) -> Test {
        self.stderr.push(Expect::StartsWith(start.to_owned()));
        self
    }

    pub(crate) fn stdout_ends_with(mut self, end: &str) -> Test {
        self.stdout.push(Expect::EndsWith(end.to_owned()));
        self
    }

    pub(crate) fn stderr_ends_with(mut self, end: &str) -> Test {
        self.stderr.push(Expect::EndsWith(end.to_owned()));
        self
    }

    /// Standard output must not contain `fragment`.
    pub(crate) fn stdout_lacks(mut self, fragment: &str) -> Test {
        self.stdout.push(Expect::Lacks(fragment.to_owned()));
        self
    }

    /// Compares the expectations with the output as it is, not masked:
    /// for a test about what the masks would hide.
    pub(crate) fn unmasked(mut self) -> Test {
        self.masked = false;
        self
    }

    fn command(&self) -> Command {
        let mut command = command();
        command.args(&self.args).current_dir(self.dir.path());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Runs taskrun, waits for it, and checks what was declared.
    #[track_caller]
    pub(crate) fn run(&self) -> Output {
        let output = self.command().output().expect("taskrun can be started");
        self.check(Output::from(output))
    }

    /// Starts taskrun without waiting for it, its output on pipes; `wait`
    /// ends it.
    pub(crate) fn spawn(&self) -> std::process::Child {
        self.command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("taskrun can be started")
    }

    /// Waits for a `spawn`ed taskrun, and checks what was declared.
    #[track_caller]
    pub(crate) fn wait(&self, child: std::process::Child) -> Output {
        let output = child.wait_with_output().expect("taskrun can be waited for");
        self.check(Output::from(output))
    }

    /// Runs taskrun with exactly `args` (not those given with `args`) in
    /// the test directory, checking nothing.
    pub(crate) fn exec(&self, args: &[&str]) -> Output {
        self.with_args(args).run()
    }

    /// Panics with every declared expectation that `output` does not meet.
    #[track_caller]
    fn check(&self, output: Output) -> Output {
        let shown = |text: &str| {
            if self.masked {
                mask(text, self.dir.path())
            } else {
                text.to_owned()
            }
        };
        let (stdout, stderr) = (shown(&output.stdout), shown(&output.stderr));
        let mut problems = Vec::new();
        if let Some(status) = self.status.filter(|status| *status != output.status) {
            problems.push(format!(
                "exit status: expected {status}, got {}",
                output.status
            ));
        }
        let mut diffed = [false, false];
        for (index, (name, expects, actual)) in [
            ("stdout", &self.stdout, &stdout),
            ("stderr", &self.stderr, &stderr),
        ]
        .into_iter()
        .enumerate()
        {
            for expect in expects {
                if let Some(problem) = expect.problem(name, actual) {
                    diffed[index] |= matches!(expect, Expect::Is(_));
                    problems.push(problem);
                }
            }
        }
        if problems.is_empty() {
            return output;
        }
        let masked = if self.masked { ", masked" } else { "" };
        for (name, text, diffed) in [
            ("stdout", &stdout, diffed[0]),
            ("stderr", &stderr, diffed[1]),
        ] {
            if !diffed {
                let text = if text.is_empty() { "(nothing)" } else { text };
                problems.push(format!("--- {name}{masked} ---\n{}", capped(text)));
            }
        }
        panic!(
            "`taskrun {}` in {} (exit status {}) is not as expected:\n\n{}",
            self.args.join(" "),
            self.dir.path().display(),
            output.status,
            problems
                .iter()
                .map(|problem| problem.trim_end_matches('\n'))
                .collect::<Vec<_>>()
                .join("\n\n")
        );
    }
}

impl Expect {
    /// What is wrong with `actual`, the stream `name`, if anything.
    fn problem(&self, name: &str, actual: &str) -> Option<String> {
        match self {
            Expect::Is(expected) => (actual != expected).then(|| {
                format!(
                    "{name} differs (- expected, + actual):\n{}",
                    diff(expected, actual)
                )
            }),
            Expect::StartsWith(start) => (!actual.starts_with(start.as_str())).then(|| {
                let lines = start.split_inclusive('\n').count();
                let head: String = actual.split_inclusive('\n').take(lines).collect();
                format!(
                    "{name} does not start as expected (- expected, + actual):\n{}",
                    diff(start, &head)
                )
            }),
            Expect::EndsWith(end) => (!actual.ends_with(end.as_str())).then(|| {
                let lines = end.split_inclusive('\n').count();
                let all: Vec<&str> = actual.split_inclusive('\n').collect();
                let tail = all[all.len().saturating_sub(lines)..].concat();
                format!(
                    "{name} does not end as expected (- expected, + actual):\n{}",
                    diff(end, &tail)
                )
            }),
            Expect::Contains(fragment) => (!actual.contains(fragment.as_str()))
                .then(|| format!("{name} does not contain:\n{}", indented(fragment))),
            Expect::Lacks(fragment) => actual
                .contains(fragment.as_str())
                .then(|| format!("{name} contains what it must not:\n{}", indented(fragment))),
        }
    }
}

impl From<std::process::Output> for Output {
    fn from(output: std::process::Output) -> Output {
        Output {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// `text` with every line indented, for a message.
fn indented(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| format!("    {}\n", line.trim_end_matches('\n')))
        .collect()
}

/// At most 20,000 bytes of `text`, for a message: a run can print far more.
fn capped(text: &str) -> String {
    const MOST: usize = 20_000;
    if text.len() <= MOST {
        return text.to_owned();
    }
    let mut end = MOST;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[… {} more bytes]\n", &text[..end], text.len() - end)
}

/// A line diff of `expected` and `actual`: `-` lines only expected, `+`
/// lines only printed, runs of equal lines shortened to three on each side.
/// A line without its newline says so, since that is a difference too.
pub(crate) fn diff(expected: &str, actual: &str) -> String {
    #[derive(Clone, Copy, PartialEq)]
    enum Side {
        Both,
        Expected,
        Actual,
    }
    let old: Vec<&str> = expected.split_inclusive('\n').collect();
    let new: Vec<&str> = actual.split_inclusive('\n').collect();
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let (old_middle, new_middle) = (
        &old[prefix..old.len() - suffix],
        &new[prefix..new.len() - suffix],
    );
    let mut lines: Vec<(Side, &str)> = old[..prefix].iter().map(|l| (Side::Both, *l)).collect();
    // The longest common subsequence of the lines that differ, when that
    // is small enough to work out; otherwise all of one, then the other.
    let (n, m) = (old_middle.len(), new_middle.len());
    if n.saturating_mul(m) <= 4_000_000 {
        let mut longest = vec![vec![0u32; m + 1]; n + 1];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                longest[i][j] = if old_middle[i] == new_middle[j] {
                    longest[i + 1][j + 1] + 1
                } else {
                    longest[i + 1][j].max(longest[i][j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && old_middle[i] == new_middle[j] {
                lines.push((Side::Both, old_middle[i]));
                (i, j) = (i + 1, j + 1);
            } else if j == m || (i < n && longest[i + 1][j] >= longest[i][j + 1]) {
                lines.push((Side::Expected, old_middle[i]));
                i += 1;
            } else {
                lines.push((Side::Actual, new_middle[j]));
                j += 1;
            }
        }
    } else {
        lines.extend(old_middle.iter().map(|l| (Side::Expected, *l)));
        lines.extend(new_middle.iter().map(|l| (Side::Actual, *l)));
    }
    lines.extend(old[old.len() - suffix..].iter().map(|l| (Side::Both, *l)));

    let changed: Vec<usize> = (0..lines.len())
        .filter(|&index| lines[index].0 != Side::Both)
        .collect();
    let near_a_change = |index: usize| changed.iter().any(|&change| change.abs_diff(index) <= 3);
    let mut out = String::new();
    let mut hidden = 0;
    for (index, (side, line)) in lines.iter().enumerate() {
        if *side == Side::Both && !near_a_change(index) {
            hidden += 1;
            continue;
        }
        if hidden > 0 {
            let _ = writeln!(out, "  [… {hidden} equal lines]");
            hidden = 0;
        }
        let mark = match side {
            Side::Both => ' ',
            Side::Expected => '-',
            Side::Actual => '+',
        };
        match line.strip_suffix('\n') {
            Some(line) => {
                let _ = writeln!(out, "{mark} {line}");
            }
            None => {
                let _ = writeln!(out, "{mark} {line}[no newline at the end]");
            }
        }
    }
    if hidden > 0 {
        let _ = writeln!(out, "  [… {hidden} equal lines]");
    }
    if expected.is_empty() {
        out.push_str("  (nothing was expected)\n");
    }
    if actual.is_empty() {
        out.push_str("  (nothing was printed)\n");
    }
    out
}

/// What declared expectations are compared with: `text` with what differs
/// from run to run replaced. The test directory `dir` becomes `[DIR]`,
/// measured durations such as `(0.2s)` become `(…)`, and date-times such
/// as `2024-01-15 14:30:22` become `YYYY-MM-DD hh:mm:ss`.
pub(crate) fn mask(text: &str, dir: &Path) -> String {
    let mut text = text.to_owned();
    let mut dirs = vec![dir.display().to_string()];
    if let Ok(real) = dir.canonicalize() {
        dirs.push(real.display().to_string());
    }
    // The longer first, should one contain the other.
    dirs.sort_by_key(|dir| std::cmp::Reverse(dir.len()));
    for dir in dirs {
        text = text.replace(&dir, "[DIR]");
    }
    mask_times(&mask_durations(&text))
}

/// Measured durations such as `(0.2s)` replaced by `(…)`, and nothing
/// else: for the output a test takes apart itself.
pub(crate) fn masked(text: &str) -> String {
    mask_durations(text)
}

/// Date-times such as `2024-01-15 14:30:22` replaced by
/// `YYYY-MM-DD hh:mm:ss`, and the times that begin log lines, such as
/// `2024-01-15T14:30:22.042Z`, by `YYYY-MM-DDThh:mm:ss.sssZ`.
pub(crate) fn mask_times(text: &str) -> String {
    let shapes = [
        ("dddd-dd-dd dd:dd:dd", "YYYY-MM-DD hh:mm:ss"),
        (LOG_TIME, "YYYY-MM-DDThh:mm:ss.sssZ"),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'text: while !rest.is_empty() {
        for (shape, mask) in shapes {
            if has_shape(rest, shape) {
                out.push_str(mask);
                rest = &rest[shape.len()..];
                continue 'text;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The time that begins each line of a log of `--log-dir`: ISO 8601 in
/// UTC, to the millisecond (`d` a digit).
const LOG_TIME: &str = "dddd-dd-ddTdd:dd:dd.dddZ";

/// Whether `text` begins with `shape`, where `d` is any digit.
fn has_shape(text: &str, shape: &str) -> bool {
    text.get(..shape.len()).is_some_and(|start| {
        start
            .chars()
            .zip(shape.chars())
            .all(|(c, s)| if s == 'd' { c.is_ascii_digit() } else { c == s })
    })
}

/// A log of `--log-dir` without the time before each line, which is
/// checked to be one (ISO 8601 in UTC, to the millisecond).
pub(crate) fn untimed(log: &str) -> String {
    log.lines()
        .map(|line| {
            assert!(
                has_shape(line, LOG_TIME) && line[LOG_TIME.len()..].starts_with(' '),
                "a log line without its time: {line:?}"
            );
            format!("{}\n", &line[LOG_TIME.len() + 1..])
        })
        .collect()
}

/// Replaces measured durations, the words `0.2s`, `12.45s` or `1m05s`,
/// with `…`, since they differ from run to run.
pub(crate) fn mask_durations(text: &str) -> String {
    let is_duration = |word: &str| {
        let Some(number) = word.strip_suffix('s') else {
            return false;
        };
        let mut parts = number.splitn(2, 'm');
        let (first, second) = (parts.next().unwrap_or(""), parts.next());
        let digits = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit());
        if let Some(seconds) = second {
            digits(first) && digits(seconds)
        } else {
            let mut halves = first.splitn(2, '.');
            digits(halves.next().unwrap_or("")) && halves.next().is_none_or(digits)
        }
    };
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_alphanumeric() || c == '.' {
            word.push(c);
            continue;
        }
        // A duration may end a sentence: `after 5.0s.`
        let bare = word.trim_end_matches('.');
        if is_duration(bare) {
            out.push('…');
            out.push_str(&word[bare.len()..]);
        } else {
            out.push_str(&word);
        }
        word.clear();
        if c != '\0' {
            out.push(c);
        }
    }
    out
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

#[test]
fn durations_are_masked() {
    assert_eq!(
        mask_durations("a (0.2s) b (12.45s) | 1m05s | (exit 2) (s) (3) 5.0s. sleeps 0.2s2"),
        "a (…) b (…) | … | (exit 2) (s) (3) …. sleeps 0.2s2"
    );
}

#[test]
fn times_and_the_test_directory_are_masked() {
    let dir = Path::new("/tmp/.tmpAbC123");
    assert_eq!(
        mask(
            "#1 | 2026-11-24 08:16:47 | x (0.5s)\nTask file: /tmp/.tmpAbC123/tasks.txt\n",
            dir
        ),
        "#1 | YYYY-MM-DD hh:mm:ss | x (…)\nTask file: [DIR]/tasks.txt\n"
    );
}

#[test]
fn a_diff_shows_what_differs_near_what_does_not() {
    let expected = "a\nb\nc\nd\ne\nf\ng\nh\n";
    let actual = "a\nb\nc\nd\ne\nF\ng\nh\nextra";
    assert_eq!(
        diff(expected, actual),
        "  [… 2 equal lines]\n  c\n  d\n  e\n- f\n+ F\n  g\n  h\n+ extra[no newline at the end]\n"
    );
    assert_eq!(diff("", "x\n"), "+ x\n  (nothing was expected)\n");
}

#[test]
fn every_mismatch_is_reported_at_once() {
    let test = Test::new()
        .args(&["check", "missing.txt"])
        .status(0)
        .stdout("no such output\n")
        .stderr_contains("not in the message");
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test.run()))
        .expect_err("the expectations are not met");
    let message = panic
        .downcast_ref::<String>()
        .expect("the panic has a message");
    assert_contains(message, "`taskrun check missing.txt` in ");
    assert_contains(message, "exit status: expected 0, got 2");
    assert_contains(
        message,
        "stdout differs (- expected, + actual):\n- no such output\n  (nothing was printed)\n",
    );
    assert_contains(
        message,
        "stderr does not contain:\n    not in the message\n",
    );
    assert_contains(message, "--- stderr, masked ---\n");
    assert_contains(message, "cannot read task file `missing.txt`");
    assert!(
        !message.contains("--- stdout"),
        "stdout was shown as a diff"
    );
}
