//! Live progress of a run, from its events.
//!
//! One line per task as it ends, in the layout of the specification:
//!
//! ```text
//! [2/6] lint: npm run lint ............... PASSED (2.3s)
//! [4/4] package ......................... SKIPPED (dependency failed: compile)
//! ```
//!
//! `[i/N]` counts the tasks that have ended out of the tasks in the run.
//! The status sits at a fixed column; long commands are shortened (with
//! `…`) to keep one line per task. A task that failed or timed out is
//! followed by the reason and the last lines of its output, so the user
//! sees why without another command. On a terminal, the tasks running now
//! are shown below the finished ones and redrawn in place; otherwise only
//! plain lines are written. Writing never panics: if standard output goes
//! away, progress stops and the run goes on.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lines::Lines;
use crate::error::{Error, plural};
use crate::event::{
    Capture, Event, Status, Stream, Summary, TaskId, TaskResult, format_duration, why_ended,
};
use crate::graph::Plan;
use crate::sink::{Sink, Wait};

/// The column the status word starts at (0-based), as in the spec.
const STATUS_COLUMN: usize = 41;
/// The fewest dots between a command and its status.
const MIN_DOTS: usize = 4;
/// The fewest characters of a command shown, however long the name.
const MIN_COMMAND: usize = 12;
/// How many lines of output follow a failed task.
const TAIL_LINES: usize = 10;
/// Longer output lines are cut in the tail.
const TAIL_LINE_CHARS: usize = 300;
/// How many running tasks the live view lists.
const LIVE_TASKS: usize = 8;
/// How often the live view is redrawn.
const REDRAW: Duration = Duration::from_millis(100);

/// What is shown of the tasks' own output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Output {
    /// Only the progress lines, with the last lines of a failed task's
    /// output under it.
    #[default]
    Summary,
    /// Every line as it is printed, prefixed with the task's name: its
    /// stdout on stdout, its stderr on stderr.
    Stream,
    /// Each task's output whole, when it ends, the same way.
    Grouped,
}

/// How progress is shown.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProgressOptions {
    /// What is shown of the tasks' output.
    pub(crate) output: Output,
    /// Print only the final summary.
    pub(crate) quiet: bool,
    /// Show the running tasks, redrawn in place (standard output is a
    /// terminal).
    pub(crate) live: bool,
    /// Colour the status words.
    pub(crate) color: bool,
    /// Print `Running with max N concurrent tasks...` first (`--jobs` was
    /// given).
    pub(crate) announce_jobs: Option<usize>,
    /// How many tasks were asked to run at once: when the run can run
    /// fewer (the open-file limit), it says so.
    pub(crate) jobs: usize,
    /// A line to print before anything else (`Retrying 2 failed tasks
    /// from run #41...`).
    pub(crate) header: Option<String>,
    /// The run's timeout, for the reason shown under a timed-out task.
    pub(crate) timeout: Option<Duration>,
}

struct Live {
    since: Instant,
    /// The last complete line the task printed, and what it has printed of
    /// the next one.
    last_line: String,
    partial: Vec<u8>,
}

/// Turns events into text on a writer (and, for the tasks' stderr in the
/// stream and grouped modes, a second one).
pub(crate) struct Progress<W: Write, E: Write> {
    plan: Arc<Plan>,
    options: ProgressOptions,
    out: W,
    err: E,
    lines: Lines,
    /// The attempt of each task whose output has been shown: a task
    /// interrupted while it waited to be retried ends with the result of
    /// the attempt already shown.
    shown: Vec<u32>,
    ended: usize,
    running: BTreeMap<TaskId, Live>,
    /// Lines of the live view on screen now.
    drawn: usize,
    /// When the live view is redrawn next.
    redraw: Instant,
    width: usize,
    broken: bool,
}

impl<W: Write, E: Write> Progress<W, E> {
    pub(crate) fn new(plan: Arc<Plan>, options: ProgressOptions, out: W, err: E) -> Self {
        let width = super::terminal::stdout_width().unwrap_or(80);
        Progress {
            shown: vec![0; plan.tasks.len()],
            plan,
            options,
            out,
            err,
            lines: Lines::default(),
            ended: 0,
            running: BTreeMap::new(),
            drawn: 0,
            redraw: Instant::now() + REDRAW,
            width,
            broken: false,
        }
    }

