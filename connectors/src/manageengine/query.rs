//! ServiceDesk Plus `input_data`: the JSON document a users list request
//! carries in its query string, with one `search_criteria` entry that holds
//! many values (`"condition":"is","values":[...]`), and the batching that
//! keeps each request's URL short.
//!
//! Must never build JSON by splicing text: every value goes through
//! serde_json, so a `"` or `\` in an e-mail address stays inside its string
//! and cannot add a criterion. The only values refused are those no login
//! holds (empty, or with control characters).

use serde::Serialize;

use crate::UnsafeValue;

/// Rows per page: the most ServiceDesk Plus returns in one answer.
pub const ROW_COUNT: usize = 100;

/// Proxies in front of an instance refuse long URLs (414) at limits nobody
/// documents; about 8 KB is common, so stay well below.
pub const MAX_URL_BYTES: usize = 6_000;

/// Values in one criterion at most: two pages' worth. The server's own
/// limit on `values` is not published; ids that are not found cost one
/// request per 200, found ones one per page of 100 either way.
pub const MAX_VALUES: usize = 2 * ROW_COUNT;

/// The `start_index` used when measuring a batch, so that later pages'
/// larger numbers still fit the URL budget.
const WIDEST_START_INDEX: usize = 9_999_999;

#[derive(Serialize)]
struct InputData<'a> {
    list_info: ListInfo<'a>,
}

#[derive(Serialize)]
struct ListInfo<'a> {
    row_count: usize,
    start_index: usize,
    get_total_count: bool,
    search_criteria: [Criterion<'a>; 1],
}

#[derive(Serialize)]
struct Criterion<'a> {
    field: &'a str,
    condition: &'static str,
    values: &'a [&'a str],
}

/// `input_data` for one page of users whose `field` is any of `values`
/// (`start_index` is 1-based).
pub fn input_data(field: &str, values: &[&str], start_index: usize) -> String {
    let document = InputData {
        list_info: ListInfo {
            row_count: ROW_COUNT,
            start_index,
            get_total_count: true,
            search_criteria: [Criterion {
                field,
                condition: "is",
                values,
            }],
        },
    };
    serde_json::to_string(&document)
        .expect("a document of strings, numbers and booleans always serializes")
}

/// The form of a value that is sent, or why it is not sent. Surrounding
/// blanks are never part of a login, and [`crate::ExternalId::matches`]
/// ignores them too.
pub fn sendable(value: &str) -> Result<&str, UnsafeValue> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(UnsafeValue {
            reason: "the value is empty, so there is nothing to look up".into(),
        });
    }
    if value.chars().any(char::is_control) {
        return Err(UnsafeValue {
            reason: "the value contains a control character (a line break, a tab, ...), which \
                     no login holds; it was not sent"
                .into(),
        });
    }
    Ok(trimmed)
}

/// Whether `field` may name a user field: lower-case letters, digits and
/// `_`, as ServiceDesk Plus spells them (`email_id`, `login_name`,
/// `employee_id`).
pub fn is_field_name(field: &str) -> bool {
    !field.is_empty()
        && field
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Cuts `values` into criteria whose whole request URL (`url_prefix` is the
/// endpoint with `?input_data=`) stays under [`MAX_URL_BYTES`], with at
/// most [`MAX_VALUES`] each. A batch cut by the URL budget keeps a multiple
/// of [`ROW_COUNT`] values where it can, so found users fill whole pages. A
/// value too long for any batch still goes, alone.
pub fn batches<'a>(url_prefix: usize, field: &str, values: &[&'a str]) -> Vec<Vec<&'a str>> {
    let fixed = url_prefix + encoded_len(&input_data(field, &[], WIDEST_START_INDEX));
    let budget = MAX_URL_BYTES.saturating_sub(fixed);
    let comma = encoded_len(",");
    let mut out = Vec::new();
    let mut rest = values;
    while !rest.is_empty() {
        let mut length = 0;
        let mut taken = 0;
        for value in rest.iter().take(MAX_VALUES) {
            let cost = json_len(value) + if taken == 0 { 0 } else { comma };
            if taken > 0 && length + cost > budget {
                break;
            }
            length += cost;
            taken += 1;
        }
        if taken > ROW_COUNT && taken < rest.len() {
            taken -= taken % ROW_COUNT;
        }
        let (batch, remaining) = rest.split_at(taken.max(1).min(rest.len()));
        out.push(batch.to_vec());
        rest = remaining;
    }
    out
}

/// Bytes a value takes in the encoded URL: its JSON string, form-encoded.
fn json_len(value: &str) -> usize {
    let json = serde_json::to_string(value).expect("a string always serializes");
    encoded_len(&json)
}

