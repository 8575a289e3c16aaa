//! The content-addressed object store: file contents, manifests and
//! captured output, each stored once under its SHA-256, and the storing
//! and restoring of a task's output trees (see `tree`).
//!
//! Layout, under the store's root (`.taskrun/` beside the database, or
//! `--store DIR`): `objects/ab/cd/<remaining 60 hex>` holds raw bytes with
//! no header, mode 0444, so restore can reflink an object and a user can
//! check one with `sha256sum`; `tmp/` is the staging directory on the same
//! filesystem, from which finished objects are renamed into place.
//!
//! Objects are not fsynced. Every read and every restore verifies the hash
//! instead, and a corrupt object is deleted, so a crash costs a miss, never
//! a wrong hit. Opening a store creates nothing: directories are made on
//! the first write, so `--dry-run` and `show --why` leave the disk alone.
//! This module never touches the history database, and never hardlinks an
//! object out of the store, since a user editing a restored file would
//! then edit the store.

use std::collections::HashSet;
use std::fs::{self, File, Metadata, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};

use tempfile::NamedTempFile;

use super::tree::{Entry, EntryKind, MODE_BITS, OutputTree};
use super::{Digest, hash};

/// The mode of every object: read-only for everyone, so that nothing opens
/// one for writing by accident.
const OBJECT_MODE: u32 = 0o444;

/// The content-addressed object store rooted at one directory.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    root: PathBuf,
}

/// Why an object could not be read or restored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ObjectError {
    /// The store does not hold the object (or the digest is not one).
    #[error("object {digest} is not in the store (expected at `{}`)", path.display())]
    Missing {
        /// The digest asked for.
        digest: Digest,
        /// Where the object would be.
        path: PathBuf,
    },
    /// The object's content does not hash to its name. It has been
    /// deleted, so the task runs and the next store writes it again.
    #[error(
        "object {digest} at `{}` was corrupt (its content hashes to {actual}) and has been deleted; the task runs instead",
        path.display()
    )]
    Corrupt {
        /// The digest asked for.
        digest: Digest,
        /// Where the object was.
        path: PathBuf,
        /// What its content hashed to.
        actual: Digest,
    },
    /// Reading the object or writing where it was to be restored failed.
    #[error("cannot {action} `{}`", path.display())]
    Io {
        /// What was being done, as a verb phrase (`read object`,
        /// `restore output`).
        action: &'static str,
        /// The path it was being done to.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}

/// What [`Store::restore_tree`] did with the tree's regular files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Restored {
    /// Files written from the store.
    pub written: usize,
    /// Files left alone because the caller vouched that their content
    /// already matched.
    pub kept: usize,
}

impl Store {
    /// The store rooted at `root`. Nothing is created until the first
    /// write.
    pub(crate) fn new(root: PathBuf) -> Store {
        Store { root }
    }

    /// The directory the store lives in.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Where the object named `digest` lives (whether or not it exists).
    /// A string that is not a digest maps to one path that no object ever
    /// has, so it can never reach outside the store.
    pub(crate) fn object_path(&self, digest: &Digest) -> PathBuf {
        let objects = self.root.join("objects");
        if hash::is_digest(digest) {
            objects
                .join(&digest[..2])
                .join(&digest[2..4])
                .join(&digest[4..])
        } else {
            objects.join("not-a-digest")
        }
    }

    /// Stores the content of the file at `path` (following a symlink) and
    /// returns its digest and size. The file is read once: it is copied
    /// into the staging directory while being hashed (or reflinked, and
    /// the clone hashed), so the object is exactly what was hashed even if
    /// the file changes meanwhile.
    pub(crate) fn put_file(&self, path: &Path) -> io::Result<(Digest, u64)> {
        let mut source = File::open(path).map_err(|error| at(&error, "cannot open", path))?;
        let mut staged = self.staging()?;
        let (digest, size) = clone_or_copy(&mut source, staged.as_file_mut())
            .map_err(|error| at(&error, "cannot copy into the store", path))?;
        self.commit(staged, &digest, size)?;
        Ok((digest, size))
    }

    /// Stores `bytes` (a manifest, captured output) and returns their
    /// digest. Nothing is written if the object is already there.
    pub(crate) fn put_bytes(&self, bytes: &[u8]) -> io::Result<Digest> {
        let digest = hash::bytes(bytes);
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if self.holds(&digest, size) {
            return Ok(digest);
        }
        let mut staged = self.staging()?;
        staged
            .write_all(bytes)
            .map_err(|error| at(&error, "cannot write", staged.path()))?;
        self.commit(staged, &digest, size)?;
        Ok(digest)
    }

    /// Whether the object named `digest` is in the store (a stat; its
    /// content is checked only when it is read).
    pub(crate) fn contains(&self, digest: &Digest) -> bool {
        fs::metadata(self.object_path(digest)).is_ok_and(|meta| meta.is_file())
    }

    /// The content of the object named `digest`, verified against the
    /// digest. A corrupt object is deleted.
    pub(crate) fn read(&self, digest: &Digest) -> Result<Vec<u8>, ObjectError> {
        self.read_or_keep(digest, true)
    }

    /// As [`Store::read`], but a damaged object is left where it is: for
    /// what only looks (`--dry-run`, `show`, `cat`), which changes nothing.
    pub(crate) fn peek(&self, digest: &Digest) -> Result<Vec<u8>, ObjectError> {
        self.read_or_keep(digest, false)
    }

