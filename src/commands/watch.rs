//! `taskrun run --watch`: the run, then again after each change to what
//! it reads.
//!
//! Each pass is a whole `run` ([`super::run::run_once`]), the task file
//! reloaded, so a pass is a recorded run like any other and tasks that are
//! up to date are restored from the cache: "run what is no longer up to
//! date" is running the selection again. Between passes this module waits,
//! with the `notify` crate, for a change to a declared input (each task's
//! `[inputs:]`, relative to its directory), the task file or its script,
//! lets a burst of changes settle, and says what changed.
//!
//! It ignores what the run itself writes: the store (`.taskrun/`), the
//! database and its `-wal`, `-shm` and `-journal` files, and every task's
//! declared outputs. It decides nothing about tasks, never reads the
//! database and never touches a task's files: it only watches and calls
//! the run again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam::channel::{self, Receiver};
use notify::event::{EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::cache::pattern;
use crate::cli::RunArgs;
use crate::error::Error;
use crate::event::Signal;
use crate::exit_code;
use crate::graph::Plan;
use crate::load::{self, ScriptChoice};
use crate::report::{self, ColorChoice};
use crate::signal;
use crate::source::Sources;

use super::run::{absolute, run_once, store_beside};
use super::{print_out, stderr_style};

/// How long the files must stay quiet after a change before the next pass
/// starts, so that a burst (a save that writes and renames, a `git
/// checkout`) makes one pass.
const QUIET: Duration = Duration::from_millis(200);

/// The longest a steady stream of changes can hold back the next pass.
const SETTLE_AT_MOST: Duration = Duration::from_secs(2);

/// How many changed paths the line between passes names.
const NAMED: usize = 3;

/// How a pattern's components match names, as `cache::inputs` expands
/// them: case matters, `*` never crosses a `/`, and a leading dot needs no
/// literal dot.
const OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// `taskrun run --watch`: runs, then runs again after each change, until
/// a signal comes while it waits (exit 0) or during a pass (that pass's
/// exit status). A task file that no longer loads has its diagnostics
/// shown and is waited on; any other error ends the watch.
pub(super) fn watch(
    args: &RunArgs,
    color: ColorChoice,
    sources: &mut Sources,
) -> Result<u8, Error> {
    let target = Target::of(args)?;
    let (_listener, signals) = signal::Listener::start().map_err(Error::Start)?;
    let (sender, events) = channel::unbounded();
    let notifier = notify::recommended_watcher(move |event| {
        // The receiver goes only when the watch ends.
        let _ = sender.send(event);
    })
    .map_err(|error| Error::Start(std::io::Error::other(watch_error(&error))))?;
    let mut watches = Watches::new(notifier);
    let mut now = Watched::before_loading(&target);
    watches.sync(&now);
    let on_stderr = args
        .exec
        .events
        .as_ref()
        .is_some_and(|path| path.as_os_str() == "-");
    let say = |text: &str| -> Result<(), Error> {
        if on_stderr {
            eprint!("{text}");
            Ok(())
        } else {
            print_out(text)
        }
    };
    loop {
        // Each pass reads its task file afresh; what earlier passes read is
        // not needed any more.
        *sources = Sources::new();
        let mut loaded = false;
        let result = run_once(args, color, sources, &mut |plan, dir, script| {
            loaded = true;
            now = Watched::of(&target, plan, dir, script);
            // Watched before the pass runs, so that an edit made while it
            // runs makes the next one.
            watches.sync(&now);
        });
        let interrupted = signals.try_iter().next().is_some();
        let code = match result {
            Ok(code) => code,
            Err(error) if !loaded && !interrupted => {
                eprint!("{}", report::error(&error, sources, stderr_style(color)));
                error.exit_code()
            }
            Err(error) => return Err(error),
        };
        if interrupted {
            return Ok(code);
        }
        say(&watching_line(&now))?;
        match wait(&events, &signals, &now, &mut watches)? {
            Waited::Changed(paths) => say(&changed_line(&paths))?,
            Waited::Stopped => return Ok(exit_code::SUCCESS),
        }
    }
}

/// What watch knows before the task file loads: the task file, where its
/// script is or would be, and what the run writes that is never a change.
struct Target {
    /// The task file, as given (for the line between passes).
    shown: PathBuf,
    /// The task file, absolute.
    file: PathBuf,
    /// The script given with `--script`, or the one a task file with no
    /// script named would pick up (`Taskfile.rhai` beside it, so that
    /// creating one is a change), absolute: watched even while the task
    /// file does not load.
    script: Option<PathBuf>,
    /// The database, its `-wal`, `-shm` and `-journal` files and the
    /// store, absolute: what is at or under these is never a change.
    never: Vec<PathBuf>,
}

impl Target {
    fn of(args: &RunArgs) -> Result<Target, Error> {
        let options = args.source.load_options(Some(&mut args.names.clone()))?;
        if options.file.as_os_str() == load::STDIN {
            return Err(Error::Start(std::io::Error::other(
                "--watch cannot watch a task file read from standard input: name the file \
                 instead of `-`",
            )));
        }
        let file = clean(&options.file);
        let script = match &options.script {
            _ if load::is_script(&options.file) => None,
            ScriptChoice::Beside => file.parent().map(|dir| dir.join("Taskfile.rhai")),
            ScriptChoice::Given(script) => Some(clean(script)),
            ScriptChoice::Without => None,
        };
        let db = clean(&args.exec.db.path);
        let mut never: Vec<PathBuf> = ["", "-wal", "-shm", "-journal"]
            .iter()
            .map(|suffix| {
                let mut name = db.clone().into_os_string();
                name.push(suffix);
                PathBuf::from(name)
            })
            .collect();
        never.push(match &args.exec.cache.store {
            Some(store) => clean(store),
            None => clean(&store_beside(&db)),
        });
        Ok(Target {
            shown: options.file,
            file,
            script,
            never,
        })
    }
}

/// Declared patterns of one task, relative to its directory.
struct Patterns {
    /// The task's directory, absolute.
    base: PathBuf,
    include: Vec<glob::Pattern>,
    exclude: Vec<glob::Pattern>,
    /// The patterns as declared, for counting what they match now.
    written: Vec<String>,
}

impl Patterns {
    fn new(base: &Path, written: &[String]) -> Patterns {
        let (mut include, mut exclude) = (Vec::new(), Vec::new());
        for text in written {
            let (list, body) = match text.strip_prefix('!') {
                Some(body) => (&mut exclude, body),
                None => (&mut include, text.as_str()),
            };
            let body = pattern::normalize(body);
            // `.` is the whole directory. The loader has refused patterns
            // that do not compile.
            let body = if body.is_empty() { "**" } else { body.as_str() };
            if let Ok(compiled) = glob::Pattern::new(body) {
                list.push(compiled);
            }
        }
        Patterns {
            base: base.to_owned(),
            include,
            exclude,
            written: written.to_vec(),
        }
    }

    /// Whether `path` (absolute) is one of the files these patterns name:
    /// it, or a directory it is in, matches an include and no exclude.
    fn names(&self, path: &Path) -> bool {
        let Ok(relative) = path.strip_prefix(&self.base) else {
            return false;
        };
        let any = |patterns: &[glob::Pattern]| {
            relative
                .ancestors()
                .filter(|at| !at.as_os_str().is_empty())
                .any(|at| patterns.iter().any(|p| p.matches_path_with(at, OPTIONS)))
        };
        any(&self.include) && !any(&self.exclude)
    }
}

/// What one pass watches, and what counts as a change.
struct Watched {
    /// Each task's declared inputs (tasks with none left out).
    inputs: Vec<Patterns>,
    /// Each task's declared outputs: the run's own writes.
    outputs: Vec<Patterns>,
    /// At or under these is never a change.
    never: Vec<PathBuf>,
    /// The task file and the script (or where one would be picked up).
    files: Vec<PathBuf>,
    /// The task file and the script as the line between passes names them.
    shown: Vec<String>,
    /// The directories to watch, and whether each is watched with what is
    /// under it; a directory that does not exist yet is watched through
    /// the nearest one that does.
    roots: BTreeMap<PathBuf, bool>,
    /// Whether the task file has loaded: without it, no task is known to
    /// declare anything.
    loaded: bool,
}

impl Watched {
    /// Only the task file and its script: before it has loaded, or while
    /// it does not.
    fn before_loading(target: &Target) -> Watched {
        let mut watched = Watched {
            inputs: Vec::new(),
            outputs: Vec::new(),
            never: target.never.clone(),
            files: Vec::new(),
            shown: vec![target.shown.display().to_string()],
            roots: BTreeMap::new(),
            loaded: false,
        };
        watched.file(&target.file);
        if let Some(script) = &target.script {
            watched.file(script);
        }
        watched
    }

    /// What the pass that loaded `plan` (its tasks running in `dir`, with
    /// the script at `script`) reads.
    fn of(target: &Target, plan: &Plan, dir: &Path, script: Option<&Path>) -> Watched {
        let mut watched = Watched::before_loading(target);
        watched.loaded = true;
        if let Some(shown) = script {
            let script = clean(shown);
            if !watched.files.contains(&script) {
                watched.file(&script);
            }
            watched.shown.push(shown.display().to_string());
        }
        let dir = clean(dir);
        for task in &plan.tasks {
            let base = clean(&dir.join(task.settings.dir.as_deref().unwrap_or(Path::new(""))));
            let declared = |list: &[crate::source::Spanned<String>]| -> Vec<String> {
                list.iter().map(|item| item.value.clone()).collect()
            };
            let inputs = declared(&task.settings.cache.inputs);
            let outputs = declared(&task.settings.cache.outputs);
            for input in inputs.iter().filter(|input| !input.starts_with('!')) {
                for (root, recursive) in roots_of(&base, input) {
                    *watched.roots.entry(root).or_default() |= recursive;
                }
            }
            if !inputs.is_empty() {
                watched.inputs.push(Patterns::new(&base, &inputs));
            }
            if !outputs.is_empty() {
                watched.outputs.push(Patterns::new(&base, &outputs));
            }
        }
        watched
    }

    /// Watches `file`, through its directory.
    fn file(&mut self, file: &Path) {
        self.files.push(file.to_owned());
        if let Some(dir) = file.parent() {
            self.roots.entry(dir.to_owned()).or_default();
        }
    }

    /// Whether `kind` at `path` is a change that calls for another pass.
    fn is_change(&self, kind: EventKind, path: &Path) -> bool {
        if matches!(kind, EventKind::Access(_))
            || self.never.iter().any(|never| path.starts_with(never))
            || self.outputs.iter().any(|outputs| outputs.names(path))
        {
            return false;
        }
        if self.files.iter().any(|file| file == path)
            || self.inputs.iter().any(|inputs| inputs.names(path))
        {
            return true;
        }
        // A directory on the way to inputs appeared or went (or one that
        // holds them was removed or renamed): what is watched changes too.
        self.roots.keys().any(|root| {
            root.starts_with(path)
                && (root != path
                    || matches!(
                        kind,
                        EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
                    ))
        })
    }

    /// How many files the declared inputs name now (outputs of other
    /// tasks, the store and the database left out).
    fn count_inputs(&self) -> usize {
        let mut found = BTreeSet::new();
        for inputs in &self.inputs {
            let Ok(expansion) =
                crate::cache::inputs::expand(&inputs.base, &inputs.written, &self.never)
            else {
                continue;
            };
            for file in expansion.files {
                let path = inputs.base.join(&file.path);
                if !self.outputs.iter().any(|outputs| outputs.names(&path)) {
                    found.insert(path);
                }
            }
        }
        found.len()
    }
}

/// `path` relative to the working directory, if it is under it.
fn shown_path(path: &Path) -> Option<String> {
    let here = clean(Path::new("."));
    path.strip_prefix(&here)
        .ok()
        .filter(|relative| !relative.as_os_str().is_empty())
        .map(|relative| relative.display().to_string())
}

/// The directories to watch for the input `input` of a task in `base`,
/// each with whether what is under it is watched too: a glob in the last
/// component only watches the directory it is in (and, with what is under
/// them, the directories it matches there now); `**` or a glob further up
/// watches the directory before the first glob with what is under it; a
/// plain path watches itself with what is under it if it is a directory,
/// else the directory it is in.
fn roots_of(base: &Path, input: &str) -> Vec<(PathBuf, bool)> {
    let normal = pattern::normalize(input);
    let parts: Vec<&str> = normal.split('/').filter(|part| !part.is_empty()).collect();
    let literal = parts
        .iter()
        .take_while(|part| !pattern::is_glob(part))
        .count();
    let mut dir = base.to_owned();
    dir.extend(&parts[..literal]);
    let rest = &parts[literal..];
    match rest {
        [] if dir.is_dir() => vec![(dir, true)],
        [] => vec![(
            dir.parent().map_or_else(|| dir.clone(), Path::to_owned),
            false,
        )],
        [last] if *last != "**" => {
            let mut roots = vec![(dir.clone(), false)];
            if let (Ok(glob), Ok(entries)) = (glob::Pattern::new(last), std::fs::read_dir(&dir)) {
                for entry in entries.flatten() {
                    let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
                    let name = entry.file_name();
                    if is_dir && glob.matches_with(&name.to_string_lossy(), OPTIONS) {
                        roots.push((entry.path(), true));
                    }
                }
            }
            roots
        }
        _ => vec![(dir, true)],
    }
}

/// The watcher, and what it watches now.
struct Watches {
    watcher: RecommendedWatcher,
    /// Each watched directory: with what is under it or not, and which
    /// directory it was (device and inode), so that one removed and made
    /// again is watched again.
    current: BTreeMap<PathBuf, (bool, Option<(u64, u64)>)>,
    /// Directories watched alone because the store or the database is
    /// under them, their other subdirectories watched each with what is
    /// under it: a directory made in one is watched when it appears.
    split: BTreeSet<PathBuf>,
    /// Directories that could not be watched, each said once.
    warned: BTreeSet<PathBuf>,
}

impl Watches {
    fn new(watcher: RecommendedWatcher) -> Watches {
        Watches {
            watcher,
            current: BTreeMap::new(),
            split: BTreeSet::new(),
            warned: BTreeSet::new(),
        }
    }

    /// Watches what `watched` needs, and nothing else.
    fn sync(&mut self, watched: &Watched) {
        let (wanted, split) = plan_watches(&watched.roots, &watched.never);
        self.split = split;
        let stale: Vec<PathBuf> = self
            .current
            .iter()
            .filter(|(path, (recursive, id))| {
                wanted.get(*path) != Some(recursive) || dir_id(path) != *id
            })
            .map(|(path, _)| path.clone())
            .collect();
        for path in stale {
            // A directory that is gone has lost its watch already.
            let _ = self.watcher.unwatch(&path);
            self.current.remove(&path);
        }
        for (path, recursive) in wanted {
            if self.current.contains_key(&path) {
                continue;
            }
            let mode = if recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            match self.watcher.watch(&path, mode) {
                Ok(()) => {
                    let id = dir_id(&path);
                    self.current.insert(path, (recursive, id));
                }
                Err(error) => {
                    if self.warned.insert(path.clone()) {
                        eprintln!(
                            "taskrun: warning: cannot watch `{}` for changes: {}",
                            path.display(),
                            watch_error(&error)
                        );
                    }
                }
            }
        }
    }
}

/// The directories to watch for `roots`, each with whether what is under
/// it is watched too, and the directories split around what is `never`
/// watched. A root that does not exist is watched through the nearest
/// directory that does, alone; a directory under one watched with what is
/// under it is not watched again.
fn plan_watches(
    roots: &BTreeMap<PathBuf, bool>,
    never: &[PathBuf],
) -> (BTreeMap<PathBuf, bool>, BTreeSet<PathBuf>) {
    let mut wanted: BTreeMap<PathBuf, bool> = BTreeMap::new();
    let mut split = BTreeSet::new();
    for (root, &recursive) in roots {
        let Some(existing) = root.ancestors().find(|at| at.is_dir()) else {
            continue;
        };
        if recursive && existing == root.as_path() {
            split_around(existing, never, &mut wanted, &mut split);
        } else {
            wanted.entry(existing.to_owned()).or_default();
        }
    }
    let recursive: Vec<PathBuf> = wanted
        .iter()
        .filter(|(_, recursive)| **recursive)
        .map(|(path, _)| path.clone())
        .collect();
    wanted.retain(|path, _| {
        !recursive
            .iter()
            .any(|outer| path != outer && path.starts_with(outer))
    });
    (wanted, split)
}

/// Watches `dir` with what is under it, except what is `never` watched
/// (the store can hold thousands of directories): a directory with such a
/// path under it is watched alone, and each of its subdirectories the same
/// way.
fn split_around(
    dir: &Path,
    never: &[PathBuf],
    wanted: &mut BTreeMap<PathBuf, bool>,
    split: &mut BTreeSet<PathBuf>,
) {
    if never.iter().any(|never| dir.starts_with(never)) {
        return;
    }
    if !never.iter().any(|never| never.starts_with(dir)) {
        wanted.insert(dir.to_owned(), true);
        return;
    }
    wanted.entry(dir.to_owned()).or_default();
    split.insert(dir.to_owned());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            split_around(&entry.path(), never, wanted, split);
        }
    }
}

