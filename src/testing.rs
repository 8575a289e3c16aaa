//! Helpers shared by the unit tests.

use crate::error::GraphError;
use crate::graph::Plan;
use crate::source::{Source, Sources};
use crate::task::TaskSet;
use crate::taskfile;

/// Parses `text` as `tasks.txt` (which must have no parse errors) and
/// builds its plan.
pub(crate) fn build(text: &str) -> Result<Plan, Vec<GraphError>> {
    let mut sources = Sources::new();
    let source = Source::from_bytes("tasks.txt", text.as_bytes());
    let id = sources.add(source.clone());
    let parsed = taskfile::parse(&source, id);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    Plan::build(TaskSet {
        origin: id,
        tasks: parsed.tasks,
        pools: parsed.pools,
    })
}

/// The plan of a valid task file.
pub(crate) fn plan(text: &str) -> Plan {
    build(text).unwrap()
}
