//! Up-to-date checks: tasks that declare inputs and outputs are restored
//! from the store when nothing they depend on changed, and run (and are
//! stored again) when something did. Every case checks the rows in the
//! history, not only what was printed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::harness::Test;

/// Every row `sql` selects, each column as text (`NULL` for null).
pub(crate) fn rows(test: &Test, sql: &str) -> Vec<Vec<String>> {
    let connection = rusqlite::Connection::open(test.path().join("taskrun.db")).unwrap();
    let mut statement = connection.prepare(sql).unwrap();
    let columns = statement.column_count();
    statement
        .query_map([], |row| {
            Ok((0..columns)
                .map(|at| match row.get_ref(at).unwrap() {
                    rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                    rusqlite::types::ValueRef::Integer(value) => value.to_string(),
                    rusqlite::types::ValueRef::Real(value) => value.to_string(),
                    rusqlite::types::ValueRef::Text(bytes)
                    | rusqlite::types::ValueRef::Blob(bytes) => {
                        String::from_utf8_lossy(bytes).into_owned()
                    }
                })
                .collect())
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `name=status` for each task of run `run`, in plan order (the last
/// attempt of each).
fn statuses(test: &Test, run: i64) -> String {
    rows(
        test,
        &format!("SELECT name, status FROM task_results WHERE run_id = {run} ORDER BY position"),
    )
    .iter()
    .map(|row| format!("{}={}", row[0], row[1]))
    .collect::<Vec<_>>()
    .join(" ")
}

/// What the cache did for each task of run `run`: `name=outcome`.
pub(crate) fn outcomes(test: &Test, run: i64) -> String {
    rows(
        test,
        &format!(
            "SELECT t.name, c.outcome FROM task_results AS t JOIN task_cache AS c ON c.task_id = t.id
             WHERE t.run_id = {run} ORDER BY t.position"
        ),
    )
    .iter()
    .map(|row| format!("{}={}", row[0], row[1]))
    .collect::<Vec<_>>()
    .join(" ")
}

/// Runs `tasks.txt` and expects exit status `status`.
fn run(test: &Test, status: i32, extra: &[&str]) -> crate::harness::Output {
    let mut args = vec!["run", "tasks.txt", "--jobs", "2"];
    args.extend_from_slice(extra);
    test.with_args(&args).status(status).run()
}

/// A C-like build: `out/app` made from `src/*.c`, and a log task that
/// counts its runs in `runs.txt`.
const BUILD: &str = "build: mkdir -p out && cat src/*.c > out/app && echo built && echo x >> runs.txt [inputs:src/*.c] [outputs:out/app]\n";

fn build() -> Test {
    Test::new()
        .taskfile(BUILD)
        .file("src/a.c", "int a;\n")
        .file("src/b.c", "int b;\n")
}

fn runs_of(test: &Test) -> usize {
    std::fs::read_to_string(test.path().join("runs.txt"))
        .unwrap_or_default()
        .lines()
        .count()
}

/// Sets `path`'s modification time `ago` in the past.
fn age(path: &Path, ago: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - ago).unwrap();
}

#[test]
fn a_second_run_restores_and_records_cached() {
    let test = build();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 1), "build=passed");
    assert_eq!(outcomes(&test, 1), "build=stored");
    std::fs::remove_file(test.path().join("out/app")).unwrap();
    let output = run(&test, 0, &[]);
    assert!(output.stdout.contains("CACHED"), "{}", output.stdout);
    assert_eq!(statuses(&test, 2), "build=cached");
    assert_eq!(outcomes(&test, 2), "build=hit");
    assert_eq!(runs_of(&test), 1, "the command ran once");
    assert_eq!(
        std::fs::read_to_string(test.path().join("out/app")).unwrap(),
        "int a;\nint b;\n"
    );
    // Counted as passed and as cached; the replay is in the row.
    assert_eq!(
        rows(&test, "SELECT passed, cached FROM runs WHERE id = 2"),
        [["1", "1"]]
    );
    assert_eq!(
        rows(
            &test,
            "SELECT stdout, exit_code FROM tasks WHERE run_id = 2"
        ),
        [["built\n", "0"]]
    );
    assert_eq!(
        rows(
            &test,
            "SELECT source_run_id FROM task_cache JOIN tasks ON tasks.id = task_id WHERE run_id = 2"
        ),
        [["1"]]
    );
    test.with_args(&["history"])
        .status(0)
        .stdout_contains("1 passed (1 cached), 0 failed, 0 skipped")
        .run();
}

#[test]
fn an_edited_input_runs_again_and_why_names_it() {
    let test = build();
    run(&test, 0, &[]);
    std::fs::write(test.path().join("src/b.c"), "int b2;\n").unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "build=passed");
    assert_eq!(runs_of(&test), 2);
    test.with_args(&["show", "2", "--task", "build", "--why"])
        .status(0)
        .stdout_contains("compared with its pass in run #1:\n  changed input src/b.c\n")
        .run();
    let json = test
        .with_args(&["show", "2", "--task", "build", "--why", "--json"])
        .status(0)
        .run();
    let value: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(value["outcome"], "stored");
    assert_eq!(value["changes"][0]["kind"], "input");
    assert_eq!(value["changes"][0]["name"], "src/b.c");
    assert_eq!(value["changes"][0]["change"], "changed");
    // Back to what it was: the first pass is still stored.
    std::fs::write(test.path().join("src/b.c"), "int b;\n").unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 3), "build=cached");
    test.with_args(&["show", "3", "--task", "build", "--why"])
        .status(0)
        .stdout_contains("build was up to date: restored from run #1")
        .run();
}

