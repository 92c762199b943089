//! Bot readiness for Jira Cloud (SPEC section 5.1): with the bot's own
//! credentials, proves that the bot is in a Service Management group, holds
//! the project permissions an agent needs, that the manual users are
//! customers of the service desk, and that the workflow of the project's
//! newest issue lets the bot resolve, start and reopen tickets.
//!
//! Sends GET requests only and never fails the system: a 401, 403 or 404
//! is read here, and whatever cannot be read is a reason in `cannot_tell`,
//! never a finding. The fixes name Jira's admin screens.

mod workflow;

use reqwest::StatusCode;

use super::api::{JiraApi, SearchPaging};
use super::wire;
use crate::http::{Reply, RequestSpec};
use crate::{
    HttpClient, ItsmUser, Readiness, ReadinessInput, ReadinessKind, ReadinessProblem,
    ReadinessSettings,
};

const SERVICE_DESK_PATH: &str = "/rest/servicedeskapi/servicedesk";

/// The project permissions the bot needs to create, update, assign,
/// transition and comment on tickets as an agent, in the order findings
/// list them.
pub const NEEDED_PERMISSIONS: [&str; 7] = [
    "BROWSE_PROJECTS",
    "CREATE_ISSUES",
    "EDIT_ISSUES",
    "TRANSITION_ISSUES",
    "ASSIGN_ISSUES",
    "ADD_COMMENTS",
    "SERVICEDESK_AGENT",
];

/// Held by members of the Service Desk Team role (agents).
const AGENT_PERMISSION: &str = "SERVICEDESK_AGENT";

/// What the permission check learned about the project, for the parts after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProjectAccess {
    /// The bot can see the project; `transition_reported` when the finding
    /// already says it lacks TRANSITION_ISSUES.
    Browsable { transition_reported: bool },
    /// The bot cannot see the project: nothing more can be read there.
    Hidden,
    /// The permissions could not be read.
    Unknown,
}

/// Runs the probe through `api` (Jira Cloud's or Data Center's);
/// `settings` are the connector's `[connectors.readiness]`.
pub(crate) async fn probe(
    http: &HttpClient,
    api: &JiraApi,
    settings: &ReadinessSettings,
    input: &ReadinessInput,
) -> Readiness {
    let mut probe = Probe {
        http,
        api,
        settings,
        input,
        found: Readiness::default(),
    };
    probe.groups().await;
    // The time zone is `bot_setting_problems`' (BOT_SETTING), checked on the
    // account the lookup returned: not repeated here.
    if let Some(project) = &settings.project {
        match probe.permissions(project).await {
            ProjectAccess::Hidden => probe.cannot(
                "customers and workflow",
                format!("not checked, since the bot cannot see project {project}"),
            ),
            access => {
                probe.customers(project).await;
                let transition_reported = matches!(
                    access,
                    ProjectAccess::Browsable {
                        transition_reported: true
                    }
                );
                probe.workflow(project, transition_reported).await;
            }
        }
    }
    probe.found
}

struct Probe<'a> {
    http: &'a HttpClient,
    api: &'a JiraApi,
    settings: &'a ReadinessSettings,
    input: &'a ReadinessInput,
    found: Readiness,
}

