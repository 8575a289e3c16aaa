//! `taskrun schema` and `taskrun convert`: the structured format's schema,
//! and a task file's tasks written in another format.

use std::path::Path;

use crate::error::Error;
use crate::exit_code;
use crate::load::{self, FileFormat, LoadOptions, ScriptChoice};
use crate::source::Sources;
use crate::structured::{self, doc};
use crate::taskfile;

use super::print_out;

/// `taskrun schema`.
pub(crate) fn schema() -> Result<u8, Error> {
    print_out(&doc::schema())?;
    Ok(exit_code::SUCCESS)
}

/// `taskrun convert FILE --to FORMAT`: the file's own tasks (a script
/// beside it does not take part; a `.rhai` file's are the ones it makes).
pub(crate) fn convert(
    file: &Path,
    to: FileFormat,
    format: Option<FileFormat>,
    sources: &mut Sources,
) -> Result<u8, Error> {
    let options = LoadOptions {
        file: file.to_owned(),
        script: ScriptChoice::Without,
        format,
    };
    let plan = load::load(&options, sources)?.plan;
    let text = match to {
        FileFormat::Lines => taskfile::write(&plan.tasks, &plan.pools).map_err(|(task, why)| {
            Error::CannotConvert {
                task,
                to: "lines",
                why,
            }
        })?,
        FileFormat::Toml | FileFormat::Json => {
            if let Some(task) = plan
                .tasks
                .iter()
                .find(|task| task.kind == crate::task::Kind::Rhai)
            {
                return Err(Error::CannotConvert {
                    task: task.name.value.clone(),
                    to: if to == FileFormat::Toml {
                        "toml"
                    } else {
                        "json"
                    },
                    why: "it is a closure of the script, which no task file holds".to_owned(),
                });
            }
            let structured = if to == FileFormat::Toml {
                structured::Format::Toml
            } else {
                structured::Format::Json
            };
            doc::write(&doc::TaskFile::of(&plan.tasks, &plan.pools), structured)
                .map_err(|why| Error::Output(std::io::Error::other(why)))?
        }
    };
    print_out(&text)?;
    Ok(exit_code::SUCCESS)
}