#[test]
fn a_renamed_input_with_the_same_content_is_a_miss() {
    let test = build();
    run(&test, 0, &[]);
    std::fs::rename(test.path().join("src/b.c"), test.path().join("src/c.c")).unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "build=passed");
    test.with_args(&["show", "2", "--task", "build", "--why"])
        .status(0)
        .stdout_contains("removed input src/b.c")
        .stdout_contains("added input src/c.c")
        .run();
}

#[test]
fn a_touched_input_is_hashed_again_and_still_hits() {
    let test = build();
    // Older than the racy margin: once hashed, trusted while unchanged.
    age(&test.path().join("src/a.c"), Duration::from_secs(60));
    age(&test.path().join("src/b.c"), Duration::from_secs(60));
    run(&test, 0, &[]);
    // `touch`: a new time, the same content.
    age(&test.path().join("src/a.c"), Duration::from_secs(30));
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "build=cached");
    let hashed = rows(
        &test,
        "SELECT hashed_bytes FROM task_cache JOIN tasks ON tasks.id = task_id WHERE run_id = 2",
    );
    assert_eq!(hashed, [["7"]], "only the touched file was read");
    run(&test, 0, &[]);
    let hashed = rows(
        &test,
        "SELECT hashed_bytes FROM task_cache JOIN tasks ON tasks.id = task_id WHERE run_id = 3",
    );
    assert_eq!(hashed, [["0"]], "nothing was read: the stat cache vouched");
}

#[test]
fn a_same_size_rewrite_with_the_old_mtime_is_caught() {
    let test = build();
    let a = test.path().join("src/a.c");
    age(&a, Duration::from_secs(120));
    run(&test, 0, &[]);
    run(&test, 0, &[]);
    let mtime = std::fs::metadata(&a).unwrap().modified().unwrap();
    std::fs::write(&a, "int z;\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&a)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 3), "build=passed", "the ctime changed");
}

#[test]
fn an_input_changed_while_the_task_ran_is_not_stored() {
    // The task changes its own input: it passes, and is not stored.
    let test = Test::new().file("in.txt", "x\n").taskfile(
        "gen: echo more >> in.txt && touch done.txt [inputs:in.txt] [outputs:done.txt]\n",
    );
    run(&test, 0, &[]);
    assert_eq!(outcomes(&test, 1), "gen=not_stored");
    assert_eq!(
        rows(
            &test,
            "SELECT task_cache.reason FROM task_cache JOIN tasks ON tasks.id = task_id WHERE run_id = 1"
        ),
        [["in.txt changed while it ran"]]
    );
    assert_eq!(rows(&test, "SELECT COUNT(*) FROM cache_entries"), [["0"]]);
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "gen=passed");
}

