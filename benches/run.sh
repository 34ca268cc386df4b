#!/usr/bin/env bash
# swarm's benchmark: swarm side by side with wrk (and oha when installed) against nginx on
# 127.0.0.1:8080, nginx pinned to CPU 1 and the load generator alone on CPU 0.
# Prints a markdown table; raw outputs go to benches/out/. A benchmark, not a test.
#
#   benches/run.sh                 # throughput, ten endpoints, memory, spawn, accuracy (~6 min)
#   ONLY="tput" benches/run.sh     # one section: tput tui tenep mem spawn accuracy soak think users
#   ONLY="think" benches/run.sh    # 5 000 users thinking 1-3 s: swarm, Locust FastHttpUser (~3 min)
#   ONLY="users" benches/run.sh    # USERS (100 000) users thinking 10 s, headless and TUI (~4 min)
#   ONLY="controller" benches/run.sh # a controller's CPU with 16 workers on loopback (~1 min)
#   DUR=10 REPEAT=3 benches/run.sh # seconds per throughput run, rounds (medians)
#
# Every run is bounded by its own duration flag and by `timeout`. Traffic goes to loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="$ROOT/benches/out"
DUR="${DUR:-10}"
REPEAT="${REPEAT:-3}"
ONLY="${ONLY:-tput tui tenep mem spawn accuracy}"
SERVER_CPU="${SERVER_CPU:-1}"
CLIENT_CPU="${CLIENT_CPU:-0}"
URL="http://127.0.0.1:8080/"
mkdir -p "$OUT"

. "$ROOT/benches/lib.sh"
install_missing nginx wrk taskset /usr/bin/time -- nginx wrk time util-linux curl
OHA="$(command -v oha || true)"
build_swarm

# timed LABEL CMD...: runs CMD pinned to the client CPU; leaves $OUT/LABEL.{out,err,time}.
timed() {
    local label="$1"; shift
    /usr/bin/time -f "%U %S %M %w %c" -o "$OUT/$label.time" \
        taskset -c "$CLIENT_CPU" timeout -k 5 $((DUR + 60)) "$@" >"$OUT/$label.out" 2>"$OUT/$label.err" </dev/null || true
    sleep 1
}

# row LABEL TOOL: one JSON line with requests, req/s, CPU, RSS, p50 for the table.
row() { python3 "$ROOT/benches/parse.py" "$OUT" "$1" "$2" >> "$OUT/rows.jsonl"; }

scenario() { # scenario FILE ENDPOINTS USERS WAIT
    local file="$1" n="$2" users="$3" wait="$4"
    {
        echo "host = \"http://127.0.0.1:8080\""
        echo "[load]"; echo "users = $users"; echo "spawn_rate = 100000"; echo "run_time = \"${DUR}s\""; echo "wait = \"$wait\""
        for i in $(seq 1 "$n"); do echo "[[endpoints]]"; echo "name = \"e$i\""; echo "path = \"/e$i\""; echo "weight = $i"; done
    } > "$file"
}

tput_round() {
    for c in 64 256; do
        timed "wrk-c$c" wrk -t1 -c"$c" -d"${DUR}s" --latency "$URL"; row "wrk-c$c" wrk
        timed "swarm-c$c" "$SWARM" run "$URL" --headless -u "$c" -r 100000 -t "${DUR}s" --json "$OUT/swarm-c$c.json"; row "swarm-c$c" swarm
        if [ -n "$OHA" ]; then
            timed "oha-c$c" "$OHA" --no-tui -c "$c" -z "${DUR}s" --output-format json "$URL"; row "oha-c$c" oha
        fi
    done
}

tenep_round() {
    scenario "$OUT/one.toml" 1 64 0s
    scenario "$OUT/ten.toml" 10 64 0s
    timed "swarm-1ep" "$SWARM" run "$OUT/one.toml" --headless --json "$OUT/swarm-1ep.json"; row "swarm-1ep" swarm
    timed "swarm-10ep" "$SWARM" run "$OUT/ten.toml" --headless --json "$OUT/swarm-10ep.json"; row "swarm-10ep" swarm
}

