//! Output passing: each attempt's own `$TASKRUN_OUT`, what its dependents
//! see of it (`TASKRUN_IN_<dep>`, `TASKRUN_INPUTS`, `OUTPUT_DIR`,
//! `INPUT_DIR`, `INPUT_FILE`), how it is stored, restored on a hit and on
//! a retry, listed, served by `cat` and collected. Each case checks the
//! rows in the history as well as what was printed.

use crate::cache::rows;
use crate::harness::Test;

/// The tree digest each task of run `run` left (`NULL` for none), as
/// `name=tree`, in plan order.
fn trees(test: &Test, run: i64) -> Vec<(String, String)> {
    rows(
        test,
        &format!(
            "SELECT name, COALESCE(out_tree, 'NULL') FROM task_results WHERE run_id = {run}
             ORDER BY position"
        ),
    )
    .into_iter()
    .map(|row| (row[0].clone(), row[1].clone()))
    .collect()
}

fn tree_of(test: &Test, run: i64, name: &str) -> String {
    trees(test, run)
        .into_iter()
        .find(|(task, _)| task == name)
        .map(|(_, tree)| tree)
        .unwrap()
}

/// taskrun with `args` and `--output stream`, expected to exit `status`.
fn streamed(test: &Test, args: &[&str], status: i32) -> crate::harness::Output {
    let mut all = args.to_vec();
    all.extend(["--output", "stream"]);
    test.with_args(&all).status(status).run()
}

const PIPELINE: &str = "\
fetch: printf 'a b c\\n' > $TASKRUN_OUT/data.txt
count: echo \"dir=${INPUT_DIR#$PWD/}\"; echo \"file=${INPUT_FILE#$PWD/}\"; wc -w < $INPUT_FILE > $OUTPUT_DIR/words.txt [after:fetch]
report: echo \"dir=${INPUT_DIR-unset} file=${INPUT_FILE-unset}\"; cat $TASKRUN_IN_count/words.txt; echo \"$TASKRUN_INPUTS\" | sed \"s|$PWD/||\" [after:count,fetch]
quiet: test -d \"$TASKRUN_OUT\" && test -z \"$(ls -A \"$TASKRUN_OUT\")\" && echo \"out=${TASKRUN_OUT#$PWD/}\"
";

#[test]
fn dependents_see_what_their_dependencies_left() {
    let test = Test::new().taskfile(PIPELINE);
    let output = test
        .with_args(&["run", "tasks.txt", "--output", "stream", "--jobs", "1"])
        .run();
    assert_eq!(output.status, 0, "{}", output.stderr);
    let out = &output.stdout;
    // One dependency that left one file: every variable.
    assert!(out.contains("count | dir=.taskrun/out/1/fetch\n"), "{out}");
    assert!(
        out.contains("count | file=.taskrun/out/1/fetch/data.txt\n"),
        "{out}"
    );
    // Two dependencies, two files: neither single-case variable, both
    // directories listed.
    assert!(out.contains("report | dir=unset file=unset\n"), "{out}");
    assert!(out.contains("report | 3\n"), "{out}");
    assert!(
        out.contains("report | .taskrun/out/1/count\nreport | .taskrun/out/1/fetch\n"),
        "{out}"
    );
    // Every task gets a fresh, empty directory of its own.
    assert!(out.contains("quiet | out=.taskrun/out/1/quiet\n"), "{out}");
    // What was left stays in place; what was not is removed.
    let run_dir = test.path().join(".taskrun/out/1");
    assert_eq!(
        std::fs::read_to_string(run_dir.join("fetch/data.txt")).unwrap(),
        "a b c\n"
    );
    assert!(run_dir.join("count/words.txt").is_file());
    assert!(!run_dir.join("report").exists());
    assert!(!run_dir.join("quiet").exists());
    // And it is stored: a tree for each task that left something.
    let trees = trees(&test, 1);
    let left: Vec<&str> = trees
        .iter()
        .filter(|(_, tree)| tree != "NULL")
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(left, ["fetch", "count"]);
    for (_, tree) in trees.iter().filter(|(_, tree)| tree != "NULL") {
        let object = test
            .path()
            .join(".taskrun/objects")
            .join(&tree[..2])
            .join(&tree[2..4])
            .join(&tree[4..]);
        assert!(object.is_file(), "the tree {tree} is in the store");
    }
}

