//! `itsmid demo [--dir DIR] [--serve]`: the five simulators, check, resolve
//! and load; prints the check's report.

use std::net::SocketAddr;
use std::path::Path;

use super::{Args, emit};
use crate::verdict::Verdict;

pub async fn run(
    args: &Args,
    dir: Option<&Path>,
    serve: Option<SocketAddr>,
) -> anyhow::Result<Verdict> {
    let demo = crate::app::demo::run(dir, |report| {
        emit(args, &report.to_json(), &report.to_table())
    })
    .await?;
    match serve {
        None => Ok(demo.verdict),
        Some(listen) => {
            demo.serve(listen).await?;
            Ok(Verdict::InOrder)
        }
    }
}
