//! Garbage collection of the store (`taskrun gc`): the lock that keeps a
//! collection apart from runs that store, the walk of what the store holds,
//! the choice of which cache entries stay and which objects they need (the
//! mark), and the deletion of the files nothing needs (the sweep).
//!
//! The rows come in as plain data ([`CacheRows`], read by the history's
//! `record::gc`), and the choice goes out as keys of entries to drop
//! ([`Collection::dropped`]): this module never touches the database. The
//! command deletes the rows first and the files after (an entry never names
//! a missing object because of a collection), and nothing but a collection
//! ever deletes an object (apart from a corrupt one, which a read deletes).
//!
//! Two things keep a collection from deleting what a run is about to name.
//! A run holds the store's lock shared ([`StoreLock::shared`]) from before
//! it writes its first object until its recorder has committed the rows
//! that name them, and a collection holds it exclusive. And an object that
//! nothing names is deleted only once it is older than [`GRACE`], for a
//! taskrun that does not take the lock (an older one, or one whose store
//! is on a file system without locks).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::tree::{EntryKind, OutputTree};
use super::{Digest, hash};

/// How long an object that nothing names is kept: a run writes its objects
/// before its recorder commits the rows that name them.
pub(crate) const GRACE: Duration = Duration::from_secs(3600);

/// The lock file, in the store's root.
pub(crate) const LOCK_FILE: &str = "gc.lock";

/// The store's lock (`flock(2)` on `gc.lock` in its root), held until it
/// is dropped. flock locks belong to an open file description, so two
/// locks taken in one process through two opens exclude each other as two
/// processes' would, and the lock goes when the process dies, however it
/// dies.
#[derive(Debug)]
pub(crate) struct StoreLock {
    /// The open lock file; closing it releases the lock.
    _file: File,
}

impl StoreLock {
    /// Takes the store's lock shared, as a run does while it stores:
    /// runs share it with each other, and wait while a collection holds
    /// it. The store's root and the lock file are made if need be. `None`
    /// when the file system of the store cannot lock files (some network
    /// file systems): the run goes on unlocked, and the grace period
    /// alone protects its objects.
    pub(crate) fn shared(store_root: &Path) -> io::Result<Option<StoreLock>> {
        StoreLock::take(store_root, libc::LOCK_SH, || {})
    }

    /// Takes the store's lock exclusive, as a collection does: it waits
    /// until no run is storing and no other collection runs, calling
    /// `waiting` once first if it has to wait. `None` as for
    /// [`shared`](Self::shared).
    pub(crate) fn exclusive(
        store_root: &Path,
        waiting: impl FnOnce(),
    ) -> io::Result<Option<StoreLock>> {
        StoreLock::take(store_root, libc::LOCK_EX, waiting)
    }

    fn take(
        store_root: &Path,
        operation: libc::c_int,
        waiting: impl FnOnce(),
    ) -> io::Result<Option<StoreLock>> {
        let path = store_root.join(LOCK_FILE);
        let open = || {
            fs::create_dir_all(store_root)?;
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
        };
        // A run that ends leaving nothing removes the store's directory
        // if it is empty: one that vanished between the two calls is made
        // again.
        let mut opened = open();
        for _ in 0..3 {
            match &opened {
                Err(error) if error.kind() == io::ErrorKind::NotFound => opened = open(),
                _ => break,
            }
        }
        let file = opened.map_err(|error| at(&error, "cannot open the store's lock", &path))?;
        let held = match flock(&file, operation | libc::LOCK_NB) {
            Ok(()) => true,
            Err(error) if error.raw_os_error() == Some(libc::EWOULDBLOCK) => false,
            Err(error) if unsupported(&error) => return Ok(None),
            Err(error) => return Err(at(&error, "cannot lock", &path)),
        };
        if !held {
            waiting();
            loop {
                match flock(&file, operation) {
                    Ok(()) => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) if unsupported(&error) => return Ok(None),
                    Err(error) => return Err(at(&error, "cannot lock", &path)),
                }
            }
        }
        Ok(Some(StoreLock { _file: file }))
    }
}

/// `flock(2)` on `file`.
fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    // SAFETY: flock takes a file descriptor, which `file` keeps open for
    // the call, and an operation; it touches no memory of ours.
    if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Whether `error` says the file system cannot lock files.
fn unsupported(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::ENOLCK | libc::EOPNOTSUPP | libc::ENOSYS)
    )
}

