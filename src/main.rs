//! The `swarm` binary: parses flags, runs the chosen command, maps the outcome to an exit code.

use clap::Parser;
use std::process::ExitCode;
use swarm::cli::Cli;

/// Exit code for bad input: a scenario that does not load, a bad flag.
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match missing_command(&e) {
            Some(hint) => {
                eprintln!("{hint}");
                return ExitCode::from(BAD_INPUT);
            }
            None => e.exit(),
        },
    };
    // Each virtual user holds a socket: lift the soft limit on open files (often 1024) to the
    // hard limit, as load testers must. rlimit wraps getrlimit/setrlimit for this.
    // As root, the hard limit goes up first, to the kernel's fs.nr_open (a plain user
    // cannot raise it, and the call then changes nothing).
    if let Some(most) = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
    {
        let _ = rlimit::setrlimit(rlimit::Resource::NOFILE, most, most);
    }
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    // On one core (e.g. pinned with taskset) the single-threaded scheduler does the same
    // work without cross-thread synchronisation.
    // A worker process of `swarm run --processes` is one core's share: one thread too.
    let one_core = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1)
        || std::env::var_os(swarm::dist::local::ONE_THREAD_ENV).is_some();
    let mut builder = if one_core {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("swarm: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(swarm::commands::dispatch(cli.command));
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("swarm: {e:#}");
            ExitCode::from(BAD_INPUT)
        }
    }
}

/// `swarm http://host/ -n 100` (as oha is typed), `swarm -u 10 file.toml`: the command is
/// missing, and clap's `error` says "unrecognized subcommand" or "unexpected argument";
/// this says which command line runs it instead. Only asked when clap refused the line.
fn missing_command(error: &clap::Error) -> Option<String> {
    use clap::CommandFactory;
    use clap::error::ErrorKind;
    if !matches!(
        error.kind(),
        ErrorKind::InvalidSubcommand | ErrorKind::UnknownArgument
    ) {
        return None;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let first = args.first()?;
    let known = first == "help"
        || Cli::command()
            .get_subcommands()
            .any(|c| c.get_name() == first.as_str());
    let target = args
        .iter()
        .find(|a| swarm::cli::is_url(a) || a.ends_with(".toml"))?;
    (!known).then(|| {
        format!(
            "error: swarm needs a command first; to load-test {target}, type:\n\n  swarm run {}\n\n(swarm --help lists the commands)",
            args.iter().map(|a| quoted(a)).collect::<Vec<_>>().join(" ")
        )
    })
}

/// `a` as a shell word: single-quoted when it holds anything but plain characters.
fn quoted(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}
