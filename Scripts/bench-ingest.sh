#!/usr/bin/env bash
# MQTT ingest rate: messages from the broker committed as events per second.
# Two figures: "backlog" (N messages queued at the broker while Herald is away, then Herald
# starts and drains them) and "live" (mosquitto_pub streams N messages while Herald runs).
# FEED=plain (default): {"n", "value"} on sensors/bench/…, one event per message (a default route).
# FEED=zigbee2mqtt: a Zigbee2MQTT climate sensor's state of five readings on zigbee2mqtt/bench/…
#   (the built-in source, with bridge/devices retained), five reading events per message.
# Usage: [FEED=plain|zigbee2mqtt] [INFLIGHT=20] [HERALD=path/to/herald] Scripts/bench-ingest.sh [N]
#   (release build; Herald on its defaults; loopback only; bounded by N and a timeout)
# INFLIGHT is the broker's max_inflight_messages (mosquitto's default: 20): how many unacknowledged
# messages it sends ahead, so the most one read burst (one commit) can hold.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-50000}
inflight=${INFLIGHT:-20}
bin=${HERALD:-.build/release/herald}
[ -x "$bin" ] || swift build -c release >&2
work=$(mktemp -d /tmp/herald-bench.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mport=$(free_port); hport=$(free_port)
{
    echo "listener $mport 127.0.0.1"; echo "allow_anonymous true"; echo "persistence false"
    echo "max_queued_messages 0"; echo "max_inflight_messages $inflight"
    [ "$(id -u)" = 0 ] && echo "user root"
} > "$work/mosquitto.conf"
/usr/sbin/mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 & pids+=($!)
sleep 0.5
feed=${FEED:-plain}
case "$feed" in
    plain)
        python3 -c "import json; [print(json.dumps({'n': i, 'value': 20 + i % 10 / 10})) for i in range($n)]" > "$work/lines"
        prefix=sensors/bench; channel=sensors; per_message=1
        last_key() { echo "bench/$1"; }; last_mark="\"n\": $((n - 1)),"
        ;;
    zigbee2mqtt)
        # As Zigbee2MQTT sends a WSDCGQ11LM's state; voltage counts the messages, so the last one is known.
        python3 -c "[print('{\"battery\":97,\"humidity\":%.1f,\"linkquality\":%d,\"temperature\":%.1f,\"voltage\":%d}' % (40 + i % 100 / 10, 100 + i % 50, 20 + i % 10 / 10, i)) for i in range($n)]" > "$work/lines"
        prefix=zigbee2mqtt/bench; channel=sensors; per_message=5
        last_key() { echo "zigbee2mqtt/bench/$1/voltage"; }; last_mark="\"value\":$((n - 1))"
        ;;
    *) echo "FEED must be plain or zigbee2mqtt" >&2; exit 2 ;;
esac

start_herald() {
    "$bin" serve --listen "127.0.0.1:$hport" --db "$work/herald.sqlite" --mqtt "mqtt://127.0.0.1:$mport" --log-level warning \
        > "$work/herald.log" 2>&1 &
    hpid=$!; pids+=($hpid)
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$hport/readyz" >/dev/null 2>&1 && return; sleep 0.05; done
    echo "herald did not become ready" >&2; cat "$work/herald.log" >&2; exit 1
}
wait_for() {  # until the last message of run $1 is stored; at most 120 s
    local deadline=$((SECONDS + 120))
    until curl -fs "http://127.0.0.1:$hport/api/events?channel=$channel&key=$(last_key "$1")&limit=1" | grep -q "$last_mark"; do
        [ $SECONDS -lt $deadline ] || { echo "timeout" >&2; exit 1; }
        sleep 0.05
    done
}
now() { date +%s.%N; }

cpu_ticks() { awk '{print $14 + $15}' "$1/stat"; }  # user + system, in clock ticks (1/100 s)
broker_pid=${pids[0]}

# The publisher alone, to a topic nobody subscribes to: what the live figure cannot exceed here.
t0=$(now); mosquitto_pub -h 127.0.0.1 -p "$mport" -t nobody/listens -q 1 -l < "$work/lines"; t1=$(now)
publisher=$(python3 -c "print(round($n / ($t1 - $t0)))")

# Backlog: register the persistent session, stop Herald, queue N messages, start and time the drain.
if [ "$feed" = zigbee2mqtt ]; then
    devices='[{"friendly_name":"bench/backlog","type":"EndDevice","definition":{"model":"WSDCGQ11LM","vendor":"Aqara","exposes":[{"property":"temperature","type":"numeric","unit":"°C"},{"property":"humidity","type":"numeric","unit":"%"},{"property":"battery","type":"numeric","unit":"%"},{"property":"voltage","type":"numeric","unit":"mV"},{"property":"linkquality","type":"numeric","unit":"lqi"}]}}]'
    mosquitto_pub -h 127.0.0.1 -p "$mport" -t zigbee2mqtt/bridge/devices -q 1 -r -m "$devices"
fi
start_herald; kill "$hpid"; wait "$hpid" 2>/dev/null || true
mosquitto_pub -h 127.0.0.1 -p "$mport" -t "$prefix/backlog" -q 1 -l < "$work/lines"
broker0=$(cpu_ticks "/proc/$broker_pid")
t0=$(now); start_herald; wait_for backlog; t1=$(now)
backlog=$(python3 -c "print(round($n / ($t1 - $t0)))")
# Where the drain's CPU went: Herald's busiest threads (the writer, the MQTT thread) and the broker.
threads=$(for task in /proc/$hpid/task/*; do cpu_ticks "$task"; done | sort -rn | head -3 | \
    awk -v n="$n" '{printf "%s%.1f", (NR > 1 ? ", " : ""), $1 * 10000 / n}')
broker_us=$(python3 -c "print(round(($(cpu_ticks "/proc/$broker_pid") - $broker0) * 10000 / $n, 1))")

# Live: Herald running, mosquitto_pub streaming.
t0=$(now)
mosquitto_pub -h 127.0.0.1 -p "$mport" -t "$prefix/live" -q 1 -l < "$work/lines"
wait_for live; t1=$(now)
live=$(python3 -c "print(round($n / ($t1 - $t0)))")

printf 'MQTT ingest (%s), QoS 1, %d messages, broker in-flight window %d: backlog drain %s msg/s, live %s msg/s (committed)\n' \
    "$feed" "$n" "$inflight" "$backlog" "$live"
[ "$per_message" = 1 ] || printf '  events committed: %d per message, backlog %s events/s, live %s events/s\n' \
    "$per_message" "$((backlog * per_message))" "$((live * per_message))"
printf '  publisher alone (no subscriber): %s msg/s\n' "$publisher"
printf '  CPU per message during the drain: Herald'"'"'s three busiest threads %s µs, broker %s µs\n' "$threads" "$broker_us"
printf '{"bench":"ingest","feed":"%s","messages":%d,"events_per_message":%d,"inflight":%d,"backlog_per_s":%s,"live_per_s":%s,"publisher_alone_per_s":%s}\n' \
    "$feed" "$n" "$per_message" "$inflight" "$backlog" "$live" "$publisher"
