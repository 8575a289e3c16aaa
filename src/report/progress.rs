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
//!
//! Text is measured in screen columns (`unicode-width`: a CJK character
//! takes two, a combining mark none), not in characters. On a terminal
//! every line is fitted to its width, read anew before each draw, so that
//! nothing wraps: a wrapped line would make the count of live rows to
//! erase wrong and leave stale copies on the screen. Off a terminal the
//! layout is the specification's, whatever the width.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use unicode_width::UnicodeWidthChar;

use super::lines::Lines;
use crate::cache::Verdict;
use crate::error::{Error, plural};
use crate::event::{
    Capture, Event, Status, Stream, Summary, TaskId, TaskResult, format_duration, why_ended,
};
use crate::graph::Plan;
use crate::order::Estimates;
use crate::sink::{Sink, Wait};

/// The column the status word starts at (0-based), as in the spec.
const STATUS_COLUMN: usize = 41;
/// The fewest dots between a command and its status.
const MIN_DOTS: usize = 4;
/// The fewest columns of a command shown off a terminal, however long the
/// name.
const MIN_COMMAND: usize = 12;
/// On a terminal, a shortened command is dropped rather than shown in
/// fewer columns than this (`ec…` says nothing; `cargo t…` does).
const MIN_SHORT_COMMAND: usize = 8;
/// On a narrow terminal, the columns kept after the status column for the
/// word and its detail: `CANCELED (1m05s)`.
const TAIL_ROOM: usize = 16;
/// The width assumed for a terminal that does not say how wide it is.
const DEFAULT_WIDTH: usize = 80;
/// Where the reason under a failed task goes on when it is broken to fit.
const REASON_INDENT: &str = "        ";
/// How many lines of output follow a failed task.
const TAIL_LINES: usize = 10;
/// Longer output lines are cut in the tail (in columns).
const TAIL_LINE_COLUMNS: usize = 300;
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

/// Where progress is shown, for the width it must fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Screen {
    /// Not a terminal (a file, a pipe, a CI log): the specification's
    /// layout, never measured against a width.
    #[default]
    Plain,
    /// The terminal on this file descriptor, its width read before each
    /// draw.
    Terminal(std::os::fd::RawFd),
    /// A terminal this many columns wide, always (tests).
    #[cfg_attr(not(test), expect(dead_code, reason = "only tests fix the width"))]
    Columns(usize),
}

/// How progress is shown.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProgressOptions {
    /// What is shown of the tasks' output.
    pub(crate) output: Output,
    /// Print only the final summary.
    pub(crate) quiet: bool,
    /// Where the lines go: on a terminal they are fitted to its width.
    pub(crate) screen: Screen,
    /// Show the running tasks, redrawn in place (standard output is a
    /// terminal that can move its cursor).
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
    /// What the history says the tasks take, for the time left the live
    /// view shows; `None` without history.
    pub(crate) eta: Option<Arc<Eta>>,
}

/// What the live view needs to say how much longer the run will take.
#[derive(Debug)]
pub(crate) struct Eta {
    pub(crate) estimates: Estimates,
    pub(crate) priority: Vec<u64>,
}

/// How often the time left is worked out again while nothing ends.
const ETA_EVERY: Duration = Duration::from_secs(1);

/// Working out the time left again when a task ends waits this many times
/// as long as the last working out took: a plan large enough for the
/// simulator to take a while is simulated a few times a second, not once
/// for every task of a run of many short ones.
const ETA_WAIT_FACTOR: u32 = 20;

/// The time left, as last worked out.
#[derive(Clone, Copy)]
struct Left {
    remaining: Duration,
    /// When it was worked out, and how long that took.
    at: Instant,
    cost: Duration,
    /// A task has ended since.
    stale: bool,
}

impl Left {
    /// Whether it stands at `now`, to be counted down.
    fn stands(&self, now: Instant) -> bool {
        let since = now.duration_since(self.at);
        since < ETA_EVERY && (!self.stale || since < self.cost * ETA_WAIT_FACTOR)
    }
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
    /// The tasks that have ended, for the time left.
    ended_tasks: Vec<TaskId>,
    /// The time left as last worked out.
    left: Option<Left>,
    /// How many tasks run at once: as asked, until the run says (the
    /// open-file limit may allow fewer).
    jobs: usize,
    running: BTreeMap<TaskId, Live>,
    /// When the run started, for the elapsed time of the live view.
    started: Instant,
    /// The run is over: the live view is not drawn again.
    finished: bool,
    /// The rows of the live view on screen now, as drawn.
    drawn: Vec<String>,
    /// When the live view is redrawn next.
    redraw: Instant,
    /// The terminal's width as last measured; `None` off a terminal.
    columns: Option<usize>,
    broken: bool,
}

/// What a result line says before its dots: `[2/6] lint: npm run lint`.
struct Head<'a> {
    /// `[2/6]`, or spaces under a retried task.
    lead: &'a str,
    name: &'a str,
    /// `None` for a skipped task, which ran nothing.
    command: Option<&'a str>,
}

