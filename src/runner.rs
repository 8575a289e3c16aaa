//! taskrun as a library: build a task set, run it with options of your
//! own, and receive every event through a callback of your own.
//!
//! A [`Tasks`] comes from the line format ([`Tasks::parse`]), a Rhai script
//! ([`Tasks::from_script`]), a file as `taskrun run` reads it
//! ([`Tasks::load`]) or code ([`Tasks::from_tasks`] with [`Task`]); it is
//! validated as the command line validates it. A [`Runner`] holds a run's
//! options and runs a set, calling back with each [`Event`] as it happens,
//! on the calling thread. Nothing is global: no signal handler is
//! installed (a [`Canceller`] stops a run instead) and nothing is written
//! to the terminal or a database, so runs in one process never see each
//! other's events.
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

use crate::error::Error;
use crate::event::{Event, Summary, TaskId};
use crate::execute::{self, Executor, Slurm, SlurmOptions};
use crate::graph::Plan;
use crate::report::{self, Style};
use crate::schedule::{RetryPolicy, RunOptions, Scheduler};
use crate::script::{Evaluator, Hooks, Policy, Script};
use crate::source::{Source, Sources, Span, Spanned};
use crate::task::{self, Kind, PoolSpec, Settings, TaskSet, TaskSpec};

/// A validated set of tasks, ready to run any number of times.
#[derive(Debug)]
pub struct Tasks {
    plan: Plan,
    script: Option<Arc<Script>>,
    sources: Sources,
    dir: PathBuf,
}

/// Why a task set could not be made: a [`Error`] and the text it is about,
/// shown (with `{}`) as the command line shows it, pointing at the line
/// and column of each problem.
#[derive(Debug)]
pub struct LoadError {
    error: Error,
    sources: Sources,
}

