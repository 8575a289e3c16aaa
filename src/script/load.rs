//! Running a `Taskfile.rhai`: the tasks it defines, and the compiled
//! script kept for hooks, retry policies and evaluated tasks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rhai::{AST, Engine, EvalAltResult, FnPtr, Position};

use super::api::{self, Registry, Shared};
use super::engine::{self, MAX_CALL_LEVELS, MAX_OPERATIONS};
use crate::error::{CallSite, ScriptError};
use crate::source::{Source, SourceId, Sources, Span};
use crate::task::TaskSet;

/// A script that has run: its engine and code, for calling its functions
/// (hooks, `should_retry`) and closures (evaluated tasks) later.
pub(crate) struct Script {
    pub(crate) engine: Engine,
    pub(crate) ast: AST,
    pub(crate) source: SourceId,
    text: Arc<str>,
    /// Where relative paths start, and so where file modules are.
    dir: PathBuf,
    /// The sources when the script was loaded, for describing errors of
    /// evaluated tasks.
    sources: Sources,
    /// The closure of each evaluated task, by task name.
    pub(crate) closures: Vec<(String, FnPtr)>,
    /// `executor("slurm")`, if the script chose.
    pub(crate) executor: Option<String>,
    /// `partition("name")`, if the script chose.
    pub(crate) partition: Option<String>,
    /// `executor("slurm", #{ mode: "steps" })`, if the script chose.
    pub(crate) slurm_mode: Option<crate::execute::SlurmMode>,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Script {
    /// Whether the script defines a function of this name and arity.
    pub(crate) fn defines(&self, name: &str, arity: usize) -> bool {
        self.ast
            .iter_functions()
            .any(|function| function.name == name && function.params.len() == arity)
    }

    /// The closure of the evaluated task `name`, if it is one.
    pub(crate) fn closure(&self, name: &str) -> Option<&FnPtr> {
        self.closures
            .iter()
            .find(|(task, _)| task == name)
            .map(|(_, closure)| closure)
    }

    /// A script error, pointing into this script or into a module it
    /// imported, whose text is added to `sources` (which hold the
    /// script's).
    pub(crate) fn error(&self, error: EvalAltResult, sources: &mut Sources) -> ScriptError {
        let script = Place {
            id: self.source,
            text: Arc::clone(&self.text),
            functions: functions(&self.ast),
        };
        convert(
            error,
            &script,
            &mut Modules::new(&self.engine, &self.dir, sources),
        )
    }

    /// A script error of an evaluated task, as one line for its stderr:
    /// `line 9: the network is down`, or for an error inside a module
    /// `line 4 of helpers.rhai (called at line 9): it broke`.
    pub(crate) fn describe(&self, error: EvalAltResult) -> String {
        let mut sources = self.sources.clone();
        let error = self.error(error, &mut sources);
        let line = |span: Span| {
            let text = &sources.get(span.source).text;
            text[..span.offset.min(text.len())].matches('\n').count() + 1
        };
        let span = error.span();
        match error.called() {
            Some(call) => format!(
                "line {} of {} (called at line {}): {error}",
                line(span),
                sources.get(span.source).name(),
                line(call.span)
            ),
            None => format!("line {}: {error}", line(span)),
        }
    }

    /// Calls the script's function `name` with `arguments`, without running
    /// the script's top level again. An error is for [`Script::error`].
    pub(crate) fn call(
        &self,
        name: &str,
        arguments: impl rhai::FuncArgs,
    ) -> Result<rhai::Dynamic, Box<EvalAltResult>> {
        let options = rhai::CallFnOptions::new()
            .eval_ast(false)
            .rewind_scope(true);
        self.engine.call_fn_with_options(
            options,
            &mut rhai::Scope::new(),
            &self.ast,
            name,
            arguments,
        )
    }
}

/// Runs the script `id` in `sources`, with the tasks and pools of `set`
/// (from the task file) already defined, relative paths starting at `dir`.
/// Returns every task and pool once the script has run, and the script.
/// An error inside a module the script imported adds the module's text to
/// `sources`.
pub(crate) fn load(
    sources: &mut Sources,
    id: SourceId,
    set: TaskSet,
    dir: &Path,
) -> Result<(TaskSet, Arc<Script>), ScriptError> {
    let source = sources.get(id).clone();
    let origin = set.origin;
    let registry: Shared = Registry::new(&source, id, set.tasks, set.pools);
    let mut engine = engine::new(dir);
    api::register(&mut engine, &registry);
    let ast = engine.compile(&*source.text).map_err(|error| {
        let (kind, position) = (error.0, error.1);
        ScriptError::Syntax {
            message: kind.to_string(),
            span: span_at(position, id, &source.text),
            called: None,
        }
    })?;
    engine.run_ast(&ast).map_err(|error| {
        let script = Place {
            id,
            text: Arc::clone(&source.text),
            functions: functions(&ast),
        };
        convert(*error, &script, &mut Modules::new(&engine, dir, sources))
    })?;

    let mut registry = registry
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    registry.seal();
    let mut defined = Vec::new();
    let mut closures = Vec::new();
    let tasks = std::mem::take(&mut registry.tasks);
    let all_closures = std::mem::take(&mut registry.closures);
    for (task, closure) in tasks.into_iter().zip(all_closures) {
        if let Some(task) = task {
            if let Some(closure) = closure {
                closures.push((task.name.value.clone(), closure));
            }
            defined.push(task);
        }
    }
    let pools = std::mem::take(&mut registry.pools);
    let executor = registry.executor.take();
    let partition = registry.partition.take();
    let slurm_mode = registry.slurm_mode.take();
    drop(registry);
    let set = TaskSet {
        origin,
        tasks: defined,
        pools,
    };
    let script = Script {
        engine,
        ast,
        source: id,
        text: Arc::clone(&source.text),
        dir: dir.to_owned(),
        sources: sources.clone(),
        closures,
        executor,
        partition,
        slurm_mode,
    };
    Ok((set, Arc::new(script)))
}

/// A Rhai error as a diagnostic: the innermost error of a chain of calls,
/// where it happened. An error inside an imported module points into the
/// module, whose text is added to `sources`, with the script's call into it
/// beside.
fn convert(error: EvalAltResult, script: &Place, modules: &mut Modules<'_>) -> ScriptError {
    let mut error = error;
    let mut context = Vec::new();
    let mut at = Location::Script;
    // The last step from the script into a module, while the chain is in
    // modules.
    let mut entered: Option<Entry> = None;
    loop {
        let (next, entry) = match error {
            EvalAltResult::ErrorInFunctionCall(name, source, inner, position) => {
                // Closures have generated names, which mean nothing to the
                // reader; the span shows where the error is anyway.
                let anonymous = name.starts_with("anon$");
                if !anonymous {
                    context.push(format!("in `{name}`"));
                }
                let next = modules.callee(&name, &source, at, script);
                let called = if anonymous {
                    "a closure".to_owned()
                } else {
                    format!("`{name}`")
                };
                let module = match next {
                    Location::Module(index) => modules.name(index),
                    Location::Script | Location::Unknown => &source,
                };
                let entry = Entry {
                    position,
                    what: format!("in module `{module}`, called from here"),
                    label: format!("{called} is called here"),
                    import: false,
                };
                error = *inner;
                (next, entry)
            }
            EvalAltResult::ErrorInModule(name, inner, position) => {
                context.push(format!("in module `{name}`"));
                let next = modules
                    .find(&name)
                    .map_or(Location::Unknown, Location::Module);
                let entry = Entry {
                    position,
                    what: format!("in module `{name}`, imported from here"),
                    label: "imported here".to_owned(),
                    import: true,
                };
                error = *inner;
                (next, entry)
            }
            _ => break,
        };
        match (at, next) {
            (Location::Script, Location::Script) => {}
            (Location::Script, _) => entered = Some(entry),
            (_, Location::Script) => entered = None,
            _ => {}
        }
        at = next;
    }
    let position = error.take_position();
    let within = if context.is_empty() {
        String::new()
    } else {
        format!(" ({})", context.join(", "))
    };
    let (span, called) = match (at, entered) {
        (Location::Module(index), Some(entry)) => (
            modules.span_at(index, position),
            Some(Box::new(CallSite {
                span: call_span_at(entry.position, script.id, &script.text, entry.import),
                what: entry.what,
                label: entry.label,
            })),
        ),
        // A module whose text cannot be read again: the step into it.
        (_, Some(entry)) => (
            call_span_at(entry.position, script.id, &script.text, entry.import),
            None,
        ),
        _ => (span_at(position, script.id, &script.text), None),
    };
    diagnostic(error, &within, span, called)
}

/// The diagnostic for the innermost error of a chain, at `span`; `within`
/// says which calls it happened in.
fn diagnostic(
    error: EvalAltResult,
    within: &str,
    span: Span,
    called: Option<Box<CallSite>>,
) -> ScriptError {
    match error {
        EvalAltResult::ErrorParsing(kind, _) => ScriptError::Syntax {
            message: format!("{kind}{within}"),
            span,
            called,
        },
        EvalAltResult::ErrorTooManyOperations(_) => ScriptError::Limit {
            message: format!("it ran more than {MAX_OPERATIONS} operations{within}"),
            span,
            help: "is there an endless loop? taskrun stops scripts that run this long".to_owned(),
            called,
        },
        EvalAltResult::ErrorStackOverflow(_) => ScriptError::Limit {
            message: format!("calls nested more than {MAX_CALL_LEVELS} deep{within}"),
            span,
            help: "is there an endless recursion?".to_owned(),
            called,
        },
        EvalAltResult::ErrorDataTooLarge(what, _) => ScriptError::Limit {
            message: format!("{what} too large{within}"),
            span,
            help: "strings are limited to 64 MiB, arrays and maps to 10 million items".to_owned(),
            called,
        },
        EvalAltResult::ErrorRuntime(value, _) => ScriptError::Runtime {
            message: format!("{value}{within}"),
            span,
            called,
        },
        other => ScriptError::Runtime {
            message: format!("{other}{within}"),
            span,
            called,
        },
    }
}

/// A step of an error chain from the script into a module: a call of one
/// of its functions, or its `import`.
struct Entry {
    position: Position,
    /// What the step is, for [`CallSite::what`].
    what: String,
    /// The label at the step, for [`CallSite::label`].
    label: String,
    import: bool,
}

/// Which code a part of an error chain ran in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Location {
    Script,
    /// A module, by its index in [`Modules`].
    Module(usize),
    /// A module whose text cannot be found again.
    Unknown,
}

