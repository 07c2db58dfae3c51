#!/usr/bin/env bash
# The audit's replay scenario: EVENTS stored events, then STREAMS clients that each ask for
# `replay=100000` and never read. Prints Herald's RSS before, its peak while the streams wait,
# and how many were cut off (stall_timeout_seconds, default 30 s); Herald runs on its defaults.
# Loopback only; the server is started here and stopped at the end.
#
# Usage: Scripts/replay-rss.sh [BINARY] [STREAMS] [EVENTS]
#        Scripts/replay-rss.sh .build/release/herald 64 100000
set -euo pipefail
bin=${1:-.build/release/herald}
streams=${2:-64}
events=${3:-100000}
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d /tmp/herald-replay-rss.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --listen "127.0.0.1:$port" --db "$work/herald.sqlite" --mqtt none --log-level warning > "$work/herald.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
python3 - "$port" "$pid" "$streams" "$events" <<'PY'
import json, socket, sys, time, urllib.request
port, pid, streams, events = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
base = f"http://127.0.0.1:{port}"
def rss():
    return int(next(l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")).split()[1])
batch = 10_000
for start in range(0, events, batch):
    body = json.dumps([{"channel": "history", "data": {"n": n, "pad": "0123456789abcdef" * 2}}
                       for n in range(start, min(events, start + batch))]).encode()
    urllib.request.urlopen(urllib.request.Request(base + "/api/events", data=body,
                           headers={"Content-Type": "application/json"}), timeout=60).read()
time.sleep(1)
before = rss()
clients = []
for _ in range(streams):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /sse?channel=history&replay=100000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    clients.append(s)
peak, deadline, dropped, slowest = before, time.time() + 120, 0, 0.0
while time.time() < deadline:
    peak = max(peak, rss())
    asked = time.time()
    metrics = urllib.request.urlopen(base + "/metrics", timeout=60).read().decode()
    slowest = max(slowest, time.time() - asked)
    dropped = int(float(next(l.split()[-1] for l in metrics.splitlines() if l.startswith("herald_subscribers_dropped_total"))))
    if dropped >= streams:
        break
    time.sleep(0.2)
print(f"{streams} streams x replay=100000 over {events} events: RSS {before / 1024:.1f} MB before, "
      f"peak {peak / 1024:.1f} MB (+{(peak - before) / streams:.0f} KB per stream); {dropped} cut off; "
      f"slowest /metrics meanwhile {slowest:.1f} s")
PY