    fn read_or_keep(&self, digest: &Digest, discard: bool) -> Result<Vec<u8>, ObjectError> {
        let path = self.object_path(digest);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(ObjectError::Missing {
                    digest: digest.clone(),
                    path,
                });
            }
            Err(source) => {
                return Err(ObjectError::Io {
                    action: "read object",
                    path,
                    source,
                });
            }
        };
        let actual = hash::bytes(&bytes);
        if actual == *digest {
            Ok(bytes)
        } else if discard {
            Err(discard_corrupt(digest, path, actual))
        } else {
            Err(ObjectError::Corrupt {
                digest: digest.clone(),
                path,
                actual,
            })
        }
    }

    /// Writes the object named `digest` to `dest` with permission bits
    /// `mode`, by reflink where the filesystem can and by copy otherwise,
    /// verifying the hash on the way. The content goes to a temporary file
    /// beside `dest` (parent directories are made), which is renamed onto
    /// `dest`, replacing a file or symlink there; a directory there is
    /// removed first. On a hash mismatch the object is deleted, `dest` is
    /// left as it was, and the error is [`ObjectError::Corrupt`].
    pub(crate) fn restore_file(
        &self,
        digest: &Digest,
        dest: &Path,
        mode: u32,
    ) -> Result<(), ObjectError> {
        let object_path = self.object_path(digest);
        let mut object = match File::open(&object_path) {
            Ok(object) => object,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(ObjectError::Missing {
                    digest: digest.clone(),
                    path: object_path,
                });
            }
            Err(source) => {
                return Err(ObjectError::Io {
                    action: "read object",
                    path: object_path,
                    source,
                });
            }
        };
        let restore_error = |source| ObjectError::Io {
            action: "restore output",
            path: dest.to_owned(),
            source,
        };
        let parent = match dest.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        fs::create_dir_all(parent).map_err(restore_error)?;
        let mut staged = tempfile::Builder::new()
            .prefix(".taskrun-restore-")
            .tempfile_in(parent)
            .map_err(restore_error)?;
        let (actual, _) =
            clone_or_copy(&mut object, staged.as_file_mut()).map_err(restore_error)?;
        if actual != *digest {
            // Dropping `staged` removes the temporary file.
            return Err(discard_corrupt(digest, object_path, actual));
        }
        staged
            .as_file()
            .set_permissions(Permissions::from_mode(mode & MODE_BITS))
            .map_err(restore_error)?;
        if let Ok(meta) = fs::symlink_metadata(dest)
            && meta.is_dir()
        {
            remove_all(dest, &meta).map_err(restore_error)?;
        }
        staged
            .persist(dest)
            .map_err(|error| restore_error(error.error))?;
        Ok(())
    }

    /// Stores what a task made in `base`: the paths `files` (relative to
    /// `base`, each a regular file, a symlink, which is recorded and not
    /// followed, or a directory, recorded without its content), and the
    /// declared `dir/` outputs `dirs`, walked whole (symlinks inside are
    /// recorded as links, directories inside as directories, empty ones
    /// too). Every regular file becomes an object. A fifo, socket or
    /// device is an error naming it, and so is an output reached through
    /// a symlinked directory, since restore would not write through it.
    pub(crate) fn put_tree(
        &self,
        base: &Path,
        files: &[PathBuf],
        dirs: &[PathBuf],
    ) -> io::Result<OutputTree> {
        let mut entries = Vec::new();
        let mut seen = HashSet::new();
        let mut real_dirs = HashSet::new();
        let mut roots = Vec::new();
        for dir in dirs {
            let root = plain(dir)?;
            check_ancestors(base, &root, &mut real_dirs)?;
            let abs = base.join(&root);
            let meta = fs::symlink_metadata(&abs)
                .map_err(|error| at(&error, "cannot read output", &abs))?;
            if !meta.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the declared output directory `{}/` is a {}, not a directory; make the task create a directory there or declare it without the `/`",
                        root.display(),
                        kind_name(&meta)
                    ),
                ));
            }
            // Walk with an explicit stack, so a deep tree cannot exhaust
            // the thread's stack.
            let mut pending = vec![(root.clone(), meta)];
            while let Some((rel, meta)) = pending.pop() {
                if !seen.insert(rel.clone()) {
                    continue;
                }
                let abs = base.join(&rel);
                let entry = self.entry(&abs, rel.clone(), &meta)?;
                if matches!(entry.kind, EntryKind::Dir { .. }) {
                    let listing =
                        fs::read_dir(&abs).map_err(|error| at(&error, "cannot list", &abs))?;
                    for child in listing {
                        let child = child.map_err(|error| at(&error, "cannot list", &abs))?;
                        let child_rel = rel.join(child.file_name());
                        // `DirEntry::metadata` does not follow symlinks.
                        let child_meta = child
                            .metadata()
                            .map_err(|error| at(&error, "cannot read output", &child.path()))?;
                        pending.push((child_rel, child_meta));
                    }
                }
                entries.push(entry);
            }
            real_dirs.insert(root.clone());
            roots.push(root);
        }
        for file in files {
            let rel = plain(file)?;
            if seen.contains(&rel) {
                continue;
            }
            check_ancestors(base, &rel, &mut real_dirs)?;
            let abs = base.join(&rel);
            let meta = fs::symlink_metadata(&abs)
                .map_err(|error| at(&error, "cannot read output", &abs))?;
            entries.push(self.entry(&abs, rel.clone(), &meta)?);
            seen.insert(rel);
        }
        OutputTree::from_parts(entries, roots)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error.to_string()))
    }

    /// Brings `base` to the state `tree` describes. Every object must be
    /// present with its size, or nothing is touched and the error is
    /// [`ObjectError::Missing`] (or [`ObjectError::Corrupt`] for an object
    /// of the wrong size, which is deleted). A corrupt object found while
    /// restoring stops the restore part way; the caller then runs the
    /// task, which rewrites its outputs. Under each root, whatever the tree does
    /// not list is removed. Directories are made; each file whose size and
    /// mode match and whose content `known` vouches for (by returning its
    /// digest for the path and its metadata) is kept, every other file is
    /// restored with [`restore_file`](Self::restore_file); symlinks are
    /// made when missing or different, never followed. Whatever stands
    /// where the tree wants something of another kind, or where it wants a
    /// directory on the way to an entry, is replaced: restore never writes
    /// through a symlink.
    pub(crate) fn restore_tree(
        &self,
        base: &Path,
        tree: &OutputTree,
        known: &dyn Fn(&Path, &Metadata) -> Option<Digest>,
    ) -> Result<Restored, ObjectError> {
        for entry in tree.entries() {
            if let EntryKind::File { digest, size, .. } = &entry.kind {
                self.check_object(digest, *size)?;
            }
        }
        let restore_error = |path: &Path| {
            let path = path.to_owned();
            move |source| ObjectError::Io {
                action: "restore output",
                path,
                source,
            }
        };
        let mut real_dirs = HashSet::new();
        for root in tree.roots() {
            make_ancestors(base, root, &mut real_dirs).map_err(restore_error(&base.join(root)))?;
            prune(base, root, tree).map_err(restore_error(&base.join(root)))?;
        }
        let mut restored = Restored::default();
        for entry in tree.entries() {
            let abs = base.join(&entry.path);
            make_ancestors(base, &entry.path, &mut real_dirs).map_err(restore_error(&abs))?;
            let on_disk = lstat(&abs).map_err(restore_error(&abs))?;
            match &entry.kind {
                EntryKind::Dir { mode } => {
                    make_dir(&abs, on_disk.as_ref(), *mode).map_err(restore_error(&abs))?;
                    real_dirs.insert(entry.path.clone());
                }
                EntryKind::File { digest, size, mode } => {
                    let same = on_disk.as_ref().is_some_and(|meta| {
                        meta.is_file()
                            && meta.len() == *size
                            && meta.mode() & MODE_BITS == *mode
                            && known(&abs, meta).as_ref() == Some(digest)
                    });
                    if same {
                        restored.kept += 1;
                    } else {
                        self.restore_file(digest, &abs, *mode)?;
                        restored.written += 1;
                    }
                }
                EntryKind::Symlink { target } => {
                    make_symlink(&abs, on_disk.as_ref(), target).map_err(restore_error(&abs))?;
                }
            }
        }
        // Directories were kept writable while their content was restored;
        // now they get their recorded modes, deepest first.
        for entry in tree.entries().iter().rev() {
            if let EntryKind::Dir { mode } = entry.kind {
                let abs = base.join(&entry.path);
                fs::set_permissions(&abs, Permissions::from_mode(mode))
                    .map_err(restore_error(&abs))?;
            }
        }
        Ok(restored)
    }

    /// Checks, by a stat, that the object named `digest` is there with
    /// `size` bytes. One of another size is hashed: if it is corrupt, as
    /// it nearly always is, it is deleted and reported before anything is
    /// restored.
    fn check_object(&self, digest: &Digest, size: u64) -> Result<(), ObjectError> {
        let path = self.object_path(digest);
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() && meta.len() == size => Ok(()),
            Ok(meta) if meta.is_file() => {
                // An object that cannot be read is as good as corrupt.
                let actual = hash::file(&path)
                    .map(|(actual, _)| actual)
                    .unwrap_or_default();
                if actual == *digest {
                    // The object is sound and the tree's size is wrong;
                    // restore writes what the object holds.
                    Ok(())
                } else {
                    Err(discard_corrupt(digest, path, actual))
                }
            }
            _ => Err(ObjectError::Missing {
                digest: digest.clone(),
                path,
            }),
        }
    }

    /// The tree entry for the output at `abs` (relative path `rel`) with
    /// metadata `meta` (not following symlinks), storing a regular file.
    fn entry(&self, abs: &Path, rel: PathBuf, meta: &Metadata) -> io::Result<Entry> {
        let file_type = meta.file_type();
        let kind = if file_type.is_symlink() {
            EntryKind::Symlink {
                target: fs::read_link(abs).map_err(|error| at(&error, "cannot read link", abs))?,
            }
        } else if file_type.is_file() {
            let (digest, size) = self.put_file(abs)?;
            EntryKind::File {
                digest,
                size,
                mode: meta.mode() & MODE_BITS,
            }
        } else if file_type.is_dir() {
            EntryKind::Dir {
                mode: meta.mode() & MODE_BITS,
            }
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the output `{}` is a {}, which the store cannot hold; make the task write a regular file there, or leave it out of the outputs",
                    rel.display(),
                    kind_name(meta)
                ),
            ));
        };
        Ok(Entry { path: rel, kind })
    }

    /// A new, uniquely named temporary file in the staging directory,
    /// which is made if need be. It removes itself unless committed.
    fn staging(&self) -> io::Result<NamedTempFile> {
        let tmp = self.root.join("tmp");
        fs::create_dir_all(&tmp).map_err(|error| at(&error, "cannot create", &tmp))?;
        tempfile::Builder::new()
            .prefix("object-")
            .tempfile_in(&tmp)
            .map_err(|error| at(&error, "cannot create a temporary file in", &tmp))
    }

    /// Whether an object named `digest` of `size` bytes is in the store. A
    /// truncated object, one of another size, is not, so storing the
    /// content again replaces it.
    fn holds(&self, digest: &Digest, size: u64) -> bool {
        fs::metadata(self.object_path(digest))
            .is_ok_and(|meta| meta.is_file() && meta.len() == size)
    }

    /// Moves the staged content, whose digest is `digest`, to its object
    /// path, or drops it if the store already holds that object.
    fn commit(&self, staged: NamedTempFile, digest: &Digest, size: u64) -> io::Result<()> {
        if self.holds(digest, size) {
            return Ok(());
        }
        let path = self.object_path(digest);
        staged
            .as_file()
            .set_permissions(Permissions::from_mode(OBJECT_MODE))
            .map_err(|error| at(&error, "cannot set the mode of", staged.path()))?;
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|error| at(&error, "cannot create", parent))?;
        }
        // Another thread or process may store the same content at the same
        // time; rename replaces atomically, and both have the same bytes.
        staged
            .persist(&path)
            .map_err(|error| at(&error.error, "cannot move an object to", &path))?;
        Ok(())
    }
}

