//! `taskrun gc`: which cache entries stay, which objects go (only once
//! nothing names them and they are older than the grace period), that a
//! dry run changes nothing, `--max-size`, and the store's lock. Every case
//! checks the rows in the history and the files in the store.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use sha2::Digest as _;

use crate::cache::{outcomes, rows};
use crate::harness::Test;

fn sql(test: &Test, statement: &str) {
    rusqlite::Connection::open(test.path().join("taskrun.db"))
        .unwrap()
        .execute_batch(statement)
        .unwrap();
}

/// The command of each stored entry, by task: `b=echo hi > out`.
fn entries(test: &Test) -> Vec<String> {
    rows(
        test,
        "SELECT e.task_name, t.command FROM cache_entries AS e
         JOIN tasks AS t ON t.id = e.producer_task_id ORDER BY e.task_name, t.command",
    )
    .iter()
    .map(|row| format!("{}={}", row[0], row[1]))
    .collect()
}

/// Writes `tasks.txt` as `text` and runs it.
fn run(test: &Test, tasks: &str) {
    std::fs::write(test.path().join("tasks.txt"), tasks).unwrap();
    test.with_args(&["run", "tasks.txt"]).status(0).run();
}

/// `taskrun gc ARGS`, expected to end with status 0.
fn gc(test: &Test, args: &[&str]) -> Test {
    let mut all = vec!["gc"];
    all.extend_from_slice(args);
    test.with_args(&all).status(0)
}

/// Where the store keeps an object of content `bytes`.
fn object(test: &Test, bytes: &[u8]) -> PathBuf {
    let digest = hex(&sha2::Sha256::digest(bytes));
    test.path()
        .join(".taskrun/objects")
        .join(&digest[..2])
        .join(&digest[2..4])
        .join(&digest[4..])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Every file under `dir`, relative, with its size and mtime, sorted.
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                files.push((
                    entry.path().strip_prefix(dir).unwrap().to_owned(),
                    meta.len(),
                    meta.modified().unwrap(),
                ));
            }
        }
    }
    files.sort();
    files
}

/// Sets the mtime of every file in the store two hours back, past the
/// grace period. Objects are read-only; their owner may still set their
/// times through a descriptor opened for reading.
fn age_store(test: &Test) {
    let root = test.path().join(".taskrun");
    for (path, _, _) in snapshot(&root) {
        std::fs::File::open(root.join(path))
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(2 * 3600))
            .unwrap();
    }
}

const HI: &str = "b: echo hi > out [outputs:out]\n";
const HO: &str = "b: echo ho > out [outputs:out]\n";

#[test]
fn what_the_last_runs_used_stays_and_still_hits() {
    let test = Test::new();
    run(&test, HI);
    run(&test, HI);
    age_store(&test);
    let before = snapshot(&test.path().join(".taskrun/objects"));
    gc(&test, &[])
        .stdout("Nothing to collect: 1 cache entry kept; the store holds 3 objects (198 B).\n")
        .run();
    assert_eq!(snapshot(&test.path().join(".taskrun/objects")), before);
    std::fs::remove_file(test.path().join("out")).unwrap();
    run(&test, HI);
    assert_eq!(outcomes(&test, 3), "b=hit");
    assert_eq!(
        std::fs::read_to_string(test.path().join("out")).unwrap(),
        "hi\n"
    );
}

#[test]
fn with_no_runs_and_no_age_kept_only_each_tasks_newest_entry_stays() {
    let test = Test::new();
    run(&test, &format!("{HI}c: echo c > c [outputs:c]\n"));
    run(&test, &format!("{HO}c: echo c > c [outputs:c]\n"));
    assert_eq!(
        entries(&test),
        ["b=echo hi > out", "b=echo ho > out", "c=echo c > c"]
    );
    gc(&test, &["--keep-runs", "0", "--max-age", "0s"])
        .stdout("Removed 1 cache entry and 0 objects (0 B); the store holds 9 objects (586 B).\n")
        .run();
    assert_eq!(entries(&test), ["b=echo ho > out", "c=echo c > c"]);
    // What the cache did for each attempt is still recorded.
    assert_eq!(outcomes(&test, 1), "b=stored c=stored");
}

