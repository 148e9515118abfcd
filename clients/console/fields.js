// fields.js — the campaign form's fields and the mapping between form values, the JSON API
// and the API's field-named errors. Pure: no DOM, so node's test runner can check it.
//
// Inputs are named by API field path ("cpc", "target_age_range.start"), so an error's
// google.rpc.BadRequest field violation (docs/errors.md) finds its input by name. The rules
// themselves live on the server (servers/campaigns/validation.py): the forms send what the
// user typed and show the API's answer, so console and API can never disagree.

export const DEVICES = ["Android Mobile", "Windows Computer", "iPhone", "Linux Computer", "Macbook"];

// CAMPAIGN_FIELDS describes the create/update form, in display order, grouped by fieldset.
export const CAMPAIGN_FIELDS = [
  { group: "Ad", name: "text", label: "Ad text", kind: "textarea" },
  { group: "Ad", name: "category", label: "Category" },
  { group: "Ad", name: "keywords", label: "Keywords", hint: "comma-separated" },
  { group: "Bids and budget", name: "cpc", label: "CPC (bid per click)", kind: "decimal", hint: "e.g. 0.00066" },
  { group: "Bids and budget", name: "cpa", label: "CPA (bid per acquisition)", kind: "decimal", hint: "e.g. 0.0529" },
  { group: "Bids and budget", name: "budget", label: "Lifetime budget", kind: "decimal" },
  { group: "Schedule", name: "date_range.start", label: "First date", kind: "date" },
  { group: "Schedule", name: "date_range.end", label: "Last date", kind: "date" },
  { group: "Schedule", name: "time_range.start", label: "Opens at", hint: "H:MM:SS on the first date" },
  { group: "Schedule", name: "time_range.end", label: "Closes at", hint: "H:MM:SS on the last date; 0:00:00 is midnight at its end" },
  { group: "Targeting", name: "target_city", label: "City", hint: "or All" },
  { group: "Targeting", name: "target_state", label: "State", hint: "or All" },
  { group: "Targeting", name: "target_country", label: "Country", hint: "or All" },
  { group: "Targeting", name: "target_device", label: "Device", kind: "select", options: ["All", ...DEVICES] },
  { group: "Targeting", name: "target_gender", label: "Gender", kind: "select", options: ["All", "M", "F"] },
  { group: "Targeting", name: "target_income_bucket", label: "Income bucket", kind: "select", options: ["All", "H", "M", "L"] },
  { group: "Targeting", name: "target_age_range.start", label: "Youngest age", kind: "integer", hint: "0 and 0: every age" },
  { group: "Targeting", name: "target_age_range.end", label: "Oldest age", kind: "integer" },
];

const INTEGER = new Set(["target_age_range.start", "target_age_range.end"]);

const BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest";

// fieldViolations reads the field violations of a JSON error body (a google.rpc.Status) as
// [{field, description}]; [] when it names no field (a transcoder, proxy or network error).
export function fieldViolations(body) {
  const details = Array.isArray(body?.details) ? body.details : [];
  return details
    .filter((detail) => detail && detail["@type"] === BAD_REQUEST)
    // Envoy prints proto field names; the canonical JSON spelling is accepted as well.
    .flatMap((detail) => detail.field_violations || detail.fieldViolations || [])
    .map((violation) => ({
      // Update requests name body fields "campaign.<field>"; the form's inputs drop the prefix.
      field: String(violation.field || "").replace(/^campaign\./, ""),
      description: String(violation.description || ""),
    }));
}

// inputNameFor picks the input an error belongs to: the field itself, or the first input of
// a range the error names as a whole ("date_range: is required"); "" when none matches.
export function inputNameFor(field, names) {
  if (names.includes(field)) return field;
  return names.find((name) => name.startsWith(`${field}.`)) || "";
}

// campaignBody turns form values (name → string) into the Campaign JSON the API takes.
export function campaignBody(values) {
  const body = {};
  for (const [name, raw] of Object.entries(values)) {
    const value = typeof raw === "string" ? raw.trim() : raw;
    if (name === "keywords") {
      body.keywords = value.split(",").map((word) => word.trim()).filter(Boolean);
    } else if (name.includes(".")) {
      const [outer, inner] = name.split(".");
      body[outer] = body[outer] || {};
      // Ages are int32 on the wire; anything but digits goes as typed for the API to name.
      body[outer][inner] = INTEGER.has(name) && /^\d+$/.test(value) ? Number(value) : value;
    } else {
      body[name] = value;
    }
  }
  return body;
}

// formValues is the inverse of campaignBody: a campaign as the API returns it, as form values.
export function formValues(campaign) {
  const values = {};
  for (const { name } of CAMPAIGN_FIELDS) {
    if (name === "keywords") {
      values.keywords = (campaign.keywords || []).join(", ");
    } else if (name.includes(".")) {
      const [outer, inner] = name.split(".");
      const value = (campaign[outer] || {})[inner];
      values[name] = value === undefined || value === null ? "" : String(value);
    } else {
      values[name] = campaign[name] === undefined ? "" : String(campaign[name]);
    }
  }
  return values;
}

// changedFields is an update's body: the top-level fields whose form values differ from the
// stored campaign's. A range changes as a whole, as the API's update mask replaces it whole.
export function changedFields(values, current) {
  const before = formValues(current);
  const changed = new Set();
  for (const [name, value] of Object.entries(values)) {
    if (String(value).trim() !== String(before[name] ?? "").trim()) changed.add(name.split(".")[0]);
  }
  const picked = {};
  for (const [name, value] of Object.entries(values)) {
    if (changed.has(name.split(".")[0])) picked[name] = value;
  }
  return campaignBody(picked);
}
