//! taskrun as a library: run a task set with options of your own, and
//! receive every event through a callback of your own.
//!
//! A [`Runner`] holds a run's options and runs a [`Tasks`], calling back
//! with each [`Event`] as it happens, on the calling thread. Nothing is
//! global: no signal handler is installed (a [`Canceller`] stops a run
//! instead) and nothing is written to the terminal or a database, so runs
//! in one process never see each other's events.
//!
//! ```
//! use std::time::Duration;
//! use taskrun::{Event, Runner, Status, Tasks};
//!
//! let tasks = Tasks::parse(
//!     "build: echo compiling\n\
//!      test: echo testing [after:build]\n\
//!      lint: exit 3\n",
//! )?;
//! let mut finished = Vec::new();
//! let summary = Runner::new()
//!     .jobs(2)
//!     .timeout(Duration::from_secs(30))
//!     .run(&tasks, |event| {
//!         if let Event::TaskFinished { task, result } = event {
//!             finished.push((tasks.name(*task).to_owned(), result.status));
//!         }
//!     })?;
//! finished.sort_by(|a, b| a.0.cmp(&b.0));
//! assert_eq!(
//!     finished,
//!     [
//!         ("build".to_owned(), Status::Passed),
//!         ("lint".to_owned(), Status::Failed),
//!         ("test".to_owned(), Status::Passed),
//!     ]
//! );
//! assert_eq!((summary.counts.passed, summary.counts.failed), (2, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crossbeam::channel::{Receiver, Sender};

use crate::cache::Handed;
use crate::cache::executor::CacheSetup;
use crate::cache::passing::{self, Blanks, Earlier, Passer};
use crate::error::Error;
use crate::event::{Event, Signal, Summary};
use crate::execute::{
    self, Allocation, Evaluated, Executor, Notify, Refusal, Request, Slurm, SlurmMode,
    SlurmOptions, Window,
};
use crate::graph::Plan;
use crate::order::{self, Estimates, Order};
use crate::record::Recall;
use crate::report::Style;
use crate::schedule::{JobBase, RetryPolicy, RunOptions, Scheduler};
use crate::script::{Hooks, Policy, Script};
use crate::sink::{Fanout, Sink, SinkProblem};
use crate::source::Sources;
use crate::tasks::Tasks;

/// The options of a run, and the way to start it.
#[derive(Clone, Debug)]
pub struct Runner {
    jobs: usize,
    timeout: Option<Duration>,
    max_output: usize,
    dir: Option<PathBuf>,
    retry_delay: Duration,
    max_failures: Option<usize>,
    order: Order,
    estimates: Option<Estimates>,
    /// What the history says of each task, for scripts (`task.history`).
    recall: Option<Arc<Recall>>,
    output_events: bool,
    interrupts: Option<Receiver<Signal>>,
    run_id: i64,
    style: Style,
    slurm: Option<SlurmOptions>,
    /// The run's Slurm allocation, with [`SlurmMode::Steps`], once granted.
    allocation: Option<Arc<Allocation>>,
    /// For `taskrun run`: the cache, for the tasks that declare inputs or
    /// outputs.
    cache: Option<Arc<CacheSetup>>,
    /// For `taskrun run` and `retry`: output passing (see
    /// [`crate::cache::passing`]).
    passing: Option<Arc<OutputPassing>>,
}

/// Where a run passes outputs, and what a retry starts from.
#[derive(Clone, Debug)]
pub(crate) struct OutputPassing {
    /// The store, where what tasks leave is kept.
    pub store: PathBuf,
    /// Where each run's directory is made: each task's `$TASKRUN_OUT` is
    /// `<run>/<task>` in it.
    pub runs: PathBuf,
    /// The highest directory a run that leaves nothing removes again (if
    /// it is empty then): the store, when the run made it.
    pub top: PathBuf,
    /// The most a pass may leave there, in bytes, to be stored.
    pub max: u64,
    /// For a retry, by task of the plan: its dependencies that the run
    /// it retries satisfied.
    pub earlier: Vec<Vec<Earlier>>,
}

impl Default for Runner {
    fn default() -> Runner {
        Runner::new()
    }
}

