//! Why a task ran or was restored: its key manifest compared with the one
//! of its last stored pass, in words (`show --why`, `run --explain`) and
//! as JSON.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::key::{Change, Manifest, diff};

/// An attempt as the cache saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attempt {
    /// The task's name.
    pub task: String,
    /// Its key.
    pub key: String,
    /// `hit`, `stored`, `not_stored` or `miss` (ran and did not pass).
    pub outcome: String,
    /// Why a pass was not stored, or why a stored entry could not be used.
    pub reason: Option<String>,
    /// For a hit: the run and task row it was restored from.
    pub source: Option<(i64, i64)>,
}

/// The stored pass an attempt is compared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Earlier {
    pub run: i64,
    pub key: String,
}

/// The explanation of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Why {
    pub attempt: Attempt,
    pub earlier: Option<Earlier>,
    /// What changed since `earlier`: `None` when either manifest is not in
    /// the store any more.
    pub changes: Option<Vec<Change>>,
}

impl Why {
    /// Compares `attempt`, whose manifest is `now`, with `earlier`, whose
    /// manifest is `before` (either `None` when the store has lost it).
    pub(crate) fn new(
        attempt: Attempt,
        now: Option<&Manifest>,
        earlier: Option<Earlier>,
        before: Option<&Manifest>,
    ) -> Why {
        let changes = match (now, before) {
            (Some(now), Some(before)) => Some(diff(before, now)),
            _ => None,
        };
        Why {
            attempt,
            earlier,
            changes,
        }
    }

    /// The explanation in words, a line each, ending in a newline.
    pub(crate) fn text(&self) -> String {
        let attempt = &self.attempt;
        let mut text = String::new();
        let name = &attempt.task;
        let _ = match (attempt.outcome.as_str(), attempt.source) {
            ("hit", Some((run, task))) => writeln!(
                text,
                "{name} was up to date: restored from run #{run} (task row {task})"
            ),
            ("stored", _) => writeln!(text, "{name} ran and passed, and was stored"),
            ("not_stored", _) => writeln!(
                text,
                "{name} ran and passed; not stored: {}",
                attempt.reason.as_deref().unwrap_or("no reason recorded")
            ),
            _ => writeln!(text, "{name} ran and did not pass; not stored"),
        };
        if attempt.outcome == "hit" {
            return text;
        }
        if let (Some(reason), "stored" | "miss") = (&attempt.reason, attempt.outcome.as_str()) {
            let _ = writeln!(text, "  its stored pass could not be used: {reason}");
        }
        let Some(earlier) = &self.earlier else {
            text.push_str("  it has no earlier stored pass to compare with\n");
            return text;
        };
        let _ = write!(text, "  compared with its pass in run #{}", earlier.run);
        match &self.changes {
            None => text.push_str(": that pass's key manifest is no longer in the store\n"),
            Some(changes) if changes.is_empty() => text.push_str(
                ": nothing changed (the entry was not used: --force, or its objects were missing)\n",
            ),
            Some(changes) => {
                text.push_str(":\n");
                for change in changes {
                    let _ = writeln!(text, "  {}", words(change));
                }
            }
        }
        text
    }

    /// The explanation as JSON.
    pub(crate) fn json(&self) -> Value {
        let attempt = &self.attempt;
        json!({
            "task": attempt.task,
            "key": attempt.key,
            "outcome": attempt.outcome,
            "reason": attempt.reason,
            "source": attempt.source.map(|(run, task)| json!({"run": run, "task_row": task})),
            "compared_with": self.earlier.as_ref().map(|earlier| json!({
                "run": earlier.run,
                "key": earlier.key,
            })),
            "changes": self.changes.as_ref().map(|changes| changes.iter().map(|change| json!({
                "kind": change.kind,
                "name": change.name,
                "change": match (&change.before, &change.after) {
                    (None, _) => "added",
                    (_, None) => "removed",
                    _ => "changed",
                },
                "before": change.before,
                "after": change.after,
            })).collect::<Vec<_>>()),
        })
    }
}

