//! Salesforce bot readiness (SPEC section 5.1): the bot can query, create
//! and update the configured object (`[connectors.readiness] object`),
//! read from the object's describe, which answers for the calling user.
//!
//! Sends one GET request, on the instance and API version the lookups use.
//! Reads 401, 403 and 404 itself and never fails the system: a 404 means
//! the bot cannot see the object (BOT_PERMISSION_MISSING); the daily quota
//! (403 `REQUEST_LIMIT_EXCEEDED`, which the connector's classifier reads
//! first), another refusal or an answer that is not a describe cannot tell.

use reqwest::StatusCode;
use serde::Deserialize;

use super::{Client, QUERY_PATH, endpoint, wire};
use crate::http::RequestSpec;
use crate::{Readiness, ReadinessInput, ReadinessKind, ReadinessProblem};

/// The object-level flags the bot needs, with the object permission of a
/// profile or permission set that grants each.
const NEEDED: [(&str, &str); 3] = [
    ("queryable", "Read"),
    ("createable", "Create"),
    ("updateable", "Edit"),
];

/// The describe's object-level flags; the rest of its (large) answer is
/// not read.
#[derive(Debug, Deserialize)]
struct Describe {
    #[serde(default)]
    queryable: Option<bool>,
    #[serde(default)]
    createable: Option<bool>,
    #[serde(default)]
    updateable: Option<bool>,
}

impl Describe {
    fn flag(&self, name: &str) -> Option<bool> {
        match name {
            "queryable" => self.queryable,
            "createable" => self.createable,
            "updateable" => self.updateable,
            _ => None,
        }
    }
}

/// `/services/data/vXX.X/sobjects/<object>/describe`, on the version of
/// [`QUERY_PATH`].
pub(super) fn describe_path(object: &str) -> String {
    let root = QUERY_PATH.strip_suffix("/query").unwrap_or(QUERY_PATH);
    format!("{root}/sobjects/{object}/describe")
}

/// Reads the object's describe for the bot.
pub(super) async fn probe(client: &Client, input: &ReadinessInput) -> Readiness {
    let mut readiness = Readiness::default();
    let object = client.readiness.object.as_str();
    if !is_object_name(object) {
        readiness.cannot_tell(format!(
            "the object {object:?} is not a Salesforce object name; it was not described"
        ));
        return readiness;
    }
    let bot = input
        .bot
        .external_id
        .as_ref()
        .map(|id| format!("\"{id}\""))
        .unwrap_or_else(|| input.bot.itsm_user_id.to_string());
    let instance = match client.instance().await {
        Ok(instance) => instance,
        Err(err) => {
            readiness.cannot_tell(format!("the object {object} could not be described: {err}"));
            return readiness;
        }
    };
    let spec = RequestSpec::probe(endpoint(instance, &describe_path(object)));
    let reply = match client.http.send(&spec).await {
        Ok(reply) => reply,
        Err(err) => {
            readiness.cannot_tell(format!("the object {object} could not be described: {err}"));
            return readiness;
        }
    };
    client.note_usage(&reply);
    let fix = |permissions: &str| {
        format!(
            "in Salesforce Setup → Profiles (or Permission Sets) → the bot's profile (or a \
             permission set assigned to the bot) → Object Settings → {object} → Edit → Object \
             Permissions: {permissions}; Save"
        )
    };
    let expected = NEEDED.map(|(flag, _)| flag).join(", ");
    match reply.status {
        StatusCode::NOT_FOUND => readiness.problem(
            ReadinessProblem::new(
                ReadinessKind::PermissionMissing,
                format!(
                    "the bot {bot} cannot see the Salesforce object {object}: its describe \
                     answers 404 (the object does not exist in the org, or the bot's profile \
                     and permission sets give no access to it)"
                ),
                format!(
                    "check the object's API name in Setup → Object Manager, then {}",
                    fix("Read, Create, Edit")
                ),
            )
            .values(Some(expected), Some(format!("{object} not visible"))),
        ),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            let codes: Vec<String> = wire::error_codes(&reply.body)
                .into_iter()
                .filter_map(|error| error.error_code)
                .collect();
            readiness.cannot_tell(format!(
                "Salesforce refused to describe {object} (HTTP {}{})",
                reply.status.as_u16(),
                if codes.is_empty() {
                    String::new()
                } else {
                    format!(" {}", codes.join(", "))
                }
            ));
        }
        _ => match reply.json::<Describe>(client.http.integration()) {
            Err(err) => {
                readiness.cannot_tell(format!("the object {object} could not be described: {err}"))
            }
            Ok(describe) => judge(&describe, object, &bot, &fix, &expected, &mut readiness),
        },
    }
    readiness
}

