// Unit tests of clients/console/fields.js: run by tests/unit/clients/test_console_js.py.
import assert from "node:assert/strict";
import test from "node:test";

import {
  CAMPAIGN_FIELDS,
  campaignBody,
  changedFields,
  formValues,
  fieldViolations,
  inputNameFor,
} from "../../../../clients/console/fields.js";

const NAMES = CAMPAIGN_FIELDS.map((field) => field.name);

const STORED = {
  campaign_id: "c-1",
  text: "Backpack",
  category: "Sports & Fitness",
  keywords: ["outdoor", "hiking"],
  target_gender: "All",
  target_age_range: { start: 0, end: 0 },
  target_city: "All",
  target_state: "All",
  target_country: "India",
  target_income_bucket: "All",
  target_device: "All",
  cpc: "0.00041",
  cpa: "0.0542",
  budget: "700",
  date_range: { start: "2025-09-12", end: "2025-09-13" },
  time_range: { start: "5:00:00", end: "0:00:00" },
  status: "ACTIVE",
};

// What Envoy's transcoder answers for an invalid campaign (docs/errors.md).
const BAD_CPC = {
  code: 3,
  message: "cpc: must be a non-negative decimal like 0.00073",
  details: [
    {
      "@type": "type.googleapis.com/google.rpc.BadRequest",
      field_violations: [
        { field: "cpc", description: "must be a non-negative decimal like 0.00073", reason: "" },
      ],
    },
  ],
};

test("fieldViolations reads the field paths the error details name", () => {
  assert.deepEqual(fieldViolations(BAD_CPC), [
    { field: "cpc", description: "must be a non-negative decimal like 0.00073" },
  ]);
  const several = {
    code: 3,
    message: "the campaign has two mistakes",
    details: [
      { "@type": "type.googleapis.com/google.rpc.ResourceInfo", resource_name: "c-1" },
      {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        field_violations: [
          { field: "target_age_range.start", description: "must be between 0 and 150" },
          { field: "campaign.campaign_id", description: "does not match the path" },
        ],
      },
    ],
  };
  assert.deepEqual(fieldViolations(several), [
    { field: "target_age_range.start", description: "must be between 0 and 150" },
    { field: "campaign_id", description: "does not match the path" }, // an update's body field
  ]);
});

test("fieldViolations takes the canonical JSON spelling too", () => {
  const camel = {
    details: [
      {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        fieldViolations: [{ field: "budget", description: "must be positive" }],
      },
    ],
  };
  assert.deepEqual(fieldViolations(camel), [{ field: "budget", description: "must be positive" }]);
});

test("fieldViolations reads the details, never the message's prose", () => {
  assert.deepEqual(fieldViolations({ code: 3, message: "cpc: looks like a field", details: [] }), []);
  assert.deepEqual(fieldViolations({ http_status: 400, message: "Expected : between key:value pair." }), []);
  assert.deepEqual(fieldViolations({ message: "Jwt is expired" }), []);
  assert.deepEqual(fieldViolations({}), []);
  assert.deepEqual(fieldViolations(undefined), []);
  assert.deepEqual(fieldViolations({ details: [null, { "@type": "x" }] }), []);
});

test("inputNameFor finds the input, or the first of a range named whole", () => {
  assert.equal(inputNameFor("cpc", NAMES), "cpc");
  assert.equal(inputNameFor("date_range.end", NAMES), "date_range.end");
  assert.equal(inputNameFor("date_range", NAMES), "date_range.start");
  assert.equal(inputNameFor("update_mask", NAMES), "");
  assert.equal(inputNameFor("", NAMES), "");
});

test("campaignBody nests ranges, splits keywords and sends ages as numbers", () => {
  const body = campaignBody({
    text: "  Backpack ",
    keywords: "outdoor, hiking,, ",
    cpc: "0.0.1",
    "target_age_range.start": "18",
    "target_age_range.end": "forty",
    "date_range.start": "2025-09-12",
  });
  assert.deepEqual(body, {
    text: "Backpack",
    keywords: ["outdoor", "hiking"],
    cpc: "0.0.1", // as typed: the API names what is wrong with it
    target_age_range: { start: 18, end: "forty" },
    date_range: { start: "2025-09-12" },
  });
});

test("formValues and campaignBody round-trip a stored campaign's fields", () => {
  const values = formValues(STORED);
  assert.equal(values.keywords, "outdoor, hiking");
  assert.equal(values["time_range.start"], "5:00:00");
  assert.equal(values["target_age_range.end"], "0");
  const body = campaignBody(values);
  for (const name of ["text", "cpc", "budget", "keywords", "date_range", "time_range"]) {
    assert.deepEqual(body[name], STORED[name], name);
  }
  assert.deepEqual(body.target_age_range, STORED.target_age_range);
});

test("changedFields sends only what changed, a range as a whole", () => {
  const values = { ...formValues(STORED), budget: "1500", "date_range.end": "2025-09-20" };
  assert.deepEqual(changedFields(values, STORED), {
    budget: "1500",
    date_range: { start: "2025-09-12", end: "2025-09-20" },
  });
  assert.deepEqual(changedFields(formValues(STORED), STORED), {});
});
