//! `taskrun run FILE`, and the run of a plan that `run` and `retry`
//! share: the history opened first, the reports' files opened before
//! anything is recorded, the sinks, and the exit status the run earns.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::cache::executor::{CacheOptions, CacheSetup, NoEntries};
use crate::cache::gc::StoreLock;
use crate::cache::passing::{Earlier, OUT_DIR};
use crate::cache::predict::{Prediction, predict};
use crate::cache::stat::StatCache;
use crate::cli::{ExecArgs, ExecutorKind, RunArgs};
use crate::error::{Error, did_you_mean};
use crate::event::{Signal, Summary};
use crate::execute::{self, Notice, Notify, Slurm, SlurmMode, SlurmOptions};
use crate::exit_code;
use crate::graph::Plan;
use crate::load::{self, FileFormat};
use crate::order::{Estimates, Order};
use crate::record::ProcessId;
use crate::record::{CacheReader, NewRun, Recall, Recorder, Store};
use crate::report::{
    self, ColorChoice, Eta, EventLog, Logs, Output, Progress, ProgressOptions, ReportFile, Screen,
    Style, Written,
};
use crate::runner::{OutputPassing, Runner};
use crate::schedule::JobBase;
use crate::script::Script;
use crate::signal;
use crate::sink::{Sink, SinkProblem};
use crate::source::Sources;
use crate::task::{P95_SAMPLES, Timeout};

use super::show::{html_report, junit_report, trace_report};
use super::{print_out, stderr_style};

/// The name the recorder has among the sinks.
const RECORDER: &str = "record";

/// `taskrun run FILE`; with `--watch`, again after each change (see
/// [`super::watch`]).
pub(crate) fn run(args: &RunArgs, color: ColorChoice, sources: &mut Sources) -> Result<u8, Error> {
    if args.watch {
        return super::watch::watch(args, color, sources);
    }
    run_once(args, color, sources, &mut |_, _, _| {})
}

/// One `taskrun run FILE`. `on_loaded` is shown the selected plan, the
/// directory its tasks run in and the script's path, once the task file
/// has loaded and before anything runs.
pub(super) fn run_once(
    args: &RunArgs,
    color: ColorChoice,
    sources: &mut Sources,
    on_loaded: &mut dyn FnMut(&Plan, &Path, Option<&Path>),
) -> Result<u8, Error> {
    let mut names = args.names.clone();
    let options = args.source.load_options(Some(&mut names))?;
    let loaded = load::load(&options, sources)?;
    names.extend(args.tasks.iter().cloned());
    let plan = select(loaded.plan, &names, &args.exclude)?;
    on_loaded(&plan, &loaded.dir, loaded.script_path.as_deref());
    if args.dry_run {
        let estimates = estimates(&args.exec.db.path, &plan, &plan.fingerprints());
        let (jobs, order) = (jobs(&args.exec), Order::from(args.exec.order));
        let script = loaded
            .script_path
            .as_deref()
            .map(|script| absolute(script).display().to_string());
        let predictions = cache_setup(
            &args.exec,
            &plan,
            &args.exec.db.path,
            script.as_deref(),
            true,
        )?
        .map(|setup| {
            let base = JobBase {
                dir: absolute(&loaded.dir),
                timeout: Some(args.exec.timeout).filter(|limit| !limit.is_zero()),
                max_output: usize::try_from(args.exec.max_output).unwrap_or(usize::MAX),
                ..JobBase::default()
            };
            predict(&plan, &setup, &base)
        });
        let text = if args.json {
            let file = options.file.display().to_string();
            let text = report::plan_json(&file, &plan, jobs, &estimates, order);
            match &predictions {
                Some(predictions) => with_predictions_json(&text, &plan, predictions),
                None => text,
            }
        } else {
            let mut text = report::dry_run(&plan, &estimates, jobs, order);
            if let Some(predictions) = &predictions {
                text.push_str(&predictions_text(&plan, predictions));
            }
            text
        };
        print_out(&text)?;
        return Ok(exit_code::SUCCESS);
    }
    let file = &options.file;
    let run = NewRun {
        taskfile: if file.as_os_str() == load::STDIN {
            "(standard input)".to_owned()
        } else {
            absolute(file).display().to_string()
        },
        taskfile_relative: (file.as_os_str() != load::STDIN)
            .then(|| relative_to_start(file))
            .flatten(),
        script: loaded
            .script_path
            .as_deref()
            .map(|script| absolute(script).display().to_string()),
        dir: absolute(&loaded.dir),
        jobs: jobs(&args.exec),
        retry_of: None,
        started_at: SystemTime::now(),
        executor: ExecutorKind::Local.as_str(),
        file_format: loaded.format.map(FileFormat::as_str),
    };
    execute_plan(
        plan,
        loaded.script.as_ref(),
        sources,
        &args.exec,
        color,
        &run,
        None,
    )
}

