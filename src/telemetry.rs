//! Logging to stderr only: stdout carries nothing but the command's output,
//! so that `--format json` always parses.
//!
//! Never logs a secret: the HTTP client logs origin and path only.

use tracing_subscriber::EnvFilter;

/// `-v` info, `-vv` debug, `-vvv` trace; `-q` errors only; `RUST_LOG` wins.
pub fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},hyper=warn,reqwest=warn,rustls=warn,h2=warn,wiremock=warn"
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
