//! Diagnostics and the `check` summary.
//!
//! Diagnostics are rendered by miette's graphical handler with the source
//! text attached here, at print time, so the stages that find problems only
//! carry spans. Colour is decided once per output stream, from `--color`,
//! whether the stream is a terminal, `NO_COLOR`, `CLICOLOR_FORCE` and
//! `TERM=dumb`.

use std::fmt::Write;
use std::sync::Arc;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, NamedSource};

use crate::error::{Error, Problem, plural};
use crate::graph::Plan;
use crate::source::{SourceId, Sources};

/// Diagnostics are wrapped to this many columns.
const WIDTH: usize = 100;

/// At most this many problems are printed in full; the rest are counted.
pub(crate) const MAX_SHOWN: usize = 50;

/// When to colour output (`--color`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// How output looks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Style {
    pub(crate) color: bool,
}

impl Style {
    /// Resolves `--color` for an output stream that is (or is not) a
    /// terminal, against the environment of this process.
    pub(crate) fn detect(choice: ColorChoice, terminal: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR");
        let force = std::env::var_os("CLICOLOR_FORCE");
        let env = ColorEnv {
            no_color: no_color.as_deref().is_some_and(|value| !value.is_empty()),
            force: force.as_deref().is_some_and(|value| value != "0"),
            dumb: super::terminal::is_dumb(),
        };
        Style {
            color: use_color(choice, terminal, env),
        }
    }

    fn handler(self) -> GraphicalReportHandler {
        let theme = if self.color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        GraphicalReportHandler::new_themed(theme)
            .with_width(WIDTH)
            .with_links(false)
            .with_show_related_as_nested(true)
    }
}

/// What the environment says about colour.
#[derive(Clone, Copy, Debug, Default)]
struct ColorEnv {
    /// `NO_COLOR` is set and not empty (no-color.org).
    no_color: bool,
    /// `CLICOLOR_FORCE` is set and not `0` (bixense.com/clicolors).
    force: bool,
    /// `TERM=dumb`.
    dumb: bool,
}

/// Whether to colour, in the order common tools use (cargo's `anstream`,
/// the clicolors convention): `--color always|never` wins over the
/// environment; then `NO_COLOR` turns colour off; then `CLICOLOR_FORCE`
/// turns it on, even off a terminal and even with `TERM=dumb`; otherwise
/// only a terminal that is not dumb gets colour.
fn use_color(choice: ColorChoice, terminal: bool, env: ColorEnv) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto if env.no_color => false,
        ColorChoice::Auto if env.force => true,
        ColorChoice::Auto => terminal && !env.dumb,
    }
}

/// Renders an error for stderr, with every problem it holds.
pub(crate) fn error(error: &Error, sources: &Sources, style: Style) -> String {
    let handler = style.handler();
    let mut out = String::new();
    match error {
        Error::Invalid { path, problems } => {
            for problem in problems.iter().take(MAX_SHOWN) {
                render_problem(&handler, &mut out, problem, sources);
            }
            if problems.len() > MAX_SHOWN {
                let _ = writeln!(
                    out,
                    "… and {} not shown\n",
                    plural(problems.len() - MAX_SHOWN, "more problem")
                );
            }
            let _ = writeln!(
                out,
                "error: {} in {}",
                plural(problems.len(), "problem"),
                path.display()
            );
        }
        other => render(&handler, &mut out, other),
    }
    out
}

/// Renders one problem (with its source) for stderr.
pub(crate) fn problem(problem: &Problem, sources: &Sources, style: Style) -> String {
    let mut out = String::new();
    render_problem(&style.handler(), &mut out, problem, sources);
    out
}

fn render_problem(
    handler: &GraphicalReportHandler,
    out: &mut String,
    problem: &Problem,
    sources: &Sources,
) {
    // miette shows one source per diagnostic: where a script called into
    // a module the problem is in, that call is a related diagnostic with
    // the script's text.
    let related = problem
        .called()
        .map(|call| WithSource {
            diagnostic: call,
            source: named(sources, call.span.source),
            related: Vec::new(),
        })
        .into_iter()
        .collect();
    let report = WithSource {
        diagnostic: problem,
        source: named(sources, problem.source_id()),
        related,
    };
    render(handler, out, &report);
}

