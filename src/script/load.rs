//! Running a `Taskfile.rhai`: the tasks it defines, and the compiled
//! script kept for hooks, retry policies and evaluated tasks.

use std::path::Path;
use std::sync::Arc;

use rhai::{AST, Engine, EvalAltResult, FnPtr, Position};

use super::api::{self, Registry, Shared};
use super::engine::{self, MAX_CALL_LEVELS, MAX_OPERATIONS};
use crate::error::ScriptError;
use crate::source::{Source, SourceId, Span};
use crate::task::TaskSet;

/// A script that has run: its engine and code, for calling its functions
/// (hooks, `should_retry`) and closures (evaluated tasks) later.
pub(crate) struct Script {
    pub(crate) engine: Engine,
    pub(crate) ast: AST,
    pub(crate) source: SourceId,
    text: Arc<str>,
    /// The closure of each evaluated task, by task name.
    pub(crate) closures: Vec<(String, FnPtr)>,
    /// `executor("slurm")`, if the script chose.
    pub(crate) executor: Option<String>,
    /// `partition("name")`, if the script chose.
    pub(crate) partition: Option<String>,
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

    /// A script error, pointing into this script.
    pub(crate) fn error(&self, error: EvalAltResult) -> ScriptError {
        convert(error, self.source, &self.text)
    }

    /// A script error as one line for a task's stderr:
    /// `line 9: the network is down`.
    pub(crate) fn describe(&self, error: &ScriptError) -> String {
        let span = match error {
            ScriptError::Syntax { span, .. }
            | ScriptError::Runtime { span, .. }
            | ScriptError::Limit { span, .. }
            | ScriptError::Hook { span, .. } => *span,
        };
        let line = self.text[..span.offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1;
        format!("line {line}: {error}")
    }

    /// Calls the script's function `name` with `arguments`, without running
    /// the script's top level again.
    pub(crate) fn call(
        &self,
        name: &str,
        arguments: impl rhai::FuncArgs,
    ) -> Result<rhai::Dynamic, ScriptError> {
        let options = rhai::CallFnOptions::new()
            .eval_ast(false)
            .rewind_scope(true);
        self.engine
            .call_fn_with_options(options, &mut rhai::Scope::new(), &self.ast, name, arguments)
            .map_err(|error| self.error(*error))
    }
}

/// Runs the script `source` (whose id is `id`), with the tasks and pools of
/// `set` (from the task file) already defined, relative paths starting at
/// `dir`. Returns every task and pool once the script has run, and the
/// script.
pub(crate) fn load(
    source: &Source,
    id: SourceId,
    set: TaskSet,
    dir: &Path,
) -> Result<(TaskSet, Arc<Script>), ScriptError> {
    let origin = set.origin;
    let registry: Shared = Registry::new(source, id, set.tasks, set.pools);
    let mut engine = engine::new(dir);
    api::register(&mut engine, &registry);
    let ast = engine.compile(&*source.text).map_err(|error| {
        let (kind, position) = (error.0, error.1);
        ScriptError::Syntax {
            message: kind.to_string(),
            span: span_at(position, id, &source.text),
        }
    })?;
    engine
        .run_ast(&ast)
        .map_err(|error| convert(*error, id, &source.text))?;

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
        closures,
        executor,
        partition,
    };
    Ok((set, Arc::new(script)))
}

/// A Rhai error as a diagnostic: the innermost error of a chain of calls,
/// where it happened.
pub(crate) fn convert(error: EvalAltResult, id: SourceId, text: &str) -> ScriptError {
    let mut error = error;
    let mut context = Vec::new();
    loop {
        match error {
            EvalAltResult::ErrorInFunctionCall(name, _, inner, _) => {
                // Closures have generated names, which mean nothing to the
                // reader; the span shows where the error is anyway.
                if !name.starts_with("anon$") {
                    context.push(format!("in `{name}`"));
                }
                error = *inner;
            }
            EvalAltResult::ErrorInModule(name, inner, _) => {
                context.push(format!("in module `{name}`"));
                error = *inner;
            }
            _ => break,
        }
    }
    let position = error.take_position();
    let span = span_at(position, id, text);
    let within = if context.is_empty() {
        String::new()
    } else {
        format!(" ({})", context.join(", "))
    };
    match error {
        EvalAltResult::ErrorTooManyOperations(_) => ScriptError::Limit {
            message: format!("it ran more than {MAX_OPERATIONS} operations{within}"),
            span,
            help: "is there an endless loop? taskrun stops scripts that run this long".to_owned(),
        },
        EvalAltResult::ErrorStackOverflow(_) => ScriptError::Limit {
            message: format!("calls nested more than {MAX_CALL_LEVELS} deep{within}"),
            span,
            help: "is there an endless recursion?".to_owned(),
        },
        EvalAltResult::ErrorDataTooLarge(what, _) => ScriptError::Limit {
            message: format!("{what} too large{within}"),
            span,
            help: "strings are limited to 64 MiB, arrays and maps to 10 million items".to_owned(),
        },
        EvalAltResult::ErrorRuntime(value, _) => ScriptError::Runtime {
            message: format!("{value}{within}"),
            span,
        },
        other => ScriptError::Runtime {
            message: format!("{other}{within}"),
            span,
        },
    }
}

/// The span of the word (or the one character) at a Rhai position.
fn span_at(position: Position, id: SourceId, text: &str) -> Span {
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
