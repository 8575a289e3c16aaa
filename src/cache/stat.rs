//! The stat cache: content hashes of files, trusted while a file's stat is
//! unchanged, so that an up-to-date check reads no file it has read before.
//!
//! A stored hash is trusted only when the file's device, inode, size,
//! mtime, ctime and mode all match what they were when it was hashed, and
//! its mtime is more than [`RACY_MARGIN_NS`] older than the moment hashing
//! began (git's "racy" rule, with a margin for coarse filesystem clocks): a
//! file written within the same clock tick as its hashing could change
//! again without its stat changing. Such a file is simply hashed again next
//! time, and trusted once it has aged.
//!
//! The cache is shared by every worker thread of a run. It loads the
//! `file_stat_cache` table once, and hands what it learned back through
//! [`StatCache::take_fresh`]; it never writes to the database itself
//! (the recorder does, with [`save`], in its own transaction). It also
//! finds `[tools:]` on `PATH` ([`resolve_tool`]).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use super::{Digest, StatRow, hash};

/// How much older than its hashing a file's mtime must be for the hash to
/// be trusted later: 2 s, in nanoseconds.
pub(crate) const RACY_MARGIN_NS: i64 = 2_000_000_000;

/// The stat fields a stored hash is tied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    /// The device the file is on.
    pub dev: u64,
    /// Its inode number.
    pub ino: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time, in nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Its status change time, in nanoseconds since the Unix epoch.
    pub ctime_ns: i64,
    /// Its mode: file type and permission bits.
    pub mode: u32,
}

/// The stat fields of `meta`. Times beyond what an `i64` of nanoseconds
/// holds (the year 2262) saturate.
pub(crate) fn stat_of(meta: &Metadata) -> Stat {
    let nanos =
        |seconds: i64, nanos: i64| seconds.saturating_mul(1_000_000_000).saturating_add(nanos);
    Stat {
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.size(),
        mtime_ns: nanos(meta.mtime(), meta.mtime_nsec()),
        ctime_ns: nanos(meta.ctime(), meta.ctime_nsec()),
        mode: meta.mode(),
    }
}

/// A file's digest, and how many bytes were read to get it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hashed {
    /// The SHA-256 of the file's content.
    pub digest: Digest,
    /// Bytes read: 0 when the stored hash was trusted.
    pub read: u64,
}

/// Content hashes keyed by absolute path, shared by many threads.
///
/// The lock is held only to look up or insert a row, never while a file
/// is read.
pub(crate) struct StatCache {
    /// The rows, and those learned since the last [`StatCache::take_fresh`].
    inner: Mutex<Inner>,
}

/// What the lock guards.
struct Inner {
    /// Every row known, loaded or learned.
    rows: HashMap<PathBuf, StatRow>,
    /// The rows learned since the last [`StatCache::take_fresh`].
    fresh: HashMap<PathBuf, StatRow>,
}

impl StatCache {
    /// A cache that knows `rows` (a later row for the same path wins).
    pub(crate) fn new(rows: Vec<StatRow>) -> StatCache {
        let rows = rows
            .into_iter()
            .map(|row| (row.path.clone(), row))
            .collect();
        StatCache {
            inner: Mutex::new(Inner {
                rows,
                fresh: HashMap::new(),
            }),
        }
    }

