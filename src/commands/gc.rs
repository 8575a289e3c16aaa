//! `taskrun gc`: cache entries that no recent run used are dropped, and
//! the stored objects nothing needs any more are deleted, so that the
//! store does not grow without end.
//!
//! What goes is decided by `cache::gc::plan` from the history's rows and
//! a walk of the store; this wires the two together, under the store's
//! lock, and says what happened. Rows go before files: the entries are
//! deleted in one transaction, and only then their objects, so no entry
//! ever names an object a collection deleted. A dry run takes no lock and
//! changes nothing.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cache::gc::{self, Collection, Contents, GRACE, Policy, StoreLock};
use crate::cli::GcArgs;
use crate::error::Error;
use crate::exit_code;
use crate::record::Store;
use crate::report::history::{local_time, size, to_json};
use crate::units::unix_seconds;

use super::print_out;
use super::run::{absolute, runs_dir, store_beside};

/// `taskrun gc`.
pub(crate) fn gc(args: &GcArgs) -> Result<u8, Error> {
    let db = &args.db.path;
    if !db.exists() {
        print_out(&format!(
            "No runs recorded yet: `{}` does not exist; nothing to collect.\n",
            db.display()
        ))?;
        return Ok(exit_code::SUCCESS);
    }
    let root = match &args.store {
        Some(store) => absolute(store),
        None => store_beside(db),
    };
    let runs = runs_dir(args.store.is_some(), &root, db);
    let store_error = |source| Error::CannotWrite {
        path: root.clone(),
        source,
    };
    // A store that does not exist yet is made by the first run that
    // stores, which then holds the lock; nothing is made for it here.
    let _lock = if args.dry_run || !root.exists() {
        None
    } else {
        StoreLock::exclusive(&root, || {
            eprintln!(
                "waiting for another taskrun to finish storing in `{}`",
                root.display()
            );
        })
        .map_err(store_error)?
    };
    let mut store = Store::open(db)?;
    let rows = store.cache_rows(args.keep_runs)?;
    let now = SystemTime::now();
    let contents = Contents::scan(&root, &runs, now.checked_sub(GRACE).unwrap_or(UNIX_EPOCH))
        .map_err(store_error)?;
    let policy = Policy {
        max_age: args.max_age,
        max_size: args.max_size,
        now: unix_seconds(now),
    };
    let collection = gc::plan(&rows, &contents, &policy);
    let mut failed = Vec::new();
    if !args.dry_run {
        let keys: Vec<String> = collection
            .dropped
            .iter()
            .map(|dropped| dropped.entry.key.clone())
            .collect();
        if !keys.is_empty() {
            store.delete_cache_entries(&keys)?;
        }
        failed = gc::sweep(&root, &collection).failed;
    }
    let kept = rows.entries.len() - collection.dropped.len();
    let out = if args.json {
        json(&collection, kept, args.dry_run)
    } else {
        summary(&collection, kept, args.dry_run)
    };
    print_out(&out)?;
    for (path, error) in &failed {
        eprintln!("warning: cannot remove `{}`: {error}", path.display());
    }
    Ok(if failed.is_empty() {
        exit_code::SUCCESS
    } else {
        exit_code::FAILURE
    })
}

/// `1 cache entry`, `2 cache entries`.
fn entries(count: usize) -> String {
    if count == 1 {
        "1 cache entry".to_owned()
    } else {
        format!("{count} cache entries")
    }
}

/// `1 object`, `2 objects`.
fn objects(count: usize) -> String {
    crate::error::plural(count, "object")
}

fn bytes(count: u64) -> String {
    size(i64::try_from(count).unwrap_or(i64::MAX))
}

/// What was removed, or with `dry_run` what would be and which entries;
/// `kept` entries stay.
fn summary(collection: &Collection, kept: usize, dry_run: bool) -> String {
    let mut out = String::new();
    let (verb, holds) = if dry_run {
        ("Would remove", "would hold")
    } else {
        ("Removed", "holds")
    };
    if dry_run && !collection.dropped.is_empty() {
        let _ = writeln!(out, "{verb} {}:", entries(collection.dropped.len()));
        for dropped in &collection.dropped {
            let entry = &dropped.entry;
            let _ = writeln!(
                out,
                "  {} (stored by run #{}, last used {}): {}",
                entry.task_name,
                entry.producer_run,
                local_time(entry.used_at()),
                dropped.why.as_str()
            );
        }
    }
    let left = format!(
        "the store {holds} {} ({})",
        objects(collection.left_objects),
        bytes(collection.left_bytes)
    );
    if collection.dropped.is_empty()
        && collection.objects.is_empty()
        && collection.out_dirs.is_empty()
    {
        let _ = writeln!(out, "Nothing to collect: {} kept; {left}.", entries(kept));
    } else {
        let _ = writeln!(
            out,
            "{verb} {} and {} ({}); {left}.",
            entries(collection.dropped.len()),
            objects(collection.objects.len()),
            bytes(collection.object_bytes)
        );
    }
    if !collection.temporary.is_empty() {
        let _ = writeln!(
            out,
            "{verb} {} ({}) left in `tmp/` by interrupted runs.",
            crate::error::plural(collection.temporary.len(), "temporary file"),
            bytes(collection.temporary_bytes)
        );
    }
    if !collection.out_dirs.is_empty() {
        let _ = writeln!(
            out,
            "{verb} the $TASKRUN_OUT directories of {} (under `out/`).",
            crate::error::plural(collection.out_dirs.len(), "older run")
        );
    }
    if let Some(over) = collection.over {
        let mut kept = Vec::new();
        if over.protected_entries > 0 {
            kept.push(format!(
                "{} the last run used",
                entries(over.protected_entries)
            ));
        }
        if over.young_objects > 0 {
            kept.push(format!(
                "{} ({}) written within the last hour",
                objects(over.young_objects),
                bytes(over.young_bytes)
            ));
        }
        kept.push("the key manifests of recorded runs".to_owned());
        let _ = writeln!(
            out,
            "The store {} still over --max-size {}: kept are {}.",
            if dry_run { "would be" } else { "is" },
            bytes(over.max_size),
            kept.join(", ")
        );
    }
    out
}

