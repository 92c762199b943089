//! The published JSON Schemas (`schemas/`) against what the binary prints:
//! real reports conform, and a report that breaks the contract is refused,
//! so the schemas can fail a test.

use itsmid_connectors::System;
use itsmid_connectors::sim::Fault;
use serde_json::{Value, json};

use crate::support::{BOT, World, run_in, schema_violations, stdout_json};

/// Asserts that `document` names a published schema and conforms to it.
fn assert_conforms(document: &Value, schema: &str) {
    assert_eq!(document["schema"], schema, "{document:#}");
    let violations = schema_violations(document).expect("a published schema");
    assert!(
        violations.is_empty(),
        "{schema}:\n  {}",
        violations.join("\n  ")
    );
}

/// Asserts that the schema refuses `document` with a violation that says
/// `what` (a JSON path, or the name of a missing field).
fn assert_refused(document: &Value, what: &str) {
    let violations = schema_violations(document).expect("a published schema");
    assert!(
        violations.iter().any(|v| v.contains(what)),
        "no violation says {what}: {violations:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_report_matches_the_report_schema() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let demo = dir.path().join("demo");
    let demo = demo.to_str().expect("a UTF-8 path");
    let output = run_in(dir.path(), &["demo", "--format", "json", "--dir", demo]).await;
    assert_eq!(output.status.code(), Some(1), "the demo holds errors");
    let report = stdout_json(&output);
    assert_conforms(&report, "itsmid.report.v1");
    let findings = report["findings"].as_array().expect("findings");
    assert!(findings.len() >= 5, "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_with_unavailable_systems_matches_the_report_schema() {
    let world = World::start().await;
    world.write_identities(BOT);
    world.fault(System::ServiceNow, Fault::Hibernating);
    world.fault(System::Jira, Fault::AuthRejected);
    let (code, report) = world.check().await;
    assert_eq!(code, 1);
    assert_conforms(&report, "itsmid.report.v1");
    assert_eq!(report["complete"], false);
    let reasons: Vec<&Value> = report["systems"]
        .as_array()
        .expect("systems")
        .iter()
        .map(|row| &row["reason"])
        .collect();
    assert_eq!(reasons, [&json!("bad_response"), &json!("auth_failed")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn load_reports_match_the_load_schema() {
    let world = World::start().await;
    world.write_identities(BOT);

    let output = world.run(&["load", "--dry-run", "--format", "json"]).await;
    assert_eq!(output.status.code(), Some(0));
    let dry = stdout_json(&output);
    assert_conforms(&dry, "itsmid.load.v1");
    assert_eq!(dry["loaded"], false);
    assert!(dry["diff"].is_object(), "a dry run shows its diff: {dry:#}");

    let output = world.run(&["load", "--format", "json"]).await;
    assert_eq!(output.status.code(), Some(0));
    let loaded = stdout_json(&output);
    assert_conforms(&loaded, "itsmid.load.v1");
    assert_eq!(loaded["snapshot"], 1);

    // A source with a malformed row: nothing is loaded, the report says where.
    let config = std::fs::read_to_string(world.path().join("itsmid.toml")).expect("the config");
    let config = format!(
        "{}\n[[sources]]\nname = \"workday\"\npath = \"workday.csv\"\n\n{}",
        "identities = \"identities.toml\"",
        config.replacen("identities = \"identities.toml\"\n", "", 1)
    );
    std::fs::write(world.path().join("itsmid.toml"), config).expect("write the config");
    std::fs::write(
        world.path().join("workday.csv"),
        "email_addr,full_name\npat@acme.com,Pat Lee\n\"kim@acme.com,Kim\n",
    )
    .expect("write the export");
    let output = world.run(&["load", "--format", "json"]).await;
    assert_eq!(output.status.code(), Some(2));
    let refused = stdout_json(&output);
    assert_conforms(&refused, "itsmid.load.v1");
    assert_eq!(refused["source_errors"][0]["line"], 3, "{refused:#}");
}

/// The smallest report SPEC section 5 allows, with one finding.
fn minimal_report() -> Value {
    json!({
        "schema": "itsmid.report.v1",
        "generated_at": "2026-11-24T10:00:00Z",
        "complete": true,
        "summary": {"identities": 1, "entries": 1, "verified": 0, "errors": 1, "warnings": 0,
                    "api_requests": 2},
        "systems": [{"integration": "snow", "system": "servicenow", "status": "ok",
                     "api_requests": 2, "reason": null, "credential_check": "ok",
                     "detail": null, "readiness": "ok", "readiness_detail": null}],
        "findings": [{"code": "INACTIVE", "severity": "error", "unique_record_id": "pat@acme.com",
                      "integration": "snow", "message": "inactive", "expected": null,
                      "actual": null}],
        "identities": [{"unique_record_id": "pat@acme.com", "kind": "manual", "entries": [
            {"integration": "snow", "external_id": "pat.lee", "itsm_user_id": null,
             "status": "inactive",
             "found": {"itsm_user_id": "a8f98bb0eb32010045e1a5115206fe3a",
                       "external_id": "pat.lee", "active": false, "first_name": "Pat",
                       "last_name": "Lee", "full_name": "Pat Lee"}}]}]
    })
}

#[test]
fn the_report_schema_refuses_a_made_up_code_and_a_missing_field() {
    let report = minimal_report();
    assert_conforms(&report, "itsmid.report.v1");

    let mut made_up = report.clone();
    made_up["findings"][0]["code"] = json!("USER_IS_GRUMPY");
    assert_refused(&made_up, "/findings/0/code: ");

    let mut no_summary = report.clone();
    no_summary
        .as_object_mut()
        .expect("an object")
        .remove("summary");
    assert_refused(&no_summary, "\"summary\" is a required property");

    let mut no_actual = report.clone();
    no_actual["findings"][0]
        .as_object_mut()
        .expect("an object")
        .remove("actual");
    assert_refused(&no_actual, "\"actual\" is a required property");

    let mut wrong_severity = report.clone();
    wrong_severity["findings"][0]["severity"] = json!("warning");
    assert_refused(&wrong_severity, "/findings/0/severity: ");

    let mut unknown_status = report.clone();
    unknown_status["identities"][0]["entries"][0]["status"] = json!("fine");
    assert_refused(&unknown_status, "/identities/0/entries/0/status: ");

    let mut no_readiness = report.clone();
    no_readiness["systems"][0]
        .as_object_mut()
        .expect("an object")
        .remove("readiness");
    assert_refused(&no_readiness, "\"readiness\" is a required property");

    let mut reason_while_ok = report.clone();
    reason_while_ok["systems"][0]["reason"] = json!("timeout");
    assert_refused(&reason_while_ok, "/systems/0/reason: ");

    // Extra fields are allowed.
    let mut extra = report;
    extra["run"] = json!({"seconds": 1.5});
    assert_conforms(&extra, "itsmid.report.v1");
}

#[test]
fn the_load_schema_refuses_a_missing_field_and_a_write_while_blocked() {
    let load = json!({
        "schema": "itsmid.load.v1",
        "generated_at": "2026-11-24T10:00:00Z",
        "dry_run": false,
        "mode": "sources",
        "check": {"complete": true, "summary": {"identities": 1, "entries": 0, "verified": 0,
                                                "errors": 0, "warnings": 0, "api_requests": 0}},
        "loaded": true,
        "snapshot": 2,
        "previous_snapshot": 1,
        "counts": {"users": 3, "added": 1, "removed": 0, "changed": 0, "unchanged": 2},
        "blocked": null,
        "duplicates": [{"kind": "email", "joining_key": "pat@acme.com",
                        "records": ["user kim@acme.com", "user pat@acme.com"], "kept": "all",
                        "message": "one address on two users"}],
        "without_joining_key": ["workday line 4"],
        "source_errors": []
    });
    assert_conforms(&load, "itsmid.load.v1");

    let mut no_counts = load.clone();
    no_counts
        .as_object_mut()
        .expect("an object")
        .remove("counts");
    assert_refused(&no_counts, "\"counts\" is a required property");

    let mut blocked_but_loaded = load.clone();
    blocked_but_loaded["blocked"] = json!({
        "reason": "3 of 12 users would be removed", "previous_users": 12, "removed": 3,
        "changed": 0, "max_removed_ratio": 0.1, "max_changed_ratio": 0.25,
        "examples": {"removed": ["lee@acme.com"], "changed": []}
    });
    assert_refused(&blocked_but_loaded, "/loaded: ");

    let mut made_up_kind = load;
    made_up_kind["duplicates"][0]["kind"] = json!("cousin");
    assert_refused(&made_up_kind, "/duplicates/0/kind: ");
}

#[test]
fn every_finding_code_of_the_schema_is_documented() {
    let schema: Value = serde_json::from_str(include_str!("../../schemas/report.v1.schema.json"))
        .expect("the schema is JSON");
    let docs = include_str!("../../docs/findings.md");
    let codes = schema["$defs"]["code"]["enum"]
        .as_array()
        .expect("the finding codes");
    assert_eq!(codes.len(), 19, "SPEC section 5 has 19 finding codes");
    for code in codes {
        let code = code.as_str().expect("a code");
        assert!(
            docs.contains(&format!("### `{code}`")),
            "docs/findings.md has no section for {code}"
        );
    }
}
