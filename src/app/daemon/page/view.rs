//! What the status page shows, as the daemon hands it over: its health,
//! the last report and the recent runs.

use std::collections::BTreeMap;

use crate::app::daemon::{Health, LastRun};
use crate::pipeline::store::Snapshot;

/// One finished run, as the store keeps it for the trend (oldest first).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    /// When it finished, RFC 3339 in UTC.
    pub finished_at: String,
    /// `ok`, `problems`, `refused` or `failed`.
    pub outcome: String,
    pub seconds: f64,
    pub errors: u64,
    pub warnings: u64,
    /// Findings per code.
    pub codes: BTreeMap<String, u64>,
    /// What the load did, when it loaded.
    pub load: Option<LoadCounts>,
    /// Why the load was blocked by large data change protection, if it was.
    pub blocked: Option<String>,
}

/// A load's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoadCounts {
    pub users: u64,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
}

/// Everything the page shows.
pub struct PageView<'a> {
    pub now: jiff::Timestamp,
    pub health: Health,
    pub last_run: Option<&'a LastRun>,
    /// When the next scheduled run is due.
    pub next_run_at: Option<jiff::Timestamp>,
    pub running: bool,
    /// The last failed run's message.
    pub last_failure: Option<&'a str>,
    /// The last check report (`itsmid.report.v1`).
    pub report: Option<&'a serde_json::Value>,
    /// The recent runs, oldest first.
    pub runs: &'a [RunRecord],
    /// The loads the store keeps (`itsmid history`), oldest first.
    pub loads: &'a [Snapshot],
    /// The form's anti-forgery token, when the viewer may start a run (the
    /// full token); `None` hides the "Run now" button.
    pub run_now: Option<&'a str>,
}
