//! The scheduler owns a run: which task starts when, and what becomes of
//! the tasks that wait for it.
//!
//! It keeps every task in one of four states (waiting for dependencies,
//! ready, running, done), starts ready tasks in declaration order while
//! fewer than `jobs` run, hands each to an [`Executor`] on a worker thread,
//! and turns what the workers report into [`Event`]s. When a task does not
//! pass, every task that depends on it, directly or not, is skipped; the
//! other branches run on. So that a chain does not wait for this thread
//! between two of its tasks, it offers each running task's worker the
//! start of the task that would come next if it passes (see [`Offer`]).
//! On the first interrupting signal it starts
//! nothing more and asks the running jobs to stop; on the second it kills
//! them.
//!
//! The scheduler never prints and never touches a process: workers talk to
//! it over a channel, and it talks to the rest of taskrun only through the
//! events it emits.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crossbeam::channel::{self, Receiver, Sender};

use crate::cache::passing::{self, Passing};
use crate::cache::{CacheJob, Handed, Verdict};
use crate::event::{
    Counts, Event, Exit, Signal, SkipReason, Status, Stream, Summary, TaskId, TaskResult,
};
use crate::execute::{Control, Executor, Job, Outcome};
use crate::graph::Plan;
use crate::task::TaskSpec;

/// How a run is carried out.
#[derive(Clone)]
pub(crate) struct RunOptions {
    /// At most this many tasks run at once.
    pub(crate) jobs: usize,
    /// What every job of the run shares: the directory, the timeout, the
    /// output limit, where outputs are passed.
    pub(crate) base: JobBase,
    /// Emit [`Event::TaskOutput`] as output arrives (someone shows it live).
    pub(crate) live_output: bool,
    /// The wait before a task's first retry; it doubles for each further
    /// retry, up to [`MAX_RETRY_DELAY`], with jitter.
    pub(crate) retry_delay: Duration,
    /// Decides, within a task's retries, whether an attempt is retried.
    pub(crate) policy: Option<Arc<dyn RetryPolicy>>,
    /// Stop starting tasks once this many have failed (`--fail-fast` is
    /// 1); `None` keeps going.
    pub(crate) max_failures: Option<usize>,
    /// Each task's priority (see `order.rs`): ready tasks start highest
    /// first. Empty: all the same (file order).
    pub(crate) priority: Vec<u64>,
}

/// What every job of a run starts from.
#[derive(Clone, Debug, Default)]
pub(crate) struct JobBase {
    /// The directory tasks run in.
    pub(crate) dir: PathBuf,
    /// How long each task may run; `None` for no limit.
    pub(crate) timeout: Option<Duration>,
    /// How many bytes of each output stream are kept per task.
    pub(crate) max_output: usize,
    /// Where each task gets its `$TASKRUN_OUT` (`<store>/out/<run>`, see
    /// [`crate::cache::passing`]); `None`: outputs are not passed (the
    /// library's runs, which have no store).
    pub(crate) out: Option<PathBuf>,
    /// For a retry, by task: its dependencies outside the plan, which
    /// the run it retries satisfied, and what they handed on. Empty for
    /// every other run.
    pub(crate) outside: Vec<Vec<(String, Handed)>>,
}

/// Decides whether a failed attempt of a task with retries is retried (a
/// script's `should_retry`). Called on the scheduler's thread.
pub(crate) trait RetryPolicy: Send + Sync {
    fn should_retry(&self, task: &TaskSpec, result: &TaskResult) -> bool;
}

/// The longest wait between two attempts of a task.
pub(crate) const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// Where a task is in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Waiting,
    Ready,
    Running,
    /// Failed an attempt; runs again when its retry delay is over.
    Delayed,
    Done,
}

/// What workers tell the scheduler.
enum Message {
    Output {
        task: TaskId,
        stream: Stream,
        bytes: Arc<[u8]>,
    },
    Finished {
        task: TaskId,
        /// Boxed: an outcome is much larger than an output chunk, the
        /// message sent most.
        ended: Box<Ended>,
    },
}

/// How a job ended, and what its worker started next in its place.
struct Ended {
    outcome: Outcome,
    next: Option<Started>,
}

/// A start the scheduler offers ahead of time to the worker running
/// `after`: if `after` passes, that worker starts `task` at once, in the
/// same lane, instead of waiting for the scheduler to hear of the end and
/// hand it the next job. This is what makes a chain of short tasks as
/// fast as a single-threaded runner: the dependent starts on the thread
/// that saw its dependency end, with no thread to wake in between.
///
/// The scheduler offers only what it would itself start next: `task` is
/// the first in the order among the tasks that wait for `after` alone
/// (to pass, or only to end), nothing else waits for a place (no ready or
/// held task), the run is neither interrupted nor halted, and `task` is
/// in no pool or in the pool of `after`, whose place it takes over. It
/// looks again whenever another task comes to wait for `after` alone.
/// When any of that stops being true, the scheduler takes the offer
/// back. Before it tells of an interrupt or a halt, it hears of the
/// starts of offers already taken, so nothing starts after either. One
/// race is left, and it is harmless: an end the scheduler heard of just
/// before `after`'s worker took the offer counts as the later of the two,
/// as it may anyway when two tasks end at once.
struct Offer {
    after: TaskId,
    task: TaskId,
    job: Job,
}

/// A task a worker started from an [`Offer`].
#[derive(Clone, Copy)]
struct Started {
    task: TaskId,
    at: SystemTime,
    since_start: Duration,
}

/// The offers, one place for each lane (the offer for the task running
/// in it).
type Offers = Arc<[Mutex<Option<Offer>>]>;

/// Runs a plan.
pub(crate) struct Scheduler<'a> {
    plan: &'a Plan,
    options: &'a RunOptions,
    executor: Arc<dyn Executor>,
}

