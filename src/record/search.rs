//! Searching the captured output (`taskrun search`): which tasks' output
//! holds a phrase, grouped by task, newest first, each with a snippet of
//! its newest match.
//!
//! The rows up to the index's high-water mark are found in the index
//! (`output_fts`). The rows above it (those a catch-up could not index:
//! the database is read-only or locked), and those below it that wait
//! for their run to end (and may be done by now), are scanned: their text goes, a slice at a time, into an
//! FTS5 table of the connection's own (`temp`, which even a read-only
//! connection can write), made with the same tokenizer, and the same
//! query runs there. So both ways follow exactly the same rules, `--raw`
//! queries included. Snippets are made the same way, from the newest
//! matching row's text, with FTS5's `highlight()`.
//!
//! Nothing here writes the database (only the connection's `temp`
//! tables).

use std::collections::{BTreeSet, HashMap, HashSet};

use rusqlite::{Connection, params};

use super::index::{OUTPUT_COLUMNS, mark, row_texts, waiting};
use super::stats::Runs;
use super::store::{Store, StoreError};
use crate::event::Stream;

/// The longest snippet, in characters.
const SNIPPET: usize = 200;

/// At most about this much text is scanned at once.
const SCAN_BYTES: usize = 16 << 20;

/// What a snippet marks the start and the end of a match with, before
/// they become `[` and `]` (the indexed text holds neither, see
/// `index::indexed_text`).
const OPEN: char = '\u{1}';
const CLOSE: char = '\u{2}';

/// The tokenizer of the index and of the tables a scan fills.
const TOKENIZE: &str = "tokenize='unicode61 remove_diacritics 2'";

/// What to look for, and where.
pub(crate) struct Search<'a> {
    /// An FTS5 query (see [`fts_query`]).
    pub(crate) query: &'a str,
    /// Only the rows of these runs; all of them if `None`.
    pub(crate) runs: Option<&'a Runs>,
    /// Only the tasks whose name this accepts.
    pub(crate) wanted: &'a dyn Fn(&str) -> bool,
    /// At most this many tasks (the newest).
    pub(crate) limit: usize,
}

/// What a search found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Found {
    /// The tasks whose output matched, the one that matched in the newest
    /// run first; at most the limit.
    pub(crate) groups: Vec<Group>,
    /// How many more tasks matched than the limit let through.
    pub(crate) more: usize,
    /// Rows that were searched by scanning them, not in the index.
    pub(crate) scanned: u64,
}

/// One task (by name) whose output matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Group {
    pub(crate) name: String,
    /// The oldest and the newest run it matched in.
    pub(crate) first_run: i64,
    pub(crate) last_run: i64,
    /// In how many runs it matched.
    pub(crate) runs: usize,
    /// Its newest matching row.
    pub(crate) newest: Match,
}

/// One matching row, with a snippet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Match {
    /// The row's id.
    pub(crate) id: i64,
    pub(crate) run: i64,
    pub(crate) attempt: u32,
    /// The stream the snippet is from.
    pub(crate) stream: Stream,
    /// The line around the match (at most [`SNIPPET`] characters), each
    /// match in `[` `]`.
    pub(crate) snippet: String,
    /// Set when that stream was cut at `--max-output`.
    pub(crate) cut: Option<Cut>,
}

/// How much of a truncated stream was kept, and so searched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cut {
    /// The size of the whole stream.
    pub(crate) total: i64,
    /// The kept start and the kept end, in bytes.
    pub(crate) head: usize,
    pub(crate) tail: usize,
}

/// Why a search could not be made.
#[derive(Debug)]
pub(crate) enum SearchError {
    Store(StoreError),
    /// FTS5 could not read the query: its message.
    Query(String),
}

impl From<StoreError> for SearchError {
    fn from(error: StoreError) -> SearchError {
        SearchError::Store(error)
    }
}

/// A query with nothing to look for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueryProblem {
    /// No word to look for.
    Empty,
    /// A `--raw` query whose parentheses do not pair, which within one
    /// stream's column filter would reach outside it.
    Unpaired,
}

