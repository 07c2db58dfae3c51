// A reading's chart in a dialog: loads /api/series (or buckets /api/events itself when the
// server has no such endpoint), draws it in SVG, and folds live readings in.
import { fetchJSON } from "./stream.js";
import { h, svg, setText } from "./dom.js";
import { fmtNum, numeric, valueOf } from "./format.js";
import {
  RANGES, DAY, bucketize, foldReading, gapsFromEvents, alertOverlay, segments, linear,
  niceTicks, timeTicks, valueExtent, nearest,
} from "./bucketing.js";

const POINTS = 500;
const W = 720, H = 300, PAD = { l: 56, r: 12, t: 12, b: 28 };
const tzOffset = () => -new Date().getTimezoneOffset() * 60e3;

const view = { open: false, channel: "", key: "", device: "", unit: "", range: "24h", series: null, overlay: null, alertChannels: [] };
let ui = null;

export function setUpChart(dialog, { alertChannels }) {
  ui = {
    dialog, title: dialog.querySelector("#chart-title"), status: dialog.querySelector("#chart-status"),
    plot: dialog.querySelector("#chart-plot"), tip: dialog.querySelector("#chart-tip"),
    ranges: dialog.querySelectorAll("[data-range]"), from: dialog.querySelector("#chart-from"),
    to: dialog.querySelector("#chart-to"), custom: dialog.querySelector("#chart-custom"),
  };
  view.alertChannels = alertChannels;
  // The custom range's "Show" is the form's submit (its inputs are checked first), not a click.
  for (const b of ui.ranges) if (b.type === "button") b.addEventListener("click", () => { view.range = b.dataset.range; load(); });
  ui.custom.addEventListener("submit", (e) => { e.preventDefault(); view.range = "custom"; load(); });
  dialog.querySelector("#chart-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { view.open = false; });
  ui.plot.addEventListener("pointermove", (e) => hover(e.offsetX / ui.plot.clientWidth * W));
  ui.plot.addEventListener("keydown", stepCursor);
}

// channel, key: the reading; device: its device id (for offline gaps).
export function openChart({ channel, key, device, unit, name }) {
  Object.assign(view, { open: true, channel, key, device: device || "", unit: unit || "", cursor: -1 });
  setText(ui.title, name || key);
  if (!ui.from.value) {
    // The custom range starts as the last 24 h, in the local time a datetime-local input shows.
    const local = (t) => new Date(t + tzOffset()).toISOString().slice(0, 16);
    ui.from.value = local(Date.now() - DAY);
    ui.to.value = local(Date.now());
  }
  if (!ui.dialog.open) ui.dialog.showModal();
  load();
}

function rangeBounds() {
  if (view.range !== "custom") { const to = Date.now(); return [to - RANGES[view.range], to]; }
  const from = Date.parse(ui.from.value), to = Date.parse(ui.to.value);
  return Number.isFinite(from) && Number.isFinite(to) && to > from ? [from, to] : [Date.now() - DAY, Date.now()];
}

async function load() {
  const [from, to] = rangeBounds();
  for (const b of ui.ranges) b.setAttribute("aria-pressed", String(b.dataset.range === view.range));
  setText(ui.status, "loading…");
  ui.dialog.dataset.loaded = "false";
  const wanted = `${view.channel}\n${view.key}\n${view.range}`;
  try {
    const [series, alertEvents] = await Promise.all([loadSeries(from, to), loadAlertEvents()]);
    if (wanted !== `${view.channel}\n${view.key}\n${view.range}`) return; // another load took over
    view.series = series;
    view.overlay = alertOverlay(alertEvents, view.key, series.from, series.to);
    if (series.unit) view.unit = series.unit;
    setText(ui.status, `${series.points.length} buckets of ${fmtNum(series.bucketMs / 1000)} s${series.derived ? " (from raw events)" : ""}`);
    draw();
    ui.dialog.dataset.loaded = "true";
  } catch (err) {
    setText(ui.status, `Could not load the chart: ${err.message}`);
  }
}

async function loadSeries(from, to) {
  const q = new URLSearchParams({ channel: view.channel, key: view.key, field: "value", from, to, points: POINTS });
  try {
    const { body } = await fetchJSON("api/series?" + q);
    return { ...body, gaps: body.gaps || [], derived: false };
  } catch (err) {
    if (err.status !== 404) throw err;
  }
  // No /api/series on this server: the newest events of the key and its device, bucketed here.
  const events = async (key) => {
    const { body } = await fetchJSON("api/events?" + new URLSearchParams({ channel: view.channel, key, limit: 10000 }));
    return (body.events || []).map((e) => ({ ...e, t: Date.parse(e.time) }));
  };
  const [own, device] = await Promise.all([events(view.key), view.device ? events(view.device) : []]);
  const readings = own.filter((e) => e.type !== "stale" && e.type !== "fresh")
    .map((e) => ({ t: e.t, v: numeric(valueOf(e.data)) })).filter((r) => r.v != null);
  return { ...bucketize(readings, from, to, POINTS), gaps: gapsFromEvents(own, device, from, to), derived: true };
}

async function loadAlertEvents() {
  const lists = await Promise.all(view.alertChannels().map((c) =>
    fetchJSON("api/events?" + new URLSearchParams({ channel: c, limit: 2000 })).then(({ body }) => body.events || [], () => [])));
  return lists.flat().map((e) => ({ ...e, t: Date.parse(e.time) }));
}

// A live event: a reading of the open chart extends it; an alert event redraws its shading.
export function chartEvent(env, isAlert) {
  if (!view.open || !view.series) return;
  const t = Date.parse(env.time);
  if (isAlert) return void (env.data && env.data.sensorKey === view.key && load());
  if (env.channel !== view.channel || env.key !== view.key) return;
  const v = numeric(valueOf(env.data));
  if (v == null) return;
  view.series = foldReading(view.series, t, v);
  draw();
}

function scales() {
  const s = view.series;
  const [lo, hi] = valueExtent(s.points, view.overlay.thresholds);
  const yt = niceTicks(lo, hi, 5);
  return { s, yt, x: linear(s.from, s.to, PAD.l, W - PAD.r), y: linear(yt.lo, yt.hi, H - PAD.b, PAD.t) };
}

function draw() {
  const { s, yt, x, y } = scales();
  const g = [];
  const span = (from, to, cls, extra = {}) => svg("rect", { class: cls, x: x(from), y: PAD.t, width: Math.max(1, x(to) - x(from)), height: H - PAD.b - PAD.t, ...extra });
  for (const p of view.overlay.periods) g.push(span(p.from, p.to, "alert-period", { "data-from": p.from, "data-to": p.to }));
  for (const gap of s.gaps) g.push(span(gap.from, gap.to, `gap ${gap.reason}`, { "data-reason": gap.reason, "data-from": gap.from, "data-to": gap.to }));
  for (const v of yt.ticks) {
    g.push(svg("line", { class: "grid", x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v) }));
    g.push(text(PAD.l - 6, y(v) + 4, fmtNum(v), "tick y"));
  }
  const tt = timeTicks(s.from, s.to, 6, tzOffset());
  for (const t of tt.ticks) {
    g.push(svg("line", { class: "grid", x1: x(t), x2: x(t), y1: PAD.t, y2: H - PAD.b }));
    g.push(text(x(t), H - 8, timeLabel(t, tt.step), "tick x"));
  }
  g.push(text(4, PAD.t + 10, view.unit, "unit"));
  for (const run of segments(s.points, s.gaps, s.bucketMs)) {
    // Each bucket spans [t, t + bucketMs): the band and line run through the buckets' middles.
    const mid = (p) => x(p.t + s.bucketMs / 2);
    const top = run.map((p) => `${mid(p)},${y(p.max)}`), bottom = run.map((p) => `${mid(p)},${y(p.min)}`).reverse();
    g.push(svg("polygon", { class: "band", points: top.concat(bottom).join(" ") }));
    g.push(svg("polyline", { class: "avg", points: run.map((p) => `${mid(p)},${y(p.avg)}`).join(" ") }));
  }
  for (const th of view.overlay.thresholds) {
    g.push(svg("line", { class: `threshold ${th.kind}`, x1: PAD.l, x2: W - PAD.r, y1: y(th.value), y2: y(th.value), "data-value": th.value }));
  }
  // Every bucket as data, for screen readers' table-less reading and for the browser test.
  const data = svg("g", { class: "buckets" });
  for (const p of s.points) data.append(svg("circle", { class: "bucket", cx: x(p.t + s.bucketMs / 2), cy: y(p.avg), r: 0, "data-t": p.t, "data-min": p.min, "data-max": p.max, "data-avg": p.avg, "data-n": p.n }));
  g.push(data, svg("line", { class: "cursor", x1: 0, x2: 0, y1: PAD.t, y2: H - PAD.b, visibility: "hidden" }));
  ui.plot.replaceChildren(...g);
  ui.plot.dataset.bucketMs = s.bucketMs;
  ui.plot.dataset.from = s.from;
  ui.plot.dataset.to = s.to;
  ui.plot.setAttribute("aria-label", `${view.key}: ${s.points.length} buckets, ${s.gaps.length} gaps; arrow keys step through them`);
}