#[test]
fn an_unused_entrys_objects_go_once_older_than_the_grace_period() {
    let test = Test::new();
    run(&test, HI);
    run(&test, HO);
    let (hi, ho) = (object(&test, b"hi\n"), object(&test, b"ho\n"));
    assert!(hi.is_file() && ho.is_file());
    // Run 1's entry goes at once; its objects are too new to.
    gc(&test, &["--keep-runs", "1", "--max-age", "0s"])
        .stdout("Removed 1 cache entry and 0 objects (0 B); the store holds 6 objects (396 B).\n")
        .run();
    assert_eq!(entries(&test), ["b=echo ho > out"]);
    assert!(hi.is_file());
    age_store(&test);
    // An object nothing names yet, as a run that has not committed its
    // rows leaves it: new, so it stays.
    let fresh = object(&test, b"not yet committed");
    std::fs::create_dir_all(fresh.parent().unwrap()).unwrap();
    std::fs::write(&fresh, "not yet committed").unwrap();
    // And a staging file an interrupted run left behind.
    std::fs::write(test.path().join(".taskrun/tmp/object-left"), "x").unwrap();
    std::fs::File::open(test.path().join(".taskrun/tmp/object-left"))
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();
    gc(&test, &["--keep-runs", "1", "--max-age", "0s"])
        .stdout(
            "Removed 0 cache entries and 2 objects (99 B); the store holds 5 objects (314 B).\n\
         Removed 1 temporary file (1 B) left in `tmp/` by interrupted runs.\n",
        )
        .run();
    assert!(!hi.exists(), "run 1's output file went");
    assert!(ho.is_file() && fresh.is_file());
    assert!(!test.path().join(".taskrun/tmp/object-left").exists());
    // Both runs' key manifests stay, so `show --why` still explains run 1.
    for key in rows(&test, "SELECT cache_key FROM task_cache") {
        let path = test
            .path()
            .join(".taskrun/objects")
            .join(&key[0][..2])
            .join(&key[0][2..4])
            .join(&key[0][4..]);
        assert!(path.is_file(), "{}", path.display());
    }
    // No shard directory is left empty.
    let objects = test.path().join(".taskrun/objects");
    for shard in std::fs::read_dir(&objects).unwrap() {
        let shard = shard.unwrap().path();
        assert!(
            std::fs::read_dir(&shard).unwrap().next().is_some(),
            "{}",
            shard.display()
        );
    }
    // The kept entry still serves.
    run(&test, HO);
    assert_eq!(outcomes(&test, 3), "b=hit");
}

#[test]
fn a_dry_run_removes_nothing() {
    let test = Test::new();
    run(&test, HI);
    run(&test, HO);
    age_store(&test);
    let before = snapshot(&test.path().join(".taskrun"));
    let output = gc(&test, &["--keep-runs", "0", "--max-age", "0s", "--dry-run"]).run();
    assert!(
        output
            .stdout
            .starts_with("Would remove 1 cache entry:\n  b (stored by run #1, last used "),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.ends_with(
            "): not used recently\n\
         Would remove 1 cache entry and 2 objects (99 B); the store would hold 4 objects (297 B).\n"
        ),
        "{}",
        output.stdout
    );
    assert_eq!(snapshot(&test.path().join(".taskrun")), before);
    assert_eq!(entries(&test), ["b=echo hi > out", "b=echo ho > out"]);
    let json = gc(
        &test,
        &["--keep-runs", "0", "--max-age", "0s", "--dry-run", "--json"],
    )
    .run();
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["dry_run"], true);
    assert_eq!(value["removed"]["entries"][0]["task"], "b");
    assert_eq!(value["removed"]["objects"], 2);
    assert_eq!(snapshot(&test.path().join(".taskrun")), before);
}

