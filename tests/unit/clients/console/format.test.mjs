// Unit tests of clients/console/format.js: run by tests/unit/clients/test_console_js.py.
import assert from "node:assert/strict";
import test from "node:test";

import { axisNumber, count, grouped, money, percent, shortPercent } from "../../../../clients/console/format.js";

test("counts arrive as int64 strings and read as numbers", () => {
  assert.equal(count("12"), 12);
  assert.equal(count(undefined), 0);
  assert.equal(count("x"), 0);
  assert.equal(grouped("1234567"), "1,234,567");
});

test("money is shown exactly as sent", () => {
  assert.equal(money("0.0000314"), "0.0000314");
  assert.equal(money(""), "0");
  assert.equal(money(undefined), "0");
});

test("ratios read as percentages", () => {
  assert.equal(percent(1), "100.00%");
  assert.equal(percent(0.0123), "1.23%");
  assert.equal(percent(undefined), "0.00%");
  assert.equal(shortPercent(0.025), "2.5%");
  assert.equal(shortPercent(0.15), "15%");
  assert.equal(shortPercent(0), "0%");
});

test("axis numbers have two significant digits and no e-notation", () => {
  assert.equal(axisNumber(1234), "1,200");
  assert.equal(axisNumber(0.00000025), "0.00000025");
  assert.equal(axisNumber(0), "0");
});