    /// Shows one event.
    pub(crate) fn event(&mut self, event: Event) {
        if self.options.quiet {
            if let Event::RunFinished { summary } = event {
                let text = self.summary(&summary);
                self.write(&text);
            }
            return;
        }
        let text = match event {
            Event::RunStarted { jobs, .. } => self.started(jobs),
            Event::TaskStarted { task, .. } => {
                self.running.insert(
                    task,
                    Live {
                        since: Instant::now(),
                        last_line: String::new(),
                        partial: Vec::new(),
                    },
                );
                String::new()
            }
            Event::TaskOutput {
                task,
                stream,
                bytes,
            } => {
                if let Some(live) = self.running.get_mut(&task) {
                    live.output(&bytes);
                }
                if self.options.output != Output::Stream {
                    return;
                }
                let name = &self.plan.tasks[task].name.value;
                let (mut out, mut err) = (String::new(), String::new());
                self.lines.push(task, stream, &bytes, |line| {
                    let target = if stream == Stream::Stdout {
                        &mut out
                    } else {
                        &mut err
                    };
                    let _ = writeln!(target, "{name} | {}", String::from_utf8_lossy(line));
                });
                self.write_err(&err);
                out
            }
            Event::TaskFinished { task, result } => {
                self.running.remove(&task);
                self.ended += 1;
                let mut text = self.output_of(task, &result);
                text.push_str(&self.finished_line(task, &result));
                text
            }
            Event::TaskRetrying {
                task,
                result,
                retries,
                delay,
            } => {
                self.running.remove(&task);
                let mut text = self.output_of(task, &result);
                text.push_str(&self.retry_line(task, &result, retries, delay));
                text
            }
            Event::TaskSkipped { task, reason } => {
                self.ended += 1;
                let head = format!("{} {}", self.counter(), self.plan.tasks[task].name.value);
                self.line(&head, Status::Skipped, &reason.to_string())
            }
            Event::Halted { failures, running } => {
                let mut text =
                    format!("\n{} failed: no more tasks start", plural(failures, "task"));
                if running > 0 {
                    let _ = write!(text, "; waiting for {}", plural(running, "running task"));
                }
                text + "...\n"
            }
            Event::Interrupted { signal, running } => format!(
                "\nReceived {signal}: stopping {} (press Ctrl-C again to kill them now)...\n",
                plural(running, "running task")
            ),
            Event::RunFinished { summary } => self.summary(&summary),
        };
        let mut all = self.erase_live();
        all.push_str(&text);
        all.push_str(&self.live_view());
        self.write(&all);
    }

    /// The lines that open the run: a header, and how many run at once.
    fn started(&self, jobs: usize) -> String {
        let mut text = String::new();
        if let Some(header) = &self.options.header {
            let _ = writeln!(text, "{header}");
        }
        if jobs < self.options.jobs {
            let _ = writeln!(
                text,
                "Running at most {} at once: the open-file limit (ulimit -n) allows \
                 no more than that of the {} asked for...",
                plural(jobs, "task"),
                self.options.jobs
            );
        } else if let Some(jobs) = self.options.announce_jobs {
            let _ = writeln!(
                text,
                "Running with max {}...",
                plural(jobs, "concurrent task")
            );
        }
        text
    }

    fn counter(&self) -> String {
        format!("[{}/{}]", self.ended, self.plan.tasks.len())
    }

    /// `prefix name: command`, the command shortened to leave room for the
    /// status.
    fn head(&self, prefix: &str, task: TaskId) -> String {
        let spec = &self.plan.tasks[task];
        let prefix = format!("{prefix} {}: ", spec.name.value);
        let room = STATUS_COLUMN
            .saturating_sub(prefix.chars().count() + 1 + MIN_DOTS + 1)
            .max(MIN_COMMAND);
        prefix + shorten(&spec.command.value, room).as_str()
    }

    /// An attempt that failed and will be retried.
    fn retry_line(
        &self,
        task: TaskId,
        result: &TaskResult,
        retries: u32,
        delay: Duration,
    ) -> String {
        let spec = &self.plan.tasks[task];
        let head = self.head("     ", task);
        let word = format!("RETRY {}/{retries}", result.attempt);
        let timeout = spec.settings.timeout_or(self.options.timeout);
        let why = reason(result, timeout);
        let detail = format!("{why}; again in {}", format_duration(delay));
        self.styled_line(&head, &word, "33", &detail)
    }

