//! The consumers of a run's events, and the fan-out that feeds them.
//!
//! Every consumer of a run (the progress display, the recorder, the event
//! log, the task logs, the JUnit report, the script's hooks) is a
//! [`Sink`]: it receives each event, in order, on a thread of its own, and
//! finishes when the run is over. The [`Fanout`] is what the scheduler
//! emits to: it queues each event for every sink and, when the run is
//! over, finishes them one after the other, in the order they were given,
//! so that a sink can read what an earlier one wrote (the JUnit report
//! reads the recorded run).
//!
//! Queues are bounded unless a sink says otherwise: a sink that cannot
//! keep up (a slow disk, a reader of `--events -` that stopped reading)
//! holds the run back, as a terminal does, instead of queueing output
//! without end. Holding the run back must never hide Ctrl-C: while a queue
//! is full, the fan-out also watches the signal channel and, as soon as a
//! signal waits there, returns to the scheduler, which takes it. Once the
//! run is interrupted nothing waits for a sink until the run is over;
//! then a further signal abandons the sinks that have not finished. A
//! run that ended without one needs two while its sinks finish: the
//! first only says that the next one abandons them, so that a single
//! Ctrl-C after the last task cannot cost the run its record.
//!
//! Sinks never call back into the scheduler.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use crossbeam::channel::{self, Receiver, RecvTimeoutError, Select, Sender, TryRecvError};

use crate::error::Error;
use crate::event::{Event, Signal};

/// How many events may wait for a sink with a bounded queue. Output chunks
/// are up to 64 KiB, so this bounds what one sink can hold back.
const QUEUE: usize = 256;

/// A consumer of one run's events.
pub(crate) trait Sink: Send {
    /// Whether the sink wants [`Event::TaskOutput`], most of a chatty
    /// run's events.
    fn wants_output(&self) -> bool {
        true
    }

    /// How many events may wait for the sink; `None` for no bound (a sink
    /// that is never stuck for long, and that sleeps through batches).
    fn queue(&self) -> Option<usize> {
        Some(QUEUE)
    }

    /// Takes one event.
    fn receive(&mut self, event: Event);

    /// How the sink wants to wait for the next event.
    fn wait(&self) -> Wait {
        Wait::ForEvent
    }

    /// The moment [`Sink::wait`] asked for has come.
    fn tick(&mut self) {}

    /// No event is waiting now: write out what is buffered, so that
    /// nothing is left unshown while the run waits.
    fn idle(&mut self) {}

    /// The run is over and every event has been received: finish, and say
    /// what went wrong, if anything did.
    fn finish(self: Box<Self>) -> Result<(), Error>;
}

/// How a sink waits for its next event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Until it comes.
    ForEvent,
    /// Until it comes or this moment, whichever is first (a redraw).
    Until(Instant),
    /// Until this moment, letting events wait meanwhile (a batch window:
    /// a run of many short tasks does not wake the sink for each event).
    Sleep(Instant),
}

/// A sink that could not finish its work, and why.
#[derive(Debug)]
pub(crate) struct SinkProblem {
    /// The sink's name, as it was added.
    pub(crate) sink: &'static str,
    pub(crate) error: Error,
}

/// Hands every event of a run to each of its sinks.
pub(crate) struct Fanout {
    feeds: Vec<Feed>,
    signals: Receiver<Signal>,
    interrupted: bool,
}

struct Feed {
    name: &'static str,
    /// `None` once the sink is gone.
    sender: Option<Sender<Event>>,
    output: bool,
    /// Events not yet queued for the sink, oldest first: only while the
    /// run is interrupted (or a signal waits) and the sink's queue is full.
    backlog: VecDeque<Event>,
    done: Receiver<Result<(), Error>>,
    thread: std::thread::Thread,
}

