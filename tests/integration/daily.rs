//! Daily use: tasks by name, the default task file, `-C`, standard input,
//! globs and `--exclude`, `list`, the plan as JSON, `--fail-fast`, shell
//! completions and the man page.

use std::io::Write;
use std::process::Stdio;

use crate::harness::{Test, command, command_for};

const PIPELINE: &str = "# Fetch what the build needs.\nfetch: echo fetch\n\
                        lint: echo lint [after:fetch] [desc:check the style]\n\
                        build: echo build [after:fetch]\n\
                        test_unit: echo unit [after:build]\n\
                        test_e2e: echo e2e [after:build]\n\
                        docs: echo docs\n";

#[test]
fn a_task_named_alone_runs_from_the_default_file_with_what_it_needs() {
    let test = Test::new().taskfile(PIPELINE);
    test.with_args(&["run", "lint", "--jobs", "1"])
        .status(0)
        .stdout(
            "Running with max 1 concurrent task...\n\
             [1/2] fetch: echo fetch ................ PASSED (…)\n\
             [2/2] lint: echo lint .................. PASSED (…)\n\
             \n\
             Run completed: 2 passed, 0 failed, 0 skipped\n\
             Results saved to: taskrun.db (run #1)\n",
        )
        .run();
    // With no file and no task: the whole default file.
    test.with_args(&["run", "--quiet"])
        .status(0)
        .stdout(
            "Run completed: 6 passed, 0 failed, 0 skipped\nResults saved to: taskrun.db (run #2)\n",
        )
        .run();
    // A file and tasks after it.
    test.with_args(&["run", "tasks.txt", "test_unit", "docs", "--quiet"])
        .stdout_starts_with("Run completed: 4 passed")
        .run();
    test.with_args(&["check"])
        .stdout("tasks.txt: 6 tasks, 4 dependency edges, longest chain 3 tasks (fetch → build → test_unit)\n")
        .run();
}

#[test]
fn a_directory_is_never_a_task_file() {
    let test = Test::new()
        .taskfile("build: echo built\n")
        .file("build/.keep", "");
    // `build` is a directory and a task name: the task.
    test.with_args(&["run", "build", "--quiet"])
        .status(0)
        .stdout_starts_with("Run completed: 1 passed")
        .run();
    test.with_args(&["run", "build/"])
        .status(2)
        .stderr_contains("taskfile::directory")
        .stderr_contains("× `build/` is a directory, not a task file")
        .run();
}

#[test]
fn without_a_task_file_taskrun_says_what_to_create() {
    let test = Test::new();
    test.with_args(&["run"])
        .status(2)
        .stderr_contains("taskfile::none")
        .stderr_contains("× no task file in `[DIR]`")
        .stderr_contains("create `tasks.txt`")
        .run();
    test.with_args(&["list"])
        .status(2)
        .stderr_contains("taskfile::none")
        .run();
}

#[test]
fn taskfile_rhai_is_the_source_only_without_a_task_file() {
    let script = "task(\"from_script\", \"echo script\");\n";
    let test = Test::new().file("Taskfile.rhai", script);
    test.with_args(&["list"])
        .stdout("Tasks in Taskfile.rhai:\n  from_script\n")
        .run();
    // Beside a task file, it is that file's script.
    let test = Test::new()
        .taskfile("a: true\n")
        .file("Taskfile.rhai", script);
    test.with_args(&["list"])
        .stdout("Tasks in tasks.txt:\n  a\n  from_script\n")
        .run();
}

#[test]
fn minus_c_runs_as_if_started_in_the_directory() {
    let test = Test::new().file("sub/tasks.txt", "where: pwd > where.txt\n");
    test.with_args(&["-C", "sub", "run", "--quiet"])
        .status(0)
        .stdout_ends_with("Results saved to: taskrun.db (run #1)\n")
        .run();
    assert!(test.path().join("sub/taskrun.db").exists());
    assert!(!test.path().join("taskrun.db").exists());
    test.with_args(&["-C", "nowhere", "history"])
        .status(2)
        .stderr_contains("taskrun::directory")
        .run();
}

