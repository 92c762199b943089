//! Freshservice simulator: serves a fixture's requesters and agents through
//! API v2 with the service's own semantics: quoted filter queries
//! (`field:'value'`, `AND`/`OR`, parentheses, `~[field]:'prefix'`, 512
//! characters, 30 a page, pages 1-40), plain `email=` parameters, `per_page`
//! listings with `Link` headers, single records, `agents/me` (with the agent
//! fields readiness reads, see `sim_readiness.rs`), API-key auth, and a
//! per-minute rate limit with its `X-Ratelimit-*` headers.
//!
//! Must never answer per test: every answer is computed from the fixture and
//! the request. A `'` inside a filter value ends the string, as the service
//! has no escape, so an unescaped quote is the lexical error it would be.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::query::MAX_QUERY_CHARS;
use crate::sim::{Faults, InvalidSimData, SimCredentials, json_response, query_param, with_delay};

/// Enterprise plan's requests per minute, unless the fixture says otherwise.
const DEFAULT_RATE_LIMIT: u32 = 500;
const FILTER_PAGE_SIZE: usize = 30;
const MAX_FILTER_PAGE: usize = 40;
const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;
const WINDOW: Duration = Duration::from_secs(60);

#[path = "sim_readiness.rs"]
mod readiness;

type Object = Map<String, Value>;

/// A validated fixture: both user lists and the keys the simulator accepts.
#[derive(Debug, Clone)]
pub struct SimData {
    requesters: Vec<Object>,
    agents: Vec<Object>,
    credentials: SimCredentials,
    rate_limit_per_minute: u32,
}

/// The file's shape: each list in the API's own record shape, plus the
/// credentials (`basic` accounts whose `username` is an API key).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    #[serde(default)]
    requesters: Vec<Object>,
    #[serde(default)]
    agents: Vec<Object>,
    #[serde(default)]
    simulator: SimCredentials,
    #[serde(default)]
    simulator_rate_limit_per_minute: Option<u32>,
}

impl SimData {
    /// Parses a fixture, refusing unknown keys, records without a numeric
    /// `id` and ids used twice in one list.
    pub fn parse(text: &str) -> Result<SimData, InvalidSimData> {
        let file: FixtureFile = serde_json::from_str(text).map_err(|err| {
            format!(
                "{err} (expected {{\"requesters\": [...], \"agents\": [...], \"simulator\": {{...}}}})"
            )
        })?;
        for (name, records) in [("requesters", &file.requesters), ("agents", &file.agents)] {
            let mut seen = BTreeSet::new();
            for (index, record) in records.iter().enumerate() {
                let Some(id) = record.get("id").and_then(Value::as_u64) else {
                    return Err(InvalidSimData(format!(
                        "{name}[{index}] has no id: every record needs its numeric `id`"
                    )));
                };
                if !seen.insert(id) {
                    return Err(InvalidSimData(format!(
                        "{name}[{index}]: id {id} is used by an earlier record; give each its own"
                    )));
                }
            }
        }
        let mut agents = file.agents;
        agents.iter_mut().for_each(readiness::complete_agent);
        Ok(SimData {
            requesters: file.requesters,
            agents,
            credentials: file.simulator,
            rate_limit_per_minute: file
                .simulator_rate_limit_per_minute
                .unwrap_or(DEFAULT_RATE_LIMIT)
                .max(1),
        })
    }
}

/// Mounts the requester and agent routes on `server`.
pub async fn mount(server: &MockServer, data: SimData, faults: Faults) {
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/v2/(requesters|agents)(/[^/]*)?/?$"))
        .respond_with(Responder {
            data: Arc::new(data),
            faults,
            window: Mutex::new(Window {
                started: Instant::now(),
                used: 0,
            }),
        })
        .mount(server)
        .await;
}

/// Requests counted in the current minute.
struct Window {
    started: Instant,
    used: u32,
}

struct Responder {
    data: Arc<SimData>,
    faults: Faults,
    window: Mutex<Window>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Requester,
    Agent,
}

