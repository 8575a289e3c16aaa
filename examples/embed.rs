//! taskrun as a library: load a task file, run it with options of our
//! own, and follow it through its events.
//!
//!     cargo run --example embed -- examples/failure.txt

use std::process::ExitCode;
use std::time::Duration;

use taskrun::{Event, Exit, Runner, Tasks};

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/pipeline.txt".to_owned());
    let tasks = match Tasks::load(&path) {
        Ok(tasks) => tasks,
        Err(error) => {
            // The same diagnostic as `taskrun run` shows, with line and column.
            eprintln!("{error}");
            return ExitCode::from(2);
        }
    };
    let runner = Runner::new().jobs(2).timeout(Duration::from_secs(60));
    let run = runner.run(&tasks, |event| match event {
        Event::TaskStarted { task, .. } => println!("started  {}", tasks.name(*task)),
        Event::TaskFinished { task, result } => {
            let how = match &result.exit {
                Exit::Code(code) => format!("exit code {code}"),
                Exit::Signal(signal) => format!("killed by {signal}"),
                Exit::NotStarted(why) => why.clone(),
            };
            println!(
                "{:<8} {} ({how}; {} bytes of output)",
                result.status.as_str(),
                tasks.name(*task),
                result.stdout.total + result.stderr.total
            );
        }
        Event::TaskSkipped { task, reason } => {
            println!("skipped  {} ({reason})", tasks.name(*task));
        }
        _ => {}
    });
    match run {
        Ok(summary) => {
            let counts = summary.counts;
            println!(
                "{} passed, {} failed, {} skipped",
                counts.passed, counts.failed, counts.skipped
            );
            if counts.all_passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("cannot run: {error}");
            ExitCode::FAILURE
        }
    }
}
