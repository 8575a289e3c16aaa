//! The command line: clap definitions, nothing else.
//!
//! Parsing arguments never touches files or runs anything; `lib.rs` turns
//! the parsed [`Arguments`] into work.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// A declarative, Make-style parallel task runner.
#[derive(Debug, Parser)]
#[command(name = "taskrun", version, about, max_term_width = 100)]
pub struct Arguments {
    /// When to colour diagnostics: `auto` colours only on a terminal and
    /// never when `NO_COLOR` is set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a task file and print a one-line summary of it.
    Check {
        /// The task file, e.g. `tasks.txt`.
        file: PathBuf,
    },
    /// Print the dependency graph of a task file for Graphviz or Mermaid.
    Graph {
        /// The task file, e.g. `tasks.txt`.
        file: PathBuf,
        /// The output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT: `taskrun graph tasks.txt | dot -Tsvg > graph.svg`.
    Dot,
    /// A Mermaid flowchart, for Markdown pages.
    Mermaid,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn definition_is_consistent() {
        Arguments::command().debug_assert();
    }
}
