"""The dashboard in a real browser: mosquitto -> Herald -> SSE -> headless Chromium.

Run with `make browser-test` (or `.build-browser/venv/bin/python -m pytest Tests/browser`).
The tests run in file order against one page, as a person would use it: readings, jobs, an
alert acknowledged, Zigbee2MQTT devices as cards (and readings on a channel of their own),
Herald restarted under the open page, and at the end the console and the network log of the
whole session are checked.
"""
import json
import signal
import time

import pytest
from selenium.webdriver.common.by import By

from harness import running_stack, wait_until

TEMP_TILE = '[data-sensor-key="greenhouse/temp"]'
JOB = '[data-job-key="backup-1"]'
ALERT_ID = "greenhouse-hot:greenhouse/temp"
ALERT_ROW = f'[data-alert-key="{ALERT_ID}"]'
CLIMATE = '[data-testid="device-card"][data-device-id="zigbee2mqtt/living_room/climate"]'
DOOR = '[data-testid="device-card"][data-device-id="zigbee2mqtt/front_door"]'
LAB_TILE = '[data-sensor-key="bench/voltage"][data-channel="lab"]'
# Devices come and go with the broker; 30 s bounds leave room for a slow, busy machine.
DEVICE_WAIT = 30

# What Zigbee2MQTT retains on bridge/devices, cut down to what Herald reads.
Z2M_DEVICES = [
    {"ieee_address": "0x00124b0000000000", "type": "Coordinator", "friendly_name": "Coordinator"},
    {"ieee_address": "0x00158d0001a2b3c4", "type": "EndDevice", "friendly_name": "living_room/climate",
     "definition": {"model": "WSDCGQ11LM", "vendor": "Aqara", "description": "Temperature, humidity and pressure sensor",
                    "exposes": [
                        {"type": "numeric", "name": "temperature", "property": "temperature", "unit": "°C", "access": 1},
                        {"type": "numeric", "name": "humidity", "property": "humidity", "unit": "%", "access": 1},
                        {"type": "numeric", "name": "battery", "property": "battery", "unit": "%", "access": 1},
                        {"type": "numeric", "name": "linkquality", "property": "linkquality", "unit": "lqi", "access": 1},
                    ]}},
    {"ieee_address": "0x00158d0001d4e5f6", "type": "EndDevice", "friendly_name": "front_door",
     "definition": {"model": "MCCGQ11LM", "vendor": "Aqara", "description": "Door and window contact sensor",
                    "exposes": [
                        {"type": "binary", "name": "contact", "property": "contact", "value_on": False, "value_off": True,
                         "access": 1},
                        {"type": "numeric", "name": "battery", "property": "battery", "unit": "%", "access": 1},
                    ]}},
]


class Session:
    def __init__(self, stack, driver, monitor):
        self.stack = stack
        self.driver = driver
        self.monitor = monitor
        self.console = []     # ChromeDriver "browser" log entries (the page)
        self.network = []     # Network.requestWillBeSent params from ChromeDriver's performance log

    def drain_logs(self):
        self.console += self.driver.get_log("browser")
        for entry in self.driver.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                self.network.append(msg["params"])

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def text(self, selector):
        return self.js("const n = document.querySelector(arguments[0]); return n ? n.textContent.trim() : null;", selector)

    def attr(self, selector, name):
        return self.js("const n = document.querySelector(arguments[0]); return n ? n.getAttribute(arguments[1]) : null;",
                       selector, name)

    def wait_text(self, selector, expected, timeout=5):
        return wait_until(lambda: self.text(selector) == expected, timeout,
                          what=f"{selector} to read {expected!r} (now {self.text(selector)!r})")

    def wait_attr(self, selector, name, expected, timeout=5):
        return wait_until(lambda: self.attr(selector, name) == expected, timeout,
                          what=f"{selector}[{name}] to be {expected!r} (now {self.attr(selector, name)!r})")

    def wait_live(self, timeout=10):
        self.wait_attr("#conn-state", "data-state", "live", timeout)
        wait_until(lambda: self.attr("body", "data-synced") == "true", timeout, what="the page to load its snapshot")

    def load(self):
        self.driver.get(self.stack.origin + "/")
        self.wait_live()