/// Deletes the corrupt object at `path` and says so.
fn discard_corrupt(digest: &Digest, path: PathBuf, actual: Digest) -> ObjectError {
    // If the deletion fails, the next read finds the object corrupt
    // again and tries again; nothing better can be done here.
    let _ = fs::remove_file(&path);
    ObjectError::Corrupt {
        digest: digest.clone(),
        path,
        actual,
    }
}

/// Copies `source` into `dest` (both at offset 0, `dest` empty) and
/// returns the digest and size of what `dest` now holds: by reflink when
/// the filesystem shares blocks (the clone is then read back to hash it),
/// otherwise by a copy hashed as it goes.
fn clone_or_copy(source: &mut File, dest: &mut File) -> io::Result<(Digest, u64)> {
    if reflink(source, dest).is_ok() {
        return hash::reader(dest);
    }
    hash::reader(&mut Tee {
        from: source,
        to: dest,
    })
}

/// Makes `dest` share `source`'s blocks (`ioctl(FICLONE)`), where the
/// filesystem can (btrfs, XFS, bcachefs).
#[cfg(target_os = "linux")]
fn reflink(source: &File, dest: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: FICLONE takes the source descriptor as its integer argument
    // and keeps no pointer; both descriptors stay open during the call.
    let result = unsafe { libc::ioctl(dest.as_raw_fd(), libc::FICLONE, source.as_raw_fd()) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reflinks are Linux-only here; elsewhere every restore copies.
#[cfg(not(target_os = "linux"))]
fn reflink(_source: &File, _dest: &File) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// A reader that writes everything it reads to `to`, so one pass both
/// hashes and copies.
struct Tee<'a> {
    /// Where the bytes come from.
    from: &'a mut File,
    /// Where they are copied to.
    to: &'a mut File,
}

impl Read for Tee<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.from.read(buffer)?;
        self.to.write_all(&buffer[..read])?;
        Ok(read)
    }
}

