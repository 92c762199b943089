//! `simulator.readiness` of a Jira recording (Cloud and Data Center alike),
//! rebuilt from the answers the readiness probe (`jira/readiness.rs`) read,
//! so that the probe replays to the same result: the owner's groups, each
//! project with the permissions the owner lacks there, its service desk
//! and the customers it listed, its newest issue with its status and
//! transitions, and whether the site has Service Management at all.
//!
//! Only what the probe reads is kept; `self`, `iconUrl`, `_links` and a
//! field's `autoCompleteUrl` name the live host and are left out.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::jira::NEEDED_PERMISSIONS;
use crate::jira::api::JiraApi;
use crate::recording::Exchange;

const CUSTOMERS_PREFIX: &str = "/rest/servicedeskapi/servicedesk/projectKey:";
const CUSTOMERS_SUFFIX: &str = "/customer";

/// Not asked by the probe, but it lets a desk's customers be listed by a
/// caller who is not an agent: lacking it is what a 403 there says.
const ADMINISTER_PROJECTS: &str = "ADMINISTER_PROJECTS";

/// The fields of a status and of its category that the probe reads or
/// names in its messages.
const STATUS_FIELDS: [&str; 2] = ["name", "id"];
const CATEGORY_FIELDS: [&str; 4] = ["id", "key", "colorName", "name"];
const TRANSITION_FIELDS: [&str; 8] = [
    "id",
    "name",
    "hasScreen",
    "isGlobal",
    "isInitial",
    "isAvailable",
    "isConditional",
    "isLooped",
];
/// A transition screen's field (`FieldMetadata`) and its schema.
const SCREEN_FIELD_FIELDS: [&str; 6] = [
    "required",
    "schema",
    "name",
    "key",
    "operations",
    "hasDefaultValue",
];
const SCHEMA_FIELDS: [&str; 5] = ["type", "items", "system", "custom", "customId"];

/// What the probe's answers said about the site.
pub(crate) struct Site {
    api: &'static JiraApi,
    /// False once `/mypermissions` refused SERVICEDESK_AGENT as a key.
    service_management: bool,
    /// Group names by the id `/myself?expand=groups` answered with.
    groups: BTreeMap<String, Vec<String>>,
    projects: BTreeMap<String, Project>,
    /// The transitions listed per issue key.
    transitions: BTreeMap<String, Vec<Value>>,
    /// Every record a customer list showed: users of the data too.
    customer_records: Vec<Value>,
}

/// One project as the owner saw it.
#[derive(Default)]
struct Project {
    /// The permissions the owner lacks here.
    missing: BTreeSet<String>,
    /// `Some(false)` when Jira named no service desk for the project.
    desk: Option<bool>,
    customers: BTreeSet<String>,
    newest: Option<Issue>,
}

/// The project's newest issue.
struct Issue {
    id: String,
    key: String,
    status: Value,
}

impl Site {
    /// Reads every answer of the probe among `exchanges`.
    pub(crate) fn read(api: &'static JiraApi, exchanges: &[Exchange]) -> Site {
        let mut site = Site {
            api,
            service_management: true,
            groups: BTreeMap::new(),
            projects: BTreeMap::new(),
            transitions: BTreeMap::new(),
            customer_records: Vec::new(),
        };
        for exchange in exchanges.iter().filter(|e| e.method == "GET") {
            site.read_one(exchange);
        }
        site
    }

    fn read_one(&mut self, exchange: &Exchange) {
        let path = exchange.path.as_str();
        if path == self.api.path("myself") {
            self.groups_of(exchange);
        } else if path == self.api.path("mypermissions") {
            self.permissions(exchange);
        } else if path == self.api.issue_search {
            self.newest_issue(exchange);
        } else if let Some(project) = customers_project(path) {
            self.customers(project, exchange);
        } else if let Some(issue) = transitions_issue(self.api, path) {
            self.transitions_of(issue, exchange);
        }
    }

    /// The records the customer lists showed, to be kept as users.
    pub(crate) fn customer_records(&self) -> &[Value] {
        &self.customer_records
    }

