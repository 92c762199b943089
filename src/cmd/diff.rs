//! `itsmid diff A B`: the users and fields that changed between two
//! snapshots.

use super::{Args, emit};
use crate::app::{self, blocking};
use crate::verdict::Verdict;

pub async fn run(args: &Args, from: i64, to: i64) -> anyhow::Result<Verdict> {
    let path = app::load_config(&args.config)?.store.path;
    let diff =
        blocking(move || Ok(crate::pipeline::export::snapshot_diff(&path, from, to)?)).await?;
    let json = serde_json::to_string_pretty(&diff).unwrap_or_default();
    emit(args, &json, &diff.to_table())?;
    Ok(Verdict::InOrder)
}
