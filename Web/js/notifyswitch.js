// The "Notify me" switch: Web Push to this browser, even with the dashboard closed. Shown only
// where the browser has service workers and PushManager and Herald has a webpush target (GET
// api/push/key answers 200). On subscribes and tells Herald; off tells Herald, then unsubscribes.
import { keyBytes, sameKey, errorText } from "./push.js";
import { setText } from "./dom.js";

const WORKER = "sw.js";
let ui = null;

class StepError extends Error {
  constructor(step, cause) { super(errorText(step, cause)); this.step = step; }
}

// `api` is app.js's fetch (signs in on 401); `onFocusAlert` takes a notification click's alert.
export async function setUpNotifySwitch(root, { api, onFocusAlert }) {
  if (!("serviceWorker" in navigator) || typeof PushManager !== "function") return;
  navigator.serviceWorker.addEventListener("message", (e) => {
    if (e.data && e.data.kind === "focus-alert") onFocusAlert(String(e.data.alertId));
  });
  navigator.serviceWorker.startMessages();
  let key;
  try {
    key = (await api("api/push/key")).body.publicKey;
  } catch {
    return; // 404: no webpush target configured, so no switch
  }
  if (typeof key !== "string" || !key) return;
  ui = { box: root.querySelector("#push"), button: root.querySelector("#push-switch"), status: root.querySelector("#push-status"), api, key };
  ui.button.addEventListener("click", () => (ui.button.getAttribute("aria-checked") === "true" ? turnOff() : turnOn()));
  ui.box.hidden = false;
  const sub = await current().catch(() => null);
  show(!!sub && sameKey(sub.options && sub.options.applicationServerKey, key));
}

async function current() {
  const reg = await navigator.serviceWorker.getRegistration(); // the one whose scope holds this page
  return reg ? reg.pushManager.getSubscription() : null;
}

function show(on, message = "") {
  ui.button.setAttribute("aria-checked", String(on));
  setText(ui.button.querySelector(".state"), on ? "on" : "off");
  setText(ui.status, message || (on ? "Alerts are pushed to this device, even with Herald closed." : ""));
  ui.status.dataset.error = String(!!message);
}

async function busy(work) {
  ui.button.disabled = true;
  try {
    await work();
  } catch (err) {
    // The switch stays where it was; the reason is said beside it.
    show(ui.button.getAttribute("aria-checked") === "true", err instanceof StepError ? err.message : errorText("", err));
  } finally {
    ui.button.disabled = false;
  }
}

function turnOn() {
  return busy(async () => {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") throw new StepError("permission", { name: permission });
    let reg;
    try {
      await navigator.serviceWorker.register(WORKER, { type: "module" });
      reg = await navigator.serviceWorker.ready; // subscribe needs an active worker
    } catch (err) { throw new StepError("worker", err); }
    let sub = await reg.pushManager.getSubscription();
    if (sub && !sameKey(sub.options && sub.options.applicationServerKey, ui.key)) { await sub.unsubscribe(); sub = null; }
    try {
      sub = sub || await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(ui.key) });
    } catch (err) { throw new StepError("subscribe", err); }
    try {
      await ui.api("api/push/subscriptions", { method: "POST", body: JSON.stringify(sub.toJSON()), headers: { "Content-Type": "application/json" } });
    } catch (err) {
      await sub.unsubscribe().catch(() => {}); // Herald does not know it: nothing would arrive
      throw new StepError("server", err);
    }
    show(true);
  });
}

function turnOff() {
  return busy(async () => {
    const sub = await current();
    if (sub) {
      try {
        await ui.api("api/push/subscriptions", { method: "DELETE", body: JSON.stringify({ endpoint: sub.endpoint }), headers: { "Content-Type": "application/json" } });
      } catch (err) {
        if (err.status !== 404) throw new StepError("server", err); // 404: Herald had forgotten it already
      }
      await sub.unsubscribe();
    }
    show(false);
  });
}
