//! Declared `[inputs:]` and `[outputs:]` patterns: checking them as
//! written, telling whether two outputs can collide, and expanding them to
//! the files they name in a task's directory.
//!
//! A pattern is a path relative to the task's directory in which `*` and
//! `?` match within one path component, `[...]` matches one character of a
//! set, and a component `**` matches any number of directories (the `glob`
//! crate's syntax, matched one component at a time). A pattern that names a
//! directory names every file under it. A leading `!` makes a pattern an
//! exclusion. `*` also matches names that start with a dot.
//!
//! This module reads directories and metadata and nothing else: it never
//! opens a file, hashes content or writes anything (see `stat` for hashes).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use glob::{MatchOptions, Pattern};

/// How a pattern's components are matched against names: case matters,
/// `*` never crosses a `/`, and a leading dot needs no literal dot.
const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// The files a list of patterns names, and how many each pattern matched.
#[derive(Debug)]
pub(crate) struct Expansion {
    /// Every file matched by an include pattern and by no exclude, sorted
    /// by the bytes of its path, each once.
    pub files: Vec<Match>,
    /// For each pattern, in the order given: for an include, how many
    /// files it matched (before the excludes are applied, and counting a
    /// file another include also matched); for an exclude, how many of the
    /// included files it removed. Zero is a valid count, not an error.
    pub counts: Vec<usize>,
}

/// One file a pattern matched.
#[derive(Debug)]
pub(crate) struct Match {
    /// The path, relative to the task's directory.
    pub path: PathBuf,
    /// What it is.
    pub kind: Kind,
    /// Its own metadata (`symlink_metadata`: a symlink's, not its target's).
    pub meta: Metadata,
}

/// What kind of file a match is. Only regular files and symlinks are ever
/// matched: directories stand for the files under them, and sockets,
/// fifos and devices are skipped without a word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file; `exec` when any of its execute bits is set.
    File { exec: bool },
    /// A symbolic link, which is never followed; `target` is its text.
    Symlink { target: PathBuf },
}

/// Why a list of patterns could not be expanded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExpandError {
    /// A directory a pattern reaches exists but cannot be read.
    #[error(
        "cannot read the directory `{}` while expanding `{pattern}`: make it readable, or write the pattern so that it does not reach there",
        dir.display()
    )]
    ReadDir {
        dir: PathBuf,
        pattern: String,
        #[source]
        source: std::io::Error,
    },
    /// A path a pattern names exists but its metadata or link text cannot
    /// be read.
    #[error(
        "cannot look at `{}` while expanding `{pattern}`: make it readable, or exclude it with `!`",
        path.display()
    )]
    Stat {
        path: PathBuf,
        pattern: String,
        #[source]
        source: std::io::Error,
    },
    /// A pattern is not usable as written (see [`super::pattern::check`]).
    #[error("{reason}")]
    Pattern { pattern: String, reason: String },
}

/// Expands `patterns`, relative to `base`, to the files they name.
///
/// `base` must be absolute (it is the task's directory), and so must each
/// path in `never`: a candidate is dropped when `base` joined with its
/// relative path lies at or under one of them, compared component by
/// component without resolving symlinks or `..`, so both must be written
/// the same way. This keeps the history database, its `-wal` and `-shm`
/// files and the store directory out of every expansion, and the walk never
/// enters a directory in `never`.
///
/// Each include pattern is walked from its literal leading directories, so
/// `src/*.c` reads `src` and nothing else; a pattern without glob
/// characters costs one `symlink_metadata` (and a walk only when it names a
/// directory). Symlinks met while walking are matches, never followed; a
/// symlink in the literal leading directories is resolved by the system as
/// in any path. A directory that does not exist, or a path through a file,
/// matches nothing. File names that are not UTF-8 are matched by their
/// lossy conversion, so `*`, `**` and a directory pattern find them.
pub(crate) fn expand(
    base: &Path,
    patterns: &[String],
    never: &[PathBuf],
) -> Result<Expansion, ExpandError> {
    expand_traced(base, patterns, never, &mut Vec::new())
}