impl Probe<'_> {
    fn cannot(&mut self, part: &str, why: impl std::fmt::Display) {
        self.found.cannot_tell(format!("{part}: {why}"));
    }

    fn problem(&mut self, problem: ReadinessProblem) {
        self.found.problem(problem);
    }

    /// Sends a GET whose 401, 403 and 404 answers the probe reads itself
    /// (and the `extra` statuses); any other failure is the error's text.
    async fn get(&self, spec: RequestSpec, extra: &[StatusCode]) -> Result<Reply, String> {
        let mut spec = spec;
        for status in extra {
            spec = spec.accept_status(*status);
        }
        self.http.send(&spec).await.map_err(|err| err.to_string())
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, reply: &Reply) -> Result<T, String> {
        reply
            .json(self.http.integration())
            .map_err(|err| err.to_string())
    }

    fn spec(&self, path: &str) -> RequestSpec {
        RequestSpec::probe(self.http.endpoint(path))
    }

    // --- groups ---------------------------------------------------------

    /// `/myself?expand=groups`: the caller's own groups, readable without
    /// any permission.
    async fn groups(&mut self) {
        const PART: &str = "groups";
        let myself = self.api.path("myself");
        let spec = self.spec(&myself).query("expand", "groups");
        let reply = match self.get(spec, &[]).await {
            Ok(reply) if reply.status.is_success() => reply,
            Ok(reply) => {
                return self.cannot(
                    PART,
                    format!("GET {myself}?expand=groups answered {}", refusal(&reply)),
                );
            }
            Err(why) => return self.cannot(PART, why),
        };
        let me: wire::Myself = match self.decode(&reply) {
            Ok(me) => me,
            Err(why) => return self.cannot(PART, why),
        };
        let bot = self.input.bot.itsm_user_id.as_str();
        let Some(me_id) = me.id(self.api) else {
            return self.cannot(
                PART,
                format!(
                    "Jira's answer to {myself} has no {}",
                    self.api.user_id_field
                ),
            );
        };
        if me_id != bot {
            return self.cannot(
                PART,
                format!(
                    "the connector's credentials log in as {}, not as the bot's account {bot}, so their groups say nothing about the bot (see BOT_CREDENTIAL_MISMATCH)",
                    me_id
                ),
            );
        }
        let Some(list) = me.groups else {
            return self.cannot(
                PART,
                format!("Jira's answer to {myself}?expand=groups has no groups"),
            );
        };
        let names: Vec<&str> = list.items.iter().map(|g| g.name.as_str()).collect();
        let fits = |name: &str| self.settings.groups.iter().any(|g| group_fits(name, g));
        if names.iter().any(|name| fits(name)) {
            return;
        }
        let wanted = self.settings.groups.join(", ");
        if list.size.is_some_and(|size| size > names.len()) {
            return self.cannot(
                PART,
                format!(
                    "Jira listed {} of the bot's {} groups, and none of those is {wanted}",
                    names.len(),
                    list.size.unwrap_or_default()
                ),
            );
        }
        let actual = if names.is_empty() {
            "no group".to_owned()
        } else {
            names.join(", ")
        };
        self.problem(
            ReadinessProblem::new(
                ReadinessKind::PermissionMissing,
                format!(
                    "The bot's Jira account is in none of the groups {wanted} (nor in one of them followed by `-` and the site's name), so it has no Jira Service Management agent access"
                ),
                self.api.groups_fix,
            )
            .values(Some(format!("member of one of: {wanted}")), Some(actual)),
        );
    }

    // --- project permissions --------------------------------------------

    /// `/mypermissions` in the project's context: the global context would
    /// say "held" for a permission held in any project.
    async fn permissions(&mut self, project: &str) -> ProjectAccess {
        const PART: &str = "project permissions";
        let mypermissions = self.api.path("mypermissions");
        let spec = self
            .spec(&mypermissions)
            .query("projectKey", project)
            .query("permissions", NEEDED_PERMISSIONS.join(","));
        let reply = match self.get(spec, &[StatusCode::BAD_REQUEST]).await {
            Ok(reply) => reply,
            Err(why) => {
                self.cannot(PART, why);
                return ProjectAccess::Unknown;
            }
        };
        let needed = NEEDED_PERMISSIONS.join(", ");
        match reply.status {
            // Jira answers 404 both for a project that does not exist and
            // for one the caller cannot browse (SPEC: BROWSE_PROJECTS).
            StatusCode::NOT_FOUND => {
                self.problem(
                    ReadinessProblem::new(
                        ReadinessKind::PermissionMissing,
                        format!(
                            "The bot's Jira account cannot see project {project} (Jira answers 404 for a project that does not exist or that the account cannot browse), so it can create and update no ticket there"
                        ),
                        format!(
                            "Check the key in [connectors.readiness] project; then, in project {project}: Project settings → People → add the bot's account with the Service Desk Team role (or grant Browse Projects to one of its roles: Project settings → Permissions)"
                        ),
                    )
                    .values(Some(needed), Some("BROWSE_PROJECTS".into())),
                );
                return ProjectAccess::Hidden;
            }
            StatusCode::BAD_REQUEST => {
                self.cannot(
                    PART,
                    format!(
                        "Jira refused the permission keys ({}); a site without Jira Service Management does not know SERVICEDESK_AGENT",
                        refusal(&reply)
                    ),
                );
                return ProjectAccess::Unknown;
            }
            status if !status.is_success() => {
                self.cannot(
                    PART,
                    format!("GET {mypermissions} answered {}", refusal(&reply)),
                );
                return ProjectAccess::Unknown;
            }
            _ => {}
        }
        let answer: wire::MyPermissions = match self.decode(&reply) {
            Ok(answer) => answer,
            Err(why) => {
                self.cannot(PART, why);
                return ProjectAccess::Unknown;
            }
        };
        let mut missing = Vec::new();
        let mut unknown = Vec::new();
        for key in NEEDED_PERMISSIONS {
            match answer.permissions.get(key).and_then(|p| p.have_permission) {
                Some(true) => {}
                Some(false) => missing.push(key),
                None => unknown.push(key),
            }
        }
        if !unknown.is_empty() {
            self.cannot(
                PART,
                format!(
                    "Jira's answer does not say whether the bot holds {}",
                    unknown.join(", ")
                ),
            );
        }
        if missing.is_empty() {
            return ProjectAccess::Browsable {
                transition_reported: false,
            };
        }
        let named: Vec<String> = missing
            .iter()
            .map(|key| {
                if *key == AGENT_PERMISSION {
                    format!("{key} (the Service Desk Team role)")
                } else {
                    (*key).to_owned()
                }
            })
            .collect();
        self.problem(
            ReadinessProblem::new(
                ReadinessKind::PermissionMissing,
                format!(
                    "In project {project} the bot's Jira account lacks {}",
                    named.join(", ")
                ),
                permissions_fix(project, &missing),
            )
            .values(Some(needed), Some(missing.join(", "))),
        );
        if missing.contains(&"BROWSE_PROJECTS") {
            ProjectAccess::Hidden
        } else {
            ProjectAccess::Browsable {
                transition_reported: missing.contains(&"TRANSITION_ISSUES"),
            }
        }
    }

    // --- customers ------------------------------------------------------

    /// One customer search per manual user, on the desk the project key
    /// names: `query` is a fuzzy match, so the `accountId` is compared
    /// exactly.
    async fn customers(&mut self, project: &str) {
        const PART: &str = "customers";
        let users = &self.input.users;
        if users.is_empty() {
            return;
        }
        // The project key stands for the desk's id ("Using project
        // identifiers"), so no request finds the desk first: the check costs
        // at most one request per manual user (SPEC 5.1).
        let customer_path = format!("{SERVICE_DESK_PATH}/projectKey:{project}/customer");
        // SPEC: at most one request per manual user; a user who cannot be
        // searched leaves a request for another user's second page.
        let mut budget = users.len();
        for (index, user) in users.iter().enumerate() {
            let Some(query) = customer_query(user) else {
                self.cannot(
                    PART,
                    format!(
                        "Jira shows neither an e-mail address nor a name for account {}, so it cannot be searched among the customers",
                        user.itsm_user_id
                    ),
                );
                continue;
            };
            let still_to_ask = users[index + 1..]
                .iter()
                .filter(|u| customer_query(u).is_some())
                .count();
            let mut start = 0usize;
            loop {
                budget = budget.saturating_sub(1);
                let mut spec = self
                    .spec(&customer_path)
                    .query("query", query.clone())
                    .header("x-experimentalapi", "opt-in");
                if start > 0 {
                    spec = spec.query("start", start.to_string());
                }
                let reply = match self.get(spec, &[]).await {
                    Ok(reply) if reply.status.is_success() => reply,
                    // No desk for the project: not a Service Management
                    // project, or the site has none.
                    Ok(reply) if reply.status == reqwest::StatusCode::NOT_FOUND => {
                        return self.cannot(
                            PART,
                            format!(
                                "Jira names no service desk for project {project} ({}): a project that is not a Jira Service Management project has no customers",
                                refusal(&reply)
                            ),
                        );
                    }
                    // Only an agent (or admin) of the desk may list its
                    // customers: SERVICEDESK_AGENT's finding says so.
                    Ok(reply) => {
                        return self.cannot(
                            PART,
                            format!(
                                "the bot may not list the customers of project {project}'s service desk ({}); only its agents may",
                                refusal(&reply)
                            ),
                        );
                    }
                    Err(why) => return self.cannot(PART, why),
                };
                let page: wire::CustomerPage = match self.decode(&reply) {
                    Ok(page) => page,
                    Err(why) => return self.cannot(PART, why),
                };
                let id = user.itsm_user_id.as_str();
                if page.values.iter().any(|c| c.id(self.api) == Some(id)) {
                    break;
                }
                let received = page.values.len();
                let last = page
                    .is_last_page
                    .unwrap_or_else(|| page.limit.is_none_or(|limit| received < limit));
                if last || received == 0 {
                    self.not_a_customer(project, index, user);
                    break;
                }
                if budget <= still_to_ask {
                    self.cannot(
                        PART,
                        format!(
                            "the customer search for {query} has more pages than the check's one request per user reads, and {id} is not on the first"
                        ),
                    );
                    break;
                }
                start += received;
            }
        }
    }

    fn not_a_customer(&mut self, project: &str, index: usize, user: &ItsmUser) {
        let who = match customer_query(user) {
            Some(name) => format!("{name} (Jira account {})", user.itsm_user_id),
            None => format!("Jira account {}", user.itsm_user_id),
        };
        self.problem(
            ReadinessProblem::new(
                ReadinessKind::NotCustomer { user: index },
                format!(
                    "{who} is not a customer of project {project}'s service desk, so they cannot raise requests there"
                ),
                format!(
                    "In service project {project}: Customers → Add customers (their e-mail address); or let every account raise requests: Project settings → Access → Customer permissions → Channel access: Open"
                ),
            )
            .values(
                Some(format!("a customer of project {project}")),
                Some("not a customer".into()),
            ),
        );
    }

    // --- workflow -------------------------------------------------------

    /// The newest issue's transitions, judged by its status category.
    async fn workflow(&mut self, project: &str, transition_reported: bool) {
        const PART: &str = "workflow";
        // The key passed the config's check (capital letters, digits, `_`),
        // so it cannot break out of the quotes.
        let mut spec = self.spec(self.api.issue_search).query(
            "jql",
            format!("project = \"{project}\" ORDER BY created DESC"),
        );
        if self.api.search_paging == SearchPaging::StartAt {
            spec = spec.query("startAt", "0");
        }
        let spec = spec.query("maxResults", "1").query("fields", "status");
        let reply = match self.get(spec, &[StatusCode::BAD_REQUEST]).await {
            Ok(reply) if reply.status.is_success() => reply,
            Ok(reply) => {
                return self.cannot(
                    PART,
                    format!(
                        "the search for project {project}'s newest issue answered {}",
                        refusal(&reply)
                    ),
                );
            }
            Err(why) => return self.cannot(PART, why),
        };
        let search: wire::IssueSearch = match self.decode(&reply) {
            Ok(search) => search,
            Err(why) => return self.cannot(PART, why),
        };
        let Some(issue) = search.issues.into_iter().next() else {
            return self.cannot(
                PART,
                format!("project {project} has no issue yet, so there are no transitions to read"),
            );
        };
        if !is_issue_key(&issue.key) {
            return self.cannot(PART, format!("{:?} is not an issue key", issue.key));
        }
        let status = issue.fields.and_then(|f| f.status);
        let status_name = status
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_else(|| "?".into());
        let Some(category) = status.and_then(|s| s.status_category).map(|c| c.key) else {
            return self.cannot(
                PART,
                format!("Jira gave no status category for {}", issue.key),
            );
        };
        let path = self.api.path(&format!("issue/{}/transitions", issue.key));
        let spec = self.spec(&path).query("expand", "transitions.fields");
        let reply = match self.get(spec, &[]).await {
            Ok(reply) if reply.status.is_success() => reply,
            Ok(reply) => {
                return self.cannot(
                    PART,
                    format!(
                        "the transitions of {} answered {}",
                        issue.key,
                        refusal(&reply)
                    ),
                );
            }
            Err(why) => return self.cannot(PART, why),
        };
        let answer: wire::Transitions = match self.decode(&reply) {
            Ok(answer) => answer,
            Err(why) => return self.cannot(PART, why),
        };
        let gaps = match workflow::judge(&workflow::Newest {
            project,
            issue: &issue.key,
            status: &status_name,
            category: &category,
            transitions: &answer.transitions,
        }) {
            workflow::Verdict::Gaps(gaps) => gaps,
            // Jira lists no transition to a caller without TRANSITION_ISSUES.
            workflow::Verdict::NoTransitions => {
                if !transition_reported {
                    self.cannot(
                        PART,
                        format!(
                            "Jira lists no transition the bot can make from {} (an account without TRANSITION_ISSUES sees none)",
                            issue.key
                        ),
                    );
                }
                return;
            }
            workflow::Verdict::UnknownCategory => {
                return self.cannot(
                    PART,
                    format!(
                        "the status of {} is in category {category:?}, which says nothing about where the workflow leads",
                        issue.key
                    ),
                );
            }
        };
        for gap in gaps {
            self.problem(gap);
        }
    }
}

