//! Output passing: every attempt of a task gets a fresh, empty directory
//! of its own, `$TASKRUN_OUT` (also `OUTPUT_DIR`, as seed 004's scripts
//! name it), under the store at `out/<run>/<task>/`; what a pass leaves
//! there is stored as an output tree, and its dependents find it through
//! `$TASKRUN_IN_<dep>`, `$TASKRUN_INPUTS`, `INPUT_DIR` and `INPUT_FILE`.
//!
//! A task that writes nothing there costs one `mkdir` and one `rmdir`: an
//! empty directory is removed when the attempt ends, and at the end of the
//! run ([`tidy`]) so are the run's directory, `out/` and the store, each
//! if nothing is left in it. What a failed attempt leaves stays in place
//! for a look, and is not stored.
//!
//! [`Passer`] is the executor decorator that does this for every job that
//! carries a [`Passing`]; the caching executor, which sits outside it,
//! restores a hit's tree into the same directory instead.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::gc::StoreLock;
use super::store::{Store, remove_all};
use super::tree::{EntryKind, OutputTree};
use super::{Digest, Handed};
use crate::event::{Exit, Stream};
use crate::execute::{Control, Executor, Job, Outcome};

/// The directory under the store that holds each run's output directories.
pub(crate) const OUT_DIR: &str = "out";

/// The variables output passing sets (or unsets) for a task.
pub(crate) const OUT_VAR: &str = "TASKRUN_OUT";
const INPUTS_VAR: &str = "TASKRUN_INPUTS";
const IN_PREFIX: &str = "TASKRUN_IN_";
const SEED_OUT: &str = "OUTPUT_DIR";
const SEED_DIR: &str = "INPUT_DIR";
const SEED_FILE: &str = "INPUT_FILE";

/// What one attempt that passed left in its `$TASKRUN_OUT` (never
/// nothing: an empty directory is removed and hands on nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Produced {
    /// The directory, absolute.
    pub dir: PathBuf,
    /// The digest of its output tree in the store; `None` when it could
    /// not be stored (the attempt's standard error says why), and then
    /// its dependents still get the directory, but nothing of it is kept.
    pub tree: Option<Digest>,
    /// How many regular files it holds, and their bytes together.
    pub files: usize,
    pub bytes: u64,
    /// Its one regular file, relative to `dir`, when it holds exactly one.
    pub only: Option<PathBuf>,
}

impl Produced {
    /// What `tree` (stored as `digest`) describes, in `dir`.
    pub(crate) fn of(dir: PathBuf, digest: Digest, tree: &OutputTree) -> Produced {
        let files: Vec<(&PathBuf, u64)> = tree
            .entries()
            .iter()
            .filter_map(|entry| match &entry.kind {
                EntryKind::File { size, .. } => Some((&entry.path, *size)),
                EntryKind::Symlink { .. } | EntryKind::Dir { .. } => None,
            })
            .collect();
        Produced {
            dir,
            tree: Some(digest),
            files: files.len(),
            bytes: files.iter().map(|(_, size)| size).sum(),
            only: match files.as_slice() {
                [(path, _)] => Some((*path).clone()),
                _ => None,
            },
        }
    }
}

/// What a job needs for output passing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Passing {
    /// Its own directory: `<store>/out/<run>/<task>`, absolute.
    pub out: PathBuf,
    /// Each dependency (hard, then soft, in the plan's order, then those a
    /// retry found satisfied) and what it left, if it passed and left
    /// something.
    pub given: Vec<(String, Option<Arc<Produced>>)>,
}

impl Passing {
    /// Sets what the dependency `name` left.
    pub(crate) fn set_given(&mut self, name: &str, produced: Option<Arc<Produced>>) {
        if let Some(dep) = self.given.iter_mut().find(|(dep, _)| dep == name) {
            dep.1 = produced;
        }
    }

    /// The variables to set and those to unset for the job: its own
    /// directory; each dependency that left something (in the order of
    /// their names, so a retry lists them as the run did); the
    /// single-case ones when they apply. Of the `inherited` ones (see
    /// [`inherited`]), what does not apply is unset, so that a taskrun run
    /// from a task does not hand its own on to its tasks.
    pub(crate) fn vars(&self) -> (Vec<(String, String)>, &'static [String]) {
        self.vars_with(inherited())
    }