/// [`expand`], also listing every directory it read into `read`, so that
/// tests can see what was walked.
fn expand_traced(
    base: &Path,
    patterns: &[String],
    never: &[PathBuf],
    read: &mut Vec<PathBuf>,
) -> Result<Expansion, ExpandError> {
    let mut compiled = Vec::with_capacity(patterns.len());
    for text in patterns {
        super::pattern::check(text).map_err(|reason| ExpandError::Pattern {
            pattern: text.clone(),
            reason,
        })?;
        let (exclude, body) = match text.strip_prefix('!') {
            Some(body) => (true, body),
            None => (false, text.as_str()),
        };
        let parsed = Compiled::new(body).map_err(|reason| ExpandError::Pattern {
            pattern: text.clone(),
            reason,
        })?;
        compiled.push((exclude, parsed));
    }

    let mut counts = vec![0; patterns.len()];
    let mut found: HashMap<PathBuf, Match> = HashMap::new();
    for (index, (exclude, pattern)) in compiled.iter().enumerate() {
        if *exclude {
            continue;
        }
        let mut walker = Walker {
            base,
            never,
            pattern: &patterns[index],
            read,
            out: Vec::new(),
        };
        walker.expand(pattern)?;
        counts[index] = walker.out.len();
        for matched in walker.out {
            found.entry(matched.path.clone()).or_insert(matched);
        }
    }

    let mut files: Vec<Match> = Vec::with_capacity(found.len());
    for matched in found.into_values() {
        let mut kept = true;
        for (index, (exclude, pattern)) in compiled.iter().enumerate() {
            if *exclude && pattern.matches(&matched.path) {
                counts[index] += 1;
                kept = false;
            }
        }
        if kept {
            files.push(matched);
        }
    }
    files.sort_by(|a, b| {
        a.path
            .as_os_str()
            .as_bytes()
            .cmp(b.path.as_os_str().as_bytes())
    });
    Ok(Expansion { files, counts })
}

/// The components of a pattern, without empty ones (`a//b`, a trailing
/// `/`) and without `.`.
fn components(pattern: &str) -> impl Iterator<Item = &str> {
    pattern
        .split('/')
        .filter(|component| !component.is_empty() && *component != ".")
}

/// Whether a component has characters the glob syntax gives a meaning.
fn is_glob(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

/// A pattern split into its literal leading directories and the steps
/// that follow, matched one component at a time.
struct Compiled {
    /// The literal leading components; the whole path when the pattern
    /// has no glob characters.
    prefix: PathBuf,
    /// One step for each component after the first glob.
    rest: Vec<Step>,
}

/// One component of a pattern after its literal prefix.
enum Step {
    /// `**`: any number of components, none included.
    Any,
    /// Exactly one component matching this glob.
    Name(Pattern),
}

/// The steps of a pattern a walk may be at, sorted and without repeats.
/// Position `rest.len()` means the pattern has matched.
type State = Vec<usize>;

impl Compiled {
    /// Splits `body` (a pattern without its `!`, already checked).
    fn new(body: &str) -> Result<Compiled, String> {
        let mut prefix = PathBuf::new();
        let mut rest = Vec::new();
        for component in components(body) {
            if rest.is_empty() && !is_glob(component) {
                prefix.push(component);
            } else if component == "**" {
                rest.push(Step::Any);
            } else {
                let pattern = Pattern::new(component)
                    .map_err(|error| format!("not a valid glob: {}", error.msg))?;
                rest.push(Step::Name(pattern));
            }
        }
        Ok(Compiled { prefix, rest })
    }

    /// The state before any component past the prefix is matched.
    fn start(&self) -> State {
        self.close(vec![0])
    }

    /// `state` with every step a `**` lets the walk skip to.
    fn close(&self, mut state: State) -> State {
        let mut index = 0;
        while index < state.len() {
            let position = state[index];
            if matches!(self.rest.get(position), Some(Step::Any))
                && !state.contains(&(position + 1))
            {
                state.push(position + 1);
            }
            index += 1;
        }
        state.sort_unstable();
        state.dedup();
        state
    }

    /// The state after matching one more component, `name`.
    fn step(&self, state: &State, name: &OsStr) -> State {
        let name = name.to_string_lossy();
        let mut next = Vec::new();
        for &position in state {
            match self.rest.get(position) {
                Some(Step::Any) => next.push(position),
                Some(Step::Name(pattern)) if pattern.matches_with(&name, OPTIONS) => {
                    next.push(position + 1);
                }
                _ => {}
            }
        }
        self.close(next)
    }

    /// Whether `state` has matched the whole pattern.
    fn done(&self, state: &State) -> bool {
        state.contains(&self.rest.len())
    }

    /// Whether the pattern names `path` (relative) or a directory holding
    /// it, by its text alone.
    fn matches(&self, path: &Path) -> bool {
        let Ok(remaining) = path.strip_prefix(&self.prefix) else {
            return false;
        };
        if self.rest.is_empty() {
            return true;
        }
        let mut state = self.start();
        let mut any = false;
        for component in remaining.components() {
            if any && self.done(&state) {
                return true;
            }
            any = true;
            state = self.step(&state, component.as_os_str());
            if state.is_empty() {
                return false;
            }
        }
        any && self.done(&state)
    }
}

/// What a walk still has to match under a directory.
enum Under {
    /// Everything: the directory itself matched.
    All,
    /// What the pattern's steps in this state match.
    At(State),
}

/// One include pattern's walk of the task's directory.
struct Walker<'a> {
    /// The task's directory.
    base: &'a Path,
    /// Absolute paths never to match or enter.
    never: &'a [PathBuf],
    /// The pattern as written, for errors.
    pattern: &'a str,
    /// Every directory read so far (for tests).
    read: &'a mut Vec<PathBuf>,
    /// The matches found.
    out: Vec<Match>,
}

