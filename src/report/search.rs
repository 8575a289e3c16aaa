//! `taskrun search` as text and as JSON: each task whose output matched,
//! the newest first, with the runs it matched in and a snippet of its
//! newest match.

use std::fmt::Write as _;

use serde::Serialize;

use super::history::{JSON_SCHEMA, size, to_json};
use crate::event::Stream;
use crate::record::{Found, Group, Match};

fn stream_name(stream: Stream) -> &'static str {
    match stream {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
    }
}

/// `2 runs (#1 to #3)`, `1 run (#3)`.
fn runs(group: &Group) -> String {
    if group.runs == 1 {
        format!("1 run (#{})", group.last_run)
    } else {
        format!(
            "{} runs (#{} to #{})",
            group.runs, group.first_run, group.last_run
        )
    }
}

/// What was searched of a stream cut at `--max-output`.
fn cut_note(found: &Match) -> Option<String> {
    let cut = found.cut?;
    let stream = stream_name(found.stream);
    Some(if cut.tail > 0 {
        format!(
            "{stream} was {}, cut at --max-output: searched its first {} and last {} only",
            size(cut.total),
            size(i64::try_from(cut.head).unwrap_or(i64::MAX)),
            size(i64::try_from(cut.tail).unwrap_or(i64::MAX)),
        )
    } else {
        format!(
            "{stream} was {}, cut at --max-output: searched its first {} only",
            size(cut.total),
            size(i64::try_from(cut.head).unwrap_or(i64::MAX)),
        )
    })
}

/// The table of a search: a line per task, and its newest match under it.
pub(crate) fn search(found: &Found, limit: usize) -> String {
    let mut out = String::new();
    for group in &found.groups {
        let newest = &group.newest;
        let _ = writeln!(out, "{}: {}", group.name, runs(group));
        let attempt = if newest.attempt > 1 {
            format!(" (attempt {})", newest.attempt)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  #{}{attempt} {}: {}",
            newest.run,
            stream_name(newest.stream),
            newest.snippet
        );
        if let Some(note) = cut_note(newest) {
            let _ = writeln!(out, "  ({note})");
        }
    }
    if found.more > 0 {
        let tasks = if found.more == 1 { "task" } else { "tasks" };
        let _ = writeln!(out, "… and {} more {tasks} (--limit {limit})", found.more);
    }
    out
}

/// `search --json`.
pub(crate) fn search_json(query: &str, fts: &str, found: &Found, fallback: Option<&str>) -> String {
    #[derive(Serialize)]
    struct Searched<'a> {
        schema_version: u32,
        query: &'a str,
        fts_query: &'a str,
        tasks: Vec<Task<'a>>,
        more_tasks: usize,
        scanned_rows: u64,
        not_indexed_because: Option<&'a str>,
    }
    #[derive(Serialize)]
    struct Task<'a> {
        name: &'a str,
        runs: usize,
        first_run: i64,
        last_run: i64,
        newest: Newest<'a>,
    }
    #[derive(Serialize)]
    struct Newest<'a> {
        run: i64,
        attempt: u32,
        stream: &'static str,
        snippet: &'a str,
        truncated: bool,
        bytes: Option<i64>,
        searched_bytes: Option<usize>,
    }
    to_json(&Searched {
        schema_version: JSON_SCHEMA,
        query,
        fts_query: fts,
        tasks: found
            .groups
            .iter()
            .map(|group| Task {
                name: &group.name,
                runs: group.runs,
                first_run: group.first_run,
                last_run: group.last_run,
                newest: Newest {
                    run: group.newest.run,
                    attempt: group.newest.attempt,
                    stream: stream_name(group.newest.stream),
                    snippet: &group.newest.snippet,
                    truncated: group.newest.cut.is_some(),
                    bytes: group.newest.cut.map(|cut| cut.total),
                    searched_bytes: group.newest.cut.map(|cut| cut.head + cut.tail),
                },
            })
            .collect(),
        more_tasks: found.more,
        scanned_rows: found.scanned,
        not_indexed_because: fallback,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Cut;

    fn found() -> Found {
        Found {
            groups: vec![Group {
                name: "build".to_owned(),
                first_run: 1,
                last_run: 3,
                runs: 2,
                newest: Match {
                    id: 9,
                    run: 3,
                    attempt: 2,
                    stream: Stream::Stderr,
                    snippet: "[error]: no".to_owned(),
                    cut: Some(Cut {
                        total: 3 << 20,
                        head: 1 << 20,
                        tail: 8 << 10,
                    }),
                },
            }],
            more: 1,
            scanned: 0,
        }
    }

    #[test]
    fn a_task_its_runs_and_its_newest_match() {
        assert_eq!(
            search(&found(), 1),
            "build: 2 runs (#1 to #3)\n  \
             #3 (attempt 2) stderr: [error]: no\n  \
             (stderr was 3.0 MiB, cut at --max-output: searched its first 1.0 MiB and last 8.0 KiB only)\n\
             … and 1 more task (--limit 1)\n"
        );
    }

    #[test]
    fn json_has_the_same_and_its_schema_version() {
        let json: serde_json::Value =
            serde_json::from_str(&search_json("error", "\"error\"", &found(), None)).unwrap();
        assert_eq!(json["schema_version"], 1);
        assert_eq!(
            json["tasks"][0]["newest"]["searched_bytes"],
            (1 << 20) + (8 << 10)
        );
        assert_eq!(json["tasks"][0]["runs"], 2);
        assert_eq!(json["more_tasks"], 1);
    }
}
