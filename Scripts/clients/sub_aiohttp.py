"""aiohttp + aiohttp-sse-client (0.2.1) as a resuming subscriber. This library is the only one
of the three with an EventSource of its own: it sends Last-Event-Id, honours retry: and
reconnects by itself, but only when a stream ends cleanly, and only once per failure.

Quirks (see README, "Clients"): aiohttp's ClientSession has a 300 s total timeout, which ends
every stream after five minutes: ClientTimeout(total=None, sock_connect=5, sock_read=45). The
library doubles the wait before each reconnect (6 s after `retry: 3000`). A reconnect that is
refused or answered 502/503 (a proxy while Herald restarts) raises ConnectionError out of the
iteration and the EventSource is closed for good, and a connection reset mid-stream raises
ClientPayloadError: so an outer loop makes a new EventSource, handing it the last id as a
Last-Event-Id header (a new EventSource starts with no id of its own).
"""
import asyncio
from datetime import timedelta

import aiohttp
from aiohttp_sse_client import client as sse_client

from record import args

url, rec = args()


async def main():
    last = None
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=45)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            headers = {} if last is None else {"Last-Event-Id": last}
            try:
                async with sse_client.EventSource(
                        url, session=session, headers=headers,
                        reconnection_time=timedelta(seconds=3), max_connect_retry=0,
                        on_open=rec.open, on_error=lambda: rec.end("on_error")) as source:
                    async for event in source:
                        last = event.last_event_id
                        rec.event(event.last_event_id, event.data)
                rec.end("eof")
            except ConnectionAbortedError as error:  # a status other than 200 below 400, or not text/event-stream
                rec.end(f"{type(error).__name__}: {error}")
                if "status: 204" in str(error):     # the spec's "stop reconnecting" (a finished job's stream)
                    break
            except (ConnectionError, aiohttp.ClientError, asyncio.TimeoutError) as error:
                rec.end(f"{type(error).__name__}: {error}")
            await asyncio.sleep(3)


asyncio.run(main())
