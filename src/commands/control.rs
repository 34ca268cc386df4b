//! `swarm ps | status | pause | resume | stop | scale`: the control endpoint's commands,
//! for a person at a shell, a CI job or a bot (the same routes take curl).

use crate::cli::{ControlArgs, ScaleArgs};
use crate::run::control::client::Client;
use crate::run::control::registry;
use crate::run::control::wire::Scale;

/// A client for the run `args` names, known to it as `swarm COMMAND (pid N)`.
pub(super) fn client(args: &ControlArgs, command: &str) -> anyhow::Result<Client> {
    let token = args
        .token_file
        .as_deref()
        .map(crate::cluster::read_token)
        .transpose()?;
    let who = format!("swarm {command} (pid {})", std::process::id());
    let ca = args
        .tls_ca
        .as_deref()
        .map(|p| crate::cluster::read_pem("--tls-ca", p))
        .transpose()?;
    Client::find(args.run.as_deref(), token, who)?.with_tls(ca.as_deref())
}

/// `swarm ps`: one line per run, with its live figures.
pub(super) async fn ps(json: bool) -> anyhow::Result<i32> {
    let runs = registry::list();
    let mut lines = Vec::new();
    for info in &runs {
        let who = format!("swarm ps (pid {})", std::process::id());
        let client = Client::find(Some(&info.socket.display().to_string()), None, who)?;
        let status = client.get::<serde_json::Value>("/v1/status").await.ok();
        lines.push((info, status));
    }
    if json {
        for (info, status) in &lines {
            let mut v = serde_json::to_value(info)?;
            if let Some(s) = status {
                v["state"] = s["state"].clone();
                v["users"] = s["users_now"].clone();
                v["rps"] = s["aggregated"]["current_rps"].clone();
                v["requests"] = s["aggregated"]["requests"].clone();
            }
            println!("{v}");
        }
        return Ok(0);
    }
    let ended = registry::ended_reports(&runs);
    if runs.is_empty() {
        println!("no swarm run on this machine");
        print_ended(&ended);
        return Ok(0);
    }
    println!(
        "{:<7} {:<13} {:<24} {:<10} {:>7} {:>9}  {:<9} ATTACH",
        "ID", "FRONT", "SCENARIO", "STATE", "USERS", "REQ/S", "SINCE"
    );
    for (info, status) in &lines {
        let (state, users, rps) = match status {
            Some(s) => (
                s["state"].as_str().unwrap_or("?").to_string(),
                s["users_now"]
                    .as_u64()
                    .map_or("-".into(), |u| u.to_string()),
                s["aggregated"]["current_rps"]
                    .as_f64()
                    .map_or("-".into(), crate::fmt::rate),
            ),
            None => ("no answer".into(), "-".into(), "-".into()),
        };
        println!(
            "{:<7} {:<13} {:<24} {:<10} {:>7} {:>9}  {:<9} swarm attach {}",
            info.id,
            info.front,
            clip(&info.scenario, 24),
            state,
            users,
            rps,
            since(info.started),
            info.id
        );
    }
    print_ended(&ended);
    Ok(0)
}

/// Detached runs that ended: where their text reports are.
fn print_ended(ended: &[(String, std::path::PathBuf)]) {
    if ended.is_empty() {
        return;
    }
    println!("\nEnded in the background (their reports):");
    for (id, path) in ended {
        println!("{id:<7} {}", path.display());
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

/// "14:02:07" today, else the date too (UTC).
fn since(unix: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix);
    let full = crate::report::csv::utc(t);
    let today = crate::report::csv::utc(std::time::SystemTime::now());
    match (full.split_once('T'), today.split_once('T')) {
        (Some((d, time)), Some((td, _))) if d == td => time.chars().take(8).collect(),
        _ => full.replace('T', " ").chars().take(16).collect(),
    }
}

/// `swarm status`: the run's state and figures; --json: the live report document.
pub(super) async fn status(args: &ControlArgs, json: bool) -> anyhow::Result<i32> {
    let client = client(args, "status")?;
    let (code, text) = client.call(http::Method::GET, "/v1/status", None).await?;
    if code != http::StatusCode::OK {
        anyhow::bail!("{} answered {code}: {}", client.describe(), text.trim());
    }
    if json {
        print!("{text}");
        if !text.ends_with('\n') {
            println!();
        }
        return Ok(0);
    }
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let a = &v["aggregated"];
    let ms = |k: &str| a["percentiles_ms"][k].as_f64().unwrap_or(0.0);
    println!(
        "{}: {} ({}), {} users, {} req/s now ({} over the run), {} requests, {} failures, p50 {} ms, p95 {} ms, {:.0} s",
        client.describe(),
        v["state"].as_str().unwrap_or("?"),
        v["scenario"].as_str().or(v["host"].as_str()).unwrap_or(""),
        v["users_now"].as_u64().unwrap_or(0),
        crate::fmt::rate(a["current_rps"].as_f64().unwrap_or(0.0)),
        crate::fmt::rate(a["rps"].as_f64().unwrap_or(0.0)),
        a["requests"].as_u64().unwrap_or(0),
        a["failures"].as_u64().unwrap_or(0),
        crate::fmt::ms(ms("50")),
        crate::fmt::ms(ms("95")),
        v["duration_s"].as_f64().unwrap_or(0.0),
    );
    Ok(0)
}

/// `swarm pause | resume | stop`.
pub(super) async fn simple(args: &ControlArgs, what: &str) -> anyhow::Result<i32> {
    let client = client(args, what)?;
    let done = client
        .post(&format!("/v1/{what}"), &serde_json::json!({}))
        .await?;
    println!("{}: {done}", client.describe());
    Ok(0)
}

/// `swarm scale -u N [-r R]` or `--arrival-rate R`.
pub(super) async fn scale(args: &ScaleArgs) -> anyhow::Result<i32> {
    let scale = Scale {
        users: args.users,
        spawn_rate: args.spawn_rate,
        arrival_rate: args.arrival_rate,
    };
    if scale == Scale::default() {
        anyhow::bail!("swarm scale: give -u USERS (and -r SPAWN_RATE), or --arrival-rate RATE");
    }
    let client = client(&args.target, "scale")?;
    let done = client
        .post("/v1/scale", &serde_json::to_value(&scale)?)
        .await?;
    println!("{}: {done}", client.describe());
    Ok(0)
}
