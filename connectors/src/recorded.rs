//! Which system builds a recording's data file, and which of its fields
//! are personal: one exhaustive match per question, so a new system does
//! not compile until it can be recorded (SPEC section 8).

use crate::System;

/// The data file of `system`'s simulator that replays `exchanges` (SPEC
/// section 8), answering as `owner`. An exhaustive match: a new system
/// does not compile until it can be recorded.
pub fn recorded_data(
    system: System,
    exchanges: &[crate::recording::Exchange],
    owner: Option<&crate::ItsmUser>,
) -> serde_json::Value {
    match system {
        System::ServiceNow => crate::servicenow::recording::sim_data(exchanges, owner),
        System::Jira => crate::jira::recording::sim_data(exchanges, owner),
        System::JiraDc => crate::jira_dc::recording::sim_data(exchanges, owner),
        System::Salesforce => crate::salesforce::recording::sim_data(exchanges, owner),
        System::Freshservice => crate::freshservice::recording::sim_data(exchanges, owner),
        System::ManageEngine => crate::manageengine::recording::sim_data(exchanges, owner),
    }
}

/// The fields of `system`'s data that hold names (pseudonymized word by
/// word) and logins: e-mail addresses, user names, External IDs (whole).
pub fn personal_fields(system: System) -> (&'static [&'static str], &'static [&'static str]) {
    match system {
        System::ServiceNow => (
            crate::servicenow::recording::NAME_FIELDS,
            crate::servicenow::recording::LOGIN_FIELDS,
        ),
        System::Jira => (
            crate::jira::recording::NAME_FIELDS,
            crate::jira::recording::LOGIN_FIELDS,
        ),
        System::JiraDc => (
            crate::jira_dc::recording::NAME_FIELDS,
            crate::jira_dc::recording::LOGIN_FIELDS,
        ),
        System::Salesforce => (
            crate::salesforce::recording::NAME_FIELDS,
            crate::salesforce::recording::LOGIN_FIELDS,
        ),
        System::Freshservice => (
            crate::freshservice::recording::NAME_FIELDS,
            crate::freshservice::recording::LOGIN_FIELDS,
        ),
        System::ManageEngine => (
            crate::manageengine::recording::NAME_FIELDS,
            crate::manageengine::recording::LOGIN_FIELDS,
        ),
    }
}