/// The bookkeeping of one run.
struct Run<'a> {
    plan: &'a Plan,
    state: Vec<State>,
    /// How many dependencies of each task have not passed (or, for soft
    /// ones, ended) yet.
    unmet: Vec<usize>,
    /// The tasks that wait for each task to pass.
    dependents: Vec<Vec<TaskId>>,
    /// The tasks that wait for each task to end, whatever its result.
    soft_dependents: Vec<Vec<TaskId>>,
    /// The ready tasks, and the places left in their pools.
    admission: Admission,
    /// The lanes no task runs in now, lowest first.
    free_slots: BinaryHeap<Reverse<usize>>,
    /// The lane each running task runs in.
    slot: Vec<usize>,
    /// Tasks waiting to be retried, soonest first.
    delayed: BinaryHeap<Reverse<(Instant, TaskId)>>,
    /// How many times each task has been started.
    attempts: Vec<u32>,
    /// What each task that passed handed on for its dependents' cache
    /// keys and output passing ([`Outcome::handed`]).
    produced: Vec<Handed>,
    /// The last attempt of each task waiting for its retry (delayed, or
    /// due and ready), which stands if the run stops before the retry
    /// starts.
    last: Vec<Option<Arc<TaskResult>>>,
    running: usize,
    /// Tasks that came to wait for one dependency only, since the
    /// scheduler last looked for offers.
    nearly: Vec<TaskId>,
    counts: Counts,
    interrupted: Option<Signal>,
    /// Once enough tasks failed: how many.
    halted: Option<usize>,
    max_failures: Option<usize>,
    retry_delay: Duration,
    jitter: Jitter,
}

impl<'a> Scheduler<'a> {
    pub(crate) fn new(
        plan: &'a Plan,
        options: &'a RunOptions,
        executor: Arc<dyn Executor>,
    ) -> Self {
        Scheduler {
            plan,
            options,
            executor,
        }
    }

    /// Runs every task of the plan, sending each event to `emit`, and
    /// returns the summary. `signals` delivers interrupting signals (their
    /// numbers); the first stops the run gracefully, the second at once.
    pub(crate) fn run(
        &self,
        emit: &mut dyn FnMut(Event),
        signals: &Receiver<Signal>,
    ) -> std::io::Result<Summary> {
        let start = Instant::now();
        let jobs = self.options.jobs.max(1);
        // More workers than tasks would only ever sleep.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.min(self.plan.tasks.len()).max(1))
            .thread_name(|index| format!("taskrun-worker-{index}"))
            .build()
            .map_err(std::io::Error::other)?;
        let control = Arc::new(Control::new()?);
        let (sender, messages) = channel::unbounded::<Message>();
        let mut run = Run::new(self.plan, jobs, self.options);
        let mut signals = signals.clone();
        let mut offering = Offering::new(jobs);

        emit(Event::RunStarted {
            tasks: self.plan.tasks.len(),
            jobs,
            at: SystemTime::now(),
        });
        let mut starting = Vec::new();
        loop {
            if run.halted.is_some() {
                run.skip_halted(emit);
            }
            if run.interrupted.is_none() {
                run.admission
                    .admit(self.plan, jobs - run.running, &mut starting);
                for task in starting.drain(..) {
                    run.state[task] = State::Running;
                    run.last[task] = None;
                    run.attempts[task] += 1;
                    run.running += 1;
                    let Reverse(slot) = run.free_slots.pop().unwrap_or(Reverse(0));
                    run.slot[task] = slot;
                    emit(Event::TaskStarted {
                        task,
                        attempt: run.attempts[task],
                        at: SystemTime::now(),
                        since_start: start.elapsed(),
                        slot,
                    });
                    offering.fresh.push(task);
                    let job = self.job(task, &run.produced);
                    self.start(
                        &pool,
                        task,
                        job,
                        slot,
                        start,
                        &control,
                        &sender,
                        &offering.offers,
                    );
                }
            }
            if run.running == 0 && run.delayed.is_empty() {
                break;
            }
            self.offer(&mut run, &mut offering);
            let retry_due = match run.delayed.peek() {
                Some(Reverse((due, _))) => channel::at(*due),
                None => channel::never(),
            };
            // What becomes ready from here on became ready after what is
            // ready now.
            run.admission.next_round();
            channel::select! {
                recv(retry_due) -> _ => run.release_due(),
                recv(messages) -> message => match message {
                    Ok(message) => self.receive(&mut run, &mut offering, &messages, message, emit),
                    // The scheduler holds a sender, so the channel stays
                    // open while it runs.
                    Err(_) => break,
                },
                recv(signals) -> signal => match signal {
                    Ok(signal) if run.interrupted.is_none() => {
                        // Nothing may start once the jobs are told to
                        // stop.
                        self.settle(&mut run, &mut offering, &messages, emit);
                        run.interrupted = Some(signal);
                        control.interrupt(signal);
                        emit(Event::Interrupted { signal, running: run.running });
                        run.abandon_retries(emit);
                    }
                    Ok(_) => control.kill(),
                    // No more signals can come; stop listening.
                    Err(_) => signals = channel::never(),
                },
            }
        }
        run.end_the_rest(emit);
        let summary = Summary {
            counts: run.counts,
            duration: start.elapsed(),
            interrupted: run.interrupted,
            halted: run.halted,
        };
        emit(Event::RunFinished { summary });
        Ok(summary)
    }

    /// What a worker needs to run `task`, given what each task that
    /// passed handed on.
    fn job(&self, task: TaskId, produced: &[Handed]) -> Job {
        job(self.plan, task, &self.options.base, produced)
    }

    /// Runs `task` on a worker in lane `lane`; when it passes, the worker
    /// goes on with the task offered to it in that lane, if any.
    #[allow(clippy::too_many_arguments)]
    fn start(
        &self,
        pool: &rayon::ThreadPool,
        task: TaskId,
        job: Job,
        lane: usize,
        run_start: Instant,
        control: &Arc<Control>,
        sender: &Sender<Message>,
        offers: &Offers,
    ) {
        let executor = Arc::clone(&self.executor);
        let control = Arc::clone(control);
        let sender = sender.clone();
        let offers = Arc::clone(offers);
        let live = self.options.live_output;
        pool.spawn(move || {
            let (mut task, mut job) = (task, job);
            loop {
                let mut output = |stream, bytes: &[u8]| {
                    if live {
                        let _ = sender.send(Message::Output {
                            task,
                            stream,
                            bytes: Arc::from(bytes),
                        });
                    }
                };
                let outcome = executor.execute(&job, &control, &mut output);
                let offer = if status(&outcome, false).is_pass() {
                    let mut offer = offers[lane].lock().unwrap_or_else(PoisonError::into_inner);
                    offer.take_if(|offer| offer.after == task)
                } else {
                    None
                };
                let handed = offer.as_ref().map(|_| outcome.handed());
                let next = offer.as_ref().map(|offer| Started {
                    task: offer.task,
                    at: SystemTime::now(),
                    since_start: run_start.elapsed(),
                });
                let _ = sender.send(Message::Finished {
                    task,
                    ended: Box::new(Ended { outcome, next }),
                });
                match offer {
                    Some(offer) => {
                        let mut next = offer.job;
                        // The one dependency it waited for has just
                        // passed, after the offer was made.
                        next.set_dep(&job.name, handed.unwrap_or_default());
                        (task, job) = (offer.task, next);
                    }
                    None => break,
                }
            }
        });
    }

