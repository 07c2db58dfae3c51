"""Issue 22 in a real browser: a reading's chart against the stored series, an offline gap,
a raised alert as a system notification, the phone layout and the remembered dark theme.

Publishes cannot carry their own time (Herald stamps each event), so the known series is made
of readings published now; the test reads their stored times back from /api/events and
checks that each is in the chart's bucket for it, and nowhere else.
"""
import math
import time

import pytest
from selenium.webdriver.common.by import By

from harness import running_stack, wait_until

WAIT = 30  # every bound; a busy machine may be slow, nothing here is timed
Z2M_NAME = "living_room/climate"
DEVICE = f"zigbee2mqtt/{Z2M_NAME}"
READING_KEY = f"{DEVICE}/temperature"
CARD = f'[data-testid="device-card"][data-device-id="{DEVICE}"]'
ALERT_ID = "greenhouse-hot:greenhouse/temp"
Z2M_DEVICES = [{"ieee_address": "0x00158d0001a2b3c4", "type": "EndDevice", "friendly_name": "living_room/climate",
                "definition": {"model": "WSDCGQ11LM", "vendor": "Aqara", "exposes": [
                    {"type": "numeric", "name": "temperature", "property": "temperature", "unit": "°C", "access": 1}]}}]
OFFLINE_SECONDS = 16  # more than two of the 1 h range's 7.2 s buckets, so the line must break

# Records every Notification the page makes, and still makes it: the spy subclasses the real one.
NOTIFICATION_SPY = """
window.__notes = [];
if (typeof Notification === 'function') {
  const Real = Notification;
  window.Notification = class extends Real {
    constructor(title, options = {}) {
      super(title, options);
      window.__notes.push({ title, body: options.body, tag: options.tag });
      window.__lastNote = this;
    }
  };
}
"""

# The page's fetch answers 404 for /api/series, as a server without the endpoint does.
NO_SERIES = """
const realFetch = window.fetch;
window.fetch = (url, init) => String(url).startsWith('api/series')
  ? Promise.resolve(new Response('{"error":"not found"}', { status: 404, headers: { 'Content-Type': 'application/json' } }))
  : realFetch(url, init);
"""

BUCKETS_JS = """return [...document.querySelectorAll('#chart-plot .bucket')].map((n) => ({
  t: Number(n.dataset.t), min: Number(n.dataset.min), max: Number(n.dataset.max),
  avg: Number(n.dataset.avg), n: Number(n.dataset.n)}));"""
GAPS_JS = """return [...document.querySelectorAll('#chart-plot .gap')].map((n) => ({
  reason: n.dataset.reason, from: Number(n.dataset.from), to: Number(n.dataset.to)}));"""


class Page:
    def __init__(self, stack, driver):
        self.stack, self.driver = stack, driver

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def load(self):
        self.driver.get(self.stack.origin + "/")
        wait_until(lambda: self.js("return document.body.dataset.synced") == "true", WAIT,
                   what="the page to load its snapshot")

    def stored(self, key):
        status, body = self.stack.http("GET", f"/api/events?channel=sensors&key={key}&limit=1000")
        assert status == 200, body
        return body["events"]


@pytest.fixture(scope="module")
def page(request):
    def prepare(stack, driver, monitor):
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": NOTIFICATION_SPY})
        driver.execute_cdp_cmd("Browser.grantPermissions",
                               {"origin": stack.origin, "permissions": ["notifications"]})
        p = Page(stack, driver)
        p.load()
        return p
    yield from running_stack(request, prepare)


def epoch_ms(iso):
    from datetime import datetime
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def expected_buckets(events, buckets, bucket_ms):
    """Each stored reading into the chart bucket whose [t, t + bucketMs) holds its time."""
    starts = sorted(b["t"] for b in buckets)
    want = {}
    for e in events:
        if e["type"] in ("stale", "fresh"):
            continue
        t, v = epoch_ms(e["time"]), e["data"]["value"]
        holding = [s for s in starts if s <= t < s + bucket_ms]
        assert len(holding) == 1, f"reading at {t} ({v}) is in {len(holding)} of the chart's buckets"
        want.setdefault(holding[0], []).append(v)
    return {t: {"min": min(vs), "max": max(vs), "avg": sum(vs) / len(vs), "n": len(vs)} for t, vs in want.items()}


def open_temperature_chart(page):
    button = f'{CARD} [data-reading="temperature"] [data-testid="open-chart"]'
    wait_until(lambda: page.js(f"return !!document.querySelector('{button}')"), WAIT, what="the temperature row's chart button")
    page.driver.find_element(By.CSS_SELECTOR, button).click()
    page.driver.find_element(By.CSS_SELECTOR, '#chart [data-range="1h"]').click()
    wait_until(lambda: page.js("return document.getElementById('chart').dataset.loaded") == "true"
               and page.js("return document.querySelector('#chart [data-range=\"1h\"]').getAttribute('aria-pressed')") == "true",
               WAIT, what="the 1 h chart to load")


