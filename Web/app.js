"use strict";
// Herald dashboard. The stream itself (fetchJSON, HttpError, HeraldStream) lives in
// worker.js, which index.html loads before this file; it also runs as the SharedWorker.

// Set to false (or open the page with ?worker=0) to give every tab its own EventSource.
const USE_SHARED_WORKER = true;
// Bump when the tab <-> worker protocol changes: an old worker lives on while any tab uses it.
const WORKER_URL = "worker.js?v=1";

const POINTS_CAP = 120;
const HISTORY_WANTED = 60;
const LOG_CAP = 500;
const PENDING_CAP = 50000;
const JOB_KEEP_MS = 10 * 60 * 1000;
const ALERT_HISTORY_CAP = 20;
const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };
const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
const CONN_LABEL = { live: "live", reconnecting: "reconnecting", offline: "offline", syncing: "syncing", auth: "signed out" };
const SVG_NS = "http://www.w3.org/2000/svg";

const S = {
  conn: "syncing", synced: false, pending: [], lastApplied: 0,
  broker: null, sensors: new Map(), jobs: new Map(), alerts: new Map(), alertHistory: [],
  jobChannels: new Set(["jobs"]), alertChannels: new Set(["alerts"]),
  channels: new Set(), logIncoming: [], logQueue: [], logPaused: false, logFilter: "",
  epsCount: 0, eps: [], dateOffset: null, latencies: [],
};
const dirty = { sensors: new Set(), sensorOrder: false, jobs: false, alerts: false };
let ui = {};
let transport = { mode: "none", kick() {}, hello() {} };
let renderQueued = false;
let loginWait = null;

