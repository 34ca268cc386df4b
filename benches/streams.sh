#!/usr/bin/env bash
# Streams (issue 24): how exact swarm's TTFT and ITL are, and what an event costs. The demo
# server (swarm demo --serve, its events sent by one precise timer thread) on CPU 1, swarm
# alone on CPU 0. A benchmark, not a test.
#
# 1. Accuracy: 1 000 users, each reading a stream of 50 events in turn (1 000 concurrent
#    streams, first event 200 ms after the request, then one every 20 ms), from
#    benches/sse_schedule.rs (built here with rustc -O: one spinning thread that keeps the
#    schedule to microseconds; the demo server fell behind at 42 000 events/s), then the
#    same from the demo's /events: TTFT and ITL p50 and p99 against the schedule.
# 2. Cost: 1 000 concurrent streams at 20 events/s each (gap 50 ms) against HTTP/1.1
#    requests at the same rate (20 000/s, open model, GET / of the same server; and 1 000
#    users each paced at 50 ms): swarm's CPU (user + system) per event and per request,
#    and their ratios.
#
# 3. Side by side with Locust (when LOCUST names its binary, e.g. a venv's): 200 users
#    reading the 20 events/s stream in turn, Locust's FastHttpUser with client.iter_lines
#    (benches/locust_sse.py) against swarm; CPU per event and what each reports.
#
#   benches/streams.sh [SECONDS]
#   LOCUST=/tmp/lv/bin/locust benches/streams.sh 20
set -euo pipefail
SECS="${1:-20}"
cd "$(dirname "$0")/.."
ROOT="$PWD"; OUT="$ROOT/benches/out/streams"; mkdir -p "$OUT"
. "$ROOT/benches/lib.sh"
install_missing taskset /usr/bin/time -- util-linux time
build_swarm
PORT=18471
taskset -c 1 "$SWARM" demo --serve --port "$PORT" >/dev/null 2>&1 </dev/null &
PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done

scenario() { # PATH: 1 000 users, all up in a second, reading PATH as server-sent events
  cat > "$OUT/s.toml" <<TOML
host = "http://127.0.0.1:$PORT"
[load]
users = 1000
spawn_rate = 1000
[defaults]
timeout = "5s"
[[endpoints]]
name = "events"
path = "$1"
stream = "sse"
TOML
}

measure() { # LABEL ARGS...: prints LABEL, swarm's CPU seconds and the JSON's figures
  local label="$1"; shift
  /usr/bin/time -f "%U %S" -o "$OUT/time" taskset -c 0 timeout -k 5 $((SECS + 40)) \
    "$SWARM" run "$@" --headless --quiet -t "${SECS}s" --json "$OUT/$label.json" >/dev/null 2>&1 </dev/null || true
  python3 - "$label" "$OUT" <<'PY'
import json, sys
label, out = sys.argv[1:]
d = json.load(open(f"{out}/{label}.json"))
a = d["aggregated"]
user, system = map(float, open(f"{out}/time").read().split()[-2:])
cpu = user + system
s = a.get("stream")
if s:
    print(f"{label}: {s['streams']} streams, {s['events']} events ({s['events_per_s']:.0f}/s), "
          f"TTFT p50 {s['ttft_ms']['50']:.3f} p99 {s['ttft_ms']['99']:.3f} ms, "
          f"ITL p50 {s['itl_ms']['50']:.3f} p99 {s['itl_ms']['99']:.3f} ms, failures {a['failures']}, "
          f"swarm CPU {cpu:.2f} s = {cpu / max(s['events'], 1) * 1e6:.2f} us/event")
    open(f"{out}/{label}.cpu", "w").write(str(cpu / max(s["events"], 1)))
else:
    print(f"{label}: {a['requests']} requests ({a['rps']:.0f}/s), p50 {a['percentiles_ms']['50']} ms, "
          f"failures {a['failures']}, swarm CPU {cpu:.2f} s = {cpu / max(a['requests'], 1) * 1e6:.2f} us/request")
    open(f"{out}/{label}.cpu", "w").write(str(cpu / max(a["requests"], 1)))
PY
}

rustc -O --edition 2024 -o "$OUT/sse_schedule" "$ROOT/benches/sse_schedule.rs"
taskset -c 1 "$OUT/sse_schedule" $((PORT + 1)) 200 20 50 </dev/null &
SPINNER=$!
PIDS+=($SPINNER)
sleep 0.3
scenario "/events"
sed -i "s/:$PORT\"/:$((PORT + 1))\"/" "$OUT/s.toml"
measure accuracy "$OUT/s.toml" --reset-stats
kill "$SPINNER"   # it spins on CPU 1, where the demo server runs next
scenario "/events?first_ms=200&gap_ms=20&n=50"
measure accuracy_demo "$OUT/s.toml" --reset-stats
scenario "/events?first_ms=50&gap_ms=50&n=40"
measure stream_cost "$OUT/s.toml"
measure request_cost "http://127.0.0.1:$PORT/" --arrival-rate 20000/s --max-users 2000
# The same rate as the streams' shape: 1 000 connections, each a request every 50 ms
# (its own phase, as each stream has), so the runtime wakes for each as for an event; the
# open model's arrivals come in batches per timer tick, many to a wake.
cat > "$OUT/paced.toml" <<TOML
host = "http://127.0.0.1:$PORT"
[load]
users = 1000
spawn_rate = 1000
wait = { pacing = "50ms" }
[[endpoints]]
path = "/"
TOML
measure request_cost_paced "$OUT/paced.toml"
python3 -c "
e = float(open('$OUT/stream_cost.cpu').read()); r = float(open('$OUT/request_cost.cpu').read())
p = float(open('$OUT/request_cost_paced.cpu').read())
print(f'CPU per event / CPU per HTTP/1.1 request at the same rate: {e / r:.2f} (open model), {e / p:.2f} (1 000 users paced at 50 ms)')"

if [ -n "${LOCUST:-}" ]; then
  sed "s/users = 1000/users = 200/; s/spawn_rate = 1000/spawn_rate = 200/" "$OUT/s.toml" > "$OUT/s200.toml"
  measure swarm200 "$OUT/s200.toml"
  /usr/bin/time -f "%U %S" -o "$OUT/time" taskset -c 0 timeout -k 5 $((SECS + 40)) "$LOCUST" \
    -f "$ROOT/benches/locust_sse.py" --headless -u 200 -r 200 -t "${SECS}s" \
    -H "http://127.0.0.1:$PORT" --only-summary > "$OUT/locust.out" 2>&1 </dev/null || true
  python3 - "$OUT" <<'PY'
import re, sys
out = sys.argv[1]
text = open(f"{out}/locust.out").read()
events = int(re.search(r"SSE_EVENTS (\d+)", text).group(1))
user, system = map(float, open(f"{out}/time").read().split()[-2:])
cpu = (user + system) / max(events, 1)
swarm = float(open(f"{out}/swarm200.cpu").read())
print(f"locust200: {events} events, CPU {user + system:.2f} s = {cpu * 1e6:.2f} us/event")
print(f"swarm CPU per event / Locust's, 200 streams: {swarm / cpu:.2f}")
PY
fi
