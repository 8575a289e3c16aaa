//! `--slurm-mode steps` against the real cluster that `.ci/slurm.sh start`
//! runs: one allocation per run, each task a job step inside it. Every
//! test checks that the run leaves nothing in `squeue`. Without a cluster
//! that answers they say `skipped:` (CI fails them instead).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{Test, assert_contains, wait_for_processes, wait_until_gone};
use crate::slurm::{cluster, shown_task, still_queued, tasks};

/// `run FILE --executor slurm --slurm-mode steps` with `extra` arguments.
fn steps_args<'a>(file: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", file, "--executor", "slurm", "--slurm-mode", "steps"];
    args.extend_from_slice(extra);
    args
}

/// `run tasks.txt` on the cluster in steps mode, with `extra` arguments;
/// an allocation that the busy test cluster cannot grant within two
/// minutes fails the test plainly.
fn steps(test: &Test, extra: &[&str]) -> Test {
    let mut args = vec!["--slurm-wait", "120"];
    args.extend_from_slice(extra);
    test.with_args(&steps_args("tasks.txt", &args))
}

/// Sends `signal` to a `spawn`ed taskrun.
fn send(child: &std::process::Child, signal: i32) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) only sends a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

/// Waits (up to 10 s) until no process has `marker` in its command line.
#[track_caller]
fn assert_no_process(marker: &str) {
    assert_eq!(
        wait_until_gone(marker, Duration::from_secs(10)),
        Vec::<String>::new()
    );
}

/// Waits (up to 20 s) until Slurm has none of `ids` queued or running.
#[track_caller]
fn assert_gone(ids: &[String]) {
    let start = Instant::now();
    while !still_queued(ids).is_empty() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(still_queued(ids), "", "left in squeue");
}

/// This user's allocations held for taskrun runs: id, name, time limit.
fn holders() -> Vec<(String, String, String)> {
    let output = Command::new("squeue")
        .args(["--me", "--noheader", "--format=%i|%j|%l"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('|');
            Some((
                fields.next()?.to_owned(),
                fields.next()?.to_owned(),
                fields.next()?.to_owned(),
            ))
        })
        .filter(|(_, name, _)| name.starts_with("taskrun-hold-"))
        .collect()
}

