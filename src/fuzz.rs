//! Fuzzing the front of the pipeline: bytes → source → parser → validator
//! → rendered diagnostics, with inputs made of the pieces task files are
//! made of (names, `:`, attributes, brackets, commas, pool lines, CRLF, a
//! byte order mark, bytes that are not UTF-8), so that most inputs get
//! deep into the parser and the graph instead of failing on line one.
//!
//! A plain `cargo test` runs a few hundred cases; for a long run:
//!
//! ```text
//! PROPTEST_CASES=2000000 cargo test --release --lib fuzz -- --nocapture
//! ```
//!
//! Every input must load or be refused with diagnostics whose labels lie
//! inside the input, on character boundaries, and that render; nothing
//! panics, and no input takes long.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::error::{Error, Problem};
use crate::report::{self, Style};
use crate::source::{Source, Sources};

/// The pieces inputs are made of.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    let fixed: Vec<&'static [u8]> = vec![
        b"a",
        b"b",
        b"c",
        b"build",
        b"a-b",
        b"_",
        b"9",
        b": ",
        b":",
        b" ",
        b"\t",
        b"\n",
        b"\r\n",
        b"\r",
        b"#",
        b"# note\n",
        b"echo hi",
        b"exit 1",
        b"[",
        b"]",
        b"[after:",
        b"[after:a]",
        b"[after:a,b]",
        b"[after:]",
        b"[after:a,,b]",
        b"[after:a b]",
        b"[after_done:c]",
        b"[timeout:",
        b"5s]",
        b"500ms]",
        b"-1]",
        b"[retries:3]",
        b"[retries:1000]",
        b"[dir:sub]",
        b"[env:K=V]",
        b"[env:=V]",
        b"[pool:db]",
        b"[afer:a]",
        b"pool db 1\n",
        b"pool db 0\n",
        b"pool ",
        b",",
        b"=",
        b"'",
        b"\"",
        b"\\",
        b"\0",
        b"\xEF\xBB\xBF",
        b"\xFF",
        b"\xC3",
        b"\xE2\x82",
        "é".as_bytes(),
        "→".as_bytes(),
        "🦀".as_bytes(),
    ];
    prop_oneof![
        4 => proptest::sample::select(fixed).prop_map(<[u8]>::to_vec),
        1 => proptest::collection::vec(any::<u8>(), 0..4),
    ]
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(piece(), 0..60).prop_map(|pieces| pieces.concat())
}

/// Loads `bytes` as a task file and checks what comes back.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut sources = Sources::new();
    let source = Source::from_bytes("tasks.txt", bytes);
    let text = source.text.clone();
    let id = sources.add(source);
    let start = Instant::now();
    let loaded = crate::load::load_source(
        &mut sources,
        id,
        std::path::Path::new("."),
        None,
        crate::load::FileFormat::Lines,
    );
    if let Err(error) = &loaded {
        let Error::Invalid { problems, .. } = error else {
            return Err(TestCaseError::fail(format!("unexpected error {error:?}")));
        };
        prop_assert!(!problems.is_empty());
        for problem in problems {
            check_labels(problem, &text)?;
        }
        let rendered = report::error(error, &sources, Style { color: false });
        prop_assert!(rendered.contains("tasks.txt"), "{}", rendered);
    }
    prop_assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    Ok(())
}

fn check_labels(problem: &Problem, text: &str) -> Result<(), TestCaseError> {
    for label in miette::Diagnostic::labels(problem).into_iter().flatten() {
        let (offset, len) = (label.offset(), label.len());
        prop_assert!(offset + len <= text.len(), "{problem:?} outside {text:?}");
        prop_assert!(text.is_char_boundary(offset), "{problem:?} in {text:?}");
        prop_assert!(
            text.is_char_boundary(offset + len),
            "{problem:?} in {text:?}"
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn task_files_made_of_pieces(bytes in input()) {
        check(&bytes)?;
    }

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        check(&bytes)?;
    }
}

#[test]
fn valid_input_loads() {
    let bytes =
        b"\xEF\xBB\xBFpool db 1\r\na: echo [x] [pool:db]\r\nb: true [after:a] [timeout:5s]\r\n";
    let mut sources = Sources::new();
    let id = sources.add(Source::from_bytes("tasks.txt", bytes));
    let loaded = crate::load::load_source(
        &mut sources,
        id,
        std::path::Path::new("."),
        None,
        crate::load::FileFormat::Lines,
    )
    .unwrap();
    assert_eq!(loaded.plan.tasks.len(), 2);
}
