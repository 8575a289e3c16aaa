//! The caching executor: a decorator that, for a cacheable job, works out
//! its key, restores a stored pass instead of running it, and after a
//! clean pass stores its outputs; every other job goes straight to the
//! executor it wraps.
//!
//! It runs on the worker's thread, so hashing never holds up the
//! scheduler. It reads the history (the entries, the stat cache) through
//! [`Entries`], and never writes it: what it learned goes back in the
//! outcome's [`Report`], which the recorder writes with the task's row.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::inputs::{self, Kind as FileKind};
use super::key::Manifest;
use super::passing::Produced;
use super::pattern::is_glob;
use super::stat::{Stat, StatCache, resolve_tool, stat_of};
use super::store::{ObjectError, Store};
use super::tree::{EntryKind, OutputTree};
use super::why::{Attempt, Earlier, Why};
use super::{CacheJob, Digest, Report, Verdict};
use crate::event::{Capture, Exit, Stream};
use crate::execute::{Control, Executor, Job, Outcome};

/// A stored pass, as a hit needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The task row that stored it, and its run.
    pub task: i64,
    pub run: i64,
    /// Its output tree's digest; `None` when it declares no outputs.
    pub outputs: Option<Digest>,
    /// The tree of what it left in `$TASKRUN_OUT`; `None` for nothing.
    pub out: Option<Digest>,
    pub stdout: Capture,
    pub stderr: Capture,
    /// How long it ran.
    pub duration: Duration,
}

/// Where the caching executor finds stored passes.
pub(crate) trait Entries: Send + Sync {
    /// The entry stored under `key`, if there is one (a read that fails is
    /// none: a miss, which runs the task).
    fn entry(&self, key: &str) -> Option<Entry>;

    /// The run and key of the last stored pass of the task `name`, for
    /// `--explain`.
    fn last_stored(&self, name: &str) -> Option<(i64, Digest)>;
}

/// No stored passes at all: a dry run without a history.
pub(crate) struct NoEntries;

impl Entries for NoEntries {
    fn entry(&self, _: &str) -> Option<Entry> {
        None
    }

    fn last_stored(&self, _: &str) -> Option<(i64, Digest)> {
        None
    }
}

/// How the cache is used in a run.
#[derive(Clone, Debug)]
pub(crate) struct CacheOptions {
    /// The store (`.taskrun/` beside the database, or `--store DIR`).
    pub store: PathBuf,
    /// Paths never taken as inputs: the database, its `-wal` and `-shm`
    /// files, and the store.
    pub never: Vec<PathBuf>,
    /// `--cache-salt`: part of every key.
    pub salt: Option<String>,
    /// `--force`: run every task, and still store its passes.
    pub force: bool,
    /// `--cache-max-output`: the most a pass may make, in bytes, to be
    /// stored.
    pub max_output: u64,
    /// The digest of the run's script, part of the key of its closures.
    pub script: Option<Digest>,
    /// `--explain`: each report says in words why its task ran or was
    /// restored.
    pub explain: bool,
}

/// What a run needs to use the cache: how, the stat cache, and where
/// entries are found.
#[derive(Clone)]
pub(crate) struct CacheSetup {
    pub options: CacheOptions,
    pub stats: Arc<StatCache>,
    pub entries: Arc<dyn Entries>,
}

impl std::fmt::Debug for CacheSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheSetup")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl CacheSetup {
    /// Whether `job` would be restored now, without running or writing
    /// anything: its entry, if it has one whose objects are all present.
    pub(crate) fn would_hit(&self, keyed: &Keyed) -> Option<Entry> {
        let store = Store::new(self.options.store.clone());
        let entry = self.entries.entry(&keyed.key)?;
        let present = |tree: &Option<Digest>| {
            tree.as_ref().is_none_or(|digest| {
                String::from_utf8(store.peek(digest).unwrap_or_default())
                    .ok()
                    .and_then(|text| OutputTree::decode(&text))
                    .is_some_and(|tree| {
                        tree.entries().iter().all(|entry| match &entry.kind {
                            EntryKind::File { digest, .. } => store.contains(digest),
                            EntryKind::Symlink { .. } | EntryKind::Dir { .. } => true,
                        })
                    })
            })
        };
        (present(&entry.outputs) && present(&entry.out)).then_some(entry)
    }

    /// `inner` behind the cache.
    pub(crate) fn wrap(&self, inner: Arc<dyn Executor>) -> Arc<dyn Executor> {
        Arc::new(Caching::new(
            inner,
            self.options.clone(),
            Arc::clone(&self.stats),
            Arc::clone(&self.entries),
        ))
    }
}

