//! Run history in SQLite: the schema, the store that reads and writes it,
//! and the recorder that consumes a run's events.
//!
//! The recorder is one more consumer of the event stream, on its own
//! thread; nothing here calls back into the scheduler.

mod liveness;
mod recorder;
mod schema;
mod store;

pub use recorder::Recorder;
pub use schema::VERSION;
pub use store::{
    NewRun, RunIds, RunRow, RunStatus, Store, StoreError, StoredOutput, TaskRow, status_of,
    unix_seconds,
};
