//! `itsmid export [--explain ID]`: the Imported Users of the last load.

use std::io::Write;

use anyhow::{Context, anyhow};

use super::{Args, Format, emit};
use crate::app::{self, blocking};
use crate::pipeline::export::{explain_user, write_export};
use crate::pipeline::model::Schema;
use crate::pipeline::store::Store;
use crate::verdict::Verdict;

pub async fn run(args: &Args, explain_id: Option<&str>) -> anyhow::Result<Verdict> {
    let config = app::load_config(&args.config)?;
    if let Some(id) = explain_id {
        let id = id.to_owned();
        let explained = blocking(move || {
            let names: Vec<String> = config.sources.iter().map(|s| s.name.clone()).collect();
            let schema = Schema::new(
                &config.pipeline.custom_attributes,
                &names,
                &config.pipeline.joining_key,
            )
            .map_err(|e| anyhow!("{}: {e}", config.path.display()))?;
            let store = Store::open_existing(&config.store.path)?;
            Ok(explain_user(&store, &schema, &id)?)
        })
        .await?;
        let json = serde_json::to_string_pretty(&explained).unwrap_or_default();
        emit(args, &json, &explained.to_table())?;
        return Ok(Verdict::InOrder);
    }
    // JSON Lines whatever the default format, unless JSON was asked for.
    let array = args.format == Some(Format::Json);
    let output = args.output.clone();
    blocking(move || {
        let store = Store::open_existing(&config.store.path)?;
        let sink: Box<dyn Write> = match &output {
            Some(path) => Box::new(
                crate::private_file::create(path)
                    .with_context(|| format!("cannot write {}", path.display()))?,
            ),
            None => Box::new(std::io::stdout().lock()),
        };
        let mut out = std::io::BufWriter::with_capacity(1 << 16, sink);
        write_export(&store, &mut out, array)
            .and_then(|()| out.flush())
            .context("cannot write the export")?;
        Ok(Verdict::InOrder)
    })
    .await
}