impl Runner {
    /// As many tasks at once as there are CPUs, no time limit (the command
    /// line's `--timeout` is 60 s unless given), 1 MiB of each output
    /// stream kept per task,
    /// 1 second before a first retry, and [`Event::TaskOutput`] sent as
    /// output arrives.
    pub fn new() -> Runner {
        Runner {
            jobs: std::thread::available_parallelism().map_or(1, usize::from),
            timeout: None,
            max_output: 1 << 20,
            dir: None,
            retry_delay: Duration::from_secs(1),
            max_failures: None,
            order: Order::CriticalPath,
            estimates: None,
            recall: None,
            output_events: true,
            interrupts: None,
            run_id: 0,
            style: Style { color: false },
            slurm: None,
            allocation: None,
            cache: None,
            passing: None,
        }
    }

    /// Runs at most `jobs` tasks at once (at least 1).
    #[must_use]
    pub fn jobs(mut self, jobs: usize) -> Runner {
        self.jobs = jobs.max(1);
        self
    }

    /// Kills a task that runs longer than `limit`, unless it has its own.
    #[must_use]
    pub fn timeout(mut self, limit: Duration) -> Runner {
        self.timeout = Some(limit).filter(|limit| !limit.is_zero());
        self
    }

    /// Keeps at most `bytes` of each output stream of each task (its
    /// events still carry all of it).
    #[must_use]
    pub fn max_output(mut self, bytes: usize) -> Runner {
        self.max_output = bytes;
        self
    }

    /// Runs the tasks in `dir` instead of the directory of their file (or
    /// the current one).
    #[must_use]
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Runner {
        self.dir = Some(dir.into());
        self
    }

    /// Waits `delay` before a task's first retry (doubling for each
    /// further one, with jitter).
    #[must_use]
    pub fn retry_delay(mut self, delay: Duration) -> Runner {
        self.retry_delay = delay;
        self
    }

    /// Stops starting tasks once `failures` of them have failed or timed
    /// out (1 is `--fail-fast`); the running ones finish, and cleanup tasks
    /// (`[after_done:…]`) still run. The others are skipped.
    #[must_use]
    pub fn max_failures(mut self, failures: usize) -> Runner {
        self.max_failures = Some(failures.max(1));
        self
    }

    /// Starts ready tasks in the order they became ready (then the order
    /// they are declared in) instead of the longest chain of tasks first.
    #[must_use]
    pub fn file_order(mut self) -> Runner {
        self.order = Order::File;
        self
    }

    /// For `taskrun run`: how ready tasks are ordered.
    pub(crate) fn order(mut self, order: Order) -> Runner {
        self.order = order;
        self
    }

    /// For `taskrun run`: what the history says each task takes, for the
    /// critical-path order.
    pub(crate) fn estimates(mut self, estimates: Estimates) -> Runner {
        self.estimates = Some(estimates);
        self
    }

    /// For `taskrun run`: up-to-date checks for the tasks that declare
    /// inputs or outputs.
    pub(crate) fn caching(mut self, cache: CacheSetup) -> Runner {
        self.cache = Some(Arc::new(cache));
        self
    }

    /// For `taskrun run` and `retry`: each task gets a `$TASKRUN_OUT`, and
    /// its dependents what it left there.
    pub(crate) fn passing(mut self, passing: OutputPassing) -> Runner {
        self.passing = Some(Arc::new(passing));
        self
    }

    /// For `taskrun run`: the history the script's hooks and retry policy
    /// see as `task.history`.
    pub(crate) fn recall(mut self, recall: Arc<Recall>) -> Runner {
        self.recall = Some(recall);
        self
    }

    /// Whether to send [`Event::TaskOutput`] as output arrives; without,
    /// output is only in each [`Event::TaskFinished`]'s result.
    #[must_use]
    pub fn output_events(mut self, send: bool) -> Runner {
        self.output_events = send;
        self
    }

    /// Runs the tasks on a Slurm cluster instead of on this machine: each
    /// as a job of its own, or, with [`SlurmMode::Steps`], as a step of
    /// the one allocation the run holds. [`Runner::run`] checks that the
    /// cluster answers before it starts anything, and asks for the
    /// allocation (waiting for it, at most [`SlurmOptions::wait`]); the
    /// allocation is released when the run ends, however it ends.
    #[must_use]
    pub fn slurm(mut self, options: SlurmOptions) -> Runner {
        self.slurm = Some(options);
        self
    }

