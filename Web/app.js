// Herald dashboard, the page's entry module: applies the stream's events to the cards, tiles,
// jobs, alerts and log. The stream is js/stream.js (in the SharedWorker, worker.js, or here);
// the chart, alert history, job history and theme are modules of their own in js/.
import { HeraldStream, fetchJSON } from "./js/stream.js";
import { h, parts, breakable, svg, setText } from "./js/dom.js";
import { obj, fmtNum, valueOf, numeric, words, display, label, ago, duration, clockText } from "./js/format.js";
import { setUpChart, openChart, chartEvent } from "./js/chart.js";
import { setUpAlerts, alertEvents, notifyRaised } from "./js/alerts.js";
import { setUpNotifySwitch } from "./js/notifyswitch.js";
import { setUpJobHistory, jobFinished } from "./js/jobs.js";
import { setUpThemeSwitch } from "./js/theme.js";

// Set to false (or open the page with ?worker=0) to give every tab its own EventSource.
const USE_SHARED_WORKER = true;
// Bump when the tab <-> worker protocol changes: an old worker lives on while any tab uses it.
const WORKER_URL = "worker.js?v=2";

const POINTS_CAP = 120;
const HISTORY_WANTED = 60;
const LOG_CAP = 500;
const PENDING_CAP = 50000;
const JOB_KEEP_MS = 10 * 60 * 1000;
const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };
const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
const JOB_STATES = new Set(["queued", "running", ...FINISHED]);
const CONN_LABEL = { live: "live", reconnecting: "reconnecting", offline: "offline", syncing: "syncing", auth: "signed out" };
const AVAILABILITY = new Set(["online", "offline", "unknown"]);
// Device classes in the order a person looks for them on a card; other readings follow.
const CLASS_ORDER = [
  "temperature", "humidity", "pressure", "carbon_dioxide", "co2", "pm25", "pm10", "volatile_organic_compounds",
  "illuminance", "power", "energy", "current", "voltage", "frequency", "power_factor",
  "contact", "door", "window", "opening", "garage_door", "lock", "occupancy", "motion", "presence",
  "water_leak", "moisture", "smoke", "gas", "carbon_monoxide", "vibration", "tamper", "battery",
];
// Link and radio figures: useful when something is wrong, so they go last.
const DIAGNOSTIC = new Set(["linkquality", "rssi", "signal_strength", "wifi_signal", "wifi_quality", "uptime", "duration"]);

const S = {
  conn: "syncing", synced: false, pending: [], lastApplied: 0,
  broker: null, sensors: new Map(), devices: new Map(), jobs: new Map(), alerts: new Map(), alertHistoryLoaded: false,
  jobChannels: new Set(["jobs"]), alertChannels: new Set(["alerts"]),
  // Channels whose events are readings: "sensors", and any channel once a reading-like event came on it.
  readingChannels: new Set(["sensors"]),
  channels: new Set(), logIncoming: [], logQueue: [], logPaused: false, logFilter: "",
  epsCount: 0, eps: [], dateOffset: null, latencies: [],
};
const dirty = { sensors: new Set(), sensorOrder: false, devices: new Set(), deviceOrder: false, jobs: false, alerts: false };
let ui = {};
let cardObserver = null;
let transport = { mode: "none", kick() {}, hello() {} };
let renderQueued = false;
let loginWait = null;
// A push notification's click opened this window for an alert (sw.js): focused once it is drawn.
let alertToFocus = new URLSearchParams(location.search).get("alert");

// Gateways often boot without a real-time clock, so "updated 5 s ago" is measured on the
// server's clock: the Date header of the snapshot, else the smallest observed delivery delay.
function localTime(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return Date.now();
  const off = S.dateOffset != null ? S.dateOffset : S.latencies.length ? Math.min(...S.latencies) : 0;
  return Math.min(Date.now(), t + off);
}

// ------------------------------------------------------------------ applying events

function onStreamMsg(m) {
  if (!m || typeof m !== "object") return;
  if (m.kind === "state") setConn(m.state, m.detail);
  else if (m.kind === "reset") {
    S.synced = false;
    S.pending = [];
    document.body.dataset.synced = "false";
    if (m.info) notice(`Stream reset (${m.info.reason || "unknown"}); reloading snapshot.`);
  } else if (m.kind === "snapshot") applySnapshot(m);
  else if (m.kind === "channels") (m.channels || []).forEach(addChannel);
  else if (m.kind === "event" && m.env) {
    if (S.synced) applyEvent(m.env);
    else if (S.pending.push(m.env) > PENDING_CAP) S.pending.shift();
  }
}

function applySnapshot(m) {
  const snap = obj(m.snapshot);
  if (Number.isFinite(m.serverDate)) S.dateOffset = m.localDate - m.serverDate - 500; // Date has 1 s resolution
  (m.channels || []).forEach(addChannel);
  const events = (Array.isArray(snap.events) ? snap.events : []).filter((e) => e && typeof e === "object");
  events.sort((a, b) => (a.id || 0) - (b.id || 0));
  // Jobs and alerts are replaced wholesale; sensors and devices keep their sparkline history.
  S.jobs.clear();
  S.alerts.clear();
  // Records first: they also name the channels that hold jobs and alerts.
  const jobEnvs = (Array.isArray(snap.jobs) ? snap.jobs : []).map(jobEnvelope);
  const alertEnvs = (Array.isArray(snap.alerts) ? snap.alerts : []).map(alertEnvelope);
  // Devices before events, so each reading event finds the device it belongs to.
  if (Array.isArray(snap.devices)) applyDeviceRecords(snap.devices);
  for (const s of S.sensors.values()) s.kept = false;
  events.forEach(route);
  jobEnvs.forEach(route);
  alertEnvs.forEach(route);
  for (const [id, s] of [...S.sensors]) if (!s.kept) S.sensors.delete(id);
  if (!S.alertHistoryLoaded) loadAlertHistory();
  const maxId = events.reduce((mx, e) => (Number.isInteger(e.id) && e.id > mx ? e.id : mx), 0);
  S.lastApplied = Number.isInteger(snap.lastEventId) ? snap.lastEventId : maxId;
  S.synced = true;
  document.body.dataset.synced = "true";
  const pending = S.pending;
  S.pending = [];
  for (const env of pending) applyEvent(env);
  for (const s of S.sensors.values()) queueHistory(s);
  for (const dev of S.devices.values()) dev.readings.forEach(wantHistory);
  Object.assign(dirty, { sensorOrder: true, deviceOrder: true, jobs: true, alerts: true });
  S.sensors.forEach((s) => dirty.sensors.add(s));
  S.devices.forEach((dev) => dirty.devices.add(dev));
  schedule();
}

