//! The host API a `Taskfile.rhai` uses to define tasks.
//!
//! ```rhai
//! task("lint", "cargo clippy").after("fetch").timeout("5m");
//! task("app", "cc -o app main.c", #{ inputs: ["*.c"], outputs: ["app"], uses_env: ["CC"], tools: ["cc"] });
//! task("pack", "tar cf app.tar app").inputs("app").outputs(["app.tar"]).cache(false);
//! for shard in 0..4 { task(`test_${shard}`, `cargo nextest --partition count:${shard}/4`); }
//! get_task("build").after(["lint", "test_0"]);
//! remove_task("slow_docs");
//! ```
//!
//! Tasks live in a [`Registry`] that starts with the tasks of the task
//! file; the script adds, changes and removes tasks through [`TaskHandle`]s.
//! Each task the script defines carries a span into the script (the quoted
//! name when it can be found on the line, else the call), so graph errors
//! about it point into the `.rhai` file. Once the script has run the
//! registry is sealed: hooks and policies can read tasks but not define
//! them.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, INT, NativeCallContext, Position};

use crate::execute::SlurmMode;
use crate::source::{Source, SourceId, Span, Spanned, offset};
use crate::task::{
    Kind, MAX_CPUS, MAX_RETRIES, PoolSpec, TaskSpec, Timeout, is_env_name, is_valid_name,
};

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// The tasks as the script sees them.
#[derive(Debug)]
pub(crate) struct Registry {
    /// Every task defined so far; `None` where one was removed.
    pub(crate) tasks: Vec<Option<TaskSpec>>,
    /// The closures of evaluated tasks, by task index.
    pub(crate) closures: Vec<Option<FnPtr>>,
    /// The pools declared so far.
    pub(crate) pools: Vec<PoolSpec>,
    /// Where the tasks run, if the script says: `executor("slurm")`.
    pub(crate) executor: Option<String>,
    /// The Slurm partition, if the script says: `partition("gpu")`.
    pub(crate) partition: Option<String>,
    /// How tasks go to Slurm, if the script says:
    /// `executor("slurm", #{ mode: "steps" })`.
    pub(crate) slurm_mode: Option<SlurmMode>,
    sealed: bool,
    source: SourceId,
    text: Arc<str>,
}

/// The registry, shared by the engine's functions and the loader.
pub(crate) type Shared = Arc<Mutex<Registry>>;

impl Registry {
    pub(crate) fn new(
        source: &Source,
        id: SourceId,
        tasks: Vec<TaskSpec>,
        pools: Vec<PoolSpec>,
    ) -> Shared {
        let count = tasks.len();
        Arc::new(Mutex::new(Registry {
            tasks: tasks.into_iter().map(Some).collect(),
            closures: vec![None; count],
            pools,
            executor: None,
            partition: None,
            slurm_mode: None,
            sealed: false,
            source: id,
            text: Arc::clone(&source.text),
        }))
    }

    /// No more tasks may be defined or changed.
    pub(crate) fn seal(&mut self) {
        self.sealed = true;
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.tasks
            .iter()
            .position(|task| task.as_ref().is_some_and(|task| task.name.value == name))
    }

    /// A span for `text` when it appears quoted on the line of `position`,
    /// else for the `width` characters at `position`.
    fn span(&self, position: Position, text: &str, width: usize) -> Span {
        let (Some(line), Some(column)) = (position.line(), position.position()) else {
            return Span::new(self.source, 0, 0);
        };
        let at = offset(&self.text, line, column);
        let line_end = self.text[at..]
            .find('\n')
            .map_or(self.text.len(), |end| at + end);
        for quote in ['"', '`', '\''] {
            let quoted = format!("{quote}{text}{quote}");
            if let Some(found) = self.text[at..line_end].find(&quoted) {
                return Span::new(self.source, at + found + 1, text.len());
            }
        }
        Span::new(self.source, at, width.min(line_end - at))
    }
}

