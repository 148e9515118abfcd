// forms.js — building campaign forms and showing the API's errors beside the field they name.
// An invalid input gets aria-invalid and its message through aria-describedby, and takes
// focus, so keyboard and screen-reader users land on what to fix.

import { DAYS, daypartRows, inputNameFor, withoutDaypart } from "./fields.js";

let counter = 0;

// field builds one labelled input (text, decimal, integer, date, select or textarea).
function field(spec, prefix) {
  const id = `${prefix}-${spec.name.replace(/[^a-z0-9]+/gi, "-")}`;
  const wrapper = document.createElement("div");
  wrapper.className = "field";
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = spec.label;
  let input;
  if (spec.kind === "select") {
    input = document.createElement("select");
    for (const option of spec.options) input.append(new Option(option, option));
  } else if (spec.kind === "textarea") {
    input = document.createElement("textarea");
    input.rows = 2;
  } else {
    input = document.createElement("input");
    input.type = spec.kind === "date" ? "date" : "text";
    if (spec.kind === "decimal") input.inputMode = "decimal";
    if (spec.kind === "integer") input.inputMode = "numeric";
    input.autocomplete = "off";
  }
  input.id = id;
  input.name = spec.name;
  const described = [];
  wrapper.append(label, input);
  if (spec.hint) {
    const hint = document.createElement("p");
    hint.id = `${id}-hint`;
    hint.className = "hint";
    hint.textContent = spec.hint;
    wrapper.append(hint);
    described.push(hint.id);
  }
  const error = document.createElement("p");
  error.id = `${id}-error`;
  error.className = "field-error";
  error.hidden = true;
  wrapper.append(error);
  described.push(error.id);
  input.setAttribute("aria-describedby", described.join(" "));
  return wrapper;
}

// daypartRow builds row index of a dayparts editor: a tick per day and the hours.
function daypartRow(index, prefix) {
  const row = document.createElement("fieldset");
  row.className = "daypart";
  const legend = document.createElement("legend");
  legend.textContent = `Daypart ${index + 1}`;
  const days = document.createElement("div");
  days.className = "days";
  days.setAttribute("role", "group");
  days.setAttribute("aria-label", `Daypart ${index + 1} days`);
  const firstId = `${prefix}-dayparts-${index}-days-${DAYS[0]}`;
  for (const day of DAYS) {
    const id = `${prefix}-dayparts-${index}-days-${day}`;
    const label = document.createElement("label");
    label.className = "day";
    const tick = document.createElement("input");
    tick.type = "checkbox";
    tick.id = id;
    tick.name = `dayparts[${index}].days.${day}`;
    tick.value = day;
    tick.setAttribute("aria-describedby", `${firstId}-hint ${firstId}-error`);
    label.append(tick, ` ${day.slice(0, 1)}${day.slice(1, 3).toLowerCase()}`);
    days.append(label);
  }
  const hint = document.createElement("p");
  hint.id = `${firstId}-hint`;
  hint.className = "hint";
  hint.textContent = "none ticked: every day";
  const error = document.createElement("p");
  error.id = `${firstId}-error`;
  error.className = "field-error";
  error.hidden = true;
  const hours = document.createElement("div");
  hours.className = "hours";
  hours.append(
    field({ name: `dayparts[${index}].start_hour`, label: "From hour", kind: "integer", hint: "0-23" }, prefix),
    field({ name: `dayparts[${index}].end_hour`, label: "Until hour", kind: "integer", hint: "1-24, not included" }, prefix),
  );
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "secondary remove-daypart";
  remove.dataset.row = String(index);
  remove.textContent = `Remove daypart ${index + 1}`;
  row.append(legend, days, hint, error, hours, remove);
  return row;
}

// setDaypartRows makes a form's dayparts editor hold count rows, adding or removing at the end.
export function setDaypartRows(form, count) {
  const list = form.querySelector(".dayparts");
  if (!list) return;
  while (list.children.length > count) list.lastElementChild.remove();
  while (list.children.length < count) {
    const row = daypartRow(list.children.length, list.dataset.prefix);
    list.append(row);
    fill(form, {
      [`dayparts[${list.children.length - 1}].start_hour`]: "0",
      [`dayparts[${list.children.length - 1}].end_hour`]: "24",
    });
  }
}

