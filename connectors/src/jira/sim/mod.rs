//! Jira Cloud simulator: serves fixture users through the four user
//! endpoints the connector uses, with Jira's own semantics (search is a
//! case-insensitive prefix match over active users only, bulk returns
//! inactive users too, hidden e-mail addresses are never returned, every
//! endpoint wants a credential), and the readiness probe's endpoints from
//! `sim/readiness.rs`. `demo`, `simulate` and the tests share it.
//!
//! Never answers from canned per-test responses and never writes the data it
//! was given: each answer is computed from the fixture and the request.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod readiness;

use self::readiness::Route;
pub(crate) use self::readiness::Site;
use super::api::{self, JiraApi};
use crate::sim::{Caller, Faults, InvalidSimData, SimCredentials, query_param, query_params};

/// The fixture key for an e-mail address the user's profile visibility
/// hides: the search still matches it, but it is never returned. Jira
/// Data Center's simulator and recordings (the term a search matched a
/// user without an address by) use it too.
pub(crate) const HIDDEN_EMAIL_KEY: &str = "itsmid_sim_hidden_email";

const SEARCH_DEFAULT_PAGE: usize = 50;
/// Jira applies `startAt`/`maxResults` only up to the thousandth user.
const SEARCH_MAX_USERS: usize = 1_000;
const BULK_DEFAULT_PAGE: usize = 10;
const BULK_MAX_PAGE: usize = 200;

/// The fixture file: `values` holds User objects in the API's own shape,
/// `simulator` the credentials the simulator accepts and, under
/// `readiness`, what the readiness probe's endpoints answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    values: Vec<Value>,
    #[serde(default)]
    simulator: Map<String, Value>,
}

/// One fixture user: the fields the simulator's semantics read, and the
/// object to send (without the hidden e-mail).
#[derive(Debug, Clone)]
pub(crate) struct SimUser {
    /// The ITSM User ID: Cloud's `accountId`, Data Center's `key`.
    pub(crate) id: String,
    /// Data Center's user name (`name`); Cloud has none.
    pub(crate) name: Option<String>,
    pub(crate) active: bool,
    pub(crate) display_name: String,
    pub(crate) email: Option<String>,
    pub(crate) hidden_email: Option<String>,
    pub(crate) shown: Map<String, Value>,
}

/// Validated simulator data.
#[derive(Debug, Clone)]
pub struct SimData {
    users: Vec<SimUser>,
    credentials: SimCredentials,
    readiness: Site,
}

impl SimData {
    /// Parses and checks fixture text; the error names the user and the
    /// field that is wrong.
    pub fn parse(text: &str) -> Result<SimData, InvalidSimData> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let file: FixtureFile = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|err| format!("at `{}`: {}", err.path(), err.inner()))?;
        let mut users = Vec::with_capacity(file.values.len());
        let mut seen = BTreeSet::new();
        for (index, value) in file.values.into_iter().enumerate() {
            let user = parse_user(index, value)?;
            if !seen.insert(user.id.clone()) {
                return Err(InvalidSimData(format!(
                    "values[{index}]: accountId {} is used by an earlier user; accountIds are unique",
                    user.id
                )));
            }
            users.push(user);
        }
        let mut simulator = file.simulator;
        let readiness = match simulator.remove("readiness") {
            Some(section) => Site::parse(section, &seen, api::CLOUD.user_id_field)?,
            None => Site::default(),
        };
        let credentials: SimCredentials =
            serde_path_to_error::deserialize(Value::Object(simulator))
                .map_err(|err| format!("at `simulator.{}`: {}", err.path(), err.inner()))?;
        let basic = credentials.basic.iter().map(|a| (&a.username, &a.user));
        let bearer = credentials.bearer.iter().map(|a| (&a.token, &a.user));
        for (index, (_, user)) in basic.chain(bearer).enumerate() {
            if let Some(user) = user
                && !seen.contains(user)
            {
                return Err(InvalidSimData(format!(
                    "simulator credential {index}: user {user} is not the accountId of any user in `values`"
                )));
            }
        }
        Ok(SimData {
            users,
            credentials,
            readiness,
        })
    }
}

