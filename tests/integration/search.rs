//! `taskrun search` and `taskrun index`: full-text search over the
//! recorded output, through the real binary, with the index and its
//! high-water mark read back with the sqlite3 client.

use crate::harness::{Test, assert_contains};
use crate::history::sqlite3;

/// Output a compiler, a test runner and a linter could print.
const TASKS: &str = "\
build: printf 'src/main.rs:3:5: error[E0308]: mismatched types\\r\\nnote: expected u32\\r\\n'
test: printf '\\033[1;31mFAILED\\033[0m tests::connect: ECONNREFUSED (can'\\''t connect)\\n' >&2
lint: echo 'warning: unused variable' && echo 'no error here' >&2
quiet: true
";

/// A test directory with `TASKS` run `runs` times.
fn recorded(runs: usize) -> Test {
    let test = Test::new().taskfile(TASKS);
    for _ in 0..runs {
        test.exec(&["run", "tasks.txt", "--quiet"]);
    }
    test
}

/// The highest task row indexed, as `meta` holds it.
fn mark(test: &Test) -> Option<String> {
    sqlite3(
        &test.path().join("taskrun.db"),
        "SELECT value FROM meta WHERE key = 'fts_indexed'",
    )
    .map(|value| value.trim().to_owned())
}

#[test]
fn a_literal_phrase_with_brackets_is_found_and_marked() {
    let test = recorded(2);
    test.with_args(&["search", "error[E0308]"])
        .status(0)
        .stdout(
            "build: 2 runs (#1 to #2)\n  \
             #2 stdout: src/main.rs:3:5: [error[E0308]]: mismatched types\n",
        )
        .stderr("")
        .run();
    // Words, not characters: punctuation, case and quotes do not matter.
    test.with_args(&["search", "CAN'T \"connect\""])
        .status(0)
        .stdout_contains("test: 2 runs (#1 to #2)\n  #2 stderr: ")
        .run();
    test.with_args(&["search", "E0308 error"])
        .status(1)
        .stdout("")
        .run();
}

#[test]
fn raw_queries_take_fts5_syntax_and_bad_syntax_is_a_diagnostic() {
    let test = recorded(1);
    let names = |args: &[&str]| -> Vec<String> {
        let output = test.with_args(args).unmasked().run();
        output
            .stdout
            .lines()
            .filter(|line| !line.starts_with(' '))
            .map(|line| line.split(':').next().unwrap().to_owned())
            .collect()
    };
    let mut found = names(&["search", "--raw", "ECONN* OR unused"]);
    found.sort();
    assert_eq!(found, ["lint", "test"]);
    assert_eq!(
        names(&["search", "--raw", "NEAR(mismatched error, 3)"]),
        ["build"]
    );
    assert_eq!(names(&["search", "--raw", "error NOT E0308"]), ["lint"]);
    let output = test
        .with_args(&["search", "--raw", "error AND"])
        .status(2)
        .stdout("")
        .run();
    assert_contains(&output.stderr, "search::bad_query");
    assert_contains(&output.stderr, "`error AND` is not a query FTS5 can read");
    assert_contains(&output.stderr, "drop --raw");
    // Without --raw, the same text is only words.
    test.with_args(&["search", "error AND"]).status(1).run();
}

#[test]
fn an_empty_query_is_an_error() {
    let test = recorded(1);
    for query in ["", "  ", "[]:-"] {
        let output = test.with_args(&["search", query]).status(2).run();
        assert_contains(&output.stderr, "search::empty_query");
        assert_contains(&output.stderr, "has no word to look for");
    }
    test.with_args(&["search", "--raw", "\"\""]).status(2).run();
}

