//! taskrun as a broker: two clients of one program submit work to one
//! broker while it runs, each with its own handler. The `ingest` client
//! sends a burst that overflows the broker's tiny queue, sees the
//! rejections and sends those again with `submit_wait`; the `ui` client
//! starts a long render and cancels it, which skips what depended on it.
//! The broker logs into a directory of its own (a global log and one per
//! task) and mirrors each line of the global log here, as `log | …`.
//!
//!     cargo run --example broker

use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use taskrun::{Broker, BrokerConfig, Event, LogConfig, Rejected, Task};

fn main() -> ExitCode {
    let dir = std::env::temp_dir().join(format!("taskrun-broker-example-{}", std::process::id()));
    if let Err(error) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot make {}: {error}", dir.display());
        return ExitCode::FAILURE;
    }
    let config = BrokerConfig {
        jobs: 2,
        // At most two tasks wait to start: a burst of six overflows it.
        max_queue: 2,
        retries: 1,
        retry_delay: Duration::from_millis(100),
        retry_jitter: Duration::from_millis(20),
        default_dir: Some(dir.clone()),
        default_timeout: Some(Duration::from_secs(60)),
        log: Some(LogConfig::new(dir.join("logs")).mirror(|line| {
            if line.task.is_none() {
                println!("log | {}", line.text);
            }
        })),
        ..BrokerConfig::default()
    };
    let broker = match Broker::new(config) {
        Ok(broker) => broker,
        Err(error) => {
            eprintln!("cannot start the broker: {error}");
            return ExitCode::FAILURE;
        }
    };

    std::thread::scope(|scope| {
        scope.spawn(|| ingest(&broker));
        scope.spawn(|| ui(&broker));
    });

    let summary = match broker.shutdown(Duration::from_secs(30)) {
        Ok(summary) => summary,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    println!("broker: {}", summary.counts);
    let counts = summary.counts;
    if (
        counts.passed,
        counts.failed,
        counts.skipped,
        counts.canceled,
    ) == (6, 0, 1, 1)
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A handler that prints what happens to one task, for one client.
fn printer(client: &'static str, name: &str) -> impl FnMut(&Event) + Send + 'static {
    let name = name.to_owned();
    move |event| match event {
        Event::TaskOutput { bytes, .. } => {
            print!("{client}: {name} | {}", String::from_utf8_lossy(bytes));
        }
        Event::TaskRetrying { result, delay, .. } => println!(
            "{client}: {name} failed ({}), retrying in {}ms",
            result.exit,
            delay.as_millis()
        ),
        Event::TaskFinished { result, .. } => {
            println!("{client}: {name} {}", result.status.as_str());
        }
        Event::TaskSkipped { reason, .. } => println!("{client}: {name} skipped ({reason})"),
        _ => {}
    }
}

/// Six records at once; the queue takes what it can, and the rest are
/// sent again, waiting for a place.
fn ingest(broker: &Broker) {
    let mut handles = Vec::new();
    let mut rejected = Vec::new();
    for n in 1..=6 {
        let name = format!("record_{n}");
        // The third fails once, and is retried.
        let command = if n == 3 {
            format!("test -e {name}.seen || {{ touch {name}.seen; exit 1; }}; echo stored {n}")
        } else {
            format!("sleep 0.5; echo stored {n}")
        };
        let task = Task::new(&name, command);
        match broker.submit(task.clone(), printer("ingest", &name)) {
            Ok(handle) => handles.push(handle),
            Err(error @ Rejected::QueueFull { .. }) => {
                println!("ingest: {name} rejected: {error}");
                rejected.push(task);
            }
            Err(error) => println!("ingest: {name} refused: {error}"),
        }
    }
    for task in rejected {
        let name = task.name().to_owned();
        match broker.submit_wait(task, printer("ingest", &name), Duration::from_secs(30)) {
            Ok(handle) => {
                println!("ingest: {name} queued after waiting");
                handles.push(handle);
            }
            Err(error) => println!("ingest: {name} refused again: {error}"),
        }
    }
    for handle in handles {
        handle.wait();
    }
}

/// A long render, cancelled once it has shown it is under way; what
/// needed it is skipped.
fn ui(broker: &Broker) {
    let (started, on_start) = mpsc::channel();
    let mut print = printer("ui", "render");
    let submit = |task, handler| broker.submit_wait(task, handler, Duration::from_secs(30));
    let render = submit(
        Task::new("render", "echo rendering; sleep 30"),
        Box::new(move |event: &Event| {
            print(event);
            if matches!(event, Event::TaskOutput { .. }) {
                let _ = started.send(());
            }
        }) as Box<dyn FnMut(&Event) + Send>,
    );
    let Ok(render) = render else {
        println!("ui: render refused");
        return;
    };
    let publish = submit(
        Task::new("publish", "echo published").after(&render),
        Box::new(printer("ui", "publish")),
    );
    if on_start.recv_timeout(Duration::from_secs(30)).is_ok() {
        println!("ui: cancelling render");
        render.cancel();
    }
    render.wait();
    if let Ok(publish) = publish {
        publish.wait();
    }
}