    fn finished_line(&self, task: TaskId, result: &TaskResult) -> String {
        let spec = &self.plan.tasks[task];
        let head = self.head(&self.counter(), task);
        let mut text = self.line(&head, result.status, &format_duration(result.duration));
        if matches!(result.status, Status::Failed | Status::Timeout) {
            let timeout = spec.settings.timeout_or(self.options.timeout);
            if self.options.output == Output::Summary {
                text.push_str(&why(result, timeout));
            } else {
                // The output itself has been shown.
                let _ = writeln!(text, "      {}", reason(result, timeout));
            }
        }
        text
    }

    /// The task's output, as the output mode shows it when an attempt
    /// ends: the rest of its unfinished lines (stream), or all of it
    /// (grouped). Stdout lines are returned, stderr lines written to the
    /// second writer.
    fn output_of(&mut self, task: TaskId, result: &TaskResult) -> String {
        if std::mem::replace(&mut self.shown[task], result.attempt) == result.attempt {
            return String::new();
        }
        let name = &self.plan.tasks[task].name.value;
        let (mut out, mut err) = (String::new(), String::new());
        match self.options.output {
            Output::Summary => {}
            Output::Stream => self.lines.finish(task, |stream, line| {
                let target = if stream == Stream::Stdout {
                    &mut out
                } else {
                    &mut err
                };
                let _ = writeln!(target, "{name} | {}", String::from_utf8_lossy(line));
            }),
            Output::Grouped => {
                for (capture, target) in [(&result.stdout, &mut out), (&result.stderr, &mut err)] {
                    for line in String::from_utf8_lossy(&capture.bytes).lines() {
                        let _ = writeln!(target, "{name} | {line}");
                    }
                    if capture.truncated() {
                        let kept = capture.bytes.len() + capture.last_bytes().len();
                        let _ = writeln!(
                            target,
                            "{name} | … ({} bytes of {} left out; --log-dir keeps them all)",
                            capture.total.saturating_sub(kept as u64),
                            capture.total
                        );
                        // The end, from its first whole line.
                        let tail = String::from_utf8_lossy(capture.last_bytes());
                        let whole = tail.split_once('\n').map_or("", |(_, rest)| rest);
                        for line in whole.lines() {
                            let _ = writeln!(target, "{name} | {line}");
                        }
                    }
                }
            }
        }
        self.write_err(&err);
        out
    }

    /// Writes task stderr lines to the second writer. What is pending on
    /// the first is written first and the live view taken down, so that
    /// the two streams keep their order where they meet (a terminal,
    /// `2>&1`); the live view comes back at the next tick.
    fn write_err(&mut self, text: &str) {
        if !text.is_empty() {
            let erase = self.erase_live();
            self.write(&erase);
            self.flush();
            let _ = self.err.write_all(text.as_bytes());
            let _ = self.err.flush();
        }
    }

    /// `head ....... STATUS (detail)` and a newline.
    fn line(&self, head: &str, status: Status, detail: &str) -> String {
        let colour = match status {
            Status::Passed => "32",
            Status::Failed | Status::Timeout => "31",
            Status::Skipped | Status::Canceled => "33",
        };
        self.styled_line(head, &status.as_str().to_ascii_uppercase(), colour, detail)
    }

    /// `head ....... WORD (detail)`, the word in `colour` (an ANSI code)
    /// when colour is on.
    fn styled_line(&self, head: &str, word: &str, colour: &str, detail: &str) -> String {
        let dots = STATUS_COLUMN
            .saturating_sub(head.chars().count() + 2)
            .max(MIN_DOTS - 1);
        let word = if self.options.color {
            format!("\x1b[1;{colour}m{word}\x1b[0m")
        } else {
            word.to_owned()
        };
        format!("{head} {} {word} ({detail})\n", ".".repeat(dots))
    }

    fn summary(&self, summary: &Summary) -> String {
        let counts = summary.counts;
        let blank = if self.options.quiet { "" } else { "\n" };
        match (summary.interrupted, summary.halted) {
            (Some(signal), _) => format!("{blank}Run interrupted by {signal}: {counts}\n"),
            (None, Some(failures)) => format!(
                "{blank}Run stopped after {}: {counts}\n",
                plural(failures, "failure")
            ),
            (None, None) => format!("{blank}Run completed: {counts}\n"),
        }
    }

