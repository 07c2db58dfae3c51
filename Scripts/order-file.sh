#!/usr/bin/env bash
# Regenerates Scripts/herald.order: the functions the gateway binary runs while it starts, connects
# to a broker, answers a health check and idles. `make install` lets lld place them first, so an idle
# Herald touches a few contiguous megabytes of code instead of pages spread over 30 MB (the kernel
# maps file pages 64 KB at a time around every touch). Run it after changes that alter start-up;
# stale names are ignored by the linker, so a missed run costs memory, never correctness.
# Needs valgrind (callgrind lists every function executed, however rarely). Loopback only; bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "order-file: apt-get install valgrind" >&2; exit 1; }
touch Scripts/herald.order   # the link names it; empty the first time
make --no-print-directory gateway-binary >&2
work=$(mktemp -d /tmp/herald-order.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# valgrind 3.19 cannot read Swift's DWARF 5: profile a copy without debug info (symbols stay).
strip --strip-debug -o "$work/herald" .build-install/release/herald
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mport=$(free_port); hport=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n%s\n' "$mport" "$([ "$(id -u)" = 0 ] && echo 'user root')" > "$work/mosquitto.conf"
/usr/sbin/mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 & pids+=($!)

valgrind --tool=callgrind --demangle=no --dump-instr=no --callgrind-out-file="$work/callgrind.out" \
    "$work/herald" serve --listen "127.0.0.1:$hport" --db "$work/herald.sqlite" --mqtt "mqtt://127.0.0.1:$mport" \
    > "$work/herald.log" 2>&1 & hpid=$!; pids+=($hpid)
for _ in $(seq 120); do curl -fs "http://127.0.0.1:$hport/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fs "http://127.0.0.1:$hport/healthz" >/dev/null || { cat "$work/herald.log" >&2; exit 1; }
sleep 15   # idle: keepalive timer, watchdog loop, retention, MQTT pings
kill -TERM "$hpid"; wait "$hpid" || true

# Every function named in the profile (fn= and cfn= lines; names are given once, then by number),
# in order of first appearance, keeping only those defined in the binary.
nm --defined-only "$work/herald" | awk '{print $3}' | sort -u > "$work/defined"
python3 - "$work/callgrind.out" "$work/defined" > Scripts/herald.order <<'PY'
import re, sys
defined = set(open(sys.argv[2]).read().split())
names, seen, by_number = [], set(), {}
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"c?fn=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
    if not m:
        continue
    number, name = m.groups()
    if name:
        by_number[number] = name
    name = by_number.get(number)
    if name in defined and name not in seen:
        seen.add(name)
        names.append(name)
print("\n".join(names))
PY
echo "Scripts/herald.order: $(wc -l < Scripts/herald.order) functions" >&2
