//! `swarm check`: validates a scenario (every mistake at once) and describes its plan.

use super::explain;
use crate::scenario::{Plan, format_duration, format_rate};
use std::path::Path;

/// Validates a file and describes the plan; a file with several mistakes gets them all,
/// in file order, not one per run of `swarm check`.
pub(super) fn check(file: &Path) -> anyhow::Result<i32> {
    // `swarm check -`: the scenario from standard input, as `swarm run -` takes it.
    let (text, name) = if file == Path::new("-") {
        (
            crate::scenario::read_stdin(),
            crate::scenario::STDIN.to_string(),
        )
    } else {
        (
            crate::scenario::read_source(file),
            file.display().to_string(),
        )
    };
    describe_or_list(&text.map_err(explain)?, &name)
}

/// Checks scenario text named `file`: its plan described, or every mistake listed (the
/// same walk as the load, collecting instead of stopping at the first).
fn describe_or_list(text: &str, file: &str) -> anyhow::Result<i32> {
    let first = match Plan::parse(text, file) {
        Ok(plan) => {
            print!("{}", describe(&plan));
            return Ok(0);
        }
        Err(first) => first,
    };
    let all = Plan::all_errors(text, file);
    if all.len() <= 1 {
        anyhow::bail!(first);
    }
    let lines: Vec<String> = all.iter().map(|e| format!("  {e}")).collect();
    anyhow::bail!("{file} has {} problems:\n{}", all.len(), lines.join("\n"))
}

