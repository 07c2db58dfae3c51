#!/usr/bin/env bash
# CPU per delivery of local fan-out, two Herald binaries in turn (A B A B …): the same
# herald-bench load against each, a fresh server on its defaults (SQLite in a temporary
# folder, no MQTT) per run, so a change can be checked for what it costs the one-node path.
# Prints each run's figures, then the medians and the median of the ratios A/B taken pair by
# pair (the machine's speed drifts; pairs taken together cancel most of it).
#
# Usage: Benchmarks/fanout-ab.sh HERALD_A [HERALD_B]   (B: .build/release/herald)
#        an older commit's binary: git worktree add /tmp/herald-old REV &&
#        (cd /tmp/herald-old && swift build -c release --product herald), then A is
#        /tmp/herald-old/.build/release/herald
#        PAIRS=5 CLIENTS=1000 EVENTS=2000 RATE=200 Benchmarks/fanout-ab.sh …   (these defaults)
# Everything listens on 127.0.0.1 only, each run is bounded in count and time, and every
# process started here is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
a=$(realpath "${1:?usage: Benchmarks/fanout-ab.sh HERALD_A [HERALD_B]}")
b=$(realpath "${2:-.build/release/herald}")
pairs=${PAIRS:-5} clients=${CLIENTS:-1000} events=${EVENTS:-2000} rate=${RATE:-200}
[ -x .build/release/herald-bench ] || swift build -c release --product herald-bench >&2
bench=.build/release/herald-bench
herald=$a
BENCH_NAME=fanout-ab
source Benchmarks/servers.sh

field() { python3 -c 'import json,sys; d=json.loads(sys.stdin.readlines()[-1]); print(d.get(sys.argv[1], "-"))' "$1"; }
: > "$work/runs"
echo "| pair | build | CPU per delivery µs | delivery p50 ms | p99 ms |"
echo "|---:|---|---:|---:|---:|"
for pair in $(seq "$pairs"); do
    for side in A B; do
        herald=$([ "$side" = A ] && echo "$a" || echo "$b")
        start_herald none
        out=$(timeout 300 "$bench" fanout --clients "$clients" --events "$events" --rate "$rate" --timeout 240 \
            --server herald --url "http://127.0.0.1:$port" --server-pid "$measured_pid" 2>/dev/null | tail -n 1)
        stop_server
        cpu=$(echo "$out" | field cpu_us_per_delivery)
        echo "| $pair | $side | $cpu | $(echo "$out" | field latency_ms_p50) | $(echo "$out" | field latency_ms_p99) |"
        echo "$pair $side $cpu" >> "$work/runs"
    done
done
python3 - "$work/runs" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    pair, side, cpu = line.split()
    runs.setdefault(pair, {})[side] = float(cpu)
a = [r["A"] for r in runs.values()]; b = [r["B"] for r in runs.values()]
ratios = [r["A"] / r["B"] for r in runs.values()]
print(f"\nmedian CPU per delivery: A {statistics.median(a):.2f} µs, B {statistics.median(b):.2f} µs; "
      f"median of the pairs' A/B {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
PY
