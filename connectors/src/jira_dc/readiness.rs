//! Bot readiness for Jira Data Center (SPEC section 5.1): the same checks
//! as Jira Cloud's, through REST API v2 and the Service Management API, so
//! the probe is Jira's own (`crate::jira::readiness`) run over this
//! deployment's [`JiraApi`]: user keys instead of accountIds, `/search`
//! paged by `startAt` instead of `/search/jql`, and the instance's own
//! admin screens in the fixes.

use crate::jira::api::{JiraApi, SearchPaging};
use crate::{HttpClient, Readiness, ReadinessInput, ReadinessSettings};

/// Jira Data Center's REST API v2, as the shared Jira code needs it.
pub const DATA_CENTER: JiraApi = JiraApi {
    rest: "/rest/api/2",
    issue_search: "/rest/api/2/search",
    search_paging: SearchPaging::StartAt,
    user_id_field: "key",
    groups_fix: "Jira administration → User management → Groups → open jira-servicedesk-users and add the bot's user (or give the user a Jira Service Management agent licence: Administration → Applications → Application access)",
};

/// Runs Jira's probe over Data Center's API with the bot's credentials.
pub(super) async fn probe(
    http: &HttpClient,
    settings: &ReadinessSettings,
    input: &ReadinessInput,
) -> Readiness {
    crate::jira::readiness::probe(http, &DATA_CENTER, settings, input).await
}