    /// A handle that stops this runner's run, from any thread, as Ctrl-C
    /// stops `taskrun run`. Each call replaces the previous handle. A
    /// cancel sent while no run is going is dropped when the next run
    /// starts. Runs of one runner at the same time share its handle: a
    /// cancel stops one of them; give each its own runner to stop each.
    pub fn canceller(&mut self) -> Canceller {
        let (sender, receiver) = crossbeam::channel::unbounded();
        self.interrupts = Some(receiver);
        Canceller { sender }
    }

    /// Runs `tasks`, calling `on_event` (on this thread) with each event
    /// as it happens, and returns the summary when every task is over.
    /// The result of each task is in its [`Event::TaskFinished`].
    ///
    /// # Errors
    ///
    /// [`Error::SlurmUnavailable`] when the run is for Slurm and the
    /// cluster does not answer, [`Error::SlurmAllocation`] and
    /// [`Error::SlurmWait`] when the allocation was refused or not granted
    /// in time (nothing has run then); [`Error::Start`]
    /// when the system could not start the run's threads;
    /// [`Error::SinkFailed`] when the script's hooks stopped unexpectedly.
    pub fn run(&self, tasks: &Tasks, mut on_event: impl FnMut(&Event)) -> Result<Summary, Error> {
        let dir = self.dir.clone().unwrap_or_else(|| tasks.dir.clone());
        // A cancel from before this run is not for it.
        if let Some(interrupts) = &self.interrupts {
            while interrupts.try_recv().is_ok() {}
        }
        let runner = self.for_script(tasks.script.as_ref());
        if let Some(options) = &runner.slurm {
            Slurm::check(options).map_err(|why| Error::SlurmUnavailable { why })?;
        }
        let quiet: Notify = Arc::new(|_| {});
        // Named for this host, process and run: runs at once give up and
        // release only their own.
        let run = LIBRARY_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let me = crate::record::ProcessId::current();
        let runner = runner.allocated(
            &tasks.plan,
            &format!("taskrun-hold-lib-{}-{}-{run}", me.host, me.pid),
            &quiet,
        )?;
        let (summary, problems) = runner.execute(
            &tasks.plan,
            tasks.script.as_ref(),
            &tasks.sources,
            &dir,
            Vec::new(),
            &mut on_event,
        )?;
        match problems.into_iter().next() {
            Some(problem) => Err(problem.error),
            None => Ok(summary),
        }
    }

    /// This runner, with the executor the script chose (`executor("slurm")`)
    /// unless the runner chose one itself.
    fn for_script(&self, script: Option<&Arc<Script>>) -> Runner {
        let mut runner = self.clone();
        if let Some(script) = script
            .filter(|script| self.slurm.is_none() && script.executor.as_deref() == Some("slurm"))
        {
            runner.slurm = Some(SlurmOptions {
                partition: script.partition.clone(),
                mode: script.slurm_mode.unwrap_or_default(),
                ..SlurmOptions::default()
            });
        }
        runner
    }

    /// How many tasks the run runs at once, at most.
    pub(crate) fn jobs_at_once(&self) -> usize {
        self.jobs
    }

    /// Whether the run goes to a Slurm cluster, and with which options.
    pub(crate) fn slurm_options(&self) -> Option<&SlurmOptions> {
        self.slurm.as_ref()
    }

    /// This runner, holding the Slurm allocation its run of `plan` goes to
    /// with [`SlurmMode::Steps`] (named `name`, so that a later run can
    /// find it if this process dies), and with no more `jobs` than it
    /// holds; itself otherwise. Waits until Slurm grants it.
    pub(crate) fn allocated(
        mut self,
        plan: &Plan,
        name: &str,
        notify: &Notify,
    ) -> Result<Runner, Error> {
        let Some(options) = self
            .slurm
            .as_ref()
            .filter(|options| options.mode == SlurmMode::Steps && self.allocation.is_none())
        else {
            return Ok(self);
        };
        let settings = plan.tasks.iter().map(|task| &task.settings);
        let request = Request {
            name: name.to_owned(),
            slots: self.jobs,
            cpus: settings.clone().filter_map(|s| s.cpus).max().unwrap_or(1),
            mem: settings.filter_map(|s| s.mem).max(),
            window: options.time.filter(|time| !time.is_zero()).map_or_else(
                || {
                    self.longest_run(plan)
                        .unwrap_or(Window::Given(NO_LONGEST_RUN))
                },
                Window::Given,
            ),
        };
        let never = crossbeam::channel::never();
        let cancel = self.interrupts.as_ref().unwrap_or(&never);
        let allocation = Allocation::request(options, &request, notify, cancel).map_err(
            |refusal| match refusal {
                Refusal::Refused(why) => Error::SlurmAllocation { why },
                Refusal::Canceled(signal) => Error::SlurmCanceled { signal },
                Refusal::NotInTime { id, waited } => Error::SlurmWait {
                    id: id.unwrap_or_else(|| "(no id yet)".to_owned()),
                    waited: crate::event::format_duration(waited),
                },
            },
        )?;
        self.jobs = self.jobs.min(allocation.slots);
        self.allocation = Some(Arc::new(allocation));
        Ok(self)
    }

