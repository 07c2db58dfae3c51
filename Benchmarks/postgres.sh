#!/usr/bin/env bash
# Herald on PostgreSQL beside SQLite, on their shipped settings: SQLite WAL with
# synchronous=NORMAL; PostgreSQL 15 as Debian ships it (fsync on, synchronous_commit on), a private
# cluster on a free loopback port in a temporary folder, stopped and removed at the end.
#
# 1. The event log in process (herald-bench store): appends per second with 8 concurrent
#    publishers, single events (as MQTT sends them) and batches of 100 (as an HTTP batch), SQLite
#    and PostgreSQL with one node and two; then, with two nodes, the time from an append on node A
#    to node B handing the event on (what a remote event adds before the hub).
# 2. `herald serve` as processes, each on its defaults (only --listen, --db and --mqtt given), for
#    SQLite, PostgreSQL with one node and PostgreSQL with two (a fresh database each):
#    - HTTP batch ingest: 8 keep-alive clients POST arrays of 100 events (to both nodes in turn
#      with two), events stored per second;
#    - MQTT ingest: QoS 1 messages as fast as the lease holder stores them (herald-bench ingest);
#    - delivery: 200 SSE clients, 1,000 events at 100/s published over HTTP (with two nodes the
#      clients are on node B and the events published to node A), latency and CPU per delivery.
# 3. `herald store copy` of a stopped gateway's SQLite store of 200,000 events: events per second.
#
# Usage: Benchmarks/postgres.sh [APPENDS]      (default 5000 per store measurement; 1...200000)
#        BENCH=path HERALD=path                 other builds (default .build/release/…)
set -euo pipefail
cd "$(dirname "$0")/.."
appends=${1:-5000}
[[ "$appends" =~ ^[0-9]+$ ]] && [ "$appends" -ge 1 ] && [ "$appends" -le 200000 ] || { echo "APPENDS must be 1...200000" >&2; exit 2; }
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
dpkg -s postgresql >/dev/null 2>&1 || { $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
bench=${BENCH:-.build/release/herald-bench}
herald=${HERALD:-.build/release/herald}
[ -n "${BENCH:-}" ] || swift build -c release --product herald-bench >&2
[ -n "${HERALD:-}" ] || swift build -c release --product herald >&2
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

dir=$(mktemp -d /tmp/herald-pg-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pid=""
nodes=()
stop_nodes() { for n in "${nodes[@]}"; do kill "$n" 2>/dev/null || true; done; for n in "${nodes[@]}"; do wait "$n" 2>/dev/null || true; done; nodes=(); }
cleanup() {  # every step on its own: one that fails (a process already gone) must not skip the rest
    set +e
    stop_nodes
    [ -n "${broker_pid:-}" ] && kill "$broker_pid" 2>/dev/null
    if [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null; then while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; fi
    rm -rf "$dir"
}
trap cleanup EXIT
chown postgres: "$dir"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
echo bench > "$dir/pw"
as_postgres "$bin/initdb" -D "$dir/data" -U herald --pwfile="$dir/pw" --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_postgres "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir/data" -c listen_addresses=127.0.0.1 >"$dir/postgres.log" 2>&1 &
pid=$!
for _ in $(seq 300); do PGPASSWORD=bench psql -h 127.0.0.1 -p "$port" -U herald -d postgres -Atc "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
PGPASSWORD=bench psql -h 127.0.0.1 -p "$port" -U herald -d postgres -qc "CREATE DATABASE bench"
timeout 600 "$bench" store --postgres "postgres://herald:bench@127.0.0.1:$port/bench" --appends "$appends"

# --- 2. herald serve ------------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ready() { for _ in $(seq 600); do curl -fs "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return; sleep 0.05; done; echo "node on $1 not ready" >&2; exit 1; }
mport=$(free_port)
{ echo "listener $mport 127.0.0.1"; echo "allow_anonymous true"; echo "persistence false"; echo "max_queued_messages 0"
  [ "$(id -u)" = 0 ] && echo "user root"; } > "$dir/mosquitto.conf"
/usr/sbin/mosquitto -c "$dir/mosquitto.conf" > "$dir/mosquitto.log" 2>&1 & broker_pid=$!
ulimit -n "$(ulimit -Hn)"
ports=()
start_nodes() {  # $1: sqlite or a postgres:// URL, $2: how many nodes
    ports=()
    for i in $(seq "$2"); do
        local p; p=$(free_port)
        local db=$1; [ "$db" = sqlite ] && db="$dir/herald-$i.sqlite" && rm -f "$db"*
        "$herald" serve --listen "127.0.0.1:$p" --db "$db" --mqtt "mqtt://127.0.0.1:$mport" --log-level warning \
            > "$dir/node-$i.log" 2>&1 &
        nodes+=($!); ports+=("$p")
    done
    for p in "${ports[@]}"; do ready "$p"; done
    sleep 1  # the MQTT session: one node holds it, the others stand by
}
field() { python3 -c 'import json,sys; d=json.loads(sys.stdin.readlines()[-1]); print(d.get(sys.argv[1], "-"))' "$1"; }
batch_ingest() {  # events stored per second through HTTP batches of 100, to every node in turn
    python3 - "$@" <<'PY'
import http.client, json, sys, threading, time
ports = [int(p) for p in sys.argv[1:]]
requests, size, threads = 400, 100, 8
body = json.dumps([{"channel": "bench-batch", "data": {"n": n, "temperature": 21.5}} for n in range(size)])
failed = []
def worker(k):
    conns = {p: http.client.HTTPConnection("127.0.0.1", p, timeout=30) for p in ports}
    for r in range(k, requests, threads):
        c = conns[ports[r % len(ports)]]
        c.request("POST", "/api/events", body, {"Content-Type": "application/json"})
        answer = c.getresponse(); answer.read()
        if answer.status != 200: failed.append(answer.status)
start = time.monotonic()
ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
elapsed = time.monotonic() - start
print(f"{requests * size / elapsed:.0f}" if not failed else f"failed: {failed[:3]}")
PY
}

echo
echo "| herald serve | nodes | HTTP batches of 100, events/s | MQTT QoS 1, messages/s | delivery p50 ms | p99 ms | server CPU per delivery µs |"
echo "|---|---:|---:|---:|---:|---:|---:|"
setups=("sqlite 1" "postgres 1" "postgres 2")
n=0
for setup in "${setups[@]}"; do
    read -r kind count <<< "$setup"
    n=$((n + 1))
    db=sqlite
    if [ "$kind" = postgres ]; then
        PGPASSWORD=bench psql -h 127.0.0.1 -p "$port" -U herald -d postgres -qc "CREATE DATABASE serve$n"
        db="postgres://herald:bench@127.0.0.1:$port/serve$n"
    fi
    start_nodes "$db" "$count"
    batches=$(batch_ingest "${ports[@]}")
    subscriber=${ports[$((count - 1))]} publisher=${ports[0]}
    pids_args=(); for p in "${nodes[@]}"; do pids_args+=(--server-pid "$p"); done
    fanout=$(timeout 300 "$bench" fanout --url "http://127.0.0.1:$subscriber" --publish-url "http://127.0.0.1:$publisher" \
        --clients 200 --events 1000 --rate 100 --timeout 240 "${pids_args[@]}" 2>&1 | tail -n 1)
    ingest=$(timeout 300 "$bench" ingest --url "http://127.0.0.1:$subscriber" --mqtt "mqtt://127.0.0.1:$mport" \
        --messages 20000 --timeout 240 2>&1 | field committed_per_s)
    p50=$(echo "$fanout" | field latency_ms_p50) p99=$(echo "$fanout" | field latency_ms_p99)
    cpu=$(echo "$fanout" | field cpu_us_per_delivery)
    echo "| $kind | $count | $batches | $ingest | $p50 | $p99 | $cpu |"
    stop_nodes
done

# --- 3. herald store copy -------------------------------------------------------------------
# A gateway's SQLite store (200,000 events through HTTP batches, then a clean stop) copied into
# an empty database, as a site moving to several nodes does once.
echo
echo "| herald store copy | events | seconds | events/s |"
echo "|---|---:|---:|---:|"
start_nodes sqlite 1
for _ in 1 2 3 4 5; do batch_ingest "${ports[0]}" > /dev/null; done
stop_nodes
PGPASSWORD=bench psql -h 127.0.0.1 -p "$port" -U herald -d postgres -qc "CREATE DATABASE copied"
began=$(date +%s.%N)
"$herald" store copy --from "$dir/herald-1.sqlite" --to "postgres://herald:bench@127.0.0.1:$port/copied" > "$dir/copy.out"
ended=$(date +%s.%N)
copied=$(sed -n 's/^events: //p' "$dir/copy.out")
python3 -c "import sys; n, s = int(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2]); print(f'| SQLite → PostgreSQL | {n} | {s:.1f} | {n / s:.0f} |')" \
    "$copied" "$began" "$ended"
