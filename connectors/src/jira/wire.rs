//! Jira Cloud's JSON as it arrives: the User object and the PageBeanUser
//! page of `/rest/api/3/user/bulk`, and the answers the readiness probe
//! reads (groups, permissions, customers, issues, transitions), with only
//! the fields the check reads.
//!
//! Private to the Jira module and never serialized back: the rest of the
//! crate sees [`crate::ItsmUser`] only, so a vendor field rename stays here.
//! Unknown fields are ignored, since Jira adds fields without notice.

use serde::Deserialize;

use super::api::JiraApi;

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

// --- Bot readiness (SPEC section 5.1) ----------------------------------

/// `/myself?expand=groups`: the caller and its groups
/// (`SimpleListWrapperGroupName`). `size` may exceed the items listed.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Myself {
    #[serde(default)]
    pub groups: Option<GroupList>,
    /// The other fields, the ids among them (`accountId`, `key`).
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Myself {
    /// The caller's ITSM User ID, in the field `api` names.
    pub fn id(&self, api: &JiraApi) -> Option<&str> {
        self.fields.get(api.user_id_field)?.as_str()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GroupList {
    #[serde(default)]
    pub size: Option<usize>,
    #[serde(default)]
    pub items: Vec<GroupName>,
}

/// `components.schemas.GroupName`: compared by `name`, since `groupId` is
/// a per-site UUID.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GroupName {
    pub name: String,
}

/// `components.schemas.Permissions`, the answer of `/mypermissions`: keyed
/// by permission key.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MyPermissions {
    #[serde(default)]
    pub permissions: std::collections::BTreeMap<String, UserPermission>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserPermission {
    #[serde(default)]
    pub have_permission: Option<bool>,
}

/// Jira's `ErrorCollection`, and the Service Management API's
/// `ErrorResponse`: whichever the body is, its messages.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub error_messages: Vec<String>,
    #[serde(default)]
    pub error_message: Option<String>,
}

/// `PagedDTOUserDTO`, the answer of a service desk's customer list.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CustomerPage {
    #[serde(default)]
    pub values: Vec<Customer>,
    #[serde(default)]
    pub is_last_page: Option<bool>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// `UserDTO`: only the id is compared; `emailAddress` may be hidden.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Customer {
    /// The fields, the ids among them (`accountId`, `key`).
    #[serde(flatten)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Customer {
    /// The customer's ITSM User ID, in the field `api` names.
    pub fn id(&self, api: &JiraApi) -> Option<&str> {
        self.fields.get(api.user_id_field)?.as_str()
    }
}

/// `SearchAndReconcileResults`, the answer of `/search/jql`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IssueSearch {
    #[serde(default)]
    pub issues: Vec<Issue>,
}

/// `IssueBean` with `fields=status`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Issue {
    pub key: String,
    #[serde(default)]
    pub fields: Option<IssueFields>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct IssueFields {
    #[serde(default)]
    pub status: Option<Status>,
}

/// `StatusDetails`: an issue's status or a transition's target.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Status {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status_category: Option<StatusCategory>,
}

/// `StatusCategory`: `key` is `new`, `indeterminate`, `done` or `undefined`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StatusCategory {
    pub key: String,
}

/// `Transitions`, the answer of `/issue/{key}/transitions`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Transitions {
    #[serde(default)]
    pub transitions: Vec<Transition>,
}

/// `IssueTransition`; `fields` (with `expand=transitions.fields`) are the
/// fields on the transition's screen, keyed by field id.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Transition {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub to: Option<Status>,
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, FieldMetadata>,
    #[serde(default)]
    pub is_available: Option<bool>,
}

/// `FieldMetadata`: a system field names itself in `schema.system`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FieldMetadata {
    #[serde(default)]
    pub schema: Option<FieldSchema>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FieldSchema {
    #[serde(default)]
    pub system: Option<String>,
}
