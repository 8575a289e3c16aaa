//! The `taskrun` binary: everything lives in the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(taskrun::run(std::env::args_os()))
}
