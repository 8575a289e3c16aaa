//! What a task is before it runs: the declarations every task source
//! produces.
//!
//! The task file parser produces [`TaskSpec`]s (and later the Rhai script
//! does too), so validation, scheduling and recording are shared by every
//! source. A spec keeps the span of each part it was read from, so that any
//! later stage can point at the text behind a problem. Nothing here checks
//! how tasks relate to each other; that is the graph's job.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::source::{SourceId, Spanned};

/// One declared task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TaskSpec {
    /// The task's unique name.
    pub name: Spanned<String>,
    /// The shell command, passed verbatim to `/bin/sh -c` (or run by the
    /// interpreter its `#!` line names); an evaluated task's Rhai code.
    pub command: Spanned<String>,
    /// The tasks that must pass before this one starts, in the order
    /// written, without repeats.
    pub after: Vec<Spanned<String>>,
    /// The tasks that must end (whatever their result) before this one
    /// starts: dependencies that only order.
    pub after_done: Vec<Spanned<String>>,
    /// What this task sets for itself; the rest comes from the run.
    pub settings: Settings,
    /// A shell command, or a closure of the script.
    pub kind: Kind,
    /// What the task is for, as `taskrun list` shows it: its `[desc:…]`,
    /// or the comment line right above it.
    pub desc: Option<String>,
}

impl TaskSpec {
    /// What the task runs and how, as one number: see [`fingerprint`].
    pub(crate) fn fingerprint(&self) -> i64 {
        fingerprint(
            &self.command.value,
            self.settings.dir.as_deref(),
            &self.settings.env,
            self.kind,
        )
    }
}

/// A task's fingerprint: its command, its own `[dir:]` (relative to the
/// task file, as written) and `[env:]` (in order), and its kind, as the
/// first 8 bytes of SHA-256 over a length-prefixed encoding of them, read
/// as a big-endian signed 64-bit number (what SQLite stores). The same
/// task gives the same number in every taskrun and on every platform;
/// the inherited environment does not take part (it changes with every
/// CI run).
pub(crate) fn fingerprint(
    command: &str,
    dir: Option<&Path>,
    env: &[(String, String)],
    kind: Kind,
) -> i64 {
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field(b"taskrun fingerprint 1");
    field(command.as_bytes());
    match dir {
        Some(dir) => field(dir.as_os_str().as_encoded_bytes()),
        None => field(b""),
    }
    field(&(env.len() as u64).to_le_bytes());
    for (key, value) in env {
        field(key.as_bytes());
        field(value.as_bytes());
    }
    field(kind.as_str().as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// What a task runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `/bin/sh -c COMMAND`.
    #[default]
    Shell,
    /// A Rhai closure, run in-process (`task(name, || { ... })`).
    Rhai,
    /// Rhai code written as the task's command (`kind = "eval"` in a TOML
    /// or JSON task file), run in-process.
    Eval,
}

impl Kind {
    /// The name used in the database.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Shell => "shell",
            Kind::Rhai => "rhai",
            Kind::Eval => "eval",
        }
    }
}

/// Per-task settings. `None` (or empty) means the run's own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    /// How long the task may run (zero: no limit).
    pub timeout: Option<Duration>,
    /// The directory the task runs in, relative to the run's directory
    /// (the task file's) unless absolute.
    pub dir: Option<PathBuf>,
    /// Variables added to the task's environment, in order.
    pub env: Vec<(String, String)>,
    /// How many more times a failing or timed-out task is run.
    pub retries: Option<u32>,
    /// The pool whose limit the task counts against.
    pub pool: Option<Spanned<String>>,
    /// CPUs to request from a cluster for the task (Slurm's
    /// `--cpus-per-task`).
    pub cpus: Option<u32>,
    /// Memory to request from a cluster for the task, in bytes (Slurm's
    /// `--mem`).
    pub mem: Option<u64>,
}

impl Settings {
    /// The task's time limit, given the run's: `None` for no limit.
    pub(crate) fn timeout_or(&self, run: Option<Duration>) -> Option<Duration> {
        match self.timeout {
            Some(timeout) if timeout.is_zero() => None,
            Some(timeout) => Some(timeout),
            None => run,
        }
    }
}

/// The most retries a task may ask for.
pub(crate) const MAX_RETRIES: u32 = 100;

/// The most CPUs a task may request.
pub(crate) const MAX_CPUS: u32 = 4096;

/// Whether `key` can name an environment variable: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn is_env_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every task of one run, in declaration order, and the pools they share.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TaskSet {
    /// The source named on the command line, which problems about the set
    /// as a whole (such as having no tasks) point at.
    pub origin: SourceId,
    pub tasks: Vec<TaskSpec>,
    pub pools: Vec<PoolSpec>,
}

/// A named pool: at most `limit` of its tasks run at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PoolSpec {
    pub name: Spanned<String>,
    pub limit: usize,
}

/// Whether `c` may appear in a task name.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `name` is a valid task name: `[A-Za-z0-9_]+`.
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(is_name_char)
}

/// A valid name close to `name`, made by replacing every character that may
/// not appear in a name with `_`, or `None` if that gives nothing useful.
pub(crate) fn name_suggestion(name: &str) -> Option<String> {
    let suggestion: String = name
        .trim()
        .chars()
        .map(|c| if is_name_char(c) { c } else { '_' })
        .collect();
    suggestion
        .chars()
        .any(|c| c.is_ascii_alphanumeric())
        .then_some(suggestion)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_ascii_words() {
        assert!(is_valid_name("build_2"));
        assert!(is_valid_name("_"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("my-task"));
        assert!(!is_valid_name("my task"));
        assert!(!is_valid_name("tâche"));
    }

    #[test]
    fn fingerprints_are_stable_and_see_what_runs() {
        let env = vec![("K".to_owned(), "v".to_owned())];
        let base = fingerprint("make", None, &[], Kind::Shell);
        // The number is part of the database: it must never change.
        assert_eq!(base, fingerprint("make", None, &[], Kind::Shell));
        assert_eq!(base, -2_753_033_385_827_237_529, "changed: {base}");
        assert_ne!(base, fingerprint("make ", None, &[], Kind::Shell));
        assert_ne!(
            base,
            fingerprint("make", Some(Path::new("web")), &[], Kind::Shell)
        );
        assert_ne!(base, fingerprint("make", None, &env, Kind::Shell));
        assert_ne!(base, fingerprint("make", None, &[], Kind::Rhai));
        // Fields cannot run into each other.
        assert_ne!(
            fingerprint("ab", Some(Path::new("c")), &[], Kind::Shell),
            fingerprint("a", Some(Path::new("bc")), &[], Kind::Shell)
        );
    }

    #[test]
    fn suggestions_replace_bad_characters() {
        assert_eq!(name_suggestion("my-task").as_deref(), Some("my_task"));
        assert_eq!(name_suggestion("unit tests").as_deref(), Some("unit_tests"));
        assert_eq!(name_suggestion("--"), None);
    }
}
