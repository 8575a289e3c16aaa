//! Validation and ordering: a [`TaskSet`] becomes a [`Plan`].
//!
//! The checks run over the whole set and report every problem at once:
//! duplicate names, dependencies on unknown tasks, tasks that depend on
//! themselves, cycles (each with its whole path), and two tasks that
//! declare outputs naming the same path. Everything here is
//! iterative (Kahn's algorithm for the order, Tarjan's for the cycles), so a
//! dependency chain of any length cannot overflow the stack, and the work
//! grows linearly with tasks plus dependencies.
//!
//! The graph stage does not run anything and does not print.

use std::collections::HashMap;
use std::collections::VecDeque;

use miette::LabeledSpan;

use crate::error::{GraphError, did_you_mean};
use crate::source::Spanned;
use crate::task::{PoolSpec, TaskSet, TaskSpec};

/// The most unknown dependencies that get a "did you mean" search. Each
/// search compares against every task name, so an enormous broken file
/// would otherwise take quadratic time to report.
const SUGGESTION_LIMIT: usize = 100;

/// At most this many edges of one cycle are labelled in its report.
const CYCLE_EDGES_LABELLED: usize = 10;

/// Lists the task names in a help text when there are at most this many.
const LIST_NAMES_UP_TO: usize = 10;

/// A validated task set, ready to be scheduled.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The tasks, in declaration order; a task's index is its id.
    pub tasks: Vec<TaskSpec>,
    /// `deps[i]`: the ids of the tasks that task `i` waits for (to pass),
    /// as written.
    pub deps: Vec<Vec<usize>>,
    /// `soft[i]`: the ids of the tasks that task `i` waits for to end,
    /// whatever their result (`[after_done:…]`).
    pub soft: Vec<Vec<usize>>,
    /// Every task id, each after all of its dependencies; among tasks that
    /// become ready together, declaration order.
    pub order: Vec<usize>,
    /// The pools: name and limit.
    pub pools: Vec<(String, usize)>,
    /// `pool_of[i]`: the pool task `i` counts against, if any.
    pub pool_of: Vec<Option<usize>>,
}

impl Plan {
    /// Validates `set` and orders it.
    pub(crate) fn build(set: TaskSet) -> Result<Plan, Vec<GraphError>> {
        let TaskSet {
            origin,
            tasks,
            pools,
        } = set;
        if tasks.is_empty() {
            return Err(vec![GraphError::NoTasks { source_id: origin }]);
        }
        let mut errors = Vec::new();
        let mut ids: HashMap<&str, usize> = HashMap::with_capacity(tasks.len());
        for (id, task) in tasks.iter().enumerate() {
            if let Some(&first) = ids.get(task.name.value.as_str()) {
                // A diagnostic shows one file; a first definition in the
                // other one (task file or script) is named in the help.
                let first = tasks[first].name.span;
                let same_file = first.source == task.name.span.source;
                let help = if same_file {
                    "task names must be unique; rename or remove one of them"
                } else {
                    "task names must be unique; the first definition is in the other file \
                     (the task file or the script): rename or remove one of them"
                };
                errors.push(GraphError::DuplicateTask {
                    name: task.name.value.clone(),
                    span: task.name.span,
                    first: same_file.then_some(first),
                    help: help.to_owned(),
                });
            } else {
                ids.insert(&task.name.value, id);
            }
        }

        let mut unknown = 0;
        let mut resolve =
            |task: &TaskSpec, list: &[Spanned<String>], errors: &mut Vec<GraphError>| {
                let mut resolved = Vec::with_capacity(list.len());
                for dep in list {
                    if dep.value == task.name.value {
                        errors.push(GraphError::SelfDependency {
                            name: dep.value.clone(),
                            span: dep.span,
                        });
                    } else if let Some(&id) = ids.get(dep.value.as_str()) {
                        resolved.push(id);
                    } else {
                        unknown += 1;
                        let help = unknown_dependency_help(&dep.value, &tasks, unknown);
                        errors.push(GraphError::UnknownDependency {
                            task: task.name.value.clone(),
                            name: dep.value.clone(),
                            span: dep.span,
                            help,
                        });
                    }
                }
                resolved
            };
        let mut deps = Vec::with_capacity(tasks.len());
        let mut soft = Vec::with_capacity(tasks.len());
        for task in &tasks {
            deps.push(resolve(task, &task.after, &mut errors));
            soft.push(resolve(task, &task.after_done, &mut errors));
        }
        drop(ids);

        let (pools, pool_of) = resolve_pools(&tasks, pools, &mut errors);
        overlapping_outputs(&tasks, &mut errors);
        // Soft dependencies order tasks as hard ones do.
        let all: Vec<Vec<usize>> = deps
            .iter()
            .zip(&soft)
            .map(|(hard, soft)| hard.iter().chain(soft).copied().collect())
            .collect();
        let order = topological_order(&all);
        if order.len() < tasks.len() {
            errors.extend(cycles(&tasks, &all, &order));
        }
        if errors.is_empty() {
            Ok(Plan {
                tasks,
                deps,
                soft,
                order,
                pools,
                pool_of,
            })
        } else {
            Err(errors)
        }
    }

