//! ServiceDesk Plus simulator: serves a fixture's user records through
//! `GET /api/v3/users` (on-premises) and `GET /app/<portal>/api/v3/users`
//! (Cloud) with the API's own `input_data` semantics (`list_info`,
//! `search_criteria` as an object or an array, `is`/`is not`/`contains`/
//! `starts with`/`ends with`, `value` or `values`, `logical_operator`,
//! `children`), `response_status` as an array, and the errors a real server
//! sends; one user by id for the readiness probe (`sim_readiness.rs`); plus
//! Zoho's `POST /oauth/v2/token` for Cloud's refresh tokens (`sim_token.rs`)
//! and an optional per-minute rate limit.
//!
//! Must never answer per test: every answer is computed from the fixture and
//! the request, so `demo`, `simulate` and the tests meet the same server.
//! Access tokens exist only once this server issued them, and with
//! `access_token_uses` in the fixture they expire after that many requests,
//! so a client's one refresh can be exercised without waiting an hour.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::sim::{Faults, InvalidSimData, SimCredentials, faulted, json_response, query_param};

/// Rows a page holds when `row_count` is not given.
const DEFAULT_ROW_COUNT: u64 = 10;

/// The most rows one page may ask for.
const MAX_ROW_COUNT: u64 = 100;

#[path = "sim_readiness.rs"]
mod readiness;

#[path = "sim_token.rs"]
mod token;

/// Zoho's token path (`https://accounts.zoho.<dc>/oauth/v2/token`).
pub const TOKEN_PATH: &str = "/oauth/v2/token";

/// A validated fixture: the users, the credentials, the optional limit.
#[derive(Debug, Clone)]
pub struct SimData {
    users: Vec<Map<String, Value>>,
    credentials: SimCredentials,
    rate_limit: Option<RateLimit>,
    access_token_uses: Option<u32>,
    user_details: readiness::UserDetails,
}

/// The file's shape: the list answer's `users` plus the simulator's own keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    users: Vec<Map<String, Value>>,
    #[serde(default)]
    simulator: SimCredentials,
    #[serde(default)]
    rate_limit: Option<RateLimit>,
    /// Requests an access token is good for; unlimited when absent.
    #[serde(default)]
    access_token_uses: Option<u32>,
    /// How `GET /api/v3/users/{id}` answers (see `sim_readiness.rs`).
    #[serde(default)]
    user_details: readiness::UserDetails,
}

/// A per-minute request limit on the users routes, as an admin's throttle
/// (on-premises) or Cloud's API limit sets one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests_per_minute: u32,
    /// How a request over the limit is answered.
    #[serde(default)]
    pub answer: RateLimitAnswer,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum RateLimitAnswer {
    /// HTTP 429 with status_code 4015 in the body.
    #[default]
    #[serde(rename = "http_429")]
    Http429,
    /// HTTP 200 with status_code 4015: only the body says so.
    #[serde(rename = "status_4015")]
    Status4015,
}

impl SimData {
    /// Parses a fixture, refusing what would make the simulator lie quietly:
    /// unknown keys, users without an id or with one that is not digits,
    /// repeated ids.
    pub fn parse(text: &str) -> Result<SimData, InvalidSimData> {
        let file: FixtureFile = serde_json::from_str(text).map_err(|err| {
            format!(
                "{err} (expected {{\"users\": [user records], \"simulator\": {{...}}, \
                 \"rate_limit\"?: {{\"requests_per_minute\": n}}}})"
            )
        })?;
        let mut seen = BTreeSet::new();
        for (index, user) in file.users.iter().enumerate() {
            let id = match user.get("id") {
                Some(Value::String(id)) => id.clone(),
                Some(Value::Number(id)) if id.is_u64() => id.to_string(),
                Some(_) => {
                    return Err(InvalidSimData(format!(
                        "users[{index}]: the id must be a string of digits such as \
                         \"123640000000142501\" (or a whole number)"
                    )));
                }
                None => {
                    return Err(InvalidSimData(format!(
                        "users[{index}] has no id: every user needs its id, a string of digits"
                    )));
                }
            };
            let canonical =
                super::parse_id(&id).map_err(|reason| format!("users[{index}]: {reason}"))?;
            if !seen.insert(canonical.clone()) {
                return Err(InvalidSimData(format!(
                    "users[{index}]: id {canonical} is used by an earlier user; give each \
                     user its own"
                )));
            }
        }
        if file
            .rate_limit
            .as_ref()
            .is_some_and(|limit| limit.requests_per_minute == 0)
        {
            return Err(InvalidSimData(
                "rate_limit.requests_per_minute is 0, which refuses every request; leave \
                 rate_limit out for no limit"
                    .into(),
            ));
        }
        Ok(SimData {
            users: file.users,
            credentials: file.simulator,
            rate_limit: file.rate_limit,
            access_token_uses: file.access_token_uses,
            user_details: file.user_details,
        })
    }
}