/// A cache entry as a collection sees it (`cache_entries`, without the
/// captured output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EntryRow {
    /// The cache key, which also names the key manifest's object.
    pub key: Digest,
    pub task_name: String,
    /// The output tree's digest; `None` for a task that declares no
    /// outputs.
    pub outputs: Option<Digest>,
    /// The tree of what it left in `$TASKRUN_OUT`; `None` for nothing.
    pub out: Option<Digest>,
    /// The run that stored it (it may have been pruned since).
    pub producer_run: i64,
    /// When it was stored, and last restored from (Unix seconds).
    pub created_at: i64,
    pub last_hit_at: Option<i64>,
}

impl EntryRow {
    /// When the entry was last used: restored from, or else stored.
    pub(crate) fn used_at(&self) -> i64 {
        self.last_hit_at.unwrap_or(self.created_at)
    }
}

/// What one run's cacheable tasks used (its `task_cache` rows).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RunUse {
    pub run: i64,
    /// One of the `--keep-runs` newest runs.
    pub recent: bool,
    /// The newest run, or one still going: what it used stays even over
    /// `--max-size`.
    pub protected: bool,
    /// The keys of the entries it stored or restored from.
    pub keys: Vec<Digest>,
    /// The output trees its tasks made or restored.
    pub outputs: Vec<Digest>,
    /// The trees of what its tasks left in `$TASKRUN_OUT`, which stay
    /// while the run is one of the recent ones, so that `show --outputs`
    /// and `cat` can serve them.
    pub out: Vec<Digest>,
}

/// What the history says about the cache, for a collection.
#[derive(Clone, Debug, Default)]
pub(crate) struct CacheRows {
    pub entries: Vec<EntryRow>,
    /// The `--keep-runs` newest runs, the newest run, and every run still
    /// going.
    pub runs: Vec<RunUse>,
    /// The cache key of every recorded task row: their key manifests stay,
    /// so that `show --why` can explain any run still recorded.
    pub manifests: HashSet<Digest>,
}

/// One file of the store, as the walk found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredFile {
    pub path: PathBuf,
    pub size: u64,
    /// Older than the grace period, so it may go if nothing names it.
    pub old: bool,
}

/// What the store holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Contents {
    /// The objects, by digest.
    pub objects: HashMap<Digest, StoredFile>,
    /// Files under `objects/` whose path is no digest's (left by hand, or
    /// by a bug): nothing can name them.
    pub strays: Vec<StoredFile>,
    /// Files in `tmp/`, where objects are staged.
    pub temporary: Vec<StoredFile>,
    /// The runs' `$TASKRUN_OUT` directories, `out/<run>`, by run.
    pub runs: Vec<(i64, PathBuf)>,
}

impl Contents {
    /// Walks the store at `root`, and the runs' directories in `runs`: a
    /// file is old if its mtime is before `cutoff` (one whose mtime cannot
    /// be read is taken as new). A store that does not exist holds
    /// nothing.
    pub(crate) fn scan(root: &Path, runs: &Path, cutoff: SystemTime) -> io::Result<Contents> {
        let mut contents = Contents::default();
        let objects = root.join("objects");
        let mut pending = vec![objects.clone()];
        while let Some(dir) = pending.pop() {
            for (path, meta) in listing(&dir)? {
                if meta.is_dir() {
                    pending.push(path);
                    continue;
                }
                let file = stored_file(path, &meta, cutoff);
                match digest_of(&objects, &file.path) {
                    Some(digest) if meta.is_file() => {
                        contents.objects.insert(digest, file);
                    }
                    _ => contents.strays.push(file),
                }
            }
        }
        for (path, meta) in listing(&root.join("tmp"))? {
            if !meta.is_dir() {
                contents.temporary.push(stored_file(path, &meta, cutoff));
            }
        }
        for (path, meta) in listing(runs)? {
            let run = path
                .file_name()
                .and_then(|name| name.to_str()?.parse().ok());
            if let Some(run) = run.filter(|_| meta.is_dir()) {
                contents.runs.push((run, path));
            }
        }
        contents.runs.sort();
        Ok(contents)
    }