#[test]
fn a_run_whose_tasks_leave_nothing_leaves_nothing() {
    let test = Test::new().taskfile("a: true\nb: echo hi [after:a]\n");
    test.with_args(&["run", "tasks.txt"]).status(0).run();
    assert!(
        !test.path().join(".taskrun").exists(),
        "one mkdir and one rmdir a task, and the run's directories tidied"
    );
    assert_eq!(
        trees(&test, 1),
        [("a".into(), "NULL".into()), ("b".into(), "NULL".into())]
    );
}

#[test]
fn a_failed_attempt_keeps_its_files_and_each_attempt_starts_empty() {
    let test = Test::new().taskfile(
        "flaky: if [ -e $TASKRUN_OUT/mark ]; then echo stale; fi; touch $TASKRUN_OUT/mark; echo half > $TASKRUN_OUT/part; exit 1 [retries:1]\n\
         after: echo \"in=${TASKRUN_IN_flaky-none}\" [after_done:flaky]\n",
    );
    let output = test
        .with_args(&[
            "run",
            "tasks.txt",
            "--output",
            "stream",
            "--retry-delay",
            "0",
        ])
        .status(1)
        .run();
    assert!(!output.stdout.contains("stale"), "{}", output.stdout);
    // A soft dependent of a failure gets nothing of it.
    assert!(
        output.stdout.contains("after | in=none"),
        "{}",
        output.stdout
    );
    // The last attempt's files stay for a look, and nothing is stored.
    assert_eq!(
        std::fs::read_to_string(test.path().join(".taskrun/out/1/flaky/part")).unwrap(),
        "half\n"
    );
    assert_eq!(
        rows(
            &test,
            "SELECT attempt, COALESCE(out_tree, 'NULL') FROM tasks WHERE name = 'flaky' ORDER BY attempt"
        ),
        [["1", "NULL"], ["2", "NULL"]]
    );
    test.with_args(&["show", "1", "--task", "flaky", "--outputs"])
        .status(2)
        .stderr_contains("it did not pass: only a pass's files are stored")
        .run();
}

/// A cacheable producer and a cacheable consumer of what it left.
const CACHED: &str = "\
make: tr a-z A-Z < src.txt > $TASKRUN_OUT/upper.txt; echo made > made.log [inputs:src.txt] [outputs:made.log]
use: cat $INPUT_FILE; cp $INPUT_FILE $TASKRUN_OUT/copy.txt [after:make] [inputs:tasks.txt]
";

#[test]
fn a_hit_restores_what_the_task_left_and_its_dependents_key_on_it() {
    let test = Test::new().taskfile(CACHED).file("src.txt", "one\n");
    let run = |status| {
        test.with_args(&["run", "tasks.txt", "--output", "stream"])
            .status(status)
            .run()
    };
    run(0);
    // Even with the run's directories gone, a hit brings them back.
    std::fs::remove_dir_all(test.path().join(".taskrun/out")).unwrap();
    let second = run(0);
    assert!(second.stdout.contains("use | ONE"), "{}", second.stdout);
    assert_eq!(
        rows(
            &test,
            "SELECT name, status FROM task_results WHERE run_id = 2 ORDER BY position"
        ),
        [["make", "cached"], ["use", "cached"]]
    );
    assert_eq!(tree_of(&test, 2, "make"), tree_of(&test, 1, "make"));
    assert_eq!(
        std::fs::read_to_string(test.path().join(".taskrun/out/2/use/copy.txt")).unwrap(),
        "ONE\n"
    );
    assert_eq!(
        std::fs::read_to_string(test.path().join(".taskrun/out/2/make/upper.txt")).unwrap(),
        "ONE\n",
        "the hit restored what make left"
    );
    assert_eq!(
        rows(
            &test,
            "SELECT COUNT(*) FROM cache_entries WHERE out_tree IS NOT NULL"
        ),
        [["2"]]
    );
    // The same output from a new input: the dependent is still up to date
    // (make declares its outputs, so what it made is all it hands on).
    std::fs::write(test.path().join("src.txt"), "ONE\n").unwrap();
    run(0);
    assert_eq!(
        crate::cache::outcomes(&test, 3),
        "make=stored use=hit",
        "what make left is the same, so use's key is"
    );
    // Different output: the dependent runs again.
    std::fs::write(test.path().join("src.txt"), "two\n").unwrap();
    let fourth = run(0);
    assert_eq!(crate::cache::outcomes(&test, 4), "make=stored use=stored");
    assert!(fourth.stdout.contains("use | TWO"), "{}", fourth.stdout);
}

