//! The command line: clap definitions, and their conversion into the
//! option types of the stages (which know nothing of clap).
//!
//! Parsing arguments never touches files or runs anything; `app` turns
//! the parsed [`Arguments`] into work.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::Error;
use crate::execute::SlurmMode;
use crate::load::{self, FileFormat, LoadOptions, ScriptChoice};
use crate::order::Order;
use crate::report::{self, Output};
use crate::task::is_valid_name;
use crate::units::{parse_duration, parse_size};

/// Where a run's tasks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExecutorKind {
    /// Processes on this machine.
    Local,
    /// Job steps on a Slurm cluster, through `srun`.
    Slurm,
}

impl ExecutorKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ExecutorKind::Local => "local",
            ExecutorKind::Slurm => "slurm",
        }
    }
}

/// A declarative, Make-style parallel task runner.
#[derive(Debug, Parser)]
#[command(name = "taskrun", version, about, max_term_width = 100)]
pub(crate) struct Arguments {
    /// When to use colour: `auto` colours only on a terminal and
    /// never when `NO_COLOR` is set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub(crate) color: ColorChoice,

    /// Run as if taskrun had been started in DIR (as `make -C`): paths on
    /// the command line, the task file and the database are found there.
    #[arg(short = 'C', value_name = "DIR", global = true)]
    pub(crate) directory: Option<PathBuf>,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the tasks of a task file in parallel, in dependency order.
    Run(RunArgs),
    /// Validate a task file and print a one-line summary of it.
    Check {
        #[command(flatten)]
        source: SourceArgs,
        /// Print the plan as JSON instead: tasks, dependencies, pools and
        /// the order they would start in.
        #[arg(long)]
        json: bool,
    },
    /// List the tasks of a task file, with what each is for and waits for.
    List {
        #[command(flatten)]
        source: SourceArgs,
        /// Print the plan as JSON, as `check --json` does.
        #[arg(long)]
        json: bool,
        /// Print only the tasks' names, one a line (for shell completion).
        #[arg(long, conflicts_with = "json")]
        names: bool,
    },
    /// List recent runs, newest first.
    History {
        /// How many runs to list.
        #[arg(long, short = 'n', value_name = "N", default_value_t = 20)]
        limit: usize,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Show a recorded run, or one of its tasks with its output.
    Show {
        /// The run: its number, `last`, or `last~N` (the Nth before the
        /// last) [default: last].
        #[arg(value_name = "RUN", value_parser = parse_run)]
        run: Option<RunRef>,
        /// Show this task with its output.
        #[arg(long, short = 't', value_name = "NAME")]
        task: Option<String>,
        /// Print JSON for scripts.
        #[arg(long, conflicts_with = "junit")]
        json: bool,
        /// Print the run as a JUnit XML report.
        #[arg(long, conflicts_with = "task")]
        junit: bool,
        /// Write the run as a Chrome trace (Perfetto, `chrome://tracing`) to
        /// FILE (`-`: standard output).
        #[arg(long, value_name = "FILE", conflicts_with_all = ["task", "json", "junit"])]
        trace: Option<PathBuf>,
        /// Write the run as a self-contained HTML page (a timeline, the
        /// critical path, the failures) to FILE (`-`: standard output).
        #[arg(long, value_name = "FILE", conflicts_with_all = ["task", "json", "junit"])]
        html: Option<PathBuf>,
        /// With --task: why the task ran or was restored from the cache,
        /// and what changed since its last stored pass.
        #[arg(long, requires = "task")]
        why: bool,
        /// With --task: the files the task made (its declared outputs), as
        /// stored.
        #[arg(long, requires = "task", conflicts_with = "why")]
        outputs: bool,
        /// The store of cached outputs, for --why and --outputs [default:
        /// `.taskrun/` beside the history database].
        #[arg(long, value_name = "DIR")]
        store: Option<PathBuf>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Write one file a task of a recorded run made (one of its declared
    /// outputs), as the store holds it, to standard output.
    Cat {
        /// The run: its number, `last`, or `last~N`.
        #[arg(value_name = "RUN", value_parser = parse_run)]
        run: RunRef,
        /// The task.
        #[arg(value_name = "TASK")]
        task: String,
        /// The file, relative to the task's directory.
        #[arg(value_name = "PATH")]
        file: String,
        /// The store of cached outputs [default: `.taskrun/` beside the
        /// history database].
        #[arg(long, value_name = "DIR")]
        store: Option<PathBuf>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Re-run the tasks of a recorded run that did not pass.
    Retry(RetryArgs),
    /// Per-task figures over recent runs: how often each passed, failed
    /// and timed out, whether it is flaky, how long it takes.
    Stats(StatsArgs),
    /// Search the recorded output of tasks for a phrase, by task, the
    /// newest first. Exits 0 when something matched, 1 when nothing did.
    Search(SearchArgs),
    /// Bring the full-text index of the recorded output up to date (what
    /// `search` does first), and say how many rows it indexed.
    Index {
        #[command(flatten)]
        db: DbArg,
    },
    /// Compare two runs: new failures, fixes, changed commands, added and
    /// removed tasks, changed statuses, tasks much slower or faster.
    Diff {
        /// The earlier run: a number, `last` or `last~N` [default: the run
        /// before B of the same task file].
        #[arg(value_name = "A", value_parser = parse_run)]
        a: Option<RunRef>,
        /// The later run [default: last].
        #[arg(value_name = "B", value_parser = parse_run)]
        b: Option<RunRef>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
        /// Exit with status 1 when B has a new failure (for CI).
        #[arg(long)]
        exit_code: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Print a completion script for a shell, e.g. `taskrun completions
    /// bash > ~/.local/share/bash-completion/completions/taskrun`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print taskrun's manual page (roff), e.g. `taskrun man > taskrun.1`.
    Man,
    /// Delete old runs, with their tasks, from the history.
    Prune(PruneArgs),
    /// Delete the cache entries no recent run used, and the stored objects
    /// that nothing needs any more.
    Gc(GcArgs),
    /// Print the JSON Schema of TOML and JSON task files, for editors.
    Schema,
    /// Write the tasks of a task file in another format, to stdout.
    Convert {
        /// The task file, or a `.rhai` script whose tasks to write (a
        /// `Taskfile.rhai` beside a task file does not take part).
        file: PathBuf,
        /// The format to write.
        #[arg(long, value_enum, value_name = "FORMAT")]
        to: FileFormatArg,
        /// Read FILE in this format, whatever its name says.
        #[arg(long, value_enum, value_name = "FORMAT")]
        file_format: Option<FileFormatArg>,
    },
    /// Print the dependency graph of a task file for Graphviz or Mermaid.
    Graph {
        #[command(flatten)]
        source: SourceArgs,
        /// The output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
}

/// Where tasks come from: a task file, and the script beside it.
#[derive(Debug, Args)]
pub(crate) struct SourceArgs {
    /// The task file, e.g. `tasks.txt` (tasks run in its directory), a
    /// `.rhai` script that defines every task itself, or `-` to read the
    /// task file from standard input (its tasks run in the current
    /// directory) [default: the first of `tasks.txt`, `tasks.toml`,
    /// `tasks.json`, `Taskfile.rhai` in the current directory].
    pub(crate) file: Option<PathBuf>,

    /// Load this Rhai script after the task file, instead of the
    /// `Taskfile.rhai` beside it.
    #[arg(long, value_name = "PATH", conflicts_with = "no_script")]
    pub(crate) script: Option<PathBuf>,

    /// Do not load the `Taskfile.rhai` beside the task file.
    #[arg(long)]
    pub(crate) no_script: bool,

    /// Read the task file in this format, whatever its name says
    /// [default: `toml` for `.toml`, `json` for `.json`, else `lines`].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub(crate) file_format: Option<FileFormatArg>,
}

/// The formats of task files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum FileFormatArg {
    /// One task a line: `name: command [after:dep]`.
    Lines,
    /// `[[task]]` tables.
    Toml,
    /// The TOML format's structure, in JSON.
    Json,
}

impl From<FileFormatArg> for FileFormat {
    fn from(format: FileFormatArg) -> FileFormat {
        match format {
            FileFormatArg::Lines => FileFormat::Lines,
            FileFormatArg::Toml => FileFormat::Toml,
            FileFormatArg::Json => FileFormat::Json,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,

    /// Run only these tasks and the tasks they depend on, as `--task` does.
    /// A first argument that is a task name and not a file is a task (the
    /// task file is then the default one).
    #[arg(value_name = "TASK")]
    pub(crate) names: Vec<String>,

    /// Run only the tasks this names and the tasks they depend on: a name,
    /// or a glob such as `test_*` (repeatable).
    #[arg(long = "task", short = 't', value_name = "NAME")]
    pub(crate) tasks: Vec<String>,

    /// Leave out the tasks this names (a name or a glob; repeatable), and
    /// those that only they needed; a task that waits for one runs without
    /// it.
    #[arg(long, value_name = "GLOB")]
    pub(crate) exclude: Vec<String>,

    /// Print the order tasks would start in, and run nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// With --dry-run: print the plan as JSON, as `check --json` does.
    #[arg(long, requires = "dry_run")]
    pub(crate) json: bool,

    /// After the run, wait for a change to a declared input, the task file
    /// or its script, and run again (each pass a recorded run; up-to-date
    /// tasks are restored from the cache); Ctrl-C stops.
    #[arg(long, conflicts_with = "dry_run")]
    pub(crate) watch: bool,

    #[command(flatten)]
    pub(crate) exec: ExecArgs,
}

/// How tasks are run and where the results go: shared by `run` and
/// `retry`.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// Run at most N tasks at once [default: the number of CPUs].
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs, allow_negative_numbers = true)]
    pub(crate) jobs: Option<usize>,

    /// Stop a task that runs longer than this: seconds (fractions allowed)
    /// or a duration such as `500ms`, `90s`, `5m`; `0` for no limit.
    #[arg(long, value_name = "S", value_parser = parse_duration, default_value = "60", allow_negative_numbers = true)]
    pub(crate) timeout: Duration,

    /// The wait before the first retry of a task with `[retries:N]`; it
    /// doubles for each further retry (up to a minute), with jitter.
    #[arg(long, value_name = "S", value_parser = parse_duration, default_value = "1s", allow_negative_numbers = true)]
    pub(crate) retry_delay: Duration,

    /// Keep at most this many bytes of each task's stdout and stderr (the
    /// rest is counted): a number of bytes or e.g. `64K`, `1M`.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "1M", allow_negative_numbers = true)]
    pub(crate) max_output: u64,

    /// Print only the final summary.
    #[arg(long, short = 'q')]
    pub(crate) quiet: bool,

    /// Which ready task starts first: `critical-path` (the longest chain
    /// of work, estimated from the history of earlier runs) or `file`
    /// (the one ready first, then the one declared first).
    #[arg(long, value_enum, default_value_t = OrderArg::CriticalPath)]
    pub(crate) order: OrderArg,

    /// Stop starting tasks after the first failure (a timeout is one):
    /// the running ones finish, cleanup tasks (`[after_done:…]`) still
    /// run, the others are skipped. The default keeps going.
    #[arg(long, conflicts_with = "max_fail")]
    pub(crate) fail_fast: bool,

    /// Stop starting tasks after N failures, as --fail-fast does after one.
    #[arg(long, value_name = "N", value_parser = parse_jobs, allow_negative_numbers = true)]
    pub(crate) max_fail: Option<usize>,

    /// Where tasks run: `local` (processes on this machine) or `slurm`
    /// (one `srun` job step per task on a Slurm cluster).
    /// [default: the script's `executor(...)`, else local]
    #[arg(long, value_enum)]
    pub(crate) executor: Option<ExecutorKind>,

    /// The Slurm partition for the tasks (with `--executor slurm`).
    #[arg(long, value_name = "NAME")]
    pub(crate) partition: Option<String>,

    /// An argument for every `srun` (with `--executor slurm`), passed
    /// through as it is; repeat for more, e.g. `--slurm-arg=--account=lab`.
    #[arg(long = "slurm-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub(crate) slurm_args: Vec<String>,

    /// How tasks go to Slurm (with `--executor slurm`): `jobs` (each task
    /// a job of its own) or `steps` (one allocation for the run, sized
    /// from --jobs and the largest task; each task a job step inside it).
    /// With `steps`, --slurm-arg goes to the allocation.
    /// [default: the script's `executor("slurm", #{ mode })`, else jobs]
    #[arg(long, value_enum, value_name = "MODE")]
    pub(crate) slurm_mode: Option<SlurmModeArg>,

    /// With --slurm-mode steps: how long to wait for Slurm to grant the
    /// allocation before giving up (nothing runs then), e.g. `30s`, `10m`;
    /// `0` for no limit. [default: as long as Slurm takes]
    #[arg(long, value_name = "S", value_parser = parse_duration)]
    pub(crate) slurm_wait: Option<Duration>,

    /// With --slurm-mode steps: the allocation's time limit, kept this far
    /// ahead while the run is alive, so that an allocation left by a killed
    /// taskrun ends within it, e.g. `30m`, `2h`, in whole minutes (`0`:
    /// the default). [default: the longest the run can take by its tasks'
    /// timeouts, else an hour]
    #[arg(long, value_name = "S", value_parser = parse_duration)]
    pub(crate) slurm_time: Option<Duration>,

    /// What to show of the tasks' output: `summary` (the last lines of a
    /// failed task), `stream` (every line live, prefixed with the task's
    /// name), `grouped` (each task's output whole when it ends).
    #[arg(long, value_enum, default_value_t = OutputArg::Summary)]
    pub(crate) output: OutputArg,

    /// Also write the run's events as JSON lines to FILE (`-`: standard
    /// output, and progress goes to standard error).
    #[arg(long, value_name = "FILE")]
    pub(crate) events: Option<PathBuf>,

    /// Write a log file per task (its whole output, exit and timings) and
    /// one for the run into DIR.
    #[arg(long, value_name = "DIR")]
    pub(crate) log_dir: Option<PathBuf>,

    /// Write a JUnit XML report of the run to FILE when it ends.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,

    /// Write the run as a Chrome trace (Perfetto, `chrome://tracing`) to
    /// FILE when it ends.
    #[arg(long, value_name = "FILE")]
    pub(crate) trace: Option<PathBuf>,

    /// Write the run as a self-contained HTML page (a timeline, the
    /// critical path, the failures) to FILE when it ends.
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) cache: CacheArgs,

    #[command(flatten)]
    pub(crate) db: DbArg,
}

/// How tasks that declare `[inputs:]` or `[outputs:]` use the cache.
#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
    /// Run every task, even those that are up to date; passes are still
    /// stored.
    #[arg(long, conflicts_with = "no_cache")]
    pub(crate) force: bool,

    /// Neither restore nor store anything: every task runs, as if none
    /// declared inputs or outputs.
    #[arg(long)]
    pub(crate) no_cache: bool,

    /// Say, for each task that declares inputs or outputs, why it ran or
    /// was restored: what changed since its last stored pass.
    #[arg(long)]
    pub(crate) explain: bool,

    /// The store of cached outputs [default: `.taskrun/` beside the
    /// history database].
    #[arg(long, value_name = "DIR")]
    pub(crate) store: Option<PathBuf>,

    /// Store a pass only if its outputs and captured output take at most
    /// this many bytes, e.g. `512M`, `1G`.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "1G")]
    pub(crate) cache_max_output: u64,

    /// A salt for every cache key: changing it disowns every stored pass.
    #[arg(long, value_name = "TEXT", env = "TASKRUN_CACHE_SALT")]
    pub(crate) cache_salt: Option<String>,
}

/// The history database.
#[derive(Debug, Args)]
pub(crate) struct DbArg {
    /// The history database [default: `$TASKRUN_DB` if set and not
    /// empty, else `taskrun.db`].
    #[arg(
        long = "db",
        value_name = "PATH",
        default_value_os_t = default_db(),
        hide_default_value = true
    )]
    pub(crate) path: PathBuf,
}

