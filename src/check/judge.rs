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
    let urid = identity.unique_record_id.as_str();
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
    let ext_text = entry.external_id.as_ref().map(|e| e.as_str()).unwrap_or("");

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
                                        other.external_id.as_ref().map(|e| e.as_str()).unwrap_or("another user"),
                                        user.itsm_user_id
                                    ),
                                    None => format!(
                                        "the stored ITSM User ID {id} does not exist in {system}; \"{ext_text}\" has id {}",
                                        user.itsm_user_id
                                    ),
                                },
                                format!("set itsm_user_id = \"{}\" (itsmid resolve --write does this)", user.itsm_user_id),
                            )
                            .values(Some(user.itsm_user_id.as_str().to_owned()), Some(id.as_str().to_owned())),
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
                    .values(Some(user.itsm_user_id.as_str().to_owned()), None),
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
                        .map(|e| e.as_str())
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
        (Some(ours), Some(theirs)) if ours != theirs && ours.matches(theirs.as_str()) => findings.push(
            finding(
                FindingCode::ExternalIdNotCanonical,
                format!("{system} spells the External ID \"{theirs}\", the entry has \"{ours}\""),
                format!("set external_id = \"{theirs}\""),
            )
            .values(Some(theirs.as_str().to_owned()), Some(ours.as_str().to_owned())),
        ),
        (None, Some(theirs)) => findings.push(
            finding(
                FindingCode::ExternalIdNotCanonical,
                format!("the External ID is empty; {system} shows \"{theirs}\" ({field}) for this account"),
                format!("set external_id = \"{theirs}\" (itsmid resolve --write does this)"),
            )
            .values(Some(theirs.as_str().to_owned()), None),
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
    if identity.kind == IdentityKind::Manual
        && let Some(not_a_person) = user.not_a_person()
    {
        findings.push(
            finding(
                FindingCode::AccountType,
                format!(
                    "the account {} is a {system} {} account, which cannot act as a person",
                    user.itsm_user_id, not_a_person.account_type
                ),
                format!(
                    "point the entry at the person's own {} account",
                    not_a_person.person_types
                ),
            )
            .values(
                Some(not_a_person.person_types.into()),
                Some(not_a_person.account_type),
            ),
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
    let ext = entry.external_id.as_ref().map(|e| e.as_str());
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
                            .map(|e| e.as_str())
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
                        .map(|e| e.as_str())
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use itsmid_connectors::{ExternalId, Integration};
    use serde_json::json;

    use super::*;
    use crate::identities::Identities;
    use crate::report::FindingCode as Code;
    use crate::report::Severity;
    use EntryStatus::{Ambiguous, Inactive, Mismatch, NotFound, Verified};

    const PAT: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    const LEE: &str = "ffffffffffffffffffffffffffffffff";
    const MANUAL: IdentityKind = IdentityKind::Manual;
    const ERROR: Severity = Severity::Error;

    fn user(id: &str, ext: &str) -> ItsmUser {
        serde_json::from_value(
            json!({"itsm_user_id": id, "external_id": ext, "active": true,
            "first_name": "Pat", "last_name": "Lee", "full_name": "Pat Lee"}),
        )
        .unwrap()
    }

    fn found(id: &str, ext: &str) -> Lookup {
        Lookup::Found(user(id, ext))
    }

    fn locked(id: &str, ext: &str) -> Lookup {
        let mut user = user(id, ext);
        user.active = false;
        user.inactive_reason = Some("locked_out".into());
        Lookup::Found(user)
    }

    fn missing() -> Lookup {
        Lookup::NotFound { note: None }
    }

    fn by_id(id: &str, lookup: Lookup) -> (LookupKey, Lookup) {
        (LookupKey::ItsmUserId(ItsmUserId::new(id)), lookup)
    }

    fn by_ext(ext: &str, lookup: Lookup) -> (LookupKey, Lookup) {
        (LookupKey::ExternalId(ExternalId::new(ext)), lookup)
    }

    fn valid(id: &str) -> StoredId {
        StoredId::Valid(ItsmUserId::new(id))
    }

    fn malformed() -> StoredId {
        let (raw, why) = ("xyz".into(), "not 32 hex digits".into());
        StoredId::Malformed { raw, why }
    }

    fn entry(ext: Option<&str>) -> ItsmIdInfo {
        ItsmIdInfo {
            integration: Integration::new("snow"),
            external_id: ext.map(ExternalId::new),
            itsm_user_id: None,
            first_name: None,
            last_name: None,
            full_name: None,
            line: None,
        }
    }

    type Answers = Vec<(LookupKey, Lookup)>;

    fn judged(
        kind: IdentityKind,
        system: System,
        e: &ItsmIdInfo,
        s: StoredId,
        a: Answers,
    ) -> EntryResult {
        let text = "[bot]\nunique_record_id = \"pat@acme.com\"\n";
        let parsed = Identities::parse(Path::new("i.toml"), text, &[]).unwrap();
        let mut identity = parsed.bot.unwrap();
        identity.kind = kind;
        let outcomes = a.into_iter().collect();
        judge(&identity, e, &s, system, &Lookups { outcomes })
    }

    /// A manual user's ServiceNow entry.
    fn manual(e: &ItsmIdInfo, stored: StoredId, answers: Answers) -> EntryResult {
        judged(MANUAL, System::ServiceNow, e, stored, answers)
    }

    /// A manual user's ServiceNow entry with External ID `pat.lee`.
    fn snow(stored: StoredId, answers: Answers) -> EntryResult {
        manual(&entry(Some("pat.lee")), stored, answers)
    }

    fn outcome(result: &EntryResult) -> (EntryStatus, Vec<Code>) {
        let codes = result.findings.iter().map(|f| f.code).collect();
        (result.status, codes)
    }

    fn values(finding: &Finding) -> (Option<&str>, Option<&str>) {
        (finding.expected.as_deref(), finding.actual.as_deref())
    }

    fn found_id(result: &EntryResult) -> Option<&str> {
        result.found.as_ref().map(|u| u.itsm_user_id.as_str())
    }

    #[test]
    fn an_entry_found_by_its_stored_id_with_the_same_values_is_verified_without_findings() {
        let r = snow(valid(PAT), vec![by_id(PAT, found(PAT, "pat.lee"))]);
        assert_eq!(outcome(&r), (Verified, vec![]));
        assert_eq!(found_id(&r), Some(PAT));
    }

    #[test]
    fn a_stored_id_that_the_external_id_lookup_returns_is_verified() {
        let r = snow(valid(PAT), vec![by_ext("pat.lee", found(PAT, "pat.lee"))]);
        assert_eq!(outcome(&r), (Verified, vec![]));
    }

    #[test]
    fn an_account_whose_external_id_is_hidden_is_verified_by_its_stored_id() {
        let mut hidden = user(PAT, "pat.lee");
        hidden.external_id = None;
        let r = snow(valid(PAT), vec![by_id(PAT, Lookup::Found(hidden))]);
        assert_eq!(outcome(&r), (Verified, vec![]));
    }

    #[test]
    fn an_external_id_no_user_has_is_not_found() {
        let r = snow(StoredId::None, vec![by_ext("pat.lee", missing())]);
        assert_eq!(outcome(&r), (NotFound, vec![Code::NotFound]));
        assert_eq!(r.findings[0].severity, ERROR);
        assert_eq!(values(&r.findings[0]), (None, Some("pat.lee")));
        assert!(r.found.is_none());
    }

    #[test]
    fn an_entry_with_neither_value_is_not_found_and_points_to_resolve() {
        let r = manual(&entry(None), StoredId::None, vec![]);
        assert_eq!(outcome(&r), (NotFound, vec![Code::NotFound]));
        assert!(r.findings[0].fix.contains("resolve --write"));
    }

    #[test]
    fn an_external_id_several_users_have_is_ambiguous_and_lists_them() {
        let both = Lookup::Ambiguous(vec![user(PAT, "pat.lee"), user(LEE, "Pat.Lee")]);
        let r = snow(StoredId::None, vec![by_ext("pat.lee", both)]);
        assert_eq!(outcome(&r), (Ambiguous, vec![Code::Ambiguous]));
        let message = &r.findings[0].message;
        assert!(message.contains(PAT) && message.contains(LEE), "{message}");
        assert!(r.found.is_none());
    }

    #[test]
    fn an_inactive_account_is_inactive_with_the_systems_reason() {
        let r = snow(valid(PAT), vec![by_id(PAT, locked(PAT, "pat.lee"))]);
        assert_eq!(outcome(&r), (Inactive, vec![Code::Inactive]));
        assert_eq!(values(&r.findings[0]), (Some("active"), Some("locked_out")));
        assert_eq!(found_id(&r), Some(PAT));
    }

    #[test]
    fn a_stored_id_of_another_account_is_a_mismatch_naming_the_right_id() {
        let answers = vec![
            by_id(LEE, found(LEE, "lee.kim")),
            by_ext("pat.lee", found(PAT, "pat.lee")),
        ];
        let r = snow(valid(LEE), answers);
        assert_eq!(outcome(&r), (Mismatch, vec![Code::ItsmUserIdMismatch]));
        assert_eq!(values(&r.findings[0]), (Some(PAT), Some(LEE)));
        assert!(r.findings[0].message.contains("belongs to \"lee.kim\""));
        assert_eq!(found_id(&r), Some(PAT));
    }

    #[test]
    fn a_stored_id_that_does_not_exist_is_a_mismatch_when_the_external_id_has_another_id() {
        let answers = vec![
            by_id(LEE, missing()),
            by_ext("pat.lee", found(PAT, "pat.lee")),
        ];
        let r = snow(valid(LEE), answers);
        assert_eq!(outcome(&r), (Mismatch, vec![Code::ItsmUserIdMismatch]));
        assert_eq!(values(&r.findings[0]), (Some(PAT), Some(LEE)));
        assert!(r.findings[0].message.contains("does not exist"));
    }

    #[test]
    fn a_stored_id_of_another_account_is_not_found_when_no_user_has_the_external_id() {
        let answers = vec![
            by_id(LEE, found(LEE, "lee.kim")),
            by_ext("pat.lee", missing()),
        ];
        let r = snow(valid(LEE), answers);
        assert_eq!(outcome(&r), (NotFound, vec![Code::NotFound]));
        assert!(r.findings[0].message.contains("belongs to \"lee.kim\""));
        assert!(r.found.is_none());
    }

    #[test]
    fn a_malformed_id_is_a_mismatch_settled_by_the_external_id() {
        let r = snow(malformed(), vec![by_ext("pat.lee", found(PAT, "pat.lee"))]);
        assert_eq!(outcome(&r), (Mismatch, vec![Code::MalformedItsmUserId]));
        assert_eq!(values(&r.findings[0]), (None, Some("xyz")));
        assert_eq!(found_id(&r), Some(PAT));
    }

    #[test]
    fn the_external_id_in_another_case_is_verified_with_a_not_canonical_warning() {
        let e = entry(Some("Pat.Lee"));
        let answers = vec![by_id(PAT, found(PAT, "pat.lee"))];
        let r = manual(&e, valid(PAT), answers);
        assert_eq!(outcome(&r), (Verified, vec![Code::ExternalIdNotCanonical]));
        assert_eq!(r.findings[0].severity, Severity::Warning);
        assert_eq!(values(&r.findings[0]), (Some("pat.lee"), Some("Pat.Lee")));
    }

    #[test]
    fn first_last_and_full_names_that_differ_are_each_a_name_mismatch_warning() {
        let mut e = entry(Some("pat.lee"));
        e.first_name = Some("Patricia".into());
        e.last_name = Some("Lee-Kim".into());
        e.full_name = Some("Patricia Lee-Kim".into());
        let answers = vec![by_id(PAT, found(PAT, "pat.lee"))];
        let r = manual(&e, valid(PAT), answers);
        assert_eq!(outcome(&r), (Verified, vec![Code::NameMismatch; 3]));
        let expected: Vec<_> = r.findings.iter().map(|f| values(f).0).collect();
        assert_eq!(expected, [Some("Pat"), Some("Lee"), Some("Pat Lee")]);
        assert!(r.findings.iter().all(|f| f.severity == Severity::Warning));
    }

    #[test]
    fn names_that_differ_only_in_spacing_match() {
        let mut e = entry(Some("pat.lee"));
        e.full_name = Some(" Pat   Lee ".into());
        let answers = vec![by_id(PAT, found(PAT, "pat.lee"))];
        let r = manual(&e, valid(PAT), answers);
        assert_eq!(outcome(&r), (Verified, vec![]));
    }

    #[test]
    fn a_jira_account_with_only_a_full_name_is_compared_on_the_full_name_alone() {
        let mut jira = user(PAT, "pat@acme.com");
        (jira.first_name, jira.last_name) = (None, None);
        let mut e = entry(Some("pat@acme.com"));
        e.first_name = Some("Patricia".into());
        e.last_name = Some("Kim".into());
        e.full_name = Some("Patricia Kim".into());
        let answers = vec![by_id(PAT, Lookup::Found(jira))];
        let r = judged(MANUAL, System::Jira, &e, valid(PAT), answers);
        assert_eq!(outcome(&r), (Verified, vec![Code::NameMismatch]));
        assert!(r.findings[0].message.starts_with("full_name"));
    }

    #[test]
    fn an_entry_without_an_itsm_user_id_found_by_external_id_is_verified_with_a_missing_warning() {
        let answers = vec![by_ext("pat.lee", found(PAT, "pat.lee"))];
        let r = snow(StoredId::None, answers);
        assert_eq!(outcome(&r), (Verified, vec![Code::ItsmUserIdMissing]));
        assert_eq!(r.findings[0].severity, Severity::Warning);
        assert_eq!(values(&r.findings[0]), (Some(PAT), None));
    }

    #[test]
    fn a_value_refused_as_unsafe_is_not_found_and_says_why() {
        let bad = "pat^ORactive=false";
        let answers = vec![by_ext(bad, Lookup::refused("contains the separator ^"))];
        let r = manual(&entry(Some(bad)), StoredId::None, answers);
        assert_eq!(outcome(&r), (NotFound, vec![Code::NotFound]));
        let message = &r.findings[0].message;
        assert!(message.contains("not looked up") && message.contains("separator ^"));
        assert_eq!(values(&r.findings[0]), (None, Some(bad)));
    }

    #[test]
    fn a_jira_app_account_is_an_account_type_warning_for_a_manual_user_only() {
        let e = entry(Some("pat.lee"));
        for (account_type, kind, codes) in [
            ("app", MANUAL, vec![Code::AccountType]),
            ("app", IdentityKind::Bot, vec![]),
            ("atlassian", MANUAL, vec![]),
            ("customer", MANUAL, vec![]),
        ] {
            let mut jira = user(PAT, "pat.lee");
            jira.account_type = Some(account_type.into());
            let answers = vec![by_id(PAT, Lookup::Found(jira))];
            let r = judged(kind, System::Jira, &e, valid(PAT), answers);
            assert_eq!(outcome(&r), (Verified, codes), "{account_type} {kind:?}");
        }
    }

    #[test]
    fn a_malformed_id_with_an_unknown_external_id_is_not_found_and_keeps_both_findings() {
        let r = snow(malformed(), vec![by_ext("pat.lee", missing())]);
        let codes = vec![Code::MalformedItsmUserId, Code::NotFound];
        assert_eq!(outcome(&r), (NotFound, codes));
    }

    #[test]
    fn a_malformed_id_with_an_ambiguous_external_id_is_ambiguous() {
        let both = Lookup::Ambiguous(vec![user(PAT, "pat.lee"), user(LEE, "pat.lee")]);
        let r = snow(malformed(), vec![by_ext("pat.lee", both)]);
        let codes = vec![Code::MalformedItsmUserId, Code::Ambiguous];
        assert_eq!(outcome(&r), (Ambiguous, codes));
    }

    #[test]
    fn a_stale_id_on_an_inactive_account_is_inactive_with_both_findings() {
        let answers = vec![
            by_id(LEE, missing()),
            by_ext("pat.lee", locked(PAT, "pat.lee")),
        ];
        let r = snow(valid(LEE), answers);
        let codes = vec![Code::ItsmUserIdMismatch, Code::Inactive];
        assert_eq!(outcome(&r), (Inactive, codes));
    }

    #[test]
    fn a_duplicate_entry_is_an_error_naming_the_line_of_the_first() {
        let f = duplicate_entry("pat@acme.com", "snow", Some(12));
        assert_eq!((f.code, f.severity), (Code::DuplicateEntry, ERROR));
        assert_eq!(f.unique_record_id.as_deref(), Some("pat@acme.com"));
        assert_eq!(f.integration.as_deref(), Some("snow"));
        assert!(f.message.contains("line 12"), "{}", f.message);
        let unnumbered = duplicate_entry("pat@acme.com", "snow", None);
        assert!(
            !unnumbered.message.contains("line"),
            "{}",
            unnumbered.message
        );
    }

    #[test]
    fn an_unknown_integration_offers_the_case_insensitive_match_in_expected() {
        let f = unknown_integration("pat@acme.com", "SNOW", &["jira", "snow"]);
        assert_eq!((f.code, f.severity), (Code::UnknownIntegration, ERROR));
        assert_eq!(values(&f), (Some("snow"), Some("SNOW")));
        assert!(f.fix.contains("integration = \"snow\""), "{}", f.fix);
    }

    #[test]
    fn an_unknown_integration_without_a_near_match_lists_the_configured_ones() {
        let f = unknown_integration("pat@acme.com", "okta", &["jira", "snow"]);
        assert_eq!(values(&f), (None, Some("okta")));
        assert!(f.fix.contains("jira, snow"), "{}", f.fix);
        let none = unknown_integration("pat@acme.com", "okta", &[]);
        assert!(none.fix.contains("[[connectors]]"), "{}", none.fix);
    }

    #[test]
    fn a_malformed_id_finding_carries_the_stored_value_and_the_reason() {
        let f = malformed_id("pat@acme.com", "snow", System::ServiceNow, "xyz", "not hex");
        assert_eq!((f.code, f.severity), (Code::MalformedItsmUserId, ERROR));
        assert_eq!(values(&f), (None, Some("xyz")));
        assert!(f.message.contains("not hex"), "{}", f.message);
    }

    #[test]
    fn a_missing_bot_entry_is_an_error_on_the_bot_naming_the_field_to_fill() {
        let f = bot_entry_missing(Some("bot@acme.com"), "snow", System::ServiceNow);
        assert_eq!((f.code, f.severity), (Code::BotEntryMissing, ERROR));
        assert_eq!(f.unique_record_id.as_deref(), Some("bot@acme.com"));
        assert_eq!(f.integration.as_deref(), Some("snow"));
        assert!(f.fix.contains("user_name"), "{}", f.fix);
    }
}
