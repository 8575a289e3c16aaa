//! Every error taskrun can report, and the exit status each one leads to.
//!
//! Stage errors that point into a task file ([`ParseError`], [`GraphError`])
//! are miette diagnostics that carry only spans; the source text is attached
//! once, when they are printed (see `report`). Messages are lowercase
//! fragments with names in backticks; the help says what to do.
//!
//! Each diagnostic has a stable code (`taskfile::…`, `graph::…`). The book's
//! chapter "The task file" documents every code, and a test keeps the two in
//! step.

use std::path::PathBuf;

use miette::{Diagnostic, LabeledSpan};

use crate::exit_code;
use crate::source::{SourceId, Span};

/// A problem with the text of a task file: one line of the line format, or
/// one value of a TOML or JSON file.
#[expect(
    missing_docs,
    reason = "each variant's `#[error]` message says what it means, and its fields are the values the message and the diagnostic show"
)]
#[derive(Clone, Debug, Diagnostic, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line has no `:` between a task name and its command")]
    #[diagnostic(
        code(taskfile::missing_colon),
        help("a task line is `name: command`; a comment line starts with `#`")
    )]
    MissingColon {
        #[label("expected `name: command`")]
        span: Span,
    },

    #[error("task line has no name before `:`")]
    #[diagnostic(
        code(taskfile::missing_name),
        help("put the task's name before the `:`, e.g. `build: make`")
    )]
    MissingName {
        #[label("name expected before this `:`")]
        span: Span,
    },

    #[error("invalid task name `{name}`")]
    #[diagnostic(code(taskfile::invalid_name), help("{help}"))]
    InvalidName {
        name: String,
        #[label("`{bad}` is not allowed in a task name")]
        span: Span,
        bad: char,
        help: String,
    },

    #[error("task `{name}` has no command")]
    #[diagnostic(code(taskfile::missing_command), help("{help}"))]
    MissingCommand {
        name: String,
        #[label("no command for this task")]
        span: Span,
        help: String,
    },

    #[error("unknown attribute `{key}`")]
    #[diagnostic(code(taskfile::unknown_attribute), help("{help}"))]
    UnknownAttribute {
        key: String,
        #[label("not a known attribute")]
        span: Span,
        help: String,
    },

    #[error("invalid value `{value}` for `{key}`")]
    #[diagnostic(code(taskfile::invalid_value), help("{help}"))]
    InvalidValue {
        key: String,
        value: String,
        #[label("not a valid `{key}`")]
        span: Span,
        help: String,
    },

    #[error("invalid pool declaration")]
    #[diagnostic(code(taskfile::invalid_pool), help("{help}"))]
    InvalidPool {
        #[label("here")]
        span: Span,
        help: String,
    },

    #[error("`{key}` is given more than once")]
    #[diagnostic(
        code(taskfile::repeated_attribute),
        help("give `{key}` once: keep the one you mean")
    )]
    RepeatedAttribute {
        key: String,
        #[label("given again here")]
        span: Span,
    },

    #[error("`[after:]` names no task")]
    #[diagnostic(
        code(taskfile::empty_after),
        help(
            "list the tasks to wait for, separated by commas, e.g. `[after:build,lint]`, or remove the group"
        )
    )]
    EmptyAfter {
        #[label("no task names here")]
        span: Span,
    },

    #[error("empty task name among the dependencies")]
    #[diagnostic(code(taskfile::empty_dependency), help("{help}"))]
    EmptyDependency {
        #[label("a task name is missing here")]
        span: Span,
        help: &'static str,
    },

    #[error("invalid task name `{name}` among the dependencies")]
    #[diagnostic(code(taskfile::invalid_dependency), help("{help}"))]
    InvalidDependency {
        name: String,
        #[label("not a task name")]
        span: Span,
        help: String,
    },

    #[error("line contains bytes that are not valid UTF-8")]
    #[diagnostic(
        code(taskfile::invalid_utf8),
        help("task files must be UTF-8; convert it, e.g. `iconv -f latin1 -t utf-8`")
    )]
    InvalidUtf8 {
        #[label("not UTF-8")]
        span: Span,
    },

    #[error("the task file contains a NUL byte")]
    #[diagnostic(
        code(taskfile::nul_byte),
        help("no command, path or variable can hold a NUL byte; remove it")
    )]
    NulByte {
        #[label("NUL byte")]
        span: Span,
    },

    #[error("invalid {format}: {message}")]
    #[diagnostic(code(taskfile::syntax), help("{help}"))]
    Syntax {
        format: &'static str,
        message: String,
        #[label("here")]
        span: Span,
        help: &'static str,
    },

    #[error("unknown key `{key}` {place}")]
    #[diagnostic(code(taskfile::unknown_key), help("{help}"))]
    UnknownKey {
        key: String,
        place: &'static str,
        #[label("not a known key")]
        span: Span,
        help: String,
    },

    #[error("`{key}` must be {expected}, not {found}")]
    #[diagnostic(code(taskfile::wrong_type), help("{help}"))]
    WrongType {
        key: String,
        expected: &'static str,
        found: &'static str,
        #[label("expected {expected}")]
        span: Span,
        help: String,
    },

    #[error("{place} has no `{key}`")]
    #[diagnostic(code(taskfile::missing_key), help("{help}"))]
    MissingKey {
        key: &'static str,
        place: String,
        #[label("`{key}` expected in this table")]
        span: Span,
        help: String,
    },

    #[error("`{key}` and `{other}` cannot both be given")]
    #[diagnostic(code(taskfile::conflicting_keys), help("{help}"))]
    ConflictingKeys {
        key: String,
        other: String,
        #[label("given here")]
        span: Span,
        help: String,
    },

    #[error("the code of eval task `{name}` is not valid Rhai: {message}")]
    #[diagnostic(
        code(taskfile::eval_syntax),
        help(
            "an `eval` task's code is a Rhai script; see the Rhai book (rhai.rs/book) for the language"
        )
    )]
    EvalSyntax {
        name: String,
        message: String,
        #[label("here")]
        span: Span,
    },

    #[error("task file is encoded as UTF-16")]
    #[diagnostic(
        code(taskfile::utf16),
        help("save the file as UTF-8, e.g. `iconv -f utf-16 -t utf-8`")
    )]
    Utf16 { source_id: SourceId },
}

