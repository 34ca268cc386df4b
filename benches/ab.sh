#!/usr/bin/env bash
# A/B of two swarm binaries on the request path: each is run in turn (alternating, so that
# the machine's drift falls on both), -u 64 and -u 256 for 8 s against nginx on
# 127.0.0.1:8080 (nginx on CPU 1, swarm alone on CPU 0); prints CPU microseconds per
# request for each run. A benchmark, not a test.
#
#   git worktree add /tmp/before REV && (cd /tmp/before && cargo build --release)
#   benches/ab.sh /tmp/before/target/release/swarm target/release/swarm [ROUNDS]
set -euo pipefail
A="$(realpath "$1")"; B="$(realpath "$2")"; ROUNDS="${3:-4}"
cd "$(dirname "$0")/.."
ROOT="$PWD"; OUT="$ROOT/benches/out/ab"; mkdir -p "$OUT"
. "$ROOT/benches/lib.sh"
install_missing nginx taskset /usr/bin/time -- nginx util-linux time curl
start_nginx 1
echo "binary users requests cpu_us_per_request"
for _ in $(seq "$ROUNDS"); do
  for c in 64 256; do
    for bin in "$A" "$B"; do
      /usr/bin/time -f "%U %S" -o "$OUT/time" taskset -c 0 timeout -k 5 40 \
        "$bin" run http://127.0.0.1:8080/ --headless -u "$c" -r 100000 -t 8s --json "$OUT/run.json" \
        >/dev/null 2>&1 </dev/null || true
      python3 - "$bin" "$c" "$OUT" <<'PY'
import json, sys
bin, c, out = sys.argv[1:]
n = json.load(open(f"{out}/run.json"))["aggregated"]["requests"]
user, system = map(float, open(f"{out}/time").read().split()[-2:])
print(bin, c, n, round((user + system) / max(n, 1) * 1e6, 2))
PY
      sleep 1
    done
  done
done
