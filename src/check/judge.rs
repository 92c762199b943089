//! Judging: what one entry's lookups mean (SPEC section 5's findings and
//! statuses), and the findings the offline `lint` shares.
//!
//! Pure: no request, no IO. Each rule can be read and tested on its own.

use itsmid_connectors::{ItsmUser, ItsmUserId, Lookup, LookupKey, Lookups, System};

use super::{EntryResult, StoredId};
use crate::identities::{Identity, IdentityKind, ItsmIdInfo};
use crate::report::{EntryStatus, Finding, FindingCode};

/// DUPLICATE_ENTRY for the second and later entries of one integration.
pub fn duplicate_entry(urid: &str, integration: &str, first_line: Option<usize>) -> Finding {
    Finding::new(
        FindingCode::DuplicateEntry,
        format!(
            "a second entry for integration \"{integration}\" on this identity{}",
            first_line
                .map(|l| format!(" (the first is at line {l})"))
                .unwrap_or_default()
        ),
        "keep one ITSM ID Info entry per ticketing system and remove this one",
    )
    .on(Some(urid), Some(integration))
}

/// UNKNOWN_INTEGRATION, with the case-insensitive match as the fix.
pub fn unknown_integration(urid: &str, integration: &str, known: &[&str]) -> Finding {
    let suggestion = known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(integration))
        .copied();
    let fix = match suggestion {
        Some(s) => format!("write integration = \"{s}\" (integration ids are case-sensitive)"),
        None if known.is_empty() => {
            "add a [[connectors]] entry for this integration to the config".to_owned()
        }
        None => format!(
            "use the integration id of a configured connector ({}) or add one",
            known.join(", ")
        ),
    };
    Finding::new(
        FindingCode::UnknownIntegration,
        format!(
            "integration \"{integration}\" matches no configured connector; ticketing will fail with \"no bot service account found\""
        ),
        fix,
    )
    .on(Some(urid), Some(integration))
    .values(suggestion.map(str::to_owned), Some(integration.to_owned()))
}

/// MALFORMED_ITSM_USER_ID: found offline, before any request.
pub fn malformed_id(
    urid: &str,
    integration: &str,
    system: System,
    raw: &str,
    why: &str,
) -> Finding {
    Finding::new(
        FindingCode::MalformedItsmUserId,
        format!("the stored ITSM User ID \"{raw}\" cannot be a {system} id: {why}"),
        format!("copy the id from {system}, or remove itsm_user_id and run itsmid resolve --write"),
    )
    .on(Some(urid), Some(integration))
    .values(None, Some(raw.to_owned()))
}

/// BOT_ENTRY_MISSING for a connector the bot has no entry for.
pub fn bot_entry_missing(bot_urid: Option<&str>, integration: &str, system: System) -> Finding {
    Finding::new(
        FindingCode::BotEntryMissing,
        format!(
            "the bot has no ITSM ID Info entry for integration \"{integration}\"; {system} ticketing will fail with \"no bot service account found\""
        ),
        format!(
            "add a [[bot.itsm]] entry with integration = \"{integration}\" and the bot's {}, or run itsmid resolve --write",
            system.default_lookup_field()
        ),
    )
    .on(bot_urid, Some(integration))
}