// The snapshot lists jobs and active alerts as records (GET /api/jobs, /api/alerts); these turn
// one into the envelope of its last event, so it is applied like a live event.
function jobEnvelope(x) {
  if (!x || typeof x !== "object" || x.key == null) return null;
  const channel = typeof x.channel === "string" && x.channel ? x.channel : "jobs";
  S.jobChannels.add(channel);
  return {
    id: x.lastEventId, channel, type: "progress", key: x.key, time: x.updatedAt, record: true,
    data: {
      state: x.state, progress: x.progress, message: x.message, done: x.done, total: x.total,
      started_at: x.startedAt, updated_at: x.updatedAt, rate: x.rate, eta_seconds: x.etaSeconds,
    },
  };
}
function alertEnvelope(x) {
  if (!x || typeof x !== "object" || x.id == null) return null;
  const channel = typeof x.channel === "string" && x.channel ? x.channel : "alerts";
  S.alertChannels.add(channel);
  const acked = x.ackedAt != null;
  return {
    id: x.lastEventId, channel, type: acked ? "acked" : x.state, key: x.id, time: acked ? x.ackedAt : x.raisedAt,
    data: {
      alertId: x.id, rule: x.rule, severity: x.severity, message: x.message, value: x.value, threshold: x.threshold,
      state: x.state, sensorKey: x.key, raisedAt: x.raisedAt, ackedAt: x.ackedAt,
    },
  };
}

function applyEvent(env) {
  if (Number.isInteger(env.id)) {
    if (env.id <= S.lastApplied) return; // replayed or already in the snapshot
    S.lastApplied = env.id;
  }
  const t = Date.parse(env.time);
  if (!Number.isNaN(t) && S.latencies.push(Date.now() - t) > 32) S.latencies.shift();
  route(env);
  const isAlert = S.alertChannels.has(env.channel);
  if (isAlert) {
    alertEvents([env]);
    if (env.type === "raised") notifyRaised(env);
  } else if (S.jobChannels.has(env.channel) && FINISHED.has(obj(env.data).state)) jobFinished();
  chartEvent(env, isAlert);
  S.epsCount++;
  if (S.logPaused) {
    if (S.logQueue.push(env) > LOG_CAP) S.logQueue.shift();
  } else if (S.logIncoming.push(env) > LOG_CAP) S.logIncoming.shift();
  schedule();
}

function route(env) {
  if (!env) return;
  addChannel(env.channel);
  if (env.channel === "$status") {
    const d = obj(env.data);
    S.broker = { state: String(d.state ?? env.type ?? "unknown"), reason: d.reason ? String(d.reason) : "" };
  } else if (S.jobChannels.has(env.channel) || looksLikeJob(env)) applyJob(env);
  else if (S.alertChannels.has(env.channel)) applyAlert(env);
  else if (env.type === "device") applyDeviceEvent(env);
  else if (env.type === "availability" || env.type === "offline") applyAvailability(env);
  else applyReading(env);
}

// A source's jobs channel can be renamed (sources.jobs_channel): a job update tells it by its
// shape, the states Herald tracks jobs in. A channel already known for readings stays one.
function looksLikeJob(env) {
  if (env.type !== "progress" || !JOB_STATES.has(obj(env.data).state)) return false;
  if (S.readingChannels.has(env.channel) || S.alertChannels.has(env.channel)) return false;
  S.jobChannels.add(env.channel);
  return true;
}

function isReadingLike(env) {
  const d = env.data;
  return env.type === "reading" || env.type === "stale" || env.type === "fresh" ||
    (d != null && typeof d === "object" && !Array.isArray(d) && "value" in d);
}

// A device's reading goes to its card; anything else reading-like becomes a tile, on any channel.
function applyReading(env) {
  const key = String(env.key ?? "");
  const owner = ownerOf(env.channel, key);
  if (owner) return applyDeviceReading(owner.dev, owner.name, env);
  if (isReadingLike(env)) S.readingChannels.add(env.channel);
  else if (!S.readingChannels.has(env.channel)) return; // only in the log
  applySensor(env);
}

function newReading(channel, key) {
  return { channel, key, value: undefined, unit: "", text: null, at: 0, time: "", stale: false,
    points: [], lastId: 0, history: null, el: null, kept: true, device: null, name: "" };
}

function applySensor(env) {
  const channel = String(env.channel ?? "");
  const key = String(env.key ?? "");
  const id = `${channel}\n${key}`; // one key may be used on several channels
  let s = S.sensors.get(id);
  if (!s) {
    s = newReading(channel, key);
    S.sensors.set(id, s);
    dirty.sensorOrder = true;
  }
  s.kept = true;
  if (Number.isInteger(env.id) && env.id > s.lastId) s.lastId = env.id;
  if (env.type === "stale") s.stale = true;
  else if (env.type === "fresh") s.stale = false;
  else takeReading(s, env, true);
  dirty.sensors.add(s);
  if (S.synced) queueHistory(s);
}

function takeReading(s, env, addPoint) {
  const v = valueOf(env.data);
  if (v === undefined) return;
  const d = obj(env.data);
  s.value = v;
  if (typeof d.unit === "string") s.unit = d.unit;
  s.text = typeof d.text === "string" ? d.text : null;
  s.time = env.time;
  s.at = localTime(env.time);
  s.stale = false; // a reading is fresh by definition
  const n = numeric(v);
  if (addPoint && n != null && Number.isInteger(env.id)) mergePoints(s, [{ id: env.id, v: n }]);
}

function mergePoints(s, pts) {
  const last = s.points[s.points.length - 1];
  if (pts.length === 1 && (!last || pts[0].id > last.id)) s.points.push(pts[0]);
  else {
    const byId = new Map(s.points.concat(pts).map((p) => [p.id, p]));
    s.points = [...byId.values()].sort((a, b) => a.id - b.id);
  }
  if (s.points.length > POINTS_CAP) s.points.splice(0, s.points.length - POINTS_CAP);
}

// ------------------------------------------------------------------ devices

