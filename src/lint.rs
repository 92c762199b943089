//! `itsmid lint`: the offline part of the check. Validates both files,
//! the connectors' systems, integration names and ITSM User ID formats.
//!
//! Sends no request and resolves no secret, so it runs anywhere, CI
//! included. Pure: the command prints the report this builds.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::check;
use crate::config::Config;
use crate::identities::Identities;
use crate::printable::printable;
use crate::report::{Finding, Severity};
use crate::verdict::Verdict;

/// `itsmid.lint.v1`: what the offline checks found.
#[derive(Debug, Serialize)]
pub struct LintReport {
    pub schema: &'static str,
    pub ok: bool,
    pub identities: usize,
    pub entries: usize,
    pub findings: Vec<Finding>,
}

/// The offline checks over both files.
pub fn lint(config: &Config, identities: &Identities) -> LintReport {
    let known: Vec<&str> = config
        .connectors
        .iter()
        .map(|c| c.integration.as_str())
        .collect();
    let mut findings = Vec::new();
    for identity in identities.all() {
        let urid = identity.unique_record_id.as_str();
        let mut seen: BTreeMap<&str, Option<usize>> = BTreeMap::new();
        for entry in &identity.itsm {
            let integration = entry.integration.as_str();
            if let Some(first_line) = seen.get(integration) {
                findings.push(check::duplicate_entry(urid, integration, *first_line));
                continue;
            }
            seen.insert(integration, entry.line);
            let Some(connector) = config.connector(integration) else {
                findings.push(check::unknown_integration(urid, integration, &known));
                continue;
            };
            if let Some(raw) = &entry.itsm_user_id
                && let Err(why) = connector.system.parse_itsm_user_id(raw)
            {
                findings.push(check::malformed_id(
                    urid,
                    integration,
                    connector.system,
                    raw,
                    &why.to_string(),
                ));
            }
        }
    }
    let bot = identities.bot.as_ref();
    for connector in &config.connectors {
        let has_entry = bot.is_some_and(|b| {
            b.itsm
                .iter()
                .any(|e| e.integration == connector.integration)
        });
        if !has_entry {
            findings.push(check::bot_entry_missing(
                bot.map(|b| b.unique_record_id.as_str()),
                connector.integration.as_str(),
                connector.system,
            ));
        }
    }

    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    LintReport {
        schema: "itsmid.lint.v1",
        ok: errors == 0,
        identities: identities.all().count(),
        entries: identities.all().map(|i| i.itsm.len()).sum(),
        findings,
    }
}

impl LintReport {
    /// Problems when any finding is an error.
    pub fn verdict(&self) -> Verdict {
        Verdict::from_errors(!self.ok)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the lint report has only strings and numbers")
    }

    /// Every problem with its fix, one block each.
    pub fn to_table(&self) -> String {
        let report = self;
        let mut table = format!(
            "itsmid lint: {} identities, {} entries, {} problem{} (offline: no system was asked)\n",
            report.identities,
            report.entries,
            report.findings.len(),
            if report.findings.len() == 1 { "" } else { "s" }
        );
        for f in &report.findings {
            table.push_str(&format!(
                "  {:<7} {:<26} {} / {}\n          {}\n          fix: {}\n",
                if f.severity == Severity::Error {
                    "ERROR"
                } else {
                    "warning"
                },
                f.code.as_str(),
                printable(f.unique_record_id.as_deref().unwrap_or("-")),
                printable(f.integration.as_deref().unwrap_or("-")),
                printable(&f.message),
                printable(&f.fix)
            ));
        }
        table
    }
}