impl Kind {
    fn email_field(self) -> &'static str {
        match self {
            Kind::Requester => "primary_email",
            Kind::Agent => "email",
        }
    }

    fn one(self) -> &'static str {
        match self {
            Kind::Requester => "requester",
            Kind::Agent => "agent",
        }
    }

    fn many(self) -> &'static str {
        match self {
            Kind::Requester => "requesters",
            Kind::Agent => "agents",
        }
    }

    /// Fields a filter may name; others are refused as the service does.
    fn filter_fields(self) -> &'static [&'static str] {
        match self {
            Kind::Requester => &[
                "first_name",
                "last_name",
                "name",
                "job_title",
                "primary_email",
                "mobile_phone_number",
                "work_phone_number",
                "department_id",
                "location_id",
                "reporting_manager_id",
                "time_zone",
                "language",
                "active",
                "created_at",
                "updated_at",
            ],
            Kind::Agent => &[
                "first_name",
                "last_name",
                "name",
                "job_title",
                "email",
                "mobile_phone_number",
                "work_phone_number",
                "department_id",
                "location_id",
                "reporting_manager_id",
                "time_zone",
                "language",
                "active",
                "occasional",
                "created_at",
                "updated_at",
            ],
        }
    }

    /// Fields `~[...]` (starts with) may name.
    fn prefix_fields(self) -> [&'static str; 4] {
        ["first_name", "last_name", "name", self.email_field()]
    }
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let (total, remaining, retry_after) = self.count();
        let answer = match self.faults.intercept() {
            Some(forced) => forced,
            None => match retry_after {
                Some(seconds) => json_response(
                    429,
                    &json!({"message": "You have exceeded the limit of requests per minute"}),
                )
                .insert_header("retry-after", seconds.to_string().as_str()),
                None => self.answer(request),
            },
        };
        let answer = answer
            .insert_header("x-ratelimit-total", total.to_string().as_str())
            .insert_header("x-ratelimit-remaining", remaining.to_string().as_str())
            .insert_header("x-ratelimit-used-currentrequest", "1");
        with_delay(&self.faults, answer)
    }
}

impl Responder {
    /// Counts the request in the current minute: the limit, what remains,
    /// and the seconds to wait when it is over the limit.
    fn count(&self) -> (u32, u32, Option<u64>) {
        let total = self.data.rate_limit_per_minute;
        let mut window = self
            .window
            .lock()
            .expect("the window lock is never poisoned: no code panics under it");
        if window.started.elapsed() >= WINDOW {
            window.started = Instant::now();
            window.used = 0;
        }
        window.used = window.used.saturating_add(1);
        if window.used > total {
            let left = WINDOW.saturating_sub(window.started.elapsed());
            return (total, 0, Some(left.as_secs().max(1)));
        }
        (total, total - window.used, None)
    }

    /// The agent id the request's API key belongs to (`Some(None)` for a
    /// key with no user), or `None` without an accepted key. Any password
    /// is accepted, as the service ignores it; a recording's data accepts
    /// any key, or none, as its recorded owner.
    fn caller(&self, request: &Request) -> Option<Option<String>> {
        if let Some(any) = &self.data.credentials.any {
            return Some(any.user.clone());
        }
        let header = request.headers.get("authorization")?.to_str().ok()?;
        let encoded = header.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let key = decoded.split_once(':').map_or(decoded.as_str(), |(k, _)| k);
        self.data
            .credentials
            .basic
            .iter()
            .find(|account| account.username == key)
            .map(|account| account.user.clone())
    }

    fn answer(&self, request: &Request) -> ResponseTemplate {
        let Some(user) = self.caller(request) else {
            return json_response(
                401,
                &json!({"code": "invalid_credentials",
                        "message": "You have to be logged in to perform this action."}),
            );
        };
        let path = request.url.path().trim_end_matches('/');
        let rest = path.strip_prefix("/api/v2/").unwrap_or_default();
        let (list, single) = rest.split_once('/').unwrap_or((rest, ""));
        let kind = match list {
            "requesters" => Kind::Requester,
            _ => Kind::Agent,
        };
        match single {
            "" => self.list(kind, request),
            "me" if kind == Kind::Agent => match user {
                Some(id) => self.single(Kind::Agent, &id),
                None => not_found(),
            },
            id => self.single(kind, id),
        }
    }

    fn records(&self, kind: Kind) -> &[Object] {
        match kind {
            Kind::Requester => &self.data.requesters,
            Kind::Agent => &self.data.agents,
        }
    }

    fn single(&self, kind: Kind, id: &str) -> ResponseTemplate {
        let Ok(id) = id.parse::<u64>() else {
            return not_found();
        };
        let record = self
            .records(kind)
            .iter()
            .find(|record| record.get("id").and_then(Value::as_u64) == Some(id));
        match record {
            Some(record) => json_response(200, &json!({ kind.one(): record })),
            None => not_found(),
        }
    }

