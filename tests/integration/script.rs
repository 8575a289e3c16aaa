//! `Taskfile.rhai`: discovery, the task API, script errors and limits,
//! evaluated tasks, hooks and retry policies.

use std::time::{Duration, Instant};

use crate::harness::Test;

#[test]
fn the_script_beside_the_task_file_is_loaded() {
    let test = Test::new()
        .taskfile("fetch: echo fetch\nbuild: echo build [after:fetch]\n")
        .file(
            "Taskfile.rhai",
            "for i in 0..3 { task(`test_${i}`, `echo test ${i}`).after(\"build\"); }\n\
             task(\"report\", \"echo report\").after([\"test_0\", \"test_1\", \"test_2\"]);\n",
        );
    test.with_args(&["check", "tasks.txt"])
        .status(0)
        .stdout(
            "tasks.txt + Taskfile.rhai: 6 tasks, 7 dependency edges, longest chain 4 tasks \
             (fetch → build → test_0 → report)\n",
        )
        .run();
    test.with_args(&["check", "tasks.txt", "--no-script"])
        .stdout("tasks.txt: 2 tasks, 1 dependency edge, longest chain 2 tasks (fetch → build)\n")
        .run();
}

#[test]
fn script_named_with_script_and_script_alone() {
    let test = Test::new()
        .taskfile("a: echo a\n")
        .file("other.rhai", "task(\"b\", \"echo b\").after(\"a\");\n")
        .file(
            "alone.rhai",
            "task(\"x\", \"echo x\");\ntask(\"y\", \"echo y\").after(\"x\");\n",
        );
    test.with_args(&["graph", "tasks.txt", "--script", "other.rhai"])
        .stdout_contains("\"a\" -> \"b\";")
        .run();
    test.with_args(&["run", "alone.rhai", "--jobs", "1"])
        .status(0)
        .stdout_contains("[2/2] y: echo y")
        .run();
    test.with_args(&["check", "tasks.txt", "--script", "missing.rhai"])
        .status(2)
        .stderr_contains("× cannot read script `missing.rhai`")
        .run();
}

#[test]
fn the_api_sets_everything_a_task_line_can() {
    let test = Test::new()
        .taskfile("base: echo base\nold: echo old\n")
        .file("web/.keep", "")
        .file("list.txt", "alpha\nbeta\n")
        .file("tests/a_test.sh", "")
        .file("tests/b_test.sh", "")
        .file(
            "Taskfile.rhai",
            r#"
            remove_task("old");
            let names = [];
            for t in tasks() { names.push(t.name); }
            task("env", "echo \"$MODE\" > env.out").env("MODE", "prod").dir("web").timeout("10s").retries(1);
            task("files", `echo ${glob("tests/*_test.sh")} ${read_lines("list.txt")} > files.out`);
            task("facts", `echo ${names} ${has_task("old")} ${file_exists("list.txt")} ${env_var("NOPE_NOT_SET") == ()} > facts.out`);
            get_task("files").after("base");
            if get_task("missing") != () { throw "get_task found a missing task"; }
            "#,
        );
    test.with_args(&["run", "tasks.txt", "--jobs", "1"])
        .status(0)
        // Removed by the script.
        .stdout_lacks("old:")
        .run();
    let read = |path: &str| std::fs::read_to_string(test.path().join(path)).unwrap();
    assert_eq!(read("web/env.out"), "prod\n");
    assert_eq!(
        read("files.out"),
        "[tests/a_test.sh, tests/b_test.sh] [alpha, beta]\n"
    );
    // `old` was removed before the script listed the tasks.
    assert_eq!(read("facts.out"), "[base] false true true\n");
}

#[test]
fn errors_about_scripted_tasks_point_into_the_script() {
    let test = Test::new().taskfile("a: true\n").file(
        "Taskfile.rhai",
        "task(\"b\", \"true\").after(\"nope\");\ntask(\"a\", \"echo again\");\n",
    );
    let output = test.with_args(&["check", "tasks.txt"]).status(2).run();
    insta::assert_snapshot!(output.stderr);
}

#[test]
fn script_syntax_and_runtime_errors() {
    let test = Test::new()
        .file("syntax.rhai", "task(\"a\" \"x\");\n")
        .file(
            "runtime.rhai",
            "let x = 1;\ntask(\"a\", \"x\").timeout(\"soon\");\n",
        )
        .file("name.rhai", "task(\"a-b\", \"x\");\n");
    let output = test.with_args(&["check", "syntax.rhai"]).status(2).run();
    insta::assert_snapshot!("syntax", output.stderr);
    let output = test.with_args(&["check", "runtime.rhai"]).status(2).run();
    insta::assert_snapshot!("runtime", output.stderr);
    test.with_args(&["check", "name.rhai"])
        .stderr_contains("invalid task name `a-b`")
        .run();
}