/// `error` with what was being done and to which path, since an
/// `io::Error` alone names neither.
fn at(error: &io::Error, doing: &str, path: &Path) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("{doing} `{}`: {error}", path.display()),
    )
}

/// `path` as a plain relative path (`.` components and doubled or trailing
/// slashes dropped), or an error if it is absolute, empty or climbs out
/// with `..`.
fn plain(path: &Path) -> io::Result<PathBuf> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => clean.push(name),
            Component::CurDir => {}
            Component::RootDir | Component::ParentDir | Component::Prefix(_) => {
                clean = PathBuf::new();
                break;
            }
        }
    }
    if clean.as_os_str().is_empty() {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the output `{}` is not a path inside the task's directory; outputs must be relative and must not use `..`",
                path.display()
            ),
        ))
    } else {
        Ok(clean)
    }
}

/// Checks that every directory on the way from `base` to `rel` is a real
/// directory, not a symlink: a tree must not depend on links it does not
/// hold. `checked` remembers directories already seen.
fn check_ancestors(base: &Path, rel: &Path, checked: &mut HashSet<PathBuf>) -> io::Result<()> {
    for ancestor in proper_ancestors(rel) {
        if checked.contains(ancestor) {
            continue;
        }
        let abs = base.join(ancestor);
        let meta =
            fs::symlink_metadata(&abs).map_err(|error| at(&error, "cannot read output", &abs))?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the output `{}` lies under `{}`, which is a {}, not a directory; declare the outputs by their real paths",
                    rel.display(),
                    ancestor.display(),
                    kind_name(&meta)
                ),
            ));
        }
        checked.insert(ancestor.to_owned());
    }
    Ok(())
}

/// The ancestors of a relative path, shallowest first, without the empty
/// path and without the path itself.
fn proper_ancestors(rel: &Path) -> Vec<&Path> {
    let mut ancestors: Vec<&Path> = rel
        .ancestors()
        .skip(1)
        .filter(|ancestor| !ancestor.as_os_str().is_empty())
        .collect();
    ancestors.reverse();
    ancestors
}

/// Makes every directory on the way from `base` to `rel` a real directory,
/// replacing a file or symlink that stands where one should be. `made`
/// remembers directories already seen to be real.
fn make_ancestors(base: &Path, rel: &Path, made: &mut HashSet<PathBuf>) -> io::Result<()> {
    for ancestor in proper_ancestors(rel) {
        if made.contains(ancestor) {
            continue;
        }
        let abs = base.join(ancestor);
        match lstat(&abs)? {
            Some(meta) if meta.is_dir() => {}
            Some(meta) => {
                remove_all(&abs, &meta)?;
                fs::create_dir(&abs)?;
            }
            None => fs::create_dir(&abs)?,
        }
        made.insert(ancestor.to_owned());
    }
    Ok(())
}