fn lock(registry: &Shared) -> MutexGuard<'_, Registry> {
    // A panic while holding the lock is a bug in taskrun; the registry
    // itself stays consistent, so carry on with it.
    registry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[expect(
    clippy::unnecessary_box_returns,
    reason = "Rhai's functions return boxed errors"
)]
fn error(message: impl Into<String>, position: Position) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(message.into().into(), position))
}

/// A task, as a script holds it.
#[derive(Clone, Debug)]
pub(crate) struct TaskHandle {
    index: usize,
    registry: Shared,
}

impl TaskHandle {
    /// Changes the task, unless the script has finished loading.
    fn change(
        &self,
        ctx: &NativeCallContext<'_>,
        change: impl FnOnce(&mut TaskSpec, &Registry) -> Fallible<()>,
    ) -> Fallible<TaskHandle> {
        let mut registry = lock(&self.registry);
        if registry.sealed {
            return Err(error(
                "tasks can only be changed while the script defines them",
                ctx.call_position(),
            ));
        }
        let mut task = registry.tasks[self.index]
            .take()
            .ok_or_else(|| error("this task was removed", ctx.call_position()))?;
        let result = change(&mut task, &registry);
        registry.tasks[self.index] = Some(task);
        result.map(|()| self.clone())
    }

    fn read<T>(&self, read: impl FnOnce(&TaskSpec) -> T) -> Fallible<T> {
        let registry = lock(&self.registry);
        registry.tasks[self.index]
            .as_ref()
            .map(read)
            .ok_or_else(|| error("this task was removed", Position::NONE))
    }
}

/// `executor(kind)` and `executor("slurm", #{ mode: … })`.
fn register_executor(engine: &mut Engine, registry: &Shared) {
    let shared = Arc::clone(registry);
    engine.register_fn(
        "executor",
        move |ctx: NativeCallContext<'_>, kind: &str| -> Fallible<()> {
            choose_executor(&shared, ctx.call_position(), kind, None)
        },
    );
    let shared = Arc::clone(registry);
    engine.register_fn(
        "executor",
        move |ctx: NativeCallContext<'_>, kind: &str, options: rhai::Map| -> Fallible<()> {
            let position = ctx.call_position();
            if kind != "slurm" {
                return Err(error(
                    format!("the executor `{kind}` takes no options; they are for \"slurm\""),
                    position,
                ));
            }
            let mut mode = None;
            for (key, value) in options {
                match key.as_str() {
                    "mode" => {
                        let name = value.into_string().unwrap_or_default();
                        mode = Some(SlurmMode::parse(&name).ok_or_else(|| {
                            error(
                                format!("unknown Slurm mode `{name}`; use \"jobs\" or \"steps\""),
                                position,
                            )
                        })?);
                    }
                    other => {
                        return Err(error(
                            format!("unknown Slurm option `{other}`; the option is `mode`"),
                            position,
                        ));
                    }
                }
            }
            choose_executor(&shared, position, kind, mode)
        },
    );
}

/// What `executor(…)` chose, while the script loads.
fn choose_executor(
    shared: &Shared,
    position: Position,
    kind: &str,
    mode: Option<SlurmMode>,
) -> Fallible<()> {
    if !matches!(kind, "local" | "slurm") {
        return Err(error(
            format!("unknown executor `{kind}`; use \"local\" or \"slurm\""),
            position,
        ));
    }
    let mut registry = lock(shared);
    if registry.sealed {
        return Err(error(
            "the executor is chosen while the script loads",
            position,
        ));
    }
    registry.executor = Some(kind.to_owned());
    registry.slurm_mode = mode;
    Ok(())
}

/// Registers the task API on `engine`, working on `registry`.
pub(crate) fn register(engine: &mut Engine, registry: &Shared) {
    engine.register_type_with_name::<TaskHandle>("Task");
    register_definitions(engine, registry);
    register_dependencies(engine);
    register_settings(engine);
    register_queries(engine, registry);
    register_requests(engine);
    register_cache(engine);
}

