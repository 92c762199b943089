//! The page in each state the daemon can be in, as HTML.

use std::collections::BTreeMap;

use base64::Engine as _;
use jiff::Timestamp;
use serde_json::Value;

use super::assets::*;
use super::format::*;
use super::*;
use crate::app::daemon::RunOutcome;
use crate::app::daemon::{Health, LastRun};
use serde_json::json;

const NOW: &str = "2026-12-06T20:15:33Z";

fn ts(text: &str) -> Timestamp {
    text.parse().expect("a test timestamp")
}

/// A page with nothing yet: the daemon has just started.
fn starting() -> PageView<'static> {
    PageView {
        now: ts(NOW),
        health: Health::Starting,
        last_run: None,
        next_run_at: None,
        running: false,
        last_failure: None,
        report: None,
        runs: &[],
        loads: &[],
        run_now: None,
    }
}

fn last_run() -> LastRun {
    LastRun {
        finished_at: "2026-12-06T20:12:33Z".to_owned(),
        outcome: RunOutcome::Problems,
        seconds: 4.25,
        finished: ts("2026-12-06T20:12:33Z"),
    }
}

fn snow_system() -> Value {
    json!({
        "integration": "snow", "system": "servicenow", "status": "ok", "api_requests": 5,
        "reason": null, "credential_check": "ok", "credential_owner": "moveworks.bot",
        "rate_limit_waits": 0, "detail": null,
        "readiness": "problems", "readiness_detail": "the bot lacks a role"
    })
}

fn salesforce_system() -> Value {
    json!({
        "integration": "salesforce", "system": "salesforce", "status": "ok", "api_requests": 4,
        "reason": null, "credential_check": "mismatch", "credential_owner": "someone.else@acme.com",
        "rate_limit_waits": 2, "detail": null, "readiness": "ok", "readiness_detail": null,
        "api_usage": "3/15000", "api_remaining": "14997"
    })
}

fn report_with(systems: Vec<Value>, findings: Vec<Value>) -> Value {
    json!({
        "schema": "itsmid.report.v1",
        "generated_at": "2026-12-06T20:12:30Z",
        "complete": true,
        "summary": {"identities": 2, "entries": 3, "verified": 1, "errors": 1, "warnings": 1, "api_requests": 9},
        "systems": systems,
        "findings": findings,
        "identities": [
            {"unique_record_id": "moveworks-bot@acme.com", "kind": "bot", "entries": [
                {"integration": "snow", "external_id": "moveworks.bot",
                 "itsm_user_id": "6816f79cc0a8016401c5a33be04be441", "status": "verified", "found": null},
                {"integration": "salesforce", "external_id": "moveworks.bot@acme.com.prod",
                 "itsm_user_id": "0055e000003MwBtAAK", "status": "mismatch", "found": null}
            ]},
            {"unique_record_id": "ada@acme.com", "kind": "manual", "entries": [
                {"integration": "snow", "external_id": "ada.lovelace",
                 "itsm_user_id": null, "status": "not_found", "found": null}
            ]}
        ]
    })
}

/// Two systems, and findings listed warning first so that the page's
/// order is its own.
fn report() -> Value {
    report_with(
        vec![snow_system(), salesforce_system()],
        vec![
            json!({"code": "BOT_SETTING", "severity": "warning",
                   "unique_record_id": "moveworks-bot@acme.com", "integration": "snow",
                   "message": "the bot time zone is Europe/Berlin",
                   "expected": "America/Danmarkshavn", "actual": "Europe/Berlin",
                   "fix": "set the time zone of the bot user"}),
            json!({"code": "NOT_FOUND", "severity": "error",
                   "unique_record_id": "ada@acme.com", "integration": "snow",
                   "message": "no account has the External ID ada.lovelace",
                   "expected": null, "actual": null,
                   "fix": "correct the External ID or create the account"}),
            json!({"code": "SYSTEM_NOTE", "severity": "info",
                   "unique_record_id": null, "integration": "salesforce",
                   "message": "a note for the whole system",
                   "expected": null, "actual": null, "fix": "nothing to do"}),
        ],
    )
}

