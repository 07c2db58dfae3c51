#!/usr/bin/env bash
# Alerts out through a webhook, on Herald's defaults: ALERTS readings that each raise or clear
# one rule's alert are published over HTTP, one after another, to a release Herald whose only
# notify target is a webhook on a loopback receiver (Python's http.server, answering 204). Prints
# how long after Herald took the reading each alert reached the receiver (p50, p99, max), and deliveries per
# second from the first publish to the last receipt. Bounded: at most 5,000 alerts, 120 s.
# Usage: Benchmarks/notify.sh [alerts]   (release build: make release, or swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/.."
alerts=${1:-500}
[[ "$alerts" =~ ^[0-9]+$ ]] && [ "$alerts" -ge 1 ] && [ "$alerts" -le 5000 ] || { echo "alerts must be 1...5000" >&2; exit 2; }
herald=${HERALD_BIN:-.build/release/herald}
[ -x "$herald" ] || swift build -c release --product herald >&2
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port) hook=$(free_port)

# The receiver: one line per delivery, its receipt time in ms and the event's id and time.
cat > "$work/receiver.py" <<'PY'
import json, sys, time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
out = open(sys.argv[2], "w", buffering=1)
class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        now = time.time() * 1000
        stamp = datetime.fromisoformat(body["time"].replace("Z", "+00:00")).timestamp() * 1000
        out.write(f'{body["id"]} {now - stamp:.3f} {now:.3f}\n')
        self.send_response(204); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
PY
python3 "$work/receiver.py" "$hook" "$work/receipts" & pids+=($!)
head -c 32 /dev/urandom | base64 > "$work/secret"
cat > "$work/herald.yaml" <<YAML
alert_rules:
  - { name: bench-hot, channel: sensors, key: bench/temp, field: value, above: 30, clear_below: 29 }
notify:
  - { name: bench, webhook: { url: "http://127.0.0.1:$hook/hook", secret_file: $work/secret } }
YAML
"$herald" serve --config "$work/herald.yaml" --listen "127.0.0.1:$port" --db "$work/herald.sqlite" --mqtt none \
    --log-level warning >"$work/log" 2>&1 & pids+=($!)
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "Herald did not become ready:" >&2; cat "$work/log" >&2; exit 1; }

# Alternating 31 and 28: every reading raises or clears the alert, so each is one delivery.
start=$(python3 -c 'import time; print(time.time() * 1000)')
python3 - "$port" "$alerts" <<'PY'
import sys, urllib.request
port, alerts = sys.argv[1], int(sys.argv[2])
for i in range(alerts):
    body = ('{"type":"reading","key":"bench/temp","data":{"value":%d}}' % (31 if i % 2 == 0 else 28)).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/channels/sensors/events", body, {"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).read()
PY
for _ in $(seq 1200); do [ "$(wc -l < "$work/receipts")" -ge "$alerts" ] && break; sleep 0.1; done
python3 - "$work/receipts" "$alerts" "$start" <<'PY'
import sys
lines = [l.split() for l in open(sys.argv[1])]
alerts, start = int(sys.argv[2]), float(sys.argv[3])
ids = [int(l[0]) for l in lines]
latency = sorted(float(l[1]) for l in lines)
pick = lambda q: latency[min(len(latency) - 1, int(q * len(latency)))]
print(f"{len(lines)} of {alerts} alerts delivered, in id order: {ids == sorted(ids)}, each once: {len(set(ids)) == len(ids)}")
print(f"publish to receipt: p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, max {latency[-1]:.1f} ms")
print(f"throughput: {len(lines) / ((max(float(l[2]) for l in lines) - start) / 1000):.0f} deliveries/s (publishing one at a time over HTTP)")
PY