/// The FTS5 query for `text`: a phrase of its words (in `"…"`, with any
/// `"` doubled, so that no character of it is FTS5 syntax), or, with
/// `raw`, the text itself; within one stream's column if `stream` says
/// so. Escape sequences are left out of a phrase, as they are of the
/// indexed text. Text with no character a word is made of (escape
/// sequences aside) looks for nothing.
pub(crate) fn fts_query(
    text: &str,
    raw: bool,
    stream: Option<Stream>,
) -> Result<String, QueryProblem> {
    if !crate::ansi::strip(text).chars().any(is_word_char) {
        return Err(QueryProblem::Empty);
    }
    let query = if raw {
        if stream.is_some() && !paired(text) {
            return Err(QueryProblem::Unpaired);
        }
        text.to_owned()
    } else {
        // As the output is indexed: escape sequences are not words.
        format!("\"{}\"", crate::ansi::strip(text).replace('"', "\"\""))
    };
    Ok(match stream {
        None => query,
        Some(Stream::Stdout) => format!("{{stdout}} : ({query})"),
        Some(Stream::Stderr) => format!("{{stderr}} : ({query})"),
    })
}

/// Whether every `(` of an FTS5 query outside `"…"` has its `)` after it.
fn paired(query: &str) -> bool {
    let mut depth = 0usize;
    let mut quoted = false;
    for c in query.chars() {
        match c {
            // A doubled `"` inside a string closes and opens it again.
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => match depth.checked_sub(1) {
                Some(less) => depth = less,
                None => return false,
            },
            _ => {}
        }
    }
    depth == 0 && !quoted
}

/// Whether the tokenizer counts `c` as part of a word: letters, digits
/// and private-use characters (unicode61's `L* N* Co`), near enough to
/// tell a query with words from one without.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || ('\u{e000}'..='\u{f8ff}').contains(&c)
}

/// One row a search found.
struct Hit {
    id: i64,
    name: String,
    run: i64,
}

impl Store {
    /// Searches the output as `search` says.
    pub(crate) fn search(&self, search: &Search<'_>) -> Result<Found, SearchError> {
        let fail = |source| self.read_error(source);
        let connection = &self.connection;
        let mark = mark(connection).map_err(fail)?;
        let oldest = search
            .runs
            .map_or(Some(i64::MIN), |runs| runs.ids.first().copied());
        let Some(oldest) = oldest else {
            return Ok(Found::default());
        };
        let window: Option<HashSet<i64>> =
            search.runs.map(|runs| runs.ids.iter().copied().collect());
        let in_window = |run: i64| window.as_ref().is_none_or(|ids| ids.contains(&run));
        let keep = |hit: &Hit| in_window(hit.run) && (search.wanted)(&hit.name);
        let mut hits = Vec::new();
        {
            let mut statement = connection
                .prepare(
                    "SELECT t.id, t.name, t.run_id FROM output_fts JOIN tasks AS t
                         ON t.id = output_fts.rowid
                     WHERE output_fts MATCH ?1 AND output_fts.rowid <= ?2 AND t.run_id >= ?3",
                )
                .map_err(fail)?;
            let rows = statement
                .query_map(params![search.query, mark, oldest], |row| {
                    Ok(Hit {
                        id: row.get(0)?,
                        name: row.get(1)?,
                        run: row.get(2)?,
                    })
                })
                .map_err(|source| query_error(self, source))?;
            for hit in rows {
                let hit = hit.map_err(|source| query_error(self, source))?;
                if keep(&hit) {
                    hits.push(hit);
                }
            }
        }
        let scanned = scan(connection, search.query, mark, oldest, &keep, &mut hits)
            .map_err(|source| query_error(self, source))?;
        let mut found = group(hits, search.limit);
        found.scanned = scanned;
        for group in &mut found.groups {
            group.newest = newest(connection, search.query, group.newest.id)
                .map_err(|source| query_error(self, source))?;
        }
        Ok(found)
    }
}

