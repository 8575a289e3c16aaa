//! Reports written to a file as the run goes (the event log, the task
//! logs): the first write error stops the report, never the run, and is
//! reported when the run is over.

use std::path::Path;

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