    /// What a worker said.
    fn receive(
        &self,
        run: &mut Run,
        offering: &mut Offering,
        messages: &Receiver<Message>,
        message: Message,
        emit: &mut dyn FnMut(Event),
    ) {
        match message {
            Message::Output {
                task,
                stream,
                bytes,
            } => emit(Event::TaskOutput {
                task,
                stream,
                bytes,
            }),
            Message::Finished { task, ended } => {
                let Ended { outcome, next } = *ended;
                if run.max_failures.is_some() && status(&outcome, false).is_failure() {
                    // This failure may halt the run: no task may start
                    // from an offer once it has.
                    self.settle(run, offering, messages, emit);
                }
                offering.ended(run.slot[task]);
                if let Some(next) = &next {
                    offering.fresh.push(next.task);
                }
                run.finish(task, outcome, next, self.options.policy.as_deref(), emit);
            }
        }
    }

    /// Takes every offer back, and hears of the starts of those already
    /// taken (their workers report them at once), so that from here on
    /// the scheduler knows of every task that runs.
    fn settle(
        &self,
        run: &mut Run,
        offering: &mut Offering,
        messages: &Receiver<Message>,
        emit: &mut dyn FnMut(Event),
    ) {
        let mut taken = offering.withdraw();
        while !taken.is_empty() {
            let Ok(message) = messages.recv() else {
                return;
            };
            if let Message::Finished { task, .. } = &message {
                taken.retain(|&lane| lane != run.slot[*task]);
            }
            self.receive(run, offering, messages, message, emit);
        }
    }

    /// Offers each task that may now have a successor the start of it
    /// (see [`Offer`]), or, where starts may no longer be decided ahead,
    /// takes every offer back.
    fn offer(&self, run: &mut Run, offering: &mut Offering) {
        let open = run.interrupted.is_none() && run.halted.is_none() && run.admission.is_empty();
        if !open {
            offering.withdraw();
            offering.fresh.clear();
            run.nearly.clear();
            return;
        }
        // A task that waits for one more only now: that one may have a
        // new successor.
        for waiting in run.nearly.drain(..) {
            let plan = run.plan;
            let running = plan.deps[waiting]
                .iter()
                .chain(&plan.soft[waiting])
                .find(|&&dep| run.state[dep] == State::Running);
            offering.fresh.extend(running);
        }
        offering.fresh.sort_unstable();
        offering.fresh.dedup();
        for task in offering.fresh.drain(..) {
            if run.state[task] != State::Running {
                continue;
            }
            let lane = run.slot[task];
            let offer = run.successor(task).map(|next| Offer {
                after: task,
                task: next,
                job: self.job(next, &run.produced),
            });
            let mut slot = offering.offers[lane]
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if offering.offered[lane] {
                // Replace an offer not taken yet (once taken, it stands).
                if slot.as_ref().is_some_and(|old| old.after == task) {
                    if let Some(offer) = offer {
                        *slot = Some(offer);
                    } else {
                        *slot = None;
                        offering.offered[lane] = false;
                        offering.outstanding -= 1;
                    }
                }
            } else if let Some(offer) = offer {
                *slot = Some(offer);
                offering.offered[lane] = true;
                offering.outstanding += 1;
            }
        }
    }
}

/// The scheduler's side of the offers.
struct Offering {
    offers: Offers,
    /// The lanes whose task has an offer out.
    offered: Vec<bool>,
    outstanding: usize,
    /// Tasks started since the last look for offers.
    fresh: Vec<TaskId>,
}

impl Offering {
    fn new(lanes: usize) -> Offering {
        Offering {
            offers: (0..lanes).map(|_| Mutex::new(None)).collect(),
            offered: vec![false; lanes],
            outstanding: 0,
            fresh: Vec::new(),
        }
    }

    /// The task in `lane` ended: its offer, if it was not taken, is void.
    fn ended(&mut self, lane: usize) {
        if self.offered[lane] {
            self.offered[lane] = false;
            self.outstanding -= 1;
            self.offers[lane]
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
        }
    }

    /// Takes back every offer not taken yet; returns the lanes whose
    /// offer was taken, whose workers are about to report the start.
    fn withdraw(&mut self) -> Vec<usize> {
        let mut taken = Vec::new();
        if self.outstanding == 0 {
            return taken;
        }
        for lane in 0..self.offered.len() {
            if self.offered[lane] {
                self.offered[lane] = false;
                self.outstanding -= 1;
                let offer = self.offers[lane]
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                if offer.is_none() {
                    taken.push(lane);
                }
            }
        }
        taken
    }
}

impl<'a> Run<'a> {
    fn new(plan: &'a Plan, jobs: usize, options: &RunOptions) -> Self {
        let count = plan.tasks.len();
        let mut dependents = vec![Vec::new(); count];
        let mut soft_dependents = vec![Vec::new(); count];
        for task in 0..count {
            for &dep in &plan.deps[task] {
                dependents[dep].push(task);
            }
            for &dep in &plan.soft[task] {
                soft_dependents[dep].push(task);
            }
        }
        let unmet: Vec<usize> = (0..count)
            .map(|task| plan.deps[task].len() + plan.soft[task].len())
            .collect();
        let mut state = vec![State::Waiting; count];
        let mut admission = Admission::new(plan, options.priority.clone());
        for task in (0..count).filter(|&task| unmet[task] == 0) {
            state[task] = State::Ready;
            admission.ready(task);
        }
        Run {
            plan,
            state,
            unmet,
            dependents,
            soft_dependents,
            admission,
            free_slots: (0..jobs).map(Reverse).collect(),
            slot: vec![0; count],
            delayed: BinaryHeap::new(),
            attempts: vec![0; count],
            produced: vec![Handed::default(); count],
            last: vec![None; count],
            running: 0,
            nearly: Vec::new(),
            counts: Counts::default(),
            interrupted: None,
            halted: None,
            max_failures: options.max_failures,
            retry_delay: options.retry_delay,
            jitter: Jitter::seeded(),
        }
    }

