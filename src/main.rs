//! The `swarm` binary: parses flags, runs the chosen command, maps the outcome to an exit code.

use clap::Parser;
use std::process::ExitCode;
use swarm::cli::Cli;

/// Exit code for bad input: a scenario that does not load, a bad flag.
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let args = locustfile_as_target(std::env::args().collect());
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => match missing_command(&e, &args[1..]).or_else(|| foreign_flag(&e)) {
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
        || std::env::var_os(swarm::cluster::local::ONE_THREAD_ENV).is_some();
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
fn missing_command(error: &clap::Error, args: &[String]) -> Option<String> {
    use clap::CommandFactory;
    use clap::error::ErrorKind;
    if !matches!(
        error.kind(),
        ErrorKind::InvalidSubcommand | ErrorKind::UnknownArgument
    ) {
        return None;
    }
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
            args.iter().map(|a| swarm::fmt::shell_word(a)).collect::<Vec<_>>().join(" ")
        )
    })
}

/// Locust's `-f FILE` / `--locustfile FILE` names the scenario: the same as giving it as
/// the target (`swarm run -f shop.toml` runs shop.toml).
fn locustfile_as_target(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    while let Some(a) = iter.next() {
        match a.as_str() {
            "-f" | "--locustfile" => out.extend(iter.next()),
            _ => match a.strip_prefix("--locustfile=") {
                Some(file) => out.push(file.to_string()),
                None => out.push(a),
            },
        }
    }
    out
}

/// Flags of Locust, k6 and oha that swarm spells otherwise: the unknown flag is answered
/// with swarm's spelling (clap's own tip, "use '-- --vus'", would mislead).
const FOREIGN_FLAGS: &[(&str, &str)] = &[
    ("--vus", "-u/--users N (k6's virtual users)"),
    ("--duration", "-t/--run-time 30s (k6's and oha's duration)"),
    ("--out", "--json FILE, --csv PREFIX or --prometheus ADDR"),
    ("--summary-export", "--json FILE"),
    ("--no-tui", "--headless"),
    ("--rate", "--arrival-rate 100/s (-q 100)"),
    (
        "--master",
        "--workers N (swarm worker --controller HOST:PORT on each worker)",
    ),
    (
        "--worker",
        "the command swarm worker --controller HOST:PORT",
    ),
    ("--master-host", "swarm worker --controller HOST:PORT"),
    (
        "--autostart",
        "the default of a headless run (the TUI takes --autostart too)",
    ),
    (
        "--autoquit",
        "a headless run, which ends at its -t/--run-time",
    ),
    (
        "--print-stats",
        "the default: progress lines on standard error (--quiet drops them)",
    ),
    ("--body", "-d/--data BODY, or --json-data TEXT"),
    ("--method", "-m METHOD"),
    (
        "--latency-correction",
        "--arrival-rate (the open model reports the latency from each iteration's intended start)",
    ),
    (
        "--http-version",
        "the URL's scheme: HTTP/2 is used when a TLS server offers it",
    ),
];

/// Clap's message for an unknown flag, with swarm's spelling instead of its tip.
fn foreign_flag(error: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    let name = arg.split('=').next().unwrap_or(arg);
    let spelled = FOREIGN_FLAGS
        .iter()
        .find(|(flag, _)| *flag == name)
        .map(|(_, swarm)| format!("swarm spells it {swarm}"));
    let text = error.render().to_string();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("tip: to pass"))
        .collect();
    let mut out = kept.join("\n").replace("\n\n\n", "\n\n");
    let hint = spelled.unwrap_or_else(|| "swarm run --help lists every flag".into());
    out = out.replacen('\n', &format!("\n\n  {name}: {hint}\n"), 1);
    Some(out)
}