/// Removes, under the root `root` of `tree`, everything on disk the tree
/// does not list. What the tree lists is left for the entries to fix, so
/// files whose content already matches can be kept.
fn prune(base: &Path, root: &Path, tree: &OutputTree) -> io::Result<()> {
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        let abs = base.join(&dir);
        match lstat(&abs)? {
            Some(meta) if meta.is_dir() => {}
            // Not a directory: the root's entry replaces it.
            _ => continue,
        }
        for child in fs::read_dir(&abs)? {
            let child = child?;
            let rel = dir.join(child.file_name());
            let meta = child.metadata()?;
            match tree.entry(&rel) {
                None => {
                    make_writable(&abs)?;
                    remove_all(&child.path(), &meta)?;
                }
                Some(Entry {
                    kind: EntryKind::Dir { .. },
                    ..
                }) if meta.is_dir() => pending.push(rel),
                Some(_) => {}
            }
        }
    }
    Ok(())
}

/// Makes the directory `abs` with permission bits `mode`, replacing
/// whatever else is there (`on_disk`). The owner may write to it until
/// [`Store::restore_tree`] gives it `mode` exactly, at the end.
fn make_dir(abs: &Path, on_disk: Option<&Metadata>, mode: u32) -> io::Result<()> {
    match on_disk {
        Some(meta) if meta.is_dir() => {}
        Some(meta) => {
            remove_all(abs, meta)?;
            fs::create_dir(abs)?;
        }
        None => fs::create_dir(abs)?,
    }
    fs::set_permissions(abs, Permissions::from_mode(mode | 0o700))
}

/// Makes `abs` a symlink to `target`, unless it already is one; whatever
/// else is there (`on_disk`) is removed, never followed.
fn make_symlink(abs: &Path, on_disk: Option<&Metadata>, target: &Path) -> io::Result<()> {
    if let Some(meta) = on_disk {
        if meta.file_type().is_symlink() && fs::read_link(abs)? == target {
            return Ok(());
        }
        remove_all(abs, meta)?;
    }
    symlink(target, abs)
}

/// The metadata of `path` without following a symlink, or `None` if
/// nothing is there.
fn lstat(path: &Path) -> io::Result<Option<Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Removes what is at `path` (`meta`, not following symlinks): a whole
/// directory, or a file or symlink. Read-only directories inside, which
/// tasks such as `go mod download` leave, are made writable first.
pub(crate) fn remove_all(path: &Path, meta: &Metadata) -> io::Result<()> {
    if !meta.is_dir() {
        return fs::remove_file(path);
    }
    match fs::remove_dir_all(path) {
        Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
            let mut pending = vec![path.to_owned()];
            while let Some(dir) = pending.pop() {
                make_writable(&dir)?;
                for child in fs::read_dir(&dir)? {
                    let child = child?;
                    if child.file_type()?.is_dir() {
                        pending.push(child.path());
                    }
                }
            }
            fs::remove_dir_all(path)
        }
        result => result,
    }
}

/// Lets the owner write to and search the directory `dir`, so entries can
/// be removed from it.
fn make_writable(dir: &Path) -> io::Result<()> {
    let mode = fs::symlink_metadata(dir)?.mode() & MODE_BITS;
    if mode & 0o700 == 0o700 {
        return Ok(());
    }
    fs::set_permissions(dir, Permissions::from_mode(mode | 0o700))
}

