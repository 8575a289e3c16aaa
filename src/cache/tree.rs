//! Output trees: what a cacheable task made, as a sorted list of files,
//! symlinks and directories relative to the task's directory, and the
//! canonical text that names such a tree in the store.
//!
//! This module owns the tree's shape and its text format only. It never
//! touches the disk: storing a tree's files and restoring them is the
//! store's work (see `store`). [`OutputTree::decode`] is the gate every
//! stored manifest passes through, so it refuses anything that could write
//! outside the task's directory or that [`OutputTree::encode`] would not
//! have written.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{Digest, hash};

/// The first line of every output tree manifest; a new format gets a new
/// version so old manifests are refused rather than misread.
const HEADER: &str = "taskrun-outputs-v1";

/// The permission bits a manifest records for files and directories: the
/// read, write and execute bits with setuid, setgid and sticky. The file
/// type bits are carried by [`EntryKind`] instead.
pub(crate) const MODE_BITS: u32 = 0o7777;

/// What a task made, relative to its directory.
///
/// Entries are sorted by the bytes of their paths, with no two alike, and
/// no entry lies under another entry that is not a directory. Only
/// [`Store::put_tree`](super::store::Store::put_tree) and
/// [`OutputTree::decode`] make trees, and both keep these rules, so the
/// text of a tree is canonical: equal trees have equal digests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OutputTree {
    entries: Vec<Entry>,
    roots: Vec<PathBuf>,
}

/// One path of an output tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The path relative to the task's directory: not empty, no `.` or
    /// `..` components, not absolute.
    pub path: PathBuf,
    /// What is at the path.
    pub kind: EntryKind,
}

/// What an output tree holds at one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A regular file, stored as the object `digest`.
    File {
        /// The digest of the content, which names the object.
        digest: Digest,
        /// The content's length in bytes.
        size: u64,
        /// The permission bits (see [`MODE_BITS`]).
        mode: u32,
    },
    /// A symbolic link. The target is the link text as written, never
    /// followed, so it may point anywhere, outside the task's directory
    /// too.
    Symlink {
        /// The link text.
        target: PathBuf,
    },
    /// A directory: the root of a declared `dir/` output or a directory
    /// inside one, recorded so that restore re-makes it (empty ones too)
    /// with its mode.
    Dir {
        /// The permission bits (see [`MODE_BITS`]).
        mode: u32,
    },
}

impl OutputTree {
    /// Makes a tree from entries and roots, sorting both by path bytes and
    /// dropping repeated paths (the first one wins). An error when a path
    /// is not a plain relative path, when an entry lies under a file or a
    /// symlink of the tree, or when a root is not a directory entry.
    pub(crate) fn from_parts(
        mut entries: Vec<Entry>,
        mut roots: Vec<PathBuf>,
    ) -> Result<OutputTree, TreeError> {
        // A stable sort keeps the first of repeated paths first.
        entries.sort_by(|a, b| path_bytes(&a.path).cmp(path_bytes(&b.path)));
        entries.dedup_by(|later, first| later.path == first.path);
        roots.sort_by(|a, b| path_bytes(a).cmp(path_bytes(b)));
        roots.dedup();
        let tree = OutputTree { entries, roots };
        tree.check()?;
        Ok(tree)
    }

    /// The entries, sorted by path bytes.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The declared `dir/` outputs, which restore replaces whole: anything
    /// under them that the tree does not list is removed.
    pub(crate) fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// How many regular files the tree holds.
    pub(crate) fn files(&self) -> usize {
        self.file_entries().count()
    }

    #[cfg(test)]
    /// How many bytes the tree's regular files hold together.
    pub(crate) fn bytes(&self) -> u64 {
        self.file_entries().map(|(_, size)| size).sum()
    }

    /// The digests and sizes of the tree's regular files.
    fn file_entries(&self) -> impl Iterator<Item = (&Digest, u64)> {
        self.entries.iter().filter_map(|entry| match &entry.kind {
            EntryKind::File { digest, size, .. } => Some((digest, *size)),
            EntryKind::Symlink { .. } | EntryKind::Dir { .. } => None,
        })
    }

    #[cfg(test)]
    /// The digest that names this tree in the store: the hash of
    /// [`encode`](Self::encode).
    pub(crate) fn digest(&self) -> Digest {
        hash::bytes(self.encode().as_bytes())
    }

