//! `taskrun check FILE` and `taskrun graph FILE`: a task file validated,
//! summarised or drawn, and nothing run.

use crate::cli::{GraphFormat, SourceArgs};
use crate::error::Error;
use crate::load::{self, LoadOptions, is_script};
use crate::source::Sources;
use crate::{exit_code, report, visualize};

use super::print_out;

/// `taskrun check FILE`.
pub(crate) fn check(args: &SourceArgs, sources: &mut Sources) -> Result<u8, Error> {
    let loaded = load::load(&LoadOptions::from(args), sources)?;
    let mut name = args.file.display().to_string();
    if let (Some(script), false) = (&loaded.script_path, is_script(&args.file)) {
        name = format!("{name} + {}", script.display());
    }
    let summary = report::check_summary(&name, &loaded.plan);
    print_out(&format!("{summary}\n"))?;
    Ok(exit_code::SUCCESS)
}

/// `taskrun graph FILE`.
pub(crate) fn graph(
    args: &SourceArgs,
    format: GraphFormat,
    sources: &mut Sources,
) -> Result<u8, Error> {
    let plan = load::load(&LoadOptions::from(args), sources)?.plan;
    let text = match format {
        GraphFormat::Dot => visualize::dot(&plan),
        GraphFormat::Mermaid => visualize::mermaid(&plan),
    };
    print_out(&text)?;
    Ok(exit_code::SUCCESS)
}