/// What a retry adds to a run: the line that opens it, and what the
/// dependencies the retried run satisfied left (see
/// [`crate::cache::passing::Earlier`]), by task of the plan.
pub(super) struct Retrying {
    pub(super) header: String,
    pub(super) earlier: Vec<Vec<Earlier>>,
}

/// What the history at `db` says `plan`'s tasks take, for a dry run:
/// one unit each when there is no history or it cannot be read. Nothing
/// is created or written, not even SQLite's `-wal` and `-shm` files.
pub(super) fn estimates(db: &Path, plan: &Plan, fingerprints: &[i64]) -> Estimates {
    match Store::open_untouched(db) {
        Ok(store) => estimates_from(&store, plan, fingerprints),
        Err(_) => Estimates::equal(plan.tasks.len()),
    }
}

/// What the history in `store` says `plan`'s tasks take (one unit each
/// if it cannot be read).
fn estimates_from(store: &Store, plan: &Plan, fingerprints: &[i64]) -> Estimates {
    let tasks: Vec<(&str, i64)> = plan
        .tasks
        .iter()
        .zip(fingerprints)
        .map(|(task, &fingerprint)| (task.name.value.as_str(), fingerprint))
        .collect();
    store.durations(&tasks).map_or_else(
        |_| Estimates::equal(tasks.len()),
        |known| Estimates::new(&known),
    )
}

/// Works out each `[timeout:Nxp95]` of `plan` from the history: N times
/// the p95 of the task's latest passed attempts run as it runs now (with
/// its fingerprint), once it has [`P95_SAMPLES`] of them; before that, and
/// where the history cannot be read, the run's limit applies.
fn resolve_timeouts(store: &Store, plan: &mut Plan, fingerprints: &[i64]) {
    for (task, &fingerprint) in plan.tasks.iter_mut().zip(fingerprints) {
        if let Some(timeout @ Timeout::OfP95 { .. }) = &mut task.settings.timeout {
            let past = store.past(&task.name.value, Some(fingerprint), i64::MAX);
            timeout.resolve(
                past.ok()
                    .filter(|past| past.durations.len() >= P95_SAMPLES)
                    .and_then(|past| past.p95()),
            );
        }
    }
}

/// The history before run `run_id` of the tasks of `plan` (with these
/// fingerprints), for scripts.
fn recall(db: &Path, run_id: i64, plan: &Plan, fingerprints: &[i64]) -> Arc<Recall> {
    let by_name = plan
        .tasks
        .iter()
        .zip(fingerprints)
        .map(|(task, &fingerprint)| (task.name.value.clone(), fingerprint))
        .collect();
    Arc::new(Recall::new(db.to_owned(), run_id, by_name))
}

/// `path` made absolute, as the history keeps paths (as given, if that
/// cannot be done).
pub(super) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// The task file relative to the directory taskrun started in, as the
/// JUnit report names it (`examples/reports.txt`): the same on every
/// machine and in every checkout, where the absolute path is not. `None`
/// if the working directory cannot be known.
fn relative_to_start(file: &Path) -> Option<String> {
    let start = std::env::current_dir().ok()?;
    let lexical = relative_path(&absolute(file), &start);
    // An absolute path through a symbolic link (the working directory is
    // always the real one) is found again by its real path.
    let path = if lexical.starts_with("..") && file.is_absolute() {
        std::fs::canonicalize(file)
            .ok()
            .map_or(lexical.clone(), |real| relative_path(&real, &start))
    } else {
        lexical
    };
    Some(path.to_string_lossy().into_owned())
}

/// `path` relative to `base`, both absolute, worked out from their names
/// alone: `.` left out, `name/..` taken back, and `..` for each part of
/// `base` that `path` does not share.
fn relative_path(path: &Path, base: &Path) -> PathBuf {
    use std::path::Component;
    fn normal(path: &Path) -> Vec<Component<'_>> {
        let mut parts: Vec<Component<'_>> = Vec::new();
        for part in path.components() {
            match part {
                Component::CurDir => {}
                Component::ParentDir if matches!(parts.last(), Some(Component::Normal(_))) => {
                    parts.pop();
                }
                // `/..` is `/`.
                Component::ParentDir if matches!(parts.last(), Some(Component::RootDir)) => {}
                other => parts.push(other),
            }
        }
        parts
    }
    let (path, base) = (normal(path), normal(base));
    let shared = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut relative: PathBuf = base[shared..]
        .iter()
        .map(|_| Component::ParentDir)
        .collect();
    relative.extend(&path[shared..]);
    relative
}