/// Mounts the users routes and the Zoho token endpoint on `server`.
pub async fn mount(server: &MockServer, data: SimData, faults: Faults) {
    let state = Arc::new(State {
        data,
        issued: Mutex::new(HashMap::new()),
        next_token: AtomicU64::new(1),
        window: Mutex::new(None),
    });
    Mock::given(method("GET"))
        .and(path_regex(r"^(/app/[^/]+)?/api/v3/users/?$"))
        .respond_with(UsersResponder {
            state: Arc::clone(&state),
            faults: faults.clone(),
        })
        .mount(server)
        .await;
    readiness::mount(server, Arc::clone(&state), faults.clone()).await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(token::TokenResponder { state, faults })
        .mount(server)
        .await;
}

/// What the responders share: the fixture, the access tokens issued so far,
/// and the current rate-limit window.
#[derive(Debug)]
struct State {
    data: SimData,
    /// Access token -> requests it is still good for (`None`: any number).
    issued: Mutex<HashMap<String, Option<u32>>>,
    next_token: AtomicU64,
    /// Start of the current minute and the requests counted in it.
    window: Mutex<Option<(Instant, u32)>>,
}

impl State {
    /// Whether the request carries an accepted authtoken or an access token
    /// this server issued. The authtoken is accepted as its own header and
    /// as `Authorization: authtoken: <key>`, the two forms ManageEngine's
    /// samples show. A recording's data accepts every request.
    fn authenticated(&self, request: &Request) -> bool {
        if self.data.credentials.any.is_some() {
            return true;
        }
        let known = |token: &str| {
            self.data
                .credentials
                .authtoken
                .iter()
                .any(|account| account.token == token.trim())
        };
        let header = |name: &str| {
            request
                .headers
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        if header("authtoken").iter().any(|token| known(token)) {
            return true;
        }
        header("authorization").iter().any(|value| {
            if let Some(token) = strip_prefix_ignore_case(value, "authtoken:") {
                return known(token);
            }
            if let Some(token) = strip_prefix_ignore_case(value, "Zoho-oauthtoken ") {
                let mut issued = self
                    .issued
                    .lock()
                    .expect("the token lock is never poisoned");
                return match issued.get_mut(token.trim()) {
                    None | Some(Some(0)) => false,
                    Some(None) => true,
                    Some(Some(left)) => {
                        *left -= 1;
                        true
                    }
                };
            }
            false
        })
    }

    /// The refusal every API route gives first: a bad key (4022), or the
    /// per-minute limit reached (4015, as 429 or in a 200 as configured).
    pub(super) fn refusal(&self, request: &Request) -> Option<ResponseTemplate> {
        if !self.authenticated(request) {
            return Some(Refusal::new(401, 4022, "Invalid API key received").template());
        }
        if !self.within_limit() {
            let status = match self.data.rate_limit.as_ref().map(|l| l.answer) {
                Some(RateLimitAnswer::Status4015) => 200,
                _ => 429,
            };
            return Some(Refusal::new(status, 4015, "API rate limit reached").template());
        }
        None
    }

    /// Counts a request against the per-minute limit; `false` when over it.
    fn within_limit(&self) -> bool {
        let Some(limit) = &self.data.rate_limit else {
            return true;
        };
        let mut window = self
            .window
            .lock()
            .expect("the window lock is never poisoned");
        let now = Instant::now();
        let (start, count) = match *window {
            Some((start, count)) if now.duration_since(start) < Duration::from_secs(60) => {
                (start, count + 1)
            }
            _ => (now, 1),
        };
        *window = Some((start, count));
        count <= limit.requests_per_minute
    }
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| value.get(prefix.len()..))
        .flatten()
}

/// A request the server refuses, kept small until it becomes an answer: a
/// failed `response_status` with 4000 on top and the specific code in the
/// message, as ServiceDesk Plus writes it.
#[derive(Debug)]
struct Refusal {
    http_status: u16,
    code: u64,
    field: Option<&'static str>,
    message: String,
}

impl Refusal {
    fn new(http_status: u16, code: u64, message: impl Into<String>) -> Refusal {
        Refusal {
            http_status,
            code,
            field: None,
            message: message.into(),
        }
    }