    /// `/myself?expand=groups`: the caller's groups, in Jira's order.
    fn groups_of(&mut self, exchange: &Exchange) {
        let expanded = exchange
            .param("expand")
            .is_some_and(|e| e.split(',').any(|part| part.trim() == "groups"));
        if !expanded || !success(exchange) {
            return;
        }
        let body = &exchange.body;
        let (Some(id), Some(items)) = (
            body.get(self.api.user_id_field).and_then(Value::as_str),
            body.pointer("/groups/items").and_then(Value::as_array),
        ) else {
            return;
        };
        let names = items
            .iter()
            .filter_map(|group| group.get("name").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        self.groups.insert(id.to_owned(), names);
    }

    /// `/mypermissions` in a project's context: what the owner lacks, a
    /// project it cannot see (404), a site without Service Management (400:
    /// SERVICEDESK_AGENT is no key there).
    fn permissions(&mut self, exchange: &Exchange) {
        let Some(key) = exchange.param("projectKey").filter(|k| !k.is_empty()) else {
            return;
        };
        match exchange.status {
            404 => {
                self.project(key).missing.insert("BROWSE_PROJECTS".into());
            }
            400 => {
                self.service_management = false;
                self.project(key);
            }
            _ if success(exchange) => {
                let missing: Vec<String> = NEEDED_PERMISSIONS
                    .iter()
                    .filter(|permission| {
                        exchange
                            .body
                            .pointer(&format!("/permissions/{permission}/havePermission"))
                            == Some(&Value::Bool(false))
                    })
                    .map(|permission| (*permission).to_owned())
                    .collect();
                self.project(key).missing.extend(missing);
            }
            _ => {}
        }
    }

    /// A desk's customer list searched for one manual user: each customer
    /// shown is one, and a user searched but not shown is none (the
    /// simulator lists only these). 404: the project has no desk; 403:
    /// the owner may not list customers there.
    fn customers(&mut self, key: &str, exchange: &Exchange) {
        match exchange.status {
            404 => self.project(key).desk = Some(false),
            403 => {
                let project = self.project(key);
                project.desk = Some(true);
                project.missing.insert(ADMINISTER_PROJECTS.into());
            }
            _ if success(exchange) => {
                let values = exchange
                    .body
                    .get("values")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let id_field = self.api.user_id_field;
                let project = self.project(key);
                project.desk = Some(true);
                for customer in &values {
                    if let Some(id) = customer.get(id_field).and_then(Value::as_str) {
                        project.customers.insert(id.to_owned());
                    }
                }
                self.customer_records.extend(values);
            }
            _ => {}
        }
    }

    /// The issue search's first issue: the project's newest, under the
    /// project its key names.
    fn newest_issue(&mut self, exchange: &Exchange) {
        if !success(exchange) {
            return;
        }
        let Some(issue) = exchange.body.pointer("/issues/0") else {
            return;
        };
        let Some(key) = issue.get("key").and_then(Value::as_str) else {
            return;
        };
        let Some((project, _)) = key.rsplit_once('-') else {
            return;
        };
        let Some(status) = issue.pointer("/fields/status").and_then(status) else {
            return;
        };
        let id = issue.get("id").and_then(Value::as_str).unwrap_or(key);
        let project = self.project(project);
        if project.newest.is_none() {
            project.newest = Some(Issue {
                id: id.to_owned(),
                key: key.to_owned(),
                status,
            });
        }
    }

    /// `/issue/{key}/transitions?expand=transitions.fields`.
    fn transitions_of(&mut self, issue: &str, exchange: &Exchange) {
        if !success(exchange) {
            return;
        }
        let listed = exchange
            .body
            .get("transitions")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(transition).collect())
            .unwrap_or_default();
        self.transitions.entry(issue.to_owned()).or_insert(listed);
    }

    fn project(&mut self, key: &str) -> &mut Project {
        self.projects.entry(key.to_owned()).or_default()
    }

    /// `simulator.readiness`, answering as `owner`; `known` are the ids of
    /// the data's users (the simulator refuses any other).
    pub(crate) fn section(&self, owner: Option<&str>, known: &BTreeSet<String>) -> Value {
        let owner = owner.filter(|owner| known.contains(*owner));
        let groups: Map<String, Value> = self
            .groups
            .iter()
            .filter(|(id, _)| known.contains(*id))
            .map(|(id, names)| (id.clone(), json!(names)))
            .collect();
        let projects: Vec<Value> = self
            .projects
            .iter()
            .filter_map(|(key, project)| self.project_value(key, project, owner, known))
            .collect();
        json!({
            "serviceManagement": self.service_management,
            "groups": groups,
            "projects": projects,
        })
    }