/// Judges one entry from the lookups of its system.
pub(super) fn judge(
    identity: &Identity,
    entry: &ItsmIdInfo,
    stored: &StoredId,
    system: System,
    lookups: &Lookups,
) -> EntryResult {
    let urid = identity.unique_record_id.0.as_str();
    let integration = entry.integration.as_str();
    let field = system.default_lookup_field();
    let mut findings = Vec::new();
    let finding = |code, message: String, fix: String| {
        Finding::new(code, message, fix).on(Some(urid), Some(integration))
    };
    let by_ext = entry
        .external_id
        .as_ref()
        .and_then(|ext| lookups.get(&LookupKey::ExternalId(ext.clone())));
    let ext_text = entry
        .external_id
        .as_ref()
        .map(|e| e.0.as_str())
        .unwrap_or("");

    let mut mismatch = false;
    // The record that settles the entry, or the outcome that explains why none does.
    let record: Result<ItsmUser, EntryResult> = match stored {
        StoredId::Valid(id) => match lookups.get(&LookupKey::ItsmUserId(id.clone())) {
            Some(Lookup::Found(user))
                if entry.external_id.is_none()
                    || user.external_id.as_ref().is_none_or(|found| {
                        entry
                            .external_id
                            .as_ref()
                            .is_some_and(|e| e.matches(found.as_str()))
                    }) =>
            {
                Ok(user.clone())
            }
            by_id => {
                let belongs_to = match by_id {
                    Some(Lookup::Found(user)) => Some(user.clone()),
                    _ => None,
                };
                match by_ext {
                    // Found by External ID with the very id stored: settled
                    // (the system's first lookup was by External ID, or a
                    // page of ids came back short).
                    Some(Lookup::Found(user)) if user.itsm_user_id == *id => Ok(user.clone()),
                    Some(Lookup::Found(user)) => {
                        mismatch = true;
                        findings.push(
                            finding(
                                FindingCode::ItsmUserIdMismatch,
                                match &belongs_to {
                                    Some(other) => format!(
                                        "the stored ITSM User ID {id} belongs to \"{}\", not to \"{ext_text}\", whose id is {}",
                                        other.external_id.as_ref().map(|e| e.0.as_str()).unwrap_or("another user"),
                                        user.itsm_user_id
                                    ),
                                    None => format!(
                                        "the stored ITSM User ID {id} does not exist in {system}; \"{ext_text}\" has id {}",
                                        user.itsm_user_id
                                    ),
                                },
                                format!("set itsm_user_id = \"{}\" (itsmid resolve --write does this)", user.itsm_user_id),
                            )
                            .values(Some(user.itsm_user_id.0.clone()), Some(id.0.clone())),
                        );
                        Ok(user.clone())
                    }
                    other => Err(not_settled(
                        other,
                        entry,
                        system,
                        Some(id),
                        belongs_to.as_ref(),
                        urid,
                    )),
                }
            }
        },
        StoredId::Malformed { raw, why } => {
            mismatch = true;
            findings.push(malformed_id(urid, integration, system, raw, why));
            match by_ext {
                Some(Lookup::Found(user)) => Ok(user.clone()),
                other => Err(not_settled(other, entry, system, None, None, urid)),
            }
        }
        StoredId::None => match by_ext {
            Some(Lookup::Found(user)) => {
                findings.push(
                    finding(
                        FindingCode::ItsmUserIdMissing,
                        format!("the recommended ITSM User ID is empty; {system} has {} for \"{ext_text}\"", user.itsm_user_id),
                        format!("run itsmid resolve --write, or set itsm_user_id = \"{}\"", user.itsm_user_id),
                    )
                    .values(Some(user.itsm_user_id.0.clone()), None),
                );
                Ok(user.clone())
            }
            other => Err(not_settled(other, entry, system, None, None, urid)),
        },
    };
    let user = match record {
        Ok(user) => user,
        Err(mut result) => {
            // A malformed id stays reported beside "not found".
            findings.append(&mut result.findings);
            result.findings = findings;
            return result;
        }
    };

    let mut status = if mismatch {
        EntryStatus::Mismatch
    } else {
        EntryStatus::Verified
    };
    if !user.active {
        status = EntryStatus::Inactive;
        let state = user
            .inactive_reason
            .clone()
            .unwrap_or_else(|| "inactive".to_owned());
        findings.push(
            finding(
                FindingCode::Inactive,
                format!(
                    "the account \"{}\" ({}) is {state} in {system}",
                    user.external_id
                        .as_ref()
                        .map(|e| e.0.as_str())
                        .unwrap_or(ext_text),
                    user.itsm_user_id
                ),
                format!(
                    "reactivate the account in {system}, or point the entry at an active account"
                ),
            )
            .values(Some("active".into()), Some(state)),
        );
    }
    match (&entry.external_id, &user.external_id) {
        (Some(ours), Some(theirs)) if ours.0 != theirs.0 && ours.matches(theirs.as_str()) => findings.push(
            finding(
                FindingCode::ExternalIdNotCanonical,
                format!("{system} spells the External ID \"{theirs}\", the entry has \"{ours}\""),
                format!("set external_id = \"{theirs}\""),
            )
            .values(Some(theirs.0.clone()), Some(ours.0.clone())),
        ),
        (None, Some(theirs)) => findings.push(
            finding(
                FindingCode::ExternalIdNotCanonical,
                format!("the External ID is empty; {system} shows \"{theirs}\" ({field}) for this account"),
                format!("set external_id = \"{theirs}\" (itsmid resolve --write does this)"),
            )
            .values(Some(theirs.0.clone()), None),
        ),
        _ => {}
    }
    for (name, ours, theirs) in [
        ("first_name", &entry.first_name, &user.first_name),
        ("last_name", &entry.last_name, &user.last_name),
        ("full_name", &entry.full_name, &user.full_name),
    ] {
        if let (Some(ours), Some(theirs)) = (ours, theirs)
            && normalize_name(ours) != normalize_name(theirs)
        {
            findings.push(
                finding(
                    FindingCode::NameMismatch,
                    format!("{name} \"{ours}\" differs from {system}'s \"{theirs}\""),
                    format!("set {name} = \"{theirs}\", or correct the name in {system}"),
                )
                .values(Some(theirs.clone()), Some(ours.clone())),
            );
        }
    }
    if identity.kind == IdentityKind::Manual && user.account_type.as_deref() == Some("app") {
        findings.push(
            finding(
                FindingCode::AccountType,
                format!(
                    "the account {} is a {system} app account, which cannot act as a person",
                    user.itsm_user_id
                ),
                "point the entry at the person's own atlassian or customer account".to_owned(),
            )
            .values(Some("atlassian or customer".into()), Some("app".into())),
        );
    }
    EntryResult {
        status,
        found: Some(user),
        findings,
    }
}

