//! `itsmid load [--dry-run] [--accept-large-change]`: check, merge,
//! validate and load, then the load's report.

use super::progress::{ProgressLine, Run};
use super::{Args, emit};
use crate::pipeline::RunOptions;
use crate::verdict::Verdict;

pub async fn run(args: &Args, options: RunOptions) -> anyhow::Result<Verdict> {
    let line = ProgressLine::start(args, Run::Load);
    let progress = std::sync::Arc::clone(line.progress());
    let report = crate::app::check_and_load(&args.config, options, progress)
        .await?
        .load;
    line.finish();
    emit(args, &report.to_json(), &report.to_table())?;
    if !report.source_errors.is_empty() {
        let lines: Vec<String> = report.source_errors.iter().map(|e| e.to_string()).collect();
        eprintln!(
            "error: nothing was loaded; the store keeps the last good load:\n  {}",
            lines.join("\n  ")
        );
    }
    Ok(report.verdict())
}
