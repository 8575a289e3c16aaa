//! taskrun as a library: the tasks to run.
//!
//! A [`Tasks`] comes from the line format ([`Tasks::parse`]), a Rhai script
//! ([`Tasks::from_script`]), a file as `taskrun run` reads it
//! ([`Tasks::load`]) or code ([`Tasks::from_tasks`] with [`Task`]); it is
//! validated as the command line validates it, and a [`LoadError`] shows
//! each problem as the command line does. [`Runner`](crate::Runner) runs
//! it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::event::TaskId;
use crate::graph::Plan;
use crate::load::{self, LoadOptions};
use crate::report::{self, Style};
use crate::script::Script;
use crate::source::{Source, Sources, Span, Spanned};
use crate::task::{self, Kind, PoolSpec, Settings, TaskSet, TaskSpec, Timeout};

/// A validated set of tasks, ready to run any number of times.
#[derive(Debug)]
pub struct Tasks {
    pub(crate) plan: Arc<Plan>,
    pub(crate) script: Option<Arc<Script>>,
    pub(crate) sources: Sources,
    pub(crate) dir: PathBuf,
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
    /// directory (see [`Runner::dir`](crate::Runner::dir)).
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
        let mut sources = Sources::new();
        match load::load(&LoadOptions::file(path.as_ref()), &mut sources) {
            Ok(loaded) => Ok(Tasks {
                plan: Arc::new(loaded.plan),
                script: loaded.script,
                sources,
                dir: loaded.dir,
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
                kind,
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
                after: after.iter().map(|dep| at(&dep.name)).collect(),
                after_done: after_done.iter().map(|dep| at(&dep.name)).collect(),
                settings,
                kind,
                desc: None,
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
                plan: Arc::new(plan),
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
        match load::load_source(&mut sources, id, &dir, None, load::FileFormat::Lines) {
            Ok(loaded) => Ok(Tasks {
                plan: Arc::new(loaded.plan),
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

    /// The name of the task an [`Event`](crate::Event) is about.
    pub fn name(&self, task: TaskId) -> &str {
        &self.plan.tasks[task].name.value
    }
}

/// A task built in code, for [`Tasks::from_tasks`] or
/// [`Broker::submit`](crate::Broker::submit).
#[derive(Clone, Debug)]
pub struct Task {
    pub(crate) name: String,
    pub(crate) command: String,
    pub(crate) after: Vec<Dependency>,
    pub(crate) after_done: Vec<Dependency>,
    pub(crate) settings: Settings,
    pub(crate) pool: Option<String>,
    pub(crate) kind: Kind,
}

/// A task another one waits for: its name, or the handle a
/// [`Broker`](crate::Broker) gave when it was submitted. Made from a
/// `&str`, a `String` or a `&TaskHandle`, so [`Task::after`] takes any.
#[derive(Clone, Debug)]
pub struct Dependency {
    pub(crate) name: String,
    /// The submission it names, when it came from a handle: which broker,
    /// and the task's id there.
    pub(crate) submission: Option<(usize, TaskId)>,
}

impl From<&str> for Dependency {
    fn from(name: &str) -> Dependency {
        Dependency {
            name: name.to_owned(),
            submission: None,
        }
    }
}

impl From<String> for Dependency {
    fn from(name: String) -> Dependency {
        Dependency {
            name,
            submission: None,
        }
    }
}

impl From<&String> for Dependency {
    fn from(name: &String) -> Dependency {
        Dependency::from(name.as_str())
    }
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
            kind: Kind::Shell,
        }
    }

    /// A task that evaluates `code`, a Rhai snippet, in-process instead of
    /// starting a shell (as `kind = "eval"` does in a TOML task file): what
    /// it prints is its output, and an error thrown fails it. It has the
    /// standard library of `Taskfile.rhai` (`run`, `read_file`, …) and
    /// runs in its directory with its variables.
    ///
    /// ```
    /// use taskrun::{Runner, Status, Task, Tasks};
    ///
    /// let tasks = Tasks::from_tasks([Task::eval("sum", "print(40 + 2);")], [])?;
    /// let mut out = String::new();
    /// Runner::new().run(&tasks, |event| {
    ///     if let taskrun::Event::TaskFinished { result, .. } = event {
    ///         assert_eq!(result.status, Status::Passed);
    ///         out = result.stdout.text().into_owned();
    ///     }
    /// })?;
    /// assert_eq!(out, "42\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn eval(name: impl Into<String>, code: impl Into<String>) -> Task {
        Task {
            kind: Kind::Eval,
            ..Task::new(name, code)
        }
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs only after `task` passed (`[after:task]`): a name, or (for a
    /// broker) the handle of an earlier submission.
    #[must_use]
    pub fn after(mut self, task: impl Into<Dependency>) -> Task {
        self.after.push(task.into());
        self
    }

    /// Runs only after `task` ended, whatever its result (`[after_done:task]`).
    #[must_use]
    pub fn after_done(mut self, task: impl Into<Dependency>) -> Task {
        self.after_done.push(task.into());
        self
    }

    /// Its own time limit, over the run's (`[timeout:…]`).
    #[must_use]
    pub fn timeout(mut self, limit: Duration) -> Task {
        self.settings.timeout = Some(Timeout::After(limit));
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn toml_and_json_files_load_by_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let toml = dir.path().join("tasks.toml");
        std::fs::write(
            &toml,
            "[[task]]\nname = 'a'\ncommand = 'true'\n\n[[task]]\nname = 'b'\neval = 'print(1)'\nafter = ['a']\n",
        )
        .unwrap();
        let tasks = Tasks::load(&toml).unwrap();
        assert_eq!(tasks.names().collect::<Vec<_>>(), ["a", "b"]);
        let json = dir.path().join("tasks.json");
        std::fs::write(&json, r#"{"task": [{"name": "a", "command": 1}]}"#).unwrap();
        let error = Tasks::load(&json).unwrap_err().to_string();
        assert!(error.contains("taskfile::wrong_type"), "{error}");
        assert!(error.contains("tasks.json:1:"), "{error}");
    }
}