    fn template(&self) -> ResponseTemplate {
        let mut message =
            json!({ "status_code": self.code, "type": "failed", "message": self.message });
        if let (Some(field), Some(object)) = (self.field, message.as_object_mut()) {
            object.insert("field".into(), json!(field));
        }
        json_response(
            self.http_status,
            &json!({ "response_status": {
                "status_code": 4000,
                "messages": [message],
                "status": "failed"
            }}),
        )
    }
}

struct UsersResponder {
    state: Arc<State>,
    faults: Faults,
}

impl Respond for UsersResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        faulted(&self.faults, || self.answer(request))
    }
}

impl UsersResponder {
    fn answer(&self, request: &Request) -> ResponseTemplate {
        if let Some(refused) = self.state.refusal(request) {
            return refused;
        }
        match ListRequest::parse(request) {
            Ok(list) => list.answer(&self.state.data.users),
            Err(refused) => refused.template(),
        }
    }
}

/// A parsed `input_data`. `sort_field` and `sort_order` are not read: users
/// come in fixture order, which is stable from page to page.
#[derive(Debug)]
struct ListRequest {
    row_count: u64,
    start_index: u64,
    get_total_count: bool,
    criteria: Vec<Node>,
    /// Echoed in the answer's `list_info`, as the server does.
    search_criteria: Option<Value>,
}

impl ListRequest {
    fn parse(request: &Request) -> Result<ListRequest, Refusal> {
        let input = match query_param(request, "input_data") {
            None => Value::Object(Map::new()),
            Some(text) => match serde_json::from_str::<Value>(&text) {
                Ok(value @ Value::Object(_)) => value,
                _ => return Err(Refusal::new(400, 4000, "input_data is not a JSON object")),
            },
        };
        let list_info = match input.get("list_info") {
            None => Map::new(),
            Some(Value::Object(info)) => info.clone(),
            Some(_) => return Err(Refusal::new(400, 4021, "list_info must be an object")),
        };
        let number = |key: &str, default: u64| match list_info.get(key) {
            None => Ok(default),
            Some(value) => value
                .as_u64()
                .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
                .ok_or_else(|| Refusal::new(400, 4021, format!("{key} must be a whole number"))),
        };
        let row_count = number("row_count", DEFAULT_ROW_COUNT)?;
        if row_count == 0 || row_count > MAX_ROW_COUNT {
            return Err(Refusal {
                field: Some("row_count"),
                ..Refusal::new(
                    400,
                    4012,
                    format!("row_count must be between 1 and {MAX_ROW_COUNT}"),
                )
            });
        }
        let start_index = number("start_index", 1)?;
        if start_index == 0 {
            return Err(Refusal::new(400, 4000, "start_index starts at 1"));
        }
        let get_total_count = list_info
            .get("get_total_count")
            .is_some_and(|value| value.as_bool() == Some(true) || value.as_str() == Some("true"));
        let search_criteria = list_info.get("search_criteria").cloned();
        let criteria = match &search_criteria {
            None | Some(Value::Null) => Vec::new(),
            Some(value) => Node::parse_list(value)?,
        };
        Ok(ListRequest {
            row_count,
            start_index,
            get_total_count,
            criteria,
            search_criteria,
        })
    }

    fn answer(&self, users: &[Map<String, Value>]) -> ResponseTemplate {
        let matching: Vec<&Map<String, Value>> = users
            .iter()
            .filter(|user| Node::all_match(&self.criteria, user))
            .collect();
        let total = matching.len();
        let skip = usize::try_from(self.start_index - 1).unwrap_or(usize::MAX);
        let take = usize::try_from(self.row_count).unwrap_or(usize::MAX);
        let page: Vec<Value> = matching
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|user| Value::Object(user.clone()))
            .collect();
        let has_more_rows = skip.saturating_add(page.len()) < total;
        let mut list_info = json!({
            "has_more_rows": has_more_rows,
            "start_index": self.start_index,
            "row_count": page.len(),
        });
        if let Some(info) = list_info.as_object_mut() {
            if let Some(criteria) = &self.search_criteria {
                info.insert("search_criteria".into(), criteria.clone());
            }
            if self.get_total_count {
                info.insert("total_count".into(), json!(total));
            }
        }
        json_response(
            200,
            &json!({
                "response_status": [{ "status_code": 2000, "status": "success" }],
                "list_info": list_info,
                "users": page,
            }),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    Is,
    IsNot,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
}

impl Condition {
    fn parse(text: &str) -> Option<Condition> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "is" | "=" | "eq" => Condition::Is,
            "is not" | "!=" | "neq" => Condition::IsNot,
            "contains" | "like" => Condition::Contains,
            "not contains" | "not like" => Condition::NotContains,
            "starts with" => Condition::StartsWith,
            "ends with" => Condition::EndsWith,
            _ => return None,
        })
    }
}

