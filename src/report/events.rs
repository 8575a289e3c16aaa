//! `--events FILE|-`: the run as newline-delimited JSON, for programs.
//!
//! One JSON object a line, each with an `event` key, written and flushed
//! as the run goes so that another program can follow it live. The schema
//! (documented in the book, "Reports and integrations") only ever gains
//! keys and event kinds.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::lines::Lines;
use super::written::Report;
use crate::cache::Verdict;
use crate::event::{Event, Exit, Stream, TaskResult};
use crate::graph::Plan;

/// Writes a run's events as JSON lines.
pub(crate) struct EventLog<W: Write> {
    out: BufWriter<W>,
    /// Where they go, for messages.
    target: PathBuf,
    plan: Arc<Plan>,
    run_id: i64,
    lines: Lines,
}

impl<W: Write> EventLog<W> {
    pub(crate) fn new(out: W, target: PathBuf, plan: Arc<Plan>, run_id: i64) -> EventLog<W> {
        EventLog {
            out: BufWriter::with_capacity(64 << 10, out),
            target,
            plan,
            run_id,
            lines: Lines::default(),
        }
    }

    fn event(&mut self, event: Event) -> std::io::Result<()> {
        let plan = Arc::clone(&self.plan);
        let name = |task: usize| plan.tasks[task].name.value.as_str();
        match event {
            Event::RunStarted { tasks, jobs, at } => self.write(&json!({
                "event": "run_started",
                "schema_version": super::history::JSON_SCHEMA,
                "run": self.run_id,
                "tasks": tasks,
                "jobs": jobs,
                "time": seconds(at),
            })),
            Event::TaskStarted {
                task,
                attempt,
                at,
                slot,
                ..
            } => self.write(&json!({
                "event": "task_started",
                "task": name(task),
                "attempt": attempt,
                "time": seconds(at),
                "slot": slot,
            })),
            Event::TaskOutput {
                task,
                stream,
                bytes,
            } => {
                let mut complete = Vec::new();
                self.lines.push(task, stream, &bytes, |line| {
                    complete.push(String::from_utf8_lossy(line).into_owned());
                });
                for line in complete {
                    self.write(&line_event(name(task), stream, &line))?;
                }
                Ok(())
            }
            Event::TaskRetrying {
                task,
                result,
                retries,
                delay,
            } => {
                self.flush_lines(&plan, task)?;
                let mut value = ended("retrying", name(task), &result);
                value["retries"] = json!(retries);
                value["delay_ms"] = json!(delay.as_millis());
                self.write(&value)
            }
            Event::TaskFinished { task, result } => {
                self.flush_lines(&plan, task)?;
                self.write(&ended("task_finished", name(task), &result))
            }
            Event::TaskSkipped { task, reason } => self.write(&json!({
                "event": "task_skipped",
                "task": name(task),
                "reason": reason.to_string(),
            })),
            Event::Halted { failures, running } => self.write(&json!({
                "event": "halted",
                "failures": failures,
                "running": running,
            })),
            Event::Interrupted { signal, running } => self.write(&json!({
                "event": "interrupted",
                "signal": signal.to_string(),
                "running": running,
            })),
            Event::RunFinished { summary } => {
                let counts = summary.counts;
                self.write(&json!({
                    "event": "run_finished",
                    "run": self.run_id,
                    "passed": counts.passed,
                    "failed": counts.failures(),
                    "timeouts": counts.timeout,
                    "skipped": counts.skipped,
                    "canceled": counts.canceled,
                    "cached": counts.cached,
                    "duration_ms": summary.duration.as_millis(),
                    "interrupted_by": summary.interrupted.map(|signal| signal.to_string()),
                    "halted_after": summary.halted,
                }))
            }
        }
    }

    /// Writes what is left of a task's unfinished lines.
    fn flush_lines(&mut self, plan: &Plan, task: usize) -> std::io::Result<()> {
        let mut rest = Vec::new();
        self.lines.finish(task, |stream, line| {
            rest.push((stream, String::from_utf8_lossy(line).into_owned()));
        });
        for (stream, line) in rest {
            self.write(&line_event(&plan.tasks[task].name.value, stream, &line))?;
        }
        Ok(())
    }

    fn write(&mut self, value: &Value) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, value)?;
        self.out.write_all(b"\n")
    }
}

