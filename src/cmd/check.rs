//! `itsmid check`: verifies every ITSM ID Info entry and prints the report.

use super::progress::{ProgressLine, Run};
use super::{Args, emit};
use crate::app;
use crate::verdict::Verdict;

pub async fn run(args: &Args, replay: Option<&std::path::Path>) -> anyhow::Result<Verdict> {
    let (config, identities) = app::load_inputs_replaying(&args.config, replay)?;
    let line = ProgressLine::start(args, Run::Check);
    let report = app::check_replaying(&config, &identities, replay, line.progress())
        .await?
        .report;
    line.finish();
    emit(args, &report.to_json(), &report.to_table())?;
    Ok(report.verdict())
}
