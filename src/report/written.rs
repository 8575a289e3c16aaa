//! Reports written to a file as the run goes (the event log, the task
//! logs): the first write error stops the report, never the run, and is
//! reported when the run is over. And reports made from the recorded run
//! once it is over (JUnit, the trace, the HTML page): [`ReportFile`].

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::event::Event;
use crate::sink::Sink;

/// A report that writes each event out.
pub(crate) trait Report: Send {
    /// Writes what `event` adds to the report.
    fn write(&mut self, event: Event) -> std::io::Result<()>;

    /// Writes out what is buffered.
    fn flush(&mut self) -> std::io::Result<()>;

    /// Where the report goes, for the message when writing fails.
    fn target(&self) -> &Path;
}

/// A [`Report`] as a sink.
pub(crate) struct Written<R> {
    report: R,
    /// The first write error; nothing more is written after one.
    failure: Option<std::io::Error>,
}

impl<R: Report> Written<R> {
    pub(crate) fn new(report: R) -> Written<R> {
        Written {
            report,
            failure: None,
        }
    }

    fn attempt(&mut self, write: impl FnOnce(&mut R) -> std::io::Result<()>) {
        if self.failure.is_none()
            && let Err(error) = write(&mut self.report)
        {
            self.failure = Some(error);
        }
    }
}

impl<R: Report> Sink for Written<R> {
    fn receive(&mut self, event: Event) {
        self.attempt(|report| report.write(event));
    }

    fn idle(&mut self) {
        // Written in batches, and flushed whenever no event waits, so that
        // a reader sees each event as soon as it happened.
        self.attempt(Report::flush);
    }

    fn finish(mut self: Box<Self>) -> Result<(), Error> {
        self.attempt(Report::flush);
        match self.failure.take() {
            None => Ok(()),
            Some(source) => Err(Error::CannotWrite {
                path: self.report.target().to_owned(),
                source,
            }),
        }
    }
}

/// A report made from the recorded run and written to a file when the run
/// is over (`--junit`, `--trace`, `--html`): the sink comes after the
/// recorder, whose rows it reads. The file is opened before the run
/// starts, so that a path that cannot be written stops it before anything
/// runs.
pub(crate) struct ReportFile {
    path: PathBuf,
    file: std::fs::File,
    /// Makes the report, from the recorded run.
    report: Box<dyn FnOnce() -> Result<String, Error> + Send>,
}

impl ReportFile {
    /// Writes what `report` makes to `file` (opened at `path`).
    pub(crate) fn new(
        path: PathBuf,
        file: std::fs::File,
        report: Box<dyn FnOnce() -> Result<String, Error> + Send>,
    ) -> ReportFile {
        ReportFile { path, file, report }
    }
}

impl Sink for ReportFile {
    fn wants_output(&self) -> bool {
        false
    }

    /// The report is made from the database, not from the events.
    fn receive(&mut self, _: Event) {}

    fn finish(self: Box<Self>) -> Result<(), Error> {
        let ReportFile {
            path,
            mut file,
            report,
        } = *self;
        let text = report()?;
        file.write_all(text.as_bytes())
            .map_err(|source| Error::CannotWrite { path, source })
    }
}