/// `$TASKRUN_DB`, unless it is unset or empty (an empty path names no
/// file: it means unset, as `NO_COLOR=` does), else `taskrun.db`.
fn default_db() -> PathBuf {
    std::env::var_os("TASKRUN_DB")
        .filter(|value| !value.is_empty())
        .map_or_else(|| PathBuf::from("taskrun.db"), PathBuf::from)
}

#[derive(Debug, Args)]
pub(crate) struct RetryArgs {
    /// The run to retry: its number, `last`, or `last~N` (the Nth before
    /// the last).
    #[arg(value_name = "RUN", value_parser = parse_run)]
    pub(crate) run: RunRef,

    /// Decide which tasks to retry with the `should_retry` of this Rhai
    /// script, instead of the run's own script's.
    #[arg(long, value_name = "FILE.rhai")]
    pub(crate) policy: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) exec: ExecArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    #[command(flatten)]
    pub(crate) which: PruneWhich,

    /// List the runs that would be deleted, and delete nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Then rewrite the database file so that it gives the freed space
    /// back to the file system (SQLite's VACUUM).
    #[arg(long)]
    pub(crate) vacuum: bool,

    #[command(flatten)]
    pub(crate) db: DbArg,
}

#[derive(Debug, Args)]
pub(crate) struct GcArgs {
    /// Keep the cache entries that the N newest runs stored or restored
    /// from.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub(crate) keep_runs: usize,