/// `swarm check` for a scenario with `[[users]]`: each type, its share and its tasks.
fn describe_types(plan: &Plan) -> String {
    use crate::engine::dispatch::{Share, split};
    let shares: Vec<Share> = plan
        .user_types
        .iter()
        .map(|t| Share {
            weight: t.weight,
            fixed: t.fixed_count,
        })
        .collect();
    let at = split(&shares, plan.load.users);
    let mut s = format!(
        "user types ({}; at {} users: {}):\n",
        plan.user_types.len(),
        plan.load.users,
        plan.user_types
            .iter()
            .zip(&at)
            .map(|(t, n)| format!("{n} {}", t.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for t in &plan.user_types {
        let share = if t.fixed_count > 0 {
            format!("exactly {}", t.fixed_count)
        } else {
            format!("weight {}", t.weight)
        };
        let wait = t.wait.map_or("think time of [load]".to_string(), |w| {
            format!("think time {w}")
        });
        s += &format!("  {}: {share}, {wait}\n", t.name);
        for e in &t.endpoints {
            s += &format!("    {}  (weight {})\n", e.name, e.weight);
        }
        for f in &t.flows {
            s += &format!(
                "    flow {}: {}  (weight {})\n",
                f.name,
                crate::report::format::plural(f.steps.len() as u64, "step"),
                f.weight
            );
        }
        for e in &t.on_start {
            s += &format!("    on_start: {}\n", e.name);
        }
        for e in &t.on_stop {
            s += &format!("    on_stop: {}\n", e.name);
        }
    }
    s
}

/// What `swarm check` prints: the plan in words.
pub fn describe(plan: &Plan) -> String {
    let mut s = format!("{}: OK\n", plan.name.as_deref().unwrap_or("scenario"));
    s += &format!("host: {}\n", plan.host);
    s += &describe_load(&plan.load);
    if !plan.user_types.is_empty() {
        s += &describe_types(plan);
        return s;
    }
    if !plan.vars.is_empty() {
        let names: Vec<&str> = plan.vars.iter().map(|v| v.0.as_str()).collect();
        s += &format!("vars per user: {}\n", names.join(", "));
    }
    for d in &plan.data {
        let mode = if d.unique {
            "each row to one user"
        } else {
            "rows in turn"
        };
        s += &format!(
            "data {}: {} ({} rows, columns {}, {mode})\n",
            d.name,
            d.file,
            d.rows.len(),
            d.columns.join(", "),
        );
    }
    s += &describe_work(plan);
    if !plan.cookies {
        s += "cookies: off\n";
    }
    if !plan.thresholds.is_empty() {
        let abort = if plan.abort_on_threshold {
            ", the run stops at the first failure"
        } else {
            ""
        };
        s += &format!("thresholds ({}{abort}):\n", plan.thresholds.len());
        for t in &plan.thresholds {
            let scope = t.endpoint.as_deref().unwrap_or("all requests");
            s += &format!("  {}  ({scope})\n", t.text);
        }
    }
    s
}

/// The load line, and the stages when there are some.
fn describe_load(l: &crate::scenario::Load) -> String {
    let run_time = l.run_time.map_or("until stopped".into(), format_duration);
    let mut s = if let Some(rate) = l.arrival_rate {
        format!(
            "load: open model, iterations started at {}{} whatever the response times, up to {} users at once (an iteration waits at most {} for a free one, then is dropped), run time {run_time}\n",
            format_rate(rate),
            if l.stages.is_empty() { "" } else { " at first" },
            l.max_users,
            format_duration(l.queue_timeout),
        )
    } else if l.stages.is_empty() {
        let ramp = f64::from(l.users.saturating_sub(1)) / l.spawn_rate;
        format!(
            "load: {}, started at {}/s (all running after {ramp:.1}s), run time {run_time}, think time {}\n",
            crate::fmt::plural(l.users, "user"),
            l.spawn_rate,
            l.wait
        )
    } else {
        format!(
            "load: in stages, spawn rate {}/s, run time {run_time}, think time {}\n",
            l.spawn_rate, l.wait
        )
    };
    if !l.stages.is_empty() {
        let stages: Vec<String> = l.stages.iter().map(describe_stage).collect();
        s += &format!("stages: {}\n", stages.join(", then "));
    }
    s
}

fn describe_stage(st: &crate::scenario::Stage) -> String {
    if let Some(r) = st.arrival_rate {
        return format!(
            "ramp to {} over {}",
            format_rate(r),
            format_duration(st.duration)
        );
    }
    let rate = st
        .spawn_rate
        .map_or(String::new(), |r| format!(" at {r}/s"));
    format!(
        "{}{rate} for {}",
        crate::fmt::plural(st.users, "user"),
        format_duration(st.duration)
    )
}

/// The hooks, the endpoints with their shares of the tasks, and the flows.
fn describe_work(plan: &Plan) -> String {
    let total: u64 = (plan.endpoints.iter().map(|e| u64::from(e.weight)))
        .chain(plan.flows.iter().map(|f| u64::from(f.weight)))
        .sum();
    let share = |w: u32| match w {
        0 => "disabled".to_string(),
        w => format!("{:.0}%", f64::from(w) * 100.0 / total as f64),
    };
    let plural = crate::report::format::plural;
    let mut s = String::new();
    for (title, list) in [("on_start", &plan.on_start), ("on_stop", &plan.on_stop)] {
        if !list.is_empty() {
            s += &format!(
                "{title} ({}, in order):\n",
                plural(list.len() as u64, "step")
            );
            for e in list {
                s += &format!("            {}", describe_endpoint(e));
            }
        }
    }
    s += &format!("endpoints ({}):\n", plan.endpoints.len());
    for e in &plan.endpoints {
        s += &format!("  {:>8}  {}", share(e.weight), describe_endpoint(e));
    }
    for f in &plan.flows {
        s += &format!(
            "flow \"{}\" ({}, in order), picked {}:\n",
            f.name,
            plural(f.steps.len() as u64, "step"),
            share(f.weight)
        );
        for e in &f.steps {
            s += &format!("            {}", describe_endpoint(e));
        }
    }
    s
}

/// One request: method, URL, name, timeout, and whether it is templated or extracts.
fn describe_endpoint(e: &crate::scenario::Endpoint) -> String {
    let target = match e.dynamic.as_ref().and_then(|d| d.target.as_ref()) {
        Some(_) => e.path.clone(),
        None => e.target.to_string(),
    };
    let templated = if e.dynamic.is_some() {
        ", templated"
    } else {
        ""
    };
    let extract: Vec<&str> = e.extract.iter().map(|x| x.var.as_str()).collect();
    let extract = if extract.is_empty() {
        String::new()
    } else {
        format!(", extracts {}", extract.join(", "))
    };
    let (scheme, target) = match e.ws.as_deref() {
        Some(crate::scenario::WsAction::Connect) => {
            (if e.origin.tls { "wss" } else { "ws" }, target)
        }
        Some(action) => return format!("{:<7} {}  name \"{}\"\n", "WS", ws_step(action), e.name),
        None => (e.origin.scheme(), target),
    };
    format!(
        "{:<7} {scheme}://{}{}  name \"{}\", timeout {}{templated}{extract}{}\n",
        e.method.as_str(),
        e.origin.authority(),
        target,
        e.name,
        format_duration(e.timeout),
        stream_of(e),
    )
}

/// ", streamed (sse, tokens at /p, done at [DONE])" for a streamed endpoint.
fn stream_of(e: &crate::scenario::Endpoint) -> String {
    let Some(s) = &e.stream else {
        return String::new();
    };
    let mut parts = vec![s.kind.label().to_string()];
    if let Some(t) = &s.tokens {
        parts.push(format!("tokens at {t}"));
    }
    if let Some(d) = &s.done {
        parts.push(format!("done at {d}"));
    }
    if let Some(m) = s.max {
        parts.push(format!("at most {}", format_duration(m)));
    }
    format!(", streamed ({})", parts.join(", "))
}

/// What a WebSocket step other than the connect does.
fn ws_step(action: &crate::scenario::WsAction) -> String {
    use crate::scenario::WsAction;
    match action {
        WsAction::Connect => "connect".into(),
        WsAction::Exchange { send, receive, .. } => match (send, receive.is_some()) {
            (true, true) => "send, then receive".into(),
            (true, false) => "send".into(),
            _ => "receive".into(),
        },
        WsAction::Hold(d) => format!("hold {}", format_duration(*d)),
        WsAction::Close(code) => format!("close {code}"),
    }
}