/// One criterion and the children grouped with it; `or` is its
/// `logical_operator` towards what comes before it (AND when absent).
#[derive(Debug)]
struct Node {
    field: String,
    condition: Condition,
    values: Vec<String>,
    or: bool,
    children: Vec<Node>,
}

impl Node {
    fn parse_list(value: &Value) -> Result<Vec<Node>, Refusal> {
        match value {
            Value::Array(items) => items.iter().map(Node::parse).collect(),
            Value::Object(_) => Ok(vec![Node::parse(value)?]),
            _ => Err(Refusal::new(
                400,
                4021,
                "search_criteria must be an object or an array",
            )),
        }
    }

    fn parse(value: &Value) -> Result<Node, Refusal> {
        let object = value
            .as_object()
            .ok_or_else(|| Refusal::new(400, 4021, "each search criterion must be an object"))?;
        let field = object
            .get("field")
            .and_then(Value::as_str)
            .filter(|field| !field.trim().is_empty())
            .ok_or_else(|| Refusal::new(400, 4012, "field is mandatory in search_criteria"))?;
        let condition_text = object
            .get("condition")
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::new(400, 4012, "condition is mandatory in search_criteria"))?;
        let condition = Condition::parse(condition_text).ok_or_else(|| {
            Refusal::new(
                400,
                4000,
                format!("condition {condition_text:?} is not supported"),
            )
        })?;
        let values = match (object.get("values"), object.get("value")) {
            (Some(Value::Array(values)), _) => values.iter().map(value_text).collect(),
            (Some(_), _) => return Err(Refusal::new(400, 4021, "values must be an array")),
            (None, Some(value)) => vec![value_text(value)],
            (None, None) => {
                return Err(Refusal::new(
                    400,
                    4012,
                    "value or values is mandatory in search_criteria",
                ));
            }
        };
        let or = match object.get("logical_operator").and_then(Value::as_str) {
            None => false,
            Some(op) if op.eq_ignore_ascii_case("or") => true,
            Some(op) if op.eq_ignore_ascii_case("and") => false,
            Some(op) => {
                return Err(Refusal::new(
                    400,
                    4000,
                    format!("logical_operator {op:?} is neither AND nor OR"),
                ));
            }
        };
        let children = match object.get("children") {
            None | Some(Value::Null) => Vec::new(),
            Some(children) => Node::parse_list(children)?,
        };
        Ok(Node {
            field: field.to_owned(),
            condition,
            values,
            or,
            children,
        })
    }

    /// The list joined left to right by each node's operator; an empty
    /// list matches every user.
    fn all_match(nodes: &[Node], user: &Map<String, Value>) -> bool {
        let mut result: Option<bool> = None;
        for node in nodes {
            let value = node.matches(user);
            result = Some(match result {
                None => value,
                Some(before) if node.or => before || value,
                Some(before) => before && value,
            });
        }
        result.unwrap_or(true)
    }

    /// This criterion grouped with its children, as if in parentheses.
    fn matches(&self, user: &Map<String, Value>) -> bool {
        let own = self.own_match(user);
        self.children.iter().fold(own, |before, child| {
            let value = child.matches(user);
            if child.or {
                before || value
            } else {
                before && value
            }
        })
    }

    /// Case-insensitive, as the server compares text.
    fn own_match(&self, user: &Map<String, Value>) -> bool {
        let actual = field_text(user, &self.field).to_lowercase();
        let mut expected = self.values.iter().map(|value| value.to_lowercase());
        match self.condition {
            Condition::Is => expected.any(|value| actual == value),
            Condition::IsNot => expected.all(|value| actual != value),
            Condition::Contains => expected.any(|value| actual.contains(&value)),
            Condition::NotContains => expected.all(|value| !actual.contains(&value)),
            Condition::StartsWith => expected.any(|value| actual.starts_with(&value)),
            Condition::EndsWith => expected.any(|value| actual.ends_with(&value)),
        }
    }
}

