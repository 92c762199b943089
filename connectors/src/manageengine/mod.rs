//! ManageEngine ServiceDesk Plus connector (API v3, on-premises and Cloud):
//! looks users up in `GET /api/v3/users` with one `search_criteria` entry
//! holding many values (`id` for stored ITSM User IDs, `email_id` or the
//! configured field for External IDs), page by page while `has_more_rows`.
//!
//! Never trusts the server's filter: every returned record is checked
//! against the keys again (ids exactly, External IDs without regard to
//! case). Never reads an id through a float (Cloud ids have 18 digits),
//! never sends the same request twice in one call, and never asks who the
//! credentials belong to: SPEC section 5 leaves ManageEngine unchecked. A
//! value too long for the request limit is refused, never a reason to give
//! the system up (see [`crate::batches`]). Bot readiness (is the bot a
//! technician) is in `readiness.rs`.

pub mod query;
mod readiness;
pub mod recording;
pub mod sim;
mod wire;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use reqwest::Method;
use serde_json::Value;

use crate::batches::Batches;
use crate::http::{Reply, RequestSpec, Verdict};
use crate::{
    Connector, ConnectorError, ConnectorSettings, CredentialOwner, ExternalId, HttpClient,
    InvalidItsmUserId, ItsmUser, ItsmUserId, Lookup, LookupKey, Lookups, Readiness, ReadinessInput,
    ReadinessSettings, System, UnsafeValue,
};
use query::ROW_COUNT;
use wire::{Record, ResponseStatus, Status, UserList};

/// The users list; on Cloud the base URL carries `/app/<portal>` before it.
const USERS_PATH: &str = "/api/v3/users";

/// The media type API v3 answers to (manageengine.com sdpop-v3-api pages).
pub const ACCEPT_V3: &str = "application/vnd.manageengine.sdp.v3+json";

/// `status_code`s of `response_status` (ManageEngine's error-handling page).
const RATE_LIMITED: u64 = 4015;
const INVALID_KEY: u64 = 4022;
const FORBIDDEN: u64 = 4002;

/// The `record_kind` of a user, from its `is_technician`.
const TECHNICIAN: &str = "technician";
const REQUESTER: &str = "requester";

/// The ServiceDesk Plus connector.
pub struct Client {
    http: HttpClient,
    /// The field that holds the External ID (`lookup_by`), checked to be a
    /// plain field name.
    lookup_field: String,
    /// `[connectors.readiness]`.
    readiness: ReadinessSettings,
}

impl Client {
    pub fn new(settings: ConnectorSettings) -> Result<Client, ConnectorError> {
        let lookup_field = settings.lookup_field.trim().to_owned();
        if !query::is_field_name(&lookup_field) {
            return Err(ConnectorError::Setup {
                integration: settings.integration,
                detail: format!(
                    "lookup_by = {:?} is not a ServiceDesk Plus user field: use lower-case \
                     letters, digits and `_` only, e.g. \"email_id\" or \"login_name\"",
                    settings.lookup_field
                ),
            });
        }
        let http = HttpClient::new(
            settings.integration,
            settings.base_url,
            settings.credentials,
            settings.http,
        )?
        .with_classifier(classify)
        .with_max_request_line(System::ManageEngine.max_request_line());
        Ok(Client {
            http,
            lookup_field,
            readiness: settings.readiness,
        })
    }

    /// The request for one page of users whose `field` is any of `values`.
    fn page_request(&self, field: &str, values: &[&str], start_index: usize) -> RequestSpec {
        RequestSpec::get(self.http.endpoint(USERS_PATH))
            .header("accept", ACCEPT_V3)
            .query("input_data", query::input_data(field, values, start_index))
    }

