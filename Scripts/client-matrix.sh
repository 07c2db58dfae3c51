#!/usr/bin/env bash
# Third-party SSE clients against Herald, directly and through nginx and HAProxy, while Herald
# restarts and connections drop (issue 21, item 8). Not part of `make test`.
#
#   Scripts/client-matrix.sh [HERALD_BINARY]   (default: .build/release/herald, else .build/debug/herald)
#
# Each client (sseclient-py, httpx-sse, aiohttp-sse-client, curl; Scripts/clients/) × each
# path (direct, nginx, HAProxy) is a subscriber of /sse?channel=matrix that resumes by itself
# with the last id it saw. While EVENTS events (default 300) are published, one every
# SPACING_MS (100), three faults happen, each after a quarter of them:
#   1. every established connection of Herald's port is destroyed (`ss -K`: a reset to each
#      direct client and to each proxy's upstream connection), Herald keeps running;
#   2. Herald is restarted: SIGTERM, RESTART_GAP seconds (8) down, then started again on the
#      same port and database (meanwhile a direct connect is refused, nginx answers 502 and
#      HAProxy 503);
#   3. nginx and HAProxy are restarted: SIGTERM (both close every connection at once), started
#      again on the same ports.
# Then every subscriber must have every stored id of the channel exactly once and in order;
# the table says got/expected, duplicates, out of order and reconnects. Then a latency check:
# LAT_EVENTS events (50) LAT_SPACING_MS apart (50), receive minus publish time, direct vs
# nginx vs HAProxy with and without `option http-no-delay`.
#
# Needs python3 (a venv in .build-clients/venv, rebuilt when Scripts/clients/requirements.txt
# changes), nginx and haproxy (installed from Debian when missing), curl, ss. Everything on
# 127.0.0.1, free ports, a temporary folder (KEEP=1 keeps it); every process it started is
# stopped by pid on exit; the whole run is cut off after LIMIT seconds (280). Exit 1 if any
# subscriber missed, doubled or reordered an event.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started_at=$SECONDS
limit=${LIMIT:-280}
events=${EVENTS:-300}
spacing=${SPACING_MS:-100}
gap=${RESTART_GAP:-8}   # Herald stays down past retry: 3000 and HAProxy's connect retries (3 × 1 s): reconnects meet refusals, 502 and 503

herald_src=${1:-}
if [ -z "$herald_src" ]; then
    if [ -x .build/release/herald ]; then herald_src=.build/release/herald; else herald_src=.build/debug/herald; fi
fi
[ -x "$herald_src" ] || { echo "no herald binary at $herald_src (swift build first)" >&2; exit 2; }

# --- what it needs ---------------------------------------------------------------------------
missing=""
for p in nginx haproxy curl iproute2; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    echo "installing:$missing" >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2 ||
        { $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2; }
fi
venv=.build-clients/venv
requirements=Scripts/clients/requirements.txt
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
    echo "building $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" >&2
    cp "$requirements" "$venv/requirements.txt"
fi
py=$root/$venv/bin/python
export PYTHONDONTWRITEBYTECODE=1   # no __pycache__ in Scripts/clients

# --- bookkeeping -----------------------------------------------------------------------------
work=$(mktemp -d /tmp/herald-clients.XXXXXX)
pids=()            # subscribers, publisher, watchdog
herald_pid="" nginx_pid="" haproxy_pid="" haproxy2_pid=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    for pid in "${pids[@]}" $herald_pid $nginx_pid $haproxy_pid $haproxy2_pid; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}" $herald_pid $nginx_pid $haproxy_pid $haproxy2_pid; do
        wait "$pid" 2>/dev/null || true
    done
    if [ -n "${KEEP:-}" ] || [ "$status" != 0 ]; then echo "work folder kept: $work" >&2; else rm -rf "$work"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo "stopped (signal or time limit)" >&2; exit 124' INT TERM
( trap 'kill $! 2>/dev/null; exit 0' TERM
  sleep "$limit" & wait $!
  echo "client-matrix: over ${limit} s, stopping" >&2; kill -TERM $$ ) &
