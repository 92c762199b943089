//! ServiceNow simulator: serves a fixture's `sys_user` records, and the
//! other tables `sim_tables` knows (the bot's role rows, the task tables),
//! through the Table API with the instance's own query semantics (`^`,
//! `^OR`, `^NQ`, `IN`, `STARTSWITH`, ...), projection, paging headers, read
//! ACLs (403), error bodies (400 for a table that does not exist), the
//! refusals a recording saw (`simulator.refused`), and the OAuth token
//! endpoint (`sim_oauth`), so `demo`, `simulate` and the tests meet the
//! traps a real instance sets.
//!
//! Must never answer per test: every answer is computed from the fixture and
//! the request. It reproduces the instance's quirks on purpose, including
//! the dangerous one: a condition on a field the table does not have is
//! dropped, and the remaining query (possibly none) decides the rows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::sim_oauth::Issued;
use super::sim_tables::{Access, Table, Tables};
use crate::sim::{Faults, InvalidSimData, SimCredentials, faulted, query_param};

/// What an instance returns when nothing is asked to be limited.
const DEFAULT_LIMIT: usize = 10_000;

/// A validated fixture: the instance's tables and the credentials it accepts.
#[derive(Debug, Clone)]
pub struct SimData {
    tables: Tables,
    credentials: SimCredentials,
}

/// The file's shape: the Table API's own answer for `sys_user`, other
/// tables' rows by table name, and the simulator's credentials and ACLs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    result: Vec<Map<String, Value>>,
    #[serde(default)]
    tables: BTreeMap<String, Vec<Map<String, Value>>>,
    /// The credentials, plus `acl` (see `sim_tables::Access`).
    #[serde(default)]
    simulator: Map<String, Value>,
}

impl SimData {
    /// Parses a fixture, refusing what would make the simulator lie quietly:
    /// unknown top-level keys, records without a sys_id, repeated sys_ids
    /// (and what `sim_tables` refuses).
    pub fn parse(text: &str) -> Result<SimData, InvalidSimData> {
        let file: FixtureFile = serde_json::from_str(text).map_err(|err| {
            format!("{err} (expected {{\"result\": [sys_user records], \"tables\": {{...}}, \"simulator\": {{...}}}})")
        })?;
        let mut simulator = file.simulator;
        let access = Access {
            acl: take(&mut simulator, "acl")?,
            refused: take(&mut simulator, "refused")?,
        };
        let credentials: SimCredentials = serde_json::from_value(Value::Object(simulator))
            .map_err(|err| format!("simulator: {err}"))?;
        let mut seen = BTreeSet::new();
        for (index, record) in file.result.iter().enumerate() {
            let sys_id = match record.get("sys_id") {
                Some(Value::String(sys_id)) => sys_id,
                _ => {
                    return Err(InvalidSimData(format!(
                        "result[{index}] has no sys_id: every sys_user record needs its \
                         32-character sys_id as a string"
                    )));
                }
            };
            let canonical = super::parse_sys_id(sys_id)
                .map_err(|reason| format!("result[{index}]: {reason}"))?;
            if !seen.insert(canonical.clone()) {
                return Err(InvalidSimData(format!(
                    "result[{index}]: sys_id {canonical} is used by an earlier record; give \
                     each record its own"
                )));
            }
        }
        Ok(SimData {
            tables: Tables::build(file.result, file.tables, access)?,
            credentials,
        })
    }
}

/// Removes the simulator-only `key` from the `simulator` section and reads
/// it; absent is empty.
fn take<T: serde::de::DeserializeOwned + Default>(
    simulator: &mut Map<String, Value>,
    key: &str,
) -> Result<T, InvalidSimData> {
    match simulator.remove(key) {
        Some(value) => serde_json::from_value(value)
            .map_err(|err| InvalidSimData(format!("simulator.{key}: {err}"))),
        None => Ok(T::default()),
    }
}

/// Mounts the Table API routes and the OAuth token endpoint on `server`.
pub async fn mount(server: &MockServer, data: SimData, faults: Faults) {
    let issued = Arc::new(Issued::default());
    super::sim_oauth::mount(
        server,
        data.credentials.clone(),
        issued.clone(),
        faults.clone(),
    )
    .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/now(/v[12])?/table/[^/]+(/[^/]+)?/?$"))
        .respond_with(TableResponder {
            data: Arc::new(data),
            issued,
            faults,
        })
        .mount(server)
        .await;
}