/// The caching decorator.
pub(crate) struct Caching {
    inner: Arc<dyn Executor>,
    options: CacheOptions,
    store: Store,
    stats: Arc<StatCache>,
    entries: Arc<dyn Entries>,
}

/// A key worked out for a job, with what the check after the run needs.
pub(crate) struct Keyed {
    pub manifest: Manifest,
    pub key: Digest,
    /// The inputs as they were when hashed: absolute path and stat.
    /// `true` where the stat is of what a symlink points at (a link's
    /// target, a tool), which is stat'ed through the link again.
    inputs: Vec<(PathBuf, Stat, bool)>,
    hashed: u64,
}

impl Caching {
    /// Wraps `inner`, reading entries from `entries` and the stat cache
    /// `stats`.
    pub(crate) fn new(
        inner: Arc<dyn Executor>,
        options: CacheOptions,
        stats: Arc<StatCache>,
        entries: Arc<dyn Entries>,
    ) -> Caching {
        Caching {
            store: Store::new(options.store.clone()),
            inner,
            options,
            stats,
            entries,
        }
    }

    /// With `--explain`: why `keyed`'s task ran or was restored, as
    /// [`Why`] words it.
    fn explain(
        &self,
        job: &Job,
        keyed: &Keyed,
        verdict: &Verdict,
        note: Option<&String>,
    ) -> Option<String> {
        if !self.options.explain {
            return None;
        }
        let (reason, source) = match verdict {
            Verdict::Hit {
                source_task,
                source_run,
                ..
            } => (None, Some((*source_run, *source_task))),
            Verdict::NotStored(why) => (Some(why.clone()), None),
            Verdict::Stored | Verdict::Failed => (note.cloned(), None),
        };
        let earlier = match verdict {
            Verdict::Hit { .. } => None,
            _ => self.entries.last_stored(&job.name),
        };
        let before = earlier.as_ref().and_then(|(_, key)| {
            let text = String::from_utf8(self.store.read(key).ok()?).ok()?;
            Manifest::parse(&text)
        });
        let why = Why::new(
            Attempt {
                task: job.name.clone(),
                key: keyed.key.clone(),
                outcome: verdict.as_str().to_owned(),
                reason,
                source,
            },
            Some(&keyed.manifest),
            earlier.map(|(run, key)| Earlier { run, key }),
            before.as_ref(),
        );
        Some(why.text())
    }

    /// A hit: the entry's outputs restored into the job's directory, and
    /// what it left in `$TASKRUN_OUT` into the job's own.
    fn restore(
        &self,
        job: &Job,
        entry: &Entry,
    ) -> Result<(usize, usize, Option<Produced>), String> {
        let out = match (&entry.out, &job.passing) {
            (Some(digest), Some(passing)) => {
                Some(super::passing::restore(&self.store, &passing.out, digest)?)
            }
            (Some(_), None) => {
                return Err(
                    "it left files in $TASKRUN_OUT, which this run does not pass".to_owned(),
                );
            }
            (None, _) => None,
        };
        // Every file of $TASKRUN_OUT is written: its directory was fresh.
        let left = out.as_ref().map_or(0, |out| out.files);
        let Some(outputs) = &entry.outputs else {
            return Ok((left, left, out));
        };
        let tree = read_tree(&self.store, outputs, "the outputs")?;
        let stats = &self.stats;
        let known = |path: &Path, meta: &std::fs::Metadata| {
            stats.hash(path, meta).ok().map(|hashed| hashed.digest)
        };
        let restored = self
            .store
            .restore_tree(&job.dir, &tree, &known)
            .map_err(|error| restore_problem(&error, "the outputs"))?;
        Ok((restored.written + left, tree.files() + left, out))
    }

