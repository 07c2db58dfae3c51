"""Processes for the dashboard's browser tests: a loopback mosquitto, Herald, an nginx in front of
it (test_behind_proxy) and headless Chromium.

Everything listens on 127.0.0.1 on ports picked at start; everything started here is stopped
by its own pid in close().
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

# Selenium Manager must never try to download a driver or a browser: there is no internet.
os.environ["SE_OFFLINE"] = "true"

REPO = Path(__file__).resolve().parents[2]
WEB_ROOT = Path(os.environ.get("HERALD_WEB_ROOT", REPO / "Web"))
HERALD = Path(os.environ.get("HERALD_BIN", REPO / ".build" / "debug" / "herald"))
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PUB = shutil.which("mosquitto_pub") or "/usr/bin/mosquitto_pub"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")

# Herald's default routes (a `routes:` section replaces them), plus readings on a channel of
# their own, so the dashboard is seen to show readings that are not on `sensors`.
ROUTES = """routes:
  - { topic: "sensors/+/+", channel: sensors, type: reading, key: "{1}/{2}" }
  - { topic: "sensors/#", channel: sensors, type: reading, key: "{#}" }
  - { topic: "jobs/+/progress", channel: jobs, type: progress, kind: job, key: "{1}" }
  - { topic: "alerts/#", channel: alerts, type: alert, kind: alert, key: "{#}" }
  - { topic: "lab/+/+", channel: lab, type: reading, key: "{1}/{2}" }
"""

# The second rule is the demo's (Scripts/run-demo.sh), on the ESPHome node's reading, for the
# screenshot; the tests publish only the first one's key.
ALERT_RULES = """alert_rules:
  - { name: greenhouse-hot, channel: sensors, key: greenhouse/temp, field: value,
      above: 30, clear_below: 29, severity: warning }
  - { name: greenhouse-node-hot, channel: sensors, key: homeassistant/greenhouse/temperature, field: value,
      above: 30, clear_below: 29, severity: warning }
"""


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as err:  # noqa: BLE001 - keep polling; report the last error
            last = err
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def tail(path, lines=30):
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return f"({path} unreadable)"
    return "\n".join(text[-lines:])


class Stack:
    """mosquitto + Herald on free loopback ports, with their files in one temp dir."""

    def __init__(self, alert_rules=True):
        self.tmp = Path(tempfile.mkdtemp(prefix="herald-browser-"))
        self.mqtt_port = free_port()
        self.http_port = free_port()
        self.nginx_port = None
        self.procs = {}
        self.logs = {}
        self.alert_rules_refused = None
        # A private copy, so a `swift build` running meanwhile cannot change the binary under us.
        self.herald = self.tmp / "herald"
        shutil.copy2(HERALD, self.herald)
        self._write_config(alert_rules)

    # -------------------------------------------------------------- config

    def _write_config(self, alert_rules):
        base = f"server:\n  web_root: {json.dumps(str(WEB_ROOT))}\n  keepalive_seconds: 5\n" + ROUTES
        self.config = self.tmp / "herald.yaml"
        if alert_rules:
            self.config.write_text(base + ALERT_RULES)
            check = subprocess.run([str(self.herald), "check-config", str(self.config)],
                                   capture_output=True, text=True, timeout=30)
            if check.returncode == 0:
                return
            # Alert rules are still being built server-side: run the rest of the test without them
            # and let the alert test say why it cannot pass.
            self.alert_rules_refused = (check.stdout + check.stderr).strip()
        self.config.write_text(base)

    # -------------------------------------------------------------- processes

    def _spawn(self, name, argv):
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        handle = open(log, "ab")
        proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=self.tmp)
        handle.close()
        self.procs[name] = proc
        return proc

    def start_mosquitto(self):
        conf = self.tmp / "mosquitto.conf"
        lines = [f"listener {self.mqtt_port} 127.0.0.1", "allow_anonymous true", "persistence false"]
        if os.geteuid() == 0:
            lines.append("user root")
        conf.write_text("\n".join(lines) + "\n")
        self._spawn("mosquitto", [MOSQUITTO, "-c", str(conf)])

        def listening():
            with socket.create_connection(("127.0.0.1", self.mqtt_port), timeout=0.5):
                return True
        wait_until(listening, 10, what="mosquitto to listen")

    def start_herald(self):
        self._spawn("herald", [
            str(self.herald), "serve",
            "--listen", f"127.0.0.1:{self.http_port}",
            "--db", str(self.tmp / "herald.sqlite"),
            "--mqtt", f"mqtt://127.0.0.1:{self.mqtt_port}",
            "--config", str(self.config),
        ])

        proc = self.procs["herald"]
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"herald exited with status {proc.returncode}:\n" + tail(self.logs["herald"]))
            try:
                if self.http("GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("Herald was not ready within 20 s:\n" + tail(self.logs["herald"]))
            time.sleep(0.1)

    def stop(self, name, sig=signal.SIGTERM, timeout=10):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def start_nginx(self):
        """nginx on a free loopback port proxying everything to Herald with what an SSE stream needs,
        from a prefix of its own: config, pid, logs and temp files all in self.tmp / "nginx"."""
        prefix = self.tmp / "nginx"
        prefix.mkdir(exist_ok=True)
        self.nginx_port = free_port()
        self.logs["nginx-error"] = prefix / "error.log"
        self.logs["nginx-access"] = prefix / "access.log"
        temp = "\n".join(f"    {kind}_temp_path {prefix / kind};" for kind in
                         ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = prefix / "nginx.conf"
        conf.write_text(("user root;\n" if os.geteuid() == 0 else "") + f"""daemon off;