    fn list(&self, kind: Kind, request: &Request) -> ResponseTemplate {
        let page = match query_param(request, "page").map(|page| page.trim().parse::<usize>()) {
            None => 1,
            Some(Ok(page)) if page >= 1 => page,
            Some(_) => return invalid("page", "It should be a positive number", "invalid_value"),
        };
        if let Some(filter) = query_param(request, "query") {
            if page > MAX_FILTER_PAGE {
                return invalid(
                    "page",
                    "It should be between 1 and 40 for a filter query",
                    "invalid_value",
                );
            }
            return match self.filter(kind, &filter) {
                Ok(matching) => page_of(kind, request, matching, page, FILTER_PAGE_SIZE),
                Err(answer) => *answer,
            };
        }
        let per_page = match query_param(request, "per_page").map(|n| n.trim().parse::<usize>()) {
            None => DEFAULT_PER_PAGE,
            Some(Ok(n)) if (1..=MAX_PER_PAGE).contains(&n) => n,
            Some(_) => {
                return invalid(
                    "per_page",
                    "It should be between 1 and 100",
                    "invalid_value",
                );
            }
        };
        let email = query_param(request, "email");
        let primary = query_param(request, "primary_email");
        let matching: Vec<&Object> = self
            .records(kind)
            .iter()
            .filter(|record| {
                let is = |field: &str, wanted: &str| {
                    text(record, field).is_some_and(|found| found.eq_ignore_ascii_case(wanted))
                };
                let email_ok = email.as_deref().is_none_or(|wanted| {
                    // On requesters `email` also finds secondary e-mails.
                    is(kind.email_field(), wanted)
                        || (kind == Kind::Requester
                            && record
                                .get("secondary_emails")
                                .and_then(Value::as_array)
                                .is_some_and(|all| {
                                    all.iter()
                                        .filter_map(Value::as_str)
                                        .any(|found| found.eq_ignore_ascii_case(wanted))
                                }))
                });
                let primary_ok = kind == Kind::Agent
                    || primary
                        .as_deref()
                        .is_none_or(|wanted| is("primary_email", wanted));
                email_ok && primary_ok
            })
            .collect();
        page_of(kind, request, matching, page, per_page)
    }

    /// The records a filter query selects, or the 400 the service answers.
    fn filter(&self, kind: Kind, raw: &str) -> Result<Vec<&Object>, Box<ResponseTemplate>> {
        if raw.chars().count() > MAX_QUERY_CHARS {
            return Err(Box::new(invalid(
                "query",
                "It should not be more than 512 characters",
                "invalid_value",
            )));
        }
        let inner = raw
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .ok_or_else(|| Box::new(lexical_error()))?;
        let expression = Parser::parse(inner).ok_or_else(|| Box::new(lexical_error()))?;
        if let Some(field) = expression.unknown_field(kind) {
            return Err(Box::new(invalid(
                &field,
                "Unexpected/invalid field in request",
                "invalid_field",
            )));
        }
        Ok(self
            .records(kind)
            .iter()
            .filter(|record| expression.matches(record))
            .collect())
    }
}

/// One page of `matching`, with a `Link` to the next when more follow.
fn page_of(
    kind: Kind,
    request: &Request,
    matching: Vec<&Object>,
    page: usize,
    per_page: usize,
) -> ResponseTemplate {
    let total = matching.len();
    let start = (page - 1).saturating_mul(per_page);
    let records: Vec<&Object> = matching.into_iter().skip(start).take(per_page).collect();
    let mut answer = json_response(200, &json!({ kind.many(): records }));
    if start.saturating_add(per_page) < total {
        let mut url = request.url.clone();
        let pairs: Vec<(String, String)> = request
            .url
            .query_pairs()
            .filter(|(key, _)| key != "page")
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(pairs)
            .append_pair("page", &(page + 1).to_string());
        answer = answer.insert_header("link", format!("<{url}>; rel=\"next\"").as_str());
    }
    answer
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404)
}

fn invalid(field: &str, message: &str, code: &str) -> ResponseTemplate {
    json_response(
        400,
        &json!({"description": "Validation failed",
                "errors": [{"field": field, "message": message, "code": code}]}),
    )
}

fn lexical_error() -> ResponseTemplate {
    invalid("query", "lexical error", "invalid_value")
}

fn text<'a>(record: &'a Object, field: &str) -> Option<&'a str> {
    record.get(field).and_then(Value::as_str)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Field { name: String, prefix: bool },
    Colon,
    Greater,
    Less,
    Text(String),
    Number(f64),
    Null,
    Bool(bool),
}