fn parse_user(index: usize, value: Value) -> Result<SimUser, String> {
    let Value::Object(mut object) = value else {
        return Err(format!("values[{index}]: a user must be a JSON object"));
    };
    let account_id = match object.get("accountId") {
        Some(Value::String(id)) => super::parse_account_id(id)
            .map_err(|why| format!("values[{index}]: accountId: {why}"))?
            .into_string(),
        Some(_) => return Err(format!("values[{index}]: accountId must be a string")),
        None => return Err(format!("values[{index}]: the user has no accountId")),
    };
    let active = match object.get("active") {
        Some(Value::Bool(active)) => *active,
        _ => {
            return Err(format!(
                "values[{index}] ({account_id}): `active` must be true or false"
            ));
        }
    };
    let text = |object: &Map<String, Value>, key: &str| -> Result<Option<String>, String> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!(
                "values[{index}] ({account_id}): `{key}` must be a string or null"
            )),
        }
    };
    let display_name = text(&object, "displayName")?.unwrap_or_default();
    let email = text(&object, "emailAddress")?;
    let hidden_email = text(&object, HIDDEN_EMAIL_KEY)?;
    if email.is_some() && hidden_email.is_some() {
        return Err(format!(
            "values[{index}] ({account_id}): a user has either a visible `emailAddress` or `{HIDDEN_EMAIL_KEY}`, not both"
        ));
    }
    object.remove(HIDDEN_EMAIL_KEY);
    Ok(SimUser {
        id: account_id,
        name: None,
        active,
        display_name,
        email,
        hidden_email,
        shown: object,
    })
}

/// Everything a responder reads; shared by all endpoints, and by Jira Data
/// Center's simulator, which holds its users in the same shape.
pub(crate) struct State {
    pub(crate) users: Vec<SimUser>,
    by_id: HashMap<String, usize>,
    pub(crate) credentials: SimCredentials,
    pub(crate) base: String,
    pub(crate) faults: Faults,
    pub(crate) readiness: Site,
    pub(crate) api: &'static JiraApi,
    /// Whether basic authentication is switched off for the instance, as
    /// a Jira Data Center administrator may do.
    pub(crate) basic_auth_disabled: bool,
}

impl State {
    pub(crate) fn new(
        api: &'static JiraApi,
        users: Vec<SimUser>,
        credentials: SimCredentials,
        readiness: Site,
        base: String,
        faults: Faults,
    ) -> State {
        let by_id = users
            .iter()
            .enumerate()
            .map(|(index, user)| (user.id.clone(), index))
            .collect();
        State {
            users,
            by_id,
            credentials,
            base,
            faults,
            readiness,
            api,
            basic_auth_disabled: false,
        }
    }

    pub(crate) fn user(&self, id: &str) -> Option<&SimUser> {
        self.by_id.get(id).and_then(|&index| self.users.get(index))
    }

    /// The user as Jira sends it, the hidden e-mail left out. Cloud: `self`
    /// by accountId, `key` and `name` blanked as in Atlassian's examples;
    /// Data Center: `self` by user name, `key` and `name` as they are.
    pub(crate) fn render(&self, user: &SimUser) -> Value {
        let mut object = user.shown.clone();
        let link = match &user.name {
            Some(name) => format!(
                "{}{}/user?username={}",
                self.base,
                self.api.rest,
                encode(name)
            ),
            None => format!(
                "{}{}/user?{}={}",
                self.base,
                self.api.rest,
                self.api.user_id_field,
                encode(&user.id)
            ),
        };
        object.insert("self".into(), Value::String(link));
        if user.name.is_none() {
            object.insert("key".into(), Value::String(String::new()));
            object.insert("name".into(), Value::String(String::new()));
        }
        Value::Object(object)
    }

