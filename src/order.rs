//! In what order tasks start: each task's estimate from history, its
//! critical-path priority, and a simulator of the scheduler's rules.
//!
//! An estimate is the first of: the median of the task's latest passed
//! attempts with the same fingerprint; the same with any fingerprint; the
//! longest of its attempts if it only ever failed or timed out; the median
//! of the estimates known in this plan; with no history at all, one unit
//! each (which makes the critical-path order ninja's depth order).
//!
//! A task's priority is its estimate plus the largest priority among the
//! tasks that wait for it (hard and soft dependencies alike): the length
//! of the longest chain of work that starts with it. Ready tasks start
//! highest priority first (`--order critical-path`), or in the order they
//! became ready (`--order file`); ties go to the task that became ready
//! first, then to the one declared first.
//!
//! Nothing here runs a task or prints: [`simulate`] plays the scheduler's
//! rules (the same [`Admission`]) with estimated durations.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use crate::graph::Plan;
use crate::record::Known;
use crate::schedule::Admission;

/// How ready tasks are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Order {
    /// The longest chain of estimated work first.
    #[default]
    CriticalPath,
    /// The task that became ready first starts first.
    File,
}

/// What each task of a plan is expected to take, and whether that comes
/// from history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Estimates {
    pub(crate) durations: Vec<Duration>,
    /// Whether any task had history (else every estimate is one unit).
    pub(crate) from_history: bool,
}

/// The unit a plan without history is measured in.
const UNIT: Duration = Duration::from_millis(1);

impl Estimates {
    /// The estimates of a plan's tasks, from what the history `known`s of
    /// each (in plan order).
    pub(crate) fn new(known: &[Known]) -> Estimates {
        let direct: Vec<Option<Duration>> = known
            .iter()
            .map(|known| match *known {
                Known::Passed(duration)
                | Known::PassedAsOther(duration)
                | Known::FailedAfter(duration) => Some(duration),
                Known::Nothing => None,
            })
            .collect();
        let mut found: Vec<Duration> = direct.iter().flatten().copied().collect();
        if found.is_empty() {
            return Estimates::equal(known.len());
        }
        found.sort_unstable();
        let middle = found.len() / 2;
        let median = if found.len().is_multiple_of(2) {
            (found[middle - 1] + found[middle]) / 2
        } else {
            found[middle]
        };
        Estimates {
            // A recorded 0 ms would make the task free: it still runs.
            durations: direct
                .into_iter()
                .map(|duration| duration.unwrap_or(median).max(UNIT))
                .collect(),
            from_history: true,
        }
    }

    /// One unit each: no history.
    pub(crate) fn equal(tasks: usize) -> Estimates {
        Estimates {
            durations: vec![UNIT; tasks],
            from_history: false,
        }
    }
}

/// Each task's priority for `order`: for the critical path, the estimated
/// work on the longest chain that starts with it (its own included), in
/// microseconds; for file order, none (all 0).
pub(crate) fn priorities(plan: &Plan, estimates: &Estimates, order: Order) -> Vec<u64> {
    let count = plan.tasks.len();
    if order == Order::File {
        return vec![0; count];
    }
    let mut dependents = vec![Vec::new(); count];
    for task in 0..count {
        for dep in plan.all_deps(task) {
            dependents[dep].push(task);
        }
    }
    chain_lengths(&plan.order, &dependents, |task| {
        u64::try_from(estimates.durations[task].as_micros()).unwrap_or(u64::MAX)
    })
}

/// For each task, the work on the longest chain of tasks that starts with
/// it, its own `work` included: `order` puts every task after the tasks it
/// waits for, and `dependents[task]` are the tasks that wait for `task`.
/// A task missing from `order` counts its own work only.
pub(crate) fn chain_lengths(
    order: &[usize],
    dependents: &[Vec<usize>],
    work: impl Fn(usize) -> u64,
) -> Vec<u64> {
    let mut length: Vec<u64> = (0..dependents.len()).map(&work).collect();
    for &task in order.iter().rev() {
        let after = dependents[task]
            .iter()
            .map(|&dependent| length[dependent])
            .max()
            .unwrap_or(0);
        length[task] = work(task).saturating_add(after);
    }
    length
}

/// A task's place in a simulated run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Placed {
    pub(crate) task: usize,
    pub(crate) start: Duration,
    pub(crate) end: Duration,
}

/// A simulated run: when each task starts and ends, in the order they
/// start, and when the last one ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Simulation {
    pub(crate) placed: Vec<Placed>,
    pub(crate) makespan: Duration,
}

