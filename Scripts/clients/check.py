"""Checks every subscriber's record (Scripts/clients/record.py's lines) against the events
Herald stored, and prints the table: client × path → got/expected, duplicates, out of order,
reconnects, and the longest time from a stream's end to the next open; then how each stream
ended, counted. Exit 1 if any subscriber missed an event, got
one twice, out of order or not stored, or an envelope did not match its id; or if an answered
publish is not among the stored events.

Usage: check.py STORED_IDS ACKS RECORD...   (a record is named CLIENT__PATH.rec)
"""
import collections
import os
import re
import sys

stored_file, acks_file, *records = sys.argv[1:]
stored = [int(line) for line in open(stored_file) if line.strip()]
stored_set = set(stored)
acked = [int(line.split()[2]) for line in open(acks_file) if line.startswith("ack ")]
problems = []
lost_acks = [i for i in acked if i not in stored_set]
if lost_acks:
    problems.append(f"answered publishes not stored: {lost_acks[:10]}")

rows, endings = [], {}
for path in records:
    client, where = os.path.basename(path)[:-len(".rec")].split("__")
    ids, opens, bad, ends = [], 0, 0, collections.Counter()
    up, down_since, outage = False, None, 0.0   # the longest time from a stream's end to the next open
    for line in open(path):
        kind, _, rest = line.rstrip("\n").partition(" ")
        if kind == "id":
            ids.append(int(rest.split()[0]))
        elif kind == "open":
            opens += 1
            if down_since is not None:
                outage = max(outage, float(rest.split()[0]) - down_since)
            up, down_since = True, None
        elif kind == "bad":
            bad += 1
        elif kind == "end":
            if up:
                up, down_since = False, float(rest.split()[0])
            why = rest.split(" ", 1)[1] if " " in rest else ""
            # one kind of ending per line: addresses, ports and times folded (errnos, statuses kept)
            why = re.sub(r"https?://\S+", "URL", why)
            why = re.sub(r"\b\d{4,}(\.\d+)*\b", "N", why)
            ends[why[:90]] += 1
    seen = set(ids)
    dups = len(ids) - len(seen)
    disorder = sum(1 for a, b in zip(ids, ids[1:]) if b <= a)
    got = len(seen & stored_set)
    extra = len(seen - stored_set)
    ok = got == len(stored) and dups == 0 and disorder == 0 and extra == 0 and bad == 0
    if not ok:
        missing = sorted(stored_set - seen)
        problems.append(f"{client} via {where}: missing {missing[:10]}{'…' if len(missing) > 10 else ''}, "
                        f"{dups} duplicates, {disorder} out of order, {extra} not stored, {bad} bad envelopes")
    rows.append((client, where, f"{got}/{len(stored)}", dups, disorder, max(opens - 1, 0), f"{outage:.1f}",
                 "ok" if ok else "FAIL"))
    endings[(client, where)] = ends

order = {"direct": 0, "nginx": 1, "haproxy": 2}
rows.sort(key=lambda r: (r[0], order.get(r[1], 9)))
print("| client | path | got/expected | duplicates | out of order | reconnects | longest outage (s) | |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(str(x) for x in r) + " |")
print()
print("How the streams ended (count × reason), per subscriber:")
for (client, where), ends in sorted(endings.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))):
    print(f"  {client} via {where}: " + "; ".join(f"{n}× {why}" for why, n in ends.most_common()))
print()
print(f"{len(stored)} events stored on the channel, {len(acked)} publishes answered")
for p in problems:
    print("FAIL:", p)
sys.exit(1 if problems else 0)