    fn vars_with<'a>(&self, inherited: &'a [String]) -> (Vec<(String, String)>, &'a [String]) {
        let text = |path: &Path| path.to_string_lossy().into_owned();
        let out = text(&self.out);
        let mut set = vec![
            (OUT_VAR.to_owned(), out.clone()),
            (SEED_OUT.to_owned(), out),
        ];
        let mut given: Vec<&(String, Option<Arc<Produced>>)> = self.given.iter().collect();
        given.sort_by(|a, b| a.0.cmp(&b.0));
        let left: Vec<&Produced> = given
            .iter()
            .filter_map(|(name, produced)| {
                let produced = produced.as_deref()?;
                set.push((format!("{IN_PREFIX}{name}"), text(&produced.dir)));
                Some(produced)
            })
            .collect();
        let inputs: Vec<String> = left.iter().map(|produced| text(&produced.dir)).collect();
        set.push((INPUTS_VAR.to_owned(), inputs.join("\n")));
        if let ([_], [one]) = (self.given.as_slice(), left.as_slice()) {
            set.push((SEED_DIR.to_owned(), text(&one.dir)));
        }
        let files: usize = left.iter().map(|produced| produced.files).sum();
        let only = left
            .iter()
            .find_map(|produced| Some(produced.dir.join(produced.only.as_ref()?)));
        if let Some(file) = only.filter(|_| files == 1) {
            set.push((SEED_FILE.to_owned(), text(&file)));
        }
        // Set ones are set, whatever the order they are applied in.
        (set, inherited)
    }
}

/// The variables of taskrun's own environment that output passing unsets
/// for a task (`TASKRUN_IN_*`, `INPUT_DIR`, `INPUT_FILE`), before it sets
/// those that apply: read once, since they are usually none, so that a
/// task's spawn changes its inherited environment only where it must.
/// taskrun never changes its own environment.
fn inherited() -> &'static [String] {
    static INHERITED: OnceLock<Vec<String>> = OnceLock::new();
    INHERITED.get_or_init(|| {
        std::env::vars_os()
            .filter_map(|(name, _)| {
                let name = name.to_str()?;
                (name.starts_with(IN_PREFIX) || name == SEED_DIR || name == SEED_FILE)
                    .then(|| name.to_owned())
            })
            .collect()
    })
}

/// Makes `dir` a fresh, empty directory: whatever is there (an earlier
/// attempt's files, read-only directories too) is removed first, and the
/// directories above it are made if need be.
pub(crate) fn fresh(dir: &Path) -> io::Result<()> {
    // Another run may tidy the parents away meanwhile (each only when it
    // is empty): a parent that vanished is made again.
    for _ in 0..4 {
        match fs::create_dir(dir) {
            Ok(()) => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                match fs::symlink_metadata(dir) {
                    Ok(meta) => remove_all(dir, &meta)?,
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(error) => return Err(error),
                }
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = dir.parent() {
                    match fs::create_dir_all(parent) {
                        Err(error) if error.kind() != io::ErrorKind::NotFound => {
                            return Err(error);
                        }
                        _ => {}
                    }
                }
            }
            Err(error) => return Err(error),
        }
    }
    fs::create_dir(dir)
}

/// Whether the directory `dir` (not a symlink to one) holds nothing, and
/// if so its permission bits and owner. Asked of every task's directory
/// when it ends, so it reads the first entries into a buffer on the stack
/// with `getdents64(2)`, where `read_dir` would allocate (and free) the
/// 32 KiB buffer of `opendir(3)`.
fn emptiness(dir: &Path) -> io::Result<Option<(u32, u32)>> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // Room for `.`, `..` and one more entry of any name.
    let mut buffer = [0u8; 1024];
    loop {
        // SAFETY: the kernel writes at most `buffer.len()` bytes into it.
        let read = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd.as_raw_fd(),
                buffer.as_mut_ptr(),
                buffer.len(),
            )
        };
        let read = usize::try_from(read).map_err(|_| io::Error::last_os_error())?;
        if read == 0 {
            let meta = std::fs::File::from(fd).metadata()?;
            return Ok(Some((meta.mode() & 0o7777, meta.uid())));
        }
        // Each record: inode (8 bytes), offset (8), length (2), type (1),
        // then the name, NUL-terminated.
        let mut at = 0;
        while at + 19 < read {
            let length = usize::from(u16::from_ne_bytes([buffer[at + 16], buffer[at + 17]]));
            let name = &buffer[at + 19..(at + length).min(read)];
            let name = name.split(|byte| *byte == 0).next().unwrap_or_default();
            if name != b"." && name != b".." {
                return Ok(None);
            }
            if length == 0 {
                break;
            }
            at += length;
        }
    }
}

