//! ServiceNow's OAuth token endpoint for the simulator: `POST
//! /oauth_token.do` with the password grant and the refresh grant, as an
//! instance answers them, and the access tokens it issued accepted as
//! `Authorization: Bearer`.
//!
//! The password grant needs an OAuth client from the fixture's
//! `simulator.oauth_clients` (its `client_id` and `client_secret`) and an
//! account from `simulator.basic` (its `username` and `password`); the
//! tokens then act as that account, so its roles and the ACLs apply as for
//! basic auth. Tokens exist only once this server issued them.
//!
//! A recording's data (`simulator.any`) accepts any client, any account and
//! any refresh token: a replay sends placeholders for every secret, and its
//! tokens act as the recorded credentials' owner.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::sim::{Caller, Faults, SimCredentials, faulted, json_response};

/// The instance's token path (`https://<instance>.service-now.com/oauth_token.do`).
pub const TOKEN_PATH: &str = "/oauth_token.do";

/// An instance's default access token lifespan, in seconds.
const ACCESS_TOKEN_LIFESPAN: u64 = 1799;

/// The tokens issued so far, shared with the Table API's responder.
#[derive(Debug, Default)]
pub struct Issued {
    /// Access token -> whom it acts as.
    access: Mutex<HashMap<String, Caller>>,
    /// Refresh token -> the client it was issued to and whom it acts as.
    refresh: Mutex<HashMap<String, (String, Caller)>>,
    next: AtomicU64,
}

impl Issued {
    /// The caller of a request carrying an access token this server issued.
    pub fn caller(&self, request: &Request) -> Option<Caller> {
        let header = request.headers.get("authorization")?.to_str().ok()?;
        let token = header.strip_prefix("Bearer ")?.trim();
        self.access
            .lock()
            .expect("the token lock is never poisoned")
            .get(token)
            .cloned()
    }

    fn token(&self, kind: &str) -> String {
        let serial = self.next.fetch_add(1, Ordering::Relaxed);
        format!("sim-{kind}-{serial:04}-{:016x}", fastrand::u64(..))
    }

    /// A new access token (and, for the password grant, a refresh token).
    fn issue(&self, client_id: &str, caller: Caller, refresh: Option<String>) -> ResponseTemplate {
        let access = self.token("access");
        let refresh = refresh.unwrap_or_else(|| {
            let refresh = self.token("refresh");
            self.refresh
                .lock()
                .expect("the token lock is never poisoned")
                .insert(refresh.clone(), (client_id.to_owned(), caller.clone()));
            refresh
        });
        self.access
            .lock()
            .expect("the token lock is never poisoned")
            .insert(access.clone(), caller);
        json_response(
            200,
            &json!({
                "access_token": access,
                "refresh_token": refresh,
                "scope": "useraccount",
                "token_type": "Bearer",
                "expires_in": ACCESS_TOKEN_LIFESPAN
            }),
        )
    }
}

/// Mounts `POST /oauth_token.do` on `server`.
pub async fn mount(
    server: &MockServer,
    credentials: SimCredentials,
    issued: Arc<Issued>,
    faults: Faults,
) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(TokenResponder {
            credentials,
            issued,
            faults,
        })
        .mount(server)
        .await;
}

struct TokenResponder {
    credentials: SimCredentials,
    issued: Arc<Issued>,
    faults: Faults,
}

impl Respond for TokenResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        faulted(&self.faults, || self.answer(request))
    }
}

/// The instance's refusal of any grant: 401 with the same body whether the
/// client, the account or the refresh token was wrong.
fn access_denied() -> ResponseTemplate {
    json_response(
        401,
        &json!({ "error_description": "access_denied", "error": "server_error" }),
    )
}

/// The refusal of a grant type the endpoint does not know.
fn unsupported_grant() -> ResponseTemplate {
    json_response(
        400,
        &json!({ "error_description": "unsupported grant_type", "error": "unsupported_grant_type" }),
    )
}

impl TokenResponder {
    fn answer(&self, request: &Request) -> ResponseTemplate {
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let param = |name: &str| {
            form.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        if let Some(any) = &self.credentials.any {
            let caller = Caller::Bearer {
                user: any.user.clone(),
            };
            return self.any_grant(
                param("grant_type"),
                param("client_id").unwrap_or_default(),
                param("refresh_token"),
                caller,
            );
        }
        let client_known = self.credentials.oauth_clients.iter().any(|client| {
            param("client_id") == Some(client.client_id.as_str())
                && param("client_secret") == Some(client.client_secret.as_str())
        });
        if !client_known {
            return access_denied();
        }
        let client_id = param("client_id").unwrap_or_default();
        match param("grant_type") {
            Some("password") => {
                let account = self.credentials.basic.iter().find(|account| {
                    param("username") == Some(account.username.as_str())
                        && param("password") == Some(account.password.as_str())
                });
                match account {
                    Some(account) => self.issued.issue(
                        client_id,
                        Caller::Basic {
                            username: account.username.clone(),
                            user: account.user.clone(),
                        },
                        None,
                    ),
                    None => access_denied(),
                }
            }
            Some("refresh_token") => {
                let refresh = param("refresh_token").unwrap_or_default();
                let held = self
                    .issued
                    .refresh
                    .lock()
                    .expect("the token lock is never poisoned")
                    .get(refresh)
                    .cloned();
                match held {
                    Some((issued_to, caller)) if issued_to == client_id => {
                        self.issued
                            .issue(client_id, caller, Some(refresh.to_owned()))
                    }
                    _ => access_denied(),
                }
            }
            _ => unsupported_grant(),
        }
    }

    /// A recording's grant: no secret is checked. A refresh token this
    /// server issued keeps its caller; any other acts as `caller` too.
    fn any_grant(
        &self,
        grant_type: Option<&str>,
        client_id: &str,
        refresh: Option<&str>,
        caller: Caller,
    ) -> ResponseTemplate {
        match (grant_type, refresh) {
            (Some("password"), _) => self.issued.issue(client_id, caller, None),
            (Some("refresh_token"), Some(refresh)) => {
                let held = self
                    .issued
                    .refresh
                    .lock()
                    .expect("the token lock is never poisoned")
                    .get(refresh)
                    .map(|(_, caller)| caller.clone());
                self.issued
                    .issue(client_id, held.unwrap_or(caller), Some(refresh.to_owned()))
            }
            (Some("refresh_token"), None) => access_denied(),
            _ => unsupported_grant(),
        }
    }
}