fn run(finished_at: &str, errors: u64, warnings: u64) -> RunRecord {
    RunRecord {
        finished_at: finished_at.to_owned(),
        outcome: if errors > 0 { "problems" } else { "ok" }.to_owned(),
        seconds: 3.5,
        errors,
        warnings,
        codes: BTreeMap::new(),
        load: Some(LoadCounts {
            users: 12,
            added: 1,
            removed: 0,
            changed: 2,
        }),
        blocked: None,
    }
}

type Tag = (String, Vec<(String, String)>);

/// Every start tag with its attributes, in order; the script and style
/// text is skipped, so only markup is looked at.
fn start_tags(html: &str) -> Vec<Tag> {
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        if rest.starts_with('/') || rest.starts_with('!') {
            continue;
        }
        let end = rest.find('>').expect("a closed tag");
        let (name, attributes) = parse_tag(&rest[..end]);
        rest = &rest[end + 1..];
        if name == "script" || name == "style" {
            let close = rest.find(&format!("</{name}>")).expect("a closed element");
            rest = &rest[close..];
        }
        tags.push((name, attributes));
    }
    tags
}

fn parse_tag(tag: &str) -> Tag {
    let tag = tag.trim_end_matches('/');
    let (name, mut rest) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
    let mut attributes = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let attribute = rest[..name_end].to_owned();
        rest = &rest[name_end..];
        let mut value = String::new();
        if let Some(quoted) = rest.strip_prefix("=\"") {
            let close = quoted.find('"').expect("a closed attribute value");
            value = quoted[..close].to_owned();
            rest = &quoted[close + 1..];
        }
        attributes.push((attribute, value));
    }
    (name.to_owned(), attributes)
}

fn attribute<'t>(tag: &'t Tag, name: &str) -> Option<&'t str> {
    tag.1
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The markup of the table row that carries `marker` (an attribute).
fn row<'h>(html: &'h str, marker: &str) -> &'h str {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no row {marker}"));
    let end = html[start..].find("</tr>").expect("a closed row");
    &html[start..start + end]
}

fn position(html: &str, needle: &str) -> usize {
    html.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not on the page"))
}

/// Every part of the page at once, for the checks that hold everywhere.
fn everything(report: &Value, runs: &[RunRecord], last: &LastRun) -> String {
    render(&PageView {
        health: Health::Degraded,
        last_run: Some(last),
        next_run_at: Some(ts("2026-12-06T20:27:33Z")),
        running: true,
        last_failure: Some("it failed"),
        report: Some(report),
        runs,
        run_now: Some("tok123"),
        ..starting()
    })
}

#[test]
fn a_starting_page_says_so_and_shows_no_rows_and_no_runs() {
    let html = render(&starting());
    assert!(
        html.starts_with("<!DOCTYPE html><html lang=\"en\">"),
        "{html}"
    );
    assert!(html.contains("<meta charset=\"utf-8\">"));
    assert!(
        html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
    );
    assert!(html.contains("<title>itsmid status</title>"));
    assert!(html.contains("Health: Starting"));
    assert!(html.contains("No report yet"));
    assert!(html.contains("no runs yet"));
    for absent in [
        "data-system=",
        "data-entry=",
        "data-finding=",
        "data-run=",
        "<svg",
    ] {
        assert!(!html.contains(absent), "{absent} on a starting page");
    }
    assert!(!html.contains("a run is in progress"));
    assert!(!html.contains("Last failure"));
    assert!(!html.contains("<ul"), "no empty list of facts");
}

