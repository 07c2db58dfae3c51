#!/usr/bin/env bash
# `make run`: Herald with live data. Starts a loopback mosquitto on 1883 unless one already
# answers there, then Herald and the demo feed; Ctrl-C stops what this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/debug/herald
state=$(mktemp -d /tmp/herald-run.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$state"
}
trap cleanup EXIT INT TERM

if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
    printf 'listener 1883 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\n' "$state" > "$state/mosquitto.conf"
    /usr/sbin/mosquitto -c "$state/mosquitto.conf" > "$state/mosquitto.log" 2>&1 &
    pids+=($!)
    echo "started mosquitto on 127.0.0.1:1883 (log: $state/mosquitto.log)"
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && break; sleep 0.1; done
fi

# ./herald.yaml when you have one; otherwise a demo configuration with alert rules on device
# readings and stale plain sensors, so the dashboard shows all it can. The device sources need no
# configuration: they are on by default.
if [ -f herald.yaml ]; then
    config=(--config herald.yaml)
else
    cat > "$state/demo.yaml" <<'YAML'
routes:
  - { topic: "sensors/+/+", channel: sensors, type: reading, key: "{1}/{2}", stale_after: 30s }
  - { topic: "jobs/+/progress", channel: jobs, kind: job, key: "{1}" }
  - { topic: "alerts/#", channel: alerts, kind: alert, key: "{#}" }
alert_rules:
  - { name: greenhouse-hot, channel: sensors, key: homeassistant/greenhouse/temperature, field: value, above: 30, clear_below: 29, severity: warning }
  - { name: power-peak, channel: sensors, key: tasmota/tasmota_5C3A1F/power, field: value, above: 2500, clear_below: 2000, severity: critical }
YAML
    config=(--config "$state/demo.yaml")
fi
"$bin" serve "${config[@]}" &
pids+=($!)
for _ in $(seq 100); do curl -fsS http://127.0.0.1:8080/healthz >/dev/null 2>&1 && break; sleep 0.1; done
"$bin" demo > "$state/demo.log" 2>&1 &
pids+=($!)

cat <<MSG

Herald is running with a demo feed.
  dashboard:  http://127.0.0.1:8080/
  stream:     curl -N http://127.0.0.1:8080/sse
  tail:       $bin tail sensors
Ctrl-C stops it.
MSG
wait -n "${pids[@]}"