/// `task(name, command)`, `task(name, closure)` and `pool(name, limit)`.
fn register_definitions(engine: &mut Engine, registry: &Shared) {
    let shared = Arc::clone(registry);
    engine.register_fn(
        "pool",
        move |ctx: NativeCallContext<'_>, name: &str, limit: INT| -> Fallible<()> {
            let position = ctx.call_position();
            if !is_valid_name(name) {
                return Err(error(format!("invalid pool name `{name}`"), position));
            }
            let limit = usize::try_from(limit)
                .ok()
                .filter(|&limit| limit > 0)
                .ok_or_else(|| error("a pool's limit is a whole number, at least 1", position))?;
            let mut registry = lock(&shared);
            if registry.sealed {
                return Err(error(
                    "pools can only be declared while the script loads",
                    position,
                ));
            }
            let span = registry.span(position, name, "pool".len());
            registry.pools.push(PoolSpec {
                name: Spanned::new(name.to_owned(), span),
                limit,
            });
            Ok(())
        },
    );
    register_executor(engine, registry);
    let shared = Arc::clone(registry);
    engine.register_fn(
        "partition",
        move |ctx: NativeCallContext<'_>, name: &str| -> Fallible<()> {
            let position = ctx.call_position();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(error(format!("invalid partition name `{name}`"), position));
            }
            let mut registry = lock(&shared);
            if registry.sealed {
                return Err(error(
                    "the partition is chosen while the script loads",
                    position,
                ));
            }
            registry.partition = Some(name.to_owned());
            Ok(())
        },
    );
    let shared = Arc::clone(registry);
    engine.register_fn(
        "task",
        move |ctx: NativeCallContext<'_>, name: &str, command: &str| -> Fallible<TaskHandle> {
            define(&ctx, &shared, name, command.to_owned(), None)
        },
    );
    let shared = Arc::clone(registry);
    engine.register_fn(
        "task",
        move |ctx: NativeCallContext<'_>, name: &str, action: FnPtr| -> Fallible<TaskHandle> {
            let line = ctx.call_position().line().unwrap_or(0);
            let description = format!("(Rhai closure, line {line})");
            define(&ctx, &shared, name, description, Some(action))
        },
    );
    let shared = Arc::clone(registry);
    engine.register_fn(
        "task",
        move |ctx: NativeCallContext<'_>,
              name: &str,
              command: &str,
              options: rhai::Map|
              -> Fallible<TaskHandle> {
            let handle = define(&ctx, &shared, name, command.to_owned(), None)?;
            with_options(&ctx, handle, options)
        },
    );
    let shared = Arc::clone(registry);
    engine.register_fn(
        "task",
        move |ctx: NativeCallContext<'_>,
              name: &str,
              action: FnPtr,
              options: rhai::Map|
              -> Fallible<TaskHandle> {
            let line = ctx.call_position().line().unwrap_or(0);
            let description = format!("(Rhai closure, line {line})");
            let handle = define(&ctx, &shared, name, description, Some(action))?;
            with_options(&ctx, handle, options)
        },
    );
}

/// The keys of the options map of `task(name, command, #{ … })`.
const OPTION_KEYS: &[&str] = &["inputs", "outputs", "uses_env", "tools", "cache"];

/// Sets the options of `task(name, command, #{ … })` on the task just
/// defined; an unknown key is an error.
fn with_options(
    ctx: &NativeCallContext<'_>,
    handle: TaskHandle,
    options: rhai::Map,
) -> Fallible<TaskHandle> {
    for (key, value) in options {
        let key = key.as_str();
        if key == "cache" {
            let on = value.as_bool().map_err(|kind| {
                error(
                    format!("the option `cache` is `true` or `false`, not {kind}"),
                    ctx.call_position(),
                )
            })?;
            set_cache(ctx, &handle, on)?;
        } else if OPTION_KEYS.contains(&key) {
            let items = if value.is_array() {
                value.cast::<Array>()
            } else {
                vec![value]
            };
            let items = texts(ctx, items, key)?;
            declare(ctx, &handle, key, &items)?;
        } else {
            let hint = match crate::error::did_you_mean(key, OPTION_KEYS.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!(
                    "the options are {}; set the others with the task's methods, e.g. `.timeout(\"5m\")`",
                    OPTION_KEYS
                        .iter()
                        .map(|key| format!("`{key}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(error(
                format!("unknown task option `{key}`: {hint}"),
                ctx.call_position(),
            ));
        }
    }
    Ok(handle)
}

/// What a task declares for up-to-date checks: `inputs(…)`, `outputs(…)`,
/// `uses_env(…)` and `tools(…)` (a string or an array of them, adding to
/// what is declared) and `cache(false)`.
fn register_cache(engine: &mut Engine) {
    for function in ["inputs", "outputs", "uses_env", "tools"] {
        engine.register_fn(
            function,
            move |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, item: &str| {
                declare(&ctx, handle, function, &[item.to_owned()])
            },
        );
        engine.register_fn(
            function,
            move |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, items: Array| {
                let items = texts(&ctx, items, function)?;
                declare(&ctx, handle, function, &items)
            },
        );
    }
    engine.register_fn(
        "cache",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, on: bool| set_cache(&ctx, handle, on),
    );
}

/// The strings of an array given for `what` (`inputs`, …).
fn texts(ctx: &NativeCallContext<'_>, items: Array, what: &str) -> Fallible<Vec<String>> {
    items
        .into_iter()
        .map(|item| {
            item.into_string().map_err(|kind| {
                error(
                    format!("{what} takes strings, not {kind}"),
                    ctx.call_position(),
                )
            })
        })
        .collect()
}

/// `cache(false)`: the task is never looked up nor stored.
fn set_cache(ctx: &NativeCallContext<'_>, handle: &TaskHandle, on: bool) -> Fallible<TaskHandle> {
    handle.change(ctx, |task, _| {
        task.settings.cache.off = !on;
        Ok(())
    })
}

/// Adds `items` to the task's `inputs`, `outputs`, `uses_env` or `tools`
/// (`what`), each checked, skipping those already declared.
fn declare(
    ctx: &NativeCallContext<'_>,
    handle: &TaskHandle,
    what: &str,
    items: &[String],
) -> Fallible<TaskHandle> {
    let position = ctx.call_position();
    for item in items {
        let checked = match what {
            "outputs" if item.starts_with('!') => Err(
                "outputs cannot exclude: list only what the task makes, e.g. `outputs([\"build/app\"])`"
                    .to_owned(),
            ),
            "inputs" | "outputs" => crate::cache::pattern::check(item),
            "uses_env" if !is_env_name(item) => Err(
                "use letters, digits and `_`, not starting with a digit".to_owned(),
            ),
            "tools" if item.is_empty() || item.contains(char::is_whitespace) => {
                Err("give one program a string, e.g. `tools([\"cc\", \"ld\"])`".to_owned())
            }
            "tools" if item.contains('/') && !item.starts_with('/') => Err(
                "name a program found through `PATH` (e.g. \"cc\"), or give its absolute path"
                    .to_owned(),
            ),
            _ => Ok(()),
        };
        if let Err(help) = checked {
            return Err(error(format!("invalid {what} `{item}`: {help}"), position));
        }
    }
    handle.change(ctx, |task, registry| {
        let cache = &mut task.settings.cache;
        for item in items {
            match what {
                "inputs" | "outputs" => {
                    let list = if what == "inputs" {
                        &mut cache.inputs
                    } else {
                        &mut cache.outputs
                    };
                    if !list.iter().any(|known| known.value == *item) {
                        let span = registry.span(position, item, what.len());
                        list.push(Spanned::new(item.clone(), span));
                    }
                }
                _ => {
                    let list = if what == "tools" {
                        &mut cache.tools
                    } else {
                        &mut cache.uses_env
                    };
                    if !list.contains(item) {
                        list.push(item.clone());
                    }
                }
            }
        }
        Ok(())
    })
}

/// The chainable setters of a task's dependencies and pool.
fn register_dependencies(engine: &mut Engine) {
    engine.register_fn(
        "after_done",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, name: &str| {
            after_done(&ctx, handle, &[name.to_owned()])
        },
    );
    engine.register_fn(
        "after_done",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, names: Array| {
            let names = strings(&ctx, names, "after_done")?;
            after_done(&ctx, handle, &names)
        },
    );
    engine.register_fn(
        "pool",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, pool: &str| {
            if !is_valid_name(pool) {
                return Err(error(
                    format!("invalid pool name `{pool}`"),
                    ctx.call_position(),
                ));
            }
            let position = ctx.call_position();
            handle.change(&ctx, |task, registry| {
                let span = registry.span(position, pool, "pool".len());
                task.settings.pool = Some(Spanned::new(pool.to_owned(), span));
                Ok(())
            })
        },
    );
    engine.register_fn(
        "after",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, name: &str| {
            after(&ctx, handle, &[name.to_owned()])
        },
    );
    engine.register_fn(
        "after",
        |ctx: NativeCallContext<'_>,
         handle: &mut TaskHandle,
         names: Array|
         -> Fallible<TaskHandle> {
            let names = strings(&ctx, names, "after")?;
            after(&ctx, handle, &names)
        },
    );
}

/// The chainable setters of a task's settings.
fn register_settings(engine: &mut Engine) {
    engine.register_fn(
        "timeout",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, timeout: &str| {
            set_timeout(&ctx, handle, Timeout::parse(timeout))
        },
    );
    engine.register_fn(
        "timeout",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, seconds: INT| {
            let timeout = u64::try_from(seconds)
                .map(|seconds| Timeout::After(Duration::from_secs(seconds)))
                .map_err(|_| "a timeout cannot be negative".to_owned());
            set_timeout(&ctx, handle, timeout)
        },
    );
    engine.register_fn(
        "timeout",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, seconds: rhai::FLOAT| {
            let timeout = Duration::try_from_secs_f64(seconds)
                .map(Timeout::After)
                .map_err(|_| "a timeout is a number of seconds, 0 or more".to_owned());
            set_timeout(&ctx, handle, timeout)
        },
    );
    engine.register_fn(
        "env",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, key: &str, value: &str| {
            if !is_env_name(key) {
                return Err(error(
                    format!("`{key}` cannot name an environment variable"),
                    ctx.call_position(),
                ));
            }
            let pair = (key.to_owned(), value.to_owned());
            handle.change(&ctx, |task, _| {
                task.settings.env.push(pair);
                Ok(())
            })
        },
    );
    engine.register_fn(
        "dir",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, dir: &str| {
            if dir.is_empty() {
                return Err(error("dir() needs a directory", ctx.call_position()));
            }
            let dir = dir.into();
            handle.change(&ctx, |task, _| {
                task.settings.dir = Some(dir);
                Ok(())
            })
        },
    );
    engine.register_fn(
        "desc",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, text: &str| {
            let text = text.trim().to_owned();
            handle.change(&ctx, |task, _| {
                task.desc = Some(text).filter(|text| !text.is_empty());
                Ok(())
            })
        },
    );
    engine.register_fn(
        "retries",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, retries: INT| {
            let retries = u32::try_from(retries)
                .ok()
                .filter(|&retries| retries <= MAX_RETRIES)
                .ok_or_else(|| {
                    error(
                        format!("retries must be 0 to {MAX_RETRIES}"),
                        ctx.call_position(),
                    )
                })?;
            handle.change(&ctx, |task, _| {
                task.settings.retries = Some(retries);
                Ok(())
            })
        },
    );
}

/// What a task asks of a cluster: `cpus(n)` and `mem(size)`.
fn register_requests(engine: &mut Engine) {
    engine.register_fn(
        "cpus",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, cpus: INT| {
            let cpus = u32::try_from(cpus)
                .ok()
                .filter(|cpus| (1..=MAX_CPUS).contains(cpus))
                .ok_or_else(|| {
                    error(format!("cpus must be 1 to {MAX_CPUS}"), ctx.call_position())
                })?;
            handle.change(&ctx, |task, _| {
                task.settings.cpus = Some(cpus);
                Ok(())
            })
        },
    );
    engine.register_fn(
        "mem",
        |ctx: NativeCallContext<'_>, handle: &mut TaskHandle, mem: &str| {
            let bytes = crate::units::parse_size(mem)
                .ok()
                .filter(|&bytes| bytes >= 1 << 20)
                .ok_or_else(|| {
                    error(
                        format!("`{mem}` is not an amount of memory of 1M or more, e.g. \"4G\""),
                        ctx.call_position(),
                    )
                })?;
            handle.change(&ctx, |task, _| {
                task.settings.mem = Some(bytes);
                Ok(())
            })
        },
    );
}

/// Reading tasks: their properties, `tasks()`, `get_task`, `has_task`, and
/// `remove_task`.
fn register_queries(engine: &mut Engine, registry: &Shared) {
    engine.register_get("name", |handle: &mut TaskHandle| {
        handle.read(|task| task.name.value.clone())
    });
    engine.register_get("command", |handle: &mut TaskHandle| {
        handle.read(|task| task.command.value.clone())
    });
    engine.register_get("deps", |handle: &mut TaskHandle| {
        handle.read(|task| {
            task.after
                .iter()
                .map(|dep| Dynamic::from(dep.value.clone()))
                .collect::<Array>()
        })
    });
    engine.register_fn("to_string", |handle: &mut TaskHandle| {
        handle.read(|task| format!("task {}", task.name.value))
    });

    let shared = Arc::clone(registry);
    engine.register_fn("tasks", move || -> Array {
        let registry = lock(&shared);
        (0..registry.tasks.len())
            .filter(|&index| registry.tasks[index].is_some())
            .map(|index| {
                Dynamic::from(TaskHandle {
                    index,
                    registry: Arc::clone(&shared),
                })
            })
            .collect()
    });
    let shared = Arc::clone(registry);
    engine.register_fn("get_task", move |name: &str| -> Dynamic {
        let index = lock(&shared).index_of(name);
        index.map_or(Dynamic::UNIT, |index| {
            Dynamic::from(TaskHandle {
                index,
                registry: Arc::clone(&shared),
            })
        })
    });
    let shared = Arc::clone(registry);
    engine.register_fn("has_task", move |name: &str| {
        lock(&shared).index_of(name).is_some()
    });
    let shared = Arc::clone(registry);
    engine.register_fn(
        "remove_task",
        move |ctx: NativeCallContext<'_>, name: &str| -> Fallible<bool> {
            let mut registry = lock(&shared);
            if registry.sealed {
                return Err(error(
                    "tasks can only be removed while the script defines them",
                    ctx.call_position(),
                ));
            }
            Ok(match registry.index_of(name) {
                Some(index) => {
                    registry.tasks[index] = None;
                    true
                }
                None => false,
            })
        },
    );
}

