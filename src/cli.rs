//! Command-line flags as the user types them, parsed once by clap and turned into a `Plan`.

use crate::scenario::{Plan, Stage, UrlRequest, parse_duration, parse_stages, threshold};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

pub use crate::VERSION;

#[derive(Debug, Parser)]
#[command(
    name = "swarm",
    version = VERSION,
    about = "Load-test HTTP backends with virtual users, from a TOML scenario"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run a scenario file, or load-test one URL with defaults (swarm run http://127.0.0.1:8080/)
    Run(Box<RunArgs>),
    /// Validate a scenario file and say what it would do
    Check {
        /// The scenario file
        file: PathBuf,
    },
    /// Start the built-in demo API on 127.0.0.1 and swarm it with scenarios/demo.toml
    Demo(Box<DemoArgs>),
    /// Write a new scenario in the terminal UI, asking for the host first
    New {
        /// Where the scenario will be saved
        file: PathBuf,
    },
    /// Find how many users the server takes before an SLO breaks: raises the users step
    /// by step and reports the knee (swarm find-capacity FILE --slo "p95<450ms,fail<1%")
    FindCapacity(CapacityArgs),
    /// Render a saved run (swarm run --save-run FILE) again: the text report, and any of
    /// --html, --csv, --junit, --json
    Report(ReportArgs),
    /// Compare two saved runs endpoint by endpoint (req/s, p50, p95, p99, max, failures);
    /// --fail-if "p95 +10%" makes it a CI gate that exits 1
    Compare(CompareArgs),
    /// Check what caps a big run on this machine (open files, ephemeral ports, listen
    /// backlog, memory), against a scenario's users when one is given
    Doctor {
        /// A scenario file (.toml) or an http:// URL
        target: Option<String>,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Print a shell completion script: swarm completions bash > /etc/bash_completion.d/swarm
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): swarm man > swarm.1 && man ./swarm.1
    Man,
    /// Run a share of a distributed run: join the controller at --controller, take the
    /// scenario and a segment from it, report back every second
    Worker(WorkerArgs),
    /// List the swarm runs on this machine (id, scenario, state, users, req/s, since when)
    Ps {
        /// One JSON object per run
        #[arg(long)]
        json: bool,
    },
    /// Open the terminal UI on a running run (RUN from swarm ps; the only one when left out)
    Attach(ControlArgs),
    /// A run's figures now (--json: the --json report's document, live)
    Status {
        #[command(flatten)]
        target: ControlArgs,
        /// The --json report's document, live
        #[arg(long)]
        json: bool,
    },
    /// Pause a run: its traffic goes to none and its load plan holds (swarm resume)
    Pause(ControlArgs),
    /// Resume a paused run: the users (or rate) it had come back
    Resume(ControlArgs),
    /// Stop a run's load; it writes its reports and ends
    Stop(ControlArgs),
    /// Change a running run's users (-u), spawn rate (-r) or arrival rate
    Scale(ScaleArgs),
}

