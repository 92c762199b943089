//! Connector tests against wiremock servers: exact requests (method, path,
//! query, auth) and real response shapes. One binary, one module per system.

mod jira;
mod salesforce;
mod servicenow;
mod support;
