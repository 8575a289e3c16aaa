//! The log files of `taskrun run --log-dir DIR` and of a broker: a global
//! log, `DIR/run.log`, and a log per task, `DIR/tasks/NAME.log`.
//!
//! Every line of every log begins with the time it was written, in ISO
//! 8601 UTC to the millisecond (`2026-12-02T02:31:05.123Z`), and a space.
//! A task's log (appended to by every run; a directory of their own, so
//! that no task name can clash with the global log) holds its whole
//! output, untruncated, line by line (`out| …`, `err| …`), between a
//! header and the exit and timings of each attempt. The global log has a
//! line for each task that starts, ends or is skipped, and for each run's
//! start and end. A log that would grow past [`LogConfig::rotate_at`] is
//! moved to `NAME.log.1` (older ones to `.2` … `.keep`; older still are
//! dropped) and a new one begins.
//!
//! [`Logger`] writes them, given each task's name and command; [`Logs`]
//! is the `--log-dir` report, which finds those in its plan.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::lines::Lines;
use super::written::Report;
use crate::event::{Event, Stream, TaskId, TaskResult, format_duration};
use crate::graph::Plan;
use crate::units::utc_timestamp_ms;

/// Where and how a broker (or `taskrun run --log-dir`) writes its logs.
///
/// `dir/run.log` is the global log: a line for each task that starts,
/// ends or is skipped, and for each run's start and end. With `per_task`,
/// `dir/tasks/NAME.log` holds the whole output of the task `NAME`, every
/// attempt of every run appended, each between a header and its exit.
/// Every line begins with the time it was written, in ISO 8601 UTC to the
/// millisecond, and a space:
///
/// ```text
/// 2026-12-02T02:31:05.123Z started test (attempt 1)
/// ```
///
/// A `mirror` sees each line as it is written, for a program that shows
/// or forwards the logs as they grow:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use taskrun::{LogConfig, LogLine};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let lines = Arc::clone(&seen);
/// let config = LogConfig::new("ci-logs")
///     .rotate_at(16 << 20)
///     .keep(5)
///     .mirror(move |line: &LogLine<'_>| {
///         let log = line.task.unwrap_or("run");
///         lines.lock().unwrap().push(format!("{log}: {}", line.text));
///     });
/// assert_eq!(config.dir, std::path::Path::new("ci-logs"));
/// assert!(config.per_task);
/// assert_eq!((config.rotate_at, config.keep), (16 << 20, 5));
/// assert!(config.mirror.is_some());
/// // Nothing is written, or mirrored, until something writes the logs.
/// assert!(seen.lock().unwrap().is_empty());
/// assert!(!std::path::Path::new("ci-logs").exists());
/// ```
#[derive(Clone)]
pub struct LogConfig {
    /// The directory of the logs (created if needed): `dir/run.log` is the
    /// global log, `dir/tasks/NAME.log` the log of the task `NAME`.
    pub dir: PathBuf,
    /// Whether each task has a log of its own, `dir/tasks/NAME.log`, with
    /// its output (`taskrun run --log-dir` always has). Without, a task's
    /// output is not logged.
    pub per_task: bool,
    /// A log file that would grow larger than this many bytes is renamed
    /// `NAME.log.1` (an older `.1` becomes `.2`, and so on up to `keep`) and a
    /// new one begun; 0 never rotates. A single line longer than this
    /// still goes whole into a file of its own.
    pub rotate_at: u64,
    /// How many rotated files of each log are kept; older ones are
    /// dropped. With 0, a log that reaches `rotate_at` starts anew.
    pub keep: usize,
    /// Called with each line as it is written to any log, once it is
    /// written, on the thread that writes it (a broker's log thread, or
    /// `taskrun run`'s log writer). It should be quick: the logs wait for
    /// it. A broker's mirror may call the broker, but not shut it down
    /// (the shutdown waits for the logs); one that panics ends the
    /// logging.
    #[allow(
        clippy::type_complexity,
        reason = "spelled out, so that the documentation shows what to pass"
    )]
    pub mirror: Option<Arc<dyn Fn(&LogLine<'_>) + Send + Sync>>,
}

