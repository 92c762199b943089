//! The check report (SPEC section 5): the `itsmid.report.v1` JSON that
//! scripts read, and the table a person reads (problems first, each with its
//! fix on one line).
//!
//! Holds no secret and shortens no id: everything in it may be printed,
//! saved and served as it is.

use std::fmt::Write as _;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use itsmid_connectors::{ItsmUser, Reason};
use serde::Serialize;

use crate::identities::IdentityKind;
use crate::printable::{cell, printable};
use crate::verdict::Verdict;

pub const SCHEMA: &str = "itsmid.report.v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingCode {
    UnknownIntegration,
    BotEntryMissing,
    DuplicateEntry,
    NotFound,
    Ambiguous,
    Inactive,
    ItsmUserIdMismatch,
    MalformedItsmUserId,
    SharedItsmAccount,
    BotCredentialMismatch,
    SystemUnavailable,
    ItsmUserIdMissing,
    NameMismatch,
    ExternalIdNotCanonical,
    BotSetting,
    AccountType,
    BotPermissionMissing,
    UserNotCustomer,
    WorkflowGap,
}

impl FindingCode {
    /// Every code, in SPEC section 5's order.
    pub const ALL: [FindingCode; 19] = [
        FindingCode::UnknownIntegration,
        FindingCode::BotEntryMissing,
        FindingCode::DuplicateEntry,
        FindingCode::NotFound,
        FindingCode::Ambiguous,
        FindingCode::Inactive,
        FindingCode::ItsmUserIdMismatch,
        FindingCode::MalformedItsmUserId,
        FindingCode::SharedItsmAccount,
        FindingCode::BotCredentialMismatch,
        FindingCode::SystemUnavailable,
        FindingCode::ItsmUserIdMissing,
        FindingCode::NameMismatch,
        FindingCode::ExternalIdNotCanonical,
        FindingCode::BotSetting,
        FindingCode::AccountType,
        FindingCode::BotPermissionMissing,
        FindingCode::UserNotCustomer,
        FindingCode::WorkflowGap,
    ];

    /// SPEC section 5's severity of each code; an exhaustive match, so a
    /// new code does not compile until its severity is decided.
    pub fn severity(self) -> Severity {
        match self {
            FindingCode::ItsmUserIdMissing
            | FindingCode::NameMismatch
            | FindingCode::ExternalIdNotCanonical
            | FindingCode::BotSetting
            | FindingCode::AccountType
            | FindingCode::WorkflowGap => Severity::Warning,
            FindingCode::UnknownIntegration
            | FindingCode::BotEntryMissing
            | FindingCode::DuplicateEntry
            | FindingCode::NotFound
            | FindingCode::Ambiguous
            | FindingCode::Inactive
            | FindingCode::ItsmUserIdMismatch
            | FindingCode::MalformedItsmUserId
            | FindingCode::SharedItsmAccount
            | FindingCode::BotCredentialMismatch
            | FindingCode::SystemUnavailable
            | FindingCode::BotPermissionMissing
            | FindingCode::UserNotCustomer => Severity::Error,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FindingCode::UnknownIntegration => "UNKNOWN_INTEGRATION",
            FindingCode::BotEntryMissing => "BOT_ENTRY_MISSING",
            FindingCode::DuplicateEntry => "DUPLICATE_ENTRY",
            FindingCode::NotFound => "NOT_FOUND",
            FindingCode::Ambiguous => "AMBIGUOUS",
            FindingCode::Inactive => "INACTIVE",
            FindingCode::ItsmUserIdMismatch => "ITSM_USER_ID_MISMATCH",
            FindingCode::MalformedItsmUserId => "MALFORMED_ITSM_USER_ID",
            FindingCode::SharedItsmAccount => "SHARED_ITSM_ACCOUNT",
            FindingCode::BotCredentialMismatch => "BOT_CREDENTIAL_MISMATCH",
            FindingCode::SystemUnavailable => "SYSTEM_UNAVAILABLE",
            FindingCode::ItsmUserIdMissing => "ITSM_USER_ID_MISSING",
            FindingCode::NameMismatch => "NAME_MISMATCH",
            FindingCode::ExternalIdNotCanonical => "EXTERNAL_ID_NOT_CANONICAL",
            FindingCode::BotSetting => "BOT_SETTING",
            FindingCode::AccountType => "ACCOUNT_TYPE",
            FindingCode::BotPermissionMissing => "BOT_PERMISSION_MISSING",
            FindingCode::UserNotCustomer => "USER_NOT_CUSTOMER",
            FindingCode::WorkflowGap => "WORKFLOW_GAP",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// An entry's status (SPEC section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    NotFound,
    Ambiguous,
    Inactive,
    Mismatch,
    UnknownIntegration,
    Duplicate,
    Unchecked,
    Verified,
}

impl EntryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::NotFound => "not_found",
            EntryStatus::Ambiguous => "ambiguous",
            EntryStatus::Inactive => "inactive",
            EntryStatus::Mismatch => "mismatch",
            EntryStatus::UnknownIntegration => "unknown_integration",
            EntryStatus::Duplicate => "duplicate",
            EntryStatus::Unchecked => "unchecked",
            EntryStatus::Verified => "verified",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: FindingCode,
    pub severity: Severity,
    pub unique_record_id: Option<String>,
    pub integration: Option<String>,
    pub message: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
    /// The fix in one line.
    pub fix: String,
}

impl Finding {
    pub fn new(code: FindingCode, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            code,
            severity: code.severity(),
            unique_record_id: None,
            integration: None,
            message: message.into(),
            expected: None,
            actual: None,
            fix: fix.into(),
        }
    }