#[test]
fn the_page_is_laid_out_in_landmarks_and_sections() {
    let report = report();
    let runs = [run("2026-12-06T20:12:33Z", 1, 1)];
    let html = everything(&report, &runs, &last_run());
    let order = [
        "<header",
        "<main>",
        "<section id=\"health\"",
        "<section id=\"systems\"",
        "<section id=\"problems\"",
        "<section id=\"entries\"",
        "<section id=\"trend\"",
        "</main>",
    ];
    let positions: Vec<usize> = order.iter().map(|n| position(&html, n)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    for heading in [
        "Systems</h2>",
        "Problems</h2>",
        "Entries</h2>",
        "Trend</h2>",
    ] {
        assert!(html.contains(heading), "{heading}");
    }
    assert_eq!(html.matches("<div class=\"table-wrap\"").count(), 6);
    let tables = html.matches("<table>").count() + html.matches("<table class=\"stack\">").count();
    assert_eq!(tables, 6, "one per wrapper");
    // The systems, the problems and the entries stack into cards on a
    // phone, each cell naming its column.
    assert_eq!(html.matches("<table class=\"stack\">").count(), 5);
    assert!(html.contains("data-label=\"Fix\""));
    assert_eq!(html.matches("<caption>").count(), 6);
}

#[test]
fn an_ok_page_shows_the_last_run_and_the_report_summary() {
    let report = report();
    let last = last_run();
    let html = render(&PageView {
        health: Health::Ok,
        last_run: Some(&last),
        next_run_at: Some(ts("2026-12-06T20:27:33Z")),
        report: Some(&report),
        ..starting()
    });
    assert!(html.contains("Health: OK"));
    assert!(html.contains("<section id=\"health\" class=\"banner good\""));
    assert!(
        html.contains("took 4.2 s") || html.contains("took 4.3 s"),
        "{html}"
    );
    assert!(html.contains("outcome: <span class=\"badge warn\">⚠ problems</span>"));
    assert!(html.contains("1 errors, 1 warnings; 1 of 3 entries verified"));
    assert!(html.contains("✔ complete"));
    assert!(!html.contains("a run is in progress"));
}

#[test]
fn errors_come_before_warnings_before_info_each_with_message_and_fix() {
    let report = report();
    let html = render(&PageView {
        health: Health::Ok,
        report: Some(&report),
        ..starting()
    });
    let error = position(&html, "data-severity=\"error\"");
    let warning = position(&html, "data-severity=\"warning\"");
    let info = position(&html, "data-severity=\"info\"");
    assert!(
        error < warning && warning < info,
        "{error} {warning} {info}"
    );
    assert!(html.contains("✖ Errors</span>: 1</caption>"));
    assert!(html.contains("⚠ Warnings</span>: 1</caption>"));
    assert!(html.contains("ℹ Info</span>: 1</caption>"));

    let not_found = position(&html, "no account has the External ID ada.lovelace");
    let bot_setting = position(&html, "the bot time zone is Europe/Berlin");
    assert!(error < not_found && not_found < warning);
    assert!(warning < bot_setting && bot_setting < info);
    for fix in [
        "correct the External ID or create the account",
        "set the time zone of the bot user",
        "nothing to do",
    ] {
        assert!(html.contains(fix), "{fix}");
    }
    let setting = row(&html, "data-finding=\"BOT_SETTING\"");
    assert!(setting.contains("moveworks-bot@acme.com"));
    assert!(setting.contains("<dt>expected</dt><dd>America/Danmarkshavn</dd>"));
    assert!(setting.contains("<dt>actual</dt><dd>Europe/Berlin</dd>"));
    let missing = row(&html, "data-finding=\"NOT_FOUND\"");
    assert!(
        !missing.contains("<dl"),
        "no expected/actual when both are null"
    );
    let system_wide = row(&html, "data-finding=\"SYSTEM_NOTE\"");
    assert!(system_wide.contains("—<span class=\"vh\">system-wide</span>"));
}

#[test]
fn a_report_without_findings_says_there_are_none() {
    let report = report_with(vec![snow_system()], vec![]);
    let html = render(&PageView {
        health: Health::Ok,
        report: Some(&report),
        ..starting()
    });
    assert!(html.contains("the last report has no finding"));
    assert!(!html.contains("data-severity="));
}

#[test]
fn every_entry_is_a_row_and_the_filter_is_labelled() {
    let report = report();
    let html = render(&PageView {
        health: Health::Ok,
        report: Some(&report),
        ..starting()
    });
    let tags = start_tags(&html);
    let rows: Vec<&Tag> = tags
        .iter()
        .filter(|t| attribute(t, "data-entry").is_some())
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|t| t.0 == "tr" && attribute(t, "hidden").is_none())
    );
    for id in [
        "moveworks.bot",
        "6816f79cc0a8016401c5a33be04be441",
        "moveworks.bot@acme.com.prod",
        "0055e000003MwBtAAK",
        "ada.lovelace",
    ] {
        assert!(html.contains(&format!("\">{id}</td>")), "{id}");
    }
    assert!(html.contains("<td class=\"id\" data-label=\"External ID\">moveworks.bot</td>"));
    let ada = row(&html, "data-entry=\"ada@acme.com");
    assert!(ada.contains("<td data-label=\"Kind\">manual</td>"));
    assert!(ada.contains("✖ not found"));
    assert!(
        ada.contains("not_found"),
        "the filter also matches the stored word"
    );
    assert!(
        ada.contains("<td class=\"id\" data-label=\"ITSM User ID\">—</td>"),
        "no ITSM User ID: {ada}"
    );

    let input = tags
        .iter()
        .find(|t| attribute(t, "id") == Some("filter"))
        .expect("the filter input");
    assert_eq!(input.0, "input");
    assert_eq!(attribute(input, "type"), Some("search"));
    let label = tags.iter().find(|t| t.0 == "label").expect("a label");
    assert_eq!(attribute(label, "for"), Some("filter"));
    assert!(html.contains("Every ITSM ID Info entry in the last report: 3</caption>"));
}