/// An error of a query that FTS5 could not read is the query's; any
/// other is the database's.
fn query_error(store: &Store, source: rusqlite::Error) -> SearchError {
    match &source {
        rusqlite::Error::SqliteFailure(error, Some(message))
            if error.code == rusqlite::ErrorCode::Unknown =>
        {
            SearchError::Query(message.clone())
        }
        _ => SearchError::Store(store.read_error(source)),
    }
}

/// An FTS5 table of the connection's own (in `temp`), empty.
fn scratch(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(&format!(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_text USING fts5(stdout, stderr,
             {TOKENIZE});
         DELETE FROM temp.search_text;"
    ))
}

/// Scans the rows above `mark` that are done and have output (of the
/// runs from `oldest` on, that `keep` keeps), adding those that match to
/// `hits`; how many it scanned.
fn scan(
    connection: &Connection,
    query: &str,
    mark: i64,
    oldest: i64,
    keep: &dyn Fn(&Hit) -> bool,
    hits: &mut Vec<Hit>,
) -> rusqlite::Result<u64> {
    // The rows above the mark, and those below it that waited for their
    // run to end (and may have ended since).
    let waiting = serde_json::to_string(&waiting(connection)?).unwrap_or_else(|_| "[]".into());
    // Two ranges of row ids, each a seek: an `OR` of them would read
    // the whole table.
    let done = "run_id >= ?2 AND status NOT IN ('pending', 'running')
                AND (stdout IS NOT NULL OR stderr IS NOT NULL)";
    let mut statement = connection.prepare(&format!(
        "SELECT id, name, run_id, {OUTPUT_COLUMNS} FROM tasks
         WHERE id IN (SELECT value FROM json_each(?3)) AND {done}
         UNION ALL
         SELECT id, name, run_id, {OUTPUT_COLUMNS} FROM tasks
         WHERE id > ?1 AND id NOT IN (SELECT value FROM json_each(?3)) AND {done}
         ORDER BY id"
    ))?;
    let mut rows = statement.query(params![mark, oldest, waiting])?;
    let mut scanned = 0;
    let mut slice: HashMap<i64, Hit> = HashMap::new();
    let mut bytes = 0;
    scratch(connection)?;
    let mut insert = connection
        .prepare("INSERT INTO temp.search_text (rowid, stdout, stderr) VALUES (?1, ?2, ?3)")?;
    let mut matching =
        connection.prepare("SELECT rowid FROM temp.search_text WHERE search_text MATCH ?1")?;
    let mut flush = |slice: &mut HashMap<i64, Hit>, hits: &mut Vec<Hit>| -> rusqlite::Result<()> {
        let ids: Vec<i64> = matching
            .query_map([query], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        hits.extend(ids.into_iter().filter_map(|id| slice.remove(&id)));
        slice.clear();
        connection.execute("DELETE FROM temp.search_text", [])?;
        Ok(())
    };
    while let Some(row) = rows.next()? {
        let hit = Hit {
            id: row.get(0)?,
            name: row.get(1)?,
            run: row.get(2)?,
        };
        if !keep(&hit) {
            continue;
        }
        let (stdout, stderr) = row_texts(row, 3)?;
        if stdout.is_empty() && stderr.is_empty() {
            continue;
        }
        scanned += 1;
        bytes += stdout.len() + stderr.len();
        insert.execute(params![hit.id, stdout, stderr])?;
        slice.insert(hit.id, hit);
        if bytes >= SCAN_BYTES {
            flush(&mut slice, hits)?;
            bytes = 0;
        }
    }
    // Even with nothing to scan, so that FTS5 reads the query once.
    flush(&mut slice, hits)?;
    Ok(scanned)
}

/// The rows found, by task: the task that matched in the newest run first
/// (then the one with the newest row), at most `limit` of them. Each
/// group's `newest` has only its row's id yet.
fn group(hits: Vec<Hit>, limit: usize) -> Found {
    struct Seen {
        runs: BTreeSet<i64>,
        /// The run and the id of the newest row: a retried attempt of an
        /// older run, recorded while a newer one ran, has a higher id.
        newest: (i64, i64),
    }
    let mut by_name: HashMap<String, Seen> = HashMap::new();
    for hit in hits {
        let seen = by_name.entry(hit.name).or_insert(Seen {
            runs: BTreeSet::new(),
            newest: (hit.run, hit.id),
        });
        seen.runs.insert(hit.run);
        seen.newest = seen.newest.max((hit.run, hit.id));
    }
    let mut groups: Vec<Group> = by_name
        .into_iter()
        .filter_map(|(name, seen)| {
            Some(Group {
                name,
                first_run: *seen.runs.first()?,
                last_run: *seen.runs.last()?,
                runs: seen.runs.len(),
                newest: Match {
                    id: seen.newest.1,
                    run: 0,
                    attempt: 0,
                    stream: Stream::Stdout,
                    snippet: String::new(),
                    cut: None,
                },
            })
        })
        .collect();
    groups.sort_by(|a, b| {
        (b.last_run, b.newest.id, &a.name).cmp(&(a.last_run, a.newest.id, &b.name))
    });
    let more = groups.len().saturating_sub(limit);
    groups.truncate(limit);
    Found {
        groups,
        more,
        scanned: 0,
    }
}

/// Row `id` as a match of `query`, with its snippet.
fn newest(connection: &Connection, query: &str, id: i64) -> rusqlite::Result<Match> {
    let (run, attempt, texts, cuts) = connection.query_row(
        &format!(
            "SELECT run_id, attempt, {OUTPUT_COLUMNS}, stdout_bytes, stderr_bytes
             FROM tasks WHERE id = ?1"
        ),
        [id],
        |row| {
            let cut = |at: usize, total: usize| -> rusqlite::Result<Option<Cut>> {
                let truncated: i64 = row.get(at + 1)?;
                if truncated == 0 {
                    return Ok(None);
                }
                let kept = |at: usize| -> rusqlite::Result<usize> {
                    Ok(row.get_ref(at)?.as_bytes_or_null()?.map_or(0, <[u8]>::len))
                };
                Ok(Some(Cut {
                    total: row.get(total)?,
                    head: kept(at)?,
                    tail: kept(at + 2)?,
                }))
            };
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, u32>(1)?,
                row_texts(row, 2)?,
                (cut(2, 8)?, cut(5, 9)?),
            ))
        },
    )?;
    scratch(connection)?;
    connection.execute(
        "INSERT INTO temp.search_text (rowid, stdout, stderr) VALUES (1, ?1, ?2)",
        params![texts.0, texts.1],
    )?;
    let marked: Option<(String, String)> = connection
        .query_row(
            &format!(
                "SELECT highlight(search_text, 0, '{OPEN}', '{CLOSE}'),
                     highlight(search_text, 1, '{OPEN}', '{CLOSE}')
                 FROM temp.search_text WHERE search_text MATCH ?1"
            ),
            [query],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .ok();
    connection.execute("DELETE FROM temp.search_text", [])?;
    let (stdout, stderr) = marked.unwrap_or_default();
    let (stream, snippet, cut) = match (snippet(&stdout), snippet(&stderr)) {
        (Some(line), _) => (Stream::Stdout, line, cuts.0),
        (None, Some(line)) => (Stream::Stderr, line, cuts.1),
        (None, None) => (Stream::Stdout, String::new(), cuts.0),
    };
    Ok(Match {
        id,
        run,
        attempt,
        stream,
        snippet,
        cut,
    })
}