/// Which directory is at `path` now: its device and inode.
fn dir_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .map(|meta| (meta.dev(), meta.ino()))
}

/// How the wait between passes ended.
enum Waited {
    /// These paths changed (none named when the system lost events).
    Changed(BTreeSet<PathBuf>),
    /// A signal came.
    Stopped,
}

/// Waits for a change in `watched`, then for the files to settle; or for
/// a signal. Changes made during the pass that just ended are waiting in
/// `events` already.
fn wait(
    events: &Receiver<notify::Result<notify::Event>>,
    signals: &Receiver<Signal>,
    what: &Watched,
    watches: &mut Watches,
) -> Result<Waited, Error> {
    let mut changed = BTreeSet::new();
    let mut lost = false;
    let mut first: Option<Instant> = None;
    let mut latest = Instant::now();
    loop {
        let event = match first {
            None => crossbeam::select! {
                recv(events) -> event => event,
                recv(signals) -> _ => return Ok(Waited::Stopped),
            },
            Some(first) => {
                let until = (latest + QUIET).min(first + SETTLE_AT_MOST);
                crossbeam::select! {
                    recv(events) -> event => event,
                    recv(signals) -> _ => return Ok(Waited::Stopped),
                    default(until.saturating_duration_since(Instant::now())) => break,
                }
            }
        };
        let event = event.map_err(|_| {
            Error::Start(std::io::Error::other(
                "the file watcher stopped; start `taskrun run --watch` again",
            ))
        })?;
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                eprintln!(
                    "taskrun: warning: watching for changes: {}",
                    watch_error(&error)
                );
                continue;
            }
        };
        let mut seen = event.need_rescan();
        lost |= seen;
        for path in &event.paths {
            if what.is_change(event.kind, path) {
                changed.insert(path.clone());
                seen = true;
            } else if matches!(event.kind, EventKind::Create(_))
                && path.parent().is_some_and(|dir| watches.split.contains(dir))
                && path.is_dir()
            {
                // A new directory where the watches were split: watched
                // from now on.
                watches.sync(what);
            }
        }
        if seen {
            first.get_or_insert_with(Instant::now);
            latest = Instant::now();
        }
    }
    if lost {
        changed.clear();
    }
    Ok(Waited::Changed(changed))
}

