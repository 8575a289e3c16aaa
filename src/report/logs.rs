//! `--log-dir DIR`: a log file per task and one for the run.
//!
//! A task's log (`DIR/tasks/<task>.log`, appended to by every run; a
//! directory of their own, so that no task name can clash with the run
//! log) holds its whole output, untruncated, line by line (`out| …`,
//! `err| …`), between a header and the exit and timings of each attempt. When a log passes [`ROTATE_AT`] it is moved
//! to `<task>.log.1` (older ones to `.2`, `.3`; older still are dropped)
//! and a new one begins. `DIR/run.log` has a line for each task that
//! starts, ends or is skipped, and the run's summary; it is a few lines a
//! task and is not rotated.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::history::local_time;
use super::lines::Lines;
use super::written::Report;
use crate::event::{Event, Stream, TaskResult, format_duration};
use crate::graph::Plan;
use crate::units::unix_seconds;

/// A log file is rotated once it is larger than this.
const ROTATE_AT: u64 = 64 << 20;

/// How many rotated files are kept beside the current one.
const KEEP: usize = 3;

/// Writes the logs of one run.
pub(crate) struct Logs {
    dir: PathBuf,
    plan: Arc<Plan>,
    run_id: i64,
    run: BufWriter<File>,
    tasks: HashMap<usize, Log>,
    lines: Lines,
    /// The attempt of each task whose end is logged.
    ended: Vec<u32>,
}

struct Log {
    path: PathBuf,
    file: File,
    written: u64,
}

impl Log {
    fn open(path: PathBuf) -> std::io::Result<Log> {
        let file = File::options().create(true).append(true).open(&path)?;
        let written = file.metadata()?.len();
        Ok(Log {
            path,
            file,
            written,
        })
    }

    fn write(&mut self, text: &str) -> std::io::Result<()> {
        if self.written > 0 && self.written + text.len() as u64 > ROTATE_AT {
            self.rotate()?;
        }
        self.file.write_all(text.as_bytes())?;
        self.written += text.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let numbered = |n: usize| PathBuf::from(format!("{}.{n}", self.path.display()));
        for n in (1..KEEP).rev() {
            if numbered(n).exists() {
                std::fs::rename(numbered(n), numbered(n + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(1))?;
        *self = Log::open(self.path.clone())?;
        Ok(())
    }
}

impl Logs {
    /// Creates `dir` if needed and opens its run log.
    pub(crate) fn create(dir: &Path, plan: Arc<Plan>) -> std::io::Result<Logs> {
        std::fs::create_dir_all(dir.join("tasks"))?;
        let run = BufWriter::new(
            File::options()
                .create(true)
                .append(true)
                .open(dir.join("run.log"))?,
        );
        Ok(Logs {
            dir: dir.to_owned(),
            ended: vec![0; plan.tasks.len()],
            plan,
            run_id: 0,
            run,
            tasks: HashMap::new(),
            lines: Lines::default(),
        })
    }

    /// The run's number in the history, for the logs' headers.
    pub(crate) fn recorded_as(mut self, run_id: i64) -> Logs {
        self.run_id = run_id;
        self
    }

    fn event(&mut self, event: Event) -> std::io::Result<()> {
        let plan = Arc::clone(&self.plan);
        let name = |task: usize| plan.tasks[task].name.value.as_str();
        let last_attempt = matches!(event, Event::TaskFinished { .. });
        match event {
            Event::TaskStarted {
                task, attempt, at, ..
            } => {
                let spec = &plan.tasks[task];
                let run_id = self.run_id;
                let log = self.log(task, name(task))?;
                log.write(&format!(
                    "# run #{} task {} attempt {attempt} started {}\n# command: {}\n",
                    run_id,
                    spec.name.value,
                    local_time(unix_seconds(at)),
                    super::indented(&spec.command.value, "#          ")
                ))?;
                writeln!(
                    self.run,
                    "{} started {} (attempt {attempt})",
                    local_time(now()),
                    name(task)
                )
            }
            Event::TaskOutput {
                task,
                stream,
                bytes,
            } => {
                let mut text = String::new();
                self.lines.push(task, stream, &bytes, |line| {
                    push_line(&mut text, stream, line);
                });
                self.log(task, name(task))?.write(&text)
            }
            Event::TaskFinished { task, result } | Event::TaskRetrying { task, result, .. } => {
                // A task interrupted while it waited for a retry ends with
                // the attempt whose end is already in its log.
                if std::mem::replace(&mut self.ended[task], result.attempt) != result.attempt {
                    let mut text = String::new();
                    self.lines
                        .finish(task, |stream, line| push_line(&mut text, stream, line));
                    text.push_str("# ");
                    text.push_str(&ending(&result));
                    text.push('\n');
                    self.log(task, name(task))?.write(&text)?;
                }
                if last_attempt {
                    // Its last attempt: the file is closed, so that a run
                    // of many tasks does not hold a descriptor for each.
                    self.tasks.remove(&task);
                }
                writeln!(
                    self.run,
                    "{} {} {}: {}",
                    local_time(now()),
                    result.status.as_str(),
                    name(task),
                    ending(&result)
                )
            }
            Event::TaskSkipped { task, reason } => {
                writeln!(
                    self.run,
                    "{} skipped {}: {reason}",
                    local_time(now()),
                    name(task)
                )
            }
            Event::Halted { failures, .. } => writeln!(
                self.run,
                "{} stopped starting tasks after {}",
                local_time(now()),
                crate::error::plural(failures, "failure")
            ),
            Event::Interrupted { signal, .. } => {
                writeln!(self.run, "{} interrupted by {signal}", local_time(now()))
            }
            Event::RunFinished { summary } => writeln!(
                self.run,
                "{} run finished in {}: {}",
                local_time(now()),
                format_duration(summary.duration),
                summary.counts
            ),
            Event::RunStarted { at, .. } => writeln!(
                self.run,
                "{} run #{} started",
                local_time(unix_seconds(at)),
                self.run_id
            ),
        }
    }

    fn log(&mut self, task: usize, name: &str) -> std::io::Result<&mut Log> {
        if !self.tasks.contains_key(&task) {
            let log = Log::open(self.dir.join("tasks").join(format!("{name}.log")))?;
            self.tasks.insert(task, log);
        }
        self.tasks
            .get_mut(&task)
            .ok_or_else(|| std::io::Error::other("log file vanished"))
    }
}

impl Report for Logs {
    fn write(&mut self, event: Event) -> std::io::Result<()> {
        self.event(event)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.run.flush()
    }

    fn target(&self) -> &Path {
        &self.dir
    }
}

fn push_line(text: &mut String, stream: Stream, line: &[u8]) {
    let prefix = if stream == Stream::Stdout {
        "out| "
    } else {
        "err| "
    };
    text.push_str(prefix);
    text.push_str(&String::from_utf8_lossy(line));
    text.push('\n');
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

fn now() -> i64 {
    unix_seconds(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_log_is_rotated_and_old_ones_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.log");
        let mut log = Log::open(path.clone()).unwrap();
        let chunk = "x".repeat(usize::try_from(ROTATE_AT / 2).unwrap() + 1);
        for _ in 0..6 {
            log.write(&chunk).unwrap();
        }
        let exists = |name: &str| dir.path().join(name).exists();
        assert!(exists("t.log") && exists("t.log.1") && exists("t.log.2") && exists("t.log.3"));
        assert!(!exists("t.log.4"));
        assert!(std::fs::metadata(&path).unwrap().len() <= ROTATE_AT);
    }
}