/// Splits a filter into tokens; `None` is the service's "lexical error".
fn tokens(input: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            ' ' => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            ':' => {
                out.push(Token::Colon);
                i += 1;
            }
            '>' => {
                out.push(Token::Greater);
                i += 1;
            }
            '<' => {
                out.push(Token::Less);
                i += 1;
            }
            '\'' => {
                // No escape: the next quote ends the string.
                let end = chars.get(i + 1..)?.iter().position(|&c| c == '\'')? + i + 1;
                out.push(Token::Text(chars.get(i + 1..end)?.iter().collect()));
                i = end + 1;
            }
            '~' => {
                if chars.get(i + 1) != Some(&'[') {
                    return None;
                }
                let end = chars.get(i + 2..)?.iter().position(|&c| c == ']')? + i + 2;
                let name: String = chars.get(i + 2..end)?.iter().collect();
                out.push(Token::Field { name, prefix: true });
                i = end + 1;
            }
            c if c.is_ascii_digit() || c == '-' => {
                let end = chars
                    .get(i..)?
                    .iter()
                    .position(|c| !(c.is_ascii_digit() || *c == '.' || *c == '-'))
                    .map_or(chars.len(), |p| p + i);
                let number: String = chars.get(i..end)?.iter().collect();
                out.push(Token::Number(number.parse().ok()?));
                i = end;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let end = chars
                    .get(i..)?
                    .iter()
                    .position(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
                    .map_or(chars.len(), |p| p + i);
                let word: String = chars.get(i..end)?.iter().collect();
                out.push(match word.as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    "null" => Token::Null,
                    "true" => Token::Bool(true),
                    "false" => Token::Bool(false),
                    _ => Token::Field {
                        name: word,
                        prefix: false,
                    },
                });
                i = end;
            }
            _ => return None,
        }
    }
    Some(out)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Compare {
    Equals,
    Greater,
    Less,
}

#[derive(Debug, Clone)]
enum Expression {
    Or(Vec<Expression>),
    And(Vec<Expression>),
    Condition {
        field: String,
        prefix: bool,
        compare: Compare,
        value: Token,
    },
}

/// Recursive descent: `AND` binds tighter than `OR`, parentheses group.
struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn parse(input: &str) -> Option<Expression> {
        let mut parser = Parser {
            tokens: tokens(input)?,
            at: 0,
        };
        let expression = parser.or()?;
        (parser.at == parser.tokens.len()).then_some(expression)
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn or(&mut self) -> Option<Expression> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            parts.push(self.and()?);
        }
        Some(Expression::Or(parts))
    }

    fn and(&mut self) -> Option<Expression> {
        let mut parts = vec![self.primary()?];
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            parts.push(self.primary()?);
        }
        Some(Expression::And(parts))
    }

    fn primary(&mut self) -> Option<Expression> {
        match self.next()? {
            Token::Open => {
                let inner = self.or()?;
                (self.next()? == Token::Close).then_some(inner)
            }
            Token::Field { name, prefix } => {
                if self.next()? != Token::Colon {
                    return None;
                }
                let compare = match self.peek() {
                    Some(Token::Greater) => Compare::Greater,
                    Some(Token::Less) => Compare::Less,
                    _ => Compare::Equals,
                };
                if compare != Compare::Equals {
                    self.at += 1;
                }
                let value = self.next()?;
                match value {
                    Token::Text(_) | Token::Number(_) | Token::Null | Token::Bool(_) => {}
                    _ => return None,
                }
                if prefix && !matches!(value, Token::Text(_)) {
                    return None;
                }
                Some(Expression::Condition {
                    field: name,
                    prefix,
                    compare,
                    value,
                })
            }
            _ => None,
        }
    }
}

impl Expression {
    /// The first field the list does not allow in a filter.
    fn unknown_field(&self, kind: Kind) -> Option<String> {
        match self {
            Expression::Or(parts) | Expression::And(parts) => {
                parts.iter().find_map(|part| part.unknown_field(kind))
            }
            Expression::Condition { field, prefix, .. } => {
                let allowed = if *prefix {
                    kind.prefix_fields().contains(&field.as_str())
                } else {
                    kind.filter_fields().contains(&field.as_str())
                };
                (!allowed).then(|| field.clone())
            }
        }
    }

