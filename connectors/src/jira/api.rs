//! What differs between Jira Cloud's REST API (v3, users by `accountId`)
//! and Jira Data Center's (v2, users by `key`) for the code both share:
//! the readiness probe and its simulator. SPEC 5.1 asks the same checks of
//! both, so they are written once and each connector names its [`JiraApi`].

/// One Jira deployment's REST API, as the shared code needs it.
#[derive(Debug)]
pub struct JiraApi {
    /// The REST API's root under the base URL (`/rest/api/3`, `/rest/api/2`).
    pub rest: &'static str,
    /// The issue search that finds a project's newest issue.
    pub issue_search: &'static str,
    /// How that search pages: Cloud's `/search/jql` by `nextPageToken`,
    /// Data Center's `/search` by `startAt`.
    pub search_paging: SearchPaging,
    /// The user record's field that holds the ITSM User ID.
    pub user_id_field: &'static str,
    /// The fix when the bot is in none of the agent groups: the screens
    /// differ between Atlassian's admin hub and a Data Center instance.
    pub groups_fix: &'static str,
}

/// How an issue search names its next page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchPaging {
    NextPageToken,
    StartAt,
}

impl JiraApi {
    /// A path under the REST API's root (`myself` → `/rest/api/3/myself`).
    pub fn path(&self, tail: &str) -> String {
        format!("{}/{tail}", self.rest)
    }
}

/// Jira Cloud: REST API v3.
pub const CLOUD: JiraApi = JiraApi {
    rest: "/rest/api/3",
    issue_search: "/rest/api/3/search/jql",
    search_paging: SearchPaging::NextPageToken,
    user_id_field: "accountId",
    groups_fix: "Jira admin: Settings → User management → Groups → open jira-servicedesk-users and add the bot's account (or give the account Jira Service Management agent access: admin.atlassian.com → Directory → Users → the account → Product access)",
};