#[test]
fn outputs_are_restored_with_their_mode_and_a_dir_output_whole() {
    let test = Test::new()
        .taskfile(
            "make: mkdir -p dist/sub && printf '#!/bin/sh\\necho hi\\n' > dist/run.sh && chmod 755 dist/run.sh && echo data > dist/sub/data && ln -sf ../outside dist/link && echo x >> runs.txt [inputs:in] [outputs:dist/]\n",
        )
        .file("in", "1\n");
    run(&test, 0, &[]);
    let dist = test.path().join("dist");
    // Deleted, edited, a stale extra file: a hit puts the tree back as it was.
    std::fs::remove_file(dist.join("run.sh")).unwrap();
    std::fs::write(dist.join("sub/data"), "edited\n").unwrap();
    std::fs::write(dist.join("stale"), "old\n").unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "make=cached");
    assert_eq!(runs_of(&test), 1);
    let mode = std::fs::metadata(dist.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::read_to_string(dist.join("sub/data")).unwrap(),
        "data\n"
    );
    assert!(!dist.join("stale").exists(), "a stale file is removed");
    assert_eq!(
        std::fs::read_link(dist.join("link")).unwrap(),
        Path::new("../outside"),
        "a link is restored as a link"
    );
}

#[test]
fn failures_and_timeouts_are_never_stored() {
    let test = Test::new()
        .taskfile(
            "bad: echo x >> runs.txt; touch out; exit 3 [inputs:in] [outputs:out]\nslow: echo x >> slow.txt; touch s; sleep 5 [inputs:in] [outputs:s] [timeout:0.2s]\n",
        )
        .file("in", "1\n");
    run(&test, 1, &[]);
    run(&test, 1, &[]);
    assert_eq!(statuses(&test, 2), "bad=failed slow=timeout");
    assert_eq!(outcomes(&test, 2), "bad=miss slow=miss");
    assert_eq!(runs_of(&test), 2, "the failure ran again");
    assert_eq!(rows(&test, "SELECT COUNT(*) FROM cache_entries"), [["0"]]);
}

#[test]
fn a_missing_declared_output_or_too_much_output_is_not_stored() {
    let test = Test::new()
        .taskfile(
            "none: true [inputs:in] [outputs:never-made]\nbig: head -c 5000 /dev/zero > big [inputs:in] [outputs:big]\n",
        )
        .file("in", "1\n");
    run(&test, 0, &["--cache-max-output", "4K"]);
    assert_eq!(outcomes(&test, 1), "none=not_stored big=not_stored");
    let reasons = rows(
        &test,
        "SELECT task_cache.reason FROM task_cache JOIN tasks ON tasks.id = task_id WHERE run_id = 1 ORDER BY position",
    );
    assert_eq!(reasons[0], ["the declared output never-made is missing"]);
    assert!(
        reasons[1][0].contains("over --cache-max-output"),
        "{reasons:?}"
    );
}

#[test]
fn a_missing_or_damaged_object_is_a_clean_miss() {
    let test = build();
    run(&test, 0, &[]);
    // The object of out/app, found by its content's digest.
    let digest = {
        use sha2::Digest as _;
        let hash = sha2::Sha256::digest(b"int a;\nint b;\n");
        hash.iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    let object = test
        .path()
        .join(".taskrun/objects")
        .join(&digest[..2])
        .join(&digest[2..4])
        .join(&digest[4..]);
    assert!(object.exists(), "{}", object.display());
    let mut mode = std::fs::metadata(&object).unwrap().permissions();
    mode.set_mode(0o644);
    std::fs::set_permissions(&object, mode).unwrap();
    std::fs::write(&object, "int a;\nint B;\n").unwrap();
    std::fs::remove_file(test.path().join("out/app")).unwrap();
    run(&test, 0, &[]);
    assert_eq!(
        statuses(&test, 2),
        "build=passed",
        "a damaged object runs the task"
    );
    assert_eq!(
        std::fs::read_to_string(test.path().join("out/app")).unwrap(),
        "int a;\nint b;\n",
        "never a wrong restore"
    );
    test.with_args(&["show", "2", "--task", "build", "--why"])
        .status(0)
        .stdout_contains("its stored pass could not be used: object")
        .run();
    // The whole store gone: the task runs, and is stored again.
    std::fs::remove_dir_all(test.path().join(".taskrun")).unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 3), "build=passed");
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 4), "build=cached");
}