#[test]
fn a_retry_restores_what_satisfied_dependencies_left() {
    let test = Test::new().taskfile(
        "fetch: cat src.txt > $TASKRUN_OUT/data.txt [inputs:src.txt]\n\
         report: test -e flag && cat $INPUT_FILE [after:fetch] [inputs:tasks.txt]\n",
    );
    let test = test.file("src.txt", "one\n");
    let run = |args: &[&str], status| streamed(&test, args, status);
    run(&["run", "tasks.txt"], 1);
    std::fs::write(test.path().join("src.txt"), "two\n").unwrap();
    run(&["run", "tasks.txt"], 1);
    std::fs::write(test.path().join("flag"), "").unwrap();
    // Each retry sees what its own run's fetch left...
    let first = run(&["retry", "1"], 0);
    assert!(first.stdout.contains("report | one"), "{}", first.stdout);
    assert!(
        test.path().join(".taskrun/out/3/fetch/data.txt").is_file(),
        "restored into the retry's own directory"
    );
    let second = run(&["retry", "2"], 0);
    // ...and a key of its own: the second is not restored from the first,
    // whose dependency left something else.
    assert!(second.stdout.contains("report | two"), "{}", second.stdout);
    assert_eq!(crate::cache::outcomes(&test, 3), "report=stored");
    assert_eq!(crate::cache::outcomes(&test, 4), "report=stored");
    // A third retry of the first run is up to date.
    std::fs::remove_file(test.path().join("flag")).unwrap();
    run(&["retry", "1"], 0);
    assert_eq!(crate::cache::outcomes(&test, 5), "report=hit");
}

#[test]
fn show_and_cat_serve_what_a_task_left_and_gc_collects_old_directories() {
    let test = Test::new().taskfile(
        "both: echo w > made.txt; mkdir -p $TASKRUN_OUT/d; echo o > $TASKRUN_OUT/d/o.txt [outputs:made.txt]\n\
         only: echo x > $TASKRUN_OUT/x.txt\n",
    );
    for _ in 0..3 {
        test.with_args(&["run", "tasks.txt"]).status(0).run();
    }
    test.with_args(&["show", "--task", "both", "--outputs"])
        .stdout(
            "In $TASKRUN_OUT:\n  d/o.txt  2 B  0644\nDeclared outputs:\n  made.txt  2 B  0644\n",
        )
        .run();
    test.with_args(&["show", "--task", "only", "--outputs"])
        .stdout("x.txt  2 B  0644\n")
        .run();
    let json = test
        .with_args(&["show", "--task", "both", "--outputs", "--json"])
        .status(0)
        .run();
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value[0]["in"], "out");
    assert_eq!(value[1]["in"], "workspace");
    test.with_args(&["cat", "1", "both", "d/o.txt"])
        .stdout("o\n")
        .run();
    test.with_args(&["cat", "1", "both", "made.txt"])
        .stdout("w\n")
        .run();
    test.with_args(&["cat", "1", "only", "y.txt"])
        .status(2)
        .stderr_contains("did you mean `x.txt`?")
        .run();
    // gc removes the directories of runs it does not keep; what a kept
    // run left is still served.
    test.with_args(&["gc", "--keep-runs", "1"])
        .status(0)
        .stdout_contains("Removed the $TASKRUN_OUT directories of 2 older runs")
        .run();
    let out = test.path().join(".taskrun/out");
    assert!(!out.join("1").exists() && !out.join("2").exists());
    assert!(out.join("3/only/x.txt").is_file());
    test.with_args(&["cat", "3", "only", "x.txt"])
        .stdout("x\n")
        .run();
}

#[test]
fn what_is_too_big_to_store_is_still_handed_on() {
    let test = Test::new().taskfile(
        "big: head -c 5000 /dev/zero > $TASKRUN_OUT/zeros\n\
         size: wc -c < $INPUT_FILE [after:big]\n",
    );
    let output = test
        .with_args(&[
            "run",
            "tasks.txt",
            "--output",
            "stream",
            "--cache-max-output",
            "1000",
        ])
        .status(0)
        .run();
    assert!(
        output
            .stderr
            .contains("big | taskrun: not stored: it left 5000 bytes in $TASKRUN_OUT, over --cache-max-output 1000"),
        "{}",
        output.stderr
    );
    assert!(output.stdout.contains("size | 5000"), "{}", output.stdout);
    assert_eq!(tree_of(&test, 1, "big"), "NULL");
}

