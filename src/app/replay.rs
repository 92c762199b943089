//! `--replay DIR` (SPEC section 8): the connectors of the config pointed at
//! in-process simulators started from a recording, one per connector, on
//! loopback. No secret reference is resolved and no other address is
//! contacted: every secret is a placeholder the recording's simulators
//! accept, and every address the connector has is moved to its simulator.
//! A connector without a file in the recording is not asked: it is
//! unavailable, "not in the recording".

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use itsmid_connectors::AnyConnector;
use itsmid_connectors::sim::AnySimulator;

use crate::check::{Connected, Held, Hold};
use crate::config::Config;

/// The connectors a command runs, and the simulators a replay started for
/// them (which answer as long as this lives).
pub struct Connections {
    pub connected: Vec<Connected>,
    pub held: Held,
    _simulators: Vec<AnySimulator>,
}

impl Connections {
    /// The live systems of the config.
    pub fn live(config: &Config) -> anyhow::Result<Connections> {
        Ok(Connections {
            connected: super::connect(config)?,
            held: Held::new(),
            _simulators: Vec::new(),
        })
    }

    /// The recording in `dir`, or the live systems without one.
    pub async fn of(config: &Config, replay: Option<&Path>) -> anyhow::Result<Connections> {
        match replay {
            None => Connections::live(config),
            Some(dir) => Connections::replay(config, dir).await,
        }
    }

    /// One simulator per connector whose file the recording holds.
    pub async fn replay(config: &Config, dir: &Path) -> anyhow::Result<Connections> {
        if !dir.join(crate::recording::MANIFEST).is_file() {
            return Err(anyhow!(
                "{} holds no recording ({} is missing); make one with `itsmid record --out {}`",
                dir.display(),
                crate::recording::MANIFEST,
                dir.display()
            ));
        }
        let manifest_path = dir.join(crate::recording::MANIFEST);
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&manifest_path)
                .with_context(|| format!("cannot read {}", manifest_path.display()))?,
        )
        .with_context(|| format!("{} is not JSON", manifest_path.display()))?;
        let mut connections = Connections {
            connected: Vec::new(),
            held: Held::new(),
            _simulators: Vec::new(),
        };
        for c in &config.connectors {
            let file = data_file(dir, c.integration.as_str())
                .map_err(|why| anyhow!("{}: {why}", config.path.display()))?;
            let base = if file.is_file() {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                let sim =
                    AnySimulator::start(c.system, &file.display().to_string(), &text, None, false)
                        .await
                        .with_context(|| {
                            format!(
                                "{} is not a recording of {}: record again with `itsmid record`",
                                file.display(),
                                c.system
                            )
                        })?;
                let uri: url::Url = sim
                    .uri()
                    .parse()
                    .context("the simulator's address is not a URL")?;
                connections._simulators.push(sim);
                uri
            } else {
                // Never contacted: the check does not ask a held system.
                connections
                    .held
                    .insert(c.integration.as_str().to_owned(), Hold::NotRecorded);
                c.base_url.clone()
            };
            let username = crate::recording::recorded_username(&manifest, c.integration.as_str());
            let connector = AnyConnector::new(crate::config::replay_settings(c, &base, username))
                .with_context(|| format!("connector `{}`", c.integration))?;
            connections.connected.push(Connected {
                config: c.clone(),
                connector,
            });
        }
        Ok(connections)
    }
}

/// The recording's file for one integration.
pub fn data_file(dir: &Path, integration: &str) -> Result<PathBuf, String> {
    crate::recording::data_file_name(integration).map(|name| dir.join(name))
}

/// The identities file a replay reads: the recording's own, pseudonymized
/// one when it has it, else the config's.
pub fn identities_path(config: &Config, replay: Option<&Path>) -> PathBuf {
    replay
        .map(|dir| dir.join(crate::recording::IDENTITIES))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| config.identities.clone())
}
