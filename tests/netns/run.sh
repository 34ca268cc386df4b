#!/usr/bin/env bash
# A distributed run across real hosts: network namespaces joined by veth pairs and a bridge
# (itself in a namespace of its own, so the machine's own network is untouched). One host
# runs nginx (the target, whose access log is the server's own count), one the controller,
# three the workers, each with its own address in 10.77.0.0/24. Needs root and iproute2;
# skipped with a message otherwise. Every run is bounded by swarm's -t and by `timeout`; the
# namespaces are removed when the script ends, whatever happens.
#
#   tests/netns/run.sh [path/to/swarm]     (called from .ci/run after cargo test)
set -uo pipefail
cd "$(dirname "$0")/../.."
SWARM="$(realpath "${1:-target/debug/swarm}")"
NS_NET=swnet; SRV=swsrv; CTL=swctl; WORKERS=(sww1 sww2 sww3)
ALL=("$SRV" "$CTL" "${WORKERS[@]}")
WORK="$(mktemp -d)"
PIDS=()

skip() { echo "netns: skipped: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (ip netns)"
command -v ip >/dev/null || skip "needs iproute2 (apt-get install iproute2)"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || skip "needs nginx"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
ip netns add swprobe 2>/dev/null || skip "network namespaces are not available here"
ip netns del swprobe

# stop_tree PID [SIGNAL]: the process and its children (`timeout` runs swarm as its child).
stop_tree() { pkill "-${2:-TERM}" -P "$1" 2>/dev/null; kill "-${2:-TERM}" "$1" 2>/dev/null; }
cleanup() {
    for p in "${PIDS[@]}"; do stop_tree "$p" KILL; done
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
    for n in "${ALL[@]}" "$NS_NET"; do ip netns del "$n" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "netns: FAILED: $*" >&2; exit 1; }
in_ns() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }

# The network: a bridge in $NS_NET, a veth from each host's namespace to it.
ip netns add "$NS_NET"
in_ns "$NS_NET" ip link add br0 type bridge
in_ns "$NS_NET" ip link set br0 up
declare -A addr=([swsrv]=1 [swctl]=2 [sww1]=11 [sww2]=12 [sww3]=13)
for n in "${ALL[@]}"; do
    ip netns add "$n"
    ip link add "v-$n" type veth peer name eth0 netns "$n"
    ip link set "v-$n" netns "$NS_NET"
    in_ns "$NS_NET" ip link set "v-$n" master br0 up
    in_ns "$n" ip addr add "10.77.0.${addr[$n]}/24" dev eth0
    in_ns "$n" ip link set eth0 up
    in_ns "$n" ip link set lo up
done
SRV_IP=10.77.0.1; CTL_IP=10.77.0.2

# The target: nginx on the server host, logging every request.
mkdir -p "$WORK/tmp"
cat > "$WORK/nginx.conf" <<CONF
daemon on;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 4096; }
http {
    access_log $WORK/access.log;
    client_body_temp_path $WORK/tmp;
    proxy_temp_path $WORK/tmp;
    fastcgi_temp_path $WORK/tmp;
    uwsgi_temp_path $WORK/tmp;
    scgi_temp_path $WORK/tmp;
    server {
        listen $SRV_IP:8080;
        location / { return 200 "ok\n"; }
    }
}
CONF
in_ns "$SRV" "$NGINX" -c "$WORK/nginx.conf" -p "$WORK/" || fail "nginx did not start"
sleep 0.5
served() { [ -f "$WORK/access.log" ] && wc -l < "$WORK/access.log" || echo 0; }

cat > "$WORK/scenario.toml" <<TOML
host = "http://$SRV_IP:8080"
[load]
users = 30
spawn_rate = 100
run_time = "4s"
wait = "10ms"
[[endpoints]]
name = "home"
path = "/"
TOML
head -c 32 /dev/urandom | base64 > "$WORK/token"
echo wrong > "$WORK/wrong"

