#!/usr/bin/env bash
# Herald side by side with nchan (Debian's nginx + libnginx-mod-nchan, one worker, loopback,
# a 100-message buffer): the same herald-bench loads against both, one fresh server per load,
# then Herald-only figures (MQTT fan-out and ingest, replay). Prints each run's table, then
# the ratios Herald / nchan. Every run is bounded in count and time; everything listens on
# 127.0.0.1 only and is stopped at the end.
#
# Usage: Benchmarks/compare.sh [--quick]   (--quick: a tenth of the clients, for a smoke run)
#        ONLY=shared|herald Benchmarks/compare.sh   runs one half (the other half's results are kept)
#        LOADS="p99-1k p99-5k" ONLY=shared Benchmarks/compare.sh   only the shared loads named
# Results: the JSON lines are kept in $RESULTS (default: /tmp/herald-compare.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1
results=${RESULTS:-/tmp/herald-compare.jsonl}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

# What the comparison needs, from Debian, only if missing.
missing=""
for p in nginx libnginx-mod-nchan mosquitto libmosquitto-dev; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    echo "installing:$missing" >&2
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2
fi
# Our own nginx runs with its own prefix and configuration on a free port; the system's nginx
# service (if any) is never touched or measured.
[ -x .build/release/herald ] && [ -x .build/release/herald-bench ] && [ -z "${REBUILD:-}" ] || {
    swift build -c release --product herald >&2
    swift build -c release --product herald-bench >&2
}
bench=.build/release/herald-bench
herald=.build/release/herald

BENCH_NAME=compare
source Benchmarks/servers.sh

run_bench() {  # $1: load name, $2: server kind, rest: herald-bench arguments
    local name=$1 kind=$2; shift 2
    "$bench" "$@" --server "$kind" --url "http://127.0.0.1:$port" --server-pid "$measured_pid" > "$work/last.out"
    head -n -1 "$work/last.out" >&2
    tail -n 1 "$work/last.out" | sed "s/^{/{\"load\":\"$name\",/" >> "$results"
}

scale() { [ "$quick" = 1 ] && echo $(( $1 / 10 )) || echo "$1"; }

# --- the same loads against both -----------------------------------------------------------
only=${ONLY:-}
if [ "$only" != herald ]; then
: > "$results"
# name clients events rate drop
loads=(
    "cpu      $(scale 1000)  2000 200 0"
    "p99-1k   $(scale 1000)   300  20 0"
    "p99-5k   $(scale 5000)    75   5 0"
    "hold-10k $(scale 10000)   50   5 0"
    "drop-30  $(scale 1000)  1000 100 0.3"
)
for load in "${loads[@]}"; do
    read -r name clients events rate drop <<< "$load"
    [ -z "${LOADS:-}" ] || [[ " $LOADS " == *" $name "* ]] || continue
    for kind in nchan herald; do
        echo "== $name: $kind, $clients clients, $events events at $rate/s, drop $drop" >&2
        if [ "$kind" = nchan ]; then start_nchan; else start_herald none; fi
        run_bench "$name" "$kind" fanout --clients "$clients" --events "$events" --rate "$rate" --drop "$drop" --timeout 150
        stop_server
    done
done
fi

# --- Herald only: MQTT, ingest, replay -----------------------------------------------------
if [ "$only" != shared ]; then
[ "$only" = herald ] && [ -f "$results" ] && sed -i '/"load":"\(mqtt-1k\|ingest\|replay\)"/d' "$results"
mport=$(free_port)
{
    echo "listener $mport 127.0.0.1"; echo "allow_anonymous true"; echo "persistence false"
    echo "max_queued_messages 0"; echo "max_inflight_messages 100"
    [ "$(id -u)" = 0 ] && echo "user root"
} > "$work/mosquitto.conf"
/usr/sbin/mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 & pids+=($!)
wait_port "$mport"

echo "== mqtt fan-out: herald, $(scale 1000) clients, 300 messages at 20/s" >&2
start_herald "mqtt://127.0.0.1:$mport"; sleep 1
run_bench mqtt-1k herald fanout --publish mqtt --mqtt "mqtt://127.0.0.1:$mport" --channel sensors \
    --clients "$(scale 1000)" --events 300 --rate 20 --timeout 120
stop_server

echo "== mqtt ingest: herald, 50000 QoS 1 messages as fast as possible" >&2
start_herald "mqtt://127.0.0.1:$mport"; sleep 1
run_bench ingest herald ingest --mqtt "mqtt://127.0.0.1:$mport" --messages 50000 --timeout 150
stop_server

echo "== replay: herald, 200000 events from id 0" >&2
start_herald none
run_bench replay herald replay --events 200000 --timeout 150
stop_server
fi

python3 Benchmarks/ratios.py "$results"
