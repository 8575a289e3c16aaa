//! `--trace` and `--html`, on `run` and on `show`: a recorded run as a
//! Chrome trace and as a self-contained HTML page.
//!
//! The screenshot test needs Chromium: without it, it says `skipped:
//! chromium is not installed` and checks nothing, unless
//! `TASKRUN_REQUIRE_CHROMIUM` is set (CI sets it once it has installed
//! Chromium), when it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::harness::{Test, command_for, root};

/// A run whose critical path does not depend on timing: `slow` takes far
/// longer than `fast`, so `package` waits for it; `flaky` fails its first
/// attempt and passes its second. Task names are plain words, but the
/// task file's directory, a command and an output are markup, and must
/// come out escaped.
const TASKS: &str = "\
slow: sleep 0.4
fast: true
flaky: test -e flaked || { touch flaked; exit 1; } [retries: 1]
package: echo done [after: slow, fast, flaky]
hostile: echo '</pre></svg><script>x</script>' >&2; exit 3 [after: fast]
after_hostile: true [after: hostile]
";

/// The directory the task file is in.
const HOSTILE_DIR: &str = "<script>&'\"";

fn run_with_reports() -> Test {
    let file = format!("{HOSTILE_DIR}/tasks.txt");
    let test = Test::new().file(&file, TASKS);
    test.with_args(&[
        "run",
        &file,
        "-j",
        "2",
        "--quiet",
        "--retry-delay",
        "0",
        "--trace",
        "run.json",
        "--html",
        "run.html",
    ])
    .status(1)
    .run();
    test
}

fn read(test: &Test, name: &str) -> String {
    std::fs::read_to_string(test.path().join(name)).unwrap()
}

/// The complete events of a trace, by process.
fn complete(trace: &Value, pid: u64) -> Vec<&Value> {
    trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["ph"] == "X" && event["pid"] == pid)
        .collect()
}

#[test]
fn the_trace_has_an_event_per_attempt_in_its_lane_and_the_critical_path() {
    let test = run_with_reports();
    let trace: Value = serde_json::from_str(&read(&test, "run.json")).unwrap();
    let events = complete(&trace, 1);
    let mut attempts: Vec<String> = events
        .iter()
        .map(|event| event["name"].as_str().unwrap().to_owned())
        .collect();
    attempts.sort();
    assert_eq!(
        attempts,
        [
            "fast",
            "flaky",
            "flaky (attempt 2)",
            "hostile",
            "package",
            "slow"
        ]
    );
    // Never two events overlapping in one thread, and no more threads
    // than places.
    let mut threads: BTreeMap<(u64, u64), Vec<(u64, u64)>> = BTreeMap::new();
    for event in events.iter().chain(&complete(&trace, 2)) {
        let key = (
            event["pid"].as_u64().unwrap(),
            event["tid"].as_u64().unwrap(),
        );
        let ts = event["ts"].as_u64().unwrap();
        threads
            .entry(key)
            .or_default()
            .push((ts, ts + event["dur"].as_u64().unwrap()));
    }
    for (thread, spans) in &mut threads {
        spans.sort_unstable();
        for pair in spans.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "{thread:?}: {spans:?}");
        }
    }
    let lanes: BTreeSet<u64> = events
        .iter()
        .map(|event| event["tid"].as_u64().unwrap())
        .collect();
    assert!(lanes.len() <= 2, "{lanes:?}");
    // Every lane is a named thread.
    let named: BTreeSet<u64> = trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["name"] == "thread_name" && event["pid"] == 1)
        .filter(|event| event["args"]["name"].as_str().unwrap().starts_with("slot "))
        .map(|event| event["tid"].as_u64().unwrap())
        .collect();
    assert!(lanes.is_subset(&named), "{lanes:?} {named:?}");

    let flaky = events
        .iter()
        .find(|event| event["name"] == "flaky")
        .unwrap();
    assert_eq!(flaky["cat"], "failed");
    assert_eq!(flaky["args"]["exit_code"], 1);
    assert_eq!(flaky["args"]["attempt"], 1);
    let hostile = events
        .iter()
        .find(|event| event["name"] == "hostile")
        .unwrap();
    assert_eq!(hostile["args"]["exit_code"], 3);
    assert!(
        hostile["args"]["command"]
            .as_str()
            .unwrap()
            .starts_with("echo '</pre>")
    );
    let skipped: Vec<&Value> = trace["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["ph"] == "i")
        .collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["name"], "after_hostile");
    assert_eq!(skipped[0]["args"]["reason"], "dependency failed: hostile");

    // package ended last, and waited for slow, which ended long after
    // fast and flaky.
    let other = &trace["otherData"];
    assert_eq!(
        other["critical_path"],
        serde_json::json!(["slow", "package"])
    );
    assert_eq!(other["approximate"], false);
    assert_eq!(other["jobs"], 2);
    assert_eq!(other["run"], 1);
    assert!(
        other["lower_bound_us"].as_u64().unwrap() >= 400_000,
        "{other}"
    );
    let critical: Vec<&str> = complete(&trace, 2)
        .iter()
        .map(|event| event["name"].as_str().unwrap())
        .collect();
    assert_eq!(critical, ["slow", "package"]);

    // `show` makes the same trace from the database.
    let shown = test.exec(&["show", "--trace", "-"]);
    assert_eq!(shown.stdout, read(&test, "run.json"));
}

