//! Salesforce simulator: serves fixture `User` records through the REST
//! query resource with Salesforce's semantics: the SOQL subset the connector
//! sends (`SELECT ... FROM User WHERE <field> IN (...)` or `= '...'`, with
//! SOQL's escapes), case-insensitive matching, 15- or 18-character Ids,
//! `nextRecordsUrl` paging, the daily API quota with `Sforce-Limit-Info`,
//! the client-credentials and JWT bearer (`sim_jwt`) token endpoint,
//! `userinfo` and the sObject describe (`sim_describe`). A recording's data
//! (`simulator.any`) issues tokens to any client and any assertion, and
//! answers every request as the recorded credentials' owner. A request
//! line past 16,384 bytes gets 414 from the front `crate::sim` puts before
//! every system. `demo`, `simulate` and the tests all use it.
//!
//! Never answers from canned per-test responses and never changes the
//! fixture: each answer is computed from the data and the request.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::id::parse_id;
use super::sim_describe::Objects;
use super::sim_soql::Soql;
use crate::sim::{Faults, InvalidSimData, SimCredentials, json_response, with_delay};

/// Rows per page unless the fixture says otherwise (Salesforce's default).
const DEFAULT_BATCH_SIZE: usize = 2_000;

/// Daily API requests unless the fixture says otherwise (Developer Edition).
const DEFAULT_DAILY_LIMIT: u64 = 15_000;

/// Open query cursors kept; the oldest is dropped past this, as Salesforce
/// limits open cursors per user. Keeps a long-lived simulator's memory flat.
const MAX_CURSORS: usize = 50;

/// Query locators look like Salesforce's (`01g...`), then a number.
const CURSOR_PREFIX: &str = "01gSIM";

/// The fixture file: `records` in the query answer's own shape, the
/// credentials, and optional limits.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    records: Vec<Map<String, Value>>,
    #[serde(default)]
    simulator: SimCredentials,
    /// Rows per query page.
    #[serde(default)]
    batch_size: Option<usize>,
    /// API requests allowed before 403 `REQUEST_LIMIT_EXCEEDED`.
    #[serde(default)]
    daily_api_limit: Option<u64>,
    /// Objects the describe knows besides (or instead of) the standard
    /// ones, as Describe Global lists them (`sim_describe`).
    #[serde(default)]
    sobjects: Vec<Map<String, Value>>,
}

/// Validated simulator data.
#[derive(Debug, Clone)]
pub struct SimData {
    records: Vec<Map<String, Value>>,
    credentials: SimCredentials,
    batch_size: usize,
    daily_limit: u64,
    objects: Objects,
    /// Every field some record has, plus the standard ones the connector
    /// reads and those the `User` describe entry lists: a query naming
    /// another field is refused.
    columns: BTreeSet<String>,
}

