//! Connector tests against wiremock servers: exact requests (method, path,
//! query, auth) and real response shapes. One binary, one module per system.

mod freshservice;
mod http;
mod jira;
mod jira_dc;
mod limits;
mod manageengine;
mod salesforce;
mod servicenow;
mod support;