#[test]
fn a_degraded_page_shows_the_last_failure_escaped() {
    let failure = "reading config: <script>alert(1)</script> & more";
    let html = render(&PageView {
        health: Health::Degraded,
        last_failure: Some(failure),
        ..starting()
    });
    assert!(html.contains("Health: Degraded"));
    assert!(html.contains("class=\"banner bad\""));
    assert!(html.contains("Last failure"));
    assert!(
        html.contains(
            "<pre>reading config: &lt;script&gt;alert(1)&lt;/script&gt; &amp; more</pre>"
        )
    );
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );
}

#[test]
fn report_values_are_escaped_in_text_and_attributes() {
    let mut report = report();
    report["identities"][1]["entries"][0]["external_id"] = json!("\"><img src=x>");
    report["findings"][1]["message"] = json!("<b>bold</b>");
    let html = render(&PageView {
        report: Some(&report),
        ..starting()
    });
    assert!(!html.contains("<img"));
    assert!(!html.contains("<b>"));
    assert!(html.contains("&lt;b&gt;bold&lt;/b&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x&gt;"));
}

#[test]
fn a_run_in_progress_and_the_next_run_are_shown() {
    let html = render(&PageView {
        running: true,
        next_run_at: Some(ts("2026-12-06T20:27:33Z")),
        ..starting()
    });
    assert!(html.contains("a run is in progress"));
    assert!(html.contains("Next run due <time datetime=\"2026-12-06T20:27:33Z\">"));
    assert!(html.contains("(in 12 minutes)"));
}

