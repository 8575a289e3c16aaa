//! Terminal escape sequences (colours, cursor moves) in captured output:
//! recognising them, so that what shows or indexes the output can leave
//! them out whole.
//!
//! Output is stored raw, as tasks wrote it; the JUnit and HTML reports
//! and the full-text index each want the text without the escapes (an
//! index would see `\x1b[31merror` as the word `31merror`). This is the
//! one place that knows what an escape sequence is; it changes nothing
//! else of the text.

use std::iter::Peekable;
use std::str::Chars;

/// Skips the rest of a terminal escape sequence whose ESC was just read:
/// a CSI (`ESC [` parameters, then a final byte in `@`..`~`), an OSC
/// (`ESC ]` text up to BEL or `ESC \\`), or a two-character one.
pub(crate) fn skip_escape(chars: &mut Peekable<Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                    break;
                }
            }
        }
        _ => {}
    }
}

/// `text` without its escape sequences; everything else as it was.
pub(crate) fn strip(text: &str) -> String {
    if !text.contains('\u{1b}') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            skip_escape(&mut chars);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn escapes_go_whole_and_the_rest_stays() {
        assert_eq!(strip("\u{1b}[1;31merror\u{1b}[0m: x"), "error: x");
        assert_eq!(
            strip("\u{1b}]8;;https://e.org\u{1b}\\link\u{1b}]8;;\u{7} done"),
            "link done"
        );
        assert_eq!(strip("\u{1b}7saved\u{1b}8"), "saved");
        assert_eq!(strip("plain\r\ntext"), "plain\r\ntext");
        // A sequence cut off at the end of the text takes the rest.
        assert_eq!(strip("ok \u{1b}[31"), "ok ");
    }
}
