// Alert notifications (Notification API, with the user's permission) and the alert history
// view with its filters. The rows come from js/state.js.
import { h, setText } from "./dom.js";
import { clockText } from "./format.js";
import { addAlertEvents, filterAlerts, choices } from "./state.js";
import { notificationFor } from "./push.js";

const SINCE = { "": 0, "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3 };
let rows = [];
let ui = null;
let deviceIds = () => [];

export function setUpAlerts(root, { devices, onFocusAlert }) {
  deviceIds = devices;
  ui = {
    list: root.querySelector("#alert-history"), button: root.querySelector("#notify"),
    severity: root.querySelector("#af-severity"), rule: root.querySelector("#af-rule"),
    device: root.querySelector("#af-device"), since: root.querySelector("#af-since"),
  };
  ui.onFocusAlert = onFocusAlert;
  for (const sel of [ui.severity, ui.rule, ui.device, ui.since]) sel.addEventListener("change", renderHistory);
  ui.button.addEventListener("click", async () => {
    if (typeof Notification === "function") await Notification.requestPermission();
    showPermission();
  });
  showPermission();
}

function showPermission() {
  const p = typeof Notification === "function" ? Notification.permission : "unsupported";
  ui.button.dataset.permission = p;
  ui.button.disabled = p !== "default";
  setText(ui.button, { granted: "Notifications on", denied: "Notifications blocked", unsupported: "No notifications here" }[p] || "Notify me of alerts");
}

// Events from the alert history (GET /api/events on the alert channels) and from the stream.
export function alertEvents(events) {
  rows = addAlertEvents(rows, events, deviceIds());
  renderHistory();
}

// A live `raised` event: a system notification, if allowed. Its tag is the alert's id, so tabs
// sharing one stream show it once, not once per tab.
export function notifyRaised(env) {
  if (typeof Notification !== "function" || Notification.permission !== "granted") return;
  // Worded and tagged as a Web Push of the same alert (js/push.js), so either replaces the other.
  const { title, options } = notificationFor(env, new URL(".", location.href).href);
  const alertId = options.data.alertId || String(env.key ?? "");
  const n = new Notification(title, { body: options.body, tag: options.tag });
  n.onclick = () => { window.focus(); ui.onFocusAlert(alertId); n.close(); };
}

function fill(select, values) {
  const keep = select.value;
  select.replaceChildren(h("option", { value: "", text: "all" }), ...values.map((v) => h("option", { value: v, text: v })));
  select.value = values.includes(keep) ? keep : "";
}

function renderHistory() {
  fill(ui.severity, choices(rows, "severity"));
  fill(ui.rule, choices(rows, "rule"));
  fill(ui.device, choices(rows, "device"));
  const since = SINCE[ui.since.value] ? Date.now() - SINCE[ui.since.value] : 0;
  const shown = filterAlerts(rows, { severity: ui.severity.value, rule: ui.rule.value, device: ui.device.value, since }).slice(0, 200);
  ui.list.replaceChildren(...shown.map((r) => h("li", { "data-type": r.type, "data-alert-id": r.alertId },
    h("time", { datetime: new Date(r.t).toISOString(), text: clockText(new Date(r.t).toISOString()) }), " ",
    h("span", { class: "sev", "data-severity": r.severity, text: r.severity }), " ",
    h("strong", { text: r.type }), " ", r.rule || r.alertId, r.device ? ` · ${r.device}` : "", r.message ? ` — ${r.message}` : "")));
}