pids+=($!)
say() { printf '[%3ds] %s\n' $((SECONDS - started_at)) "$*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # $1 port: up to 10 s
    for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done
    echo "nothing listens on 127.0.0.1:$1" >&2; exit 1
}
stop_pid() {  # $1 pid: SIGTERM, up to 10 s, then SIGKILL
    kill -TERM "$1" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# A copy, so that a build overwriting .build/ during the run cannot change what is restarted.
cp "$herald_src" "$work/herald"
"$work/herald" --help >/dev/null
hport=$(free_port) nport=$(free_port) aport=$(free_port) a2port=$(free_port)

start_herald() {
    # The shipped defaults (retry: 3000, a keepalive every 15 s, replay 100), no MQTT.
    "$work/herald" serve --listen "127.0.0.1:$hport" --db "$work/herald.sqlite" --mqtt none \
        --log-level notice >> "$work/herald.log" 2>&1 &
    herald_pid=$!
    wait_port "$hport"
}
start_nginx() {
    mkdir -p "$work/nginx"
    sed -e "s|@WORK@|$work/nginx|g" -e "s|@PORT@|$nport|g" -e "s|@HERALD@|127.0.0.1:$hport|g" \
        -e "s|@USER@|$([ "$(id -u)" = 0 ] && echo 'user root;')|" Scripts/proxies/nginx.conf.in > "$work/nginx/nginx.conf"
    nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" >> "$work/nginx/stdout.log" 2>&1 &
    nginx_pid=$!
    wait_port "$nport"
}
haproxy_config() {  # $1 folder, $2 port, $3 "nodelay" or "default"
    mkdir -p "$1"
    local nodelay='option http-no-delay               # each event to the client at once'
    [ "$3" = nodelay ] || nodelay='# (option http-no-delay left out: the latency comparison)'
    sed -e "s|@WORK@|$1|g" -e "s|@PORT@|$2|g" -e "s|@HERALD@|127.0.0.1:$hport|g" \
        -e "s|@NODELAY@|$nodelay|" Scripts/proxies/haproxy.cfg.in > "$1/haproxy.cfg"
    haproxy -c -q -f "$1/haproxy.cfg"
}
start_haproxy() {
    haproxy -db -f "$work/haproxy/haproxy.cfg" >> "$work/haproxy/stdout.log" 2>&1 &
    haproxy_pid=$!
    wait_port "$aport"
}

start_herald
start_nginx
haproxy_config "$work/haproxy" "$aport" nodelay
start_haproxy
say "herald $herald_src on 127.0.0.1:$hport, nginx $(nginx -v 2>&1 | sed 's|.*/||') on $nport, haproxy $(haproxy -v | awk 'NR==1{print $3}') on $aport; work folder $work"

# --- subscribers -----------------------------------------------------------------------------
declare -A base=([direct]="http://127.0.0.1:$hport" [nginx]="http://127.0.0.1:$nport" [haproxy]="http://127.0.0.1:$aport")
clients=(sseclient-py httpx-sse aiohttp-sse-client curl)
records=()
for client in "${clients[@]}"; do
    for path in direct nginx haproxy; do
        rec="$work/${client}__${path}.rec"; : > "$rec"; records+=("$rec")
        url="${base[$path]}/sse?channel=matrix"
        case $client in
            sseclient-py) cmd=("$py" Scripts/clients/sub_sseclient.py) ;;
            httpx-sse) cmd=("$py" Scripts/clients/sub_httpx.py) ;;
            aiohttp-sse-client) cmd=("$py" Scripts/clients/sub_aiohttp.py) ;;
            curl) cmd=(Scripts/clients/sub_curl.sh) ;;
        esac
        "${cmd[@]}" "$url" "$rec" > "$rec.log" 2>&1 &   # a simple command, so $! is the subscriber itself
        pids+=($!)
    done
done
# Each must be open before the first event: a first connection without Last-Event-ID gets the
# recent replay, which would hide nothing here, but "every event" should mean live delivery too.
for _ in $(seq 300); do
    open=0; for rec in "${records[@]}"; do grep -q '^open' "$rec" && open=$((open + 1)); done
    [ "$open" = "${#records[@]}" ] && break; sleep 0.1