impl<W: Write, E: Write> Progress<W, E> {
    pub(crate) fn new(plan: Arc<Plan>, options: ProgressOptions, out: W, err: E) -> Self {
        Progress {
            shown: vec![0; plan.tasks.len()],
            jobs: options.jobs.max(1),
            plan,
            options,
            out,
            err,
            lines: Lines::default(),
            ended: 0,
            ended_tasks: Vec::new(),
            left: None,
            running: BTreeMap::new(),
            started: Instant::now(),
            finished: false,
            drawn: Vec::new(),
            redraw: Instant::now() + REDRAW,
            columns: None,
            broken: false,
        }
    }

    /// Shows one event.
    pub(crate) fn event(&mut self, event: Event) {
        if self.options.quiet {
            if let Event::RunFinished { summary } = event {
                self.measure();
                let text = self.summary(&summary);
                self.write(&text);
            }
            return;
        }
        // What is only kept for the live view is not worth a measure.
        if !matches!(event, Event::TaskOutput { .. }) || self.options.output == Output::Stream {
            self.measure();
        }
        let text = match event {
            Event::RunStarted { jobs, .. } => {
                self.started = Instant::now();
                self.jobs = jobs;
                self.opening(jobs)
            }
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
                self.ended(task);
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
                self.ended(task);
                let counter = self.counter();
                let head = Head {
                    lead: &counter,
                    name: &self.plan.tasks[task].name.value,
                    command: None,
                };
                self.line(&head, Status::Skipped, &reason.to_string())
            }
            Event::Halted { failures, running } => self.halted(failures, running),
            Event::Interrupted { signal, running } => wrap(
                &format!(
                    "\nReceived {signal}: stopping {} (press Ctrl-C again to kill them \
                     now)...\n",
                    plural(running, "running task")
                ),
                self.max_columns(),
            ),
            Event::RunFinished { summary } => {
                self.finished = true;
                self.summary(&summary)
            }
        };
        let mut all = self.erase_live();
        all.push_str(&text);
        all.push_str(&self.live_view());
        self.write(&all);
    }

    /// What the run starts with: the header, and how many tasks run at
    /// once when that was asked or is limited.
    fn opening(&self, jobs: usize) -> String {
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
        wrap(&text, self.max_columns())
    }

    /// `task` is over.
    fn ended(&mut self, task: TaskId) {
        self.running.remove(&task);
        self.ended += 1;
        self.ended_tasks.push(task);
        if let Some(left) = &mut self.left {
            left.stale = true;
        }
    }

    /// How long the run is expected to go on, from the history: worked out
    /// again (by the simulator) when a task ends (see [`ETA_WAIT_FACTOR`]),
    /// or a second after the last time, and counted down in between.
    fn time_left(&mut self) -> Option<Duration> {
        let eta = self.options.eta.as_ref()?;
        let now = Instant::now();
        if let Some(last) = self.left.filter(|last| last.stands(now)) {
            return Some(last.remaining.saturating_sub(now.duration_since(last.at)));
        }
        let so_far = crate::order::Progress {
            ended: self.ended_tasks.clone(),
            running: self
                .running
                .iter()
                .map(|(&task, live)| (task, now.duration_since(live.since)))
                .collect(),
        };
        let left = crate::order::time_left(
            &self.plan,
            &eta.estimates,
            self.jobs,
            &eta.priority,
            &so_far,
        );
        self.left = Some(Left {
            remaining: left,
            at: now,
            cost: now.elapsed(),
            stale: false,
        });
        Some(left)
    }

    /// `1 task failed: no more tasks start; waiting for 2 running tasks...`
    fn halted(&self, failures: usize, running: usize) -> String {
        let mut text = format!("\n{} failed: no more tasks start", plural(failures, "task"));
        if running > 0 {
            let _ = write!(text, "; waiting for {}", plural(running, "running task"));
        }
        wrap(&(text + "...\n"), self.max_columns())
    }

    fn counter(&self) -> String {
        format!("[{}/{}]", self.ended, self.plan.tasks.len())
    }

    /// Reads the terminal's width again (it may have been resized).
    fn measure(&mut self) {
        self.columns = match self.options.screen {
            Screen::Plain => None,
            Screen::Terminal(fd) => Some(super::terminal::width(fd).unwrap_or(DEFAULT_WIDTH)),
            Screen::Columns(columns) => Some(columns),
        };
    }

    /// The most columns a line may take on the terminal: one fewer than
    /// its width, since some terminals wrap a line that fills it.
    fn max_columns(&self) -> Option<usize> {
        self.columns.map(|columns| columns.saturating_sub(1).max(1))
    }

    /// `lead name: command` for a task that ran.
    fn head<'a>(&'a self, lead: &'a str, task: TaskId) -> Head<'a> {
        let spec = &self.plan.tasks[task];
        Head {
            lead,
            name: &spec.name.value,
            command: Some(&spec.command.value),
        }
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
        let counter = self.counter();
        let head = self.head(&counter, task);
        let detail = cached_detail(result).unwrap_or_else(|| format_duration(result.duration));
        let mut text = self.line(&head, result.status, &detail);
        if matches!(result.status, Status::Failed | Status::Timeout) {
            let timeout = spec.settings.timeout_or(self.options.timeout);
            if self.options.output == Output::Summary {
                text.push_str(&why(result, timeout, self.max_columns()));
            } else {
                // The output itself has been shown.
                let line = format!("      {}\n", reason(result, timeout));
                text.push_str(&wrap_indented(&line, self.max_columns(), REASON_INDENT));
            }
        }
        // `--explain`: why the cache restored it or let it run.
        if let Some(explain) = result
            .cache
            .as_deref()
            .and_then(|report| report.explain.as_deref())
        {
            for line in explain.lines() {
                let line = format!("      {line}\n");
                text.push_str(&wrap_indented(&line, self.max_columns(), REASON_INDENT));
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
    fn line(&self, head: &Head, status: Status, detail: &str) -> String {
        let colour = match status {
            Status::Passed | Status::Cached => "32",
            Status::Failed | Status::Timeout => "31",
            Status::Skipped | Status::Canceled => "33",
        };
        self.styled_line(head, &status.as_str().to_ascii_uppercase(), colour, detail)
    }

    /// `head ....... WORD (detail)`, the word in `colour` (an ANSI code)
    /// when colour is on, fitted to the terminal if there is one.
    fn styled_line(&self, head: &Head, word: &str, colour: &str, detail: &str) -> String {
        let paint = |word: &str| {
            if self.options.color {
                format!("\x1b[1;{colour}m{word}\x1b[0m")
            } else {
                word.to_owned()
            }
        };
        let Some(max) = self.max_columns() else {
            let head = plain_head(head);
            let dots = STATUS_COLUMN
                .saturating_sub(width(&head) + 2)
                .max(MIN_DOTS - 1);
            return format!("{head} {} {} ({detail})\n", ".".repeat(dots), paint(word));
        };
        let column = STATUS_COLUMN.min(max.saturating_sub(TAIL_ROOM));
        let head = fitted_head(head, column);
        let dots = column.saturating_sub(width(&head) + 2).max(MIN_DOTS - 1);
        let before = format!("{head} {} ", ".".repeat(dots));
        let room = max.saturating_sub(width(&before) + width(word));
        let detail = printable(detail);
        if room >= width(&detail) + 3 {
            format!("{before}{} ({detail})\n", paint(word))
        } else if width(&before) + width(word) <= max {
            // A detail too long for the line (a skip's reason, a retry's)
            // goes under it, whole, like the reason under a failure: cut,
            // it would no longer say which dependency failed.
            let under = wrap_indented(&format!("      {detail}\n"), Some(max), REASON_INDENT);
            format!("{before}{}\n{under}", paint(word))
        } else {
            // Too narrow for the layout at all: one line, whatever fits.
            let line = format!("{before}{word} ({detail})");
            format!("{}\n", shorten(&line, max))
        }
    }

    fn summary(&self, summary: &Summary) -> String {
        let counts = summary.counts;
        let blank = if self.options.quiet { "" } else { "\n" };
        let text = match (summary.interrupted, summary.halted) {
            (Some(signal), _) => format!("{blank}Run interrupted by {signal}: {counts}\n"),
            (None, Some(failures)) => format!(
                "{blank}Run stopped after {}: {counts}\n",
                plural(failures, "failure")
            ),
            (None, None) => format!("{blank}Run completed: {counts}\n"),
        };
        wrap(&text, self.max_columns())
    }

    /// The running tasks, one row each, and a row of counts, for a
    /// terminal. Every row fits the width less one column, so none wraps
    /// and the rows can be counted back when they are erased.
    fn live_view(&mut self) -> String {
        self.drawn.clear();
        let total = self.plan.tasks.len();
        if !self.options.live || self.finished || self.ended >= total {
            return String::new();
        }
        let max = self
            .max_columns()
            .unwrap_or(DEFAULT_WIDTH.saturating_sub(1));
        for (&task, live) in self.running.iter().take(LIVE_TASKS) {
            let mut row = format!(
                "  ▸ {} ({})",
                self.plan.tasks[task].name.value,
                format_duration(live.since.elapsed())
            );
            if !live.last_line.is_empty() {
                let _ = write!(row, " {}", live.last_line);
            }
            self.drawn.push(shorten(&row, max));
        }
        if self.running.len() > LIVE_TASKS {
            let row = format!("  … and {} more running", self.running.len() - LIVE_TASKS);
            self.drawn.push(shorten(&row, max));
        }
        let running = self.running.len();
        let mut row = format!(
            "  {} done, {running} running, {} waiting · {}",
            self.ended,
            total.saturating_sub(self.ended + running),
            format_duration(self.started.elapsed())
        );
        if let Some(left) = self.time_left() {
            let _ = write!(row, " · about {} left", format_duration(left));
        }
        self.drawn.push(shorten(&row, max));
        let mut text = String::new();
        for row in &self.drawn {
            let _ = writeln!(text, "{row}");
        }
        text
    }

    /// Moves the cursor back over the live view, clearing it line by line.
    ///
    /// If the terminal was narrowed since the rows were drawn, it has
    /// rewrapped those wider than it now is (tmux, VTE, kitty, iTerm2 and
    /// Windows Terminal do): each takes as many lines as it wraps into at
    /// the width measured just before this. Lines cleared one at a time,
    /// not all at once from the first (`ESC [ J`): tmux saves the whole
    /// screen to its scrollback when it is cleared from the top-left corner
    /// (`scroll-on-clear`), which is where the live rows are once they
    /// reach the top, and that left a copy of them there at every redraw.
    fn erase_live(&mut self) -> String {
        let columns = self.columns.unwrap_or(DEFAULT_WIDTH);
        let lines: usize = self
            .drawn
            .iter()
            .map(|row| screen_lines(row, columns))
            .sum();
        self.drawn.clear();
        // Up a line (to its start) and clear it, for each line.
        "\x1b[F\x1b[2K".repeat(lines)
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

/// What a task restored from the store is shown with instead of its
/// (restore) time: `restored 3 files; 12.3s saved, from run #41`, or
/// `outputs up to date; …` when every output already matched. `None` for
/// any other result.
fn cached_detail(result: &TaskResult) -> Option<String> {
    let report = result.cache.as_deref()?;
    let Verdict::Hit {
        source_run,
        saved,
        restored,
        ..
    } = &report.verdict
    else {
        return None;
    };
    if result.status != Status::Cached {
        return None;
    }
    let what = if *restored == 0 {
        "outputs up to date".to_owned()
    } else {
        format!("restored {}", plural(*restored, "file"))
    };
    Some(format!(
        "{what}; {} saved, from run #{source_run}",
        format_duration(*saved)
    ))
}

/// Why an attempt did not pass, in a few words.
fn reason(result: &TaskResult, timeout: Option<Duration>) -> String {
    why_ended(result.status, &result.exit, timeout)
}

/// The reason a task did not pass and the last lines of its output, each
/// line fitted to `max` columns on a terminal.
fn why(result: &TaskResult, timeout: Option<Duration>, max: Option<usize>) -> String {
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
        let line = format!("      {reason}, no output\n");
        out.push_str(&wrap_indented(&line, max, REASON_INDENT));
    } else {
        let line = format!("      {reason}; last lines of {name}:\n");
        out.push_str(&wrap_indented(&line, max, REASON_INDENT));
        let room = max.map_or(TAIL_LINE_COLUMNS, |max| {
            TAIL_LINE_COLUMNS.min(max.saturating_sub(8))
        });
        for line in shown {
            let _ = writeln!(out, "      │ {}", shorten(line, room));
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

/// The columns `c` takes on a terminal: two for a wide character (CJK,
/// most emoji), none for a combining mark or a zero-width joiner.
/// Characters are measured one by one, as terminals do (`wcwidth`).
fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// The columns `text` takes on a terminal, once made printable.
fn width(text: &str) -> usize {
    if text.is_ascii() {
        // Printable ASCII is one column a character: the common case, and
        // the whole of most plain output, costs no lookups.
        return text.len();
    }
    text.chars().map(char_width).sum()
}

/// How many lines `row` takes on a terminal `columns` wide that wraps it:
/// a wide character that does not fit at the end of a line starts the
/// next.
fn screen_lines(row: &str, columns: usize) -> usize {
    let columns = columns.max(2);
    if width(row) <= columns {
        return 1;
    }
    let (mut lines, mut used) = (1, 0);
    for c in row.chars() {
        let w = char_width(c);
        if used + w > columns {
            lines += 1;
            used = 0;
        }
        used += w;
    }
    lines
}

/// `text` on one line, at most `max` columns, ending in `…` if cut.
fn shorten(text: &str, max: usize) -> String {
    let text = printable(text);
    if width(&text) <= max {
        return text;
    }
    if max == 0 {
        return String::new();
    }
    let mut short = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = char_width(c);
        if used + w > max - 1 {
            break;
        }
        used += w;
        short.push(c);
    }
    short.truncate(short.trim_end().len());
    short.push('…');
    short
}

/// `text` with each line that is wider than `max` columns (on a terminal)
/// broken into lines that are not, the later ones indented by two: a
/// sentence is broken between words, a list of counts (`3 passed, 1
/// failed`) between its items. Off a terminal, `text` as it is.
fn wrap(text: &str, max: Option<usize>) -> String {
    wrap_indented(text, max, "  ")
}

/// [`wrap`], the later lines starting with `indent`.
fn wrap_indented(text: &str, max: Option<usize>, indent: &str) -> String {
    let Some(max) = max else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        if width(body) <= max {
            out.push_str(line);
            continue;
        }
        let pieces: Vec<&str> = if body.contains(", ") {
            body.split_inclusive(", ").collect()
        } else {
            body.split_inclusive(' ').collect()
        };
        let mut current = String::new();
        for piece in pieces {
            if !current.trim().is_empty() && width(&current) + width(piece.trim_end()) > max {
                out.push_str(current.trim_end());
                out.push('\n');
                current.clear();
                current.push_str(indent);
            }
            // The space after a word that ends the line may not fit.
            let room = max.saturating_sub(width(&current));
            current.push_str(&shorten(piece.trim_end_matches(' '), room));
            if piece.ends_with(' ') {
                current.push(' ');
            }
        }
        out.push_str(current.trim_end());
        out.push_str(end);
    }
    out
}

/// The head of a line off a terminal, as the specification lays it out:
/// the command shortened to leave room for the status at its column, but
/// never to fewer than [`MIN_COMMAND`] columns.
fn plain_head(head: &Head) -> String {
    let mut text = String::with_capacity(STATUS_COLUMN);
    let _ = write!(text, "{} {}", head.lead, head.name);
    if let Some(command) = head.command {
        let room = STATUS_COLUMN
            .saturating_sub(width(&text) + 2 + 1 + MIN_DOTS + 1)
            .max(MIN_COMMAND);
        text.push_str(": ");
        text.push_str(&shorten(command, room));
    }
    text
}

/// The head of a line on a terminal, to leave the status at `column`: the
/// command is shortened first, down to nothing, then the name.
fn fitted_head(head: &Head, column: usize) -> String {
    // The head, a space, the fewest dots and a space before the status.
    let room = column.saturating_sub(1 + MIN_DOTS + 1);
    let lead = width(head.lead) + 1;
    let name = printable(head.name);
    if let Some(command) = head.command {
        let command = printable(command);
        let left = room.saturating_sub(lead + width(&name) + 2);
        if width(&command) <= left || left >= MIN_SHORT_COMMAND {
            return format!("{} {name}: {}", head.lead, shorten(&command, left));
        }
    }
    format!(
        "{} {}",
        head.lead,
        shorten(&name, room.saturating_sub(lead))
    )
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
        self.measure();
        let mut text = self.erase_live();
        text.push_str(&self.live_view());
        self.write(&text);
    }

    fn idle(&mut self) {
        // Written in batches, but never left unshown while the run waits.
        self.flush();
    }

    fn finish(mut self: Box<Self>) -> Result<(), Error> {
        self.measure();
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
            out: None,
            status,
            attempt: 1,
            exit,
            started_at: SystemTime::now(),
            duration: Duration::from_millis(millis),
            stdout: Capture::default(),
            stderr: capture,
            slurm: None,
            cache: None,
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

    /// A task restored from the store: `restored` of its files written.
    fn restored(restored: usize) -> Arc<TaskResult> {
        let report = crate::cache::Report {
            out: None,
            key: "5e".repeat(32),
            verdict: Verdict::Hit {
                source_task: 1234,
                source_run: 41,
                saved: Duration::from_millis(12_300),
                restored,
                files: 3,
            },
            explain: None,
            note: None,
            outputs: None,
            stats: Vec::new(),
            hashed_bytes: 0,
            check: Duration::from_millis(2),
        };
        let mut result = (*finished(Status::Cached, Exit::Code(0), 4, b"")).clone();
        result.cache = Some(Arc::new(report));
        Arc::new(result)
    }

    #[test]
    fn a_cached_task_says_what_it_restored_and_saved() {
        let plan = plan("build: make\ndocs: make docs\n");
        let text = render(
            plan,
            ProgressOptions::default(),
            vec![
                Event::TaskFinished {
                    task: 0,
                    result: restored(3),
                },
                Event::TaskFinished {
                    task: 1,
                    result: restored(0),
                },
                summary(
                    Counts {
                        passed: 2,
                        cached: 2,
                        ..Counts::default()
                    },
                    None,
                ),
            ],
        );
        assert_eq!(
            text,
            "[1/2] build: make ...................... CACHED (restored 3 files; 12.3s saved, from run #41)\n\
             [2/2] docs: make docs .................. CACHED (outputs up to date; 12.3s saved, from run #41)\n\
             \n\
             Run completed: 2 passed (2 cached), 0 failed, 0 skipped\n"
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

    fn started(task: TaskId) -> Event {
        Event::TaskStarted {
            task,
            attempt: 1,
            at: SystemTime::now(),
            since_start: Duration::ZERO,
            slot: 0,
        }
    }

    fn output(task: TaskId, bytes: &str) -> Event {
        Event::TaskOutput {
            task,
            stream: Stream::Stdout,
            bytes: Arc::from(bytes.as_bytes()),
        }
    }

    fn on_terminal(plan: Plan, columns: usize) -> Progress<Vec<u8>, std::io::Sink> {
        let options = ProgressOptions {
            live: true,
            screen: Screen::Columns(columns),
            ..ProgressOptions::default()
        };
        Progress::new(Arc::new(plan), options, Vec::new(), std::io::sink())
    }

    /// A live view, 120 columns wide, of the two tasks of `text`, which
    /// history says take 20 s and 30 s, with `jobs` asked for.
    fn knowing_20s_and_30s(text: &str, jobs: usize) -> Progress<Vec<u8>, std::io::Sink> {
        use crate::order::{Order, priorities};
        let plan = plan(text);
        let estimates = Estimates {
            durations: vec![Duration::from_secs(20), Duration::from_secs(30)],
            from_history: true,
        };
        let eta = Eta {
            priority: priorities(&plan, &estimates, Order::CriticalPath),
            estimates,
        };
        let options = ProgressOptions {
            live: true,
            screen: Screen::Columns(120),
            jobs,
            eta: Some(Arc::new(eta)),
            ..ProgressOptions::default()
        };
        Progress::new(Arc::new(plan), options, Vec::new(), std::io::sink())
    }

    #[test]
    fn the_live_view_says_how_long_is_left_when_history_knows() {
        let mut progress = knowing_20s_and_30s("build: make\ntest: make test [after:build]\n", 2);
        progress.event(started(0));
        let drawn = written(&mut progress);
        // Build's 20 s (it has just started) and test's 30 s.
        assert!(drawn.contains(" · about 50.0s left\n"), "{drawn:?}");
        progress.event(Event::TaskFinished {
            task: 0,
            result: finished(Status::Passed, Exit::Code(0), 100, b""),
        });
        // However long the simulation took on this machine, the next draw
        // works it out again (see the test below for the wait).
        if let Some(left) = &mut progress.left {
            left.cost = Duration::ZERO;
        }
        progress.event(started(1));
        let drawn = written(&mut progress);
        assert!(drawn.contains(" · about 30.0s left\n"), "{drawn:?}");
    }

    #[test]
    fn the_time_left_counts_the_jobs_the_run_has_not_those_asked() {
        let mut progress = knowing_20s_and_30s("a: sleep 20\nb: sleep 30\n", 2);
        // The open-file limit allows one job of the two asked for.
        progress.event(Event::RunStarted {
            tasks: 2,
            jobs: 1,
            at: std::time::SystemTime::now(),
        });
        progress.event(started(1));
        let drawn = written(&mut progress);
        assert!(drawn.contains(" · about 50.0s left\n"), "{drawn:?}");
    }

    #[test]
    fn the_time_left_is_worked_out_again_no_sooner_than_its_cost_allows() {
        let at = Instant::now();
        let left = |cost, stale| Left {
            remaining: Duration::from_secs(60),
            at,
            cost: Duration::from_millis(cost),
            stale,
        };
        let after = |millis| at + Duration::from_millis(millis);
        // Nothing ended: it stands for a second.
        assert!(left(10, false).stands(after(900)));
        assert!(!left(10, false).stands(after(1000)));
        // A task ended: again once 20 times its cost has passed.
        assert!(left(10, true).stands(after(150)));
        assert!(!left(10, true).stands(after(200)));
        assert!(!left(0, true).stands(after(0)));
        // Never later than a second, however costly.
        assert!(!left(100, true).stands(after(1000)));
    }

    /// What was written since the last call, and the writer emptied.
    fn written(progress: &mut Progress<Vec<u8>, std::io::Sink>) -> String {
        String::from_utf8(std::mem::take(&mut progress.out)).unwrap()
    }

    #[test]
    fn live_view_is_drawn_and_erased() {
        let plan = plan("build: make\ntest: make test [after:build]\n");
        let mut progress = on_terminal(plan, 40);
        progress.event(started(0));
        progress.event(output(0, "compiling a.c\ncompiling b.c\npart"));
        let drawn = written(&mut progress);
        assert!(
            drawn.starts_with("  ▸ build (0.0"),
            "the running task is listed: {drawn:?}"
        );
        assert!(
            drawn.contains(")\n  0 done, 1 running, 1 waiting · 0.0"),
            "the counts follow: {drawn:?}"
        );
        progress.tick();
        let redrawn = written(&mut progress);
        assert!(
            redrawn.starts_with("\x1b[F\x1b[2K\x1b[F\x1b[2K  ▸ build (0.0"),
            "both rows are erased, then drawn again: {redrawn:?}"
        );
        assert!(redrawn.contains(") compiling b.c\n"), "{redrawn:?}");
        progress.event(Event::TaskFinished {
            task: 0,
            result: finished(Status::Passed, Exit::Code(0), 100, b""),
        });
        let text = written(&mut progress);
        assert!(
            text.starts_with(
                "\x1b[F\x1b[2K\x1b[F\x1b[2K[1/2] build: make .... PASSED (0.1s)\n  1 done, 0 running, 1 waiting · "
            ),
            "{text:?}"
        );
        progress.event(Event::TaskSkipped {
            task: 1,
            reason: SkipReason::DependencyFailed("build".into()),
        });
        let text = written(&mut progress);
        assert_eq!(
            text, "\x1b[F\x1b[2K[2/2] test ........... SKIPPED\n      dependency failed: build\n",
            "nothing is left to wait for, so no live rows follow"
        );
    }

    #[test]
    fn live_rows_fit_the_terminal_and_are_erased_after_it_narrows() {
        let plan = plan("cjk: echo\nrocket: echo\n");
        let mut progress = on_terminal(plan, 120);
        progress.event(started(0));
        progress.event(started(1));
        progress.event(output(0, &format!("{}\n", "漢字".repeat(40))));
        progress.event(output(1, "🚀 liftoff\n"));
        progress.tick();
        let text = written(&mut progress);
        let rows: Vec<&str> = text.rsplit("\x1b[2K").next().unwrap().lines().collect();
        assert_eq!(rows.len(), 3, "{rows:?}");
        for row in &rows {
            assert!(width(row) <= 119, "{row:?} is {} columns", width(row));
        }
        assert!(rows[0].ends_with('…'), "the CJK row is cut: {:?}", rows[0]);
        assert_eq!(width(rows[0]), 119, "a wide character ends 118 or 119");
        // Narrowed to 40 columns, the terminal rewraps the CJK row into
        // three lines (40, 40 and 39 columns); the others stay on one.
        progress.options.screen = Screen::Columns(40);
        progress.tick();
        let text = written(&mut progress);
        let erase = "\x1b[F\x1b[2K".repeat(5);
        assert!(text.starts_with(&erase), "{text:?}");
        assert!(!text.starts_with(&"\x1b[F\x1b[2K".repeat(6)), "{text:?}");
        let rows: Vec<&str> = text[erase.len()..].lines().collect();
        assert_eq!(rows.len(), 3, "{rows:?}");
        for row in &rows {
            assert!(width(row) <= 39, "{row:?} is {} columns", width(row));
        }
        // Widened again, each row is one line.
        progress.options.screen = Screen::Columns(200);
        progress.tick();
        let text = written(&mut progress);
        assert!(text.starts_with(&"\x1b[F\x1b[2K".repeat(3)), "{text:?}");
        assert!(!text.starts_with(&"\x1b[F\x1b[2K".repeat(4)), "{text:?}");
    }

    #[test]
    fn many_running_tasks_are_counted() {
        let mut text = String::new();
        for i in 0..12 {
            let _ = writeln!(text, "t{i}: sleep 1");
        }
        let mut progress = on_terminal(plan(&text), 80);
        for task in 0..10 {
            progress.event(started(task));
        }
        let text = written(&mut progress);
        let rows: Vec<&str> = text.rsplit("\x1b[2K").next().unwrap().lines().collect();
        assert_eq!(rows.len(), LIVE_TASKS + 2, "{rows:?}");
        assert_eq!(rows[LIVE_TASKS], "  … and 2 more running");
        assert!(
            rows[LIVE_TASKS + 1].starts_with("  0 done, 10 running, 2 waiting · "),
            "{rows:?}"
        );
    }

    #[test]
    fn dumb_terminals_fit_lines_but_draw_no_live_rows() {
        let options = ProgressOptions {
            live: false,
            screen: Screen::Columns(40),
            ..ProgressOptions::default()
        };
        let text = render(
            plan("build: make\nlint: make lint\n"),
            options,
            vec![
                started(0),
                Event::TaskFinished {
                    task: 0,
                    result: finished(Status::Passed, Exit::Code(0), 100, b""),
                },
            ],
        );
        assert_eq!(text, "[1/2] build: make .... PASSED (0.1s)\n");
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
        assert_eq!(shorten("abc", 0), "");
    }

    #[test]
    fn widths_are_screen_columns() {
        assert_eq!(width("make -j4"), 8);
        // CJK and emoji take two columns, combining marks and joiners none.
        assert_eq!(width("漢字"), 4);
        assert_eq!(width("かな"), 4);
        assert_eq!(width("🚀"), 2);
        assert_eq!(width("cafe\u{301}"), 4);
        assert_eq!(width("a\u{200d}b"), 2);
        assert_eq!(width("─│…·▸"), 5);
    }

    #[test]
    fn shortening_counts_columns() {
        assert_eq!(shorten("漢字漢字", 8), "漢字漢字");
        assert_eq!(shorten("漢字漢字", 7), "漢字漢…");
        // A wide character that would end past the limit is left out.
        assert_eq!(shorten("漢字漢字", 6), "漢字…");
        assert_eq!(width(&shorten("漢字漢字", 6)), 5);
        assert_eq!(shorten("🚀🚀🚀", 5), "🚀🚀…");
        // A combining mark stays with its letter.
        assert_eq!(shorten("cafe\u{301} latte", 6), "cafe\u{301}…");
        assert_eq!(shorten("cafe\u{301}", 4), "cafe\u{301}");
    }

    #[test]
    fn rows_are_counted_as_the_terminal_wraps_them() {
        assert_eq!(screen_lines(&"x".repeat(119), 120), 1);
        assert_eq!(screen_lines(&"x".repeat(119), 40), 3);
        assert_eq!(screen_lines(&"x".repeat(40), 40), 1);
        assert_eq!(screen_lines(&"x".repeat(41), 40), 2);
        assert_eq!(screen_lines(&"漢".repeat(20), 40), 1);
        assert_eq!(screen_lines(&"漢".repeat(20), 39), 2);
        // Two wide characters fill four of five columns; the third starts
        // the next line.
        assert_eq!(screen_lines("漢漢漢", 5), 2);
        assert_eq!(screen_lines("e\u{301}".repeat(40).as_str(), 40), 1);
    }

    /// Lines of one run, on a terminal `columns` wide.
    fn fitted(columns: usize) -> Vec<String> {
        let plan = plan(
            "fetch_deps: npm install\n\
             rocket: echo \"🚀 liftoff 🚀 and on and on\"\n\
             kanji: echo 漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字\n\
             accents: echo cafe\u{301} cafe\u{301} cafe\u{301} cafe\u{301} cafe\u{301}\n\
             a_rather_long_task_name_indeed: make\n\
             link: ld [after:fetch_deps]\n",
        );
        let options = ProgressOptions {
            screen: Screen::Columns(columns),
            ..ProgressOptions::default()
        };
        let passed = |task| Event::TaskFinished {
            task,
            result: finished(Status::Passed, Exit::Code(0), 300, b""),
        };
        let text = render(
            plan,
            options,
            vec![
                passed(0),
                passed(1),
                passed(2),
                passed(3),
                passed(4),
                Event::TaskSkipped {
                    task: 5,
                    reason: SkipReason::DependencyFailed("a_rather_long_task_name_indeed".into()),
                },
            ],
        );
        text.lines().map(str::to_owned).collect()
    }

    /// The column the status word of `line` starts at.
    fn status_column(line: &str) -> usize {
        let at = [" PASSED", " SKIPPED"]
            .iter()
            .find_map(|word| line.find(word))
            .unwrap();
        width(&line[..at]) + 1
    }

    #[test]
    fn result_lines_fit_40_80_and_120_columns() {
        for (columns, column) in [(40, 23), (80, 41), (120, 41)] {
            let lines = fitted(columns);
            let results: Vec<&String> = lines.iter().filter(|line| line.starts_with('[')).collect();
            assert_eq!(results.len(), 6, "{lines:#?}");
            for line in &lines {
                assert!(
                    width(line) < columns,
                    "{line:?} is {} columns, at {columns}",
                    width(line)
                );
            }
            for line in results {
                assert_eq!(status_column(line), column, "{line:?} at {columns}");
            }
        }
        assert_eq!(
            fitted(40),
            [
                "[1/6] fetch_deps ..... PASSED (0.3s)",
                "[2/6] rocket ......... PASSED (0.3s)",
                "[3/6] kanji .......... PASSED (0.3s)",
                "[4/6] accents ........ PASSED (0.3s)",
                "[5/6] a_rather_l… .... PASSED (0.3s)",
                // A reason too long for the line goes under it, whole.
                "[6/6] link ........... SKIPPED",
                "      dependency failed:",
                "        a_rather_long_task_name_indeed",
            ]
        );
        // Where the specification's layout fits, it is kept.
        let wide = fitted(120);
        assert_eq!(
            wide[0],
            "[1/6] fetch_deps: npm install .......... PASSED (0.3s)"
        );
        assert_eq!(
            wide[1],
            "[2/6] rocket: echo \"🚀 liftoff 🚀… ..... PASSED (0.3s)"
        );
        assert_eq!(
            wide[5],
            "[6/6] link ............................. SKIPPED (dependency failed: a_rather_long_task_name_indeed)"
        );
        assert_eq!(
            fitted(80)[5..],
            [
                "[6/6] link ............................. SKIPPED",
                "      dependency failed: a_rather_long_task_name_indeed"
            ]
        );
    }

    #[test]
    fn narrow_terminals_drop_the_command_then_shorten_the_name() {
        let lines = fitted(30);
        for line in &lines {
            assert!(width(line) < 30, "{line:?}");
            if line.starts_with('[') {
                assert_eq!(status_column(line), 13, "{line:?}");
            }
        }
        assert_eq!(lines[0], "[1/6] … .... PASSED (0.3s)");
        assert_eq!(fitted(34)[0], "[1/6] fetc… .... PASSED (0.3s)");
        // A little wider, more of the name is kept.
        assert_eq!(fitted(44)[4], "[5/6] a_rather_long_… .... PASSED (0.3s)");
        // Too narrow for the layout: still one line each.
        for line in fitted(12) {
            assert!(width(&line) < 12, "{line:?}");
        }
    }

    #[test]
    fn sentences_and_counts_are_broken_to_fit() {
        assert_eq!(
            wrap("\nRun completed: 6 passed, 0 failed, 0 skipped\n", Some(39)),
            "\nRun completed: 6 passed, 0 failed,\n  0 skipped\n"
        );
        assert_eq!(
            wrap(
                "Running at most 17 tasks at once: the open-file limit\n",
                Some(30)
            ),
            "Running at most 17 tasks at\n  once: the open-file limit\n"
        );
        assert_eq!(wrap("short\n", Some(39)), "short\n");
        // A word that ends a line exactly is not cut for its space.
        assert_eq!(wrap("aaaa bbbb cccc\n", Some(9)), "aaaa bbbb\n  cccc\n");
        assert_eq!(wrap("a b c d e f\n", None), "a b c d e f\n");
        for line in wrap(&format!("x: {}\n", "漢字".repeat(30)), Some(20)).lines() {
            assert!(width(line) <= 20, "{line:?}");
        }
    }

    #[test]
    fn a_failure_tail_fits_the_terminal() {
        let options = ProgressOptions {
            screen: Screen::Columns(40),
            ..ProgressOptions::default()
        };
        let text = render(
            plan("compile: cc main.c\n"),
            options,
            vec![Event::TaskFinished {
                task: 0,
                result: finished(
                    Status::Failed,
                    Exit::Code(1),
                    100,
                    "main.c:3:14: error: expected ';' before 'return' 漢字漢字\n".as_bytes(),
                ),
            }],
        );
        assert_eq!(
            text,
            "[1/1] compile ........ FAILED (0.1s)\n      \
             exit code 1; last lines of\n        \
             stderr:\n      \
             │ main.c:3:14: error: expected '…\n"
        );
    }

    #[test]
    fn off_a_terminal_the_layout_ignores_widths_it_does_not_need() {
        // Off a terminal, lines are the specification's whatever the
        // characters: the status column is counted in screen columns.
        let plan = plan("kanji: echo 漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字\n");
        let text = render(
            plan,
            ProgressOptions::default(),
            vec![Event::TaskFinished {
                task: 0,
                result: finished(Status::Passed, Exit::Code(0), 300, b""),
            }],
        );
        assert_eq!(
            text,
            "[1/1] kanji: echo 漢字漢字漢字漢字… .... PASSED (0.3s)\n"
        );
        assert_eq!(status_column(&text), STATUS_COLUMN);
    }
}
