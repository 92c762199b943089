//! Refused credentials across runs (SPEC section 7): a system whose
//! credentials were refused (`auth_failed`) is not asked again until its
//! backoff has passed: one interval, doubling per refusal up to 24 hours.
//! A changed connector config or secret is tried at once.
//!
//! Keeps no secret: a connector is known by a keyed hash of its config and
//! credentials, with a key made at start and never shown.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::Duration;

use crate::check::{Connected, Held, Hold};
use crate::report::{SystemRow, SystemStatus};
use itsmid_connectors::Reason;

/// The longest wait between two attempts.
const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// One system's backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Backoff {
    /// What the connector was when it was refused.
    fingerprint: u64,
    wait: Duration,
    until: jiff::Timestamp,
}

/// Every backed-off system, by integration.
#[derive(Debug, Default)]
pub struct Backoffs {
    key: std::collections::hash_map::RandomState,
    systems: BTreeMap<String, Backoff>,
}

impl Backoffs {
    /// What each connector is now: its settings and its secrets' values,
    /// hashed with this daemon's key.
    pub fn fingerprints(&self, connected: &[Connected]) -> BTreeMap<String, u64> {
        connected
            .iter()
            .map(|c| {
                let mut hasher = self.key.build_hasher();
                let config = &c.config;
                (
                    config.integration.as_str(),
                    config.system.as_str(),
                    config.base_url.as_str(),
                    config.requests_per_minute,
                    &config.lookup_by,
                    config.timeout,
                )
                    .hash(&mut hasher);
                format!("{:?}", config.auth).hash(&mut hasher);
                c.connector.http().credentials().fingerprint(&mut hasher);
                (config.integration.as_str().to_owned(), hasher.finish())
            })
            .collect()
    }

    /// Before a run: the systems not to ask, with their next attempt. A
    /// backoff whose connector changed since the refusal is dropped.
    pub fn hold(&mut self, fingerprints: &BTreeMap<String, u64>, now: jiff::Timestamp) -> Held {
        self.systems.retain(|integration, backoff| {
            fingerprints.get(integration) == Some(&backoff.fingerprint)
        });
        self.systems
            .iter()
            .filter(|(_, backoff)| backoff.until > now)
            .map(|(integration, backoff)| {
                (
                    integration.clone(),
                    Hold::Until(
                        backoff
                            .until
                            .round(jiff::Unit::Second)
                            .unwrap_or(backoff.until)
                            .to_string(),
                    ),
                )
            })
            .collect()
    }