    /// The running tasks, one line each, for a terminal.
    fn live_view(&mut self) -> String {
        if !self.options.live || self.running.is_empty() {
            self.drawn = 0;
            return String::new();
        }
        let mut text = String::new();
        let mut lines = 0;
        for (&task, live) in self.running.iter().take(LIVE_TASKS) {
            let mut line = format!(
                "  ▸ {} ({})",
                self.plan.tasks[task].name.value,
                format_duration(live.since.elapsed())
            );
            if !live.last_line.is_empty() {
                let _ = write!(line, " {}", live.last_line);
            }
            // A line that wrapped would break the count of lines to erase.
            let _ = writeln!(text, "{}", shorten(&line, self.width.saturating_sub(1)));
            lines += 1;
        }
        if self.running.len() > LIVE_TASKS {
            let _ = writeln!(
                text,
                "  … and {} more running",
                self.running.len() - LIVE_TASKS
            );
            lines += 1;
        }
        self.drawn = lines;
        text
    }

    /// Moves the cursor back over the live view and clears it.
    fn erase_live(&mut self) -> String {
        let drawn = std::mem::take(&mut self.drawn);
        if drawn == 0 {
            String::new()
        } else {
            format!("\x1b[{drawn}F\x1b[J")
        }
    }

    fn write(&mut self, text: &str) {
        if !self.broken && !text.is_empty() && self.out.write_all(text.as_bytes()).is_err() {
            self.broken = true;
        }
    }

    fn flush(&mut self) {
        if !self.broken && self.out.flush().is_err() {
            self.broken = true;
        }
    }
}

/// Why an attempt did not pass, in a few words.
fn reason(result: &TaskResult, timeout: Option<Duration>) -> String {
    why_ended(result.status, &result.exit, timeout)
}

/// The reason a task did not pass and the last lines of its output.
fn why(result: &TaskResult, timeout: Option<Duration>) -> String {
    let reason = reason(result, timeout);
    let (name, capture) = if has_text(&result.stderr) || !has_text(&result.stdout) {
        ("stderr", &result.stderr)
    } else {
        ("stdout", &result.stdout)
    };
    let text = String::from_utf8_lossy(capture.last_bytes());
    let mut lines: Vec<&str> = text.lines().collect();
    if capture.truncated() && lines.len() > 1 {
        // The tail starts mid-line; show that line only if it is all
        // there is.
        lines.remove(0);
    }
    while lines.last().is_some_and(|line| line.trim().is_empty()) {
        lines.pop();
    }
    let shown = &lines[lines.len().saturating_sub(TAIL_LINES)..];
    let mut out = String::new();
    if shown.is_empty() {
        let _ = writeln!(out, "      {reason}, no output");
    } else {
        let _ = writeln!(out, "      {reason}; last lines of {name}:");
        for line in shown {
            let _ = writeln!(out, "      │ {}", shorten(line, TAIL_LINE_CHARS));
        }
    }
    out
}

impl Live {
    fn output(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        if let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') {
            let complete = String::from_utf8_lossy(&self.partial[..end]).into_owned();
            if let Some(line) = complete.lines().rev().find(|line| !line.trim().is_empty()) {
                self.last_line = printable(line);
            }
            self.partial.drain(..=end);
        }
        // A line without an end is kept only up to a screenful.
        if self.partial.len() > 4096 {
            self.partial.drain(..self.partial.len() - 4096);
        }
    }
}

fn has_text(capture: &Capture) -> bool {
    capture.bytes.iter().any(|b| !b.is_ascii_whitespace())
}