    /// Once the run stopped early, ends every task that did not end.
    fn end_the_rest(&mut self, emit: &mut dyn FnMut(Event)) {
        let left = match (self.interrupted, self.halted) {
            (Some(_), _) => Some(SkipReason::Interrupted),
            (None, Some(failures)) => Some(SkipReason::Halted(failures)),
            (None, None) => None,
        };
        if let Some(reason) = left {
            for task in 0..self.plan.tasks.len() {
                if self.state[task] != State::Done {
                    self.end_unstarted(task, reason.clone(), emit);
                }
            }
        }
    }

    /// Moves the tasks whose retry delay is over to the ready set.
    fn release_due(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((due, task))) = self.delayed.peek() {
            if due > now {
                break;
            }
            self.delayed.pop();
            self.state[task] = State::Ready;
            self.admission.ready(task);
        }
    }

    /// Once the run has halted, a ready task that is not cleanup (it has no
    /// `[after_done:…]`) is skipped instead of started, with the tasks that
    /// need it; cleanup tasks start as their dependencies end.
    fn skip_halted(&mut self, emit: &mut dyn FnMut(Event)) {
        let Some(failures) = self.halted else {
            return;
        };
        let reason = SkipReason::Halted(failures);
        for task in self.admission.take_ready() {
            if self.last[task].is_some() {
                // A retry that was due but had not started: its last
                // attempt stands.
                self.end_unstarted(task, reason.clone(), emit);
            } else if self.plan.soft[task].is_empty() {
                let skipped = self.downstream(task);
                self.skip(task, reason.clone(), emit);
                self.release_soft(task);
                for dependent in skipped {
                    self.skip(dependent, reason.clone(), emit);
                    self.release_soft(dependent);
                }
            } else {
                self.admission.ready(task);
            }
        }
    }

    /// On interrupt or halt, a task waiting for its retry keeps the result
    /// of its last attempt.
    fn abandon_retries(&mut self, emit: &mut dyn FnMut(Event)) {
        for Reverse((_, task)) in std::mem::take(&mut self.delayed)
            .into_sorted_vec()
            .into_iter()
            .rev()
        {
            self.keep_last_attempt(task, emit);
        }
    }

    /// Ends a task that will not start now the run stops: a task waiting
    /// for its retry keeps the result of its last attempt, any other is
    /// skipped for `reason`.
    fn end_unstarted(&mut self, task: TaskId, reason: SkipReason, emit: &mut dyn FnMut(Event)) {
        if !self.keep_last_attempt(task, emit) {
            self.skip(task, reason, emit);
        }
    }

    /// Ends `task` with the result of its last attempt if it was waiting
    /// for a retry, as a failure its dependents see; says whether it was.
    fn keep_last_attempt(&mut self, task: TaskId, emit: &mut dyn FnMut(Event)) -> bool {
        let Some(result) = self.last[task].take() else {
            return false;
        };
        self.state[task] = State::Done;
        self.counts.add(result.status);
        emit(Event::TaskFinished { task, result });
        self.after_failure(task, emit);
        true
    }

    /// How long to wait before the retry that follows attempt `attempt`:
    /// the base delay doubled for each earlier retry, capped, and drawn at
    /// random from its upper half so that retries of many tasks spread out.
    fn retry_delay(&mut self, attempt: u32) -> Duration {
        let doubled = backoff(self.retry_delay, attempt);
        doubled / 2 + doubled.mul_f64(self.jitter.next() / 2.0)
    }

    /// The first in the order of the tasks that wait for `task` alone and
    /// could take its place when it passes (see [`Offer`]).
    fn successor(&self, task: TaskId) -> Option<TaskId> {
        let pool = self.plan.pool_of[task];
        // Its passing makes these ready, hard and soft dependents alike;
        // the first of them in the order is the one that would start.
        self.dependents[task]
            .iter()
            .chain(&self.soft_dependents[task])
            .copied()
            .filter(|&next| self.state[next] == State::Waiting && self.unmet[next] == 1)
            .min_by_key(|&next| self.admission.key(next))
            .filter(|&next| self.plan.pool_of[next].is_none_or(|own| Some(own) == pool))
    }

    /// `task` ended with `outcome`; `next` is the task its worker started
    /// in its place, from an offer.
    fn finish(
        &mut self,
        task: TaskId,
        outcome: Outcome,
        next: Option<Started>,
        policy: Option<&dyn RetryPolicy>,
        emit: &mut dyn FnMut(Event),
    ) {
        debug_assert!(
            next.is_none() || status(&outcome, false).is_pass(),
            "a worker goes on only after a task that passed"
        );
        self.running -= 1;
        self.admission.ended(self.plan, task);
        if next.is_none() {
            self.free_slots.push(Reverse(self.slot[task]));
        }
        self.state[task] = State::Done;
        let status = status(&outcome, self.interrupted.is_some());
        if status.is_pass() {
            self.produced[task] = outcome.handed();
        }
        let attempt = self.attempts[task];
        let result = Arc::new(outcome.into_result(status, attempt));
        let spec = &self.plan.tasks[task];
        let retries = spec.settings.retries.unwrap_or(0);
        let retry = matches!(status, Status::Failed | Status::Timeout)
            && self.interrupted.is_none()
            && self.halted.is_none()
            && attempt <= retries
            && policy.is_none_or(|policy| policy.should_retry(spec, &result));
        if retry {
            let delay = self.retry_delay(attempt);
            self.state[task] = State::Delayed;
            self.last[task] = Some(Arc::clone(&result));
            self.delayed.push(Reverse((Instant::now() + delay, task)));
            emit(Event::TaskRetrying {
                task,
                result,
                retries,
                delay,
            });
            return;
        }
        self.counts.add(status);
        emit(Event::TaskFinished { task, result });
        if status.is_failure() && self.halted.is_none() && self.interrupted.is_none() {
            let failures = self.counts.failures();
            if self.max_failures.is_some_and(|most| failures >= most) {
                self.halted = Some(failures);
                emit(Event::Halted {
                    failures,
                    running: self.running,
                });
                self.abandon_retries(emit);
            }
        }
        if let Some(Started {
            task: next,
            at,
            since_start,
        }) = next
        {
            // The worker only takes an offer for a task that passed.
            self.state[next] = State::Running;
            self.attempts[next] += 1;
            self.running += 1;
            self.admission.occupy(self.plan, next);
            self.slot[next] = self.slot[task];
            emit(Event::TaskStarted {
                task: next,
                attempt: self.attempts[next],
                at,
                since_start,
                slot: self.slot[next],
            });
        }
        if status.is_pass() {
            for index in 0..self.dependents[task].len() {
                self.release(self.dependents[task][index]);
            }
            self.release_soft(task);
        } else {
            self.after_failure(task, emit);
        }
    }

    /// `task` ended without passing: the tasks that need it are skipped,
    /// and those that only wait for it to end may go on. Once the run is
    /// interrupted nothing more starts, and what is left is skipped at
    /// the end.
    fn after_failure(&mut self, task: TaskId, emit: &mut dyn FnMut(Event)) {
        if self.interrupted.is_some() {
            return;
        }
        let reason = SkipReason::DependencyFailed(self.plan.tasks[task].name.value.clone());
        let skipped = self.downstream(task);
        for &dependent in &skipped {
            self.skip(dependent, reason.clone(), emit);
        }
        // A failed or skipped task has ended all the same for those that
        // only wait for it to end.
        self.release_soft(task);
        for dependent in skipped {
            self.release_soft(dependent);
        }
    }

    /// One dependency of `task` is satisfied; it is ready when none is left.
    fn release(&mut self, task: TaskId) {
        self.unmet[task] -= 1;
        if self.unmet[task] == 1 && self.state[task] == State::Waiting {
            self.nearly.push(task);
        }
        if self.unmet[task] == 0 && self.state[task] == State::Waiting {
            self.state[task] = State::Ready;
            self.admission.ready(task);
        }
    }

    /// `task` has ended: the tasks that wait only for that may go on.
    fn release_soft(&mut self, task: TaskId) {
        for index in 0..self.soft_dependents[task].len() {
            self.release(self.soft_dependents[task][index]);
        }
    }

    /// Every task that needs `task` to pass, directly or not, and is not
    /// done, in declaration order (soft dependencies do not count).
    fn downstream(&self, task: TaskId) -> Vec<TaskId> {
        let mut seen = vec![false; self.plan.tasks.len()];
        let mut stack = vec![task];
        let mut found = Vec::new();
        while let Some(current) = stack.pop() {
            for &dependent in &self.dependents[current] {
                if !seen[dependent] && self.state[dependent] != State::Done {
                    seen[dependent] = true;
                    found.push(dependent);
                    stack.push(dependent);
                }
            }
        }
        found.sort_unstable();
        found
    }

    fn skip(&mut self, task: TaskId, reason: SkipReason, emit: &mut dyn FnMut(Event)) {
        self.state[task] = State::Done;
        self.counts.add(Status::Skipped);
        emit(Event::TaskSkipped { task, reason });
    }
}

