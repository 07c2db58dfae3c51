// The chart's pure logic (Web/js/bucketing.js): `node --test Tests/web/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  bucketize, foldReading, spans, gapsFromEvents, alertOverlay, segments, niceTicks, timeTicks, nearest, valueExtent,
} from "../../Web/js/bucketing.js";

test("every reading in [from, to) lands in exactly one bucket, with min, max, avg and n", () => {
  const readings = [{ t: 0, v: 1 }, { t: 9, v: 3 }, { t: 10, v: 10 }, { t: 35, v: 4 }, { t: 40, v: 99 }, { t: -1, v: 99 }];
  const s = bucketize(readings, 0, 40, 4);
  assert.equal(s.bucketMs, 10);
  assert.deepEqual(s.points, [
    { t: 0, min: 1, max: 3, avg: 2, n: 2 },
    { t: 10, min: 10, max: 10, avg: 10, n: 1 },
    { t: 30, min: 4, max: 4, avg: 4, n: 1 },
  ]);
  assert.equal(s.points.reduce((n, p) => n + p.n, 0), 4, "the readings at to and before from are outside");
});

test("a live reading updates its bucket or adds one, aligned on the server's buckets", () => {
  const s = { from: 5, to: 45, bucketMs: 10, points: [{ t: 7, min: 1, max: 3, avg: 2, n: 2 }] };
  const same = foldReading(s, 16, 5);
  assert.deepEqual(same.points, [{ t: 7, min: 1, max: 5, avg: 3, n: 3 }]);
  const next = foldReading(same, 50, -1);
  assert.deepEqual(next.points.map((p) => p.t), [7, 47]);
  assert.equal(next.to, 57, "the chart extends to the new bucket's end");
  assert.equal(s.points[0].n, 2, "the series given is not changed");
});

test("spans close at their end mark, clip to the range, and an open one runs to `to`", () => {
  const marks = [{ t: -5, open: true }, { t: 3, open: false }, { t: 6, open: true }, { t: 7, open: true }];
  assert.deepEqual(spans(marks, 0, 10, "x"), [{ from: 0, to: 3, reason: "x" }, { from: 6, to: 10, reason: "x" }]);
});

test("gaps come from stale/fresh and offline/online events", () => {
  const reading = [{ t: 1, type: "reading" }, { t: 2, type: "stale" }, { t: 4, type: "fresh" }];
  const device = [{ t: 5, type: "availability", data: { availability: "offline" } },
    { t: 8, type: "availability", data: { availability: "online" } }];
  assert.deepEqual(gapsFromEvents(reading, device, 0, 10), [
    { from: 2, to: 4, reason: "stale" }, { from: 5, to: 8, reason: "offline" }]);
});

test("alert periods and thresholds are those of the reading's own alerts", () => {
  const ev = (t, type, threshold, sensorKey = "g/temp") => ({ t, type, data: { alertId: "r:" + sensorKey, rule: "r", sensorKey, threshold } });
  const o = alertOverlay([ev(2, "raised", 30), ev(3, "acked", 30), ev(6, "cleared", 29), ev(7, "raised", 30), ev(1, "raised", 50, "other")], "g/temp", 0, 10);
  assert.deepEqual(o.periods.map(({ from, to }) => [from, to]), [[2, 6], [7, 10]]);
  assert.deepEqual(o.thresholds.map((t) => [t.kind, t.value]), [["raise", 30], ["clear", 29]]);
});

test("a gap between two buckets breaks the line; buckets without one stay joined", () => {
  const pts = [0, 10, 20, 60, 70].map((t) => ({ t, min: 0, max: 0, avg: 0, n: 1 }));
  const runs = segments(pts, [{ from: 30, to: 55, reason: "offline" }], 10);
  assert.deepEqual(runs.map((r) => r.map((p) => p.t)), [[0, 10, 20], [60, 70]]);
  assert.equal(segments(pts, [], 10).length, 1);
});

test("value ticks are round and cover the data; time ticks fall on round local times", () => {
  const y = niceTicks(21.3, 29.8, 5);
  assert.equal(y.step, 2);
  assert.deepEqual(y.ticks, [20, 22, 24, 26, 28, 30]);
  assert.ok(niceTicks(5, 5).ticks.length >= 2, "a flat series still gets an axis");
  const hour = 3600e3;
  const t = timeTicks(10 * 60e3, 6 * hour + 10 * 60e3, 6, hour);
  assert.equal(t.step, hour);
  assert.ok(t.ticks.every((x) => (x + hour) % hour === 0), "on the hour in a UTC+1 zone");
});

test("the value range includes the thresholds; nearest finds the closest bucket", () => {
  assert.deepEqual(valueExtent([{ min: 20, max: 25 }], [{ value: 30 }]), [20, 30]);
  const pts = [0, 10, 20].map((t) => ({ t }));
  assert.equal(nearest(pts, 14), 1);
  assert.equal(nearest(pts, 16), 2);
  assert.equal(nearest([], 3), -1);
});
