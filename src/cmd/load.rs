//! `itsmid load [--dry-run] [--accept-large-change]`: check, merge,
//! validate and load, then the load's report.

use super::progress::{ProgressLine, Run};
use super::{Args, emit};
use crate::pipeline::RunOptions;
use crate::verdict::Verdict;

pub async fn run(
    args: &Args,
    options: RunOptions,
    replay: Option<&std::path::Path>,
) -> anyhow::Result<Verdict> {
    let line = ProgressLine::start(args, Run::Load);
    let progress = std::sync::Arc::clone(line.progress());
    let loaded = match replay {
        Some(dir) => crate::app::dry_run_replaying(&args.config, options, dir, progress).await?,
        None => crate::app::check_and_load(&args.config, options, progress).await?,
    };
    let report = loaded.load;
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