/// Code an error can point into: its text and the functions it defines,
/// which tell where a call in an error chain went (Rhai's own record of
/// that is not reliable for closures and calls within a module).
struct Place {
    id: SourceId,
    text: Arc<str>,
    functions: Vec<String>,
}

impl Place {
    fn defines(&self, name: &str) -> bool {
        self.functions.iter().any(|function| function == name)
    }
}

fn functions(ast: &AST) -> Vec<String> {
    ast.iter_functions()
        .map(|function| function.name.to_owned())
        .collect()
}

/// The modules an error chain passes through, read as the chain names
/// them, the way the engine resolves them: the stdlib's `taskrun/<name>`,
/// or a `.rhai` file relative to the script's directory. A module's text
/// is added to `sources` only when the error points into it.
struct Modules<'a> {
    engine: &'a Engine,
    dir: &'a Path,
    sources: &'a mut Sources,
    /// The modules read so far, by name; `id` once in `sources`.
    found: Vec<(String, Module)>,
    /// The names of modules whose text cannot be read.
    missing: Vec<String>,
}

struct Module {
    source: Source,
    functions: Vec<String>,
    id: Option<SourceId>,
}

impl<'a> Modules<'a> {
    fn new(engine: &'a Engine, dir: &'a Path, sources: &'a mut Sources) -> Self {
        Modules {
            engine,
            dir,
            sources,
            found: Vec::new(),
            missing: Vec::new(),
        }
    }

