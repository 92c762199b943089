//! The merge's rules, one plain-data test each.

use std::path::Path;

use itsmid_connectors::{ExternalId, ItsmUser, ItsmUserId};
use proptest::prelude::*;

use super::*;

fn schema() -> Schema {
    Schema::new(
        &["office".into()],
        &["workday".into(), "okta".into()],
        "email_addr",
    )
    .expect("schema")
}

fn record(schema: &Schema, line: u64, fields: &[(&str, &str)]) -> SourceRecord {
    let mut out = Vec::new();
    for (name, value) in fields {
        set_field(
            &mut out,
            Field {
                attr: schema.attr(name).expect("an attribute"),
                origin: 0,
                value: Value::Text((*value).into()),
            },
        );
    }
    SourceRecord { line, fields: out }
}

fn with_origin(mut record: SourceRecord, origin: Origin) -> SourceRecord {
    for f in &mut record.fields {
        f.origin = origin;
    }
    record
}

fn identities(text: &str) -> Identities {
    Identities::parse(Path::new("identities.toml"), text, &["office".into()])
        .expect("valid identities")
}

const BOT: &str = "[bot]\nunique_record_id = \"bot@acme.com\"\nemail_addr = \"bot@acme.com\"\n";

fn text(schema: &Schema, user: &ImportedUser, name: &str) -> Option<(String, String)> {
    let attr = schema.attr(name)?;
    get_field(&user.fields, attr).map(|f| {
        let value = match &f.value {
            Value::Text(t) => t.to_string(),
            other => other.to_json().to_string(),
        };
        (value, schema.origin_name(f.origin).to_owned())
    })
}

fn user<'a>(merged: &'a Merged, key: &str) -> &'a ImportedUser {
    merged
        .users
        .iter()
        .find(|u| &*u.key == key)
        .unwrap_or_else(|| panic!("no user {key} in {:?}", merged.users))
}

#[test]
fn a_manual_entry_whose_unique_record_id_matches_a_source_record_merges_into_it() {
    let schema = schema();
    let source = vec![record(
        &schema,
        2,
        &[
            ("email_addr", "pat@acme.com"),
            ("full_name", "Patricia Lee"),
            ("department", "IT"),
        ],
    )];
    let ids = identities(&format!(
        "{BOT}[[users]]\nunique_record_id = \"pat@acme.com\"\nfull_name = \"Pat Lee\"\n"
    ));
    let merged = merge(
        &schema,
        vec![source],
        &ids,
        &BTreeMap::new(),
        &Previous::new(),
    );
    assert_eq!(merged.users.len(), 2, "the bot and one merged user");
    let pat = user(&merged, "pat@acme.com");
    assert_eq!(
        text(&schema, pat, "full_name"),
        Some(("Pat Lee".into(), "manual".into()))
    );
    assert_eq!(
        text(&schema, pat, "department"),
        Some(("IT".into(), "workday".into()))
    );
}

#[test]
fn a_manual_entry_that_matches_no_source_record_becomes_a_standalone_user() {
    let schema = schema();
    let source = vec![record(&schema, 2, &[("email_addr", "pat@acme.com")])];
    let ids = identities(&format!(
        "{BOT}[[users]]\nunique_record_id = \"patricia@acme.com\"\nfull_name = \"Pat Lee\"\n"
    ));
    let merged = merge(
        &schema,
        vec![source],
        &ids,
        &BTreeMap::new(),
        &Previous::new(),
    );
    assert_eq!(
        merged.users.len(),
        3,
        "the same person twice: source and manual"
    );
    let standalone = user(&merged, "patricia@acme.com");
    assert_eq!(text(&schema, standalone, "email_addr"), None);
    assert_eq!(
        text(&schema, standalone, "full_name"),
        Some(("Pat Lee".into(), "manual".into()))
    );
}

