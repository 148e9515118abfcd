// fields.js — the campaign form's fields and the mapping between form values, the JSON API
// and the API's field-named errors. Pure: no DOM, so node's test runner can check it.
//
// Inputs are named by API field path ("cpc", "target_age_range.start"), so an error's
// google.rpc.BadRequest field violation (docs/errors.md) finds its input by name. The rules
// themselves live on the server (servers/campaigns/validation.py): the forms send what the
// user typed and show the API's answer, so console and API can never disagree.

export const DEVICES = ["Android Mobile", "Windows Computer", "iPhone", "Linux Computer", "Macbook"];
export const PERIODS = ["DAY", "HOUR", "MINUTE", "LIFETIME"];
export const PACINGS = ["EVEN", "ASAP"];
// DAYS are the days of a daypart, Monday first, as the API spells them.
export const DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];

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
  { group: "Delivery", name: "frequency_cap.max_impressions", label: "Frequency cap (ads per user)", kind: "integer", hint: "empty or 0: the platform's default cap" },
  { group: "Delivery", name: "frequency_cap.period", label: "Cap period", kind: "select", options: PERIODS },
  { group: "Delivery", name: "pacing", label: "Pacing", kind: "select", options: PACINGS, hint: "EVEN spreads the budget over 10-minute slots; ASAP spends as fast as it can" },
  { group: "Delivery", name: "daily_budget", label: "Daily budget", kind: "decimal", hint: "most spent per day in the platform's time zone; empty: no daily cap" },
  { group: "Dayparts", name: "dayparts", label: "Dayparts", kind: "dayparts", hint: "hours of the week it serves inside its window, in the platform's time zone; none: the whole window" },
];

const INTEGER = new Set(["target_age_range.start", "target_age_range.end", "frequency_cap.max_impressions"]);

// DAYPART_NAME reads a daypart input's name: "dayparts[2].start_hour", "dayparts[0].days.MONDAY".
const DAYPART_NAME = /^dayparts\[(\d+)\]\.(days|start_hour|end_hour)(?:\.([A-Z]+))?$/;

// topField is the API field an input belongs to: "date_range" for "date_range.start",
// "dayparts" for "dayparts[1].end_hour".
export function topField(name) {
  return name.split(/[.[]/)[0];
}

// daypartRows is how many daypart rows form values hold.
export function daypartRows(values) {
  let rows = 0;
  for (const name of Object.keys(values)) {
    const match = DAYPART_NAME.exec(name);
    if (match) rows = Math.max(rows, Number(match[1]) + 1);
  }
  return rows;
}

// dayparts reads the daypart rows of form values as the API's [{days, start_hour, end_hour}]:
// ticked days in week order (none ticked: every day), hours as numbers when they are digits
// and as typed otherwise, an hour left empty not sent (the API then names it).
function dayparts(values) {
  const rows = Array.from({ length: daypartRows(values) }, () => ({ days: [] }));
  for (const [name, raw] of Object.entries(values)) {
    const match = DAYPART_NAME.exec(name);
    if (!match) continue;
    const [, index, part, day] = match;
    const value = String(raw).trim();
    if (part === "days") {
      if (value) rows[index].days.push(day);
    } else if (value !== "") {
      rows[index][part] = /^\d+$/.test(value) ? Number(value) : value;
    }
  }
  for (const row of rows) row.days.sort((a, b) => DAYS.indexOf(a) - DAYS.indexOf(b));
  return rows;
}

// daypartValues is dayparts as the API returns them, as form values (a ticked day's value is
// its name, an unticked one's "").
export function daypartValues(parts) {
  const values = {};
  for (const [index, part] of (parts || []).entries()) {
    const days = new Set(part.days || []);
    for (const day of DAYS) values[`dayparts[${index}].days.${day}`] = days.has(day) ? day : "";
    values[`dayparts[${index}].start_hour`] = String(part.start_hour ?? 0);
    values[`dayparts[${index}].end_hour`] = String(part.end_hour ?? 0);
  }
  return values;
}

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
  return names.find((name) => name.startsWith(`${field}.`) || name.startsWith(`${field}[`)) || "";
}

// withoutDaypart is form values with daypart row index removed and the rows after it moved up.
export function withoutDaypart(values, index) {
  const kept = {};
  for (const [name, value] of Object.entries(values)) {
    const match = DAYPART_NAME.exec(name);
    if (!match) continue;
    const row = Number(match[1]);
    if (row === index) continue;
    const moved = row > index ? row - 1 : row;
    kept[name.replace(/^dayparts\[\d+\]/, `dayparts[${moved}]`)] = value;
  }
  return kept;
}

// campaignBody turns form values (name → string) into the Campaign JSON the API takes.
export function campaignBody(values) {
  const body = {};
  for (const [name, raw] of Object.entries(values)) {
    const value = typeof raw === "string" ? raw.trim() : raw;
    if (DAYPART_NAME.test(name)) continue; // below, row by row
    if (name === "frequency_cap.max_impressions" && value === "") {
      // No cap of the campaign's own: 0 on the wire (int32), the platform's default applies.
      body.frequency_cap = { ...body.frequency_cap, max_impressions: 0 };
    } else if (name === "keywords") {
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
  if (daypartRows(values)) body.dayparts = dayparts(values);
  return body;
}

// formValues is the inverse of campaignBody: a campaign as the API returns it, as form values.
export function formValues(campaign) {
  const values = {};
  for (const { name } of CAMPAIGN_FIELDS) {
    if (name === "keywords") {
      values.keywords = (campaign.keywords || []).join(", ");
    } else if (name === "frequency_cap.max_impressions") {
      const cap = Number(campaign.frequency_cap?.max_impressions || 0);
      values[name] = cap ? String(cap) : "";
    } else if (name === "frequency_cap.period") {
      values[name] = campaign.frequency_cap?.period || PERIODS[0];
    } else if (name === "pacing") {
      values[name] = campaign.pacing || PACINGS[0];
    } else if (name === "dayparts") {
      continue; // one input per row and day: daypartValues below
    } else if (name.includes(".")) {
      const [outer, inner] = name.split(".");
      const value = (campaign[outer] || {})[inner];
      values[name] = value === undefined || value === null ? "" : String(value);
    } else {
      values[name] = campaign[name] === undefined || campaign[name] === null ? "" : String(campaign[name]);
    }
  }
  return { ...values, ...daypartValues(campaign.dayparts) };
}

// changedFields is an update's body: the top-level fields whose form values differ from the
// stored campaign's. A range changes as a whole, as the API's update mask replaces it whole.
// Dayparts change as one list: a row added, removed or edited sends every row (none: []).
export function changedFields(values, current) {
  const before = formValues(current);
  const changed = new Set();
  for (const name of new Set([...Object.keys(values), ...Object.keys(before)])) {
    if (String(values[name] ?? "").trim() !== String(before[name] ?? "").trim()) changed.add(topField(name));
  }
  const picked = {};
  for (const [name, value] of Object.entries(values)) {
    if (changed.has(topField(name))) picked[name] = value;
  }
  const body = campaignBody(picked);
  if (changed.has("dayparts") && !body.dayparts) body.dayparts = [];
  return body;
}

// updateMask names the fields an update's body replaces (the API's update_mask): a field
// emptied (no daily budget, no dayparts) is replaced too, which its absence alone would not say.
export function updateMask(body) {
  return Object.keys(body).join(",");
}