@pytest.fixture(scope="module")
def s(request):
    def prepare(stack, driver, monitor):
        driver.get_log("browser")  # only what the dashboard causes counts
        driver.get_log("performance")
        session = Session(stack, driver, monitor)
        session.load()
        return session
    yield from running_stack(request, prepare)


@pytest.fixture(autouse=True)
def _collect_logs(s):
    yield
    s.drain_logs()


def test_sensor_reading_appears_on_its_tile(s):
    s.stack.publish("sensors/greenhouse/temp", {"value": 21.5, "unit": "°C"})
    s.wait_text(f"{TEMP_TILE} .value", "21.5")
    assert s.text(f"{TEMP_TILE} .unit") == "°C"
    assert s.text(f"{TEMP_TILE} .key") == "greenhouse/temp"
    assert s.js("return document.getElementById('sensors-empty').hidden") is True
    # The same event is in the event log, with the id Herald gave it.
    _, snap = s.stack.http("GET", "/api/snapshot?channel=sensors")
    event_id = next(e["id"] for e in snap["events"] if e["key"] == "greenhouse/temp")
    wait_until(lambda: s.js("return !!document.querySelector(`#log li[data-id='${arguments[0]}']`)", event_id), 3,
               what=f"event {event_id} in the event log")


def test_job_progress_moves_and_finishes(s):
    progress = f"{JOB} .progress[aria-valuenow]"
    s.stack.publish("jobs/backup-1/progress",
                    {"state": "running", "progress": 10, "message": "copying", "done": 4, "total": 40})
    s.wait_attr(progress, "aria-valuenow", "10")
    assert s.attr(JOB, "data-state") == "running"
    assert s.text(f"{JOB} .job-msg") == "copying"
    assert "4 / 40" in s.text(f"{JOB} .job-meta")

    time.sleep(0.3)  # so Herald measures a rate between the two updates
    s.stack.publish("jobs/backup-1/progress",
                    {"state": "running", "progress": 50, "message": "copying", "done": 20, "total": 40})
    s.wait_attr(progress, "aria-valuenow", "50")
    assert s.text(f"{JOB} .pct") == "50%"
    assert "20 / 40" in s.text(f"{JOB} .job-meta")
    assert s.js(f"return document.querySelector('{JOB} .bar').style.width") == "50%"
    _, hist = s.stack.http("GET", "/api/events?channel=jobs&key=backup-1")
    if "eta_seconds" in hist["events"][-1]["data"]:  # Herald derives rate and ETA (DESIGN §6)
        wait_until(lambda: "ETA" in s.text(f"{JOB} .job-meta"), 3, what="the job's ETA")

    s.stack.publish("jobs/backup-1/progress",
                    {"state": "succeeded", "progress": 100, "message": "all files copied", "done": 40, "total": 40})
    s.wait_attr(JOB, "data-state", "succeeded")
    s.wait_attr(progress, "aria-valuenow", "100")
    assert "finished" in s.attr(JOB, "class").split()
    assert s.text(f"{JOB} .state") == "succeeded"
    assert "finished" in s.text(f"{JOB} .job-meta")
    assert "ETA" not in s.text(f"{JOB} .job-meta")