    /// The longest the run of `plan` can take, if every task has a time
    /// limit, as the time limit of a Slurm allocation: every attempt of
    /// every task running to its limit, with the longest retry delays
    /// between. By greedy list scheduling's bound (Graham, 1969), a run
    /// takes at most its work spread over the slots plus its longest
    /// chain; each pool's work spread over its own limit is added to the
    /// chain. `None` when a task may run for ever.
    fn longest_run(&self, plan: &Plan) -> Option<Window> {
        let mut work = Vec::with_capacity(plan.tasks.len());
        for task in &plan.tasks {
            let limit = task.settings.timeout_or(self.timeout)?;
            let retries = task.settings.retries.unwrap_or(0);
            let delay = self
                .retry_delay
                .saturating_mul(1 << retries.min(16))
                .min(crate::schedule::MAX_RETRY_DELAY);
            work.push(
                limit
                    .saturating_mul(retries.saturating_add(1))
                    .saturating_add(delay.saturating_mul(retries)),
            );
        }
        let total = work
            .iter()
            .fold(Duration::ZERO, |total, work| total.saturating_add(*work));
        let mut chain = order::priorities(
            plan,
            &Estimates {
                durations: work.clone(),
                from_history: true,
            },
            Order::CriticalPath,
        )
        .into_iter()
        .max()
        .map_or(Duration::ZERO, Duration::from_micros);
        for (pool, (_, limit)) in plan.pools.iter().enumerate() {
            let of_pool = (0..plan.tasks.len())
                .filter(|&task| plan.pool_of[task] == Some(pool))
                .fold(Duration::ZERO, |total, task| {
                    total.saturating_add(work[task])
                });
            chain =
                chain.saturating_add(of_pool / u32::try_from((*limit).max(1)).unwrap_or(u32::MAX));
        }
        Some(Window::Bound { work: total, chain })
    }