impl Default for LogConfig {
    /// Logs in `logs`, a log per task, rotated at 64 MiB, 3 kept, no
    /// mirror.
    fn default() -> LogConfig {
        LogConfig {
            dir: PathBuf::from("logs"),
            per_task: true,
            rotate_at: 64 << 20,
            keep: 3,
            mirror: None,
        }
    }
}

impl fmt::Debug for LogConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mirror = if self.mirror.is_some() {
            "Some(..)"
        } else {
            "None"
        };
        f.debug_struct("LogConfig")
            .field("dir", &self.dir)
            .field("per_task", &self.per_task)
            .field("rotate_at", &self.rotate_at)
            .field("keep", &self.keep)
            .field("mirror", &format_args!("{mirror}"))
            .finish()
    }
}

impl LogConfig {
    /// The defaults, with the logs in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> LogConfig {
        LogConfig {
            dir: dir.into(),
            ..LogConfig::default()
        }
    }

    /// With or without a log per task: [`LogConfig::per_task`].
    #[must_use]
    pub fn per_task(mut self, per_task: bool) -> LogConfig {
        self.per_task = per_task;
        self
    }

    /// Rotated at `bytes` (0: never): [`LogConfig::rotate_at`].
    #[must_use]
    pub fn rotate_at(mut self, bytes: u64) -> LogConfig {
        self.rotate_at = bytes;
        self
    }

    /// Keeping `files` rotated files of each log: [`LogConfig::keep`].
    #[must_use]
    pub fn keep(mut self, files: usize) -> LogConfig {
        self.keep = files;
        self
    }

    /// With `mirror` called on each line written: [`LogConfig::mirror`].
    #[must_use]
    pub fn mirror(mut self, mirror: impl Fn(&LogLine<'_>) + Send + Sync + 'static) -> LogConfig {
        self.mirror = Some(Arc::new(mirror));
        self
    }
}

/// One line as written to a log, for a [`LogConfig::mirror`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogLine<'a> {
    /// The task whose log it is in, or `None` for the global log.
    pub task: Option<&'a str>,
    /// The whole line, timestamp included, without its newline.
    pub text: &'a str,
}

