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
    user, sys_, rss_kb, vcs, ics = (read(f"{out}/{label}.time").split() + ["0"] * 5)[:5]
    # A run of several processes (--processes) has its summed RSS sampled beside it.
    rss_kb = read(f"{out}/{label}.rss").strip() or rss_kb
    row = {"label": label, "tool": tool, "cpu_s": float(user) + float(sys_), "rss_mb": int(rss_kb) / 1024,
           "switches": int(vcs) + int(ics)}
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
    elif tool == "locust":
        # Locust's --csv stats file: the Aggregated row.
        import csv, io
        agg = [r for r in csv.DictReader(io.StringIO(read(f"{out}/{label}_stats.csv"))) if r.get("Name") == "Aggregated"]
        if agg:
            row["requests"] = int(agg[0]["Request Count"])
            row["rps"] = float(agg[0]["Requests/s"])
            row["p50_ms"], row["p99_ms"] = float(agg[0]["50%"]), float(agg[0]["99%"])
            row["failures"] = int(agg[0]["Failure Count"])
    else:
        doc = json.loads(read(f"{out}/{label}.json") or "{}")
        agg = doc.get("aggregated", {})
        row["requests"] = agg.get("requests", 0)
        row["rps"] = agg.get("rps", 0)
        row["p50_ms"] = agg.get("percentiles_ms", {}).get("50", 0)
        row["p99_ms"] = agg.get("percentiles_ms", {}).get("99", 0)
        row["users"] = doc.get("users", 0)
        row["failures"] = agg.get("failures", 0)
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
            "cs_req": statistics.median([r.get("switches", 0) / r["requests"] for r in rs if r.get("requests")] or [0]),
            "failures": med(rs, "failures"),
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
    if "think-swarm" in summary and "think-full" in summary:
        sw, lo, full = summary["think-swarm"], summary.get("think-locust"), summary["think-full"]
        print(f"think time 1-3 s, 5 000 users: swarm {sw['us_req']:.1f} µs/req ({sw['us_req'] / full['us_req']:.2f} x its full speed, "
              f"{full['us_req']:.1f}), {sw['cs_req']:.2f} context switches/req, peak RSS {sw['rss']:.1f} MB, lateness p99 {sw['late']} ms")
        if lo and lo["us_req"]:
            print(f"  Locust FastHttpUser: {lo['us_req']:.1f} µs/req ({lo['us_req'] / sw['us_req']:.1f} x swarm), {lo['requests']:,.0f} requests "
                  f"vs swarm's {sw['requests']:,.0f}, peak RSS {lo['rss']:.1f} MB")
    for k, s in summary.items():
        if k.startswith("users-dist-u") and "users-u10000" in summary:
            workers = read(path.rsplit("/", 1)[0] + "/users-dist-workers.txt").strip()
            base = summary["users-u10000"]
            kb = (s["rss"] - base["rss"]) * 1024 / (s["users"] - base["users"]) if s["users"] > base["users"] else 0
            print(f"{s['users']:,.0f} users thinking 10 s over --processes {workers}: all running at t = {s['full']:.0f} s, "
                  f"lateness p99 {s['late']} ms, failures {s['failures']:,.0f}, {s['requests']:,.0f} requests, "
                  f"{s['us_req']:.1f} µs/req, memory of all processes {s['rss']:.1f} MB "
                  f"({kb:.2f} KB/user more than one process at 10 000)")
            tui = summary.get(f"users-tui-u{s['users']:.0f}")
            if tui and tui["us_req"] and s["us_req"]:
                keys = json.loads(read(path.rsplit("/", 1)[0] + "/users-keys.json") or "{}")
                print(f"  with the TUI: {100 * (tui['us_req'] / s['us_req'] - 1):+.1f} % CPU per request; a key reaches the screen in "
                      f"{keys.get('median_ms')} ms (median), {keys.get('max_ms')} ms at most ({keys.get('n')} presses)")
    big = sorted((s["users"], k) for k, s in summary.items() if k.startswith("users-u"))
    if len(big) == 2:
        (u0, k0), (u1, k1) = big
        kb = (summary[k1]["rss"] - summary[k0]["rss"]) * 1024 / (u1 - u0) if u1 > u0 else 0
        s = summary[k1]
        print(f"{u1:,.0f} users thinking 10 s: all running at t = {s['full']:.0f} s, lateness p99 {s['late']} ms, "
              f"failures {s['failures']:,.0f}, marginal memory {kb:.2f} KB/user ({u0:,.0f} -> {u1:,.0f})")
        tui = summary.get(f"users-tui-u{u1:.0f}")
        if tui and tui["us_req"] and s["us_req"]:
            keys = json.loads(read(path.rsplit("/", 1)[0] + "/users-keys.json") or "{}")
            print(f"  with the TUI: {100 * (tui['us_req'] / s['us_req'] - 1):+.1f} % CPU per request; a key reaches the screen in "
                  f"{keys.get('median_ms')} ms (median), {keys.get('max_ms')} ms at most ({keys.get('n')} presses)")
    if "accuracy-20ms" in summary:
        print(f"latency accuracy, 20 ms server, 64 users: p50 {summary['accuracy-20ms']['p50']:.3f} ms")


if __name__ == "__main__":
    if sys.argv[1] == "--table":
        table(sys.argv[2])
    else:
        print(json.dumps(parse_run(*sys.argv[1:4])))
