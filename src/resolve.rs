//! Auto-population (`itsmid resolve [--write]`): from what the check found,
//! proposes the ITSM ID Info values that are missing or stale, the External
//! IDs' canonical spelling, names, and missing bot entries; `--write` puts
//! them into the identities file.
//!
//! SPEC section 2 is the rule book: never anything for an entry that is not
//! found, ambiguous or inactive, or whose system was unavailable; never an
//! empty value over a non-empty one. A match by e-mail address for an entry
//! that is not found is shown as a suggestion and never written.

use std::collections::{BTreeMap, BTreeSet};

use itsmid_connectors::{AnyConnector, ItsmUser, Lookup, LookupKey};
use serde::Serialize;

use crate::check::{CheckRun, Connected};
use crate::config::Config;
use crate::edit::{IdentitiesFile, Who};
use crate::identities::{Identities, Identity, IdentityKind};
use crate::printable::printable;
use crate::report::{EntryStatus, Finding, FindingCode};
use crate::verdict::Verdict;

pub const SCHEMA: &str = "itsmid.resolve.v1";

/// One value to write into one entry.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub integration: String,
    /// The entry's position among the identity's entries; `None` for a new
    /// bot entry.
    #[serde(skip)]
    pub entry: Option<usize>,
    pub field: &'static str,
    pub old: Option<String>,
    pub new: String,
    /// Which lookup found it.
    pub reason: String,
}

/// A match by e-mail address for an entry that was not found: for the
/// administrator to confirm, never written.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    pub integration: String,
    pub external_id: Option<String>,
    pub itsm_user_id: String,
    pub full_name: Option<String>,
    pub active: bool,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdentityPlan {
    pub unique_record_id: String,
    pub kind: IdentityKind,
    pub changes: Vec<Change>,
    pub suggestions: Vec<Suggestion>,
    /// Why nothing could be proposed where something is wrong.
    pub notes: Vec<String>,
    #[serde(skip)]
    who: Option<Who>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemStatus {
    pub integration: String,
    pub status: crate::report::SystemStatus,
    pub reason: Option<&'static str>,
    pub api_requests: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub changes: usize,
    pub identities_changed: usize,
    pub suggestions: usize,
    pub api_requests: u32,
}

/// The proposals for the whole file.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub schema: &'static str,
    pub generated_at: String,
    pub file: String,
    /// True when every configured system answered.
    pub complete: bool,
    pub written: bool,
    pub summary: Summary,
    pub systems: Vec<SystemStatus>,
    pub identities: Vec<IdentityPlan>,
    /// The check's readiness findings (SPEC section 5.1) with their fixes:
    /// resolve cannot grant a permission, so it lists them.
    pub readiness: Vec<Finding>,
}

