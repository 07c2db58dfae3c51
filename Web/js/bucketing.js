// Pure logic of a reading's chart: time buckets, gaps, alert periods and scales. No DOM, so
// Node's test runner checks it (Tests/web). Times are epoch milliseconds throughout.

export const HOUR = 3600e3;
export const DAY = 24 * HOUR;
export const RANGES = { "1h": HOUR, "24h": DAY, "7d": 7 * DAY };

export function bucketMsFor(from, to, points) {
  return Math.max(1, Math.ceil((to - from) / Math.max(1, points)));
}

// The start of the bucket holding t. Buckets line up on `origin` (the range's start, or the
// first bucket the server sent), so a live reading lands in the bucket the server would use.
export function bucketStart(t, origin, bucketMs) {
  return origin + Math.floor((t - origin) / bucketMs) * bucketMs;
}

// What GET /api/series answers, computed from raw readings [{t, v}]: the page's fallback for a
// server without the endpoint. Every reading in [from, to) lands in exactly one bucket.
export function bucketize(readings, from, to, points) {
  const bucketMs = bucketMsFor(from, to, points);
  const byStart = new Map();
  for (const { t, v } of readings) {
    if (!(t >= from && t < to) || !Number.isFinite(v)) continue;
    const start = bucketStart(t, from, bucketMs);
    const b = byStart.get(start);
    if (b) {
      b.min = Math.min(b.min, v);
      b.max = Math.max(b.max, v);
      b.sum += v;
      b.n++;
    } else byStart.set(start, { t: start, min: v, max: v, sum: v, n: 1 });
  }
  const out = [...byStart.values()].sort((a, b) => a.t - b.t)
    .map(({ t, min, max, sum, n }) => ({ t, min, max, avg: sum / n, n }));
  return { from, to, bucketMs, points: out };
}

// A live reading folded into a series: a new bucket, or the one it falls in updated.
// Returns a new series; the one given is left as it was.
export function foldReading(series, t, v) {
  if (!Number.isFinite(v) || t < series.from) return series;
  const origin = series.points.length ? series.points[0].t : series.from;
  const start = bucketStart(t, origin, series.bucketMs);
  const points = series.points.slice();
  const i = points.findIndex((p) => p.t === start);
  if (i >= 0) {
    const p = points[i];
    const n = p.n + 1;
    points[i] = { t: start, min: Math.min(p.min, v), max: Math.max(p.max, v), avg: p.avg + (v - p.avg) / n, n };
  } else {
    points.push({ t: start, min: v, max: v, avg: v, n: 1 });
    points.sort((a, b) => a.t - b.t);
  }
  return { ...series, to: Math.max(series.to, start + series.bucketMs), points };
}

// Spans between an opening and a closing mark: marks are [{t, open}] in time order. A span
// still open at the end runs to `to`; one open before `from` starts at `from`.
export function spans(marks, from, to, reason) {
  const out = [];
  let openedAt = null;
  for (const { t, open } of marks) {
    if (open && openedAt == null) openedAt = t;
    else if (!open && openedAt != null) {
      if (t > from && openedAt < to) out.push({ from: Math.max(openedAt, from), to: Math.min(t, to), reason });
      openedAt = null;
    }
  }
  if (openedAt != null && openedAt < to) out.push({ from: Math.max(openedAt, from), to, reason });
  return out;
}

// Gaps from the log's own events (the fallback for /api/series's `gaps`): a reading's
// stale/fresh events and its device's availability events, each [{t, type, data}].
export function gapsFromEvents(readingEvents, availabilityEvents, from, to) {
  const stale = readingEvents.filter((e) => e.type === "stale" || e.type === "fresh")
    .map((e) => ({ t: e.t, open: e.type === "stale" }));
  const offline = availabilityEvents.filter((e) => e.type === "availability")
    .map((e) => ({ t: e.t, open: (e.data && e.data.availability) === "offline" }));
  return [...spans(stale, from, to, "stale"), ...spans(offline, from, to, "offline")]
    .sort((a, b) => a.from - b.from);
}

