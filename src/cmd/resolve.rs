//! `itsmid resolve [--write]`: prints the proposed changes; `--write` puts
//! them into the identities file.

use super::progress::{ProgressLine, Run};
use super::{Args, emit};
use crate::app;
use crate::verdict::Verdict;

pub async fn run(
    args: &Args,
    write: bool,
    replay: Option<&std::path::Path>,
) -> anyhow::Result<Verdict> {
    let (config, identities) = app::load_inputs_replaying(&args.config, replay)?;
    let line = ProgressLine::start(args, Run::Resolve);
    let plan =
        app::resolve_replaying(&config, &identities, write, None, replay, line.progress()).await?;
    line.finish();
    emit(args, &plan.to_json(), &plan.to_table())?;
    Ok(plan.verdict())
}