#[test]
fn over_max_size_the_least_recently_used_entry_goes_first() {
    let test = Test::new();
    let three = "a: printf aaaa > a [outputs:a]\n\
                 b: printf bbbb > b [outputs:b]\n\
                 c: printf cccc > c [outputs:c]\n";
    run(&test, three);
    // The last run uses only c; a was used longest ago.
    run(&test, "c: printf cccc > c [outputs:c]\n");
    sql(
        &test,
        "UPDATE cache_entries SET created_at = created_at - 200 WHERE task_name = 'a';
         UPDATE cache_entries SET created_at = created_at - 100 WHERE task_name = 'b';",
    );
    age_store(&test);
    let all: u64 = snapshot(&test.path().join(".taskrun/objects"))
        .iter()
        .map(|(_, size, _)| size)
        .sum();
    let a_file = object(&test, b"aaaa");
    let a_tree = rows(
        &test,
        "SELECT outputs FROM cache_entries WHERE task_name = 'a'",
    );
    let a_tree = object_of(&test, &a_tree[0][0]);
    let a_bytes = 4 + std::fs::metadata(&a_tree).unwrap().len();
    let limit = (all - a_bytes).to_string();
    gc(&test, &["--max-size", &limit])
        .stdout_contains("Removed 1 cache entry and 2 objects")
        .run();
    assert_eq!(
        rows(
            &test,
            "SELECT task_name FROM cache_entries ORDER BY task_name"
        ),
        [["b"], ["c"]]
    );
    assert!(!a_file.exists() && !a_tree.exists());
    // Nothing fits in one byte, and what the last run used stays.
    gc(&test, &["--max-size", "1"]).stdout_contains(
        "The store is still over --max-size 1 B: kept are 1 cache entry the last run used, the key manifests of recorded runs.\n",
    ).run();
    assert_eq!(rows(&test, "SELECT task_name FROM cache_entries"), [["c"]]);
    assert!(object(&test, b"cccc").is_file());
    assert!(!object(&test, b"bbbb").exists());
}

fn object_of(test: &Test, digest: &str) -> PathBuf {
    test.path()
        .join(".taskrun/objects")
        .join(&digest[..2])
        .join(&digest[2..4])
        .join(&digest[4..])
}

#[test]
fn gc_waits_while_a_run_holds_the_store_shared() {
    let test = Test::new();
    run(&test, HI);
    // `flock -s` stands for a run that is storing: it holds the lock
    // until its standard input is closed.
    let mut holder = Command::new("flock")
        .arg("-s")
        .arg(test.path().join(".taskrun/gc.lock"))
        .args(["-c", "echo locked && read line"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut locked = String::new();
    BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut locked)
        .unwrap();
    assert_eq!(locked, "locked\n");
    let mut collection = test.with_args(&["gc"]).spawn();
    let mut stderr = BufReader::new(collection.stderr.take().unwrap());
    let mut waiting = String::new();
    stderr.read_line(&mut waiting).unwrap();
    assert!(
        waiting.starts_with("waiting for another taskrun to finish storing in `"),
        "{waiting}"
    );
    assert!(collection.try_wait().unwrap().is_none(), "it waits");
    holder.stdin.take().unwrap().write_all(b"\n").unwrap();
    assert!(holder.wait().unwrap().success());
    let output = collection.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "Nothing to collect: 1 cache entry kept; the store holds 3 objects (198 B).\n"
    );
}

#[test]
fn without_a_database_there_is_nothing_to_collect() {
    let test = Test::new();
    gc(&test, &[])
        .stdout("No runs recorded yet: `taskrun.db` does not exist; nothing to collect.\n")
        .run();
    assert!(!test.path().join(".taskrun").exists());
}