pub use crate::http::encoded_len;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn input_data_has_one_criterion_with_every_value() {
        assert_eq!(
            input_data("email_id", &["a@x.com", "b@x.com"], 1),
            r#"{"list_info":{"row_count":100,"start_index":1,"get_total_count":true,"search_criteria":[{"field":"email_id","condition":"is","values":["a@x.com","b@x.com"]}]}}"#
        );
    }

    #[test]
    fn quotes_and_backslashes_stay_inside_their_string() {
        let text = input_data("email_id", &[r#"x","condition":"is not"#, r"a\b"], 101);
        let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let criteria = &parsed["list_info"]["search_criteria"];
        assert_eq!(criteria.as_array().map(Vec::len), Some(1));
        assert_eq!(criteria[0]["condition"], "is");
        assert_eq!(criteria[0]["values"][0], r#"x","condition":"is not"#);
        assert_eq!(criteria[0]["values"][1], r"a\b");
        assert_eq!(parsed["list_info"]["start_index"], 101);
    }

    #[test]
    fn empty_values_and_control_characters_are_refused() {
        for bad in ["", "   ", "pat@acme.com\n", "pat\t@acme.com"] {
            assert!(sendable(bad).is_err(), "{bad:?}");
        }
        assert_eq!(sendable("  Pat@Acme.com "), Ok("Pat@Acme.com"));
    }

    #[test]
    fn field_names_are_lower_case_words() {
        assert!(is_field_name("email_id"));
        assert!(is_field_name("login_name"));
        assert!(!is_field_name(""));
        assert!(!is_field_name("Email_id"));
        assert!(!is_field_name("department.name"));
        assert!(!is_field_name("email_id\",\"x"));
    }

    #[test]
    fn batches_fill_whole_pages_and_stay_under_the_url_budget() {
        let ids: Vec<String> = (0..1_000u64)
            .map(|n| (123_640_000_000_000_000 + n).to_string())
            .collect();
        let values: Vec<&str> = ids.iter().map(String::as_str).collect();
        let cut = batches(60, "id", &values);
        assert_eq!(cut.len(), 5);
        assert!(cut.iter().all(|batch| batch.len() == MAX_VALUES));

        let emails: Vec<String> = (0..1_000)
            .map(|n| format!("someone.with.a.long.name{n}@example.com"))
            .collect();
        let values: Vec<&str> = emails.iter().map(String::as_str).collect();
        let cut = batches(60, "email_id", &values);
        assert_eq!(cut.len(), 10, "about 110 such e-mails fit; 100 are kept");
        assert!(cut.iter().all(|batch| batch.len() == ROW_COUNT));
    }

    #[test]
    fn a_value_longer_than_the_budget_goes_alone() {
        let long = "x".repeat(7_000);
        let values = ["a@x.com", long.as_str(), "b@x.com"];
        let cut = batches(60, "email_id", &values);
        assert_eq!(
            cut,
            vec![vec!["a@x.com"], vec![long.as_str()], vec!["b@x.com"]]
        );
    }

    proptest! {
        #[test]
        fn any_printable_value_is_sent_trimmed(value in "[^\\p{Cc}]*[^\\p{Cc}\\s]") {
            prop_assert_eq!(sendable(&value), Ok(value.trim()));
        }

        #[test]
        fn any_value_with_a_control_character_is_refused(
            before in ".*", bad in "\\p{Cc}", after in ".*"
        ) {
            let value = format!("{before}{bad}{after}");
            prop_assert!(sendable(&value).is_err());
        }

        #[test]
        fn any_value_round_trips_as_one_json_string(value in ".*") {
            let text = input_data("email_id", &[value.as_str()], 1);
            let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
            let criteria = &parsed["list_info"]["search_criteria"];
            prop_assert_eq!(criteria.as_array().map(Vec::len), Some(1));
            prop_assert_eq!(criteria[0]["values"].as_array().map(Vec::len), Some(1));
            prop_assert_eq!(criteria[0]["values"][0].as_str(), Some(value.as_str()));
        }

        #[test]
        fn every_value_is_in_exactly_one_batch_in_order(
            values in proptest::collection::vec("[a-z0-9@.\"\\\\]{1,60}", 0..600)
        ) {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            let cut = batches(80, "email_id", &refs);
            let joined: Vec<&str> = cut.iter().flatten().copied().collect();
            prop_assert_eq!(joined, refs);
            for batch in &cut {
                prop_assert!(!batch.is_empty() && batch.len() <= MAX_VALUES);
                let url = 80 + encoded_len(&input_data("email_id", batch, WIDEST_START_INDEX));
                prop_assert!(url <= MAX_URL_BYTES, "{} bytes", url);
            }
        }
    }
}
