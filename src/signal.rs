//! Interrupting signals as messages.
//!
//! SIGINT, SIGTERM and SIGHUP are caught for the length of a run and each
//! arrival is sent, as its number, on a channel the scheduler selects on;
//! what to do about it is the scheduler's decision. The signal number is
//! kept because it decides the exit status (128 + number).

use crossbeam::channel::{self, Receiver};

use crate::event::Signal;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// Catches interrupting signals until dropped.
pub(crate) struct Listener {
    handle: Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    /// Starts catching SIGINT, SIGTERM and SIGHUP; their numbers arrive on
    /// the returned channel.
    pub(crate) fn start() -> std::io::Result<(Listener, Receiver<Signal>)> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let handle = signals.handle();
        let (sender, receiver) = channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("taskrun-signals".to_owned())
            .spawn(move || {
                for signal in signals.forever() {
                    if sender.send(Signal(signal)).is_err() {
                        break;
                    }
                }
            })?;
        Ok((
            Listener {
                handle,
                thread: Some(thread),
            },
            receiver,
        ))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
