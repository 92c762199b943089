//! Files itsmid creates (the store, reports written with `--output`, the
//! export, the demo's files) are readable and writable by their owner only:
//! mode 0600 on unix. They hold people's names and e-mail addresses, and the
//! demo's hold secrets.
//!
//! The mode is given when the file is created, whatever the umask, so no
//! other account can open it in between. A file that already exists keeps
//! its mode: its owner chose it. Never reads a file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Owner read and write, nothing for group and others.
pub const MODE: u32 = 0o600;

/// Creates (or truncates) `path` for writing; a new file gets [`MODE`].
pub fn create(path: &Path) -> std::io::Result<File> {
    options().truncate(true).open(path)
}

/// Writes `bytes` to `path`, creating it with [`MODE`] where it is new.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = create(path)?;
    file.write_all(bytes)?;
    file.flush()
}

/// Creates `path` empty with [`MODE`] unless it exists; never truncates, so
/// a program that then opens it (SQLite) finds its data or a private file.
pub fn ensure_exists(path: &Path) -> std::io::Result<()> {
    options().open(path).map(drop)
}

fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(MODE);
    }
    options
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn a_new_file_is_the_owners_alone() {
        let dir = tempfile::tempdir().expect("dir");
        write(&dir.path().join("a"), b"one").expect("write");
        assert_eq!(mode(&dir.path().join("a")), 0o600);
        create(&dir.path().join("b")).expect("create");
        assert_eq!(mode(&dir.path().join("b")), 0o600);
        ensure_exists(&dir.path().join("c")).expect("create");
        assert_eq!(mode(&dir.path().join("c")), 0o600);
    }

    #[test]
    fn an_existing_file_keeps_its_mode_and_ensure_exists_keeps_its_data() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("a");
        std::fs::write(&path, "data").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        ensure_exists(&path).expect("exists");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "data");
        write(&path, b"new").expect("write");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
        assert_eq!(mode(&path), 0o640);
    }
}