    /// What became of an attempt that ran, and the digest of its output
    /// tree when it is stored; `unknown` says why it is not, when a
    /// dependency handed on nothing known.
    fn verdict(
        &self,
        job: &Job,
        cache: &CacheJob,
        keyed: &Keyed,
        outcome: &Outcome,
        control: &Control,
        unknown: Option<String>,
    ) -> (Verdict, Option<Digest>) {
        let passed = matches!(outcome.exit, Exit::Code(0)) && !outcome.timed_out;
        if !passed {
            return (Verdict::Failed, None);
        }
        if let Some(why) = unknown {
            return (Verdict::NotStored(why), None);
        }
        if outcome.out.as_ref().is_some_and(|out| out.tree.is_none()) {
            let why = "what it left in $TASKRUN_OUT could not be stored".to_owned();
            return (Verdict::NotStored(why), None);
        }
        match self.store_pass(job, cache, keyed, outcome, control) {
            Ok(outputs) => (Verdict::Stored, outputs),
            Err(why) => (Verdict::NotStored(why), None),
        }
    }

    /// After a pass: why it cannot be stored, or its output tree's digest
    /// (`None` when it declares no outputs).
    fn store_pass(
        &self,
        job: &Job,
        cache: &CacheJob,
        keyed: &Keyed,
        outcome: &Outcome,
        control: &Control,
    ) -> Result<Option<Digest>, String> {
        if control.interrupted().is_some() {
            return Err("the run was interrupted".to_owned());
        }
        for (path, before, follow) in &keyed.inputs {
            let now = if *follow {
                std::fs::metadata(path)
            } else {
                std::fs::symlink_metadata(path)
            }
            .map(|meta| stat_of(&meta));
            if now.as_ref().ok() != Some(before) {
                return Err(format!(
                    "{} changed while it ran",
                    relative(path, &job.dir).display()
                ));
            }
        }
        let captured = outcome.stdout.total + outcome.stderr.total;
        if cache.spec.outputs.is_empty() {
            return Ok(None);
        }
        let mut files = Vec::new();
        let mut roots = Vec::new();
        for pattern in &cache.spec.outputs {
            let pattern = pattern.value.as_str();
            if let Some(dir) = pattern.strip_suffix('/') {
                let path = job.dir.join(dir);
                if !std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_dir()) {
                    return Err(format!("the declared output {pattern} is missing"));
                }
                roots.push(PathBuf::from(dir));
                continue;
            }
            let expansion = inputs::expand(&job.dir, &[pattern.to_owned()], &self.options.never)
                .map_err(|error| error.to_string())?;
            if expansion.files.is_empty() && !is_glob(pattern) {
                return Err(format!("the declared output {pattern} is missing"));
            }
            files.extend(expansion.files.into_iter().map(|found| found.path));
        }
        files.sort();
        files.dedup();
        // Measured before anything is copied: an output too large to keep
        // must not land in the store.
        let total = size_of(&job.dir, &files, &roots) + captured;
        if total > self.options.max_output {
            return Err(format!(
                "its outputs take {total} bytes, over --cache-max-output {}",
                self.options.max_output
            ));
        }
        let tree = self
            .store
            .put_tree(&job.dir, &files, &roots)
            .map_err(|error| format!("cannot store the outputs: {error}"))?;
        self.store
            .put_bytes(tree.encode().as_bytes())
            .map(Some)
            .map_err(|error| format!("cannot store the output list: {error}"))
    }
}