#[test]
fn unset_empty_and_set_variables_are_three_keys_and_going_back_hits() {
    let test = Test::new().taskfile("t: echo \"[$MODE]\" > out [uses_env:MODE] [outputs:out]\n");
    let with = |mode: Option<&str>, run_no: i64, expected: &str| {
        let mut args = test.with_args(&["run", "tasks.txt"]).status(0);
        if let Some(mode) = mode {
            args = args.env("MODE", mode);
        }
        args.run();
        assert_eq!(statuses(&test, run_no), format!("t={expected}"), "{mode:?}");
    };
    with(None, 1, "passed");
    with(Some(""), 2, "passed");
    with(Some("fast"), 3, "passed");
    with(None, 4, "cached");
    with(Some(""), 5, "cached");
    with(Some("fast"), 6, "cached");
    assert_eq!(
        std::fs::read_to_string(test.path().join("out")).unwrap(),
        "[fast]\n"
    );
    // The value never lands in the history or the store.
    let manifests = rows(&test, "SELECT cache_key FROM task_cache");
    for row in manifests {
        let key = &row[0];
        let path = test
            .path()
            .join(".taskrun/objects")
            .join(&key[..2])
            .join(&key[2..4])
            .join(&key[4..]);
        let manifest = std::fs::read_to_string(path).unwrap();
        assert!(!manifest.contains("fast"), "{manifest}");
    }
}

#[test]
fn a_dependency_that_makes_the_same_outputs_lets_its_dependent_hit() {
    let test = Test::new()
        .taskfile(
            "gen: cat in | tr a-z A-Z > gen.txt [inputs:in] [outputs:gen.txt]\nuse: cat gen.txt > use.txt && echo x >> runs.txt [after:gen] [inputs:gen.txt] [outputs:use.txt]\n",
        )
        .file("in", "abc\n");
    run(&test, 0, &[]);
    // The same bytes to gen: gen runs (its input changed), use hits.
    std::fs::write(test.path().join("in"), "ABC\n").unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "gen=passed use=cached");
    // Other bytes: use runs too.
    std::fs::write(test.path().join("in"), "xyz\n").unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 3), "gen=passed use=passed");
    test.with_args(&["show", "3", "--task", "use", "--why"])
        .status(0)
        .stdout_contains("dependency gen made different outputs")
        .run();
}

#[test]
fn a_dependency_that_is_not_cacheable_makes_its_dependent_run() {
    let test = Test::new().taskfile(
        "prep: echo hi > prep.txt\nuse: cat prep.txt > use.txt [after:prep] [outputs:use.txt]\n",
    );
    run(&test, 0, &[]);
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "prep=passed use=passed");
    assert_eq!(outcomes(&test, 2), "use=not_stored");
    test.with_args(&["show", "2", "--task", "use", "--why"])
        .status(0)
        .stdout_contains(
            "use ran and passed; not stored: its dependency prep declares no outputs, so what it made is unknown\n",
        )
        .run();
    assert_eq!(rows(&test, "SELECT COUNT(*) FROM cache_entries"), [["0"]]);
}

#[test]
fn tasks_whose_names_differ_in_case_have_entries_of_their_own() {
    let test = Test::new().taskfile(
        "ab: echo lower > ab.txt [outputs:ab.txt]\naB: echo upper > aB.txt [outputs:aB.txt]\n",
    );
    run(&test, 0, &[]);
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "ab=cached aB=cached");
    assert_eq!(rows(&test, "SELECT COUNT(*) FROM cache_entries"), [["2"]]);
}