/// What kind of thing `meta` describes, for messages.
fn kind_name(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let file_type = meta.file_type();
    if file_type.is_file() {
        "regular file"
    } else if file_type.is_dir() {
        "directory"
    } else if file_type.is_symlink() {
        "symlink"
    } else if file_type.is_fifo() {
        "fifo"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    /// Every path under `dir`, relative, with what it is: `f MODE CONTENT`,
    /// `l TARGET` or `d MODE`.
    fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
        let mut found = BTreeMap::new();
        let mut pending = vec![dir.to_owned()];
        while let Some(current) = pending.pop() {
            for child in fs::read_dir(&current).unwrap() {
                let path = child.unwrap().path();
                let meta = fs::symlink_metadata(&path).unwrap();
                let rel = path.strip_prefix(dir).unwrap().to_owned();
                let mode = meta.mode() & MODE_BITS;
                let what = if meta.file_type().is_symlink() {
                    format!("l {}", fs::read_link(&path).unwrap().display())
                } else if meta.is_dir() {
                    pending.push(path);
                    format!("d {mode:o}")
                } else {
                    let content = String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned();
                    format!("f {mode:o} {content}")
                };
                found.insert(rel, what);
            }
        }
        found
    }

    fn write(path: &Path, content: &str, mode: u32) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
        fs::set_permissions(path, Permissions::from_mode(mode)).unwrap();
    }

    fn rewrite_all(_: &Path, _: &Metadata) -> Option<Digest> {
        None
    }

    fn objects_in(store: &Store) -> Vec<PathBuf> {
        let root = store.root().join("objects");
        snapshot(&root)
            .into_iter()
            .filter(|(_, what)| what.starts_with('f'))
            .map(|(path, _)| path)
            .collect()
    }

    #[test]
    fn opening_a_store_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join(".taskrun"));
        let digest = hash::bytes(b"x");
        assert!(!store.contains(&digest));
        assert!(matches!(
            store.read(&digest),
            Err(ObjectError::Missing { .. })
        ));
        assert!(!store.root().exists());
    }

    #[test]
    fn put_stores_once_read_only_under_the_sharded_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let digest = store.put_bytes(b"hello\n").unwrap();
        assert_eq!(
            digest,
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(store.put_bytes(b"hello\n").unwrap(), digest);
        let source = dir.path().join("source");
        fs::write(&source, "hello\n").unwrap();
        assert_eq!(store.put_file(&source).unwrap(), (digest.clone(), 6));
        assert_eq!(store.put_file(&source).unwrap(), (digest.clone(), 6));

        let path = store.object_path(&digest);
        assert_eq!(
            path,
            dir.path().join("store/objects/58/91").join(&digest[4..])
        );
        assert_eq!(
            objects_in(&store),
            [path.strip_prefix(store.root().join("objects")).unwrap()]
        );
        assert_eq!(fs::metadata(&path).unwrap().mode() & MODE_BITS, 0o444);
        assert!(store.contains(&digest));
        assert_eq!(store.read(&digest).unwrap(), b"hello\n");
        // Staging leaves nothing behind.
        assert_eq!(fs::read_dir(store.root().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_non_digest_never_reaches_outside_the_store() {
        let store = Store::new(PathBuf::from("/s"));
        assert_eq!(
            store.object_path(&"../../etc/passwd".to_owned()),
            Path::new("/s/objects/not-a-digest")
        );
        assert_eq!(
            store.object_path(&"é".to_owned()),
            Path::new("/s/objects/not-a-digest")
        );
    }

    #[test]
    fn read_tells_missing_from_corrupt_and_deletes_the_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_owned());
        let content = b"some content that will be damaged";
        let missing = hash::bytes(b"never stored");
        match store.read(&missing) {
            Err(ObjectError::Missing { digest, path }) => {
                assert_eq!(digest, missing);
                assert_eq!(path, store.object_path(&missing));
            }
            other => panic!("expected Missing, got {other:?}"),
        }

        let damage: [fn(&mut Vec<u8>); 2] = [|bytes| bytes.truncate(10), |bytes| bytes[3] ^= 1];
        for damage in damage {
            let digest = store.put_bytes(content).unwrap();
            let path = store.object_path(&digest);
            let mut bytes = content.to_vec();
            damage(&mut bytes);
            fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
            fs::write(&path, &bytes).unwrap();
            match store.read(&digest) {
                Err(ObjectError::Corrupt {
                    digest: named,
                    path: at,
                    actual,
                }) => {
                    assert_eq!(named, digest);
                    assert_eq!(at, path);
                    assert_eq!(actual, hash::bytes(&bytes));
                }
                other => panic!("expected Corrupt, got {other:?}"),
            }
            assert!(!path.exists());
            assert!(matches!(
                store.read(&digest),
                Err(ObjectError::Missing { .. })
            ));
            // The next store writes it again.
            store.put_bytes(content).unwrap();
            assert_eq!(store.read(&digest).unwrap(), content);
            fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        }
    }

    #[test]
    fn a_truncated_object_is_replaced_by_the_next_put() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_owned());
        let digest = store.put_bytes(b"0123456789").unwrap();
        let path = store.object_path(&digest);
        fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        fs::write(&path, b"0123").unwrap();
        store.put_bytes(b"0123456789").unwrap();
        assert_eq!(store.read(&digest).unwrap(), b"0123456789");
        assert_eq!(fs::metadata(&path).unwrap().mode() & MODE_BITS, 0o444);
    }

    #[test]
    fn restore_file_sets_the_mode_and_replaces_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let digest = store.put_bytes(b"#!/bin/sh\necho hi\n").unwrap();
        let work = dir.path().join("work");
        for mode in [0o755, 0o600, 0o4750] {
            let dest = work.join("deep/bin/tool");
            store.restore_file(&digest, &dest, mode).unwrap();
            assert_eq!(fs::read(&dest).unwrap(), b"#!/bin/sh\necho hi\n");
            assert_eq!(fs::metadata(&dest).unwrap().mode() & MODE_BITS, mode);
        }
        let dest = work.join("was-a-dir");
        write(&dest.join("inner/file"), "old", 0o644);
        store.restore_file(&digest, &dest, 0o644).unwrap();
        assert!(fs::symlink_metadata(&dest).unwrap().is_file());
        assert_eq!(fs::read(&dest).unwrap(), b"#!/bin/sh\necho hi\n");
        // The object itself is still read-only.
        let object = store.object_path(&digest);
        assert_eq!(fs::metadata(object).unwrap().mode() & MODE_BITS, 0o444);
    }

    #[test]
    fn restore_file_replaces_a_symlink_without_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let digest = store.put_bytes(b"new").unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        let dest = dir.path().join("work/out");
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        symlink(&victim, &dest).unwrap();
        store.restore_file(&digest, &dest, 0o644).unwrap();
        assert!(fs::symlink_metadata(&dest).unwrap().is_file());
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn restore_file_of_a_corrupt_object_leaves_dest_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let digest = store.put_bytes(b"good content").unwrap();
        let object = store.object_path(&digest);
        fs::set_permissions(&object, Permissions::from_mode(0o644)).unwrap();
        fs::write(&object, b"evil content").unwrap();
        let work = dir.path().join("work");
        write(&work.join("out"), "what was there", 0o644);
        let before = snapshot(&work);
        match store.restore_file(&digest, &work.join("out"), 0o644) {
            Err(ObjectError::Corrupt { actual, .. }) => {
                assert_eq!(actual, hash::bytes(b"evil content"));
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert_eq!(snapshot(&work), before);
        assert!(!object.exists());
        assert!(matches!(
            store.restore_file(&digest, &work.join("out"), 0o644),
            Err(ObjectError::Missing { .. })
        ));
        assert_eq!(snapshot(&work), before);
    }

    /// A task's directory: a declared `out/` root with files, an empty
    /// subdirectory and symlinks (one pointing outside), plus a loose file
    /// and a loose symlink named by the file list.
    fn make_outputs(base: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
        write(&base.join("out/a.txt"), "alpha", 0o644);
        write(&base.join("out/sub/run.sh"), "#!/bin/sh\n", 0o755);
        write(
            &base.join(OsStr::from_bytes(b"out/odd\xff\tname\n")),
            "odd",
            0o600,
        );
        fs::create_dir_all(base.join("out/empty")).unwrap();
        fs::set_permissions(base.join("out/empty"), Permissions::from_mode(0o700)).unwrap();
        symlink("../../outside/secret", base.join("out/sub/up")).unwrap();
        symlink("a.txt", base.join("out/rel")).unwrap();
        write(&base.join("report.txt"), "report", 0o644);
        write(&base.join("keep.bin"), "kept content", 0o644);
        symlink("/etc/hostname", base.join("top-link")).unwrap();
        let files = ["report.txt", "./keep.bin", "top-link", "out/a.txt"].map(PathBuf::from);
        (files.to_vec(), vec![PathBuf::from("out/")])
    }

    #[test]
    fn put_tree_records_files_links_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let base = dir.path().join("task");
        let (files, dirs) = make_outputs(&base);
        let tree = store.put_tree(&base, &files, &dirs).unwrap();
        let d = |text: &str| hash::bytes(text.as_bytes());
        let expected = format!(
            "taskrun-outputs-v1\n\
             f\t644\t12\t{}\tkeep.bin\n\
             d\t755\tout\n\
             f\t644\t5\t{}\tout/a.txt\n\
             d\t700\tout/empty\n\
             f\t600\t3\t{}\tout/odd\\xff\\x09name\\x0a\n\
             l\ta.txt\tout/rel\n\
             d\t755\tout/sub\n\
             f\t755\t10\t{}\tout/sub/run.sh\n\
             l\t../../outside/secret\tout/sub/up\n\
             f\t644\t6\t{}\treport.txt\n\
             l\t/etc/hostname\ttop-link\n\
             r\tout\n",
            d("kept content"),
            d("alpha"),
            d("odd"),
            d("#!/bin/sh\n"),
            d("report"),
        );
        assert_eq!(tree.encode(), expected);
        assert_eq!(tree.files(), 5);
        assert_eq!(tree.bytes(), 12 + 5 + 3 + 10 + 6);
        assert_eq!(objects_in(&store).len(), 5);
        assert_eq!(OutputTree::decode(&tree.encode()), Some(tree));
    }

    #[test]
    fn put_tree_refuses_special_files_symlinked_dirs_and_paths_outside() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let base = dir.path().join("task");
        write(&base.join("real/file"), "x", 0o644);
        symlink("real", base.join("linked")).unwrap();
        let fifo = base.join("real/pipe");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: mkfifo reads one NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);

        let message = |files: &[&str], dirs: &[&str]| {
            let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
            let dirs: Vec<PathBuf> = dirs.iter().map(PathBuf::from).collect();
            store
                .put_tree(&base, &files, &dirs)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            message(&["real/pipe"], &[]),
            "the output `real/pipe` is a fifo, which the store cannot hold; make the task write a regular file there, or leave it out of the outputs"
        );
        assert_eq!(
            message(&[], &["real"]),
            "the output `real/pipe` is a fifo, which the store cannot hold; make the task write a regular file there, or leave it out of the outputs"
        );
        assert_eq!(
            message(&["linked/file"], &[]),
            "the output `linked/file` lies under `linked`, which is a symlink, not a directory; declare the outputs by their real paths"
        );
        assert_eq!(
            message(&[], &["linked"]),
            "the declared output directory `linked/` is a symlink, not a directory; make the task create a directory there or declare it without the `/`"
        );
        for bad in ["../x", "/abs", ".", "real/../../x"] {
            assert_eq!(
                message(&[bad], &[]),
                format!(
                    "the output `{bad}` is not a path inside the task's directory; outputs must be relative and must not use `..`"
                )
            );
        }
        assert!(message(&["gone"], &[]).starts_with("cannot read output `"));
    }

    #[test]
    fn restore_tree_into_an_empty_directory_makes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let base = dir.path().join("task");
        let (files, dirs) = make_outputs(&base);
        let tree = store.put_tree(&base, &files, &dirs).unwrap();
        let expected = snapshot(&base);
        let fresh = dir.path().join("fresh");
        fs::create_dir(&fresh).unwrap();
        let restored = store.restore_tree(&fresh, &tree, &rewrite_all).unwrap();
        assert_eq!(
            restored,
            Restored {
                written: 5,
                kept: 0
            }
        );
        assert_eq!(snapshot(&fresh), expected);
    }

    #[test]
    fn restore_tree_repairs_what_changed_and_keeps_what_is_vouched_for() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let base = dir.path().join("task");
        let (files, dirs) = make_outputs(&base);
        let tree = store.put_tree(&base, &files, &dirs).unwrap();
        let expected = snapshot(&base);

        // What a user or a later task did to the directory since.
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        write(&base.join("out/stale.o"), "stale", 0o644);
        write(&base.join("out/sub/stale-dir/deep"), "stale", 0o644);
        fs::remove_dir(base.join("out/empty")).unwrap();
        fs::remove_file(base.join("out/a.txt")).unwrap();
        fs::set_permissions(base.join("out/sub/run.sh"), Permissions::from_mode(0o644)).unwrap();
        write(&base.join("out/sub/run.sh"), "#!/bin/bash\n", 0o755);
        fs::remove_file(base.join("report.txt")).unwrap();
        symlink(&victim, base.join("report.txt")).unwrap();
        fs::remove_file(base.join("out/rel")).unwrap();
        symlink(&victim, base.join("out/rel")).unwrap();
        fs::remove_file(base.join("top-link")).unwrap();
        write(
            &base.join("top-link/inside"),
            "a dir where a link was",
            0o644,
        );
        let keep = base.join("keep.bin");
        let keep_before = fs::metadata(&keep).unwrap();

        let keep_digest = hash::bytes(b"kept content");
        let known = |path: &Path, _: &Metadata| (path == keep).then(|| keep_digest.clone());
        let restored = store.restore_tree(&base, &tree, &known).unwrap();
        assert_eq!(
            restored,
            Restored {
                written: 4,
                kept: 1
            }
        );
        assert_eq!(snapshot(&base), expected);
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        let keep_after = fs::metadata(&keep).unwrap();
        assert_eq!(keep_after.ino(), keep_before.ino());
        assert_eq!(keep_after.mtime_nsec(), keep_before.mtime_nsec());

        // Restoring again over an intact directory changes nothing but
        // rewrites the files nobody vouches for.
        let restored = store.restore_tree(&base, &tree, &rewrite_all).unwrap();
        assert_eq!(
            restored,
            Restored {
                written: 5,
                kept: 0
            }
        );
        assert_eq!(snapshot(&base), expected);
    }

    #[test]
    fn restore_tree_does_not_keep_a_file_of_another_size_or_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let base = dir.path().join("task");
        write(&base.join("f"), "12345", 0o644);
        let tree = store.put_tree(&base, &[PathBuf::from("f")], &[]).unwrap();
        let digest = hash::bytes(b"12345");
        let vouch_anyway = |_: &Path, _: &Metadata| Some(digest.clone());
        write(&base.join("f"), "123456", 0o644);
        let restored = store.restore_tree(&base, &tree, &vouch_anyway).unwrap();
        assert_eq!(
            restored,
            Restored {
                written: 1,
                kept: 0
            }
        );
        fs::set_permissions(base.join("f"), Permissions::from_mode(0o755)).unwrap();
        let restored = store.restore_tree(&base, &tree, &vouch_anyway).unwrap();
        assert_eq!(
            restored,
            Restored {
                written: 1,
                kept: 0
            }
        );
        assert_eq!(snapshot(&base)[Path::new("f")], "f 644 12345");
    }

    #[test]
    fn restore_tree_with_a_missing_object_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let base = dir.path().join("task");
        let (files, dirs) = make_outputs(&base);
        let tree = store.put_tree(&base, &files, &dirs).unwrap();
        let gone = hash::bytes(b"#!/bin/sh\n");
        fs::remove_file(store.object_path(&gone)).unwrap();
        write(&base.join("out/stale.o"), "stale", 0o644);
        fs::remove_file(base.join("out/a.txt")).unwrap();
        let before = snapshot(&base);
        match store.restore_tree(&base, &tree, &rewrite_all) {
            Err(ObjectError::Missing { digest, path }) => {
                assert_eq!(digest, gone);
                assert_eq!(path, store.object_path(&gone));
            }
            other => panic!("expected Missing, got {other:?}"),
        }
        assert_eq!(snapshot(&base), before);

        // A truncated object is found by its size before anything is
        // touched, and deleted.
        store.put_bytes(b"#!/bin/sh\n").unwrap();
        let truncated = hash::bytes(b"alpha");
        let object = store.object_path(&truncated);
        fs::set_permissions(&object, Permissions::from_mode(0o644)).unwrap();
        fs::write(&object, b"alp").unwrap();
        match store.restore_tree(&base, &tree, &rewrite_all) {
            Err(ObjectError::Corrupt { digest, actual, .. }) => {
                assert_eq!(digest, truncated);
                assert_eq!(actual, hash::bytes(b"alp"));
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(!object.exists());
        assert_eq!(snapshot(&base), before);
    }

    #[test]
    fn restore_tree_clears_read_only_stale_directories() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let base = dir.path().join("task");
        write(&base.join("out/a"), "a", 0o644);
        fs::set_permissions(base.join("out"), Permissions::from_mode(0o555)).unwrap();
        let tree = store.put_tree(&base, &[], &[PathBuf::from("out")]).unwrap();
        fs::set_permissions(base.join("out"), Permissions::from_mode(0o755)).unwrap();
        write(&base.join("out/stale/deep/x"), "x", 0o444);
        fs::set_permissions(base.join("out/stale/deep"), Permissions::from_mode(0o555)).unwrap();
        fs::set_permissions(base.join("out/stale"), Permissions::from_mode(0o555)).unwrap();
        fs::set_permissions(base.join("out"), Permissions::from_mode(0o555)).unwrap();
        let restored = store.restore_tree(&base, &tree, &rewrite_all).unwrap();
        assert_eq!(
            restored,
            Restored {
                written: 1,
                kept: 0
            }
        );
        let after = snapshot(&base);
        assert_eq!(
            after.into_iter().collect::<Vec<_>>(),
            [
                (PathBuf::from("out"), "d 555".to_owned()),
                (PathBuf::from("out/a"), "f 644 a".to_owned()),
            ]
        );
        fs::set_permissions(base.join("out"), Permissions::from_mode(0o755)).unwrap();
    }
}