impl LoadError {
    /// The error itself, with its diagnostic code.
    pub fn error(&self) -> &Error {
        &self.error
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = report::error(&self.error, &self.sources, Style { color: false });
        f.write_str(text.trim_end())
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl Tasks {
    /// Tasks in the line format of `tasks.txt`, which run in the current
    /// directory (see [`Runner::dir`]).
    ///
    /// ```
    /// let error = taskrun::Tasks::parse("a: true\nb: true [after:c]\n").unwrap_err();
    /// assert!(error.to_string().contains("graph::unknown_dependency"));
    /// assert!(error.to_string().contains("tasks.txt:2:"));
    /// ```
    pub fn parse(text: &str) -> Result<Tasks, LoadError> {
        Tasks::from_source(Source::from_bytes("tasks.txt", text.as_bytes()))
    }

    /// Tasks made by a Rhai script, as a `.rhai` file given to `taskrun
    /// run` makes them; its retry policy and hooks take part in its runs.
    ///
    /// ```
    /// let tasks = taskrun::Tasks::from_script(
    ///     r#"for n in 1..=3 { task(`shard_${n}`, `echo ${n}`); }"#,
    /// )?;
    /// assert_eq!(tasks.names().collect::<Vec<_>>(), ["shard_1", "shard_2", "shard_3"]);
    /// # Ok::<(), taskrun::LoadError>(())
    /// ```
    pub fn from_script(text: &str) -> Result<Tasks, LoadError> {
        Tasks::from_source(Source::from_bytes("Taskfile.rhai", text.as_bytes()))
    }

    /// The task file (or `.rhai` script) at `path`, with the
    /// `Taskfile.rhai` beside it, as `taskrun run` reads it. Its tasks run
    /// in its directory.
    pub fn load(path: impl AsRef<Path>) -> Result<Tasks, LoadError> {
        let path = path.as_ref();
        let args = crate::cli::SourceArgs {
            file: path.to_owned(),
            script: None,
            no_script: false,
        };
        let mut sources = Sources::new();
        match crate::load(&args, &mut sources) {
            Ok(loaded) => Ok(Tasks {
                plan: loaded.plan,
                script: loaded.script,
                sources,
                dir: crate::dir_of(path),
            }),
            Err(error) => Err(LoadError { error, sources }),
        }
    }

    /// Tasks built in code, with the pools they use (name and limit).
    ///
    /// ```
    /// use taskrun::{Task, Tasks};
    ///
    /// let tasks = Tasks::from_tasks(
    ///     [
    ///         Task::new("migrate", "echo migrating").pool("db"),
    ///         Task::new("serve", "echo serving").after("migrate").env("PORT", "8080"),
    ///     ],
    ///     [("db", 1)],
    /// )?;
    /// assert_eq!(tasks.len(), 2);
    /// # Ok::<(), taskrun::LoadError>(())
    /// ```
    pub fn from_tasks<'a>(
        tasks: impl IntoIterator<Item = Task>,
        pools: impl IntoIterator<Item = (&'a str, usize)>,
    ) -> Result<Tasks, LoadError> {
        let mut sources = Sources::new();
        let origin = sources.add(Source::from_bytes("<code>", b""));
        let at = |value: &str| Spanned::new(value.to_owned(), Span::new(origin, 0, 0));
        let mut specs = Vec::new();
        for task in tasks {
            let Task {
                name,
                command,
                after,
                after_done,
                mut settings,
                pool,
            } = task;
            if !task::is_valid_name(&name) {
                let error = Error::InvalidTask {
                    name,
                    why: "a name is letters, digits and `_`".to_owned(),
                };
                return Err(LoadError { error, sources });
            }
            if let Some((key, _)) = settings.env.iter().find(|(key, _)| !task::is_env_name(key)) {
                let error = Error::InvalidTask {
                    why: format!("`{key}` cannot name an environment variable"),
                    name,
                };
                return Err(LoadError { error, sources });
            }
            settings.pool = pool.as_deref().map(at);
            specs.push(TaskSpec {
                name: at(&name),
                command: at(&command),
                after: after.iter().map(|dep| at(dep)).collect(),
                after_done: after_done.iter().map(|dep| at(dep)).collect(),
                settings,
                kind: Kind::Shell,
            });
        }
        let mut specs_of_pools = Vec::new();
        for (name, limit) in pools {
            if !task::is_valid_name(name) || limit == 0 {
                let error = Error::InvalidTask {
                    name: name.to_owned(),
                    why: "a pool has a name of letters, digits and `_`, and a limit of at \
                          least 1"
                        .to_owned(),
                };
                return Err(LoadError { error, sources });
            }
            specs_of_pools.push(PoolSpec {
                name: at(name),
                limit,
            });
        }
        let pools = specs_of_pools;
        let set = TaskSet {
            origin,
            tasks: specs,
            pools,
        };
        match Plan::build(set) {
            Ok(plan) => Ok(Tasks {
                plan,
                script: None,
                sources,
                dir: PathBuf::from("."),
            }),
            Err(errors) => {
                let error = Error::Invalid {
                    path: PathBuf::from("<code>"),
                    problems: errors.into_iter().map(Into::into).collect(),
                };
                Err(LoadError { error, sources })
            }
        }
    }

    fn from_source(source: Source) -> Result<Tasks, LoadError> {
        let mut sources = Sources::new();
        let id = sources.add(source);
        let dir = PathBuf::from(".");
        match crate::load_source(&mut sources, id, &dir, None) {
            Ok(loaded) => Ok(Tasks {
                plan: loaded.plan,
                script: loaded.script,
                sources,
                dir,
            }),
            Err(error) => Err(LoadError { error, sources }),
        }
    }

    /// How many tasks there are.
    pub fn len(&self) -> usize {
        self.plan.tasks.len()
    }

    /// Whether there are none (never, for a set that loaded).
    pub fn is_empty(&self) -> bool {
        self.plan.tasks.is_empty()
    }

    /// The tasks' names, in the order they were declared.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.plan.tasks.iter().map(|task| task.name.value.as_str())
    }

    /// The name of the task an [`Event`] is about.
    pub fn name(&self, task: TaskId) -> &str {
        &self.plan.tasks[task].name.value
    }

    /// The validated graph: each task's specification and dependencies.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
}

/// A task built in code, for [`Tasks::from_tasks`].
#[derive(Clone, Debug)]
pub struct Task {
    name: String,
    command: String,
    after: Vec<String>,
    after_done: Vec<String>,
    settings: Settings,
    pool: Option<String>,
}

impl Task {
    /// A task that runs `command` with `/bin/sh -c`.
    pub fn new(name: impl Into<String>, command: impl Into<String>) -> Task {
        Task {
            name: name.into(),
            command: command.into(),
            after: Vec::new(),
            after_done: Vec::new(),
            settings: Settings::default(),
            pool: None,
        }
    }

    /// Runs only after `task` passed (`[after:task]`).
    #[must_use]
    pub fn after(mut self, task: impl Into<String>) -> Task {
        self.after.push(task.into());
        self
    }

