//! `itsmid check`: verifies every ITSM ID Info entry and prints the report.

use super::{Args, emit};
use crate::app;
use crate::verdict::Verdict;

pub async fn run(args: &Args) -> anyhow::Result<Verdict> {
    let (config, identities) = app::load_inputs(&args.config)?;
    let report = app::check(&config, &identities).await?.report;
    emit(args, &report.to_json(), &report.to_table())?;
    Ok(report.verdict())
}