impl SimData {
    /// Parses a fixture, refusing what would make the simulator lie quietly:
    /// unknown keys, records without a valid 18-character Id, repeated Ids.
    pub fn parse(text: &str) -> Result<SimData, InvalidSimData> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let file: FixtureFile = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
            format!(
                "at `{}`: {} (expected {{\"records\": [User records], \"simulator\": {{...}}}})",
                err.path(),
                err.inner()
            )
        })?;
        let mut seen = BTreeSet::new();
        let mut columns: BTreeSet<String> = super::query::FIELDS
            .iter()
            .map(|field| field.to_ascii_lowercase())
            .collect();
        for (index, record) in file.records.iter().enumerate() {
            let id = match record.get("Id") {
                Some(Value::String(id)) if id.len() == 18 => id,
                _ => {
                    return Err(InvalidSimData(format!(
                        "records[{index}] has no 18-character Id: every User record needs its \
                         Id as a string of 18 letters and digits"
                    )));
                }
            };
            let canonical = parse_id(id).map_err(|why| format!("records[{index}]: {why}"))?;
            if !seen.insert(canonical.clone()) {
                return Err(InvalidSimData(format!(
                    "records[{index}]: Id {canonical} is used by an earlier record; give each \
                     record its own"
                )));
            }
            columns.extend(
                record
                    .keys()
                    .filter(|key| *key != "attributes")
                    .map(|key| key.to_ascii_lowercase()),
            );
        }
        let credentials = &file.simulator;
        let users = credentials
            .basic
            .iter()
            .map(|a| ("basic", &a.user))
            .chain(credentials.bearer.iter().map(|a| ("bearer", &a.user)))
            .chain(
                credentials
                    .oauth_clients
                    .iter()
                    .map(|c| ("oauth_clients", &c.user)),
            )
            .chain(
                credentials
                    .jwt_clients
                    .iter()
                    .map(|c| ("jwt_clients", &c.user)),
            );
        for (kind, user) in users {
            let Some(user) = user else { continue };
            let known = parse_id(user).is_ok_and(|id| seen.contains(&id));
            if !known {
                return Err(InvalidSimData(format!(
                    "simulator.{kind}: user {user:?} is not the Id of any record; name the Id of \
                     the User the credential logs in as"
                )));
            }
        }
        super::sim_jwt::check_clients(&credentials.jwt_clients)?;
        let batch_size = file.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        if batch_size == 0 {
            return Err(InvalidSimData(
                "batch_size is 0; a page holds at least one record".into(),
            ));
        }
        let objects = Objects::build(file.sobjects)?;
        columns.extend(
            objects
                .field_names("User")
                .iter()
                .map(|field| field.to_ascii_lowercase()),
        );
        Ok(SimData {
            records: file.records,
            credentials: file.simulator,
            batch_size,
            daily_limit: file.daily_api_limit.unwrap_or(DEFAULT_DAILY_LIMIT),
            objects,
            columns,
        })
    }
}

/// What the simulator remembers between requests.
#[derive(Debug, Default)]
struct State {
    /// Access tokens issued by the token endpoint -> the user they act as.
    tokens: HashMap<String, Option<String>>,
    issued: u64,
    /// API requests (under `/services/data/`) counted against the daily
    /// limit; token and userinfo requests are OAuth, not API, requests.
    api_usage: u64,
    /// Query locators -> every row of the query, projected.
    cursors: BTreeMap<u64, Vec<Value>>,
    opened: u64,
}

struct Simulator {
    data: SimData,
    faults: Faults,
    /// The simulator's own address: the token answer's `instance_url`.
    uri: String,
    state: Mutex<State>,
}

/// Mounts the token, query and userinfo routes on `server`.
pub async fn mount(server: &MockServer, data: SimData, faults: Faults) {
    let simulator = Arc::new(Simulator {
        data,
        faults,
        uri: server.uri(),
        state: Mutex::new(State::default()),
    });
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(Route(simulator.clone(), Simulator::token))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/services/oauth2/userinfo"))
        .respond_with(Route(simulator.clone(), Simulator::userinfo))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/services/data/"))
        .respond_with(Route(simulator, Simulator::data_api))
        .mount(server)
        .await;
}

/// One route: the faults first, then the simulator's answer.
struct Route(Arc<Simulator>, fn(&Simulator, &Request) -> ResponseTemplate);

impl Respond for Route {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let Route(simulator, answer) = self;
        let template = match simulator.faults.intercept() {
            Some(forced) => forced,
            None => answer(simulator, request),
        };
        with_delay(&simulator.faults, template)
    }
}

fn errors(status: u16, code: &str, message: &str) -> ResponseTemplate {
    json_response(status, &json!([{ "message": message, "errorCode": code }]))
}

