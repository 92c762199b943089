//! The load's record shape, its compare-then-write and the drift window.

use super::*;
use crate::pipeline::model::{Field, set_field};

fn schema() -> Schema {
    Schema::new(&["office".into()], &["workday".into()], "email_addr").expect("schema")
}

fn user(schema: &Schema) -> ImportedUser {
    let mut fields = Vec::new();
    for (name, value, origin) in [
        ("email_addr", Value::Text("pat@acme.com".into()), 0),
        ("office", Value::Text("B4".into()), 0),
        (
            "user_tags",
            Value::List(vec![Box::from("VIP")].into()),
            schema.manual(),
        ),
    ] {
        set_field(
            &mut fields,
            Field {
                attr: schema.attr(name).expect("attr"),
                origin,
                value,
            },
        );
    }
    let mut user = crate::pipeline::merge::tests_support::user("pat@acme.com", fields);
    user.itsm.push(MergedEntry {
        integration: "snow".into(),
        external_id: Some(("pat.lee".into(), schema.manual())),
        itsm_user_id: Some(("a8f98bb0eb32010045e1a5115206fe3a".into(), schema.resolved())),
    });
    user
}

#[test]
fn the_external_id_is_exported_as_user_id_and_the_itsm_user_id_as_external_id() {
    let schema = schema();
    let mut out = Vec::new();
    record_json(&user(&schema), &schema, &mut out);
    let record: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(
        record["external_system_identities"]["snow"],
        serde_json::json!({"user_id": "pat.lee", "external_id": "a8f98bb0eb32010045e1a5115206fe3a"})
    );
    assert_eq!(record["custom_attributes"]["office"], "B4");
    assert_eq!(record["user_tags"], serde_json::json!(["VIP"]));
}

#[test]
fn provenance_names_each_fields_origin() {
    let schema = schema();
    let (mut record, mut provenance) = (Vec::new(), Vec::new());
    let user = user(&schema);
    record_json(&user, &schema, &mut record);
    provenance_json(&user, &schema, &mut provenance);
    let explained = explain(
        std::str::from_utf8(&record).expect("utf8"),
        std::str::from_utf8(&provenance).expect("utf8"),
    );
    let from: BTreeMap<String, String> = explained.into_iter().map(|(f, _, o)| (f, o)).collect();
    assert_eq!(from["email_addr"], "workday");
    assert_eq!(from["custom_attributes.office"], "workday");
    assert_eq!(from["user_tags"], "manual");
    assert_eq!(from["external_system_identities.snow.user_id"], "manual");
    assert_eq!(
        from["external_system_identities.snow.external_id"],
        "resolved"
    );
}

#[test]
fn a_stored_user_reads_back_in_the_identities_files_words() {
    let schema = schema();
    let (mut record, mut provenance) = (Vec::new(), Vec::new());
    let mut user = user(&schema);
    set_field(
        &mut user.fields,
        Field {
            attr: schema.attr("first_name").expect("attr"),
            origin: schema.previous_load(),
            value: Value::Text("Pat".into()),
        },
    );
    record_json(&user, &schema, &mut record);
    provenance_json(&user, &schema, &mut provenance);
    let previous = previous_user(
        std::str::from_utf8(&record).expect("utf8"),
        std::str::from_utf8(&provenance).expect("utf8"),
    );
    assert_eq!(
        previous.itsm,
        vec![PreviousEntry {
            integration: "snow".into(),
            external_id: Some(PreviousValue {
                value: "pat.lee".into(),
                from_check: false,
            }),
            itsm_user_id: Some(PreviousValue {
                value: "a8f98bb0eb32010045e1a5115206fe3a".into(),
                from_check: true,
            }),
        }]
    );
    assert_eq!(previous.names, vec![("first_name".into(), "Pat".into())]);
}

#[test]
fn changed_fields_name_nested_paths() {
    let old = r#"{"a":"1","custom_attributes":{"office":"B4"},"external_system_identities":{"snow":{"user_id":"x","external_id":null}}}"#;
    let new = r#"{"a":"1","b":"2","custom_attributes":{"office":"B5"},"external_system_identities":{"snow":{"user_id":"x","external_id":"id"}}}"#;
    assert_eq!(
        changed_fields(old, new),
        vec![
            "b",
            "custom_attributes.office",
            "external_system_identities.snow.external_id"
        ]
    );
}

