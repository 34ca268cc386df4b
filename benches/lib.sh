# Shared by benches/run.sh and benches/soak.sh: installs what is missing, builds swarm,
# starts nginx pinned to a CPU, and stops everything started here when the script exits.
# Expects ROOT and OUT to be set by the caller.

# install_missing CMD... -- PKG...: apt-get installs PKGs when any CMD is not on PATH.
install_missing() {
    local missing="" cmd
    while [ "$1" != "--" ]; do
        command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "$1" ] || missing=1
        shift
    done
    shift
    if [ -n "$missing" ]; then
        echo "installing $* from Debian's packages" >&2
        apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
    fi
}

NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

build_swarm() {
    cargo build --release --quiet
    SWARM="$ROOT/target/release/swarm"
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# start_nginx CPU: benches/nginx.conf on 127.0.0.1:8080, ready when it answers.
start_nginx() {
    local run="$OUT/nginx"
    NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
    mkdir -p "$run/tmp"
    taskset -c "$1" "$NGINX" -c "$ROOT/benches/nginx.conf" -p "$run/" -e "$run/error.log" </dev/null &
    PIDS+=($!)
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:8080/" && return 0; sleep 0.1; done
    echo "nginx did not start; see $run/error.log" >&2; exit 1
}
