#!/usr/bin/env python3
"""Parses one benchmark run into a JSON line, or prints the markdown table (--table)."""
import json, re, statistics, sys
from collections import defaultdict


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def parse_run(out, label, tool):
    user, sys_, rss_kb = (read(f"{out}/{label}.time").split() + ["0", "0", "0"])[:3]
    row = {"label": label, "tool": tool, "cpu_s": float(user) + float(sys_), "rss_mb": int(rss_kb) / 1024}
    text = read(f"{out}/{label}.out")
    if tool == "wrk":
        m = re.search(r"(\d+) requests in", text)
        row["requests"] = int(m.group(1)) if m else 0
        m = re.search(r"Requests/sec:\s+([\d.]+)", text)
        row["rps"] = float(m.group(1)) if m else 0
        for p in ("50", "99"):
            m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", text, re.M)
            if m:
                row[f"p{p}_ms"] = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    elif tool == "oha":
        doc = json.loads(text or "{}")
        row["requests"] = sum(doc.get("statusCodeDistribution", {}).values())
        row["rps"] = doc.get("summary", {}).get("requestsPerSec", 0)
        lat = doc.get("latencyPercentiles", {})
        row["p50_ms"], row["p99_ms"] = lat.get("p50", 0) * 1000, lat.get("p99", 0) * 1000
    else:
        doc = json.loads(read(f"{out}/{label}.json") or "{}")
        agg = doc.get("aggregated", {})
        row["requests"] = agg.get("requests", 0)
        row["rps"] = agg.get("rps", 0)
        row["p50_ms"] = agg.get("percentiles_ms", {}).get("50", 0)
        row["p99_ms"] = agg.get("percentiles_ms", {}).get("99", 0)
        row["users"] = doc.get("users", 0)
        full = [p["t"] for p in doc.get("history", []) if p["users"] >= doc.get("users", 0) > 0]
        if full:
            row["full_at_s"] = full[0]
        gen = doc.get("generator", {})
        if gen:
            row["lateness_p99_ms"] = gen.get("think_lateness_ms", {}).get("99")
    return row


def table(path):
    rows = defaultdict(list)
    for line in read(path).splitlines():
        r = json.loads(line)
        rows[r["label"]].append(r)
    med = lambda rs, k: statistics.median([r.get(k) or 0 for r in rs])
    summary = {}
    for label, rs in rows.items():
        reqs = med(rs, "requests")
        summary[label] = {
            "n": len(rs), "requests": reqs, "rps": med(rs, "rps"),
            "us_req": statistics.median([r["cpu_s"] * 1e6 / r["requests"] for r in rs if r.get("requests")] or [0]),
            "rss": med(rs, "rss_mb"), "p50": med(rs, "p50_ms"), "p99": med(rs, "p99_ms"),
            "full": med(rs, "full_at_s"), "late": med(rs, "lateness_p99_ms"), "users": med(rs, "users"),
        }
    print("| run | n | requests | req/s | CPU µs/req | vs wrk (CPU/req) | vs wrk (req/s) | peak RSS MB | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, s in summary.items():
        m = re.search(r"-c(\d+)$", label)
        ref = summary.get(f"wrk-c{m.group(1)}") if m else summary.get("wrk-c64") if label.startswith("swarm-") else None
        cpu_ratio = f"{s['us_req'] / ref['us_req']:.2f}" if ref and ref["us_req"] and not label.startswith("wrk") else ""
        rps_ratio = f"{s['rps'] / ref['rps']:.2f}" if ref and ref["rps"] and not label.startswith("wrk") else ""
        print(f"| {label} | {s['n']} | {s['requests']:,.0f} | {s['rps']:,.0f} | {s['us_req']:.1f} | {cpu_ratio} | {rps_ratio} | {s['rss']:.1f} | {s['p50']:.3f} | {s['p99']:.3f} |")
    if "swarm-1ep" in summary and "swarm-10ep" in summary:
        one, ten = summary["swarm-1ep"]["us_req"], summary["swarm-10ep"]["us_req"]
        print(f"\nten weighted endpoints vs one: {100 * (ten / one - 1):+.1f}% CPU per request")
    for tool, lo, hi in (("swarm", "mem-swarm-u1000", "mem-swarm-u10000"), ("wrk", "mem-wrk-c1000", "mem-wrk-c10000")):
        if lo in summary and hi in summary:
            kb = (summary[hi]["rss"] - summary[lo]["rss"]) * 1024 / 9000
            print(f"{tool}: marginal memory per user/connection (1 000 -> 10 000): {kb:.1f} KB")
    if "spawn-10k" in summary:
        s = summary["spawn-10k"]
        print(f"spawn 10 000 users at 1 000/s: all running at t = {s['full']:.0f} s; think-time lateness p99 {s['late']} ms")
    if "accuracy-20ms" in summary:
        print(f"latency accuracy, 20 ms server, 64 users: p50 {summary['accuracy-20ms']['p50']:.3f} ms")


if __name__ == "__main__":
    if sys.argv[1] == "--table":
        table(sys.argv[2])
    else:
        print(json.dumps(parse_run(*sys.argv[1:4])))