    /// Keep the cache entries stored or restored from within AGE, e.g.
    /// `30d`, `12h`, `0s`.
    #[arg(long, value_name = "AGE", value_parser = parse_duration, default_value = "30d")]
    pub(crate) max_age: Duration,

    /// Then drop the least recently used entries until the store holds at
    /// most SIZE, e.g. `10G`, `500M` (what the last run used stays).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) max_size: Option<u64>,

    /// Say what would be removed, and remove nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Print JSON for scripts.
    #[arg(long)]
    pub(crate) json: bool,

    /// The store of cached outputs [default: `.taskrun/` beside the
    /// history database].
    #[arg(long, value_name = "DIR")]
    pub(crate) store: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) db: DbArg,
}

/// Which runs `prune` deletes: one rule or the other, never both.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct PruneWhich {
    /// Keep the N newest runs and delete the older ones.
    #[arg(long, value_name = "N")]
    pub(crate) keep: Option<usize>,

    /// Delete the runs that started longer ago than AGE, e.g. `30d`,
    /// `2w`, `12h`, `90m`.
    #[arg(long, value_name = "AGE", value_parser = parse_duration)]
    pub(crate) older_than: Option<Duration>,
}

/// A run named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunRef {
    Latest,
    Id(i64),
    /// `last~N`: the Nth run before the latest.
    Back(u32),
}