#[test]
fn a_unique_record_id_matching_another_users_key_overlays_that_users_fields() {
    let schema = schema();
    let source = vec![record(
        &schema,
        2,
        &[
            ("email_addr", "kim@acme.com"),
            ("full_name", "Kim Park"),
            ("role", "Engineer"),
        ],
    )];
    // The admin meant Pat but typed Kim's address.
    let ids = identities(&format!(
        "{BOT}[[users]]\nunique_record_id = \"kim@acme.com\"\nfull_name = \"Pat Lee\"\n"
    ));
    let merged = merge(
        &schema,
        vec![source],
        &ids,
        &BTreeMap::new(),
        &Previous::new(),
    );
    let kim = user(&merged, "kim@acme.com");
    assert_eq!(
        text(&schema, kim, "full_name"),
        Some(("Pat Lee".into(), "manual".into()))
    );
    assert_eq!(
        text(&schema, kim, "role"),
        Some(("Engineer".into(), "workday".into()))
    );
}

#[test]
fn e_mail_joining_keys_match_without_case_or_surrounding_spaces() {
    let schema = schema();
    let source = vec![record(
        &schema,
        2,
        &[("email_addr", "Pat.Lee@ACME.com "), ("role", "Analyst")],
    )];
    let ids = identities(&format!(
        "{BOT}[[users]]\nunique_record_id = \" pat.lee@acme.com\"\nfull_name = \"Pat Lee\"\n"
    ));
    let merged = merge(
        &schema,
        vec![source],
        &ids,
        &BTreeMap::new(),
        &Previous::new(),
    );
    assert_eq!(merged.users.len(), 2);
    let pat = user(&merged, "pat.lee@acme.com");
    assert_eq!(
        text(&schema, pat, "role"),
        Some(("Analyst".into(), "workday".into()))
    );
    assert_eq!(
        text(&schema, pat, "full_name"),
        Some(("Pat Lee".into(), "manual".into()))
    );
}

#[test]
fn other_joining_keys_match_case_sensitively() {
    let schema = Schema::new(&[], &["hr".into()], "employee_id").expect("schema");
    let source = vec![record(
        &schema,
        2,
        &[("employee_id", "E12a"), ("role", "Analyst")],
    )];
    let ids = identities(&format!("{BOT}[[users]]\nunique_record_id = \"E12A\"\n"));
    let merged = merge(
        &schema,
        vec![source],
        &ids,
        &BTreeMap::new(),
        &Previous::new(),
    );
    assert_eq!(merged.users.len(), 3, "E12A does not match E12a");
}

#[test]
fn empty_and_duplicate_unique_record_ids_never_reach_the_merge() {
    let empty = format!("{BOT}[[users]]\nunique_record_id = \"  \"\n");
    assert!(Identities::parse(Path::new("i.toml"), &empty, &[]).is_err());
    let twice = format!(
        "{BOT}[[users]]\nunique_record_id = \"pat@acme.com\"\n[[users]]\nunique_record_id = \"pat@acme.com\"\n"
    );
    assert!(Identities::parse(Path::new("i.toml"), &twice, &[]).is_err());
    let missing = format!("{BOT}[[users]]\nfull_name = \"No Id\"\n");
    assert!(Identities::parse(Path::new("i.toml"), &missing, &[]).is_err());
}

#[test]
fn unique_record_ids_differing_only_in_case_keep_one_identity_and_report_it() {
    let schema = schema();
    let ids = identities(&format!(
        "{BOT}[[users]]\nunique_record_id = \"pat@acme.com\"\nrole = \"b\"\n[[users]]\nunique_record_id = \"Pat@acme.com\"\nrole = \"a\"\n"
    ));
    let merged = merge(&schema, vec![], &ids, &BTreeMap::new(), &Previous::new());
    assert_eq!(merged.users.len(), 2);
    assert_eq!(merged.duplicates.len(), 1);
    assert_eq!(
        merged.duplicates[0].kept, "manual Pat@acme.com",
        "the smaller id is kept"
    );
}