/// Builds the plan from a finished check, then looks up suggestions for
/// entries that were not found.
pub async fn plan(
    config: &Config,
    identities: &Identities,
    connected: &[Connected],
    run: &CheckRun,
) -> Plan {
    let people: Vec<&Identity> = identities.all().collect();
    let has_bot = identities.bot.is_some();
    let mut plans: Vec<IdentityPlan> = people
        .iter()
        .enumerate()
        .map(|(i, identity)| IdentityPlan {
            unique_record_id: identity.unique_record_id.as_str().to_owned(),
            kind: identity.kind,
            changes: Vec::new(),
            suggestions: Vec::new(),
            notes: Vec::new(),
            who: Some(match (has_bot, i) {
                (true, 0) => Who::Bot,
                (true, n) => Who::User(n - 1),
                (false, n) => Who::User(n),
            }),
        })
        .collect();

    for (at, result) in &run.entries {
        let identity = people[at.identity];
        let entry = &identity.itsm[at.entry];
        let integration = entry.integration.as_str();
        let plan = &mut plans[at.identity];
        match result.status {
            EntryStatus::Verified | EntryStatus::Mismatch => {}
            EntryStatus::UnknownIntegration => {
                propose_spelling(identity, at.entry, connected, plan);
                continue;
            }
            EntryStatus::Inactive => {
                plan.notes.push(format!(
                    "{integration}: the account is inactive; nothing is written for it"
                ));
                continue;
            }
            EntryStatus::Ambiguous => {
                plan.notes.push(format!(
                    "{integration}: several accounts match; choose one and set its itsm_user_id (see the check report)"
                ));
                continue;
            }
            _ => continue,
        }
        let Some(found) = &result.found else { continue };
        let system = connected
            .iter()
            .find(|c| c.config.integration == entry.integration)
            .map(|c| c.config.system);
        let how = match (&entry.itsm_user_id, &entry.external_id) {
            (Some(id), _) if result.status == EntryStatus::Verified => {
                format!("found by its ITSM User ID {id}")
            }
            (_, Some(ext)) => format!("found by its External ID \"{ext}\""),
            (Some(id), None) => format!("found by its ITSM User ID {id}"),
            (None, None) => "found".to_owned(),
        };
        let mut propose =
            |field: &'static str, old: Option<&str>, new: Option<&str>, reason: String| {
                if let Some(new) = new.filter(|n| !n.trim().is_empty())
                    && old != Some(new)
                {
                    plan.changes.push(Change {
                        integration: integration.to_owned(),
                        entry: Some(at.entry),
                        field,
                        old: old.map(str::to_owned),
                        new: new.to_owned(),
                        reason,
                    });
                }
            };
        let id_reason = match entry.itsm_user_id.as_deref() {
            None => format!("missing; {how}"),
            // The same record's long form, not another record's id.
            Some(old)
                if system.is_some_and(|s| {
                    s.short_id_form(old)
                        && s.parse_itsm_user_id(old)
                            .is_ok_and(|id| id == found.itsm_user_id)
                }) =>
            {
                "the 18-character form of the stored 15-character Id".to_owned()
            }
            Some(_) => format!("stale; {how}"),
        };
        propose(
            "itsm_user_id",
            entry.itsm_user_id.as_deref(),
            Some(found.itsm_user_id.as_str()),
            id_reason,
        );
        let ext_reason = match &entry.external_id {
            None => format!("missing; {how}"),
            Some(_) => "the system's spelling".to_owned(),
        };
        let found_ext = found.external_id.as_ref().map(|e| e.as_str());
        if entry
            .external_id
            .as_ref()
            .is_none_or(|ours| found_ext.is_some_and(|theirs| ours.matches(theirs)))
        {
            propose(
                "external_id",
                entry.external_id.as_ref().map(|e| e.as_str()),
                found_ext,
                ext_reason,
            );
        }
        for (field, ours, theirs) in [
            ("first_name", &entry.first_name, &found.first_name),
            ("last_name", &entry.last_name, &found.last_name),
            ("full_name", &entry.full_name, &found.full_name),
        ] {
            propose(
                field,
                ours.as_deref(),
                theirs.as_deref(),
                format!("the system's name; {how}"),
            );
        }
    }

    add_missing_bot_entries(&people, connected, run, &mut plans);
    let extra = suggest_by_email(&people, connected, run, &mut plans).await;

    let systems: Vec<SystemStatus> = run
        .report
        .systems
        .iter()
        .map(|row| SystemStatus {
            integration: row.integration.clone(),
            status: row.status,
            reason: row.reason.map(|r| r.as_str()),
            // The check's requests, the suggestions' and their follow-ups.
            api_requests: connected
                .iter()
                .find(|c| c.config.integration.as_str() == row.integration)
                .map(|c| c.connector.http().requests_sent())
                .unwrap_or(row.api_requests)
                + extra.get(&row.integration).copied().unwrap_or(0),
        })
        .collect();
    let identities: Vec<IdentityPlan> = plans
        .into_iter()
        .filter(|p| !p.changes.is_empty() || !p.suggestions.is_empty() || !p.notes.is_empty())
        .collect();
    Plan {
        schema: SCHEMA,
        generated_at: run.report.generated_at.clone(),
        file: identities_path(config),
        complete: run.report.complete,
        written: false,
        summary: Summary {
            changes: identities.iter().map(|p| p.changes.len()).sum(),
            identities_changed: identities.iter().filter(|p| !p.changes.is_empty()).count(),
            suggestions: identities.iter().map(|p| p.suggestions.len()).sum(),
            api_requests: systems.iter().map(|s| s.api_requests).sum(),
        },
        systems,
        identities,
        readiness: run
            .report
            .findings
            .iter()
            .filter(|f| {
                matches!(
                    f.code,
                    FindingCode::BotPermissionMissing
                        | FindingCode::UserNotCustomer
                        | FindingCode::WorkflowGap
                        | FindingCode::BotSetting
                )
            })
            .cloned()
            .collect(),
    }
}