fn parse_run(text: &str) -> Result<RunRef, String> {
    let text = text.trim();
    if text == "last" {
        return Ok(RunRef::Latest);
    }
    if let Some(back) = text.strip_prefix("last~") {
        return match back.parse::<u32>() {
            Ok(0) => Ok(RunRef::Latest),
            Ok(back) => Ok(RunRef::Back(back)),
            Err(_) => Err(format!(
                "`{text}` is not a run; write e.g. `42`, `last` or `last~1` (the run before the last)"
            )),
        };
    }
    match text.trim_start_matches('#').parse::<i64>() {
        Ok(id) if id > 0 => Ok(RunRef::Id(id)),
        _ => Err(format!(
            "`{text}` is not a run number; write e.g. `42`, `last` or `last~1`"
        )),
    }
}

fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(jobs) => Ok(jobs),
        Err(_) => Err(format!("`{text}` is not a whole number")),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl From<ColorChoice> for report::ColorChoice {
    fn from(choice: ColorChoice) -> report::ColorChoice {
        match choice {
            ColorChoice::Auto => report::ColorChoice::Auto,
            ColorChoice::Always => report::ColorChoice::Always,
            ColorChoice::Never => report::ColorChoice::Never,
        }
    }
}

/// `--slurm-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SlurmModeArg {
    /// Each task is a Slurm job of its own.
    Jobs,
    /// One allocation for the run; each task is a job step inside it.
    Steps,
}

