#!/usr/bin/env bash
# Bounded mixed load against a private mosquitto and Herald on free loopback ports (not in `make test`).
#
#   make soak                      10 minutes; SOAK_SECONDS=60 make soak for a short run
#   make chaos                     the same load while Herald is SIGKILLed and restarted every few seconds
#
# HTTP publishes (numbered), QoS 1 MQTT messages (numbered) and a subscriber that resumes with
# Last-Event-ID. Every SAMPLE_SECONDS it prints Herald's RSS and open fds, the rates, the delivery
# latency (HTTP publish to SSE, p50/p99 of the interval; mqtt_p99 is from building a mosquitto_pub
# batch, so it includes that tool's start-up) and reconnects; at the end it checks loss and duplicates:
# every answered HTTP publish and every MQTT message stored exactly once, and the subscriber saw
# every stored event. Exits non-zero when something was lost or doubled.
#
# Environment: SOAK_SECONDS (600), SAMPLE_SECONDS (10), HTTP_RATE and MQTT_RATE (per second, 200 and
# 200), CHAOS=1 (kill loop; CHAOS_MIN/CHAOS_MAX seconds between kills, 2 and 8), HERALD_BIN (default:
# the release build if there is one, else the debug build), KEEP=1 keeps the work folder.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${HERALD_BIN:-}" ]; then
    if [ -x .build/release/herald ]; then HERALD_BIN=.build/release/herald; else HERALD_BIN=.build/debug/herald; fi
fi
[ -x "$HERALD_BIN" ] || { echo "no herald binary at $HERALD_BIN (swift build first)" >&2; exit 2; }
for tool in /usr/sbin/mosquitto /usr/bin/mosquitto_pub python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (make deps)" >&2; exit 2; }
done
export HERALD_BIN
WORK=$(mktemp -d /tmp/herald-soak.XXXXXX)
export WORK
echo "soak: $HERALD_BIN, work folder $WORK, ${SOAK_SECONDS:-600} s, chaos=${CHAOS:-0}"
status=0
python3 - <<'PY' || status=$?
import http.client, json, os, random, signal, socket, subprocess, sys, threading, time

WORK = os.environ["WORK"]
BIN = os.environ["HERALD_BIN"]
SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
SAMPLE = float(os.environ.get("SAMPLE_SECONDS", "10"))
HTTP_RATE = float(os.environ.get("HTTP_RATE", "200"))
MQTT_RATE = float(os.environ.get("MQTT_RATE", "200"))
CHAOS = os.environ.get("CHAOS", "0") == "1"
CHAOS_MIN = float(os.environ.get("CHAOS_MIN", "2"))
CHAOS_MAX = float(os.environ.get("CHAOS_MAX", "8"))

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

started = []  # every process this script started; stopped by pid only

def spawn(args, log):
    p = subprocess.Popen(args, stdout=open(log, "ab"), stderr=subprocess.STDOUT, cwd=os.getcwd())
    started.append(p)
    return p

def wait_http(port, path, want=200, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2); c.request("GET", path)
            if c.getresponse().status == want: return True
        except OSError: pass
        time.sleep(0.05)
    return False

mport, hport = free_port(), free_port()
os.makedirs(f"{WORK}/mosquitto", exist_ok=True)
with open(f"{WORK}/mosquitto.conf", "w") as f:
    f.write(f"listener {mport} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {WORK}/mosquitto/\nautosave_interval 1\nmax_queued_messages 1000000\n")
    if os.getuid() == 0: f.write("user root\n")
broker = spawn(["/usr/sbin/mosquitto", "-c", f"{WORK}/mosquitto.conf"], f"{WORK}/mosquitto.log")
with open(f"{WORK}/herald.yaml", "w") as f:
    f.write("mqtt: { client_id: herald-soak, keepalive_seconds: 5 }\n")
herald_args = [BIN, "serve", "--listen", f"127.0.0.1:{hport}", "--db", f"{WORK}/herald.sqlite",
               "--mqtt", f"mqtt://127.0.0.1:{mport}", "--config", f"{WORK}/herald.yaml"]
