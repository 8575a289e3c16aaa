//! A recorded run as a Chrome trace (the Trace Event Format that Perfetto
//! and `chrome://tracing` open): a complete event per attempt in the
//! thread of its lane, the skipped tasks as instants in a thread of their
//! own, and a second process holding the run's critical path.
//!
//! Times are microseconds from the run's start; `otherData` says what the
//! run was and whether its lanes are rebuilt (`approximate`).

use serde_json::{Value, json};

use super::timeline::{Bar, Timeline};
use crate::event::Exit;

/// The longest command an event carries.
const COMMAND_LIMIT: usize = 1024;

/// The process of the run's lanes, and that of its critical path.
const RUN_PROCESS: u64 = 1;
const CRITICAL_PROCESS: u64 = 2;

/// The trace of a run, as JSON.
pub(crate) fn trace(timeline: &Timeline<'_>) -> String {
    let run = timeline.run;
    let mut events: Vec<Value> = Vec::with_capacity(timeline.bars.len() + 8);
    let name = |name: &str, pid: u64, tid: Option<u64>, text: String| {
        let mut event = json!({"name": name, "ph": "M", "pid": pid, "args": {"name": text}});
        if let Some(tid) = tid {
            event["tid"] = json!(tid);
        }
        event
    };
    let sort = |name: &str, pid: u64, tid: Option<u64>, index: u64| {
        let mut event = json!({"name": name, "ph": "M", "pid": pid, "args": {"sort_index": index}});
        if let Some(tid) = tid {
            event["tid"] = json!(tid);
        }
        event
    };
    events.push(name(
        "process_name",
        RUN_PROCESS,
        None,
        format!("run #{} (jobs={})", run.id, timeline.jobs),
    ));
    events.push(sort("process_sort_index", RUN_PROCESS, None, 1));
    // Threads are numbered from 1: the lanes, then the skipped tasks.
    let lanes = u64::try_from(timeline.lanes).unwrap_or(u64::MAX);
    for lane in 1..=lanes {
        events.push(name(
            "thread_name",
            RUN_PROCESS,
            Some(lane),
            format!("slot {}", lane - 1),
        ));
        events.push(sort("thread_sort_index", RUN_PROCESS, Some(lane), lane));
    }
    for bar in &timeline.bars {
        let lane = u64::try_from(bar.lane).unwrap_or(0) + 1;
        events.push(complete(bar, RUN_PROCESS, lane));
    }
    if !timeline.unstarted.is_empty() {
        let tid = lanes + 1;
        events.push(name(
            "thread_name",
            RUN_PROCESS,
            Some(tid),
            "skipped".into(),
        ));
        events.push(sort("thread_sort_index", RUN_PROCESS, Some(tid), tid));
        for (task, at) in &timeline.unstarted {
            events.push(json!({
                "name": task.name,
                "cat": task.state.as_str(),
                "ph": "i",
                "s": "t",
                "ts": at,
                "pid": RUN_PROCESS,
                "tid": tid,
                "args": {"status": task.state.as_str(), "reason": task.reason},
            }));
        }
    }
    if !timeline.critical.is_empty() {
        events.push(name(
            "process_name",
            CRITICAL_PROCESS,
            None,
            "critical path".into(),
        ));
        events.push(sort("process_sort_index", CRITICAL_PROCESS, None, 2));
        events.push(name(
            "thread_name",
            CRITICAL_PROCESS,
            Some(1),
            "critical path".into(),
        ));
        for &bar in &timeline.critical {
            events.push(complete(&timeline.bars[bar], CRITICAL_PROCESS, 1));
        }
    }
    let trace = json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "taskrun": env!("CARGO_PKG_VERSION"),
            "run": run.id,
            "jobs": timeline.jobs,
            "wall_us": timeline.wall,
            "work_us": timeline.work,
            "lower_bound_us": timeline.lower_bound(),
            "critical_path": timeline.critical_names(),
            "critical_path_us": timeline.critical_length(),
            "queue_wait_us": timeline.queue_wait,
            "approximate": timeline.approximate,
        },
    });
    let mut text = trace.to_string();
    text.push('\n');
    text
}