/// Which run a control command steers.
#[derive(Debug, Args, Clone)]
pub struct ControlArgs {
    /// The run: its id from swarm ps, its control socket's path, or its --control address
    /// (HOST:PORT); left out, the only run on this machine
    pub run: Option<String>,
    /// The token of a run served with --control and --token-file
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The CA (PEM) that signed the certificate of a run served over TLS (RUN as
    /// https://HOST:PORT)
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub target: ControlArgs,
    /// Users to run now
    #[arg(short = 'u', long)]
    pub users: Option<u32>,
    /// Users started (or stopped) per second on the way there
    #[arg(short = 'r', long, value_parser = parse_rate)]
    pub spawn_rate: Option<f64>,
    /// Open model: iterations started per second
    #[arg(long, value_name = "RATE", conflicts_with = "users")]
    pub arrival_rate: Option<f64>,
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// A scenario file (.toml) or an http:// URL
    pub target: String,
    /// The service-level objective: conditions on the whole run, comma separated, e.g.
    /// "p95<450ms,fail<1%" (metrics as for --threshold; fail = fail_ratio)
    #[arg(long, value_name = "CONDITIONS", value_parser = crate::capacity::parse_slo)]
    pub slo: SloList,
    /// Users in the first step
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub start: u32,
    /// Users added per step
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub step: u32,
    /// How long each step is measured
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub hold: Duration,
    /// How long each step runs before it is measured (its warm-up, left out)
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub settle: Duration,
    /// The most users to try
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_users: u32,
    /// Users started per second between steps (default: the scenario's spawn rate)
    #[arg(short = 'r', long, value_parser = parse_rate)]
    pub spawn_rate: Option<f64>,
    /// Write the steps and the result as JSON to FILE (keys max_users, max_rps, steps, ...)
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report of the search: its steps, and the whole run's
    /// tables and charts
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Base URL that replaces the scenario's host
    #[arg(short = 'H', long, value_name = "URL")]
    pub host: Option<String>,
    #[command(flatten)]
    pub dist: DistArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A file written by swarm run --save-run
    pub run: PathBuf,
    /// Write the final statistics as JSON to FILE (- for standard output)
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write Locust's CSV files under PREFIX (the history holds the run's final row)
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,
    /// Write a JUnit XML report: a test case per threshold
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the self-contained HTML report
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The saved run to compare against (swarm run --save-run BASE)
    pub base: PathBuf,
    /// The saved run to judge
    pub new: PathBuf,
    /// How much worse NEW may be than BASE, per endpoint and for all; repeatable:
    /// "p95 +10%", "p99 +5ms", "rps -10%", "fail_ratio +1pp". Exit code 1 when one breaks
    #[arg(long = "fail-if", value_name = "LIMIT", value_parser = crate::compare::parse_fail_if)]
    pub fail_if: Vec<crate::compare::FailIf>,
}

/// The parsed value of `--slo`.
type SloList = Vec<threshold::Threshold>;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A scenario file (.toml) or an http:// URL
    pub target: String,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Base URL that replaces the scenario's host (-H is --host, as in Locust; request
    /// headers are --header)
    #[arg(short = 'H', long, value_name = "URL")]
    pub host: Option<String>,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub dist: DistArgs,
}

/// A distributed run's controller: it waits for its workers, then runs the scenario
/// over all of them, each a share of the load.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Distributed run (controller)")]
pub struct DistArgs {
    /// Run over N workers (swarm worker --controller ADDR), each a share of the load;
    /// starts once all N have joined (headless)
    #[arg(long, value_name = "N", visible_alias = "expect-workers")]
    pub workers: Option<u32>,
    /// Run over N worker processes on this machine that swarm starts itself (Locust's
    /// --processes): for more users than one process's open-files limit allows, or one
    /// process per core
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = parse_processes,
        conflicts_with_all = ["workers", "token_file", "tls_cert", "tolerate_worker_loss"]
    )]
    pub processes: Option<u32>,
    /// Where the workers reach the controller
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:5557",
        requires = "workers"
    )]
    pub listen: String,
    /// A shared secret the workers must present (needed to listen beyond loopback); with
    /// --control, the secret its clients must present too
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// When a worker is lost, share its load over the others and go on (the report says
    /// the run was degraded) instead of stopping with exit code 3
    #[arg(long, requires = "workers")]
    pub tolerate_worker_loss: bool,
    /// How long to wait for every worker to join before giving up with exit code 3, the
    /// joined ones named (Locust's flag; seconds, or a duration such as 2m). Without it
    /// the controller waits until stopped
    #[arg(long, value_name = "SECONDS", requires = "workers", value_parser = parse_wait_limit)]
    pub expect_workers_max_wait: Option<Duration>,
    /// TLS on the control port (the workers' with --workers, the control API's with
    /// --control): the certificate (PEM; with --tls-key)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Ask every worker for a client certificate signed by this CA (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

