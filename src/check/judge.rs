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
    use std::collections::BTreeMap;

    use itsmid_connectors::{ExternalId, Integration};

    use super::*;
    use crate::identities::UniqueRecordId;
    use crate::report::Severity;

    const PAT: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    const LEE: &str = "ffffffffffffffffffffffffffffffff";

    fn identity(kind: IdentityKind) -> Identity {
        Identity {
            kind,
            unique_record_id: UniqueRecordId::new("pat@acme.com").unwrap(),
            attributes: BTreeMap::new(),
            user_emails: Vec::new(),
            user_tags: Vec::new(),
            work_status: None,
            custom_attributes: BTreeMap::new(),
            itsm: Vec::new(),
            channels: Vec::new(),
            idm: Vec::new(),
            line: None,
            path: "users[0]".into(),
        }
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

    fn user(id: &str, ext: &str) -> ItsmUser {
        ItsmUser {
            itsm_user_id: ItsmUserId::new(id),
            external_id: Some(ExternalId::new(ext)),
            active: true,
            first_name: Some("Pat".into()),
            last_name: Some("Lee".into()),
            full_name: Some("Pat Lee".into()),
            account_type: None,
            time_zone: None,
            inactive_reason: None,
            record_kind: None,
        }
    }

    fn inactive(mut user: ItsmUser) -> ItsmUser {
        user.active = false;
        user.inactive_reason = Some("locked_out".into());
        user
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
        StoredId::Malformed {
            raw: "xyz".into(),
            why: "not 32 hex digits".into(),
        }
    }

    fn not_found() -> Lookup {
        Lookup::NotFound { note: None }
    }

    fn judged_as<const N: usize>(
        kind: IdentityKind,
        system: System,
        entry: &ItsmIdInfo,
        stored: StoredId,
        answers: [(LookupKey, Lookup); N],
    ) -> EntryResult {
        let mut lookups = Lookups::default();
        for (key, lookup) in answers {
            lookups.insert(key, lookup);
        }
        judge(&identity(kind), entry, &stored, system, &lookups)
    }

    /// A manual user's ServiceNow entry, judged from the given answers.
    fn judged<const N: usize>(
        entry: &ItsmIdInfo,
        stored: StoredId,
        answers: [(LookupKey, Lookup); N],
    ) -> EntryResult {
        judged_as(
            IdentityKind::Manual,
            System::ServiceNow,
            entry,
            stored,
            answers,
        )
    }

    fn codes(result: &EntryResult) -> Vec<FindingCode> {
        result.findings.iter().map(|f| f.code).collect()
    }

    fn found_id(result: &EntryResult) -> Option<&str> {
        result.found.as_ref().map(|u| u.itsm_user_id.as_str())
    }

    #[test]
    fn an_entry_found_by_its_stored_id_with_the_same_values_is_verified_without_findings() {
        let e = entry(Some("pat.lee"));
        let r = judged(
            &e,
            valid(PAT),
            [by_id(PAT, Lookup::Found(user(PAT, "pat.lee")))],
        );
        assert_eq!(r.status, EntryStatus::Verified);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(found_id(&r), Some(PAT));
    }

    #[test]
    fn a_stored_id_that_the_external_id_lookup_returns_is_verified() {
        let e = entry(Some("pat.lee"));
        let r = judged(
            &e,
            valid(PAT),
            [by_ext("pat.lee", Lookup::Found(user(PAT, "pat.lee")))],
        );
        assert_eq!((r.status, codes(&r)), (EntryStatus::Verified, vec![]));
    }

    #[test]
    fn an_account_whose_external_id_is_hidden_is_verified_by_its_stored_id() {
        let mut hidden = user(PAT, "pat.lee");
        hidden.external_id = None;
        let r = judged(
            &entry(Some("pat.lee")),
            valid(PAT),
            [by_id(PAT, Lookup::Found(hidden))],
        );
        assert_eq!((r.status, codes(&r)), (EntryStatus::Verified, vec![]));
    }

    #[test]
    fn an_external_id_no_user_has_is_not_found() {
        let r = judged(
            &entry(Some("pat.lee")),
            StoredId::None,
            [by_ext("pat.lee", not_found())],
        );
        assert_eq!(
            (r.status, codes(&r)),
            (EntryStatus::NotFound, vec![FindingCode::NotFound])
        );
        assert_eq!(r.findings[0].severity, Severity::Error);
        assert_eq!(r.findings[0].actual.as_deref(), Some("pat.lee"));
        assert!(r.found.is_none());
    }

    #[test]
    fn an_entry_with_neither_value_is_not_found_and_points_to_resolve() {
        let r = judged(&entry(None), StoredId::None, []);
        assert_eq!(
            (r.status, codes(&r)),
            (EntryStatus::NotFound, vec![FindingCode::NotFound])
        );
        assert!(
            r.findings[0].fix.contains("resolve --write"),
            "{}",
            r.findings[0].fix
        );
    }

    #[test]
    fn an_external_id_several_users_have_is_ambiguous_and_lists_them() {
        let both = Lookup::Ambiguous(vec![user(PAT, "pat.lee"), user(LEE, "Pat.Lee")]);
        let r = judged(
            &entry(Some("pat.lee")),
            StoredId::None,
            [by_ext("pat.lee", both)],
        );
        assert_eq!(
            (r.status, codes(&r)),
            (EntryStatus::Ambiguous, vec![FindingCode::Ambiguous])
        );
        let message = &r.findings[0].message;
        assert!(message.contains(PAT) && message.contains(LEE), "{message}");
        assert!(r.found.is_none());
    }

    #[test]
    fn an_inactive_account_is_inactive_with_the_systems_reason() {
        let locked = Lookup::Found(inactive(user(PAT, "pat.lee")));
        let r = judged(&entry(Some("pat.lee")), valid(PAT), [by_id(PAT, locked)]);
        assert_eq!(
            (r.status, codes(&r)),
            (EntryStatus::Inactive, vec![FindingCode::Inactive])
        );
        assert_eq!(r.findings[0].expected.as_deref(), Some("active"));
        assert_eq!(r.findings[0].actual.as_deref(), Some("locked_out"));
        assert_eq!(found_id(&r), Some(PAT));
    }

    #[test]
    fn a_stored_id_of_another_account_is_a_mismatch_naming_the_right_id() {
        let r = judged(
            &entry(Some("pat.lee")),
            valid(LEE),
            [
                by_id(LEE, Lookup::Found(user(LEE, "lee.kim"))),
                by_ext("pat.lee", Lookup::Found(user(PAT, "pat.lee"))),
            ],
        );
        assert_eq!(
            (r.status, codes(&r)),
            (EntryStatus::Mismatch, vec![FindingCode::ItsmUserIdMismatch])
        );
        let f = &r.findings[0];
        assert_eq!(
            (f.expected.as_deref(), f.actual.as_deref()),
            (Some(PAT), Some(LEE))
        );
        assert!(
            f.message.contains("belongs to \"lee.kim\""),
            "{}",
            f.message
        );
        assert_eq!(found_id(&r), Some(PAT));
    }

    #[test]
    fn a_stored_id_that_does_not_exist_is_a_mismatch_when_the_external_id_has_another_id() {
        let r = judged(
            &entry(Some("pat.lee")),
            valid(LEE),
            [
                by_id(LEE, not_found()),
                by_ext("pat.lee", Lookup::Found(user(PAT, "pat.lee"))),
            ],
        );
        assert_eq!(
            (r.status, codes(&r)),
            (EntryStatus::Mismatch, vec![FindingCode::ItsmUserIdMismatch])
        );
        assert_eq!(r.findings[0].expected.as_deref(), Some(PAT));
        assert!(r.findings[0].message.contains("does not exist"));
    }

    #[test]
    fn a_stored_id_of_another_account_is_not_found_when_no_user_has_the_external_id() {
        let r = judged(
            &entry(Some("pat.lee")),
            valid(LEE),
            [
                by_id(LEE, Lookup::Found(user(LEE, "lee.kim"))),
                by_ext("pat.lee", not_found()),
            ],
        );
        assert_eq!(
            (r.status, codes(&r)),
            (EntryStatus::NotFound, vec![FindingCode::NotFound])
        );
        assert!(r.findings[0].message.contains("belongs to \"lee.kim\""));
        assert!(r.found.is_none());
    }

    #[test]
    fn a_malformed_id_is_a_mismatch_settled_by_the_external_id() {
        let r = judged(
            &entry(Some("pat.lee")),
            malformed(),
            [by_ext("pat.lee", Lookup::Found(user(PAT, "pat.lee")))],
        );
        assert_eq!(
            (r.status, codes(&r)),
            (
                EntryStatus::Mismatch,
                vec![FindingCode::MalformedItsmUserId]
            )
        );
        assert_eq!(r.findings[0].actual.as_deref(), Some("xyz"));
        assert_eq!(found_id(&r), Some(PAT));
    }

    #[test]
    fn the_external_id_in_another_case_is_verified_with_a_not_canonical_warning() {
        let r = judged(
            &entry(Some("Pat.Lee")),
            valid(PAT),
            [by_id(PAT, Lookup::Found(user(PAT, "pat.lee")))],
        );
        assert_eq!(
            (r.status, codes(&r)),
            (
                EntryStatus::Verified,
                vec![FindingCode::ExternalIdNotCanonical]
            )
        );
        let f = &r.findings[0];
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            (f.expected.as_deref(), f.actual.as_deref()),
            (Some("pat.lee"), Some("Pat.Lee"))
        );
    }

    #[test]
    fn first_last_and_full_names_that_differ_are_each_a_name_mismatch_warning() {
        let mut e = entry(Some("pat.lee"));
        e.first_name = Some("Patricia".into());
        e.last_name = Some("Lee-Kim".into());
        e.full_name = Some("Patricia Lee-Kim".into());
        let r = judged(
            &e,
            valid(PAT),
            [by_id(PAT, Lookup::Found(user(PAT, "pat.lee")))],
        );
        assert_eq!(r.status, EntryStatus::Verified);
        assert_eq!(codes(&r), vec![FindingCode::NameMismatch; 3]);
        let expected: Vec<_> = r.findings.iter().map(|f| f.expected.as_deref()).collect();
        assert_eq!(expected, [Some("Pat"), Some("Lee"), Some("Pat Lee")]);
        assert!(r.findings.iter().all(|f| f.severity == Severity::Warning));
    }

    #[test]
    fn names_that_differ_only_in_spacing_match() {
        let mut e = entry(Some("pat.lee"));
        e.full_name = Some(" Pat   Lee ".into());
        let r = judged(
            &e,
            valid(PAT),
            [by_id(PAT, Lookup::Found(user(PAT, "pat.lee")))],
        );
        assert_eq!(codes(&r), vec![]);
    }

    #[test]
    fn a_jira_account_with_only_a_full_name_is_compared_on_the_full_name_alone() {
        let mut jira = user(PAT, "pat@acme.com");
        (jira.first_name, jira.last_name) = (None, None);
        let mut e = entry(Some("pat@acme.com"));
        e.first_name = Some("Patricia".into());
        e.last_name = Some("Kim".into());
        e.full_name = Some("Patricia Kim".into());
        let answer = [by_id(PAT, Lookup::Found(jira))];
        let r = judged_as(IdentityKind::Manual, System::Jira, &e, valid(PAT), answer);
        assert_eq!(codes(&r), vec![FindingCode::NameMismatch]);
        assert!(
            r.findings[0].message.starts_with("full_name"),
            "{}",
            r.findings[0].message
        );
    }

    #[test]
    fn an_entry_without_an_itsm_user_id_found_by_external_id_is_verified_with_a_missing_warning() {
        let r = judged(
            &entry(Some("pat.lee")),
            StoredId::None,
            [by_ext("pat.lee", Lookup::Found(user(PAT, "pat.lee")))],
        );
        assert_eq!(
            (r.status, codes(&r)),
            (EntryStatus::Verified, vec![FindingCode::ItsmUserIdMissing])
        );
        let f = &r.findings[0];
        assert_eq!(
            (f.severity, f.expected.as_deref(), f.actual.as_deref()),
            (Severity::Warning, Some(PAT), None)
        );
    }

    #[test]
    fn a_value_refused_as_unsafe_is_not_found_and_says_why() {
        let unsafe_ext = "pat^ORactive=false";
        let refused = Lookup::refused("contains the query separator ^");
        let r = judged(
            &entry(Some(unsafe_ext)),
            StoredId::None,
            [by_ext(unsafe_ext, refused)],
        );
        assert_eq!(
            (r.status, codes(&r)),
            (EntryStatus::NotFound, vec![FindingCode::NotFound])
        );
        let f = &r.findings[0];
        assert!(
            f.message.contains("not looked up") && f.message.contains("separator ^"),
            "{}",
            f.message
        );
        assert_eq!(f.actual.as_deref(), Some(unsafe_ext));
    }

    #[test]
    fn a_jira_app_account_for_a_manual_user_is_an_account_type_warning() {
        for (account_type, kind, expected) in [
            ("app", IdentityKind::Manual, vec![FindingCode::AccountType]),
            ("app", IdentityKind::Bot, vec![]),
            ("atlassian", IdentityKind::Manual, vec![]),
            ("customer", IdentityKind::Manual, vec![]),
        ] {
            let mut jira = user(PAT, "pat.lee");
            jira.account_type = Some(account_type.into());
            let answer = [by_id(PAT, Lookup::Found(jira))];
            let r = judged_as(
                kind,
                System::Jira,
                &entry(Some("pat.lee")),
                valid(PAT),
                answer,
            );
            assert_eq!(
                (r.status, codes(&r)),
                (EntryStatus::Verified, expected),
                "{account_type} {kind:?}"
            );
        }
    }

    #[test]
    fn a_malformed_id_with_an_unknown_external_id_is_not_found_and_keeps_both_findings() {
        let r = judged(
            &entry(Some("pat.lee")),
            malformed(),
            [by_ext("pat.lee", not_found())],
        );
        assert_eq!(r.status, EntryStatus::NotFound);
        assert_eq!(
            codes(&r),
            vec![FindingCode::MalformedItsmUserId, FindingCode::NotFound]
        );
    }

    #[test]
    fn a_malformed_id_with_an_ambiguous_external_id_is_ambiguous() {
        let both = Lookup::Ambiguous(vec![user(PAT, "pat.lee"), user(LEE, "pat.lee")]);
        let r = judged(
            &entry(Some("pat.lee")),
            malformed(),
            [by_ext("pat.lee", both)],
        );
        assert_eq!(r.status, EntryStatus::Ambiguous);
        assert_eq!(
            codes(&r),
            vec![FindingCode::MalformedItsmUserId, FindingCode::Ambiguous]
        );
    }

    #[test]
    fn a_stale_id_on_an_inactive_account_is_inactive_with_both_findings() {
        let r = judged(
            &entry(Some("pat.lee")),
            valid(LEE),
            [
                by_id(LEE, not_found()),
                by_ext("pat.lee", Lookup::Found(inactive(user(PAT, "pat.lee")))),
            ],
        );
        assert_eq!(r.status, EntryStatus::Inactive);
        assert_eq!(
            codes(&r),
            vec![FindingCode::ItsmUserIdMismatch, FindingCode::Inactive]
        );
    }

    #[test]
    fn a_duplicate_entry_is_an_error_naming_the_line_of_the_first() {
        let f = duplicate_entry("pat@acme.com", "snow", Some(12));
        assert_eq!(
            (f.code, f.severity),
            (FindingCode::DuplicateEntry, Severity::Error)
        );
        assert_eq!(
            (f.unique_record_id.as_deref(), f.integration.as_deref()),
            (Some("pat@acme.com"), Some("snow"))
        );
        assert!(f.message.contains("line 12"), "{}", f.message);
        assert!(
            !duplicate_entry("pat@acme.com", "snow", None)
                .message
                .contains("line")
        );
    }

    #[test]
    fn an_unknown_integration_offers_the_case_insensitive_match_in_expected() {
        let f = unknown_integration("pat@acme.com", "SNOW", &["jira", "snow"]);
        assert_eq!(
            (f.code, f.severity),
            (FindingCode::UnknownIntegration, Severity::Error)
        );
        assert_eq!(
            (f.expected.as_deref(), f.actual.as_deref()),
            (Some("snow"), Some("SNOW"))
        );
        assert!(f.fix.contains("integration = \"snow\""), "{}", f.fix);
    }

    #[test]
    fn an_unknown_integration_without_a_near_match_lists_the_configured_ones() {
        let f = unknown_integration("pat@acme.com", "okta", &["jira", "snow"]);
        assert_eq!(f.expected, None);
        assert!(f.fix.contains("jira, snow"), "{}", f.fix);
        let none = unknown_integration("pat@acme.com", "okta", &[]);
        assert!(none.fix.contains("[[connectors]]"), "{}", none.fix);
    }

    #[test]
    fn a_malformed_id_finding_carries_the_stored_value_and_the_reason() {
        let f = malformed_id(
            "pat@acme.com",
            "snow",
            System::ServiceNow,
            "xyz",
            "not 32 hex digits",
        );
        assert_eq!(
            (f.code, f.severity),
            (FindingCode::MalformedItsmUserId, Severity::Error)
        );
        assert_eq!((f.expected, f.actual.as_deref()), (None, Some("xyz")));
        assert!(f.message.contains("not 32 hex digits"), "{}", f.message);
    }

    #[test]
    fn a_missing_bot_entry_names_the_connector_and_the_field_to_fill() {
        let f = bot_entry_missing(Some("bot@acme.com"), "snow", System::ServiceNow);
        assert_eq!(
            (f.code, f.severity),
            (FindingCode::BotEntryMissing, Severity::Error)
        );
        assert_eq!(
            (f.unique_record_id.as_deref(), f.integration.as_deref()),
            (Some("bot@acme.com"), Some("snow"))
        );
        assert!(f.fix.contains("user_name"), "{}", f.fix);
    }
}