    fn matches(&self, record: &Object) -> bool {
        match self {
            Expression::Or(parts) => parts.iter().any(|part| part.matches(record)),
            Expression::And(parts) => parts.iter().all(|part| part.matches(record)),
            Expression::Condition {
                field,
                prefix,
                compare,
                value,
            } => {
                let actual = field_value(record, field);
                match (value, &actual) {
                    (Token::Null, actual) => actual.is_null(),
                    (Token::Bool(wanted), Value::Bool(found)) => wanted == found,
                    (Token::Number(wanted), Value::Number(found)) => {
                        let found = found.as_f64().unwrap_or(f64::NAN);
                        match compare {
                            Compare::Equals => found == *wanted,
                            Compare::Greater => found > *wanted,
                            Compare::Less => found < *wanted,
                        }
                    }
                    (Token::Number(wanted), Value::Array(all)) => all
                        .iter()
                        .filter_map(Value::as_f64)
                        .any(|found| found == *wanted),
                    (Token::Text(wanted), Value::String(found)) => {
                        let found = found.to_lowercase();
                        let wanted = wanted.to_lowercase();
                        match (prefix, compare) {
                            (true, _) => found.starts_with(&wanted),
                            (false, Compare::Equals) => found == wanted,
                            (false, Compare::Greater) => found > wanted,
                            (false, Compare::Less) => found < wanted,
                        }
                    }
                    _ => false,
                }
            }
        }
    }
}

/// A field's value for a filter: `name` is the two names joined, and
/// `department_id` looks into `department_ids`.
fn field_value(record: &Object, field: &str) -> Value {
    match field {
        "name" => {
            let parts: Vec<&str> = [text(record, "first_name"), text(record, "last_name")]
                .into_iter()
                .flatten()
                .collect();
            Value::String(parts.join(" "))
        }
        "department_id" => record.get("department_ids").cloned().unwrap_or(Value::Null),
        _ => record.get(field).cloned().unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people() -> Vec<Object> {
        let list = json!([
            {"id": 1, "first_name": "Pat", "last_name": "Lee", "primary_email": "pat@acme.com", "active": true, "department_ids": [7]},
            {"id": 2, "first_name": "Patricia", "last_name": "Stone", "primary_email": "patricia@acme.com", "active": false},
            {"id": 3, "first_name": "Dana", "last_name": null, "primary_email": "Dana@Acme.com", "active": true}
        ]);
        serde_json::from_value(list).expect("records")
    }

    fn ids(filter: &str) -> Vec<u64> {
        let expression = Parser::parse(filter).expect(filter);
        people()
            .iter()
            .filter(|record| expression.matches(record))
            .filter_map(|record| record.get("id").and_then(Value::as_u64))
            .collect()
    }

    #[test]
    fn filters_combine_like_the_service() {
        assert_eq!(
            ids("primary_email:'PAT@acme.com' OR primary_email:'dana@acme.com'"),
            [1, 3]
        );
        assert_eq!(ids("~[primary_email]:'pat'"), [1, 2]);
        assert_eq!(ids("~[first_name]:'pat' AND active:false"), [2]);
        assert_eq!(
            ids(
                "(primary_email:'pat@acme.com' OR primary_email:'patricia@acme.com') AND active:true"
            ),
            [1]
        );
        assert_eq!(ids("last_name:null"), [3]);
        assert_eq!(ids("name:'pat lee'"), [1]);
        assert_eq!(ids("department_id:7"), [1]);
    }

    #[test]
    fn an_unescaped_quote_is_a_lexical_error() {
        assert!(Parser::parse("primary_email:'o'brien@acme.com'").is_none());
        assert!(Parser::parse("primary_email:'a' OR").is_none());
        assert!(Parser::parse("primary_email:'a").is_none());
        assert!(Parser::parse("primary_email 'a'").is_none());
    }

    #[test]
    fn fixtures_without_ids_or_with_unknown_keys_are_refused() {
        let missing =
            SimData::parse(r#"{"requesters":[{"primary_email":"x"}]}"#).expect_err("no id");
        assert!(
            missing.to_string().contains("requesters[0] has no id"),
            "{missing}"
        );
        let unknown = SimData::parse(r#"{"users":[]}"#).expect_err("unknown key");
        assert!(unknown.to_string().contains("users"), "{unknown}");
        let twice = SimData::parse(r#"{"agents":[{"id":1},{"id":1}]}"#).expect_err("twice");
        assert!(twice.to_string().contains("agents[1]"), "{twice}");
    }

    #[test]
    fn the_demo_fixture_parses() {
        let text = include_str!("../../../fixtures/freshservice.json");
        let data = SimData::parse(text).expect("the demo fixture is valid");
        assert_eq!(data.requesters.len(), 4);
        assert_eq!(data.agents.len(), 3);
    }
}
