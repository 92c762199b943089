//! Secret references (SPEC section 3): `env:NAME` or `file:PATH`, never a
//! literal secret in the file.
//!
//! A reference is resolved only when a connector, the daemon's token or the
//! webhook needs it, straight into a `SecretString`. No message here ever
//! holds a secret's value: errors name the variable or the file.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use crate::doc::TableReader;

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
            SecretRef::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => {
                    let value = text.trim_end_matches(['\r', '\n']);
                    if value.is_empty() {
                        Err(SecretError::FileEmpty(path.clone()))
                    } else {
                        Ok(SecretString::from(value.to_owned()))
                    }
                }
                Err(source) => Err(SecretError::FileUnreadable {
                    path: path.clone(),
                    source,
                }),
            },
        }
    }
}

/// Parses a secret reference, refusing a literal secret without quoting it.
pub(super) fn secret_ref(
    t: &TableReader<'_>,
    key: &'static str,
    value: &str,
    base: &Path,
) -> Option<SecretRef> {
    if let Some(name) = value.strip_prefix("env:") {
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Some(SecretRef::Env(name.to_owned()));
        }
    } else if let Some(file) = value.strip_prefix("file:")
        && !file.is_empty()
    {
        return Some(SecretRef::File(base.join(file)));
    }
    t.problems().add(
        t.node(key).and_then(|n| n.line),
        &format!("{}.{key}", t.path),
        format!("`{key}` holds a literal secret or a malformed reference (its value is not shown)"),
        format!("put the secret in an environment variable or a file and write {key} = \"env:NAME\" or \"file:PATH\""),
    );
    None
}
