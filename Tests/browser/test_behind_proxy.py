"""The dashboard behind nginx while Herald restarts (issue 21, item 8).

While Herald is down the proxy answers its EventSource with 502, and a browser's EventSource
that gets anything but a 200 closes for good (readyState CLOSED, no more retries of its own).
The dashboard's SharedWorker must then reconnect by itself (Web/worker.js, `fail` and its
backoff): here Herald stays down for 10 s behind an nginx on a loopback port, comes back on the
same port and database, and the page must show what was published just before the stop and just
after the restart, without a reload.
"""
import signal
import time

import pytest

from harness import CdpMonitor, Stack, make_driver, tear_down, wait_until

OUTAGE = 10          # seconds Herald stays down
PAGE_WAIT = 30       # the first page through nginx
RECOVERY_WAIT = 60   # the worker's backoff doubles from 1 s up to 30 s

# Every change of the connection badge and its detail line, with seconds since it was installed.
CONN_LOG_JS = """
if (!window.__connLog) {
  const state = document.getElementById('conn-state'), detail = document.getElementById('conn-detail');
  const t0 = performance.now();
  window.__connLog = [];
  const note = () => {
    const line = `${state.dataset.state}: ${state.textContent.trim()} | ${detail.textContent.trim()}`;
    const log = window.__connLog;
    if (!log.length || log[log.length - 1].line !== line)
      log.push({ t: Math.round(performance.now() - t0) / 1000, line });
  };
  note();
  const opts = { attributes: true, childList: true, characterData: true, subtree: true };
  new MutationObserver(note).observe(state, opts);
  new MutationObserver(note).observe(detail, opts);
}
"""


def tile(key):
    return f'[data-sensor-key="{key}"][data-channel="sensors"] .value'


class Proxied:
    def __init__(self, stack, driver, monitor):
        self.stack, self.driver, self.monitor = stack, driver, monitor

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def text(self, selector):
        return self.js("const n = document.querySelector(arguments[0]); return n ? n.textContent.trim() : null;",
                       selector)

    def state(self):
        return self.js("const n = document.getElementById('conn-state'); return n ? n.dataset.state : null;")

    def conn(self):
        return self.js("const n = document.getElementById('conn-state');"
                       "return n ? `${n.dataset.state} | ${document.getElementById('conn-detail').textContent}` : null;")

    def conn_log(self):
        return self.js("return (window.__connLog || []).map((e) => `${e.t.toFixed(2)} s  ${e.line}`);") or []

    def in_event_log(self, event_id):
        return self.js("return !!document.querySelector(`#log li[data-id='${arguments[0]}']`)", event_id)

    def publish(self, key, value):
        """A reading POSTed straight to Herald; Herald answers after the commit."""
        status, body = self.stack.http("POST", "/api/channels/sensors/events",
                                       {"type": "reading", "key": key, "data": {"value": value, "unit": "V"}})
        assert 200 <= status < 300 and isinstance(body, dict) and isinstance(body.get("id"), int), (status, body)
        return body["id"]

    def wait(self, predicate, timeout, what):
        """wait_until, saying on a timeout what the page's connection badge went through."""
        try:
            return wait_until(predicate, timeout, interval=0.2, what=what)
        except TimeoutError as err:
            raise TimeoutError(f"{err}; connection now {self.conn()!r}; badge so far:\n"
                               + "\n".join(self.conn_log())) from None

    def wait_shown(self, key, value, event_id, timeout, in_log=True):
        """The reading on its tile and, when it came over the stream (in_log), its row in the event log:
        the log lists only events the stream delivered, not those a snapshot brought."""
        want = str(value)
        self.wait(lambda: self.text(tile(key)) == want and (not in_log or self.in_event_log(event_id)), timeout,
                  f"the page to show {key} = {want} (event {event_id}) on its tile"
                  + (" and in the event log" if in_log else ""))

    def report(self):
        print("----- connection badge | detail, as the page showed it -----")
        try:
            print("\n".join(self.conn_log()) or "(none recorded)")
        except Exception as err:  # noqa: BLE001
            print(f"(unreadable: {err!r})")
        print("----- the worker's requests that did not answer 200 -----")
        for kind, url, status in self.monitor.responses:
            if status != 200:
                print(f"{kind}: {status} {url}")
        print("----- errors in the page's workers -----")
        for kind, text, _ in self.monitor.errors:
            print(f"{kind}: {text}")
        try:
            for e in self.driver.get_log("browser"):
                print(f"page console: {e['level']} {e['message']}")
        except Exception:  # noqa: BLE001
            pass


