//! What caps a big run on this machine: open files, ephemeral ports per source address,
//! the listen backlog and memory, against a scenario's users. `swarm doctor [FILE]` prints
//! every check; a run prints the ones that would cap it before it starts.

use crate::scenario::Plan;

/// Bytes one idle user takes, about (task, session, a plain connection), for the memory
/// check: measured 1.6 KB per user marginal, 2.3 KB over `--processes` (BENCHMARKS.md),
/// with room for what a request holds while it is read.
const BYTES_PER_USER: u64 = 4 * 1024;
/// What a TLS connection adds (rustls' state and buffers): measured 9.5 KB per idle user
/// against nginx (1 000 → 10 000 users thinking 5 s, session 8).
const BYTES_PER_TLS_CONNECTION: u64 = 16 * 1024;
/// The least one user takes: 1.6 KB measured marginal (BENCHMARKS.md), rounded down. Users
/// that need more memory than is available even at this are certain to run out of it.
const MIN_BYTES_PER_USER: u64 = 1536;
/// File descriptors swarm needs besides its users' connections.
const SPARE_FDS: u64 = 64;

/// One check: what was found, and what to change when it caps the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub name: &'static str,
    pub found: String,
    /// Set when the check caps the scenario: why, and the fix.
    pub problem: Option<String>,
}

/// The most users the plan runs at once (stages and the open model's cap included).
pub fn peak_users(plan: &Plan) -> u64 {
    if plan.load.is_open() {
        return u64::from(plan.load.max_users);
    }
    let staged = plan.load.stages.iter().map(|s| s.users).max().unwrap_or(0);
    u64::from(plan.load.users.max(staged))
}