    /// After a run: a refusal starts the backoff (one interval) or doubles
    /// it; a system that answered is forgotten; a held one keeps its own.
    pub fn record(
        &mut self,
        fingerprints: &BTreeMap<String, u64>,
        rows: &[SystemRow],
        held: &Held,
        interval: Duration,
        now: jiff::Timestamp,
    ) {
        for row in rows {
            if held.contains_key(&row.integration) {
                continue;
            }
            let refused =
                row.status == SystemStatus::Unavailable && row.reason == Some(Reason::AuthFailed);
            if !refused {
                self.systems.remove(&row.integration);
                continue;
            }
            let Some(fingerprint) = fingerprints.get(&row.integration) else {
                continue;
            };
            let wait = match self.systems.get(&row.integration) {
                Some(previous) if previous.fingerprint == *fingerprint => previous.wait * 2,
                _ => interval,
            }
            .min(MAX_WAIT);
            let until = jiff::SignedDuration::try_from(wait)
                .ok()
                .and_then(|wait| now.checked_add(wait).ok())
                .unwrap_or(now);
            tracing::warn!(
                integration = %row.integration,
                wait_s = wait.as_secs(),
                "credentials refused: not asked again until the backoff has passed or the connector changes"
            );
            self.systems.insert(
                row.integration.clone(),
                Backoff {
                    fingerprint: *fingerprint,
                    wait,
                    until,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CredentialCheck, ReadinessStatus};

    fn row(integration: &str, reason: Option<Reason>) -> SystemRow {
        SystemRow {
            integration: integration.into(),
            system: "servicenow".into(),
            status: if reason.is_some() {
                SystemStatus::Unavailable
            } else {
                SystemStatus::Ok
            },
            api_requests: 1,
            reason,
            credential_check: CredentialCheck::Unavailable,
            credential_owner: None,
            rate_limit_waits: 0,
            detail: None,
            readiness: ReadinessStatus::Skipped,
            readiness_detail: None,
            notes: Default::default(),
            wall_time: Duration::ZERO,
        }
    }

    fn at(text: &str) -> jiff::Timestamp {
        text.parse().expect("a timestamp")
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_refusal_holds_the_system_one_interval_then_twice_as_long() {
        let mut backoffs = Backoffs::default();
        let prints = BTreeMap::from([("snow".to_owned(), 7)]);
        let refused = [row("snow", Some(Reason::AuthFailed))];
        backoffs.record(
            &prints,
            &refused,
            &Held::new(),
            HOUR,
            at("2026-12-06T10:00:00Z"),
        );
        let held = backoffs.hold(&prints, at("2026-12-06T10:30:00Z"));
        assert_eq!(held["snow"], Hold::Until("2026-12-06T11:00:00Z".into()));
        // Asked again after the hour, and refused again: two hours.
        assert!(
            backoffs
                .hold(&prints, at("2026-12-06T11:00:01Z"))
                .is_empty()
        );
        backoffs.record(
            &prints,
            &refused,
            &Held::new(),
            HOUR,
            at("2026-12-06T11:00:01Z"),
        );
        let held = backoffs.hold(&prints, at("2026-12-06T12:00:00Z"));
        assert_eq!(held["snow"], Hold::Until("2026-12-06T13:00:01Z".into()));
    }

    #[test]
    fn the_wait_stops_doubling_at_a_day() {
        let mut backoffs = Backoffs::default();
        let prints = BTreeMap::from([("snow".to_owned(), 7)]);
        let refused = [row("snow", Some(Reason::AuthFailed))];
        let mut now = at("2026-12-01T00:00:00Z");
        for _ in 0..8 {
            backoffs.record(&prints, &refused, &Held::new(), 4 * HOUR, now);
            now = now
                .checked_add(jiff::SignedDuration::from_hours(48))
                .expect("a time");
        }
        assert_eq!(backoffs.systems["snow"].wait, MAX_WAIT);
    }

    #[test]
    fn a_changed_connector_or_secret_is_tried_at_once() {
        let mut backoffs = Backoffs::default();
        let before = BTreeMap::from([("snow".to_owned(), 7)]);
        let refused = [row("snow", Some(Reason::AuthFailed))];
        backoffs.record(
            &before,
            &refused,
            &Held::new(),
            HOUR,
            at("2026-12-06T10:00:00Z"),
        );
        let after = BTreeMap::from([("snow".to_owned(), 8)]);
        assert!(backoffs.hold(&after, at("2026-12-06T10:10:00Z")).is_empty());
        assert!(backoffs.systems.is_empty(), "the old backoff is forgotten");
    }

    #[test]
    fn an_answer_or_another_failure_clears_the_backoff_and_a_held_system_keeps_it() {
        let mut backoffs = Backoffs::default();
        let prints = BTreeMap::from([("snow".to_owned(), 7), ("jira".to_owned(), 9)]);
        let now = at("2026-12-06T10:00:00Z");
        backoffs.record(
            &prints,
            &[
                row("snow", Some(Reason::AuthFailed)),
                row("jira", Some(Reason::Unreachable)),
            ],
            &Held::new(),
            HOUR,
            now,
        );
        assert_eq!(
            backoffs.systems.len(),
            1,
            "an unreachable system is asked every run"
        );
        let held = backoffs.hold(&prints, now);
        backoffs.record(
            &prints,
            &[row("snow", Some(Reason::AuthFailed))],
            &held,
            HOUR,
            now,
        );
        assert_eq!(
            backoffs.systems["snow"].wait, HOUR,
            "a held run does not double it"
        );
        backoffs.record(&prints, &[row("snow", None)], &Held::new(), HOUR, now);
        assert!(backoffs.systems.is_empty());
    }
}
