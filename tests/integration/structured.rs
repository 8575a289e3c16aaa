//! TOML and JSON task files: the same plans as the line format, multi-line
//! and `#!` commands, `eval` tasks, and every command that reads a task
//! file (`run`, `check`, `graph`, `--task`, `--dry-run`, `retry`,
//! `convert`, `schema`), with what they record.

use serde_json::Value;

use crate::harness::{Test, binary, command_for, root};

fn rows(test: &Test, sql: &str) -> Vec<Vec<String>> {
    let db = rusqlite::Connection::open(test.path().join("taskrun.db")).unwrap();
    let mut statement = db.prepare(sql).unwrap();
    let columns = statement.column_count();
    statement
        .query_map([], |row| {
            (0..columns)
                .map(|index| {
                    let value: rusqlite::types::Value = row.get(index)?;
                    Ok(match value {
                        rusqlite::types::Value::Null => "NULL".to_owned(),
                        rusqlite::types::Value::Integer(number) => number.to_string(),
                        rusqlite::types::Value::Real(number) => number.to_string(),
                        rusqlite::types::Value::Text(string) => string,
                        rusqlite::types::Value::Blob(bytes) => {
                            String::from_utf8_lossy(&bytes).into_owned()
                        }
                    })
                })
                .collect()
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The plan `check --json` prints, without the file's name.
fn plan(file: &str) -> Value {
    let output = Test::new()
        .args(&["check", "--json", root().join(file).to_str().unwrap()])
        .status(0)
        .run();
    let mut plan: Value = serde_json::from_str(&output.stdout).unwrap();
    plan.as_object_mut().unwrap().remove("file");
    plan
}

#[test]
fn the_three_formats_give_identical_plans() {
    let lines = plan("examples/pipeline.txt");
    assert_eq!(lines["tasks"].as_array().unwrap().len(), 6, "{lines}");
    assert_eq!(plan("examples/pipeline.toml"), lines);
    assert_eq!(plan("examples/pipeline.json"), lines);
}

const MIXED: &str = r#"
[defaults]
env = { WHO = "world" }

[[task]]
name = "shell"
command = """
set -e
for n in 1 2; do echo "hello $WHO $n"; done
cat <<END
a here-document
END
"""

[[task]]
name = "bash"
after = ["shell"]
script = """
#!/bin/bash
set -euo pipefail
words=(one two)
echo "bash: ${words[1]} ${BASH_VERSINFO[0]:+ok}"
"""

[[task]]
name = "python"
after = ["shell"]
command = '''
#!/usr/bin/env python3
import os
print("python:", os.environ["WHO"])
'''

[[task]]
name = "answer"
eval = '''
let x = 40;
print(`answer: ${x + 2}`);
'''

[[task]]
name = "thrower"
kind = "eval"
eval = '''
let a = 1;
throw "it broke";
'''
"#;

#[test]
fn multi_line_shebang_and_eval_tasks_run_and_are_recorded() {
    let test = Test::new().file("tasks.toml", MIXED);
    std::fs::create_dir(test.path().join("tmp")).unwrap();
    test.with_args(&["run", "--quiet"])
        .env("TMPDIR", test.path().join("tmp"))
        .status(1)
        .run();
    let stdout = |name: &str| {
        rows(
            &test,
            &format!("SELECT stdout FROM tasks WHERE name = '{name}'"),
        )[0][0]
            .clone()
    };
    assert_eq!(
        stdout("shell"),
        "hello world 1\nhello world 2\na here-document\n"
    );
    assert_eq!(stdout("bash"), "bash: two ok\n");
    assert_eq!(stdout("python"), "python: world\n");
    assert_eq!(stdout("answer"), "answer: 42\n");
    // A command of several lines reads as one block under its label.
    test.with_args(&["show", "1", "--task", "shell"])
        .status(0)
        .stdout_starts_with(
            "Task: shell\nRun: #1\nCommand: set -e\n         for n in 1 2; do echo \"hello $WHO $n\"; done\n         cat <<END\n",
        )
        .run();
    test.with_args(&["run", "--dry-run", "--task", "shell"])
        .status(0)
        .stdout_contains("shell: set -e\n       for n in 1 2;")
        .run();
    let thrower = rows(
        &test,
        "SELECT status, exit_code, stderr, kind, command FROM tasks WHERE name = 'thrower'",
    );
    assert_eq!(thrower[0][0], "failed");
    assert_eq!(thrower[0][1], "1");
    assert_eq!(thrower[0][2], "line 2: it broke\n");
    assert_eq!(thrower[0][3], "eval");
    assert_eq!(
        thrower[0][4],
        "\nlet a = 1;\nthrow \"it broke\";\n".trim_start()
    );
    // The script files of `#!` commands are gone once their tasks end.
    let left: Vec<_> = std::fs::read_dir(test.path().join("tmp"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn eval_tasks_run_in_their_directory_with_their_variables() {
    let test = Test::new().file("web/marker", "").file(
        "tasks.toml",
        r#"
[defaults]
env = { GREETING = "hi" }

[[task]]
name = "look"
dir = "web"
env = { WHO = "web" }
eval = '''
if !file_exists("marker") { throw "no marker"; }
print(`${env_var("GREETING")} ${env_var("WHO")} ${glob("*").len()}`);
'''

[[task]]
name = "here"
eval = 'print(file_exists("marker"))'
"#,
    );
    test.with_args(&["run", "--quiet"]).status(0).run();
    assert_eq!(
        rows(&test, "SELECT name, stdout FROM tasks ORDER BY position"),
        [["look", "hi web 1\n"], ["here", "false\n"]]
    );
}

#[test]
fn an_eval_task_whose_directory_is_missing_does_not_start() {
    let test = Test::new().file(
        "tasks.toml",
        "[[task]]\nname = 'e'\ndir = 'nowhere'\neval = 'print(1)'\n",
    );
    test.with_args(&["run", "--quiet"]).status(1).run();
    let row = rows(&test, "SELECT status, reason FROM tasks");
    assert_eq!(row[0][0], "failed");
    assert!(row[0][1].contains("nowhere"), "{row:?}");
}

#[test]
fn a_shebang_line_alone_is_a_comment_as_it_always_was() {
    let test = Test::new().taskfile("a: #!/bin/echo hi\nb: #! not-a-thing\n");
    test.with_args(&["run", "--quiet"]).status(0).run();
    assert_eq!(
        rows(
            &test,
            "SELECT name, status, stdout FROM tasks ORDER BY position"
        ),
        [["a", "passed", ""], ["b", "passed", ""]]
    );
}

#[test]
fn an_interpreter_that_does_not_exist_fails_the_task() {
    let test = Test::new().file(
        "tasks.toml",
        "[[task]]\nname = 'a'\ncommand = \"\"\"\n#!/no/such/interpreter\necho hi\n\"\"\"\n",
    );
    test.with_args(&["run", "--quiet"]).status(1).run();
    let row = rows(&test, "SELECT status, exit_code FROM tasks");
    assert_eq!(row, [["failed", "127"]]);
}

#[test]
fn an_eval_task_stops_at_its_timeout() {
    let test = Test::new().file(
        "tasks.json",
        r#"{"task": [{"name": "spin", "eval": "loop { }", "timeout": "300ms"}]}"#,
    );
    test.with_args(&["run", "--quiet"]).status(1).run();
    assert_eq!(rows(&test, "SELECT status FROM tasks"), [["timeout"]]);
}

#[test]
fn retry_runs_the_stored_commands_and_code() {
    let test = Test::new().file(
        "tasks.toml",
        r#"
[[task]]
name = "needs_flag"
command = """
set -e
test -f flag
echo "flag found"
"""

[[task]]
name = "needs_env"
eval = '''
if env_var("READY") == () { throw "not ready"; }
print("ready");
'''

[[task]]
name = "after_both"
after = ["needs_flag", "needs_env"]
command = "echo done"
"#,
    );
    test.with_args(&["run", "--quiet"]).status(1).run();
    std::fs::write(test.path().join("flag"), "").unwrap();
    // The task file changes; retry runs what the run recorded.
    std::fs::write(
        test.path().join("tasks.toml"),
        "[[task]]\nname = 'x'\ncommand = 'false'\n",
    )
    .unwrap();
    test.with_args(&["retry", "1", "--quiet"])
        .env("READY", "1")
        .status(0)
        .run();
    let retried = rows(
        &test,
        "SELECT name, status, kind, stdout FROM tasks WHERE run_id = 2 ORDER BY name",
    );
    assert_eq!(
        retried,
        [
            ["after_both", "passed", "shell", "done\n"],
            ["needs_env", "passed", "eval", "ready\n"],
            ["needs_flag", "passed", "shell", "flag found\n"],
        ]
    );
}

#[test]
fn retry_reads_the_task_file_in_the_format_the_run_did() {
    let test = Test::new()
        .file("pipeline.conf", "[[task]]\nname = 'base'\ncommand = 'echo base'\n")
        .file(
            "Taskfile.rhai",
            "task(\"check\", || { if !file_exists(\"flag\") { throw \"no flag\"; } print(\"flag\"); }).after(\"base\");\n",
        );
    test.with_args(&["run", "pipeline.conf", "--file-format", "toml", "--quiet"])
        .status(1)
        .run();
    assert_eq!(rows(&test, "SELECT file_format FROM runs"), [["toml"]]);
    std::fs::write(test.path().join("flag"), "").unwrap();
    test.with_args(&["retry", "1", "--quiet"]).status(0).run();
    assert_eq!(
        rows(
            &test,
            "SELECT name, status, stdout FROM tasks WHERE run_id = 2"
        ),
        [["check", "passed", "flag\n"]]
    );
    assert_eq!(
        rows(&test, "SELECT file_format FROM runs WHERE id = 2"),
        [["toml"]]
    );
}

#[test]
fn the_format_comes_from_the_name_or_the_flag() {
    let toml = "[[task]]\nname = 'a'\ncommand = 'echo from toml'\n";
    let test = Test::new().file("pipeline.conf", toml);
    // `.conf` is the line format, where this is not a task.
    test.with_args(&["check", "pipeline.conf"])
        .status(2)
        .stderr_contains("taskfile::missing_colon")
        .run();
    test.with_args(&["check", "pipeline.conf", "--file-format", "toml"])
        .status(0)
        .stdout("pipeline.conf: 1 task, 0 dependency edges, longest chain 1 task (a)\n")
        .run();
    // Standard input has no name: the flag says what it is.
    std::fs::write(
        test.path().join("in.json"),
        r#"{"task": [{"name": "b", "command": "echo from json"}]}"#,
    )
    .unwrap();
    let output = command_for("sh")
        .current_dir(test.path())
        .arg("-c")
        .arg(format!(
            "'{}' run - --file-format json --quiet < in.json",
            binary().display()
        ))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        rows(&test, "SELECT name, stdout FROM tasks"),
        [["b", "from json\n"]]
    );
}

#[test]
fn tasks_toml_is_a_default_task_file_and_takes_its_script() {
    let test = Test::new()
        .file(
            "tasks.toml",
            "[[task]]\nname = 'base'\ncommand = 'echo base'\n\n[[task]]\nname = 'calc'\neval = 'print(double(21))'\n",
        )
        .file(
            "Taskfile.rhai",
            "fn double(x) { x * 2 }\ntask(\"extra\", \"echo extra\").after(\"base\");\n",
        );
    test.with_args(&["check"])
        .status(0)
        .stdout("tasks.toml + Taskfile.rhai: 3 tasks, 1 dependency edge, longest chain 2 tasks (base → extra)\n")
        .run();
    test.with_args(&["run", "--quiet"]).status(0).run();
    assert_eq!(
        rows(&test, "SELECT name, stdout FROM tasks ORDER BY position"),
        [["base", "base\n"], ["calc", "42\n"], ["extra", "extra\n"]]
    );
}

#[test]
fn graph_task_selection_and_dry_run_read_toml() {
    let pipeline = root().join("examples/pipeline.toml");
    let pipeline = pipeline.to_str().unwrap();
    let test = Test::new();
    test.with_args(&["graph", pipeline, "--format", "mermaid"])
        .status(0)
        .stdout_contains("t1 --> t3")
        .run();
    test.with_args(&["run", pipeline, "--task", "lint", "--dry-run"])
        .status(0)
        .stdout_contains("fetch_deps")
        .stdout_lacks("unit_tests")
        .run();
    assert!(!test.path().join("taskrun.db").exists());
}

#[test]
fn problems_point_at_line_and_column() {
    let test = Test::new().file(
        "tasks.toml",
        "[[task]]\nname = \"a\"\ncommand = \"x\"\nafter = [\"b\"]\n\n[[task]]\nname = \"e\"\neval = \"let x = ;\"\n",
    );
    test.with_args(&["check", "--color", "never"])
        .status(2)
        .stderr_contains("graph::unknown_dependency")
        .stderr_contains("[tasks.toml:4:11]")
        .stderr_contains("taskfile::eval_syntax")
        .stderr_contains("[tasks.toml:8:17]")
        .stderr_contains("error: 2 problems in tasks.toml")
        .run();
    let test = Test::new().file(
        "tasks.toml",
        "[[task]]\nname = \"a\"\ncommand = \"x\"\n\n[[task]]\nname = \"a\"\ncommand = \"y\"\nafter = [\"a\"]\n",
    );
    test.with_args(&["check"])
        .status(2)
        .stderr_contains("graph::duplicate_task")
        .stderr_contains("[tasks.toml:6:9]")
        .stderr_contains("graph::self_dependency")
        .stderr_contains("[tasks.toml:8:11]")
        .run();
    let test = Test::new().file(
        "tasks.json",
        "{\"task\": [\n  {\"name\": \"a\", \"command\": \"x\", \"after\": [\"b\"]},\n  {\"name\": \"b\", \"command\": \"x\", \"after\": [\"a\"]}\n]}\n",
    );
    test.with_args(&["check"])
        .status(2)
        .stderr_contains("graph::cycle")
        .stderr_contains("[tasks.json:2:")
        .run();
}

#[test]
fn convert_round_trips_and_refuses_what_a_format_cannot_hold() {
    let test = Test::new();
    let pipeline = root().join("examples/pipeline.txt");
    let toml = test
        .with_args(&["convert", pipeline.to_str().unwrap(), "--to", "toml"])
        .status(0)
        .run()
        .stdout;
    std::fs::write(test.path().join("p.toml"), &toml).unwrap();
    let lines = test
        .with_args(&["convert", "p.toml", "--to", "lines"])
        .status(0)
        .run()
        .stdout;
    std::fs::write(test.path().join("p.txt"), &lines).unwrap();
    let json = test
        .with_args(&["convert", "p.txt", "--to", "json"])
        .status(0)
        .run()
        .stdout;
    std::fs::write(test.path().join("p.json"), &json).unwrap();
    let plans: Vec<Value> = ["p.toml", "p.txt", "p.json"]
        .iter()
        .map(|file| {
            let out = test
                .with_args(&["check", "--json", file])
                .status(0)
                .run()
                .stdout;
            let mut plan: Value = serde_json::from_str(&out).unwrap();
            plan.as_object_mut().unwrap().remove("file");
            plan
        })
        .collect();
    let original = plan("examples/pipeline.txt");
    for converted in &plans {
        assert_eq!(converted, &original);
    }
    let test = Test::new().file("tasks.toml", MIXED);
    test.with_args(&["convert", "tasks.toml", "--to", "lines"])
        .status(2)
        .stderr_contains(
            "task `shell` cannot be written in the lines format: its command has 5 lines",
        )
        .run();
    let test = Test::new().file(
        "tasks.toml",
        "[[task]]\nname = 'a'\ncommand = \"\"\"\nmake\n\"\"\"\n",
    );
    test.with_args(&["convert", "tasks.toml", "--to", "lines"])
        .status(0)
        .stdout("a: make\n")
        .run();
    let test = Test::new().file("tasks.toml", "[[task]]\nname = 'e'\neval = 'print(1)'\n");
    test.with_args(&["convert", "tasks.toml", "--to", "lines"])
        .status(2)
        .stderr_contains("it is an `eval` task")
        .run();
}

#[test]
fn the_schema_is_the_one_the_book_publishes() {
    let output = Test::new().args(&["schema"]).status(0).run();
    let published = std::fs::read_to_string(root().join("book/src/tasks.schema.json")).unwrap();
    assert_eq!(
        output.stdout, published,
        "run `taskrun schema > book/src/tasks.schema.json`"
    );
    let schema: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(schema["title"], "taskrun task file");
}