    pub fn on(mut self, unique_record_id: Option<&str>, integration: Option<&str>) -> Finding {
        self.unique_record_id = unique_record_id.map(str::to_owned);
        self.integration = integration.map(str::to_owned);
        self
    }

    pub fn values(mut self, expected: Option<String>, actual: Option<String>) -> Finding {
        self.expected = expected;
        self.actual = actual;
        self
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub identities: usize,
    pub entries: usize,
    pub verified: usize,
    pub errors: usize,
    pub warnings: usize,
    pub api_requests: u32,
}

/// Whether a system answered the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemStatus {
    Ok,
    Unavailable,
}

impl SystemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SystemStatus::Ok => "ok",
            SystemStatus::Unavailable => "unavailable",
        }
    }
}

/// Whether the credentials log in as the bot's entry (BOT_CREDENTIAL_MISMATCH).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialCheck {
    Ok,
    Mismatch,
    /// The system cannot say who the credentials belong to.
    Unavailable,
}

impl CredentialCheck {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialCheck::Ok => "ok",
            CredentialCheck::Mismatch => "mismatch",
            CredentialCheck::Unavailable => "unavailable",
        }
    }
}

/// Bot readiness for one system (SPEC section 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessStatus {
    /// The probe found everything in place.
    Ok,
    /// The probe made a finding.
    Problems,
    /// A part of the probe could not tell; `readiness_detail` says why.
    Unavailable,
    /// Disabled, or the bot's entry is missing or not verified.
    Skipped,
}

impl ReadinessStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadinessStatus::Ok => "ok",
            ReadinessStatus::Problems => "problems",
            ReadinessStatus::Unavailable => "unavailable",
            ReadinessStatus::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemRow {
    pub integration: String,
    pub system: String,
    pub status: SystemStatus,
    pub api_requests: u32,
    pub reason: Option<Reason>,
    pub credential_check: CredentialCheck,
    /// The External ID (or id) the credentials log in as, where known.
    pub credential_owner: Option<String>,
    /// Times the server asked us to wait (429, 503 with Retry-After).
    pub rate_limit_waits: u32,
    /// What went wrong, for an unavailable system.
    pub detail: Option<String>,
    pub readiness: ReadinessStatus,
    /// Why readiness is `unavailable` or `skipped`; what could not be told.
    pub readiness_detail: Option<String>,
    /// What the system said about itself (Salesforce `api_usage` and
    /// `api_remaining` from `Sforce-Limit-Info`).
    #[serde(flatten)]
    pub notes: std::collections::BTreeMap<String, String>,
    /// How long this system's part of the check took, for the daemon's
    /// latency metric; not in the report, whose fields are fixed.
    #[serde(skip)]
    pub wall_time: std::time::Duration,
}

/// The record as the system returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoundRecord {
    pub itsm_user_id: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub full_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_kind: Option<String>,
}