    /// The output tree stored as the object `digest`, if it is there,
    /// sound and a tree. Unlike [`Store::read`](super::store::Store::read),
    /// a corrupt object is left where it is (a dry run deletes nothing).
    pub(crate) fn tree(&self, digest: &Digest) -> Option<OutputTree> {
        let object = self.objects.get(digest)?;
        let bytes = fs::read(&object.path).ok()?;
        if hash::bytes(&bytes) != *digest {
            return None;
        }
        OutputTree::decode(std::str::from_utf8(&bytes).ok()?)
    }
}

/// The entries of `dir` with their metadata (not following symlinks); a
/// directory that does not exist has none.
fn listing(dir: &Path) -> io::Result<Vec<(PathBuf, fs::Metadata)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(at(&error, "cannot list", dir)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| at(&error, "cannot list", dir))?;
        match entry.metadata() {
            Ok(meta) => found.push((entry.path(), meta)),
            // Gone since it was listed: another collection, or a rename.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(at(&error, "cannot read", &entry.path())),
        }
    }
    Ok(found)
}

fn stored_file(path: PathBuf, meta: &fs::Metadata, cutoff: SystemTime) -> StoredFile {
    StoredFile {
        path,
        size: meta.len(),
        old: meta.modified().is_ok_and(|modified| modified < cutoff),
    }
}

/// The digest an object at `path` (under `objects`) is named by:
/// `ab/cd/<60 hex>` is `abcd<60 hex>`.
fn digest_of(objects: &Path, path: &Path) -> Option<Digest> {
    let relative = path.strip_prefix(objects).ok()?;
    let parts: Vec<&str> = relative
        .iter()
        .map(|part| part.to_str())
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [first, second, rest] if first.len() == 2 && second.len() == 2 => {
            let digest = format!("{first}{second}{rest}");
            hash::is_digest(&digest).then_some(digest)
        }
        _ => None,
    }
}

/// What a collection keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Policy {
    /// Entries used within this long stay.
    pub max_age: Duration,
    /// Then entries go, least recently used first, until the objects take
    /// at most this many bytes.
    pub max_size: Option<u64>,
    /// Now, in Unix seconds.
    pub now: i64,
}

/// Why an entry goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Why {
    /// No recent run used it, it is older than `--max-age`, and its task
    /// has a newer one.
    Unused,
    /// Its output tree, or a file the tree lists, is missing or damaged:
    /// it could never be restored from.
    Broken,
    /// It was among the least recently used when the store was over
    /// `--max-size`.
    OverSize,
}

impl Why {
    /// In words, for the dry run's list.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Why::Unused => "not used recently",
            Why::Broken => "its objects are missing",
            Why::OverSize => "over --max-size",
        }
    }
}

/// An entry a collection drops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub entry: EntryRow,
    pub why: Why,
}

/// What the store would hold after a collection beyond `--max-size`, and
/// why it could not be brought under it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Over {
    /// The limit.
    pub max_size: u64,
    /// The entries the newest run (or a live one) used, which stay.
    pub protected_entries: usize,
    /// Objects written within the grace period, which stay, and their
    /// bytes.
    pub young_objects: usize,
    pub young_bytes: u64,
}

/// What a collection does: the entries it drops, and the files it deletes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Collection {
    /// By task name, then key.
    pub dropped: Vec<Dropped>,
    /// Objects (and stray files under `objects/`) to delete, and their
    /// bytes.
    pub objects: Vec<PathBuf>,
    pub object_bytes: u64,
    /// Staging files left behind (by an interrupted run), and their bytes.
    pub temporary: Vec<PathBuf>,
    pub temporary_bytes: u64,
    /// What the store's `objects/` holds afterwards.
    pub left_objects: usize,
    pub left_bytes: u64,
    /// Set when the store stays over `--max-size`.
    pub over: Option<Over>,
    /// The `$TASKRUN_OUT` directories of runs that are neither recent nor
    /// still going (nor newer than the history read), removed whole.
    pub out_dirs: Vec<PathBuf>,
}