    /// A cache that knows every usable row of the `file_stat_cache` table.
    /// A database without the table (made by an older taskrun) gives an
    /// empty cache. Rows with a missing or out-of-range stat field or a
    /// malformed digest are left out: they would never be trusted anyway.
    pub(crate) fn load(connection: &Connection) -> rusqlite::Result<StatCache> {
        let exists: bool = connection.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'file_stat_cache')",
            [],
            |row| row.get(0),
        )?;
        if !exists {
            return Ok(StatCache::new(Vec::new()));
        }
        let mut statement = connection.prepare(
            "SELECT path, dev, ino, size, mtime_ns, ctime_ns, mode, sha256, verified_at_ns FROM file_stat_cache",
        )?;
        let mut rows = Vec::new();
        for row in statement.query_map([], decode)? {
            if let Some(row) = row? {
                rows.push(row);
            }
        }
        Ok(StatCache::new(rows))
    }

    /// The digest of the file at `path`, whose metadata is `meta`.
    ///
    /// `path` should be absolute, since rows are keyed by it. `meta` must
    /// describe the file whose content is read: for a symlink, its
    /// target's (`std::fs::metadata`), not the link's own. When a stored
    /// hash is trusted, nothing is read. Otherwise the file is hashed, then
    /// stat'ed again (following symlinks), and the new hash is remembered
    /// only if that stat still equals `meta`'s: a file that changed while it
    /// was read (or since `meta` was taken) gets the digest of what was
    /// read, and no row.
    pub(crate) fn hash(&self, path: &Path, meta: &Metadata) -> std::io::Result<Hashed> {
        let stat = stat_of(meta);
        if let Some(digest) = self.trusted(path, &stat) {
            return Ok(Hashed { digest, read: 0 });
        }
        let verified_at_ns = now_ns();
        let (digest, read) = hash::file(path)?;
        let unchanged = std::fs::metadata(path).is_ok_and(|after| stat_of(&after) == stat);
        if unchanged {
            self.insert(row(path, &stat, digest.clone(), verified_at_ns));
        }
        Ok(Hashed { digest, read })
    }

    #[cfg(test)]
    /// The trusted digest of the file at `path` with metadata `meta`, if
    /// there is one, without reading anything.
    pub(crate) fn known(&self, path: &Path, meta: &Metadata) -> Option<Digest> {
        self.trusted(path, &stat_of(meta))
    }

    #[cfg(test)]
    /// Records that the file at `path`, with metadata `meta`, has content
    /// `digest`, which the caller knows (it just wrote or restored that
    /// content), as verified now. The racy rule applies as to any row: a
    /// file written just now is trusted only once it has aged.
    pub(crate) fn remember(&self, path: &Path, meta: &Metadata, digest: Digest) {
        self.insert(row(path, &stat_of(meta), digest, now_ns()));
    }

    /// The rows learned since the last call, each path once (the latest
    /// row wins), sorted by the bytes of the path, for the recorder to
    /// write.
    pub(crate) fn take_fresh(&self) -> Vec<StatRow> {
        let fresh = std::mem::take(&mut self.lock().fresh);
        let mut rows: Vec<StatRow> = fresh.into_values().collect();
        rows.sort_by(|a, b| {
            a.path
                .as_os_str()
                .as_bytes()
                .cmp(b.path.as_os_str().as_bytes())
        });
        rows
    }

    /// The stored digest of `path` if its row matches `stat` and is not
    /// racy.
    fn trusted(&self, path: &Path, stat: &Stat) -> Option<Digest> {
        let inner = self.lock();
        let row = inner.rows.get(path)?;
        let same = row.dev == stat.dev
            && row.ino == stat.ino
            && row.size == stat.size
            && row.mtime_ns == stat.mtime_ns
            && row.ctime_ns == stat.ctime_ns
            && row.mode == stat.mode;
        let aged = row.mtime_ns < row.verified_at_ns.saturating_sub(RACY_MARGIN_NS);
        (same && aged).then(|| row.sha256.clone())
    }

    /// Adds `row`, replacing any row for its path.
    fn insert(&self, row: StatRow) {
        let mut inner = self.lock();
        inner.fresh.insert(row.path.clone(), row.clone());
        inner.rows.insert(row.path.clone(), row);
    }

    /// The lock. A thread that panicked while holding it left the maps
    /// whole (each change is one insert), so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Writes `rows` into the `file_stat_cache` table, replacing rows for the
/// same paths. Paths are stored as their bytes. `dev`, `ino` and `size`
/// are stored as `i64` by a wrapping cast (a value above `i64::MAX` is
/// stored negative), which [`StatCache::load`] undoes.
pub(crate) fn save(connection: &Connection, rows: &[StatRow]) -> rusqlite::Result<()> {
    let mut statement = connection.prepare_cached(
        "INSERT OR REPLACE INTO file_stat_cache (path, dev, ino, size, mtime_ns, ctime_ns, mode, sha256, verified_at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for row in rows {
        statement.execute(rusqlite::params![
            row.path.as_os_str().as_bytes(),
            to_sql(row.dev),
            to_sql(row.ino),
            to_sql(row.size),
            row.mtime_ns,
            row.ctime_ns,
            row.mode,
            row.sha256,
            row.verified_at_ns,
        ])?;
    }
    Ok(())
}