impl From<&ItsmUser> for FoundRecord {
    fn from(user: &ItsmUser) -> FoundRecord {
        FoundRecord {
            itsm_user_id: user.itsm_user_id.as_str().to_owned(),
            external_id: user.external_id.as_ref().map(|e| e.as_str().to_owned()),
            active: user.active,
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            full_name: user.full_name.clone(),
            account_type: user.account_type.clone(),
            record_kind: user.record_kind.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryReport {
    pub integration: String,
    pub external_id: Option<String>,
    pub itsm_user_id: Option<String>,
    pub status: EntryStatus,
    pub found: Option<FoundRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdentityReport {
    pub unique_record_id: String,
    pub kind: IdentityKind,
    pub entries: Vec<EntryReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub generated_at: String,
    pub complete: bool,
    pub summary: Summary,
    pub systems: Vec<SystemRow>,
    pub findings: Vec<Finding>,
    pub identities: Vec<IdentityReport>,
}

/// Now, to the second, as RFC 3339 in UTC: the report's `generated_at`
/// (and so a load's snapshot time), a daemon run's time and a recording's,
/// all rounded alike, so that no one of them reads as older than another
/// taken after it.
pub fn now_to_the_second() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}

/// The error findings of `findings` that `baseline` (an earlier check or
/// lint report, as JSON) does
/// not hold, matched by code, identity and integration, each as often
/// as it occurs: what a change made worse. A pull request's check
/// against a recording fails on these only, so the errors the systems
/// already had do not block every change.
pub fn new_errors<'a>(findings: &'a [Finding], baseline: &serde_json::Value) -> Vec<&'a Finding> {
    let mut known: Vec<(String, Option<String>, Option<String>)> = baseline["findings"]
        .as_array()
        .map(|findings| {
            findings
                .iter()
                .filter(|f| f["severity"] == "error")
                .map(|f| {
                    (
                        f["code"].as_str().unwrap_or_default().to_owned(),
                        f["unique_record_id"].as_str().map(str::to_owned),
                        f["integration"].as_str().map(str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .filter(|f| {
            let key = (
                f.code.as_str().to_owned(),
                f.unique_record_id.clone(),
                f.integration.clone(),
            );
            match known.iter().position(|k| *k == key) {
                Some(at) => {
                    known.swap_remove(at);
                    false
                }
                None => true,
            }
        })
        .collect()
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.summary.errors > 0
    }

    /// SPEC section 2: problems when any finding is an error (a system that
    /// could not be checked included); warnings are in order.
    pub fn verdict(&self) -> Verdict {
        Verdict::from_errors(self.has_errors())
    }

    /// The error findings `baseline` does not hold ([`new_errors`]).
    pub fn new_errors(&self, baseline: &serde_json::Value) -> Vec<&Finding> {
        new_errors(&self.findings, baseline)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report has only strings, numbers and maps")
    }

    /// The table a person reads: summary, systems, problems with their fix,
    /// then every entry with problems first.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let s = &self.summary;
        let _ = writeln!(
            out,
            "itsmid check: {} identities, {} entries, {} verified, {} error{}, {} warning{}, {} API requests{}",
            s.identities,
            s.entries,
            s.verified,
            s.errors,
            plural(s.errors),
            s.warnings,
            plural(s.warnings),
            s.api_requests,
            if self.complete {
                ""
            } else {
                " (INCOMPLETE: a system could not be checked)"
            }
        );
        out.push('\n');
        let mut systems = new_table(&[
            "integration",
            "system",
            "status",
            "requests",
            "credentials",
            "readiness",
            "notes",
        ]);
        for row in &self.systems {
            let status = match row.reason {
                Some(reason) => format!("{} ({})", row.status.as_str(), reason.as_str()),
                None => row.status.as_str().to_owned(),
            };
            let credentials = match &row.credential_owner {
                Some(owner) => format!("{} ({owner})", row.credential_check.as_str()),
                None => row.credential_check.as_str().to_owned(),
            };
            add_row(
                &mut systems,
                vec![
                    row.integration.clone(),
                    row.system.clone(),
                    status,
                    row.api_requests.to_string(),
                    credentials,
                    match &row.readiness_detail {
                        Some(detail) if row.readiness != ReadinessStatus::Problems => {
                            format!("{} ({detail})", row.readiness.as_str())
                        }
                        _ => row.readiness.as_str().to_owned(),
                    },
                    row.notes
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                ],
            );
        }
        let _ = writeln!(out, "{systems}");
        if !self.findings.is_empty() {
            let _ = writeln!(out, "\nProblems:");
            let mut findings: Vec<&Finding> = self.findings.iter().collect();
            findings.sort_by_key(|f| f.severity);
            for f in findings {
                let who = match (&f.unique_record_id, &f.integration) {
                    (Some(id), Some(i)) => format!("{id} / {i}"),
                    (Some(id), None) => id.clone(),
                    (None, Some(i)) => i.clone(),
                    (None, None) => String::new(),
                };
                let who = printable(&who);
                let _ = writeln!(
                    out,
                    "  {:<7} {:<26} {who}\n          {}\n          fix: {}",
                    match f.severity {
                        Severity::Error => "ERROR",
                        Severity::Warning => "warning",
                    },
                    f.code.as_str(),
                    printable(&f.message),
                    printable(&f.fix)
                );
            }
        }
        let mut rows: Vec<(&IdentityReport, &EntryReport)> = self
            .identities
            .iter()
            .flat_map(|i| i.entries.iter().map(move |e| (i, e)))
            .collect();
        rows.sort_by_key(|(_, e)| e.status);
        let mut entries = new_table(&[
            "identity",
            "kind",
            "integration",
            "external id",
            "ITSM user id",
            "status",
        ]);
        for (identity, entry) in rows {
            add_row(
                &mut entries,
                vec![
                    identity.unique_record_id.clone(),
                    identity.kind.as_str().to_owned(),
                    entry.integration.clone(),
                    entry.external_id.clone().unwrap_or_default(),
                    itsm_user_id_cell(entry),
                    entry.status.as_str().to_owned(),
                ],
            );
        }
        let _ = writeln!(out, "\nEntries:\n{entries}");
        out
    }
}

/// The stored id, and the system's where it differs or none is stored.
fn itsm_user_id_cell(entry: &EntryReport) -> String {
    let found = entry.found.as_ref().map(|f| f.itsm_user_id.as_str());
    match (entry.itsm_user_id.as_deref(), found) {
        (Some(stored), Some(found)) if !stored.eq_ignore_ascii_case(found) => {
            format!("{stored} (system: {found})")
        }
        (Some(stored), _) => stored.to_owned(),
        (None, Some(found)) => format!("(system: {found})"),
        (None, None) => String::new(),
    }
}

fn new_table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    table
}

/// Every cell through the one escaping function: values come from the
/// systems and the files.
fn add_row(table: &mut Table, cells: Vec<String>) {
    table.add_row(cells.iter().map(|c| cell(c)).collect::<Vec<String>>());
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A position per variant: a new code does not compile here until it is
    /// named, and the test below fails until `ALL` holds it.
    fn position(code: FindingCode) -> usize {
        match code {
            FindingCode::UnknownIntegration => 0,
            FindingCode::BotEntryMissing => 1,
            FindingCode::DuplicateEntry => 2,
            FindingCode::NotFound => 3,
            FindingCode::Ambiguous => 4,
            FindingCode::Inactive => 5,
            FindingCode::ItsmUserIdMismatch => 6,
            FindingCode::MalformedItsmUserId => 7,
            FindingCode::SharedItsmAccount => 8,
            FindingCode::BotCredentialMismatch => 9,
            FindingCode::SystemUnavailable => 10,
            FindingCode::ItsmUserIdMissing => 11,
            FindingCode::NameMismatch => 12,
            FindingCode::ExternalIdNotCanonical => 13,
            FindingCode::BotSetting => 14,
            FindingCode::AccountType => 15,
            FindingCode::BotPermissionMissing => 16,
            FindingCode::UserNotCustomer => 17,
            FindingCode::WorkflowGap => 18,
        }
    }

    #[test]
    fn all_holds_every_finding_code_once_in_order() {
        let positions: Vec<usize> = FindingCode::ALL.iter().map(|c| position(*c)).collect();
        assert_eq!(positions, (0..FindingCode::ALL.len()).collect::<Vec<_>>());
    }

    #[test]
    fn each_code_is_written_as_its_serialized_name() {
        for code in FindingCode::ALL {
            let json = serde_json::to_value(code).expect("a code serializes");
            assert_eq!(json, serde_json::Value::from(code.as_str()), "{code:?}");
        }
    }

    #[test]
    fn severities_are_spec_section_5s() {
        let warnings = [
            "ITSM_USER_ID_MISSING",
            "NAME_MISMATCH",
            "EXTERNAL_ID_NOT_CANONICAL",
            "BOT_SETTING",
            "ACCOUNT_TYPE",
            "WORKFLOW_GAP",
        ];
        for code in FindingCode::ALL {
            let expected = if warnings.contains(&code.as_str()) {
                Severity::Warning
            } else {
                Severity::Error
            };
            assert_eq!(code.severity(), expected, "{}", code.as_str());
        }
    }

    #[test]
    fn the_published_schema_lists_every_code_with_its_severity() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../schemas/report.v1.schema.json"))
                .expect("the schema is JSON");
        let listed = schema["$defs"]["code"]["enum"]
            .as_array()
            .expect("the schema lists the codes");
        let warnings = schema["$defs"]["finding"]["allOf"][0]["if"]["properties"]["code"]["enum"]
            .as_array()
            .expect("the schema lists the warning codes");
        for code in FindingCode::ALL {
            let name = serde_json::Value::from(code.as_str());
            assert!(
                listed.contains(&name),
                "{} is not in the schema",
                code.as_str()
            );
            assert_eq!(
                warnings.contains(&name),
                code.severity() == Severity::Warning,
                "{}'s severity in the schema",
                code.as_str()
            );
        }
    }

    #[test]
    fn a_finding_takes_its_severity_from_its_code() {
        let finding = Finding::new(FindingCode::NameMismatch, "differs", "fix it");
        assert_eq!(finding.severity, Severity::Warning);
        let finding = Finding::new(FindingCode::Inactive, "inactive", "reactivate");
        assert_eq!(finding.severity, Severity::Error);
    }

    fn report(errors: usize, warnings: usize) -> Report {
        Report {
            schema: SCHEMA,
            generated_at: "2026-12-06T10:00:00Z".into(),
            complete: true,
            summary: Summary {
                errors,
                warnings,
                ..Summary::default()
            },
            systems: Vec::new(),
            findings: Vec::new(),
            identities: Vec::new(),
        }
    }

    #[test]
    fn the_table_escapes_control_characters_from_the_systems_and_the_files() {
        let hostile = "pat\u{1b}[2J\u{1b}]0;owned\u{7}";
        let mut report = report(1, 0);
        report.findings.push(
            Finding::new(
                FindingCode::ItsmUserIdMismatch,
                format!("the system's record is \"{hostile}\""),
                "fix it",
            )
            .on(Some(hostile), Some("snow")),
        );
        report.identities.push(IdentityReport {
            unique_record_id: hostile.to_owned(),
            kind: IdentityKind::Manual,
            entries: vec![EntryReport {
                integration: "snow".into(),
                external_id: Some(hostile.to_owned()),
                itsm_user_id: None,
                status: EntryStatus::Mismatch,
                found: None,
            }],
        });
        let table = report.to_table();
        assert!(
            !table.contains('\u{1b}') && !table.contains('\u{7}'),
            "{table:?}"
        );
        assert_eq!(
            table.matches("pat\\x1b[2J\\x1b]0;owned\\x07").count(),
            4,
            "{table}"
        );
        assert!(
            report.to_json().contains("pat\\u001b[2J"),
            "JSON escapes it its own way"
        );
    }

    #[test]
    fn warnings_alone_are_in_order_and_any_error_is_a_problem() {
        assert_eq!(report(0, 3).verdict(), Verdict::InOrder);
        assert_eq!(report(1, 0).verdict(), Verdict::Problems);
    }

    #[test]
    fn statuses_serialize_to_the_contracts_strings() {
        for (value, text) in [
            (serde_json::to_value(SystemStatus::Ok), "ok"),
            (
                serde_json::to_value(SystemStatus::Unavailable),
                "unavailable",
            ),
            (serde_json::to_value(CredentialCheck::Mismatch), "mismatch"),
            (
                serde_json::to_value(EntryStatus::UnknownIntegration),
                "unknown_integration",
            ),
            (serde_json::to_value(EntryStatus::NotFound), "not_found"),
        ] {
            assert_eq!(value.expect("serializes"), serde_json::Value::from(text));
        }
        for status in [SystemStatus::Ok, SystemStatus::Unavailable] {
            assert_eq!(
                serde_json::to_value(status).expect("serializes"),
                serde_json::Value::from(status.as_str())
            );
        }
    }
}
