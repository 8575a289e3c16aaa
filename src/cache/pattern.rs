//! What a declared input or output pattern may be, and whether two output
//! patterns can name the same path.
//!
//! Every source of tasks (the line format, TOML and JSON, the script) sends
//! each `[inputs:]` and `[outputs:]` pattern through [`check`], so the
//! rules and their messages are the same everywhere; the graph uses
//! [`overlap`] to refuse two tasks that would write the same file. This
//! module only looks at the text of patterns: it never touches the file
//! system, and it does not expand globs (that is `inputs`' job).

/// The characters that make a path component a glob.
const GLOB_CHARS: [char; 3] = ['*', '?', '['];

/// Whether `pattern` may be declared as an input or output: a path or
/// glob relative to the task's directory, `!` before it to exclude (the
/// caller refuses `!` where excludes make no sense). `Err` holds what is
/// wrong and what to write instead.
pub(crate) fn check(pattern: &str) -> Result<(), String> {
    let path = pattern.strip_prefix('!').unwrap_or(pattern);
    if pattern.is_empty() {
        return Err("write a path or glob relative to the task's directory, e.g. `src/*.c`".into());
    }
    if path.is_empty() {
        return Err(
            "write what to exclude after the `!`, e.g. `!src/*_test.c`, or remove the `!`".into(),
        );
    }
    if path.starts_with('/') {
        return Err(format!(
            "`{path}` is an absolute path: write a path relative to the task's directory \
             (set `[dir:]` to move the task)"
        ));
    }
    if path.split('/').any(|component| component == "..") {
        return Err(format!(
            "`{path}` leaves the task's directory with `..`: write a path inside it \
             (set `[dir:]` to move the task)"
        ));
    }
    if let Err(error) = glob::Pattern::new(path) {
        return Err(format!(
            "`{path}` is not a valid glob ({}): write `[*]` or `[?]` for a literal `*` or `?`, \
             and close every `[`",
            error.msg
        ));
    }
    Ok(())
}

/// Whether `pattern` holds glob characters.
pub(crate) fn is_glob(pattern: &str) -> bool {
    pattern.contains(GLOB_CHARS)
}

/// `path` with `.` and empty components removed and `name/..` pairs
/// resolved, its components joined with `/`; a rooted path keeps its
/// leading `/`, and a trailing `/` is dropped. `..` components that
/// lead out of the path are kept as written.
pub(crate) fn normalize(path: &str) -> String {
    let mut components: Vec<&str> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." if components.last().is_some_and(|last| *last != "..") => {
                components.pop();
            }
            other => components.push(other),
        }
    }
    let joined = components.join("/");
    if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Whether the output patterns `a` and `b` can name the same path, or one
/// a path inside the other's (`dist/` and `dist/app`, or `dist` and
/// `dist/app`, since `dist` may be a directory). Both are relative to the
/// same directory. When globs are involved and the literal text around
/// them does not tell the names apart, the answer is yes: two tasks that
/// may write the same file are refused rather than risked. A rooted path
/// and a relative one are never compared (nothing here knows where the
/// relative one is).
pub(crate) fn overlap(a: &str, b: &str) -> bool {
    if a.starts_with('/') != b.starts_with('/') {
        return false;
    }
    let (a, b) = (normalize(a), normalize(b));
    let (a, b): (Vec<&str>, Vec<&str>) = (
        a.split('/').filter(|c| !c.is_empty()).collect(),
        b.split('/').filter(|c| !c.is_empty()).collect(),
    );
    for (x, y) in a.iter().zip(&b) {
        if *x == "**" || *y == "**" {
            // Any number of components: whatever follows may meet.
            return true;
        }
        if !components_meet(x, y) {
            return false;
        }
    }
    // Equal up to the shorter one: the same path, or one inside the other.
    true
}

/// Whether two path components (each a name or a glob without `/`) can
/// match the same name.
fn components_meet(x: &str, y: &str) -> bool {
    match (is_glob(x), is_glob(y)) {
        (false, false) => x == y,
        (true, false) => matches(x, y),
        (false, true) => matches(y, x),
        (true, true) => {
            // Two globs meet unless their literal beginnings or endings
            // differ (`*.o` and `*.c`, `lib*` and `obj*`).
            let (xp, yp) = (literal_prefix(x), literal_prefix(y));
            let (xs, ys) = (literal_suffix(x), literal_suffix(y));
            (xp.starts_with(yp) || yp.starts_with(xp)) && (xs.ends_with(ys) || ys.ends_with(xs))
        }
    }
}

