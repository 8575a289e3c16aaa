//! The display on a real terminal: taskrun runs inside tmux, in a window
//! of a chosen size that a test can resize mid-run, and the screen is read
//! back with `capture-pane`, as a person would see it. What taskrun wrote,
//! escape codes and all, is kept too (`pipe-pane`), for what it did with
//! the cursor and colour.
//!
//! Without tmux these tests say `skipped: tmux is not installed` and check
//! nothing, unless `TASKRUN_REQUIRE_TMUX` is set (CI sets it once it has
//! installed tmux), when they fail. Colour forced into a pipe needs no
//! terminal and is checked either way.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use unicode_width::UnicodeWidthStr;

use crate::harness::{Test, binary, command_for, masked};

/// Long enough to be cut at any width: 160 columns.
const KANJI: &str = "漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字\
                     漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字";
const KANA: &str = "かなカナかなカナかなカナかなカナかなカナかなカナかなカナかなカナかなカナかなカナ\
                    かなカナかなカナかなカナかなカナかなカナかなカナかなカナかなカナかなカナかなカナ";

/// Whether tmux can be run; if not, says the test is skipped (or fails it,
/// when CI said tmux must be there).
fn have_tmux() -> bool {
    let found = command_for("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        assert!(
            std::env::var_os("TASKRUN_REQUIRE_TMUX").is_none(),
            "tmux is not installed, and TASKRUN_REQUIRE_TMUX is set"
        );
        eprintln!("skipped: tmux is not installed");
    }
    found
}

/// A tmux server of its own (its socket in the test directory, so that
/// no other tmux is touched), with one window that runs taskrun in the
/// test directory. Dropping it stops the server.
struct Tmux {
    socket: PathBuf,
    dir: PathBuf,
}

