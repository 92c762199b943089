//! Simulator plumbing shared by the five systems: starting a wiremock
//! server on a chosen address, the front that refuses a request line past
//! the system's limit with 414 as real front ends do, the fault switches
//! tests turn on (down, slow, hibernating, rate limited), and checking the
//! credentials a fixture accepts.
//!
//! Each system's query semantics live in its own `sim.rs`; this file knows
//! nothing about any API. Simulators serve fixture data, never canned
//! answers per test.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::System;

/// A fault that a test or an administrator switches on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Every request gets 503: the system is down.
    Down,
    /// Every answer is held back this long.
    Slow(Duration),
    /// Every request gets the HTML "instance is hibernating" page with 200.
    Hibernating,
    /// The next `times` requests (all, if `None`) get 429 with `Retry-After`.
    RateLimited {
        retry_after_seconds: u64,
        times: Option<u32>,
    },
    /// Every request gets 401, as for a revoked credential.
    AuthRejected,
}

/// The fault switch of one simulator, shared with its responders.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<Fault>>);

impl Faults {
    pub fn set(&self, fault: Fault) {
        *self.0.lock().expect("the fault lock is never poisoned") = fault;
    }

    /// The answer the fault forces, if any; consumes one use of a limited
    /// rate-limit fault.
    pub fn intercept(&self) -> Option<ResponseTemplate> {
        let mut fault = self.0.lock().expect("the fault lock is never poisoned");
        match &mut *fault {
            Fault::None => None,
            Fault::Down => Some(ResponseTemplate::new(503).set_body_raw(
                "<html><body><h1>503 Service Unavailable</h1></body></html>",
                "text/html",
            )),
            Fault::Slow(_) => None,
            Fault::Hibernating => Some(ResponseTemplate::new(200).set_body_raw(
                "<html><head><title>Hibernating Instance</title></head><body>\
                 <h1>Your instance is hibernating</h1><a href=\"#\">Sign in</a></body></html>",
                "text/html; charset=utf-8",
            )),
            Fault::AuthRejected => Some(ResponseTemplate::new(401).set_body_raw(
                r#"{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}"#,
                "application/json",
            )),
            Fault::RateLimited {
                retry_after_seconds,
                times,
            } => {
                let seconds = *retry_after_seconds;
                match times {
                    Some(0) => {
                        *fault = Fault::None;
                        None
                    }
                    Some(left) => {
                        *left -= 1;
                        Some(rate_limited(seconds))
                    }
                    None => Some(rate_limited(seconds)),
                }
            }
        }
    }

    /// Delay to add to every answer.
    pub fn delay(&self) -> Option<Duration> {
        match &*self.0.lock().expect("the fault lock is never poisoned") {
            Fault::Slow(delay) => Some(*delay),
            _ => None,
        }
    }
}

fn rate_limited(seconds: u64) -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("retry-after", seconds.to_string().as_str())
        .set_body_raw(
            r#"{"error":{"message":"Rate limit exceeded","detail":"Rate limit of 100 requests per hour exceeded"},"status":"failure"}"#,
            "application/json",
        )
}

/// Applies the slow fault to an answer.
/// What a responder answers under the fault switch: the forced answer, or
/// `answer()`, delayed when the fault says so. Every simulator route goes
/// through it, so a fault reaches them all alike.
pub fn faulted(faults: &Faults, answer: impl FnOnce() -> ResponseTemplate) -> ResponseTemplate {
    let template = match faults.intercept() {
        Some(forced) => forced,
        None => answer(),
    };
    with_delay(faults, template)
}

pub fn with_delay(faults: &Faults, template: ResponseTemplate) -> ResponseTemplate {
    match faults.delay() {
        Some(delay) => template.set_delay(delay),
        None => template,
    }
}

/// The credentials a simulator accepts, from the fixture's `simulator` key.
/// `user` names the ITSM User ID (or login) the credential belongs to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimCredentials {
    #[serde(default)]
    pub basic: Vec<BasicAccount>,
    #[serde(default)]
    pub bearer: Vec<TokenAccount>,
    /// ManageEngine on-premises API keys (`authtoken` header).
    #[serde(default)]
    pub authtoken: Vec<TokenAccount>,
    /// ManageEngine Cloud: Zoho OAuth clients and their refresh tokens.
    #[serde(default)]
    pub zoho_oauth: Vec<ZohoClient>,
    /// OAuth clients a token endpoint accepts: Salesforce client
    /// credentials, whose tokens act as `user`; ServiceNow's password grant,
    /// whose tokens act as the `basic` account that logged in.
    #[serde(default)]
    pub oauth_clients: Vec<OAuthClient>,
    /// Salesforce connected apps that accept the JWT bearer grant.
    #[serde(default)]
    pub jwt_clients: Vec<JwtClient>,
    /// A recording's (SPEC section 8): every request is accepted, with or
    /// without a credential, as the recorded credentials' owner; every
    /// token endpoint issues tokens to any client.
    #[serde(default)]
    pub any: Option<AnyCredential>,
}