// Alert events about one reading (data.sensorKey) -> the periods it was raised and the rule's
// thresholds. A raise carries the rule's "above"/"below" threshold, a clear its clear_* one.
export function alertOverlay(alertEvents, key, from, to) {
  const mine = alertEvents.filter((e) => e.data && e.data.sensorKey === key).sort((a, b) => a.t - b.t);
  const byAlert = new Map();
  for (const e of mine) {
    const id = e.data.alertId ?? e.key;
    if (!byAlert.has(id)) byAlert.set(id, []);
    if (e.type === "raised" || e.type === "cleared") byAlert.get(id).push({ t: e.t, open: e.type === "raised" });
  }
  const periods = [];
  for (const [id, marks] of byAlert) periods.push(...spans(marks, from, to, "alert").map((p) => ({ ...p, alertId: id })));
  const thresholds = new Map();
  for (const e of mine) {
    const v = e.data.threshold;
    if ((e.type === "raised" || e.type === "cleared") && Number.isFinite(v)) {
      thresholds.set(`${e.type}:${v}`, { value: v, kind: e.type === "raised" ? "raise" : "clear", rule: e.data.rule ?? "" });
    }
  }
  return { periods: periods.sort((a, b) => a.from - b.from), thresholds: [...thresholds.values()] };
}

// Runs of consecutive buckets with no gap between them: each run is drawn as one band and one
// line, so a gap shows as a break instead of a line drawn across it.
export function segments(points, gaps, bucketMs) {
  const runs = [];
  let run = [];
  for (const p of points) {
    const prev = run[run.length - 1];
    const broken = prev && gaps.some((g) => g.from < p.t && g.to > prev.t + bucketMs);
    if (broken) { runs.push(run); run = []; }
    run.push(p);
  }
  if (run.length) runs.push(run);
  return runs;
}

export function linear(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

// Round steps (1, 2, 2.5, 5 × 10^k) covering [min, max] in about `count` ticks.
export function niceTicks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return { lo: 0, hi: 1, step: 1, ticks: [0, 1] };
  if (min === max) { min -= 1; max += 1; }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const lo = Math.floor(min / step) * step;
  const hi = Math.ceil(max / step) * step;
  const ticks = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push(Math.round(v / step) * step);
  return { lo, hi, step, ticks };
}

const TIME_STEPS = [1e3, 5e3, 15e3, 30e3, 60e3, 5 * 60e3, 15 * 60e3, 30 * 60e3, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY];

// Time ticks on round local-clock steps; `offsetMs` is the zone's offset (Date's
// getTimezoneOffset, in ms, negated), so "every 6 h" falls on 00:00, 06:00, … local time.
export function timeTicks(from, to, count = 6, offsetMs = 0) {
  const raw = (to - from) / Math.max(1, count);
  const step = TIME_STEPS.find((s) => s >= raw) || TIME_STEPS[TIME_STEPS.length - 1];
  const ticks = [];
  for (let t = Math.ceil((from + offsetMs) / step) * step - offsetMs; t <= to; t += step) ticks.push(t);
  return { step, ticks };
}

// The value range to draw: the buckets' min and max and the thresholds, so a threshold line
// is always on the chart.
export function valueExtent(points, thresholds = []) {
  let lo = Infinity, hi = -Infinity;
  for (const p of points) { lo = Math.min(lo, p.min); hi = Math.max(hi, p.max); }
  for (const t of thresholds) { lo = Math.min(lo, t.value); hi = Math.max(hi, t.value); }
  return Number.isFinite(lo) ? [lo, hi] : [0, 1];
}

// Index of the bucket whose start is nearest t (points in time order), or -1 if there is none.
export function nearest(points, t) {
  if (!points.length) return -1;
  let lo = 0, hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].t < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(points[lo - 1].t - t) <= Math.abs(points[lo].t - t)) return lo - 1;
  return lo;
}
