//! Output chunks into whole lines, per task and stream, so that lines of
//! tasks running at once never mix mid-line wherever they are written.

use std::collections::HashMap;

use crate::event::{Stream, TaskId};

/// A line longer than this is cut into pieces of this size, so that a task
/// printing without newlines cannot grow a buffer without bound.
const MAX_LINE: usize = 64 * 1024;

/// The unfinished last line of each task's streams.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    partial: HashMap<(TaskId, Stream), Vec<u8>>,
}

impl Lines {
    /// Adds a chunk of `task`'s `stream` and calls `line` with each line it
    /// completes (without its newline, or its `\r\n`).
    pub(crate) fn push(
        &mut self,
        task: TaskId,
        stream: Stream,
        bytes: &[u8],
        mut line: impl FnMut(&[u8]),
    ) {
        self.push_raw(task, stream, bytes, |text, whole| {
            line(if whole { strip_cr(text) } else { text });
        });
    }

    /// As [`Lines::push`], but each line comes as it was written, without
    /// its newline only, and with whether it is whole (`false` for a
    /// piece of a line longer than the longest kept).
    pub(crate) fn push_raw(
        &mut self,
        task: TaskId,
        stream: Stream,
        bytes: &[u8],
        mut line: impl FnMut(&[u8], bool),
    ) {
        let buffer = self.partial.entry((task, stream)).or_default();
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            if buffer.is_empty() {
                line(&rest[..end], true);
            } else {
                buffer.extend_from_slice(&rest[..end]);
                line(buffer, true);
                buffer.clear();
            }
            rest = &rest[end + 1..];
        }
        buffer.extend_from_slice(rest);
        while buffer.len() > MAX_LINE {
            let piece: Vec<u8> = buffer.drain(..cut_at(buffer)).collect();
            line(&piece, false);
        }
    }

    /// The task has ended: calls `line` with what is left of its streams
    /// (stdout first).
    pub(crate) fn finish(&mut self, task: TaskId, mut line: impl FnMut(Stream, &[u8])) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            if let Some(rest) = self.partial.remove(&(task, stream))
                && !rest.is_empty()
            {
                line(stream, &rest);
            }
        }
    }
}

/// Where to cut a line longer than [`MAX_LINE`]: at [`MAX_LINE`], or
/// before the UTF-8 character that would be split there (bytes that are
/// not UTF-8 are cut where they are).
fn cut_at(buffer: &[u8]) -> usize {
    let is_continuation = |byte: u8| byte & 0b1100_0000 == 0b1000_0000;
    // The start of the last character that begins before the limit.
    let mut start = MAX_LINE - 1;
    while start > MAX_LINE - 4 && is_continuation(buffer[start]) {
        start -= 1;
    }
    let len = match buffer[start] {
        byte if byte >= 0b1111_0000 => 4,
        byte if byte >= 0b1110_0000 => 3,
        byte if byte >= 0b1100_0000 => 2,
        _ => 1,
    };
    if start > 0 && start + len > MAX_LINE {
        start
    } else {
        MAX_LINE
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_between_characters() {
        let mut lines = Lines::default();
        let mut text = "x".repeat(MAX_LINE - 1);
        text.push_str("ééé");
        let mut seen = Vec::new();
        // No newline yet: the line is cut once it is too long.
        lines.push(0, Stream::Stdout, text.as_bytes(), |l| {
            seen.push(l.to_vec());
        });
        lines.push(0, Stream::Stdout, b"\n", |l| seen.push(l.to_vec()));
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].len(), MAX_LINE - 1);
        assert_eq!(String::from_utf8(seen[1].clone()).unwrap(), "ééé");
    }

    #[test]
    fn lines_are_whole_and_kept_per_task_and_stream() {
        let mut lines = Lines::default();
        let mut seen = Vec::new();
        lines.push(0, Stream::Stdout, b"one\ntw", |l| {
            seen.push(format!("0 {}", String::from_utf8_lossy(l)));
        });
        lines.push(1, Stream::Stdout, b"other\r\n", |l| {
            seen.push(format!("1 {}", String::from_utf8_lossy(l)));
        });
        lines.push(0, Stream::Stderr, b"err", |_| {
            panic!("not a whole line yet")
        });
        lines.push(0, Stream::Stdout, b"o\n", |l| {
            seen.push(format!("0 {}", String::from_utf8_lossy(l)));
        });
        lines.finish(0, |stream, l| {
            seen.push(format!("0 {stream:?} {}", String::from_utf8_lossy(l)));
        });
        assert_eq!(seen, ["0 one", "1 other", "0 two", "0 Stderr err"]);
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_whole() {
        // See: issue 13, item 13 (this panicked with an index out of bounds).
        let mut lines = Lines::default();
        let mut seen = Vec::new();
        lines.push(0, Stream::Stdout, &vec![b'x'; MAX_LINE], |l| {
            seen.push(l.len());
        });
        assert!(seen.is_empty(), "not cut, not ended yet");
        lines.push(0, Stream::Stdout, b"\n", |l| seen.push(l.len()));
        assert_eq!(seen, [MAX_LINE]);
        // A character that ends exactly at the limit is kept whole; one
        // split by it goes to the next piece.
        for (text, first) in [("é", MAX_LINE), ("€", MAX_LINE - 2)] {
            let mut line = "x".repeat(MAX_LINE - 2).into_bytes();
            line.extend_from_slice(text.as_bytes());
            line.extend_from_slice(b"yz");
            let mut pieces = Vec::new();
            lines.push(1, Stream::Stdout, &line, |l| pieces.push(l.to_vec()));
            lines.finish(1, |_, l| pieces.push(l.to_vec()));
            assert_eq!(pieces[0].len(), first, "{text}");
            assert!(pieces.iter().all(|p| String::from_utf8(p.clone()).is_ok()));
        }
    }

    #[test]
    fn a_huge_line_is_cut() {
        let mut lines = Lines::default();
        let mut count = 0;
        lines.push(0, Stream::Stdout, &vec![b'x'; 3 * MAX_LINE + 5], |l| {
            assert_eq!(l.len(), MAX_LINE);
            count += 1;
        });
        assert_eq!(count, 3);
    }
}
