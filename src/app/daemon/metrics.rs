//! The daemon's Prometheus metrics: runs by outcome, findings by code from
//! the last run, and per integration the API requests, the check's wall
//! time and the rate-limit waits, all read from the check report.
//!
//! Never labels a metric with a user or a value from a file: only finding
//! codes, outcomes and integration ids, so the series stay few.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use super::RunOutcome;
use crate::report::Report;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IntegrationLabel {
    integration: String,
}

type Histograms = Family<IntegrationLabel, Histogram, fn() -> Histogram>;

/// The families are handles into `registry`: a clone of each is registered.
pub struct Metrics {
    registry: Registry,
    runs: Family<OutcomeLabel, Counter>,
    findings: Family<CodeLabel, Gauge>,
    api_requests: Family<IntegrationLabel, Counter>,
    check_seconds: Histograms,
    rate_limit_waits: Family<IntegrationLabel, Counter>,
    last_run: Gauge,
    healthy: Gauge,
}

fn check_histogram() -> Histogram {
    // 50 ms to about 7 minutes.
    Histogram::new(exponential_buckets(0.05, 2.0, 14))
}

impl Metrics {
    pub fn new() -> Metrics {
        let runs = Family::<OutcomeLabel, Counter>::default();
        let findings = Family::<CodeLabel, Gauge>::default();
        let api_requests = Family::<IntegrationLabel, Counter>::default();
        let check_seconds: Histograms = Family::new_with_constructor(check_histogram);
        let rate_limit_waits = Family::<IntegrationLabel, Counter>::default();
        let last_run = Gauge::default();
        let healthy = Gauge::default();
        let mut registry = Registry::with_prefix("itsmid");
        registry.register(
            "healthy",
            "1 when the daemon is healthy, 0 while starting or degraded",
            healthy.clone(),
        );
        registry.register(
            "runs",
            "Pipeline runs by outcome: ok, problems, refused, failed",
            runs.clone(),
        );
        registry.register(
            "findings",
            "Findings of the last finished check, by code",
            findings.clone(),
        );
        registry.register(
            "api_requests",
            "HTTP requests sent to each integration's system, retries included",
            api_requests.clone(),
        );
        registry.register_with_unit(
            "system_check",
            "Wall time of each integration's part of a check (all its requests)",
            Unit::Seconds,
            check_seconds.clone(),
        );
        registry.register(
            "rate_limit_waits",
            "Times a system asked us to wait (429, 503 with Retry-After)",
            rate_limit_waits.clone(),
        );
        registry.register(
            "last_run_timestamp_seconds",
            "When the last run finished, in seconds since the Unix epoch",
            last_run.clone(),
        );
        Metrics {
            registry,
            runs,
            findings,
            api_requests,
            check_seconds,
            rate_limit_waits,
            last_run,
            healthy,
        }
    }

    /// Sets `itsmid_healthy`, read when the metrics are scraped.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.set(i64::from(healthy));
    }

    /// Counts one run; `check` is its report when the check ran.
    pub fn record_run(&self, outcome: RunOutcome, check: Option<&Report>) {
        self.runs
            .get_or_create(&OutcomeLabel {
                outcome: outcome.as_str(),
            })
            .inc();
        self.last_run.set(jiff::Timestamp::now().as_second());
        let Some(report) = check else { return };
        self.findings.clear();
        for finding in &report.findings {
            self.findings
                .get_or_create(&CodeLabel {
                    code: finding.code.as_str(),
                })
                .inc();
        }
        for row in &report.systems {
            let label = IntegrationLabel {
                integration: row.integration.clone(),
            };
            self.api_requests
                .get_or_create(&label)
                .inc_by(u64::from(row.api_requests));
            self.rate_limit_waits
                .get_or_create(&label)
                .inc_by(u64::from(row.rate_limit_waits));
            self.check_seconds
                .get_or_create(&label)
                .observe(row.wall_time.as_secs_f64());
        }
    }

    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        CredentialCheck, Finding, FindingCode, ReadinessStatus, Summary, SystemRow, SystemStatus,
    };

    fn report() -> Report {
        Report {
            schema: "itsmid.report.v1",
            generated_at: String::new(),
            complete: true,
            summary: Summary::default(),
            systems: vec![SystemRow {
                integration: "snow".into(),
                system: "servicenow".into(),
                status: SystemStatus::Ok,
                api_requests: 3,
                reason: None,
                credential_check: CredentialCheck::Ok,
                credential_owner: None,
                rate_limit_waits: 1,
                detail: None,
                readiness: ReadinessStatus::Skipped,
                readiness_detail: None,
                notes: Default::default(),
                wall_time: std::time::Duration::from_millis(120),
            }],
            findings: vec![
                Finding::new(FindingCode::NotFound, "a", "b"),
                Finding::new(FindingCode::NotFound, "c", "d"),
            ],
            identities: Vec::new(),
        }
    }

    #[test]
    fn counters_add_up_over_runs_and_findings_are_the_last_runs() {
        let metrics = Metrics::new();
        metrics.record_run(RunOutcome::Problems, Some(&report()));
        let mut second = report();
        second.findings.clear();
        metrics.record_run(RunOutcome::Ok, Some(&second));
        metrics.record_run(RunOutcome::Failed, None);
        let text = metrics.encode();
        for line in [
            "itsmid_runs_total{outcome=\"problems\"} 1",
            "itsmid_runs_total{outcome=\"ok\"} 1",
            "itsmid_runs_total{outcome=\"failed\"} 1",
            "itsmid_api_requests_total{integration=\"snow\"} 6",
            "itsmid_rate_limit_waits_total{integration=\"snow\"} 2",
            "itsmid_system_check_seconds_count{integration=\"snow\"} 2",
        ] {
            assert!(text.contains(line), "no {line} in\n{text}");
        }
        assert!(!text.contains("itsmid_findings{"), "{text}");
    }
}