#[test]
fn tasks_are_grouped_the_newest_first() {
    let test = Test::new()
        .file("a.txt", "old: echo needle\nboth: echo needle\n")
        .file("b.txt", "both: echo needle again\nnew: echo the needle\n")
        .file("c.txt", "none: echo hay\n");
    for file in ["a.txt", "b.txt", "a.txt", "c.txt", "b.txt"] {
        test.exec(&["run", file, "--quiet", "--jobs", "1"]);
    }
    test.with_args(&["search", "needle"])
        .status(0)
        .stdout(
            "new: 2 runs (#2 to #5)\n  #5 stdout: the [needle]\n\
             both: 4 runs (#1 to #5)\n  #5 stdout: [needle] again\n\
             old: 2 runs (#1 to #3)\n  #3 stdout: [needle]\n",
        )
        .run();
    test.with_args(&["search", "needle", "--limit", "1"])
        .status(0)
        .stdout(
            "new: 2 runs (#2 to #5)\n  #5 stdout: the [needle]\n… and 2 more tasks (--limit 1)\n",
        )
        .run();
    test.with_args(&["search", "needle", "--last", "2"])
        .status(0)
        .stdout("new: 1 run (#5)\n  #5 stdout: the [needle]\nboth: 1 run (#5)\n  #5 stdout: [needle] again\n")
        .run();
    test.with_args(&["search", "needle", "--task", "o*", "-t", "new"])
        .status(0)
        .stdout_starts_with("new: 2 runs")
        .stdout_contains("old: 2 runs (#1 to #3)\n")
        .stdout_lacks("both")
        .run();
    let output = test
        .with_args(&["search", "needle", "--task", "[oops"])
        .status(2)
        .run();
    assert_contains(&output.stderr, "stats::bad_glob");
    // Runs that started long ago are out of `--since`.
    if sqlite3(
        &test.path().join("taskrun.db"),
        "UPDATE runs SET started_at = started_at - 30 * 86400 WHERE id < 5",
    )
    .is_some()
    {
        test.with_args(&["search", "needle", "--since", "7d"])
            .status(0)
            .stdout_starts_with("new: 1 run (#5)\n")
            .stdout_lacks("old")
            .run();
    }
}

#[test]
fn stream_picks_stdout_or_stderr() {
    let test = recorded(1);
    test.with_args(&["search", "error", "--stream", "err"])
        .status(0)
        .stdout("lint: 1 run (#1)\n  #1 stderr: no [error] here\n")
        .run();
    let output = test
        .with_args(&["search", "error", "--stream", "out"])
        .status(0)
        .unmasked()
        .run();
    assert!(
        output.stdout.starts_with("build: 1 run (#1)\n"),
        "{}",
        output.stdout
    );
    assert!(!output.stdout.contains("lint"), "{}", output.stdout);
    test.with_args(&["search", "ECONNREFUSED", "--stream", "out"])
        .status(1)
        .run();
}

#[test]
fn json_has_the_groups_and_a_schema_version() {
    let test = recorded(2);
    let output = test
        .with_args(&["search", "econnrefused", "--json"])
        .status(0)
        .unmasked()
        .run();
    let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "schema_version": 1,
            "query": "econnrefused",
            "fts_query": "\"econnrefused\"",
            "tasks": [{
                "name": "test",
                "runs": 2,
                "first_run": 1,
                "last_run": 2,
                "newest": {
                    "run": 2,
                    "attempt": 1,
                    "stream": "stderr",
                    "snippet": "FAILED tests::connect: [ECONNREFUSED] (can't connect)",
                    "truncated": false,
                    "bytes": null,
                    "searched_bytes": null
                }
            }],
            "more_tasks": 0,
            "scanned_rows": 0,
            "not_indexed_because": null
        })
    );
    let none = test
        .with_args(&["search", "nowhere", "--json"])
        .status(1)
        .unmasked()
        .run();
    let json: serde_json::Value = serde_json::from_str(&none.stdout).unwrap();
    assert_eq!(json["tasks"], serde_json::json!([]));
}

#[test]
fn escape_sequences_are_not_words() {
    let test = recorded(1);
    // `\x1b[1;31mFAILED` would be the word `31mfailed` if indexed raw.
    test.with_args(&["search", "failed tests"])
        .status(0)
        .stdout("test: 1 run (#1)\n  #1 stderr: [FAILED tests]::connect: ECONNREFUSED (can't connect)\n")
        .run();
    test.with_args(&["search", "31mFAILED"]).status(1).run();
}