struct TableResponder {
    data: Arc<SimData>,
    /// Access tokens of `/oauth_token.do`, accepted as `Bearer`.
    issued: Arc<Issued>,
    faults: Faults,
}

impl Respond for TableResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        faulted(&self.faults, || self.answer(request))
    }
}

/// Which API version a path names: v1 answers an empty list with 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    Latest,
}

impl TableResponder {
    fn answer(&self, request: &Request) -> ResponseTemplate {
        let caller = self
            .data
            .credentials
            .authenticate(request)
            .or_else(|| self.issued.caller(request));
        let Some(caller) = caller else {
            return failure(
                401,
                "User Not Authenticated",
                "Required to provide Auth information",
            );
        };
        let path = request.url.path().trim_end_matches('/');
        let Some(rest) = path.strip_prefix("/api/now") else {
            return failure(
                400,
                "Invalid URL",
                "Requested URI does not represent any resource",
            );
        };
        let (version, rest) = if let Some(rest) = rest.strip_prefix("/v1") {
            (Version::V1, rest)
        } else {
            (Version::Latest, rest.strip_prefix("/v2").unwrap_or(rest))
        };
        let fields = query_param(request, "sysparm_fields");
        let (name, single) = match rest.strip_prefix("/table/") {
            Some(rest) => rest.split_once('/').unwrap_or((rest, "")),
            None => ("", ""),
        };
        if let Some(refusal) = self.data.tables.refusal(name) {
            return json_response(refusal.status, &refusal.body);
        }
        let Some(table) = self.data.tables.get(name) else {
            return failure(
                400,
                &format!("Invalid table {name}"),
                "Requested table does not exist",
            );
        };
        if !self.data.tables.may_read(name, &caller) {
            return failure(
                403,
                "User Not Authorized",
                "Failed API level ACL Validation",
            );
        }
        if single.is_empty() {
            self.list(table, request, version, fields.as_deref())
        } else {
            self.single(table, single, fields.as_deref())
        }
    }

    fn single(&self, table: &Table, sys_id: &str, fields: Option<&str>) -> ResponseTemplate {
        let record = table.records.iter().find(|record| {
            record
                .get("sys_id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.eq_ignore_ascii_case(sys_id))
        });
        match record {
            Some(record) => json_response(200, &json!({ "result": project(record, fields) })),
            None => no_record(),
        }
    }

    fn list(
        &self,
        table: &Table,
        request: &Request,
        version: Version,
        fields: Option<&str>,
    ) -> ResponseTemplate {
        let limit = query_param(request, "sysparm_limit")
            .and_then(|limit| limit.trim().parse::<usize>().ok())
            .unwrap_or(DEFAULT_LIMIT);
        let offset = match query_param(request, "sysparm_offset") {
            None => 0,
            Some(offset) => match offset.trim().parse::<i64>() {
                Ok(offset) if offset < 0 => {
                    return failure(
                        400,
                        &format!("offset is {offset}"),
                        "Negative offset is not supported",
                    );
                }
                Ok(offset) => usize::try_from(offset).unwrap_or(usize::MAX),
                Err(_) => 0,
            },
        };
        let encoded = query_param(request, "sysparm_query").unwrap_or_default();
        let query = EncodedQuery::parse(&encoded, &table.columns);
        let matching: Vec<&Map<String, Value>> = table
            .records
            .iter()
            .filter(|record| query.matches(record))
            .collect();
        let total = matching.len();
        let page: Vec<Value> = matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|record| project(record, fields))
            .collect();
        if page.is_empty() && version == Version::V1 {
            return no_record();
        }
        let mut answer = json_response(200, &json!({ "result": page }))
            .insert_header("x-total-count", total.to_string().as_str());
        let next = offset.saturating_add(limit);
        if limit > 0 && next < total {
            let mut url = request.url.clone();
            let pairs: Vec<(String, String)> = request
                .url
                .query_pairs()
                .filter(|(key, _)| key != "sysparm_offset")
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(pairs)
                .append_pair("sysparm_offset", &next.to_string());
            answer = answer.insert_header("link", format!("<{url}>;rel=\"next\"").as_str());
        }
        answer
    }
}

/// The record with only the requested fields; unknown names are skipped, as
/// the instance does.
fn project(record: &Map<String, Value>, fields: Option<&str>) -> Value {
    let wanted: Vec<&str> = fields
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|field| !field.is_empty())
        .collect();
    if wanted.is_empty() {
        return Value::Object(record.clone());
    }
    let projected: Map<String, Value> = wanted
        .into_iter()
        .filter_map(|field| {
            record
                .get(field)
                .map(|value| (field.to_owned(), value.clone()))
        })
        .collect();
    Value::Object(projected)
}

