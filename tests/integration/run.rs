//! `taskrun run`: scheduling, processes, capture, timeouts, progress and
//! exit status.

use std::time::{Duration, Instant};

use crate::harness::{Test, masked, processes_with, wait_until_gone};

/// `taskrun run tasks.txt` and `args`, with `tasks` in `tasks.txt`.
fn run_tasks(tasks: &str, args: &[&str]) -> Test {
    Test::new()
        .taskfile(tasks)
        .args(&["run", "tasks.txt"])
        .args(args)
}

#[test]
fn progress_lines_and_summary_are_exact() {
    run_tasks(
        "fetch: echo fetched\nlint: echo lint [after:fetch]\nbuild: echo building a long command line here [after:lint]\n",
        &["--jobs", "1"],
    )
    .status(0)
    .stdout(
        "Running with max 1 concurrent task...\n\
         [1/3] fetch: echo fetched .............. PASSED (…)\n\
         [2/3] lint: echo lint .................. PASSED (…)\n\
         [3/3] build: echo building a long… ..... PASSED (…)\n\
         \n\
         Run completed: 3 passed, 0 failed, 0 skipped\n\
         Results saved to: taskrun.db (run #1)\n",
    )
    .stderr("")
    .run();
}

#[test]
fn failure_skips_dependents_transitively_and_other_branches_run_on() {
    run_tasks(
        "a: echo broken >&2; exit 4\nb: true [after:a]\nc: true [after:b]\nd: true\ne: true [after:d]\n",
        &["--jobs", "1"],
    )
    .status(1)
    .stdout(
        "Running with max 1 concurrent task...\n\
         [1/5] a: echo broken >&2; exit 4 ....... FAILED (…)\n      \
         exit code 4; last lines of stderr:\n      \
         │ broken\n\
         [2/5] b ................................ SKIPPED (dependency failed: a)\n\
         [3/5] c ................................ SKIPPED (dependency failed: a)\n\
         [4/5] d: true .......................... PASSED (…)\n\
         [5/5] e: true .......................... PASSED (…)\n\
         \n\
         Run completed: 2 passed, 1 failed, 2 skipped\n\
         Results saved to: taskrun.db (run #1)\n",
    )
    .run();
}

#[test]
fn a_task_starts_only_after_its_dependencies_passed() {
    let test = Test::new().taskfile(
        "second: test -f first.done && echo ok > second.done [after:first]\nfirst: sleep 0.2; touch first.done\n",
    );
    let test = test.args(&["run", "tasks.txt", "--jobs", "4"]).status(0);
    test.run();
    assert!(test.path().join("second.done").exists());
}

/// Each task appends `+` when it starts and `-` when it ends to one log;
/// the deepest nesting is how many ran at once.
#[test]
fn concurrency_limit_is_observed() {
    let tasks: String = (0..10)
        .map(|i| format!("t{i}: echo + >> log; sleep 0.2; echo - >> log\n"))
        .collect();
    for jobs in [1, 3] {
        let test = Test::new()
            .taskfile(&tasks)
            .args(&["run", "tasks.txt", "--jobs", &jobs.to_string()])
            .status(0);
        test.run();
        let log = std::fs::read_to_string(test.path().join("log")).unwrap();
        let (mut now, mut most) = (0i32, 0i32);
        for line in log.lines() {
            now += if line == "+" { 1 } else { -1 };
            most = most.max(now);
        }
        assert_eq!(
            most, jobs,
            "at most --jobs {jobs} at once, and that many: {log}"
        );
    }
}

#[test]
fn default_jobs_is_the_number_of_cpus() {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let tasks: String = (0..cpus * 2 + 2)
        .map(|i| format!("t{i}: echo + >> log; sleep 0.3; echo - >> log\n"))
        .collect();
    let test = Test::new()
        .taskfile(&tasks)
        .args(&["run", "tasks.txt"])
        .status(0)
        // The limit is announced only with --jobs.
        .stdout_lacks("Running with max");
    test.run();
    let log = std::fs::read_to_string(test.path().join("log")).unwrap();
    let (mut now, mut most) = (0usize, 0usize);
    for line in log.lines() {
        if line == "+" {
            now += 1;
        } else {
            now -= 1;
        }
        most = most.max(now);
    }
    assert_eq!(most, cpus);
}

