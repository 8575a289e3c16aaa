//! What the history says of one task when a run asks: how it ended in its
//! latest runs, and how long its latest passed attempts took. A run asks
//! for `[timeout:3xp95]` before it starts, and for `task.history` as a
//! script's hooks and retry policy are called.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::stats::quantile;
use super::store::{Store, StoreError};
use crate::event::Status;

/// How many of a task's latest runs [`Past::outcomes`] holds.
pub(crate) const OUTCOMES: usize = 20;

/// How many of a task's latest passed attempts its percentiles are of.
pub(crate) const SAMPLES: usize = 100;

/// What the history says of one task.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Past {
    /// How its last attempt ended in each of its latest runs (at most
    /// [`OUTCOMES`]), oldest first.
    pub(crate) outcomes: Vec<Status>,
    /// Its latest passed attempts (at most [`SAMPLES`]) run as it runs
    /// now (the same fingerprint), shortest first.
    pub(crate) durations: Vec<Duration>,
}

impl Past {
    /// The median of its passed attempts.
    pub(crate) fn p50(&self) -> Option<Duration> {
        quantile(&self.durations, 0.5)
    }

    /// The 95th percentile of its passed attempts.
    pub(crate) fn p95(&self) -> Option<Duration> {
        quantile(&self.durations, 0.95)
    }
}

impl Store {
    /// What the runs before `before` say of the task `name` whose
    /// fingerprint is `fingerprint` (with none, its outcomes alone).
    pub(crate) fn past(
        &self,
        name: &str,
        fingerprint: Option<i64>,
        before: i64,
    ) -> Result<Past, StoreError> {
        let fail = |source| self.read_error(source);
        let mut statement = self.connection.prepare_cached(OUTCOMES_OF).map_err(fail)?;
        let mut outcomes: Vec<Status> = statement
            .query_map(
                rusqlite::params![name, before, i64::try_from(OUTCOMES).unwrap_or(i64::MAX)],
                |row| row.get::<_, String>(0),
            )
            .map_err(fail)?
            .filter_map(|status| match status {
                Ok(status) => Status::parse(&status).map(Ok),
                Err(error) => Some(Err(error)),
            })
            .collect::<rusqlite::Result<_>>()
            .map_err(fail)?;
        outcomes.reverse();
        let mut durations = match fingerprint {
            Some(fingerprint) => self.passed_up_to(before, name, fingerprint, SAMPLES)?,
            None => Vec::new(),
        };
        durations.sort_unstable();
        Ok(Past {
            outcomes,
            durations,
        })
    }
}

/// How the last attempt of a task ended in its latest runs before one,
/// newest first (tasks that had not ended are left out).
const OUTCOMES_OF: &str = "SELECT status FROM task_results
     WHERE name = ?1 AND run_id < ?2 AND status NOT IN ('pending', 'running')
     ORDER BY run_id DESC LIMIT ?3";

/// The past of a run's tasks, each read from the database the first time
/// a hook or a policy asks for it, on the thread that asks: no lock is
/// held while it reads, so a policy on the scheduler's thread never waits
/// for a hook's read. A database that cannot be read gives an empty past
/// (asked again next time): a hook never fails for want of history.
pub(crate) struct Recall {
    db: PathBuf,
    /// The run the past is before.
    before: i64,
    /// Each task's fingerprint, by name.
    fingerprints: HashMap<String, i64>,
    /// Connections not in use.
    stores: Mutex<Vec<Store>>,
    known: Mutex<HashMap<String, Arc<Past>>>,
}

impl std::fmt::Debug for Recall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recall")
            .field("db", &self.db)
            .field("before", &self.before)
            .finish_non_exhaustive()
    }
}

impl Recall {
    /// The past before run `before` in the database at `db`, of tasks
    /// with these fingerprints (by name).
    pub(crate) fn new(db: PathBuf, before: i64, fingerprints: HashMap<String, i64>) -> Recall {
        Recall {
            db,
            before,
            fingerprints,
            stores: Mutex::new(Vec::new()),
            known: Mutex::new(HashMap::new()),
        }
    }

    /// The past of the task `name`.
    pub(crate) fn of(&self, name: &str) -> Arc<Past> {
        if let Some(past) = self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
        {
            return Arc::clone(past);
        }
        let Some(past) = self.read(name) else {
            return Arc::default();
        };
        let past = Arc::new(past);
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), Arc::clone(&past));
        past
    }

    fn read(&self, name: &str) -> Option<Past> {
        let taken = self
            .stores
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let store = match taken {
            Some(store) => store,
            None => Store::open(&self.db).ok()?,
        };
        // A task the run does not know the fingerprint of (none, in
        // practice) still has outcomes; no durations match it.
        let fingerprint = self.fingerprints.get(name).copied();
        let past = store.past(name, fingerprint, self.before).ok();
        self.stores
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(store);
        past
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_past_is_of_the_runs_before_with_the_same_fingerprint() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Store::create(&dir.path().join("taskrun.db")).expect("a database");
        for (run, status, ms) in [
            (1, "passed", 100),
            (2, "failed", 300),
            (3, "passed", 200),
            (4, "passed", 900),
        ] {
            store.add_run(run, &[("build", 1, status, ms)]);
        }
        store.add_run(5, &[("build", 2, "passed", 5000)]);
        let past = store.past("build", Some(1), 5).expect("read");
        assert_eq!(
            past.outcomes,
            [
                Status::Passed,
                Status::Failed,
                Status::Passed,
                Status::Passed
            ]
        );
        assert_eq!(past.durations, [100, 200, 900].map(Duration::from_millis));
        assert_eq!(past.p50(), Some(Duration::from_millis(200)));
        // Linear between 200 and 900 at 0.95 × 2 = 1.9.
        assert_eq!(past.p95(), Some(Duration::from_millis(830)));
        // Run 4 itself is not its own past.
        let before = store.past("build", Some(1), 4).expect("read");
        assert_eq!(before.durations.len(), 2);
        assert!(
            store
                .past("other", Some(1), 9)
                .expect("read")
                .outcomes
                .is_empty()
        );
    }
}