// Device ids hold "/" (zigbee2mqtt/living_room/climate), so a reading's key is split at the
// longest known device id it starts with: the rest is the reading's name.
function ownerOf(channel, key) {
  for (let cut = key.lastIndexOf("/"); cut > 0; cut = key.lastIndexOf("/", cut - 1)) {
    const dev = S.devices.get(key.slice(0, cut));
    if (dev && dev.channel === channel) return { dev, name: key.slice(cut + 1) };
  }
  return null;
}

function ensureDevice(id, channel) {
  let dev = S.devices.get(id);
  if (!dev) {
    dev = { id, channel, name: id, source: id.split("/")[0], model: "", vendor: "", availability: "unknown",
      since: 0, lastSeen: 0, specs: {}, readings: new Map(), visible: false, el: null };
    S.devices.set(id, dev);
    dirty.deviceOrder = true;
    adoptTiles(dev);
  } else if (channel && channel !== dev.channel) {
    dev.channel = channel; // its source was moved to another channel
    adoptTiles(dev);
  }
  dirty.devices.add(dev);
  return dev;
}

// Readings that came before their device was known became tiles; they move onto its card.
function adoptTiles(dev) {
  for (const [id, s] of S.sensors) {
    const owner = ownerOf(s.channel, s.key);
    if (!owner || owner.dev !== dev || dev.readings.has(owner.name)) continue;
    S.sensors.delete(id);
    Object.assign(s, { device: dev, name: owner.name, el: null, r: null });
    dev.readings.set(owner.name, s);
    dirty.sensorOrder = true;
  }
}

function removeDevice(dev) {
  S.devices.delete(dev.id);
  if (dev.el && cardObserver) cardObserver.unobserve(dev.el);
  dirty.deviceOrder = true;
}

// The description part of a device event or record: name, source, model, vendor.
function describe(dev, d) {
  const str = (v) => (typeof v === "string" ? v : "");
  const name = str(d.name) || dev.id;
  if (name !== dev.name) dirty.deviceOrder = true;
  dev.name = name;
  dev.source = str(d.source) || dev.source;
  dev.model = str(d.model);
  dev.vendor = str(d.vendor);
}

// GET /api/snapshot's devices: who exists now, with availability and latest readings.
function applyDeviceRecords(list) {
  const listed = new Set();
  for (const x of list) {
    if (!x || typeof x !== "object" || typeof x.id !== "string" || !x.id) continue;
    const dev = ensureDevice(x.id, typeof x.channel === "string" && x.channel ? x.channel : "sensors");
    listed.add(dev);
    describe(dev, x);
    dev.availability = AVAILABILITY.has(x.availability) ? x.availability : "unknown";
    dev.since = x.availabilitySince ? localTime(x.availabilitySince) : 0;
    const readings = obj(x.readings);
    for (const name of [...dev.readings.keys()]) if (!(name in readings)) dev.readings.delete(name);
    for (const [name, rd] of Object.entries(readings)) applyRecordReading(dev, name, obj(rd));
    if (x.lastSeen) dev.lastSeen = localTime(x.lastSeen);
  }
  for (const dev of [...S.devices.values()]) if (!listed.has(dev)) removeDevice(dev);
}

function applyRecordReading(dev, name, rd) {
  const spec = obj(dev.specs[name]);
  dev.specs[name] = {
    ...spec,
    ...(typeof rd.unit === "string" && { unit: rd.unit }),
    ...(typeof rd.deviceClass === "string" && { deviceClass: rd.deviceClass }),
  };
  applyDeviceReading(dev, name, {
    id: rd.eventId, channel: dev.channel, type: "reading", key: `${dev.id}/${name}`, time: rd.time,
    data: { value: rd.value, unit: rd.unit, text: rd.text },
  });
}

// A `device` event: the whole description, sent when a device is first seen or changes.
function applyDeviceEvent(env) {
  const d = obj(env.data);
  const id = String(d.id ?? env.key ?? "");
  if (!id) return;
  const dev = ensureDevice(id, env.channel);
  describe(dev, d);
  if (d.readings && typeof d.readings === "object") {
    dev.specs = {};
    for (const [name, spec] of Object.entries(d.readings)) dev.specs[name] = obj(spec);
    // The description lists every reading the source keeps; one it dropped leaves the card.
    for (const name of [...dev.readings.keys()]) if (!(name in dev.specs)) dev.readings.delete(name);
  }
}

function applyAvailability(env) {
  const id = String(env.key ?? "");
  if (!id) return;
  const dev = ensureDevice(id, env.channel);
  const a = obj(env.data).availability;
  dev.availability = AVAILABILITY.has(a) ? a : "unknown";
  dev.since = localTime(env.time);
  if (dev.availability === "online") dev.lastSeen = Math.max(dev.lastSeen, dev.since);
}

function applyDeviceReading(dev, name, env) {
  let r = dev.readings.get(name);
  if (!r) {
    r = Object.assign(newReading(dev.channel, String(env.key ?? "")), { device: dev, name });
    dev.readings.set(name, r);
  }
  if (Number.isInteger(env.id) && env.id > r.lastId) r.lastId = env.id;
  if (env.type === "stale") r.stale = true;
  else if (env.type === "fresh") r.stale = false;
  else {
    takeReading(r, env, true);
    dev.lastSeen = Math.max(dev.lastSeen, r.at);
  }
  dirty.devices.add(dev);
  wantHistory(r);
}

// A card's sparklines load once it is on screen (or near it): a gateway may have hundreds of devices.
function wantHistory(r) {
  if (S.synced && r.device.visible && numeric(r.value) != null) queueHistory(r);
}

function cardsVisible(entries) {
  for (const e of entries) {
    const dev = e.isIntersecting && e.target.device;
    if (!dev) continue;
    dev.visible = true;
    cardObserver.unobserve(e.target);
    dev.readings.forEach(wantHistory);
  }
}

function specWord(dev, r) {
  const spec = obj(dev.specs[r.name]);
  const word = r.value === true ? spec.true : r.value === false ? spec.false : null;
  return typeof word === "string" ? word : null;
}

function readingRank(dev, r) {
  const described = r.name in dev.specs;
  const cls = obj(dev.specs[r.name]).deviceClass;
  if (DIAGNOSTIC.has(r.name) || DIAGNOSTIC.has(cls)) return 300;
  // A snapshot describes only readings that had a value; for one that came later, the name
  // often is the class (contact, battery, power).
  const i = CLASS_ORDER.indexOf(described ? cls : r.name);
  if (i >= 0) return i;
  if (cls) return 100;
  return numeric(r.value) != null ? 200 : 250;
}

