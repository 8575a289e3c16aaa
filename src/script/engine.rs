//! The Rhai engine taskrun scripts run in: limits, modules and the
//! read-only helpers.
//!
//! Limits stop a runaway script with an error instead of a hang: at most
//! [`MAX_OPERATIONS`] operations per evaluation, a call depth of
//! [`MAX_CALL_LEVELS`], and bounds on strings, arrays and maps.
//! `import "taskrun/<name>"` loads a module of the stdlib compiled into the
//! binary; any other import is a `.rhai` file relative to the script.
//!
//! `print` and `debug` write to stderr, except inside an evaluated task,
//! whose output they are and which the engine stops at its deadline or when
//! the run is interrupted (see [`capture`]).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rhai::module_resolvers::{FileModuleResolver, ModuleResolversCollection, StaticModuleResolver};
use rhai::{Array, Dynamic, Engine, EvalAltResult, Module, NativeCallContext, Position};

use crate::event::{Signal, Stream};

/// Operations one evaluation may run (a loop iteration is a few): about a
/// hundred times what generating ten thousand tasks takes, and an endless
/// loop stops within a second or two.
pub(crate) const MAX_OPERATIONS: u64 = 20_000_000;

/// How deep calls may nest.
pub(crate) const MAX_CALL_LEVELS: usize = 128;

/// The stdlib: `import "taskrun/<name>"`.
pub(crate) const STDLIB: &[(&str, &str)] = &[
    ("taskrun/retry", include_str!("../../stdlib/retry.rhai")),
    ("taskrun/matrix", include_str!("../../stdlib/matrix.rhai")),
    ("taskrun/fs", include_str!("../../stdlib/fs.rhai")),
];

/// When an evaluated task must stop: its deadline, and whether the run
/// asked it to (the signal to stop with, `SIGKILL` once it is killed).
pub(crate) struct Stop {
    pub(crate) deadline: Option<Instant>,
    pub(crate) stopped: Box<dyn Fn() -> Option<Signal>>,
}

/// Where an evaluated task runs: its directory, which relative paths of
/// the reading helpers (`file_exists`, `read_lines`, `glob`) start from,
/// and its own variables, which `env_var` sees before the inherited ones.
pub(crate) struct Place {
    pub(crate) dir: PathBuf,
    pub(crate) env: Vec<(String, String)>,
    /// Inherited variables the task does not see.
    pub(crate) unset: Vec<String>,
}

/// What is known on this thread while an evaluated task runs on it.
struct Running {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stop: Stop,
    place: Option<Place>,
}

/// The directory of the evaluated task running on this thread, if it has
/// one, else `base`.
fn base_dir(base: &Path) -> PathBuf {
    RUNNING.with(|running| {
        running
            .borrow()
            .as_ref()
            .and_then(|running| running.place.as_ref())
            .map_or_else(|| base.to_owned(), |place| place.dir.clone())
    })
}

/// The variable `name` of the evaluated task running on this thread, if it
/// sets it or unsets it (`()`: it does not see the inherited one).
fn own_var(name: &str) -> Option<Dynamic> {
    RUNNING.with(|running| {
        let running = running.borrow();
        let place = running.as_ref()?.place.as_ref()?;
        let own = place
            .env
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone());
        match own {
            Some(value) => Some(Dynamic::from(value)),
            None => place
                .unset
                .iter()
                .any(|unset| unset == name)
                .then_some(Dynamic::UNIT),
        }
    })
}

thread_local! {
    static RUNNING: RefCell<Option<Running>> = const { RefCell::new(None) };
}

/// Runs `body` as an evaluated task, in `place` if it has one: `print`
/// and `debug` on this thread are captured, and the engine stops the
/// script when `stop` says so. Returns the result beside what was written
/// to stdout and stderr.
pub(crate) fn capture<T>(
    stop: Stop,
    place: Option<Place>,
    body: impl FnOnce() -> T,
) -> (T, Vec<u8>, Vec<u8>) {
    RUNNING.with(|running| {
        *running.borrow_mut() = Some(Running {
            stdout: Vec::new(),
            stderr: Vec::new(),
            stop,
            place,
        });
    });
    let result = body();
    let running = RUNNING.with(|running| running.borrow_mut().take());
    let (stdout, stderr) = running.map_or_else(Default::default, |r| (r.stdout, r.stderr));
    (result, stdout, stderr)
}

/// How often (in operations) a running task checks whether to stop.
const CHECK_EVERY: u64 = 1024;

/// Called by the engine as it runs: a token to stop the script (a signal
/// number for an interrupt, 0 for a timeout), or `None` to go on.
fn progress(operations: u64) -> Option<Dynamic> {
    if !operations.is_multiple_of(CHECK_EVERY) {
        return None;
    }
    RUNNING.with(|running| {
        let running = running.borrow();
        let stop = &running.as_ref()?.stop;
        if let Some(signal) = (stop.stopped)() {
            return Some(Dynamic::from(i64::from(signal.number())));
        }
        if stop
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return Some(Dynamic::from(0_i64));
        }
        None
    })
}

fn emit(stream: Stream, text: &str) {
    let captured = RUNNING.with(|running| match running.borrow_mut().as_mut() {
        Some(Running { stdout, stderr, .. }) => {
            let buffer = if stream == Stream::Stdout {
                stdout
            } else {
                stderr
            };
            buffer.extend_from_slice(text.as_bytes());
            buffer.push(b'\n');
            true
        }
        None => false,
    });
    if !captured {
        eprintln!("{text}");
    }
}

#[expect(
    clippy::unnecessary_box_returns,
    reason = "Rhai's functions return boxed errors"
)]
fn error(message: impl Into<String>, position: Position) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(message.into().into(), position))
}

/// A new engine with limits, modules and helpers; `dir` is the directory
/// that relative paths in scripts start from.
pub(crate) fn new(dir: &Path) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(128, 64)
        .set_max_string_size(64 << 20)
        .set_max_array_size(10_000_000)
        .set_max_map_size(10_000_000);
    engine.on_progress(progress);
    engine.on_print(|text| emit(Stream::Stdout, text));
    engine.on_debug(|text, _, _| emit(Stream::Stderr, text));

    let mut stdlib = StaticModuleResolver::new();
    for (name, text) in STDLIB {
        // The stdlib is part of taskrun and tested; a module that does not
        // compile is a bug caught by those tests, and is left out here
        // rather than stopping every script.
        if let Ok(ast) = engine.compile(text)
            && let Ok(module) = Module::eval_ast_as_new(rhai::Scope::new(), &ast, &engine)
        {
            stdlib.insert(*name, module);
        }
    }
    let mut resolvers = ModuleResolversCollection::new();
    resolvers.push(stdlib);
    resolvers.push(FileModuleResolver::new_with_path(dir));
    engine.set_module_resolver(resolvers);
    register_helpers(&mut engine, dir);
    super::view::History::register(&mut engine);
    engine
}

fn register_helpers(engine: &mut Engine, dir: &Path) {
    engine.register_fn("env_var", |name: &str| -> Dynamic {
        own_var(name).unwrap_or_else(|| std::env::var(name).map_or(Dynamic::UNIT, Dynamic::from))
    });
    // `files_matching` is the same as `glob`, for the stdlib's `fs::glob`,
    // which could not call a function of its own name.
    for name in ["glob", "files_matching"] {
        let base = dir.to_owned();
        engine.register_fn(
            name,
            move |ctx: NativeCallContext<'_>, pattern: &str| -> Result<Array, Box<EvalAltResult>> {
                glob(&base_dir(&base), pattern).map_err(|why| error(why, ctx.call_position()))
            },
        );
    }
    let base = dir.to_owned();
    engine.register_fn(
        "read_lines",
        move |ctx: NativeCallContext<'_>, path: &str| -> Result<Array, Box<EvalAltResult>> {
            let text = std::fs::read_to_string(base_dir(&base).join(path)).map_err(|why| {
                error(format!("cannot read `{path}`: {why}"), ctx.call_position())
            })?;
            Ok(text
                .lines()
                .map(|line| Dynamic::from(line.to_owned()))
                .collect())
        },
    );
    let base = dir.to_owned();
    engine.register_fn("file_exists", move |path: &str| {
        base_dir(&base).join(path).exists()
    });
    // Writing helpers work in the directory taskrun runs in: what a hook
    // writes (a summary, a report) belongs to this invocation, not to the
    // project's sources.
    engine.register_fn(
        "write_file",
        move |ctx: NativeCallContext<'_>,
              path: &str,
              text: &str|
              -> Result<(), Box<EvalAltResult>> {
            std::fs::write(path, text)
                .map_err(|why| error(format!("cannot write `{path}`: {why}"), ctx.call_position()))
        },
    );
    engine.register_fn(
        "append_file",
        move |ctx: NativeCallContext<'_>,
              path: &str,
              text: &str|
              -> Result<(), Box<EvalAltResult>> {
            use std::io::Write;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut file| file.write_all(text.as_bytes()))
                .map_err(|why| {
                    error(
                        format!("cannot append to `{path}`: {why}"),
                        ctx.call_position(),
                    )
                })
        },
    );
}