impl ParseError {
    /// The source the error points into.
    pub fn source_id(&self) -> SourceId {
        match self {
            ParseError::MissingColon { span }
            | ParseError::MissingName { span }
            | ParseError::InvalidName { span, .. }
            | ParseError::MissingCommand { span, .. }
            | ParseError::UnknownAttribute { span, .. }
            | ParseError::InvalidValue { span, .. }
            | ParseError::RepeatedAttribute { span, .. }
            | ParseError::InvalidPool { span, .. }
            | ParseError::EmptyAfter { span }
            | ParseError::EmptyDependency { span, .. }
            | ParseError::InvalidDependency { span, .. }
            | ParseError::InvalidUtf8 { span }
            | ParseError::NulByte { span }
            | ParseError::Syntax { span, .. }
            | ParseError::UnknownKey { span, .. }
            | ParseError::WrongType { span, .. }
            | ParseError::MissingKey { span, .. }
            | ParseError::ConflictingKeys { span, .. }
            | ParseError::EvalSyntax { span, .. } => span.source,
            ParseError::Utf16 { source_id } => *source_id,
        }
    }
}

/// A problem with how tasks relate to each other.
#[expect(
    missing_docs,
    reason = "each variant's `#[error]` message says what it means, and its fields are the values the message and the diagnostic show"
)]
#[derive(Clone, Debug, Diagnostic, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("no tasks defined")]
    #[diagnostic(
        code(graph::no_tasks),
        help("add a task, such as the line `build: make` (in TOML, a `[[task]]` table)")
    )]
    NoTasks { source_id: SourceId },

    #[error("task `{name}` is defined more than once")]
    #[diagnostic(code(graph::duplicate_task), help("{help}"))]
    DuplicateTask {
        name: String,
        #[label(primary, "defined again here")]
        span: Span,
        /// The first definition, when it is in the same file.
        #[label("first defined here")]
        first: Option<Span>,
        help: String,
    },

    #[error("task `{task}` depends on unknown task `{name}`")]
    #[diagnostic(code(graph::unknown_dependency), help("{help}"))]
    UnknownDependency {
        task: String,
        name: String,
        #[label("no task has this name")]
        span: Span,
        help: String,
    },

    #[error("task `{task}` names an undeclared pool `{name}`")]
    #[diagnostic(code(graph::unknown_pool), help("{help}"))]
    UnknownPool {
        task: String,
        name: String,
        #[label("no pool has this name")]
        span: Span,
        help: String,
    },

    #[error("pool `{name}` is declared more than once")]
    #[diagnostic(
        code(graph::duplicate_pool),
        help("declare each pool once, with its limit")
    )]
    DuplicatePool {
        name: String,
        #[label("declared again here")]
        span: Span,
    },

    #[error("task `{name}` depends on itself")]
    #[diagnostic(
        code(graph::self_dependency),
        help("remove `{name}` from its own `[after:…]` list")
    )]
    SelfDependency {
        name: String,
        #[label("`{name}` cannot wait for itself")]
        span: Span,
    },

    #[error("tasks `{first_task}` and `{task}` both write `{path}`")]
    #[diagnostic(code(graph::overlapping_outputs), help("{help}"))]
    OverlappingOutputs {
        /// The later task, whose output is pointed at.
        task: String,
        /// The earlier task.
        first_task: String,
        /// The path both would write (the more specific of the two
        /// outputs, joined onto its task's directory).
        path: String,
        #[label(primary, "`{task}` writes here")]
        span: Span,
        /// The earlier task's output, when it is in the same file.
        #[label("`{first_task}` writes here too")]
        first: Option<Span>,
        help: String,
    },

    #[error("dependency cycle: {}", cycle_text(path))]
    #[diagnostic(
        code(graph::cycle),
        help(
            "these tasks wait for each other, so none of them could ever start; remove one of the dependencies"
        )
    )]
    Cycle {
        /// The task names around the cycle, the first repeated at the end.
        path: Vec<String>,
        #[label(collection)]
        edges: Vec<LabeledSpan>,
        source_id: SourceId,
    },
}