/// `swarm worker`: runs a share of a distributed run for its controller.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The controller's address, HOST:PORT (swarm run FILE --workers N listens on it)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:5557")]
    pub controller: String,
    /// The controller's shared secret (its --token-file)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The shared secret itself, from the environment (how `swarm run --processes` hands
    /// its own workers theirs)
    #[arg(long, env = "SWARM_TOKEN", hide = true, hide_env_values = true)]
    pub token: Option<String>,
    /// The segment to run, 0 to N-1 (a Kubernetes Job's completion index, so that a
    /// replaced pod takes its predecessor's share); the next free one otherwise
    #[arg(long, value_name = "I", env = "JOB_COMPLETION_INDEX")]
    pub index: Option<u32>,
    /// Speak TLS to the controller, trusting this CA (PEM) for its certificate
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// A client certificate for a controller that asks for one (PEM; with --tls-key)
    #[arg(long, value_name = "FILE", requires_all = ["tls_ca", "tls_key"])]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// After losing the controller, stop the users and join it again (for up to a minute,
    /// asking for the same segment) instead of exiting with code 3
    #[arg(long)]
    pub reconnect: bool,
    /// Keep this worker's own share of the run as a saved run (an HdrHistogram interval
    /// log, as `swarm run --save-run` writes): its samples, apart from the swarm's
    #[arg(long, value_name = "FILE")]
    pub save_run: Option<PathBuf>,
}

/// The request of `swarm run URL`, as curl and oha users type it.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Request (swarm run URL only)")]
pub struct RequestArgs {
    /// HTTP method (default GET, or POST with a body)
    #[arg(short = 'm', long, value_name = "METHOD")]
    pub method: Option<String>,
    /// Request body, sent as application/x-www-form-urlencoded (as curl -d)
    #[arg(short = 'd', long, value_name = "BODY", conflicts_with_all = ["data_file", "json_data"])]
    pub data: Option<String>,
    /// Request body read from FILE (text), sent as application/x-www-form-urlencoded
    #[arg(long, value_name = "FILE", conflicts_with = "json_data")]
    pub data_file: Option<PathBuf>,
    /// A JSON request body, sent with Content-Type: application/json (checked before
    /// the run; --json names the report file)
    #[arg(long, value_name = "TEXT")]
    pub json_data: Option<String>,
    /// A request header "Name: value"; repeatable
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!(
            "\"{s}\" is not a header; write \"Name: value\", e.g. \"Authorization: Bearer abc\""
        )),
    }
}

impl RequestArgs {
    fn is_empty(&self) -> bool {
        self.method.is_none()
            && self.data.is_none()
            && self.data_file.is_none()
            && self.json_data.is_none()
            && self.headers.is_empty()
    }

    /// The request for a URL run; refused for a scenario file, whose endpoints say it.
    pub fn request(&self, url: bool, until_count: bool) -> Result<UrlRequest, String> {
        if !url {
            return if self.is_empty() {
                Ok(UrlRequest::default())
            } else {
                Err("-m, -d, --data-file, --json-data and --header apply to swarm run URL; a scenario file sets them per endpoint".into())
            };
        }
        let body = if let Some(d) = &self.data {
            Some((d.clone(), FORM))
        } else if let Some(path) = &self.data_file {
            Some((body_file(path)?, FORM))
        } else if let Some(j) = &self.json_data {
            serde_json::from_str::<serde_json::Value>(j)
                .map_err(|e| format!("--json-data: not JSON: {e}"))?;
            Some((j.clone(), "application/json"))
        } else {
            None
        };
        Ok(UrlRequest {
            method: self.method.clone(),
            body,
            headers: self.headers.clone(),
            until_count,
        })
    }
}

const FORM: &str = "application/x-www-form-urlencoded";