type Mirror = Arc<dyn Fn(&LogLine<'_>) + Send + Sync>;

/// When a log is rotated and how many old ones are kept.
#[derive(Clone, Copy)]
struct Rotation {
    at: u64,
    keep: usize,
}

/// Writes the logs a [`LogConfig`] describes, given the name and command
/// of each task an event is about. From one thread at a time.
pub(crate) struct Logger {
    dir: PathBuf,
    per_task: bool,
    rotation: Rotation,
    mirror: Option<Mirror>,
    global: Log,
    /// The open log of each task that started and has not finished.
    tasks: HashMap<TaskId, Log>,
    lines: Lines,
    /// The attempt whose end is logged, of each task not finished.
    ended: HashMap<TaskId, u32>,
}

impl Logger {
    /// Creates the directory (and its `tasks`, with a log per task) if
    /// needed and opens the global log.
    pub(crate) fn open(config: &LogConfig) -> std::io::Result<Logger> {
        std::fs::create_dir_all(&config.dir)?;
        if config.per_task {
            std::fs::create_dir_all(config.dir.join("tasks"))?;
        }
        let rotation = Rotation {
            at: config.rotate_at,
            keep: config.keep,
        };
        Ok(Logger {
            dir: config.dir.clone(),
            per_task: config.per_task,
            rotation,
            mirror: config.mirror.clone(),
            global: Log::open(config.dir.join("run.log"), rotation)?,
            tasks: HashMap::new(),
            lines: Lines::default(),
            ended: HashMap::new(),
        })
    }

    /// The directory of the logs.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// A line in the global log (e.g. "broker started, 4 jobs"); a text
    /// of several lines is several lines, each with its time, and an
    /// empty one none.
    pub(crate) fn note(&mut self, text: &str) -> std::io::Result<()> {
        let stamp = now();
        self.global(&stamp, text)
    }

    /// What `event` adds to the logs: a task's event (about the task
    /// `name` of run `run`, whose command is `command`) goes into the
    /// global log and the task's own; a run's event (`name` and `command`
    /// unused) into the global log, as [`Logger::run_event`] writes it.
    pub(crate) fn event(
        &mut self,
        event: &Event,
        run: Option<i64>,
        name: &str,
        command: &str,
    ) -> std::io::Result<()> {
        let stamp = now();
        match event {
            Event::TaskStarted { task, attempt, .. } => {
                if self.per_task {
                    let run = run.map_or_else(String::new, |run| format!("run #{run} "));
                    let header = format!(
                        "# {run}task {name} attempt {attempt} started\n# command: {}",
                        super::indented(command, "#          ")
                    );
                    self.task(*task, name, &stamp, &header)?;
                }
                self.global(&stamp, &format!("started {name} (attempt {attempt})"))
            }
            Event::TaskOutput {
                task,
                stream,
                bytes,
            } => {
                if !self.per_task {
                    return Ok(());
                }
                let mut text = String::new();
                self.lines.push(*task, *stream, bytes, |line| {
                    push_line(&mut text, *stream, line);
                });
                self.task(*task, name, &stamp, &text)
            }
            Event::TaskFinished { task, result } | Event::TaskRetrying { task, result, .. } => {
                let finished = matches!(event, Event::TaskFinished { .. });
                // A task interrupted while it waited for a retry ends with
                // the attempt whose end is already logged.
                let logged = self.ended.insert(*task, result.attempt) == Some(result.attempt);
                if finished {
                    self.ended.remove(task);
                }
                let mut written = Ok(());
                if !logged && self.per_task {
                    let mut text = String::new();
                    self.lines
                        .finish(*task, |stream, line| push_line(&mut text, stream, line));
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str("# ");
                    text.push_str(&ending(result));
                    written = self.task(*task, name, &stamp, &text);
                }
                if finished && let Some(mut log) = self.tasks.remove(task) {
                    // Closed with its last attempt, so that a run of many
                    // tasks does not hold a descriptor for each.
                    written = written.and(log.flush());
                }
                written?;
                if logged {
                    return Ok(());
                }
                let status = result.status.as_str();
                self.global(&stamp, &format!("{status} {name}: {}", ending(result)))
            }
            Event::TaskSkipped { reason, .. } => {
                self.global(&stamp, &format!("skipped {name}: {reason}"))
            }
            Event::RunStarted { .. }
            | Event::Interrupted { .. }
            | Event::Halted { .. }
            | Event::RunFinished { .. } => self.run_event(event, run.unwrap_or(0)),
        }
    }

    /// What the event of run `run` adds to the global log: its start, its
    /// halt or interruption and its end. A task's event adds nothing.
    pub(crate) fn run_event(&mut self, event: &Event, run: i64) -> std::io::Result<()> {
        let text = match event {
            Event::RunStarted { .. } => format!("run #{run} started"),
            Event::Halted { failures, .. } => format!(
                "stopped starting tasks after {}",
                crate::error::plural(*failures, "failure")
            ),
            Event::Interrupted { signal, .. } => format!("interrupted by {signal}"),
            Event::RunFinished { summary } => format!(
                "run finished in {}: {}",
                format_duration(summary.duration),
                summary.counts
            ),
            _ => return Ok(()),
        };
        self.global(&now(), &text)
    }

    /// Writes out what is buffered, in every open log.
    pub(crate) fn flush(&mut self) -> std::io::Result<()> {
        self.global.flush()?;
        for log in self.tasks.values_mut() {
            log.flush()?;
        }
        Ok(())
    }

    /// Writes each line of `text` into the global log.
    fn global(&mut self, stamp: &str, text: &str) -> std::io::Result<()> {
        self.global.write(stamp, text, None, self.mirror.as_ref())
    }

    /// Writes each line of `text` into the log of `task`, named `name`,
    /// opening it if it is not open.
    fn task(&mut self, task: TaskId, name: &str, stamp: &str, text: &str) -> std::io::Result<()> {
        let log = match self.tasks.entry(task) {
            std::collections::hash_map::Entry::Occupied(open) => open.into_mut(),
            std::collections::hash_map::Entry::Vacant(vacant) => {
                let path = self.dir.join("tasks").join(format!("{name}.log"));
                vacant.insert(Log::open(path, self.rotation)?)
            }
        };
        log.write(stamp, text, Some(name), self.mirror.as_ref())
    }
}

/// One log file, buffered.
struct Log {
    path: PathBuf,
    file: BufWriter<File>,
    /// Its size, counting what is buffered.
    written: u64,
    rotation: Rotation,
    /// The line being written, kept to save an allocation a line.
    line: String,
}

impl Log {
    fn open(path: PathBuf, rotation: Rotation) -> std::io::Result<Log> {
        let file = File::options().create(true).append(true).open(&path)?;
        let written = file.metadata()?.len();
        Ok(Log {
            path,
            file: BufWriter::new(file),
            written,
            rotation,
            line: String::new(),
        })
    }

    /// Writes each line of `text` (empty lines too; an empty `text` is no
    /// line) after `stamp`, and shows it to `mirror` as the log of `task`.
    fn write(
        &mut self,
        stamp: &str,
        text: &str,
        task: Option<&str>,
        mirror: Option<&Mirror>,
    ) -> std::io::Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        for piece in text.split('\n') {
            self.line.clear();
            self.line.push_str(stamp);
            self.line.push(' ');
            self.line.push_str(piece);
            self.line.push('\n');
            let size = self.line.len() as u64;
            if self.rotation.at > 0 && self.written > 0 && self.written + size > self.rotation.at {
                self.rotate()?;
            }
            self.file.write_all(self.line.as_bytes())?;
            self.written += size;
            if let Some(mirror) = mirror {
                mirror(&LogLine {
                    task,
                    text: self.line.trim_end_matches('\n'),
                });
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }

    /// Moves the file to `.1` (and the older ones up one, the oldest
    /// dropped) and begins a new one.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        let numbered = |n: usize| {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        // A log someone removed meanwhile has nothing to keep.
        let gone = |result: std::io::Result<()>| match result {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        };
        if self.rotation.keep == 0 {
            gone(std::fs::remove_file(&self.path))?;
        } else {
            for n in (1..self.rotation.keep).rev() {
                gone(std::fs::rename(numbered(n), numbered(n + 1)))?;
            }
            gone(std::fs::rename(&self.path, numbered(1)))?;
        }
        let line = std::mem::take(&mut self.line);
        *self = Log::open(self.path.clone(), self.rotation)?;
        self.line = line;
        Ok(())
    }
}

/// Writes the logs of `taskrun run --log-dir DIR`: a [`Logger`] with a
/// log per task, the names and commands from the run's plan.
pub(crate) struct Logs {
    plan: Arc<Plan>,
    run_id: i64,
    logger: Logger,
}

impl Logs {
    /// Creates `dir` if needed and opens its run log.
    pub(crate) fn create(dir: &Path, plan: Arc<Plan>) -> std::io::Result<Logs> {
        Ok(Logs {
            plan,
            run_id: 0,
            logger: Logger::open(&LogConfig::new(dir))?,
        })
    }

    /// The run's number in the history, for the logs' headers.
    pub(crate) fn recorded_as(mut self, run_id: i64) -> Logs {
        self.run_id = run_id;
        self
    }
}

impl Report for Logs {
    fn write(&mut self, event: Event) -> std::io::Result<()> {
        match task_of(&event).and_then(|task| self.plan.tasks.get(task)) {
            Some(spec) => self.logger.event(
                &event,
                Some(self.run_id),
                &spec.name.value,
                &spec.command.value,
            ),
            None => self.logger.run_event(&event, self.run_id),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.logger.flush()
    }

    fn target(&self) -> &Path {
        self.logger.dir()
    }
}

/// The task an event is about, if it is about one.
fn task_of(event: &Event) -> Option<TaskId> {
    match event {
        Event::TaskStarted { task, .. }
        | Event::TaskOutput { task, .. }
        | Event::TaskFinished { task, .. }
        | Event::TaskRetrying { task, .. }
        | Event::TaskSkipped { task, .. } => Some(*task),
        Event::RunStarted { .. }
        | Event::Interrupted { .. }
        | Event::Halted { .. }
        | Event::RunFinished { .. } => None,
    }
}

/// Adds `out| line` or `err| line` to `text`, a line after those before.
fn push_line(text: &mut String, stream: Stream, line: &[u8]) {
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(if stream == Stream::Stdout {
        "out| "
    } else {
        "err| "
    });
    text.push_str(&String::from_utf8_lossy(line));
}

/// `exit code 0, passed in 2.3s (attempt 1)`.
fn ending(result: &TaskResult) -> String {
    format!(
        "{}, {} in {} (attempt {})",
        result.exit,
        result.status.as_str(),
        format_duration(result.duration),
        result.attempt
    )
}

/// The time a line is written, as it begins the line.
fn now() -> String {
    utc_timestamp_ms(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::event::{Capture, Counts, Exit, SkipReason, Status, Summary};

    fn result(status: Status, attempt: u32) -> Arc<TaskResult> {
        Arc::new(TaskResult {
            out: None,
            status,
            attempt,
            exit: Exit::Code(i32::from(status != Status::Passed)),
            started_at: SystemTime::now(),
            duration: Duration::from_millis(20),
            stdout: Capture::default(),
            stderr: Capture::default(),
            slurm: None,
            cache: None,
        })
    }

    fn started(task: TaskId, attempt: u32) -> Event {
        Event::TaskStarted {
            task,
            attempt,
            at: SystemTime::now(),
            since_start: Duration::ZERO,
            slot: 0,
        }
    }

    fn output(task: TaskId, stream: Stream, bytes: &[u8]) -> Event {
        Event::TaskOutput {
            task,
            stream,
            bytes: bytes.into(),
        }
    }

    fn read(path: impl AsRef<Path>) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The line without its time, which is checked to be one.
    fn untimed(line: &str) -> &str {
        let (stamp, text) = line.split_at(25);
        let shape = "dddd-dd-ddTdd:dd:dd.dddZ ";
        assert!(
            stamp.chars().zip(shape.chars()).all(|(c, s)| if s == 'd' {
                c.is_ascii_digit()
            } else {
                c == s
            }),
            "{line}"
        );
        text
    }

    /// A logger whose mirror collects every line, with its task.
    /// The lines a mirror saw: the task of each (`None`: the global log).
    type Seen = Arc<Mutex<Vec<(Option<String>, String)>>>;

    fn mirrored(config: LogConfig) -> (Logger, Seen) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&seen);
        let config = config.mirror(move |line: &LogLine<'_>| {
            let task = line.task.map(str::to_owned);
            lines.lock().unwrap().push((task, line.text.to_owned()));
        });
        (Logger::open(&config).unwrap(), seen)
    }

    #[test]
    fn logs_are_rotated_at_the_configured_size_and_old_ones_dropped() {
        let dir = tempfile::tempdir().unwrap();
        // A note is 33 bytes: three fit in 100.
        let config = LogConfig::new(dir.path()).rotate_at(100).keep(2);
        let mut logger = Logger::open(&config).unwrap();
        for i in 10..40 {
            logger.note(&format!("line {i}")).unwrap();
        }
        logger.flush().unwrap();
        let exists = |name: &str| dir.path().join(name).exists();
        assert!(exists("run.log") && exists("run.log.1") && exists("run.log.2"));
        assert!(!exists("run.log.3"), "only two are kept");
        let mut kept = Vec::new();
        for name in ["run.log.2", "run.log.1", "run.log"] {
            let size = std::fs::metadata(dir.path().join(name)).unwrap().len();
            assert_eq!(size, 99, "{name}");
            kept.extend(read(dir.path().join(name)));
        }
        let kept: Vec<&str> = kept.iter().map(|line| untimed(line)).collect();
        // The newest lines, in order; the older ones are dropped.
        let newest: Vec<String> = (31..40).map(|i| format!("line {i}")).collect();
        assert_eq!(kept, newest);

        // A task's log is rotated too: a header is 100 bytes, one a file.
        for attempt in 1..=5 {
            logger
                .event(&started(0, attempt), Some(1), "t", "true")
                .unwrap();
        }
        logger.flush().unwrap();
        assert!(exists("tasks/t.log.1") && exists("tasks/t.log.2"));
        assert!(!exists("tasks/t.log.3"));
        for (name, attempt) in [("t.log.2", 3), ("t.log.1", 4), ("t.log", 5)] {
            let lines = read(dir.path().join("tasks").join(name));
            let header = format!("# run #1 task t attempt {attempt} started");
            assert_eq!(untimed(&lines[0]), header, "{name}");
            assert_eq!(lines.len(), 2, "{name}");
        }
    }

    #[test]
    fn logs_without_rotation_or_without_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut never =
            Logger::open(&LogConfig::new(dir.path().join("never")).rotate_at(0)).unwrap();
        let mut none_kept = Logger::open(
            &LogConfig::new(dir.path().join("none"))
                .rotate_at(40)
                .keep(0),
        )
        .unwrap();
        for i in 0..10 {
            never.note(&format!("line {i}")).unwrap();
            none_kept.note(&format!("line {i}")).unwrap();
        }
        never.flush().unwrap();
        none_kept.flush().unwrap();
        assert_eq!(read(dir.path().join("never/run.log")).len(), 10);
        assert!(!dir.path().join("never/run.log.1").exists());
        let kept = read(dir.path().join("none/run.log"));
        assert_eq!(kept.len(), 1);
        assert_eq!(untimed(&kept[0]), "line 9");
        assert!(!dir.path().join("none/run.log.1").exists());
    }

    #[test]
    fn the_mirror_receives_each_line_written_in_order_with_its_task() {
        let dir = tempfile::tempdir().unwrap();
        let (mut logger, seen) = mirrored(LogConfig::new(dir.path()));
        let summary = Summary {
            counts: Counts::default(),
            duration: Duration::from_secs(1),
            interrupted: None,
            halted: None,
        };
        let events = [
            Event::RunStarted {
                tasks: 3,
                jobs: 2,
                at: SystemTime::now(),
            },
            started(0, 1),
            started(1, 1),
            output(0, Stream::Stdout, b"one\ntw"),
            output(1, Stream::Stderr, b"oops\n"),
            output(0, Stream::Stdout, b"o\nthree"),
            Event::TaskFinished {
                task: 0,
                result: result(Status::Passed, 1),
            },
            Event::TaskFinished {
                task: 1,
                result: result(Status::Failed, 1),
            },
            Event::TaskSkipped {
                task: 2,
                reason: SkipReason::DependencyFailed("b".into()),
            },
            Event::RunFinished { summary },
        ];
        let names = ["a", "b", "c"];
        for event in &events {
            let task = task_of(event).unwrap_or(0);
            let command = format!("make {}\nmake check", names[task]);
            logger.event(event, Some(7), names[task], &command).unwrap();
        }
        logger.note("broker stopped").unwrap();
        logger.flush().unwrap();
        let seen = seen.lock().unwrap().clone();
        let of = |task: Option<&str>| -> Vec<String> {
            seen.iter()
                .filter(|(of, _)| of.as_deref() == task)
                .map(|(_, line)| line.clone())
                .collect()
        };
        assert_eq!(of(None), read(dir.path().join("run.log")));
        assert_eq!(of(Some("a")), read(dir.path().join("tasks/a.log")));
        assert_eq!(of(Some("b")), read(dir.path().join("tasks/b.log")));
        assert!(!dir.path().join("tasks/c.log").exists());
        assert_eq!(
            seen.len(),
            of(None).len() + of(Some("a")).len() + of(Some("b")).len()
        );
        let untimed: Vec<(Option<&str>, &str)> = seen
            .iter()
            .map(|(task, line)| (task.as_deref(), untimed(line)))
            .collect();
        assert_eq!(
            untimed,
            [
                (None, "run #7 started"),
                (Some("a"), "# run #7 task a attempt 1 started"),
                (Some("a"), "# command: make a"),
                (Some("a"), "#          make check"),
                (None, "started a (attempt 1)"),
                (Some("b"), "# run #7 task b attempt 1 started"),
                (Some("b"), "# command: make b"),
                (Some("b"), "#          make check"),
                (None, "started b (attempt 1)"),
                (Some("a"), "out| one"),
                (Some("b"), "err| oops"),
                (Some("a"), "out| two"),
                (Some("a"), "out| three"),
                (Some("a"), "# exit code 0, passed in 0.02s (attempt 1)"),
                (None, "passed a: exit code 0, passed in 0.02s (attempt 1)"),
                (Some("b"), "# exit code 1, failed in 0.02s (attempt 1)"),
                (None, "failed b: exit code 1, failed in 0.02s (attempt 1)"),
                (None, "skipped c: dependency failed: b"),
                (None, "run finished in 1.0s: 0 passed, 0 failed, 0 skipped"),
                (None, "broker stopped"),
            ]
        );
        assert!(
            logger.tasks.is_empty(),
            "each task's log closed as it ended"
        );
    }

    #[test]
    fn every_line_begins_with_the_utc_time_it_was_written_to_the_millisecond() {
        let dir = tempfile::tempdir().unwrap();
        let (mut logger, seen) = mirrored(LogConfig::new(dir.path()));
        let before = utc_timestamp_ms(SystemTime::now());
        logger.event(&started(0, 1), Some(1), "a", "true").unwrap();
        logger
            .event(&output(0, Stream::Stdout, b"x\n"), Some(1), "a", "true")
            .unwrap();
        logger.note("noted").unwrap();
        let after = utc_timestamp_ms(SystemTime::now());
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 5);
        for (_, line) in &seen {
            untimed(line);
            // ISO 8601 of one width sorts as the times do.
            let stamp = &line[..24];
            assert!(
                before.as_str() <= stamp && stamp <= after.as_str(),
                "{line}"
            );
            assert!(
                stamp.ends_with('Z') && stamp.as_bytes()[19] == b'.',
                "{line}"
            );
        }
    }

    #[test]
    fn an_attempt_whose_end_is_logged_is_not_logged_again() {
        // Interrupted while it waits for a retry, a task ends with the
        // attempt that already ended.
        let dir = tempfile::tempdir().unwrap();
        let mut logger = Logger::open(&LogConfig::new(dir.path())).unwrap();
        let retrying = Event::TaskRetrying {
            task: 0,
            result: result(Status::Failed, 1),
            retries: 3,
            delay: Duration::from_secs(60),
        };
        let finished = Event::TaskFinished {
            task: 0,
            result: result(Status::Failed, 1),
        };
        for event in [started(0, 1), retrying, finished] {
            logger.event(&event, Some(1), "flaky", "false").unwrap();
        }
        logger.flush().unwrap();
        let task = read(dir.path().join("tasks/flaky.log"));
        assert_eq!(
            task.iter().filter(|l| l.contains("# exit code 1")).count(),
            1
        );
        let run = read(dir.path().join("run.log"));
        assert_eq!(run.iter().filter(|l| l.contains("failed flaky")).count(), 1);
        assert!(logger.tasks.is_empty() && logger.ended.is_empty());
    }

    #[test]
    fn without_task_logs_the_global_log_is_still_written() {
        let dir = tempfile::tempdir().unwrap();
        let (mut logger, seen) = mirrored(LogConfig::new(dir.path()).per_task(false));
        logger.event(&started(0, 1), Some(1), "a", "true").unwrap();
        logger
            .event(&output(0, Stream::Stdout, b"x\n"), Some(1), "a", "true")
            .unwrap();
        let finished = Event::TaskFinished {
            task: 0,
            result: result(Status::Passed, 1),
        };
        logger.event(&finished, Some(1), "a", "true").unwrap();
        logger.flush().unwrap();
        assert!(!dir.path().join("tasks").exists());
        let seen = seen.lock().unwrap();
        assert!(seen.iter().all(|(task, _)| task.is_none()), "{seen:?}");
        assert_eq!(read(dir.path().join("run.log")).len(), 2);
    }

    #[test]
    fn a_config_shows_whether_it_has_a_mirror() {
        let config = LogConfig::new("x");
        assert_eq!(
            format!("{config:?}"),
            "LogConfig { dir: \"x\", per_task: true, rotate_at: 67108864, keep: 3, mirror: None }"
        );
        assert!(format!("{:?}", config.mirror(|_| {})).contains("mirror: Some(..)"));
    }
}
