//! ServiceDesk Plus bot readiness (SPEC section 5.1): the bot's user must be
//! a technician (`is_technician`); a requester cannot pick up, assign or
//! close requests (BOT_PERMISSION_MISSING).
//!
//! Costs no request where the lookups' answer already carries
//! `is_technician` for the bot (builds 11000 and later list it with every
//! user); otherwise one `GET /api/v3/users/{id}` with the lookups' headers.
//! Never fails the system: a refusal in `response_status` (4002 forbidden,
//! 4007 not found, 4022 key refused), a 401, 403 or 404, or a record
//! without `is_technician` (builds before 11000) is a part it cannot tell,
//! and the connector's classifier lets such an answer through to this
//! probe instead of stopping the system (see [`is_one_user_path`]).

use serde_json::Value;

use super::wire::{OneUser, ResponseStatus};
use super::{ACCEPT_V3, Client, REQUESTER, TECHNICIAN, USERS_PATH, parse_id};
use crate::http::RequestSpec;
use crate::{ItsmUser, ItsmUserId, Readiness, ReadinessInput, ReadinessKind, ReadinessProblem};

/// Whether `path` is the one-user route only this probe asks
/// (`…/api/v3/users/<digits>`, on-premises or under `/app/<portal>`).
pub(super) fn is_one_user_path(path: &str) -> bool {
    path.rsplit_once('/').is_some_and(|(route, id)| {
        route.ends_with(USERS_PATH) && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The probe: the lookups' `is_technician` where they carried it, else one
/// GET of the bot's user.
pub(super) async fn probe(client: &Client, input: &ReadinessInput) -> Readiness {
    let mut readiness = Readiness::default();
    if !client.readiness.enabled {
        readiness.cannot_tell("disabled by [connectors.readiness] enabled = false");
        return readiness;
    }
    let known = match input.bot.record_kind.as_deref() {
        Some(TECHNICIAN) => Some(true),
        Some(REQUESTER) => Some(false),
        _ => None,
    };
    let is_technician = match known {
        Some(known) => Ok(known),
        None => fetch_is_technician(client, &input.bot.itsm_user_id).await,
    };
    match is_technician {
        Ok(true) => {}
        Ok(false) => readiness.problem(not_a_technician(&input.bot)),
        Err(why) => readiness.cannot_tell(why),
    }
    readiness
}

/// `is_technician` of one user by `GET /api/v3/users/{id}`; `Err` says why
/// it cannot be told.
async fn fetch_is_technician(client: &Client, id: &ItsmUserId) -> Result<bool, String> {
    let id = parse_id(id.as_str()).map_err(|why| format!("{why}; {CANNOT_TELL}"))?;
    // `id` is digits only: nothing else reaches the path.
    let path = format!("{USERS_PATH}/{id}");
    let spec = RequestSpec::probe(client.http.endpoint(&path)).header("accept", ACCEPT_V3);
    let reply = client
        .http
        .send(&spec)
        .await
        .map_err(|err| format!("{err}; {CANNOT_TELL}"))?;
    let http = reply.status.as_u16();
    let Ok(body) = serde_json::from_slice::<Value>(&reply.body) else {
        return Err(format!(
            "GET {path} answered HTTP {http} without ServiceDesk Plus JSON; {CANNOT_TELL}"
        ));
    };
    if let Some(status) = ResponseStatus::read(&body)
        && (status.failed || status.codes.iter().any(|&code| code >= 4000))
    {
        return Err(format!(
            "GET {path} answered HTTP {http}, {}; {CANNOT_TELL}",
            refusal(&status)
        ));
    }
    if !reply.status.is_success() {
        return Err(format!("GET {path} answered HTTP {http}; {CANNOT_TELL}"));
    }
    let user = serde_json::from_value::<OneUser>(body)
        .ok()
        .and_then(|answer| answer.user)
        .ok_or_else(|| format!("GET {path} answered without a `user`; {CANNOT_TELL}"))?;
    if user.id().is_some_and(|found| found != id) {
        return Err(format!(
            "GET {path} answered with another user's record; {CANNOT_TELL}"
        ));
    }
    user.is_technician().ok_or_else(|| {
        format!(
            "the bot's user record has no `is_technician` (ServiceDesk Plus builds before 11000 \
             leave it out); {CANNOT_TELL}"
        )
    })
}

const CANNOT_TELL: &str = "whether the bot is a technician cannot be told";

/// A refusal's codes in words, for the reason a part cannot tell.
fn refusal(status: &ResponseStatus) -> String {
    let meaning = if status.has(4002) {
        "4002 (forbidden: the bot may not view users)"
    } else if status.has(4007) {
        "4007 (not found: the build may have no such route)"
    } else if status.has(4022) {
        "4022 (the key was refused)"
    } else {
        "a failed status"
    };
    let codes: Vec<String> = status.codes.iter().map(u64::to_string).collect();
    match &status.message {
        Some(message) => format!("{meaning}, codes {}: {message}", codes.join("/")),
        None => format!("{meaning}, codes {}", codes.join("/")),
    }
}

fn not_a_technician(bot: &ItsmUser) -> ReadinessProblem {
    let who = bot
        .external_id
        .as_ref()
        .map_or_else(String::new, |external_id| format!("{external_id} "));
    ReadinessProblem::new(
        ReadinessKind::PermissionMissing,
        format!(
            "the bot's ServiceDesk Plus user {who}({}) is a requester, not a technician \
             (is_technician: false): it cannot pick up, assign, update or close requests",
            bot.itsm_user_id
        ),
        "in ServiceDesk Plus, Admin → Users → Technicians (Cloud: Setup → Users & Permissions → \
         Technicians) → add the bot's account as a technician, with a role that can add and \
         edit requests",
    )
    .values(
        Some("technician (is_technician: true)".into()),
        Some("requester (is_technician: false)".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_user_by_id_is_the_probe_s_path() {
        assert!(is_one_user_path("/api/v3/users/123640000000142501"));
        assert!(is_one_user_path("/app/itdesk/api/v3/users/7"));
        assert!(is_one_user_path("/sdp/api/v3/users/7"));
        for other in [
            "/api/v3/users",
            "/api/v3/users/",
            "/api/v3/users/abc",
            "/api/v3/requests/7",
            "/oauth/v2/token",
            "/api/v3/users/7/photo",
        ] {
            assert!(!is_one_user_path(other), "{other}");
        }
    }

    #[test]
    fn refusals_name_their_code_and_meaning() {
        let forbidden = ResponseStatus::read(&json!({"response_status": {"status_code": 4000,
            "status": "failed", "messages": [{"status_code": 4002, "type": "failed",
            "message": "UNAUTHORISED"}]}}))
        .expect("a status");
        let text = refusal(&forbidden);
        assert!(text.contains("4002 (forbidden"), "{text}");
        assert!(text.contains("4000/4002: UNAUTHORISED"), "{text}");
        let missing = ResponseStatus::read(
            &json!({"response_status": {"status_code": 4007, "status": "failed"}}),
        )
        .expect("a status");
        assert!(refusal(&missing).starts_with("4007 (not found"));
    }

    #[test]
    fn the_problem_names_the_account_and_where_to_make_it_a_technician() {
        let bot: ItsmUser = serde_json::from_value(json!({"itsm_user_id": "123640000000142507",
            "external_id": "virtual-agent@acme.com", "active": true, "first_name": null,
            "last_name": null, "full_name": null, "record_kind": "requester"}))
        .expect("a user");
        let problem = not_a_technician(&bot);
        assert_eq!(problem.kind, ReadinessKind::PermissionMissing);
        assert!(
            problem
                .message
                .contains("virtual-agent@acme.com (123640000000142507)")
        );
        assert!(problem.fix.contains("Admin → Users → Technicians"));
        assert_eq!(
            problem.actual.as_deref(),
            Some("requester (is_technician: false)")
        );
    }
}
