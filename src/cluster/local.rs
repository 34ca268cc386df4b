//! `swarm run --processes N`: the controller starts its N workers itself, as processes of
//! this machine (`swarm worker` on the controller's loopback port, with a fresh token).
//! This is Locust's `--processes`: a run bigger than one process's open-files limit, or
//! one process per core. The processes end with the run; one that ends before it joined
//! ends the wait, with what it said on standard error.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long the processes have to leave after the controller's goodbye.
const LEAVE_WITHIN: Duration = Duration::from_secs(5);
/// Lines of a process's standard error kept for the message when it fails.
const TAIL_LINES: usize = 5;

/// Set in a worker process's environment: it runs one thread (each process is one
/// core's share, or a slice of one core's), as on a machine of one core.
pub const ONE_THREAD_ENV: &str = "SWARM_ONE_THREAD";

/// A process that ended while the controller still needed it.
#[derive(Debug)]
pub(crate) struct Exited {
    pub index: u32,
    /// Its exit status and the last lines it wrote.
    pub why: String,
}

/// The running processes; `finish` waits for them to leave.
pub(crate) struct Processes {
    ended: CancellationToken,
    watchers: Vec<tokio::task::JoinHandle<()>>,
}

impl Processes {
    /// Starts `n` workers of the current executable for the controller at `addr`. Each
    /// one's exit before `finish` is sent to `exited`. Routine lines of their standard
    /// error are dropped; warnings and errors are said (unless `quiet`), prefixed with the
    /// process's number.
    pub fn start(
        n: u32,
        addr: SocketAddr,
        token: &str,
        quiet: bool,
        exited: mpsc::UnboundedSender<Exited>,
    ) -> anyhow::Result<Processes> {
        let exe = std::env::current_exe()
            .map_err(|e| anyhow::anyhow!("--processes: cannot find swarm's own program: {e}"))?;
        let ended = CancellationToken::new();
        let mut watchers = Vec::new();
        for index in 0..n {
            let mut child = Command::new(&exe)
                .args(["worker", "--controller", &addr.to_string()])
                .env("SWARM_TOKEN", token)
                .env(ONE_THREAD_ENV, "1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                // A group of their own: Ctrl-C at the terminal reaches the controller,
                // which stops the run and sends them off, and not the workers, which
                // would die with their last second unreported.
                .process_group(0)
                .spawn()
                .map_err(|e| anyhow::anyhow!("--processes: cannot start {}: {e}", exe.display()))?;
            let tail = Arc::new(Mutex::new(VecDeque::new()));
            let reader = (child.stderr.take()).map(|err| read_stderr(err, index, quiet, &tail));
            let ended = ended.clone();
            let exited = exited.clone();
            watchers.push(tokio::spawn(async move {
                tokio::select! {
                    status = child.wait() => {
                        // What it wrote is all read once its pipe closes.
                        if let Some(r) = reader {
                            let _ = tokio::time::timeout(Duration::from_secs(1), r).await;
                        }
                        let status = match status {
                            Ok(s) => s.to_string(),
                            Err(e) => e.to_string(),
                        };
                        let said: Vec<String> = tail
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .iter()
                            .map(|l| strip_name(l).to_string())
                            .collect();
                        let why = if said.is_empty() {
                            status
                        } else {
                            format!("{status}: {}", said.join(" / "))
                        };
                        let _ = exited.send(Exited { index, why });
                    }
                    _ = ended.cancelled() => {
                        if tokio::time::timeout(LEAVE_WITHIN, child.wait()).await.is_err() {
                            let _ = child.kill().await;
                        }
                    }
                }
            }));
        }
        Ok(Processes { ended, watchers })
    }

    /// After the controller said goodbye: waits for every process to leave (a few
    /// seconds at most, then kills what is left).
    pub async fn finish(self) {
        self.ended.cancel();
        for w in self.watchers {
            let _ = w.await;
        }
    }
}

/// Reads a worker process's standard error: warnings and errors are said (unless
/// `quiet`), and the last lines kept in `tail` say why it ended, if it does.
fn read_stderr(
    err: tokio::process::ChildStderr,
    index: u32,
    quiet: bool,
    tail: &Arc<Mutex<VecDeque<String>>>,
) -> tokio::task::JoinHandle<()> {
    let tail = Arc::clone(tail);
    tokio::spawn(async move {
        let mut lines = BufReader::new(err).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if !quiet && worth_saying(&line) {
                eprintln!("swarm: process {index}: {}", strip_name(&line));
            }
            let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
            if t.len() == TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    })
}

/// A worker's standard error line worth showing under the controller's: not the routine
/// ones (joined, segment changes, an edit taken), which the controller says itself.
fn worth_saying(line: &str) -> bool {
    let routine = ["joined", "now segment", "took the edited scenario"];
    !routine.iter().any(|r| line.contains(r))
}

/// "swarm worker: x" → "x".
fn strip_name(line: &str) -> &str {
    line.strip_prefix("swarm worker: ").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routine_lines_are_dropped_and_the_rest_said_without_the_name() {
        assert!(!worth_saying(
            "swarm worker: joined 127.0.0.1:5557 as segment 1 of 2"
        ));
        assert!(worth_saying(
            "swarm worker: warning: 50000 users need about 50064 open files"
        ));
        assert_eq!(strip_name("swarm worker: warning: x"), "warning: x");
        assert_eq!(strip_name("other"), "other");
    }
}