/// Plays the scheduler's rules over `plan` with `jobs` places and tasks
/// that take their `estimates` and pass: the same admission (pools
/// included) as a run, with time taken from the estimates. Discrete
/// events; nothing runs.
pub(crate) fn simulate(
    plan: &Plan,
    estimates: &Estimates,
    jobs: usize,
    priority: &[u64],
) -> Simulation {
    simulate_from(plan, estimates, jobs, priority, &Progress::default())
}

/// How far a run has come: the tasks that have ended, and those running
/// now with how long each has run.
#[derive(Clone, Debug, Default)]
pub(crate) struct Progress {
    pub(crate) ended: Vec<usize>,
    pub(crate) running: Vec<(usize, Duration)>,
}

/// How long the rest of a run that has come `so_far` is expected to take,
/// by the same rules as [`simulate`]: a running task takes what is left of
/// its estimate (nothing, once it has run longer).
pub(crate) fn time_left(
    plan: &Plan,
    estimates: &Estimates,
    jobs: usize,
    priority: &[u64],
    so_far: &Progress,
) -> Duration {
    simulate_from(plan, estimates, jobs, priority, so_far).makespan
}

fn simulate_from(
    plan: &Plan,
    estimates: &Estimates,
    jobs: usize,
    priority: &[u64],
    so_far: &Progress,
) -> Simulation {
    let count = plan.tasks.len();
    let mut gone = vec![false; count];
    for &task in so_far
        .ended
        .iter()
        .chain(so_far.running.iter().map(|(task, _)| task))
    {
        gone[task] = true;
    }
    let mut dependents = vec![Vec::new(); count];
    for task in 0..count {
        for dep in plan.all_deps(task) {
            dependents[dep].push(task);
        }
    }
    let mut unmet: Vec<usize> = (0..count).map(|task| plan.all_deps(task).count()).collect();
    for &task in &so_far.ended {
        for &dependent in &dependents[task] {
            unmet[dependent] -= 1;
        }
    }
    let mut admission = Admission::new(plan, priority.to_vec());
    // Running tasks by end time, then by the order they started.
    let mut running: BinaryHeap<Reverse<(Duration, usize, usize)>> = BinaryHeap::new();
    let mut placed = Vec::with_capacity(count);
    for &(task, elapsed) in &so_far.running {
        let end = estimates.durations[task].saturating_sub(elapsed);
        admission.occupy(plan, task);
        running.push(Reverse((end, placed.len(), task)));
        placed.push(Placed {
            task,
            start: Duration::ZERO,
            end,
        });
    }
    for task in (0..count).filter(|&task| unmet[task] == 0 && !gone[task]) {
        admission.ready(task);
    }
    let mut starting = Vec::new();
    let mut now = Duration::ZERO;
    let jobs = jobs.max(1);
    loop {
        admission.admit(plan, jobs.saturating_sub(running.len()), &mut starting);
        for task in starting.drain(..) {
            let end = now + estimates.durations[task];
            running.push(Reverse((end, placed.len(), task)));
            placed.push(Placed {
                task,
                start: now,
                end,
            });
        }
        let Some(Reverse((end, _, task))) = running.pop() else {
            break;
        };
        now = end;
        admission.next_round();
        let mut ended = vec![task];
        // Every task that ends at the same moment frees its place at once.
        while let Some(&Reverse((next, _, other))) = running.peek() {
            if next != end {
                break;
            }
            running.pop();
            ended.push(other);
        }
        for task in ended {
            admission.ended(plan, task);
            for &dependent in &dependents[task] {
                unmet[dependent] -= 1;
                if unmet[dependent] == 0 && !gone[dependent] {
                    admission.ready(dependent);
                }
            }
        }
    }
    Simulation {
        placed,
        makespan: now,
    }
}

/// What bounds any run of `plan` with `jobs` places, by its estimates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bound {
    /// The longest chain of work: no run is shorter.
    pub(crate) critical_path: Duration,
    /// Its tasks, first to last.
    pub(crate) chain: Vec<usize>,
    /// All the work, spread over every place: no run is shorter either.
    pub(crate) spread: Duration,
}

