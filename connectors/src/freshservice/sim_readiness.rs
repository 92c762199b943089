//! Freshservice simulator, the part the readiness probe reads: every agent
//! it serves (in lists, by id and as `agents/me`) carries `occasional` and
//! `roles` (`role_id`, `assignment_scope`, `groups`), as the service always
//! answers them.
//!
//! A fixture that says nothing about them serves a ready bot: no
//! `occasional` is a full-time agent, and no `roles` is one role per
//! `role_ids` entry scoped to the entire helpdesk. What a fixture does say
//! is served as written, so it can express each problem (`"occasional":
//! true`, `"assignment_scope": "assigned_items"`) and each answer the probe
//! cannot read (`"roles": null`, `"roles": []`, `"occasional": null`). A key
//! whose `user` is empty gets 404 from `agents/me`. Never answers per test.

use serde_json::{Value, json};

use super::Object;

/// The scope a role has where the fixture does not say.
const DEFAULT_SCOPE: &str = "entire_helpdesk";

/// Fills in what a fixture's agent leaves out, keeping what it says.
pub(super) fn complete_agent(agent: &mut Object) {
    if !agent.contains_key("occasional") {
        agent.insert("occasional".into(), Value::Bool(false));
    }
    if !agent.contains_key("roles") {
        let roles: Vec<Value> = agent
            .get("role_ids")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|id| json!({"role_id": id, "assignment_scope": DEFAULT_SCOPE, "groups": []}))
            .collect();
        agent.insert("roles".into(), Value::Array(roles));
    }
    if !agent.contains_key("role_ids") {
        let ids: Vec<Value> = agent
            .get("roles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|role| role.get("role_id").cloned())
            .collect();
        agent.insert("role_ids".into(), Value::Array(ids));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(agent: Value) -> Value {
        let mut agent: Object = serde_json::from_value(agent).expect("an object");
        complete_agent(&mut agent);
        Value::Object(agent)
    }

    #[test]
    fn an_agent_without_readiness_data_is_a_full_time_agent_with_helpdesk_wide_roles() {
        let agent = completed(json!({"id": 1, "role_ids": [7, 8]}));
        assert_eq!(agent["occasional"], false);
        assert_eq!(
            agent["roles"],
            json!([
                {"role_id": 7, "assignment_scope": "entire_helpdesk", "groups": []},
                {"role_id": 8, "assignment_scope": "entire_helpdesk", "groups": []}
            ])
        );
    }

    #[test]
    fn what_the_fixture_says_is_served_as_written() {
        let roles = json!([{"role_id": 9, "assignment_scope": "assigned_items", "groups": []}]);
        let agent = completed(json!({"id": 1, "occasional": true, "roles": roles}));
        assert_eq!(agent["occasional"], true);
        assert_eq!(agent["roles"], roles);
        assert_eq!(agent["role_ids"], json!([9]));
        let unreadable = completed(json!({"id": 1, "occasional": null, "roles": null}));
        assert_eq!(unreadable["occasional"], Value::Null);
        assert_eq!(unreadable["roles"], Value::Null);
    }
}
