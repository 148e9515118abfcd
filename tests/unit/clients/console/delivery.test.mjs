// Unit tests of the console's delivery controls (clients/console/fields.js, pacing.js, chart.js):
// run by tests/unit/clients/test_console_js.py.
import assert from "node:assert/strict";
import test from "node:test";

import { layout } from "../../../../clients/console/chart.js";
import {
  campaignBody,
  changedFields,
  daypartRows,
  daypartValues,
  formValues,
  inputNameFor,
  updateMask,
  withoutDaypart,
} from "../../../../clients/console/fields.js";
import { capText, daypartsText, paceSummary, pacingLines, windowMs } from "../../../../clients/console/pacing.js";

const CONTROLLED = {
  campaign_id: "c-2",
  text: "Tent",
  keywords: [],
  target_age_range: { start: 0, end: 0 },
  budget: "100",
  spent: "30",
  date_range: { start: "2026-12-01", end: "2026-12-04" },
  time_range: { start: "0:00:00", end: "0:00:00" },
  frequency_cap: { max_impressions: 3, period: "DAY" },
  pacing: "ASAP",
  daily_budget: "25",
  dayparts: [
    { days: ["MONDAY", "FRIDAY"], start_hour: 9, end_hour: 17 },
    { days: [], start_hour: 20, end_hour: 24 },
  ],
  spent_today: "4.5",
};

test("formValues shows the delivery controls and campaignBody sends them back", () => {
  const values = formValues(CONTROLLED);
  assert.equal(values["frequency_cap.max_impressions"], "3");
  assert.equal(values["frequency_cap.period"], "DAY");
  assert.equal(values.pacing, "ASAP");
  assert.equal(values.daily_budget, "25");
  assert.equal(values["dayparts[0].days.MONDAY"], "MONDAY");
  assert.equal(values["dayparts[0].days.TUESDAY"], "");
  assert.equal(values["dayparts[1].end_hour"], "24");
  assert.equal(daypartRows(values), 2);
  const body = campaignBody(values);
  assert.deepEqual(body.frequency_cap, CONTROLLED.frequency_cap);
  assert.deepEqual(body.dayparts, CONTROLLED.dayparts);
  assert.equal(body.pacing, "ASAP");
  assert.equal(body.daily_budget, "25");
});

test("a campaign without controls reads as the defaults and sends no cap of its own", () => {
  const values = formValues({ text: "x", frequency_cap: null });
  assert.equal(values["frequency_cap.max_impressions"], "");
  assert.equal(values["frequency_cap.period"], "DAY");
  assert.equal(values.pacing, "EVEN");
  assert.equal(daypartRows(values), 0);
  const body = campaignBody(values);
  assert.deepEqual(body.frequency_cap, { max_impressions: 0, period: "DAY" });
  assert.equal(body.dayparts, undefined); // absent: the whole window
});

test("daypart hours go as numbers, as typed when not digits, and not at all when empty", () => {
  const body = campaignBody({
    "dayparts[0].days.SUNDAY": "SUNDAY",
    "dayparts[0].days.MONDAY": "MONDAY",
    "dayparts[0].start_hour": "7",
    "dayparts[0].end_hour": "late",
    "dayparts[1].start_hour": "",
    "dayparts[1].end_hour": "3",
  });
  assert.deepEqual(body.dayparts, [
    { days: ["MONDAY", "SUNDAY"], start_hour: 7, end_hour: "late" }, // week order
    { days: [], end_hour: 3 },
  ]);
});

test("changedFields sends every daypart when one changes, and [] when all are removed", () => {
  const values = { ...formValues(CONTROLLED), "dayparts[1].start_hour": "21" };
  const changed = changedFields(values, CONTROLLED);
  assert.deepEqual(Object.keys(changed), ["dayparts"]);
  assert.equal(changed.dayparts.length, 2);
  assert.equal(changed.dayparts[1].start_hour, 21);
  const removed = withoutDaypart(withoutDaypart(formValues(CONTROLLED), 0), 0);
  const none = { ...formValues(CONTROLLED), ...Object.fromEntries(Object.keys(daypartValues(CONTROLLED.dayparts)).map((k) => [k, undefined])) };
  for (const name of Object.keys(none)) if (none[name] === undefined) delete none[name];
  assert.deepEqual(removed, {});
  assert.deepEqual(changedFields(none, CONTROLLED), { dayparts: [] });
  assert.equal(updateMask(changedFields(none, CONTROLLED)), "dayparts");
  assert.deepEqual(changedFields(formValues(CONTROLLED), CONTROLLED), {});
});