    /// Each task's fingerprint (see `task::fingerprint`), in plan order.
    pub(crate) fn fingerprints(&self) -> Vec<i64> {
        self.tasks.iter().map(TaskSpec::fingerprint).collect()
    }

    /// Every dependency of task `id`, hard and soft.
    pub(crate) fn all_deps(&self, id: usize) -> impl Iterator<Item = usize> + '_ {
        self.deps[id].iter().chain(&self.soft[id]).copied()
    }

    /// The ids of the tasks `pattern` names: the task of that name, or,
    /// for a glob (`test_*`, `shard_[12]`), every task whose name it
    /// matches, in declaration order.
    pub(crate) fn matching(&self, pattern: &str) -> Vec<usize> {
        let glob = pattern
            .contains(['*', '?', '['])
            .then(|| glob::Pattern::new(pattern).ok())
            .flatten();
        (0..self.tasks.len())
            .filter(|&id| {
                let name = &self.tasks[id].name.value;
                match &glob {
                    Some(glob) => glob.matches(name),
                    None => name == pattern,
                }
            })
            .collect()
    }

    /// The tasks `roots` and every task they depend on, directly or not,
    /// in declaration order, leaving out the `excluded` ones (and what
    /// only they needed): a task that waits for an excluded one runs
    /// without waiting for it.
    pub(crate) fn select(self, roots: &[usize], excluded: &[bool]) -> Plan {
        let mut keep = vec![false; self.tasks.len()];
        let mut stack: Vec<usize> = roots.to_vec();
        // Hard dependencies only: a soft one orders two tasks when both
        // run, but does not make one run for the other.
        while let Some(id) = stack.pop() {
            if !keep[id] && !excluded[id] {
                keep[id] = true;
                stack.extend(&self.deps[id]);
            }
        }
        let mut new_id = vec![usize::MAX; self.tasks.len()];
        for (next, id) in (0..keep.len()).filter(|&id| keep[id]).enumerate() {
            new_id[id] = next;
        }
        let kept = |deps: &[usize]| -> Vec<usize> {
            deps.iter()
                .filter(|&&dep| keep[dep])
                .map(|&dep| new_id[dep])
                .collect()
        };
        let mut tasks = Vec::new();
        let mut deps = Vec::new();
        let mut soft = Vec::new();
        let mut pool_of = Vec::new();
        for (id, task) in self.tasks.into_iter().enumerate() {
            if keep[id] {
                tasks.push(task);
                deps.push(kept(&self.deps[id]));
                soft.push(kept(&self.soft[id]));
                pool_of.push(self.pool_of[id]);
            }
        }
        let order = self
            .order
            .iter()
            .filter(|&&id| keep[id])
            .map(|&id| new_id[id])
            .collect();
        Plan {
            tasks,
            deps,
            soft,
            order,
            pools: self.pools,
            pool_of,
        }
    }

    /// The number of dependency edges, hard and soft.
    pub(crate) fn edge_count(&self) -> usize {
        self.deps.iter().chain(&self.soft).map(Vec::len).sum()
    }

    /// One longest chain of tasks that must run one after another, first
    /// to last (the first such chain in plan order).
    pub(crate) fn longest_chain(&self) -> Vec<usize> {
        let mut length = vec![0usize; self.tasks.len()];
        let mut previous = vec![usize::MAX; self.tasks.len()];
        let mut end = self.order.first().copied().unwrap_or(0);
        for &id in &self.order {
            let best = self
                .all_deps(id)
                .max_by_key(|&dep| (length[dep], std::cmp::Reverse(dep)));
            length[id] = 1 + best.map_or(0, |dep| length[dep]);
            previous[id] = best.unwrap_or(usize::MAX);
            if length[id] > length[end] {
                end = id;
            }
        }
        let mut chain = Vec::with_capacity(length.get(end).copied().unwrap_or(0));
        let mut current = end;
        while current != usize::MAX && !self.tasks.is_empty() {
            chain.push(current);
            current = previous[current];
        }
        chain.reverse();
        chain
    }
}