fn pipeline() -> PipelineConfig {
    PipelineConfig {
        joining_key: "email_addr".into(),
        max_removed_ratio: 0.10,
        max_changed_ratio: 0.25,
        custom_attributes: vec!["office".into()],
        large_change_min_users: 100,
        drift_window: std::time::Duration::from_secs(24 * 60 * 60),
    }
}

fn options(pipeline: &PipelineConfig) -> LoadOptions<'_> {
    LoadOptions {
        pipeline,
        keep_snapshots: 3,
        dry_run: false,
        accept_large_change: false,
        loaded_at: "2026-11-26T00:00:00Z".into(),
        #[cfg(debug_assertions)]
        pause_after_rows: None,
    }
}

proptest::proptest! {
    #[test]
    fn a_load_followed_by_the_same_load_changes_nothing(
        rows in proptest::collection::vec(
            ("[a-d]{1,3}@acme\\.com", "[A-Za-z]{0,5}", proptest::option::of("[A-Z][0-9]")),
            0..12,
        ),
        manual in proptest::collection::vec("[a-f]{1,3}@acme\\.com", 0..4),
    ) {
        let schema = schema();
        let records: Vec<crate::pipeline::sources::SourceRecord> = rows
            .iter()
            .enumerate()
            .map(|(i, (email, role, office))| {
                let mut fields = Vec::new();
                let mut put = |name: &str, value: &str| {
                    if !value.is_empty() {
                        set_field(&mut fields, Field {
                            attr: schema.attr(name).expect("attr"),
                            origin: 0,
                            value: Value::Text(value.into()),
                        });
                    }
                };
                put("email_addr", email);
                put("role", role);
                put("office", office.as_deref().unwrap_or(""));
                crate::pipeline::sources::SourceRecord { line: i as u64 + 2, fields }
            })
            .collect();
        let mut text = String::from("[bot]\nunique_record_id = \"bot@acme.com\"\n");
        let mut seen = std::collections::BTreeSet::new();
        for urid in manual.iter().filter(|u| seen.insert((*u).clone())) {
            text.push_str(&format!("[[users]]\nunique_record_id = \"{urid}\"\nfull_name = \"M\"\n"));
        }
        let identities = crate::identities::Identities::parse(
            std::path::Path::new("i.toml"), &text, &["office".into()],
        ).expect("identities");
        let merged = crate::pipeline::merge::merge(
            &schema, vec![records], &identities, &BTreeMap::new(), &Default::default());
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("s.db")).expect("store");
        let pipeline = pipeline();
        let first = load(&mut store, &merged.users, &schema, &options(&pipeline)).expect("first");
        let second = load(&mut store, &merged.users, &schema, &options(&pipeline)).expect("second");
        proptest::prop_assert_eq!(first.counts.added, merged.users.len() as u64);
        proptest::prop_assert_eq!(second.counts.unchanged, merged.users.len() as u64);
        proptest::prop_assert_eq!(second.counts.added + second.counts.removed + second.counts.changed, 0);
        proptest::prop_assert!(store.diff(1, 2).expect("diff").is_empty());
    }
}

#[test]
fn the_hash_is_stable_across_releases() {
    assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
}

/// `n` users `u<i>@acme.com`, sorted by key as the merge hands them.
fn users(n: usize, except: &[usize]) -> Vec<ImportedUser> {
    let schema = schema();
    let mut all: Vec<ImportedUser> = (0..n)
        .filter(|i| !except.contains(i))
        .map(|i| {
            let key = format!("u{i:03}@acme.com");
            let mut fields = Vec::new();
            set_field(
                &mut fields,
                Field {
                    attr: schema.attr("email_addr").expect("attr"),
                    origin: 0,
                    value: Value::Text(key.clone().into()),
                },
            );
            crate::pipeline::merge::tests_support::user(&key, fields)
        })
        .collect();
    all.sort_by(|a, b| a.key.cmp(&b.key));
    all
}

fn at<'p>(pipeline: &'p PipelineConfig, loaded_at: &str) -> LoadOptions<'p> {
    LoadOptions {
        loaded_at: loaded_at.into(),
        keep_snapshots: 30,
        ..options(pipeline)
    }
}

