#!/usr/bin/env bash
# GET /api/series on a week of one reading every 10 s (60,480 rows) into 500 points, on
# Herald's defaults: the store is made by `herald serve` itself, the rows are added with
# sqlite3 while it is stopped, and each request is timed by curl against the running server.
# Usage: Benchmarks/series.sh [requests]   (release build: make release, or swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-20}
herald=${HERALD_BIN:-.build/release/herald}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_herald() {
    "$herald" serve --listen "127.0.0.1:$port" --db "$work/herald.sqlite" --mqtt none --log-level warning >"$work/log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
    echo "Herald did not become ready:" >&2; cat "$work/log" >&2; exit 1
}
start_herald; kill "$pid"; wait "$pid" || true
now=$(($(date +%s) * 1000))
week=$((7 * 24 * 3600 * 1000))
sqlite3 "$work/herald.sqlite" <<SQL
INSERT OR IGNORE INTO channels(name) VALUES ('sensors');
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 60479)
INSERT INTO events(channel, type, key, time, data)
SELECT 'sensors', 'reading', 'bench/room/temperature', $now - $week + i * 10000,
       json_object('value', 20 + 5 * sin(i / 500.0), 'unit', '°C') FROM n;
SQL
start_herald
url="http://127.0.0.1:$port/api/series?channel=sensors&key=bench/room/temperature&from=$((now - week))&to=$now&points=500"
points=$(curl -sf "$url" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["points"]), sum(p["n"] for p in d["points"]))')
echo "buckets, readings counted: $points (of 60480)"
for _ in $(seq "$requests"); do curl -sf -o /dev/null -w '%{time_total}\n' "$url"; done | sort -n |
    awk '{ t[NR] = $1 * 1000 } END { printf "GET /api/series, a week into 500 points, %d requests: median %.1f ms, max %.1f ms\n", NR, t[int((NR + 1) / 2)], t[NR] }'
