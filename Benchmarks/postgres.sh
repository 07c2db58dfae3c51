#!/usr/bin/env bash
# The event log on PostgreSQL beside SQLite, in process (herald-bench store): appends per second
# with 8 concurrent publishers, single events (as MQTT sends them) and batches of 100 (as an HTTP
# batch), SQLite and PostgreSQL with one node and two; then, with two PostgreSQL nodes, the time
# from an append on node A to node B handing the event on (what a remote event adds before the hub).
# Both logs on their shipped settings: SQLite WAL with synchronous=NORMAL, PostgreSQL 15 as Debian
# ships it (fsync on, synchronous_commit on), a private cluster on a free loopback port in a
# temporary folder, stopped and removed at the end.
#
# Usage: Benchmarks/postgres.sh [APPENDS]      (default 5000 per measurement; 1...200000)
#        BENCH=path                             another herald-bench (default .build/release/herald-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
appends=${1:-5000}
[[ "$appends" =~ ^[0-9]+$ ]] && [ "$appends" -ge 1 ] && [ "$appends" -le 200000 ] || { echo "APPENDS must be 1...200000" >&2; exit 2; }
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
dpkg -s postgresql >/dev/null 2>&1 || { $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
bench=${BENCH:-.build/release/herald-bench}
[ -n "${BENCH:-}" ] || swift build -c release --product herald-bench >&2
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

dir=$(mktemp -d /tmp/herald-pg-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pid=""
cleanup() { [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; rm -rf "$dir"; }
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