#[test]
fn a_slow_drain_is_blocked_against_the_load_of_a_drift_window_ago() {
    let (schema, pipeline) = (schema(), pipeline());
    let dir = tempfile::tempdir().expect("dir");
    let mut store = Store::open(&dir.path().join("s.db")).expect("store");
    let day_one = at(&pipeline, "2026-11-01T00:00:00Z");
    load(&mut store, &users(200, &[]), &schema, &day_one).expect("first");
    // 7% removed within the day: under the 10% against the last load.
    let gone: Vec<usize> = (0..14).collect();
    let later = at(&pipeline, "2026-11-01T20:00:00Z");
    let second = load(&mut store, &users(200, &gone), &schema, &later).expect("second");
    assert!(second.blocked.is_none() && second.snapshot == Some(2));
    // 7% more: 6.5% of the last load, but 14% of the load a day ago.
    let more: Vec<usize> = (0..28).collect();
    let next_day = at(&pipeline, "2026-11-02T01:00:00Z");
    let third = load(&mut store, &users(200, &more), &schema, &next_day).expect("third");
    let blocked = third.blocked.expect("blocked by the drift window");
    assert!(
        blocked
            .reason
            .contains("against snapshot 1 of 2026-11-01T00:00:00Z"),
        "{}",
        blocked.reason
    );
    assert_eq!((blocked.previous_users, blocked.removed), (200, 28));
    assert_eq!(third.snapshot, None, "a blocked load writes nothing");
}

#[test]
fn within_the_drift_window_only_the_last_load_counts() {
    let (schema, pipeline) = (schema(), pipeline());
    let dir = tempfile::tempdir().expect("dir");
    let mut store = Store::open(&dir.path().join("s.db")).expect("store");
    load(
        &mut store,
        &users(200, &[]),
        &schema,
        &at(&pipeline, "2026-11-01T00:00:00Z"),
    )
    .expect("first");
    let gone: Vec<usize> = (0..14).collect();
    load(
        &mut store,
        &users(200, &gone),
        &schema,
        &at(&pipeline, "2026-11-01T10:00:00Z"),
    )
    .expect("second");
    let more: Vec<usize> = (0..28).collect();
    let third = load(
        &mut store,
        &users(200, &more),
        &schema,
        &at(&pipeline, "2026-11-01T20:00:00Z"),
    )
    .expect("third");
    assert!(third.blocked.is_none(), "{:?}", third.blocked);
}

#[test]
fn accepting_a_large_change_lets_a_drift_through() {
    let (schema, pipeline) = (schema(), pipeline());
    let dir = tempfile::tempdir().expect("dir");
    let mut store = Store::open(&dir.path().join("s.db")).expect("store");
    load(
        &mut store,
        &users(200, &[]),
        &schema,
        &at(&pipeline, "2026-11-01T00:00:00Z"),
    )
    .expect("first");
    let gone: Vec<usize> = (0..14).collect();
    load(
        &mut store,
        &users(200, &gone),
        &schema,
        &at(&pipeline, "2026-11-01T20:00:00Z"),
    )
    .expect("second");
    let more: Vec<usize> = (0..28).collect();
    let mut accepted = at(&pipeline, "2026-11-02T01:00:00Z");
    accepted.accept_large_change = true;
    let third = load(&mut store, &users(200, &more), &schema, &accepted).expect("third");
    assert!(third.blocked.is_none() && third.snapshot == Some(3));
}

#[test]
fn pruning_keeps_the_drift_windows_baseline_so_a_frequent_drain_is_still_blocked() {
    let (schema, pipeline) = (schema(), pipeline());
    let dir = tempfile::tempdir().expect("dir");
    let mut store = Store::open(&dir.path().join("s.db")).expect("store");
    let keep_two = |loaded_at: &str| LoadOptions {
        keep_snapshots: 2,
        ..at(&pipeline, loaded_at)
    };
    load(
        &mut store,
        &users(200, &[]),
        &schema,
        &keep_two("2026-11-01T00:00:00Z"),
    )
    .expect("first");
    // 3% every six hours: never more than 10% against the last load.
    for (hour, gone) in [(6, 6), (12, 12), (18, 18)] {
        let removed: Vec<usize> = (0..gone).collect();
        let loaded_at = format!("2026-11-01T{hour:02}:00:00Z");
        let outcome = load(
            &mut store,
            &users(200, &removed),
            &schema,
            &keep_two(&loaded_at),
        )
        .expect("a load");
        assert!(outcome.blocked.is_none(), "{hour}h: {:?}", outcome.blocked);
    }
    let removed: Vec<usize> = (0..24).collect();
    let next_day = keep_two("2026-11-02T01:00:00Z");
    let outcome = load(&mut store, &users(200, &removed), &schema, &next_day).expect("a load");
    let blocked = outcome.blocked.expect("12% against the load of a day ago");
    assert!(
        blocked.reason.contains("against snapshot 1"),
        "{}",
        blocked.reason
    );
}
