//! ServiceDesk Plus simulator, Zoho's token endpoint (`POST
//! /oauth/v2/token`) for Cloud's refresh tokens: it checks the client and
//! its refresh token against the fixture's `zoho_oauth` and issues access
//! tokens that the users routes then accept (see `State::authenticated`).
//!
//! A recording's data (`simulator.any`, SPEC section 8) holds no client:
//! the replay sends placeholder secrets, so any client and refresh token
//! get a token there. Never answers per test.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::json;
use wiremock::{Request, Respond, ResponseTemplate};

use super::State;
use crate::sim::{Faults, faulted, json_response};

pub(super) struct TokenResponder {
    pub(super) state: Arc<State>,
    pub(super) faults: Faults,
}

impl Respond for TokenResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        faulted(&self.faults, || self.answer(request))
    }
}

impl TokenResponder {
    /// Zoho's refresh grant. Parameters come as a form body or, as some
    /// clients send them, in the query string.
    fn answer(&self, request: &Request) -> ResponseTemplate {
        let mut form: Vec<(String, String)> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        form.extend(request.url.query_pairs().into_owned());
        let param = |name: &str| {
            form.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let error = |code: &str| json_response(400, &json!({ "error": code }));
        if param("grant_type") != Some("refresh_token") {
            return error("unsupported_grant_type");
        }
        let credentials = &self.state.data.credentials;
        if credentials.any.is_some() {
            return self.issue();
        }
        let client = credentials.zoho_oauth.iter().find(|client| {
            param("client_id") == Some(client.client_id.as_str())
                && param("client_secret") == Some(client.client_secret.as_str())
        });
        let Some(client) = client else {
            return error("invalid_client");
        };
        if param("refresh_token") != Some(client.refresh_token.as_str()) {
            return error("invalid_code");
        }
        self.issue()
    }

    /// A new access token, good for the fixture's `access_token_uses`.
    fn issue(&self) -> ResponseTemplate {
        let serial = self.state.next_token.fetch_add(1, Ordering::Relaxed);
        let token = format!("1000.sim{serial:04}.{:016x}", fastrand::u64(..));
        self.state
            .issued
            .lock()
            .expect("the token lock is never poisoned")
            .insert(token.clone(), self.state.data.access_token_uses);
        json_response(
            200,
            &json!({
                "access_token": token,
                "api_domain": "https://www.zohoapis.com",
                "token_type": "Bearer",
                "expires_in": 3600
            }),
        )
    }
}