/// The distinct hosts the plan's requests go to: each user keeps a connection to each.
fn origins(plan: &Plan) -> Vec<&crate::scenario::Origin> {
    let mut all: Vec<&crate::scenario::Origin> = plan
        .endpoints
        .iter()
        .chain(plan.flows.iter().flat_map(|f| f.steps.iter()))
        .chain(plan.user_types.iter().flat_map(|t| {
            t.endpoints
                .iter()
                .chain(t.flows.iter().flat_map(|f| f.steps.iter()))
        }))
        .map(|e| &e.origin)
        .collect();
    all.sort_by(|a, b| (&a.host, a.port).cmp(&(&b.host, b.port)));
    all.dedup();
    all
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The ephemeral port range's size (`net.ipv4.ip_local_port_range`).
fn ephemeral_ports() -> Option<(u64, u64)> {
    let text = read("/proc/sys/net/ipv4/ip_local_port_range")?;
    let mut it = text
        .split_whitespace()
        .filter_map(|n| n.parse::<u64>().ok());
    Some((it.next()?, it.next()?))
}

fn mem_available() -> Option<u64> {
    read("/proc/meminfo")?
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Why `users` cannot run in this process, when this machine's available memory cannot
/// hold them even at the least a user takes (`running` of them are already held): such a
/// run grows until the kernel kills it (50 000 000 users did), its figures lost.
pub fn beyond_memory(users: u64, running: u64) -> Option<String> {
    beyond(users, running, mem_available()?)
}

fn beyond(users: u64, running: u64, available: u64) -> Option<String> {
    let need = users
        .saturating_sub(running)
        .saturating_mul(MIN_BYTES_PER_USER);
    (need > available).then(|| {
        format!(
            "{users} users need at least {} MB of memory ({:.1} KB each at the least), more than the {} MB this machine has available: the run would be killed for want of memory and its figures lost. Run fewer users here, and spread the rest over machines (--workers)",
            users.saturating_mul(MIN_BYTES_PER_USER) >> 20,
            MIN_BYTES_PER_USER as f64 / 1024.0,
            available >> 20
        )
    })
}

/// Every check, against the plan's users when there is a plan.
pub fn checks(plan: Option<&Plan>) -> Vec<Finding> {
    let users = plan.map_or(0, peak_users);
    let hosts = plan.map_or_else(Vec::new, origins);
    let conns = users * (hosts.len().max(1) as u64);
    let tls = hosts.iter().filter(|o| o.tls).count() as u64;
    let sources = plan.map_or(1, |p| p.net.local_addresses.len().max(1) as u64);
    let mut out = vec![
        open_files(plan.is_some(), users, conns),
        ports(plan.is_some(), users, sources),
    ];
    if let Some(backlog) =
        read("/proc/sys/net/core/somaxconn").and_then(|t| t.trim().parse::<u64>().ok())
    {
        let local = plan.is_some_and(|p| {
            let host = p.host.to_ascii_lowercase();
            host.contains("://127.") || host.contains("://localhost") || host.contains("://[::1]")
        });
        out.push(Finding {
            name: "listen backlog",
            found: format!("net.core.somaxconn = {backlog}"),
            problem: (local && users > backlog).then(|| {
                format!(
                    "{users} users connecting at once to a server on this machine can overflow its listen backlog of {backlog} (connects then wait or fail); raise it: sysctl -w net.core.somaxconn={}",
                    users.next_power_of_two()
                )
            }),
        });
    }

    if let Some(avail) = mem_available() {
        let need = users * (BYTES_PER_USER + tls * BYTES_PER_TLS_CONNECTION);
        out.push(Finding {
            name: "memory",
            found: format!("{} MB available", avail >> 20),
            problem: (plan.is_some() && need > avail / 2).then(|| {
                format!(
                    "{users} users take about {} MB, more than half of the {} MB available",
                    need >> 20,
                    avail >> 20
                )
            }),
        });
    }
    out
}

/// The open-files limit against a connection per user and host.
fn open_files(planned: bool, users: u64, conns: u64) -> Finding {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((0, 0));
    let need = conns + SPARE_FDS;
    Finding {
        name: "open files",
        found: format!("{soft} (hard limit {hard})"),
        problem: (planned && need > soft).then(|| {
            if need <= hard {
                return format!(
                    "{users} users need about {need} open files, above the limit of {soft}; raise it before the run: ulimit -n {}",
                    need.next_power_of_two(),
                );
            }
            // swarm already lifted what it could (main): the hard limit stands here.
            let per_process = hard.saturating_sub(SPARE_FDS).max(1);
            format!(
                "{users} users need about {need} open files, above the hard limit of {hard} that one process may hold; split them over processes of this machine: --processes {}, or raise the hard limit (root with CAP_SYS_RESOURCE: /etc/security/limits.conf, LimitNOFILE= for a systemd service, docker run --ulimit nofile={n}:{n})",
                need.div_ceil(per_process),
                n = need.next_power_of_two(),
            )
        }),
    }
}

/// The ephemeral ports against the connections each host gets from one source address.
fn ports(planned: bool, users: u64, sources: u64) -> Finding {
    match ephemeral_ports() {
        Some((lo, hi)) => {
            let ports = hi.saturating_sub(lo) + 1;
            let per_host = users.div_ceil(sources);
            Finding {
                name: "ephemeral ports",
                found: format!("{lo}-{hi}: {ports} per source address and destination"),
                problem: (planned && per_host > ports).then(|| {
                    format!(
                        "{users} users need {users} connections to each host, above the {ports} ports one source address reaches ({sources} address{} given); add source addresses with --local-ips (127.0.0.2-127.0.0.9 on loopback) or widen net.ipv4.ip_local_port_range",
                        if sources == 1 { "" } else { "es" }
                    )
                }),
            }
        }
        None => Finding {
            name: "ephemeral ports",
            found: "unknown (no /proc/sys/net/ipv4/ip_local_port_range)".into(),
            problem: None,
        },
    }
}

/// The problems that would cap the plan's run, one sentence each.
pub(crate) fn preflight(plan: &Plan) -> Vec<String> {
    checks(Some(plan))
        .into_iter()
        .filter_map(|f| f.problem)
        .collect()
}

/// `swarm doctor`'s text.
pub fn render(plan: Option<&Plan>) -> String {
    let mut s = match plan {
        Some(p) => format!(
            "swarm doctor: this machine against {} ({} users at the peak)\n",
            p.name.as_deref().unwrap_or("the scenario"),
            peak_users(p)
        ),
        None => {
            "swarm doctor: this machine (give a scenario to check it against its users)\n".into()
        }
    };
    let findings = checks(plan);
    for f in &findings {
        let mark = if f.problem.is_some() { "!!" } else { "ok" };
        s += &format!("  {mark}  {:<16} {}\n", f.name, f.found);
        if let Some(p) = &f.problem {
            s += &format!("      {p}\n");
        }
    }
    if plan.is_some() && findings.iter().all(|f| f.problem.is_none()) {
        s += "Nothing here caps this scenario.\n";
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_beyond_the_memory_available_are_refused() {
        const GB: u64 = 1 << 30;
        assert_eq!(beyond(1_000_000, 0, 2 * GB), None);
        let why = beyond(50_000_000, 0, 23 * GB).unwrap();
        assert!(
            why.starts_with("50000000 users need at least 73242 MB of memory (1.5 KB each at the least), more than the 23552 MB this machine has available"),
            "{why}"
        );
        // Users already running hold their memory already: only the rise must fit.
        assert_eq!(beyond(2_000_000, 1_500_000, GB), None);
        assert!(beyond(u64::MAX, 0, GB).is_some());
    }

    #[test]
    fn a_small_run_passes_and_a_huge_one_is_told_what_to_change() {
        let mut plan = Plan::parse(
            "host = \"http://127.0.0.1:8080\"\n[load]\nusers = 5\n[[endpoints]]\npath = \"/\"\n",
            "t.toml",
        )
        .unwrap();
        assert!(preflight(&plan).is_empty(), "{:?}", preflight(&plan));
        plan.load.users = 3_000_000;
        let problems = preflight(&plan);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("open files") && p.contains("--processes ")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("--local-ips")),
            "{problems:?}"
        );
        let text = render(Some(&plan));
        assert!(text.contains("!!  open files"), "{text}");
        // Under the hard limit, the soft one is the fix.
        let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        if soft < hard && hard - soft > 2 * SPARE_FDS {
            plan.load.users = ((soft + hard) / 2 - SPARE_FDS) as u32;
            let problems = preflight(&plan);
            assert!(
                problems.iter().any(|p| p.contains("ulimit -n")),
                "{problems:?}"
            );
        }
    }

    #[test]
    fn tls_connections_count_in_the_memory_check() {
        let Some(avail) = mem_available() else {
            return;
        };
        let memory = |host: &str, users: u64| {
            let mut plan = Plan::parse(
                &format!("host = \"{host}\"\n[[endpoints]]\npath = \"/\"\n"),
                "t.toml",
            )
            .unwrap();
            plan.load.users = users as u32;
            checks(Some(&plan))
                .into_iter()
                .find(|f| f.name == "memory")
                .unwrap()
        };
        // Half again what half the memory holds at TLS's cost per user: too many over
        // TLS, and five times fewer bytes per user over plain HTTP fit.
        let users = avail / 2 / (BYTES_PER_USER + BYTES_PER_TLS_CONNECTION) * 3 / 2;
        if users > u64::from(u32::MAX) {
            return;
        }
        assert!(memory("https://127.0.0.1:8443", users).problem.is_some());
        assert!(memory("http://127.0.0.1:8080", users).problem.is_none());
    }

    #[test]
    fn past_the_hard_limit_the_fix_is_enough_processes_to_hold_every_user() {
        let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let mut plan = Plan::parse(
            "host = \"http://127.0.0.1:8080\"\n[[endpoints]]\npath = \"/\"\n",
            "t.toml",
        )
        .unwrap();
        plan.load.users = (hard * 5 / 2) as u32;
        let problems = preflight(&plan);
        let p = problems
            .iter()
            .find(|p| p.contains("open files"))
            .expect("an open-files problem");
        let k: u64 = p
            .split("--processes ")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no process count in {p}"));
        // Each process's share (and its spare files) fits under the hard limit; one fewer
        // would not.
        let share = u64::from(plan.load.users).div_ceil(k);
        assert!(share + SPARE_FDS <= hard, "{p}");
        assert!(
            u64::from(plan.load.users).div_ceil(k - 1) + SPARE_FDS > hard,
            "{p}"
        );
    }
}
