//! The cache key: a canonical manifest of everything that decides what a
//! task does, and its digest.
//!
//! The manifest is text, one `kind\tname\tvalue` line per part, in a fixed
//! order of kinds and sorted within each, with every field escaped (see
//! [`escape`]) so that no two manifests share a text. Its SHA-256 is the
//! key, and the manifest itself is stored as an object under that digest,
//! so that `show --why` can say what changed between two attempts by
//! comparing their manifests line by line ([`diff`]).
//!
//! Values that may be secret (environment variables) enter as their
//! SHA-256, never as themselves. Nothing here reads the database.

use std::fmt::Write as _;

use super::Digest;
use super::hash;

/// The first line of every manifest. A new format is a new text, so an
/// old entry is a miss, never an error or a wrong hit.
pub(crate) const FORMAT: &str = "taskrun-cache-v1";

/// The kinds of line, in the order a manifest has them.
const KINDS: &[&str] = &[
    "format", "salt", "task", "kind", "cmd", "script", "dir", "timeout", "env", "uses_env", "tool",
    "output", "pattern", "input", "dep",
];

/// A key manifest being built, or read back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    /// `(kind, name, value)`, unescaped.
    lines: Vec<(String, String, String)>,
}

impl Manifest {
    /// A manifest of format [`FORMAT`], with `salt` if one is given.
    pub(crate) fn new(salt: Option<&str>) -> Manifest {
        let mut manifest = Manifest::default();
        manifest.add("format", "", FORMAT);
        if let Some(salt) = salt {
            manifest.add("salt", "", salt);
        }
        manifest
    }

    /// Adds one part.
    pub(crate) fn add(&mut self, kind: &str, name: &str, value: &str) {
        debug_assert!(KINDS.contains(&kind), "a known kind: {kind}");
        self.lines
            .push((kind.to_owned(), name.to_owned(), value.to_owned()));
    }

    /// Adds a value that is not to be kept as itself: its digest.
    pub(crate) fn add_secret(&mut self, kind: &str, name: &str, value: Option<&[u8]>) {
        let value = match value {
            Some(value) => format!("={}", hash::bytes(value)),
            None => "<unset>".to_owned(),
        };
        self.add(kind, name, &value);
    }

    /// The canonical text: kinds in their order, lines sorted within
    /// each, one line per part.
    pub(crate) fn text(&self) -> String {
        let mut lines: Vec<&(String, String, String)> = self.lines.iter().collect();
        lines.sort_by(|a, b| {
            let rank = |kind: &str| KINDS.iter().position(|k| *k == kind);
            (rank(&a.0), &a.1, &a.2).cmp(&(rank(&b.0), &b.1, &b.2))
        });
        lines.dedup();
        let mut text = String::new();
        for (kind, name, value) in lines {
            let _ = writeln!(text, "{kind}\t{}\t{}", escape(name), escape(value));
        }
        text
    }

    /// The key: the digest of [`Manifest::text`].
    pub(crate) fn key(&self) -> Digest {
        hash::bytes(self.text().as_bytes())
    }

    /// A manifest read back from its text; `None` if it is not one.
    pub(crate) fn parse(text: &str) -> Option<Manifest> {
        let mut manifest = Manifest::default();
        for line in text.lines() {
            let mut fields = line.split('\t');
            let (Some(kind), Some(name), Some(value), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return None;
            };
            if !KINDS.contains(&kind) {
                return None;
            }
            manifest
                .lines
                .push((kind.to_owned(), unescape(name)?, unescape(value)?));
        }
        Some(manifest)
    }

    #[cfg(test)]
    /// The value of the one line of `kind` named `name`, if there is one.
    pub(crate) fn get(&self, kind: &str, name: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|(k, n, _)| k == kind && n == name)
            .map(|(_, _, value)| value.as_str())
    }
}

/// One difference between two manifests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Change {
    /// The kind of part: `input`, `env`, `cmd`...
    pub kind: String,
    /// Which one (a path, a variable), empty for the parts there is one of.
    pub name: String,
    /// Its value before; `None` when it is new.
    pub before: Option<String>,
    /// Its value now; `None` when it is gone.
    pub after: Option<String>,
}

/// What differs from `before` to `after`, in manifest order.
pub(crate) fn diff(before: &Manifest, after: &Manifest) -> Vec<Change> {
    let index = |manifest: &Manifest| {
        let mut parts: Vec<(usize, String, String, String)> = manifest
            .lines
            .iter()
            .map(|(kind, name, value)| {
                let rank = KINDS.iter().position(|k| k == kind).unwrap_or(KINDS.len());
                (rank, kind.clone(), name.clone(), value.clone())
            })
            .collect();
        parts.sort();
        parts.dedup();
        parts
    };
    let (old, new) = (index(before), index(after));
    let mut changes = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let order = match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) => (a.0, &a.2).cmp(&(b.0, &b.2)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, _) => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                let (_, kind, name, value) = &old[i];
                changes.push(Change {
                    kind: kind.clone(),
                    name: name.clone(),
                    before: Some(value.clone()),
                    after: None,
                });
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                let (_, kind, name, value) = &new[j];
                changes.push(Change {
                    kind: kind.clone(),
                    name: name.clone(),
                    before: None,
                    after: Some(value.clone()),
                });
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                if old[i].3 != new[j].3 {
                    changes.push(Change {
                        kind: old[i].1.clone(),
                        name: old[i].2.clone(),
                        before: Some(old[i].3.clone()),
                        after: Some(new[j].3.clone()),
                    });
                }
                i += 1;
                j += 1;
            }
        }
    }
    changes
}