impl Executor for Caching {
    fn execute(
        &self,
        job: &Job,
        control: &Control,
        output: &mut dyn FnMut(Stream, &[u8]),
    ) -> Outcome {
        let Some(cache) = &job.cache else {
            return self.inner.execute(job, control, output);
        };
        let start = Instant::now();
        let started_at = SystemTime::now();
        let keyed = match key(job, cache, &self.options, &self.stats) {
            Ok(keyed) => keyed,
            Err(why) => {
                // No key, no cache: the task runs as any other would.
                let outcome = self.inner.execute(job, control, output);
                return with_report(
                    outcome,
                    None,
                    Verdict::NotStored(why),
                    &self.stats,
                    0,
                    start,
                );
            }
        };
        // What a dependency made without declaring it may be anything: no
        // key can stand for it, so nothing is looked up or stored.
        let unknown = cache
            .deps
            .iter()
            .find(|(_, handed)| handed.is_none())
            .map(|(dep, _)| unknown_dependency(dep));
        let mut missed = None;
        if unknown.is_none()
            && !self.options.force
            && let Some(entry) = self.entries.entry(&keyed.key)
        {
            match self.restore(job, &entry) {
                Ok((restored, files, out)) => {
                    for (stream, capture) in [
                        (Stream::Stdout, &entry.stdout),
                        (Stream::Stderr, &entry.stderr),
                    ] {
                        if !capture.bytes.is_empty() {
                            output(stream, &capture.bytes);
                        }
                    }
                    let verdict = Verdict::Hit {
                        source_task: entry.task,
                        source_run: entry.run,
                        saved: entry.duration,
                        restored,
                        files,
                    };
                    let explain = self.explain(job, &keyed, &verdict, None);
                    let report = Report {
                        key: keyed.key,
                        verdict,
                        explain,
                        note: None,
                        outputs: entry.outputs.clone(),
                        out: entry.out.clone(),
                        stats: self.stats.take_fresh(),
                        hashed_bytes: keyed.hashed,
                        check: start.elapsed(),
                    };
                    return Outcome {
                        exit: Exit::Code(0),
                        timed_out: false,
                        started_at,
                        duration: start.elapsed(),
                        stdout: entry.stdout,
                        stderr: entry.stderr,
                        slurm: None,
                        cache: Some(Arc::new(report)),
                        out: out.map(Arc::new),
                    };
                }
                Err(why) => missed = Some(why),
            }
        }
        // The manifest is kept, for `show --why` to compare with (a hit's
        // is there already: it is the entry's own key).
        let _ = self.store.put_bytes(keyed.manifest.text().as_bytes());
        let check = start.elapsed();
        let outcome = self.inner.execute(job, control, output);
        let (verdict, outputs) = self.verdict(job, cache, &keyed, &outcome, control, unknown);
        let out = outcome
            .out
            .as_ref()
            .and_then(|produced| produced.tree.clone());
        let explain = self.explain(job, &keyed, &verdict, missed.as_ref());
        let report = Report {
            key: keyed.key,
            verdict,
            explain,
            note: missed,
            outputs,
            out,
            stats: self.stats.take_fresh(),
            hashed_bytes: keyed.hashed,
            check,
        };
        Outcome {
            cache: Some(Arc::new(report)),
            ..outcome
        }
    }

    fn interrupted(&self) {
        self.inner.interrupted();
    }
}

/// `outcome` with a report of `verdict` and no key.
fn with_report(
    outcome: Outcome,
    key: Option<Digest>,
    verdict: Verdict,
    stats: &StatCache,
    hashed: u64,
    start: Instant,
) -> Outcome {
    let report = Report {
        key: key.unwrap_or_default(),
        verdict,
        explain: None,
        note: None,
        outputs: None,
        out: None,
        stats: stats.take_fresh(),
        hashed_bytes: hashed,
        check: start.elapsed(),
    };
    Outcome {
        cache: Some(Arc::new(report)),
        ..outcome
    }
}