impl From<SlurmModeArg> for SlurmMode {
    fn from(mode: SlurmModeArg) -> SlurmMode {
        match mode {
            SlurmModeArg::Jobs => SlurmMode::Jobs,
            SlurmModeArg::Steps => SlurmMode::Steps,
        }
    }
}

/// `--order`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OrderArg {
    /// The longest chain of estimated work first.
    CriticalPath,
    /// The task that became ready first starts first.
    File,
}

impl From<OrderArg> for Order {
    fn from(order: OrderArg) -> Order {
        match order {
            OrderArg::CriticalPath => Order::CriticalPath,
            OrderArg::File => Order::File,
        }
    }
}

/// What to show of the tasks' output (`--output`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputArg {
    /// Only the progress lines, with the last lines of a failed task's
    /// output under it.
    Summary,
    /// Every line as it is printed, prefixed with the task's name: its
    /// stdout on stdout, its stderr on stderr.
    Stream,
    /// Each task's output whole, when it ends, the same way.
    Grouped,
}

impl From<OutputArg> for Output {
    fn from(output: OutputArg) -> Output {
        match output {
            OutputArg::Summary => Output::Summary,
            OutputArg::Stream => Output::Stream,
            OutputArg::Grouped => Output::Grouped,
        }
    }
}

impl SourceArgs {
    /// What to load: the task file named, else the default one of the
    /// current directory. For `run`, `tasks` is where a first argument
    /// goes that is a valid task name and not an existing file (`taskrun
    /// run lint`); a directory is never a task file.
    pub(crate) fn load_options(
        &self,
        tasks: Option<&mut Vec<String>>,
    ) -> Result<LoadOptions, Error> {
        let here = Path::new(".");
        let file = match (&self.file, tasks) {
            (None, _) => load::default_file(here)?,
            (Some(file), _) if file.as_os_str() == load::STDIN || file.is_file() => file.clone(),
            (Some(file), Some(tasks)) if file.to_str().is_some_and(is_valid_name) => {
                tasks.insert(0, file.to_string_lossy().into_owned());
                load::default_file(here)?
            }
            (Some(file), _) if file.is_dir() => {
                return Err(Error::TaskFileIsDirectory { path: file.clone() });
            }
            // Reading it says what is wrong with it.
            (Some(file), _) => file.clone(),
        };
        Ok(LoadOptions {
            file,
            script: match (&self.script, self.no_script) {
                (_, true) => ScriptChoice::Without,
                (Some(script), false) => ScriptChoice::Given(script.clone()),
                (None, false) => ScriptChoice::Beside,
            },
            format: self.file_format.map(FileFormat::from),
        })
    }
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// The newest N runs [default: 100, unless --since is given].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) last: Option<u64>,