    /// Runs only after `task` ended, whatever its result (`[after_done:task]`).
    #[must_use]
    pub fn after_done(mut self, task: impl Into<String>) -> Task {
        self.after_done.push(task.into());
        self
    }

    /// Its own time limit, over the run's (`[timeout:…]`).
    #[must_use]
    pub fn timeout(mut self, limit: Duration) -> Task {
        self.settings.timeout = Some(limit);
        self
    }

    /// Runs up to `retries` more times if it fails (`[retries:N]`).
    #[must_use]
    pub fn retries(mut self, retries: u32) -> Task {
        self.settings.retries = Some(retries.min(task::MAX_RETRIES));
        self
    }

    /// Runs in `dir`, relative to the run's directory (`[dir:…]`).
    #[must_use]
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Task {
        self.settings.dir = Some(dir.into());
        self
    }

    /// Adds a variable to its environment (`[env:KEY=VALUE]`).
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Task {
        self.settings.env.push((key.into(), value.into()));
        self
    }

    /// Counts against the limit of `pool` (`[pool:…]`).
    #[must_use]
    pub fn pool(mut self, pool: impl Into<String>) -> Task {
        self.pool = Some(pool.into());
        self
    }
}

/// The options of a run, and the way to start it.
#[derive(Clone, Debug)]
pub struct Runner {
    jobs: usize,
    timeout: Option<Duration>,
    max_output: usize,
    dir: Option<PathBuf>,
    retry_delay: Duration,
    output_events: bool,
    interrupts: Option<Receiver<i32>>,
    run_id: i64,
    style: Style,
    slurm: Option<SlurmOptions>,
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
            output_events: true,
            interrupts: None,
            run_id: 0,
            style: Style { color: false },
            slurm: None,
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

    /// Whether to send [`Event::TaskOutput`] as output arrives; without,
    /// output is only in each [`Event::TaskFinished`]'s result.
    #[must_use]
    pub fn output_events(mut self, send: bool) -> Runner {
        self.output_events = send;
        self
    }

    /// Runs the tasks on a Slurm cluster, each as one `srun` job step,
    /// instead of on this machine. [`Runner::run`] checks that the cluster
    /// answers before it starts anything.
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
    /// [`Error::Start`] when the system could not start the run's threads.
    pub fn run(&self, tasks: &Tasks, mut on_event: impl FnMut(&Event)) -> Result<Summary, Error> {
        let dir = self.dir.clone().unwrap_or_else(|| tasks.dir.clone());
        // A script's `executor("slurm")` holds unless the runner chose.
        let from_script = tasks
            .script
            .as_ref()
            .filter(|script| self.slurm.is_none() && script.executor.as_deref() == Some("slurm"));
        if let Some(script) = from_script {
            let mut runner = self.clone();
            runner.slurm = Some(SlurmOptions {
                partition: script.partition.clone(),
                args: Vec::new(),
            });
            return runner.execute(
                &tasks.plan,
                tasks.script.as_ref(),
                &tasks.sources,
                &dir,
                &mut |event| on_event(&event),
            );
        }
        self.execute(
            &tasks.plan,
            tasks.script.as_ref(),
            &tasks.sources,
            &dir,
            &mut |event| on_event(&event),
        )
    }