/// Decides what a collection does, from the history's rows and the
/// store's contents: the mark and the sweep, with nothing deleted yet.
///
/// An entry stays when one of the runs marked `recent` stored or restored
/// from it, when it was used within `max_age`, or when it is the one its
/// task used last; an entry whose output objects are missing or damaged
/// goes whatever else holds. An object stays when a staying entry needs it
/// (its key manifest, output tree and every file the tree lists), when it
/// is the key manifest of a recorded task row, when a protected run's task
/// made or restored it, or when it is younger than the grace period.
/// Over `max_size`, the staying entries go least recently used first, all
/// but those a protected run used, until the objects fit.
pub(crate) fn plan(rows: &CacheRows, contents: &Contents, policy: &Policy) -> Collection {
    let mut trees = Trees::new(contents);
    let pinned = pinned(rows, &mut trees);
    let mut collection = Collection::default();
    let (kept, dropped) = choose(rows, &mut trees, policy);
    collection.dropped = dropped;
    let mut sweep = Sweep::new(contents, &pinned, &kept);
    sweep.unneeded(&mut collection);
    if let Some(max_size) = policy.max_size
        && collection.left_bytes > max_size
    {
        sweep.shrink(rows, kept, max_size, &mut collection);
    }
    collection.left_objects =
        contents.objects.len() + contents.strays.len() - collection.objects.len();
    let newest = rows.runs.iter().map(|run| run.run).max().unwrap_or(0);
    collection.out_dirs = contents
        .runs
        .iter()
        .filter(|(run, _)| {
            *run <= newest && !rows.runs.iter().any(|kept| kept.run == *run && kept.recent)
        })
        .map(|(_, path)| path.clone())
        .collect();
    collection.dropped.sort_by(|a, b| {
        (&a.entry.task_name, &a.entry.key).cmp(&(&b.entry.task_name, &b.entry.key))
    });
    collection.objects.sort();
    collection.temporary.sort();
    collection
}

/// The output trees of a store, each read once: the digests of the files
/// each lists, or `None` for one that cannot be read.
struct Trees<'a> {
    contents: &'a Contents,
    read: HashMap<Digest, Option<Vec<Digest>>>,
}

impl<'a> Trees<'a> {
    fn new(contents: &'a Contents) -> Trees<'a> {
        Trees {
            contents,
            read: HashMap::new(),
        }
    }

    /// The files the tree `digest` lists, if it can be read.
    fn files(&mut self, digest: &Digest) -> Option<&[Digest]> {
        let contents = self.contents;
        self.read
            .entry(digest.clone())
            .or_insert_with(|| {
                let tree = contents.tree(digest)?;
                Some(
                    tree.entries()
                        .iter()
                        .filter_map(|entry| match &entry.kind {
                            EntryKind::File { digest, .. } => Some(digest.clone()),
                            _ => None,
                        })
                        .collect(),
                )
            })
            .as_deref()
    }
}

/// The objects that stay whatever becomes of the entries: every recorded
/// attempt's key manifest, what a protected run's tasks made or
/// restored, and what a recent run's tasks left in `$TASKRUN_OUT`.
fn pinned(rows: &CacheRows, trees: &mut Trees<'_>) -> HashSet<Digest> {
    let mut pinned: HashSet<Digest> = rows.manifests.clone();
    for run in &rows.runs {
        let protected = run.outputs.iter().filter(|_| run.protected);
        let out = run.out.iter().filter(|_| run.recent);
        for outputs in protected.chain(out) {
            if let Some(files) = trees.files(outputs) {
                pinned.extend(files.iter().cloned());
                pinned.insert(outputs.clone());
            }
        }
    }
    pinned
}

/// An entry that stays, with every object it needs.
type Kept<'a> = (&'a EntryRow, HashSet<Digest>);

/// Which entries stay (with what they need) and which go, and why.
fn choose<'a>(
    rows: &'a CacheRows,
    trees: &mut Trees<'_>,
    policy: &Policy,
) -> (Vec<Kept<'a>>, Vec<Dropped>) {
    let contents = trees.contents;
    let mut dropped = Vec::new();
    let mut candidates: Vec<Kept<'a>> = Vec::new();
    'entries: for entry in &rows.entries {
        let mut needs = HashSet::from([entry.key.clone()]);
        for outputs in entry.outputs.iter().chain(&entry.out) {
            let files = trees
                .files(outputs)
                .filter(|files| files.iter().all(|file| contents.objects.contains_key(file)));
            let Some(files) = files else {
                dropped.push(Dropped {
                    entry: entry.clone(),
                    why: Why::Broken,
                });
                continue 'entries;
            };
            needs.extend(files.iter().cloned());
            needs.insert(outputs.clone());
        }
        candidates.push((entry, needs));
    }
    // The entry each task used last, of those that can be restored from.
    let mut newest: HashMap<&str, &EntryRow> = HashMap::new();
    for (entry, _) in &candidates {
        let slot = newest.entry(entry.task_name.as_str()).or_insert(entry);
        if recency(entry) > recency(slot) {
            *slot = entry;
        }
    }
    let recent_runs: HashSet<i64> = rows
        .runs
        .iter()
        .filter(|run| run.recent)
        .map(|run| run.run)
        .collect();
    let recent_keys: HashSet<&str> = rows
        .runs
        .iter()
        .filter(|run| run.recent)
        .flat_map(|run| run.keys.iter().map(String::as_str))
        .collect();
    let age = i64::try_from(policy.max_age.as_secs()).unwrap_or(i64::MAX);
    let cutoff = policy.now.saturating_sub(age);
    let mut kept = Vec::new();
    for (entry, needs) in candidates {
        let stays = recent_keys.contains(entry.key.as_str())
            || recent_runs.contains(&entry.producer_run)
            || entry.used_at() > cutoff
            || newest
                .get(entry.task_name.as_str())
                .is_some_and(|newest| newest.key == entry.key);
        if stays {
            kept.push((entry, needs));
        } else {
            dropped.push(Dropped {
                entry: entry.clone(),
                why: Why::Unused,
            });
        }
    }
    (kept, dropped)
}

