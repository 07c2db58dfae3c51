"""The matrix's publisher: POSTs COUNT events to BASE/api/channels/CHANNEL/events, one every
SPACING_MS, each {"data": {"seq": n}}. A refused or broken request is tried again every 100 ms
(Herald may be restarting) until it is answered, for at most DEADLINE seconds in all. Writes
"ack SEQ ID T" for every answered publish to OUT, so the caller can follow the progress.

Usage: publish.py BASE CHANNEL COUNT SPACING_MS DEADLINE OUT
"""
import http.client
import json
import sys
import time
from urllib.parse import urlsplit

base, channel, count, spacing, deadline, out = sys.argv[1:7]
count, spacing, deadline = int(count), int(spacing) / 1000, time.time() + float(deadline)
where = urlsplit(base)
log = open(out, "a", buffering=1)
conn = None
failures = 0
next_at = time.time()
for seq in range(1, count + 1):
    next_at = max(next_at + spacing, time.time())
    while True:
        if time.time() > deadline:
            sys.exit(f"publish: deadline passed at seq {seq} ({failures} failed attempts)")
        try:
            if conn is None:
                conn = http.client.HTTPConnection(where.hostname, where.port, timeout=5)
            conn.request("POST", f"/api/channels/{channel}/events", json.dumps({"data": {"seq": seq}}),
                         {"Content-Type": "application/json"})
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status} {body[:100]!r}")
            log.write(f"ack {seq} {json.loads(body)['id']} {time.time():.6f}\n")
            break
        except (OSError, http.client.HTTPException, RuntimeError, ValueError, KeyError):
            failures += 1
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.1)
    time.sleep(max(0.0, next_at - time.time()))
print(f"publish: {count} events, {failures} failed attempts retried", file=sys.stderr)