/// `--data-file`: the body's text, at most the 16 MB a rendered template may be (it had
/// been read whole: /dev/zero until memory ran out, 300 MB took 4 GB and never started).
/// A pipe (`--data-file <(...)`) is read as a file is, as curl reads `-d @file`.
fn body_file(path: &std::path::Path) -> Result<String, String> {
    use crate::scenario::template::MAX_RENDERED_BYTES;
    crate::fsutil::read_small_text(
        path,
        MAX_RENDERED_BYTES as u64,
        "a request body is at most 16 MB",
    )
    .map_err(|e| format!("--data-file: {e}"))
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Only run the demo server, until Ctrl-C
    #[arg(long)]
    pub serve: bool,
    /// Port for the demo server (default: a free port)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    #[command(flatten)]
    pub load: LoadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Flags that override the scenario's `[load]` table.
#[derive(Debug, Args, Clone, Default)]
pub struct LoadArgs {
    /// Peak number of concurrent users (each holds its own connections)
    #[arg(short = 'u', long, visible_short_alias = 'c', value_parser = clap::value_parser!(u32).range(1..))]
    pub users: Option<u32>,
    /// Users started per second (0.5 = one every 2 s)
    #[arg(short = 'r', long, value_parser = parse_rate)]
    pub spawn_rate: Option<f64>,
    /// Stop after this long: 90s, 5m, 1h30m
    #[arg(short = 't', long, visible_short_alias = 'z', value_parser = parse_run_time)]
    pub run_time: Option<Duration>,
    /// Stop after exactly N requests (on_start and on_stop steps not counted)
    #[arg(short = 'n', long = "requests", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub requests: Option<u64>,
    /// Stop after N tasks in all (a flow is one task), shared by the users, as [load]
    /// iterations
    #[arg(short = 'i', long = "iterations", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: Option<u64>,
    /// Load stages, users:duration[:spawn_rate], e.g. "50:1m,100:5m,0:30s", or arrival
    /// rates ramped linearly, rate:duration, e.g. "100/s:1m,300/s:5m"
    #[arg(long, value_name = "STAGES", value_parser = parse_stage_list)]
    pub stages: Option<StageList>,
    /// Open model: start iterations at this rate whatever the response times, e.g. 200/s
    /// (-q N: oha's rate limit, N a second)
    #[arg(short = 'q', long, value_name = "RATE", value_parser = parse_arrival_rate)]
    pub arrival_rate: Option<f64>,
    /// Open model: the most users running at once
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_users: Option<u32>,
    /// A pass/fail condition on the whole run, repeatable: p95<300ms, fail_ratio<1%, rps>100
    #[arg(long = "threshold", value_name = "COND", value_parser = threshold::parse_flag)]
    pub thresholds: Vec<threshold::Threshold>,
    /// Run only the endpoints and flows tagged with one of these (tags = [...]), e.g.
    /// checkout,slow
    #[arg(long, value_name = "TAGS", value_parser = parse_tags)]
    pub tags: Option<TagList>,
    /// Leave out the endpoints and flows tagged with one of these (wins over --tags)
    #[arg(long, value_name = "TAGS", value_parser = parse_tags)]
    pub exclude_tags: Option<TagList>,
    /// Source addresses to connect from, in turn: 127.0.0.2,127.0.0.3 or
    /// 127.0.0.2-127.0.0.9 (as [defaults] local_addresses; one address reaches about
    /// 28 000 ports per destination)
    #[arg(long, value_name = "IPS", value_parser = parse_local_ips)]
    pub local_ips: Option<LocalIps>,
    /// Accept any TLS certificate (self-signed test servers), as [defaults] insecure = true
    #[arg(long)]
    pub insecure: bool,
    /// Show the first N requests and responses (head and the start of the body), and the
    /// first of every failure, on standard error (k6's --http-debug, curl's -v; 10 when N
    /// is left out); the run is then headless
    #[arg(short = 'v', long, value_name = "N", num_args = 0..=1, default_missing_value = "10")]
    pub http_debug: Option<u64>,
    /// Speak HTTP/2 (oha's --http2): offered by ALPN over TLS, spoken at once (prior
    /// knowledge) over plain TCP; as [defaults] http2 = true
    #[arg(long)]
    pub http2: bool,
    /// How long in-flight requests may finish at the stop before they are cut (seconds,
    /// as Locust's, or a duration), as [load] stop_timeout
    #[arg(short = 's', long, value_name = "SECONDS", value_parser = parse_stop_timeout)]
    pub stop_timeout: Option<Duration>,
    /// The request timeout of every endpoint (oha's and k6's --timeout), as [defaults]
    /// timeout
    #[arg(long, value_name = "DURATION", value_parser = parse_run_time)]
    pub timeout: Option<Duration>,
    /// Locust's log level: swarm has none (progress lines go to standard error; --quiet
    /// drops them)
    #[arg(short = 'L', long, hide = true, value_parser = refuse_loglevel)]
    pub loglevel: Option<String>,
}

/// `--control`: HOST:PORT, or a port alone (on 127.0.0.1, as k6's 6565).
fn parse_control(text: &str) -> Result<std::net::SocketAddr, String> {
    let t = text.trim();
    let full = match t.parse::<u16>() {
        Ok(port) => format!("127.0.0.1:{port}"),
        Err(_) if t.starts_with(':') => format!("127.0.0.1{t}"),
        Err(_) => t.to_string(),
    };
    full.parse().map_err(|_| {
        "not an address; write e.g. 127.0.0.1:6565 (or 0.0.0.0:6565 with --token-file)".to_string()
    })
}

fn refuse_loglevel(_: &str) -> Result<String, String> {
    Err("swarm has no log levels: progress lines go to standard error (--quiet or --only-summary drops them), the report to standard output, and --http-debug shows requests and responses".into())
}

/// Flags about the run's output.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Output and reports")]
pub struct OutputArgs {
    /// Run without the terminal UI and print a report (the default when stdout is not a terminal)
    #[arg(long)]
    pub headless: bool,
    /// Write the final statistics as JSON to FILE (- for standard output; the text report
    /// then goes to standard error)
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write Locust's CSV files: PREFIX_stats.csv, PREFIX_stats_history.csv (a row a
    /// second, while the run goes on), PREFIX_failures.csv, PREFIX_exceptions.csv
    #[arg(long, value_name = "PREFIX")]
    pub csv: Option<PathBuf>,
    /// Every endpoint's row in the CSV history, not only the aggregate
    #[arg(long, requires = "csv")]
    pub csv_full_history: bool,
    /// Write a JUnit XML report for CI: a test case per threshold (or "no failed requests")
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML report (tables, charts over time, distribution,
    /// failures, thresholds, the scenario) that opens with no network
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Serve live metrics for Prometheus at http://ADDR/metrics while the run goes on,
    /// e.g. 127.0.0.1:9646
    #[arg(long, value_name = "ADDR")]
    pub prometheus: Option<String>,
    /// Serve the run's control API over TCP too, e.g. 127.0.0.1:6565 (every run serves it
    /// on a Unix socket; swarm ps lists them). Beyond loopback it needs --token-file
    #[arg(long, value_name = "ADDR", value_parser = parse_control)]
    pub control: Option<std::net::SocketAddr>,
    /// TUI: closing the terminal (SIGHUP) stops the run; without it, the run goes on
    /// detached, as after D (swarm attach comes back to it)
    #[arg(long)]
    pub stop_on_hangup: bool,
    /// The token --control asks for (read from --token-file)
    #[arg(skip)]
    pub control_token: Option<String>,
    /// --control's TLS: the certificate and key (PEM, read from --tls-cert, --tls-key)
    #[arg(skip)]
    pub control_tls: Option<(String, String)>,
    /// After a headless run, keep serving the final metrics this long, so that a scrape
    /// catches the end (e.g. 15s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "prometheus")]
    pub prometheus_linger: Option<Duration>,
    /// A saved run (--save-run) to show beside the live figures (TUI) and in the final
    /// report
    #[arg(long, value_name = "RUN")]
    pub baseline: Option<PathBuf>,
    /// Save the run to FILE for swarm report and swarm compare: an HdrHistogram interval
    /// log (a line a second per endpoint) with the scenario and the final figures
    #[arg(long, value_name = "FILE")]
    pub save_run: Option<PathBuf>,
    /// Exit code when any request failed
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub exit_code_on_error: i32,
    /// In the terminal UI, start the swarm at once instead of opening idle
    #[arg(long)]
    pub autostart: bool,
    /// No progress lines while a headless run goes on: the report at the end only
    /// (Locust's --only-summary)
    #[arg(long, visible_alias = "only-summary")]
    pub quiet: bool,
    /// Reset the statistics once every user has started (Locust's --reset-stats): the
    /// report then leaves the ramp-up out
    #[arg(long)]
    pub reset_stats: bool,
}

/// The parsed value of `--local-ips`.
#[derive(Debug, Clone)]
pub struct LocalIps(pub Vec<std::net::IpAddr>);

fn parse_local_ips(s: &str) -> Result<LocalIps, String> {
    crate::scenario::addresses::parse_list(s).map(LocalIps)
}

/// The parsed value of `--tags` and `--exclude-tags`.
#[derive(Debug, Clone)]
pub struct TagList(pub Vec<String>);

fn parse_tags(s: &str) -> Result<TagList, String> {
    crate::scenario::tags::parse_tag_list(s).map(TagList)
}

/// The parsed value of `--stages`.
#[derive(Debug, Clone)]
pub struct StageList(pub Vec<Stage>);

fn parse_stage_list(s: &str) -> Result<StageList, String> {
    parse_stages(s).map(StageList)
}

fn parse_arrival_rate(s: &str) -> Result<f64, String> {
    crate::scenario::parse_rate(s)
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r >= crate::scenario::MIN_SPAWN_RATE && r.is_finite() => Ok(r),
        Ok(r) if r > 0.0 && r.is_finite() => Err(format!(
            "\"{s}\" is less than one user an hour; the smallest rate is {:.6}",
            crate::scenario::MIN_SPAWN_RATE
        )),
        _ => Err(format!(
            "\"{s}\" is not a rate above 0; write e.g. 10 or 0.5"
        )),
    }
}

/// `--processes N`, or -1 for one per core (Locust's).
fn parse_processes(s: &str) -> Result<u32, String> {
    match s.trim().parse::<i64>() {
        Ok(-1) => Ok(std::thread::available_parallelism().map_or(1, |n| n.get() as u32)),
        Ok(n) if (0..=4096).contains(&n) => Ok(n as u32),
        _ => Err(format!(
            "\"{s}\" is not a number of processes; give N, or -1 for one per core"
        )),
    }
}

/// A bare number is seconds, as Locust reads `-t 90` and `-s 10`; else a duration.
fn seconds_or_duration(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && (0.0..1e12).contains(&secs) => {
            Ok(Duration::from_secs_f64(secs))
        }
        Ok(_) => Err(format!(
            "\"{s}\" is not a number of seconds; write e.g. 90 or 1m30s"
        )),
        Err(_) => parse_duration(s),
    }
}