    /// The index of the module imported as `name`, if its text can be had.
    fn find(&mut self, name: &str) -> Option<usize> {
        if let Some(index) = self.found.iter().position(|(found, _)| found == name) {
            return Some(index);
        }
        if self.missing.iter().any(|missing| missing == name) {
            return None;
        }
        let Some(source) = self.read(name) else {
            self.missing.push(name.to_owned());
            return None;
        };
        let functions = self
            .engine
            .compile(&*source.text)
            .map_or_else(|_| Vec::new(), |ast| functions(&ast));
        let module = Module {
            source,
            functions,
            id: None,
        };
        self.found.push((name.to_owned(), module));
        Some(self.found.len() - 1)
    }

    fn read(&self, name: &str) -> Option<Source> {
        if let Some((_, text)) = engine::STDLIB.iter().find(|(stdlib, _)| *stdlib == name) {
            return Some(Source::from_bytes(name, text.as_bytes()));
        }
        // As Rhai's `FileModuleResolver` makes the path, but shown as
        // relative paths in the script are.
        let mut path = if self.dir == Path::new(".") {
            PathBuf::from(name)
        } else {
            self.dir.join(name)
        };
        path.set_extension("rhai");
        Source::read(&path).ok()
    }

    fn name(&self, index: usize) -> &str {
        &self.found[index].0
    }