/// The allocation that the taskrun process `pid` holds: waits (up to
/// 30 s) for it; its name ends with the process id and start time.
fn holder_of(pid: u32) -> (String, String, String) {
    let start = Instant::now();
    loop {
        if let Some(found) = holders()
            .into_iter()
            .find(|held| held.1.contains(&format!("-{pid}-")))
        {
            return found;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no allocation");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The job, step and node of a task as `show --json` has them.
fn place(test: &Test, args: &[&str]) -> (String, i64, String) {
    let task = shown_task(test, args);
    (
        task["job_id"].as_str().unwrap().to_owned(),
        task["step_id"].as_i64().unwrap(),
        task["node"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn a_run_is_one_allocation_and_each_task_a_step_in_it() {
    if !cluster() {
        return;
    }
    let test = Test::new()
        .taskfile(
            "pool one 1\n\
             hello: echo \"out $X in $(basename $PWD)\"; echo warning >&2 [env:X=42] [dir:sub]\n\
             fails: echo about to fail; echo why >&2; exit 3 [after:hello]\n\
             never: true [after:fails]\n\
             cleanup: echo cleaning [after_done:fails] [cpus:1] [mem:64M]\n\
             flaky: test -e tried && echo second || { touch tried; exit 1; } [retries:1]\n\
             big: head -c 5000 /dev/zero | tr '\\0' x [pool:one]\n\
             small: echo small [pool:one]\n",
        )
        .file("sub/keep", "");
    // More slots than the single node has CPUs: the allocation holds what
    // it can, and the run says so and runs no more at once.
    let output = steps(
        &test,
        &[
            "--jobs",
            "1000",
            "--retry-delay",
            "0.1",
            "--max-output",
            "1K",
        ],
    )
    .status(1)
    .stdout_contains("Run completed: 5 passed, 1 failed, 1 skipped")
    .stdout_contains("of the 1000 asked for: the partition has ")
    .run();
    let granted = output
        .stdout
        .lines()
        .find(|line| line.starts_with("Slurm allocation "))
        .unwrap();
    let slots = granted
        .split(": ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert_contains(
        &output.stdout,
        &format!("Running with max {slots} concurrent task"),
    );
    // Every task that ran is a step of one job, each its own step.
    let (job, _, node) = place(&test, &["show", "--task", "hello", "--json"]);
    assert!(!node.is_empty());
    let mut steps_seen = Vec::new();
    for task in tasks(&test) {
        let name = task["name"].as_str().unwrap();
        if name == "never" {
            continue;
        }
        let (job_of, step, _) = place(&test, &["show", "--task", name, "--json"]);
        assert_eq!(job_of, job, "{name}");
        steps_seen.push(step);
    }
    steps_seen.sort_unstable();
    steps_seen.dedup();
    assert_eq!(steps_seen.len(), 6, "{steps_seen:?}");
    test.with_args(&["show", "--task", "hello"])
        .stdout_contains("--- stdout ---\nout 42 in sub\n")
        .stdout_contains("--- stderr ---\nwarning\n")
        .stdout_contains(&format!("Slurm job: {job}, step "))
        .stdout_contains(&format!(", on {node}\n"))
        .run();
    let fails = shown_task(&test, &["show", "--task", "fails", "--json"]);
    assert_eq!(fails["exit_code"], 3, "{fails}");
    assert_eq!(fails["stderr"], "why\n", "{fails}");
    let flaky = shown_task(&test, &["show", "--task", "flaky", "--json"]);
    assert_eq!(
        (&flaky["attempt"], &flaky["status"]),
        (&2.into(), &"passed".into())
    );
    let big = shown_task(&test, &["show", "--task", "big", "--json"]);
    assert_eq!(
        (&big["stdout_bytes"], &big["stdout_truncated"]),
        (&5000.into(), &true.into())
    );
    assert_gone(std::slice::from_ref(&job));
    // `retry` goes to the cluster the same way, in an allocation of its own.
    test.with_args(&["retry", "1", "--executor", "slurm", "--slurm-mode", "steps"])
        .status(1)
        .stdout_contains("Retrying 2 failed tasks from run #1...")
        .run();
    let (again, _, _) = place(&test, &["show", "2", "--task", "fails", "--json"]);
    assert_ne!(again, job);
    assert_gone(&[job, again]);
}

#[test]
fn a_timeout_ends_the_step_and_the_allocation_stays_for_the_rest() {
    if !cluster() {
        return;
    }
    let test = Test::new()
        .taskfile("slow: sleep 977.1 [timeout:1s]\nnext: echo after [after_done:slow]\n");
    let start = Instant::now();
    steps(&test, &["--jobs", "1"])
        .status(1)
        .stdout_contains("TIMEOUT")
        .stdout_lacks("slurmstepd")
        .run();
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    let (slow, slow_step, _) = place(&test, &["show", "--task", "slow", "--json"]);
    let (next, next_step, _) = place(&test, &["show", "--task", "next", "--json"]);
    assert_eq!(slow, next, "the next task ran in the same allocation");
    assert_ne!(slow_step, next_step);
    assert_eq!(
        shown_task(&test, &["show", "--task", "next", "--json"])["stdout"],
        "after\n"
    );
    assert_gone(&[slow]);
    assert_no_process("977.1");
}

#[test]
fn ctrl_c_cancels_every_step_and_the_allocation() {
    if !cluster() {
        return;
    }
    let test = Test::new().taskfile("a: sleep 977.2\nb: sleep 977.2\nc: true [after:a]\n");
    let test = steps(&test, &["--jobs", "2"])
        .status(130)
        .stdout_contains("canceled");
    let child = test.spawn();
    wait_for_processes(&["sleep", "977.2"], 1, Duration::from_secs(30));
    let (id, _, _) = holder_of(child.id());
    send(&child, libc::SIGINT);
    test.wait(child);
    assert_gone(&[id]);
    assert_no_process("977.2");
}

#[test]
fn a_step_that_cannot_launch_fails_with_slurms_reason_and_the_rest_run() {
    if !cluster() {
        return;
    }
    // No node has 4096 CPUs: the allocation holds the largest it can, and
    // the step that asks for more fails to launch.
    let test = Test::new().taskfile("wide: touch ran [cpus:4096]\nfine: echo fine\n");
    steps(&test, &["--jobs", "1"])
        .status(1)
        .stdout_contains("Slurm did not run the job: error: ")
        .stdout_contains("Run completed: 1 passed, 1 failed, 0 skipped")
        .run();
    assert!(!test.path().join("ran").exists());
    let wide = shown_task(&test, &["show", "--task", "wide", "--json"]);
    assert_eq!(wide["status"], "failed");
    assert!(wide["exit_code"].is_null(), "{wide}");
    let (job, _, _) = place(&test, &["show", "--task", "fine", "--json"]);
    assert_gone(&[job]);
}

#[test]
fn an_allocation_not_granted_in_time_stops_the_run_with_nothing_recorded() {
    if !cluster() {
        return;
    }
    let test = Test::new().taskfile("a: touch ran\n");
    // Held in the queue for an hour: never granted within the wait.
    let start = Instant::now();
    let output = test
        .with_args(&steps_args(
            "tasks.txt",
            &["--slurm-wait", "4s", "--slurm-arg=--begin=now+3600"],
        ))
        .status(2)
        .stdout_contains("waiting for Slurm allocation ")
        .stderr_contains("run::slurm_wait")
        .stderr_contains("it was cancelled and nothing ran")
        .run();
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    let id = output
        .stdout
        .split("waiting for Slurm allocation ")
        .nth(1)
        .unwrap()
        .split('…')
        .next()
        .unwrap()
        .to_owned();
    assert_contains(&output.stderr, &format!("allocation {id} within 4"));
    assert!(!test.path().join("ran").exists());
    test.with_args(&["history"])
        .status(0)
        .stdout_contains("No runs recorded yet")
        .run();
    assert_gone(&[id]);
}

#[test]
fn the_time_limit_moves_ahead_and_a_killed_runs_allocation_is_released_next_time() {
    if !cluster() {
        return;
    }
    let test = Test::new()
        .taskfile("a: sleep 977.3\n")
        .file("other.txt", "b: true\n");
    let run = steps(&test, &["--slurm-time", "1m"]);
    let child = run.spawn();
    wait_for_processes(&["sleep", "977.3"], 1, Duration::from_secs(30));
    let (id, _, limit) = holder_of(child.id());
    assert_eq!(limit, "1:00", "--slurm-time");
    // The keeper moves the limit ahead while the run is alive, once half
    // of it is left (this cluster's user is root, who may extend it).
    let start = Instant::now();
    while holders()
        .iter()
        .all(|held| held.0 != id || held.2 == "1:00")
    {
        assert!(start.elapsed() < Duration::from_secs(60), "not extended");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Killed outright, taskrun cannot release it; the next run on the
    // same database does, and says so once.
    let pid = child.id();
    send(&child, libc::SIGKILL);
    drop(child.wait_with_output());
    assert!(holders().iter().any(|held| held.0 == id), "still held");
    let next = |test: &Test| {
        test.with_args(&steps_args("other.txt", &[]))
            .status(0)
            .run()
            .stderr
    };
    let said = next(&test);
    assert_contains(
        &said,
        &format!("released Slurm allocation {id}, left by taskrun process {pid}"),
    );
    assert_gone(std::slice::from_ref(&id));
    assert_no_process("977.3");
    assert!(!next(&test).contains("released"), "reported once");
}

#[test]
fn an_interrupt_while_waiting_cancels_the_request_and_nothing_is_recorded() {
    if !cluster() {
        return;
    }
    let test = Test::new().taskfile("a: touch ran\n");
    let waiting = test
        .with_args(&steps_args("tasks.txt", &["--slurm-arg=--begin=now+3600"]))
        .status(130)
        .stdout_contains("waiting for Slurm allocation ")
        .stdout_contains(" (BeginTime)…")
        .stderr_contains("run::slurm_canceled")
        .stderr_contains("interrupted (SIGINT) while waiting for the Slurm allocation");
    let child = waiting.spawn();
    let (id, _, _) = holder_of(child.id());
    // Slurm's reason for keeping it queued is looked up every 2 s.
    std::thread::sleep(Duration::from_secs(6));
    send(&child, libc::SIGINT);
    waiting.wait(child);
    assert_gone(&[id]);
    assert!(!test.path().join("ran").exists());
    test.with_args(&["history"])
        .stdout_contains("No runs recorded yet")
        .run();
}

/// Options of the user's own for the allocation do not take it out of
/// taskrun's hands: its name (which it is cancelled by), its size and its
/// limit stay taskrun's, and a memory option replaces taskrun's.
#[test]
fn the_users_options_leave_the_allocation_taskruns() {
    if !cluster() {
        return;
    }
    let test = Test::new().taskfile("a: sleep 977.4 [timeout:2m]\n");
    let run = steps(
        &test,
        &[
            "--jobs",
            "1",
            "--slurm-arg=--job-name=mine",
            "--slurm-arg=--mem=64M",
            "--slurm-arg=--time=1",
        ],
    )
    .status(130);
    let child = run.spawn();
    wait_for_processes(&["sleep", "977.4"], 1, Duration::from_secs(60));
    // Found by taskrun's name; the limit is the run's (2 minutes of work,
    // then the chain of 2 minutes, and a minute: 5), not the user's 1.
    let (id, _, limit) = holder_of(child.id());
    assert_eq!(limit, "5:00");
    send(&child, libc::SIGINT);
    run.wait(child);
    assert_gone(&[id]);
}

/// The script chooses the mode: `executor("slurm", #{ mode: "steps" })`.
#[test]
fn the_script_can_choose_steps() {
    if !cluster() {
        return;
    }
    let test = Test::new().file(
        "Taskfile.rhai",
        "executor(\"slurm\", #{ mode: \"steps\" });\n\
         task(\"a\", \"echo a\");\ntask(\"b\", \"echo b\");\n",
    );
    test.with_args(&["run", "Taskfile.rhai"])
        .status(0)
        .stdout_contains("Slurm allocation ")
        .run();
    let (a, a_step, _) = place(&test, &["show", "--task", "a", "--json"]);
    let (b, b_step, _) = place(&test, &["show", "--task", "b", "--json"]);
    assert_eq!(a, b);
    assert_ne!(a_step, b_step);
    assert_gone(&[a]);
}

/// The library holds an allocation for its run too, and gives it back.
#[test]
fn the_library_runs_in_steps() {
    if !cluster() {
        return;
    }
    let tasks = taskrun::Tasks::parse("a: echo from-a\nb: exit 4 [after:a]\n").unwrap();
    let mut places = Vec::new();
    let summary = taskrun::Runner::new()
        .slurm(taskrun::SlurmOptions {
            mode: taskrun::SlurmMode::Steps,
            ..taskrun::SlurmOptions::default()
        })
        .run(&tasks, |event| {
            if let taskrun::Event::TaskFinished { result, .. } = event {
                places.push(result.slurm.clone().unwrap());
            }
        })
        .unwrap();
    assert_eq!(summary.counts.failed, 1);
    assert_eq!(places.len(), 2);
    assert_eq!(places[0].job_id, places[1].job_id);
    assert_ne!(places[0].step_id, places[1].step_id);
    assert_gone(&[places[0].job_id.clone()]);
}

/// Options of a mode the run does not use are refused, not ignored.
/// Needs no cluster.
#[test]
fn options_for_another_mode_are_refused() {
    let test = Test::new().taskfile("a: touch ran\n");
    test.with_args(&["run", "tasks.txt", "--slurm-wait", "5"])
        .status(2)
        .stderr_contains("run::slurm_option")
        .stderr_contains("--slurm-wait is for runs on Slurm")
        .run();
    test.with_args(&["run", "tasks.txt", "--slurm-mode", "steps"])
        .status(2)
        .stderr_contains("--slurm-mode is for runs on Slurm")
        .run();
    test.with_args(&[
        "run",
        "tasks.txt",
        "--executor",
        "slurm",
        "--slurm-time",
        "1h",
    ])
    .status(2)
    .stderr_contains("--slurm-time is for the allocation of --slurm-mode steps")
    .run();
    assert!(!test.path().join("ran").exists());
    let script = Test::new().file(
        "Taskfile.rhai",
        "executor(\"slurm\", #{ mode: \"batch\" });\ntask(\"a\", \"true\");\n",
    );
    script
        .with_args(&["check", "Taskfile.rhai"])
        .status(2)
        .stderr_contains("unknown Slurm mode `batch`; use \"jobs\" or \"steps\"")
        .run();
}