/// BOT_PERMISSION_MISSING for the flags the describe says are false; a
/// describe without one of them cannot tell.
fn judge(
    describe: &Describe,
    object: &str,
    bot: &str,
    fix: &dyn Fn(&str) -> String,
    expected: &str,
    readiness: &mut Readiness,
) {
    let absent: Vec<&str> = NEEDED
        .iter()
        .filter(|(flag, _)| describe.flag(flag).is_none())
        .map(|(flag, _)| *flag)
        .collect();
    if !absent.is_empty() {
        readiness.cannot_tell(format!(
            "the describe of {object} does not say {}",
            absent.join(", ")
        ));
    }
    let missing: Vec<(&str, &str)> = NEEDED
        .iter()
        .filter(|(flag, _)| describe.flag(flag) == Some(false))
        .copied()
        .collect();
    if missing.is_empty() {
        return;
    }
    let flags: Vec<&str> = missing.iter().map(|(flag, _)| *flag).collect();
    let permissions: Vec<&str> = missing.iter().map(|(_, permission)| *permission).collect();
    readiness.problem(
        ReadinessProblem::new(
            ReadinessKind::PermissionMissing,
            format!(
                "the bot {bot} lacks the {} permission{} on the Salesforce object {object}: \
                 its describe says {} false",
                permissions.join(", "),
                if permissions.len() == 1 { "" } else { "s" },
                flags.join(", ")
            ),
            fix(&permissions.join(", ")),
        )
        .values(Some(expected.to_owned()), Some(flags.join(", "))),
    );
}

/// An object's API name as the config allows it: a letter, then letters,
/// digits and `_` (`Case`, `Incident__c`). Nothing else reaches the path.
fn is_object_name(object: &str) -> bool {
    let mut chars = object.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_describe_path_uses_the_lookups_api_version() {
        assert_eq!(
            describe_path("Case"),
            "/services/data/v60.0/sobjects/Case/describe"
        );
        assert!(QUERY_PATH.starts_with("/services/data/v60.0/"));
    }

    #[test]
    fn only_api_names_reach_the_path() {
        assert!(is_object_name("Case"));
        assert!(is_object_name("Incident__c"));
        for bad in ["", "..", "Case/describe", "1Case", "Case?x", "Ca se"] {
            assert!(!is_object_name(bad), "{bad}");
        }
    }

    #[test]
    fn each_false_flag_is_named_with_the_permission_that_grants_it() {
        let mut readiness = Readiness::default();
        let describe = Describe {
            queryable: Some(true),
            createable: Some(false),
            updateable: Some(false),
        };
        let fix = |permissions: &str| format!("grant {permissions}");
        judge(
            &describe,
            "Case",
            "\"bot\"",
            &fix,
            "queryable, createable, updateable",
            &mut readiness,
        );
        assert!(readiness.cannot_tell.is_empty());
        let [problem] = readiness.problems.as_slice() else {
            panic!("one problem: {readiness:?}");
        };
        assert_eq!(problem.actual.as_deref(), Some("createable, updateable"));
        assert_eq!(problem.fix, "grant Create, Edit");
        assert!(
            problem.message.contains("Create, Edit permissions"),
            "{}",
            problem.message
        );
    }

    #[test]
    fn a_describe_without_a_flag_cannot_tell_that_part() {
        let mut readiness = Readiness::default();
        let describe = Describe {
            queryable: Some(true),
            createable: None,
            updateable: Some(true),
        };
        judge(
            &describe,
            "Case",
            "bot",
            &|p| p.to_owned(),
            "",
            &mut readiness,
        );
        assert!(readiness.problems.is_empty());
        assert_eq!(
            readiness.cannot_tell,
            ["the describe of Case does not say createable"]
        );
    }
}