/// How many tasks run at once: `--jobs`, or the number of CPUs.
pub(super) fn jobs(exec: &ExecArgs) -> usize {
    exec.jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Narrows the plan to the tasks `names` selects (names or globs; all
/// tasks when there are none) and their dependencies, without those
/// `exclude` selects. A name or glob that selects nothing is an error that
/// names what is close.
fn select(plan: Plan, names: &[String], exclude: &[String]) -> Result<Plan, Error> {
    if names.is_empty() && exclude.is_empty() {
        return Ok(plan);
    }
    let ids = |patterns: &[String]| -> Result<Vec<usize>, Error> {
        let mut ids = Vec::new();
        for pattern in patterns {
            let matching = plan.matching(pattern);
            if matching.is_empty() {
                return Err(unknown_task(&plan, pattern));
            }
            ids.extend(matching);
        }
        Ok(ids)
    };
    let roots = if names.is_empty() {
        (0..plan.tasks.len()).collect()
    } else {
        ids(names)?
    };
    let mut excluded = vec![false; plan.tasks.len()];
    for id in ids(exclude)? {
        excluded[id] = true;
    }
    let plan = plan.select(&roots, &excluded);
    if plan.tasks.is_empty() {
        return Err(Error::NothingSelected {
            help: "--exclude leaves out every task selected".to_owned(),
        });
    }
    Ok(plan)
}

/// `pattern` names no task of `plan`: what is close, or what there is.
fn unknown_task(plan: &Plan, pattern: &str) -> Error {
    let defined: Vec<&str> = plan
        .tasks
        .iter()
        .map(|task| task.name.value.as_str())
        .collect();
    let help = match did_you_mean(pattern, defined.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None if defined.len() <= 10 => format!("the tasks are {}", defined.join(", ")),
        None => "`taskrun list` lists every task".to_owned(),
    };
    Error::UnknownTask {
        name: pattern.to_owned(),
        help,
    }
}

/// The runner for the run: where its tasks go is the command line's
/// choice, else the script's (`executor("slurm")`), else this machine.
/// The options of a Slurm mode the run does not use are refused.
fn runner_for(exec: &ExecArgs, script: Option<&Arc<Script>>) -> Result<Runner, Error> {
    let runner = Runner::new()
        .order(exec.order.into())
        .jobs(jobs(exec))
        .max_output(usize::try_from(exec.max_output).unwrap_or(usize::MAX))
        .retry_delay(exec.retry_delay)
        .timeout(exec.timeout);
    let runner = match (exec.fail_fast, exec.max_fail) {
        (true, _) => runner.max_failures(1),
        (false, Some(failures)) => runner.max_failures(failures),
        (false, None) => runner,
    };
    let chosen =
        exec.executor.or_else(
            || match script.and_then(|script| script.executor.as_deref()) {
                Some("slurm") => Some(ExecutorKind::Slurm),
                _ => None,
            },
        );
    let allocation_flags = [
        (exec.slurm_wait.is_some(), "--slurm-wait"),
        (exec.slurm_time.is_some(), "--slurm-time"),
    ];
    let slurm = match chosen {
        Some(ExecutorKind::Slurm) => SlurmOptions {
            partition: exec
                .partition
                .clone()
                .or_else(|| script.and_then(|script| script.partition.clone())),
            args: exec.slurm_args.clone(),
            mode: exec.slurm_mode.map_or_else(
                || {
                    script
                        .and_then(|script| script.slurm_mode)
                        .unwrap_or_default()
                },
                Into::into,
            ),
            wait: exec.slurm_wait.filter(|wait| !wait.is_zero()),
            time: exec.slurm_time.filter(|time| !time.is_zero()),
        },
        Some(ExecutorKind::Local) | None => {
            let mode = (exec.slurm_mode.is_some(), "--slurm-mode");
            return match first_given(&[mode, allocation_flags[0], allocation_flags[1]]) {
                Some(flag) => Err(Error::SlurmOption {
                    flag,
                    why: "is for runs on Slurm",
                    help: "add --executor slurm, or leave it out",
                }),
                None => Ok(runner),
            };
        }
    };
    if slurm.mode == SlurmMode::Jobs
        && let Some(flag) = first_given(&allocation_flags)
    {
        return Err(Error::SlurmOption {
            flag,
            why: "is for the allocation of --slurm-mode steps",
            help: "add --slurm-mode steps, or leave it out: with --slurm-mode jobs, each task \
                   waits in Slurm's queue as a job of its own",
        });
    }
    Ok(runner.slurm(slurm))
}

/// The first of `flags` that was given.
fn first_given(flags: &[(bool, &'static str)]) -> Option<&'static str> {
    flags
        .iter()
        .find_map(|&(given, flag)| given.then_some(flag))
}

/// Slurm allocations of runs on `db` are named `PREFIX<host>-<pid>-<start>`
/// after the taskrun process that holds them.
fn holder_prefix(db: &Path) -> String {
    use sha2::{Digest, Sha256};
    let dir = db
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let place = std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_owned())
        .join(db.file_name().unwrap_or_default());
    let digest = Sha256::digest(place.as_os_str().as_encoded_bytes());
    let mut name = "taskrun-hold-".to_owned();
    for byte in &digest[..6] {
        let _ = std::fmt::Write::write_fmt(&mut name, format_args!("{byte:02x}"));
    }
    name.push('-');
    name
}

/// The signal listener and what it catches.
type Caught = (signal::Listener, crossbeam::channel::Receiver<Signal>);

/// `runner`, holding its Slurm allocation if it runs in one, named
/// `holder…` after this process, its notices shown on the progress
/// display's stream. Signals are caught from before the request then (and
/// returned), so that an interrupt cancels the request, and one that
/// comes once it is granted interrupts the run, which gives it back.
fn allocated(
    runner: Runner,
    plan: &Plan,
    holder: &str,
    on_stderr: bool,
) -> Result<(Runner, Option<Caught>), Error> {
    let steps = runner
        .slurm_options()
        .is_some_and(|options| options.mode == SlurmMode::Steps);
    if !steps {
        return Ok((runner, None));
    }
    let (listener, signals) = signal::Listener::start().map_err(Error::Start)?;
    let me = ProcessId::current();
    let name = format!("{holder}{}-{}-{}", me.host, me.pid, me.started);
    let notices = SlurmNotices::new(on_stderr);
    let runner = runner
        .interrupted_by(signals.clone())
        .allocated(plan, &name, &notices.notify())
        .inspect_err(|_| notices.end_line())?;
    Ok((runner, Some((listener, signals))))
}

/// Cancels the allocations named `prefix…` whose taskrun process is gone
/// (killed before it could release them), saying so once each.
fn release_stale_allocations(prefix: &str) {
    for (id, name) in execute::held(prefix) {
        let mut parts = name[prefix.len()..].rsplitn(3, '-');
        let (Some(started), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (Ok(started), Ok(pid)) = (started.parse(), pid.parse()) else {
            continue;
        };
        let holder = ProcessId {
            host: host.to_owned(),
            pid,
            started,
        };
        if !holder.alive() {
            match execute::cancel_job(&id) {
                Ok(()) => eprintln!(
                    "taskrun: released Slurm allocation {id}, left by taskrun process {pid} on \
                     {host}, which is no longer running"
                ),
                Err(why) => eprintln!(
                    "taskrun: warning: could not release Slurm allocation {id}, left by taskrun \
                     process {pid} on {host} ({why}): `scancel {id}` does"
                ),
            }
        }
    }
}

/// Shows what the Slurm allocation says while the run waits for it and
/// holds it: on the progress display's stream, a wait as a line that the
/// next one replaces on a terminal; warnings on standard error.
struct SlurmNotices {
    on_stderr: bool,
    terminal: bool,
    /// A line that the next one replaces is showing.
    transient: std::sync::atomic::AtomicBool,
}

impl SlurmNotices {
    fn new(on_stderr: bool) -> Arc<SlurmNotices> {
        Arc::new(SlurmNotices {
            on_stderr,
            terminal: if on_stderr {
                std::io::stderr().is_terminal()
            } else {
                std::io::stdout().is_terminal()
            },
            transient: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Where the allocation's notices go.
    fn notify(self: &Arc<Self>) -> Notify {
        let notices = Arc::clone(self);
        Arc::new(move |notice| notices.show(notice))
    }

    fn show(&self, notice: Notice) {
        use std::sync::atomic::Ordering;
        let (text, transient) = match notice {
            Notice::Waiting(text) => (text, self.terminal),
            Notice::Granted(text) => (text, false),
            Notice::Warning(text) => {
                eprintln!("taskrun: warning: {text}");
                return;
            }
        };
        let clear = if self.terminal { "\r\x1b[2K" } else { "" };
        let end = if transient { "" } else { "\n" };
        self.transient.store(transient, Ordering::Relaxed);
        self.write(&format!("{clear}{text}{end}"));
    }

    /// Ends a line that was to be replaced, before an error is shown.
    fn end_line(&self) {
        if self
            .transient
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            self.write("\n");
        }
    }

    fn write(&self, text: &str) {
        let _ = if self.on_stderr {
            std::io::stderr().write_all(text.as_bytes())
        } else {
            let mut out = std::io::stdout();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        };
    }
}

/// The files a run writes besides the database, opened before it starts
/// so that a path that cannot be written stops it before anything runs.
struct Outputs {
    events: Option<Box<dyn Write + Send>>,
    /// The reports made from the recorded run once it is over.
    made: Vec<MadeReport>,
    logs: Option<Logs>,
}

/// A report made from the recorded run (`--junit`, `--trace`, `--html`),
/// its file open.
struct MadeReport {
    name: &'static str,
    path: PathBuf,
    file: std::fs::File,
    make: MakeReport,
}

/// Makes the report of a run (by id) from the database (at a path).
type MakeReport = fn(&Path, i64) -> Result<String, Error>;

impl MadeReport {
    /// The sink that writes the report of run `run_id`, recorded in `db`,
    /// once the run is over.
    fn sink(self, db: &Path, run_id: i64) -> Box<dyn Sink> {
        let MadeReport {
            path, file, make, ..
        } = self;
        let db = db.to_owned();
        let report = Box::new(move || make(&db, run_id));
        Box::new(ReportFile::new(path, file, report))
    }
}

impl Outputs {
    fn open(exec: &ExecArgs, plan: &Arc<Plan>) -> Result<Outputs, Error> {
        let events: Option<Box<dyn Write + Send>> = match &exec.events {
            Some(path) if path.as_os_str() == "-" => Some(Box::new(std::io::stdout())),
            Some(path) => Some(Box::new(
                std::fs::File::create(path).map_err(cannot_write(path))?,
            )),
            None => None,
        };
        let mut made = Vec::new();
        let reports: [(_, _, MakeReport); 3] = [
            ("junit", &exec.junit, junit_report),
            ("trace", &exec.trace, trace_report),
            ("html", &exec.html, html_report),
        ];
        for (name, path, make) in reports {
            if let Some(path) = path {
                made.push(MadeReport {
                    name,
                    path: path.clone(),
                    file: std::fs::File::create(path).map_err(cannot_write(path))?,
                    make,
                });
            }
        }
        let logs = match &exec.log_dir {
            Some(dir) => Some(Logs::create(dir, Arc::clone(plan)).map_err(cannot_write(dir))?),
            None => None,
        };
        Ok(Outputs { events, made, logs })
    }
}

/// Refuses a report path that is the history database or one of its
/// files (`-wal`, `-shm`): opening it for writing would truncate it.
fn refuse_database(exec: &ExecArgs, plan: &Plan, db: &Path) -> Result<(), Error> {
    let mut reports: Vec<(PathBuf, &str)> = Vec::new();
    if let Some(path) = exec.events.as_ref().filter(|path| path.as_os_str() != "-") {
        reports.push((path.clone(), "the events"));
    }
    for (path, what) in [
        (&exec.junit, "the JUnit report"),
        (&exec.trace, "the trace"),
        (&exec.html, "the HTML report"),
    ] {
        if let Some(path) = path {
            reports.push((path.clone(), what));
        }
    }
    if let Some(dir) = &exec.log_dir {
        // Each log, and the names it is rotated to.
        let keep = crate::report::logs::LogConfig::default().keep;
        let mut logs = |log: PathBuf, what| {
            for n in 1..=keep {
                let mut rotated = log.as_os_str().to_owned();
                rotated.push(format!(".{n}"));
                reports.push((PathBuf::from(rotated), what));
            }
            reports.push((log, what));
        };
        logs(dir.join("run.log"), "the run's log");
        for task in &plan.tasks {
            logs(
                dir.join("tasks").join(format!("{}.log", task.name.value)),
                "a task's log",
            );
        }
    }
    refuse_overwriting(db, reports)
}

/// Refuses a path in `reports` (with what would be written there) that
/// is the history database at `db` or one of its files, or that two
/// reports share (`-`, standard output, among them).
pub(super) fn refuse_overwriting(db: &Path, reports: Vec<(PathBuf, &str)>) -> Result<(), Error> {
    let mut places = Places::default();
    let mut files = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        files.push(places.of(Path::new(&name)));
    }
    let mut taken: std::collections::HashMap<Place, &str> = std::collections::HashMap::new();
    for (path, what) in reports {
        let place = if path.as_os_str() == "-" {
            Place {
                inode: None,
                name: Some(path.clone()),
            }
        } else {
            places.of(&path)
        };
        if files.iter().any(|file| file.is(&place)) {
            return Err(Error::ReportIsDatabase {
                path,
                what: what.to_owned(),
            });
        }
        // Where a file exists, its inode says which it is; where not, its
        // name in its directory, or, in a directory that does not exist
        // (which writing it will say), the path as given.
        let key = match (place.inode, place.name) {
            (Some(inode), _) => Place {
                inode: Some(inode),
                name: None,
            },
            (None, Some(name)) => Place {
                inode: None,
                name: Some(name),
            },
            (None, None) => Place {
                inode: None,
                name: Some(path.clone()),
            },
        };
        if let Some(other) = taken.insert(key, what) {
            return Err(Error::ReportsShareAPath {
                path,
                what: other.to_owned(),
                other: what.to_owned(),
            });
        }
    }
    Ok(())
}

/// Where a file is: its device and inode, if it exists, and its name in
/// its directory (the directory's real path), if that exists.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Place {
    inode: Option<(u64, u64)>,
    name: Option<PathBuf>,
}

impl Place {
    /// Whether two places are one file: the same inode where both exist,
    /// else the same name in the same directory.
    fn is(&self, other: &Place) -> bool {
        match (self.inode, other.inode) {
            (Some(a), Some(b)) => a == b,
            _ => self.name.is_some() && self.name == other.name,
        }
    }
}

/// Finds places, resolving each directory once (a run may log thousands
/// of tasks into one).
#[derive(Default)]
struct Places {
    dirs: std::collections::HashMap<PathBuf, Option<PathBuf>>,
}

impl Places {
    fn of(&mut self, path: &Path) -> Place {
        use std::os::unix::fs::MetadataExt;
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let real = self
            .dirs
            .entry(dir.to_owned())
            .or_insert_with(|| std::fs::canonicalize(dir).ok());
        Place {
            inode: std::fs::metadata(path)
                .ok()
                .map(|meta| (meta.dev(), meta.ino())),
            name: real
                .as_ref()
                .zip(path.file_name())
                .map(|(real, name)| real.join(name)),
        }
    }
}

fn cannot_write(path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::CannotWrite { path, source }
}

/// Runs `plan`, recording it as `run`, and returns the exit status it
/// earns. Nothing starts unless the run could be recorded first.
pub(super) fn execute_plan(
    mut plan: Plan,
    script: Option<&Arc<Script>>,
    sources: &Sources,
    exec: &ExecArgs,
    color: ColorChoice,
    run: &NewRun,
    retrying: Option<Retrying>,
) -> Result<u8, Error> {
    let runner = runner_for(exec, script)?.passing(OutputPassing::new(exec, retrying.as_ref()));
    let db = &exec.db.path;
    // Slurm is asked whether it can take jobs before anything is recorded,
    // and an allocation a killed taskrun left on this database is given
    // back.
    let holder = holder_prefix(db);
    if let Some(options) = runner.slurm_options() {
        Slurm::check(options).map_err(|why| Error::SlurmUnavailable { why })?;
        release_stale_allocations(&holder);
    }
    let progress_on_stderr = exec
        .events
        .as_ref()
        .is_some_and(|path| path.as_os_str() == "-");
    let fingerprints = plan.fingerprints();
    // One connection reads the estimates and records the run: opening a
    // database and closing it again costs a checkpoint and a new WAL, and
    // their syncs, which was a good part of a short run.
    let mut store = Store::create(db)?;
    // Held until the run's rows are written: a collection waits for it,
    // so it never deletes an object this run wrote and has not recorded.
    let (runner, _store_lock) = with_cache(runner, exec, &plan, db, run.script.as_deref())?;
    let estimates = estimates_from(&store, &plan, &fingerprints);
    resolve_timeouts(&store, &mut plan, &fingerprints);
    let plan = Arc::new(plan);
    let runner = runner.estimates(estimates.clone());
    // Runs whose taskrun was killed are closed now; if that fails (the
    // database is busy), they are still shown as interrupted when read.
    let _ = store.sweep_dead_runs();
    // Outputs that can fail are opened before the run is recorded, and
    // none of them may be the database it is recorded in.
    refuse_database(exec, &plan, db)?;
    let outputs = Outputs::open(exec, &plan)?;
    // With --slurm-mode steps, the run waits here for its allocation;
    // nothing is recorded unless it is granted.
    let (runner, early) = allocated(runner, &plan, &holder, progress_on_stderr)?;
    let run = &NewRun {
        executor: if runner.slurm_options().is_some() {
            ExecutorKind::Slurm.as_str()
        } else {
            ExecutorKind::Local.as_str()
        },
        jobs: runner.jobs_at_once(),
        ..run.clone()
    };
    let ids = store.begin_run(run, &plan, &fingerprints)?;
    let run_id = ids.run;

    // With the events on standard output, progress goes to standard error.
    let eta = Eta {
        priority: crate::order::priorities(&plan, &estimates, Order::from(exec.order)),
        estimates,
    };
    let progress = progress_options(
        exec,
        runner.jobs_at_once(),
        color,
        retrying.map(|it| it.header),
        progress_on_stderr,
        eta,
    );
    let output = progress.output;
    let live_output = progress.live
        || output == Output::Stream
        || outputs.events.is_some()
        || outputs.logs.is_some();

    // The order is the order they finish in: the progress display says
    // how the run ended before anything else, and the JUnit report reads
    // what the recorder wrote.
    let mut sinks: Vec<(&'static str, Box<dyn Sink>)> = Vec::new();
    sinks.push(("report", display(&plan, progress, progress_on_stderr)));
    sinks.push((RECORDER, Box::new(Recorder::new(store, ids))));
    for made in outputs.made {
        sinks.push((made.name, made.sink(db, run_id)));
    }
    if let Some(out) = outputs.events {
        let target = match &exec.events {
            Some(path) if path.as_os_str() != "-" => path.clone(),
            _ => PathBuf::from("standard output"),
        };
        let log = EventLog::new(out, target, Arc::clone(&plan), run_id);
        sinks.push(("events", Box::new(Written::new(log))));
    }
    if let Some(logs) = outputs.logs {
        sinks.push(("logs", Box::new(Written::new(logs.recorded_as(run_id)))));
    }

    let (listener, signals) = match early {
        Some(caught) => caught,
        None => signal::Listener::start().map_err(Error::Start)?,
    };
    // What the history says of each task, read as hooks and the retry
    // policy ask (`task.history`).
    let runner = match script {
        Some(_) => runner.recall(recall(db, run_id, &plan, &fingerprints)),
        None => runner,
    };
    let runner = runner
        .output_events(live_output)
        .interrupted_by(signals)
        .recorded_as(run_id, stderr_style(color));
    let outcome = runner.execute(&plan, script, sources, &run.dir, sinks, &mut |_| {});
    drop(listener);
    let (summary, problems) = outcome?;
    let style = stderr_style(color);
    for SinkProblem { error, .. } in &problems {
        eprint!("{}", report::error(error, sources, style));
    }
    if !problems.iter().any(|problem| problem.sink == RECORDER) {
        let saved = format!("Results saved to: {} (run #{run_id})\n", db.display());
        let _ = if progress_on_stderr {
            std::io::stderr().write_all(saved.as_bytes())
        } else {
            std::io::stdout().write_all(saved.as_bytes())
        };
    }
    let code = exit_status(&summary);
    Ok(if problems.is_empty() {
        code
    } else {
        code.max(exit_code::FAILURE)
    })
}

/// What a dry run expects of the cache, a line a cacheable task.
fn predictions_text(plan: &Plan, predictions: &[Option<Prediction>]) -> String {
    let mut text = String::from("\nCache:\n");
    for (task, prediction) in plan.tasks.iter().zip(predictions) {
        let name = &task.name.value;
        match prediction {
            Some(Prediction::Cached { run }) => {
                let _ = writeln!(text, "  {name}: up to date (from run #{run})");
            }
            Some(Prediction::Runs(why)) => {
                let _ = writeln!(text, "  {name}: would run ({why})");
            }
            None => {}
        }
    }
    text
}

/// The dry run's JSON `text` with what it expects of the cache: a
/// `cache` member, by task name, `{"cached": true, "run": N}` or
/// `{"cached": false, "why": "..."}`.
fn with_predictions_json(text: &str, plan: &Plan, predictions: &[Option<Prediction>]) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.to_owned();
    };
    let mut cache = serde_json::Map::new();
    for (task, prediction) in plan.tasks.iter().zip(predictions) {
        let entry = match prediction {
            Some(Prediction::Cached { run }) => serde_json::json!({"cached": true, "run": run}),
            Some(Prediction::Runs(why)) => serde_json::json!({"cached": false, "why": why}),
            None => continue,
        };
        cache.insert(task.name.value.clone(), entry);
    }
    value["cache"] = serde_json::Value::Object(cache);
    format!("{value}\n")
}

/// The store of cached outputs for the history at `db`: `.taskrun/`
/// beside it.
pub(super) fn store_beside(db: &Path) -> PathBuf {
    absolute(db)
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_owned)
        .join(".taskrun")
}

impl OutputPassing {
    /// Output passing as `exec` asks for it, in the store of its
    /// database; for a retry, with what the dependencies outside its plan
    /// left.
    fn new(exec: &ExecArgs, retrying: Option<&Retrying>) -> OutputPassing {
        let store = store_of(exec, &exec.db.path);
        OutputPassing {
            runs: runs_dir(exec.cache.store.is_some(), &store, &exec.db.path),
            top: if store.exists() {
                store.join(OUT_DIR)
            } else {
                store.clone()
            },
            store,
            max: exec.cache.cache_max_output,
            earlier: retrying.map(|it| it.earlier.clone()).unwrap_or_default(),
        }
    }
}

/// Where the runs recorded in `db` get their `$TASKRUN_OUT` directories,
/// `<run>/<task>` in it: `out/` for `taskrun.db` in its own store
/// (`.taskrun/` beside it); `out/<db name>-<hash of its path>/` for any
/// other database, or in a store named with `--store` (`named`), since
/// other databases may use the same store, so that two histories' run
/// numbers never meet.
pub(super) fn runs_dir(named: bool, store: &Path, db: &Path) -> PathBuf {
    let out = store.join(OUT_DIR);
    if !named && db.file_name().is_some_and(|name| name == "taskrun.db") {
        return out;
    }
    // One database by one name, however it is spelled.
    let db = absolute(db);
    let db = match (db.parent().map(std::fs::canonicalize), db.file_name()) {
        (Some(Ok(parent)), Some(name)) => parent.join(name),
        _ => db,
    };
    let hash = crate::cache::hash::bytes(db.as_os_str().as_encoded_bytes());
    let name = db.file_name().map_or_else(
        || "db".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    out.join(format!("{name}-{}", &hash[..8]))
}

/// The store of the run: `--store DIR`, else `.taskrun/` beside the
/// database `db`.
pub(super) fn store_of(exec: &ExecArgs, db: &Path) -> PathBuf {
    match &exec.cache.store {
        Some(store) => absolute(store),
        None => store_beside(db),
    }
}

/// `runner`, with up-to-date checks when the run has tasks that take part
/// (see [`cache_setup`]), and the store's lock taken shared for the run
/// (see [`StoreLock`]; none where the store cannot be locked or made, and
/// then nothing can be stored either, which each task's record says).
fn with_cache(
    runner: Runner,
    exec: &ExecArgs,
    plan: &Plan,
    db: &Path,
    script: Option<&str>,
) -> Result<(Runner, Option<StoreLock>), Error> {
    Ok(match cache_setup(exec, plan, db, script, false)? {
        Some(setup) => {
            let lock = StoreLock::shared(&setup.options.store).ok().flatten();
            (runner.caching(setup), lock)
        }
        None => (runner, None),
    })
}

/// What the run needs for up-to-date checks: `None` with `--no-cache`,
/// or when no task declares inputs or outputs (such a run does exactly
/// what it did before there was a cache). For a `dry` run, nothing is
/// created or written: without a history, nothing is stored.
fn cache_setup(
    exec: &ExecArgs,
    plan: &Plan,
    db: &Path,
    script: Option<&str>,
    dry: bool,
) -> Result<Option<CacheSetup>, Error> {
    if exec.cache.no_cache
        || !plan
            .tasks
            .iter()
            .any(|task| task.settings.cache.cacheable())
    {
        return Ok(None);
    }
    let db = absolute(db);
    let reader = if dry {
        CacheReader::open_read_only(&db)
    } else {
        Some(CacheReader::open(&db)?)
    };
    let store = store_of(exec, &db);
    let with_suffix = |suffix: &str| {
        let mut path = db.clone().into_os_string();
        path.push(suffix);
        PathBuf::from(path)
    };
    Ok(Some(CacheSetup {
        options: CacheOptions {
            store: store.clone(),
            never: vec![db.clone(), with_suffix("-wal"), with_suffix("-shm"), store],
            salt: exec.cache.cache_salt.clone(),
            force: exec.cache.force,
            max_output: exec.cache.cache_max_output,
            script: script.map(|script| crate::cache::scripts_digest(Path::new(script))),
            explain: exec.cache.explain,
        },
        stats: Arc::new(
            reader
                .as_ref()
                .map_or_else(|| StatCache::new(Vec::new()), CacheReader::stat_cache),
        ),
        entries: match reader {
            Some(reader) => Arc::new(reader),
            None => Arc::new(NoEntries),
        },
    }))
}

/// How the progress display shows the run: `eta` is used on a terminal,
/// when it comes from history.
fn progress_options(
    exec: &ExecArgs,
    jobs: usize,
    color: ColorChoice,
    header: Option<String>,
    on_stderr: bool,
    eta: Eta,
) -> ProgressOptions {
    let terminal = if on_stderr {
        std::io::stderr().is_terminal()
    } else {
        std::io::stdout().is_terminal()
    };
    let screen = match (terminal, on_stderr) {
        (false, _) => Screen::Plain,
        (true, false) => Screen::Terminal(libc::STDOUT_FILENO),
        (true, true) => Screen::Terminal(libc::STDERR_FILENO),
    };
    // A dumb terminal cannot move its cursor back over the live rows; its
    // lines are still fitted to its width.
    let live = terminal && !exec.quiet && !on_stderr && !report::is_dumb();
    ProgressOptions {
        output: Output::from(exec.output),
        quiet: exec.quiet,
        screen,
        live,
        color: Style::detect(color, terminal).color,
        announce_jobs: exec.jobs.map(|_| jobs),
        jobs,
        header,
        timeout: Some(exec.timeout).filter(|timeout| !timeout.is_zero()),
        eta: (live && eta.estimates.from_history).then(|| Arc::new(eta)),
    }
}

/// The progress display, on standard output, or on standard error when
/// the events go to standard output.
fn display(plan: &Arc<Plan>, options: ProgressOptions, on_stderr: bool) -> Box<dyn Sink> {
    let plan = Arc::clone(plan);
    if on_stderr {
        // Not locked for the run: hooks and policies write to stderr too.
        let out = std::io::BufWriter::new(std::io::stderr());
        Box::new(Progress::new(plan, options, out, std::io::stderr()))
    } else {
        let out = std::io::BufWriter::new(std::io::stdout());
        Box::new(Progress::new(plan, options, out, std::io::stderr()))
    }
}

/// The exit status a run earns by its tasks.
fn exit_status(summary: &Summary) -> u8 {
    match summary.interrupted {
        Some(signal) => exit_code::interrupted(signal),
        None if summary.counts.all_passed() => exit_code::SUCCESS,
        None => exit_code::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_files_are_named_relative_to_where_taskrun_started() {
        let relative = |path: &str, base: &str| {
            relative_path(Path::new(path), Path::new(base))
                .display()
                .to_string()
        };
        assert_eq!(
            relative("/p/examples/reports.txt", "/p"),
            "examples/reports.txt"
        );
        assert_eq!(relative("/p/./examples/../tasks.txt", "/p/"), "tasks.txt");
        assert_eq!(relative("/p/tasks.txt", "/p/ci"), "../tasks.txt");
        assert_eq!(relative("/q/tasks.txt", "/p/ci"), "../../q/tasks.txt");
        assert_eq!(relative("/tasks.txt", "/"), "tasks.txt");
        assert_eq!(relative("/../tasks.txt", "/p"), "../tasks.txt");
    }
}