/// The top-level entries of `dir`, as [`Store::put_tree`] takes them:
/// plain files and symlinks, and directories (walked whole).
fn survey(dir: &Path) -> io::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = PathBuf::from(entry.file_name());
        if entry.file_type()?.is_dir() {
            dirs.push(name);
        } else {
            files.push(name);
        }
    }
    Ok((files, dirs))
}

/// How many regular files are under `dir` (symlinks not followed), their
/// bytes together, and the one file, relative to `dir`, when there is
/// exactly one; what cannot be read counts nothing.
fn regular_files(dir: &Path) -> (usize, u64, Option<PathBuf>) {
    let (mut count, mut bytes, mut first) = (0, 0, None);
    let mut pending = vec![dir.to_owned()];
    while let Some(at) = pending.pop() {
        let Ok(entries) = fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(entry.path()),
                Ok(kind) if kind.is_file() => {
                    count += 1;
                    bytes += entry.metadata().map_or(0, |meta| meta.len());
                    first.get_or_insert_with(|| entry.path());
                }
                _ => {}
            }
        }
    }
    let only = first
        .filter(|_| count == 1)
        .and_then(|path| Some(path.strip_prefix(dir).ok()?.to_owned()));
    (count, bytes, only)
}

/// What an attempt left in its `$TASKRUN_OUT`, once it ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Left {
    /// Nothing: the directory is empty, with these permission bits and
    /// owner (if they are a fresh directory's, it can be the next task's).
    Nothing { mode: u32, owner: u32 },
    /// Nothing to hand on: the directory is gone, or the attempt failed
    /// (its files stay for a look).
    Kept,
    /// A pass's files, and why they were not stored, when they were not.
    Passed(Produced, Option<String>),
}

/// What an attempt left in `dir` once it ended: for a pass, what it left,
/// stored in `store` if it takes at most `max` bytes (`hold` is called
/// before the first object is written).
pub(crate) fn finish(store: &Store, dir: &Path, passed: bool, max: u64, hold: &dyn Fn()) -> Left {
    match emptiness(dir) {
        Ok(Some((mode, owner))) => return Left::Nothing { mode, owner },
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Left::Kept,
        _ if !passed => return Left::Kept,
        _ => {}
    }
    let unstored = |problem: String| {
        let (files, bytes, only) = regular_files(dir);
        let produced = Produced {
            dir: dir.to_owned(),
            tree: None,
            files,
            bytes,
            only,
        };
        Left::Passed(produced, Some(problem))
    };
    let (files, dirs) = match survey(dir) {
        Ok(found) => found,
        Err(error) => return unstored(format!("cannot list `{}`: {error}", dir.display())),
    };
    let size = super::executor::size_of(dir, &files, &dirs);
    if size > max {
        return unstored(format!(
            "it left {size} bytes in $TASKRUN_OUT, over --cache-max-output {max}"
        ));
    }
    hold();
    let stored = store.put_tree(dir, &files, &dirs).and_then(|tree| {
        let digest = store.put_bytes(tree.encode().as_bytes())?;
        Ok(Produced::of(dir.to_owned(), digest, &tree))
    });
    match stored {
        Ok(produced) => Left::Passed(produced, None),
        Err(error) => unstored(format!(
            "cannot store what it left in $TASKRUN_OUT: {error}"
        )),
    }
}

/// Restores the output tree `digest` into `dir`, made fresh first: what a
/// hit, or a dependency a retry found satisfied, left.
pub(crate) fn restore(store: &Store, dir: &Path, digest: &Digest) -> Result<Produced, String> {
    let tree = super::executor::read_tree(store, digest, "$TASKRUN_OUT")?;
    fresh(dir).map_err(|error| format!("cannot make `{}`: {error}", dir.display()))?;
    store
        .restore_tree(dir, &tree, &|_, _| None)
        .map_err(|error| super::executor::restore_problem(&error, "$TASKRUN_OUT"))?;
    Ok(Produced::of(dir.to_owned(), digest.clone(), &tree))
}

/// A dependency that the run a retry retries satisfied: what it handed
/// on for its dependents' keys, and the tree of what it left in its
/// `$TASKRUN_OUT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Earlier {
    pub name: String,
    /// The run it passed in, for messages.
    pub run: i64,
    pub value: Option<String>,
    pub tree: Option<Digest>,
}