/// The pools by name, and each task's pool; declarations given twice and
/// pools no declaration names are errors.
fn resolve_pools(
    tasks: &[TaskSpec],
    declared: Vec<PoolSpec>,
    errors: &mut Vec<GraphError>,
) -> (Vec<(String, usize)>, Vec<Option<usize>>) {
    let mut pools: Vec<(String, usize)> = Vec::new();
    for pool in declared {
        if pools.iter().any(|(name, _)| *name == pool.name.value) {
            errors.push(GraphError::DuplicatePool {
                name: pool.name.value.clone(),
                span: pool.name.span,
            });
        } else {
            pools.push((pool.name.value, pool.limit));
        }
    }
    let pool_of = tasks
        .iter()
        .map(|task| {
            let wanted = task.settings.pool.as_ref()?;
            let found = pools.iter().position(|(name, _)| *name == wanted.value);
            if found.is_none() {
                let names = pools.iter().map(|(name, _)| name.as_str());
                let help = match did_you_mean(&wanted.value, names) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => {
                        "declare it with a line such as `pool db 1` (name and limit), or in TOML \
                         and JSON under `pools`"
                            .to_owned()
                    }
                };
                errors.push(GraphError::UnknownPool {
                    task: task.name.value.clone(),
                    name: wanted.value.clone(),
                    span: wanted.span,
                    help,
                });
            }
            found
        })
        .collect();
    (pools, pool_of)
}

/// One declared output of a cacheable task, as the overlap check sees it.
struct Output<'a> {
    /// The task's id.
    task: usize,
    /// The pattern as written.
    pattern: &'a Spanned<String>,
    /// The pattern joined onto the task's directory, normalized (see
    /// `cache::pattern::normalize`): relative to the run's directory.
    path: String,
    /// Whether the pattern holds glob characters.
    glob: bool,
}

impl Output<'_> {
    /// The proper ancestors of a literal output's path: `""` (the run's
    /// directory) or `/` first, then each leading part.
    fn ancestors(&self) -> impl Iterator<Item = &str> {
        let rooted = self.path.starts_with('/');
        let top = match (rooted, self.path.as_str()) {
            (_, "" | "/") => None,
            (true, _) => Some("/"),
            (false, _) => Some(""),
        };
        let parts = self
            .path
            .char_indices()
            .filter(move |&(at, c)| c == '/' && at > 0)
            .map(|(at, _)| &self.path[..at]);
        top.into_iter().chain(parts)
    }

    /// How the output is named in a message: its path, with the `/` of a
    /// `dir/` tree.
    fn shown(&self) -> String {
        if self.pattern.value.ends_with('/') && !self.path.is_empty() && self.path != "/" {
            format!("{}/", self.path)
        } else if self.path.is_empty() {
            ".".to_owned()
        } else {
            self.path.clone()
        }
    }
}

/// Two cacheable tasks whose outputs can name the same path (one inside
/// the other's counts) are an error at the later task's output: the cache
/// would restore one task's files over the other's. Outputs are compared
/// joined onto each task's `[dir:]`; a task with `[cache:no]` is left
/// out, since its outputs are never stored nor restored. Literal outputs
/// are looked up by path and by each ancestor, so that a file of many
/// tasks costs time in proportion to its outputs; each glob is compared
/// with every earlier output.
fn overlapping_outputs(tasks: &[TaskSpec], errors: &mut Vec<GraphError>) {
    use crate::cache::pattern;
    let mut outputs: Vec<Output<'_>> = Vec::new();
    for (id, task) in tasks.iter().enumerate() {
        if task.settings.cache.off {
            continue;
        }
        for written in &task.settings.cache.outputs {
            let joined = match &task.settings.dir {
                Some(dir) => format!("{}/{}", dir.to_string_lossy(), written.value),
                None => written.value.clone(),
            };
            outputs.push(Output {
                task: id,
                pattern: written,
                path: pattern::normalize(&joined),
                glob: pattern::is_glob(&written.value) || pattern::is_glob(&joined),
            });
        }
    }
    // The first output (in declaration order) at each literal path, and
    // the first with each literal path as an ancestor.
    let mut at: HashMap<&str, usize> = HashMap::new();
    let mut under: HashMap<&str, usize> = HashMap::new();
    let mut globs: Vec<usize> = Vec::new();
    for (index, output) in outputs.iter().enumerate() {
        let other_task = |other: usize| outputs[other].task != output.task;
        let meets = |other: usize| {
            other_task(other) && pattern::overlap(&outputs[other].path, &output.path)
        };
        let found = if output.glob {
            (0..index).find(|&other| meets(other))
        } else {
            let literal = |map: &HashMap<&str, usize>, path: &str| {
                map.get(path).copied().filter(|&other| other_task(other))
            };
            literal(&at, &output.path)
                .or_else(|| literal(&under, &output.path))
                .or_else(|| {
                    output
                        .ancestors()
                        .find_map(|ancestor| literal(&at, ancestor))
                })
                .or_else(|| globs.iter().copied().find(|&other| meets(other)))
        };
        if let Some(other) = found {
            errors.push(overlap_error(tasks, &outputs[other], output));
        }
        if output.glob {
            globs.push(index);
        } else {
            at.entry(output.path.as_str()).or_insert(index);
            for ancestor in output.ancestors() {
                under.entry(ancestor).or_insert(index);
            }
        }
    }
}