/// The files matching `pattern` under `base`, as paths relative to it,
/// sorted.
fn glob(base: &Path, pattern: &str) -> Result<Array, String> {
    let full: PathBuf = base.join(pattern);
    let full = full.to_string_lossy();
    let entries = glob::glob(&full).map_err(|why| format!("invalid pattern `{pattern}`: {why}"))?;
    let mut found: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|path| {
            path.strip_prefix(base)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    found.sort();
    Ok(found.into_iter().map(Dynamic::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(script: &str) -> Dynamic {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/a")).unwrap();
        std::fs::write(dir.path().join("src/a/b.rs"), "").unwrap();
        std::fs::write(dir.path().join("src/c.test.rs"), "").unwrap();
        std::fs::write(dir.path().join("list.txt"), "# hosts\n\n  alpha \nbeta\n").unwrap();
        let engine = new(dir.path());
        engine
            .eval::<Dynamic>(script)
            .unwrap_or_else(|error| panic!("{script}: {error}"))
    }

    fn text(script: &str) -> String {
        eval(script).to_string()
    }

    #[test]
    fn every_stdlib_module_compiles() {
        let engine = Engine::new();
        for (name, text) in STDLIB {
            let ast = engine
                .compile(text)
                .unwrap_or_else(|error| panic!("{name}: {error}"));
            assert!(ast.iter_functions().count() > 0, "{name} defines functions");
        }
    }

    #[test]
    fn stdlib_retry() {
        let task = r#"let t = #{ name: "dl", command: "curl x", status: "failed", exit_code: 7,
            signal: (), stdout: "", stderr: "curl: (7) Connection refused", duration: 0.4, attempt: 2 };"#;
        let check = |expression: &str| {
            text(&format!(
                "import \"taskrun/retry\" as r; {task} {expression}"
            ))
        };
        assert_eq!(check("r::exit_code_in(t, [6, 7])"), "true");
        assert_eq!(check("r::exit_code_in(t, [1])"), "false");
        assert_eq!(check("r::timed_out(t)"), "false");
        assert_eq!(check("r::killed_by(t, \"SIGKILL\")"), "false");
        assert_eq!(check("r::stderr_contains(t, \"refused\")"), "true");
        assert_eq!(check("r::output_contains(t, \"nothing\")"), "false");
        assert_eq!(check("r::attempts_below(t, 3)"), "true");
        assert_eq!(check("r::attempts_below(t, 2)"), "false");
        assert_eq!(check("r::failed_within(t, 1.0)"), "true");
        assert_eq!(check("r::transient_network(t)"), "true");
        assert_eq!(
            check(
                "t.exit_code = 2; t.stderr = \"Could not resolve host: x\"; r::transient_network(t)"
            ),
            "true"
        );
        assert_eq!(
            check("t.exit_code = 2; t.stderr = \"syntax error\"; r::transient_network(t)"),
            "false"
        );
        assert_eq!(check("r::any(t, [|t| false, |t| t.attempt == 2])"), "true");
        assert_eq!(check("r::all(t, [|t| true, |t| t.attempt == 3])"), "false");
    }

    #[test]
    fn stdlib_matrix() {
        let m = "import \"taskrun/matrix\" as m;";
        assert_eq!(
            text(&format!(
                "{m} m::product(#{{ py: [\"3.11\", \"3.12\"], os: [\"linux\", \"mac\"] }})"
            )),
            "[#{\"os\": \"linux\", \"py\": \"3.11\"}, #{\"os\": \"linux\", \"py\": \"3.12\"}, \
             #{\"os\": \"mac\", \"py\": \"3.11\"}, #{\"os\": \"mac\", \"py\": \"3.12\"}]"
        );
        assert_eq!(text(&format!("{m} m::product(#{{}})")), "[#{}]");
        assert_eq!(
            text(&format!("{m} m::shard([1, 2, 3, 4, 5], 2)")),
            "[[1, 3, 5], [2, 4]]"
        );
        assert_eq!(text(&format!("{m} m::shard([1], 3)")), "[[1], [], []]");
        assert_eq!(
            text(&format!("{m} m::shard_of([1, 2, 3, 4, 5], 1, 2)")),
            "[2, 4]"
        );
        assert_eq!(
            text(&format!(
                "{m} m::name(\"test\", #{{ os: \"linux\", py: \"3.11\" }})"
            )),
            "test_linux_3_11"
        );
        let engine = new(Path::new("."));
        assert!(
            engine
                .eval::<Dynamic>(&format!("{m} m::shard([1], 0)"))
                .is_err()
        );
    }

    #[test]
    fn stdlib_fs() {
        let f = "import \"taskrun/fs\" as f;";
        assert_eq!(
            text(&format!("{f} f::glob(\"src/**/*.rs\")")),
            "[\"src/a/b.rs\", \"src/c.test.rs\"]"
        );
        assert_eq!(text(&format!("{f} f::exists(\"list.txt\")")), "true");
        assert_eq!(text(&format!("{f} f::exists(\"nope\")")), "false");
        assert_eq!(text(&format!("{f} f::lines(\"list.txt\").len()")), "4");
        assert_eq!(
            text(&format!("{f} f::entries(\"list.txt\")")),
            "[\"alpha\", \"beta\"]"
        );
        assert_eq!(text(&format!("{f} f::basename(\"src/a/b.rs\")")), "b.rs");
        assert_eq!(text(&format!("{f} f::stem(\"src/c.test.rs\")")), "c.test");
        assert_eq!(text(&format!("{f} f::stem(\".hidden\")")), ".hidden");
        assert_eq!(
            text(&format!("{f} f::name_of(\"test\", \"src/a-b.js\")")),
            "test_src_a_b_js"
        );
    }

    #[test]
    fn helpers_read_relative_to_the_script() {
        assert_eq!(text("glob(\"*.txt\")"), "[\"list.txt\"]");
        assert_eq!(text("read_lines(\"list.txt\")[2]"), "  alpha ");
        assert_eq!(text("file_exists(\"src\")"), "true");
        assert_eq!(text("env_var(\"TASKRUN_SURELY_UNSET\") == ()"), "true");
    }

    #[test]
    fn print_is_captured_while_a_task_runs() {
        let engine = new(Path::new("."));
        let stop = Stop {
            deadline: None,
            stopped: Box::new(|| None),
        };
        let (result, stdout, stderr) =
            capture(stop, None, || engine.run("print(\"out\"); debug(\"err\");"));
        assert!(result.is_ok());
        assert_eq!(stdout, b"out\n");
        assert_eq!(stderr, b"\"err\"\n");
    }

    #[test]
    fn a_deadline_stops_a_running_task() {
        let engine = new(Path::new("."));
        let stop = Stop {
            deadline: Some(Instant::now() + std::time::Duration::from_millis(50)),
            stopped: Box::new(|| None),
        };
        let start = Instant::now();
        let (result, _, _) = capture(stop, None, || engine.run("loop {}"));
        assert!(matches!(
            *result.unwrap_err(),
            EvalAltResult::ErrorTerminated(..)
        ));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