def check_chart(page, readings):
    """The open chart against the stored readings and availability events; returns its buckets."""
    open_temperature_chart(page)
    bucket_ms = float(page.js("return document.getElementById('chart-plot').dataset.bucketMs"))
    assert bucket_ms == 3600e3 / 500, bucket_ms
    buckets = page.js(BUCKETS_JS)
    want = expected_buckets(page.stored(READING_KEY), buckets, bucket_ms)
    got = {b["t"]: b for b in buckets}
    assert set(got) == set(want), f"buckets drawn {sorted(got)} vs holding readings {sorted(want)}"
    for t, w in want.items():
        g = got[t]
        assert (g["min"], g["max"], g["n"]) == (w["min"], w["max"], w["n"]), (t, g, w)
        assert abs(g["avg"] - w["avg"]) < 1e-9, (t, g, w)
    assert "°C" in page.js("return document.querySelector('#chart-plot .unit').textContent")

    # The offline spell: a shaded gap from the offline event to the online one, and the line broken.
    availability = [e for e in page.stored(DEVICE) if e["type"] == "availability"]
    went = next(epoch_ms(e["time"]) for e in availability if e["data"]["availability"] == "offline")
    back = next(epoch_ms(e["time"]) for e in availability if e["data"]["availability"] == "online")
    offline = [g for g in page.js(GAPS_JS) if g["reason"] == "offline"]
    assert len(offline) == 1, page.js(GAPS_JS)
    assert abs(offline[0]["from"] - went) <= 1 and abs(offline[0]["to"] - back) <= 1, (offline, went, back)
    assert page.js("return document.querySelectorAll('#chart-plot polyline.avg').length") == 2

    assert sum(b["n"] for b in buckets) == readings
    return buckets


def test_chart_shows_the_buckets_of_a_known_series_and_an_offline_gap(page):
    s = page.stack
    s.publish("zigbee2mqtt/bridge/devices", Z2M_DEVICES, retain=True)
    values = [20.0, 20.5, 21.0, 22.5, 21.5, 23.0, 24.0, 22.0]
    for v in values[:4]:
        s.publish(f"zigbee2mqtt/{Z2M_NAME}", {"temperature": v})
        time.sleep(0.5)
    s.publish(f"zigbee2mqtt/{Z2M_NAME}/availability", {"state": "offline"})
    time.sleep(OFFLINE_SECONDS)
    s.publish(f"zigbee2mqtt/{Z2M_NAME}/availability", {"state": "online"})
    for v in values[4:]:
        s.publish(f"zigbee2mqtt/{Z2M_NAME}", {"temperature": v})
        time.sleep(0.5)
    wait_until(lambda: len([e for e in page.stored(READING_KEY) if e["type"] == "reading"]) == len(values), WAIT,
               what=f"Herald to store the {len(values)} readings")

    buckets = check_chart(page, len(values))

    # Hovering (here: the arrow keys on the focused plot) names a bucket's value and time.
    plot = page.driver.find_element(By.ID, "chart-plot")
    plot.send_keys("\ue012")  # Left arrow: the newest bucket
    newest = max(buckets, key=lambda b: b["t"])
    # Rounded as the page rounds (half up, to 2 places), not as Python's "%.2f" does.
    shown = ("%.2f" % (math.floor(newest["avg"] * 100 + 0.5) / 100)).rstrip("0").rstrip(".") + " °C"
    tip = "return document.getElementById('chart-tip').textContent"
    wait_until(lambda: shown in page.js(tip), WAIT,
               what=f"the tip to show the newest bucket's average, {shown} (now {page.js(tip)!r})")

    # A live reading extends the open chart.
    s.publish(f"zigbee2mqtt/{Z2M_NAME}", {"temperature": 19.0})
    wait_until(lambda: sum(b["n"] for b in page.js(BUCKETS_JS)) == len(values) + 1, WAIT,
               what="the live reading to be folded into the chart")
    assert min(b["min"] for b in page.js(BUCKETS_JS)) == 19.0
    page.driver.find_element(By.ID, "chart-close").click()


def test_chart_without_the_series_endpoint_buckets_the_raw_events(page):
    """A Herald without /api/series (older, or a proxy that does not pass it): the page buckets
    /api/events itself, with the same buckets and gaps."""
    page.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": NO_SERIES})
    page.load()
    check_chart(page, 9)  # the 8 published and the live one
    status = page.js("return document.getElementById('chart-status').textContent")
    assert "from raw events" in status, status
    page.driver.find_element(By.ID, "chart-close").click()


