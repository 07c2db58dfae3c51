#!/usr/bin/env bash
# Idle footprint of a Herald binary: VmRSS / RssAnon / RssFile after SECONDS idle with no clients,
# and which sections of the binary are resident (from /proc/PID/pagemap; needs root).
# Usage: Scripts/idle-rss.sh [BIN] [MQTT-URL|none] [SECONDS]
#   default BIN: the gateway binary that `make install` builds. WARM=1 keeps the binary's page
#   cache; otherwise it is dropped first (posix_fadvise DONTNEED), as after a boot.
set -euo pipefail
bin=$(realpath "${1:-.build-install/release/herald}")
mqtt=${2:-none}
seconds=${3:-10}
work=$(mktemp -d /tmp/herald-rss.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

[ "${WARM:-0}" = 1 ] || python3 -c 'import os, sys; os.posix_fadvise(os.open(sys.argv[1], os.O_RDONLY), 0, 0, os.POSIX_FADV_DONTNEED)' "$bin"
"$bin" serve --listen 127.0.0.1:0 --db "$work/idle.sqlite" --mqtt "$mqtt" 2>/dev/null & pid=$!
sleep "$seconds"
grep -E 'VmRSS|RssAnon|RssFile' "/proc/$pid/status" | tr -s ' \t' ' ' | tr '\n' ' '; echo

python3 - "$pid" "$bin" <<'PY'
import re, struct, subprocess, sys
pid, path = int(sys.argv[1]), sys.argv[2]
sections = []
for line in subprocess.run(["readelf", "-SW", path], capture_output=True, text=True).stdout.splitlines():
    m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", line)
    if m and int(m.group(2), 16):
        sections.append((int(m.group(2), 16), int(m.group(3), 16), m.group(1)))
resident, base = {}, None
with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
    for line in open(f"/proc/{pid}/maps"):
        fields = line.split()
        if len(fields) < 6 or fields[5] != path:
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if base is None:
            base = start - int(fields[2], 16)      # the first mapping is offset 0 = address 0
        for page in range(start, end, 4096):
            pagemap.seek(page // 4096 * 8)
            if struct.unpack("Q", pagemap.read(8))[0] >> 63:
                address = page - base
                name = next((n for a, size, n in sections if a <= address < a + size), "other")
                resident[name] = resident.get(name, 0) + 4
for name, kb in sorted(resident.items(), key=lambda item: -item[1])[:10]:
    print(f"{kb:8d} KB  {name}")
PY
