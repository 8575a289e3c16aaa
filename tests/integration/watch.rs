//! `taskrun run --watch`: a pass after each change to a declared input or
//! the task file, none for a task's own outputs, and Ctrl-C to end it.
//! Each test starts the real binary, waits on the database and on what it
//! prints (polling, with generous deadlines), and ends it with SIGINT.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::Test;

/// How long anything may take to show before a test gives up on it.
const DEADLINE: Duration = Duration::from_secs(10);

/// A `run --watch` in the background, its output collected as it comes;
/// killed if a test ends before it does.
struct Watching {
    child: Option<std::process::Child>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Watching {
    fn start(test: &Test, extra: &[&str]) -> Watching {
        let mut args = vec!["run", "tasks.txt", "--watch"];
        args.extend_from_slice(extra);
        let mut child = test.with_args(&args).spawn();
        let collect = |mut stream: Box<dyn Read + Send>| {
            let collected = Arc::new(Mutex::new(String::new()));
            let into = Arc::clone(&collected);
            std::thread::spawn(move || {
                let mut buffer = [0; 4096];
                while let Ok(read @ 1..) = stream.read(&mut buffer) {
                    into.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buffer[..read]));
                }
            });
            collected
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let stderr = collect(Box::new(child.stderr.take().unwrap()));
        Watching {
            child: Some(child),
            stdout,
            stderr,
        }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until `done` holds, or panics with what was printed.
    #[track_caller]
    fn until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGINT and waits for the exit status.
    fn interrupt(&mut self) -> i32 {
        let mut child = self.child.take().unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        // SAFETY: kill(2) on our own child, not yet waited for.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                panic!(
                    "taskrun did not end after SIGINT\nstdout:\n{}",
                    self.stdout()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How many runs are recorded as finished (0 before the database exists,
/// or while it cannot be read).
fn finished_runs(test: &Test) -> i64 {
    let path = test.path().join("taskrun.db");
    if !path.exists() {
        return 0;
    }
    let Ok(connection) =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    connection
        .query_row(
            "SELECT count(*) FROM runs WHERE finished_at IS NOT NULL",
            [],
            |row| row.get(0),
        )
        .unwrap_or(0)
}

/// All runs, finished or not.
fn all_runs(test: &Test) -> i64 {
    let connection = rusqlite::Connection::open(test.path().join("taskrun.db")).unwrap();
    connection
        .query_row("SELECT count(*) FROM runs", [], |row| row.get(0))
        .unwrap()
}

/// The status and command of task `name` in run `run`.
fn task(test: &Test, run: i64, name: &str) -> (String, String) {
    let connection = rusqlite::Connection::open(test.path().join("taskrun.db")).unwrap();
    connection
        .query_row(
            "SELECT status, command FROM task_results WHERE run_id = ?1 AND name = ?2",
            rusqlite::params![run, name],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap()
}

fn read(test: &Test, name: &str) -> String {
    std::fs::read_to_string(test.path().join(name)).unwrap_or_default()
}

fn write(test: &Test, name: &str, contents: &str) {
    std::fs::write(test.path().join(name), contents).unwrap();
}

// See: issue 14, item 9
#[test]
fn a_changed_input_runs_again_and_an_output_does_not() {
    let test = Test::new()
        .taskfile("b: cat in > out [inputs:in] [outputs:out]\n")
        .file("in", "one\n");
    let mut watching = Watching::start(&test, &[]);
    watching.until("run #1", || finished_runs(&test) == 1);
    assert_eq!(read(&test, "out"), "one\n");
    write(&test, "in", "two\n");
    watching.until("run #2 with the new input", || {
        finished_runs(&test) == 2 && read(&test, "out") == "two\n"
    });
    assert_eq!(task(&test, 2, "b").0, "passed");
    // The task's own output is not a change: no pass starts.
    write(&test, "out", "by hand\n");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(all_runs(&test), 2, "{}", watching.stdout());
    assert_eq!(watching.interrupt(), 0);
    let stdout = watching.stdout();
    assert!(
        stdout.contains("Watching 1 input and tasks.txt for changes (Ctrl-C to stop)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("Changed: in; running again\n"), "{stdout}");
    assert_eq!(stdout.matches("Changed:").count(), 1, "{stdout}");
}

// See: issue 14, item 9
#[test]
fn an_edited_task_file_runs_with_its_new_command() {
    let test = Test::new().taskfile("b: echo one > out [outputs:out]\n");
    let mut watching = Watching::start(&test, &[]);
    watching.until("run #1", || finished_runs(&test) == 1);
    // A task file that does not load is shown and waited on.
    write(&test, "tasks.txt", "b echo broken\n");
    watching.until("the diagnostic", || {
        watching.stderr().contains("taskfile::missing_colon")
            && watching
                .stdout()
                .matches("for changes (Ctrl-C to stop)")
                .count()
                == 2
    });
    write(&test, "tasks.txt", "b: echo two > out [outputs:out]\n");
    watching.until("run #2 with the new command", || {
        finished_runs(&test) == 2 && read(&test, "out") == "two\n"
    });
    assert_eq!(
        task(&test, 2, "b"),
        ("passed".to_owned(), "echo two > out".to_owned())
    );
    assert_eq!(watching.interrupt(), 0);
    let stdout = watching.stdout();
    assert!(
        stdout
            .contains("No task declares inputs; watching tasks.txt for changes (Ctrl-C to stop)\n"),
        "{stdout}"
    );
    assert_eq!(
        stdout
            .matches("Changed: tasks.txt; running again\n")
            .count(),
        2,
        "{stdout}"
    );
}

// See: issue 14, item 9
#[test]
fn ctrl_c_during_a_pass_ends_the_watch_with_that_pass_status() {
    let test = Test::new().taskfile("s: touch started && sleep 30 [inputs:in]\n");
    let mut watching = Watching::start(&test, &[]);
    watching.until("the task to start", || test.path().join("started").exists());
    assert_eq!(watching.interrupt(), 130);
    assert!(
        !watching.stdout().contains("Watching"),
        "{}",
        watching.stdout()
    );
}

#[test]
fn watch_and_dry_run_do_not_go_together() {
    Test::new()
        .taskfile("a: true\n")
        .args(&["run", "tasks.txt", "--watch", "--dry-run"])
        .status(2)
        .stderr_contains("cannot be used with")
        .run();
}
