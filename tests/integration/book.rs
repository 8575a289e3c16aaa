//! The book is executable: every `console` block in `book/src` and in the
//! README is run and must print exactly what the page says (measured
//! durations aside).
//!
//! A block is a shell transcript. Lines starting with `$ ` are commands;
//! the lines after a command, up to the next command, are its output
//! (stdout and stderr together). The commands of one block run in one
//! shell with the `taskrun` under test first on `PATH`, so `$ echo $?`
//! shows the previous command's exit status. Each block runs in a fresh
//! directory holding `examples/`, shown as `/home/me/project`, with no
//! history yet, `TZ=UTC` and a `TMPDIR` of its own.

use std::process::Command;

use crate::harness::{
    binary, book_pages, book_text, command_for, diff, mask_durations, mask_times, root,
};

/// Where the transcripts say they run.
const SHOWN_PROJECT: &str = "/home/me/project";

/// A fresh project directory for one transcript: `examples/` (a link to
/// the repository's) and no history yet, so run numbers start at 1.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root().join("examples"), dir.path().join("examples")).unwrap();
    dir
}

struct Block {
    file: String,
    line: usize,
    commands: Vec<String>,
    expected: String,
}

fn console_blocks() -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut files = book_pages();
    files.push(root().join("README.md"));
    for path in files {
        let text = std::fs::read_to_string(&path).expect("book pages are UTF-8");
        let file = path.strip_prefix(root()).unwrap().display().to_string();
        let mut current: Option<Block> = None;
        for (index, line) in text.lines().enumerate() {
            match &mut current {
                None if line.trim_end() == "```console" => {
                    current = Some(Block {
                        file: file.clone(),
                        line: index + 1,
                        commands: Vec::new(),
                        expected: String::new(),
                    });
                }
                None => {}
                Some(_) if line.trim_end() == "```" => blocks.push(current.take().unwrap()),
                Some(block) => {
                    if let Some(command) = line.strip_prefix("$ ") {
                        block.commands.push(command.to_owned());
                    } else {
                        block.expected.push_str(line);
                        block.expected.push('\n');
                    }
                }
            }
        }
    }
    blocks
}

/// Replaces what differs from run to run: measured durations such as
/// `(0.2s)`, `(12.45s)` or `(1m05s)` become `(…)`, and date-times such as
/// `2024-01-15 14:30:22` become `YYYY-MM-DD hh:mm:ss` (the harness's
/// masks), and so do Slurm's job numbers, the measured numbers of the
/// machine-readable reports, and the start time and host of a JUnit
/// report.
fn mask(text: &str) -> String {
    unpad_masked(&mask_jobs(&mask_attributes(&mask_measured(&mask_times(
        &mask_durations(text),
    )))))
}

/// The spaces before a masked value become one: a table pads a measured
/// `0.1s` one space more than a `0.05s`, and which of the two a run
/// measures is not the page's to say.
fn unpad_masked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut spaces = 0;
    for c in text.chars() {
        if c == ' ' {
            spaces += 1;
            continue;
        }
        if spaces > 0 {
            let keep = if c == '…' { 1 } else { spaces };
            out.extend(std::iter::repeat_n(' ', keep));
            spaces = 0;
        }
        out.push(c);
    }
    out.extend(std::iter::repeat_n(' ', spaces));
    out
}

#[test]
fn the_padding_of_masked_values_does_not_count() {
    assert_eq!(
        mask("  check     3  0.05s   0.1s  -"),
        "  check     3 … …  -"
    );
}

/// The values of the XML attributes that differ from run to run and from
/// machine to machine, as in `timestamp="2026-12-01T14:02:28Z"` and
/// `hostname="ci-7"`, become `…`.
fn mask_attributes(text: &str) -> String {
    let mut out = text.to_owned();
    for key in [" timestamp=\"", " hostname=\""] {
        let mut masked = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(key) {
            let (before, after) = rest.split_at(at + key.len());
            masked.push_str(before);
            let value = after.find('"').unwrap_or(after.len());
            masked.push('…');
            rest = &after[value..];
        }
        masked.push_str(rest);
        out = masked;
    }
    out
}