impl<W: Write + Send> Report for EventLog<W> {
    fn write(&mut self, event: Event) -> std::io::Result<()> {
        self.event(event)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    fn target(&self) -> &Path {
        &self.target
    }
}

fn line_event(task: &str, stream: Stream, line: &str) -> Value {
    json!({
        "event": if stream == Stream::Stdout { "stdout" } else { "stderr" },
        "task": task,
        "line": line,
    })
}

/// An attempt or a task that has ended.
fn ended(kind: &str, task: &str, result: &TaskResult) -> Value {
    let (exit_code, signal, reason) = match &result.exit {
        Exit::Code(code) => (Some(*code), None, None),
        Exit::Signal(signal) => (None, Some(signal.to_string()), None),
        Exit::NotStarted(reason) => (None, None, Some(reason.as_str())),
    };
    let mut value = json!({
        "event": kind,
        "task": task,
        "attempt": result.attempt,
        "status": result.status.as_str(),
        "exit_code": exit_code,
        "signal": signal,
        "reason": reason,
        "duration_ms": result.duration.as_millis(),
        "stdout_bytes": result.stdout.total,
        "stderr_bytes": result.stderr.total,
    });
    // What the cache did, for a task that took part: its key and outcome,
    // and for a task restored from the store, where from.
    if let Some(report) = &result.cache {
        value["cache_key"] = json!(report.key);
        value["cache"] = json!(report.verdict.as_str());
        if let Verdict::Hit {
            source_task,
            source_run,
            ..
        } = report.verdict
        {
            value["source_run"] = json!(source_run);
            value["source_task"] = json!(source_task);
        }
    }
    // What a pass left in its $TASKRUN_OUT, for a program that follows
    // the run and picks up files.
    if let Some(out) = &result.out {
        value["out"] = json!({
            "dir": out.dir.to_string_lossy(),
            "files": out.files,
            "bytes": out.bytes,
            "tree": out.tree,
        });
    }
    value
}

/// Unix time in seconds, with milliseconds.
fn seconds(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |since| (since.as_secs_f64() * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cache::Report;
    use crate::event::{Capture, Status};

    fn result(status: Status, verdict: Option<Verdict>) -> TaskResult {
        TaskResult {
            out: None,
            status,
            attempt: 1,
            exit: Exit::Code(0),
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::from_millis(4),
            stdout: Capture::default(),
            stderr: Capture::default(),
            slurm: None,
            cache: verdict.map(|verdict| {
                Arc::new(Report {
                    out: None,
                    key: "5e".repeat(32),
                    verdict,
                    explain: None,
                    note: None,
                    outputs: None,
                    stats: Vec::new(),
                    hashed_bytes: 0,
                    check: Duration::ZERO,
                })
            }),
        }
    }

    #[test]
    fn a_finished_task_says_what_the_cache_did() {
        let hit = Verdict::Hit {
            source_task: 1234,
            source_run: 41,
            saved: Duration::from_secs(12),
            restored: 3,
            files: 3,
        };
        let cached = ended("task_finished", "build", &result(Status::Cached, Some(hit)));
        assert_eq!(
            serde_json::to_string(&cached).unwrap(),
            format!(
                "{{\"event\":\"task_finished\",\"task\":\"build\",\"attempt\":1,\
                 \"status\":\"cached\",\"exit_code\":0,\"signal\":null,\"reason\":null,\
                 \"duration_ms\":4,\"stdout_bytes\":0,\"stderr_bytes\":0,\
                 \"cache_key\":\"{key}\",\"cache\":\"hit\",\"source_run\":41,\
                 \"source_task\":1234}}",
                key = "5e".repeat(32)
            )
        );
        let stored = ended(
            "task_finished",
            "build",
            &result(Status::Passed, Some(Verdict::Stored)),
        );
        assert_eq!(stored["cache"], "stored");
        assert_eq!(stored["cache_key"], "5e".repeat(32));
        assert!(stored.get("source_run").is_none());
        let missed = ended(
            "task_finished",
            "build",
            &result(Status::Failed, Some(Verdict::Failed)),
        );
        assert_eq!(missed["cache"], "miss");
        let plain = ended("task_finished", "build", &result(Status::Passed, None));
        assert!(plain.get("cache").is_none() && plain.get("cache_key").is_none());
        assert!(plain.get("out").is_none(), "it left nothing");
    }

    #[test]
    fn a_finished_task_says_what_it_left_in_its_directory() {
        let mut left = result(Status::Passed, None);
        left.out = Some(Arc::new(crate::cache::passing::Produced {
            dir: std::path::PathBuf::from("/p/.taskrun/out/7/fetch"),
            tree: Some("ab".repeat(32)),
            files: 2,
            bytes: 10,
            only: None,
        }));
        let value = ended("task_finished", "fetch", &left);
        assert_eq!(
            value["out"],
            json!({"dir": "/p/.taskrun/out/7/fetch", "files": 2, "bytes": 10, "tree": "ab".repeat(32)})
        );
    }
}