impl Simulator {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("the state lock is never poisoned: no code panics under it")
    }

    /// `POST /services/oauth2/token` with `grant_type=client_credentials`
    /// (the client in the form or in a basic-auth header, as clients send
    /// it) or the JWT bearer grant (`sim_jwt`).
    fn token(&self, request: &Request) -> ResponseTemplate {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        if let Some(any) = &self.data.credentials.any {
            return self.any_grant(form.get("grant_type").map(String::as_str), &any.user);
        }
        if form.get("grant_type").map(String::as_str) == Some(super::sim_jwt::JWT_BEARER_GRANT) {
            let clients = &self.data.credentials.jwt_clients;
            return match super::sim_jwt::grant(clients, &form, &self.uri) {
                Ok(client) => self.issue(client.user.clone()),
                Err((error, description)) => json_response(
                    400,
                    &json!({"error": error, "error_description": description}),
                ),
            };
        }
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return unsupported_grant();
        }
        let (client_id, client_secret) = match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => basic_client(request).unwrap_or_default(),
        };
        let client = self
            .data
            .credentials
            .oauth_clients
            .iter()
            .find(|c| c.client_id == client_id && c.client_secret == client_secret);
        let Some(client) = client else {
            return json_response(
                400,
                &json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
            );
        };
        self.issue(client.user.clone())
    }

    /// A recording's grant: any client and any assertion, whose signature
    /// is not checked (a replay sends placeholders and cannot sign), get a
    /// token acting as the recorded credentials' owner.
    fn any_grant(&self, grant_type: Option<&str>, user: &Option<String>) -> ResponseTemplate {
        match grant_type {
            Some("client_credentials") | Some(super::sim_jwt::JWT_BEARER_GRANT) => {
                self.issue(user.clone())
            }
            _ => unsupported_grant(),
        }
    }

    /// A new access token acting as `user`, in Salesforce's token answer.
    fn issue(&self, user: Option<String>) -> ResponseTemplate {
        let mut state = self.state();
        state.issued += 1;
        let token = format!("00DSIM0000000000001!sim.access.{:06}", state.issued);
        state.tokens.insert(token.clone(), user.clone());
        let user = user.unwrap_or_default();
        json_response(
            200,
            &json!({
                "access_token": token,
                "signature": format!("sim-signature-{}", state.issued),
                "scope": "api",
                "instance_url": self.uri,
                "id": format!("{}/id/00DSIM0000000000001/{user}", self.uri),
                "token_type": "Bearer",
                "issued_at": "1764151200000",
            }),
        )
    }

    /// The user a request's bearer token acts as (`Some(None)` for a
    /// token that names nobody); `None` when the token is not known.
    fn caller(&self, request: &Request) -> Option<Option<String>> {
        if let Some(crate::sim::Caller::Bearer { user }) =
            self.data.credentials.authenticate(request)
        {
            return Some(user);
        }
        let header = request.headers.get("authorization")?.to_str().ok()?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("OAuth "))?
            .trim();
        self.state().tokens.get(token).cloned()
    }

    fn record_by_id(&self, id: &str) -> Option<&Map<String, Value>> {
        let wanted = parse_id(id).ok()?;
        self.data.records.iter().find(|record| {
            record
                .get("Id")
                .and_then(Value::as_str)
                .and_then(|id| parse_id(id).ok())
                .is_some_and(|id| id == wanted)
        })
    }

    /// `GET /services/oauth2/userinfo`: the token's user, as OpenID Connect
    /// user info.
    fn userinfo(&self, request: &Request) -> ResponseTemplate {
        let Some(user) = self.caller(request) else {
            return session_expired();
        };
        let Some(record) = user.as_deref().and_then(|id| self.record_by_id(id)) else {
            return errors(404, "NOT_FOUND", "The requested resource does not exist");
        };
        let text = |field: &str| record.get(field).cloned().unwrap_or(Value::Null);
        let id = text("Id");
        let body = json!({
            "sub": format!("{}/id/00DSIM0000000000001/{}", self.uri, id.as_str().unwrap_or_default()),
            "user_id": id,
            "organization_id": "00DSIM0000000000001",
            "preferred_username": text("Username"),
            "nickname": text("Alias"),
            "name": text("Name"),
            "email": text("Email"),
            "email_verified": true,
            "given_name": text("FirstName"),
            "family_name": text("LastName"),
            "zoneinfo": "America/Los_Angeles",
            "active": record.get("IsActive").and_then(Value::as_bool).unwrap_or(true),
            "user_type": record
                .get("UserType")
                .and_then(Value::as_str)
                .unwrap_or("Standard")
                .to_ascii_uppercase(),
            "language": "en_US",
            "locale": "en_US",
        });
        json_response(200, &body)
    }

    /// Everything under `/services/data/`: the quota, the session, then the
    /// query or its next page.
    fn data_api(&self, request: &Request) -> ResponseTemplate {
        let answer = if self.caller(request).is_none() {
            session_expired()
        } else if self.count_request() {
            self.route_data(request)
        } else {
            errors(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            )
        };
        let used = self.state().api_usage;
        let limit = self.data.daily_limit;
        answer.insert_header(
            "sforce-limit-info",
            format!("api-usage={used}/{limit}").as_str(),
        )
    }

    /// Counts one API request against the daily limit; `false` when the
    /// limit is already reached.
    fn count_request(&self) -> bool {
        let mut state = self.state();
        if state.api_usage >= self.data.daily_limit {
            return false;
        }
        state.api_usage += 1;
        true
    }

    fn route_data(&self, request: &Request) -> ResponseTemplate {
        let path = request.url.path().trim_end_matches('/');
        let Some((version, rest)) = path
            .strip_prefix("/services/data/v")
            .and_then(|rest| rest.split_once('/'))
        else {
            return not_found();
        };
        if !is_version(version) {
            return not_found();
        }
        if let Some(object) = rest.strip_prefix("sobjects/") {
            return self.data.objects.answer(version, object);
        }
        match rest.strip_prefix("query") {
            Some("") => self.query(request, version),
            Some(locator) => match locator.strip_prefix('/') {
                Some(locator) => self.next_page(version, locator),
                None => not_found(),
            },
            None => not_found(),
        }
    }

    fn query(&self, request: &Request, version: &str) -> ResponseTemplate {
        let Some(soql) = crate::sim::query_param(request, "q") else {
            return errors(400, "MALFORMED_QUERY", "The query parameter q is missing");
        };
        let parsed = match Soql::parse(&soql) {
            Ok(parsed) => parsed,
            Err(why) => return errors(400, "MALFORMED_QUERY", &why),
        };
        for field in parsed.fields.iter().chain([&parsed.filter_field]) {
            if !self.data.columns.contains(&field.to_ascii_lowercase()) {
                return errors(
                    400,
                    "INVALID_FIELD",
                    &format!("No such column '{field}' on entity 'User'."),
                );
            }
        }
        let is_id = parsed.filter_field.eq_ignore_ascii_case("Id");
        let mut wanted: Vec<String> = Vec::new();
        for value in &parsed.values {
            if is_id {
                match parse_id(value) {
                    Ok(id) => wanted.push(id.into_string()),
                    Err(_) => {
                        return errors(
                            400,
                            "INVALID_QUERY_FILTER_OPERATOR",
                            &format!("invalid ID field: {value}"),
                        );
                    }
                }
            } else {
                wanted.push(value.to_lowercase());
            }
        }
        let rows: Vec<Value> = self
            .data
            .records
            .iter()
            .filter(|record| {
                let actual = field_value(record, &parsed.filter_field);
                if is_id {
                    parse_id(&actual).is_ok_and(|id| wanted.iter().any(|w| w == id.as_str()))
                } else {
                    wanted.contains(&actual.to_lowercase())
                }
            })
            .map(|record| project(record, &parsed.fields, version))
            .collect();
        self.page(rows, 0, version, None)
    }

    fn next_page(&self, version: &str, locator: &str) -> ResponseTemplate {
        let Some((cursor, offset)) = locator.rsplit_once('-') else {
            return errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
        };
        let Ok(offset) = offset.parse::<usize>() else {
            return errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
        };
        let rows = cursor
            .strip_prefix(CURSOR_PREFIX)
            .and_then(|number| number.parse::<u64>().ok())
            .and_then(|number| self.state().cursors.get(&number).cloned());
        match rows {
            Some(rows) if offset < rows.len() => {
                self.page(rows, offset, version, Some(cursor.to_owned()))
            }
            _ => errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator"),
        }
    }

    /// One batch of `rows` from `offset`, with `nextRecordsUrl` when more
    /// follow.
    fn page(
        &self,
        rows: Vec<Value>,
        offset: usize,
        version: &str,
        cursor: Option<String>,
    ) -> ResponseTemplate {
        let total = rows.len();
        let end = offset.saturating_add(self.data.batch_size).min(total);
        let records: Vec<Value> = rows.get(offset..end).unwrap_or_default().to_vec();
        let mut body = json!({ "totalSize": total, "done": end >= total, "records": records });
        if end < total {
            let cursor = cursor.unwrap_or_else(|| {
                let mut state = self.state();
                state.opened += 1;
                let number = state.opened;
                state.cursors.insert(number, rows);
                while state.cursors.len() > MAX_CURSORS {
                    state.cursors.pop_first();
                }
                format!("{CURSOR_PREFIX}{number:012}")
            });
            if let Some(object) = body.as_object_mut() {
                object.insert(
                    "nextRecordsUrl".into(),
                    json!(format!("/services/data/v{version}/query/{cursor}-{end}")),
                );
            }
        }
        json_response(200, &body)
    }
}