    /// Runs `plan` in `dir`; with `script`, through its evaluator, retry
    /// policy and hooks. The run of `taskrun run` and of the library alike.
    pub(crate) fn execute(
        &self,
        plan: &Plan,
        script: Option<&Arc<Script>>,
        sources: &Sources,
        dir: &Path,
        emit: &mut dyn FnMut(Event),
    ) -> Result<Summary, Error> {
        let options = RunOptions {
            jobs: self.jobs,
            timeout: self.timeout,
            max_output: self.max_output,
            dir: dir.to_owned(),
            live_output: self.output_events,
            retry_delay: self.retry_delay,
            policy: script.and_then(|script| {
                let policy = Policy::new(Arc::clone(script), sources.clone(), self.style)?;
                Some(Arc::new(policy) as Arc<dyn RetryPolicy>)
            }),
        };
        let hooks = script.and_then(|script| {
            Hooks::new(Arc::clone(script), self.run_id, sources.clone(), self.style)
        });
        // Failing to raise the limit is no reason not to run: with fewer
        // descriptors, only jobs beyond the limit fail, each with the reason.
        let _ = execute::reserve_descriptors(self.jobs);
        let shell: Arc<dyn Executor> = match &self.slurm {
            Some(options) => {
                Slurm::check(options).map_err(|why| Error::SlurmUnavailable { why })?;
                Arc::new(Slurm::new(options.clone(), self.run_id))
            }
            None => Arc::new(execute::Local),
        };
        let executor: Arc<dyn Executor> = match script {
            Some(script) => Arc::new(Evaluator::new(Arc::clone(script), Arc::clone(&shell))),
            None => Arc::clone(&shell),
        };
        let never = crossbeam::channel::never();
        let interrupts = self.interrupts.as_ref().unwrap_or(&never);
        // A cancel from before this run is not for it.
        while interrupts.try_recv().is_ok() {}
        let scheduler = Scheduler::new(plan, &options, executor);
        let summary = std::thread::scope(|scope| {
            let Some(hooks) = hooks else {
                return scheduler.run(emit, interrupts);
            };
            let (to_hooks, hook_events) = crossbeam::channel::unbounded();
            std::thread::Builder::new()
                .name("taskrun-hooks".to_owned())
                .spawn_scoped(scope, move || hooks.consume(plan, &hook_events))?;
            let summary = scheduler.run(
                &mut |event| {
                    // Hooks see tasks start and end, never output.
                    if !matches!(event, Event::TaskOutput { .. }) {
                        let _ = to_hooks.send(event.clone());
                    }
                    emit(event);
                },
                interrupts,
            );
            // The hooks thread ends when the channel closes, and the scope
            // waits for it: `on_finish` has run when the run returns.
            drop(to_hooks);
            summary
        });
        let summary = summary.map_err(Error::Start)?;
        if summary.interrupted.is_some() {
            shell.interrupted();
        }
        Ok(summary)
    }

    /// For `taskrun run`: stops on the signals `interrupts` delivers.
    pub(crate) fn interrupted_by(mut self, interrupts: Receiver<i32>) -> Runner {
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

/// Stops a [`Runner`]'s run: no more tasks start, the running ones are
/// sent SIGTERM (and SIGKILL two seconds later), and the run ends with
/// its summary's `interrupted` set.
#[derive(Clone, Debug)]
pub struct Canceller {
    sender: Sender<i32>,
}

impl Canceller {
    /// Stops the run (the first call); a second call kills the running
    /// tasks at once.
    pub fn cancel(&self) {
        let _ = self.sender.send(libc::SIGTERM);
    }
}

#[cfg(test)]
#[allow(clippy::format_collect, reason = "building test inputs")]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::event::Status;

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
        assert_eq!(summary.interrupted, Some(libc::SIGTERM));
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
    fn tasks_built_in_code_are_validated() {
        let error = |tasks: Vec<Task>, pools: &[(&str, usize)]| {
            Tasks::from_tasks(tasks, pools.iter().copied())
                .unwrap_err()
                .to_string()
        };
        let text = error(vec![Task::new("bad name", "true")], &[]);
        assert!(
            text.contains("api::invalid_task") && text.contains("`bad name`"),
            "{text}"
        );
        let text = error(vec![Task::new("a", "true").env("1X", "y")], &[]);
        assert!(
            text.contains("`1X` cannot name an environment variable"),
            "{text}"
        );
        let text = error(vec![Task::new("a", "true").after("b")], &[]);
        assert!(text.contains("graph::unknown_dependency"), "{text}");
        let text = error(vec![Task::new("a", "true").pool("db")], &[]);
        assert!(text.contains("graph::unknown_pool"), "{text}");
        let text = error(
            vec![
                Task::new("a", "true").after("b"),
                Task::new("b", "true").after("a"),
            ],
            &[],
        );
        assert!(text.contains("graph::cycle"), "{text}");
        let text = error(vec![Task::new("a", "true").pool("db")], &[("db", 0)]);
        assert!(text.contains("a limit of at least 1"), "{text}");
        assert!(Tasks::from_tasks([Task::new("a", "true").pool("db")], [("db", 1)]).is_ok());
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

    #[test]
    fn load_errors_point_at_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.txt");
        std::fs::write(&path, "ok: true\nbroken true\n").unwrap();
        let error = Tasks::load(&path).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("taskfile::missing_colon"), "{text}");
        assert!(text.contains("tasks.txt:2:"), "{text}");
        assert!(matches!(error.error(), Error::Invalid { .. }));
        let missing = Tasks::load(dir.path().join("none.txt")).unwrap_err();
        assert!(
            missing.to_string().contains("taskfile::unreadable"),
            "{missing}"
        );
    }
}