def test_threshold_alert_can_be_acknowledged(s):
    if s.stack.alert_rules_refused:
        pytest.fail("Herald did not accept the alert rule, so no alert can be raised yet:\n"
                    + s.stack.alert_rules_refused)
    s.stack.publish("sensors/greenhouse/temp", {"value": 31.2, "unit": "°C"})
    s.wait_text(f"{TEMP_TILE} .value", "31.2")
    wait_until(lambda: s.js(f"return !!document.querySelector('{ALERT_ROW}')"), 5, what="the alert to show")
    assert s.attr(ALERT_ROW, "data-severity") == "warning"
    assert s.attr(ALERT_ROW, "data-acked") == "false"
    assert s.text("#alert-count") == "1"
    assert s.text(f"{ALERT_ROW} .rule") == "greenhouse-hot"
    assert "31.2" in s.text(f"{ALERT_ROW} .alert-meta")
    assert s.js("return document.getElementById('alerts-empty').hidden") is True

    status, body = s.stack.http("GET", "/api/alerts")
    assert status == 200, body
    active = {a["id"]: a for a in body["alerts"]}
    assert ALERT_ID in active and active[ALERT_ID]["state"] == "raised" and active[ALERT_ID]["ackedAt"] is None

    button = s.driver.find_element(By.CSS_SELECTOR, f"{ALERT_ROW} button.ack")
    assert button.text == "Acknowledge" and button.is_enabled()
    button.click()
    s.wait_attr(ALERT_ROW, "data-acked", "true")
    # The server's "acked" event arrives on the stream too.
    wait_until(lambda: s.js("return !!document.querySelector('#alert-history li[data-type=acked]')"), 5,
               what="the acked event in the alert history")
    assert s.text(f"{ALERT_ROW} .ack-error") == ""
    button = s.driver.find_element(By.CSS_SELECTOR, f"{ALERT_ROW} button.ack")
    assert button.text == "Acknowledged" and not button.is_enabled()
    _, body = s.stack.http("GET", "/api/alerts")
    assert next(a for a in body["alerts"] if a["id"] == ALERT_ID)["ackedAt"] is not None

    # A fresh page gets the alert, acknowledged, from the snapshot.
    s.load()
    wait_until(lambda: s.attr(ALERT_ROW, "data-acked") == "true", 5, what="the acked alert after a reload")
    assert s.text("#alert-count") == "1"

    # Back below clear_below: the alert goes away.
    s.stack.publish("sensors/greenhouse/temp", {"value": 28.5, "unit": "°C"})
    wait_until(lambda: s.js(f"return !document.querySelector('{ALERT_ROW}')"), 5, what="the alert to clear")
    assert s.text("#alert-count") == "0"
    wait_until(lambda: s.js("return !!document.querySelector('#alert-history li[data-type=cleared]')"), 3,
               what="the cleared event in the alert history")


def reading_value(card, name):
    return f'{card} [data-testid="device-reading"][data-reading="{name}"] [data-testid="reading-value"]'


def raw_json_on_cards(s):
    """Texts of device cards and tiles that hold a JSON object as it came."""
    return s.js("""return [...document.querySelectorAll('[data-testid="device-card"], .tile')]
                   .map((n) => n.textContent).filter((t) => t.includes('{"'));""")