/// `-s/--stop-timeout`: seconds (Locust's) or a duration; 0 cuts at once.
fn parse_stop_timeout(s: &str) -> Result<Duration, String> {
    seconds_or_duration(s)
}

/// Seconds as Locust writes them (`60`), or a duration (`90s`, `2m`); above zero.
fn parse_wait_limit(s: &str) -> Result<Duration, String> {
    let d = match s.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => Duration::from_secs_f64(secs),
        Ok(_) => {
            return Err(format!(
                "\"{s}\" is not a number of seconds above 0; write e.g. 60 or 2m"
            ));
        }
        Err(_) => parse_duration(s)?,
    };
    if d.is_zero() {
        return Err(format!(
            "\"{s}\" would give up before any worker can join; write e.g. 60 or 2m"
        ));
    }
    Ok(d)
}

fn parse_run_time(s: &str) -> Result<Duration, String> {
    match seconds_or_duration(s)? {
        d if d.is_zero() => Err(format!(
            "\"{s}\" would stop the run before it starts; write e.g. 30s or 5m"
        )),
        d => Ok(d),
    }
}

impl LoadArgs {
    /// Applies the flags over the scenario's values; refuses flags of the other load model
    /// (users for an arrival-rate run, and the reverse).
    pub fn apply(&self, plan: &mut Plan) -> Result<(), String> {
        self.apply_model(&mut plan.load)?;
        if let Some(u) = self.users {
            plan.load.users = u;
        }
        if self.insecure {
            plan.net.insecure = true;
        }
        if self.http2 {
            plan.net.http2 = true;
        }
        if let Some(n) = self.http_debug {
            plan.net.http_debug = n;
        }
        if let Some(LocalIps(ips)) = &self.local_ips {
            plan.net.local_addresses = ips.clone();
        }
        if let Some(r) = self.spawn_rate {
            plan.load.spawn_rate = r;
        }
        if let Some(t) = self.run_time {
            plan.load.run_time = Some(t);
        }
        if let Some(t) = self.stop_timeout {
            plan.load.stop_timeout = t;
        }
        if let Some(t) = self.timeout {
            plan.set_request_timeout(t);
        }
        if let Some(n) = self.requests {
            plan.load.max_requests = Some(n);
        }
        if let Some(n) = self.iterations {
            plan.load.max_iterations = Some(n);
        }
        plan.thresholds.extend(self.thresholds.iter().cloned());
        let filter = crate::scenario::tags::TagFilter {
            include: self.tags.clone().map(|t| t.0).unwrap_or_default(),
            exclude: self.exclude_tags.clone().map(|t| t.0).unwrap_or_default(),
        };
        plan.apply_tags(&filter)?;
        if let Some((t, why)) = self
            .thresholds
            .iter()
            .find_map(|t| Some((t, plan.unmeasurable(t)?)))
        {
            return Err(format!("--threshold {}: {why}", t.text));
        }
        if let Some(StageList(stages)) = &self.stages {
            plan.load.stages = stages.clone();
            if self.run_time.is_none() {
                plan.load.run_time = Some(stages.iter().map(|s| s.duration).sum());
            }
        }
        Ok(())
    }

