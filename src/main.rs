//! The `itsmid` binary: parse the arguments, start logging, run the command,
//! and own the exit status (0 in order, 1 error findings, 2 bad input).

use std::process::ExitCode;

use itsmid::verdict::Verdict;

fn main() -> ExitCode {
    let args = itsmid::cmd::Args::parse_with_env();
    itsmid::telemetry::init_logging(args.verbose, args.quiet, args.log_format.into());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(itsmid::cmd::run(args)) {
        Ok(verdict) => exit_status(verdict),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// SPEC section 2's exit statuses: the one place a verdict becomes one.
fn exit_status(verdict: Verdict) -> ExitCode {
    match verdict {
        Verdict::InOrder => ExitCode::SUCCESS,
        Verdict::Problems => ExitCode::from(1),
        Verdict::Refused => ExitCode::from(2),
    }
}