impl GraphError {
    /// The source the error points into.
    pub fn source_id(&self) -> SourceId {
        match self {
            GraphError::NoTasks { source_id } | GraphError::Cycle { source_id, .. } => *source_id,
            GraphError::DuplicateTask { span, .. }
            | GraphError::UnknownPool { span, .. }
            | GraphError::DuplicatePool { span, .. }
            | GraphError::UnknownDependency { span, .. }
            | GraphError::SelfDependency { span, .. }
            | GraphError::OverlappingOutputs { span, .. } => span.source,
        }
    }
}

/// A problem with a `Taskfile.rhai` script.
///
/// The span is where the error happened: in the script, or in a module it
/// imported. For an error inside a module, `called` is where the script
/// called into it.
#[expect(
    missing_docs,
    reason = "each variant's `#[error]` message says what it means, and its fields are the values the message and the diagnostic show"
)]
#[derive(Clone, Debug, Diagnostic, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("script syntax error: {message}")]
    #[diagnostic(
        code(script::syntax),
        help("see the Rhai book (rhai.rs/book) for the language")
    )]
    Syntax {
        message: String,
        #[label("here")]
        span: Span,
        called: Option<Box<CallSite>>,
    },

    #[error("script error: {message}")]
    #[diagnostic(code(script::runtime))]
    Runtime {
        message: String,
        #[label("while running this")]
        span: Span,
        called: Option<Box<CallSite>>,
    },

    #[error("hook `{hook}` failed: {message}")]
    #[diagnostic(
        code(script::hook),
        help("the run goes on; `{hook}` is not called again in this run")
    )]
    Hook {
        hook: String,
        message: String,
        #[label("here")]
        span: Span,
        called: Option<Box<CallSite>>,
    },

    #[error("script stopped: {message}")]
    #[diagnostic(code(script::limit), help("{help}"))]
    Limit {
        message: String,
        #[label("stopped here")]
        span: Span,
        help: String,
        called: Option<Box<CallSite>>,
    },
}

