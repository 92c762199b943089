//! `itsmid simulate`: serves one system's simulator until stopped.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, anyhow};
use itsmid_connectors::System;
use itsmid_connectors::sim::AnySimulator;

use crate::verdict::Verdict;

pub async fn run(system: &str, data: &Path, listen: SocketAddr) -> anyhow::Result<Verdict> {
    let system = System::parse(system).ok_or_else(|| {
        anyhow!(
            "unknown system \"{system}\"; use one of: {}",
            System::ALL.map(System::as_str).join(", ")
        )
    })?;
    let text =
        std::fs::read_to_string(data).with_context(|| format!("cannot read {}", data.display()))?;
    let shutdown = crate::app::shutdown_signal()?;
    let sim = AnySimulator::start(
        system,
        &data.display().to_string(),
        &text,
        Some(listen),
        false,
    )
    .await?;
    eprintln!(
        "serving the {system} simulator at {} (Ctrl-C stops it)",
        sim.uri()
    );
    eprintln!("it accepts, from {}:", data.display());
    for line in itsmid_connectors::sim::accepted_credentials(&text) {
        eprintln!("  {line}");
    }
    shutdown.await;
    Ok(Verdict::InOrder)
}