#[test]
fn two_hundred_tasks_with_64_jobs() {
    let tasks: String = (0..200).map(|i| format!("t{i}: echo {i}\n")).collect();
    run_tasks(&tasks, &["--jobs", "64"])
        .status(0)
        .stdout_contains("[200/200]")
        .stdout_ends_with(
            "Run completed: 200 passed, 0 failed, 0 skipped\nResults saved to: taskrun.db (run #1)\n",
        )
        .run();
}

/// 400 tasks at once need about 3,300 open files; started with a soft
/// limit of 256, taskrun raises it rather than fail tasks.
#[test]
fn four_hundred_jobs_at_once_under_a_low_descriptor_limit() {
    let tasks: String = (0..400).map(|i| format!("t{i}: sleep 0.5\n")).collect();
    let test = Test::new().taskfile(tasks);
    let output = crate::harness::command_for("/bin/sh")
        .arg("-c")
        .arg("ulimit -Sn 256 && exec \"$0\" run tasks.txt --jobs 400 --quiet")
        .arg(crate::harness::binary())
        .current_dir(test.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Run completed: 400 passed, 0 failed, 0 skipped\nResults saved to: taskrun.db (run #1)\n"
    );
}

#[test]
fn task_selects_the_task_and_its_dependencies() {
    let output = run_tasks(
        "a: true\nb: true [after:a]\nc: true\nd: true [after:b]\ne: true [after:d]\n",
        &["--task", "d", "--jobs", "1"],
    )
    .status(0)
    .stdout_contains("[3/3]")
    .run();
    let names: Vec<&str> = output
        .stdout
        .lines()
        .filter(|line| line.starts_with('['))
        .map(|line| line.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(names, ["a:", "b:", "d:"]);
}

#[test]
fn unknown_task_is_a_usage_error() {
    run_tasks("build: true\ntest: true\n", &["--task", "tets"])
        .status(2)
        .stdout("")
        .stderr_contains("× no task named `tets`")
        .stderr_contains("help: did you mean `test`?")
        .run();
}

#[test]
fn invalid_file_runs_nothing() {
    let test = run_tasks("a: touch ran\nb: true [after:nope]\n", &[])
        .status(2)
        .stderr_contains("graph::unknown_dependency");
    test.run();
    assert!(!test.path().join("ran").exists());
}

#[test]
fn bad_arguments_are_usage_errors() {
    for args in [
        &["--jobs", "0"][..],
        &["--jobs", "-3"],
        &["--jobs=-3"],
        &["--timeout", "-1"],
        &["--timeout", "soon"],
        &["--max-output", "lots"],
    ] {
        run_tasks("a: true\n", args)
            .status(2)
            .stderr_starts_with("error: ")
            .stdout("")
            .run();
    }
}

#[test]
fn tasks_run_in_the_task_file_directory_with_empty_stdin() {
    let test = Test::new().file(
        "sub/tasks.txt",
        "where: pwd > here.txt\nread: cat > read.txt; echo $? >> read.txt\n",
    );
    let test = test.args(&["run", "sub/tasks.txt"]).status(0);
    test.run();
    let here = std::fs::read_to_string(test.path().join("sub/here.txt")).unwrap();
    assert_eq!(
        std::fs::canonicalize(here.trim()).unwrap(),
        std::fs::canonicalize(test.path().join("sub")).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(test.path().join("sub/read.txt")).unwrap(),
        "0\n"
    );
}

#[test]
fn exit_codes_signals_and_unstartable_commands() {
    let huge = format!("huge: echo {}\n", "x".repeat(200_000));
    run_tasks(
        &format!(
            "missing: no-such-command-xyz\nsegv: kill -SEGV $$\nnine: kill -9 $$\n{huge}fine: true\n"
        ),
        &["--jobs", "1"],
    )
    .status(1)
    .stdout_contains("exit code 127; last lines of stderr:")
    .stdout_contains("no-such-command-xyz: not found")
    .stdout_contains("killed by SIGSEGV, no output")
    .stdout_contains("killed by SIGKILL, no output")
    .stdout_contains(
        "cannot start /bin/sh: the command is 200005 bytes, more than the system accepts",
    )
    .stdout_contains("Run completed: 1 passed, 4 failed, 0 skipped")
    .run();
}

#[test]
fn big_output_on_both_streams_does_not_deadlock_and_is_capped() {
    // 50 MB to each stream, then a last line to each, then failure.
    run_tasks(
        "flood: head -c 50000000 /dev/zero | tr '\\0' o; head -c 50000000 /dev/zero | tr '\\0' e >&2; echo; echo >&2; echo last-err >&2; exit 1\n",
        &["--max-output", "64K", "--timeout", "120"],
    )
    .status(1)
    .stdout_contains("exit code 1; last lines of stderr:\n      │ last-err\n")
    .run();
}

#[test]
fn non_utf8_output_is_shown_lossily() {
    run_tasks("bin: printf 'caf\\351\\000x\\n' >&2; exit 1\n", &[])
        .status(1)
        .stdout_contains("│ caf\u{FFFD}\u{0020}x\n")
        .run();
}

#[test]
fn timeout_kills_the_task_and_its_grandchildren() {
    let start = Instant::now();
    run_tasks(
        "slow: sleep 971.1 & sleep 971.1\nafter_slow: true [after:slow]\n",
        &["--timeout", "0.5"],
    )
    .status(1)
    .stdout_contains(
        "[1/2] slow: sleep 971.1 & sleep 97… .... TIMEOUT (…)\n      timed out after … (killed by SIGTERM), no output\n",
    )
    .stdout_contains("[2/2] after_slow ....................... SKIPPED (dependency failed: slow)")
    .stdout_ends_with(
        "Run completed: 0 passed, 1 timeout, 1 skipped\nResults saved to: taskrun.db (run #1)\n",
    )
    .run();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        wait_until_gone("971.1", Duration::from_secs(3)),
        Vec::<String>::new()
    );
}

#[test]
fn timeout_kills_what_ignores_sigterm_and_what_is_stopped() {
    let start = Instant::now();
    let output = run_tasks(
        // `member` leaves behind a process that ignores SIGTERM and
        // outlives the shell, holding the pipe.
        "stubborn: trap '' TERM; sleep 971.2\nstopped: kill -STOP $$\n\
         member: (trap '' TERM; sleep 971.2) & sleep 30\n",
        &["--timeout", "0.3", "--jobs", "3"],
    )
    .status(1)
    .run();
    assert_eq!(
        output.stdout.matches("TIMEOUT").count(),
        3,
        "{}",
        output.stdout
    );
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        wait_until_gone("971.2", Duration::from_secs(3)),
        Vec::<String>::new()
    );
}

