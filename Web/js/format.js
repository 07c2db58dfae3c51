// Pure formatting: how values, times and durations read on the page. No DOM, so Node tests it.

export function obj(x) { return x && typeof x === "object" && !Array.isArray(x) ? x : {}; }
export function fmtNum(v) { return String(Math.round(v * 100) / 100); }
export function valueOf(d) { return d && typeof d === "object" && !Array.isArray(d) && "value" in d ? d.value : d; }
export function numeric(v) {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return null;
}
// A scalar as words: a source's own text ("open") first, booleans as on/off. Null for objects
// and lists, which no card or tile shows as they came, even when they came as a string.
export function words(v, text) {
  if (typeof text === "string" && text) return text;
  if (typeof v === "boolean") return v ? "on" : "off";
  if (typeof v === "number") return fmtNum(v);
  if (typeof v === "string") return jsonInside(v) ? null : v;
  return null;
}
// '{"a":1}' -> {a: 1}: a payload some device sent as a string holding JSON.
export function jsonInside(text) {
  const t = text.trim();
  if (!/^[[{]/.test(t)) return null;
  try {
    const v = JSON.parse(t);
    return v && typeof v === "object" ? v : null;
  } catch {
    return null;
  }
}
// {"door":"open","fan":true} -> "door open · fan on": an object without a value, in a line.
export function summary(d) {
  if (Array.isArray(d)) return `${d.length} item${d.length === 1 ? "" : "s"}`;
  const bits = [];
  for (const [k, v] of Object.entries(obj(d))) {
    const w = words(v);
    if (w != null) bits.push(`${label(k)} ${w}`);
    if (bits.length === 4) break;
  }
  const text = bits.join(" · ");
  return text.length > 60 ? text.slice(0, 59) + "…" : text;
}
export function display(v, text) {
  if (v == null) return "—";
  const w = words(v, text);
  return w != null ? w : summary(typeof v === "string" ? jsonInside(v) : v) || "—";
}
// color_temp -> "color temp"
export function label(name) { return String(name).replace(/_/g, " "); }
export function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 1) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const hr = Math.floor(m / 60);
  return hr < 48 ? `${hr} h ago` : `${Math.floor(hr / 24)} d ago`;
}
export function duration(sec) {
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
export function clockText(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "--:--:--";
  const d = new Date(t);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}