/// `text` on one line, at most `max` characters, ending in `…` if cut.
fn shorten(text: &str, max: usize) -> String {
    let text = printable(text);
    if text.chars().count() <= max {
        return text;
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.truncate(short.trim_end().len());
    short.push('…');
    short
}

/// `text` with control characters (newlines, tabs, escapes) as spaces, so
/// that it stays on one line and cannot move the cursor.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl<W: Write + Send, E: Write + Send> Sink for Progress<W, E> {
    fn receive(&mut self, event: Event) {
        self.event(event);
    }

    fn wait(&self) -> Wait {
        if self.options.live {
            Wait::Until(self.redraw)
        } else {
            Wait::ForEvent
        }
    }

    fn tick(&mut self) {
        self.redraw = Instant::now() + REDRAW;
        let mut text = self.erase_live();
        text.push_str(&self.live_view());
        self.write(&text);
    }

    fn idle(&mut self) {
        // Written in batches, but never left unshown while the run waits.
        self.flush();
    }

    fn finish(mut self: Box<Self>) -> Result<(), Error> {
        let text = self.erase_live();
        self.write(&text);
        self.flush();
        // Progress that cannot be shown (standard output closed) is no
        // reason to fail the run.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::event::{Counts, Exit, SkipReason};
    use crate::testing::plan;

    fn finished(status: Status, exit: Exit, millis: u64, stderr: &[u8]) -> Arc<TaskResult> {
        let mut capture = Capture::default();
        capture.push(stderr, 1 << 20);
        Arc::new(TaskResult {
            status,
            attempt: 1,
            exit,
            started_at: SystemTime::now(),
            duration: Duration::from_millis(millis),
            stdout: Capture::default(),
            stderr: capture,
            job_id: None,
        })
    }

    fn render(plan: Plan, options: ProgressOptions, events: Vec<Event>) -> String {
        let mut progress = Progress::new(Arc::new(plan), options, Vec::new(), std::io::sink());
        for event in events {
            progress.event(event);
        }
        String::from_utf8(progress.out).unwrap()
    }

    fn summary(counts: Counts, interrupted: Option<crate::event::Signal>) -> Event {
        Event::RunFinished {
            summary: Summary {
                counts,
                duration: Duration::from_secs(1),
                interrupted,
                halted: None,
            },
        }
    }

    #[test]
    fn lines_match_the_specification_layout() {
        let plan = plan(
            "fetch_deps: npm install\nlint: npm run lint [after:fetch_deps]\n\
             typecheck: npm run typecheck [after:fetch_deps]\n\
             integration: npm run test:integration [after:lint]\n",
        );
        let passed = |ms| finished(Status::Passed, Exit::Code(0), ms, b"");
        let text = render(
            plan,
            ProgressOptions::default(),
            vec![
                Event::TaskFinished {
                    task: 0,
                    result: passed(15_200),
                },
                Event::TaskFinished {
                    task: 1,
                    result: passed(2_300),
                },
                Event::TaskFinished {
                    task: 2,
                    result: passed(10),
                },
                Event::TaskFinished {
                    task: 3,
                    result: finished(Status::Failed, Exit::Code(1), 3_200, b"Error: refused\n"),
                },
                summary(
                    Counts {
                        passed: 3,
                        failed: 1,
                        ..Counts::default()
                    },
                    None,
                ),
            ],
        );
        assert_eq!(
            text,
            "[1/4] fetch_deps: npm install .......... PASSED (15.2s)\n\
             [2/4] lint: npm run lint ............... PASSED (2.3s)\n\
             [3/4] typecheck: npm run typecheck ..... PASSED (0.01s)\n\
             [4/4] integration: npm run test:in… .... FAILED (3.2s)\n      \
             exit code 1; last lines of stderr:\n      \
             │ Error: refused\n\
             \n\
             Run completed: 3 passed, 1 failed, 0 skipped\n"
        );
    }

    #[test]
    fn skipped_timeout_and_interrupted_lines() {
        let plan = plan("compile: gcc -c main.c\nlink: gcc -o main main.o [after:compile]\n");
        let options = ProgressOptions {
            timeout: Some(Duration::from_secs(5)),
            ..ProgressOptions::default()
        };
        let text = render(
            plan,
            options,
            vec![
                Event::TaskFinished {
                    task: 0,
                    result: finished(
                        Status::Timeout,
                        Exit::Signal(crate::event::Signal::TERM),
                        5_000,
                        b"",
                    ),
                },
                Event::TaskSkipped {
                    task: 1,
                    reason: SkipReason::DependencyFailed("compile".into()),
                },
                summary(
                    Counts {
                        timeout: 1,
                        skipped: 1,
                        ..Counts::default()
                    },
                    Some(crate::event::Signal::INT),
                ),
            ],
        );
        assert_eq!(
            text,
            "[1/2] compile: gcc -c main.c ........... TIMEOUT (5.0s)\n      \
             timed out after 5.0s (killed by SIGTERM), no output\n\
             [2/2] link ............................. SKIPPED (dependency failed: compile)\n\
             \n\
             Run interrupted by SIGINT: 0 passed, 1 timeout, 1 skipped\n"
        );
    }

    #[test]
    fn quiet_prints_only_the_summary() {
        let plan = plan("a: true\n");
        let options = ProgressOptions {
            quiet: true,
            announce_jobs: Some(2),
            ..ProgressOptions::default()
        };
        let text = render(
            plan,
            options,
            vec![
                Event::RunStarted {
                    tasks: 1,
                    jobs: 2,
                    at: SystemTime::now(),
                },
                Event::TaskFinished {
                    task: 0,
                    result: finished(Status::Passed, Exit::Code(0), 1, b""),
                },
                summary(
                    Counts {
                        passed: 1,
                        ..Counts::default()
                    },
                    None,
                ),
            ],
        );
        assert_eq!(text, "Run completed: 1 passed, 0 failed, 0 skipped\n");
    }

    #[test]
    fn failure_tail_shows_the_last_lines_of_the_end_of_long_output() {
        let plan = plan("a: x\n");
        let mut result = (*finished(
            Status::Failed,
            Exit::Signal(crate::event::Signal(11)),
            100,
            b"",
        ))
        .clone();
        let mut stderr = Capture::default();
        for i in 0..100_000 {
            stderr.push(format!("line {i}\n").as_bytes(), 1024);
        }
        result.stderr = stderr;
        let text = render(
            plan,
            ProgressOptions::default(),
            vec![Event::TaskFinished {
                task: 0,
                result: Arc::new(result),
            }],
        );
        assert!(
            text.contains("killed by SIGSEGV; last lines of stderr:"),
            "{text}"
        );
        assert!(
            text.ends_with("      │ line 99998\n      │ line 99999\n"),
            "{text}"
        );
        assert_eq!(text.matches('│').count(), TAIL_LINES);
    }

    #[test]
    fn live_view_is_drawn_and_erased() {
        let plan = plan("build: make\n");
        let options = ProgressOptions {
            live: true,
            ..ProgressOptions::default()
        };
        let mut progress = Progress::new(Arc::new(plan), options, Vec::new(), std::io::sink());
        progress.width = 40;
        progress.event(Event::TaskStarted {
            task: 0,
            attempt: 1,
            at: SystemTime::now(),
            since_start: Duration::ZERO,
            slot: 0,
        });
        progress.event(Event::TaskOutput {
            task: 0,
            stream: Stream::Stdout,
            bytes: Arc::from(&b"compiling a.c\ncompiling b.c\npart"[..]),
        });
        progress.event(Event::TaskFinished {
            task: 0,
            result: finished(Status::Passed, Exit::Code(0), 100, b""),
        });
        let text = String::from_utf8(progress.out).unwrap();
        assert_eq!(
            text,
            "  ▸ build (0.00s)\n\x1b[1F\x1b[J[1/1] build: make ...................... PASSED (0.1s)\n"
        );
    }

    #[test]
    fn live_lines_keep_the_last_complete_line() {
        let mut live = Live {
            since: Instant::now(),
            last_line: String::new(),
            partial: Vec::new(),
        };
        live.output(b"one\ntw");
        assert_eq!(live.last_line, "one");
        live.output(b"o\n\n");
        assert_eq!(live.last_line, "two");
        live.output(b"\x1b[31mred\tx\n");
        assert_eq!(live.last_line, " [31mred x");
    }

    #[test]
    fn closed_output_is_not_an_error() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
        }
        let plan = plan("a: true\n");
        let mut progress = Progress::new(
            Arc::new(plan),
            ProgressOptions::default(),
            Closed,
            std::io::sink(),
        );
        progress.event(summary(Counts::default(), None));
        assert!(progress.broken);
    }

    #[test]
    fn shortening() {
        assert_eq!(shorten("abcdef", 6), "abcdef");
        assert_eq!(shorten("abcdefg", 6), "abcde…");
        assert_eq!(shorten("a\nb", 6), "a b");
        assert_eq!(shorten("ab cdefg", 4), "ab…");
    }
}