    fn defines(&self, at: Location, script: &Place, name: &str) -> bool {
        match at {
            Location::Script => script.defines(name),
            Location::Module(index) => self.found[index]
                .1
                .functions
                .iter()
                .any(|function| function == name),
            Location::Unknown => false,
        }
    }

    /// Where the function `name`, called from code at `at`, runs: in the
    /// module Rhai says (`source`, empty for the script) if that defines
    /// it; else in the caller's own code (a call within a module) or the
    /// script (a closure the script passed in); else it is a native
    /// function, which runs no code of its own.
    fn callee(&mut self, name: &str, source: &str, at: Location, script: &Place) -> Location {
        let named = if source.is_empty() {
            Location::Script
        } else {
            self.find(source)
                .map_or(Location::Unknown, Location::Module)
        };
        if self.defines(named, script, name) {
            named
        } else if self.defines(at, script, name) {
            at
        } else if script.defines(name) {
            Location::Script
        } else if named == Location::Unknown {
            Location::Unknown
        } else {
            at
        }
    }

    /// The span at `position` in the module, whose text is added to the
    /// sources for it.
    fn span_at(&mut self, index: usize, position: Position) -> Span {
        let module = &mut self.found[index].1;
        let id = if let Some(id) = module.id {
            id
        } else {
            // Errors raised later (a policy that fails for every task)
            // point into the same module again and again.
            let source = &module.source;
            let id = self
                .sources
                .find(&source.path, &source.text)
                .unwrap_or_else(|| self.sources.add(source.clone()));
            module.id = Some(id);
            id
        };
        span_at(position, id, &module.source.text)
    }
}

/// The span of the word (or the one character) at a Rhai position, or
/// for an `import` of a module, of its path.
fn call_span_at(position: Position, id: SourceId, text: &str, import: bool) -> Span {
    let span = span_at(position, id, text);
    if import
        && let Some(rest) = text[span.offset..].strip_prefix('"')
        && let Some(end) = rest.find(['"', '\n'])
        && rest[end..].starts_with('"')
    {
        return Span::new(id, span.offset, end + 2);
    }
    span
}

