//! The data behind the Jira simulator's readiness endpoints: the fixture's
//! `simulator.readiness` section, checked once when the simulator starts
//! (every accountId it names is a user in `values`, every permission key
//! one the simulator knows, every issue and transition has its status
//! category), and the rules the endpoints share (who holds what where).
//!
//! Never answers a request: `sim/readiness.rs` does, from this data.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::sim::InvalidSimData;

/// The Service Management permission: unknown on a site without it.
pub(super) const AGENT: &str = "SERVICEDESK_AGENT";

/// Project permissions the simulator knows: key, id (Jira's built-in ids;
/// an app's permission carries none), name, description. Any other key is
/// refused with 400, as Jira refuses an invalid key.
pub(super) const PERMISSIONS: [(&str, Option<&str>, &str, &str); 10] = [
    (
        "BROWSE_PROJECTS",
        Some("10"),
        "Browse Projects",
        "Ability to browse projects and the issues within them.",
    ),
    (
        "CREATE_ISSUES",
        Some("11"),
        "Create Issues",
        "Ability to create issues.",
    ),
    (
        "EDIT_ISSUES",
        Some("12"),
        "Edit Issues",
        "Ability to edit issues.",
    ),
    (
        "ASSIGN_ISSUES",
        Some("13"),
        "Assign Issues",
        "Ability to assign issues to other people.",
    ),
    (
        "RESOLVE_ISSUES",
        Some("14"),
        "Resolve Issues",
        "Ability to resolve and reopen issues.",
    ),
    (
        "ADD_COMMENTS",
        Some("15"),
        "Add Comments",
        "Ability to comment on issues.",
    ),
    (
        "ASSIGNABLE_USER",
        Some("17"),
        "Assignable User",
        "Users with this permission may be assigned to issues.",
    ),
    (
        "ADMINISTER_PROJECTS",
        Some("23"),
        "Administer Projects",
        "Ability to administer a project in Jira.",
    ),
    (
        "TRANSITION_ISSUES",
        Some("46"),
        "Transition Issues",
        "Ability to transition issues.",
    ),
    (
        AGENT,
        None,
        "Service Project Agent",
        "Allows users to interact with customers and access Jira Service Management features of a project.",
    ),
];

/// `simulator.readiness` as written in the fixture.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReadinessData {
    /// False: a site without Jira Service Management (SERVICEDESK_AGENT is
    /// an invalid key, `/rest/servicedeskapi` answers 404).
    #[serde(default = "yes")]
    service_management: bool,
    /// Group names by accountId; an account not listed is in
    /// [`DEFAULT_GROUP`] only.
    #[serde(default)]
    groups: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    projects: Vec<ProjectData>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ProjectData {
    key: String,
    id: String,
    name: String,
    /// The service desk's id; absent for a project that is not a Service
    /// Management project.
    #[serde(default)]
    service_desk_id: Option<String>,
    /// Permission keys each accountId lacks here; lacking BROWSE_PROJECTS
    /// hides the project (404s, and a search that does not know it).
    #[serde(default)]
    missing_permissions: BTreeMap<String, Vec<String>>,
    /// The accountIds of the service desk's customers.
    #[serde(default)]
    customers: Vec<String>,
    /// Issues in the `IssueBean` shape with `fields.status` (and
    /// `fields.created` for the order), each with its `transitions` in the
    /// `IssueTransition` shape (`fields` being the transition screen's).
    #[serde(default)]
    issues: Vec<Value>,
}

/// The validated site.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub(super) service_management: bool,
    pub(super) groups: BTreeMap<String, Vec<String>>,
    pub(super) projects: Vec<Project>,
}

