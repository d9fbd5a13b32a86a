//! Files of a workspace, read and written straight on the host, never through a process.
//!
//! Every path is resolved lexically first (`agentbox_core::exec::path::resolve`), then opened
//! relative to a descriptor of the workspace's `files/` directory with `openat2` and
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: the kernel refuses any resolution that leaves the
//! directory, so a symlink planted in the workspace cannot lead a read or write outside it.
//! Absolute symlinks are refused too, even ones that point back inside the mount path.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// How a file operation failed.
#[derive(Debug)]
pub(crate) enum FileError {
    /// A component resolved outside the workspace (a symlink leading out).
    Escapes,
    /// The target is not a regular file (or a parent is not a directory).
    NotAFile,
    /// Anything else.
    Io(std::io::Error),
}

impl From<Errno> for FileError {
    fn from(e: Errno) -> Self {
        match e {
            // EXDEV: resolution left the directory; ELOOP: a magic link or a symlink loop.
            Errno::XDEV | Errno::LOOP => FileError::Escapes,
            Errno::NOTDIR | Errno::ISDIR => FileError::NotAFile,
            other => FileError::Io(other.into()),
        }
    }
}

const BENEATH: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_MAGICLINKS);

/// A workspace's `files/` directory.
#[derive(Debug, Clone)]
pub(crate) struct FilesRoot {
    path: PathBuf,
}

impl FilesRoot {
    /// The `files/` directory at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// The host directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_root(&self) -> Result<OwnedFd, FileError> {
        rustix::fs::open(
            &self.path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| FileError::Io(e.into()))
    }

    /// Open `rel` (a normalised path relative to `files/`, `""` for the directory itself) as a
    /// directory, refusing escapes.
    pub fn open_dir(&self, rel: &str) -> Result<OwnedFd, FileError> {
        let root = self.open_root()?;
        let path = if rel.is_empty() { "." } else { rel };
        Ok(rustix::fs::openat2(
            &root,
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            BENEATH,
        )?)
    }

    /// Open `rel` for reading; it must be a regular file. Returns the file and its size.
    pub fn open_read(&self, rel: &str) -> Result<(std::fs::File, u64), FileError> {
        if rel.is_empty() {
            return Err(FileError::NotAFile);
        }
        let root = self.open_root()?;
        // O_NONBLOCK keeps a planted FIFO from blocking the open; it is refused just below.
        let fd = rustix::fs::openat2(
            &root,
            rel,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            Mode::empty(),
            BENEATH,
        )?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| FileError::Io(e.into()))?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(FileError::NotAFile);
        }
        let size = u64::try_from(stat.st_size).unwrap_or(0);
        Ok((std::fs::File::from(fd), size))
    }

    /// Create the parents of `rel` (component by component, each opened beneath the one
    /// before) and a new temporary file beside it. Returns the parent directory, the
    /// temporary file's name and the file.
    pub fn create_temp(&self, rel: &str) -> Result<PendingFile, FileError> {
        let (parents, name) = match rel.rsplit_once('/') {
            Some((parents, name)) => (parents, name),
            None => ("", rel),
        };
        if name.is_empty() {
            return Err(FileError::NotAFile);
        }
        let mut dir = self.open_root()?;
        for component in parents.split('/').filter(|c| !c.is_empty()) {
            match rustix::fs::mkdirat(&dir, component, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            dir = rustix::fs::openat2(
                &dir,
                component,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                BENEATH,
            )?;
        }
        let temp = format!(".{name}.agentbox-{}.tmp", uuid::Uuid::new_v4().simple());
        let fd = rustix::fs::openat2(
            &dir,
            temp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(0o644),
            BENEATH,
        )?;
        Ok(PendingFile {
            dir,
            temp,
            name: name.to_owned(),
            file: Some(std::fs::File::from(fd)),
        })
    }
}

/// A file being written: a temporary file that becomes the target only when complete, so a
/// failed write never leaves a half-written file behind.
#[derive(Debug)]
pub(crate) struct PendingFile {
    dir: OwnedFd,
    temp: String,
    name: String,
    file: Option<std::fs::File>,
}

impl PendingFile {
    /// The open temporary file (taken once).
    pub fn take_file(&mut self) -> Option<std::fs::File> {
        self.file.take()
    }

    /// Rename the temporary file over the target. A symlink at the target is replaced, not
    /// followed.
    pub fn commit(self) -> Result<(), FileError> {
        let renamed =
            rustix::fs::renameat(&self.dir, self.temp.as_str(), &self.dir, self.name.as_str());
        if let Err(e) = renamed {
            self.discard();
            return Err(e.into());
        }
        Ok(())
    }

    /// Remove the temporary file.
    pub fn discard(&self) {
        if let Err(e) =
            rustix::fs::unlinkat(&self.dir, self.temp.as_str(), rustix::fs::AtFlags::empty())
        {
            tracing::debug!(error = %e, file = %self.temp, "could not remove a temporary file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn root() -> (tempfile::TempDir, FilesRoot) {
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("files");
        std::fs::create_dir(&files).unwrap();
        (dir, FilesRoot::new(files))
    }

    #[test]
    fn files_are_written_through_a_temporary_file_and_parents_are_created() {
        let (_dir, root) = root();
        let mut pending = root.create_temp("a/b/c.txt").unwrap();
        pending.take_file().unwrap().write_all(b"hello").unwrap();
        assert!(!root.path().join("a/b/c.txt").exists());
        pending.commit().unwrap();
        let (mut file, size) = root.open_read("a/b/c.txt").unwrap();
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        assert_eq!((text.as_str(), size), ("hello", 5));
        let names: Vec<_> = std::fs::read_dir(root.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["c.txt"]);
    }

    #[test]
    fn symlinks_leading_out_are_refused() {
        let (dir, root) = root();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(&outside, root.path().join("out")).unwrap();
        std::os::unix::fs::symlink("../outside/secret", root.path().join("rel")).unwrap();
        assert!(matches!(
            root.open_read("out/secret"),
            Err(FileError::Escapes)
        ));
        assert!(matches!(root.open_read("rel"), Err(FileError::Escapes)));
        assert!(matches!(
            root.create_temp("out/new"),
            Err(FileError::Escapes)
        ));
        assert!(matches!(root.open_dir("out"), Err(FileError::Escapes)));
        assert!(!outside.join("new").exists());
    }

    #[test]
    fn symlinks_within_the_workspace_are_followed() {
        let (_dir, root) = root();
        std::fs::create_dir(root.path().join("real")).unwrap();
        std::fs::write(root.path().join("real/f"), "x").unwrap();
        std::os::unix::fs::symlink("real", root.path().join("link")).unwrap();
        assert_eq!(root.open_read("link/f").unwrap().1, 1);
    }

    #[test]
    fn directories_and_fifos_are_not_read_as_files() {
        let (_dir, root) = root();
        std::fs::create_dir(root.path().join("d")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.path().join("fifo"),
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        assert!(matches!(root.open_read("d"), Err(FileError::NotAFile)));
        assert!(matches!(root.open_read("fifo"), Err(FileError::NotAFile)));
        assert!(matches!(root.open_read(""), Err(FileError::NotAFile)));
    }
}
