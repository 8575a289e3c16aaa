//! A recorded run laid out in time: each attempt a bar in one of the
//! run's lanes, the run's actual critical path, and what bounds the run.
//! The trace (`--trace`) and the HTML report (`--html`) both draw this, so
//! that they always agree.
//!
//! Times are microseconds after the run's start. Attempts recorded with
//! their start and lane (`start_us`, `slot`) keep them. A run with any
//! attempt recorded before taskrun kept those has only whole seconds: its
//! bars start at `started_at` and get lanes the way ninjatracing rebuilds
//! them (sorted by start, the first lane free), and the timeline says it
//! is approximate. Either way no two bars in a lane overlap.

use std::collections::HashMap;
use std::time::Duration;

use crate::order::chain_lengths;
use crate::record::{RunRow, TaskRow, TaskState};

/// Less than this (in µs) between a task becoming ready and starting is
/// the time it takes to start, not a wait for a place.
const STARTING: u64 = 1000;

/// A run's attempts in time.
#[derive(Debug)]
pub(crate) struct Timeline<'a> {
    pub(crate) run: &'a RunRow,
    /// Every attempt that started, in the order they started.
    pub(crate) bars: Vec<Bar<'a>>,
    /// The tasks that never started (skipped), each placed where it was
    /// given up: when the last of its dependencies ended.
    pub(crate) unstarted: Vec<(&'a TaskRow, u64)>,
    /// How many lanes the bars take.
    pub(crate) lanes: usize,
    /// How many tasks could run at once.
    pub(crate) jobs: usize,
    /// Whether the starts are whole seconds and the lanes rebuilt.
    pub(crate) approximate: bool,
    /// From the run's start to its end.
    pub(crate) wall: u64,
    /// The time of every attempt, added up.
    pub(crate) work: u64,
    /// The run's actual critical path, first to last: indices into `bars`
    /// of every attempt of each task on it.
    pub(crate) critical: Vec<usize>,
    /// The names of the tasks on it, first to last (those that never
    /// started included: a skipped task that another waited to end).
    path: Vec<&'a str>,
    /// For each task that started: when it became ready (the last of the
    /// tasks it waited for ended, or the run started) and when its first
    /// attempt started.
    ready: Vec<(u64, u64)>,
    /// How long the path's tasks waited for a place after their last
    /// dependency on it ended (the first, after the run started).
    pub(crate) queue_wait: u64,
    /// The longest chain of recorded work through the task graph.
    pub(crate) longest_chain: u64,
}

/// One attempt in its lane.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bar<'a> {
    pub(crate) task: &'a TaskRow,
    pub(crate) start: u64,
    /// At least 1 µs.
    pub(crate) duration: u64,
    pub(crate) lane: usize,
    /// Whether its end is not known (its taskrun died while it ran, or it
    /// is still running): the bar ends with the run's record.
    pub(crate) open: bool,
    pub(crate) critical: bool,
}

impl Bar<'_> {
    pub(crate) fn end(&self) -> u64 {
        self.start.saturating_add(self.duration)
    }

    /// The category it is drawn in: its status, `running` or `unknown`.
    pub(crate) fn category(&self) -> &'static str {
        if self.open {
            "unknown"
        } else {
            self.task.state.as_str()
        }
    }
}