@pytest.fixture
def proxied(request):
    stack = Stack(alert_rules=False)
    driver = monitor = session = None
    before = request.session.testsfailed
    try:
        stack.start_mosquitto()
        stack.start_herald()
        stack.start_nginx()
        driver = make_driver(stack.tmp)
        monitor = CdpMonitor(driver)
        session = Proxied(stack, driver, monitor)
        yield session
    finally:
        failed = request.session.testsfailed > before
        if failed and session:
            session.report()
        tear_down(stack, driver, monitor, failed)


def test_worker_reconnects_by_itself_after_502s_behind_nginx(proxied):
    p, stack = proxied, proxied.stack

    # 1-2. An event published before the page opens is shown by the page opened through nginx.
    first = p.publish("proxy/first", 1)
    p.driver.get(stack.proxy_origin + "/")
    p.js(CONN_LOG_JS)
    p.wait(lambda: p.state() == "live", PAGE_WAIT, "the page opened through nginx to be live")
    assert p.js("return document.body.dataset.transport") == "shared worker", "the page is not on its SharedWorker"
    p.wait_shown("proxy/first", 1, first, PAGE_WAIT, in_log=False)  # from the snapshot

    # 3. Published just before the stop; then Herald goes away (SIGTERM, waited for).
    before_stop = p.publish("proxy/before-stop", 2)
    herald_pid = stack.procs["herald"].pid
    stack.stop("herald", signal.SIGTERM)
    down_since = time.monotonic()

    status, body = stack.http("GET", "/api/snapshot", origin=stack.proxy_origin)
    assert status == 502, f"nginx answered {status} with Herald (pid {herald_pid}) down: {body!r}"
    p.wait(lambda: p.state() != "live", OUTAGE, "the page to notice that Herald is gone")
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - down_since)))
    outage_log = p.conn_log()

    # The worker saw its EventSource closed for good: Chromium got a 502 on /sse and the worker
    # took its own retry path ("stream closed by server; retrying in N s").
    sse_502 = [u for kind, u, st in p.monitor.responses if kind == "shared_worker" and "/sse?" in u and st == 502]
    assert sse_502, ("no 502 on the worker's /sse during the outage; statuses seen: "
                     + repr(p.monitor.responses[-10:]))
    assert any("stream closed by server" in line for line in outage_log), \
        "the worker never reported its EventSource closed:\n" + "\n".join(outage_log)

    # 4. Herald again, on the same port and database; an event right after the restart.
    stack.start_herald()
    after_restart = p.publish("proxy/after-restart", 3)
    assert after_restart > before_stop > first, (first, before_stop, after_restart)

    # No reload, no kick: only the worker's own backoff brings the stream back.
    p.wait_shown("proxy/after-restart", 3, after_restart, RECOVERY_WAIT)
    p.wait_shown("proxy/before-stop", 2, before_stop, 5)
    p.wait(lambda: p.state() == "live", RECOVERY_WAIT, "the page to be live again")

    # And live from then on, through nginx.
    live = p.publish("proxy/live", 4)
    p.wait_shown("proxy/live", 4, live, 10)

    # Every event once, newest first, and the page's last id caught up with Herald's.
    ids = p.js("return [...document.querySelectorAll('#log li[data-id]')].map((li) => Number(li.dataset.id))")
    assert ids == sorted(set(ids), reverse=True), ids
    assert {before_stop, after_restart, live} <= set(ids), ids
    _, snap = stack.http("GET", "/api/snapshot", origin=stack.proxy_origin)
    wait_until(lambda: p.text("#last-id") == str(snap["lastEventId"]), 5,
               what=f"#last-id to read {snap['lastEventId']} (now {p.text('#last-id')!r})")

    p.report()  # shown with -s: what the badge, the worker's requests and the console went through
