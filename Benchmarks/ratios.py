#!/usr/bin/env python3
"""Reads herald-bench JSON lines (from compare.sh) and prints Herald / nchan side by side,
then Herald's own figures and the issue's targets. Prints figures only; asserts nothing."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
by_load = {}
for row in rows:
    by_load.setdefault(row.get("load", row["bench"]), {})[row.get("server", "herald")] = row


def fmt(value, digits=2):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def ratio(h, n):
    if h is None or n is None or n == 0:
        return "n/a"
    return f"{h / n:.2f}x"


metrics = [
    ("cpu_us_per_delivery", "server CPU per delivery (µs)"),
    ("latency_ms_p50", "latency p50 (ms)"),
    ("latency_ms_p99", "latency p99 (ms)"),
    ("latency_ms_max", "latency max (ms)"),
    ("deliveries_per_s", "deliveries per second"),
    ("rss_per_conn_kib", "RSS per idle connection (KiB)"),
    ("connect_ms_p99", "connect p99 (ms)"),
    ("cpu_us_per_connect", "server CPU per connect (µs)"),
    ("held", "connections held"),
]
print("Herald / nchan, same load, same machine (2 cores shared with the load generator)")
print(f"{'load':<9} {'metric':<31} {'nchan':>12} {'herald':>12} {'ratio':>7}")
for load, servers in by_load.items():
    if "nchan" not in servers or "herald" not in servers:
        continue
    n, h = servers["nchan"], servers["herald"]
    desc = f"{h['clients']} clients, {h['events']} events at {h['rate']}/s" + (f", {h['drop']} drop+resume" if h["drop"] else "")
    print(f"{load:<9} {desc}")
    for key, label in metrics:
        print(f"{'':<9} {label:<31} {fmt(n.get(key)):>12} {fmt(h.get(key)):>12} {ratio(h.get(key), n.get(key)):>7}")
    for server, row in (("nchan", n), ("herald", h)):
        print(f"{'':<9} {server + ': lost / duplicated / out of order':<31} "
              f"{row['lost']} / {row['duplicated']} / {row['out_of_order']} (closed by server {row['unexpected_closes']})")

print()
print("Herald only")
for load, servers in by_load.items():
    if "nchan" in servers:
        continue
    row = servers.get("herald")
    if not row:
        continue
    if row["bench"] == "ingest":
        print(f"  MQTT ingest (QoS 1, one connection): {fmt(row.get('committed_per_s'), 0)} messages/s committed, "
              f"lost {row['lost']}, duplicated {row['duplicated']}, out of order {row['out_of_order']}")
    elif row["bench"] == "replay":
        print(f"  replay from id 0 over {row['events']:,} events: {fmt(row.get('replay_per_s'), 0)} events/s, "
              f"{fmt(row.get('cpu_us_per_event'))} µs server CPU per event, lost {row['lost']}, "
              f"duplicated {row['duplicated']}, out of order {row['out_of_order']}")
    else:
        print(f"  {load}: {row['clients']} clients, {row['events']} events at {row['rate']}/s over {row['publish']}: "
              f"p50 {fmt(row.get('latency_ms_p50'))} ms, p99 {fmt(row.get('latency_ms_p99'))} ms, "
              f"{fmt(row.get('cpu_us_per_delivery'))} µs CPU per delivery, lost {row['lost']}, "
              f"duplicated {row['duplicated']}, out of order {row['out_of_order']}")


def get(load, server, key):
    return by_load.get(load, {}).get(server, {}).get(key)


def target(name, value, limit, better="lower", unit=""):
    if value is None:
        print(f"  {name:<52} n/a")
        return
    met = value <= limit if better == "lower" else value >= limit
    print(f"  {name:<52} {value:,.2f}{unit} (target {'≤' if better == 'lower' else '≥'} {limit:,}{unit}) "
          f"{'met' if met else 'MISSED'}")


def rel(load, key):
    h, n = get(load, "herald", key), get(load, "nchan", key)
    return None if h is None or not n else h / n


print()
print("Targets (issue 8)")
def size(load):
    row = by_load.get(load, {}).get("herald", {})
    return f"{row.get('clients', '?')} clients, {row.get('rate', '?')}/s"


target(f"CPU per delivery, {size('cpu')} (x nchan)", rel("cpu", "cpu_us_per_delivery"), 1.0, unit="x")
target(f"p99 latency, {size('p99-1k')} (x nchan)", rel("p99-1k", "latency_ms_p99"), 1.0, unit="x")
target(f"p99 latency, {size('p99-5k')} (x nchan)", rel("p99-5k", "latency_ms_p99"), 0.5, unit="x")
target(f"RSS per idle connection, {get('hold-10k', 'herald', 'clients')} clients (KiB)",
       get("hold-10k", "herald", "rss_per_conn_kib"), 10, unit=" KiB")
target("connections held (of 10,000 wanted)", get("hold-10k", "herald", "held"), 10000, better="higher")
target("MQTT ingest, committed messages/s", get("ingest", "herald", "committed_per_s"), 40000, better="higher")
target("replay to one client, events/s", get("replay", "herald", "replay_per_s"), 200000, better="higher")
bad = sum(r["lost"] + r["duplicated"] + r["out_of_order"] for r in rows if r.get("server") == "herald")
print(f"  {'Herald lost + duplicated + out of order, all runs':<52} {bad} (target 0) {'met' if bad == 0 else 'MISSED'}")