fn identities_path(config: &Config) -> String {
    config.identities.display().to_string()
}

/// The connector's spelling of an integration id that matches exactly one
/// connector without regard to case: certain, so it is written. Never when
/// the identity already has an entry with that spelling (two entries for
/// one integration would follow).
fn propose_spelling(
    identity: &Identity,
    entry: usize,
    connected: &[Connected],
    plan: &mut IdentityPlan,
) {
    let written = identity.itsm[entry].integration.as_str();
    let matches: Vec<&str> = connected
        .iter()
        .map(|c| c.config.integration.as_str())
        .filter(|known| known.eq_ignore_ascii_case(written))
        .collect();
    let [spelling] = matches.as_slice() else {
        return;
    };
    // Another entry spelled so, or spelled another way, would make two
    // entries for one integration.
    let same_system = identity
        .itsm
        .iter()
        .filter(|e| e.integration.as_str().eq_ignore_ascii_case(spelling))
        .count();
    if same_system > 1 {
        plan.notes.push(format!(
            "{written}: the identity has another entry for \"{spelling}\" in some spelling; remove one of them by hand"
        ));
        return;
    }
    plan.changes.push(Change {
        integration: (*spelling).to_owned(),
        entry: Some(entry),
        field: "integration",
        old: Some(written.to_owned()),
        new: (*spelling).to_owned(),
        reason: "the connector's spelling; integrations are matched case-sensitively".to_owned(),
    });
}

/// A missing bot entry is added for a connector whose credentials' owner
/// is known and active: the account the connector logs in as is the bot.
fn add_missing_bot_entries(
    people: &[&Identity],
    connected: &[Connected],
    run: &CheckRun,
    plans: &mut [IdentityPlan],
) {
    let Some(bot_index) = people.iter().position(|p| p.kind == IdentityKind::Bot) else {
        return;
    };
    let bot = people[bot_index];
    for c in connected {
        let integration = c.config.integration.as_str();
        let renamed = plans[bot_index]
            .changes
            .iter()
            .any(|c| c.field == "integration" && c.new == integration);
        if renamed
            || bot
                .itsm
                .iter()
                .any(|e| e.integration.as_str() == integration)
            || run.unavailable.contains(integration)
        {
            continue;
        }
        let Some(owner) = run.owners.get(integration) else {
            plans[bot_index].notes.push(format!(
                "{integration}: no bot entry, and {} cannot say whom its credentials belong to; add the entry by hand",
                c.config.system
            ));
            continue;
        };
        if !owner.active {
            plans[bot_index].notes.push(format!(
                "{integration}: the credentials' account is inactive; no bot entry was proposed"
            ));
            continue;
        }
        let reason = format!("the account {}'s credentials log in as", c.config.system);
        for (field, value) in account_fields(integration, owner) {
            plans[bot_index].changes.push(Change {
                integration: integration.to_owned(),
                entry: None,
                field,
                old: None,
                new: value,
                reason: reason.clone(),
            });
        }
    }
}

