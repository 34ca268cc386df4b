#!/usr/bin/env bash
# Soak: swarm at full speed against nginx on 127.0.0.1:8080 for SOAK_S seconds (default
# 1800 = 30 minutes), sampling swarm's resident memory and open file descriptors every
# SAMPLE_S seconds (default 10). A benchmark, not a test: it is not run by CI.
#
#   benches/soak.sh                    # 30 minutes, 64 users, no think time
#   SOAK_S=120 USERS=256 benches/soak.sh
#
# Writes benches/out/soak-samples.csv (t_s,rss_kb,fds) and benches/out/soak.json (swarm's
# report), then prints the summary that BENCHMARKS.md quotes. Traffic goes to loopback only;
# the run is bounded by swarm's -t and by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="$ROOT/benches/out"
SOAK_S="${SOAK_S:-1800}"
SAMPLE_S="${SAMPLE_S:-10}"
USERS="${USERS:-64}"
URL="http://127.0.0.1:8080/"
mkdir -p "$OUT"
. "$ROOT/benches/lib.sh"
install_missing nginx curl taskset pgrep -- nginx curl util-linux procps
build_swarm
start_nginx 1

taskset -c 0 timeout -k 5 $((SOAK_S + 60)) "$SWARM" run "$URL" --headless -u "$USERS" -r 100000 \
    -t "${SOAK_S}s" --json "$OUT/soak.json" >"$OUT/soak.out" 2>"$OUT/soak.err" </dev/null &
RUNNER_PID=$!
PIDS+=("$RUNNER_PID")
# taskset execs `timeout`, which runs swarm as its child: sample swarm itself.
SWARM_PID=""
for _ in $(seq 50); do
    SWARM_PID=$(pgrep -P "$RUNNER_PID" -x swarm || true)
    [ -n "$SWARM_PID" ] && break
    sleep 0.1
done
[ -n "$SWARM_PID" ] || { echo "swarm did not start; see $OUT/soak.err" >&2; exit 1; }

echo "t_s,rss_kb,fds" > "$OUT/soak-samples.csv"
start=$(date +%s)
while kill -0 "$SWARM_PID" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SWARM_PID/status" 2>/dev/null || true)
    fds=$(ls "/proc/$SWARM_PID/fd" 2>/dev/null | wc -l)
    [ -n "$rss" ] && echo "$(( $(date +%s) - start )),$rss,$fds" >> "$OUT/soak-samples.csv"
    sleep "$SAMPLE_S"
done
wait "$RUNNER_PID" || true

python3 - "$OUT" <<'PY'
import csv, json, sys
out = sys.argv[1]
rows = [r for r in csv.DictReader(open(f"{out}/soak-samples.csv"))]
rows = [(int(r["t_s"]), int(r["rss_kb"]), int(r["fds"])) for r in rows]
report = json.load(open(f"{out}/soak.json"))
agg = report["aggregated"]
# The first minute is warm-up (buffers and histograms grow to their working size).
steady = [r for r in rows if r[0] >= 60] or rows
first, last = steady[0], steady[-1]
print(f"duration {report['duration_s']:.0f} s, {agg['requests']} requests at {agg['rps']:.0f} req/s, {agg['failures']} failed")
print(f"RSS after warm-up {first[1]/1024:.2f} MB at {first[0]} s, {last[1]/1024:.2f} MB at {last[0]} s "
      f"({(last[1]-first[1])*100/first[1]:+.1f} %), max {max(r[1] for r in rows)/1024:.2f} MB")
print(f"open file descriptors: min {min(r[2] for r in rows)}, max {max(r[2] for r in rows)}, last {rows[-1][2]}")
PY