#[test]
fn a_retry_of_a_retry_still_gets_what_the_first_run_satisfied() {
    let test = Test::new()
        .taskfile(
            "fetch: cat src.txt > $TASKRUN_OUT/data.txt [inputs:src.txt]\n\
             report: test -e flag && cat $INPUT_FILE [after:fetch] [inputs:tasks.txt]\n",
        )
        .file("src.txt", "one\n");
    let run = |args: &[&str], status| streamed(&test, args, status);
    run(&["run", "tasks.txt"], 1);
    run(&["retry", "1"], 1);
    std::fs::write(test.path().join("flag"), "").unwrap();
    // Run 2 recorded only report, and no dependency of it: fetch and what
    // it left are found in run 1.
    let third = run(&["retry", "2"], 0);
    assert!(third.stdout.contains("report | one"), "{}", third.stdout);
    assert_eq!(crate::cache::outcomes(&test, 3), "report=stored");
    // Another history of the same tasks, with different data: its retry of
    // a retry is not restored from run 3's pass.
    std::fs::write(test.path().join("src.txt"), "two\n").unwrap();
    std::fs::remove_file(test.path().join("flag")).unwrap();
    run(&["run", "tasks.txt"], 1);
    run(&["retry", "4"], 1);
    std::fs::write(test.path().join("flag"), "").unwrap();
    let sixth = run(&["retry", "5"], 0);
    assert!(sixth.stdout.contains("report | two"), "{}", sixth.stdout);
    assert_eq!(crate::cache::outcomes(&test, 6), "report=stored");
}

#[test]
fn an_evaluated_task_does_not_see_what_taskrun_inherited() {
    let test = Test::new().file(
        "tasks.toml",
        "[[task]]\nname = \"fetch\"\ncommand = \"echo x > $TASKRUN_OUT/x\"\n\n\
         [[task]]\nname = \"look\"\nkind = \"eval\"\nafter = [\"fetch\"]\n\
         eval = '''print(`dir=${env_var(\"INPUT_DIR\") != ()} other=${env_var(\"INPUT_FILE\") != ()} stale=${env_var(\"TASKRUN_IN_old\")}`)'''\n",
    );
    let output = test
        .with_args(&["run", "tasks.toml", "--output", "stream"])
        .env("TASKRUN_IN_old", "/somewhere")
        .env("INPUT_FILE", "/outer/file")
        .status(0)
        .run();
    // INPUT_DIR and INPUT_FILE are fetch's; the inherited TASKRUN_IN_old
    // is not seen.
    assert!(
        output
            .stdout
            .contains("look | dir=true other=true stale=\n"),
        "{}",
        output.stdout
    );
}

#[test]
fn a_store_that_cannot_be_made_leaves_tasks_running_without_a_directory() {
    let test = Test::new()
        .taskfile("a: echo \"out=${TASKRUN_OUT-none}\"\n")
        .file("not-a-dir", "");
    let output = test
        .with_args(&[
            "run",
            "tasks.txt",
            "--output",
            "stream",
            "--store",
            "not-a-dir",
        ])
        .status(0)
        .run();
    assert!(output.stdout.contains("a | out=none"), "{}", output.stdout);
    assert!(
        output
            .stderr
            .contains("a | taskrun: no $TASKRUN_OUT: cannot make"),
        "{}",
        output.stderr
    );
}

