// The history views' reducers (Web/js/state.js), formatting (format.js) and the theme choice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { addAlertEvents, filterAlerts, choices, deviceOf, finishedJobs, filterJobs } from "../../Web/js/state.js";
import { ago, duration, words, display, numeric } from "../../Web/js/format.js";
import { storedTheme } from "../../Web/js/theme.js";

const alert = (id, type, severity, rule, sensorKey, time) =>
  ({ id, type, time, key: `${rule}:${sensorKey}`, data: { alertId: `${rule}:${sensorKey}`, rule, severity, sensorKey } });

test("alert rows: one per event, newest first, once however often an event comes", () => {
  const devices = ["zigbee2mqtt/living_room/climate", "zigbee2mqtt/living_room"];
  let rows = addAlertEvents([], [alert(1, "raised", "warning", "hot", "zigbee2mqtt/living_room/climate/temperature", "2026-12-01T10:00:00Z")], devices);
  rows = addAlertEvents(rows, [alert(1, "raised", "warning", "hot", "x", "2026-12-01T10:00:00Z"),
    alert(2, "cleared", "critical", "wet", "greenhouse/humidity", "2026-12-01T11:00:00Z")], devices);
  assert.deepEqual(rows.map((r) => r.id), [2, 1]);
  assert.equal(rows[1].device, "zigbee2mqtt/living_room/climate", "the longest device id the key starts with");
  assert.equal(rows[0].device, "greenhouse");
  assert.deepEqual(filterAlerts(rows, { severity: "warning" }).map((r) => r.id), [1]);
  assert.deepEqual(filterAlerts(rows, { rule: "wet" }).map((r) => r.id), [2]);
  assert.deepEqual(filterAlerts(rows, { device: "greenhouse" }).map((r) => r.id), [2]);
  assert.deepEqual(filterAlerts(rows, { since: Date.parse("2026-12-01T10:30:00Z") }).map((r) => r.id), [2]);
  assert.deepEqual(choices(rows, "severity"), ["critical", "warning"]);
  assert.equal(deviceOf("a/b/c", []), "a");
});

test("finished jobs: terminal only, with duration and outcome, filtered", () => {
  const rows = finishedJobs([
    { key: "backup-1", state: "succeeded", startedAt: "2026-12-01T10:00:00Z", updatedAt: "2026-12-01T10:02:30Z", message: "done" },
    { key: "print", state: "running", startedAt: "2026-12-01T10:00:00Z", updatedAt: "2026-12-01T10:05:00Z" },
    { key: "ota", state: "failed", startedAt: null, updatedAt: "2026-12-01T11:00:00Z", message: "checksum" },
  ]);
  assert.deepEqual(rows.map((r) => [r.key, r.outcome, r.durationMs]), [["ota", "failed", null], ["backup-1", "succeeded", 150000]]);
  assert.deepEqual(filterJobs(rows, { outcome: "failed" }).map((r) => r.key), ["ota"]);
  assert.deepEqual(filterJobs(rows, { text: "DONE" }).map((r) => r.key), ["backup-1"]);
  assert.deepEqual(filterJobs(rows, { since: Date.parse("2026-12-01T10:30:00Z") }).map((r) => r.key), ["ota"]);
});

test("formatting: ages, durations, words for values", () => {
  assert.equal(ago(400), "just now");
  assert.equal(ago(61000), "1 min ago");
  assert.equal(ago(3 * 86400e3), "3 d ago");
  assert.equal(duration(150), "2 min 30 s");
  assert.equal(duration(3720), "1 h 2 min");
  assert.equal(words(true), "on");
  assert.equal(words(21.456), "21.46");
  assert.equal(words('{"a":1}'), null, "JSON in a string is never shown as it came");
  assert.equal(display({ door: "open", fan: true }), "door open · fan on");
  assert.equal(numeric(" 4.5 "), 4.5);
  assert.equal(numeric("abc"), null);
});

test("the theme choice: what was stored, else the system's", () => {
  const store = (v) => ({ getItem: () => v });
  assert.equal(storedTheme(store("dark")), "dark");
  assert.equal(storedTheme(store("purple")), "auto");
  assert.equal(storedTheme({ getItem() { throw new Error("denied"); } }), "auto");
});
