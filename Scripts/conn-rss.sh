#!/usr/bin/env bash
# RSS and server CPU per connection of a fresh Herald, by what the connections did: `bare` (accepted, nothing
# sent), `healthz` (one request served, then idle), `sse` (an idle event stream). Plain Python
# sockets, so the client's own costs stay out of it. Loopback only; the server is started here
# and stopped at the end.
#
# Usage: Scripts/conn-rss.sh [BINARY] [CONNECTIONS] [MODE ...]
#        Scripts/conn-rss.sh .build/release/herald 2000 bare healthz sse
set -euo pipefail
bin=${1:-.build/release/herald}
count=${2:-2000}
shift $(( $# > 2 ? 2 : $# ))
modes=${*:-bare healthz sse}
ulimit -n "$(ulimit -Hn)"

for mode in $modes; do
    work=$(mktemp -d /tmp/herald-conn-rss.XXXXXX)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$bin" serve --listen "127.0.0.1:$port" --db "$work/herald.sqlite" --mqtt none \
        --log-level warning > "$work/herald.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
    python3 - "$port" "$count" "$mode" "$pid" <<'EOF'
import os, socket, sys, time
port, count, mode, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
requests = {
    "bare": b"",
    "healthz": b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "sse": b"GET /sse?channel=bench HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n",
}
def rss_kib():
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
def cpu_seconds():  # utime + stime
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
time.sleep(0.5)
before = rss_kib()
cpu_before = cpu_seconds()
sockets = []
for n in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    if requests[mode]:
        s.sendall(requests[mode])
    sockets.append(s)
    if n % 100 == 99:
        time.sleep(0.02)
time.sleep(3)
for s in sockets:  # take what the server sent, so that no send buffer counts
    s.setblocking(False)
    try:
        s.recv(65536)
    except BlockingIOError:
        pass
time.sleep(1)
after = rss_kib()
cpu = cpu_seconds() - cpu_before
print(f"{mode:8} {count} connections: RSS {before} -> {after} KiB, {(after - before) / count:.2f} KiB per connection, "
      f"server CPU {cpu * 1e6 / count:.0f} µs per connection")
EOF
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$work"
done