#[test]
fn force_runs_and_stores_no_cache_neither_reads_nor_writes() {
    let test = build();
    run(&test, 0, &[]);
    run(&test, 0, &["--force"]);
    assert_eq!(statuses(&test, 2), "build=passed");
    assert_eq!(outcomes(&test, 2), "build=stored");
    run(&test, 0, &["--no-cache"]);
    assert_eq!(statuses(&test, 3), "build=passed");
    assert_eq!(outcomes(&test, 3), "", "no cache row at all");
    assert_eq!(runs_of(&test), 3);
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 4), "build=cached");
}

#[test]
fn a_dry_run_and_why_change_nothing() {
    let test = build();
    run(&test, 0, &[]);
    std::fs::write(test.path().join("src/a.c"), "int a2;\n").unwrap();
    let before = snapshot(test.path());
    test.with_args(&["run", "tasks.txt", "--dry-run"])
        .status(0)
        .stdout_contains("build")
        .run();
    test.with_args(&["show", "1", "--task", "build", "--why"])
        .status(0)
        .run();
    assert_eq!(
        snapshot(test.path()),
        before,
        "nothing on disk changed, and no file was made (not even -wal or -shm)"
    );
}

/// Every file under `dir` with its size and modification time.
fn snapshot(dir: &Path) -> Vec<(String, u64, SystemTime)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files.push((
                    entry.path().display().to_string(),
                    meta.len(),
                    meta.modified().unwrap(),
                ));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn the_store_follows_the_database() {
    let test = build();
    std::fs::create_dir(test.path().join("state")).unwrap();
    test.with_args(&["run", "tasks.txt", "--db", "state/history.db"])
        .status(0)
        .run();
    assert!(test.path().join("state/.taskrun/objects").is_dir());
    assert!(!test.path().join(".taskrun").exists());
}

#[test]
fn retry_treats_a_cached_task_as_passed() {
    let test = Test::new()
        .taskfile("build: echo ok > out [outputs:out]\nflaky: test -e go [after:build]\n");
    run(&test, 1, &[]);
    run(&test, 1, &[]);
    assert_eq!(statuses(&test, 2), "build=cached flaky=failed");
    std::fs::write(test.path().join("go"), "").unwrap();
    test.with_args(&["retry", "2"]).status(0).run();
    assert_eq!(
        statuses(&test, 3),
        "flaky=passed",
        "only the failure ran again"
    );
}

#[test]
fn a_task_without_inputs_or_outputs_takes_no_part() {
    let test = Test::new().taskfile("plain: echo x >> runs.txt\n");
    run(&test, 0, &[]);
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "plain=passed");
    assert_eq!(runs_of(&test), 2);
    assert_eq!(rows(&test, "SELECT COUNT(*) FROM task_cache"), [["0"]]);
    assert!(!test.path().join(".taskrun").exists(), "no store is made");
}

#[test]
fn explain_says_live_why_each_task_ran_or_was_restored() {
    let test = build();
    run(&test, 0, &[]);
    std::fs::write(test.path().join("src/a.c"), "int a2;\n").unwrap();
    test.with_args(&["run", "tasks.txt", "--explain"])
        .status(0)
        .stdout_contains("      build ran and passed, and was stored\n")
        .stdout_contains(
            "        compared with its pass in run #1:\n        changed input src/a.c\n",
        )
        .run();
    test.with_args(&["run", "tasks.txt", "--explain"])
        .status(0)
        .stdout_contains("      build was up to date: restored from run #2")
        .run();
}

#[test]
fn an_input_symlink_retargeted_is_a_miss_and_an_output_symlink_stays_a_link() {
    let test = Test::new()
        .taskfile("t: cat link > out && ln -sf out out-link [inputs:link] [outputs:out,out-link]\n")
        .file("a", "A\n")
        .file("b", "B\n");
    std::os::unix::fs::symlink("a", test.path().join("link")).unwrap();
    run(&test, 0, &[]);
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "t=cached");
    std::fs::remove_file(test.path().join("link")).unwrap();
    std::os::unix::fs::symlink("b", test.path().join("link")).unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 3), "t=passed");
    std::fs::remove_file(test.path().join("out-link")).unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 4), "t=cached");
    assert_eq!(
        std::fs::read_link(test.path().join("out-link")).unwrap(),
        Path::new("out")
    );
    // The target's content counts too: same link text, other content.
    std::fs::write(test.path().join("b"), "B2\n").unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 5), "t=passed");
}