/// The error for `later`'s output, which can name a path of `first`'s.
fn overlap_error(tasks: &[TaskSpec], first: &Output<'_>, later: &Output<'_>) -> GraphError {
    // The more specific output names the path both would write.
    let depth = |output: &Output<'_>| output.path.split('/').filter(|c| !c.is_empty()).count();
    let path = if depth(first) > depth(later) {
        first.shown()
    } else {
        later.shown()
    };
    let same_file = first.pattern.span.source == later.pattern.span.source;
    let mut help = format!("two tasks would both write `{path}`: give each its own output path");
    if !same_file {
        help = format!(
            "{help} (`{}` declares its output in the other file: the task file or the script)",
            tasks[first.task].name.value
        );
    }
    GraphError::OverlappingOutputs {
        task: tasks[later.task].name.value.clone(),
        first_task: tasks[first.task].name.value.clone(),
        path,
        span: later.pattern.span,
        first: same_file.then_some(first.pattern.span),
        help,
    }
}

fn unknown_dependency_help(name: &str, tasks: &[TaskSpec], nth: usize) -> String {
    let names = || tasks.iter().map(|task| task.name.value.as_str());
    if nth <= SUGGESTION_LIMIT
        && let Some(suggestion) = did_you_mean(name, names())
    {
        return format!("did you mean `{suggestion}`?");
    }
    if tasks.len() <= LIST_NAMES_UP_TO {
        let mut listed: Vec<String> = Vec::new();
        for name in names().map(|name| format!("`{name}`")) {
            if !listed.contains(&name) {
                listed.push(name);
            }
        }
        format!("the defined tasks are {}", listed.join(", "))
    } else {
        "check the spelling: `[after:…]` must name a task defined in the file".to_owned()
    }
}

/// Kahn's algorithm. Returns fewer ids than there are tasks when some are
/// in or behind a cycle.
fn topological_order(deps: &[Vec<usize>]) -> Vec<usize> {
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); deps.len()];
    for (id, task_deps) in deps.iter().enumerate() {
        for &dep in task_deps {
            dependents[dep].push(id);
        }
    }
    let mut ready: VecDeque<usize> = (0..deps.len()).filter(|&id| waiting[id] == 0).collect();
    let mut order = Vec::with_capacity(deps.len());
    while let Some(id) = ready.pop_front() {
        order.push(id);
        for &dependent in &dependents[id] {
            waiting[dependent] -= 1;
            if waiting[dependent] == 0 {
                ready.push_back(dependent);
            }
        }
    }
    order
}

/// One error per cycle among the tasks missing from `order`, each with the
/// shortest cycle through its first-declared task.
fn cycles(tasks: &[TaskSpec], deps: &[Vec<usize>], order: &[usize]) -> Vec<GraphError> {
    let mut in_cycle_region = vec![true; tasks.len()];
    for &id in order {
        in_cycle_region[id] = false;
    }
    let mut components = strongly_connected_components(deps, &in_cycle_region);
    components.retain(|component| component.len() > 1);
    for component in &mut components {
        component.sort_unstable();
    }
    components.sort_unstable_by_key(|component| component[0]);
    components
        .iter()
        .map(|component| cycle_error(tasks, deps, component))
        .collect()
}

