//! `[notify] webhook_url`: after a run, the findings that are new since the
//! previous run and those that cleared are POSTed as JSON, only when there
//! is a change.
//!
//! A failed notification is logged and never fails the run. The URL is a
//! secret (it often carries a token): it is never logged, and errors are
//! reported without it.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::config::SecretRef;
use crate::report::Finding;

/// What identifies a finding from one run to the next: its code, the
/// identity and the integration it is about. Its message may change
/// (a count, a name) without it being a new problem.
type Key<'a> = (&'static str, Option<&'a str>, Option<&'a str>);

fn key(finding: &Finding) -> Key<'_> {
    (
        finding.code.as_str(),
        finding.unique_record_id.as_deref(),
        finding.integration.as_deref(),
    )
}

/// The body of a notification.
#[derive(Debug, Serialize)]
pub struct Changes {
    pub schema: &'static str,
    /// Findings of this run that the previous run did not have.
    pub new: Vec<Finding>,
    /// Findings of the previous run that this run no longer has.
    pub cleared: Vec<Finding>,
}

impl Changes {
    /// The difference between two runs' findings. The daemon's first run
    /// compares with no findings, so it announces every current problem.
    pub fn between(previous: &[Finding], current: &[Finding]) -> Changes {
        let before: BTreeSet<Key<'_>> = previous.iter().map(key).collect();
        let now: BTreeSet<Key<'_>> = current.iter().map(key).collect();
        Changes {
            schema: "itsmid.notify.v1",
            new: current
                .iter()
                .filter(|f| !before.contains(&key(f)))
                .cloned()
                .collect(),
            cleared: previous
                .iter()
                .filter(|f| !now.contains(&key(f)))
                .cloned()
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.cleared.is_empty()
    }
}

/// Sends notifications; one HTTP client for the daemon's life.
pub struct Webhook {
    client: reqwest::Client,
}

impl Webhook {
    pub fn new() -> anyhow::Result<Webhook> {
        itsmid_connectors::http::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("itsmid/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| err.without_url())
            .context("cannot set up the webhook's HTTP client")?;
        Ok(Webhook { client })
    }

    /// POSTs `changes` when there are any; logs a failure and goes on.
    pub async fn send(&self, url: &SecretRef, changes: &Changes) {
        if changes.is_empty() {
            return;
        }
        let url = match url.resolve() {
            Ok(url) => url,
            Err(why) => {
                tracing::error!("notify: `notify.webhook_url` cannot be read: {why}");
                return;
            }
        };
        let sent = self
            .client
            .post(url.expose_secret())
            .json(changes)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => tracing::info!(
                new = changes.new.len(),
                cleared = changes.cleared.len(),
                "notify: sent"
            ),
            Ok(response) => tracing::error!(
                "notify: the webhook answered HTTP {}; the change is not announced",
                response.status()
            ),
            Err(err) => tracing::error!("notify: cannot reach the webhook: {}", err.without_url()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FindingCode;

    fn finding(code: FindingCode, urid: &str, integration: &str, message: &str) -> Finding {
        Finding::new(code, message, "fix").on(Some(urid), Some(integration))
    }

    #[test]
    fn new_and_cleared_findings_are_told_apart_and_a_reworded_one_is_neither() {
        let previous = [
            finding(FindingCode::NotFound, "pat@acme.com", "snow", "old words"),
            finding(FindingCode::Inactive, "lee@acme.com", "snow", "inactive"),
        ];
        let current = [
            finding(FindingCode::NotFound, "pat@acme.com", "snow", "new words"),
            finding(FindingCode::Inactive, "lee@acme.com", "jira", "inactive"),
        ];
        let changes = Changes::between(&previous, &current);
        let ids = |fs: &[Finding]| -> Vec<(String, String)> {
            fs.iter()
                .map(|f| {
                    (
                        f.unique_record_id.clone().unwrap_or_default(),
                        f.integration.clone().unwrap_or_default(),
                    )
                })
                .collect()
        };
        assert_eq!(ids(&changes.new), [("lee@acme.com".into(), "jira".into())]);
        assert_eq!(
            ids(&changes.cleared),
            [("lee@acme.com".into(), "snow".into())]
        );
    }

    #[test]
    fn the_same_findings_again_are_no_change() {
        let findings = [finding(FindingCode::NotFound, "pat@acme.com", "snow", "x")];
        assert!(Changes::between(&findings, &findings).is_empty());
        assert_eq!(Changes::between(&[], &findings).new.len(), 1);
    }
}