/// The complete event of one attempt.
fn complete(bar: &Bar<'_>, pid: u64, tid: u64) -> Value {
    let task = bar.task;
    let name = if task.attempt > 1 {
        format!("{} (attempt {})", task.name, task.attempt)
    } else {
        task.name.clone()
    };
    let (exit_code, signal) = match &task.exit {
        Some(Exit::Code(code)) => (Some(*code), None),
        Some(Exit::Signal(signal)) => (None, Some(signal.to_string())),
        _ => (None, None),
    };
    json!({
        "name": name,
        "cat": bar.category(),
        "ph": "X",
        "ts": bar.start,
        "dur": bar.duration,
        "pid": pid,
        "tid": tid,
        "args": {
            "command": cut(&task.command, COMMAND_LIMIT),
            "status": task.state.as_str(),
            "exit_code": exit_code,
            "signal": signal,
            "attempt": task.attempt,
            "reason": task.reason,
            "stdout_bytes": task.stdout.total,
            "stderr_bytes": task.stderr.total,
            "critical": bar.critical,
        },
    })
}

/// `text`, cut to at most `limit` bytes at a character boundary.
pub(super) fn cut(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::event::Status;
    use crate::record::{Lane, TaskRow, TaskState};
    use crate::testing::{run_row, task_row};

    #[test]
    fn each_attempt_is_a_complete_event_in_its_lanes_thread() {
        let mut run = run_row(7);
        run.jobs = Some(2);
        let row = |position, name: &str, start, slot, deps: &[&str]| TaskRow {
            lane: Some(Lane {
                start: Duration::from_millis(start),
                slot,
            }),
            started_at: Some(0),
            duration: Some(Duration::from_millis(10)),
            exit: Some(Exit::Code(0)),
            deps: deps.iter().map(|dep| (*dep).to_owned()).collect(),
            ..task_row(position, name, TaskState::Ended(Status::Passed))
        };
        let mut retried = row(1, "b", 20, 1, &["a"]);
        retried.attempt = 2;
        let skipped = TaskRow {
            reason: Some("dependency failed: x".into()),
            ..task_row(2, "c", TaskState::Ended(Status::Skipped))
        };
        let tasks = [row(0, "a", 0, 0, &[]), retried, skipped];
        let timeline = Timeline::of(&run, &tasks);
        let trace: Value = serde_json::from_str(&trace(&timeline)).expect("valid JSON");
        let events = trace["traceEvents"].as_array().expect("events");
        let complete: Vec<&Value> = events.iter().filter(|event| event["ph"] == "X").collect();
        assert_eq!(complete.len(), 4, "{events:#?}");
        assert_eq!(complete[0]["name"], "a");
        assert_eq!(complete[0]["tid"], 1);
        assert_eq!(complete[0]["dur"], 10_000);
        assert_eq!(complete[1]["name"], "b (attempt 2)");
        assert_eq!(complete[1]["tid"], 2);
        assert_eq!(complete[1]["ts"], 20_000);
        assert_eq!(complete[1]["args"]["exit_code"], 0);
        assert_eq!(complete[1]["args"]["attempt"], 2);
        // The critical path's copies.
        assert!(complete[2..].iter().all(|event| event["pid"] == 2));
        let instant = events
            .iter()
            .find(|event| event["ph"] == "i")
            .expect("instant");
        assert_eq!(instant["name"], "c");
        assert_eq!(instant["args"]["reason"], "dependency failed: x");
        assert_eq!(trace["otherData"]["critical_path"], json!(["a", "b"]));
        assert_eq!(trace["otherData"]["approximate"], false);
        assert!(
            events.iter().any(|event| event["name"] == "process_name"
                && event["args"]["name"] == "run #7 (jobs=2)")
        );
    }

    #[test]
    fn an_empty_run_is_a_trace_with_its_process_alone() {
        let run = run_row(1);
        let trace: Value =
            serde_json::from_str(&trace(&Timeline::of(&run, &[]))).expect("valid JSON");
        let events = trace["traceEvents"].as_array().expect("events");
        assert!(events.iter().all(|event| event["ph"] == "M"), "{events:?}");
        assert_eq!(trace["otherData"]["critical_path"], json!([]));
    }

    #[test]
    fn commands_are_cut_at_a_character() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("abc", 5), "abc");
    }
}
