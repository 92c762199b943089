//! The status page (`GET /`): one server-rendered HTML page that says
//! whether ticketing is safe, from what the daemon already holds: its
//! health, the last report, and the run history kept in the store.
//!
//! Rendered with compile-time checked templates; no external asset, no
//! JavaScript framework: a few lines of inline script filter the entries,
//! and the page is complete without them. Inline script and style are
//! allowed by their hashes in the Content-Security-Policy, nothing else.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine as _;
use jiff::Timestamp;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde_json::Value;

use super::{Health, LastRun};

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
    /// The form's anti-forgery token, when the viewer may start a run (the
    /// full token); `None` hides the "Run now" button.
    pub run_now: Option<&'a str>,
}

/// The one inline script: hides the entry rows that do not contain the
/// typed text. It only ever hides rows, so without it every row shows.
pub const SCRIPT: &str = r#"
(function () {
  var input = document.getElementById("filter");
  if (!input) { return; }
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-entry]"));
  var count = document.getElementById("filter-count");
  function apply() {
    var wanted = input.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var hit = wanted === "" || row.getAttribute("data-entry").toLowerCase().indexOf(wanted) !== -1;
      row.hidden = !hit;
      if (hit) { shown += 1; }
    });
    if (count) { count.textContent = shown + " of " + rows.length + " entries shown"; }
  }
  input.addEventListener("input", apply);
  apply();
})();
"#;