    /// The runs that started within AGE, e.g. `7d`, `12h`.
    #[arg(long, value_name = "AGE", value_parser = parse_duration)]
    pub(crate) since: Option<Duration>,

    /// Only the tasks this name or glob (`test_*`) matches; may be given
    /// more than once.
    #[arg(long, short = 't', value_name = "GLOB")]
    pub(crate) task: Vec<String>,

    /// Only the flaky tasks: those that failed and then passed on a retry
    /// within a run, or whose result flipped twice or more over the runs
    /// while running the same command.
    #[arg(long)]
    pub(crate) flaky: bool,

    /// The order of the rows.
    #[arg(long, value_enum, default_value_t = StatsSort::Name)]
    pub(crate) sort: StatsSort,

    /// Print JSON for scripts (the same as `--format json`).
    #[arg(long, conflicts_with = "format")]
    pub(crate) json: bool,

    /// The output format.
    #[arg(long, value_enum, default_value_t = StatsFormat::Text)]
    pub(crate) format: StatsFormat,

    #[command(flatten)]
    pub(crate) db: DbArg,
}

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// What to look for: the words of a phrase, in order, whatever their
    /// case, accents and the punctuation between them (`error[E0308]`,
    /// `can't connect`); with --raw, an FTS5 query.
    #[arg(value_name = "QUERY")]
    pub(crate) query: String,

    /// Only the tasks this name or glob (`test_*`) matches; may be given
    /// more than once.
    #[arg(long, short = 't', value_name = "GLOB")]
    pub(crate) task: Vec<String>,

    /// Only this stream of each task.
    #[arg(long, value_enum, value_name = "STREAM")]
    pub(crate) stream: Option<StreamArg>,

    /// Only the newest N runs.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..),
          conflicts_with = "since")]
    pub(crate) last: Option<u64>,

    /// Only the runs that started within AGE, e.g. `7d`, `12h`.
    #[arg(long, value_name = "AGE", value_parser = parse_duration)]
    pub(crate) since: Option<Duration>,

    /// Show at most N tasks (the newest).
    #[arg(long, short = 'n', value_name = "N", default_value_t = 20,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) limit: u64,

    /// Pass QUERY to FTS5 as it is: `AND`, `OR`, `NOT`, `NEAR(…)`,
    /// `prefix*`, `"phrases"`.
    #[arg(long)]
    pub(crate) raw: bool,

    /// Print JSON for scripts.
    #[arg(long)]
    pub(crate) json: bool,

    #[command(flatten)]
    pub(crate) db: DbArg,
}