    /// One project of the data. Jira does not show the probe a project's
    /// id, name or desk id, so the key stands for all three. A project the
    /// owner cannot see is left out when there is no owner: nobody else
    /// can see it either.
    fn project_value(
        &self,
        key: &str,
        project: &Project,
        owner: Option<&str>,
        known: &BTreeSet<String>,
    ) -> Option<Value> {
        let hidden = project.missing.contains("BROWSE_PROJECTS");
        if hidden && owner.is_none() {
            return None;
        }
        let mut value = Map::new();
        value.insert("key".into(), json!(key));
        value.insert("id".into(), json!(key));
        value.insert("name".into(), json!(key));
        if project.desk != Some(false) {
            value.insert("serviceDeskId".into(), json!(key));
        }
        if let Some(owner) = owner
            && !project.missing.is_empty()
        {
            value.insert(
                "missingPermissions".into(),
                json!({ owner: ordered(&project.missing) }),
            );
        }
        let customers: Vec<&String> = project
            .customers
            .iter()
            .filter(|id| known.contains(*id))
            .collect();
        value.insert("customers".into(), json!(customers));
        let issues: Vec<Value> = project.newest.iter().map(|i| self.issue(i)).collect();
        value.insert("issues".into(), json!(issues));
        Some(Value::Object(value))
    }

    fn issue(&self, issue: &Issue) -> Value {
        let transitions = self
            .transitions
            .get(&issue.key)
            .cloned()
            .unwrap_or_default();
        json!({
            "id": issue.id,
            "key": issue.key,
            "fields": {"status": issue.status},
            "transitions": transitions,
        })
    }
}

fn success(exchange: &Exchange) -> bool {
    (200..300).contains(&exchange.status)
}

/// The project key of a customer list's path
/// (`/rest/servicedeskapi/servicedesk/projectKey:ITH/customer`).
fn customers_project(path: &str) -> Option<&str> {
    path.strip_prefix(CUSTOMERS_PREFIX)?
        .strip_suffix(CUSTOMERS_SUFFIX)
        .filter(|key| !key.is_empty() && !key.contains('/'))
}

/// The issue key of a transitions path (`/rest/api/3/issue/ITH-3/transitions`).
fn transitions_issue<'a>(api: &JiraApi, path: &'a str) -> Option<&'a str> {
    path.strip_prefix(&format!("{}/", api.path("issue")))?
        .strip_suffix("/transitions")
        .filter(|key| !key.is_empty() && !key.contains('/'))
}

/// The permissions in the order the probe lists them, then the rest.
fn ordered(missing: &BTreeSet<String>) -> Vec<&str> {
    let rank = |key: &str| {
        NEEDED_PERMISSIONS
            .iter()
            .position(|needed| *needed == key)
            .unwrap_or(NEEDED_PERMISSIONS.len())
    };
    let mut keys: Vec<&str> = missing.iter().map(String::as_str).collect();
    keys.sort_by_key(|key| rank(key));
    keys
}

/// The fields of `value` named in `keys`, in that order.
fn pick(value: &Value, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|key| Some(((*key).to_owned(), value.get(*key)?.clone())))
        .collect()
}

/// A status (`StatusDetails`) as the simulator holds it; `None` without a
/// category, which the simulator cannot serve.
fn status(value: &Value) -> Option<Value> {
    let category = value.get("statusCategory")?;
    category.get("key")?.as_str()?;
    let mut status = pick(value, &STATUS_FIELDS);
    status.insert(
        "statusCategory".into(),
        Value::Object(pick(category, &CATEGORY_FIELDS)),
    );
    Some(Value::Object(status))
}

/// A transition (`IssueTransition`) with its target and its screen's fields.
fn transition(value: &Value) -> Option<Value> {
    let to = status(value.get("to")?)?;
    let mut transition = pick(value, &TRANSITION_FIELDS);
    transition.insert("to".into(), to);
    let fields: Map<String, Value> = value
        .get("fields")
        .and_then(Value::as_object)
        .map(|fields| {
            fields
                .iter()
                .map(|(id, field)| (id.clone(), screen_field(field)))
                .collect()
        })
        .unwrap_or_default();
    transition.insert("fields".into(), Value::Object(fields));
    Some(Value::Object(transition))
}

