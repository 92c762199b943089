//! `itsmid history`: the load snapshots with their counts.

use super::{Args, emit};
use crate::app::{self, blocking};
use crate::verdict::Verdict;

pub async fn run(args: &Args) -> anyhow::Result<Verdict> {
    let path = app::load_config(&args.config)?.store.path;
    let history = blocking(move || Ok(crate::pipeline::export::history(&path)?)).await?;
    let json = serde_json::to_string_pretty(&history).unwrap_or_default();
    emit(args, &json, &history.to_table())?;
    Ok(Verdict::InOrder)
}