/// An entry's fields for an account: integration, External ID, ITSM User
/// ID and the names the system has.
fn account_fields(integration: &str, owner: &ItsmUser) -> Vec<(&'static str, String)> {
    let mut fields = vec![("integration", integration.to_owned())];
    if let Some(ext) = &owner.external_id {
        fields.push(("external_id", ext.as_str().to_owned()));
    }
    fields.push(("itsm_user_id", owner.itsm_user_id.as_str().to_owned()));
    for (field, value) in [
        ("first_name", &owner.first_name),
        ("last_name", &owner.last_name),
        ("full_name", &owner.full_name),
    ] {
        if let Some(value) = value.as_ref().filter(|v| !v.trim().is_empty()) {
            fields.push((field, value.clone()));
        }
    }
    fields
}

/// For entries not found, looks the identity up by its e-mail addresses
/// and offers the single exact match; several are listed, never chosen.
async fn suggest_by_email(
    people: &[&Identity],
    connected: &[Connected],
    run: &CheckRun,
    plans: &mut [IdentityPlan],
) -> BTreeMap<String, u32> {
    let mut extra = BTreeMap::new();
    for c in connected {
        let integration = c.config.integration.as_str();
        if run.unavailable.contains(integration) {
            continue;
        }
        // The entry of each identity that was not found, and whether it is
        // blank (no External ID, no ITSM User ID): a blank entry asks to be
        // filled, a wrong value is the administrator's and only gets a
        // suggestion.
        let mut blank: BTreeMap<usize, usize> = BTreeMap::new();
        let wanted: Vec<(usize, Vec<String>)> = run
            .entries
            .iter()
            .filter(|(at, r)| {
                r.status == EntryStatus::NotFound
                    && people[at.identity].itsm[at.entry].integration.as_str() == integration
            })
            .map(|(at, _)| {
                let entry = &people[at.identity].itsm[at.entry];
                if entry.external_id.is_none() && entry.itsm_user_id.is_none() {
                    blank.insert(at.identity, at.entry);
                }
                (
                    at.identity,
                    people[at.identity]
                        .emails()
                        .iter()
                        .map(|e| e.to_string())
                        .collect(),
                )
            })
            .filter(|(_, emails): &(usize, Vec<String>)| !emails.is_empty())
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let Some(by_email) = email_connector(&c.config) else {
            continue;
        };
        let keys: BTreeSet<LookupKey> = wanted
            .iter()
            .flat_map(|(_, emails)| {
                emails
                    .iter()
                    .map(|e| LookupKey::ExternalId(itsmid_connectors::ExternalId::new(e.clone())))
            })
            .collect();
        let keys: Vec<LookupKey> = keys.into_iter().collect();
        let lookups = by_email.lookup(&keys).await;
        extra.insert(integration.to_owned(), by_email.http().requests_sent());
        let Ok(lookups) = lookups else { continue };
        // The e-mail lookup names records by their e-mail; fetch them by id
        // through the configured connector for the External ID it uses.
        let mut candidates: BTreeMap<usize, BTreeMap<String, ItsmUser>> = BTreeMap::new();
        for (identity, emails) in &wanted {
            for email in emails {
                let key = LookupKey::ExternalId(itsmid_connectors::ExternalId::new(email.clone()));
                match lookups.get(&key) {
                    Some(Lookup::Found(user)) => {
                        candidates
                            .entry(*identity)
                            .or_default()
                            .insert(user.itsm_user_id.as_str().to_owned(), user.clone());
                    }
                    Some(Lookup::Ambiguous(users)) => {
                        for user in users {
                            candidates
                                .entry(*identity)
                                .or_default()
                                .insert(user.itsm_user_id.as_str().to_owned(), user.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        let ids: BTreeSet<LookupKey> = candidates
            .values()
            .flat_map(|m| {
                m.values()
                    .map(|u| LookupKey::ItsmUserId(u.itsm_user_id.clone()))
            })
            .collect();
        let canonical = if ids.is_empty() {
            None
        } else {
            c.connector
                .lookup(&ids.into_iter().collect::<Vec<_>>())
                .await
                .ok()
        };
        for (identity, found) in candidates {
            let users: Vec<ItsmUser> = found
                .into_values()
                .map(|user| {
                    match canonical
                        .as_ref()
                        .and_then(|l| l.get(&LookupKey::ItsmUserId(user.itsm_user_id.clone())))
                    {
                        Some(Lookup::Found(full)) => full.clone(),
                        _ => user,
                    }
                })
                .collect();
            let plan = &mut plans[identity];
            match (users.as_slice(), blank.get(&identity)) {
                ([user], Some(&entry)) if user.active => {
                    let reason = "missing; the only account with one of this identity's e-mail addresses";
                    for (field, value) in account_fields(integration, user).into_iter().skip(1) {
                        plan.changes.push(Change {
                            integration: integration.to_owned(),
                            entry: Some(entry),
                            field,
                            old: None,
                            new: value,
                            reason: reason.to_owned(),
                        });
                    }
                }
                ([user], Some(_)) => plan.notes.push(format!(
                    "{integration}: the only account with this identity's e-mail addresses, {}, is inactive; nothing is written",
                    user.itsm_user_id
                )),
                ([user], None) => plan.suggestions.push(Suggestion {
                    integration: integration.to_owned(),
                    external_id: user.external_id.as_ref().map(|e| e.as_str().to_owned()),
                    itsm_user_id: user.itsm_user_id.as_str().to_owned(),
                    full_name: user.full_name.clone(),
                    active: user.active,
                    reason: "the only account with one of this identity's e-mail addresses; confirm it and set external_id"
                        .to_owned(),
                }),
                ([], _) => {}
                (several, _) => plan.notes.push(format!(
                    "{integration}: {} accounts have this identity's e-mail addresses: {}; none was chosen",
                    several.len(),
                    several
                        .iter()
                        .map(|u| format!(
                            "{} ({}, {}{})",
                            u.itsm_user_id,
                            u.external_id.as_ref().map(|e| e.as_str()).unwrap_or("External ID hidden"),
                            if u.active { "active" } else { "inactive" },
                            u.full_name.as_ref().map(|n| format!(", {n}")).unwrap_or_default()
                        ))
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
            }
        }
    }
    extra
}

/// A second connector of the same system that looks users up by e-mail.
fn email_connector(connector: &crate::config::ConnectorConfig) -> Option<AnyConnector> {
    let mut settings = crate::config::connector_settings(connector).ok()?;
    settings.lookup_field = connector.system.email_field().to_owned();
    AnyConnector::new(settings).ok()
}

/// Writes the plan's changes; `Ok(true)` when the file changed.
pub fn write(identities: &Identities, plan: &Plan) -> Result<bool, crate::edit::EditError> {
    let mut file = IdentitiesFile::from_text(&identities.path, &identities.text)?;
    for identity in &plan.identities {
        let Some(who) = identity.who else { continue };
        let mut by_entry: BTreeMap<usize, Vec<(&str, &str)>> = BTreeMap::new();
        let mut new_entries: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
        for change in &identity.changes {
            match change.entry {
                Some(entry) => by_entry
                    .entry(entry)
                    .or_default()
                    .push((change.field, change.new.as_str())),
                None => new_entries
                    .entry(change.integration.as_str())
                    .or_default()
                    .push((change.field, change.new.as_str())),
            }
        }
        for (entry, fields) in by_entry {
            file.set_entry_fields(who, entry, &fields)?;
        }
        for fields in new_entries.values() {
            file.append_entry(who, fields)?;
        }
    }
    file.save()
}

impl Plan {
    /// SPEC section 2: resolve exits 1 when a system could not be checked,
    /// even after it wrote what it could verify in the others.
    pub fn verdict(&self) -> Verdict {
        Verdict::from_errors(!self.complete)
    }

    /// Keeps one identity's proposals, for `users add --resolve`.
    pub fn keep_only(&mut self, unique_record_id: &str) {
        self.identities
            .retain(|p| p.unique_record_id == unique_record_id);
        self.summary.changes = self.identities.iter().map(|p| p.changes.len()).sum();
        self.summary.identities_changed = self
            .identities
            .iter()
            .filter(|p| !p.changes.is_empty())
            .count();
        self.summary.suggestions = self.identities.iter().map(|p| p.suggestions.len()).sum();
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the plan has only strings, numbers and lists")
    }

    /// A readable diff per identity.
    pub fn to_table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "itsmid resolve: {} change{} for {} identit{} in {}{}{}",
            self.summary.changes,
            if self.summary.changes == 1 { "" } else { "s" },
            self.summary.identities_changed,
            if self.summary.identities_changed == 1 {
                "y"
            } else {
                "ies"
            },
            printable(&self.file),
            if self.written {
                " (written)"
            } else if self.summary.changes > 0 {
                " (not written: add --write)"
            } else {
                ""
            },
            if self.complete {
                ""
            } else {
                "; INCOMPLETE: a system could not be checked, nothing is proposed for it"
            }
        );
        for system in self
            .systems
            .iter()
            .filter(|s| s.status != crate::report::SystemStatus::Ok)
        {
            let _ = writeln!(
                out,
                "  {} could not be checked ({})",
                printable(&system.integration),
                system.reason.unwrap_or("?")
            );
        }
        for identity in &self.identities {
            let _ = writeln!(
                out,
                "\n{} ({})",
                printable(&identity.unique_record_id),
                identity.kind.as_str()
            );
            let mut new_entries: Vec<&str> = Vec::new();
            for change in &identity.changes {
                if change.entry.is_none() {
                    if !new_entries.contains(&change.integration.as_str()) {
                        new_entries.push(&change.integration);
                        let _ = writeln!(
                            out,
                            "  + [[bot.itsm]] for {}  ({})",
                            printable(&change.integration),
                            printable(&change.reason)
                        );
                    }
                    let _ = writeln!(
                        out,
                        "      + {} = \"{}\"",
                        change.field,
                        printable(&change.new)
                    );
                    continue;
                }
                let _ = writeln!(
                    out,
                    "  {} {}  ({})",
                    printable(&change.integration),
                    change.field,
                    printable(&change.reason)
                );
                if let Some(old) = &change.old {
                    let _ = writeln!(out, "      - \"{}\"", printable(old));
                }
                let _ = writeln!(out, "      + \"{}\"", printable(&change.new));
            }
            for suggestion in &identity.suggestions {
                let _ = writeln!(
                    out,
                    "  ? {} suggestion, not written: external_id \"{}\", itsm_user_id \"{}\"{} ({})",
                    printable(&suggestion.integration),
                    printable(suggestion.external_id.as_deref().unwrap_or("")),
                    printable(&suggestion.itsm_user_id),
                    suggestion
                        .full_name
                        .as_ref()
                        .map(|n| format!(", {}", printable(n)))
                        .unwrap_or_default(),
                    printable(&suggestion.reason)
                );
            }
            for note in &identity.notes {
                let _ = writeln!(out, "  ! {}", printable(note));
            }
        }
        if !self.readiness.is_empty() {
            let _ = writeln!(
                out,
                "\nBot readiness (resolve cannot grant these; fix them in the system):"
            );
            for finding in &self.readiness {
                let _ = writeln!(
                    out,
                    "  {} {} / {}: {}\n      fix: {}",
                    finding.code.as_str(),
                    printable(finding.unique_record_id.as_deref().unwrap_or("-")),
                    printable(finding.integration.as_deref().unwrap_or("-")),
                    printable(&finding.message),
                    printable(&finding.fix)
                );
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
