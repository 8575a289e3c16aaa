//! The broker beside the library's `Runner::run`: 10,000 no-op tasks
//! (`true`) with the same `jobs`, neither recording. The broker's tasks
//! are submitted from 4 threads while it runs; the runner's are a task
//! set made in advance. Rounds alternate which goes first, so drift in
//! the machine's speed falls on both.
//!
//!     cargo bench --bench broker -- [ROUNDS] [TASKS] [JOBS]

use std::time::{Duration, Instant};

use taskrun::{Broker, BrokerConfig, Runner, Task, Tasks};

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter(|arg| arg != "--bench")
        .map(|arg| {
            arg.parse::<usize>()
                .expect("ROUNDS, TASKS and JOBS are numbers")
        });
    let rounds = args.next().unwrap_or(15);
    let tasks = args.next().unwrap_or(10_000);
    let jobs = args.next().unwrap_or(2);
    let mut runner_times = Vec::new();
    let mut broker_times = Vec::new();
    for round in 0..rounds {
        if round % 2 == 0 {
            runner_times.push(runner(tasks, jobs));
            broker_times.push(broker(tasks, jobs));
        } else {
            broker_times.push(broker(tasks, jobs));
            runner_times.push(runner(tasks, jobs));
        }
    }
    let runner = summary(&mut runner_times);
    let broker = summary(&mut broker_times);
    println!("{tasks} no-op tasks, jobs {jobs}, {rounds} interleaved rounds");
    println!(
        "Runner::run            median {:>7.1} ms  [{:.1} – {:.1}]",
        runner.0, runner.1, runner.2
    );
    println!(
        "Broker, 4 submitters   median {:>7.1} ms  [{:.1} – {:.1}]",
        broker.0, broker.1, broker.2
    );
    println!("broker / runner: {:.3}", broker.0 / runner.0);
}

fn runner(count: usize, jobs: usize) -> Duration {
    let start = Instant::now();
    let tasks = Tasks::from_tasks((0..count).map(|i| Task::new(format!("t{i}"), "true")), [])
        .expect("valid tasks");
    let summary = Runner::new()
        .jobs(jobs)
        .run(&tasks, |_| {})
        .expect("the run starts");
    assert_eq!(summary.counts.passed, count);
    start.elapsed()
}

fn broker(count: usize, jobs: usize) -> Duration {
    let start = Instant::now();
    let broker = Broker::new(BrokerConfig {
        jobs,
        max_queue: count,
        ..BrokerConfig::default()
    })
    .expect("the broker starts");
    std::thread::scope(|scope| {
        for client in 0..4 {
            let broker = &broker;
            scope.spawn(move || {
                for i in (client..count).step_by(4) {
                    broker
                        .submit(Task::new(format!("t{i}"), "true"), |_| {})
                        .expect("room for every task");
                }
            });
        }
    });
    let summary = broker
        .shutdown(Duration::from_secs(600))
        .expect("the broker stops");
    assert_eq!(summary.counts.passed, count);
    start.elapsed()
}

/// Median, lowest and highest, in milliseconds.
fn summary(times: &mut [Duration]) -> (f64, f64, f64) {
    times.sort();
    let ms = |time: Duration| time.as_secs_f64() * 1000.0;
    (
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
    )
}