#[test]
fn background_process_holding_the_pipe_does_not_hang_the_run() {
    let start = Instant::now();
    run_tasks(
        "bg: sleep 971.3 & echo started\nnext: echo next [after:bg]\n",
        &[],
    )
    .status(0)
    .run();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        wait_until_gone("971.3", Duration::from_secs(3)),
        Vec::<String>::new()
    );
}

#[test]
fn timeout_zero_means_no_limit_and_units_are_accepted() {
    run_tasks("a: sleep 0.3\n", &["--timeout", "0"])
        .status(0)
        .run();
    // The limit as it was given, which the masks would hide.
    run_tasks("a: sleep 0.3\n", &["--timeout", "100ms"])
        .unmasked()
        .status(1)
        .stdout_contains("timed out after 0.1s")
        .run();
}

#[test]
fn quiet_prints_only_the_summary() {
    run_tasks("a: true\nb: false\n", &["--quiet", "--jobs", "2"])
        .status(1)
        .stdout(
            "Run completed: 1 passed, 1 failed, 0 skipped\nResults saved to: taskrun.db (run #1)\n",
        )
        .run();
}

/// `taskrun run … | head -1` must not panic, and the run must complete.
#[test]
fn closed_stdout_does_not_stop_the_run() {
    let test =
        Test::new().taskfile("a: true\nb: sleep 0.3; touch b.done\nc: touch c.done [after:b]\n");
    let output = crate::harness::command_for("bash")
        .arg("-c")
        .arg(format!(
            "{} run tasks.txt --jobs 1 | head -c 1; echo \" status ${{PIPESTATUS[0]}}\"",
            crate::harness::binary().display()
        ))
        .current_dir(test.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "R status 0\n");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    assert!(test.path().join("c.done").exists());
}

/// On a terminal the running tasks are listed and redrawn in place; in a
/// pipe there are only plain lines (as every other test here shows).
#[test]
fn terminal_shows_running_tasks() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let test = Test::new().taskfile("slow: echo working on it; sleep 0.6\n");
    let output = crate::harness::command_for("script")
        .arg("-qec")
        .arg(format!(
            "{} run tasks.txt",
            crate::harness::binary().display()
        ))
        .arg("/dev/null")
        .current_dir(test.path())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(screen.contains("▸ slow ("), "{screen:?}");
    assert!(screen.contains("working on it"), "{screen:?}");
    assert!(
        screen.contains("\x1b[F\x1b[2K\x1b[F\x1b[2K"),
        "the view (the task and the counts) is erased line by line: {screen:?}"
    );
    assert!(screen.contains("PASSED"), "{screen:?}");
}