/// A JSON answer with the instance's content type. Not the shared
/// `crate::sim::json_response`: wiremock's `set_body_string` replaces the
/// content type with text/plain, which the connector rightly refuses.
fn json_response(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json;charset=UTF-8")
}

fn failure(status: u16, message: &str, detail: &str) -> ResponseTemplate {
    json_response(
        status,
        &json!({ "error": { "message": message, "detail": detail }, "status": "failure" }),
    )
}

fn no_record() -> ResponseTemplate {
    failure(
        404,
        "No Record found",
        "Record doesn't exist or ACL restricts the record retrieval",
    )
}

/// A field's value as the query compares it: reference objects by their
/// `value`, absent fields as empty.
fn field_text(record: &Map<String, Value>, field: &str) -> String {
    match record.get(field) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Object(inner)) => inner
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Some(other) => other.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    IsNotEmpty,
    IsEmpty,
    NotLike,
    NotIn,
    StartsWith,
    EndsWith,
    Like,
    In,
    NotEquals,
    Equals,
}

/// Longest spellings first, so `ISEMPTY` is not read as `IN`.
const OPERATORS: [(&str, Operator); 10] = [
    ("ISNOTEMPTY", Operator::IsNotEmpty),
    ("ISEMPTY", Operator::IsEmpty),
    ("NOT LIKE", Operator::NotLike),
    ("NOT IN", Operator::NotIn),
    ("STARTSWITH", Operator::StartsWith),
    ("ENDSWITH", Operator::EndsWith),
    ("LIKE", Operator::Like),
    ("IN", Operator::In),
    ("!=", Operator::NotEquals),
    ("=", Operator::Equals),
];

#[derive(Debug, Clone)]
struct Condition {
    field: String,
    operator: Operator,
    value: String,
}

impl Condition {
    /// `<field><operator><value>`; `None` for what the instance would drop:
    /// an unknown operator or a field the table does not have.
    fn parse(text: &str, columns: &BTreeSet<String>) -> Option<Condition> {
        let split = text
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'))
            .unwrap_or(text.len());
        let (field, rest) = text.split_at(split);
        if !columns.contains(field) {
            return None;
        }
        let (spelling, operator) = OPERATORS
            .iter()
            .find(|(spelling, _)| rest.starts_with(spelling))?;
        Some(Condition {
            field: field.to_owned(),
            operator: *operator,
            value: rest.get(spelling.len()..).unwrap_or_default().to_owned(),
        })
    }

    /// Case-insensitive, as string columns compare on a default instance.
    fn matches(&self, record: &Map<String, Value>) -> bool {
        let actual = field_text(record, &self.field).to_lowercase();
        let expected = self.value.to_lowercase();
        let in_list = || expected.split(',').any(|item| item.trim() == actual);
        match self.operator {
            Operator::IsNotEmpty => !actual.is_empty(),
            Operator::IsEmpty => actual.is_empty(),
            Operator::NotLike => !actual.contains(&expected),
            Operator::NotIn => !in_list(),
            Operator::StartsWith => actual.starts_with(&expected),
            Operator::EndsWith => actual.ends_with(&expected),
            Operator::Like => actual.contains(&expected),
            Operator::In => in_list(),
            Operator::NotEquals => actual != expected,
            Operator::Equals => actual == expected,
        }
    }
}

/// A parsed `sysparm_query`: queries joined by `^NQ` (any may match), each
/// an AND of groups, each group an OR of conditions (`^OR` binds to the
/// condition before it).
#[derive(Debug, Default)]
struct EncodedQuery {
    queries: Vec<Vec<Vec<Condition>>>,
}

impl EncodedQuery {
    fn parse(text: &str, columns: &BTreeSet<String>) -> EncodedQuery {
        let mut queries: Vec<Vec<Vec<Condition>>> = vec![Vec::new()];
        for token in text.split('^') {
            let (new_query, or, condition) = if let Some(rest) = token.strip_prefix("NQ") {
                (true, false, rest)
            } else if let Some(rest) = token.strip_prefix("OR") {
                (false, true, rest)
            } else {
                (false, false, token)
            };
            if new_query {
                queries.push(Vec::new());
            }
            if condition.is_empty() || condition == "EQ" || condition.starts_with("ORDERBY") {
                continue;
            }
            let Some(condition) = Condition::parse(condition, columns) else {
                continue; // dropped, as the instance drops invalid parts
            };
            let Some(groups) = queries.last_mut() else {
                continue;
            };
            match groups.last_mut() {
                Some(group) if or => group.push(condition),
                _ => groups.push(vec![condition]),
            }
        }
        EncodedQuery { queries }
    }

