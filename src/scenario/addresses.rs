//! Source addresses for outgoing connections: `[defaults] local_addresses` and
//! `--local-ips` (k6's name). One source address reaches about 28 000 ephemeral ports per
//! destination; more addresses, more connections.

use std::net::{IpAddr, Ipv4Addr};

/// The most addresses a range may give.
const MAX_ADDRESSES: u64 = 65_536;

/// Parses one entry: an address (`127.0.0.2`, `::1`) or an IPv4 range
/// (`127.0.0.2-127.0.0.9`, both ends included).
pub(crate) fn parse_entry(text: &str) -> Result<Vec<IpAddr>, String> {
    let t = text.trim();
    if let Some((a, b)) = t.split_once('-') {
        let (a, b) = (a.trim(), b.trim());
        let parse = |s: &str| {
            s.parse::<Ipv4Addr>()
                .map_err(|_| format!("\"{s}\" in \"{t}\" is not an IPv4 address; a range is written 127.0.0.2-127.0.0.9"))
        };
        let (lo, hi) = (u32::from(parse(a)?), u32::from(parse(b)?));
        if hi < lo {
            return Err(format!("\"{t}\": the range ends below its start"));
        }
        if u64::from(hi - lo) + 1 > MAX_ADDRESSES {
            return Err(format!(
                "\"{t}\" holds {} addresses; at most {MAX_ADDRESSES}",
                u64::from(hi - lo) + 1
            ));
        }
        return Ok((lo..=hi).map(|n| IpAddr::V4(Ipv4Addr::from(n))).collect());
    }
    t.parse::<IpAddr>().map(|ip| vec![ip]).map_err(|_| {
        format!("\"{t}\" is not an IP address; write e.g. 127.0.0.2 or 127.0.0.2-127.0.0.9")
    })
}

/// Parses `--local-ips`: entries separated by commas.
pub(crate) fn parse_list(text: &str) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    for entry in text.split(',').filter(|e| !e.trim().is_empty()) {
        out.extend(parse_entry(entry)?);
    }
    if out.is_empty() {
        return Err(
            "is empty; give addresses such as 127.0.0.2,127.0.0.3 or 127.0.0.2-127.0.0.9".into(),
        );
    }
    Ok(out)
}

/// Checks, before a run, that this machine has each address: a socket binds to it.
pub(crate) fn check_local(addrs: &[IpAddr]) -> Result<(), String> {
    for ip in addrs {
        if let Err(e) = std::net::TcpListener::bind((*ip, 0)) {
            let fix = if ip.is_loopback() {
                String::new()
            } else {
                format!(" (add it with: ip addr add {ip}/32 dev DEVICE)")
            };
            return Err(format!("{ip} is not an address of this machine: {e}{fix}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_addresses_or_ranges() {
        assert_eq!(parse_list("127.0.0.2, 127.0.0.3").unwrap().len(), 2);
        let r = parse_list("127.0.0.2-127.0.0.9,::1").unwrap();
        assert_eq!(r.len(), 9);
        assert_eq!(r[7].to_string(), "127.0.0.9");
        assert!(
            parse_list("127.0.0.9-127.0.0.2")
                .unwrap_err()
                .contains("below its start")
        );
        assert!(
            parse_list("10.0.0.0-10.2.0.0")
                .unwrap_err()
                .contains("at most")
        );
        assert!(
            parse_list("localhost")
                .unwrap_err()
                .contains("not an IP address")
        );
        assert!(parse_list(",").is_err());
    }

    #[test]
    fn loopback_addresses_are_local_and_others_are_not() {
        assert!(check_local(&parse_list("127.0.0.2-127.0.0.4").unwrap()).is_ok());
        let e = check_local(&["192.0.2.77".parse().unwrap()]).unwrap_err();
        assert!(
            e.contains("not an address of this machine") && e.contains("ip addr add"),
            "{e}"
        );
    }
}