def test_devices_show_as_cards(s):
    # A channel the page has never heard of: its tile must show up without a reload.
    s.stack.publish("lab/bench/voltage", {"value": 3.3, "unit": "V"})
    s.stack.publish("zigbee2mqtt/bridge/devices", Z2M_DEVICES, retain=True)
    s.stack.publish("zigbee2mqtt/living_room/climate",
                    {"battery": 97, "humidity": 44.7, "linkquality": 120, "temperature": 21.4, "voltage": 2995})
    s.stack.publish("zigbee2mqtt/front_door", {"contact": False, "battery": 91})
    s.stack.publish("zigbee2mqtt/front_door/availability", {"state": "offline"}, retain=True)
    # A plain reading without a value: summarised, never shown as JSON.
    s.stack.publish("sensors/greenhouse/vent", {"position": "half", "motor": True})

    s.wait_text(reading_value(CLIMATE, "temperature"), "21.4", DEVICE_WAIT)
    climate = s.text(CLIMATE)
    assert "°C" in climate and "%" in climate, climate
    assert s.text(f'{CLIMATE} [data-reading="temperature"] .unit') == "°C"
    s.wait_text(reading_value(CLIMATE, "humidity"), "44.7", DEVICE_WAIT)
    assert s.text(f'{CLIMATE} [data-reading="humidity"] .unit') == "%"
    assert s.text(f"{CLIMATE} .device-name") == "living_room/climate"
    assert "Aqara" in s.text(f"{CLIMATE} .device-meta") and "WSDCGQ11LM" in s.text(f"{CLIMATE} .device-meta")
    assert s.text(f"{CLIMATE} .source") == "zigbee2mqtt"
    # Readings with a device class first, link quality last.
    order = s.js(f"return [...document.querySelectorAll('{CLIMATE} [data-testid=device-reading]')]"
                 ".map((n) => n.dataset.reading)")
    assert order[0] == "temperature" and order[-1] == "linkquality", order

    s.wait_text(reading_value(DOOR, "contact"), "open", DEVICE_WAIT)
    s.wait_text(f'{DOOR} [data-testid="device-availability"]', "offline", DEVICE_WAIT)
    assert s.attr(DOOR, "data-availability") == "offline"
    assert "offline" in s.attr(DOOR, "class").split()
    assert "last seen" in s.text(f"{DOOR} .device-foot")
    assert s.text(f'{CLIMATE} [data-testid="device-availability"]') in ("online", "unknown")
    assert "offline" not in s.attr(CLIMATE, "class").split()

    s.wait_text('[data-sensor-key="greenhouse/vent"] .value', "position half · motor on", DEVICE_WAIT)
    assert not raw_json_on_cards(s), raw_json_on_cards(s)

    # Live updates: a second reading draws the sparkline; the door comes back and is closed.
    s.stack.publish("zigbee2mqtt/living_room/climate", {"temperature": 22.6})
    s.wait_text(reading_value(CLIMATE, "temperature"), "22.6", DEVICE_WAIT)
    wait_until(lambda: s.js(f"const n = document.querySelector('{CLIMATE} [data-reading=temperature] .spark');"
                            "return n && !n.classList.contains('empty') && !!n.querySelector('.line').getAttribute('points');"),
               DEVICE_WAIT, what="the temperature sparkline to be drawn")
    s.stack.publish("zigbee2mqtt/front_door/availability", {"state": "online"}, retain=True)
    s.stack.publish("zigbee2mqtt/front_door", {"contact": True, "battery": 91})
    s.wait_text(f'{DOOR} [data-testid="device-availability"]', "online", DEVICE_WAIT)
    s.wait_text(reading_value(DOOR, "contact"), "closed", DEVICE_WAIT)
    assert "offline" not in s.attr(DOOR, "class").split()

    # A source's job (a Zigbee OTA update) in the jobs panel, under the device's name.
    ota = '[data-job-key="zigbee2mqtt/living_room/climate/update"]'
    s.stack.publish("zigbee2mqtt/living_room/climate", {"update": {"state": "updating", "progress": 13.37, "remaining": 219}})
    s.wait_attr(f"{ota} .progress", "aria-valuenow", "13", DEVICE_WAIT)
    assert s.text(f"{ota} .job-name") == "living_room/climate"
    assert s.attr(ota, "data-state") == "running"
    assert "ETA" in s.text(f"{ota} .job-meta")
    s.stack.publish("zigbee2mqtt/living_room/climate", {"update": {"state": "idle"}})
    s.wait_attr(ota, "data-state", "succeeded", DEVICE_WAIT)

    # The stream learns of the lab channel from /api/channels, every 30 s, then loads a snapshot.
    s.wait_text(f"{LAB_TILE} .value", "3.3", 70)
    assert s.text(f"{LAB_TILE} .unit") == "V"
    s.stack.publish("lab/bench/voltage", {"value": 3.1, "unit": "V"})
    s.wait_text(f"{LAB_TILE} .value", "3.1", DEVICE_WAIT)
    assert not raw_json_on_cards(s), raw_json_on_cards(s)

    # A fresh page has all of it from the snapshot.
    s.load()
    s.wait_text(reading_value(CLIMATE, "temperature"), "22.6", DEVICE_WAIT)
    s.wait_text(reading_value(DOOR, "contact"), "closed", DEVICE_WAIT)
    s.wait_text(f"{LAB_TILE} .value", "3.1", DEVICE_WAIT)
    assert s.text(f'{DOOR} [data-testid="device-availability"]') == "online"
    assert not raw_json_on_cards(s), raw_json_on_cards(s)