#[test]
fn an_unavailable_system_shows_its_reason_and_detail() {
    let down = json!({
        "integration": "jira_hr", "system": "jira", "status": "unavailable", "api_requests": 1,
        "reason": "auth_failed", "credential_check": "unavailable", "credential_owner": null,
        "rate_limit_waits": 0, "detail": "GET /rest/api/3/myself answered 401",
        "readiness": "skipped", "readiness_detail": "the system could not be checked"
    });
    let report = report_with(vec![snow_system(), down], vec![]);
    let html = render(&PageView {
        report: Some(&report),
        ..starting()
    });
    assert_eq!(html.matches("<tr data-system=").count(), 2);
    let jira = row(&html, "data-system=\"jira_hr\"");
    assert!(jira.contains("✖ unavailable"), "{jira}");
    assert!(jira.contains("reason: auth_failed"));
    assert!(jira.contains("GET /rest/api/3/myself answered 401"));
    assert!(jira.contains("– skipped"));
    assert!(!jira.contains("as "), "no owner to show");
    let snow = row(&html, "data-system=\"snow\"");
    assert!(snow.contains("✔ ok"));
    assert!(!snow.contains("reason:"));
}

#[test]
fn readiness_problems_show_in_the_readiness_column() {
    let report = report();
    let html = render(&PageView {
        report: Some(&report),
        ..starting()
    });
    let snow = row(&html, "data-system=\"snow\"");
    let cells: Vec<&str> = snow.split("<td").skip(1).collect();
    assert_eq!(cells.len(), 7, "{snow}");
    assert!(cells[5].contains("⚠ problems"), "{}", cells[5]);
    assert!(cells[5].contains("the bot lacks a role"));
    assert!(cells[4].contains("✔ ok") && cells[4].contains("moveworks.bot"));
    assert!(cells[6].contains("—"), "no quota for ServiceNow");
}

#[test]
fn the_salesforce_row_shows_its_quota_credential_mismatch_and_waits() {
    let report = report();
    let html = render(&PageView {
        report: Some(&report),
        ..starting()
    });
    let salesforce = row(&html, "data-system=\"salesforce\"");
    assert!(salesforce.contains("3/15000 used"), "{salesforce}");
    assert!(salesforce.contains("14997 left"));
    assert!(salesforce.contains("✖ mismatch"));
    assert!(salesforce.contains("someone.else@acme.com"));
    assert!(salesforce.contains("2 rate-limit waits"));
}

#[test]
fn without_a_token_there_is_no_run_now_form() {
    let report = report();
    let last = last_run();
    let html = render(&PageView {
        health: Health::Ok,
        last_run: Some(&last),
        report: Some(&report),
        ..starting()
    });
    assert!(!html.contains("<form"));
    assert!(!html.contains("Run now"));
    assert!(!html.contains("csrf"));
}

#[test]
fn with_a_token_the_run_now_form_posts_it() {
    let html = render(&PageView {
        run_now: Some("tok123"),
        ..starting()
    });
    let tags = start_tags(&html);
    let forms: Vec<&Tag> = tags.iter().filter(|t| t.0 == "form").collect();
    assert_eq!(forms.len(), 1);
    assert_eq!(attribute(forms[0], "method"), Some("post"));
    assert_eq!(attribute(forms[0], "action"), Some("/api/v1/runs"));
    let hidden = tags
        .iter()
        .find(|t| attribute(t, "name") == Some("csrf"))
        .expect("the token field");
    assert_eq!(attribute(hidden, "type"), Some("hidden"));
    assert_eq!(attribute(hidden, "value"), Some("tok123"));
    assert!(html.contains("<button type=\"submit\">Run now</button>"));
    let form = &html[position(&html, "<form")..position(&html, "</form>")];
    assert!(form.contains("name=\"csrf\"") && form.contains("Run now"));
}

#[test]
fn the_policy_allows_exactly_the_page_script_and_style() {
    let hash = |text: &str| {
        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(digest)
    };
    let policy = content_security_policy();
    assert_eq!(
        policy,
        format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; \
             img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            hash(SCRIPT),
            hash(STYLE)
        )
    );
    assert_eq!(hash(SCRIPT).len(), 44, "a SHA-256 in standard base64");
    assert_ne!(hash(SCRIPT), hash(STYLE));
    assert_eq!(policy, content_security_policy(), "computed once");
}