#[test]
fn no_process_is_left_behind_after_a_normal_run() {
    run_tasks("a: (sleep 0.2; echo late) & echo early\n", &[])
        .status(0)
        .run();
    assert!(processes_with("sleep 0.2; echo late").is_empty());
}

#[test]
fn per_task_timeout_overrides_the_run_timeout() {
    run_tasks(
        "quick: sleep 5 [timeout:0.3]\nslow: sleep 0.5 [timeout:0]\n",
        &["--timeout", "0.2", "--jobs", "2"],
    )
    .status(1)
    .stdout_contains("quick: sleep 5 ................... TIMEOUT (…)\n      timed out after …")
    .stdout_contains("slow: sleep 0.5 .................. PASSED")
    .run();
}

#[test]
fn per_task_directory_and_environment() {
    let test = Test::new()
        .file("web/.keep", "")
        .taskfile("build: pwd > where; echo \"$MODE $EXTRA\" > env [dir:web] [env:MODE=production] [env:EXTRA=a b]\n");
    let test = test.args(&["run", "tasks.txt"]).status(0);
    test.run();
    let where_ = std::fs::read_to_string(test.path().join("web/where")).unwrap();
    assert!(where_.trim_end().ends_with("/web"), "{where_}");
    assert_eq!(
        std::fs::read_to_string(test.path().join("web/env")).unwrap(),
        "production a b\n"
    );
    run_tasks("a: true [dir:nowhere]\n", &[])
        .status(1)
        .stdout_contains("cannot start /bin/sh in `")
        .stdout_contains("/nowhere`")
        .run();
}

#[test]
fn retries_rerun_a_failing_task_and_record_every_attempt() {
    let test = Test::new().taskfile(
        "flaky: n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; \
         [ $n -ge 3 ] || { echo \"down $n\" >&2; exit 7; } [retries:3]\n\
         then: echo after [after:flaky]\n",
    );
    let test = test
        .args(&["run", "tasks.txt", "--retry-delay", "0.05", "--jobs", "1"])
        .status(0)
        .stdout_contains(
            "      flaky: n=$(cat count 2>/dev/… .... RETRY 1/3 (exit code 7; again in …)\n",
        )
        .stdout_contains("RETRY 2/3 (exit code 7; again in …)\n[1/2] flaky:")
        .stdout_contains("Run completed: 2 passed, 0 failed, 0 skipped\n");
    test.run();
    if let Ok(rows) = std::process::Command::new("sqlite3")
        .arg(test.path().join("taskrun.db"))
        .arg("SELECT name, attempt, status, coalesce(exit_code, '') FROM tasks ORDER BY id")
        .output()
    {
        assert_eq!(
            String::from_utf8_lossy(&rows.stdout),
            "flaky|1|failed|7\nthen|1|passed|0\nflaky|2|failed|7\nflaky|3|passed|0\n"
        );
    }
}

#[test]
fn a_task_that_keeps_failing_fails_after_its_last_retry() {
    let start = Instant::now();
    let output = run_tasks(
        "broken: exit 3 [retries:2]\nafter_it: true [after:broken]\n",
        &["--retry-delay", "0.1", "--jobs", "1"],
    )
    .status(1)
    .stdout_contains("[1/2] broken: exit 3 ................... FAILED (…)\n")
    .stdout_contains("after_it ......................... SKIPPED (dependency failed: broken)")
    .run();
    // Waits of 0.05-0.1 s, then 0.1-0.2 s.
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "{:?}",
        start.elapsed()
    );
    let stdout = masked(&output.stdout);
    assert_eq!(stdout.matches("RETRY").count(), 2, "{stdout}");
}

#[test]
fn timeouts_are_retried_too() {
    run_tasks(
        "slow: sleep 5 [timeout:0.2] [retries:1]\n",
        &["--retry-delay", "0.01"],
    )
    .status(1)
    .stdout_contains("RETRY 1/1 (timed out after … (killed by SIGTERM); again in …)")
    .stdout_contains("Run completed: 0 passed, 1 timeout, 0 skipped")
    .run();
}

