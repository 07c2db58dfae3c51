"""sseclient-py (1.9) as a resuming subscriber: it only parses a byte stream, so the HTTP
request (urllib3, as its README shows), the status and type checks, Last-Event-ID and the
reconnect loop are all ours.

Quirks (see README, "Clients"): a block without data is never dispatched, so Herald's
`retry: 3000` (sent in a block of its own) never reaches the application: we wait 3 s, the
spec's and Herald's value. Event.id is None for an event without `id:` (the spec keeps the
last one), so the last id is kept here. urllib3 has no read timeout by default (a dead peer
hangs forever) and retries connects by itself; we set read=45 s (three keepalives) and
retries=False.
"""
import time

import sseclient
import urllib3

from record import args

url, rec = args()
http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=45), retries=False)
last = None
retry = 3.0
while True:
    headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
    if last is not None:
        headers["Last-Event-ID"] = last
    resp = None
    try:
        resp = http.request("GET", url, headers=headers, preload_content=False)
        kind = resp.headers.get("Content-Type", "")
        if resp.status == 204:
            rec.end("204: the server says stop")
            break
        if resp.status != 200 or not kind.startswith("text/event-stream"):
            raise RuntimeError(f"HTTP {resp.status} {kind}")
        rec.open()
        for event in sseclient.SSEClient(resp).events():
            if event.retry:
                retry = int(event.retry) / 1000
                rec.retry(event.retry)
            if event.id is not None:
                last = event.id
            rec.event(event.id, event.data)
        rec.end("eof")
    except Exception as error:  # every failure: wait, then resume from the last id
        rec.end(f"{type(error).__name__}: {error}")
    finally:
        if resp is not None:
            resp.close()
    time.sleep(retry)