/// Whether the glob component `glob` matches the name `name`; yes when
/// the glob cannot be read.
fn matches(glob: &str, name: &str) -> bool {
    glob::Pattern::new(glob).map_or(true, |glob| glob.matches(name))
}

/// The text of a glob component before its first glob character.
fn literal_prefix(glob: &str) -> &str {
    glob.find(GLOB_CHARS).map_or(glob, |at| &glob[..at])
}

/// The text of a glob component after its last glob character (or the
/// `]` that closes a class).
fn literal_suffix(glob: &str) -> &str {
    glob.rfind(['*', '?', ']'])
        .map_or(glob, |at| &glob[at + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_patterns() {
        for pattern in [
            "src/*.c",
            "include/**/*.h",
            "!src/*_test.c",
            "dist/",
            "build/app",
            "./a",
            "a b/c",
            "x[.]y",
            "a..b",
        ] {
            assert_eq!(check(pattern), Ok(()), "{pattern}");
        }
    }

    #[test]
    fn refused_patterns_say_what_to_write() {
        let cases = [
            (
                "",
                "write a path or glob relative to the task's directory, e.g. `src/*.c`",
            ),
            (
                "!",
                "write what to exclude after the `!`, e.g. `!src/*_test.c`, or remove the `!`",
            ),
            (
                "/etc/passwd",
                "`/etc/passwd` is an absolute path: write a path relative to the task's directory (set `[dir:]` to move the task)",
            ),
            (
                "!/tmp/x",
                "`/tmp/x` is an absolute path: write a path relative to the task's directory (set `[dir:]` to move the task)",
            ),
            (
                "../x",
                "`../x` leaves the task's directory with `..`: write a path inside it (set `[dir:]` to move the task)",
            ),
            (
                "a/../../b",
                "`a/../../b` leaves the task's directory with `..`: write a path inside it (set `[dir:]` to move the task)",
            ),
            (
                "src/[ab",
                "`src/[ab` is not a valid glob (invalid range pattern): write `[*]` or `[?]` for a literal `*` or `?`, and close every `[`",
            ),
            (
                "a**/b",
                "`a**/b` is not a valid glob (recursive wildcards must form a single path component): write `[*]` or `[?]` for a literal `*` or `?`, and close every `[`",
            ),
        ];
        for (pattern, message) in cases {
            assert_eq!(check(pattern), Err(message.to_owned()), "{pattern}");
        }
    }

    #[test]
    fn normalized_paths() {
        for (path, normal) in [
            ("dist/", "dist"),
            ("./a//b/.", "a/b"),
            ("web/../dist/app", "dist/app"),
            ("../x/y", "../x/y"),
            ("../../x", "../../x"),
            ("/abs/./x/", "/abs/x"),
            ("", ""),
        ] {
            assert_eq!(normalize(path), normal, "{path}");
        }
    }

    #[test]
    fn overlapping_outputs() {
        let cases = [
            ("dist/", "dist/app", true),
            ("dist/", "dist", true),
            ("dist", "dist/app", true),
            ("build/a", "build/b", false),
            ("build/a", "build/a", true),
            ("out/*.o", "out/x.o", true),
            ("out/*.o", "out/x.c", false),
            ("out/*.o", "out/*.c", false),
            ("out/lib*", "out/obj*", false),
            ("out/lib*", "out/li?x", true),
            ("out/*", "out/x/y", true),
            ("out/**/*.o", "out/a/b/c.txt", true),
            ("a/**", "b/x", false),
            ("[ab]/x", "c/x", false),
            ("[ab]/x", "b/x", true),
            ("web/../dist/app", "dist/app", true),
            ("./dist", "dist/", true),
            ("/abs/x", "/abs/x/y", true),
            ("/abs/x", "abs/x", false),
            ("a", "ab", false),
        ];
        for (a, b, expected) in cases {
            assert_eq!(overlap(a, b), expected, "{a} vs {b}");
            assert_eq!(overlap(b, a), expected, "{b} vs {a}");
        }
    }
}