done
[ "$open" = "${#records[@]}" ] || { echo "only $open of ${#records[@]} subscribers connected" >&2; exit 1; }
say "${#records[@]} subscribers open"

# --- publish, with the faults ----------------------------------------------------------------
acks=$work/acks
: > "$acks"
python3 Scripts/clients/publish.py "http://127.0.0.1:$hport" matrix "$events" "$spacing" 150 "$acks" 2> "$work/publish.log" &
publisher=$!; pids+=("$publisher")
acked() { grep -c '^ack' "$acks" || true; }
wait_acked() { while [ "$(acked)" -lt "$1" ]; do kill -0 "$publisher" 2>/dev/null || break; sleep 0.05; done; }

wait_acked $((events / 4))
n=$(ss -Htn state established "( sport = :$hport )" | wc -l)
ss -K state established "( sport = :$hport )" > /dev/null 2>&1   # (it prints "RTNETLINK answers: Invalid argument" even when it worked)
say "fault 1 after $(acked) events: destroyed Herald's $n established connections (ss -K)"

wait_acked $((events / 2))
t0=$SECONDS; stop_pid "$herald_pid"; sleep "$gap"; start_herald
say "fault 2 after $(acked) events: Herald restarted (SIGTERM, ${gap} s down, same port and db; back after $((SECONDS - t0)) s)"

wait_acked $((events * 3 / 4))
stop_pid "$nginx_pid"; start_nginx
stop_pid "$haproxy_pid"; start_haproxy
say "fault 3 after $(acked) events: nginx and HAProxy restarted (SIGTERM)"

wait "$publisher" || { echo "the publisher failed: $(cat "$work/publish.log")" >&2; exit 1; }
say "published $(acked) events ($(cat "$work/publish.log"))"

# --- wait for everyone to catch up, then check -----------------------------------------------
curl -sf "http://127.0.0.1:$hport/api/events?channel=matrix&after=0&limit=10000" |
    python3 -c 'import json,sys; print("\n".join(str(e["id"]) for e in json.load(sys.stdin)["events"]))' > "$work/stored"
head_id=$(tail -n 1 "$work/stored")
for _ in $(seq 600); do   # up to 60 s
    behind=0; for rec in "${records[@]}"; do grep -q "^id $head_id " "$rec" || behind=$((behind + 1)); done
    [ "$behind" = 0 ] && break; sleep 0.1
done
say "caught up: $(( ${#records[@]} - behind )) of ${#records[@]} subscribers have id $head_id"
matrix_status=0
python3 Scripts/clients/check.py "$work/stored" "$acks" "${records[@]}" || matrix_status=1

# Through each proxy, a browser's write (Origin: the proxy's own origin) must pass Herald's
# cross-site check: nginx has to pass the Host it was asked by.
for path in nginx haproxy; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Origin: ${base[$path]}" -H 'Content-Type: application/json' \
        -d '{"data":{"from":"a browser"}}' "${base[$path]}/api/channels/origin-check/events")
    echo "a same-origin browser write through $path: HTTP $code"
    [ "$code" = 200 ] || matrix_status=1
done

# --- latency: direct vs nginx vs HAProxy with and without option http-no-delay ---------------
haproxy_config "$work/haproxy2" "$a2port" default
haproxy -db -f "$work/haproxy2/haproxy.cfg" >> "$work/haproxy2/stdout.log" 2>&1 &
haproxy2_pid=$!
wait_port "$a2port"
echo
echo "Latency, ${LAT_EVENTS:-50} events ${LAT_SPACING_MS:-50} ms apart (receive minus publish; publishes go to Herald directly):"
"$py" Scripts/clients/latency.py "http://127.0.0.1:$hport" latency "${LAT_EVENTS:-50}" "${LAT_SPACING_MS:-50}" \
    "direct=${base[direct]}/sse?channel=latency&replay=0" \
    "nginx=${base[nginx]}/sse?channel=latency&replay=0" \
    "haproxy http-no-delay=${base[haproxy]}/sse?channel=latency&replay=0" \
    "haproxy default=http://127.0.0.1:$a2port/sse?channel=latency&replay=0"

say "done"
exit "$matrix_status"
