// Pure reducers behind the alert and job history views: rows from the API's records and the
// stream's events, and the filters people apply to them. No DOM, so Node tests them.

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

// The device a reading key belongs to: the longest known device id it starts with.
export function deviceOf(sensorKey, deviceIds) {
  let best = "";
  for (const id of deviceIds) if (sensorKey.startsWith(id + "/") && id.length > best.length) best = id;
  return best || String(sensorKey).split("/")[0];
}

// One row per alert event (raised, cleared, acked), newest first, deduplicated by event id.
export function addAlertEvents(rows, events, deviceIds = []) {
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const e of events) {
    if (!e || !Number.isInteger(e.id) || byId.has(e.id)) continue;
    const d = e.data && typeof e.data === "object" ? e.data : {};
    const sensorKey = String(d.sensorKey ?? "");
    byId.set(e.id, {
      id: e.id, t: Date.parse(e.time), type: String(e.type ?? ""), alertId: String(d.alertId ?? e.key ?? ""),
      rule: String(d.rule ?? ""), severity: String(d.severity ?? "info"), message: String(d.message ?? ""),
      sensorKey, device: sensorKey ? deviceOf(sensorKey, deviceIds) : "",
    });
  }
  return [...byId.values()].sort((a, b) => b.id - a.id);
}

// filter: {severity, rule, device, since (ms)}; an empty field matches everything.
export function filterAlerts(rows, { severity = "", rule = "", device = "", since = 0 } = {}) {
  return rows.filter((r) => (!severity || r.severity === severity) && (!rule || r.rule === rule) &&
    (!device || r.device === device) && (!since || r.t >= since));
}

// The distinct values of one field, sorted: the options of a filter's <select>.
export function choices(rows, field) {
  return [...new Set(rows.map((r) => r[field]).filter(Boolean))].sort();
}

// GET /api/jobs records -> finished jobs with outcome and duration, newest first.
export function finishedJobs(records) {
  const out = [];
  for (const j of records) {
    if (!j || !TERMINAL.has(j.state)) continue;
    const started = Date.parse(j.startedAt), finished = Date.parse(j.finishedAt ?? j.updatedAt);
    out.push({
      key: String(j.key), name: String(j.name ?? j.key), outcome: j.state, message: String(j.message ?? ""),
      startedAt: Number.isFinite(started) ? started : null, finishedAt: Number.isFinite(finished) ? finished : null,
      durationMs: Number.isFinite(started) && Number.isFinite(finished) ? Math.max(0, finished - started) : null,
    });
  }
  return out.sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0));
}

// filter: {outcome, text (in key, name or message), since (ms)}.
export function filterJobs(rows, { outcome = "", text = "", since = 0 } = {}) {
  const needle = text.trim().toLowerCase();
  return rows.filter((r) => (!outcome || r.outcome === outcome) && (!since || (r.finishedAt ?? 0) >= since) &&
    (!needle || `${r.key} ${r.name} ${r.message}`.toLowerCase().includes(needle)));
}