/// Which ready task starts next: the scheduler's one rule, used by the
/// run, by the simulator and so by `run --dry-run` alike.
///
/// Ready tasks start highest priority first (all priorities are 0 in
/// file order, see `order.rs`), then the one that became ready first (in
/// an earlier round: the scheduler starts a new round each time it learns
/// something), then the one declared first. A ready task whose pool is
/// full is held, and the tasks held for a pool start in the same order as
/// soon as it has a place: before tasks that became ready after them.
#[derive(Debug)]
pub(crate) struct Admission {
    /// Each task's priority.
    priority: Vec<u64>,
    /// The current round.
    round: u64,
    /// Ready tasks, first to start first.
    ready: BinaryHeap<Reverse<Key>>,
    /// For each pool, the ready tasks held for a place in it.
    held: Vec<BinaryHeap<Reverse<Key>>>,
    /// For each pool, how many of its tasks run now.
    running: Vec<usize>,
}

/// The order of ready tasks: highest priority, earliest round, first
/// declared.
type Key = (Reverse<u64>, u64, TaskId);

impl Admission {
    /// With each task's `priority` (in plan order).
    pub(crate) fn new(plan: &Plan, priority: Vec<u64>) -> Admission {
        Admission {
            priority,
            round: 0,
            ready: BinaryHeap::new(),
            held: vec![BinaryHeap::new(); plan.pools.len()],
            running: vec![0; plan.pools.len()],
        }
    }

    /// Tasks that become ready from now on became ready later than those
    /// before.
    pub(crate) fn next_round(&mut self) {
        self.round += 1;
    }

    fn key(&self, task: TaskId) -> Key {
        (
            Reverse(self.priority.get(task).copied().unwrap_or(0)),
            self.round,
            task,
        )
    }

    /// Whether no task waits for a place.
    fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.held.iter().all(BinaryHeap::is_empty)
    }

    /// `task` may start.
    pub(crate) fn ready(&mut self, task: TaskId) {
        let key = self.key(task);
        self.ready.push(Reverse(key));
    }

    /// Adds to `start` up to `places` tasks to start now, in order, and
    /// counts each against its pool.
    pub(crate) fn admit(&mut self, plan: &Plan, places: usize, start: &mut Vec<TaskId>) {
        let limit = start.len() + places;
        while start.len() < limit {
            // The first ready task, and the first held one of a pool that
            // has a place: whichever comes first in the order.
            let free_pool = (0..self.held.len())
                .filter(|&pool| self.running[pool] < plan.pools[pool].1)
                .filter_map(|pool| self.held[pool].peek().map(|&Reverse(key)| (key, pool)))
                .min();
            let ready = self.ready.peek().map(|&Reverse(key)| key);
            let held = free_pool.filter(|(key, _)| ready.is_none_or(|ready| *key < ready));
            let task = if let Some((key, pool)) = held {
                self.held[pool].pop();
                self.running[pool] += 1;
                key.2
            } else if let Some(Reverse(key)) = self.ready.pop() {
                let task = key.2;
                match plan.pool_of[task] {
                    Some(pool) if self.running[pool] >= plan.pools[pool].1 => {
                        self.held[pool].push(Reverse(key));
                        continue;
                    }
                    Some(pool) => self.running[pool] += 1,
                    None => {}
                }
                task
            } else {
                break;
            };
            start.push(task);
        }
    }

    /// Every ready task, held ones included, taken out (in no set order).
    pub(crate) fn take_ready(&mut self) -> Vec<TaskId> {
        let mut tasks: Vec<TaskId> = self.ready.drain().map(|Reverse(key)| key.2).collect();
        for held in &mut self.held {
            tasks.extend(held.drain().map(|Reverse(key)| key.2));
        }
        tasks.sort_unstable();
        tasks
    }

    /// `task` runs already: it holds a place in its pool.
    pub(crate) fn occupy(&mut self, plan: &Plan, task: TaskId) {
        if let Some(pool) = plan.pool_of[task] {
            self.running[pool] += 1;
        }
    }

    /// `task` has stopped running: its pool has a place again.
    pub(crate) fn ended(&mut self, plan: &Plan, task: TaskId) {
        if let Some(pool) = plan.pool_of[task] {
            self.running[pool] -= 1;
        }
    }
}