    /// Runs `plan` in `dir`; with `script`, through its evaluator, retry
    /// policy and hooks. Every event goes to `sinks` (each on a thread of
    /// its own) and then to `on_event`. The run of `taskrun run` and of the
    /// library alike: the caller has checked that Slurm answers, if the
    /// run is for Slurm.
    pub(crate) fn execute(
        &self,
        plan: &Arc<Plan>,
        script: Option<&Arc<Script>>,
        sources: &Sources,
        dir: &Path,
        mut sinks: Vec<(&'static str, Box<dyn Sink>)>,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<(Summary, Vec<SinkProblem>), Error> {
        // No more run at once than the open-file limit leaves descriptors
        // for, so that no task fails for taskrun's lack of them (the run's
        // first event says how many run at once). A limit that cannot be
        // read is no reason not to run.
        let jobs = execute::reserve_descriptors(self.jobs).unwrap_or(self.jobs);
        let (out, outside) = self.passed();
        let blanks = Arc::new(Blanks::default());
        let options = RunOptions {
            jobs,
            base: JobBase {
                dir: dir.to_owned(),
                timeout: self.timeout,
                max_output: self.max_output,
                out: out.clone(),
                outside,
            },
            live_output: self.output_events,
            retry_delay: self.retry_delay,
            max_failures: self.max_failures,
            priority: {
                let equal;
                let estimates = match &self.estimates {
                    Some(estimates) if estimates.durations.len() == plan.tasks.len() => estimates,
                    _ => {
                        equal = Estimates::equal(plan.tasks.len());
                        &equal
                    }
                };
                order::priorities(plan, estimates, self.order)
            },
            policy: script.and_then(|script| {
                let policy = Policy::new(Arc::clone(script), sources.clone(), self.style)?
                    .recalling(self.recall.clone());
                Some(Arc::new(policy) as Arc<dyn RetryPolicy>)
            }),
        };
        if let Some(hooks) = script.and_then(|script| {
            Hooks::new(
                Arc::clone(script),
                Arc::clone(plan),
                self.run_id,
                sources.clone(),
                self.style,
            )
            .map(|hooks| hooks.recalling(self.recall.clone()))
        }) {
            sinks.push(("hooks", Box::new(hooks)));
        }

        let shell: Arc<dyn Executor> = match &self.slurm {
            Some(options) => Arc::new(Slurm::new(
                options.clone(),
                self.run_id,
                self.allocation.clone(),
            )),
            None => Arc::new(execute::Local),
        };
        let evaluates = script.is_some()
            || plan
                .tasks
                .iter()
                .any(|task| task.kind == crate::task::Kind::Eval);
        let executor: Arc<dyn Executor> = if evaluates {
            Arc::new(Evaluated::new(
                script.cloned(),
                &options.base.dir,
                Arc::clone(&shell),
            ))
        } else {
            Arc::clone(&shell)
        };
        let executor = self.passing_through(executor, &blanks);
        let executor = match &self.cache {
            Some(cache) => cache.wrap(executor),
            None => executor,
        };
        let never = crossbeam::channel::never();
        let interrupts = self.interrupts.as_ref().unwrap_or(&never);
        let mut fanout = Fanout::start(sinks, interrupts).map_err(Error::Start)?;
        let scheduler = Scheduler::new(plan, &options, executor);
        let summary = scheduler.run(
            &mut |event| {
                fanout.send(&event);
                on_event(&event);
            },
            interrupts,
        );
        // The sinks finish even if the run could not start, so that
        // nothing is left half written.
        let problems = fanout.finish();
        if let (Some(out), Some(passing)) = (&out, &self.passing) {
            passing::tidy(out, &passing.top, &blanks);
        }
        let summary = summary.map_err(Error::Start)?;
        if summary.interrupted.is_some() {
            shell.interrupted();
        }
        if let Some(allocation) = &self.allocation {
            allocation.release();
        }
        Ok((summary, problems))
    }

    /// `executor` behind output passing, when the run passes outputs.
    fn passing_through(
        &self,
        executor: Arc<dyn Executor>,
        blanks: &Arc<Blanks>,
    ) -> Arc<dyn Executor> {
        match &self.passing {
            Some(passing) => Arc::new(Passer::new(
                executor,
                &passing.store,
                passing.max,
                Arc::clone(blanks),
            )),
            None => executor,
        }
    }

    /// Where the run's tasks get their `$TASKRUN_OUT` (`<store>/out/<run>`),
    /// and for a retry what the dependencies outside the plan hand on
    /// (see [`outside`](Self::outside)); nothing without output passing.
    fn passed(&self) -> (Option<PathBuf>, Vec<Vec<(String, Handed)>>) {
        let Some(passing) = &self.passing else {
            return (None, Vec::new());
        };
        let out = passing.runs.join(self.run_id.to_string());
        let outside = Self::outside(passing, &out);
        (Some(out), outside)
    }

    /// For a retry: what each task's dependencies outside the plan left,
    /// restored into the run's directory `out` (each once), and what they
    /// handed on. One that cannot be restored hands on nothing known, so
    /// its dependents run without it and are not stored; a warning says
    /// so.
    fn outside(passing: &OutputPassing, out: &Path) -> Vec<Vec<(String, Handed)>> {
        let store = crate::cache::store::Store::new(passing.store.clone());
        let mut done: std::collections::HashMap<&str, Handed> = std::collections::HashMap::new();
        passing
            .earlier
            .iter()
            .map(|deps| {
                deps.iter()
                    .map(|earlier| {
                        let handed = done
                            .entry(&earlier.name)
                            .or_insert_with(|| {
                                passing::materialise(&store, out, earlier).unwrap_or_else(|why| {
                                    eprintln!(
                                        "taskrun: warning: {why}; its dependents run without it, \
                                         and are not stored"
                                    );
                                    Handed::default()
                                })
                            })
                            .clone();
                        (earlier.name.clone(), handed)
                    })
                    .collect()
            })
            .collect()
    }

    /// For `taskrun run`: stops on the signals `interrupts` delivers.
    pub(crate) fn interrupted_by(mut self, interrupts: Receiver<Signal>) -> Runner {
        self.interrupts = Some(interrupts);
        self
    }

    /// For `taskrun run`: the run's number in the database, for hooks.
    pub(crate) fn recorded_as(mut self, run_id: i64, style: Style) -> Runner {
        self.run_id = run_id;
        self.style = style;
        self
    }
}

/// The library's runs so far, to name their Slurm allocations apart.
static LIBRARY_RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The window of a Slurm allocation for a run that may last for ever.
const NO_LONGEST_RUN: Duration = Duration::from_secs(3600);

/// Stops a [`Runner`]'s run: no more tasks start, the running ones are
/// sent SIGTERM (and SIGKILL two seconds later), and the run ends with
/// its summary's `interrupted` set.
#[derive(Clone, Debug)]
pub struct Canceller {
    sender: Sender<Signal>,
}

impl Canceller {
    /// Stops the run (the first call); a second call kills the running
    /// tasks at once.
    pub fn cancel(&self) {
        let _ = self.sender.send(Signal::TERM);
    }
}

#[cfg(test)]
#[allow(clippy::format_collect, reason = "building test inputs")]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::event::Status;
    use crate::tasks::Task;