/// What `earlier` hands on in the run whose directory is `run_dir`: the
/// tree it left restored into its directory there. Why not, when the
/// tree cannot be restored.
pub(crate) fn materialise(
    store: &Store,
    run_dir: &Path,
    earlier: &Earlier,
) -> Result<Handed, String> {
    let out = match &earlier.tree {
        Some(tree) => {
            let dir = dir_of(run_dir, &earlier.name);
            let produced = restore(store, &dir, tree).map_err(|why| {
                format!(
                    "cannot restore what {} left in $TASKRUN_OUT in run #{}: {why}",
                    earlier.name, earlier.run
                )
            })?;
            Some(Arc::new(produced))
        }
        None => None,
    };
    Ok(Handed {
        value: earlier.value.clone(),
        out,
    })
}

/// Where the task `name` of the run whose directory is `run_dir` has its
/// `$TASKRUN_OUT`.
pub(crate) fn dir_of(run_dir: &Path, name: &str) -> PathBuf {
    run_dir.join(name)
}

/// The empty directories tasks of a run left, each to become a later
/// task's `$TASKRUN_OUT`: renaming one is a fraction of the cost of
/// removing it and making another.
#[derive(Debug, Default)]
pub(crate) struct Blanks(Mutex<Vec<PathBuf>>);

impl Blanks {
    fn take(&self) -> Option<PathBuf> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).pop()
    }

    /// A blank for `dir`: `dir` itself when it is one (a failed attempt
    /// that left nothing, whose task runs again), else any.
    fn take_for(&self, dir: &Path) -> Option<PathBuf> {
        let mut blanks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match blanks.iter().position(|blank| blank == dir) {
            Some(at) => Some(blanks.swap_remove(at)),
            None => blanks.pop(),
        }
    }

    fn give(&self, dir: PathBuf) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(dir);
    }
}

/// At the end of a run: removes the empty directories in `blanks`, then
/// the run's directory `run_dir` and each directory above it up to
/// `top` (`top` too), each only if it is empty, so that a run whose
/// tasks left nothing leaves nothing.
pub(crate) fn tidy(run_dir: &Path, top: &Path, blanks: &Blanks) {
    while let Some(blank) = blanks.take() {
        let _ = fs::remove_dir(blank);
    }
    let mut at = Some(run_dir);
    while let Some(dir) = at {
        if !dir.starts_with(top) || fs::remove_dir(dir).is_err() {
            break;
        }
        at = dir.parent();
    }
}

/// The executor decorator that gives each job with a [`Passing`] its
/// fresh `$TASKRUN_OUT` and its dependencies' directories, and stores
/// what a pass left.
pub(crate) struct Passer {
    inner: Arc<dyn Executor>,
    store: Store,
    /// The most a pass may leave, in bytes, to be stored
    /// (`--cache-max-output`).
    max: u64,
    blanks: Arc<Blanks>,
    /// The permission bits and owner of a fresh directory: only an empty
    /// one that still has them is given to another task.
    usual: OnceLock<(u32, u32)>,
    /// The store's lock, taken shared before the first object is written
    /// and held until the run's executor is dropped, after its recorder
    /// has committed the rows that name them.
    lock: OnceLock<Option<StoreLock>>,
}

impl Passer {
    pub(crate) fn new(
        inner: Arc<dyn Executor>,
        store: &Path,
        max: u64,
        blanks: Arc<Blanks>,
    ) -> Passer {
        Passer {
            inner,
            store: Store::new(store.to_owned()),
            max,
            blanks,
            usual: OnceLock::new(),
            lock: OnceLock::new(),
        }
    }

    /// Takes the store's lock, once.
    fn hold(&self) {
        self.lock
            .get_or_init(|| StoreLock::shared(self.store.root()).ok().flatten());
    }

    /// Makes `dir` fresh and empty: an empty directory an earlier task
    /// left, renamed, or else [`fresh`].
    fn make(&self, dir: &Path) -> io::Result<()> {
        if let Some(blank) = self.blanks.take_for(dir) {
            // It was empty when its task ended; a process that task left
            // behind that writes to it by its path writes nowhere now.
            if blank == dir || fs::rename(&blank, dir).is_ok() {
                return Ok(());
            }
            let _ = fs::remove_dir(&blank);
        }
        fresh(dir)?;
        if self.usual.get().is_none()
            && let Ok(meta) = fs::symlink_metadata(dir)
        {
            let _ = self.usual.set((meta.mode() & 0o7777, meta.uid()));
        }
        Ok(())
    }
}

