//! `taskrun diff [A [B]]`: what changed from one run to another.

use std::path::Path;

use super::print_out;
use super::show::find_run;
use crate::cli::RunRef;
use crate::error::Error;
use crate::exit_code;
use crate::record::{Store, last_attempts, quantile};
use crate::report::diff::{self as report, SAMPLES_FOR_P95, compare};

/// How many of a task's latest passed attempts before B its usual worst
/// is of.
const HISTORY: usize = 100;

/// `taskrun diff`.
pub(crate) fn diff(
    db: &Path,
    a: Option<RunRef>,
    b: Option<RunRef>,
    json: bool,
    exit_code_on_new_failure: bool,
) -> Result<u8, Error> {
    // A missing database is an error here (there is nothing to compare),
    // and none is created.
    let store = Store::open(db)?;
    let later = find_run(&store, db, b.unwrap_or(RunRef::Latest))?;
    let a = if let Some(a) = a {
        a
    } else {
        let id = store
            .previous_of_same_file(&later)?
            .ok_or(Error::NoEarlierRun { run: later.id })?;
        RunRef::Id(id)
    };
    let earlier = find_run(&store, db, a)?;
    let (a_rows, b_rows) = (store.tasks(&earlier)?, store.tasks(&later)?);
    let fingerprints = store.fingerprints_of(later.id)?;
    let mut problem = None;
    let mut p95 = |name: &str| match fingerprints
        .get(name)
        .map_or(Ok(Vec::new()), |&fingerprint| {
            store.passed_up_to(later.id, name, fingerprint, HISTORY)
        }) {
        Ok(mut durations) if durations.len() >= SAMPLES_FOR_P95 => {
            durations.sort_unstable();
            quantile(&durations, 0.95).map(|p95| (durations.len(), p95))
        }
        Ok(_) => None,
        Err(error) => {
            problem.get_or_insert(error);
            None
        }
    };
    let mut diff = compare(
        (earlier.id, &last_attempts(&a_rows)),
        (later.id, &last_attempts(&b_rows)),
        &mut p95,
    );
    if let Some(error) = problem {
        return Err(error.into());
    }
    // A retry holds only the tasks it ran again: those it did not run
    // were not removed.
    if later.retry_of == Some(earlier.id) {
        diff.removed.clear();
    }
    print_out(&if json {
        report::diff_json(&diff)
    } else {
        report::diff(&diff)
    })?;
    Ok(if exit_code_on_new_failure && diff.has_new_failure() {
        exit_code::FAILURE
    } else {
        exit_code::SUCCESS
    })
}
