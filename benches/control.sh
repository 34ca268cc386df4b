#!/usr/bin/env bash
# The control endpoint's cost (issue 25). nginx (benches/nginx.conf) on CPU 1; swarm, and
# the TUI attached to it, on CPU 0; 64 users without think time, as fast as they go
# (about 100 000 req/s here). A benchmark, not a test.
#
# 1. alone:    a headless run; its endpoint serves its socket and nobody connects.
# 2. attached: the same run with `swarm attach` open on it for the whole run (the full
#              TUI in a 100x30 tmux, its statistics view redrawn as the figures come):
#              the run's CPU plus the TUI's, per request, against alone's.
# 3. before:   with PRE (a swarm built before the endpoint, e.g. from a766b3d), the same
#              run alone: what the endpoint costs a run that nobody watches.
# 4. quiet:    what attaching costs a second, apart from the load: a run of one user a
#              second for 3 x SECONDS, alone and attached; the difference in CPU (the run's
#              frames for the TUI, and the TUI) over the run's CPU a second at full load is
#              the share an attached TUI adds to that run (the frames do not grow with the
#              request rate: the same rows, the same history).
#
# 5. instructions: with PRE, valgrind's callgrind counts the instructions of 20 000
#              requests (8 users, -n) for PRE and this build: repeatable where CPU time is
#              noisy (the machine has no hardware counters for perf).
#
#   benches/control.sh [SECONDS] [ROUNDS]
#   PRE=/tmp/pre-target/release/swarm benches/control.sh 10 5
#   (PRE: git worktree add /tmp/pre a766b3d && (cd /tmp/pre && CARGO_TARGET_DIR=/tmp/pre-target cargo build --release))
set -euo pipefail
SECS="${1:-15}"; ROUNDS="${2:-3}"
cd "$(dirname "$0")/.."
ROOT="$PWD"; OUT="$ROOT/benches/out/control"; mkdir -p "$OUT"
. "$ROOT/benches/lib.sh"
install_missing nginx taskset tmux /usr/bin/time -- nginx util-linux tmux time curl
build_swarm
start_nginx 1
cat > "$OUT/s.toml" <<TOML
name = "control bench"
host = "http://127.0.0.1:8080"
[load]
users = 64
spawn_rate = 64000
[[endpoints]]
path = "/"
TOML
cat > "$OUT/quiet.toml" <<TOML
name = "control bench"
host = "http://127.0.0.1:8080"
[load]
users = 1
wait = "1s"
[[endpoints]]
path = "/"
TOML
RT="$OUT/rt"; rm -rf "$RT"; mkdir -p "$RT"; chmod 700 "$RT"
export XDG_RUNTIME_DIR="$RT"

requests() { python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['aggregated']['requests'])" "$1"; }
cpu() { tail -1 "$1" | awk '{print $1+$2}'; }

# run BIN LABEL [attach]: one run; prints "LABEL req/s cpu_run cpu_attach us_per_request"
# (SCENARIO and SECS may be set for one call)
run() {
    local bin="$1" label="$2" attach="${3:-}" scenario="${SCENARIO:-$OUT/s.toml}"
    rm -f "$OUT/$label.json" "$OUT/$label.time" "$OUT/$label.attach"
    /usr/bin/time -f "%U %S" -o "$OUT/$label.time" taskset -c 0 "$bin" run "$scenario" \
        --headless --quiet -t "${SECS}s" --json "$OUT/$label.json" >/dev/null 2>&1 &
    local pid=$!
    if [ -n "$attach" ]; then
        for _ in $(seq 100); do ls "$RT"/swarm/*.sock >/dev/null 2>&1 && break; sleep 0.05; done
        tmux kill-session -t bench 2>/dev/null || true
        tmux new -d -s bench -x 100 -y 30 \
            "env XDG_RUNTIME_DIR=$RT /usr/bin/time -f '%U %S' -o $OUT/$label.attach taskset -c 0 $SWARM attach"
    fi
    wait "$pid"
    if [ -n "$attach" ]; then
        for _ in $(seq 100); do [ -s "$OUT/$label.attach" ] && break; sleep 0.1; done
    fi
    local n run_cpu att_cpu=0
    n=$(requests "$OUT/$label.json"); run_cpu=$(cpu "$OUT/$label.time")
    [ -n "$attach" ] && att_cpu=$(cpu "$OUT/$label.attach")
    python3 -c "
n,r,a,s=$n,$run_cpu,$att_cpu,$SECS
print(f'$label  {n/s:9.0f} req/s  run {r:5.2f} s CPU  attached TUI {a:5.2f} s  {(r+a)/n*1e6:6.3f} us CPU per request  {(r+a)/s*1000:6.1f} ms CPU a second')"
}

for round in $(seq "$ROUNDS"); do
    echo "round $round"
    [ -n "${PRE:-}" ] && run "$PRE" before
    run "$SWARM" alone
    run "$SWARM" attached attach
    SCENARIO="$OUT/quiet.toml" SECS=$((SECS * 3)) run "$SWARM" quiet-alone
    SCENARIO="$OUT/quiet.toml" SECS=$((SECS * 3)) run "$SWARM" quiet-attached attach
done | tee "$OUT/result.txt"

if [ -n "${PRE:-}" ]; then
    install_missing valgrind -- valgrind
    for bin in "$PRE" "$SWARM" "$PRE" "$SWARM"; do
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" run "$OUT/s.toml" \
            --headless --quiet -n 20000 -u 8 >/dev/null 2>"$OUT/callgrind.err"
        echo "$bin: $(grep -o 'Collected : [0-9]*' "$OUT/callgrind.err") instructions for 20 000 requests"
    done | tee -a "$OUT/result.txt"
fi