/// The same as JSON.
fn json(collection: &Collection, kept: usize, dry_run: bool) -> String {
    let dropped: Vec<serde_json::Value> = collection
        .dropped
        .iter()
        .map(|dropped| {
            serde_json::json!({
                "task": dropped.entry.task_name,
                "key": dropped.entry.key,
                "run": dropped.entry.producer_run,
                "last_used": crate::units::utc_timestamp(dropped.entry.used_at()),
                "why": dropped.why.as_str(),
            })
        })
        .collect();
    to_json(&serde_json::json!({
        "dry_run": dry_run,
        "removed": {
            "entries": dropped,
            "objects": collection.objects.len(),
            "bytes": collection.object_bytes,
            "temporary_files": collection.temporary.len(),
            "temporary_bytes": collection.temporary_bytes,
            "out_dirs": collection.out_dirs.iter().map(|dir| dir.display().to_string()).collect::<Vec<_>>(),
        },
        "kept_entries": kept,
        "store": {
            "objects": collection.left_objects,
            "bytes": collection.left_bytes,
        },
        "over_max_size": collection.over.map(|over| serde_json::json!({
            "max_size": over.max_size,
            "protected_entries": over.protected_entries,
            "young_objects": over.young_objects,
            "young_bytes": over.young_bytes,
        })),
    }))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::cache::gc::{Dropped, EntryRow, Over, Why};

    fn collection() -> Collection {
        Collection {
            dropped: vec![Dropped {
                entry: EntryRow {
                    out: None,
                    key: "k".to_owned(),
                    task_name: "b".to_owned(),
                    outputs: None,
                    producer_run: 1,
                    created_at: 0,
                    last_hit_at: None,
                },
                why: Why::Unused,
            }],
            objects: vec![PathBuf::from("a"), PathBuf::from("b")],
            object_bytes: 2048,
            left_objects: 1,
            left_bytes: 5,
            ..Collection::default()
        }
    }

    #[test]
    fn the_summary_says_what_went_and_what_is_left() {
        assert_eq!(
            summary(&collection(), 3, false),
            "Removed 1 cache entry and 2 objects (2.0 KiB); the store holds 1 object (5 B).\n"
        );
        // TZ is not set in unit tests' output check: only the shape.
        let dry = summary(&collection(), 3, true);
        assert!(dry.starts_with("Would remove 1 cache entry:\n  b (stored by run #1, last used "));
        assert!(dry.ends_with(
            "): not used recently\nWould remove 1 cache entry and 2 objects (2.0 KiB); the store would hold 1 object (5 B).\n"
        ));
        assert_eq!(
            summary(&Collection::default(), 2, false),
            "Nothing to collect: 2 cache entries kept; the store holds 0 objects (0 B).\n"
        );
    }

    #[test]
    fn the_summary_says_why_the_store_is_still_too_large() {
        let mut over = collection();
        over.temporary = vec![PathBuf::from("t")];
        over.temporary_bytes = 3;
        over.over = Some(Over {
            max_size: 4,
            protected_entries: 2,
            young_objects: 1,
            young_bytes: 5,
        });
        assert_eq!(
            summary(&over, 2, false),
            "Removed 1 cache entry and 2 objects (2.0 KiB); the store holds 1 object (5 B).\n\
             Removed 1 temporary file (3 B) left in `tmp/` by interrupted runs.\n\
             The store is still over --max-size 4 B: kept are 2 cache entries the last run used, \
             1 object (5 B) written within the last hour, the key manifests of recorded runs.\n"
        );
    }

    #[test]
    fn json_has_the_same_figures() {
        let value: serde_json::Value =
            serde_json::from_str(&json(&collection(), 3, false)).unwrap();
        assert_eq!(value["removed"]["objects"], 2);
        assert_eq!(value["removed"]["entries"][0]["task"], "b");
        assert_eq!(value["store"]["bytes"], 5);
        assert_eq!(value["over_max_size"], serde_json::Value::Null);
    }
}