/// The line of `marked` (text with matches between [`OPEN`] and
/// [`CLOSE`]) where the first match starts, trimmed, with the matches in
/// `[` `]`; at most [`SNIPPET`] characters, cut around the match (`…`
/// says where).
fn snippet(marked: &str) -> Option<String> {
    let at = marked.find(OPEN)?;
    let start = marked[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let end = marked[at..]
        .find(['\n', '\r'])
        .map_or(marked.len(), |i| at + i);
    let mut line: Vec<char> = marked[start..end].trim().chars().collect();
    let opens = line.iter().filter(|&&c| c == OPEN).count();
    let closes = line.iter().filter(|&&c| c == CLOSE).count();
    if opens > closes {
        // A phrase that goes on past the end of its line.
        line.push(CLOSE);
    }
    let first = line.iter().position(|&c| c == OPEN).unwrap_or(0);
    let (mut from, mut to) = (0, line.len());
    if line.len() > SNIPPET {
        from = first.saturating_sub(SNIPPET / 4);
        to = (from + SNIPPET).min(line.len());
        from = to.saturating_sub(SNIPPET).min(from);
    }
    let mut out = String::new();
    if from > 0 {
        out.push('…');
        from += 1;
    }
    let cut_end = to < line.len();
    if cut_end {
        to -= 1;
    }
    out.extend(line[from..to].iter().map(|&c| match c {
        OPEN => '[',
        CLOSE => ']',
        c => c,
    }));
    if cut_end {
        out.push('…');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::store;

    #[test]
    fn a_query_is_a_phrase_unless_raw() {
        assert_eq!(
            fts_query("error[E0308]", false, None),
            Ok("\"error[E0308]\"".to_owned())
        );
        assert_eq!(
            fts_query("say \"hi\"", false, None),
            Ok("\"say \"\"hi\"\"\"".to_owned())
        );
        assert_eq!(fts_query("a OR b*", true, None), Ok("a OR b*".to_owned()));
        assert_eq!(
            fts_query("can't", false, Some(Stream::Stderr)),
            Ok("{stderr} : (\"can't\")".to_owned())
        );
        assert_eq!(fts_query("", false, None), Err(QueryProblem::Empty));
        assert_eq!(fts_query(" [-]: ", true, None), Err(QueryProblem::Empty));
        assert_eq!(
            fts_query("\u{1b}[31m", false, None),
            Err(QueryProblem::Empty),
            "escape sequences are no words"
        );
        // A raw query cannot reach outside the stream's column.
        assert_eq!(
            fts_query("x) OR (error", true, Some(Stream::Stderr)),
            Err(QueryProblem::Unpaired)
        );
        assert_eq!(
            fts_query("(a OR b) AND \"(c\"", true, Some(Stream::Stderr)).as_deref(),
            Ok("{stderr} : ((a OR b) AND \"(c\")")
        );
        assert!(fts_query("é", false, None).is_ok());
    }

    #[test]
    fn snippets_are_the_line_of_the_match_cut_around_it() {
        let marked = "first\r\n  a \u{1}error\u{2}: here\nlast";
        assert_eq!(snippet(marked).as_deref(), Some("a [error]: here"));
        assert_eq!(snippet("nothing"), None);
        assert_eq!(
            snippet("x \u{1}two\nwords\u{2}").as_deref(),
            Some("x [two]")
        );
        let long = format!("{} \u{1}needle\u{2} {}", "a".repeat(300), "b".repeat(300));
        let cut = snippet(&long).unwrap();
        assert_eq!(cut.chars().count(), SNIPPET);
        assert!(cut.starts_with('…') && cut.ends_with('…'), "{cut}");
        assert!(cut.contains(" [needle] "), "{cut}");
        let late = format!("{} \u{1}end\u{2}", "a".repeat(300));
        let cut = snippet(&late).unwrap();
        assert_eq!(cut.chars().count(), SNIPPET);
        assert!(cut.ends_with("[end]"), "{cut}");
    }

    fn search(store: &Store, query: &str) -> Result<Found, SearchError> {
        store.search(&Search {
            query: &fts_query(query, false, None).unwrap(),
            runs: None,
            wanted: &|_| true,
            limit: 20,
        })
    }

    #[test]
    fn groups_are_by_task_newest_first_with_the_newest_snippet() {
        let (_dir, mut store) = store();
        let one = store.add_run(0, &[]);
        store.add_output_row(one, "build", "error: old", "");
        store.add_output_row(one, "test", "", "an error here");
        let two = store.add_run(0, &[]);
        store.add_output_row(two, "build", "line\nnew \u{1b}[1merror\u{1b}[0m!", "");
        store.add_output_row(two, "lint", "clean", "");
        store.index_output(&mut |_| {}).unwrap();
        let found = search(&store, "ERROR").unwrap();
        let shown: Vec<_> = found
            .groups
            .iter()
            .map(|group| {
                (
                    group.name.as_str(),
                    group.first_run,
                    group.last_run,
                    group.runs,
                    group.newest.stream,
                    group.newest.snippet.as_str(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("build", one, two, 2, Stream::Stdout, "new [error]!"),
                ("test", one, one, 1, Stream::Stderr, "an [error] here"),
            ]
        );
        assert_eq!(found.scanned, 0);
    }

    #[test]
    fn rows_above_the_mark_are_scanned_by_the_same_rules() {
        let (_dir, mut store) = store();
        let run = store.add_run(0, &[]);
        store.add_output_row(run, "a", "Ünïcode wörds", "");
        store.index_output(&mut |_| {}).unwrap();
        store.add_output_row(run, "b", "unicode words", "");
        let found = search(&store, "unicode WORDS").unwrap();
        assert_eq!(found.scanned, 1);
        let names: Vec<_> = found.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(found.groups[1].newest.snippet, "[Ünïcode wörds]");
    }

    #[test]
    fn a_raw_query_fts5_cannot_read_is_the_query_error() {
        let (_dir, store) = store();
        for (query, says) in [
            ("\"unclosed", "unterminated string"),
            ("a AND", "syntax error"),
            ("nocolumn : a", "no such column"),
        ] {
            let bad = store.search(&Search {
                query,
                runs: None,
                wanted: &|_| true,
                limit: 20,
            });
            assert!(
                matches!(&bad, Err(SearchError::Query(message)) if message.contains(says)),
                "{query}: {bad:?}"
            );
        }
    }
}

/// Search checked against a brute-force matcher over a generated corpus:
/// the index, and the scan, find exactly the rows whose text holds the
/// phrase's words in a row, by the tokenizer's rules written out again.
#[cfg(test)]
mod brute_force {
    use super::*;
    use crate::testing::store;

    /// A small seeded generator (xorshift64*), so a failure repeats.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const WORDS: &[&str] = &[
        "error",
        "Error",
        "ERROR",
        "warning",
        "café",
        "CAFÉ",
        "cafe",
        "naïve",
        "naive",
        "résumé",
        "resume",
        "façade",
        "über",
        "Über",
        "x86_64",
        "E0308",
        "404",
        "ok",
        "connect",
        "refused",
        "ECONNREFUSED",
        "can't",
        "don't",
        "São",
        "Paulo",
        "año",
        "niño",
        "Ñandú",
        "test",
        "tests",
        "build",
        "mañana",
        "crème",
        "brûlée",
        "done",
        "and",
        "or",
        "NEAR",
        "not",
        "main",
        "rs",
        "panic",
        "at",
        "src",
    ];

    const GAPS: &[&str] = &[
        " ",
        "  ",
        ", ",
        ": ",
        "[",
        "]",
        "(",
        ")",
        ".",
        "::",
        "/",
        "\"",
        "'",
        " - ",
        "\r\n",
        "\n",
        "\t",
        "=",
        "->",
        " \u{1b}[31m",
        "\u{1b}[0m ",
        "\u{1b}[1;32m",
        " | ",
        "_",
    ];

    fn text(random: &mut Random) -> String {
        let words = random.below(25);
        let mut text = String::new();
        for _ in 0..words {
            text.push_str(random.pick(WORDS));
            text.push_str(random.pick(GAPS));
        }
        text
    }

    /// The tokenizer's rules (`unicode61`, `remove_diacritics 2`) for the
    /// characters the corpus holds: words are runs of letters and digits,
    /// folded to lower case without their accents; escape sequences are
    /// not text.
    fn tokens(text: &str) -> Vec<String> {
        let mut plain = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // The corpus's escapes are all `ESC [`, parameters and a
                // final letter (`m`, or `M` in a query put in upper case).
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                plain.push(c);
            }
        }
        plain
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(|word| {
                word.chars()
                    .flat_map(char::to_lowercase)
                    .map(bare)
                    .collect()
            })
            .collect()
    }

    fn bare(c: char) -> char {
        match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            c => c,
        }
    }

    fn holds(text: &str, phrase: &[String]) -> bool {
        tokens(text)
            .windows(phrase.len())
            .any(|window| window == phrase)
    }

    #[test]
    fn two_hundred_random_phrases_find_what_brute_force_finds() {
        let mut random = Random(0x5eed_cafe_f00d_1234);
        let (_dir, mut store) = store();
        let run = store.add_run(0, &[]);
        let mut rows = Vec::new();
        for row in 0..300 {
            let (stdout, stderr) = (text(&mut random), text(&mut random));
            store.add_output_row(run, &format!("t{row}"), &stdout, &stderr);
            rows.push((format!("t{row}"), stdout, stderr));
        }
        let find = |store: &Store, query: &str, stream: Option<Stream>| -> BTreeSet<String> {
            let found = store
                .search(&Search {
                    query: &fts_query(query, false, stream).unwrap(),
                    runs: None,
                    wanted: &|_| true,
                    limit: usize::MAX,
                })
                .unwrap();
            assert_eq!(found.more, 0);
            found.groups.into_iter().map(|group| group.name).collect()
        };
        let mut queries = Vec::new();
        while queries.len() < 200 {
            // Mostly a stretch of a row's own text, punctuation and all,
            // sometimes in upper case; else words that may be anywhere.
            let query = if random.below(4) > 0 {
                let (_, stdout, stderr) = &rows[random.below(rows.len())];
                let source: Vec<char> = if random.below(2) == 0 { stdout } else { stderr }
                    .chars()
                    .collect();
                if source.is_empty() {
                    continue;
                }
                let mut from = random.below(source.len());
                let mut to = (from + 1 + random.below(30)).min(source.len());
                // Mostly whole words at both ends; now and then a part.
                if random.below(5) > 0 {
                    while from > 0 && source[from - 1].is_alphanumeric() {
                        from -= 1;
                    }
                    while to < source.len() && source[to].is_alphanumeric() {
                        to += 1;
                    }
                }
                let query: String = source[from..to].iter().collect();
                if random.below(3) == 0 {
                    query.to_uppercase()
                } else {
                    query
                }
            } else {
                format!("{} {}", random.pick(WORDS), random.pick(WORDS))
            };
            if !tokens(&query).is_empty() {
                queries.push(query);
            }
        }
        let stream = |random: &mut Random| match random.below(4) {
            0 => Some(Stream::Stdout),
            1 => Some(Stream::Stderr),
            _ => None,
        };
        let streams: Vec<Option<Stream>> = queries.iter().map(|_| stream(&mut random)).collect();
        let expected: Vec<BTreeSet<String>> = queries
            .iter()
            .zip(&streams)
            .map(|(query, stream)| {
                let phrase = tokens(query);
                rows.iter()
                    .filter(|(_, stdout, stderr)| {
                        (*stream != Some(Stream::Stderr) && holds(stdout, &phrase))
                            || (*stream != Some(Stream::Stdout) && holds(stderr, &phrase))
                    })
                    .map(|(name, _, _)| name.clone())
                    .collect()
            })
            .collect();
        let finding = expected.iter().filter(|rows| !rows.is_empty()).count();
        assert!(finding > 100, "most queries find something: {finding}");
        // Nothing indexed yet: every row is scanned.
        for ((query, stream), expected) in queries.iter().zip(&streams).zip(&expected) {
            assert_eq!(
                &find(&store, query, *stream),
                expected,
                "scanned: {query:?}"
            );
        }
        store.index_output(&mut |_| {}).unwrap();
        for ((query, stream), expected) in queries.iter().zip(&streams).zip(&expected) {
            assert_eq!(
                &find(&store, query, *stream),
                expected,
                "indexed: {query:?}"
            );
        }
    }
}
