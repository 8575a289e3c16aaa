//! Running the binary: `Test::new().file(..).args(..).run()`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The project's root directory.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `taskrun` binary built for these tests.
pub(crate) fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_taskrun"))
}

/// One run of the binary in its own temporary directory.
pub(crate) struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) status: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Test {
    pub(crate) fn new() -> Test {
        Test {
            dir: tempfile::tempdir().expect("a temporary directory can be made"),
            args: Vec::new(),
        }
    }

    /// Writes a file (relative to the test directory).
    pub(crate) fn file(self, name: &str, contents: impl AsRef<[u8]>) -> Test {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent directories can be made");
        }
        std::fs::write(path, contents).expect("the test file can be written");
        self
    }

    /// Writes `tasks.txt`.
    pub(crate) fn taskfile(self, contents: impl AsRef<[u8]>) -> Test {
        self.file("tasks.txt", contents)
    }

    pub(crate) fn args(mut self, args: &[&str]) -> Test {
        self.args.extend(args.iter().map(|arg| (*arg).to_owned()));
        self
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn run(&self) -> Output {
        let mut command = Command::new(binary());
        command
            .args(&self.args)
            .current_dir(self.dir.path())
            .env_remove("NO_COLOR");
        let output = command.output().expect("taskrun can be started");
        Output {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}