impl Fanout {
    /// Starts each sink on a thread of its own (named `taskrun-NAME`).
    /// `signals` is the channel the scheduler takes interrupting signals
    /// from; the fan-out only looks at it, except when it finishes.
    pub(crate) fn start(
        sinks: Vec<(&'static str, Box<dyn Sink>)>,
        signals: &Receiver<Signal>,
    ) -> std::io::Result<Fanout> {
        let mut feeds = Vec::with_capacity(sinks.len());
        for (name, sink) in sinks {
            let (sender, events) = match sink.queue() {
                Some(bound) => channel::bounded(bound),
                None => channel::unbounded(),
            };
            let output = sink.wants_output();
            let (report, done) = channel::bounded(1);
            let handle = std::thread::Builder::new()
                .name(format!("taskrun-{name}"))
                .spawn(move || {
                    // A panic is reported by the panic hook as it happens;
                    // the run then hears that this sink stopped.
                    let result =
                        std::panic::catch_unwind(AssertUnwindSafe(|| drive(sink, &events)))
                            .unwrap_or_else(|_| {
                                Err(Error::SinkFailed {
                                    sink: name.to_owned(),
                                    why: "it panicked".to_owned(),
                                    help: "this is a bug in taskrun; the run's other results stand"
                                        .to_owned(),
                                })
                            });
                    let _ = report.send(result);
                })?;
            feeds.push(Feed {
                name,
                sender: Some(sender),
                output,
                backlog: VecDeque::new(),
                done,
                thread: handle.thread().clone(),
            });
        }
        Ok(Fanout {
            feeds,
            signals: signals.clone(),
            interrupted: false,
        })
    }

    /// Hands `event` to every sink that wants it. Waits while a sink's
    /// queue is full, unless a signal is waiting for the scheduler or the
    /// run has been interrupted.
    pub(crate) fn send(&mut self, event: &Event) {
        if matches!(event, Event::Interrupted { .. }) {
            self.interrupted = true;
        }
        let output = matches!(event, Event::TaskOutput { .. });
        for index in 0..self.feeds.len() {
            if output && !self.feeds[index].output {
                continue;
            }
            self.feeds[index].backlog.push_back(event.clone());
            self.hand_over(index, !self.interrupted);
        }
    }

    /// Queues what the sink `index` has not had yet; with `wait`, waits for
    /// room, but returns as soon as a signal is waiting.
    fn hand_over(&mut self, index: usize, wait: bool) {
        let feed = &mut self.feeds[index];
        while let Some(event) = feed.backlog.pop_front() {
            let Some(sender) = &feed.sender else {
                feed.backlog.clear();
                return;
            };
            match sender.try_send(event) {
                Ok(()) => {}
                Err(channel::TrySendError::Disconnected(_)) => {
                    // The sink is gone (it panicked); it says so when the
                    // run finishes.
                    feed.sender = None;
                    feed.backlog.clear();
                    return;
                }
                Err(channel::TrySendError::Full(event)) => {
                    feed.backlog.push_front(event);
                    if !wait {
                        return;
                    }
                    let mut select = Select::new();
                    select.send(sender);
                    select.recv(&self.signals);
                    if select.ready() == 1 {
                        if self.signals.is_empty() {
                            // Ready but empty: no signal can come any more.
                            self.signals = channel::never();
                        } else {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// The run is over: hands each sink what it has not had yet and lets
    /// it finish, one after the other. A signal that comes while this
    /// waits abandons the sinks that have not finished.
    pub(crate) fn finish(mut self) -> Vec<SinkProblem> {
        let mut problems = Vec::new();
        let mut abandoned: Option<Signal> = None;
        for index in 0..self.feeds.len() {
            if abandoned.is_none() {
                abandoned = self.finish_one(index, &mut problems);
            }
            if let Some(signal) = abandoned {
                let feed = &mut self.feeds[index];
                match feed.done.try_recv() {
                    Ok(Ok(())) => {}
                    // It had stopped already, for a reason of its own.
                    Ok(Err(error)) => problems.push(SinkProblem {
                        sink: feed.name,
                        error,
                    }),
                    // Still there: it was not finished in time.
                    Err(_) => problems.push(SinkProblem {
                        sink: feed.name,
                        error: Error::SinkFailed {
                            sink: feed.name.to_owned(),
                            why: format!("taskrun stopped waiting for it after {signal}"),
                            help: "what it had written before stands".to_owned(),
                        },
                    }),
                }
            }
        }
        problems
    }

    /// Finishes the sink `index`, adding its problem if it had one; the
    /// signal that abandons the sinks, if one came meanwhile.
    fn finish_one(&mut self, index: usize, problems: &mut Vec<SinkProblem>) -> Option<Signal> {
        let feed = &mut self.feeds[index];
        while let (Some(event), Some(sender)) = (feed.backlog.front(), &feed.sender) {
            channel::select! {
                send(sender, event.clone()) -> sent => {
                    feed.backlog.pop_front();
                    if sent.is_err() { break }
                },
                recv(self.signals) -> signal => match signal {
                    Ok(signal) if self.interrupted => return Some(signal),
                    // The first of an uninterrupted run: the next abandons.
                    Ok(_) => self.interrupted = true,
                    Err(_) => self.signals = channel::never(),
                },
            }
        }
        // Closing its queue ends its loop; a sink asleep in a batch
        // window is woken to see it.
        feed.sender = None;
        feed.thread.unpark();
        loop {
            channel::select! {
                recv(feed.done) -> result => {
                    if let Ok(Err(error)) = result {
                        problems.push(SinkProblem { sink: feed.name, error });
                    }
                    return None;
                },
                recv(self.signals) -> signal => match signal {
                    Ok(signal) if self.interrupted => return Some(signal),
                    Ok(_) => self.interrupted = true,
                    Err(_) => self.signals = channel::never(),
                },
            }
        }
    }
}

/// A sink's thread: every event until the queue closes, then its finish.
fn drive(mut sink: Box<dyn Sink>, events: &Receiver<Event>) -> Result<(), Error> {
    'run: loop {
        match sink.wait() {
            Wait::ForEvent => match events.recv() {
                Ok(event) => sink.receive(event),
                Err(_) => break,
            },
            Wait::Until(at) => match events.recv_deadline(at) {
                Ok(event) => sink.receive(event),
                Err(RecvTimeoutError::Timeout) => sink.tick(),
                Err(RecvTimeoutError::Disconnected) => break,
            },
            Wait::Sleep(until) => {
                let now = Instant::now();
                if now < until {
                    std::thread::park_timeout(until - now);
                }
                loop {
                    match events.try_recv() {
                        Ok(event) => sink.receive(event),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => break 'run,
                    }
                }
                if Instant::now() >= until {
                    sink.tick();
                }
            }
        }
        if events.is_empty() {
            sink.idle();
        }
    }
    sink.finish()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::event::Summary;

    /// Keeps what it receives; blocks on each event until `gate` opens.
    struct Keeper {
        seen: Arc<Mutex<Vec<String>>>,
        gate: Option<Receiver<()>>,
        fail: bool,
    }

    impl Sink for Keeper {
        fn queue(&self) -> Option<usize> {
            Some(2)
        }
        fn receive(&mut self, event: Event) {
            if let Some(gate) = &self.gate {
                let _ = gate.recv();
            }
            assert!(!self.fail, "told to fail");
            self.seen.lock().unwrap().push(name(&event));
        }
        fn finish(self: Box<Self>) -> Result<(), Error> {
            self.seen.lock().unwrap().push("finish".to_owned());
            Ok(())
        }
    }

    fn name(event: &Event) -> String {
        match event {
            Event::TaskStarted { task, .. } => format!("start {task}"),
            Event::Interrupted { .. } => "interrupted".to_owned(),
            _ => "other".to_owned(),
        }
    }

    fn started(task: usize) -> Event {
        Event::TaskStarted {
            task,
            attempt: 1,
            at: SystemTime::now(),
            since_start: Duration::ZERO,
            slot: 0,
        }
    }

    #[test]
    fn every_sink_sees_every_event_in_order_then_finishes() {
        let (_signal, signals) = channel::unbounded();
        let seen: Vec<_> = (0..2).map(|_| Arc::new(Mutex::new(Vec::new()))).collect();
        let sinks: Vec<(&'static str, Box<dyn Sink>)> = seen
            .iter()
            .map(|seen| {
                let sink: Box<dyn Sink> = Box::new(Keeper {
                    seen: Arc::clone(seen),
                    gate: None,
                    fail: false,
                });
                ("test", sink)
            })
            .collect();
        let mut fanout = Fanout::start(sinks, &signals).unwrap();
        for task in 0..50 {
            fanout.send(&started(task));
        }
        assert!(fanout.finish().is_empty());
        for seen in seen {
            let seen = seen.lock().unwrap();
            let mut expected: Vec<String> = (0..50).map(|task| format!("start {task}")).collect();
            expected.push("finish".to_owned());
            assert_eq!(*seen, expected);
        }
    }

    #[test]
    fn a_stuck_sink_does_not_hide_a_signal_and_a_second_one_abandons_it() {
        let (signal, signals) = channel::unbounded();
        let (_open, gate) = channel::bounded::<()>(0);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink: Box<dyn Sink> = Box::new(Keeper {
            seen: Arc::clone(&seen),
            gate: Some(gate),
            fail: false,
        });
        let mut fanout = Fanout::start(vec![("stuck", sink)], &signals).unwrap();
        // The sink takes one event and blocks on it; two more fill its
        // queue. The next send waits, and returns once a signal is there.
        for task in 0..3 {
            fanout.send(&started(task));
        }
        let sender = signal.clone();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            sender.send(Signal::INT).unwrap();
        });
        fanout.send(&started(3));
        waker.join().unwrap();
        assert_eq!(
            signals.try_recv(),
            Ok(Signal::INT),
            "left for the scheduler"
        );
        // Interrupted: nothing waits for the sink any more.
        fanout.send(&Event::Interrupted {
            signal: Signal::INT,
            running: 0,
        });
        for task in 4..10 {
            fanout.send(&started(task));
        }
        fanout.send(&Event::RunFinished {
            summary: Summary {
                counts: crate::event::Counts::default(),
                duration: Duration::ZERO,
                interrupted: Some(Signal::INT),
                halted: None,
            },
        });
        signal.send(Signal::INT).unwrap();
        let problems = fanout.finish();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].sink, "stuck");
        assert!(
            problems[0]
                .error
                .to_string()
                .contains("stopped waiting for it after SIGINT"),
            "{}",
            problems[0].error
        );
    }

    #[test]
    fn one_signal_after_an_uninterrupted_run_does_not_abandon_its_sinks() {
        let (signal, signals) = channel::unbounded();
        let (open, gate) = channel::bounded::<()>(0);
        let seen: Vec<_> = (0..2).map(|_| Arc::new(Mutex::new(Vec::new()))).collect();
        let slow: Box<dyn Sink> = Box::new(Keeper {
            seen: Arc::clone(&seen[0]),
            gate: Some(gate),
            fail: false,
        });
        let recorder: Box<dyn Sink> = Box::new(Keeper {
            seen: Arc::clone(&seen[1]),
            gate: None,
            fail: false,
        });
        let mut fanout =
            Fanout::start(vec![("slow", slow), ("recorder", recorder)], &signals).unwrap();
        // The slow sink holds the first event until the gate opens: the
        // fan-out waits for it while finishing, and a signal comes.
        fanout.send(&started(0));
        signal.send(Signal::INT).unwrap();
        let opener = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            open.send(()).unwrap();
        });
        assert!(fanout.finish().is_empty(), "one signal abandoned a sink");
        opener.join().unwrap();
        for seen in &seen {
            assert_eq!(*seen.lock().unwrap(), ["start 0", "finish"]);
        }
    }

    #[test]
    fn a_second_signal_while_finishing_abandons_what_is_left_and_keeps_earlier_errors() {
        let (signal, signals) = channel::unbounded();
        let (_open, gate) = channel::bounded::<()>(0);
        let stuck: Box<dyn Sink> = Box::new(Keeper {
            seen: Arc::new(Mutex::new(Vec::new())),
            gate: Some(gate),
            fail: false,
        });
        let broken: Box<dyn Sink> = Box::new(Keeper {
            seen: Arc::new(Mutex::new(Vec::new())),
            gate: None,
            fail: true,
        });
        let mut fanout =
            Fanout::start(vec![("stuck", stuck), ("broken", broken)], &signals).unwrap();
        fanout.send(&started(0));
        signal.send(Signal::INT).unwrap();
        signal.send(Signal::INT).unwrap();
        // The broken sink has panicked on its event before the second
        // signal abandons the stuck one.
        let start = Instant::now();
        while fanout.feeds[1].done.is_empty() {
            assert!(start.elapsed() < Duration::from_secs(20), "never panicked");
            std::thread::sleep(Duration::from_millis(5));
        }
        let problems = fanout.finish();
        let found: Vec<(&str, String)> = problems
            .iter()
            .map(|problem| (problem.sink, problem.error.to_string()))
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0, "stuck");
        assert!(found[0].1.contains("stopped waiting for it after SIGINT"));
        assert_eq!(found[1].0, "broken");
        assert!(found[1].1.contains("it panicked"), "{found:?}");
    }

    #[test]
    fn a_sink_that_panics_is_a_problem_and_the_run_goes_on() {
        let (_signal, signals) = channel::unbounded();
        let sink: Box<dyn Sink> = Box::new(Keeper {
            seen: Arc::new(Mutex::new(Vec::new())),
            gate: None,
            fail: true,
        });
        let mut fanout = Fanout::start(vec![("broken", sink)], &signals).unwrap();
        for task in 0..20 {
            fanout.send(&started(task));
        }
        let problems = fanout.finish();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].error.to_string().contains("it panicked"),
            "{}",
            problems[0].error
        );
    }
}