/// `text` with `\`, tab, newline, carriage return and other control
/// characters written as `\xNN`, so that it fits one field of one line.
pub(crate) fn escape(text: &str) -> String {
    if !text.chars().any(|c| c == '\\' || c.is_control()) {
        return text.to_owned();
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\\' || (c.is_control() && u32::from(c) < 0x80) {
            let _ = write!(escaped, "\\x{:02x}", u32::from(c));
        } else if c.is_control() {
            let _ = write!(escaped, "\\u{{{:x}}}", u32::from(c));
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// What [`escape`] wrote, read back.
pub(crate) fn unescape(text: &str) -> Option<String> {
    if !text.contains('\\') {
        return Some(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(hex) = rest.strip_prefix('x') {
            let code = u32::from_str_radix(hex.get(..2)?, 16).ok()?;
            out.push(char::from_u32(code)?);
            rest = &hex[2..];
        } else if let Some(braced) = rest.strip_prefix("u{") {
            let end = braced.find('}')?;
            let code = u32::from_str_radix(&braced[..end], 16).ok()?;
            out.push(char::from_u32(code)?);
            rest = &braced[end + 1..];
        } else {
            return None;
        }
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_canonical_whatever_the_order_parts_came_in() {
        let mut a = Manifest::new(None);
        a.add("input", "src/b.c", "f x");
        a.add("cmd", "", "cc -c");
        a.add("input", "src/a.c", "f y");
        let mut b = Manifest::new(None);
        b.add("cmd", "", "cc -c");
        b.add("input", "src/a.c", "f y");
        b.add("input", "src/b.c", "f x");
        assert_eq!(a.text(), b.text());
        assert_eq!(a.key(), b.key());
        assert_eq!(
            a.text(),
            "format\t\ttaskrun-cache-v1\ncmd\t\tcc -c\ninput\tsrc/a.c\tf y\ninput\tsrc/b.c\tf x\n"
        );
        let mut salted = b.clone();
        salted.add("salt", "", "1");
        assert_ne!(salted.key(), b.key());
    }

    #[test]
    fn fields_with_tabs_newlines_and_backslashes_cannot_collide() {
        let mut a = Manifest::new(None);
        a.add("cmd", "", "echo a\tb\nc\\x09");
        let text = a.text();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert_eq!(Manifest::parse(&text).unwrap().text(), text);
        assert_eq!(
            Manifest::parse(&text).unwrap().get("cmd", ""),
            Some("echo a\tb\nc\\x09")
        );
        for odd in ["\u{7f}", "\u{85}x", "\\", "a\rb", ""] {
            assert_eq!(unescape(&escape(odd)).as_deref(), Some(odd), "{odd:?}");
        }
        assert_eq!(Manifest::parse("junk"), None);
        assert_eq!(Manifest::parse("nope\t\tx"), None);
        assert_eq!(Manifest::parse("cmd\t\t\\q"), None);
    }

    #[test]
    fn secrets_enter_as_digests_and_unset_differs_from_empty() {
        let mut set = Manifest::new(None);
        set.add_secret("uses_env", "TOKEN", Some(b"hunter2"));
        assert!(!set.text().contains("hunter2"));
        let mut empty = Manifest::new(None);
        empty.add_secret("uses_env", "TOKEN", Some(b""));
        let mut unset = Manifest::new(None);
        unset.add_secret("uses_env", "TOKEN", None);
        let keys = [set.key(), empty.key(), unset.key()];
        assert_ne!(keys[0], keys[1]);
        assert_ne!(keys[1], keys[2]);
        assert_ne!(keys[0], keys[2]);
    }

    #[test]
    fn diff_names_what_was_added_removed_and_changed() {
        let mut before = Manifest::new(None);
        before.add("cmd", "", "cc");
        before.add("input", "a.c", "1");
        before.add("input", "old.c", "2");
        let mut after = Manifest::new(None);
        after.add("cmd", "", "cc -O2");
        after.add("input", "a.c", "3");
        after.add("input", "new.c", "4");
        let changes: Vec<(String, String, Option<String>, Option<String>)> = diff(&before, &after)
            .into_iter()
            .map(|c| (c.kind, c.name, c.before, c.after))
            .collect();
        let s = |text: &str| Some(text.to_owned());
        assert_eq!(
            changes,
            [
                ("cmd".into(), String::new(), s("cc"), s("cc -O2")),
                ("input".into(), "a.c".into(), s("1"), s("3")),
                ("input".into(), "new.c".into(), None, s("4")),
                ("input".into(), "old.c".into(), s("2"), None),
            ]
        );
        assert!(diff(&after, &after).is_empty());
    }
}