/// The one inline style sheet. Every status also carries a word and a
/// symbol, so the colours here are never the only signal.
pub const STYLE: &str = r#"
:root { --good: #1a7f37; --warn: #8a5300; --bad: #b3261e; --quiet: #57606a; --line: #d0d7de; --soft: #f6f8fa; --ink: #1f2328; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
header.top, main { max-width: 80rem; margin: 0 auto; padding-left: 1.5rem; padding-right: 1.5rem; }
header.top { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .5rem 1.5rem; padding-top: 1rem; padding-bottom: .75rem; border-bottom: 1px solid var(--line); }
header.top p { margin: 0; color: var(--quiet); }
h1 { font-size: 1.5rem; margin: 0; }
h2 { font-size: 1.25rem; margin: 2rem 0 .75rem; }
section { margin-bottom: 1.5rem; }
.banner { margin-top: 1rem; padding: .75rem 1rem; border: 1px solid var(--line); border-left: .5rem solid var(--quiet); border-radius: .375rem; background: var(--soft); }
.banner.good { border-left-color: var(--good); }
.banner.warn { border-left-color: var(--warn); }
.banner.bad { border-left-color: var(--bad); }
.banner h2 { margin: 0 0 .25rem; }
.banner p { margin: .25rem 0; }
.facts { margin: .5rem 0 0; padding-left: 1.25rem; }
.failure h3 { font-size: 1rem; margin: .75rem 0 .25rem; }
.failure pre { margin: 0; padding: .5rem .75rem; white-space: pre-wrap; overflow-wrap: anywhere; background: #fff; border: 1px solid var(--line); border-radius: .25rem; }
.table-wrap { overflow-x: auto; margin-bottom: 1rem; border: 1px solid var(--line); border-radius: .375rem; }
table { width: 100%; border-collapse: collapse; font-size: .9375rem; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: .5rem .75rem; }
th, td { text-align: left; vertical-align: top; padding: .4rem .75rem; border-top: 1px solid var(--line); }
thead th { background: var(--soft); white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .875rem; }
.msg { min-width: 16rem; overflow-wrap: anywhere; }
.sub { display: block; color: var(--quiet); font-size: .875rem; overflow-wrap: break-word; }
.badge { font-weight: 600; white-space: nowrap; }
.badge.good { color: var(--good); }
.badge.warn { color: var(--warn); }
.badge.bad { color: var(--bad); }
.badge.info, .badge.quiet { color: var(--quiet); }
.rel { color: var(--quiet); }
.nowrap { white-space: nowrap; }
dl.ea { display: grid; grid-template-columns: auto 1fr; gap: 0 .5rem; margin: .25rem 0 0; font-size: .875rem; }
dl.ea dt { color: var(--quiet); }
dl.ea dd { margin: 0; overflow-wrap: anywhere; }
.filter { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; margin-bottom: .25rem; }
.filter input { font: inherit; width: 22rem; max-width: 100%; padding: .35rem .5rem; border: 1px solid #8c959f; border-radius: .25rem; }
#filter-count { margin: 0 0 .5rem; color: var(--quiet); }
button { font: inherit; font-weight: 600; padding: .4rem 1.1rem; color: #fff; background: #0969da; border: 1px solid #0969da; border-radius: .25rem; cursor: pointer; }
button:hover { background: #0550ae; }
button:focus-visible, input:focus-visible { outline: 3px solid #0969da; outline-offset: 2px; }
.chart { display: block; width: 100%; max-width: 48rem; height: auto; margin-bottom: 1rem; }
.vh { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  header.top, main { padding-left: .75rem; padding-right: .75rem; }
  h2 { margin-top: 1.5rem; }
  th, td { padding: .35rem .5rem; }
  .msg { min-width: 14rem; }
}
"#;

/// The policy that lets exactly [`SCRIPT`] and [`STYLE`] run and nothing
/// else: no other script or style, no inline attribute, no frame, and forms
/// post only back to the daemon.
pub fn content_security_policy() -> String {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY
        .get_or_init(|| {
            format!(
                "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; \
                 img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                sha256_base64(SCRIPT),
                sha256_base64(STYLE)
            )
        })
        .clone()
}

/// The CSP source hash: a browser hashes the element's exact text.
fn sha256_base64(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

/// The status page. Every value from the report or the store goes through
/// maud's escaping; only the two constants are inserted as they are.
pub fn render(view: &PageView) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "itsmid status" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.top {
                    h1 { "itsmid status" }
                    p { "As of " (when(view.now, view.now)) }
                    @if let Some(csrf) = view.run_now {
                        (run_now_form(csrf))
                    }
                }
                main {
                    (health_section(view))
                    (systems_section(view.report))
                    (problems_section(view.report))
                    (entries_section(view.report))
                    (trend_section(view.now, view.runs))
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
    .into_string()
}

/// Posts back to the daemon with the anti-forgery token; shown only to a
/// viewer who may start a run.
fn run_now_form(csrf: &str) -> Markup {
    html! {
        form.run-now method="post" action="/api/v1/runs" {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { "Run now" }
        }
    }
}

fn health_section(view: &PageView) -> Markup {
    let (label, tone, meaning) = match view.health {
        Health::Ok => ("OK", Tone::Good, "The last run finished, and it is recent."),
        Health::Degraded => (
            "Degraded",
            Tone::Bad,
            "The last run failed, or the last successful run is older than twice the interval: what this page shows may be out of date.",
        ),
        Health::Starting => ("Starting", Tone::Quiet, "No run has finished yet."),
    };
    html! {
        section #health class={ "banner " (tone.class()) } aria-labelledby="health-h" {
            h2 #health-h { "Health: " (label) }
            p { (meaning) }
            @if has_facts(view) {
                (facts(view))
            }
            @if let Some(failure) = view.last_failure {
                div.failure {
                    h3 { "Last failure" }
                    pre { (failure) }
                }
            }
        }
    }
}

/// An empty list would be announced by a screen reader as a list of none.
fn has_facts(view: &PageView) -> bool {
    view.last_run.is_some() || view.running || view.next_run_at.is_some() || view.report.is_some()
}

fn facts(view: &PageView) -> Markup {
    html! {
        ul.facts {
            @if let Some(last) = view.last_run {
                (last_run_fact(view.now, last))
            }
            @if view.running {
                li { "Now: a run is in progress." }
            }
            @if let Some(next) = view.next_run_at {
                li { "Next run due " (when(view.now, next)) }
            }
            @if let Some(report) = view.report {
                (report_fact(view.now, report))
            }
        }
    }
}

fn last_run_fact(now: Timestamp, last: &LastRun) -> Markup {
    let outcome = last.outcome.as_str();
    html! {
        li {
            "Last run finished " (when(now, last.finished))
            ", took " (seconds(last.seconds))
            "; outcome: " (badge(outcome_tone(outcome), outcome))
        }
    }
}

/// The report's own verdict in one line, so the banner answers "is
/// ticketing safe" without scrolling.
fn report_fact(now: Timestamp, report: &Value) -> Markup {
    let summary = report.get("summary").unwrap_or(&Value::Null);
    let figure = |key| count(summary, key).unwrap_or(0);
    let complete = report.get("complete").and_then(Value::as_bool) == Some(true);
    html! {
        li {
            "Last report "
            @if let Some(at) = text(report, "generated_at") {
                "from " (when_text(now, at)) ": "
            }
            (figure("errors")) " errors, " (figure("warnings")) " warnings; "
            (figure("verified")) " of " (figure("entries")) " entries verified for "
            (figure("identities")) " identities, " (figure("api_requests")) " API requests. "
            @if complete {
                (badge(Tone::Good, "complete"))
            } @else {
                (badge(Tone::Warn, "incomplete"))
                " (a system could not be checked; its entries are unchecked)"
            }
        }
    }
}

fn systems_section(report: Option<&Value>) -> Markup {
    let systems = list(report, "systems");
    html! {
        section #systems aria-labelledby="systems-h" {
            h2 #systems-h { "Systems" }
            @if report.is_none() {
                p { "No report yet: the first run has not finished." }
            } @else if systems.is_empty() {
                p { "The last report lists no system." }
            } @else {
                div.table-wrap {
                    table {
                        caption { "Ticketing systems in the last report: " (systems.len()) }
                        thead {
                            tr {
                                th scope="col" { "Integration" }
                                th scope="col" { "System" }
                                th scope="col" { "Status" }
                                th scope="col" .num { "Requests" }
                                th scope="col" { "Credential check" }
                                th scope="col" { "Readiness" }
                                th scope="col" { "API quota" }
                            }
                        }
                        tbody {
                            @for system in systems {
                                (system_row(system))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn system_row(system: &Value) -> Markup {
    let integration = text(system, "integration").unwrap_or("—");
    let status = text(system, "status").unwrap_or("unknown");
    let credential = text(system, "credential_check").unwrap_or("unknown");
    let readiness = text(system, "readiness").unwrap_or("unknown");
    html! {
        tr data-system=(integration) {
            td.id { (integration) }
            td { (text(system, "system").unwrap_or("—")) }
            td {
                (badge(system_tone(status), status))
                @if let Some(reason) = text(system, "reason") {
                    span.sub { "reason: " (reason) }
                }
                @if let Some(detail) = text(system, "detail") {
                    span.sub { (detail) }
                }
            }
            td.num {
                (count(system, "api_requests").unwrap_or(0))
                @match count(system, "rate_limit_waits") {
                    Some(0) | None => {}
                    Some(waits) => span.sub { (waits) " rate-limit waits" }
                }
            }
            td {
                (badge(credential_tone(credential), credential))
                @if let Some(owner) = text(system, "credential_owner") {
                    span.sub { "as " span.id { (owner) } }
                }
            }
            td {
                (badge(readiness_tone(readiness), readiness))
                @if let Some(detail) = text(system, "readiness_detail") {
                    span.sub { (detail) }
                }
            }
            td { (quota(system)) }
        }
    }
}

/// Salesforce's daily API allowance; other systems report none.
fn quota(system: &Value) -> Markup {
    let usage = scalar(system, "api_usage");
    let remaining = scalar(system, "api_remaining");
    html! {
        @match (usage, remaining) {
            (None, None) => span.rel { "—" },
            (usage, remaining) => {
                @if let Some(usage) = usage {
                    span.nowrap { (usage) " used" }
                }
                @if let Some(remaining) = remaining {
                    span.sub { (remaining) " left" }
                }
            }
        }
    }
}

/// A severity's place on the page and its words; an unknown severity is
/// shown with the least urgent group rather than dropped.
const GROUPS: [(&str, &str, Tone); 3] = [
    ("error", "Errors", Tone::Bad),
    ("warning", "Warnings", Tone::Warn),
    ("info", "Info", Tone::Info),
];

fn group_of(severity: &str) -> usize {
    GROUPS
        .iter()
        .position(|(name, _, _)| *name == severity)
        .unwrap_or(GROUPS.len() - 1)
}

fn problems_section(report: Option<&Value>) -> Markup {
    let findings = list(report, "findings");
    let mut groups: [Vec<&Value>; 3] = Default::default();
    for finding in findings {
        groups[group_of(text(finding, "severity").unwrap_or(""))].push(finding);
    }
    html! {
        section #problems aria-labelledby="problems-h" {
            h2 #problems-h { "Problems" }
            @if report.is_none() {
                p { "No report yet." }
            } @else if findings.is_empty() {
                p { (badge(Tone::Good, "none")) ": the last report has no finding." }
            } @else {
                @for ((severity, title, tone), members) in GROUPS.iter().zip(&groups) {
                    @if !members.is_empty() {
                        (finding_table(severity, title, *tone, members))
                    }
                }
            }
        }
    }
}

fn finding_table(severity: &str, title: &str, tone: Tone, findings: &[&Value]) -> Markup {
    html! {
        div.table-wrap data-severity=(severity) {
            table {
                caption { (badge(tone, title)) ": " (findings.len()) }
                thead {
                    tr {
                        th scope="col" { "Identity" }
                        th scope="col" { "Integration" }
                        th scope="col" { "Code" }
                        th scope="col" { "Message" }
                        th scope="col" { "Fix" }
                    }
                }
                tbody {
                    @for finding in findings {
                        (finding_row(finding))
                    }
                }
            }
        }
    }
}

fn finding_row(finding: &Value) -> Markup {
    let code = text(finding, "code").unwrap_or("—");
    html! {
        tr data-finding=(code) {
            td.id {
                @match text(finding, "unique_record_id") {
                    Some(id) => (id),
                    None => { "—" span.vh { "system-wide" } }
                }
            }
            td.id { (text(finding, "integration").unwrap_or("—")) }
            td.id { (code) }
            td.msg {
                (text(finding, "message").unwrap_or(""))
                @let expected = text(finding, "expected");
                @let actual = text(finding, "actual");
                @if expected.is_some() || actual.is_some() {
                    dl.ea {
                        @if let Some(expected) = expected {
                            dt { "expected" }
                            dd { (expected) }
                        }
                        @if let Some(actual) = actual {
                            dt { "actual" }
                            dd { (actual) }
                        }
                    }
                }
            }
            td.msg { (text(finding, "fix").unwrap_or("—")) }
        }
    }
}

fn entries_section(report: Option<&Value>) -> Markup {
    let rows: Vec<EntryRow> = list(report, "identities")
        .iter()
        .flat_map(|identity| {
            list(Some(identity), "entries")
                .iter()
                .map(move |entry| EntryRow::new(identity, entry))
        })
        .collect();
    html! {
        section #entries aria-labelledby="entries-h" {
            h2 #entries-h { "Entries" }
            @if report.is_none() {
                p { "No report yet." }
            } @else if rows.is_empty() {
                p { "The last report has no entry." }
            } @else {
                div.filter {
                    label for="filter" { "Filter entries" }
                    input #filter type="search" autocomplete="off"
                        placeholder="identity, integration, ID or status"
                        aria-describedby="filter-count";
                }
                p #filter-count aria-live="polite" { (rows.len()) " entries" }
                div.table-wrap {
                    table {
                        caption { "Every ITSM ID Info entry in the last report: " (rows.len()) }
                        thead {
                            tr {
                                th scope="col" { "Identity" }
                                th scope="col" { "Kind" }
                                th scope="col" { "Integration" }
                                th scope="col" { "External ID" }
                                th scope="col" { "ITSM User ID" }
                                th scope="col" { "Status" }
                            }
                        }
                        tbody {
                            @for row in &rows {
                                (row.render())
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One entry with its identity, flattened for the one table.
struct EntryRow<'v> {
    identity: &'v str,
    kind: &'v str,
    integration: &'v str,
    external_id: &'v str,
    itsm_user_id: &'v str,
    status: &'v str,
}

impl<'v> EntryRow<'v> {
    fn new(identity: &'v Value, entry: &'v Value) -> Self {
        EntryRow {
            identity: text(identity, "unique_record_id").unwrap_or(""),
            kind: text(identity, "kind").unwrap_or(""),
            integration: text(entry, "integration").unwrap_or(""),
            external_id: text(entry, "external_id").unwrap_or(""),
            itsm_user_id: text(entry, "itsm_user_id").unwrap_or(""),
            status: text(entry, "status").unwrap_or("unknown"),
        }
    }

    /// What the filter matches: the row's values as stored, so a search
    /// for `not_found` finds the row the table shows as "not found".
    fn haystack(&self) -> String {
        let mut words = [
            self.identity,
            self.kind,
            self.integration,
            self.external_id,
            self.itsm_user_id,
            self.status,
        ]
        .join(" ");
        if self.status.contains('_') {
            words.push(' ');
            words.push_str(&self.status.replace('_', " "));
        }
        words
    }

    fn render(&self) -> Markup {
        html! {
            tr data-entry=(self.haystack()) {
                td.id { (self.identity) }
                td { (self.kind) }
                td.id { (self.integration) }
                td.id { (dash_if_empty(self.external_id)) }
                td.id { (dash_if_empty(self.itsm_user_id)) }
                td { (badge(entry_tone(self.status), self.status)) }
            }
        }
    }
}

fn trend_section(now: Timestamp, runs: &[RunRecord]) -> Markup {
    html! {
        section #trend aria-labelledby="trend-h" {
            h2 #trend-h { "Trend" }
            @if runs.is_empty() {
                p { "There are no runs yet." }
            } @else {
                (chart(runs))
                div.table-wrap {
                    table {
                        caption { "Recent runs, newest first: " (runs.len()) }
                        thead {
                            tr {
                                th scope="col" { "Finished" }
                                th scope="col" { "Outcome" }
                                th scope="col" .num { "Seconds" }
                                th scope="col" .num { "Errors" }
                                th scope="col" .num { "Warnings" }
                                th scope="col" { "Load" }
                            }
                        }
                        tbody {
                            @for run in runs.iter().rev() {
                                (run_row(now, run))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn run_row(now: Timestamp, run: &RunRecord) -> Markup {
    html! {
        tr data-run=(run.finished_at) {
            td.nowrap { (when_text(now, &run.finished_at)) }
            td { (badge(outcome_tone(&run.outcome), &run.outcome)) }
            td.num { (format!("{:.1}", run.seconds)) }
            td.num { (run.errors) }
            td.num { (run.warnings) }
            td { (load_cell(run)) }
        }
    }
}

/// A blocked load wins over counts: it wrote nothing, whatever it counted.
fn load_cell(run: &RunRecord) -> Markup {
    html! {
        @if let Some(reason) = &run.blocked {
            (badge(Tone::Warn, "blocked")) ": " (reason)
        } @else if let Some(load) = run.load {
            (load.users) " users: " (load.added) " added, " (load.removed) " removed, "
            (load.changed) " changed"
        } @else {
            span.rel { "not loaded" }
        }
    }
}

/// The chart's canvas, in SVG user units; it scales with the page.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 32.0;
const ERROR_COLOUR: &str = "#b3261e";
const WARNING_COLOUR: &str = "#8a5300";
const AXIS_COLOUR: &str = "#57606a";

/// Where each run sits on the chart; one run sits in the middle.
struct Plot {
    count: usize,
    max: u64,
}

impl Plot {
    fn new(runs: &[RunRecord]) -> Self {
        let max = runs
            .iter()
            .map(|run| run.errors.max(run.warnings))
            .max()
            .unwrap_or(0)
            .max(1);
        Plot {
            count: runs.len(),
            max,
        }
    }

    fn x(&self, index: usize) -> f64 {
        let span = WIDTH - LEFT - RIGHT;
        if self.count < 2 {
            LEFT + span / 2.0
        } else {
            LEFT + span * index as f64 / (self.count - 1) as f64
        }
    }

    fn y(&self, value: u64) -> f64 {
        let span = HEIGHT - TOP - BOTTOM;
        TOP + span - span * value as f64 / self.max as f64
    }

    fn points(&self, values: impl Iterator<Item = u64>) -> String {
        values
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", self.x(i), self.y(v)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Errors as a solid line with circles, warnings as a dashed line with
/// squares, and a legend in words: the two series differ without colour.
fn chart(runs: &[RunRecord]) -> Markup {
    let plot = Plot::new(runs);
    let Some(last) = runs.last() else {
        return html! {};
    };
    let label = format!(
        "Errors and warnings in the last {} runs, oldest first; the latest run had {} errors and {} warnings.",
        runs.len(),
        last.errors,
        last.warnings
    );
    let baseline = HEIGHT - BOTTOM;
    let first = runs.first().map_or("", |run| run.finished_at.as_str());
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(label)
            viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) {
            title { (label) }
            (legend())
            line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(baseline) stroke=(AXIS_COLOUR) {}
            line x1=(LEFT) y1=(baseline) x2=(WIDTH - RIGHT) y2=(baseline) stroke=(AXIS_COLOUR) {}
            text x=(LEFT - 6.0) y=(TOP + 4.0) text-anchor="end" font-size="12" fill="currentColor" { (plot.max) }
            text x=(LEFT - 6.0) y=(baseline + 4.0) text-anchor="end" font-size="12" fill="currentColor" { "0" }
            text x=(LEFT) y=(HEIGHT - 10.0) font-size="12" fill="currentColor" { (short_time(first)) }
            @if runs.len() > 1 {
                text x=(WIDTH - RIGHT) y=(HEIGHT - 10.0) text-anchor="end" font-size="12" fill="currentColor" {
                    (short_time(&last.finished_at))
                }
            }
            polyline.series.errors points=(plot.points(runs.iter().map(|r| r.errors)))
                fill="none" stroke=(ERROR_COLOUR) stroke-width="2" {}
            polyline.series.warnings points=(plot.points(runs.iter().map(|r| r.warnings)))
                fill="none" stroke=(WARNING_COLOUR) stroke-width="2" stroke-dasharray="6 4" {}
            @for (i, run) in runs.iter().enumerate() {
                circle.pt.err cx=(format!("{:.1}", plot.x(i))) cy=(format!("{:.1}", plot.y(run.errors)))
                    r="4" fill=(ERROR_COLOUR) {
                    title { (run.finished_at) ": " (run.errors) " errors" }
                }
                rect.pt.warn x=(format!("{:.1}", plot.x(i) - 3.5)) y=(format!("{:.1}", plot.y(run.warnings) - 3.5))
                    width="7" height="7" fill=(WARNING_COLOUR) {
                    title { (run.finished_at) ": " (run.warnings) " warnings" }
                }
            }
        }
    }
}

fn legend() -> Markup {
    html! {
        g.legend font-size="12" fill="currentColor" {
            line x1=(LEFT) y1="14" x2=(LEFT + 28.0) y2="14" stroke=(ERROR_COLOUR) stroke-width="2" {}
            circle cx=(LEFT + 14.0) cy="14" r="4" fill=(ERROR_COLOUR) {}
            text x=(LEFT + 34.0) y="18" { "errors (solid line, circles)" }
            line x1=(LEFT + 250.0) y1="14" x2=(LEFT + 278.0) y2="14" stroke=(WARNING_COLOUR)
                stroke-width="2" stroke-dasharray="6 4" {}
            rect x=(LEFT + 260.5) y="10.5" width="7" height="7" fill=(WARNING_COLOUR) {}
            text x=(LEFT + 284.0) y="18" { "warnings (dashed line, squares)" }
        }
    }
}

/// A compact UTC label for the chart's axis.
fn short_time(rfc3339: &str) -> String {
    rfc3339.parse::<Timestamp>().map_or_else(
        |_| rfc3339.to_owned(),
        |at| at.strftime("%m-%d %H:%M").to_string(),
    )
}

/// A time in UTC with how long ago (or how soon) it is, so a reader in any
/// time zone can tell both the moment and its age.
fn when(now: Timestamp, at: Timestamp) -> Markup {
    let at = Timestamp::from_second(at.as_second()).unwrap_or(at);
    html! {
        time datetime=(at) { (at.strftime("%Y-%m-%d %H:%M:%S UTC")) }
        " " span.rel { "(" (relative(now, at)) ")" }
    }
}

/// As [`when`], for a time the report or the store gives as text; text that
/// is not a time is shown as it is.
fn when_text(now: Timestamp, rfc3339: &str) -> Markup {
    match rfc3339.parse::<Timestamp>() {
        Ok(at) => when(now, at),
        Err(_) => html! { (rfc3339) },
    }
}

/// "3 minutes ago", "in 12 minutes", "just now": rounded to the nearest
/// unit, the way a reader would say it.
fn relative(now: Timestamp, at: Timestamp) -> String {
    let delta = at.as_second() - now.as_second();
    let distance = delta.unsigned_abs();
    if distance < 45 {
        return "just now".to_owned();
    }
    let (amount, unit) = if distance < 3570 {
        (((distance + 30) / 60).max(1), "minute")
    } else if distance < 84_600 {
        ((distance + 1800) / 3600, "hour")
    } else {
        ((distance + 43_200) / 86_400, "day")
    };
    let plural = if amount == 1 { "" } else { "s" };
    if delta < 0 {
        format!("{amount} {unit}{plural} ago")
    } else {
        format!("in {amount} {unit}{plural}")
    }
}

fn seconds(value: f64) -> String {
    format!("{value:.1} s")
}

fn dash_if_empty(value: &str) -> &str {
    if value.is_empty() { "—" } else { value }
}

/// A status's colour, which always comes with a symbol and a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Good,
    Warn,
    Bad,
    Info,
    Quiet,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Good => "good",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
            Tone::Info => "info",
            Tone::Quiet => "quiet",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Tone::Good => "✔",
            Tone::Warn => "⚠",
            Tone::Bad => "✖",
            Tone::Info => "ℹ",
            Tone::Quiet => "–",
        }
    }
}

/// A value as a reader says it (`not_found` as "not found"), with its
/// symbol.
fn badge(tone: Tone, word: &str) -> Markup {
    html! {
        span class={ "badge " (tone.class()) } { (tone.symbol()) " " (word.replace('_', " ")) }
    }
}

fn system_tone(status: &str) -> Tone {
    match status {
        "ok" => Tone::Good,
        "unavailable" => Tone::Bad,
        _ => Tone::Quiet,
    }
}

fn credential_tone(check: &str) -> Tone {
    match check {
        "ok" => Tone::Good,
        "mismatch" => Tone::Bad,
        _ => Tone::Quiet,
    }
}

fn readiness_tone(readiness: &str) -> Tone {
    match readiness {
        "ok" => Tone::Good,
        "problems" | "unavailable" => Tone::Warn,
        _ => Tone::Quiet,
    }
}

fn entry_tone(status: &str) -> Tone {
    match status {
        "verified" => Tone::Good,
        "duplicate" => Tone::Warn,
        "unchecked" => Tone::Quiet,
        _ => Tone::Bad,
    }
}

fn outcome_tone(outcome: &str) -> Tone {
    match outcome {
        "ok" => Tone::Good,
        "problems" => Tone::Warn,
        "refused" | "failed" => Tone::Bad,
        _ => Tone::Quiet,
    }
}

/// A string field; null and empty read as absent, since the report uses
/// null for "does not apply".
fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key)?.as_str().filter(|s| !s.is_empty())
}

fn count(value: &Value, key: &str) -> Option<u64> {
    value.get(key)?.as_u64()
}

/// A string or a number, shown as it is (the quota fields are strings
/// today; a number would mean the same).
fn scalar(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn list<'v>(value: Option<&'v Value>, key: &str) -> &'v [Value] {
    value
        .and_then(|v| v.get(key))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::daemon::RunOutcome;
    use serde_json::json;

    const NOW: &str = "2026-12-06T20:15:33Z";

    fn ts(text: &str) -> Timestamp {
        text.parse().expect("a test timestamp")
    }

    /// A page with nothing yet: the daemon has just started.
    fn starting() -> PageView<'static> {
        PageView {
            now: ts(NOW),
            health: Health::Starting,
            last_run: None,
            next_run_at: None,
            running: false,
            last_failure: None,
            report: None,
            runs: &[],
            run_now: None,
        }
    }

    fn last_run() -> LastRun {
        LastRun {
            finished_at: "2026-12-06T20:12:33Z".to_owned(),
            outcome: RunOutcome::Problems,
            seconds: 4.25,
            finished: ts("2026-12-06T20:12:33Z"),
        }
    }

    fn snow_system() -> Value {
        json!({
            "integration": "snow", "system": "servicenow", "status": "ok", "api_requests": 5,
            "reason": null, "credential_check": "ok", "credential_owner": "moveworks.bot",
            "rate_limit_waits": 0, "detail": null,
            "readiness": "problems", "readiness_detail": "the bot lacks a role"
        })
    }

    fn salesforce_system() -> Value {
        json!({
            "integration": "salesforce", "system": "salesforce", "status": "ok", "api_requests": 4,
            "reason": null, "credential_check": "mismatch", "credential_owner": "someone.else@acme.com",
            "rate_limit_waits": 2, "detail": null, "readiness": "ok", "readiness_detail": null,
            "api_usage": "3/15000", "api_remaining": "14997"
        })
    }

    fn report_with(systems: Vec<Value>, findings: Vec<Value>) -> Value {
        json!({
            "schema": "itsmid.report.v1",
            "generated_at": "2026-12-06T20:12:30Z",
            "complete": true,
            "summary": {"identities": 2, "entries": 3, "verified": 1, "errors": 1, "warnings": 1, "api_requests": 9},
            "systems": systems,
            "findings": findings,
            "identities": [
                {"unique_record_id": "moveworks-bot@acme.com", "kind": "bot", "entries": [
                    {"integration": "snow", "external_id": "moveworks.bot",
                     "itsm_user_id": "6816f79cc0a8016401c5a33be04be441", "status": "verified", "found": null},
                    {"integration": "salesforce", "external_id": "moveworks.bot@acme.com.prod",
                     "itsm_user_id": "0055e000003MwBtAAK", "status": "mismatch", "found": null}
                ]},
                {"unique_record_id": "ada@acme.com", "kind": "manual", "entries": [
                    {"integration": "snow", "external_id": "ada.lovelace",
                     "itsm_user_id": null, "status": "not_found", "found": null}
                ]}
            ]
        })
    }

    /// Two systems, and findings listed warning first so that the page's
    /// order is its own.
    fn report() -> Value {
        report_with(
            vec![snow_system(), salesforce_system()],
            vec![
                json!({"code": "BOT_SETTING", "severity": "warning",
                       "unique_record_id": "moveworks-bot@acme.com", "integration": "snow",
                       "message": "the bot time zone is Europe/Berlin",
                       "expected": "America/Danmarkshavn", "actual": "Europe/Berlin",
                       "fix": "set the time zone of the bot user"}),
                json!({"code": "NOT_FOUND", "severity": "error",
                       "unique_record_id": "ada@acme.com", "integration": "snow",
                       "message": "no account has the External ID ada.lovelace",
                       "expected": null, "actual": null,
                       "fix": "correct the External ID or create the account"}),
                json!({"code": "SYSTEM_NOTE", "severity": "info",
                       "unique_record_id": null, "integration": "salesforce",
                       "message": "a note for the whole system",
                       "expected": null, "actual": null, "fix": "nothing to do"}),
            ],
        )
    }

    fn run(finished_at: &str, errors: u64, warnings: u64) -> RunRecord {
        RunRecord {
            finished_at: finished_at.to_owned(),
            outcome: if errors > 0 { "problems" } else { "ok" }.to_owned(),
            seconds: 3.5,
            errors,
            warnings,
            codes: BTreeMap::new(),
            load: Some(LoadCounts {
                users: 12,
                added: 1,
                removed: 0,
                changed: 2,
            }),
            blocked: None,
        }
    }

    type Tag = (String, Vec<(String, String)>);

    /// Every start tag with its attributes, in order; the script and style
    /// text is skipped, so only markup is looked at.
    fn start_tags(html: &str) -> Vec<Tag> {
        let mut tags = Vec::new();
        let mut rest = html;
        while let Some(open) = rest.find('<') {
            rest = &rest[open + 1..];
            if rest.starts_with('/') || rest.starts_with('!') {
                continue;
            }
            let end = rest.find('>').expect("a closed tag");
            let (name, attributes) = parse_tag(&rest[..end]);
            rest = &rest[end + 1..];
            if name == "script" || name == "style" {
                let close = rest.find(&format!("</{name}>")).expect("a closed element");
                rest = &rest[close..];
            }
            tags.push((name, attributes));
        }
        tags
    }

    fn parse_tag(tag: &str) -> Tag {
        let tag = tag.trim_end_matches('/');
        let (name, mut rest) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        let mut attributes = Vec::new();
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            let name_end = rest
                .find(|c: char| c == '=' || c.is_whitespace())
                .unwrap_or(rest.len());
            let attribute = rest[..name_end].to_owned();
            rest = &rest[name_end..];
            let mut value = String::new();
            if let Some(quoted) = rest.strip_prefix("=\"") {
                let close = quoted.find('"').expect("a closed attribute value");
                value = quoted[..close].to_owned();
                rest = &quoted[close + 1..];
            }
            attributes.push((attribute, value));
        }
        (name.to_owned(), attributes)
    }

    fn attribute<'t>(tag: &'t Tag, name: &str) -> Option<&'t str> {
        tag.1
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The markup of the table row that carries `marker` (an attribute).
    fn row<'h>(html: &'h str, marker: &str) -> &'h str {
        let start = html
            .find(marker)
            .unwrap_or_else(|| panic!("no row {marker}"));
        let end = html[start..].find("</tr>").expect("a closed row");
        &html[start..start + end]
    }

    fn position(html: &str, needle: &str) -> usize {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not on the page"))
    }

    /// Every part of the page at once, for the checks that hold everywhere.
    fn everything(report: &Value, runs: &[RunRecord], last: &LastRun) -> String {
        render(&PageView {
            health: Health::Degraded,
            last_run: Some(last),
            next_run_at: Some(ts("2026-12-06T20:27:33Z")),
            running: true,
            last_failure: Some("it failed"),
            report: Some(report),
            runs,
            run_now: Some("tok123"),
            ..starting()
        })
    }

    #[test]
    fn a_starting_page_says_so_and_shows_no_rows_and_no_runs() {
        let html = render(&starting());
        assert!(
            html.starts_with("<!DOCTYPE html><html lang=\"en\">"),
            "{html}"
        );
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(
            html.contains(
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            )
        );
        assert!(html.contains("<title>itsmid status</title>"));
        assert!(html.contains("Health: Starting"));
        assert!(html.contains("No report yet"));
        assert!(html.contains("no runs yet"));
        for absent in [
            "data-system=",
            "data-entry=",
            "data-finding=",
            "data-run=",
            "<svg",
        ] {
            assert!(!html.contains(absent), "{absent} on a starting page");
        }
        assert!(!html.contains("a run is in progress"));
        assert!(!html.contains("Last failure"));
        assert!(!html.contains("<ul"), "no empty list of facts");
    }

    #[test]
    fn the_page_is_laid_out_in_landmarks_and_sections() {
        let report = report();
        let runs = [run("2026-12-06T20:12:33Z", 1, 1)];
        let html = everything(&report, &runs, &last_run());
        let order = [
            "<header",
            "<main>",
            "<section id=\"health\"",
            "<section id=\"systems\"",
            "<section id=\"problems\"",
            "<section id=\"entries\"",
            "<section id=\"trend\"",
            "</main>",
        ];
        let positions: Vec<usize> = order.iter().map(|n| position(&html, n)).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        for heading in [
            "Systems</h2>",
            "Problems</h2>",
            "Entries</h2>",
            "Trend</h2>",
        ] {
            assert!(html.contains(heading), "{heading}");
        }
        assert_eq!(html.matches("<div class=\"table-wrap\"").count(), 6);
        assert_eq!(html.matches("<table>").count(), 6, "one per wrapper");
        assert_eq!(html.matches("<caption>").count(), 6);
    }

    #[test]
    fn an_ok_page_shows_the_last_run_and_the_report_summary() {
        let report = report();
        let last = last_run();
        let html = render(&PageView {
            health: Health::Ok,
            last_run: Some(&last),
            next_run_at: Some(ts("2026-12-06T20:27:33Z")),
            report: Some(&report),
            ..starting()
        });
        assert!(html.contains("Health: OK"));
        assert!(html.contains("<section id=\"health\" class=\"banner good\""));
        assert!(
            html.contains("took 4.2 s") || html.contains("took 4.3 s"),
            "{html}"
        );
        assert!(html.contains("outcome: <span class=\"badge warn\">⚠ problems</span>"));
        assert!(html.contains("1 errors, 1 warnings; 1 of 3 entries verified"));
        assert!(html.contains("✔ complete"));
        assert!(!html.contains("a run is in progress"));
    }

    #[test]
    fn errors_come_before_warnings_before_info_each_with_message_and_fix() {
        let report = report();
        let html = render(&PageView {
            health: Health::Ok,
            report: Some(&report),
            ..starting()
        });
        let error = position(&html, "data-severity=\"error\"");
        let warning = position(&html, "data-severity=\"warning\"");
        let info = position(&html, "data-severity=\"info\"");
        assert!(
            error < warning && warning < info,
            "{error} {warning} {info}"
        );
        assert!(html.contains("✖ Errors</span>: 1</caption>"));
        assert!(html.contains("⚠ Warnings</span>: 1</caption>"));
        assert!(html.contains("ℹ Info</span>: 1</caption>"));

        let not_found = position(&html, "no account has the External ID ada.lovelace");
        let bot_setting = position(&html, "the bot time zone is Europe/Berlin");
        assert!(error < not_found && not_found < warning);
        assert!(warning < bot_setting && bot_setting < info);
        for fix in [
            "correct the External ID or create the account",
            "set the time zone of the bot user",
            "nothing to do",
        ] {
            assert!(html.contains(fix), "{fix}");
        }
        let setting = row(&html, "data-finding=\"BOT_SETTING\"");
        assert!(setting.contains("moveworks-bot@acme.com"));
        assert!(setting.contains("<dt>expected</dt><dd>America/Danmarkshavn</dd>"));
        assert!(setting.contains("<dt>actual</dt><dd>Europe/Berlin</dd>"));
        let missing = row(&html, "data-finding=\"NOT_FOUND\"");
        assert!(
            !missing.contains("<dl"),
            "no expected/actual when both are null"
        );
        let system_wide = row(&html, "data-finding=\"SYSTEM_NOTE\"");
        assert!(system_wide.contains("—<span class=\"vh\">system-wide</span>"));
    }

    #[test]
    fn a_report_without_findings_says_there_are_none() {
        let report = report_with(vec![snow_system()], vec![]);
        let html = render(&PageView {
            health: Health::Ok,
            report: Some(&report),
            ..starting()
        });
        assert!(html.contains("the last report has no finding"));
        assert!(!html.contains("data-severity="));
    }

    #[test]
    fn every_entry_is_a_row_and_the_filter_is_labelled() {
        let report = report();
        let html = render(&PageView {
            health: Health::Ok,
            report: Some(&report),
            ..starting()
        });
        let tags = start_tags(&html);
        let rows: Vec<&Tag> = tags
            .iter()
            .filter(|t| attribute(t, "data-entry").is_some())
            .collect();
        assert_eq!(rows.len(), 3);
        assert!(
            rows.iter()
                .all(|t| t.0 == "tr" && attribute(t, "hidden").is_none())
        );
        for id in [
            "moveworks.bot",
            "6816f79cc0a8016401c5a33be04be441",
            "moveworks.bot@acme.com.prod",
            "0055e000003MwBtAAK",
            "ada.lovelace",
        ] {
            assert!(
                html.contains(&format!("<td class=\"id\">{id}</td>")),
                "{id}"
            );
        }
        let ada = row(&html, "data-entry=\"ada@acme.com");
        assert!(ada.contains("<td>manual</td>"));
        assert!(ada.contains("✖ not found"));
        assert!(
            ada.contains("not_found"),
            "the filter also matches the stored word"
        );
        assert!(
            ada.contains("<td class=\"id\">—</td>"),
            "no ITSM User ID: {ada}"
        );

        let input = tags
            .iter()
            .find(|t| attribute(t, "id") == Some("filter"))
            .expect("the filter input");
        assert_eq!(input.0, "input");
        assert_eq!(attribute(input, "type"), Some("search"));
        let label = tags.iter().find(|t| t.0 == "label").expect("a label");
        assert_eq!(attribute(label, "for"), Some("filter"));
        assert!(html.contains("Every ITSM ID Info entry in the last report: 3</caption>"));
    }

    #[test]
    fn a_degraded_page_shows_the_last_failure_escaped() {
        let failure = "reading config: <script>alert(1)</script> & more";
        let html = render(&PageView {
            health: Health::Degraded,
            last_failure: Some(failure),
            ..starting()
        });
        assert!(html.contains("Health: Degraded"));
        assert!(html.contains("class=\"banner bad\""));
        assert!(html.contains("Last failure"));
        assert!(html.contains(
            "<pre>reading config: &lt;script&gt;alert(1)&lt;/script&gt; &amp; more</pre>"
        ));
        assert_eq!(
            html.matches("<script").count(),
            1,
            "only the page's own script"
        );
    }

    #[test]
    fn report_values_are_escaped_in_text_and_attributes() {
        let mut report = report();
        report["identities"][1]["entries"][0]["external_id"] = json!("\"><img src=x>");
        report["findings"][1]["message"] = json!("<b>bold</b>");
        let html = render(&PageView {
            report: Some(&report),
            ..starting()
        });
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>"));
        assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"));
        assert!(html.contains("&quot;&gt;&lt;img src=x&gt;"));
    }

    #[test]
    fn a_run_in_progress_and_the_next_run_are_shown() {
        let html = render(&PageView {
            running: true,
            next_run_at: Some(ts("2026-12-06T20:27:33Z")),
            ..starting()
        });
        assert!(html.contains("a run is in progress"));
        assert!(html.contains("Next run due <time datetime=\"2026-12-06T20:27:33Z\">"));
        assert!(html.contains("(in 12 minutes)"));
    }

    #[test]
    fn an_unavailable_system_shows_its_reason_and_detail() {
        let down = json!({
            "integration": "jira_hr", "system": "jira", "status": "unavailable", "api_requests": 1,
            "reason": "auth_failed", "credential_check": "unavailable", "credential_owner": null,
            "rate_limit_waits": 0, "detail": "GET /rest/api/3/myself answered 401",
            "readiness": "skipped", "readiness_detail": "the system could not be checked"
        });
        let report = report_with(vec![snow_system(), down], vec![]);
        let html = render(&PageView {
            report: Some(&report),
            ..starting()
        });
        assert_eq!(html.matches("<tr data-system=").count(), 2);
        let jira = row(&html, "data-system=\"jira_hr\"");
        assert!(jira.contains("✖ unavailable"), "{jira}");
        assert!(jira.contains("reason: auth_failed"));
        assert!(jira.contains("GET /rest/api/3/myself answered 401"));
        assert!(jira.contains("– skipped"));
        assert!(!jira.contains("as "), "no owner to show");
        let snow = row(&html, "data-system=\"snow\"");
        assert!(snow.contains("✔ ok"));
        assert!(!snow.contains("reason:"));
    }

    #[test]
    fn readiness_problems_show_in_the_readiness_column() {
        let report = report();
        let html = render(&PageView {
            report: Some(&report),
            ..starting()
        });
        let snow = row(&html, "data-system=\"snow\"");
        let cells: Vec<&str> = snow.split("<td").skip(1).collect();
        assert_eq!(cells.len(), 7, "{snow}");
        assert!(cells[5].contains("⚠ problems"), "{}", cells[5]);
        assert!(cells[5].contains("the bot lacks a role"));
        assert!(cells[4].contains("✔ ok") && cells[4].contains("moveworks.bot"));
        assert!(cells[6].contains("—"), "no quota for ServiceNow");
    }

    #[test]
    fn the_salesforce_row_shows_its_quota_credential_mismatch_and_waits() {
        let report = report();
        let html = render(&PageView {
            report: Some(&report),
            ..starting()
        });
        let salesforce = row(&html, "data-system=\"salesforce\"");
        assert!(salesforce.contains("3/15000 used"), "{salesforce}");
        assert!(salesforce.contains("14997 left"));
        assert!(salesforce.contains("✖ mismatch"));
        assert!(salesforce.contains("someone.else@acme.com"));
        assert!(salesforce.contains("2 rate-limit waits"));
    }

    #[test]
    fn without_a_token_there_is_no_run_now_form() {
        let report = report();
        let last = last_run();
        let html = render(&PageView {
            health: Health::Ok,
            last_run: Some(&last),
            report: Some(&report),
            ..starting()
        });
        assert!(!html.contains("<form"));
        assert!(!html.contains("Run now"));
        assert!(!html.contains("csrf"));
    }

    #[test]
    fn with_a_token_the_run_now_form_posts_it() {
        let html = render(&PageView {
            run_now: Some("tok123"),
            ..starting()
        });
        let tags = start_tags(&html);
        let forms: Vec<&Tag> = tags.iter().filter(|t| t.0 == "form").collect();
        assert_eq!(forms.len(), 1);
        assert_eq!(attribute(forms[0], "method"), Some("post"));
        assert_eq!(attribute(forms[0], "action"), Some("/api/v1/runs"));
        let hidden = tags
            .iter()
            .find(|t| attribute(t, "name") == Some("csrf"))
            .expect("the token field");
        assert_eq!(attribute(hidden, "type"), Some("hidden"));
        assert_eq!(attribute(hidden, "value"), Some("tok123"));
        assert!(html.contains("<button type=\"submit\">Run now</button>"));
        let form = &html[position(&html, "<form")..position(&html, "</form>")];
        assert!(form.contains("name=\"csrf\"") && form.contains("Run now"));
    }

    #[test]
    fn the_policy_allows_exactly_the_page_script_and_style() {
        let hash = |text: &str| {
            let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(digest)
        };
        let policy = content_security_policy();
        assert_eq!(
            policy,
            format!(
                "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; \
                 img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                hash(SCRIPT),
                hash(STYLE)
            )
        );
        assert_eq!(hash(SCRIPT).len(), 44, "a SHA-256 in standard base64");
        assert_ne!(hash(SCRIPT), hash(STYLE));
        assert_eq!(policy, content_security_policy(), "computed once");
    }

    #[test]
    fn the_page_holds_the_script_and_style_exactly_once_and_verbatim() {
        let report = report();
        let runs = [run("2026-12-06T20:12:33Z", 1, 1)];
        let html = everything(&report, &runs, &last_run());
        assert_eq!(
            html.matches(&format!("<script>{SCRIPT}</script>")).count(),
            1
        );
        assert_eq!(html.matches(&format!("<style>{STYLE}</style>")).count(), 1);
        assert_eq!(html.matches("<script").count(), 1);
        assert_eq!(html.matches("<style").count(), 1);
        assert!(!html.contains(" src="), "no external asset");
        assert!(!html.contains("<link"), "no external style sheet");
        assert!(
            !SCRIPT.contains("</"),
            "the script cannot close its element"
        );
        assert!(!STYLE.contains("</"), "the style cannot close its element");
    }

    #[test]
    fn no_element_has_an_inline_style_or_event_handler() {
        let report = report();
        let runs = [
            run("2026-12-06T19:12:33Z", 2, 0),
            run("2026-12-06T20:12:33Z", 1, 1),
        ];
        let html = everything(&report, &runs, &last_run());
        assert!(!html.contains("style=\""));
        let tags = start_tags(&html);
        assert!(tags.len() > 100, "the parser read the page: {}", tags.len());
        for (name, attributes) in &tags {
            for (attribute, _) in attributes {
                assert!(
                    attribute != "style" && !attribute.starts_with("on"),
                    "<{name} {attribute}>"
                );
            }
        }
    }

    #[test]
    fn times_are_shown_in_utc_with_a_relative_time() {
        let last = last_run();
        let html = render(&PageView {
            last_run: Some(&last),
            ..starting()
        });
        assert!(html.contains(
            "Last run finished <time datetime=\"2026-12-06T20:12:33Z\">2026-12-06 20:12:33 UTC</time> \
             <span class=\"rel\">(3 minutes ago)</span>"
        ), "{html}");
        assert!(html.contains(
            "As of <time datetime=\"2026-12-06T20:15:33Z\">2026-12-06 20:15:33 UTC</time>"
        ));
    }

    #[test]
    fn relative_times_read_as_a_person_says_them() {
        let now = ts(NOW);
        let at = |seconds: i64| Timestamp::from_second(now.as_second() + seconds).unwrap();
        let cases = [
            (0, "just now"),
            (-44, "just now"),
            (30, "just now"),
            (-60, "1 minute ago"),
            (-180, "3 minutes ago"),
            (720, "in 12 minutes"),
            (-3600, "1 hour ago"),
            (5 * 3600, "in 5 hours"),
            (-2 * 86_400, "2 days ago"),
            (86_400, "in 1 day"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(relative(now, at(seconds)), expected, "{seconds} s");
        }
    }

    #[test]
    fn the_chart_has_one_point_per_run() {
        for count in [1_usize, 2, 5] {
            let runs: Vec<RunRecord> = (0..count)
                .map(|i| run(&format!("2026-12-06T1{i}:00:00Z"), i as u64, 3))
                .collect();
            let html = render(&PageView {
                runs: &runs,
                ..starting()
            });
            let svg = &html[position(&html, "<svg")..position(&html, "</svg>")];
            assert!(svg.contains("role=\"img\""));
            assert!(svg.contains("aria-label=\"Errors and warnings in the last"));
            assert!(svg.contains("<title>Errors and warnings in the last"));
            assert_eq!(svg.matches("class=\"pt err\"").count(), count);
            assert_eq!(svg.matches("class=\"pt warn\"").count(), count);
            for series in ["errors", "warnings"] {
                let tags = start_tags(svg);
                let line = tags
                    .iter()
                    .find(|t| attribute(t, "class") == Some(&format!("series {series}")))
                    .expect("the series line");
                let points = attribute(line, "points").unwrap();
                assert_eq!(points.split(' ').count(), count, "{points}");
            }
            assert!(
                svg.contains("stroke-dasharray=\"6 4\""),
                "warnings are dashed"
            );
            assert!(svg.contains("errors (solid line, circles)"));
            assert!(svg.contains("warnings (dashed line, squares)"));
            assert_eq!(html.matches("<tr data-run=").count(), count);
        }
    }

    #[test]
    fn the_chart_puts_more_errors_higher() {
        let runs = [
            run("2026-12-06T18:00:00Z", 0, 0),
            run("2026-12-06T19:00:00Z", 4, 0),
        ];
        let html = render(&PageView {
            runs: &runs,
            ..starting()
        });
        let tags = start_tags(&html);
        let ys: Vec<f64> = tags
            .iter()
            .filter(|t| attribute(t, "class") == Some("pt err"))
            .map(|t| attribute(t, "cy").unwrap().parse().unwrap())
            .collect();
        assert_eq!(ys.len(), 2);
        assert!(ys[1] < ys[0], "SVG y grows downwards: {ys:?}");
        assert!(
            html.contains(">4</text>"),
            "the axis is labelled with the maximum"
        );
    }

    #[test]
    fn the_runs_table_shows_loads_blocked_loads_and_no_load() {
        let mut blocked = run("2026-12-06T19:00:00Z", 0, 0);
        blocked.load = None;
        blocked.blocked = Some("3 of 12 users would be removed".to_owned());
        let mut failed = run("2026-12-06T20:00:00Z", 0, 0);
        failed.outcome = "failed".to_owned();
        failed.load = None;
        let runs = [run("2026-12-06T18:00:00Z", 2, 1), blocked, failed];
        let html = render(&PageView {
            runs: &runs,
            ..starting()
        });
        let loaded = row(&html, "data-run=\"2026-12-06T18:00:00Z\"");
        assert!(
            loaded.contains("12 users: 1 added, 0 removed, 2 changed"),
            "{loaded}"
        );
        assert!(loaded.contains("⚠ problems"));
        let held = row(&html, "data-run=\"2026-12-06T19:00:00Z\"");
        assert!(
            held.contains("blocked</span>: 3 of 12 users would be removed"),
            "{held}"
        );
        let none = row(&html, "data-run=\"2026-12-06T20:00:00Z\"");
        assert!(none.contains("not loaded"));
        assert!(none.contains("✖ failed"));
        assert!(none.contains("2026-12-06 20:00:00 UTC"));
        assert!(none.contains("(16 minutes ago)"), "{none}");
        let newest = position(&html, "data-run=\"2026-12-06T20:00:00Z\"");
        let oldest = position(&html, "data-run=\"2026-12-06T18:00:00Z\"");
        assert!(newest < oldest, "the table lists the newest run first");
    }
}