function applyJob(env) {
  const d = obj(env.data);
  const key = String(env.key ?? d.id ?? env.id);
  const known = S.jobs.get(key);
  // A snapshot's job record repeats the job's last event, less its name and a source's own
  // estimate: once that event is applied, the record adds nothing.
  if (env.record && known && Number.isInteger(env.id) && known.lastId >= env.id) return;
  const j = known || { key, first: env.id || 0, el: null, name: key };
  if (Number.isInteger(env.id)) j.lastId = env.id;
  if (typeof d.name === "string" && d.name) j.name = d.name;
  j.state = String(d.state ?? env.type ?? "unknown");
  const done = numeric(d.done), total = numeric(d.total);
  let pct = numeric(d.progress);
  if (pct == null && total > 0 && done != null) pct = (done / total) * 100;
  if (pct == null) pct = j.state === "succeeded" ? 100 : j.pct ?? 0;
  j.pct = Math.round(Math.min(100, Math.max(0, pct)));
  j.done = done;
  j.total = total;
  // Herald's rate counts `done` units per second when the job reports them, else percent.
  j.rate = numeric(d.rate);
  j.rateUnit = done != null && total != null ? "/s" : " %/s";
  j.message = d.message == null ? "" : String(d.message);
  j.at = localTime(env.time);
  j.startedAt = typeof d.started_at === "string" ? localTime(d.started_at) : j.startedAt ?? null;
  // A device's own estimate (a printer's time left) beats Herald's, which assumes a steady rate.
  const eta = numeric(d.remaining_seconds) ?? numeric(d.eta_seconds);
  j.etaAt = eta != null ? j.at + eta * 1000 : null;
  j.finishedAt = FINISHED.has(j.state) ? j.finishedAt || j.at : null;
  dirty.jobs = true;
  if (j.finishedAt && Date.now() - j.finishedAt > JOB_KEEP_MS) return void S.jobs.delete(key);
  S.jobs.set(key, j);
}

// Alert events carry the alert's whole state (Herald's rules and acknowledgements) or only what
// a device reported (alert routes), so a field an event leaves out keeps its previous value.
function applyAlert(env) {
  const d = obj(env.data);
  const key = String(env.key ?? d.alertId ?? d.rule ?? env.id);
  const state = String(d.state ?? (env.type === "cleared" ? "cleared" : "raised"));
  const known = S.alerts.get(key);
  const given = (k) => d[k] !== undefined && d[k] !== null;
  if (state === "cleared") S.alerts.delete(key);
  else {
    const a = known || { key, el: null, busy: false, error: "", acked: false };
    if (env.type === "raised") a.acked = false;
    if (env.type === "acked" || given("ackedAt") || d.acked === true) a.acked = true;
    a.state = state;
    a.ackId = String(d.alertId ?? a.ackId ?? key);
    a.rule = String(d.rule ?? a.rule ?? key);
    a.severity = String(d.severity ?? a.severity ?? "info");
    a.message = given("message") ? String(d.message) : a.message ?? "";
    if (given("value")) a.value = d.value;
    if (given("threshold")) a.threshold = d.threshold;
    if (given("sensorKey")) a.sensorKey = String(d.sensorKey);
    // "raised 2 min ago" keeps counting from the raise, not from an acknowledgement.
    const raised = given("raisedAt") ? d.raisedAt : env.type === "acked" && known ? a.time : env.time;
    a.time = raised;
    a.at = localTime(raised);
    S.alerts.set(key, a);
  }
  dirty.alerts = true;
}

// The alert channels' stored events, once per page: the history view starts with them and the
// stream adds to it. Learnt channels, not a fixed name: a source may have an alert channel of its own.
async function loadAlertHistory() {
  S.alertHistoryLoaded = true;
  for (const channel of S.alertChannels) {
    try {
      const { body } = await api("api/events?" + new URLSearchParams({ channel, limit: "1000" }));
      alertEvents((body && body.events) || []);
    } catch (err) {
      notice(`Could not load the alert history of ${channel}: ${err.message}`);
    }
  }
}

function addChannel(name) {
  if (typeof name !== "string" || !name || S.channels.has(name)) return;
  S.channels.add(name);
  const opts = [...ui.filter.options].slice(1);
  const before = opts.find((o) => o.value > name) || null;
  ui.filter.insertBefore(h("option", { value: name, text: name }), before);
}

// ------------------------------------------------------------------ sparkline history

const historyQueue = [];
let historyActive = 0;
function queueHistory(s) {
  if (s.history || !s.lastId) return;
  s.history = "queued";
  historyQueue.push(s);
  pumpHistory();
}
function pumpHistory() {
  while (historyActive < 3 && historyQueue.length) {
    const s = historyQueue.shift();
    historyActive++;
    loadHistory(s)
      .catch((err) => { s.history = "failed"; notice(`Could not load history for ${s.key}: ${err.message}`); })
      .finally(() => { historyActive--; pumpHistory(); });
  }
}
const isReading = (e) => e && e.type !== "stale" && e.type !== "fresh" && valueOf(e.data) !== undefined;

// Without `after`, /api/events answers the key's newest events, oldest first: one request.
async function loadHistory(s) {
  const q = new URLSearchParams({ channel: s.channel, key: s.key, limit: String(HISTORY_WANTED) });
  const { body } = await api("api/events?" + q);
  const page = body && Array.isArray(body.events) ? body.events : [];
  const readings = page.filter((e) => e && Number.isInteger(e.id) && e.key === s.key && isReading(e));
  // The snapshot may hold only a "stale" marker for this key; recover the value from history.
  if (s.value === undefined && readings.length) {
    const wasStale = s.stale;
    takeReading(s, readings[readings.length - 1], false);
    s.stale = wasStale;
  }
  const pts = readings.map((e) => ({ id: e.id, v: numeric(valueOf(e.data)) })).filter((p) => p.v != null);
  mergePoints(s, pts);
  s.history = "done";
  touch(s);
  schedule();
}

function touch(s) {
  if (s.device) dirty.devices.add(s.device);
  else dirty.sensors.add(s);
}

// ------------------------------------------------------------------ rendering

function schedule() {
  if (renderQueued) return;
  renderQueued = true;
  // rAF stalls in background tabs; the timer keeps hidden tabs' buffers from growing.
  if (document.hidden) setTimeout(render, 250);
  else requestAnimationFrame(render);
}