/// Where the tool `name` of `[tools:]` is, found as `which` finds it.
///
/// A name with a `/` is taken as it is written, and must be absolute (a
/// relative one would depend on the current directory). Otherwise each
/// absolute entry of `path_var` is tried in order (empty and relative
/// entries are skipped for the same reason), and the first that holds a
/// regular file with an execute bit, following symlinks, is returned as
/// found, not canonicalized. Without a `PATH`, nothing is found.
pub(crate) fn resolve_tool(name: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    if name.contains('/') {
        let path = PathBuf::from(name);
        return (path.is_absolute() && executable(&path)).then_some(path);
    }
    std::env::split_paths(path_var?)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| executable(candidate))
}

/// Whether `path` is, after following symlinks, a regular file with an
/// execute bit.
fn executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// A row for `path` with `stat`, `digest` and `verified_at_ns`.
fn row(path: &Path, stat: &Stat, digest: Digest, verified_at_ns: i64) -> StatRow {
    StatRow {
        path: path.to_path_buf(),
        dev: stat.dev,
        ino: stat.ino,
        size: stat.size,
        mtime_ns: stat.mtime_ns,
        ctime_ns: stat.ctime_ns,
        mode: stat.mode,
        sha256: digest,
        verified_at_ns,
    }
}

/// Now, in nanoseconds since the Unix epoch; 0 for a clock set before it,
/// which makes nothing hashed now trusted later.
fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
        })
}

/// A row of `file_stat_cache`, or `None` when a field is missing or does
/// not fit.
fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<StatRow>> {
    let path = match row.get_ref(0)? {
        ValueRef::Blob(bytes) | ValueRef::Text(bytes) => PathBuf::from(OsStr::from_bytes(bytes)),
        _ => return Ok(None),
    };
    let integer = |index: usize| -> rusqlite::Result<Option<i64>> {
        Ok(match row.get_ref(index)? {
            ValueRef::Integer(value) => Some(value),
            _ => None,
        })
    };
    let (
        Some(dev),
        Some(ino),
        Some(size),
        Some(mtime_ns),
        Some(ctime_ns),
        Some(mode),
        Some(verified_at_ns),
    ) = (
        integer(1)?,
        integer(2)?,
        integer(3)?,
        integer(4)?,
        integer(5)?,
        integer(6)?,
        integer(8)?,
    )
    else {
        return Ok(None);
    };
    let Ok(mode) = u32::try_from(mode) else {
        return Ok(None);
    };
    let sha256 = match row.get_ref(7)? {
        ValueRef::Text(text) => String::from_utf8_lossy(text).into_owned(),
        _ => return Ok(None),
    };
    if !hash::is_digest(&sha256) {
        return Ok(None);
    }
    Ok(Some(StatRow {
        path,
        dev: from_sql(dev),
        ino: from_sql(ino),
        size: from_sql(size),
        mtime_ns,
        ctime_ns,
        mode,
        sha256,
        verified_at_ns,
    }))
}

/// A `u64` as SQLite stores it: the same 64 bits as an `i64`.
#[expect(
    clippy::cast_possible_wrap,
    reason = "a wrapping cast on purpose: the bits are kept, and `from_sql` undoes it"
)]
fn to_sql(value: u64) -> i64 {
    value as i64
}

