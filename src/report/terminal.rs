//! Facts about the terminal that output goes to.

use std::os::fd::RawFd;

/// The width in columns of the terminal on `fd`, if it is one and says.
///
/// Read anew whenever the display is drawn rather than once (or on
/// SIGWINCH): it is one ioctl, and a window resized mid-run is then seen
/// at the next redraw without a signal handler to install and remove.
pub(crate) fn width(fd: RawFd) -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills a winsize structure and touches nothing else;
    // on a descriptor that is not a terminal it fails and fills nothing.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        let result = libc::ioctl(fd, libc::TIOCGWINSZ, &raw mut size);
        (result == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
    }
}

/// Whether `TERM` says the terminal is dumb: it cannot move the cursor or
/// show colour (Emacs' shell, some CI consoles).
pub(crate) fn is_dumb() -> bool {
    std::env::var_os("TERM").is_some_and(|term| term == "dumb")
}