function render() {
  renderQueued = false;
  const now = Date.now();
  setText(ui.lastId, S.lastApplied ? String(S.lastApplied) : "—");
  const b = S.broker;
  ui.broker.dataset.state = b ? b.state : "unknown";
  setText(ui.broker, b ? b.state : "unknown");
  setText(ui.brokerReason, b && b.reason ? b.reason : "");
  for (const s of dirty.sensors) if (!s.device) renderSensor(s, now); // a tile may have moved onto a card
  dirty.sensors.clear();
  if (dirty.sensorOrder) renderSensorOrder(now);
  for (const dev of dirty.devices) if (S.devices.get(dev.id) === dev) renderDevice(dev, now);
  dirty.devices.clear();
  if (dirty.deviceOrder) renderDeviceOrder(now);
  // With devices but no plain readings, an empty "Sensors" panel would only take room.
  ui.devicesPanel.hidden = S.devices.size === 0;
  ui.sensorsPanel.hidden = S.devices.size > 0 && S.sensors.size === 0;
  if (dirty.jobs) renderJobs(now);
  if (dirty.alerts) renderAlerts(now);
  if (alertToFocus && S.synced) { focusAlert(alertToFocus); alertToFocus = null; }
  renderLog();
}

function renderSensorOrder(now) {
  dirty.sensorOrder = false;
  // "sensors" first, as before there were other channels; then by channel and key.
  const rank = (s) => `${s.channel === "sensors" ? 0 : 1}${s.channel}\n${s.key}`;
  const list = [...S.sensors.values()].sort((x, y) => (rank(x) < rank(y) ? -1 : rank(x) > rank(y) ? 1 : 0));
  list.forEach((s) => s.el || renderSensor(s, now));
  reorder(ui.sensors, list.map((s) => s.el));
  ui.sensorsEmpty.hidden = list.length > 0;
}

function renderDeviceOrder(now) {
  dirty.deviceOrder = false;
  // By name, not by state: a card that jumped whenever a device dropped off would be hard to find.
  const list = [...S.devices.values()].sort((a, b) => a.name.localeCompare(b.name) || (a.id < b.id ? -1 : 1));
  list.forEach((dev) => dev.el || renderDevice(dev, now));
  reorder(ui.devices, list.map((dev) => dev.el));
  setText(ui.deviceCount, String(list.length));
}

// Moves only nodes that are out of place, so a focused button is not blurred needlessly.
function reorder(list, nodes) {
  let cur = list.firstElementChild;
  for (const n of nodes) {
    if (n === cur) cur = cur.nextElementSibling;
    else list.insertBefore(n, cur);
  }
  while (cur) {
    const next = cur.nextElementSibling;
    cur.remove();
    cur = next;
  }
}

function makeSpark() {
  const line = svg("polyline", { class: "line", points: "" });
  // A zero-length stroke with round caps: a round dot however the sparkline is stretched.
  const dot = svg("path", { class: "dot", d: "" });
  const title = svg("title");
  const spark = svg("svg", { class: "spark empty", viewBox: "0 0 100 30", preserveAspectRatio: "none", role: "img" });
  spark.append(title, line, dot);
  return { spark, line, dot, title };
}

function renderSensor(s, now) {
  if (!s.el) {
    s.r = { ...parts({ value: "span.value", unit: "span.unit", age: "time.age" }), ...makeSpark() };
    s.r.badge = h("span", { class: "stale-badge", text: "stale" });
    s.r.open = h("button", { type: "button", class: "open-chart", "data-testid": "open-chart", "aria-label": `${s.key}: chart` }, ...breakable(s.key));
    s.r.open.addEventListener("click", () => openChart({ channel: s.channel, key: s.key, unit: s.unit, name: s.key }));
    const meta = [s.r.badge, s.r.age];
    if (s.channel !== "sensors") meta.unshift(h("span", { class: "chip", title: "channel", text: s.channel }));
    s.el = h("li", { class: "tile", "data-sensor-key": s.key, "data-channel": s.channel },
      h("h3", { class: "key", title: s.key }, s.r.open),
      h("p", { class: "reading" }, s.r.value, " ", s.r.unit),
      s.r.spark,
      h("p", { class: "meta" }, ...meta));
  }
  s.el.classList.toggle("stale", s.stale);
  s.el.dataset.stale = String(s.stale);
  s.r.badge.hidden = !s.stale;
  // An object without a value is summarised in small type, never shown as JSON.
  const scalar = words(s.value, s.text) != null;
  s.r.value.classList.toggle("summary", s.value != null && !scalar);
  setText(s.r.value, display(s.value, s.text));
  setText(s.r.unit, scalar && s.unit ? s.unit : "");
  s.r.age.setAttribute("datetime", s.time || "");
  setText(s.r.age, s.at ? `updated ${ago(now - s.at)}` : "no reading yet");
  drawSpark(s);
}

function renderDevice(dev, now) {
  if (!dev.el) buildDevice(dev);
  const r = dev.r;
  dev.el.classList.toggle("offline", dev.availability === "offline");
  dev.el.dataset.availability = dev.availability;
  r.badge.dataset.state = dev.availability;
  setText(r.badge, dev.availability);
  if (r.shownName !== dev.name) {
    r.shownName = dev.name;
    r.name.replaceChildren(...breakable(dev.name));
    r.list.setAttribute("aria-label", `${dev.name} readings`);
  }
  r.name.title = dev.id;
  setText(r.source, dev.source);
  setText(r.model, [dev.vendor, dev.model].filter(Boolean).join(" "));
  r.model.hidden = !dev.vendor && !dev.model;
  const shown = [...dev.readings.values()]
    .sort((a, b) => readingRank(dev, a) - readingRank(dev, b) || a.name.localeCompare(b.name))
    .filter((rd) => renderDeviceReading(dev, rd));
  reorder(r.list, shown.map((rd) => rd.el));
  r.empty.hidden = shown.length > 0;
  renderSeen(dev, now);
}

