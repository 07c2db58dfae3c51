"""httpx + httpx-sse (0.4) as a resuming subscriber. httpx-sse parses and decodes; the
request, Last-Event-ID, the retry wait and the reconnect loop are ours.

Quirks (see README, "Clients"): httpx's default timeout is 5 s for reads too, so a quiet
stream (a keepalive every 15 s) dies with ReadTimeout: Timeout(5, read=45). httpx-sse yields
a block without data as an event with data "" (the spec dispatches nothing): Herald's
`retry: 3000` block comes out as one, and so does every `:keepalive` after the first event,
carrying the previous id again, so events with empty data are skipped here. connect_sse does
not look at the status: a proxy's 502 page surfaces as SSEError (not text/event-stream) when
iterating, and a 204 too.
"""
import time

import httpx
from httpx_sse import SSEError, connect_sse

from record import args

url, rec = args()
last = None
retry = 3.0
with httpx.Client(timeout=httpx.Timeout(5.0, read=45.0)) as client:
    while True:
        headers = {} if last is None else {"Last-Event-ID": last}
        try:
            with connect_sse(client, "GET", url, headers=headers) as source:
                status = source.response.status_code
                if status == 204:
                    rec.end("204: the server says stop")
                    break
                if status != 200:
                    raise RuntimeError(f"HTTP {status} {source.response.headers.get('content-type', '')}")
                rec.open()
                for event in source.iter_sse():
                    if event.retry is not None:
                        retry = event.retry / 1000
                        rec.retry(event.retry)
                    if event.data == "":  # the retry block, keepalives: nothing to dispatch
                        continue
                    last = event.id
                    rec.event(event.id, event.data)
            rec.end("eof")
        except (httpx.HTTPError, SSEError, RuntimeError) as error:
            rec.end(f"{type(error).__name__}: {error}")
        time.sleep(retry)
