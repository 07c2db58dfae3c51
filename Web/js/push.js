// Web Push's pure side, shared by the service worker (sw.js) and the page's "Notify me" switch
// (notifyswitch.js): what a pushed event shows, which window a click goes to, key bytes, and
// errors in words. No DOM and no worker globals, so Node's test runner covers it.

const VERBS = { cleared: "cleared", acked: "acknowledged" };

// A push's text: the event's envelope as the SSE stream's `data:` carries it, or null.
export function parsePayload(text) {
  try {
    const env = JSON.parse(text);
    return env && typeof env === "object" && !Array.isArray(env) ? env : null;
  } catch {
    return null;
  }
}

// `alertId` of an alert event, else "": the tag the page's own notification used (js/alerts.js),
// so a tab and a push replace each other rather than show one alert twice.
export function alertIdOf(env) {
  const d = (env && env.data) || {};
  return env && (d.alertId != null || env.channel === "alerts") ? String(d.alertId ?? env.key ?? "") : "";
}

// The dashboard's URL for an alert: a new window focuses it from `?alert=` (app.js).
export function dashboardURL(scope, alertId) {
  const url = new URL(scope);
  if (alertId) url.searchParams.set("alert", alertId);
  return url.href;
}

// Envelope (or null for a payload that was not one) -> showNotification's title and options.
export function notificationFor(env, scope, rawText = "") {
  if (!env) {
    return { title: "Herald", options: { body: String(rawText).slice(0, 200), tag: "herald", data: { url: dashboardURL(scope, "") } } };
  }
  const d = env.data && typeof env.data === "object" ? env.data : {};
  const alertId = alertIdOf(env);
  if (alertId) {
    // A raised alert reads as the page's does: "critical: greenhouse-hot".
    const lead = VERBS[env.type] || d.severity || "alert";
    const title = `${lead}: ${d.rule || alertId}`;
    const measured = d.value != null && d.threshold != null ? `${d.value} (threshold ${d.threshold})` : "";
    const body = [d.message || measured, d.sensorKey].filter(Boolean).join(" · ");
    return { title, options: { body, tag: alertId, timestamp: timeOf(env), data: { url: dashboardURL(scope, alertId), alertId } } };
  }
  // Stale, offline and other events: channel and what happened, tagged per key so repeats replace.
  const what = [env.type, env.key].filter(Boolean).join(" ");
  const title = `${env.channel || "herald"}: ${what || "event"}`;
  const body = d.message ? String(d.message) : d.state ? String(d.state) : "";
  const tag = `${env.channel || "herald"}:${env.key ?? env.type ?? ""}`;
  return { title, options: { body, tag, timestamp: timeOf(env), data: { url: dashboardURL(scope, "") } } };
}

function timeOf(env) {
  const t = typeof env.time === "number" ? env.time : Date.parse(env.time);
  return Number.isFinite(t) ? t : undefined;
}

// The window a notification click goes to: a dashboard window (same origin, under the scope),
// the focused one first, then a visible one, else the first; null means open a new one.
export function pickClient(clients, scope) {
  const mine = clients.filter((c) => typeof c.url === "string" && c.url.startsWith(scope));
  return mine.find((c) => c.focused) || mine.find((c) => c.visibilityState === "visible") || mine[0] || null;
}

// applicationServerKey from GET /api/push/key's base64url (pushManager.subscribe wants bytes).
export function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

// Whether a subscription was made for this key: a server with a new key needs a new subscription.
export function sameKey(buffer, b64url) {
  if (!buffer) return true; // the browser does not say: assume it is
  const a = new Uint8Array(buffer), b = keyBytes(b64url);
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// A failed step of turning push on, in words a person can act on.
export function errorText(step, err) {
  const name = err && err.name, msg = (err && (err.message || err.detail)) || String(err || "");
  if (step === "permission") {
    return name === "denied"
      ? "Notifications are blocked for this site: allow them in the browser's site settings, then try again."
      : "Notifications were not allowed, so nothing can be pushed here.";
  }
  if (step === "subscribe") {
    if (name === "NotAllowedError") return "The browser refused push notifications for this site.";
    return `The browser's push service could not be reached (${msg || name}). Try again later.`;
  }
  if (step === "worker") return `The notification worker could not start (${msg || name}).`;
  if (err && err.status === 0) return "Herald could not be reached; try again.";
  // app.js's api() throws stream.js's HttpError, whose message is Herald's {"error"} and the status.
  const said = (err && err.body && (err.body.error || err.body.detail)) || (err && err.message) || "";
  return `Herald refused this device${said ? `: ${said}` : err && err.status ? ` (HTTP ${err.status})` : ""}.`;
}