/// Who a recording's simulator answers as.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnyCredential {
    /// The owner's ITSM User ID (or login), as `user` elsewhere.
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAccount {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenAccount {
    pub token: String,
    #[serde(default)]
    pub user: Option<String>,
}

/// A Zoho OAuth client whose refresh token the token endpoint exchanges
/// for access tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZohoClient {
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    #[serde(default)]
    pub user: Option<String>,
}

/// An OAuth client a token endpoint accepts (Salesforce client
/// credentials); the tokens it issues act as `user`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
    #[serde(default)]
    pub user: Option<String>,
}

/// A connected app whose JWT bearer assertions the token endpoint accepts:
/// signed for `username` with the private key of `public_key` (PEM), its
/// tokens act as `user`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtClient {
    pub client_id: String,
    pub username: String,
    pub public_key: String,
    #[serde(default)]
    pub user: Option<String>,
}

/// Who sent a request, as far as the simulator's credentials tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Basic {
        username: String,
        user: Option<String>,
    },
    Bearer {
        user: Option<String>,
    },
}

impl SimCredentials {
    /// The caller, or `None` when the request carries no accepted credential.
    pub fn authenticate(&self, request: &Request) -> Option<Caller> {
        if let Some(any) = &self.any {
            return Some(Caller::Bearer {
                user: any.user.clone(),
            });
        }
        let header = request.headers.get("authorization")?.to_str().ok()?;
        if let Some(encoded) = header.strip_prefix("Basic ") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            let (username, password) = decoded.split_once(':')?;
            return self
                .basic
                .iter()
                .find(|a| a.username == username && a.password == password)
                .map(|a| Caller::Basic {
                    username: a.username.clone(),
                    user: a.user.clone(),
                });
        }
        if let Some(token) = header.strip_prefix("Bearer ") {
            return self
                .bearer
                .iter()
                .find(|a| a.token == token.trim())
                .map(|a| Caller::Bearer {
                    user: a.user.clone(),
                });
        }
        None
    }
}

/// What a data file's simulator accepts, one line per credential, for a
/// person trying `simulate`: user names and client ids, and where in the
/// file the password or token is (never the value itself).
pub fn accepted_credentials(data: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(data) else {
        return Vec::new();
    };
    let simulator = &value["simulator"];
    if let Some(any) = simulator.get("any") {
        let who = any["user"]
            .as_str()
            .map(|user| format!(", answering as {user}"))
            .unwrap_or_default();
        return vec![format!("any credential, or none (a recording){who}")];
    }
    let mut lines = Vec::new();
    let list = |key: &str| simulator[key].as_array().cloned().unwrap_or_default();
    for (i, account) in list("basic").iter().enumerate() {
        lines.push(format!(
            "basic: user name {} with the password at simulator.basic[{i}].password",
            account["username"].as_str().unwrap_or("?")
        ));
    }
    for (key, what) in [
        ("bearer", "a bearer token"),
        ("authtoken", "an authtoken (ManageEngine on-premises)"),
    ] {
        for (i, account) in list(key).iter().enumerate() {
            let user = account["user"]
                .as_str()
                .map(|user| format!(" (acts as {user})"))
                .unwrap_or_default();
            lines.push(format!("{key}: {what} at simulator.{key}[{i}].token{user}"));
        }
    }
    for (key, what, secret) in [
        ("oauth_clients", "OAuth client", "client_secret"),
        (
            "zoho_oauth",
            "Zoho OAuth client",
            "client_secret and refresh_token",
        ),
        (
            "jwt_clients",
            "JWT bearer connected app",
            "public_key (sign with its private key)",
        ),
    ] {
        for (i, client) in list(key).iter().enumerate() {
            lines.push(format!(
                "{key}: {what} {} with the {secret} at simulator.{key}[{i}]",
                client["client_id"].as_str().unwrap_or("?")
            ));
        }
    }
    if lines.is_empty() {
        lines.push("no credential: the data file's `simulator` section lists none".into());
    }
    lines
}

/// Starts a wiremock server, on `listen` if given (else a free loopback
/// port). Long-lived servers skip request recording, or memory grows with
/// every request.
pub async fn start_server(
    listen: Option<SocketAddr>,
    record_requests: bool,
) -> std::io::Result<MockServer> {
    let mut builder = MockServer::builder();
    if let Some(addr) = listen {
        let listener = std::net::TcpListener::bind(addr)?;
        builder = builder.listener(listener);
    }
    if !record_requests {
        builder = builder.disable_request_recording();
    }
    Ok(builder.start().await)
}

/// A JSON answer with the content type the vendors send.
pub fn json_response(status: u16, body: &serde_json::Value) -> ResponseTemplate {
    // `set_body_string` would replace the content type with text/plain.
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json;charset=UTF-8")
}

