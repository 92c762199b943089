//! The `itsmid` binary: parse the arguments, start logging, run the command,
//! and own the exit status (0 in order, 1 error findings, 2 bad input).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = itsmid::cli::Args::parse_with_env();
    itsmid::telemetry::init_logging(args.verbose, args.quiet);
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
    match runtime.block_on(itsmid::cli::run(args)) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
