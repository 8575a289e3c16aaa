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

/// A task's own time limit, as it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timeout {
    /// A fixed limit (zero: none, whatever the run's is).
    After(Duration),
    /// A multiple of the task's recorded p95 (`3xp95`), in thousandths.
    /// `resolved` is set when a run starts, from the history: the
    /// multiple of the p95 of the task's latest passed attempts (never
    /// under [`MIN_P95_TIMEOUT`]), or `None` with fewer than
    /// [`P95_SAMPLES`] of them, when the run's limit applies.
    OfP95 {
        per_mille: u32,
        resolved: Option<Duration>,
    },
}

/// How many passed attempts a task needs before `[timeout:3xp95]` is
/// worked out from them.
pub(crate) const P95_SAMPLES: usize = 5;

/// The least time limit a multiple of a p95 gives.
pub(crate) const MIN_P95_TIMEOUT: Duration = Duration::from_secs(1);

impl Timeout {
    /// Reads a limit: a duration (`30s`, `1.5m`, `0`), or a multiple of
    /// the task's recorded p95 (`3xp95`, `1.5xp95`).
    pub(crate) fn parse(text: &str) -> Result<Timeout, String> {
        let text = text.trim();
        let Some(times) = text.strip_suffix("xp95") else {
            return crate::units::parse_duration(text).map(Timeout::After);
        };
        let per_mille = times
            .parse::<f64>()
            .ok()
            .filter(|times| times.is_finite() && *times > 0.0 && *times <= 1000.0)
            .map(|times| (times * 1000.0).round())
            .filter(|per_mille| *per_mille >= 1.0);
        match per_mille {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "between 1 and 1,000,000"
            )]
            Some(per_mille) => Ok(Timeout::OfP95 {
                per_mille: per_mille as u32,
                resolved: None,
            }),
            None => Err(format!(
                "`{text}` is not a multiple of the p95: write a number over 0 (up to 1000) before `xp95`, e.g. `3xp95`"
            )),
        }
    }

    /// The limit as it is written: what [`Timeout::parse`] reads back.
    pub(crate) fn text(self) -> String {
        match self {
            Timeout::After(limit) => crate::structured::doc::duration_text(limit),
            Timeout::OfP95 { per_mille, .. } => {
                let whole = per_mille / 1000;
                let rest = per_mille % 1000;
                if rest == 0 {
                    format!("{whole}xp95")
                } else {
                    let fraction = format!("{rest:03}");
                    format!("{whole}.{}xp95", fraction.trim_end_matches('0'))
                }
            }
        }
    }

    /// The multiple of `p95` this limit stands for, if it is one: the
    /// limit a run gives the task, never under [`MIN_P95_TIMEOUT`].
    pub(crate) fn resolve(&mut self, p95: Option<Duration>) {
        if let Timeout::OfP95 {
            per_mille,
            resolved,
        } = self
        {
            *resolved = p95.map(|p95| {
                p95.checked_mul(*per_mille)
                    .map_or(Duration::MAX, |times| times / 1000)
                    .max(MIN_P95_TIMEOUT)
            });
        }
    }
}

/// Per-task settings. `None` (or empty) means the run's own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    /// How long the task may run.
    pub timeout: Option<Timeout>,
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
    /// What the task declares for up-to-date checks.
    pub cache: CacheSpec,
}

/// What a task declares so that taskrun can tell when it is up to date:
/// `[inputs:]`, `[outputs:]`, `[uses_env:]`, `[tools:]` and `[cache:no]`.
/// A task with neither inputs nor outputs is never cached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CacheSpec {
    /// Globs of the files whose content counts, relative to the task's
    /// directory, as written; `!` before one excludes what it matches.
    pub inputs: Vec<Spanned<String>>,
    /// The files (or globs, or `dir/` trees) the task makes, relative to
    /// its directory, as written.
    pub outputs: Vec<Spanned<String>>,
    /// Inherited variables whose value counts.
    pub uses_env: Vec<String>,
    /// Programs, found through `PATH`, whose content counts.
    pub tools: Vec<String>,
    /// `[cache:no]`: never looked up nor stored, whatever it declares.
    pub off: bool,
}

impl CacheSpec {
    /// Whether the task takes part in up-to-date checks: it declares
    /// inputs or outputs and does not opt out.
    pub(crate) fn cacheable(&self) -> bool {
        !self.off && (!self.inputs.is_empty() || !self.outputs.is_empty())
    }
}

impl Settings {
    /// The task's time limit, given the run's: `None` for no limit.
    pub(crate) fn timeout_or(&self, run: Option<Duration>) -> Option<Duration> {
        match self.timeout {
            Some(Timeout::After(limit)) if limit.is_zero() => None,
            Some(
                Timeout::After(limit)
                | Timeout::OfP95 {
                    resolved: Some(limit),
                    ..
                },
            ) => Some(limit),
            Some(Timeout::OfP95 { resolved: None, .. }) | None => run,
        }
    }

    /// The task's own time limit, as a run gives it (a multiple of its
    /// p95 once worked out), without the run's: what is recorded.
    pub(crate) fn own_timeout(&self) -> Option<Duration> {
        match self.timeout {
            Some(Timeout::After(limit)) => Some(limit),
            Some(Timeout::OfP95 { resolved, .. }) => resolved,
            None => None,
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
    use std::time::Duration;

    use super::{MIN_P95_TIMEOUT, Settings, Timeout};

    #[test]
    fn a_timeout_is_a_duration_or_a_multiple_of_the_p95() {
        assert_eq!(
            Timeout::parse("90s"),
            Ok(Timeout::After(Duration::from_secs(90)))
        );
        assert_eq!(
            Timeout::parse(" 3xp95 "),
            Ok(Timeout::OfP95 {
                per_mille: 3000,
                resolved: None
            })
        );
        for text in ["3xp95", "1.5xp95", "0.25xp95", "1000xp95"] {
            assert_eq!(Timeout::parse(text).map(Timeout::text).as_deref(), Ok(text));
        }
        for bad in [
            "0xp95", "-1xp95", "xp95", "nanxp95", "1e9xp95", "3 x p95", "3 xp95",
        ] {
            assert!(Timeout::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_multiple_of_the_p95_applies_once_known_and_never_under_a_second() {
        let mut settings = Settings {
            timeout: Some(Timeout::parse("3xp95").unwrap_or(Timeout::After(Duration::ZERO))),
            ..Settings::default()
        };
        let run = Some(Duration::from_secs(60));
        // Not worked out yet (too little history): the run's limit.
        assert_eq!(settings.timeout_or(run), run);
        assert_eq!(settings.own_timeout(), None);
        if let Some(timeout) = &mut settings.timeout {
            timeout.resolve(Some(Duration::from_millis(1500)));
        }
        assert_eq!(settings.timeout_or(run), Some(Duration::from_millis(4500)));
        assert_eq!(settings.own_timeout(), Some(Duration::from_millis(4500)));
        if let Some(timeout) = &mut settings.timeout {
            timeout.resolve(Some(Duration::from_millis(20)));
        }
        assert_eq!(settings.timeout_or(None), Some(MIN_P95_TIMEOUT));
        // A damaged history does not overflow.
        if let Some(timeout) = &mut settings.timeout {
            timeout.resolve(Some(Duration::MAX));
        }
        assert_eq!(settings.own_timeout(), Some(Duration::MAX));
        // Written the same whatever it was worked out to.
        assert_eq!(
            settings.timeout.map(Timeout::text).as_deref(),
            Some("3xp95")
        );
    }

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
