//! Secret references (SPEC section 3): `env:NAME` or `file:PATH`, never a
//! literal secret in the file.
//!
//! A reference is resolved only when a connector, the daemon's token or the
//! webhook needs it, straight into a `SecretString`. A secret file must be a
//! regular file (symlinks followed) of at most 64 KiB that neither group nor
//! others can read, like an SSH key: checked when the config is read, where
//! the file exists, so that the problem carries the key's line, and again
//! when the secret is read, as the file may have changed since. No message
//! here ever holds a secret's value: errors name the variable or the file.

use std::io::Read;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use crate::doc::TableReader;

/// The largest secret file read: a PEM private key is a few KiB, so a
/// larger file is the wrong file (a log, a dump), not a secret.
pub const MAX_SECRET_FILE_BYTES: u64 = 65_536;

/// Why a secret reference could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is empty")]
    EnvEmpty(String),
    #[error("environment variable {0} is not set")]
    EnvUnset(String),
    #[error("secret file {} is empty", .0.display())]
    FileEmpty(PathBuf),
    #[error("cannot read secret file {}: {source}", path.display())]
    FileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}; {}", .problem.message(.path), .problem.fix(.path))]
    FileRefused { path: PathBuf, problem: FileProblem },
}

/// Why a secret file is refused, from its metadata alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileProblem {
    /// A folder, a device, a pipe: not a file holding a secret.
    NotRegular,
    /// Larger than [`MAX_SECRET_FILE_BYTES`]; the size in bytes.
    TooLarge(u64),
    /// Group or others may read or write it; the permission bits.
    OpenToOthers(u32),
}

impl FileProblem {
    /// The problem, naming the file.
    pub fn message(&self, path: &Path) -> String {
        let path = path.display();
        match self {
            FileProblem::NotRegular => format!("secret file {path} is not a regular file"),
            FileProblem::TooLarge(size) => {
                format!("secret file {path} is larger than 64 KiB ({size} bytes)")
            }
            FileProblem::OpenToOthers(mode) => {
                format!("secret file {path} is open to group or others (mode {mode:04o})")
            }
        }
    }

    /// The fix, naming the file.
    pub fn fix(&self, path: &Path) -> String {
        match self {
            FileProblem::NotRegular | FileProblem::TooLarge(_) => {
                "a secret file holds the secret alone (at most 65,536 bytes); reference the right file".to_owned()
            }
            FileProblem::OpenToOthers(_) => format!(
                "run `chmod 600 {}` so that only its owner can read it",
                path.display()
            ),
        }
    }

    /// The problem of a file with this metadata (symlinks already followed),
    /// if any.
    pub fn of(metadata: &std::fs::Metadata) -> Option<FileProblem> {
        if !metadata.is_file() {
            return Some(FileProblem::NotRegular);
        }
        if metadata.len() > MAX_SECRET_FILE_BYTES {
            return Some(FileProblem::TooLarge(metadata.len()));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Some(FileProblem::OpenToOthers(mode));
            }
        }
        None
    }
}

/// A secret reference: `env:NAME` or `file:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

impl SecretRef {
    /// Reads the secret. Errors name the variable or file, never a value.
    pub fn resolve(&self) -> Result<SecretString, SecretError> {
        match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(value) if !value.is_empty() => Ok(SecretString::from(value)),
                Ok(_) => Err(SecretError::EnvEmpty(name.clone())),
                Err(_) => Err(SecretError::EnvUnset(name.clone())),
            },
            SecretRef::File(path) => {
                let text = read_secret_file(path)?;
                let value = drop_one_newline(&text);
                if value.is_empty() {
                    Err(SecretError::FileEmpty(path.clone()))
                } else {
                    Ok(SecretString::from(value.to_owned()))
                }
            }
        }
    }
}

/// Reads a secret file after checking it, at most one byte past the limit
/// whatever it grew to since its metadata was read.
fn read_secret_file(path: &Path) -> Result<String, SecretError> {
    let unreadable = |source| SecretError::FileUnreadable {
        path: path.to_path_buf(),
        source,
    };
    let refused = |problem| SecretError::FileRefused {
        path: path.to_path_buf(),
        problem,
    };
    // The path first, so that a pipe is refused before opening it blocks.
    if let Some(problem) = FileProblem::of(&std::fs::metadata(path).map_err(unreadable)?) {
        return Err(refused(problem));
    }
    let file = std::fs::File::open(path).map_err(unreadable)?;
    // Then what was opened, in case the path changed in between.
    if let Some(problem) = FileProblem::of(&file.metadata().map_err(unreadable)?) {
        return Err(refused(problem));
    }
    let mut text = String::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    if text.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(refused(FileProblem::TooLarge(text.len() as u64)));
    }
    Ok(text)
}