    /// `values` cut into batches whose URLs stay short (see [`query::batches`]).
    fn batches<'a>(&self, field: &str, values: &[&'a str]) -> Vec<Vec<&'a str>> {
        let prefix = self.http.endpoint(USERS_PATH).as_str().len() + "?input_data=".len();
        query::batches(prefix, field, values)
    }

    /// Reads every batch of `values` for `field` into `answers`, halving a
    /// batch the server finds too large. `by_id` stops a batch of ids once
    /// every id came back. Returns the values refused as too long, each
    /// with its reason.
    async fn read_batches<'a>(
        &self,
        field: &str,
        values: &[&'a str],
        by_id: bool,
        answers: &mut Answers,
    ) -> Result<HashMap<&'a str, UnsafeValue>, ConnectorError> {
        let mut batches = Batches::new(System::ManageEngine, self.batches(field, values));
        while let Some(batch) = batches.next_batch() {
            let fetched = self
                .fetch(field, &batch, |records| {
                    by_id && all_ids_present(&batch, records)
                })
                .await;
            match fetched {
                Ok(records) => answers.add(records),
                Err(error) => batches.failed(batch, error)?,
            }
        }
        Ok(batches.into_refused().into_iter().collect())
    }

    /// Every record one criterion returns, page by page while the server
    /// says more rows follow. `settled` stops early once the records read
    /// answer every value (ids are unique). Pages advance by the rows
    /// received, so a server that caps `row_count` lower leaves no gap.
    async fn fetch(
        &self,
        field: &str,
        values: &[&str],
        settled: impl Fn(&[Record]) -> bool,
    ) -> Result<Vec<Record>, ConnectorError> {
        // Room for shared e-mail addresses; a criterion the server ignored
        // would page through the whole directory instead.
        let max_pages = 2 * values.len().div_ceil(ROW_COUNT) + 3;
        let mut records = Vec::new();
        let mut start_index = 1;
        for _ in 0..max_pages {
            let reply = self
                .http
                .send(&self.page_request(field, values, start_index))
                .await?;
            let list: UserList = reply.json(self.http.integration())?;
            let users = match list.users {
                Some(users) => users,
                // An answer that says success but lists nobody.
                None if list.response_status.is_some() => Vec::new(),
                None => {
                    return Err(self.bad_response(
                        &reply,
                        "the answer has neither `users` nor `response_status`: check that \
                         base_url is the ServiceDesk Plus address (with /app/<portal> on Cloud)"
                            .into(),
                    ));
                }
            };
            let received = users.len();
            let more = list
                .list_info
                .and_then(|info| info.has_more_rows())
                .unwrap_or(received >= ROW_COUNT);
            records.extend(users);
            if !more || settled(&records) {
                return Ok(records);
            }
            if received == 0 {
                return Err(
                    self.bad_response(&reply, "a page with no users says more rows follow".into())
                );
            }
            start_index += received;
        }
        Err(ConnectorError::BadResponse {
            integration: self.http.integration().clone(),
            method: Method::GET,
            path: self.http.endpoint(USERS_PATH).path().to_owned(),
            detail: format!(
                "a search for {} values still had more rows after {max_pages} pages; the \
                 server may have ignored search_criteria (check lookup_by)",
                values.len()
            ),
        })
    }

    fn bad_response(&self, reply: &Reply, detail: String) -> ConnectorError {
        ConnectorError::BadResponse {
            integration: self.http.integration().clone(),
            method: reply.method.clone(),
            path: reply.path.clone(),
            detail,
        }
    }
}

/// Checks and canonicalises a stored ServiceDesk Plus user id: digits only,
/// kept as a string (Cloud ids have 18 digits, more than a double holds),
/// leading zeros dropped so that ids compare exactly.
pub fn parse_id(value: &str) -> Result<ItsmUserId, InvalidItsmUserId> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(
            "the id is empty; a ServiceDesk Plus user id is a string of digits, e.g. \
             \"123640000000142582\"",
        ));
    }
    if let Some(bad) = value.chars().find(|c| !c.is_ascii_digit()) {
        return Err(invalid(format!(
            "the id contains {bad:?}; a ServiceDesk Plus user id has only the digits 0-9"
        )));
    }
    let digits = value.trim_start_matches('0');
    let canonical = if digits.is_empty() { "0" } else { digits };
    if canonical.len() > 19 {
        return Err(invalid(format!(
            "the id has {} digits; a ServiceDesk Plus user id has at most 19",
            canonical.len()
        )));
    }
    Ok(ItsmUserId::new(canonical))
}

/// An id this system's format refuses, with the reason the administrator reads.
fn invalid(why: impl Into<String>) -> InvalidItsmUserId {
    InvalidItsmUserId::new(System::ManageEngine, why)
}