#[test]
fn the_earlier_source_wins_a_field_and_an_empty_cell_never_overrides() {
    let schema = schema();
    let workday = vec![record(
        &schema,
        2,
        &[("email_addr", "pat@acme.com"), ("role", "Analyst")],
    )];
    let okta = vec![with_origin(
        record(
            &schema,
            5,
            &[
                ("email_addr", "PAT@acme.com"),
                ("role", "Admin"),
                ("city", "Oslo"),
            ],
        ),
        1,
    )];
    let merged = merge(
        &schema,
        vec![workday, okta],
        &identities(BOT),
        &BTreeMap::new(),
        &Previous::new(),
    );
    let pat = user(&merged, "pat@acme.com");
    assert_eq!(
        text(&schema, pat, "role"),
        Some(("Analyst".into(), "workday".into()))
    );
    assert_eq!(
        text(&schema, pat, "city"),
        Some(("Oslo".into(), "okta".into()))
    );
    assert_eq!(
        text(&schema, pat, "email_addr"),
        Some(("pat@acme.com".into(), "workday".into()))
    );
}

#[test]
fn a_joining_key_twice_in_one_source_keeps_the_first_record() {
    let schema = schema();
    let workday = vec![
        record(
            &schema,
            2,
            &[("email_addr", "pat@acme.com"), ("role", "First")],
        ),
        record(&schema, 3, &[("email_addr", "kim@acme.com")]),
        record(
            &schema,
            4,
            &[("email_addr", "pat@acme.com"), ("role", "Second")],
        ),
    ];
    let merged = merge(
        &schema,
        vec![workday],
        &identities(BOT),
        &BTreeMap::new(),
        &Previous::new(),
    );
    let pat = user(&merged, "pat@acme.com");
    assert_eq!(
        text(&schema, pat, "role"),
        Some(("First".into(), "workday".into()))
    );
    assert_eq!(merged.duplicates.len(), 1);
    assert_eq!(
        merged.duplicates[0].records,
        vec!["workday line 2", "workday line 4"]
    );
    assert_eq!(merged.duplicates[0].kept, "workday line 2");
}

fn checked(
    identity: usize,
    entry: usize,
    status: EntryStatus,
    found: Option<ItsmUser>,
) -> BTreeMap<EntryRef, EntryResult> {
    BTreeMap::from([(
        EntryRef { identity, entry },
        EntryResult {
            status,
            found,
            findings: Vec::new(),
        },
    )])
}

