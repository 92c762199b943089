//! Bot readiness in the check (SPEC section 5.1): after every entry is
//! judged, each connector's probe runs for the bot, side by side, and its
//! problems become findings with the system row's `readiness`.
//!
//! A probe never changes an entry's status and never makes its system
//! unavailable: what it cannot tell is `readiness_detail`, not a finding.

use std::collections::BTreeMap;

use itsmid_connectors::{ItsmUser, ReadinessInput, ReadinessKind};

use super::{Connected, EntryRef, EntryResult};
use crate::identities::{Identity, IdentityKind};
use crate::report::{
    CredentialCheck, EntryStatus, Finding, FindingCode, ReadinessStatus, SystemRow, SystemStatus,
};

/// What the probe of one system is given, or why it is skipped.
enum Plan {
    Probe {
        input: Box<ReadinessInput>,
        /// The Unique Record ID of each of `input.users`, in order.
        users: Vec<String>,
    },
    Skip(&'static str),
    /// Not sent: the probe would see what another account sees.
    CannotTell(&'static str),
}

/// Runs the probes and records their findings and each row's readiness.
pub(super) async fn probe(
    people: &[&Identity],
    connected: &[Connected],
    results: &BTreeMap<EntryRef, EntryResult>,
    rows: &mut [SystemRow],
    findings: &mut Vec<Finding>,
) {
    let plans: Vec<Plan> = connected
        .iter()
        .zip(rows.iter())
        .map(|(c, row)| plan(people, c, row, results))
        .collect();
    let answers =
        futures_util::future::join_all(connected.iter().zip(&plans).map(|(c, plan)| async move {
            match plan {
                Plan::Probe { input, .. } => Some(c.connector.readiness(input).await),
                Plan::Skip(_) | Plan::CannotTell(_) => None,
            }
        }))
        .await;
    let bot_urid = people
        .iter()
        .find(|p| p.kind == IdentityKind::Bot)
        .map(|b| b.unique_record_id.as_str());
    for (((c, plan), answer), row) in connected.iter().zip(&plans).zip(answers).zip(rows) {
        let integration = c.config.integration.as_str();
        // The probe's requests count with the system's.
        row.api_requests = c.connector.http().requests_sent();
        row.rate_limit_waits = c.connector.http().rate_limit_waits();
        row.notes = c.connector.http().notes();
        let (Plan::Probe { users, .. }, Some(readiness)) = (plan, answer) else {
            match plan {
                Plan::Skip(why) => {
                    row.readiness = ReadinessStatus::Skipped;
                    row.readiness_detail = Some((*why).to_owned());
                }
                Plan::CannotTell(why) => {
                    row.readiness = ReadinessStatus::Unavailable;
                    row.readiness_detail = Some((*why).to_owned());
                }
                Plan::Probe { .. } => {}
            }
            continue;
        };
        // The bot's own record's settings (BOT_SETTING, judged with the
        // credential check) are part of its readiness too (SPEC 5.1).
        let settings_off = findings.iter().any(|f| {
            f.code == FindingCode::BotSetting && f.integration.as_deref() == Some(integration)
        });
        for problem in &readiness.problems {
            let (code, urid) = match problem.kind {
                ReadinessKind::PermissionMissing => (FindingCode::BotPermissionMissing, bot_urid),
                ReadinessKind::WorkflowGap => (FindingCode::WorkflowGap, bot_urid),
                ReadinessKind::BotSetting => (FindingCode::BotSetting, bot_urid),
                ReadinessKind::NotCustomer { user } => (
                    FindingCode::UserNotCustomer,
                    users.get(user).map(String::as_str),
                ),
            };
            findings.push(
                Finding::new(code, problem.message.clone(), problem.fix.clone())
                    .on(urid, Some(integration))
                    .values(problem.expected.clone(), problem.actual.clone()),
            );
        }
        row.readiness = if !readiness.problems.is_empty() || settings_off {
            ReadinessStatus::Problems
        } else if !readiness.cannot_tell.is_empty() {
            ReadinessStatus::Unavailable
        } else {
            ReadinessStatus::Ok
        };
        row.readiness_detail =
            (!readiness.cannot_tell.is_empty()).then(|| readiness.cannot_tell.join("; "));
    }
}

/// The probe's input: the bot's verified account and the manual users'
/// verified accounts in this system; or why there is no probe.
fn plan(
    people: &[&Identity],
    c: &Connected,
    row: &SystemRow,
    results: &BTreeMap<EntryRef, EntryResult>,
) -> Plan {
    if !c.config.readiness.enabled {
        return Plan::Skip("disabled by [connectors.readiness] enabled = false");
    }
    if row.status != SystemStatus::Ok {
        return Plan::Skip("the system could not be checked");
    }
    let integration = c.config.integration.as_str();
    let verified = |identity: usize| -> Option<&ItsmUser> {
        let entry = people[identity]
            .itsm
            .iter()
            .position(|e| e.integration.as_str() == integration)?;
        let result = results.get(&EntryRef { identity, entry })?;
        match result.status {
            EntryStatus::Verified => result.found.as_ref(),
            _ => None,
        }
    };
    let Some(bot_index) = people.iter().position(|p| p.kind == IdentityKind::Bot) else {
        return Plan::Skip("the identities file has no bot");
    };
    let has_entry = people[bot_index]
        .itsm
        .iter()
        .any(|e| e.integration.as_str() == integration);
    if !has_entry {
        return Plan::Skip("the bot has no entry for this connector");
    }
    let Some(bot) = verified(bot_index) else {
        return Plan::Skip("the bot's entry is not verified");
    };
    if row.credential_check == CredentialCheck::Mismatch {
        return Plan::CannotTell(
            "the connector's credentials are not the bot's (BOT_CREDENTIAL_MISMATCH): a probe would see what another account sees",
        );
    }
    let mut users = Vec::new();
    let mut accounts = Vec::new();
    for (i, person) in people.iter().enumerate() {
        if person.kind != IdentityKind::Manual {
            continue;
        }
        if let Some(account) = verified(i) {
            users.push(person.unique_record_id.as_str().to_owned());
            accounts.push(account.clone());
        }
    }
    Plan::Probe {
        input: Box::new(ReadinessInput {
            bot: bot.clone(),
            users: accounts,
        }),
        users,
    }
}