#[test]
fn a_task_killed_by_an_interrupt_is_never_stored() {
    let test = Test::new()
        .taskfile("slow: touch out && sleep 30 [inputs:in] [outputs:out]\n")
        .file("in", "1\n");
    let child = test.with_args(&["run", "tasks.txt"]).spawn();
    let pid = i32::try_from(child.id()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !test.path().join("out").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(pid, libc::SIGINT) };
    let output = test.with_args(&[]).wait(child);
    assert_eq!(output.status, 130, "{}", output.stdout);
    assert_eq!(statuses(&test, 1), "slow=canceled");
    assert_eq!(outcomes(&test, 1), "slow=miss");
    assert_eq!(rows(&test, "SELECT COUNT(*) FROM cache_entries"), [["0"]]);
}

#[test]
fn two_runs_at_once_of_the_same_task_leave_one_consistent_entry() {
    let test = Test::new()
        .taskfile(
            "t: head -c 200000 /dev/urandom > tmp.$$ && mv tmp.$$ out [inputs:in] [outputs:out]\n",
        )
        .file("in", "1\n");
    let first = test.with_args(&["run", "tasks.txt", "--quiet"]).spawn();
    let second = test.with_args(&["run", "tasks.txt", "--quiet"]).spawn();
    assert_eq!(test.with_args(&[]).wait(first).status, 0);
    assert_eq!(test.with_args(&[]).wait(second).status, 0);
    // One entry for the key, naming a tree whose objects are all whole.
    assert_eq!(rows(&test, "SELECT COUNT(*) FROM cache_entries"), [["1"]]);
    std::fs::remove_file(test.path().join("out")).unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 3), "t=cached");
    let restored = std::fs::read(test.path().join("out")).unwrap();
    assert_eq!(restored.len(), 200_000);
}

#[test]
fn rhai_tasks_declare_inputs_and_outputs_too() {
    let test = Test::new()
        .file(
            "Taskfile.rhai",
            "task(\"gen\", \"cp in out && echo x >> runs.txt\", #{ inputs: [\"in\"], outputs: [\"out\"] });\n",
        )
        .file("in", "1\n");
    test.with_args(&["run", "Taskfile.rhai"]).status(0).run();
    test.with_args(&["run", "Taskfile.rhai"]).status(0).run();
    assert_eq!(statuses(&test, 2), "gen=cached");
    assert_eq!(runs_of(&test), 1);
}

#[test]
fn show_outputs_lists_what_a_task_made_and_cat_writes_one() {
    let test = Test::new()
        .taskfile("make: mkdir -p dist && printf 'one' > dist/a && printf 'two!' > dist/b [outputs:dist/]\nplain: true\n");
    run(&test, 0, &[]);
    test.with_args(&["show", "1", "--task", "make", "--outputs"])
        .status(0)
        .stdout("dist/a  3 B  0644\ndist/b  4 B  0644\n")
        .run();
    let json = test
        .with_args(&["show", "1", "--task", "make", "--outputs", "--json"])
        .status(0)
        .run();
    let value: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(value[1]["path"], "dist/b");
    assert_eq!(value[1]["size"], 4);
    // Written byte for byte from the store, whatever is on disk now.
    std::fs::write(test.path().join("dist/b"), "changed").unwrap();
    test.with_args(&["cat", "1", "make", "dist/b"])
        .status(0)
        .stdout("two!")
        .run();
    test.with_args(&["cat", "1", "make", "dist/c"])
        .status(2)
        .stderr_contains("`dist/c` is not among the outputs of task `make` in run #1")
        .stderr_contains("did you mean `dist/a`?")
        .run();
    test.with_args(&["cat", "1", "plain", "x"])
        .status(2)
        .stderr_contains("task `plain` of run #1 has no stored outputs")
        .run();
    std::fs::remove_dir_all(test.path().join(".taskrun")).unwrap();
    test.with_args(&["cat", "1", "make", "dist/b"])
        .status(2)
        .stderr_contains("the store no longer holds the list of outputs of task `make` in run #1")
        .run();
}