function buildDevice(dev) {
  const r = parts({ name: "h3.device-name", source: "span.source", model: "span.model",
    list: "ul.device-readings", empty: "p.empty", seen: "time.seen" });
  r.badge = h("span", { class: "badge", "data-testid": "device-availability" });
  r.source.title = "source";
  r.empty.textContent = "No readings yet.";
  dev.r = r;
  dev.el = h("li", { class: "device", "data-testid": "device-card", "data-device-id": dev.id },
    h("div", { class: "device-head" }, r.name, r.badge),
    h("p", { class: "device-meta" }, r.source, r.model),
    r.list, r.empty,
    h("p", { class: "device-foot" }, r.seen));
  dev.el.device = dev;
  if (cardObserver) cardObserver.observe(dev.el);
  else dev.visible = true;
}

// Offline cards say when the device was last heard of; online ones when it last reported.
function renderSeen(dev, now) {
  const r = dev.r;
  const seen = dev.lastSeen ? ago(now - dev.lastSeen) : "";
  let text;
  if (dev.availability === "online") text = seen ? `updated ${seen}` : "online, no readings yet";
  else text = seen ? `last seen ${seen}` : "never seen";
  r.seen.setAttribute("datetime", dev.lastSeen ? new Date(dev.lastSeen).toISOString() : "");
  setText(r.seen, text);
}

// False when the reading has nothing to show as words (an object or a list): it gets no row.
function renderDeviceReading(dev, rd) {
  const text = words(rd.value, rd.text || specWord(dev, rd));
  if (text == null) return false;
  if (!rd.el) {
    rd.r = { ...parts({ value: "span.value", unit: "span.unit" }), ...makeSpark() };
    rd.r.value.setAttribute("data-testid", "reading-value");
    // The reading's name opens its chart; a button, so keyboards and screen readers reach it.
    rd.r.open = h("button", { type: "button", class: "label", title: `${rd.name}: chart`, "data-testid": "open-chart", text: label(rd.name) });
    rd.r.open.addEventListener("click", () => openChart({ channel: rd.channel, key: rd.key, device: dev.id,
      unit: rd.unit || obj(dev.specs[rd.name]).unit || "", name: `${dev.name} · ${label(rd.name)}` }));
    rd.el = h("li", { class: "device-reading", "data-testid": "device-reading", "data-reading": rd.name },
      rd.r.open,
      h("span", { class: "reading" }, rd.r.value, " ", rd.r.unit),
      rd.r.spark);
  }
  const isNumber = typeof rd.value !== "boolean" && numeric(rd.value) != null;
  rd.el.dataset.kind = isNumber ? "number" : typeof rd.value === "boolean" ? "boolean" : "text";
  rd.el.classList.toggle("stale", rd.stale);
  setText(rd.r.value, text);
  setText(rd.r.unit, isNumber ? rd.unit || obj(dev.specs[rd.name]).unit || "" : "");
  if (isNumber) drawSpark(rd);
  else rd.r.spark.classList.add("empty");
  return true;
}

function drawSpark(s) {
  const pts = s.points, r = s.r;
  r.spark.classList.toggle("empty", pts.length < 2);
  if (pts.length < 2) return r.spark.setAttribute("aria-label", "no numeric history");
  let min = Infinity, max = -Infinity;
  for (const p of pts) { min = Math.min(min, p.v); max = Math.max(max, p.v); }
  const y = (v) => (max === min ? 15 : 27 - ((v - min) / (max - min)) * 24).toFixed(2);
  const x = (i) => ((i / (pts.length - 1)) * 100).toFixed(2);
  r.line.setAttribute("points", pts.map((p, i) => `${x(i)},${y(p.v)}`).join(" "));
  r.dot.setAttribute("d", `M${x(pts.length - 1)},${y(pts[pts.length - 1].v)}h0`);
  const label = `last ${pts.length} readings, min ${fmtNum(min)}, max ${fmtNum(max)}`;
  r.spark.setAttribute("aria-label", label);
  setText(r.title, label);
}

// A notification's click: the alert's row, scrolled to and focused.
function focusAlert(alertId) {
  const a = S.alerts.get(alertId);
  const row = a && a.el;
  if (!row) return;
  // A modal chart keeps focus inside itself; the alert is what the person asked for now.
  const chart = document.getElementById("chart");
  if (chart.open) chart.close();
  row.tabIndex = -1;
  row.scrollIntoView({ block: "center" });
  row.focus();
}

function renderJobs(now) {
  dirty.jobs = false;
  const active = (j) => (j.finishedAt ? 1 : 0);
  // Running and queued jobs first in arrival order, then finished ones, newest first.
  const list = [...S.jobs.values()].sort((a, b) =>
    active(a) - active(b) || (a.finishedAt ? b.finishedAt - a.finishedAt : a.first - b.first));
  for (const j of list) updateJob(j, now);
  reorder(ui.jobs, list.map((j) => j.el));
  ui.jobsEmpty.hidden = list.length > 0;
}

function updateJob(j, now) {
  if (!j.el) {
    j.r = parts({ name: "span.job-name", state: "span.state", pct: "span.pct", bar: "div.bar", meta: "p.job-meta", msg: "p.job-msg" });
    j.r.progress = h("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" }, j.r.bar);
    // A source's job has a name ("benchy.gcode") and a key that says where it runs.
    j.r.key = h("p", { class: "job-key" }, ...breakable(j.key));
    j.el = h("li", { class: "job", "data-job-key": j.key },
      h("div", { class: "job-head" }, j.r.name, j.r.state, j.r.pct), j.r.key, j.r.progress, j.r.meta, j.r.msg);
  }
  const r = j.r;
  j.el.dataset.state = j.state;
  j.el.classList.toggle("finished", !!j.finishedAt);
  setText(r.name, j.name);
  r.key.hidden = j.name === j.key;
  setText(r.state, j.state);
  setText(r.pct, `${j.pct}%`);
  r.bar.style.width = `${j.pct}%`;
  r.progress.setAttribute("aria-valuenow", String(j.pct));
  r.progress.setAttribute("aria-label", `${j.name} progress`);
  const meta = [];
  if (j.done != null && j.total != null) meta.push(`${j.done} / ${j.total}`);
  if (j.finishedAt) {
    meta.push(`finished ${ago(now - j.finishedAt)}`);
    if (j.startedAt != null && j.finishedAt - j.startedAt >= 1000) meta.push(`took ${duration((j.finishedAt - j.startedAt) / 1000)}`);
  } else {
    if (j.rate != null && j.rate > 0) meta.push(`${fmtNum(j.rate)}${j.rateUnit}`);
    if (j.etaAt != null) meta.push(`ETA ${duration((j.etaAt - now) / 1000)}`);
    else if (j.startedAt != null && j.state === "running") meta.push(`running for ${duration((now - j.startedAt) / 1000)}`);
  }
  setText(r.meta, meta.join(" · "));
  r.progress.setAttribute("aria-valuetext", [`${j.pct}%`, j.state, ...meta].join(", "));
  setText(r.msg, j.message);
  r.msg.hidden = !j.message;
}