impl Default for Site {
    fn default() -> Self {
        Site {
            service_management: true,
            groups: BTreeMap::new(),
            projects: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Project {
    pub(super) key: String,
    pub(super) id: String,
    pub(super) name: String,
    pub(super) service_desk_id: Option<String>,
    pub(super) missing: BTreeMap<String, BTreeSet<String>>,
    pub(super) customers: Vec<String>,
    pub(super) issues: Vec<Issue>,
}

#[derive(Debug, Clone)]
pub(super) struct Issue {
    pub(super) id: String,
    pub(super) key: String,
    pub(super) created: String,
    pub(super) fields: Map<String, Value>,
    pub(super) transitions: Vec<Value>,
}

impl Project {
    /// Anonymous callers hold nothing.
    pub(super) fn holds(&self, account: Option<&str>, key: &str) -> bool {
        account.is_some_and(|account| {
            !self
                .missing
                .get(account)
                .is_some_and(|missing| missing.contains(key))
        })
    }

    pub(super) fn visible_to(&self, account: Option<&str>) -> bool {
        self.holds(account, "BROWSE_PROJECTS")
    }
}

impl Site {
    /// Parses `simulator.readiness`; `users` are the fixture's ids, in
    /// the field `id_field` (`accountId`, or Data Center's `key`).
    pub(crate) fn parse(
        value: Value,
        users: &BTreeSet<String>,
        id_field: &str,
    ) -> Result<Site, InvalidSimData> {
        let data: ReadinessData = serde_path_to_error::deserialize(value)
            .map_err(|err| format!("simulator.readiness.{}: {}", err.path(), err.inner()))?;
        let known = |account: &str, at: String| -> Result<(), InvalidSimData> {
            if users.contains(account) {
                Ok(())
            } else {
                Err(InvalidSimData(format!(
                    "{at}: {account} is not the {id_field} of any user in the data"
                )))
            }
        };
        for account in data.groups.keys() {
            known(account, "simulator.readiness.groups".into())?;
        }
        let mut keys = BTreeSet::new();
        let mut projects = Vec::new();
        for (index, project) in data.projects.into_iter().enumerate() {
            let at = format!("simulator.readiness.projects[{index}]");
            if !keys.insert(project.key.clone()) {
                return Err(InvalidSimData(format!(
                    "{at}: project key {} is used by an earlier project",
                    project.key
                )));
            }
            let mut missing = BTreeMap::new();
            for (account, permissions) in project.missing_permissions {
                known(&account, format!("{at}.missingPermissions"))?;
                for key in &permissions {
                    if !PERMISSIONS.iter().any(|(known, ..)| known == key) {
                        return Err(InvalidSimData(format!(
                            "{at}.missingPermissions: {key} is not a permission key the simulator knows"
                        )));
                    }
                }
                missing.insert(account, permissions.into_iter().collect());
            }
            for account in &project.customers {
                known(account, format!("{at}.customers"))?;
            }
            let issues = project
                .issues
                .into_iter()
                .enumerate()
                .map(|(i, issue)| parse_issue(&format!("{at}.issues[{i}]"), &project.key, issue))
                .collect::<Result<Vec<Issue>, String>>()?;
            projects.push(Project {
                key: project.key,
                id: project.id,
                name: project.name,
                service_desk_id: project.service_desk_id,
                missing,
                customers: project.customers,
                issues,
            });
        }
        Ok(Site {
            service_management: data.service_management,
            groups: data.groups,
            projects,
        })
    }

    pub(super) fn knows_permission(&self, key: &str) -> bool {
        PERMISSIONS.iter().any(|(known, ..)| *known == key)
            && (self.service_management || key != AGENT)
    }

    /// A project by `projectKey:KEY`, `projectId:ID` or the desk's own id,
    /// if it is a Service Management project.
    pub(super) fn desk(&self, id: &str) -> Option<&Project> {
        let matches = |p: &&Project| match (
            id.strip_prefix("projectKey:"),
            id.strip_prefix("projectId:"),
        ) {
            (Some(key), _) => p.key == key,
            (_, Some(project_id)) => p.id == project_id,
            _ => p.service_desk_id.as_deref() == Some(id),
        };
        self.projects
            .iter()
            .filter(|p| p.service_desk_id.is_some())
            .find(matches)
    }
}

fn parse_issue(at: &str, project: &str, value: Value) -> Result<Issue, String> {
    let Value::Object(mut object) = value else {
        return Err(format!("{at}: an issue must be a JSON object"));
    };
    let text = |object: &Map<String, Value>, key: &str| -> Result<String, String> {
        match object.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(format!("{at}: `{key}` must be a non-empty string")),
        }
    };
    let id = text(&object, "id")?;
    let key = text(&object, "key")?;
    if !key.starts_with(&format!("{project}-")) {
        return Err(format!(
            "{at}: the key {key} is not one of project {project}"
        ));
    }
    let transitions = match object.remove("transitions") {
        None => Vec::new(),
        Some(Value::Array(transitions)) => transitions,
        Some(_) => return Err(format!("{at}: `transitions` must be an array")),
    };
    for (i, transition) in transitions.iter().enumerate() {
        if category(transition.get("to")).is_none() {
            return Err(format!(
                "{at}.transitions[{i}]: `to.statusCategory.key` must be a string"
            ));
        }
    }
    let fields = match object.remove("fields") {
        Some(Value::Object(fields)) => fields,
        _ => return Err(format!("{at}: `fields` must be an object")),
    };
    if category(fields.get("status")).is_none() {
        return Err(format!(
            "{at}: `fields.status.statusCategory.key` must be a string"
        ));
    }
    let created = match fields.get("created") {
        Some(Value::String(created)) => created.clone(),
        None => String::new(),
        Some(_) => return Err(format!("{at}: `fields.created` must be a string")),
    };
    Ok(Issue {
        id,
        key,
        created,
        fields,
        transitions,
    })
}

fn category(status: Option<&Value>) -> Option<&str> {
    status?.get("statusCategory")?.get("key")?.as_str()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn readiness_data_naming_an_unknown_account_or_permission_is_refused() {
        let users: BTreeSet<String> = ["abc".to_owned()].into();
        let err =
            Site::parse(json!({"groups": {"nobody": ["g"]}}), &users, "accountId").unwrap_err();
        assert!(err.to_string().contains("nobody"), "{err}");
        let err = Site::parse(
            json!({"projects": [{"key": "ITH", "id": "1", "name": "IT", "missingPermissions": {"abc": ["BROWSE"]}}]}),
            &users,
            "accountId",
        )
        .unwrap_err();
        assert!(err.to_string().contains("BROWSE"), "{err}");
        let err =
            Site::parse(json!({"projects": [], "project": []}), &users, "accountId").unwrap_err();
        assert!(err.to_string().contains("project"), "{err}");
    }

    #[test]
    fn an_issue_without_a_status_category_is_refused() {
        let users = BTreeSet::new();
        let err = Site::parse(
            json!({"projects": [{"key": "ITH", "id": "1", "name": "IT", "issues": [
                {"id": "1", "key": "ITH-1", "fields": {"status": {"name": "Open"}}}
            ]}]}),
            &users,
            "accountId",
        )
        .unwrap_err();
        assert!(err.to_string().contains("issues[0]"), "{err}");
    }
}
