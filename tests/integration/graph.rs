//! `taskrun graph`: DOT and Mermaid output.

use crate::harness::Test;

const TASKS: &str = "a: true\nb: true [after:a]\nc: true [after:a,b]\n";

#[test]
fn dot_by_default() {
    Test::new()
        .taskfile(TASKS)
        .args(&["graph", "tasks.txt"])
        .status(0)
        .stdout(
            "digraph tasks {\n    rankdir=LR;\n    node [shape=box];\n    \"a\";\n    \"b\";\n    \"c\";\n    \"a\" -> \"b\";\n    \"a\" -> \"c\";\n    \"b\" -> \"c\";\n}\n",
        )
        .run();
}

#[test]
fn mermaid() {
    Test::new()
        .taskfile(TASKS)
        .args(&["graph", "tasks.txt", "--format", "mermaid"])
        .status(0)
        .stdout(
            "flowchart LR\n    t0[\"a\"]\n    t1[\"b\"]\n    t2[\"c\"]\n    t0 --> t1\n    t0 --> t2\n    t1 --> t2\n",
        )
        .run();
}

#[test]
fn invalid_file_prints_diagnostics_not_a_graph() {
    Test::new()
        .taskfile("a: true [after:b]\n")
        .args(&["graph", "tasks.txt"])
        .status(2)
        .stdout("")
        .stderr_contains("graph::unknown_dependency")
        .run();
}

#[test]
fn unknown_format_is_a_usage_error() {
    Test::new()
        .taskfile(TASKS)
        .args(&["graph", "tasks.txt", "--format", "svg"])
        .status(2)
        .stderr_contains("possible values: dot, mermaid")
        .run();
}

/// A reader that goes away early (`| head -1`) ends taskrun quietly.
#[test]
fn closed_pipe_is_not_an_error() {
    let tasks: String = (0..100_000).map(|i| format!("t{i}: true\n")).collect();
    let test = Test::new().taskfile(tasks);
    let output = crate::harness::command_for("bash")
        .arg("-c")
        .arg(format!(
            "{} graph tasks.txt | head -n 1; echo \"status ${{PIPESTATUS[0]}}\"",
            crate::harness::binary().display()
        ))
        .current_dir(test.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "digraph tasks {\nstatus 0\n"
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
