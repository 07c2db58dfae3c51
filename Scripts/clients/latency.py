"""Per-event latency through each path: readers on every STREAM URL at once (channel
CHANNEL, replay=0), then COUNT events published directly to BASE, SPACING_MS apart, each
carrying the time it was sent; prints receive time minus send time per path (p50, p90, max)
and each path's p50 minus the first path's (the first is meant to be direct).

Usage: latency.py BASE CHANNEL COUNT SPACING_MS NAME=STREAM_URL...
"""
import http.client
import json
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit

base, channel, count, spacing, *streams = sys.argv[1:]
count, spacing = int(count), int(spacing) / 1000
paths = [s.split("=", 1) for s in streams]
delays = {name: [] for name, _ in paths}
ready = threading.Barrier(len(paths) + 1)


def read(name, url):
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    conn.request("GET", f"{where.path}?{where.query}", headers={"Accept": "text/event-stream"})
    resp = conn.getresponse()
    assert resp.status == 200, (name, resp.status)
    resp.readline()  # "retry: 3000": the stream is open
    ready.wait()
    while len(delays[name]) < count:
        line = resp.readline()
        if not line:
            break
        if line.startswith(b"data:"):
            now = time.time()
            delays[name].append((now - json.loads(line[5:])["data"]["sent"]) * 1000)


threads = [threading.Thread(target=read, args=p, daemon=True) for p in paths]
for t in threads:
    t.start()
ready.wait(timeout=10)
time.sleep(0.2)
where = urlsplit(base)
conn = http.client.HTTPConnection(where.hostname, where.port, timeout=5)
for n in range(count):
    sent = time.time()
    conn.request("POST", f"/api/channels/{channel}/events", json.dumps({"data": {"n": n, "sent": sent}}),
                 {"Content-Type": "application/json"})
    conn.getresponse().read()
    time.sleep(max(0.0, spacing - (time.time() - sent)))
for t in threads:
    t.join(timeout=5)

first = None
print(f"{'path':<28} {'events':>6} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8} {'p50 - ' + paths[0][0]:>16}")
for name, _ in paths:
    d = sorted(delays[name])
    if not d:
        print(f"{name:<28} {0:>6}")
        continue
    p50 = statistics.median(d)
    p90 = d[min(len(d) - 1, int(len(d) * 0.9))]
    first = p50 if first is None else first
    print(f"{name:<28} {len(d):>6} {p50:>8.1f} {p90:>8.1f} {d[-1]:>8.1f} {p50 - first:>+16.1f}")