impl<'a> Timeline<'a> {
    /// The timeline of `run`, from its task rows (every attempt, in
    /// position then attempt order, as [`Store::tasks`] reads them).
    ///
    /// [`Store::tasks`]: crate::record::Store::tasks
    pub(crate) fn of(run: &'a RunRow, tasks: &'a [TaskRow]) -> Timeline<'a> {
        let graph = Graph::of(tasks);
        let started: Vec<&TaskRow> = tasks
            .iter()
            .filter(|task| task.lane.is_some() || task.started_at.is_some())
            .collect();
        let approximate = started.iter().any(|task| task.lane.is_none());
        let mut bars: Vec<Bar<'a>> = started
            .iter()
            .map(|&task| {
                let start = match task.lane {
                    Some(lane) if !approximate => micros(lane.start),
                    _ => {
                        let seconds = task
                            .started_at
                            .unwrap_or(run.started_at)
                            .checked_sub(run.started_at)
                            .unwrap_or(0);
                        u64::try_from(seconds)
                            .unwrap_or(0)
                            .saturating_mul(1_000_000)
                    }
                };
                Bar {
                    task,
                    start,
                    duration: task.duration.map_or(1, |duration| micros(duration).max(1)),
                    lane: 0,
                    open: task.duration.is_none()
                        || matches!(task.state, TaskState::Running | TaskState::Unknown),
                    critical: false,
                }
            })
            .collect();
        let known_end = bars
            .iter()
            .filter(|bar| !bar.open)
            .map(Bar::end)
            .max()
            .unwrap_or(0);
        let wall = run
            .duration
            .map_or(known_end, |duration| micros(duration).max(known_end));
        for bar in bars.iter_mut().filter(|bar| bar.open) {
            bar.duration = wall.saturating_sub(bar.start).max(1);
        }
        if approximate {
            // Whole seconds put a dependent before the end of what it
            // waited for: it started after, so it is drawn after.
            graph.after_what_they_waited_for(&mut bars);
        }
        bars.sort_by_key(|bar| (bar.start, bar.task.position, bar.task.attempt));
        let preferred: Vec<Option<usize>> = bars
            .iter()
            .map(|bar| bar.task.lane.filter(|_| !approximate).map(|lane| lane.slot))
            .collect();
        let lanes = place(&mut bars, &preferred);
        let work = bars
            .iter()
            .fold(0u64, |work, bar| work.saturating_add(bar.duration));
        let jobs = run
            .jobs
            .and_then(|jobs| usize::try_from(jobs).ok())
            .filter(|&jobs| jobs > 0)
            .unwrap_or(lanes.max(1));

        let attempts = graph.attempts(&bars);
        let ends = graph.ends(&bars, &attempts);
        let (path, critical, queue_wait) = graph.critical_path(&bars, &attempts, &ends);
        for &bar in &critical {
            bars[bar].critical = true;
        }
        let ready = (0..graph.tasks.len())
            .filter_map(|task| {
                let first = bars[*attempts[task].first()?].start;
                Some((graph.ready_at(task, &ends).min(first), first))
            })
            .collect();
        let unstarted = tasks
            .iter()
            .filter(|task| task.lane.is_none() && task.started_at.is_none())
            .filter_map(|task| {
                let index = *graph.index.get(task.name.as_str())?;
                Some((task, ends[index]))
            })
            .collect();
        let longest_chain = graph.longest_chain(&bars, &attempts);
        Timeline {
            run,
            bars,
            unstarted,
            lanes,
            jobs,
            approximate,
            wall,
            work,
            critical,
            path,
            ready,
            queue_wait,
            longest_chain,
        }
    }

    /// The work spread over every place: no run of these tasks with this
    /// many at once is shorter.
    pub(crate) fn spread(&self) -> u64 {
        self.work / u64::try_from(self.jobs.max(1)).unwrap_or(1)
    }

    /// The least time any run of this work could take: the longer of the
    /// longest chain and the spread work (Graham's bound).
    pub(crate) fn lower_bound(&self) -> u64 {
        self.longest_chain.max(self.spread())
    }

    /// The time of the attempts on the critical path, added up.
    pub(crate) fn critical_length(&self) -> u64 {
        self.critical.iter().fold(0u64, |length, &bar| {
            length.saturating_add(self.bars[bar].duration)
        })
    }

    /// The names of the tasks on the critical path, first to last.
    pub(crate) fn critical_names(&self) -> Vec<&'a str> {
        self.path.clone()
    }

    /// How many attempts ran, and how many tasks waited for a place, over
    /// time: each change as (time, running, waiting). A task waits from
    /// the end of its last dependency (or the run's start) to the start of
    /// its first attempt, if that is [`STARTING`] or more.
    pub(crate) fn concurrency(&self) -> Vec<(u64, usize, usize)> {
        let mut changes: Vec<(u64, i64, i64)> = Vec::with_capacity(self.bars.len() * 4);
        for bar in &self.bars {
            changes.push((bar.start, 1, 0));
            changes.push((bar.end(), -1, 0));
        }
        for &(ready, start) in &self.ready {
            if start.saturating_sub(ready) >= STARTING {
                changes.push((ready, 0, 1));
                changes.push((start, 0, -1));
            }
        }
        changes.sort_unstable();
        let mut curve: Vec<(u64, usize, usize)> = vec![(0, 0, 0)];
        let (mut running, mut waiting) = (0i64, 0i64);
        for (at, run, wait) in changes {
            running += run;
            waiting += wait;
            let point = (
                at,
                usize::try_from(running).unwrap_or(0),
                usize::try_from(waiting).unwrap_or(0),
            );
            match curve.last_mut() {
                Some(last) if last.0 == at => *last = point,
                _ => curve.push(point),
            }
        }
        curve
    }
}