memory() {
    local d="$DUR"; DUR=15
    for u in 1000 10000; do
        scenario "$OUT/mem$u.toml" 1 "$u" 1s
        timed "mem-swarm-u$u" "$SWARM" run "$OUT/mem$u.toml" --headless -r 100000 --json "$OUT/mem-swarm-u$u.json"; row "mem-swarm-u$u" swarm
        timed "mem-wrk-c$u" wrk -t1 -c"$u" -d5s "$URL"; row "mem-wrk-c$u" wrk
    done
    DUR="$d"
}

spawn() {
    local d="$DUR"; DUR=14
    scenario "$OUT/spawn.toml" 1 10000 1s
    timed "spawn-10k" "$SWARM" run "$OUT/spawn.toml" --headless -r 1000 --json "$OUT/spawn-10k.json"; row "spawn-10k" swarm
    DUR="$d"
}

accuracy() {
    # The demo server's /delay answers after a precise 20 ms; it runs on the server CPU.
    taskset -c "$SERVER_CPU" "$SWARM" demo --serve --port 8090 2>/dev/null &
    PIDS+=($!)
    sleep 1
    local url="http://127.0.0.1:8090/delay?ms=20"
    # One user shows what the server and loopback add; wrk at 64 connections is the peer.
    timed "accuracy-20ms-u1" "$SWARM" run "$url" --headless -u 1 -t "${DUR}s" --json "$OUT/accuracy-20ms-u1.json"; row "accuracy-20ms-u1" swarm
    timed "accuracy-20ms" "$SWARM" run "$url" --headless -u 64 -r 100000 -t "${DUR}s" --json "$OUT/accuracy-20ms.json"; row "accuracy-20ms" swarm
    timed "accuracy-20ms-wrk" wrk -t1 -c64 -d"${DUR}s" --latency "$url"; row "accuracy-20ms-wrk" wrk
}

tui() {
    # The TUI on a 200x50 tmux screen, started at once, quit with q after the run.
    command -v tmux >/dev/null || apt-get install -y -qq tmux >/dev/null
    local label="swarm-tui-c64"
    tmux kill-session -t swarm-bench 2>/dev/null || true
    tmux new-session -d -s swarm-bench -x 200 -y 50 \
        "/usr/bin/time -f '%U %S %M' -o $OUT/$label.time taskset -c $CLIENT_CPU timeout --foreground $((DUR + 60)) $SWARM run $URL -u 64 -r 100000 -t ${DUR}s --autostart --json $OUT/$label.json"
    sleep $((DUR + 3))
    tmux send-keys -t swarm-bench q
    for _ in $(seq 100); do tmux has-session -t swarm-bench 2>/dev/null || break; sleep 0.2; done
    tmux kill-session -t swarm-bench 2>/dev/null || true
    : > "$OUT/$label.out"
    row "$label" swarm
    sleep 1
}

think() {
    # The think-time regime (issue 16): 5 000 users thinking 1-3 s on two endpoints (3:1),
    # swarm beside Locust's FastHttpUser in the same run, and swarm at full speed (64 users,
    # no think time) for the ratio. Every process is timed whole, start-up included.
    local d="$DUR"; DUR="${THINK_S:-40}"
    if [ ! -x "$OUT/venv/bin/locust" ]; then
        python3 -m venv "$OUT/venv" && "$OUT/venv/bin/pip" install -q locust
    fi
    {
        echo 'host = "http://127.0.0.1:8080"'
        echo '[load]'; echo 'users = 5000'; echo 'spawn_rate = 5000'; echo "run_time = \"${DUR}s\""; echo 'wait = "1s..3s"'
        echo '[[endpoints]]'; echo 'name = "home"'; echo 'path = "/"'; echo 'weight = 3'
        echo '[[endpoints]]'; echo 'name = "item"'; echo 'path = "/item"'; echo 'weight = 1'
    } > "$OUT/think.toml"
    timed "think-swarm" "$SWARM" run "$OUT/think.toml" --headless --json "$OUT/think-swarm.json"; row "think-swarm" swarm
    timed "think-locust" "$OUT/venv/bin/locust" -f "$ROOT/benches/locust_think.py" --headless -u 5000 -r 5000 \
        -t "${DUR}s" -H http://127.0.0.1:8080 --csv "$OUT/think-locust" --only-summary ThinkUser; row "think-locust" locust
    timed "think-full" "$SWARM" run "$URL" --headless -u 64 -r 100000 -t "${DUR}s" --json "$OUT/think-full.json"; row "think-full" swarm
    DUR="$d"
}