    /// The load model's flags: an arrival rate, stages, users and max users, each
    /// refused where the run follows the other model.
    fn apply_model(&self, l: &mut crate::scenario::Load) -> Result<(), String> {
        if let Some(r) = self.arrival_rate {
            if r == 0.0 && self.stages.is_none() && l.stages.is_empty() {
                return Err("--arrival-rate: 0/s would start no iteration; give a rate above 0, e.g. 10/s, or --stages that ramp up from it".into());
            }
            l.arrival_rate = Some(r);
            if self.stages.is_none() && l.stages.iter().any(|s| s.arrival_rate.is_none()) {
                return Err("--arrival-rate: the scenario's stages count users; give --stages as rates too, e.g. \"100/s:1m,200/s:1m\"".into());
            }
        }
        if let Some(StageList(stages)) = &self.stages {
            let open = stages.iter().any(|s| s.arrival_rate.is_some());
            if open && l.arrival_rate.is_none() {
                l.arrival_rate = Some(0.0);
            }
            if !open && l.is_open() {
                return Err("--stages: this run follows an arrival rate; give stages as rate:duration, e.g. \"100/s:1m\"".into());
            }
        }
        if self.users.is_some() && l.is_open() {
            return Err("-u/--users: this run follows an arrival rate (open model); cap its users with --max-users".into());
        }
        if let Some(u) = self.users {
            let from = match &self.stages {
                Some(_) => "--stages",
                None if !l.stages.is_empty() => "the scenario's [[load.stages]]",
                None => "",
            };
            if !from.is_empty() {
                return Err(format!(
                    "-u/--users: {from} set the users at every moment, so -u {u} would not run; give the users in the stages, e.g. --stages \"{u}:1m\""
                ));
            }
        }
        if let Some(m) = self.max_users {
            if !l.is_open() {
                return Err(
                    "--max-users applies to arrival-rate runs; for looping users use -u/--users"
                        .into(),
                );
            }
            l.max_users = m;
        }
        Ok(())
    }
}