    /// The canonical text of the tree: the line `taskrun-outputs-v1`, then
    /// one line per entry in path order (`f\tMODE\tSIZE\tDIGEST\tPATH`,
    /// `l\tTARGET\tPATH`, `d\tMODE\tPATH`, modes in octal), then one
    /// `r\tPATH` line per root. Every line ends with a newline. Paths and
    /// link texts write bytes outside printable ASCII, and the backslash,
    /// as `\xNN`, so the text is ASCII and any name round-trips.
    pub(crate) fn encode(&self) -> String {
        // Writing to a `String` cannot fail, so the results of `write!`
        // are dropped.
        let mut text = String::with_capacity(64 + self.entries.len() * 100);
        text.push_str(HEADER);
        text.push('\n');
        for entry in &self.entries {
            match &entry.kind {
                EntryKind::File { digest, size, mode } => {
                    let _ = write!(text, "f\t{mode:o}\t{size}\t{digest}\t");
                }
                EntryKind::Symlink { target } => {
                    text.push_str("l\t");
                    escape(path_bytes(target), &mut text);
                    text.push('\t');
                }
                EntryKind::Dir { mode } => {
                    let _ = write!(text, "d\t{mode:o}\t");
                }
            }
            escape(path_bytes(&entry.path), &mut text);
            text.push('\n');
        }
        for root in &self.roots {
            text.push_str("r\t");
            escape(path_bytes(root), &mut text);
            text.push('\n');
        }
        text
    }

    /// The tree whose [`encode`](Self::encode) is exactly `text`, or
    /// `None` for anything else: another header, a malformed line, a bad
    /// digest, a mode with bits beyond [`MODE_BITS`], numbers with leading
    /// zeros or signs, entries out of order or repeated, an absolute path
    /// or one with `.` or `..` components or empty ones, an entry under a
    /// file or symlink of the tree, or a root without a directory entry.
    pub(crate) fn decode(text: &str) -> Option<OutputTree> {
        let body = text.strip_prefix(HEADER)?.strip_prefix('\n')?;
        let mut entries = Vec::new();
        let mut roots = Vec::new();
        if !body.is_empty() {
            let body = body.strip_suffix('\n')?;
            for line in body.split('\n') {
                let fields: Vec<&str> = line.split('\t').collect();
                match fields.as_slice() {
                    ["f", mode, size, digest, path] if roots.is_empty() => {
                        if !hash::is_digest(digest) {
                            return None;
                        }
                        entries.push(Entry {
                            path: unescape_path(path)?,
                            kind: EntryKind::File {
                                digest: (*digest).to_owned(),
                                size: parse_decimal(size)?,
                                mode: parse_mode(mode)?,
                            },
                        });
                    }
                    ["l", target, path] if roots.is_empty() => entries.push(Entry {
                        path: unescape_path(path)?,
                        kind: EntryKind::Symlink {
                            target: PathBuf::from(OsStr::from_bytes(&unescape(target)?)),
                        },
                    }),
                    ["d", mode, path] if roots.is_empty() => entries.push(Entry {
                        path: unescape_path(path)?,
                        kind: EntryKind::Dir {
                            mode: parse_mode(mode)?,
                        },
                    }),
                    ["r", path] => roots.push(unescape_path(path)?),
                    _ => return None,
                }
            }
        }
        let strictly_sorted = |paths: &mut dyn Iterator<Item = &PathBuf>| {
            let paths: Vec<&[u8]> = paths.map(|path| path_bytes(path)).collect();
            paths.windows(2).all(|pair| pair[0] < pair[1])
        };
        if !strictly_sorted(&mut entries.iter().map(|entry| &entry.path))
            || !strictly_sorted(&mut roots.iter())
        {
            return None;
        }
        let tree = OutputTree { entries, roots };
        tree.check().ok()?;
        Some(tree)
    }

