//! Input text and positions in it.
//!
//! A [`Source`] is one file that tasks come from, decoded once: a UTF-8 byte
//! order mark is dropped and bytes that are not UTF-8 are replaced by U+FFFD
//! while their positions are remembered, so later stages can report them
//! instead of guessing. Every other stage refers to text through a [`Span`]
//! (a source and a byte range) and never re-reads files.
//!
//! This module knows nothing about the task format.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::SourceSpan;

/// Identifies one [`Source`] inside a [`Sources`] list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(usize);

/// A byte range in one source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub source: SourceId,
    pub offset: usize,
    pub len: usize,
}

impl Span {
    pub fn new(source: SourceId, offset: usize, len: usize) -> Self {
        Span {
            source,
            offset,
            len,
        }
    }

    /// The byte offset just past the end of the span.
    pub fn end(self) -> usize {
        self.offset + self.len
    }
}

impl From<Span> for SourceSpan {
    fn from(span: Span) -> Self {
        SourceSpan::new(span.offset.into(), span.len)
    }
}

/// A value together with the text it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub(crate) fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T: fmt::Display> fmt::Display for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

/// One decoded input file.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    /// The path as the user gave it, used in every message about this file.
    pub path: PathBuf,
    /// The decoded text: no byte order mark, invalid bytes as U+FFFD.
    pub text: Arc<str>,
    /// Byte offsets of the U+FFFD characters that stand for bytes that were
    /// not UTF-8 (one per invalid sequence, in order).
    pub invalid_utf8: Vec<usize>,
    /// Set when the bytes start with a UTF-16 byte order mark: the whole
    /// file is in the wrong encoding and its lines are meaningless.
    pub utf16: bool,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const REPLACEMENT: char = char::REPLACEMENT_CHARACTER;

impl Source {
    /// Decodes `bytes` read from `path`.
    pub(crate) fn from_bytes(path: impl Into<PathBuf>, bytes: &[u8]) -> Source {
        let path = path.into();
        let utf16 = bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF");
        let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        let mut invalid_utf8 = Vec::new();
        let text = if let Ok(text) = std::str::from_utf8(bytes) {
            Arc::from(text)
        } else {
            let mut text = String::with_capacity(bytes.len() + 16);
            for chunk in bytes.utf8_chunks() {
                text.push_str(chunk.valid());
                if !chunk.invalid().is_empty() {
                    invalid_utf8.push(text.len());
                    text.push(REPLACEMENT);
                }
            }
            Arc::from(text)
        };
        Source {
            path,
            text,
            invalid_utf8,
            utf16,
        }
    }

    /// Reads and decodes the file at `path`.
    pub(crate) fn read(path: &Path) -> Result<Source, std::io::Error> {
        if path.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "it is a directory",
            ));
        }
        let bytes = std::fs::read(path)?;
        Ok(Source::from_bytes(path, &bytes))
    }

    /// The name shown in diagnostics.
    pub(crate) fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// The length in bytes of the replacement character that stands for
    /// invalid bytes.
    pub(crate) const REPLACEMENT_LEN: usize = REPLACEMENT.len_utf8();
}

/// The byte offset in `text` of a 1-based line and column (in
/// characters); clamped to the text.
pub(crate) fn offset(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for _ in 1..line {
        match text[offset..].find('\n') {
            Some(newline) => offset += newline + 1,
            None => return text.len(),
        }
    }
    let line_text = &text[offset..];
    let line_end = line_text.find('\n').unwrap_or(line_text.len());
    offset
        + line_text[..line_end]
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_end, |(index, _)| index)
}

/// Every source of one task set, addressed by [`SourceId`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Sources {
    sources: Vec<Source>,
}

impl Sources {
    pub(crate) fn new() -> Self {
        Sources::default()
    }

    /// Adds a source and returns its id.
    pub(crate) fn add(&mut self, source: Source) -> SourceId {
        let id = SourceId(self.sources.len());
        self.sources.push(source);
        id
    }

    /// The id of a source added with this path and text, if there is one.
    pub(crate) fn find(&self, path: &Path, text: &str) -> Option<SourceId> {
        self.sources
            .iter()
            .position(|source| source.path == path && &*source.text == text)
            .map(SourceId)
    }

    pub(crate) fn get(&self, id: SourceId) -> &Source {
        // Ids are only made by `add`, so an out-of-range id is a bug in
        // taskrun, not something input can cause.
        &self.sources[id.0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_utf8_is_kept_as_is() {
        let source = Source::from_bytes("t.txt", b"a: echo hi\n");
        assert_eq!(&*source.text, "a: echo hi\n");
        assert!(source.invalid_utf8.is_empty());
        assert!(!source.utf16);
    }

    #[test]
    fn byte_order_mark_is_dropped() {
        let source = Source::from_bytes("t.txt", b"\xEF\xBB\xBFa: true\n");
        assert_eq!(&*source.text, "a: true\n");
    }

    #[test]
    fn invalid_bytes_become_replacement_characters_with_positions() {
        let source = Source::from_bytes("t.txt", b"a: caf\xE9\nb: \xFF\xFEx\n");
        assert_eq!(&*source.text, "a: caf\u{FFFD}\nb: \u{FFFD}\u{FFFD}x\n");
        assert_eq!(source.invalid_utf8, vec![6, 13, 16]);
    }

    #[test]
    fn utf16_is_recognised() {
        assert!(Source::from_bytes("t.txt", b"\xFF\xFEa\x00").utf16);
        assert!(Source::from_bytes("t.txt", b"\xFE\xFF\x00a").utf16);
    }

    #[test]
    fn offsets_of_lines_and_columns() {
        let text = "ab\né: x\nlast";
        assert_eq!(offset(text, 1, 1), 0);
        assert_eq!(offset(text, 2, 1), 3);
        assert_eq!(offset(text, 2, 2), 5, "columns count characters");
        assert_eq!(offset(text, 3, 99), text.len());
        assert_eq!(offset(text, 9, 1), text.len());
    }
}