/// The span of the word (or the one character) at a Rhai position.
pub(super) fn span_at(position: Position, id: SourceId, text: &str) -> Span {
    let (Some(line), Some(column)) = (position.line(), position.position()) else {
        // A position-less error (a module that failed to load): the start
        // of the script.
        return Span::new(id, 0, 0);
    };
    let at = crate::source::offset(text, line, column);
    let word = text[at..]
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
        .map_or(text.len() - at, |(end, _)| end);
    let len = if word > 0 {
        word
    } else {
        text[at..].chars().next().map_or(0, char::len_utf8)
    };
    Span::new(id, at, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A script with files beside it, loaded: the error it stops with,
    /// and the sources (the script is the first).
    fn fails(script: &str, files: &[(&str, &str)]) -> (ScriptError, Sources, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let mut sources = Sources::new();
        let path = dir.path().join("Taskfile.rhai");
        let id = sources.add(Source::from_bytes(&path, script.as_bytes()));
        let error = load(&mut sources, id, TaskSet::default(), dir.path()).unwrap_err();
        (error, sources, dir)
    }

    /// Where a span is: the last part of its source's path (or the stdlib
    /// module's name), line and column, and the text it covers, after
    /// checking that it lies in its source on character boundaries.
    fn at(sources: &Sources, span: Span) -> (String, usize, usize, String) {
        let source = sources.get(span.source);
        let text = &source.text;
        assert!(span.end() <= text.len(), "{span:?} outside {text:?}");
        assert!(text.is_char_boundary(span.offset) && text.is_char_boundary(span.end()));
        let before = &text[..span.offset];
        let line = before.matches('\n').count() + 1;
        let column = before[before.rfind('\n').map_or(0, |newline| newline + 1)..]
            .chars()
            .count()
            + 1;
        let name = source.name();
        let name = if name.starts_with("taskrun/") {
            name
        } else {
            source
                .path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        (name, line, column, text[span.offset..span.end()].to_owned())
    }

    fn located(
        name: &str,
        line: usize,
        column: usize,
        text: &str,
    ) -> (String, usize, usize, String) {
        (name.to_owned(), line, column, text.to_owned())
    }

    const HELPERS: &str = "// helpers\nfn boom(x) {\n    let y = x + 1;\n    throw `helper failed: ${y}`;\n}\n\
                           fn call_back(f) {\n    f.call(1)\n}\n";

    #[test]
    fn an_error_in_a_file_module_points_into_it_and_at_the_call() {
        let script = "// a comment\nimport \"lib/helpers\" as h;\n\nh::boom(1);\n";
        let (error, sources, _dir) = fails(script, &[("lib/helpers.rhai", HELPERS)]);
        assert!(
            matches!(&error, ScriptError::Runtime { message, .. } if message == "helper failed: 2 (in `boom`)"),
            "{error:?}"
        );
        assert_eq!(
            at(&sources, error.span()),
            located("helpers.rhai", 4, 5, "throw")
        );
        assert!(
            sources
                .get(error.span().source)
                .path
                .ends_with("lib/helpers.rhai")
        );
        let call = error.called().unwrap();
        assert_eq!(
            at(&sources, call.span),
            located("Taskfile.rhai", 4, 4, "boom")
        );
        assert_eq!(call.what, "in module `lib/helpers`, called from here");
        assert_eq!(call.label, "`boom` is called here");
    }

    #[test]
    fn an_error_in_the_stdlib_points_into_it_and_at_the_call() {
        let script = "import \"taskrun/matrix\" as m;\nlet groups = m::shard([1, 2], 0);\n";
        let (error, sources, _dir) = fails(script, &[]);
        assert_eq!(
            at(&sources, error.span()),
            located("taskrun/matrix", 35, 9, "throw")
        );
        let call = error.called().unwrap();
        assert_eq!(
            at(&sources, call.span),
            located("Taskfile.rhai", 2, 17, "shard")
        );

        // Through a call within the module: Rhai names no module for it.
        let script = "import \"taskrun/matrix\" as m;\n\n\nm::shard_of([1], 0, 0);\n";
        let (error, sources, _dir) = fails(script, &[]);
        assert_eq!(
            at(&sources, error.span()),
            located("taskrun/matrix", 35, 9, "throw")
        );
        let call = error.called().unwrap();
        assert_eq!(
            at(&sources, call.span),
            located("Taskfile.rhai", 4, 4, "shard_of")
        );
        assert_eq!(call.label, "`shard_of` is called here");
    }

    #[test]
    fn a_stdlib_function_given_a_wrong_type_fails_inside_it() {
        let script = "import \"taskrun/retry\" as r;\nr::exit_code_in(#{ exit_code: 3 }, 5);\n";
        let (error, sources, _dir) = fails(script, &[]);
        assert!(error.to_string().contains("contains (i64, i64)"), "{error}");
        assert_eq!(
            at(&sources, error.span()),
            located("taskrun/retry", 15, 35, "contains")
        );
        let call = error.called().unwrap();
        assert_eq!(
            at(&sources, call.span),
            located("Taskfile.rhai", 2, 4, "exit_code_in")
        );
    }

    #[test]
    fn a_closure_of_the_script_called_by_a_module_points_into_the_script() {
        // Through the stdlib and a closure of its own.
        let script = "import \"taskrun/retry\" as r;\nr::any(#{}, [|t| { throw \"mine\"; }]);\n";
        let (error, sources, _dir) = fails(script, &[]);
        assert_eq!(
            at(&sources, error.span()),
            located("Taskfile.rhai", 2, 20, "throw")
        );
        assert_eq!(error.called(), None);
        assert_eq!(sources.get(error.span().source).text.len(), script.len());

        // Through a file module, which Rhai names as the closure's.
        let script = "import \"helpers\" as h;\nh::call_back(|x| { throw \"mine\"; });\n";
        let (error, sources, _dir) = fails(script, &[("helpers.rhai", HELPERS)]);
        assert_eq!(
            at(&sources, error.span()),
            located("Taskfile.rhai", 2, 20, "throw")
        );
        assert_eq!(error.called(), None);
    }

    #[test]
    fn a_module_that_fails_to_load_points_into_it_and_at_the_import() {
        let script = "let a = 1;\nimport \"broken\" as b;\n";
        let (error, sources, _dir) = fails(script, &[("broken.rhai", "// broken\nfn f(x {\n}\n")]);
        assert!(matches!(error, ScriptError::Syntax { .. }), "{error:?}");
        assert!(
            error.to_string().ends_with("(in module `broken`)"),
            "{error}"
        );
        assert_eq!(at(&sources, error.span()).0, "broken.rhai");
        assert_eq!(at(&sources, error.span()).1, 2);
        let call = error.called().unwrap();
        assert_eq!(
            at(&sources, call.span),
            located("Taskfile.rhai", 2, 8, "\"broken\"")
        );
        assert_eq!(call.label, "imported here");

        let (error, sources, _dir) = fails(script, &[("broken.rhai", "\n\nthrow \"at load\";\n")]);
        assert_eq!(
            at(&sources, error.span()),
            located("broken.rhai", 3, 1, "throw")
        );
        assert_eq!(at(&sources, error.called().unwrap().span).1, 2);
    }

    #[test]
    fn an_error_in_a_module_that_cannot_be_read_again_points_at_the_call() {
        let script = "import \"gone\" as g;\ng::f();\n";
        let mut sources = Sources::new();
        let id = sources.add(Source::from_bytes("Taskfile.rhai", script.as_bytes()));
        let engine = engine::new(Path::new("/nonexistent"));
        let place = Place {
            id,
            text: Arc::from(script),
            functions: Vec::new(),
        };
        let error = EvalAltResult::ErrorInFunctionCall(
            "f".to_owned(),
            "gone".to_owned(),
            Box::new(EvalAltResult::ErrorRuntime(
                "broke".into(),
                Position::new(9, 9),
            )),
            Position::new(2, 4),
        );
        let dir = Path::new("/nonexistent");
        let error = convert(error, &place, &mut Modules::new(&engine, dir, &mut sources));
        assert_eq!(
            at(&sources, error.span()),
            located("Taskfile.rhai", 2, 4, "f")
        );
        assert_eq!(error.called(), None);
    }

    #[test]
    fn errors_raised_later_point_into_modules_too() {
        let dir = tempfile::tempdir().unwrap();
        let script = "fn should_retry(task) {\n    import \"taskrun/retry\" as r;\n    r::exit_code_in(task, 5)\n}\n\
                      task(\"t\", || { import \"taskrun/matrix\" as m; m::shard([], 0); });\n";
        let mut sources = Sources::new();
        let id = sources.add(Source::from_bytes("Taskfile.rhai", script.as_bytes()));
        let (_, script) = load(&mut sources, id, TaskSet::default(), dir.path()).unwrap();
        let task = || rhai::Map::from_iter([("exit_code".into(), rhai::Dynamic::from(3_i64))]);
        let error = script.call("should_retry", (task(),)).unwrap_err();
        let error = script.error(*error, &mut sources);
        assert_eq!(
            at(&sources, error.span()),
            located("taskrun/retry", 15, 35, "contains")
        );
        assert_eq!(
            at(&sources, error.called().unwrap().span),
            located("Taskfile.rhai", 3, 8, "exit_code_in")
        );

        let again = script.call("should_retry", (task(),)).unwrap_err();
        let again = script.error(*again, &mut sources);
        assert_eq!(again.span(), error.span(), "the module is added once");

        let closure = script.closure("t").unwrap();
        let error = closure
            .call::<rhai::Dynamic>(&script.engine, &script.ast, ())
            .unwrap_err();
        assert_eq!(
            script.describe(*error),
            "line 35 of taskrun/matrix (called at line 5): script error: \
             shard: count must be at least 1 (in `shard`)"
        );
    }
}
