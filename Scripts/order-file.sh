#!/usr/bin/env bash
# Regenerates Scripts/herald-hot.ld: where the gateway binary's code goes. Two lists, each laid
# out by lld ahead of .text: first `.text.idle`, the code an idle Herald keeps running (timers,
# keepalives, the watchdog loop, MQTT pings, retention), then `.text.start`, what only start-up,
# the broker connection and a health check ran. StartUpPages unmaps everything a few seconds
# after start; what faults back in is then the idle list, a few contiguous pages, instead of
# 64 KB windows spread over 30 MB (the kernel maps file pages 64 KB at a time around a touch).
# Run it after changes that alter start-up or the idle loops; stale entries match nothing and are
# ignored, so a missed run costs memory, never correctness.
# Needs valgrind (callgrind sees every instruction executed, however rarely). Loopback only;
# bounded (about two minutes). KEEP=1 keeps the profiles in /tmp/herald-order.*. The binary it
# leaves is the profiling link; `make install` links the real one.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "order-file: apt-get install valgrind" >&2; exit 1; }
[ -e Scripts/herald-hot.ld ] || echo "/* empty */" > Scripts/herald-hot.ld   # the link names it
make --no-print-directory gateway-binary GATEWAY_SECTIONS= >&2   # see the Makefile
work=$(mktemp -d /tmp/herald-order.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT

# valgrind 3.19 cannot read Swift's DWARF 5: profile a copy without debug info (symbols stay).
strip --strip-debug -o "$work/herald" .build-install/release/herald
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mport=$(free_port); hport=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n%s\n' "$mport" "$([ "$(id -u)" = 0 ] && echo 'user root')" > "$work/mosquitto.conf"
/usr/sbin/mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 & pids+=($!)

# Under systemd the watchdog loop runs every WATCHDOG_USEC/2: give it a socket path (nobody
# listens; the loop's code runs all the same) and a short period.
NOTIFY_SOCKET="$work/notify" WATCHDOG_USEC=2000000 \
valgrind --tool=callgrind --demangle=no --dump-instr=yes --compress-pos=no --compress-strings=no \
    --callgrind-out-file="$work/callgrind.out" \
    "$work/herald" serve --listen "127.0.0.1:$hport" --db "$work/herald.sqlite" --mqtt "mqtt://127.0.0.1:$mport" \
    > "$work/herald.log" 2>&1 & hpid=$!; pids+=($hpid)
for _ in $(seq 120); do curl -fs "http://127.0.0.1:$hport/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fs "http://127.0.0.1:$hport/healthz" >/dev/null || { cat "$work/herald.log" >&2; exit 1; }
# Where valgrind loaded the (position-independent) binary, first mapping to last: some addresses
# in the profile are run-time addresses (see below), which the link map's lack.
span=$(awk -v f="$work/herald" '$6 == f { split($1, a, "-"); if (!first) first = a[1]; last = a[2] }
    END { if (first) print first, last }' "/proc/$hpid/maps")
[ -n "$span" ] || { echo "order-file: $work/herald not mapped in valgrind's process" >&2; exit 1; }
# Start-up profile, before StartUpPages' release (3 s after listening): what runs from the
# release on is what faults back in, so it belongs to the idle list. Each dump restarts the counters.
callgrind_control --dump=startup "$hpid" >/dev/null 2>&1
sleep 65  # idle: date cache, SSE keepalive (15 s), watchdog, MQTT pings, one retention pass (60 s)
callgrind_control --dump=idle "$hpid" >/dev/null 2>&1   # idle profile; shutdown is neither
kill -TERM "$hpid"; wait "$hpid" || true
startup=$(find "$work" -name 'callgrind.out*.1' | head -1)
idle=$(find "$work" -name 'callgrind.out*.2' | head -1)
[ -n "$startup" ] && [ -n "$idle" ] || { echo "order-file: dumps missing in $work" >&2; ls "$work" >&2; exit 1; }

# Every instruction address in a profile (--dump-instr) is looked up in the link map of the
# profiled binary; the input sections that hold them (one per function, thanks to
# -function-sections; whole .text for the few objects built without) are listed by object file.
# The idle profile (the second dump; each dump restarts the counters) makes `.text.idle`; what
# only the start-up profile ran makes `.text.start`. Patterns name the object
# machine-independently: "*/GRDB.build/Row.swift.o", "*libswiftCore.a:Swift.o"; section names are
# quoted, as Swift's contain '$'.
python3 - "$idle" "$startup" .build-install/herald.map $span <<'PY'
import bisect, re, sys
idle_profile, startup_profile, link_map = sys.argv[1:4]
base, end = (int(x, 16) for x in sys.argv[4:6])
sections = []
for line in open(link_map):
    m = re.match(r"\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+(\S+):\((\.text[^)]*)\)$", line)
    if m:
        sections.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3), m.group(4)))
sections.sort()
starts = [s[0] for s in sections]

def executed(profile):
    """Indexes of the sections holding an executed instruction, in profile order."""
    found, rebased = {}, False
    for line in open(profile):
        if line.startswith("ob="):
            # valgrind knows the binary's `.text` as "herald" and reports link addresses; code in
            # the output sections this script adds comes as "???", at run-time addresses.
            rebased = line.strip() == "ob=???"
        elif line.startswith("0x"):
            address = int(line.split()[0], 16)
            if rebased:
                if not base <= address < end:
                    continue
                address -= base
            i = bisect.bisect_right(starts, address) - 1
            if i >= 0 and address < sections[i][0] + sections[i][1]:
                found.setdefault(i, None)
    return list(found)

def pattern(i):
    _, _, obj, section = sections[i]
    m = re.match(r".*/([^/]+\.a)\((.*)\)$", obj)
    name = f"*{m.group(1)}:{m.group(2)}" if m else "*/" + "/".join(obj.split("/")[-2:])
    return f'    {name}("{section}")'

idle = executed(idle_profile)
startup = [i for i in executed(startup_profile) if i not in set(idle)]
with open("Scripts/herald-hot.ld", "w") as out:
    out.write("/* Generated by Scripts/order-file.sh: the code an idle Herald keeps running, then the code\n"
              "   only its start-up ran, each in one place. */\n")
    out.write("SECTIONS {\n  .text.idle : {\n" + "\n".join(map(pattern, idle)) + "\n  }\n"
              "  .text.start : {\n" + "\n".join(map(pattern, startup)) + "\n  }\n} INSERT BEFORE .text;\n")
for name, part in (("idle", idle), ("start-up", startup)):
    size = sum(sections[i][1] for i in part)
    print(f"Scripts/herald-hot.ld: {name}: {len(part)} sections, {size / 1e6:.2f} MB of code", file=sys.stderr)
PY
