#!/usr/bin/env bash
# WebSocket (issue 24): what a held socket costs in memory, and a message round trip in CPU
# against an HTTP/1.1 request at the same rate. The demo server (swarm demo --serve, its
# /ws/echo) on CPU 1, swarm alone on CPU 0. A benchmark, not a test.
#
# 1. Memory: N users each open a socket in on_start and echo a message a second; swarm's
#    resident memory once all are up, at 2 000 and 10 000 users: (RSS 10k - RSS 2k) / 8 000
#    is the marginal memory per socket (its user, its task and the socket).
# 2. CPU: 10 000 such users (10 000 round trips a second) against 10 000 users each sending
#    GET / a second over keep-alive HTTP/1.1: swarm's CPU per round trip and per request.
#
# 3. Side by side with Artillery (when ARTILLERY names its binary, from npm): 1 000 sockets
#    sending a message a second 20 times each (benches/artillery_ws.yml, Artillery's own ws
#    engine, which does not wait for the echo) against swarm doing the same with a
#    round trip each; CPU per message.
#
#   benches/websocket.sh [SECONDS]
#   ARTILLERY=/tmp/art/node_modules/.bin/artillery benches/websocket.sh 20
set -euo pipefail
SECS="${1:-20}"
cd "$(dirname "$0")/.."
ROOT="$PWD"; OUT="$ROOT/benches/out/websocket"; mkdir -p "$OUT"
. "$ROOT/benches/lib.sh"
install_missing taskset /usr/bin/time -- util-linux time
build_swarm
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
PORT=18473
taskset -c 1 "$SWARM" demo --serve --port "$PORT" >/dev/null 2>&1 </dev/null &
PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done

ws_scenario() { # USERS [ITERATIONS SPAWN_RATE]
  cat > "$OUT/ws.toml" <<TOML
host = "http://127.0.0.1:$PORT"
[load]
users = $1
spawn_rate = ${3:-2000}
wait = "1s"
${2:+iterations = $2}
[[on_start]]
name = "connect"
ws = "/ws/echo"
[[endpoints]]
name = "echo"
send = "ping"
receive = {}
TOML
}

http_scenario() { # USERS
  cat > "$OUT/http.toml" <<TOML
host = "http://127.0.0.1:$PORT"
[load]
users = $1
spawn_rate = 2000
wait = "1s"
[[endpoints]]
name = "get"
path = "/"
TOML
}

measure() { # LABEL FILE: swarm's RSS once the users are up, its CPU per request or round trip
  local label="$1" file="$2"
  /usr/bin/time -f "%U %S" -o "$OUT/time" taskset -c 0 timeout -k 5 $((SECS + 40)) \
    "$SWARM" run "$file" --headless --quiet -t "${SECS}s" --json "$OUT/$label.json" >/dev/null 2>&1 </dev/null &
  local pid=$!
  sleep $((SECS - 3))
  local child; child="$(pgrep -n -f "$SWARM run $file" || echo "$pid")"
  local rss; rss="$(awk '/VmRSS/ {print $2}' "/proc/$child/status" 2>/dev/null || echo 0)"
  wait "$pid" || true
  python3 - "$label" "$OUT" "$rss" <<'PY'
import json, sys
label, out, rss = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = json.load(open(f"{out}/{label}.json"))
a = d["aggregated"]
user, system = map(float, open(f"{out}/time").read().split()[-2:])
cpu = user + system
rows = {r["name"]: r for r in d["endpoints"]}
work = rows["echo"]["requests"] if "echo" in rows else rows["get"]["requests"]
print(f"{label}: {d['users']} users, {work} round trips or requests ({work / d['duration_s']:.0f}/s), "
      f"failures {a['failures']}, RSS {rss / 1024:.1f} MB, CPU {cpu:.2f} s = {cpu / max(work, 1) * 1e6:.2f} us each")
open(f"{out}/{label}.rss", "w").write(str(rss))
open(f"{out}/{label}.cpu", "w").write(str(cpu / max(work, 1)))
PY
}

ws_scenario 2000;  measure ws2k "$OUT/ws.toml"
ws_scenario 10000; measure ws10k "$OUT/ws.toml"
http_scenario 10000; measure http10k "$OUT/http.toml"
python3 - "$OUT" <<'PY'
import sys
out = sys.argv[1]
r = lambda n: float(open(f"{out}/{n}").read())
print(f"marginal memory per socket: {(r('ws10k.rss') - r('ws2k.rss')) / 8000:.2f} KB")
print(f"CPU per round trip / CPU per HTTP/1.1 request, 10 000 users a second each: {r('ws10k.cpu') / r('http10k.cpu'):.2f}")
PY

if [ -n "${ARTILLERY:-}" ]; then
  ws_scenario 1000 20000 1000   # as Artillery's: 1 000 sockets in a second, 20 messages each
  /usr/bin/time -f "%U %S" -o "$OUT/time" taskset -c 0 "$SWARM" run "$OUT/ws.toml" --headless --quiet \
    --json "$OUT/ws1k.json" >/dev/null 2>&1 </dev/null || true
  swarm_cpu="$(awk '{print $1 + $2}' "$OUT/time")"
  PORT="$PORT" /usr/bin/time -f "%U %S" -o "$OUT/time" taskset -c 0 timeout 120 "$ARTILLERY" run \
    "$ROOT/benches/artillery_ws.yml" > "$OUT/artillery.out" 2>&1 </dev/null || true
  art_cpu="$(awk '{print $1 + $2}' "$OUT/time")"
  sent="$(grep 'websocket.messages_sent' "$OUT/artillery.out" | tail -1 | grep -o '[0-9]*$')"
  python3 - "$swarm_cpu" "$art_cpu" "$sent" "$OUT" <<'PY'
import json, sys
s_cpu, a_cpu, a_sent, out = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
w = json.load(open(f"{out}/ws1k.json"))["aggregated"]["ws"]
print(f"swarm: {w['sent']} sent, {w['received']} received, CPU {s_cpu:.2f} s = {s_cpu / w['sent'] * 1e6:.1f} us a round trip")
print(f"artillery: {a_sent} sent (no wait for the echo), CPU {a_cpu:.2f} s = {a_cpu / a_sent * 1e6:.1f} us a message")
print(f"swarm's CPU a round trip / Artillery's a message: {(s_cpu / w['sent']) / (a_cpu / a_sent):.2f}")
PY
fi