impl Executor for Passer {
    fn execute(
        &self,
        job: &Job,
        control: &Control,
        output: &mut dyn FnMut(Stream, &[u8]),
    ) -> Outcome {
        let Some(passing) = &job.passing else {
            return self.inner.execute(job, control, output);
        };
        if let Err(error) = self.make(&passing.out) {
            // The task runs as it would without output passing, and says
            // why it has no directory.
            let without = Job {
                passing: None,
                ..job.clone()
            };
            let mut outcome = self.inner.execute(&without, control, output);
            let line = format!(
                "taskrun: no $TASKRUN_OUT: cannot make `{}`: {error}\n",
                passing.out.display()
            );
            outcome.stderr.push(line.as_bytes(), job.max_output);
            output(Stream::Stderr, line.as_bytes());
            return outcome;
        }
        let mut outcome = self.inner.execute(job, control, output);
        let passed = matches!(outcome.exit, Exit::Code(0)) && !outcome.timed_out;
        let hold = || self.hold();
        match finish(&self.store, &passing.out, passed, self.max, &hold) {
            Left::Nothing { mode, owner } if self.usual.get() == Some(&(mode, owner)) => {
                self.blanks.give(passing.out.clone());
            }
            // Its mode or owner changed: the next task gets a new one.
            Left::Nothing { .. } => {
                let _ = fs::remove_dir(&passing.out);
            }
            Left::Kept => {}
            Left::Passed(produced, problem) => {
                if let Some(problem) = problem {
                    let line = format!("taskrun: not stored: {problem}\n");
                    outcome.stderr.push(line.as_bytes(), job.max_output);
                    output(Stream::Stderr, line.as_bytes());
                }
                outcome.out = Some(Arc::new(produced));
            }
        }
        outcome
    }

    fn interrupted(&self) {
        self.inner.interrupted();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produced(dir: &str, files: usize, only: Option<&str>) -> Arc<Produced> {
        Arc::new(Produced {
            dir: PathBuf::from(dir),
            tree: Some("t".repeat(64)),
            files,
            bytes: 1,
            only: only.map(PathBuf::from),
        })
    }

    fn value<'a>(set: &'a [(String, String)], name: &str) -> Option<&'a str> {
        set.iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    #[test]
    fn one_dependency_with_one_file_gets_every_variable() {
        let passing = Passing {
            out: PathBuf::from("/s/out/7/count"),
            given: vec![(
                "fetch".to_owned(),
                Some(produced("/s/out/7/fetch", 1, Some("data.txt"))),
            )],
        };
        let (set, unset) = passing.vars_with(&[]);
        assert_eq!(value(&set, "TASKRUN_OUT"), Some("/s/out/7/count"));
        assert_eq!(value(&set, "OUTPUT_DIR"), Some("/s/out/7/count"));
        assert_eq!(value(&set, "TASKRUN_IN_fetch"), Some("/s/out/7/fetch"));
        assert_eq!(value(&set, "TASKRUN_INPUTS"), Some("/s/out/7/fetch"));
        assert_eq!(value(&set, "INPUT_DIR"), Some("/s/out/7/fetch"));
        assert_eq!(value(&set, "INPUT_FILE"), Some("/s/out/7/fetch/data.txt"));
        assert!(unset.is_empty(), "nothing inherited to unset");
    }

    #[test]
    fn the_single_case_variables_are_unset_when_they_do_not_apply() {
        let passing = Passing {
            out: PathBuf::from("/o/r"),
            given: vec![
                ("c".to_owned(), Some(produced("/o/c", 3, None))),
                ("b".to_owned(), None),
                ("a".to_owned(), Some(produced("/o/a", 2, None))),
            ],
        };
        let inherited = ["INPUT_DIR", "INPUT_FILE", "TASKRUN_IN_zz"].map(str::to_owned);
        let (set, unset) = passing.vars_with(&inherited);
        assert_eq!(
            value(&set, "TASKRUN_INPUTS"),
            Some("/o/a\n/o/c"),
            "in the order of the dependencies' names"
        );
        assert!(unset.contains(&"TASKRUN_IN_zz".to_owned()), "inherited");
        assert_eq!(value(&set, "TASKRUN_IN_b"), None, "b left nothing");
        assert!(unset.contains(&"INPUT_DIR".to_owned()));
        assert!(unset.contains(&"INPUT_FILE".to_owned()));
        // Two dependencies, one file between them: INPUT_FILE, no INPUT_DIR.
        let passing = Passing {
            out: PathBuf::from("/o/r"),
            given: vec![
                ("a".to_owned(), Some(produced("/o/a", 1, Some("x")))),
                ("b".to_owned(), None),
            ],
        };
        let (set, unset) = passing.vars_with(&inherited);
        assert_eq!(value(&set, "INPUT_FILE"), Some("/o/a/x"));
        assert_eq!(unset, inherited, "unset first, then set: INPUT_FILE is set");
        // No dependencies: an empty list.
        let (set, unset) = Passing {
            out: PathBuf::from("/o/r"),
            given: Vec::new(),
        }
        .vars_with(&[]);
        assert_eq!(value(&set, "TASKRUN_INPUTS"), Some(""));
        assert!(unset.is_empty(), "nothing inherited, nothing to unset");
    }

