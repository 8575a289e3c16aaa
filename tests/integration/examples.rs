//! Every file in `examples/` is exercised: the task files are valid, and
//! each broken one in `examples/errors/` fails as the book shows.

use std::path::PathBuf;

use crate::harness::{Test, root};

fn files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_task_file_is_valid() {
    let examples = files("examples");
    assert!(!examples.is_empty());
    for path in examples {
        let output = Test::new().args(&["check", path.to_str().unwrap()]).run();
        assert_eq!(output.status, 0, "{}: {}", path.display(), output.stderr);
    }
}

#[test]
fn every_broken_example_fails_and_is_shown_in_the_book() {
    let book = std::fs::read_to_string(root().join("book/src/task-file.md")).unwrap();
    for path in files("examples/errors") {
        let relative = path
            .strip_prefix(root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let output = Test::new().args(&["check", path.to_str().unwrap()]).run();
        assert_eq!(output.status, 2, "{relative} should be invalid");
        assert!(
            book.contains(&format!("$ taskrun check {relative}")),
            "{relative} is not shown in book/src/task-file.md"
        );
    }
}