fn cycle_error(tasks: &[TaskSpec], deps: &[Vec<usize>], component: &[usize]) -> GraphError {
    let path = shortest_cycle(deps, component);
    let names: Vec<String> = path
        .iter()
        .map(|&id| tasks[id].name.value.clone())
        .collect();
    let source_id = tasks[path[0]].name.span.source;
    let edges = path
        .windows(2)
        .take(CYCLE_EDGES_LABELLED)
        .filter_map(|pair| {
            let (from, to) = (&tasks[pair[0]], &tasks[pair[1]]);
            let dep = from
                .after
                .iter()
                .chain(&from.after_done)
                .find(|dep| dep.value == to.name.value)?;
            (dep.span.source == source_id).then(|| {
                LabeledSpan::new_with_span(
                    Some(format!("`{}` waits for `{}`", from.name, to.name)),
                    dep.span,
                )
            })
        })
        .collect();
    GraphError::Cycle {
        path: names,
        edges,
        source_id,
    }
}

/// The shortest path from the component's first task back to itself,
/// following dependency edges inside the component (breadth first). The
/// first task is repeated at the end.
fn shortest_cycle(deps: &[Vec<usize>], component: &[usize]) -> Vec<usize> {
    let start = component[0];
    let mut parent: HashMap<usize, usize> = HashMap::with_capacity(component.len());
    let mut queue = VecDeque::from([start]);
    while let Some(id) = queue.pop_front() {
        for &dep in &deps[id] {
            if dep == start {
                let mut path = vec![start, id];
                let mut current = id;
                while current != start {
                    current = parent[&current];
                    path.push(current);
                }
                path.reverse();
                return path;
            }
            if component.binary_search(&dep).is_ok() && !parent.contains_key(&dep) {
                parent.insert(dep, id);
                queue.push_back(dep);
            }
        }
    }
    // Every task of a strongly connected component with more than one task
    // lies on a cycle through the others, so the search above always
    // returns; this keeps the function total anyway.
    component.to_vec()
}