test("emptying the daily budget and the cap is an update that names them", () => {
  const values = { ...formValues(CONTROLLED), daily_budget: "", "frequency_cap.max_impressions": "" };
  const changed = changedFields(values, CONTROLLED);
  assert.deepEqual(changed, { frequency_cap: { max_impressions: 0, period: "DAY" }, daily_budget: "" });
  assert.equal(updateMask(changed), "frequency_cap,daily_budget");
});

test("withoutDaypart moves the later rows up", () => {
  const values = formValues(CONTROLLED);
  const kept = withoutDaypart(values, 0);
  assert.equal(daypartRows(kept), 1);
  assert.equal(kept["dayparts[0].start_hour"], "20");
  assert.equal(kept["dayparts[0].days.MONDAY"], "");
});

test("an error naming a daypart finds its first input", () => {
  const names = Object.keys(formValues(CONTROLLED));
  assert.equal(inputNameFor("dayparts[1].end_hour", names), "dayparts[1].end_hour");
  assert.equal(inputNameFor("dayparts[0].days", names), "dayparts[0].days.MONDAY");
  assert.equal(inputNameFor("dayparts[1]", names), "dayparts[1].days.MONDAY");
  assert.equal(inputNameFor("dayparts", names), "dayparts[0].days.MONDAY");
  assert.equal(inputNameFor("frequency_cap", names), "frequency_cap.max_impressions");
});

test("windowMs is the live window's length; 0:00:00 closes at the end of the last date", () => {
  assert.equal(windowMs(CONTROLLED), 4 * 86_400_000);
  const hours = { date_range: { start: "2026-12-01", end: "2026-12-01" }, time_range: { start: "9:00:00", end: "17:30:00" } };
  assert.equal(windowMs(hours), 8.5 * 3_600_000);
  assert.equal(windowMs({}), 0);
});

test("pacingLines: spend so far minute by minute, the even pace through the diagnosis", () => {
  const now = Date.parse("2026-12-03T10:05:00Z");
  const points = [
    { minute: "2026-12-03T10:02:00Z", spend: "1" },
    { minute: "2026-12-03T10:03:00Z", spend: "2" },
  ];
  const diagnosis = { checked_at: "2026-12-03T10:05:00Z", pacing: { pacing: "ASAP", spent: "30", expected_spent: "50" } };
  const { actual, expected } = pacingLines(points, CONTROLLED, diagnosis, now);
  assert.deepEqual(actual, [
    { t: Date.parse("2026-12-03T10:03:00Z"), v: 28 },
    { t: Date.parse("2026-12-03T10:04:00Z"), v: 30 },
    { t: now, v: 30 },
  ]);
  const perMinute = 100 / (4 * 24 * 60);
  assert.equal(expected.length, 3);
  assert.ok(Math.abs(expected[2].v - 50) < 1e-9);
  assert.ok(Math.abs(expected[0].v - (50 - 2 * perMinute)) < 1e-9);
  assert.deepEqual(pacingLines(points, CONTROLLED, null, now).expected, []);
  assert.deepEqual(pacingLines([], { spent: "" }, null, now).actual, [{ t: now, v: 0 }]);
  // Over a window: it starts at the window's start with what was spent before it.
  const since = Date.parse("2026-12-03T10:00:00Z");
  const windowed = pacingLines(points, CONTROLLED, diagnosis, now, since);
  assert.deepEqual(windowed.actual[0], { t: since, v: 27 });
  assert.equal(windowed.actual.length, 4);
  assert.ok(Math.abs(windowed.expected[0].v - (50 - 5 * perMinute)) < 1e-9);
  assert.match(paceSummary(diagnosis), /60% of the even pace/);
  assert.match(paceSummary(null), /No diagnosis/);
});

test("the pacing chart's even line shares the axes", () => {
  const box = layout([{ t: 0, v: 1 }, { t: 10, v: 2 }], { compare: [{ t: 0, v: 4 }, { t: 20, v: 8 }] });
  assert.equal(box.grid.at(-1).value, 10); // the ceiling covers both lines
  assert.equal(box.dots[1].x, (box.left + box.right) / 2); // t=10 is half of 0..20
  assert.match(box.comparePath, /^M\S+ \S+ L\S+ \S+$/);
  assert.equal(layout([{ t: 0, v: 1 }]).comparePath, "");
});

test("the controls read in words", () => {
  assert.equal(capText({ max_impressions: 3, period: "DAY" }), "3 per DAY");
  assert.equal(capText(null), "platform default");
  assert.equal(daypartsText(CONTROLLED.dayparts), "Mon Fri 9–17; every day 20–24");
  assert.equal(daypartsText([]), "whole window");
});