/// A group named `wanted`, or `wanted-<site>` as Jira names a product's
/// group on some sites (`jira-servicedesk-users-acme`).
fn group_fits(name: &str, wanted: &str) -> bool {
    name == wanted
        || name
            .strip_prefix(wanted)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|site| !site.is_empty())
}

/// The fix for the missing permissions: the Service Desk Team role for
/// SERVICEDESK_AGENT, the permission scheme for the others.
fn permissions_fix(project: &str, missing: &[&str]) -> String {
    let mut fixes = Vec::new();
    if missing.contains(&AGENT_PERMISSION) {
        fixes.push(
            "Project settings → People → add the bot's account with the Service Desk Team role (the account needs Jira Service Management agent access)".to_owned(),
        );
    }
    let others: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|key| *key != AGENT_PERMISSION)
        .collect();
    if !others.is_empty() {
        fixes.push(format!(
            "Project settings → Permissions → grant {} to a role the bot holds (e.g. Service Desk Team)",
            others.join(", ")
        ));
    }
    format!("In project {project}: {}", fixes.join("; and "))
}

/// What the customer search is asked for a user: the e-mail address, else
/// the display name (both are matched by the search; the id is not).
fn customer_query(user: &ItsmUser) -> Option<String> {
    user.external_id
        .as_ref()
        .map(|e| e.as_str().trim().to_owned())
        .or_else(|| user.full_name.as_ref().map(|n| n.trim().to_owned()))
        .filter(|q| !q.is_empty())
}

