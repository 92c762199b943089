//! `itsmid lint`: the offline checks; sends no request, resolves no secret.

use super::{Args, emit};
use crate::app;
use crate::verdict::Verdict;

pub fn run(args: &Args, baseline: Option<&std::path::Path>) -> anyhow::Result<Verdict> {
    let baseline = baseline.map(super::read_baseline).transpose()?;
    let (config, identities) = app::load_inputs(&args.config)?;
    let report = crate::lint::lint(&config, &identities);
    emit(args, &report.to_json(), &report.to_table())?;
    match baseline {
        Some(baseline) => Ok(super::against_baseline("lint", &report.findings, &baseline)),
        None => Ok(report.verdict()),
    }
}