fn found(id: &str, external: &str) -> ItsmUser {
    ItsmUser {
        itsm_user_id: ItsmUserId::new(id),
        external_id: Some(ExternalId::new(external)),
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

const PAT_SNOW: &str = "[[users]]\nunique_record_id = \"pat@acme.com\"\n[[users.itsm]]\nintegration = \"snow\"\nexternal_id = \"pat.lee\"\n";

#[test]
fn a_verified_entry_fills_its_missing_itsm_user_id_and_the_users_names() {
    let schema = schema();
    let ids = identities(&format!("{BOT}{PAT_SNOW}"));
    let merged = merge(
        &schema,
        vec![],
        &ids,
        &checked(1, 0, EntryStatus::Verified, Some(found("abc", "pat.lee"))),
        &Previous::new(),
    );
    let pat = user(&merged, "pat@acme.com");
    assert_eq!(
        pat.itsm[0].itsm_user_id,
        Some(("abc".into(), schema.resolved()))
    );
    assert_eq!(
        pat.itsm[0].external_id,
        Some(("pat.lee".into(), schema.manual()))
    );
    assert_eq!(
        text(&schema, pat, "first_name"),
        Some(("Pat".into(), "resolved".into()))
    );
}

#[test]
fn an_unchecked_or_failed_entry_keeps_the_admins_values() {
    let schema = schema();
    let ids = identities(&format!("{BOT}{PAT_SNOW}itsm_user_id = \"stale\"\n"));
    for status in [
        EntryStatus::Unchecked,
        EntryStatus::Mismatch,
        EntryStatus::NotFound,
    ] {
        let merged = merge(
            &schema,
            vec![],
            &ids,
            &checked(1, 0, status, Some(found("fresh", "pat.lee"))),
            &Previous::new(),
        );
        let pat = user(&merged, "pat@acme.com");
        assert_eq!(pat.itsm.len(), 1, "never dropped when {status:?}");
        assert_eq!(
            pat.itsm[0].itsm_user_id,
            Some(("stale".into(), schema.manual()))
        );
    }
}

fn previous_pat(itsm_user_id: &str) -> Previous {
    Previous::from([(
        Box::from("pat@acme.com"),
        PreviousUser {
            itsm: vec![PreviousEntry {
                integration: "snow".into(),
                external_id: Some(PreviousValue {
                    value: "pat.lee".into(),
                    from_check: false,
                }),
                itsm_user_id: Some(PreviousValue {
                    value: itsm_user_id.into(),
                    from_check: true,
                }),
            }],
            names: vec![("first_name".into(), "Patricia".into())],
        },
    )])
}

#[test]
fn an_unchecked_entry_keeps_what_the_check_found_in_the_previous_load() {
    let schema = schema();
    let ids = identities(&format!("{BOT}{PAT_SNOW}"));
    let previous = previous_pat("abc");
    let down = checked(1, 0, EntryStatus::Unchecked, None);
    let merged = merge(&schema, vec![], &ids, &down, &previous);
    let pat = user(&merged, "pat@acme.com");
    assert_eq!(
        pat.itsm[0].itsm_user_id,
        Some(("abc".into(), schema.previous_load()))
    );
    assert_eq!(
        pat.itsm[0].external_id,
        Some(("pat.lee".into(), schema.manual())),
        "the admin's value keeps its origin"
    );
    assert_eq!(
        text(&schema, pat, "first_name"),
        Some(("Patricia".into(), "previous load".into()))
    );

    // This run's check wins over the previous load.
    let up = checked(1, 0, EntryStatus::Verified, Some(found("fresh", "pat.lee")));
    let pat = merge(&schema, vec![], &ids, &up, &previous)
        .users
        .into_iter()
        .find(|u| &*u.key == "pat@acme.com")
        .expect("pat");
    assert_eq!(
        pat.itsm[0].itsm_user_id,
        Some(("fresh".into(), schema.resolved()))
    );
    assert_eq!(
        text(&schema, &pat, "first_name"),
        Some(("Pat".into(), "resolved".into()))
    );

    // An admin's value wins over both.
    let admin = identities(&format!("{BOT}{PAT_SNOW}itsm_user_id = \"abc\"\n"));
    let merged = merge(&schema, vec![], &admin, &down, &previous);
    assert_eq!(
        user(&merged, "pat@acme.com").itsm[0].itsm_user_id,
        Some(("abc".into(), schema.manual()))
    );

    // A verdict of this run's check is no outage: nothing is carried.
    let gone = checked(1, 0, EntryStatus::NotFound, None);
    let merged = merge(&schema, vec![], &ids, &gone, &previous);
    let pat = user(&merged, "pat@acme.com");
    assert_eq!(pat.itsm[0].itsm_user_id, None);
    assert_eq!(text(&schema, pat, "first_name"), None);
}

#[test]
fn a_previous_value_is_carried_only_for_the_same_account_and_only_if_the_check_found_it() {
    let schema = schema();
    let down = checked(1, 0, EntryStatus::Unchecked, None);
    // The admin now names another account: its ITSM User ID is unknown.
    let other = identities(&format!(
        "{BOT}{}",
        PAT_SNOW.replace("pat.lee", "patricia.lee")
    ));
    let merged = merge(&schema, vec![], &other, &down, &previous_pat("abc"));
    assert_eq!(user(&merged, "pat@acme.com").itsm[0].itsm_user_id, None);
    // The admin gave the ITSM User ID last time and removed it since.
    let mut previous = previous_pat("abc");
    for user in previous.values_mut() {
        for entry in &mut user.itsm {
            if let Some(id) = &mut entry.itsm_user_id {
                id.from_check = false;
            }
        }
    }
    let ids = identities(&format!("{BOT}{PAT_SNOW}"));
    let merged = merge(&schema, vec![], &ids, &down, &previous);
    assert_eq!(user(&merged, "pat@acme.com").itsm[0].itsm_user_id, None);
}

#[test]
fn only_users_with_an_unchecked_entry_need_the_previous_load() {
    let schema = schema();
    let ids = identities(&format!("{BOT}{PAT_SNOW}"));
    let down = checked(1, 0, EntryStatus::Unchecked, None);
    assert_eq!(
        unchecked_keys(&schema, &ids, &down),
        vec![Box::from("pat@acme.com")]
    );
    let up = checked(1, 0, EntryStatus::Verified, Some(found("abc", "pat.lee")));
    assert!(unchecked_keys(&schema, &ids, &up).is_empty());
}

#[test]
fn one_itsm_account_on_two_users_stays_with_the_bot() {
    let schema = schema();
    let ids = identities(
        "[bot]\nunique_record_id = \"bot@acme.com\"\n[[bot.itsm]]\nintegration = \"snow\"\nexternal_id = \"moveworks.bot\"\n[[users]]\nunique_record_id = \"a@acme.com\"\n[[users.itsm]]\nintegration = \"snow\"\nexternal_id = \"Moveworks.Bot\"\n",
    );
    let merged = merge(&schema, vec![], &ids, &BTreeMap::new(), &Previous::new());
    assert!(user(&merged, "a@acme.com").itsm.is_empty());
    assert_eq!(user(&merged, "bot@acme.com").itsm.len(), 1);
    assert_eq!(merged.duplicates[0].kind, DuplicateKind::ItsmAccount);
    assert_eq!(merged.duplicates[0].kept, "user bot@acme.com");
}

#[test]
fn a_source_record_without_a_joining_key_is_listed_not_loaded() {
    let schema = schema();
    let merged = merge(
        &schema,
        vec![vec![record(&schema, 7, &[("role", "Analyst")])]],
        &identities(BOT),
        &BTreeMap::new(),
        &Previous::new(),
    );
    assert_eq!(merged.users.len(), 1);
    assert_eq!(merged.without_key, vec!["workday line 7"]);
}

fn manual_users(count: usize) -> impl Strategy<Value = Vec<(String, String, Option<String>)>> {
    proptest::collection::vec(
        (
            "[a-cA-C]{1,2}(@acme\\.com)?",
            "[A-Za-z ]{0,6}",
            proptest::option::of("[a-c]{1,2}"),
        ),
        0..count,
    )
}

fn identities_text(users: &[(String, String, Option<String>)]) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let mut text = BOT.to_owned();
    for (urid, role, account) in users {
        if !seen.insert(urid.clone()) {
            continue;
        }
        text.push_str(&format!(
            "[[users]]\nunique_record_id = \"{urid}\"\nrole = \"{role}\"\n"
        ));
        if let Some(account) = account {
            text.push_str(&format!(
                "[[users.itsm]]\nintegration = \"snow\"\nexternal_id = \"{account}\"\n"
            ));
        }
    }
    text
}

proptest! {
    #[test]
    fn merging_is_deterministic_and_independent_of_the_order_of_manual_users(
        users in manual_users(8),
        source_keys in proptest::collection::vec("[a-f]{1,2}(@ACME\\.com)?", 0..8),
        seed in any::<u64>(),
    ) {
        let schema = schema();
        let records: Vec<SourceRecord> = source_keys
            .iter()
            .enumerate()
            .map(|(i, k)| record(&schema, i as u64 + 2, &[("email_addr", k), ("city", "Oslo")]))
            .collect();
        // One entry per Unique Record ID, as the identities reader demands.
        let mut seen = std::collections::BTreeSet::new();
        let users: Vec<_> = users.into_iter().filter(|u| seen.insert(u.0.clone())).collect();
        let mut shuffled = users.clone();
        let mut rng = fastrand_like(seed);
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, (rng() % (i as u64 + 1)) as usize);
        }
        let a = merge(&schema, vec![records.clone()], &identities(&identities_text(&users)), &BTreeMap::new(), &Previous::new());
        let again = merge(&schema, vec![records.clone()], &identities(&identities_text(&users)), &BTreeMap::new(), &Previous::new());
        let b = merge(&schema, vec![records], &identities(&identities_text(&shuffled)), &BTreeMap::new(), &Previous::new());
        prop_assert_eq!(&a.users, &again.users);
        prop_assert_eq!(&a.users, &b.users);
        prop_assert_eq!(&a.duplicates, &b.duplicates);
    }
}

/// A tiny deterministic generator, so the shuffle is reproducible.
fn fastrand_like(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    }
}