    #[test]
    fn emptiness_is_read_from_the_first_entries() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("d");
        fs::create_dir(&dir).unwrap();
        let meta = fs::metadata(&dir).unwrap();
        assert_eq!(
            emptiness(&dir).unwrap(),
            Some((meta.mode() & 0o7777, meta.uid()))
        );
        fs::write(dir.join("x".repeat(250)), "").unwrap();
        assert_eq!(emptiness(&dir).unwrap(), None, "a long name");
        fs::remove_file(dir.join("x".repeat(250))).unwrap();
        fs::create_dir(dir.join("sub")).unwrap();
        assert_eq!(emptiness(&dir).unwrap(), None, "a directory");
        assert!(emptiness(&root.path().join("missing")).is_err());
        assert!(emptiness(&dir.join("sub")).unwrap().is_some());
        fs::write(root.path().join("file"), "").unwrap();
        assert!(
            emptiness(&root.path().join("file")).is_err(),
            "not a directory"
        );
        std::os::unix::fs::symlink(dir.join("sub"), root.path().join("link")).unwrap();
        assert!(
            emptiness(&root.path().join("link")).is_err(),
            "a symlink is not followed"
        );
    }

    #[test]
    fn a_fresh_directory_is_empty_whatever_was_there() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out/3/t");
        fresh(&dir).unwrap();
        assert!(dir.is_dir(), "the parents are made");
        fs::create_dir(dir.join("ro")).unwrap();
        fs::write(dir.join("ro/f"), "x").unwrap();
        fs::set_permissions(
            dir.join("ro"),
            std::os::unix::fs::PermissionsExt::from_mode(0o500),
        )
        .unwrap();
        fresh(&dir).unwrap();
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
    }

    #[test]
    fn an_empty_directory_leaves_nothing_and_a_pass_is_stored() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path().join("store"));
        let run = root.path().join("store/out/1");
        let dir = dir_of(&run, "t");
        fresh(&dir).unwrap();
        assert!(matches!(
            finish(&store, &dir, true, u64::MAX, &|| {}),
            Left::Nothing { .. }
        ));
        fs::create_dir(dir.join("sub")).unwrap();
        fs::write(dir.join("sub/a.txt"), "hello").unwrap();
        let Left::Passed(produced, None) = finish(&store, &dir, true, u64::MAX, &|| {}) else {
            panic!("stored");
        };
        assert_eq!((produced.files, produced.bytes), (1, 5));
        assert_eq!(produced.only, Some(PathBuf::from("sub/a.txt")));
        // Restored elsewhere, it is the same.
        let copy = root.path().join("copy");
        let again = restore(&store, &copy, produced.tree.as_ref().unwrap()).unwrap();
        assert_eq!(fs::read_to_string(copy.join("sub/a.txt")).unwrap(), "hello");
        assert_eq!(again.tree, produced.tree);
        // Too big: handed on, not stored.
        let Left::Passed(produced, Some(problem)) = finish(&store, &dir, true, 2, &|| {}) else {
            panic!("not stored");
        };
        assert!(produced.tree.is_none());
        assert_eq!((produced.files, produced.bytes), (1, 5), "still counted");
        assert!(problem.contains("over --cache-max-output 2"), "{problem}");
        // A failure keeps its files and hands nothing on.
        assert_eq!(finish(&store, &dir, false, u64::MAX, &|| {}), Left::Kept);
        assert!(dir.join("sub/a.txt").exists());
        fs::remove_dir_all(&dir).unwrap();
        // What is left empty goes at the end, up to the top given.
        let blanks = Blanks::default();
        fresh(&dir).unwrap();
        blanks.give(dir.clone());
        tidy(&run, &root.path().join("store/out"), &blanks);
        assert!(!root.path().join("store/out").exists());
        assert!(root.path().join("store").exists(), "above the top stays");
    }
}