/// The HTML page, parsed as XML.
fn parse(page: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse_with_options(
        page,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .unwrap_or_else(|error| panic!("the page is not well-formed XML: {error}\n{page}"))
}

fn has_class(node: roxmltree::Node<'_, '_>, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|classes| classes.split(' ').any(|word| word == class))
}

#[test]
fn the_page_is_self_contained_escaped_and_draws_every_attempt() {
    let test = run_with_reports();
    let page = read(&test, "run.html");
    let document = parse(&page);
    // Nothing to load, nothing to run.
    assert!(!page.contains("<script"), "an unescaped script tag");
    let remote: Vec<&str> = page
        .match_indices("http")
        .map(|(at, _)| &page[at..(at + 30).min(page.len())])
        .filter(|rest| {
            !rest.starts_with("http://www.w3.org/2000/svg") && !rest.starts_with("http-equiv")
        })
        .collect();
    assert!(remote.is_empty(), "{remote:?}");
    let policy = document
        .descendants()
        .find(|node| node.attribute("http-equiv") == Some("Content-Security-Policy"))
        .and_then(|node| node.attribute("content"));
    assert_eq!(
        policy,
        Some("default-src 'none'; style-src 'unsafe-inline'")
    );

    let bars: Vec<roxmltree::Node<'_, '_>> = document
        .descendants()
        .filter(|node| node.has_tag_name("rect") && has_class(*node, "task"))
        .collect();
    let titles: Vec<&str> = bars
        .iter()
        .map(|bar| {
            bar.first_element_child()
                .and_then(|title| title.text())
                .unwrap()
        })
        .collect();
    assert_eq!(bars.len(), 6, "{titles:?}");
    assert!(
        titles
            .iter()
            .any(|title| title.starts_with("hostile: failed")),
        "{titles:?}"
    );
    assert!(
        titles
            .iter()
            .any(|title| title.starts_with("flaky (attempt 2): passed")),
        "{titles:?}"
    );
    // The outlined bars are the trace's critical path.
    let critical: Vec<&str> = bars
        .iter()
        .filter(|bar| has_class(**bar, "critical"))
        .map(|bar| {
            let title = bar
                .first_element_child()
                .and_then(|title| title.text())
                .unwrap();
            title.split(':').next().unwrap()
        })
        .collect();
    assert_eq!(critical, ["slow", "package"]);
    // The failure shows its stderr, escaped.
    let failures: Vec<&str> = document
        .descendants()
        .filter(|node| node.has_tag_name("pre"))
        .filter_map(|node| node.text())
        .collect();
    assert_eq!(failures, ["</pre></svg><script>x</script>\n"]);
    let code: Vec<&str> = document
        .descendants()
        .filter(|node| node.has_tag_name("code"))
        .filter_map(|node| node.text())
        .collect();
    assert!(
        code.contains(&"echo '</pre></svg><script>x</script>' >&2; exit 3"),
        "{code:?}"
    );
    let all_text: String = document
        .descendants()
        .filter_map(|node| node.text())
        .collect();
    assert!(
        all_text.contains(&format!("{HOSTILE_DIR}/tasks.txt")),
        "{all_text}"
    );
    assert!(all_text.contains("after_hostile"), "{all_text}");

    // `show` makes the same page from the database.
    test.with_args(&["show", "1", "--html", "shown.html"])
        .status(0)
        .stdout("")
        .stderr("Wrote the HTML report of run #1 to shown.html\n")
        .run();
    assert_eq!(read(&test, "shown.html"), page);
}