/// Reads `response_status` before the HTTP status decides: ServiceDesk Plus
/// reports a refused key or a rate limit in the body, sometimes with 200.
/// Also reads a Zoho token endpoint's `{"error": ...}`, which may come with
/// 200 too.
fn classify(reply: &Reply) -> Option<Verdict> {
    let body: Value = serde_json::from_slice(&reply.body).ok()?;
    if readiness::is_one_user_path(&reply.path) {
        // The readiness probe reads a refusal there itself (4002, 4007):
        // it must never stop the system. Only a rate limit is retried.
        let status = ResponseStatus::read(&body)?;
        return status
            .has(RATE_LIMITED)
            .then_some(Verdict::RateLimited(None));
    }
    if let Some(verdict) = zoho_token_error(&body) {
        return Some(verdict);
    }
    let status = ResponseStatus::read(&body)?;
    let message = || {
        let codes: Vec<String> = status.codes.iter().map(u64::to_string).collect();
        format!(
            "ServiceDesk Plus status {}: {}",
            codes.join("/"),
            status.message.as_deref().unwrap_or("no message")
        )
    };
    if status.has(RATE_LIMITED) {
        return Some(Verdict::RateLimited(None));
    }
    if status.has(INVALID_KEY) || status.has(FORBIDDEN) {
        return Some(Verdict::AuthFailed(message()));
    }
    let code = reply.status.as_u16();
    if code == 429 || code >= 500 {
        return None; // retried as any 429 or 5xx is
    }
    if code == 401 || code == 403 {
        return None; // refused credentials, whatever the code in the body
    }
    let failed = status.failed || status.codes.iter().any(|&code| code >= 4000);
    failed.then(|| Verdict::BadResponse(message()))
}