herald = spawn(herald_args, f"{WORK}/herald.log")
if not wait_http(hport, "/readyz"): sys.exit("herald did not become ready; see " + WORK + "/herald.log")

lock = threading.Lock()
stop = threading.Event()
acked = {}              # id -> seq of answered HTTP publishes
http_failed = 0
mqtt_sent = 0
received = []           # ids in arrival order
latencies = {"soak": [], "sensors": []}  # delivery latency in seconds this interval, by channel
reconnects = resets = kills = 0

def http_publisher():
    global http_failed
    conn, seq, interval = None, 0, 1.0 / HTTP_RATE
    while not stop.is_set():
        t0 = time.time()
        body = json.dumps({"data": {"seq": seq, "t": t0}})
        try:
            if conn is None: conn = http.client.HTTPConnection("127.0.0.1", hport, timeout=5)
            conn.request("POST", "/api/channels/soak/events", body, {"Content-Type": "application/json"})
            r = conn.getresponse(); answer = r.read()
            if r.status == 200:
                with lock: acked[json.loads(answer)["id"]] = seq
            else:
                with lock: http_failed += 1
        except (OSError, http.client.HTTPException):
            # Never resend: a request Herald committed before a kill would be stored twice.
            conn = None
            with lock: http_failed += 1
            time.sleep(0.05)
        seq += 1
        time.sleep(max(0, interval - (time.time() - t0)))

def mqtt_publisher():
    global mqtt_sent
    n = 0
    while not stop.is_set():
        t0 = time.time()
        count = max(1, int(MQTT_RATE))
        lines = "".join(json.dumps({"m": n + i, "t": time.time()}) + "\n" for i in range(count))
        try:
            p = subprocess.run(["/usr/bin/mosquitto_pub", "-h", "127.0.0.1", "-p", str(mport), "-t", "sensors/soak/m",
                                "-q", "1", "-l"], input=lines.encode(), timeout=60, capture_output=True)
        except subprocess.TimeoutExpired:
            sys.exit("mosquitto_pub hung for 60 s; see " + WORK + "/mosquitto.log")
        if p.returncode == 0:
            n += count
            with lock: mqtt_sent = n
        time.sleep(max(0, 1 - (time.time() - t0)))

def subscriber():
    global reconnects, resets
    last = "0"
    while not stop.is_set() or time.time() < drain_until:
        try:
            c = http.client.HTTPConnection("127.0.0.1", hport, timeout=5)
            c.request("GET", "/sse?channel=soak&channel=sensors&replay=0", headers={"Last-Event-ID": last})
            r = c.getresponse()
            event = None
            for raw in r:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("id: "): last = line[4:]
                elif line.startswith("event: "): event = line[7:]
                elif line.startswith("data: ") and event:
                    now = time.time()
                    if event == "$reset":
                        with lock: resets += 1
                    elif event in ("soak", "sensors"):
                        env = json.loads(line[6:])
                        with lock:
                            received.append(env["id"])
                            t = env["data"].get("t") if isinstance(env["data"], dict) else None
                            if t: latencies[event].append(now - t)
                elif line == "": event = None
                if stop.is_set() and time.time() >= drain_until: break
        except (OSError, http.client.HTTPException, ValueError):
            pass
        with lock: reconnects += 1
        time.sleep(0.1)

def chaos():
    global herald, kills
    while not stop.wait(random.uniform(CHAOS_MIN, CHAOS_MAX)):
        herald.send_signal(signal.SIGKILL); herald.wait()
        kills += 1
        herald = spawn(herald_args, f"{WORK}/herald.log")
        wait_http(hport, "/healthz")

def proc(pid, what):
    try:
        if what == "rss":
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"): return int(line.split()[1]) // 1024
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError: return -1