users() {
    # USERS users (default 100 000) thinking 10 s, spawned at 10 000/s, against an nginx of
    # its own on 127.0.0.1:8081 with a worker per 12 000 connections. One process can hold
    # as many connections as its open-files limit: as root the script raises the hard limit
    # where the kernel lets it, and otherwise runs the most users the limit allows (said in
    # the output). Source addresses 127.0.0.2-127.0.0.9 give each user a port.
    local want="${USERS:-100000}" hard n d="$DUR"
    ulimit -Hn 1048576 2>/dev/null || ulimit -Hn "$(cat /proc/sys/fs/nr_open)" 2>/dev/null || true
    hard="$(ulimit -Hn)"; ulimit -n "$hard"
    n=$(( want < hard - 200 ? want : hard - 200 ))
    [ "$n" -lt "$want" ] && echo "users: the open-files hard limit is $hard here (not raisable): $n users instead of $want" | tee "$OUT/users-note.txt" >&2
    sysctl -qw net.ipv4.ip_local_port_range="1024 65535" 2>/dev/null || true
    sysctl -qw net.core.somaxconn=65535 2>/dev/null || true
    # nginx holds every user of the run (--processes included): a worker per 12 000.
    local workers=$(( (want + 11999) / 12000 )) run="$OUT/nginx-users"
    mkdir -p "$run/tmp"
    sed -e "s/^worker_processes 1;/worker_processes $workers;/" -e "s/127.0.0.1:8080/127.0.0.1:8081/" \
        -e "s/^worker_rlimit_nofile .*/worker_rlimit_nofile $(( hard < 20000 ? hard : 20000 ));/" \
        "$ROOT/benches/nginx.conf" > "$run/nginx.conf"
    taskset -c "$SERVER_CPU" "$NGINX" -c "$run/nginx.conf" -p "$run/" -e "$run/error.log" </dev/null &
    PIDS+=($!)
    for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:8081/ && break; sleep 0.1; done
    DUR=40
    for u in 10000 "$n"; do
        {
            echo 'host = "http://127.0.0.1:8081"'
            echo '[defaults]'; echo 'local_addresses = ["127.0.0.2-127.0.0.9"]'
            echo '[load]'; echo "users = $u"; echo 'spawn_rate = 10000'; echo "run_time = \"${DUR}s\""; echo 'wait = "10s"'
            echo '[[endpoints]]'; echo 'name = "home"'; echo 'path = "/"'
        } > "$OUT/users$u.toml"
        timed "users-u$u" "$SWARM" run "$OUT/users$u.toml" --headless --json "$OUT/users-u$u.json"; row "users-u$u" swarm
    done
    local tui_file="$OUT/users$n.toml" tui_users="$n" tui_flags=""
    if [ "$n" -lt "$want" ]; then
        # Past one process's open files: --processes K, each worker process a share.
        local k=$(( (want + n - 1) / n ))
        sed "s/^users = .*/users = $want/" "$OUT/users$n.toml" > "$OUT/users$want.toml"
        echo "$k" > "$OUT/users-dist-workers.txt"
        sample_rss "$OUT/users-dist-u$want.rss" &
        local sampler=$!
        timed "users-dist-u$want" "$SWARM" run "$OUT/users$want.toml" --headless --processes "$k" --json "$OUT/users-dist-u$want.json"
        kill "$sampler" 2>/dev/null || true
        row "users-dist-u$want" swarm
        tui_file="$OUT/users$want.toml"; tui_users="$want"; tui_flags="--processes $k"
    fi
    # The same with the TUI on a 200x50 tmux screen: its CPU, and how long a key takes to show.
    command -v tmux >/dev/null || apt-get install -y -qq tmux >/dev/null
    local label="users-tui-u$tui_users"
    tmux kill-session -t swarm-users 2>/dev/null || true
    tmux new-session -d -s swarm-users -x 200 -y 50 \
        "/usr/bin/time -f '%U %S %M %w %c' -o $OUT/$label.time taskset -c $CLIENT_CPU timeout --foreground $((DUR + 60)) $SWARM run $tui_file $tui_flags --autostart --json $OUT/$label.json"
    sleep 20
    python3 "$ROOT/benches/keylat.py" swarm-users 20 > "$OUT/users-keys.json" || true
    # q asks first while the run goes on: wait for its end (at most a minute), then quit.
    for _ in $(seq 300); do tmux capture-pane -p -t swarm-users | grep -q "stopped" && break; sleep 0.2; done
    tmux send-keys -t swarm-users q
    for _ in $(seq 100); do tmux has-session -t swarm-users 2>/dev/null || break; sleep 0.2; done
    tmux kill-session -t swarm-users 2>/dev/null || true
    : > "$OUT/$label.out"
    row "$label" swarm
    DUR="$d"
}

# sample_rss FILE: until killed, the largest summed RSS (kB) of every swarm process seen,
# every half second (GNU time gives one process's peak; --processes runs several).
sample_rss() {
    local max=0 sum p r
    while true; do
        sum=0
        for p in $(pgrep -x swarm); do
            r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null); sum=$((sum + ${r:-0}))
        done
        [ "$sum" -gt "$max" ] && max=$sum && echo "$max" > "$1"
        sleep 0.5
    done
}

controller() {
    # A distributed run's controller with 16 workers on this machine, each sending a full
    # delta (ten endpoints) every second: the controller's CPU in % of one core, from /proc
    # over the run's steady part. Workers share CPU 0; the controller runs on the server's.
    local k=16 port=5598 dur=30
    scenario "$OUT/ctl.toml" 10 64 0s
    sed -i "s/^run_time = .*/run_time = \"${dur}s\"/" "$OUT/ctl.toml"
    taskset -c "$SERVER_CPU" timeout -k 5 $((dur + 60)) "$SWARM" run "$OUT/ctl.toml" --headless --workers "$k" \
        --listen "127.0.0.1:$port" --json "$OUT/controller.json" >"$OUT/controller.out" 2>"$OUT/controller.err" </dev/null &
    local runner=$! ctl=""
    : > "$OUT/controller-workers.err"
    for _ in $(seq 50); do ctl=$(pgrep -P "$runner" -x swarm || true); [ -n "$ctl" ] && break; sleep 0.1; done
    for _ in $(seq "$k"); do
        taskset -c "$CLIENT_CPU" timeout -k 5 $((dur + 60)) "$SWARM" worker --controller "127.0.0.1:$port" \
            >/dev/null 2>>"$OUT/controller-workers.err" </dev/null &
    done
    for _ in $(seq 300); do grep -q "starting them together" "$OUT/controller.err" && break; sleep 0.1; done
    sleep 5
    local t0 c0 t1 c1
    t0=$(date +%s.%N); c0=$(awk '{print $14 + $15}' "/proc/$ctl/stat")
    sleep 20
    t1=$(date +%s.%N); c1=$(awk '{print $14 + $15}' "/proc/$ctl/stat")
    wait "$runner" || true
    python3 - "$t0" "$c0" "$t1" "$c1" "$(getconf CLK_TCK)" "$OUT/controller.json" <<'PY' | tee "$OUT/controller-summary.txt"
import json, sys
t0, c0, t1, c1, tck, path = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
d = json.load(open(path))
print(f"controller with {len(d.get('workers', []))} workers: {100 * (c1 - c0) / tck / (t1 - t0):.1f} % of one core over 20 s; "
      f"{d['aggregated']['requests']:,} requests merged, {len(d['endpoints'])} endpoints")
PY
}

soak() {
    local d="$DUR"; DUR="${SOAK_S:-600}"
    timed "soak" "$SWARM" run "$URL" --headless -u 64 -r 100000 -t "${DUR}s" --json "$OUT/soak.json"; row "soak" swarm
    DUR="$d"
}

: > "$OUT/rows.jsonl"
start_nginx "$SERVER_CPU"
for section in $ONLY; do
    case "$section" in
        tput) for _ in $(seq "$REPEAT"); do tput_round; done ;;
        tui) for _ in $(seq "$REPEAT"); do tui; done ;;
        tenep) for _ in $(seq "$REPEAT"); do tenep_round; done ;;
        mem) memory ;;
        spawn) spawn ;;
        accuracy) accuracy ;;
        soak) soak ;;
        think) think ;;
        users) users ;;
        controller) controller ;;
    esac
done
python3 "$ROOT/benches/parse.py" --table "$OUT/rows.jsonl"
