//! Jira Data Center simulator: serves fixture users through REST API v2 in
//! Data Center's shapes (`key`, `name`, `emailAddress`, `displayName`,
//! `active`, `timeZone`) with its semantics: `/user/search` is a
//! case-insensitive prefix match over user names, display names (each
//! word) and addresses that shows inactive users only when asked, pages of
//! at most a thousand (a hundred from Jira 10 on), `username=.` lists every
//! user before Jira 10; `/user` finds one user by key or user name. The
//! credential check and the readiness endpoints are Jira's own
//! (`crate::jira::sim`) over Data Center's API. `demo`, `simulate` and the
//! tests share it.
//!
//! An address the instance hides (`itsmid_sim_hidden_email`, as for Jira
//! Cloud) is matched by the search but never shown.
//!
//! The data file: `users` (User objects), and `simulator` with the
//! credentials (`basic`, `bearer`: `user` is a user key), `readiness` as
//! for Jira Cloud (by user key), `version` (the Jira version it answers
//! as, `"9.12"` unless said) and `basic_auth_disabled`.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::DATA_CENTER;
use crate::jira::sim::{
    HIDDEN_EMAIL_KEY, SimUser, Site, State, error_collection, json_response, mount_shared, number,
};
use crate::sim::{Faults, InvalidSimData, SimCredentials, query_param};

const SEARCH_PATH: &str = "/rest/api/2/user/search";
const USER_PATH: &str = "/rest/api/2/user";
const SERVER_INFO_PATH: &str = "/rest/api/2/serverInfo";

/// `/user/search`'s default page, and its largest before and from Jira 10.
const SEARCH_DEFAULT_PAGE: usize = 50;
const SEARCH_MAX_PAGE: usize = 1_000;
const SEARCH_MAX_PAGE_FROM_10: usize = 100;

/// The fixture file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    users: Vec<Value>,
    #[serde(default)]
    simulator: Map<String, Value>,
}

/// Validated simulator data.
#[derive(Debug, Clone)]
pub struct SimData {
    users: Vec<SimUser>,
    credentials: SimCredentials,
    readiness: Site,
    basic_auth_disabled: bool,
    version: Version,
}

/// The Jira version the simulator answers as, as `/serverInfo` names it:
/// it decides how the user search pages.
#[derive(Debug, Clone)]
struct Version(Vec<u32>);

impl Version {
    fn major(&self) -> u32 {
        self.0.first().copied().unwrap_or_default()
    }

    /// The largest page `/user/search` answers with.
    fn max_page(&self) -> usize {
        if self.major() >= 10 {
            SEARCH_MAX_PAGE_FROM_10
        } else {
            SEARCH_MAX_PAGE
        }
    }

    /// Whether `username=.` lists every user (Jira 8 and 9).
    fn dot_lists_all(&self) -> bool {
        self.major() < 10
    }
}

impl SimData {
    /// Parses and checks fixture text; the error names the user and the
    /// field that is wrong.
    pub fn parse(text: &str) -> Result<SimData, InvalidSimData> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let file: FixtureFile = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|err| format!("at `{}`: {}", err.path(), err.inner()))?;
        let mut users = Vec::with_capacity(file.users.len());
        let mut keys = BTreeSet::new();
        let mut names = BTreeSet::new();
        for (index, value) in file.users.into_iter().enumerate() {
            let user = parse_user(index, value)?;
            if !keys.insert(user.id.clone()) {
                return Err(InvalidSimData(format!(
                    "users[{index}]: key {} is used by an earlier user; user keys are unique",
                    user.id
                )));
            }
            let name = user.name.clone().unwrap_or_default().to_lowercase();
            if !names.insert(name.clone()) {
                return Err(InvalidSimData(format!(
                    "users[{index}]: name {name} is used by an earlier user; user names are unique"
                )));
            }
            users.push(user);
        }
        let mut simulator = file.simulator;
        let readiness = match simulator.remove("readiness") {
            Some(section) => Site::parse(section, &keys, DATA_CENTER.user_id_field)?,
            None => Site::default(),
        };
        let version: Vec<u32> = match simulator.remove("version") {
            None => vec![9, 12, 0],
            Some(Value::String(version)) => version
                .split('.')
                .map(|part| part.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()
                .filter(|numbers| !numbers.is_empty())
                .ok_or_else(|| {
                    format!("simulator.version: {version:?} is not a Jira version such as \"9.12\"")
                })?,
            Some(_) => {
                return Err(InvalidSimData(
                    "simulator.version: the Jira version is a string such as \"9.12\"".into(),
                ));
            }
        };
        let basic_auth_disabled = match simulator.remove("basic_auth_disabled") {
            None => false,
            Some(Value::Bool(disabled)) => disabled,
            Some(_) => {
                return Err(InvalidSimData(
                    "simulator.basic_auth_disabled: true or false".into(),
                ));
            }
        };
        let credentials: SimCredentials =
            serde_path_to_error::deserialize(Value::Object(simulator))
                .map_err(|err| format!("at `simulator.{}`: {}", err.path(), err.inner()))?;
        let basic = credentials.basic.iter().map(|a| &a.user);
        let bearer = credentials.bearer.iter().map(|a| &a.user);
        for (index, user) in basic.chain(bearer).enumerate() {
            if let Some(user) = user
                && !keys.contains(user)
            {
                return Err(InvalidSimData(format!(
                    "simulator credential {index}: user {user} is not the key of any user in `users`"
                )));
            }
        }
        Ok(SimData {
            version: Version(version),
            users,
            credentials,
            readiness,
            basic_auth_disabled,
        })
    }
}