impl ScriptError {
    /// The source the error points into.
    pub fn source_id(&self) -> SourceId {
        self.span().source
    }

    /// Where the error happened.
    pub fn span(&self) -> Span {
        match self {
            ScriptError::Syntax { span, .. }
            | ScriptError::Runtime { span, .. }
            | ScriptError::Limit { span, .. }
            | ScriptError::Hook { span, .. } => *span,
        }
    }

    /// For an error inside an imported module, where the script called
    /// into the module (or imported it).
    pub fn called(&self) -> Option<&CallSite> {
        match self {
            ScriptError::Syntax { called, .. }
            | ScriptError::Runtime { called, .. }
            | ScriptError::Limit { called, .. }
            | ScriptError::Hook { called, .. } => called.as_deref(),
        }
    }
}

/// Where a script called a function of a module (or imported the module)
/// whose code raised an error: shown after the error, in the script.
///
/// It is a separate diagnostic rather than a second label because it
/// points into another source than the error does.
#[derive(Clone, Debug, Diagnostic, PartialEq, Eq, thiserror::Error)]
#[error("{what}")]
#[diagnostic(severity(Advice))]
pub struct CallSite {
    /// What the script did there: "`boom` of module `helpers` was called
    /// here".
    pub what: String,
    /// The call (or the `import`) in the script.
    #[label("{label}")]
    pub span: Span,
    /// The label at the span: "called here" or "imported here".
    pub label: String,
}

/// One problem found in the task sources, from either stage.
#[expect(
    missing_docs,
    reason = "each variant's `#[error]` message says what it means, and its fields are the values the message and the diagnostic show"
)]
#[derive(Clone, Debug, Diagnostic, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Script(#[from] ScriptError),
}

impl Problem {
    /// The source the problem points into.
    pub fn source_id(&self) -> SourceId {
        match self {
            Problem::Parse(error) => error.source_id(),
            Problem::Graph(error) => error.source_id(),
            Problem::Script(error) => error.source_id(),
        }
    }

    /// Where a script called into the module the problem is in, if it is
    /// in one (see [`ScriptError::called`]).
    pub fn called(&self) -> Option<&CallSite> {
        match self {
            Problem::Script(error) => error.called(),
            Problem::Parse(_) | Problem::Graph(_) => None,
        }
    }

    /// Where the problem is, for listing problems in file order: its
    /// source, then the start of its first label (problems about a whole
    /// file come first).
    pub fn offset(&self) -> (SourceId, usize) {
        let first_label = self
            .labels()
            .and_then(|mut labels| labels.next())
            .map_or(0, |label| label.offset());
        (self.source_id(), first_label)
    }
}

/// Anything that stops a command from doing its work.
#[expect(
    missing_docs,
    reason = "each variant's `#[error]` message says what it means, and its fields are the values the message and the diagnostic show"
)]
#[derive(Debug, Diagnostic, thiserror::Error)]
pub enum Error {
    /// The task sources have problems; all of them are listed.
    #[error("{} in {}", plural(problems.len(), "problem"), path.display())]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },

    #[error("task `{task}` cannot be written in the {to} format: {why}")]
    #[diagnostic(
        code(convert::not_expressible),
        help("convert to `toml` or `json`, which hold every task, or change the task")
    )]
    CannotConvert {
        task: String,
        to: &'static str,
        why: String,
    },

    #[error("cannot read task file `{}`", path.display())]
    #[diagnostic(
        code(taskfile::unreadable),
        help("check the path; taskrun expects a task file such as `tasks.txt`")
    )]
    ReadTaskfile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("no task file in `{}`", dir.display())]
    #[diagnostic(
        code(taskfile::none),
        help(
            "create `tasks.txt` (one `name: command` line per task), `tasks.toml`, `tasks.json` or `Taskfile.rhai`, or name the file: `taskrun run FILE`"
        )
    )]
    NoTaskFile { dir: PathBuf },

    #[error("`{}` is a directory, not a task file", path.display())]
    #[diagnostic(
        code(taskfile::directory),
        help("name the task file in it, or run there with `-C {}`", path.display())
    )]
    TaskFileIsDirectory { path: PathBuf },

    #[error("cannot change to the directory `{}`", dir.display())]
    #[diagnostic(code(taskrun::directory), help("check the path given to -C"))]
    ChangeDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("no task named `{name}`")]
    #[diagnostic(code(run::unknown_task), help("{help}"))]
    UnknownTask { name: String, help: String },

    #[error("no task is left to run")]
    #[diagnostic(code(run::nothing_selected), help("{help}"))]
    NothingSelected { help: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] crate::record::StoreError),

    #[error("`{pattern}` is not a task name or glob: {why}")]
    #[diagnostic(
        code(stats::bad_glob),
        help(
            "a glob is a name with `*`, `?` or `[...]` in it, e.g. `test_*`; quote it for the shell"
        )
    )]
    BadGlob { pattern: String, why: String },

    #[error("the search query `{query}` has no word to look for")]
    #[diagnostic(
        code(search::empty_query),
        help(
            "a query needs at least one letter or digit: punctuation and spaces only separate words"
        )
    )]
    EmptyQuery { query: String },

    #[error("`{query}` is not a query FTS5 can read: {why}")]
    #[diagnostic(
        code(search::bad_query),
        help(
            "with --raw the query is FTS5 syntax (`a AND b`, `\"a phrase\"`, `pre*`, `NEAR(a b, 5)`); quote words that hold punctuation, or drop --raw to search for the text as it is"
        )
    )]
    BadQuery { query: String, why: String },

    #[error("run #{run} has no earlier run of the same task file to compare with")]
    #[diagnostic(
        code(history::no_earlier_run),
        help("name both runs, `taskrun diff A B`; `taskrun history` lists them")
    )]
    NoEarlierRun { run: i64 },

    #[error("no run `last~{back}` in `{}`: {runs} runs are recorded", path.display())]
    #[diagnostic(
        code(history::unknown_run),
        help(
            "`last~N` counts back from the last run, `last~1` the one before it; `taskrun history` lists them"
        )
    )]
    NoRunBack { back: u32, runs: i64, path: PathBuf },

    #[error("no runs are recorded in `{}`", path.display())]
    #[diagnostic(code(history::no_runs), help("`taskrun run FILE` records one"))]
    NoRuns { path: PathBuf },

    #[error("no run #{id} in `{}`", path.display())]
    #[diagnostic(code(history::unknown_run), help("{help}"))]
    UnknownRun {
        id: i64,
        path: PathBuf,
        help: String,
    },

    #[error("run #{run} has no task `{name}`")]
    #[diagnostic(code(history::unknown_task), help("{help}"))]
    UnknownRunTask {
        run: i64,
        name: String,
        help: String,
    },

    #[error("task `{task}` of run #{run} has no stored outputs")]
    #[diagnostic(code(cache::no_outputs), help("{help}"))]
    NoStoredOutputs {
        run: i64,
        task: String,
        help: String,
    },

    #[error("`{path}` is not among the outputs of task `{task}` in run #{run}")]
    #[diagnostic(code(cache::not_an_output), help("{help}"))]
    NotAnOutput {
        run: i64,
        task: String,
        path: String,
        help: String,
    },

    #[error("the store no longer holds {what} of task `{task}` in run #{run}")]
    #[diagnostic(
        code(cache::object_gone),
        help(
            "{why}; `taskrun gc` deletes what no kept entry needs, and a run of the task stores it again"
        )
    )]
    ObjectGone {
        run: i64,
        task: String,
        what: String,
        why: String,
    },

    #[error("run #{run} ran in `{}`, which no longer exists", dir.display())]
    #[diagnostic(
        code(history::dir_gone),
        help("its tasks run where the original ran; restore that directory to retry it")
    )]
    RetryDirGone { run: i64, dir: PathBuf },

    #[error("run #{run} is {what}")]
    #[diagnostic(
        code(history::still_running),
        help("wait for it to end, or stop it (`kill {pid}` on {host}), then retry it")
    )]
    RetryRunning {
        run: i64,
        what: String,
        pid: i64,
        host: String,
    },

    #[error("`{}` is the history database (or one of its files)", path.display())]
    #[diagnostic(
        code(run::report_is_database),
        help("writing {what} there would destroy the recorded runs; choose another path")
    )]
    ReportIsDatabase { path: PathBuf, what: String },

    #[error("{what} and {other} would both be written to `{}`", path.display())]
    #[diagnostic(
        code(run::reports_share_a_path),
        help("one would overwrite the other; give each its own path")
    )]
    ReportsShareAPath {
        path: PathBuf,
        what: String,
        other: String,
    },

    #[error("cannot retry run #{run}: {why}")]
    #[diagnostic(code(history::retry_script), help("{help}"))]
    RetryScript { run: i64, why: String, help: String },

    #[error("cannot start the run")]
    #[diagnostic(code(run::start))]
    Start(#[source] std::io::Error),

    #[error("cannot read script `{}`", path.display())]
    #[diagnostic(
        code(script::unreadable),
        help("check the path given to --script, or use --no-script")
    )]
    ReadScript {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot run on Slurm: {why}")]
    #[diagnostic(
        code(run::slurm_unavailable),
        help(
            "check that Slurm's commands are on PATH, that `scontrol ping` answers, and the --partition; or run with --executor local"
        )
    )]
    SlurmUnavailable { why: String },

    #[error("Slurm did not grant the run's allocation: {why}")]
    #[diagnostic(
        code(run::slurm_allocation),
        help(
            "ask for what the partition can hold (--jobs, the tasks' [cpus:] and [mem:], --slurm-time), check the --slurm-arg options, or run with --slurm-mode jobs"
        )
    )]
    SlurmAllocation { why: String },

    #[error(
        "Slurm did not grant allocation {id} within {waited}; it was cancelled and nothing ran"
    )]
    #[diagnostic(
        code(run::slurm_wait),
        help(
            "`squeue` and `sprio` say why the cluster is busy; wait longer with --slurm-wait, ask for less with --jobs, or run with --slurm-mode jobs"
        )
    )]
    SlurmWait { id: String, waited: String },

    #[error(
        "interrupted ({signal}) while waiting for the Slurm allocation: the request was cancelled and nothing ran"
    )]
    #[diagnostic(code(run::slurm_canceled))]
    SlurmCanceled { signal: crate::event::Signal },

    #[error("{flag} {why}")]
    #[diagnostic(code(run::slurm_option), help("{help}"))]
    SlurmOption {
        flag: &'static str,
        why: &'static str,
        help: &'static str,
    },

    #[error("`{name}` cannot be made: {why}")]
    #[diagnostic(
        code(api::invalid_task),
        help("build the task with a name and settings that the task file would accept")
    )]
    InvalidTask { name: String, why: String },

    #[error("cannot write to `{}`", path.display())]
    #[diagnostic(
        code(run::cannot_write),
        help("check that the directory exists and can be written")
    )]
    CannotWrite {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A consumer of the run's events (a report, the recorder, the hooks)
    /// stopped before the run was over.
    #[error("{sink} stopped before the run was over: {why}")]
    #[diagnostic(code(run::sink), help("{help}"))]
    SinkFailed {
        sink: String,
        why: String,
        help: String,
    },

    #[error("cannot write output")]
    #[diagnostic(code(taskrun::output))]
    Output(#[from] std::io::Error),

    /// A broker's handler asked for the broker's shutdown, which waits
    /// for the handlers to return.
    #[error(
        "Broker::shutdown was called from a task's event handler, which the shutdown would wait for"
    )]
    #[diagnostic(
        code(api::shutdown_in_handler),
        help(
            "shut the broker down from a thread of your own (a handler can send it a message); \
             from a handler, cancel tasks instead"
        )
    )]
    ShutdownInHandler,
}