/// SPEC section 3: one trailing newline (`\n` or `\r\n`) is dropped, the
/// one an editor adds; anything before it is the secret's.
fn drop_one_newline(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

/// Parses a secret reference, refusing a literal secret without quoting it,
/// and a secret file that exists but may not be used. A missing file is
/// reported when the secret is resolved: a config may name a file that a
/// deployment mounts later.
pub(super) fn secret_ref(
    t: &TableReader<'_>,
    key: &'static str,
    value: &str,
    base: &Path,
) -> Option<SecretRef> {
    let line = t.node(key).and_then(|n| n.line);
    if let Some(name) = value.strip_prefix("env:") {
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Some(SecretRef::Env(name.to_owned()));
        }
    } else if let Some(file) = value.strip_prefix("file:")
        && !file.is_empty()
    {
        let path = base.join(file);
        let problem = std::fs::metadata(&path)
            .ok()
            .and_then(|metadata| FileProblem::of(&metadata));
        let Some(problem) = problem else {
            return Some(SecretRef::File(path));
        };
        t.problems().add(
            line,
            &format!("{}.{key}", t.path),
            problem.message(&path),
            problem.fix(&path),
        );
        return None;
    }
    t.problems().add(
        line,
        &format!("{}.{key}", t.path),
        format!("`{key}` holds a literal secret or a malformed reference (its value is not shown)"),
        format!("put the secret in an environment variable or a file and write {key} = \"env:NAME\" or \"file:PATH\""),
    );
    None
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::config::{AuthConfig, Config};

    /// A config whose connector's password is `file:<name>`, in `dir`.
    fn config(dir: &Path, name: &str) -> Result<Config, String> {
        let text = format!(
            "identities = \"identities.toml\"\n\n[[connectors]]\nintegration = \"snow\"\n\
             system = \"servicenow\"\nbase_url = \"https://acme.service-now.com\"\n\
             [connectors.auth]\ntype = \"basic\"\nusername = \"moveworks.bot\"\n\
             password = \"file:{name}\"\n"
        );
        Config::parse(&dir.join("itsmid.toml"), &text).map_err(|errors| errors.to_string())
    }

    fn password(config: &Config) -> &SecretRef {
        match &config.connectors[0].auth {
            AuthConfig::Basic { password, .. } => password,
            other => panic!("not basic auth: {other:?}"),
        }
    }

    fn write(path: &Path, bytes: &[u8], mode: u32) {
        std::fs::write(path, bytes).expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn a_secret_file_others_can_read_is_refused_with_the_line_and_the_chmod_fix() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("pw");
        write(&path, b"secret-value\n", 0o644);
        let err = config(dir.path(), "pw").expect_err("refused");
        assert!(err.contains("line 10"), "{err}");
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );
        assert!(err.contains("0644"), "{err}");
        assert!(!err.contains("secret-value"), "{err}");
        write(&path, b"secret-value\n", 0o640);
        assert!(config(dir.path(), "pw").is_err(), "group-readable too");
    }

    #[test]
    fn a_symlink_to_a_private_file_is_accepted() {
        let dir = tempfile::tempdir().expect("dir");
        write(&dir.path().join("real"), b"secret-value\n", 0o600);
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link"))
            .expect("symlink");
        let config = config(dir.path(), "link").expect("accepted");
        let value = password(&config).resolve().expect("resolves");
        assert_eq!(value.expose_secret(), "secret-value");
    }

    #[test]
    fn a_folder_is_refused_as_not_a_regular_file() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir(dir.path().join("pw")).expect("mkdir");
        std::fs::set_permissions(
            dir.path().join("pw"),
            std::fs::Permissions::from_mode(0o700),
        )
        .expect("chmod");
        let err = config(dir.path(), "pw").expect_err("refused");
        assert!(err.contains("not a regular file"), "{err}");
        assert!(err.contains("line 10"), "{err}");
    }

    #[test]
    fn a_file_over_64_kib_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        write(&dir.path().join("pw"), &vec![b'a'; 70_000], 0o600);
        let err = config(dir.path(), "pw").expect_err("refused");
        assert!(err.contains("larger than 64 KiB"), "{err}");
        write(&dir.path().join("pw"), &vec![b'a'; 65_536], 0o600);
        assert!(config(dir.path(), "pw").is_ok(), "65,536 bytes is allowed");
    }

    #[test]
    fn one_trailing_newline_is_dropped_and_a_second_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("pw");
        for (text, expected) in [
            ("secret\n", "secret"),
            ("secret\r\n", "secret"),
            ("secret\n\n", "secret\n"),
            ("secret\r\n\r\n", "secret\r\n"),
            ("secret", "secret"),
            (" secret \n", " secret "),
        ] {
            write(&path, text.as_bytes(), 0o600);
            let value = SecretRef::File(path.clone()).resolve().expect("resolves");
            assert_eq!(value.expose_secret(), expected, "{text:?}");
        }
        write(&path, b"\n", 0o600);
        assert!(matches!(
            SecretRef::File(path.clone()).resolve(),
            Err(SecretError::FileEmpty(_))
        ));
    }

    #[test]
    fn a_missing_file_is_reported_when_resolved_not_when_the_config_is_read() {
        let dir = tempfile::tempdir().expect("dir");
        let config = config(dir.path(), "not-yet").expect("accepted");
        let err = password(&config).resolve().expect_err("missing");
        assert!(matches!(err, SecretError::FileUnreadable { .. }), "{err}");
    }

    #[test]
    fn a_file_opened_to_others_after_the_config_was_read_is_refused_when_resolved() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("pw");
        write(&path, b"secret-value", 0o600);
        let config = config(dir.path(), "pw").expect("accepted");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).expect("chmod");
        let err = password(&config)
            .resolve()
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );
        write(&path, &vec![b'a'; 70_000], 0o600);
        let err = password(&config)
            .resolve()
            .expect_err("refused")
            .to_string();
        assert!(err.contains("larger than 64 KiB"), "{err}");
    }
}
