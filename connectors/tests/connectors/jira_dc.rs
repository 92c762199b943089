//! Jira Data Center connector tests: the exact REST API v2 requests sent
//! (`/user?key=`, `/user/search?username=` with inactive users and the
//! largest page, `/user?username=` for `lookup_by = "name"`, all under a
//! context path such as `/jira`) and how their answers are read. Single
//! lookups are in `lookups`, the listing of the whole directory (by
//! `/serverInfo`'s version, paged by `startAt`) in `listing`, the
//! credentials' owner and the bot's settings in `auth`, every failure
//! mapped to its reason (basic authentication switched off, CAPTCHA) in
//! `errors`, Jira's readiness probe over API v2 in `readiness`, and the
//! simulator's Data Center semantics seen through the connector in
//! `simulator`; a recorded check replayed in `recording`.
//!
//! No test sleeps: retries use the millisecond backoff of
//! `support::settings` and `Retry-After: 0`.

use itsmid_connectors::jira_dc::Client;
use itsmid_connectors::{
    ConnectorSettings, Credentials, ExternalId, ItsmUser, ItsmUserId, Lookup, LookupKey, Lookups,
    System,
};
use serde_json::{Value, json};
use wiremock::{MockServer, Request, ResponseTemplate};

use crate::support::{basic, settings};

mod auth;
mod errors;
mod listing;
mod lookups;
mod readiness;
mod recording;
mod simulator;

/// `moveworks-bot:demo-jira-dc-password`, as `fixtures/jira_dc.json` accepts it.
const BOT_BASIC: &str = "Basic bW92ZXdvcmtzLWJvdDpkZW1vLWppcmEtZGMtcGFzc3dvcmQ=";
/// The bot's personal access token in `fixtures/jira_dc.json`.
const BOT_TOKEN: &str = "demo-jira-dc-token";
const BOT_KEY: &str = "JIRAUSER10000";
const PAT_KEY: &str = "JIRAUSER10100";
const KIM_KEY: &str = "JIRAUSER10250";

const USER_PATH: &str = "/rest/api/2/user";
const SEARCH_PATH: &str = "/rest/api/2/user/search";
const MYSELF_PATH: &str = "/rest/api/2/myself";
const SERVER_INFO_PATH: &str = "/rest/api/2/serverInfo";

fn bot_credentials() -> Credentials {
    basic("moveworks-bot", "demo-jira-dc-password")
}

fn client(server: &MockServer, credentials: Credentials) -> Client {
    Client::new(settings(System::JiraDc, server, credentials)).expect("test settings are valid")
}

/// A client whose External ID is the user name (`lookup_by = "name"`).
fn name_client(server: &MockServer) -> Client {
    let mut settings = settings(System::JiraDc, server, bot_credentials());
    settings.lookup_field = "name".into();
    Client::new(settings).expect("test settings are valid")
}

/// Settings whose base URL holds the context path `/jira`.
fn under_context_path(server: &MockServer, credentials: Credentials) -> ConnectorSettings {
    let mut settings = settings(System::JiraDc, server, credentials);
    settings.base_url = format!("{}/jira", server.uri())
        .parse()
        .expect("a valid URL");
    settings
}

fn by_key(key: &str) -> LookupKey {
    LookupKey::ItsmUserId(ItsmUserId::new(key))
}

fn by_external(value: &str) -> LookupKey {
    LookupKey::ExternalId(ExternalId::new(value))
}

/// Matches the raw query string, so the parameters, their order and their
/// encoding are checked exactly as sent.
fn raw_query(expected: impl Into<String>) -> impl Fn(&Request) -> bool + Send + Sync + 'static {
    let expected = expected.into();
    move |request: &Request| request.url.query() == Some(expected.as_str())
}

/// Matches a request without any query string.
fn no_query(request: &Request) -> bool {
    request.url.query().is_none()
}

/// The raw query of `/user/search` for one e-mail address (already
/// form-encoded), without `startAt`.
fn email_search(encoded: &str) -> String {
    format!("username={encoded}&includeActive=true&includeInactive=true&maxResults=1000")
}

/// The raw query of one page of the whole directory's listing.
fn listing_page(start_at: usize) -> String {
    format!("username=.&includeActive=true&includeInactive=true&maxResults=1000&startAt={start_at}")
}

fn json_answer(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json;charset=UTF-8")
}

/// Jira's ErrorCollection with `status`.
fn error_collection(status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        json!({"errorMessages": [message], "errors": {}}).to_string(),
        "application/json;charset=UTF-8",
    )
}

/// A REST API v2 `User` as Jira Data Center sends it.
fn user_json(key: &str, name: &str, email: Option<&str>, active: bool) -> Value {
    let mut user = json!({
        "self": format!("https://jira.acme.com/rest/api/2/user?username={name}"),
        "key": key,
        "name": name,
        "avatarUrls": {"48x48": "https://jira.acme.com/secure/useravatar?avatarId=10122"},
        "displayName": format!("User {name}"),
        "active": active,
        "deleted": false,
        "timeZone": "Europe/Berlin",
        "locale": "en_US",
    });
    if let (Some(email), Some(object)) = (email, user.as_object_mut()) {
        object.insert("emailAddress".into(), json!(email));
    }
    user
}

fn found<'a>(lookups: &'a Lookups, key: &LookupKey) -> &'a ItsmUser {
    match lookups.get(key) {
        Some(Lookup::Found(user)) => user,
        other => panic!("{key:?}: expected Found, got {other:?}"),
    }
}

fn not_found_note(lookups: &Lookups, key: &LookupKey) -> Option<String> {
    match lookups.get(key) {
        Some(Lookup::NotFound { note }) => note.clone(),
        other => panic!("{key:?}: expected NotFound, got {other:?}"),
    }
}

fn refusal(lookups: &Lookups, key: &LookupKey) -> String {
    match lookups.get(key) {
        Some(Lookup::Refused(why)) => why.reason.clone(),
        other => panic!("{key:?}: expected Refused, got {other:?}"),
    }
}

async fn recorded(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("request recording is on")
}

async fn requests(server: &MockServer) -> usize {
    recorded(server).await.len()
}

/// The raw queries of the requests `server` received at `path`, in order.
async fn queries_at(server: &MockServer, path: &str) -> Vec<String> {
    recorded(server)
        .await
        .iter()
        .filter(|r| r.url.path() == path)
        .map(|r| r.url.query().unwrap_or_default().to_owned())
        .collect()
}