/// The wait before the retry that follows attempt `attempt`, before
/// jitter: `base` doubled for each earlier retry, at most
/// [`MAX_RETRY_DELAY`].
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_RETRY_DELAY)
}

/// A small pseudo-random source for retry jitter (splitmix64); it only
/// spreads retries out, so it need not be strong.
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn seeded() -> Jitter {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        Jitter(u64::from(nanos) ^ (u64::from(std::process::id()) << 32))
    }

    /// A number in `0.0..1.0`.
    pub(crate) fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        f64::from(u32::try_from(z >> 32).unwrap_or(0)) / (f64::from(u32::MAX) + 1.0)
    }
}

/// What a worker needs to run `task` of `plan` from the run's `base`,
/// given what each task that passed handed on (`produced`, in plan
/// order). A dry run works out keys with the same jobs.
pub(crate) fn job(plan: &Plan, task: TaskId, base: &JobBase, produced: &[Handed]) -> Job {
    let spec = &plan.tasks[task];
    let deps = || {
        base.outside
            .get(task)
            .into_iter()
            .flatten()
            .map(|(name, handed)| (name, handed))
            .chain(
                plan.deps[task]
                    .iter()
                    .chain(&plan.soft[task])
                    .map(|&dep| (&plan.tasks[dep].name.value, &produced[dep])),
            )
    };
    let cache = spec.settings.cache.cacheable().then(|| {
        Box::new(CacheJob {
            spec: spec.settings.cache.clone(),
            dir: spec.settings.dir.clone().unwrap_or_default(),
            deps: deps()
                .map(|(name, handed)| (name.clone(), handed.value.clone()))
                .collect(),
        })
    });
    let passing = base.out.as_ref().map(|out| {
        Box::new(Passing {
            out: passing::dir_of(out, &spec.name.value),
            given: deps()
                .map(|(name, handed)| (name.clone(), handed.out.clone()))
                .collect(),
        })
    });
    Job {
        name: spec.name.value.clone(),
        command: spec.command.value.clone(),
        kind: spec.kind,
        dir: match &spec.settings.dir {
            Some(own) => base.dir.join(own),
            None => base.dir.clone(),
        },
        env: spec.settings.env.clone(),
        timeout: spec.settings.timeout_or(base.timeout),
        max_output: base.max_output,
        cpus: spec.settings.cpus,
        mem: spec.settings.mem,
        cache,
        passing,
    }
}