#[test]
fn what_a_dependency_made_stays_unknown_down_the_chain() {
    // `prep` declares nothing, so `mid` is not stored; `top`, after `mid`,
    // must not be restored either, or it would keep what `mid` made before.
    let test = Test::new().taskfile(
        "prep: date +%s%N > data.txt\nmid: cp data.txt mid.txt [after:prep] [outputs:mid.txt]\ntop: cp mid.txt top.txt [after:mid] [outputs:top.txt]\n",
    );
    run(&test, 0, &[]);
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "prep=passed mid=passed top=passed");
    assert_eq!(outcomes(&test, 2), "mid=not_stored top=not_stored");
    assert_eq!(
        std::fs::read(test.path().join("top.txt")).unwrap(),
        std::fs::read(test.path().join("mid.txt")).unwrap()
    );
}

#[test]
fn an_input_that_links_to_a_directory_is_not_cached() {
    let test = Test::new()
        .taskfile("t: cat lib/x > out [inputs:lib] [outputs:out]\n")
        .file("shared/x", "1\n");
    std::os::unix::fs::symlink("shared", test.path().join("lib")).unwrap();
    run(&test, 0, &[]);
    assert_eq!(outcomes(&test, 1), "t=not_stored");
    let reasons = rows(
        &test,
        "SELECT task_cache.reason FROM task_cache JOIN tasks ON tasks.id = task_id",
    );
    assert!(
        reasons[0][0].contains("is a symlink to a directory, which is not followed"),
        "{reasons:?}"
    );
    std::fs::write(test.path().join("shared/x"), "2\n").unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "t=passed");
    assert_eq!(
        std::fs::read_to_string(test.path().join("out")).unwrap(),
        "2\n"
    );
}

#[test]
fn an_output_too_large_to_keep_never_reaches_the_store() {
    let test = Test::new()
        .taskfile("big: head -c 300000 /dev/zero > big [inputs:in] [outputs:big]\n")
        .file("in", "1\n");
    run(&test, 0, &["--cache-max-output", "100K"]);
    assert_eq!(outcomes(&test, 1), "big=not_stored");
    let stored: u64 = snapshot(&test.path().join(".taskrun"))
        .iter()
        .map(|(_, size, _)| size)
        .sum();
    assert!(stored < 100_000, "{stored} bytes in the store");
}

#[test]
fn a_task_whose_inputs_hold_its_outputs_still_hits() {
    let test = Test::new()
        .taskfile(
            "t: mkdir -p out && cat src.txt > out/copy [inputs:.,!tasks.txt] [outputs:out/]\n",
        )
        .file("src.txt", "1\n");
    run(&test, 0, &[]);
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "t=cached");
}

#[test]
fn an_exec_bit_flip_and_a_file_a_glob_now_matches_are_misses() {
    let test = Test::new()
        .taskfile("t: ls gen > out [inputs:gen/*.sh] [outputs:out]\n")
        .file("gen/a.sh", "echo a\n");
    run(&test, 0, &[]);
    let a = test.path().join("gen/a.sh");
    let mut mode = std::fs::metadata(&a).unwrap().permissions();
    mode.set_mode(0o755);
    std::fs::set_permissions(&a, mode).unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 2), "t=passed", "the exec bit counts");
    std::fs::write(test.path().join("gen/b.sh"), "echo b\n").unwrap();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 3), "t=passed");
    test.with_args(&["show", "3", "--task", "t", "--why"])
        .status(0)
        .stdout_contains("added input gen/b.sh")
        .stdout_contains("input pattern gen/*.sh matches 2 files (was 1)")
        .run();
    run(&test, 0, &[]);
    assert_eq!(statuses(&test, 4), "t=cached");
}
