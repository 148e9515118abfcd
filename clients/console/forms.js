// forms.js — building campaign forms and showing the API's errors beside the field they name.
// An invalid input gets aria-invalid and its message through aria-describedby, and takes
// focus, so keyboard and screen-reader users land on what to fix.

import { inputNameFor } from "./fields.js";

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
    groups.get(spec.group).append(field(spec, prefix));
  }
}

// values reads a form's named inputs as name → string.
export function values(form) {
  const read = {};
  for (const input of form.querySelectorAll("input[name], select[name], textarea[name]")) {
    read[input.name] = input.value;
  }
  return read;
}

// fill writes name → string values into a form's inputs.
export function fill(form, entries) {
  for (const [name, value] of Object.entries(entries)) {
    const input = form.elements.namedItem(name);
    if (input) input.value = value;
  }
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