/// Puts each bar (sorted by start) in a lane: the one it was recorded in
/// if that lane is free by then, else the first free one. Returns how
/// many lanes there are.
fn place(bars: &mut [Bar<'_>], preferred: &[Option<usize>]) -> usize {
    // When each lane is free again.
    let mut free_at: Vec<u64> = Vec::new();
    // A lane number no run could have (a damaged row) is not kept.
    let limit = bars.len();
    for (bar, preferred) in bars.iter_mut().zip(preferred) {
        let lane = match *preferred {
            Some(lane)
                if lane < limit && free_at.get(lane).is_none_or(|&free| free <= bar.start) =>
            {
                lane
            }
            _ => free_at
                .iter()
                .position(|&free| free <= bar.start)
                .unwrap_or(free_at.len()),
        };
        if free_at.len() <= lane {
            // A lane no bar took yet is free from the start.
            free_at.resize(lane + 1, 0);
        }
        free_at[lane] = bar.end();
        bar.lane = lane;
    }
    free_at.len()
}

/// The run's tasks and how they wait for each other.
struct Graph<'a> {
    /// Each task's last attempt.
    tasks: Vec<&'a TaskRow>,
    index: HashMap<&'a str, usize>,
    /// The tasks each waited for, hard and soft alike, that are in the run.
    deps: Vec<Vec<usize>>,
    /// Every task after the tasks it waited for (Kahn's order; a task in
    /// a cycle, which no recorded run has, is left out).
    order: Vec<usize>,
}