master_process off;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    access_log {prefix / "access.log"};
{temp}
    server {{
        listen 127.0.0.1:{self.nginx_port};
        location / {{
            proxy_pass http://127.0.0.1:{self.http_port};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
    }}
}}
""")
        # -e: the error log nginx writes before it has read the configuration.
        proc = self._spawn("nginx", [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")])

        def ready():
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited with status {proc.returncode}:\n" + tail(prefix / "error.log"))
            return self.http("GET", "/readyz", timeout=2, origin=self.proxy_origin)[0] == 200
        try:
            wait_until(ready, 10, what="Herald's /readyz to answer 200 through nginx")
        except TimeoutError as err:
            raise TimeoutError(f"{err}\n" + tail(prefix / "error.log")) from None

    def start_demo(self):
        self._spawn("demo", [str(self.herald), "demo", "--mqtt", f"mqtt://127.0.0.1:{self.mqtt_port}"])

    def close(self, keep_files=False):
        for name in list(self.procs)[::-1]:
            self.stop(name)
        if not keep_files:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -------------------------------------------------------------- clients

    @property
    def origin(self):
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def proxy_origin(self):
        return f"http://127.0.0.1:{self.nginx_port}"

    def http(self, method, path, body=None, timeout=5, origin=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request((origin or self.origin) + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                raw = res.read()
                status = res.status
        except urllib.error.HTTPError as err:
            raw = err.read()
            status = err.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def publish(self, topic, payload, retain=False):
        argv = [MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(self.mqtt_port), "-t", topic, "-q", "1",
                "-m", payload if isinstance(payload, str) else json.dumps(payload)]
        if retain:
            argv.append("-r")
        subprocess.run(argv, check=True, timeout=10, capture_output=True)


def tear_down(stack, driver, monitor, failed):
    """Ends a test's browser and servers; after a failure, prints the servers' logs and keeps
    their files for a look."""
    if failed:
        for name, log in stack.logs.items():
            print(f"----- {name} log ({log}) -----\n{tail(log)}")
    if monitor:
        monitor.close()
    if driver:
        driver.quit()
    stack.close(keep_files=failed)  # every server, each by its pid
    if failed:
        print(f"files kept in {stack.tmp}")


def running_stack(request, prepare):
    """A module's mosquitto, Herald and browser: `prepare(stack, driver, monitor)` makes what its
    tests are given (a generator for a fixture to `yield from`). All of it is torn down after;
    the servers' logs are printed if any test failed."""
    stack = Stack()
    driver = monitor = None
    try:
        stack.start_mosquitto()
        stack.start_herald()
        driver = make_driver(stack.tmp)
        monitor = CdpMonitor(driver)
        yield prepare(stack, driver, monitor)
    finally:
        tear_down(stack, driver, monitor, failed=request.session.testsfailed > 0)