impl Bound {
    /// The bound of `plan`.
    pub(crate) fn of(plan: &Plan, estimates: &Estimates, jobs: usize) -> Bound {
        let priority = priorities(plan, estimates, Order::CriticalPath);
        let mut dependents = vec![Vec::new(); plan.tasks.len()];
        for task in 0..plan.tasks.len() {
            for dep in plan.all_deps(task) {
                dependents[dep].push(task);
            }
        }
        // The chain: the task with the highest priority, then each time
        // the dependent that carries it on (the first declared, on ties).
        let mut chain = Vec::new();
        let mut current = (0..plan.tasks.len()).max_by_key(|&task| (priority[task], Reverse(task)));
        while let Some(task) = current {
            chain.push(task);
            current = dependents[task]
                .iter()
                .copied()
                .max_by_key(|&dependent| (priority[dependent], Reverse(dependent)));
        }
        let work: Duration = estimates.durations.iter().sum();
        let jobs = u32::try_from(jobs.max(1)).unwrap_or(u32::MAX);
        Bound {
            critical_path: Duration::from_micros(priority.iter().copied().max().unwrap_or(0)),
            chain,
            spread: work / jobs,
        }
    }

    /// The larger of the two: the least time any run can take.
    pub(crate) fn lower(&self) -> Duration {
        self.critical_path.max(self.spread)
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::testing::plan;

    fn ms(durations: &[u64]) -> Estimates {
        Estimates {
            durations: durations
                .iter()
                .map(|&ms| Duration::from_millis(ms))
                .collect(),
            from_history: true,
        }
    }

    #[test]
    fn estimates_fall_back_to_the_median_of_the_plan_then_to_units() {
        let known = [
            Known::Passed(Duration::from_millis(100)),
            Known::Nothing,
            Known::FailedAfter(Duration::from_millis(900)),
            Known::PassedAsOther(Duration::from_millis(300)),
        ];
        let estimates = Estimates::new(&known);
        assert_eq!(
            estimates.durations,
            [100, 300, 900, 300].map(Duration::from_millis)
        );
        assert!(estimates.from_history);
        assert_eq!(Estimates::new(&[Known::Nothing; 3]), Estimates::equal(3));
    }

    #[test]
    fn priority_is_the_longest_chain_of_work_that_starts_with_a_task() {
        let plan = plan("a: x\nb: x [after:a]\nc: x [after:a]\nd: x [after_done:c]\n");
        let estimates = ms(&[1, 10, 2, 5]);
        let priority = priorities(&plan, &estimates, Order::CriticalPath);
        assert_eq!(priority, [11_000, 10_000, 7_000, 5_000]);
        assert_eq!(priorities(&plan, &estimates, Order::File), [0, 0, 0, 0]);
        let bound = Bound::of(&plan, &estimates, 2);
        assert_eq!(bound.critical_path, Duration::from_millis(11));
        assert_eq!(bound.chain, [0, 1]);
        assert_eq!(bound.spread, Duration::from_millis(9));
    }

    #[test]
    fn a_long_chain_written_last_starts_first_by_its_critical_path() {
        // Four short tasks first, then a chain of two long ones.
        let plan = plan("s1: x\ns2: x\ns3: x\ns4: x\nlong1: x\nlong2: x [after:long1]\n");
        let estimates = ms(&[100, 100, 100, 100, 500, 500]);
        let file = simulate(
            &plan,
            &estimates,
            2,
            &priorities(&plan, &estimates, Order::File),
        );
        let critical = simulate(
            &plan,
            &estimates,
            2,
            &priorities(&plan, &estimates, Order::CriticalPath),
        );
        assert_eq!(file.makespan, Duration::from_millis(1200));
        assert_eq!(critical.makespan, Duration::from_secs(1));
        assert_eq!(critical.placed[0].task, 4, "long1 starts first");
        assert_eq!(critical.makespan, Bound::of(&plan, &estimates, 2).lower());
    }

    /// A small deterministic random source (splitmix64) for the random
    /// graphs below.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// In `0.0..1.0`.
        #[expect(clippy::cast_precision_loss, reason = "53 bits are plenty here")]
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }
    }

    /// A random layered graph: `tasks` tasks in `layers` layers, each task
    /// depending on each task of the layer above with probability `p`,
    /// each taking a log-normal time (σ = 1) of about 100 ms.
    fn layered(random: &mut Random) -> (Plan, Estimates) {
        let tasks = 20 + random.below(481);
        let layers = (3 + random.below(28)).min(tasks);
        let p = 0.05 + random.unit() * 0.25;
        let layer_of: Vec<usize> = (0..tasks).map(|i| i * layers / tasks).collect();
        let mut text = String::new();
        let mut durations = Vec::with_capacity(tasks);
        for task in 0..tasks {
            let deps: Vec<String> = (0..task)
                .filter(|&dep| layer_of[dep] + 1 == layer_of[task] && random.unit() < p)
                .map(|dep| format!("t{dep}"))
                .collect();
            let _ = write!(text, "t{task}: x");
            if !deps.is_empty() {
                let _ = write!(text, " [after:{}]", deps.join(","));
            }
            text.push('\n');
            // Box-Muller: a standard normal, then e^N(0,1) x 100 ms.
            let normal = (-2.0 * (1.0 - random.unit()).ln()).sqrt()
                * (std::f64::consts::TAU * random.unit()).cos();
            durations.push(Duration::from_secs_f64(0.1 * normal.exp()).max(UNIT));
        }
        (
            plan(&text),
            Estimates {
                durations,
                from_history: true,
            },
        )
    }

    /// Graham's bound holds for both orders (any list schedule is within
    /// it), and the critical-path order is within 10% of the lower bound
    /// in at least 95% of 1,000 random layered graphs.
    #[test]
    fn both_orders_keep_grahams_bound_and_the_critical_path_is_near_the_lower_bound() {
        let mut random = Random(20_261_201);
        let mut near = 0;
        let cases = 1_000;
        for case in 0..cases {
            let (plan, estimates) = layered(&mut random);
            let jobs = [1, 2, 4, 8, 32][case % 5];
            let bound = Bound::of(&plan, &estimates, jobs);
            let work: f64 = estimates.durations.iter().map(Duration::as_secs_f64).sum();
            let processors = f64::from(u32::try_from(jobs).unwrap());
            let graham =
                work / processors + (1.0 - 1.0 / processors) * bound.critical_path.as_secs_f64();
            for order in [Order::File, Order::CriticalPath] {
                let run = simulate(
                    &plan,
                    &estimates,
                    jobs,
                    &priorities(&plan, &estimates, order),
                );
                assert_eq!(run.placed.len(), plan.tasks.len());
                assert!(
                    run.makespan.as_secs_f64() <= graham + 1e-6,
                    "case {case}, {order:?}, {jobs} jobs: {:?} > {graham}",
                    run.makespan
                );
                assert!(run.makespan + Duration::from_micros(1) >= bound.lower());
                if order == Order::CriticalPath
                    && run.makespan.as_secs_f64() <= 1.10 * bound.lower().as_secs_f64()
                {
                    near += 1;
                }
            }
        }
        eprintln!("critical path within 10% of the lower bound: {near} of {cases}");
        assert!(near * 100 >= cases * 95, "{near} of {cases} within 10%");
    }

    #[test]
    fn time_left_counts_what_runs_and_what_waits() {
        let plan = plan("a: x\nb: x [after:a]\nc: x\n");
        let estimates = ms(&[100, 300, 50]);
        let priority = priorities(&plan, &estimates, Order::CriticalPath);
        let left = |ended: Vec<usize>, running: Vec<(usize, u64)>| {
            let so_far = Progress {
                ended,
                running: running
                    .into_iter()
                    .map(|(task, ms)| (task, Duration::from_millis(ms)))
                    .collect(),
            };
            time_left(&plan, &estimates, 1, &priority, &so_far)
        };
        assert_eq!(left(vec![], vec![]), Duration::from_millis(450));
        // a ran 60 of its 100 ms: 40 left, then b and c.
        assert_eq!(left(vec![], vec![(0, 60)]), Duration::from_millis(390));
        // a is done; b ran longer than its estimate: nothing left of it.
        assert_eq!(left(vec![0], vec![(1, 400)]), Duration::from_millis(50));
        assert_eq!(left(vec![0, 1, 2], vec![]), Duration::ZERO);
    }

    #[test]
    fn the_simulator_keeps_pools_and_dependencies() {
        let plan = plan("pool db 1\na: x [pool:db]\nb: x [pool:db]\nc: x [after:a]\n");
        let estimates = ms(&[10, 10, 10]);
        let run = simulate(
            &plan,
            &estimates,
            4,
            &priorities(&plan, &estimates, Order::File),
        );
        let start = |task: usize| run.placed.iter().find(|p| p.task == task).unwrap().start;
        assert_eq!(start(0), Duration::ZERO);
        assert_eq!(start(1), Duration::from_millis(10), "the pool holds b");
        assert_eq!(start(2), Duration::from_millis(10));
        assert_eq!(run.makespan, Duration::from_millis(20));
    }
}