/// When `target` is not a file but looks like a host or URL without its scheme
/// (`localhost:8080`, `127.0.0.1/api`, `example.com:80`): the URL it probably means.
pub(crate) fn url_hint(target: &str) -> Option<String> {
    if target.ends_with(".toml") || std::path::Path::new(target).exists() {
        return None;
    }
    let authority = target.split('/').next().unwrap_or("");
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (authority, None),
    };
    let hostlike = host == "localhost"
        || host.parse::<std::net::IpAddr>().is_ok()
        || (port.is_some() && !host.is_empty() && !host.contains(['\\', ' ']));
    hostlike.then(|| format!("http://{target}"))
}

/// True when `target` names a URL rather than a file.
pub fn is_url(target: &str) -> bool {
    target.starts_with("http://") || target.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Locust's `--processes -1` is one per core; a bare -t and -s are seconds.
    #[test]
    fn locusts_numbers_read_as_locust_reads_them() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let cli = Cli::try_parse_from([
            "swarm",
            "run",
            "x.toml",
            "--processes",
            "-1",
            "-t",
            "90",
            "-s",
            "10",
        ])
        .unwrap();
        let Cmd::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.dist.processes, Some(cores));
        assert_eq!(args.load.run_time, Some(Duration::from_secs(90)));
        assert_eq!(args.load.stop_timeout, Some(Duration::from_secs(10)));
        assert!(Cli::try_parse_from(["swarm", "run", "x.toml", "--processes", "-2"]).is_err());
        let cli = Cli::try_parse_from(["swarm", "run", "x.toml", "--expect-workers", "3"]).unwrap();
        let Cmd::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.dist.workers, Some(3));
    }
}