    /// The names of the tasks each event is about, and the lines they
    /// printed.
    fn watch(tasks: &Tasks, runner: &Runner) -> (Summary, Vec<String>) {
        let mut seen = Vec::new();
        let summary = runner
            .run(tasks, |event| match event {
                Event::TaskStarted { task, .. } => {
                    seen.push(format!("start {}", tasks.name(*task)));
                }
                Event::TaskOutput { task, bytes, .. } => {
                    let text = String::from_utf8_lossy(bytes);
                    seen.push(format!("output {} {}", tasks.name(*task), text.trim_end()));
                }
                Event::TaskRetrying { task, .. } => {
                    seen.push(format!("retry {}", tasks.name(*task)));
                }
                Event::TaskFinished { task, result } => {
                    seen.push(format!("{} {}", result.status.as_str(), tasks.name(*task)));
                }
                Event::TaskSkipped { task, .. } => {
                    seen.push(format!("skipped {}", tasks.name(*task)));
                }
                _ => {}
            })
            .unwrap();
        (summary, seen)
    }

    /// The time limit of a Slurm allocation: the longest the run can take
    /// by its tasks' timeouts (work over jobs, plus the longest chain).
    #[test]
    fn the_longest_run_follows_the_timeouts() {
        let tasks = Tasks::parse(
            "a: true\nb: true [after:a]\nc: true [timeout:120s]\nd: true [retries:1]\n",
        )
        .unwrap();
        let runner = Runner::new()
            .jobs(2)
            .timeout(Duration::from_secs(60))
            .retry_delay(Duration::from_secs(1));
        // Work: a 60 + b 60 + c 120 + d (2 × 60 + a 2 s delay) 122 = 362 s;
        // the longest chain, d alone, 122 s (a then b, and c: 120 s).
        assert_eq!(
            runner.longest_run(&tasks.plan),
            Some(Window::Bound {
                work: Duration::from_secs(362),
                chain: Duration::from_secs(122)
            })
        );
        let unlimited = Runner::new().jobs(2);
        assert_eq!(
            unlimited.longest_run(&tasks.plan),
            None,
            "a task without a limit"
        );
        // `[timeout:0]` is no limit, not a task that takes no time.
        let forever = Tasks::parse(
            "a: true
b: true [timeout:0]
",
        )
        .unwrap();
        assert_eq!(runner.longest_run(&forever.plan), None);
    }

    /// Two runs at once in one process: each sees its own events only.
    #[test]
    fn two_runs_at_once_never_see_each_other() {
        let text = |prefix: &str| -> String {
            (0..6)
                .map(|i| format!("{prefix}{i}: echo {prefix}-says-{i}; sleep 0.0{i}\n"))
                .collect()
        };
        let (left, right) = (
            Tasks::parse(&text("left")).unwrap(),
            Tasks::parse(&text("right")).unwrap(),
        );
        let runner = Runner::new().jobs(3);
        let (left_seen, right_seen) = std::thread::scope(|scope| {
            let left = scope.spawn(|| watch(&left, &runner).1);
            let right = scope.spawn(|| watch(&right, &runner).1);
            (left.join().unwrap(), right.join().unwrap())
        });
        for (seen, own, other) in [
            (&left_seen, "left", "right"),
            (&right_seen, "right", "left"),
        ] {
            assert_eq!(seen.len(), 18, "{seen:?}");
            assert!(
                seen.iter()
                    .all(|line| line.contains(own) && !line.contains(other)),
                "{seen:?}"
            );
            for i in 0..6 {
                assert!(
                    seen.contains(&format!("output {own}{i} {own}-says-{i}")),
                    "{seen:?}"
                );
                assert!(seen.contains(&format!("passed {own}{i}")), "{seen:?}");
            }
        }
    }

