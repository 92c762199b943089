//! Salesforce's JSON as it comes over the wire: the query answer
//! (`totalSize`, `done`, `nextRecordsUrl`, `records`), the error array
//! `[{"message","errorCode"}]`, the OAuth `userinfo` answer, and the
//! `Sforce-Limit-Info` header.
//!
//! Private to the connector and never trusted: a record may lack any field
//! (unselected or unreadable fields are absent or `null`), so every accessor
//! returns an `Option` and nothing here panics on what a server sent.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// One page of a query answer. `records` that is not a list fails to
/// decode, which the caller reports as a bad response rather than "no users".
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct QueryPage {
    #[serde(default)]
    pub total_size: Option<u64>,
    pub done: bool,
    #[serde(default)]
    pub next_records_url: Option<String>,
    pub records: Vec<Record>,
}

/// One record, kept as a map: the lookup field is chosen in the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub(super) struct Record(BTreeMap<String, Value>);

impl Record {
    /// The field's text, or `None` when absent, `null`, empty or not text.
    pub fn text(&self, field: &str) -> Option<&str> {
        match self.0.get(field)? {
            Value::String(text) if !text.is_empty() => Some(text),
            _ => None,
        }
    }

    /// A boolean field (`IsActive`); `None` when absent or not a boolean.
    pub fn flag(&self, field: &str) -> Option<bool> {
        self.0.get(field)?.as_bool()
    }
}

/// One element of Salesforce's error array.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ApiError {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_code: Option<String>,
}

/// The error codes of an error body, if it is Salesforce's array.
pub(super) fn error_codes(body: &[u8]) -> Vec<ApiError> {
    serde_json::from_slice::<Vec<ApiError>>(body).unwrap_or_default()
}

/// `GET /services/oauth2/userinfo`: the OpenID Connect answer about the
/// token's user. Only the fields a check reads.
#[derive(Debug, Deserialize)]
pub(super) struct UserInfo {
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub user_type: Option<String>,
}

/// `api-usage=18/5000` from `Sforce-Limit-Info` (other parts, such as
/// `per-app-api-usage=...`, are skipped): the requests used and the daily
/// allowance.
pub(super) fn api_usage(header: &str) -> Option<(u64, u64)> {
    header.split([';', ',']).find_map(|part| {
        let (name, value) = part.trim().split_once('=')?;
        if name.trim() != "api-usage" {
            return None;
        }
        let (used, limit) = value.trim().split_once('/')?;
        Some((used.trim().parse().ok()?, limit.trim().parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_reads_the_reference_sample() {
        // Salesforce's own sample answer (resources_query.htm).
        let page: QueryPage = serde_json::from_str(
            r#"{"totalSize": 3222, "done": false,
                "nextRecordsUrl": "/services/data/v60.0/query/01gRO0000016PIAYA2-500",
                "records": [{"attributes": {"type": "Contact",
                    "url": "/services/data/v60.0/sobjects/Contact/003RO0000035WQgYAM"},
                    "Id": "003RO0000035WQgYAM", "Name": "John Smith"}]}"#,
        )
        .expect("the vendor sample decodes");
        assert!(!page.done);
        assert_eq!(page.total_size, Some(3222));
        assert_eq!(
            page.next_records_url.as_deref(),
            Some("/services/data/v60.0/query/01gRO0000016PIAYA2-500")
        );
        assert_eq!(
            page.records.first().and_then(|r| r.text("Id")),
            Some("003RO0000035WQgYAM")
        );
    }

    #[test]
    fn values_read_as_text_flags_or_nothing() {
        let record: Record =
            serde_json::from_str(r#"{"Id":"x","FirstName":null,"Name":"","IsActive":false}"#)
                .expect("a record");
        assert_eq!(record.text("Id"), Some("x"));
        assert_eq!(record.text("FirstName"), None);
        assert_eq!(record.text("Name"), None);
        assert_eq!(record.flag("IsActive"), Some(false));
        assert_eq!(record.flag("Id"), None);
    }

    #[test]
    fn error_arrays_are_read_and_other_bodies_give_nothing() {
        let errors = error_codes(
            br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
        );
        assert_eq!(
            errors.first().and_then(|e| e.error_code.as_deref()),
            Some("INVALID_SESSION_ID")
        );
        assert!(error_codes(b"<h1>Bad Message 414</h1>").is_empty());
        assert!(error_codes(br#"{"error":"invalid_client"}"#).is_empty());
    }

    #[test]
    fn api_usage_is_read_from_the_limit_header() {
        assert_eq!(api_usage("api-usage=18/5000"), Some((18, 5000)));
        assert_eq!(
            api_usage("api-usage=25/5000; per-app-api-usage=17/250(appName=sample)"),
            Some((25, 5000))
        );
        assert_eq!(api_usage("per-app-api-usage=17/250"), None);
        assert_eq!(api_usage("api-usage=x/5000"), None);
    }
}