impl Error {
    /// The exit status this error ends the process with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Invalid { .. }
            | Error::ReadTaskfile { .. }
            | Error::NoTaskFile { .. }
            | Error::TaskFileIsDirectory { .. }
            | Error::ChangeDir { .. }
            | Error::ReadScript { .. }
            | Error::UnknownTask { .. }
            | Error::NothingSelected { .. }
            | Error::Store(_)
            | Error::NoRuns { .. }
            | Error::BadGlob { .. }
            | Error::EmptyQuery { .. }
            | Error::BadQuery { .. }
            | Error::NoEarlierRun { .. }
            | Error::NoRunBack { .. }
            | Error::UnknownRun { .. }
            | Error::UnknownRunTask { .. }
            | Error::NoStoredOutputs { .. }
            | Error::NotAnOutput { .. }
            | Error::ObjectGone { .. }
            | Error::RetryDirGone { .. }
            | Error::RetryScript { .. }
            | Error::RetryRunning { .. }
            | Error::ReportIsDatabase { .. }
            | Error::ReportsShareAPath { .. }
            | Error::CannotWrite { .. }
            | Error::InvalidTask { .. }
            | Error::SlurmUnavailable { .. }
            | Error::SlurmAllocation { .. }
            | Error::SlurmWait { .. }
            | Error::SlurmOption { .. }
            | Error::CannotConvert { .. } => exit_code::INVALID_INPUT,
            Error::Start(_)
            | Error::Output(_)
            | Error::SinkFailed { .. }
            | Error::ShutdownInHandler => exit_code::FAILURE,
            Error::SlurmCanceled { signal } => exit_code::interrupted(*signal),
        }
    }
}