def test_a_raised_alert_shows_a_notification_that_focuses_it(page):
    s = page.stack
    if s.alert_rules_refused:
        pytest.fail("Herald refused the alert rule: " + s.alert_rules_refused)
    wait_until(lambda: page.js("return document.getElementById('notify').dataset.permission") == "granted", WAIT,
               what="the page to see the permission granted through DevTools")
    s.publish("sensors/greenhouse/temp", {"value": 31.5, "unit": "°C"})
    notes = wait_until(lambda: page.js("return window.__notes"), WAIT, what="a Notification for the raised alert")
    assert notes[0]["tag"] == ALERT_ID and "greenhouse-hot" in notes[0]["title"], notes
    page.js("window.__lastNote.onclick()")
    wait_until(lambda: page.js("return document.activeElement && document.activeElement.dataset.alertKey") == ALERT_ID,
               WAIT, what="the notification's click to focus the alert")

    # The history lists the raise; the severity filter keeps or hides it.
    row = f'#alert-history li[data-type="raised"][data-alert-id="{ALERT_ID}"]'
    wait_until(lambda: page.js(f"return !!document.querySelector('{row}')"), WAIT, what="the raise in the alert history")
    page.js("const s = document.getElementById('af-device'); s.value = 'greenhouse'; s.dispatchEvent(new Event('change'));")
    assert page.js(f"return !!document.querySelector('{row}')")
    page.js("const s = document.getElementById('af-since'); s.value = '1h'; s.dispatchEvent(new Event('change'));")
    assert page.js(f"return !!document.querySelector('{row}')")
    s.publish("sensors/greenhouse/temp", {"value": 28.0, "unit": "°C"})
    wait_until(lambda: page.js("return !!document.querySelector('#alert-history li[data-type=cleared]')"), WAIT,
               what="the clear in the alert history")
    assert len(page.js("return window.__notes")) == 1, "a clear is not notified"

    # The reading's chart shades the raised period and draws both thresholds.
    page.driver.find_element(By.CSS_SELECTOR, '[data-sensor-key="greenhouse/temp"] [data-testid="open-chart"]').click()
    wait_until(lambda: page.js("return document.getElementById('chart').dataset.loaded") == "true", WAIT,
               what="the greenhouse chart to load")
    wait_until(lambda: page.js("return document.querySelectorAll('#chart-plot .alert-period').length") == 1, WAIT,
               what="the alert's raised period on the chart")
    lines = page.js("return [...document.querySelectorAll('#chart-plot .threshold')].map((n) => Number(n.dataset.value)).sort()")
    assert lines == [29, 30], lines
    page.driver.find_element(By.ID, "chart-close").click()


# A 390 px phone, and a 1280 px window at 200 % zoom (640 CSS px wide, each px drawn twice).
@pytest.mark.parametrize("width,scale,mobile", [(390, 1, True), (640, 2, False)], ids=["phone", "zoom-200"])
def test_narrow_width_has_no_sideways_scroll_and_touch_sized_controls(page, width, scale, mobile):
    page.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": width, "height": 844, "deviceScaleFactor": scale, "mobile": mobile})
    try:
        page.load()
        wait_until(lambda: page.js("return document.querySelectorAll('[data-testid=device-card]').length") > 0, WAIT,
                   what=f"the device cards at {width} px")
        wide = page.js("return document.documentElement.scrollWidth")
        assert wide <= width, f"the page is {wide} px wide at {width} px"
        small = page.js("""return [...document.querySelectorAll('button, select, input:not([hidden])')]
            .filter((n) => n.offsetParent !== null && !n.closest('dialog'))
            .map((n) => ({ id: n.id || n.className || n.textContent.trim(), r: n.getBoundingClientRect() }))
            .filter((x) => x.r.height < 44 || x.r.width < 44).map((x) => `${x.id}: ${x.r.width}x${x.r.height}`);""")
        assert not small, "controls smaller than 44 px: " + ", ".join(small)
    finally:
        page.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_dark_theme_switch_is_remembered(page):
    background = "return getComputedStyle(document.body).backgroundColor"
    page.js("const s = document.getElementById('theme'); s.value = 'dark'; s.dispatchEvent(new Event('change'));")
    wait_until(lambda: page.js(background) == "rgb(15, 19, 23)", WAIT, what="the dark background")
    page.load()
    assert page.js("return document.getElementById('theme').value") == "dark"
    assert page.js(background) == "rgb(15, 19, 23)", "the choice was not remembered across a reload"
    page.js("const s = document.getElementById('theme'); s.value = 'light'; s.dispatchEvent(new Event('change'));")
    wait_until(lambda: page.js(background) == "rgb(244, 246, 248)", WAIT, what="the light background")
    assert not page.js("return window.__notes.length"), "a reload must not notify alerts again"