/// A criterion value as text; null is the empty text an empty field has.
fn value_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A field's value as text for comparing; `department.name` follows the
/// object. Absent and null fields are empty.
fn field_text(user: &Map<String, Value>, field: &str) -> String {
    let mut parts = field.split('.');
    let Some(first) = parts.next() else {
        return String::new();
    };
    let mut current = user.get(first);
    for part in parts {
        current = current.and_then(|value| value.get(part));
    }
    current.map(value_text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<Map<String, Value>> {
        let data = SimData::parse(
            r#"{"users":[
                {"id":"1","email_id":"pat@acme.com","name":"Pat Lee","status":"ACTIVE","department":{"name":"IT"}},
                {"id":"2","email_id":"Beth.Anglin@acme.com","name":"Beth Anglin","status":"INACTIVE","department":{"name":"HR"}},
                {"id":3,"email_id":null,"name":"No Mail","status":"ACTIVE"}
            ]}"#,
        )
        .expect("a valid fixture");
        data.users
    }

    fn ids(criteria: Value) -> Vec<String> {
        let nodes = Node::parse_list(&criteria).expect("valid criteria");
        users()
            .iter()
            .filter(|user| Node::all_match(&nodes, user))
            .map(|user| field_text(user, "id"))
            .collect()
    }

    #[test]
    fn criteria_compare_without_case_and_take_many_values() {
        assert_eq!(
            ids(
                json!({"field":"email_id","condition":"is","values":["PAT@acme.com","beth.anglin@ACME.com"]})
            ),
            ["1", "2"]
        );
        assert_eq!(
            ids(json!([{"field":"email_id","condition":"is","value":"pat@acme.com"}])),
            ["1"]
        );
        assert_eq!(
            ids(json!({"field":"email_id","condition":"is not","values":["pat@acme.com"]})),
            ["2", "3"]
        );
        assert_eq!(
            ids(json!({"field":"name","condition":"contains","value":"ANG"})),
            ["2"]
        );
        assert_eq!(
            ids(json!({"field":"name","condition":"starts with","value":"no"})),
            ["3"]
        );
        assert_eq!(
            ids(json!({"field":"department.name","condition":"is","value":"hr"})),
            ["2"]
        );
        assert_eq!(
            ids(json!({"field":"id","condition":"is","values":["3"]})),
            ["3"]
        );
    }

    #[test]
    fn logical_operators_and_children_combine_criteria() {
        assert_eq!(
            ids(json!([
                {"field":"status","condition":"is","value":"ACTIVE"},
                {"field":"name","condition":"contains","value":"Beth","logical_operator":"OR"}
            ])),
            ["1", "2", "3"]
        );
        assert_eq!(
            ids(json!([
                {"field":"status","condition":"is","value":"ACTIVE"},
                {"field":"name","condition":"contains","value":"Pat","logical_operator":"AND"}
            ])),
            ["1"]
        );
        assert_eq!(
            ids(
                json!({"field":"status","condition":"is","value":"INACTIVE","children":[
                    {"field":"email_id","condition":"is","value":"pat@acme.com","logical_operator":"OR"}
                ]})
            ),
            ["1", "2"]
        );
    }

    #[test]
    fn a_value_with_quotes_matches_only_itself() {
        assert!(
            ids(
                json!({"field":"email_id","condition":"is","values":["x\",\"condition\":\"is not"]})
            )
            .is_empty()
        );
    }

    #[test]
    fn fixtures_without_ids_or_with_unknown_keys_are_refused() {
        let missing = SimData::parse(r#"{"users":[{"email_id":"x"}]}"#).expect_err("no id");
        assert!(
            missing.to_string().contains("users[0] has no id"),
            "{missing}"
        );
        let letters = SimData::parse(r#"{"users":[{"id":"abc"}]}"#).expect_err("not digits");
        assert!(letters.to_string().contains("users[0]"), "{letters}");
        let unknown = SimData::parse(r#"{"users":[],"result":[]}"#).expect_err("unknown key");
        assert!(unknown.to_string().contains("result"), "{unknown}");
        let twice = SimData::parse(r#"{"users":[{"id":"7"},{"id":7}]}"#).expect_err("twice");
        assert!(twice.to_string().contains("users[1]"), "{twice}");
        let zero = SimData::parse(r#"{"users":[],"rate_limit":{"requests_per_minute":0}}"#)
            .expect_err("no requests at all");
        assert!(zero.to_string().contains("requests_per_minute"), "{zero}");
    }

    #[test]
    fn the_demo_fixture_parses() {
        let text = include_str!("../../../fixtures/manageengine.json");
        let data = SimData::parse(text).expect("the demo fixture is valid");
        assert_eq!(data.users.len(), 7);
        assert_eq!(data.credentials.authtoken.len(), 1);
        assert_eq!(data.credentials.zoho_oauth.len(), 1);
    }
}
