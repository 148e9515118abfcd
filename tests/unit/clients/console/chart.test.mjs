// Unit tests of clients/console/chart.js's layout: run by tests/unit/clients/test_console_js.py.
import assert from "node:assert/strict";
import test from "node:test";

import { layout, niceCeiling } from "../../../../clients/console/chart.js";

test("niceCeiling rounds up to 1, 2 or 5 times a power of ten", () => {
  assert.equal(niceCeiling(0.14), 0.2);
  assert.equal(niceCeiling(3), 5);
  assert.equal(niceCeiling(5), 5);
  assert.equal(niceCeiling(7.5), 10);
  assert.equal(niceCeiling(120), 200);
  assert.equal(niceCeiling(0), 1);
  assert.equal(niceCeiling(Number.NaN), 1);
});

test("layout spans the plot: first point left, last right, zero at the bottom", () => {
  const box = layout(
    [
      { t: 0, v: 0 },
      { t: 60_000, v: 5 },
      { t: 120_000, v: 2 },
    ],
    { width: 500, height: 200, margin: 50 },
  );
  assert.equal(box.dots.length, 3);
  assert.equal(box.dots[0].x, box.left);
  assert.equal(box.dots[2].x, box.right);
  assert.equal(box.dots[0].y, box.bottom);
  assert.equal(box.dots[1].y, box.top); // 5 is the ceiling
  assert.match(box.path, /^M50\.0 176\.0 L\d+\.\d \d+\.\d L490\.0 \d+\.\d$/);
  assert.deepEqual(
    box.grid.map((line) => line.value),
    [0, 1.25, 2.5, 3.75, 5],
  );
});

test("layout centres a single point and draws nothing for none", () => {
  const one = layout([{ t: 5, v: 1 }], { width: 500 });
  assert.equal(one.dots[0].x, (one.left + one.right) / 2);
  const none = layout([]);
  assert.equal(none.path, "");
  assert.equal(none.dots.length, 0);
  assert.equal(none.grid.at(-1).value, 1);
});
