//! The Jira simulator's readiness endpoints (SPEC section 5.1), over the
//! fixture's `simulator.readiness` section: the caller's groups
//! (`/myself?expand=groups`), `/mypermissions`, the service desk and its
//! customers (`/rest/servicedeskapi`), the newest issue (`/search/jql`) and
//! its transitions, in Jira's own shapes and with Jira's own refusals.
//!
//! Without a `readiness` section every account is in
//! `jira-servicedesk-users` and no project exists, so a config without
//! `project` finds the bot ready. In a listed project an account holds
//! every permission the data does not list as missing for it. Never writes
//! the data it was given.

mod site;

use serde_json::{Map, Value, json};
use wiremock::{Request, ResponseTemplate};

pub(crate) use self::site::Site;
use self::site::{AGENT, Issue, PERMISSIONS, Project};
use super::{State, encode, error_collection, json_response, number};
use crate::jira::api::{JiraApi, SearchPaging};
use crate::sim::query_param;

/// The group an account is in when the data names none for it.
const DEFAULT_GROUP: &str = "jira-servicedesk-users";

/// The service desk's customer list: default and largest page.
const CUSTOMER_PAGE: usize = 50;
const SEARCH_DEFAULT_PAGE: usize = 50;
const SEARCH_MAX_PAGE: usize = 100;

/// The readiness routes, each a path pattern.
#[derive(Debug, Clone, Copy)]
pub(super) enum Route {
    MyPermissions,
    ServiceDesk,
    Customers,
    Search,
    Transitions,
}

/// The readiness routes under `api`, each a path pattern.
pub(super) fn routes(api: &JiraApi) -> [(String, Route); 5] {
    [
        (
            format!("^{}$", api.path("mypermissions")),
            Route::MyPermissions,
        ),
        (
            r"^/rest/servicedeskapi/servicedesk/[^/]+$".into(),
            Route::ServiceDesk,
        ),
        (
            r"^/rest/servicedeskapi/servicedesk/[^/]+/customer$".into(),
            Route::Customers,
        ),
        (format!("^{}$", api.issue_search), Route::Search),
        (
            format!("^{}/[^/]+/transitions$", api.path("issue")),
            Route::Transitions,
        ),
    ]
}

/// Answers one readiness request of `account` (the credential's owner).
pub(super) fn respond(
    route: Route,
    state: &State,
    account: Option<&str>,
    request: &Request,
) -> ResponseTemplate {
    match route {
        Route::MyPermissions => my_permissions(&state.readiness, account, request),
        Route::ServiceDesk => service_desk(state, account, request),
        Route::Customers => customers(state, account, request),
        Route::Search => search(state, account, request),
        Route::Transitions => transitions(state, account, request),
    }
}

/// `groups` of `/myself?expand=groups` (`SimpleListWrapperGroupName`).
pub(super) fn groups(state: &State, account: &str) -> Value {
    let names = state
        .readiness
        .groups
        .get(account)
        .cloned()
        .unwrap_or_else(|| vec![DEFAULT_GROUP.to_owned()]);
    let items: Vec<Value> = names
        .iter()
        .map(|name| {
            let id = group_id(name);
            json!({
                "name": name,
                "groupId": id,
                "self": format!("{}{}/group?groupId={id}", state.base, state.api.rest),
            })
        })
        .collect();
    json!({"size": items.len(), "items": items})
}