/// A transition screen's field, without its `allowedValues` and
/// `autoCompleteUrl`.
fn screen_field(value: &Value) -> Value {
    let mut field = pick(value, &SCREEN_FIELD_FIELDS);
    if let Some(schema) = value.get("schema") {
        field.insert("schema".into(), Value::Object(pick(schema, &SCHEMA_FIELDS)));
    }
    Value::Object(field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jira::api::CLOUD;

    fn exchange(path: &str, query: &[(&str, &str)], status: u16, body: Value) -> Exchange {
        Exchange::get(path, query, status, body)
    }

    fn known(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn a_project_jira_hides_is_one_the_owner_cannot_browse() {
        let hidden = exchange(
            "/rest/api/3/mypermissions",
            &[("projectKey", "NOPE")],
            404,
            json!({"errorMessages": ["No project could be found with key 'NOPE'."]}),
        );
        let site = Site::read(&CLOUD, &[hidden]);
        let section = site.section(Some("bot"), &known(&["bot"]));
        assert_eq!(
            section["projects"][0]["missingPermissions"],
            json!({"bot": ["BROWSE_PROJECTS"]})
        );
        assert_eq!(site.section(None, &known(&["bot"]))["projects"], json!([]));
    }

    #[test]
    fn a_refused_agent_permission_is_a_site_without_service_management() {
        let refused = exchange(
            "/rest/api/3/mypermissions",
            &[("projectKey", "ITH")],
            400,
            json!({"errorMessages": ["Invalid permission key: SERVICEDESK_AGENT"]}),
        );
        let no_desk = exchange(
            "/rest/servicedeskapi/servicedesk/projectKey:ITH/customer",
            &[("query", "pat@acme.com")],
            404,
            json!({"errorMessage": "no desk"}),
        );
        let section =
            Site::read(&CLOUD, &[refused, no_desk]).section(Some("bot"), &known(&["bot"]));
        assert_eq!(section["serviceManagement"], false);
        assert!(section["projects"][0].get("serviceDeskId").is_none());
        assert!(section["projects"][0].get("missingPermissions").is_none());
    }

    #[test]
    fn statuses_and_transitions_keep_what_the_probe_reads_and_no_url() {
        let status_json = json!({"self": "https://acme.atlassian.net/rest/api/3/status/3", "iconUrl": "https://acme.atlassian.net/x.png",
            "name": "Resolved", "id": "3", "statusCategory": {"self": "https://acme.atlassian.net/rest/api/3/statuscategory/3", "id": 3, "key": "done", "colorName": "green", "name": "Done"}});
        let listed = json!({"transitions": [
            {"id": "21", "name": "Resolve", "isAvailable": true, "to": status_json,
             "fields": {"assignee": {"required": false, "name": "Assignee", "key": "assignee",
                "autoCompleteUrl": "https://acme.atlassian.net/rest/api/3/user/assignable/search?issueKey=ITH-3&query=",
                "schema": {"type": "user", "system": "assignee"}}}},
            {"id": "31", "name": "No category", "to": {"name": "Lost"}}
        ]});
        let search = exchange(
            "/rest/api/3/search/jql",
            &[("jql", "project = \"ITH\" ORDER BY created DESC")],
            200,
            json!({"issues": [{"id": "10103", "key": "ITH-3", "self": "https://acme.atlassian.net/rest/api/3/issue/10103", "fields": {"status": status_json}}]}),
        );
        let transitions = exchange("/rest/api/3/issue/ITH-3/transitions", &[], 200, listed);
        let section =
            Site::read(&CLOUD, &[transitions, search]).section(Some("bot"), &known(&["bot"]));
        let text = section.to_string();
        assert!(!text.contains("https://"), "{text}");
        let issue = &section["projects"][0]["issues"][0];
        assert_eq!(issue["key"], "ITH-3");
        assert_eq!(issue["fields"]["status"]["statusCategory"]["key"], "done");
        assert_eq!(issue["transitions"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            issue["transitions"][0]["fields"]["assignee"]["schema"]["system"],
            "assignee"
        );
    }
}