def make_driver(tmp, width=1280, height=900):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        f"--window-size={width},{height}", f"--user-data-dir={tmp / 'chrome-profile'}",
        "--no-first-run", "--no-default-browser-check", "--disable-extensions",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only",
        "--force-color-profile=srgb", "--hide-scrollbars", "--lang=en-GB",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    opts.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp / "chromedriver.log"))
    driver = webdriver.Chrome(options=opts, service=service)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(10)
    return driver


class CdpMonitor:
    """Watches every worker of the browser over the DevTools protocol.

    ChromeDriver's logs only cover the page; the dashboard's stream runs in a SharedWorker by
    default, so its requests and errors are collected here: the browser target auto-attaches to
    each worker (paused until Network and Runtime are enabled on it) and this thread records
    every request URL and every error it reports.
    """

    WORKER_TYPES = ("shared_worker", "service_worker", "worker")

    def __init__(self, driver):
        import threading
        import websocket  # websocket-client, which Selenium depends on

        address = driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
        with urllib.request.urlopen(f"http://{address}/json/version", timeout=5) as res:
            ws_url = json.loads(res.read())["webSocketDebuggerUrl"]
        self.ws = websocket.create_connection(ws_url, timeout=5, suppress_origin=True)
        self.lock = threading.Lock()
        self.next_id = 0
        self.requests = []   # (target type, url)
        self.responses = []  # (target type, url, HTTP status)
        self.errors = []     # (target type, text, ms since the epoch)
        self.targets = {}    # sessionId -> target info
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self.send("Target.setAutoAttach", {
            "autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True,
            "filter": [{"type": t, "exclude": False} for t in self.WORKER_TYPES] + [{"exclude": True}],
        })

    def send(self, method, params=None, session=None):
        with self.lock:
            self.next_id += 1
            msg = {"id": self.next_id, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            self.ws.send(json.dumps(msg))

    def _read(self):
        import websocket
        while not self.closed:
            try:
                raw = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:  # noqa: BLE001 - the browser went away
                return
            try:
                self._handle(json.loads(raw))
            except Exception as err:  # noqa: BLE001
                self._error("monitor", f"could not handle a DevTools message: {err!r}")

    def _handle(self, msg):
        method, params, session = msg.get("method"), msg.get("params", {}), msg.get("sessionId")
        kind = self.targets.get(session, {}).get("type", "?")
        if method == "Target.attachedToTarget":
            sid = params["sessionId"]
            self.targets[sid] = params["targetInfo"]
            for m in ("Network.enable", "Runtime.enable", "Log.enable"):
                self.send(m, session=sid)
            self.send("Runtime.runIfWaitingForDebugger", session=sid)
        elif method == "Network.requestWillBeSent":
            self.requests.append((kind, params["request"]["url"]))
        elif method == "Network.responseReceived":
            self.responses.append((kind, params["response"]["url"], params["response"]["status"]))
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            text = d.get("exception", {}).get("description") or d.get("text", "exception")
            self._error(kind, text)
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = [a.get("value", a.get("description", "")) for a in params.get("args", [])]
            self._error(kind, "console.error: " + " ".join(map(str, args)))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            e = params["entry"]
            self._error(kind, f"{e.get('source')}: {e.get('text')} {e.get('url', '')}".strip())

    def _error(self, kind, text):
        self.errors.append((kind, text, time.time() * 1000))

    def close(self):
        self.closed = True
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass
