//! The sections drawn from the daemon's health and the last report:
//! health, systems, problems with their fixes, and every entry.

use jiff::Timestamp;
use maud::{Markup, html};
use serde_json::Value;

use super::format::*;
use super::view::PageView;
use crate::app::daemon::{Health, LastRun};

pub(super) fn health_section(view: &PageView) -> Markup {
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
pub(super) fn has_facts(view: &PageView) -> bool {
    view.last_run.is_some() || view.running || view.next_run_at.is_some() || view.report.is_some()
}

pub(super) fn facts(view: &PageView) -> Markup {
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

pub(super) fn last_run_fact(now: Timestamp, last: &LastRun) -> Markup {
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
pub(super) fn report_fact(now: Timestamp, report: &Value) -> Markup {
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

pub(super) fn systems_section(report: Option<&Value>) -> Markup {
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
                    table.stack {
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

pub(super) fn system_row(system: &Value) -> Markup {
    let integration = text(system, "integration").unwrap_or("—");
    let status = text(system, "status").unwrap_or("unknown");
    let credential = text(system, "credential_check").unwrap_or("unknown");
    let readiness = text(system, "readiness").unwrap_or("unknown");
    html! {
        tr data-system=(integration) {
            td.id data-label="Integration" { (integration) }
            td data-label="System" { (text(system, "system").unwrap_or("—")) }
            td data-label="Status" {
                (badge(system_tone(status), status))
                @if let Some(reason) = text(system, "reason") {
                    span.sub { "reason: " (reason) }
                }
                @if let Some(detail) = text(system, "detail") {
                    span.sub { (detail) }
                }
            }
            td.num data-label="Requests" {
                (count(system, "api_requests").unwrap_or(0))
                @match count(system, "rate_limit_waits") {
                    Some(0) | None => {}
                    Some(waits) => span.sub { (waits) " rate-limit waits" }
                }
            }
            td data-label="Credential check" {
                (badge(credential_tone(credential), credential))
                @if let Some(owner) = text(system, "credential_owner") {
                    span.sub { "as " span.id { (owner) } }
                }
            }
            td data-label="Readiness" {
                (badge(readiness_tone(readiness), readiness))
                @if let Some(detail) = text(system, "readiness_detail") {
                    span.sub { (detail) }
                }
            }
            td data-label="API quota" { (quota(system)) }
        }
    }
}

/// Salesforce's daily API allowance; other systems report none.
pub(super) fn quota(system: &Value) -> Markup {
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
pub(super) const GROUPS: [(&str, &str, Tone); 3] = [
    ("error", "Errors", Tone::Bad),
    ("warning", "Warnings", Tone::Warn),
    ("info", "Info", Tone::Info),
];

pub(super) fn group_of(severity: &str) -> usize {
    GROUPS
        .iter()
        .position(|(name, _, _)| *name == severity)
        .unwrap_or(GROUPS.len() - 1)
}

pub(super) fn problems_section(report: Option<&Value>) -> Markup {
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

pub(super) fn finding_table(
    severity: &str,
    title: &str,
    tone: Tone,
    findings: &[&Value],
) -> Markup {
    html! {
        div.table-wrap data-severity=(severity) {
            table.stack {
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

pub(super) fn finding_row(finding: &Value) -> Markup {
    let code = text(finding, "code").unwrap_or("—");
    html! {
        tr data-finding=(code) {
            td.id data-label="Identity" {
                @match text(finding, "unique_record_id") {
                    Some(id) => (id),
                    None => { "—" span.vh { "system-wide" } }
                }
            }
            td.id data-label="Integration" { (text(finding, "integration").unwrap_or("—")) }
            td.id data-label="Code" { (code) }
            td.msg data-label="Message" {
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
            td.msg data-label="Fix" { (text(finding, "fix").unwrap_or("—")) }
        }
    }
}

pub(super) fn entries_section(report: Option<&Value>) -> Markup {
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
                    table.stack {
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
pub(super) struct EntryRow<'v> {
    identity: &'v str,
    kind: &'v str,
    integration: &'v str,
    external_id: &'v str,
    itsm_user_id: &'v str,
    status: &'v str,
}

impl<'v> EntryRow<'v> {
    pub(super) fn new(identity: &'v Value, entry: &'v Value) -> Self {
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
    pub(super) fn haystack(&self) -> String {
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

    pub(super) fn render(&self) -> Markup {
        html! {
            tr data-entry=(self.haystack()) {
                td.id data-label="Identity" { (self.identity) }
                td data-label="Kind" { (self.kind) }
                td.id data-label="Integration" { (self.integration) }
                td.id data-label="External ID" { (dash_if_empty(self.external_id)) }
                td.id data-label="ITSM User ID" { (dash_if_empty(self.itsm_user_id)) }
                td data-label="Status" { (badge(entry_tone(self.status), self.status)) }
            }
        }
    }
}