#[test]
fn gc_deletes_the_trees_of_runs_it_does_not_keep() {
    let test = Test::new().taskfile("only: echo $RANDOM$$ > $TASKRUN_OUT/x.txt\n");
    for _ in 0..2 {
        test.with_args(&["run", "tasks.txt"]).status(0).run();
    }
    let (first, second) = (tree_of(&test, 1, "only"), tree_of(&test, 2, "only"));
    assert_ne!(first, second);
    let object = |tree: &str| {
        test.path()
            .join(".taskrun/objects")
            .join(&tree[..2])
            .join(&tree[2..4])
            .join(&tree[4..])
    };
    // Past the grace period.
    for entry in walk(&test.path().join(".taskrun/objects")) {
        std::fs::File::open(&entry)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
            .unwrap();
    }
    test.with_args(&["gc", "--keep-runs", "1"]).status(0).run();
    assert!(!object(&first).exists(), "run 1's tree is collected");
    assert!(object(&second).exists(), "the kept run's stays");
    test.with_args(&["cat", "1", "only", "x.txt"])
        .status(2)
        .stderr_contains("no longer")
        .run();
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn a_retried_task_keeps_its_directory_while_others_reuse_empty_ones() {
    // `a` fails at once leaving nothing, and runs again 0.6 s later;
    // meanwhile `d` and `e` end leaving nothing, and `c` starts while the
    // retry runs. No task's directory may be handed to another.
    let test = Test::new().taskfile(
        "a: if [ -e marker ]; then sleep 1.5; echo hi > $TASKRUN_OUT/a.txt; else touch marker; exit 1; fi [retries:1]\n\
         d: sleep 0.1\n\
         e: sleep 0.9; echo e > $TASKRUN_OUT/e\n\
         c: sleep 1.5; ls $TASKRUN_OUT [after:e]\n",
    );
    let output = test
        .with_args(&["run", "tasks.txt", "--jobs", "4", "--retry-delay", "0.6"])
        .run();
    assert_eq!(output.status, 0, "{}{}", output.stdout, output.stderr);
    assert_eq!(
        std::fs::read_to_string(test.path().join(".taskrun/out/1/a/a.txt")).unwrap(),
        "hi\n"
    );
}

#[test]
fn two_histories_beside_one_another_keep_their_directories_apart() {
    let test = Test::new().taskfile("t: echo $TASKRUN_OUT > $TASKRUN_OUT/where\n");
    for db in ["b.db", "a.db", "a.db"] {
        test.with_args(&["run", "tasks.txt", "--db", db])
            .status(0)
            .run();
    }
    let dirs = |db: &str| -> Vec<std::path::PathBuf> {
        walk(&test.path().join(".taskrun/out"))
            .into_iter()
            .filter(|path| path.to_string_lossy().contains(&format!("/{db}-")))
            .collect()
    };
    assert_eq!(dirs("b.db").len(), 1, "b.db's run 1 is not a.db's");
    assert_eq!(dirs("a.db").len(), 2);
    test.with_args(&["gc", "--db", "a.db", "--keep-runs", "1"])
        .status(0)
        .stdout_contains("Removed the $TASKRUN_OUT directories of 1 older run")
        .run();
    assert_eq!(dirs("a.db").len(), 1);
    assert_eq!(dirs("b.db").len(), 1, "a.db's gc leaves b.db's alone");
}

#[test]
fn a_retry_whose_first_run_was_pruned_is_neither_restored_nor_stored() {
    let test = Test::new()
        .taskfile(
            "fetch: cat src.txt > $TASKRUN_OUT/data.txt [inputs:src.txt]\n\
             report: test -e flag && cat ${INPUT_FILE-/dev/null} [after:fetch] [inputs:tasks.txt]\n",
        )
        .file("src.txt", "one\n");
    streamed(&test, &["run", "tasks.txt"], 1);
    streamed(&test, &["retry", "1"], 1);
    test.with_args(&["prune", "--keep", "1"]).status(0).run();
    std::fs::write(test.path().join("flag"), "").unwrap();
    let output = streamed(&test, &["retry", "2"], 0);
    assert!(
        output
            .stderr
            .contains("run #1, which run #2 retried, is no longer recorded"),
        "{}",
        output.stderr
    );
    assert_eq!(
        rows(
            &test,
            "SELECT c.outcome, c.reason FROM task_cache AS c JOIN tasks AS t ON t.id = c.task_id
             WHERE t.run_id = 3"
        ),
        [[
            "not_stored",
            "its dependency of pruned run #1 declares no outputs, so what it made is unknown"
        ]]
    );
}

#[test]
fn the_events_say_what_each_task_left() {
    let test = Test::new().taskfile(PIPELINE);
    test.with_args(&["run", "tasks.txt", "--events", "events.jsonl"])
        .status(0)
        .run();
    let events = std::fs::read_to_string(test.path().join("events.jsonl")).unwrap();
    let finished: Vec<serde_json::Value> = events
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|event: &serde_json::Value| event["event"] == "task_finished")
        .collect();
    let of = |task: &str| finished.iter().find(|event| event["task"] == task).unwrap();
    let fetch = &of("fetch")["out"];
    assert!(
        fetch["dir"]
            .as_str()
            .unwrap()
            .ends_with("/.taskrun/out/1/fetch"),
        "{fetch}"
    );
    assert_eq!(
        (fetch["files"].as_u64(), fetch["bytes"].as_u64()),
        (Some(1), Some(6))
    );
    assert_eq!(
        fetch["tree"].as_str(),
        Some(tree_of(&test, 1, "fetch").as_str())
    );
    assert!(of("quiet").get("out").is_none(), "it left nothing");
}