fn parse_user(index: usize, value: Value) -> Result<SimUser, String> {
    let Value::Object(mut object) = value else {
        return Err(format!("users[{index}]: a user must be a JSON object"));
    };
    let key = match object.get("key") {
        Some(Value::String(key)) => super::parse_key(key)
            .map_err(|why| format!("users[{index}]: key: {why}"))?
            .into_string(),
        Some(_) => return Err(format!("users[{index}]: key must be a string")),
        None => return Err(format!("users[{index}]: the user has no key")),
    };
    let text = |field: &str| -> Result<Option<String>, String> {
        match object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!(
                "users[{index}] ({key}): `{field}` must be a string or null"
            )),
        }
    };
    let Some(name) = text("name")?.filter(|n| !n.trim().is_empty()) else {
        return Err(format!(
            "users[{index}] ({key}): the user has no `name` (the user name it logs in with)"
        ));
    };
    let active = match object.get("active") {
        Some(Value::Bool(active)) => *active,
        _ => {
            return Err(format!(
                "users[{index}] ({key}): `active` must be true or false"
            ));
        }
    };
    let display_name = text("displayName")?.unwrap_or_default();
    let email = text("emailAddress")?;
    let hidden_email = text(HIDDEN_EMAIL_KEY)?;
    if email.is_some() && hidden_email.is_some() {
        return Err(format!(
            "users[{index}] ({key}): a user has either a visible `emailAddress` or `{HIDDEN_EMAIL_KEY}`, not both"
        ));
    }
    object.remove(HIDDEN_EMAIL_KEY);
    Ok(SimUser {
        id: key,
        name: Some(name),
        active,
        display_name,
        email,
        hidden_email,
        shown: object,
    })
}

/// What the user endpoints read besides Jira's shared state.
struct Directory {
    state: Arc<State>,
    version: Version,
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Search,
    User,
    ServerInfo,
}

struct Responder {
    directory: Arc<Directory>,
    endpoint: Endpoint,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let state = &self.directory.state;
        let template = if let Some(forced) = state.faults.intercept() {
            forced
        } else {
            match (self.endpoint, state.authenticate(request)) {
                // Jira answers it without a login.
                (Endpoint::ServerInfo, _) => server_info(&self.directory),
                (_, Err(refusal)) => *refusal,
                (Endpoint::Search, Ok(_)) => search(&self.directory, request),
                (Endpoint::User, Ok(_)) => user(state, request),
            }
        };
        crate::sim::with_delay(&state.faults, template)
    }
}

/// Mounts the simulator's endpoints on `server`.
pub async fn mount(server: &MockServer, data: SimData, faults: Faults) {
    let mut state = State::new(
        &DATA_CENTER,
        data.users,
        data.credentials,
        data.readiness,
        server.uri(),
        faults,
    );
    state.basic_auth_disabled = data.basic_auth_disabled;
    let state = Arc::new(state);
    let directory = Arc::new(Directory {
        state: Arc::clone(&state),
        version: data.version,
    });
    for (route, endpoint) in [
        (SEARCH_PATH, Endpoint::Search),
        (USER_PATH, Endpoint::User),
        (SERVER_INFO_PATH, Endpoint::ServerInfo),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(Responder {
                directory: Arc::clone(&directory),
                endpoint,
            })
            .mount(server)
            .await;
    }
    mount_shared(server, &state).await;
}

/// `/rest/api/2/serverInfo`: the version the simulator answers as.
fn server_info(directory: &Directory) -> ResponseTemplate {
    let numbers = &directory.version.0;
    let version = numbers
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".");
    json_response(
        200,
        &serde_json::json!({
            "baseUrl": directory.state.base,
            "version": version,
            "versionNumbers": numbers,
            "deploymentType": "DataCenter",
            "buildNumber": 912000,
            "serverTitle": "Jira",
        }),
    )
}

/// A boolean query parameter, its default when absent.
fn flag(request: &Request, name: &str, default: bool) -> bool {
    query_param(request, name).map_or(default, |v| v.trim().eq_ignore_ascii_case("true"))
}

