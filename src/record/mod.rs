//! Run history in SQLite: the schema, opening the database, writing a
//! run as it goes, and reading it back as typed rows.
//!
//! The recorder is one more consumer of the event stream, on its own
//! thread; nothing here calls back into the scheduler.

mod cache;
mod durations;
mod gc;
mod index;
mod liveness;
mod open;
mod prune;
mod recall;
mod recorder;
mod rows;
mod schema;
mod search;
mod stats;
mod store;
mod write;

pub(crate) use cache::CacheReader;
pub(crate) use durations::Known;
pub(crate) use index::Indexed;
pub(crate) use liveness::ProcessId;
pub(crate) use open::{OpenRun, OpenTask, OpenUpdate};
pub(crate) use prune::Deleted;
pub(crate) use recall::{Past, Recall};
pub(crate) use recorder::Recorder;
pub(crate) use rows::Lane;
pub(crate) use rows::{
    CacheOutcome, RunRow, RunStatus, StoredOutput, TaskCache, TaskRow, TaskState, last_attempts,
};
#[cfg(test)]
pub(crate) use search::Cut;
pub(crate) use search::{Found, Group, Match, QueryProblem, Search, SearchError, fts_query};
pub(crate) use stats::{Runs, TaskStats, Window, quantile};
pub(crate) use store::Store;
pub use store::StoreError;
pub(crate) use write::NewRun;