/// Tarjan's algorithm with an explicit stack, over the tasks marked in
/// `include`. Components come out in reverse topological order.
fn strongly_connected_components(deps: &[Vec<usize>], include: &[bool]) -> Vec<Vec<usize>> {
    const UNVISITED: usize = usize::MAX;
    let n = deps.len();
    let mut index = vec![UNVISITED; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut components = Vec::new();
    let mut calls: Vec<(usize, usize)> = Vec::new();

    for root in (0..n).filter(|&id| include[id]) {
        if index[root] != UNVISITED {
            continue;
        }
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        calls.push((root, 0));
        while let Some(&mut (id, ref mut edge)) = calls.last_mut() {
            if let Some(&dep) = deps[id].get(*edge) {
                *edge += 1;
                if !include[dep] {
                    continue;
                }
                if index[dep] == UNVISITED {
                    index[dep] = next;
                    low[dep] = next;
                    next += 1;
                    stack.push(dep);
                    on_stack[dep] = true;
                    calls.push((dep, 0));
                } else if on_stack[dep] {
                    low[id] = low[id].min(index[dep]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(caller, _)) = calls.last() {
                low[caller] = low[caller].min(low[id]);
            }
            if low[id] == index[id] {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component.push(member);
                    if member == id {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use super::*;
    use crate::testing::build;

    fn names(plan: &Plan, ids: &[usize]) -> Vec<String> {
        ids.iter()
            .map(|&id| plan.tasks[id].name.value.clone())
            .collect()
    }

    #[test]
    fn orders_dependencies_first_and_keeps_file_order_for_ties() {
        let plan = build("d: x [after:b,c]\nc: x\nb: x [after:a]\na: x\n").unwrap();
        assert_eq!(names(&plan, &plan.order), ["c", "a", "b", "d"]);
        assert_eq!(plan.edge_count(), 3);
        assert_eq!(names(&plan, &plan.longest_chain()), ["a", "b", "d"]);
    }

    /// Selects the tasks named (exactly) in `roots`, leaving out those in
    /// `excluded`.
    fn select(plan: Plan, roots: &[&str], excluded: &[&str]) -> Plan {
        let ids = |names: &[&str]| -> Vec<usize> {
            names.iter().flat_map(|name| plan.matching(name)).collect()
        };
        let (roots, out) = (ids(roots), ids(excluded));
        let excluded: Vec<bool> = (0..plan.tasks.len()).map(|id| out.contains(&id)).collect();
        plan.select(&roots, &excluded)
    }

    #[test]
    fn select_keeps_the_transitive_dependencies_in_file_order() {
        // `b` is declared before `a`, which it depends on.
        let text = "b: x [after:a]\na: x\nc: x\nd: x [after:b,c]\ne: x [after:a]\n";
        let plan = select(build(text).unwrap(), &["d"], &[]);
        assert_eq!(
            names(&plan, &(0..plan.tasks.len()).collect::<Vec<_>>()),
            ["b", "a", "c", "d"]
        );
        assert_eq!(plan.deps, vec![vec![1], vec![], vec![], vec![0, 2]]);
        assert_eq!(names(&plan, &plan.order), ["a", "c", "b", "d"]);
        let both = select(build(text).unwrap(), &["b", "e"], &[]);
        assert_eq!(both.tasks.len(), 3);
    }

    #[test]
    fn globs_match_names_and_excluded_tasks_leave_what_only_they_needed() {
        let text = "fetch: x\nlint: x [after:fetch]\ntest_a: x [after:build]\n\
                    test_b: x [after:build]\nbuild: x [after:fetch,gen]\ngen: x\n";
        let plan = build(text).unwrap();
        assert_eq!(names(&plan, &plan.matching("test_*")), ["test_a", "test_b"]);
        assert_eq!(names(&plan, &plan.matching("test_[b]")), ["test_b"]);
        assert!(plan.matching("test").is_empty(), "a name is not a prefix");
        // Leaving out `gen`: `build` runs without it.
        let plan = select(plan, &["test_*"], &["gen"]);
        let all: Vec<usize> = (0..plan.tasks.len()).collect();
        assert_eq!(names(&plan, &all), ["fetch", "test_a", "test_b", "build"]);
        assert_eq!(plan.deps[3], [0], "`build` waits for `fetch` only");
        // Leaving out `build` leaves out `fetch`, which only it needed here.
        let plan = select(build(text).unwrap(), &["test_*"], &["build"]);
        let all: Vec<usize> = (0..plan.tasks.len()).collect();
        assert_eq!(names(&plan, &all), ["test_a", "test_b"]);
    }

    #[test]
    fn soft_dependencies_order_and_count_in_cycles() {
        let plan = build("late: x [after_done:early]\nearly: x\n").unwrap();
        assert_eq!(names(&plan, &plan.order), ["early", "late"]);
        assert_eq!(plan.soft, vec![vec![1], vec![]]);
        assert_eq!(plan.edge_count(), 1);
        let errors = build("a: x [after_done:b]\nb: x [after:a]\n").unwrap_err();
        assert!(
            matches!(&errors[..], [GraphError::Cycle { path, .. }] if path.join(" ") == "a b a")
        );
        let errors = build("a: x [after_done:nope]\n").unwrap_err();
        assert!(matches!(
            &errors[..],
            [GraphError::UnknownDependency { .. }]
        ));
    }

    #[test]
    fn select_follows_hard_dependencies_only() {
        let plan = build("a: x\nb: x\nc: x [after:a] [after_done:b]\n").unwrap();
        let selected = select(plan, &["c"], &[]);
        assert_eq!(names(&selected, &[0, 1]), ["a", "c"]);
        assert_eq!(selected.soft, vec![Vec::<usize>::new(), vec![]]);
    }

    #[test]
    fn pools_are_resolved() {
        let plan = build("pool db 2\na: x [pool:db]\nb: x\n").unwrap();
        assert_eq!(plan.pools, [("db".to_owned(), 2)]);
        assert_eq!(plan.pool_of, [Some(0), None]);
        let errors = build("pool db 1\npool db 2\na: x [pool:dv]\n").unwrap_err();
        assert!(matches!(&errors[0], GraphError::DuplicatePool { name, .. } if name == "db"));
        assert!(
            matches!(&errors[1], GraphError::UnknownPool { help, .. } if help == "did you mean `db`?")
        );
    }

    #[test]
    fn longest_chain_of_independent_tasks_is_one() {
        let plan = build("a: x\nb: x\n").unwrap();
        assert_eq!(names(&plan, &plan.longest_chain()), ["a"]);
    }

    #[test]
    fn empty_set_is_an_error() {
        let errors = build("# nothing\n").unwrap_err();
        assert!(matches!(errors[..], [GraphError::NoTasks { .. }]));
    }

    #[test]
    fn duplicates_point_at_both_definitions() {
        let errors = build("a: x\nb: x\na: y\n").unwrap_err();
        let [
            GraphError::DuplicateTask {
                name, span, first, ..
            },
        ] = &errors[..]
        else {
            panic!("{errors:?}")
        };
        assert_eq!(name, "a");
        assert_eq!(
            (span.offset, first.map(|first| first.offset)),
            (10, Some(0))
        );
    }

    #[test]
    fn unknown_dependency_suggests_a_close_name() {
        let errors = build("fetch_deps: x\nlint: x [after:fetch_dep]\n").unwrap_err();
        let [
            GraphError::UnknownDependency {
                task,
                name,
                span,
                help,
            },
        ] = &errors[..]
        else {
            panic!("{errors:?}")
        };
        assert_eq!((task.as_str(), name.as_str()), ("lint", "fetch_dep"));
        assert_eq!(span.offset, 29);
        assert_eq!(help, "did you mean `fetch_deps`?");
    }

    #[test]
    fn unknown_dependency_lists_few_names() {
        let errors = build("a: x\nb: x [after:zzz]\n").unwrap_err();
        let [GraphError::UnknownDependency { help, .. }] = &errors[..] else {
            panic!()
        };
        assert_eq!(help, "the defined tasks are `a`, `b`");
    }

    #[test]
    fn self_dependency() {
        let errors = build("a: x [after:a]\n").unwrap_err();
        assert!(
            matches!(&errors[..], [GraphError::SelfDependency { name, span }] if name == "a" && span.offset == 12)
        );
    }

    #[test]
    fn cycle_reports_the_whole_path_with_every_edge() {
        let errors =
            build("a: x [after:c]\nb: x [after:a]\nc: x [after:b]\nd: x [after:c]\n").unwrap_err();
        let [GraphError::Cycle { path, edges, .. }] = &errors[..] else {
            panic!("{errors:?}")
        };
        assert_eq!(path, &["a", "c", "b", "a"]);
        let labels: Vec<_> = edges
            .iter()
            .map(|edge| (edge.offset(), edge.label().unwrap_or("")))
            .collect();
        assert_eq!(
            labels,
            [
                (12, "`a` waits for `c`"),
                (42, "`c` waits for `b`"),
                (27, "`b` waits for `a`")
            ]
        );
    }

    #[test]
    fn two_separate_cycles_are_two_errors() {
        let errors =
            build("a: x [after:b]\nb: x [after:a]\nc: x [after:d]\nd: x [after:c]\n").unwrap_err();
        let paths: Vec<_> = errors
            .iter()
            .map(|error| match error {
                GraphError::Cycle { path, .. } => path.join(" "),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(paths, ["a b a", "c d c"]);
    }

    #[test]
    fn shortest_cycle_through_the_first_task() {
        // a → b → c → a and a → c → a: the two-edge cycle is reported.
        let errors = build("a: x [after:b,c]\nb: x [after:c]\nc: x [after:a]\n").unwrap_err();
        let [GraphError::Cycle { path, .. }] = &errors[..] else {
            panic!("{errors:?}")
        };
        assert_eq!(path, &["a", "c", "a"]);
    }

    #[test]
    fn every_problem_at_once() {
        let errors =
            build("a: x [after:a]\na: x\nb: x [after:nope]\nc: x [after:d]\nd: x [after:c]\n")
                .unwrap_err();
        assert_eq!(errors.len(), 4, "{errors:?}");
    }

    /// The overlap errors of `text`: later task, earlier task, path,
    /// the text under the primary span and under the earlier one's.
    fn overlaps(text: &str) -> Vec<(String, String, String, String, Option<String>, String)> {
        let under = |span: crate::source::Span| text[span.offset..span.end()].to_owned();
        match build(text) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .into_iter()
                .map(|error| match error {
                    GraphError::OverlappingOutputs {
                        task,
                        first_task,
                        path,
                        span,
                        first,
                        help,
                    } => (task, first_task, path, under(span), first.map(under), help),
                    other => panic!("{other:?}"),
                })
                .collect(),
        }
    }

    #[test]
    fn overlapping_outputs_point_at_both_patterns() {
        let text = "a: x [outputs:dist/,a.o]\nb: x [outputs:b.o,dist/app]\n";
        let errors = overlaps(text);
        assert_eq!(
            errors,
            [(
                "b".to_owned(),
                "a".to_owned(),
                "dist/app".to_owned(),
                "dist/app".to_owned(),
                Some("dist/".to_owned()),
                "two tasks would both write `dist/app`: give each its own output path".to_owned()
            )]
        );
        let [error] = &build(text).unwrap_err()[..] else {
            panic!()
        };
        assert_eq!(error.to_string(), "tasks `a` and `b` both write `dist/app`");
        let labels: Vec<_> = miette::Diagnostic::labels(error).unwrap().collect();
        assert_eq!(
            labels
                .iter()
                .map(|label| (label.offset(), label.len(), label.primary()))
                .collect::<Vec<_>>(),
            [(43, 8, true), (14, 5, false)]
        );
        assert_eq!(
            miette::Diagnostic::code(error).unwrap().to_string(),
            "graph::overlapping_outputs"
        );
    }

    #[test]
    fn outputs_are_compared_within_their_tasks_directories() {
        // `web/dist` is `dist` of a task in `web`.
        let errors = overlaps("a: x [dir:web] [outputs:dist]\nb: x [outputs:web/dist/app.js]\n");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].2, "web/dist/app.js");
        assert_eq!(errors[0].3, "web/dist/app.js");
        assert_eq!(errors[0].4.as_deref(), Some("dist"));
        // The same pattern in two directories is two paths.
        assert!(overlaps("a: x [dir:a] [outputs:out/]\nb: x [dir:b] [outputs:out/]\n").is_empty());
        // `..` in a directory is resolved before comparing.
        let errors =
            overlaps("a: x [dir:web/../api] [outputs:bin]\nb: x [dir:api] [outputs:bin/]\n");
        assert_eq!(errors[0].2, "api/bin/");
        // Globs meet names they may match, whichever comes first.
        let errors = overlaps("a: x [outputs:out/x.o]\nb: x [outputs:out/*.o]\n");
        assert_eq!(
            (errors[0].3.as_str(), errors[0].4.as_deref()),
            ("out/*.o", Some("out/x.o"))
        );
        let errors = overlaps("a: x [outputs:out/*.o]\nb: x [outputs:out/x.o]\n");
        assert_eq!(
            (errors[0].3.as_str(), errors[0].4.as_deref()),
            ("out/x.o", Some("out/*.o"))
        );
        assert!(overlaps("a: x [outputs:out/*.o]\nb: x [outputs:out/*.c,out/y.c]\n").is_empty());
        // An output inside an earlier task's, and the run's directory itself.
        let errors = overlaps("a: x [outputs:build/a/b]\nb: x [outputs:build]\n");
        assert_eq!(
            (errors[0].2.as_str(), errors[0].4.as_deref()),
            ("build/a/b", Some("build/a/b"))
        );
        let errors = overlaps("a: x [outputs:dist]\nb: x [outputs:./]\n");
        assert_eq!(errors[0].2, "dist");
    }

    #[test]
    fn outputs_that_cannot_meet_or_are_never_cached_pass() {
        for text in [
            "a: x [outputs:build/a]\nb: x [outputs:build/b]\n",
            // One task may list a tree and a file in it.
            "a: x [outputs:dist/,dist/app]\n",
            // Inputs may be another task's outputs.
            "a: x [outputs:app]\nb: x [inputs:app] [outputs:app.tar]\n",
            "a: x [outputs:dist/]\nb: x [outputs:dist/app] [cache:no]\n",
            "a: x [outputs:dist/] [cache:no]\nb: x [outputs:dist/app]\n",
        ] {
            assert_eq!(overlaps(text), [], "{text}");
        }
        // Every later output that meets an earlier one is reported.
        let errors = overlaps("a: x [outputs:o/]\nb: x [outputs:o/1]\nc: x [outputs:o/2,o/1]\n");
        let pairs: Vec<_> = errors
            .iter()
            .map(|e| (e.0.as_str(), e.1.as_str(), e.3.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [("b", "a", "o/1"), ("c", "a", "o/2"), ("c", "b", "o/1")]
        );
    }

    #[test]
    fn very_long_chain_does_not_overflow_the_stack() {
        let n = 100_000;
        let mut text = String::from("t0: true\n");
        for i in 1..n {
            writeln!(text, "t{i}: true [after:t{}]", i - 1).unwrap();
        }
        let plan = build(&text).unwrap();
        assert_eq!(plan.longest_chain().len(), n);
        // Closing the chain into one huge cycle must be found iteratively too.
        text = text.replacen("t0: true\n", &format!("t0: true [after:t{}]\n", n - 1), 1);
        let errors = build(&text).unwrap_err();
        let [GraphError::Cycle { path, .. }] = &errors[..] else {
            panic!()
        };
        assert_eq!(path.len(), n + 1);
    }
}
