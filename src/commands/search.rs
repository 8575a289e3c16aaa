//! `taskrun search`: the recorded output of tasks searched for a phrase;
//! and `taskrun index`, which brings the full-text index up to date.
//!
//! `search` first indexes what was recorded since the last time (see
//! `record::index`), waiting at most [`LOCK_WAIT`] for the write lock. A
//! database it cannot write (read-only, or locked by a run that is
//! recording) is searched all the same: what is not in the index yet is
//! scanned, and a note on standard error says so.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use super::{print_out, started_since, task_patterns};
use crate::cli::{SearchArgs, StreamArg};
use crate::error::{Error, plural};
use crate::event::Stream;
use crate::exit_code;
use crate::record::{
    Indexed, QueryProblem, Search, SearchError, Store, StoreError, Window, fts_query,
};
use crate::report::history::size;
use crate::report::search as report;

/// How long `search` waits for another process's write lock before it
/// scans instead of indexing.
const LOCK_WAIT: Duration = Duration::from_millis(200);

/// Above this many rows to index, `search` says that it is indexing (on
/// a terminal), since that can take a while once.
const LONG_CATCH_UP: u64 = 10_000;

/// `taskrun search`.
pub(crate) fn search(args: &SearchArgs) -> Result<u8, Error> {
    let stream = args.stream.map(|stream| match stream {
        StreamArg::Out => Stream::Stdout,
        StreamArg::Err => Stream::Stderr,
    });
    let fts = fts_query(&args.query, args.raw, stream).map_err(|problem| match problem {
        QueryProblem::Empty => Error::EmptyQuery {
            query: args.query.clone(),
        },
        QueryProblem::Unpaired => Error::BadQuery {
            query: args.query.clone(),
            why: "its parentheses do not pair, and with --stream it must be one whole expression"
                .to_owned(),
        },
    })?;
    let patterns = task_patterns(&args.task)?;
    let mut store = Store::open(&args.db.path)?;
    let fallback = catch_up(&mut store, &args.db.path)?;
    let runs = if args.last.is_some() || args.since.is_some() {
        Some(
            store.window(Window {
                last: args
                    .last
                    .map(|last| usize::try_from(last).unwrap_or(usize::MAX)),
                since: args.since.map(started_since),
            })?,
        )
    } else {
        None
    };
    let wanted =
        |name: &str| patterns.is_empty() || patterns.iter().any(|pattern| pattern.matches(name));
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let found = store
        .search(&Search {
            query: &fts,
            runs: runs.as_ref(),
            wanted: &wanted,
            limit,
        })
        .map_err(|error| match error {
            SearchError::Store(error) => Error::Store(error),
            SearchError::Query(why) => Error::BadQuery {
                query: args.query.clone(),
                why,
            },
        })?;
    if let Some(why) = fallback {
        eprintln!(
            "note: `{}` is {why}, so the index was not brought up to date: {} not in it {} scanned instead",
            args.db.path.display(),
            plural(usize::try_from(found.scanned).unwrap_or(usize::MAX), "row"),
            if found.scanned == 1 { "was" } else { "were" },
        );
    }
    let text = if args.json {
        report::search_json(&args.query, &fts, &found, fallback)
    } else {
        report::search(&found, limit)
    };
    print_out(&text)?;
    Ok(if found.groups.is_empty() {
        exit_code::FAILURE
    } else {
        exit_code::SUCCESS
    })
}

/// Indexes what is new, if the database can be written; if it cannot,
/// why (`read-only`, `locked by another process`).
fn catch_up(store: &mut Store, path: &Path) -> Result<Option<&'static str>, Error> {
    let ahead = store.unindexed_rows()?;
    if ahead > LONG_CATCH_UP && std::io::stderr().is_terminal() {
        eprintln!(
            "Indexing the output of about {ahead} task rows recorded since `{}` was last searched (once; `taskrun index` does it ahead)...",
            path.display()
        );
    }
    store.wait_for_lock(LOCK_WAIT)?;
    match store.index_output(&mut |_| {}) {
        Ok(_) => Ok(None),
        Err(StoreError::ReadOnly { .. }) => Ok(Some("read-only")),
        Err(StoreError::Locked { .. }) => Ok(Some("locked by another process")),
        Err(error) => Err(error.into()),
    }
}

/// `taskrun index`.
pub(crate) fn index(path: &Path) -> Result<u8, Error> {
    let mut store = Store::open(path)?;
    let on_terminal = std::io::stderr().is_terminal();
    let indexed = store.index_output(&mut |so_far: Indexed| {
        if on_terminal {
            eprint!(
                "\r{} ({})...",
                plural(usize::try_from(so_far.rows).unwrap_or(usize::MAX), "row"),
                size(i64::try_from(so_far.bytes).unwrap_or(i64::MAX))
            );
        }
    })?;
    if on_terminal {
        eprint!("\r\x1b[K");
    }
    let mut text = format!(
        "Indexed the output of {} ({}).\n",
        plural(
            usize::try_from(indexed.rows).unwrap_or(usize::MAX),
            "task row"
        ),
        size(i64::try_from(indexed.bytes).unwrap_or(i64::MAX))
    );
    if indexed.waiting {
        text.push_str("The rows of a run still going are indexed once it ends.\n");
    }
    print_out(&text)?;
    Ok(exit_code::SUCCESS)
}
