#!/usr/bin/env bash
# Reconnect storm, Herald beside nchan (the same setup as Benchmarks/compare.sh: Debian's nginx +
# libnginx-mod-nchan with one worker and a 100-message buffer, Herald on its shipped defaults,
# loopback only). For each size and each server, on a fresh server: 100 events are published to
# one channel, then CLIENTS SSE clients connect at once, each with the Last-Event-ID of the event
# 20 before the head, and every one must receive exactly those 20 events, once and in order.
# Reports clients connected, refused and caught up, the wall time from the first connect to the
# last catch-up, the server's CPU per connect and its peak RSS growth; prints a markdown table.
# Every run is bounded (the storm by 120 s); everything listens on 127.0.0.1 and is stopped at the end.
#
# Usage: Benchmarks/reconnect-storm.sh [CLIENTS...]      (default: 3000 10000)
#        ONLY=nchan|herald Benchmarks/reconnect-storm.sh  one server only
#        HERALD=path BENCH=path                           other binaries (default .build/release/*)
# Results: the JSON lines are kept in $RESULTS (default: /tmp/herald-storm.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(3000 10000)
for n in "${sizes[@]}"; do
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 20000 ] || { echo "CLIENTS must be 1...20000, got '$n'" >&2; exit 2; }
done
[ ${#sizes[@]} -le 6 ] || { echo "at most 6 sizes per run" >&2; exit 2; }
only=${ONLY:-}
case "$only" in
    "") kinds=(nchan herald) ;;
    nchan|herald) kinds=("$only") ;;
    *) echo "ONLY must be nchan or herald" >&2; exit 2 ;;
esac
results=${RESULTS:-/tmp/herald-storm.jsonl}
history=100 behind=20 storm_timeout=120
# The whole script stays under 10 minutes: no run starts after 420 s, and one takes at most 170 s
# (the storm's 120 s, preparing the channel, collecting). A normal run takes seconds.
budget=420
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

# What the storm needs, from Debian, only if missing (libmosquitto-dev: herald-bench links it).
missing=""
for p in nginx libnginx-mod-nchan libmosquitto-dev; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    echo "installing:$missing" >&2
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2
fi
herald=${HERALD:-.build/release/herald}
bench=${BENCH:-.build/release/herald-bench}
[ -x "$bench" ] || swift build -c release --product herald-bench >&2
if [[ " ${kinds[*]} " == *" herald "* ]] && [ ! -x "$herald" ]; then
    [ -z "${HERALD:-}" ] || { echo "no herald binary at $herald" >&2; exit 1; }
    swift build -c release --product herald >&2
fi

BENCH_NAME=storm
source Benchmarks/servers.sh
max=0; for n in "${sizes[@]}"; do [ "$n" -gt "$max" ] && max=$n; done
[ "$(ulimit -n)" -ge $((max + 200)) ] || { echo "the open file limit $(ulimit -n) is too low for $max clients" >&2; exit 1; }

# --- the storms ----------------------------------------------------------------------------
: > "$results"
for clients in "${sizes[@]}"; do
    for kind in "${kinds[@]}"; do
        if [ "$SECONDS" -gt "$budget" ]; then
            echo "== storm: $kind, $clients clients: skipped, the script has run ${SECONDS} s" >&2
            echo "{\"load\":\"storm-$clients\",\"bench\":\"storm\",\"server\":\"$kind\",\"clients\":$clients,\"error\":\"skipped\"}" >> "$results"
            continue
        fi
        echo "== storm: $kind, $clients clients at once, each resuming $behind of $history events behind" >&2
        if [ "$kind" = nchan ]; then start_nchan; else start_herald; fi
        status=0
        timeout 170 "$bench" storm --server "$kind" --url "http://127.0.0.1:$port" --server-pid "$measured_pid" \
            --clients "$clients" --history "$history" --behind "$behind" --timeout "$storm_timeout" \
            > "$work/last.out" 2> "$work/last.err" || status=$?
        if [ "$status" = 0 ]; then
            head -n -1 "$work/last.out" >&2
            tail -n 1 "$work/last.out" | sed "s/^{/{\"load\":\"storm-$clients\",/" >> "$results"
        else
            cat "$work/last.out" "$work/last.err" >&2
            echo "{\"load\":\"storm-$clients\",\"bench\":\"storm\",\"server\":\"$kind\",\"clients\":$clients,\"error\":$status}" >> "$results"
        fi
        if ! kill -0 "$server_pid" 2>/dev/null; then echo "$kind exited during the storm" >&2; fi
        # A crash's report: its first lines, without the backtrace's address map.
        if [ "$kind" = herald ] && [ -s "$work/herald.log" ]; then echo "herald's log:" >&2; grep -v '^0x' "$work/herald.log" | head -n 40 >&2; fi
        if [ "$kind" = nchan ] && [ -s "$work/nginx/nginx-error.log" ]; then echo "nginx's error log:" >&2; tail -n 5 "$work/nginx/nginx-error.log" >&2; fi
        stop_server
    done