    fn matches(&self, record: &Map<String, Value>) -> bool {
        self.queries.iter().any(|groups| {
            groups
                .iter()
                .all(|group| group.iter().any(|condition| condition.matches(record)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> SimData {
        SimData::parse(
            r#"{"result":[
                {"sys_id":"6816f79cc0a8016401c5a33be04be441","user_name":"moveworks.bot","active":"true","email":"bot@acme.com"},
                {"sys_id":"a8f98bb0eb32010045e1a5115206fe3a","user_name":"pat.lee","active":"true","email":""},
                {"sys_id":"46d44a23a9fe19810012d100cca80666","user_name":"beth.anglin","active":"false"}
            ]}"#,
        )
        .expect("a valid table")
    }

    fn names(data: &SimData, query: &str) -> Vec<String> {
        let users = data.tables.users();
        let query = EncodedQuery::parse(query, &users.columns);
        users
            .records
            .iter()
            .filter(|record| query.matches(record))
            .map(|record| field_text(record, "user_name"))
            .collect()
    }

    #[test]
    fn conditions_combine_like_the_instance() {
        let data = table();
        assert_eq!(
            names(&data, "user_nameINPAT.LEE,beth.anglin"),
            ["pat.lee", "beth.anglin"]
        );
        assert_eq!(
            names(&data, "active=true^user_nameSTARTSWITHmove"),
            ["moveworks.bot"]
        );
        assert_eq!(
            names(&data, "active=false^ORuser_name=pat.lee"),
            ["pat.lee", "beth.anglin"]
        );
        assert_eq!(names(&data, "emailISEMPTY"), ["pat.lee", "beth.anglin"]);
        assert_eq!(names(&data, "user_nameLIKEanglin"), ["beth.anglin"]);
        assert_eq!(
            names(&data, "user_name!=pat.lee^active=true"),
            ["moveworks.bot"]
        );
    }

    #[test]
    fn an_unknown_field_is_dropped_and_widens_the_answer() {
        let data = table();
        assert_eq!(names(&data, "user_nmeINpat.lee").len(), 3);
        assert_eq!(
            names(&data, "user_nmeINpat.lee^active=false"),
            ["beth.anglin"]
        );
    }

    #[test]
    fn a_caret_in_a_value_injects_a_new_query() {
        let data = table();
        assert_eq!(names(&data, "user_name=nobody^NQsys_id!=0").len(), 3);
    }

    #[test]
    fn fixtures_without_sys_ids_or_with_unknown_keys_are_refused() {
        let missing = SimData::parse(r#"{"result":[{"user_name":"x"}]}"#).expect_err("no sys_id");
        assert!(
            missing.to_string().contains("result[0] has no sys_id"),
            "{missing}"
        );
        let unknown = SimData::parse(r#"{"result":[],"users":[]}"#).expect_err("unknown key");
        assert!(unknown.to_string().contains("users"), "{unknown}");
        let twice = SimData::parse(
            r#"{"result":[{"sys_id":"6816f79cc0a8016401c5a33be04be441"},{"sys_id":"6816F79CC0A8016401C5A33BE04BE441"}]}"#,
        )
        .expect_err("a repeated sys_id");
        assert!(twice.to_string().contains("result[1]"), "{twice}");
    }

    #[test]
    fn refusals_are_errors_of_tables_other_than_sys_user() {
        for (refused, expected) in [
            (
                json!({"incident": {"status": 200, "body": {}}}),
                "simulator.refused.incident.status is 200",
            ),
            (
                json!({"sys_user": {"status": 403, "body": {}}}),
                "simulator.refused.sys_user:",
            ),
            (
                json!({"incident": {"status": 403}}),
                "simulator.refused: missing field `body`",
            ),
        ] {
            let text = json!({"result": [], "simulator": {"refused": refused}}).to_string();
            let err = SimData::parse(&text).expect_err(expected).to_string();
            assert!(err.contains(expected), "{expected}: {err}");
        }
    }

    #[test]
    fn the_demo_fixture_parses() {
        let text = include_str!("../../../fixtures/servicenow.json");
        let data = SimData::parse(text).expect("the demo fixture is valid");
        assert_eq!(data.tables.users().records.len(), 7);
    }
}