function renderAlerts(now) {
  dirty.alerts = false;
  const rank = (a) => SEVERITY_RANK[a.severity] ?? 3;
  const list = [...S.alerts.values()].sort((a, b) => rank(a) - rank(b) || (a.acked ? 1 : 0) - (b.acked ? 1 : 0) || b.at - a.at);
  for (const a of list) updateAlert(a, now);
  reorder(ui.alerts, list.map((a) => a.el));
  ui.alertsEmpty.hidden = list.length > 0;
  setText(ui.alertCount, String(list.length));
}

function updateAlert(a, now) {
  if (!a.el) {
    a.r = parts({ sev: "span.sev", rule: "strong.rule", msg: "span.msg", val: "span.val", age: "time.age", err: "p.ack-error" });
    a.r.err.setAttribute("role", "alert");
    a.r.ack = h("button", { type: "button", class: "ack" });
    a.r.ack.addEventListener("click", () => acknowledge(a));
    a.el = h("li", { class: "alert", "data-alert-key": a.key }, a.r.sev,
      h("div", { class: "alert-body" },
        h("p", {}, a.r.rule, " ", a.r.msg),
        h("p", { class: "alert-meta" }, a.r.val, a.r.age),
        a.r.err),
      a.r.ack);
  }
  const r = a.r;
  a.el.dataset.severity = a.severity;
  a.el.dataset.acked = String(!!a.acked);
  r.sev.dataset.severity = a.severity;
  setText(r.sev, a.severity);
  setText(r.rule, a.rule);
  setText(r.msg, a.message);
  const threshold = a.threshold != null ? ` (threshold ${display(a.threshold)})` : "";
  const value = a.value != null ? `value ${display(a.value)}${threshold}` : "";
  setText(r.val, [a.sensorKey, value].filter(Boolean).join(" · "));
  r.age.setAttribute("datetime", a.time || "");
  setText(r.age, `${a.acked ? "acknowledged · " : ""}raised ${ago(now - a.at)}`);
  setText(r.err, a.error);
  r.err.hidden = !a.error;
  r.ack.disabled = a.busy || !!a.acked;
  setText(r.ack, a.busy ? "Acknowledging…" : a.acked ? "Acknowledged" : "Acknowledge");
  r.ack.setAttribute("aria-label", `Acknowledge ${a.rule}`);
}

async function acknowledge(a) {
  a.busy = true;
  a.error = "";
  dirty.alerts = true;
  schedule();
  try {
    await api(`api/alerts/${encodeURIComponent(a.ackId)}/ack`, { method: "POST" });
    a.acked = true; // the server's "acked" event will confirm this
  } catch (err) {
    a.error = `Acknowledge failed: ${err.message}`;
  }
  a.busy = false;
  dirty.alerts = true;
  schedule();
}

function renderLog() {
  if (S.logIncoming.length) {
    const frag = document.createDocumentFragment();
    for (let i = S.logIncoming.length - 1; i >= 0; i--) frag.append(logRow(S.logIncoming[i]));
    S.logIncoming = [];
    ui.log.prepend(frag);
    while (ui.log.childElementCount > LOG_CAP) ui.log.lastElementChild.remove();
  }
  ui.logEmpty.hidden = ui.log.childElementCount > 0;
  setText(ui.logStatus, S.logPaused ? `Paused: ${S.logQueue.length} new event${S.logQueue.length === 1 ? "" : "s"} waiting` : "");
}

function logRow(env) {
  const details = h("details", {},
    h("summary", {},
      h("time", { datetime: env.time || "", text: clockText(env.time) }), " ",
      h("span", { class: "id", text: `#${env.id ?? "?"}` }), " ",
      h("span", { class: "ch", text: env.channel || "(none)" }), " ",
      h("span", { class: "type", text: env.type ?? "" }), " ",
      h("span", { class: "key", text: env.key ?? "" }), " ",
      h("span", { class: "brief", text: brief(env) })),
    h("pre"));
  details.envelope = env; // pretty-printed only when opened: 500 rows of JSON would be wasted work
  const li = h("li", { "data-channel": env.channel || "", "data-id": env.id ?? "" }, details);
  li.hidden = !!S.logFilter && env.channel !== S.logFilter;
  return li;
}

function brief(env) {
  const d = obj(env.data);
  if (S.jobChannels.has(env.channel)) return `${d.state ?? ""} ${d.progress != null ? d.progress + "%" : ""}`.trim();
  if (S.alertChannels.has(env.channel)) return `${d.severity ?? ""} ${d.rule ?? ""}`.trim();
  if (env.channel === "$status") return `${d.state ?? ""} ${d.reason ?? ""}`.trim();
  if (env.type === "device") return [d.name, d.vendor, d.model].filter((x) => typeof x === "string" && x).join(" · ");
  if (env.type === "availability" || env.type === "offline") return String(d.availability ?? "");
  const v = valueOf(env.data);
  const unit = typeof d.unit === "string" && !d.text && words(v) != null ? " " + d.unit : "";
  const text = v === undefined ? "" : display(v, d.text) + unit;
  return text.length > 80 ? text.slice(0, 79) + "…" : text;
}

function tick() {
  const now = Date.now();
  if (S.eps.push(S.epsCount) > 5) S.eps.shift();
  S.epsCount = 0;
  setText(ui.eps, (S.eps.reduce((a, b) => a + b, 0) / S.eps.length).toFixed(1));
  for (const s of S.sensors.values()) if (s.el && s.at) setText(s.r.age, `updated ${ago(now - s.at)}`);
  for (const dev of S.devices.values()) if (dev.el) renderSeen(dev, now);
  for (const a of S.alerts.values()) if (a.el) setText(a.r.age, `${a.acked ? "acknowledged · " : ""}raised ${ago(now - a.at)}`);
  for (const [key, j] of S.jobs) {
    if (j.finishedAt && now - j.finishedAt > JOB_KEEP_MS) { S.jobs.delete(key); dirty.jobs = true; }
    else if (j.el) updateJob(j, now);
  }
  if (dirty.jobs) schedule();
}

// ------------------------------------------------------------------ connection, auth, notices