#[test]
fn the_page_holds_the_script_and_style_exactly_once_and_verbatim() {
    let report = report();
    let runs = [run("2026-12-06T20:12:33Z", 1, 1)];
    let html = everything(&report, &runs, &last_run());
    assert_eq!(
        html.matches(&format!("<script>{SCRIPT}</script>")).count(),
        1
    );
    assert_eq!(html.matches(&format!("<style>{STYLE}</style>")).count(), 1);
    assert_eq!(html.matches("<script").count(), 1);
    assert_eq!(html.matches("<style").count(), 1);
    assert!(!html.contains(" src="), "no external asset");
    assert!(!html.contains("<link"), "no external style sheet");
    assert!(
        !SCRIPT.contains("</"),
        "the script cannot close its element"
    );
    assert!(!STYLE.contains("</"), "the style cannot close its element");
}

#[test]
fn no_element_has_an_inline_style_or_event_handler() {
    let report = report();
    let runs = [
        run("2026-12-06T19:12:33Z", 2, 0),
        run("2026-12-06T20:12:33Z", 1, 1),
    ];
    let html = everything(&report, &runs, &last_run());
    assert!(!html.contains("style=\""));
    let tags = start_tags(&html);
    assert!(tags.len() > 100, "the parser read the page: {}", tags.len());
    for (name, attributes) in &tags {
        for (attribute, _) in attributes {
            assert!(
                attribute != "style" && !attribute.starts_with("on"),
                "<{name} {attribute}>"
            );
        }
    }
}

#[test]
fn times_are_shown_in_utc_with_a_relative_time() {
    let last = last_run();
    let html = render(&PageView {
        last_run: Some(&last),
        ..starting()
    });
    assert!(html.contains(
        "Last run finished <time datetime=\"2026-12-06T20:12:33Z\">2026-12-06 20:12:33 UTC</time> \
         <span class=\"rel\">(3 minutes ago)</span>"
    ), "{html}");
    assert!(
        html.contains(
            "As of <time datetime=\"2026-12-06T20:15:33Z\">2026-12-06 20:15:33 UTC</time>"
        )
    );
}

#[test]
fn relative_times_read_as_a_person_says_them() {
    let now = ts(NOW);
    let at = |seconds: i64| Timestamp::from_second(now.as_second() + seconds).unwrap();
    let cases = [
        (0, "just now"),
        (-44, "just now"),
        (30, "just now"),
        (-60, "1 minute ago"),
        (-180, "3 minutes ago"),
        (720, "in 12 minutes"),
        (-3600, "1 hour ago"),
        (5 * 3600, "in 5 hours"),
        (-2 * 86_400, "2 days ago"),
        (86_400, "in 1 day"),
    ];
    for (seconds, expected) in cases {
        assert_eq!(relative(now, at(seconds)), expected, "{seconds} s");
    }
}

#[test]
fn the_chart_has_one_point_per_run() {
    for count in [1_usize, 2, 5] {
        let runs: Vec<RunRecord> = (0..count)
            .map(|i| run(&format!("2026-12-06T1{i}:00:00Z"), i as u64, 3))
            .collect();
        let html = render(&PageView {
            runs: &runs,
            loads: &[],
            ..starting()
        });
        let svg = &html[position(&html, "<svg")..position(&html, "</svg>")];
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-label=\"Errors and warnings in the last"));
        assert!(svg.contains("<title>Errors and warnings in the last"));
        assert_eq!(svg.matches("class=\"pt err\"").count(), count);
        assert_eq!(svg.matches("class=\"pt warn\"").count(), count);
        for series in ["errors", "warnings"] {
            let tags = start_tags(svg);
            let line = tags
                .iter()
                .find(|t| attribute(t, "class") == Some(&format!("series {series}")))
                .expect("the series line");
            let points = attribute(line, "points").unwrap();
            assert_eq!(points.split(' ').count(), count, "{points}");
        }
        assert!(
            svg.contains("stroke-dasharray=\"6 4\""),
            "warnings are dashed"
        );
        assert!(svg.contains("errors (solid line, circles)"));
        assert!(svg.contains("warnings (dashed line, squares)"));
        assert_eq!(html.matches("<tr data-run=").count(), count);
    }
}