fn named(sources: &Sources, id: SourceId) -> NamedSource<Arc<str>> {
    let source = sources.get(id);
    NamedSource::new(source.name(), source.text.clone())
}

/// A diagnostic with the text it points into, and related diagnostics
/// with theirs.
struct WithSource<'a> {
    diagnostic: &'a dyn Diagnostic,
    source: NamedSource<Arc<str>>,
    related: Vec<WithSource<'a>>,
}

impl std::fmt::Debug for WithSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl std::fmt::Display for WithSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self.diagnostic, f)
    }
}

impl std::error::Error for WithSource<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.diagnostic.source()
    }
}

impl Diagnostic for WithSource<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.diagnostic.code()
    }

    fn severity(&self) -> Option<miette::Severity> {
        self.diagnostic.severity()
    }

    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.diagnostic.help()
    }

    fn url<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.diagnostic.url()
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.diagnostic.labels()
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn Diagnostic> + 'b>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related
                .iter()
                .map(|related| related as &dyn Diagnostic),
        ))
    }

    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.diagnostic.diagnostic_source()
    }
}

fn render(handler: &GraphicalReportHandler, out: &mut String, diagnostic: &dyn Diagnostic) {
    if handler.render_report(out, diagnostic).is_err() {
        // Rendering into a String only fails if a Display impl does; fall
        // back to the plain message rather than print nothing.
        let _ = writeln!(out, "error: {diagnostic}");
    }
    out.push('\n');
}

/// The one-line summary `taskrun check` prints.
pub(crate) fn check_summary(name: &str, plan: &Plan) -> String {
    let chain = plan.longest_chain();
    let names: Vec<&str> = chain
        .iter()
        .map(|&id| plan.tasks[id].name.value.as_str())
        .collect();
    let shown = if names.len() <= 6 {
        names.join(" → ")
    } else {
        format!(
            "{} → {} → … → {} → {}",
            names[0],
            names[1],
            names[names.len() - 2],
            names[names.len() - 1]
        )
    };
    format!(
        "{name}: {}, {}, longest chain {} ({shown})",
        plural(plan.tasks.len(), "task"),
        plural(plan.edge_count(), "dependency edge"),
        plural(names.len(), "task"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_choice_terminal_and_no_color() {
        let none = ColorEnv::default();
        let no_color = ColorEnv {
            no_color: true,
            ..none
        };
        assert!(use_color(ColorChoice::Auto, true, none));
        assert!(!use_color(ColorChoice::Auto, true, no_color));
        assert!(!use_color(ColorChoice::Auto, false, none));
        assert!(use_color(ColorChoice::Always, false, no_color));
        assert!(!use_color(ColorChoice::Never, true, none));
    }

    #[test]
    fn clicolor_force_and_dumb_terminals() {
        let force = ColorEnv {
            force: true,
            ..ColorEnv::default()
        };
        let dumb = ColorEnv {
            dumb: true,
            ..ColorEnv::default()
        };
        // A dumb terminal gets no colour unless it is forced or asked for.
        assert!(!use_color(ColorChoice::Auto, true, dumb));
        assert!(use_color(ColorChoice::Always, true, dumb));
        assert!(use_color(
            ColorChoice::Auto,
            true,
            ColorEnv {
                force: true,
                ..dumb
            }
        ));
        // CLICOLOR_FORCE colours a pipe, but NO_COLOR and --color never win.
        assert!(use_color(ColorChoice::Auto, false, force));
        assert!(!use_color(ColorChoice::Never, true, force));
        let both = ColorEnv {
            no_color: true,
            ..force
        };
        assert!(!use_color(ColorChoice::Auto, true, both));
    }
}
