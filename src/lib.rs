//! itsmid: keeps a chat bot's service account and manually managed users
//! correctly linked to their accounts in ticketing systems.
//!
//! Layers, each importing only the ones below it (ARCHITECTURE.md):
//! `cmd` (the command line) → `app` (a check, a load, the daemon, the demo)
//! → the domain (`config`, `identities`, `check`, `resolve`, `lint`, `form`,
//! `edit`, `report`, `recording`, `pipeline`, `verdict`, and the leaves `printable`,
//! `progress`, `private_file`) → the `itsmid_connectors` crate.

pub mod app;
pub mod check;
pub mod cmd;
pub mod config;
pub mod doc;
pub mod edit;
pub mod form;
pub mod identities;
pub mod lint;
pub mod pipeline;
pub mod printable;
pub mod private_file;
pub mod progress;
pub mod recording;
pub mod report;
pub mod resolve;
pub mod telemetry;
pub mod verdict;