/// A stable UUID-shaped id per group name, as a site gives each group.
fn group_id(name: &str) -> String {
    let hash = |seed: u64| {
        name.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let (a, b) = (hash(0xcbf2_9ce4_8422_2325), hash(0x8422_2325_cbf2_9ce4));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// The Service Management API's `ErrorResponse`.
fn jsm_error(status: u16, message: &str) -> ResponseTemplate {
    json_response(
        status,
        &json!({"errorMessage": message, "i18nErrorMessage": {"i18nKey": "sd.simulator.error", "parameters": []}}),
    )
}

/// `/mypermissions`: the caller's permissions in a project's context, or
/// globally (held in any project) without one.
fn my_permissions(site: &Site, account: Option<&str>, request: &Request) -> ResponseTemplate {
    let Some(asked) = query_param(request, "permissions").filter(|p| !p.trim().is_empty()) else {
        return error_collection(400, "The 'permissions' query parameter is required.");
    };
    let keys: Vec<&str> = asked
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    if let Some(bad) = keys.iter().find(|key| !site.knows_permission(key)) {
        return error_collection(400, &format!("Invalid permission key: {bad}"));
    }
    let project_id = query_param(request, "projectId").filter(|v| !v.is_empty());
    let project_key = query_param(request, "projectKey").filter(|v| !v.is_empty());
    let project = match (&project_id, &project_key) {
        (Some(id), _) => match site.projects.iter().find(|p| &p.id == id) {
            Some(p) if p.visible_to(account) => Some(p),
            _ => {
                return error_collection(
                    404,
                    &format!("No project could be found with id '{id}'."),
                );
            }
        },
        (None, Some(key)) => match site.projects.iter().find(|p| &p.key == key) {
            Some(p) if p.visible_to(account) => Some(p),
            _ => {
                return error_collection(
                    404,
                    &format!("No project could be found with key '{key}'."),
                );
            }
        },
        (None, None) => None,
    };
    let mut permissions = Map::new();
    for key in keys {
        let have = match project {
            Some(p) => p.holds(account, key),
            None => site.projects.iter().any(|p| p.holds(account, key)),
        };
        let Some((_, id, name, description)) = PERMISSIONS.iter().find(|(k, ..)| *k == key) else {
            continue;
        };
        let mut permission = json!({
            "key": key, "name": name, "type": "PROJECT",
            "description": description, "havePermission": have,
        });
        if let (Some(id), Some(object)) = (id, permission.as_object_mut()) {
            object.insert("id".into(), Value::String((*id).to_owned()));
        }
        permissions.insert(key.to_owned(), permission);
    }
    json_response(200, &json!({"permissions": permissions}))
}

/// The `{serviceDeskId}` segment after `/servicedesk/`.
fn desk_segment(request: &Request) -> String {
    let path = request.url.path();
    let rest = path
        .strip_prefix("/rest/servicedeskapi/servicedesk/")
        .unwrap_or_default();
    let segment = rest.split('/').next().unwrap_or_default();
    url::form_urlencoded::parse(format!("x={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The desk a Service Management request names, as the caller sees it.
fn find_desk<'a>(
    state: &'a State,
    account: Option<&str>,
    request: &Request,
) -> Result<&'a Project, Box<ResponseTemplate>> {
    let id = desk_segment(request);
    if !state.readiness.service_management {
        return Err(Box::new(jsm_error(
            404,
            "Jira Service Management is not installed on this site.",
        )));
    }
    match state.readiness.desk(&id) {
        Some(project) if project.visible_to(account) => Ok(project),
        _ => Err(Box::new(jsm_error(
            404,
            &format!(
                "The service desk {id} does not exist or you do not have permission to see it."
            ),
        ))),
    }
}

/// `/rest/servicedeskapi/servicedesk/{serviceDeskId}`: one desk (`ServiceDeskDTO`).
fn service_desk(state: &State, account: Option<&str>, request: &Request) -> ResponseTemplate {
    let project = match find_desk(state, account, request) {
        Ok(project) => project,
        Err(refusal) => return *refusal,
    };
    let id = project.service_desk_id.clone().unwrap_or_default();
    json_response(
        200,
        &json!({
            "id": id,
            "projectId": project.id,
            "projectName": project.name,
            "projectKey": project.key,
            "_links": {"self": format!("{}/rest/servicedeskapi/servicedesk/{id}", state.base)},
        }),
    )
}

/// `/rest/servicedeskapi/servicedesk/{id}/customer` (experimental): the
/// customers whose user name (Data Center), display name or e-mail
/// contains `query`, for the desk's agents
/// and project administrators only. Without the opt-in header it answers
/// 400 (what a real site answers is not documented).
fn customers(state: &State, account: Option<&str>, request: &Request) -> ResponseTemplate {
    let opted_in = request
        .headers
        .get("x-experimentalapi")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("opt-in"));
    if !opted_in {
        return jsm_error(
            400,
            "This API is experimental: send the header X-ExperimentalApi: opt-in to use it.",
        );
    }
    let project = match find_desk(state, account, request) {
        Ok(project) => project,
        Err(refusal) => return *refusal,
    };
    if !(project.holds(account, AGENT) || project.holds(account, "ADMINISTER_PROJECTS")) {
        return jsm_error(
            403,
            "You do not have permission to view the customers of this service desk.",
        );
    }
    let (start, limit) = match (
        number(request, "start", 0),
        number(request, "limit", CUSTOMER_PAGE),
    ) {
        (Ok(start), Ok(limit)) => (start, limit.clamp(1, CUSTOMER_PAGE)),
        (Err(message), _) | (_, Err(message)) => return jsm_error(400, &message),
    };
    let query = query_param(request, "query")
        .unwrap_or_default()
        .to_lowercase();
    let contains =
        |field: Option<&String>| field.is_some_and(|v| v.to_lowercase().contains(&query));
    let matches: Vec<Value> = project
        .customers
        .iter()
        .filter_map(|id| state.user(id))
        .filter(|u| {
            query.is_empty()
                || contains(u.name.as_ref())
                || contains(Some(&u.display_name))
                || contains(u.email.as_ref())
                || contains(u.hidden_email.as_ref())
        })
        .map(|u| {
            let id_field = state.api.user_id_field;
            let jira_rest = format!(
                "{}/rest/api/2/user?{id_field}={}",
                state.base,
                encode(&u.id)
            );
            let mut customer = json!({
                "emailAddress": u.email,
                "displayName": u.display_name,
                "active": u.active,
                "timeZone": u.shown.get("timeZone").cloned().unwrap_or(Value::Null),
                "_links": {"jiraRest": jira_rest, "avatarUrls": {}, "self": jira_rest},
            });
            if let Some(object) = customer.as_object_mut() {
                object.insert(id_field.into(), Value::String(u.id.clone()));
                if let Some(name) = &u.name {
                    object.insert("name".into(), Value::String(name.clone()));
                }
            }
            customer
        })
        .collect();
    let total = matches.len();
    let values: Vec<Value> = matches.into_iter().skip(start).take(limit).collect();
    let is_last = start.saturating_add(values.len()) >= total;
    let mut links = json!({"base": format!("{}/rest/servicedeskapi", state.base), "context": ""});
    if !is_last && let Some(object) = links.as_object_mut() {
        let next = format!(
            "{}{}?query={}&start={}&limit={limit}",
            state.base,
            request.url.path(),
            encode(&query),
            start + values.len()
        );
        object.insert("next".into(), Value::String(next));
    }
    json_response(
        200,
        &json!({
            "_expands": [], "size": values.len(), "start": start, "limit": limit,
            "isLastPage": is_last, "_links": links, "values": values,
        }),
    )
}

/// `project = KEY` or `project = "KEY"`, with an optional
/// `ORDER BY created DESC|ASC`: the JQL the probe sends, and nothing more.
/// `Ok((key, newest_first))`, or Jira's 400 message.
fn parse_jql(jql: &str) -> Result<(String, bool), String> {
    let lower = jql.to_ascii_lowercase();
    if lower.trim().is_empty() || lower.trim_start().starts_with("order by") {
        return Err("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.".into());
    }
    let not_understood = || {
        format!(
            "Error in the JQL Query: the simulator reads only project = KEY [ORDER BY created DESC|ASC], not {jql:?}."
        )
    };
    let (clause, order) = match lower.find(" order by ") {
        Some(at) => (&jql[..at], Some(&lower[at + " order by ".len()..])),
        None => (jql, None),
    };
    let clause = clause.trim();
    let value = clause
        .get(.."project".len())
        .filter(|head| head.eq_ignore_ascii_case("project"))
        .and_then(|_| clause.get("project".len()..))
        .and_then(|rest| rest.trim_start().strip_prefix('='))
        .map(str::trim)
        .ok_or_else(not_understood)?;
    let key = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(not_understood());
    }
    let newest_first = match order.map(|o| o.split_whitespace().collect::<Vec<_>>()) {
        None => false,
        Some(words) => match words.as_slice() {
            ["created", "desc"] => true,
            ["created"] | ["created", "asc"] => false,
            _ => return Err(not_understood()),
        },
    };
    Ok((key.to_owned(), newest_first))
}

/// `/search/jql`: the project's issues the caller can see, as
/// `SearchAndReconcileResults`; `nextPageToken` is the next offset.
fn search(state: &State, account: Option<&str>, request: &Request) -> ResponseTemplate {
    let jql = query_param(request, "jql").unwrap_or_default();
    let (key, newest_first) = match parse_jql(&jql) {
        Ok(parsed) => parsed,
        Err(message) => return error_collection(400, &message),
    };
    let project = match state
        .readiness
        .projects
        .iter()
        .find(|p| p.key.eq_ignore_ascii_case(&key))
    {
        Some(project) if project.visible_to(account) => project,
        _ => {
            return error_collection(
                400,
                &format!("The value '{key}' does not exist for the field 'project'."),
            );
        }
    };
    let max_results = match number(request, "maxResults", SEARCH_DEFAULT_PAGE) {
        Ok(max) => max.min(SEARCH_MAX_PAGE),
        Err(message) => return error_collection(400, &message),
    };
    let start = match state.api.search_paging {
        SearchPaging::NextPageToken => match query_param(request, "nextPageToken") {
            None => 0,
            Some(token) => match token.parse::<usize>() {
                Ok(start) => start,
                Err(_) => return error_collection(400, "The nextPageToken is not valid."),
            },
        },
        SearchPaging::StartAt => match number(request, "startAt", 0) {
            Ok(start) => start,
            Err(message) => return error_collection(400, &message),
        },
    };
    let asked = query_param(request, "fields").unwrap_or_else(|| "id".into());
    let wanted: Vec<&str> = asked
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    let mut issues: Vec<&Issue> = project.issues.iter().collect();
    if newest_first {
        // A stable sort keeps the data's order among equal times.
        issues.sort_by(|a, b| b.created.cmp(&a.created));
    }
    let total = issues.len();
    let page: Vec<Value> = issues
        .into_iter()
        .skip(start)
        .take(max_results)
        .map(|issue| {
            let fields: Map<String, Value> = issue
                .fields
                .iter()
                .filter(|(name, _)| wanted.contains(&"*all") || wanted.contains(&name.as_str()))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            json!({
                "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
                "id": issue.id,
                "self": format!("{}{}/{}", state.base, state.api.path("issue"), issue.id),
                "key": issue.key,
                "fields": fields,
            })
        })
        .collect();
    let next = start.saturating_add(page.len());
    let is_last = next >= total;
    if state.api.search_paging == SearchPaging::StartAt {
        return json_response(
            200,
            &json!({"expand": "schema,names", "startAt": start, "maxResults": max_results, "total": total, "issues": page}),
        );
    }
    let mut answer = json!({"issues": page, "isLast": is_last});
    if !is_last && let Some(object) = answer.as_object_mut() {
        object.insert("nextPageToken".into(), Value::String(next.to_string()));
    }
    json_response(200, &answer)
}

/// `/issue/{issueIdOrKey}/transitions`: the issue's transitions, none for a
/// caller without TRANSITION_ISSUES, with the screens' fields only when
/// `expand=transitions.fields` asks for them.
fn transitions(state: &State, account: Option<&str>, request: &Request) -> ResponseTemplate {
    let asked = request
        .url
        .path()
        .strip_prefix(&format!("{}/", state.api.path("issue")))
        .and_then(|rest| rest.strip_suffix("/transitions"))
        .unwrap_or_default();
    let found = state.readiness.projects.iter().find_map(|p| {
        p.issues
            .iter()
            .find(|i| i.key == asked || i.id == asked)
            .map(|i| (p, i))
    });
    let Some((project, issue)) = found.filter(|(p, _)| p.visible_to(account)) else {
        return error_collection(
            404,
            "Issue does not exist or you do not have permission to see it.",
        );
    };
    let with_fields = query_param(request, "expand")
        .is_some_and(|e| e.split(',').any(|part| part.trim() == "transitions.fields"));
    let list: Vec<Value> = if project.holds(account, "TRANSITION_ISSUES") {
        issue
            .transitions
            .iter()
            .map(|t| {
                let mut t = t.clone();
                if !with_fields && let Some(object) = t.as_object_mut() {
                    object.remove("fields");
                }
                t
            })
            .collect()
    } else {
        Vec::new()
    };
    json_response(200, &json!({"expand": "transitions", "transitions": list}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probes_jql_is_read_and_other_jql_is_refused() {
        assert_eq!(
            parse_jql("project = \"ITH\" ORDER BY created DESC"),
            Ok(("ITH".into(), true))
        );
        assert_eq!(parse_jql("project=ITH"), Ok(("ITH".into(), false)));
        assert_eq!(
            parse_jql("PROJECT = ITH order by created asc"),
            Ok(("ITH".into(), false))
        );
        assert!(
            parse_jql("ORDER BY created DESC")
                .unwrap_err()
                .contains("Unbounded")
        );
        assert!(parse_jql("").unwrap_err().contains("Unbounded"));
        assert!(parse_jql("project = ITH OR 1=1").is_err());
        assert!(parse_jql("assignee = currentUser()").is_err());
        assert!(parse_jql("project = ITH ORDER BY key").is_err());
    }

    #[test]
    fn group_ids_are_stable_and_shaped_like_uuids() {
        let id = group_id("jira-servicedesk-users");
        assert_eq!(id, group_id("jira-servicedesk-users"));
        assert_ne!(id, group_id("jira-software-users"));
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }
}