/// The first value of a query parameter, decoded.
pub fn query_param(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Every value of a repeated query parameter, decoded.
pub fn query_params(request: &Request, name: &str) -> Vec<String> {
    request
        .url
        .query_pairs()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .collect()
}

/// Why a fixture cannot be a simulator's data. The text names the record
/// and what is wrong with it; `SimError::Data` adds the file and system.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSimData(pub(crate) String);

impl From<String> for InvalidSimData {
    fn from(why: String) -> Self {
        InvalidSimData(why)
    }
}

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{path}: not a {system} simulator data file: {detail}")]
    Data {
        path: String,
        system: System,
        detail: InvalidSimData,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// A running simulator of any system.
pub struct AnySimulator {
    pub system: System,
    pub server: MockServer,
    pub faults: Faults,
}

impl AnySimulator {
    /// Starts `system`'s simulator over the fixture text `data` (`path`
    /// names it in errors).
    pub async fn start(
        system: System,
        path: &str,
        data: &str,
        listen: Option<SocketAddr>,
        record_requests: bool,
    ) -> Result<AnySimulator, SimError> {
        let faults = Faults::default();
        // Each system parses its own fixture and mounts its own responders.
        // The `match` below names every system with no catch-all arm, so a
        // sixth system fails to compile here until it has a simulator.
        // Listings come from `System::ALL`: `demo` starts one simulator per
        // system in it and `simulate` names them from it for an unknown
        // system. Keep no other list of systems.
        macro_rules! start_system {
            ($module:ident) => {{
                let data =
                    crate::$module::sim::SimData::parse(data).map_err(|detail| SimError::Data {
                        path: path.to_owned(),
                        system,
                        detail,
                    })?;
                let server = start(listen, record_requests).await?;
                mount_request_line_limit(&server, system).await;
                crate::$module::sim::mount(&server, data, faults.clone()).await;
                server
            }};
        }
        let server = match system {
            System::ServiceNow => start_system!(servicenow),
            System::Jira => start_system!(jira),
            System::JiraDc => start_system!(jira_dc),
            System::Salesforce => start_system!(salesforce),
            System::Freshservice => start_system!(freshservice),
            System::ManageEngine => start_system!(manageengine),
        };
        Ok(AnySimulator {
            system,
            server,
            faults,
        })
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }
}

/// The front every simulator stands behind: a request line past the
/// system's limit gets 414 before the API sees it (and before any fault),
/// as from nginx, Apache or Salesforce's own front end.
async fn mount_request_line_limit(server: &MockServer, system: System) {
    let limit = system.max_request_line();
    Mock::given(move |request: &Request| request_line_len(request) > limit)
        .respond_with(ResponseTemplate::new(414).set_body_raw(
            "<html><head><title>414 Request-URI Too Long</title></head><body>\
             <h1>Request-URI Too Long</h1><p>The requested URL's length exceeds the \
             capacity limit for this server.</p></body></html>",
            "text/html; charset=iso-8859-1",
        ))
        .with_priority(1)
        .mount(server)
        .await;
}

/// The request line a simulator received (`GET /path?query HTTP/1.1`), in
/// bytes.
pub fn request_line_len(request: &Request) -> usize {
    let target = &request.url[url::Position::BeforePath..url::Position::AfterQuery];
    request.method.as_str().len() + " ".len() + target.len() + " HTTP/1.1".len()
}

async fn start(listen: Option<SocketAddr>, record: bool) -> Result<MockServer, SimError> {
    start_server(listen, record)
        .await
        .map_err(|source| SimError::Listen {
            addr: listen.map(|a| a.to_string()).unwrap_or_default(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recordings_simulator_says_it_accepts_any_credential_and_as_whom() {
        let lines = accepted_credentials(r#"{"simulator": {"any": {"user": "JIRAUSER10000"}}}"#);
        assert_eq!(
            lines,
            ["any credential, or none (a recording), answering as JIRAUSER10000"]
        );
    }

    #[test]
    fn credentials_are_named_by_where_their_secret_is_never_by_it() {
        let data = r#"{"simulator": {
            "basic": [{"username": "bot", "password": "s3cret"}],
            "zoho_oauth": [{"client_id": "c1", "client_secret": "x9", "refresh_token": "r7"}]
        }}"#;
        let lines = accepted_credentials(data).join("\n");
        assert!(lines.contains("user name bot"), "{lines}");
        assert!(lines.contains("simulator.basic[0].password"), "{lines}");
        assert!(lines.contains("Zoho OAuth client c1"), "{lines}");
        for secret in ["s3cret", "x9", "r7"] {
            assert!(!lines.contains(secret), "{lines}");
        }
        assert_eq!(accepted_credentials(r#"{"simulator": {}}"#).len(), 1);
    }

    #[test]
    fn any_credential_lets_every_request_in_as_the_owner() {
        let credentials = SimCredentials {
            any: Some(AnyCredential {
                user: Some("owner".into()),
            }),
            ..SimCredentials::default()
        };
        let request = Request {
            url: url::Url::parse("http://127.0.0.1/x").expect("a URL"),
            method: wiremock::http::Method::GET,
            headers: wiremock::http::HeaderMap::new(),
            body: Vec::new(),
        };
        assert_eq!(
            credentials.authenticate(&request),
            Some(Caller::Bearer {
                user: Some("owner".into())
            })
        );
        assert_eq!(SimCredentials::default().authenticate(&request), None);
    }
}