#[test]
fn rows_from_before_exact_starts_get_rebuilt_lanes_and_say_so() {
    let test = Test::new().taskfile("a: true\nb: true\nc: true [after: a]\n");
    test.with_args(&["run", "tasks.txt", "--quiet"])
        .status(0)
        .run();
    // What a database written before start_us and slot existed holds
    // (and durations that make a → c the critical path whatever the
    // machine's speed).
    let db = rusqlite::Connection::open(test.path().join("taskrun.db")).unwrap();
    db.execute(
        "UPDATE tasks SET start_us = NULL, slot = NULL,
             duration_ms = CASE name WHEN 'b' THEN 10 ELSE 100 END",
        [],
    )
    .unwrap();
    drop(db);
    let trace: Value = serde_json::from_str(&test.exec(&["show", "--trace", "-"]).stdout).unwrap();
    assert_eq!(trace["otherData"]["approximate"], true);
    let events = complete(&trace, 1);
    assert_eq!(events.len(), 3);
    // c, which waited for a, is drawn after it, also on the path's track.
    let critical = complete(&trace, 2);
    assert_eq!(critical.len(), 2, "{critical:?}");
    let end = critical[0]["ts"].as_u64().unwrap() + critical[0]["dur"].as_u64().unwrap();
    assert!(end <= critical[1]["ts"].as_u64().unwrap(), "{critical:?}");
    let page = test.exec(&["show", "--html", "-"]).stdout;
    parse(&page);
    assert!(page.contains("their lanes are rebuilt"), "{page}");
}

#[test]
fn reports_never_overwrite_the_database() {
    let test = Test::new().taskfile("a: true\n");
    test.with_args(&["run", "tasks.txt", "--quiet"])
        .status(0)
        .run();
    let before = std::fs::read(test.path().join("taskrun.db")).unwrap();
    test.with_args(&["show", "--html", "taskrun.db"])
        .status(2)
        .stderr_contains("is the history database")
        .run();
    test.with_args(&["run", "tasks.txt", "--quiet", "--trace", "taskrun.db-wal"])
        .status(2)
        .stderr_contains("is the history database")
        .run();
    assert_eq!(
        std::fs::read(test.path().join("taskrun.db")).unwrap(),
        before
    );
    // Nor one another.
    test.with_args(&[
        "run",
        "tasks.txt",
        "--quiet",
        "--junit",
        "r.out",
        "--html",
        "./r.out",
    ])
    .status(2)
    .stderr_contains("run::reports_share_a_path")
    .stderr_contains("the JUnit report and the HTML report would both be written to `./r.out`")
    .run();
    test.with_args(&["show", "--trace", "-", "--html", "-"])
        .status(2)
        .stderr_contains("the trace and the HTML report would both be written to `-`")
        .run();
    assert!(!test.path().join("r.out").exists());
    // A report path that cannot be written stops the run before it starts.
    test.with_args(&[
        "run",
        "tasks.txt",
        "--quiet",
        "--html",
        "missing/dir/r.html",
    ])
    .status(2)
    .stderr_contains("missing/dir/r.html")
    .run();
    test.with_args(&["history"])
        .stdout_contains("#1")
        .stdout_lacks("#2")
        .run();
}

/// Chromium, if it is installed: its name on PATH.
fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            command_for(name)
                .arg("--version")
                .output()
                .is_ok_and(|output| output.status.success())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("TASKRUN_REQUIRE_CHROMIUM").is_none(),
            "chromium is not installed, and TASKRUN_REQUIRE_CHROMIUM is set"
        );
        eprintln!("skipped: chromium is not installed");
    }
    found
}

/// A headless Chromium draws the page of `examples/timeline.txt` with
/// scripts off (the page has none). `TASKRUN_SCREENSHOT=PATH` keeps the
/// picture: the book's `timeline.png` comes from here.
#[test]
fn chromium_renders_the_page() {
    let Some(chromium) = chromium() else { return };
    let example = std::fs::read_to_string(root().join("examples/timeline.txt")).unwrap();
    let test = Test::new().file("examples/timeline.txt", example);
    test.with_args(&[
        "run",
        "examples/timeline.txt",
        "-j",
        "2",
        "--quiet",
        "--html",
        "run.html",
    ])
    .status(0)
    .run();
    let shot = test.path().join("shot.png");
    let output = command_for(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-javascript",
            "--hide-scrollbars",
            "--window-size=1120,900",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", test.path().join("run.html").display()))
        .env("HOME", test.path())
        .output()
        .unwrap();
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(png.len() > 10_000, "{} bytes: a blank page?", png.len());
    if let Some(keep) = std::env::var_os("TASKRUN_SCREENSHOT") {
        std::fs::copy(&shot, Path::new(&keep)).unwrap();
    }
}
