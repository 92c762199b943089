//! ServiceDesk Plus simulator, the route the readiness probe asks:
//! `GET /api/v3/users/{id}` (and under `/app/<portal>` on Cloud), answering
//! `{"response_status": {...}, "user": {...}}` from the fixture's users,
//! with the same credentials, rate limit and faults as the users list.
//!
//! The fixture's top-level `user_details` says how the route answers:
//! `"served"` (the default: the user, or 4007 with HTTP 404 for an id no
//! user has), `"forbidden"` (4002 with HTTP 403, a role that may not view
//! users) or `"missing"` (4007 with HTTP 404 for every id, a build without
//! the route). A user record without `is_technician` is served as written,
//! as builds before 11000 answer. Never answers per test.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::{Refusal, State};
use crate::sim::{Faults, faulted, json_response};

/// How `GET /api/v3/users/{id}` answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserDetails {
    /// The user with that id, or 4007 (HTTP 404) when none has it.
    #[default]
    Served,
    /// 4002 with HTTP 403: the caller may not view users.
    Forbidden,
    /// 4007 with HTTP 404 for every id: the build has no such route.
    Missing,
}

/// Mounts the one-user route.
pub(super) async fn mount(server: &MockServer, state: Arc<State>, faults: Faults) {
    Mock::given(method("GET"))
        .and(path_regex(r"^(/app/[^/]+)?/api/v3/users/[^/]+/?$"))
        .respond_with(OneUserResponder { state, faults })
        .mount(server)
        .await;
}

struct OneUserResponder {
    state: Arc<State>,
    faults: Faults,
}

impl Respond for OneUserResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        faulted(&self.faults, || self.answer(request))
    }
}

impl OneUserResponder {
    fn answer(&self, request: &Request) -> ResponseTemplate {
        if let Some(refused) = self.state.refusal(request) {
            return refused;
        }
        let not_found = || Refusal::new(404, 4007, "Invalid URL").template();
        match self.state.data.user_details {
            UserDetails::Forbidden => {
                return Refusal::new(403, 4002, "UNAUTHORISED").template();
            }
            UserDetails::Missing => return not_found(),
            UserDetails::Served => {}
        }
        let wanted = request
            .url
            .path()
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .and_then(|id| super::super::parse_id(id).ok());
        let Some(wanted) = wanted else {
            return not_found();
        };
        let user = self.state.data.users.iter().find(|user| {
            let id = match user.get("id") {
                Some(Value::String(id)) => id.clone(),
                Some(other) => other.to_string(),
                None => return false,
            };
            super::super::parse_id(&id).is_ok_and(|id| id == wanted)
        });
        match user {
            Some(user) => json_response(
                200,
                &json!({
                    "response_status": { "status_code": 2000, "status": "success" },
                    "user": user,
                }),
            ),
            None => not_found(),
        }
    }
}
