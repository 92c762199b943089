//! itsmid: keeps a chat bot's service account and manually managed users
//! correctly linked to their accounts in ticketing systems.
//!
//! The binary is a thin shell over [`cli::run`]; everything else is here so
//! that tests can reach it.

pub mod check;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod doc;
pub mod edit;
pub mod identities;
pub mod lint;
pub mod pipeline;
pub mod pipeline_cli;
pub mod report;
pub mod resolve;
pub mod telemetry;
pub mod users;