function setConn(state, detail) {
  const prev = S.conn;
  S.conn = state;
  ui.conn.dataset.state = state;
  setText(ui.conn, CONN_LABEL[state] || state);
  setText(ui.connDetail, state === "live" ? "" : detail || "");
  ui.conn.title = detail || "";
  if (state === "auth") needLogin();
  else if (prev === "auth") loginDone(); // someone signed in, possibly in another tab
}

function notice(text) {
  setText(ui.notice, text);
  ui.notice.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { ui.notice.hidden = true; }, 10000);
}

// API calls from the page: a 401 shows the token form and retries once signed in.
async function api(url, init) {
  for (;;) {
    try {
      return await fetchJSON(url, init);
    } catch (err) {
      if (err.status !== 401) throw err;
      await needLogin();
    }
  }
}

function needLogin() {
  if (!loginWait) {
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    loginWait = { promise, resolve };
    ui.loginError.hidden = true;
    if (!ui.login.open) {
      if (typeof ui.login.showModal === "function") ui.login.showModal();
      else ui.login.setAttribute("open", "");
    }
    ui.token.focus();
  }
  return loginWait.promise;
}

function loginDone() {
  if (ui.login.open) ui.login.close();
  if (loginWait) loginWait.resolve();
  loginWait = null;
}

async function submitLogin(e) {
  e.preventDefault();
  const button = ui.loginForm.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await fetchJSON("api/session", { method: "POST", body: JSON.stringify({ token: ui.token.value }) });
    ui.token.value = "";
    loginDone();
    transport.kick();
  } catch (err) {
    setText(ui.loginError, err.status === 401 ? "That token was not accepted." : `Sign-in failed: ${err.message}`);
    ui.loginError.hidden = false;
    ui.token.select();
  } finally {
    button.disabled = false;
  }
}

// Resolves to a transport once the worker answers, or null so the caller falls back.
function connectShared() {
  return new Promise((resolve) => {
    let worker;
    try { worker = new SharedWorker(WORKER_URL, { name: "herald", type: "module" }); } catch { return resolve(null); }
    const port = worker.port;
    let ready = false;
    const give = (value) => { if (!ready) { ready = true; clearTimeout(timer); resolve(value); } };
    const giveUp = () => { if (!ready) { port.close(); give(null); } };
    const timer = setTimeout(giveUp, 4000);
    worker.addEventListener("error", giveUp);
    port.onmessage = (m) => {
      if (m.data && m.data.kind === "unsupported") return giveUp();
      const send = (cmd) => port.postMessage({ cmd });
      give({ mode: "shared worker", kick: () => send("kick"), hello: () => send("hello") });
      onStreamMsg(m.data);
    };
    addEventListener("pagehide", () => port.postMessage({ cmd: "bye" }));
    port.postMessage({ cmd: "hello" });
  });
}

async function startTransport() {
  const optOut = new URLSearchParams(location.search).get("worker") === "0";
  const wanted = USE_SHARED_WORKER && !optOut && typeof SharedWorker === "function";
  transport = (wanted && (await connectShared())) || null;
  if (!transport) {
    const stream = new HeraldStream(onStreamMsg);
    transport = { mode: "direct", kick: () => stream.kick(), hello: () => stream.resync() };
    stream.resync();
  }
  document.body.dataset.transport = transport.mode;
  setText(ui.transport, `Stream: ${transport.mode}`);
}

function boot() {
  const $ = (id) => document.getElementById(id);
  ui = {
    conn: $("conn-state"), connDetail: $("conn-detail"), lastId: $("last-id"), eps: $("eps"),
    broker: $("broker-state"), brokerReason: $("broker-reason"), notice: $("notice"), transport: $("transport"),
    sensors: $("sensor-list"), sensorsEmpty: $("sensors-empty"), sensorsPanel: $("sensors"),
    devices: $("device-list"), devicesPanel: $("devices"), deviceCount: $("device-count"), jobs: $("job-list"), jobsEmpty: $("jobs-empty"),
    alerts: $("alert-list"), alertsEmpty: $("alerts-empty"), alertCount: $("alert-count"),
    log: $("log"), logEmpty: $("log-empty"), logStatus: $("log-status"),
    filter: $("log-filter"), pause: $("log-pause"), clear: $("log-clear"),
    login: $("login"), loginForm: $("login-form"), token: $("token"), loginError: $("login-error"),
  };
  ui.filter.addEventListener("change", () => {
    S.logFilter = ui.filter.value;
    for (const li of ui.log.children) li.hidden = !!S.logFilter && li.dataset.channel !== S.logFilter;
  });
  ui.pause.addEventListener("click", () => {
    S.logPaused = !S.logPaused;
    ui.pause.setAttribute("aria-pressed", String(S.logPaused)); // a toggle keeps its label
    if (!S.logPaused) {
      S.logIncoming = S.logIncoming.concat(S.logQueue).slice(-LOG_CAP);
      S.logQueue = [];
    }
    schedule();
  });
  ui.clear.addEventListener("click", () => { ui.log.replaceChildren(); S.logQueue = []; schedule(); });
  // <details> "toggle" does not bubble, but it can be caught on the way down.
  ui.log.addEventListener("toggle", (e) => {
    const d = e.target;
    const pre = d.querySelector && d.querySelector("pre");
    if (d.open && pre && !pre.textContent) pre.textContent = JSON.stringify(d.envelope, null, 2);
  }, true);
  ui.loginForm.addEventListener("submit", submitLogin);
  ui.login.addEventListener("cancel", (e) => e.preventDefault()); // nothing works until signed in
  addEventListener("online", () => transport.kick());
  addEventListener("pageshow", (e) => {
    if (!e.persisted) return; // restored from the back/forward cache: state is stale
    S.synced = false;
    transport.hello();
  });
  setUpThemeSwitch($("theme"));
  setUpChart($("chart"), { alertChannels: () => [...S.alertChannels] });
  setUpAlerts(document, { devices: () => [...S.devices.keys()], onFocusAlert: focusAlert });
  setUpNotifySwitch(document, { api, onFocusAlert: focusAlert });
  setUpJobHistory(document, async () => ((await api("api/jobs")).body || {}).jobs || []);
  if (typeof IntersectionObserver === "function") cardObserver = new IntersectionObserver(cardsVisible, { rootMargin: "200px" });
  setInterval(tick, 1000);
  startTransport();
}

boot();