/// What orders entries by how recently they were used (the key breaks
/// ties, so the order is the same every time).
fn recency(entry: &EntryRow) -> (i64, i64, &str) {
    (entry.used_at(), entry.created_at, &entry.key)
}

/// The objects the staying entries need, counted, and those chosen for
/// deletion so far.
struct Sweep<'a> {
    contents: &'a Contents,
    pinned: &'a HashSet<Digest>,
    needed: HashMap<Digest, usize>,
    deleted: HashSet<&'a str>,
}

impl<'a> Sweep<'a> {
    fn new(contents: &'a Contents, pinned: &'a HashSet<Digest>, kept: &[Kept<'_>]) -> Sweep<'a> {
        let mut needed: HashMap<Digest, usize> = HashMap::new();
        for (_, needs) in kept {
            for digest in needs {
                *needed.entry(digest.clone()).or_default() += 1;
            }
        }
        Sweep {
            contents,
            pinned,
            needed,
            deleted: HashSet::new(),
        }
    }

    /// Chooses every object, stray and staging file that nothing needs
    /// and that is past the grace period; sets what is left.
    fn unneeded(&mut self, collection: &mut Collection) {
        let contents = self.contents;
        for (digest, object) in &contents.objects {
            if object.old && !self.pinned.contains(digest) && !self.needed.contains_key(digest) {
                self.deleted.insert(digest);
                collection.objects.push(object.path.clone());
                collection.object_bytes += object.size;
            }
        }
        for stray in contents.strays.iter().filter(|stray| stray.old) {
            collection.objects.push(stray.path.clone());
            collection.object_bytes += stray.size;
        }
        for file in contents.temporary.iter().filter(|file| file.old) {
            collection.temporary.push(file.path.clone());
            collection.temporary_bytes += file.size;
        }
        let all: u64 = contents
            .objects
            .values()
            .map(|object| object.size)
            .sum::<u64>()
            + contents.strays.iter().map(|stray| stray.size).sum::<u64>();
        collection.left_bytes = all - collection.object_bytes;
    }

    /// Drops the staying entries no protected run used, least recently
    /// used first, with the objects only they needed, until what is left
    /// takes at most `max_size`; says why, when it still does not.
    fn shrink(
        &mut self,
        rows: &CacheRows,
        kept: Vec<Kept<'_>>,
        max_size: u64,
        collection: &mut Collection,
    ) {
        let protected_runs: HashSet<i64> = rows
            .runs
            .iter()
            .filter(|run| run.protected)
            .map(|run| run.run)
            .collect();
        let protected_keys: HashSet<&str> = rows
            .runs
            .iter()
            .filter(|run| run.protected)
            .flat_map(|run| run.keys.iter().map(String::as_str))
            .collect();
        let (protected, mut droppable): (Vec<_>, Vec<_>) =
            kept.into_iter().partition(|(entry, _)| {
                protected_keys.contains(entry.key.as_str())
                    || protected_runs.contains(&entry.producer_run)
            });
        droppable.sort_by(|(a, _), (b, _)| recency(a).cmp(&recency(b)));
        let contents = self.contents;
        for (entry, needs) in droppable {
            if collection.left_bytes <= max_size {
                break;
            }
            for digest in &needs {
                let count = self.needed.entry(digest.clone()).or_default();
                *count = count.saturating_sub(1);
                if *count > 0
                    || self.pinned.contains(digest)
                    || self.deleted.contains(digest.as_str())
                {
                    continue;
                }
                if let Some((name, object)) = contents.objects.get_key_value(digest)
                    && object.old
                {
                    self.deleted.insert(name);
                    collection.objects.push(object.path.clone());
                    collection.object_bytes += object.size;
                    collection.left_bytes -= object.size;
                }
            }
            collection.dropped.push(Dropped {
                entry: entry.clone(),
                why: Why::OverSize,
            });
        }
        if collection.left_bytes > max_size {
            let young: Vec<&StoredFile> = contents
                .objects
                .values()
                .chain(&contents.strays)
                .filter(|object| !object.old)
                .collect();
            collection.over = Some(Over {
                max_size,
                protected_entries: protected.len(),
                young_objects: young.len(),
                young_bytes: young.iter().map(|object| object.size).sum(),
            });
        }
    }
}

/// What deleting a collection's files did.
#[derive(Debug, Default)]
pub(crate) struct Swept {
    /// Files that could not be deleted, with why.
    pub failed: Vec<(PathBuf, io::Error)>,
}

/// Deletes the files `collection` names (its rows must be gone first),
/// then the shard directories of the store at `root` that are left empty.
/// A file already gone is no failure; one that cannot be deleted is
/// reported and the rest still go.
pub(crate) fn sweep(root: &Path, collection: &Collection) -> Swept {
    let mut swept = Swept::default();
    for path in collection.objects.iter().chain(&collection.temporary) {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => swept.failed.push((path.clone(), error)),
        }
    }
    remove_empty_dirs(&root.join("objects"));
    for dir in &collection.out_dirs {
        match fs::symlink_metadata(dir).and_then(|meta| super::store::remove_all(dir, &meta)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => swept.failed.push((dir.clone(), error)),
        }
    }
    swept
}

/// Removes the empty directories under `dir` (not `dir` itself), deepest
/// first. One that is not empty, or that cannot be removed, stays.
fn remove_empty_dirs(dir: &Path) {
    let Ok(listing) = listing(dir) else {
        return;
    };
    for (path, meta) in listing {
        if meta.is_dir() {
            remove_empty_dirs(&path);
            // Fails, harmlessly, when something is left in it.
            let _ = fs::remove_dir(&path);
        }
    }
}

/// `error` with what was being done to `path` in its message.
fn at(error: &io::Error, action: &str, path: &Path) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("{action} `{}`: {error}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread;

    use super::*;
    use crate::cache::store::Store;

    #[test]
    fn an_exclusive_lock_waits_while_a_shared_one_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let first = StoreLock::shared(&root).unwrap().unwrap();
        // Runs share the lock.
        let second = StoreLock::shared(&root).unwrap().unwrap();
        assert!(root.join(LOCK_FILE).is_file());
        let (sender, receiver) = mpsc::channel();
        let waiter = {
            let root = root.clone();
            let sender = sender.clone();
            thread::spawn(move || {
                let lock = StoreLock::exclusive(&root, || sender.send("waiting").unwrap())
                    .unwrap()
                    .unwrap();
                sender.send("locked").unwrap();
                lock
            })
        };
        assert_eq!(receiver.recv().unwrap(), "waiting");
        drop(first);
        assert!(
            receiver.recv_timeout(Duration::from_millis(100)).is_err(),
            "one shared lock is still held"
        );
        drop(second);
        assert_eq!(receiver.recv().unwrap(), "locked");
        let exclusive = waiter.join().unwrap();
        // A run now waits for the collection, and a second one for it.
        let run = {
            let root = root.clone();
            thread::spawn(move || {
                let lock = StoreLock::shared(&root).unwrap().unwrap();
                sender.send("run").unwrap();
                lock
            })
        };
        assert!(receiver.recv_timeout(Duration::from_millis(100)).is_err());
        drop(exclusive);
        assert_eq!(receiver.recv().unwrap(), "run");
        drop(run.join().unwrap());
    }