impl Tmux {
    /// A window `columns` wide and `rows` high that, once [`Tmux::start`]
    /// is called, runs `taskrun ARGS` (after the shell assignments `env`),
    /// writes its exit status to `status`, and then stays open, so that
    /// its screen can still be read.
    fn open(test: &Test, columns: u16, rows: u16, env: &str, args: &str) -> Tmux {
        let dir = test.path().to_owned();
        let script = format!(
            "while [ ! -e start ]; do sleep 0.02; done\n\
             {env} '{}' {args}\n\
             echo $? > status\n\
             exec sleep 600\n",
            binary().display()
        );
        std::fs::write(dir.join("run.sh"), script).unwrap();
        let tmux = Tmux {
            socket: dir.join("tmux.sock"),
            dir,
        };
        let (columns, rows) = (columns.to_string(), rows.to_string());
        let dir = tmux.dir.display().to_string();
        tmux.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &columns,
            "-y",
            &rows,
            "-c",
            &dir,
            "sh run.sh",
        ]);
        let raw = tmux.dir.join("raw.log");
        tmux.tmux(&[
            "pipe-pane",
            "-t",
            "t",
            "-o",
            &format!("cat > '{}'", raw.display()),
        ]);
        tmux
    }

    /// Runs a tmux command against this server, and returns its output.
    fn tmux(&self, args: &[&str]) -> String {
        let output = command_for("tmux")
            // UTF-8 whatever the locale, and no user's configuration.
            .arg("-u")
            .arg("-f")
            .arg("/dev/null")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            // A test run from inside tmux must not talk to that one.
            .env_remove("TMUX")
            .output()
            .expect("tmux can be started");
        assert!(
            output.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Lets taskrun start.
    fn start(&self) {
        std::fs::write(self.dir.join("start"), "").unwrap();
    }

    /// The screen's lines (`history` adds those scrolled off it),
    /// trailing blanks trimmed; with `join`, a line the terminal wrapped
    /// is one line again.
    fn lines(&self, history: bool, join: bool) -> Vec<String> {
        let mut args = vec!["capture-pane", "-p", "-t", "t"];
        if join {
            args.push("-J");
        }
        if history {
            args.extend(["-S", "-"]);
        }
        let text = self.tmux(&args);
        let mut lines: Vec<String> = text
            .lines()
            .map(|line| line.trim_end().to_owned())
            .collect();
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        lines
    }

    /// The screen and its history, each line whole.
    fn screen(&self) -> Vec<String> {
        self.lines(true, true)
    }

    /// Waits (up to a minute) until the screen shows what `ready` looks
    /// for, and returns it.
    #[track_caller]
    fn wait_for(&self, what: &str, ready: impl Fn(&[String]) -> bool) -> Vec<String> {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the screen never showed {what}:\n{}",
                screen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (up to a minute) for taskrun to end, and returns its exit
    /// status.
    #[track_caller]
    fn finish(&self) -> i32 {
        let start = Instant::now();
        loop {
            if let Ok(status) = std::fs::read_to_string(self.dir.join("status"))
                && let Ok(status) = status.trim().parse()
            {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "taskrun did not end; the screen:\n{}",
                self.screen().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What taskrun wrote to the terminal, escapes and all.
    fn raw(&self) -> String {
        // pipe-pane's `cat` may not have written the last bytes yet.
        std::thread::sleep(Duration::from_millis(200));
        let bytes = std::fs::read(self.dir.join("raw.log")).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = command_for("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .env_remove("TMUX")
            .output();
    }
}

/// The columns `line` takes on the screen.
fn width(line: &str) -> usize {
    line.width()
}

/// The lines of task results (`[i/N] …`) among `lines`.
fn results(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|line| line.starts_with('[')).collect()
}

/// The column the status word of a result line starts at.
fn status_column(line: &str) -> usize {
    let at = [" PASSED", " FAILED", " SKIPPED"]
        .iter()
        .find_map(|word| line.find(word))
        .unwrap_or_else(|| panic!("no status in {line:?}"));
    width(&line[..at]) + 1
}

/// No row of the live view is left anywhere, on the screen or above it.
#[track_caller]
fn assert_no_live_rows(lines: &[String]) {
    let stale: Vec<&String> = lines
        .iter()
        .filter(|line| line.contains('▸') || line.contains(" running, "))
        .collect();
    assert!(
        stale.is_empty(),
        "live rows were left on the screen: {stale:#?}\nthe screen:\n{}",
        lines.join("\n")
    );
}

/// Every result line's status starts at `column`.
#[track_caller]
fn assert_status_column(lines: &[&String], column: usize) {
    for line in lines {
        assert_eq!(status_column(line), column, "the status column of {line:?}");
    }
}

/// A task file whose tasks print CJK text (wider than any of the widths
/// tested) for a while, so that the live view is drawn several times with
/// it, beside a command with emoji, one with a combining accent and a
/// long name.
fn wide_tasks() -> String {
    format!(
        "kanji: for i in 1 2 3 4 5 6 7 8; do echo {KANJI}; sleep 0.1; done\n\
         kana: for i in 1 2 3 4 5 6 7 8; do echo {KANA}; sleep 0.1; done\n\
         rocket: echo \"🚀 liftoff 🚀 orbit 🚀 and a long way on\"; sleep 0.6\n\
         accents: echo \"cafe\u{301} cre\u{300}me bru\u{302}le\u{301}e and more\"; sleep 0.4\n\
         a_task_with_a_rather_long_name_for_a_narrow_screen: sleep 0.3\n\
         last: echo {KANJI} [after:kanji,kana]\n"
    )
}

#[test]
fn the_display_fits_40_80_and_120_columns() {
    if !have_tmux() {
        return;
    }
    for (columns, column) in [(40, 23), (80, 41), (120, 41)] {
        let test = Test::new().taskfile(wide_tasks());
        let tmux = Tmux::open(&test, columns, 50, "", "run tasks.txt --jobs 5");
        tmux.start();
        let during = tmux.wait_for("the live view with CJK text", |screen| {
            screen
                .iter()
                .any(|line| line.starts_with("  ▸ kanji (") && line.contains("漢字"))
        });
        assert_eq!(tmux.finish(), 0, "{}", tmux.screen().join("\n"));
        let screen = tmux.screen();
        let shown = screen.join("\n");

        // Nothing wrapped: the lines the terminal holds are the lines
        // taskrun wrote, each narrower than the screen.
        assert_eq!(
            tmux.lines(true, false).len(),
            screen.len(),
            "a line wrapped at {columns} columns:\n{shown}"
        );
        for line in screen.iter().chain(&during) {
            assert!(
                width(line) < usize::from(columns),
                "{line:?} is {} columns, at {columns}",
                width(line)
            );
        }
        assert_no_live_rows(&screen);
        let results = results(&screen);
        assert_eq!(results.len(), 6, "one line per task:\n{shown}");
        assert_status_column(&results, column);
        assert!(
            screen
                .iter()
                .any(|line| line.starts_with("[6/6] last") && line.contains("PASSED")),
            "{shown}"
        );
        if columns == 40 {
            // The summary is broken between its counts rather than cut.
            assert!(
                shown.contains("Run completed: 6 passed, 0 failed,\n  0 skipped"),
                "{shown}"
            );
        } else {
            assert!(
                shown.contains("Run completed: 6 passed, 0 failed, 0 skipped"),
                "{shown}"
            );
        }

        // The live view was redrawn several times with the CJK text
        // (output alone does not redraw it: the redraws did), erased line
        // by line, and the status words were in colour.
        let raw = tmux.raw();
        let with_kanji = raw
            .split("  ▸ kanji (")
            .skip(1)
            .filter(|row| row.lines().next().is_some_and(|row| row.contains("漢字")))
            .count();
        assert!(
            with_kanji >= 3,
            "the live view was drawn {with_kanji} times with CJK text: {raw:?}"
        );
        assert!(raw.contains("\x1b[F\x1b[2K"), "{raw:?}");
        assert!(raw.contains("\x1b[1;32mPASSED\x1b[0m"), "{raw:?}");
    }
}

#[test]
fn a_window_narrowed_mid_run_leaves_no_stale_rows() {
    if !have_tmux() {
        return;
    }
    let mut tasks = String::new();
    for i in 1..=6 {
        tasks.push_str(&format!("early_{i}: echo {KANJI}; sleep 0.{i}\n"));
    }
    // The late tasks print wide lines until the test says `go`.
    tasks.push_str(&format!(
        "late_kanji: until [ -e go ]; do echo {KANJI}; sleep 0.1; done\n\
         late_kana: until [ -e go ]; do echo {KANA}; sleep 0.1; done\n\
         late_rocket: until [ -e go ]; do echo \"🚀 🚀 🚀 counting down, and a line long enough to be \
         cut at a hundred and twenty columns\"; sleep 0.1; done\n"
    ));
    let test = Test::new().taskfile(tasks);
    let tmux = Tmux::open(&test, 120, 50, "", "run tasks.txt --jobs 9");
    tmux.start();
    let wide = tmux.wait_for("the early tasks done, and wide live rows", |screen| {
        screen.iter().any(|line| line.starts_with("[6/9]"))
            && screen
                .iter()
                .any(|line| line.starts_with("  ▸ late_kanji (") && width(line) > 100)
    });
    for line in &wide {
        assert!(width(line) < 120, "{line:?} at 120 columns");
    }

    tmux.tmux(&["resize-window", "-t", "t", "-x", "40"]);
    // Redrawn at the new width, then several times more.
    tmux.wait_for("the live rows redrawn to fit 40 columns", |screen| {
        screen
            .last()
            .is_some_and(|line| line.contains(" running, ") && width(line) < 40)
    });
    std::thread::sleep(Duration::from_millis(600));
    let narrow = tmux.screen();
    let shown = narrow.join("\n");
    assert_eq!(
        narrow.iter().filter(|line| line.contains('▸')).count(),
        3,
        "one copy of the live rows, redrawn in place, and none left above:\n{shown}"
    );
    assert_eq!(
        narrow
            .iter()
            .filter(|line| line.contains(" running, "))
            .count(),
        1,
        "{shown}"
    );

    std::fs::write(test.path().join("go"), "").unwrap();
    assert_eq!(tmux.finish(), 0, "{}", tmux.screen().join("\n"));
    let screen = tmux.screen();
    let shown = screen.join("\n");
    assert_no_live_rows(&screen);
    let results = results(&screen);
    assert_eq!(results.len(), 9, "one line per task:\n{shown}");
    // Written at 120 columns (the terminal has rewrapped them since, and
    // capture-pane joins them again), and at 40.
    let (early, late): (Vec<&String>, Vec<&String>) =
        results.iter().partition(|line| line.contains("early_"));
    assert_status_column(&early, 41);
    assert_status_column(&late, 23);
    for line in &late {
        assert!(width(line) < 40, "{line:?} after the resize to 40");
    }
}

/// Live rows drawn from the top of the screen (nothing was printed
/// before them) are erased without saving a copy of them to the
/// scrollback at each redraw, as clearing the screen from its top-left
/// corner does in tmux.
#[test]
fn live_rows_at_the_top_of_the_screen_leave_no_copies() {
    if !have_tmux() {
        return;
    }
    let test = Test::new().taskfile(format!(
        "kanji: for i in 1 2 3 4 5 6; do echo {KANJI}; sleep 0.1; done\n"
    ));
    let tmux = Tmux::open(&test, 80, 30, "", "run tasks.txt");
    tmux.start();
    assert_eq!(tmux.finish(), 0);
    let raw = tmux.raw();
    assert!(
        raw.starts_with("  0 done, 0 running, 1 waiting · "),
        "{raw:?}"
    );
    let screen = tmux.screen();
    assert_no_live_rows(&screen);
    assert!(
        screen[0].starts_with("[1/1] kanji: for i in 1 2 3 4 5 6;… .... PASSED ("),
        "{screen:#?}"
    );
}

#[test]
fn a_dumb_terminal_gets_no_cursor_movement_and_no_colour() {
    if !have_tmux() {
        return;
    }
    let tasks = format!("kanji: for i in 1 2 3 4 5; do echo {KANJI}; sleep 0.1; done\nok: true\n");
    for (env, colour) in [("TERM=dumb", false), ("TERM=dumb CLICOLOR_FORCE=1", true)] {
        let test = Test::new().taskfile(&tasks);
        let tmux = Tmux::open(&test, 40, 30, env, "run tasks.txt");
        tmux.start();
        assert_eq!(tmux.finish(), 0);
        let raw = tmux.raw();
        for movement in ["\x1b[F", "\x1b[2K", "\x1b[J"] {
            assert!(!raw.contains(movement), "{env}: the cursor moved: {raw:?}");
        }
        assert!(!raw.contains('▸'), "{env}: no live rows: {raw:?}");
        assert_eq!(
            raw.contains("\x1b[1;32mPASSED\x1b[0m"),
            colour,
            "{env}: colour: {raw:?}"
        );
        if !colour {
            assert!(!raw.contains('\x1b'), "{env}: no escape at all: {raw:?}");
        }
        // Its lines still fit its width.
        let screen = tmux.screen();
        assert_eq!(tmux.lines(true, false).len(), screen.len(), "{screen:#?}");
        assert_status_column(&results(&screen), 23);
    }
}

/// `CLICOLOR_FORCE` colours output that is not a terminal, unless
/// `NO_COLOR` or `--color never` says otherwise; `0` forces nothing.
#[test]
fn clicolor_force_colours_a_pipe_unless_told_not_to() {
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let mut test = Test::new().taskfile("a: true\n");
        for (key, value) in env {
            test = test.env(key, value);
        }
        let mut all = args.to_vec();
        all.extend(["run", "tasks.txt"]);
        test.args(&all).status(0).run().stdout
    };
    let coloured = "\x1b[1;32mPASSED\x1b[0m";
    assert!(run(&[("CLICOLOR_FORCE", "1")], &[]).contains(coloured));
    assert!(!run(&[], &[]).contains('\x1b'));
    assert!(!run(&[("CLICOLOR_FORCE", "0")], &[]).contains('\x1b'));
    assert!(!run(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], &[]).contains('\x1b'));
    assert!(!run(&[("CLICOLOR_FORCE", "1")], &["--color", "never"]).contains('\x1b'));
    // Forced colour changes nothing else: the layout is the plain one.
    let forced = run(&[("CLICOLOR_FORCE", "1")], &[]).replace(coloured, "PASSED");
    assert_eq!(masked(&forced), masked(&run(&[], &[])));
}
