//! Jira Cloud's JSON as it arrives: the User object and the PageBeanUser
//! page of `/rest/api/3/user/bulk`, with only the fields the check reads.
//!
//! Private to the Jira module and never serialized back: the rest of the
//! crate sees [`crate::ItsmUser`] only, so a vendor field rename stays here.
//! Unknown fields are ignored, since Jira adds fields without notice.

use serde::Deserialize;

/// `components.schemas.User`. `emailAddress` is optional because Jira drops
/// it (or sends `null`) when the user's profile visibility hides it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    pub account_id: String,
    #[serde(default)]
    pub account_type: Option<String>,
    /// Optional in Atlassian's schema; a record that does not say is taken
    /// as active (an unreadable flag is no evidence of a deactivated
    /// account), as for the other systems.
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// `components.schemas.PageBeanUser`, the answer of `/user/bulk`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserPage {
    /// Absent on some older answers; then the page is taken as the last one
    /// only if it did not fill `maxResults` (see the caller).
    #[serde(default)]
    pub is_last: Option<bool>,
    #[serde(default)]
    pub max_results: Option<usize>,
    #[serde(default)]
    pub total: Option<usize>,
    #[serde(default)]
    pub values: Vec<User>,
}
