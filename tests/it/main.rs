//! End-to-end tests: the real `itsmid` binary against the simulators, in a
//! fresh temporary folder each.

mod browser;
mod check;
mod daemon;
mod files;
mod inputs;
mod inputs_e2e;
mod jira_dc;
mod limits;
mod limits_split;
mod pipeline;
mod readiness_freshservice;
mod readiness_jira;
mod readiness_manageengine;
mod readiness_salesforce;
mod readiness_servicenow;
mod recording;
mod resolve;
mod salesforce_jwt;
mod schemas;
mod servicenow_oauth;
mod status_page;
mod support;
mod systems;
mod terminal;
mod users;
mod webhook;
