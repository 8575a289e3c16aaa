//! Up-to-date checks: cache keys, the content-addressed store, and the
//! caching executor that restores a task's outputs instead of running it.
//!
//! A task that declares `[inputs:]` or `[outputs:]` is cacheable. When it
//! becomes ready, the caching executor (a decorator over the real one, on
//! the worker's thread) computes its key: SHA-256 of a canonical manifest
//! of everything that decides what the task does (see [`key`]). A stored
//! entry for that key whose objects are all present and intact is a hit:
//! the outputs are restored and the task is recorded `cached`. Otherwise
//! the task runs, and a clean pass is stored. This module never writes to
//! the history database: what it learned travels in the task's result
//! ([`Report`]) to the recorder, which writes the task row and its cache
//! rows in one transaction.

use std::fmt::Write as _;

pub(crate) mod executor;
pub(crate) mod gc;
pub(crate) mod hash;
pub(crate) mod inputs;
pub(crate) mod key;
pub(crate) mod passing;
pub(crate) mod pattern;
pub(crate) mod predict;
pub(crate) mod stat;
pub(crate) mod store;
pub(crate) mod tree;
pub(crate) mod why;

use std::path::PathBuf;
use std::time::Duration;

/// A SHA-256 digest, as 64 lowercase hexadecimal characters.
pub(crate) type Digest = String;

/// What the cache did for one attempt of a cacheable task, carried in its
/// result to the recorder and the reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Report {
    /// The cache key: the digest of the key manifest, which is stored as
    /// an object under this digest.
    pub key: Digest,
    /// What became of the attempt.
    pub verdict: Verdict,
    /// With `--explain`: why the task ran or was restored, in words, a
    /// line each.
    pub explain: Option<String>,
    /// Why a stored entry for the key was not used (an object missing or
    /// damaged), when that is why the task ran.
    pub note: Option<String>,
    /// The digest of the output tree manifest (see [`store`]): for a hit,
    /// the one restored; for a pass, the one made. `None` when the task
    /// declares no outputs or did not pass.
    pub outputs: Option<Digest>,
    /// The digest of the tree of what it left in `$TASKRUN_OUT` (see
    /// [`passing`]): for a hit, the one restored; for a pass, the one
    /// stored. `None` when it left nothing there.
    pub out: Option<Digest>,
    /// Stat cache rows learned while checking (files hashed anew).
    pub stats: Vec<StatRow>,
    /// How many bytes were read to hash files.
    pub hashed_bytes: u64,
    /// How long the check (key, lookup, restore) took.
    pub check: Duration,
}

impl Report {
    /// What this attempt, once it passed, hands its dependents for their
    /// keys (see [`handed_on`]): only a pass that was restored or stored
    /// is known by its key and outputs. A pass that was not stored (its
    /// inputs changed while it ran, a dependency of its own is unknown,
    /// its key could not be worked out) hands on nothing known, so its
    /// dependents are neither restored nor stored either.
    pub(crate) fn as_dependency(&self) -> Option<String> {
        match self.verdict {
            Verdict::Hit { .. } | Verdict::Stored => Some(handed_on(
                &self.key,
                self.outputs.as_ref(),
                self.out.as_ref(),
            )),
            Verdict::NotStored(_) | Verdict::Failed => None,
        }
    }
}

/// The digest of a run's script and of every module it can import: each
/// `.rhai` file under the script's directory (hidden directories left
/// out), by path and content. A closure of the script is what these say,
/// so they are part of its key; a file that cannot be read counts as its
/// path alone.
pub(crate) fn scripts_digest(script: &std::path::Path) -> Digest {
    let dir = script.parent().unwrap_or(std::path::Path::new("."));
    let mut files = vec![script.to_owned()];
    let mut dirs = vec![dir.to_owned()];
    while let Some(at) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().as_encoded_bytes().starts_with(b".");
            match entry.file_type() {
                Ok(kind) if kind.is_dir() && !hidden => dirs.push(path),
                Ok(kind) if kind.is_file() && path.extension().is_some_and(|ext| ext == "rhai") => {
                    files.push(path);
                }
                _ => {}
            }
        }
    }
    files.sort();
    files.dedup();
    let mut manifest = String::new();
    for file in &files {
        let content = std::fs::read(file)
            .map_or_else(|_| "unreadable".to_owned(), |bytes| hash::bytes(&bytes));
        let name = file.strip_prefix(dir).unwrap_or(file);
        let _ = writeln!(
            manifest,
            "{}\t{content}",
            key::escape(&name.to_string_lossy())
        );
    }
    hash::bytes(manifest.as_bytes())
}

/// What a pass of the task of `key` hands its dependents for their keys:
/// its output tree when it declares outputs, else its own key (a task
/// that makes nothing it declares is what its key says), and the tree of
/// what it left in `$TASKRUN_OUT`, when it left something.
pub(crate) fn handed_on(key: &str, outputs: Option<&Digest>, out: Option<&Digest>) -> String {
    let made = match outputs {
        Some(outputs) => format!("outputs {outputs}"),
        None => format!("key {key}"),
    };
    match out {
        Some(out) => format!("{made} out {out}"),
        None => made,
    }
}

/// What a dependency that ended hands a dependent: for its key, what
/// [`Report::as_dependency`] says (`None`: unknown); for output passing,
/// what it left in `$TASKRUN_OUT`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Handed {
    pub value: Option<String>,
    pub out: Option<std::sync::Arc<passing::Produced>>,
}

/// What a cacheable job carries beyond what every job does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CacheJob {
    /// The task's declarations.
    pub spec: crate::task::CacheSpec,
    /// The task's directory relative to the task file's (empty for the
    /// same), so that a checkout in another place has the same keys.
    pub dir: PathBuf,
    /// Each dependency (hard, then soft, in the plan's order) and what it
    /// handed on when it passed ([`Report::as_dependency`]); `None` for one
    /// that did not pass or is not cacheable, whose outputs are unknown.
    pub deps: Vec<(String, Option<String>)>,
}

impl CacheJob {
    /// Sets what the dependency `name` handed on.
    pub(crate) fn set_dep(&mut self, name: &str, produced: Option<String>) {
        if let Some(dep) = self.deps.iter_mut().find(|(dep, _)| dep == name) {
            dep.1 = produced;
        }
    }
}

/// What became of a cacheable attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Up to date: restored from the entry stored by `source_task` (a
    /// task row) of run `source_run`, which took `saved` to run.
    Hit {
        source_task: i64,
        source_run: i64,
        saved: Duration,
        /// Output files written (files whose content already matched are
        /// left alone).
        restored: usize,
        /// Output files in the entry.
        files: usize,
    },
    /// Ran and passed, and is to be stored under its key.
    Stored,
    /// Ran and passed, and is not stored: why.
    NotStored(String),
    /// Ran and did not pass: never stored.
    Failed,
}

impl Verdict {
    /// The name stored in `task_cache.outcome`.
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Verdict::Hit { .. } => "hit",
            Verdict::Stored => "stored",
            Verdict::NotStored(_) => "not_stored",
            Verdict::Failed => "miss",
        }
    }
}

/// What the stat cache knows of one file: its content hash, trusted while
/// its stat is unchanged (see [`stat`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StatRow {
    /// The absolute path, as bytes.
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub mode: u32,
    pub sha256: Digest,
    /// When the hash was taken, in nanoseconds since the Unix epoch.
    pub verified_at_ns: i64,
}