/// A `u64` written by [`to_sql`].
#[expect(
    clippy::cast_sign_loss,
    reason = "a wrapping cast on purpose: it undoes `to_sql`"
)]
fn from_sql(value: i64) -> u64 {
    value as u64
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Writes `content` to `path` and sets its mtime `age` in the past.
    fn write_aged(path: &Path, content: &[u8], age: Duration) -> Metadata {
        std::fs::write(path, content).unwrap();
        set_mtime(path, SystemTime::now() - age);
        std::fs::metadata(path).unwrap()
    }

    /// Sets the mtime of `path`.
    fn set_mtime(path: &Path, mtime: SystemTime) {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
    }

    /// A digest no file has, to show when a stored hash is trusted.
    fn fake() -> Digest {
        "0".repeat(64)
    }

    const TEN_SECONDS: Duration = Duration::from_secs(10);

    #[test]
    fn the_cache_is_shared_by_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<StatCache>();
    }

    #[test]
    fn an_aged_file_is_trusted_after_one_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let meta = write_aged(&path, b"hello", TEN_SECONDS);
        let cache = StatCache::new(Vec::new());
        assert_eq!(cache.known(&path, &meta), None);
        let before = now_ns();
        let digest = hash::bytes(b"hello");
        assert_eq!(
            cache.hash(&path, &meta).unwrap(),
            Hashed {
                digest: digest.clone(),
                read: 5
            }
        );
        assert_eq!(
            cache.hash(&path, &meta).unwrap(),
            Hashed {
                digest: digest.clone(),
                read: 0
            }
        );
        assert_eq!(cache.known(&path, &meta), Some(digest.clone()));
        let fresh = cache.take_fresh();
        assert_eq!(fresh.len(), 1);
        let stat = stat_of(&meta);
        assert_eq!(
            fresh[0],
            StatRow {
                path: path.clone(),
                dev: stat.dev,
                ino: stat.ino,
                size: 5,
                mtime_ns: stat.mtime_ns,
                ctime_ns: stat.ctime_ns,
                mode: stat.mode,
                sha256: digest,
                verified_at_ns: fresh[0].verified_at_ns,
            }
        );
        assert!(fresh[0].verified_at_ns >= before && fresh[0].verified_at_ns <= now_ns());
        assert!(cache.take_fresh().is_empty());
    }

    #[test]
    fn a_file_written_just_before_its_hashing_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"racy").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let cache = StatCache::new(Vec::new());
        assert_eq!(cache.hash(&path, &meta).unwrap().read, 4);
        assert_eq!(cache.hash(&path, &meta).unwrap().read, 4);
        assert_eq!(cache.known(&path, &meta), None);
    }

    #[test]
    fn the_racy_margin_is_two_seconds_before_verification() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let meta = write_aged(&path, b"real", TEN_SECONDS);
        let stat = stat_of(&meta);
        // A row whose stat matches but whose digest is wrong shows which
        // rows are trusted: the content may have changed within the
        // margin without the stat changing.
        let racy = row(&path, &stat, fake(), stat.mtime_ns + RACY_MARGIN_NS);
        let cache = StatCache::new(vec![racy]);
        assert_eq!(cache.known(&path, &meta), None);
        assert_eq!(
            cache.hash(&path, &meta).unwrap(),
            Hashed {
                digest: hash::bytes(b"real"),
                read: 4
            }
        );
        let aged = row(&path, &stat, fake(), stat.mtime_ns + RACY_MARGIN_NS + 1);
        let cache = StatCache::new(vec![aged]);
        assert_eq!(cache.known(&path, &meta), Some(fake()));
        assert_eq!(
            cache.hash(&path, &meta).unwrap(),
            Hashed {
                digest: fake(),
                read: 0
            }
        );
    }

    #[test]
    fn a_same_size_rewrite_with_the_old_mtime_is_caught_by_ctime() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let old = write_aged(&path, b"aaaa", TEN_SECONDS);
        let cache = StatCache::new(Vec::new());
        cache.hash(&path, &old).unwrap();
        assert_eq!(cache.hash(&path, &old).unwrap().read, 0);

        std::fs::write(&path, b"bbbb").unwrap();
        set_mtime(&path, old.modified().unwrap());
        let new = std::fs::metadata(&path).unwrap();
        assert_eq!(stat_of(&new).mtime_ns, stat_of(&old).mtime_ns);
        assert_eq!(stat_of(&new).size, stat_of(&old).size);
        assert_eq!(stat_of(&new).ino, stat_of(&old).ino);
        assert_ne!(stat_of(&new).ctime_ns, stat_of(&old).ctime_ns);
        assert_eq!(
            cache.hash(&path, &new).unwrap(),
            Hashed {
                digest: hash::bytes(b"bbbb"),
                read: 4
            }
        );
    }

    #[test]
    fn a_new_inode_or_size_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let old = write_aged(&path, b"aaaa", TEN_SECONDS);
        let cache = StatCache::new(Vec::new());
        cache.hash(&path, &old).unwrap();

        let other = dir.path().join("f.new");
        write_aged(&other, b"cccc", TEN_SECONDS);
        set_mtime(&other, old.modified().unwrap());
        std::fs::rename(&other, &path).unwrap();
        let renamed = std::fs::metadata(&path).unwrap();
        assert_ne!(renamed.ino(), old.ino());
        assert_eq!(
            cache.hash(&path, &renamed).unwrap(),
            Hashed {
                digest: hash::bytes(b"cccc"),
                read: 4
            }
        );

        let longer = write_aged(&path, b"ccccc", TEN_SECONDS);
        assert_eq!(
            cache.hash(&path, &longer).unwrap(),
            Hashed {
                digest: hash::bytes(b"ccccc"),
                read: 5
            }
        );
    }

    #[test]
    fn a_file_that_changed_since_its_stat_is_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let stale = write_aged(&path, b"old", TEN_SECONDS);
        write_aged(&path, b"newer", TEN_SECONDS);
        let cache = StatCache::new(Vec::new());
        assert_eq!(
            cache.hash(&path, &stale).unwrap(),
            Hashed {
                digest: hash::bytes(b"newer"),
                read: 5
            }
        );
        assert!(cache.take_fresh().is_empty());
        assert_eq!(cache.known(&path, &stale), None);
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let meta = write_aged(&path, b"x", TEN_SECONDS);
        std::fs::remove_file(&path).unwrap();
        let error = StatCache::new(Vec::new()).hash(&path, &meta).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn remembered_hashes_are_trusted_once_aged_and_fresh_rows_are_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        let racy = dir.path().join("b");
        std::fs::write(&racy, b"racy").unwrap();
        let racy_meta = std::fs::metadata(&racy).unwrap();
        let aged = dir.path().join("a");
        let aged_meta = write_aged(&aged, b"aged", TEN_SECONDS);
        let cache = StatCache::new(Vec::new());
        cache.hash(&racy, &racy_meta).unwrap();
        cache.hash(&racy, &racy_meta).unwrap();
        cache.remember(&racy, &racy_meta, fake());
        cache.remember(&aged, &aged_meta, hash::bytes(b"aged"));
        assert_eq!(cache.known(&racy, &racy_meta), None);
        assert_eq!(cache.known(&aged, &aged_meta), Some(hash::bytes(b"aged")));
        let fresh = cache.take_fresh();
        let summary: Vec<(&Path, &str)> = fresh
            .iter()
            .map(|row| (row.path.as_path(), row.sha256.as_str()))
            .collect();
        let aged_digest = hash::bytes(b"aged");
        let fake = fake();
        assert_eq!(
            summary,
            [
                (aged.as_path(), aged_digest.as_str()),
                (racy.as_path(), fake.as_str())
            ]
        );
        assert!(cache.take_fresh().is_empty());
    }

    #[test]
    fn many_threads_hash_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<(PathBuf, Metadata)> = (0..8)
            .map(|index| {
                let path = dir.path().join(index.to_string());
                let meta = write_aged(&path, index.to_string().as_bytes(), TEN_SECONDS);
                (path, meta)
            })
            .collect();
        let cache = StatCache::new(Vec::new());
        std::thread::scope(|scope| {
            for (index, (path, meta)) in files.iter().enumerate() {
                let cache = &cache;
                scope.spawn(move || {
                    for _ in 0..3 {
                        let hashed = cache.hash(path, meta).unwrap();
                        assert_eq!(hashed.digest, hash::bytes(index.to_string().as_bytes()));
                    }
                });
            }
        });
        assert_eq!(cache.take_fresh().len(), 8);
    }

    /// The table as the schema creates it.
    const TABLE: &str = "CREATE TABLE file_stat_cache (path BLOB PRIMARY KEY, dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, mode INTEGER, sha256 TEXT NOT NULL, verified_at_ns INTEGER NOT NULL) WITHOUT ROWID";

    #[test]
    fn rows_round_trip_through_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let connection = Connection::open(dir.path().join("history.db")).unwrap();
        connection.execute(TABLE, []).unwrap();
        let odd = StatRow {
            path: PathBuf::from(OsStr::from_bytes(b"/work/caf\xe9.c")),
            dev: u64::MAX,
            ino: 1 << 63,
            size: 12,
            mtime_ns: -5,
            ctime_ns: 1_700_000_000_000_000_000,
            mode: 0o100_755,
            sha256: hash::bytes(b"odd"),
            verified_at_ns: 1_700_000_003_000_000_000,
        };
        let plain = StatRow {
            path: PathBuf::from("/work/a.c"),
            dev: 2049,
            ino: 77,
            size: 0,
            mtime_ns: 1,
            ctime_ns: 2,
            mode: 0o100_644,
            sha256: hash::bytes(b""),
            verified_at_ns: 3,
        };
        save(&connection, &[odd.clone(), plain.clone()]).unwrap();
        let replaced = StatRow {
            size: 13,
            ..odd.clone()
        };
        save(&connection, std::slice::from_ref(&replaced)).unwrap();
        // Rows that could never be trusted are left out on loading.
        connection
            .execute(
                "INSERT INTO file_stat_cache VALUES (x'2f6e756c6c', NULL, 1, 1, 1, 1, 1, ?1, 1)",
                [hash::bytes(b"")],
            )
            .unwrap();
        connection
            .execute(
                "INSERT INTO file_stat_cache VALUES (x'2f626164', 1, 1, 1, 1, 1, 1, 'nope', 1)",
                [],
            )
            .unwrap();
        let stored: i64 = connection
            .query_row(
                "SELECT dev FROM file_stat_cache WHERE path = ?1",
                [odd.path.as_os_str().as_bytes()],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(stored, -1);

        let cache = StatCache::load(&connection).unwrap();
        let inner = cache.lock();
        let mut rows: Vec<&StatRow> = inner.rows.values().collect();
        rows.sort_by_key(|row| row.path.as_os_str().as_bytes().to_vec());
        assert_eq!(rows, [&plain, &replaced]);
        assert!(inner.fresh.is_empty());
    }

    #[test]
    fn a_database_without_the_table_is_an_empty_cache() {
        let connection = Connection::open_in_memory().unwrap();
        let cache = StatCache::load(&connection).unwrap();
        assert!(cache.lock().rows.is_empty());
    }

    #[test]
    fn tools_are_found_on_path_as_which_finds_them() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        let third = dir.path().join("third");
        for dir in [&first, &second, &third] {
            std::fs::create_dir(dir).unwrap();
        }
        // Not executable, and a directory: both passed over.
        std::fs::write(first.join("sh"), b"").unwrap();
        std::fs::create_dir(second.join("sh")).unwrap();
        std::os::unix::fs::symlink("/bin/sh", third.join("sh")).unwrap();
        let path = std::env::join_paths([
            "relative",
            "",
            first.to_str().unwrap(),
            second.to_str().unwrap(),
            third.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(resolve_tool("sh", Some(&path)), Some(third.join("sh")));
        assert_eq!(resolve_tool("nope", Some(&path)), None);
        assert_eq!(resolve_tool("sh", None), None);
        assert_eq!(resolve_tool("", Some(&path)), None);
        assert_eq!(
            resolve_tool("/bin/sh", None),
            Some(PathBuf::from("/bin/sh"))
        );
        assert_eq!(resolve_tool("bin/sh", Some(&path)), None);
        let plain = first.join("sh");
        assert_eq!(resolve_tool(plain.to_str().unwrap(), None), None);
    }
}