/// A cycle's task names joined by arrows. A long cycle shows its first and
/// last tasks and counts the ones between, so the message stays one line.
fn cycle_text(path: &[String]) -> String {
    const SHOWN_AT_EACH_END: usize = 5;
    if path.len() <= 2 * SHOWN_AT_EACH_END + 1 {
        return path.join(" → ");
    }
    let hidden = path.len() - 2 * SHOWN_AT_EACH_END;
    format!(
        "{} → … {} … → {}",
        path[..SHOWN_AT_EACH_END].join(" → "),
        plural(hidden, "more task"),
        path[path.len() - SHOWN_AT_EACH_END..].join(" → ")
    )
}

/// `1 task`, `2 tasks`.
pub(crate) fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The candidate closest to `word`, if one is close enough to be a likely
/// typo (case is ignored).
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .map(|candidate| {
            let distance = strsim::damerau_levenshtein(&word, &candidate.to_ascii_lowercase());
            (distance, candidate)
        })
        .filter(|&(distance, candidate)| distance <= (candidate.len() / 3).max(1))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_close_words_only() {
        let keys = ["after", "timeout"];
        assert_eq!(did_you_mean("afer", keys.into_iter()), Some("after"));
        assert_eq!(did_you_mean("AFTER", keys.into_iter()), Some("after"));
        assert_eq!(did_you_mean("timout", keys.into_iter()), Some("timeout"));
        assert_eq!(did_you_mean("x", keys.into_iter()), None);
        assert_eq!(did_you_mean("fetch", ["fetch_deps"].into_iter()), None);
        assert_eq!(
            did_you_mean("fetch_dep", ["fetch_deps"].into_iter()),
            Some("fetch_deps")
        );
    }

    #[test]
    fn long_cycles_are_abbreviated() {
        let path: Vec<String> = (0..20).chain([0]).map(|i| format!("t{i}")).collect();
        assert_eq!(
            cycle_text(&path),
            "t0 → t1 → t2 → t3 → t4 → … 11 more tasks … → t16 → t17 → t18 → t19 → t0"
        );
        let short: Vec<String> = ["a", "b", "a"].map(String::from).to_vec();
        assert_eq!(cycle_text(&short), "a → b → a");
    }

    #[test]
    fn plural_forms() {
        assert_eq!(plural(1, "task"), "1 task");
        assert_eq!(plural(0, "task"), "0 tasks");
    }
}