/// The streams `search --stream` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum StreamArg {
    /// Standard output.
    Out,
    /// Standard error.
    Err,
}

/// The orders of `stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatsSort {
    /// By name.
    Name,
    /// The slowest first (95th percentile of the passed attempts).
    P95,
    /// The most often failed or timed out first.
    Fail,
    /// The flakiest first.
    Flaky,
}

/// The formats of `stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatsFormat {
    /// A table.
    Text,
    /// JSON.
    Json,
    /// The `OpenMetrics` text format, for a Prometheus textfile collector.
    Openmetrics,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    /// Graphviz DOT: `taskrun graph tasks.txt | dot -Tsvg > graph.svg`.
    Dot,
    /// A Mermaid flowchart, for Markdown pages.
    Mermaid,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn definition_is_consistent() {
        Arguments::command().debug_assert();
    }

    #[test]
    fn run_references() {
        assert_eq!(parse_run("42"), Ok(RunRef::Id(42)));
        assert_eq!(parse_run("#42"), Ok(RunRef::Id(42)));
        assert_eq!(parse_run("last"), Ok(RunRef::Latest));
        assert_eq!(parse_run("last~0"), Ok(RunRef::Latest));
        assert_eq!(parse_run("last~2"), Ok(RunRef::Back(2)));
        assert!(parse_run("last~x").is_err());
        assert!(parse_run("0").is_err());
        assert!(parse_run("x").is_err());
    }

    #[test]
    fn jobs_must_be_positive() {
        assert_eq!(parse_jobs("4"), Ok(4));
        assert!(parse_jobs("0").is_err());
        assert!(parse_jobs("-1").is_err());
        assert!(parse_jobs("x").is_err());
    }
}
