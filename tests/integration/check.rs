//! `taskrun check`: valid files, every kind of bad input, and how
//! diagnostics are rendered.

use crate::harness::Test;

/// `taskrun check tasks.txt` with `contents` in `tasks.txt`.
fn check(contents: impl AsRef<[u8]>) -> Test {
    Test::new().taskfile(contents).args(&["check", "tasks.txt"])
}

#[test]
fn valid_file_prints_a_summary() {
    check("a: echo a\nb: echo b [after:a]\nc: echo c [after:a,b]\n")
        .status(0)
        .stdout("tasks.txt: 3 tasks, 3 dependency edges, longest chain 3 tasks (a → b → c)\n")
        .stderr("")
        .run();
}

#[test]
fn crlf_bom_tabs_and_indented_comments() {
    check(b"\xEF\xBB\xBF# header\r\n\t# indented\r\n\r\na\t:\techo a\r\nb :echo b [after:a]\r\n")
        .status(0)
        .stdout_starts_with("tasks.txt: 2 tasks, 1 dependency edge,")
        .run();
}

#[test]
fn commands_with_colons_and_brackets() {
    check(
        "a: [ -f x ] && echo yes\nb: echo \"[a]\" http://x:80/ [after:a]\nc: echo [after:x] stays text\n",
    )
    .status(0)
    .stdout_contains("3 tasks, 1 dependency edge")
    .run();
}

#[test]
fn very_long_line_is_accepted() {
    check(format!("long: echo {}\n", "x".repeat(50_000)))
        .status(0)
        .run();
}

#[test]
fn hundred_thousand_long_chain() {
    let mut text = String::from("t0: true\n");
    for i in 1..100_000 {
        text.push_str(&format!("t{i}: true [after:t{}]\n", i - 1));
    }
    check(&text)
        .status(0)
        .stdout_ends_with("longest chain 100000 tasks (t0 → t1 → … → t99998 → t99999)\n")
        .run();
    let closed = text.replacen("t0: true\n", "t0: true [after:t99999]\n", 1);
    check(closed)
        .status(2)
        .stderr_contains("dependency cycle: t0 → t99999 → t99998")
        .run();
}

#[test]
fn empty_and_comment_only_files_have_no_tasks() {
    for contents in ["", "# only a comment\n\n   # and another\n"] {
        check(contents)
            .status(2)
            .stderr_contains("graph::no_tasks")
            .stderr_contains("× no tasks defined")
            .stderr_ends_with("error: 1 problem in tasks.txt\n")
            .run();
    }
}

#[test]
fn non_utf8_bytes_point_at_the_line() {
    let output = check(b"ok: true\nbad: echo caf\xE9\n").status(2).run();
    insta::assert_snapshot!(output.stderr);
}

#[test]
fn utf16_file() {
    let output = check(b"\xFF\xFEa\x00:\x00 \x00t\x00r\x00u\x00e\x00")
        .status(2)
        .run();
    insta::assert_snapshot!(output.stderr);
}

#[test]
fn nul_byte_in_a_command() {
    let output = check(b"a: echo a\x00b\n").status(2).run();
    insta::assert_snapshot!(output.stderr);
}

#[test]
fn dependency_list_mistakes() {
    let output = check("a: true\nb: true [after:]\nc: true [after:a,,b]\nd: true [after:a b]\n")
        .status(2)
        .run();
    insta::assert_snapshot!(output.stderr);
}

#[test]
fn self_dependency_and_three_cycle() {
    let output =
        check("a: true [after:a]\nb: true [after:d]\nc: true [after:b]\nd: true [after:c]\n")
            .status(2)
            .run();
    insta::assert_snapshot!(output.stderr);
}

#[test]
fn problems_are_listed_in_file_order_and_capped() {
    let mut text = String::new();
    for i in 0..60 {
        text.push_str(&format!("t{i}: true [after:missing{i}]\n"));
    }
    let output = check(&text)
        .status(2)
        .stderr_ends_with("… and 10 more problems not shown\n\nerror: 60 problems in tasks.txt\n")
        .run();
    assert_eq!(
        output.stderr.matches("graph::unknown_dependency").count(),
        50
    );
    let first = output.stderr.find("missing0`").unwrap();
    let last = output.stderr.find("missing49`").unwrap();
    assert!(first < last);
    assert!(!output.stderr.contains("missing50`"));
}

#[test]
fn missing_file_and_directory() {
    Test::new()
        .args(&["check", "nope.txt"])
        .status(2)
        .stderr_contains("× cannot read task file `nope.txt`")
        .stderr_contains("No such file or directory")
        .run();
    Test::new()
        .file("dir/x", "")
        .args(&["check", "dir"])
        .status(2)
        .stderr_contains("taskfile::directory")
        .stderr_contains("× `dir` is a directory, not a task file")
        .stderr_contains("help: name the task file in it, or run there with `-C dir`")
        .run();
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    // No file and none to be found is not a usage error: see daily.rs.
    Test::new()
        .args(&["check", "--frobnicate"])
        .status(2)
        .stderr_contains("unexpected argument")
        .run();
    Test::new().args(&["frobnicate"]).status(2).run();
    Test::new()
        .args(&["--help"])
        .status(0)
        .stdout_contains("check")
        .run();
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let bad = "a: true [afer:b]\n";
    let plain = Test::new()
        .taskfile(bad)
        .args(&["check", "tasks.txt"])
        .run();
    assert!(!plain.stderr.contains('\x1b'), "no colour into a pipe");
    let forced = Test::new()
        .taskfile(bad)
        .args(&["check", "tasks.txt", "--color", "always"])
        .run();
    assert!(forced.stderr.contains('\x1b'), "colour when asked");
    let never = Test::new()
        .taskfile(bad)
        .args(&["--color", "never", "check", "tasks.txt"])
        .run();
    assert_eq!(never.stderr, plain.stderr);
}

/// On a real terminal colour is on, unless `NO_COLOR` is set. `script`
/// (util-linux) gives the binary a pseudo-terminal; without it the test
/// says so and checks nothing more.
#[test]
fn terminal_colour_respects_no_color() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let test = Test::new().taskfile("a: true [afer:b]\n");
    let run = |no_color: Option<&str>| {
        let mut command = crate::harness::command_for("script");
        command
            .args(["-qec"])
            .arg(format!(
                "{} check tasks.txt",
                crate::harness::binary().display()
            ))
            .arg("/dev/null")
            .current_dir(test.path());
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        String::from_utf8_lossy(&command.output().unwrap().stdout).into_owned()
    };
    let coloured = run(None);
    crate::harness::assert_contains(&coloured, "unknown attribute");
    assert!(
        coloured.contains('\x1b'),
        "colour on a terminal: {coloured:?}"
    );
    let plain = run(Some("1"));
    crate::harness::assert_contains(&plain, "unknown attribute");
    assert!(
        !plain.contains('\x1b'),
        "NO_COLOR turns colour off: {plain:?}"
    );
}
