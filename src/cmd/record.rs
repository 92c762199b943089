//! `itsmid record --out DIR [--pseudonymize]`: the check against the live
//! systems, its report printed as `check` prints it, and what the systems
//! answered written into DIR for `--replay`.

use std::path::Path;

use super::progress::{ProgressLine, Run};
use super::{Args, emit};
use crate::app;
use crate::verdict::Verdict;

pub async fn run(args: &Args, out: &Path, pseudonymize: bool) -> anyhow::Result<Verdict> {
    let (config, identities) = app::load_inputs(&args.config)?;
    let line = ProgressLine::start(args, Run::Check);
    let report =
        app::record::record(&config, &identities, out, pseudonymize, line.progress()).await?;
    line.finish();
    emit(args, &report.to_json(), &report.to_table())?;
    eprintln!(
        "recorded: {} (replay with `itsmid check --replay {}`)",
        out.display(),
        out.display()
    );
    Ok(report.verdict())
}
