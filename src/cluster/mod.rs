//! Distributed runs: one controller, any number of workers, over gRPC (`proto/swarm.proto`,
//! tonic). The controller is an `Engine` like the local one (same commands in, snapshots
//! out), so the headless runner drives a swarm of workers exactly as it drives one
//! process; its statistics are the workers' deltas merged (HDR histograms merge exactly).
//! Each worker runs a local engine on its `Segment` of the load.

pub mod controller;
pub mod local;
pub mod worker;

/// The generated protocol code.
pub mod proto {
    tonic::include_proto!("swarm.v1");
}

use crate::scenario::{Plan, Stage, tags::TagFilter};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// Controller and workers must run the same swarm.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The control port when `--listen` names none.
pub const DEFAULT_PORT: u16 = 5557;

/// A worker that has not reported for this long is missing.
pub const MISSING_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// Exit code of a run that lost a worker (thresholds are 1, bad input 2).
pub const EXIT_WORKER_LOST: i32 = 3;

/// How to make a token, for the messages that ask for one.
pub const MAKE_TOKEN: &str = "head -c 32 /dev/urandom | base64 > swarm.token";

/// What the controller's command line changed in its scenario (`--tags`, `-n`, `-i`,
/// `--stages`, `--max-users`, `--insecure`, ...): a worker loads the scenario's text and
/// takes these over it, so it runs the swarm the controller's user asked for, not the
/// file alone. The controller's figures are whole-swarm; each worker's segment takes its
/// share of them after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overrides {
    pub users: u32,
    pub spawn_rate: f64,
    pub run_time: Option<Duration>,
    pub stages: Vec<Stage>,
    pub arrival_rate: Option<f64>,
    pub max_users: u32,
    pub max_requests: Option<u64>,
    pub max_iterations: Option<u64>,
    pub insecure: bool,
    pub tags: TagFilter,
    /// `-s/--stop-timeout` and `--timeout` (older controllers send neither).
    #[serde(default)]
    pub stop_timeout: Option<Duration>,
    #[serde(default)]
    pub request_timeout: Option<Duration>,
    #[serde(default)]
    pub http2: bool,
}

impl Overrides {
    pub fn of(plan: &Plan) -> Overrides {
        let l = &plan.load;
        Overrides {
            users: l.users,
            spawn_rate: l.spawn_rate,
            run_time: l.run_time,
            stages: l.stages.clone(),
            arrival_rate: l.arrival_rate,
            max_users: l.max_users,
            max_requests: l.max_requests,
            max_iterations: l.max_iterations,
            insecure: plan.net.insecure,
            tags: plan.tag_filter.clone(),
            stop_timeout: Some(l.stop_timeout),
            request_timeout: plan.request_timeout,
            http2: plan.net.http2,
        }
    }

    /// Takes these over a plan loaded from the scenario's text.
    pub fn apply(&self, plan: &mut Plan) -> Result<(), String> {
        let l = &mut plan.load;
        l.users = self.users;
        l.spawn_rate = self.spawn_rate;
        l.run_time = self.run_time;
        l.stages = self.stages.clone();
        l.arrival_rate = self.arrival_rate;
        l.max_users = self.max_users;
        l.max_requests = self.max_requests;
        l.max_iterations = self.max_iterations;
        plan.net.insecure = self.insecure;
        plan.net.http2 |= self.http2;
        if let Some(t) = self.stop_timeout {
            plan.load.stop_timeout = t;
        }
        if let Some(t) = self.request_timeout {
            plan.set_request_timeout(t);
        }
        plan.apply_tags(&self.tags)
    }

    /// After an edit of the scenario during the run: the new text's figures stand (the
    /// running swarm's come in orders), the command line's selection still applies.
    pub fn apply_selection(&self, plan: &mut Plan) -> Result<(), String> {
        plan.net.insecure |= self.insecure;
        plan.apply_tags(&self.tags)
    }
}

/// Whether a data file's path, as a scenario names it, stays inside the scenario's folder
/// (relative, without `..`): only such files travel to the workers.
pub fn inside_folder(path: &str) -> bool {
    let p = Path::new(path);
    !p.is_absolute() && !p.components().any(|c| c == std::path::Component::ParentDir)
}

/// A PEM file's text, for TLS.
pub fn read_pem(flag: &str, path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{flag} {}: {e}", path.display()))?;
    if !text.contains("-----BEGIN ") {
        anyhow::bail!(
            "{flag} {}: not a PEM file (it should hold a -----BEGIN ...----- block)",
            path.display()
        );
    }
    Ok(text)
}

/// Reads a shared secret: the file's text without surrounding white space.
pub fn read_token(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--token-file {}: {e}", path.display()))?;
    let token = text.trim().to_string();
    if token.starts_with("replace-me") {
        anyhow::bail!(
            "--token-file {}: this is the placeholder of deploy/kubernetes; make a real token with: {MAKE_TOKEN}",
            path.display()
        );
    }
    if token.is_empty() {
        anyhow::bail!(
            "--token-file {}: the file is empty; make a token with: {MAKE_TOKEN}",
            path.display()
        );
    }
    Ok(token)
}

/// A new random secret for a controller's own worker processes (32 bytes, hex).
pub fn fresh_token() -> anyhow::Result<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| {
            anyhow::anyhow!(
                "--processes: the system's random source failed; no secret for the workers"
            )
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether two tokens are equal, in time that does not depend on where they differ.
pub fn tokens_match(given: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    given.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// SHA-256, hex, of the scenario text and its data files (path and content each).
pub fn hash(scenario: &str, files: &[proto::DataFile]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&(scenario.len() as u64).to_le_bytes());
    ctx.update(scenario.as_bytes());
    for f in files {
        ctx.update(&(f.path.len() as u64).to_le_bytes());
        ctx.update(f.path.as_bytes());
        ctx.update(&(f.content.len() as u64).to_le_bytes());
        ctx.update(&f.content);
    }
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Now, in µs since the Unix epoch.
pub fn wall_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// This machine's name, for the workers view.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// `--listen`'s address: `HOST:PORT`, `:PORT` or `HOST` (port 5557).
pub fn parse_listen(text: &str) -> anyhow::Result<std::net::SocketAddr> {
    let t = text.trim();
    let with_port = if t.starts_with(':') {
        format!("0.0.0.0{t}")
    } else if t.parse::<std::net::IpAddr>().is_ok() {
        format!("{t}:{DEFAULT_PORT}")
    } else {
        t.to_string()
    };
    with_port
        .parse()
        .map_err(|_| anyhow::anyhow!("--listen {text}: not an address; write e.g. 0.0.0.0:{DEFAULT_PORT} or 127.0.0.1:{DEFAULT_PORT}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_hashes() {
        assert!(tokens_match("s3cret", "s3cret"));
        assert!(!tokens_match("s3cret", "s3cre"));
        assert!(!tokens_match("", "x"));
        let f = |c: &[u8]| proto::DataFile {
            path: "a.csv".into(),
            content: c.to_vec(),
        };
        assert_eq!(hash("x", &[f(b"1")]), hash("x", &[f(b"1")]));
        assert_ne!(hash("x", &[f(b"1")]), hash("x", &[f(b"2")]));
        assert_eq!(hash("", &[]).len(), 64);
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen(":6000").unwrap().port(), 6000);
        assert_eq!(parse_listen("127.0.0.1").unwrap().port(), DEFAULT_PORT);
        assert!(parse_listen("nowhere").is_err());
    }
}