/// The line before a wait: `Watching 12 inputs, tasks.txt and
/// Taskfile.rhai for changes (Ctrl-C to stop)`.
fn watching_line(watched: &Watched) -> String {
    let mut what = Vec::new();
    if !watched.inputs.is_empty() {
        let count = watched.count_inputs();
        what.push(format!(
            "{count} input{}",
            if count == 1 { "" } else { "s" }
        ));
    }
    what.extend(watched.shown.iter().cloned());
    let list = english_list(&what);
    if watched.inputs.is_empty() && watched.loaded {
        format!("No task declares inputs; watching {list} for changes (Ctrl-C to stop)\n")
    } else {
        format!("Watching {list} for changes (Ctrl-C to stop)\n")
    }
}

/// The line before the next pass: `Changed: src/a.c; running again`.
fn changed_line(paths: &BTreeSet<PathBuf>) -> String {
    if paths.is_empty() {
        return "Changed: files the system lost track of; running again\n".to_owned();
    }
    let mut named: Vec<String> = paths
        .iter()
        .take(NAMED)
        .map(|path| shown_path(path).unwrap_or_else(|| path.display().to_string()))
        .collect();
    if paths.len() > NAMED {
        named.push(format!("{} more", paths.len() - NAMED));
    }
    format!("Changed: {}; running again\n", english_list(&named))
}