// Builds elements from text only, so data from events can never become markup.
function h(tag, attrs = {}, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === "text") n.textContent = v;
    else if (k === "class") n.className = v;
    else n.setAttribute(k, v === true ? "" : String(v));
  }
  n.append(...kids);
  return n;
}
// { value: "span.value" } -> { value: <span class="value"> }: the parts a row keeps updating.
function parts(spec) {
  const out = {};
  for (const [name, sel] of Object.entries(spec)) {
    const [tag, cls] = sel.split(".");
    out[name] = h(tag, { class: cls });
  }
  return out;
}
// "greenhouse/humidity" may wrap after its "/", rather than inside a word.
function breakable(text) {
  const out = [];
  String(text).split("/").forEach((part, i) => {
    if (i) out.push("/", document.createElement("wbr"));
    out.push(part);
  });
  return out;
}
function svg(tag, attrs = {}) {
  const n = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  return n;
}
function setText(n, t) { if (n.textContent !== t) n.textContent = t; }
function obj(x) { return x && typeof x === "object" && !Array.isArray(x) ? x : {}; }
function fmtNum(v) { return String(Math.round(v * 100) / 100); }
function valueOf(d) { return d && typeof d === "object" && !Array.isArray(d) && "value" in d ? d.value : d; }
function numeric(v) {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return null;
}
function display(v) {
  if (v === undefined) return "—";
  if (typeof v === "number") return fmtNum(v);
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}
function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 1) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const hr = Math.floor(m / 60);
  return hr < 48 ? `${hr} h ago` : `${Math.floor(hr / 24)} d ago`;
}
function duration(sec) {
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
function clockText(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "--:--:--";
  const d = new Date(t);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

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
  // Jobs and alerts are replaced wholesale; sensors keep their sparkline history.
  S.jobs.clear();
  S.alerts.clear();
  // Records first: they also name the channels that hold jobs and alerts.
  const jobEnvs = (Array.isArray(snap.jobs) ? snap.jobs : []).map(jobEnvelope);
  const alertEnvs = (Array.isArray(snap.alerts) ? snap.alerts : []).map(alertEnvelope);
  const seenSensors = new Set();
  for (const env of events) {
    route(env);
    if (env.channel === "sensors") seenSensors.add(String(env.key ?? ""));
  }
  jobEnvs.forEach(route);
  alertEnvs.forEach(route);
  for (const key of [...S.sensors.keys()]) if (!seenSensors.has(key)) S.sensors.delete(key);
  if (!S.alertHistory.length) {
    S.alertHistory = events.filter((e) => S.alertChannels.has(e.channel)).reverse().slice(0, ALERT_HISTORY_CAP);
  }
  const maxId = events.reduce((mx, e) => (Number.isInteger(e.id) && e.id > mx ? e.id : mx), 0);
  S.lastApplied = Number.isInteger(snap.lastEventId) ? snap.lastEventId : maxId;
  S.synced = true;
  document.body.dataset.synced = "true";
  const pending = S.pending;
  S.pending = [];
  for (const env of pending) applyEvent(env);
  for (const s of S.sensors.values()) queueHistory(s);
  Object.assign(dirty, { sensorOrder: true, jobs: true, alerts: true });
  S.sensors.forEach((s) => dirty.sensors.add(s));
  schedule();
}

// The snapshot lists jobs and active alerts as records (GET /api/jobs, /api/alerts); these turn
// one into the envelope of its last event, so it is applied like a live event.
function jobEnvelope(x) {
  if (!x || typeof x !== "object" || x.key == null) return null;
  const channel = typeof x.channel === "string" && x.channel ? x.channel : "jobs";
  S.jobChannels.add(channel);
  return {
    id: x.lastEventId, channel, type: "progress", key: x.key, time: x.updatedAt,
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
  S.epsCount++;
  if (S.logPaused) {
    if (S.logQueue.push(env) > LOG_CAP) S.logQueue.shift();
  } else if (S.logIncoming.push(env) > LOG_CAP) S.logIncoming.shift();
  schedule();
}

function route(env) {
  if (!env) return;
  addChannel(env.channel);
  if (env.channel === "sensors") applySensor(env);
  else if (S.jobChannels.has(env.channel)) applyJob(env);
  else if (S.alertChannels.has(env.channel)) applyAlert(env);
  else if (env.channel === "$status") {
    const d = obj(env.data);
    S.broker = { state: String(d.state ?? env.type ?? "unknown"), reason: d.reason ? String(d.reason) : "" };
  }
}

function applySensor(env) {
  const key = String(env.key ?? "");
  let s = S.sensors.get(key);
  if (!s) {
    s = { key, value: undefined, unit: "", at: 0, time: "", stale: false, points: [], lastId: 0, history: null, el: null };
    S.sensors.set(key, s);
    dirty.sensorOrder = true;
  }
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
  s.value = v;
  if (typeof obj(env.data).unit === "string") s.unit = env.data.unit;
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

function applyJob(env) {
  const d = obj(env.data);
  const key = String(env.key ?? d.id ?? env.id);
  const j = S.jobs.get(key) || { key, first: env.id || 0, el: null };
  j.name = typeof d.name === "string" ? d.name : key;
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
  const eta = numeric(d.eta_seconds);
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
  if (S.synced && env.type) {
    S.alertHistory.unshift(env);
    S.alertHistory.length = Math.min(S.alertHistory.length, ALERT_HISTORY_CAP);
  }
  dirty.alerts = true;
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

// /api/events has no "before", so look back through a widening window of ids ending at
// the key's newest event, paging forward inside it until the newest readings are reached.
async function loadHistory(s) {
  const until = s.lastId;
  let span = 512, requests = 0, got = [];
  for (;;) {
    const after = Math.max(0, until - span);
    got = [];
    for (let from = after; requests < 16;) {
      requests++;
      const q = new URLSearchParams({ channel: "sensors", key: s.key, after: String(from), limit: "500" });
      const { body } = await api("api/events?" + q);
      const page = body && Array.isArray(body.events) ? body.events : [];
      got.push(...page.filter((e) => e && Number.isInteger(e.id) && e.id <= until && e.key === s.key));
      const last = page.length ? page[page.length - 1].id : null;
      if (!Number.isInteger(last) || last >= until || last <= from) break;
      from = last;
    }
    if (after === 0 || requests >= 16 || got.filter(isReading).length >= HISTORY_WANTED) break;
    span *= 8;
  }
  const readings = got.filter(isReading);
  // The snapshot may hold only a "stale" marker for this key; recover the value from history.
  if (s.value === undefined && readings.length) {
    const wasStale = s.stale;
    takeReading(s, readings[readings.length - 1], false);
    s.stale = wasStale;
  }
  const pts = readings.slice(-HISTORY_WANTED).map((e) => ({ id: e.id, v: numeric(valueOf(e.data)) })).filter((p) => p.v != null);
  mergePoints(s, pts);
  s.history = "done";
  dirty.sensors.add(s);
  schedule();
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
  for (const s of dirty.sensors) renderSensor(s, now);
  dirty.sensors.clear();
  if (dirty.sensorOrder) {
    const list = [...S.sensors.values()].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    list.forEach((s) => s.el || renderSensor(s, now));
    reorder(ui.sensors, list.map((s) => s.el));
    ui.sensorsEmpty.hidden = list.length > 0;
    dirty.sensorOrder = false;
  }
  if (dirty.jobs) renderJobs(now);
  if (dirty.alerts) renderAlerts(now);
  renderLog();
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

function renderSensor(s, now) {
  if (!s.el) {
    const line = svg("polyline", { class: "line", points: "" });
    // A zero-length stroke with round caps: a round dot however the sparkline is stretched.
    const dot = svg("path", { class: "dot", d: "" });
    const title = svg("title");
    const spark = svg("svg", { class: "spark", viewBox: "0 0 100 30", preserveAspectRatio: "none", role: "img" });
    spark.append(title, line, dot);
    s.r = { ...parts({ value: "span.value", unit: "span.unit", age: "time.age" }), spark, line, dot, title };
    s.r.badge = h("span", { class: "stale-badge", text: "stale" });
    s.el = h("li", { class: "tile", "data-sensor-key": s.key },
      h("h3", { class: "key", title: s.key }, ...breakable(s.key)),
      h("p", { class: "reading" }, s.r.value, " ", s.r.unit),
      spark,
      h("p", { class: "meta" }, s.r.badge, s.r.age));
  }
  s.el.classList.toggle("stale", s.stale);
  s.el.dataset.stale = String(s.stale);
  s.r.badge.hidden = !s.stale;
  setText(s.r.value, display(s.value));
  setText(s.r.unit, s.unit || "");
  s.r.age.setAttribute("datetime", s.time || "");
  setText(s.r.age, s.at ? `updated ${ago(now - s.at)}` : "no reading yet");
  drawSpark(s);
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
    j.el = h("li", { class: "job", "data-job-key": j.key },
      h("div", { class: "job-head" }, j.r.name, j.r.state, j.r.pct), j.r.progress, j.r.meta, j.r.msg);
  }
  const r = j.r;
  j.el.dataset.state = j.state;
  j.el.classList.toggle("finished", !!j.finishedAt);
  setText(r.name, j.name);
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
  ui.alertHistory.replaceChildren(...S.alertHistory.map((env) => {
    const d = obj(env.data);
    return h("li", { "data-type": env.type || "" },
      h("time", { datetime: env.time || "", text: clockText(env.time) }), " ",
      h("span", { class: "sev", "data-severity": String(d.severity ?? ""), text: String(d.severity ?? "") }), " ",
      h("strong", { text: env.type || "" }), " ", String(d.rule ?? env.key ?? ""), d.message ? ` — ${d.message}` : "");
  }));
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
  if (env.channel === "jobs") return `${d.state ?? ""} ${d.progress != null ? d.progress + "%" : ""}`.trim();
  if (env.channel === "alerts") return `${d.severity ?? ""} ${d.rule ?? ""}`.trim();
  if (env.channel === "$status") return `${d.state ?? ""} ${d.reason ?? ""}`.trim();
  const v = valueOf(env.data);
  const text = v === undefined ? "" : `${display(v)}${d.unit ? " " + d.unit : ""}`;
  return text.length > 80 ? text.slice(0, 79) + "…" : text;
}

function tick() {
  const now = Date.now();
  if (S.eps.push(S.epsCount) > 5) S.eps.shift();
  S.epsCount = 0;
  setText(ui.eps, (S.eps.reduce((a, b) => a + b, 0) / S.eps.length).toFixed(1));
  for (const s of S.sensors.values()) if (s.el && s.at) setText(s.r.age, `updated ${ago(now - s.at)}`);
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
    try { worker = new SharedWorker(WORKER_URL, { name: "herald" }); } catch { return resolve(null); }
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
    sensors: $("sensor-list"), sensorsEmpty: $("sensors-empty"), jobs: $("job-list"), jobsEmpty: $("jobs-empty"),
    alerts: $("alert-list"), alertsEmpty: $("alerts-empty"), alertCount: $("alert-count"), alertHistory: $("alert-history"),
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
  setInterval(tick, 1000);
  startTransport();
}

boot();