function text(xp, yp, str, cls) {
  const n = svg("text", { x: xp, y: yp, class: cls });
  n.textContent = str;
  return n;
}

function timeLabel(t, step) {
  const d = new Date(t);
  if (step >= DAY) return d.toLocaleDateString([], { day: "numeric", month: "short" });
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

function hover(px) {
  if (!view.series) return;
  const { s, x } = scales();
  const t = s.from + ((px - PAD.l) / (W - PAD.r - PAD.l)) * (s.to - s.from);
  showCursor(nearest(s.points, t - s.bucketMs / 2), x);
}

function stepCursor(e) {
  if (!view.series || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(e.key)) return;
  e.preventDefault();
  const n = view.series.points.length;
  // Without a cursor yet, Left starts at the newest bucket and Right at the oldest.
  const i = view.cursor >= 0 ? view.cursor : e.key === "ArrowLeft" ? n : -1;
  const next = e.key === "Home" ? 0 : e.key === "End" ? n - 1 : Math.min(n - 1, Math.max(0, i + (e.key === "ArrowLeft" ? -1 : 1)));
  showCursor(next, scales().x);
}

function showCursor(i, x) {
  const p = view.series.points[i];
  const line = ui.plot.querySelector(".cursor");
  if (!p || !line) return;
  view.cursor = i;
  const cx = x(p.t + view.series.bucketMs / 2);
  Object.entries({ x1: cx, x2: cx, visibility: "visible" }).forEach(([k, v]) => line.setAttribute(k, v));
  const u = view.unit ? ` ${view.unit}` : "";
  const range = p.n > 1 ? ` (min ${fmtNum(p.min)}, max ${fmtNum(p.max)}, ${p.n} readings)` : "";
  setText(ui.tip, `${new Date(p.t).toLocaleString()}: ${fmtNum(p.avg)}${u}${range}`);
}