/// `a`, `a and b`, `a, b and c`.
fn english_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// What a `notify` error says, with what to do about the one that is
/// common.
fn watch_error(error: &notify::Error) -> String {
    match error.kind {
        notify::ErrorKind::MaxFilesWatch => "the system's limit on watches is reached: raise \
                                             `fs.inotify.max_user_watches`, or declare \
                                             narrower inputs"
            .to_owned(),
        _ => error.to_string(),
    }
}

/// `path` absolute, with `.` left out and `name/..` taken back, as the
/// watcher names the paths it reports under the directories it was given.
fn clean(path: &Path) -> PathBuf {
    let mut clean = PathBuf::new();
    for part in absolute(path).components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !clean.pop() {
                    clean.push(part);
                }
            }
            other => clean.push(other),
        }
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> BTreeSet<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn the_changed_line_names_three_paths_then_counts() {
        assert_eq!(
            changed_line(&paths(&["/x/a"])),
            "Changed: /x/a; running again\n"
        );
        assert_eq!(
            changed_line(&paths(&["/x/a", "/x/b"])),
            "Changed: /x/a and /x/b; running again\n"
        );
        assert_eq!(
            changed_line(&paths(&["/x/a", "/x/b", "/x/c", "/x/d", "/x/e"])),
            "Changed: /x/a, /x/b, /x/c and 2 more; running again\n"
        );
    }

    #[test]
    fn patterns_name_files_and_what_is_under_directories() {
        let patterns = Patterns::new(
            Path::new("/t"),
            &["src/*.c".into(), "include".into(), "!src/*_test.c".into()],
        );
        assert!(patterns.names(Path::new("/t/src/a.c")));
        assert!(!patterns.names(Path::new("/t/src/a_test.c")));
        assert!(!patterns.names(Path::new("/t/src/sub/a.c")));
        assert!(patterns.names(Path::new("/t/include/x/y.h")));
        assert!(!patterns.names(Path::new("/t/other.c")));
        assert!(!patterns.names(Path::new("/u/src/a.c")));
        let all = Patterns::new(Path::new("/t"), &["./".into()]);
        assert!(all.names(Path::new("/t/deep/down/file")));
        let deep = Patterns::new(Path::new("/t"), &["src/**/*.h".into()]);
        assert!(deep.names(Path::new("/t/src/a/b/c.h")));
        assert!(deep.names(Path::new("/t/src/c.h")));
    }

    #[test]
    fn roots_are_recursive_only_where_the_pattern_needs_it() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("src/x.d")).unwrap();
        std::fs::create_dir_all(base.join("include")).unwrap();
        let roots = |input: &str| roots_of(base, input);
        assert_eq!(roots("in"), vec![(base.to_owned(), false)]);
        assert_eq!(roots("include"), vec![(base.join("include"), true)]);
        assert_eq!(roots("src/*.c"), vec![(base.join("src"), false)]);
        assert_eq!(
            roots("src/*.d"),
            vec![(base.join("src"), false), (base.join("src/x.d"), true)]
        );
        assert_eq!(roots("src/**/*.c"), vec![(base.join("src"), true)]);
        assert_eq!(roots("*/a.c"), vec![(base.to_owned(), true)]);
        assert_eq!(roots("gen/new/a.c"), vec![(base.join("gen/new"), false)]);
    }

    #[test]
    fn the_store_is_left_out_of_recursive_watches() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_owned();
        std::fs::create_dir_all(base.join(".taskrun/objects/ab")).unwrap();
        std::fs::create_dir_all(base.join("src/deep")).unwrap();
        let roots = BTreeMap::from([
            (base.clone(), true),
            (base.join("src/deep"), false),
            (base.join("missing/dir"), false),
        ]);
        let (wanted, split) = plan_watches(&roots, &[base.join(".taskrun")]);
        assert_eq!(
            wanted,
            BTreeMap::from([(base.clone(), false), (base.join("src"), true)])
        );
        assert_eq!(split, BTreeSet::from([base.clone()]));
    }

    #[test]
    fn outputs_and_the_store_are_never_changes() {
        let base = PathBuf::from("/t");
        let watched = Watched {
            inputs: vec![Patterns::new(&base, &["**".into()])],
            outputs: vec![Patterns::new(&base, &["out".into(), "dist/".into()])],
            never: vec![base.join("taskrun.db-wal"), base.join(".taskrun")],
            files: vec![base.join("tasks.txt")],
            shown: vec!["tasks.txt".into()],
            roots: BTreeMap::from([(base.clone(), true), (base.join("gen/x"), false)]),
            loaded: true,
        };
        let modify = EventKind::Modify(ModifyKind::Any);
        let change = |path: &str| watched.is_change(modify, Path::new(path));
        assert!(change("/t/in"));
        assert!(change("/t/tasks.txt"));
        assert!(!change("/t/out"));
        assert!(!change("/t/dist/app"));
        assert!(!change("/t/taskrun.db-wal"));
        assert!(!change("/t/.taskrun/objects/ab/cd"));
        assert!(!watched.is_change(
            EventKind::Access(notify::event::AccessKind::Any),
            Path::new("/t/in")
        ));
        let only_file = Watched {
            inputs: Vec::new(),
            ..watched
        };
        // A directory on the way to a watched one.
        assert!(only_file.is_change(modify, Path::new("/t/gen")));
        assert!(!only_file.is_change(modify, Path::new("/t/gen/x")));
        assert!(only_file.is_change(
            EventKind::Remove(notify::event::RemoveKind::Folder),
            Path::new("/t/gen/x")
        ));
    }

    #[test]
    fn the_watching_line_lists_what_is_watched() {
        let watched = Watched {
            inputs: Vec::new(),
            outputs: Vec::new(),
            never: Vec::new(),
            files: Vec::new(),
            shown: vec!["tasks.txt".into(), "Taskfile.rhai".into()],
            roots: BTreeMap::new(),
            loaded: true,
        };
        assert_eq!(
            watching_line(&watched),
            "No task declares inputs; watching tasks.txt and Taskfile.rhai for changes \
             (Ctrl-C to stop)\n"
        );
        let unloaded = Watched {
            loaded: false,
            ..watched
        };
        assert_eq!(
            watching_line(&unloaded),
            "Watching tasks.txt and Taskfile.rhai for changes (Ctrl-C to stop)\n"
        );
        assert_eq!(
            english_list(&[
                "12 inputs".into(),
                "tasks.txt".into(),
                "Taskfile.rhai".into()
            ]),
            "12 inputs, tasks.txt and Taskfile.rhai"
        );
    }

    #[test]
    fn clean_paths_are_absolute_and_lexical() {
        assert_eq!(clean(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert!(clean(Path::new("x")).is_absolute());
    }
}