/// Each `db` task appends `+` when it starts and `-` when it ends; never
/// two in a row means never two at once.
#[test]
fn a_pool_holds_its_tasks_to_its_limit() {
    let mut tasks = String::from("pool db 1\n");
    for i in 0..4 {
        tasks.push_str(&format!(
            "m{i}: echo + >> db.log; sleep 0.15; echo - >> db.log [pool:db]\n"
        ));
    }
    for i in 0..4 {
        tasks.push_str(&format!(
            "o{i}: echo + >> other.log; sleep 0.15; echo - >> other.log\n"
        ));
    }
    let test = Test::new().taskfile(tasks);
    test.with_args(&["run", "tasks.txt", "--jobs", "4"])
        .status(0)
        .run();
    let most = |log: &str| {
        let (mut now, mut most) = (0, 0);
        for line in std::fs::read_to_string(test.path().join(log))
            .unwrap()
            .lines()
        {
            now += if line == "+" { 1 } else { -1 };
            most = most.max(now);
        }
        most
    };
    assert_eq!(most("db.log"), 1);
    assert!(most("other.log") >= 2, "the rest run beside the pool");
}

#[test]
fn a_soft_dependency_waits_for_the_end_whatever_the_result() {
    run_tasks(
        "broken: exit 1\nfeature: true [after:broken]\n\
         cleanup: echo cleaning [after_done:broken,feature]\nreport: true [after:cleanup]\n",
        &["--jobs", "1"],
    )
    .status(1)
    .stdout_contains("[2/4] feature .......................... SKIPPED (dependency failed: broken)")
    .stdout_contains("[3/4] cleanup: echo cleaning ........... PASSED")
    .stdout_contains("[4/4] report: true ..................... PASSED")
    .run();
}

#[test]
fn unknown_and_duplicate_pools_are_errors() {
    run_tasks("pool db 1\npool db 2\na: true [pool:dbs]\n", &[])
        .status(2)
        .stderr_contains("× pool `db` is declared more than once")
        .stderr_contains("× task `a` names an undeclared pool `dbs`")
        .stderr_contains("help: did you mean `db`?")
        .run();
}

/// A task that closes its stdout is not over: taskrun waits for the
/// process, and keeps what it writes to stderr afterwards.
#[test]
fn a_task_that_closes_its_stdout_early_runs_to_its_end() {
    let test = Test::new().taskfile(
        "early: echo before; exec 1>&-; sleep 0.3; echo still-here >&2; touch done\n\
         next: true [after:early]\n",
    );
    test.with_args(&["run", "tasks.txt", "--jobs", "1"])
        .status(0)
        .run();
    assert!(test.path().join("done").exists());
    test.with_args(&["show", "--task", "early"])
        .stdout_contains("--- stdout ---\nbefore\n")
        .stdout_contains("--- stderr ---\nstill-here\n")
        .run();
}

/// The largest resident size of a process so far, in KiB, from /proc.
fn peak_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A gigabyte of output: the capture keeps its start and end, the count is
/// exact, and taskrun's memory stays small throughout.
#[test]
fn a_gigabyte_of_output_is_capped_in_bounded_memory() {
    let test = Test::new()
        .taskfile("flood: head -c 1000000000 /dev/zero | tr '\\0' x; echo; echo the-end\n");
    let test = test
        .args(&["run", "tasks.txt", "--timeout", "300"])
        .status(0);
    let mut child = test.spawn();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(kib) = peak_memory_kib(child.id()) {
            peak = peak.max(kib);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    test.wait(child);
    assert!(peak > 0, "the memory of taskrun could not be read");
    assert!(peak < 64 * 1024, "taskrun grew to {peak} KiB");
    let shown = test.exec(&["show", "--task", "flood", "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let task = &shown["task"];
    // 10^9 bytes, a newline, and `the-end` with its newline.
    assert_eq!(task["stdout_bytes"], 1_000_000_009_u64);
    assert_eq!(task["stdout_truncated"], true);
    let stdout = task["stdout"].as_str().unwrap();
    assert!(
        stdout.len() < (1 << 20) + (16 << 10),
        "{} bytes kept",
        stdout.len()
    );
    assert!(stdout.starts_with("xxxx") && stdout.ends_with("xxxx"));
    let tail = task["stdout_tail"].as_str().unwrap();
    assert!(tail.len() <= 16 << 10, "{} bytes of tail", tail.len());
    assert!(
        tail.ends_with("x\nthe-end\n"),
        "{:?}",
        &tail[tail.len().saturating_sub(40)..]
    );
}
