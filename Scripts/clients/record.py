"""What a subscriber saw, one line per happening, for Scripts/clients/check.py.

    open T             a 200 text/event-stream answer began (first one, then each reconnect)
    id N T             an event with id N was handed to the application at time T
    bad N T WHY        an event whose data is not Herald's envelope for id N
    retry MS           the client library reported the server's retry: field
    end T WHY          the stream or a connection attempt ended (WHY: eof, an exception, a status)
"""
import json
import sys
import time


class Record:
    def __init__(self, path):
        self.file = open(path, "a", buffering=1)

    def _write(self, line):
        self.file.write(line + "\n")

    def open(self):
        self._write(f"open {time.time():.6f}")

    def event(self, event_id, data):
        now = time.time()
        try:
            ok = json.loads(data).get("id") == int(event_id)
        except (ValueError, TypeError, AttributeError):
            ok = False
        if ok:
            self._write(f"id {event_id} {now:.6f}")
        else:
            self._write(f"bad {event_id} {now:.6f} {data[:80]!r}")

    def retry(self, ms):
        self._write(f"retry {ms}")

    def end(self, why):
        why = " ".join(str(why).split())[:200]
        self._write(f"end {time.time():.6f} {why}")


def args():
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} STREAM_URL RECORD_FILE")
    return sys.argv[1], Record(sys.argv[2])