    #[test]
    fn a_canceller_stops_the_run() {
        let tasks = Tasks::parse("slow: sleep 30\nlater: true [after:slow]\n").unwrap();
        let mut runner = Runner::new();
        let canceller = runner.canceller();
        let start = Instant::now();
        let mut ends = Vec::new();
        let summary = runner
            .run(&tasks, |event| match event {
                Event::TaskStarted { .. } => canceller.cancel(),
                Event::TaskFinished { result, .. } => ends.push(result.status),
                Event::TaskSkipped { .. } => ends.push(Status::Skipped),
                _ => {}
            })
            .unwrap();
        assert!(start.elapsed() < Duration::from_secs(20));
        assert_eq!(summary.interrupted, Some(Signal::TERM));
        assert_eq!(ends, [Status::Canceled, Status::Skipped]);
    }

    #[test]
    fn options_apply_to_the_run() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let tasks = Tasks::from_tasks(
            [
                Task::new("where_", "pwd; echo $GREETING")
                    .dir("sub")
                    .env("GREETING", "hi"),
                Task::new("slow", "sleep 10").timeout(Duration::from_millis(100)),
                Task::new("after_slow", "echo ran").after_done("slow"),
            ],
            [],
        )
        .unwrap();
        let runner = Runner::new().dir(dir.path()).output_events(false);
        let (summary, seen) = watch(&tasks, &runner);
        assert!(
            seen.iter().all(|line| !line.starts_with("output")),
            "{seen:?}"
        );
        assert_eq!((summary.counts.passed, summary.counts.timeout), (2, 1));
        let mut out = String::new();
        runner
            .run(&tasks, |event| {
                if let Event::TaskFinished { task, result } = event
                    && tasks.name(*task) == "where_"
                {
                    out = result.stdout.text().into_owned();
                }
            })
            .unwrap();
        let sub = dir.path().join("sub").canonicalize().unwrap();
        assert_eq!(out, format!("{}\nhi\n", sub.display()));
    }

    #[test]
    fn a_pool_built_in_code_holds_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        // Each task notes how many of the pool run with it.
        let command = "echo x >> running; n=$(wc -l < running); echo $n >> seen; sleep 0.1; \
                       sed -i 1d running";
        let tasks = Tasks::from_tasks(
            (0..4).map(|i| Task::new(format!("t{i}"), command).pool("one")),
            [("one", 1)],
        )
        .unwrap();
        let summary = Runner::new()
            .jobs(4)
            .dir(dir.path())
            .run(&tasks, |_| {})
            .unwrap();
        assert_eq!(summary.counts.passed, 4);
        let seen = std::fs::read_to_string(dir.path().join("seen")).unwrap();
        assert_eq!(seen, "1\n1\n1\n1\n");
    }

    #[test]
    fn a_script_brings_its_policy_and_hooks() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("Taskfile.rhai");
        // Hooks write relative to the process's directory: a full path.
        let finished = dir.path().join("finished.txt");
        std::fs::write(
            &script,
            format!(
                r#"
                task("flaky", "echo no >&2; exit 3").retries(3);
                task("hopeless", "echo fatal >&2; exit 4").retries(3);
                fn should_retry(task) {{ !task.stderr.contains("fatal") }}
                fn on_finish(run) {{ write_file("{}", `${{run.failed}} failed`); }}
                "#,
                finished.display()
            ),
        )
        .unwrap();
        let tasks = Tasks::load(&script).unwrap();
        let runner = Runner::new().retry_delay(Duration::from_millis(1));
        let (summary, seen) = watch(&tasks, &runner);
        assert_eq!(summary.counts.failed, 2);
        let retries = |name: &str| {
            seen.iter()
                .filter(|line| **line == format!("retry {name}"))
                .count()
        };
        assert_eq!((retries("flaky"), retries("hopeless")), (3, 0));
        // `on_finish` has run by the time the run returns.
        assert_eq!(
            std::fs::read_to_string(dir.path().join("finished.txt")).unwrap(),
            "2 failed"
        );
    }
}