/// A Zoho accounts answer without a token: `invalid_code` (a revoked refresh
/// token), `invalid_client`, or "too many requests", which retrying within
/// the run only makes worse.
fn zoho_token_error(body: &Value) -> Option<Verdict> {
    let object = body.as_object()?;
    if object.contains_key("access_token") || object.contains_key("response_status") {
        return None;
    }
    let error = object.get("error")?.as_str()?;
    let description = object
        .get("error_description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let text = format!("Zoho token endpoint: {error} {description}");
    if text.to_ascii_lowercase().contains("too many requests") {
        return Some(Verdict::QuotaExhausted(text.trim().to_owned()));
    }
    Some(Verdict::AuthFailed(text.trim().to_owned()))
}

/// Converts a record to the domain's user. `None` without a usable id.
fn to_user(record: &Record, lookup_field: &str) -> Option<ItsmUser> {
    let itsm_user_id = record.id()?;
    // A record that says nothing about its status is not evidence of an
    // inactive account: only what the system calls inactive is reported so.
    let (active, inactive_reason) = match record.status() {
        Status::Active | Status::Unknown => (true, None),
        Status::Inactive(word) if word.eq_ignore_ascii_case("INACTIVE") => (false, None),
        Status::Inactive(word) => (false, Some(format!("status is {word}"))),
    };
    Some(ItsmUser {
        itsm_user_id,
        external_id: record.text(lookup_field).map(ExternalId::new),
        active,
        first_name: record.text("first_name"),
        last_name: record.text("last_name"),
        full_name: record.text("name"),
        account_type: None,
        time_zone: None,
        inactive_reason,
        record_kind: record
            .is_technician()
            .map(|technician| if technician { TECHNICIAN } else { REQUESTER }.to_owned()),
    })
}

/// The key an External ID is indexed and deduplicated by; agrees with
/// [`ExternalId::matches`].
fn folded(value: &str) -> String {
    value.trim().to_ascii_lowercase()
}

/// Every record one `lookup` call read, indexed for re-checking the keys.
struct Answers {
    lookup_field: String,
    index: crate::answers::Answers,
    /// Folded External IDs of records without a usable id.
    without_id: HashSet<String>,
    records: usize,
    records_with_field: usize,
}

impl Answers {
    fn new(lookup_field: &str) -> Self {
        Answers {
            lookup_field: lookup_field.to_owned(),
            index: crate::answers::Answers::default(),
            without_id: HashSet::new(),
            records: 0,
            records_with_field: 0,
        }
    }

    fn add(&mut self, records: Vec<Record>) {
        for record in records {
            self.records += 1;
            if record.has(&self.lookup_field) {
                self.records_with_field += 1;
            }
            let external = record.text(&self.lookup_field).map(|text| folded(&text));
            match to_user(&record, &self.lookup_field) {
                Some(user) => self.index.add(user),
                None => {
                    tracing::warn!("ServiceDesk Plus returned a user record without a usable id");
                    if let Some(external) = external {
                        self.without_id.insert(external);
                    }
                }
            }
        }
    }

    fn for_id(&self, id: &ItsmUserId) -> Lookup {
        self.index.for_id(id)
    }

    fn for_external_id(&self, external_id: &ExternalId) -> Lookup {
        match self.index.for_external_id(external_id) {
            Lookup::NotFound { .. } => Lookup::NotFound {
                note: self.not_found_note(&folded(external_id.as_str())),
            },
            settled => settled,
        }
    }

    fn not_found_note(&self, key: &str) -> Option<String> {
        if self.without_id.contains(key) {
            return Some(
                "a user with this value came back without a readable id: check the \
                 technician's permission to view users"
                    .into(),
            );
        }
        if self.records > 0 && self.records_with_field == 0 {
            return Some(format!(
                "ServiceDesk Plus returned users without the field `{}`: check lookup_by",
                self.lookup_field
            ));
        }
        None
    }
}

impl Connector for Client {
    /// Whether the bot is a technician (see `readiness.rs`): no request
    /// where the lookups already said.
    async fn readiness(&self, input: &ReadinessInput) -> Readiness {
        readiness::probe(self, input).await
    }

    async fn lookup(&self, keys: &[LookupKey]) -> Result<Lookups, ConnectorError> {
        let keys: BTreeSet<&LookupKey> = keys.iter().collect();
        let mut lookups = Lookups::default();
        let mut ids: BTreeSet<ItsmUserId> = BTreeSet::new();
        // Folded value -> value sent: `Pat@acme.com` and `pat@acme.com` are
        // one value in one request.
        let mut values: BTreeMap<String, &str> = BTreeMap::new();
        for key in &keys {
            match key {
                LookupKey::ItsmUserId(id) => match parse_id(id.as_str()) {
                    Ok(id) => {
                        ids.insert(id);
                    }
                    Err(reason) => lookups.insert((*key).clone(), Lookup::unsendable_id(&reason)),
                },
                LookupKey::ExternalId(external_id) => match query::sendable(external_id.as_str()) {
                    Ok(value) => {
                        values.entry(folded(value)).or_insert(value);
                    }
                    Err(refused) => lookups.insert((*key).clone(), Lookup::Refused(refused)),
                },
            }
        }

        let mut answers = Answers::new(&self.lookup_field);
        let id_values: Vec<&str> = ids.iter().map(ItsmUserId::as_str).collect();
        let refused_ids = self
            .read_batches("id", &id_values, true, &mut answers)
            .await?;
        let sent: Vec<&str> = values.values().copied().collect();
        let refused_values = self
            .read_batches(&self.lookup_field, &sent, false, &mut answers)
            .await?;

        for key in keys {
            if lookups.get(key).is_some() {
                continue;
            }
            let outcome = match key {
                LookupKey::ItsmUserId(id) => match parse_id(id.as_str()) {
                    Ok(id) => match refused_ids.get(id.as_str()) {
                        Some(refusal) => Lookup::Refused(refusal.clone()),
                        None => answers.for_id(&id),
                    },
                    Err(_) => continue, // refused above
                },
                LookupKey::ExternalId(external_id) => {
                    let refused = values
                        .get(&folded(external_id.as_str()))
                        .and_then(|value| refused_values.get(value));
                    match refused {
                        Some(refusal) => Lookup::Refused(refusal.clone()),
                        None => answers.for_external_id(external_id),
                    }
                }
            };
            lookups.insert(key.clone(), outcome);
        }
        Ok(lookups)
    }

    /// ServiceDesk Plus has no "who am I" for an authtoken or a Zoho token
    /// that itsmid relies on (SPEC section 5): no request is spent.
    async fn whoami(&self) -> Result<CredentialOwner, ConnectorError> {
        Ok(CredentialOwner::Unknown)
    }

    fn http(&self) -> &HttpClient {
        &self.http
    }
}

/// Whether every id of a batch is among `records`: an id is unique, so no
/// further page can add anything.
fn all_ids_present(batch: &[&str], records: &[Record]) -> bool {
    let found: HashSet<ItsmUserId> = records.iter().filter_map(Record::id).collect();
    batch.iter().all(|id| found.contains(&ItsmUserId::new(*id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    #[test]
    fn ids_are_digits_kept_as_strings() {
        assert_eq!(
            parse_id(" 123640000000142582 "),
            Ok(ItsmUserId::new("123640000000142582"))
        );
        assert_eq!(parse_id("0003"), Ok(ItsmUserId::new("3")));
        assert_eq!(parse_id("0"), Ok(ItsmUserId::new("0")));
        for bad in ["", "12a", "-3", "1.5", "1e18", "12345678901234567890"] {
            let message = parse_id(bad).expect_err(bad).to_string();
            assert!(message.contains("ServiceDesk Plus"), "{message}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_digit_string_is_an_id_without_its_leading_zeros(
            zeros in "0{0,3}", digits in "[1-9][0-9]{0,17}"
        ) {
            let id = parse_id(&format!("{zeros}{digits}"));
            proptest::prop_assert_eq!(id, Ok(ItsmUserId::new(digits)));
        }

        #[test]
        fn any_id_with_something_other_than_digits_is_refused(
            before in "[0-9]{0,9}", bad in "[^0-9\\s]", after in "[0-9]{0,9}"
        ) {
            let value = format!("{before}{bad}{after}");
            proptest::prop_assert!(parse_id(&value).is_err());
        }
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).expect("a valid status"),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            method: Method::GET,
            path: USERS_PATH.into(),
        }
    }

    #[test]
    fn the_classifier_reads_status_codes_in_the_body() {
        let limited = r#"{"response_status":{"status_code":4000,"status":"failed","messages":[{"status_code":4015,"type":"failed","message":"API rate limit reached"}]}}"#;
        assert_eq!(
            classify(&reply(200, limited)),
            Some(Verdict::RateLimited(None))
        );
        assert_eq!(
            classify(&reply(429, limited)),
            Some(Verdict::RateLimited(None))
        );
        let key = r#"{"response_status":{"status_code":4022,"status":"failed","messages":[{"message":"Invalid API Key"}]}}"#;
        assert!(matches!(
            classify(&reply(401, key)),
            Some(Verdict::AuthFailed(_))
        ));
        let forbidden = r#"{"response_status":{"status_code":4002,"status":"failed"}}"#;
        assert!(matches!(
            classify(&reply(403, forbidden)),
            Some(Verdict::AuthFailed(_))
        ));
        let missing = r#"{"response_status":{"status_code":4007,"status":"failed","messages":[{"message":"Invalid URL"}]}}"#;
        match classify(&reply(404, missing)) {
            Some(Verdict::BadResponse(detail)) => assert!(detail.contains("Invalid URL")),
            other => panic!("expected BadResponse, got {other:?}"),
        }
        let other_401 = r#"{"response_status":{"status_code":4000,"status":"failed","messages":[{"status_code":4001,"type":"failed"}]}}"#;
        assert_eq!(
            classify(&reply(401, other_401)),
            None,
            "the status code refuses the credentials"
        );
        let internal = r#"{"response_status":{"status_code":4004,"status":"failed"}}"#;
        assert_eq!(classify(&reply(500, internal)), None, "5xx is retried");
        let fine = r#"{"response_status":[{"status_code":2000,"status":"success"}],"users":[]}"#;
        assert_eq!(classify(&reply(200, fine)), None);
        assert_eq!(classify(&reply(200, "<html></html>")), None);
    }

    #[test]
    fn the_classifier_leaves_the_readiness_probe_s_refusals_to_the_probe() {
        let at = |status: u16, body: &str| Reply {
            path: "/app/itdesk/api/v3/users/123640000000142501".into(),
            ..reply(status, body)
        };
        let forbidden = r#"{"response_status":{"status_code":4000,"status":"failed","messages":[{"status_code":4002,"type":"failed"}]}}"#;
        assert_eq!(classify(&at(403, forbidden)), None);
        assert_eq!(classify(&at(200, forbidden)), None);
        let missing = r#"{"response_status":{"status_code":4007,"status":"failed"}}"#;
        assert_eq!(classify(&at(404, missing)), None);
        let key = r#"{"response_status":{"status_code":4022,"status":"failed"}}"#;
        assert_eq!(classify(&at(401, key)), None);
        let limited = r#"{"response_status":{"status_code":4000,"status":"failed","messages":[{"status_code":4015}]}}"#;
        assert_eq!(
            classify(&at(429, limited)),
            Some(Verdict::RateLimited(None))
        );
        assert_eq!(classify(&at(200, r#"{"error":"invalid_code"}"#)), None);
    }

    #[test]
    fn the_classifier_reads_zoho_token_errors() {
        assert!(matches!(
            classify(&reply(400, r#"{"error":"invalid_code"}"#)),
            Some(Verdict::AuthFailed(_))
        ));
        assert!(matches!(
            classify(&reply(200, r#"{"error":"invalid_client"}"#)),
            Some(Verdict::AuthFailed(_))
        ));
        let busy = r#"{"error_description":"You have made too many requests continuously. Please try again after some time.","error":"Access Denied","status":"failure"}"#;
        assert!(matches!(
            classify(&reply(400, busy)),
            Some(Verdict::QuotaExhausted(_))
        ));
        let token = r#"{"access_token":"x","api_domain":"https://www.zohoapis.com","token_type":"Bearer","expires_in":3600}"#;
        assert_eq!(classify(&reply(200, token)), None);
    }
}