done

# --- the table -----------------------------------------------------------------------------
python3 - "$results" <<'EOF'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
runs = {}
for r in rows:
    runs.setdefault(r["clients"], {})[r["server"]] = r

def num(v, digits=0):
    return "n/a" if v is None else f"{v:,.{digits}f}" if isinstance(v, float) else f"{v:,}"

def ratio(h, n, key):
    a, b = h.get(key), n.get(key)
    return "n/a" if a is None or not b else f"{a / b:.2f}×"

def mib(r):
    v = r.get("rss_peak_delta_kib")
    return None if v is None else v / 1024

print(f"Reconnect storm: each client resumes {rows[0].get('behind', 20) if rows else 20} events behind "
      f"the head of a {rows[0].get('history', 100) if rows else 100}-event channel with Last-Event-ID (loopback, "
      f"{os.cpu_count()} cores shared with the load generator)")
print()
print("| clients at once | server | connected | refused / other failures | caught up | first connect → last caught up | "
      "server CPU per connect | peak RSS growth | lost / dup / out of order |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
for clients in sorted(runs):
    servers = runs[clients]
    for name, label in (("nchan", "nchan"), ("herald", "Herald")):
        r = servers.get(name)
        if r is None:
            continue
        if "error" in r:
            why = "skipped (time budget)" if r["error"] == "skipped" else f"run failed (exit {r['error']})"
            print(f"| {clients:,} | {label} | {why} | | | | | | |")
            continue
        wall = r.get("wall_s")
        print(f"| {clients:,} | {label} | {num(r['connected'])} | {num(r['refused'])} / {num(r['failed'] - r['refused'])} | "
              f"{num(r['caught_up'])} | {'n/a' if wall is None else f'{wall:.2f} s'} | "
              f"{num(r.get('cpu_us_per_connect'))} µs | {num(mib(r), 1)} MiB | "
              f"{r['lost']} / {r['duplicated']} / {r['out_of_order']} |")
    h, n = servers.get("herald"), servers.get("nchan")
    if h and n and "error" not in h and "error" not in n:
        rss = "n/a" if not mib(n) or mib(h) is None else f"{mib(h) / mib(n):.2f}×"
        print(f"| {clients:,} | Herald / nchan | | | | {ratio(h, n, 'wall_s')} | {ratio(h, n, 'cpu_us_per_connect')} | {rss} | |")
odd = [r for r in rows if "error" not in r and (r["refused"] or r["failed"] or r["caught_up"] < r["clients"]
       or r["before_resume_point"] or r["other_frames"] or r["lost"] or r["duplicated"] or r["out_of_order"])]
for r in odd:
    print(f"\nnote: {r['server']} at {r['clients']:,}: refused {r['refused']} ({r['refused_statuses']}), "
          f"no stream {r['failed']} ({r.get('failures', '?')}), "
          f"caught up {r['caught_up']}, events at or before the resume point {r['before_resume_point']}, "
          f"other data frames {r['other_frames']}, lost {r['lost']}, duplicated {r['duplicated']}, "
          f"out of order {r['out_of_order']}")
for r in rows:
    if r.get("listen_overflows"):
        print(f"\nnote: {r['server']} at {r['clients']:,}: {r['listen_overflows']} listen queue overflows on the host "
              f"(SYNs dropped and retried by the clients' kernels)")
EOF