impl<'a> Graph<'a> {
    fn of(rows: &'a [TaskRow]) -> Graph<'a> {
        let mut tasks: Vec<&TaskRow> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for row in rows {
            if let Some(&task) = index.get(row.name.as_str()) {
                tasks[task] = row;
            } else {
                index.insert(row.name.as_str(), tasks.len());
                tasks.push(row);
            }
        }
        let deps: Vec<Vec<usize>> = tasks
            .iter()
            .map(|task| {
                task.deps
                    .iter()
                    .chain(&task.soft_deps)
                    .filter_map(|dep| index.get(dep.as_str()).copied())
                    .collect()
            })
            .collect();
        let mut dependents = vec![Vec::new(); tasks.len()];
        let mut waiting_for: Vec<usize> = deps.iter().map(Vec::len).collect();
        for (task, deps) in deps.iter().enumerate() {
            for &dep in deps {
                dependents[dep].push(task);
            }
        }
        let mut order: Vec<usize> = (0..tasks.len())
            .filter(|&task| waiting_for[task] == 0)
            .collect();
        let mut next = 0;
        while let Some(&task) = order.get(next) {
            next += 1;
            for &dependent in &dependents[task] {
                waiting_for[dependent] -= 1;
                if waiting_for[dependent] == 0 {
                    order.push(dependent);
                }
            }
        }
        Graph {
            tasks,
            index,
            deps,
            order,
        }
    }

    /// The bars of each task's attempts, in attempt order.
    fn attempts(&self, bars: &[Bar<'_>]) -> Vec<Vec<usize>> {
        let mut attempts = vec![Vec::new(); self.tasks.len()];
        for (at, bar) in bars.iter().enumerate() {
            if let Some(&task) = self.index.get(bar.task.name.as_str()) {
                attempts[task].push(at);
            }
        }
        for list in &mut attempts {
            list.sort_by_key(|&bar| bars[bar].task.attempt);
        }
        attempts
    }

    /// When each task ended: its last attempt's end, or for one that never
    /// started, when the last of the tasks it waited for ended (the run's
    /// start for one that waited for none).
    fn ends(&self, bars: &[Bar<'_>], attempts: &[Vec<usize>]) -> Vec<u64> {
        let mut ends = vec![0u64; self.tasks.len()];
        for &task in &self.order {
            ends[task] = match attempts[task].last() {
                Some(&bar) => bars[bar].end(),
                None => self.ready_at(task, &ends),
            };
        }
        ends
    }

    /// When the last of the tasks `task` waited for ended, by `ends`.
    fn ready_at(&self, task: usize, ends: &[u64]) -> u64 {
        self.deps[task]
            .iter()
            .map(|&dep| ends[dep])
            .max()
            .unwrap_or(0)
    }

    /// Moves each attempt to start no earlier than the end of what it
    /// waited for: the tasks its task waited for, and its own earlier
    /// attempt. For starts known to whole seconds only.
    fn after_what_they_waited_for(&self, bars: &mut [Bar<'_>]) {
        let attempts = self.attempts(bars);
        let mut ends = vec![0u64; self.tasks.len()];
        for &task in &self.order {
            let mut floor = self.ready_at(task, &ends);
            for &bar in &attempts[task] {
                bars[bar].start = bars[bar].start.max(floor);
                floor = bars[bar].end();
            }
            ends[task] = floor;
        }
    }

    /// From the task that ended last, each step to the task it waited for
    /// that ended latest: the names on that path, the bars of every
    /// attempt of its tasks (first to last), and how long its tasks
    /// waited for a place after what they waited for had ended.
    fn critical_path(
        &self,
        bars: &[Bar<'_>],
        attempts: &[Vec<usize>],
        ends: &[u64],
    ) -> (Vec<&'a str>, Vec<usize>, u64) {
        let latest = |candidates: &mut dyn Iterator<Item = usize>| {
            candidates.max_by_key(|&task| (ends[task], std::cmp::Reverse(task)))
        };
        let mut current =
            latest(&mut (0..self.tasks.len()).filter(|&task| !attempts[task].is_empty()));
        let mut path: Vec<usize> = Vec::new();
        let mut on_path = vec![false; self.tasks.len()];
        while let Some(task) = current {
            if on_path[task] {
                break;
            }
            on_path[task] = true;
            path.push(task);
            current = latest(&mut self.deps[task].iter().copied());
        }
        path.reverse();
        let mut wait = 0u64;
        let mut critical = Vec::new();
        for &task in &path {
            if let Some(&first) = attempts[task].first() {
                wait = wait
                    .saturating_add(bars[first].start.saturating_sub(self.ready_at(task, ends)));
            }
            critical.extend(&attempts[task]);
        }
        let names = path
            .iter()
            .map(|&task| self.tasks[task].name.as_str())
            .collect();
        (names, critical, wait)
    }

    /// The longest chain of recorded work (every attempt of each task)
    /// through the graph.
    fn longest_chain(&self, bars: &[Bar<'_>], attempts: &[Vec<usize>]) -> u64 {
        let mut dependents = vec![Vec::new(); self.tasks.len()];
        for (task, deps) in self.deps.iter().enumerate() {
            for &dep in deps {
                dependents[dep].push(task);
            }
        }
        let work = |task: usize| -> u64 {
            attempts[task]
                .iter()
                .fold(0u64, |work, &bar| work.saturating_add(bars[bar].duration))
        };
        chain_lengths(&self.order, &dependents, work)
            .into_iter()
            .max()
            .unwrap_or(0)
    }
}

/// A duration in whole microseconds.
fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Status;
    use crate::record::Lane;
    use crate::testing::{run_row, task_row};
    use proptest::prelude::*;

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    /// A row of `name` that started at `start` ms in `slot` and took `took` ms.
    fn ran(
        position: i64,
        name: &str,
        start: u64,
        took: u64,
        slot: usize,
        deps: &[&str],
    ) -> TaskRow {
        TaskRow {
            lane: Some(Lane {
                start: ms(start),
                slot,
            }),
            started_at: Some(i64::try_from(start / 1000).unwrap_or(0)),
            duration: Some(ms(took)),
            deps: deps.iter().map(|dep| (*dep).to_owned()).collect(),
            ..task_row(position, name, TaskState::Ended(Status::Passed))
        }
    }

    #[test]
    fn the_critical_path_steps_back_to_the_dependency_that_ended_latest() {
        let mut run = run_row(1);
        run.jobs = Some(2);
        run.duration = Some(ms(700));
        let tasks = [
            ran(0, "fetch", 0, 100, 0, &[]),
            ran(1, "quick", 0, 50, 1, &[]),
            ran(2, "build", 100, 300, 0, &["fetch", "quick"]),
            ran(3, "lint", 60, 100, 1, &["quick"]),
            // Waited 50 ms for a place after build ended.
            ran(4, "test", 450, 250, 1, &["build", "lint"]),
        ];
        let timeline = Timeline::of(&run, &tasks);
        assert_eq!(timeline.critical_names(), ["fetch", "build", "test"]);
        assert_eq!(timeline.queue_wait, 50_000);
        assert_eq!(timeline.critical_length(), 650_000);
        assert_eq!(timeline.wall, 700_000);
        assert_eq!(timeline.work, 800_000);
        assert_eq!(timeline.lanes, 2);
        assert!(!timeline.approximate);
        // fetch → build → test is the longest chain: 650 ms, more than
        // the 400 ms the work spread over two places takes.
        assert_eq!(timeline.longest_chain, 650_000);
        assert_eq!(timeline.lower_bound(), 650_000);
        let critical: Vec<&str> = timeline
            .bars
            .iter()
            .filter(|bar| bar.critical)
            .map(|bar| bar.task.name.as_str())
            .collect();
        assert_eq!(critical, ["fetch", "build", "test"]);
        // The recorded lanes are kept.
        let lanes: Vec<(&str, usize)> = timeline
            .bars
            .iter()
            .map(|bar| (bar.task.name.as_str(), bar.lane))
            .collect();
        assert_eq!(
            lanes,
            [
                ("fetch", 0),
                ("quick", 1),
                ("lint", 1),
                ("build", 0),
                ("test", 1)
            ]
        );
    }

    #[test]
    fn every_attempt_of_a_retried_task_on_the_path_is_on_it() {
        let run = run_row(1);
        let mut first = ran(0, "flaky", 0, 100, 0, &[]);
        first.state = TaskState::Ended(Status::Failed);
        let mut second = ran(0, "flaky", 300, 100, 0, &[]);
        second.attempt = 2;
        let tasks = [first, second, ran(1, "after", 400, 10, 0, &["flaky"])];
        let timeline = Timeline::of(&run, &tasks);
        let critical: Vec<(&str, u32)> = timeline
            .critical
            .iter()
            .map(|&bar| {
                (
                    timeline.bars[bar].task.name.as_str(),
                    timeline.bars[bar].task.attempt,
                )
            })
            .collect();
        assert_eq!(critical, [("flaky", 1), ("flaky", 2), ("after", 1)]);
        assert_eq!(timeline.critical_names(), ["flaky", "after"]);
        assert_eq!(timeline.longest_chain, 210_000);
    }

    #[test]
    fn rows_without_lanes_get_them_rebuilt_from_their_seconds() {
        let mut run = run_row(1);
        run.started_at = 100;
        let mut tasks: Vec<TaskRow> = ["a", "b", "c"]
            .iter()
            .zip(0..)
            .map(|(name, position)| TaskRow {
                started_at: Some(100),
                duration: Some(ms(1500)),
                ..task_row(position, name, TaskState::Ended(Status::Passed))
            })
            .collect();
        tasks[2].started_at = Some(102);
        let timeline = Timeline::of(&run, &tasks);
        assert!(timeline.approximate);
        let placed: Vec<(u64, usize)> = timeline
            .bars
            .iter()
            .map(|bar| (bar.start, bar.lane))
            .collect();
        // a and b overlap, so take two lanes; c starts once a is done.
        assert_eq!(placed, [(0, 0), (0, 1), (2_000_000, 0)]);
        assert_eq!(timeline.lanes, 2);
    }

    #[test]
    fn a_task_running_when_taskrun_died_ends_with_the_run() {
        let mut run = run_row(1);
        run.duration = Some(ms(900));
        let mut killed = ran(0, "long", 100, 0, 0, &[]);
        killed.duration = None;
        killed.state = TaskState::Ended(Status::Canceled);
        let skipped = TaskRow {
            deps: vec!["long".into()],
            ..task_row(1, "after", TaskState::Ended(Status::Skipped))
        };
        let tasks = [killed, skipped];
        let timeline = Timeline::of(&run, &tasks);
        assert!(timeline.bars[0].open);
        assert_eq!(timeline.bars[0].category(), "unknown");
        assert_eq!(timeline.bars[0].end(), 900_000);
        assert_eq!(timeline.unstarted.len(), 1);
        assert_eq!(timeline.unstarted[0].1, 900_000);
    }

    #[test]
    fn a_task_that_never_started_is_a_step_of_the_path_at_its_dependencies_end() {
        // a fails at 1 s; b waited for it and was skipped; c waited for b
        // to end, whatever it did, and started at once.
        let mut run = run_row(1);
        run.jobs = Some(8);
        let mut a = ran(0, "a", 0, 1000, 0, &[]);
        a.state = TaskState::Ended(Status::Failed);
        let b = TaskRow {
            deps: vec!["a".into()],
            ..task_row(1, "b", TaskState::Ended(Status::Skipped))
        };
        let mut c = ran(2, "c", 1000, 10, 1, &[]);
        c.soft_deps = vec!["b".into()];
        let tasks = [a, b, c];
        let timeline = Timeline::of(&run, &tasks);
        assert_eq!(timeline.critical_names(), ["a", "b", "c"]);
        assert_eq!(timeline.queue_wait, 0);
        assert_eq!(timeline.unstarted[0].1, 1_000_000);
        // c was never ready before a ended.
        assert!(
            timeline
                .concurrency()
                .iter()
                .all(|&(_, _, waiting)| waiting == 0),
            "{:?}",
            timeline.concurrency()
        );
    }

    #[test]
    fn whole_second_starts_never_put_a_task_before_what_it_waited_for() {
        let mut run = run_row(1);
        run.started_at = 100;
        let row = |position, name: &str, deps: &[&str]| TaskRow {
            started_at: Some(100),
            duration: Some(ms(300)),
            deps: deps.iter().map(|dep| (*dep).to_owned()).collect(),
            ..task_row(position, name, TaskState::Ended(Status::Passed))
        };
        let tasks = [row(0, "a", &[]), row(1, "b", &["a"]), row(2, "c", &["b"])];
        let timeline = Timeline::of(&run, &tasks);
        assert!(timeline.approximate);
        let placed: Vec<(&str, u64, usize)> = timeline
            .bars
            .iter()
            .map(|bar| (bar.task.name.as_str(), bar.start, bar.lane))
            .collect();
        // A chain stays in one lane, one after the other.
        assert_eq!(placed, [("a", 0, 0), ("b", 300_000, 0), ("c", 600_000, 0)]);
        assert_eq!(timeline.critical_names(), ["a", "b", "c"]);
    }

    #[test]
    fn damaged_rows_do_not_overflow() {
        let mut run = run_row(1);
        run.started_at = i64::MAX;
        let mut huge = ran(0, "huge", 0, 0, usize::MAX, &[]);
        huge.duration = Some(Duration::MAX);
        huge.lane = None;
        huge.started_at = Some(i64::MIN);
        let tasks = [huge, ran(1, "after", 0, 10, 3, &["huge"])];
        let timeline = Timeline::of(&run, &tasks);
        assert_eq!(timeline.bars.len(), 2);
        let _ = (
            timeline.lower_bound(),
            timeline.critical_length(),
            timeline.concurrency(),
        );
    }

    #[test]
    fn an_empty_run_has_an_empty_timeline() {
        let run = run_row(1);
        let timeline = Timeline::of(&run, &[]);
        assert!(timeline.bars.is_empty() && timeline.critical.is_empty());
        assert_eq!(
            (timeline.wall, timeline.lower_bound(), timeline.lanes),
            (0, 0, 0)
        );
        assert_eq!(timeline.concurrency(), [(0, 0, 0)]);
    }

    #[test]
    fn the_curve_counts_running_and_waiting_tasks() {
        let mut run = run_row(1);
        run.jobs = Some(1);
        let tasks = [
            ran(0, "a", 0, 100, 0, &[]),
            // Ready from the start, waited for a's place.
            ran(1, "b", 100, 100, 0, &[]),
        ];
        let timeline = Timeline::of(&run, &tasks);
        assert_eq!(
            timeline.concurrency(),
            [(0, 1, 1), (100_000, 1, 0), (200_000, 0, 0)]
        );
    }

    proptest! {
        /// Whatever was recorded, even lanes that overlap, no two bars in
        /// one lane overlap, and there are never more lanes than bars.
        #[test]
        fn no_two_bars_in_a_lane_overlap(
            rows in proptest::collection::vec((0u64..2000, 0u64..500, 0usize..4, any::<bool>()), 0..40)
        ) {
            let run = run_row(1);
            let tasks: Vec<TaskRow> = rows
                .iter()
                .enumerate()
                .map(|(position, &(start, took, slot, exact))| {
                    let mut row = ran(i64::try_from(position).unwrap_or(0), &format!("t{position}"), start, took, slot, &[]);
                    if !exact {
                        row.lane = None;
                    }
                    row
                })
                .collect();
            let timeline = Timeline::of(&run, &tasks);
            prop_assert_eq!(timeline.bars.len(), tasks.len());
            prop_assert!(timeline.lanes <= tasks.len());
            for lane in 0..timeline.lanes {
                let mut bars: Vec<&Bar<'_>> = timeline.bars.iter().filter(|bar| bar.lane == lane).collect();
                bars.sort_by_key(|bar| bar.start);
                for pair in bars.windows(2) {
                    prop_assert!(pair[0].end() <= pair[1].start, "{:?} overlaps {:?}", pair[0], pair[1]);
                }
            }
        }
    }
}