def test_page_keeps_working_across_a_herald_restart(s):
    s.stack.stop("herald", signal.SIGTERM)
    wait_until(lambda: s.attr("#conn-state", "data-state") in ("reconnecting", "offline"), 10,
               what="the page to notice that Herald is gone")
    # Published while Herald is down: the broker keeps it for Herald's persistent session.
    s.stack.publish("sensors/garage/door", {"value": "closed"})
    s.stack.start_herald()
    s.wait_attr("#conn-state", "data-state", "live", 15)
    assert s.text("#conn-state") == "live"
    s.wait_text('[data-sensor-key="garage/door"] .value', "closed")

    s.stack.publish("sensors/greenhouse/temp", {"value": 23.4, "unit": "°C"})
    s.wait_text(f"{TEMP_TILE} .value", "23.4")
    # Resumed exactly: every event once, newest first.
    ids = s.js("return [...document.querySelectorAll('#log li[data-id]')].map((li) => Number(li.dataset.id))")
    assert ids == sorted(set(ids), reverse=True), ids
    _, snap = s.stack.http("GET", "/api/snapshot")
    wait_until(lambda: s.text("#last-id") == str(snap["lastEventId"]), 3, what="the last event id to catch up")


def test_page_without_shared_worker(s):
    # ?worker=0 gives the tab its own EventSource (browsers without SharedWorker do the same).
    s.driver.get(s.stack.origin + "/?worker=0")
    s.wait_live()
    assert s.attr("body", "data-transport") == "direct"
    s.wait_text(f"{TEMP_TILE} .value", "23.4")  # from the snapshot
    assert s.attr(JOB, "data-state") == "succeeded"
    s.wait_text(reading_value(DOOR, "contact"), "closed", DEVICE_WAIT)  # devices from the snapshot too
    s.stack.publish("sensors/greenhouse/humidity", {"value": 61, "unit": "%"})
    s.wait_text('[data-sensor-key="greenhouse/humidity"] .value', "61")
    s.drain_logs()
    assert any("/sse?" in p["request"]["url"] for p in s.network), "the page's own stream was not observed"


def test_console_is_clean_and_nothing_leaves_the_origin(s):
    s.drain_logs()
    origin = s.stack.origin + "/"
    # GET api/push/key answers 404 where no webpush target is configured (the "Notify me" switch
    # then stays hidden), and Chromium logs every 404 it fetches.
    no_push = "/api/push/key - Failed to load resource: the server responded with a status of 404"
    severe = [e["message"] for e in s.console if e["level"] == "SEVERE" and no_push not in e["message"]]
    assert not severe, "console errors on the page:\n" + "\n".join(severe)
    worker_errors = [f"{kind}: {text}" for kind, text, _ in s.monitor.errors]
    assert not worker_errors, "errors in workers:\n" + "\n".join(worker_errors)

    # The page's own requests: ChromeDriver's performance log, for documents of our origin.
    page = [p["request"]["url"] for p in s.network if p.get("documentURL", "").startswith(origin)]
    workers = [url for _, url in s.monitor.requests]
    assert any(u.startswith(origin + "app.js") for u in page), page
    assert any(u.startswith(origin + "js/stream.js") for u in page + workers), "the stream module was not loaded"
    assert any("/sse?" in u for u in workers), "the SharedWorker's stream was not observed: " + repr(workers)
    outside = [u for u in page + workers if not u.startswith(origin) and not u.startswith("data:")]
    assert not outside, "requests that left the origin: " + repr(outside)
    foreign_docs = {p.get("documentURL") for p in s.network} - {None}
    foreign_docs = {d for d in foreign_docs if not d.startswith(origin) and not d.startswith("chrome://")}
    assert not foreign_docs, "documents outside the origin: " + repr(foreign_docs)