#[test]
fn the_kept_start_and_end_of_a_truncated_stream_are_searched() {
    let test = Test::new().taskfile(
        "big: echo first words; i=0; while [ $i -lt 3000 ]; do echo filler line $i; i=$((i+1)); done; echo last words\n",
    );
    test.exec(&["run", "tasks.txt", "--quiet", "--max-output", "4K"]);
    for query in ["first words", "last words"] {
        test.with_args(&["search", query])
            .status(0)
            .stdout_contains(
                "cut at --max-output: searched its first 4.0 KiB and last 8.0 KiB only",
            )
            .run();
    }
    // The middle was not kept.
    test.with_args(&["search", "filler line 1500"])
        .status(1)
        .run();
}

#[test]
fn pruned_runs_leave_no_hits() {
    let test = recorded(3);
    test.with_args(&["search", "mismatched"])
        .status(0)
        .stdout_starts_with("build: 3 runs (#1 to #3)\n")
        .run();
    test.with_args(&["prune", "--keep", "1"]).status(0).run();
    test.with_args(&["search", "mismatched"])
        .status(0)
        .stdout_starts_with("build: 1 run (#3)\n")
        .run();
    // (That the index keeps no entry of a pruned row, which a search
    // could not show, since it joins `tasks`, is a unit test of `prune`.)
}

#[test]
fn indexing_resumes_from_the_mark_and_skips_rows_without_output() {
    let test = recorded(1);
    // Four rows, three with output: `quiet` prints nothing.
    test.with_args(&["index"])
        .status(0)
        .stdout("Indexed the output of 3 task rows (160 B).\n")
        .run();
    if let Some(mark) = mark(&test) {
        assert_eq!(mark, "4");
    }
    test.with_args(&["index"])
        .stdout("Indexed the output of 0 task rows (0 B).\n")
        .run();
    test.exec(&["run", "tasks.txt", "--quiet"]);
    test.exec(&["run", "tasks.txt", "--quiet"]);
    // Only the new rows.
    test.with_args(&["index"])
        .stdout("Indexed the output of 6 task rows (320 B).\n")
        .run();
    if let Some(mark) = mark(&test) {
        assert_eq!(mark, "12");
    }
    // `search` catches up the same way.
    test.exec(&["run", "tasks.txt", "--quiet"]);
    test.with_args(&["search", "unused variable"])
        .status(0)
        .stdout_starts_with("lint: 4 runs (#1 to #4)\n")
        .run();
    if let Some(mark) = mark(&test) {
        assert_eq!(mark, "16");
    }
    // A skipped task has no output either.
    let test = Test::new().taskfile("a: false\nb: echo never [after:a]\n");
    test.exec(&["run", "tasks.txt", "--quiet"]);
    test.with_args(&["index"])
        .stdout("Indexed the output of 0 task rows (0 B).\n")
        .run();
    if let Some(mark) = mark(&test) {
        assert_eq!(mark, "2");
    }
}