#[test]
fn the_chart_puts_more_errors_higher() {
    let runs = [
        run("2026-12-06T18:00:00Z", 0, 0),
        run("2026-12-06T19:00:00Z", 4, 0),
    ];
    let html = render(&PageView {
        runs: &runs,
        loads: &[],
        ..starting()
    });
    let tags = start_tags(&html);
    let ys: Vec<f64> = tags
        .iter()
        .filter(|t| attribute(t, "class") == Some("pt err"))
        .map(|t| attribute(t, "cy").unwrap().parse().unwrap())
        .collect();
    assert_eq!(ys.len(), 2);
    assert!(ys[1] < ys[0], "SVG y grows downwards: {ys:?}");
    assert!(
        html.contains(">4</text>"),
        "the axis is labelled with the maximum"
    );
}

#[test]
fn the_runs_table_shows_loads_blocked_loads_and_no_load() {
    let mut blocked = run("2026-12-06T19:00:00Z", 0, 0);
    blocked.load = None;
    blocked.blocked = Some("3 of 12 users would be removed".to_owned());
    let mut failed = run("2026-12-06T20:00:00Z", 0, 0);
    failed.outcome = "failed".to_owned();
    failed.load = None;
    let runs = [run("2026-12-06T18:00:00Z", 2, 1), blocked, failed];
    let html = render(&PageView {
        runs: &runs,
        loads: &[],
        ..starting()
    });
    let loaded = row(&html, "data-run=\"2026-12-06T18:00:00Z\"");
    assert!(
        loaded.contains("12 users: 1 added, 0 removed, 2 changed"),
        "{loaded}"
    );
    assert!(loaded.contains("⚠ problems"));
    let held = row(&html, "data-run=\"2026-12-06T19:00:00Z\"");
    assert!(
        held.contains("blocked</span>: 3 of 12 users would be removed"),
        "{held}"
    );
    let none = row(&html, "data-run=\"2026-12-06T20:00:00Z\"");
    assert!(none.contains("not loaded"));
    assert!(none.contains("✖ failed"));
    assert!(none.contains("2026-12-06 20:00:00 UTC"));
    assert!(none.contains("(16 minutes ago)"), "{none}");
    let newest = position(&html, "data-run=\"2026-12-06T20:00:00Z\"");
    let oldest = position(&html, "data-run=\"2026-12-06T18:00:00Z\"");
    assert!(newest < oldest, "the table lists the newest run first");
}

#[test]
fn the_loads_the_store_keeps_are_listed_newest_first() {
    use crate::pipeline::store::Snapshot;
    let snapshot = |id: i64, users: u64, added: u64| Snapshot {
        id,
        loaded_at: format!("2026-12-0{id}T10:00:00Z"),
        users,
        added,
        removed: 0,
        changed: 1,
        unchanged: users - added - 1,
    };
    let loads = [snapshot(1, 10, 9), snapshot(2, 12, 2)];
    let html = render(&PageView {
        loads: &loads,
        ..starting()
    });
    let first = html.find("data-load=\"2\"").expect("the newest load");
    let second = html.find("data-load=\"1\"").expect("the first load");
    assert!(first < second, "newest first");
    assert!(html.contains("2026-12-02 10:00:00 UTC"), "{html}");
    assert!(render(&starting()).contains("No load is kept yet."));
}