/// Works out the key of `job`.
pub(crate) fn key(
    job: &Job,
    cache: &CacheJob,
    options: &CacheOptions,
    stats: &StatCache,
) -> Result<Keyed, String> {
    let mut manifest = Manifest::new(options.salt.as_deref());
    manifest.add("task", "", &job.name);
    manifest.add("kind", "", job.kind.as_str());
    manifest.add("cmd", "", &job.command);
    if job.kind == crate::task::Kind::Rhai
        && let Some(script) = &options.script
    {
        manifest.add("script", "", script);
    }
    manifest.add("dir", "", &path_text(&cache.dir));
    manifest.add(
        "timeout",
        "",
        &job.timeout.map_or_else(
            || "none".to_owned(),
            |limit| format!("{}ms", limit.as_millis()),
        ),
    );
    for (name, value) in &job.env {
        manifest.add_secret("env", name, Some(value.as_bytes()));
    }
    for name in &cache.spec.uses_env {
        // The value the task sees: its own `[env:]`, else the inherited.
        let inherited = std::env::var_os(name);
        let value = job
            .env
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_bytes())
            .or_else(|| {
                inherited
                    .as_deref()
                    .map(std::os::unix::ffi::OsStrExt::as_bytes)
            });
        manifest.add_secret("uses_env", name, value);
    }
    let mut stats_of = Vec::with_capacity(cache.spec.inputs.len());
    let mut hashed = add_tools(&mut manifest, job, cache, stats, &mut stats_of)?;
    for pattern in &cache.spec.outputs {
        manifest.add("output", &pattern.value, "");
    }
    hashed += add_inputs(&mut manifest, job, cache, options, stats, &mut stats_of)?;
    for (name, produced) in &cache.deps {
        manifest.add("dep", name, produced.as_deref().unwrap_or("unknown"));
    }
    let key = manifest.key();
    Ok(Keyed {
        manifest,
        key,
        inputs: stats_of,
        hashed,
    })
}

/// Adds each input pattern with how many files it matched, and each
/// matched file with its type, exec bit and content (a symlink's text and
/// what it points at); returns how many bytes were read. What was stat'ed
/// goes to `stats_of`, for the check after the run.
fn add_inputs(
    manifest: &mut Manifest,
    job: &Job,
    cache: &CacheJob,
    options: &CacheOptions,
    stats: &StatCache,
    stats_of: &mut Vec<(PathBuf, Stat, bool)>,
) -> Result<u64, String> {
    let mut hashed = 0;
    let patterns: Vec<String> = cache
        .spec
        .inputs
        .iter()
        .map(|pattern| pattern.value.clone())
        .collect();
    // What the task makes is not what it reads: a declared output (a
    // path or a tree; a glob cannot be told apart) is never an input,
    // else a task with `[inputs:.]` would change its own key each run.
    let mut never = options.never.clone();
    never.extend(
        cache
            .spec
            .outputs
            .iter()
            .filter(|output| !is_glob(&output.value))
            .map(|output| job.dir.join(output.value.trim_end_matches('/'))),
    );
    let expansion =
        inputs::expand(&job.dir, &patterns, &never).map_err(|error| error.to_string())?;
    for (pattern, count) in patterns.iter().zip(&expansion.counts) {
        manifest.add("pattern", pattern, &count.to_string());
    }
    for found in &expansion.files {
        let path = job.dir.join(&found.path);
        let value = match &found.kind {
            FileKind::File { exec } => {
                let hashed_file = stats.hash(&path, &found.meta).map_err(|error| {
                    format!("cannot read the input {}: {error}", found.path.display())
                })?;
                hashed += hashed_file.read;
                format!("{} {}", if *exec { "x" } else { "f" }, hashed_file.digest)
            }
            FileKind::Symlink { target } => {
                let pointed = match std::fs::metadata(&path) {
                    Ok(meta) if meta.is_file() => {
                        let hashed_file = stats.hash(&path, &meta).map_err(|error| {
                            format!("cannot read the input {}: {error}", found.path.display())
                        })?;
                        hashed += hashed_file.read;
                        stats_of.push((path.clone(), stat_of(&meta), true));
                        hashed_file.digest
                    }
                    Ok(meta) if meta.is_dir() => {
                        // Its files could change without the key knowing.
                        return Err(format!(
                            "the input {} is a symlink to a directory, which is not followed: \
                             name the directory itself in [inputs:]",
                            found.path.display()
                        ));
                    }
                    Ok(_) => "not-a-file".to_owned(),
                    Err(_) => "dangling".to_owned(),
                };
                format!("l {} {pointed}", path_text(target))
            }
        };
        manifest.add("input", &path_text(&found.path), &value);
        stats_of.push((path, stat_of(&found.meta), false));
    }
    Ok(hashed)
}