    /// Checks the rules [`OutputTree`] documents, given sorted, distinct
    /// paths.
    fn check(&self) -> Result<(), TreeError> {
        for path in self
            .entries
            .iter()
            .map(|entry| &entry.path)
            .chain(&self.roots)
        {
            if !is_plain_relative(path_bytes(path)) {
                return Err(TreeError::NotRelative(path.clone()));
            }
        }
        for entry in &self.entries {
            if let EntryKind::Symlink { target } = &entry.kind
                && target.as_os_str().is_empty()
            {
                return Err(TreeError::EmptyLink(entry.path.clone()));
            }
            if let EntryKind::File { mode, .. } | EntryKind::Dir { mode } = entry.kind
                && mode & !MODE_BITS != 0
            {
                return Err(TreeError::Mode(entry.path.clone(), mode));
            }
            // The nearest entry that is a proper ancestor decides: entries
            // are sorted, so every ancestor of `entry` that the tree lists
            // comes before it.
            for ancestor in entry.path.ancestors().skip(1) {
                if ancestor.as_os_str().is_empty() {
                    break;
                }
                if let Some(parent) = self.entry(ancestor)
                    && !matches!(parent.kind, EntryKind::Dir { .. })
                {
                    return Err(TreeError::UnderNonDir {
                        path: entry.path.clone(),
                        parent: parent.path.clone(),
                    });
                }
            }
        }
        for root in &self.roots {
            if !matches!(
                self.entry(root),
                Some(Entry {
                    kind: EntryKind::Dir { .. },
                    ..
                })
            ) {
                return Err(TreeError::RootNotDir(root.clone()));
            }
        }
        Ok(())
    }

    /// The entry at `path`, found by binary search.
    pub(crate) fn entry(&self, path: &Path) -> Option<&Entry> {
        let wanted = path_bytes(path);
        self.entries
            .binary_search_by(|entry| path_bytes(&entry.path).cmp(wanted))
            .ok()
            .map(|index| &self.entries[index])
    }
}

/// Why a list of entries does not make an [`OutputTree`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TreeError {
    /// A path is absolute, empty, or has `.`, `..` or empty components.
    #[error("output path `{}` is not a plain path inside the task's directory", .0.display())]
    NotRelative(PathBuf),
    /// A symlink has no link text.
    #[error("output symlink `{}` has an empty target", .0.display())]
    EmptyLink(PathBuf),
    /// A mode has bits beyond [`MODE_BITS`].
    #[error("output `{}` has mode {:o}, which is not permission bits", .0.display(), .1)]
    Mode(PathBuf, u32),
    /// An entry lies under a file or a symlink that is also an entry.
    #[error(
        "output `{}` lies under `{}`, which is also an output and not a directory",
        path.display(),
        parent.display()
    )]
    UnderNonDir {
        /// The entry below.
        path: PathBuf,
        /// The file or symlink above it.
        parent: PathBuf,
    },
    /// A root has no directory entry.
    #[error("declared output directory `{}/` is not a directory of the tree", .0.display())]
    RootNotDir(PathBuf),
}

/// The bytes of a path, which is how trees order and write paths.
pub(crate) fn path_bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

/// Whether `bytes` is a non-empty relative path whose components are all
/// names: no leading, trailing or doubled `/`, no `.` and no `..`.
fn is_plain_relative(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .split(|&byte| byte == b'/')
            .all(|part| !part.is_empty() && part != b"." && part != b"..")
}

/// Appends `bytes` to `text`, printable ASCII as is except the backslash,
/// everything else (tab and newline included) as `\xNN`.
fn escape(bytes: &[u8], text: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &byte in bytes {
        if (0x20..0x7f).contains(&byte) && byte != b'\\' {
            text.push(char::from(byte));
        } else {
            text.push_str("\\x");
            text.push(char::from(DIGITS[usize::from(byte >> 4)]));
            text.push(char::from(DIGITS[usize::from(byte & 15)]));
        }
    }
}

/// The inverse of [`escape`]: `None` for a byte [`escape`] would have
/// escaped, or an escape it would not have written (uppercase hex, an
/// escaped byte that needs none, anything but `\x` after a backslash).
fn unescape(text: &str) -> Option<Vec<u8>> {
    let digit = |byte: u8| match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    };
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'\\' {
            let [b'x', high, low, tail @ ..] = tail else {
                return None;
            };
            let value = (digit(*high)? << 4) | digit(*low)?;
            if (0x20..0x7f).contains(&value) && value != b'\\' {
                return None;
            }
            bytes.push(value);
            rest = tail;
        } else if (0x20..0x7f).contains(&byte) {
            bytes.push(byte);
            rest = tail;
        } else {
            return None;
        }
    }
    Some(bytes)
}

/// An escaped path, unescaped (whether it is plain is checked later).
fn unescape_path(text: &str) -> Option<PathBuf> {
    Some(PathBuf::from(OsStr::from_bytes(&unescape(text)?)))
}

