// list.js — the campaign table (server-side filter, sort and paging, refreshed every few
// seconds) and the create form, on /console/.

import { campaigns, token } from "./api.js";
import { CAMPAIGN_FIELDS, campaignBody } from "./fields.js";
import { grouped, money, percent } from "./format.js";
import { clearErrors, fill, renderFields, say, setDaypartRows, showError, values } from "./forms.js";
import { startSession } from "./session.js";
import { statusBadge } from "./widgets.js";

const REFRESH_MS = 5000;
const DESCENDING_FIRST = new Set(["budget", "spent", "remaining_budget", "cpm", "created_at"]);

const view = {
  order: { field: "created_at", descending: true }, // newest first: stable while live
  tokens: [""], // page tokens of the pages up to the current one; "" is the first page
  next: "",
  filter: "",
  pageSize: 25,
  sequence: 0, // drops answers that arrive after a newer request was sent
};

let session;
const table = document.getElementById("campaigns");
const filters = document.getElementById("filters");
const createForm = document.getElementById("create");

function orderBy() {
  return view.order.descending ? `${view.order.field} desc` : view.order.field;
}

function cell(content, { className = "", column = "" } = {}) {
  const td = document.createElement("td");
  if (className) td.className = className;
  if (column) td.dataset.col = column;
  td.append(content);
  return td;
}

function campaignLink(campaign) {
  const wrapper = document.createElement("div");
  const link = document.createElement("a");
  link.href = `/console/campaign?id=${encodeURIComponent(campaign.campaign_id)}`;
  link.textContent = campaign.text || campaign.campaign_id;
  const id = document.createElement("span");
  id.className = "id";
  id.textContent = campaign.campaign_id;
  wrapper.append(link, id);
  return wrapper;
}

function row(campaign) {
  const stats = campaign.stats || {};
  const tr = document.createElement("tr");
  tr.dataset.campaignId = campaign.campaign_id;
  tr.append(
    cell(campaignLink(campaign), { column: "campaign" }),
    cell(statusBadge(campaign.status), { column: "status" }),
    cell(money(campaign.budget), { className: "num", column: "budget" }),
    cell(money(campaign.spent), { className: "num", column: "spent" }),
    cell(money(campaign.remaining_budget), { className: "num", column: "remaining" }),
    cell(money(campaign.spent_today), { className: "num", column: "spent_today" }),
    cell(money(campaign.current_slot_budget), { className: "num", column: "slot" }),
    cell(money(campaign.cpm), { className: "num", column: "cpm" }),
    cell(grouped(stats.impressions), { className: "num", column: "impressions" }),
    cell(grouped(stats.unique_users), { className: "num", column: "unique_users" }),
    cell(grouped(stats.clicks), { className: "num", column: "clicks" }),
    cell(percent(stats.ctr), { className: "num", column: "ctr" }),
    cell(new Date(campaign.created_at).toLocaleString(), { column: "created" }),
  );
  return tr;
}

function showOrder() {
  for (const th of table.querySelectorAll("th[data-sort]")) {
    if (th.dataset.sort === view.order.field) {
      th.setAttribute("aria-sort", view.order.descending ? "descending" : "ascending");
    } else {
      th.removeAttribute("aria-sort");
    }
  }
}

// load fetches the current page and replaces the rows, keeping keyboard focus on its row.
async function load() {
  const sequence = (view.sequence += 1);
  const pageToken = view.tokens[view.tokens.length - 1];
  let reply;
  try {
    reply = await campaigns.list({
      page_size: view.pageSize,
      page_token: pageToken,
      filter: view.filter,
      order_by: orderBy(),
    });
  } catch (error) {
    if (sequence !== view.sequence) return;
    if (error.status === 401 || error.status === 403) session.expired();
    else showError(filters, error);
    return;
  }
  if (sequence !== view.sequence) return;
  const focused = document.activeElement?.closest?.("tr[data-campaign-id]")?.dataset.campaignId;
  const body = table.tBodies[0];
  body.replaceChildren(...(reply.campaigns || []).map(row));
  if (!body.rows.length) {
    const empty = document.createElement("tr");
    const td = cell("No campaign matches.");
    td.colSpan = 13;
    empty.append(td);
    body.append(empty);
  }
  if (focused) body.querySelector(`tr[data-campaign-id="${CSS.escape(focused)}"] a`)?.focus();
  view.next = reply.next_page_token || "";
  const total = reply.total_size || 0;
  const pages = Math.max(1, Math.ceil(total / view.pageSize));
  document.getElementById("summary").textContent =
    `${grouped(total)} ${total === 1 ? "campaign" : "campaigns"} · page ${view.tokens.length} of ${pages} · ` +
    `updated ${new Date().toLocaleTimeString()}`;
  document.getElementById("prev").disabled = view.tokens.length === 1;
  document.getElementById("next").disabled = !view.next;
  showOrder();
}

function restart() {
  view.tokens = [""];
  return load();
}

function bindTable() {
  for (const th of table.querySelectorAll("th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => {
      const field = th.dataset.sort;
      view.order =
        view.order.field === field
          ? { field, descending: !view.order.descending }
          : { field, descending: DESCENDING_FIRST.has(field) };
      restart();
    });
  }
  document.getElementById("prev").addEventListener("click", () => {
    view.tokens.pop();
    load();
  });
  document.getElementById("next").addEventListener("click", () => {
    view.tokens.push(view.next);
    load();
  });
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    clearErrors(filters);
    const chosen = values(filters);
    // The status picker is one more filter term.
    view.filter = [chosen.status && `status=${chosen.status}`, chosen.filter.trim()]
      .filter(Boolean)
      .join(" ");
    view.pageSize = Number(chosen.page_size);
    restart();
  });
}

// live refreshes the page every few seconds while the box is ticked and the tab is visible.
function live() {
  const tick = async () => {
    const wanted = document.getElementById("live").checked && !document.hidden;
    if (wanted && token()) await load(); // signed out: wait for the sign-in form
    setTimeout(tick, REFRESH_MS);
  };
  setTimeout(tick, REFRESH_MS);
}

function createDefaults() {
  const today = new Date();
  const inAWeek = new Date(today.getTime() + 7 * 86400000);
  const iso = (date) => date.toLocaleDateString("en-CA"); // YYYY-MM-DD in local time
  return {
    "date_range.start": iso(today),
    "date_range.end": iso(inAWeek),
    "time_range.start": "0:00:00",
    "time_range.end": "0:00:00",
    target_city: "All",
    target_state: "All",
    target_country: "India",
    "target_age_range.start": "0",
    "target_age_range.end": "0",
  };
}

function bindCreate() {
  renderFields(createForm.querySelector(".fields"), CAMPAIGN_FIELDS);
  fill(createForm, createDefaults());
  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(createForm);
    const button = createForm.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const { campaign } = await campaigns.create(campaignBody(values(createForm)));
      createForm.reset();
      setDaypartRows(createForm, 0);
      fill(createForm, createDefaults());
      say(createForm, `Created “${campaign.text}” (${campaign.campaign_id}): ${campaign.status_reason}.`);
      const link = document.createElement("a");
      link.href = `/console/campaign?id=${encodeURIComponent(campaign.campaign_id)}`;
      link.textContent = " Open its page.";
      createForm.querySelector(".form-status").append(link);
      restart();
    } catch (error) {
      if (error.status === 401 || error.status === 403) session.expired();
      else showError(createForm, error);
    } finally {
      button.disabled = false;
    }
  });
}

session = startSession(() => {
  bindTable();
  bindCreate();
  restart();
  live();
});
