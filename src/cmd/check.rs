//! `itsmid check`: verifies every ITSM ID Info entry and prints the report.

use std::path::Path;

use super::progress::{ProgressLine, Run};
use super::{Args, emit};
use crate::app;
use crate::verdict::Verdict;

pub async fn run(
    args: &Args,
    replay: Option<&Path>,
    baseline: Option<&Path>,
) -> anyhow::Result<Verdict> {
    // Read first: a baseline that cannot be read is a bad invocation, and
    // nothing is checked.
    let baseline = baseline.map(super::read_baseline).transpose()?;
    let (config, identities) = app::load_inputs_replaying(&args.config, replay)?;
    let line = ProgressLine::start(args, Run::Check);
    let report = app::check_replaying(&config, &identities, replay, line.progress())
        .await?
        .report;
    line.finish();
    emit(args, &report.to_json(), &report.to_table())?;
    let Some(baseline) = baseline else {
        return Ok(report.verdict());
    };
    Ok(super::against_baseline(
        "check",
        &report.findings,
        &baseline,
    ))
}