#[test]
fn a_task_file_on_standard_input_runs_in_the_current_directory() {
    let test = Test::new();
    let mut child = command()
        .args(["run", "-", "--quiet"])
        .current_dir(test.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"here: pwd > where.txt\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let dir = test.path().canonicalize().unwrap();
    let written = std::fs::read_to_string(test.path().join("where.txt")).unwrap();
    assert_eq!(written.trim(), dir.display().to_string());
    test.with_args(&["show", "1"])
        .stdout_contains("Task file: (standard input)\n")
        .run();
}

#[test]
fn globs_select_and_exclude_leaves_out() {
    let test = Test::new().taskfile(PIPELINE);
    test.with_args(&["run", "--task", "test_*", "--jobs", "1", "--quiet"])
        .status(0)
        .stdout_starts_with("Run completed: 4 passed")
        .run();
    test.with_args(&["run", "--exclude", "test_*", "--exclude", "docs", "--quiet"])
        .stdout_starts_with("Run completed: 3 passed")
        .run();
    // A task that waits for an excluded one runs without it.
    test.with_args(&["run", "lint", "--exclude", "fetch", "--jobs", "1"])
        .stdout_contains("[1/1] lint: echo lint")
        .run();
    test.with_args(&["run", "--task", "tset_*"])
        .status(2)
        .stderr_contains("× no task named `tset_*`")
        .stderr_contains("help: the tasks are fetch, lint, build, test_unit, test_e2e, docs")
        .run();
    test.with_args(&["run", "lnit"])
        .status(2)
        .stderr_contains("help: did you mean `lint`?")
        .run();
    test.with_args(&["run", "--exclude", "*"])
        .status(2)
        .stderr_contains("run::nothing_selected")
        .run();
}

#[test]
fn list_shows_what_each_task_is_for_and_waits_for() {
    Test::new()
        .taskfile(PIPELINE)
        .args(&["list"])
        .status(0)
        .stdout(
            "Tasks in tasks.txt:\n  \
             fetch      Fetch what the build needs.\n  \
             lint       check the style (after fetch)\n  \
             build      (after fetch)\n  \
             test_unit  (after build)\n  \
             test_e2e   (after build)\n  \
             docs\n",
        )
        .run();
    Test::new()
        .taskfile(PIPELINE)
        .args(&["list", "--names"])
        .stdout("fetch\nlint\nbuild\ntest_unit\ntest_e2e\ndocs\n")
        .run();
}

#[test]
fn check_list_and_dry_run_print_one_plan_document() {
    let test = Test::new()
        .taskfile("pool db 1\nmigrate: echo m [pool:db]\nserve: echo s [after:migrate]\n");
    let check = test.exec(&["check", "--json"]);
    assert_eq!(check.status, 0, "{}", check.stderr);
    let plan: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    assert_eq!(plan["schema_version"], 1);
    assert_eq!(plan["file"], "tasks.txt");
    assert_eq!(plan["tasks"][1]["after"], serde_json::json!(["migrate"]));
    assert_eq!(
        plan["pools"],
        serde_json::json!([{"name": "db", "limit": 1}])
    );
    assert_eq!(plan["start_order"], serde_json::json!(["migrate", "serve"]));
    let list = test.exec(&["list", "--json"]);
    let dry = test.exec(&["run", "--dry-run", "--json", "--jobs", "2"]);
    let dry: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(dry["jobs"], 2);
    assert_eq!(dry["tasks"], plan["tasks"]);
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(list["tasks"], plan["tasks"]);
    assert!(!test.path().join("taskrun.db").exists(), "nothing ran");
}

#[test]
fn fail_fast_stops_starting_tasks_and_retry_runs_the_ones_never_started() {
    let test = Test::new().taskfile(
        "a: echo broken >&2; exit 1\nb: sleep 1\nc: true [after:b]\nd: true\n\
         cleanup: echo cleaning [after_done:a]\ne: true [after:c]\n",
    );
    test.with_args(&["run", "--fail-fast", "--jobs", "2"])
        .status(1)
        .stdout(
            "Running with max 2 concurrent tasks...\n\
             [1/6] a: echo broken >&2; exit 1 ....... FAILED (…)\n      \
             exit code 1; last lines of stderr:\n      \
             │ broken\n\
             \n\
             1 task failed: no more tasks start; waiting for 1 running task...\n\
             [2/6] d ................................ SKIPPED (not started: --fail-fast)\n\
             [3/6] cleanup: echo cleaning ........... PASSED (…)\n\
             [4/6] b: sleep 1 ....................... PASSED (…)\n\
             [5/6] c ................................ SKIPPED (not started: --fail-fast)\n\
             [6/6] e ................................ SKIPPED (not started: --fail-fast)\n\
             \n\
             Run stopped after 1 failure: 2 passed, 1 failed, 3 skipped\n\
             Results saved to: taskrun.db (run #1)\n",
        )
        .run();
    test.with_args(&["show", "1", "--task", "d"])
        .stdout_contains("Status: SKIPPED (not started: --fail-fast)\n")
        .run();
    // A skip without a failed dependency is always retried.
    test.with_args(&["retry", "1", "--jobs", "1"])
        .status(1)
        .stdout_starts_with("Retrying 4 failed tasks from run #1...\n")
        .stdout_contains("Run completed: 3 passed, 1 failed, 0 skipped\n")
        .run();
    let events = test.path().join("events.jsonl");
    test.with_args(&[
        "run",
        "--max-fail",
        "2",
        "--events",
        events.to_str().unwrap(),
        "--quiet",
    ])
    .status(1)
    .stdout_starts_with("Run completed: 5 passed, 1 failed, 0 skipped\n")
    .run();
    let log = std::fs::read_to_string(&events).unwrap();
    assert!(!log.contains("\"halted\""), "one failure is not two: {log}");
}

#[test]
fn bash_completes_task_names_from_the_task_file() {
    let test = Test::new().taskfile(PIPELINE);
    let script = test.exec(&["completions", "bash"]);
    assert_eq!(script.status, 0);
    std::fs::write(test.path().join("taskrun.bash"), &script.stdout).unwrap();
    let bin = crate::harness::binary();
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let Ok(output) = command_for("bash")
        .arg("-c")
        .arg(
            "source ./taskrun.bash; COMP_WORDS=(taskrun run te); COMP_CWORD=2; \
             _taskrun_with_tasks taskrun te run; printf '%s\\n' \"${COMPREPLY[@]}\" | sort -u",
        )
        .current_dir(test.path())
        .env("PATH", path)
        .output()
    else {
        eprintln!("skipped: bash is not installed");
        return;
    };
    let names = String::from_utf8_lossy(&output.stdout);
    assert!(
        names.lines().any(|line| line == "test_unit")
            && names.lines().any(|line| line == "test_e2e"),
        "{names}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let script = test.exec(&["completions", shell]);
        assert_eq!(script.status, 0, "{shell}");
        assert!(script.stdout.contains("taskrun"), "{shell}");
    }
    let fish = test.exec(&["completions", "fish"]).stdout;
    assert!(fish.contains("taskrun list --names"), "{fish}");
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let page = Test::new().exec(&["man"]);
    assert_eq!(page.status, 0);
    assert!(
        page.stdout.starts_with(".ie \\n(.g .ds Aq \\(aq\n"),
        "{}",
        &page.stdout[..200]
    );
    assert!(page.stdout.contains(".TH taskrun 1"));
    for subcommand in ["run", "retry", "history", "show", "check", "list", "graph"] {
        assert!(page.stdout.contains(subcommand), "{subcommand}");
    }
}