drain_until = float("inf")
threads = [threading.Thread(target=f, daemon=True) for f in (http_publisher, mqtt_publisher, subscriber)]
if CHAOS: threads.append(threading.Thread(target=chaos, daemon=True))
for t in threads: t.start()
start = time.time()
print(f"{'time':>6} {'rss_mb':>7} {'fds':>5} {'http/s':>7} {'mqtt':>8} {'recv/s':>7} {'p50_ms':>7} {'p99_ms':>8} {'mqtt_p99':>9} {'reconn':>6} {'kills':>5}", flush=True)
prev_acked = prev_recv = 0
try:
    while time.time() - start < SECONDS:
        time.sleep(min(SAMPLE, max(0.1, SECONDS - (time.time() - start))))
        with lock:
            lat = sorted(latencies["soak"]); mlat = sorted(latencies["sensors"])
            latencies["soak"].clear(); latencies["sensors"].clear()
            a, r, m = len(acked), len(received), mqtt_sent
        p50 = lat[len(lat) // 2] * 1000 if lat else float("nan")
        p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan")
        mp99 = mlat[int(len(mlat) * 0.99)] * 1000 if mlat else float("nan")
        print(f"{time.time() - start:6.0f} {proc(herald.pid, 'rss'):7} {proc(herald.pid, 'fd'):5} "
              f"{(a - prev_acked) / SAMPLE:7.0f} {m:8} {(r - prev_recv) / SAMPLE:7.0f} {p50:7.1f} {p99:8.1f} {mp99:9.1f} {reconnects:6} {kills:5}", flush=True)
        prev_acked, prev_recv = a, r
finally:
    stop.set()
drain_until = time.time() + 15

def all_events(channel):
    events, after = [], 0
    while True:
        c = http.client.HTTPConnection("127.0.0.1", hport, timeout=30)
        c.request("GET", f"/api/events?channel={channel}&after={after}&limit=10000")
        batch = json.loads(c.getresponse().read())["events"]
        events += batch
        if len(batch) < 10000: return events
        after = batch[-1]["id"]

ok = True
try:
    wait_http(hport, "/readyz", seconds=30)
    for t in threads[:2]: t.join(timeout=70)
    deadline = time.time() + 30
    while time.time() < deadline and len(all_events("sensors")) < mqtt_sent: time.sleep(0.5)
    soak, sensors = all_events("soak"), all_events("sensors")
    stored = {e["id"]: e["data"]["seq"] for e in soak}
    lost_http = [i for i, seq in acked.items() if stored.get(i) != seq]
    seqs = [e["data"]["seq"] for e in soak]
    doubled_http = len(seqs) - len(set(seqs))
    ms = [e["data"]["m"] for e in sensors]
    lost_mqtt = mqtt_sent - len(set(m for m in ms if m < mqtt_sent))
    doubled_mqtt = len(ms) - len(set(ms))
    stored_ids = {e["id"] for e in soak + sensors}
    while time.time() < drain_until and not stored_ids <= set(received): time.sleep(0.2)
    with lock: got = list(received)
    missed = len(stored_ids - set(got))
    doubled_sse = len(got) - len(set(got))
    ordered = got == sorted(got)
    print(f"\nhttp: {len(acked)} answered, {http_failed} failed/unanswered, {len(lost_http)} answered but not stored, {doubled_http} stored twice")
    print(f"mqtt: {mqtt_sent} acknowledged by the broker, {lost_mqtt} not stored, {doubled_mqtt} stored twice")
    print(f"sse:  {len(got)} received, {missed} stored but never delivered, {doubled_sse} duplicates, in order: {ordered}, {resets} resets, {reconnects} reconnects")
    print(f"herald: kills {kills}, final RSS {proc(herald.pid, 'rss')} MB, fds {proc(herald.pid, 'fd')}")
    ok = not lost_http and not doubled_http and not lost_mqtt and not doubled_mqtt and not doubled_sse and ordered and (missed == 0 or resets > 0)
finally:
    for p in reversed(started):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try: p.wait(timeout=15)
            except subprocess.TimeoutExpired: p.kill(); p.wait()
print("soak: OK" if ok else "soak: FAILED (logs in " + WORK + ")")
sys.exit(0 if ok else 1)
PY
if [ "$status" = 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; fi
exit "$status"