    #[test]
    fn an_exclusive_lock_that_is_free_does_not_wait() {
        let dir = tempfile::tempdir().unwrap();
        let lock = StoreLock::exclusive(dir.path(), || panic!("nothing holds it"));
        assert!(lock.unwrap().is_some());
    }

    const HOUR: u64 = 3600;

    /// A store with objects `contents` (all old), its trees and rows made
    /// by the caller.
    struct Fixture {
        _dir: tempfile::TempDir,
        root: PathBuf,
        store: Store,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("store");
            Fixture {
                store: Store::new(root.clone()),
                root,
                _dir: dir,
            }
        }

        /// Stores a tree of one file with `content`, and returns the
        /// tree's digest and the file's.
        fn tree(&self, content: &str) -> (Digest, Digest) {
            let work = tempfile::tempdir().unwrap();
            fs::write(work.path().join("out"), content).unwrap();
            let tree = self
                .store
                .put_tree(work.path(), &[PathBuf::from("out")], &[])
                .unwrap();
            let digest = self.store.put_bytes(tree.encode().as_bytes()).unwrap();
            (digest, hash::bytes(content.as_bytes()))
        }

        /// The contents, as if scanned `hours` hours after the objects
        /// were written.
        fn scan(&self, hours: u64) -> Contents {
            let later = SystemTime::now() + Duration::from_secs(hours * HOUR);
            Contents::scan(&self.root, &self.root.join("out"), later - GRACE).unwrap()
        }
    }

    fn entry(key: &str, task: &str, outputs: Option<&Digest>, run: i64, at: i64) -> EntryRow {
        EntryRow {
            out: None,
            key: key.to_owned(),
            task_name: task.to_owned(),
            outputs: outputs.cloned(),
            producer_run: run,
            created_at: at,
            last_hit_at: None,
        }
    }

    fn key(n: u8) -> Digest {
        hash::bytes(&[n])
    }

    fn policy(now: i64) -> Policy {
        Policy {
            max_age: Duration::ZERO,
            max_size: None,
            now,
        }
    }

    fn dropped_keys(collection: &Collection) -> Vec<(Digest, Why)> {
        collection
            .dropped
            .iter()
            .map(|dropped| (dropped.entry.key.clone(), dropped.why))
            .collect()
    }

    #[test]
    fn an_unused_entry_goes_with_the_objects_only_it_needs() {
        let fixture = Fixture::new();
        let (old_tree, old_file) = fixture.tree("old");
        let (new_tree, _) = fixture.tree("new");
        let rows = CacheRows {
            entries: vec![
                entry(&key(1), "b", Some(&old_tree), 1, 100),
                entry(&key(2), "b", Some(&new_tree), 2, 200),
            ],
            ..CacheRows::default()
        };
        let collection = plan(&rows, &fixture.scan(2), &policy(1000));
        assert_eq!(dropped_keys(&collection), [(key(1), Why::Unused)]);
        let mut expected = vec![
            fixture.store.object_path(&old_tree),
            fixture.store.object_path(&old_file),
        ];
        expected.sort();
        assert_eq!(collection.objects, expected);
        assert_eq!(collection.left_objects, 2);
        // Within the grace period, nothing goes but the row.
        let young = plan(&rows, &fixture.scan(0), &policy(1000));
        assert_eq!(dropped_keys(&young), [(key(1), Why::Unused)]);
        assert!(young.objects.is_empty());
    }

    #[test]
    fn recent_runs_young_entries_and_shared_objects_keep_what_they_need() {
        let fixture = Fixture::new();
        let (tree_a, _) = fixture.tree("same");
        let (tree_b, _) = fixture.tree("other");
        let rows = CacheRows {
            entries: vec![
                entry(&key(1), "a", Some(&tree_a), 1, 100),
                entry(&key(2), "a", Some(&tree_a), 2, 150),
                entry(&key(3), "a", Some(&tree_b), 3, 900),
                entry(&key(4), "a", None, 4, 200),
            ],
            runs: vec![RunUse {
                run: 9,
                recent: true,
                keys: vec![key(1)],
                ..RunUse::default()
            }],
            manifests: HashSet::new(),
        };
        let mut within = policy(1000);
        within.max_age = Duration::from_secs(500);
        let collection = plan(&rows, &fixture.scan(2), &within);
        // 1: used by a recent run; 3: used within --max-age, and newest.
        assert_eq!(
            dropped_keys(&collection),
            [(key(2), Why::Unused), (key(4), Why::Unused)]
        );
        // Entry 2's tree is entry 1's too.
        assert!(collection.objects.is_empty());
    }

    #[test]
    fn a_broken_entry_goes_and_strays_and_staging_files_are_swept() {
        let fixture = Fixture::new();
        let (tree, file) = fixture.tree("x");
        fs::remove_file(fixture.store.object_path(&file)).unwrap();
        let manifest = fixture.store.put_bytes(b"a key manifest").unwrap();
        fs::create_dir_all(fixture.root.join("tmp")).unwrap();
        fs::write(fixture.root.join("tmp/object-left"), "abc").unwrap();
        fs::write(fixture.root.join("objects/stray"), "zz").unwrap();
        let rows = CacheRows {
            entries: vec![entry(&key(1), "b", Some(&tree), 1, 100)],
            manifests: HashSet::from([manifest.clone()]),
            ..CacheRows::default()
        };
        let collection = plan(&rows, &fixture.scan(2), &policy(1000));
        assert_eq!(dropped_keys(&collection), [(key(1), Why::Broken)]);
        assert_eq!(collection.temporary, [fixture.root.join("tmp/object-left")]);
        assert_eq!(collection.temporary_bytes, 3);
        let mut expected = vec![
            fixture.store.object_path(&tree),
            fixture.root.join("objects/stray"),
        ];
        expected.sort();
        assert_eq!(collection.objects, expected);
        let swept = sweep(&fixture.root, &collection);
        assert!(swept.failed.is_empty());
        assert!(
            fixture.store.contains(&manifest),
            "a recorded row's manifest"
        );
        let left = fixture.scan(2);
        assert_eq!(left.objects.len(), 1);
        assert!(left.strays.is_empty() && left.temporary.is_empty());
        // No shard directory is left empty.
        let mut dirs = vec![fixture.root.join("objects")];
        while let Some(dir) = dirs.pop() {
            let listing = listing(&dir).unwrap();
            assert!(!listing.is_empty(), "`{}` is empty", dir.display());
            dirs.extend(
                listing
                    .into_iter()
                    .filter(|(_, meta)| meta.is_dir())
                    .map(|(path, _)| path),
            );
        }
    }

    #[test]
    fn over_the_size_the_least_recently_used_go_but_not_what_the_last_run_used() {
        let fixture = Fixture::new();
        let trees: Vec<(Digest, Digest)> = ["aaaa", "bbbb", "cccc"]
            .iter()
            .map(|content| fixture.tree(content))
            .collect();
        let mut rows = CacheRows {
            entries: vec![
                entry(&key(1), "a", Some(&trees[0].0), 1, 300),
                entry(&key(2), "b", Some(&trees[1].0), 1, 100),
                entry(&key(3), "c", Some(&trees[2].0), 1, 200),
            ],
            runs: vec![RunUse {
                run: 2,
                recent: true,
                protected: true,
                keys: vec![key(1), key(2), key(3)],
                ..RunUse::default()
            }],
            manifests: HashSet::new(),
        };
        rows.entries[0].last_hit_at = Some(400);
        let contents = fixture.scan(2);
        let all: u64 = contents.objects.values().map(|object| object.size).sum();
        let tree_size = contents.objects[&trees[0].0].size;
        let mut limited = policy(1000);
        limited.max_size = Some(all - 1);
        let protected = plan(&rows, &contents, &limited);
        assert!(protected.dropped.is_empty());
        assert_eq!(
            protected.over,
            Some(Over {
                max_size: all - 1,
                protected_entries: 3,
                young_objects: 0,
                young_bytes: 0
            })
        );
        rows.runs[0].protected = false;
        let collection = plan(&rows, &contents, &limited);
        // b was used least recently; dropping it is enough.
        assert_eq!(dropped_keys(&collection), [(key(2), Why::OverSize)]);
        assert_eq!(collection.object_bytes, tree_size + 4);
        assert_eq!(collection.over, None);
        limited.max_size = Some(0);
        let everything = plan(&rows, &contents, &limited);
        assert_eq!(everything.dropped.len(), 3);
        assert_eq!(everything.left_bytes, 0);
        assert_eq!(everything.left_objects, 0);
    }

    #[test]
    fn object_paths_name_their_digests() {
        let objects = Path::new("/s/objects");
        let digest = key(7);
        let path = Store::new(PathBuf::from("/s")).object_path(&digest);
        assert_eq!(digest_of(objects, &path), Some(digest));
        assert_eq!(digest_of(objects, Path::new("/s/objects/ab/cd")), None);
        assert_eq!(
            digest_of(objects, Path::new("/s/objects/not-a-digest")),
            None
        );
    }
}