    /// Who sent `request`, or Jira's refusal: no credential it accepts, or
    /// basic authentication on an instance that switched it off.
    pub(crate) fn authenticate(&self, request: &Request) -> Result<Caller, Box<ResponseTemplate>> {
        if self.basic_auth_disabled {
            let basic = request
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("Basic "));
            if basic {
                return Err(Box::new(ResponseTemplate::new(401).set_body_raw(
                    "Basic Authentication has been disabled on this instance.",
                    "text/plain;charset=UTF-8",
                )));
            }
        }
        self.credentials.authenticate(request).ok_or_else(|| {
            Box::new(json_response(
                401,
                &json!({"message": "Client must be authenticated to access this resource.", "status-code": 401}),
            ))
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Search,
    Bulk,
    User,
    Myself,
    Readiness(Route),
}

struct Responder {
    state: Arc<State>,
    endpoint: Endpoint,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let faults = &self.state.faults;
        let template = if let Some(forced) = faults.intercept() {
            forced
        } else {
            match self.state.authenticate(request) {
                Err(refusal) => *refusal,
                Ok(caller) => match self.endpoint {
                    Endpoint::Search => search(&self.state, request),
                    Endpoint::Bulk => bulk(&self.state, request),
                    Endpoint::User => user(&self.state, request),
                    Endpoint::Myself => myself(&self.state, &caller, request),
                    Endpoint::Readiness(route) => {
                        readiness::respond(route, &self.state, owner(&caller), request)
                    }
                },
            }
        };
        crate::sim::with_delay(faults, template)
    }
}

/// Mounts the simulator's endpoints on `server`.
pub async fn mount(server: &MockServer, data: SimData, faults: Faults) {
    let state = Arc::new(State::new(
        &api::CLOUD,
        data.users,
        data.credentials,
        data.readiness,
        server.uri(),
        faults,
    ));
    for (route, endpoint) in [
        ("/rest/api/3/user/search", Endpoint::Search),
        ("/rest/api/3/user/bulk", Endpoint::Bulk),
        ("/rest/api/3/user", Endpoint::User),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(Responder {
                state: Arc::clone(&state),
                endpoint,
            })
            .mount(server)
            .await;
    }
    mount_shared(server, &state).await;
}

/// Mounts what Jira Cloud and Data Center answer alike, under `state`'s
/// API: `/myself` and the readiness probe's endpoints.
pub(crate) async fn mount_shared(server: &MockServer, state: &Arc<State>) {
    Mock::given(method("GET"))
        .and(path(state.api.path("myself")))
        .respond_with(Responder {
            state: Arc::clone(state),
            endpoint: Endpoint::Myself,
        })
        .mount(server)
        .await;
    for (pattern, route) in readiness::routes(state.api) {
        Mock::given(method("GET"))
            .and(path_regex(pattern))
            .respond_with(Responder {
                state: Arc::clone(state),
                endpoint: Endpoint::Readiness(route),
            })
            .mount(server)
            .await;
    }
}

/// A JSON answer. Not `crate::sim::json_response`: wiremock's
/// `set_body_string` replaces its content type with `text/plain`, which the
/// connector rightly refuses as not the API's JSON.
pub(crate) fn json_response(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json;charset=UTF-8")
}

/// Jira's ErrorCollection.
pub(crate) fn error_collection(status: u16, message: &str) -> ResponseTemplate {
    json_response(status, &json!({"errorMessages": [message], "errors": {}}))
}

/// A non-negative integer query parameter, its default when absent; the
/// error is the 400 message Jira would send.
pub(crate) fn number(request: &Request, name: &str, default: usize) -> Result<usize, String> {
    match query_param(request, name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .map_err(|_| format!("The '{name}' parameter must be a non-negative whole number.")),
    }
}

/// `startAt` and `maxResults`, or the message of Jira's 400 for a bad one.
fn paging(request: &Request, default_page: usize) -> Result<(usize, usize), String> {
    Ok((
        number(request, "startAt", 0)?,
        number(request, "maxResults", default_page)?,
    ))
}

fn non_empty_param(request: &Request, name: &str) -> Option<String> {
    query_param(request, name).filter(|v| !v.is_empty())
}

/// `/rest/api/3/user/search`: active users whose displayName or e-mail
/// (visible or hidden) starts with `query`, or the one with `accountId`.
fn search(state: &State, request: &Request) -> ResponseTemplate {
    let query = non_empty_param(request, "query");
    let account_id = non_empty_param(request, "accountId");
    let (start_at, max_results) = match paging(request, SEARCH_DEFAULT_PAGE) {
        Ok(paging) => paging,
        Err(message) => return error_collection(400, &message),
    };
    let matches: Vec<&SimUser> = match (query, account_id) {
        (None, None) => {
            return error_collection(
                400,
                "One of 'query' or 'accountId' query parameters must be provided.",
            );
        }
        (Some(_), Some(_)) => {
            return error_collection(
                400,
                "The 'query' and 'accountId' query parameters cannot be used together.",
            );
        }
        (Some(query), None) => {
            let query = query.to_lowercase();
            let starts = |field: Option<&String>| {
                field.is_some_and(|value| value.to_lowercase().starts_with(&query))
            };
            state
                .users
                .iter()
                .filter(|u| u.active)
                .filter(|u| {
                    starts(Some(&u.display_name))
                        || starts(u.email.as_ref())
                        || starts(u.hidden_email.as_ref())
                })
                .collect()
        }
        (None, Some(account_id)) => state
            .user(&account_id)
            .filter(|u| u.active)
            .into_iter()
            .collect(),
    };
    let page: Vec<Value> = matches
        .into_iter()
        .take(SEARCH_MAX_USERS)
        .skip(start_at)
        .take(max_results)
        .map(|u| state.render(u))
        .collect();
    json_response(200, &Value::Array(page))
}

/// `/rest/api/3/user/bulk`: the users asked for, in the order asked,
/// inactive ones included, as a PageBeanUser.
fn bulk(state: &State, request: &Request) -> ResponseTemplate {
    let mut asked = Vec::new();
    for id in query_params(request, "accountId") {
        if !id.is_empty() && !asked.contains(&id) {
            asked.push(id);
        }
    }
    if asked.is_empty() {
        return error_collection(400, "The 'accountId' query parameter must be provided.");
    }
    let (start_at, max_results) = match paging(request, BULK_DEFAULT_PAGE) {
        Ok((start_at, max_results)) => (start_at, max_results.clamp(1, BULK_MAX_PAGE)),
        Err(message) => return error_collection(400, &message),
    };
    let found: Vec<&SimUser> = asked.iter().filter_map(|id| state.user(id)).collect();
    let total = found.len();
    let values: Vec<Value> = found
        .into_iter()
        .skip(start_at)
        .take(max_results)
        .map(|u| state.render(u))
        .collect();
    let next = start_at.saturating_add(values.len());
    let is_last = next >= total;
    let page_url = |start: usize| {
        let mut url = format!("{}/rest/api/3/user/bulk?", state.base);
        for id in &asked {
            url.push_str("accountId=");
            url.push_str(&encode(id));
            url.push('&');
        }
        url.push_str(&format!("startAt={start}&maxResults={max_results}"));
        url
    };
    let mut page = json!({
        "self": page_url(start_at),
        "maxResults": max_results,
        "startAt": start_at,
        "total": total,
        "isLast": is_last,
        "values": values,
    });
    if !is_last && let Value::Object(object) = &mut page {
        object.insert("nextPage".into(), Value::String(page_url(next)));
    }
    json_response(200, &page)
}

/// `/rest/api/3/user?accountId=`: one user, active or not.
fn user(state: &State, request: &Request) -> ResponseTemplate {
    let Some(account_id) = non_empty_param(request, "accountId") else {
        return error_collection(400, "The 'accountId' query parameter must be provided.");
    };
    match state.user(&account_id) {
        Some(user) => json_response(200, &state.render(user)),
        None => error_collection(
            404,
            "Specified user does not exist or you do not have required permissions",
        ),
    }
}

/// The ITSM User ID a credential belongs to, if the data names one.
pub(crate) fn owner(caller: &Caller) -> Option<&str> {
    match caller {
        Caller::Basic { user, .. } | Caller::Bearer { user } => user.as_deref(),
    }
}

/// `/myself`: the user the credential belongs to, with its
/// groups when `expand=groups` asks. A credential without a `user` answers
/// 404, so tests can stage "cannot say".
fn myself(state: &State, caller: &Caller, request: &Request) -> ResponseTemplate {
    let expand_groups = query_param(request, "expand")
        .is_some_and(|e| e.split(',').any(|part| part.trim() == "groups"));
    match owner(caller).and_then(|id| state.user(id)) {
        Some(user) if expand_groups => {
            let mut shown = state.render(user);
            if let Some(object) = shown.as_object_mut() {
                object.insert("groups".into(), readiness::groups(state, &user.id));
            }
            json_response(200, &shown)
        }
        Some(user) => json_response(200, &state.render(user)),
        None => error_collection(
            404,
            "Specified user does not exist or you do not have required permissions",
        ),
    }
}

pub(crate) fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_top_level_keys_are_refused_by_name() {
        let err = SimData::parse(r#"{"values": [], "users": []}"#).unwrap_err();
        assert!(err.to_string().contains("users"), "{err}");
    }

    #[test]
    fn an_unknown_simulator_key_is_refused_by_name() {
        let err = SimData::parse(r#"{"values": [], "simulator": {"readines": {}}}"#).unwrap_err();
        assert!(err.to_string().contains("readines"), "{err}");
        let err = SimData::parse(r#"{"values": [], "simulator": {"readiness": {"project": []}}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("project"), "{err}");
    }

    #[test]
    fn a_user_without_an_account_id_is_refused() {
        let err = SimData::parse(r#"{"values": [{"displayName": "Nobody", "active": true}]}"#)
            .unwrap_err();
        assert!(
            err.to_string().contains("values[0]") && err.to_string().contains("accountId"),
            "{err}"
        );
    }

    #[test]
    fn a_credential_for_an_unknown_user_is_refused() {
        let err = SimData::parse(
            r#"{"values": [], "simulator": {"bearer": [{"token": "t", "user": "5b10ac8d82e05b22cc7d4ef5"}]}}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("5b10ac8d82e05b22cc7d4ef5"),
            "{err}"
        );
    }

    #[test]
    fn a_duplicate_account_id_is_refused() {
        let err = SimData::parse(
            r#"{"values": [{"accountId": "abc", "active": true}, {"accountId": "abc", "active": false}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("values[1]"), "{err}");
    }
}
