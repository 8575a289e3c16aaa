//! `taskrun`'s entry point: the command line's arguments to a subcommand,
//! and its result to an exit status and a diagnostic.

use std::ffi::OsString;
use std::io::IsTerminal;

use clap::Parser;

use crate::cli::{Arguments, Command};
use crate::commands;
use crate::error::Error;
use crate::exit_code;
use crate::report::{self, Style};
use crate::source::Sources;

/// Runs taskrun with the given command-line arguments (the first one is the
/// program name) and returns the exit status.
#[expect(clippy::too_many_lines, reason = "one arm for each subcommand")]
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let arguments = match Arguments::try_parse_from(args) {
        Ok(arguments) => arguments,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                exit_code::INVALID_INPUT
            } else {
                exit_code::SUCCESS
            };
        }
    };
    let color = arguments.color.into();
    let style = Style::detect(color, std::io::stderr().is_terminal());
    let mut sources = Sources::new();
    if let Some(dir) = &arguments.directory
        && let Err(source) = std::env::set_current_dir(dir)
    {
        let error = Error::ChangeDir {
            dir: dir.clone(),
            source,
        };
        eprint!("{}", report::error(&error, &sources, style));
        return error.exit_code();
    }
    let result = match &arguments.command {
        Command::Run(args) => commands::run(args, color, &mut sources),
        Command::Retry(args) => commands::retry(args, color, &mut sources),
        Command::Prune(args) => commands::prune(args),
        Command::Gc(args) => commands::gc(args),
        Command::Stats(args) => commands::stats(args),
        Command::Search(args) => commands::search(args),
        Command::Cat {
            run,
            task,
            file,
            store,
            db,
        } => commands::cat(&db.path, *run, task, file, store.as_deref()),
        Command::Index { db } => commands::index(&db.path),
        Command::Diff {
            a,
            b,
            json,
            exit_code,
            db,
        } => commands::diff(&db.path, *a, *b, *json, *exit_code),
        Command::History { limit, json, db } => commands::history(&db.path, *limit, *json),
        Command::Show {
            run,
            task,
            json,
            junit,
            trace,
            html,
            why,
            outputs,
            store,
            db,
        } => commands::show(
            &db.path,
            *run,
            task.as_deref(),
            commands::ShowAs {
                json: *json,
                view: match (*junit, *why, *outputs) {
                    (true, _, _) => commands::View::Junit,
                    (_, true, _) => commands::View::Why,
                    (_, _, true) => commands::View::Outputs,
                    _ => commands::View::Plain,
                },
                trace: trace.as_deref(),
                html: html.as_deref(),
                store: store.as_deref(),
            },
        ),
        Command::Check { source, json } => commands::check(source, *json, &mut sources),
        Command::List {
            source,
            json,
            names,
        } => commands::list(source, *json, *names, &mut sources),
        Command::Graph { source, format } => commands::graph(source, *format, &mut sources),
        Command::Completions { shell } => commands::completions(*shell),
        Command::Schema => commands::schema(),
        Command::Convert {
            file,
            to,
            file_format,
        } => commands::convert(
            file,
            (*to).into(),
            file_format.map(Into::into),
            &mut sources,
        ),
        Command::Man => commands::man(),
    };
    match result {
        Ok(code) => code,
        // Like other Unix filters, stop quietly when the reader has gone
        // (`taskrun graph … | head`).
        Err(Error::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            exit_code::SUCCESS
        }
        Err(error) => {
            eprint!("{}", report::error(&error, &sources, style));
            error.exit_code()
        }
    }
}