/// `/rest/api/2/user/search`: the users whose user name, display name (or
/// a word of it) or e-mail address starts with `username`, active ones
/// unless `includeActive=false`, inactive ones if `includeInactive=true`.
fn search(directory: &Directory, request: &Request) -> ResponseTemplate {
    let state = &directory.state;
    let Some(term) = query_param(request, "username").filter(|t| !t.trim().is_empty()) else {
        return error_collection(400, "The username query parameter was not provided");
    };
    let (start_at, max_results) = match (
        number(request, "startAt", 0),
        number(request, "maxResults", SEARCH_DEFAULT_PAGE),
    ) {
        (Ok(start), Ok(max)) => (start, max.min(directory.version.max_page())),
        (Err(message), _) | (_, Err(message)) => return error_collection(400, &message),
    };
    let include_active = flag(request, "includeActive", true);
    let include_inactive = flag(request, "includeInactive", false);
    let term = term.trim().to_lowercase();
    let everyone = directory.version.dot_lists_all() && term == ".";
    let starts = |value: Option<&String>| {
        value.is_some_and(|v| {
            let v = v.to_lowercase();
            v.starts_with(&term) || v.split_whitespace().any(|word| word.starts_with(&term))
        })
    };
    let page: Vec<Value> = state
        .users
        .iter()
        .filter(|u| (u.active && include_active) || (!u.active && include_inactive))
        .filter(|u| {
            everyone
                || starts(u.name.as_ref())
                || starts(Some(&u.display_name))
                || starts(u.email.as_ref())
                || starts(u.hidden_email.as_ref())
        })
        .skip(start_at)
        .take(max_results)
        .map(|u| state.render(u))
        .collect();
    json_response(200, &Value::Array(page))
}

/// `/rest/api/2/user?key=` or `?username=`: one user, active or not.
fn user(state: &State, request: &Request) -> ResponseTemplate {
    let key = query_param(request, "key").filter(|v| !v.is_empty());
    let username = query_param(request, "username").filter(|v| !v.is_empty());
    let found = match (&key, &username) {
        (Some(key), _) => state.user(key),
        (None, Some(name)) => state.users.iter().find(|u| {
            u.name
                .as_ref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        }),
        (None, None) => {
            return error_collection(
                400,
                "Either the 'username' or the 'key' query parameter must be provided",
            );
        }
    };
    match found {
        Some(user) => json_response(200, &state.render(user)),
        None => {
            let (field, value) = match (key, username) {
                (Some(key), _) => ("key", key),
                (None, name) => ("username", name.unwrap_or_default()),
            };
            error_collection(
                404,
                &format!("The user with the {field} '{value}' does not exist"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_top_level_keys_are_refused_by_name() {
        let err = SimData::parse(r#"{"users": [], "values": []}"#).unwrap_err();
        assert!(err.to_string().contains("values"), "{err}");
    }

    #[test]
    fn a_user_without_a_key_or_a_name_is_refused() {
        let err = SimData::parse(r#"{"users": [{"name": "pat", "active": true}]}"#).unwrap_err();
        assert!(err.to_string().contains("no key"), "{err}");
        let err =
            SimData::parse(r#"{"users": [{"key": "JIRAUSER1", "active": true}]}"#).unwrap_err();
        assert!(err.to_string().contains("`name`"), "{err}");
    }

    #[test]
    fn duplicate_keys_and_user_names_are_refused() {
        let twice = r#"{"users": [
            {"key": "JIRAUSER1", "name": "pat", "active": true},
            {"key": "JIRAUSER1", "name": "sam", "active": true}]}"#;
        assert!(
            SimData::parse(twice)
                .unwrap_err()
                .to_string()
                .contains("JIRAUSER1")
        );
        let names = r#"{"users": [
            {"key": "JIRAUSER1", "name": "pat", "active": true},
            {"key": "JIRAUSER2", "name": "PAT", "active": true}]}"#;
        assert!(
            SimData::parse(names)
                .unwrap_err()
                .to_string()
                .contains("pat")
        );
    }

    #[test]
    fn a_credential_for_an_unknown_user_and_a_bad_version_are_refused() {
        let err = SimData::parse(
            r#"{"users": [], "simulator": {"bearer": [{"token": "t", "user": "JIRAUSER9"}]}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("JIRAUSER9"), "{err}");
        let err = SimData::parse(r#"{"users": [], "simulator": {"version": "ten"}}"#).unwrap_err();
        assert!(err.to_string().contains("ten"), "{err}");
    }

    #[test]
    fn jira_10_pages_by_the_hundred_and_does_not_list_everyone_for_a_dot() {
        let nine = SimData::parse(r#"{"users": []}"#).unwrap();
        assert_eq!(
            (nine.version.max_page(), nine.version.dot_lists_all()),
            (1_000, true)
        );
        let ten = SimData::parse(r#"{"users": [], "simulator": {"version": "10.3"}}"#).unwrap();
        assert_eq!(
            (ten.version.max_page(), ten.version.dot_lists_all()),
            (100, false)
        );
    }
}