impl Walker<'_> {
    /// Finds everything `pattern` matches.
    fn expand(&mut self, pattern: &Compiled) -> Result<(), ExpandError> {
        if self.barred(&pattern.prefix) {
            return Ok(());
        }
        if pattern.rest.is_empty() {
            let path = self.base.join(&pattern.prefix);
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(error) if absent(&error) => return Ok(()),
                Err(source) => return Err(self.stat_error(path, source)),
            };
            if meta.is_dir() {
                return self.walk(pattern, pattern.prefix.clone(), Under::All);
            }
            return self.found(pattern.prefix.clone(), meta);
        }
        let start = pattern.start();
        let under = if pattern.done(&start) {
            Under::All
        } else {
            Under::At(start)
        };
        self.walk(pattern, pattern.prefix.clone(), under)
    }

    /// Walks the directory `root` (relative), depth first, without
    /// following symlinks.
    fn walk(&mut self, pattern: &Compiled, root: PathBuf, under: Under) -> Result<(), ExpandError> {
        let mut pending = vec![(root, under)];
        while let Some((dir, under)) = pending.pop() {
            let absolute = self.base.join(&dir);
            let entries = match std::fs::read_dir(&absolute) {
                Ok(entries) => entries,
                Err(error) if absent(&error) => continue,
                Err(source) => return Err(self.read_error(absolute, source)),
            };
            self.read.push(absolute.clone());
            for entry in entries {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(error) if absent(&error) => continue,
                    Err(source) => return Err(self.read_error(absolute, source)),
                };
                let name = entry.file_name();
                let path = dir.join(&name);
                if self.barred(&path) {
                    continue;
                }
                let next = match &under {
                    Under::All => Under::All,
                    Under::At(state) => {
                        let next = pattern.step(state, &name);
                        if pattern.done(&next) {
                            Under::All
                        } else if next.is_empty() {
                            continue;
                        } else {
                            Under::At(next)
                        }
                    }
                };
                let file_type = match entry.file_type() {
                    Ok(file_type) => file_type,
                    Err(error) if absent(&error) => continue,
                    Err(source) => return Err(self.stat_error(self.base.join(&path), source)),
                };
                if file_type.is_dir() {
                    pending.push((path, next));
                } else if matches!(next, Under::All) {
                    // On Unix a directory entry's metadata is its own,
                    // not a symlink target's.
                    let meta = match entry.metadata() {
                        Ok(meta) => meta,
                        Err(error) if absent(&error) => continue,
                        Err(source) => return Err(self.stat_error(self.base.join(&path), source)),
                    };
                    self.found(path, meta)?;
                }
            }
        }
        Ok(())
    }

    /// Records `path` (relative) as a match if it is a file or a symlink.
    fn found(&mut self, path: PathBuf, meta: Metadata) -> Result<(), ExpandError> {
        let kind = if meta.is_file() {
            Kind::File {
                exec: meta.permissions().mode() & 0o111 != 0,
            }
        } else if meta.is_symlink() {
            let absolute = self.base.join(&path);
            match std::fs::read_link(&absolute) {
                Ok(target) => Kind::Symlink { target },
                Err(error) if absent(&error) => return Ok(()),
                Err(source) => return Err(self.stat_error(absolute, source)),
            }
        } else {
            return Ok(());
        };
        self.out.push(Match { path, kind, meta });
        Ok(())
    }

    /// Whether `path` (relative) lies at or under a path in `never`.
    fn barred(&self, path: &Path) -> bool {
        if self.never.is_empty() {
            return false;
        }
        let absolute = self.base.join(path);
        self.never.iter().any(|never| absolute.starts_with(never))
    }

    /// The error for a directory that cannot be read.
    fn read_error(&self, dir: PathBuf, source: std::io::Error) -> ExpandError {
        ExpandError::ReadDir {
            dir,
            pattern: self.pattern.to_owned(),
            source,
        }
    }

    /// The error for a path whose metadata cannot be read.
    fn stat_error(&self, path: PathBuf, source: std::io::Error) -> ExpandError {
        ExpandError::Stat {
            path,
            pattern: self.pattern.to_owned(),
            source,
        }
    }
}