/// Runs `args` of taskrun in `test`'s directory with the database file
/// read-only: by its mode, and, where the tests run as root (whom a
/// mode does not stop), as an unprivileged user in a user namespace of
/// its own (`unshare --user`). `None` when neither can be arranged.
fn read_only(test: &Test, args: &[&str]) -> Option<crate::harness::Output> {
    use std::os::unix::fs::PermissionsExt;
    let db = test.path().join("taskrun.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    let writable = std::fs::OpenOptions::new().append(true).open(&db).is_ok();
    let output = if writable {
        let output = crate::harness::command_for("unshare")
            .arg("--user")
            .arg(crate::harness::binary())
            .args(args)
            .current_dir(test.path())
            .output();
        match output {
            Ok(output) if !String::from_utf8_lossy(&output.stderr).contains("unshare:") => output,
            _ => {
                eprintln!(
                    "SKIPPED: running as root, and `unshare --user` is not available to make the database read-only"
                );
                return None;
            }
        }
    } else {
        crate::harness::command()
            .args(args)
            .current_dir(test.path())
            .output()
            .unwrap()
    };
    Some(crate::harness::Output {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

#[test]
fn a_read_only_database_is_searched_by_scanning_what_is_not_indexed() {
    let test = recorded(1);
    test.with_args(&["index"]).status(0).run();
    test.exec(&["run", "tasks.txt", "--quiet"]);
    let Some(output) = read_only(&test, &["search", "mismatched types"]) else {
        return;
    };
    assert_eq!(output.status, 0, "{output:?}");
    assert_eq!(
        output.stdout,
        "build: 2 runs (#1 to #2)\n  #2 stdout: src/main.rs:3:5: error[E0308]: [mismatched types]\n"
    );
    assert_eq!(
        output.stderr,
        "note: `taskrun.db` is read-only, so the index was not brought up to date: \
         3 rows not in it were scanned instead\n"
    );
    let Some(output) = read_only(&test, &["search", "--raw", "econn*", "--json"]) else {
        return;
    };
    let json: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(json["not_indexed_because"], "read-only");
    assert_eq!(json["scanned_rows"], 3);
    assert_eq!(json["tasks"][0]["runs"], 2);
    // Nothing was written: the mark is where `index` left it.
    if let Some(mark) = mark(&test) {
        assert_eq!(mark, "4");
    }
}

#[test]
fn a_database_locked_by_another_process_is_searched_by_scanning() {
    let test = recorded(1);
    let db = test.path().join("taskrun.db");
    // Another process holds the write lock for longer than search waits.
    let Ok(mut holder) = std::process::Command::new("sqlite3")
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("skipped: the sqlite3 client is not installed");
        return;
    };
    {
        use std::io::{BufRead, Write};
        let stdin = holder.stdin.as_mut().unwrap();
        writeln!(stdin, "BEGIN IMMEDIATE; SELECT 'locked';").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(holder.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "locked\n");
    }
    let started = std::time::Instant::now();
    test.with_args(&["search", "unused variable"])
        .status(0)
        .stdout_starts_with("lint: 1 run (#1)\n")
        .stderr(
            "note: `taskrun.db` is locked by another process, so the index was not brought up to date: \
             3 rows not in it were scanned instead\n",
        )
        .run();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(holder.stdin.take());
    holder.wait().unwrap();
}

#[test]
fn a_task_still_running_waits_and_the_rows_after_it_are_indexed() {
    let test = Test::new()
        .taskfile("slow: sleep 3; echo needle at last\nfast: echo needle in a haystack\n");
    let run = test.with_args(&["run", "tasks.txt", "--quiet", "--jobs", "2"]);
    let child = run.spawn();
    // `slow` has the first row and is still running when `fast` is done:
    // the index takes `fast`, and `slow` waits to be looked at again. (A
    // search whose catch-up came just before `fast` was written finds it
    // by scanning it, as it waited; the next one finds it indexed.)
    let started = std::time::Instant::now();
    let json = loop {
        let output = test
            .with_args(&["search", "needle", "--json"])
            .unmasked()
            .run();
        let json: serde_json::Value =
            serde_json::from_str(&output.stdout).unwrap_or(serde_json::Value::Null);
        if (output.status == 0 && json["scanned_rows"] == 0)
            || started.elapsed() > std::time::Duration::from_secs(3)
        {
            break json;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(json["tasks"][0]["name"], "fast", "{json}");
    assert_eq!(json["tasks"].as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(json["scanned_rows"], 0, "{json}");
    assert_eq!(json["not_indexed_because"], serde_json::Value::Null);
    if let Some(mark) = mark(&test) {
        assert_eq!(mark, "2");
    }
    let waiting = || {
        sqlite3(
            &test.path().join("taskrun.db"),
            "SELECT value FROM meta WHERE key = 'fts_waiting'",
        )
        .map(|value| value.trim().to_owned())
    };
    if let Some(waiting) = waiting() {
        assert_eq!(waiting, "[1]");
    }
    run.wait(child);
    test.with_args(&["search", "needle", "--json"])
        .status(0)
        .stdout_contains("\"scanned_rows\": 0")
        .stdout_contains("\"name\": \"slow\"")
        .run();
    if let Some(waiting) = waiting() {
        assert_eq!(waiting, "[]");
    }
}