fn unsupported_grant() -> ResponseTemplate {
    json_response(
        400,
        &json!({"error": "unsupported_grant_type", "error_description": "grant type not supported"}),
    )
}

fn session_expired() -> ResponseTemplate {
    errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
}

fn not_found() -> ResponseTemplate {
    errors(404, "NOT_FOUND", "The requested resource does not exist")
}

/// `60.0`: digits, a dot, digits.
fn is_version(version: &str) -> bool {
    version.split_once('.').is_some_and(|(major, minor)| {
        !major.is_empty()
            && !minor.is_empty()
            && major.bytes().all(|b| b.is_ascii_digit())
            && minor.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The client id and secret of a basic-auth header.
fn basic_client(request: &Request) -> Option<(String, String)> {
    use base64::Engine;
    let header = request.headers.get("authorization")?.to_str().ok()?;
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// A field's value as SOQL compares it (field names are case-insensitive).
fn field_value(record: &Map<String, Value>, field: &str) -> String {
    let value = record
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(field))
        .map(|(_, value)| value);
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// The record as a query returns it: `attributes`, then the selected
/// fields under their API names, `null` where the record has no value.
fn project(record: &Map<String, Value>, fields: &[String], version: &str) -> Value {
    let id = record.get("Id").and_then(Value::as_str).unwrap_or_default();
    let mut row = Map::new();
    row.insert(
        "attributes".into(),
        json!({"type": "User", "url": format!("/services/data/v{version}/sobjects/User/{id}")}),
    );
    for field in fields {
        let (name, value) = record
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(field))
            .map_or((field.clone(), Value::Null), |(key, value)| {
                (key.clone(), value.clone())
            });
        row.insert(name, value);
    }
    Value::Object(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_without_valid_ids_or_with_unknown_keys_are_refused() {
        let missing = SimData::parse(r#"{"records":[{"Username":"x"}]}"#).expect_err("no Id");
        assert!(
            missing
                .to_string()
                .contains("records[0] has no 18-character Id"),
            "{missing}"
        );
        let fifteen = SimData::parse(r#"{"records":[{"Id":"001D000000IRFma"}]}"#)
            .expect_err("a 15-character Id");
        assert!(fifteen.to_string().contains("18-character"), "{fifteen}");
        let checksum = SimData::parse(r#"{"records":[{"Id":"001D000000IRFmaIAB"}]}"#)
            .expect_err("a wrong checksum");
        assert!(checksum.to_string().contains("checksum"), "{checksum}");
        let stranger = SimData::parse(
            r#"{"records":[],"simulator":{"bearer":[{"token":"t","user":"001D000000IRFmaIAH"}]}}"#,
        )
        .expect_err("a credential of nobody");
        assert!(
            stranger.to_string().contains("simulator.bearer"),
            "{stranger}"
        );
        let unknown = SimData::parse(r#"{"records":[],"users":[]}"#).expect_err("unknown key");
        assert!(unknown.to_string().contains("users"), "{unknown}");
    }

    #[test]
    fn the_demo_fixture_parses() {
        let text = include_str!("../../../fixtures/salesforce.json");
        let data = SimData::parse(text).expect("the demo fixture is valid");
        assert_eq!(data.records.len(), 5);
        assert_eq!(data.credentials.oauth_clients.len(), 2);
    }
}