/// The result for an entry no record settled: not found, ambiguous, or a
/// value that could not be sent.
fn not_settled(
    by_ext: Option<&Lookup>,
    entry: &ItsmIdInfo,
    system: System,
    stored: Option<&ItsmUserId>,
    id_belongs_to: Option<&ItsmUser>,
    urid: &str,
) -> EntryResult {
    let integration = entry.integration.as_str();
    let field = system.default_lookup_field();
    let ext = entry.external_id.as_ref().map(|e| e.0.as_str());
    let finding = |code, message: String, fix: String| {
        Finding::new(code, message, fix).on(Some(urid), Some(integration))
    };
    match (by_ext, ext) {
        (Some(Lookup::Ambiguous(users)), Some(ext)) => {
            let candidates: Vec<String> = users
                .iter()
                .map(|u| {
                    format!(
                        "{} ({}, {}{})",
                        u.itsm_user_id,
                        u.external_id
                            .as_ref()
                            .map(|e| e.0.as_str())
                            .unwrap_or("hidden"),
                        if u.active { "active" } else { "inactive" },
                        u.full_name
                            .as_ref()
                            .map(|n| format!(", {n}"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            EntryResult {
                status: EntryStatus::Ambiguous,
                found: None,
                findings: vec![finding(
                    FindingCode::Ambiguous,
                    format!(
                        "{} users in {system} match External ID \"{ext}\": {}",
                        users.len(),
                        candidates.join("; ")
                    ),
                    "store the ITSM User ID of the right account in itsm_user_id".into(),
                )],
            }
        }
        (Some(Lookup::Refused(unsafe_value)), Some(ext)) => EntryResult {
            status: EntryStatus::NotFound,
            found: None,
            findings: vec![
                finding(
                    FindingCode::NotFound,
                    format!(
                        "External ID \"{}\" was not looked up: {}",
                        ext.escape_debug(),
                        unsafe_value.reason
                    ),
                    format!("correct external_id to the {field} {system} shows for the user"),
                )
                .values(None, Some(ext.to_owned())),
            ],
        },
        (other, _) => {
            let note = match other {
                Some(Lookup::NotFound { note: Some(note) }) => format!(" ({note})"),
                _ => String::new(),
            };
            let message = match (ext, stored, id_belongs_to) {
                (Some(ext), Some(id), Some(owner)) => format!(
                    "no user in {system} has External ID \"{ext}\"{note}; the stored ITSM User ID {id} belongs to \"{}\"",
                    owner
                        .external_id
                        .as_ref()
                        .map(|e| e.0.as_str())
                        .unwrap_or("a user whose External ID is hidden")
                ),
                (Some(ext), Some(id), None) => {
                    format!(
                        "no user in {system} has External ID \"{ext}\"{note}, and the stored ITSM User ID {id} does not exist"
                    )
                }
                (Some(ext), None, _) => {
                    format!("no user in {system} has External ID \"{ext}\"{note}")
                }
                (None, Some(id), _) => format!(
                    "the stored ITSM User ID {id} does not exist in {system}, and the entry has no External ID"
                ),
                (None, None, _) => {
                    "the entry has neither an External ID nor an ITSM User ID".to_owned()
                }
            };
            let fix = if ext.is_none() && stored.is_none() {
                "run itsmid resolve --write to fill it from the identity's e-mail address, or set external_id".to_owned()
            } else {
                format!(
                    "set external_id to the {field} {system} shows for the user, or create the account"
                )
            };
            EntryResult {
                status: EntryStatus::NotFound,
                found: None,
                findings: vec![
                    finding(FindingCode::NotFound, message, fix)
                        .values(None, ext.map(str::to_owned)),
                ],
            }
        }
    }
}

/// Names compare without regard to spacing differences.
fn normalize_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}