/// Adds each `[tools:]` program, found through the task's `PATH`, with its
/// content's digest; returns how many bytes were read.
fn add_tools(
    manifest: &mut Manifest,
    job: &Job,
    cache: &CacheJob,
    stats: &StatCache,
    stats_of: &mut Vec<(PathBuf, Stat, bool)>,
) -> Result<u64, String> {
    let mut hashed = 0;
    let path_var = job
        .env
        .iter()
        .rev()
        .find(|(key, _)| key == "PATH")
        .map(|(_, value)| std::ffi::OsString::from(value))
        .or_else(|| std::env::var_os("PATH"));
    for tool in &cache.spec.tools {
        let value = match resolve_tool(tool, path_var.as_deref().map(OsStr::new)) {
            Some(path) => {
                let meta = std::fs::metadata(&path)
                    .map_err(|error| format!("cannot read the tool {}: {error}", path.display()))?;
                let hashed_tool = stats
                    .hash(&path, &meta)
                    .map_err(|error| format!("cannot read the tool {}: {error}", path.display()))?;
                hashed += hashed_tool.read;
                let value = format!("{} {}", path_text(&path), hashed_tool.digest);
                stats_of.push((path, stat_of(&meta), true));
                value
            }
            None => "<not found>".to_owned(),
        };
        manifest.add("tool", tool, &value);
    }
    Ok(hashed)
}

/// A path as a manifest holds it: UTF-8 as it is, `\` doubled, and every
/// byte that is not UTF-8 as `\xNN`, so that different paths never read
/// the same.
pub(crate) fn path_text(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut text = String::new();
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        text.push_str(&chunk.valid().replace('\\', "\\\\"));
        for byte in chunk.invalid() {
            let _ = write!(text, "\\x{byte:02x}");
        }
    }
    text
}

/// How many bytes the regular files among `files` and under the
/// directories `roots` (both relative to `base`) take; symlinks are not
/// followed, and what cannot be read counts nothing (storing it fails
/// later, with its reason).
pub(super) fn size_of(base: &Path, files: &[PathBuf], roots: &[PathBuf]) -> u64 {
    let mut total = 0;
    for file in files {
        if let Ok(meta) = std::fs::symlink_metadata(base.join(file))
            && meta.is_file()
        {
            total += meta.len();
        }
    }
    let mut dirs: Vec<PathBuf> = roots.iter().map(|root| base.join(root)).collect();
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => dirs.push(entry.path()),
                Ok(kind) if kind.is_file() => {
                    total += entry.metadata().map_or(0, |meta| meta.len());
                }
                _ => {}
            }
        }
    }
    total
}

/// Why a task whose dependency `dep` handed on nothing known is neither
/// looked up nor stored.
pub(crate) fn unknown_dependency(dep: &str) -> String {
    format!("its dependency {dep} declares no outputs, so what it made is unknown")
}

/// `path` relative to `base`, when it is under it.
fn relative<'a>(path: &'a Path, base: &Path) -> &'a Path {
    path.strip_prefix(base).unwrap_or(path)
}

/// The first 12 digits of a digest, as messages show one.
pub(crate) fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// The output tree stored as `digest`, the list of `what` (`the outputs`,
/// `$TASKRUN_OUT`); why not, as a miss says it.
pub(super) fn read_tree(store: &Store, digest: &Digest, what: &str) -> Result<OutputTree, String> {
    let text = store
        .read(digest)
        .map_err(|error| object_problem(digest, &error))?;
    String::from_utf8(text)
        .ok()
        .and_then(|text| OutputTree::decode(&text))
        .ok_or_else(|| {
            format!(
                "the list of {what} {} in the store is damaged",
                short(digest)
            )
        })
}

/// Why restoring `what` from the store failed, as a miss says it.
pub(super) fn restore_problem(error: &ObjectError, what: &str) -> String {
    match error {
        ObjectError::Missing { digest, .. } | ObjectError::Corrupt { digest, .. } => {
            object_problem(digest, error)
        }
        ObjectError::Io { .. } => format!("cannot restore {what}: {error}"),
    }
}

/// Why an object of the store could not be used, as a miss says it.
fn object_problem(digest: &str, error: &ObjectError) -> String {
    match error {
        ObjectError::Missing { .. } => format!("object {} missing from the store", short(digest)),
        ObjectError::Corrupt { .. } => format!("object {} in the store was damaged", short(digest)),
        ObjectError::Io { .. } => format!("object {} cannot be read: {error}", short(digest)),
    }
}
