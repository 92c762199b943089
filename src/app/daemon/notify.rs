//! `[notify] webhook_url`: after a run, the findings that are new since the
//! previous run and those that cleared are POSTed as JSON, only when there
//! is a change.
//!
//! A failed notification is retried with backoff for up to a minute, then
//! kept and sent with the next run's changes, so no new or cleared problem
//! is lost; it never fails the run. The URL is a secret (it often carries a
//! token): it is never logged, and errors are reported without it.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::config::SecretRef;
use crate::report::Finding;

/// What identifies a finding from one run to the next: its code, the
/// identity and the integration it is about, and what it expected and
/// found (two findings of one code on one identity, such as two missing
/// roles, are two problems). Its message may change (a count, a name)
/// without it being a new problem.
type Key<'a> = (
    &'static str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

fn key(finding: &Finding) -> Key<'_> {
    (
        finding.code.as_str(),
        finding.unique_record_id.as_deref(),
        finding.integration.as_deref(),
        finding.expected.as_deref(),
        finding.actual.as_deref(),
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

    /// This run's changes after ones that were not delivered: both are
    /// told, a problem that came and went included, each finding once.
    pub fn after(undelivered: Option<Changes>, latest: Changes) -> Changes {
        let Some(mut merged) = undelivered else {
            return latest;
        };
        for (list, more) in [
            (&mut merged.new, latest.new),
            (&mut merged.cleared, latest.cleared),
        ] {
            for finding in more {
                if !list.iter().any(|f| key(f) == key(&finding)) {
                    list.push(finding);
                }
            }
        }
        merged
    }
}

/// SPEC section 7: the webhook gets the findings (names, e-mail
/// addresses), so only over TLS, or in the clear to this machine.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|err| format!("`notify.webhook_url` is not a URL ({err})"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        scheme => Err(format!(
            "`notify.webhook_url` uses {scheme}://; use https:// (http:// only to a loopback address)"
        )),
    }
}

/// How long a notification is retried before it waits for the next run.
const DELIVERY_BUDGET: Duration = Duration::from_secs(60);
/// The first wait between attempts; it doubles after each.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

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

    /// POSTs `changes` when there are any, retrying with backoff for up to
    /// a minute. Returns false when they were not delivered: the caller
    /// keeps them for the next run.
    pub async fn send(&self, url: &SecretRef, changes: &Changes) -> bool {
        if changes.is_empty() {
            return true;
        }
        let url = match url.resolve() {
            Ok(url) => url,
            Err(why) => {
                tracing::error!("notify: `notify.webhook_url` cannot be read: {why}");
                return false;
            }
        };
        if let Err(why) = check_url(url.expose_secret()) {
            tracing::error!("notify: {why}; nothing was sent");
            return false;
        }
        let started = tokio::time::Instant::now();
        let mut wait = FIRST_BACKOFF;
        loop {
            let sent = self
                .client
                .post(url.expose_secret())
                .json(changes)
                .send()
                .await;
            let why = match sent {
                Ok(response) if response.status().is_success() => {
                    tracing::info!(
                        new = changes.new.len(),
                        cleared = changes.cleared.len(),
                        "notify: sent"
                    );
                    return true;
                }
                Ok(response) => format!("the webhook answered HTTP {}", response.status()),
                Err(err) => format!("cannot reach the webhook: {}", err.without_url()),
            };
            if started.elapsed() + wait > DELIVERY_BUDGET {
                tracing::error!(
                    "notify: {why}; the change is kept and sent with the next run's changes"
                );
                return false;
            }
            tracing::warn!(wait_s = wait.as_secs(), "notify: {why}; trying again");
            tokio::time::sleep(wait).await;
            wait *= 2;
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
    fn undelivered_changes_go_with_the_next_ones_each_finding_once() {
        let pat = finding(FindingCode::NotFound, "pat@acme.com", "snow", "x");
        let lee = finding(FindingCode::Inactive, "lee@acme.com", "snow", "x");
        let missed = Changes::between(&[], std::slice::from_ref(&pat));
        let latest = Changes::between(std::slice::from_ref(&pat), std::slice::from_ref(&lee));
        let merged = Changes::after(Some(missed), latest);
        let codes = |fs: &[Finding]| fs.iter().map(|f| f.code.as_str()).collect::<Vec<_>>();
        assert_eq!(codes(&merged.new), ["NOT_FOUND", "INACTIVE"]);
        assert_eq!(codes(&merged.cleared), ["NOT_FOUND"]);
        let again = Changes::after(None, Changes::between(&[], std::slice::from_ref(&lee)));
        assert_eq!(codes(&again.new), ["INACTIVE"]);
    }

    #[test]
    fn the_webhook_takes_https_or_plain_http_to_this_machine_only() {
        assert!(check_url("https://hooks.example.com/T0/B0/x").is_ok());
        assert!(check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(check_url("http://localhost/hook").is_ok());
        let err = check_url("http://hooks.example.com/x").expect_err("refused");
        assert!(err.contains("use https://"), "{err}");
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn two_findings_of_one_code_on_one_identity_are_told_apart() {
        let role = |missing: &str| {
            finding(
                FindingCode::BotPermissionMissing,
                "bot@acme.com",
                "snow",
                "x",
            )
            .values(Some("itil".into()), Some(missing.into()))
        };
        let before = [role("itil"), role("sn_request_write")];
        let after = [role("itil")];
        let changes = Changes::between(&before, &after);
        assert_eq!(changes.cleared.len(), 1);
        assert_eq!(
            changes.cleared[0].actual.as_deref(),
            Some("sn_request_write")
        );
        assert!(changes.new.is_empty());
    }

    #[test]
    fn the_same_findings_again_are_no_change() {
        let findings = [finding(FindingCode::NotFound, "pat@acme.com", "snow", "x")];
        assert!(Changes::between(&findings, &findings).is_empty());
        assert_eq!(Changes::between(&[], &findings).new.len(), 1);
    }
}