/// A finished job's status. A job that ends after the run was interrupted
/// is `canceled`, unless it passed: then it is recorded as what it did. A
/// job the cache found up to date is `cached`.
pub(crate) fn status(outcome: &Outcome, interrupted: bool) -> Status {
    match (&outcome.exit, outcome.timed_out) {
        (_, true) => Status::Timeout,
        (Exit::Code(0), false)
            if outcome
                .cache
                .as_ref()
                .is_some_and(|report| matches!(report.verdict, Verdict::Hit { .. })) =>
        {
            Status::Cached
        }
        (Exit::Code(0), false) => Status::Passed,
        (_, false) if interrupted => Status::Canceled,
        (_, false) => Status::Failed,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::event::Capture;
    use crate::testing::plan;

    fn options(jobs: usize) -> RunOptions {
        RunOptions {
            jobs,
            base: JobBase {
                max_output: 1024,
                dir: PathBuf::from("."),
                ..JobBase::default()
            },
            live_output: false,
            retry_delay: Duration::from_millis(1),
            policy: None,
            max_failures: None,
            priority: Vec::new(),
        }
    }

    /// An executor that runs nothing: a command of `fail` fails, anything
    /// else passes; each takes 20 ms, `slow…` 300 ms. It records the order jobs start in and the most that
    /// ran at once.
    #[derive(Default)]
    struct Fake {
        log: Mutex<(Vec<String>, usize, usize)>,
    }

    impl Executor for Fake {
        fn execute(&self, job: &Job, _: &Control, _: &mut dyn FnMut(Stream, &[u8])) -> Outcome {
            {
                let mut log = self.log.lock().unwrap();
                log.0.push(job.command.clone());
                log.1 += 1;
                log.2 = log.2.max(log.1);
            }
            let pause = if job.command.starts_with("slow") {
                300
            } else {
                20
            };
            std::thread::sleep(Duration::from_millis(pause));
            self.log.lock().unwrap().1 -= 1;
            Outcome {
                out: None,
                exit: Exit::Code(i32::from(job.command == "fail")),
                timed_out: false,
                started_at: SystemTime::now(),
                duration: Duration::ZERO,
                stdout: Capture::default(),
                stderr: Capture::default(),
                slurm: None,
                cache: None,
            }
        }
    }

    fn run(text: &str, jobs: usize) -> (Summary, Vec<String>, Arc<Fake>) {
        let plan = plan(text);
        let options = options(jobs);
        let fake = Arc::new(Fake::default());
        let scheduler = Scheduler::new(&plan, &options, fake.clone());
        let mut events = Vec::new();
        let (_keep, signals) = channel::unbounded();
        let summary = scheduler
            .run(
                &mut |event| {
                    let name = |task: TaskId| plan.tasks[task].name.value.clone();
                    match event {
                        Event::TaskFinished { task, result } => {
                            events.push(format!("{} {}", name(task), result.status.as_str()));
                        }
                        Event::TaskSkipped { task, reason } => {
                            events.push(format!("{} skipped ({reason})", name(task)));
                        }
                        _ => {}
                    }
                },
                &signals,
            )
            .unwrap();
        (summary, events, fake)
    }

    #[test]
    fn dependencies_run_first_and_the_first_ready_starts_first() {
        let (summary, events, fake) = run("c: c [after:a,b]\nb: b [after:a]\na: a\nd: d\n", 1);
        assert!(summary.counts.all_passed());
        // File order: `a` and `d` are ready at once, and `a` is declared
        // first; when `a` ends, `d` (ready since the start) goes before
        // `b` (ready only now), and `c` comes last.
        assert_eq!(fake.log.lock().unwrap().0, ["a", "d", "b", "c"]);
        assert_eq!(events, ["a passed", "d passed", "b passed", "c passed"]);
    }

    #[test]
    fn the_critical_path_order_starts_the_longest_chain_first() {
        use crate::order::{Estimates, Order, priorities};
        let plan = plan("c: c [after:a,b]\nb: b [after:a]\na: a\nd: d\n");
        let mut options = options(1);
        options.priority = priorities(&plan, &Estimates::equal(4), Order::CriticalPath);
        let fake = Arc::new(Fake::default());
        let (_keep, signals) = channel::unbounded();
        Scheduler::new(&plan, &options, fake.clone())
            .run(&mut |_| {}, &signals)
            .unwrap();
        // `a` heads the chain a → b → c; then `b` (a chain of two) before
        // `d` (one), and `c` and `d` tie on length: `d` was ready first.
        assert_eq!(fake.log.lock().unwrap().0, ["a", "b", "d", "c"]);
    }

    #[test]
    fn never_more_than_jobs_at_once() {
        let text = (0..12).fold(String::new(), |text, i| {
            text + format!("t{i}: x\n").as_str()
        });
        let (_, _, fake) = run(&text, 3);
        assert_eq!(fake.log.lock().unwrap().2, 3);
    }

    #[test]
    fn failure_skips_all_dependents_and_other_branches_run_on() {
        let (summary, events, _) = run(
            "a: fail\nb: x [after:a]\nc: x [after:b]\nd: x\ne: x [after:d]\n",
            1,
        );
        assert_eq!(
            events,
            [
                "a failed",
                "b skipped (dependency failed: a)",
                "c skipped (dependency failed: a)",
                "d passed",
                "e passed"
            ]
        );
        assert_eq!(
            summary.counts,
            Counts {
                passed: 2,
                failed: 1,
                skipped: 2,
                ..Counts::default()
            }
        );
    }

    /// Runs `text` at `jobs` on `fake`, and returns `start NAME LANE` and
    /// `end NAME` for each task, in the order of the events; `on_end`
    /// runs when a task's end is emitted, before the scheduler goes on.
    fn starts_and_ends(
        text: &str,
        jobs: usize,
        fake: &Arc<Fake>,
        on_end: &mut dyn FnMut(&str),
    ) -> Vec<String> {
        let plan = plan(text);
        let options = options(jobs);
        let scheduler = Scheduler::new(&plan, &options, fake.clone());
        let (_keep, signals) = channel::unbounded();
        let mut seen = Vec::new();
        let name = |task: TaskId| plan.tasks[task].name.value.clone();
        scheduler
            .run(
                &mut |event| match event {
                    Event::TaskStarted { task, slot, .. } => {
                        seen.push(format!("start {} {slot}", name(task)));
                    }
                    Event::TaskFinished { task, .. } => {
                        seen.push(format!("end {}", name(task)));
                        on_end(&name(task));
                    }
                    _ => {}
                },
                &signals,
            )
            .unwrap();
        seen
    }

    #[test]
    fn a_dependent_starts_on_the_worker_that_saw_its_dependency_pass() {
        // While the scheduler is still busy with the end of `a` (its event
        // does not return), `b` starts: the worker that ran `a` started it
        // from the scheduler's offer, in the same lane.
        let fake = Arc::new(Fake::default());
        let watched = Arc::clone(&fake);
        let mut started_meanwhile = Vec::new();
        let seen = starts_and_ends(
            "a: slow a\nb: slow b [after:a]\nc: slow c [after:b]\n",
            2,
            &fake,
            &mut |name| {
                let deadline = Instant::now() + Duration::from_secs(10);
                let next = match name {
                    "a" => "slow b",
                    "b" => "slow c",
                    _ => return,
                };
                while !watched.log.lock().unwrap().0.iter().any(|job| job == next)
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                started_meanwhile.push(watched.log.lock().unwrap().0.iter().any(|job| job == next));
            },
        );
        assert_eq!(started_meanwhile, [true, true]);
        assert_eq!(
            seen,
            [
                "start a 0",
                "end a",
                "start b 0",
                "end b",
                "start c 0",
                "end c"
            ]
        );
    }

    #[test]
    fn no_task_starts_ahead_of_one_waiting_for_a_place_or_into_a_full_pool() {
        // `d` is ready while `a` runs with `-j 1`: it goes before `b`,
        // which only `a` held back; and `y` may not start from `x`'s end
        // while `slow` holds the only place of its pool.
        let fake = Arc::new(Fake::default());
        let seen = starts_and_ends("a: a\nb: b [after:a]\nd: d\n", 1, &fake, &mut |_| {});
        assert_eq!(
            seen,
            [
                "start a 0",
                "end a",
                "start d 0",
                "end d",
                "start b 0",
                "end b"
            ]
        );
        let text = "pool p 1\nslow: slow [pool:p]\nx: x\ny: y [after:x] [pool:p]\n";
        let seen = starts_and_ends(text, 2, &fake, &mut |_| {});
        let at = |what: &str| {
            seen.iter()
                .position(|event| event.starts_with(what))
                .unwrap()
        };
        assert!(at("start y") > at("end slow"), "{seen:?}");
    }

    #[test]
    fn the_task_a_worker_goes_on_with_is_the_one_the_order_puts_first() {
        // `c` only waits for `t` to end and comes first in the file: it
        // starts before `d`, which needs `t` to pass; and `d1`, first in
        // the file, goes before `d2` although it is in a pool `t` is not.
        let fake = Arc::new(Fake::default());
        let starts = |seen: Vec<String>| -> Vec<String> {
            seen.into_iter()
                .filter(|event| event.starts_with("start"))
                .collect()
        };
        let text = "t: t\nc: c [after_done:t]\nd: d [after:t]\n";
        let seen = starts_and_ends(text, 1, &fake, &mut |_| {});
        assert_eq!(starts(seen), ["start t 0", "start c 0", "start d 0"]);
        let text = "pool q 1\nt: t\nd1: d1 [after:t] [pool:q]\nd2: d2 [after:t]\n";
        let seen = starts_and_ends(text, 1, &fake, &mut |_| {});
        assert_eq!(starts(seen), ["start t 0", "start d1 0", "start d2 0"]);
    }

    #[test]
    fn a_pool_limits_its_tasks_within_jobs() {
        let text = "pool db 1\na: x [pool:db]\nb: x [pool:db]\nc: x [pool:db]\nd: x\ne: x\n";
        let plan = plan(text);
        let options = options(4);
        let fake = Arc::new(Fake::default());
        let scheduler = Scheduler::new(&plan, &options, fake.clone());
        let (_keep, signals) = channel::unbounded();
        let mut pool_now = 0i32;
        let mut pool_most = 0i32;
        scheduler
            .run(
                &mut |event| match event {
                    Event::TaskStarted { task, .. } if task < 3 => {
                        pool_now += 1;
                        pool_most = pool_most.max(pool_now);
                    }
                    Event::TaskFinished { task, .. } if task < 3 => pool_now -= 1,
                    _ => {}
                },
                &signals,
            )
            .unwrap();
        assert_eq!(pool_most, 1, "one `db` task at a time");
        // The other tasks did not wait behind the pool: up to 3 at once.
        assert!(fake.log.lock().unwrap().2 >= 2);
    }

    #[test]
    fn soft_dependents_run_after_a_failure_and_after_a_skip() {
        let (summary, events, _) = run(
            "a: fail\nb: x [after:a]\nc: x [after_done:a]\nd: x [after_done:b]\ne: x [after:c]\n",
            1,
        );
        assert_eq!(
            events,
            [
                "a failed",
                "b skipped (dependency failed: a)",
                "c passed",
                "d passed",
                "e passed"
            ]
        );
        assert_eq!(summary.counts.passed, 3);
    }

    #[test]
    fn interrupt_stops_starting_and_skips_the_rest() {
        let plan = plan("a: x\nb: x [after:a]\nc: x\n");
        let options = options(1);
        let (sender, signals) = channel::unbounded();
        sender.send(Signal::INT).unwrap();
        let scheduler = Scheduler::new(&plan, &options, Arc::new(Fake::default()));
        let mut skipped = Vec::new();
        let summary = scheduler
            .run(
                &mut |event| {
                    if let Event::TaskSkipped { task, reason } = event {
                        skipped.push((task, reason));
                    }
                },
                &signals,
            )
            .unwrap();
        assert_eq!(summary.interrupted, Some(Signal::INT));
        // `a` was running and passed; `b` and `c` never started.
        assert_eq!(summary.counts.passed, 1);
        assert_eq!(
            skipped,
            [(1, SkipReason::Interrupted), (2, SkipReason::Interrupted)]
        );
    }

    #[test]
    fn a_pool_starts_its_tasks_in_the_order_they_became_ready() {
        // See: issue 13, item 14.
        let plan =
            plan("pool db 1\nhold: x [pool:db]\nlate: x [pool:db]\nearly: x [pool:db]\nfree: x\n");
        let mut admission = Admission::new(&plan, vec![0; plan.tasks.len()]);
        let mut start = Vec::new();
        admission.ready(0);
        admission.ready(2);
        admission.admit(&plan, 4, &mut start);
        assert_eq!(start, [0], "`early` waits for the pool");
        // `late` (declared before `early`) becomes ready later, and so does
        // `free`, which needs no pool.
        admission.next_round();
        admission.ready(1);
        admission.ready(3);
        start.clear();
        admission.admit(&plan, 4, &mut start);
        assert_eq!(start, [3]);
        admission.ended(&plan, 0);
        start.clear();
        admission.admit(&plan, 4, &mut start);
        assert_eq!(start, [2], "the one waiting longest goes first");
        admission.ended(&plan, 2);
        start.clear();
        admission.admit(&plan, 1, &mut start);
        assert_eq!(start, [1]);
        // No place, nothing starts.
        admission.ready(0);
        start.clear();
        admission.admit(&plan, 0, &mut start);
        assert!(start.is_empty());
    }

    #[test]
    fn the_simulated_order_follows_dependencies_jobs_and_pools() {
        use crate::order::{Estimates, Order, priorities, simulate};
        let plan = plan("pool db 1\na: x [pool:db]\nb: x [pool:db]\nc: x\nd: x [after:c]\n");
        let equal = Estimates::equal(plan.tasks.len());
        let order = |jobs| -> Vec<String> {
            simulate(&plan, &equal, jobs, &priorities(&plan, &equal, Order::File))
                .placed
                .iter()
                .map(|placed| plan.tasks[placed.task].name.value.clone())
                .collect()
        };
        // With two places: a and c start; both end, and b (held for the
        // pool since the start) goes before d (ready only now).
        assert_eq!(order(2), ["a", "c", "b", "d"]);
        assert_eq!(order(1), ["a", "b", "c", "d"]);
    }

    #[test]
    fn status_of_outcomes() {
        let outcome = |exit, timed_out| Outcome {
            out: None,
            exit,
            timed_out,
            started_at: SystemTime::now(),
            duration: Duration::ZERO,
            stdout: Capture::default(),
            stderr: Capture::default(),
            slurm: None,
            cache: None,
        };
        assert_eq!(
            status(&outcome(Exit::Code(0), false), false),
            Status::Passed
        );
        assert_eq!(status(&outcome(Exit::Code(0), false), true), Status::Passed);
        assert_eq!(
            status(&outcome(Exit::Code(2), false), false),
            Status::Failed
        );
        assert_eq!(
            status(&outcome(Exit::Signal(Signal::INT), false), true),
            Status::Canceled
        );
        assert_eq!(
            status(&outcome(Exit::Signal(Signal::TERM), true), false),
            Status::Timeout
        );
        assert_eq!(
            status(&outcome(Exit::NotStarted("x".into()), false), false),
            Status::Failed
        );
    }
}