/// A decimal number as `{}` writes a `u64`: digits only, no leading zero.
fn parse_decimal(text: &str) -> Option<u64> {
    canonical_digits(text, 10)
}

/// A mode as `{:o}` writes it: octal digits only, no leading zero.
fn parse_mode(text: &str) -> Option<u32> {
    u32::try_from(canonical_digits(text, 8)?).ok()
}

/// `text` as a number in `radix`, if it is written the way Rust's
/// formatting writes one (so the text stays canonical).
fn canonical_digits(text: &str, radix: u32) -> Option<u64> {
    let digits_only = !text.is_empty() && text.chars().all(|c| c.is_digit(radix));
    let no_leading_zero = text == "0" || !text.starts_with('0');
    if digits_only && no_leading_zero {
        u64::from_str_radix(text, radix).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> Digest {
        hash::bytes(&[n])
    }

    fn file(path: &[u8], n: u8, mode: u32) -> Entry {
        Entry {
            path: PathBuf::from(OsStr::from_bytes(path)),
            kind: EntryKind::File {
                digest: digest(n),
                size: u64::from(n) * 10,
                mode,
            },
        }
    }

    fn sample() -> OutputTree {
        OutputTree::from_parts(
            vec![
                file(b"out/\xff\xfename", 1, 0o644),
                file(b"out/tab\there", 2, 0o755),
                file(b"out/new\nline\\back", 3, 0o600),
                Entry {
                    path: "out".into(),
                    kind: EntryKind::Dir { mode: 0o755 },
                },
                Entry {
                    path: "out/empty".into(),
                    kind: EntryKind::Dir { mode: 0o700 },
                },
                Entry {
                    path: "link".into(),
                    kind: EntryKind::Symlink {
                        target: PathBuf::from(OsStr::from_bytes(b"../outside/\x01\t")),
                    },
                },
                file(b"a-b", 4, 0o444),
            ],
            vec!["out".into()],
        )
        .unwrap()
    }

    #[test]
    fn encode_is_sorted_by_path_bytes_and_escaped() {
        let tree = sample();
        let text = tree.encode();
        let expected = format!(
            "taskrun-outputs-v1\n\
             f\t444\t40\t{}\ta-b\n\
             l\t../outside/\\x01\\x09\tlink\n\
             d\t755\tout\n\
             d\t700\tout/empty\n\
             f\t600\t30\t{}\tout/new\\x0aline\\x5cback\n\
             f\t755\t20\t{}\tout/tab\\x09here\n\
             f\t644\t10\t{}\tout/\\xff\\xfename\n\
             r\tout\n",
            digest(4),
            digest(3),
            digest(2),
            digest(1)
        );
        assert_eq!(text, expected);
        assert_eq!(tree.files(), 4);
        assert_eq!(tree.bytes(), 100);
        assert_eq!(tree.digest(), hash::bytes(expected.as_bytes()));
    }

    #[test]
    fn decode_inverts_encode() {
        let tree = sample();
        let decoded = OutputTree::decode(&tree.encode()).unwrap();
        assert_eq!(decoded, tree);
        assert_eq!(
            decoded.entries()[6].path.as_os_str().as_bytes(),
            b"out/\xff\xfename"
        );
        let empty = OutputTree::default();
        assert_eq!(empty.encode(), "taskrun-outputs-v1\n");
        assert_eq!(OutputTree::decode(&empty.encode()), Some(empty));
    }

    #[test]
    fn byte_order_differs_from_component_order() {
        // `a-b` sorts before `a/b` by bytes (`-` < `/`), though `a` < `a-b`
        // by components.
        let tree = OutputTree::from_parts(
            vec![
                file(b"a/b", 1, 0o644),
                file(b"a-b", 2, 0o644),
                Entry {
                    path: "a".into(),
                    kind: EntryKind::Dir { mode: 0o755 },
                },
            ],
            vec![],
        )
        .unwrap();
        let paths: Vec<&Path> = tree.entries().iter().map(|e| e.path.as_path()).collect();
        assert_eq!(paths, [Path::new("a"), Path::new("a-b"), Path::new("a/b")]);
        assert_eq!(OutputTree::decode(&tree.encode()), Some(tree));
    }

    #[test]
    fn decode_refuses_what_encode_would_not_write() {
        let d = digest(1);
        let header = "taskrun-outputs-v1\n";
        let refused = [
            String::new(),
            "junk".to_owned(),
            "taskrun-outputs-v2\n".to_owned(),
            "taskrun-outputs-v1".to_owned(),
            format!("{header}f\t644\t1\t{d}\t../x\n"),
            format!("{header}f\t644\t1\t{d}\tout/../x\n"),
            format!("{header}f\t644\t1\t{d}\t/abs\n"),
            format!("{header}f\t644\t1\t{d}\t./x\n"),
            format!("{header}f\t644\t1\t{d}\ta//b\n"),
            format!("{header}f\t644\t1\t{d}\ta/\n"),
            format!("{header}f\t644\t1\t{d}\t\n"),
            // A digest that is short, uppercase or not hex.
            format!("{header}f\t644\t1\t{}\tx\n", &d[1..]),
            format!("{header}f\t644\t1\t{}\tx\n", d.to_uppercase()),
            format!("{header}f\t644\t1\t{}\tx\n", "g".repeat(64)),
            // Numbers not as Rust writes them, and modes beyond 0o7777.
            format!("{header}f\t0644\t1\t{d}\tx\n"),
            format!("{header}f\t644\t+1\t{d}\tx\n"),
            format!("{header}f\t644\t01\t{d}\tx\n"),
            format!("{header}f\t648\t1\t{d}\tx\n"),
            format!("{header}f\t100644\t1\t{d}\tx\n"),
            format!("{header}d\t\tx\n"),
            // Escapes encode would not write, and raw bytes it would escape.
            format!("{header}f\t644\t1\t{d}\ta\\x41\n"),
            format!("{header}f\t644\t1\t{d}\ta\\xFF\n"),
            format!("{header}f\t644\t1\t{d}\ta\\n\n"),
            format!("{header}f\t644\t1\t{d}\ta\\x0\n"),
            format!("{header}f\t644\t1\t{d}\ta\\\n"),
            format!("{header}f\t644\t1\t{d}\tcaf\u{e9}\n"),
            format!("{header}f\t644\t1\t{d}\ta\rb\n"),
            // Unsorted, repeated, missing the final newline, extra fields.
            format!("{header}d\t755\tb\nd\t755\ta\n"),
            format!("{header}d\t755\ta\nd\t755\ta\n"),
            format!("{header}d\t755\ta"),
            format!("{header}d\t755\ta\n\n"),
            format!("{header}d\t755\ta\tb\n"),
            format!("{header}x\t755\ta\n"),
            // An entry under a symlink or a file of the tree.
            format!("{header}l\t/etc\tevil\nf\t644\t1\t{d}\tevil/passwd\n"),
            format!("{header}f\t644\t1\t{d}\tx\nf\t644\t1\t{d}\tx/y\n"),
            format!("{header}l\t\tx\n"),
            // Roots: without a dir entry, before entries, unsorted.
            format!("{header}r\tout\n"),
            format!("{header}f\t644\t1\t{d}\tout\nr\tout\n"),
            format!("{header}d\t755\tout\nr\tout\nd\t755\tz\n"),
            format!("{header}d\t755\ta\nd\t755\tb\nr\tb\nr\ta\n"),
            format!("{header}d\t755\tout\nr\t../out\n"),
        ];
        for text in &refused {
            assert_eq!(OutputTree::decode(text), None, "decoded {text:?}");
        }
        let accepted = format!("{header}d\t755\tout\nf\t644\t0\t{d}\tout/x\nr\tout\n");
        assert!(OutputTree::decode(&accepted).is_some());
    }

    #[test]
    fn from_parts_refuses_paths_outside_and_entries_under_links() {
        assert_eq!(
            OutputTree::from_parts(vec![file(b"../x", 1, 0o644)], vec![]),
            Err(TreeError::NotRelative("../x".into()))
        );
        let link = Entry {
            path: "l".into(),
            kind: EntryKind::Symlink {
                target: "/etc".into(),
            },
        };
        assert_eq!(
            OutputTree::from_parts(vec![link, file(b"l/passwd", 1, 0o644)], vec![]),
            Err(TreeError::UnderNonDir {
                path: "l/passwd".into(),
                parent: "l".into()
            })
        );
        assert_eq!(
            OutputTree::from_parts(vec![], vec!["out".into()]),
            Err(TreeError::RootNotDir("out".into()))
        );
    }
}