fn set_timeout(
    ctx: &NativeCallContext<'_>,
    handle: &TaskHandle,
    timeout: Result<Timeout, String>,
) -> Fallible<TaskHandle> {
    let timeout = timeout.map_err(|why| error(why, ctx.call_position()))?;
    handle.change(ctx, |task, _| {
        task.settings.timeout = Some(timeout);
        Ok(())
    })
}

fn define(
    ctx: &NativeCallContext<'_>,
    registry: &Shared,
    name: &str,
    command: String,
    closure: Option<FnPtr>,
) -> Fallible<TaskHandle> {
    let position = ctx.call_position();
    if !is_valid_name(name) {
        return Err(error(
            format!(
                "invalid task name `{name}`: names may contain only ASCII letters, digits and `_`"
            ),
            position,
        ));
    }
    if command.trim().is_empty() {
        return Err(error(format!("task `{name}` has no command"), position));
    }
    let mut guard = lock(registry);
    if guard.sealed {
        return Err(error(
            "tasks can only be defined while the script loads",
            position,
        ));
    }
    let name_span = guard.span(position, name, "task".len());
    let command_span = guard.span(position, &command, "task".len());
    guard.tasks.push(Some(TaskSpec {
        name: Spanned::new(name.to_owned(), name_span),
        command: Spanned::new(command, command_span),
        after: Vec::new(),
        after_done: Vec::new(),
        settings: crate::task::Settings::default(),
        kind: if closure.is_some() {
            Kind::Rhai
        } else {
            Kind::Shell
        },
        desc: None,
    }));
    guard.closures.push(closure);
    Ok(TaskHandle {
        index: guard.tasks.len() - 1,
        registry: Arc::clone(registry),
    })
}