/// Slurm's job numbers, as in `Slurm job: 31, step 0, on node7`, become
/// `Slurm job: …`; an allocation's line (`Slurm allocation 31: …`, how
/// much the cluster gave) becomes `Slurm allocation …`.
fn mask_jobs(text: &str) -> String {
    text.lines()
        .map(|line| {
            for start in ["Slurm job: ", "Slurm allocation "] {
                if line.starts_with(start) {
                    return format!("{start}…");
                }
            }
            line.to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if text.ends_with('\n') { "\n" } else { "" }
}

/// Replaces the measured numbers of the machine-readable reports, as in
/// `"time":1795516183.62`, `"duration_ms":12` and `time="0.104"`, with `…`.
fn mask_measured(text: &str) -> String {
    let mut out = text.to_owned();
    for key in ["\"time\":", "\"duration_ms\":", "\"delay_ms\":", " time=\""] {
        let mut masked = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(key) {
            let (before, after) = rest.split_at(at + key.len());
            masked.push_str(before);
            let number = after
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .unwrap_or(after.len());
            if number > 0 {
                masked.push('…');
            }
            rest = &after[number..];
        }
        masked.push_str(rest);
        out = masked;
    }
    out
}

#[test]
fn times_are_masked() {
    assert_eq!(
        mask("#1 | 2026-11-24 08:16:47 | x (0.5s)"),
        "#1 | YYYY-MM-DD hh:mm:ss | x (…)"
    );
    assert_eq!(
        mask("2026-12-02T02:31:05.123Z started test (attempt 1)"),
        "YYYY-MM-DDThh:mm:ss.sssZ started test (attempt 1)"
    );
}

#[test]
fn report_times_and_hosts_are_masked() {
    assert_eq!(
        mask(r#"<testsuite name="a" timestamp="2026-12-01T14:02:28Z" hostname="ci-7">"#),
        r#"<testsuite name="a" timestamp="…" hostname="…">"#
    );
}

#[test]
fn measured_numbers_are_masked() {
    assert_eq!(
        mask(r#"{"time":1795516183.62,"duration_ms":0,"x":1} <t time="0.104">"#),
        r#"{"time":…,"duration_ms":…,"x":1} <t time="…">"#
    );
}

#[test]
fn every_console_block_in_the_book_matches_the_binary() {
    let blocks = console_blocks();
    assert!(blocks.len() >= 5, "the book has transcripts to check");
    let bin_dir = binary().parent().unwrap().to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut failures = Vec::new();
    let have_sqlite3 = Command::new("sqlite3").arg("--version").output().is_ok();
    let have_slurm = Command::new("scontrol")
        .arg("ping")
        .output()
        .is_ok_and(|ping| String::from_utf8_lossy(&ping.stdout).contains("is UP"));
    for block in &blocks {
        let on_slurm = block
            .commands
            .iter()
            .any(|command| command.contains("--executor slurm"));
        if on_slurm && !have_slurm {
            assert!(
                std::env::var_os("TASKRUN_REQUIRE_SLURM").is_none(),
                "{}:{} needs Slurm, and TASKRUN_REQUIRE_SLURM is set",
                block.file,
                block.line
            );
            eprintln!(
                "skipped {}:{}: no Slurm cluster answers",
                block.file, block.line
            );
            continue;
        }
        if !have_sqlite3
            && block
                .commands
                .iter()
                .any(|command| command.starts_with("sqlite3"))
        {
            eprintln!(
                "skipped {}:{}: the sqlite3 client is not installed",
                block.file, block.line
            );
            continue;
        }
        let script = format!("exec 2>&1\n{}\n", block.commands.join("\n"));
        let project = project();
        // A temporary directory of the block's own: what examples keep
        // there (`examples/flaky.txt` counts its runs) starts afresh.
        let temporary = tempfile::tempdir().unwrap();
        let output = command_for("/bin/sh")
            .arg("-c")
            .arg(&script)
            .current_dir(project.path())
            .env("PATH", &path)
            .env("TMPDIR", temporary.path())
            .output()
            .expect("sh can be started");
        let actual = String::from_utf8_lossy(&output.stdout)
            .replace(&project.path().display().to_string(), SHOWN_PROJECT);
        let (expected, actual) = (mask(&block.expected), mask(&actual));
        if actual != expected {
            failures.push(format!(
                "{}:{}: `{}`\n(- the page says, + taskrun printed, both masked)\n{}",
                block.file,
                block.line,
                block.commands.join("; "),
                diff(&expected, &actual)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every diagnostic code in the source is explained in the book: those of
/// the task file as sections of "The task file" (or of "TOML and JSON task
/// files"), every other one at least by name.
#[test]
fn every_diagnostic_code_is_documented() {
    let mut codes: Vec<String> = Vec::new();
    for file in ["src/error.rs", "src/record/store.rs"] {
        let source = std::fs::read_to_string(root().join(file)).unwrap();
        codes.extend(
            source
                .split("code(")
                .skip(1)
                .filter_map(|rest| rest.split(')').next())
                .filter(|code| code.contains("::"))
                .map(str::to_owned),
        );
    }
    assert!(codes.len() >= 35, "found the codes: {codes:?}");
    // The task file's diagnostics, and those of its TOML and JSON forms.
    let task_file = std::fs::read_to_string(root().join("book/src/task-file.md")).unwrap()
        + std::fs::read_to_string(root().join("book/src/structured.md"))
            .unwrap()
            .as_str();
    let book = book_text();
    let missing: Vec<_> = codes
        .iter()
        .filter(|code| {
            if code.starts_with("taskfile::") || code.starts_with("graph::") {
                !task_file.contains(&format!("### `{code}`"))
            } else {
                !book.contains(&format!("`{code}`"))
            }
        })
        .collect();
    assert!(
        missing.is_empty(),
        "not documented in the book: {missing:?}"
    );
}
