//! `taskrun check FILE` and `taskrun graph FILE`: a task file validated,
//! summarised or drawn, and nothing run.

use crate::cli::{GraphFormat, SourceArgs};
use crate::error::Error;
use crate::load::{self, is_script};
use crate::order::{Estimates, Order};
use crate::source::Sources;
use crate::{exit_code, report, visualize};

use super::print_out;

/// `taskrun check FILE`.
pub(crate) fn check(args: &SourceArgs, json: bool, sources: &mut Sources) -> Result<u8, Error> {
    let options = args.load_options(None)?;
    let loaded = load::load(&options, sources)?;
    let file = options.file.display().to_string();
    if json {
        print_out(&report::plan_json(
            &file,
            &loaded.plan,
            default_jobs(),
            &Estimates::equal(loaded.plan.tasks.len()),
            Order::CriticalPath,
        ))?;
        return Ok(exit_code::SUCCESS);
    }
    let mut name = file;
    if let (Some(script), false) = (&loaded.script_path, is_script(&options.file)) {
        name = format!("{name} + {}", script.display());
    }
    let summary = report::check_summary(&name, &loaded.plan);
    print_out(&format!("{summary}\n"))?;
    Ok(exit_code::SUCCESS)
}

/// `taskrun list FILE`.
pub(crate) fn list(
    args: &SourceArgs,
    json: bool,
    names: bool,
    sources: &mut Sources,
) -> Result<u8, Error> {
    let options = args.load_options(None)?;
    let plan = load::load(&options, sources)?.plan;
    let file = options.file.display().to_string();
    let text = if json {
        report::plan_json(
            &file,
            &plan,
            default_jobs(),
            &Estimates::equal(plan.tasks.len()),
            Order::CriticalPath,
        )
    } else if names {
        let mut names = String::new();
        for task in &plan.tasks {
            names.push_str(&task.name.value);
            names.push('\n');
        }
        names
    } else {
        report::list(&file, &plan)
    };
    print_out(&text)?;
    Ok(exit_code::SUCCESS)
}

/// The jobs a run would have without `--jobs`: the number of CPUs.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `taskrun graph FILE`.
pub(crate) fn graph(
    args: &SourceArgs,
    format: GraphFormat,
    sources: &mut Sources,
) -> Result<u8, Error> {
    let plan = load::load(&args.load_options(None)?, sources)?.plan;
    let text = match format {
        GraphFormat::Dot => visualize::dot(&plan),
        GraphFormat::Mermaid => visualize::mermaid(&plan),
    };
    print_out(&text)?;
    Ok(exit_code::SUCCESS)
}
