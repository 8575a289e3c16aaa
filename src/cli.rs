//! The command line: clap definitions, nothing else.
//!
//! Parsing arguments never touches files or runs anything; `lib.rs` turns
//! the parsed [`Arguments`] into work.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::units::{parse_duration, parse_size};

/// A declarative, Make-style parallel task runner.
#[derive(Debug, Parser)]
#[command(name = "taskrun", version, about, max_term_width = 100)]
pub struct Arguments {
    /// When to use colour: `auto` colours only on a terminal and
    /// never when `NO_COLOR` is set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the tasks of a task file in parallel, in dependency order.
    Run(RunArgs),
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

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The task file, e.g. `tasks.txt`. Tasks run in its directory.
    pub file: PathBuf,

    /// Run at most N tasks at once [default: the number of CPUs].
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,

    /// Stop a task that runs longer than this: seconds (fractions allowed)
    /// or a duration such as `500ms`, `90s`, `5m`; `0` for no limit.
    #[arg(long, value_name = "S", value_parser = parse_duration, default_value = "60")]
    pub timeout: Duration,

    /// Run only this task and the tasks it depends on (repeatable).
    #[arg(long = "task", short = 't', value_name = "NAME")]
    pub tasks: Vec<String>,

    /// Keep at most this many bytes of each task's stdout and stderr (the
    /// rest is counted): a number of bytes or e.g. `64K`, `1M`.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "1M")]
    pub max_output: u64,

    /// Print only the final summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(jobs) => Ok(jobs),
        Err(_) => Err(format!("`{text}` is not a whole number")),
    }
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

    #[test]
    fn jobs_must_be_positive() {
        assert_eq!(parse_jobs("4"), Ok(4));
        assert!(parse_jobs("0").is_err());
        assert!(parse_jobs("-1").is_err());
        assert!(parse_jobs("x").is_err());
    }
}
