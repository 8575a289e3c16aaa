//! Run-wide stop requests that every running job can wait on.
//!
//! A [`Control`] holds two one-way latches, "interrupt" and "kill". Each is
//! a pipe whose write end is closed to trigger it: every job polling the
//! read end wakes at once and keeps seeing it readable, so one call reaches
//! any number of jobs without tracking them.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use crate::event::Signal;

/// Stop requests shared by all jobs of a run.
#[derive(Debug)]
pub(crate) struct Control {
    interrupt: Latch,
    kill: Latch,
    watch: Watch,
}

/// The state of a [`Control`], for work that checks it now and then
/// instead of polling its latches (an evaluated task's script).
#[derive(Clone, Debug, Default)]
pub(crate) struct Watch {
    signal: Arc<AtomicI32>,
    killed: Arc<AtomicBool>,
}

impl Watch {
    /// The interrupting signal, once there has been one.
    pub(crate) fn interrupted(&self) -> Option<Signal> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(Signal(signal)),
        }
    }

    /// Whether the run asked for every job to be killed.
    pub(crate) fn killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }
}

impl Control {
    pub(crate) fn new() -> std::io::Result<Control> {
        Ok(Control {
            interrupt: Latch::new()?,
            kill: Latch::new()?,
            watch: Watch::default(),
        })
    }

    /// Asks every running job to stop: each forwards `signal` to its
    /// processes and kills them if they have not ended after the grace
    /// period. Later calls change nothing.
    pub(crate) fn interrupt(&self, signal: Signal) {
        let _ = self.watch.signal.compare_exchange(
            0,
            signal.number(),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        self.interrupt.trigger();
    }

    /// Kills every running job at once.
    pub(crate) fn kill(&self) {
        self.watch.killed.store(true, Ordering::SeqCst);
        self.kill.trigger();
    }

    /// The signal of the interrupt, once there has been one.
    pub(crate) fn interrupted(&self) -> Option<Signal> {
        self.watch.interrupted()
    }

    /// A handle on this control's state that can be kept and cloned.
    pub(crate) fn watch(&self) -> Watch {
        self.watch.clone()
    }

    /// Readable once [`Control::interrupt`] has been called.
    pub(crate) fn interrupt_fd(&self) -> BorrowedFd<'_> {
        self.interrupt.read.as_fd()
    }

    /// Readable once [`Control::kill`] has been called.
    pub(crate) fn kill_fd(&self) -> BorrowedFd<'_> {
        self.kill.read.as_fd()
    }
}

#[derive(Debug)]
struct Latch {
    read: OwnedFd,
    write: Mutex<Option<OwnedFd>>,
}

impl Latch {
    fn new() -> std::io::Result<Latch> {
        let (read, write) = os_pipe::pipe()?;
        Ok(Latch {
            read: read.into(),
            write: Mutex::new(Some(write.into())),
        })
    }

    fn trigger(&self) {
        // Dropping the only write end makes the read end report end of
        // file, forever.
        if let Ok(mut write) = self.write.lock() {
            write.take();
        }
    }
}