#[test]
fn an_error_inside_a_module_points_into_it_and_at_the_call() {
    let test = Test::new()
        .file(
            "lib/helpers.rhai",
            "// Helpers for the tasks.\nfn check(name) {\n    if name == \"\" {\n        throw \"a name is needed\";\n    }\n    name\n}\n",
        )
        .file(
            "lib/Taskfile.rhai",
            "// Builds the tasks.\nimport \"helpers\" as h;\nlet name = h::check(\"\");\ntask(name, \"true\");\n",
        )
        .file(
            "shards.rhai",
            "import \"taskrun/matrix\" as matrix;\nlet groups = matrix::shard([\"a\", \"b\"], 0);\n",
        );
    test.with_args(&["check", "lib/Taskfile.rhai"])
        .status(2)
        .stderr(
            "script::runtime

  × script error: a name is needed (in `check`)
   ╭─[lib/helpers.rhai:4:9]
 3 │     if name == \"\" {
 4 │         throw \"a name is needed\";
   ·         ──┬──
   ·           ╰── while running this
 5 │     }
   ╰────
  ╰─▶   ☞ in module `helpers`, called from here
         ╭─[lib/Taskfile.rhai:3:15]
       2 │ import \"helpers\" as h;
       3 │ let name = h::check(\"\");
         ·               ──┬──
         ·                 ╰── `check` is called here
       4 │ task(name, \"true\");
         ╰────

error: 1 problem in lib/Taskfile.rhai
",
        )
        .run();
    test.with_args(&["check", "shards.rhai"])
        .status(2)
        .stderr(
            "script::runtime

  × script error: shard: count must be at least 1 (in `shard`)
    ╭─[taskrun/matrix:35:9]
 34 │     if count < 1 {
 35 │         throw \"shard: count must be at least 1\";
    ·         ──┬──
    ·           ╰── while running this
 36 │     }
    ╰────
  ╰─▶   ☞ in module `taskrun/matrix`, called from here
         ╭─[shards.rhai:2:22]
       1 │ import \"taskrun/matrix\" as matrix;
       2 │ let groups = matrix::shard([\"a\", \"b\"], 0);
         ·                      ──┬──
         ·                        ╰── `shard` is called here
         ╰────

error: 1 problem in shards.rhai
",
        )
        .run();
}

#[test]
fn a_policy_failing_inside_the_stdlib_points_into_it_during_a_run() {
    let test = Test::new().file(
        "Taskfile.rhai",
        "task(\"flaky\", \"exit 3\").retries(1);\n\
         fn should_retry(task) {\n    import \"taskrun/retry\" as retry;\n    retry::exit_code_in(task, 3)\n}\n",
    );
    test.with_args(&["run", "Taskfile.rhai", "--quiet"])
        .status(1)
        .stderr_contains(
            "× script error: Function not found: contains (i64, i64) (in `exit_code_in`)\n\
             \x20   ╭─[taskrun/retry:15:35]\n",
        )
        .stderr_contains(
            "  ╰─▶   ☞ in module `taskrun/retry`, called from here\n\
             \x20        ╭─[Taskfile.rhai:4:12]\n",
        )
        .stderr_contains("╰── `exit_code_in` is called here\n")
        .run();
}

#[test]
fn runaway_scripts_are_stopped_by_limits() {
    let test = Test::new()
        .file("loop.rhai", "let x = 0;\nloop { x += 1; }\n")
        .file("deep.rhai", "fn down(n) { down(n + 1) }\ndown(0);\n")
        .file("huge.rhai", "let s = \"x\";\nloop { s += s; }\n");
    let start = Instant::now();
    test.with_args(&["check", "loop.rhai"])
        .status(2)
        .stderr_contains("× script stopped: it ran more than 20000000 operations")
        .run();
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    test.with_args(&["check", "deep.rhai"])
        .stderr_contains("× script stopped: calls nested more than 128 deep")
        .run();
    test.with_args(&["check", "huge.rhai"])
        .stderr_contains("too large")
        .run();
}

#[test]
fn evaluated_tasks_run_in_process() {
    let test = Test::new().file(
        "Taskfile.rhai",
        r#"
        let greeting = "hello";
        task("compute", || { let total = 0; for i in 1..=10 { total += i; } print(`sum ${total}`); });
        task("greet", || print(greeting + " from rhai")).after("compute");
        task("value", || 42);
        task("boom", || { throw "the mirror is down"; });
        task("forever", || { loop { } }).timeout(0.3);
        "#,
    );
    test.with_args(&["run", "Taskfile.rhai", "--jobs", "2"])
        .status(1)
        .stdout_contains("compute: (Rhai closure, line… .... PASSED")
        .stdout_contains(
            "      exit code 1; last lines of stderr:\n      │ line 6: script error: the mirror is down\n",
        )
        .stdout_contains("forever: (Rhai closure, line… .... TIMEOUT (…)")
        .stdout_contains("Run completed: 3 passed, 2 failed (1 timeout), 0 skipped")
        .run();
    test.with_args(&["show", "last", "--task", "greet"])
        .stdout_contains("--- stdout ---\nhello from rhai\n")
        .run();
    test.with_args(&["show", "last", "--task", "value"])
        .stdout_contains("--- stdout ---\n42\n")
        .run();
}

#[test]
fn hooks_see_every_task_and_a_failing_hook_is_reported_once() {
    let test = Test::new().file(
        "Taskfile.rhai",
        r#"
        task("ok", "echo fine");
        task("bad", "exit 3");
        task("later", "echo later").after("bad");
        fn on_start(task) { append_file("hooks.log", "start " + task.name + "\n"); }
        fn on_success(task) { append_file("hooks.log", "ok " + task.name + "\n"); }
        fn on_failure(task) {
            append_file("hooks.log", "fail " + task.name + " " + task.exit_code + "\n");
            throw "on_failure breaks";
        }
        fn on_finish(run) {
            write_file("summary.txt", `${run.passed} passed, ${run.failed} failed, ${run.skipped} skipped`);
        }
        "#,
    );
    let output = test
        .with_args(&["run", "Taskfile.rhai", "--jobs", "1"])
        // The hook error does not change the status.
        .status(1)
        .stdout_contains("Run completed: 1 passed, 1 failed, 1 skipped")
        .stderr_contains("help: the run goes on; `on_failure` is not called again in this run")
        .run();
    assert_eq!(
        output
            .stderr
            .matches("hook `on_failure` failed: on_failure breaks")
            .count(),
        1
    );
    let log = std::fs::read_to_string(test.path().join("hooks.log")).unwrap();
    // `bad` heads a chain of two (`later` waits for it): it starts first.
    assert_eq!(log, "start bad\nfail bad 3\nstart ok\nok ok\n");
    let summary = std::fs::read_to_string(test.path().join("summary.txt")).unwrap();
    assert_eq!(summary, "1 passed, 1 failed, 1 skipped");
}

#[test]
fn should_retry_decides_within_a_run() {
    let test = Test::new().file(
        "Taskfile.rhai",
        r#"
        task("network", "echo 'Connection refused' >&2; exit 7").retries(3);
        task("real", "echo 'syntax error' >&2; exit 2").retries(3);
        fn should_retry(task) {
            import "taskrun/retry" as retry;
            retry::transient_network(task) && retry::attempts_below(task, 3)
        }
        "#,
    );
    let output = test
        .with_args(&[
            "run",
            "Taskfile.rhai",
            "--jobs",
            "1",
            "--retry-delay",
            "0.01",
        ])
        .status(1)
        .run();
    // Two retries of the network failure (attempts 1 and 2), none of the
    // real one.
    assert_eq!(
        output
            .stdout
            .matches("network: echo 'Connection re… .... RETRY")
            .count(),
        2,
        "{}",
        output.stdout
    );
    assert!(
        !output
            .stdout
            .contains("real: echo 'syntax error'… ..... RETRY"),
        "{}",
        output.stdout
    );
}

#[test]
fn retry_uses_the_policy_and_explains_what_it_declines() {
    let test = Test::new()
        .taskfile("net: echo 'Could not resolve host' >&2; exit 6\nreal: exit 2\nafter_real: true [after:real]\n")
        .file("policy.rhai", "fn should_retry(task) { task.exit_code == 6 }\n")
        .file("broken.rhai", "fn should_retry(task) { throw \"policy bug\"; }\n");
    test.with_args(&["run", "tasks.txt", "--quiet"])
        .status(1)
        .run();
    // `net` still fails.
    test.with_args(&["retry", "1", "--policy", "policy.rhai", "--jobs", "1"])
        .status(1)
        .stdout_starts_with(
            "Not retried: real (declined by should_retry), after_real (waits for real)\n\
             Retrying 1 failed task from run #1...\n",
        )
        .run();
    let output = test
        .with_args(&["retry", "1", "--policy", "broken.rhai", "--quiet"])
        .stderr_contains("policy bug")
        .stderr_contains("should_retry failed; tasks are retried as if it were not defined")
        .run();
    assert_eq!(
        output.stderr.matches("× script error: policy bug").count(),
        1,
        "{}",
        output.stderr
    );
    test.with_args(&["retry", "1", "--policy", "tasks.txt"])
        .status(2)
        .run();
}

#[test]
fn retry_of_an_evaluated_task_loads_the_script_again() {
    let test = Test::new().file(
        "Taskfile.rhai",
        "task(\"check\", || { if !file_exists(\"ready\") { throw \"not ready\"; } print(\"ready\"); });\n",
    );
    test.with_args(&["run", "Taskfile.rhai", "--quiet"])
        .status(1)
        .run();
    std::fs::write(test.path().join("ready"), "").unwrap();
    test.with_args(&["retry", "last", "--quiet"])
        .status(0)
        .run();
    std::fs::remove_file(test.path().join("Taskfile.rhai")).unwrap();
    test.with_args(&["retry", "1"])
        .status(2)
        .stderr_contains("cannot retry run #1: its script")
        .run();
}

#[test]
fn a_cycle_among_scripted_tasks_points_into_the_script() {
    let test = Test::new().file(
        "Taskfile.rhai",
        "task(\"a\", \"true\").after(\"c\");\ntask(\"b\", \"true\").after(\"a\");\ntask(\"c\", \"true\").after(\"b\");\n",
    );
    test.with_args(&["check", "Taskfile.rhai"])
        .status(2)
        .stderr_contains("× dependency cycle: a → c → b → a")
        .stderr_contains("╭─[Taskfile.rhai:1:26]")
        .stderr_contains("`a` waits for `c`")
        .stderr_contains("`c` waits for `b`")
        .stderr_contains("`b` waits for `a`")
        .run();
}

#[test]
fn scripts_declare_pools_and_soft_dependencies() {
    let test = Test::new().file(
        "Taskfile.rhai",
        r#"
        pool("net", 1);
        task("broken", "exit 1");
        for i in 0..3 {
            task(`fetch_${i}`, "echo + >> net.log; sleep 0.1; echo - >> net.log").pool("net");
        }
        task("cleanup", "echo cleaned > cleanup.out").after_done(["broken", "fetch_2"]);
        "#,
    );
    test.with_args(&["run", "Taskfile.rhai", "--jobs", "4"])
        .status(1)
        .run();
    let log = std::fs::read_to_string(test.path().join("net.log")).unwrap();
    assert_eq!(log, "+\n-\n+\n-\n+\n-\n", "one `net` task at a time");
    assert_eq!(
        std::fs::read_to_string(test.path().join("cleanup.out")).unwrap(),
        "cleaned\n"
    );
    test.with_args(&["graph", "Taskfile.rhai"])
        .stdout_contains("\"broken\" -> \"cleanup\" [style=dashed];")
        .run();
    // retry runs the failed task again with the same pools.
    test.with_args(&["retry", "last", "--quiet"])
        .status(1)
        .stdout_contains("Run completed: 0 passed, 1 failed, 0 skipped")
        .run();
}

/// A closure task reads as a process of it would: from its `.dir()`, with
/// its `.env()`; the script's top level and its hooks read as before.
#[test]
fn closures_read_in_their_directory_with_their_variables() {
    let test = Test::new().file("sub/marker", "").file(
        "Taskfile.rhai",
        r#"
let at_top = file_exists("marker");
task("look", || {
    print(`${file_exists("marker")} ${env_var("FOO")} ${at_top}`);
}).dir("sub").env("FOO", "x");
fn on_finish(run) { write_file("hook.txt", `${file_exists("marker")} ${env_var("FOO")}`); }
"#,
    );
    test.with_args(&["run", "Taskfile.rhai", "--quiet"])
        .status(0)
        .run();
    let shown = test
        .with_args(&["show", "1", "--task", "look"])
        .status(0)
        .run()
        .stdout;
    assert!(shown.contains("--- stdout ---\ntrue x false\n"), "{shown}");
    assert_eq!(
        std::fs::read_to_string(test.path().join("hook.txt")).unwrap(),
        "false "
    );
}