/// One change in words: `changed input src/a.c`.
pub(crate) fn words(change: &Change) -> String {
    let Change {
        kind,
        name,
        before,
        after,
    } = change;
    let how = match (before, after) {
        (None, _) => "added",
        (_, None) => "removed",
        _ => "changed",
    };
    let both = |before: &Option<String>, after: &Option<String>| {
        format!(
            "{} -> {}",
            before.as_deref().unwrap_or("(none)"),
            after.as_deref().unwrap_or("(none)")
        )
    };
    match kind.as_str() {
        "input" => format!("{how} input {name}"),
        "pattern" => match (before, after) {
            (Some(before), Some(after)) => {
                format!("input pattern {name} matches {after} files (was {before})")
            }
            _ => format!("{how} input pattern {name}"),
        },
        "env" | "uses_env" => {
            let unset = |value: &Option<String>| value.as_deref() == Some("<unset>");
            if unset(after) {
                format!("env {name} is now unset")
            } else if unset(before) {
                format!("env {name} is now set")
            } else {
                format!("{how} env {name}")
            }
        }
        "cmd" => format!("changed command: {}", both(before, after)),
        "timeout" => format!("changed timeout: {}", both(before, after)),
        "dir" => format!("changed directory: {}", both(before, after)),
        "dep" => match after.as_deref() {
            Some("unknown") => {
                format!(
                    "dependency {name} ran without declared outputs, so what it made is unknown"
                )
            }
            _ if before.is_none() => format!("added dependency {name}"),
            None => format!("removed dependency {name}"),
            _ => format!("dependency {name} made different outputs"),
        },
        "tool" => format!("{how} tool {name}"),
        "output" => format!("{how} declared output {name}"),
        "script" => "the script changed".to_owned(),
        "salt" => "the cache salt changed".to_owned(),
        "format" => "the cache format changed".to_owned(),
        other => format!("{how} {other} {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(outcome: &str) -> Attempt {
        Attempt {
            task: "build".to_owned(),
            key: "5e3b".repeat(16),
            outcome: outcome.to_owned(),
            reason: None,
            source: None,
        }
    }

    #[test]
    fn a_miss_names_what_changed() {
        let mut before = Manifest::new(None);
        before.add("input", "src/a.c", "f 1");
        before.add("input", "src/old.c", "f 2");
        before.add_secret("uses_env", "CC", Some(b"gcc"));
        let mut now = Manifest::new(None);
        now.add("input", "src/a.c", "f 3");
        now.add("input", "src/util.c", "f 4");
        now.add_secret("uses_env", "CC", None);
        let why = Why::new(
            attempt("stored"),
            Some(&now),
            Some(Earlier {
                run: 41,
                key: "0".repeat(64),
            }),
            Some(&before),
        );
        assert_eq!(
            why.text(),
            "build ran and passed, and was stored\n  compared with its pass in run #41:\n  env CC is now unset\n  changed input src/a.c\n  removed input src/old.c\n  added input src/util.c\n"
        );
        let json = why.json();
        assert_eq!(json["changes"][1]["change"], "changed");
        assert_eq!(json["changes"][1]["name"], "src/a.c");
        assert_eq!(json["compared_with"]["run"], 41);
    }

    #[test]
    fn a_hit_says_where_it_came_from_and_a_lost_manifest_is_said() {
        let mut hit = attempt("hit");
        hit.source = Some((41, 1234));
        assert_eq!(
            Why::new(hit, None, None, None).text(),
            "build was up to date: restored from run #41 (task row 1234)\n"
        );
        let mut not_stored = attempt("not_stored");
        not_stored.reason = Some("src/a.c changed while it ran".to_owned());
        let why = Why::new(
            not_stored,
            None,
            Some(Earlier {
                run: 3,
                key: "1".repeat(64),
            }),
            None,
        );
        assert_eq!(
            why.text(),
            "build ran and passed; not stored: src/a.c changed while it ran\n  compared with its pass in run #3: that pass's key manifest is no longer in the store\n"
        );
        assert_eq!(
            Why::new(attempt("miss"), None, None, None).text(),
            "build ran and did not pass; not stored\n  it has no earlier stored pass to compare with\n"
        );
    }
}
