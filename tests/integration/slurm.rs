//! `--executor slurm` against a real cluster: `.ci/slurm.sh start` runs a
//! single-node one, and CI sets `TASKRUN_REQUIRE_SLURM=1` so that these
//! tests fail rather than skip there. Elsewhere, without a cluster that
//! answers, they say `skipped:` and pass.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Test, assert_contains, wait_for_processes};

/// Whether a Slurm controller answers; skips (or, in CI, fails) if not.
pub(crate) fn cluster() -> bool {
    let up = Command::new("scontrol")
        .arg("ping")
        .output()
        .is_ok_and(|ping| String::from_utf8_lossy(&ping.stdout).contains("is UP"));
    if !up {
        assert!(
            std::env::var_os("TASKRUN_REQUIRE_SLURM").is_none(),
            "TASKRUN_REQUIRE_SLURM is set but no Slurm controller answers \
             (is SLURM_CONF exported? `.ci/slurm.sh start` prints it)"
        );
        eprintln!("skipped: no Slurm cluster answers (start one with `.ci/slurm.sh start`)");
    }
    up
}

/// The jobs of `ids` that Slurm still has queued or running.
pub(crate) fn still_queued(ids: &[String]) -> String {
    let output = Command::new("squeue")
        .args(["--noheader", "--format=%i", "--jobs", &ids.join(",")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `show --json` of the latest run: each task's name, status and job id.
pub(crate) fn tasks(test: &Test) -> Vec<Value> {
    let shown = test.exec(&["show", "--json"]);
    let run: Value = serde_json::from_str(&shown.stdout).unwrap();
    run["tasks"].as_array().unwrap().clone()
}

/// The task that `show … --task NAME --json` (`args`) shows.
pub(crate) fn shown_task(test: &Test, args: &[&str]) -> Value {
    let shown: Value = serde_json::from_str(&test.exec(args).stdout).unwrap();
    shown["task"].clone()
}

/// The Slurm job ids of the latest run's tasks, as `show` has them.
pub(crate) fn job_ids(test: &Test) -> Vec<String> {
    tasks(test)
        .iter()
        .filter_map(|task| {
            let name = task["name"].as_str()?;
            let shown = test.exec(&["show", "--task", name, "--json"]);
            let shown: Value = serde_json::from_str(&shown.stdout).ok()?;
            shown["task"]["job_id"].as_str().map(str::to_owned)
        })
        .collect()
}

/// `taskrun run tasks.txt --executor slurm` with `key` set to `value`,
/// which must be refused with status 2; what it printed to stderr.
fn refused(test: &Test, key: &str, value: impl AsRef<std::ffi::OsStr>) -> String {
    test.with_args(&["run", "tasks.txt", "--executor", "slurm"])
        .env(key, value)
        .status(2)
        .run()
        .stderr
}

#[test]
fn tasks_run_as_job_steps_with_their_exit_codes_and_output() {
    if !cluster() {
        return;
    }
    let test = Test::new()
        .taskfile(
            "hello: echo \"out $X in $(basename $PWD)\"; echo warning >&2 [env:X=42] [dir:sub]\n\
             fails: echo about to fail; echo why >&2; exit 3 [after:hello]\n\
             never: true [after:fails]\n\
             cleanup: echo cleaning [after_done:fails] [cpus:1] [mem:64M]\n",
        )
        .file("sub/keep", "");
    test.with_args(&["run", "tasks.txt", "--executor", "slurm", "--jobs", "2"])
        .status(1)
        .stdout_contains("Run completed: 2 passed, 1 failed, 1 skipped")
        .run();
    test.with_args(&["show", "--task", "hello"])
        .stdout_contains("--- stdout ---\nout 42 in sub\n")
        .stdout_contains("--- stderr ---\nwarning\n")
        .stdout_contains("Slurm job: ")
        .run();
    // The task's own exit status, and its stderr without Slurm's lines.
    let fails = shown_task(&test, &["show", "--task", "fails", "--json"]);
    assert_eq!(fails["exit_code"], 3, "{fails}");
    assert_eq!(fails["stderr"], "why\n", "{fails}");
    assert_eq!(fails["stdout"], "about to fail\n", "{fails}");
    let ids = job_ids(&test);
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(still_queued(&ids), "");
    // `retry` runs what did not pass on the cluster again.
    test.with_args(&["retry", "1", "--executor", "slurm"])
        .status(1)
        .stdout_contains("Retrying 2 failed tasks from run #1...")
        .run();
    let again = shown_task(&test, &["show", "2", "--task", "fails", "--json"]);
    assert_eq!(again["exit_code"], 3, "{again}");
    assert!(again["job_id"].is_string(), "{again}");
}

#[test]
fn a_job_slurm_cannot_run_fails_with_slurms_reason() {
    if !cluster() {
        return;
    }
    let test = Test::new().taskfile("huge: touch ran [mem:100000G]\n");
    test.with_args(&["run", "tasks.txt", "--executor", "slurm"])
        .status(1)
        .stdout_contains("huge: touch ran")
        .stdout_contains("Slurm did not run the job: error: ")
        .run();
    assert!(!test.path().join("ran").exists());
    let task = shown_task(&test, &["show", "--task", "huge", "--json"]);
    assert_eq!(task["status"], "failed");
    assert!(task["exit_code"].is_null(), "{task}");
    assert!(
        task["reason"]
            .as_str()
            .unwrap()
            .starts_with("Slurm did not run the job")
    );
}

#[test]
fn timeouts_are_enforced_to_the_second_and_cancel_the_job() {
    if !cluster() {
        return;
    }
    let test = Test::new().taskfile("slow: sleep 600 [timeout:1s]\nnext: true [after:slow]\n");
    let start = Instant::now();
    test.with_args(&["run", "tasks.txt", "--executor", "slurm"])
        .status(1)
        .stdout_contains("TIMEOUT")
        .stdout_lacks("slurmstepd")
        .run();
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    let ids = job_ids(&test);
    assert_eq!(ids.len(), 1);
    let gone = Instant::now();
    while !still_queued(&ids).is_empty() && gone.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(still_queued(&ids), "");
}

#[test]
fn ctrl_c_cancels_every_job_of_the_run() {
    if !cluster() {
        return;
    }
    let test = Test::new().taskfile("a: sleep 968.3\nb: sleep 968.3\nc: true [after:a]\n");
    let test = test
        .args(&["run", "tasks.txt", "--executor", "slurm", "--jobs", "2"])
        .status(130)
        .stdout_contains("2 canceled");
    let child = test.spawn();
    // Both steps run on this machine, the node of the test cluster.
    wait_for_processes(&["sleep", "968.3"], 2, Duration::from_secs(30));
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) only sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    test.wait(child);
    let ids = job_ids(&test);
    assert_eq!(ids.len(), 2, "{ids:?}");
    let gone = Instant::now();
    while !still_queued(&ids).is_empty() && gone.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(still_queued(&ids), "");
    assert_eq!(
        crate::harness::wait_until_gone("968.3", Duration::from_secs(10)),
        Vec::<String>::new()
    );
}

#[test]
fn an_unknown_partition_stops_the_run_before_any_task() {
    if !cluster() {
        return;
    }
    let test = Test::new().taskfile("a: touch ran\n");
    test.with_args(&[
        "run",
        "tasks.txt",
        "--executor",
        "slurm",
        "--partition",
        "nope",
    ])
    .status(2)
    .stderr_contains("run::slurm_unavailable")
    .stderr_contains("Slurm has no partition `nope`")
    .run();
    assert!(!test.path().join("ran").exists());
    assert!(!test.path().join("taskrun.db").exists());
}

/// Runs everywhere: no cluster is needed to find that there is none.
#[test]
fn without_srun_the_run_stops_before_any_task() {
    let test = Test::new().taskfile("a: touch ran\n");
    let stderr = refused(&test, "PATH", test.path());
    assert_contains(&stderr, "run::slurm_unavailable");
    assert_contains(&stderr, "cannot run `srun`");
    assert!(!test.path().join("ran").exists());
}

/// `executor("slurm")` in the script sends the tasks to the cluster;
/// `--executor local` on the command line wins over it.
#[test]
fn the_script_can_choose_slurm_and_the_command_line_wins() {
    if !cluster() {
        return;
    }
    let test = Test::new().file(
        "Taskfile.rhai",
        "executor(\"slurm\");\npartition(\"debug\");\ntask(\"where\", \"echo job=$SLURM_JOB_ID\");\n",
    );
    test.with_args(&["run", "Taskfile.rhai"]).status(0).run();
    test.with_args(&["show", "--task", "where"])
        .stdout_contains("Slurm job: ")
        .stdout_lacks("job=\n")
        .run();
    test.with_args(&["run", "Taskfile.rhai", "--executor", "local"])
        .status(0)
        .run();
    test.with_args(&["show", "--task", "where"])
        .stdout_contains("job=\n")
        .stdout_lacks("Slurm job")
        .run();
    if let Ok(rows) = Command::new("sqlite3")
        .arg(test.path().join("taskrun.db"))
        .arg("SELECT executor FROM runs ORDER BY id")
        .output()
    {
        assert_eq!(String::from_utf8_lossy(&rows.stdout), "slurm\nlocal\n");
    }
}

/// The library runs on Slurm too, with the same results.
#[test]
fn the_library_runs_on_slurm() {
    if !cluster() {
        return;
    }
    let tasks = taskrun::Tasks::parse("a: echo from-a\nb: exit 4 [after:a]\n").unwrap();
    let mut ends = Vec::new();
    let summary = taskrun::Runner::new()
        .slurm(taskrun::SlurmOptions::default())
        .run(&tasks, |event| {
            if let taskrun::Event::TaskFinished { task, result } = event {
                ends.push((
                    tasks.name(*task).to_owned(),
                    format!("{:?}", result.exit),
                    result.slurm.is_some(),
                    result.stdout.text().into_owned(),
                ));
            }
        })
        .unwrap();
    assert_eq!(summary.counts.failed, 1);
    assert_eq!(
        ends,
        [
            (
                "a".to_owned(),
                "Code(0)".to_owned(),
                true,
                "from-a\n".to_owned()
            ),
            ("b".to_owned(), "Code(4)".to_owned(), true, String::new()),
        ]
    );
}

/// A controller that does not answer: said before any task, at once.
/// Needs Slurm's client commands, not a cluster.
#[test]
fn a_controller_that_does_not_answer_stops_the_run_before_any_task() {
    if Command::new("scontrol").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("TASKRUN_REQUIRE_SLURM").is_none(),
            "TASKRUN_REQUIRE_SLURM is set but scontrol is not installed"
        );
        eprintln!("skipped: Slurm's client commands are not installed");
        return;
    }
    // Nothing listens on port 9 (discard) here.
    let test = Test::new().taskfile("a: touch ran\n").file(
        "slurm.conf",
        "ClusterName=nowhere\nSlurmctldHost=localhost(127.0.0.1)\nSlurmctldPort=9\n\
         NodeName=localhost CPUs=1\nPartitionName=debug Nodes=ALL Default=YES\n",
    );
    let start = Instant::now();
    let stderr = refused(&test, "SLURM_CONF", test.path().join("slurm.conf"));
    assert_contains(&stderr, "run::slurm_unavailable");
    assert_contains(&stderr, "the Slurm controller does not answer");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    assert!(!test.path().join("ran").exists());
    assert!(!test.path().join("taskrun.db").exists());
}

/// `SLURM_CONF` naming no file: said at once (Slurm's own clients would
/// retry it for a minute). Runs everywhere.
#[test]
fn a_missing_slurm_conf_stops_the_run_at_once() {
    let test = Test::new().taskfile("a: touch ran\n");
    let start = Instant::now();
    let stderr = refused(&test, "SLURM_CONF", test.path().join("no-such.conf"));
    assert_contains(&stderr, "SLURM_CONF names");
    assert_contains(&stderr, "which is not a file");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(!test.path().join("ran").exists());
}