// dayparts builds the dayparts editor: its rows and the button that adds one.
function daypartsEditor(spec, prefix) {
  const wrapper = document.createElement("div");
  const hint = document.createElement("p");
  hint.className = "hint";
  hint.textContent = spec.hint;
  const list = document.createElement("div");
  list.className = "dayparts";
  list.dataset.prefix = `${prefix}-dp`;
  const add = document.createElement("button");
  add.type = "button";
  add.className = "secondary add-daypart";
  add.textContent = "Add daypart";
  wrapper.append(hint, list, add);
  add.addEventListener("click", () => setDaypartRows(add.form, list.children.length + 1));
  list.addEventListener("click", (event) => {
    const button = event.target.closest(".remove-daypart");
    if (!button) return;
    const form = button.form;
    const moved = withoutDaypart(values(form), Number(button.dataset.row));
    setDaypartRows(form, list.children.length - 1);
    fill(form, moved);
  });
  return wrapper;
}

// renderFields fills container with one fieldset per group of specs.
export function renderFields(container, specs) {
  const prefix = `f${(counter += 1)}`;
  const groups = new Map();
  for (const spec of specs) {
    if (!groups.has(spec.group)) {
      const set = document.createElement("fieldset");
      const legend = document.createElement("legend");
      legend.textContent = spec.group;
      set.append(legend);
      groups.set(spec.group, set);
      container.append(set);
    }
    const built = spec.kind === "dayparts" ? daypartsEditor(spec, prefix) : field(spec, prefix);
    groups.get(spec.group).append(built);
  }
}

// values reads a form's named inputs as name → string (a tick: its value, or "" unticked).
export function values(form) {
  const read = {};
  for (const input of form.querySelectorAll("input[name], select[name], textarea[name]")) {
    read[input.name] = input.type === "checkbox" ? (input.checked ? input.value : "") : input.value;
  }
  return read;
}

// fill writes name → string values into a form's inputs (a tick is ticked by any value).
// Daypart values land in rows the form has: setDaypartRows first.
export function fill(form, entries) {
  for (const [name, value] of Object.entries(entries)) {
    const input = form.elements.namedItem(name);
    if (!input) continue;
    if (input.type === "checkbox") input.checked = Boolean(value);
    else input.value = value;
  }
}

// fillCampaign writes a campaign's form values, with as many daypart rows as it has.
export function fillCampaign(form, entries) {
  setDaypartRows(form, daypartRows(entries));
  fill(form, entries);
}

function statusOf(form) {
  return form.querySelector(".form-status");
}

// clearErrors removes every field error and the form's status line.
export function clearErrors(form) {
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  for (const error of form.querySelectorAll(".field-error")) {
    error.textContent = ""; // described-by text is read even when hidden: keep it empty
    error.hidden = true;
  }
  const status = statusOf(form);
  if (status) {
    status.textContent = "";
    status.className = "form-status";
  }
}

// say writes a message in the form's status line (a polite live region).
export function say(form, message, tone = "ok") {
  const status = statusOf(form);
  status.textContent = message;
  status.className = `form-status ${tone}`;
}

// showError puts each field violation of an API error beside the input it names and focuses
// the first; an error naming no input of this form goes to the form's status line.
export function showError(form, error) {
  const names = [...form.querySelectorAll("[name]")].map((input) => input.name);
  const placed = [];
  for (const { field: name, description } of error.violations || []) {
    const inputName = inputNameFor(name, names);
    if (!inputName) continue;
    const input = form.elements.namedItem(inputName);
    input.setAttribute("aria-invalid", "true");
    const message = document.getElementById(`${input.id}-error`);
    const text = name === inputName ? description : `${name}: ${description}`;
    // Two violations of one input (a range named whole and its start) share its message.
    message.textContent = placed.includes(input) ? `${message.textContent} ${text}` : text;
    message.hidden = false;
    if (!placed.includes(input)) placed.push(input);
  }
  if (!placed.length) {
    say(form, error.message || "The request failed.", "bad");
    return;
  }
  say(form, `Not saved: ${error.message}`, "bad");
  placed[0].focus();
}