/// Whether an error means the path is not there to match: it does not
/// exist (or vanished while walking), or a component of it is a file.
fn absent(error: &std::io::Error) -> bool {
    matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// Writes each file (creating its directories) under `base`.
    fn files(base: &Path, paths: &[&str]) {
        for path in paths {
            let path = base.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, path.to_string_lossy().as_bytes()).unwrap();
        }
    }

    /// The patterns as owned strings.
    fn owned(patterns: &[&str]) -> Vec<String> {
        patterns.iter().map(|&pattern| pattern.to_owned()).collect()
    }

    /// The matched paths, as text.
    fn paths(expansion: &Expansion) -> Vec<String> {
        expansion
            .files
            .iter()
            .map(|matched| matched.path.to_string_lossy().into_owned())
            .collect()
    }

    /// A task directory with sources, headers, build outputs and a store.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        files(
            dir.path(),
            &[
                "src/a.c",
                "src/b.c",
                "src/a_test.c",
                "src/sub/c.c",
                "include/x.h",
                "include/deep/y.h",
                "include/deep/y.txt",
                "build/app",
                "build/o.o",
                "dist/index.html",
                "dist/js/app.js",
                "README",
            ],
        );
        let app = dir.path().join("build/app");
        std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    #[test]
    fn includes_are_unioned_and_excludes_apply_whatever_the_order() {
        let dir = tree();
        let expansion = expand(
            dir.path(),
            &owned(&["src/*.c", "include/**/*.h", "!src/*_test.c"]),
            &[],
        )
        .unwrap();
        assert_eq!(
            paths(&expansion),
            ["include/deep/y.h", "include/x.h", "src/a.c", "src/b.c"]
        );
        assert_eq!(expansion.counts, [3, 2, 1]);

        let expansion = expand(
            dir.path(),
            &owned(&["!src/*_test.c", "src/*.c", "src/a.c", "include/**/*.h"]),
            &[],
        )
        .unwrap();
        assert_eq!(
            paths(&expansion),
            ["include/deep/y.h", "include/x.h", "src/a.c", "src/b.c"]
        );
        assert_eq!(expansion.counts, [1, 3, 1, 2]);
    }

    #[test]
    fn a_directory_names_every_file_under_it() {
        let dir = tree();
        for pattern in ["dist", "dist/", "./dist//", "d*", "dis?"] {
            let expansion = expand(dir.path(), &owned(&[pattern]), &[]).unwrap();
            assert_eq!(
                paths(&expansion),
                ["dist/index.html", "dist/js/app.js"],
                "{pattern}"
            );
            assert_eq!(expansion.counts, [2], "{pattern}");
        }
        let expansion = expand(dir.path(), &owned(&["build/", "!build/*.o"]), &[]).unwrap();
        assert_eq!(paths(&expansion), ["build/app"]);
        assert_eq!(expansion.files[0].kind, Kind::File { exec: true });
        assert_eq!(expansion.counts, [2, 1]);

        let expansion = expand(dir.path(), &owned(&["src/**", "!src/sub"]), &[]).unwrap();
        assert_eq!(paths(&expansion), ["src/a.c", "src/a_test.c", "src/b.c"]);
        assert_eq!(expansion.counts, [4, 1]);
    }

    #[test]
    fn double_star_crosses_directories_and_single_star_does_not() {
        let dir = tree();
        let expansion = expand(dir.path(), &owned(&["**/*.c", "*/*.h"]), &[]).unwrap();
        assert_eq!(
            paths(&expansion),
            [
                "include/x.h",
                "src/a.c",
                "src/a_test.c",
                "src/b.c",
                "src/sub/c.c"
            ]
        );
        assert_eq!(expansion.counts, [4, 1]);
        let expansion = expand(dir.path(), &owned(&["include/**/y.*"]), &[]).unwrap();
        assert_eq!(
            paths(&expansion),
            ["include/deep/y.h", "include/deep/y.txt"]
        );
    }

    #[test]
    fn only_what_a_pattern_can_match_is_walked() {
        let dir = tree();
        let base = dir.path();
        let mut read = Vec::new();
        expand_traced(base, &owned(&["src/*.c"]), &[], &mut read).unwrap();
        assert_eq!(read, [base.join("src")]);

        read.clear();
        let expansion = expand_traced(base, &owned(&["README"]), &[], &mut read).unwrap();
        assert_eq!(paths(&expansion), ["README"]);
        assert_eq!(expansion.files[0].kind, Kind::File { exec: false });
        assert!(read.is_empty());

        read.clear();
        expand_traced(base, &owned(&["include/*/y.h"]), &[], &mut read).unwrap();
        read.sort();
        assert_eq!(read, [base.join("include"), base.join("include/deep")]);
    }

    #[test]
    fn missing_paths_match_nothing_and_are_counted_as_zero() {
        let dir = tree();
        let expansion = expand(
            dir.path(),
            &owned(&[
                "missing.c",
                "nowhere/*.c",
                "README/x",
                "README/*",
                "src/*.rs",
            ]),
            &[],
        )
        .unwrap();
        assert!(expansion.files.is_empty());
        assert_eq!(expansion.counts, [0, 0, 0, 0, 0]);
    }

    #[test]
    fn symlinks_are_matches_and_never_followed() {
        let dir = tree();
        let base = dir.path();
        symlink("../include", base.join("src/inc")).unwrap();
        symlink("a.c", base.join("src/alias.c")).unwrap();
        let expansion = expand(base, &owned(&["src/**"]), &[]).unwrap();
        assert_eq!(
            paths(&expansion),
            [
                "src/a.c",
                "src/a_test.c",
                "src/alias.c",
                "src/b.c",
                "src/inc",
                "src/sub/c.c"
            ]
        );
        let alias = &expansion.files[2];
        assert_eq!(
            alias.kind,
            Kind::Symlink {
                target: PathBuf::from("a.c")
            }
        );
        assert!(alias.meta.is_symlink());
        assert_eq!(
            expansion.files[4].kind,
            Kind::Symlink {
                target: PathBuf::from("../include")
            }
        );
        // A literal symlink to a directory is the link, not the directory.
        let expansion = expand(base, &owned(&["src/inc", "src/inc/"]), &[]).unwrap();
        assert_eq!(paths(&expansion), ["src/inc"]);
        assert_eq!(expansion.counts, [1, 1]);
    }

    #[test]
    fn sockets_and_fifos_are_skipped() {
        let dir = tree();
        let fifo = dir.path().join("src/pipe");
        let name = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: `name` is a valid NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
        let expansion = expand(dir.path(), &owned(&["src/*", "src/pipe"]), &[]).unwrap();
        assert_eq!(
            paths(&expansion),
            ["src/a.c", "src/a_test.c", "src/b.c", "src/sub/c.c"]
        );
        assert_eq!(expansion.counts, [4, 0]);
    }

    #[test]
    fn the_database_and_the_store_are_never_inputs() {
        let dir = tree();
        let base = dir.path();
        files(
            base,
            &[
                "history.db",
                "history.db-wal",
                "history.db-shm",
                "history.db-journal",
                ".taskrun/objects/ab/cd/ef",
                ".taskrun/tmp/x",
            ],
        );
        let never = [
            base.join("history.db"),
            base.join("history.db-wal"),
            base.join("history.db-shm"),
            base.join(".taskrun"),
        ];
        let mut read = Vec::new();
        let expansion = expand_traced(
            base,
            &owned(&["*", ".taskrun/objects/ab/cd/ef", "history.db"]),
            &never,
            &mut read,
        )
        .unwrap();
        assert_eq!(
            paths(&expansion),
            [
                "README",
                "build/app",
                "build/o.o",
                "dist/index.html",
                "dist/js/app.js",
                "history.db-journal",
                "include/deep/y.h",
                "include/deep/y.txt",
                "include/x.h",
                "src/a.c",
                "src/a_test.c",
                "src/b.c",
                "src/sub/c.c",
            ]
        );
        assert_eq!(expansion.counts, [13, 0, 0]);
        assert!(
            !read
                .iter()
                .any(|dir| dir.starts_with(base.join(".taskrun")))
        );
    }

    #[test]
    fn names_that_are_not_utf8_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        let odd = base.join("odd");
        std::fs::create_dir(&odd).unwrap();
        let name = OsStr::from_bytes(b"caf\xe9.txt");
        std::fs::write(odd.join(name), b"x").unwrap();
        std::fs::write(odd.join("plain.txt"), b"y").unwrap();
        let expected = [Path::new("odd").join(name), PathBuf::from("odd/plain.txt")];
        for pattern in ["odd/", "**", "odd/*.txt", "**/*"] {
            let expansion = expand(base, &owned(&[pattern]), &[]).unwrap();
            let found: Vec<&Path> = expansion.files.iter().map(|m| m.path.as_path()).collect();
            assert_eq!(found, expected, "{pattern}");
        }
        let expansion = expand(base, &owned(&["odd/", "!odd/caf?.txt"]), &[]).unwrap();
        assert_eq!(paths(&expansion), ["odd/plain.txt"]);
    }

    #[test]
    fn an_unreadable_directory_is_an_error_that_names_it() {
        let dir = tree();
        let base = dir.path();
        // A symlink loop fails to open for every user, root included.
        symlink("loop", base.join("loop")).unwrap();
        let error = expand(base, &owned(&["src/*.c", "loop/*.c"]), &[]).unwrap_err();
        let ExpandError::ReadDir {
            dir,
            pattern,
            source,
        } = &error
        else {
            panic!("{error:?}");
        };
        assert_eq!(dir, &base.join("loop"));
        assert_eq!(pattern, "loop/*.c");
        assert_eq!(source.raw_os_error(), Some(libc::ELOOP));
        assert_eq!(
            error.to_string(),
            format!(
                "cannot read the directory `{}` while expanding `loop/*.c`: make it readable, or write the pattern so that it does not reach there",
                base.join("loop").display()
            )
        );
        // Walking never follows the loop, so `**` is fine.
        expand(base, &owned(&["**"]), &[]).unwrap();
    }

    #[test]
    fn an_invalid_pattern_is_an_error_that_names_it() {
        let dir = tree();
        let error = expand(dir.path(), &owned(&["src/*.c", "src/a**"]), &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`src/a**` is not a valid glob (recursive wildcards must form a single path component): write `[*]` or `[?]` for a literal `*` or `?`, and close every `[`"
        );
        let error = expand(dir.path(), &owned(&["../x"]), &[]).unwrap_err();
        assert!(matches!(error, ExpandError::Pattern { pattern, .. } if pattern == "../x"));
    }
}
