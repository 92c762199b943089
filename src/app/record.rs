//! `itsmid record --out DIR [--pseudonymize]` (SPEC section 8): the check
//! against the live systems, and what they answered written as one
//! simulator data file per connector, with a manifest, so that CI replays
//! it with `--replay DIR`.
//!
//! Writes only answers: no request header, no secret, no token. A system
//! that could not be checked gets no file, so its replay says "not in the
//! recording" instead of judging against nothing. A recording already in
//! `DIR` is replaced; files are written whole or not at all.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, anyhow};
use serde_json::Value;

use crate::config::Config;
use crate::identities::Identities;
use crate::progress::Progress;
use crate::recording::{IDENTITIES, MANIFEST, Pseudonymizer};
use crate::report::Report;

/// Checks the live systems and writes the recording into `out`; returns
/// the check's report.
pub async fn record(
    config: &Config,
    identities: &Identities,
    out: &Path,
    pseudonymize: bool,
    progress: &Progress,
) -> anyhow::Result<Report> {
    // Refused before anything is checked: the recording could not be written.
    for c in &config.connectors {
        crate::recording::data_file_name(c.integration.as_str())
            .map_err(|why| anyhow!("{}: {why}", config.path.display()))?;
    }
    if out.exists() && !out.is_dir() {
        return Err(anyhow!(
            "--out {}: is a file; name a folder for the recording (it is created if missing)",
            out.display()
        ));
    }
    let connected = super::connect_keeping_answers(config, true)?;
    let run =
        crate::check::run_observed(identities, &connected, &Default::default(), progress).await;
    let mut pseudonyms = if pseudonymize {
        Some(Pseudonymizer::new(pseudonym_key()?))
    } else {
        None
    };
    let mut datas = BTreeMap::new();
    let mut integrations = BTreeMap::new();
    for c in &connected {
        let integration = c.config.integration.as_str();
        if run.unavailable.contains(integration) {
            tracing::warn!(integration, "not recorded: the system could not be checked");
            continue;
        }
        let exchanges = c.connector.http().recorded();
        let mut data = itsmid_connectors::recorded::recorded_data(
            c.config.system,
            &exchanges,
            run.owners.get(integration),
        );
        if let Some(pseudonyms) = &mut pseudonyms {
            let (names, logins) = itsmid_connectors::recorded::personal_fields(c.config.system);
            pseudonyms.data_file(&mut data, names, logins);
        }
        let username = match &mut pseudonyms {
            Some(pseudonyms) => {
                crate::config::auth_username(&c.config.auth).map(|name| pseudonyms.login(name))
            }
            None => None,
        };
        integrations.insert(
            integration.to_owned(),
            crate::recording::Recorded {
                system: c.config.system,
                records: crate::recording::record_counts(&data),
                username,
            },
        );
        let name = crate::recording::data_file_name(integration)
            .map_err(|why| anyhow!("{}: {why}", config.path.display()))?;
        datas.insert(name, data);
    }
    let mut files = BTreeMap::new();
    if let Some(pseudonyms) = &mut pseudonyms {
        let mut identities = identities_value(config)?;
        pseudonyms.identities(&mut identities);
        // The second pass, once every login is known.
        for data in datas.values_mut() {
            pseudonyms.known(data);
        }
        pseudonyms.known(&mut identities);
        files.insert(IDENTITIES.to_owned(), identities_text(&identities)?);
    }
    for (name, data) in &datas {
        files.insert(name.clone(), crate::recording::file_text(data));
    }
    let recorded_at = crate::report::now_to_the_second();
    let manifest = crate::recording::manifest(&recorded_at, pseudonymize, &integrations);
    files.insert(MANIFEST.to_owned(), crate::recording::file_text(&manifest));
    write_recording(out, &files)?;
    Ok(run.report)
}

/// The key the pseudonyms are drawn with: `ITSMID_PSEUDONYM_KEY` (any
/// text; the same key gives the same pseudonyms, so unchanged systems
/// record to the same bytes), else a fresh random one. Never written.
fn pseudonym_key() -> anyhow::Result<[u8; 32]> {
    if let Some(text) = std::env::var_os("ITSMID_PSEUDONYM_KEY").filter(|v| !v.is_empty()) {
        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_encoded_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(digest.as_ref());
        return Ok(key);
    }
    super::random_bytes()
}

/// The config's identities file as data.
fn identities_value(config: &Config) -> anyhow::Result<Value> {
    let path = &config.identities;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut value: Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(text).with_context(|| format!("{} is not JSON", path.display()))?
    } else {
        let table: toml::Table =
            toml::from_str(text).with_context(|| format!("{} is not TOML", path.display()))?;
        serde_json::to_value(table).context("the identities file cannot be read as data")?
    };
    drop_nulls(&mut value);
    Ok(value)
}

/// The pseudonymized identities as the TOML a recording's folder holds.
/// Comments are not kept: they may name people.
fn identities_text(identities: &Value) -> anyhow::Result<String> {
    let mut out = String::from(
        "# The recording's identities, pseudonymized with the data files (itsmid record --pseudonymize).\n",
    );
    out.push_str(
        &toml::to_string(identities)
            .context("the pseudonymized identities cannot be written as TOML")?,
    );
    Ok(out)
}

/// TOML has no null: a JSON identities file's nulls are left out.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(object) => {
            object.retain(|_, v| !v.is_null());
            object.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Replaces the recording in `out`: the files the old manifest named go,
/// then every new file is written whole (a temporary file renamed).
fn write_recording(out: &Path, files: &BTreeMap<String, String>) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for old in previous_files(out) {
        if !files.contains_key(&old) {
            let path = out.join(&old);
            std::fs::remove_file(&path)
                .or_else(|err| match err.kind() {
                    std::io::ErrorKind::NotFound => Ok(()),
                    _ => Err(err),
                })
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    for (name, text) in files {
        let path = out.join(name);
        let partial = out.join(format!(".{name}.partial"));
        crate::private_file::write(&partial, text.as_bytes())
            .with_context(|| format!("cannot write {}", partial.display()))?;
        std::fs::rename(&partial, &path)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The files of the recording already in `out`, as its manifest names them.
fn previous_files(out: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(out.join(MANIFEST)) else {
        return Vec::new();
    };
    let Ok(manifest) = serde_json::from_str::<Value>(&text) else {
        return Vec::new();
    };
    // Only names a recording could have written: an edited manifest never
    // makes a file outside the folder go.
    let mut names: Vec<String> = manifest["integrations"]
        .as_object()
        .map(|o| {
            o.keys()
                .filter_map(|k| crate::recording::data_file_name(k).ok())
                .collect()
        })
        .unwrap_or_default();
    names.push(IDENTITIES.to_owned());
    names
}
