//! The library's broker recording into the history that the binary
//! reads: one open run whose tasks appear as they finish.

use std::time::Duration;

use taskrun::{Broker, BrokerConfig, Status, Task};

use crate::harness::Test;

#[test]
fn a_recording_broker_is_an_open_run_until_it_shuts_down() {
    let test = Test::new();
    let db = test.path().join("taskrun.db");
    let broker = Broker::new(BrokerConfig {
        jobs: 2,
        retries: 0,
        retry_delay: Duration::from_millis(1),
        default_dir: Some(test.path().to_owned()),
        record: Some(db.clone()),
        ..BrokerConfig::default()
    })
    .unwrap();
    assert_eq!(broker.run_id(), Some(1));
    let build = broker
        .submit(Task::new("build", "echo built"), |_| {})
        .unwrap();
    let flaky = broker
        .submit(
            Task::new("flaky", "test -e once || { touch once; exit 1; }").retries(1),
            |_| {},
        )
        .unwrap();
    let failing = broker
        .submit(
            Task::new("broken", "echo oops >&2; exit 3").after(&build),
            |_| {},
        )
        .unwrap();
    let never = broker
        .submit(Task::new("never", "true").after(&failing), |_| {})
        .unwrap();
    assert_eq!(never.wait().status(), Status::Skipped);
    assert_eq!(flaky.wait().status(), Status::Passed);

    // While the broker lives, its run is open, with the tasks so far.
    let history = || test.exec(&["history"]);
    let open = history();
    let stdout = open.stdout.clone();
    // As the book shows it.
    assert!(stdout.contains("  #1 | "), "{stdout}");
    assert!(stdout.contains(" | running | open\n"), "{stdout}");
    let shown = test.exec(&["show", "1"]);
    let shown = shown.stdout.clone();
    assert!(shown.contains("Status: open"), "{shown}");
    assert!(shown.contains("(broker)"), "{shown}");
    let later = broker
        .submit(Task::new("later", "echo later"), |_| {})
        .unwrap();
    later.wait();
    // Cancelled by the host while it runs: its row says so.
    let stopped = broker
        .submit(Task::new("stopped", "sleep 30"), |_| {})
        .unwrap();
    while broker.running() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(stopped.cancel());
    assert_eq!(stopped.wait().status(), Status::Canceled);

    let summary = broker.shutdown(Duration::from_secs(10)).unwrap();
    assert_eq!(
        (
            summary.counts.passed,
            summary.counts.failed,
            summary.counts.skipped
        ),
        (3, 1, 1)
    );
    let closed = history();
    let stdout = closed.stdout.clone();
    assert!(stdout.contains("3 passed, 1 failed, 1 skipped"), "{stdout}");
    assert!(!stdout.contains("open"), "{stdout}");

    check_rows(&rusqlite::Connection::open(&db).unwrap());
}

/// The rows of the recording broker's run, once it is closed.
fn check_rows(db: &rusqlite::Connection) {
    let run: (String, i64, i64, i64) = db
        .query_row(
            "SELECT status, total_tasks, passed, failed FROM runs WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .unwrap();
    assert_eq!(run, ("completed".to_owned(), 6, 3, 1));
    let mut rows: Vec<(String, i64, String)> = db
        .prepare("SELECT name, attempt, status FROM tasks WHERE run_id = 1 ORDER BY name, attempt")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.sort();
    let expected = [
        ("broken", 1, "failed"),
        ("build", 1, "passed"),
        ("flaky", 1, "failed"),
        ("flaky", 2, "passed"),
        ("later", 1, "passed"),
        ("never", 1, "skipped"),
        ("stopped", 1, "canceled"),
    ];
    let expected: Vec<(String, i64, String)> = expected
        .iter()
        .map(|(name, attempt, status)| ((*name).to_owned(), *attempt, (*status).to_owned()))
        .collect();
    assert_eq!(rows, expected);
    let column = |column: &str, name: &str| -> String {
        db.query_row(
            &format!("SELECT {column} FROM tasks WHERE run_id = 1 AND name = ?1"),
            [name],
            |row| row.get(0),
        )
        .unwrap()
    };
    // The output is in the rows, as for any run, and why one was stopped.
    assert_eq!(column("stderr", "broken"), "oops\n");
    assert_eq!(column("reason", "stopped"), "canceled by its host");
}

/// A broker dropped without a shutdown still closes its run.
#[test]
fn a_dropped_broker_closes_its_run() {
    let test = Test::new();
    let db = test.path().join("taskrun.db");
    let broker = Broker::new(BrokerConfig {
        jobs: 1,
        default_dir: Some(test.path().to_owned()),
        record: Some(db.clone()),
        ..BrokerConfig::default()
    })
    .unwrap();
    let slow = broker
        .submit(Task::new("slow", "sleep 30"), |_| {})
        .unwrap();
    while broker.running() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(broker);
    assert_eq!(slow.end().unwrap().status(), Status::Canceled);
    let db = rusqlite::Connection::open(&db).unwrap();
    let (status, canceled): (String, i64) = db
        .query_row(
            "SELECT status, canceled FROM runs WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), canceled), ("interrupted", 1));
    let reason: String = db
        .query_row("SELECT reason FROM tasks WHERE name = 'slow'", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(reason, "broker shut down: stopped by SIGTERM");
}
