//! Jira Data Center's JSON as it arrives: the `User` object of REST API v2
//! (`/user`, `/user/search`, `/myself`), with only the fields the check
//! reads. Private to the connector and never serialized back: the rest of
//! the crate sees [`crate::ItsmUser`] only. Unknown fields are ignored,
//! since Jira adds fields between versions.

use serde::Deserialize;

/// `User`: `key` is the ITSM User ID (`JIRAUSER10100`, or the user name of
/// an account made before Jira 8.4), `name` the login. `emailAddress` is
/// left out, or masked (`pat at acme dot com`), when the instance's user
/// e-mail visibility says so.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// A record that does not say is taken as active: an unreadable flag is
    /// no evidence of a deactivated account.
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// `ServerInfo`: the version decides whether `username=.` lists every user.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServerInfo {
    #[serde(default)]
    pub version_numbers: Vec<u32>,
}
