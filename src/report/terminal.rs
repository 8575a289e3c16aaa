//! Facts about the terminal that output goes to.

/// The width in columns of the terminal on standard output, if it is one.
pub(crate) fn stdout_width() -> Option<usize> {
    // SAFETY: TIOCGWINSZ fills a winsize structure and touches nothing else.
    unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        let result = libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &raw mut size);
        (result == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
    }
}

/// Whether `TERM` says the terminal is dumb: it cannot move the cursor or
/// show colour (Emacs' shell, some CI consoles).
pub(crate) fn is_dumb() -> bool {
    std::env::var_os("TERM").is_some_and(|term| term == "dumb")
}