/// The strings of an array given to `function`.
fn strings(ctx: &NativeCallContext<'_>, names: Array, function: &str) -> Fallible<Vec<String>> {
    names
        .into_iter()
        .map(|name| {
            name.into_string().map_err(|kind| {
                error(
                    format!("{function}() takes task names, not {kind}"),
                    ctx.call_position(),
                )
            })
        })
        .collect()
}

fn after(
    ctx: &NativeCallContext<'_>,
    handle: &TaskHandle,
    names: &[String],
) -> Fallible<TaskHandle> {
    add_deps(ctx, handle, names, "after", false)
}

fn after_done(
    ctx: &NativeCallContext<'_>,
    handle: &TaskHandle,
    names: &[String],
) -> Fallible<TaskHandle> {
    add_deps(ctx, handle, names, "after_done", true)
}

/// Adds dependencies (soft ones only order) to a task; a dependency given
/// both ways is a hard one.
fn add_deps(
    ctx: &NativeCallContext<'_>,
    handle: &TaskHandle,
    names: &[String],
    function: &str,
    soft: bool,
) -> Fallible<TaskHandle> {
    let position = ctx.call_position();
    for name in names {
        if !is_valid_name(name) {
            return Err(error(
                format!("invalid task name `{name}` in {function}()"),
                position,
            ));
        }
    }
    handle.change(ctx, |task, registry| {
        for name in names {
            let known = |list: &[Spanned<String>]| list.iter().any(|dep| dep.value == *name);
            if known(&task.after) || (soft && known(&task.after_done)) {
                continue;
            }
            let span = registry.span(position, name, function.len());
            if soft {
                task.after_done.push(Spanned::new(name.clone(), span));
            } else {
                task.after_done.retain(|dep| dep.value != *name);
                task.after.push(Spanned::new(name.clone(), span));
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use crate::error::ScriptError;
    use crate::source::{Source, Sources};
    use crate::task::{TaskSet, TaskSpec};

    /// The tasks `script` defines, and its text.
    fn load(script: &str) -> Result<Vec<TaskSpec>, String> {
        let dir = tempfile::tempdir().unwrap();
        let mut sources = Sources::new();
        let path = dir.path().join("Taskfile.rhai");
        let id = sources.add(Source::from_bytes(&path, script.as_bytes()));
        match super::super::load::load(&mut sources, id, TaskSet::default(), dir.path()) {
            Ok((set, _)) => Ok(set.tasks),
            Err(ScriptError::Runtime { message, .. }) => Err(message),
            Err(other) => panic!("{other:?}"),
        }
    }

    /// Each pattern, and the script's text under its span.
    fn spanned<'a>(
        script: &'a str,
        list: &[crate::source::Spanned<String>],
    ) -> Vec<(String, &'a str)> {
        list.iter()
            .map(|item| {
                let span = item.span;
                (item.value.clone(), &script[span.offset..span.end()])
            })
            .collect()
    }

    fn owned<'a>(items: &[&'a str]) -> Vec<(String, &'a str)> {
        items
            .iter()
            .map(|item| ((*item).to_owned(), *item))
            .collect()
    }

    #[test]
    fn cache_options_and_methods() {
        let script = r#"task("app", "cc -o app main.c", #{ inputs: ["*.c", "!x.c", "*.c"], outputs: "app", uses_env: ["CC"], tools: ["cc"], cache: false });
task("pack", "tar cf app.tar app").inputs("app").outputs(["app.tar", "dist/"]).uses_env("X").tools(["tar", "/bin/gzip"]).inputs(["app", "README"]);
task("check", || { print("ok") }, #{ outputs: ["check.log"] });
"#;
        let tasks = load(script).unwrap();
        let [app, pack, check] = &tasks[..] else {
            panic!("{tasks:?}")
        };
        let app_cache = &app.settings.cache;
        assert_eq!(spanned(script, &app_cache.inputs), owned(&["*.c", "!x.c"]));
        assert_eq!(spanned(script, &app_cache.outputs), owned(&["app"]));
        assert_eq!(app_cache.uses_env, ["CC"]);
        assert_eq!(app_cache.tools, ["cc"]);
        assert!(app_cache.off);
        let pack_cache = &pack.settings.cache;
        assert_eq!(
            spanned(script, &pack_cache.inputs),
            owned(&["app", "README"])
        );
        assert_eq!(
            spanned(script, &pack_cache.outputs),
            owned(&["app.tar", "dist/"])
        );
        assert_eq!(pack_cache.uses_env, ["X"]);
        assert_eq!(pack_cache.tools, ["tar", "/bin/gzip"]);
        assert!(!pack_cache.off && pack_cache.cacheable());
        assert_eq!(check.kind, crate::task::Kind::Rhai);
        assert_eq!(
            spanned(script, &check.settings.cache.outputs),
            owned(&["check.log"])
        );
    }

    #[test]
    fn bad_cache_options_are_errors_that_say_what_to_write() {
        let cases = [
            (
                r#"task("a", "x", #{ input: ["*.c"] });"#,
                "unknown task option `input`: did you mean `inputs`?",
            ),
            (
                r#"task("a", "x", #{ timeout: "5m" });"#,
                "unknown task option `timeout`: the options are `inputs`, `outputs`, `uses_env`, `tools`, `cache`; set the others with the task's methods, e.g. `.timeout(\"5m\")`",
            ),
            (
                r#"task("a", "x", #{ cache: "no" });"#,
                "the option `cache` is `true` or `false`, not string",
            ),
            (
                r#"task("a", "x", #{ inputs: [1] });"#,
                "inputs takes strings, not i64",
            ),
            (
                r#"task("a", "x").inputs("/etc/x");"#,
                "invalid inputs `/etc/x`: `/etc/x` is an absolute path: write a path relative to the task's directory (set `[dir:]` to move the task)",
            ),
            (
                r#"task("a", "x", #{ outputs: ["dist/", "!dist/tmp"] });"#,
                "invalid outputs `!dist/tmp`: outputs cannot exclude: list only what the task makes, e.g. `outputs([\"build/app\"])`",
            ),
            (
                r#"task("a", "x").uses_env(["1X"]);"#,
                "invalid uses_env `1X`: use letters, digits and `_`, not starting with a digit",
            ),
            (
                r#"task("a", "x").tools("bin/gen");"#,
                "invalid tools `bin/gen`: name a program found through `PATH` (e.g. \"cc\"), or give its absolute path",
            ),
        ];
        for (script, message) in cases {
            let error = load(script).unwrap_err();
            assert!(error.contains(message), "{script}: {error}");
        }
    }
}
