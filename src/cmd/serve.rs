//! `itsmid serve`: the daemon, until SIGTERM or Ctrl-C.

use std::net::SocketAddr;

use super::Args;
use crate::verdict::Verdict;

pub async fn run(args: &Args, listen: Option<SocketAddr>) -> anyhow::Result<Verdict> {
    crate::app::daemon::serve(&args.config, listen).await?;
    Ok(Verdict::InOrder)
}