/// A Jira issue key (`ITH-3`), checked before it goes into a URL path.
fn is_issue_key(key: &str) -> bool {
    key.split_once('-').is_some_and(|(project, number)| {
        !project.is_empty()
            && project
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
    })
}

/// An answer the probe reads as a refusal: its status and Jira's message.
fn refusal(reply: &Reply) -> String {
    let body: wire::ErrorBody = serde_json::from_slice(&reply.body).unwrap_or_default();
    let mut messages = body.error_messages;
    messages.extend(body.error_message);
    messages.retain(|m| !m.trim().is_empty());
    if messages.is_empty() {
        format!("HTTP {}", reply.status.as_u16())
    } else {
        format!("HTTP {}: {}", reply.status.as_u16(), messages.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_fits_by_its_name_or_its_name_and_a_site_suffix() {
        assert!(group_fits(
            "jira-servicedesk-users",
            "jira-servicedesk-users"
        ));
        assert!(group_fits(
            "jira-servicedesk-users-acme",
            "jira-servicedesk-users"
        ));
        assert!(!group_fits(
            "jira-servicedesk-users-",
            "jira-servicedesk-users"
        ));
        assert!(!group_fits(
            "jira-servicedesk-usersx",
            "jira-servicedesk-users"
        ));
        assert!(!group_fits("jira-servicedesk", "jira-servicedesk-users"));
        assert!(!group_fits(
            "site-jira-servicedesk-users",
            "jira-servicedesk-users"
        ));
    }

    #[test]
    fn only_plain_issue_keys_reach_a_url_path() {
        assert!(is_issue_key("ITH-3"));
        assert!(is_issue_key("IT2_DESK-10"));
        assert!(!is_issue_key("ITH-3/../x"));
        assert!(!is_issue_key("ITH"));
        assert!(!is_issue_key("-3"));
    }

    #[test]
    fn the_permissions_fix_names_the_role_and_the_scheme() {
        let both = permissions_fix("ITH", &["EDIT_ISSUES", "SERVICEDESK_AGENT"]);
        assert!(
            both.starts_with("In project ITH: Project settings → People"),
            "{both}"
        );
        assert!(both.contains("Service Desk Team role"), "{both}");
        assert!(
            both.contains("; and Project settings → Permissions → grant EDIT_ISSUES"),
            "{both}"
        );
        let agent = permissions_fix("ITH", &["SERVICEDESK_AGENT"]);
        assert!(!agent.contains("Permissions → grant"), "{agent}");
    }
}
