//! The dependency graph as text for other tools: Graphviz DOT and Mermaid.
//!
//! Edges point from a dependency to the task that waits for it, the
//! direction work flows; a dependency that only orders (`[after_done:…]`)
//! is dashed. Nodes come in declaration order and each task's
//! edges in the order written, so the output is stable and diffs well.

use std::fmt::Write;

use crate::graph::Plan;

/// The plan as a Graphviz digraph.
pub(crate) fn dot(plan: &Plan) -> String {
    let mut out = String::from("digraph tasks {\n    rankdir=LR;\n    node [shape=box];\n");
    for task in &plan.tasks {
        let _ = writeln!(out, "    \"{}\";", task.name);
    }
    for (id, deps) in plan.deps.iter().enumerate() {
        for &dep in deps {
            let _ = writeln!(
                out,
                "    \"{}\" -> \"{}\";",
                plan.tasks[dep].name, plan.tasks[id].name
            );
        }
        for &dep in &plan.soft[id] {
            let _ = writeln!(
                out,
                "    \"{}\" -> \"{}\" [style=dashed];",
                plan.tasks[dep].name, plan.tasks[id].name
            );
        }
    }
    out.push_str("}\n");
    out
}

/// The plan as a Mermaid flowchart. Nodes get positional ids (`t0`, `t1`,
/// …) labelled with the task name, because some names (`end`, `graph`,
/// `style`, …) are keywords in Mermaid and would break the chart.
pub(crate) fn mermaid(plan: &Plan) -> String {
    let mut out = String::from("flowchart LR\n");
    for (id, task) in plan.tasks.iter().enumerate() {
        let _ = writeln!(out, "    t{id}[\"{}\"]", task.name);
    }
    for (id, deps) in plan.deps.iter().enumerate() {
        for &dep in deps {
            let _ = writeln!(out, "    t{dep} --> t{id}");
        }
        for &dep in &plan.soft[id] {
            let _ = writeln!(out, "    t{dep} -.-> t{id}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::plan;

    #[test]
    fn dot_lists_nodes_then_edges() {
        let plan = plan("a: x\nb: x\nend: x [after:a,b]\n");
        assert_eq!(
            dot(&plan),
            "digraph tasks {\n    rankdir=LR;\n    node [shape=box];\n    \"a\";\n    \"b\";\n    \"end\";\n    \"a\" -> \"end\";\n    \"b\" -> \"end\";\n}\n"
        );
    }

    #[test]
    fn mermaid_uses_positional_ids() {
        let plan = plan("a: x\nend: x [after:a]\n");
        assert_eq!(
            mermaid(&plan),
            "flowchart LR\n    t0[\"a\"]\n    t1[\"end\"]\n    t0 --> t1\n"
        );
    }
}
