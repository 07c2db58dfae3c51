// Web Push's pure side (Web/js/push.js): what the service worker shows for a pushed event, which
// window a click goes to, and the key and error helpers of the "Notify me" switch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePayload, notificationFor, pickClient, keyBytes, sameKey, errorText, alertIdOf } from "../../Web/js/push.js";

const SCOPE = "https://gw.example/herald/";
const raised = {
  id: 41, channel: "alerts", type: "raised", key: "greenhouse-hot:greenhouse/temp", time: 1796300000000,
  data: { alertId: "greenhouse-hot:greenhouse/temp", rule: "greenhouse-hot", severity: "warning", message: "",
    value: 31.2, threshold: 30, state: "raised", sensorKey: "greenhouse/temp", ackedAt: null },
  source: { mqtt: { topic: "sensors/greenhouse/temp" } },
};

test("a raised alert reads as the page's own notification, with its tag and where to go", () => {
  const { title, options } = notificationFor(parsePayload(JSON.stringify(raised)), SCOPE);
  assert.equal(title, "warning: greenhouse-hot");
  assert.equal(options.tag, "greenhouse-hot:greenhouse/temp", "the tag the page uses (js/alerts.js): one notification per alert");
  assert.equal(options.body, "31.2 (threshold 30) · greenhouse/temp");
  assert.equal(options.timestamp, 1796300000000);
  assert.equal(options.data.alertId, "greenhouse-hot:greenhouse/temp");
  assert.equal(options.data.url, "https://gw.example/herald/?alert=greenhouse-hot%3Agreenhouse%2Ftemp");
});

test("cleared and acked replace the raised one under the same tag and say what happened", () => {
  const cleared = notificationFor({ ...raised, type: "cleared", data: { ...raised.data, message: "back to 28.9" } }, SCOPE);
  assert.equal(cleared.title, "cleared: greenhouse-hot");
  assert.equal(cleared.options.body, "back to 28.9 · greenhouse/temp");
  assert.equal(cleared.options.tag, raised.key);
  assert.equal(notificationFor({ ...raised, type: "acked" }, SCOPE).title, "acknowledged: greenhouse-hot");
  const bare = notificationFor({ channel: "alerts", type: "raised", key: "k1", time: "2026-12-02T10:00:00Z" }, SCOPE);
  assert.equal(bare.title, "alert: k1");
  assert.equal(bare.options.tag, "k1");
  assert.equal(bare.options.timestamp, Date.parse("2026-12-02T10:00:00Z"));
});

test("stale, offline and other events show their channel, type and key, tagged per key", () => {
  const stale = notificationFor({ id: 5, channel: "stale", type: "stale", key: "greenhouse/temp", data: { state: "stale" } }, SCOPE);
  assert.equal(stale.title, "stale: stale greenhouse/temp");
  assert.equal(stale.options.body, "stale");
  assert.equal(stale.options.tag, "stale:greenhouse/temp");
  assert.equal(alertIdOf({ channel: "offline", type: "offline", key: "plug" }), "");
  const offline = notificationFor({ channel: "offline", type: "offline", key: "plug", data: { message: "no heartbeat" } }, SCOPE);
  assert.equal(offline.options.body, "no heartbeat");
  assert.equal(offline.options.data.url, SCOPE);
});

test("a payload that is not an envelope still shows something", () => {
  for (const text of ["not json", "[1,2]", "null", ""]) {
    assert.equal(parsePayload(text), null, text);
    const n = notificationFor(null, SCOPE, text);
    assert.equal(n.title, "Herald");
    assert.equal(n.options.body, text);
    assert.equal(n.options.data.url, SCOPE);
  }
});

test("a click goes to a dashboard window: focused, else visible, else any; never another page", () => {
  const w = (url, focused = false, visibilityState = "hidden") => ({ url, focused, visibilityState });
  const other = w("https://gw.example/other/", true, "visible");
  const hidden = w(SCOPE + "?worker=0");
  const visible = w(SCOPE, false, "visible");
  const focused = w(SCOPE + "#x", true, "visible");
  assert.equal(pickClient([other, hidden, visible, focused], SCOPE), focused);
  assert.equal(pickClient([other, hidden, visible], SCOPE), visible);
  assert.equal(pickClient([other, hidden], SCOPE), hidden);
  assert.equal(pickClient([other], SCOPE), null);
  assert.equal(pickClient([], SCOPE), null);
});

test("the server's key as bytes, and whether a subscription was made for it", () => {
  const key = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
  const bytes = keyBytes(key);
  assert.equal(bytes.length, 65);
  assert.equal(bytes[0], 4);
  assert.equal(Buffer.from(bytes).toString("base64url"), key);
  assert.equal(sameKey(bytes.buffer, key), true);
  assert.equal(sameKey(new Uint8Array(65).buffer, key), false);
  assert.equal(sameKey(null, key), true, "a browser that does not say is taken at its word");
});

test("errors are said in words", () => {
  assert.match(errorText("permission", { name: "denied" }), /blocked.*site settings/);
  assert.match(errorText("permission", { name: "default" }), /not allowed/);
  assert.match(errorText("subscribe", { name: "AbortError", message: "Registration failed - push service error" }),
    /push service could not be reached \(Registration failed - push service error\)/);
  assert.match(errorText("subscribe", { name: "NotAllowedError", message: "" }), /refused push/);
  assert.equal(errorText("server", { status: 400, body: { error: "the subscription's keys.auth is 12 bytes, not 16" } }),
    "Herald refused this device: the subscription's keys.auth is 12 bytes, not 16.");
  assert.equal(errorText("server", { status: 400, message: "the subscription has no \"endpoint\" (HTTP 400)" }),
    "Herald refused this device: the subscription has no \"endpoint\" (HTTP 400).");
  assert.equal(errorText("server", { status: 503, body: null }), "Herald refused this device (HTTP 503).");
  assert.match(errorText("server", { status: 0, body: { error: "network error" } }), /could not be reached/);
});
