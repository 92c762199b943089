//! `itsmid lint`: the offline checks; sends no request, resolves no secret.

use super::{Args, emit};
use crate::app;
use crate::verdict::Verdict;

pub fn run(args: &Args) -> anyhow::Result<Verdict> {
    let (config, identities) = app::load_inputs(&args.config)?;
    let report = crate::lint::lint(&config, &identities);
    emit(args, &report.to_json(), &report.to_table())?;
    Ok(report.verdict())
}