# start_controller LABEL ARGS...: the controller in its namespace, in the background.
start_controller() {
    local label="$1"; shift
    ip netns exec "$CTL" timeout -k 5 60 "$SWARM" run "$WORK/scenario.toml" --headless --workers 3 \
        --listen "$CTL_IP:5557" --token-file "$WORK/token" --json "$WORK/$label.json" "$@" \
        >"$WORK/$label.out" 2>"$WORK/$label.err" &
    CTL_PID=$!
    PIDS+=("$CTL_PID")
    for _ in $(seq 100); do grep -q "controller listening" "$WORK/$label.err" 2>/dev/null && return; sleep 0.1; done
    fail "$label: the controller did not start: $(cat "$WORK/$label.err")"
}
# start_workers LABEL [TOKEN]: one worker per worker host.
start_workers() {
    local label="$1" token="${2:-$WORK/token}"
    WPIDS=()
    for n in "${WORKERS[@]}"; do
        ip netns exec "$n" timeout -k 5 60 "$SWARM" worker --controller "$CTL_IP:5557" --token-file "$token" \
            --save-run "$WORK/$label-$n.hlog" >/dev/null 2>"$WORK/$label-$n.err" &
        WPIDS+=($!); PIDS+=($!)
    done
}
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

echo "netns: 1. three workers on three hosts, merged counts against nginx's log"
start_controller run1 --save-run "$WORK/run1.hlog"
start_workers run1
wait "$CTL_PID"; code=$?
[ "$code" = 0 ] || fail "run1 exited $code: $(cat "$WORK/run1.err")"
for p in "${WPIDS[@]}"; do wait "$p" || fail "a worker of run1 exited $?"; done
merged=$(json "$WORK/run1.json" "d['aggregated']['requests']")
hosts=$(json "$WORK/run1.json" "len(d['workers'])")
[ "$merged" -gt 100 ] || fail "run1: only $merged requests"
[ "$merged" = "$(served)" ] || fail "run1: swarm merged $merged requests, nginx logged $(served)"
[ "$hosts" = 3 ] || fail "run1: $hosts workers in the report"
echo "netns:    ok: $merged requests merged = $(served) in nginx's log, 3 workers"
# Each worker kept its own samples (--save-run): one histogram of all of them is the
# controller's merged one, bucket for bucket (read by HdrHistogram_py, not by swarm).
PY="${SWARM_TEST_PYTHON:-python3}"
if "$PY" -c "import hdrh" 2>/dev/null; then
    said=$("$PY" tests/netns/merged.py "$WORK/run1.hlog" "$WORK"/run1-sww*.hlog) \
        || fail "run1: the merged histogram is not the workers' samples: $said"
    echo "netns:    ok: $said"
else
    echo "netns:    (the merged-histogram check needs HdrHistogram_py: pip install hdrhistogram)"
fi

echo "netns: 2. a wrong token is refused"
: > "$WORK/access.log"
ip netns exec "${WORKERS[0]}" timeout 20 "$SWARM" worker --controller "$CTL_IP:5557" --token-file "$WORK/wrong" \
    >/dev/null 2>"$WORK/wrong.err" &
start_controller run2 -t 1s

sleep 3
grep -q "wrong token" "$WORK/wrong.err" || fail "the wrong token was not refused: $(cat "$WORK/wrong.err")"
stop_tree "$CTL_PID"; wait "$CTL_PID" 2>/dev/null
[ "$(served)" = 0 ] || fail "a refused worker sent $(served) requests"
echo "netns:    ok: refused, nothing sent"

echo "netns: 3. netem delays the control path by 80 ms; the merged latency does not move"
netem="applied"
in_ns "$CTL" tc qdisc add dev eth0 root netem delay 80ms 2>/dev/null || netem="not available here (run without it)"
start_controller run3
start_workers run3
wait "$CTL_PID"; code=$?
[ "$code" = 0 ] || fail "run3 exited $code: $(cat "$WORK/run3.err")"
p50=$(json "$WORK/run3.json" "d['aggregated']['percentiles_ms']['50']")
python3 -c "import sys; sys.exit(0 if float('$p50') < 40 else 1)" || fail "run3: p50 $p50 ms: the control path's delay reached the latency"
in_ns "$CTL" tc qdisc del dev eth0 root 2>/dev/null || true
echo "netns:    ok: p50 $p50 ms (netem $netem)"

echo "netns: 4. SIGKILL one worker: the run stops with exit code 3 and names it"
start_controller run4 -t 30s
start_workers run4
for _ in $(seq 100); do grep -q "running users 30/30" "$WORK/run4.err" && break; sleep 0.1; done
stop_tree "${WPIDS[1]}" KILL
wait "$CTL_PID"; code=$?
[ "$code" = 3 ] || fail "run4 exited $code, not 3: $(cat "$WORK/run4.err")"
grep -q "was lost" "$WORK/run4.err" || fail "run4: the report does not name the lost worker"
echo "netns:    ok: exit 3, $(grep -o 'worker [0-9]* .* was lost [^:]*' "$WORK/run4.err" | head -1)"
echo "netns: all passed"
